/*
 * test_record.c — the byte layouts of FORMAT.md: a record and both headers are
 * checked byte for byte against the table (little-endian, xxh3-64 with seed 0),
 * round-tripped, and shown to reject every truncation and every single-bit flip.
 * These are the checks the reader's torn-tail and corruption rules stand on.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <xxhash.h>

#include "base.h"
#include "record.h"

/* Independent little-endian helpers, so that the test does not trust bytes.h. */
static uint64_t load_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = size; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static void store_le(uint8_t *p, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void payload_fill(uint8_t *payload, uint32_t size, uint32_t seed)
{
	for (uint32_t i = 0; i < size; i++)
		payload[i] = (uint8_t)(i * 31u + seed * 7u + 1u);
}

Test(record, xxh3_is_the_seed_zero_64_bit_variant)
{
	/* The published xxh3-64 value of the empty input: a different hash or seed
	 * would make every log unreadable by other implementations of FORMAT.md. */
	cr_assert_eq(XXH3_64bits("", 0), UINT64_C(0x2D06800538D394C2));
}

Test(record, encodes_the_documented_little_endian_layout)
{
	const uint8_t payload[3] = { 'a', 'b', 'c' };
	uint8_t bytes[64];
	memset(bytes, 0xee, sizeof(bytes));
	size_t size = wal_record_encode(bytes, WAL_RECORD_TYPE_COMMAND,
					UINT64_C(0x0102030405060708), UINT64_C(0x0102030405060700),
					(int64_t)UINT64_C(0x1112131415161718), payload, 3);
	cr_assert_eq(size, 43);
	cr_assert_eq(wal_record_size(3), 43);
	const uint8_t expected[35] = {
		0x03, 0x00, 0x00, 0x00,				/* payload size */
		0x01, 0x00,					/* type: command */
		0x00, 0x00,					/* reserved */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* LSN */
		0x00, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* first LSN of its flush */
		0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11, /* timestamp */
		'a', 'b', 'c',
	};
	cr_assert_arr_eq(bytes, expected, sizeof(expected));
	cr_assert_eq(load_le(bytes + 35, 8), XXH3_64bits(expected, sizeof(expected)));
	cr_assert_eq(bytes[43], 0xee, "the encoder writes nothing past the record");
}

Test(record, negative_timestamp_is_stored_as_twos_complement)
{
	const uint8_t payload[1] = { 9 };
	uint8_t bytes[48];
	wal_record_encode(bytes, WAL_RECORD_TYPE_COMMAND, 1, 1, -2, payload, 1);
	cr_assert_eq(load_le(bytes + 24, 8), UINT64_C(0xfffffffffffffffe));
	struct wal_record record;
	size_t next = 0;
	cr_assert_eq(wal_record_decode(bytes, sizeof(bytes), 0, &record, &next), WAL_RECORD_OK);
	cr_assert_eq(record.timestamp_ms, -2);
}

Test(record, round_trips_sizes_from_one_byte_to_the_maximum)
{
	static uint8_t payload[WAL_RECORD_PAYLOAD_MAX];
	static uint8_t bytes[WAL_RECORD_PAYLOAD_MAX + WAL_RECORD_OVERHEAD + 16];
	const uint32_t sizes[] = { 1, 2, 255, 256, 4096, 65537, WAL_RECORD_PAYLOAD_MAX };
	for (uint32_t i = 0; i < ARRAY_COUNT(sizes); i++) {
		payload_fill(payload, sizes[i], i);
		uint64_t lsn = UINT64_C(1) << (i * 9);
		uint64_t flush_lsn = lsn - (lsn > 1 ? i & 1 : 0);
		size_t size = wal_record_encode(bytes + 8, WAL_RECORD_TYPE_COMMAND, lsn, flush_lsn,
						1000 + i, payload, sizes[i]);
		cr_assert_eq(size, WAL_RECORD_OVERHEAD + sizes[i]);
		struct wal_record record;
		size_t next = 0;
		enum wal_record_status status =
			wal_record_decode(bytes, 8 + size, 8, &record, &next);
		cr_assert_eq(status, WAL_RECORD_OK, "payload size %u", sizes[i]);
		cr_assert_eq(next, 8 + size);
		cr_assert_eq(record.payload_size, sizes[i]);
		cr_assert_eq(record.type, WAL_RECORD_TYPE_COMMAND);
		cr_assert_eq(record.flush_lsn, flush_lsn);
		cr_assert_eq(record.lsn, lsn);
		cr_assert_eq(record.timestamp_ms, 1000 + i);
		cr_assert_eq(record.payload, bytes + 8 + 32, "the payload is borrowed, not copied");
		cr_assert_eq(memcmp(record.payload, payload, sizes[i]), 0);
	}
}

Test(record, setting_the_flush_lsn_reseals_the_record_and_changes_nothing_else)
{
	const uint8_t payload[7] = { 7, 6, 5, 4, 3, 2, 1 };
	uint8_t bytes[64], expected[64];
	memset(bytes, 0xee, sizeof(bytes));
	memset(expected, 0xee, sizeof(expected));
	size_t size = wal_record_encode(bytes, WAL_RECORD_TYPE_COMMAND, 90, 90, 5, payload, 7);
	wal_record_encode(expected, WAL_RECORD_TYPE_COMMAND, 90, 71, 5, payload, 7);
	cr_assert_eq(wal_record_flush_lsn_set(bytes, 71), size);
	cr_assert_arr_eq(bytes, expected, sizeof(bytes), "as if encoded with it");
	struct wal_record record;
	size_t next = 0;
	cr_assert_eq(wal_record_decode(bytes, size, 0, &record, &next), WAL_RECORD_OK);
	cr_assert_eq(record.flush_lsn, 71);
	cr_assert_eq(record.lsn, 90);
}

Test(record, records_decode_back_to_back_and_zeros_end_the_data)
{
	uint8_t bytes[256] = { 0 };
	const uint8_t payload[5] = { 1, 2, 3, 4, 5 };
	size_t end = 0;
	for (uint64_t lsn = 7; lsn < 10; lsn++)
		end += wal_record_encode(bytes + end, WAL_RECORD_TYPE_COMMAND, lsn, 7, 0, payload,
					 (uint32_t)(lsn - 5));
	size_t offset = 0;
	for (uint64_t lsn = 7; lsn < 10; lsn++) {
		struct wal_record record;
		size_t next = 0;
		cr_assert_eq(wal_record_decode(bytes, sizeof(bytes), offset, &record, &next),
			     WAL_RECORD_OK);
		cr_assert_eq(record.lsn, lsn);
		offset = next;
	}
	cr_assert_eq(offset, end);
	struct wal_record record;
	size_t next = 12345;
	cr_assert_eq(wal_record_decode(bytes, sizeof(bytes), offset, &record, &next), WAL_RECORD_END);
	cr_assert_eq(wal_record_decode(bytes, sizeof(bytes), sizeof(bytes), &record, &next),
		     WAL_RECORD_END);
	cr_assert_eq(next, 12345, "next is left alone unless a record was decoded");
}

static bool all_zero(const uint8_t *bytes, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		if (bytes[i] != 0)
			return false;
	}
	return true;
}

/* Decodes the record cut to every shorter length, at offset 0 and after a prefix. */
static void truncations_check(const uint8_t *record, size_t record_size)
{
	static uint8_t bytes[1024];
	cr_assert_leq(record_size + 40, sizeof(bytes));
	for (size_t prefix = 0; prefix <= 40; prefix += 40) {
		memset(bytes, 0x5a, prefix);
		memcpy(bytes + prefix, record, record_size);
		for (size_t kept = 0; kept < record_size; kept++) {
			struct wal_record decoded;
			size_t next = 0;
			enum wal_record_status status =
				wal_record_decode(bytes, prefix + kept, prefix, &decoded, &next);
			enum wal_record_status expected =
				all_zero(record, kept) ? WAL_RECORD_END : WAL_RECORD_BAD;
			cr_assert_eq(status, expected, "record of %zu bytes cut to %zu: %d",
				     record_size, kept, status);
		}
	}
}

Test(record, every_truncation_is_bad_unless_nothing_but_zeros_is_left)
{
	uint8_t payload[300];
	uint8_t record[400];
	/* Size 256 starts with a zero byte: cut to one byte, it looks like the end. */
	const uint32_t sizes[] = { 1, 3, 100, 256, 300 };
	for (uint32_t i = 0; i < ARRAY_COUNT(sizes); i++) {
		payload_fill(payload, sizes[i], i);
		size_t size = wal_record_encode(record, WAL_RECORD_TYPE_COMMAND, 42, 40, 7, payload,
						sizes[i]);
		truncations_check(record, size);
	}
}

/*
 * Flips each bit of an encoded record. Everything is BAD except the one flip that
 * turns a power-of-two payload size into zero, which by FORMAT.md reads as the end
 * of the data (the reader then finds the non-zero bytes after it).
 */
static void bit_flips_check(uint32_t payload_size, uint64_t flush_back)
{
	uint8_t payload[600];
	uint8_t bytes[700];
	payload_fill(payload, payload_size, payload_size);
	size_t size = wal_record_encode(bytes, WAL_RECORD_TYPE_COMMAND, 1234567,
					1234567 - flush_back, 89, payload, payload_size);
	for (size_t bit = 0; bit < size * 8; bit++) {
		bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		struct wal_record record;
		size_t next = 0;
		enum wal_record_status status = wal_record_decode(bytes, size, 0, &record, &next);
		bool size_zeroed = load_le(bytes, 4) == 0;
		cr_assert_eq(status, size_zeroed ? WAL_RECORD_END : WAL_RECORD_BAD,
			     "payload %u, bit %zu flipped: status %d", payload_size, bit, status);
		bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	struct wal_record record;
	size_t next = 0;
	cr_assert_eq(wal_record_decode(bytes, size, 0, &record, &next), WAL_RECORD_OK);
}

Test(record, every_single_bit_flip_is_bad)
{
	bit_flips_check(3, 0);
	bit_flips_check(7, 1);
	bit_flips_check(100, 0);
	bit_flips_check(513, 99);
	bit_flips_check(1, 0);
	bit_flips_check(512, 1234566);
}

/* Re-seals a hand-edited record so that only the edited field is wrong. */
static void record_reseal(uint8_t *bytes, uint32_t payload_size)
{
	store_le(bytes + 32 + payload_size, XXH3_64bits(bytes, 32 + (size_t)payload_size), 8);
}

Test(record, well_sealed_records_with_impossible_fields_are_malformed)
{
	const uint8_t payload[4] = { 1, 2, 3, 4 };
	uint8_t bytes[64];
	struct wal_record record;
	size_t next = 0;
	struct {
		unsigned offset, size;
		uint64_t value;
		const char *what;
	} edits[] = {
		{ 4, 2, 0, "type 0" },
		{ 4, 2, 2, "type 2" },
		{ 6, 2, 1, "a reserved bit" },
		{ 6, 2, 0x8000, "the top reserved bit" },
		{ 8, 8, 0, "LSN 0" },
		{ 16, 8, 0, "flush LSN 0" },
		{ 16, 8, 6, "a flush that begins after the record" },
	};
	for (uint32_t i = 0; i < ARRAY_COUNT(edits); i++) {
		wal_record_encode(bytes, WAL_RECORD_TYPE_COMMAND, 5, 3, 6, payload, 4);
		store_le(bytes + edits[i].offset, edits[i].value, edits[i].size);
		record_reseal(bytes, 4);
		cr_assert_eq(wal_record_decode(bytes, sizeof(bytes), 0, &record, &next),
			     WAL_RECORD_MALFORMED, "%s", edits[i].what);
	}
	/* A size over the maximum is refused before anything is read past the header. */
	memset(bytes, 0, sizeof(bytes));
	store_le(bytes, WAL_RECORD_PAYLOAD_MAX + 1, 4);
	cr_assert_eq(wal_record_decode(bytes, sizeof(bytes), 0, &record, &next), WAL_RECORD_BAD);
	store_le(bytes, UINT32_MAX, 4);
	cr_assert_eq(wal_record_decode(bytes, sizeof(bytes), 0, &record, &next), WAL_RECORD_BAD);
}

Test(record, one_to_three_trailing_bytes_end_the_data_only_when_zero)
{
	const uint8_t zeros[3] = { 0 };
	const uint8_t stray[3] = { 0, 0, 1 };
	struct wal_record record;
	size_t next = 0;
	for (size_t size = 1; size <= 3; size++) {
		cr_assert_eq(wal_record_decode(zeros, size, 0, &record, &next), WAL_RECORD_END);
		enum wal_record_status expected = size == 3 ? WAL_RECORD_BAD : WAL_RECORD_END;
		cr_assert_eq(wal_record_decode(stray, size, 0, &record, &next), expected);
	}
}

/* Segment headers. */

static const struct wal_segment_header sample_segment = {
	.shard_index = 0x0a0b0c0d, .sequence = 0x1122334455667788,
	.first_lsn = 0x0102030405060708, .segment_size = WAL_SEGMENT_SIZE_DEFAULT, .version = 2
};

Test(segment_header, encodes_the_documented_layout)
{
	uint8_t bytes[WAL_SEGMENT_HEADER_SIZE];
	memset(bytes, 0xee, sizeof(bytes));
	wal_segment_header_encode(&sample_segment, bytes);
	cr_assert_eq(memcmp(bytes, "BOXWALSG", 8), 0);
	cr_assert_eq(load_le(bytes + 8, 4), 2);
	cr_assert_eq(load_le(bytes + 12, 4), 0x0a0b0c0d);
	cr_assert_eq(load_le(bytes + 16, 8), sample_segment.sequence);
	cr_assert_eq(load_le(bytes + 24, 8), sample_segment.first_lsn);
	cr_assert_eq(load_le(bytes + 32, 8), WAL_SEGMENT_SIZE_DEFAULT);
	cr_assert(all_zero(bytes + 40, 16));
	cr_assert_eq(load_le(bytes + 56, 8), XXH3_64bits(bytes, 56));
}

Test(segment_header, round_trips)
{
	uint8_t bytes[WAL_SEGMENT_HEADER_SIZE];
	wal_segment_header_encode(&sample_segment, bytes);
	struct wal_segment_header header = { 0 };
	cr_assert_eq(wal_segment_header_decode(bytes, &header), WAL_HEADER_OK);
	cr_assert_eq(header.shard_index, sample_segment.shard_index);
	cr_assert_eq(header.sequence, sample_segment.sequence);
	cr_assert_eq(header.first_lsn, sample_segment.first_lsn);
	cr_assert_eq(header.segment_size, sample_segment.segment_size);
}

/* Logs written before version 2 are still read: a version-1 header decodes as such. */
Test(segment_header, version_1_is_still_read_and_says_so)
{
	uint8_t bytes[WAL_SEGMENT_HEADER_SIZE];
	wal_segment_header_encode(&sample_segment, bytes);
	struct wal_segment_header header = { 0 };
	cr_assert_eq(wal_segment_header_decode(bytes, &header), WAL_HEADER_OK);
	cr_assert_eq(header.version, 2);
	store_le(bytes + 8, 1, 4);
	store_le(bytes + 56, XXH3_64bits(bytes, 56), 8);
	cr_assert_eq(wal_segment_header_decode(bytes, &header), WAL_HEADER_OK);
	cr_assert_eq(header.version, 1);
	cr_assert_eq(header.first_lsn, sample_segment.first_lsn);
}

Test(segment_header, all_zeros_is_an_empty_spare)
{
	const uint8_t zeros[WAL_SEGMENT_HEADER_SIZE] = { 0 };
	struct wal_segment_header header;
	cr_assert_eq(wal_segment_header_decode(zeros, &header), WAL_HEADER_EMPTY);
}

/* Edits one field of a good header, re-seals it, and expects FOREIGN: whole, not torn. */
static void segment_field_check(unsigned offset, unsigned size, uint64_t value, const char *what)
{
	uint8_t bytes[WAL_SEGMENT_HEADER_SIZE];
	wal_segment_header_encode(&sample_segment, bytes);
	store_le(bytes + offset, value, size);
	store_le(bytes + 56, XXH3_64bits(bytes, 56), 8);
	struct wal_segment_header header;
	cr_assert_eq(wal_segment_header_decode(bytes, &header), WAL_HEADER_FOREIGN, "%s", what);
}

Test(segment_header, wrong_magic_version_or_reserved_bytes_are_foreign_when_sealed)
{
	segment_field_check(0, 8, load_le((const uint8_t *)"BOXSNAPS", 8), "snapshot magic");
	segment_field_check(7, 1, 'g', "magic case");
	segment_field_check(8, 4, 0, "version 0");
	segment_field_check(8, 4, 3, "version 3");
	segment_field_check(16, 8, 0, "segment number 0");
	segment_field_check(24, 8, 0, "first LSN 0");
	segment_field_check(40, 1, 1, "reserved byte 40");
	segment_field_check(55, 1, 0x80, "reserved byte 55");
}

Test(segment_header, every_single_bit_flip_is_bad)
{
	uint8_t bytes[WAL_SEGMENT_HEADER_SIZE];
	wal_segment_header_encode(&sample_segment, bytes);
	for (unsigned bit = 0; bit < WAL_SEGMENT_HEADER_SIZE * 8; bit++) {
		bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		struct wal_segment_header header;
		cr_assert_eq(wal_segment_header_decode(bytes, &header), WAL_HEADER_BAD, "bit %u",
			     bit);
		bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
}

Test(segment_header, a_single_stray_byte_in_a_spare_is_bad_not_empty)
{
	for (unsigned offset = 0; offset < WAL_SEGMENT_HEADER_SIZE; offset++) {
		uint8_t bytes[WAL_SEGMENT_HEADER_SIZE] = { 0 };
		bytes[offset] = 1;
		struct wal_segment_header header;
		cr_assert_eq(wal_segment_header_decode(bytes, &header), WAL_HEADER_BAD,
			     "offset %u", offset);
	}
}

/* Snapshot headers. */

static const struct wal_snapshot_header sample_snapshot = {
	.shard_index = 3, .lsn = 0x0102030405060708, .image_size = 0x1234567,
	.image_checksum = 0xfedcba9876543210
};

Test(snapshot_header, encodes_the_documented_layout_and_round_trips)
{
	uint8_t bytes[WAL_SNAPSHOT_HEADER_SIZE];
	memset(bytes, 0xee, sizeof(bytes));
	wal_snapshot_header_encode(&sample_snapshot, bytes);
	cr_assert_eq(memcmp(bytes, "BOXSNAPS", 8), 0);
	cr_assert_eq(load_le(bytes + 8, 4), 1);
	cr_assert_eq(load_le(bytes + 12, 4), 3);
	cr_assert_eq(load_le(bytes + 16, 8), sample_snapshot.lsn);
	cr_assert_eq(load_le(bytes + 24, 8), sample_snapshot.image_size);
	cr_assert_eq(load_le(bytes + 32, 8), sample_snapshot.image_checksum);
	cr_assert(all_zero(bytes + 40, 16));
	cr_assert_eq(load_le(bytes + 56, 8), XXH3_64bits(bytes, 56));
	struct wal_snapshot_header header = { 0 };
	cr_assert(wal_snapshot_header_decode(bytes, &header));
	cr_assert_eq(header.shard_index, sample_snapshot.shard_index);
	cr_assert_eq(header.lsn, sample_snapshot.lsn);
	cr_assert_eq(header.image_size, sample_snapshot.image_size);
	cr_assert_eq(header.image_checksum, sample_snapshot.image_checksum);
}

Test(snapshot_header, every_single_bit_flip_and_a_segment_header_are_refused)
{
	uint8_t bytes[WAL_SNAPSHOT_HEADER_SIZE];
	wal_snapshot_header_encode(&sample_snapshot, bytes);
	struct wal_snapshot_header header;
	for (unsigned bit = 0; bit < WAL_SNAPSHOT_HEADER_SIZE * 8; bit++) {
		bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_not(wal_snapshot_header_decode(bytes, &header), "bit %u", bit);
		bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	const uint8_t zeros[WAL_SNAPSHOT_HEADER_SIZE] = { 0 };
	cr_assert_not(wal_snapshot_header_decode(zeros, &header));
	/* Snapshots stay at version 1 when segments move to 2. */
	store_le(bytes + 8, 2, 4);
	store_le(bytes + 56, XXH3_64bits(bytes, 56), 8);
	cr_assert_not(wal_snapshot_header_decode(bytes, &header), "snapshot version 2");
	uint8_t segment[WAL_SEGMENT_HEADER_SIZE];
	wal_segment_header_encode(&sample_segment, segment);
	cr_assert_not(wal_snapshot_header_decode(segment, &header));
	struct wal_segment_header as_segment;
	cr_assert_eq(wal_segment_header_decode(bytes, &as_segment), WAL_HEADER_FOREIGN);
}
