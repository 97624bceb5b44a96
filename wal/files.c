/*
 * files.c — file names and blocking file operations (see files.h).
 */
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"

void wal_segment_name(uint64_t sequence, char *name, size_t size)
{
	snprintf(name, size, "segment-%08" PRIx64 ".wal", sequence);
}

void wal_snapshot_name(uint64_t lsn, bool temporary, char *name, size_t size)
{
	snprintf(name, size, "snapshot-%016" PRIx64 ".snap%s", lsn, temporary ? ".tmp" : "");
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Parses "<prefix><hex digits><suffix>" exactly; returns whether it matched. */
static bool name_parse(const char *name, const char *prefix, unsigned digits, const char *suffix,
		       uint64_t *value)
{
	size_t prefix_size = strlen(prefix);
	if (strncmp(name, prefix, prefix_size) != 0 ||
	    strlen(name) != prefix_size + digits + strlen(suffix) ||
	    strcmp(name + prefix_size + digits, suffix) != 0)
		return false;
	*value = 0;
	for (unsigned i = 0; i < digits; i++) {
		char c = name[prefix_size + i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return false;
		*value = *value << 4 | (uint64_t)d;
	}
	return true;
}

int wal_list(int dir_fd, struct wal_listing *listing)
{
	listing->segments_count = 0;
	listing->snapshots_count = 0;
	listing->temporaries_count = 0;
	int fd = dup(dir_fd);
	if (fd < 0)
		return -errno;
	DIR *dir = fdopendir(fd);
	if (dir == NULL) {
		int error = -errno;
		close(fd);
		return error;
	}
	rewinddir(dir);
	struct dirent *entry;
	uint64_t value;
	while ((entry = readdir(dir)) != NULL) {
		if (name_parse(entry->d_name, "segment-", 8, ".wal", &value) &&
		    listing->segments_count < WAL_FILES_MAX)
			listing->segments[listing->segments_count++] = value;
		else if (name_parse(entry->d_name, "snapshot-", 16, ".snap", &value) &&
			 listing->snapshots_count < WAL_FILES_MAX)
			listing->snapshots[listing->snapshots_count++] = value;
		else if (name_parse(entry->d_name, "snapshot-", 16, ".snap.tmp", &value) &&
			 listing->temporaries_count < WAL_FILES_MAX)
			listing->temporaries[listing->temporaries_count++] = value;
	}
	closedir(dir);
	qsort(listing->segments, listing->segments_count, sizeof(uint64_t), compare_u64);
	qsort(listing->snapshots, listing->snapshots_count, sizeof(uint64_t), compare_u64);
	return 0;
}

/* Syncs the directory that holds `path`, so that a new entry there is durable. */
static int parent_sync(const char *path)
{
	char parent[WAL_PATH_SIZE];
	size_t length = strlen(path);
	if (length >= sizeof(parent))
		return -ENAMETOOLONG;
	memcpy(parent, path, length + 1);
	while (length > 1 && parent[length - 1] == '/')
		parent[--length] = '\0';
	char *slash = strrchr(parent, '/');
	if (slash == NULL)
		snprintf(parent, sizeof(parent), ".");
	else
		slash[slash == parent ? 1 : 0] = '\0';
	int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int error = wal_dir_sync(fd);
	close(fd);
	return error;
}

bool wal_standard_fds_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* The lowest free descriptor: this one, since those below it are open. */
		int opened = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (opened != fd) {
			if (opened >= 0)
				close(opened);
			return false;
		}
	}
	return true;
}

int wal_dir_open(const char *path, bool create)
{
	if (create) {
		if (mkdir(path, 0755) == 0) {
			/* Otherwise a power loss could take the new directory, and all that
			 * was acknowledged from it, with the entry naming it. */
			int error = parent_sync(path);
			if (error != 0)
				return error;
		} else if (errno != EEXIST) {
			return -errno;
		}
	}
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int wal_dir_sync(int dir_fd)
{
	return fsync(dir_fd) < 0 ? -errno : 0;
}

int wal_dir_lock(int dir_fd)
{
	while (flock(dir_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return -EBUSY;
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

int wal_pwrite_all(int fd, const void *bytes, size_t size, uint64_t offset)
{
	const uint8_t *p = bytes;
	while (size > 0) {
		ssize_t written = pwrite(fd, p, size, (off_t)offset);
		if (written < 0 && errno == EINTR)
			continue;
		if (written < 0)
			return -errno;
		if (written == 0)
			return -EIO;
		p += written;
		size -= (size_t)written;
		offset += (uint64_t)written;
	}
	return 0;
}

int wal_pread_all(int fd, void *bytes, size_t size, uint64_t offset)
{
	uint8_t *p = bytes;
	while (size > 0) {
		ssize_t got = pread(fd, p, size, (off_t)offset);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -EIO;
		p += got;
		size -= (size_t)got;
		offset += (uint64_t)got;
	}
	return 0;
}

int wal_file_prepare(int dir_fd, const char *name, uint64_t size)
{
	int fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	static const uint8_t zeros[1 << 16];
	int error = 0;
	for (uint64_t offset = 0; offset < size && error == 0; offset += sizeof(zeros)) {
		uint64_t chunk = size - offset < sizeof(zeros) ? size - offset : sizeof(zeros);
		error = wal_pwrite_all(fd, zeros, (size_t)chunk, offset);
	}
	if (error == 0 && fsync(fd) < 0)
		error = -errno;
	if (error == 0)
		error = wal_dir_sync(dir_fd);
	if (error != 0) {
		/* A file this call just created (replacing one of no value, see files.h):
		 * left half-filled, it would hold the space that ran out. */
		close(fd);
		unlinkat(dir_fd, name, 0);
		return error;
	}
	return fd;
}

int wal_file_read(int dir_fd, const char *name, uint8_t **bytes, size_t *size)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int error = -errno;
		close(fd);
		return error;
	}
	*size = (size_t)st.st_size;
	*bytes = malloc(*size ? *size : 1);
	int error = *bytes ? 0 : -ENOMEM;
	size_t done = 0;
	while (error == 0 && done < *size) {
		ssize_t got = pread(fd, *bytes + done, *size - done, (off_t)done);
		if (got < 0 && errno == EINTR)
			continue;
		error = got < 0 ? -errno : got == 0 ? -EIO : 0;
		done += got > 0 ? (size_t)got : 0;
	}
	close(fd);
	if (error != 0) {
		free(*bytes);
		*bytes = NULL;
	}
	return error;
}

int wal_file_remove(int dir_fd, const char *name)
{
	if (unlinkat(dir_fd, name, 0) < 0)
		return -errno;
	return wal_dir_sync(dir_fd);
}
