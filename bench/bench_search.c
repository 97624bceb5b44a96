/*
 * bench_search.c — how fast the search index is on a realistic catalog.
 *
 * The catalog: 100,000 events at 20 European cities (10 venues each, within 15 km
 * of the centre), 2 or 3 shows each over one year. Titles are an artist name (a
 * long tail of invented names) and a few words; descriptions are 15 to 40 words
 * drawn with Zipf frequencies from an event vocabulary, sometimes naming the city;
 * tags follow the event type. The queries: a keyword, two keywords, a type, tags,
 * near a city within 50 km, a 30-day window, and combinations of those, a third of
 * them followed through 1 to 4 further pages with the cursor.
 *
 * Each page is one timed query. Prints one "name: value unit" line per figure.
 */
#include "bench_search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "search.h"

#define BENCH_EVENTS_COUNT 100000u
#define BENCH_SHOWS_COUNT_MAX (3 * BENCH_EVENTS_COUNT)
#define BENCH_QUERIES_COUNT 20000u
#define BENCH_PAGES_COUNT_MAX 5u
#define BENCH_CITIES_COUNT 20u
#define BENCH_VENUES_PER_CITY 10u
#define BENCH_DAY_MS 86400000ll
#define BENCH_YEAR_START_MS 1767225600000ll /* 2026-01-01T00:00:00Z */

struct bench_city {
	const char *name;
	int32_t lat_e6;
	int32_t lon_e6;
};

static const struct bench_city bench_cities[BENCH_CITIES_COUNT] = {
	{ "London", 51507400, -127800 },    { "Paris", 48856600, 2352200 },
	{ "Berlin", 52520000, 13405000 },   { "Madrid", 40416800, -3703800 },
	{ "Rome", 41902800, 12496400 },	    { "Amsterdam", 52367600, 4904100 },
	{ "Vienna", 48208200, 16373800 },   { "Prague", 50075500, 14437800 },
	{ "Warsaw", 52229700, 21012200 },   { "Stockholm", 59329300, 18068600 },
	{ "Oslo", 59913900, 10752200 },	    { "Copenhagen", 55676100, 12568300 },
	{ "Dublin", 53349800, -6260300 },   { "Lisbon", 38722300, -9139300 },
	{ "Barcelona", 41385100, 2173400 }, { "Milan", 45464200, 9190000 },
	{ "Munich", 48135100, 11582000 },   { "Zürich", 47376900, 8541700 },
	{ "Brussels", 50850300, 4351700 },  { "Budapest", 47497900, 19040200 },
};

/* Roughly by how often such words appear in event listings. */
static const char *const bench_words[] = {
	"live", "night", "music", "show", "tour", "the", "and", "with", "special", "guests",
	"experience", "evening", "world", "new", "best", "performance", "concert", "stage",
	"sound", "tickets", "festival", "celebration", "classic", "presents", "featuring",
	"season", "premiere", "party", "original", "greatest", "hits", "unforgettable",
	"acoustic", "orchestra", "symphony", "band", "singer", "songwriter", "dance", "club",
	"tribute", "legendary", "intimate", "open", "air", "summer", "winter", "spring",
	"autumn", "weekend", "family", "friendly", "all", "ages", "comedy", "stand", "up",
	"theatre", "play", "drama", "musical", "opera", "ballet", "jazz", "blues", "rock",
	"pop", "electronic", "techno", "house", "indie", "folk", "country", "classical",
	"choir", "quartet", "trio", "duo", "piano", "guitar", "violin", "cello", "drums",
	"football", "match", "derby", "final", "cup", "league", "basketball", "tennis",
	"marathon", "race", "championship", "conference", "summit", "workshop", "talk",
	"keynote", "expo", "fair", "market", "exhibition", "circus", "magic", "puppet", "kids",
	"children", "matinee", "gala", "charity", "anniversary", "farewell", "debut", "album",
	"release", "launch", "reunion", "legends", "stars", "rising", "underground", "rooftop",
	"garden", "arena", "stadium", "hall", "cathedral", "candlelight", "baroque", "mozart",
	"beethoven", "vivaldi", "chopin", "shakespeare", "hamlet", "macbeth", "carmen",
	"nutcracker", "swan", "lake", "improv", "sketch", "satire", "cabaret", "burlesque",
	"disco", "funk", "soul", "reggae", "hiphop", "rap", "metal", "punk", "grunge",
	"ambient", "trance", "salsa", "tango", "flamenco", "wine", "tasting", "food", "street",
	"craft", "beer", "design", "fashion", "film", "screening", "documentary", "poetry",
	"reading", "lecture", "science", "future", "technology", "startup", "developer",
	"data", "cloud", "security", "cycling", "boxing", "wrestling", "esports",
	"gaming", "chess", "yoga", "wellness", "midnight", "sunrise", "sunset", "harbour",
	"river", "castle", "palace", "museum",
};

static const char *const bench_tags[EVENT_TYPE_COUNT][6] = {
	[EVENT_TYPE_CONCERT] = { "rock", "jazz", "classical", "pop", "electronic", "folk" },
	[EVENT_TYPE_SPORT] = { "football", "tennis", "running", "basketball", "boxing", "esports" },
	[EVENT_TYPE_THEATRE] = { "drama", "musical", "opera", "ballet", "shakespeare", "premiere" },
	[EVENT_TYPE_COMEDY] = { "standup", "improv", "satire", "cabaret", "late-night", "sketch" },
	[EVENT_TYPE_FESTIVAL] = { "outdoor", "summer", "food", "music", "camping", "multi-day" },
	[EVENT_TYPE_FAMILY] = { "kids", "circus", "magic", "puppets", "family", "matinee" },
	[EVENT_TYPE_CONFERENCE] = { "technology", "science", "business", "design", "security",
				    "ai" },
	[EVENT_TYPE_OTHER] = { "exhibition", "market", "tasting", "workshop", "tour", "wellness" },
};

static const char *const bench_syllables[] = {
	"ka", "lo", "mi", "ra", "ven", "dor", "sha", "tel", "bri", "an", "el", "is", "or",
	"um", "zu", "fen", "gal", "hol", "jin", "kor", "lys", "mar", "nox", "pel", "quin",
	"ros", "sil", "tam", "ul", "vik", "wyn", "xa", "yor", "zel", "bo", "ce", "di", "fa",
};

#define BENCH_WORDS_COUNT (sizeof(bench_words) / sizeof(bench_words[0]))
#define BENCH_SYLLABLES_COUNT (sizeof(bench_syllables) / sizeof(bench_syllables[0]))
/* Names of 2 or 3 syllables: a long tail of rare words, as real artist names are. */
#define BENCH_NAMES_COUNT                                                                          \
	(2 * BENCH_SYLLABLES_COUNT * BENCH_SYLLABLES_COUNT * BENCH_SYLLABLES_COUNT)

struct bench {
	uint64_t rng;
	double word_weights[BENCH_WORDS_COUNT]; /* cumulative Zipf weights */
	struct search_index *index;
	uint8_t *event_cities;
	int64_t *show_starts_ms; /* by show index, for the paging cursor */
	uint32_t *show_ids;
	uint32_t shows_count;
	double build_us; /* inside the index only, not generating the catalog */
	double *latencies_us;
};

static uint64_t bench_random(struct bench *bench)
{
	uint64_t z = (bench->rng += 0x9e3779b97f4a7c15ull); /* splitmix64 */
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t bench_below(struct bench *bench, uint32_t bound)
{
	return (uint32_t)(bench_random(bench) % bound);
}

static double bench_unit(struct bench *bench)
{
	return (double)(bench_random(bench) >> 11) * 0x1.0p-53;
}

static double bench_now_us(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec * 1e6 + (double)now.tv_nsec / 1e3;
}

static const char *bench_word_zipf(struct bench *bench)
{
	double target = bench_unit(bench) * bench->word_weights[BENCH_WORDS_COUNT - 1];
	uint32_t low = 0;
	uint32_t high = BENCH_WORDS_COUNT - 1;
	while (low < high) {
		uint32_t middle = (low + high) / 2;
		if (bench->word_weights[middle] < target)
			low = middle + 1;
		else
			high = middle;
	}
	return bench_words[low];
}

/* Appends a word to the text buffer[0, *size), after a space unless it is the
 * first; a word that does not fit is left out. */
static void bench_append(char *buffer, size_t capacity, size_t *size, const char *word)
{
	int written = snprintf(buffer + *size, capacity - *size, "%s%s", *size ? " " : "", word);
	if (written > 0 && *size + (size_t)written < capacity)
		*size += (size_t)written;
}

/* An artist name: 2 or 3 syllables chosen by the number, capitalised. */
static void bench_name(uint32_t number, char *name, size_t capacity)
{
	size_t size = 0;
	uint32_t syllables = 2 + number % 2;
	number /= 2;
	for (uint32_t i = 0; i < syllables && size + 4 < capacity; i++) {
		const char *syllable = bench_syllables[number % BENCH_SYLLABLES_COUNT];
		number /= BENCH_SYLLABLES_COUNT;
		size += (size_t)snprintf(name + size, capacity - size, "%s", syllable);
	}
	name[0] = (char)(name[0] - 'a' + 'A');
}

static void bench_event_add(struct bench *bench, uint32_t event_index)
{
	char title[TITLE_SIZE_MAX];
	char description[DESCRIPTION_SIZE_MAX];
	struct text tags[4];
	uint8_t type = (uint8_t)bench_below(bench, EVENT_TYPE_COUNT);
	uint8_t city = (uint8_t)bench_below(bench, BENCH_CITIES_COUNT);
	uint32_t name = bench_below(bench, (uint32_t)BENCH_NAMES_COUNT);
	bench->event_cities[event_index] = city;

	bench_name(name, title, sizeof(title));
	size_t size = strlen(title);
	for (uint32_t i = bench_below(bench, 3) + 1; i > 0; i--)
		bench_append(title, sizeof(title), &size, bench_word_zipf(bench));
	size = 0;
	description[0] = '\0';
	for (uint32_t i = 15 + bench_below(bench, 26); i > 0; i--) {
		bool city_name = bench_below(bench, 40) == 0;
		bench_append(description, sizeof(description), &size,
			     city_name ? bench_cities[city].name : bench_word_zipf(bench));
	}
	uint8_t tags_count = (uint8_t)(1 + bench_below(bench, 4));
	for (uint8_t i = 0; i < tags_count; i++)
		tags[i] = text_from_cstr(bench_tags[type][bench_below(bench, 6)]);
	double start_us = bench_now_us();
	search_index_event_add(bench->index, event_index, type, text_from_cstr(title),
			       text_from_cstr(description), tags, tags_count);
	bench->build_us += bench_now_us() - start_us;
}

static void bench_shows_add(struct bench *bench, uint32_t event_index)
{
	const struct bench_city *city = &bench_cities[bench->event_cities[event_index]];
	int64_t start_ms = BENCH_YEAR_START_MS + (int64_t)bench_below(bench, 365) * BENCH_DAY_MS +
			   (int64_t)(17 + bench_below(bench, 6)) * 3600000;
	uint32_t shows = 2 + (bench_below(bench, 2) == 0);
	for (uint32_t i = 0; i < shows; i++) {
		/* Venues are fixed points near the centre: the same venue, the same point. */
		uint32_t venue = bench_below(bench, BENCH_VENUES_PER_CITY);
		int32_t lat_e6 = city->lat_e6 + (int32_t)(venue * 7919 % 200) * 500 - 50000;
		int32_t lon_e6 = city->lon_e6 + (int32_t)(venue * 104729 % 200) * 700 - 70000;
		uint32_t show_id = 1 + (bench->shows_count * 2654435761u) % 1000000007u;
		double start_us = bench_now_us();
		search_index_show_add(bench->index, bench->shows_count, show_id, event_index,
				      start_ms, lat_e6, lon_e6);
		bench->build_us += bench_now_us() - start_us;
		bench->show_starts_ms[bench->shows_count] = start_ms;
		bench->show_ids[bench->shows_count] = show_id;
		bench->shows_count++;
		start_ms += (int64_t)(1 + bench_below(bench, 7)) * BENCH_DAY_MS;
	}
}

/* A keyword a visitor would type: a word, a genre, the start of a name. */
static void bench_keyword(struct bench *bench, char *keyword, size_t capacity)
{
	uint32_t kind = bench_below(bench, 10);
	if (kind < 5) {
		snprintf(keyword, capacity, "%s",
			 bench_words[bench_below(bench, BENCH_WORDS_COUNT)]);
	} else if (kind < 7) {
		uint8_t type = (uint8_t)bench_below(bench, EVENT_TYPE_COUNT);
		snprintf(keyword, capacity, "%s", bench_tags[type][bench_below(bench, 6)]);
	} else if (kind < 9) {
		char name[32];
		bench_name(bench_below(bench, (uint32_t)BENCH_NAMES_COUNT), name, sizeof(name));
		snprintf(keyword, capacity, "%.*s", 4 + (int)bench_below(bench, 3), name);
	} else {
		snprintf(keyword, capacity, "%s %s",
			 bench_words[bench_below(bench, BENCH_WORDS_COUNT)],
			 bench_cities[bench_below(bench, BENCH_CITIES_COUNT)].name);
	}
}

/* One query of the mix; keyword holds what query->keyword points to. */
static void bench_query_make(struct bench *bench, struct search_query *query, char *keyword,
			     size_t capacity)
{
	memset(query, 0, sizeof(*query));
	query->to_ms = INT64_MAX;
	query->type = -1;
	query->limit = 20;
	uint32_t mix = bench_below(bench, 12);
	bool use_keyword = mix == 0 || mix == 6 || mix == 9 || mix == 11;
	bool use_type = mix == 1 || mix == 7 || mix == 11;
	bool use_tags = mix == 2 || mix == 8;
	bool use_near = mix == 3 || mix == 6 || mix == 7 || mix == 10 || mix == 11;
	bool use_window = mix == 4 || mix == 7 || mix == 8 || mix == 9 || mix == 11;
	if (mix == 5) { /* two keywords */
		snprintf(keyword, capacity, "%s %s",
			 bench_words[bench_below(bench, BENCH_WORDS_COUNT)],
			 bench_words[bench_below(bench, BENCH_WORDS_COUNT)]);
		query->keyword = text_from_cstr(keyword);
	}
	if (use_keyword) {
		bench_keyword(bench, keyword, capacity);
		query->keyword = text_from_cstr(keyword);
	}
	if (use_type)
		query->type = (int16_t)bench_below(bench, EVENT_TYPE_COUNT);
	if (use_tags) {
		uint8_t type = (uint8_t)bench_below(bench, EVENT_TYPE_COUNT);
		query->tags_count = (uint8_t)(1 + bench_below(bench, 3));
		for (uint8_t i = 0; i < query->tags_count; i++)
			query->tags[i] = text_from_cstr(bench_tags[type][bench_below(bench, 6)]);
	}
	if (use_near) {
		const struct bench_city *city =
			&bench_cities[bench_below(bench, BENCH_CITIES_COUNT)];
		query->near = true;
		query->lat_e6 = city->lat_e6;
		query->lon_e6 = city->lon_e6;
		query->radius_km = 50;
	}
	if (use_window) {
		query->from_ms =
			BENCH_YEAR_START_MS + (int64_t)bench_below(bench, 365) * BENCH_DAY_MS;
		query->to_ms = query->from_ms + 30 * BENCH_DAY_MS;
	}
}

static int bench_double_compare(const void *a, const void *b)
{
	double x = *(const double *)a;
	double y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Runs the query mix; returns how many queries (pages) were timed. */
static uint32_t bench_queries_run(struct bench *bench, double *total_us)
{
	uint32_t timed = 0;
	uint64_t hits_total = 0;
	*total_us = 0;
	for (uint32_t q = 0; q < BENCH_QUERIES_COUNT; q++) {
		char keyword[SEARCH_KEYWORD_SIZE_MAX];
		struct search_query query;
		struct search_index_hit hits[SEARCH_RESULTS_COUNT_MAX];
		bench_query_make(bench, &query, keyword, sizeof(keyword));
		uint32_t pages = bench_below(bench, 3) == 0 ? 2 + bench_below(bench, 4) : 1;
		for (uint32_t page = 0; page < pages; page++) {
			uint32_t count = 0;
			bool more = false;
			double start_us = bench_now_us();
			enum status status =
				search_index_query(bench->index, &query, hits, &count, &more);
			double elapsed_us = bench_now_us() - start_us;
			if (status != STATUS_OK) {
				fprintf(stderr, "bench_search: query failed: %s\n",
					status_name(status));
				exit(1);
			}
			bench->latencies_us[timed++] = elapsed_us;
			*total_us += elapsed_us;
			hits_total += count;
			if (!more || count == 0)
				break;
			/* The next page continues after the last hit, as a client would. */
			uint32_t last = hits[count - 1].show_index;
			query.after_start_ms = bench->show_starts_ms[last];
			query.after_show_id = bench->show_ids[last];
		}
	}
	fprintf(stderr, "bench_search: %u queries, %.1f hits per query\n", timed,
		(double)hits_total / timed);
	return timed;
}

void bench_search_run(uint64_t seed)
{
	struct bench bench = { .rng = seed };
	double weight = 0;
	for (uint32_t i = 0; i < BENCH_WORDS_COUNT; i++) {
		weight += 1.0 / (i + 1);
		bench.word_weights[i] = weight;
	}
	bench.event_cities = calloc(BENCH_EVENTS_COUNT, 1);
	bench.show_starts_ms = calloc(BENCH_SHOWS_COUNT_MAX, sizeof(int64_t));
	bench.show_ids = calloc(BENCH_SHOWS_COUNT_MAX, sizeof(uint32_t));
	bench.latencies_us = calloc(BENCH_QUERIES_COUNT * BENCH_PAGES_COUNT_MAX, sizeof(double));
	bench.index = search_index_create();
	if (!bench.event_cities || !bench.show_starts_ms || !bench.show_ids ||
	    !bench.latencies_us || !bench.index) {
		fprintf(stderr, "bench_search: out of memory\n");
		exit(1);
	}

	/* Build: every event and show, then the first query, which sorts the index. */
	for (uint32_t e = 0; e < BENCH_EVENTS_COUNT; e++) {
		bench_event_add(&bench, e);
		bench_shows_add(&bench, e);
	}
	struct search_query first;
	struct search_index_hit hits[20];
	uint32_t count;
	bool more;
	memset(&first, 0, sizeof(first));
	first.to_ms = INT64_MAX, first.type = -1, first.limit = 20;
	double first_start_us = bench_now_us();
	search_index_query(bench.index, &first, hits, &count, &more);
	bench.build_us += bench_now_us() - first_start_us;

	double total_us;
	uint32_t timed = bench_queries_run(&bench, &total_us);
	qsort(bench.latencies_us, timed, sizeof(double), bench_double_compare);
	printf("search_build_ms: %.0f ms\n", bench.build_us / 1e3);
	printf("search_queries_per_s: %.0f queries/s\n", timed / (total_us / 1e6));
	printf("search_p50_us: %.1f us\n", bench.latencies_us[timed / 2]);
	printf("search_p99_us: %.1f us\n", bench.latencies_us[(uint64_t)timed * 99 / 100]);
	printf("search_index_bytes_per_event: %.0f bytes\n",
	       (double)search_index_memory(bench.index) / BENCH_EVENTS_COUNT);
	fprintf(stderr, "bench_search: %u events, %u shows\n", BENCH_EVENTS_COUNT,
		bench.shows_count);

	search_index_destroy(bench.index);
	free(bench.event_cities);
	free(bench.show_starts_ms);
	free(bench.show_ids);
	free(bench.latencies_us);
}
