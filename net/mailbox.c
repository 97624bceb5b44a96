/*
 * mailbox.c — the single-producer, single-consumer byte ring (see mailbox.h).
 */
#include "mailbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "bytes.h"

static uint64_t padded(uint64_t size)
{
	return (size + 7) & ~UINT64_C(7);
}

int mailbox_init(struct mailbox *mailbox, uint64_t capacity)
{
	uint64_t rounded = 64;
	while (rounded < capacity)
		rounded *= 2;
	mailbox->bytes = malloc(rounded);
	if (mailbox->bytes == NULL)
		return -ENOMEM;
	mailbox->capacity = rounded;
	atomic_init(&mailbox->head, 0);
	atomic_init(&mailbox->tail, 0);
	return 0;
}

void mailbox_finish(struct mailbox *mailbox)
{
	if (mailbox == NULL)
		return;
	free(mailbox->bytes);
	mailbox->bytes = NULL;
}

/* Copies bytes into the ring at a position, wrapping at the end. */
static void ring_write(struct mailbox *m, uint64_t position, const void *source, uint64_t size)
{
	uint64_t offset = position & (m->capacity - 1);
	uint64_t first = m->capacity - offset < size ? m->capacity - offset : size;
	memcpy(m->bytes + offset, source, first);
	memcpy(m->bytes, (const uint8_t *)source + first, size - first);
}

bool mailbox_push(struct mailbox *m, uint32_t kind, const void *first, uint32_t first_size,
		  const void *second, uint32_t second_size)
{
	uint64_t size = (uint64_t)first_size + second_size;
	uint64_t total = padded(MAILBOX_MESSAGE_HEADER + size);
	uint64_t tail = atomic_load_explicit(&m->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&m->head, memory_order_acquire);
	ASSERT(tail - head <= m->capacity);
	if (m->capacity - (tail - head) < total)
		return false;
	uint8_t header[MAILBOX_MESSAGE_HEADER];
	bytes_store_u32(header, (uint32_t)size);
	bytes_store_u32(header + 4, kind);
	ring_write(m, tail, header, sizeof(header));
	if (first_size > 0)
		ring_write(m, tail + MAILBOX_MESSAGE_HEADER, first, first_size);
	if (second_size > 0)
		ring_write(m, tail + MAILBOX_MESSAGE_HEADER + first_size, second, second_size);
	/* Release: the bytes above are visible before the new tail is. */
	atomic_store_explicit(&m->tail, tail + total, memory_order_release);
	return true;
}

bool mailbox_peek(struct mailbox *m, uint32_t *kind, const uint8_t **bytes, uint32_t *size,
		  uint8_t *scratch)
{
	uint64_t head = atomic_load_explicit(&m->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&m->tail, memory_order_acquire);
	if (head == tail)
		return false;
	uint8_t header[MAILBOX_MESSAGE_HEADER];
	uint64_t offset = head & (m->capacity - 1);
	/* Headers are 8-aligned and the capacity a power of two: never split. */
	memcpy(header, m->bytes + offset, sizeof(header));
	*size = bytes_load_u32(header);
	*kind = bytes_load_u32(header + 4);
	uint64_t body = (head + MAILBOX_MESSAGE_HEADER) & (m->capacity - 1);
	if (body + *size <= m->capacity) {
		*bytes = m->bytes + body;
	} else {
		uint64_t first = m->capacity - body;
		memcpy(scratch, m->bytes + body, first);
		memcpy(scratch + first, m->bytes, *size - first);
		*bytes = scratch;
	}
	return true;
}

bool mailbox_empty(struct mailbox *m)
{
	return atomic_load_explicit(&m->head, memory_order_relaxed) ==
	       atomic_load_explicit(&m->tail, memory_order_acquire);
}

void mailbox_pop(struct mailbox *m)
{
	uint64_t head = atomic_load_explicit(&m->head, memory_order_relaxed);
	uint32_t size = bytes_load_u32(m->bytes + (head & (m->capacity - 1)));
	/* Release: the consumer is done with the bytes before the producer may reuse them. */
	atomic_store_explicit(&m->head, head + padded(MAILBOX_MESSAGE_HEADER + size),
			      memory_order_release);
}
