/*
 * io_uring.c — log I/O on a shared ring (see io_uring.h).
 */
#include "io_uring.h"

#include <errno.h>
#include <sys/uio.h>

#include "base.h"

static struct io_uring_sqe *sqe_get(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	if (sqe == NULL) {
		/* The submission queue is full: hand it to the kernel and try once more. */
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	return sqe;
}

static uint64_t user_data(const struct wal_io_uring *uring, uint64_t token)
{
	ASSERT(token >> WAL_IO_TOKEN_BITS == 0);
	return (uint64_t)uring->tag << WAL_IO_TOKEN_BITS | token;
}

/* The descriptor to submit a durable write or sync against: -1 for the one that
 * wal_io_uring_fail_at chose. */
static int sync_fd(struct wal_io_uring *uring, int fd)
{
	return ++uring->syncs == uring->fail_at ? -1 : fd;
}

static int uring_write_flagged(struct wal_io *io, int fd, const void *bytes, uint32_t size,
			       uint64_t offset, uint64_t token, int rw_flags)
{
	struct wal_io_uring *uring = (struct wal_io_uring *)io;
	if (rw_flags & RWF_DSYNC)
		fd = sync_fd(uring, fd);
	struct io_uring_sqe *sqe = sqe_get(uring->ring);
	if (sqe == NULL)
		return -EAGAIN;
	io_uring_prep_write(sqe, fd, bytes, size, offset);
	sqe->rw_flags = rw_flags;
	io_uring_sqe_set_data64(sqe, user_data(uring, token));
	return 0;
}

static int uring_write(struct wal_io *io, int fd, const void *bytes, uint32_t size,
		       uint64_t offset, uint64_t token)
{
	return uring_write_flagged(io, fd, bytes, size, offset, token, 0);
}

static int uring_write_durable(struct wal_io *io, int fd, const void *bytes, uint32_t size,
			       uint64_t offset, uint64_t token)
{
	return uring_write_flagged(io, fd, bytes, size, offset, token, RWF_DSYNC);
}

static int uring_sync(struct wal_io *io, int fd, bool data_only, uint64_t token)
{
	struct wal_io_uring *uring = (struct wal_io_uring *)io;
	struct io_uring_sqe *sqe = sqe_get(uring->ring);
	if (sqe == NULL)
		return -EAGAIN;
	io_uring_prep_fsync(sqe, sync_fd(uring, fd), data_only ? IORING_FSYNC_DATASYNC : 0);
	io_uring_sqe_set_data64(sqe, user_data(uring, token));
	return 0;
}

void wal_io_uring_init(struct wal_io_uring *uring, struct io_uring *ring, uint8_t tag)
{
	*uring = (struct wal_io_uring){ .io = { .write = uring_write,
						.write_now = wal_io_pwrite,
						.write_durable = uring_write_durable,
						.sync = uring_sync },
					.ring = ring, .tag = tag };
}

void wal_io_uring_fail_at(struct wal_io_uring *uring, uint32_t n)
{
	uring->syncs = 0;
	uring->fail_at = n;
}
