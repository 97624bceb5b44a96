/*
 * search.c — the catalog's search index (SPEC §2; the contract is in search.h):
 * creating it and running queries. The event side (dictionaries of terms and their
 * postings) is in search_terms.c, the show side (shows in key order, venue points)
 * in search_shows.c; search_internal.h holds the structures they share.
 *
 * What it holds:
 * - Dictionaries of terms (the words and tags of every event) with the events that
 *   have each; the words also in byte order, so that the words that start with a
 *   query word form one contiguous range (search_terms.c).
 * - A bitmap of events per type, and the distinct venue points in latitude order.
 * - The shows sorted by key (start_ms, show_id), each with its event and point,
 *   and per event and per point the positions of its shows, ascending. A query's
 *   window and cursor are one range of positions; the result is the first limit + 1
 *   matches (the extra one only says that there are more).
 *
 * The catalog only appends: new shows wait in an unsorted tail that queries scan
 * until a query merges it in (search_shows.c says when).
 *
 * A query makes a bitmap of the events that pass the event filters (each keyword
 * word's range of postings, the tags' postings and the type's bitmap, ANDed), marks
 * the points within its radius, then finds shows one of two ways:
 * - walk: positions in order, one bit and one mark test each, until enough match;
 *   cheap when matches are frequent;
 * - gather: the position lists of the matching events (or of the points in range)
 *   into a heap of the smallest keys; cheap when matches are rare.
 * The walk goes first when it looks cheaper, with a budget worth the gather's
 * estimate; the gather finishes from where the walk stopped if the budget runs out.
 * Filters that are not independent thus cost at most about twice the better plan.
 *
 * Distance: haversine in doubles from integer micro-degrees, rounded to the nearest
 * metre; a show matches when that is at most radius_km * 1000, so that a hit never
 * reports a distance above the radius asked for.
 *
 * Invariants: shows[0, shows_sorted_count) ascend strictly by key and the position
 * lists hold exactly those; list postings ascend strictly; sorted terms ascend.
 *
 * Sizes: 100,000 events with 250,000 shows take about 175 bytes per event; the
 * benchmark's realistic queries take about 6 us at the median, 40 us at the 99th
 * percentile (bench_search). Up to 1024 + 1/32 of the shows wait in the tail.
 */
#include "search_internal.h"

#include <math.h>
#include <string.h>

#include "memory.h"

#define SEARCH_EARTH_RADIUS_M 6371008.8
/* "a a a …": one word per two bytes. */
#define SEARCH_QUERY_WORDS_COUNT_MAX (SEARCH_KEYWORD_SIZE_MAX / 2)
/* A walk reads one sequential entry per show; a gather touches a list, scattered
 * entries and a heap. How many walk steps one unit of gather work is worth. */
#define SEARCH_WALK_STEPS_PER_GATHER 4.0

/* One query in progress. */
struct search_plan {
	const struct search_query *query;
	uint32_t position_first; /* the first sorted show after the cursor and from_ms */
	uint32_t position_end;	 /* the first sorted show at or after to_ms */
	uint32_t wanted;	 /* limit + 1 */
	uint32_t mask_words_count;
	bool masked; /* index->mask holds the event filters' result */
	bool near;   /* marked points (index->near_points) are within the radius */
	uint64_t events_count;
	uint32_t near_points_count;
	uint64_t near_shows_count; /* sorted shows at those points */
	uint32_t heap_count;
	uint32_t heap[SEARCH_RESULTS_COUNT_MAX + 1]; /* indices into shows, max-heap by key */
};

struct search_index *search_index_create(void)
{
	/* memory_alloc() aborts instead of returning NULL, so this never fails. */
	struct search_index *index = memory_alloc(sizeof(*index));
	ASSERT(index->shows_count == 0 && index->events_count == 0);
	return index;
}

void search_index_destroy(struct search_index *index)
{
	if (index == NULL)
		return;
	search_dict_destroy(&index->words);
	search_dict_destroy(&index->tags);
	search_dict_destroy(&index->point_keys);
	memory_free(index->events);
	for (uint32_t type = 0; type < EVENT_TYPE_COUNT; type++)
		memory_free(index->type_bits[type]);
	memory_free(index->points);
	memory_free(index->points_by_lat);
	memory_free(index->shows);
	memory_free(index->event_positions);
	memory_free(index->point_positions);
	memory_free(index->mask);
	memory_free(index->term_bits);
	memory_free(index->near_points);
	memory_free(index);
}

static bool search_query_valid(const struct search_query *query)
{
	ASSERT(query->keyword.size == 0 || query->keyword.bytes != NULL);
	if (query->limit == 0 || query->limit > SEARCH_RESULTS_COUNT_MAX)
		return false;
	if (query->keyword.size > SEARCH_KEYWORD_SIZE_MAX || query->tags_count > TAGS_COUNT_MAX)
		return false;
	if (query->from_ms > query->to_ms)
		return false;
	if (query->type < -1 || query->type >= EVENT_TYPE_COUNT)
		return false;
	if (!query->near)
		return true;
	if (query->lat_e6 < -LAT_E6_MAX || query->lat_e6 > LAT_E6_MAX)
		return false;
	if (query->lon_e6 < -LON_E6_MAX || query->lon_e6 > LON_E6_MAX)
		return false;
	return query->radius_km >= 1 && query->radius_km <= SEARCH_RADIUS_KM_MAX;
}

/* (0, 0) is "from the beginning", also for shows that start before 1970. */
static bool search_query_has_cursor(const struct search_query *query)
{
	return query->after_start_ms != 0 || query->after_show_id != 0;
}

/* Cleared room for a filter's events: the mask itself when it is the first. */
static uint64_t *search_filter_bits(struct search_index *index, const struct search_plan *plan)
{
	uint64_t *bits = plan->masked ? index->term_bits : index->mask;
	memset(bits, 0, (size_t)plan->mask_words_count * sizeof(uint64_t));
	return bits;
}

/* Folds a filter's events into the mask; false when that leaves it empty (an
 * empty first filter is left for the final count to find). */
static bool search_mask_and(struct search_index *index, struct search_plan *plan,
			    const uint64_t *bits)
{
	/* Locals, so that the compiler need not fear that mask stores change them. */
	uint64_t *mask = index->mask;
	uint32_t words_count = plan->mask_words_count;
	if (!plan->masked) {
		if (bits != mask)
			memcpy(mask, bits, (size_t)words_count * sizeof(uint64_t));
		plan->masked = true;
		return true;
	}
	ASSERT(bits != mask);
	uint64_t any = 0;
	for (uint32_t word = 0; word < words_count; word++) {
		mask[word] &= bits[word];
		any |= mask[word];
	}
	return any != 0;
}

/*
 * Narrows the mask to the events with a word that starts with each query word.
 * A range that holds another one is implied by it and skipped; the narrowest go
 * first, so that an empty mask ends the work early. False when nothing matches.
 */
static bool search_keyword_apply(struct search_index *index, struct search_plan *plan,
				 struct text keyword)
{
	char word[SEARCH_KEYWORD_SIZE_MAX];
	struct search_range ranges[SEARCH_QUERY_WORDS_COUNT_MAX];
	uint32_t count = 0;
	uint32_t offset = 0;
	for (uint32_t size; (size = search_word_next(keyword, &offset, word)) > 0; count++) {
		ASSERT(count < SEARCH_QUERY_WORDS_COUNT_MAX);
		struct search_range range = search_words_range(&index->words, word, size);
		if (range.first == range.end)
			return false;
		uint32_t at = count; /* insertion sort by width */
		for (;
		     at > 0 && ranges[at - 1].end - ranges[at - 1].first > range.end - range.first;
		     at--)
			ranges[at] = ranges[at - 1];
		ranges[at] = range;
	}
	for (uint32_t i = 0; i < count; i++) {
		bool implied = false;
		for (uint32_t j = 0; j < i; j++)
			implied |= ranges[j].first >= ranges[i].first &&
				   ranges[j].end <= ranges[i].end;
		if (implied)
			continue;
		uint64_t *bits = search_filter_bits(index, plan);
		for (uint32_t rank = ranges[i].first; rank < ranges[i].end; rank++)
			search_bits_postings_set(bits, plan->mask_words_count,
						 &index->words.terms[index->words.sorted[rank]]);
		if (!search_mask_and(index, plan, bits))
			return false;
	}
	return true;
}

static bool search_tags_apply(struct search_index *index, struct search_plan *plan,
			      const struct search_query *query)
{
	ASSERT(query->tags_count > 0 && query->tags_count <= TAGS_COUNT_MAX);
	uint64_t *bits = search_filter_bits(index, plan);
	for (uint8_t i = 0; i < query->tags_count; i++) {
		char normal[TAG_SIZE_MAX];
		/* A query tag that no event could have simply matches nothing. */
		if (!search_tag_normalize(query->tags[i], normal))
			continue;
		uint32_t term = search_dict_find(&index->tags, normal, query->tags[i].size);
		if (term != UINT32_MAX)
			search_bits_postings_set(bits, plan->mask_words_count,
						 &index->tags.terms[term]);
	}
	return search_mask_and(index, plan, bits);
}

/* Rounded to the nearest metre; at most half the circumference, so it fits. */
static uint32_t search_distance_m(const struct search_point *point, double lat_rad, double lon_rad,
				  double lat_cos)
{
	double sin_lat = sin((point->lat_rad - lat_rad) / 2);
	double sin_lon = sin((point->lon_rad - lon_rad) / 2);
	double a = sin_lat * sin_lat + lat_cos * point->lat_cos * sin_lon * sin_lon;
	double distance_m = 2 * SEARCH_EARTH_RADIUS_M * asin(sqrt(a < 1 ? a : 1));
	ASSERT(distance_m >= 0 && distance_m < 2.1e7);
	return (uint32_t)(distance_m + 0.5);
}

/* Marks the points within the radius and lists them in index->near_points; false
 * when there are none. */
static bool search_near_apply(struct search_index *index, struct search_plan *plan,
			      const struct search_query *query)
{
	if (++index->mark == 0) { /* the stamp wrapped: forget every old mark */
		for (uint32_t p = 0; p < index->points_count; p++)
			index->points[p].mark = 0;
		index->mark = 1;
	}
	double lat_rad = search_radians(query->lat_e6);
	double lon_rad = search_radians(query->lon_e6);
	double lat_cos = cos(lat_rad);
	uint32_t radius_m = query->radius_km * 1000;
	/* No point further in latitude than the radius can be within it (with a margin
	 * for rounding), so only the points of that band are measured. */
	double band_e6 = ((double)radius_m + 1) / SEARCH_EARTH_RADIUS_M * (180e6 / SEARCH_PI) + 2;
	int64_t lat_low = query->lat_e6 - (int64_t)band_e6;
	int64_t lat_high = query->lat_e6 + (int64_t)band_e6;
	uint32_t low = 0;
	uint32_t high = index->points_sorted_count;
	while (low < high) {
		uint32_t middle = low + (high - low) / 2;
		if (index->points[index->points_by_lat[middle]].lat_e6 < lat_low)
			low = middle + 1;
		else
			high = middle;
	}
	plan->near = true;
	for (uint32_t rank = low; rank < index->points_sorted_count; rank++) {
		uint32_t p = index->points_by_lat[rank];
		struct search_point *point = &index->points[p];
		if (point->lat_e6 > lat_high)
			break;
		uint32_t distance_m = search_distance_m(point, lat_rad, lon_rad, lat_cos);
		if (distance_m > radius_m)
			continue;
		point->mark = index->mark;
		point->distance_m = distance_m;
		index->near_points[plan->near_points_count++] = p;
		plan->near_shows_count += point->positions.count;
	}
	ASSERT(plan->near_points_count <= index->points_count);
	return plan->near_points_count > 0;
}

/* Counts set bits (SWAR: a portable build has no popcount instruction). */
static uint64_t search_bits_count(const uint64_t *bits, uint32_t words_count)
{
	uint64_t count = 0;
	for (uint32_t word = 0; word < words_count; word++) {
		uint64_t x = bits[word];
		x = x - ((x >> 1) & 0x5555555555555555ull);
		x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
		x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
		count += (x * 0x0101010101010101ull) >> 56;
	}
	ASSERT(count <= (uint64_t)words_count * 64);
	return count;
}

/* Sets up the plan: its range of sorted positions, the event mask and the points
 * within the radius. Returns false when nothing can match. */
static bool search_plan_prepare(struct search_index *index, struct search_plan *plan,
				const struct search_query *query)
{
	*plan = (struct search_plan){ .query = query, .wanted = query->limit + 1 };
	plan->mask_words_count = (index->events_count + 63) / 64;
	plan->position_first = search_shows_bound(index, query->from_ms, 0, true);
	if (search_query_has_cursor(query)) {
		uint32_t after = search_shows_bound(index, query->after_start_ms,
						    query->after_show_id, false);
		plan->position_first = after > plan->position_first ? after : plan->position_first;
	}
	plan->position_end = search_shows_bound(index, query->to_ms, 0, true);
	if (query->keyword.size > 0 && !search_keyword_apply(index, plan, query->keyword))
		return false;
	if (query->tags_count > 0 && !search_tags_apply(index, plan, query))
		return false;
	if (query->type >= 0 && !search_mask_and(index, plan, index->type_bits[query->type]))
		return false;
	if (plan->masked) {
		plan->events_count = search_bits_count(index->mask, plan->mask_words_count);
		if (plan->events_count == 0)
			return false;
	}
	return !query->near || search_near_apply(index, plan, query);
}

/* Whether the show passes the event filters and the radius (not the window). */
static inline bool search_show_passes(const struct search_index *index,
				      const struct search_plan *plan,
				      const struct search_show *show)
{
	uint32_t e = show->event_index;
	if (plan->masked && ((index->mask[e / 64] >> (e % 64)) & 1) == 0)
		return false;
	return !plan->near || index->points[show->point_index].mark == index->mark;
}

/* Whether the show at position a comes before the one at b. Sorted positions are
 * in key order already, so only the tail's shows need their keys read. */
static bool search_position_before(const struct search_index *index, uint32_t a, uint32_t b)
{
	if (a < index->shows_sorted_count && b < index->shows_sorted_count)
		return a < b;
	return search_show_before(&index->shows[a], &index->shows[b]);
}

/* Whether the heap has room, or the show comes before its largest. */
static bool search_heap_accepts(const struct search_index *index, const struct search_plan *plan,
				uint32_t position)
{
	return plan->heap_count < plan->wanted ||
	       search_position_before(index, position, plan->heap[0]);
}

/* Puts position at the root of heap[0, count) and moves it down to its place. */
static void search_heap_sift_down(const struct search_index *index, uint32_t *heap, uint32_t count,
				  uint32_t position)
{
	ASSERT(count > 0);
	uint32_t at = 0;
	for (uint32_t child; (child = 2 * at + 1) < count; at = child) {
		if (child + 1 < count &&
		    search_position_before(index, heap[child], heap[child + 1]))
			child++;
		if (search_position_before(index, heap[child], position))
			break;
		heap[at] = heap[child];
	}
	heap[at] = position;
}

/* Keeps the show among the `wanted` smallest seen; search_heap_accepts() holds. */
static void search_heap_offer(const struct search_index *index, struct search_plan *plan,
			      uint32_t position)
{
	ASSERT(search_heap_accepts(index, plan, position));
	if (plan->heap_count == plan->wanted) {
		search_heap_sift_down(index, plan->heap, plan->heap_count, position);
		return;
	}
	uint32_t at = plan->heap_count++;
	for (; at > 0 && search_position_before(index, plan->heap[(at - 1) / 2], position);
	     at = (at - 1) / 2)
		plan->heap[at] = plan->heap[(at - 1) / 2];
	plan->heap[at] = position;
}

/* Tests sorted positions in order from `position`, at most `budget` of them.
 * Returns where it stopped: the end, past the last hit wanted, or out of budget. */
static uint32_t search_walk(const struct search_index *index, struct search_plan *plan,
			    uint32_t position, uint64_t budget)
{
	uint32_t end = plan->position_end;
	ASSERT(position <= end && plan->heap_count < plan->wanted);
	if (budget < end - position)
		end = position + (uint32_t)budget;
	/* Locals: the heap stores below must not make the compiler reload them. */
	const uint64_t *mask = plan->masked ? index->mask : NULL;
	const struct search_point *points = plan->near ? index->points : NULL;
	uint32_t mark = index->mark;
	for (; position < end; position++) {
		const struct search_show *show = &index->shows[position];
		uint32_t e = show->event_index;
		if (mask != NULL && ((mask[e / 64] >> (e % 64)) & 1) == 0)
			continue;
		if (points != NULL && points[show->point_index].mark != mark)
			continue;
		search_heap_offer(index, plan, position);
		if (plan->heap_count == plan->wanted)
			return position + 1;
	}
	return position;
}

/*
 * Offers the shows of one list of ascending positions that lie in [first, end). An
 * event's list passes the event filters, a near point's list the radius: only the
 * other filter is tested, so that a show's entry is read only when it must be.
 */
static void search_gather_list(const struct search_index *index, struct search_plan *plan,
			       const uint32_t *positions, uint32_t count, uint32_t first,
			       bool by_points)
{
	uint32_t low = 0;
	uint32_t high = count;
	while (low < high) { /* event lists are short, point lists long */
		uint32_t middle = low + (high - low) / 2;
		if (positions[middle] < first)
			low = middle + 1;
		else
			high = middle;
	}
	for (uint32_t i = low; i < count; i++) {
		uint32_t position = positions[i];
		if (position >= plan->position_end || !search_heap_accepts(index, plan, position))
			break; /* the rest of the list comes later still */
		bool passes = by_points ? !plan->masked : !plan->near;
		if (!passes)
			passes = search_show_passes(index, plan, &index->shows[position]);
		if (passes)
			search_heap_offer(index, plan, position);
	}
	ASSERT(plan->heap_count <= plan->wanted);
}

/* Offers the matches from `first` on, from the lists of the points in range or
 * of the events in the mask. */
static void search_gather(const struct search_index *index, struct search_plan *plan,
			  uint32_t first, bool by_points)
{
	if (by_points) {
		for (uint32_t i = 0; i < plan->near_points_count; i++) {
			const struct search_point *point = &index->points[index->near_points[i]];
			search_gather_list(index, plan,
					   index->point_positions + point->positions.first,
					   point->positions.count, first, true);
		}
		return;
	}
	ASSERT(plan->masked);
	for (uint32_t word = 0; word < plan->mask_words_count; word++) {
		for (uint64_t bits = index->mask[word]; bits != 0; bits &= bits - 1) {
			const struct search_positions *event =
				&index->events[word * 64 + (uint32_t)__builtin_ctzll(bits)];
			search_gather_list(index, plan, index->event_positions + event->first,
					   event->count, first, false);
		}
	}
}

/* Finds the matches among the sorted shows (see the file comment). Costs are in
 * gathered shows; the filters' combined share is guessed as if independent. */
static void search_plan_run(const struct search_index *index, struct search_plan *plan)
{
	double window = plan->position_end - plan->position_first;
	ASSERT(window > 0);
	if (!plan->masked && !plan->near) {
		search_walk(index, plan, plan->position_first, UINT64_MAX);
		return;
	}
	double shows = index->shows_sorted_count;
	double share = 1;
	double gather_events = HUGE_VAL;
	double gather_points = HUGE_VAL;
	if (plan->masked) {
		double events = plan->events_count;
		share *= events / index->events_count;
		gather_events =
			plan->mask_words_count / 8.0 + events * (1 + shows / index->events_count);
	}
	if (plan->near) {
		share *= plan->near_shows_count / shows;
		gather_points =
			plan->near_points_count * 8.0 + plan->near_shows_count * window / shows;
	}
	double budget = SEARCH_WALK_STEPS_PER_GATHER *
			(gather_events < gather_points ? gather_events : gather_points);
	uint32_t first = plan->position_first;
	if (plan->wanted / share < budget || window < budget) {
		first = search_walk(index, plan, first, (uint64_t)budget + 1);
		if (first == plan->position_end || plan->heap_count == plan->wanted)
			return;
	}
	/* The walk's hits all come before `first`, so the gather only adds to them. */
	search_gather(index, plan, first, gather_points < gather_events);
}

/* Offers the matches among the shows not sorted yet. */
static void search_tail_scan(const struct search_index *index, struct search_plan *plan)
{
	const struct search_query *query = plan->query;
	struct search_show cursor = { .start_ms = query->after_start_ms,
				      .show_id = query->after_show_id };
	for (uint32_t position = index->shows_sorted_count; position < index->shows_count;
	     position++) {
		const struct search_show *show = &index->shows[position];
		if (show->start_ms < query->from_ms || show->start_ms >= query->to_ms)
			continue;
		if (search_query_has_cursor(query) && !search_show_before(&cursor, show))
			continue;
		if (search_show_passes(index, plan, show) &&
		    search_heap_accepts(index, plan, position))
			search_heap_offer(index, plan, position);
	}
	ASSERT(plan->heap_count <= plan->wanted);
}

/* Writes the hits in key order and whether there are more. */
static void search_plan_emit(const struct search_index *index, struct search_plan *plan,
			     struct search_index_hit *hits, uint32_t *hits_count, bool *more)
{
	/* Heap sort: moving the largest behind the shrinking heap leaves it ascending. */
	for (uint32_t count = plan->heap_count; count > 1; count--) {
		uint32_t largest = plan->heap[0];
		search_heap_sift_down(index, plan->heap, count - 1, plan->heap[count - 1]);
		plan->heap[count - 1] = largest;
	}
	*more = plan->heap_count > plan->query->limit;
	*hits_count = *more ? plan->query->limit : plan->heap_count;
	for (uint32_t i = 0; i < *hits_count; i++) {
		const struct search_show *show = &index->shows[plan->heap[i]];
		ASSERT(i == 0 || search_position_before(index, plan->heap[i - 1], plan->heap[i]));
		hits[i].show_index = show->show_index;
		hits[i].distance_m = plan->near ? index->points[show->point_index].distance_m : 0;
	}
}

enum status search_index_query(struct search_index *index, const struct search_query *query,
			       struct search_index_hit *hits, uint32_t *hits_count, bool *more)
{
	ASSERT(index != NULL && query != NULL);
	ASSERT(hits != NULL && hits_count != NULL && more != NULL);
	*hits_count = 0;
	*more = false;
	if (!search_query_valid(query))
		return STATUS_BAD_REQUEST;
	search_index_refresh(index);
	struct search_plan plan;
	if (search_plan_prepare(index, &plan, query)) {
		if (plan.position_first < plan.position_end)
			search_plan_run(index, &plan);
		search_tail_scan(index, &plan);
	}
	search_plan_emit(index, &plan, hits, hits_count, more);
	return STATUS_OK;
}

size_t search_index_memory(const struct search_index *index)
{
	ASSERT(index != NULL);
	size_t bytes = sizeof(*index) + search_dict_memory(&index->words) +
		       search_dict_memory(&index->tags) + search_dict_memory(&index->point_keys);
	bytes += (size_t)index->events_capacity * sizeof(struct search_positions);
	for (uint32_t type = 0; type < EVENT_TYPE_COUNT; type++)
		bytes += (size_t)index->type_bits_capacity[type] * sizeof(uint64_t);
	bytes += (size_t)index->points_capacity * sizeof(struct search_point);
	bytes += (size_t)index->points_by_lat_capacity * sizeof(uint32_t);
	bytes += (size_t)index->shows_capacity * sizeof(struct search_show);
	bytes += (size_t)index->event_positions_capacity * sizeof(uint32_t);
	bytes += (size_t)index->point_positions_capacity * sizeof(uint32_t);
	bytes += (size_t)(index->mask_capacity + index->term_bits_capacity) * sizeof(uint64_t);
	bytes += (size_t)index->near_points_capacity * sizeof(uint32_t);
	ASSERT(bytes >= sizeof(*index));
	return bytes;
}
