/*
 * catalog.c — creating and finding catalog entities (see catalog.h).
 */
#include "catalog.h"

#include <string.h>

#include "memory.h"
#include "search.h"

void catalog_init(struct catalog *catalog)
{
	*catalog = (struct catalog){ 0 };
	u64map_init(&catalog->location_ids);
	u64map_init(&catalog->venue_ids);
	u64map_init(&catalog->event_ids);
	u64map_init(&catalog->show_ids);
	catalog->search = search_index_create();
	if (catalog->search == NULL) {
		/* search_index_create only fails on memory; treat it like memory_alloc. */
		ASSERT(catalog->search != NULL);
	}
}

void catalog_finish(struct catalog *catalog)
{
	if (catalog == NULL)
		return;
	for (uint32_t i = 0; i < catalog->locations_count; i++)
		memory_free(catalog->locations[i].event_indices);
	for (uint32_t i = 0; i < catalog->venues_count; i++) {
		struct venue *venue = &catalog->venues[i];
		memory_free(venue->layout_bytes);
		memory_free(venue->segments);
		memory_free(venue->slot_of_seat);
		memory_free(venue->segment_of_slot);
	}
	for (uint32_t i = 0; i < catalog->events_count; i++)
		memory_free(catalog->events[i].show_indices);
	memory_free(catalog->locations);
	memory_free(catalog->venues);
	memory_free(catalog->events);
	memory_free(catalog->shows);
	memory_free(catalog->location_order);
	memory_free(catalog->show_order);
	memory_free(catalog->strings);
	u64map_finish(&catalog->location_ids);
	u64map_finish(&catalog->venue_ids);
	u64map_finish(&catalog->event_ids);
	u64map_finish(&catalog->show_ids);
	search_index_destroy(catalog->search);
	*catalog = (struct catalog){ 0 };
}

static uint32_t find(const struct u64map *ids, uint32_t id)
{
	uint32_t index;
	if (id == 0 || !u64map_get(ids, id, &index))
		return CATALOG_NONE;
	return index;
}

uint32_t catalog_location_find(const struct catalog *catalog, uint32_t id)
{
	return find(&catalog->location_ids, id);
}

uint32_t catalog_venue_find(const struct catalog *catalog, uint32_t id)
{
	return find(&catalog->venue_ids, id);
}

uint32_t catalog_event_find(const struct catalog *catalog, uint32_t id)
{
	return find(&catalog->event_ids, id);
}

uint32_t catalog_show_find(const struct catalog *catalog, uint32_t id)
{
	return find(&catalog->show_ids, id);
}

static struct str string_add(struct catalog *catalog, struct text text)
{
	ARRAY_RESERVE(catalog->strings, catalog->strings_capacity,
		      (uint64_t)catalog->strings_size + text.size);
	struct str s = { .offset = catalog->strings_size, .size = text.size };
	if (text.size > 0)
		memcpy(catalog->strings + s.offset, text.bytes, text.size);
	catalog->strings_size += text.size;
	return s;
}

static bool str_equal(const struct catalog *catalog, struct str s, struct text text)
{
	return text_equal(catalog_text(catalog, s), text);
}

/*
 * Inserts `value` into the sorted array items[0..*count) at the position that keeps
 * it sorted by `before` (value goes after every item it is not before).
 */
typedef bool order_before_fn(const struct catalog *catalog, uint32_t a, uint32_t b);

static void sorted_insert(const struct catalog *catalog, uint32_t **items, uint32_t *count,
			  uint32_t *capacity, uint32_t value, order_before_fn *before)
{
	ARRAY_RESERVE(*items, *capacity, (uint64_t)*count + 1);
	uint32_t low = 0;
	uint32_t high = *count;
	while (low < high) {
		uint32_t middle = low + (high - low) / 2;
		if (before(catalog, value, (*items)[middle]))
			high = middle;
		else
			low = middle + 1;
	}
	memmove(*items + low + 1, *items + low, sizeof(uint32_t) * (*count - low));
	(*items)[low] = value;
	(*count)++;
}

static bool location_before(const struct catalog *catalog, uint32_t a, uint32_t b)
{
	return catalog->locations[a].id < catalog->locations[b].id;
}

static bool event_before(const struct catalog *catalog, uint32_t a, uint32_t b)
{
	return catalog->events[a].id < catalog->events[b].id;
}

static bool show_id_before(const struct catalog *catalog, uint32_t a, uint32_t b)
{
	return catalog->shows[a].id < catalog->shows[b].id;
}

static bool show_start_before(const struct catalog *catalog, uint32_t a, uint32_t b)
{
	const struct show *x = &catalog->shows[a];
	const struct show *y = &catalog->shows[b];
	return x->start_ms < y->start_ms || (x->start_ms == y->start_ms && x->id < y->id);
}

enum status catalog_location_put(struct catalog *catalog, const struct command_location_put *put,
				 bool *created)
{
	*created = false;
	uint32_t existing = catalog_location_find(catalog, put->location_id);
	if (existing != CATALOG_NONE) {
		const struct location *l = &catalog->locations[existing];
		bool same = str_equal(catalog, l->name, put->name) &&
			    memcmp(l->country, put->country, COUNTRY_SIZE) == 0 &&
			    l->lat_e6 == put->lat_e6 && l->lon_e6 == put->lon_e6;
		return same ? STATUS_OK : STATUS_ALREADY_EXISTS;
	}
	ARRAY_RESERVE(catalog->locations, catalog->locations_capacity,
		      (uint64_t)catalog->locations_count + 1);
	uint32_t index = catalog->locations_count++;
	struct location *l = &catalog->locations[index];
	*l = (struct location){ .id = put->location_id, .lat_e6 = put->lat_e6,
				.lon_e6 = put->lon_e6 };
	l->name = string_add(catalog, put->name);
	memcpy(l->country, put->country, COUNTRY_SIZE);
	u64map_put(&catalog->location_ids, put->location_id, index);
	uint32_t order_count = index;
	sorted_insert(catalog, &catalog->location_order, &order_count,
		      &catalog->location_order_capacity, index, location_before);
	*created = true;
	return STATUS_OK;
}

/* Splits a venue's rows into segments: one per maximal same-tier run of a row. */
static void venue_segments_build(struct venue *venue)
{
	const struct layout *layout = &venue->layout;
	/* A row yields at most one segment per run; count runs for the allocation. */
	uint32_t capacity = 0;
	struct layout_reader reader;
	struct layout_row row;
	layout_reader_init(&reader, layout);
	while (layout_reader_next(&reader, &row))
		capacity += row.runs_count;
	struct segment *by_seat = memory_alloc(sizeof(struct segment) * capacity);
	uint32_t count = 0;
	layout_reader_init(&reader, layout);
	while (layout_reader_next(&reader, &row)) {
		uint32_t seat = row.seat_first;
		for (uint8_t r = 0; r < row.runs_count; r++) {
			struct segment *last = count ? &by_seat[count - 1] : NULL;
			if (r > 0 && last->tier == row.run_tiers[r]) {
				last->seats_count = (uint16_t)(last->seats_count +
							       row.run_seats_counts[r]);
			} else {
				by_seat[count++] = (struct segment){
					.seat_first = seat, .row_index = row.row_index,
					.seats_count = row.run_seats_counts[r],
					.tier = row.run_tiers[r] };
			}
			seat += row.run_seats_counts[r];
		}
	}
	/* Order by tier, keeping layout order inside a tier, and number the slots. */
	venue->segments = memory_alloc(sizeof(struct segment) * (count ? count : 1));
	uint32_t placed = 0;
	uint32_t slot = 0;
	for (uint8_t tier = 0; tier < TIER_COUNT; tier++) {
		venue->tier_slot_first[tier] = slot;
		venue->tier_segment_first[tier] = placed;
		for (uint32_t i = 0; i < count; i++) {
			if (by_seat[i].tier != tier)
				continue;
			struct segment *segment = &venue->segments[placed++];
			*segment = by_seat[i];
			segment->slot_first = slot;
			slot += segment->seats_count;
		}
	}
	venue->tier_slot_first[TIER_COUNT] = slot;
	venue->tier_segment_first[TIER_COUNT] = placed;
	venue->segments_count = placed;
	ASSERT(placed == count && slot == layout->seats_count);
	memory_free(by_seat);
}

static void venue_maps_build(struct venue *venue)
{
	uint32_t seats = venue->layout.seats_count;
	venue->slot_of_seat = memory_alloc(sizeof(uint32_t) * seats);
	venue->segment_of_slot = memory_alloc(sizeof(uint32_t) * seats);
	for (uint32_t s = 0; s < venue->segments_count; s++) {
		const struct segment *segment = &venue->segments[s];
		for (uint32_t i = 0; i < segment->seats_count; i++) {
			venue->slot_of_seat[segment->seat_first + i] = segment->slot_first + i;
			venue->segment_of_slot[segment->slot_first + i] = s;
		}
	}
}

enum status catalog_venue_put(struct catalog *catalog, const struct command_venue_put *put,
			      bool *created)
{
	*created = false;
	uint32_t location_index = catalog_location_find(catalog, put->location_id);
	if (location_index == CATALOG_NONE)
		return STATUS_NOT_FOUND;
	uint32_t existing = catalog_venue_find(catalog, put->venue_id);
	if (existing != CATALOG_NONE) {
		const struct venue *v = &catalog->venues[existing];
		bool same = v->location_index == location_index &&
			    str_equal(catalog, v->name, put->name) &&
			    str_equal(catalog, v->address, put->address) &&
			    v->lat_e6 == put->lat_e6 && v->lon_e6 == put->lon_e6 &&
			    v->layout.size == put->layout.size &&
			    memcmp(v->layout.bytes, put->layout.bytes, put->layout.size) == 0;
		return same ? STATUS_OK : STATUS_ALREADY_EXISTS;
	}
	ARRAY_RESERVE(catalog->venues, catalog->venues_capacity,
		      (uint64_t)catalog->venues_count + 1);
	uint32_t index = catalog->venues_count++;
	struct venue *v = &catalog->venues[index];
	*v = (struct venue){ .id = put->venue_id, .location_index = location_index,
			     .lat_e6 = put->lat_e6, .lon_e6 = put->lon_e6 };
	v->name = string_add(catalog, put->name);
	v->address = string_add(catalog, put->address);
	v->layout_bytes = memory_alloc(put->layout.size);
	memcpy(v->layout_bytes, put->layout.bytes, put->layout.size);
	enum status parsed = layout_parse(v->layout_bytes, put->layout.size, &v->layout);
	ASSERT(parsed == STATUS_OK); /* command_validate parsed it already */
	venue_segments_build(v);
	venue_maps_build(v);
	u64map_put(&catalog->venue_ids, put->venue_id, index);
	*created = true;
	return STATUS_OK;
}

static bool event_same(const struct catalog *catalog, const struct event_record *e,
		       uint32_t location_index, const struct command_event_put *put)
{
	if (e->location_index != location_index || e->type != put->type ||
	    e->duration_min != put->duration_min || e->tags_count != put->tags_count ||
	    !str_equal(catalog, e->title, put->title) ||
	    !str_equal(catalog, e->description, put->description) ||
	    !str_equal(catalog, e->language, put->language))
		return false;
	for (uint8_t i = 0; i < put->tags_count; i++) {
		if (!str_equal(catalog, e->tags[i], put->tags[i]))
			return false;
	}
	return true;
}

enum status catalog_event_put(struct catalog *catalog, const struct command_event_put *put,
			      bool *created)
{
	*created = false;
	uint32_t location_index = catalog_location_find(catalog, put->location_id);
	if (location_index == CATALOG_NONE)
		return STATUS_NOT_FOUND;
	uint32_t existing = catalog_event_find(catalog, put->event_id);
	if (existing != CATALOG_NONE) {
		bool same = event_same(catalog, &catalog->events[existing], location_index, put);
		return same ? STATUS_OK : STATUS_ALREADY_EXISTS;
	}
	ARRAY_RESERVE(catalog->events, catalog->events_capacity,
		      (uint64_t)catalog->events_count + 1);
	uint32_t index = catalog->events_count++;
	struct event_record *e = &catalog->events[index];
	*e = (struct event_record){ .id = put->event_id, .location_index = location_index,
				    .type = put->type, .duration_min = put->duration_min,
				    .tags_count = put->tags_count };
	e->title = string_add(catalog, put->title);
	e->description = string_add(catalog, put->description);
	e->language = string_add(catalog, put->language);
	for (uint8_t i = 0; i < put->tags_count; i++)
		e->tags[i] = string_add(catalog, put->tags[i]);
	u64map_put(&catalog->event_ids, put->event_id, index);
	struct location *l = &catalog->locations[location_index];
	sorted_insert(catalog, &l->event_indices, &l->events_count, &l->events_capacity, index,
		      event_before);
	search_index_event_add(catalog->search, index, put->type, put->title, put->description,
			       put->tags, put->tags_count);
	*created = true;
	return STATUS_OK;
}

static void show_fill(struct show *show, const struct command_show_put *put,
		      uint32_t event_index, uint32_t venue_index)
{
	*show = (struct show){
		.id = put->show_id, .event_index = event_index, .venue_index = venue_index,
		.start_ms = put->start_ms, .end_ms = put->end_ms,
		.user_seats_max = put->user_seats_max ? put->user_seats_max
						      : USER_SEATS_COUNT_MAX_DEFAULT,
		.sale_opens_ms = put->sale_opens_ms, .sale_closes_ms = put->sale_closes_ms,
		.hold_ttl_ms = put->hold_ttl_ms,
	};
	memcpy(show->prices_minor, put->prices_minor, sizeof(show->prices_minor));
	memcpy(show->currency, put->currency, CURRENCY_SIZE);
}

static bool show_same(const struct show *a, const struct show *b, uint32_t hold_ttl_ms_default)
{
	uint32_t a_ttl_ms = a->hold_ttl_ms != 0 ? a->hold_ttl_ms : hold_ttl_ms_default;
	uint32_t b_ttl_ms = b->hold_ttl_ms != 0 ? b->hold_ttl_ms : hold_ttl_ms_default;
	return a->event_index == b->event_index && a->venue_index == b->venue_index &&
	       a->start_ms == b->start_ms && a->end_ms == b->end_ms &&
	       memcmp(a->prices_minor, b->prices_minor, sizeof(a->prices_minor)) == 0 &&
	       memcmp(a->currency, b->currency, CURRENCY_SIZE) == 0 &&
	       a->user_seats_max == b->user_seats_max && a->sale_opens_ms == b->sale_opens_ms &&
	       a->sale_closes_ms == b->sale_closes_ms && a_ttl_ms == b_ttl_ms;
}

enum status catalog_show_put(struct catalog *catalog, const struct command_show_put *put,
			     uint32_t hold_ttl_ms_default, bool *created, uint32_t *index)
{
	*created = false;
	uint32_t event_index = catalog_event_find(catalog, put->event_id);
	uint32_t venue_index = catalog_venue_find(catalog, put->venue_id);
	if (event_index == CATALOG_NONE || venue_index == CATALOG_NONE)
		return STATUS_NOT_FOUND;
	struct venue *venue = &catalog->venues[venue_index];
	struct event_record *event = &catalog->events[event_index];
	if (venue->location_index != event->location_index)
		return STATUS_BAD_REQUEST;
	struct show fresh;
	show_fill(&fresh, put, event_index, venue_index);
	uint32_t existing = catalog_show_find(catalog, put->show_id);
	if (existing != CATALOG_NONE) {
		*index = existing;
		return show_same(&catalog->shows[existing], &fresh, hold_ttl_ms_default) ? STATUS_OK
								    : STATUS_ALREADY_EXISTS;
	}
	ARRAY_RESERVE(catalog->shows, catalog->shows_capacity, (uint64_t)catalog->shows_count + 1);
	*index = catalog->shows_count++;
	catalog->shows[*index] = fresh;
	u64map_put(&catalog->show_ids, put->show_id, *index);
	uint32_t order_count = *index;
	sorted_insert(catalog, &catalog->show_order, &order_count, &catalog->show_order_capacity,
		      *index, show_id_before);
	sorted_insert(catalog, &event->show_indices, &event->shows_count, &event->shows_capacity,
		      *index, show_start_before);
	search_index_show_add(catalog->search, *index, put->show_id, event_index, put->start_ms,
			      venue->lat_e6, venue->lon_e6);
	*created = true;
	return STATUS_OK;
}

size_t catalog_memory(const struct catalog *catalog)
{
	size_t bytes = sizeof(struct location) * catalog->locations_capacity +
		       sizeof(struct venue) * catalog->venues_capacity +
		       sizeof(struct event_record) * catalog->events_capacity +
		       sizeof(struct show) * catalog->shows_capacity +
		       sizeof(uint32_t) * (catalog->location_order_capacity +
					   catalog->show_order_capacity) +
		       catalog->strings_capacity + u64map_memory(&catalog->location_ids) +
		       u64map_memory(&catalog->venue_ids) + u64map_memory(&catalog->event_ids) +
		       u64map_memory(&catalog->show_ids) + search_index_memory(catalog->search);
	for (uint32_t i = 0; i < catalog->locations_count; i++)
		bytes += sizeof(uint32_t) * catalog->locations[i].events_capacity;
	for (uint32_t i = 0; i < catalog->events_count; i++)
		bytes += sizeof(uint32_t) * catalog->events[i].shows_capacity;
	for (uint32_t i = 0; i < catalog->venues_count; i++) {
		const struct venue *v = &catalog->venues[i];
		bytes += v->layout.size + sizeof(struct segment) * v->segments_count +
			 2 * sizeof(uint32_t) * v->layout.seats_count;
	}
	return bytes;
}

static void venue_check(const struct venue *venue)
{
	uint32_t slot = 0;
	for (uint32_t s = 0; s < venue->segments_count; s++) {
		const struct segment *segment = &venue->segments[s];
		ASSERT(segment->slot_first == slot);
		ASSERT(segment->seats_count > 0);
		ASSERT(slot >= venue->tier_slot_first[segment->tier] &&
		       slot < venue->tier_slot_first[segment->tier + 1]);
		for (uint32_t i = 0; i < segment->seats_count; i++) {
			ASSERT(venue->slot_of_seat[segment->seat_first + i] == slot + i);
			ASSERT(venue->segment_of_slot[slot + i] == s);
		}
		slot += segment->seats_count;
	}
	ASSERT(slot == venue->layout.seats_count);
}

void catalog_check(const struct catalog *catalog)
{
	for (uint32_t i = 0; i + 1 < catalog->locations_count; i++)
		ASSERT(location_before(catalog, catalog->location_order[i],
				       catalog->location_order[i + 1]));
	for (uint32_t i = 0; i + 1 < catalog->shows_count; i++)
		ASSERT(show_id_before(catalog, catalog->show_order[i], catalog->show_order[i + 1]));
	for (uint32_t i = 0; i < catalog->venues_count; i++)
		venue_check(&catalog->venues[i]);
	for (uint32_t i = 0; i < catalog->events_count; i++) {
		const struct event_record *e = &catalog->events[i];
		for (uint32_t k = 0; k + 1 < e->shows_count; k++)
			ASSERT(show_start_before(catalog, e->show_indices[k], e->show_indices[k + 1]));
		ASSERT(e->location_index < catalog->locations_count);
	}
	for (uint32_t i = 0; i < catalog->shows_count; i++) {
		const struct show *show = &catalog->shows[i];
		uint32_t found = catalog_show_find(catalog, show->id);
		ASSERT(found == i);
		ASSERT(show->user_seats_max >= 1);
		ASSERT(show->hold_ttl_ms <= HOLD_TTL_MS_MAX);
	}
}
