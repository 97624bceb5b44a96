/*
 * mailbox.h — messages between shard threads without a lock: one single-producer,
 * single-consumer byte ring per ordered pair of workers.
 *
 * A message is a u32 size, a u32 kind, then its bytes, padded to 8. The producer
 * owns `tail`, the consumer `head`; each publishes its index with a release store
 * and reads the other's with an acquire load, which is all the ordering a
 * single-producer single-consumer ring needs. Waking the consumer is the caller's
 * business (the server posts an IORING_OP_MSG_RING completion to its ring).
 */
#ifndef BOXOFFICE_NET_MAILBOX_H
#define BOXOFFICE_NET_MAILBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAILBOX_MESSAGE_HEADER 8u

struct mailbox {
	uint8_t *bytes;
	uint64_t capacity;		   /* a power of two */
	_Alignas(64) _Atomic uint64_t head; /* consumer: next byte to read */
	_Alignas(64) _Atomic uint64_t tail; /* producer: next byte to write */
};

/* Returns 0 or -ENOMEM. capacity is rounded up to a power of two. */
int mailbox_init(struct mailbox *mailbox, uint64_t capacity);
void mailbox_finish(struct mailbox *mailbox); /* accepts NULL */

/*
 * Producer: copies a message of `size` bytes (from two pieces, either may be empty)
 * in; false when there is no room (nothing is written then).
 */
bool mailbox_push(struct mailbox *mailbox, uint32_t kind, const void *first, uint32_t first_size,
		  const void *second, uint32_t second_size);

/*
 * Consumer: the next message, or false when empty. The bytes stay valid until
 * mailbox_pop(); messages that wrap the ring's end are copied into `scratch`
 * (which must hold the largest message).
 */
bool mailbox_peek(struct mailbox *mailbox, uint32_t *kind, const uint8_t **bytes,
		  uint32_t *size, uint8_t *scratch);
void mailbox_pop(struct mailbox *mailbox);
/* Consumer: whether no message waits. */
bool mailbox_empty(struct mailbox *mailbox);

#endif
