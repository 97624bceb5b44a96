/*
 * store.c — engine + log, synchronously (see store.h).
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base.h"
#include "files.h"
#include "record.h"
#include "snapshot.h"

#define BUFFER_BYTES_MAX_DEFAULT (64u * 1024u * 1024u)

int wal_store_open(struct wal_store **out, const struct wal_store_config *config)
{
	struct wal_store *store = calloc(1, sizeof(*store));
	if (store == NULL)
		return -ENOMEM;
	*out = store;
	wal_io_sync_init(&store->io);
	store->dir_fd = wal_dir_open(config->dir, true);
	if (store->dir_fd < 0)
		return store->dir_fd;
	/* One writer per log: a second one would interleave its records with ours. */
	int locked = wal_dir_lock(store->dir_fd);
	if (locked != 0) {
		if (locked == -EBUSY)
			snprintf(store->recovery.message, sizeof(store->recovery.message),
				 "%s is in use by another process", config->dir);
		return locked;
	}
	struct wal_position position;
	int error = wal_recover(store->dir_fd, &config->engine, true, &store->engine, &position,
				&store->recovery);
	if (error != 0)
		return error;
	struct wal_writer_config writer_config = {
		.dir_fd = store->dir_fd, .shard_index = config->engine.shard_index,
		.segment_size = config->segment_size ? config->segment_size
						     : WAL_SEGMENT_SIZE_DEFAULT,
		.buffer_bytes_max = config->buffer_bytes_max ? config->buffer_bytes_max
							     : BUFFER_BYTES_MAX_DEFAULT };
	struct wal_io *io = config->fault ? &config->fault->io : &store->io.io;
	if (config->fault) {
		config->fault->queue = &store->io;
		config->fault->inner = &store->io.io;
	}
	error = wal_writer_create(&store->writer, &writer_config, io, &position);
	if (error != 0)
		return error;
	return wal_store_configure(store, &config->engine);
}

int wal_store_configure(struct wal_store *store, const struct engine_config *config)
{
	const struct engine_config *current = engine_config_get(store->engine);
	if (current->hold_ttl_ms_default == config->hold_ttl_ms_default &&
	    current->waitlist_idle_ms == config->waitlist_idle_ms)
		return 0;
	struct command configure = { .type = COMMAND_CONFIGURE };
	configure.configure = (struct command_configure){
		.hold_ttl_ms_default = config->hold_ttl_ms_default,
		.waitlist_idle_ms = config->waitlist_idle_ms };
	struct engine_result result;
	uint64_t lsn;
	int error = wal_store_apply_waiting(store, &configure, engine_now(store->engine), &result,
					    &lsn);
	return error != 0 ? error : wal_store_sync(store);
}

void wal_store_close(struct wal_store *store)
{
	if (store == NULL)
		return;
	if (store->writer != NULL) {
		wal_io_sync_deliver(&store->io, wal_writer_complete_fn, store->writer);
		wal_writer_destroy(store->writer);
	}
	engine_destroy(store->engine);
	if (store->dir_fd >= 0)
		close(store->dir_fd);
	free(store);
}

const struct command *wal_loggable(const struct command *command,
				   const struct engine_result *result, int64_t now_ms,
				   struct command *tick)
{
	(void)now_ms;
	if (!result->changed)
		return NULL;
	if (result->status == STATUS_OK)
		return command;
	*tick = (struct command){ .type = COMMAND_TICK };
	return tick;
}

int wal_store_apply(struct wal_store *store, const struct command *command, int64_t now_ms,
		    struct engine_result *result, uint64_t *lsn)
{
	static uint8_t buffer[WAL_RECORD_PAYLOAD_MAX];
	*lsn = 0;
	/* The largest this command can log: itself, or a tick in its place. */
	uint32_t size = command_validate(command) == STATUS_OK
				? (uint32_t)command_encoded_size(command)
				: 2;
	int allowed = wal_writer_can_append(store->writer, size > 2 ? size : 2);
	if (allowed != 0)
		return allowed;
	engine_apply(store->engine, command, now_ms, result);
	struct command tick;
	const struct command *logged = wal_loggable(command, result, now_ms, &tick);
	if (logged == NULL)
		return 0;
	size_t encoded = command_encode(logged, buffer, sizeof(buffer));
	ASSERT(encoded > 0);
	int64_t appended = wal_writer_append(store->writer, engine_now(store->engine), buffer,
					     (uint32_t)encoded);
	ASSERT(appended > 0); /* can_append said yes and nothing happened in between */
	*lsn = (uint64_t)appended;
	return 0;
}

int wal_store_apply_waiting(struct wal_store *store, const struct command *command,
			    int64_t now_ms, struct engine_result *result, uint64_t *lsn)
{
	int error = wal_store_apply(store, command, now_ms, result, lsn);
	if (error == -EAGAIN && (error = wal_store_sync(store)) == 0)
		error = wal_store_apply(store, command, now_ms, result, lsn);
	return error;
}

int wal_store_sync(struct wal_store *store)
{
	uint64_t target = wal_writer_next_lsn(store->writer) - 1;
	/* Each round: start a flush (and, past half a segment, the next segment's
	 * preparation), run the I/O, deliver the results, which may start more. A sync
	 * backend finishes a round per call; the loop ends once nothing is in flight. */
	for (;;) {
		wal_writer_flush(store->writer);
		uint32_t delivered = wal_io_sync_deliver(&store->io, wal_writer_complete_fn,
							 store->writer);
		bool more = wal_writer_durable_lsn(store->writer) < target ||
			    wal_writer_busy(store->writer);
		if (!more || wal_writer_error(store->writer) != 0 || delivered == 0)
			break;
	}
	int error = wal_writer_error(store->writer);
	if (error == 0 && wal_writer_durable_lsn(store->writer) < target)
		error = -EIO;
	return error;
}

int wal_store_detach(struct wal_store *store, struct engine **engine,
		     struct wal_position *position)
{
	int error = wal_store_sync(store);
	if (error != 0)
		return error;
	/* The spare segment may still be zero-filling: let it finish. */
	while (wal_writer_busy(store->writer))
		wal_io_sync_deliver(&store->io, wal_writer_complete_fn, store->writer);
	wal_writer_position(store->writer, position);
	*engine = store->engine;
	store->engine = NULL;
	wal_store_close(store);
	return 0;
}

int wal_store_snapshot(struct wal_store *store)
{
	int error = wal_store_sync(store);
	if (error != 0)
		return error;
	struct engine_image image = { 0 };
	engine_snapshot_encode(store->engine, &image);
	error = wal_snapshot_write(store->dir_fd, engine_config_get(store->engine)->shard_index,
				   wal_writer_durable_lsn(store->writer), &image);
	engine_image_finish(&image);
	if (error == 0)
		error = wal_retire(store->dir_fd, WAL_SNAPSHOTS_KEPT);
	return error;
}
