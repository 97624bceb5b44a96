/*
 * test_demo.c — the demo catalog: deterministic, complete, and accepted whole by the
 * engine.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "demo.h"
#include "engine.h"

struct collected {
	XXH3_state_t *hash;
	uint32_t counts[COMMAND_TYPE_MAX + 1];
	struct engine *engine; /* applies each command when set */
	uint32_t refused;
};

static void collect(void *context, const struct command *command)
{
	struct collected *c = context;
	static uint8_t buffer[COMMAND_SIZE_MAX];
	size_t size = command_encode(command, buffer, sizeof(buffer));
	cr_assert_gt(size, 0);
	XXH3_64bits_update(c->hash, buffer, size);
	c->counts[command->type]++;
	if (c->engine) {
		struct engine_result result;
		engine_apply(c->engine, command, 1000, &result);
		if (result.status != STATUS_OK)
			c->refused++;
	}
}

static uint64_t generate(uint64_t seed, int64_t start_ms, struct collected *c)
{
	c->hash = XXH3_createState();
	XXH3_64bits_reset(c->hash);
	demo_catalog_generate(seed, start_ms, collect, c);
	uint64_t digest = XXH3_64bits_digest(c->hash);
	XXH3_freeState(c->hash);
	return digest;
}

Test(demo, same_seed_gives_the_same_catalog_byte_for_byte)
{
	struct collected a = { 0 }, b = { 0 }, other = { 0 };
	int64_t start = 1800000000000LL;
	cr_assert_eq(generate(7, start, &a), generate(7, start, &b));
	cr_assert_neq(generate(8, start, &other), generate(7, start, &a));
}

Test(demo, catalog_has_the_promised_size)
{
	struct collected c = { 0 };
	generate(1, 1800000000000LL, &c);
	cr_assert_eq(c.counts[COMMAND_LOCATION_PUT], 20);
	cr_assert_eq(c.counts[COMMAND_VENUE_PUT], 40);
	cr_assert_eq(c.counts[COMMAND_EVENT_PUT], 200);
	cr_assert_eq(c.counts[COMMAND_SHOW_PUT], 1000);
}

Test(demo, engine_accepts_every_command_and_venues_span_theatre_to_stadium)
{
	struct engine_config config;
	engine_config_default(&config);
	struct collected c = { .engine = engine_create(&config) };
	int64_t start = 1800000000000LL;
	generate(3, start, &c);
	cr_assert_eq(c.refused, 0);
	engine_check(c.engine);
	uint32_t smallest = UINT32_MAX, largest = 0;
	for (uint32_t id = 101; id <= 140; id++) {
		struct engine_venue venue;
		cr_assert(engine_venue_get(c.engine, id, &venue));
		for (int t = 0; t < TIER_COUNT; t++)
			cr_assert_gt(venue.layout.tier_seats_count[t], 0, "venue %u tier %d", id, t);
		if (venue.layout.seats_count < smallest)
			smallest = venue.layout.seats_count;
		if (venue.layout.seats_count > largest)
			largest = venue.layout.seats_count;
		struct engine_location location;
		cr_assert(engine_location_get(c.engine, venue.location_id, &location));
		cr_assert_lt(abs(venue.lat_e6 - location.lat_e6), 50000);
	}
	cr_assert_eq(smallest, 496);
	cr_assert_eq(largest, 60000);
	for (uint32_t id = DEMO_SHOW_ID_FIRST; id < DEMO_SHOW_ID_FIRST + 1000; id++) {
		struct engine_show show;
		cr_assert(engine_show_get(c.engine, id, &show));
		cr_assert_gt(show.start_ms, start);
		cr_assert_lt(show.start_ms, start + 122LL * 24 * 3600 * 1000);
		cr_assert_eq(show.sale_opens_ms, start);
	}
	engine_destroy(c.engine);
}
