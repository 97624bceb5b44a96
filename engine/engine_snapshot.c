/*
 * engine_snapshot.c — the engine's state as one image, and back.
 *
 * Image layout, little-endian, version ENGINE_IMAGE_VERSION:
 *   magic "BOXIMAGE", u32 version
 *   u32 shard_index, u32 shard_count, u32 hold_ttl_ms_default, u32 waitlist_idle_ms
 *   i64 clock_ms, u64 waiter_seq_next
 *   u32 n, then n catalog commands (u32 size + command encoding): locations, venues,
 *       events, shows, each kind in id order, so they apply in that order
 *   u32 n, then per owned show in id order: u32 show_id, u32 hold_next,
 *       u32 seats_count, the free, pooled, booked and blocked bitmaps (u64 words),
 *       the expired bitmap up to hold_next (u64 words)
 *   u32 n, then holds (array order): u32 show_id, u32 n, u64 user, i64 deadline,
 *       u8 seats_count, u32 seats
 *   u32 n, then bookings (creation order): u32 show_id, u32 n, u64 user,
 *       u8 seats_count, u32 seats, u8 payment_ref size, its bytes, u8 cancelled
 *   u32 n, then waiting-list entries in join order: u64 seq, u32 show_id, u64 user,
 *       u8 tier, u8 seats_count, u8 together, u8 state, i64 timer due; an offered
 *       entry adds u64 hold_id, i64 deadline and its u32 seats
 *   u64 xxh3-64 of every byte before it
 * Counters, indexes, user totals and the timing wheel are derived, not stored.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "bitmap.h"
#include "bytes.h"
#include "engine_internal.h"
#include "memory.h"

#define ENGINE_IMAGE_VERSION 1u
static const char image_magic[8] = { 'B', 'O', 'X', 'I', 'M', 'A', 'G', 'E' };

/* Growable output. */

static uint8_t *image_reserve(struct engine_image *image, size_t size)
{
	if (image->capacity - image->size < size) {
		size_t capacity = image->capacity ? image->capacity : 4096;
		while (capacity - image->size < size)
			capacity *= 2;
		image->bytes = memory_resize(image->bytes, capacity);
		image->capacity = capacity;
	}
	uint8_t *p = image->bytes + image->size;
	image->size += size;
	return p;
}

static void put_u8(struct engine_image *image, uint8_t v)
{
	*image_reserve(image, 1) = v;
}

static void put_u32(struct engine_image *image, uint32_t v)
{
	bytes_store_u32(image_reserve(image, 4), v);
}

static void put_u64(struct engine_image *image, uint64_t v)
{
	bytes_store_u64(image_reserve(image, 8), v);
}

static void put_words(struct engine_image *image, const uint64_t *words, uint32_t count)
{
	uint8_t *p = image_reserve(image, (size_t)count * 8);
	if (BYTES_NATIVE_LE) {
		memcpy(p, words, (size_t)count * 8); /* already the encoding */
		return;
	}
	for (uint32_t i = 0; i < count; i++)
		bytes_store_u64(p + (size_t)i * 8, words[i]);
}

static void put_command(struct engine_image *image, const struct command *command)
{
	size_t size = command_encoded_size(command);
	put_u32(image, (uint32_t)size);
	size_t written = command_encode(command, image_reserve(image, size), size);
	ASSERT(written == size);
}

void engine_image_finish(struct engine_image *image)
{
	if (image == NULL)
		return;
	memory_free(image->bytes);
	*image = (struct engine_image){ 0 };
}

/* The catalog as the commands that rebuild it. */

struct by_id {
	uint32_t id;
	uint32_t index;
};

static int by_id_compare(const void *a, const void *b)
{
	const struct by_id *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

_Static_assert(offsetof(struct venue, id) == 0, "sorted_ids reads the id first");
_Static_assert(offsetof(struct event_record, id) == 0, "sorted_ids reads the id first");

/* Indices of `count` entities sorted by id, the first u32 of each `stride`-byte item. */
static struct by_id *sorted_ids(const void *items, size_t stride, uint32_t count)
{
	struct by_id *order = memory_alloc(sizeof(*order) * (count + 1));
	for (uint32_t i = 0; i < count; i++)
		order[i] = (struct by_id){ *(const uint32_t *)((const uint8_t *)items + stride * i),
					   i };
	if (count > 1)
		qsort(order, count, sizeof(*order), by_id_compare);
	return order;
}

void engine_catalog_export(const struct engine *engine, engine_command_fn *emit, void *context)
{
	const struct catalog *c = &engine->catalog;
	struct command command;
	for (uint32_t i = 0; i < c->locations_count; i++) {
		const struct location *l = &c->locations[c->location_order[i]];
		command = (struct command){ .type = COMMAND_LOCATION_PUT };
		command.location_put = (struct command_location_put){
			.location_id = l->id, .name = catalog_text(c, l->name),
			.lat_e6 = l->lat_e6, .lon_e6 = l->lon_e6 };
		memcpy(command.location_put.country, l->country, COUNTRY_SIZE);
		emit(context, &command);
	}
	struct by_id *order = sorted_ids(c->venues, sizeof(struct venue), c->venues_count);
	for (uint32_t i = 0; i < c->venues_count; i++) {
		const struct venue *v = &c->venues[order[i].index];
		command = (struct command){ .type = COMMAND_VENUE_PUT };
		command.venue_put = (struct command_venue_put){
			.venue_id = v->id, .location_id = c->locations[v->location_index].id,
			.name = catalog_text(c, v->name), .address = catalog_text(c, v->address),
			.lat_e6 = v->lat_e6, .lon_e6 = v->lon_e6, .layout = v->layout };
		emit(context, &command);
	}
	memory_free(order);
	order = sorted_ids(c->events, sizeof(struct event_record), c->events_count);
	for (uint32_t i = 0; i < c->events_count; i++) {
		const struct event_record *e = &c->events[order[i].index];
		command = (struct command){ .type = COMMAND_EVENT_PUT };
		struct command_event_put *put = &command.event_put;
		*put = (struct command_event_put){
			.event_id = e->id, .location_id = c->locations[e->location_index].id,
			.title = catalog_text(c, e->title),
			.description = catalog_text(c, e->description), .type = e->type,
			.language = catalog_text(c, e->language), .duration_min = e->duration_min,
			.tags_count = e->tags_count };
		for (uint8_t k = 0; k < e->tags_count; k++)
			put->tags[k] = catalog_text(c, e->tags[k]);
		emit(context, &command);
	}
	memory_free(order);
	for (uint32_t i = 0; i < c->shows_count; i++) {
		const struct show *s = &c->shows[c->show_order[i]];
		command = (struct command){ .type = COMMAND_SHOW_PUT };
		command.show_put = (struct command_show_put){
			.show_id = s->id, .event_id = c->events[s->event_index].id,
			.venue_id = c->venues[s->venue_index].id, .start_ms = s->start_ms,
			.end_ms = s->end_ms, .user_seats_max = s->user_seats_max,
			.sale_opens_ms = s->sale_opens_ms, .sale_closes_ms = s->sale_closes_ms,
			.hold_ttl_ms = s->hold_ttl_ms };
		memcpy(command.show_put.prices_minor, s->prices_minor, sizeof(s->prices_minor));
		memcpy(command.show_put.currency, s->currency, CURRENCY_SIZE);
		emit(context, &command);
	}
}

static void image_command(void *context, const struct command *command)
{
	put_command(context, command);
}

static void put_catalog(struct engine_image *image, const struct engine *engine)
{
	const struct catalog *c = &engine->catalog;
	put_u32(image, c->locations_count + c->venues_count + c->events_count + c->shows_count);
	engine_catalog_export(engine, image_command, image);
}

static void put_shows(struct engine_image *image, const struct catalog *c)
{
	uint32_t owned = 0;
	for (uint32_t i = 0; i < c->shows_count; i++)
		owned += c->shows[i].state != NULL;
	put_u32(image, owned);
	for (uint32_t i = 0; i < c->shows_count; i++) {
		const struct show *show = &c->shows[c->show_order[i]];
		const struct show_state *state = show->state;
		if (state == NULL)
			continue;
		put_u32(image, show->id);
		put_u32(image, state->hold_next);
		put_u32(image, state->seats_count);
		put_words(image, state->free, state->words_count);
		put_words(image, state->pooled, state->words_count);
		put_words(image, state->booked, state->words_count);
		put_words(image, state->blocked, state->words_count);
		uint32_t expired_words = bitmap_words(state->hold_next);
		for (uint32_t w = 0; w < expired_words; w++)
			put_u64(image, w < state->expired_capacity ? state->expired[w] : 0);
	}
}

struct id_order {
	uint64_t id;
	uint32_t index;
};

static int id_order_compare(const void *a, const void *b)
{
	const struct id_order *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * Holds go in the order of the hold array and bookings in the order they were
 * made: restore rebuilds both arrays in that order, so an image re-encodes to the
 * same bytes, and no sort lengthens the pause. Each record is written through one
 * reservation of its largest size.
 */
#define HOLD_RECORD_SIZE_MAX (4 + 4 + 8 + 8 + 1 + 4 * HOLD_SEATS_COUNT_MAX)
#define BOOKING_RECORD_SIZE_MAX (HOLD_RECORD_SIZE_MAX + 1 + PAYMENT_REF_SIZE_MAX + 1)

static uint8_t *put_seats_at(uint8_t *p, const uint32_t *seats, uint8_t count)
{
	*p++ = count;
	for (uint8_t k = 0; k < count; k++, p += 4)
		bytes_store_u32(p, seats[k]);
	return p;
}

static void put_holds(struct engine_image *image, const struct engine *engine)
{
	put_u32(image, (uint32_t)engine->holds_active);
	uint8_t *start = image_reserve(image, (size_t)engine->holds_active * HOLD_RECORD_SIZE_MAX);
	uint8_t *p = start;
	for (uint32_t i = 0; i < engine->holds_count; i++) {
		const struct hold *h = &engine->holds[i];
		if (!h->active)
			continue;
		bytes_store_u32(p, engine->catalog.shows[h->show_index].id);
		bytes_store_u32(p + 4, h->n);
		bytes_store_u64(p + 8, h->user_id);
		bytes_store_u64(p + 16, (uint64_t)h->timer.due_ms);
		p = put_seats_at(p + 24, seat_pool_items_const(engine, h->seats_count, h->seats_ref),
				 h->seats_count);
	}
	image->size -= (size_t)engine->holds_active * HOLD_RECORD_SIZE_MAX - (size_t)(p - start);
}

static void put_bookings(struct engine_image *image, const struct engine *engine)
{
	put_u32(image, engine->bookings_count);
	uint8_t *start = image_reserve(image,
				       (size_t)engine->bookings_count * BOOKING_RECORD_SIZE_MAX);
	uint8_t *p = start;
	for (uint32_t i = 0; i < engine->bookings_count; i++) {
		const struct booking *b = &engine->bookings[i];
		bytes_store_u32(p, engine->catalog.shows[b->show_index].id);
		bytes_store_u32(p + 4, b->n);
		bytes_store_u64(p + 8, b->user_id);
		p = put_seats_at(p + 16, seat_pool_items_const(engine, b->seats_count, b->seats_ref),
				 b->seats_count);
		*p++ = b->payment_ref_size;
		memcpy(p, engine->payment_refs + b->payment_ref_offset, b->payment_ref_size);
		p += b->payment_ref_size;
		*p++ = b->cancelled;
	}
	image->size -= (size_t)engine->bookings_count * BOOKING_RECORD_SIZE_MAX - (size_t)(p - start);
}

static void put_waiters(struct engine_image *image, const struct engine *engine)
{
	struct id_order *order = memory_alloc(sizeof(*order) * (engine->waiters_live + 1));
	uint32_t count = 0;
	for (uint32_t i = 0; i < engine->waiters_count; i++) {
		if (engine->waiters[i].seq != 0)
			order[count++] = (struct id_order){ engine->waiters[i].seq, i };
	}
	if (count > 1)
		qsort(order, count, sizeof(*order), id_order_compare);
	put_u32(image, count);
	for (uint32_t i = 0; i < count; i++) {
		const struct waiter *w = &engine->waiters[order[i].index];
		put_u64(image, w->seq);
		put_u32(image, engine->catalog.shows[w->show_index].id);
		put_u64(image, w->user_id);
		put_u8(image, w->tier);
		put_u8(image, w->seats_count);
		put_u8(image, w->together);
		put_u8(image, w->state);
		put_u64(image, (uint64_t)w->timer.due_ms);
		if (w->state != WAITER_OFFERED)
			continue;
		put_u64(image, w->offer_hold_id);
		put_u64(image, (uint64_t)w->offer_deadline_ms);
		for (uint8_t k = 0; k < w->seats_count; k++)
			put_u32(image, w->offer_seats[k]);
	}
	memory_free(order);
}

void engine_snapshot_encode(const struct engine *engine, struct engine_image *image)
{
	image->size = 0;
	memcpy(image_reserve(image, sizeof(image_magic)), image_magic, sizeof(image_magic));
	put_u32(image, ENGINE_IMAGE_VERSION);
	put_u32(image, engine->config.shard_index);
	put_u32(image, engine->config.shard_count);
	put_u32(image, engine->config.hold_ttl_ms_default);
	put_u32(image, engine->config.waitlist_idle_ms);
	put_u64(image, (uint64_t)engine->clock_ms);
	put_u64(image, engine->waiter_seq_next);
	put_catalog(image, engine);
	put_shows(image, &engine->catalog);
	put_holds(image, engine);
	put_bookings(image, engine);
	put_waiters(image, engine);
	put_u64(image, XXH3_64bits(image->bytes, image->size));
}
