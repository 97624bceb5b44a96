/*
 * recovery.c — snapshot + replay (see recovery.h).
 */
#include "recovery.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base.h"
#include "files.h"
#include "reader.h"
#include "snapshot.h"

static double seconds_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct replay {
	struct engine *engine;
	uint64_t records;
	uint64_t bad_lsn;
	/* A record that did not apply as it did when it was logged (only changes that
	 * succeeded are logged, anything else as a tick): its command and result. */
	enum command_type diverged_type;
	enum status diverged_status;
};

static int replay_record(void *context, const struct wal_record *record)
{
	struct replay *replay = context;
	struct command command;
	if (command_decode(record->payload, record->payload_size, &command) != STATUS_OK) {
		replay->bad_lsn = record->lsn;
		return -EUCLEAN;
	}
	struct engine_result result;
	engine_apply(replay->engine, &command, record->timestamp_ms, &result);
	if (command.type != COMMAND_TICK && result.status != STATUS_OK) {
		replay->bad_lsn = record->lsn;
		replay->diverged_type = command.type;
		replay->diverged_status = result.status;
		return -EPROTO;
	}
	replay->records++;
	return 0;
}

/*
 * Picks the newest snapshot that reads back whole and that the log can continue
 * from, and loads it; *engine stays NULL when replay must start from LSN 1.
 */
static int snapshot_load(int dir_fd, const struct engine_config *config,
			 const struct wal_scan *scan, struct engine **engine,
			 struct wal_recovery *report)
{
	struct wal_listing *listing = malloc(sizeof(*listing));
	if (listing == NULL)
		return -ENOMEM;
	int error = wal_list(dir_fd, listing);
	uint32_t damaged = 0;
	for (uint32_t i = listing->snapshots_count; error == 0 && i-- > 0;) {
		uint64_t lsn = listing->snapshots[i];
		/* The log must hold every record after it (or end exactly at it). */
		bool continues = lsn <= scan->last_lsn && (lsn + 1 >= scan->first_lsn ||
							  lsn == scan->last_lsn);
		if (scan->records == 0)
			continues = true;
		uint8_t *image = NULL;
		size_t size = 0;
		int read = continues ? wal_snapshot_read(dir_fd, config->shard_index, lsn, &image,
							 &size)
				     : -ENODATA;
		enum status status = STATUS_BAD_REQUEST;
		if (read == 0)
			*engine = engine_snapshot_decode(image, size, config, &status);
		free(image);
		if (read != 0 && read != -EUCLEAN && read != -ENODATA)
			error = read;
		if (status == STATUS_NOT_OWNER) {
			snprintf(report->message, sizeof(report->message),
				 "snapshot-%016" PRIx64 ".snap (LSN %" PRIu64 ") is whole but was "
				 "written for another shard count or format version than shard "
				 "%u of %u: the data directory was started with another shard "
				 "count or program",
				 lsn, lsn, config->shard_index, config->shard_count);
			error = -EINVAL;
		}
		if (*engine != NULL) {
			report->snapshot_lsn = lsn;
			break;
		}
		damaged += error == 0;
	}
	free(listing);
	report->snapshot_fallback = damaged > 0;
	if (error == 0 && *engine == NULL && damaged > 0 && scan->first_lsn > 1) {
		snprintf(report->message, sizeof(report->message),
			 "no usable snapshot: %u snapshot(s) damaged or not continued by the log, "
			 "and the log starts at LSN %" PRIu64 ", not 1",
			 damaged, scan->first_lsn);
		return -EUCLEAN;
	}
	if (error == 0 && *engine == NULL && scan->first_lsn > 1) {
		snprintf(report->message, sizeof(report->message),
			 "no snapshot, and the log starts at LSN %" PRIu64 ", not 1",
			 scan->first_lsn);
		return -EUCLEAN;
	}
	return error;
}

/* Where the writer continues: after the last valid record of the last segment. */
static void position_of(const struct wal_scan *scan, uint64_t snapshot_lsn,
			struct wal_position *position)
{
	if (scan->started_count == 0) {
		*position = (struct wal_position){ .next_lsn = snapshot_lsn + 1 };
		return;
	}
	const struct wal_segment_info *last = &scan->segments[scan->started_count - 1];
	uint64_t last_lsn = scan->last_lsn > snapshot_lsn ? scan->last_lsn : snapshot_lsn;
	*position = (struct wal_position){ .next_lsn = last_lsn + 1,
					   .segment_sequence = last->sequence,
					   .segment_offset = last->data_end };
}

static int replay_run(int dir_fd, const struct engine_config *config,
		      const struct wal_scan *scan, struct engine **engine,
		      struct wal_recovery *report)
{
	int error = snapshot_load(dir_fd, config, scan, engine, report);
	if (error != 0)
		return error;
	if (*engine == NULL) {
		/* A log starts under the default settings; CONFIGURE records change them
		 * where they changed, so replay runs under what each record ran under. */
		struct engine_config initial = *config;
		initial.hold_ttl_ms_default = HOLD_TTL_MS_DEFAULT;
		initial.waitlist_idle_ms = WAITLIST_IDLE_MS_DEFAULT;
		*engine = engine_create(&initial);
	}
	struct replay replay = { .engine = *engine };
	error = wal_replay(dir_fd, scan, report->snapshot_lsn + 1, replay_record, &replay);
	report->records_replayed = replay.records;
	if (error == -EUCLEAN)
		snprintf(report->message, sizeof(report->message),
			 "record LSN %" PRIu64 " has a valid checksum but is not a command",
			 replay.bad_lsn);
	if (error == -EPROTO) {
		/* The engine is deterministic and versioned by its rules: a logged change
		 * that now fails means this build and the log disagree. Going on would
		 * drop an acknowledged change, and a snapshot would make that permanent. */
		snprintf(report->message, sizeof(report->message),
			 "record LSN %" PRIu64 " (%s) was applied when it was logged but replays "
			 "as '%s': this build, or the shard index and count it was given, do not "
			 "apply the log as it was written",
			 replay.bad_lsn, command_type_name(replay.diverged_type),
			 status_name(replay.diverged_status));
		error = -EUCLEAN;
	}
	return error;
}

int wal_recover(int dir_fd, const struct engine_config *config, bool repair,
		struct engine **engine, struct wal_position *position,
		struct wal_recovery *report)
{
	double start = seconds_now();
	*report = (struct wal_recovery){ 0 };
	*engine = NULL;
	struct wal_scan scan;
	int error = wal_scan(dir_fd, config->shard_index, &scan);
	if (error == 0 && scan.state == WAL_SCAN_CORRUPT) {
		snprintf(report->message, sizeof(report->message), "%s", scan.message);
		error = -EUCLEAN;
	}
	if (error == 0 && scan.state == WAL_SCAN_TORN) {
		report->torn = true;
		snprintf(report->message, sizeof(report->message), "%s%s", scan.message,
			 repair ? "; cut" : "; not cut (read-only)");
	}
	if (error == 0 && repair) {
		error = wal_tail_cut(dir_fd, &scan);
		if (error == 0)
			error = wal_tail_sync(dir_fd, &scan);
	}
	if (error == 0)
		error = replay_run(dir_fd, config, &scan, engine, report);
	if (error == 0) {
		position_of(&scan, report->snapshot_lsn, position);
		report->last_lsn = position->next_lsn - 1;
	}
	if (error != 0) {
		engine_destroy(*engine);
		*engine = NULL;
	}
	wal_scan_finish(&scan);
	report->seconds = seconds_now() - start;
	return error;
}
