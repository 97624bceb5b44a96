/*
 * search_model.c — the naive reference of the search test (see search_model.h).
 */
#include "search_model.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SEARCH_MODEL_WORDS_COUNT 40
#define SEARCH_MODEL_TAGS_COUNT 12

static const char *const search_model_words[SEARCH_MODEL_WORDS_COUNT] = {
	"rock", "rocket", "rockabilly", "roll", "jazz", "jazzy", "blues", "blue", "bluegrass",
	"opera", "operetta", "open", "air", "airshow", "night", "nightfall", "late", "later",
	"family", "fun", "funk", "funky", "run", "runner", "city", "citadel", "kids", "kid",
	"gala", "galaxy", "a", "ab", "abc", "zürich", "zoo", "café", "caf", "x1", "x10",
	"x100",
};

static const char *const search_model_tags[SEARCH_MODEL_TAGS_COUNT] = {
	"jazz", "Jazz-Club", "outdoor", "indoor", "kids", "free", "late", "vip", "summer",
	"winter", "é", "rock",
};

static uint64_t search_model_random(struct search_model *model)
{
	/* splitmix64: the whole run follows from the printed seed. */
	uint64_t z = (model->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t search_model_below(struct search_model *model, uint32_t bound)
{
	return (uint32_t)(search_model_random(model) % bound);
}

/* Appends a word to out with random ASCII case and a random separator. */
static void search_model_word_append(struct search_model *model, char *out, size_t capacity,
				     const char *word)
{
	static const char *const separators[] = { " ", ", ", "-", "/", "'", " ... " };
	size_t length = strlen(out);
	if (length > 0)
		snprintf(out + length, capacity - length, "%s",
			 separators[search_model_below(model, 6)]);
	length = strlen(out);
	for (const char *c = word; *c != '\0' && length + 1 < capacity; c++) {
		char byte = *c;
		if (byte >= 'a' && byte <= 'z' && search_model_below(model, 3) == 0)
			byte = (char)(byte - 'a' + 'A');
		out[length++] = byte;
	}
	out[length] = '\0';
}

static void search_model_lower(char *text)
{
	for (; *text != '\0'; text++)
		if (*text >= 'A' && *text <= 'Z')
			*text = (char)(*text - 'A' + 'a');
}

void search_model_event_add(struct search_model *model)
{
	char title[128] = "";
	char description[256] = "";
	struct text tags[4];
	struct search_model_event *event = &model->events[model->events_count];
	memset(event, 0, sizeof(*event));
	event->type = (uint8_t)search_model_below(model, EVENT_TYPE_COUNT);
	for (uint32_t i = 1 + search_model_below(model, 3); i > 0; i--)
		search_model_word_append(
			model, title, sizeof(title),
			search_model_words[search_model_below(model, SEARCH_MODEL_WORDS_COUNT)]);
	for (uint32_t i = search_model_below(model, 6); i > 0; i--)
		search_model_word_append(
			model, description, sizeof(description),
			search_model_words[search_model_below(model, SEARCH_MODEL_WORDS_COUNT)]);
	/* A long tail of rare words, so that short posting lists are compared too. */
	char rare[16];
	snprintf(rare, sizeof(rare), "t%" PRIu32, search_model_below(model, 3000));
	search_model_word_append(model, description, sizeof(description), rare);
	event->tags_count = (uint8_t)search_model_below(model, 4);
	snprintf(event->text, sizeof(event->text), "%s %s", title, description);
	for (uint8_t i = 0; i < event->tags_count; i++) {
		event->tags[i] = (uint8_t)search_model_below(model, SEARCH_MODEL_TAGS_COUNT);
		tags[i] = text_from_cstr(search_model_tags[event->tags[i]]);
		size_t length = strlen(event->text);
		snprintf(event->text + length, sizeof(event->text) - length, " %s",
			 search_model_tags[event->tags[i]]);
	}
	search_model_lower(event->text);
	search_index_event_add(model->index, model->events_count, event->type,
			       text_from_cstr(title), text_from_cstr(description), tags,
			       event->tags_count);
	model->events_count++;
}

void search_model_show_add(struct search_model *model)
{
	struct search_model_show *show = &model->shows[model->shows_count];
	const int32_t *point = model->points[search_model_below(model, SEARCH_MODEL_POINTS_COUNT)];
	show->show_id = 1 + model->shows_count * 7919 % 100003; /* unique, not in order */
	show->event_index = search_model_below(model, model->events_count);
	show->start_ms = (int64_t)search_model_below(model, 400) * 1000; /* many ties */
	show->lat_e6 = point[0] + (int32_t)search_model_below(model, 20001) - 10000;
	show->lon_e6 = point[1] + (int32_t)search_model_below(model, 20001) - 10000;
	search_index_show_add(model->index, model->shows_count, show->show_id, show->event_index,
			      show->start_ms, show->lat_e6, show->lon_e6);
	model->shows_count++;
}

static bool search_model_is_word_byte(uint8_t byte)
{
	return byte >= 0x80 || (byte >= '0' && byte <= '9') || (byte >= 'a' && byte <= 'z') ||
	       (byte >= 'A' && byte <= 'Z');
}

/* Whether some word of the lower-cased text starts with word[0, size). */
static bool search_model_text_has_prefix(const char *text, const char *word, size_t size)
{
	size_t length = strlen(text);
	for (size_t at = 0; at < length; at++) {
		bool starts = search_model_is_word_byte((uint8_t)text[at]) &&
			      (at == 0 || !search_model_is_word_byte((uint8_t)text[at - 1]));
		if (starts && length - at >= size && memcmp(text + at, word, size) == 0)
			return true;
	}
	return false;
}

static bool search_model_keyword_match(const struct search_model_event *event,
				       const char *keyword_raw)
{
	char keyword[SEARCH_KEYWORD_SIZE_MAX + 1];
	snprintf(keyword, sizeof(keyword), "%s", keyword_raw);
	search_model_lower(keyword);
	size_t length = strlen(keyword);
	for (size_t at = 0; at < length;) {
		while (at < length && !search_model_is_word_byte((uint8_t)keyword[at]))
			at++;
		size_t end = at;
		while (end < length && search_model_is_word_byte((uint8_t)keyword[end]))
			end++;
		if (end > at && !search_model_text_has_prefix(event->text, keyword + at, end - at))
			return false;
		at = end;
	}
	return true;
}

uint32_t search_model_distance_m(int32_t lat_a, int32_t lon_a, int32_t lat_b, int32_t lon_b)
{
	const double to_radians = 3.14159265358979323846 / 180e6;
	double phi_a = lat_a * to_radians;
	double phi_b = lat_b * to_radians;
	double half_lat = (phi_b - phi_a) / 2;
	double half_lon = (lon_b * to_radians - lon_a * to_radians) / 2;
	double a = sin(half_lat) * sin(half_lat) +
		   cos(phi_a) * cos(phi_b) * sin(half_lon) * sin(half_lon);
	return (uint32_t)(2 * 6371008.8 * asin(sqrt(fmin(a, 1.0))) + 0.5);
}

/* The query's tags are model tag indices with random case; see search_model_query_make(). */
static bool search_model_show_match(const struct search_model *model,
				    const struct search_model_show *show,
				    const struct search_query *query, const char *keyword,
				    const int *tag_ids)
{
	const struct search_model_event *event = &model->events[show->event_index];
	if (show->start_ms < query->from_ms || show->start_ms >= query->to_ms)
		return false;
	if (query->type >= 0 && event->type != query->type)
		return false;
	if (!search_model_keyword_match(event, keyword))
		return false;
	if (query->tags_count > 0) {
		bool any = false;
		for (uint8_t i = 0; i < query->tags_count; i++)
			for (uint8_t j = 0; j < event->tags_count; j++)
				any |= tag_ids[i] >= 0 &&
				       strcasecmp(search_model_tags[tag_ids[i]],
						  search_model_tags[event->tags[j]]) == 0;
		if (!any)
			return false;
	}
	return !query->near || search_model_distance_m(query->lat_e6, query->lon_e6, show->lat_e6,
						       show->lon_e6) <= query->radius_km * 1000;
}

static const struct search_model *search_model_sorting;

static int search_model_show_compare(const void *a, const void *b)
{
	const struct search_model_show *x = &search_model_sorting->shows[*(const uint32_t *)a];
	const struct search_model_show *y = &search_model_sorting->shows[*(const uint32_t *)b];
	if (x->start_ms != y->start_ms)
		return x->start_ms < y->start_ms ? -1 : 1;
	return x->show_id < y->show_id ? -1 : x->show_id > y->show_id;
}

uint32_t search_model_query_all(const struct search_model *model, const struct search_query *query,
				const char *keyword, const int *tag_ids, uint32_t *matches)
{
	uint32_t count = 0;
	for (uint32_t s = 0; s < model->shows_count; s++)
		if (search_model_show_match(model, &model->shows[s], query, keyword, tag_ids))
			matches[count++] = s;
	search_model_sorting = model;
	qsort(matches, count, sizeof(*matches), search_model_show_compare);
	return count;
}

void search_model_query_make(struct search_model *model, struct search_query *query, char *keyword,
			     size_t keyword_capacity, int *tag_ids, char tag_texts[][40])
{
	search_query_init(query);
	keyword[0] = '\0';
	uint32_t words = search_model_below(model, 4) == 0 ? search_model_below(model, 3) + 1 : 0;
	for (uint32_t i = 0; i < words; i++) {
		char prefix[32];
		char rare[16];
		const char *word =
			search_model_words[search_model_below(model, SEARCH_MODEL_WORDS_COUNT)];
		if (search_model_below(model, 3) == 0) {
			snprintf(rare, sizeof(rare), "t%" PRIu32, search_model_below(model, 3000));
			word = rare;
		}
		snprintf(prefix, sizeof(prefix), "%.*s",
			 (int)(1 + search_model_below(model, (uint32_t)strlen(word) + 1)), word);
		search_model_word_append(model, keyword, keyword_capacity, prefix);
	}
	query->keyword = text_from_cstr(keyword);
	if (search_model_below(model, 3) == 0)
		query->type = (int16_t)search_model_below(model, EVENT_TYPE_COUNT);
	if (search_model_below(model, 4) == 0) {
		query->tags_count = (uint8_t)(1 + search_model_below(model, 3));
		for (uint8_t i = 0; i < query->tags_count; i++) {
			tag_ids[i] =
				search_model_below(model, 8) == 0
					? -1
					: (int)search_model_below(model, SEARCH_MODEL_TAGS_COUNT);
			tag_texts[i][0] = '\0';
			search_model_word_append(model, tag_texts[i], 40,
						 tag_ids[i] < 0 ? "nosuchtag"
								: search_model_tags[tag_ids[i]]);
			query->tags[i] = text_from_cstr(tag_texts[i]);
		}
	}
	if (search_model_below(model, 3) == 0) {
		const int32_t *point =
			model->points[search_model_below(model, SEARCH_MODEL_POINTS_COUNT)];
		query->near = true;
		query->lat_e6 = point[0] + (int32_t)search_model_below(model, 200001) - 100000;
		query->lon_e6 = point[1] + (int32_t)search_model_below(model, 200001) - 100000;
		query->radius_km =
			1 +
			search_model_below(model, search_model_below(model, 4) == 0 ? 3000 : 30);
	}
	if (search_model_below(model, 3) == 0) {
		query->from_ms = (int64_t)search_model_below(model, 400) * 1000;
		query->to_ms = query->from_ms + (int64_t)search_model_below(model, 100) * 1000;
	}
	query->limit = 1 + search_model_below(model, search_model_below(model, 2)
							     ? 10
							     : SEARCH_RESULTS_COUNT_MAX);
}
