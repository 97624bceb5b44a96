/*
 * test_store.c — SPEC §8 through the synchronous store: what was synced survives a
 * close and reopen bit for bit (the digest), with and without snapshots;
 * snapshot + replay equals full replay; old segments and snapshots are retired;
 * a directory another store has open is refused; wal_dir_open creates directories
 * (syncing their parent) from any spelling of their path.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "files.h"
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
