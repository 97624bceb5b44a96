/*
 * test_snapshot_files.c — snapshot files (FORMAT.md "Snapshots"): written under a
 * temporary name and renamed, read back whole or refused as damaged; recovery
 * falls back to the older of the two kept snapshots when the newer is damaged, and
 * refuses when neither can serve and the log no longer starts at LSN 1; wal_retire
 * keeps two snapshots and the segments the older one still needs.
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

#include "files.h"
#include "record.h"
#include "recovery.h"
#include "snapshot.h"
#include "walfx.h"

TestSuite(snapshot_files, .init = walfx_dir_setup, .fini = walfx_dir_teardown, .timeout = 60);
TestSuite(snapshot_recovery, .init = walfx_dir_setup, .fini = walfx_dir_teardown, .timeout = 60);
TestSuite(retire, .init = walfx_dir_setup, .fini = walfx_dir_teardown, .timeout = 60);

/* Runs `steps` of the seeded workload through a store, with a 2 kB event put every
 * fifth step so that segments fill quickly; syncs every ten steps. */
static void store_run(struct wal_store *store, struct walfx_workload *w, uint32_t steps)
{
	static char text[DESCRIPTION_SIZE_MAX];
	memset(text, 'y', sizeof(text));
	for (uint32_t i = 0; i < steps; i++) {
		int64_t now;
		const struct command *c = walfx_next(w, &now);
		struct command big;
		if (w->step > 5 && i % 5 == 4) {
			big = (struct command){ .type = COMMAND_EVENT_PUT };
			big.event_put = (struct command_event_put){
				.event_id = 100 + w->step, .location_id = 1,
				.title = text_from_cstr("Big"),
				.description = text_from(text, sizeof(text)) };
			c = &big;
		}
		struct engine_result result;
		uint64_t lsn;
		int error = wal_store_apply(store, c, now, &result, &lsn);
		if (error == -EAGAIN) {
			cr_assert_eq(wal_store_sync(store), 0);
			error = wal_store_apply(store, c, now, &result, &lsn);
		}
		cr_assert_eq(error, 0);
		walfx_observe(w, c, &result, store->engine);
		if (i % 10 == 9)
			cr_assert_eq(wal_store_sync(store), 0);
	}
	cr_assert_eq(wal_store_sync(store), 0);
}

static struct wal_listing *listing_read(int fd)
{
	struct wal_listing *listing = malloc(sizeof(*listing));
	cr_assert_eq(wal_list(fd, listing), 0);
	return listing;
}

static bool file_exists(int fd, const char *name)
{
	return faccessat(fd, name, F_OK, 0) == 0;
}

/* A small engine with some state, and its image. */
static struct engine *engine_made(uint32_t steps, struct engine_image *image)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/source", walfx_dir_path);
	struct wal_store_config config = walfx_config(path);
	struct wal_store *store;
	cr_assert_eq(wal_store_open(&store, &config), 0);
	struct walfx_workload w;
	walfx_workload_init(&w, 3);
	store_run(store, &w, steps);
	walfx_workload_finish(&w);
	struct engine *engine = store->engine;
	store->engine = NULL;
	wal_store_close(store);
	walfx_dir_remove(path);
	*image = (struct engine_image){ 0 };
	engine_snapshot_encode(engine, image);
	return engine;
}

Test(snapshot_files, a_written_snapshot_is_renamed_into_place_and_reads_back_whole)
{
	struct engine_image image;
	struct engine *engine = engine_made(500, &image);
	/* A temporary left by a write that crashed is replaced, not read. */
	char temporary[64], final[64];
	wal_snapshot_name(42, true, temporary, sizeof(temporary));
	wal_snapshot_name(42, false, final, sizeof(final));
	cr_assert_str_eq(final, "snapshot-000000000000002a.snap");
	cr_assert_str_eq(temporary, "snapshot-000000000000002a.snap.tmp");
	int fd = openat(walfx_dir_fd, temporary, O_WRONLY | O_CREAT, 0644);
	cr_assert_eq(write(fd, "junk", 4), 4);
	close(fd);

	cr_assert_eq(wal_snapshot_write(walfx_dir_fd, 0, 42, &image), 0);
	cr_assert(file_exists(walfx_dir_fd, final));
	cr_assert_not(file_exists(walfx_dir_fd, temporary), "no temporary is left behind");
	struct wal_listing *listing = listing_read(walfx_dir_fd);
	cr_assert_eq(listing->snapshots_count, 1);
	cr_assert_eq(listing->snapshots[0], 42);
	cr_assert_eq(listing->temporaries_count, 0);
	free(listing);

	uint8_t *bytes = NULL;
	size_t size = 0;
	cr_assert_eq(wal_snapshot_read(walfx_dir_fd, 0, 42, &bytes, &size), 0);
	cr_assert_eq(size, image.size);
	cr_assert_eq(memcmp(bytes, image.bytes, size), 0);
	enum status status;
	struct engine_config config = *engine_config_get(engine);
	struct engine *restored = engine_snapshot_decode(bytes, size, &config, &status);
	cr_assert_not_null(restored);
	cr_assert_eq(engine_digest(restored), engine_digest(engine));
	engine_destroy(restored);
	free(bytes);

	/* The file is exactly the documented header and the image. */
	uint8_t *file = NULL;
	size_t file_size = 0;
	cr_assert_eq(wal_file_read(walfx_dir_fd, final, &file, &file_size), 0);
	cr_assert_eq(file_size, WAL_SNAPSHOT_HEADER_SIZE + image.size);
	struct wal_snapshot_header header;
	cr_assert(wal_snapshot_header_decode(file, &header));
	cr_assert_eq(header.lsn, 42);
	cr_assert_eq(header.image_size, image.size);
	cr_assert_eq(memcmp(file + WAL_SNAPSHOT_HEADER_SIZE, image.bytes, image.size), 0);
	free(file);
	engine_image_finish(&image);
	engine_destroy(engine);
}

static int snapshot_read_status(uint32_t shard_index, uint64_t lsn)
{
	uint8_t *bytes = NULL;
	size_t size = 0;
	int error = wal_snapshot_read(walfx_dir_fd, shard_index, lsn, &bytes, &size);
	free(bytes);
	return error;
}

/* Replaces the snapshot file at `lsn` with `bytes`. */
static void snapshot_file_put(uint64_t lsn, const uint8_t *bytes, size_t size)
{
	char name[64];
	wal_snapshot_name(lsn, false, name, sizeof(name));
	int fd = openat(walfx_dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(wal_pwrite_all(fd, bytes, size, 0), 0);
	close(fd);
}

Test(snapshot_files, a_damaged_snapshot_is_refused_as_unclean)
{
	struct engine_image image;
	struct engine *engine = engine_made(300, &image);
	cr_assert_eq(wal_snapshot_write(walfx_dir_fd, 0, 7, &image), 0);
	char name[64];
	wal_snapshot_name(7, false, name, sizeof(name));
	uint8_t *file = NULL;
	size_t size = 0;
	cr_assert_eq(wal_file_read(walfx_dir_fd, name, &file, &size), 0);
	/* Every header byte, and image bytes spread over the whole image. */
	size_t stride = size / 997 + 1;
	for (size_t i = 0; i < size; i += i < WAL_SNAPSHOT_HEADER_SIZE ? 1 : stride) {
		file[i] ^= 0x20;
		snapshot_file_put(7, file, size);
		cr_assert_eq(snapshot_read_status(0, 7), -EUCLEAN, "byte %zu of %zu flipped", i,
			     size);
		file[i] ^= 0x20;
	}
	const size_t cuts[] = { 0, 1, WAL_SNAPSHOT_HEADER_SIZE - 1, WAL_SNAPSHOT_HEADER_SIZE,
				size - 1 };
	for (size_t i = 0; i < ARRAY_COUNT(cuts); i++) {
		snapshot_file_put(7, file, cuts[i]);
		cr_assert_eq(snapshot_read_status(0, 7), -EUCLEAN, "cut to %zu bytes", cuts[i]);
	}
	uint8_t *longer = malloc(size + 1);
	memcpy(longer, file, size);
	longer[size] = 0;
	snapshot_file_put(7, longer, size + 1);
	cr_assert_eq(snapshot_read_status(0, 7), -EUCLEAN, "a byte appended");
	free(longer);
	snapshot_file_put(7, file, size);
	cr_assert_eq(snapshot_read_status(0, 7), 0);
	cr_assert_eq(snapshot_read_status(1, 7), -EUCLEAN, "another shard's snapshot");
	/* Renamed to another LSN, its header no longer agrees with its name. */
	char other[64];
	wal_snapshot_name(8, false, other, sizeof(other));
	cr_assert_eq(renameat(walfx_dir_fd, name, walfx_dir_fd, other), 0);
	cr_assert_eq(snapshot_read_status(0, 8), -EUCLEAN);
	cr_assert_eq(snapshot_read_status(0, 7), -ENOENT);
	free(file);
	engine_image_finish(&image);
	engine_destroy(engine);
}

/* A log of several segments with snapshots taken at three points along it. */
struct snapshotted {
	uint64_t snapshots[3]; /* LSNs, oldest first */
	uint64_t last_lsn;
	uint64_t digest;
};

static void snapshotted_write(struct snapshotted *s)
{
	struct wal_store_config config = walfx_config(walfx_dir_path);
	struct wal_store *store;
	cr_assert_eq(wal_store_open(&store, &config), 0);
	struct walfx_workload w;
	walfx_workload_init(&w, 17);
	for (uint32_t i = 0; i < 3; i++) {
		store_run(store, &w, 1000);
		cr_assert_eq(wal_store_snapshot(store), 0);
		s->snapshots[i] = wal_writer_durable_lsn(store->writer);
	}
	store_run(store, &w, 300);
	s->last_lsn = wal_writer_durable_lsn(store->writer);
	s->digest = engine_digest(store->engine);
	wal_store_close(store);
	walfx_workload_finish(&w);
}

static void snapshot_damage(uint64_t lsn, size_t offset)
{
	char name[64];
	wal_snapshot_name(lsn, false, name, sizeof(name));
	int fd = openat(walfx_dir_fd, name, O_RDWR);
	cr_assert_geq(fd, 0);
	uint8_t byte;
	cr_assert_eq(pread(fd, &byte, 1, (off_t)offset), 1);
	byte ^= 0x01;
	cr_assert_eq(pwrite(fd, &byte, 1, (off_t)offset), 1);
	close(fd);
}

static int recover(struct engine **engine, struct wal_recovery *report)
{
	struct engine_config config = walfx_config(walfx_dir_path).engine;
	struct wal_position position;
	return wal_recover(walfx_dir_fd, &config, true, engine, &position, report);
}

Test(snapshot_recovery, the_two_newest_are_kept_and_the_segments_before_the_older_retired)
{
	struct snapshotted s;
	snapshotted_write(&s);
	struct wal_listing *listing = listing_read(walfx_dir_fd);
	cr_assert_eq(listing->snapshots_count, 2);
	cr_assert_eq(listing->snapshots[0], s.snapshots[1]);
	cr_assert_eq(listing->snapshots[1], s.snapshots[2]);
	cr_assert_gt(listing->segments[0], 1, "the first segment was retired");
	free(listing);
	struct engine *engine;
	struct wal_recovery report;
	cr_assert_eq(recover(&engine, &report), 0, "%s", report.message);
	cr_assert_eq(report.snapshot_lsn, s.snapshots[2]);
	cr_assert_not(report.snapshot_fallback);
	cr_assert_eq(report.records_replayed, s.last_lsn - s.snapshots[2]);
	cr_assert_eq(engine_digest(engine), s.digest);
	engine_destroy(engine);
}

Test(snapshot_recovery, a_damaged_newest_snapshot_falls_back_to_the_older_one)
{
	struct snapshotted s;
	snapshotted_write(&s);
	const size_t offsets[] = { 3, WAL_SNAPSHOT_HEADER_SIZE + 100 };
	for (uint32_t i = 0; i < ARRAY_COUNT(offsets); i++) {
		snapshot_damage(s.snapshots[2], offsets[i]);
		struct engine *engine;
		struct wal_recovery report;
		cr_assert_eq(recover(&engine, &report), 0, "%s", report.message);
		cr_assert(report.snapshot_fallback);
		cr_assert_eq(report.snapshot_lsn, s.snapshots[1]);
		cr_assert_eq(report.records_replayed, s.last_lsn - s.snapshots[1]);
		cr_assert_eq(report.last_lsn, s.last_lsn);
		cr_assert_eq(engine_digest(engine), s.digest);
		engine_check(engine);
		engine_destroy(engine);
		snapshot_damage(s.snapshots[2], offsets[i]);
	}
}

Test(snapshot_recovery, a_damaged_older_snapshot_does_not_matter_while_the_newest_is_whole)
{
	struct snapshotted s;
	snapshotted_write(&s);
	snapshot_damage(s.snapshots[1], WAL_SNAPSHOT_HEADER_SIZE + 10);
	struct engine *engine;
	struct wal_recovery report;
	cr_assert_eq(recover(&engine, &report), 0, "%s", report.message);
	cr_assert_not(report.snapshot_fallback);
	cr_assert_eq(report.snapshot_lsn, s.snapshots[2]);
	cr_assert_eq(engine_digest(engine), s.digest);
	engine_destroy(engine);
}

Test(snapshot_recovery, both_snapshots_damaged_after_retirement_is_refused_with_a_reason)
{
	struct snapshotted s;
	snapshotted_write(&s);
	snapshot_damage(s.snapshots[1], WAL_SNAPSHOT_HEADER_SIZE + 10);
	snapshot_damage(s.snapshots[2], 20);
	struct engine *engine = NULL;
	struct wal_recovery report;
	cr_assert_eq(recover(&engine, &report), -EUCLEAN);
	cr_assert_null(engine);
	cr_assert(strstr(report.message, "snapshot") != NULL, "%s", report.message);
	cr_assert(strstr(report.message, "not 1") != NULL, "%s", report.message);
	/* Nothing was removed: an operator can still repair the snapshots. */
	struct wal_listing *listing = listing_read(walfx_dir_fd);
	cr_assert_eq(listing->snapshots_count, 2);
	free(listing);
}

Test(snapshot_recovery, both_snapshots_damaged_with_the_whole_log_kept_replays_from_the_start)
{
	/* Two snapshots only: nothing is retired until there are two. */
	struct wal_store_config config = walfx_config(walfx_dir_path);
	struct wal_store *store;
	cr_assert_eq(wal_store_open(&store, &config), 0);
	struct walfx_workload w;
	walfx_workload_init(&w, 23);
	uint64_t lsns[2];
	for (uint32_t i = 0; i < 2; i++) {
		store_run(store, &w, 800);
		cr_assert_eq(wal_store_snapshot(store), 0);
		lsns[i] = wal_writer_durable_lsn(store->writer);
	}
	store_run(store, &w, 200);
	uint64_t last = wal_writer_durable_lsn(store->writer);
	uint64_t digest = engine_digest(store->engine);
	wal_store_close(store);
	walfx_workload_finish(&w);
	struct wal_listing *listing = listing_read(walfx_dir_fd);
	cr_assert_eq(listing->segments[0], 1, "the first snapshot retires nothing");
	free(listing);
	snapshot_damage(lsns[0], 5);
	snapshot_damage(lsns[1], WAL_SNAPSHOT_HEADER_SIZE);
	struct engine *engine;
	struct wal_recovery report;
	cr_assert_eq(recover(&engine, &report), 0, "%s", report.message);
	cr_assert_eq(report.snapshot_lsn, 0);
	cr_assert(report.snapshot_fallback, "replay from LSN 1 says the snapshots were unusable");
	cr_assert_eq(report.records_replayed, last);
	cr_assert_eq(engine_digest(engine), digest);
	engine_destroy(engine);
}

/* wal_retire on a hand-made set of snapshots over a log of several segments. */

struct segment_set {
	uint32_t count;
	uint64_t sequences[16];
	uint64_t first_lsns[16]; /* 0 for a spare */
	uint8_t *bytes[16];
	size_t sizes[16];
};

static void segment_set_read(struct segment_set *set)
{
	struct wal_listing *listing = listing_read(walfx_dir_fd);
	cr_assert_leq(listing->segments_count, 16);
	set->count = listing->segments_count;
	for (uint32_t i = 0; i < set->count; i++) {
		char name[64];
		set->sequences[i] = listing->segments[i];
		wal_segment_name(set->sequences[i], name, sizeof(name));
		cr_assert_eq(wal_file_read(walfx_dir_fd, name, &set->bytes[i], &set->sizes[i]), 0);
		struct wal_segment_header header;
		enum wal_header_status status = wal_segment_header_decode(set->bytes[i], &header);
		set->first_lsns[i] = status == WAL_HEADER_OK ? header.first_lsn : 0;
	}
	free(listing);
}

/* Puts the log back as it was and replaces all snapshots by fakes at `lsns`. */
static void retire_case(const struct segment_set *set, const uint64_t *lsns, uint32_t count)
{
	struct wal_listing *listing = listing_read(walfx_dir_fd);
	char name[64];
	for (uint32_t i = 0; i < listing->snapshots_count; i++) {
		wal_snapshot_name(listing->snapshots[i], false, name, sizeof(name));
		cr_assert_eq(unlinkat(walfx_dir_fd, name, 0), 0);
	}
	free(listing);
	for (uint32_t i = 0; i < set->count; i++) {
		wal_segment_name(set->sequences[i], name, sizeof(name));
		int fd = openat(walfx_dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		cr_assert_eq(wal_pwrite_all(fd, set->bytes[i], set->sizes[i], 0), 0);
		close(fd);
	}
	/* wal_retire goes by names and segment headers; the image is never read. */
	uint8_t junk[16] = { 1 };
	struct engine_image image = { .bytes = junk, .size = sizeof(junk) };
	for (uint32_t i = 0; i < count; i++)
		cr_assert_eq(wal_snapshot_write(walfx_dir_fd, 0, lsns[i], &image), 0);
	cr_assert_eq(wal_retire(walfx_dir_fd, WAL_SNAPSHOTS_KEPT), 0);
}

/* The segments left after retire_case, as the index in set of the first one. */
static uint32_t retire_kept_from(const struct segment_set *set, const uint64_t *snapshots,
				 uint32_t snapshots_count)
{
	struct wal_listing *listing = listing_read(walfx_dir_fd);
	cr_assert_eq(listing->snapshots_count, snapshots_count);
	for (uint32_t i = 0; i < snapshots_count; i++)
		cr_assert_eq(listing->snapshots[i], snapshots[i]);
	uint32_t removed = set->count - listing->segments_count;
	for (uint32_t i = 0; i < listing->segments_count; i++)
		cr_assert_eq(listing->segments[i], set->sequences[removed + i],
			     "only the oldest segments are removed");
	free(listing);
	return removed;
}

Test(retire, keeps_two_snapshots_and_the_segments_the_older_one_needs)
{
	struct wal_store_config config = walfx_config(walfx_dir_path);
	struct wal_store *store;
	cr_assert_eq(wal_store_open(&store, &config), 0);
	struct walfx_workload w;
	walfx_workload_init(&w, 31);
	store_run(store, &w, 4000);
	uint64_t last = wal_writer_durable_lsn(store->writer);
	wal_store_close(store);
	walfx_workload_finish(&w);
	struct segment_set set;
	segment_set_read(&set);
	cr_assert_geq(set.count, 4, "at least three started segments and a spare");
	uint32_t started = 0;
	while (started < set.count && set.first_lsns[started] != 0)
		started++;
	cr_assert_geq(started, 3);
	uint64_t f2 = set.first_lsns[1], f3 = set.first_lsns[2];

	/* One snapshot: everything stays, so that a damaged one can be replayed around. */
	uint64_t one[] = { last };
	retire_case(&set, one, 1);
	cr_assert_eq(retire_kept_from(&set, one, 1), 0);

	/* The older kept snapshot holds all of segments 1 and 2: both go. */
	uint64_t exact[] = { f3 - 1, last };
	retire_case(&set, exact, 2);
	cr_assert_eq(retire_kept_from(&set, exact, 2), 2);

	/* One record of segment 2 is after it: segment 2 stays. */
	uint64_t short_by_one[] = { f3 - 2, last };
	retire_case(&set, short_by_one, 2);
	cr_assert_eq(retire_kept_from(&set, short_by_one, 2), 1);

	/* Three snapshots: the oldest goes, and it is the middle one that counts. */
	uint64_t three[] = { 5, f2 - 1, last };
	retire_case(&set, three, 3);
	cr_assert_eq(retire_kept_from(&set, three + 1, 2), 1);

	/* Snapshots past every record: the newest started segment is never removed. */
	uint64_t beyond[] = { last, last };
	beyond[0] = last - 1;
	retire_case(&set, beyond, 2);
	cr_assert_eq(retire_kept_from(&set, beyond, 2), started - 1);

	for (uint32_t i = 0; i < set.count; i++)
		free(set.bytes[i]);
}

Test(snapshot_recovery, a_whole_snapshot_of_another_shard_count_is_refused_not_skipped)
{
	struct snapshotted s;
	snapshotted_write(&s);
	/* As a start with another shard count would: the log of shard 0 of 1, read as 0 of 2. */
	struct engine_config config = walfx_config(walfx_dir_path).engine;
	config.shard_count = 2;
	struct engine *engine = NULL;
	struct wal_position position;
	struct wal_recovery report;
	cr_assert_eq(wal_recover(walfx_dir_fd, &config, true, &engine, &position, &report),
		     -EINVAL);
	cr_assert_null(engine);
	cr_assert(strstr(report.message, "another shard count") != NULL, "%s", report.message);
	/* Nothing was changed: read as it was written, it recovers whole. */
	cr_assert_eq(recover(&engine, &report), 0, "%s", report.message);
	cr_assert_eq(report.snapshot_lsn, s.snapshots[2]);
	cr_assert_eq(engine_digest(engine), s.digest);
	engine_destroy(engine);
}
