/*
 * test_waitlist.c — SPEC §6-§7: joining, the pool, first-come-first-served offers,
 * sold out, lapsing, leaving, polling, and the events a waiter must hear about.
 * VIP seats are 0-11 (rows A 0-5 and B 6-11, see fixture.h).
 */
#include <criterion/criterion.h>

#include "fixture.h"

static struct fixture fx;

static void setup(void)
{
	fx_init(&fx, NULL);
}

static void teardown(void)
{
	fx_finish(&fx);
}

TestSuite(waitlist, .init = setup, .fini = teardown);

static uint64_t hold_range(uint64_t user, uint32_t first, uint8_t count)
{
	uint32_t seats[HOLD_SEATS_COUNT_MAX];
	for (uint8_t i = 0; i < count; i++)
		seats[i] = first + i;
	cr_assert_eq(fx_hold(&fx, user, count, seats), STATUS_OK);
	return fx.result.hold_id;
}

static void book_range(uint64_t user, uint32_t first, uint8_t count)
{
	uint64_t hold = hold_range(user, first, count);
	cr_assert_eq(fx_confirm(&fx, hold, user, "pay"), STATUS_OK);
}

static void expect_event(uint32_t i, enum engine_event_type type, uint64_t user)
{
	cr_assert_lt(i, fx.events_count, "only %u events", fx.events_count);
	cr_assert_eq(fx.events[i].type, type, "event %u is %s", i,
		     engine_event_type_name(fx.events[i].type));
	cr_assert_eq(fx.events[i].user_id, user, "event %u is for user %llu", i,
		     (unsigned long long)fx.events[i].user_id);
}

Test(waitlist, join_is_refused_while_seats_can_be_held)
{
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 2, false), STATUS_SEATS_AVAILABLE);
	hold_range(1, 0, 10);
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 2, false), STATUS_SEATS_AVAILABLE);
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 2, true), STATUS_SEATS_AVAILABLE);
	cr_assert_not(fx.result.changed);
}

Test(waitlist, join_is_refused_when_nothing_can_come_back)
{
	book_range(1, 0, 6);
	book_range(2, 6, 6);
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 1, false), STATUS_SOLD_OUT);
}

Test(waitlist, join_pools_the_rest_of_the_tier_and_stops_public_holds)
{
	hold_range(1, 0, 10);
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 3, false), STATUS_OK);
	cr_assert_eq(fx.result.waiter_state, WAITER_WAITING);
	cr_assert_eq(fx.result.waiters_count, 1);
	struct engine_tier_counts vip = fx_tier(&fx, TIER_VIP);
	cr_assert_eq(vip.available, 0);
	cr_assert_eq(vip.pooled, 2);
	cr_assert_eq(vip.held, 12);
	cr_assert_eq(vip.waiters, 1);
	cr_assert_eq(fx_seat(&fx, 10), SEAT_HELD);
	cr_assert_eq(fx_hold_best(&fx, 4, TIER_VIP, 1, false), STATUS_WAITLIST_ACTIVE);
	cr_assert_eq(fx_hold(&fx, 4, 1, (uint32_t[]){ 10 }), STATUS_WAITLIST_ACTIVE);
	cr_assert_eq(fx_hold(&fx, 4, 2, (uint32_t[]){ 12, 11 }), STATUS_WAITLIST_ACTIVE);
	cr_assert_eq(fx_hold_best(&fx, 4, TIER_REGULAR, 2, false), STATUS_OK);
}

Test(waitlist, an_expiry_serves_the_line_in_join_order)
{
	hold_range(1, 0, 6);
	fx.now_ms += 10;
	hold_range(2, 6, 6);
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 2, false), STATUS_OK);
	fx.now_ms += 1;
	cr_assert_eq(fx_join(&fx, 4, TIER_VIP, 2, false), STATUS_OK);
	cr_assert_eq(fx.result.waiters_count, 2);
	cr_assert_eq(fx_advance(&fx, FX_TTL_MS - 11), STATUS_OK); /* user 1's deadline */
	cr_assert_eq(fx.events_count, 3);
	expect_event(0, ENGINE_EVENT_HOLD_EXPIRED, 1);
	expect_event(1, ENGINE_EVENT_OFFERED, 3);
	expect_event(2, ENGINE_EVENT_OFFERED, 4);
	cr_assert_eq(fx.events[1].seats[0], 0);
	cr_assert_eq(fx.events[1].seats[1], 1);
	cr_assert_eq(fx.events[2].seats[0], 2);
	cr_assert_eq(fx.events[2].deadline_ms, fx.now_ms + FX_TTL_MS);
	/* The line is empty: what the offers did not take is public again. */
	cr_assert_eq(fx_seat(&fx, 4), SEAT_AVAILABLE);
	cr_assert_eq(fx_tier(&fx, TIER_VIP).pooled, 0);
	uint64_t offer = fx.events[1].hold_id;
	cr_assert_eq(fx_poll(&fx, 3), STATUS_OK);
	cr_assert_eq(fx.result.waiter_state, WAITER_OFFERED);
	cr_assert_eq(fx.result.hold_id, offer);
	cr_assert_eq(fx.result.seats_count, 2);
	cr_assert_eq(fx_poll(&fx, 3), STATUS_NOT_FOUND); /* delivered once */
	cr_assert_eq(fx_confirm(&fx, offer, 3, "pay-3"), STATUS_OK);
	cr_assert_eq(fx_seat(&fx, 0), SEAT_BOOKED);
}

Test(waitlist, the_head_blocks_later_waiters_until_it_can_be_served)
{
	hold_range(1, 0, 6);
	uint64_t second = hold_range(2, 6, 5);
	uint64_t single = hold_range(5, 11, 1);
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 3, false), STATUS_OK);
	cr_assert_eq(fx_join(&fx, 4, TIER_VIP, 1, false), STATUS_OK);
	cr_assert_eq(fx_release(&fx, single, 5), STATUS_OK);
	cr_assert_eq(fx.events_count, 0);
	cr_assert_eq(fx_tier(&fx, TIER_VIP).pooled, 1);
	cr_assert_eq(fx_poll(&fx, 4), STATUS_OK);
	cr_assert_eq(fx.result.waiter_state, WAITER_WAITING);
	cr_assert_eq(fx_release(&fx, second, 2), STATUS_OK);
	cr_assert_eq(fx.events_count, 2);
	expect_event(0, ENGINE_EVENT_OFFERED, 3);
	expect_event(1, ENGINE_EVENT_OFFERED, 4);
	cr_assert_eq(fx.events[0].seats[0], 6);
	cr_assert_eq(fx.events[0].seats[2], 8);
	cr_assert_eq(fx.events[1].seats[0], 9);
	cr_assert_eq(fx_seat(&fx, 10), SEAT_AVAILABLE);
}

Test(waitlist, an_expired_offer_goes_to_the_next_waiter)
{
	hold_range(1, 0, 6);
	book_range(2, 6, 6);
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 6, false), STATUS_OK);
	cr_assert_eq(fx_join(&fx, 4, TIER_VIP, 6, false), STATUS_OK);
	cr_assert_eq(fx_advance(&fx, FX_TTL_MS), STATUS_OK);
	expect_event(1, ENGINE_EVENT_OFFERED, 3);
	uint64_t offer = fx.events[1].hold_id;
	cr_assert_eq(fx_advance(&fx, FX_TTL_MS), STATUS_OK);
	cr_assert_eq(fx.events_count, 2);
	expect_event(0, ENGINE_EVENT_HOLD_EXPIRED, 3);
	expect_event(1, ENGINE_EVENT_OFFERED, 4);
	cr_assert_eq(fx_confirm(&fx, offer, 3, "late"), STATUS_HOLD_EXPIRED);
}

Test(waitlist, the_line_is_sold_out_when_nothing_held_is_left)
{
	uint64_t hold = hold_range(1, 0, 6);
	book_range(2, 6, 6);
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 2, false), STATUS_OK);
	cr_assert_eq(fx_confirm(&fx, hold, 1, "pay-1"), STATUS_OK);
	cr_assert_eq(fx.events_count, 1);
	expect_event(0, ENGINE_EVENT_SOLD_OUT, 3);
	cr_assert_eq(fx.events[0].tier, TIER_VIP);
	cr_assert_eq(fx_tier(&fx, TIER_VIP).waiters, 0);
	cr_assert_eq(fx_poll(&fx, 3), STATUS_OK);
	cr_assert_eq(fx.result.waiter_state, WAITER_SOLD_OUT);
	cr_assert_eq(fx_poll(&fx, 3), STATUS_NOT_FOUND);
}

Test(waitlist, a_head_that_can_never_be_served_is_told_and_the_next_is_tried)
{
	book_range(1, 0, 10);
	uint64_t hold = hold_range(2, 10, 2);
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 3, false), STATUS_OK);
	cr_assert_eq(fx_join(&fx, 4, TIER_VIP, 2, false), STATUS_OK);
	cr_assert_eq(fx_release(&fx, hold, 2), STATUS_OK);
	cr_assert_eq(fx.events_count, 2);
	expect_event(0, ENGINE_EVENT_SOLD_OUT, 3);
	expect_event(1, ENGINE_EVENT_OFFERED, 4);
}

Test(waitlist, a_waiter_who_stops_polling_lapses)
{
	struct engine_config config;
	engine_config_default(&config);
	config.waitlist_idle_ms = 10000;
	fx_finish(&fx);
	fx_init(&fx, &config);
	hold_range(1, 0, 6);
	hold_range(2, 6, 6);
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 2, false), STATUS_OK);
	cr_assert_eq(fx_advance(&fx, 8000), STATUS_OK);
	cr_assert_eq(fx_poll(&fx, 3), STATUS_OK);
	cr_assert(fx.result.changed);
	cr_assert_eq(fx_advance(&fx, 9999), STATUS_OK);
	cr_assert_eq(fx.events_count, 0);
	cr_assert_eq(fx_advance(&fx, 1), STATUS_OK);
	cr_assert_eq(fx.events_count, 1);
	expect_event(0, ENGINE_EVENT_LAPSED, 3);
	cr_assert_eq(fx_tier(&fx, TIER_VIP).waiters, 0);
	cr_assert_eq(fx_poll(&fx, 3), STATUS_OK);
	cr_assert_eq(fx.result.waiter_state, WAITER_LAPSED);
	/* An unread lapse is forgotten after another idle period. */
	cr_assert_eq(fx_join(&fx, 4, TIER_VIP, 1, false), STATUS_OK);
	cr_assert_eq(fx_advance(&fx, 10000), STATUS_OK);
	expect_event(0, ENGINE_EVENT_LAPSED, 4);
	cr_assert_eq(fx_advance(&fx, 10000), STATUS_OK);
	cr_assert_eq(fx.events_count, 0);
	cr_assert(fx.result.changed);
	cr_assert_eq(fx_poll(&fx, 4), STATUS_NOT_FOUND);
}

Test(waitlist, leaving_empties_the_line_and_frees_the_pool)
{
	hold_range(1, 0, 10);
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 3, false), STATUS_OK);
	cr_assert_eq(fx_seat(&fx, 11), SEAT_HELD);
	cr_assert_eq(fx_leave(&fx, 3), STATUS_OK);
	cr_assert_eq(fx_seat(&fx, 11), SEAT_AVAILABLE);
	cr_assert_eq(fx_tier(&fx, TIER_VIP).available, 2);
	cr_assert_eq(fx_leave(&fx, 3), STATUS_NOT_FOUND);
	cr_assert_eq(fx_poll(&fx, 3), STATUS_NOT_FOUND);
}

Test(waitlist, waiting_seats_count_toward_the_user_limit)
{
	hold_range(1, 0, 10);
	hold_range(5, 10, 1); /* one VIP seat left */
	hold_range(3, 12, 8);
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 3, false), STATUS_LIMIT_EXCEEDED);
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 2, false), STATUS_OK);
	cr_assert_eq(fx_hold(&fx, 3, 1, (uint32_t[]){ 20 }), STATUS_LIMIT_EXCEEDED);
	cr_assert_eq(fx_join(&fx, 3, TIER_REGULAR, 1, false), STATUS_ALREADY_EXISTS);
}

Test(waitlist, a_together_waiter_is_not_served_scattered_seats)
{
	uint64_t scattered = 0;
	cr_assert_eq(fx_hold(&fx, 1, 3, (uint32_t[]){ 0, 2, 4 }), STATUS_OK);
	scattered = fx.result.hold_id;
	uint64_t rest = 0;
	cr_assert_eq(fx_hold(&fx, 2, 9, (uint32_t[]){ 1, 3, 5, 6, 7, 8, 9, 10, 11 }), STATUS_OK);
	rest = fx.result.hold_id;
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 2, true), STATUS_OK);
	cr_assert_eq(fx_release(&fx, scattered, 1), STATUS_OK);
	cr_assert_eq(fx.events_count, 0);
	cr_assert_eq(fx_release(&fx, rest, 2), STATUS_OK);
	expect_event(0, ENGINE_EVENT_OFFERED, 3);
	cr_assert_eq(fx.events[0].seats[0], 0);
	cr_assert_eq(fx.events[0].seats[1], 1);
}

Test(waitlist, a_together_join_is_refused_while_enough_scattered_seats_are_free)
{
	/* Free: 0, 2, 4 in row A and 6, 8, 10 in row B, no two side by side. */
	cr_assert_eq(fx_hold(&fx, 1, 3, (uint32_t[]){ 1, 3, 5 }), STATUS_OK);
	cr_assert_eq(fx_hold(&fx, 2, 3, (uint32_t[]){ 7, 9, 11 }), STATUS_OK);
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 2, true), STATUS_SEATS_AVAILABLE);
	cr_assert_not(fx.result.changed);
	/* A join logged under version 1 rules replays as it was applied: it joined. */
	struct command legacy = { .type = COMMAND_WAITLIST_JOIN, .version = 1 };
	legacy.waitlist_join = (struct command_waitlist_join){ .show_id = FX_SHOW, .user_id = 7,
								.tier = TIER_VIP, .seats_count = 2,
								.together = true };
	struct fixture other;
	fx_init(&other, NULL);
	cr_assert_eq(fx_hold(&other, 1, 3, (uint32_t[]){ 1, 3, 5 }), STATUS_OK);
	cr_assert_eq(fx_hold(&other, 2, 3, (uint32_t[]){ 7, 9, 11 }), STATUS_OK);
	cr_assert_eq(fx_apply(&other, &legacy), STATUS_OK);
	fx_finish(&other);
	/* The tier was not pooled: the public still buys the scattered seats. */
	cr_assert_eq(fx_hold(&fx, 4, 1, (uint32_t[]){ 0 }), STATUS_OK);
	cr_assert_eq(fx_hold(&fx, 5, 4, (uint32_t[]){ 2, 4, 6, 8 }), STATUS_OK);
	/* One seat left, fewer than wanted: now the user may queue for two together. */
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 2, true), STATUS_OK);
	cr_assert_eq(fx_hold(&fx, 6, 1, (uint32_t[]){ 10 }), STATUS_WAITLIST_ACTIVE);
}

Test(waitlist, join_refusals_for_unknown_shows_and_closed_sales)
{
	struct command join = { .type = COMMAND_WAITLIST_JOIN };
	join.waitlist_join = (struct command_waitlist_join){ .show_id = 99, .user_id = 1,
							     .tier = TIER_VIP, .seats_count = 1 };
	cr_assert_eq(fx_apply(&fx, &join), STATUS_NOT_FOUND);
	struct command put = fx_show_command(21);
	put.show_put.sale_opens_ms = fx.now_ms + 1000;
	cr_assert_eq(fx_apply(&fx, &put), STATUS_OK);
	join.waitlist_join.show_id = 21;
	cr_assert_eq(fx_apply(&fx, &join), STATUS_NOT_ON_SALE);
}

Test(waitlist, stats_count_the_entries_in_lines_not_those_offered_or_finished)
{
	hold_range(1, 0, 10);
	uint64_t last_two = hold_range(2, 10, 2);
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 2, false), STATUS_OK);
	cr_assert_eq(fx_join(&fx, 4, TIER_VIP, 2, false), STATUS_OK);
	struct engine_stats stats;
	engine_stats_get(fx.engine, &stats);
	cr_assert_eq(stats.waiters, 2);
	cr_assert_eq(fx_release(&fx, last_two, 2), STATUS_OK);
	expect_event(0, ENGINE_EVENT_OFFERED, 3);
	engine_stats_get(fx.engine, &stats);
	cr_assert_eq(stats.waiters, 1, "user 3's entry is offered, not in the line");
}
