/*
 * corruptfx.h — the fixture of the corruption matrix (test_corruption.c): a pristine
 * log written once per suite through wal_store and read back record by record, a
 * work copy each case damages, and its recovery checked against the two allowed
 * outcomes (a prefix, or a refusal naming the segment and offset).
 */
#ifndef BOXOFFICE_TESTS_CORRUPTFX_H
#define BOXOFFICE_TESTS_CORRUPTFX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "store.h"
#include "walfx.h"

#define FILES_MAX 32u

struct record_info {
	uint64_t sequence; /* the segment holding it */
	uint64_t offset;   /* of its first byte in that segment */
	uint32_t size;	   /* header, payload and checksum */
	uint64_t flush_lsn;
	int64_t timestamp_ms;
	const uint8_t *payload; /* into the pristine file's bytes */
	uint32_t payload_size;
};

/* The pristine log, in memory, and what it holds. */
struct pristine {
	char base[256];
	char dir[300];	/* written by the store, then left alone */
	char work[300]; /* each case's damaged copy */
	int work_fd;
	struct engine_config engine_config;
	struct {
		uint64_t sequence;
		uint8_t *bytes;
		size_t size;
	} files[FILES_MAX];
	uint32_t files_count;
	uint32_t started_count;
	struct record_info *records; /* records[lsn - 1] */
	uint64_t count;
	uint64_t *digests; /* digests[k]: an engine fed the first k records */
};

extern struct pristine pristine;

/* What a recovery of the work directory came to. */
struct outcome {
	bool refused;
	uint64_t k;	   /* a prefix: its last LSN */
	bool torn;	   /* a prefix: a torn tail was cut */
	uint64_t sequence; /* a refusal: the segment the message names */
	uint64_t offset;   /* a refusal: the offset it names */
	char message[768];
};

/* Suites: .init = setup_tail (a log of small records only, so that a recovery, and
 * each case, takes little time) or setup_segments (several segments, filled by large
 * records); .fini = teardown. */
/* Applies a command through the store, syncing once when its buffer is full. */
void store_step(struct wal_store *store, const struct command *c, int64_t now,
		struct walfx_workload *w, uint64_t *lsn);
void setup_tail(void);
void setup_segments(void);
void teardown(void);

/* The pristine log's record with this LSN. */
const struct record_info *record_at(uint64_t lsn);
/* The segment sequence of the pristine log's last started segment. */
uint64_t last_sequence(void);
/* The first LSN of the flush that ends at `lsn` (which must end one). */
uint64_t flush_first(uint64_t lsn);

/* The work copy: put back whole, opened, read or written, damaged, a segment removed. */
void work_restore(void);
int work_open(uint64_t sequence);
void work_io(uint64_t sequence, uint64_t offset, void *bytes, size_t size, bool write);
void work_xor(uint64_t sequence, uint64_t offset, uint8_t mask);
void work_zero(uint64_t sequence, uint64_t from, uint64_t to);
void work_remove(uint64_t sequence);

/* Recovers the work copy with repair; fails the test unless the outcome is one of the
 * two allowed. `what` describes the damage for failure messages. */
struct outcome work_recover(const char *what);
void expect_prefix(const struct outcome *out, uint64_t k, const char *what);
void expect_refusal(const struct outcome *out, uint64_t sequence, uint64_t offset,
		    const char *what);

#endif
