/*
 * reader.c — scanning, tail classification and replay of a log (see reader.h).
 *
 * Segments are mapped read-only one at a time. A scan reads every byte of every
 * segment once, except after an invalid record in the last segment, where it
 * looks for valid records at every byte offset up to the last non-zero byte (the
 * only place a torn flush can leave any).
 */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"
#include "files.h"

int wal_segment_map(int dir_fd, uint64_t sequence, struct wal_mapping *map)
{
	char name[64];
	wal_segment_name(sequence, name, sizeof(name));
	*map = (struct wal_mapping){ 0 };
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int error = fstat(fd, &st) < 0 ? -errno : 0;
	if (error == 0 && !S_ISREG(st.st_mode))
		error = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL; /* named like a segment, not one */
	if (error == 0 && st.st_size > 0) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			error = -errno;
		else
			*map = (struct wal_mapping){ .bytes = p, .size = (size_t)st.st_size };
	}
	close(fd);
	return error;
}

void wal_segment_unmap(struct wal_mapping *map)
{
	if (map->bytes != NULL)
		munmap((void *)map->bytes, map->size);
	*map = (struct wal_mapping){ 0 };
}

/* The first non-zero byte in [from, end), or end. */
static uint64_t nonzero_first(const uint8_t *bytes, uint64_t from, uint64_t end)
{
	/* Whole blocks are compared with memcmp against zeros: libc's is vectorised. */
	static const uint8_t zeros[4096];
	while (end - from >= sizeof(zeros) && memcmp(bytes + from, zeros, sizeof(zeros)) == 0)
		from += sizeof(zeros);
	while (from < end && bytes[from] == 0)
		from++;
	return from;
}

/* One past the last non-zero byte in [from, end), or from when all are zero. */
static uint64_t nonzero_end(const uint8_t *bytes, uint64_t from, uint64_t end)
{
	while (end > from && end % 8 != 0 && bytes[end - 1] == 0)
		end--;
	while (end >= from + 8) {
		uint64_t word;
		memcpy(&word, bytes + end - 8, sizeof(word));
		if (word != 0)
			break;
		end -= 8;
	}
	while (end > from && bytes[end - 1] == 0)
		end--;
	return end;
}

/*
 * The record at offset, as wal_record_decode (`verify`) or wal_record_decode_verified.
 * In a segment of version 2, where a flush started beside another begins on a page
 * of its own (FORMAT.md, "Flushes in flight"), zeros from offset to the end of its
 * page followed there by the record with the `expected` LSN are a gap, not the end:
 * that record is returned and *at says where it is. Otherwise *at is offset, and
 * the result is what was found there. (A gap of under 4 bytes does not read as a
 * zero size field, and without checksums it may even read as a record: anything but
 * the expected record at offset is looked past.) A sealed record with an impossible
 * field after such zeros is reported as MALFORMED: corruption wherever it is.
 */
static enum wal_record_status record_next(const struct wal_mapping *map, uint64_t end,
					  const struct wal_segment_info *info, uint64_t offset,
					  uint64_t expected, bool verify, struct wal_record *record,
					  uint64_t *at, size_t *next)
{
	enum wal_record_status (*decode)(const uint8_t *, size_t, size_t, struct wal_record *,
					 size_t *) =
		verify ? wal_record_decode : wal_record_decode_verified;
	*at = offset;
	enum wal_record_status status = decode(map->bytes, end, offset, record, next);
	if ((status == WAL_RECORD_OK && record->lsn == expected) || info->version < 2 ||
	    offset % WAL_PAGE_BYTES == 0)
		return status;
	uint64_t page_end = offset - offset % WAL_PAGE_BYTES + WAL_PAGE_BYTES;
	if (page_end >= end || nonzero_first(map->bytes, offset, page_end) != page_end)
		return status;
	struct wal_record after;
	size_t after_next;
	enum wal_record_status after_status =
		decode(map->bytes, end, page_end, &after, &after_next);
	if (after_status == WAL_RECORD_MALFORMED && verify) {
		*at = page_end;
		return WAL_RECORD_MALFORMED;
	}
	if (after_status != WAL_RECORD_OK || after.lsn != expected)
		return status;
	*record = after;
	*next = after_next;
	*at = page_end;
	return WAL_RECORD_OK;
}

/* Records corruption found in a segment at an offset, with what was wrong there. */
static void corrupt(struct wal_scan *scan, uint64_t sequence, uint64_t offset,
		    const char *detail)
{
	char name[64];
	wal_segment_name(sequence, name, sizeof(name));
	scan->state = WAL_SCAN_CORRUPT;
	scan->tail_sequence = sequence;
	scan->tail_offset = offset;
	snprintf(scan->message, sizeof(scan->message), "corruption in %s at offset %" PRIu64 ": %s",
		 name, offset, detail);
}

/*
 * Classifies the bytes [start, size) after the last valid record (LSN L) of the
 * last segment. Zero bytes only: clean. Otherwise torn flushes when every valid
 * record in them has a flush LSN at or before L + 1: each was submitted while L + 1
 * was not yet durable, so none of them, nor L + 1, was ever acknowledged. A record
 * with a later flush LSN proves that L + 1 had been synced: corruption.
 */
static void tail_classify(struct wal_scan *scan, const struct wal_mapping *map,
			  const struct wal_segment_info *info, uint64_t start)
{
	uint64_t end = nonzero_end(map->bytes, start, map->size);
	if (end == start)
		return;
	uint64_t found = 0;
	for (uint64_t o = start + 1; o + WAL_RECORD_OVERHEAD <= end;) {
		struct wal_record record;
		size_t next;
		if (wal_record_decode(map->bytes, map->size, o, &record, &next) != WAL_RECORD_OK ||
		    record.lsn <= info->last_lsn) {
			o++;
			continue;
		}
		if (record.flush_lsn > info->last_lsn + 1) {
			corrupt(scan, info->sequence, start,
				"an invalid record is followed by records of a flush submitted "
				"after it was synced");
			return;
		}
		found++;
		o = next;
	}
	char name[64];
	wal_segment_name(info->sequence, name, sizeof(name));
	scan->state = WAL_SCAN_TORN;
	scan->tail_sequence = info->sequence;
	scan->tail_offset = start;
	scan->tail_end = end;
	snprintf(scan->message, sizeof(scan->message),
		 "torn tail in %s at offset %" PRIu64 ": %" PRIu64
		 " bytes of unfinished flushes (%" PRIu64 " intact records in them)",
		 name, start, end - start, found);
}

/* Where the record with LSN `lsn` starts, in a segment whose records were checked. */
static uint64_t record_offset(const struct wal_mapping *map, const struct wal_segment_info *info,
			      uint64_t lsn)
{
	uint64_t offset = WAL_SEGMENT_HEADER_SIZE;
	for (uint64_t expected = info->first_lsn; expected < lsn; expected++) {
		struct wal_record record;
		size_t next;
		uint64_t at;
		enum wal_record_status status = record_next(map, info->data_end, info, offset,
							    expected, false, &record, &at, &next);
		ASSERT(status == WAL_RECORD_OK);
		offset = next;
	}
	/* The end of the record before it; when a gap lies between them, a rewrite from
	 * this page covers the gap's zeros as well. */
	return offset;
}

/* Reads the records of a started segment; classifies what follows them if last. */
static void segment_records(struct wal_scan *scan, const struct wal_mapping *map,
			    struct wal_segment_info *info, bool last)
{
	uint64_t offset = WAL_SEGMENT_HEADER_SIZE;
	uint64_t expected = info->first_lsn;
	uint64_t flush_lsn = 0;
	for (;;) {
		struct wal_record record;
		size_t next;
		uint64_t at;
		enum wal_record_status status = record_next(map, map->size, info, offset, expected,
							    true, &record, &at, &next);
		/* Corruption is reported where the valid records end, before any gap, so
		 * that a walk up to it stops cleanly there. */
		if (status == WAL_RECORD_MALFORMED) {
			corrupt(scan, info->sequence, offset,
				"a record with a valid checksum has an impossible field (type, "
				"reserved bits, LSN or flush LSN)");
			return;
		}
		if (status == WAL_RECORD_OK && record.lsn == expected && record.flush_lsn < flush_lsn) {
			corrupt(scan, info->sequence, offset, "a record's flush began before the last one's");
			return;
		}
		if (status == WAL_RECORD_OK && record.lsn != expected) {
			char detail[64];
			snprintf(detail, sizeof(detail), "LSN %" PRIu64 " where %" PRIu64
				 " was due", record.lsn, expected);
			corrupt(scan, info->sequence, offset, detail);
			return;
		}
		if (status != WAL_RECORD_OK)
			break;
		offset = next;
		expected++;
		flush_lsn = record.flush_lsn;
		info->records++;
	}
	info->last_lsn = expected - 1;
	info->data_end = offset;
	/* Only the last started segment's end can be unsynced (a flush is never in
	 * flight beside one of another segment), from its last record's flush LSN on. */
	info->flush_offset = last && flush_lsn > info->first_lsn
				     ? record_offset(map, info, flush_lsn)
				     : WAL_SEGMENT_HEADER_SIZE;
	if (nonzero_first(map->bytes, offset, map->size) == map->size)
		return;
	if (!last) {
		corrupt(scan, info->sequence, offset,
			"an invalid record is followed by later segments");
		return;
	}
	tail_classify(scan, map, info, offset);
}

/* Why a well-formed header does not belong where it is, or NULL. */
static const char *header_mismatch(const struct wal_segment_header *header, uint32_t shard_index,
				   const struct wal_segment_info *info, uint64_t size,
				   uint64_t expected_lsn)
{
	if (header->shard_index != shard_index)
		return "the header names another shard";
	if (header->sequence != info->sequence)
		return "the header's segment number is not the file's";
	if (header->segment_size != size)
		return "the header's size is not the file's";
	if (expected_lsn != 0 && header->first_lsn != expected_lsn)
		return "its first LSN does not follow the previous segment (an LSN gap)";
	return NULL;
}

/*
 * Checks one started segment file; `last` when no started segment follows it.
 * Only a header that fails its own checksum can be torn (it is written with the
 * segment's first flush); a well-formed header that does not fit is corruption.
 */
static int segment_scan(struct wal_scan *scan, int dir_fd, uint32_t shard_index,
			struct wal_segment_info *info, uint64_t expected_lsn, bool last)
{
	struct wal_mapping map;
	int error = wal_segment_map(dir_fd, info->sequence, &map);
	if (error != 0)
		return error;
	info->file_size = map.size;
	struct wal_segment_header header;
	enum wal_header_status status = map.size < WAL_SEGMENT_HEADER_SIZE
						? WAL_HEADER_BAD
						: wal_segment_header_decode(map.bytes, &header);
	const char *mismatch = status == WAL_HEADER_OK
				       ? header_mismatch(&header, shard_index, info, map.size,
							 expected_lsn)
				       : NULL;
	if (mismatch != NULL) {
		corrupt(scan, info->sequence, 0, mismatch);
	} else if (status == WAL_HEADER_OK) {
		info->started = true;
		info->first_lsn = header.first_lsn;
		info->version = header.version;
		segment_records(scan, &map, info, last);
	} else if (status == WAL_HEADER_EMPTY) {
		corrupt(scan, info->sequence, 0, "a never-started (all-zero) segment inside the log");
	} else if (status == WAL_HEADER_FOREIGN) {
		corrupt(scan, info->sequence, 0,
			"the header is whole but not of this format (another magic or version, or "
			"a zero sequence or LSN): written by another program or version");
	} else if (last) {
		info->last_lsn = expected_lsn ? expected_lsn - 1 : 0;
		tail_classify(scan, &map, info, 0);
		if (scan->state == WAL_SCAN_TORN)
			scan->tail_drop = true;
	} else {
		corrupt(scan, info->sequence, 0, "bad segment header (magic, version or checksum)");
	}
	wal_segment_unmap(&map);
	return 0;
}

/*
 * Segments after the last started one must be spares: zero from end to end. A spare
 * is only made once the segment before it is in use, and that one is never retired
 * before a later one starts: so the first spare follows a started segment directly.
 * The one exception is the segment right after the last started one when the log's
 * last flush was its first: the header went in that flush, and a power loss may have
 * kept later pages of the flush but not the header's. Its data is then a torn tail
 * (when its records all belong to a flush that began at L + 1) and it is dropped.
 */
static int spares_check(struct wal_scan *scan, int dir_fd, uint32_t first)
{
	if (first > 0 && first < scan->segments_count &&
	    scan->segments[first].sequence != scan->segments[first - 1].sequence + 1)
		corrupt(scan, scan->segments[first].sequence, 0, "the segment before it is missing");
	for (uint32_t i = first; i < scan->segments_count && scan->state != WAL_SCAN_CORRUPT; i++) {
		struct wal_mapping map;
		int error = wal_segment_map(dir_fd, scan->segments[i].sequence, &map);
		if (error != 0)
			return error;
		uint64_t nonzero = nonzero_first(map.bytes, 0, map.size);
		if (nonzero != map.size && i == first && first > 0 &&
		    scan->state == WAL_SCAN_CLEAN) {
			struct wal_segment_info *info = &scan->segments[i];
			info->file_size = map.size;
			info->last_lsn = scan->last_lsn;
			tail_classify(scan, &map, info, 0);
			if (scan->state == WAL_SCAN_TORN)
				scan->tail_drop = true;
		} else if (nonzero != map.size) {
			corrupt(scan, scan->segments[i].sequence, nonzero,
				"a segment after the end of the log holds data");
		}
		wal_segment_unmap(&map);
	}
	return 0;
}

/*
 * The headers decide which segments are started (any non-zero byte in the header)
 * and which are spares. Segments are zero-filled to full size before anything uses
 * them, and the next is only made once the current one is in use, so every file
 * but the highest-numbered (perhaps a spare still being filled) is full size: a
 * shorter one was truncated.
 */
static int headers_read(struct wal_scan *scan, int dir_fd, uint32_t *last_started)
{
	*last_started = UINT32_MAX;
	for (uint32_t i = 0; i < scan->segments_count && scan->state != WAL_SCAN_CORRUPT; i++) {
		struct wal_mapping map;
		int error = wal_segment_map(dir_fd, scan->segments[i].sequence, &map);
		if (error != 0)
			return error;
		uint64_t header_end = map.size < WAL_SEGMENT_HEADER_SIZE ? map.size
									 : WAL_SEGMENT_HEADER_SIZE;
		bool started = nonzero_first(map.bytes, 0, header_end) != header_end;
		bool last_file = i + 1 == scan->segments_count;
		if (map.size < WAL_SEGMENT_SIZE_MIN && (started || !last_file)) {
			char detail[96];
			snprintf(detail, sizeof(detail), "the file is %zu bytes: a segment is at least %u",
				 map.size, WAL_SEGMENT_SIZE_MIN);
			corrupt(scan, scan->segments[i].sequence, 0, detail);
		}
		wal_segment_unmap(&map);
		if (started)
			*last_started = i;
	}
	return 0;
}

int wal_scan(int dir_fd, uint32_t shard_index, struct wal_scan *scan)
{
	*scan = (struct wal_scan){ .state = WAL_SCAN_CLEAN };
	struct wal_listing *listing = malloc(sizeof(*listing));
	if (listing == NULL)
		return -ENOMEM;
	int error = wal_list(dir_fd, listing);
	scan->segments = calloc(listing->segments_count + 1, sizeof(*scan->segments));
	if (error == 0 && scan->segments == NULL)
		error = -ENOMEM;
	for (uint32_t i = 0; error == 0 && i < listing->segments_count; i++)
		scan->segments[i].sequence = listing->segments[i];
	scan->segments_count = error == 0 ? listing->segments_count : 0;
	free(listing);
	uint32_t last_started = UINT32_MAX;
	if (error == 0)
		error = headers_read(scan, dir_fd, &last_started);
	uint64_t expected_lsn = 0;
	for (uint32_t i = 0; error == 0 && i < scan->segments_count &&
			     scan->state == WAL_SCAN_CLEAN && last_started != UINT32_MAX &&
			     i <= last_started;
	     i++) {
		struct wal_segment_info *info = &scan->segments[i];
		if (i > 0 && info->sequence != scan->segments[i - 1].sequence + 1) {
			corrupt(scan, info->sequence, 0, "the segment before it is missing");
			break;
		}
		error = segment_scan(scan, dir_fd, shard_index, info, expected_lsn,
				     i == last_started);
		if (scan->state == WAL_SCAN_CORRUPT || !info->started)
			break;
		if (scan->first_lsn == 0 && info->last_lsn >= info->first_lsn)
			scan->first_lsn = info->first_lsn;
		scan->started_count = i + 1;
		scan->records += info->records;
		if (info->last_lsn >= info->first_lsn)
			scan->last_lsn = info->last_lsn;
		expected_lsn = info->last_lsn + 1;
	}
	if (error == 0 && scan->state != WAL_SCAN_CORRUPT)
		error = spares_check(scan, dir_fd, last_started == UINT32_MAX ? 0 : last_started + 1);
	if (error == 0 && scan->state == WAL_SCAN_CLEAN && scan->message[0] == '\0')
		snprintf(scan->message, sizeof(scan->message), "clean: %" PRIu64 " records",
			 scan->records);
	if (error != 0)
		wal_scan_finish(scan);
	return error;
}

void wal_scan_finish(struct wal_scan *scan)
{
	if (scan == NULL)
		return;
	free(scan->segments);
	scan->segments = NULL;
}

uint32_t wal_scan_walked_count(const struct wal_scan *scan)
{
	uint32_t count = scan->started_count;
	ASSERT(count <= scan->segments_count);
	bool damaged = scan->state == WAL_SCAN_CORRUPT && count < scan->segments_count &&
		       scan->segments[count].sequence == scan->tail_sequence &&
		       scan->segments[count].started;
	return count + damaged;
}

/*
 * Calls fn for the records of segment `index` with lsn >= from_lsn, up to `end`.
 * `verified`: the scan checked every checksum up to end, so decoding skips them;
 * the LSNs still say whether the file is the one that was scanned.
 */
static int segment_walk(int dir_fd, const struct wal_scan *scan, uint32_t index, uint64_t end,
			uint64_t from_lsn, bool verified, wal_record_at_fn *fn, void *context)
{
	ASSERT(index < wal_scan_walked_count(scan));
	const struct wal_segment_info *info = &scan->segments[index];
	ASSERT(end >= WAL_SEGMENT_HEADER_SIZE);
	struct wal_mapping map;
	int error = wal_segment_map(dir_fd, info->sequence, &map);
	if (error != 0)
		return error;
	/* The readahead hint halves replay time on a cold cache. */
	madvise((void *)map.bytes, map.size, MADV_SEQUENTIAL);
	/* A file that no longer matches its scan changed under us: an I/O error, since
	 * nothing here can tell what it holds now. */
	int result = map.size < end ? -EIO : 0;
	uint64_t expected = info->first_lsn;
	for (uint64_t offset = WAL_SEGMENT_HEADER_SIZE; result == 0 && offset < end; expected++) {
		struct wal_record record;
		size_t next;
		uint64_t at;
		enum wal_record_status status = record_next(&map, end, info, offset, expected,
							    !verified, &record, &at, &next);
		if (status != WAL_RECORD_OK || record.lsn != expected) {
			result = -EIO;
			break;
		}
		if (record.lsn >= from_lsn)
			result = fn(context, &record, index, at);
		offset = next;
	}
	wal_segment_unmap(&map);
	return result;
}

int wal_walk(int dir_fd, const struct wal_scan *scan, uint64_t from_lsn, wal_record_at_fn *fn,
	     void *context)
{
	uint32_t count = wal_scan_walked_count(scan);
	for (uint32_t i = 0; i < count; i++) {
		const struct wal_segment_info *info = &scan->segments[i];
		if (i < scan->started_count && (info->records == 0 || info->last_lsn < from_lsn))
			continue;
		uint64_t end = i < scan->started_count ? info->data_end : scan->tail_offset;
		int result = segment_walk(dir_fd, scan, i, end, from_lsn, false, fn, context);
		if (result != 0)
			return result;
	}
	return 0;
}

/* wal_replay's function, called through the walk. */
struct replay_call {
	wal_record_fn *fn;
	void *context;
};

static int replay_record(void *context, const struct wal_record *record, uint32_t segment_index,
			 uint64_t offset)
{
	(void)segment_index, (void)offset;
	const struct replay_call *call = context;
	return call->fn(call->context, record);
}

int wal_replay(int dir_fd, const struct wal_scan *scan, uint64_t from_lsn, wal_record_fn *fn,
	       void *context)
{
	ASSERT(scan->state != WAL_SCAN_CORRUPT);
	struct replay_call call = { .fn = fn, .context = context };
	for (uint32_t i = 0; i < scan->started_count; i++) {
		const struct wal_segment_info *info = &scan->segments[i];
		if (info->last_lsn < from_lsn || info->records == 0)
			continue;
		int result = segment_walk(dir_fd, scan, i, info->data_end, from_lsn, true,
					  replay_record, &call);
		if (result != 0)
			return result;
	}
	return 0;
}

/*
 * Writes bytes [start, end) of a segment again, as zeros (`zero`) or as they read,
 * then fdatasyncs it. Returns 0 or -errno.
 */
static int segment_rewrite(int dir_fd, uint64_t sequence, uint64_t start, uint64_t end,
			   bool zero)
{
	char name[64];
	wal_segment_name(sequence, name, sizeof(name));
	int fd = openat(dir_fd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	const size_t capacity = 1u << 20;
	uint8_t *buffer = calloc(1, capacity);
	int error = buffer == NULL ? -ENOMEM : 0;
	for (uint64_t offset = start; offset < end && error == 0; offset += capacity) {
		size_t size = (size_t)(end - offset < capacity ? end - offset : capacity);
		if (!zero)
			error = wal_pread_all(fd, buffer, size, offset);
		if (error == 0)
			error = wal_pwrite_all(fd, buffer, size, offset);
	}
	if (error == 0 && fdatasync(fd) < 0)
		error = -errno;
	free(buffer);
	close(fd);
	return error;
}

int wal_segment_zero(int dir_fd, uint64_t sequence, uint64_t start, uint64_t end)
{
	return segment_rewrite(dir_fd, sequence, start, end, true);
}

int wal_tail_sync(int dir_fd, const struct wal_scan *scan)
{
	if (scan->started_count == 0)
		return 0;
	/* Only the flushes in flight can be unsynced; they lie in the last started
	 * segment (none spans two, and none is in flight beside one of another
	 * segment), from the page of the first record not durable when the last of them
	 * was submitted, which is the header's page when that is the segment's first. */
	const struct wal_segment_info *last = &scan->segments[scan->started_count - 1];
	uint64_t start = last->flush_offset - last->flush_offset % WAL_PAGE_BYTES;
	return segment_rewrite(dir_fd, last->sequence, start, last->data_end, false);
}

int wal_tail_cut(int dir_fd, const struct wal_scan *scan)
{
	ASSERT(scan->state != WAL_SCAN_CORRUPT);
	int error = 0;
	if (scan->state == WAL_SCAN_TORN && !scan->tail_drop)
		error = wal_segment_zero(dir_fd, scan->tail_sequence, scan->tail_offset,
					 scan->tail_end);
	/* Spares, and a last segment whose first flush was torn with its header, go:
	 * the writer prepares fresh ones. */
	for (uint32_t i = scan->started_count; i < scan->segments_count && error == 0; i++) {
		char name[64];
		wal_segment_name(scan->segments[i].sequence, name, sizeof(name));
		error = wal_file_remove(dir_fd, name);
	}
	/* So do snapshots that a crash left half-written (never renamed into place). */
	struct wal_listing *listing = malloc(sizeof(*listing));
	if (error == 0 && listing == NULL)
		error = -ENOMEM;
	if (error == 0)
		error = wal_list(dir_fd, listing);
	for (uint32_t i = 0; error == 0 && i < listing->temporaries_count; i++) {
		char name[64];
		wal_snapshot_name(listing->temporaries[i], true, name, sizeof(name));
		error = wal_file_remove(dir_fd, name);
	}
	free(listing);
	return error;
}
