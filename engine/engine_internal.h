/*
 * engine_internal.h — the engine's state, shared by its source files only.
 *
 * Layout of the state, all in flat arrays indexed by u32 so that a snapshot is a
 * handful of copies and nothing points into anything else:
 *   catalog       locations, venues, events, shows (catalog.h)
 *   show_state    per owned show: seat bitmaps, per-segment free counts, per-tier
 *                 counters and waiting lines, per-user totals
 *   holds         active holds, each with an intrusive timer node; ended holds are
 *                 freed (an expired one leaves a bit in its show's `expired` bitmap)
 *   bookings      every booking ever made (a cancelled one stays, marked)
 *   waiters       waiting-list entries, waiting or terminal, with timer nodes
 *   hold_ids      finds active holds by id (small and hot: only what is held now)
 *   booking_ids   finds bookings by id (large: every booking ever made)
 *   seat arrays   the seat ids of holds and bookings, in pools by seat count
 *
 * Seat states of an owned show: every slot is in exactly one of free, held,
 * booked, blocked, pooled. Four bitmaps (free, pooled, booked, blocked) record all
 * but held, which is the slot being in none of them.
 */
#ifndef BOXOFFICE_ENGINE_INTERNAL_H
#define BOXOFFICE_ENGINE_INTERNAL_H

#include "catalog.h"
#include "engine.h"
#include "hashmap.h"
#include "wheel.h"

#define NONE UINT32_MAX
#define WHEEL_SLOTS_COUNT 65536u /* one per millisecond: a turn is about 65 s */
#define WAITER_TIMER_BIT 0x80000000u
#define BOOKING_REFERENCE_BIT 0x80000000u
#define SEGMENT_RUN_CAP 16u

enum seat_internal {
	SEAT_IS_FREE = 0,
	SEAT_IS_HELD = 1,
	SEAT_IS_BOOKED = 2,
	SEAT_IS_BLOCKED = 3,
	SEAT_IS_POOLED = 4,
};

struct tier_state {
	uint32_t free; /* counts of the tier's slots in each state */
	uint32_t held;
	uint32_t booked;
	uint32_t blocked;
	uint32_t pooled;
	uint32_t line_head; /* waiter indices, NONE when the line is empty */
	uint32_t line_tail;
	uint32_t line_count;
};

struct show_state {
	uint32_t seats_count;
	uint32_t words_count; /* per bitmap */
	uint64_t *free;	      /* by slot */
	uint64_t *pooled;
	uint64_t *booked;
	uint64_t *blocked;
	/* Per segment, its longest run of free slots, capped at SEGMENT_RUN_CAP: enough
	 * to tell whether a segment can hold a group of up to HOLD_SEATS_COUNT_MAX + 2. */
	uint8_t *segment_run;
	/* Public states in seat order, two bits each (SEATMAP's form; see inventory.c). */
	uint64_t *public_map;
	struct tier_state tiers[TIER_COUNT];
	uint32_t hold_next;	  /* n of the next hold; ids below it were issued */
	uint64_t *expired;	  /* bit n: hold n expired (rather than was released) */
	uint32_t expired_capacity; /* words */
	struct u64map user_totals; /* user id → seats held + booked + waiting */
	struct u64map waiter_of;   /* user id → waiter index */
};

struct hold {
	uint64_t user_id;
	struct timer_node timer; /* due = the deadline */
	uint32_t show_index;
	uint32_t n;	    /* id = show id << 32 | n; the free-list link when unused */
	uint32_t seats_ref; /* in the seat pool of seats_count */
	uint8_t seats_count;
	bool active;
};

struct booking {
	uint64_t user_id;
	uint32_t show_index;
	uint32_t n;
	uint32_t seats_ref;
	uint32_t payment_ref_offset; /* in engine.payment_refs */
	uint8_t payment_ref_size;
	uint8_t seats_count;
	bool cancelled;
};

struct waiter {
	uint64_t user_id;
	uint64_t seq; /* join order, engine-wide, from 1; 0 marks an unused entry */
	struct timer_node timer;
	uint64_t offer_hold_id;
	int64_t offer_deadline_ms;
	uint32_t offer_seats[HOLD_SEATS_COUNT_MAX];
	uint32_t show_index;
	uint32_t line_next; /* within its line; the free-list link when unused */
	uint32_t line_prev;
	uint8_t tier;
	uint8_t seats_count;
	bool together;
	uint8_t state; /* enum waiter_state */
};

struct seat_pool {
	uint32_t *items;    /* chunks of seats_count u32 */
	uint32_t capacity;  /* u32 items */
	uint32_t chunks;    /* chunks handed out or freed so far */
	uint32_t free_head; /* chunk index, NONE when empty */
};

struct engine {
	struct engine_config config;
	int64_t clock_ms;
	bool changed; /* set by anything that changes state during one apply */
	struct catalog catalog;

	struct hold *holds;
	uint32_t holds_count; /* slots ever used */
	uint32_t holds_capacity;
	uint32_t holds_free; /* free-list head */
	uint64_t holds_active;

	struct booking *bookings;
	uint32_t bookings_count;
	uint32_t bookings_capacity;
	char *payment_refs;
	uint32_t payment_refs_size;
	uint32_t payment_refs_capacity;

	struct idtable hold_ids;
	struct idtable booking_ids;
	struct seat_pool seat_pools[HOLD_SEATS_COUNT_MAX + 1];

	struct waiter *waiters;
	uint32_t waiters_count;
	uint32_t waiters_capacity;
	uint32_t waiters_free;
	uint64_t waiters_live;
	uint64_t waiter_seq_next;

	struct wheel wheel;
	uint32_t *due_ids; /* scratch for timers being fired */
	uint32_t due_count;
	uint32_t due_capacity;

	struct engine_event *events;
	uint32_t events_count;
	uint32_t events_capacity;
};

/* engine.c */
uint64_t engine_hold_id(const struct engine *engine, uint32_t show_index, uint32_t n);
uint32_t *seat_pool_items(struct engine *engine, uint8_t seats_count, uint32_t ref);
const uint32_t *seat_pool_items_const(const struct engine *engine, uint8_t seats_count,
				      uint32_t ref);
struct engine_event *engine_event_push(struct engine *engine, enum engine_event_type type,
				       uint32_t show_index, uint64_t user_id);
/* Makes a hold of seats (seat ids, already taken out of free or pooled). */
uint32_t engine_hold_create(struct engine *engine, uint32_t show_index, uint64_t user_id,
			    const uint32_t *seats, uint8_t seats_count, int64_t deadline_ms);
/* Makes a hold with a given n (restoring a snapshot). */
uint32_t engine_hold_insert(struct engine *engine, uint32_t show_index, uint32_t n,
			    uint64_t user_id, const uint32_t *seats, uint8_t seats_count,
			    int64_t deadline_ms);
/* Adds a booking as it was (restoring a snapshot); indexes it by id. */
uint32_t engine_booking_restore(struct engine *engine, uint32_t show_index, uint32_t n,
				uint64_t user_id, const uint32_t *seats, uint8_t seats_count,
				struct text payment_ref, bool cancelled);
/* A show's hold lifetime now: its own, or the engine's default when it has none. */
static inline uint32_t engine_show_hold_ttl_ms(const struct engine *engine, const struct show *show)
{
	return show->hold_ttl_ms != 0 ? show->hold_ttl_ms : engine->config.hold_ttl_ms_default;
}
void user_total_add(struct show_state *state, uint64_t user_id, int32_t delta);
uint32_t user_total_get(const struct show_state *state, uint64_t user_id);

/* inventory.c */
struct show_state *inventory_create(const struct venue *venue);
void inventory_destroy(struct show_state *state);
enum seat_internal inventory_seat_state(const struct show_state *state, uint32_t slot);
void inventory_seat_move(struct show_state *state, const struct venue *venue, uint32_t slot,
			 enum seat_internal from, enum seat_internal to);
/*
 * RULES.md "Select": picks `count` slots of `tier` from the free (pooled == false)
 * or pooled slots into slots[], in ascending order. Returns false when it cannot.
 */
bool inventory_select(const struct show_state *state, const struct venue *venue, uint8_t tier,
		      bool pooled, uint8_t count, bool together, uint32_t *slots);
/* Every free slot of the tier becomes pooled, or every pooled slot free. */
void inventory_tier_pool(struct show_state *state, const struct venue *venue, uint8_t tier);
void inventory_tier_unpool(struct show_state *state, const struct venue *venue, uint8_t tier);
/* Recomputes the tier counters and segment runs from the bitmaps. */
void inventory_recount(struct show_state *state, const struct venue *venue);
void inventory_expired_mark(struct show_state *state, uint32_t n);
bool inventory_expired_test(const struct show_state *state, uint32_t n);
#define PUBLIC_MAP_WORDS(seats) (((seats) + 31) / 32)
const uint64_t *inventory_public_map(const struct show_state *state);
size_t inventory_memory(const struct show_state *state, const struct venue *venue);
void inventory_check(const struct show_state *state, const struct venue *venue);

/* waitlist.c */
/*
 * Returns one seat (by id) of a show from state `from`: to its tier's pool when the
 * tier's line waits, else free. Returns the tier as a bit (1 << tier) to serve.
 */
uint8_t waitlist_seat_return(struct engine *engine, uint32_t show_index, uint32_t seat,
			     enum seat_internal from);
/* Serves each tier whose bit is set in `tiers`, in tier order. */
void waitlist_serve_tiers(struct engine *engine, uint32_t show_index, uint8_t tiers);
/* Returns several seats, then serves the tiers that received them. */
void waitlist_seats_return(struct engine *engine, uint32_t show_index, const uint32_t *seats,
			   uint32_t seats_count, enum seat_internal from);
void waitlist_serve(struct engine *engine, uint32_t show_index, uint8_t tier);
void waitlist_timer_fire(struct engine *engine, uint32_t waiter_index);
/* rules_1: as logged under version 1 rules (command.h), seats available means together. */
enum status waitlist_join(struct engine *engine, const struct command_waitlist_join *join,
			  bool rules_1,
			  struct engine_result *result);
enum status waitlist_leave(struct engine *engine, const struct command_waitlist_user *leave,
			   struct engine_result *result);
enum status waitlist_poll(struct engine *engine, const struct command_waitlist_user *poll,
			  struct engine_result *result);
struct timer_node *waiter_timer(struct engine *engine, uint32_t waiter_index);
/* Adds a waiting-list entry as it was (restoring a snapshot, in join order). */
void waitlist_restore(struct engine *engine, const struct waiter *saved, int64_t due_ms);

#endif
