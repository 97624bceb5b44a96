/*
 * catalog.h — locations, venues, events and shows (SPEC §2), inside the engine.
 *
 * Entities are created once and never changed or removed (a put of the same id with
 * the same content is accepted as a no-op). They live in arrays in creation order,
 * found by id through u64maps, and are listed in id order through sorted index
 * arrays. Texts live in one string arena and are referred to by offset.
 *
 * A venue's layout is turned into segments: a segment is one row's maximal run of
 * seats of one tier. Inventory positions ("slots") order the seats tier by tier
 * (economy, regular, vip), and within a tier in layout order, so that each tier is
 * a contiguous range of slots and each segment a contiguous range inside it.
 * Expected sizes: tens of locations, thousands of venues, up to 10^5 events and a
 * few 10^5 shows.
 */
#ifndef BOXOFFICE_CATALOG_H
#define BOXOFFICE_CATALOG_H

#include "engine.h"
#include "hashmap.h"

#define CATALOG_NONE UINT32_MAX

/* A text in the catalog's string arena. */
struct str {
	uint32_t offset;
	uint32_t size;
};

struct location {
	uint32_t id;
	struct str name;
	char country[COUNTRY_SIZE];
	int32_t lat_e6;
	int32_t lon_e6;
	uint32_t *event_indices; /* sorted by event id */
	uint32_t events_count;
	uint32_t events_capacity;
};

struct segment {
	uint32_t seat_first; /* seat id of its first seat */
	uint32_t slot_first; /* inventory slot of its first seat */
	uint32_t row_index;  /* within the venue */
	uint16_t seats_count;
	uint8_t tier;
};

struct venue {
	uint32_t id;
	uint32_t location_index;
	struct str name;
	struct str address;
	int32_t lat_e6;
	int32_t lon_e6;
	uint8_t *layout_bytes; /* owned copy */
	struct layout layout;
	struct segment *segments; /* in slot order */
	uint32_t segments_count;
	uint32_t tier_slot_first[TIER_COUNT + 1];    /* tier t: slots [first[t], first[t+1]) */
	uint32_t tier_segment_first[TIER_COUNT + 1]; /* likewise for segments */
	uint32_t *slot_of_seat;			     /* seats_count entries */
	uint32_t *segment_of_slot;		     /* seats_count entries */
};

struct event_record {
	uint32_t id;
	uint32_t location_index;
	struct str title;
	struct str description;
	struct str language;
	uint8_t type;
	uint32_t duration_min;
	uint8_t tags_count;
	struct str tags[TAGS_COUNT_MAX];
	uint32_t *show_indices; /* sorted by (start_ms, show id) */
	uint32_t shows_count;
	uint32_t shows_capacity;
};

struct show_state;

struct show {
	uint32_t id;
	uint32_t event_index;
	uint32_t venue_index;
	int64_t start_ms;
	int64_t end_ms;
	int64_t prices_minor[TIER_COUNT];
	char currency[CURRENCY_SIZE];
	uint8_t user_seats_max; /* 1..USER_SEATS_COUNT_MAX_LIMIT, default applied */
	int64_t sale_opens_ms;
	int64_t sale_closes_ms;
	uint32_t hold_ttl_ms;	  /* 0..HOLD_TTL_MS_MAX, 0: the engine's default, when used */
	struct show_state *state; /* seats, holds, lines: NULL unless this shard owns it */
};

struct search_index;

struct catalog {
	struct location *locations;
	uint32_t locations_count;
	uint32_t locations_capacity;
	struct venue *venues;
	uint32_t venues_count;
	uint32_t venues_capacity;
	struct event_record *events;
	uint32_t events_count;
	uint32_t events_capacity;
	struct show *shows;
	uint32_t shows_count;
	uint32_t shows_capacity;
	struct u64map location_ids; /* id → index */
	struct u64map venue_ids;
	struct u64map event_ids;
	struct u64map show_ids;
	uint32_t *location_order; /* indices sorted by id, locations_count entries */
	uint32_t location_order_capacity;
	uint32_t *show_order; /* indices sorted by id, shows_count entries */
	uint32_t show_order_capacity;
	char *strings;
	uint32_t strings_size;
	uint32_t strings_capacity;
	struct search_index *search;
};

void catalog_init(struct catalog *catalog);
void catalog_finish(struct catalog *catalog); /* accepts NULL; not the show states */

/* Index of the entity with this id, or CATALOG_NONE. */
uint32_t catalog_location_find(const struct catalog *catalog, uint32_t id);
uint32_t catalog_venue_find(const struct catalog *catalog, uint32_t id);
uint32_t catalog_event_find(const struct catalog *catalog, uint32_t id);
uint32_t catalog_show_find(const struct catalog *catalog, uint32_t id);

static inline struct text catalog_text(const struct catalog *catalog, struct str s)
{
	return text_from(catalog->strings + s.offset, s.size);
}

/*
 * The puts follow RULES.md: NOT_FOUND for a missing parent, ALREADY_EXISTS for the
 * same id with other content, OK with *created false for identical content. On
 * STATUS_OK with *created the entity exists at the returned *index.
 */
enum status catalog_location_put(struct catalog *catalog, const struct command_location_put *put,
				 bool *created);
enum status catalog_venue_put(struct catalog *catalog, const struct command_venue_put *put,
			      bool *created);
enum status catalog_event_put(struct catalog *catalog, const struct command_event_put *put,
			      bool *created);
/* user_seats_max of 0 takes USER_SEATS_COUNT_MAX_DEFAULT; hold_ttl_ms of 0 is kept, and means
 * the engine's default at the time a hold is made (engine_show_hold_ttl_ms). A put of an
 * existing show is the same when the lifetimes are, each resolved with the default now. */
enum status catalog_show_put(struct catalog *catalog, const struct command_show_put *put,
			     uint32_t hold_ttl_ms_default, bool *created, uint32_t *index);

/* The tier of an inventory slot of a venue. */
static inline uint8_t venue_slot_tier(const struct venue *venue, uint32_t slot)
{
	uint8_t tier = 0;
	while (slot >= venue->tier_slot_first[tier + 1])
		tier++;
	return tier;
}

/* The seat id at an inventory slot. */
static inline uint32_t venue_slot_seat(const struct venue *venue, uint32_t slot)
{
	const struct segment *segment = &venue->segments[venue->segment_of_slot[slot]];
	return segment->seat_first + (slot - segment->slot_first);
}

size_t catalog_memory(const struct catalog *catalog);
void catalog_check(const struct catalog *catalog);

#endif
