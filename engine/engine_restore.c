/*
 * engine_restore.c — engine_snapshot_decode(): rebuilds an engine from an image
 * (the layout is in engine_snapshot.c).
 *
 * Every field is checked before it is used: a malformed or inconsistent image is
 * refused with STATUS_BAD_REQUEST and the half-built engine destroyed. Derived
 * state (tier counters, segment runs, user totals, indexes, the wheel) is rebuilt
 * from what the image stores, and engine_check() runs at the end.
 */
#include <string.h>
#include <xxhash.h>

#include "bitmap.h"
#include "bytes.h"
#include "engine_internal.h"
#include "memory.h"

#define ENGINE_IMAGE_VERSION 1u

struct restore {
	struct engine *engine;
	struct bytes_reader reader;
	/* Per owned show, which held and booked slots something has claimed. */
	uint64_t **claimed;
	bool failed;
	bool foreign; /* a whole image, but another version's or another shard's */
};

/* Marks the restore failed unless `condition` holds; returns the condition. */
static bool expect(struct restore *r, bool condition)
{
	if (!condition)
		r->failed = true;
	return condition && !r->failed && !r->reader.failed;
}

static bool catalog_restore(struct restore *r, int64_t clock_ms)
{
	uint32_t count = bytes_get_u32(&r->reader);
	for (uint32_t i = 0; i < count && !r->reader.failed; i++) {
		uint32_t size = bytes_get_u32(&r->reader);
		const uint8_t *bytes = bytes_take(&r->reader, size);
		struct command command;
		if (!expect(r, bytes != NULL) ||
		    !expect(r, command_decode(bytes, size, &command) == STATUS_OK) ||
		    !expect(r, command.type >= COMMAND_LOCATION_PUT &&
				       command.type <= COMMAND_SHOW_PUT))
			return false;
		struct engine_result result;
		engine_apply(r->engine, &command, clock_ms, &result);
		if (!expect(r, result.status == STATUS_OK && result.changed))
			return false;
	}
	return !r->reader.failed;
}

static bool bits_read(struct restore *r, uint64_t *words, uint32_t count)
{
	for (uint32_t w = 0; w < count; w++)
		words[w] = bytes_get_u64(&r->reader);
	return !r->reader.failed;
}

static bool show_restore(struct restore *r)
{
	struct engine *engine = r->engine;
	uint32_t show_index = catalog_show_find(&engine->catalog, bytes_get_u32(&r->reader));
	if (!expect(r, show_index != CATALOG_NONE))
		return false;
	struct show *show = &engine->catalog.shows[show_index];
	struct show_state *state = show->state;
	const struct venue *venue = &engine->catalog.venues[show->venue_index];
	uint32_t hold_next = bytes_get_u32(&r->reader);
	if (!expect(r, state != NULL && hold_next >= 1) ||
	    !expect(r, bytes_get_u32(&r->reader) == state->seats_count))
		return false;
	uint32_t words = state->words_count;
	if (!bits_read(r, state->free, words) || !bits_read(r, state->pooled, words) ||
	    !bits_read(r, state->booked, words) || !bits_read(r, state->blocked, words))
		return expect(r, false);
	for (uint32_t w = 0; w < words; w++) {
		uint64_t f = state->free[w], p = state->pooled[w];
		uint64_t b = state->booked[w], k = state->blocked[w];
		if (!expect(r, ((f & p) | (f & b) | (f & k) | (p & b) | (p & k) | (b & k)) == 0))
			return false;
	}
	uint32_t tail_end = words * 64;
	if (!expect(r, bitmap_count(state->free, state->seats_count, tail_end) == 0 &&
			       bitmap_count(state->pooled, state->seats_count, tail_end) == 0 &&
			       bitmap_count(state->booked, state->seats_count, tail_end) == 0 &&
			       bitmap_count(state->blocked, state->seats_count, tail_end) == 0))
		return false;
	state->hold_next = hold_next;
	uint32_t expired_words = bitmap_words(hold_next);
	ARRAY_RESERVE(state->expired, state->expired_capacity, expired_words);
	if (!bits_read(r, state->expired, expired_words))
		return expect(r, false);
	inventory_recount(state, venue);
	r->claimed[show_index] = memory_alloc(sizeof(uint64_t) * words);
	return true;
}

/* Reads up to HOLD_SEATS_COUNT_MAX seat ids of a show; false if any is out of range. */
static uint8_t seats_read(struct restore *r, const struct show_state *state, uint32_t *seats)
{
	uint8_t count = bytes_get_u8(&r->reader);
	if (!expect(r, count >= 1 && count <= HOLD_SEATS_COUNT_MAX))
		return 0;
	for (uint8_t k = 0; k < count; k++) {
		seats[k] = bytes_get_u32(&r->reader);
		if (!expect(r, seats[k] < state->seats_count))
			return 0;
	}
	return count;
}

/* Claims each seat for one owner; it must be in state `seat` and not yet claimed. */
static bool seats_claim(struct restore *r, uint32_t show_index, const uint32_t *seats,
			uint8_t count, enum seat_internal seat)
{
	const struct show *show = &r->engine->catalog.shows[show_index];
	const struct venue *venue = &r->engine->catalog.venues[show->venue_index];
	for (uint8_t k = 0; k < count; k++) {
		uint32_t slot = venue->slot_of_seat[seats[k]];
		if (!expect(r, inventory_seat_state(show->state, slot) == seat &&
				       !bitmap_test(r->claimed[show_index], slot)))
			return false;
		bitmap_set(r->claimed[show_index], slot);
	}
	return true;
}

/* The owned show of an id read from the image, or CATALOG_NONE (and failed). */
static uint32_t owned_show_read(struct restore *r)
{
	uint32_t index = catalog_show_find(&r->engine->catalog, bytes_get_u32(&r->reader));
	if (!expect(r, index != CATALOG_NONE && r->engine->catalog.shows[index].state != NULL))
		return CATALOG_NONE;
	return index;
}

/* The id's n is issued and the id is not yet in use. */
static bool hold_id_fresh(struct restore *r, uint32_t show_index, uint32_t n)
{
	const struct show_state *state = r->engine->catalog.shows[show_index].state;
	uint64_t id = engine_hold_id(r->engine, show_index, n);
	return expect(r, n >= 1 && n < state->hold_next) &&
	       expect(r, idtable_get(&r->engine->hold_ids, id) == IDTABLE_EMPTY &&
				 idtable_get(&r->engine->booking_ids, id) == IDTABLE_EMPTY);
}

static bool hold_restore(struct restore *r)
{
	struct engine *engine = r->engine;
	uint32_t show_index = owned_show_read(r);
	if (show_index == CATALOG_NONE)
		return false;
	struct show_state *state = engine->catalog.shows[show_index].state;
	uint32_t n = bytes_get_u32(&r->reader);
	uint64_t user_id = bytes_get_u64(&r->reader);
	int64_t due_ms = (int64_t)bytes_get_u64(&r->reader);
	uint32_t seats[HOLD_SEATS_COUNT_MAX];
	uint8_t count = seats_read(r, state, seats);
	if (count == 0 || !hold_id_fresh(r, show_index, n) ||
	    !expect(r, user_id != 0 && due_ms > engine->clock_ms) ||
	    !seats_claim(r, show_index, seats, count, SEAT_IS_HELD))
		return false;
	engine_hold_insert(engine, show_index, n, user_id, seats, count, due_ms);
	user_total_add(state, user_id, count);
	return true;
}

static bool booking_restore(struct restore *r)
{
	uint32_t show_index = owned_show_read(r);
	if (show_index == CATALOG_NONE)
		return false;
	struct show_state *state = r->engine->catalog.shows[show_index].state;
	uint32_t n = bytes_get_u32(&r->reader);
	uint64_t user_id = bytes_get_u64(&r->reader);
	uint32_t seats[HOLD_SEATS_COUNT_MAX];
	uint8_t count = seats_read(r, state, seats);
	uint8_t ref_size = bytes_get_u8(&r->reader);
	const uint8_t *ref = bytes_take(&r->reader, ref_size);
	uint8_t cancelled = bytes_get_u8(&r->reader);
	if (count == 0 || !hold_id_fresh(r, show_index, n) ||
	    !expect(r, user_id != 0 && ref != NULL && ref_size >= 1 &&
			       ref_size <= PAYMENT_REF_SIZE_MAX && cancelled <= 1))
		return false;
	if (!cancelled && !seats_claim(r, show_index, seats, count, SEAT_IS_BOOKED))
		return false;
	engine_booking_restore(r->engine, show_index, n, user_id, seats, count,
			       text_from((const char *)ref, ref_size), cancelled);
	if (!cancelled)
		user_total_add(state, user_id, count);
	return true;
}

static bool waiter_restore(struct restore *r, uint64_t *seq_last)
{
	struct engine *engine = r->engine;
	struct waiter w = { .seq = bytes_get_u64(&r->reader) };
	w.show_index = owned_show_read(r);
	if (w.show_index == CATALOG_NONE)
		return false;
	const struct show *show = &engine->catalog.shows[w.show_index];
	const struct venue *venue = &engine->catalog.venues[show->venue_index];
	w.user_id = bytes_get_u64(&r->reader);
	w.tier = bytes_get_u8(&r->reader);
	w.seats_count = bytes_get_u8(&r->reader);
	uint8_t together = bytes_get_u8(&r->reader);
	w.together = together == 1;
	w.state = bytes_get_u8(&r->reader);
	int64_t due_ms = (int64_t)bytes_get_u64(&r->reader);
	uint32_t unused;
	if (!expect(r, w.seq > *seq_last && w.seq < engine->waiter_seq_next && w.user_id != 0) ||
	    !expect(r, w.tier < TIER_COUNT && venue->tier_slot_first[w.tier + 1] >
						      venue->tier_slot_first[w.tier]) ||
	    !expect(r, w.seats_count >= 1 && w.seats_count <= HOLD_SEATS_COUNT_MAX &&
			       together <= 1) ||
	    !expect(r, w.state >= WAITER_WAITING && w.state <= WAITER_LAPSED &&
			       due_ms > engine->clock_ms) ||
	    !expect(r, !u64map_get(&show->state->waiter_of, w.user_id, &unused)))
		return false;
	if (w.state == WAITER_OFFERED) {
		w.offer_hold_id = bytes_get_u64(&r->reader);
		w.offer_deadline_ms = (int64_t)bytes_get_u64(&r->reader);
		for (uint8_t k = 0; k < w.seats_count; k++) {
			w.offer_seats[k] = bytes_get_u32(&r->reader);
			if (!expect(r, w.offer_seats[k] < show->state->seats_count))
				return false;
		}
	}
	*seq_last = w.seq;
	waitlist_restore(engine, &w, due_ms);
	return true;
}

/* Every held and booked slot of every owned show was claimed by exactly one owner. */
static bool claims_complete(struct restore *r)
{
	const struct catalog *c = &r->engine->catalog;
	for (uint32_t i = 0; i < c->shows_count; i++) {
		const struct show_state *state = c->shows[i].state;
		if (state == NULL)
			continue;
		for (uint32_t w = 0; w < state->words_count; w++) {
			uint64_t valid = w + 1 < state->words_count || state->seats_count % 64 == 0
						 ? ~UINT64_C(0)
						 : (UINT64_C(1) << (state->seats_count % 64)) - 1;
			uint64_t held = ~(state->free[w] | state->pooled[w] | state->booked[w] |
					  state->blocked[w]) & valid;
			if (!expect(r, (held | state->booked[w]) == r->claimed[i][w]))
				return false;
		}
		for (uint32_t k = 0; k < state->user_totals.capacity; k++) {
			if (state->user_totals.keys[k] != 0 &&
			    !expect(r, state->user_totals.values[k] <= c->shows[i].user_seats_max))
				return false;
		}
	}
	return true;
}

/* Header fields; returns the clock, having created the engine. */
static bool header_restore(struct restore *r, const struct engine_config *config)
{
	static const char magic[8] = { 'B', 'O', 'X', 'I', 'M', 'A', 'G', 'E' };
	const uint8_t *seen = bytes_take(&r->reader, sizeof(magic));
	struct engine_config saved = *config;
	uint32_t version = bytes_get_u32(&r->reader);
	saved.shard_index = bytes_get_u32(&r->reader);
	saved.shard_count = bytes_get_u32(&r->reader);
	saved.hold_ttl_ms_default = bytes_get_u32(&r->reader);
	saved.waitlist_idle_ms = bytes_get_u32(&r->reader);
	int64_t clock_ms = (int64_t)bytes_get_u64(&r->reader);
	uint64_t waiter_seq_next = bytes_get_u64(&r->reader);
	if (!expect(r, seen != NULL && memcmp(seen, magic, sizeof(magic)) == 0))
		return false;
	r->foreign = version != ENGINE_IMAGE_VERSION || saved.shard_index != config->shard_index ||
		     saved.shard_count != config->shard_count;
	if (!expect(r, !r->foreign) ||
	    !expect(r, saved.hold_ttl_ms_default >= 1 &&
			       saved.hold_ttl_ms_default <= HOLD_TTL_MS_MAX &&
			       saved.waitlist_idle_ms >= 1) ||
	    !expect(r, clock_ms >= 0 && waiter_seq_next >= 1))
		return false;
	r->engine = engine_create(&saved);
	r->engine->waiter_seq_next = waiter_seq_next;
	r->engine->clock_ms = clock_ms;
	return catalog_restore(r, clock_ms);
}

static bool body_restore(struct restore *r)
{
	struct engine *engine = r->engine;
	r->claimed = memory_alloc(sizeof(uint64_t *) * (engine->catalog.shows_count + 1));
	uint32_t count = bytes_get_u32(&r->reader);
	for (uint32_t i = 0; i < count; i++) {
		if (!show_restore(r))
			return false;
	}
	count = bytes_get_u32(&r->reader);
	for (uint32_t i = 0; i < count; i++) {
		if (!hold_restore(r))
			return false;
	}
	count = bytes_get_u32(&r->reader);
	for (uint32_t i = 0; i < count; i++) {
		if (!booking_restore(r))
			return false;
	}
	count = bytes_get_u32(&r->reader);
	uint64_t seq_last = 0;
	for (uint32_t i = 0; i < count; i++) {
		if (!waiter_restore(r, &seq_last))
			return false;
	}
	return expect(r, bytes_reader_done(&r->reader)) && claims_complete(r);
}

struct engine *engine_snapshot_decode(const uint8_t *bytes, size_t size,
				      const struct engine_config *config, enum status *status)
{
	*status = STATUS_BAD_REQUEST;
	if (size < 8 || XXH3_64bits(bytes, size - 8) != bytes_load_u64(bytes + size - 8))
		return NULL;
	struct restore r = { 0 };
	bytes_reader_init(&r.reader, bytes, size - 8);
	bool ok = header_restore(&r, config) && body_restore(&r);
	if (r.claimed != NULL) {
		for (uint32_t i = 0; i < r.engine->catalog.shows_count; i++)
			memory_free(r.claimed[i]);
		memory_free(r.claimed);
	}
	if (!ok) {
		*status = r.foreign ? STATUS_NOT_OWNER : STATUS_BAD_REQUEST;
		engine_destroy(r.engine);
		return NULL;
	}
	engine_check(r.engine);
	*status = STATUS_OK;
	return r.engine;
}
