/*
 * boxwal.h — what the files of boxwal share (tools/boxwal.c says what the program
 * does): exit codes, options, failing, and each command's usage and run function.
 *
 * boxwal.c         main, options, verify and stats
 * boxwal_dump.c    dump: the records as text or JSON, and the field emitter
 * boxwal_replay.c  replay: the state rebuilt offline
 * boxwal_repair.c  truncate: cutting the log after an LSN
 */
#ifndef BOXOFFICE_TOOLS_BOXWAL_H
#define BOXOFFICE_TOOLS_BOXWAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reader.h"

enum exit_code {
	EXIT_IO_ERROR = 1,
	EXIT_TORN = 2,
	EXIT_CORRUPT = 3, /* also: the command refused */
	EXIT_SNAPSHOT = 4,
	EXIT_USAGE = 64, /* EX_USAGE of sysexits.h */
};

enum option_index {
	OPT_SHARD,
	OPT_SHARDS,
	OPT_FROM,
	OPT_LIMIT,
	OPT_AT,
	OPT_JSON,
	OPT_FORCE,
	OPT_HELP,
	OPT_COUNT,
};

#define OPTION(index) (1u << (index))

struct options {
	const char *dir;
	unsigned given; /* OPTION(index) bits */
	uint64_t values[OPT_COUNT];
};

static inline bool given(const struct options *options, enum option_index index)
{
	return options->given & OPTION(index);
}

/* Says what failed on stderr; returns EXIT_IO_ERROR. */
int io_fail(const char *what, const char *name, int error);
/* Says what is wrong with the command line, then the usage; returns EXIT_USAGE. */
int usage_error(const char *usage, const char *what, const char *argument);
/* What the scan found at the end of the log, in one line, into buffer. */
const char *scan_finding(const struct wal_scan *scan, char *buffer, size_t size);
/* The shard count an image was made with (its header: magic, version, index, count). */
uint32_t image_shard_count(const uint8_t *image, size_t size);

/* Fields for people (" key=value") or JSON ("key":value), one emitter for both
 * (boxwal_dump.c). */
struct out {
	bool json;
	bool first; /* nothing printed yet in the current object or array */
};

void out_key(struct out *out, const char *key);
void out_u64(struct out *out, const char *key, uint64_t value);
void out_bool(struct out *out, const char *key, bool value);
/* A name from a fixed set (types, tiers): quoted only in JSON. */
void out_name(struct out *out, const char *key, const char *name);
/* Opens an object or array ('{' or '['), as a member named key or an element. */
void out_open(struct out *out, const char *key, char bracket);
void out_close(struct out *out, char bracket);

/* The commands besides verify and stats, each with its usage text. */

extern const char usage_dump[];
int dump_run(int dir_fd, const struct options *options);
extern const char usage_replay[];
int replay_run(int dir_fd, const struct options *options);
extern const char usage_truncate[];
int truncate_run(int dir_fd, const struct options *options);

#endif
