/*
 * test_corruption.c — the corruption matrix of FORMAT.md ("Reading, torn tails and
 * corruption"). A log of a few thousand records in many flushes over several
 * segments is written once through wal_store; every case copies it, damages the
 * copy, and recovers it with repair. Each case must end in exactly one of:
 *   a prefix:  success, and the engine equals one fed exactly the first K logged
 *              records, K = report.last_lsn;
 *   a refusal: -EUCLEAN, with a message naming the segment file and the offset.
 * Which one, and which K or offset, is then checked against the rule.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "bytes.h"
#include "files.h"
#include "reader.h"
#include "record.h"
#include "recovery.h"
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

static struct pristine p;

static void store_step(struct wal_store *store, const struct command *c, int64_t now,
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
	struct wal_store_config config = walfx_config(p.dir);
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
	wal_segment_name(p.files[i].sequence, name, sizeof(name));
	struct wal_segment_header header;
	enum wal_header_status status = wal_segment_header_decode(p.files[i].bytes, &header);
	cr_assert_neq(status, WAL_HEADER_BAD, "%s", name);
	if (status == WAL_HEADER_EMPTY)
		return;
	cr_assert_eq(p.started_count, i, "spares come last");
	p.started_count++;
	cr_assert_eq(header.first_lsn, p.count + 1);
	size_t offset = WAL_SEGMENT_HEADER_SIZE;
	struct wal_record record;
	size_t next;
	while (wal_record_decode(p.files[i].bytes, p.files[i].size, offset, &record, &next) ==
	       WAL_RECORD_OK) {
		cr_assert_eq(record.lsn, p.count + 1);
		p.records = realloc(p.records, (p.count + 1) * sizeof(*p.records));
		p.records[p.count++] = (struct record_info){
			.sequence = p.files[i].sequence, .offset = offset,
			.size = (uint32_t)(next - offset), .flush_lsn = record.flush_lsn,
			.timestamp_ms = record.timestamp_ms, .payload = record.payload,
			.payload_size = record.payload_size };
		offset = next;
	}
}

/* Loads the pristine files and the digest after every prefix of the records. */
static void pristine_load(void)
{
	int fd = wal_dir_open(p.dir, false);
	cr_assert_geq(fd, 0);
	struct wal_listing *listing = malloc(sizeof(*listing));
	cr_assert_eq(wal_list(fd, listing), 0);
	cr_assert_eq(listing->snapshots_count, 0);
	cr_assert_leq(listing->segments_count, FILES_MAX);
	p.files_count = listing->segments_count;
	for (uint32_t i = 0; i < p.files_count; i++) {
		char name[64];
		p.files[i].sequence = listing->segments[i];
		wal_segment_name(p.files[i].sequence, name, sizeof(name));
		cr_assert_eq(wal_file_read(fd, name, &p.files[i].bytes, &p.files[i].size), 0);
		pristine_segment_index(i);
	}
	free(listing);
	close(fd);
	p.digests = malloc((p.count + 1) * sizeof(*p.digests));
	/* A log starts under the default settings; its CONFIGURE records set the rest. */
	struct engine_config initial = p.engine_config;
	initial.hold_ttl_ms_default = HOLD_TTL_MS_DEFAULT;
	initial.waitlist_idle_ms = WAITLIST_IDLE_MS_DEFAULT;
	struct engine *engine = engine_create(&initial);
	p.digests[0] = engine_digest(engine);
	for (uint64_t i = 0; i < p.count; i++) {
		struct command command;
		cr_assert_eq(command_decode(p.records[i].payload, p.records[i].payload_size, &command),
			     STATUS_OK);
		struct engine_result result;
		engine_apply(engine, &command, p.records[i].timestamp_ms, &result);
		p.digests[i + 1] = engine_digest(engine);
	}
	engine_destroy(engine);
}

static void setup(uint32_t steps, uint32_t big_every)
{
	walfx_dir(p.base, sizeof(p.base));
	snprintf(p.dir, sizeof(p.dir), "%s/pristine", p.base);
	snprintf(p.work, sizeof(p.work), "%s/work", p.base);
	p.engine_config = walfx_config(p.dir).engine;
	pristine_write(steps, big_every);
	pristine_load();
	p.work_fd = wal_dir_open(p.work, true);
	cr_assert_geq(p.work_fd, 0);
}

/* A log of small records only, so that a recovery, and each case, takes little time. */
static void setup_tail(void)
{
	setup(4500, 0);
	cr_assert_gt(p.count, 1500, "%" PRIu64 " records", p.count);
}

/* A log of several segments, filled by large records. */
static void setup_segments(void)
{
	setup(4500, 5);
	cr_assert_geq(p.started_count, 3, "a middle segment exists");
	cr_assert_gt(p.count, 2000, "%" PRIu64 " records", p.count);
}

static void teardown(void)
{
	close(p.work_fd);
	for (uint32_t i = 0; i < p.files_count; i++)
		free(p.files[i].bytes);
	free(p.records);
	free(p.digests);
	walfx_dir_remove(p.base);
}

/* The damage near the end of the log: torn tails, cuts, and what comes after a cut. */
TestSuite(tail, .init = setup_tail, .fini = teardown, .timeout = 60);
/* The damage anywhere else: in the middle of the log, its headers and its files. */
TestSuite(corruption, .init = setup_segments, .fini = teardown, .timeout = 60);

static const struct record_info *record_at(uint64_t lsn)
{
	cr_assert(lsn >= 1 && lsn <= p.count, "LSN %" PRIu64, lsn);
	return &p.records[lsn - 1];
}

/* Puts the pristine files back in the work directory, replacing whatever is there. */
static void work_restore(void)
{
	struct wal_listing *listing = malloc(sizeof(*listing));
	cr_assert_eq(wal_list(p.work_fd, listing), 0);
	char name[64];
	for (uint32_t i = 0; i < listing->segments_count; i++) {
		wal_segment_name(listing->segments[i], name, sizeof(name));
		cr_assert_eq(unlinkat(p.work_fd, name, 0), 0);
	}
	free(listing);
	for (uint32_t i = 0; i < p.files_count; i++) {
		wal_segment_name(p.files[i].sequence, name, sizeof(name));
		int fd = openat(p.work_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		cr_assert_geq(fd, 0);
		cr_assert_eq(wal_pwrite_all(fd, p.files[i].bytes, p.files[i].size, 0), 0);
		close(fd);
	}
}

static int work_open(uint64_t sequence)
{
	char name[64];
	wal_segment_name(sequence, name, sizeof(name));
	int fd = openat(p.work_fd, name, O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s", name);
	return fd;
}

/* Reads or writes bytes of a segment of the work copy. */
static void work_io(uint64_t sequence, uint64_t offset, void *bytes, size_t size, bool write)
{
	int fd = work_open(sequence);
	if (write)
		cr_assert_eq(wal_pwrite_all(fd, bytes, size, offset), 0);
	else
		cr_assert_eq(pread(fd, bytes, size, (off_t)offset), (ssize_t)size);
	close(fd);
}

static void work_xor(uint64_t sequence, uint64_t offset, uint8_t mask)
{
	uint8_t byte;
	work_io(sequence, offset, &byte, 1, false);
	byte ^= mask;
	work_io(sequence, offset, &byte, 1, true);
}

static void work_zero(uint64_t sequence, uint64_t from, uint64_t to)
{
	static uint8_t zeros[1 << 16];
	for (uint64_t o = from; o < to; o += sizeof(zeros))
		work_io(sequence, o, zeros, to - o < sizeof(zeros) ? to - o : sizeof(zeros), true);
}

static void work_remove(uint64_t sequence)
{
	char name[64];
	wal_segment_name(sequence, name, sizeof(name));
	cr_assert_eq(unlinkat(p.work_fd, name, 0), 0);
}

static uint32_t work_files_count(void)
{
	struct wal_listing *listing = malloc(sizeof(*listing));
	cr_assert_eq(wal_list(p.work_fd, listing), 0);
	uint32_t count = listing->segments_count;
	free(listing);
	return count;
}

/* What a recovery of the work directory came to. */
struct outcome {
	bool refused;
	uint64_t k;	   /* a prefix: its last LSN */
	bool torn;	   /* a prefix: a torn tail was cut */
	uint64_t sequence; /* a refusal: the segment the message names */
	uint64_t offset;   /* a refusal: the offset it names */
	char message[768];
};

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
static struct outcome work_recover(const char *what)
{
	struct outcome out = { 0 };
	struct engine *engine = NULL;
	struct wal_position position;
	struct wal_recovery report;
	uint32_t files_before = work_files_count();
	int error = wal_recover(p.work_fd, &p.engine_config, true, &engine, &position, &report);
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
	cr_assert_leq(out.k, p.count, "%s", what);
	cr_assert_eq(report.records_replayed, out.k, "%s", what);
	cr_assert_eq(engine_digest(engine), p.digests[out.k],
		     "%s: the state is not that of the first %" PRIu64 " records", what, out.k);
	cr_assert_eq(position.next_lsn, out.k + 1, "%s", what);
	engine_destroy(engine);
	return out;
}

static void expect_prefix(const struct outcome *out, uint64_t k, const char *what)
{
	cr_assert_not(out->refused, "%s: refused: %s", what, out->message);
	cr_assert_eq(out->k, k, "%s: recovered %" PRIu64 " records, not %" PRIu64 " (%s)", what,
		     out->k, k, out->message);
}

static void expect_refusal(const struct outcome *out, uint64_t sequence, uint64_t offset,
			   const char *what)
{
	cr_assert(out->refused, "%s: accepted %" PRIu64 " records: %s", what, out->k, out->message);
	cr_assert_eq(out->sequence, sequence, "%s: %s", what, out->message);
	cr_assert_eq(out->offset, offset, "%s: %s", what, out->message);
}

static uint64_t last_sequence(void)
{
	return p.files[p.started_count - 1].sequence;
}

/* The first LSN of the flush that ends at `lsn` (which must end one). */
static uint64_t flush_first(uint64_t lsn)
{
	cr_assert(lsn == p.count || record_at(lsn + 1)->flush_lsn == lsn + 1);
	return record_at(lsn)->flush_lsn;
}

Test(tail, the_pristine_log_recovers_whole_and_ends_in_a_flush_of_two)
{
	work_restore();
	struct outcome out = work_recover("pristine");
	expect_prefix(&out, p.count, "pristine");
	cr_assert_not(out.torn);
	uint64_t n = p.count;
	cr_assert_eq(record_at(n)->flush_lsn, n - 1);
	cr_assert_eq(record_at(n - 1)->flush_lsn, n - 1);
	cr_assert_lt(record_at(n - 2)->flush_lsn, n - 1);
	cr_assert_eq(record_at(n)->sequence, last_sequence());
	cr_assert_eq(record_at(n - 2)->sequence, last_sequence());
}

Test(tail, a_tail_zeroed_from_any_offset_in_the_last_two_records_is_cut_there)
{
	uint64_t n = p.count;
	uint64_t sequence = last_sequence();
	uint64_t start = record_at(n - 1)->offset;
	uint64_t end = record_at(n)->offset + record_at(n)->size;
	for (uint64_t t = start; t < end; t++) {
		char what[96];
		snprintf(what, sizeof(what), "zeros from offset %" PRIu64, t);
		work_restore();
		work_zero(sequence, t, end);
		uint64_t damaged = t < record_at(n)->offset ? n - 1 : n;
		bool boundary = t == record_at(damaged)->offset;
		struct outcome out = work_recover(what);
		expect_prefix(&out, damaged - 1, what);
		cr_assert_eq(out.torn, !boundary, "%s: a partial record is a torn tail", what);
		/* The cut is zeroed and synced: a second recovery finds a clean log. */
		uint8_t bytes[1024];
		cr_assert_leq(end - start, sizeof(bytes));
		work_io(sequence, start, bytes, end - start, false);
		for (uint64_t o = record_at(damaged)->offset; o < end; o++)
			cr_assert_eq(bytes[o - start], 0, "%s: byte %" PRIu64 " was not cut", what, o);
		out = work_recover(what);
		expect_prefix(&out, damaged - 1, what);
		cr_assert_not(out.torn, "%s: the second recovery found a torn tail again", what);
	}
}

/*
 * A segment file cut short by the filesystem is not a torn write (segments are
 * preallocated, so their size never changes). The size no longer matches the
 * header, the segment is read as one with a bad header, and what its records say
 * decides: refused, as corruption, since they span many flushes.
 */
Test(tail, a_really_truncated_last_segment_is_refused)
{
	uint64_t n = p.count;
	uint64_t sequence = last_sequence();
	uint64_t start = record_at(n - 1)->offset;
	uint64_t end = record_at(n)->offset + record_at(n)->size;
	for (uint64_t t = start; t <= end; t++) {
		char what[96];
		snprintf(what, sizeof(what), "last segment truncated to %" PRIu64 " bytes", t);
		work_restore();
		int fd = work_open(sequence);
		cr_assert_eq(ftruncate(fd, (off_t)t), 0);
		close(fd);
		struct outcome out = work_recover(what);
		expect_refusal(&out, sequence, 0, what);
	}
}

/*
 * Power loss may persist parts of the last flush out of order: a record of it
 * zeroed while later ones are intact is still a torn tail, cut before the hole.
 * The same hole in any earlier flush, with other flushes after it, is corruption.
 */
Test(tail, a_zeroed_record_is_cut_in_the_last_flush_and_refused_before_it)
{
	uint64_t n = p.count;
	uint64_t first_of_last_flush = flush_first(n);
	for (uint64_t lsn = n; lsn + 30 > n; lsn--) {
		const struct record_info *r = record_at(lsn);
		char what[96];
		snprintf(what, sizeof(what), "record %" PRIu64 " zeroed", lsn);
		work_restore();
		work_zero(r->sequence, r->offset, r->offset + r->size);
		struct outcome out = work_recover(what);
		if (lsn >= first_of_last_flush)
			expect_prefix(&out, lsn - 1, what);
		else if (out.refused || lsn + 1 != first_of_last_flush)
			expect_refusal(&out, r->sequence, r->offset, what);
		else
			/* The end of the flush before the last: see the bit-flip case below. */
			expect_prefix(&out, lsn - 1, what);
	}
}

/* Every record of the last segment zeroed, its header kept: an empty segment. */
Test(tail, a_zero_filled_last_segment_keeps_what_comes_before_it)
{
	uint64_t sequence = last_sequence();
	work_restore();
	work_zero(sequence, WAL_SEGMENT_HEADER_SIZE, p.files[p.started_count - 1].size);
	uint64_t first = p.count;
	while (first > 1 && record_at(first - 1)->sequence == sequence)
		first--;
	struct outcome out = work_recover("last segment's records zeroed");
	expect_prefix(&out, first - 1, "last segment's records zeroed");
	cr_assert_not(out.torn, "zeros are the end of the data, not a torn tail");
}

/* Flips bit `bit` of the record at `lsn` in a fresh copy and recovers. */
static struct outcome bit_flip_recover(uint64_t lsn, uint32_t bit, char *what, size_t size)
{
	const struct record_info *r = record_at(lsn);
	snprintf(what, size, "LSN %" PRIu64 " (offset %" PRIu64 "), bit %u flipped", lsn,
		 r->offset, bit);
	work_restore();
	work_xor(r->sequence, r->offset + bit / 8, (uint8_t)(1u << (bit % 8)));
	return work_recover(what);
}

Test(tail, bit_flips_in_the_last_records_are_cut_in_the_last_flush)
{
	uint64_t n = p.count;
	for (uint64_t lsn = n - 1; lsn <= n; lsn++) {
		for (uint32_t bit = 0; bit < record_at(lsn)->size * 8; bit++) {
			char what[128];
			struct outcome out = bit_flip_recover(lsn, bit, what, sizeof(what));
			expect_prefix(&out, lsn - 1, what);
			cr_assert(out.torn, "%s", what);
		}
	}
}

/*
 * LSN n - 2 ends the flush before the last. Damaged, it is followed by a flush
 * that began after it (every record carries its flush's first LSN), which proves
 * it was synced: every flip is refused, naming it.
 */
Test(tail, bit_flips_in_the_end_of_the_flush_before_the_last_are_refused)
{
	uint64_t lsn = p.count - 2;
	const struct record_info *r = record_at(lsn);
	for (uint32_t bit = 0; bit < r->size * 8; bit++) {
		char what[128];
		struct outcome out = bit_flip_recover(lsn, bit, what, sizeof(what));
		expect_refusal(&out, r->sequence, r->offset, what);
	}
}

static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/*
 * Random single-byte flips in records before the last flush. Records of later
 * flushes follow each one, so every case is refused, and the message names the
 * damaged record's segment and offset.
 */
Test(corruption, random_byte_flips_in_the_middle_of_the_log_are_refused)
{
	uint64_t seed = 0xc0ffee;
	const char *env = getenv("WAL_TEST_SEED");
	if (env != NULL)
		seed = strtoull(env, NULL, 0);
	fprintf(stderr, "corruption: random flips, seed %" PRIu64 " (WAL_TEST_SEED)\n", seed);
	uint64_t rng = seed;
	/* Every record before the last flush but the one that ends the flush before it
	 * (its case is above): at least two flush-end records follow each. */
	uint64_t lsn_max = flush_first(p.count) - 2;
	for (uint32_t i = 0; i < 400; i++) {
		uint64_t lsn = 1 + rng_next(&rng) % lsn_max;
		const struct record_info *r = record_at(lsn);
		uint64_t offset = r->offset + rng_next(&rng) % r->size;
		uint8_t mask = (uint8_t)(1 + rng_next(&rng) % 255);
		char what[160];
		snprintf(what, sizeof(what),
			 "seed %" PRIu64 " case %u: byte %" PRIu64 " of segment %" PRIu64
			 " (LSN %" PRIu64 ") ^ 0x%02x",
			 seed, i, offset, r->sequence, lsn, mask);
		work_restore();
		work_xor(r->sequence, offset, mask);
		struct outcome out = work_recover(what);
		expect_refusal(&out, r->sequence, r->offset, what);
	}
}

/* Writes a re-sealed header with one field changed into a segment of the copy. */
static void header_edit(uint64_t sequence, unsigned offset, unsigned size, uint64_t value)
{
	uint8_t header[WAL_SEGMENT_HEADER_SIZE];
	work_io(sequence, 0, header, sizeof(header), false);
	for (unsigned i = 0; i < size; i++)
		header[offset + i] = (uint8_t)(value >> (8 * i));
	bytes_store_u64(header + 56, XXH3_64bits(header, 56));
	work_io(sequence, 0, header, sizeof(header), true);
}

Test(corruption, a_bad_header_in_a_middle_segment_is_refused)
{
	struct {
		unsigned offset, size;
		uint64_t value;
		const char *what;
	} edits[] = {
		{ 0, 1, 'X', "wrong magic" },	      { 8, 4, 2, "version 2" },
		{ 12, 4, 1, "another shard" },	      { 16, 8, 77, "wrong segment number" },
		{ 24, 8, 5, "wrong first LSN" },      { 32, 8, 1 << 20, "wrong size" },
	};
	for (uint32_t s = 0; s + 1 < p.started_count; s++) {
		uint64_t sequence = p.files[s].sequence;
		for (uint32_t e = 0; e < ARRAY_COUNT(edits); e++) {
			char what[128];
			snprintf(what, sizeof(what), "segment %" PRIu64 ": %s", sequence,
				 edits[e].what);
			work_restore();
			header_edit(sequence, edits[e].offset, edits[e].size, edits[e].value);
			struct outcome out = work_recover(what);
			/* The first segment's first LSN has nothing to agree with but its
			 * first record, which is then found out of order. */
			bool first_lsn = s == 0 && edits[e].offset == 24;
			expect_refusal(&out, sequence, first_lsn ? WAL_SEGMENT_HEADER_SIZE : 0, what);
		}
		/* And without re-sealing: any flipped byte of the header. */
		for (unsigned byte = 0; byte < WAL_SEGMENT_HEADER_SIZE; byte += 5) {
			char what[128];
			snprintf(what, sizeof(what), "segment %" PRIu64 ": header byte %u flipped",
				 sequence, byte);
			work_restore();
			work_xor(sequence, byte, 0x10);
			struct outcome out = work_recover(what);
			expect_refusal(&out, sequence, 0, what);
		}
	}
}

/* Rewrites the LSN of a record and re-seals its checksum: only the LSN is wrong. */
static void lsn_rewrite(uint64_t lsn, uint64_t value)
{
	const struct record_info *r = record_at(lsn);
	static uint8_t bytes[WAL_RECORD_OVERHEAD + WAL_RECORD_PAYLOAD_MAX];
	work_io(r->sequence, r->offset, bytes, r->size, false);
	bytes_store_u64(bytes + 8, value);
	size_t sealed = WAL_RECORD_HEADER_SIZE + (size_t)r->payload_size;
	bytes_store_u64(bytes + sealed, XXH3_64bits(bytes, sealed));
	work_io(r->sequence, r->offset, bytes, r->size, true);
}

Test(corruption, an_lsn_gap_or_repeat_is_refused_at_its_offset)
{
	uint64_t n = p.count;
	uint64_t first_of_last = 1;
	while (record_at(first_of_last)->sequence != last_sequence())
		first_of_last++;
	const uint64_t lsns[] = { 1, 2, n / 2, first_of_last - 1, first_of_last, n - 1, n };
	for (uint32_t i = 0; i < ARRAY_COUNT(lsns); i++) {
		const uint64_t values[] = { lsns[i] + 1, lsns[i] - 1, lsns[i] + 1000 };
		for (uint32_t v = 0; v < ARRAY_COUNT(values); v++) {
			if (values[v] == 0)
				continue;
			char what[128];
			snprintf(what, sizeof(what), "LSN %" PRIu64 " rewritten as %" PRIu64, lsns[i],
				 values[v]);
			work_restore();
			lsn_rewrite(lsns[i], values[v]);
			struct outcome out = work_recover(what);
			const struct record_info *r = record_at(lsns[i]);
			expect_refusal(&out, r->sequence, r->offset, what);
			cr_assert(strstr(out.message, "LSN") != NULL, "%s: %s", what, out.message);
		}
	}
}

Test(corruption, a_missing_middle_segment_is_refused)
{
	for (uint32_t s = 1; s + 1 < p.started_count; s++) {
		char what[96];
		snprintf(what, sizeof(what), "segment %" PRIu64 " removed", p.files[s].sequence);
		work_restore();
		work_remove(p.files[s].sequence);
		struct outcome out = work_recover(what);
		expect_refusal(&out, p.files[s + 1].sequence, 0, what);
	}
}

Test(corruption, a_missing_last_segment_before_its_spare_is_refused)
{
	/* The spare after the last segment is made only once that segment is in use: with
	 * the last one gone, the log must not seem to end a segment early. */
	work_restore();
	uint64_t spare = last_sequence() + 1;
	if (p.files_count == p.started_count) {
		char name[64];
		wal_segment_name(spare, name, sizeof(name));
		int fd = openat(p.work_fd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		cr_assert_geq(fd, 0);
		cr_assert_eq(ftruncate(fd, (off_t)p.files[0].size), 0);
		close(fd);
	}
	work_remove(last_sequence());
	struct outcome out = work_recover("last segment removed, its spare kept");
	expect_refusal(&out, spare, 0, "last segment removed, its spare kept");
	cr_assert(strstr(out.message, "missing") != NULL, "%s", out.message);
}

Test(corruption, a_missing_first_segment_without_a_snapshot_is_refused)
{
	work_restore();
	work_remove(p.files[0].sequence);
	struct engine *engine = NULL;
	struct wal_position position;
	struct wal_recovery report;
	int error = wal_recover(p.work_fd, &p.engine_config, true, &engine, &position, &report);
	cr_assert_eq(error, -EUCLEAN, "%s", report.message);
	cr_assert_null(engine);
	cr_assert(strstr(report.message, "not 1") != NULL, "%s", report.message);
}

Test(corruption, stray_bytes_after_the_data_refuse_mid_log_and_are_cut_at_the_end)
{
	/* In a middle segment, anything after its last record means lost records. */
	const struct record_info *r = record_at(1);
	uint64_t middle_end = 0;
	for (uint64_t lsn = 1; lsn <= p.count && record_at(lsn)->sequence == r->sequence; lsn++)
		middle_end = record_at(lsn)->offset + record_at(lsn)->size;
	work_restore();
	work_xor(r->sequence, p.files[0].size - 1, 0x01);
	struct outcome out = work_recover("stray byte at the end of segment 1");
	expect_refusal(&out, r->sequence, middle_end, "stray byte at the end of segment 1");
	/* In the last segment, a stray byte past the last record holds no records: cut. */
	uint64_t sequence = last_sequence();
	work_restore();
	work_xor(sequence, p.files[p.started_count - 1].size - 1, 0x01);
	out = work_recover("stray byte at the end of the last segment");
	expect_prefix(&out, p.count, "stray byte at the end of the last segment");
	cr_assert(out.torn);
	uint8_t byte = 0xff;
	work_io(sequence, p.files[p.started_count - 1].size - 1, &byte, 1, false);
	cr_assert_eq(byte, 0, "the stray byte was zeroed");
}

/*
 * A segment whose 64-byte header reads as zeros while records follow it is not a
 * spare: spares are all zeros. In the middle of the log it is corruption like any
 * other bad header; the later segments must be neither skipped nor removed.
 */
Test(corruption, a_zeroed_header_in_a_middle_segment_is_refused)
{
	for (uint32_t s = 0; s + 1 < p.started_count; s++) {
		uint64_t sequence = p.files[s].sequence;
		char what[96];
		snprintf(what, sizeof(what), "segment %" PRIu64 ": header zeroed", sequence);
		work_restore();
		work_zero(sequence, 0, WAL_SEGMENT_HEADER_SIZE);
		struct outcome out = work_recover(what);
		expect_refusal(&out, sequence, 0, what);
	}
}

/*
 * On the last segment a header is written with the segment's first flush, so it
 * may be torn with it; but here records of several flushes follow it, synced after
 * it was: refused, like any bad header (the message may point at the header or at
 * the first record after it).
 */
Test(corruption, a_bad_header_on_the_last_segment_is_refused_when_it_holds_many_flushes)
{
	uint64_t sequence = last_sequence();
	const char *cases[] = { "version 2", "magic flipped", "header zeroed" };
	for (uint32_t i = 0; i < ARRAY_COUNT(cases); i++) {
		work_restore();
		if (i == 0)
			header_edit(sequence, 8, 4, 2);
		else if (i == 1)
			work_xor(sequence, 3, 0x01);
		else
			work_zero(sequence, 0, WAL_SEGMENT_HEADER_SIZE);
		struct outcome out = work_recover(cases[i]);
		cr_assert(out.refused, "%s: accepted %" PRIu64 " of %" PRIu64 " records: %s",
			  cases[i], out.k, p.count, out.message);
		cr_assert_eq(out.sequence, sequence, "%s: %s", cases[i], out.message);
		cr_assert_leq(out.offset, WAL_SEGMENT_HEADER_SIZE, "%s: %s", cases[i], out.message);
	}
}

/*
 * Segments never change size once prepared (a segment is zero-filled to its full
 * size and synced before the writer may rotate into it), so a last segment shorter
 * than that was cut by something other than a crash: refused, wherever the cut
 * falls, not dropped as if it were a torn first flush. Even cut to nothing: the
 * spare after it was only created once this segment was half full.
 */
Test(corruption, a_last_segment_cut_short_is_refused_at_any_length)
{
	uint64_t sequence = last_sequence();
	cr_assert_gt(p.files_count, p.started_count, "a spare follows the last segment");
	uint64_t first = p.count;
	while (record_at(first - 1)->sequence == sequence)
		first--;
	const uint64_t lengths[] = { 0,
				     1,
				     32,
				     63,
				     WAL_SEGMENT_HEADER_SIZE,
				     WAL_SEGMENT_HEADER_SIZE + 1,
				     record_at(first)->offset + record_at(first)->size,
				     record_at(first + 1)->offset + record_at(first + 1)->size,
				     record_at(p.count)->offset };
	/* Every length is tried, and the ones accepted are listed together. */
	char accepted[1024] = "";
	for (uint32_t i = 0; i < ARRAY_COUNT(lengths); i++) {
		char what[96];
		snprintf(what, sizeof(what), "last segment cut to %" PRIu64 " bytes", lengths[i]);
		work_restore();
		int fd = work_open(sequence);
		cr_assert_eq(ftruncate(fd, (off_t)lengths[i]), 0);
		close(fd);
		struct outcome out = work_recover(what);
		if (out.refused) {
			cr_assert(out.sequence == sequence || out.sequence == sequence + 1, "%s: %s",
				  what, out.message);
			continue;
		}
		size_t used = strlen(accepted);
		snprintf(accepted + used, sizeof(accepted) - used,
			 "\n  cut to %" PRIu64 " bytes: %" PRIu64 " of %" PRIu64 " records kept (%s)",
			 lengths[i], out.k, p.count, out.message);
	}
	cr_assert_eq(accepted[0], '\0', "a cut-short segment was accepted:%s", accepted);
}

/* Applies the pristine record at `lsn` through the store, as it was first applied. */
static void record_reapply(struct wal_store *store, uint64_t lsn)
{
	const struct record_info *r = record_at(lsn);
	struct command command;
	cr_assert_eq(command_decode(r->payload, r->payload_size, &command), STATUS_OK);
	uint64_t logged = 0;
	store_step(store, &command, r->timestamp_ms, NULL, &logged);
	cr_assert_eq(logged, lsn, "the same command gets the same LSN");
}

/*
 * After a cut the log goes on. The first record of the last flush is damaged, so
 * the intact record after it is cut too; the store then logs the very same first
 * record again. Had the cut bytes not been zeroed, the stale record after it would
 * carry the next LSN and resurface at the next recovery.
 */
Test(tail, after_a_cut_the_log_appends_and_nothing_stale_resurfaces)
{
	uint64_t n = p.count;
	work_restore();
	work_xor(record_at(n - 1)->sequence, record_at(n - 1)->offset + 30, 0x04);
	struct wal_store_config config = walfx_config(p.work);
	struct wal_store *store;
	cr_assert_eq(wal_store_open(&store, &config), 0, "%s", store->recovery.message);
	cr_assert(store->recovery.torn);
	cr_assert_eq(store->recovery.last_lsn, n - 2);
	cr_assert_eq(engine_digest(store->engine), p.digests[n - 2]);
	record_reapply(store, n - 1);
	cr_assert_eq(wal_store_sync(store), 0);
	cr_assert_eq(engine_digest(store->engine), p.digests[n - 1]);
	struct walfx_workload w;
	walfx_workload_init(&w, 99);
	w.now_ms = engine_now(store->engine);
	w.step = 5; /* the catalog exists */
	uint64_t lsn = 0, last = n - 1;
	for (uint32_t i = 0; i < 200; i++) {
		int64_t now;
		const struct command *c = walfx_next(&w, &now);
		store_step(store, c, now, &w, &lsn);
		last = lsn != 0 ? lsn : last;
		if (i % 10 == 9)
			cr_assert_eq(wal_store_sync(store), 0);
	}
	cr_assert_eq(wal_store_sync(store), 0);
	uint64_t digest = engine_digest(store->engine);
	wal_store_close(store);
	walfx_workload_finish(&w);
	cr_assert_gt(last, n, "new records were logged");

	cr_assert_eq(wal_store_open(&store, &config), 0, "%s", store->recovery.message);
	cr_assert_not(store->recovery.torn, "%s", store->recovery.message);
	cr_assert_eq(store->recovery.last_lsn, last);
	cr_assert_eq(store->recovery.records_replayed, last);
	cr_assert_eq(engine_digest(store->engine), digest);
	engine_check(store->engine);
	wal_store_close(store);
}
