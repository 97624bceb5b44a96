/*
 * test_writer.c — the group-commit writer driven by hand through the synchronous
 * I/O backend: LSNs, what is durable when, what one flush covers, the flush-end
 * flag on disk, whole-page writes, segment rotation, back-pressure and bad sizes.
 * Fault injection is in test_writer_faults.c.
 *
 * Results are handed to the writer one at a time (walfx_deliver_one) where
 * the order matters, so that each test can look between a write and its sync.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "record.h"
#include "recovery.h"
#include "walfx.h"

#define RECORDS_MAX 20000u

TestSuite(writer, .init = walfx_dir_setup, .fini = walfx_dir_teardown);

static struct wal_writer_config config_for(uint64_t buffer_bytes_max)
{
	return walfx_writer_config(walfx_dir_fd, buffer_bytes_max);
}

static struct wal_writer *writer_new(struct wal_io *io, uint64_t buffer_bytes_max)
{
	struct wal_writer *writer = walfx_writer_new(walfx_dir_fd, io, buffer_bytes_max);
	cr_assert_not_null(writer);
	return writer;
}

/* A writer whose segments are 4 MiB: room for the largest record long after the
 * first ones, so that appends start no spare (in a segment of the smallest size,
 * the first record already does). */
static struct wal_writer *writer_roomy(struct wal_io *io)
{
	struct wal_writer_config config = config_for(4u << 20);
	config.segment_size = 4u << 20;
	struct wal_position position = { .next_lsn = 1 };
	struct wal_writer *writer = NULL;
	cr_assert_eq(wal_writer_create(&writer, &config, io, &position), 0);
	return writer;
}

/* A payload that says which LSN it belongs to, so that misplaced bytes show. */
static void payload_make(uint8_t *payload, uint32_t size, uint64_t lsn)
{
	for (uint32_t i = 0; i < size; i++)
		payload[i] = (uint8_t)(lsn * 13u + i);
}

static int64_t append_made(struct wal_writer *writer, uint64_t lsn, uint32_t size)
{
	/* One byte more than a record may hold, for the append that must be refused. */
	static uint8_t payload[WAL_RECORD_PAYLOAD_MAX + 1];
	payload_make(payload, size, lsn);
	return wal_writer_append(writer, (int64_t)lsn * 10, payload, size);
}

/* Appends; while that gets -EAGAIN (no spare ready yet), flushes and delivers the
 * completions, up to ten rounds. Returns what the last append returned. */
static int64_t append_within_rounds(struct wal_writer *writer, struct wal_io_sync *sync,
				    uint64_t lsn, uint32_t size)
{
	int64_t appended = append_made(writer, lsn, size);
	for (uint32_t round = 0; round < 10 && appended == -EAGAIN; round++) {
		wal_writer_flush(writer);
		wal_io_sync_deliver(sync, wal_writer_complete_fn, writer);
		appended = append_made(writer, lsn, size);
	}
	return appended;
}

/* What was read back from the segment files. */
struct log_view {
	uint64_t lsns[RECORDS_MAX];
	uint64_t flush_lsns[RECORDS_MAX]; /* the first LSN of each record's flush */
	uint32_t count;
	uint32_t segments_started;
	uint32_t segments_spare;
};

/* Reads segment `sequence` (it must exist) and adds its records to the view. */
static void segment_view(uint64_t sequence, struct log_view *view)
{
	char name[64];
	wal_segment_name(sequence, name, sizeof(name));
	uint8_t *bytes = NULL;
	size_t size = 0;
	cr_assert_eq(wal_file_read(walfx_dir_fd, name, &bytes, &size), 0, "%s", name);
	struct wal_segment_header header;
	enum wal_header_status status = wal_segment_header_decode(bytes, &header);
	cr_assert(status == WAL_HEADER_OK || status == WAL_HEADER_EMPTY, "%s", name);
	if (status == WAL_HEADER_EMPTY) {
		view->segments_spare++;
		free(bytes);
		return;
	}
	cr_assert_eq(view->segments_spare, 0, "no started segment after a spare");
	cr_assert_eq(header.sequence, sequence);
	cr_assert_eq(size, header.segment_size, "%s keeps its preallocated size", name);
	uint64_t expected = view->count + 1;
	cr_assert_eq(header.first_lsn, expected, "%s starts after the previous last LSN", name);
	view->segments_started++;
	size_t offset = WAL_SEGMENT_HEADER_SIZE;
	struct wal_record record;
	size_t next;
	while (wal_record_decode(bytes, size, offset, &record, &next) == WAL_RECORD_OK) {
		cr_assert_eq(record.lsn, view->count + 1);
		cr_assert_lt(view->count, RECORDS_MAX);
		uint8_t payload[64];
		payload_make(payload, record.payload_size < 64 ? record.payload_size : 64, record.lsn);
		cr_assert_eq(memcmp(record.payload, payload,
				    record.payload_size < 64 ? record.payload_size : 64), 0);
		cr_assert_eq(record.timestamp_ms, (int64_t)record.lsn * 10);
		view->lsns[view->count] = record.lsn;
		/* A record opens its flush or belongs to the one before it. */
		uint64_t previous = view->count ? view->flush_lsns[view->count - 1] : 1;
		cr_assert(record.flush_lsn == record.lsn || record.flush_lsn == previous,
			  "LSN %lu: flush LSN %lu", (unsigned long)record.lsn,
			  (unsigned long)record.flush_lsn);
		view->flush_lsns[view->count] = record.flush_lsn;
		view->count++;
		offset = next;
	}
	for (size_t i = offset; i < size; i++)
		cr_assert_eq(bytes[i], 0, "%s: only zeros after the last record (offset %zu)", name, i);
	free(bytes);
}

static struct log_view *log_view_read(void)
{
	struct log_view *view = calloc(1, sizeof(*view));
	struct wal_listing *listing = malloc(sizeof(*listing));
	cr_assert_eq(wal_list(walfx_dir_fd, listing), 0);
	for (uint32_t i = 0; i < listing->segments_count; i++) {
		cr_assert_eq(listing->segments[i], i + 1, "segments are numbered without gaps");
		segment_view(listing->segments[i], view);
	}
	free(listing);
	return view;
}

/* The record at lsn is the last of its flush: the next one opens another. */
static bool flush_ends_at(const struct log_view *view, uint64_t lsn)
{
	cr_assert(lsn >= 1 && lsn <= view->count);
	return lsn == view->count || view->flush_lsns[lsn] == lsn + 1;
}

Test(writer, appends_return_consecutive_lsns_and_continue_from_a_position)
{
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct wal_writer *writer = writer_new(&sync.io, 4u << 20);
	uint64_t bytes = WAL_SEGMENT_HEADER_SIZE;
	for (uint64_t lsn = 1; lsn <= 100; lsn++) {
		cr_assert_eq(append_made(writer, lsn, (uint32_t)lsn), (int64_t)lsn);
		bytes += wal_record_size((uint32_t)lsn);
	}
	cr_assert_eq(wal_writer_next_lsn(writer), 101);
	cr_assert_eq(wal_writer_durable_lsn(writer), 0);
	cr_assert_eq(wal_writer_pending_bytes(writer), bytes);
	wal_writer_flush(writer);
	wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
	cr_assert_eq(wal_writer_durable_lsn(writer), 100);
	cr_assert_eq(wal_writer_pending_bytes(writer), 0);
	wal_writer_destroy(writer);

	/* A writer opened where recovery says the log ends carries on from there. */
	struct wal_writer_config config = config_for(4u << 20);
	struct wal_position position = { .next_lsn = 101, .segment_sequence = 1,
					 .segment_offset = bytes };
	cr_assert_eq(wal_writer_create(&writer, &config, &sync.io, &position), 0);
	cr_assert_eq(wal_writer_durable_lsn(writer), 100);
	for (uint64_t lsn = 101; lsn <= 110; lsn++)
		cr_assert_eq(append_made(writer, lsn, 7), (int64_t)lsn);
	wal_writer_flush(writer);
	wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
	cr_assert_eq(wal_writer_durable_lsn(writer), 110);
	wal_writer_destroy(writer);
	struct log_view *view = log_view_read();
	cr_assert_eq(view->count, 110);
	free(view);
}

Test(writer, nothing_is_durable_until_the_sync_after_the_write_completes)
{
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct wal_writer *writer = writer_roomy(&sync.io);
	for (uint64_t lsn = 1; lsn <= 3; lsn++)
		append_made(writer, lsn, 40);
	cr_assert_eq(sync.count, 0, "appending alone submits nothing");
	struct log_view *view = log_view_read();
	cr_assert_eq(view->count, 0, "nothing reaches the file before a flush");
	free(view);
	wal_writer_flush(writer);
	cr_assert_eq(sync.count, 1, "the bytes are written at once; one sync is queued");
	view = log_view_read();
	cr_assert_eq(view->count, 3, "the flush's records are in the file");
	free(view);
	cr_assert(wal_writer_busy(writer));
	cr_assert_eq(wal_writer_durable_lsn(writer), 0, "written is not yet durable");
	cr_assert(walfx_deliver_one(&sync, writer));
	cr_assert_eq(wal_writer_durable_lsn(writer), 3);
	cr_assert_not(wal_writer_busy(writer));
	cr_assert_eq(wal_writer_pending_bytes(writer), 0);
	wal_writer_flush(writer);
	cr_assert_eq(sync.count, 0, "a flush with nothing appended submits nothing");
	wal_writer_destroy(writer);
}

Test(writer, a_flush_covers_what_came_before_it_and_the_next_waits_for_its_owner)
{
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct wal_writer *writer = writer_roomy(&sync.io);
	for (uint64_t lsn = 1; lsn <= 5; lsn++)
		append_made(writer, lsn, 20);
	wal_writer_flush(writer);
	for (uint64_t lsn = 6; lsn <= 8; lsn++)
		append_made(writer, lsn, 30);
	wal_writer_flush(writer);
	cr_assert_eq(sync.count, 1, "a second flush waits for the one in flight");
	struct log_view *view = log_view_read();
	cr_assert_eq(view->count, 5, "6-8 are not written while 1-5 are being synced");
	free(view);
	walfx_deliver_one(&sync, writer);
	cr_assert_eq(wal_writer_durable_lsn(writer), 5, "the first flush held LSNs 1-5 only");
	cr_assert_eq(sync.count, 0, "the flush of 6-8 waits to be asked for");
	cr_assert_not(wal_writer_flushing(writer));
	wal_writer_flush(writer);
	cr_assert_eq(sync.count, 1, "asked now, 6-8 are written and their sync queued");
	cr_assert(wal_writer_flushing(writer));
	walfx_deliver_one(&sync, writer);
	cr_assert_eq(wal_writer_durable_lsn(writer), 8);
	cr_assert_eq(sync.count, 0);
	cr_assert_not(wal_writer_busy(writer));
	wal_writer_destroy(writer);
	view = log_view_read();
	cr_assert_eq(view->count, 8);
	for (uint64_t lsn = 1; lsn <= 8; lsn++) {
		cr_assert_eq(flush_ends_at(view, lsn), lsn == 5 || lsn == 8, "LSN %lu",
			     (unsigned long)lsn);
		cr_assert_eq(view->flush_lsns[lsn - 1], lsn <= 5 ? 1 : 6);
	}
	free(view);
}

/*
 * Appends records of random sizes until `segments` segments are started, flushing
 * and delivering at random. Every durable LSN the writer reports is marked in
 * `durable_points`; those, and only those, must end a flush.
 */
static uint64_t rotation_run(struct wal_io_sync *sync, struct wal_writer *writer,
			     uint64_t seed, uint32_t segments, bool *durable_points)
{
	uint64_t rng = seed;
	uint64_t lsn = 1;
	uint64_t bytes_max = (uint64_t)segments * WAL_SEGMENT_SIZE_MIN;
	for (uint64_t bytes = 0; bytes < bytes_max; lsn++) {
		uint32_t size = 1 + (uint32_t)(walfx_rng_next(&rng) % (walfx_rng_next(&rng) % 2 ? 50000 : 300));
		int64_t appended = append_made(writer, lsn, size);
		if (appended == -EAGAIN) {
			wal_writer_flush(writer);
			while (walfx_deliver_one(sync, writer))
				durable_points[wal_writer_durable_lsn(writer)] = true;
			appended = append_made(writer, lsn, size);
		}
		cr_assert_eq(appended, (int64_t)lsn, "seed %lu", (unsigned long)seed);
		bytes += wal_record_size(size);
		if (walfx_rng_next(&rng) % 3 == 0)
			wal_writer_flush(writer);
		if (walfx_rng_next(&rng) % 2 == 0 && walfx_deliver_one(sync, writer))
			durable_points[wal_writer_durable_lsn(writer)] = true;
		cr_assert_lt(lsn, RECORDS_MAX - 1);
	}
	while (wal_writer_durable_lsn(writer) < lsn - 1) {
		wal_writer_flush(writer);
		cr_assert(walfx_deliver_one(sync, writer));
		durable_points[wal_writer_durable_lsn(writer)] = true;
	}
	wal_io_sync_deliver(sync, wal_writer_complete_fn, writer);
	cr_assert_eq(wal_writer_error(writer), 0);
	return lsn - 1;
}

Test(writer, segments_rotate_and_each_header_continues_the_lsns)
{
	uint64_t seed = 0x5eed0001;
	fprintf(stderr, "writer rotation seed %lu\n", (unsigned long)seed);
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct wal_writer *writer = writer_new(&sync.io, 4u << 20);
	bool *durable_points = calloc(RECORDS_MAX, sizeof(bool));
	uint64_t last = rotation_run(&sync, writer, seed, 5, durable_points);
	wal_writer_destroy(writer);
	struct log_view *view = log_view_read();
	cr_assert_eq(view->count, last);
	cr_assert_geq(view->segments_started, 5);
	cr_assert_leq(view->segments_spare, 1);
	uint32_t flush_ends = 0;
	for (uint64_t lsn = 1; lsn <= last; lsn++) {
		bool flagged = flush_ends_at(view, lsn);
		cr_assert_eq(flagged, durable_points[lsn],
			     "LSN %lu: flushes end exactly at the durable points", (unsigned long)lsn);
		flush_ends += flagged;
	}
	cr_assert_gt(flush_ends, 20, "the run had many flushes");
	free(view);
	free(durable_points);
}

Test(writer, appends_get_eagain_when_the_buffer_is_full_and_resume_after_a_flush)
{
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	const uint64_t limit = 8192;
	struct wal_writer *writer = writer_new(&sync.io, limit);
	uint64_t lsn = 1;
	while (append_made(writer, lsn, 1000) == (int64_t)lsn)
		lsn++;
	cr_assert_eq(lsn, 8, "(8192 - 64 header - 64 reserve) / 1032 = 7 records fit");
	cr_assert_eq(append_made(writer, lsn, 1000), -EAGAIN);
	cr_assert_eq(wal_writer_can_append(writer, 1000), -EAGAIN);
	cr_assert_leq(wal_writer_pending_bytes(writer), limit);
	cr_assert_eq(wal_writer_next_lsn(writer), lsn, "a refused append takes no LSN");
	wal_writer_flush(writer);
	cr_assert_eq(append_made(writer, lsn, 1000), -EAGAIN, "in-flight bytes still count");
	wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
	cr_assert_eq(wal_writer_durable_lsn(writer), lsn - 1);
	cr_assert_eq(wal_writer_can_append(writer, 1000), 0);
	cr_assert_eq(append_made(writer, lsn, 1000), (int64_t)lsn);
	wal_writer_flush(writer);
	wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
	wal_writer_destroy(writer);
	struct log_view *view = log_view_read();
	cr_assert_eq(view->count, lsn);
	free(view);
}

Test(writer, empty_and_oversized_payloads_are_refused)
{
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct wal_writer *writer = writer_new(&sync.io, 4u << 20);
	cr_assert_eq(append_made(writer, 1, 0), -EINVAL);
	cr_assert_eq(wal_writer_can_append(writer, 0), -EINVAL);
	cr_assert_eq(append_made(writer, 1, WAL_RECORD_PAYLOAD_MAX + 1), -EFBIG);
	cr_assert_eq(wal_writer_can_append(writer, WAL_RECORD_PAYLOAD_MAX + 1), -EFBIG);
	cr_assert_eq(wal_writer_can_append(writer, UINT32_MAX), -EFBIG);
	cr_assert_eq(wal_writer_next_lsn(writer), 1);
	cr_assert_eq(wal_writer_error(writer), 0, "a refused append is not a failure");
	/* The largest payload fills a minimum-size segment exactly, header included. */
	cr_assert_eq(append_made(writer, 1, WAL_RECORD_PAYLOAD_MAX), 1);
	wal_writer_flush(writer);
	wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
	cr_assert_eq(wal_writer_durable_lsn(writer), 1);
	cr_assert_eq(append_made(writer, 2, 1), 2, "the next record goes to the next segment");
	wal_writer_flush(writer);
	wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
	wal_writer_destroy(writer);
	struct log_view *view = log_view_read();
	cr_assert_eq(view->count, 2);
	cr_assert_eq(view->segments_started, 2);
	free(view);
}

Test(writer, a_full_segment_waits_with_eagain_until_the_spare_is_ready)
{
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct wal_writer *writer = writer_new(&sync.io, 4u << 20);
	uint64_t lsn = 1;
	/* No completions are delivered, so the spare's preparation cannot finish. */
	while (append_made(writer, lsn, 60000) == (int64_t)lsn)
		lsn++;
	cr_assert_eq(lsn, 9, "eight 60 kB records fit in a 512 kB segment");
	cr_assert_gt(sync.count, 0, "the spare's preparation was submitted");
	cr_assert_eq(wal_writer_can_append(writer, 60000), -EAGAIN);
	cr_assert_eq(wal_writer_can_append(writer, 10), 0, "a small record still fits");
	wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
	cr_assert_eq(append_made(writer, lsn, 60000), (int64_t)lsn);
	wal_writer_flush(writer);
	wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
	wal_writer_flush(writer);
	wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
	cr_assert_eq(wal_writer_durable_lsn(writer), lsn);
	wal_writer_destroy(writer);
	struct log_view *view = log_view_read();
	cr_assert_eq(view->count, lsn);
	cr_assert_eq(view->segments_started, 2);
	free(view);
}

/*
 * A record bigger than what is left of a segment that is not yet half full: the
 * spare used to be started only past half, so nothing prepared one and every
 * append of that record got -EAGAIN for good. The spare must be started as soon as
 * the largest record might not fit.
 */
Test(writer, a_record_larger_than_the_room_left_in_a_segment_under_half_full_gets_a_spare)
{
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct wal_writer *writer = writer_new(&sync.io, 4u << 20);
	cr_assert_eq(append_made(writer, 1, 200000), 1);
	cr_assert_lt(WAL_SEGMENT_HEADER_SIZE + wal_record_size(200000), WAL_SEGMENT_SIZE_MIN / 2);
	int64_t appended = append_within_rounds(writer, &sync, 2, WAL_RECORD_PAYLOAD_MAX);
	cr_assert_eq(appended, 2, "still %lld after ten rounds of completions", (long long)appended);
	wal_writer_flush(writer);
	wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
	cr_assert_eq(wal_writer_durable_lsn(writer), 2);
	wal_writer_destroy(writer);
	struct log_view *view = log_view_read();
	cr_assert_eq(view->count, 2);
	cr_assert_eq(view->segments_started, 2);
	free(view);
}

/*
 * Recovery removes spares, and a writer opened where the log ends must prepare a
 * new one by itself when the next record will not fit: nothing else would, and
 * every append would get -EAGAIN for good (a store's sync has nothing to flush).
 */
Test(writer, a_writer_reopened_on_a_nearly_full_segment_prepares_a_spare_and_goes_on)
{
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct wal_writer *writer = writer_new(&sync.io, 4u << 20);
	uint64_t lsn = 1;
	uint64_t end = WAL_SEGMENT_HEADER_SIZE;
	/* Fill segment 1 until a 60 kB record no longer fits. */
	while (end + wal_record_size(60000) <= WAL_SEGMENT_SIZE_MIN) {
		cr_assert_eq(append_made(writer, lsn, 60000), (int64_t)lsn);
		end += wal_record_size(60000);
		lsn++;
		wal_writer_flush(writer);
		wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
	}
	cr_assert_eq(wal_writer_durable_lsn(writer), lsn - 1);
	wal_writer_destroy(writer);
	char spare[64];
	wal_segment_name(2, spare, sizeof(spare));
	cr_assert_eq(wal_file_remove(walfx_dir_fd, spare), 0,
		     "the spare is there, and recovery removes it");

	struct wal_writer_config config = config_for(4u << 20);
	struct wal_position position = { .next_lsn = lsn, .segment_sequence = 1,
					 .segment_offset = end };
	cr_assert_eq(wal_writer_create(&writer, &config, &sync.io, &position), 0);
	int64_t appended = append_within_rounds(writer, &sync, lsn, 60000);
	cr_assert_eq(appended, (int64_t)lsn, "still %lld after ten rounds of completions",
		     (long long)appended);
	wal_writer_flush(writer);
	wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
	cr_assert_eq(wal_writer_durable_lsn(writer), lsn);
	wal_writer_destroy(writer);
	struct log_view *view = log_view_read();
	cr_assert_eq(view->count, lsn);
	cr_assert_eq(view->segments_started, 2);
	free(view);
}

/* Direct I/O (config.direct). */

/* Counts how flushes reach the disk. */
struct io_counter {
	struct wal_io io;
	struct wal_io *inner;
	uint32_t writes_now, syncs, durable_writes;
};

static int counter_write(struct wal_io *io, int fd, const void *bytes, uint32_t size,
			 uint64_t offset, uint64_t token)
{
	struct io_counter *c = (struct io_counter *)io;
	return c->inner->write(c->inner, fd, bytes, size, offset, token);
}

static int32_t counter_write_now(struct wal_io *io, int fd, const void *bytes, uint32_t size,
				 uint64_t offset)
{
	struct io_counter *c = (struct io_counter *)io;
	c->writes_now++;
	return c->inner->write_now(c->inner, fd, bytes, size, offset);
}

static int counter_write_durable(struct wal_io *io, int fd, const void *bytes, uint32_t size,
				 uint64_t offset, uint64_t token)
{
	struct io_counter *c = (struct io_counter *)io;
	c->durable_writes++;
	cr_assert_eq((uintptr_t)bytes % WAL_PAGE_BYTES, 0, "direct I/O needs aligned memory");
	cr_assert(size % WAL_PAGE_BYTES == 0 && offset % WAL_PAGE_BYTES == 0,
		  "direct I/O needs whole pages: %u bytes at %llu", size,
		  (unsigned long long)offset);
	return c->inner->write_durable(c->inner, fd, bytes, size, offset, token);
}

static int counter_sync(struct wal_io *io, int fd, bool data_only, uint64_t token)
{
	struct io_counter *c = (struct io_counter *)io;
	c->syncs += data_only; /* a flush's: the spare's are full fsyncs */
	return c->inner->sync(c->inner, fd, data_only, token);
}

static void io_counter_init(struct io_counter *c, struct wal_io_sync *sync)
{
	*c = (struct io_counter){ .io = { .write = counter_write,
					  .write_now = counter_write_now,
					  .write_durable = counter_write_durable,
					  .sync = counter_sync },
				  .inner = &sync->io };
}

/* A writer flushing with direct I/O; segment_size 0 for the smallest whole-page one. */
static struct wal_writer *writer_direct(struct wal_io *io, uint64_t segment_size)
{
	if (!walfx_direct_io_supported(walfx_dir_fd))
		cr_skip_test("the test directory's file system has no direct I/O");
	struct wal_writer_config config = walfx_writer_config_direct(walfx_dir_fd, 4u << 20);
	if (segment_size != 0)
		config.segment_size = segment_size;
	struct wal_position position = { .next_lsn = 1 };
	struct wal_writer *writer = NULL;
	cr_assert_eq(wal_writer_create(&writer, &config, io, &position), 0);
	cr_assert(wal_writer_direct(writer));
	return writer;
}

Test(writer, a_direct_flush_is_one_durable_write_and_counts_only_once_it_completes)
{
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct io_counter counter;
	io_counter_init(&counter, &sync);
	struct wal_writer *writer = writer_direct(&counter.io, 4u << 20); /* no spare yet */
	for (uint64_t lsn = 1; lsn <= 3; lsn++)
		cr_assert_eq(append_made(writer, lsn, 40), (int64_t)lsn);
	wal_writer_flush(writer);
	cr_assert_eq(counter.durable_writes, 1);
	cr_assert_eq(counter.writes_now + counter.syncs, 0, "no buffered write, no fdatasync");
	cr_assert_eq(sync.count, 1);
	cr_assert(wal_writer_flushing(writer));
	cr_assert_eq(wal_writer_durable_lsn(writer), 0, "durable only when the write completes");
	for (uint64_t lsn = 4; lsn <= 6; lsn++)
		cr_assert_eq(append_made(writer, lsn, 3000), (int64_t)lsn); /* past one page */
	wal_writer_flush(writer);
	cr_assert_eq(counter.durable_writes, 1, "one flush in flight at a time");
	cr_assert(walfx_deliver_one(&sync, writer));
	cr_assert_eq(wal_writer_durable_lsn(writer), 3);
	wal_writer_flush(writer); /* rewrites the part-filled page with what follows */
	cr_assert(walfx_deliver_one(&sync, writer));
	cr_assert_eq(wal_writer_durable_lsn(writer), 6);
	cr_assert_eq(counter.durable_writes, 2);
	wal_writer_destroy(writer);
	struct log_view *view = log_view_read();
	cr_assert_eq(view->count, 6);
	cr_assert(flush_ends_at(view, 3) && flush_ends_at(view, 6));
	free(view);
}

Test(writer, direct_flushes_rotate_through_segments_and_read_back_like_buffered_ones)
{
	uint64_t seed = 0x5eed0002;
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct io_counter counter;
	io_counter_init(&counter, &sync);
	struct wal_writer *writer = writer_direct(&counter.io, 0);
	bool *durable_points = calloc(RECORDS_MAX, sizeof(bool));
	uint64_t last = rotation_run(&sync, writer, seed, 5, durable_points);
	cr_assert(wal_writer_direct(writer), "segments made by the writer are direct too");
	wal_writer_destroy(writer);
	cr_assert_gt(counter.durable_writes, 20);
	cr_assert_eq(counter.writes_now + counter.syncs, 0);
	struct log_view *view = log_view_read();
	cr_assert_eq(view->count, last);
	cr_assert_geq(view->segments_started, 5);
	for (uint64_t lsn = 1; lsn <= last; lsn++)
		cr_assert_eq(flush_ends_at(view, lsn), durable_points[lsn], "LSN %lu",
			     (unsigned long)lsn);
	free(view);
	free(durable_points);
}

Test(writer, segments_that_are_not_whole_pages_are_flushed_through_the_page_cache)
{
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct io_counter counter;
	io_counter_init(&counter, &sync);
	struct wal_writer_config config = walfx_writer_config(walfx_dir_fd, 4u << 20);
	config.direct = true;
	cr_assert_neq(config.segment_size % WAL_PAGE_BYTES, 0);
	struct wal_position position = { .next_lsn = 1 };
	struct wal_writer *writer = NULL;
	cr_assert_eq(wal_writer_create(&writer, &config, &counter.io, &position), 0);
	cr_assert_not(wal_writer_direct(writer));
	cr_assert_eq(append_made(writer, 1, 40), 1);
	wal_writer_flush(writer);
	cr_assert(counter.writes_now == 1 && counter.syncs == 1 && counter.durable_writes == 0);
	wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
	cr_assert_eq(wal_writer_durable_lsn(writer), 1);
	wal_writer_destroy(writer);
}

/*
 * The segment size is a setting an operator may change between runs: the segment
 * the log continues in keeps the size it was made with (its header says so), and
 * only the segments made from then on have the new one.
 */
Test(writer, a_log_reopened_with_another_segment_size_keeps_its_last_segment_size)
{
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	for (uint32_t run = 0; run < 2; run++) {
		/* First smallest segments, then segments twice that size; then the other way. */
		uint64_t sizes[2] = { WALFX_DIRECT_SEGMENT_SIZE, 2 * WALFX_DIRECT_SEGMENT_SIZE };
		if (run == 1) {
			close(walfx_dir_fd);
			walfx_dir_remove(walfx_dir_path);
			cr_assert_eq(mkdir(walfx_dir_path, 0700), 0);
			walfx_dir_fd = wal_dir_open(walfx_dir_path, false);
			sizes[0] = 2 * WALFX_DIRECT_SEGMENT_SIZE;
			sizes[1] = WALFX_DIRECT_SEGMENT_SIZE;
		}
		struct wal_position position = { .next_lsn = 1 };
		uint64_t lsn = 1;
		for (uint32_t open = 0; open < 2; open++) {
			struct wal_writer_config config = config_for(4u << 20);
			config.segment_size = sizes[open];
			struct wal_writer *writer = NULL;
			cr_assert_eq(wal_writer_create(&writer, &config, &sync.io, &position), 0);
			/* 300 kB: past the end of the first segment, whichever size it has. */
			for (uint32_t i = 0; i < 5; i++, lsn++) {
				cr_assert_eq(append_within_rounds(writer, &sync, lsn, 60000),
					     (int64_t)lsn);
				wal_writer_flush(writer);
				wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
			}
			cr_assert_eq(wal_writer_durable_lsn(writer), lsn - 1);
			wal_writer_position(writer, &position);
			wal_writer_destroy(writer);
		}
		/* Every started segment's file is the size its header gives (log_view_read
		 * checks), and every record is there. */
		struct log_view *view = log_view_read();
		cr_assert_eq(view->count, lsn - 1, "run %u", run);
		free(view);
	}
}

/* Checks every flush's write: whole pages, except where the segment ends. */
struct page_checker {
	struct wal_io io;
	struct wal_io *inner;
	uint32_t writes;
};

static int32_t page_checker_write_now(struct wal_io *io, int fd, const void *bytes,
				      uint32_t size, uint64_t offset)
{
	struct page_checker *c = (struct page_checker *)io;
	c->writes++;
	cr_assert_eq(offset % 4096, 0, "a flush starts on a page boundary: %lu",
		     (unsigned long)offset);
	cr_assert((offset + size) % 4096 == 0 || offset + size == WAL_SEGMENT_SIZE_MIN,
		  "a flush ends on a page boundary or at the segment's end: %lu + %u",
		  (unsigned long)offset, size);
	/* What it rewrites before its new bytes is what the file holds there. */
	uint8_t *held = malloc(size);
	cr_assert_eq(wal_pread_all(fd, held, size, offset), 0);
	uint32_t same = 0;
	while (same < size && held[same] == ((const uint8_t *)bytes)[same])
		same++;
	for (uint32_t i = same; i < size; i++)
		cr_assert_eq(held[i], 0, "a flush writes only where the file holds zeros or the same bytes");
	free(held);
	return c->inner->write_now(c->inner, fd, bytes, size, offset);
}

static int page_checker_write(struct wal_io *io, int fd, const void *bytes, uint32_t size,
			      uint64_t offset, uint64_t token)
{
	struct page_checker *c = (struct page_checker *)io;
	return c->inner->write(c->inner, fd, bytes, size, offset, token);
}

static int page_checker_sync(struct wal_io *io, int fd, bool data_only, uint64_t token)
{
	struct page_checker *c = (struct page_checker *)io;
	return c->inner->sync(c->inner, fd, data_only, token);
}

Test(writer, flushes_write_whole_pages_and_a_reopened_writer_keeps_its_part_filled_page)
{
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct page_checker checker = { .io = { .write = page_checker_write,
						.write_now = page_checker_write_now,
						.sync = page_checker_sync },
					.inner = &sync.io };
	struct wal_writer *writer = writer_new(&checker.io, 4u << 20);
	uint64_t lsn = 1;
	uint64_t rng = 5;
	/* Small records, flushed every few: most flushes start and end inside a page. Then
	 * large ones, until the log has rotated into its second segment. */
	for (; lsn <= 2000; lsn++) {
		uint32_t size = lsn < 1500 ? 1 + (uint32_t)(walfx_rng_next(&rng) % 300)
					   : 1 + (uint32_t)(walfx_rng_next(&rng) % 3000);
		int64_t appended = append_made(writer, lsn, size);
		for (int round = 0; appended == -EAGAIN && round < 10; round++) {
			wal_writer_flush(writer);
			wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
			appended = append_made(writer, lsn, size);
		}
		cr_assert_eq(appended, (int64_t)lsn);
		if (walfx_rng_next(&rng) % 4 == 0) {
			wal_writer_flush(writer);
			wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
		}
	}
	wal_writer_flush(writer);
	wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
	cr_assert_eq(wal_writer_durable_lsn(writer), lsn - 1);
	struct wal_position position;
	wal_writer_position(writer, &position);
	wal_writer_destroy(writer);
	cr_assert_neq(position.segment_offset % 4096, 0, "the log ends inside a page");
	cr_assert_eq(position.segment_sequence, 2);

	/* Reopened there: its first flush rewrites the start of that page from the file. */
	struct wal_writer_config config = config_for(4u << 20);
	cr_assert_eq(wal_writer_create(&writer, &config, &checker.io, &position), 0);
	uint32_t writes_before = checker.writes;
	for (uint32_t i = 0; i < 3; i++, lsn++)
		cr_assert_eq(append_made(writer, lsn, 100), (int64_t)lsn);
	wal_writer_flush(writer);
	wal_io_sync_deliver(&sync, wal_writer_complete_fn, writer);
	cr_assert_eq(checker.writes, writes_before + 1);
	cr_assert_eq(wal_writer_durable_lsn(writer), lsn - 1);
	wal_writer_destroy(writer);
	struct log_view *view = log_view_read();
	cr_assert_eq(view->count, lsn - 1, "every record reads back");
	cr_assert_eq(view->segments_started, 2);
	free(view);
}
