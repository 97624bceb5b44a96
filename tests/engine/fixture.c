/*
 * fixture.c — the unit tests' engine and catalog (see fixture.h).
 */
#include "fixture.h"

#include <criterion/criterion.h>
#include <string.h>

static void fx_catalog(struct fixture *fx)
{
	struct command c = { .type = COMMAND_LOCATION_PUT };
	c.location_put = (struct command_location_put){
		.location_id = 1, .name = text_from_cstr("Vienna"), .country = { 'A', 'T' },
		.lat_e6 = 48208174, .lon_e6 = 16373819 };
	cr_assert_eq(fx_apply(fx, &c), STATUS_OK);

	struct layout_builder *b = &fx->layout;
	layout_builder_init(b);
	layout_builder_section(b, "Front");
	layout_builder_row(b, "A", 1, 6, TIER_VIP);
	layout_builder_row(b, "B", 1, 6, TIER_VIP);
	layout_builder_section(b, "Middle");
	layout_builder_row(b, "C", 1, 8, TIER_REGULAR);
	layout_builder_row(b, "D", 1, 8, TIER_REGULAR);
	layout_builder_section(b, "Back");
	layout_builder_row(b, "E", 1, 10, TIER_ECONOMY);
	uint8_t tiers[] = { TIER_ECONOMY, TIER_REGULAR, TIER_ECONOMY };
	uint16_t counts[] = { 3, 2, 3 };
	layout_builder_row_runs(b, "F", 1, 3, tiers, counts);
	c = (struct command){ .type = COMMAND_VENUE_PUT };
	c.venue_put = (struct command_venue_put){
		.venue_id = 1, .location_id = 1, .name = text_from_cstr("Hall"),
		.address = text_from_cstr("Ring 1"), .lat_e6 = 48208174, .lon_e6 = 16373819 };
	cr_assert_eq(layout_builder_layout(b, &c.venue_put.layout), STATUS_OK);
	cr_assert_eq(fx_apply(fx, &c), STATUS_OK);

	c = (struct command){ .type = COMMAND_EVENT_PUT };
	c.event_put = (struct command_event_put){
		.event_id = 5, .location_id = 1, .title = text_from_cstr("Don Giovanni"),
		.description = text_from_cstr("Opera in two acts"), .type = EVENT_TYPE_THEATRE,
		.language = text_from_cstr("it"), .duration_min = 180, .tags_count = 1,
		.tags = { text_from_cstr("opera") } };
	cr_assert_eq(fx_apply(fx, &c), STATUS_OK);

	c = fx_show_command(FX_SHOW);
	cr_assert_eq(fx_apply(fx, &c), STATUS_OK);
}

struct command fx_show_command(uint32_t show_id)
{
	struct command c = { .type = COMMAND_SHOW_PUT };
	c.show_put = (struct command_show_put){
		.show_id = show_id, .event_id = 5, .venue_id = 1,
		.start_ms = FX_SALE_CLOSES_MS + 1000, .end_ms = FX_SALE_CLOSES_MS + 7200000,
		.prices_minor = { 2000, 4500, 12000 }, .currency = { 'E', 'U', 'R' },
		.user_seats_max = 10, .sale_opens_ms = 0, .sale_closes_ms = FX_SALE_CLOSES_MS,
		.hold_ttl_ms = FX_TTL_MS };
	return c;
}

void fx_init(struct fixture *fx, const struct engine_config *config)
{
	struct engine_config defaults;
	engine_config_default(&defaults);
	defaults.waitlist_idle_ms = FX_IDLE_MS;
	*fx = (struct fixture){ .engine = engine_create(config ? config : &defaults),
				.now_ms = 1000 };
	cr_assert_not_null(fx->engine);
	fx_catalog(fx);
}

void fx_finish(struct fixture *fx)
{
	engine_destroy(fx->engine);
	layout_builder_finish(&fx->layout);
	*fx = (struct fixture){ 0 };
}

enum status fx_apply(struct fixture *fx, const struct command *command)
{
	engine_apply(fx->engine, command, fx->now_ms, &fx->result);
	engine_check(fx->engine);
	fx->events = engine_events(fx->engine, &fx->events_count);
	return fx->result.status;
}

enum status fx_hold(struct fixture *fx, uint64_t user, uint8_t count, const uint32_t *seats)
{
	struct command c = { .type = COMMAND_HOLD };
	c.hold = (struct command_hold){ .show_id = FX_SHOW, .user_id = user, .seats_count = count };
	memcpy(c.hold.seats, seats, sizeof(uint32_t) * count);
	return fx_apply(fx, &c);
}

enum status fx_hold_best(struct fixture *fx, uint64_t user, uint8_t tier, uint8_t count,
			 bool together)
{
	struct command c = { .type = COMMAND_HOLD };
	c.hold = (struct command_hold){ .show_id = FX_SHOW, .user_id = user, .best = true,
					.seats_count = count, .tier = tier, .together = together };
	return fx_apply(fx, &c);
}

enum status fx_confirm(struct fixture *fx, uint64_t hold_id, uint64_t user, const char *ref)
{
	struct command c = { .type = COMMAND_CONFIRM };
	c.confirm = (struct command_confirm){ .hold_id = hold_id, .user_id = user,
					      .payment_ref = text_from_cstr(ref) };
	return fx_apply(fx, &c);
}

enum status fx_release(struct fixture *fx, uint64_t hold_id, uint64_t user)
{
	struct command c = { .type = COMMAND_RELEASE };
	c.release = (struct command_release){ .hold_id = hold_id, .user_id = user };
	return fx_apply(fx, &c);
}

enum status fx_cancel(struct fixture *fx, uint64_t booking_id)
{
	struct command c = { .type = COMMAND_BOOKING_CANCEL };
	c.booking_cancel.booking_id = booking_id;
	return fx_apply(fx, &c);
}

enum status fx_join(struct fixture *fx, uint64_t user, uint8_t tier, uint8_t count, bool together)
{
	struct command c = { .type = COMMAND_WAITLIST_JOIN };
	c.waitlist_join = (struct command_waitlist_join){ .show_id = FX_SHOW, .user_id = user,
							  .tier = tier, .seats_count = count,
							  .together = together };
	return fx_apply(fx, &c);
}

enum status fx_leave(struct fixture *fx, uint64_t user)
{
	struct command c = { .type = COMMAND_WAITLIST_LEAVE };
	c.waitlist_leave = (struct command_waitlist_user){ .show_id = FX_SHOW, .user_id = user };
	return fx_apply(fx, &c);
}

enum status fx_poll(struct fixture *fx, uint64_t user)
{
	struct command c = { .type = COMMAND_WAITLIST_POLL };
	c.waitlist_poll = (struct command_waitlist_user){ .show_id = FX_SHOW, .user_id = user };
	return fx_apply(fx, &c);
}

enum status fx_block(struct fixture *fx, uint32_t first, uint32_t count, bool blocked)
{
	struct command c = { .type = COMMAND_SEATS_BLOCK };
	c.seats_block = (struct command_seats_block){ .show_id = FX_SHOW, .seat_first = first,
						      .seats_count = count, .blocked = blocked };
	return fx_apply(fx, &c);
}

enum status fx_advance(struct fixture *fx, int64_t ms)
{
	fx->now_ms += ms;
	struct command c = { .type = COMMAND_TICK };
	return fx_apply(fx, &c);
}

uint8_t fx_seat(struct fixture *fx, uint32_t seat)
{
	uint8_t states[64];
	uint32_t count = engine_show_seat_states(fx->engine, FX_SHOW, states, sizeof(states));
	cr_assert_eq(count, 46);
	cr_assert_lt(seat, count);
	return states[seat];
}

struct engine_tier_counts fx_tier(struct fixture *fx, uint8_t tier)
{
	struct engine_show show;
	cr_assert(engine_show_get(fx->engine, FX_SHOW, &show));
	return show.tiers[tier];
}
