/*
 * search.c — the catalog's search index (SPEC §2; the contract is in search.h).
 *
 * What it holds:
 * - Dictionaries of terms, normalized (ASCII letters lower-cased, other bytes kept):
 *   `words`, each word of every title, description and tag; `tags`, each whole tag.
 *   A term's postings are the events that have it: a list, ascending, while the
 *   term is rare; a bitmap once it is in 1 event of 32 (smaller then, and merged 64
 *   events at a time). `words` keeps its terms in byte order too, so that the words
 *   that start with a query word form one contiguous range.
 * - A bitmap of events per type, and the distinct venue points in latitude order.
 * - The shows sorted by key (start_ms, show_id), each with its event and point,
 *   and per event and per point the positions of its shows, ascending. A query's
 *   window and cursor are one range of positions; the result is the first limit + 1
 *   matches (the extra one only says that there are more).
 *
 * The catalog only appends. New shows wait in an unsorted tail that queries scan,
 * until it is longer than 1024 + 1/32 of the sorted shows and a query merges it in
 * (sort, linear merge, position lists rebuilt). Loading a catalog is never
 * quadratic, and a query after one more show does not pay for a full merge. New
 * words and points are put in order by the next query.
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
#include "search.h"

#include <math.h>
#include <string.h>

#include "memory.h"

#define SEARCH_EARTH_RADIUS_M 6371008.8
#define SEARCH_PI 3.14159265358979323846
/* The longest word is a whole description without a separator. */
#define SEARCH_WORD_SIZE_MAX DESCRIPTION_SIZE_MAX
/* "a a a …": one word per two bytes. */
#define SEARCH_QUERY_WORDS_COUNT_MAX (SEARCH_KEYWORD_SIZE_MAX / 2)
/* Fewer new terms or points than this are inserted one by one; more are sorted. */
#define SEARCH_INSERT_COUNT_MAX 64u
/* The unsorted tail of shows that queries scan before it is merged. */
#define SEARCH_TAIL_COUNT_MIN 1024u
/* A walk reads one sequential entry per show; a gather touches a list, scattered
 * entries and a heap. How many walk steps one unit of gather work is worth. */
#define SEARCH_WALK_STEPS_PER_GATHER 4.0

struct search_term {
	uint32_t bytes_offset; /* into search_dict.bytes */
	uint32_t size : 31;    /* 1..SEARCH_WORD_SIZE_MAX */
	uint32_t dense : 1;    /* postings are a bitmap of events, not a list */
	uint32_t postings_count;
	uint32_t postings_capacity; /* list entries, or bitmap words */
	union {
		uint32_t *postings; /* event indices, strictly ascending */
		uint64_t *bits;	    /* bit e set: event e has the term */
	};
};

struct search_dict {
	struct search_term *terms;
	uint32_t terms_count;
	uint32_t terms_capacity;
	char *bytes; /* every term's bytes, back to back */
	uint32_t bytes_size;
	uint32_t bytes_capacity;
	uint32_t *slots;      /* hash table of term index + 1 (0 = empty), at most half full */
	uint32_t slots_count; /* 0 or a power of two */
	uint32_t *sorted;     /* term indices [0, sorted_count) in byte order */
	uint32_t sorted_count;
	uint32_t sorted_capacity;
};

/* Shows of an event (or at a point) among the sorted shows. */
struct search_positions {
	uint32_t first; /* into event_positions (point_positions) */
	uint32_t count;
};

struct search_point {
	int32_t lat_e6;
	int32_t lon_e6;
	double lat_rad;
	double lon_rad;
	double lat_cos;
	struct search_positions positions;
	uint32_t mark;	     /* == search_index.mark: within the current query's radius */
	uint32_t distance_m; /* from the current query's point, when marked */
};

struct search_show {
	int64_t start_ms;
	uint32_t show_id; /* 1.. */
	uint32_t show_index;
	uint32_t event_index;
	uint32_t point_index;
};

struct search_index {
	struct search_dict words;
	struct search_dict tags;
	struct search_dict point_keys; /* (lat_e6, lon_e6) bytes; term index = point index */

	struct search_positions *events;
	uint32_t events_count;
	uint32_t events_capacity;
	uint64_t *type_bits[EVENT_TYPE_COUNT]; /* bit e set: event e has that type */
	uint32_t type_bits_capacity[EVENT_TYPE_COUNT];

	struct search_point *points;
	uint32_t points_count;
	uint32_t points_capacity;
	uint32_t *points_by_lat; /* [0, points_sorted_count) ascending by lat_e6 */
	uint32_t points_sorted_count;
	uint32_t points_by_lat_capacity;

	struct search_show *shows; /* sorted by key, then a tail in show_index order */
	uint32_t shows_count;
	uint32_t shows_capacity;
	uint32_t shows_sorted_count;
	uint32_t *event_positions; /* grouped by event, ascending in a group */
	uint32_t event_positions_capacity;
	uint32_t *point_positions; /* grouped by point, ascending in a group */
	uint32_t point_positions_capacity;

	/* Query scratch, sized by search_index_refresh(). */
	uint64_t *mask; /* the events that pass the query's event filters */
	uint32_t mask_capacity;
	uint64_t *term_bits; /* the events of one keyword word, or of the tags */
	uint32_t term_bits_capacity;
	uint32_t *near_points; /* the points within the query's radius */
	uint32_t near_points_capacity;
	uint32_t mark; /* the current query's stamp in search_point.mark */
};

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

static uint64_t search_hash(const char *bytes, uint32_t size)
{
	uint64_t hash = 14695981039346656037ull; /* FNV-1a, then a final mix */
	for (uint32_t i = 0; i < size; i++)
		hash = (hash ^ (uint8_t)bytes[i]) * 1099511628211ull;
	hash ^= hash >> 31;
	return (hash * 0x9e3779b97f4a7c15ull) ^ (hash >> 29);
}

static bool search_byte_in_word(uint8_t byte)
{
	uint8_t lower = byte | 0x20;
	return byte >= 0x80 || (byte >= '0' && byte <= '9') || (lower >= 'a' && lower <= 'z');
}

static char search_byte_lower(uint8_t byte)
{
	return (char)(byte >= 'A' && byte <= 'Z' ? byte | 0x20 : byte);
}

/* Writes the next word of text from *offset on, lower-cased, to word (room for
 * text.size bytes); returns its size, 0 when no word is left. */
static uint32_t search_word_next(struct text text, uint32_t *offset, char *word)
{
	uint32_t at = *offset;
	ASSERT(at <= text.size);
	while (at < text.size && !search_byte_in_word((uint8_t)text.bytes[at]))
		at++;
	uint32_t size = 0;
	while (at < text.size && search_byte_in_word((uint8_t)text.bytes[at]))
		word[size++] = search_byte_lower((uint8_t)text.bytes[at++]);
	*offset = at;
	ASSERT(size <= text.size);
	return size;
}

static const char *dict_term_bytes(const struct search_dict *dict, uint32_t term)
{
	return dict->bytes + dict->terms[term].bytes_offset;
}

/* The slot that holds the term, or the empty slot where it belongs. */
static uint32_t dict_slot(const struct search_dict *dict, const char *bytes, uint32_t size)
{
	ASSERT(dict->slots_count > 0);
	uint32_t mask = dict->slots_count - 1;
	for (uint32_t slot = (uint32_t)search_hash(bytes, size) & mask;; slot = (slot + 1) & mask) {
		uint32_t entry = dict->slots[slot];
		if (entry == 0)
			return slot;
		if (dict->terms[entry - 1].size == size &&
		    memcmp(dict_term_bytes(dict, entry - 1), bytes, size) == 0)
			return slot;
	}
}

static uint32_t dict_find(const struct search_dict *dict, const char *bytes, uint32_t size)
{
	if (dict->slots_count == 0)
		return UINT32_MAX;
	uint32_t entry = dict->slots[dict_slot(dict, bytes, size)];
	return entry == 0 ? UINT32_MAX : entry - 1;
}

/* Returns the index of the term, adding it when new. */
static uint32_t dict_intern(struct search_dict *dict, const char *bytes, uint32_t size)
{
	ASSERT(size >= 1 && size <= SEARCH_WORD_SIZE_MAX);
	if (2 * ((uint64_t)dict->terms_count + 1) > dict->slots_count) {
		uint32_t count = dict->slots_count ? dict->slots_count * 2 : 256;
		memory_free(dict->slots);
		dict->slots = memory_alloc((size_t)count * sizeof(uint32_t));
		dict->slots_count = count;
		for (uint32_t term = 0; term < dict->terms_count; term++)
			dict->slots[dict_slot(dict, dict_term_bytes(dict, term),
					      dict->terms[term].size)] = term + 1;
	}
	uint32_t slot = dict_slot(dict, bytes, size);
	if (dict->slots[slot] != 0)
		return dict->slots[slot] - 1;
	ARRAY_RESERVE(dict->bytes, dict->bytes_capacity, (uint64_t)dict->bytes_size + size);
	ARRAY_RESERVE(dict->terms, dict->terms_capacity, (uint64_t)dict->terms_count + 1);
	memcpy(dict->bytes + dict->bytes_size, bytes, size);
	dict->terms[dict->terms_count] = (struct search_term){ .bytes_offset = dict->bytes_size,
							       .size = size & 0x7fffffffu };
	dict->bytes_size += size;
	dict->slots[slot] = ++dict->terms_count;
	return dict->terms_count - 1;
}

/* Turns the list into a bitmap, which is smaller once a term is in 1 event of 32. */
static void term_densify(struct search_term *term, uint32_t event_index)
{
	uint32_t *postings = term->postings;
	ASSERT(!term->dense);
	term->bits = NULL;
	term->postings_capacity = 0;
	ARRAY_RESERVE(term->bits, term->postings_capacity, (uint64_t)event_index / 64 + 1);
	for (uint32_t i = 0; i < term->postings_count; i++)
		term->bits[postings[i] / 64] |= 1ull << (postings[i] % 64);
	memory_free(postings);
	term->dense = 1;
}

static void term_posting_add(struct search_term *term, uint32_t event_index)
{
	if (term->dense) {
		ARRAY_RESERVE(term->bits, term->postings_capacity, (uint64_t)event_index / 64 + 1);
		uint64_t bit = 1ull << (event_index % 64);
		term->postings_count += (term->bits[event_index / 64] & bit) == 0;
		term->bits[event_index / 64] |= bit;
		return;
	}
	uint32_t count = term->postings_count;
	ASSERT(count == 0 || term->postings[count - 1] <= event_index);
	if (count > 0 && term->postings[count - 1] == event_index)
		return; /* the word occurs twice in one event */
	if (count == term->postings_capacity) {
		if (((uint64_t)count + 1) * 32 >= (uint64_t)event_index + 64) {
			term_densify(term, event_index);
			term_posting_add(term, event_index);
			return;
		}
		/* Most words are rare: start small, and grow long lists by half only. */
		uint32_t capacity = count < 16 ? (count ? count * 2 : 2) : count + count / 2;
		term->postings = memory_resize(term->postings, (size_t)capacity * sizeof(uint32_t));
		term->postings_capacity = capacity;
	}
	term->postings[term->postings_count++] = event_index;
}

static void dict_destroy(struct search_dict *dict)
{
	for (uint32_t term = 0; term < dict->terms_count; term++)
		memory_free(dict->terms[term].postings);
	memory_free(dict->terms);
	memory_free(dict->bytes);
	memory_free(dict->slots);
	memory_free(dict->sorted);
}

static size_t dict_memory(const struct search_dict *dict)
{
	size_t bytes = (size_t)dict->terms_capacity * sizeof(struct search_term) +
		       dict->bytes_capacity + (size_t)dict->slots_count * sizeof(uint32_t) +
		       (size_t)dict->sorted_capacity * sizeof(uint32_t);
	for (uint32_t term = 0; term < dict->terms_count; term++) {
		const struct search_term *t = &dict->terms[term];
		bytes += (size_t)t->postings_capacity *
			 (t->dense ? sizeof(uint64_t) : sizeof(uint32_t));
	}
	return bytes;
}

static int dict_terms_compare(const void *context, uint32_t a, uint32_t b)
{
	const struct search_dict *dict = context;
	uint32_t size_a = dict->terms[a].size;
	uint32_t size_b = dict->terms[b].size;
	int order = memcmp(dict_term_bytes(dict, a), dict_term_bytes(dict, b),
			   size_a < size_b ? size_a : size_b);
	if (order != 0)
		return order;
	return size_a < size_b ? -1 : size_a > size_b;
}

static int points_lat_compare(const void *context, uint32_t a, uint32_t b)
{
	const struct search_point *points = context;
	return points[a].lat_e6 < points[b].lat_e6 ? -1 : points[a].lat_e6 > points[b].lat_e6;
}

/*
 * Merge sorts, from the back, so that the left run stays in place and only the
 * right one is copied out. Ties keep the left one first.
 */
static void ids_merge(uint32_t *ids, uint32_t left, const uint32_t *right, uint32_t right_count,
		      int (*compare)(const void *, uint32_t, uint32_t), const void *context)
{
	uint32_t write = left + right_count;
	while (right_count > 0) {
		if (left > 0 && compare(context, ids[left - 1], right[right_count - 1]) > 0)
			ids[--write] = ids[--left];
		else
			ids[--write] = right[--right_count];
	}
	ASSERT(write == left);
}

/* temp has room for count - count / 2 ids. */
static void ids_sort(uint32_t *ids, uint32_t *temp, uint32_t count,
		     int (*compare)(const void *, uint32_t, uint32_t), const void *context)
{
	if (count < 2)
		return;
	uint32_t half = count / 2;
	ids_sort(ids, temp, half, compare, context);
	ids_sort(ids + half, temp, count - half, compare, context);
	memcpy(temp, ids + half, (size_t)(count - half) * sizeof(uint32_t));
	ids_merge(ids, half, temp, count - half, compare, context);
}

/* Puts ids[sorted_count, count) in order into the sorted ids[0, sorted_count):
 * a few by binary insertion, many by a sort and one merge. */
static void ids_sort_tail(uint32_t *ids, uint32_t sorted_count, uint32_t count,
			  int (*compare)(const void *, uint32_t, uint32_t), const void *context)
{
	uint32_t tail = count - sorted_count;
	ASSERT(sorted_count <= count);
	if (tail > SEARCH_INSERT_COUNT_MAX) {
		uint32_t *temp = memory_alloc((size_t)tail * sizeof(uint32_t));
		ids_sort(ids + sorted_count, temp, tail, compare, context);
		memcpy(temp, ids + sorted_count, (size_t)tail * sizeof(uint32_t));
		ids_merge(ids, sorted_count, temp, tail, compare, context);
		memory_free(temp);
		return;
	}
	for (; sorted_count < count; sorted_count++) {
		uint32_t id = ids[sorted_count];
		uint32_t low = 0;
		uint32_t high = sorted_count;
		while (low < high) {
			uint32_t middle = low + (high - low) / 2;
			if (compare(context, ids[middle], id) <= 0)
				low = middle + 1;
			else
				high = middle;
		}
		memmove(ids + low + 1, ids + low, (size_t)(sorted_count - low) * sizeof(uint32_t));
		ids[low] = id;
	}
}

static bool show_before(const struct search_show *a, const struct search_show *b)
{
	return a->start_ms < b->start_ms || (a->start_ms == b->start_ms && a->show_id < b->show_id);
}

static void shows_merge(struct search_show *shows, uint32_t left, const struct search_show *right,
			uint32_t right_count)
{
	uint32_t write = left + right_count;
	while (right_count > 0) {
		if (left > 0 && show_before(&right[right_count - 1], &shows[left - 1]))
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
	dict_destroy(&index->words);
	dict_destroy(&index->tags);
	dict_destroy(&index->point_keys);
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

static void index_words_add(struct search_index *index, uint32_t event_index, struct text text)
{
	char word[SEARCH_WORD_SIZE_MAX];
	ASSERT(text.size <= SEARCH_WORD_SIZE_MAX);
	ASSERT(text.size == 0 || text.bytes != NULL);
	uint32_t offset = 0;
	for (uint32_t size; (size = search_word_next(text, &offset, word)) > 0;) {
		uint32_t term = dict_intern(&index->words, word, size);
		term_posting_add(&index->words.terms[term], event_index);
	}
}

/* Writes the tag lower-cased to normal (TAG_SIZE_MAX bytes); false when it cannot
 * be a tag at all. */
static bool search_tag_normalize(struct text tag, char *normal)
{
	if (tag.size == 0 || tag.size > TAG_SIZE_MAX)
		return false;
	ASSERT(tag.bytes != NULL);
	for (uint32_t i = 0; i < tag.size; i++)
		normal[i] = search_byte_lower((uint8_t)tag.bytes[i]);
	return true;
}

void search_index_event_add(struct search_index *index, uint32_t event_index, uint8_t type,
			    struct text title, struct text description, const struct text *tags,
			    uint8_t tags_count)
{
	ASSERT(index != NULL && event_index == index->events_count);
	ASSERT(type < EVENT_TYPE_COUNT);
	ASSERT(title.size <= TITLE_SIZE_MAX && description.size <= DESCRIPTION_SIZE_MAX);
	ASSERT(tags_count <= TAGS_COUNT_MAX && (tags_count == 0 || tags != NULL));

	ARRAY_RESERVE(index->events, index->events_capacity, (uint64_t)event_index + 1);
	index_words_add(index, event_index, title);
	index_words_add(index, event_index, description);
	for (uint8_t i = 0; i < tags_count; i++) {
		char normal[TAG_SIZE_MAX];
		bool valid = search_tag_normalize(tags[i], normal);
		ASSERT(valid);
		uint32_t term = dict_intern(&index->tags, normal, tags[i].size);
		term_posting_add(&index->tags.terms[term], event_index);
		index_words_add(index, event_index, tags[i]);
	}
	ARRAY_RESERVE(index->type_bits[type], index->type_bits_capacity[type],
		      (uint64_t)event_index / 64 + 1);
	index->type_bits[type][event_index / 64] |= 1ull << (event_index % 64);
	index->events_count++;
}

static double search_radians(int32_t degrees_e6)
{
	return (double)degrees_e6 * (SEARCH_PI / 180e6);
}

/* Returns the index of the point at those coordinates, adding it when new. */
static uint32_t index_point_intern(struct search_index *index, int32_t lat_e6, int32_t lon_e6)
{
	char key[2 * sizeof(int32_t)];
	memcpy(key, &lat_e6, sizeof(lat_e6));
	memcpy(key + sizeof(lat_e6), &lon_e6, sizeof(lon_e6));
	uint32_t p = dict_intern(&index->point_keys, key, sizeof(key));
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
		ASSERT(show_before(&index->shows[position], &index->shows[position + 1]));
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
static void search_index_refresh(struct search_index *index)
{
	struct search_dict *words = &index->words;
	if (words->sorted_count < words->terms_count) {
		ARRAY_RESERVE(words->sorted, words->sorted_capacity, words->terms_count);
		for (uint32_t term = words->sorted_count; term < words->terms_count; term++)
			words->sorted[term] = term;
		ids_sort_tail(words->sorted, words->sorted_count, words->terms_count,
			      dict_terms_compare, words);
		words->sorted_count = words->terms_count;
	}
	ids_sort_tail(index->points_by_lat, index->points_sorted_count, index->points_count,
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

/* The first sorted position whose key is above (start_ms, show_id), or at it when
 * inclusive. */
static uint32_t search_shows_bound(const struct search_index *index, int64_t start_ms,
				   uint32_t show_id, bool inclusive)
{
	struct search_show key = { .start_ms = start_ms, .show_id = show_id };
	uint32_t low = 0;
	uint32_t high = index->shows_sorted_count;
	while (low < high) {
		uint32_t middle = low + (high - low) / 2;
		const struct search_show *show = &index->shows[middle];
		if (inclusive ? show_before(show, &key) : !show_before(&key, show))
			low = middle + 1;
		else
			high = middle;
	}
	ASSERT(low <= index->shows_sorted_count);
	return low;
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

/* Sets in bits (words_count words) the events that have the term. */
static void search_bits_postings_set(uint64_t *bits, uint32_t words_count,
				     const struct search_term *term)
{
	if (term->dense) {
		uint32_t count = term->postings_capacity < words_count ? term->postings_capacity
								       : words_count;
		for (uint32_t word = 0; word < count; word++)
			bits[word] |= term->bits[word];
		return;
	}
	for (uint32_t i = 0; i < term->postings_count; i++) {
		ASSERT(term->postings[i] < (uint64_t)words_count * 64);
		bits[term->postings[i] / 64] |= 1ull << (term->postings[i] % 64);
	}
}

struct search_range {
	uint32_t first; /* into search_dict.sorted */
	uint32_t end;
};

/* The sorted words that start with prefix. A word is below the prefix, starts with
 * it, or is above it, and the three groups come in that order. */
static struct search_range search_words_range(const struct search_dict *dict, const char *prefix,
					      uint32_t size)
{
	uint32_t bounds[2];
	for (int above = 0; above < 2; above++) {
		uint32_t low = 0;
		uint32_t high = dict->sorted_count;
		while (low < high) {
			uint32_t middle = low + (high - low) / 2;
			uint32_t term_size = dict->terms[dict->sorted[middle]].size;
			int order = memcmp(dict_term_bytes(dict, dict->sorted[middle]), prefix,
					   term_size < size ? term_size : size);
			if (order == 0)
				order = term_size < size ? -1 : 0;
			if (order < 0 || (above && order == 0))
				low = middle + 1;
			else
				high = middle;
		}
		bounds[above] = low;
	}
	ASSERT(bounds[0] <= bounds[1]);
	return (struct search_range){ .first = bounds[0], .end = bounds[1] };
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
		uint32_t term = dict_find(&index->tags, normal, query->tags[i].size);
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
	return show_before(&index->shows[a], &index->shows[b]);
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
		if (search_query_has_cursor(query) && !show_before(&cursor, show))
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
	size_t bytes = sizeof(*index) + dict_memory(&index->words) + dict_memory(&index->tags) +
		       dict_memory(&index->point_keys);
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
