/*
 * record.c — encoding and validation of the on-disk layouts (see FORMAT.md).
 */
#include "record.h"

#include <string.h>
#include <xxhash.h>

#include "base.h"
#include "bytes.h"

static const char segment_magic[8] = { 'B', 'O', 'X', 'W', 'A', 'L', 'S', 'G' };
static const char snapshot_magic[8] = { 'B', 'O', 'X', 'S', 'N', 'A', 'P', 'S' };

/* Both 64-byte headers: magic, version, fields from offset 12, checksum at 56. */
static void header_seal(uint8_t *bytes, const char *magic, uint32_t version)
{
	memcpy(bytes, magic, 8);
	bytes_store_u32(bytes + 8, version);
	memset(bytes + 40, 0, 16);
	bytes_store_u64(bytes + 56, XXH3_64bits(bytes, 56));
}

static bool header_valid(const uint8_t *bytes, const char *magic, uint32_t version_min,
			 uint32_t version_max)
{
	static const uint8_t zeros[16];
	uint32_t version = bytes_load_u32(bytes + 8);
	return memcmp(bytes, magic, 8) == 0 && version >= version_min && version <= version_max &&
	       memcmp(bytes + 40, zeros, sizeof(zeros)) == 0 &&
	       bytes_load_u64(bytes + 56) == XXH3_64bits(bytes, 56);
}

void wal_segment_header_encode(const struct wal_segment_header *header, uint8_t *bytes)
{
	ASSERT(header->sequence >= 1 && header->first_lsn >= 1);
	ASSERT(header->version >= WAL_SEGMENT_VERSION_MIN && header->version <= WAL_SEGMENT_VERSION);
	bytes_store_u32(bytes + 12, header->shard_index);
	bytes_store_u64(bytes + 16, header->sequence);
	bytes_store_u64(bytes + 24, header->first_lsn);
	bytes_store_u64(bytes + 32, header->segment_size);
	header_seal(bytes, segment_magic, header->version);
}

enum wal_header_status wal_segment_header_decode(const uint8_t *bytes,
						 struct wal_segment_header *header)
{
	bool zero = true;
	for (uint32_t i = 0; i < WAL_SEGMENT_HEADER_SIZE && zero; i++)
		zero = bytes[i] == 0;
	if (zero)
		return WAL_HEADER_EMPTY;
	if (bytes_load_u64(bytes + 56) != XXH3_64bits(bytes, 56))
		return WAL_HEADER_BAD;
	/* Whole, so not torn: a header that is not this format's must not be cut away. */
	if (!header_valid(bytes, segment_magic, WAL_SEGMENT_VERSION_MIN, WAL_SEGMENT_VERSION))
		return WAL_HEADER_FOREIGN;
	*header = (struct wal_segment_header){
		.shard_index = bytes_load_u32(bytes + 12), .sequence = bytes_load_u64(bytes + 16),
		.first_lsn = bytes_load_u64(bytes + 24), .segment_size = bytes_load_u64(bytes + 32),
		.version = bytes_load_u32(bytes + 8) };
	if (header->sequence == 0 || header->first_lsn == 0)
		return WAL_HEADER_FOREIGN;
	return WAL_HEADER_OK;
}

size_t wal_record_encode(uint8_t *bytes, uint16_t type, uint64_t lsn, uint64_t flush_lsn,
			 int64_t timestamp_ms, const void *payload, uint32_t payload_size)
{
	ASSERT(payload_size >= 1 && payload_size <= WAL_RECORD_PAYLOAD_MAX);
	bytes_store_u32(bytes, payload_size);
	bytes_store_u16(bytes + 4, type);
	bytes_store_u16(bytes + 6, 0);
	bytes_store_u64(bytes + 8, lsn);
	bytes_store_u64(bytes + 24, (uint64_t)timestamp_ms);
	memcpy(bytes + WAL_RECORD_HEADER_SIZE, payload, payload_size);
	return wal_record_flush_lsn_set(bytes, flush_lsn);
}

size_t wal_record_flush_lsn_set(uint8_t *bytes, uint64_t flush_lsn)
{
	uint32_t payload_size = bytes_load_u32(bytes);
	ASSERT(flush_lsn >= 1 && flush_lsn <= bytes_load_u64(bytes + 8));
	bytes_store_u64(bytes + 16, flush_lsn);
	size_t sealed = WAL_RECORD_HEADER_SIZE + (size_t)payload_size;
	bytes_store_u64(bytes + sealed, XXH3_64bits(bytes, sealed));
	return wal_record_size(payload_size);
}

static enum wal_record_status record_decode(const uint8_t *bytes, size_t size, size_t offset,
					    struct wal_record *record, size_t *next, bool verify)
{
	if (offset >= size)
		return WAL_RECORD_END;
	if (size - offset < 4) {
		for (size_t i = offset; i < size; i++) {
			if (bytes[i] != 0)
				return WAL_RECORD_BAD;
		}
		return WAL_RECORD_END;
	}
	const uint8_t *p = bytes + offset;
	uint32_t payload_size = bytes_load_u32(p);
	if (payload_size == 0)
		return WAL_RECORD_END;
	if (payload_size > WAL_RECORD_PAYLOAD_MAX || size - offset < wal_record_size(payload_size))
		return WAL_RECORD_BAD;
	size_t sealed = WAL_RECORD_HEADER_SIZE + (size_t)payload_size;
	if (verify && bytes_load_u64(p + sealed) != XXH3_64bits(p, sealed))
		return WAL_RECORD_BAD;
	*record = (struct wal_record){
		.payload_size = payload_size, .type = bytes_load_u16(p + 4),
		.lsn = bytes_load_u64(p + 8), .flush_lsn = bytes_load_u64(p + 16),
		.timestamp_ms = (int64_t)bytes_load_u64(p + 24), .payload = p + WAL_RECORD_HEADER_SIZE };
	/* A sealed record with an impossible field was written wrong: never torn. */
	if (record->type != WAL_RECORD_TYPE_COMMAND || bytes_load_u16(p + 6) != 0 ||
	    record->lsn == 0 || record->flush_lsn == 0 || record->flush_lsn > record->lsn)
		return WAL_RECORD_MALFORMED;
	*next = offset + wal_record_size(payload_size);
	return WAL_RECORD_OK;
}

enum wal_record_status wal_record_decode(const uint8_t *bytes, size_t size, size_t offset,
					 struct wal_record *record, size_t *next)
{
	return record_decode(bytes, size, offset, record, next, true);
}

enum wal_record_status wal_record_decode_verified(const uint8_t *bytes, size_t size,
						  size_t offset, struct wal_record *record,
						  size_t *next)
{
	return record_decode(bytes, size, offset, record, next, false);
}

void wal_snapshot_header_encode(const struct wal_snapshot_header *header, uint8_t *bytes)
{
	bytes_store_u32(bytes + 12, header->shard_index);
	bytes_store_u64(bytes + 16, header->lsn);
	bytes_store_u64(bytes + 24, header->image_size);
	bytes_store_u64(bytes + 32, header->image_checksum);
	header_seal(bytes, snapshot_magic, WAL_SNAPSHOT_VERSION);
}

bool wal_snapshot_header_decode(const uint8_t *bytes, struct wal_snapshot_header *header)
{
	if (!header_valid(bytes, snapshot_magic, WAL_SNAPSHOT_VERSION, WAL_SNAPSHOT_VERSION))
		return false;
	*header = (struct wal_snapshot_header){
		.shard_index = bytes_load_u32(bytes + 12), .lsn = bytes_load_u64(bytes + 16),
		.image_size = bytes_load_u64(bytes + 24),
		.image_checksum = bytes_load_u64(bytes + 32) };
	return true;
}
