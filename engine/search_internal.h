/*
 * search_internal.h — the search index's structures and the functions its files
 * share (search.h is the contract; search.c explains the design).
 *
 * The index is three files: search_terms.c holds the event side (the word and tag
 * dictionaries, their postings, adding an event); search_shows.c the show side
 * (the shows in key order, the venue points, adding a show, refreshing the sorted
 * structures); search.c creates the index and runs queries over both.
 */
#ifndef BOXOFFICE_SEARCH_INTERNAL_H
#define BOXOFFICE_SEARCH_INTERNAL_H

#include "search.h"

#define SEARCH_PI 3.14159265358979323846
/* The longest word is a whole description without a separator. */
#define SEARCH_WORD_SIZE_MAX DESCRIPTION_SIZE_MAX
/* Fewer new terms or points than this are inserted one by one; more are sorted. */
#define SEARCH_INSERT_COUNT_MAX 64u

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

/* A range of sorted terms. */
struct search_range {
	uint32_t first; /* into search_dict.sorted */
	uint32_t end;
};

/* Whether show a comes before show b in key order (start_ms, show_id). Inline: the
 * query's heap compares keys in its innermost loop. */
static inline bool search_show_before(const struct search_show *a, const struct search_show *b)
{
	return a->start_ms < b->start_ms || (a->start_ms == b->start_ms && a->show_id < b->show_id);
}

static inline double search_radians(int32_t degrees_e6)
{
	return (double)degrees_e6 * (SEARCH_PI / 180e6);
}

/* Terms (search_terms.c). */

/* Writes the next word of text from *offset on, lower-cased, to word (room for
 * text.size bytes); returns its size, 0 when no word is left. */
uint32_t search_word_next(struct text text, uint32_t *offset, char *word);
/* Writes the tag lower-cased to normal (TAG_SIZE_MAX bytes); false when it cannot
 * be a tag at all. */
bool search_tag_normalize(struct text tag, char *normal);
/* The index of the term, or UINT32_MAX when the dictionary does not have it. */
uint32_t search_dict_find(const struct search_dict *dict, const char *bytes, uint32_t size);
/* Returns the index of the term, adding it when new. */
uint32_t search_dict_intern(struct search_dict *dict, const char *bytes, uint32_t size);
/* Puts the terms added since the last call into the dictionary's byte order. */
void search_dict_sort(struct search_dict *dict);
void search_dict_destroy(struct search_dict *dict);
size_t search_dict_memory(const struct search_dict *dict);
/* The sorted words that start with prefix. */
struct search_range search_words_range(const struct search_dict *dict, const char *prefix,
				       uint32_t size);
/* Sets in bits (words_count words) the events that have the term. */
void search_bits_postings_set(uint64_t *bits, uint32_t words_count,
			      const struct search_term *term);
/* Puts ids[sorted_count, count) in order into the sorted ids[0, sorted_count). */
void search_ids_sort_tail(uint32_t *ids, uint32_t sorted_count, uint32_t count,
			  int (*compare)(const void *, uint32_t, uint32_t), const void *context);

/* Shows (search_shows.c). */

/* Brings the sorted structures up to date and sizes the query scratch. */
void search_index_refresh(struct search_index *index);
/* The first sorted position whose key is above (start_ms, show_id), or at it when
 * inclusive. */
uint32_t search_shows_bound(const struct search_index *index, int64_t start_ms,
			    uint32_t show_id, bool inclusive);

#endif
