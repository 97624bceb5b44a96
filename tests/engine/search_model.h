/*
 * search_model.h — a naive reference for the search index's randomized test
 * (test_search.c): a random catalog kept as plain arrays, and a filter that checks
 * every show against a query word by word, tag by tag and by haversine distance.
 * Every catalog change goes into the index under test as well.
 */
#ifndef BOXOFFICE_TESTS_SEARCH_MODEL_H
#define BOXOFFICE_TESTS_SEARCH_MODEL_H

#include "search.h"

#define SEARCH_MODEL_POINTS_COUNT 30

struct search_model_event {
	uint8_t type;
	char text[512]; /* title, description and tags, lower-cased, space separated */
	uint8_t tags_count;
	uint8_t tags[4]; /* into search_model_tags */
};

struct search_model_show {
	uint32_t show_id;
	uint32_t event_index;
	int64_t start_ms;
	int32_t lat_e6;
	int32_t lon_e6;
};

struct search_model {
	uint64_t rng;
	struct search_index *index; /* shows in its sorted part and its tail, by turns */
	struct search_model_event *events;
	uint32_t events_count;
	struct search_model_show *shows;
	uint32_t shows_count;
	int32_t points[SEARCH_MODEL_POINTS_COUNT][2];
};

/* A random number below bound, from the model's seeded generator. */
uint32_t search_model_below(struct search_model *model, uint32_t bound);
/* Adds a random event (or show, at one of the points) to the model and the index. */
void search_model_event_add(struct search_model *model);
void search_model_show_add(struct search_model *model);
/* Haversine on a sphere of radius 6,371,008.8 m, rounded to the metre. */
uint32_t search_model_distance_m(int32_t lat_a, int32_t lon_a, int32_t lat_b, int32_t lon_b);
/* Every match of the query (ignoring limit and cursor), in key order. */
uint32_t search_model_query_all(const struct search_model *model, const struct search_query *query,
				const char *keyword, const int *tag_ids, uint32_t *matches);
/* A random query; keyword and tag_ids hold what its texts point to. */
void search_model_query_make(struct search_model *model, struct search_query *query,
			     char *keyword, size_t keyword_capacity, int *tag_ids,
			     char tag_texts[][40]);

#endif
