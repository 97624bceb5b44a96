/*
 * logwriter — writes a durable log of random engine commands into a directory, for
 * the boxwal tests and for trying boxwal by hand.
 *
 * Usage: logwriter DIR STEPS [--snapshot-every N] [--seed S]
 * Prints the final state digest as 16 hex digits.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "walfx.h"

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: logwriter DIR STEPS [--snapshot-every N] [--seed S]\n");
		return 64;
	}
	uint64_t steps = strtoull(argv[2], NULL, 10);
	uint64_t every = 0, seed = 1;
	for (int i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--snapshot-every") == 0)
			every = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--seed") == 0)
			seed = strtoull(argv[i + 1], NULL, 10);
		else
			return 64;
	}
	struct wal_store_config config = walfx_config(argv[1]);
	struct wal_store *store;
	int error = wal_store_open(&store, &config);
	if (error != 0) {
		fprintf(stderr, "logwriter: %s: %s\n", strerror(-error), store->recovery.message);
		return 1;
	}
	struct walfx_workload w;
	walfx_workload_init(&w, seed);
	for (uint64_t i = 0; i < steps && error == 0; i++) {
		int64_t now;
		const struct command *c = walfx_next(&w, &now);
		struct engine_result result;
		uint64_t lsn;
		error = wal_store_apply(store, c, now, &result, &lsn);
		if (error == -EAGAIN && (error = wal_store_sync(store)) == 0)
			error = wal_store_apply(store, c, now, &result, &lsn);
		walfx_observe(&w, c, &result, store->engine);
		/* Flush every so often so that the log holds many flushes. */
		if (error == 0 && i % 50 == 49)
			error = wal_store_sync(store);
		if (error == 0 && every > 0 && i % every == every - 1)
			error = wal_store_snapshot(store);
	}
	if (error == 0)
		error = wal_store_sync(store);
	if (error != 0) {
		fprintf(stderr, "logwriter: %s\n", strerror(-error));
		return 1;
	}
	printf("%016" PRIx64 "\n", engine_digest(store->engine));
	wal_store_close(store);
	walfx_workload_finish(&w);
	return 0;
}
