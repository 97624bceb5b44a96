/*
 * hashmap.c — u64map and idtable (see hashmap.h).
 *
 * Both use linear probing. Deletion shifts later entries of the same cluster back
 * into the hole when their home slot allows it (Knuth's algorithm R), so there are
 * no tombstones and no periodic rehash.
 */
#include "hashmap.h"

#include <string.h>

#include "base.h"
#include "memory.h"

#define CAPACITY_MIN 16u

/* True when an entry whose home is `home` may move from `from` back to `hole`. */
static bool shift_allowed(uint32_t home, uint32_t hole, uint32_t from)
{
	/* The entry may fill the hole unless its home lies cyclically in (hole, from]. */
	if (hole <= from)
		return home <= hole || home > from;
	return home <= hole && home > from;
}

void u64map_init(struct u64map *map)
{
	*map = (struct u64map){ 0 };
}

void u64map_finish(struct u64map *map)
{
	if (map == NULL)
		return;
	memory_free(map->keys);
	memory_free(map->values);
	*map = (struct u64map){ 0 };
}

static uint32_t u64map_find(const struct u64map *map, uint64_t key)
{
	uint32_t mask = map->capacity - 1;
	uint32_t i = (uint32_t)hash_u64(key) & mask;
	while (map->keys[i] != 0 && map->keys[i] != key)
		i = (i + 1) & mask;
	return i;
}

bool u64map_get(const struct u64map *map, uint64_t key, uint32_t *value)
{
	ASSERT(key != 0);
	if (map->count == 0)
		return false;
	uint32_t i = u64map_find(map, key);
	if (map->keys[i] == 0)
		return false;
	*value = map->values[i];
	return true;
}

static void u64map_grow(struct u64map *map)
{
	struct u64map old = *map;
	uint32_t capacity = old.capacity ? old.capacity * 2 : CAPACITY_MIN;
	map->keys = memory_alloc(sizeof(uint64_t) * capacity);
	map->values = memory_alloc(sizeof(uint32_t) * capacity);
	map->capacity = capacity;
	for (uint32_t i = 0; i < old.capacity; i++) {
		if (old.keys[i] == 0)
			continue;
		uint32_t slot = u64map_find(map, old.keys[i]);
		map->keys[slot] = old.keys[i];
		map->values[slot] = old.values[i];
	}
	memory_free(old.keys);
	memory_free(old.values);
}

void u64map_put(struct u64map *map, uint64_t key, uint32_t value)
{
	ASSERT(key != 0);
	if ((map->count + 1) * 2 > map->capacity)
		u64map_grow(map);
	uint32_t i = u64map_find(map, key);
	if (map->keys[i] == 0) {
		map->keys[i] = key;
		map->count++;
	}
	map->values[i] = value;
}

bool u64map_remove(struct u64map *map, uint64_t key)
{
	ASSERT(key != 0);
	if (map->count == 0)
		return false;
	uint32_t mask = map->capacity - 1;
	uint32_t hole = u64map_find(map, key);
	if (map->keys[hole] == 0)
		return false;
	for (uint32_t i = (hole + 1) & mask; map->keys[i] != 0; i = (i + 1) & mask) {
		uint32_t home = (uint32_t)hash_u64(map->keys[i]) & mask;
		if (shift_allowed(home, hole, i)) {
			map->keys[hole] = map->keys[i];
			map->values[hole] = map->values[i];
			hole = i;
		}
	}
	map->keys[hole] = 0;
	map->count--;
	return true;
}

size_t u64map_memory(const struct u64map *map)
{
	return (size_t)map->capacity * (sizeof(uint64_t) + sizeof(uint32_t));
}

void idtable_init(struct idtable *table, idtable_key_fn *key_of, const void *context)
{
	*table = (struct idtable){ .key_of = key_of, .context = context };
}

void idtable_finish(struct idtable *table)
{
	if (table == NULL)
		return;
	memory_free(table->slots);
	table->slots = NULL;
	table->capacity = 0;
	table->count = 0;
}

static uint32_t idtable_home(const struct idtable *table, uint64_t key)
{
	return (uint32_t)hash_u64(key) & (table->capacity - 1);
}

/* The slot holding `key`, or the empty slot where it would go. */
static uint32_t idtable_find(const struct idtable *table, uint64_t key)
{
	uint32_t mask = table->capacity - 1;
	uint32_t i = idtable_home(table, key);
	while (table->slots[i] != IDTABLE_EMPTY &&
	       table->key_of(table->context, table->slots[i]) != key)
		i = (i + 1) & mask;
	return i;
}

uint32_t idtable_get(const struct idtable *table, uint64_t key)
{
	if (table->count == 0)
		return IDTABLE_EMPTY;
	return table->slots[idtable_find(table, key)];
}

static void idtable_grow(struct idtable *table)
{
	uint32_t *old = table->slots;
	uint32_t old_capacity = table->capacity;
	table->capacity = old_capacity ? old_capacity * 2 : CAPACITY_MIN;
	table->slots = memory_alloc(sizeof(uint32_t) * table->capacity);
	memset(table->slots, 0xff, sizeof(uint32_t) * table->capacity);
	for (uint32_t i = 0; i < old_capacity; i++) {
		if (old[i] == IDTABLE_EMPTY)
			continue;
		uint64_t key = table->key_of(table->context, old[i]);
		table->slots[idtable_find(table, key)] = old[i];
	}
	memory_free(old);
}

void idtable_add(struct idtable *table, uint32_t reference)
{
	ASSERT(reference != IDTABLE_EMPTY);
	if ((uint64_t)(table->count + 1) * 4 > (uint64_t)table->capacity * 3)
		idtable_grow(table);
	uint32_t i = idtable_find(table, table->key_of(table->context, reference));
	ASSERT(table->slots[i] == IDTABLE_EMPTY);
	table->slots[i] = reference;
	table->count++;
}

bool idtable_remove(struct idtable *table, uint64_t key)
{
	if (table->count == 0)
		return false;
	uint32_t mask = table->capacity - 1;
	uint32_t hole = idtable_find(table, key);
	if (table->slots[hole] == IDTABLE_EMPTY)
		return false;
	for (uint32_t i = (hole + 1) & mask; table->slots[i] != IDTABLE_EMPTY; i = (i + 1) & mask) {
		uint32_t home = idtable_home(table, table->key_of(table->context, table->slots[i]));
		if (shift_allowed(home, hole, i)) {
			table->slots[hole] = table->slots[i];
			hole = i;
		}
	}
	table->slots[hole] = IDTABLE_EMPTY;
	table->count--;
	return true;
}

size_t idtable_memory(const struct idtable *table)
{
	return (size_t)table->capacity * sizeof(uint32_t);
}
