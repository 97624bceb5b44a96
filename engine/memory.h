/*
 * memory.h — allocation for the engine.
 *
 * The engine aborts when memory runs out instead of unwinding: a command is either
 * applied whole or the process stops, and the write-ahead log holds everything that
 * was acknowledged. Growable arrays grow geometrically (they double while small, then
 * grow by a quarter), so appends are amortised O(1).
 */
#ifndef BOXOFFICE_MEMORY_H
#define BOXOFFICE_MEMORY_H

#include <stddef.h>
#include <stdint.h>

void *memory_alloc(size_t size);		 /* zeroed */
void *memory_resize(void *pointer, size_t size); /* like realloc; new bytes are not zeroed */
void memory_free(void *pointer);		 /* accepts NULL */

/*
 * Makes room for at least `needed` items of `item_size` bytes in *items, whose
 * capacity is *capacity (items). New items are zeroed.
 */
void memory_reserve(void **items, uint32_t *capacity, size_t item_size, uint64_t needed);

#define ARRAY_RESERVE(items, capacity, needed) \
	memory_reserve((void **)&(items), &(capacity), sizeof(*(items)), (needed))

#endif
