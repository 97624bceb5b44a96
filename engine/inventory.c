/*
 * inventory.c — the seats of one owned show: state bitmaps, counters, selection.
 *
 * Invariants (checked by inventory_check):
 *   - every slot is in exactly one state: free, pooled, booked and blocked bits are
 *     disjoint, and a slot with none of them is held;
 *   - each tier's counters equal the population of its slot range in each state;
 *   - segment_free[s] is the number of free slots of segment s, and bit s of
 *     segments_usable is set exactly when it is above zero.
 * Memory: four bits per seat, plus two bytes and one bit per segment (a row's run of
 * one tier, typically 10 to 40 seats).
 */
#include <string.h>

#include "bitmap.h"
#include "engine_internal.h"
#include "memory.h"

struct show_state *inventory_create(const struct venue *venue)
{
	uint32_t seats = venue->layout.seats_count;
	ASSERT(seats > 0);
	struct show_state *state = memory_alloc(sizeof(*state));
	state->seats_count = seats;
	state->words_count = bitmap_words(seats);
	uint64_t *bits = memory_alloc(sizeof(uint64_t) * 4 * state->words_count);
	state->free = bits;
	state->pooled = bits + state->words_count;
	state->booked = bits + 2 * state->words_count;
	state->blocked = bits + 3 * state->words_count;
	bitmap_set_range(state->free, 0, seats);
	state->segment_free = memory_alloc(sizeof(uint16_t) * venue->segments_count);
	state->segments_usable = memory_alloc(sizeof(uint64_t) *
					      bitmap_words(venue->segments_count));
	for (uint32_t s = 0; s < venue->segments_count; s++)
		state->segment_free[s] = venue->segments[s].seats_count;
	bitmap_set_range(state->segments_usable, 0, venue->segments_count);
	for (uint8_t t = 0; t < TIER_COUNT; t++) {
		state->tiers[t] = (struct tier_state){
			.free = venue->tier_slot_first[t + 1] - venue->tier_slot_first[t],
			.line_head = NONE, .line_tail = NONE };
	}
	state->hold_next = 1;
	u64map_init(&state->user_totals);
	u64map_init(&state->waiter_of);
	return state;
}

void inventory_destroy(struct show_state *state)
{
	if (state == NULL)
		return;
	memory_free(state->free); /* the four bitmaps share one allocation */
	memory_free(state->segment_free);
	memory_free(state->segments_usable);
	memory_free(state->expired);
	u64map_finish(&state->user_totals);
	u64map_finish(&state->waiter_of);
	memory_free(state);
}

enum seat_internal inventory_seat_state(const struct show_state *state, uint32_t slot)
{
	ASSERT(slot < state->seats_count);
	if (bitmap_test(state->free, slot))
		return SEAT_IS_FREE;
	if (bitmap_test(state->pooled, slot))
		return SEAT_IS_POOLED;
	if (bitmap_test(state->booked, slot))
		return SEAT_IS_BOOKED;
	if (bitmap_test(state->blocked, slot))
		return SEAT_IS_BLOCKED;
	return SEAT_IS_HELD;
}

static uint64_t *state_bits(struct show_state *state, enum seat_internal seat)
{
	switch (seat) {
	case SEAT_IS_FREE:
		return state->free;
	case SEAT_IS_POOLED:
		return state->pooled;
	case SEAT_IS_BOOKED:
		return state->booked;
	case SEAT_IS_BLOCKED:
		return state->blocked;
	case SEAT_IS_HELD:
		break;
	}
	return NULL;
}

static uint32_t *tier_counter(struct tier_state *tier, enum seat_internal seat)
{
	switch (seat) {
	case SEAT_IS_FREE:
		return &tier->free;
	case SEAT_IS_POOLED:
		return &tier->pooled;
	case SEAT_IS_BOOKED:
		return &tier->booked;
	case SEAT_IS_BLOCKED:
		return &tier->blocked;
	case SEAT_IS_HELD:
		break;
	}
	return &tier->held;
}

void inventory_seat_move(struct show_state *state, const struct venue *venue, uint32_t slot,
			 enum seat_internal from, enum seat_internal to)
{
	ASSERT(from != to);
	ASSERT(inventory_seat_state(state, slot) == from);
	struct tier_state *tier = &state->tiers[venue_slot_tier(venue, slot)];
	uint64_t *from_bits = state_bits(state, from);
	uint64_t *to_bits = state_bits(state, to);
	if (from_bits)
		bitmap_clear(from_bits, slot);
	if (to_bits)
		bitmap_set(to_bits, slot);
	(*tier_counter(tier, from))--;
	(*tier_counter(tier, to))++;
	if (from == SEAT_IS_FREE || to == SEAT_IS_FREE) {
		uint32_t s = venue->segment_of_slot[slot];
		if (from == SEAT_IS_FREE)
			state->segment_free[s]--;
		else
			state->segment_free[s]++;
		if (state->segment_free[s] == 0)
			bitmap_clear(state->segments_usable, s);
		else
			bitmap_set(state->segments_usable, s);
	}
}

/*
 * Walks the runs of free (or pooled) slots of one tier in slot order. Over free
 * slots it skips whole segments through segments_usable and, when min_free is
 * above one, segments with fewer free slots than that (they cannot hold a run
 * that long).
 */
struct run_iter {
	const struct show_state *state;
	const struct venue *venue;
	const uint64_t *bits;
	bool pooled;
	uint32_t min_free;
	bool started;	      /* free: a segment has been entered */
	uint32_t segment;     /* free: the segment being walked */
	uint32_t segment_end; /* free: end of the tier's segments */
	uint32_t pos;	      /* next slot to look at */
	uint32_t end;	      /* free: end of the current segment; pooled: of the tier */
};

struct run {
	uint32_t first;
	uint32_t length;
};

static void run_iter_init(struct run_iter *it, const struct show_state *state,
			  const struct venue *venue, uint8_t tier, bool pooled, uint32_t min_free)
{
	*it = (struct run_iter){ .state = state, .venue = venue, .pooled = pooled,
				 .bits = pooled ? state->pooled : state->free,
				 .min_free = min_free > 0 ? min_free : 1 };
	if (pooled) {
		it->pos = venue->tier_slot_first[tier];
		it->end = venue->tier_slot_first[tier + 1];
	} else {
		it->segment = venue->tier_segment_first[tier];
		it->segment_end = venue->tier_segment_first[tier + 1];
	}
}

/* Moves a free-slot walk to the next segment worth looking at; false at the end. */
static bool run_iter_segment_next(struct run_iter *it)
{
	uint32_t s = it->started ? it->segment + 1 : it->segment;
	it->started = true;
	for (;;) {
		s = bitmap_next_set(it->state->segments_usable, s, it->segment_end);
		if (s == it->segment_end)
			return false;
		if (it->state->segment_free[s] >= it->min_free)
			break;
		s++;
	}
	const struct segment *segment = &it->venue->segments[s];
	it->segment = s;
	it->pos = segment->slot_first;
	it->end = segment->slot_first + segment->seats_count;
	return true;
}

static bool run_iter_next(struct run_iter *it, struct run *run)
{
	for (;;) {
		if (!it->pooled && it->pos >= it->end && !run_iter_segment_next(it))
			return false;
		uint32_t start = bitmap_next_set(it->bits, it->pos, it->end);
		if (start == it->end) {
			if (it->pooled)
				return false;
			it->pos = it->end;
			continue;
		}
		/* A run never crosses a segment: the next row is not adjacent. */
		const struct segment *segment = &it->venue->segments[it->venue->segment_of_slot[start]];
		uint32_t segment_end = segment->slot_first + segment->seats_count;
		uint32_t stop = bitmap_next_clear(it->bits, start, segment_end);
		it->pos = stop;
		*run = (struct run){ .first = start, .length = stop - start };
		return true;
	}
}

static uint32_t run_take(const struct run *run, uint32_t count, uint32_t *slots, uint32_t taken)
{
	for (uint32_t i = 0; i < count; i++)
		slots[taken + i] = run->first + i;
	return taken + count;
}

/* Steps 3-5 of RULES.md "Select", for seats that need not be together. */
static bool select_scattered(const struct show_state *state, const struct venue *venue,
			     uint8_t tier, bool pooled, uint32_t count, uint32_t *slots)
{
	const struct tier_state *t = &state->tiers[tier];
	if ((pooled ? t->pooled : t->free) < count)
		return false;
	struct run_iter it;
	struct run run;
	uint32_t taken = 0;
	run_iter_init(&it, state, venue, tier, pooled, 1);
	while (taken < count && run_iter_next(&it, &run)) {
		uint32_t take = run.length < count - taken ? run.length : count - taken;
		if (run.length - take == 1)
			continue; /* would strand one seat */
		taken = run_take(&run, take, slots, taken);
	}
	if (taken == count)
		return true;
	taken = 0;
	run_iter_init(&it, state, venue, tier, pooled, 1);
	while (taken < count && run_iter_next(&it, &run)) {
		uint32_t take = run.length < count - taken ? run.length : count - taken;
		taken = run_take(&run, take, slots, taken);
	}
	ASSERT(taken == count);
	return true;
}

bool inventory_select(const struct show_state *state, const struct venue *venue, uint8_t tier,
		      bool pooled, uint8_t count, bool together, uint32_t *slots)
{
	ASSERT(tier < TIER_COUNT);
	ASSERT(count >= 1 && count <= HOLD_SEATS_COUNT_MAX);
	struct run_iter it;
	struct run run;
	struct run fallback = { .first = NONE };
	run_iter_init(&it, state, venue, tier, pooled, count);
	while (run_iter_next(&it, &run)) {
		if (run.length == count || run.length >= (uint32_t)count + 2) {
			run_take(&run, count, slots, 0);
			return true;
		}
		if (fallback.first == NONE && run.length >= count)
			fallback = run;
	}
	if (together) {
		if (fallback.first == NONE)
			return false;
		run_take(&fallback, count, slots, 0);
		return true;
	}
	return select_scattered(state, venue, tier, pooled, count, slots);
}

void inventory_tier_pool(struct show_state *state, const struct venue *venue, uint8_t tier)
{
	struct tier_state *t = &state->tiers[tier];
	bitmap_transfer_range(state->pooled, state->free, venue->tier_slot_first[tier],
			      venue->tier_slot_first[tier + 1]);
	t->pooled += t->free;
	t->free = 0;
	uint32_t first = venue->tier_segment_first[tier];
	uint32_t end = venue->tier_segment_first[tier + 1];
	for (uint32_t s = first; s < end; s++)
		state->segment_free[s] = 0;
	bitmap_clear_range(state->segments_usable, first, end);
}

void inventory_tier_unpool(struct show_state *state, const struct venue *venue, uint8_t tier)
{
	struct tier_state *t = &state->tiers[tier];
	bitmap_transfer_range(state->free, state->pooled, venue->tier_slot_first[tier],
			      venue->tier_slot_first[tier + 1]);
	t->free += t->pooled;
	t->pooled = 0;
	for (uint32_t s = venue->tier_segment_first[tier]; s < venue->tier_segment_first[tier + 1];
	     s++) {
		const struct segment *segment = &venue->segments[s];
		uint32_t count = bitmap_count(state->free, segment->slot_first,
					      segment->slot_first + segment->seats_count);
		state->segment_free[s] = (uint16_t)count;
		if (count > 0)
			bitmap_set(state->segments_usable, s);
		else
			bitmap_clear(state->segments_usable, s);
	}
}

void inventory_expired_mark(struct show_state *state, uint32_t n)
{
	uint32_t words = n / 64 + 1;
	ARRAY_RESERVE(state->expired, state->expired_capacity, words);
	bitmap_set(state->expired, n);
}

bool inventory_expired_test(const struct show_state *state, uint32_t n)
{
	if (n / 64 >= state->expired_capacity)
		return false;
	return bitmap_test(state->expired, n);
}

size_t inventory_memory(const struct show_state *state, const struct venue *venue)
{
	return sizeof(*state) + sizeof(uint64_t) * 4 * state->words_count +
	       sizeof(uint16_t) * venue->segments_count +
	       sizeof(uint64_t) * bitmap_words(venue->segments_count);
}

void inventory_check(const struct show_state *state, const struct venue *venue)
{
	ASSERT(state->seats_count == venue->layout.seats_count);
	for (uint32_t w = 0; w < state->words_count; w++) {
		uint64_t f = state->free[w], p = state->pooled[w];
		uint64_t b = state->booked[w], k = state->blocked[w];
		ASSERT((f & p) == 0 && (f & b) == 0 && (f & k) == 0);
		ASSERT((p & b) == 0 && (p & k) == 0 && (b & k) == 0);
	}
	/* Bits past the last seat stay clear. */
	uint32_t tail = state->words_count * 64;
	ASSERT(bitmap_count(state->free, state->seats_count, tail) == 0);
	for (uint8_t t = 0; t < TIER_COUNT; t++) {
		uint32_t first = venue->tier_slot_first[t];
		uint32_t end = venue->tier_slot_first[t + 1];
		const struct tier_state *tier = &state->tiers[t];
		ASSERT(bitmap_count(state->free, first, end) == tier->free);
		ASSERT(bitmap_count(state->pooled, first, end) == tier->pooled);
		ASSERT(bitmap_count(state->booked, first, end) == tier->booked);
		ASSERT(bitmap_count(state->blocked, first, end) == tier->blocked);
		ASSERT(tier->free + tier->pooled + tier->booked + tier->blocked + tier->held ==
		       end - first);
	}
	for (uint32_t s = 0; s < venue->segments_count; s++) {
		const struct segment *segment = &venue->segments[s];
		uint32_t count = bitmap_count(state->free, segment->slot_first,
					      segment->slot_first + segment->seats_count);
		ASSERT(state->segment_free[s] == count);
		ASSERT(bitmap_test(state->segments_usable, s) == (count > 0));
	}
}
