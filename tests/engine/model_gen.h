/*
 * model_gen.h — the model test's random world: a seeded generator, a small random
 * catalog, and random commands and times from a handful of users that make
 * contention, limits, expiry and the waiting list happen all the time
 * (model_test.c drives the engine and the model with them).
 */
#ifndef BOXOFFICE_TESTS_MODEL_GEN_H
#define BOXOFFICE_TESTS_MODEL_GEN_H

#include "engine.h"
#include "model.h"

#define VENUES_COUNT_MAX 3u
#define SHOWS_COUNT_MAX 3u
#define CATALOG_COUNT_MAX 16u
#define KNOWN_HOLDS_COUNT 64u
#define HISTORY_COUNT 24u
#define TIME_START_MS ((int64_t)1700000000000)
#define FAR_FUTURE_MS ((int64_t)4000000000000)

/* splitmix64: tiny, and every seed gives an independent stream. */
struct rng {
	uint64_t state;
};

uint32_t rng_range(struct rng *rng, uint32_t low, uint32_t high);
/* A duration in [low, high] (roughly) that is a multiple of grain_ms, at least one grain. */
uint32_t rng_duration(struct rng *rng, uint32_t low, uint32_t high, uint32_t grain_ms);
bool rng_chance(struct rng *rng, uint32_t percent);

struct step {
	struct command command;
	int64_t now_ms;
};

struct known_hold {
	uint64_t hold_id;
	uint64_t user_id;
};

struct stats {
	uint64_t steps;
	uint64_t statuses[COMMAND_TYPE_MAX + 1][STATUS_COUNT];
	uint64_t events[ENGINE_EVENT_LAPSED + 1];
	uint64_t round_trips;
	uint64_t digests;
	uint64_t snapshots;
};

/* Everything one seed owns. Commands borrow texts and layouts from here or literals. */
struct world {
	uint64_t seed;
	uint64_t step_index;
	bool verbose;
	uint64_t check_every; /* 0: the default schedule (model_test.c) */
	struct rng rng;
	struct engine_config config;
	struct engine_config configured; /* as set by the last CONFIGURE that succeeded */
	struct engine *engine;
	struct model *model;
	int64_t now_ms; /* the largest time sent so far */
	uint32_t users_count;
	/* Lifetimes and pauses longer than a turn of the engine's timer wheel (65 s). */
	bool slow;
	/* Every lifetime and time step is a multiple of this, so that timers of holds and
	 * of waiting-list entries often fall due at the same millisecond. */
	uint32_t grain_ms;
	uint32_t venues_count;
	uint32_t shows_count;
	struct layout_builder builders[VENUES_COUNT_MAX + 1];
	struct command catalog[CATALOG_COUNT_MAX]; /* valid puts, in creation order */
	uint32_t catalog_count;
	uint32_t catalog_initial; /* puts applied by the first steps, in order */
	uint32_t catalog_applied; /* the rest (late shows) wait for a catalog step */
	uint32_t foreign_venue_id; /* at another location, or 0 */
	/* Bit u of waiting[show] is set while user u may have a waiting-list entry. */
	uint16_t waiting[SHOWS_COUNT_MAX + 1];
	struct known_hold holds[KNOWN_HOLDS_COUNT];
	uint32_t holds_count; /* ever recorded; the ring keeps the last ones */
	struct known_hold bookings[KNOWN_HOLDS_COUNT];
	uint32_t bookings_count;
	struct command_seats_block blocks[SHOWS_COUNT_MAX + 1]; /* the last block per show */
	struct step history[HISTORY_COUNT];
	struct step *prefix;
	uint32_t prefix_count;
	uint8_t *buffers[2];
	struct stats *stats;
};

/* Builds the seed's catalog: w->catalog, of which the first steps apply
 * w->catalog_initial puts. */
void catalog_build(struct world *w);
/* Fills c with the next random command. */
void random_command(struct world *w, struct command *c);
/* The time of the next step: mostly a small step forward, sometimes back. */
int64_t random_now(struct world *w);
/* Records a hold (or booking) in a ring of the last KNOWN_HOLDS_COUNT. */
void known_hold_add(struct known_hold *ring, uint32_t *count, uint64_t hold_id,
		    uint64_t user_id);

#endif
