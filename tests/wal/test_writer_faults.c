/*
 * test_writer_faults.c — fault injection into the group-commit writer: the N-th
 * write or sync fails (an error, or a short write) and the writer must stop for
 * good, acknowledge nothing after the failure, and leave a log whose recovered
 * prefix holds everything it did acknowledge.
 *
 * The records are real engine commands (recovery replays them), from the walfx
 * workload mixed with large event puts so that the segment fills, the spare is
 * prepared and rotation happens within a few dozen flushes.
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

TestSuite(writer_faults, .init = walfx_dir_setup, .fini = walfx_dir_teardown);

/* Counts what reaches the fault layer, to find where the spare's I/O falls. */
struct io_recorder {
	struct wal_io io;
	struct wal_io *inner;
	uint32_t writes;
	uint32_t syncs;
	uint32_t spare_writes[8]; /* 1-based indexes of queued (zero-filling) writes */
	uint32_t spare_writes_count;
	uint32_t file_syncs[8]; /* 1-based indexes of fsyncs (not fdatasyncs) */
	uint32_t file_syncs_count;
};

/* The spare's zeros are queued; a flush writes at once. Both count as writes. */
static int recorder_write(struct wal_io *io, int fd, const void *bytes, uint32_t size,
			  uint64_t offset, uint64_t token)
{
	struct io_recorder *r = (struct io_recorder *)io;
	r->writes++;
	if (r->spare_writes_count < ARRAY_COUNT(r->spare_writes))
		r->spare_writes[r->spare_writes_count++] = r->writes;
	return r->inner->write(r->inner, fd, bytes, size, offset, token);
}

static int32_t recorder_write_now(struct wal_io *io, int fd, const void *bytes, uint32_t size,
				  uint64_t offset)
{
	struct io_recorder *r = (struct io_recorder *)io;
	r->writes++;
	return r->inner->write_now(r->inner, fd, bytes, size, offset);
}

/* A direct flush's write: a write and a sync to the fault layer, as it is both. */
static int recorder_write_durable(struct wal_io *io, int fd, const void *bytes, uint32_t size,
				  uint64_t offset, uint64_t token)
{
	struct io_recorder *r = (struct io_recorder *)io;
	r->writes++;
	r->syncs++;
	return r->inner->write_durable(r->inner, fd, bytes, size, offset, token);
}

static int recorder_sync(struct wal_io *io, int fd, bool data_only, uint64_t token)
{
	struct io_recorder *r = (struct io_recorder *)io;
	r->syncs++;
	if (!data_only && r->file_syncs_count < ARRAY_COUNT(r->file_syncs))
		r->file_syncs[r->file_syncs_count++] = r->syncs;
	return r->inner->sync(r->inner, fd, data_only, token);
}

struct fault_case {
	const char *name;
	enum wal_fault_kind kind;
	bool on_sync;
	int32_t error;	       /* injected */
	int32_t writer_error; /* what the writer must report */
	int32_t writer_error_zeros; /* ... when the faulted write was a spare's zero fill */
};

static const struct fault_case fault_cases[] = {
	{ "EIO on write", WAL_FAULT_ERROR, false, -EIO, -EIO, -EIO },
	{ "ENOSPC on write", WAL_FAULT_ERROR, false, -ENOSPC, -ENOSPC, -ENOSPC },
	/* A spare's fill extends its file, so a short one means the disk is full. */
	{ "short write", WAL_FAULT_SHORT, false, 0, -EIO, -ENOSPC },
	{ "EIO on sync", WAL_FAULT_ERROR, true, -EIO, -EIO, -EIO },
};

/* A model engine fed the same commands, and its digest after every LSN. */
struct fault_run {
	struct engine *model;
	struct walfx_workload workload;
	uint64_t rng;
	uint64_t digests[RECORDS_MAX];
	uint64_t last_appended;
	uint64_t durable_before_failure; /* UINT64_MAX while the writer is healthy */
	bool fault_on_sync;
	char description[200];
	char text[DESCRIPTION_SIZE_MAX];
	uint32_t big_events;
	struct engine_config settings; /* what the CONFIGURE record sets */
	bool configured;
	bool direct; /* the writer flushes with direct I/O */
};

static const struct command *fault_command_next(struct fault_run *run, int64_t *now_ms,
						struct command *big)
{
	if (run->last_appended == 0 && !run->configured) {
		/* As the store does: a log starts under the default settings, and the
		 * first record sets the ones the workload runs under. */
		run->configured = true;
		*now_ms = run->workload.now_ms;
		*big = (struct command){ .type = COMMAND_CONFIGURE };
		big->configure = (struct command_configure){
			.hold_ttl_ms_default = run->settings.hold_ttl_ms_default,
			.waitlist_idle_ms = run->settings.waitlist_idle_ms };
		return big;
	}
	const struct command *c = walfx_next(&run->workload, now_ms);
	if (run->workload.step <= 5 || walfx_rng_next(&run->rng) % 3 != 0)
		return c;
	/* The catalog exists by now; a new event with a long description is a 2 kB record. */
	*big = (struct command){ .type = COMMAND_EVENT_PUT };
	big->event_put = (struct command_event_put){
		.event_id = 100 + run->big_events++, .location_id = 1,
		.title = text_from_cstr("Big"),
		.description = text_from(run->text, sizeof(run->text)) };
	return big;
}

/*
 * Looks at the writer after each completion and flush: durable only grows, and never
 * after a failure. A failed sync acknowledges nothing; a failed write may follow, in
 * the same call, the completion of the sync before it (the next flush starts then).
 */
static void fault_observe(struct fault_run *run, struct wal_writer *writer, uint64_t before)
{
	uint64_t durable = wal_writer_durable_lsn(writer);
	cr_assert_geq(durable, before, "%s", run->description);
	cr_assert_leq(durable, run->last_appended, "%s", run->description);
	if (wal_writer_error(writer) != 0 && run->durable_before_failure == UINT64_MAX) {
		if (run->fault_on_sync)
			cr_assert_eq(durable, before, "%s: the failing sync acknowledged nothing",
				     run->description);
		run->durable_before_failure = durable;
	}
	if (run->durable_before_failure != UINT64_MAX)
		cr_assert_eq(durable, run->durable_before_failure,
			     "%s: durable LSN moved after the failure", run->description);
}

/* A flush writes at once, so it can fail at once. */
static void fault_flush(struct fault_run *run, struct wal_writer *writer)
{
	uint64_t before = wal_writer_durable_lsn(writer);
	wal_writer_flush(writer);
	fault_observe(run, writer, before);
}

static void fault_deliver(struct fault_run *run, struct wal_io_sync *sync,
			  struct wal_writer *writer, bool all)
{
	do {
		uint64_t before = wal_writer_durable_lsn(writer);
		if (!walfx_deliver_one(sync, writer))
			return;
		fault_observe(run, writer, before);
	} while (all);
}

/* One step of the workload: apply to the model, append what is loggable. */
static int fault_step(struct fault_run *run, struct wal_io_sync *sync, struct wal_writer *writer)
{
	int64_t now;
	struct command big;
	const struct command *c = fault_command_next(run, &now, &big);
	uint32_t size = command_validate(c) == STATUS_OK ? (uint32_t)command_encoded_size(c) : 2;
	int allowed = wal_writer_can_append(writer, size > 2 ? size : 2);
	if (allowed == -EAGAIN) {
		fault_flush(run, writer);
		fault_deliver(run, sync, writer, true);
		allowed = wal_writer_can_append(writer, size > 2 ? size : 2);
	}
	if (allowed != 0)
		return allowed;
	struct engine_result result;
	engine_apply(run->model, c, now, &result);
	walfx_observe(&run->workload, c, &result, run->model);
	struct command tick;
	const struct command *logged = wal_loggable(c, &result, now, &tick);
	if (logged == NULL)
		return 0;
	static uint8_t buffer[WAL_RECORD_PAYLOAD_MAX];
	size_t encoded = command_encode(logged, buffer, sizeof(buffer));
	cr_assert_gt(encoded, 0);
	int64_t lsn = wal_writer_append(writer, engine_now(run->model), buffer, (uint32_t)encoded);
	cr_assert_eq(lsn, (int64_t)run->last_appended + 1, "%s", run->description);
	run->last_appended = (uint64_t)lsn;
	cr_assert_lt(run->last_appended, RECORDS_MAX);
	run->digests[lsn] = engine_digest(run->model);
	return 0;
}

/*
 * Runs the seeded workload through `io` until the writer fails or `steps_max`
 * steps are done. Returns the writer's error (0 when no fault fired).
 */
static int fault_workload(struct fault_run *run, struct wal_io_sync *sync, struct wal_io *io,
			  uint32_t steps_max)
{
	struct wal_writer_config config = run->direct
						  ? walfx_writer_config_direct(walfx_dir_fd, 1u << 20)
						  : walfx_writer_config(walfx_dir_fd, 1u << 20);
	struct wal_position position = { .next_lsn = 1 };
	struct wal_writer *writer = NULL;
	cr_assert_eq(wal_writer_create(&writer, &config, io, &position), 0);
	cr_assert_eq(wal_writer_direct(writer), run->direct);
	run->durable_before_failure = UINT64_MAX;
	int error = 0;
	for (uint32_t step = 0; step < steps_max && error == 0; step++) {
		error = fault_step(run, sync, writer);
		if (walfx_rng_next(&run->rng) % 4 == 0)
			fault_flush(run, writer);
		uint64_t dice = walfx_rng_next(&run->rng) % 8;
		if (dice < 3)
			fault_deliver(run, sync, writer, dice == 0);
	}
	fault_deliver(run, sync, writer, true);
	error = wal_writer_error(writer);
	if (error == 0)
		run->durable_before_failure = wal_writer_durable_lsn(writer);
	if (error != 0) {
		/* Failed for good: appends and flushes are refused, nothing more is acknowledged. */
		for (int i = 0; i < 3; i++) {
			cr_assert_eq(wal_writer_can_append(writer, 10), error, "%s", run->description);
			cr_assert_eq(wal_writer_append(writer, 1, "x", 1), error, "%s",
				     run->description);
			fault_flush(run, writer);
		}
		cr_assert_eq(wal_writer_next_lsn(writer), run->last_appended + 1);
	}
	fault_deliver(run, sync, writer, true);
	cr_assert_eq(wal_writer_error(writer), error, "%s", run->description);
	cr_assert_not(wal_writer_busy(writer));
	wal_writer_destroy(writer);
	return error;
}

static void fault_run_init(struct fault_run *run, const struct engine_config *config,
			   uint64_t seed)
{
	struct engine_config initial = *config;
	initial.hold_ttl_ms_default = HOLD_TTL_MS_DEFAULT;
	initial.waitlist_idle_ms = WAITLIST_IDLE_MS_DEFAULT;
	run->model = engine_create(&initial);
	run->settings = *config;
	run->configured = false;
	walfx_workload_init(&run->workload, seed);
	run->rng = seed;
	run->last_appended = 0;
	run->big_events = 0;
	memset(run->text, 'd', sizeof(run->text));
	run->digests[0] = engine_digest(run->model);
}

static void fault_run_finish(struct fault_run *run)
{
	engine_destroy(run->model);
	walfx_workload_finish(&run->workload);
}

/* Recovery must find a prefix of what was appended that holds everything acknowledged. */
static void fault_recovery_check(struct fault_run *run, const struct engine_config *config)
{
	struct engine *engine = NULL;
	struct wal_position position;
	struct wal_recovery report;
	int error = wal_recover(walfx_dir_fd, config, true, &engine, &position, &report);
	cr_assert_eq(error, 0, "%s: recovery: %d %s", run->description, error, report.message);
	uint64_t k = report.last_lsn;
	cr_assert_geq(k, run->durable_before_failure, "%s: an acknowledged record was lost",
		      run->description);
	cr_assert_leq(k, run->last_appended, "%s", run->description);
	cr_assert_eq(report.records_replayed, k, "%s", run->description);
	cr_assert_eq(engine_digest(engine), run->digests[k], "%s: state after %lu records",
		     run->description, (unsigned long)k);
	engine_check(engine);
	engine_destroy(engine);
}

/* Empties the directory between cases. */
static void dir_clear(void)
{
	close(walfx_dir_fd);
	walfx_dir_remove(walfx_dir_path);
	cr_assert_eq(mkdir(walfx_dir_path, 0700), 0);
	walfx_dir_fd = wal_dir_open(walfx_dir_path, false);
	cr_assert_geq(walfx_dir_fd, 0);
}

#define FAULT_STEPS 1500u
#define FAULT_SEED 0xfa017u

static void fault_case_run(const struct fault_case *fc, uint32_t n,
			   const struct engine_config *config, struct fault_run *run, bool direct)
{
	dir_clear();
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct wal_io_fault fault;
	wal_io_fault_init(&fault, &sync, fc->kind, fc->on_sync, fc->error, n);
	fault_run_init(run, config, FAULT_SEED);
	run->fault_on_sync = fc->on_sync;
	run->direct = direct;
	snprintf(run->description, sizeof(run->description), "%s at %s %u (seed %u%s)", fc->name,
		 fc->on_sync ? "sync" : "write", n, FAULT_SEED, direct ? ", direct I/O" : "");
	int error = fault_workload(run, &sync, &fault.io, FAULT_STEPS);
	int32_t expected = fault.hit_zeros ? fc->writer_error_zeros : fc->writer_error;
	cr_assert_eq(error, expected, "%s: writer error %d", run->description, error);
	fault_recovery_check(run, config);
	fault_run_finish(run);
}

/* Faults at each of the first writes and syncs, and at those of the spare segments. */
static void fault_matrix(bool direct)
{
	struct engine_config config = walfx_config(walfx_dir_path).engine;
	struct fault_run *run = calloc(1, sizeof(*run));
	/* A dry run finds where the spare's zero writes and fsyncs fall in the sequence. */
	struct wal_io_sync sync;
	wal_io_sync_init(&sync);
	struct io_recorder recorder = { .io = { .write = recorder_write,
						.write_now = recorder_write_now,
						.write_durable = recorder_write_durable,
						.sync = recorder_sync },
					.inner = &sync.io };
	fault_run_init(run, &config, FAULT_SEED);
	run->direct = direct;
	snprintf(run->description, sizeof(run->description), "dry run");
	cr_assert_eq(fault_workload(run, &sync, &recorder.io, FAULT_STEPS), 0);
	fault_recovery_check(run, &config);
	fault_run_finish(run);
	cr_assert_geq(recorder.spare_writes_count, 2, "the dry run rotated at least twice");
	cr_assert_geq(recorder.file_syncs_count, 4);
	uint32_t writes[32], syncs[32], writes_count = 0, syncs_count = 0;
	for (uint32_t n = 1; n <= 16; n++) {
		writes[writes_count++] = n;
		syncs[syncs_count++] = n;
	}
	for (uint32_t i = 0; i < 2; i++) {
		writes[writes_count++] = recorder.spare_writes[i];
		writes[writes_count++] = recorder.spare_writes[i] + 1;
		syncs[syncs_count++] = recorder.file_syncs[2 * i];
		syncs[syncs_count++] = recorder.file_syncs[2 * i + 1];
	}
	for (uint32_t c = 0; c < ARRAY_COUNT(fault_cases); c++) {
		const struct fault_case *fc = &fault_cases[c];
		const uint32_t *at = fc->on_sync ? syncs : writes;
		uint32_t count = fc->on_sync ? syncs_count : writes_count;
		for (uint32_t i = 0; i < count; i++)
			fault_case_run(fc, at[i], &config, run, direct);
	}
	free(run);
}

Test(writer_faults, the_nth_failed_write_or_sync_stops_the_log_and_recovery_keeps_a_prefix,
     .timeout = 60)
{
	fault_matrix(false);
}

/* A direct flush is one durable write: its failure, or a short one, is the sync's. */
Test(writer_faults, with_direct_io_too, .timeout = 60)
{
	if (!walfx_direct_io_supported(walfx_dir_fd))
		cr_skip_test("the test directory's file system has no direct I/O");
	fault_matrix(true);
}

/* Runs the workload through a store whose I/O fails; returns the last acknowledged LSN. */
static uint64_t store_fault_run(struct wal_store *store, int32_t expected)
{
	struct walfx_workload w;
	walfx_workload_init(&w, 77);
	uint64_t acknowledged = 0;
	int error = 0;
	for (uint32_t i = 0; i < 5000 && error == 0; i++) {
		int64_t now;
		const struct command *c = walfx_next(&w, &now);
		struct engine_result result;
		uint64_t lsn;
		error = wal_store_apply(store, c, now, &result, &lsn);
		if (error == 0)
			walfx_observe(&w, c, &result, store->engine);
		if (error == 0 && i % 7 == 6) {
			error = wal_store_sync(store);
			if (error == 0)
				acknowledged = wal_writer_durable_lsn(store->writer);
		}
	}
	cr_assert_eq(error, expected);
	int64_t now;
	const struct command *c = walfx_next(&w, &now);
	struct engine_result result;
	uint64_t lsn;
	cr_assert_eq(wal_store_apply(store, c, now, &result, &lsn), expected);
	cr_assert_eq(wal_store_sync(store), expected);
	cr_assert_eq(wal_writer_durable_lsn(store->writer), acknowledged);
	walfx_workload_finish(&w);
	return acknowledged;
}

Test(writer_faults, a_store_with_failing_io_reports_the_error_and_keeps_what_it_acknowledged)
{
	const struct fault_case *cases[] = { &fault_cases[3], &fault_cases[2] };
	for (uint32_t i = 0; i < ARRAY_COUNT(cases); i++) {
		dir_clear();
		struct wal_io_fault fault;
		struct wal_io_sync unused;
		wal_io_sync_init(&unused);
		/* The store binds the fault to its own queue when it opens. */
		wal_io_fault_init(&fault, &unused, cases[i]->kind, cases[i]->on_sync,
				  cases[i]->error, 9);
		struct wal_store_config config = walfx_config(walfx_dir_path);
		config.fault = &fault;
		struct wal_store *store;
		cr_assert_eq(wal_store_open(&store, &config), 0);
		uint64_t acknowledged = store_fault_run(store, cases[i]->writer_error);
		cr_assert_gt(acknowledged, 0);
		wal_store_close(store);
		config.fault = NULL;
		cr_assert_eq(wal_store_open(&store, &config), 0, "%s", store->recovery.message);
		cr_assert_geq(store->recovery.last_lsn, acknowledged, "%s", cases[i]->name);
		engine_check(store->engine);
		wal_store_close(store);
	}
}
