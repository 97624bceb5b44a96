/*
 * hashmap.h — open-addressing hash tables with linear probing and backward-shift
 * deletion (no tombstones, so lookups stay short however many deletes happen).
 *
 * u64map: u64 key → u32 value, both kept in the table. Key 0 means "empty", so keys
 * must be non-zero (every id in boxoffice is). Load stays at or below 1/2.
 *
 * idtable: a table of u32 references only; the key of a reference is read through
 * a callback from the records it points to. Four bytes a slot and filled up to 3/4
 * (5.3 to 10.7 bytes per entry, against u64map's 24 to 48), which is what keeps a
 * hold within its memory budget; the price is a few more probes per lookup.
 */
#ifndef BOXOFFICE_HASHMAP_H
#define BOXOFFICE_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct u64map {
	uint64_t *keys;	  /* capacity entries; 0 = empty */
	uint32_t *values; /* capacity entries */
	uint32_t capacity; /* 0 or a power of two */
	uint32_t count;	   /* <= capacity * 3 / 4 */
};

void u64map_init(struct u64map *map);
void u64map_finish(struct u64map *map); /* accepts NULL */
/* Returns true and sets *value when the key is present. */
bool u64map_get(const struct u64map *map, uint64_t key, uint32_t *value);
/* Inserts or replaces. */
void u64map_put(struct u64map *map, uint64_t key, uint32_t value);
/* Returns whether the key was present. */
bool u64map_remove(struct u64map *map, uint64_t key);
size_t u64map_memory(const struct u64map *map);

#define IDTABLE_EMPTY UINT32_MAX

typedef uint64_t idtable_key_fn(const void *context, uint32_t reference);

struct idtable {
	uint32_t *slots;   /* capacity entries; IDTABLE_EMPTY = empty */
	uint32_t capacity; /* 0 or a power of two */
	uint32_t count;	   /* <= capacity * 3 / 4 */
	idtable_key_fn *key_of;
	const void *context;
};

void idtable_init(struct idtable *table, idtable_key_fn *key_of, const void *context);
void idtable_finish(struct idtable *table); /* accepts NULL */
/* The reference whose key is `key`, or IDTABLE_EMPTY. */
uint32_t idtable_get(const struct idtable *table, uint64_t key);
/* Adds a reference; its key must not be present. */
void idtable_add(struct idtable *table, uint32_t reference);
/* Removes the reference with this key; returns whether it was present. */
bool idtable_remove(struct idtable *table, uint64_t key);
size_t idtable_memory(const struct idtable *table);

/* A 64-bit mix with good avalanche, for keys that are often sequential. */
static inline uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

#endif
