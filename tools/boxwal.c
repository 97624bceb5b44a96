/*
 * boxwal — the operator's tool for one shard's directory of segment-*.wal and
 * snapshot-*.snap files (wal/FORMAT.md): verify it, dump its records, rebuild its
 * state offline, print its figures, and cut the log after an LSN as an explicit
 * repair.
 *
 * Only truncate writes, and only once every check has passed; the other commands
 * only read, so they are safe next to a running shard (which they may catch in the
 * middle of a flush: that shows as a torn tail). Usage and exit codes are in the
 * texts below (boxwal --help).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "engine.h"
#include "files.h"
#include "reader.h"
#include "record.h"
#include "recovery.h"
#include "snapshot.h"

enum exit_code {
	EXIT_IO_ERROR = 1,
	EXIT_TORN = 2,
	EXIT_CORRUPT = 3, /* also: the command refused */
	EXIT_SNAPSHOT = 4,
	EXIT_USAGE = 64, /* EX_USAGE of sysexits.h */
};

static const char usage_main[] =
	"usage: boxwal COMMAND DIR [OPTIONS]\n"
	"\n"
	"The operator's tool for one shard's directory of segment-*.wal and snapshot-*.snap\n"
	"files (wal/FORMAT.md).\n"
	"\n"
	"commands:\n"
	"  verify DIR     check every segment, record and snapshot\n"
	"  dump DIR       print the records\n"
	"  replay DIR     rebuild the state offline, as recovery would, and print it\n"
	"  stats DIR      records, segments, bytes, LSN range, snapshots\n"
	"  truncate DIR   cut the log after an LSN (the only command that writes)\n"
	"\n"
	"Every command takes --shard N (default 0), the shard index the file headers must\n"
	"carry. Numbers are decimal, or hexadecimal after 0x (snapshot names give LSNs in\n"
	"hex). 'boxwal COMMAND --help' describes a command.\n"
	"\n"
	"exit status:\n"
	"  0   ok\n"
	"  1   I/O error\n"
	"  2   torn tail found (verify)\n"
	"  3   corruption found, or the command refused\n"
	"  4   damaged or unusable snapshot (verify)\n"
	"  64  usage error\n";

static const char usage_verify[] =
	"usage: boxwal verify DIR [--shard N]\n"
	"\n"
	"Checks every segment (header, record framing, checksums, LSN sequence), decodes\n"
	"every record as a command, checks that the segments after the end of the log\n"
	"are all zeros, and reads and decodes every snapshot. Prints a summary when all\n"
	"is sound; otherwise a line per problem, and exits with the most serious:\n"
	"  3  corruption: recovery refuses to start ('boxwal truncate' is the repair)\n"
	"  4  a damaged or unusable snapshot (the report says whether recovery falls back)\n"
	"  2  a torn tail: an unfinished last flush, which recovery cuts; reported so that\n"
	"     scripts notice\n"
	"  1  an I/O error\n";

static const char usage_dump[] =
	"usage: boxwal dump DIR [--shard N] [--from LSN] [--limit N] [--json] [--force]\n"
	"\n"
	"Prints the records of the valid log: LSN, time (ISO 8601 UTC), 'flush' for the\n"
	"last record of a flush, and the decoded command with its fields. Hold and booking\n"
	"ids print as SHOW:N (with --json as the 64-bit id); a venue prints its seat\n"
	"counts, not its layout.\n"
	"  --from LSN   start at this LSN (default: the first record kept)\n"
	"  --limit N    print at most N records\n"
	"  --json       one JSON object per line (JSON Lines), with the same fields\n"
	"  --force      on a corrupt log, print the records before the corruption\n"
	"               (without it the dump refuses with exit 3)\n"
	"Where a torn or corrupt log stops is said on stderr. A record whose checksum\n"
	"is right but which is not a command prints as 'undecodable' (exit 3 unless\n"
	"--force).\n";

static const char usage_replay[] =
	"usage: boxwal replay DIR [--shard N] [--shards COUNT] [--hold-ttl-ms MS]\n"
	"                         [--waitlist-idle-ms MS] [--json]\n"
	"\n"
	"Rebuilds the shard's state as recovery would (the newest usable snapshot, then\n"
	"every later record) without writing anything: a torn tail is reported, not cut.\n"
	"Prints the state digest, the snapshot used, the records replayed, the last LSN,\n"
	"the time taken, the open holds of the shard, and for every show the shard owns\n"
	"its seats per tier: available, held (seats in holds and offers), pooled (held\n"
	"for the waiting list), booked, blocked, and the waiting-list length.\n"
	"  --shards COUNT          shards in the deployment (default: the newest readable\n"
	"                          snapshot's count, else 1)\n"
	"  --hold-ttl-ms MS        the engine settings the log was written with (defaults\n"
	"  --waitlist-idle-ms MS   600000 and 120000); a snapshot carries its own, so they\n"
	"                          matter only when replay starts from LSN 1\n"
	"  --json                  one JSON object\n"
	"Exit 3 when recovery would refuse (corruption, no usable snapshot).\n";

static const char usage_stats[] =
	"usage: boxwal stats DIR [--shard N]\n"
	"\n"
	"Prints the number of records and their LSN range, the segments (started and\n"
	"spare) with their bytes, the largest record, the snapshots with their sizes, and\n"
	"the state of the log's end. On a torn or corrupt log the figures are those of\n"
	"the valid part.\n";

static const char usage_truncate[] =
	"usage: boxwal truncate DIR --at LSN [--shard N] [--force]\n"
	"\n"
	"Cuts the log after record LSN: removes the later segment files (spares too),\n"
	"zeroes every byte after that record in its segment (later records, torn or\n"
	"corrupt bytes), and syncs. LSN may be from the one before the first record kept\n"
	"(remove every record) to the last valid record. Refused, with exit 3:\n"
	"  - an LSN past the end of the log, or past a corruption point: records after\n"
	"    corruption cannot be kept, so the cut must be at or before the last record\n"
	"    before it;\n"
	"  - an LSN below the newest snapshot's, which would be left ahead of the log,\n"
	"    unless --force, which then removes the snapshots above LSN;\n"
	"  - a cut that leaves the log starting after LSN 1 with no snapshot to start\n"
	"    it from.\n"
	"Run it only while the shard is stopped.\n";

enum option_index {
	OPT_SHARD,
	OPT_SHARDS,
	OPT_FROM,
	OPT_LIMIT,
	OPT_AT,
	OPT_HOLD_TTL,
	OPT_IDLE,
	OPT_JSON,
	OPT_FORCE,
	OPT_HELP,
	OPT_COUNT,
};

#define OPTION(index) (1u << (index))

static const struct option_spec {
	const char *name;
	bool valued;
	uint64_t min, max; /* of the value */
} option_specs[OPT_COUNT] = {
	[OPT_SHARD] = { "--shard", true, 0, UINT32_MAX - 1 },
	[OPT_SHARDS] = { "--shards", true, 1, UINT32_MAX },
	[OPT_FROM] = { "--from", true, 0, UINT64_MAX },
	[OPT_LIMIT] = { "--limit", true, 0, UINT64_MAX },
	[OPT_AT] = { "--at", true, 0, UINT64_MAX },
	[OPT_HOLD_TTL] = { "--hold-ttl-ms", true, 1, HOLD_TTL_MS_MAX },
	[OPT_IDLE] = { "--waitlist-idle-ms", true, 1, UINT32_MAX },
	[OPT_JSON] = { "--json", false, 0, 0 },
	[OPT_FORCE] = { "--force", false, 0, 0 },
	[OPT_HELP] = { "--help", false, 0, 0 },
};

struct options {
	const char *dir;
	unsigned given; /* OPTION(index) bits */
	uint64_t values[OPT_COUNT];
};

static bool given(const struct options *options, enum option_index index)
{
	return options->given & OPTION(index);
}

/* Mapped segment files: the log is read in place, one segment at a time. */
struct mapping {
	const uint8_t *bytes;
	size_t size;
};

static int segment_map(int dir_fd, uint64_t sequence, struct mapping *map)
{
	char name[64];
	wal_segment_name(sequence, name, sizeof(name));
	*map = (struct mapping){ 0 };
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int error = fstat(fd, &st) < 0 ? -errno : 0;
	if (error == 0 && st.st_size > 0) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			error = -errno;
		else
			*map = (struct mapping){ .bytes = p, .size = (size_t)st.st_size };
	}
	close(fd);
	return error;
}

static void segment_unmap(struct mapping *map)
{
	if (map->bytes != NULL)
		munmap((void *)map->bytes, map->size);
	*map = (struct mapping){ 0 };
}

/* The offset of a segment's first non-zero byte at or after `from`, or UINT64_MAX. */
static int segment_data_find(int dir_fd, uint64_t sequence, uint64_t from, uint64_t *offset)
{
	struct mapping map;
	int error = segment_map(dir_fd, sequence, &map);
	*offset = UINT64_MAX;
	for (uint64_t o = from; error == 0 && o < map.size && *offset == UINT64_MAX; o++)
		*offset = map.bytes[o] != 0 ? o : UINT64_MAX;
	segment_unmap(&map);
	return error;
}

static int io_fail(const char *what, const char *name, int error)
{
	fprintf(stderr, "boxwal: %s %s: %s\n", what, name, strerror(-error));
	return EXIT_IO_ERROR;
}

/* Segments whose records are intact up to some end. wal_scan accepts the first
 * started_count; on a corrupt log the segment holding the corruption also has an
 * intact prefix when its header is valid, which dump --force and truncate need. */
static uint32_t walked_count(const struct wal_scan *scan)
{
	uint32_t count = scan->started_count;
	ASSERT(count <= scan->segments_count);
	bool damaged = scan->state == WAL_SCAN_CORRUPT && count < scan->segments_count &&
		       scan->segments[count].sequence == scan->tail_sequence &&
		       scan->segments[count].started;
	return count + damaged;
}

typedef int record_fn(void *context, const struct wal_record *record, uint32_t segment_index,
		      uint64_t offset);

static int segment_walk(int dir_fd, const struct wal_scan *scan, uint32_t index,
			uint64_t from_lsn, record_fn *fn, void *context)
{
	ASSERT(index < walked_count(scan));
	const struct wal_segment_info *info = &scan->segments[index];
	uint64_t end = index < scan->started_count ? info->data_end : scan->tail_offset;
	ASSERT(end >= WAL_SEGMENT_HEADER_SIZE);
	struct mapping map;
	int error = segment_map(dir_fd, info->sequence, &map);
	if (error != 0)
		return error;
	/* A file that no longer matches its scan changed under us: an I/O error, since
	 * nothing here can tell what it holds now. */
	int result = map.size < end ? -EIO : 0;
	uint64_t expected = info->first_lsn;
	for (uint64_t offset = WAL_SEGMENT_HEADER_SIZE; result == 0 && offset < end; expected++) {
		struct wal_record record;
		size_t next;
		if (wal_record_decode(map.bytes, end, offset, &record, &next) != WAL_RECORD_OK ||
		    record.lsn != expected) {
			result = -EIO;
			break;
		}
		if (record.lsn >= from_lsn)
			result = fn(context, &record, index, offset);
		offset = next;
	}
	segment_unmap(&map);
	return result;
}

/*
 * Calls fn for every intact record with lsn >= from_lsn, in order, with where it
 * lies (see walked_count). Returns 0, fn's non-zero result, or -errno.
 */
static int log_walk(int dir_fd, const struct wal_scan *scan, uint64_t from_lsn, record_fn *fn,
		    void *context)
{
	uint32_t count = walked_count(scan);
	for (uint32_t i = 0; i < count; i++) {
		const struct wal_segment_info *info = &scan->segments[i];
		if (i < scan->started_count && (info->records == 0 || info->last_lsn < from_lsn))
			continue;
		int result = segment_walk(dir_fd, scan, i, from_lsn, fn, context);
		if (result != 0)
			return result;
	}
	return 0;
}

/* The extent of the intact log: what log_walk visits. */
struct extent {
	uint64_t first_lsn; /* 0 when there is no record */
	uint64_t last_lsn;
	uint64_t records;
	uint64_t bytes;
	uint64_t largest_size;
	uint64_t largest_lsn;
};

static int extent_record(void *context, const struct wal_record *record, uint32_t segment_index,
			 uint64_t offset)
{
	(void)segment_index, (void)offset;
	struct extent *extent = context;
	uint64_t size = wal_record_size(record->payload_size);
	if (extent->first_lsn == 0)
		extent->first_lsn = record->lsn;
	extent->last_lsn = record->lsn;
	extent->records++;
	extent->bytes += size;
	if (size > extent->largest_size) {
		extent->largest_size = size;
		extent->largest_lsn = record->lsn;
	}
	return 0;
}

/* What the scan found at the end of the log, in one line, into buffer. */
static const char *scan_finding(const struct wal_scan *scan, char *buffer, size_t size)
{
	char name[64];
	wal_segment_name(scan->tail_sequence, name, sizeof(name));
	if (scan->state == WAL_SCAN_TORN) {
		snprintf(buffer, size, "torn tail at %s offset %" PRIu64 ": %" PRIu64 " bytes%s",
			 name, scan->tail_offset, scan->tail_end - scan->tail_offset,
			 scan->tail_drop ? " (the segment's header was torn with its first "
					   "flush: recovery removes the segment)"
					 : " of an unfinished last flush (recovery cuts them)");
	} else if (scan->state == WAL_SCAN_CORRUPT) {
		/* The reader's message is "corruption in NAME at offset N: REASON". */
		const char *reason = strstr(scan->message, " at offset ");
		reason = reason ? strstr(reason, ": ") : NULL;
		snprintf(buffer, size, "corruption at %s offset %" PRIu64 ": %s", name,
			 scan->tail_offset, reason ? reason + 2 : scan->message);
	} else {
		snprintf(buffer, size, "clean");
	}
	return buffer;
}

/* A segment header that does not decode for --shard may be another shard's: say so. */
static void shard_hint(int dir_fd, const struct wal_scan *scan, uint32_t shard_index)
{
	struct mapping map;
	struct wal_segment_header header;
	if (scan->state == WAL_SCAN_CLEAN || scan->tail_offset != 0 ||
	    segment_map(dir_fd, scan->tail_sequence, &map) != 0)
		return;
	if (map.size >= WAL_SEGMENT_HEADER_SIZE &&
	    wal_segment_header_decode(map.bytes, &header) == WAL_HEADER_OK &&
	    header.shard_index != shard_index)
		printf("  (its header is shard %" PRIu32 "'s, not %" PRIu32 "'s: try --shard %" PRIu32
		       ")\n",
		       header.shard_index, shard_index, header.shard_index);
	segment_unmap(&map);
}

/* Text output: with json a JSON string; else quoted with C escapes, for people. */

/* The size of the well-formed UTF-8 sequence at s (1 for ASCII), or 0. */
static size_t utf8_sequence_size(const unsigned char *s, size_t size)
{
	if (s[0] < 0x80)
		return 1;
	size_t n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
		 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	if (n == 0 || n > size)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

/* Bytes that are not UTF-8 become U+FFFD in JSON, so that every line parses. */
static void text_print(bool json, const char *bytes, size_t size)
{
	putchar('"');
	for (size_t i = 0; i < size;) {
		unsigned char c = (unsigned char)bytes[i];
		size_t n = utf8_sequence_size((const unsigned char *)bytes + i, size - i);
		if (n > 1) {
			fwrite(bytes + i, 1, n, stdout);
			i += n;
			continue;
		}
		i++;
		if (n == 0)
			printf(json ? "\\ufffd" : "\\x%02x", c);
		else if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c < 0x20 || c == 0x7f)
			printf(json ? "\\u%04x" : "\\x%02x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* ISO 8601 UTC with milliseconds; the bare number for times gmtime cannot show. */
static const char *iso_time(int64_t ms, char *buffer, size_t size)
{
	int64_t seconds = ms / 1000, milli = ms % 1000;
	if (milli < 0) {
		milli += 1000;
		seconds--;
	}
	time_t t = (time_t)seconds;
	struct tm tm;
	size_t n = gmtime_r(&t, &tm) ? strftime(buffer, size, "%Y-%m-%dT%H:%M:%S", &tm) : 0;
	if (n == 0)
		snprintf(buffer, size, "%" PRId64 "ms", ms);
	else
		snprintf(buffer + n, size - n, ".%03dZ", (int)milli);
	return buffer;
}

/* Fields for people (" key=value") or JSON ("key":value), one emitter for both. */
struct out {
	bool json;
	bool first; /* nothing printed yet in the current object or array */
};

static void out_key(struct out *out, const char *key)
{
	if (out->json)
		printf("%s\"%s\":", out->first ? "" : ",", key);
	else
		printf(" %s=", key);
	out->first = false;
}

static void out_u64(struct out *out, const char *key, uint64_t value)
{
	out_key(out, key);
	printf("%" PRIu64, value);
}

static void out_i64(struct out *out, const char *key, int64_t value)
{
	out_key(out, key);
	printf("%" PRId64, value);
}

static void out_bool(struct out *out, const char *key, bool value)
{
	out_key(out, key);
	fputs(value ? "true" : "false", stdout);
}

static void out_text(struct out *out, const char *key, const char *bytes, size_t size)
{
	out_key(out, key);
	text_print(out->json, bytes, size);
}

/* A name from a fixed set (types, tiers): quoted only in JSON. */
static void out_name(struct out *out, const char *key, const char *name)
{
	out_key(out, key);
	printf(out->json ? "\"%s\"" : "%s", name);
}

static void out_time(struct out *out, const char *key, int64_t ms)
{
	char buffer[64];
	out_name(out, key, iso_time(ms, buffer, sizeof(buffer)));
}

/* Hold and booking ids name their show: people read SHOW:N. */
static void out_hold(struct out *out, const char *key, uint64_t hold_id)
{
	out_key(out, key);
	if (out->json)
		printf("%" PRIu64, hold_id);
	else
		printf("%" PRIu32 ":%" PRIu32, hold_id_show(hold_id), (uint32_t)hold_id);
}

static void out_open(struct out *out, const char *key, char bracket)
{
	if (key != NULL)
		out_key(out, key);
	else if (!out->first)
		putchar(',');
	putchar(bracket);
	out->first = true;
}

static void out_close(struct out *out, char bracket)
{
	putchar(bracket);
	out->first = false;
}

static void out_u32s(struct out *out, const char *key, const uint32_t *values, uint32_t count)
{
	out_open(out, key, '[');
	for (uint32_t i = 0; i < count; i++)
		printf("%s%" PRIu32, i ? "," : "", values[i]);
	out_close(out, ']');
}

static void out_venue(struct out *out, const struct command_venue_put *p)
{
	out_u64(out, "venue_id", p->venue_id);
	out_u64(out, "location_id", p->location_id);
	out_text(out, "name", p->name.bytes, p->name.size);
	out_text(out, "address", p->address.bytes, p->address.size);
	out_i64(out, "lat_e6", p->lat_e6);
	out_i64(out, "lon_e6", p->lon_e6);
	out_u64(out, "sections", p->layout.sections_count);
	out_u64(out, "rows", p->layout.rows_count);
	out_u64(out, "seats", p->layout.seats_count);
	for (uint32_t t = 0; t < TIER_COUNT; t++) {
		char key[32];
		snprintf(key, sizeof(key), "seats_%s", tier_name((enum tier)t));
		out_u64(out, key, p->layout.tier_seats_count[t]);
	}
}

static void out_event(struct out *out, const struct command_event_put *p)
{
	out_u64(out, "event_id", p->event_id);
	out_u64(out, "location_id", p->location_id);
	out_text(out, "title", p->title.bytes, p->title.size);
	out_text(out, "description", p->description.bytes, p->description.size);
	out_name(out, "event_type", event_type_name((enum event_type)p->type));
	out_text(out, "language", p->language.bytes, p->language.size);
	out_u64(out, "duration_min", p->duration_min);
	out_open(out, "tags", '[');
	for (uint8_t i = 0; i < p->tags_count; i++) {
		fputs(i ? "," : "", stdout);
		text_print(out->json, p->tags[i].bytes, p->tags[i].size);
	}
	out_close(out, ']');
}

static void out_show(struct out *out, const struct command_show_put *p)
{
	out_u64(out, "show_id", p->show_id);
	out_u64(out, "event_id", p->event_id);
	out_u64(out, "venue_id", p->venue_id);
	out_time(out, "start", p->start_ms);
	out_time(out, "end", p->end_ms);
	for (uint32_t t = 0; t < TIER_COUNT; t++) {
		char key[32];
		snprintf(key, sizeof(key), "price_%s", tier_name((enum tier)t));
		out_i64(out, key, p->prices_minor[t]);
	}
	out_text(out, "currency", p->currency, CURRENCY_SIZE);
	out_u64(out, "user_seats_max", p->user_seats_max);
	out_time(out, "sale_opens", p->sale_opens_ms);
	out_time(out, "sale_closes", p->sale_closes_ms);
	out_u64(out, "hold_ttl_ms", p->hold_ttl_ms);
}

static void out_hold_command(struct out *out, const struct command_hold *p)
{
	out_u64(out, "show_id", p->show_id);
	out_u64(out, "user_id", p->user_id);
	out_u64(out, "ttl_ms", p->ttl_ms);
	out_bool(out, "best", p->best);
	out_u64(out, "seats_count", p->seats_count);
	if (p->best) {
		out_name(out, "tier", tier_name((enum tier)p->tier));
		out_bool(out, "together", p->together);
	} else {
		out_u32s(out, "seats", p->seats, p->seats_count);
	}
}

/* The fields of a decoded command, after its type. */
static void out_command(struct out *out, const struct command *c)
{
	switch (c->type) {
	case COMMAND_LOCATION_PUT:
		out_u64(out, "location_id", c->location_put.location_id);
		out_text(out, "name", c->location_put.name.bytes, c->location_put.name.size);
		out_text(out, "country", c->location_put.country, COUNTRY_SIZE);
		out_i64(out, "lat_e6", c->location_put.lat_e6);
		out_i64(out, "lon_e6", c->location_put.lon_e6);
		break;
	case COMMAND_VENUE_PUT:
		out_venue(out, &c->venue_put);
		break;
	case COMMAND_EVENT_PUT:
		out_event(out, &c->event_put);
		break;
	case COMMAND_SHOW_PUT:
		out_show(out, &c->show_put);
		break;
	case COMMAND_SEATS_BLOCK:
		out_u64(out, "show_id", c->seats_block.show_id);
		out_u64(out, "seat_first", c->seats_block.seat_first);
		out_u64(out, "seats_count", c->seats_block.seats_count);
		out_bool(out, "blocked", c->seats_block.blocked);
		break;
	case COMMAND_HOLD:
		out_hold_command(out, &c->hold);
		break;
	case COMMAND_CONFIRM:
		out_hold(out, "hold_id", c->confirm.hold_id);
		out_u64(out, "user_id", c->confirm.user_id);
		out_text(out, "payment_ref", c->confirm.payment_ref.bytes,
			 c->confirm.payment_ref.size);
		break;
	case COMMAND_RELEASE:
		out_hold(out, "hold_id", c->release.hold_id);
		out_u64(out, "user_id", c->release.user_id);
		break;
	case COMMAND_BOOKING_CANCEL:
		out_hold(out, "booking_id", c->booking_cancel.booking_id);
		break;
	case COMMAND_WAITLIST_JOIN:
		out_u64(out, "show_id", c->waitlist_join.show_id);
		out_u64(out, "user_id", c->waitlist_join.user_id);
		out_name(out, "tier", tier_name((enum tier)c->waitlist_join.tier));
		out_u64(out, "seats_count", c->waitlist_join.seats_count);
		out_bool(out, "together", c->waitlist_join.together);
		break;
	case COMMAND_CONFIGURE:
		out_u64(out, "hold_ttl_ms_default", c->configure.hold_ttl_ms_default);
		out_u64(out, "waitlist_idle_ms", c->configure.waitlist_idle_ms);
		break;
	case COMMAND_WAITLIST_LEAVE:
	case COMMAND_WAITLIST_POLL:
		/* Leave and poll share one shape (command.h). */
		out_u64(out, "show_id", c->waitlist_poll.show_id);
		out_u64(out, "user_id", c->waitlist_poll.user_id);
		break;
	case COMMAND_TICK:
		break;
	}
}

/* Command line. */

static int usage_error(const char *usage, const char *what, const char *argument)
{
	fprintf(stderr, "boxwal: %s%s%s%s\n\n%s", what, argument ? " '" : "",
		argument ? argument : "", argument ? "'" : "", usage);
	return EXIT_USAGE;
}

/* Decimal, or hexadecimal after 0x (snapshot names give LSNs in hex). */
static bool number_parse(const char *text, uint64_t *value)
{
	bool hex = text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
	const char *digits = hex ? text + 2 : text;
	if (*digits < '0' || *digits > 'f' || (!hex && *digits > '9'))
		return false;
	char *end;
	errno = 0;
	*value = strtoull(digits, &end, hex ? 16 : 10);
	return errno == 0 && *end == '\0';
}

static int option_parse(const char *usage, unsigned allowed, int argc, char **argv, int *i,
			struct options *options)
{
	const char *arg = argv[*i];
	const char *equals = strchr(arg, '=');
	size_t size = equals ? (size_t)(equals - arg) : strlen(arg);
	uint32_t index = 0;
	while (index < OPT_COUNT && (strlen(option_specs[index].name) != size ||
				     strncmp(option_specs[index].name, arg, size) != 0))
		index++;
	if (strcmp(arg, "-h") == 0)
		index = OPT_HELP;
	if (index == OPT_COUNT || !(allowed & OPTION(index)))
		return usage_error(usage, "unknown option", arg);
	const struct option_spec *spec = &option_specs[index];
	options->given |= OPTION(index);
	if (!spec->valued)
		return equals ? usage_error(usage, "this option takes no value:", arg) : 0;
	const char *text = equals ? equals + 1 : *i + 1 < argc ? argv[++*i] : NULL;
	if (text == NULL)
		return usage_error(usage, "this option needs a value:", arg);
	uint64_t value;
	if (!number_parse(text, &value) || value < spec->min || value > spec->max)
		return usage_error(usage, "not a number in range for", arg);
	options->values[index] = value;
	return 0;
}

static int options_parse(const char *usage, unsigned allowed, int argc, char **argv,
			 struct options *options)
{
	*options = (struct options){ .values[OPT_LIMIT] = UINT64_MAX };
	for (int i = 0; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			int error = option_parse(usage, allowed, argc, argv, &i, options);
			if (error != 0)
				return error;
		} else if (options->dir != NULL) {
			return usage_error(usage, "one directory only; also given", argv[i]);
		} else {
			options->dir = argv[i];
		}
	}
	if (given(options, OPT_HELP))
		return 0;
	if (options->dir == NULL)
		return usage_error(usage, "no directory given", NULL);
	if ((allowed & OPTION(OPT_AT)) && !given(options, OPT_AT))
		return usage_error(usage, "--at LSN is required", NULL);
	return 0;
}

/* Snapshots and the engine configuration. */

/* The shard count an image was made with (its header: magic, version, index, count). */
static uint32_t image_shard_count(const uint8_t *image, size_t size)
{
	return size >= 20 ? bytes_load_u32(image + 16) : 0;
}

/* The newest snapshot that reads back whole says how many shards there are. */
static uint32_t snapshots_shard_count(int dir_fd, uint32_t shard_index,
				      const struct wal_listing *listing)
{
	for (uint32_t i = listing->snapshots_count; i-- > 0;) {
		uint8_t *image;
		size_t size;
		if (wal_snapshot_read(dir_fd, shard_index, listing->snapshots[i], &image, &size) != 0)
			continue;
		uint32_t count = image_shard_count(image, size);
		free(image);
		if (count > shard_index)
			return count;
	}
	return 1;
}

/* Why a snapshot does not read back: wal_snapshot_read says only that it does not. */
static const char *snapshot_diagnose(int dir_fd, uint64_t lsn, uint32_t shard_index,
				     char *buffer, size_t size)
{
	char name[64];
	wal_snapshot_name(lsn, false, name, sizeof(name));
	uint8_t *bytes;
	size_t file_size;
	struct wal_snapshot_header header;
	if (wal_file_read(dir_fd, name, &bytes, &file_size) != 0)
		return "unreadable";
	if (file_size < WAL_SNAPSHOT_HEADER_SIZE || !wal_snapshot_header_decode(bytes, &header))
		snprintf(buffer, size, "bad header (magic, version or checksum)");
	else if (header.shard_index != shard_index)
		snprintf(buffer, size, "its header is shard %" PRIu32 "'s", header.shard_index);
	else if (header.lsn != lsn)
		snprintf(buffer, size, "its header says LSN %" PRIu64, header.lsn);
	else if (header.image_size != file_size - WAL_SNAPSHOT_HEADER_SIZE)
		snprintf(buffer, size, "the header gives %" PRIu64 " image bytes, the file has %zu",
			 header.image_size, file_size - WAL_SNAPSHOT_HEADER_SIZE);
	else
		snprintf(buffer, size, "the image checksum does not match");
	free(bytes);
	return buffer;
}

enum snapshot_verdict {
	SNAPSHOT_OK = 0,
	SNAPSHOT_DAMAGED = 1,	  /* the file or the image inside is broken */
	SNAPSHOT_UNCONTINUED = 2, /* intact, but the log does not go on from it */
};

/* Whether the log holds every record after lsn, by recovery's rule (recovery.c). */
static bool log_continues(const struct wal_scan *scan, uint64_t lsn)
{
	return scan->records == 0 ||
	       (lsn <= scan->last_lsn && (lsn + 1 >= scan->first_lsn || lsn == scan->last_lsn));
}

/* Reads and decodes a snapshot; returns -errno only for I/O errors. */
static int snapshot_check(int dir_fd, const struct wal_scan *scan, uint32_t shard_index,
			  uint64_t lsn, enum snapshot_verdict *verdict, char *why, size_t size)
{
	uint8_t *image = NULL;
	size_t image_size = 0;
	int error = wal_snapshot_read(dir_fd, shard_index, lsn, &image, &image_size);
	*verdict = SNAPSHOT_DAMAGED;
	if (error == -EUCLEAN) {
		snapshot_diagnose(dir_fd, lsn, shard_index, why, size);
		return 0;
	}
	if (error != 0)
		return error;
	struct engine_config config;
	engine_config_default(&config);
	config.shard_index = shard_index;
	config.shard_count = image_shard_count(image, image_size);
	enum status status = STATUS_BAD_REQUEST;
	struct engine *engine = config.shard_count > shard_index
					? engine_snapshot_decode(image, image_size, &config, &status)
					: NULL;
	free(image);
	bool decoded = engine != NULL;
	engine_destroy(engine);
	if (!decoded)
		snprintf(why, size, "the image does not decode (%s: malformed, another version, "
				    "or an inconsistent state)", status_name(status));
	else if (!log_continues(scan, lsn))
		*verdict = SNAPSHOT_UNCONTINUED;
	else
		*verdict = SNAPSHOT_OK;
	if (*verdict == SNAPSHOT_UNCONTINUED)
		snprintf(why, size, "the log (LSN %" PRIu64 "..%" PRIu64 ") does not go on from it",
			 scan->first_lsn, scan->last_lsn);
	return 0;
}

/* verify */

/* The more serious of two exit codes: I/O error, corruption, snapshot, torn tail. */
static int exit_worst(int a, int b)
{
	static const int order[] = { 0, EXIT_TORN, EXIT_SNAPSHOT, EXIT_CORRUPT, EXIT_IO_ERROR };
	uint32_t rank_a = 0, rank_b = 0;
	for (uint32_t i = 0; i < ARRAY_COUNT(order); i++) {
		rank_a = order[i] == a ? i : rank_a;
		rank_b = order[i] == b ? i : rank_b;
	}
	return rank_a >= rank_b ? a : b;
}

struct verify_walk {
	struct extent extent;
	const struct wal_scan *scan;
	bool undecodable;
};

static int verify_record(void *context, const struct wal_record *record, uint32_t segment_index,
			 uint64_t offset)
{
	struct verify_walk *walk = context;
	extent_record(&walk->extent, record, segment_index, offset);
	struct command command;
	enum status status = command_decode(record->payload, record->payload_size, &command);
	if (status == STATUS_OK)
		return 0;
	char name[64];
	wal_segment_name(walk->scan->segments[segment_index].sequence, name, sizeof(name));
	printf("corruption at %s offset %" PRIu64 ": record LSN %" PRIu64
	       " has a valid checksum but is not a command (%s); recovery refuses\n",
	       name, offset, record->lsn, status_name(status));
	walk->undecodable = true;
	return 0;
}

/*
 * Segments after the end of the log must be spares: all zeros. wal_scan stops at
 * the first segment without a header and looks no further, so a lost header in the
 * middle of the log would pass for a clean end (and a repairing recovery would
 * delete the rest); verify reads every byte instead.
 */
static int orphans_verify(int dir_fd, const struct wal_scan *scan)
{
	int code = 0;
	for (uint32_t i = walked_count(scan); i < scan->segments_count; i++) {
		uint64_t sequence = scan->segments[i].sequence, offset;
		if (scan->state == WAL_SCAN_CORRUPT ||
		    (scan->state == WAL_SCAN_TORN && scan->tail_drop && sequence == scan->tail_sequence))
			continue;
		char name[64];
		wal_segment_name(sequence, name, sizeof(name));
		int error = segment_data_find(dir_fd, sequence, 0, &offset);
		if (error != 0)
			return io_fail("read", name, error);
		if (offset == UINT64_MAX)
			continue;
		printf("corruption at %s offset %" PRIu64 ": data in a segment after the end of the "
		       "log (LSN %" PRIu64 "); recovery ignores it, and deletes it when it repairs\n",
		       name, offset, scan->last_lsn);
		code = EXIT_CORRUPT;
	}
	return code;
}

/* What recovery does given the snapshot verdicts, as verify reports it. */
static void fallback_say(const struct wal_scan *scan, const uint64_t *lsns,
			 const enum snapshot_verdict *verdicts, uint32_t count, uint32_t damaged)
{
	uint32_t used = count;
	for (uint32_t i = count; i-- > 0 && used == count;)
		used = verdicts[i] == SNAPSHOT_OK ? i : count;
	bool newer_damaged = used == count ? damaged > 0 : used + 1 < count;
	if (used < count && newer_damaged)
		printf("recovery falls back to snapshot LSN %" PRIu64 " and replays %" PRIu64
		       " records from there\n", lsns[used], scan->last_lsn - lsns[used]);
	else if (used < count)
		printf("recovery starts from snapshot LSN %" PRIu64 "\n", lsns[used]);
	else if (scan->first_lsn <= 1 && damaged > 0)
		printf("recovery falls back to replaying the whole log from LSN 1\n");
	else if (scan->first_lsn > 1)
		printf("recovery cannot fall back: no usable snapshot, and the log starts at LSN "
		       "%" PRIu64 ", not 1: it refuses to start\n", scan->first_lsn);
}

/* Checks every snapshot; returns EXIT_SNAPSHOT when one is not usable, else 0. */
static int snapshots_verify(int dir_fd, const struct wal_scan *scan, uint32_t shard_index)
{
	struct wal_listing *listing = malloc(sizeof(*listing));
	uint64_t *lsns = listing ? listing->snapshots : NULL;
	enum snapshot_verdict *verdicts = listing ? calloc(WAL_FILES_MAX, sizeof(*verdicts)) : NULL;
	int error = verdicts == NULL ? -ENOMEM : wal_list(dir_fd, listing);
	uint32_t damaged = 0, count = error == 0 ? listing->snapshots_count : 0;
	for (uint32_t i = 0; i < count && error == 0; i++) {
		char why[256], name[64];
		error = snapshot_check(dir_fd, scan, shard_index, lsns[i], &verdicts[i], why,
				       sizeof(why));
		wal_snapshot_name(lsns[i], false, name, sizeof(name));
		if (error == 0 && verdicts[i] != SNAPSHOT_OK) {
			printf("%s snapshot %s (LSN %" PRIu64 "): %s\n",
			       verdicts[i] == SNAPSHOT_DAMAGED ? "damaged" : "unusable", name,
			       lsns[i], why);
			damaged++;
		}
		if (error != 0)
			io_fail("read", name, error);
	}
	if (error == 0 && listing->temporaries_count > 0)
		printf("note: %" PRIu32 " leftover snapshot-*.tmp file(s) of an interrupted "
		       "snapshot (ignored by recovery)\n", listing->temporaries_count);
	if (error == 0 && scan->state != WAL_SCAN_CORRUPT)
		fallback_say(scan, lsns, verdicts, count, damaged);
	free(verdicts);
	free(listing);
	if (error == -ENOMEM)
		return io_fail("malloc", "listing", error);
	return error != 0 ? EXIT_IO_ERROR : damaged > 0 ? EXIT_SNAPSHOT : 0;
}

static int verify_run(int dir_fd, const struct options *options)
{
	uint32_t shard_index = (uint32_t)options->values[OPT_SHARD];
	struct wal_scan scan;
	int error = wal_scan(dir_fd, shard_index, &scan);
	if (error != 0)
		return io_fail("wal_scan", options->dir, error);
	char finding[768];
	int code = scan.state == WAL_SCAN_CORRUPT ? EXIT_CORRUPT
		   : scan.state == WAL_SCAN_TORN  ? EXIT_TORN
						  : 0;
	if (code != 0)
		printf("%s\n", scan_finding(&scan, finding, sizeof(finding)));
	shard_hint(dir_fd, &scan, shard_index);
	struct verify_walk walk = { .scan = &scan };
	error = log_walk(dir_fd, &scan, 0, verify_record, &walk);
	if (error != 0) {
		wal_scan_finish(&scan);
		return io_fail("read", options->dir, error);
	}
	code = exit_worst(code, walk.undecodable ? EXIT_CORRUPT : 0);
	code = exit_worst(code, orphans_verify(dir_fd, &scan));
	if (code != EXIT_IO_ERROR)
		code = exit_worst(code, snapshots_verify(dir_fd, &scan, shard_index));
	if (code != EXIT_IO_ERROR && walk.extent.records == 0)
		printf("%s: no records, %" PRIu32 " segment(s)\n", code ? "found problems" : "ok",
		       walked_count(&scan));
	else if (code != EXIT_IO_ERROR)
		printf("%s: %" PRIu64 " records (LSN %" PRIu64 "..%" PRIu64 ") in %" PRIu32
		       " segment(s)\n", code ? "found problems" : "ok", walk.extent.records,
		       walk.extent.first_lsn, walk.extent.last_lsn, walked_count(&scan));
	wal_scan_finish(&scan);
	return code;
}

/* dump */

struct dump {
	struct out out;
	uint64_t limit;
	uint64_t printed;
	uint64_t undecodable;
};

static int dump_record(void *context, const struct wal_record *record, uint32_t segment_index,
		       uint64_t offset)
{
	(void)segment_index, (void)offset;
	struct dump *dump = context;
	if (dump->printed == dump->limit)
		return 1;
	struct command command;
	enum status status = command_decode(record->payload, record->payload_size, &command);
	const char *type = status == STATUS_OK ? command_type_name(command.type) : "undecodable";
	struct out *out = &dump->out;
	char time[64];
	iso_time(record->timestamp_ms, time, sizeof(time));
	if (out->json) {
		*out = (struct out){ .json = true, .first = true };
		putchar('{');
		out_u64(out, "lsn", record->lsn);
		out_name(out, "time", time);
		out_i64(out, "timestamp_ms", record->timestamp_ms);
		out_u64(out, "flush_lsn", record->flush_lsn);
		out_name(out, "type", type);
	} else {
		printf("%8" PRIu64 "  %s  flush %-8" PRIu64 "  %s", record->lsn, time,
		       record->flush_lsn, type);
	}
	if (status == STATUS_OK) {
		out_command(out, &command);
	} else {
		out_u64(out, "payload_size", record->payload_size);
		out_name(out, "error", status_name(status));
		dump->undecodable++;
	}
	fputs(out->json ? "}\n" : "\n", stdout);
	dump->printed++;
	return 0;
}

static int dump_run(int dir_fd, const struct options *options)
{
	struct wal_scan scan;
	int error = wal_scan(dir_fd, (uint32_t)options->values[OPT_SHARD], &scan);
	if (error != 0)
		return io_fail("wal_scan", options->dir, error);
	char finding[768];
	scan_finding(&scan, finding, sizeof(finding));
	if (scan.state == WAL_SCAN_CORRUPT && !given(options, OPT_FORCE)) {
		fprintf(stderr, "boxwal: dump refused: %s\n(--force prints the records before it)\n",
			finding);
		wal_scan_finish(&scan);
		return EXIT_CORRUPT;
	}
	uint64_t from = options->values[OPT_FROM];
	if (given(options, OPT_FROM) && scan.first_lsn > 1 && from < scan.first_lsn)
		fprintf(stderr, "boxwal: the log starts at LSN %" PRIu64
			": the records before it were retired after a snapshot\n", scan.first_lsn);
	struct dump dump = { .out = { .json = given(options, OPT_JSON) },
			     .limit = options->values[OPT_LIMIT] };
	error = log_walk(dir_fd, &scan, from, dump_record, &dump);
	if (error < 0) {
		wal_scan_finish(&scan);
		return io_fail("read", options->dir, error);
	}
	/* Say where the log stops only when the dump got there. */
	if (error == 0 && scan.state != WAL_SCAN_CLEAN)
		fprintf(stderr, "boxwal: the dump stops at the end of the valid log: %s\n", finding);
	if (dump.undecodable > 0)
		fprintf(stderr, "boxwal: %" PRIu64 " record(s) with a valid checksum are not "
			"commands: recovery refuses this log\n", dump.undecodable);
	wal_scan_finish(&scan);
	return dump.undecodable > 0 && !given(options, OPT_FORCE) ? EXIT_CORRUPT : 0;
}

/* replay */

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Show ids, gathered in a growing array. */
struct id_list {
	uint32_t *ids;
	uint32_t count;
	uint32_t capacity;
	bool failed; /* memory ran out */
};

static void id_list_push(struct id_list *list, uint32_t id)
{
	if (list->count == list->capacity && !list->failed) {
		uint32_t grown = list->capacity ? list->capacity * 2 : 64;
		uint32_t *more = realloc(list->ids, grown * sizeof(*more));
		list->failed = more == NULL;
		list->ids = more ? more : list->ids;
		list->capacity = more ? grown : list->capacity;
	}
	if (!list->failed)
		list->ids[list->count++] = id;
}

static void location_shows_collect(const struct engine *engine, uint32_t location_id,
				   struct id_list *list)
{
	/* Static: event infos are large (every tag), and this runs once. */
	static struct engine_event_info events[32];
	uint32_t shows[256];
	uint32_t count;
	for (uint32_t after = 0;
	     (count = engine_events_list(engine, location_id, after, events, ARRAY_COUNT(events)));
	     after = events[count - 1].event_id) {
		for (uint32_t e = 0; e < count; e++) {
			uint32_t got;
			for (uint32_t first = 0; (got = engine_event_shows(engine, events[e].event_id,
									  first, shows, 256));
			     first += got) {
				for (uint32_t s = 0; s < got; s++)
					id_list_push(list, shows[s]);
			}
		}
	}
}

/* Every show id, ascending. The engine lists shows per event and events per
 * location only, so this walks all three. */
static void show_ids_collect(const struct engine *engine, struct id_list *list)
{
	struct engine_location locations[64];
	uint32_t count;
	for (uint32_t after = 0;
	     (count = engine_locations_list(engine, after, locations, ARRAY_COUNT(locations)));
	     after = locations[count - 1].location_id) {
		for (uint32_t l = 0; l < count; l++)
			location_shows_collect(engine, locations[l].location_id, list);
	}
	if (!list->failed && list->count > 0)
		qsort(list->ids, list->count, sizeof(*list->ids), compare_u32);
}

static void replay_show_print(struct out *out, const struct engine_show *show)
{
	uint32_t seats = 0;
	for (uint32_t t = 0; t < TIER_COUNT; t++)
		seats += show->tiers[t].seats;
	if (!out->json) {
		printf("\nshow %" PRIu32 " (event %" PRIu32 ", venue %" PRIu32 "): %" PRIu32
		       " seats\n  %-8s %7s %9s %7s %7s %7s %7s %7s\n", show->show_id,
		       show->event_id, show->venue_id, seats, "tier", "seats", "available",
		       "held", "pooled", "booked", "blocked", "waiting");
		for (uint32_t t = 0; t < TIER_COUNT; t++) {
			const struct engine_tier_counts *c = &show->tiers[t];
			printf("  %-8s %7" PRIu32 " %9" PRIu32 " %7" PRIu32 " %7" PRIu32 " %7" PRIu32
			       " %7" PRIu32 " %7" PRIu32 "\n", tier_name((enum tier)t), c->seats,
			       c->available, c->held - c->pooled, c->pooled, c->booked, c->blocked,
			       c->waiters);
		}
		return;
	}
	out_open(out, NULL, '{');
	out_u64(out, "show_id", show->show_id);
	out_u64(out, "seats", seats);
	out_open(out, "tiers", '{');
	for (uint32_t t = 0; t < TIER_COUNT; t++) {
		const struct engine_tier_counts *c = &show->tiers[t];
		out_open(out, tier_name((enum tier)t), '{');
		out_u64(out, "seats", c->seats);
		out_u64(out, "available", c->available);
		out_u64(out, "held", c->held - c->pooled);
		out_u64(out, "pooled", c->pooled);
		out_u64(out, "booked", c->booked);
		out_u64(out, "blocked", c->blocked);
		out_u64(out, "waiting", c->waiters);
		out_close(out, '}');
	}
	out_close(out, '}');
	out_close(out, '}');
}

static void replay_summary_print(struct out *out, const struct engine *engine,
				 const struct wal_recovery *report)
{
	struct engine_stats stats;
	engine_stats_get(engine, &stats);
	char digest[17];
	snprintf(digest, sizeof(digest), "%016" PRIx64, engine_digest(engine));
	if (out->json) {
		out_name(out, "digest", digest);
		if (report->snapshot_lsn == 0) {
			out_key(out, "snapshot_lsn");
			fputs("null", stdout);
		} else {
			out_u64(out, "snapshot_lsn", report->snapshot_lsn);
		}
		out_bool(out, "snapshot_fallback", report->snapshot_fallback);
		out_u64(out, "records_replayed", report->records_replayed);
		out_u64(out, "last_lsn", report->last_lsn);
		out_bool(out, "torn", report->torn);
		out_key(out, "seconds");
		printf("%.6f", report->seconds);
		out_u64(out, "shows", stats.shows);
		out_u64(out, "shows_owned", stats.shows_owned);
		out_u64(out, "holds_open", stats.holds_active);
		out_u64(out, "bookings", stats.bookings);
		out_u64(out, "waiters", stats.waiters);
		return;
	}
	printf("digest            %s\n", digest);
	if (report->snapshot_lsn == 0)
		printf("snapshot          none%s\n",
		       report->snapshot_fallback ? " (fallback: every snapshot was unusable)" : "");
	else
		printf("snapshot          LSN %" PRIu64 "%s\n", report->snapshot_lsn,
		       report->snapshot_fallback ? " (fallback: a newer one was unusable)" : "");
	printf("records replayed  %" PRIu64 "\nlast LSN          %" PRIu64
	       "\ntime              %.3f s\n", report->records_replayed, report->last_lsn,
	       report->seconds);
	if (report->torn)
		printf("torn tail         yes: replay leaves it (verify says where)\n");
	printf("shows             %" PRIu32 " (%" PRIu32 " owned by this shard)\n"
	       "holds open        %" PRIu64 " (the shard's total; per show below, the seats in "
	       "holds and offers)\nbookings          %" PRIu64 "\nwaiters           %" PRIu64 "\n",
	       stats.shows, stats.shows_owned, stats.holds_active, stats.bookings, stats.waiters);
}

/* The engine settings for replay: the options, else the snapshots' shard count. */
static int replay_config(int dir_fd, const struct options *options, struct engine_config *config)
{
	engine_config_default(config);
	config->shard_index = (uint32_t)options->values[OPT_SHARD];
	if (given(options, OPT_HOLD_TTL))
		config->hold_ttl_ms_default = (uint32_t)options->values[OPT_HOLD_TTL];
	if (given(options, OPT_IDLE))
		config->waitlist_idle_ms = (uint32_t)options->values[OPT_IDLE];
	if (given(options, OPT_SHARDS)) {
		config->shard_count = (uint32_t)options->values[OPT_SHARDS];
	} else {
		struct wal_listing *listing = malloc(sizeof(*listing));
		int error = listing ? wal_list(dir_fd, listing) : -ENOMEM;
		if (error == 0)
			config->shard_count = snapshots_shard_count(dir_fd, config->shard_index,
								    listing);
		free(listing);
		if (error != 0)
			return io_fail("list", options->dir, error);
	}
	if (config->shard_index >= config->shard_count)
		return usage_error(usage_replay, given(options, OPT_SHARDS)
			? "--shard must be below --shards"
			: "no snapshot of this shard gives the shard count: give --shards", NULL);
	return 0;
}

static int replay_run(int dir_fd, const struct options *options)
{
	struct engine_config config;
	int code = replay_config(dir_fd, options, &config);
	if (code != 0)
		return code;
	struct engine *engine;
	struct wal_position position;
	struct wal_recovery report;
	int error = wal_recover(dir_fd, &config, false, &engine, &position, &report);
	if (error == -EUCLEAN) {
		fprintf(stderr, "boxwal: replay refused: %s\n", report.message);
		return EXIT_CORRUPT;
	}
	if (error != 0)
		return io_fail("wal_recover", options->dir, error);
	struct id_list shows = { 0 };
	show_ids_collect(engine, &shows);
	if (shows.failed) {
		free(shows.ids);
		engine_destroy(engine);
		return io_fail("malloc", "show ids", -ENOMEM);
	}
	struct out out = { .json = given(options, OPT_JSON), .first = true };
	if (out.json)
		putchar('{');
	replay_summary_print(&out, engine, &report);
	if (out.json)
		out_open(&out, "owned_shows", '[');
	for (uint32_t i = 0; i < shows.count; i++) {
		struct engine_show show;
		if (engine_show_get(engine, shows.ids[i], &show) && show.owned)
			replay_show_print(&out, &show);
	}
	if (out.json) {
		out_close(&out, ']');
		fputs("}\n", stdout);
	}
	free(shows.ids);
	engine_destroy(engine);
	return 0;
}

/* stats */

static uint64_t file_size(int dir_fd, const char *name)
{
	struct stat st;
	return fstatat(dir_fd, name, &st, 0) == 0 ? (uint64_t)st.st_size : 0;
}

/* What a segment after the intact ones is; counts the spares. */
static const char *segment_label(int dir_fd, const struct wal_scan *scan, uint32_t index,
				 uint32_t *spares)
{
	uint64_t sequence = scan->segments[index].sequence, data;
	if (index < walked_count(scan))
		return "corrupt (intact up to the corruption)";
	if (scan->state == WAL_SCAN_TORN && scan->tail_drop && sequence == scan->tail_sequence)
		return "torn header (recovery removes it)";
	if (segment_data_find(dir_fd, sequence, 0, &data) != 0)
		return "unreadable";
	*spares += data == UINT64_MAX;
	return data == UINT64_MAX		   ? "spare"
	       : scan->state == WAL_SCAN_CORRUPT ? "after the corruption, not read"
						 : "holds data after the end of the log (verify)";
}

static void stats_segments_print(int dir_fd, const struct wal_scan *scan)
{
	uint64_t disk = 0;
	uint32_t spares = 0;
	for (uint32_t i = 0; i < scan->segments_count; i++) {
		const struct wal_segment_info *info = &scan->segments[i];
		char name[64];
		wal_segment_name(info->sequence, name, sizeof(name));
		uint64_t size = file_size(dir_fd, name);
		disk += size;
		if (i < scan->started_count)
			printf("  %s  LSN %" PRIu64 "..%" PRIu64 "  %" PRIu64 " records  %" PRIu64
			       " of %" PRIu64 " bytes used\n", name, info->first_lsn, info->last_lsn,
			       info->records, info->data_end, size);
		else
			printf("  %s  %s, %" PRIu64 " bytes\n", name,
			       segment_label(dir_fd, scan, i, &spares), size);
	}
	printf("segments          %" PRIu32 " in the log, %" PRIu32 " spare, %" PRIu32
	       " files, %" PRIu64 " bytes\n", walked_count(scan), spares, scan->segments_count,
	       disk);
}

static int stats_run(int dir_fd, const struct options *options)
{
	struct wal_scan scan;
	int error = wal_scan(dir_fd, (uint32_t)options->values[OPT_SHARD], &scan);
	if (error != 0)
		return io_fail("wal_scan", options->dir, error);
	struct extent extent = { 0 };
	struct wal_listing *listing = malloc(sizeof(*listing));
	error = listing ? log_walk(dir_fd, &scan, 0, extent_record, &extent) : -ENOMEM;
	if (error == 0)
		error = wal_list(dir_fd, listing);
	if (error == 0) {
		char finding[768];
		printf("records           %" PRIu64 "\nLSN range         %" PRIu64 "..%" PRIu64
		       "\nrecord bytes      %" PRIu64 "\nlargest record    %" PRIu64
		       " bytes (LSN %" PRIu64 ")\n", extent.records, extent.first_lsn,
		       extent.last_lsn, extent.bytes, extent.largest_size, extent.largest_lsn);
		stats_segments_print(dir_fd, &scan);
		printf("snapshots         %" PRIu32 "\n", listing->snapshots_count);
		for (uint32_t i = 0; i < listing->snapshots_count; i++) {
			char name[64];
			wal_snapshot_name(listing->snapshots[i], false, name, sizeof(name));
			printf("  %s  LSN %" PRIu64 "  %" PRIu64 " bytes\n", name,
			       listing->snapshots[i], file_size(dir_fd, name));
		}
		printf("end of log        %s\n", scan_finding(&scan, finding, sizeof(finding)));
	}
	free(listing);
	wal_scan_finish(&scan);
	return error == 0 ? 0 : io_fail("read", options->dir, error);
}

/* truncate */

struct cut {
	uint64_t at_lsn;
	uint32_t segment_index; /* where the log will end */
	uint64_t offset;
	uint64_t base_lsn; /* the LSN before the first record kept */
	uint64_t last_lsn; /* of the intact log; base_lsn when it has no record */
	uint64_t records_removed;
	uint64_t bytes_removed;
};

static int cut_record(void *context, const struct wal_record *record, uint32_t segment_index,
		      uint64_t offset)
{
	struct cut *cut = context;
	if (record->lsn == cut->at_lsn) {
		cut->segment_index = segment_index;
		cut->offset = offset + wal_record_size(record->payload_size);
	}
	if (record->lsn > cut->at_lsn) {
		cut->records_removed++;
		cut->bytes_removed += wal_record_size(record->payload_size);
	}
	cut->last_lsn = record->lsn;
	return 0;
}

/* Why the cut must not happen, or NULL. Snapshot LSNs are ascending. */
static const char *cut_refusal(const struct wal_scan *scan, const struct cut *cut,
			       const struct wal_listing *listing, bool force, char *why,
			       size_t size)
{
	uint64_t at = cut->at_lsn, newest = 0, lowest_start = 0;
	for (uint32_t i = 0; i < listing->snapshots_count; i++) {
		newest = listing->snapshots[i];
		if (lowest_start == 0 && newest >= cut->base_lsn && newest <= cut->last_lsn)
			lowest_start = newest;
	}
	/* After the cut, recovery needs the log to start at LSN 1 or a snapshot in
	 * [base, at] to start from. */
	bool startable = cut->base_lsn == 0 || (lowest_start != 0 && lowest_start <= at);
	char finding[768];
	if (at < cut->base_lsn)
		snprintf(why, size, "the first record kept is LSN %" PRIu64 " (earlier ones were "
			 "retired): the lowest cut is at LSN %" PRIu64, cut->base_lsn + 1,
			 cut->base_lsn);
	else if (at > cut->last_lsn && scan->state == WAL_SCAN_CORRUPT)
		snprintf(why, size, "%s; the last intact record before it is LSN %" PRIu64
			 ", and records past corruption cannot be kept",
			 scan_finding(scan, finding, sizeof(finding)), cut->last_lsn);
	else if (at > cut->last_lsn)
		snprintf(why, size, "the log ends at LSN %" PRIu64, cut->last_lsn);
	else if (at < newest && !force)
		snprintf(why, size, "snapshot LSN %" PRIu64 " would be ahead of the log; --force "
			 "removes the snapshots above LSN %" PRIu64 " too", newest, at);
	else if (!startable && lowest_start != 0)
		snprintf(why, size, "the log starts at LSN %" PRIu64 " and no snapshot would be left "
			 "to start it from: the lowest cut recovery can use is at LSN %" PRIu64,
			 cut->base_lsn + 1, lowest_start);
	else if (!startable && !force)
		snprintf(why, size, "the log starts at LSN %" PRIu64 " and no snapshot can start "
			 "it: recovery refuses it already (--force cuts anyway)", cut->base_lsn + 1);
	else
		return NULL;
	return why;
}

static int zero_range(int dir_fd, const char *name, uint64_t start, uint64_t end)
{
	int fd = openat(dir_fd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	static const uint8_t zeros[1 << 16];
	int error = 0;
	for (uint64_t offset = start; offset < end && error == 0; offset += sizeof(zeros)) {
		uint64_t size = end - offset < sizeof(zeros) ? end - offset : sizeof(zeros);
		error = wal_pwrite_all(fd, zeros, (size_t)size, offset);
	}
	if (error == 0 && fdatasync(fd) < 0)
		error = -errno;
	close(fd);
	return error;
}

/* Removes a file and says so; returns 0 or EXIT_IO_ERROR, having said why. */
static int file_remove(int dir_fd, const char *name)
{
	int error = wal_file_remove(dir_fd, name);
	if (error != 0)
		return io_fail("remove", name, error);
	printf("removed %s\n", name);
	return 0;
}

/*
 * Does the cut. The order keeps every intermediate state recoverable: snapshots
 * above the cut go first (else a crash could leave one that a later log would seem
 * to continue), then later segments from the last (a gap would be corruption), and
 * last the bytes after the cut in its segment.
 */
static int cut_apply(int dir_fd, const struct wal_scan *scan, const struct cut *cut,
		     const struct wal_listing *listing)
{
	ASSERT(cut->segment_index < walked_count(scan));
	ASSERT(cut->offset >= WAL_SEGMENT_HEADER_SIZE);
	char name[64];
	int code = 0;
	for (uint32_t i = listing->snapshots_count;
	     i-- > 0 && listing->snapshots[i] > cut->at_lsn && code == 0;) {
		wal_snapshot_name(listing->snapshots[i], false, name, sizeof(name));
		code = file_remove(dir_fd, name);
	}
	for (uint32_t i = scan->segments_count; i-- > cut->segment_index + 1 && code == 0;) {
		wal_segment_name(scan->segments[i].sequence, name, sizeof(name));
		code = file_remove(dir_fd, name);
	}
	if (code != 0)
		return code;
	uint64_t sequence = scan->segments[cut->segment_index].sequence;
	wal_segment_name(sequence, name, sizeof(name));
	struct mapping map;
	int error = segment_map(dir_fd, sequence, &map);
	uint64_t end = map.size;
	while (end > cut->offset && map.bytes[end - 1] == 0)
		end--;
	segment_unmap(&map);
	if (error == 0 && end > cut->offset)
		error = zero_range(dir_fd, name, cut->offset, end);
	if (error != 0)
		return io_fail("truncate", name, error);
	if (end > cut->offset)
		printf("zeroed %s bytes %" PRIu64 "..%" PRIu64 "\n", name, cut->offset, end);
	return 0;
}

static int truncate_run(int dir_fd, const struct options *options)
{
	struct wal_scan scan;
	int error = wal_scan(dir_fd, (uint32_t)options->values[OPT_SHARD], &scan);
	if (error != 0)
		return io_fail("wal_scan", options->dir, error);
	struct wal_listing *listing = malloc(sizeof(*listing));
	error = listing ? wal_list(dir_fd, listing) : -ENOMEM;
	uint64_t base = walked_count(&scan) ? scan.segments[0].first_lsn - 1 : 0;
	struct cut cut = { .at_lsn = options->values[OPT_AT], .offset = WAL_SEGMENT_HEADER_SIZE,
			   .base_lsn = base, .last_lsn = base };
	if (error == 0)
		error = log_walk(dir_fd, &scan, 0, cut_record, &cut);
	char why[1024];
	const char *refusal = NULL;
	if (error == 0 && walked_count(&scan) == 0)
		refusal = "no segment with a valid header";
	else if (error == 0)
		refusal = cut_refusal(&scan, &cut, listing, given(options, OPT_FORCE), why,
				      sizeof(why));
	int code = 0;
	if (error != 0) {
		code = io_fail("read", options->dir, error);
	} else if (refusal != NULL) {
		fprintf(stderr, "boxwal: truncate at LSN %" PRIu64 " refused: %s\n", cut.at_lsn,
			refusal);
		code = EXIT_CORRUPT;
	} else {
		if (cut.records_removed > 0)
			printf("removing LSN %" PRIu64 "..%" PRIu64 ": %" PRIu64 " records, %" PRIu64
			       " bytes\n", cut.at_lsn + 1, cut.last_lsn, cut.records_removed,
			       cut.bytes_removed);
		if (scan.state != WAL_SCAN_CLEAN)
			printf("removing the %s\n", scan.state == WAL_SCAN_TORN ? "torn tail"
				: "corruption and everything after it");
		code = cut_apply(dir_fd, &scan, &cut, listing);
		if (code == 0)
			printf("the log %s at LSN %" PRIu64 "\n",
			       cut.records_removed || scan.state != WAL_SCAN_CLEAN ? "now ends"
										: "already ended",
			       cut.at_lsn);
	}
	free(listing);
	wal_scan_finish(&scan);
	return code;
}

/* main */

static const struct command_spec {
	const char *name;
	unsigned allowed; /* OPTION() bits besides --shard and --help */
	int (*run)(int dir_fd, const struct options *options);
	const char *usage;
} command_specs[] = {
	{ "verify", 0, verify_run, usage_verify },
	{ "dump", OPTION(OPT_FROM) | OPTION(OPT_LIMIT) | OPTION(OPT_JSON) | OPTION(OPT_FORCE),
	  dump_run, usage_dump },
	{ "replay", OPTION(OPT_SHARDS) | OPTION(OPT_HOLD_TTL) | OPTION(OPT_IDLE) | OPTION(OPT_JSON),
	  replay_run, usage_replay },
	{ "stats", 0, stats_run, usage_stats },
	{ "truncate", OPTION(OPT_AT) | OPTION(OPT_FORCE), truncate_run, usage_truncate },
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	const struct command_spec *spec = NULL;
	for (size_t i = 0; i < ARRAY_COUNT(command_specs) && spec == NULL; i++)
		spec = strcmp(argv[1], command_specs[i].name) == 0 ? &command_specs[i] : NULL;
	if (spec == NULL)
		return usage_error(usage_main, "unknown command", argv[1]);
	struct options options;
	int code = options_parse(spec->usage, spec->allowed | OPTION(OPT_SHARD) | OPTION(OPT_HELP),
				 argc - 2, argv + 2, &options);
	if (code != 0)
		return code;
	if (given(&options, OPT_HELP)) {
		fputs(spec->usage, stdout);
		return 0;
	}
	int dir_fd = wal_dir_open(options.dir, false);
	if (dir_fd < 0)
		return io_fail("open", options.dir, dir_fd);
	code = spec->run(dir_fd, &options);
	close(dir_fd);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "boxwal: write standard output: %s\n", strerror(errno));
		return EXIT_IO_ERROR;
	}
	return code;
}
