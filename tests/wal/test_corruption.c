/*
 * test_corruption.c — the corruption matrix of FORMAT.md ("Reading, torn tails and
 * corruption"). A log of a few thousand records in many flushes over several
 * segments is written once through wal_store; every case copies it, damages the
 * copy, and recovers it with repair. Each case must end in exactly one of:
 *   a prefix:  success, and the engine equals one fed exactly the first K logged
 *              records, K = report.last_lsn;
 *   a refusal: -EUCLEAN, with a message naming the segment file and the offset.
 * Which one, and which K or offset, is then checked against the rule. The pristine
 * log, the work copy and the checks of an outcome are in corruptfx.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "bytes.h"
#include "corruptfx.h"
#include "files.h"
#include "record.h"
#include "recovery.h"

/* The damage near the end of the log: torn tails, cuts, and what comes after a cut. */
TestSuite(tail, .init = setup_tail, .fini = teardown, .timeout = 60);
/* The damage anywhere else: in the middle of the log, its headers and its files. */
TestSuite(corruption, .init = setup_segments, .fini = teardown, .timeout = 60);

Test(tail, the_pristine_log_recovers_whole_and_ends_in_a_flush_of_two)
{
	work_restore();
	struct outcome out = work_recover("pristine");
	expect_prefix(&out, pristine.count, "pristine");
	cr_assert_not(out.torn);
	uint64_t n = pristine.count;
	cr_assert_eq(record_at(n)->flush_lsn, n - 1);
	cr_assert_eq(record_at(n - 1)->flush_lsn, n - 1);
	cr_assert_lt(record_at(n - 2)->flush_lsn, n - 1);
	cr_assert_eq(record_at(n)->sequence, last_sequence());
	cr_assert_eq(record_at(n - 2)->sequence, last_sequence());
}

Test(tail, a_tail_zeroed_from_any_offset_in_the_last_two_records_is_cut_there)
{
	uint64_t n = pristine.count;
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
	uint64_t n = pristine.count;
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
	uint64_t n = pristine.count;
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
	work_zero(sequence, WAL_SEGMENT_HEADER_SIZE, pristine.files[pristine.started_count - 1].size);
	uint64_t first = pristine.count;
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
	uint64_t n = pristine.count;
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
	uint64_t lsn = pristine.count - 2;
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
	uint64_t lsn_max = flush_first(pristine.count) - 2;
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
		{ 0, 1, 'X', "wrong magic" },	      { 8, 4, 3, "version 3" },
		{ 12, 4, 1, "another shard" },	      { 16, 8, 77, "wrong segment number" },
		{ 24, 8, 5, "wrong first LSN" },      { 32, 8, 1 << 20, "wrong size" },
	};
	for (uint32_t s = 0; s + 1 < pristine.started_count; s++) {
		uint64_t sequence = pristine.files[s].sequence;
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
	uint64_t n = pristine.count;
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
	for (uint32_t s = 1; s + 1 < pristine.started_count; s++) {
		char what[96];
		snprintf(what, sizeof(what), "segment %" PRIu64 " removed", pristine.files[s].sequence);
		work_restore();
		work_remove(pristine.files[s].sequence);
		struct outcome out = work_recover(what);
		expect_refusal(&out, pristine.files[s + 1].sequence, 0, what);
	}
}

Test(corruption, a_missing_last_segment_before_its_spare_is_refused)
{
	/* The spare after the last segment is made only once that segment is in use: with
	 * the last one gone, the log must not seem to end a segment early. */
	work_restore();
	uint64_t spare = last_sequence() + 1;
	if (pristine.files_count == pristine.started_count) {
		char name[64];
		wal_segment_name(spare, name, sizeof(name));
		int fd = openat(pristine.work_fd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		cr_assert_geq(fd, 0);
		cr_assert_eq(ftruncate(fd, (off_t)pristine.files[0].size), 0);
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
	work_remove(pristine.files[0].sequence);
	struct engine *engine = NULL;
	struct wal_position position;
	struct wal_recovery report;
	int error = wal_recover(pristine.work_fd, &pristine.engine_config, true, &engine, &position,
				&report);
	cr_assert_eq(error, -EUCLEAN, "%s", report.message);
	cr_assert_null(engine);
	cr_assert(strstr(report.message, "not 1") != NULL, "%s", report.message);
}

Test(corruption, stray_bytes_after_the_data_refuse_mid_log_and_are_cut_at_the_end)
{
	/* In a middle segment, anything after its last record means lost records. */
	const struct record_info *r = record_at(1);
	uint64_t middle_end = 0;
	for (uint64_t lsn = 1; lsn <= pristine.count && record_at(lsn)->sequence == r->sequence; lsn++)
		middle_end = record_at(lsn)->offset + record_at(lsn)->size;
	work_restore();
	work_xor(r->sequence, pristine.files[0].size - 1, 0x01);
	struct outcome out = work_recover("stray byte at the end of segment 1");
	expect_refusal(&out, r->sequence, middle_end, "stray byte at the end of segment 1");
	/* In the last segment, a stray byte past the last record holds no records: cut. */
	uint64_t sequence = last_sequence();
	work_restore();
	work_xor(sequence, pristine.files[pristine.started_count - 1].size - 1, 0x01);
	out = work_recover("stray byte at the end of the last segment");
	expect_prefix(&out, pristine.count, "stray byte at the end of the last segment");
	cr_assert(out.torn);
	uint8_t byte = 0xff;
	work_io(sequence, pristine.files[pristine.started_count - 1].size - 1, &byte, 1, false);
	cr_assert_eq(byte, 0, "the stray byte was zeroed");
}

/*
 * A segment whose 64-byte header reads as zeros while records follow it is not a
 * spare: spares are all zeros. In the middle of the log it is corruption like any
 * other bad header; the later segments must be neither skipped nor removed.
 */
Test(corruption, a_zeroed_header_in_a_middle_segment_is_refused)
{
	for (uint32_t s = 0; s + 1 < pristine.started_count; s++) {
		uint64_t sequence = pristine.files[s].sequence;
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
	const char *cases[] = { "version 3", "magic flipped", "header zeroed" };
	for (uint32_t i = 0; i < ARRAY_COUNT(cases); i++) {
		work_restore();
		if (i == 0)
			header_edit(sequence, 8, 4, 3);
		else if (i == 1)
			work_xor(sequence, 3, 0x01);
		else
			work_zero(sequence, 0, WAL_SEGMENT_HEADER_SIZE);
		struct outcome out = work_recover(cases[i]);
		cr_assert(out.refused, "%s: accepted %" PRIu64 " of %" PRIu64 " records: %s",
			  cases[i], out.k, pristine.count, out.message);
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
/* The last segment's first flush: its first LSN, its last, and where it ends. */
static void last_segment_first_flush(uint64_t *first, uint64_t *last, uint64_t *flush_end)
{
	uint64_t sequence = last_sequence();
	*first = pristine.count;
	while (*first > 1 && record_at(*first - 1)->sequence == sequence)
		(*first)--;
	*last = *first;
	while (*last < pristine.count && record_at(*last + 1)->flush_lsn == *first)
		(*last)++;
	*flush_end = record_at(*last)->offset + record_at(*last)->size;
}

/*
 * The last segment's first flush wrote its header too. A power loss that kept that
 * flush's later pages but not the header's leaves a segment that looks unstarted
 * yet holds records: the torn tail of the last flush when no later flush follows
 * it, corruption when one does.
 */
Test(corruption, a_lost_header_page_is_a_torn_tail_only_in_the_segments_only_flush)
{
	uint64_t sequence = last_sequence();
	uint64_t first, last, flush_end;
	last_segment_first_flush(&first, &last, &flush_end);
	cr_assert_gt(flush_end, WAL_PAGE_BYTES, "the segment's first flush fits in its first page");
	cr_assert_lt(last, pristine.count, "the segment holds only its first flush");
	uint64_t size = pristine.files[pristine.started_count - 1].size;

	work_restore();
	work_zero(sequence, flush_end, size); /* as if the later flushes never came */
	work_zero(sequence, 0, WAL_PAGE_BYTES);
	struct outcome out = work_recover("header page of the only flush lost");
	expect_prefix(&out, first - 1, "header page of the only flush lost");
	cr_assert(out.torn, "%s", out.message);

	work_restore();
	work_zero(sequence, 0, WAL_PAGE_BYTES);
	out = work_recover("header page lost under later flushes");
	cr_assert(out.refused, "later flushes were synced after it: %s", out.message);
	cr_assert_eq(out.sequence, sequence, "%s", out.message);
}

/*
 * A whole header (its checksum right) of another format version on the last
 * segment is not a torn write: it was written whole, by another version. Cutting
 * it as a torn tail would delete the records after it, so it is refused, also when
 * the segment holds only its first flush.
 */
Test(corruption, a_whole_header_of_another_version_is_refused_not_cut_as_torn)
{
	uint64_t sequence = last_sequence();
	uint64_t first, last, flush_end;
	last_segment_first_flush(&first, &last, &flush_end);
	uint64_t size = pristine.files[pristine.started_count - 1].size;
	work_restore();
	work_zero(sequence, flush_end, size); /* the segment's first flush only */
	header_edit(sequence, 8, 4, 3);
	struct outcome out = work_recover("a whole header of version 3");
	cr_assert(out.refused, "accepted %" PRIu64 " of %" PRIu64 " records: %s", out.k,
		  pristine.count, out.message);
	cr_assert_eq(out.sequence, sequence, "%s", out.message);
	cr_assert_eq(out.offset, 0, "%s", out.message);
	cr_assert(strstr(out.message, "not of this format") != NULL, "%s", out.message);
}

Test(corruption, a_last_segment_cut_short_is_refused_at_any_length)
{
	uint64_t sequence = last_sequence();
	cr_assert_gt(pristine.files_count, pristine.started_count, "a spare follows the last segment");
	uint64_t first = pristine.count;
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
				     record_at(pristine.count)->offset };
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
			 lengths[i], out.k, pristine.count, out.message);
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
	uint64_t n = pristine.count;
	work_restore();
	work_xor(record_at(n - 1)->sequence, record_at(n - 1)->offset + 30, 0x04);
	struct wal_store_config config = walfx_config(pristine.work);
	struct wal_store *store;
	cr_assert_eq(wal_store_open(&store, &config), 0, "%s", store->recovery.message);
	cr_assert(store->recovery.torn);
	cr_assert_eq(store->recovery.last_lsn, n - 2);
	cr_assert_eq(engine_digest(store->engine), pristine.digests[n - 2]);
	record_reapply(store, n - 1);
	cr_assert_eq(wal_store_sync(store), 0);
	cr_assert_eq(engine_digest(store->engine), pristine.digests[n - 1]);
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
