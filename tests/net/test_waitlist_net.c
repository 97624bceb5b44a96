/*
 * test_waitlist_net.c — the waiting list (SPEC §6) and its long-poll (SPEC §7)
 * over the wire: waiters keep a WAIT outstanding on their own connections and
 * hear of offers, in join order, when holds expire or are released; offers can
 * be confirmed; an offer left to expire goes to the next waiter; a WAIT with a
 * timeout answers "waiting"; when the last held seats are confirmed, every
 * parked waiter hears "sold out"; a waiter who leaves hears "not found" at once;
 * and a WAIT whose timeout comes while the log refuses its poll hears "overloaded".
 *
 * Holders ask for short lifetimes (the client may ask for less than the show's),
 * so that offers, which live as long as the show's holds, last long enough to be
 * confirmed. Before anything is allowed to happen the test waits, polling STATS,
 * until every WAIT is parked. The `statuses` suite gives every waiting-list
 * operation (join, leave, poll, WAIT) its success and each of its refusals.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "record.h"
#include "server_fixture.h"

#define WAIT_TIMEOUT_MS 20000u
#define MANY_WAITERS 256u
#define MANY_CONNECTIONS 8u

static struct box_client *c;

static void setup(void)
{
	c = fx_up_connected();
}

static void teardown(void)
{
	fx_down_connected(&c);
}

TestSuite(waiting, .init = setup, .fini = teardown, .timeout = 90);
TestSuite(statuses, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(pressure);

/* Joins a line that must then be line_length long; returns the entry's sequence number. */
static uint64_t join(uint32_t show_id, uint64_t user_id, enum tier tier, uint8_t count,
		     uint32_t line_length)
{
	struct engine_result r;
	fx_rc(box_client_waitlist_join(c, show_id, user_id, tier, count, false, &r), "JOIN");
	FX_STATUS_IS(r.status, STATUS_OK);
	cr_assert_eq(r.waiter_state, WAITER_WAITING);
	cr_assert_eq(r.waiters_count, line_length);
	cr_assert_gt(r.waiter_seq, 0);
	return r.waiter_seq;
}

/* Every waiting-list operation's statuses (SPEC §6, PROTOCOL.md). */

static struct engine_result join_result(uint32_t show_id, uint64_t user, enum tier tier,
					uint8_t count)
{
	struct engine_result r;
	fx_rc(box_client_waitlist_join(c, show_id, user, tier, count, false, &r), "JOIN");
	return r;
}

Test(statuses, join_is_refused_while_seats_are_available_or_none_can_come_back)
{
	FX_STATUS_IS(join_result(FX_SHOW_CLUB_0, 1, TIER_VIP, 2).status, STATUS_SEATS_AVAILABLE);
	struct engine_result h = fx_hold_best(c, FX_SHOW_CLUB_0, 2, TIER_VIP, 3, false);
	FX_STATUS_IS(join_result(FX_SHOW_CLUB_0, 1, TIER_VIP, 1).status, STATUS_SEATS_AVAILABLE);
	FX_STATUS_IS(fx_confirm(c, h.hold_id, 2, "pay").status, STATUS_OK);
	h = fx_hold_best(c, FX_SHOW_CLUB_0, 3, TIER_VIP, 1, false);
	FX_STATUS_IS(fx_confirm(c, h.hold_id, 3, "pay").status, STATUS_OK);
	FX_STATUS_IS(join_result(FX_SHOW_CLUB_0, 1, TIER_VIP, 1).status, STATUS_SOLD_OUT);
	FX_STATUS_IS(join_result(FX_SHOW_FUTURE, 1, TIER_VIP, 1).status, STATUS_NOT_ON_SALE);
	FX_STATUS_IS(join_result(999, 1, TIER_VIP, 1).status, STATUS_NOT_FOUND);
	FX_STATUS_IS(join_result(FX_SHOW_GRAZ, 1, TIER_VIP, 1).status, STATUS_BAD_REQUEST);
}

Test(statuses, join_poll_and_leave_of_a_waiting_entry)
{
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_1, 1, TIER_ECONOMY, 4, false).status, STATUS_OK);
	struct engine_result r = join_result(FX_SHOW_CLUB_1, 2, TIER_ECONOMY, 2);
	FX_STATUS_IS(r.status, STATUS_OK);
	cr_assert(r.waiter_state == WAITER_WAITING && r.tier == TIER_ECONOMY);
	cr_assert_eq(r.waiters_count, 1);
	FX_STATUS_IS(join_result(FX_SHOW_CLUB_1, 2, TIER_ECONOMY, 1).status, STATUS_ALREADY_EXISTS);
	FX_STATUS_IS(join_result(FX_SHOW_CLUB_1, 2, TIER_REGULAR, 1).status, STATUS_ALREADY_EXISTS);
	FX_STATUS_IS(join_result(FX_SHOW_CLUB_1, 3, TIER_ECONOMY, 9).status, STATUS_OK);
	FX_STATUS_IS(join_result(FX_SHOW_CLUB_1, 1, TIER_ECONOMY, 7).status, STATUS_LIMIT_EXCEEDED);
	fx_rc(box_client_waitlist_poll(c, FX_SHOW_CLUB_1, 2, &r), "POLL");
	cr_assert(r.status == STATUS_OK && r.waiter_state == WAITER_WAITING);
	cr_assert_eq(r.waiters_count, 2);
	cr_assert_eq(fx_show(c, FX_SHOW_CLUB_1).tiers[TIER_ECONOMY].waiters, 2);
	fx_rc(box_client_waitlist_leave(c, FX_SHOW_CLUB_1, 2, &r), "LEAVE");
	FX_STATUS_IS(r.status, STATUS_OK);
	fx_rc(box_client_waitlist_leave(c, FX_SHOW_CLUB_1, 2, &r), "LEAVE");
	FX_STATUS_IS(r.status, STATUS_NOT_FOUND);
	fx_rc(box_client_waitlist_poll(c, FX_SHOW_CLUB_1, 2, &r), "POLL");
	FX_STATUS_IS(r.status, STATUS_NOT_FOUND);
	cr_assert_eq(fx_show(c, FX_SHOW_CLUB_1).tiers[TIER_ECONOMY].waiters, 1);
}

Test(statuses, released_seats_are_offered_to_the_head_and_the_offer_confirms)
{
	struct engine_result h = fx_hold_best(c, FX_SHOW_CLUB_0, 1, TIER_REGULAR, 4, false);
	FX_STATUS_IS(join_result(FX_SHOW_CLUB_0, 2, TIER_REGULAR, 2).status, STATUS_OK);
	FX_STATUS_IS(fx_release(c, h.hold_id, 1).status, STATUS_OK);
	struct engine_show s = fx_show(c, FX_SHOW_CLUB_0);
	/* Two seats went to the offer; the line is empty, so the other two are public. */
	cr_assert(s.tiers[TIER_REGULAR].held == 2 && s.tiers[TIER_REGULAR].available == 2 &&
		  s.tiers[TIER_REGULAR].pooled == 0 && s.tiers[TIER_REGULAR].waiters == 0);
	struct engine_result r;
	fx_rc(box_client_waitlist_poll(c, FX_SHOW_CLUB_0, 2, &r), "POLL");
	cr_assert(r.status == STATUS_OK && r.waiter_state == WAITER_OFFERED && r.seats_count == 2);
	cr_assert(r.hold_id == h.hold_id + 1 && r.deadline_ms > fx_now_ms());
	struct engine_result b = fx_confirm(c, r.hold_id, 2, "pay-offer");
	cr_assert(b.status == STATUS_OK && b.seats[0] == r.seats[0] && b.seats[1] == r.seats[1]);
	cr_assert_eq(fx_show(c, FX_SHOW_CLUB_0).tiers[TIER_REGULAR].booked, 2);
}

Test(statuses, wait_returns_waiting_at_its_timeout_and_not_found_without_an_entry)
{
	struct engine_result r;
	fx_rc(box_client_wait(c, FX_SHOW_CLUB_1, 5, 200, &r), "WAIT");
	FX_STATUS_IS(r.status, STATUS_NOT_FOUND);
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_1, 1, TIER_VIP, 4, false).status, STATUS_OK);
	FX_STATUS_IS(join_result(FX_SHOW_CLUB_1, 5, TIER_VIP, 1).status, STATUS_OK);
	int64_t before = fx_now_ms();
	fx_rc(box_client_wait(c, FX_SHOW_CLUB_1, 5, 200, &r), "WAIT");
	cr_assert(r.status == STATUS_OK && r.waiter_state == WAITER_WAITING && r.tier == TIER_VIP);
	cr_assert_geq(fx_now_ms() - before, 190);
	int fd = fx_raw_connect(fx_current(), true);
	uint8_t payload[16];
	bytes_store_u32(payload, FX_SHOW_CLUB_1);
	bytes_store_u64(payload + 4, 5);
	bytes_store_u32(payload + 12, PROTO_WAIT_TIMEOUT_MS_MAX + 1);
	uint8_t buffer[128];
	FX_STATUS_IS(fx_raw_call(fd, PROTO_WAIT, 77, payload, 16, buffer, sizeof(buffer)),
		     STATUS_BAD_REQUEST);
	close(fd);
}

/* Sends a WAIT on its own connection, left outstanding. */
static void wait_send(struct box_client *client, uint32_t show_id, uint64_t user_id,
		      uint32_t timeout_ms)
{
	struct proto_wait wait = { .show_id = show_id, .user_id = user_id,
				   .timeout_ms = timeout_ms };
	uint64_t request_id;
	fx_rc(box_client_send_wait(client, &wait, &request_id), "WAIT send");
	fx_rc(box_client_flush(client, FX_CALL_TIMEOUT_MS), "WAIT flush");
}

/* The outstanding WAIT's answer. */
static struct engine_result wait_answer(struct box_client *client)
{
	struct box_response response;
	fx_rc(box_client_next(client, &response, (int)WAIT_TIMEOUT_MS + 5000), "WAIT answer");
	cr_assert_eq(response.opcode, PROTO_WAIT);
	struct engine_result result;
	fx_rc(box_response_result(&response, &result), "WAIT result");
	return result;
}

/* Polls STATS until `count` WAITs are parked, so nothing can happen before. */
static void parked_wait_for(int64_t count)
{
	int64_t deadline = fx_now_ms() + 10000;
	while (fx_stat(c, "waits_parked") != count) {
		cr_assert_lt(fx_now_ms(), deadline, "%lld WAITs parked, expected %lld",
			     (long long)fx_stat(c, "waits_parked"), (long long)count);
		fx_sleep_ms(5);
	}
}

static void offer_check(const struct engine_result *r, uint64_t hold_id, uint32_t seat)
{
	FX_STATUS_IS(r->status, STATUS_OK);
	cr_assert_eq(r->waiter_state, WAITER_OFFERED, "waiter state %u", r->waiter_state);
	cr_assert_eq(r->hold_id, hold_id, "offer %#llx, expected %#llx",
		     (unsigned long long)r->hold_id, (unsigned long long)hold_id);
	cr_assert(r->seats_count == 1 && r->seats[0] == seat, "offered seat %u, expected %u",
		  r->seats[0], seat);
	cr_assert_gt(r->deadline_ms, fx_now_ms());
}

Test(waiting, parked_waiters_are_offered_in_join_order_as_holds_expire)
{
	uint32_t show = FX_SHOW_CLUB_1;
	uint64_t base = (uint64_t)show << 32;
	/* The regular seats 4-7: two held for long, 6 for 1 s, 7 for 1.4 s. */
	FX_STATUS_IS(fx_hold_seats(c, show, 100, 0, (uint32_t[]){ 4, 5 }, 2).status, STATUS_OK);
	struct engine_result first_hold = fx_hold_seats(c, show, 101, 1000, (uint32_t[]){ 6 }, 1);
	FX_STATUS_IS(first_hold.status, STATUS_OK);
	FX_STATUS_IS(fx_hold_seats(c, show, 102, 1400, (uint32_t[]){ 7 }, 1).status, STATUS_OK);
	struct box_client *waiters[3];
	uint64_t sequence[3];
	for (uint32_t i = 0; i < 3; i++) {
		sequence[i] = join(show, 201 + i, TIER_REGULAR, 1, i + 1);
		cr_assert(i == 0 || sequence[i] > sequence[i - 1], "join sequence numbers go up");
		waiters[i] = fx_connect(fx_current());
		wait_send(waiters[i], show, 201 + i, WAIT_TIMEOUT_MS);
	}
	parked_wait_for(3);
	cr_assert_lt(fx_now_ms(), first_hold.deadline_ms,
		     "setting up took longer than the first hold lives: too slow to test this");
	/* The first expiry goes to the first waiter, the second to the second. */
	struct engine_result first = wait_answer(waiters[0]);
	offer_check(&first, base | 4, 6);
	struct engine_result second = wait_answer(waiters[1]);
	offer_check(&second, base | 5, 7);
	cr_assert(first.waiter_seq == sequence[0] && second.waiter_seq == sequence[1],
		  "offers name entries %llu and %llu, joined as %llu and %llu",
		  (unsigned long long)first.waiter_seq, (unsigned long long)second.waiter_seq,
		  (unsigned long long)sequence[0], (unsigned long long)sequence[1]);
	/* The line length, as a poll gives it: two waited behind the first, then one. */
	cr_assert(first.waiters_count == 2 && second.waiters_count == 1,
		  "line lengths %u and %u with the offers", first.waiters_count,
		  second.waiters_count);
	struct box_response response;
	cr_assert_eq(box_client_next(waiters[2], &response, 0), -ETIMEDOUT,
		     "the third waiter heard something while seats could still come back");
	struct engine_result b = fx_confirm(c, first.hold_id, 201, "offer-1");
	cr_assert(b.status == STATUS_OK && b.seats_count == 1 && b.seats[0] == 6);
	b = fx_confirm(c, second.hold_id, 202, "offer-2");
	cr_assert(b.status == STATUS_OK && b.seats[0] == 7);
	/* The last held seats are booked: none can come back to the third waiter. */
	FX_STATUS_IS(fx_confirm(c, base | 1, 100, "holder").status, STATUS_OK);
	struct engine_result third = wait_answer(waiters[2]);
	FX_STATUS_IS(third.status, STATUS_OK);
	cr_assert_eq(third.waiter_state, WAITER_SOLD_OUT);
	cr_assert_eq(third.tier, TIER_REGULAR);
	cr_assert_eq(third.waiter_seq, sequence[2]);
	cr_assert_eq(third.waiters_count, 0);
	struct engine_show s = fx_show(c, show);
	cr_assert(s.tiers[TIER_REGULAR].booked == 4 && s.tiers[TIER_REGULAR].waiters == 0);
	for (uint32_t i = 0; i < 3; i++)
		box_client_close(waiters[i]);
}

Test(waiting, wait_with_a_timeout_answers_waiting_and_can_be_issued_again)
{
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_0, 1, TIER_VIP, 4, false).status, STATUS_OK);
	join(FX_SHOW_CLUB_0, 2, TIER_VIP, 1, 1);
	for (int round = 0; round < 2; round++) {
		int64_t before = fx_now_ms();
		struct engine_result r;
		fx_rc(box_client_wait(c, FX_SHOW_CLUB_0, 2, 300, &r), "WAIT");
		FX_STATUS_IS(r.status, STATUS_OK);
		cr_assert_eq(r.waiter_state, WAITER_WAITING);
		cr_assert_eq(r.tier, TIER_VIP);
		cr_assert_geq(fx_now_ms() - before, 290, "answered before its timeout");
	}
	cr_assert_eq(fx_stat(c, "waits_parked"), 0);
}

Test(waiting, wait_after_the_offer_was_made_answers_it_at_once)
{
	struct engine_result h = fx_hold_best(c, FX_SHOW_CLUB_0, 1, TIER_ECONOMY, 4, false);
	join(FX_SHOW_CLUB_0, 2, TIER_ECONOMY, 3, 1);
	FX_STATUS_IS(fx_release(c, h.hold_id, 1).status, STATUS_OK);
	struct engine_result r;
	fx_rc(box_client_wait(c, FX_SHOW_CLUB_0, 2, WAIT_TIMEOUT_MS, &r), "WAIT");
	FX_STATUS_IS(r.status, STATUS_OK);
	cr_assert(r.waiter_state == WAITER_OFFERED && r.seats_count == 3);
	cr_assert_eq(r.hold_id, h.hold_id + 1);
	FX_STATUS_IS(fx_confirm(c, r.hold_id, 2, "offer").status, STATUS_OK);
}

Test(waiting, an_offer_left_to_expire_goes_to_the_next_waiter)
{
	/* A show of its own whose holds, and so offers, live 1.5 s. */
	struct command put = fx_show_command(160);
	put.show_put.venue_id = FX_VENUE_CLUB;
	put.show_put.event_id = FX_EVENT_ROCK;
	put.show_put.hold_ttl_ms = 1500;
	struct engine_result r;
	fx_rc(box_client_command(c, &put, &r), "SHOW_PUT");
	FX_STATUS_IS(r.status, STATUS_OK);
	uint64_t base = (uint64_t)160 << 32;
	struct engine_result h = fx_hold_best(c, 160, 1, TIER_ECONOMY, 4, false);
	FX_STATUS_IS(h.status, STATUS_OK);
	struct box_client *waiters[3];
	for (uint32_t i = 0; i < 3; i++) {
		join(160, 11 + i, TIER_ECONOMY, 2, i + 1);
		waiters[i] = fx_connect(fx_current());
		wait_send(waiters[i], 160, 11 + i, WAIT_TIMEOUT_MS);
	}
	parked_wait_for(3);
	FX_STATUS_IS(fx_release(c, h.hold_id, 1).status, STATUS_OK);
	struct engine_result first = wait_answer(waiters[0]);
	struct engine_result second = wait_answer(waiters[1]);
	cr_assert(first.waiter_state == WAITER_OFFERED && first.hold_id == (base | 2));
	cr_assert(second.waiter_state == WAITER_OFFERED && second.hold_id == (base | 3));
	/* Nobody confirms: the first offer's seats go to the third waiter. */
	struct engine_result third = wait_answer(waiters[2]);
	cr_assert_eq(third.waiter_state, WAITER_OFFERED);
	cr_assert_eq(third.hold_id, base | 4);
	cr_assert(third.seats_count == 2 && third.seats[0] == first.seats[0] &&
		  third.seats[1] == first.seats[1]);
	FX_STATUS_IS(fx_confirm(c, first.hold_id, 11, "too-late").status, STATUS_HOLD_EXPIRED);
	for (uint32_t i = 0; i < 3; i++)
		box_client_close(waiters[i]);
}

Test(waiting, many_parked_waits_all_hear_sold_out_when_the_last_holds_are_confirmed)
{
	uint32_t show = FX_SHOW_HALL_1;
	uint64_t base = (uint64_t)show << 32;
	/* Every vip seat held by two users, then a long line of waiters. */
	FX_STATUS_IS(fx_hold_best(c, show, 1, TIER_VIP, 10, false).status, STATUS_OK);
	FX_STATUS_IS(fx_hold_best(c, show, 2, TIER_VIP, 10, false).status, STATUS_OK);
	struct box_client *connections[MANY_CONNECTIONS];
	for (uint32_t i = 0; i < MANY_CONNECTIONS; i++)
		connections[i] = fx_connect(fx_current());
	for (uint32_t i = 0; i < MANY_WAITERS; i++) {
		join(show, 1000 + i, TIER_VIP, 1 + i % 3, i + 1);
		wait_send(connections[i % MANY_CONNECTIONS], show, 1000 + i, WAIT_TIMEOUT_MS);
	}
	parked_wait_for(MANY_WAITERS);
	FX_STATUS_IS(fx_confirm(c, base | 1, 1, "first").status, STATUS_OK);
	struct box_response response;
	cr_assert_eq(box_client_next(connections[0], &response, 0), -ETIMEDOUT,
		     "a waiter heard something while seats could still come back");
	FX_STATUS_IS(fx_confirm(c, base | 2, 2, "last").status, STATUS_OK);
	for (uint32_t i = 0; i < MANY_WAITERS; i++) {
		struct engine_result r = wait_answer(connections[i % MANY_CONNECTIONS]);
		FX_STATUS_IS(r.status, STATUS_OK);
		cr_assert_eq(r.waiter_state, WAITER_SOLD_OUT, "waiter %u heard %u", i,
			     r.waiter_state);
	}
	cr_assert_eq(fx_stat(c, "waits_parked"), 0);
	cr_assert_eq(fx_show(c, show).tiers[TIER_VIP].waiters, 0);
	struct engine_result r;
	fx_rc(box_client_waitlist_join(c, show, 5000, TIER_VIP, 1, false, &r), "JOIN");
	FX_STATUS_IS(r.status, STATUS_SOLD_OUT);
	for (uint32_t i = 0; i < MANY_CONNECTIONS; i++)
		box_client_close(connections[i]);
}

Test(waiting, sigterm_answers_parked_waits_and_the_line_survives_the_restart)
{
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_1, 1, TIER_ECONOMY, 4, false).status, STATUS_OK);
	struct box_client *waiters[4];
	for (uint32_t i = 0; i < 4; i++) {
		join(FX_SHOW_CLUB_1, 10 + i, TIER_ECONOMY, 1, i + 1);
		waiters[i] = fx_connect(fx_current());
		wait_send(waiters[i], FX_SHOW_CLUB_1, 10 + i, WAIT_TIMEOUT_MS);
	}
	parked_wait_for(4);
	box_client_close(c);
	c = NULL;
	fx_server_stop(fx_current()); /* exit status 0 with WAITs parked */
	for (uint32_t i = 0; i < 4; i++) {
		/* Each heard "waiting" before the server went, or lost its connection. */
		struct box_response response;
		int rc = box_client_next(waiters[i], &response, 5000);
		cr_assert(rc == 0 || rc == -ECONNRESET, "waiter %u: %s", i,
			  box_client_error_text(rc));
		if (rc == 0) {
			struct engine_result r;
			fx_rc(box_response_result(&response, &r), "WAIT result");
			cr_assert(r.status == STATUS_OK && r.waiter_state == WAITER_WAITING);
		}
		box_client_close(waiters[i]);
	}
	fx_server_start(fx_current());
	c = fx_connect(fx_current());
	struct engine_show s = fx_show(c, FX_SHOW_CLUB_1);
	cr_assert_eq(s.tiers[TIER_ECONOMY].waiters, 4);
	struct engine_result r;
	fx_rc(box_client_waitlist_poll(c, FX_SHOW_CLUB_1, 13, &r), "POLL");
	cr_assert(r.status == STATUS_OK && r.waiter_state == WAITER_WAITING);
	cr_assert_eq(r.waiters_count, 4);
}

/*
 * WAITs still on their way into the server when SIGTERM comes (read, forwarded to
 * the show's shard) are answered with their poll, not parked: parked after the stop
 * began they were never answered, and held the stop up until its 10 s limit.
 */
Test(waiting, waits_arriving_while_the_server_stops_are_answered_and_do_not_hold_it_up)
{
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_0, 1, TIER_VIP, 4, false).status, STATUS_OK);
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_1, 1, TIER_VIP, 4, false).status, STATUS_OK);
	join(FX_SHOW_CLUB_0, 2, TIER_VIP, 1, 1);
	join(FX_SHOW_CLUB_1, 2, TIER_VIP, 1, 1);
	enum { CONNECTIONS = 8, WAITS = 4000 };
	struct box_client *clients[CONNECTIONS];
	for (uint32_t i = 0; i < CONNECTIONS; i++) {
		clients[i] = fx_connect(fx_current());
		for (uint32_t k = 0; k < WAITS; k++) {
			struct proto_wait wait = { .show_id = k % 2 ? FX_SHOW_CLUB_1 : FX_SHOW_CLUB_0,
						   .user_id = 2 };
			uint64_t request_id;
			fx_rc(box_client_send_wait(clients[i], &wait, &request_id), "WAIT send");
		}
	}
	for (uint32_t i = 0; i < CONNECTIONS; i++)
		fx_rc(box_client_flush(clients[i], FX_CALL_TIMEOUT_MS), "WAIT flush");
	box_client_close(c);
	c = NULL;
	FX_CHECK(kill(fx_current()->pid, SIGTERM) == 0, "kill: %s", strerror(errno));
	/* Every answer that comes is "waiting"; then the server closes the connection. */
	uint32_t answered = 0;
	for (uint32_t i = 0; i < CONNECTIONS; i++) {
		struct box_response response;
		while (box_client_next(clients[i], &response, FX_CALL_TIMEOUT_MS) == 0) {
			struct engine_result r;
			fx_rc(box_response_result(&response, &r), "WAIT result");
			cr_assert(r.status == STATUS_OK && r.waiter_state == WAITER_WAITING);
			answered++;
		}
		box_client_close(clients[i]);
	}
	fx_server_wait_stopped(fx_current()); /* exit status 0 */
	cr_assert_not(fx_log_contains(fx_current(), "work unfinished"),
		      "the stop waited for WAITs nobody would answer (%u answered)", answered);
	cr_log_info("%u of %u WAITs answered before the server went", answered,
		    CONNECTIONS * WAITS);
}

/* An offer of the most seats a user may have (10) reaches a parked WAIT whole: its
 * answer is the largest a WAIT gets. */
Test(waiting, a_parked_wait_hears_an_offer_of_ten_seats)
{
	uint32_t show = FX_SHOW_HALL_1; /* 40 regular seats */
	struct engine_result holds[4];
	for (uint32_t i = 0; i < 4; i++) {
		holds[i] = fx_hold_best(c, show, 1 + i, TIER_REGULAR, 10, false);
		FX_STATUS_IS(holds[i].status, STATUS_OK);
	}
	join(show, 5, TIER_REGULAR, 10, 1);
	struct box_client *waiter = fx_connect(fx_current());
	wait_send(waiter, show, 5, WAIT_TIMEOUT_MS);
	parked_wait_for(1);
	FX_STATUS_IS(fx_release(c, holds[0].hold_id, 1).status, STATUS_OK);
	struct engine_result r = wait_answer(waiter);
	FX_STATUS_IS(r.status, STATUS_OK);
	cr_assert_eq(r.waiter_state, WAITER_OFFERED);
	cr_assert_eq(r.seats_count, 10);
	for (uint32_t i = 0; i < 10; i++)
		cr_assert_eq(r.seats[i], holds[0].seats[i], "offered seat %u", i);
	FX_STATUS_IS(fx_confirm(c, r.hold_id, 5, "ten").status, STATUS_OK);
	box_client_close(waiter);
}

/* Leaving the line is something that happens to the entry: a parked WAIT hears it at
 * once, as "not found", the answer a WAIT issued after the leave gets. */
Test(waiting, leaving_the_line_answers_a_parked_wait_with_not_found)
{
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_0, 1, TIER_VIP, 4, false).status, STATUS_OK);
	join(FX_SHOW_CLUB_0, 2, TIER_VIP, 1, 1);
	join(FX_SHOW_CLUB_0, 3, TIER_VIP, 1, 2);
	struct box_client *waiters[2] = { fx_connect(fx_current()), fx_connect(fx_current()) };
	int64_t before = fx_now_ms();
	wait_send(waiters[0], FX_SHOW_CLUB_0, 2, WAIT_TIMEOUT_MS);
	wait_send(waiters[1], FX_SHOW_CLUB_0, 3, WAIT_TIMEOUT_MS);
	parked_wait_for(2);
	struct engine_result r;
	fx_rc(box_client_waitlist_leave(c, FX_SHOW_CLUB_0, 2, &r), "LEAVE");
	FX_STATUS_IS(r.status, STATUS_OK);
	r = wait_answer(waiters[0]);
	FX_STATUS_IS(r.status, STATUS_NOT_FOUND);
	cr_assert_lt(fx_now_ms() - before, WAIT_TIMEOUT_MS / 2, "answered only at its timeout");
	/* The other waiter's WAIT stays parked. */
	struct box_response response;
	cr_assert_eq(box_client_next(waiters[1], &response, 200), -ETIMEDOUT);
	cr_assert_eq(fx_stat(c, "waits_parked"), 1);
	fx_rc(box_client_wait(waiters[0], FX_SHOW_CLUB_0, 2, 100, &r), "WAIT");
	FX_STATUS_IS(r.status, STATUS_NOT_FOUND);
	for (uint32_t i = 0; i < 2; i++)
		box_client_close(waiters[i]);
}

/*
 * A venue put whose log record, twice over, fills a segment of the smallest size
 * up to the last `room` bytes: fewer than any poll needs.
 */
static void venue_put_half_segment(struct layout_builder *b, struct command *put, uint32_t room)
{
	uint32_t payload = (uint32_t)((WAL_SEGMENT_SIZE_MIN - WAL_SEGMENT_HEADER_SIZE - room) / 2 -
				      WAL_RECORD_OVERHEAD);
	static const uint8_t tiers[8] = { TIER_ECONOMY, TIER_REGULAR, TIER_ECONOMY, TIER_REGULAR,
					  TIER_ECONOMY, TIER_REGULAR, TIER_ECONOMY, TIER_REGULAR };
	static const uint16_t seats[8] = { 3, 3, 3, 3, 3, 3, 3, 3 };
	layout_builder_init(b);
	layout_builder_section(b, "Floor");
	*put = (struct command){ .type = COMMAND_VENUE_PUT };
	put->venue_put = (struct command_venue_put){ .venue_id = 1000,
						     .location_id = FX_LOCATION_VIENNA,
						     .name = text_from_cstr("V") };
	/* Rows of 44 bytes while another fits; the venue's name takes what is left. */
	for (uint32_t row = 1;; row++) {
		char name[LABEL_SIZE_MAX + 1];
		snprintf(name, sizeof(name), "row-%011u", row);
		layout_builder_row_runs(b, name, 1, 8, tiers, seats);
		FX_STATUS_IS(layout_builder_layout(b, &put->venue_put.layout), STATUS_OK);
		if (command_encoded_size(put) + 44 > payload)
			break;
	}
	static char name[NAME_SIZE_MAX];
	memset(name, 'v', sizeof(name));
	for (uint32_t size = 1; size <= NAME_SIZE_MAX; size++) {
		put->venue_put.name = (struct text){ .bytes = name, .size = (uint16_t)size };
		if (command_encoded_size(put) == payload)
			return;
	}
	cr_assert_fail("no venue name makes a put of %u bytes", payload);
}

/*
 * A parked WAIT whose timeout comes while its shard's log cannot take the poll
 * answers "overloaded", as a WAIT arriving then would, never a state the entry is
 * not in. Segments of the smallest size and pairs of venue puts that fill one to
 * its last few bytes leave every shard, once per pair, unable to log even a poll
 * until the next segment is ready; meanwhile WAITs with a 1 ms timeout park and
 * time out over and over.
 */
Test(pressure, a_wait_timing_out_while_the_log_refuses_answers_overloaded, .fini = fx_down,
     .timeout = 120)
{
	char segment[32];
	snprintf(segment, sizeof(segment), "%u", WAL_SEGMENT_SIZE_MIN);
	fx_up((const char *const[]){ "--segment-size", segment, NULL });
	c = fx_connect(fx_current());
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_0, 1, TIER_VIP, 4, false).status, STATUS_OK);
	enum { WAITERS = 8, WAITS_IN_FLIGHT = 32, PUTS = 200, PUTS_IN_FLIGHT = 8 };
	for (uint32_t i = 0; i < WAITERS; i++)
		join(FX_SHOW_CLUB_0, 10 + i, TIER_VIP, 1, i + 1);
	struct layout_builder b;
	struct command put;
	venue_put_half_segment(&b, &put, 16);
	struct box_client *putter = fx_connect(fx_current());
	struct box_client *waiter = fx_connect(fx_current());
	uint32_t puts_sent = 0, puts_answered = 0, puts_overloaded = 0;
	uint32_t waits_sent = 0, waits_answered = 0, waiting = 0, overloaded = 0;
	while (puts_answered < PUTS) {
		while (puts_sent < PUTS && puts_sent - puts_answered < PUTS_IN_FLIGHT) {
			put.venue_put.venue_id = 1000 + puts_sent;
			uint64_t request_id;
			int rc = box_client_send_command(putter, &put, &request_id);
			if (rc == -EAGAIN)
				break;
			fx_rc(rc, "send VENUE_PUT");
			puts_sent++;
		}
		while (waits_sent - waits_answered < WAITS_IN_FLIGHT) {
			struct proto_wait wait = { .show_id = FX_SHOW_CLUB_0,
						   .user_id = 10 + waits_sent % WAITERS,
						   .timeout_ms = 1 };
			uint64_t request_id;
			fx_rc(box_client_send_wait(waiter, &wait, &request_id), "send WAIT");
			waits_sent++;
		}
		struct box_response response;
		int rc;
		while ((rc = box_client_next(putter, &response, 0)) == 0) {
			cr_assert(response.status == STATUS_OK || response.status == STATUS_OVERLOADED,
				  "VENUE_PUT: %s", status_name(response.status));
			puts_overloaded += response.status == STATUS_OVERLOADED;
			puts_answered++;
		}
		cr_assert_eq(rc, -ETIMEDOUT, "VENUE_PUT: %s", box_client_error_text(rc));
		while ((rc = box_client_next(waiter, &response, 1)) == 0) {
			struct engine_result r;
			fx_rc(box_response_result(&response, &r), "WAIT result");
			cr_assert(r.status == STATUS_OVERLOADED ||
					  (r.status == STATUS_OK && r.waiter_state == WAITER_WAITING),
				  "a WAIT answered %s, state %u (after %u waiting, %u overloaded)",
				  status_name(r.status), r.waiter_state, waiting, overloaded);
			waiting += r.status == STATUS_OK;
			overloaded += r.status == STATUS_OVERLOADED;
			waits_answered++;
		}
		cr_assert_eq(rc, -ETIMEDOUT, "WAIT: %s", box_client_error_text(rc));
	}
	layout_builder_finish(&b);
	cr_log_info("%u WAITs: %u waiting, %u overloaded; %u venue puts, %u overloaded",
		    waits_answered, waiting, overloaded, puts_answered, puts_overloaded);
	cr_assert_gt(overloaded, 0, "the log never refused a WAIT's poll: nothing was tested");
	box_client_close(putter);
	box_client_close(waiter);
	box_client_close(c);
	c = NULL;
}

Test(idle, a_waiter_that_never_polls_lapses_and_one_that_keeps_waiting_does_not,
     .fini = teardown, .timeout = 60)
{
	/* Entries lapse 2 s after their last poll; a parked WAIT answers by half that. */
	fx_up((const char *const[]){ "--waitlist-idle-ms", "2000", NULL });
	c = fx_connect(fx_current());
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_0, 1, TIER_VIP, 4, false).status, STATUS_OK);
	int64_t joined = fx_now_ms();
	join(FX_SHOW_CLUB_0, 2, TIER_VIP, 1, 1); /* keeps a WAIT outstanding */
	join(FX_SHOW_CLUB_0, 3, TIER_VIP, 1, 2); /* never polls */
	struct box_client *waiter = fx_connect(fx_current());
	uint32_t answers = 0;
	while (fx_now_ms() < joined + 2300) {
		struct engine_result r;
		fx_rc(box_client_wait(waiter, FX_SHOW_CLUB_0, 2, 5000, &r), "WAIT");
		FX_STATUS_IS(r.status, STATUS_OK);
		cr_assert_eq(r.waiter_state, WAITER_WAITING, "the waiter heard %u", r.waiter_state);
		answers++;
	}
	cr_assert_geq(answers, 2, "a WAIT of 5 s was not cut to half the idle limit");
	/* The lazy entry lapsed after 2 s and is removed only 2 s after that. */
	struct engine_result r;
	fx_rc(box_client_waitlist_poll(c, FX_SHOW_CLUB_0, 3, &r), "POLL");
	FX_STATUS_IS(r.status, STATUS_OK);
	cr_assert_eq(r.waiter_state, WAITER_LAPSED);
	fx_rc(box_client_waitlist_poll(c, FX_SHOW_CLUB_0, 2, &r), "POLL");
	cr_assert(r.status == STATUS_OK && r.waiter_state == WAITER_WAITING);
	cr_assert_eq(r.waiters_count, 1);
	box_client_close(waiter);
}
