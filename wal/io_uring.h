/*
 * io_uring.h — the log's I/O on an io_uring that someone else owns and reaps.
 *
 * A shard thread has one ring for its sockets, timers and log. This backend puts
 * the log's requests on it, with user_data = tag << 56 | token; the thread's loop
 * hands every completion whose top byte is the tag to wal_writer_complete().
 * A flush's bytes are written at once (write_now, see io.h); only its fdatasync and
 * the spare segment's zeros and syncs go on the ring.
 */
#ifndef BOXOFFICE_WAL_IO_URING_H
#define BOXOFFICE_WAL_IO_URING_H

#include <liburing.h>

#include "io.h"

struct wal_io_uring {
	struct wal_io io;
	struct io_uring *ring;
	uint8_t tag;
	uint32_t syncs;	  /* durable writes and syncs submitted */
	uint32_t fail_at; /* for tests: that one of them (1-based) fails; 0: none */
};

void wal_io_uring_init(struct wal_io_uring *uring, struct io_uring *ring, uint8_t tag);

/*
 * For tests of what a server does when its disk fails: the n-th durable write or
 * sync from now on (1-based) is submitted against no file, so that the kernel
 * completes it with -EBADF, as a failing device completes it with an error.
 */
void wal_io_uring_fail_at(struct wal_io_uring *uring, uint32_t n);

static inline bool wal_io_uring_owns(const struct wal_io_uring *uring, uint64_t user_data)
{
	return (uint8_t)(user_data >> WAL_IO_TOKEN_BITS) == uring->tag;
}

static inline uint64_t wal_io_uring_token(uint64_t user_data)
{
	return user_data & ((UINT64_C(1) << WAL_IO_TOKEN_BITS) - 1);
}

#endif
