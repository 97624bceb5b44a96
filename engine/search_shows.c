/*
 * search_shows.c — the show side of the search index: the shows in key order
 * (start_ms, show_id), the distinct venue points, and the position lists that lead
 * from an event or a point to its shows (see search_internal.h).
 *
 * The catalog only appends. New shows wait in an unsorted tail that queries scan,
 * until it is longer than 1024 + 1/32 of the sorted shows and a query merges it in
 * (sort, linear merge, position lists rebuilt). Loading a catalog is never
 * quadratic, and a query after one more show does not pay for a full merge. New
 * words and points are put in order by the next query.
 *
 * Invariants: shows[0, shows_sorted_count) ascend strictly by key and the position
 * lists hold exactly those; points_by_lat[0, points_sorted_count) ascend by latitude.
 */
#include "search_internal.h"

#include <math.h>
#include <string.h>

#include "memory.h"

/* The unsorted tail of shows that queries scan before it is merged. */
#define SEARCH_TAIL_COUNT_MIN 1024u

static int points_lat_compare(const void *context, uint32_t a, uint32_t b)
{
	const struct search_point *points = context;
	return points[a].lat_e6 < points[b].lat_e6 ? -1 : points[a].lat_e6 > points[b].lat_e6;
}

static void shows_merge(struct search_show *shows, uint32_t left, const struct search_show *right,
			uint32_t right_count)
{
	uint32_t write = left + right_count;
	while (right_count > 0) {
		if (left > 0 && search_show_before(&right[right_count - 1], &shows[left - 1]))
			shows[--write] = shows[--left];
		else
			shows[--write] = right[--right_count];
	}
	ASSERT(write == left);
}

static void shows_sort(struct search_show *shows, struct search_show *temp, uint32_t count)
{
	if (count < 2)
		return;
	uint32_t half = count / 2;
	shows_sort(shows, temp, half);
	shows_sort(shows + half, temp, count - half);
	memcpy(temp, shows + half, (size_t)(count - half) * sizeof(*shows));
	shows_merge(shows, half, temp, count - half);
}

/* Returns the index of the point at those coordinates, adding it when new. */
static uint32_t index_point_intern(struct search_index *index, int32_t lat_e6, int32_t lon_e6)
{
	char key[2 * sizeof(int32_t)];
	memcpy(key, &lat_e6, sizeof(lat_e6));
	memcpy(key + sizeof(lat_e6), &lon_e6, sizeof(lon_e6));
	uint32_t p = search_dict_intern(&index->point_keys, key, sizeof(key));
	if (p < index->points_count)
		return p;
	ASSERT(p == index->points_count);
	ARRAY_RESERVE(index->points, index->points_capacity, (uint64_t)p + 1);
	ARRAY_RESERVE(index->points_by_lat, index->points_by_lat_capacity, (uint64_t)p + 1);
	index->points[p] = (struct search_point){
		.lat_e6 = lat_e6,
		.lon_e6 = lon_e6,
		.lat_rad = search_radians(lat_e6),
		.lon_rad = search_radians(lon_e6),
		.lat_cos = cos(search_radians(lat_e6)),
	};
	index->points_by_lat[p] = p; /* put in order by the next query */
	index->points_count++;
	return p;
}

void search_index_show_add(struct search_index *index, uint32_t show_index, uint32_t show_id,
			   uint32_t event_index, int64_t start_ms, int32_t lat_e6, int32_t lon_e6)
{
	ASSERT(index != NULL && show_index == index->shows_count && show_index < UINT32_MAX);
	ASSERT(event_index < index->events_count && show_id != 0);
	ASSERT(lat_e6 >= -LAT_E6_MAX && lat_e6 <= LAT_E6_MAX);
	ASSERT(lon_e6 >= -LON_E6_MAX && lon_e6 <= LON_E6_MAX);

	uint32_t point = index_point_intern(index, lat_e6, lon_e6);
	ARRAY_RESERVE(index->shows, index->shows_capacity, (uint64_t)show_index + 1);
	index->shows[show_index] = (struct search_show){
		.start_ms = start_ms,
		.show_id = show_id,
		.show_index = show_index,
		.event_index = event_index,
		.point_index = point,
	};
	index->shows_count++;
}

/* Fills positions[] grouped by the shows' events, or by their points (a counting
 * sort); each group is ascending because it is filled from the back. */
static void index_positions_fill(const struct search_index *index, struct search_positions *groups,
				 uint32_t groups_count, uint32_t *positions, bool by_point)
{
	for (uint32_t g = 0; g < groups_count; g++)
		groups[g] = (struct search_positions){ 0 };
	for (uint32_t position = 0; position < index->shows_count; position++) {
		const struct search_show *show = &index->shows[position];
		groups[by_point ? show->point_index : show->event_index].count++;
	}
	uint32_t sum = 0;
	for (uint32_t g = 0; g < groups_count; g++) {
		sum += groups[g].count;
		groups[g].first = sum; /* the group's end, until filled */
	}
	ASSERT(sum == index->shows_count);
	for (uint32_t position = index->shows_count; position-- > 0;) {
		const struct search_show *show = &index->shows[position];
		positions[--groups[by_point ? show->point_index : show->event_index].first] =
			position;
	}
}

/* Sorts the tail of shows, merges it in and rebuilds the position lists. */
static void index_shows_merge(struct search_index *index)
{
	uint32_t sorted = index->shows_sorted_count;
	uint32_t tail = index->shows_count - sorted;
	ASSERT(tail > 0);
	struct search_show *temp = memory_alloc((size_t)tail * sizeof(*temp));
	shows_sort(index->shows + sorted, temp, tail);
	memcpy(temp, index->shows + sorted, (size_t)tail * sizeof(*temp));
	shows_merge(index->shows, sorted, temp, tail);
	memory_free(temp);
	for (uint32_t position = sorted ? sorted - 1 : 0; position + 1 < index->shows_count;
	     position++)
		ASSERT(search_show_before(&index->shows[position], &index->shows[position + 1]));
	index->shows_sorted_count = index->shows_count;

	ARRAY_RESERVE(index->event_positions, index->event_positions_capacity, index->shows_count);
	ARRAY_RESERVE(index->point_positions, index->point_positions_capacity, index->shows_count);
	index_positions_fill(index, index->events, index->events_count, index->event_positions,
			     false);
	struct search_positions *groups =
		memory_alloc((size_t)index->points_count * sizeof(*groups));
	index_positions_fill(index, groups, index->points_count, index->point_positions, true);
	for (uint32_t p = 0; p < index->points_count; p++)
		index->points[p].positions = groups[p];
	memory_free(groups);
}

/* Brings the sorted structures up to date and sizes the query scratch. */
void search_index_refresh(struct search_index *index)
{
	search_dict_sort(&index->words);
	search_ids_sort_tail(index->points_by_lat, index->points_sorted_count, index->points_count,
			     points_lat_compare, index->points);
	index->points_sorted_count = index->points_count;
	uint32_t sorted = index->shows_sorted_count;
	if (index->shows_count - sorted > SEARCH_TAIL_COUNT_MIN + sorted / 32)
		index_shows_merge(index);

	uint64_t words_count = ((uint64_t)index->events_count + 63) / 64;
	ARRAY_RESERVE(index->mask, index->mask_capacity, words_count);
	ARRAY_RESERVE(index->term_bits, index->term_bits_capacity, words_count);
	for (uint32_t type = 0; type < EVENT_TYPE_COUNT; type++)
		ARRAY_RESERVE(index->type_bits[type], index->type_bits_capacity[type], words_count);
	ARRAY_RESERVE(index->near_points, index->near_points_capacity, index->points_count);
}

/* The first sorted position whose key is above (start_ms, show_id), or at it when
 * inclusive. */
uint32_t search_shows_bound(const struct search_index *index, int64_t start_ms,
			    uint32_t show_id, bool inclusive)
{
	struct search_show key = { .start_ms = start_ms, .show_id = show_id };
	uint32_t low = 0;
	uint32_t high = index->shows_sorted_count;
	while (low < high) {
		uint32_t middle = low + (high - low) / 2;
		const struct search_show *show = &index->shows[middle];
		if (inclusive ? search_show_before(show, &key) : !search_show_before(&key, show))
			low = middle + 1;
		else
			high = middle;
	}
	ASSERT(low <= index->shows_sorted_count);
	return low;
}
