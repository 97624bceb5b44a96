/*
 * memory.c — allocation that aborts on exhaustion (see memory.h).
 */
#include "memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Arrays double while small; from GROW_GENTLY_BYTES on they grow by a quarter, so a
 * large array (holds, bookings, waiters, seat pools) carries at most 25% unused room
 * instead of up to 100%. Appends stay amortised O(1) (each item is copied at most four
 * times over on average), and glibc usually serves arrays this large with mmap and
 * grows them with mremap, which moves page tables rather than bytes.
 */
#define GROW_GENTLY_BYTES ((uint64_t)256 * 1024)

static _Noreturn void memory_exhausted(size_t size)
{
	fprintf(stderr, "boxoffice: out of memory allocating %zu bytes\n", size);
	fflush(stderr);
	abort();
}

void *memory_alloc(size_t size)
{
	void *p = calloc(1, size ? size : 1);
	if (p == NULL)
		memory_exhausted(size);
	return p;
}

void *memory_resize(void *pointer, size_t size)
{
	void *p = realloc(pointer, size ? size : 1);
	if (p == NULL)
		memory_exhausted(size);
	return p;
}

void memory_free(void *pointer)
{
	free(pointer);
}

void memory_reserve(void **items, uint32_t *capacity, size_t item_size, uint64_t needed)
{
	if (needed <= *capacity)
		return;
	if (needed > UINT32_MAX)
		memory_exhausted(SIZE_MAX);
	uint64_t grown = *capacity ? *capacity : 8;
	while (grown < needed)
		grown += grown * item_size < GROW_GENTLY_BYTES ? grown : grown / 4;
	if (grown > UINT32_MAX)
		grown = UINT32_MAX;
	uint8_t *p = memory_resize(*items, (size_t)grown * item_size);
	memset(p + (size_t)*capacity * item_size, 0, (size_t)(grown - *capacity) * item_size);
	*items = p;
	*capacity = (uint32_t)grown;
}
