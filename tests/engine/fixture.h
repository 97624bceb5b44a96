/*
 * fixture.h — a small engine with a known catalog, for the unit tests.
 *
 * Venue 1 (location 1), show 10, seat ids in layout order:
 *   Front  A  0-5   vip        B  6-11  vip
 *   Middle C 12-19  regular    D 20-27  regular
 *   Back   E 28-37  economy    F 38-45  economy 38-40, regular 41-42, economy 43-45
 * Show 10 is on sale from time 0 for a year, 10 seats per user, holds live 60 s.
 * Every apply is followed by engine_check().
 */
#ifndef BOXOFFICE_TESTS_FIXTURE_H
#define BOXOFFICE_TESTS_FIXTURE_H

#include "engine.h"

#define FX_SHOW 10u
#define FX_TTL_MS 60000u
#define FX_IDLE_MS 120000u
#define FX_SALE_CLOSES_MS (365LL * 24 * 3600 * 1000)

struct fixture {
	struct engine *engine;
	int64_t now_ms;
	struct engine_result result;
	const struct engine_event *events;
	uint32_t events_count;
	struct layout_builder layout;
};

/* Creates the engine and the catalog above (config NULL: defaults, idle FX_IDLE_MS). */
void fx_init(struct fixture *fx, const struct engine_config *config);
void fx_finish(struct fixture *fx);

/* Applies at fx->now_ms, checks the engine, keeps the result and events. */
enum status fx_apply(struct fixture *fx, const struct command *command);

/* Shorthands; each returns the status and leaves the result in fx->result. */
enum status fx_hold(struct fixture *fx, uint64_t user, uint8_t count, const uint32_t *seats);
enum status fx_hold_best(struct fixture *fx, uint64_t user, uint8_t tier, uint8_t count,
			 bool together);
enum status fx_confirm(struct fixture *fx, uint64_t hold_id, uint64_t user, const char *ref);
enum status fx_release(struct fixture *fx, uint64_t hold_id, uint64_t user);
enum status fx_cancel(struct fixture *fx, uint64_t booking_id);
enum status fx_join(struct fixture *fx, uint64_t user, uint8_t tier, uint8_t count, bool together);
enum status fx_leave(struct fixture *fx, uint64_t user);
enum status fx_poll(struct fixture *fx, uint64_t user);
enum status fx_block(struct fixture *fx, uint32_t first, uint32_t count, bool blocked);
/* Moves the clock on and applies a tick. */
enum status fx_advance(struct fixture *fx, int64_t ms);

/* The public state of one seat of show 10, and one tier's counts. */
uint8_t fx_seat(struct fixture *fx, uint32_t seat);
struct engine_tier_counts fx_tier(struct fixture *fx, uint8_t tier);

/* A show put for show_id at venue 1 with the fixture's defaults, to vary in tests. */
struct command fx_show_command(uint32_t show_id);

#endif
