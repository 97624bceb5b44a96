/*
 * test_holds.c — SPEC §3-§4: holds, confirms, releases, expiry, cancels, limits,
 * the sale window, blocked seats, and every failure status they can give.
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

TestSuite(holds, .init = setup, .fini = teardown);

Test(holds, explicit_hold_takes_exactly_the_seats_asked_for)
{
	uint32_t seats[] = { 3, 1, 2 };
	cr_assert_eq(fx_hold(&fx, 7, 3, seats), STATUS_OK);
	cr_assert_eq(fx.result.hold_id, ((uint64_t)FX_SHOW << 32) | 1);
	cr_assert_eq(fx.result.deadline_ms, fx.now_ms + FX_TTL_MS);
	cr_assert_eq(fx.result.seats_count, 3);
	cr_assert_arr_eq(fx.result.seats, seats, sizeof(seats));
	cr_assert(fx.result.changed);
	for (uint32_t s = 0; s < 6; s++)
		cr_assert_eq(fx_seat(&fx, s), s >= 1 && s <= 3 ? SEAT_HELD : SEAT_AVAILABLE);
	struct engine_tier_counts vip = fx_tier(&fx, TIER_VIP);
	cr_assert_eq(vip.available, 9);
	cr_assert_eq(vip.held, 3);
}

Test(holds, contested_seat_names_the_taken_seats_and_changes_nothing)
{
	uint32_t first[] = { 4, 5 };
	cr_assert_eq(fx_hold(&fx, 1, 2, first), STATUS_OK);
	uint64_t digest = engine_digest(fx.engine);
	uint32_t second[] = { 3, 4, 5, 6 };
	cr_assert_eq(fx_hold(&fx, 2, 4, second), STATUS_SEAT_UNAVAILABLE);
	cr_assert_eq(fx.result.seats_count, 2);
	cr_assert_eq(fx.result.seats[0], 4);
	cr_assert_eq(fx.result.seats[1], 5);
	cr_assert_eq(fx.result.hold_id, 0);
	cr_assert_not(fx.result.changed);
	cr_assert_eq(engine_digest(fx.engine), digest);
	cr_assert_eq(fx_seat(&fx, 3), SEAT_AVAILABLE);
	cr_assert_eq(fx_seat(&fx, 6), SEAT_AVAILABLE);
}

Test(holds, bad_explicit_requests_are_refused)
{
	uint32_t out_of_range[] = { 46 };
	cr_assert_eq(fx_hold(&fx, 1, 1, out_of_range), STATUS_BAD_REQUEST);
	uint32_t repeated[] = { 2, 2 };
	cr_assert_eq(fx_hold(&fx, 1, 2, repeated), STATUS_BAD_REQUEST);
	uint32_t fine[] = { 2 };
	cr_assert_eq(fx_hold(&fx, 0, 1, fine), STATUS_BAD_REQUEST); /* user 0 */
	cr_assert_eq(fx_hold(&fx, 1, 0, fine), STATUS_BAD_REQUEST);
	uint32_t eleven[11] = { 0 };
	struct command c = { .type = COMMAND_HOLD };
	c.hold = (struct command_hold){ .show_id = FX_SHOW, .user_id = 1, .seats_count = 11 };
	(void)eleven;
	cr_assert_eq(fx_apply(&fx, &c), STATUS_TOO_LARGE);
	c.hold.show_id = 99;
	c.hold.seats_count = 1;
	cr_assert_eq(fx_apply(&fx, &c), STATUS_NOT_FOUND);
}

Test(holds, user_limit_counts_held_and_booked_seats)
{
	struct command put = fx_show_command(11);
	put.show_put.user_seats_max = 4;
	cr_assert_eq(fx_apply(&fx, &put), STATUS_OK);
	struct command c = { .type = COMMAND_HOLD };
	c.hold = (struct command_hold){ .show_id = 11, .user_id = 3, .seats_count = 3,
					.seats = { 0, 1, 2 } };
	cr_assert_eq(fx_apply(&fx, &c), STATUS_OK);
	uint64_t first = fx.result.hold_id;
	cr_assert_eq(fx_confirm(&fx, first, 3, "pay-1"), STATUS_OK);
	c.hold.seats_count = 2;
	c.hold.seats[0] = 10;
	c.hold.seats[1] = 11;
	cr_assert_eq(fx_apply(&fx, &c), STATUS_LIMIT_EXCEEDED);
	c.hold.seats_count = 1;
	cr_assert_eq(fx_apply(&fx, &c), STATUS_OK);
	c.hold.seats[0] = 9;
	cr_assert_eq(fx_apply(&fx, &c), STATUS_LIMIT_EXCEEDED);
	/* Another user is not limited by user 3's seats. */
	c.hold.user_id = 4;
	cr_assert_eq(fx_apply(&fx, &c), STATUS_OK);
	/* A cancelled booking gives the allowance back. */
	cr_assert_eq(fx_cancel(&fx, first), STATUS_OK);
	c.hold.user_id = 3;
	c.hold.seats[0] = 20;
	cr_assert_eq(fx_apply(&fx, &c), STATUS_OK);
}

Test(holds, holds_fail_outside_the_sale_window)
{
	struct command put = fx_show_command(12);
	put.show_put.sale_opens_ms = 5000;
	put.show_put.sale_closes_ms = 9000;
	cr_assert_eq(fx_apply(&fx, &put), STATUS_OK);
	struct command c = { .type = COMMAND_HOLD };
	c.hold = (struct command_hold){ .show_id = 12, .user_id = 1, .seats_count = 1 };
	fx.now_ms = 4999;
	cr_assert_eq(fx_apply(&fx, &c), STATUS_NOT_ON_SALE);
	fx.now_ms = 5000;
	cr_assert_eq(fx_apply(&fx, &c), STATUS_OK);
	fx.now_ms = 9000;
	c.hold.seats[0] = 1;
	cr_assert_eq(fx_apply(&fx, &c), STATUS_NOT_ON_SALE);
}

Test(holds, lifetime_is_the_shows_unless_the_client_asks_for_less)
{
	struct command c = { .type = COMMAND_HOLD };
	c.hold = (struct command_hold){ .show_id = FX_SHOW, .user_id = 1, .seats_count = 1,
					.ttl_ms = 5000 };
	cr_assert_eq(fx_apply(&fx, &c), STATUS_OK);
	cr_assert_eq(fx.result.deadline_ms, fx.now_ms + 5000);
	c.hold.seats[0] = 1;
	c.hold.ttl_ms = FX_TTL_MS * 10;
	cr_assert_eq(fx_apply(&fx, &c), STATUS_OK);
	cr_assert_eq(fx.result.deadline_ms, fx.now_ms + FX_TTL_MS);
}

Test(holds, confirm_books_every_seat_atomically)
{
	uint32_t seats[] = { 12, 13, 14 };
	cr_assert_eq(fx_hold(&fx, 9, 3, seats), STATUS_OK);
	uint64_t hold = fx.result.hold_id;
	cr_assert_eq(fx_confirm(&fx, hold, 9, "pay-9"), STATUS_OK);
	cr_assert_eq(fx.result.hold_id, hold);
	cr_assert_eq(fx.result.seats_count, 3);
	cr_assert_arr_eq(fx.result.seats, seats, sizeof(seats));
	for (uint32_t i = 0; i < 3; i++)
		cr_assert_eq(fx_seat(&fx, seats[i]), SEAT_BOOKED);
	cr_assert_eq(fx_tier(&fx, TIER_REGULAR).booked, 3 + 0);
	cr_assert_eq(fx_tier(&fx, TIER_REGULAR).held, 0);
}

Test(holds, confirm_is_idempotent_by_payment_reference)
{
	uint32_t seats[] = { 20 };
	cr_assert_eq(fx_hold(&fx, 9, 1, seats), STATUS_OK);
	uint64_t hold = fx.result.hold_id;
	cr_assert_eq(fx_confirm(&fx, hold, 9, "pay-A"), STATUS_OK);
	uint64_t digest = engine_digest(fx.engine);
	cr_assert_eq(fx_confirm(&fx, hold, 9, "pay-A"), STATUS_OK);
	cr_assert_not(fx.result.changed);
	cr_assert_eq(fx.result.hold_id, hold);
	cr_assert_eq(fx.result.seats[0], 20);
	cr_assert_eq(fx_confirm(&fx, hold, 9, "pay-B"), STATUS_ALREADY_CONFIRMED);
	cr_assert_eq(fx_confirm(&fx, hold, 8, "pay-A"), STATUS_NOT_OWNER);
	cr_assert_eq(engine_digest(fx.engine), digest);
}

Test(holds, confirm_by_another_user_is_refused)
{
	uint32_t seats[] = { 21 };
	cr_assert_eq(fx_hold(&fx, 9, 1, seats), STATUS_OK);
	cr_assert_eq(fx_confirm(&fx, fx.result.hold_id, 10, "x"), STATUS_NOT_OWNER);
	cr_assert_eq(fx_seat(&fx, 21), SEAT_HELD);
}

Test(holds, hold_expires_at_its_deadline_by_timer)
{
	uint32_t seats[] = { 30, 31 };
	cr_assert_eq(fx_hold(&fx, 4, 2, seats), STATUS_OK);
	uint64_t hold = fx.result.hold_id;
	cr_assert_eq(fx_advance(&fx, FX_TTL_MS - 1), STATUS_OK);
	cr_assert_eq(fx.events_count, 0);
	cr_assert_eq(fx_seat(&fx, 30), SEAT_HELD);
	cr_assert_eq(fx_advance(&fx, 1), STATUS_OK);
	cr_assert(fx.result.changed);
	cr_assert_eq(fx.events_count, 1);
	cr_assert_eq(fx.events[0].type, ENGINE_EVENT_HOLD_EXPIRED);
	cr_assert_eq(fx.events[0].hold_id, hold);
	cr_assert_eq(fx.events[0].user_id, 4);
	cr_assert_eq(fx.events[0].seats_count, 2);
	cr_assert_eq(fx_seat(&fx, 30), SEAT_AVAILABLE);
	cr_assert_eq(fx_seat(&fx, 31), SEAT_AVAILABLE);
	cr_assert_eq(fx_confirm(&fx, hold, 4, "late"), STATUS_HOLD_EXPIRED);
	cr_assert_eq(fx_release(&fx, hold, 4), STATUS_HOLD_EXPIRED);
}

Test(holds, confirm_after_the_deadline_fails_even_without_a_tick)
{
	uint32_t seats[] = { 32 };
	cr_assert_eq(fx_hold(&fx, 4, 1, seats), STATUS_OK);
	uint64_t hold = fx.result.hold_id;
	fx.now_ms += FX_TTL_MS;
	cr_assert_eq(fx_confirm(&fx, hold, 4, "late"), STATUS_HOLD_EXPIRED);
	cr_assert(fx.result.changed); /* the expiry happened */
	cr_assert_eq(fx_seat(&fx, 32), SEAT_AVAILABLE);
}

Test(holds, release_returns_the_seats)
{
	uint32_t seats[] = { 33, 34 };
	cr_assert_eq(fx_hold(&fx, 4, 2, seats), STATUS_OK);
	uint64_t hold = fx.result.hold_id;
	cr_assert_eq(fx_release(&fx, hold, 5), STATUS_NOT_OWNER);
	cr_assert_eq(fx_release(&fx, hold, 4), STATUS_OK);
	cr_assert_eq(fx.result.seats_count, 2);
	cr_assert_eq(fx_seat(&fx, 33), SEAT_AVAILABLE);
	cr_assert_eq(fx_release(&fx, hold, 4), STATUS_NOT_FOUND);
	cr_assert_eq(fx_confirm(&fx, hold, 4, "p"), STATUS_NOT_FOUND);
	/* The released hold's timer is gone: nothing expires later. */
	cr_assert_eq(fx_advance(&fx, FX_TTL_MS * 2), STATUS_OK);
	cr_assert_eq(fx.events_count, 0);
}

Test(holds, release_of_a_booking_is_refused)
{
	uint32_t seats[] = { 35 };
	cr_assert_eq(fx_hold(&fx, 4, 1, seats), STATUS_OK);
	uint64_t hold = fx.result.hold_id;
	cr_assert_eq(fx_confirm(&fx, hold, 4, "p"), STATUS_OK);
	cr_assert_eq(fx_release(&fx, hold, 4), STATUS_ALREADY_CONFIRMED);
	cr_assert_eq(fx_advance(&fx, FX_TTL_MS * 2), STATUS_OK);
	cr_assert_eq(fx_seat(&fx, 35), SEAT_BOOKED);
}

Test(holds, unknown_hold_ids_are_not_found)
{
	cr_assert_eq(fx_confirm(&fx, ((uint64_t)FX_SHOW << 32) | 1, 1, "p"), STATUS_NOT_FOUND);
	cr_assert_eq(fx_confirm(&fx, ((uint64_t)77 << 32) | 1, 1, "p"), STATUS_NOT_FOUND);
	cr_assert_eq(fx_release(&fx, ((uint64_t)FX_SHOW << 32) | 9, 1), STATUS_NOT_FOUND);
	cr_assert_eq(fx_cancel(&fx, ((uint64_t)FX_SHOW << 32) | 9), STATUS_NOT_FOUND);
	cr_assert_eq(fx_confirm(&fx, FX_SHOW, 1, "p"), STATUS_BAD_REQUEST); /* n = 0 */
}

Test(holds, cancel_returns_booked_seats_once)
{
	uint32_t seats[] = { 36, 37 };
	cr_assert_eq(fx_hold(&fx, 4, 2, seats), STATUS_OK);
	uint64_t hold = fx.result.hold_id;
	cr_assert_eq(fx_cancel(&fx, hold), STATUS_NOT_FOUND); /* still a hold */
	cr_assert_eq(fx_confirm(&fx, hold, 4, "p"), STATUS_OK);
	cr_assert_eq(fx_cancel(&fx, hold), STATUS_OK);
	cr_assert(fx.result.booking_cancelled);
	cr_assert(fx.result.changed);
	cr_assert_eq(fx_seat(&fx, 36), SEAT_AVAILABLE);
	cr_assert_eq(fx_cancel(&fx, hold), STATUS_OK);
	cr_assert_not(fx.result.changed);
	cr_assert(fx.result.booking_cancelled);
	cr_assert_eq(fx_confirm(&fx, hold, 4, "p"), STATUS_OK);
	cr_assert(fx.result.booking_cancelled);
}

Test(holds, blocked_seats_are_never_sold)
{
	cr_assert_eq(fx_block(&fx, 0, 2, true), STATUS_OK);
	cr_assert_eq(fx_seat(&fx, 0), SEAT_BLOCKED);
	uint32_t seats[] = { 1 };
	cr_assert_eq(fx_hold(&fx, 4, 1, seats), STATUS_SEAT_UNAVAILABLE);
	cr_assert_eq(fx_hold_best(&fx, 4, TIER_VIP, 1, false), STATUS_OK);
	cr_assert_eq(fx.result.seats[0], 2);
	cr_assert_eq(fx_block(&fx, 1, 2, true), STATUS_SEAT_UNAVAILABLE);
	cr_assert_eq(fx.result.seats_count, 2); /* 1 is blocked, 2 is held */
	cr_assert_eq(fx_block(&fx, 0, 3, false), STATUS_SEAT_UNAVAILABLE);
	cr_assert_eq(fx.result.seats[0], 2);
	cr_assert_eq(fx_block(&fx, 0, 2, false), STATUS_OK);
	cr_assert_eq(fx_seat(&fx, 1), SEAT_AVAILABLE);
	cr_assert_eq(fx_block(&fx, 40, 10, true), STATUS_BAD_REQUEST);
	cr_assert_eq(fx_tier(&fx, TIER_VIP).blocked, 0);
}

Test(holds, a_failed_command_without_timers_changes_nothing)
{
	uint64_t digest = engine_digest(fx.engine);
	cr_assert_eq(fx_confirm(&fx, ((uint64_t)FX_SHOW << 32) | 1, 1, "p"), STATUS_NOT_FOUND);
	cr_assert_not(fx.result.changed);
	cr_assert_eq(fx_advance(&fx, 10), STATUS_OK);
	cr_assert_not(fx.result.changed);
	cr_assert_eq(engine_digest(fx.engine), digest);
}

Test(holds, catalog_puts_are_idempotent_and_conflicts_refused)
{
	struct command put = fx_show_command(FX_SHOW);
	cr_assert_eq(fx_apply(&fx, &put), STATUS_OK);
	cr_assert_not(fx.result.changed);
	put.show_put.prices_minor[0] = 1;
	cr_assert_eq(fx_apply(&fx, &put), STATUS_ALREADY_EXISTS);
	put = fx_show_command(13);
	put.show_put.event_id = 99;
	cr_assert_eq(fx_apply(&fx, &put), STATUS_NOT_FOUND);
	put.show_put.event_id = 5;
	put.show_put.end_ms = put.show_put.start_ms;
	cr_assert_eq(fx_apply(&fx, &put), STATUS_BAD_REQUEST);
}
