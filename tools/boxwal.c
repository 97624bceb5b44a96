/*
 * boxwal — the operator's tool for one shard's directory of segment-*.wal and
 * snapshot-*.snap files (wal/FORMAT.md): verify it, dump its records, rebuild its
 * state offline, print its figures, and cut the log after an LSN as an explicit
 * repair.
 *
 * Only truncate writes, and only once every check has passed; the other commands
 * only read, so they are safe next to a running shard (which they may catch in the
 * middle of a flush: that shows as a torn tail). Usage and exit codes are in the
 * usage texts (boxwal --help), each command's beside its code.
 *
 * This file holds main, the options, verify and stats; dump, replay and truncate
 * are in boxwal_dump.c, boxwal_replay.c and boxwal_repair.c (see boxwal.h).
 */
#include "boxwal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "engine.h"
#include "files.h"
#include "record.h"
#include "snapshot.h"

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
	"Every command takes --shard N, the shard index the file headers must carry\n"
	"(default: N for a directory named shard-N, as the server names them, else 0).\n"
	"Numbers are decimal, or hexadecimal after 0x (snapshot names give LSNs in\n"
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
	"is sound; otherwise a line per problem, and exits with the first that applies:\n"
	"  1  an I/O error: the check could not finish, so what it did not read is unknown\n"
	"  3  corruption: recovery refuses to start ('boxwal truncate' is the repair)\n"
	"  4  a damaged or unusable snapshot (the report says whether recovery falls back)\n"
	"  2  a torn tail: an unfinished last flush, which recovery cuts; reported so that\n"
	"     scripts notice\n";

static const char usage_stats[] =
	"usage: boxwal stats DIR [--shard N]\n"
	"\n"
	"Prints the number of records and their LSN range, the segments (started and\n"
	"spare) with their format version and bytes, the largest record, the snapshots\n"
	"with their sizes, and the state of the log's end. On a torn or corrupt log the\n"
	"figures are those of the valid part. Version 2 segments (written with\n"
	"--log-flushes above 1) are read only by versions of boxoffice that know them.\n";

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
	[OPT_JSON] = { "--json", false, 0, 0 },
	[OPT_FORCE] = { "--force", false, 0, 0 },
	[OPT_HELP] = { "--help", false, 0, 0 },
};

int io_fail(const char *what, const char *name, int error)
{
	fprintf(stderr, "boxwal: %s %s: %s\n", what, name, strerror(-error));
	return EXIT_IO_ERROR;
}

/* Command line. */

int usage_error(const char *usage, const char *what, const char *argument)
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

/* N for a directory named shard-N (the server's names), else 0. */
static uint32_t shard_of_dir(const char *given)
{
	/* The real path: "." inside a shard directory is named by its parent's entry. */
	char *real = realpath(given, NULL);
	const char *dir = real != NULL ? real : given;
	uint32_t index = 0;
	size_t end = strlen(dir);
	while (end > 1 && dir[end - 1] == '/')
		end--;
	size_t start = end;
	while (start > 0 && dir[start - 1] != '/')
		start--;
	char name[32];
	unsigned value;
	char tail;
	if (end - start < sizeof(name)) {
		memcpy(name, dir + start, end - start);
		name[end - start] = '\0';
		if (sscanf(name, "shard-%u%c", &value, &tail) == 1 && value <= UINT32_MAX - 1)
			index = value;
	}
	free(real);
	return index;
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
	if (!given(options, OPT_SHARD))
		options->values[OPT_SHARD] = shard_of_dir(options->dir);
	if ((allowed & OPTION(OPT_AT)) && !given(options, OPT_AT))
		return usage_error(usage, "--at LSN is required", NULL);
	return 0;
}

/* The offset of a segment's first non-zero byte at or after `from`, or UINT64_MAX. */
static int segment_data_find(int dir_fd, uint64_t sequence, uint64_t from, uint64_t *offset)
{
	struct wal_mapping map;
	int error = wal_segment_map(dir_fd, sequence, &map);
	*offset = UINT64_MAX;
	for (uint64_t o = from; error == 0 && o < map.size && *offset == UINT64_MAX; o++)
		*offset = map.bytes[o] != 0 ? o : UINT64_MAX;
	wal_segment_unmap(&map);
	return error;
}

/* The extent of the intact log: what wal_walk visits. */
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
const char *scan_finding(const struct wal_scan *scan, char *buffer, size_t size)
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
	struct wal_mapping map;
	struct wal_segment_header header;
	if (scan->state == WAL_SCAN_CLEAN || scan->tail_offset != 0 ||
	    wal_segment_map(dir_fd, scan->tail_sequence, &map) != 0)
		return;
	if (map.size >= WAL_SEGMENT_HEADER_SIZE &&
	    wal_segment_header_decode(map.bytes, &header) == WAL_HEADER_OK &&
	    header.shard_index != shard_index)
		printf("  (its header is shard %" PRIu32 "'s, not %" PRIu32 "'s: try --shard %" PRIu32
		       ")\n",
		       header.shard_index, shard_index, header.shard_index);
	wal_segment_unmap(&map);
}

/* Snapshots and the engine configuration. */

/* The shard count an image was made with (its header: magic, version, index, count). */
uint32_t image_shard_count(const uint8_t *image, size_t size)
{
	return size >= 20 ? bytes_load_u32(image + 16) : 0;
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
	for (uint32_t i = wal_scan_walked_count(scan); i < scan->segments_count; i++) {
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
	error = wal_walk(dir_fd, &scan, 0, verify_record, &walk);
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
		       wal_scan_walked_count(&scan));
	else if (code != EXIT_IO_ERROR)
		printf("%s: %" PRIu64 " records (LSN %" PRIu64 "..%" PRIu64 ") in %" PRIu32
		       " segment(s)\n", code ? "found problems" : "ok", walk.extent.records,
		       walk.extent.first_lsn, walk.extent.last_lsn, wal_scan_walked_count(&scan));
	wal_scan_finish(&scan);
	return code;
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
	if (index < wal_scan_walked_count(scan))
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
			printf("  %s  version %" PRIu32 "  LSN %" PRIu64 "..%" PRIu64 "  %" PRIu64
			       " records  %" PRIu64 " of %" PRIu64 " bytes used\n", name,
			       info->version, info->first_lsn, info->last_lsn, info->records,
			       info->data_end, size);
		else
			printf("  %s  %s, %" PRIu64 " bytes\n", name,
			       segment_label(dir_fd, scan, i, &spares), size);
	}
	printf("segments          %" PRIu32 " in the log, %" PRIu32 " spare, %" PRIu32
	       " files, %" PRIu64 " bytes\n", wal_scan_walked_count(scan), spares, scan->segments_count,
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
	error = listing ? wal_walk(dir_fd, &scan, 0, extent_record, &extent) : -ENOMEM;
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
	{ "replay", OPTION(OPT_SHARDS) | OPTION(OPT_JSON), replay_run, usage_replay },
	{ "stats", 0, stats_run, usage_stats },
	{ "truncate", OPTION(OPT_AT) | OPTION(OPT_FORCE), truncate_run, usage_truncate },
};

int main(int argc, char **argv)
{
	if (!wal_standard_fds_open())
		return 1; /* no stderr to say why on */
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
