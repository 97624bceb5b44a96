/*
 * walfx.h — helpers for the log tests: temporary directories, a small catalog and
 * a seeded stream of random engine commands (holds, confirms, releases, cancels,
 * waiting-list traffic and ticks) to push through a store.
 */
#ifndef BOXOFFICE_TESTS_WALFX_H
#define BOXOFFICE_TESTS_WALFX_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "files.h"
#include "record.h"
#include "store.h"

/* Creates a fresh directory under /tmp (or $TMPDIR); the path lives in `path`. */
void walfx_dir(char *path, size_t size);
/* Removes a directory and everything in it. */
void walfx_dir_remove(const char *path);

/*
 * One fresh log directory per test, for suites that use one: .init = walfx_dir_setup,
 * .fini = walfx_dir_teardown. The path and an open descriptor of it are here.
 */
extern char walfx_dir_path[256];
extern int walfx_dir_fd;
void walfx_dir_setup(void);
void walfx_dir_teardown(void);

/* Default store config for dir: small segments so that rotation happens. */
struct wal_store_config walfx_config(const char *dir);

/* A seeded random number source (splitmix64): the next number from *state. */
uint64_t walfx_rng_next(uint64_t *state);

/* A writer config for a test directory: the smallest segments, so that rotation happens. */
struct wal_writer_config walfx_writer_config(int dir_fd, uint64_t buffer_bytes_max);
/* The smallest segment size that is whole pages: a writer asked for direct I/O uses it. */
#define WALFX_DIRECT_SEGMENT_SIZE                                                       \
	((WAL_SEGMENT_SIZE_MIN + WAL_PAGE_BYTES - 1) / WAL_PAGE_BYTES * WAL_PAGE_BYTES)
/* walfx_writer_config, flushing with direct I/O (segments of WALFX_DIRECT_SEGMENT_SIZE). */
struct wal_writer_config walfx_writer_config_direct(int dir_fd, uint64_t buffer_bytes_max);
/* Whether the file system of dir_fd opens files for direct I/O (tmpfs on older kernels
 * does not; Linux 6.18's does). */
bool walfx_direct_io_supported(int dir_fd);
/* A writer on a new, empty log in dir_fd; NULL if it cannot be created. */
struct wal_writer *walfx_writer_new(int dir_fd, struct wal_io *io, uint64_t buffer_bytes_max);
/* Hands the writer the oldest queued result, as wal_io_sync_deliver would; false if none. */
bool walfx_deliver_one(struct wal_io_sync *sync, struct wal_writer *writer);

/* A random workload: call walfx_next for each command. */
struct walfx_workload {
	uint64_t rng;
	int64_t now_ms;
	uint32_t step;
	uint64_t holds[256]; /* hold ids seen, for confirms and releases */
	uint32_t holds_count;
	struct layout_builder layout;
	char ref[32];
};

void walfx_workload_init(struct walfx_workload *w, uint64_t seed);
void walfx_workload_finish(struct walfx_workload *w);
/* The next command (valid until the next call) and its time. */
const struct command *walfx_next(struct walfx_workload *w, int64_t *now_ms);
/* Tells the workload a command's result and events (to remember hold ids). */
void walfx_observe(struct walfx_workload *w, const struct command *c,
		   const struct engine_result *r, const struct engine *engine);

#endif
