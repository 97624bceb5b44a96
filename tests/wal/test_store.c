/*
 * test_store.c — SPEC §8 through the synchronous store: what was synced survives a
 * close and reopen bit for bit (the digest), with and without snapshots;
 * snapshot + replay equals full replay; old segments and snapshots are retired;
 * a directory another store has open is refused; wal_dir_open creates directories
 * (syncing their parent) from any spelling of their path.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "files.h"
#include "record.h"
#include "walfx.h"

static char dir[256];

static void setup(void)
{
	walfx_dir(dir, sizeof(dir));
}

static void teardown(void)
{
	walfx_dir_remove(dir);
}

TestSuite(store, .init = setup, .fini = teardown);

static struct wal_store *open_store(const char *path)
{
	struct wal_store_config config = walfx_config(path);
	struct wal_store *store;
	int error = wal_store_open(&store, &config);
	cr_assert_eq(error, 0, "open %s: %d %s", path, error, store->recovery.message);
	return store;
}

/* Runs `steps` commands of the seeded workload; snapshots every `every` (0: never). */
static void run(struct wal_store *store, struct walfx_workload *w, uint32_t steps, uint32_t every)
{
	for (uint32_t i = 0; i < steps; i++) {
		int64_t now;
		const struct command *c = walfx_next(w, &now);
		struct engine_result result;
		uint64_t lsn;
		int error = wal_store_apply(store, c, now, &result, &lsn);
		if (error == -EAGAIN) {
			cr_assert_eq(wal_store_sync(store), 0);
			error = wal_store_apply(store, c, now, &result, &lsn);
		}
		cr_assert_eq(error, 0, "step %u: %d", i, error);
		walfx_observe(w, c, &result, store->engine);
		if (i % 97 == 0)
			cr_assert_eq(wal_store_sync(store), 0);
		if (every && i % every == every - 1)
			cr_assert_eq(wal_store_snapshot(store), 0);
	}
	cr_assert_eq(wal_store_sync(store), 0);
}

/*
 * A segment that cannot be filled (the disk is full) is not left behind holding
 * the space. The child process's file size limit stands in for a full disk.
 */
Test(store, a_file_that_cannot_be_prepared_is_removed)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit limit = { .rlim_cur = 1 << 20, .rlim_max = 1 << 20 };
		setrlimit(RLIMIT_FSIZE, &limit);
		int dir_fd = wal_dir_open(dir, false);
		int error = wal_file_prepare(dir_fd, "segment-00000001.wal", 4u << 20);
		_exit(error == -EFBIG ? 0 : 1);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "preparing past the file size limit did not fail with EFBIG");
	char path[512];
	snprintf(path, sizeof(path), "%s/segment-00000001.wal", dir);
	cr_assert_neq(access(path, F_OK), 0, "the half-prepared file was left behind");
}

Test(store, synced_changes_survive_a_reopen)
{
	struct wal_store *store = open_store(dir);
	cr_assert_eq(store->recovery.records_replayed, 0);
	struct walfx_workload w;
	walfx_workload_init(&w, 11);
	run(store, &w, 20000, 0);
	uint64_t digest = engine_digest(store->engine);
	uint64_t last = wal_writer_durable_lsn(store->writer);
	cr_assert_gt(last, 1000);
	wal_store_close(store);
	store = open_store(dir);
	cr_assert_eq(engine_digest(store->engine), digest);
	cr_assert_eq(store->recovery.records_replayed, last);
	cr_assert_eq(store->recovery.last_lsn, last);
	cr_assert_not(store->recovery.torn);
	engine_check(store->engine);
	/* And it goes on from there. */
	run(store, &w, 2000, 0);
	digest = engine_digest(store->engine);
	wal_store_close(store);
	store = open_store(dir);
	cr_assert_eq(engine_digest(store->engine), digest);
	wal_store_close(store);
	walfx_workload_finish(&w);
}

Test(store, wal_dir_open_creates_a_directory_however_its_path_is_spelled)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/new//", dir);
	int fd = wal_dir_open(path, true);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(-fd));
	close(fd);
	snprintf(path, sizeof(path), "%s/new/inner", dir);
	fd = wal_dir_open(path, true);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(-fd));
	close(fd);
	char here[512];
	cr_assert_not_null(getcwd(here, sizeof(here)));
	cr_assert_eq(chdir(dir), 0);
	fd = wal_dir_open("relative", true);
	int back = chdir(here);
	cr_assert_geq(fd, 0, "relative: %s", strerror(-fd));
	cr_assert_eq(back, 0);
	/* Asking to create one that exists opens it. */
	int again = wal_dir_open(path, true);
	cr_assert_geq(again, 0);
	/* The lock belongs to an open directory: a second open of it cannot take it. */
	cr_assert_eq(wal_dir_lock(fd), 0);
	snprintf(path, sizeof(path), "%s/relative", dir);
	int other = wal_dir_open(path, false);
	cr_assert_geq(other, 0);
	cr_assert_eq(wal_dir_lock(other), -EBUSY);
	close(fd);
	cr_assert_eq(wal_dir_lock(other), 0);
	close(other);
	close(again);
	/* A missing parent is an error, not created on the way. */
	snprintf(path, sizeof(path), "%s/missing/child", dir);
	cr_assert_eq(wal_dir_open(path, true), -ENOENT);
}

/*
 * Dirty pages of the shard's segment files, summed (cachestat, Linux 6.5): -1 when
 * the kernel does not have it.
 */
static int64_t segments_dirty_pages(void)
{
	struct { uint64_t offset, length; } range = { 0, 0 }; /* length 0: to the end */
	struct { uint64_t cache, dirty, writeback, evicted, recently_evicted; } stat;
	int64_t dirty = 0;
	for (uint32_t sequence = 1; sequence < 16; sequence++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/segment-%08u.wal", dir, sequence);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		long rc = syscall(451 /* cachestat */, fd, &range, &stat, 0);
		close(fd);
		if (rc != 0)
			return -1;
		dirty += (int64_t)stat.dirty;
	}
	return dirty;
}

Test(store, recovery_makes_a_last_flush_whose_sync_failed_durable)
{
	struct wal_io_fault fault;
	struct wal_io_sync unused;
	wal_io_sync_init(&unused);
	wal_io_fault_init(&fault, &unused, WAL_FAULT_ERROR, true, -EIO, UINT32_MAX);
	struct wal_store_config config = walfx_config(dir);
	config.fault = &fault;
	struct wal_store *store;
	cr_assert_eq(wal_store_open(&store, &config), 0);
	struct walfx_workload w;
	walfx_workload_init(&w, 17);
	run(store, &w, 300, 0);
	if (segments_dirty_pages() < 0)
		cr_skip_test("this kernel has no cachestat to see dirty pages with");
	cr_assert_eq(segments_dirty_pages(), 0, "everything synced is clean");
	/* The next flush is written but its fdatasync fails: its pages stay dirty, the
	 * records only in the page cache, as when a server dies before its sync. */
	uint64_t synced = wal_writer_durable_lsn(store->writer);
	uint64_t lsn = 0;
	while (lsn == 0) { /* until a command logs a record (failed ones log none) */
		int64_t now;
		const struct command *c = walfx_next(&w, &now);
		struct engine_result result;
		cr_assert_eq(wal_store_apply(store, c, now, &result, &lsn), 0);
		walfx_observe(&w, c, &result, store->engine);
	}
	fault.fail_at = fault.syncs + 1;
	int synced_rc = wal_store_sync(store);
	cr_assert_eq(synced_rc, -EIO, "sync: %d (syncs %u, fail at %u)", synced_rc, fault.syncs, fault.fail_at);
	cr_assert_eq(wal_writer_durable_lsn(store->writer), synced);
	wal_store_close(store);
	cr_assert_gt(segments_dirty_pages(), 0, "the failed flush left dirty pages");
	/* Recovery replays that record from the page cache, so it must put it on disk
	 * before anything counts it as durable. */
	config.fault = NULL;
	cr_assert_eq(wal_store_open(&store, &config), 0, "%s", store->recovery.message);
	cr_assert_eq(store->recovery.last_lsn, lsn);
	cr_assert_eq(wal_writer_durable_lsn(store->writer), lsn);
	cr_assert_eq(segments_dirty_pages(), 0, "recovery left the replayed flush unsynced");
	wal_store_close(store);
	walfx_workload_finish(&w);
}

/*
 * Reopening with other settings logs a CONFIGURE record. With the last segment too
 * full for it, the record needs the next segment, which a reopened log has not
 * prepared yet: the store must wait for it rather than fail (and fail again on every
 * start, since recovery removes a half-prepared spare).
 */
Test(store, a_reopen_with_new_settings_works_when_the_segment_is_full)
{
	struct wal_store_config config = walfx_config(dir);
	struct wal_store *store = open_store(dir);
	struct command tick = { .type = COMMAND_TICK };
	uint8_t payload[64];
	uint32_t size = (uint32_t)command_encode(&tick, payload, sizeof(payload));
	uint64_t record = wal_record_size(size);
	for (;;) {
		struct wal_position at;
		wal_writer_position(store->writer, &at);
		uint64_t room = config.segment_size - at.segment_offset;
		if (at.segment_sequence > 0 && room < record)
			break;
		/* Many at a time while there is room, then one by one to the very end. */
		uint64_t count = room / record > 64 ? room / record - 32 : 1;
		for (uint64_t i = 0; i < count; i++) {
			int64_t lsn = wal_writer_append(store->writer, engine_now(store->engine),
							payload, size);
			if (lsn == -EAGAIN) {
				cr_assert_eq(wal_store_sync(store), 0);
				i--;
				continue;
			}
			cr_assert_gt(lsn, 0, "append: %lld", (long long)lsn);
		}
		cr_assert_eq(wal_store_sync(store), 0);
		while (wal_writer_busy(store->writer))
			wal_io_sync_deliver(&store->io, wal_writer_complete_fn, store->writer);
	}
	uint64_t last = wal_writer_durable_lsn(store->writer);
	wal_store_close(store);
	for (uint32_t round = 0; round < 2; round++) {
		config.engine.hold_ttl_ms_default += 1000;
		int error = wal_store_open(&store, &config);
		cr_assert_eq(error, 0, "reopen %u: %s %s", round, strerror(-error),
			     store->recovery.message);
		cr_assert_eq(wal_writer_durable_lsn(store->writer), last + round + 1);
		cr_assert_eq(engine_config_get(store->engine)->hold_ttl_ms_default,
			     config.engine.hold_ttl_ms_default);
		wal_store_close(store);
	}
}

Test(store, a_directory_in_use_is_refused_until_its_store_closes)
{
	struct wal_store *first = open_store(dir);
	struct walfx_workload w;
	walfx_workload_init(&w, 3);
	run(first, &w, 500, 0);
	uint64_t last = wal_writer_durable_lsn(first->writer);
	struct wal_store_config config = walfx_config(dir);
	struct wal_store *second;
	cr_assert_eq(wal_store_open(&second, &config), -EBUSY);
	cr_assert(strstr(second->recovery.message, "in use by another process") != NULL,
		  "message: %s", second->recovery.message);
	wal_store_close(second);
	/* The refused open wrote nothing: the first goes on, and its log is whole. */
	run(first, &w, 500, 0);
	uint64_t digest = engine_digest(first->engine);
	cr_assert_gt(wal_writer_durable_lsn(first->writer), last);
	wal_store_close(first);
	second = open_store(dir);
	cr_assert_eq(engine_digest(second->engine), digest);
	wal_store_close(second);
	walfx_workload_finish(&w);
}

Test(store, snapshot_plus_replay_equals_full_replay)
{
	char plain[300];
	snprintf(plain, sizeof(plain), "%s/plain", dir);
	char snapshotted[300];
	snprintf(snapshotted, sizeof(snapshotted), "%s/snap", dir);
	struct walfx_workload a, b;
	walfx_workload_init(&a, 5);
	walfx_workload_init(&b, 5);
	struct wal_store *one = open_store(plain);
	struct wal_store *two = open_store(snapshotted);
	run(one, &a, 15000, 0);
	run(two, &b, 15000, 2500);
	uint64_t digest = engine_digest(one->engine);
	cr_assert_eq(engine_digest(two->engine), digest);
	wal_store_close(one);
	wal_store_close(two);
	one = open_store(plain);
	two = open_store(snapshotted);
	cr_assert_eq(one->recovery.snapshot_lsn, 0);
	cr_assert_gt(two->recovery.snapshot_lsn, 0);
	cr_assert_lt(two->recovery.records_replayed, one->recovery.records_replayed);
	cr_assert_eq(engine_digest(one->engine), digest);
	cr_assert_eq(engine_digest(two->engine), digest);
	wal_store_close(one);
	wal_store_close(two);
	walfx_workload_finish(&a);
	walfx_workload_finish(&b);
}

Test(store, snapshots_retire_old_segments_and_snapshots)
{
	struct wal_store *store = open_store(dir);
	struct walfx_workload w;
	walfx_workload_init(&w, 9);
	run(store, &w, 40000, 8000);
	struct wal_listing *listing = malloc(sizeof(*listing));
	cr_assert_eq(wal_list(store->dir_fd, listing), 0);
	cr_assert_eq(listing->snapshots_count, 2);
	cr_assert_gt(listing->segments[0], 1, "the first segments were retired");
	cr_assert_eq(listing->temporaries_count, 0);
	uint64_t digest = engine_digest(store->engine);
	wal_store_close(store);
	store = open_store(dir);
	cr_assert_eq(engine_digest(store->engine), digest);
	cr_assert_eq(store->recovery.snapshot_lsn, listing->snapshots[1]);
	free(listing);
	wal_store_close(store);
	walfx_workload_finish(&w);
}

/*
 * A logged change that no longer applies (here a hold of a show the log never put,
 * written behind the store's back) stops recovery, naming the record: going on would
 * drop a change that was acknowledged.
 */
Test(store, a_record_that_replays_differently_from_how_it_was_logged_is_refused)
{
	struct wal_store *store = open_store(dir);
	struct walfx_workload w;
	walfx_workload_init(&w, 5);
	run(store, &w, 500, 0);
	struct command hold = { .type = COMMAND_HOLD };
	hold.hold = (struct command_hold){ .show_id = 999999, .user_id = 1, .best = true,
					   .seats_count = 1, .tier = TIER_VIP };
	cr_assert_eq(command_validate(&hold), STATUS_OK);
	static uint8_t payload[WAL_RECORD_PAYLOAD_MAX];
	size_t size = command_encode(&hold, payload, sizeof(payload));
	cr_assert_gt(size, 0);
	int64_t lsn = wal_writer_append(store->writer, engine_now(store->engine), payload,
					(uint32_t)size);
	cr_assert_gt(lsn, 0);
	cr_assert_eq(wal_store_sync(store), 0);
	wal_store_close(store);
	struct wal_store_config config = walfx_config(dir);
	int error = wal_store_open(&store, &config);
	cr_assert_eq(error, -EUCLEAN);
	char expected[64];
	snprintf(expected, sizeof(expected), "record LSN %lld (hold)", (long long)lsn);
	cr_assert(strstr(store->recovery.message, expected) != NULL, "message: %s",
		  store->recovery.message);
	cr_assert(strstr(store->recovery.message, "not found") != NULL, "message: %s",
		  store->recovery.message);
	wal_store_close(store);
	walfx_workload_finish(&w);
}
