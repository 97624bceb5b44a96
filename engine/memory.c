/*
 * memory.c — allocation that aborts on exhaustion (see memory.h).
 */
#include "memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		grown *= 2;
	if (grown > UINT32_MAX)
		grown = UINT32_MAX;
	uint8_t *p = memory_resize(*items, (size_t)grown * item_size);
	memset(p + (size_t)*capacity * item_size, 0, (size_t)(grown - *capacity) * item_size);
	*items = p;
	*capacity = (uint32_t)grown;
}
