/*
 * io.h — the file I/O the log writer asks for, behind a small interface.
 *
 * The writer never blocks on the disk: it submits writes and syncs with a token and
 * is told the result later through wal_writer_complete(). Three implementations:
 *   io_uring (io_uring.h)  the server's: submissions go on the shard's own ring;
 *   sync (below)           performs each request at once and queues the result,
 *                          for tools, tests and benchmarks;
 *   fault (below)          wraps another and fails the N-th write or sync with a
 *                          chosen error or a short write, for tests.
 * A write submitted as linked and the sync submitted right after it run in that
 * order (io_uring links them); if the write fails, the sync is not run and
 * completes with -ECANCELED.
 */
#ifndef BOXOFFICE_WAL_IO_H
#define BOXOFFICE_WAL_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tokens are 56-bit: the top byte of a 64-bit completion tag is the caller's. */
#define WAL_IO_TOKEN_BITS 56

struct wal_io {
	/*
	 * Returns 0, or a negative errno when the request could not be queued. With
	 * `linked`, the very next request (a sync) runs only after this write and is
	 * cancelled (-ECANCELED) if the write fails or comes up short.
	 */
	int (*write)(struct wal_io *io, int fd, const void *bytes, uint32_t size, uint64_t offset,
		     uint64_t token, bool linked);
	int (*sync)(struct wal_io *io, int fd, bool data_only, uint64_t token);
};

/* Results are delivered to this, one call per request, in submission order. */
typedef void wal_io_complete_fn(void *owner, uint64_t token, int32_t result);

#define WAL_IO_SYNC_QUEUE_MAX 64u

/* Performs requests with pwrite/fdatasync/fsync immediately; results wait in a queue. */
struct wal_io_sync {
	struct wal_io io;
	uint64_t tokens[WAL_IO_SYNC_QUEUE_MAX];
	int32_t results[WAL_IO_SYNC_QUEUE_MAX];
	uint32_t head;
	uint32_t count;
	bool cancel_next_sync; /* the write before it failed */
};

void wal_io_sync_init(struct wal_io_sync *sync);
/* Delivers every queued result; returns how many. */
uint32_t wal_io_sync_deliver(struct wal_io_sync *sync, wal_io_complete_fn *complete, void *owner);

enum wal_fault_kind {
	WAL_FAULT_NONE = 0,
	WAL_FAULT_ERROR = 1, /* the request fails with `error` (e.g. -EIO, -ENOSPC) */
	WAL_FAULT_SHORT = 2, /* a write writes only half of its bytes */
};

/* Wraps `inner`: the `fail_at`-th write (or sync, 1-based) gets the fault. */
struct wal_io_fault {
	struct wal_io io;
	struct wal_io *inner;
	enum wal_fault_kind kind;
	bool on_sync; /* fault a sync instead of a write */
	int32_t error;
	uint32_t fail_at;
	uint32_t writes;
	uint32_t syncs;
	/* Results the fault decided, delivered through the sync queue it shares. */
	struct wal_io_sync *queue;
};

/* `queue` must be the wal_io_sync that `inner` is (fault injection runs on sync I/O). */
void wal_io_fault_init(struct wal_io_fault *fault, struct wal_io_sync *inner,
		       enum wal_fault_kind kind, bool on_sync, int32_t error, uint32_t fail_at);

#endif
