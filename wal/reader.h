/*
 * reader.h — reads a shard's log: checks every segment and record, decides whether
 * an invalid tail is torn (cut it) or corruption (refuse), and replays records.
 * The rules are in FORMAT.md ("Reading, torn tails and corruption").
 */
#ifndef BOXOFFICE_WAL_READER_H
#define BOXOFFICE_WAL_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

enum wal_scan_state {
	WAL_SCAN_CLEAN = 0,   /* every byte after the last record is zero */
	WAL_SCAN_TORN = 1,    /* an unsynced last flush was cut short: cut it */
	WAL_SCAN_CORRUPT = 2, /* refuse: the message names segment and offset */
};

struct wal_segment_info {
	uint64_t sequence;
	uint64_t file_size;
	bool started;	    /* has a valid header (spares do not) */
	uint64_t first_lsn; /* from the header */
	uint64_t last_lsn;  /* of its last valid record; first_lsn - 1 when it has none */
	uint64_t data_end;  /* offset after its last valid record */
	/* Of the record whose LSN is its last record's flush LSN: from there on, the
	 * log may not have been synced when the process stopped. */
	uint64_t flush_offset;
	uint32_t version; /* from the header: 2 and later may leave gaps (FORMAT.md) */
	uint64_t records;
};

struct wal_scan {
	enum wal_scan_state state;
	struct wal_segment_info *segments; /* every segment file, in number order */
	uint32_t segments_count;
	uint32_t started_count; /* the first started_count are started; the rest are spares */
	uint64_t first_lsn;	/* of the oldest record kept; 0 when there is none */
	uint64_t last_lsn;	/* of the newest valid record; 0 when there is none */
	uint64_t records;
	/* A torn tail: the bytes [tail_offset, tail_end) of segment tail_sequence are
	 * to be zeroed (tail_drop: the whole segment is to be removed). */
	uint64_t tail_sequence;
	uint64_t tail_offset;
	uint64_t tail_end;
	bool tail_drop;
	char message[512]; /* what was found, for people: torn tail or corruption */
};

/* Scans dir. Returns 0 (look at scan->state; wal_scan_finish() frees it) or -errno on an
 * I/O error, with nothing left to free. */
int wal_scan(int dir_fd, uint32_t shard_index, struct wal_scan *scan);
void wal_scan_finish(struct wal_scan *scan); /* accepts NULL */

/*
 * Calls fn for every valid record with lsn >= from_lsn, in order, until fn returns
 * non-zero (which is returned). A scan that is not CORRUPT only is accepted.
 */
typedef int wal_record_fn(void *context, const struct wal_record *record);
int wal_replay(int dir_fd, const struct wal_scan *scan, uint64_t from_lsn, wal_record_fn *fn,
	       void *context);

/* Zeroes a torn tail found by wal_scan (and removes spares); syncs. Returns 0 or -errno. */
int wal_tail_cut(int dir_fd, const struct wal_scan *scan);

/*
 * Makes the log's last flush durable (after wal_tail_cut): writes its pages again as
 * they read, then fdatasyncs. Recovery reads through the page cache, so a flush
 * whose fdatasync never completed (the process was killed, or the sync failed, after
 * which the kernel may keep the pages with no copy on disk) would otherwise be
 * replayed and taken as durable. Returns 0 or -errno.
 */
int wal_tail_sync(int dir_fd, const struct wal_scan *scan);

/* Tools: reading segments in place, walking every intact record, repairing. */

/* A segment file mapped read-only; an empty file maps to no bytes. */
struct wal_mapping {
	const uint8_t *bytes;
	size_t size;
};

/* Maps segment `sequence` of dir. Returns 0 or -errno (*map is then empty). */
int wal_segment_map(int dir_fd, uint64_t sequence, struct wal_mapping *map);
void wal_segment_unmap(struct wal_mapping *map); /* accepts an empty one */

/*
 * How many segments, from the first, hold records that are intact up to some end:
 * the first started_count, and on a CORRUPT scan also the segment that holds the
 * corruption when its header is valid (its records before tail_offset are intact).
 */
uint32_t wal_scan_walked_count(const struct wal_scan *scan);

/*
 * Calls fn for every intact record with lsn >= from_lsn, in order, with the index
 * (into scan->segments) and offset of the segment it lies in, until fn returns
 * non-zero. Unlike wal_replay it accepts a CORRUPT scan, and walks the intact start
 * of the corrupt segment (see wal_scan_walked_count). Returns 0, fn's result, or
 * -errno (-EIO when a segment no longer holds what the scan found).
 */
typedef int wal_record_at_fn(void *context, const struct wal_record *record,
			     uint32_t segment_index, uint64_t offset);
int wal_walk(int dir_fd, const struct wal_scan *scan, uint64_t from_lsn, wal_record_at_fn *fn,
	     void *context);

/* Zeroes bytes [start, end) of segment `sequence` and syncs it. Returns 0 or -errno. */
int wal_segment_zero(int dir_fd, uint64_t sequence, uint64_t start, uint64_t end);

#endif
