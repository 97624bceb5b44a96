/*
 * test_server.c — the changes of PROTOCOL.md over the wire against a real server
 * (holds, confirms, releases, cancels, blocks, stats and snapshots), with their
 * successes and every failure status SPEC §4 names, and the durability of what was
 * acknowledged across a SIGTERM restart and a kill -9, and the refusal of a second
 * server on the same data directory or port. The session and the catalog
 * (puts and queries) are in test_catalog_net.c; the waiting-list operations (join,
 * leave, poll, WAIT) and their statuses in test_waitlist_net.c, with the waiting
 * list's behaviour.
 *
 * Each test gets its own server and the fixture catalog (server_fixture.h).
 * Requests the client library refuses to send (out-of-range fields) are sent as
 * hand-made frames on a raw socket, so that the server's own checks are tested.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo.h"
#include "server_fixture.h"

static struct box_client *c;

static void setup(void)
{
	c = fx_up_connected();
}

static void teardown(void)
{
	fx_down_connected(&c);
}

TestSuite(holds, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(bookings, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(operators, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(durability, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(startup, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(settings);
TestSuite(shards, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(streams, .init = setup, .fini = teardown, .timeout = 60);

static uint8_t seat_state(uint32_t show_id, uint32_t seat)
{
	struct box_seatmap *map = fx_seatmap(c, show_id);
	cr_assert_lt(seat, map->seats_count);
	uint8_t state = map->states[seat];
	box_seatmap_destroy(map);
	return state;
}

/* Holds. */

static void check_deadline(const struct engine_result *r, int64_t before, int64_t after,
			   uint32_t ttl_ms)
{
	cr_assert(r->deadline_ms >= before + ttl_ms && r->deadline_ms <= after + ttl_ms + 20,
		  "deadline %lld is not %u ms after [%lld, %lld]", (long long)r->deadline_ms,
		  ttl_ms, (long long)before, (long long)after);
}

Test(holds, explicit_hold_holds_the_seats_in_request_order)
{
	uint32_t seats[] = { 7, 3, 5 };
	int64_t before = fx_now_ms();
	struct engine_result r = fx_hold_seats(c, FX_SHOW_HALL_1, 42, 0, seats, 3);
	int64_t after = fx_now_ms();
	FX_STATUS_IS(r.status, STATUS_OK);
	cr_assert_eq(r.hold_id, (uint64_t)FX_SHOW_HALL_1 << 32 | 1);
	cr_assert(r.seats_count == 3 && r.seats[0] == 7 && r.seats[1] == 3 && r.seats[2] == 5);
	check_deadline(&r, before, after, HOLD_TTL_MS_DEFAULT);
	for (uint32_t i = 0; i < 3; i++)
		cr_assert_eq(seat_state(FX_SHOW_HALL_1, seats[i]), SEAT_HELD);
	struct engine_show s = fx_show(c, FX_SHOW_HALL_1);
	cr_assert(s.tiers[TIER_VIP].held == 3 && s.tiers[TIER_VIP].available == 17);
	r = fx_hold_seats(c, FX_SHOW_HALL_1, 43, 0, (uint32_t[]){ 9 }, 1);
	cr_assert_eq(r.hold_id, (uint64_t)FX_SHOW_HALL_1 << 32 | 2);
}

Test(holds, hold_of_a_taken_seat_names_the_unavailable_seats_and_changes_nothing)
{
	uint32_t taken[] = { 3, 4 };
	FX_STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_0, 1, 0, taken, 2).status, STATUS_OK);
	uint32_t wanted[] = { 5, 4, 3, 6 };
	struct engine_result r = fx_hold_seats(c, FX_SHOW_HALL_0, 2, 0, wanted, 4);
	FX_STATUS_IS(r.status, STATUS_SEAT_UNAVAILABLE);
	cr_assert(r.seats_count == 2 && r.seats[0] == 4 && r.seats[1] == 3);
	cr_assert(r.hold_id == 0 && r.deadline_ms == 0);
	cr_assert_eq(seat_state(FX_SHOW_HALL_0, 5), SEAT_AVAILABLE);
	cr_assert_eq(seat_state(FX_SHOW_HALL_0, 6), SEAT_AVAILABLE);
	cr_assert_eq(fx_show(c, FX_SHOW_HALL_0).tiers[TIER_VIP].held, 2);
}

Test(holds, best_available_together_takes_adjacent_seats_of_the_tier)
{
	struct engine_result r = fx_hold_best(c, FX_SHOW_HALL_0, 1, TIER_REGULAR, 3, true);
	FX_STATUS_IS(r.status, STATUS_OK);
	cr_assert(r.seats_count == 3 && r.seats[0] == 20 && r.seats[1] == 21 && r.seats[2] == 22);
	r = fx_hold_best(c, FX_SHOW_CLUB_1, 1, TIER_VIP, 2, false);
	cr_assert(r.status == STATUS_OK && r.seats_count == 2 && r.seats[0] >= 8);
}

Test(holds, best_available_without_enough_seats_is_seat_unavailable_naming_none)
{
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_0, 1, TIER_VIP, 3, false).status, STATUS_OK);
	struct engine_result r = fx_hold_best(c, FX_SHOW_CLUB_0, 2, TIER_VIP, 2, false);
	FX_STATUS_IS(r.status, STATUS_SEAT_UNAVAILABLE);
	cr_assert_eq(r.seats_count, 0);
	cr_assert_eq(fx_show(c, FX_SHOW_CLUB_0).tiers[TIER_VIP].available, 1);
}

Test(holds, hold_past_the_user_limit_is_limit_exceeded_and_changes_nothing)
{
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_0, 7, TIER_ECONOMY, 8, false).status, STATUS_OK);
	struct engine_result r = fx_hold_best(c, FX_SHOW_HALL_0, 7, TIER_ECONOMY, 3, false);
	FX_STATUS_IS(r.status, STATUS_LIMIT_EXCEEDED);
	FX_STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_0, 7, 0, (uint32_t[]){ 0, 1, 2 }, 3).status,
		     STATUS_LIMIT_EXCEEDED);
	cr_assert_eq(fx_show(c, FX_SHOW_HALL_0).tiers[TIER_ECONOMY].held, 8);
	uint32_t two[] = { 0, 1 };
	FX_STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_0, 7, 0, two, 2).status, STATUS_OK);
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_1, 7, TIER_ECONOMY, 3, false).status, STATUS_OK);
}

Test(holds, hold_before_the_sale_opens_is_not_on_sale)
{
	FX_STATUS_IS(fx_hold_seats(c, FX_SHOW_FUTURE, 1, 0, (uint32_t[]){ 0 }, 1).status,
		     STATUS_NOT_ON_SALE);
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_FUTURE, 1, TIER_VIP, 1, false).status,
		     STATUS_NOT_ON_SALE);
	cr_assert_eq(fx_show(c, FX_SHOW_FUTURE).tiers[TIER_VIP].available, 20);
}

Test(holds, hold_in_a_tier_with_a_waiting_line_is_waitlist_active)
{
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_1, 1, TIER_VIP, 4, false).status, STATUS_OK);
	struct engine_result r;
	fx_rc(box_client_waitlist_join(c, FX_SHOW_CLUB_1, 2, TIER_VIP, 1, false, &r), "JOIN");
	FX_STATUS_IS(r.status, STATUS_OK);
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_1, 3, TIER_VIP, 1, false).status,
		     STATUS_WAITLIST_ACTIVE);
	FX_STATUS_IS(fx_hold_seats(c, FX_SHOW_CLUB_1, 3, 0, (uint32_t[]){ 9 }, 1).status,
		     STATUS_WAITLIST_ACTIVE);
	/* Another tier has no line. */
	FX_STATUS_IS(fx_hold_seats(c, FX_SHOW_CLUB_1, 3, 0, (uint32_t[]){ 4 }, 1).status, STATUS_OK);
}

Test(holds, hold_of_seats_outside_the_venue_or_repeated_is_bad_request)
{
	FX_STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_0, 1, 0, (uint32_t[]){ 120 }, 1).status,
		     STATUS_BAD_REQUEST);
	FX_STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_0, 1, 0, (uint32_t[]){ 5, 5 }, 2).status,
		     STATUS_BAD_REQUEST);
	/* The Stadtsaal has regular seats only. */
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_GRAZ, 1, TIER_VIP, 1, false).status, STATUS_BAD_REQUEST);
	cr_assert_eq(fx_show(c, FX_SHOW_HALL_0).tiers[TIER_VIP].available, 20);
}

/* A HOLD payload with `count` explicit seats 0, 1, ... (count may pass the limit). */
static size_t hold_payload(uint8_t *payload, size_t capacity, uint32_t show_id, bool best,
			   uint8_t count)
{
	struct bytes_writer w;
	bytes_writer_init(&w, payload, capacity);
	bytes_put_u32(&w, show_id);
	bytes_put_u64(&w, 5);
	bytes_put_u32(&w, 0);
	bytes_put_u8(&w, best);
	if (best) {
		bytes_put_u8(&w, TIER_ECONOMY);
		bytes_put_u8(&w, count);
		bytes_put_u8(&w, 0);
	} else {
		bytes_put_u8(&w, count);
		for (uint8_t i = 0; i < count; i++)
			bytes_put_u32(&w, i);
	}
	return w.size;
}

Test(holds, hold_of_more_than_10_seats_is_too_large_and_of_none_bad_request)
{
	int fd = fx_raw_connect(fx_current(), true);
	uint8_t payload[128];
	uint8_t buffer[256];
	size_t size = hold_payload(payload, sizeof(payload), FX_SHOW_HALL_0, false, 11);
	FX_STATUS_IS(fx_raw_call(fd, PROTO_HOLD, 77, payload, size, buffer, sizeof(buffer)),
		     STATUS_TOO_LARGE);
	size = hold_payload(payload, sizeof(payload), FX_SHOW_HALL_0, true, 11);
	FX_STATUS_IS(fx_raw_call(fd, PROTO_HOLD, 77, payload, size, buffer, sizeof(buffer)),
		     STATUS_TOO_LARGE);
	size = hold_payload(payload, sizeof(payload), FX_SHOW_HALL_0, false, 0);
	FX_STATUS_IS(fx_raw_call(fd, PROTO_HOLD, 77, payload, size, buffer, sizeof(buffer)),
		     STATUS_BAD_REQUEST);
	size = hold_payload(payload, sizeof(payload), FX_SHOW_HALL_0, false, 10);
	FX_STATUS_IS(fx_raw_call(fd, PROTO_HOLD, 77, payload, size, buffer, sizeof(buffer)),
		     STATUS_OK);
	close(fd);
	struct engine_show s = fx_show(c, FX_SHOW_HALL_0);
	cr_assert(s.tiers[TIER_VIP].held == 10 && s.tiers[TIER_ECONOMY].held == 0);
}

Test(holds, hold_on_an_unknown_show_is_not_found)
{
	FX_STATUS_IS(fx_hold_seats(c, 999, 1, 0, (uint32_t[]){ 0 }, 1).status, STATUS_NOT_FOUND);
	FX_STATUS_IS(fx_hold_best(c, 998, 1, TIER_VIP, 1, false).status, STATUS_NOT_FOUND);
}

Test(holds, hold_lifetime_is_the_shorter_of_the_request_and_the_show)
{
	int64_t before = fx_now_ms();
	struct engine_result r = fx_hold_seats(c, FX_SHOW_HALL_0, 1, 5000, (uint32_t[]){ 0 }, 1);
	check_deadline(&r, before, fx_now_ms(), 5000);
	before = fx_now_ms();
	r = fx_hold_seats(c, FX_SHOW_HALL_0, 1, HOLD_TTL_MS_MAX, (uint32_t[]){ 1 }, 1);
	check_deadline(&r, before, fx_now_ms(), HOLD_TTL_MS_DEFAULT);
	before = fx_now_ms();
	r = fx_hold_seats(c, FX_SHOW_SHORT, 1, 0, (uint32_t[]){ 1 }, 1);
	check_deadline(&r, before, fx_now_ms(), FX_SHORT_TTL_MS);
}

/* Confirm, release, cancel, block. */

/* Waits (polling the seat map) until a seat leaves the held state. */
static void wait_seat_not_held(uint32_t show_id, uint32_t seat)
{
	int64_t deadline = fx_now_ms() + 10000;
	while (seat_state(show_id, seat) == SEAT_HELD) {
		cr_assert_lt(fx_now_ms(), deadline, "seat %u of show %u stayed held", seat,
			     show_id);
		fx_sleep_ms(20);
	}
}

Test(bookings, confirm_books_the_held_seats_and_is_idempotent)
{
	struct engine_result h = fx_hold_best(c, FX_SHOW_HALL_1, 9, TIER_VIP, 2, true);
	FX_STATUS_IS(h.status, STATUS_OK);
	struct engine_result r = fx_confirm(c, h.hold_id, 9, "pay-9");
	FX_STATUS_IS(r.status, STATUS_OK);
	cr_assert(r.hold_id == h.hold_id && r.seats_count == 2 && r.seats[0] == h.seats[0] &&
		  r.seats[1] == h.seats[1] && !r.booking_cancelled);
	cr_assert_eq(seat_state(FX_SHOW_HALL_1, h.seats[0]), SEAT_BOOKED);
	struct engine_show s = fx_show(c, FX_SHOW_HALL_1);
	cr_assert(s.tiers[TIER_VIP].booked == 2 && s.tiers[TIER_VIP].held == 0);
	r = fx_confirm(c, h.hold_id, 9, "pay-9");
	FX_STATUS_IS(r.status, STATUS_OK);
	cr_assert(r.hold_id == h.hold_id && r.seats_count == 2 && r.seats[1] == h.seats[1]);
	FX_STATUS_IS(fx_confirm(c, h.hold_id, 9, "pay-other").status, STATUS_ALREADY_CONFIRMED);
	FX_STATUS_IS(fx_confirm(c, h.hold_id, 10, "pay-9").status, STATUS_NOT_OWNER);
	cr_assert_eq(fx_show(c, FX_SHOW_HALL_1).tiers[TIER_VIP].booked, 2);
}

Test(bookings, confirm_by_another_user_is_not_owner_and_of_unknown_hold_not_found)
{
	struct engine_result h = fx_hold_seats(c, FX_SHOW_CLUB_0, 1, 0, (uint32_t[]){ 0 }, 1);
	FX_STATUS_IS(fx_confirm(c, h.hold_id, 2, "pay").status, STATUS_NOT_OWNER);
	cr_assert_eq(seat_state(FX_SHOW_CLUB_0, 0), SEAT_HELD);
	FX_STATUS_IS(fx_confirm(c, h.hold_id + 5, 1, "pay").status, STATUS_NOT_FOUND);
	FX_STATUS_IS(fx_confirm(c, (uint64_t)999 << 32 | 1, 1, "pay").status, STATUS_NOT_FOUND);
	FX_STATUS_IS(fx_release(c, h.hold_id + 5, 1).status, STATUS_NOT_FOUND);
}

Test(bookings, confirm_or_release_after_expiry_is_hold_expired)
{
	struct engine_result h = fx_hold_seats(c, FX_SHOW_HALL_0, 1, 300, (uint32_t[]){ 40 }, 1);
	struct engine_result g = fx_hold_seats(c, FX_SHOW_HALL_0, 1, 300, (uint32_t[]){ 41 }, 1);
	FX_STATUS_IS(h.status, STATUS_OK);
	wait_seat_not_held(FX_SHOW_HALL_0, 41);
	cr_assert_geq(fx_now_ms(), h.deadline_ms);
	FX_STATUS_IS(fx_confirm(c, h.hold_id, 1, "late").status, STATUS_HOLD_EXPIRED);
	FX_STATUS_IS(fx_release(c, g.hold_id, 1).status, STATUS_HOLD_EXPIRED);
	cr_assert_eq(seat_state(FX_SHOW_HALL_0, 40), SEAT_AVAILABLE);
	/* A show's own short lifetime expires its holds the same way. */
	h = fx_hold_seats(c, FX_SHOW_SHORT, 1, 0, (uint32_t[]){ 5 }, 1);
	wait_seat_not_held(FX_SHOW_SHORT, 5);
	FX_STATUS_IS(fx_confirm(c, h.hold_id, 1, "late").status, STATUS_HOLD_EXPIRED);
}

Test(bookings, release_returns_the_seats_once)
{
	struct engine_result h = fx_hold_seats(c, FX_SHOW_HALL_1, 3, 0, (uint32_t[]){ 60, 61 }, 2);
	FX_STATUS_IS(fx_release(c, h.hold_id, 4).status, STATUS_NOT_OWNER);
	struct engine_result r = fx_release(c, h.hold_id, 3);
	FX_STATUS_IS(r.status, STATUS_OK);
	cr_assert(r.hold_id == h.hold_id && r.seats_count == 2 && r.seats[0] == 60);
	cr_assert_eq(seat_state(FX_SHOW_HALL_1, 61), SEAT_AVAILABLE);
	FX_STATUS_IS(fx_release(c, h.hold_id, 3).status, STATUS_NOT_FOUND);
	FX_STATUS_IS(fx_confirm(c, h.hold_id, 3, "pay").status, STATUS_NOT_FOUND);
	h = fx_hold_seats(c, FX_SHOW_HALL_1, 3, 0, (uint32_t[]){ 62 }, 1);
	FX_STATUS_IS(fx_confirm(c, h.hold_id, 3, "pay").status, STATUS_OK);
	FX_STATUS_IS(fx_release(c, h.hold_id, 3).status, STATUS_ALREADY_CONFIRMED);
	cr_assert_eq(seat_state(FX_SHOW_HALL_1, 62), SEAT_BOOKED);
}

Test(bookings, cancel_returns_the_booked_seats_and_is_idempotent)
{
	struct engine_result h = fx_hold_seats(c, FX_SHOW_CLUB_1, 3, 0, (uint32_t[]){ 4, 5 }, 2);
	FX_STATUS_IS(fx_confirm(c, h.hold_id, 3, "pay-3").status, STATUS_OK);
	struct engine_result r;
	fx_rc(box_client_cancel(c, h.hold_id, &r), "CANCEL");
	FX_STATUS_IS(r.status, STATUS_OK);
	cr_assert(r.booking_cancelled && r.hold_id == h.hold_id && r.seats_count == 2);
	cr_assert_eq(seat_state(FX_SHOW_CLUB_1, 5), SEAT_AVAILABLE);
	fx_rc(box_client_cancel(c, h.hold_id, &r), "CANCEL");
	cr_assert(r.status == STATUS_OK && r.booking_cancelled);
	r = fx_confirm(c, h.hold_id, 3, "pay-3");
	cr_assert(r.status == STATUS_OK && r.booking_cancelled);
	cr_assert_eq(fx_show(c, FX_SHOW_CLUB_1).tiers[TIER_REGULAR].booked, 0);
	fx_rc(box_client_cancel(c, h.hold_id + 1, &r), "CANCEL");
	FX_STATUS_IS(r.status, STATUS_NOT_FOUND);
	h = fx_hold_seats(c, FX_SHOW_CLUB_1, 3, 0, (uint32_t[]){ 6 }, 1);
	fx_rc(box_client_cancel(c, h.hold_id, &r), "CANCEL"); /* a hold is not a booking */
	FX_STATUS_IS(r.status, STATUS_NOT_FOUND);
}

Test(bookings, blocked_seats_cannot_be_held_until_unblocked)
{
	struct engine_result r;
	fx_rc(box_client_seats_block(c, FX_SHOW_HALL_0, 10, 3, true, &r), "BLOCK");
	FX_STATUS_IS(r.status, STATUS_OK);
	cr_assert_eq(seat_state(FX_SHOW_HALL_0, 12), SEAT_BLOCKED);
	cr_assert_eq(fx_show(c, FX_SHOW_HALL_0).tiers[TIER_VIP].blocked, 3);
	struct engine_result h = fx_hold_seats(c, FX_SHOW_HALL_0, 1, 0, (uint32_t[]){ 11 }, 1);
	cr_assert(h.status == STATUS_SEAT_UNAVAILABLE && h.seats[0] == 11);
	fx_rc(box_client_seats_block(c, FX_SHOW_HALL_0, 12, 2, true, &r), "BLOCK");
	cr_assert(r.status == STATUS_SEAT_UNAVAILABLE && r.seats_count == 1 && r.seats[0] == 12);
	fx_rc(box_client_seats_block(c, FX_SHOW_HALL_0, 119, 2, true, &r), "BLOCK");
	FX_STATUS_IS(r.status, STATUS_BAD_REQUEST);
	fx_rc(box_client_seats_block(c, FX_SHOW_HALL_0, 10, 3, false, &r), "UNBLOCK");
	FX_STATUS_IS(r.status, STATUS_OK);
	FX_STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_0, 1, 0, (uint32_t[]){ 11 }, 1).status, STATUS_OK);
	fx_rc(box_client_seats_block(c, 999, 0, 1, true, &r), "BLOCK");
	FX_STATUS_IS(r.status, STATUS_NOT_FOUND);
}

/* Operators. */

Test(operators, stats_count_connections_holds_and_bookings)
{
	struct engine_result h = fx_hold_best(c, FX_SHOW_HALL_0, 1, TIER_VIP, 2, false);
	fx_hold_best(c, FX_SHOW_HALL_1, 1, TIER_VIP, 1, false);
	FX_STATUS_IS(fx_confirm(c, h.hold_id, 1, "pay").status, STATUS_OK);
	cr_assert_eq(fx_stat(c, "holds_active"), 1);
	cr_assert_eq(fx_stat(c, "bookings"), 1);
	cr_assert_geq(fx_stat(c, "connections"), 1);
	cr_assert_eq(fx_stat(c, "shows_owned"), FX_SHOWS_COUNT);
	cr_assert_gt(fx_stat(c, "shard0.wal_durable_lsn"), 0);
	cr_assert_gt(fx_stat(c, "shard1.wal_durable_lsn"), 0);
	cr_assert_geq(fx_stat(c, "uptime_ms"), 0);
}

/* SNAPSHOT; its status, and the LSN of each of the two shards when OK. */
static enum status snapshot(uint64_t lsns[2])
{
	const uint64_t *answered; /* the client's: valid until its next call */
	uint32_t count;
	enum status status;
	fx_rc(box_client_snapshot(c, &answered, &count, &status), "SNAPSHOT");
	if (status == STATUS_OK) {
		cr_assert_eq(count, 2);
		lsns[0] = answered[0];
		lsns[1] = answered[1];
	}
	return status;
}

Test(operators, snapshot_reports_a_durable_lsn_per_shard)
{
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_0, 1, TIER_VIP, 2, false).status, STATUS_OK);
	uint64_t lsns[2];
	FX_STATUS_IS(snapshot(lsns), STATUS_OK);
	cr_assert(lsns[0] > 0 && lsns[1] > 0);
	cr_assert_eq((int64_t)lsns[0], fx_stat(c, "shard0.snapshot_lsn"));
}

Test(operators, snapshots_asked_again_with_nothing_new_are_not_written_again)
{
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_0, 1, TIER_VIP, 2, false).status, STATUS_OK);
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_1, 1, TIER_VIP, 2, false).status, STATUS_OK);
	uint64_t first[2], lsns[2];
	FX_STATUS_IS(snapshot(first), STATUS_OK);
	uint32_t written = fx_log_count(fx_current(), " written (");
	cr_assert_eq(written, 2);
	/* More than the snapshot thread's queue holds, as fast as they are answered. */
	for (uint32_t i = 0; i < 300; i++) {
		FX_STATUS_IS(snapshot(lsns), STATUS_OK);
		cr_assert(lsns[0] == first[0] && lsns[1] == first[1], "round %u: %llu %llu", i,
			  (unsigned long long)lsns[0], (unsigned long long)lsns[1]);
	}
	cr_assert_eq(fx_log_count(fx_current(), " written ("), written);
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_0, 2, TIER_VIP, 2, false).status, STATUS_OK);
	FX_STATUS_IS(snapshot(lsns), STATUS_OK);
	cr_assert(lsns[0] > first[0] && lsns[1] == first[1]);
}

Test(operators, a_snapshot_that_cannot_be_written_is_internal_and_the_server_goes_on)
{
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_0, 1, TIER_VIP, 2, false).status, STATUS_OK);
	/* Directories where shard 0's next snapshots' temporary files would go. */
	int64_t durable = fx_stat(c, "shard0.wal_durable_lsn");
	cr_assert_gt(durable, 0);
	char paths[8][FX_PATH_SIZE + 64];
	for (uint32_t i = 0; i < 8; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/shard-0/snapshot-%016llx.snap.tmp",
			 fx_current()->data_dir, (unsigned long long)durable + i);
		cr_assert_eq(mkdir(paths[i], 0755), 0, "%s: %s", paths[i], strerror(errno));
	}
	uint64_t lsns[2];
	FX_STATUS_IS(snapshot(lsns), STATUS_INTERNAL);
	cr_assert_eq(fx_stat(c, "shard0.snapshot_lsn"), 0);
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_0, 2, TIER_VIP, 2, false).status, STATUS_OK);
	for (uint32_t i = 0; i < 8; i++)
		cr_assert_eq(rmdir(paths[i]), 0);
	FX_STATUS_IS(snapshot(lsns), STATUS_OK);
	cr_assert_eq((int64_t)lsns[0], fx_stat(c, "shard0.snapshot_lsn"));
	cr_assert_eq((int64_t)lsns[0], fx_stat(c, "shard0.wal_durable_lsn"));
}

/* Durability. */

static struct engine_result join(uint32_t show_id, uint64_t user, enum tier tier, uint8_t count)
{
	struct engine_result r;
	fx_rc(box_client_waitlist_join(c, show_id, user, tier, count, false, &r), "JOIN");
	return r;
}

/* Changes of every kind on shows of both shards. */
static void changes_make(void)
{
	struct engine_result h = fx_hold_best(c, FX_SHOW_HALL_0, 1, TIER_VIP, 3, true);
	FX_STATUS_IS(fx_confirm(c, h.hold_id, 1, "pay-a").status, STATUS_OK);
	h = fx_hold_seats(c, FX_SHOW_HALL_1, 2, 0, (uint32_t[]){ 70, 71, 72 }, 3);
	FX_STATUS_IS(fx_confirm(c, h.hold_id, 2, "pay-b").status, STATUS_OK);
	struct engine_result r;
	fx_rc(box_client_cancel(c, h.hold_id, &r), "CANCEL");
	h = fx_hold_seats(c, FX_SHOW_HALL_1, 2, 0, (uint32_t[]){ 80, 81 }, 2);
	FX_STATUS_IS(fx_release(c, h.hold_id, 2).status, STATUS_OK);
	FX_STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_1, 3, 0, (uint32_t[]){ 90, 91 }, 2).status,
		     STATUS_OK);
	fx_rc(box_client_seats_block(c, FX_SHOW_HALL_0, 100, 5, true, &r), "BLOCK");
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_1, 4, TIER_VIP, 4, false).status, STATUS_OK);
	FX_STATUS_IS(join(FX_SHOW_CLUB_1, 5, TIER_VIP, 2).status, STATUS_OK);
	h = fx_hold_best(c, FX_SHOW_CLUB_0, 6, TIER_ECONOMY, 4, false);
	FX_STATUS_IS(join(FX_SHOW_CLUB_0, 7, TIER_ECONOMY, 1).status, STATUS_OK);
	FX_STATUS_IS(fx_release(c, h.hold_id, 6).status, STATUS_OK); /* an offer to user 7 */
	struct command put = fx_show_command(150);
	FX_STATUS_IS(fx_command(c, &put).status, STATUS_OK);
}

static void states_capture(struct fx_show_state *states)
{
	for (uint32_t i = 0; i < FX_SHOWS_COUNT; i++)
		fx_show_state_get(c, fx_show_ids[i], &states[i]);
	fx_show_state_get(c, 150, &states[FX_SHOWS_COUNT]);
}

/* Every show is as `before` has it. */
static void states_check_unchanged(struct fx_show_state *before)
{
	struct fx_show_state after[FX_SHOWS_COUNT + 1];
	states_capture(after);
	for (uint32_t i = 0; i <= FX_SHOWS_COUNT; i++) {
		fx_show_state_check_equal(&before[i], &after[i]);
		fx_show_state_finish(&after[i]);
	}
}

static void states_finish(struct fx_show_state *states)
{
	for (uint32_t i = 0; i <= FX_SHOWS_COUNT; i++)
		fx_show_state_finish(&states[i]);
}

static void restart(bool crash)
{
	box_client_close(c);
	if (crash)
		fx_server_kill(fx_current());
	else
		fx_server_stop(fx_current());
	fx_server_start(fx_current());
	c = fx_connect(fx_current());
}

/* After a restart (clean or not) every show is as it was. */
static void restart_check(bool crash)
{
	changes_make();
	struct fx_show_state before[FX_SHOWS_COUNT + 1];
	states_capture(before);
	restart(crash);
	states_check_unchanged(before);
	states_finish(before);
	struct engine_result r;
	fx_rc(box_client_waitlist_poll(c, FX_SHOW_CLUB_0, 7, &r), "POLL");
	cr_assert(r.status == STATUS_OK && r.waiter_state == WAITER_OFFERED);
	cr_assert_eq(fx_confirm(c, (uint64_t)FX_SHOW_HALL_0 << 32 | 1, 1, "pay-a").status,
		     STATUS_OK);
	fx_catalog_load(c); /* still identical: idempotent after recovery too */
}

Test(durability, acknowledged_changes_survive_a_sigterm_restart)
{
	restart_check(false);
}

Test(durability, acknowledged_changes_survive_kill_9)
{
	restart_check(true);
}

Test(durability, changes_after_a_snapshot_survive_kill_9)
{
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_1, 8, TIER_REGULAR, 2, false).status, STATUS_OK);
	uint64_t lsns[2];
	FX_STATUS_IS(snapshot(lsns), STATUS_OK);
	restart_check(true);
}

/* Whether a connection attempt is refused (once the server logged that it stops, it
 * must be, while it still finishes its work). */
static bool connection_refused(const struct fx_server *server)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in address = { .sin_family = AF_INET,
				       .sin_port = htons((uint16_t)atoi(server->port)),
				       .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool refused = connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0 &&
		       errno == ECONNREFUSED;
	close(fd);
	return refused;
}

/*
 * SIGTERM finishes the work in flight: every change the server read is answered, ok,
 * and durable, and none it did not answer is applied; no new connection is taken;
 * the exit status is 0. Four connections, one per show (on both shards), each
 * pipeline holds and releases in turn: hold k takes seat k mod the show's seats for
 * user 2000 + k and is the show's hold number k + 1, so the release after it names
 * it. The signal comes after the first answers, while the streams still flow, so that
 * some changes are in flight and some are never read: which ones varies from run to
 * run, the rule not. After a restart, a new hold's number tells how many holds were
 * applied, and the seats tell whether the last one was released.
 */
enum { STREAM_OPS = 6000 };

struct stream {
	struct box_client *client;
	uint32_t show_id;
	uint32_t seats;
	uint32_t sent;
	uint32_t answered;
	bool closed;
	uint64_t ids[STREAM_OPS];
};

static struct command stream_op(const struct stream *s, uint32_t k)
{
	uint32_t n = k / 2; /* the hold's index: hold number n + 1 of the show */
	struct command op;
	if (k % 2 == 0) {
		op = (struct command){ .type = COMMAND_HOLD };
		op.hold = (struct command_hold){ .show_id = s->show_id, .user_id = 2000 + n,
						.seats_count = 1, .seats = { n % s->seats } };
	} else {
		op = (struct command){ .type = COMMAND_RELEASE };
		op.release = (struct command_release){
			.hold_id = (uint64_t)s->show_id << 32 | (n + 1), .user_id = 2000 + n };
	}
	return op;
}

/* Sends what the client takes and checks what came back; false once it is closed
 * (or everything is answered). */
static bool stream_step(struct stream *s)
{
	while (s->sent < STREAM_OPS) {
		struct command op = stream_op(s, s->sent);
		int rc = box_client_send_command(s->client, &op, &s->ids[s->sent]);
		if (rc == -EAGAIN)
			break;
		if (rc < 0) {
			s->closed = true;
			return false;
		}
		s->sent++;
	}
	struct box_response responses[64];
	int count = box_client_poll_responses(s->client, responses, 64);
	if (count < 0) {
		s->closed = true;
		return false;
	}
	for (int i = 0; i < count; i++) {
		cr_assert_eq(responses[i].status, STATUS_OK, "show %u, change %u: %s", s->show_id,
			     s->answered, status_name(responses[i].status));
		cr_assert_eq(responses[i].request_id, s->ids[s->answered],
			     "show %u: changes answered out of order", s->show_id);
		s->answered++;
	}
	return s->answered < STREAM_OPS;
}

Test(durability, sigterm_answers_every_change_it_read_and_applies_no_other, .timeout = 120)
{
	static struct stream streams[4];
	const uint32_t shows[4] = { FX_SHOW_HALL_0, FX_SHOW_HALL_1, FX_SHOW_CLUB_0, FX_SHOW_CLUB_1 };
	for (uint32_t i = 0; i < 4; i++) {
		streams[i] = (struct stream){ .client = fx_connect(fx_current()), .show_id = shows[i],
					      .seats = i < 2 ? FX_HALL_SEATS : FX_CLUB_SEATS };
		/* A small receive buffer: while the client pauses, answers wait in the
		 * server's socket. */
		int size = 4096;
		setsockopt(box_client_fd(streams[i].client), SOL_SOCKET, SO_RCVBUF, &size,
			   sizeof(size));
	}
	bool signalled = false, late_refused = true;
	for (int64_t end = fx_now_ms() + 60000;;) {
		cr_assert(fx_now_ms() < end, "the streams neither ended nor were closed");
		struct pollfd fds[4];
		uint32_t open = 0, answered = 0;
		for (uint32_t i = 0; i < 4; i++) {
			if (!streams[i].closed && stream_step(&streams[i]))
				fds[open++] = (struct pollfd){ .fd = box_client_fd(streams[i].client),
							       .events = POLLIN };
			answered += streams[i].answered;
		}
		if (!signalled && answered >= 400) {
			cr_assert_eq(kill(fx_current()->pid, SIGTERM), 0);
			signalled = true;
			while (!fx_log_contains(fx_current(), "SIGTERM"))
				fx_sleep_ms(1);
			late_refused = connection_refused(fx_current());
			/* A client slow to read (and still sending): the server must not close
			 * before its answers are with the client, nor the client lose those
			 * that came before the close. */
			fx_sleep_ms(300);
		}
		if (open == 0)
			break;
		poll(fds, open, 10);
	}
	cr_assert(signalled, "every change was answered before the signal");
	cr_assert(late_refused, "a connection attempt was not refused once the server stopping "
				"had been logged");
	fx_server_wait_stopped(fx_current()); /* reaps it: exit status 0 */
	box_client_close(c);
	fx_server_start(fx_current());
	c = fx_connect(fx_current());
	for (uint32_t i = 0; i < 4; i++) {
		struct stream *s = &streams[i];
		fprintf(stderr, "test_server: show %u: %u changes sent, %u answered before the stop\n",
			s->show_id, s->sent, s->answered);
		box_client_close(s->client);
		/* Holds applied: a new hold is the next number. */
		uint32_t holds_answered = (s->answered + 1) / 2;
		bool last_released = s->answered % 2 == 0;
		struct box_seatmap *map = fx_seatmap(c, s->show_id);
		uint32_t held = 0;
		for (uint32_t seat = 0; seat < map->seats_count; seat++)
			held += map->states[seat] == SEAT_HELD;
		cr_assert_eq(held, last_released ? 0 : 1,
			     "show %u: %u seats held after %u answered changes", s->show_id, held,
			     s->answered);
		if (!last_released)
			cr_assert_eq(map->states[(holds_answered - 1) % s->seats], SEAT_HELD);
		box_seatmap_destroy(map);
		struct engine_result probe = fx_hold_best(c, s->show_id, 99, TIER_ECONOMY, 1, false);
		FX_STATUS_IS(probe.status, STATUS_OK);
		cr_assert_eq((uint32_t)probe.hold_id, holds_answered + 1,
			     "show %u: %u holds answered, %u applied", s->show_id, holds_answered,
			     (uint32_t)probe.hold_id - 1);
	}
}

/*
 * A log sync that fails (SPEC §8): the server answers nothing more and exits
 * non-zero, and after a restart every hold it acknowledged is there, with at most
 * the one it was making besides. The failure is the 30th durable write or sync of
 * each shard's log (BOXOFFICE_TEST_FAIL_SYNC), while holds are made one at a time.
 */
Test(durability, a_failed_log_sync_stops_the_server_before_it_acknowledges_more)
{
	box_client_close(c);
	fx_server_stop(fx_current());
	setenv("BOXOFFICE_TEST_FAIL_SYNC", "30", 1);
	fx_server_start(fx_current());
	unsetenv("BOXOFFICE_TEST_FAIL_SYNC");
	c = fx_connect(fx_current());
	uint32_t acknowledged = 0;
	int rc = 0;
	while (acknowledged < FX_HALL_SEATS) {
		struct engine_result r;
		rc = box_client_hold_seats(c, FX_SHOW_HALL_0, 3000 + acknowledged, 0,
					   &acknowledged, 1, &r);
		if (rc < 0)
			break;
		FX_STATUS_IS(r.status, STATUS_OK);
		acknowledged++;
	}
	cr_assert_lt(rc, 0, "%u holds acknowledged: the sync did not fail", acknowledged);
	cr_assert_gt(acknowledged, 0);
	int status = fx_server_exit_status(fx_current());
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0,
		  "the server ended with status %#x, not an exit status other than 0", status);
	cr_assert(fx_log_contains(fx_current(), "write-ahead log failed"));
	box_client_close(c);
	fx_server_start(fx_current());
	c = fx_connect(fx_current());
	struct box_seatmap *map = fx_seatmap(c, FX_SHOW_HALL_0);
	for (uint32_t seat = 0; seat < acknowledged; seat++)
		cr_assert_eq(map->states[seat], SEAT_HELD, "acknowledged hold of seat %u lost", seat);
	for (uint32_t seat = acknowledged + 1; seat < map->seats_count; seat++)
		cr_assert_eq(map->states[seat], SEAT_AVAILABLE, "seat %u held, never asked", seat);
	box_seatmap_destroy(map);
	fprintf(stderr, "test_server: %u holds acknowledged before the failed sync\n",
		acknowledged);
}

/*
 * However many SNAPSHOTs are waiting at once, each is answered only when a snapshot
 * covering what was logged before it is on disk. (Past 16 waiting, the server used
 * to answer at once with the last snapshot written, older than the changes.)
 */
Test(operators, many_snapshots_asked_at_once_each_cover_what_was_logged_before)
{
	enum { SNAPSHOTS = 40 };
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_0, 1, TIER_VIP, 2, false).status, STATUS_OK);
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_1, 1, TIER_VIP, 2, false).status, STATUS_OK);
	int64_t logged[2] = { fx_stat(c, "shard0.wal_durable_lsn"),
			      fx_stat(c, "shard1.wal_durable_lsn") };
	cr_assert(logged[0] > 0 && logged[1] > 0);
	struct box_client *operator = fx_connect(fx_current());
	for (uint32_t i = 0; i < SNAPSHOTS; i++) {
		uint64_t request_id;
		fx_rc(box_client_send_empty(operator, PROTO_SNAPSHOT, &request_id), "send SNAPSHOT");
	}
	for (uint32_t i = 0; i < SNAPSHOTS; i++) {
		struct box_response response;
		fx_rc(box_client_next(operator, &response, FX_CALL_TIMEOUT_MS), "SNAPSHOT answer");
		FX_STATUS_IS(response.status, STATUS_OK);
		struct bytes_reader r;
		bytes_reader_init(&r, response.payload, response.payload_size);
		uint64_t lsns[2];
		uint32_t count;
		cr_assert(proto_get_snapshot_lsns(&r, lsns, 2, &count) && count == 2);
		for (uint32_t s = 0; s < 2; s++)
			cr_assert_geq((int64_t)lsns[s], logged[s],
				      "answer %u: shard %u's snapshot at LSN %llu, before LSN %lld", i,
				      s, (unsigned long long)lsns[s], (long long)logged[s]);
	}
	box_client_close(operator);
}

/* Start-up. */

/*
 * A second server started where the fixture's runs (its data directory, or its
 * port) must exit 1 saying why, before it changes anything: the first keeps serving
 * with every show as it was, and still has it all after a restart.
 */
static void second_server_refused(bool same_data, const char *why)
{
	changes_make();
	struct fx_show_state before[FX_SHOWS_COUNT + 1];
	states_capture(before);
	struct fx_server second;
	fx_server_init(&second, NULL, 0, NULL);
	char listen[64] = "";
	if (same_data)
		snprintf(second.data_dir, sizeof(second.data_dir), "%s", fx_current()->data_dir);
	else
		snprintf(listen, sizeof(listen), "127.0.0.1:%s", fx_current()->port);
	int status = fx_server_run_to_exit(&second, listen[0] ? listen : NULL);
	bool said = fx_log_contains(&second, why);
	bool data_left = !same_data && access(second.data_dir, F_OK) == 0;
	fx_server_finish(&second);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		  "the second server ended with wait status %#x, not exit 1", status);
	cr_assert(said, "the second server's log does not say '%s'", why);
	cr_assert_not(data_left, "the refused start left a new data directory behind");
	states_check_unchanged(before);
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_1, 8, TIER_REGULAR, 2, false).status, STATUS_OK);
	fx_show_state_finish(&before[1]);
	fx_show_state_get(c, fx_show_ids[1], &before[1]);
	restart(false);
	states_check_unchanged(before);
	states_finish(before);
}

Test(startup, a_second_server_on_the_same_data_directory_is_refused)
{
	second_server_refused(true, "in use by another process");
}

/*
 * A server started with descriptors 0-2 closed (as daemon wrappers may start it)
 * must not take one of them for a log file: its messages would go into the log, and
 * the next start would find it corrupt or cut it. Changes made then survive a
 * restart, and every shard's log reads clean.
 */
Test(startup, a_server_started_with_stdio_closed_keeps_its_logs_clean)
{
	box_client_close(c);
	fx_server_stop(fx_current());
	fx_current()->stdio_closed = true;
	fx_server_start(fx_current());
	fx_current()->stdio_closed = false;
	c = fx_connect(fx_current());
	struct engine_result hold = fx_hold_best(c, FX_SHOW_HALL_0, 5, TIER_VIP, 2, false);
	FX_STATUS_IS(hold.status, STATUS_OK);
	FX_STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_1, 5, TIER_VIP, 2, false).status, STATUS_OK);
	box_client_close(c);
	fx_server_stop(fx_current());
	fx_server_start(fx_current());
	c = fx_connect(fx_current());
	cr_assert_not(fx_log_contains(fx_current(), "corrupt"));
	cr_assert_not(fx_log_contains(fx_current(), "torn"));
	FX_STATUS_IS(fx_release(c, hold.hold_id, 5).status, STATUS_OK);
	struct engine_show show = fx_show(c, FX_SHOW_HALL_1);
	cr_assert_eq(show.tiers[TIER_VIP].held, 2, "the hold on the other shard was lost");
}

/* SIGHUP (the server's terminal closed) stops it as SIGTERM does, logged, with exit 0,
 * and what it acknowledged is there after a restart. */
Test(startup, sighup_stops_the_server_cleanly)
{
	struct engine_result hold = fx_hold_best(c, FX_SHOW_CLUB_0, 5, TIER_VIP, 2, false);
	FX_STATUS_IS(hold.status, STATUS_OK);
	box_client_close(c);
	c = NULL;
	cr_assert_eq(kill(fx_current()->pid, SIGHUP), 0);
	int status = fx_server_exit_status(fx_current());
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "wait status %#x", status);
	cr_assert(fx_log_contains(fx_current(), "SIGHUP: stopping"));
	cr_assert_neq(access(fx_current()->port_file, F_OK), 0,
		      "the port file outlived the server: a supervisor would read a stale port");
	fx_server_start(fx_current());
	c = fx_connect(fx_current());
	FX_STATUS_IS(fx_release(c, hold.hold_id, 5).status, STATUS_OK);
}

/* Starting with `option value` is a usage error (exit 64) whose message names the option. */
static void option_refused(const char *option, const char *value)
{
	bool listen = strcmp(option, "--listen") == 0;
	struct fx_server server;
	fx_server_init(&server, NULL, 0,
		       listen ? NULL : (const char *const[]){ option, value, NULL });
	int status = fx_server_run_to_exit(&server, listen ? value : "127.0.0.1:0");
	char message[64];
	snprintf(message, sizeof(message), "bad value for %s", option);
	bool said = fx_log_contains(&server, message);
	fx_server_finish(&server);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 64,
		  "%s %s ended with wait status %#x, not exit 64", option, value, status);
	cr_assert(said, "%s %s: no message naming the option", option, value);
}

/* A port that is not a number from 0 to 65535 is a usage error, not a port modulo 65536. */
Test(settings, a_listen_port_out_of_range_or_not_a_number_is_refused)
{
	const char *listens[] = { "127.0.0.1:65536", "127.0.0.1:79510", "127.0.0.1:http",
				  "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1: 80", "127.0.0.1:12ab" };
	for (size_t i = 0; i < sizeof(listens) / sizeof(listens[0]); i++)
		option_refused("--listen", listens[i]);
}

/* A port file that cannot be written is found before recovery, not after it. */
Test(settings, a_port_file_that_cannot_be_written_is_refused_before_recovery)
{
	const char *const paths[] = { "/nonexistent-directory/port", "/tmp" };
	for (uint32_t i = 0; i < 2; i++) {
		struct fx_server server;
		fx_server_init(&server, NULL, 0,
			       (const char *const[]){ "--port-file", paths[i], NULL });
		int status = fx_server_run_to_exit(&server, "127.0.0.1:0");
		bool said = fx_log_contains(&server, "--port-file");
		bool recovered = fx_log_contains(&server, "recovered");
		fx_server_finish(&server);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "%s: wait status %#x",
			  paths[i], status);
		cr_assert(said, "%s: no message naming --port-file", paths[i]);
		cr_assert_not(recovered, "%s: refused only after recovery", paths[i]);
	}
	cr_assert_neq(access("/tmp.tmp", F_OK), 0, "a stray /tmp.tmp was left");
}

Test(settings, numbers_past_64_bits_and_empty_paths_are_refused)
{
	option_refused("--snapshot-every-records", "99999999999999999999999");
	option_refused("--demo-seed", "18446744073709551616");
	option_refused("--data", "");
	option_refused("--port-file", "");
}

/* A seed without --demo would do nothing. */
Test(settings, a_demo_seed_without_demo_is_refused)
{
	struct fx_server server;
	fx_server_init(&server, NULL, 0, (const char *const[]){ "--demo-seed", "3", NULL });
	int status = fx_server_run_to_exit(&server, "127.0.0.1:0");
	bool said = fx_log_contains(&server, "--demo-seed needs --demo");
	fx_server_finish(&server);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 64, "wait status %#x", status);
	cr_assert(said);
}

Test(settings, log_flushes_outside_1_to_8_are_refused)
{
	const char *values[] = { "0", "9", "-1", "four" };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		option_refused("--log-flushes", values[i]);
}

Test(startup, a_second_server_on_the_same_port_is_refused)
{
	second_server_refused(false, "Address already in use");
}

/*
 * A data directory whose shard count was lost, or that lost a shard's directory,
 * or is started with another count, must be refused: started anyway, recovery
 * would place shows on other shards (dropping their records) or start a shard
 * empty. Each start must exit 1 saying why, and change nothing.
 */
static void start_refused(uint32_t workers, const char *why)
{
	struct fx_server second;
	fx_server_init(&second, NULL, workers, NULL);
	snprintf(second.data_dir, sizeof(second.data_dir), "%s", fx_current()->data_dir);
	int status = fx_server_run_to_exit(&second, NULL);
	bool said = fx_log_contains(&second, why);
	fx_server_finish(&second);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		  "the start ended with wait status %#x, not exit 1", status);
	cr_assert(said, "the refused start's log does not say '%s'", why);
}

static void data_rename(const char *from, const char *to)
{
	char a[FX_PATH_SIZE + 16], b[FX_PATH_SIZE + 16];
	snprintf(a, sizeof(a), "%s/%s", fx_current()->data_dir, from);
	snprintf(b, sizeof(b), "%s/%s", fx_current()->data_dir, to);
	cr_assert_eq(rename(a, b), 0, "rename %s: %s", a, strerror(errno));
}

Test(startup, a_data_directory_that_lost_its_shard_count_or_a_shard_is_refused)
{
	changes_make();
	struct fx_show_state before[FX_SHOWS_COUNT + 1];
	states_capture(before);
	box_client_close(c);
	c = NULL;
	fx_server_stop(fx_current());
	start_refused(FX_WORKERS_DEFAULT + 1, "start it with --workers 2");
	data_rename("shards", "shards.away");
	start_refused(FX_WORKERS_DEFAULT + 1, "has shards holding data but");
	start_refused(FX_WORKERS_DEFAULT, "the number of shard-N directories, 2 here");
	/* A count too small would leave shard 1 out, its bookings with it. */
	char path[FX_PATH_SIZE + 16];
	snprintf(path, sizeof(path), "%s/shards", fx_current()->data_dir);
	FILE *file = fopen(path, "w");
	cr_assert(file != NULL && fputs("1\n", file) >= 0 && fclose(file) == 0);
	start_refused(FX_WORKERS_DEFAULT, "shard-1 holds data, but");
	start_refused(1, "the shard-N directories say 2");
	cr_assert_eq(unlink(path), 0);
	data_rename("shards.away", "shards");
	data_rename("shard-1", "shard-1.away");
	start_refused(FX_WORKERS_DEFAULT, "shard-1 is missing");
	/* A file in a shard directory's place is named as such, not taken for a shard. */
	char file_path[FX_PATH_SIZE + 16];
	snprintf(file_path, sizeof(file_path), "%s/shard-1", fx_current()->data_dir);
	file = fopen(file_path, "w");
	cr_assert(file != NULL && fclose(file) == 0);
	start_refused(FX_WORKERS_DEFAULT, "shard-1 is not a directory");
	data_rename("shards", "shards.away");
	start_refused(FX_WORKERS_DEFAULT, "shard-1 is not a directory");
	data_rename("shards.away", "shards");
	cr_assert_eq(unlink(file_path), 0);
	data_rename("shard-1.away", "shard-1");
	fx_server_start(fx_current());
	c = fx_connect(fx_current());
	states_check_unchanged(before);
	states_finish(before);
}

/*
 * A first start cut short (a full disk, Ctrl-C) may leave the shard count written
 * and some shard directories, but no data: the next start must not be refused.
 */
Test(startup, a_first_start_cut_short_leaves_a_directory_that_starts)
{
	struct fx_server s;
	fx_server_init(&s, NULL, 0, NULL);
	cr_assert_eq(mkdir(s.data_dir, 0700), 0);
	char path[FX_PATH_SIZE + 32];
	snprintf(path, sizeof(path), "%s/shard-0", s.data_dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/shards", s.data_dir);
	FILE *file = fopen(path, "w");
	cr_assert_not_null(file);
	fprintf(file, "%u\n", FX_WORKERS_DEFAULT);
	fclose(file);
	fx_server_start(&s); /* shard-1 is missing, but no shard held data */
	fx_server_stop(&s);
	file = fopen(path, "w"); /* created, not yet written */
	cr_assert_not_null(file);
	fclose(file);
	fx_server_start(&s);
	cr_assert(fx_log_contains(&s, "no shard holds data: starting afresh"));
	fx_server_finish(&s);
}

/*
 * Holds that expire while the server is down fire when its shards first apply a
 * command at start-up, which the catalog reconciliation is. That is not a catalog
 * put one shard lacked, and must not be reported as one.
 */
Test(startup, holds_that_expired_while_down_are_not_reported_as_reconciled_puts)
{
	const uint32_t seats[] = { 30, 31 };
	FX_STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_0, 1, 1500, seats, 2).status, STATUS_OK);
	FX_STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_1, 1, 1500, seats, 2).status, STATUS_OK);
	box_client_close(c);
	fx_server_stop(fx_current());
	fx_sleep_ms(1600);
	fx_server_start(fx_current());
	c = fx_connect(fx_current());
	cr_assert_eq(fx_log_count(fx_current(), "catalog reconciled"), 0,
		     "a restart with identical catalogs reported reconciled puts");
	FX_STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_0, 2, 0, seats, 2).status, STATUS_OK);
	FX_STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_1, 2, 0, seats, 2).status, STATUS_OK);
}

/*
 * A first start with --demo that is cut short (Ctrl-C, a crash) leaves part of the
 * demo catalog. The next start with --demo must complete it, with the shows of the
 * day it was first loaded on (kept in data/demo), and a start after that adds
 * nothing. The cut is made by hand: the first puts of a demo catalog sent by a
 * client, and data/demo written as the first start writes it before loading.
 */
struct demo_partial {
	struct box_client *client;
	uint32_t sent;
	uint32_t limit;
};

static void demo_put_first(void *context, const struct command *command)
{
	struct demo_partial *p = context;
	if (p->sent == p->limit)
		return;
	p->sent++;
	FX_STATUS_IS(fx_command(p->client, command).status, STATUS_OK);
}

Test(startup, a_demo_load_cut_short_is_completed_by_the_next_start)
{
	const int64_t day_ms = INT64_C(1767225600000); /* 2026-01-01 */
	const uint64_t seed = 5;
	struct fx_server s;
	fx_server_init(&s, NULL, 0, NULL);
	fx_server_start(&s);
	struct demo_partial partial = { .client = fx_connect(&s), .limit = 300 };
	demo_catalog_generate(seed, day_ms, demo_put_first, &partial);
	box_client_close(partial.client);
	fx_server_stop(&s);
	char path[FX_PATH_SIZE + 16];
	snprintf(path, sizeof(path), "%s/demo", s.data_dir);
	FILE *file = fopen(path, "w");
	cr_assert_not_null(file);
	fprintf(file, "%lld %llu\n", (long long)day_ms, (unsigned long long)seed);
	fclose(file);
	snprintf(s.args[0], sizeof(s.args[0]), "--demo");
	s.args_count = 1;
	fx_server_start(&s);
	cr_assert(fx_log_contains(&s, "demo catalog completed"));
	struct box_client *client = fx_connect(&s);
	cr_assert_eq(fx_stat(client, "shows_owned"), DEMO_SHOWS_COUNT);
	struct engine_show last = fx_show(client, DEMO_SHOW_ID_FIRST + DEMO_SHOWS_COUNT - 1);
	cr_assert(last.start_ms > day_ms && last.start_ms < day_ms + 121 * INT64_C(86400000),
		  "the shows are those of the day recorded");
	box_client_close(client);
	fx_server_stop(&s);
	fx_server_start(&s);
	cr_assert_eq(fx_log_count(&s, "demo catalog completed"), 1, "the second start added more");
	cr_assert(fx_log_contains(&s, "demo catalog already loaded"));
	cr_assert_not(fx_log_contains(&s, "is not applied"));
	/* A seed asked for now is not the one the catalog was made with: said, not used. */
	fx_server_stop(&s);
	snprintf(s.args[1], sizeof(s.args[1]), "--demo-seed");
	snprintf(s.args[2], sizeof(s.args[2]), "6");
	s.args_count = 3;
	fx_server_start(&s);
	cr_assert(fx_log_contains(&s, "--demo-seed 6 is not applied: this data directory's demo "
				      "catalog was made with seed 5"));
	cr_assert_eq(fx_log_count(&s, "demo catalog completed"), 1);
	fx_server_finish(&s);
}

/*
 * The segment size is a setting, and may change from one run to the next: the
 * segment the log continues in keeps the size it was made with. Event puts with
 * long descriptions (about 2 kB each in every shard's log) go past the end of the
 * smallest segment after a restart with segments twice as large; the next start
 * must still recover every one.
 */
static void events_put(uint32_t first, uint32_t count)
{
	static char description[DESCRIPTION_SIZE_MAX];
	memset(description, 'd', sizeof(description));
	for (uint32_t id = first; id < first + count; id++) {
		struct command put = { .type = COMMAND_EVENT_PUT };
		put.event_put = (struct command_event_put){
			.event_id = id, .location_id = FX_LOCATION_GRAZ,
			.title = text_from_cstr("Put"),
			.description = { .bytes = description, .size = sizeof(description) },
			.type = EVENT_TYPE_CONCERT };
		struct engine_result r = fx_command(c, &put);
		for (int tries = 0; r.status == STATUS_OVERLOADED && tries < 1000; tries++) {
			fx_sleep_ms(2); /* the next segment is being prepared */
			r = fx_command(c, &put);
		}
		FX_STATUS_IS(r.status, STATUS_OK);
	}
}

Test(settings, the_segment_size_may_change_between_runs, .fini = teardown, .timeout = 120)
{
	fx_up((const char *const[]){ "--segment-size", "524392", NULL });
	c = fx_connect(fx_current());
	struct fx_server *server = fx_current();
	cr_assert(server->args_count == 2 && strcmp(server->args[1], "524392") == 0);
	events_put(1000, 300);
	const char *sizes[] = { "1048576", "524392" };
	for (uint32_t run = 0; run < 2; run++) {
		box_client_close(c);
		fx_server_stop(server);
		snprintf(server->args[1], sizeof(server->args[1]), "%s", sizes[run]);
		fx_server_start(server);
		c = fx_connect(server);
		events_put(1300 + 300 * run, 300);
	}
	restart(false);
	for (uint32_t id = 1000; id < 1900; id++) {
		struct engine_event_info event;
		const struct box_event_show *shows;
		uint32_t shows_count;
		enum status status;
		fx_rc(box_client_event(c, id, &event, &shows, &shows_count, &status), "EVENT");
		cr_assert_eq(status, STATUS_OK, "event %u: %s", id, status_name(status));
	}
}

/*
 * A connection's HELLO names the shard serving it, and box_show_shard names the shard
 * that owns a show, as the server decides it: a change sent on a connection of the show's
 * shard is not forwarded, one sent on the other shard's connection is.
 */
Test(shards, a_change_sent_to_its_shows_shard_is_not_handed_over)
{
	struct box_client *on[2] = { NULL, NULL }, *others[64];
	uint32_t others_count = 0;
	/* The kernel spreads connections over the shards by their addresses and ports. */
	while ((on[0] == NULL || on[1] == NULL) && others_count < 64) {
		struct box_client *client = fx_connect(fx_current());
		uint16_t shard = box_client_server(client)->shard;
		cr_assert_lt(shard, 2);
		if (on[shard] == NULL)
			on[shard] = client;
		else
			others[others_count++] = client;
	}
	cr_assert(on[0] != NULL && on[1] != NULL, "65 connections all on one shard");
	const uint32_t shows[2] = { FX_SHOW_HALL_0, FX_SHOW_HALL_1 };
	for (uint32_t shard = 0; shard < 2; shard++) {
		cr_assert_eq(box_show_shard(shows[shard], 2), shard);
		int64_t before = fx_stat(c, "forwarded");
		struct engine_result hold = fx_hold_best(on[shard], shows[shard], 7, TIER_VIP, 1, false);
		FX_STATUS_IS(hold.status, STATUS_OK);
		FX_STATUS_IS(fx_release(on[shard], hold.hold_id, 7).status, STATUS_OK);
		cr_assert_eq(fx_stat(c, "forwarded"), before, "a change on its shard was handed over");
		struct box_client *other = on[1 - shard];
		hold = fx_hold_best(other, shows[shard], 7, TIER_VIP, 1, false);
		FX_STATUS_IS(hold.status, STATUS_OK);
		FX_STATUS_IS(fx_release(other, hold.hold_id, 7).status, STATUS_OK);
		cr_assert_eq(fx_stat(c, "forwarded"), before + 2);
	}
	box_client_close(on[0]);
	box_client_close(on[1]);
	for (uint32_t i = 0; i < others_count; i++)
		box_client_close(others[i]);
}

/* Streams. */

#define HALF_CLOSE_HOLDS 100u /* per Grand Hall show: one seat each, each its own user */

/*
 * A client may end its side of the stream right after its last request (a batch
 * sent with shutdown(SHUT_WR), as `nc -N` does): it still gets every answer, each
 * after the change is durable, and then the stream's end. Half the holds are for the
 * other shard's show, and a seat map of each asks for a large answer in between, and
 * so does a WAIT of a user in no line (answered at once, not found).
 */
Test(streams, a_client_that_ends_its_side_after_its_requests_gets_every_answer)
{
	int fd = fx_raw_connect(fx_current(), true);
	static uint8_t frames[2 * HALF_CLOSE_HOLDS * 64 + 256];
	struct bytes_writer w;
	bytes_writer_init(&w, frames, sizeof(frames));
	const uint32_t shows[2] = { FX_SHOW_HALL_0, FX_SHOW_HALL_1 };
	uint64_t id = 0;
	for (uint32_t i = 0; i < HALF_CLOSE_HOLDS; i++) {
		for (uint32_t s = 0; s < 2; s++) {
			struct command hold = { .type = COMMAND_HOLD };
			hold.hold = (struct command_hold){ .show_id = shows[s], .user_id = 1000 + i,
							   .seats_count = 1, .seats = { i } };
			size_t start = w.size;
			proto_encode_command(&w, ++id, &hold);
			proto_frame_end(&w, start);
		}
		if (i % 25 == 0) {
			size_t start = w.size;
			proto_encode_id(&w, PROTO_SEATMAP, ++id, shows[i % 2]);
			proto_frame_end(&w, start);
			start = w.size;
			struct proto_wait wait = { .show_id = shows[(i / 25) % 2], .user_id = 99,
						   .timeout_ms = 60000 };
			proto_encode_wait(&w, ++id, &wait);
			proto_frame_end(&w, start);
		}
	}
	cr_assert(!w.failed);
	cr_assert(fx_raw_send(fd, frames, w.size));
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	uint32_t holds_ok = 0, seat_maps = 0, waits = 0;
	static uint8_t answer[1 << 20];
	for (uint64_t n = 0; n < id; n++) {
		int got = fx_raw_frame_read(fd, answer, sizeof(answer), FX_CALL_TIMEOUT_MS);
		cr_assert_geq(got, (int)PROTO_HEADER_SIZE, "answer %llu of %llu: %d (%s)",
			      (unsigned long long)n + 1, (unsigned long long)id, got,
			      got < 0 ? strerror(-got) : "the stream ended");
		struct proto_header header;
		proto_header_decode(answer, &header);
		bool wait = header.opcode == (PROTO_WAIT | PROTO_RESPONSE_BIT);
		cr_assert_eq(header.word, wait ? STATUS_NOT_FOUND : STATUS_OK, "request %llu: %s",
			     (unsigned long long)header.request_id, status_name(header.word));
		holds_ok += header.opcode == (PROTO_HOLD | PROTO_RESPONSE_BIT);
		seat_maps += header.opcode == (PROTO_SEATMAP | PROTO_RESPONSE_BIT);
		waits += wait;
	}
	cr_assert_eq(holds_ok, 2 * HALF_CLOSE_HOLDS);
	cr_assert_eq(waits, seat_maps);
	cr_assert_eq(seat_maps + waits, id - 2 * HALF_CLOSE_HOLDS);
	cr_assert_eq(fx_raw_frame_read(fd, answer, sizeof(answer), FX_CALL_TIMEOUT_MS), 0,
		     "the answers are not followed by the stream's end");
	close(fd);
	for (uint32_t s = 0; s < 2; s++) {
		struct fx_show_state state;
		fx_show_state_get(c, shows[s], &state);
		cr_assert_eq(fx_seats_in_state(&state, SEAT_HELD), HALF_CLOSE_HOLDS);
		fx_show_state_finish(&state);
	}
	/* WAITs alone, answered at once: their answers are owed like any other. */
	fd = fx_raw_connect(fx_current(), true);
	bytes_writer_init(&w, frames, sizeof(frames));
	for (uint32_t s = 0; s < 2; s++) {
		size_t start = w.size;
		struct proto_wait wait = { .show_id = shows[s], .user_id = 99, .timeout_ms = 60000 };
		proto_encode_wait(&w, 1 + s, &wait);
		proto_frame_end(&w, start);
	}
	cr_assert(fx_raw_send(fd, frames, w.size));
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	for (uint32_t s = 0; s < 2; s++) {
		int got = fx_raw_frame_read(fd, answer, sizeof(answer), FX_CALL_TIMEOUT_MS);
		cr_assert_geq(got, (int)PROTO_HEADER_SIZE, "WAIT answer %u: %d", s + 1, got);
		cr_assert_eq(bytes_load_u16(answer + 6), STATUS_NOT_FOUND);
	}
	cr_assert_eq(fx_raw_frame_read(fd, answer, sizeof(answer), FX_CALL_TIMEOUT_MS), 0);
	close(fd);
}
