/*
 * boxwal_repair.c — `boxwal truncate`: the explicit repair, cutting the log after an
 * LSN once every check has passed. The only command that writes.
 */
#include "boxwal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "base.h"
#include "files.h"
#include "record.h"

const char usage_truncate[] =
	"usage: boxwal truncate DIR --at LSN [--shard N] [--force]\n"
	"\n"
	"Cuts the log after record LSN: removes the later segment files (spares too),\n"
	"zeroes every byte after that record in its segment (later records, torn or\n"
	"corrupt bytes), and syncs. LSN may be from the one before the first record kept\n"
	"(remove every record) to the last valid record. Refused, with exit 3:\n"
	"  - an LSN past the end of the log, or past a corruption point: records after\n"
	"    corruption cannot be kept, so the cut must be at or before the last record\n"
	"    before it;\n"
	"  - an LSN below the newest snapshot's, which would be left ahead of the log,\n"
	"    unless --force, which then removes the snapshots above LSN;\n"
	"  - a cut that leaves the log starting after LSN 1 with no snapshot to start\n"
	"    it from.\n"
	"Run it only while the shard is stopped: a running server holds a lock on the\n"
	"directory, and truncate refuses it (exit 1) while the lock is held.\n";

/* truncate */

struct cut {
	uint64_t at_lsn;
	uint32_t segment_index; /* where the log will end */
	uint64_t offset;
	uint64_t base_lsn; /* the LSN before the first record kept */
	uint64_t last_lsn; /* of the intact log; base_lsn when it has no record */
	uint64_t records_removed;
	uint64_t bytes_removed;
};

static int cut_record(void *context, const struct wal_record *record, uint32_t segment_index,
		      uint64_t offset)
{
	struct cut *cut = context;
	if (record->lsn == cut->at_lsn) {
		cut->segment_index = segment_index;
		cut->offset = offset + wal_record_size(record->payload_size);
	}
	if (record->lsn > cut->at_lsn) {
		cut->records_removed++;
		cut->bytes_removed += wal_record_size(record->payload_size);
	}
	cut->last_lsn = record->lsn;
	return 0;
}

/* Why the cut must not happen, or NULL. Snapshot LSNs are ascending. */
static const char *cut_refusal(const struct wal_scan *scan, const struct cut *cut,
			       const struct wal_listing *listing, bool force, char *why,
			       size_t size)
{
	uint64_t at = cut->at_lsn, newest = 0, lowest_start = 0;
	for (uint32_t i = 0; i < listing->snapshots_count; i++) {
		newest = listing->snapshots[i];
		if (lowest_start == 0 && newest >= cut->base_lsn && newest <= cut->last_lsn)
			lowest_start = newest;
	}
	/* After the cut, recovery needs the log to start at LSN 1 or a snapshot in
	 * [base, at] to start from. */
	bool startable = cut->base_lsn == 0 || (lowest_start != 0 && lowest_start <= at);
	char finding[768];
	if (at < cut->base_lsn)
		snprintf(why, size, "the first record kept is LSN %" PRIu64 " (earlier ones were "
			 "retired): the lowest cut is at LSN %" PRIu64, cut->base_lsn + 1,
			 cut->base_lsn);
	else if (at > cut->last_lsn && scan->state == WAL_SCAN_CORRUPT)
		snprintf(why, size, "%s; the last intact record before it is LSN %" PRIu64
			 ", and records past corruption cannot be kept",
			 scan_finding(scan, finding, sizeof(finding)), cut->last_lsn);
	else if (at > cut->last_lsn)
		snprintf(why, size, "the log ends at LSN %" PRIu64, cut->last_lsn);
	else if (at < newest && !force)
		snprintf(why, size, "snapshot LSN %" PRIu64 " would be ahead of the log; --force "
			 "removes the snapshots above LSN %" PRIu64 " too", newest, at);
	else if (!startable && lowest_start != 0)
		snprintf(why, size, "the log starts at LSN %" PRIu64 " and no snapshot would be left "
			 "to start it from: the lowest cut recovery can use is at LSN %" PRIu64,
			 cut->base_lsn + 1, lowest_start);
	else if (!startable && !force)
		snprintf(why, size, "the log starts at LSN %" PRIu64 " and no snapshot can start "
			 "it: recovery refuses it already (--force cuts anyway)", cut->base_lsn + 1);
	else
		return NULL;
	return why;
}

/* Removes a file and says so; returns 0 or EXIT_IO_ERROR, having said why. */
static int file_remove(int dir_fd, const char *name)
{
	int error = wal_file_remove(dir_fd, name);
	if (error != 0)
		return io_fail("remove", name, error);
	printf("removed %s\n", name);
	return 0;
}

/*
 * Does the cut. The order keeps every intermediate state recoverable: snapshots
 * above the cut go first (else a crash could leave one that a later log would seem
 * to continue), then later segments from the last (a gap would be corruption), and
 * last the bytes after the cut in its segment.
 */
static int cut_apply(int dir_fd, const struct wal_scan *scan, const struct cut *cut,
		     const struct wal_listing *listing)
{
	ASSERT(cut->segment_index < wal_scan_walked_count(scan));
	ASSERT(cut->offset >= WAL_SEGMENT_HEADER_SIZE);
	char name[64];
	int code = 0;
	for (uint32_t i = listing->snapshots_count;
	     i-- > 0 && listing->snapshots[i] > cut->at_lsn && code == 0;) {
		wal_snapshot_name(listing->snapshots[i], false, name, sizeof(name));
		code = file_remove(dir_fd, name);
	}
	for (uint32_t i = scan->segments_count; i-- > cut->segment_index + 1 && code == 0;) {
		wal_segment_name(scan->segments[i].sequence, name, sizeof(name));
		code = file_remove(dir_fd, name);
	}
	if (code != 0)
		return code;
	uint64_t sequence = scan->segments[cut->segment_index].sequence;
	wal_segment_name(sequence, name, sizeof(name));
	struct wal_mapping map;
	int error = wal_segment_map(dir_fd, sequence, &map);
	uint64_t end = map.size;
	while (end > cut->offset && map.bytes[end - 1] == 0)
		end--;
	wal_segment_unmap(&map);
	if (error == 0 && end > cut->offset)
		error = wal_segment_zero(dir_fd, sequence, cut->offset, end);
	if (error != 0)
		return io_fail("truncate", name, error);
	if (end > cut->offset)
		printf("zeroed %s bytes %" PRIu64 "..%" PRIu64 "\n", name, cut->offset, end);
	return 0;
}

int truncate_run(int dir_fd, const struct options *options)
{
	/* Held until boxwal exits; a server running on the directory holds it too. */
	int error = wal_dir_lock(dir_fd);
	if (error == -EBUSY) {
		fprintf(stderr, "boxwal: %s is in use by another process (a running server?): "
				"stop it before truncating\n", options->dir);
		return EXIT_IO_ERROR;
	}
	if (error != 0)
		return io_fail("lock", options->dir, error);
	struct wal_scan scan;
	error = wal_scan(dir_fd, (uint32_t)options->values[OPT_SHARD], &scan);
	if (error != 0)
		return io_fail("wal_scan", options->dir, error);
	struct wal_listing *listing = malloc(sizeof(*listing));
	error = listing ? wal_list(dir_fd, listing) : -ENOMEM;
	uint64_t base = wal_scan_walked_count(&scan) ? scan.segments[0].first_lsn - 1 : 0;
	struct cut cut = { .at_lsn = options->values[OPT_AT], .offset = WAL_SEGMENT_HEADER_SIZE,
			   .base_lsn = base, .last_lsn = base };
	if (error == 0)
		error = wal_walk(dir_fd, &scan, 0, cut_record, &cut);
	char why[1024];
	const char *refusal = NULL;
	if (error == 0 && wal_scan_walked_count(&scan) == 0)
		refusal = "no segment with a valid header";
	else if (error == 0)
		refusal = cut_refusal(&scan, &cut, listing, given(options, OPT_FORCE), why,
				      sizeof(why));
	int code = 0;
	if (error != 0) {
		code = io_fail("read", options->dir, error);
	} else if (refusal != NULL) {
		fprintf(stderr, "boxwal: truncate at LSN %" PRIu64 " refused: %s\n", cut.at_lsn,
			refusal);
		code = EXIT_CORRUPT;
	} else {
		if (cut.records_removed > 0)
			printf("removing LSN %" PRIu64 "..%" PRIu64 ": %" PRIu64 " records, %" PRIu64
			       " bytes\n", cut.at_lsn + 1, cut.last_lsn, cut.records_removed,
			       cut.bytes_removed);
		if (scan.state != WAL_SCAN_CLEAN)
			printf("removing the %s\n", scan.state == WAL_SCAN_TORN ? "torn tail"
				: "corruption and everything after it");
		code = cut_apply(dir_fd, &scan, &cut, listing);
		if (code == 0)
			printf("the log %s at LSN %" PRIu64 "\n",
			       cut.records_removed || scan.state != WAL_SCAN_CLEAN ? "now ends"
										: "already ended",
			       cut.at_lsn);
	}
	free(listing);
	wal_scan_finish(&scan);
	return code;
}
