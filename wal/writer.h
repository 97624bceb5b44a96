/*
 * writer.h — appends records to a shard's log with group commit (FORMAT.md).
 *
 * Appending copies the record into memory and returns its LSN at once. A flush
 * writes everything appended since the previous flush with one write and one
 * fdatasync, or, with `direct` where the file system allows it, with one direct
 * write that completes once on stable storage (RWF_DSYNC); when it completes, the
 * durable LSN moves to its last record and, if more was appended meanwhile, the next
 * flush starts right away. With direct writes, up to `flushes` flushes may be in
 * flight at once: what is appended while one is in flight goes out in the next
 * without waiting for it. There is no timer and no batch size: the batch is
 * whatever arrived while the flushes before it were being submitted.
 *
 * The writer never blocks: all I/O goes through struct wal_io and its results come
 * back through wal_writer_complete(). A failed or short write or a failed sync puts
 * the writer in a failed state for good: nothing after it is ever acknowledged and
 * every later append returns the error. The caller must stop (SPEC §8).
 *
 * The next segment is prepared (created, zero-filled, synced with its directory)
 * in the background while the current one fills, so that rotating to it is a plain
 * write. An append that finds no prepared segment ready gets -EAGAIN.
 */
#ifndef BOXOFFICE_WAL_WRITER_H
#define BOXOFFICE_WAL_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "io.h"

/* The most flushes a writer keeps in flight at once (wal_writer_config.flushes). */
#define WAL_FLUSHES_MAX 8u

/* Where a log continues: what recovery found at its end. */
struct wal_position {
	uint64_t next_lsn;	   /* 1 for a new log */
	uint64_t segment_sequence; /* the segment holding the last record; 0 for a new log */
	uint64_t segment_offset;   /* the end of its data */
};

struct wal_writer_config {
	int dir_fd; /* the shard's directory; the writer does not close it */
	uint32_t shard_index;
	uint64_t segment_size;	   /* >= WAL_SEGMENT_SIZE_MIN */
	uint64_t buffer_bytes_max; /* unflushed bytes beyond which appends get -EAGAIN */
	/* Flush with direct I/O (O_DIRECT, RWF_DSYNC) where the file system has it and
	 * segment_size is whole pages: one device write per flush, without the page
	 * cache's copy and writeback or a helper thread's fdatasync. Otherwise, and
	 * for any segment whose file refused it, a buffered write and an fdatasync. */
	bool direct;
	/* Direct flushes in flight at once, 1 … WAL_FLUSHES_MAX (0 means 1). Buffered
	 * flushes, and flushes in a segment of format version 1, go one at a time. */
	uint32_t flushes;
};

struct wal_writer;

/*
 * Opens the log at `position`; for a new log the first segment is prepared here,
 * blocking. Returns 0 or -errno.
 */
int wal_writer_create(struct wal_writer **writer, const struct wal_writer_config *config,
		      struct wal_io *io, const struct wal_position *position);
/* Closes the files. Call when no I/O is in flight (wal_writer_busy() is false). */
void wal_writer_destroy(struct wal_writer *writer); /* accepts NULL */

/*
 * Appends one record of type WAL_RECORD_TYPE_COMMAND. Returns its LSN, or -EAGAIN
 * (the buffer is full or the next segment is not ready: try after completions),
 * -EFBIG (payload over WAL_RECORD_PAYLOAD_MAX), -EINVAL (empty payload), or the
 * writer's failure.
 */
int64_t wal_writer_append(struct wal_writer *writer, int64_t timestamp_ms, const void *payload,
			  uint32_t size);

/*
 * 0 when an append of `size` payload bytes would be accepted now, else what it
 * would return. The shard asks before it applies a command, so that a command is
 * never applied and then found unloggable.
 */
int wal_writer_can_append(const struct wal_writer *writer, uint32_t size);

/*
 * Starts a flush of what was appended, unless as many as allowed are in flight (or
 * the next cannot be written beside them: see writer.c). The writer never
 * starts one by itself, not even when a flush completes: its owner calls this once
 * it has handled a round of completions, so that what those completions let it
 * append (the next requests of the clients just answered) goes in the same flush.
 */
void wal_writer_flush(struct wal_writer *writer);

/* Hands the writer the result of a request it submitted (see io.h). */
void wal_writer_complete(struct wal_writer *writer, uint64_t token, int32_t result);

/* wal_io_complete_fn adapter: owner is the writer. */
void wal_writer_complete_fn(void *owner, uint64_t token, int32_t result);

/* Where the log ends now; only meaningful when nothing is pending or in flight. */
void wal_writer_position(const struct wal_writer *writer, struct wal_position *position);

/* Every record up to this LSN is on stable storage. */
uint64_t wal_writer_durable_lsn(const struct wal_writer *writer);
/* The LSN the next append will get. */
uint64_t wal_writer_next_lsn(const struct wal_writer *writer);
/* 0, or the negative errno that put the writer in its failed state. */
int wal_writer_error(const struct wal_writer *writer);
/* The current segment is flushed with direct writes (see config.direct). */
bool wal_writer_direct(const struct wal_writer *writer);
/* A flush is in flight: its fdatasync (or its direct write) not yet complete. */
bool wal_writer_flushing(const struct wal_writer *writer);
/* Requests are in flight: keep delivering completions. */
bool wal_writer_busy(const struct wal_writer *writer);
/* Appended bytes not yet durable. */
uint64_t wal_writer_pending_bytes(const struct wal_writer *writer);

#endif
