/*
 * inventory.c — the seats of one owned show: state bitmaps, counters, selection.
 *
 * Invariants (checked by inventory_check):
 *   - every slot is in exactly one state: free, pooled, booked and blocked bits are
 *     disjoint, and a slot with none of them is held;
 *   - each tier's counters equal the population of its slot range in each state;
 *   - segment_run[s] is min(longest run of free slots in segment s, SEGMENT_RUN_CAP);
 *   - public_map holds every seat's public state (enum seat_state) in seat order, two
 *     bits each: SEATMAP copies it rather than recomputing it per read.
 * Memory: six bits per seat, plus one byte per segment (a row's run of one tier,
 * typically 10 to 100 seats).
 *
 * segment_run lets best-available skip, eight segments per word read, every row
 * that cannot hold the group; without it a fragmented, nearly full show makes every
 * search walk every run of every row.
 */
#include <string.h>

#include "bitmap.h"
#include "engine_internal.h"
#include "memory.h"

/* min(longest run of set bits of `bits` in a segment, SEGMENT_RUN_CAP). */
static uint8_t segment_run_measure(const uint64_t *bits, const struct segment *segment)
{
	uint32_t first = segment->slot_first;
	uint32_t end = first + segment->seats_count;
	if (segment->seats_count <= 64) {
		/* Gather the segment into one word; each `x &= x >> 1` shortens every run
		 * by one, so the rounds until x is empty are the longest run. */
		uint32_t shift = first % 64;
		uint64_t x = bits[first / 64] >> shift;
		if (shift != 0 && shift + segment->seats_count > 64)
			x |= bits[first / 64 + 1] << (64 - shift);
		if (segment->seats_count < 64)
			x &= (UINT64_C(1) << segment->seats_count) - 1;
		/* Four folds leave a bit set exactly where a run of 16 starts: the usual
		 * answer in a row that is still mostly free. */
		uint64_t y = x & (x >> 1);
		y &= y >> 2;
		y &= y >> 4;
		y &= y >> 8;
		if (y != 0)
			return SEGMENT_RUN_CAP;
		uint8_t run = 0;
		for (; x != 0 && run < SEGMENT_RUN_CAP; run++)
			x &= x >> 1;
		return run;
	}
	uint32_t longest = 0;
	for (uint32_t pos = first; pos < end && longest < SEGMENT_RUN_CAP;) {
		uint32_t start = bitmap_next_set(bits, pos, end);
		uint32_t stop = bitmap_next_clear(bits, start, end);
		if (stop - start > longest)
			longest = stop - start;
		pos = stop;
	}
	return (uint8_t)(longest < SEGMENT_RUN_CAP ? longest : SEGMENT_RUN_CAP);
}

/* Public state of each internal state: pooled seats look held. */
static const uint8_t public_of[] = {
	[SEAT_IS_FREE] = SEAT_AVAILABLE, [SEAT_IS_HELD] = SEAT_HELD,
	[SEAT_IS_BOOKED] = SEAT_BOOKED, [SEAT_IS_BLOCKED] = SEAT_BLOCKED,
	[SEAT_IS_POOLED] = SEAT_HELD,
};

/* count (at most 64) bits of a bitmap from bit first, in the low bits. */
static uint64_t bits_at(const uint64_t *words, uint32_t first, uint32_t count)
{
	uint32_t w = first / 64, shift = first % 64;
	uint64_t value = words[w] >> shift;
	if (shift != 0 && shift + count > 64)
		value |= words[w + 1] << (64 - shift);
	return count == 64 ? value : value & ((UINT64_C(1) << count) - 1);
}

/* Sets count (at most 64) bits of a bit string from bit position to value's low bits. */
static void bits_assign(uint64_t *words, uint64_t position, uint32_t count, uint64_t value)
{
	uint64_t mask = count == 64 ? ~UINT64_C(0) : (UINT64_C(1) << count) - 1;
	uint64_t w = position / 64;
	uint32_t shift = (uint32_t)(position % 64);
	words[w] = (words[w] & ~(mask << shift)) | (value & mask) << shift;
	if (shift != 0 && shift + count > 64)
		words[w + 1] = (words[w + 1] & ~(mask >> (64 - shift))) |
			       (value & mask) >> (64 - shift);
}

/* Bit i of x moves to bit 2i. */
static uint64_t interleave_zeros(uint32_t x)
{
	uint64_t v = x;
	v = (v | v << 16) & UINT64_C(0x0000ffff0000ffff);
	v = (v | v << 8) & UINT64_C(0x00ff00ff00ff00ff);
	v = (v | v << 4) & UINT64_C(0x0f0f0f0f0f0f0f0f);
	v = (v | v << 2) & UINT64_C(0x3333333333333333);
	v = (v | v << 1) & UINT64_C(0x5555555555555555);
	return v;
}

/*
 * The public states of a segment's seats, written to `map` from the bitmaps 64 slots
 * at a time (a segment's seats are consecutive both as seat ids and as slots): the
 * low bit is "held or blocked" (neither free nor booked, pooled included), the high
 * bit "booked or blocked".
 */
static void public_segment_write(const struct show_state *state, const struct segment *segment,
				 uint64_t *map)
{
	_Static_assert(SEAT_AVAILABLE == 0 && SEAT_HELD == 1 && SEAT_BOOKED == 2 &&
			       SEAT_BLOCKED == 3,
		       "the bit arithmetic relies on these values");
	for (uint32_t done = 0; done < segment->seats_count; done += 64) {
		uint32_t slot = segment->slot_first + done;
		uint32_t n = segment->seats_count - done < 64 ? segment->seats_count - done : 64;
		uint64_t free = bits_at(state->free, slot, n);
		uint64_t booked = bits_at(state->booked, slot, n);
		uint64_t blocked = bits_at(state->blocked, slot, n);
		uint64_t low = ~free & ~booked;
		uint64_t high = booked | blocked;
		uint64_t position = 2 * (uint64_t)(segment->seat_first + done);
		uint32_t first_half = n < 32 ? n : 32;
		bits_assign(map, position, 2 * first_half,
			    interleave_zeros((uint32_t)low) |
				    interleave_zeros((uint32_t)high) << 1);
		if (n > 32)
			bits_assign(map, position + 64, 2 * (n - 32),
				    interleave_zeros((uint32_t)(low >> 32)) |
					    interleave_zeros((uint32_t)(high >> 32)) << 1);
	}
}

static void public_segments_write(struct show_state *state, const struct venue *venue,
				  uint32_t first, uint32_t end)
{
	for (uint32_t s = first; s < end; s++)
		public_segment_write(state, &venue->segments[s], state->public_map);
}

const uint64_t *inventory_public_map(const struct show_state *state)
{
	return state->public_map;
}

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
	state->public_map = memory_alloc(sizeof(uint64_t) * PUBLIC_MAP_WORDS(seats));
	memset(state->public_map, 0, sizeof(uint64_t) * PUBLIC_MAP_WORDS(seats));
	state->segment_run = memory_alloc(venue->segments_count);
	for (uint32_t s = 0; s < venue->segments_count; s++) {
		uint32_t seats_count = venue->segments[s].seats_count;
		state->segment_run[s] = (uint8_t)(seats_count < SEGMENT_RUN_CAP ? seats_count
										 : SEGMENT_RUN_CAP);
	}
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
	memory_free(state->segment_run);
	memory_free(state->public_map);
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
	if (public_of[from] != public_of[to]) {
		const struct segment *segment = &venue->segments[venue->segment_of_slot[slot]];
		uint32_t seat = segment->seat_first + (slot - segment->slot_first);
		bits_assign(state->public_map, 2 * (uint64_t)seat, 2, public_of[to]);
	}
	if (from == SEAT_IS_FREE || to == SEAT_IS_FREE) {
		uint32_t s = venue->segment_of_slot[slot];
		state->segment_run[s] = segment_run_measure(state->free, &venue->segments[s]);
	}
}

/*
 * Walks the runs of free (or pooled) slots of one tier in slot order. Over free
 * slots it skips whole segments whose longest run is below min_run (they cannot
 * hold a run that long), reading segment_run eight bytes at a time.
 */
struct run_iter {
	const struct show_state *state;
	const struct venue *venue;
	const uint64_t *bits;
	bool pooled;
	uint32_t min_run;
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
			  const struct venue *venue, uint8_t tier, bool pooled, uint32_t min_run)
{
	ASSERT(min_run >= 1 && min_run <= SEGMENT_RUN_CAP);
	*it = (struct run_iter){ .state = state, .venue = venue, .pooled = pooled,
				 .bits = pooled ? state->pooled : state->free,
				 .min_run = min_run };
	if (pooled) {
		it->pos = venue->tier_slot_first[tier];
		it->end = venue->tier_slot_first[tier + 1];
	} else {
		it->segment = venue->tier_segment_first[tier];
		it->segment_end = venue->tier_segment_first[tier + 1];
	}
}

/* The first segment in [s, end) whose run is at least min_run (1..127), or end. */
static uint32_t segment_find(const uint8_t *runs, uint32_t s, uint32_t end, uint32_t min_run)
{
	/* Eight at a time: a byte b has b > n exactly when b + (127 - n) sets bit 7,
	 * since every run is below 128. */
	const uint64_t ones = UINT64_C(0x0101010101010101);
	const uint64_t add = ones * (127 - (min_run - 1));
	for (; s + 8 <= end; s += 8) {
		uint64_t x;
		memcpy(&x, runs + s, sizeof(x));
		if (((x + add) | x) & (ones * 0x80))
			break;
	}
	for (; s < end; s++) {
		if (runs[s] >= min_run)
			return s;
	}
	return end;
}

/* Moves a free-slot walk to the next segment worth looking at; false at the end. */
static bool run_iter_segment_next(struct run_iter *it)
{
	uint32_t s = it->started ? it->segment + 1 : it->segment;
	it->started = true;
	s = segment_find(it->state->segment_run, s, it->segment_end, it->min_run);
	if (s == it->segment_end)
		return false;
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
	memset(state->segment_run + first, 0, venue->tier_segment_first[tier + 1] - first);
	public_segments_write(state, venue, first, venue->tier_segment_first[tier + 1]);
}

void inventory_tier_unpool(struct show_state *state, const struct venue *venue, uint8_t tier)
{
	struct tier_state *t = &state->tiers[tier];
	bitmap_transfer_range(state->free, state->pooled, venue->tier_slot_first[tier],
			      venue->tier_slot_first[tier + 1]);
	t->free += t->pooled;
	t->pooled = 0;
	for (uint32_t s = venue->tier_segment_first[tier]; s < venue->tier_segment_first[tier + 1];
	     s++)
		state->segment_run[s] = segment_run_measure(state->free, &venue->segments[s]);
	public_segments_write(state, venue, venue->tier_segment_first[tier],
			      venue->tier_segment_first[tier + 1]);
}

void inventory_recount(struct show_state *state, const struct venue *venue)
{
	for (uint8_t t = 0; t < TIER_COUNT; t++) {
		uint32_t first = venue->tier_slot_first[t];
		uint32_t end = venue->tier_slot_first[t + 1];
		struct tier_state *tier = &state->tiers[t];
		tier->free = bitmap_count(state->free, first, end);
		tier->pooled = bitmap_count(state->pooled, first, end);
		tier->booked = bitmap_count(state->booked, first, end);
		tier->blocked = bitmap_count(state->blocked, first, end);
		tier->held = end - first - tier->free - tier->pooled - tier->booked - tier->blocked;
	}
	for (uint32_t s = 0; s < venue->segments_count; s++)
		state->segment_run[s] = segment_run_measure(state->free, &venue->segments[s]);
	public_segments_write(state, venue, 0, venue->segments_count);
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
	       sizeof(uint64_t) * PUBLIC_MAP_WORDS(state->seats_count) + venue->segments_count;
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
		uint32_t longest = 0;
		uint32_t run = 0;
		for (uint32_t i = 0; i < segment->seats_count; i++) {
			run = bitmap_test(state->free, segment->slot_first + i) ? run + 1 : 0;
			longest = run > longest ? run : longest;
		}
		ASSERT(state->segment_run[s] ==
		       (longest < SEGMENT_RUN_CAP ? longest : SEGMENT_RUN_CAP));
	}
	/* The public map, seat by seat, and nothing past the last seat. */
	for (uint32_t s = 0; s < venue->segments_count; s++) {
		const struct segment *segment = &venue->segments[s];
		for (uint32_t i = 0; i < segment->seats_count; i++) {
			uint64_t seat = segment->seat_first + i;
			uint32_t public = (uint32_t)(state->public_map[seat / 32] >>
						     (2 * (seat % 32))) & 3;
			ASSERT(public ==
			       public_of[inventory_seat_state(state, segment->slot_first + i)]);
		}
	}
	uint32_t last = PUBLIC_MAP_WORDS(state->seats_count) - 1;
	ASSERT(state->seats_count % 32 == 0 ||
	       state->public_map[last] >> (2 * (state->seats_count % 32)) == 0);
}
