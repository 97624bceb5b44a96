/*
 * test_catalog.c — SPEC §2 queries through the engine: locations, events at a
 * location, an event with its shows, show details, venues, paging by id, search
 * through engine_search, and shards that keep the catalog but not the seats.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "demo.h"
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

TestSuite(catalog, .init = setup, .fini = teardown);

static void put_location(uint32_t id, const char *name)
{
	struct command c = { .type = COMMAND_LOCATION_PUT };
	c.location_put = (struct command_location_put){ .location_id = id,
							.name = text_from_cstr(name),
							.country = { 'D', 'E' }, .lat_e6 = 1 };
	cr_assert_eq(fx_apply(&fx, &c), STATUS_OK);
}

static void put_event(uint32_t id, uint32_t location_id, const char *title)
{
	struct command c = { .type = COMMAND_EVENT_PUT };
	c.event_put = (struct command_event_put){ .event_id = id, .location_id = location_id,
						  .title = text_from_cstr(title),
						  .type = EVENT_TYPE_COMEDY };
	cr_assert_eq(fx_apply(&fx, &c), STATUS_OK);
}

Test(catalog, locations_are_listed_in_id_order_with_paging)
{
	put_location(30, "Hamburg");
	put_location(2, "Berlin");
	put_location(17, "Munich");
	struct engine_location list[8];
	uint32_t count = engine_locations_list(fx.engine, 0, list, 8);
	cr_assert_eq(count, 4);
	uint32_t expected[] = { 1, 2, 17, 30 };
	for (uint32_t i = 0; i < count; i++)
		cr_assert_eq(list[i].location_id, expected[i]);
	cr_assert_eq(engine_locations_list(fx.engine, 2, list, 1), 1);
	cr_assert_eq(list[0].location_id, 17);
	cr_assert(text_equal(list[0].name, text_from_cstr("Munich")));
	cr_assert_eq(engine_locations_list(fx.engine, 30, list, 8), 0);
	struct engine_location vienna;
	cr_assert(engine_location_get(fx.engine, 1, &vienna));
	cr_assert_eq(vienna.events_count, 1);
	cr_assert_eq(memcmp(vienna.country, "AT", 2), 0);
	cr_assert_not(engine_location_get(fx.engine, 99, &vienna));
}

Test(catalog, events_at_a_location_are_listed_in_id_order)
{
	put_location(2, "Berlin");
	put_event(40, 2, "Late Show");
	put_event(8, 2, "Early Show");
	put_event(9, 1, "Vienna Show");
	struct engine_event_info events[4];
	cr_assert_eq(engine_events_list(fx.engine, 2, 0, events, 4), 2);
	cr_assert_eq(events[0].event_id, 8);
	cr_assert_eq(events[1].event_id, 40);
	cr_assert_eq(engine_events_list(fx.engine, 2, 8, events, 4), 1);
	cr_assert_eq(engine_events_list(fx.engine, 1, 0, events, 4), 2);
	cr_assert_eq(engine_events_list(fx.engine, 77, 0, events, 4), 0);
	struct command c = { .type = COMMAND_EVENT_PUT };
	c.event_put = (struct command_event_put){ .event_id = 50, .location_id = 77,
						  .title = text_from_cstr("Nowhere") };
	cr_assert_eq(fx_apply(&fx, &c), STATUS_NOT_FOUND);
}

Test(catalog, an_event_lists_its_shows_by_start_time)
{
	struct command show = fx_show_command(30);
	show.show_put.start_ms -= 5000;
	cr_assert_eq(fx_apply(&fx, &show), STATUS_OK);
	show = fx_show_command(20);
	show.show_put.start_ms += 5000;
	cr_assert_eq(fx_apply(&fx, &show), STATUS_OK);
	uint32_t ids[4];
	cr_assert_eq(engine_event_shows(fx.engine, 5, 0, ids, 4), 3);
	cr_assert_eq(ids[0], 30);
	cr_assert_eq(ids[1], FX_SHOW);
	cr_assert_eq(ids[2], 20);
	cr_assert_eq(engine_event_shows(fx.engine, 5, 2, ids, 4), 1);
	struct engine_event_info event;
	cr_assert(engine_event_get(fx.engine, 5, &event));
	cr_assert_eq(event.shows_count, 3);
	cr_assert(text_equal(event.tags[0], text_from_cstr("opera")));
}

Test(catalog, show_details_give_prices_and_counts_per_tier)
{
	cr_assert_eq(fx_hold(&fx, 1, 2, (uint32_t[]){ 0, 12 }), STATUS_OK);
	struct engine_show show;
	cr_assert(engine_show_get(fx.engine, FX_SHOW, &show));
	cr_assert(show.owned);
	cr_assert_eq(show.prices_minor[TIER_VIP], 12000);
	cr_assert_eq(memcmp(show.currency, "EUR", 3), 0);
	cr_assert_eq(show.tiers[TIER_VIP].seats, 12);
	cr_assert_eq(show.tiers[TIER_VIP].available, 11);
	cr_assert_eq(show.tiers[TIER_REGULAR].seats, 18);
	cr_assert_eq(show.tiers[TIER_REGULAR].held, 1);
	cr_assert_eq(show.tiers[TIER_ECONOMY].seats, 16);
	cr_assert_eq(show.hold_ttl_ms, FX_TTL_MS);
	struct engine_venue venue;
	cr_assert(engine_venue_get(fx.engine, 1, &venue));
	cr_assert_eq(venue.layout.seats_count, 46);
	cr_assert_eq(venue.layout.sections_count, 3);
}

Test(catalog, a_shard_keeps_the_catalog_but_only_its_own_seats)
{
	struct engine_config config;
	engine_config_default(&config);
	config.shard_count = 2;
	/* Find which shard owns show 10 and build the other one. */
	config.shard_index = 1 - engine_show_shard(FX_SHOW, 2);
	struct fixture other;
	fx_init(&other, &config);
	struct engine_show show;
	cr_assert(engine_show_get(other.engine, FX_SHOW, &show));
	cr_assert_not(show.owned);
	cr_assert_eq(show.tiers[TIER_VIP].seats, 12);
	cr_assert_eq(show.tiers[TIER_VIP].available, 0);
	uint8_t states[64];
	cr_assert_eq(engine_show_seat_states(other.engine, FX_SHOW, states, 64), 0);
	cr_assert_eq(fx_hold(&other, 1, 1, (uint32_t[]){ 0 }), STATUS_INTERNAL);
	struct engine_location location;
	cr_assert(engine_location_get(other.engine, 1, &location));
	fx_finish(&other);
}

Test(catalog, search_finds_shows_through_the_engine)
{
	struct search_query query;
	search_query_init(&query);
	query.keyword = text_from_cstr("giovanni");
	struct search_hit hits[4];
	uint32_t count;
	bool more;
	cr_assert_eq(engine_search(fx.engine, &query, hits, &count, &more), STATUS_OK);
	cr_assert_eq(count, 1);
	cr_assert_not(more);
	cr_assert_eq(hits[0].show_id, FX_SHOW);
	cr_assert_eq(hits[0].event_id, 5);
	cr_assert_eq(hits[0].venue_id, 1);
	cr_assert_eq(hits[0].location_id, 1);
	query.keyword = text_from_cstr("ballet");
	cr_assert_eq(engine_search(fx.engine, &query, hits, &count, &more), STATUS_OK);
	cr_assert_eq(count, 0);
	query.limit = 0;
	cr_assert_eq(engine_search(fx.engine, &query, hits, &count, &more), STATUS_BAD_REQUEST);
	query.limit = SEARCH_RESULTS_COUNT_MAX + 1;
	cr_assert_eq(engine_search(fx.engine, &query, hits, &count, &more), STATUS_BAD_REQUEST);
}

static void count_command(void *context, const struct command *command)
{
	struct engine *engine = context;
	struct engine_result result;
	engine_apply(engine, command, 1000, &result);
	cr_assert_eq(result.status, STATUS_OK);
}

Test(catalog, search_pages_through_the_demo_catalog_without_repeats)
{
	struct engine_config config;
	engine_config_default(&config);
	struct engine *engine = engine_create(&config);
	demo_catalog_generate(5, 1800000000000LL, count_command, engine);
	struct search_query query;
	search_query_init(&query);
	query.type = EVENT_TYPE_SPORT;
	query.limit = 7;
	struct search_hit hits[7];
	uint32_t count, total = 0;
	bool more = true;
	int64_t last_start = -1;
	uint32_t last_id = 0;
	while (more) {
		cr_assert_eq(engine_search(engine, &query, hits, &count, &more), STATUS_OK);
		for (uint32_t i = 0; i < count; i++) {
			struct engine_event_info event;
			cr_assert(engine_event_get(engine, hits[i].event_id, &event));
			cr_assert_eq(event.type, EVENT_TYPE_SPORT);
			bool after = hits[i].start_ms > last_start ||
				     (hits[i].start_ms == last_start && hits[i].show_id > last_id);
			cr_assert(after, "results out of order or repeated");
			last_start = hits[i].start_ms;
			last_id = hits[i].show_id;
		}
		total += count;
		query.after_start_ms = last_start;
		query.after_show_id = last_id;
	}
	uint32_t expected = 0;
	for (uint32_t id = DEMO_SHOW_ID_FIRST; id < DEMO_SHOW_ID_FIRST + DEMO_SHOWS_COUNT; id++) {
		struct engine_show show;
		struct engine_event_info event;
		cr_assert(engine_show_get(engine, id, &show));
		cr_assert(engine_event_get(engine, show.event_id, &event));
		expected += event.type == EVENT_TYPE_SPORT;
	}
	cr_assert_gt(expected, 0);
	cr_assert_eq(total, expected);
	engine_destroy(engine);
}

static void configure_hold_ttl(uint32_t hold_ttl_ms_default)
{
	struct command c = { .type = COMMAND_CONFIGURE };
	c.configure = (struct command_configure){ .hold_ttl_ms_default = hold_ttl_ms_default,
						  .waitlist_idle_ms = WAITLIST_IDLE_MS_DEFAULT };
	cr_assert_eq(fx_apply(&fx, &c), STATUS_OK);
}

Test(catalog, a_show_without_a_hold_lifetime_follows_the_default_and_puts_stay_idempotent)
{
	configure_hold_ttl(5000);
	struct command put = fx_show_command(21);
	put.show_put.hold_ttl_ms = 0;
	cr_assert_eq(fx_apply(&fx, &put), STATUS_OK);
	struct engine_show show;
	cr_assert(engine_show_get(fx.engine, 21, &show));
	cr_assert_eq(show.hold_ttl_ms, 5000);
	/* As after a restart with another --hold-ttl-ms: the same put is still the same. */
	configure_hold_ttl(6000);
	cr_assert_eq(fx_apply(&fx, &put), STATUS_OK);
	cr_assert_not(fx.result.changed);
	cr_assert(engine_show_get(fx.engine, 21, &show));
	cr_assert_eq(show.hold_ttl_ms, 6000);
	struct command hold = { .type = COMMAND_HOLD };
	hold.hold = (struct command_hold){ .show_id = 21, .user_id = 1, .seats_count = 1,
					   .seats = { 0 } };
	cr_assert_eq(fx_apply(&fx, &hold), STATUS_OK);
	cr_assert_eq(fx.result.deadline_ms, fx.now_ms + 6000);
	/* Lifetimes compare as they are now: the default's value is the same, another not. */
	put.show_put.hold_ttl_ms = 6000;
	cr_assert_eq(fx_apply(&fx, &put), STATUS_OK);
	put.show_put.hold_ttl_ms = 7000;
	cr_assert_eq(fx_apply(&fx, &put), STATUS_ALREADY_EXISTS);
}

Test(catalog, a_show_put_logged_under_version_1_rules_took_the_default_of_its_time)
{
	configure_hold_ttl(5000);
	struct command put = fx_show_command(22);
	put.show_put.hold_ttl_ms = 0;
	put.version = 1;
	cr_assert_eq(fx_apply(&fx, &put), STATUS_OK);
	configure_hold_ttl(6000);
	struct engine_show show;
	cr_assert(engine_show_get(fx.engine, 22, &show));
	cr_assert_eq(show.hold_ttl_ms, 5000, "replayed as it was applied: the default then");
}
