/*
 * io.h — the file I/O the log writer asks for, behind a small interface.
 *
 * The writer never waits for the disk: it submits syncs (and the spare segment's
 * zeros) with a token and is told the result later through wal_writer_complete().
 * A flush's bytes are copied into the page cache at once (write_now: a pwrite, a few
 * microseconds, no device I/O) and its fdatasync is submitted after that returned,
 * so the sync covers them. Handing that copy to the kernel's worker threads instead
 * would cost a thread hand-off per flush: buffered writes to ext4 cannot be done
 * without blocking from io_uring's submission path, so they go to a helper thread
 * (measured: half of the flush's latency at 100k durable requests/s).
 * A writer that flushes with direct I/O instead (see writer.h) submits one
 * write_durable per flush: no copy, no writeback, no helper thread.
 * Three implementations:
 *   io_uring (io_uring.h)  the server's: submissions go on the shard's own ring;
 *   sync (below)           performs each request at once and queues the result,
 *                          for tools, tests and benchmarks;
 *   fault (below)          wraps another and fails the N-th write or sync with a
 *                          chosen error or a short write, for tests.
 */
#ifndef BOXOFFICE_WAL_IO_H
#define BOXOFFICE_WAL_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tokens are 56-bit: the top byte of a 64-bit completion tag is the caller's. */
#define WAL_IO_TOKEN_BITS 56

struct wal_io {
	/* Queues a write. Returns 0, or a negative errno when it could not be queued. */
	int (*write)(struct wal_io *io, int fd, const void *bytes, uint32_t size, uint64_t offset,
		     uint64_t token);
	/* Writes now; returns the bytes written (maybe fewer than size) or a negative errno. */
	int32_t (*write_now)(struct wal_io *io, int fd, const void *bytes, uint32_t size,
			     uint64_t offset);
	/* Queues a write that completes only once its bytes are on stable storage
	 * (RWF_DSYNC: on a file opened for direct I/O, one device write that bypasses
	 * the page cache and the kernel's writeback). Returns as write. */
	int (*write_durable)(struct wal_io *io, int fd, const void *bytes, uint32_t size,
			     uint64_t offset, uint64_t token);
	/* Queues an fdatasync (data_only) or fsync; 0 or a negative errno, as write. */
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
};

void wal_io_sync_init(struct wal_io_sync *sync);
/* write_now as pwrite (retried on EINTR): what every backend uses. */
int32_t wal_io_pwrite(struct wal_io *io, int fd, const void *bytes, uint32_t size,
		      uint64_t offset);
/* Delivers every queued result; returns how many. */
uint32_t wal_io_sync_deliver(struct wal_io_sync *sync, wal_io_complete_fn *complete, void *owner);

enum wal_fault_kind {
	WAL_FAULT_NONE = 0,
	WAL_FAULT_ERROR = 1, /* the request fails with `error` (e.g. -EIO, -ENOSPC) */
	WAL_FAULT_SHORT = 2, /* a write writes only half of its bytes */
};

/* Wraps `inner`: the `fail_at`-th write (queued or now, counted together) or sync,
 * 1-based, gets the fault. A durable write counts as a write and as a sync. */
struct wal_io_fault {
	struct wal_io io;
	struct wal_io *inner;
	enum wal_fault_kind kind;
	bool on_sync; /* fault a sync instead of a write */
	int32_t error;
	uint32_t fail_at;
	uint32_t writes;
	uint32_t syncs;
	bool hit_zeros; /* the faulted write was of zeros only (a spare's fill) */
	/* Results the fault decided, delivered through the sync queue it shares. */
	struct wal_io_sync *queue;
};

/* `queue` must be the wal_io_sync that `inner` is (fault injection runs on sync I/O). */
void wal_io_fault_init(struct wal_io_fault *fault, struct wal_io_sync *inner,
		       enum wal_fault_kind kind, bool on_sync, int32_t error, uint32_t fail_at);

#endif
