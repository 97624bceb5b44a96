/*
 * test_hashmap.c — u64map and idtable against a naive array, through long random
 * mixes of inserts, updates and deletes (deletion shifts entries back, so lookups
 * after many deletes are the interesting case).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "hashmap.h"

#define KEYS 4096u

static uint64_t next_random(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

Test(hashmap, u64map_matches_a_plain_array)
{
	static uint32_t values[KEYS];
	static bool present[KEYS];
	memset(present, 0, sizeof(present));
	struct u64map map;
	u64map_init(&map);
	uint64_t seed = 12345;
	uint32_t count = 0;
	for (uint32_t step = 0; step < 300000; step++) {
		uint32_t k = (uint32_t)(next_random(&seed) % KEYS);
		/* Keys that collide in the low bits stress the probing. */
		uint64_t key = ((uint64_t)k << 20) + 1;
		if (next_random(&seed) % 3 == 0) {
			cr_assert_eq(u64map_remove(&map, key), present[k]);
			count -= present[k];
			present[k] = false;
		} else {
			count += !present[k];
			present[k] = true;
			values[k] = (uint32_t)step;
			u64map_put(&map, key, values[k]);
		}
		uint32_t probe = (uint32_t)(next_random(&seed) % KEYS);
		uint32_t value = 0;
		bool found = u64map_get(&map, ((uint64_t)probe << 20) + 1, &value);
		cr_assert_eq(found, present[probe], "step %u", step);
		if (found)
			cr_assert_eq(value, values[probe]);
		cr_assert_eq(map.count, count);
		cr_assert_leq(map.count * 2, map.capacity);
	}
	u64map_finish(&map);
}

static uint64_t table_keys[KEYS];

static uint64_t key_of(const void *context, uint32_t reference)
{
	(void)context;
	return table_keys[reference];
}

Test(hashmap, idtable_matches_a_plain_array)
{
	static bool present[KEYS];
	memset(present, 0, sizeof(present));
	for (uint32_t i = 0; i < KEYS; i++)
		table_keys[i] = (uint64_t)i * 0x100000001ull; /* show-like high bits */
	struct idtable table;
	idtable_init(&table, key_of, NULL);
	uint64_t seed = 777;
	for (uint32_t step = 0; step < 300000; step++) {
		uint32_t k = (uint32_t)(next_random(&seed) % KEYS);
		if (present[k]) {
			cr_assert(idtable_remove(&table, table_keys[k]));
			present[k] = false;
		} else {
			idtable_add(&table, k);
			present[k] = true;
		}
		uint32_t probe = (uint32_t)(next_random(&seed) % KEYS);
		uint32_t found = idtable_get(&table, table_keys[probe]);
		cr_assert_eq(found, present[probe] ? probe : IDTABLE_EMPTY, "step %u", step);
	}
	idtable_finish(&table);
}
