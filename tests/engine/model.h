/*
 * model.h — a deliberately naive reference model of the engine, for the model test.
 *
 * The model is a second, independent reading of engine/RULES.md: plain arrays and
 * linear scans, no index, no bitmap, no timer wheel. The model test feeds the same
 * commands with the same timestamps to the engine and to the model and compares
 * every result, every event, the per-tier counts and the seat maps.
 *
 * It models one shard that owns every show (engine_config.shard_count must be 1)
 * and every command of command.h: the catalog puts, SEATS_BLOCK, HOLD, CONFIRM,
 * RELEASE, BOOKING_CANCEL, WAITLIST_JOIN/LEAVE/POLL, TICK and CONFIGURE. It is meant
 * for small venues (hundreds of seats) and runs of tens of thousands of commands.
 */
#ifndef BOXOFFICE_TESTS_MODEL_H
#define BOXOFFICE_TESTS_MODEL_H

#include "engine.h"

struct model;

/* Aborts when memory runs out; the config is copied. */
struct model *model_create(const struct engine_config *config);
void model_destroy(struct model *model); /* accepts NULL */

/* Applies one command at now_ms, like engine_apply(); *result is always filled. */
void model_apply(struct model *model, const struct command *command, int64_t now_ms,
		 struct engine_result *result);

/* The events of the last model_apply(), in the order they happened. */
const struct engine_event *model_events(const struct model *model, uint32_t *count);

/* The model's clock: the largest now_ms applied so far. */
int64_t model_now(const struct model *model);

/* Whether the catalog has the location, venue, event or show (by its put's type). */
bool model_catalog_has(const struct model *model, enum command_type type, uint32_t id);

/* The show's catalog fields and per-tier counts, as engine_show_get() gives them. */
bool model_show_get(const struct model *model, uint32_t show_id, struct engine_show *show);

/* The public seat map, as engine_show_seat_states() gives it. */
uint32_t model_show_seat_states(const struct model *model, uint32_t show_id, uint8_t *states,
				uint32_t capacity);

#endif
