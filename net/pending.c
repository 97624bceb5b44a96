/*
 * pending.c — the queue of answers waiting for the log (pending.h).
 */
#include "pending.h"

#include <string.h>

#include "memory.h"

/* Below these a released front is left in place: moving it would cost more calls
 * than it saves memory. */
#define ITEMS_COMPACT_MIN 1024u
#define BYTES_COMPACT_MIN (64u << 10)
/* An empty queue keeps arrays up to these sizes for the next entries. */
#define ITEMS_KEEP_MAX 16384u
#define BYTES_KEEP_MAX (4u << 20)

void pending_queue_push(struct pending_queue *queue, struct pending entry, const uint8_t *bytes)
{
	ARRAY_RESERVE(queue->items, queue->capacity,
		      (uint64_t)queue->head + queue->count + 1);
	ARRAY_RESERVE(queue->bytes, queue->bytes_capacity,
		      (uint64_t)queue->bytes_size + entry.size);
	memcpy(queue->bytes + queue->bytes_size, bytes, entry.size);
	entry.offset = queue->bytes_size;
	queue->items[queue->head + queue->count++] = entry;
	queue->bytes_size += entry.size;
}

const struct pending *pending_queue_front(const struct pending_queue *queue,
					  const uint8_t **bytes)
{
	if (queue->count == 0)
		return NULL;
	const struct pending *entry = &queue->items[queue->head];
	*bytes = queue->bytes + entry->offset;
	return entry;
}

void pending_queue_pop(struct pending_queue *queue)
{
	const struct pending *entry = &queue->items[queue->head];
	queue->bytes_head = entry->offset + entry->size;
	queue->head++;
	queue->count--;
}

void pending_queue_settle(struct pending_queue *queue)
{
	if (queue->count == 0) {
		queue->head = 0;
		queue->bytes_head = queue->bytes_size = 0;
		if (queue->capacity > ITEMS_KEEP_MAX) {
			memory_free(queue->items);
			queue->items = NULL;
			queue->capacity = 0;
		}
		if (queue->bytes_capacity > BYTES_KEEP_MAX) {
			memory_free(queue->bytes);
			queue->bytes = NULL;
			queue->bytes_capacity = 0;
		}
		return;
	}
	if (queue->head >= ITEMS_COMPACT_MIN && queue->head >= queue->count) {
		memmove(queue->items, queue->items + queue->head,
			sizeof(struct pending) * queue->count);
		queue->head = 0;
	}
	uint32_t held = queue->bytes_size - queue->bytes_head;
	if (queue->bytes_head >= BYTES_COMPACT_MIN && queue->bytes_head >= held) {
		memmove(queue->bytes, queue->bytes + queue->bytes_head, held);
		for (uint32_t i = 0; i < queue->count; i++)
			queue->items[queue->head + i].offset -= queue->bytes_head;
		queue->bytes_size = held;
		queue->bytes_head = 0;
	}
}

void pending_queue_finish(struct pending_queue *queue)
{
	memory_free(queue->items);
	memory_free(queue->bytes);
	*queue = (struct pending_queue){ 0 };
}

size_t pending_queue_memory(const struct pending_queue *queue)
{
	return (size_t)queue->capacity * sizeof(struct pending) + queue->bytes_capacity;
}
