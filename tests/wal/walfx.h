/*
 * walfx.h — helpers for the log tests: temporary directories, a small catalog and
 * a seeded stream of random engine commands (holds, confirms, releases, cancels,
 * waiting-list traffic and ticks) to push through a store.
 */
#ifndef BOXOFFICE_TESTS_WALFX_H
#define BOXOFFICE_TESTS_WALFX_H

#include <stdint.h>

#include "engine.h"
#include "store.h"

/* Creates a fresh directory under /tmp (or $TMPDIR); the path lives in `path`. */
void walfx_dir(char *path, size_t size);
/* Removes a directory and everything in it. */
void walfx_dir_remove(const char *path);

/* Default store config for dir: small segments so that rotation happens. */
struct wal_store_config walfx_config(const char *dir);

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
