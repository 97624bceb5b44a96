/*
 * record.h — the byte layout of segment headers, records and snapshot headers
 * (FORMAT.md). Pure functions: no I/O.
 */
#ifndef BOXOFFICE_WAL_RECORD_H
#define BOXOFFICE_WAL_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Segments: version 2 may leave a page's end zero between two flushes (FORMAT.md,
 * "Flushes in flight"); version 1 never does, and is still read. */
#define WAL_SEGMENT_VERSION 2u
#define WAL_SEGMENT_VERSION_MIN 1u
#define WAL_SNAPSHOT_VERSION 1u
#define WAL_SEGMENT_HEADER_SIZE 64u
#define WAL_RECORD_HEADER_SIZE 32u
#define WAL_RECORD_OVERHEAD 40u /* header 32 + checksum 8 */
#define WAL_RECORD_PAYLOAD_MAX (512u * 1024u)
#define WAL_RECORD_TYPE_COMMAND 1u
#define WAL_SEGMENT_SIZE_DEFAULT (64u * 1024u * 1024u)
#define WAL_SEGMENT_SIZE_MIN (WAL_SEGMENT_HEADER_SIZE + WAL_RECORD_OVERHEAD + WAL_RECORD_PAYLOAD_MAX)
#define WAL_SNAPSHOT_HEADER_SIZE 64u

struct wal_segment_header {
	uint32_t shard_index;
	uint64_t sequence;  /* 1.. */
	uint64_t first_lsn; /* 1.. */
	uint64_t segment_size;
	uint32_t version; /* 1 or 2 (FORMAT.md): the writer says which */
};

void wal_segment_header_encode(const struct wal_segment_header *header, uint8_t *bytes);

enum wal_header_status {
	WAL_HEADER_OK = 0,
	WAL_HEADER_EMPTY = 1, /* all zeros: a spare, never started */
	WAL_HEADER_BAD = 2,   /* its checksum fails: a torn (or damaged) write */
	WAL_HEADER_FOREIGN = 3, /* checksum right, but another magic, version or bad fields */
};

enum wal_header_status wal_segment_header_decode(const uint8_t *bytes,
						 struct wal_segment_header *header);

struct wal_record {
	uint32_t payload_size;
	uint16_t type;
	uint64_t lsn;
	/* The first LSN that was not yet durable when the flush that wrote it was
	 * submitted: <= lsn. With one flush at a time, the flush's own first LSN. */
	uint64_t flush_lsn;
	int64_t timestamp_ms;
	const uint8_t *payload; /* borrowed */
};

/* Writes a record (header, payload, checksum) at bytes; returns its size. */
size_t wal_record_encode(uint8_t *bytes, uint16_t type, uint64_t lsn, uint64_t flush_lsn,
			 int64_t timestamp_ms, const void *payload, uint32_t payload_size);

enum wal_record_status {
	WAL_RECORD_OK = 0,
	WAL_RECORD_END = 1, /* a zero size field: no more records in this segment */
	WAL_RECORD_BAD = 2,	  /* cut short, or the checksum does not match */
	WAL_RECORD_MALFORMED = 3, /* the checksum matches but a field is impossible */
};

/*
 * Parses the record at bytes[offset..size). On WAL_RECORD_OK fills *record and sets
 * *next to the offset after it.
 */
enum wal_record_status wal_record_decode(const uint8_t *bytes, size_t size, size_t offset,
					 struct wal_record *record, size_t *next);

/*
 * As wal_record_decode, without the checksum: for records a scan has just
 * verified (replay reads every record twice; hashing it twice is waste).
 */
enum wal_record_status wal_record_decode_verified(const uint8_t *bytes, size_t size,
						  size_t offset, struct wal_record *record,
						  size_t *next);

/*
 * Sets the flush LSN of the record at bytes (encoded by wal_record_encode, so its
 * size field is sound) and seals it again. Returns its size.
 */
size_t wal_record_flush_lsn_set(uint8_t *bytes, uint64_t flush_lsn);

static inline size_t wal_record_size(uint32_t payload_size)
{
	return WAL_RECORD_OVERHEAD + payload_size;
}

struct wal_snapshot_header {
	uint32_t shard_index;
	uint64_t lsn;
	uint64_t image_size;
	uint64_t image_checksum;
};

void wal_snapshot_header_encode(const struct wal_snapshot_header *header, uint8_t *bytes);
bool wal_snapshot_header_decode(const uint8_t *bytes, struct wal_snapshot_header *header);

#endif
