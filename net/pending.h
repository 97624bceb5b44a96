/*
 * pending.h — the answers a shard holds back until its log is durable up to the LSN
 * each depends on (group commit): a FIFO of entries whose bytes live in one arena.
 *
 * Entries are pushed in the order of the LSNs they wait for and released from the
 * front. Under steady load the queue may never be empty, so its memory must not
 * depend on it emptying: pending_queue_settle compacts either array once its
 * released front is at least as large as what is still held, and gives a large
 * array back once the queue empties. What the queue takes thus stays within a
 * small factor of what it holds at its fullest.
 */
#ifndef BOXOFFICE_NET_PENDING_H
#define BOXOFFICE_NET_PENDING_H

#include <stddef.h>
#include <stdint.h>

/* Where an entry goes once the log allows it. */
enum pending_kind {
	PENDING_RESPONSE = 1,	/* a frame for a client connection */
	PENDING_APPLY_DONE = 2, /* a shard's reply to a broadcast catalog put */
};

struct pending {
	uint64_t required_lsn;
	uint64_t target; /* connection id, or gather id */
	uint32_t offset; /* of its bytes in the queue's arena (set by the queue) */
	uint32_t size;
	uint16_t worker; /* the worker that receives it */
	uint8_t kind;	 /* enum pending_kind */
};

struct pending_queue {
	struct pending *items; /* [head, head + count) */
	uint32_t head;
	uint32_t count;
	uint32_t capacity;
	uint8_t *bytes; /* the entries' bytes: [bytes_head, bytes_size) */
	uint32_t bytes_head;
	uint32_t bytes_size;
	uint32_t bytes_capacity;
};

/* Adds an entry (entry.size bytes from `bytes`) at the back. */
void pending_queue_push(struct pending_queue *queue, struct pending entry, const uint8_t *bytes);

/* The oldest entry, and its bytes in *bytes; NULL when the queue is empty. */
const struct pending *pending_queue_front(const struct pending_queue *queue,
					  const uint8_t **bytes);

/* Drops the oldest entry. Its bytes stay where they are until pending_queue_settle. */
void pending_queue_pop(struct pending_queue *queue);

/* After a run of pops: compacts the arrays, or gives large ones back when empty. */
void pending_queue_settle(struct pending_queue *queue);

void pending_queue_finish(struct pending_queue *queue);

/* Bytes the queue's arrays take now. */
size_t pending_queue_memory(const struct pending_queue *queue);

#endif
