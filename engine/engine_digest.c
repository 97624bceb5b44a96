/*
 * engine_digest.c — engine_digest(): xxh3-64 over a canonical walk of the state,
 * and engine_stats_get().
 *
 * The walk does not depend on memory layout or on the path that led to the state:
 * catalog entities by id, seat bitmaps by slot, holds and bookings by id, waiting
 * entries by join sequence. Derived data (counters, indexes, user totals, the
 * wheel's links) is left out; engine_check() proves it agrees with what is hashed.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "bitmap.h"
#include "bytes.h"
#include "engine_internal.h"
#include "memory.h"
#include "search.h"

struct digest {
	XXH3_state_t *state;
};

static void digest_bytes(struct digest *d, const void *bytes, size_t size)
{
	XXH3_64bits_update(d->state, bytes, size);
}

static void digest_u64(struct digest *d, uint64_t value)
{
	uint8_t bytes[8];
	bytes_store_u64(bytes, value);
	digest_bytes(d, bytes, sizeof(bytes));
}

static void digest_text(struct digest *d, struct text text)
{
	digest_u64(d, text.size);
	digest_bytes(d, text.bytes, text.size);
}

/* (id, index) pairs sorted by id: the canonical order of an entity kind. */
struct id_index {
	uint64_t id;
	uint32_t index;
};

static int id_index_compare(const void *a, const void *b)
{
	const struct id_index *x = a;
	const struct id_index *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void id_index_sort(struct id_index *items, uint32_t count)
{
	if (count > 1)
		qsort(items, count, sizeof(*items), id_index_compare);
}

static void digest_catalog(struct digest *d, const struct catalog *c)
{
	for (uint32_t i = 0; i < c->locations_count; i++) {
		const struct location *l = &c->locations[c->location_order[i]];
		digest_u64(d, l->id);
		digest_text(d, catalog_text(c, l->name));
		digest_bytes(d, l->country, COUNTRY_SIZE);
		digest_u64(d, (uint64_t)(int64_t)l->lat_e6);
		digest_u64(d, (uint64_t)(int64_t)l->lon_e6);
	}
	struct id_index *order = memory_alloc(sizeof(*order) * (c->venues_count + 1));
	for (uint32_t i = 0; i < c->venues_count; i++)
		order[i] = (struct id_index){ c->venues[i].id, i };
	id_index_sort(order, c->venues_count);
	for (uint32_t i = 0; i < c->venues_count; i++) {
		const struct venue *v = &c->venues[order[i].index];
		digest_u64(d, v->id);
		digest_u64(d, c->locations[v->location_index].id);
		digest_text(d, catalog_text(c, v->name));
		digest_text(d, catalog_text(c, v->address));
		digest_u64(d, (uint64_t)(int64_t)v->lat_e6);
		digest_u64(d, (uint64_t)(int64_t)v->lon_e6);
		digest_text(d, text_from((const char *)v->layout.bytes, v->layout.size));
	}
	memory_free(order);
	order = memory_alloc(sizeof(*order) * (c->events_count + 1));
	for (uint32_t i = 0; i < c->events_count; i++)
		order[i] = (struct id_index){ c->events[i].id, i };
	id_index_sort(order, c->events_count);
	for (uint32_t i = 0; i < c->events_count; i++) {
		const struct event_record *e = &c->events[order[i].index];
		digest_u64(d, e->id);
		digest_u64(d, c->locations[e->location_index].id);
		digest_text(d, catalog_text(c, e->title));
		digest_text(d, catalog_text(c, e->description));
		digest_text(d, catalog_text(c, e->language));
		digest_u64(d, e->type);
		digest_u64(d, e->duration_min);
		digest_u64(d, e->tags_count);
		for (uint8_t k = 0; k < e->tags_count; k++)
			digest_text(d, catalog_text(c, e->tags[k]));
	}
	memory_free(order);
}

static void digest_show(struct digest *d, const struct catalog *c, const struct show *s)
{
	digest_u64(d, s->id);
	digest_u64(d, c->events[s->event_index].id);
	digest_u64(d, c->venues[s->venue_index].id);
	digest_u64(d, (uint64_t)s->start_ms);
	digest_u64(d, (uint64_t)s->end_ms);
	for (int t = 0; t < TIER_COUNT; t++)
		digest_u64(d, (uint64_t)s->prices_minor[t]);
	digest_bytes(d, s->currency, CURRENCY_SIZE);
	digest_u64(d, s->user_seats_max);
	digest_u64(d, (uint64_t)s->sale_opens_ms);
	digest_u64(d, (uint64_t)s->sale_closes_ms);
	digest_u64(d, s->hold_ttl_ms);
	const struct show_state *state = s->state;
	digest_u64(d, state != NULL);
	if (state == NULL)
		return;
	for (uint32_t w = 0; w < state->words_count; w++) {
		digest_u64(d, state->free[w]);
		digest_u64(d, state->pooled[w]);
		digest_u64(d, state->booked[w]);
		digest_u64(d, state->blocked[w]);
	}
	digest_u64(d, state->hold_next);
	/* Expired bits of issued ids only: capacity beyond them is not state. */
	for (uint32_t w = 0; w < bitmap_words(state->hold_next); w++)
		digest_u64(d, w < state->expired_capacity ? state->expired[w] : 0);
}

static void digest_seats(struct digest *d, const struct engine *engine, uint8_t count,
			 uint32_t ref)
{
	const uint32_t *seats = seat_pool_items_const(engine, count, ref);
	digest_u64(d, count);
	for (uint8_t k = 0; k < count; k++)
		digest_u64(d, seats[k]);
}

static void digest_holds(struct digest *d, const struct engine *engine)
{
	uint32_t count = 0;
	struct id_index *order = memory_alloc(sizeof(*order) * (engine->holds_active + 1));
	for (uint32_t i = 0; i < engine->holds_count; i++) {
		const struct hold *h = &engine->holds[i];
		if (h->active)
			order[count++] = (struct id_index){ engine_hold_id(engine, h->show_index, h->n), i };
	}
	id_index_sort(order, count);
	for (uint32_t i = 0; i < count; i++) {
		const struct hold *h = &engine->holds[order[i].index];
		digest_u64(d, order[i].id);
		digest_u64(d, h->user_id);
		digest_u64(d, (uint64_t)h->timer.due_ms);
		digest_seats(d, engine, h->seats_count, h->seats_ref);
	}
	memory_free(order);
	order = memory_alloc(sizeof(*order) * (engine->bookings_count + 1));
	for (uint32_t i = 0; i < engine->bookings_count; i++) {
		const struct booking *b = &engine->bookings[i];
		order[i] = (struct id_index){ engine_hold_id(engine, b->show_index, b->n), i };
	}
	id_index_sort(order, engine->bookings_count);
	for (uint32_t i = 0; i < engine->bookings_count; i++) {
		const struct booking *b = &engine->bookings[order[i].index];
		digest_u64(d, order[i].id);
		digest_u64(d, b->user_id);
		digest_seats(d, engine, b->seats_count, b->seats_ref);
		digest_text(d, text_from(engine->payment_refs + b->payment_ref_offset,
					 b->payment_ref_size));
		digest_u64(d, b->cancelled);
	}
	memory_free(order);
}

static void digest_waiters(struct digest *d, const struct engine *engine)
{
	uint32_t count = 0;
	struct id_index *order = memory_alloc(sizeof(*order) * (engine->waiters_live + 1));
	for (uint32_t i = 0; i < engine->waiters_count; i++) {
		if (engine->waiters[i].seq != 0)
			order[count++] = (struct id_index){ engine->waiters[i].seq, i };
	}
	id_index_sort(order, count);
	for (uint32_t i = 0; i < count; i++) {
		const struct waiter *w = &engine->waiters[order[i].index];
		digest_u64(d, w->seq);
		digest_u64(d, engine->catalog.shows[w->show_index].id);
		digest_u64(d, w->user_id);
		digest_u64(d, w->tier);
		digest_u64(d, w->seats_count);
		digest_u64(d, w->together);
		digest_u64(d, w->state);
		digest_u64(d, (uint64_t)w->timer.due_ms);
		if (w->state != WAITER_OFFERED)
			continue;
		digest_u64(d, w->offer_hold_id);
		digest_u64(d, (uint64_t)w->offer_deadline_ms);
		for (uint8_t k = 0; k < w->seats_count; k++)
			digest_u64(d, w->offer_seats[k]);
	}
	memory_free(order);
	digest_u64(d, engine->waiter_seq_next);
	/* The settings shows and entries take when they are used are state too. */
	digest_u64(d, engine->config.hold_ttl_ms_default);
	digest_u64(d, engine->config.waitlist_idle_ms);
}

uint64_t engine_digest(const struct engine *engine)
{
	struct digest d = { .state = XXH3_createState() };
	ASSERT(d.state != NULL);
	XXH3_64bits_reset(d.state);
	static const char magic[] = "boxoffice engine digest v1";
	digest_bytes(&d, magic, sizeof(magic) - 1);
	const struct catalog *c = &engine->catalog;
	digest_catalog(&d, c);
	for (uint32_t i = 0; i < c->shows_count; i++)
		digest_show(&d, c, &c->shows[c->show_order[i]]);
	digest_holds(&d, engine);
	digest_waiters(&d, engine);
	uint64_t digest = XXH3_64bits_digest(d.state);
	XXH3_freeState(d.state);
	return digest;
}

void engine_stats_get(const struct engine *engine, struct engine_stats *stats)
{
	const struct catalog *c = &engine->catalog;
	*stats = (struct engine_stats){
		.locations = c->locations_count, .venues = c->venues_count,
		.events = c->events_count, .shows = c->shows_count,
		.holds_active = engine->holds_active, .bookings = engine->bookings_count };
	for (uint32_t i = 0; i < c->shows_count; i++) {
		const struct show *show = &c->shows[i];
		if (show->state == NULL)
			continue;
		stats->shows_owned++;
		for (uint8_t t = 0; t < TIER_COUNT; t++)
			stats->waiters += show->state->tiers[t].line_count;
		stats->seats_owned += show->state->seats_count;
		stats->seat_state_bytes += inventory_memory(show->state, &c->venues[show->venue_index]);
		stats->total_bytes += u64map_memory(&show->state->user_totals) +
				      u64map_memory(&show->state->waiter_of) +
				      sizeof(uint64_t) * show->state->expired_capacity;
	}
	stats->hold_bytes = sizeof(struct hold) * engine->holds_capacity +
			    idtable_memory(&engine->hold_ids);
	stats->total_bytes += idtable_memory(&engine->booking_ids);
	for (uint32_t k = 1; k <= HOLD_SEATS_COUNT_MAX; k++)
		stats->hold_bytes += sizeof(uint32_t) * engine->seat_pools[k].capacity;
	stats->total_bytes += stats->seat_state_bytes + stats->hold_bytes + catalog_memory(c) +
			      sizeof(struct booking) * engine->bookings_capacity +
			      engine->payment_refs_capacity +
			      sizeof(struct waiter) * engine->waiters_capacity +
			      wheel_memory(&engine->wheel) +
			      sizeof(struct engine_event) * engine->events_capacity +
			      sizeof(uint32_t) * engine->due_capacity + sizeof(*engine);
}
