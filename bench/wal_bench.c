/*
 * wal_bench.c — the write-ahead log on this machine's disk: durable records per
 * second under group commit, commit latency, replay and recovery speed, and the
 * size, write time and pause of a snapshot.
 *
 * Usage: wal_bench [--dir D] [--seconds S] [--records N] [--quick] [--only PREFIX]
 *   --dir      where the logs go (default: a new directory under $TMPDIR or /tmp,
 *              removed at the end); it must be on the disk to be measured
 *   --seconds  length of each group-commit run (default 3)
 *   --records  records in the replay/recovery log (default 10,000,000)
 * Prints one figure a line as `name: value unit`.
 */
#include <errno.h>
#include <ftw.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "files.h"
#include "io_uring.h"
#include "record.h"
#include "recovery.h"
#include "snapshot.h"
#include "store.h"
#include "writer.h"

#define WAL_TAG 0x57

static const char *only = NULL;

static bool wanted(const char *name)
{
	return only == NULL || strncmp(name, only, strlen(only)) == 0;
}

static double seconds_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void fatal(const char *what, int error)
{
	fprintf(stderr, "wal_bench: %s: %s\n", what, strerror(error < 0 ? -error : error));
	exit(1);
}

struct appenders {
	uint32_t count;
	uint64_t *waiting_lsn; /* 0: ready to append */
	double *started;
	uint64_t *latencies_ns;
	uint64_t latencies_count;
	uint64_t latencies_capacity;
};

static void latency_add(struct appenders *a, double seconds)
{
	if (a->latencies_count == a->latencies_capacity) {
		a->latencies_capacity = a->latencies_capacity ? a->latencies_capacity * 2 : 1 << 16;
		a->latencies_ns = realloc(a->latencies_ns, sizeof(uint64_t) * a->latencies_capacity);
	}
	a->latencies_ns[a->latencies_count++] = (uint64_t)(seconds * 1e9);
}

/* Appends for every ready appender; returns how many appended. */
static uint32_t appenders_append(struct appenders *a, struct wal_writer *writer, double now)
{
	static const uint8_t payload[64] = { 1, 6 }; /* 64 bytes, as the target asks */
	uint32_t appended = 0;
	for (uint32_t i = 0; i < a->count; i++) {
		if (a->waiting_lsn[i] != 0)
			continue;
		int64_t lsn = wal_writer_append(writer, (int64_t)(now * 1000), payload,
						sizeof(payload));
		if (lsn == -EAGAIN)
			break;
		if (lsn < 0)
			fatal("append", (int)lsn);
		a->waiting_lsn[i] = (uint64_t)lsn;
		a->started[i] = now;
		appended++;
	}
	return appended;
}

static void appenders_release(struct appenders *a, uint64_t durable, double now)
{
	for (uint32_t i = 0; i < a->count; i++) {
		if (a->waiting_lsn[i] != 0 && a->waiting_lsn[i] <= durable) {
			latency_add(a, now - a->started[i]);
			a->waiting_lsn[i] = 0;
		}
	}
}

/*
 * `count` simulated clients, each appending a 64-byte record and waiting for it to
 * be durable before the next, on one thread with one ring: the server's shape.
 */
static void bench_group_commit(const char *base, uint32_t count, double seconds)
{
	char dir[WAL_PATH_SIZE + 32];
	snprintf(dir, sizeof(dir), "%s/commit-%u", base, count);
	int dir_fd = wal_dir_open(dir, true);
	if (dir_fd < 0)
		fatal(dir, dir_fd);
	struct io_uring ring;
	int error = io_uring_queue_init(256, &ring, 0);
	if (error < 0)
		fatal("io_uring_queue_init", error);
	struct wal_io_uring io;
	wal_io_uring_init(&io, &ring, WAL_TAG);
	struct wal_writer_config config = { .dir_fd = dir_fd,
					    .segment_size = WAL_SEGMENT_SIZE_DEFAULT,
					    .buffer_bytes_max = 256u << 20 };
	struct wal_position start = { .next_lsn = 1 };
	struct wal_writer *writer;
	error = wal_writer_create(&writer, &config, &io.io, &start);
	if (error < 0)
		fatal("wal_writer_create", error);
	struct appenders a = { .count = count };
	a.waiting_lsn = calloc(count, sizeof(uint64_t));
	a.started = calloc(count, sizeof(double));
	uint64_t flushes = 0;
	double begin = seconds_now(), now = begin;
	while (now - begin < seconds) {
		appenders_append(&a, writer, now);
		wal_writer_flush(writer);
		io_uring_submit_and_wait(&ring, 1);
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			uint64_t data = io_uring_cqe_get_data64(cqe);
			flushes += (wal_io_uring_token(data) >> 48) == 2; /* a flush's sync */
			wal_writer_complete(writer, wal_io_uring_token(data), cqe->res);
			seen++;
		}
		io_uring_cq_advance(&ring, seen);
		if (wal_writer_error(writer) != 0)
			fatal("log write", wal_writer_error(writer));
		now = seconds_now();
		appenders_release(&a, wal_writer_durable_lsn(writer), now);
	}
	double elapsed = now - begin;
	qsort(a.latencies_ns, a.latencies_count, sizeof(uint64_t), compare_u64);
	uint64_t p50 = a.latencies_ns[a.latencies_count / 2];
	uint64_t p99 = a.latencies_ns[a.latencies_count * 99 / 100];
	printf("durable_records_per_s_%u_appenders: %.0f records/s\n", count,
	       (double)a.latencies_count / elapsed);
	printf("commit_p50_us_%u_appenders: %.1f us\n", count, (double)p50 / 1000.0);
	printf("commit_p99_us_%u_appenders: %.1f us\n", count, (double)p99 / 1000.0);
	printf("records_per_fsync_%u_appenders: %.1f records\n", count,
	       (double)a.latencies_count / (double)(flushes ? flushes : 1));
	fflush(stdout);
	/* Drain what is in flight before closing. */
	while (wal_writer_busy(writer)) {
		struct io_uring_cqe *cqe;
		io_uring_submit_and_wait(&ring, 1);
		while (io_uring_peek_cqe(&ring, &cqe) == 0) {
			wal_writer_complete(writer, wal_io_uring_token(io_uring_cqe_get_data64(cqe)),
					    cqe->res);
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	wal_writer_destroy(writer);
	io_uring_queue_exit(&ring);
	close(dir_fd);
	free(a.waiting_lsn);
	free(a.started);
	free(a.latencies_ns);
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A shard of five 200,000-seat shows (1,000,000 seats): 40 sections x 100 rows x 50. */
static struct layout_builder big_layout;

static void shard_catalog(struct engine *engine, struct wal_store *store)
{
	layout_builder_init(&big_layout);
	for (int s = 0; s < 40; s++) {
		char name[16];
		snprintf(name, sizeof(name), "S%d", s + 1);
		layout_builder_section(&big_layout, name);
		for (int r = 0; r < 100; r++) {
			snprintf(name, sizeof(name), "%d", r + 1);
			layout_builder_row(&big_layout, name, 1, 50,
					   s < 4 ? TIER_VIP : s < 16 ? TIER_REGULAR : TIER_ECONOMY);
		}
	}
	struct command c[8];
	uint32_t n = 0;
	c[n] = (struct command){ .type = COMMAND_LOCATION_PUT };
	c[n++].location_put = (struct command_location_put){
		.location_id = 1, .name = text_from_cstr("Bench"), .country = { 'X', 'X' } };
	c[n] = (struct command){ .type = COMMAND_VENUE_PUT };
	c[n].venue_put = (struct command_venue_put){ .venue_id = 1, .location_id = 1,
						     .name = text_from_cstr("Big") };
	layout_builder_layout(&big_layout, &c[n++].venue_put.layout);
	c[n] = (struct command){ .type = COMMAND_EVENT_PUT };
	c[n++].event_put = (struct command_event_put){ .event_id = 1, .location_id = 1,
						       .title = text_from_cstr("Final") };
	for (uint32_t show = 1; show <= 5; show++) {
		c[n] = (struct command){ .type = COMMAND_SHOW_PUT };
		c[n++].show_put = (struct command_show_put){
			.show_id = show, .event_id = 1, .venue_id = 1, .start_ms = 1LL << 42,
			.end_ms = (1LL << 42) + 1, .currency = { 'E', 'U', 'R' },
			.sale_closes_ms = 1LL << 42 };
	}
	for (uint32_t i = 0; i < n; i++) {
		struct engine_result result;
		uint64_t lsn;
		if (store != NULL)
			wal_store_apply(store, &c[i], 1, &result, &lsn);
		else
			engine_apply(engine, &c[i], 1, &result);
		if (result.status != STATUS_OK)
			fatal("catalog", EINVAL);
	}
}

/*
 * The replay log: single-seat holds, each released again except every 20th, which
 * is confirmed (on seats kept for confirms so no hold is ever refused).
 */
static void workload_command(uint64_t i, uint64_t *holds, struct command *c)
{
	uint64_t pair = i / 2;
	bool confirmed = pair % 20 == 0;
	uint32_t show = 1 + (uint32_t)(confirmed ? pair / 20 % 5 : pair % 5);
	uint64_t user = 1 + pair;
	if (i % 2 == 0) {
		/* Confirmed seats: 100,000 per show, each used once; the rest come back. */
		uint32_t seat = confirmed ? (uint32_t)(pair / 100 % 100000)
					  : 100000 + (uint32_t)(pair / 5 % 100000);
		*c = (struct command){ .type = COMMAND_HOLD };
		c->hold = (struct command_hold){ .show_id = show, .user_id = user,
						 .seats_count = 1, .seats = { seat } };
	} else if (confirmed) {
		*c = (struct command){ .type = COMMAND_CONFIRM };
		c->confirm = (struct command_confirm){ .hold_id = holds[show], .user_id = user,
						       .payment_ref = text_from_cstr("pi_bench") };
	} else {
		*c = (struct command){ .type = COMMAND_RELEASE };
		c->release = (struct command_release){ .hold_id = holds[show], .user_id = user };
	}
}

static struct wal_store *store_open(const char *dir)
{
	struct wal_store_config config = { .dir = dir, .buffer_bytes_max = 512u << 20 };
	engine_config_default(&config.engine);
	struct wal_store *store;
	int error = wal_store_open(&store, &config);
	if (error != 0)
		fatal(store->recovery.message, error);
	return store;
}

static double recover_seconds(const char *dir, struct wal_recovery *report)
{
	int dir_fd = wal_dir_open(dir, false);
	struct engine_config config;
	engine_config_default(&config);
	struct engine *engine;
	struct wal_position position;
	int error = wal_recover(dir_fd, &config, true, &engine, &position, report);
	if (error != 0)
		fatal(report->message, error);
	engine_destroy(engine);
	close(dir_fd);
	return report->seconds;
}

static void bench_replay(const char *base, uint64_t records)
{
	char dir[WAL_PATH_SIZE + 32];
	snprintf(dir, sizeof(dir), "%s/replay", base);
	struct wal_store *store = store_open(dir);
	shard_catalog(NULL, store);
	uint64_t holds[6] = { 0 };
	double begin = seconds_now();
	for (uint64_t i = 0; i < records; i++) {
		struct command c;
		workload_command(i, holds, &c);
		struct engine_result result;
		uint64_t lsn;
		int error = wal_store_apply(store, &c, 2 + (int64_t)(i / 1000), &result, &lsn);
		if (error == -EAGAIN && (error = wal_store_sync(store)) == 0)
			error = wal_store_apply(store, &c, 2 + (int64_t)(i / 1000), &result, &lsn);
		if (error != 0 || result.status != STATUS_OK)
			fatal("workload", error ? error : EINVAL);
		if (c.type == COMMAND_HOLD)
			holds[c.hold.show_id] = result.hold_id;
		if (i % 100000 == 99999 && (error = wal_store_sync(store)) != 0)
			fatal("sync", error);
	}
	if (wal_store_sync(store) != 0)
		fatal("sync", EIO);
	double written = seconds_now() - begin;
	wal_store_close(store);
	printf("log_write_records_per_s: %.0f records/s (%llu records, synced every 100,000)\n",
	       (double)records / written, (unsigned long long)records);
	struct wal_recovery report;
	double full = recover_seconds(dir, &report);
	printf("replay_records_per_s: %.0f records/s\n", (double)report.records_replayed / full);
	printf("recovery_full_replay_s: %.2f s (%llu records, no snapshot)\n", full,
	       (unsigned long long)report.records_replayed);
	store = store_open(dir);
	if (wal_store_snapshot(store) != 0)
		fatal("snapshot", EIO);
	wal_store_close(store);
	double with_snapshot = recover_seconds(dir, &report);
	printf("recovery_from_snapshot_s: %.3f s (snapshot at LSN %llu, %llu records replayed)\n",
	       with_snapshot, (unsigned long long)report.snapshot_lsn,
	       (unsigned long long)report.records_replayed);
	fflush(stdout);
	if (getenv("WAL_BENCH_KEEP") == NULL)
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Snapshot of 1,000,000 seats with 100,000 open holds: the pause, the size, the write. */
static void bench_snapshot(const char *base)
{
	struct engine_config config;
	engine_config_default(&config);
	struct engine *engine = engine_create(&config);
	shard_catalog(engine, NULL);
	struct engine_result result;
	for (uint32_t i = 0; i < 100000; i++) {
		struct command c = { .type = COMMAND_HOLD };
		c.hold = (struct command_hold){ .show_id = 1 + i % 5, .user_id = 1 + i,
						.seats_count = 1 + i % 4 };
		for (uint8_t k = 0; k < c.hold.seats_count; k++)
			c.hold.seats[k] = (i / 5) * 4 + k;
		engine_apply(engine, &c, 2, &result);
		if (result.status != STATUS_OK)
			fatal("snapshot holds", EINVAL);
	}
	double pauses[5];
	struct engine_image image = { 0 };
	for (int r = 0; r < 5; r++) {
		double start = seconds_now();
		engine_snapshot_encode(engine, &image);
		pauses[r] = seconds_now() - start;
	}
	qsort(pauses, 5, sizeof(double), compare_double);
	char dir[WAL_PATH_SIZE + 32];
	snprintf(dir, sizeof(dir), "%s/snapshot", base);
	int dir_fd = wal_dir_open(dir, true);
	double start = seconds_now();
	int error = wal_snapshot_write(dir_fd, 0, 1, &image);
	double written = seconds_now() - start;
	if (error != 0)
		fatal("wal_snapshot_write", error);
	start = seconds_now();
	enum status status;
	struct engine *restored = engine_snapshot_decode(image.bytes, image.size, &config, &status);
	double decoded = seconds_now() - start;
	if (restored == NULL || engine_digest(restored) != engine_digest(engine))
		fatal("snapshot round trip", EINVAL);
	printf("snapshot_pause_ms_1M_seats_100k_holds: %.2f ms\n", pauses[2] * 1e3);
	printf("snapshot_bytes_1M_seats_100k_holds: %zu bytes\n", image.size);
	printf("snapshot_write_ms_1M_seats_100k_holds: %.1f ms (write + fsync + rename + dir fsync)\n",
	       written * 1e3);
	printf("snapshot_load_ms_1M_seats_100k_holds: %.1f ms\n", decoded * 1e3);
	engine_destroy(restored);
	engine_destroy(engine);
	engine_image_finish(&image);
	close(dir_fd);
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	double seconds = 3;
	uint64_t records = 10000000;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (strcmp(argv[i], "--records") == 0 && i + 1 < argc)
			records = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (strcmp(argv[i], "--quick") == 0)
			seconds = 0.3, records = 200000;
		else {
			fprintf(stderr, "usage: wal_bench [--dir D] [--seconds S] [--records N] "
					"[--quick] [--only PREFIX]\n");
			return 64;
		}
	}
	char base[WAL_PATH_SIZE];
	if (dir == NULL) {
		const char *tmp = getenv("TMPDIR");
		snprintf(base, sizeof(base), "%s/wal-bench-XXXXXX", tmp ? tmp : "/tmp");
		if (mkdtemp(base) == NULL)
			fatal("mkdtemp", errno);
	} else {
		snprintf(base, sizeof(base), "%s", dir);
		wal_dir_open(base, true);
	}
	static const uint32_t counts[] = { 1, 16, 256, 4096 };
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		if (wanted("durable") || wanted("commit"))
			bench_group_commit(base, counts[i], seconds);
	}
	if (wanted("replay") || wanted("recovery"))
		bench_replay(base, records);
	if (wanted("snapshot"))
		bench_snapshot(base);
	layout_builder_finish(&big_layout);
	if (dir == NULL && getenv("WAL_BENCH_KEEP") == NULL)
		nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
