/*
 * snapshot.c — writing, reading and retiring snapshot files (see snapshot.h).
 */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "base.h"
#include "files.h"
#include "record.h"

int wal_snapshot_write(int dir_fd, uint32_t shard_index, uint64_t lsn,
		       const struct engine_image *image)
{
	char temporary[64], final[64];
	wal_snapshot_name(lsn, true, temporary, sizeof(temporary));
	wal_snapshot_name(lsn, false, final, sizeof(final));
	int fd = openat(dir_fd, temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	uint8_t header[WAL_SNAPSHOT_HEADER_SIZE];
	struct wal_snapshot_header fields = { .shard_index = shard_index, .lsn = lsn,
					      .image_size = image->size,
					      .image_checksum = XXH3_64bits(image->bytes,
									    image->size) };
	wal_snapshot_header_encode(&fields, header);
	int error = wal_pwrite_all(fd, header, sizeof(header), 0);
	if (error == 0)
		error = wal_pwrite_all(fd, image->bytes, image->size, sizeof(header));
	if (error == 0 && fsync(fd) < 0)
		error = -errno;
	if (close(fd) < 0 && error == 0)
		error = -errno;
	if (error == 0 && renameat(dir_fd, temporary, dir_fd, final) < 0)
		error = -errno;
	if (error == 0)
		return wal_dir_sync(dir_fd);
	unlinkat(dir_fd, temporary, 0);
	return error;
}

int wal_snapshot_read(int dir_fd, uint32_t shard_index, uint64_t lsn, uint8_t **image,
		      size_t *size)
{
	char name[64];
	wal_snapshot_name(lsn, false, name, sizeof(name));
	uint8_t *bytes;
	size_t file_size;
	int error = wal_file_read(dir_fd, name, &bytes, &file_size);
	if (error != 0)
		return error;
	struct wal_snapshot_header header;
	bool valid = file_size >= WAL_SNAPSHOT_HEADER_SIZE &&
		     wal_snapshot_header_decode(bytes, &header) &&
		     header.shard_index == shard_index && header.lsn == lsn &&
		     header.image_size == file_size - WAL_SNAPSHOT_HEADER_SIZE &&
		     XXH3_64bits(bytes + WAL_SNAPSHOT_HEADER_SIZE, header.image_size) ==
			     header.image_checksum;
	if (!valid) {
		free(bytes);
		return -EUCLEAN;
	}
	memmove(bytes, bytes + WAL_SNAPSHOT_HEADER_SIZE, header.image_size);
	*image = bytes;
	*size = header.image_size;
	return 0;
}

/* The first LSN a segment's header gives, 0 for a spare or an unreadable header. */
static uint64_t segment_first_lsn(int dir_fd, uint64_t sequence)
{
	char name[64];
	wal_segment_name(sequence, name, sizeof(name));
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	uint8_t bytes[WAL_SEGMENT_HEADER_SIZE];
	struct wal_segment_header header;
	bool ok = pread(fd, bytes, sizeof(bytes), 0) == (ssize_t)sizeof(bytes) &&
		  wal_segment_header_decode(bytes, &header) == WAL_HEADER_OK;
	close(fd);
	return ok ? header.first_lsn : 0;
}

int wal_retire(int dir_fd, uint32_t keep)
{
	ASSERT(keep >= 1);
	struct wal_listing *listing = malloc(sizeof(*listing));
	if (listing == NULL)
		return -ENOMEM;
	int error = wal_list(dir_fd, listing);
	char name[64];
	uint32_t snapshots = error == 0 ? listing->snapshots_count : 0;
	for (uint32_t i = 0; error == 0 && i + keep < snapshots; i++) {
		wal_snapshot_name(listing->snapshots[i], false, name, sizeof(name));
		error = wal_file_remove(dir_fd, name);
	}
	/* Until `keep` snapshots exist the whole log stays, so that a damaged snapshot
	 * can always be recovered around. */
	uint64_t oldest_kept = snapshots >= keep ? listing->snapshots[snapshots - keep] : 0;
	/* Segment i may go when segment i + 1 starts at or before oldest_kept + 1. */
	for (uint32_t i = 0; error == 0 && oldest_kept > 0 && i + 1 < listing->segments_count;
	     i++) {
		uint64_t next_first = segment_first_lsn(dir_fd, listing->segments[i + 1]);
		if (next_first == 0 || next_first > oldest_kept + 1)
			break;
		wal_segment_name(listing->segments[i], name, sizeof(name));
		error = wal_file_remove(dir_fd, name);
	}
	free(listing);
	return error;
}
