/*
 * engine_query.c — the read-only queries of engine.h: catalog lists and details,
 * show counts, seat maps and search. None of them changes state.
 */
#include <string.h>

#include "bitmap.h"
#include "engine_internal.h"
#include "search.h"

static void location_fill(const struct catalog *catalog, uint32_t index,
			  struct engine_location *out)
{
	const struct location *l = &catalog->locations[index];
	*out = (struct engine_location){ .location_id = l->id, .lat_e6 = l->lat_e6,
					 .lon_e6 = l->lon_e6, .events_count = l->events_count };
	out->name = catalog_text(catalog, l->name);
	memcpy(out->country, l->country, COUNTRY_SIZE);
}

bool engine_location_get(const struct engine *engine, uint32_t location_id,
			 struct engine_location *location)
{
	uint32_t index = catalog_location_find(&engine->catalog, location_id);
	if (index == CATALOG_NONE)
		return false;
	location_fill(&engine->catalog, index, location);
	return true;
}

/* The first position in a list sorted by id whose id is above after_id. */
typedef uint32_t id_at_fn(const struct catalog *catalog, uint32_t index);

static uint32_t first_after(const struct catalog *catalog, const uint32_t *sorted,
			    uint32_t count, uint32_t after_id, id_at_fn *id_at)
{
	uint32_t low = 0;
	uint32_t high = count;
	while (low < high) {
		uint32_t middle = low + (high - low) / 2;
		if (id_at(catalog, sorted[middle]) <= after_id)
			low = middle + 1;
		else
			high = middle;
	}
	return low;
}

static uint32_t location_id_at(const struct catalog *catalog, uint32_t index)
{
	return catalog->locations[index].id;
}

static uint32_t event_id_at(const struct catalog *catalog, uint32_t index)
{
	return catalog->events[index].id;
}

uint32_t engine_locations_list(const struct engine *engine, uint32_t after_id,
			       struct engine_location *locations, uint32_t capacity)
{
	const struct catalog *catalog = &engine->catalog;
	uint32_t i = first_after(catalog, catalog->location_order, catalog->locations_count,
				 after_id, location_id_at);
	uint32_t written = 0;
	for (; i < catalog->locations_count && written < capacity; i++)
		location_fill(catalog, catalog->location_order[i], &locations[written++]);
	return written;
}

bool engine_venue_get(const struct engine *engine, uint32_t venue_id, struct engine_venue *venue)
{
	const struct catalog *catalog = &engine->catalog;
	uint32_t index = catalog_venue_find(catalog, venue_id);
	if (index == CATALOG_NONE)
		return false;
	const struct venue *v = &catalog->venues[index];
	*venue = (struct engine_venue){
		.venue_id = v->id, .location_id = catalog->locations[v->location_index].id,
		.lat_e6 = v->lat_e6, .lon_e6 = v->lon_e6, .layout = v->layout };
	venue->name = catalog_text(catalog, v->name);
	venue->address = catalog_text(catalog, v->address);
	return true;
}

static void event_fill(const struct catalog *catalog, uint32_t index,
		       struct engine_event_info *out)
{
	const struct event_record *e = &catalog->events[index];
	*out = (struct engine_event_info){
		.event_id = e->id, .location_id = catalog->locations[e->location_index].id,
		.type = e->type, .duration_min = e->duration_min, .tags_count = e->tags_count,
		.shows_count = e->shows_count };
	out->title = catalog_text(catalog, e->title);
	out->description = catalog_text(catalog, e->description);
	out->language = catalog_text(catalog, e->language);
	for (uint8_t i = 0; i < e->tags_count; i++)
		out->tags[i] = catalog_text(catalog, e->tags[i]);
}

bool engine_event_get(const struct engine *engine, uint32_t event_id,
		      struct engine_event_info *event)
{
	uint32_t index = catalog_event_find(&engine->catalog, event_id);
	if (index == CATALOG_NONE)
		return false;
	event_fill(&engine->catalog, index, event);
	return true;
}

uint32_t engine_events_list(const struct engine *engine, uint32_t location_id, uint32_t after_id,
			    struct engine_event_info *events, uint32_t capacity)
{
	const struct catalog *catalog = &engine->catalog;
	uint32_t location_index = catalog_location_find(catalog, location_id);
	if (location_index == CATALOG_NONE)
		return 0;
	const struct location *l = &catalog->locations[location_index];
	uint32_t i = first_after(catalog, l->event_indices, l->events_count, after_id, event_id_at);
	uint32_t written = 0;
	for (; i < l->events_count && written < capacity; i++)
		event_fill(catalog, l->event_indices[i], &events[written++]);
	return written;
}

uint32_t engine_event_shows(const struct engine *engine, uint32_t event_id, uint32_t first,
			    uint32_t *show_ids, uint32_t capacity)
{
	const struct catalog *catalog = &engine->catalog;
	uint32_t index = catalog_event_find(catalog, event_id);
	if (index == CATALOG_NONE)
		return 0;
	const struct event_record *e = &catalog->events[index];
	uint32_t written = 0;
	for (uint32_t i = first; i < e->shows_count && written < capacity; i++)
		show_ids[written++] = catalog->shows[e->show_indices[i]].id;
	return written;
}

uint32_t engine_line_length(const struct engine *engine, uint32_t show_id, uint8_t tier)
{
	ASSERT(tier < TIER_COUNT);
	uint32_t index = catalog_show_find(&engine->catalog, show_id);
	if (index == CATALOG_NONE || engine->catalog.shows[index].state == NULL)
		return 0;
	return engine->catalog.shows[index].state->tiers[tier].line_count;
}

bool engine_show_get(const struct engine *engine, uint32_t show_id, struct engine_show *out)
{
	const struct catalog *catalog = &engine->catalog;
	uint32_t index = catalog_show_find(catalog, show_id);
	if (index == CATALOG_NONE)
		return false;
	const struct show *s = &catalog->shows[index];
	const struct venue *venue = &catalog->venues[s->venue_index];
	*out = (struct engine_show){
		.show_id = s->id, .event_id = catalog->events[s->event_index].id,
		.venue_id = venue->id, .start_ms = s->start_ms, .end_ms = s->end_ms,
		.user_seats_max = s->user_seats_max, .sale_opens_ms = s->sale_opens_ms,
		.sale_closes_ms = s->sale_closes_ms, .hold_ttl_ms = engine_show_hold_ttl_ms(engine, s),
		.owned = s->state != NULL };
	memcpy(out->prices_minor, s->prices_minor, sizeof(out->prices_minor));
	memcpy(out->currency, s->currency, CURRENCY_SIZE);
	for (uint8_t t = 0; t < TIER_COUNT; t++) {
		struct engine_tier_counts *c = &out->tiers[t];
		c->seats = venue->layout.tier_seats_count[t];
		if (s->state == NULL)
			continue;
		const struct tier_state *tier = &s->state->tiers[t];
		c->available = tier->free;
		c->held = tier->held + tier->pooled;
		c->pooled = tier->pooled;
		c->booked = tier->booked;
		c->blocked = tier->blocked;
		c->waiters = tier->line_count;
	}
	return true;
}

/* Public states come from the show's public map (kept by inventory.c). */
static const struct show_state *owned_state(const struct engine *engine, uint32_t show_id)
{
	uint32_t index = catalog_show_find(&engine->catalog, show_id);
	return index == CATALOG_NONE ? NULL : engine->catalog.shows[index].state;
}

uint32_t engine_show_seat_states(const struct engine *engine, uint32_t show_id,
				 uint8_t *states, uint32_t capacity)
{
	const struct show_state *state = owned_state(engine, show_id);
	if (state == NULL || capacity < state->seats_count)
		return 0;
	const uint64_t *map = inventory_public_map(state);
	for (uint32_t seat = 0; seat < state->seats_count; seat++)
		states[seat] = (uint8_t)(map[seat / 32] >> (2 * (seat % 32))) & 3;
	return state->seats_count;
}

uint32_t engine_show_seat_states_packed(const struct engine *engine, uint32_t show_id,
					uint8_t *packed, uint32_t capacity)
{
	/* The map's u64 words hold seat 32w + i in bits 2i, 2i + 1: in memory on a
	 * little-endian host, byte b holds seats 4b .. 4b + 3 as the wire wants. */
	_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian hosts only");
	const struct show_state *state = owned_state(engine, show_id);
	if (state == NULL || capacity < (state->seats_count + 3) / 4)
		return 0;
	memcpy(packed, inventory_public_map(state), (state->seats_count + 3) / 4);
	return state->seats_count;
}

void search_query_init(struct search_query *query)
{
	*query = (struct search_query){ .from_ms = 0, .to_ms = INT64_MAX, .type = -1,
					.limit = 20 };
}

enum status engine_search(struct engine *engine, const struct search_query *query,
			  struct search_hit *hits, uint32_t *hits_count, bool *more)
{
	struct search_index_hit found[SEARCH_RESULTS_COUNT_MAX];
	*hits_count = 0;
	*more = false;
	if (query->limit == 0 || query->limit > SEARCH_RESULTS_COUNT_MAX)
		return STATUS_BAD_REQUEST;
	uint32_t count = 0;
	enum status status = search_index_query(engine->catalog.search, query, found, &count, more);
	if (status != STATUS_OK)
		return status;
	const struct catalog *catalog = &engine->catalog;
	for (uint32_t i = 0; i < count; i++) {
		const struct show *show = &catalog->shows[found[i].show_index];
		const struct venue *venue = &catalog->venues[show->venue_index];
		hits[i] = (struct search_hit){
			.show_id = show->id, .event_id = catalog->events[show->event_index].id,
			.venue_id = venue->id,
			.location_id = catalog->locations[venue->location_index].id,
			.start_ms = show->start_ms, .distance_m = found[i].distance_m };
	}
	*hits_count = count;
	return STATUS_OK;
}

const char *engine_event_type_name(enum engine_event_type type)
{
	switch (type) {
	case ENGINE_EVENT_HOLD_EXPIRED:
		return "hold expired";
	case ENGINE_EVENT_OFFERED:
		return "offered";
	case ENGINE_EVENT_SOLD_OUT:
		return "sold out";
	case ENGINE_EVENT_LAPSED:
		return "lapsed";
	}
	return "unknown event";
}

const char *waiter_state_name(enum waiter_state state)
{
	switch (state) {
	case WAITER_NONE:
		return "none";
	case WAITER_WAITING:
		return "waiting";
	case WAITER_OFFERED:
		return "offered";
	case WAITER_SOLD_OUT:
		return "sold out";
	case WAITER_LAPSED:
		return "lapsed";
	}
	return "unknown waiter state";
}
