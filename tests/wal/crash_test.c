/*
 * crash_test — kill -9 a process that is writing the log, many times over, and
 * check SPEC §8 after each crash: every acknowledged change survives, the state
 * at an acknowledged LSN is the one the writer reported, and recovery agrees with
 * a plain replay of the log.
 *
 * Usage: crash_test [--cycles N] [--seed S] [--dir D]
 *
 * Each cycle forks a child that opens a store on the directory (recovering what the
 * last child left), applies random commands, syncs every few of them and takes a
 * snapshot now and then. After each successful sync it tells the parent, through a
 * pipe, the durable LSN and the engine's digest there. The parent kills the child
 * after a random 1-30 ms, recovers the directory itself and checks it. Exit 0 when
 * every cycle passed; on failure the seed, the cycle and the directory are printed
 * and the directory is kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "files.h"
#include "reader.h"
#include "recovery.h"
#include "snapshot.h"
#include "walfx.h"

#define CHILD_STEPS_MAX 2000000u
#define KILL_AFTER_MS_MAX 30u

/* One acknowledged point: what the child reported after a successful sync. */
struct ack {
	uint64_t lsn;
	uint64_t digest;
};

struct acks {
	struct ack *items; /* ascending by LSN */
	size_t count;
	size_t capacity;
};

struct run {
	const char *dir;
	uint64_t seed;
	uint32_t cycle;
	uint64_t rng;
	struct acks acks;
	struct engine_config engine_config;
	uint64_t torn_cuts;
	uint64_t full_replays;
};

static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static _Noreturn void fail(const struct run *run, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

static _Noreturn void fail(const struct run *run, const char *format, ...)
{
	va_list args;
	va_start(args, format);
	fprintf(stderr, "crash_test: FAILED in cycle %u (seed %" PRIu64 ", dir %s): ", run->cycle,
		run->seed, run->dir);
	vfprintf(stderr, format, args);
	fputc('\n', stderr);
	va_end(args);
	exit(1);
}

/* The child. */

/*
 * The next command: the walfx workload's, or now and then a new event with a 2 kB
 * description, so that segments fill, rotate and get retired within a run.
 */
static const struct command *child_command(struct walfx_workload *w, uint64_t *rng,
					   int64_t *now, struct command *big)
{
	static char text[DESCRIPTION_SIZE_MAX];
	const struct command *c = walfx_next(w, now);
	if (w->step <= 5 || rng_next(rng) % 20 != 0)
		return c;
	memset(text, 'z', sizeof(text));
	*big = (struct command){ .type = COMMAND_EVENT_PUT };
	big->event_put = (struct command_event_put){
		.event_id = 1000 + (uint32_t)(rng_next(rng) % 1000000000u), .location_id = 1,
		.title = text_from_cstr("Big"), .description = text_from(text, sizeof(text)) };
	return big;
}

static int child_apply(struct wal_store *store, struct walfx_workload *w, uint64_t *rng)
{
	int64_t now;
	struct command big;
	const struct command *c = child_command(w, rng, &now, &big);
	struct engine_result result;
	uint64_t lsn;
	int error = wal_store_apply(store, c, now, &result, &lsn);
	if (error == -EAGAIN) {
		error = wal_store_sync(store);
		if (error == 0)
			error = wal_store_apply(store, c, now, &result, &lsn);
		if (error == -EAGAIN)
			fprintf(stderr, "crash_test child: the log still refuses a %s command with "
				"-EAGAIN after a sync (LSN %" PRIu64 ")\n",
				command_type_name(c->type), wal_writer_next_lsn(store->writer));
	}
	if (error == 0)
		walfx_observe(w, c, &result, store->engine);
	return error;
}

/* Tells the parent what is durable now. 16 bytes: a pipe write of that size is atomic. */
static void child_acknowledge(struct wal_store *store, int fd)
{
	struct ack ack = { .lsn = wal_writer_durable_lsn(store->writer),
			   .digest = engine_digest(store->engine) };
	if (write(fd, &ack, sizeof(ack)) != (ssize_t)sizeof(ack))
		_exit(4);
}

static _Noreturn void child_run(const struct run *run, uint64_t seed, int fd)
{
	struct wal_store_config config = walfx_config(run->dir);
	struct wal_store *store;
	int error = wal_store_open(&store, &config);
	if (error != 0) {
		fprintf(stderr, "crash_test child: open: %s: %s\n", strerror(-error),
			store->recovery.message);
		_exit(2);
	}
	struct walfx_workload w;
	walfx_workload_init(&w, seed);
	/* Carry on from the recovered clock, so that holds keep expiring. */
	if (engine_now(store->engine) > w.now_ms)
		w.now_ms = engine_now(store->engine);
	uint64_t rng = seed;
	for (uint32_t i = 0; i < CHILD_STEPS_MAX; i++) {
		error = child_apply(store, &w, &rng);
		uint64_t dice = rng_next(&rng) % 1000;
		if (error == 0 && dice < 200) {
			error = wal_store_sync(store);
			if (error == 0)
				child_acknowledge(store, fd);
		}
		if (error == 0 && dice >= 995) {
			error = wal_store_snapshot(store);
			if (error == 0)
				child_acknowledge(store, fd);
		}
		if (error != 0) {
			fprintf(stderr, "crash_test child: step %u: %s\n", i, strerror(-error));
			_exit(3);
		}
	}
	_exit(0);
}

/* The parent: collecting acknowledgements while the child runs. */

static void acks_add(struct run *run, const struct ack *ack)
{
	struct acks *acks = &run->acks;
	if (acks->count > 0) {
		const struct ack *last = &acks->items[acks->count - 1];
		if (ack->lsn < last->lsn)
			fail(run, "acknowledged LSN went back from %" PRIu64 " to %" PRIu64, last->lsn,
			     ack->lsn);
		if (ack->lsn == last->lsn && ack->digest != last->digest)
			fail(run, "two digests acknowledged for LSN %" PRIu64, ack->lsn);
		if (ack->lsn == last->lsn)
			return;
	}
	if (acks->count == acks->capacity) {
		acks->capacity = acks->capacity ? acks->capacity * 2 : 1024;
		acks->items = realloc(acks->items, acks->capacity * sizeof(*acks->items));
		if (acks->items == NULL)
			fail(run, "out of memory");
	}
	acks->items[acks->count++] = *ack;
}

static const struct ack *acks_find(const struct acks *acks, uint64_t lsn)
{
	size_t low = 0, high = acks->count;
	while (low < high) {
		size_t middle = low + (high - low) / 2;
		if (acks->items[middle].lsn < lsn)
			low = middle + 1;
		else
			high = middle;
	}
	return low < acks->count && acks->items[low].lsn == lsn ? &acks->items[low] : NULL;
}

static uint64_t acks_last(const struct acks *acks)
{
	return acks->count > 0 ? acks->items[acks->count - 1].lsn : 0;
}

/* Reads whole acknowledgements from the pipe; returns false at end of file. */
static bool pipe_read(struct run *run, int fd, uint8_t *buffer, size_t *held)
{
	ssize_t got = read(fd, buffer + *held, 4096 - *held);
	if (got < 0 && errno == EINTR)
		return true;
	if (got < 0)
		fail(run, "read from the child: %s", strerror(errno));
	*held += (size_t)got;
	size_t used = 0;
	for (; *held - used >= sizeof(struct ack); used += sizeof(struct ack)) {
		struct ack ack;
		memcpy(&ack, buffer + used, sizeof(ack));
		acks_add(run, &ack);
	}
	memmove(buffer, buffer + used, *held - used);
	*held -= used;
	return got > 0;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs one child, listens to it for `after_ms`, kills it, and drains the pipe. */
static void cycle_child(struct run *run, uint64_t child_seed, uint32_t after_ms)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		fail(run, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		fail(run, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		child_run(run, child_seed, fds[1]);
	}
	close(fds[1]);
	uint8_t buffer[4096];
	size_t held = 0;
	int64_t deadline = monotonic_ms() + after_ms;
	bool open = true;
	for (int64_t left = after_ms; open && left > 0; left = deadline - monotonic_ms()) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		if (poll(&pfd, 1, (int)left) > 0)
			open = pipe_read(run, fds[0], buffer, &held);
	}
	kill(pid, SIGKILL);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	while (open)
		open = pipe_read(run, fds[0], buffer, &held);
	close(fds[0]);
	bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	bool finished = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!killed && !finished)
		fail(run, "the child %s %d", WIFEXITED(status) ? "exited with" : "died of signal",
		     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

/* Checking a recovered directory. */

struct replay {
	struct run *run;
	struct engine *engine;
	uint64_t records;
};

/* Applies one record and, at every acknowledged LSN, compares the state. */
static int replay_record(void *context, const struct wal_record *record)
{
	struct replay *replay = context;
	struct command command;
	if (command_decode(record->payload, record->payload_size, &command) != STATUS_OK)
		fail(replay->run, "record LSN %" PRIu64 " is not a command", record->lsn);
	struct engine_result result;
	engine_apply(replay->engine, &command, record->timestamp_ms, &result);
	replay->records++;
	const struct ack *ack = acks_find(&replay->run->acks, record->lsn);
	if (ack != NULL && engine_digest(replay->engine) != ack->digest)
		fail(replay->run, "replayed state at acknowledged LSN %" PRIu64 " differs", record->lsn);
	return 0;
}

/*
 * Replays the whole log from LSN 1, snapshots ignored, when segment 1 is still
 * there. Returns the digest, or 0 when the log no longer starts at 1.
 */
static uint64_t full_replay(struct run *run, int dir_fd, uint64_t last_lsn)
{
	struct wal_scan scan;
	int error = wal_scan(dir_fd, run->engine_config.shard_index, &scan);
	if (error != 0)
		fail(run, "scan: %s", strerror(-error));
	if (scan.state != WAL_SCAN_CLEAN)
		fail(run, "the log is not clean after a repairing recovery: %s", scan.message);
	uint64_t digest = 0;
	if (scan.first_lsn == 1 || scan.records == 0) {
		/* A log starts under the default settings; its CONFIGURE records set the rest. */
		struct engine_config initial = run->engine_config;
		initial.hold_ttl_ms_default = HOLD_TTL_MS_DEFAULT;
		initial.waitlist_idle_ms = WAITLIST_IDLE_MS_DEFAULT;
		struct replay replay = { .run = run, .engine = engine_create(&initial) };
		error = wal_replay(dir_fd, &scan, 1, replay_record, &replay);
		if (error != 0)
			fail(run, "replay: %s", strerror(-error));
		if (replay.records != last_lsn)
			fail(run, "full replay found %" PRIu64 " records, recovery %" PRIu64,
			     replay.records, last_lsn);
		engine_check(replay.engine);
		digest = engine_digest(replay.engine);
		engine_destroy(replay.engine);
		run->full_replays++;
	}
	wal_scan_finish(&scan);
	return digest;
}

static void cycle_check(struct run *run)
{
	int dir_fd = wal_dir_open(run->dir, false);
	if (dir_fd < 0)
		fail(run, "open %s: %s", run->dir, strerror(-dir_fd));
	struct engine *engine;
	struct wal_position position;
	struct wal_recovery report;
	int error = wal_recover(dir_fd, &run->engine_config, true, &engine, &position, &report);
	if (error != 0)
		fail(run, "recovery: %s: %s", strerror(-error), report.message);
	run->torn_cuts += report.torn;
	uint64_t acknowledged = acks_last(&run->acks);
	if (report.last_lsn < acknowledged)
		fail(run, "recovered up to LSN %" PRIu64 " but LSN %" PRIu64 " was acknowledged",
		     report.last_lsn, acknowledged);
	uint64_t digest = engine_digest(engine);
	const struct ack *ack = acks_find(&run->acks, report.last_lsn);
	if (ack != NULL && ack->digest != digest)
		fail(run, "the state at acknowledged LSN %" PRIu64 " differs", report.last_lsn);
	engine_check(engine);
	engine_destroy(engine);

	/* A second recovery, changing nothing, agrees; so does a replay from LSN 1. */
	struct wal_recovery again;
	error = wal_recover(dir_fd, &run->engine_config, false, &engine, &position, &again);
	if (error != 0)
		fail(run, "second recovery: %s: %s", strerror(-error), again.message);
	if (again.torn || again.last_lsn != report.last_lsn || engine_digest(engine) != digest)
		fail(run, "a second recovery differs: %s", again.message);
	engine_destroy(engine);
	uint64_t replayed = full_replay(run, dir_fd, report.last_lsn);
	if (replayed != 0 && replayed != digest)
		fail(run, "recovery and a full replay from LSN 1 differ");
	close(dir_fd);
}

static void usage(void)
{
	fprintf(stderr, "usage: crash_test [--cycles N] [--seed S] [--dir D]\n");
	exit(64);
}

int main(int argc, char **argv)
{
	uint32_t cycles = 50;
	struct run run = { .seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32 };
	char created[256] = "";
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--cycles") == 0)
			cycles = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seed") == 0)
			run.seed = strtoull(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--dir") == 0)
			run.dir = argv[++i];
		else
			usage();
	}
	if (run.dir == NULL) {
		walfx_dir(created, sizeof(created));
		run.dir = created;
	}
	run.engine_config = walfx_config(run.dir).engine;
	run.rng = run.seed;
	printf("crash_test: %u cycles, seed %" PRIu64 ", dir %s\n", cycles, run.seed, run.dir);
	for (run.cycle = 1; run.cycle <= cycles; run.cycle++) {
		uint64_t child_seed = rng_next(&run.rng);
		uint32_t after_ms = 1 + (uint32_t)(rng_next(&run.rng) % KILL_AFTER_MS_MAX);
		cycle_child(&run, child_seed, after_ms);
		cycle_check(&run);
		if (run.cycle % 10 == 0 || run.cycle == cycles)
			printf("crash_test: cycle %u: %zu points acknowledged, last LSN %" PRIu64
			       ", %" PRIu64 " torn tails cut, %" PRIu64 " full replays\n",
			       run.cycle, run.acks.count, acks_last(&run.acks), run.torn_cuts,
			       run.full_replays);
		fflush(stdout);
	}
	free(run.acks.items);
	if (created[0] != '\0')
		walfx_dir_remove(created);
	printf("crash_test: passed\n");
	return 0;
}
