/*
 * io.c — the synchronous and the fault-injecting I/O backends (see io.h).
 */
#include "io.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base.h"
#include "files.h"

static void queue_push(struct wal_io_sync *sync, uint64_t token, int32_t result)
{
	ASSERT(sync->count < WAL_IO_SYNC_QUEUE_MAX);
	uint32_t slot = (sync->head + sync->count) % WAL_IO_SYNC_QUEUE_MAX;
	sync->tokens[slot] = token;
	sync->results[slot] = result;
	sync->count++;
}

int32_t wal_io_pwrite(struct wal_io *io, int fd, const void *bytes, uint32_t size,
		      uint64_t offset)
{
	(void)io;
	ssize_t written;
	do
		written = pwrite(fd, bytes, size, (off_t)offset);
	while (written < 0 && errno == EINTR);
	return written < 0 ? -errno : (int32_t)written;
}

static int sync_write(struct wal_io *io, int fd, const void *bytes, uint32_t size,
		      uint64_t offset, uint64_t token)
{
	struct wal_io_sync *sync = (struct wal_io_sync *)io;
	if (sync->count == WAL_IO_SYNC_QUEUE_MAX)
		return -EAGAIN;
	queue_push(sync, token, wal_io_pwrite(io, fd, bytes, size, offset));
	return 0;
}

static int sync_write_durable(struct wal_io *io, int fd, const void *bytes, uint32_t size,
			      uint64_t offset, uint64_t token)
{
	struct wal_io_sync *sync = (struct wal_io_sync *)io;
	if (sync->count == WAL_IO_SYNC_QUEUE_MAX)
		return -EAGAIN;
	struct iovec iov = { .iov_base = (void *)bytes, .iov_len = size };
	ssize_t written;
	do
		written = pwritev2(fd, &iov, 1, (off_t)offset, RWF_DSYNC);
	while (written < 0 && errno == EINTR);
	queue_push(sync, token, written < 0 ? -errno : (int32_t)written);
	return 0;
}

static int sync_sync(struct wal_io *io, int fd, bool data_only, uint64_t token)
{
	struct wal_io_sync *sync = (struct wal_io_sync *)io;
	if (sync->count == WAL_IO_SYNC_QUEUE_MAX)
		return -EAGAIN;
	int32_t result = (data_only ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
	queue_push(sync, token, result);
	return 0;
}

void wal_io_sync_init(struct wal_io_sync *sync)
{
	*sync = (struct wal_io_sync){
		.io = { .write = sync_write,
			.write_now = wal_io_pwrite,
			.write_durable = sync_write_durable,
			.sync = sync_sync } };
}

uint32_t wal_io_sync_deliver(struct wal_io_sync *sync, wal_io_complete_fn *complete, void *owner)
{
	uint32_t delivered = 0;
	/* A completion may submit more requests; deliver until the queue is empty. */
	while (sync->count > 0) {
		uint64_t token = sync->tokens[sync->head];
		int32_t result = sync->results[sync->head];
		sync->head = (sync->head + 1) % WAL_IO_SYNC_QUEUE_MAX;
		sync->count--;
		complete(owner, token, result);
		delivered++;
	}
	return delivered;
}

/* Counts a write; true when this one gets the fault. */
static bool fault_write_hit(struct wal_io_fault *fault)
{
	fault->writes++;
	return !fault->on_sync && fault->writes == fault->fail_at && fault->kind != WAL_FAULT_NONE;
}

static bool bytes_zero(const void *bytes, uint32_t size)
{
	const uint8_t *p = bytes;
	return size == 0 || (p[0] == 0 && memcmp(p, p + 1, size - 1) == 0);
}

static int fault_write(struct wal_io *io, int fd, const void *bytes, uint32_t size,
		       uint64_t offset, uint64_t token)
{
	struct wal_io_fault *fault = (struct wal_io_fault *)io;
	if (!fault_write_hit(fault))
		return fault->inner->write(fault->inner, fd, bytes, size, offset, token);
	fault->hit_zeros = bytes_zero(bytes, size);
	if (fault->kind == WAL_FAULT_SHORT) /* half the bytes really reach the file */
		return fault->inner->write(fault->inner, fd, bytes, size / 2, offset, token);
	queue_push(fault->queue, token, fault->error);
	return 0;
}

static int32_t fault_write_now(struct wal_io *io, int fd, const void *bytes, uint32_t size,
			       uint64_t offset)
{
	struct wal_io_fault *fault = (struct wal_io_fault *)io;
	if (!fault_write_hit(fault))
		return fault->inner->write_now(fault->inner, fd, bytes, size, offset);
	fault->hit_zeros = bytes_zero(bytes, size);
	if (fault->kind == WAL_FAULT_SHORT)
		return fault->inner->write_now(fault->inner, fd, bytes, size / 2, offset);
	return fault->error;
}

static int fault_write_durable(struct wal_io *io, int fd, const void *bytes, uint32_t size,
			       uint64_t offset, uint64_t token)
{
	struct wal_io_fault *fault = (struct wal_io_fault *)io;
	bool write_hit = fault_write_hit(fault);
	if (write_hit)
		fault->hit_zeros = bytes_zero(bytes, size);
	fault->syncs++;
	bool sync_hit = fault->on_sync && fault->syncs == fault->fail_at &&
			fault->kind == WAL_FAULT_ERROR;
	if (!write_hit && !sync_hit)
		return fault->inner->write_durable(fault->inner, fd, bytes, size, offset, token);
	if (write_hit && fault->kind == WAL_FAULT_SHORT) /* whole pages, as direct I/O needs */
		return fault->inner->write_durable(fault->inner, fd, bytes,
						   size / 2 / WAL_PAGE_BYTES * WAL_PAGE_BYTES, offset,
						   token);
	queue_push(fault->queue, token, fault->error);
	return 0;
}

static int fault_sync(struct wal_io *io, int fd, bool data_only, uint64_t token)
{
	struct wal_io_fault *fault = (struct wal_io_fault *)io;
	fault->syncs++;
	if (!fault->on_sync || fault->syncs != fault->fail_at || fault->kind != WAL_FAULT_ERROR)
		return fault->inner->sync(fault->inner, fd, data_only, token);
	queue_push(fault->queue, token, fault->error);
	return 0;
}

void wal_io_fault_init(struct wal_io_fault *fault, struct wal_io_sync *inner,
		       enum wal_fault_kind kind, bool on_sync, int32_t error, uint32_t fail_at)
{
	ASSERT(error <= 0);
	*fault = (struct wal_io_fault){ .io = { .write = fault_write,
						.write_now = fault_write_now,
						.write_durable = fault_write_durable,
						.sync = fault_sync },
					.inner = &inner->io, .kind = kind, .on_sync = on_sync,
					.error = error, .fail_at = fail_at, .queue = inner };
}
