/*
 * search_terms.c — the event side of the search index: the dictionaries of terms
 * and their postings, and adding an event (see search_internal.h).
 *
 * A dictionary holds terms normalized (ASCII letters lower-cased, other bytes kept):
 * `words`, each word of every title, description and tag; `tags`, each whole tag;
 * and `point_keys`, the venue points' coordinates as bytes. A term's postings are
 * the events that have it: a list, ascending, while the term is rare; a bitmap
 * once it is in 1 event of 32 (smaller then, and merged 64 events at a time).
 * `words` keeps its terms in byte order too, so that the words that start with a
 * query word form one contiguous range.
 *
 * Invariants: list postings ascend strictly; sorted terms ascend; the hash table is
 * at most half full.
 */
#include "search_internal.h"

#include <string.h>

#include "memory.h"

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

uint32_t search_word_next(struct text text, uint32_t *offset, char *word)
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

uint32_t search_dict_find(const struct search_dict *dict, const char *bytes, uint32_t size)
{
	if (dict->slots_count == 0)
		return UINT32_MAX;
	uint32_t entry = dict->slots[dict_slot(dict, bytes, size)];
	return entry == 0 ? UINT32_MAX : entry - 1;
}

/* Returns the index of the term, adding it when new. */
uint32_t search_dict_intern(struct search_dict *dict, const char *bytes, uint32_t size)
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

void search_dict_destroy(struct search_dict *dict)
{
	for (uint32_t term = 0; term < dict->terms_count; term++)
		memory_free(dict->terms[term].postings);
	memory_free(dict->terms);
	memory_free(dict->bytes);
	memory_free(dict->slots);
	memory_free(dict->sorted);
}

size_t search_dict_memory(const struct search_dict *dict)
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
void search_ids_sort_tail(uint32_t *ids, uint32_t sorted_count, uint32_t count,
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

static void index_words_add(struct search_index *index, uint32_t event_index, struct text text)
{
	char word[SEARCH_WORD_SIZE_MAX];
	ASSERT(text.size <= SEARCH_WORD_SIZE_MAX);
	ASSERT(text.size == 0 || text.bytes != NULL);
	uint32_t offset = 0;
	for (uint32_t size; (size = search_word_next(text, &offset, word)) > 0;) {
		uint32_t term = search_dict_intern(&index->words, word, size);
		term_posting_add(&index->words.terms[term], event_index);
	}
}

bool search_tag_normalize(struct text tag, char *normal)
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
		uint32_t term = search_dict_intern(&index->tags, normal, tags[i].size);
		term_posting_add(&index->tags.terms[term], event_index);
		index_words_add(index, event_index, tags[i]);
	}
	ARRAY_RESERVE(index->type_bits[type], index->type_bits_capacity[type],
		      (uint64_t)event_index / 64 + 1);
	index->type_bits[type][event_index / 64] |= 1ull << (event_index % 64);
	index->events_count++;
}

/* Sets in bits (words_count words) the events that have the term. */
void search_bits_postings_set(uint64_t *bits, uint32_t words_count,
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

/* The sorted words that start with prefix. A word is below the prefix, starts with
 * it, or is above it, and the three groups come in that order. */
struct search_range search_words_range(const struct search_dict *dict, const char *prefix,
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

void search_dict_sort(struct search_dict *dict)
{
	if (dict->sorted_count == dict->terms_count)
		return;
	ARRAY_RESERVE(dict->sorted, dict->sorted_capacity, dict->terms_count);
	for (uint32_t term = dict->sorted_count; term < dict->terms_count; term++)
		dict->sorted[term] = term;
	search_ids_sort_tail(dict->sorted, dict->sorted_count, dict->terms_count,
			     dict_terms_compare, dict);
	dict->sorted_count = dict->terms_count;
}
