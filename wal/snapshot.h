/*
 * snapshot.h — snapshot files (FORMAT.md "Snapshots") and retiring what they make
 * unnecessary. These calls block on the disk: the server makes them from a
 * background thread, never from a shard thread.
 */
#ifndef BOXOFFICE_WAL_SNAPSHOT_H
#define BOXOFFICE_WAL_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#define WAL_SNAPSHOTS_KEPT 2u

/*
 * Writes `image` as the snapshot holding every record up to `lsn`, which must be
 * durable in the log already: to a temporary file, fsync, rename, directory fsync.
 * Returns 0 or -errno (the temporary file is removed on failure).
 */
int wal_snapshot_write(int dir_fd, uint32_t shard_index, uint64_t lsn,
		       const struct engine_image *image);

/*
 * Reads the snapshot at `lsn` and checks its header and image checksum. Returns 0
 * with *image (malloc'd; the caller frees it), -EUCLEAN for a damaged file, or
 * -errno.
 */
int wal_snapshot_read(int dir_fd, uint32_t shard_index, uint64_t lsn, uint8_t **image,
		      size_t *size);

/*
 * Keeps the newest `keep` snapshots, and removes the segments whose records all
 * precede the oldest of them (never the newest segment). Returns 0 or -errno.
 */
int wal_retire(int dir_fd, uint32_t keep);

#endif
