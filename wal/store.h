/*
 * store.h — a shard's engine and its log together, driven synchronously: recover,
 * apply commands, log what changed them, sync, snapshot. The tests, the crash test,
 * the benchmarks and boxwal use it; the server drives the same parts from its
 * io_uring loop instead.
 *
 * What is logged: a command that changed the state. A refused command changes
 * nothing but the timers it fired (RULES.md), so when it did fire some, a tick at
 * the same time is logged in its place.
 */
#ifndef BOXOFFICE_WAL_STORE_H
#define BOXOFFICE_WAL_STORE_H

#include "engine.h"
#include "io.h"
#include "recovery.h"
#include "writer.h"

struct wal_store_config {
	const char *dir; /* created if missing */
	struct engine_config engine;
	uint64_t segment_size;	   /* 0: WAL_SEGMENT_SIZE_DEFAULT */
	uint64_t buffer_bytes_max; /* 0: 64 MiB */
	struct wal_io_fault *fault; /* optional: route I/O through fault injection */
};

struct wal_store {
	struct engine *engine;
	struct wal_writer *writer;
	struct wal_io_sync io;
	int dir_fd;
	struct wal_recovery recovery; /* what opening found */
};

/*
 * Recovers the directory and opens its log, then logs the configured engine
 * settings if they differ from the recovered ones. Returns 0 or -errno (-EUCLEAN:
 * see store->recovery.message; *store is then still allocated for the message).
 */
int wal_store_open(struct wal_store **store, const struct wal_store_config *config);

/* Logs a CONFIGURE (and syncs) when the settings differ from the engine's. */
int wal_store_configure(struct wal_store *store, const struct engine_config *config);
void wal_store_close(struct wal_store *store); /* accepts NULL */

/*
 * The command (or the tick) to log for an applied command, or NULL when nothing
 * changed. `tick` is storage for the tick.
 */
const struct command *wal_loggable(const struct command *command,
				   const struct engine_result *result, int64_t now_ms,
				   struct command *tick);

/*
 * Applies a command and appends what must be logged. *lsn is its LSN (0 when
 * nothing was logged). Returns 0, or -errno when the log refused (then the command
 * was not applied: -EAGAIN means sync and retry) or has failed.
 */
int wal_store_apply(struct wal_store *store, const struct command *command, int64_t now_ms,
		    struct engine_result *result, uint64_t *lsn);
/*
 * The same, but when the log asks to wait (-EAGAIN: its buffer is full, or the next
 * segment is not prepared yet) it syncs and tries again.
 */
int wal_store_apply_waiting(struct wal_store *store, const struct command *command,
			    int64_t now_ms, struct engine_result *result, uint64_t *lsn);

/*
 * Syncs, closes the log and hands over the engine and where the log ends, for a
 * writer on another I/O backend to continue (the server's). Frees the store.
 */
int wal_store_detach(struct wal_store *store, struct engine **engine,
		     struct wal_position *position);

/* Flushes and waits until everything appended is durable. Returns 0 or the failure. */
int wal_store_sync(struct wal_store *store);

/* Syncs, writes a snapshot at the durable LSN, retires what it makes unnecessary. */
int wal_store_snapshot(struct wal_store *store);

#endif
