/*
 * test_best_available.c — SPEC §4 best-available holds and RULES.md "Select": best
 * seats first, seats together in one row when asked, and no lone seat stranded in a
 * row when another choice exists. Seat ids are the fixture's (fixture.h).
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

TestSuite(best, .init = setup, .fini = teardown);

/* Takes seats out of play for the test by holding them, each call as a new user. */
static void occupy(const uint32_t *seats, uint8_t count)
{
	static uint64_t user = 90;
	cr_assert_eq(fx_hold(&fx, ++user, count, seats), STATUS_OK);
}

static void expect_seats(const uint32_t *seats, uint8_t count)
{
	cr_assert_eq(fx.result.status, STATUS_OK, "status %s", status_name(fx.result.status));
	cr_assert_eq(fx.result.seats_count, count);
	for (uint8_t i = 0; i < count; i++)
		cr_assert_eq(fx.result.seats[i], seats[i], "seat %u: %u, expected %u", i,
			     fx.result.seats[i], seats[i]);
}

Test(best, picks_the_best_seats_first)
{
	fx_hold_best(&fx, 1, TIER_VIP, 2, true);
	expect_seats((uint32_t[]){ 0, 1 }, 2);
	fx_hold_best(&fx, 2, TIER_REGULAR, 3, false);
	expect_seats((uint32_t[]){ 12, 13, 14 }, 3);
	fx_hold_best(&fx, 3, TIER_ECONOMY, 1, false);
	expect_seats((uint32_t[]){ 28 }, 1);
}

Test(best, together_skips_a_row_it_would_leave_one_seat_in)
{
	occupy((uint32_t[]){ 0, 1, 2 }, 3); /* row A keeps 3, 4, 5 */
	fx_hold_best(&fx, 1, TIER_VIP, 2, true);
	expect_seats((uint32_t[]){ 6, 7 }, 2);
}

Test(best, together_strands_a_seat_when_there_is_no_other_choice)
{
	occupy((uint32_t[]){ 0, 1, 2 }, 3);
	cr_assert_eq(fx_block(&fx, 6, 6, true), STATUS_OK); /* row B gone */
	fx_hold_best(&fx, 1, TIER_VIP, 2, true);
	expect_seats((uint32_t[]){ 3, 4 }, 2);
}

Test(best, together_fails_when_no_row_has_the_seats_side_by_side)
{
	occupy((uint32_t[]){ 1, 3, 5, 7, 9, 11 }, 6);
	cr_assert_eq(fx_hold_best(&fx, 1, TIER_VIP, 2, true), STATUS_SEAT_UNAVAILABLE);
	cr_assert_eq(fx.result.seats_count, 0);
	cr_assert_not(fx.result.changed);
	/* Not together, the six single seats are fine. */
	fx_hold_best(&fx, 1, TIER_VIP, 2, false);
	expect_seats((uint32_t[]){ 0, 2 }, 2);
}

Test(best, scattered_prefers_a_run_that_fits_exactly)
{
	occupy((uint32_t[]){ 3, 4, 5, 8, 9, 10, 11 }, 7); /* runs: 0-2 and 6-7 */
	fx_hold_best(&fx, 1, TIER_VIP, 2, false);
	expect_seats((uint32_t[]){ 6, 7 }, 2);
}

Test(best, scattered_splits_the_group_rather_than_strand_a_seat)
{
	occupy((uint32_t[]){ 3, 4, 5, 6, 8, 10, 11 }, 7); /* runs: 0-2, 7, 9 */
	fx_hold_best(&fx, 1, TIER_VIP, 2, false);
	expect_seats((uint32_t[]){ 7, 9 }, 2);
}

Test(best, scattered_takes_the_first_seats_when_every_choice_strands_one)
{
	occupy((uint32_t[]){ 2, 3, 6, 7, 10, 11 }, 6); /* runs: 0-1, 4-5, 8-9 */
	fx_hold_best(&fx, 1, TIER_VIP, 3, false);
	expect_seats((uint32_t[]){ 0, 1, 4 }, 3);
}

Test(best, runs_never_join_across_rows_or_tiers)
{
	/* Regular: C 12-19, D 20-27 and F 41-42 (between economy runs). */
	occupy((uint32_t[]){ 12, 13, 14, 15, 16, 17, 18 }, 7); /* C keeps 19 */
	occupy((uint32_t[]){ 21, 22, 23, 24, 25, 26, 27 }, 7); /* D keeps 20 */
	fx_hold_best(&fx, 1, TIER_REGULAR, 2, true);
	expect_seats((uint32_t[]){ 41, 42 }, 2); /* 19 and 20 are in different rows */
	cr_assert_eq(fx_hold_best(&fx, 2, TIER_ECONOMY, 4, true), STATUS_OK);
	expect_seats((uint32_t[]){ 28, 29, 30, 31 }, 4);
}

Test(best, fails_when_the_tier_has_too_few_seats_and_changes_nothing)
{
	occupy((uint32_t[]){ 0, 1, 2, 3, 4, 5, 6, 7, 8 }, 9);
	uint64_t digest = engine_digest(fx.engine);
	cr_assert_eq(fx_hold_best(&fx, 1, TIER_VIP, 4, false), STATUS_SEAT_UNAVAILABLE);
	cr_assert_eq(engine_digest(fx.engine), digest);
	fx_hold_best(&fx, 1, TIER_VIP, 3, false);
	expect_seats((uint32_t[]){ 9, 10, 11 }, 3);
}

Test(best, a_tier_the_venue_lacks_is_a_bad_request)
{
	struct layout_builder b;
	layout_builder_init(&b);
	layout_builder_section(&b, "Only");
	layout_builder_row(&b, "A", 1, 4, TIER_ECONOMY);
	struct command venue = { .type = COMMAND_VENUE_PUT };
	venue.venue_put = (struct command_venue_put){ .venue_id = 2, .location_id = 1,
						      .name = text_from_cstr("Small") };
	cr_assert_eq(layout_builder_layout(&b, &venue.venue_put.layout), STATUS_OK);
	cr_assert_eq(fx_apply(&fx, &venue), STATUS_OK);
	struct command show = fx_show_command(20);
	show.show_put.venue_id = 2;
	cr_assert_eq(fx_apply(&fx, &show), STATUS_OK);
	struct command hold = { .type = COMMAND_HOLD };
	hold.hold = (struct command_hold){ .show_id = 20, .user_id = 1, .best = true,
					   .seats_count = 1, .tier = TIER_VIP };
	cr_assert_eq(fx_apply(&fx, &hold), STATUS_BAD_REQUEST);
	hold.hold.tier = TIER_ECONOMY;
	cr_assert_eq(fx_apply(&fx, &hold), STATUS_OK);
	layout_builder_finish(&b);
}
