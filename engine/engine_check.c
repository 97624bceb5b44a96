/*
 * engine_check.c — engine_check() (every invariant, asserted), engine_digest() (a
 * canonical hash of the state) and engine_stats_get().
 *
 * The digest walks the state in an order that does not depend on memory layout or
 * on how the state was reached: catalog entities by id, holds and bookings by id,
 * waiting entries by join sequence. Derived data (counters, indexes, user totals,
 * the wheel) is left out; engine_check() proves it agrees with what is hashed.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "bitmap.h"
#include "bytes.h"
#include "engine_internal.h"
#include "memory.h"

/* Per-show scratch for the check: who owns each slot. */
struct owners {
	uint8_t *held;	 /* holds covering each slot: must be exactly 1 when held */
	uint8_t *booked; /* active bookings covering each slot */
};

static void holds_check(const struct engine *engine, struct owners *owners)
{
	uint64_t active = 0;
	for (uint32_t i = 0; i < engine->holds_count; i++) {
		const struct hold *hold = &engine->holds[i];
		if (!hold->active)
			continue;
		active++;
		const struct show *show = &engine->catalog.shows[hold->show_index];
		const struct venue *venue = &engine->catalog.venues[show->venue_index];
		ASSERT(show->state != NULL);
		ASSERT(hold->n >= 1 && hold->n < show->state->hold_next);
		ASSERT(timer_node_scheduled(&hold->timer));
		ASSERT(hold->timer.due_ms > engine->clock_ms);
		ASSERT(idtable_get(&engine->hold_ids,
				   engine_hold_id(engine, hold->show_index, hold->n)) == i);
		const uint32_t *seats = seat_pool_items_const(engine, hold->seats_count,
							      hold->seats_ref);
		for (uint8_t k = 0; k < hold->seats_count; k++) {
			uint32_t slot = venue->slot_of_seat[seats[k]];
			ASSERT(inventory_seat_state(show->state, slot) == SEAT_IS_HELD);
			owners[hold->show_index].held[slot]++;
		}
	}
	ASSERT(active == engine->holds_active);
}

static void bookings_check(const struct engine *engine, struct owners *owners)
{
	for (uint32_t i = 0; i < engine->bookings_count; i++) {
		const struct booking *booking = &engine->bookings[i];
		const struct show *show = &engine->catalog.shows[booking->show_index];
		const struct venue *venue = &engine->catalog.venues[show->venue_index];
		ASSERT(show->state != NULL && booking->payment_ref_size > 0);
		ASSERT(idtable_get(&engine->booking_ids,
				   engine_hold_id(engine, booking->show_index, booking->n)) == i);
		if (booking->cancelled)
			continue;
		const uint32_t *seats = seat_pool_items_const(engine, booking->seats_count,
							      booking->seats_ref);
		for (uint8_t k = 0; k < booking->seats_count; k++) {
			uint32_t slot = venue->slot_of_seat[seats[k]];
			ASSERT(inventory_seat_state(show->state, slot) == SEAT_IS_BOOKED);
			owners[booking->show_index].booked[slot]++;
		}
	}
	ASSERT(engine->hold_ids.count == engine->holds_active);
	ASSERT(engine->booking_ids.count == engine->bookings_count);
}

static void owners_check(const struct engine *engine, const struct owners *owners)
{
	for (uint32_t s = 0; s < engine->catalog.shows_count; s++) {
		const struct show_state *state = engine->catalog.shows[s].state;
		if (state == NULL)
			continue;
		for (uint32_t slot = 0; slot < state->seats_count; slot++) {
			enum seat_internal seat = inventory_seat_state(state, slot);
			ASSERT(owners[s].held[slot] == (seat == SEAT_IS_HELD ? 1 : 0));
			ASSERT(owners[s].booked[slot] == (seat == SEAT_IS_BOOKED ? 1 : 0));
		}
	}
}

/* Recomputes every user total of a show from holds, bookings and waiting entries. */
static void user_totals_check(const struct engine *engine, uint32_t show_index)
{
	const struct show_state *state = engine->catalog.shows[show_index].state;
	const struct show *show = &engine->catalog.shows[show_index];
	struct u64map totals;
	u64map_init(&totals);
	uint32_t total;
#define ADD(user, count)                                                    \
	do {                                                                \
		total = 0;                                                  \
		u64map_get(&totals, (user), &total);                        \
		u64map_put(&totals, (user), total + (count));               \
	} while (0)
	for (uint32_t i = 0; i < engine->holds_count; i++) {
		const struct hold *h = &engine->holds[i];
		if (h->active && h->show_index == show_index)
			ADD(h->user_id, h->seats_count);
	}
	for (uint32_t i = 0; i < engine->bookings_count; i++) {
		const struct booking *b = &engine->bookings[i];
		if (!b->cancelled && b->show_index == show_index)
			ADD(b->user_id, b->seats_count);
	}
	for (uint32_t i = 0; i < engine->waiters_count; i++) {
		const struct waiter *w = &engine->waiters[i];
		if (w->seq != 0 && w->show_index == show_index && w->state == WAITER_WAITING)
			ADD(w->user_id, w->seats_count);
	}
#undef ADD
	ASSERT(totals.count == state->user_totals.count);
	for (uint32_t i = 0; i < totals.capacity; i++) {
		if (totals.keys[i] == 0)
			continue;
		uint32_t kept = 0;
		ASSERT(u64map_get(&state->user_totals, totals.keys[i], &kept));
		ASSERT(kept == totals.values[i]);
		ASSERT(kept <= show->user_seats_max);
	}
	u64map_finish(&totals);
}

static void line_check(const struct engine *engine, uint32_t show_index, uint8_t tier_index)
{
	const struct show *show = &engine->catalog.shows[show_index];
	const struct venue *venue = &engine->catalog.venues[show->venue_index];
	const struct tier_state *tier = &show->state->tiers[tier_index];
	uint32_t count = 0;
	uint32_t prev = NONE;
	uint64_t seq = 0;
	for (uint32_t i = tier->line_head; i != NONE; i = engine->waiters[i].line_next) {
		const struct waiter *w = &engine->waiters[i];
		ASSERT(w->state == WAITER_WAITING && w->show_index == show_index);
		ASSERT(w->tier == tier_index && w->line_prev == prev);
		ASSERT(w->seq > seq);
		ASSERT(count < engine->waiters_count);
		seq = w->seq;
		prev = i;
		count++;
	}
	ASSERT(tier->line_tail == prev && tier->line_count == count);
	if (count == 0) {
		ASSERT(tier->pooled == 0);
		return;
	}
	/* A served line: its head cannot be served now, and seats can still come back. */
	ASSERT(tier->held > 0);
	uint32_t slots[HOLD_SEATS_COUNT_MAX];
	const struct waiter *head = &engine->waiters[tier->line_head];
	ASSERT(!inventory_select(show->state, venue, tier_index, true, head->seats_count,
				 head->together, slots));
	ASSERT(tier->free == 0);
}

static void waiters_check(const struct engine *engine)
{
	uint64_t live = 0;
	for (uint32_t i = 0; i < engine->waiters_count; i++) {
		const struct waiter *w = &engine->waiters[i];
		if (w->seq == 0)
			continue;
		live++;
		const struct show_state *state = engine->catalog.shows[w->show_index].state;
		uint32_t found = NONE;
		ASSERT(state != NULL && w->seq < engine->waiter_seq_next);
		ASSERT(u64map_get(&state->waiter_of, w->user_id, &found) && found == i);
		ASSERT(w->state >= WAITER_WAITING && w->state <= WAITER_LAPSED);
		ASSERT(timer_node_scheduled(&w->timer) && w->timer.due_ms > engine->clock_ms);
	}
	ASSERT(live == engine->waiters_live);
}

void engine_check(const struct engine *engine)
{
	const struct catalog *catalog = &engine->catalog;
	catalog_check(catalog);
	wheel_check(&engine->wheel);
	ASSERT(engine->wheel.count == engine->holds_active + engine->waiters_live);
	struct owners *owners = memory_alloc(sizeof(*owners) * (catalog->shows_count + 1));
	uint64_t waiter_maps = 0;
	for (uint32_t s = 0; s < catalog->shows_count; s++) {
		const struct show *show = &catalog->shows[s];
		bool owned = engine_show_shard(show->id, engine->config.shard_count) ==
			     engine->config.shard_index;
		ASSERT(owned == (show->state != NULL));
		if (show->state == NULL)
			continue;
		inventory_check(show->state, &catalog->venues[show->venue_index]);
		owners[s].held = memory_alloc(show->state->seats_count);
		owners[s].booked = memory_alloc(show->state->seats_count);
		waiter_maps += show->state->waiter_of.count;
	}
	ASSERT(waiter_maps == engine->waiters_live);
	holds_check(engine, owners);
	bookings_check(engine, owners);
	owners_check(engine, owners);
	waiters_check(engine);
	for (uint32_t s = 0; s < catalog->shows_count; s++) {
		if (catalog->shows[s].state == NULL)
			continue;
		user_totals_check(engine, s);
		for (uint8_t t = 0; t < TIER_COUNT; t++)
			line_check(engine, s, t);
		memory_free(owners[s].held);
		memory_free(owners[s].booked);
	}
	memory_free(owners);
}
