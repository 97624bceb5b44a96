/*
 * model_internal.h — the reference model's state and the helpers its two files
 * share: model.c (state, lookups, seat selection, holds and lines, timers, the
 * public functions) and model_commands.c (each command's rules, as RULES.md gives
 * them). model.c says how the model is written.
 */
#ifndef BOXOFFICE_TESTS_MODEL_INTERNAL_H
#define BOXOFFICE_TESTS_MODEL_INTERNAL_H

#include <string.h>

#include "model.h"

enum model_seat_state {
	MODEL_SEAT_FREE = 0,
	MODEL_SEAT_HELD = 1,
	MODEL_SEAT_BOOKED = 2,
	MODEL_SEAT_BLOCKED = 3,
	MODEL_SEAT_POOLED = 4,
};

enum model_hold_state {
	MODEL_HOLD_ACTIVE = 0,
	MODEL_HOLD_EXPIRED = 1,
	MODEL_HOLD_RELEASED = 2,
	MODEL_HOLD_CONFIRMED = 3, /* it is now the booking with the same id */
};

struct model_hold {
	uint64_t hold_id;
	uint64_t user_id;
	int64_t deadline_ms;
	uint8_t state;	     /* enum model_hold_state */
	uint8_t seats_count; /* 1..HOLD_SEATS_COUNT_MAX */
	uint32_t seats[HOLD_SEATS_COUNT_MAX];
	uint8_t payment_ref_size; /* set when confirmed */
	char payment_ref[PAYMENT_REF_SIZE_MAX];
	bool booking_cancelled;
};

struct model_show {
	struct command_show_put put; /* defaults applied */
	uint32_t seats_count;
	uint32_t tier_seats_count[TIER_COUNT];
	uint8_t *seat_states; /* enum model_seat_state, per seat id */
	uint8_t *seat_tiers;
	uint32_t *seat_rows;   /* row index within the venue */
	uint32_t *seat_owners; /* hold n of the hold or booking, 0 for none */
	struct model_hold *holds; /* holds[n - 1]; the next n is holds_count + 1 */
	uint32_t holds_count;
	uint32_t holds_capacity;
};

/* A waiting-list entry: waiting, or terminal (offered, sold out, lapsed) until removed. */
struct model_entry {
	uint32_t show_id;
	uint64_t user_id;
	uint64_t sequence; /* join sequence number, engine-wide, from 1 */
	uint8_t tier;
	uint8_t seats_count;
	bool together;
	uint8_t state; /* enum waiter_state, never WAITER_NONE */
	int64_t timer_due_ms;
	uint64_t offer_hold_id;
	int64_t offer_deadline_ms;
	uint8_t offer_seats_count;
	uint32_t offer_seats[HOLD_SEATS_COUNT_MAX];
};

/* A catalog entity is kept as its put command, decoded from the model's own copy of
 * its encoding (so that its texts and layout are the model's). */
struct model_entity {
	uint8_t *bytes;
	size_t size;
	struct command command; /* borrows from bytes */
};

struct model {
	struct engine_config config;
	int64_t clock_ms;
	uint64_t join_sequence_last;
	bool changed; /* by the command being applied, timers included */
	struct model_entity *entities; /* locations, venues, events and shows, as put */
	uint32_t entities_count, entities_capacity;
	struct model_show *shows;
	uint32_t shows_count, shows_capacity;
	struct model_entry *entries;
	uint32_t entries_count, entries_capacity;
	uint64_t *active_hold_ids; /* holds that still have a timer; unordered */
	uint32_t active_count, active_capacity;
	struct engine_event *events;
	uint32_t events_count, events_capacity;
};

/* Memory: aborts when it runs out. */

void *model_grow(void *items, uint32_t *capacity, size_t item_size, uint32_t needed);

/* Grows the array by one zeroed item and gives a pointer to it. */
#define APPEND(array, count, capacity)                                               \
	((array) = model_grow((array), &(capacity), sizeof(*(array)), (count) + 1), \
	 memset(&(array)[(count)], 0, sizeof(*(array))), &(array)[(count)++])

void *model_alloc_zeroed(size_t count, size_t size);

/* Lookups and scans (model.c). */

uint32_t model_entity_id(const struct command *command);
const struct command *model_entity_find(const struct model *model, enum command_type type,
					uint32_t id);
struct model_show *model_show_find(const struct model *model, uint32_t id);
struct model_hold *model_hold_lookup(const struct model *model, uint64_t hold_id);
uint32_t model_held_count(const struct model_show *show, uint8_t tier);
uint32_t model_free_count(const struct model_show *show, uint8_t tier);
uint32_t model_show_hold_ttl_ms(const struct model *model, const struct model_show *show);
struct model_entry *model_entry_find(const struct model *model, uint32_t show_id,
				     uint64_t user_id);
void model_entry_remove(struct model *model, struct model_entry *entry);
uint32_t model_line_length(const struct model *model, uint32_t show_id, uint8_t tier);
uint32_t model_user_total(const struct model *model, const struct model_show *show,
			  uint64_t user_id);

/* Seat selection, holds and lines (model.c). */

bool model_seats_select(const struct model_show *show, uint8_t tier, uint8_t state, uint32_t k,
			bool together, uint32_t *seats);
struct model_hold *model_hold_make(struct model *model, struct model_show *show,
				   uint64_t user_id, const uint32_t *seats,
				   uint32_t seats_count, int64_t deadline_ms);
void model_hold_end(struct model *model, struct model_hold *hold, uint8_t state);
void model_tier_serve(struct model *model, struct model_show *show, uint8_t tier);
void model_tiers_serve(struct model *model, struct model_show *show,
		       const bool received[TIER_COUNT]);
void model_seat_return(const struct model *model, struct model_show *show, uint32_t seat,
		       bool received[TIER_COUNT]);
void model_hold_seats_return(struct model *model, struct model_show *show,
			     const struct model_hold *hold);

/* Runs a valid command (model_commands.c); returns its status. */
enum status model_command_run(struct model *model, const struct command *command,
			      struct engine_result *result);

#endif
