/*
 * demo.c — the demo catalog generator (see demo.h).
 *
 * Everything random comes from one splitmix64 stream seeded by the caller, drawn in
 * a fixed order, so the catalog is a pure function of (seed, start_ms).
 */
#include "demo.h"

#include <stdio.h>
#include <string.h>

#define DAY_MS (24LL * 3600 * 1000)
#define HOUR_MS (3600LL * 1000)

struct rng {
	uint64_t state;
};

static uint64_t rng_next(struct rng *rng)
{
	uint64_t z = (rng->state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint32_t rng_below(struct rng *rng, uint32_t bound)
{
	return (uint32_t)(rng_next(rng) % bound);
}

struct city {
	const char *name;
	const char country[COUNTRY_SIZE + 1];
	int32_t lat_e6;
	int32_t lon_e6;
	const char currency[CURRENCY_SIZE + 1];
	const char *language;
	int64_t price_unit; /* minor units of a typical economy ticket */
};

static const struct city cities[DEMO_LOCATIONS_COUNT] = {
	{ "Vienna", "AT", 48208174, 16373819, "EUR", "de", 3500 },
	{ "Berlin", "DE", 52520008, 13404954, "EUR", "de", 3500 },
	{ "London", "GB", 51507351, -127758, "GBP", "en", 3000 },
	{ "Paris", "FR", 48856613, 2352222, "EUR", "fr", 3800 },
	{ "Madrid", "ES", 40416775, -3703790, "EUR", "es", 3000 },
	{ "Rome", "IT", 41902782, 12496366, "EUR", "it", 3000 },
	{ "Amsterdam", "NL", 52367573, 4904139, "EUR", "nl", 3500 },
	{ "Stockholm", "SE", 59329323, 18068581, "SEK", "sv", 39000 },
	{ "Warsaw", "PL", 52229675, 21012230, "PLN", "pl", 12000 },
	{ "Lisbon", "PT", 38722252, -9139337, "EUR", "pt", 2800 },
	{ "New York", "US", 40712776, -74005974, "USD", "en", 5500 },
	{ "Chicago", "US", 41878113, -87629799, "USD", "en", 4500 },
	{ "Los Angeles", "US", 34052235, -118243683, "USD", "en", 5000 },
	{ "Toronto", "CA", 43653225, -79383186, "CAD", "en", 5500 },
	{ "Mexico City", "MX", 19432608, -99133209, "MXN", "es", 60000 },
	{ "Sao Paulo", "BR", -23550520, -46633308, "BRL", "pt", 15000 },
	{ "Tokyo", "JP", 35676192, 139650311, "JPY", "ja", 6000 },
	{ "Sydney", "AU", -33868820, 151209290, "AUD", "en", 6500 },
	{ "Cape Town", "ZA", -33924870, 18424055, "ZAR", "en", 40000 },
	{ "Mumbai", "IN", 19075983, 72877655, "INR", "en", 150000 },
};

enum venue_kind { VENUE_THEATRE, VENUE_HALL, VENUE_ARENA, VENUE_STADIUM };

static const char *const venue_kind_names[] = { "Theatre", "Concert Hall", "Arena", "Stadium" };

/* A block of rows of one section, all alike. Tiers: a run pattern per row. */
static void rows_add(struct layout_builder *b, uint32_t first_row, uint32_t rows_count,
		     bool letters, uint16_t seats, enum tier tier)
{
	for (uint32_t r = first_row; r < first_row + rows_count; r++) {
		char name[8];
		if (letters)
			snprintf(name, sizeof(name), "%c", (char)('A' + r));
		else
			snprintf(name, sizeof(name), "%u", r + 1);
		layout_builder_row(b, name, 1, seats, tier);
	}
}

static void layout_theatre(struct layout_builder *b)
{
	layout_builder_section(b, "Stalls");
	rows_add(b, 0, 3, true, 20, TIER_VIP);
	rows_add(b, 3, 7, true, 20, TIER_REGULAR);
	rows_add(b, 10, 6, true, 20, TIER_ECONOMY);
	layout_builder_section(b, "Circle");
	rows_add(b, 0, 3, true, 22, TIER_REGULAR);
	rows_add(b, 3, 5, true, 22, TIER_ECONOMY);
}

static void layout_hall(struct layout_builder *b)
{
	layout_builder_section(b, "Parterre");
	/* The best rows have VIP seats in the middle and regular seats at the sides. */
	const uint8_t tiers[] = { TIER_REGULAR, TIER_VIP, TIER_REGULAR };
	const uint16_t counts[] = { 10, 20, 10 };
	for (uint32_t r = 0; r < 5; r++) {
		char name[8];
		snprintf(name, sizeof(name), "%u", r + 1);
		layout_builder_row_runs(b, name, 1, 3, tiers, counts);
	}
	rows_add(b, 5, 13, false, 40, TIER_REGULAR);
	rows_add(b, 18, 12, false, 40, TIER_ECONOMY);
	layout_builder_section(b, "Balcony");
	rows_add(b, 0, 4, false, 40, TIER_REGULAR);
	rows_add(b, 4, 16, false, 40, TIER_ECONOMY);
}

static void sections_add(struct layout_builder *b, const char *prefix, uint32_t first_number,
			 uint32_t sections, uint32_t rows, uint16_t seats, enum tier tier)
{
	for (uint32_t s = 0; s < sections; s++) {
		char name[LABEL_SIZE_MAX + 1];
		snprintf(name, sizeof(name), "%s %u", prefix, first_number + s);
		layout_builder_section(b, name);
		rows_add(b, 0, rows, false, seats, tier);
	}
}

static void layout_arena(struct layout_builder *b)
{
	layout_builder_section(b, "Floor");
	rows_add(b, 0, 20, false, 50, TIER_VIP);
	sections_add(b, "Lower", 101, 10, 25, 24, TIER_REGULAR);
	sections_add(b, "Upper", 201, 16, 25, 20, TIER_ECONOMY);
}

static void layout_stadium(struct layout_builder *b)
{
	sections_add(b, "Pitchside", 1, 4, 10, 100, TIER_VIP);
	sections_add(b, "Lower", 101, 16, 25, 60, TIER_REGULAR);
	sections_add(b, "Upper", 201, 16, 40, 50, TIER_ECONOMY);
}

static void emit_location(uint32_t index, demo_emit_fn *emit, void *context)
{
	const struct city *city = &cities[index];
	struct command c = { .type = COMMAND_LOCATION_PUT };
	c.location_put = (struct command_location_put){
		.location_id = index + 1, .name = text_from_cstr(city->name),
		.lat_e6 = city->lat_e6, .lon_e6 = city->lon_e6 };
	memcpy(c.location_put.country, city->country, COUNTRY_SIZE);
	emit(context, &c);
}

/* City i has venue 101 + 2i (small) and 102 + 2i (large). */
static enum venue_kind venue_kind_of(uint32_t city, bool large)
{
	if (large)
		return city % 2 == 0 ? VENUE_ARENA : VENUE_STADIUM;
	return city % 2 == 0 ? VENUE_THEATRE : VENUE_HALL;
}

static void emit_venue(struct rng *rng, uint32_t city_index, bool large, demo_emit_fn *emit,
		       void *context)
{
	const struct city *city = &cities[city_index];
	enum venue_kind kind = venue_kind_of(city_index, large);
	struct layout_builder b;
	layout_builder_init(&b);
	switch (kind) {
	case VENUE_THEATRE:
		layout_theatre(&b);
		break;
	case VENUE_HALL:
		layout_hall(&b);
		break;
	case VENUE_ARENA:
		layout_arena(&b);
		break;
	case VENUE_STADIUM:
		layout_stadium(&b);
		break;
	}
	char name[NAME_SIZE_MAX];
	char address[ADDRESS_SIZE_MAX];
	snprintf(name, sizeof(name), "%s %s", city->name, venue_kind_names[kind]);
	snprintf(address, sizeof(address), "%u Festival Street, %s", 1 + rng_below(rng, 200),
		 city->name);
	struct command c = { .type = COMMAND_VENUE_PUT };
	c.venue_put = (struct command_venue_put){
		.venue_id = 101 + 2 * city_index + (large ? 1 : 0), .location_id = city_index + 1,
		.name = text_from_cstr(name), .address = text_from_cstr(address),
		/* Within about 5 km of the city centre. */
		.lat_e6 = city->lat_e6 + (int32_t)rng_below(rng, 80000) - 40000,
		.lon_e6 = city->lon_e6 + (int32_t)rng_below(rng, 80000) - 40000 };
	enum status built = layout_builder_layout(&b, &c.venue_put.layout);
	ASSERT(built == STATUS_OK);
	emit(context, &c);
	layout_builder_finish(&b);
}

struct event_kind {
	enum event_type type;
	bool large; /* plays the large venue */
	const char *const *names;
	uint32_t names_count;
	const char *const *suffixes;
	uint32_t suffixes_count;
	const char *const *tags;
	uint32_t tags_count;
	uint32_t duration_min;
	const char *blurb;
};

#define LIST(...) (const char *const[]){ __VA_ARGS__ }, \
	(uint32_t)(sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

static const struct event_kind event_kinds[] = {
	{ EVENT_TYPE_CONCERT, true,
	  LIST("The Midnight Echoes", "Aurora Lane", "Crimson Harbor", "Neon Orchard",
	       "Velvet Static", "Paper Lanterns", "The Northern Kites", "Silver Avenue"),
	  LIST("World Tour", "Live", "Farewell Tour", "Unplugged", "Greatest Hits"),
	  LIST("rock", "pop", "indie", "electronic", "live", "jazz"), 150,
	  "An evening of live music with a full band, light show and the songs everyone "
	  "knows." },
	{ EVENT_TYPE_SPORT, true,
	  LIST("City Lions vs Harbour Eagles", "United vs Rovers", "Comets vs Titans",
	       "National Cup Final", "Derby Day", "All-Star Game"),
	  LIST("", "League Match", "Season Opener", "Playoff"),
	  LIST("football", "basketball", "derby", "family", "outdoor"), 120,
	  "Two rivals meet in front of a sold-out crowd; gates open two hours before "
	  "kick-off." },
	{ EVENT_TYPE_THEATRE, false,
	  LIST("Hamlet", "The Seagull", "A Doll's House", "Cyrano", "Don Giovanni",
	       "The Magic Flute", "Les Miserables", "Chicago"),
	  LIST("", "New Production", "Revival", "Gala Night"),
	  LIST("drama", "opera", "musical", "classic", "premiere"), 170,
	  "A celebrated production with an acclaimed cast, sung or spoken in the original "
	  "language with surtitles." },
	{ EVENT_TYPE_COMEDY, false,
	  LIST("Laugh Track", "Stand-Up Night", "The Improv Hour", "Late Show Live"),
	  LIST("", "Tour", "Special"), LIST("standup", "improv", "late-night", "comedy"), 90,
	  "Stand-up and improvisation from touring comedians; some material is not "
	  "suitable for children." },
	{ EVENT_TYPE_FESTIVAL, true,
	  LIST("Summer Sound", "Harbour Lights", "Open Air", "Electric Fields"),
	  LIST("Festival", "Weekender", "Day One"),
	  LIST("festival", "outdoor", "electronic", "food", "indie"), 480,
	  "A full day of stages, food trucks and late sets under the open sky." },
	{ EVENT_TYPE_FAMILY, false,
	  LIST("Circus of Wonders", "The Little Prince", "Dinosaur Live", "Magic Show"),
	  LIST("", "for Kids", "Family Edition"), LIST("kids", "family", "circus", "magic"), 75,
	  "A show for the whole family, with acrobats, puppets and a little magic." },
	{ EVENT_TYPE_CONFERENCE, false,
	  LIST("Systems Summit", "Future of Data", "Open Source Days", "Design Forum"),
	  LIST("2027", "Conference", "Meetup"), LIST("tech", "talks", "networking", "data"),
	  480, "Talks, workshops and a hallway track for engineers and designers." },
};

static const uint32_t event_kinds_count = sizeof(event_kinds) / sizeof(event_kinds[0]);

static void emit_event(struct rng *rng, uint32_t event_number, uint32_t city_index,
		       const struct event_kind *kind, demo_emit_fn *emit, void *context)
{
	char title[TITLE_SIZE_MAX];
	const char *name = kind->names[rng_below(rng, kind->names_count)];
	const char *suffix = kind->suffixes[rng_below(rng, kind->suffixes_count)];
	if (suffix[0] != '\0')
		snprintf(title, sizeof(title), "%s: %s", name, suffix);
	else
		snprintf(title, sizeof(title), "%s", name);
	char description[DESCRIPTION_SIZE_MAX];
	snprintf(description, sizeof(description), "%s Live in %s.", kind->blurb,
		 cities[city_index].name);
	struct command c = { .type = COMMAND_EVENT_PUT };
	struct command_event_put *e = &c.event_put;
	*e = (struct command_event_put){
		.event_id = 1001 + event_number, .location_id = city_index + 1,
		.title = text_from_cstr(title), .description = text_from_cstr(description),
		.type = (uint8_t)kind->type,
		.language = text_from_cstr(kind->type == EVENT_TYPE_SPORT ? "en"
									   : cities[city_index].language),
		.duration_min = kind->duration_min };
	/* Two to four distinct tags. */
	uint32_t wanted = 2 + rng_below(rng, 3);
	uint32_t first = rng_below(rng, kind->tags_count);
	for (uint32_t i = 0; i < wanted && i < kind->tags_count; i++)
		e->tags[e->tags_count++] = text_from_cstr(kind->tags[(first + i) % kind->tags_count]);
	emit(context, &c);
}

static void emit_show(struct rng *rng, uint32_t show_number, uint32_t event_number,
		      uint32_t city_index, const struct event_kind *kind, int64_t start_ms,
		      demo_emit_fn *emit, void *context)
{
	const struct city *city = &cities[city_index];
	/* An evening (18:00-21:00 UTC) one to 120 days out. */
	int64_t day = (start_ms / DAY_MS + 1 + rng_below(rng, 120)) * DAY_MS;
	int64_t begins = day + (18 + rng_below(rng, 4)) * HOUR_MS;
	struct command c = { .type = COMMAND_SHOW_PUT };
	c.show_put = (struct command_show_put){
		.show_id = DEMO_SHOW_ID_FIRST + show_number, .event_id = 1001 + event_number,
		.venue_id = 101 + 2 * city_index + (kind->large ? 1 : 0), .start_ms = begins,
		.end_ms = begins + kind->duration_min * 60000LL,
		.prices_minor = { city->price_unit, city->price_unit * 2, city->price_unit * 5 },
		.user_seats_max = USER_SEATS_COUNT_MAX_DEFAULT, .sale_opens_ms = start_ms,
		.sale_closes_ms = begins, .hold_ttl_ms = HOLD_TTL_MS_DEFAULT };
	memcpy(c.show_put.currency, city->currency, CURRENCY_SIZE);
	emit(context, &c);
}

void demo_catalog_generate(uint64_t seed, int64_t start_ms, demo_emit_fn *emit, void *context)
{
	ASSERT(start_ms >= 0);
	struct rng rng = { .state = seed };
	for (uint32_t i = 0; i < DEMO_LOCATIONS_COUNT; i++)
		emit_location(i, emit, context);
	for (uint32_t i = 0; i < DEMO_LOCATIONS_COUNT; i++) {
		emit_venue(&rng, i, false, emit, context);
		emit_venue(&rng, i, true, emit, context);
	}
	uint32_t events_per_city = DEMO_EVENTS_COUNT / DEMO_LOCATIONS_COUNT;
	uint32_t shows_per_event = DEMO_SHOWS_COUNT / DEMO_EVENTS_COUNT;
	uint8_t kinds[DEMO_EVENTS_COUNT];
	for (uint32_t n = 0; n < DEMO_EVENTS_COUNT; n++) {
		kinds[n] = (uint8_t)rng_below(&rng, event_kinds_count);
		emit_event(&rng, n, n / events_per_city, &event_kinds[kinds[n]], emit, context);
	}
	for (uint32_t n = 0; n < DEMO_SHOWS_COUNT; n++) {
		uint32_t event_number = n / shows_per_event;
		emit_show(&rng, n, event_number, event_number / events_per_city,
			  &event_kinds[kinds[event_number]], start_ms, emit, context);
	}
}
