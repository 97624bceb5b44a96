/*
 * boxctl.h — what the files of boxctl share (tools/boxctl.c says what the program
 * does): the run's state, failing with the right exit code, options and numbers
 * from the command line, output helpers, and the commands of each file.
 *
 * boxctl.c      main, options, errors, output helpers, the command table and help
 * boxctl_query.c   catalog queries, seat maps, search and the operators' commands
 * boxctl_change.c  holds, confirmations, releases, blocks and waiting lists
 * boxctl_catalog.c loading a catalog (demo or JSON), pipelined
 */
#ifndef BOXOFFICE_TOOLS_BOXCTL_H
#define BOXOFFICE_TOOLS_BOXCTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "client.h"

#define EXIT_REFUSED 1
#define EXIT_TRANSPORT 2
#define EXIT_USAGE 64
#define LIST_VALUES_MAX 32
#define POSITIONALS_MAX 16

/* What every command shares: set by the options, then by connect_server(). */
struct ctl_state {
	const char *server; /* HOST:PORT */
	const char *command;
	bool json;
	bool json_anywhere; /* --json is among the arguments: a usage error is JSON too */
	bool no_color;
	bool color;
	struct box_client *client;
	int timeout_ms; /* for one answer: --timeout-ms, else the client library's default */
};

extern struct ctl_state ctl;

/* Failing: three kinds, three exit codes. With --json each also prints one object on
 * stdout: {"status": ..., "about": ...} for a refusal, {"error": "usage" or
 * "connection", "about": ...} for the other two. */

__attribute__((format(printf, 1, 2), noreturn)) void usage_fail(const char *format, ...);
/* A usage error already said on stderr (`about`): its JSON, then exit 64. */
__attribute__((noreturn)) void usage_exit(const char *about);
__attribute__((noreturn)) void transport_fail(int error);
__attribute__((format(printf, 1, 2), noreturn)) void transport_fail_with(const char *format, ...);
/* A refusal: the status in words, and what it was about. */
__attribute__((format(printf, 2, 3), noreturn)) void refused(enum status status,
							     const char *format, ...);
/* Transport errors end the run; refusals of queries too. */
void check(int rc);
/* The status is read through a pointer: the call that sets it is a sibling argument. */
void check_query(int rc, const enum status *status, const char *what, uint32_t id);

/* Options. */

enum opt_kind { OPT_FLAG, OPT_VALUE, OPT_LIST };

struct opt_list {
	const char *values[LIST_VALUES_MAX];
	int count;
};

struct opt {
	const char *name; /* without the dashes */
	enum opt_kind kind;
	void *target; /* bool *, const char ** or struct opt_list * */
};

/*
 * Parses a command's arguments (argv[0] is its name): options anywhere, the global
 * ones included; "--help" prints the command's help. Returns the positionals count;
 * fewer than `required` or more than `allowed` is a usage error.
 */
int opts_parse(int argc, char **argv, const struct opt *opts, const char **positionals,
	       int required, int allowed);

/* Numbers and ids from the command line: each is a usage error when malformed. */

uint64_t number_parse(const char *text, const char *what, uint64_t min, uint64_t max);
uint32_t id_parse(const char *text, const char *what);
uint64_t user_parse(const char *text);
/* Whether text is not empty and every byte of it is in set. */
bool all_of(const char *text, const char *set);
/*
 * Hold (= booking) ids print as 16 hex digits; they are read back as hex when they
 * have 16 digits, a 0x, or a letter a-f, and as decimal otherwise.
 */
uint64_t hold_id_parse(const char *text);
int64_t time_parse(const char *text, const char *what);
enum tier tier_arg(const char *text);
int64_t clock_now_ms(void);

/* Connects to ctl.server (HOST:PORT, [IPv6]:PORT), or exits. */
void connect_server(void);

/* Text and JSON output. */

/* Prints the value on stdout and frees it. */
void json_print(json_t *value);
/* A server text as a JSON string; bytes that are not UTF-8 become '?'. */
json_t *json_text(struct text text);
json_t *json_time(int64_t ms);
json_t *json_hold_id(uint64_t id);
json_t *json_degrees(int32_t e6);
/* In one of four static buffers: up to four of them in one printf. */
const char *time_text(int64_t ms);
const char *money_text(int64_t minor, const char *currency);
/* A line in bold on a terminal. */
void heading(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Queries (boxctl_query.c). */

int run_locations(int argc, char **argv);
int run_events(int argc, char **argv);
int run_event(int argc, char **argv);
int run_show(int argc, char **argv);
int run_seatmap(int argc, char **argv);
int run_venue(int argc, char **argv);
int run_search(int argc, char **argv);
int run_stats(int argc, char **argv);
int run_snapshot(int argc, char **argv);
int run_ping(int argc, char **argv);
/* The tier of the seat at offset in the row. */
uint8_t row_seat_tier(const struct layout_row *row, uint32_t offset);

/* Changes (boxctl_change.c). */

int run_hold(int argc, char **argv);
int run_confirm(int argc, char **argv);
int run_release(int argc, char **argv);
int run_cancel(int argc, char **argv);
int run_block(int argc, char **argv);
int run_unblock(int argc, char **argv);
int run_waitlist(int argc, char **argv);
int run_wait(int argc, char **argv);

/* Catalogs (boxctl_catalog.c). */

int run_catalog(int argc, char **argv);

#endif
