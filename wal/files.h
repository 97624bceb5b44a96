/*
 * files.h — the names of a shard's files and the blocking file operations used at
 * start-up, by the snapshot thread and by tools (the shard thread itself goes
 * through io.h).
 *
 * Errors are negative errno values; `what` in the log line names the call.
 */
#ifndef BOXOFFICE_WAL_FILES_H
#define BOXOFFICE_WAL_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WAL_PATH_SIZE 4096u
/* Flushes write whole pages of this size (FORMAT.md, "Writing and group commit"). */
#define WAL_PAGE_BYTES 4096u
#define WAL_FILES_MAX 65536u

/* "segment-%08llx.wal" and "snapshot-%016llx.snap" (".tmp" appended while written). */
void wal_segment_name(uint64_t sequence, char *name, size_t size);
void wal_snapshot_name(uint64_t lsn, bool temporary, char *name, size_t size);

/* Numbers of the segments (or LSNs of the snapshots) in dir, ascending. */
struct wal_listing {
	uint64_t segments[WAL_FILES_MAX];
	uint32_t segments_count;
	uint64_t snapshots[WAL_FILES_MAX];
	uint32_t snapshots_count;
	uint64_t temporaries[WAL_FILES_MAX]; /* leftover snapshot-*.tmp files, by LSN */
	uint32_t temporaries_count;
};

int wal_list(int dir_fd, struct wal_listing *listing);

/*
 * Opens /dev/null on each of descriptors 0, 1 and 2 that is closed; false when that
 * fails. A program that opens the log's files calls it first: started with stderr
 * closed, it would otherwise get a log file as descriptor 2 and write its messages
 * into it. (Daemon wrappers do start programs so.)
 */
bool wal_standard_fds_open(void);

/*
 * Opens (creating if asked) a directory and returns its fd, or -errno. A directory it
 * creates is made durable: its parent is synced.
 */
int wal_dir_open(const char *path, bool create);
int wal_dir_sync(int dir_fd);
/*
 * Takes an exclusive advisory lock (flock) on an open directory, held for as long as
 * that open file (or a dup of it) stays open, and released by the kernel when the
 * process dies however it dies. Returns 0, -EBUSY when another open file holds it
 * (another process writing the directory), or -errno.
 */
int wal_dir_lock(int dir_fd);

/*
 * Creates `name` in dir (replacing any file of that name) as `size` zero bytes,
 * synced with its directory, and returns an fd open for reading and writing. On
 * failure (a full disk, say) the file is removed again and -errno returned.
 */
int wal_file_prepare(int dir_fd, const char *name, uint64_t size);

/* Reads a whole file into memory (malloc'd). */
int wal_file_read(int dir_fd, const char *name, uint8_t **bytes, size_t *size);

/* Reads `size` bytes at `offset` in full, or returns -errno (-EIO at the file's end). */
int wal_pread_all(int fd, void *bytes, size_t size, uint64_t offset);

/* Writes `size` bytes at `offset` in full, or returns -errno (-EIO for a short write). */
int wal_pwrite_all(int fd, const void *bytes, size_t size, uint64_t offset);

/* Removes a file and syncs the directory. */
int wal_file_remove(int dir_fd, const char *name);

#endif
