/*
 * test_writer_overlap.c — direct flushes in flight beside each other (FORMAT.md,
 * "Flushes in flight"): each on pages of its own, never beside one of another
 * segment, completing in any order while the durable LSN moves only over a
 * completed prefix; the logs they leave read back (gaps and all), a torn flush
 * behind later ones is cut, a segment begun by version 1 is flushed one at a time,
 * and a power loss that keeps any part of the writes in flight loses no durable
 * record and is never taken for corruption.
 *
 * The synchronous I/O backend performs each write at once and queues its result;
 * these tests hand the results to the writer in whatever order they choose.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "bytes.h"
#include "files.h"
#include "reader.h"
#include "record.h"
#include "walfx.h"

#define LSNS_MAX 20000u
#define WRITES_MAX 64u

TestSuite(overlap, .init = walfx_dir_setup, .fini = walfx_dir_teardown);

/* Records each flush write (a durable write: the spare's zeros are plain writes). */
struct recorder {
	struct wal_io io;
	struct wal_io *inner;
	uint32_t writes;		    /* flush writes submitted */
	struct {
		int fd;
		uint64_t offset, size, token;
	} in_flight[WRITES_MAX];	    /* submitted, result not yet handed over */
	uint32_t in_flight_count;
	uint32_t in_flight_max;		    /* the most ever in flight at once */
	uint64_t offsets[WRITES_MAX];	    /* of the first WRITES_MAX flush writes */
};

static int recorder_write(struct wal_io *io, int fd, const void *bytes, uint32_t size,
			  uint64_t offset, uint64_t token)
{
	struct recorder *r = (struct recorder *)io;
	return r->inner->write(r->inner, fd, bytes, size, offset, token);
}

static int32_t recorder_write_now(struct wal_io *io, int fd, const void *bytes, uint32_t size,
				  uint64_t offset)
{
	cr_assert_fail("a direct writer writes nothing through the page cache");
	(void)io, (void)fd, (void)bytes, (void)size, (void)offset;
	return -EIO;
}

/* Checks, as each flush is submitted, what no two flushes in flight may do. */
static int recorder_write_durable(struct wal_io *io, int fd, const void *bytes, uint32_t size,
				  uint64_t offset, uint64_t token)
{
	struct recorder *r = (struct recorder *)io;
	for (uint32_t i = 0; i < r->in_flight_count; i++) {
		cr_assert_eq(r->in_flight[i].fd, fd, "a flush beside one in another segment");
		uint64_t end = r->in_flight[i].offset + r->in_flight[i].size;
		cr_assert(offset >= end || offset + size <= r->in_flight[i].offset,
			  "a flush at %llu+%u shares a page with one in flight at %llu+%llu",
			  (unsigned long long)offset, size,
			  (unsigned long long)r->in_flight[i].offset,
			  (unsigned long long)r->in_flight[i].size);
	}
	/* What the file holds is either zeros or bytes written before: a flush may rewrite
	 * them only as they are. */
	static _Alignas(WAL_PAGE_BYTES) uint8_t before[1u << 20]; /* the fd is O_DIRECT */
	uint32_t compared = size < sizeof(before) ? size : (uint32_t)sizeof(before);
	ssize_t got = pread(fd, before, compared, (off_t)offset);
	cr_assert_geq(got, 0);
	for (ssize_t i = 0; i < got; i++)
		cr_assert(before[i] == 0 || before[i] == ((const uint8_t *)bytes)[i],
			  "a flush changes byte %llu, written before",
			  (unsigned long long)offset + (unsigned long long)i);
	cr_assert_lt(r->in_flight_count, WRITES_MAX);
	r->in_flight[r->in_flight_count].fd = fd;
	r->in_flight[r->in_flight_count].offset = offset;
	r->in_flight[r->in_flight_count].size = size;
	r->in_flight[r->in_flight_count].token = token;
	r->in_flight_count++;
	if (r->in_flight_count > r->in_flight_max)
		r->in_flight_max = r->in_flight_count;
	if (r->writes < WRITES_MAX)
		r->offsets[r->writes] = offset;
	r->writes++;
	return r->inner->write_durable(r->inner, fd, bytes, size, offset, token);
}

static int recorder_sync(struct wal_io *io, int fd, bool data_only, uint64_t token)
{
	struct recorder *r = (struct recorder *)io;
	return r->inner->sync(r->inner, fd, data_only, token);
}

static void recorder_init(struct recorder *r, struct wal_io_sync *sync)
{
	*r = (struct recorder){ .io = { .write = recorder_write,
					.write_now = recorder_write_now,
					.write_durable = recorder_write_durable,
					.sync = recorder_sync },
				.inner = &sync->io };
}

/* An empty test directory again, and a fresh backend and recorder, for a test's next round. */
static void fresh_start(struct wal_io_sync *sync, struct recorder *r)
{
	walfx_dir_teardown();
	walfx_dir_setup();
	wal_io_sync_init(sync);
	recorder_init(r, sync);
}

/* Hands the writer the k-th queued result (0: the oldest), out of order. */
static void deliver_at(struct wal_io_sync *sync, struct recorder *r, struct wal_writer *writer,
		       uint32_t k)
{
	cr_assert_lt(k, sync->count);
	uint32_t at = (sync->head + k) % WAL_IO_SYNC_QUEUE_MAX;
	uint64_t token = sync->tokens[at];
	int32_t result = sync->results[at];
	for (uint32_t i = k; i + 1 < sync->count; i++) {
		uint32_t to = (sync->head + i) % WAL_IO_SYNC_QUEUE_MAX;
		uint32_t from = (sync->head + i + 1) % WAL_IO_SYNC_QUEUE_MAX;
		sync->tokens[to] = sync->tokens[from];
		sync->results[to] = sync->results[from];
	}
	sync->count--;
	for (uint32_t i = 0; i < r->in_flight_count; i++) {
		if (r->in_flight[i].token == token) {
			r->in_flight[i] = r->in_flight[--r->in_flight_count];
			break;
		}
	}
	wal_writer_complete(writer, token, result);
}

/* Flushes and hands over results, oldest first, until every record appended is durable. */
static void settle(struct wal_io_sync *sync, struct recorder *r, struct wal_writer *writer)
{
	while (wal_writer_durable_lsn(writer) + 1 < wal_writer_next_lsn(writer) ||
	       wal_writer_busy(writer)) {
		wal_writer_flush(writer);
		deliver_at(sync, r, writer, 0);
	}
}

static struct wal_writer *writer_open(struct wal_io *io, uint32_t flushes, uint64_t segment_size,
				      const struct wal_position *position)
{
	if (!walfx_direct_io_supported(walfx_dir_fd))
		cr_skip_test("the test directory's file system has no direct I/O");
	struct wal_writer_config config = walfx_writer_config_direct(walfx_dir_fd, 4u << 20);
	config.flushes = flushes;
	if (segment_size != 0)
		config.segment_size = segment_size;
	struct wal_position start = { .next_lsn = 1 };
	struct wal_writer *writer = NULL;
	cr_assert_eq(wal_writer_create(&writer, &config, io, position ? position : &start), 0);
	cr_assert(wal_writer_direct(writer));
	return writer;
}

/* A payload that says which LSN it belongs to, so that misplaced bytes show. */
static void payload_make(uint8_t *payload, uint32_t size, uint64_t lsn)
{
	for (uint32_t i = 0; i < size; i++)
		payload[i] = (uint8_t)(lsn * 29u + i);
}

static int64_t append_made(struct wal_writer *writer, uint64_t lsn, uint32_t size)
{
	static uint8_t payload[WAL_RECORD_PAYLOAD_MAX];
	payload_make(payload, size, lsn);
	return wal_writer_append(writer, (int64_t)lsn, payload, size);
}

/* What the reader makes of the log: every record checked against what was appended. */
struct log_read {
	uint64_t count;
	uint64_t flush_lsns[LSNS_MAX + 1]; /* by LSN */
	uint64_t offsets[LSNS_MAX + 1];	   /* by LSN: where in its segment it starts */
};

static int log_read_record(void *context, const struct wal_record *record, uint32_t segment_index,
			   uint64_t offset)
{
	(void)segment_index;
	struct log_read *read = context;
	cr_assert_eq(record->lsn, read->count + 1, "records come back in LSN order");
	cr_assert_leq(record->lsn, LSNS_MAX);
	uint8_t payload[256];
	uint32_t size = record->payload_size < sizeof(payload) ? record->payload_size
							       : (uint32_t)sizeof(payload);
	payload_make(payload, size, record->lsn);
	cr_assert_eq(memcmp(record->payload, payload, size), 0, "LSN %llu's payload",
		     (unsigned long long)record->lsn);
	cr_assert_eq(record->timestamp_ms, (int64_t)record->lsn);
	read->flush_lsns[record->lsn] = record->flush_lsn;
	read->offsets[record->lsn] = offset;
	read->count++;
	return 0;
}

/* wal_replay's function: counts the records, which must come in LSN order. */
static int replay_count(void *context, const struct wal_record *record)
{
	uint64_t *count = context;
	cr_assert_eq(record->lsn, *count + 1);
	(*count)++;
	return 0;
}

/* Scans the test directory; the scan must be in `state`. Returns what it walked. */
static struct log_read *log_scan(enum wal_scan_state state, struct wal_scan *scan_out)
{
	struct wal_scan scan;
	cr_assert_eq(wal_scan(walfx_dir_fd, 0, &scan), 0);
	cr_assert_eq(scan.state, state, "%s", scan.message);
	struct log_read *read = calloc(1, sizeof(*read));
	cr_assert_eq(wal_walk(walfx_dir_fd, &scan, 1, log_read_record, read), 0);
	if (scan_out != NULL)
		*scan_out = scan;
	else
		wal_scan_finish(&scan);
	return read;
}

Test(overlap, flushes_overlap_up_to_the_limit_each_on_pages_of_its_own)
{
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct recorder r;
	recorder_init(&r, &sync);
	struct wal_writer *writer = writer_open(&r.io, 3, 4u << 20, NULL);
	uint64_t lsn = 1;
	for (uint32_t flush = 0; flush < 4; flush++) {
		for (uint32_t i = 0; i < 3; i++, lsn++)
			cr_assert_eq(append_made(writer, lsn, 40), (int64_t)lsn);
		wal_writer_flush(writer);
	}
	cr_assert_eq(r.writes, 3, "three in flight at most");
	cr_assert_eq(r.offsets[0], 0);
	cr_assert_eq(r.offsets[1], 4096, "the second flush moves off the first one's page");
	cr_assert_eq(r.offsets[2], 8192);
	cr_assert_eq(wal_writer_durable_lsn(writer), 0);
	deliver_at(&sync, &r, writer, 1);
	deliver_at(&sync, &r, writer, 1);
	cr_assert_eq(wal_writer_durable_lsn(writer), 0, "not before the first flush is done");
	cr_assert(wal_writer_flushing(writer));
	deliver_at(&sync, &r, writer, 0);
	cr_assert_eq(wal_writer_durable_lsn(writer), 9, "then over all three at once");
	cr_assert_not(wal_writer_flushing(writer));
	wal_writer_flush(writer);
	cr_assert_eq(r.writes, 4);
	cr_assert_eq(r.offsets[3], 8192, "with nothing in flight, the part-filled page is rewritten");
	deliver_at(&sync, &r, writer, 0);
	cr_assert_eq(wal_writer_durable_lsn(writer), 12);
	cr_assert_eq(wal_writer_pending_bytes(writer), 0);
	wal_writer_destroy(writer);

	struct log_read *read = log_scan(WAL_SCAN_CLEAN, NULL);
	cr_assert_eq(read->count, 12);
	cr_assert_eq(read->offsets[4], 4096, "the reader crosses the zeros left on page 0");
	cr_assert_eq(read->offsets[7], 8192);
	for (uint64_t l = 1; l <= 9; l++)
		cr_assert_eq(read->flush_lsns[l], 1, "LSN %llu: submitted while 1 was not durable",
			     (unsigned long long)l);
	for (uint64_t l = 10; l <= 12; l++)
		cr_assert_eq(read->flush_lsns[l], 10, "LSN %llu", (unsigned long long)l);
	free(read);
}

/*
 * A gap shorter than a record's size field is no zero size field: the first flush
 * ends 1, 2, 3 and 4 bytes before a page's end, the next is moved past it.
 */
Test(overlap, gaps_of_a_few_bytes_read_back)
{
	for (uint32_t gap = 1; gap <= 4; gap++) {
		struct wal_io_sync sync;
		struct recorder r;
		fresh_start(&sync, &r);
		struct wal_writer *writer = writer_open(&r.io, 2, 4u << 20, NULL);
		uint32_t size = WAL_PAGE_BYTES - gap - WAL_SEGMENT_HEADER_SIZE - WAL_RECORD_OVERHEAD;
		cr_assert_eq(append_made(writer, 1, size), 1);
		wal_writer_flush(writer);
		cr_assert_eq(append_made(writer, 2, 70000), 2); /* its size field's low byte is 0x70 */
		cr_assert_eq(append_made(writer, 3, 65536), 3); /* 00 00 01 00 */
		wal_writer_flush(writer);
		cr_assert_eq(r.offsets[1], WAL_PAGE_BYTES, "gap %u", gap);
		settle(&sync, &r, writer);
		wal_writer_destroy(writer);
		struct log_read *read = log_scan(WAL_SCAN_CLEAN, NULL);
		cr_assert_eq(read->count, 3, "gap %u", gap);
		cr_assert_eq(read->offsets[2], WAL_PAGE_BYTES, "gap %u", gap);
		free(read);
	}
}

/* Opens a segment file of the test directory for reading and writing. */
static int segment_open(uint64_t sequence)
{
	char name[64];
	wal_segment_name(sequence, name, sizeof(name));
	int fd = openat(walfx_dir_fd, name, O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s", name);
	return fd;
}

/* Flips one byte of a segment file. */
static void byte_flip(uint64_t sequence, uint64_t offset)
{
	int fd = segment_open(sequence);
	uint8_t byte;
	cr_assert_eq(pread(fd, &byte, 1, (off_t)offset), 1);
	byte ^= 0x40;
	cr_assert_eq(pwrite(fd, &byte, 1, (off_t)offset), 1);
	close(fd);
}

/*
 * Two flushes: 1-3, then 4-6 submitted `beside` the first (while it was in flight)
 * or after it completed. Then LSN 3 is damaged on disk, as a power loss during the
 * first flush could leave it. Returns the scan.
 */
static struct log_read *two_flushes_then_damage(bool beside, struct wal_scan *scan)
{
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct recorder r;
	recorder_init(&r, &sync);
	struct wal_writer *writer = writer_open(&r.io, 2, 4u << 20, NULL);
	for (uint64_t lsn = 1; lsn <= 3; lsn++)
		append_made(writer, lsn, 100);
	wal_writer_flush(writer);
	if (!beside)
		deliver_at(&sync, &r, writer, 0);
	for (uint64_t lsn = 4; lsn <= 6; lsn++)
		append_made(writer, lsn, 100);
	wal_writer_flush(writer);
	cr_assert_eq(r.writes, 2);
	cr_assert_eq(r.offsets[1], beside ? 4096 : 0);
	settle(&sync, &r, writer);
	cr_assert_eq(wal_writer_durable_lsn(writer), 6);
	wal_writer_destroy(writer);
	uint64_t lsn3 = WAL_SEGMENT_HEADER_SIZE + 2 * wal_record_size(100);
	byte_flip(1, lsn3 + WAL_RECORD_HEADER_SIZE + 50);
	return log_scan(beside ? WAL_SCAN_TORN : WAL_SCAN_CORRUPT, scan);
}

Test(overlap, a_damaged_flush_with_later_flushes_beside_it_is_a_torn_tail)
{
	struct wal_scan scan;
	struct log_read *read = two_flushes_then_damage(true, &scan);
	cr_assert_eq(read->count, 2, "what precedes the damage is kept");
	cr_assert(strstr(scan.message, "(3 intact records in them)") != NULL, "%s", scan.message);
	cr_assert_eq(scan.last_lsn, 2);
	cr_assert_eq(wal_tail_cut(walfx_dir_fd, &scan), 0);
	wal_scan_finish(&scan);
	free(read);
	read = log_scan(WAL_SCAN_CLEAN, NULL);
	cr_assert_eq(read->count, 2, "after the cut: 1-2 only, and nothing after them");
	free(read);
}

Test(overlap, a_damaged_flush_followed_by_one_submitted_after_it_was_synced_is_corruption)
{
	struct wal_scan scan;
	struct log_read *read = two_flushes_then_damage(false, &scan);
	cr_assert(strstr(scan.message, "after it was synced") != NULL, "%s", scan.message);
	wal_scan_finish(&scan);
	free(read);
}

/*
 * Records of random sizes until five segments are started, flushed and completed
 * in random order with up to four in flight; the recorder checks every flush as it
 * is submitted. The durable LSN only grows, the log reads back whole, and a
 * recovery's view of it ends where the writer's did.
 */
Test(overlap, random_flushes_and_completions_across_segments_read_back_whole)
{
	/* 0x1021 left a gap of one byte, which once read as a cut record. */
	uint64_t seeds[] = { 0x0ec1, 0x0ec2, 0x1021 };
	for (uint32_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		uint64_t rng = seeds[s];
		struct wal_io_sync sync;
		struct recorder r;
		fresh_start(&sync, &r);
		struct wal_writer *writer = writer_open(&r.io, 4, 0, NULL);
		uint64_t lsn = 1, durable = 0;
		uint64_t bytes_max = 5ull * WALFX_DIRECT_SEGMENT_SIZE;
		for (uint64_t bytes = 0; bytes < bytes_max; lsn++) {
			uint32_t size = 1 + (uint32_t)(walfx_rng_next(&rng) %
						       (walfx_rng_next(&rng) % 4 ? 300 : 30000));
			int64_t appended = append_made(writer, lsn, size);
			for (int round = 0; appended == -EAGAIN && round < 64; round++) {
				wal_writer_flush(writer);
				if (sync.count > 0)
					deliver_at(&sync, &r, writer,
						   (uint32_t)(walfx_rng_next(&rng) % sync.count));
				appended = append_made(writer, lsn, size);
			}
			cr_assert_eq(appended, (int64_t)lsn, "seed %llx", (unsigned long long)seeds[s]);
			bytes += wal_record_size(size);
			if (walfx_rng_next(&rng) % 2 == 0)
				wal_writer_flush(writer);
			if (sync.count > 0 && walfx_rng_next(&rng) % 3 == 0)
				deliver_at(&sync, &r, writer, (uint32_t)(walfx_rng_next(&rng) % sync.count));
			cr_assert_geq(wal_writer_durable_lsn(writer), durable);
			durable = wal_writer_durable_lsn(writer);
			cr_assert_lt(lsn, LSNS_MAX);
		}
		while (wal_writer_durable_lsn(writer) < lsn - 1 || wal_writer_busy(writer)) {
			wal_writer_flush(writer);
			cr_assert_gt(sync.count, 0);
			deliver_at(&sync, &r, writer, (uint32_t)(walfx_rng_next(&rng) % sync.count));
		}
		cr_assert_eq(wal_writer_error(writer), 0);
		cr_assert_gt(r.in_flight_max, 2, "seed %llx: flushes did overlap",
			     (unsigned long long)seeds[s]);
		struct wal_position position;
		wal_writer_position(writer, &position);
		wal_writer_destroy(writer);
		struct wal_scan scan;
		struct log_read *read = log_scan(WAL_SCAN_CLEAN, &scan);
		cr_assert_eq(read->count, lsn - 1, "seed %llx", (unsigned long long)seeds[s]);
		cr_assert_geq(scan.started_count, 5);
		const struct wal_segment_info *last = &scan.segments[scan.started_count - 1];
		cr_assert_eq(last->sequence, position.segment_sequence);
		cr_assert_eq(last->data_end, position.segment_offset);
		/* After a crash, recovery syncs the log again from the first record that
		 * was not durable when its last flush was submitted (or from the gap
		 * before it). */
		uint64_t from = read->flush_lsns[lsn - 1];
		if (from > last->first_lsn) {
			cr_assert_leq(last->flush_offset, read->offsets[from]);
			cr_assert_gt(last->flush_offset, read->offsets[from - 1]);
		} else {
			cr_assert_eq(last->flush_offset, WAL_SEGMENT_HEADER_SIZE);
		}
		for (uint64_t l = 2; l < lsn; l++)
			cr_assert_geq(read->flush_lsns[l], read->flush_lsns[l - 1]);
		/* Replay reads the records again without their checksums, across the gaps. */
		uint64_t replayed = 0;
		cr_assert_eq(wal_replay(walfx_dir_fd, &scan, 1, replay_count, &replayed), 0);
		cr_assert_eq(replayed, lsn - 1);
		wal_scan_finish(&scan);
		free(read);
	}
}

/*
 * A writer with one flush at a time writes version-1 segments, byte for byte what
 * earlier versions wrote, so that they can still read its logs; one with more
 * writes version 2 from its first segment on.
 */
Test(overlap, the_segment_version_follows_the_flushes_allowed)
{
	for (uint32_t flushes = 1; flushes <= 2; flushes++) {
		struct wal_io_sync sync;
		struct recorder r;
		fresh_start(&sync, &r);
		struct wal_writer *writer = writer_open(&r.io, flushes, 0, NULL);
		uint64_t lsn = 1;
		while (r.writes < 40) {
			int64_t appended = append_made(writer, lsn, 30000);
			if (appended == -EAGAIN) {
				wal_writer_flush(writer);
				deliver_at(&sync, &r, writer, 0);
				continue;
			}
			cr_assert_eq(appended, (int64_t)lsn++);
			wal_writer_flush(writer);
		}
		settle(&sync, &r, writer);
		wal_writer_destroy(writer);
		cr_assert_eq(r.in_flight_max, flushes);
		struct wal_scan scan;
		struct log_read *read = log_scan(WAL_SCAN_CLEAN, &scan);
		cr_assert_eq(read->count, lsn - 1);
		cr_assert_geq(scan.started_count, 2);
		for (uint32_t i = 0; i < scan.started_count; i++)
			cr_assert_eq(scan.segments[i].version, flushes, "segment %u", i + 1);
		wal_scan_finish(&scan);
		free(read);
	}
}

/* Sets a segment header's version and seals it again, as an earlier version wrote it. */
static void header_version_set(uint64_t sequence, uint32_t version)
{
	int fd = segment_open(sequence);
	uint8_t header[WAL_SEGMENT_HEADER_SIZE];
	cr_assert_eq(pread(fd, header, sizeof(header), 0), (ssize_t)sizeof(header));
	bytes_store_u32(header + 8, version);
	bytes_store_u64(header + 56, XXH3_64bits(header, 56));
	cr_assert_eq(pwrite(fd, header, sizeof(header), 0), (ssize_t)sizeof(header));
	close(fd);
}

/*
 * A version-1 reader would take a page left part zero for the end of the log, so a
 * segment begun by version 1 goes on one flush at a time; the next segment the
 * writer begins is version 2, and flushes overlap there.
 */
Test(overlap, a_segment_begun_by_version_1_is_flushed_one_at_a_time)
{
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct recorder r;
	recorder_init(&r, &sync);
	struct wal_writer *writer = writer_open(&r.io, 4, 0, NULL);
	uint64_t lsn = 1;
	for (; lsn <= 3; lsn++)
		append_made(writer, lsn, 100);
	wal_writer_flush(writer);
	deliver_at(&sync, &r, writer, 0);
	struct wal_position position;
	wal_writer_position(writer, &position);
	wal_writer_destroy(writer);
	header_version_set(1, 1);

	recorder_init(&r, &sync);
	writer = writer_open(&r.io, 4, 0, &position);
	for (uint32_t flush = 0; flush < 3; flush++) {
		for (uint32_t i = 0; i < 3; i++, lsn++)
			append_made(writer, lsn, 100);
		wal_writer_flush(writer);
	}
	cr_assert_eq(r.writes, 1, "one at a time in a version-1 segment");
	int first_segment_fd = r.in_flight[0].fd;
	/* Large records until the log is in its second segment, with flushes in flight. */
	while (r.in_flight_max < 2) {
		int64_t appended = append_made(writer, lsn, 20000);
		if (appended == -EAGAIN) {
			wal_writer_flush(writer);
			cr_assert_gt(sync.count, 0);
			deliver_at(&sync, &r, writer, 0);
			continue;
		}
		cr_assert_eq(appended, (int64_t)lsn);
		lsn++;
		wal_writer_flush(writer);
		cr_assert_lt(lsn, 1000);
	}
	for (uint32_t i = 0; i < r.in_flight_count; i++)
		cr_assert_neq(r.in_flight[i].fd, first_segment_fd, "never beside one in segment 1");
	settle(&sync, &r, writer);
	wal_writer_destroy(writer);
	struct wal_scan scan;
	struct log_read *read = log_scan(WAL_SCAN_CLEAN, &scan);
	cr_assert_eq(read->count, lsn - 1);
	cr_assert_eq(scan.segments[0].version, 1);
	cr_assert_eq(scan.segments[1].version, 2, "overlap began in the writer's own segment");
	wal_scan_finish(&scan);
	free(read);
}

/*
 * Two flushes of 1-3 and 4-6, the second beside the first (moved to page 1); all
 * delivered. Returns the offset where record 3 ends (the gap's start).
 */
static uint64_t gap_log_make(void)
{
	struct wal_io_sync sync;
	struct recorder r;
	fresh_start(&sync, &r);
	struct wal_writer *writer = writer_open(&r.io, 2, 4u << 20, NULL);
	for (uint64_t lsn = 1; lsn <= 6; lsn++) {
		append_made(writer, lsn, 100);
		if (lsn % 3 == 0)
			wal_writer_flush(writer);
	}
	cr_assert_eq(r.offsets[1], WAL_PAGE_BYTES);
	settle(&sync, &r, writer);
	wal_writer_destroy(writer);
	return WAL_SEGMENT_HEADER_SIZE + 3 * wal_record_size(100);
}

/*
 * Only version 2 has gaps. The same bytes under a version-1 header end at the gap,
 * and what follows is taken for a torn flush, which is what a reader of version 1
 * would do: that is why such a writer writes version 2.
 */
Test(overlap, a_version_1_segment_is_not_read_across_a_gap)
{
	gap_log_make();
	header_version_set(1, 1);
	struct wal_scan scan;
	struct log_read *read = log_scan(WAL_SCAN_TORN, &scan);
	cr_assert_eq(read->count, 3);
	wal_scan_finish(&scan);
	free(read);
}

/* A sealed record with an impossible field after a gap is corruption, reported where
 * the valid records end, and what precedes it can still be walked (boxwal verify). */
Test(overlap, a_malformed_record_after_a_gap_is_corruption_and_the_rest_walks)
{
	uint64_t gap = gap_log_make();
	uint8_t payload[100];
	payload_make(payload, sizeof(payload), 4);
	uint8_t record[WAL_RECORD_OVERHEAD + sizeof(payload)];
	wal_record_encode(record, 9 /* no such type */, 4, 1, 4, payload, sizeof(payload));
	int fd = segment_open(1);
	cr_assert_eq(pwrite(fd, record, sizeof(record), WAL_PAGE_BYTES), (ssize_t)sizeof(record));
	close(fd);
	struct wal_scan scan;
	struct log_read *read = log_scan(WAL_SCAN_CORRUPT, &scan);
	cr_assert(strstr(scan.message, "impossible field") != NULL, "%s", scan.message);
	cr_assert_eq(scan.tail_offset, gap);
	cr_assert_eq(read->count, 3);
	wal_scan_finish(&scan);
	free(read);
}

/* A writer reopened inside a version-2 segment goes on flushing beside itself there. */
Test(overlap, a_writer_reopened_in_a_version_2_segment_overlaps_there)
{
	gap_log_make();
	struct wal_scan scan;
	struct log_read *read = log_scan(WAL_SCAN_CLEAN, &scan);
	struct wal_position position = { .next_lsn = 7, .segment_sequence = 1,
					 .segment_offset = scan.segments[0].data_end };
	wal_scan_finish(&scan);
	free(read);
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct recorder r;
	recorder_init(&r, &sync);
	struct wal_writer *writer = writer_open(&r.io, 2, 4u << 20, &position);
	for (uint64_t lsn = 7; lsn <= 12; lsn++) {
		cr_assert_eq(append_made(writer, lsn, 100), (int64_t)lsn);
		if (lsn % 3 == 0)
			wal_writer_flush(writer);
	}
	cr_assert_eq(r.writes, 2);
	cr_assert_eq(r.offsets[0], WAL_PAGE_BYTES, "it rewrites the page it ended in");
	cr_assert_eq(r.offsets[1], 2 * WAL_PAGE_BYTES, "and moves the next flush beside it");
	settle(&sync, &r, writer);
	wal_writer_destroy(writer);
	read = log_scan(WAL_SCAN_CLEAN, NULL);
	cr_assert_eq(read->count, 12);
	free(read);
}

/*
 * Power loss with flushes in flight. A backend that holds each flush's write back
 * until the test completes it (then writes it and hands the writer its result), so
 * that at a "power loss" the writes in flight can be lost whole, kept whole, or kept
 * in part: any subset of their 512-byte sectors, in any order, as a disk may. What
 * recovery then finds must never be corruption, and must hold every record that
 * was durable when the power went, with its bytes.
 */
#define SECTOR_BYTES 512u

struct held_write {
	int fd;
	uint64_t offset, token;
	uint32_t size;
	uint8_t *bytes;
};

struct lossy {
	struct wal_io io;
	struct wal_io_sync *inner; /* the spare's requests, done at once */
	struct held_write held[WAL_FLUSHES_MAX * 2];
	uint32_t held_count;
};

static int lossy_write(struct wal_io *io, int fd, const void *bytes, uint32_t size,
		       uint64_t offset, uint64_t token)
{
	struct lossy *l = (struct lossy *)io;
	return l->inner->io.write(&l->inner->io, fd, bytes, size, offset, token);
}

static int lossy_write_durable(struct wal_io *io, int fd, const void *bytes, uint32_t size,
			       uint64_t offset, uint64_t token)
{
	struct lossy *l = (struct lossy *)io;
	cr_assert_lt(l->held_count, sizeof(l->held) / sizeof(l->held[0]));
	struct held_write *h = &l->held[l->held_count++];
	*h = (struct held_write){ .fd = fd, .offset = offset, .token = token, .size = size,
				  .bytes = malloc(size) };
	cr_assert_not_null(h->bytes);
	memcpy(h->bytes, bytes, size); /* the writer's buffer is its own until completion */
	return 0;
}

static int lossy_sync(struct wal_io *io, int fd, bool data_only, uint64_t token)
{
	struct lossy *l = (struct lossy *)io;
	return l->inner->io.sync(&l->inner->io, fd, data_only, token);
}

/* Writes sectors [from, to) of a held write to its file (through the page cache). */
static void held_apply(const struct held_write *h, uint32_t from, uint32_t to)
{
	int fd = fcntl(h->fd, F_DUPFD_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	int flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags & ~O_DIRECT); /* sectors need not be aligned pages */
	ssize_t written = pwrite(fd, h->bytes + (size_t)from * SECTOR_BYTES,
				 (size_t)(to - from) * SECTOR_BYTES,
				 (off_t)(h->offset + (uint64_t)from * SECTOR_BYTES));
	cr_assert_eq(written, (ssize_t)(to - from) * SECTOR_BYTES);
	fcntl(fd, F_SETFL, flags);
	close(fd);
}

static void held_remove(struct lossy *l, uint32_t i)
{
	free(l->held[i].bytes);
	l->held[i] = l->held[--l->held_count];
}

/* Completes held write i: on disk whole, then its result to the writer. */
static void held_complete(struct lossy *l, struct wal_writer *writer, uint32_t i)
{
	struct held_write h = l->held[i];
	held_apply(&h, 0, h.size / SECTOR_BYTES);
	l->held[i].bytes = NULL;
	held_remove(l, i);
	wal_writer_complete(writer, h.token, (int32_t)h.size);
	free(h.bytes);
}

/* The power goes: each write in flight keeps a random subset of its sectors. */
static void power_loss(struct lossy *l, uint64_t *rng)
{
	for (uint32_t i = 0; i < l->held_count; i++) {
		const struct held_write *h = &l->held[i];
		uint32_t sectors = h->size / SECTOR_BYTES;
		uint64_t mode = walfx_rng_next(rng) % 4; /* lost, kept, or sectors at random */
		for (uint32_t s = 0; s < sectors && mode != 0; s++) {
			if (mode == 1 || walfx_rng_next(rng) % 2 == 0)
				held_apply(h, s, s + 1);
		}
	}
}

/* With four flushes in flight, and with one at a time (version 1) for comparison. */
Test(overlap, a_power_loss_with_flushes_in_flight_keeps_every_durable_record)
{
	for (uint64_t seed = 1; seed <= 80; seed++) {
		uint32_t flushes = seed % 4 == 0 ? 1 : 4;
		struct wal_io_sync sync;
		struct recorder unused;
		fresh_start(&sync, &unused);
		struct lossy l = { .io = { .write = lossy_write, .write_now = recorder_write_now,
					   .write_durable = lossy_write_durable, .sync = lossy_sync },
				   .inner = &sync };
		struct wal_writer *writer = writer_open(&l.io, flushes, 0, NULL);
		uint64_t rng = seed * 0x9e3779b97f4a7c15u;
		uint64_t lsn = 1;
		/* Until the log is in its third segment, and a random while after. */
		uint32_t steps = 200 + (uint32_t)(walfx_rng_next(&rng) % 2000);
		for (uint32_t step = 0; step < steps; step++) {
			uint32_t size = 1 + (uint32_t)(walfx_rng_next(&rng) %
						       (walfx_rng_next(&rng) % 8 ? 400 : 20000));
			int64_t appended = append_made(writer, lsn, size);
			if (appended == (int64_t)lsn)
				lsn++;
			else
				cr_assert_eq(appended, -EAGAIN, "seed %llu", (unsigned long long)seed);
			if (walfx_rng_next(&rng) % 2 == 0)
				wal_writer_flush(writer);
			if (l.held_count > 0 && walfx_rng_next(&rng) % 3 == 0)
				held_complete(&l, writer,
					      (uint32_t)(walfx_rng_next(&rng) % l.held_count));
			if (walfx_rng_next(&rng) % 4 == 0)
				wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
			cr_assert_eq(wal_writer_error(writer), 0);
		}
		uint64_t durable = wal_writer_durable_lsn(writer);
		power_loss(&l, &rng);
		/* The process is gone: the writer only needs to be let go of. */
		while (l.held_count > 0) {
			uint64_t token = l.held[0].token;
			held_remove(&l, 0);
			wal_writer_complete(writer, token, -EIO);
		}
		while (wal_writer_busy(writer))
			cr_assert_gt(wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer), 0);
		wal_writer_destroy(writer);

		struct wal_scan scan;
		cr_assert_eq(wal_scan(walfx_dir_fd, 0, &scan), 0);
		cr_assert_neq(scan.state, WAL_SCAN_CORRUPT, "seed %llu: %s",
			      (unsigned long long)seed, scan.message);
		cr_assert_eq(wal_tail_cut(walfx_dir_fd, &scan), 0);
		wal_scan_finish(&scan);
		struct log_read *read = log_scan(WAL_SCAN_CLEAN, NULL);
		cr_assert_geq(read->count, durable, "seed %llu: %llu records, %llu were durable",
			      (unsigned long long)seed, (unsigned long long)read->count,
			      (unsigned long long)durable);
		free(read);
	}
}
