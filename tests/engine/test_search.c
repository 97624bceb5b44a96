/*
 * test_search.c — the search index (engine/search.h) against its contract: each
 * filter alone and combined, ordering, paging, validation, and a randomized
 * comparison with a naive linear filter over a random catalog (search_model.c).
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "command.h"
#include "search.h"
#include "search_model.h"

#define HITS_MAX (SEARCH_RESULTS_COUNT_MAX + 1)

/*
 * Every catalog goes into two indexes. `merged` also gets, before its first query,
 * enough shows that no query can return (they start at INT64_MAX, and windows end
 * before that) to make it sort its shows; `index_under_test` keeps a small catalog
 * in its unsorted tail. Each query runs on both, and both must give the same hits:
 * the sorted plans and the tail scan are tested by the same cases.
 */
#define FILLER_SHOWS_COUNT 1100u
#define SHOWS_MAX 16384u

static struct search_index *index_under_test;
static struct search_index *merged;
static uint32_t events_added;
static uint32_t shows_added;
static uint32_t merged_shows_count;
static uint32_t merged_to_show[SHOWS_MAX + FILLER_SHOWS_COUNT]; /* UINT32_MAX: filler */
static bool merged_filled;

static void index_setup(void)
{
	index_under_test = search_index_create();
	merged = search_index_create();
	cr_assert_not_null(index_under_test);
	cr_assert_not_null(merged);
	events_added = 0;
	shows_added = 0;
	merged_shows_count = 0;
	merged_filled = false;
}

static void index_teardown(void)
{
	search_index_destroy(index_under_test);
	search_index_destroy(merged);
	index_under_test = NULL;
	merged = NULL;
}

TestSuite(search, .init = index_setup, .fini = index_teardown);

/* What search_query_init() gives: no filter, every start time, 20 hits. */
static struct search_query query_make(void)
{
	struct search_query query;
	memset(&query, 0, sizeof(query));
	query.from_ms = 0;
	query.to_ms = INT64_MAX;
	query.type = -1;
	query.limit = 20;
	return query;
}

/* Adds an event with up to two tags (NULL for none); returns its index. */
static uint32_t event_add(uint8_t type, const char *title, const char *description,
			  const char *tag_0, const char *tag_1)
{
	struct text tags[2];
	uint8_t tags_count = 0;
	if (tag_0 != NULL)
		tags[tags_count++] = text_from_cstr(tag_0);
	if (tag_1 != NULL)
		tags[tags_count++] = text_from_cstr(tag_1);
	search_index_event_add(index_under_test, events_added, type, text_from_cstr(title),
			       text_from_cstr(description), tags, tags_count);
	search_index_event_add(merged, events_added, type, text_from_cstr(title),
			       text_from_cstr(description), tags, tags_count);
	return events_added++;
}

/* Adds a show; returns its index (in index_under_test). */
static uint32_t show_add(uint32_t show_id, uint32_t event_index, int64_t start_ms, int32_t lat_e6,
			 int32_t lon_e6)
{
	cr_assert_lt(shows_added, SHOWS_MAX);
	search_index_show_add(index_under_test, shows_added, show_id, event_index, start_ms, lat_e6,
			      lon_e6);
	search_index_show_add(merged, merged_shows_count, show_id, event_index, start_ms, lat_e6,
			      lon_e6);
	merged_to_show[merged_shows_count++] = shows_added;
	return shows_added++;
}

static void merged_fill(void)
{
	if (merged_filled || events_added == 0)
		return;
	for (uint32_t i = 0; i < FILLER_SHOWS_COUNT; i++) {
		search_index_show_add(merged, merged_shows_count, 1 + i, 0, INT64_MAX, 0, 0);
		merged_to_show[merged_shows_count++] = UINT32_MAX;
	}
	merged_filled = true;
}

static uint32_t query_run(const struct search_query *query, struct search_index_hit *hits,
			  bool *more)
{
	uint32_t count = UINT32_MAX;
	enum status status = search_index_query(index_under_test, query, hits, &count, more);
	cr_assert_eq(status, STATUS_OK, "status %s", status_name(status));
	cr_assert_leq(count, query->limit);

	struct search_index_hit other[HITS_MAX];
	uint32_t other_count = UINT32_MAX;
	bool other_more;
	merged_fill();
	status = search_index_query(merged, query, other, &other_count, &other_more);
	cr_assert_eq(status, STATUS_OK);
	cr_assert_eq(other_count, count, "sorted: %" PRIu32 " hits, tail: %" PRIu32, other_count,
		     count);
	cr_assert_eq(other_more, *more);
	for (uint32_t i = 0; i < count; i++) {
		cr_assert_eq(merged_to_show[other[i].show_index], hits[i].show_index);
		cr_assert_eq(other[i].distance_m, hits[i].distance_m);
	}
	return count;
}

/* Runs the query and checks that its hits are exactly shows[0, count), in order. */
static void query_expect(const struct search_query *query, const uint32_t *shows, uint32_t count)
{
	struct search_index_hit hits[HITS_MAX];
	bool more = true;
	uint32_t found = query_run(query, hits, &more);
	cr_assert_eq(found, count, "found %" PRIu32 " hits, expected %" PRIu32, found, count);
	cr_assert_not(more);
	for (uint32_t i = 0; i < count; i++)
		cr_assert_eq(hits[i].show_index, shows[i],
			     "hit %" PRIu32 " is show %" PRIu32 ", expected %" PRIu32, i,
			     hits[i].show_index, shows[i]);
}

static void keyword_expect(const char *keyword, const uint32_t *shows, uint32_t count)
{
	struct search_query query = query_make();
	query.keyword = text_from_cstr(keyword);
	query_expect(&query, shows, count);
}

Test(search, empty_index_finds_nothing)
{
	struct search_query query = query_make();
	query_expect(&query, NULL, 0);
	query.keyword = text_from_cstr("rock");
	query.near = true;
	query.radius_km = 50;
	query.type = EVENT_TYPE_CONCERT;
	query_expect(&query, NULL, 0);
	cr_assert_gt(search_index_memory(index_under_test), 0);
}

Test(search, no_filter_lists_every_show_in_time_order)
{
	uint32_t e = event_add(EVENT_TYPE_CONCERT, "A", "", NULL, NULL);
	uint32_t late = show_add(1, e, 3000, 0, 0);
	uint32_t early = show_add(2, e, 1000, 0, 0);
	uint32_t middle = show_add(3, e, 2000, 0, 0);
	struct search_query query = query_make();
	query_expect(&query, (uint32_t[]){ early, middle, late }, 3);
}

Test(search, keyword_words_are_prefixes_case_insensitive)
{
	uint32_t rock = event_add(EVENT_TYPE_CONCERT, "Rocket Science LIVE", "", NULL, NULL);
	uint32_t jazz = event_add(EVENT_TYPE_CONCERT, "jazz night", "", NULL, NULL);
	uint32_t s_rock = show_add(1, rock, 1000, 0, 0);
	uint32_t s_jazz = show_add(2, jazz, 2000, 0, 0);
	keyword_expect("rock", (uint32_t[]){ s_rock }, 1);
	keyword_expect("ROCKET", (uint32_t[]){ s_rock }, 1);
	keyword_expect("rockets", NULL, 0);
	keyword_expect("ocket", NULL, 0); /* a prefix, never a substring */
	keyword_expect("Li", (uint32_t[]){ s_rock }, 1);
	keyword_expect("n", (uint32_t[]){ s_jazz }, 1);
	keyword_expect("j n", (uint32_t[]){ s_jazz }, 1);
}

Test(search, keyword_needs_every_word)
{
	uint32_t both = event_add(EVENT_TYPE_CONCERT, "Jazz", "late night session", NULL, NULL);
	uint32_t one = event_add(EVENT_TYPE_CONCERT, "Jazz", "matinee", NULL, NULL);
	uint32_t s_both = show_add(1, both, 1000, 0, 0);
	uint32_t s_one = show_add(2, one, 2000, 0, 0);
	keyword_expect("jazz", (uint32_t[]){ s_both, s_one }, 2);
	keyword_expect("jazz night", (uint32_t[]){ s_both }, 1);
	keyword_expect("night jazz", (uint32_t[]){ s_both }, 1);
	keyword_expect("jazz nights", NULL, 0);
	keyword_expect("jazz zzz", NULL, 0);
}

Test(search, keyword_covers_title_description_and_tags)
{
	uint32_t in_title = event_add(EVENT_TYPE_SPORT, "Harbour Run", "", NULL, NULL);
	uint32_t in_description = event_add(EVENT_TYPE_SPORT, "X", "a harbour cruise", NULL, NULL);
	uint32_t in_tag = event_add(EVENT_TYPE_SPORT, "Y", "", "outdoor", "Harbour-Side");
	uint32_t elsewhere = event_add(EVENT_TYPE_SPORT, "Z", "inland", NULL, NULL);
	uint32_t a = show_add(1, in_title, 1000, 0, 0);
	uint32_t b = show_add(2, in_description, 2000, 0, 0);
	uint32_t c = show_add(3, in_tag, 3000, 0, 0);
	show_add(4, elsewhere, 4000, 0, 0);
	keyword_expect("harbour", (uint32_t[]){ a, b, c }, 3);
	keyword_expect("side", (uint32_t[]){ c }, 1); /* a tag is cut into words too */
}

Test(search, keyword_cuts_at_punctuation_and_keeps_utf8)
{
	uint32_t roll = event_add(EVENT_TYPE_CONCERT, "Rock'n'Roll/2024!", "", NULL, NULL);
	uint32_t cafe = event_add(EVENT_TYPE_OTHER, "Café Zürich", "", NULL, NULL);
	uint32_t s_roll = show_add(1, roll, 1000, 0, 0);
	uint32_t s_cafe = show_add(2, cafe, 2000, 0, 0);
	keyword_expect("roll", (uint32_t[]){ s_roll }, 1);
	keyword_expect("2024", (uint32_t[]){ s_roll }, 1);
	keyword_expect("n", (uint32_t[]){ s_roll }, 1);
	keyword_expect("café", (uint32_t[]){ s_cafe }, 1);
	keyword_expect("CAFÉ", NULL, 0); /* only ASCII letters fold: É is not é */
	keyword_expect("CAF", (uint32_t[]){ s_cafe }, 1);
	keyword_expect("zür", (uint32_t[]){ s_cafe }, 1);
	keyword_expect("zu", NULL, 0);
	/* A multi-byte character is part of a word, not a separator. */
	keyword_expect("rich", NULL, 0);
}

Test(search, keyword_without_words_filters_nothing)
{
	uint32_t e = event_add(EVENT_TYPE_CONCERT, "Anything", "", NULL, NULL);
	uint32_t s = show_add(1, e, 1000, 0, 0);
	keyword_expect("  -- !! ", (uint32_t[]){ s }, 1);
}

Test(search, type_filter)
{
	uint32_t concert = event_add(EVENT_TYPE_CONCERT, "A", "", NULL, NULL);
	uint32_t sport = event_add(EVENT_TYPE_SPORT, "B", "", NULL, NULL);
	uint32_t s_concert = show_add(1, concert, 1000, 0, 0);
	uint32_t s_sport = show_add(2, sport, 2000, 0, 0);
	struct search_query query = query_make();
	query.type = EVENT_TYPE_SPORT;
	query_expect(&query, (uint32_t[]){ s_sport }, 1);
	query.type = EVENT_TYPE_CONCERT;
	query_expect(&query, (uint32_t[]){ s_concert }, 1);
	query.type = EVENT_TYPE_OTHER;
	query_expect(&query, NULL, 0);
}

Test(search, tags_match_any_whole_tag_case_insensitive)
{
	uint32_t jazz = event_add(EVENT_TYPE_CONCERT, "A", "", "Jazz", "late-night");
	uint32_t blues = event_add(EVENT_TYPE_CONCERT, "B", "", "blues", NULL);
	uint32_t none = event_add(EVENT_TYPE_CONCERT, "C", "jazz in the text", NULL, NULL);
	uint32_t s_jazz = show_add(1, jazz, 1000, 0, 0);
	uint32_t s_blues = show_add(2, blues, 2000, 0, 0);
	show_add(3, none, 3000, 0, 0);
	struct search_query query = query_make();
	query.tags_count = 1;
	query.tags[0] = text_from_cstr("JAZZ");
	query_expect(&query, (uint32_t[]){ s_jazz }, 1);
	query.tags[0] = text_from_cstr("jaz"); /* whole tags only */
	query_expect(&query, NULL, 0);
	query.tags[0] = text_from_cstr("late"); /* not a word of the tag either */
	query_expect(&query, NULL, 0);
	query.tags_count = 3;
	query.tags[0] = text_from_cstr("Late-Night");
	query.tags[1] = text_from_cstr("unknown");
	query.tags[2] = text_from_cstr("BLUES");
	query_expect(&query, (uint32_t[]){ s_jazz, s_blues }, 2);
	query.tags[1] = text_from_cstr(""); /* an empty tag matches no event */
	query_expect(&query, (uint32_t[]){ s_jazz, s_blues }, 2);
}

/*
 * At the equator one micro-degree of latitude is 0.1112 m: 8,997 of them are
 * 1000.42 m (rounds to 1000, inside 1 km) and 8,998 are 1000.53 m (outside).
 */
Test(search, near_radius_boundary)
{
	uint32_t e = event_add(EVENT_TYPE_CONCERT, "A", "", NULL, NULL);
	uint32_t inside = show_add(1, e, 1000, 8997, 0);
	show_add(2, e, 2000, 8998, 0);
	uint32_t south = show_add(3, e, 3000, -8997, 0);
	uint32_t here = show_add(4, e, 4000, 0, 0);
	struct search_query query = query_make();
	query.near = true;
	query.radius_km = 1;
	struct search_index_hit hits[HITS_MAX];
	bool more;
	uint32_t count = query_run(&query, hits, &more);
	cr_assert_eq(count, 3);
	cr_assert_eq(hits[0].show_index, inside);
	cr_assert_eq(hits[0].distance_m, 1000);
	cr_assert_eq(hits[1].show_index, south);
	cr_assert_eq(hits[1].distance_m, 1000);
	cr_assert_eq(hits[2].show_index, here);
	cr_assert_eq(hits[2].distance_m, 0);
	query.radius_km = 2;
	query_expect(&query, (uint32_t[]){ inside, 1, south, here }, 4);
}

Test(search, near_measures_great_circle_distance)
{
	/* Paris to London is about 343.5 km; across the antimeridian is short too. */
	uint32_t e = event_add(EVENT_TYPE_CONCERT, "A", "", NULL, NULL);
	uint32_t london = show_add(1, e, 1000, 51507400, -127800);
	uint32_t fiji = show_add(2, e, 2000, -17000000, 179900000);
	struct search_query query = query_make();
	query.near = true;
	query.lat_e6 = 48856600;
	query.lon_e6 = 2352200;
	query.radius_km = 344;
	struct search_index_hit hits[HITS_MAX];
	bool more;
	cr_assert_eq(query_run(&query, hits, &more), 1);
	cr_assert_eq(hits[0].show_index, london);
	cr_assert(hits[0].distance_m > 343000 && hits[0].distance_m < 344000, "%" PRIu32,
		  hits[0].distance_m);
	query.radius_km = 343;
	query_expect(&query, NULL, 0);
	query.lat_e6 = -17000000;
	query.lon_e6 = -179900000; /* 0.2 degrees east of Fiji's point, over the line */
	query.radius_km = 25;
	query_expect(&query, (uint32_t[]){ fiji }, 1);
}

Test(search, time_window_from_inclusive_to_exclusive)
{
	uint32_t e = event_add(EVENT_TYPE_CONCERT, "A", "", NULL, NULL);
	uint32_t s_999 = show_add(1, e, 999, 0, 0);
	uint32_t s_1000 = show_add(2, e, 1000, 0, 0);
	uint32_t s_1999 = show_add(3, e, 1999, 0, 0);
	show_add(4, e, 2000, 0, 0);
	struct search_query query = query_make();
	query.from_ms = 1000;
	query.to_ms = 2000;
	query_expect(&query, (uint32_t[]){ s_1000, s_1999 }, 2);
	query.from_ms = 999;
	query.to_ms = 1000;
	query_expect(&query, (uint32_t[]){ s_999 }, 1);
	query.from_ms = 1000;
	query.to_ms = 1000; /* an empty window is valid */
	query_expect(&query, NULL, 0);
}

Test(search, equal_start_times_are_ordered_by_show_id)
{
	uint32_t e = event_add(EVENT_TYPE_CONCERT, "A", "", NULL, NULL);
	uint32_t id_30 = show_add(30, e, 5000, 0, 0);
	uint32_t id_10 = show_add(10, e, 5000, 0, 0);
	uint32_t id_20 = show_add(20, e, 5000, 0, 0);
	uint32_t earlier = show_add(40, e, 4000, 0, 0);
	struct search_query query = query_make();
	query_expect(&query, (uint32_t[]){ earlier, id_10, id_20, id_30 }, 4);
	/* A cursor inside the tie continues after it. */
	query.after_start_ms = 5000;
	query.after_show_id = 10;
	query_expect(&query, (uint32_t[]){ id_20, id_30 }, 2);
}

Test(search, zero_cursor_starts_before_1970)
{
	uint32_t e = event_add(EVENT_TYPE_CONCERT, "A", "", NULL, NULL);
	uint32_t old = show_add(1, e, -5000, 0, 0);
	uint32_t zero = show_add(2, e, 0, 0, 0);
	struct search_query query = query_make();
	query.from_ms = INT64_MIN;
	query_expect(&query, (uint32_t[]){ old, zero }, 2);
	query.after_start_ms = -5000;
	query.after_show_id = 1;
	query_expect(&query, (uint32_t[]){ zero }, 1);
}

Test(search, more_says_whether_another_match_exists)
{
	uint32_t e = event_add(EVENT_TYPE_CONCERT, "A", "", NULL, NULL);
	for (uint32_t i = 0; i < 5; i++)
		show_add(i + 1, e, 1000 + i, 0, 0);
	struct search_query query = query_make();
	struct search_index_hit hits[HITS_MAX];
	bool more;
	query.limit = 4;
	cr_assert_eq(query_run(&query, hits, &more), 4);
	cr_assert(more);
	query.limit = 5;
	cr_assert_eq(query_run(&query, hits, &more), 5);
	cr_assert_not(more);
	query.limit = 2;
	query.after_start_ms = 1002;
	query.after_show_id = 3;
	cr_assert_eq(query_run(&query, hits, &more), 2);
	cr_assert_not(more);
	cr_assert_eq(hits[0].show_index, 3);
}

/* Pages with limit 1..7 through a filtered result; together they are the full list. */
Test(search, paging_yields_the_full_list_once)
{
	uint32_t match = event_add(EVENT_TYPE_CONCERT, "Opera gala", "", NULL, NULL);
	uint32_t other = event_add(EVENT_TYPE_CONCERT, "Circus", "", NULL, NULL);
	for (uint32_t i = 0; i < 60; i++)
		show_add(1000 - i, i % 3 ? match : other, (int64_t)(i % 7) * 100, 0, 0);
	struct search_query query = query_make();
	query.keyword = text_from_cstr("opera");
	query.limit = 100;
	struct search_index_hit full[HITS_MAX];
	bool more;
	uint32_t full_count = query_run(&query, full, &more);
	cr_assert_eq(full_count, 40);
	for (uint32_t limit = 1; limit <= 7; limit++) {
		query.limit = limit;
		query.after_start_ms = 0;
		query.after_show_id = 0;
		uint32_t seen = 0;
		for (more = true; more;) {
			struct search_index_hit page[HITS_MAX];
			uint32_t count = query_run(&query, page, &more);
			cr_assert(count == limit || !more);
			for (uint32_t i = 0; i < count; i++, seen++) {
				cr_assert_lt(seen, full_count);
				cr_assert_eq(page[i].show_index, full[seen].show_index);
			}
			uint32_t last = page[count - 1].show_index;
			query.after_start_ms = (int64_t)(last % 7) * 100;
			query.after_show_id = 1000 - last;
		}
		cr_assert_eq(seen, full_count);
	}
}

Test(search, filters_combine)
{
	uint32_t a = event_add(EVENT_TYPE_CONCERT, "Jazz trio", "", "music", NULL);
	uint32_t b = event_add(EVENT_TYPE_COMEDY, "Jazz hands", "", "music", NULL);
	uint32_t c = event_add(EVENT_TYPE_CONCERT, "Jazz duo", "", "brass", NULL);
	uint32_t a_near = show_add(1, a, 1000, 0, 0);
	show_add(2, a, 2000, 10000000, 0); /* far away */
	show_add(3, b, 1500, 0, 0);	   /* wrong type */
	show_add(4, c, 1600, 0, 0);	   /* wrong tag */
	show_add(5, a, 9000, 0, 0);	   /* after the window */
	struct search_query query = query_make();
	query.keyword = text_from_cstr("jaz");
	query.type = EVENT_TYPE_CONCERT;
	query.tags_count = 1;
	query.tags[0] = text_from_cstr("Music");
	query.near = true;
	query.radius_km = 10;
	query.to_ms = 5000;
	query_expect(&query, (uint32_t[]){ a_near }, 1);
}

Test(search, shows_added_after_a_query_are_found)
{
	uint32_t e = event_add(EVENT_TYPE_CONCERT, "Late addition", "", NULL, NULL);
	uint32_t first = show_add(2, e, 2000, 0, 0);
	keyword_expect("late", (uint32_t[]){ first }, 1);
	uint32_t earlier = show_add(1, e, 1000, 0, 0);
	uint32_t f = event_add(EVENT_TYPE_CONCERT, "Latecomer", "", NULL, NULL);
	uint32_t other = show_add(3, f, 1500, 5000000, 5000000);
	keyword_expect("late", (uint32_t[]){ earlier, other, first }, 3);
	keyword_expect("latec", (uint32_t[]){ other }, 1);
}

/* Few shows near the point among many: found from their own list, from the
 * window's first position on. */
Test(search, sparse_near_shows_from_the_window_start)
{
	uint32_t e = event_add(EVENT_TYPE_CONCERT, "A", "", NULL, NULL);
	uint32_t near[3];
	for (uint32_t i = 0; i < 2000; i++) {
		if (i % 700 == 350)
			near[i / 700] = show_add(i + 1, e, (int64_t)i * 10, 0, 0);
		else
			show_add(i + 1, e, (int64_t)i * 10, 10000000, 0);
	}
	struct search_query query = query_make();
	query.near = true;
	query.radius_km = 5;
	query_expect(&query, near, 3);
	query.from_ms = 10500;
	query_expect(&query, near + 1, 2);
	query.from_ms = 0;
	query.after_start_ms = 10500;
	query.after_show_id = 1051;
	query_expect(&query, near + 2, 1);
}

/*
 * Filters that are not independent: the planner's guess (the product of each
 * filter's share) is far too optimistic, so the walk runs out of budget and the
 * gather must continue exactly where it stopped. `rare_near` chooses which gather:
 * few shows near the point, or few events with the keyword.
 */
static void correlated_catalog_check(bool rare_near)
{
	const int32_t far_lat = 10000000;
	const int32_t other_lat = 20000000;
	uint32_t keyword_events = rare_near ? 500 : 200;
	uint32_t near_events = rare_near ? 500 : 4600;
	uint32_t filler_events = rare_near ? 4000 : 0;
	uint32_t slots_count = 0;
	uint32_t *slots = malloc(20000 * sizeof(uint32_t)); /* event << 2 | point */
	for (uint32_t i = 0; i < keyword_events; i++) {
		uint32_t e = event_add(EVENT_TYPE_CONCERT, "alpha", "", NULL, NULL);
		slots[slots_count++] = e << 2 | 1;
		if (rare_near)
			slots[slots_count++] = e << 2 | 1;
	}
	for (uint32_t i = 0; i < near_events; i++) {
		uint32_t e = event_add(EVENT_TYPE_CONCERT, "beta", "", NULL, NULL);
		slots[slots_count++] = e << 2 | 0;
	}
	for (uint32_t i = 0; i < filler_events; i++) {
		uint32_t e = event_add(EVENT_TYPE_CONCERT, "gamma", "", NULL, NULL);
		slots[slots_count++] = e << 2 | 2, slots[slots_count++] = e << 2 | 2;
	}
	uint64_t state = 12345;
	for (uint32_t i = slots_count; i > 1; i--) {
		state = state * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t j = (uint32_t)((state >> 33) % i);
		uint32_t swap = slots[i - 1];
		slots[i - 1] = slots[j], slots[j] = swap;
	}
	for (uint32_t i = 0; i < slots_count; i++) {
		int32_t lat = (slots[i] & 3) == 0 ? 0 : (slots[i] & 3) == 1 ? far_lat : other_lat;
		show_add(i + 1, slots[i] >> 2, (int64_t)i * 10, lat, 0);
	}
	/* The only matches: one early and one late show of a keyword event, near. */
	uint32_t early = show_add(slots_count + 1, 0, 15, 0, 0);
	uint32_t late = show_add(slots_count + 2, 1, (int64_t)slots_count * 10, 0, 0);
	free(slots);

	struct search_query query = query_make();
	query.keyword = text_from_cstr("alp");
	query.near = true;
	query.radius_km = 5;
	query.limit = 3;
	query_expect(&query, (uint32_t[]){ early, late }, 2);
	struct search_index_hit hits[HITS_MAX];
	bool more;
	query.limit = 1;
	cr_assert_eq(query_run(&query, hits, &more), 1);
	cr_assert(more);
	cr_assert_eq(hits[0].show_index, early);
	query.after_start_ms = 15;
	query.after_show_id = slots_count + 1;
	query_expect(&query, (uint32_t[]){ late }, 1);
	/* A window that starts exactly at a match. */
	query = query_make();
	query.keyword = text_from_cstr("alp");
	query.near = true;
	query.radius_km = 5;
	query.from_ms = (int64_t)slots_count * 10;
	query_expect(&query, (uint32_t[]){ late }, 1);
	query.from_ms = 15;
	query.keyword = text_from_cstr("");
	query.to_ms = 20;
	query_expect(&query, (uint32_t[]){ early }, 1);
}

Test(search, correlated_filters_with_few_near_shows)
{
	correlated_catalog_check(true);
}

Test(search, correlated_filters_with_few_keyword_events)
{
	correlated_catalog_check(false);
}

static void bad_request_expect(const struct search_query *query, int which)
{
	struct search_index_hit hits[HITS_MAX];
	uint32_t count = 7;
	bool more = true;
	enum status status = search_index_query(index_under_test, query, hits, &count, &more);
	cr_assert_eq(status, STATUS_BAD_REQUEST, "case %d: status %s", which, status_name(status));
	cr_assert_eq(count, 0);
	cr_assert_not(more);
}

/* Each case breaks one field of a query that is valid otherwise (near included). */
Test(search, bad_requests_are_refused)
{
	char keyword[SEARCH_KEYWORD_SIZE_MAX + 1];
	memset(keyword, 'a', sizeof(keyword));
	uint32_t e = event_add(EVENT_TYPE_CONCERT, "A", "", NULL, NULL);
	show_add(1, e, 1000, 0, 0);
	for (int which = 0; which < 13; which++) {
		struct search_query query = query_make();
		query.near = true;
		query.radius_km = 10;
		switch (which) {
		case 0:
			query.limit = 0;
			break;
		case 1:
			query.limit = SEARCH_RESULTS_COUNT_MAX + 1;
			break;
		case 2:
			query.keyword = text_from(keyword, sizeof(keyword));
			break;
		case 3:
			query.tags_count = TAGS_COUNT_MAX + 1;
			for (uint32_t i = 0; i < TAGS_COUNT_MAX; i++)
				query.tags[i] = text_from_cstr("x");
			break;
		case 4:
			query.from_ms = 2000, query.to_ms = 1999;
			break;
		case 5:
			query.type = EVENT_TYPE_COUNT;
			break;
		case 6:
			query.type = -2;
			break;
		case 7:
			query.radius_km = 0;
			break;
		case 8:
			query.radius_km = SEARCH_RADIUS_KM_MAX + 1;
			break;
		case 9:
			query.lat_e6 = LAT_E6_MAX + 1;
			break;
		case 10:
			query.lat_e6 = -LAT_E6_MAX - 1;
			break;
		case 11:
			query.lon_e6 = LON_E6_MAX + 1;
			break;
		default:
			query.lon_e6 = -LON_E6_MAX - 1;
			break;
		}
		bad_request_expect(&query, which);
	}
	/* The same query without the broken field is fine. */
	struct search_query query = query_make();
	query.near = true;
	query.radius_km = 10;
	query_expect(&query, (uint32_t[]){ 0 }, 1);
}

Test(search, limits_at_their_maximum_are_accepted)
{
	char keyword[SEARCH_KEYWORD_SIZE_MAX];
	memset(keyword, 'a', sizeof(keyword));
	uint32_t e = event_add(EVENT_TYPE_CONCERT, "A", "", NULL, NULL);
	uint32_t s = show_add(1, e, 1000, LAT_E6_MAX, LON_E6_MAX);
	struct search_query query = query_make();
	query.limit = SEARCH_RESULTS_COUNT_MAX;
	query.keyword = text_from(keyword, sizeof(keyword));
	query_expect(&query, NULL, 0);
	query = query_make();
	query.type = EVENT_TYPE_COUNT - 1;
	query_expect(&query, NULL, 0);
	query = query_make();
	query.near = true;
	query.radius_km = SEARCH_RADIUS_KM_MAX;
	query.lat_e6 = 0;
	query.lon_e6 = -LON_E6_MAX;
	query_expect(&query, (uint32_t[]){ s }, 1);
	/* Outside `near` the coordinates are not looked at. */
	query.near = false;
	query.radius_km = 0;
	query.lat_e6 = INT32_MIN;
	query_expect(&query, (uint32_t[]){ s }, 1);
}

/* Runs the query page by page and compares every page with the model's list. */
static void model_query_check(struct search_model *model, uint64_t seed, uint32_t round)
{
	char keyword[SEARCH_KEYWORD_SIZE_MAX];
	char tag_texts[TAGS_COUNT_MAX][40];
	int tag_ids[TAGS_COUNT_MAX];
	struct search_query query;
	search_model_query_make(model, &query, keyword, sizeof(keyword), tag_ids, tag_texts);
	uint32_t *expected = malloc(((size_t)model->shows_count + 1) * sizeof(uint32_t));
	uint32_t expected_count = search_model_query_all(model, &query, keyword, tag_ids, expected);
	uint32_t seen = 0;
	for (bool more = true; more;) {
		struct search_index_hit hits[HITS_MAX];
		uint32_t count = UINT32_MAX;
		enum status status = search_index_query(model->index, &query, hits, &count, &more);
		cr_assert_eq(status, STATUS_OK, "seed %" PRIu64, seed);
		cr_assert_leq(count, query.limit, "seed %" PRIu64, seed);
		for (uint32_t i = 0; i < count; i++, seen++) {
			cr_assert_lt(seen, expected_count,
				     "seed %" PRIu64 " round %" PRIu32 ": extra hit (keyword '%s')",
				     seed, round, keyword);
			const struct search_model_show *show = &model->shows[expected[seen]];
			cr_assert_eq(hits[i].show_index, expected[seen],
				     "seed %" PRIu64 " round %" PRIu32 ": hit %" PRIu32
				     " differs (keyword '%s')",
				     seed, round, seen, keyword);
			uint32_t distance_m =
				query.near ? search_model_distance_m(query.lat_e6, query.lon_e6,
								     show->lat_e6, show->lon_e6)
					   : 0;
			cr_assert_eq(hits[i].distance_m, distance_m, "seed %" PRIu64, seed);
		}
		cr_assert(count == query.limit || !more, "seed %" PRIu64, seed);
		if (count > 0) {
			query.after_start_ms = model->shows[expected[seen - 1]].start_ms;
			query.after_show_id = model->shows[expected[seen - 1]].show_id;
		}
		if (seen >= 600) /* a long list: the first pages tell enough */
			break;
	}
	if (seen < 600)
		cr_assert_eq(seen, expected_count,
			     "seed %" PRIu64 " round %" PRIu32 ": %" PRIu32
			     " hits, expected %" PRIu32,
			     seed, round, seen, expected_count);
	free(expected);
}

Test(search, matches_a_naive_filter_on_random_catalogs)
{
	uint64_t seed =
		(uint64_t)strtoull(getenv("SEARCH_SEED") ? getenv("SEARCH_SEED") : "0", NULL, 0);
	if (seed == 0)
		seed = 0x5eed0001u;
	fprintf(stderr, "search random test: seed %" PRIu64 " (set SEARCH_SEED to repeat)\n", seed);
	struct search_model model = { .rng = seed, .index = search_index_create() };
	const uint32_t events_max = 3000;
	const uint32_t shows_max = 8000;
	model.events = calloc(events_max, sizeof(*model.events));
	model.shows = calloc(shows_max, sizeof(*model.shows));
	for (uint32_t p = 0; p < SEARCH_MODEL_POINTS_COUNT; p++) {
		model.points[p][0] = (int32_t)search_model_below(&model, 2 * 89000000) - 89000000;
		model.points[p][1] = (int32_t)search_model_below(&model, 2 * 179000000) - 179000000;
	}
	/* The catalog grows between rounds of queries, so lazy refreshes are exercised. */
	for (uint32_t round = 0; round < 400; round++) {
		uint32_t events_target = events_max * (round + 1) / 400;
		uint32_t shows_target = shows_max * (round + 1) / 400;
		while (model.events_count < events_target)
			search_model_event_add(&model);
		while (model.shows_count < shows_target)
			search_model_show_add(&model);
		for (uint32_t q = 0; q < 5; q++)
			model_query_check(&model, seed, round);
	}
	free(model.events);
	free(model.shows);
	search_index_destroy(model.index);
}
