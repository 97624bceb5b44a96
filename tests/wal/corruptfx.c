/*
 * corruptfx.c — the fixture of the corruption matrix (see corruptfx.h).
 */
#include "corruptfx.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"
#include "record.h"
#include "recovery.h"

struct pristine pristine;

void store_step(struct wal_store *store, const struct command *c, int64_t now,
		struct walfx_workload *w, uint64_t *lsn)
{
	struct engine_result result;
	int error = wal_store_apply(store, c, now, &result, lsn);
	if (error == -EAGAIN) {
		cr_assert_eq(wal_store_sync(store), 0);
		error = wal_store_apply(store, c, now, &result, lsn);
	}
	cr_assert_eq(error, 0);
	if (w != NULL)
		walfx_observe(w, c, &result, store->engine);
}

/*
 * Writes the pristine log: `steps` commands synced about every ten, with a 2 kB
 * event put as every `big_every`-th command (0: none) so that segments fill, then
 * one last flush of exactly two small records, so that the last three records
 * span two flushes.
 */
static void pristine_write(uint32_t steps, uint32_t big_every)
{
	struct wal_store_config config = walfx_config(pristine.dir);
	struct wal_store *store;
	cr_assert_eq(wal_store_open(&store, &config), 0);
	struct walfx_workload w;
	walfx_workload_init(&w, 2024);
	static char text[DESCRIPTION_SIZE_MAX];
	memset(text, 'x', sizeof(text));
	uint64_t lsn;
	for (uint32_t i = 0; i < steps; i++) {
		int64_t now;
		const struct command *c = walfx_next(&w, &now);
		struct command big;
		if (big_every && i > 5 && i % big_every == 3 && i + 100 < steps) {
			big = (struct command){ .type = COMMAND_EVENT_PUT };
			big.event_put = (struct command_event_put){
				.event_id = 100 + i, .location_id = 1, .title = text_from_cstr("Big"),
				.description = text_from(text, sizeof(text)) };
			c = &big;
		}
		store_step(store, c, now, &w, &lsn);
		if (i % 10 == 9)
			cr_assert_eq(wal_store_sync(store), 0);
	}
	cr_assert_eq(wal_store_sync(store), 0);
	for (uint32_t logged = 0; logged < 2;) {
		int64_t now;
		const struct command *c = walfx_next(&w, &now);
		store_step(store, c, now, &w, &lsn);
		logged += lsn != 0;
	}
	cr_assert_eq(wal_store_sync(store), 0);
	wal_store_close(store);
	walfx_workload_finish(&w);
}

/* Reads one segment file of the pristine log and indexes its records. */
static void pristine_segment_index(uint32_t i)
{
	char name[64];
	wal_segment_name(pristine.files[i].sequence, name, sizeof(name));
	struct wal_segment_header header;
	enum wal_header_status status = wal_segment_header_decode(pristine.files[i].bytes, &header);
	cr_assert(status == WAL_HEADER_OK || status == WAL_HEADER_EMPTY, "%s", name);
	if (status == WAL_HEADER_EMPTY)
		return;
	cr_assert_eq(pristine.started_count, i, "spares come last");
	pristine.started_count++;
	cr_assert_eq(header.first_lsn, pristine.count + 1);
	size_t offset = WAL_SEGMENT_HEADER_SIZE;
	struct wal_record record;
	size_t next;
	const uint8_t *bytes = pristine.files[i].bytes;
	while (wal_record_decode(bytes, pristine.files[i].size, offset, &record, &next) ==
	       WAL_RECORD_OK) {
		cr_assert_eq(record.lsn, pristine.count + 1);
		pristine.records =
			realloc(pristine.records, (pristine.count + 1) * sizeof(*pristine.records));
		pristine.records[pristine.count++] = (struct record_info){
			.sequence = pristine.files[i].sequence, .offset = offset,
			.size = (uint32_t)(next - offset), .flush_lsn = record.flush_lsn,
			.timestamp_ms = record.timestamp_ms, .payload = record.payload,
			.payload_size = record.payload_size };
		offset = next;
	}
}

/* Loads the pristine files and the digest after every prefix of the records. */
static void pristine_load(void)
{
	int fd = wal_dir_open(pristine.dir, false);
	cr_assert_geq(fd, 0);
	struct wal_listing *listing = malloc(sizeof(*listing));
	cr_assert_eq(wal_list(fd, listing), 0);
	cr_assert_eq(listing->snapshots_count, 0);
	cr_assert_leq(listing->segments_count, FILES_MAX);
	pristine.files_count = listing->segments_count;
	for (uint32_t i = 0; i < pristine.files_count; i++) {
		char name[64];
		pristine.files[i].sequence = listing->segments[i];
		wal_segment_name(pristine.files[i].sequence, name, sizeof(name));
		cr_assert_eq(wal_file_read(fd, name, &pristine.files[i].bytes, &pristine.files[i].size), 0);
		pristine_segment_index(i);
	}
	free(listing);
	close(fd);
	pristine.digests = malloc((pristine.count + 1) * sizeof(*pristine.digests));
	/* A log starts under the default settings; its CONFIGURE records set the rest. */
	struct engine_config initial = pristine.engine_config;
	initial.hold_ttl_ms_default = HOLD_TTL_MS_DEFAULT;
	initial.waitlist_idle_ms = WAITLIST_IDLE_MS_DEFAULT;
	struct engine *engine = engine_create(&initial);
	pristine.digests[0] = engine_digest(engine);
	for (uint64_t i = 0; i < pristine.count; i++) {
		struct command command;
		const struct record_info *r = &pristine.records[i];
		cr_assert_eq(command_decode(r->payload, r->payload_size, &command), STATUS_OK);
		struct engine_result result;
		engine_apply(engine, &command, r->timestamp_ms, &result);
		pristine.digests[i + 1] = engine_digest(engine);
	}
	engine_destroy(engine);
}

static void setup(uint32_t steps, uint32_t big_every)
{
	walfx_dir(pristine.base, sizeof(pristine.base));
	snprintf(pristine.dir, sizeof(pristine.dir), "%s/pristine", pristine.base);
	snprintf(pristine.work, sizeof(pristine.work), "%s/work", pristine.base);
	pristine.engine_config = walfx_config(pristine.dir).engine;
	pristine_write(steps, big_every);
	pristine_load();
	pristine.work_fd = wal_dir_open(pristine.work, true);
	cr_assert_geq(pristine.work_fd, 0);
}

/* A log of small records only, so that a recovery, and each case, takes little time. */
void setup_tail(void)
{
	setup(4500, 0);
	cr_assert_gt(pristine.count, 1500, "%" PRIu64 " records", pristine.count);
}

/* A log of several segments, filled by large records. */
void setup_segments(void)
{
	setup(4500, 5);
	cr_assert_geq(pristine.started_count, 3, "a middle segment exists");
	cr_assert_gt(pristine.count, 2000, "%" PRIu64 " records", pristine.count);
}

void teardown(void)
{
	close(pristine.work_fd);
	for (uint32_t i = 0; i < pristine.files_count; i++)
		free(pristine.files[i].bytes);
	free(pristine.records);
	free(pristine.digests);
	walfx_dir_remove(pristine.base);
}

const struct record_info *record_at(uint64_t lsn)
{
	cr_assert(lsn >= 1 && lsn <= pristine.count, "LSN %" PRIu64, lsn);
	return &pristine.records[lsn - 1];
}

/* Puts the pristine files back in the work directory, replacing whatever is there. */
void work_restore(void)
{
	struct wal_listing *listing = malloc(sizeof(*listing));
	cr_assert_eq(wal_list(pristine.work_fd, listing), 0);
	char name[64];
	for (uint32_t i = 0; i < listing->segments_count; i++) {
		wal_segment_name(listing->segments[i], name, sizeof(name));
		cr_assert_eq(unlinkat(pristine.work_fd, name, 0), 0);
	}
	free(listing);
	for (uint32_t i = 0; i < pristine.files_count; i++) {
		wal_segment_name(pristine.files[i].sequence, name, sizeof(name));
		int fd = openat(pristine.work_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		cr_assert_geq(fd, 0);
		cr_assert_eq(wal_pwrite_all(fd, pristine.files[i].bytes, pristine.files[i].size, 0), 0);
		close(fd);
	}
}

int work_open(uint64_t sequence)
{
	char name[64];
	wal_segment_name(sequence, name, sizeof(name));
	int fd = openat(pristine.work_fd, name, O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s", name);
	return fd;
}

/* Reads or writes bytes of a segment of the work copy. */
void work_io(uint64_t sequence, uint64_t offset, void *bytes, size_t size, bool write)
{
	int fd = work_open(sequence);
	if (write)
		cr_assert_eq(wal_pwrite_all(fd, bytes, size, offset), 0);
	else
		cr_assert_eq(pread(fd, bytes, size, (off_t)offset), (ssize_t)size);
	close(fd);
}

void work_xor(uint64_t sequence, uint64_t offset, uint8_t mask)
{
	uint8_t byte;
	work_io(sequence, offset, &byte, 1, false);
	byte ^= mask;
	work_io(sequence, offset, &byte, 1, true);
}

void work_zero(uint64_t sequence, uint64_t from, uint64_t to)
{
	static uint8_t zeros[1 << 16];
	for (uint64_t o = from; o < to; o += sizeof(zeros))
		work_io(sequence, o, zeros, to - o < sizeof(zeros) ? to - o : sizeof(zeros), true);
}

void work_remove(uint64_t sequence)
{
	char name[64];
	wal_segment_name(sequence, name, sizeof(name));
	cr_assert_eq(unlinkat(pristine.work_fd, name, 0), 0);
}

static uint32_t work_files_count(void)
{
	struct wal_listing *listing = malloc(sizeof(*listing));
	cr_assert_eq(wal_list(pristine.work_fd, listing), 0);
	uint32_t count = listing->segments_count;
	free(listing);
	return count;
}

/* Finds "segment-XXXXXXXX.wal" and "offset N" in a message. */
static bool message_names(const char *message, uint64_t *sequence, uint64_t *offset)
{
	const char *s = strstr(message, "segment-");
	const char *o = strstr(message, "offset ");
	if (s == NULL || o == NULL)
		return false;
	char *end;
	*sequence = strtoull(s + 8, &end, 16);
	if (end != s + 16 || strncmp(end, ".wal", 4) != 0)
		return false;
	*offset = strtoull(o + 7, &end, 10);
	return end != o + 7;
}

/*
 * Recovers the work directory with repair and checks that the outcome is one of
 * the two allowed: a prefix equal to the first K records, or a refusal that names
 * a segment and an offset. `what` describes the damage for failure messages.
 */
struct outcome work_recover(const char *what)
{
	struct outcome out = { 0 };
	struct engine *engine = NULL;
	struct wal_position position;
	struct wal_recovery report;
	uint32_t files_before = work_files_count();
	int error = wal_recover(pristine.work_fd, &pristine.engine_config, true, &engine, &position,
				&report);
	snprintf(out.message, sizeof(out.message), "%s", report.message);
	if (error == -EUCLEAN) {
		cr_assert_null(engine);
		out.refused = true;
		cr_assert(message_names(report.message, &out.sequence, &out.offset),
			  "%s: the refusal names no segment and offset: %s", what, report.message);
		cr_assert_eq(work_files_count(), files_before, "%s: a refusal removes nothing", what);
		return out;
	}
	cr_assert_eq(error, 0, "%s: recovery returned %d: %s", what, error, report.message);
	out.k = report.last_lsn;
	out.torn = report.torn;
	cr_assert_leq(out.k, pristine.count, "%s", what);
	cr_assert_eq(report.records_replayed, out.k, "%s", what);
	cr_assert_eq(engine_digest(engine), pristine.digests[out.k],
		     "%s: the state is not that of the first %" PRIu64 " records", what, out.k);
	cr_assert_eq(position.next_lsn, out.k + 1, "%s", what);
	engine_destroy(engine);
	return out;
}

void expect_prefix(const struct outcome *out, uint64_t k, const char *what)
{
	cr_assert_not(out->refused, "%s: refused: %s", what, out->message);
	cr_assert_eq(out->k, k, "%s: recovered %" PRIu64 " records, not %" PRIu64 " (%s)", what,
		     out->k, k, out->message);
}

void expect_refusal(const struct outcome *out, uint64_t sequence, uint64_t offset,
		    const char *what)
{
	cr_assert(out->refused, "%s: accepted %" PRIu64 " records: %s", what, out->k, out->message);
	cr_assert_eq(out->sequence, sequence, "%s: %s", what, out->message);
	cr_assert_eq(out->offset, offset, "%s: %s", what, out->message);
}

uint64_t last_sequence(void)
{
	return pristine.files[pristine.started_count - 1].sequence;
}

/* The first LSN of the flush that ends at `lsn` (which must end one). */
uint64_t flush_first(uint64_t lsn)
{
	cr_assert(lsn == pristine.count || record_at(lsn + 1)->flush_lsn == lsn + 1);
	return record_at(lsn)->flush_lsn;
}
