/*
 * search.h — the catalog's search index (SPEC §2): keyword words, event type, tags,
 * venue distance and show start time, over every show of the catalog.
 *
 * The catalog feeds it: every event and every show, once, when created (they are
 * never changed or removed). Event and show indices are dense and given in creation
 * order (0, 1, 2, …). A query returns shows in (start_ms, show_id) order, after the
 * query's cursor, so that results are deterministic for the same catalog and pages
 * never repeat or skip a show.
 *
 * Keyword matching: text is cut into words at every byte that is not an ASCII letter
 * or digit (bytes >= 0x80 belong to words, so UTF-8 passes through); ASCII letters
 * are compared case-insensitively. Every word of the query must be a prefix of some
 * word of the event's title, description or tags.
 * Tags (preferences): an event matches when it has any of the query's tags,
 * compared case-insensitively as whole tags.
 * Distance: haversine on a sphere of radius 6,371,008.8 m between the query point and
 * the show's venue; a show matches when the distance is at most radius_km.
 */
#ifndef BOXOFFICE_SEARCH_H
#define BOXOFFICE_SEARCH_H

#include "engine.h"

struct search_index;

struct search_index_hit {
	uint32_t show_index;
	uint32_t distance_m; /* with near, else 0 */
};

/* Returns NULL when memory runs out. */
struct search_index *search_index_create(void);
void search_index_destroy(struct search_index *index); /* accepts NULL */

/* event_index must be the number of events added so far. Texts are copied. */
void search_index_event_add(struct search_index *index, uint32_t event_index, uint8_t type,
			    struct text title, struct text description,
			    const struct text *tags, uint8_t tags_count);

/* show_index must be the number of shows added so far; event_index must exist. */
void search_index_show_add(struct search_index *index, uint32_t show_index, uint32_t show_id,
			   uint32_t event_index, int64_t start_ms, int32_t lat_e6, int32_t lon_e6);

/*
 * Runs a query (see engine_search() in engine.h for the fields). Writes at most
 * query->limit hits, sets *more when at least one further show matches. Returns
 * STATUS_BAD_REQUEST, writing nothing, when a field is out of range (limit 0 or above
 * SEARCH_RESULTS_COUNT_MAX, a keyword above SEARCH_KEYWORD_SIZE_MAX bytes, more than
 * TAGS_COUNT_MAX tags, near with a bad coordinate or a radius of 0 or above
 * SEARCH_RADIUS_KM_MAX, from_ms > to_ms, a type out of range).
 */
enum status search_index_query(struct search_index *index, const struct search_query *query,
			       struct search_index_hit *hits, uint32_t *hits_count, bool *more);

/* Bytes the index has allocated. */
size_t search_index_memory(const struct search_index *index);

#endif
