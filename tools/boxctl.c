/*
 * boxctl — the command-line client of a boxoffice server, for people and scripts.
 *
 *   boxctl [--server HOST:PORT] [--json] COMMAND [ARGUMENTS] [OPTIONS]
 *
 * One connection per run, blocking calls (net/client.h), except `catalog`, which
 * pipelines its put commands. Without --json the output is for people: ISO 8601
 * UTC times, prices with their currency, seats by label ("Stalls A-12"). With
 * --json every command prints one JSON object on stdout, also when the server
 * refuses (with "status") and on a usage or connection error (with "error"), so
 * scripts need not scrape text.
 *
 * Exit status: 0 done; 1 the server refused (the status in words on stderr);
 * 2 connection or transport error; 64 usage error.
 *
 * This file holds main, the options, failing and the output helpers; the commands
 * are in boxctl_query.c, boxctl_change.c and boxctl_catalog.c (see boxctl.h).
 */
#include "boxctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog_json.h"

#define SERVER_DEFAULT "127.0.0.1:7878"

struct ctl_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *synopsis;
	const char *help;
};

struct ctl_state ctl;

static const struct ctl_command *command_find(const char *name);
static void command_help(FILE *out, const struct ctl_command *command);

/* Failing: three kinds, three exit codes. */

/* Formats a failing function's message into `about` (a char array). */
#define ABOUT_FORMAT(about, format)                                  \
	do {                                                         \
		va_list args_;                                       \
		va_start(args_, format);                             \
		vsnprintf(about, sizeof(about), format, args_);      \
		va_end(args_);                                       \
	} while (0)

/* {key: value, "about": about} on stdout. */
static void failure_json(const char *key, const char *value, const char *about)
{
	json_t *o = json_pack("{s:s, s:s}", key, value, "about", about);
	if (o == NULL) /* an argument quoted in `about` that is not UTF-8 */
		o = json_pack("{s:s}", key, value);
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(o);
}

void usage_exit(const char *about)
{
	if (ctl.json || ctl.json_anywhere)
		failure_json("error", "usage", about);
	exit(EXIT_USAGE);
}

void usage_fail(const char *format, ...)
{
	char about[512];
	ABOUT_FORMAT(about, format);
	fprintf(stderr, "boxctl: %s%s%s\nTry 'boxctl %s%s--help'.\n",
		ctl.command ? ctl.command : "", ctl.command ? ": " : "", about,
		ctl.command ? ctl.command : "", ctl.command ? " " : "");
	usage_exit(about);
}

void transport_fail_with(const char *format, ...)
{
	char about[512];
	ABOUT_FORMAT(about, format);
	fprintf(stderr, "boxctl: %s: %s\n", ctl.command, about);
	if (ctl.json)
		failure_json("error", "connection", about);
	box_client_close(ctl.client);
	exit(EXIT_TRANSPORT);
}

void transport_fail(int error)
{
	transport_fail_with("%s (server %s)", box_client_error_text(error), ctl.server);
}

void refused(enum status status, const char *format, ...)
{
	char about[512];
	ABOUT_FORMAT(about, format);
	if (ctl.json)
		failure_json("status", status_name(status), about);
	fprintf(stderr, "boxctl: %s: %s%s%s\n", ctl.command, status_name(status),
		*about ? ": " : "", about);
	box_client_close(ctl.client);
	exit(EXIT_REFUSED);
}

/* Transport errors end the run; refusals of queries too. */
void check(int rc)
{
	if (rc < 0)
		transport_fail(rc);
}

/* The status is read through a pointer: the call that sets it is a sibling argument. */
void check_query(int rc, const enum status *status, const char *what, uint32_t id)
{
	check(rc);
	if (*status != STATUS_OK)
		refused(*status, "%s %u", what, id);
}

/* Options. */

static const char *timeout_text;
static const char *server_option;

static const struct opt global_opts[] = {
	{ "server", OPT_VALUE, &server_option },
	{ "json", OPT_FLAG, &ctl.json },
	{ "no-color", OPT_FLAG, &ctl.no_color },
	{ "timeout-ms", OPT_VALUE, &timeout_text },
	{ NULL, OPT_FLAG, NULL },
};

static const struct opt *opt_find(const struct opt *opts, const char *name, size_t size)
{
	for (; opts && opts->name; opts++) {
		if (strlen(opts->name) == size && memcmp(opts->name, name, size) == 0)
			return opts;
	}
	return NULL;
}

/* Takes one option at argv[*i]; returns false when it is not one of these. */
static bool opt_take(const struct opt *opts, int argc, char **argv, int *i)
{
	const char *arg = argv[*i] + 2;
	const char *equals = strchr(arg, '=');
	size_t size = equals ? (size_t)(equals - arg) : strlen(arg);
	const struct opt *opt = opt_find(opts, arg, size);
	if (opt == NULL)
		opt = opt_find(global_opts, arg, size);
	if (opt == NULL)
		return false;
	if (opt->kind == OPT_FLAG) {
		if (equals)
			usage_fail("--%s takes no value", opt->name);
		*(bool *)opt->target = true;
		return true;
	}
	const char *value = equals ? equals + 1 : NULL;
	if (value == NULL) {
		if (*i + 1 >= argc)
			usage_fail("--%s needs a value", opt->name);
		value = argv[++*i];
	}
	if (opt->kind == OPT_VALUE) {
		/* Only lists repeat: a second value would silently replace the first. */
		if (*(const char **)opt->target != NULL)
			usage_fail("--%s is given twice", opt->name);
		*(const char **)opt->target = value;
	} else {
		struct opt_list *list = opt->target;
		if (list->count == LIST_VALUES_MAX)
			usage_fail("too many --%s", opt->name);
		list->values[list->count++] = value;
	}
	return true;
}

/*
 * Parses a command's arguments (argv[0] is its name): options anywhere, the global
 * ones included; "--help" prints the command's help. Returns the positionals count;
 * fewer than `required` or more than `allowed` is a usage error.
 */
int opts_parse(int argc, char **argv, const struct opt *opts, const char **positionals,
	       int required, int allowed)
{
	int count = 0;
	bool options_done = false;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (!options_done && strcmp(arg, "--") == 0) {
			options_done = true;
		} else if (!options_done && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
			const struct ctl_command *command = command_find(ctl.command);
			ASSERT(command != NULL); /* main() found it by this name */
			command_help(stdout, command);
			exit(0);
		} else if (!options_done && arg[0] == '-' && arg[1] == '-') {
			if (!opt_take(opts, argc, argv, &i))
				usage_fail("unknown option %s", arg);
		} else {
			if (count == allowed || count == POSITIONALS_MAX)
				usage_fail("unexpected argument '%s'", arg);
			positionals[count++] = arg;
		}
	}
	if (count < required)
		usage_fail("missing argument");
	ctl.color = !ctl.no_color && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
	return count;
}

/* Numbers and ids from the command line. */

uint64_t number_parse(const char *text, const char *what, uint64_t min, uint64_t max)
{
	char *end;
	errno = 0;
	unsigned long long value = strtoull(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || value < min ||
	    value > max)
		usage_fail("%s must be a number %llu..%llu, not '%s'", what,
			   (unsigned long long)min, (unsigned long long)max, text);
	return value;
}

uint32_t id_parse(const char *text, const char *what)
{
	return (uint32_t)number_parse(text, what, 1, UINT32_MAX);
}

uint64_t user_parse(const char *text)
{
	if (text == NULL)
		usage_fail("--user USER_ID is required");
	return number_parse(text, "--user", 1, UINT64_MAX);
}

bool all_of(const char *text, const char *set)
{
	return *text != '\0' && text[strspn(text, set)] == '\0';
}

/*
 * Hold (= booking) ids print as 16 hex digits; they are read back as hex when they
 * have 16 digits, a 0x, or a letter a-f, and as decimal otherwise.
 */
uint64_t hold_id_parse(const char *text)
{
	static const char hex[] = "0123456789abcdefABCDEF";
	const char *digits = text;
	bool is_hex = false;
	if (strncmp(text, "0x", 2) == 0 || strncmp(text, "0X", 2) == 0) {
		digits = text + 2;
		is_hex = true;
	}
	is_hex = is_hex || strlen(digits) == 16 || !all_of(digits, "0123456789");
	char *end;
	errno = 0;
	unsigned long long id = strtoull(digits, &end, is_hex ? 16 : 10);
	if (!all_of(digits, is_hex ? hex : "0123456789") || errno != 0 || (id >> 32) == 0 ||
	    (uint32_t)id == 0)
		usage_fail("'%s' is not a hold or booking id (16 hex digits, as printed)", text);
	return id;
}

int64_t time_parse(const char *text, const char *what)
{
	int64_t ms;
	if (!catalog_time_parse(text, &ms))
		usage_fail("%s must be an ISO 8601 time like 2027-03-01T19:30:00Z, not '%s'", what,
			   text);
	return ms;
}

enum tier tier_arg(const char *text)
{
	if (text == NULL)
		usage_fail("--tier economy|regular|vip is required");
	int tier = tier_parse(text, strlen(text));
	if (tier < 0)
		usage_fail("--tier must be economy, regular or vip, not '%s'", text);
	return (enum tier)tier;
}

int64_t clock_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connecting: HOST:PORT, [IPv6]:PORT. */

void connect_server(void)
{
	char host[256];
	const char *port;
	const char *source = "--server";
	if (server_option != NULL) {
		ctl.server = server_option;
	} else if (getenv("BOXOFFICE_SERVER") != NULL && *getenv("BOXOFFICE_SERVER") != '\0') {
		ctl.server = getenv("BOXOFFICE_SERVER");
		source = "$BOXOFFICE_SERVER";
	}
	const char *colon = strrchr(ctl.server, ':');
	const char *host_start = ctl.server;
	size_t host_size = colon ? (size_t)(colon - ctl.server) : 0;
	if (ctl.server[0] == '[' && colon && colon > ctl.server && colon[-1] == ']') {
		host_start++;
		host_size -= 2;
	}
	if (colon == NULL || host_size == 0 || host_size >= sizeof(host) || colon[1] == '\0')
		usage_fail("%s must be HOST:PORT, not '%s'", source, ctl.server);
	memcpy(host, host_start, host_size);
	host[host_size] = '\0';
	port = colon + 1;
	char port_what[64];
	snprintf(port_what, sizeof(port_what), "the port of %s", source);
	number_parse(port, port_what, 1, 65535);
	struct box_client_options options;
	box_client_options_default(&options);
	options.name = "boxctl";
	if (timeout_text) {
		options.timeout_ms = (int)number_parse(timeout_text, "--timeout-ms", 1, INT32_MAX);
		options.connect_timeout_ms = options.timeout_ms;
	}
	ctl.timeout_ms = options.timeout_ms;
	char error[512];
	ctl.client = box_client_connect_options(host, port, &options, error, sizeof(error));
	if (ctl.client == NULL)
		transport_fail_with("%s", error);
}

/* Text and JSON output. */

void json_print(json_t *value)
{
	if (value == NULL) {
		/* json_pack() refuses a text that is not UTF-8, which a server must not send. */
		transport_fail_with("the server's answer cannot be written as JSON (a text in it "
				    "is not UTF-8)");
	}
	json_dumpf(value, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	fputc('\n', stdout);
	json_decref(value);
}

/* A server text as a JSON string; bytes that are not UTF-8 become '?'. */
json_t *json_text(struct text text)
{
	json_t *value = json_stringn(text.bytes, text.size);
	if (value != NULL)
		return value;
	char copy[DESCRIPTION_SIZE_MAX + 1];
	uint32_t size = text.size < DESCRIPTION_SIZE_MAX ? text.size : DESCRIPTION_SIZE_MAX;
	for (uint32_t i = 0; i < size; i++)
		copy[i] = (text.bytes[i] & 0x80) ? '?' : text.bytes[i];
	return json_stringn(copy, size);
}

json_t *json_time(int64_t ms)
{
	char buffer[40];
	return json_string(catalog_time_format(ms, buffer, sizeof(buffer)));
}

json_t *json_hold_id(uint64_t id)
{
	char buffer[20];
	snprintf(buffer, sizeof(buffer), "%016llx", (unsigned long long)id);
	return json_string(buffer);
}

json_t *json_degrees(int32_t e6)
{
	return json_real(e6 / 1e6);
}

const char *time_text(int64_t ms)
{
	static char buffers[4][40];
	static int next;
	char *buffer = buffers[next++ % 4];
	return catalog_time_format(ms, buffer, sizeof(buffers[0]));
}

const char *money_text(int64_t minor, const char *currency)
{
	static char buffers[4][40];
	static int next;
	char *buffer = buffers[next++ % 4];
	return catalog_money_format(minor, currency, buffer, sizeof(buffers[0]));
}

void heading(const char *format, ...)
{
	va_list args;
	va_start(args, format);
	fputs(ctl.color ? "\033[1m" : "", stdout);
	vprintf(format, args);
	fputs(ctl.color ? "\033[0m\n" : "\n", stdout);
	va_end(args);
}

/* Commands and their help. */

static int run_help(int argc, char **argv);

static const struct ctl_command commands[] = {
	{ "locations", run_locations, "locations", "Lists every location: id, name, country, events." },
	{ "events", run_events, "events LOCATION_ID", "Lists the events at a location." },
	{ "event", run_event, "event EVENT_ID",
	  "An event's details and its shows: start, end, venue and address." },
	{ "show", run_show, "show SHOW_ID",
	  "A show's details: times, sale window, and per tier the price and how many seats\n"
	  "are available, held, booked, blocked and waited for." },
	{ "seatmap", run_seatmap, "seatmap SHOW_ID [--width N] [--sections N] [--no-color]",
	  "Draws the show's seat map, one line per row, grouped by section:\n"
	  "  . available (coloured by tier on a terminal), h held, B booked, x blocked.\n"
	  "  --width N      seats drawn per row before cutting it with \"...\" (default: fits\n"
	  "                 the terminal)\n"
	  "  --sections N   draw the first N sections, summarise the rest (default 10; 0: all)\n"
	  "With --json: every row's states and tiers as strings, one character per seat." },
	{ "venue", run_venue, "venue VENUE_ID", "A venue: address, and its sections by tier." },
	{ "search", run_search,
	  "search [KEYWORDS...] [--near LAT,LON --radius-km N] [--from ISO] [--to ISO]\n"
	  "              [--type TYPE] [--tag TAG]... [--limit N] [--after START_MS:SHOW_ID]",
	  "Finds shows, in start order. Every keyword must start a word of the event's\n"
	  "title, description or tags. --from/--to bound the start: shows starting at\n"
	  "--from or later and before --to (ISO 8601, e.g. 2027-03-01T19:30:00Z; a date\n"
	  "alone is its midnight, UTC, so --from 2027-03-01 --to 2027-03-02 is that day);\n"
	  "--type is concert, sport, theatre, comedy,\n"
	  "festival, family, conference or other; --tag may repeat (any matches); --limit is\n"
	  "1..100 (default 20). When there are more, the last line gives the --after value\n"
	  "for the next page." },
	{ "hold", run_hold,
	  "hold SHOW_ID --user USER_ID (--seats A-12,A-13 | --tier TIER [--count N] [--together])\n"
	  "            [--ttl-ms N]",
	  "Holds seats for a user, all or nothing, and prints the hold id (16 hex digits),\n"
	  "its deadline, the seats and their prices.\n"
	  "  --seats LABELS  explicit seats: ROW-NUMBER (\"A-12\"), SECTION:ROW-NUMBER\n"
	  "                  (\"Stalls:A-12\", when the row name is in several sections), a\n"
	  "                  label as printed (\"Stalls A-12\"), or a seat id (\"#123\");\n"
	  "                  comma-separated, at most 10\n"
	  "  --tier TIER     best available seats of economy, regular or vip\n"
	  "  --count N       how many (1..10, default 1); --together: side by side in a row\n"
	  "  --ttl-ms N      a shorter lifetime than the show's (never longer)" },
	{ "confirm", run_confirm, "confirm HOLD_ID --user USER_ID --payment-ref REF",
	  "Turns a hold into a booking (same id). Repeating it with the same payment\n"
	  "reference returns the same booking." },
	{ "release", run_release, "release HOLD_ID --user USER_ID",
	  "Gives a hold's seats back before its deadline." },
	{ "cancel", run_cancel, "cancel BOOKING_ID", "Cancels a booking (operators, refunds)." },
	{ "waitlist", run_waitlist,
	  "waitlist join SHOW_ID --user USER_ID --tier TIER [--count N] [--together]\n"
	  "waitlist leave SHOW_ID --user USER_ID\n"
	  "waitlist poll SHOW_ID --user USER_ID",
	  "The first-come first-served waiting line of a tier, for when every seat is held.\n"
	  "A waiter that does not poll (or wait) for 120 s loses its place." },
	{ "wait", run_wait, "wait SHOW_ID --user USER_ID [--timeout-ms N]",
	  "Waits until the user's waiting-list entry changes (an offer, sold out, lapsed)\n"
	  "or the timeout passes (default 30000 ms, at most 300000), and prints its state.\n"
	  "An offer is a hold: confirm it before its deadline. Here --timeout-ms after the\n"
	  "command is the wait's own; the connection's goes before the command." },
	{ "block", run_block, "block SHOW_ID --seats FIRST-LAST",
	  "Blocks seats by seat id (\"10-19\", \"#10-#19\" or one id) so they are never sold." },
	{ "unblock", run_unblock, "unblock SHOW_ID --seats FIRST-LAST", "Unblocks seats." },
	{ "stats", run_stats, "stats", "The server's counters and gauges." },
	{ "snapshot", run_snapshot, "snapshot",
	  "Has every shard write a snapshot now and prints the log position it covers." },
	{ "ping", run_ping, "ping [--count N]", "Round trips to the server, with its version." },
	{ "catalog", run_catalog, "catalog demo [--seed N]\ncatalog load FILE.json",
	  "Loads a catalog. 'demo' is the generated demo catalog (20 locations, 1,000 shows\n"
	  "over the 120 days from today); it does nothing when location 1 exists already.\n"
	  "'load' reads the JSON format of tools/catalog_json.h (an example is\n"
	  "tools/catalog.example.json) and checks all of it, including that every\n"
	  "location, venue and event it refers to is in it or on the server, before it\n"
	  "loads anything; loading the same file twice is harmless. A file that is not\n"
	  "valid exits 64; one that refers to what exists nowhere exits 1. Puts the server\n"
	  "answers 'overloaded' are sent again, with growing pauses, for up to a minute." },
	{ "help", run_help, "help [COMMAND]", "This text, or a command's." },
};

static const struct ctl_command *command_find(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_COUNT(commands); i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

/* Synopsis lines each start a usage; lines that start with spaces continue one. */
static void synopsis_print(FILE *out, const char *synopsis, const char *first,
			   const char *next)
{
	const char *line = synopsis;
	for (int i = 0; *line; i++) {
		size_t size = strcspn(line, "\n");
		/* A continuation is indented to line up after "boxctl COMMAND ". */
		fprintf(out, "%s%s%.*s\n", i == 0 ? first : next, line[0] == ' ' ? "" : "boxctl ",
			(int)size, line);
		line += size + (line[size] == '\n');
	}
}

static void command_help(FILE *out, const struct ctl_command *command)
{
	synopsis_print(out, command->synopsis, "usage: ", "       ");
	fprintf(out, "\n%s\n\nGlobal options (before or after the command): --server HOST:PORT, "
		     "--json,\n--no-color, --timeout-ms N; see 'boxctl --help'.\n",
		command->help);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: boxctl [--server HOST:PORT] [--json] [--no-color] [--timeout-ms N]\n"
		"              COMMAND [ARGUMENTS]\n\n"
		"The command-line client of a boxoffice server.\n\n"
		"  --server HOST:PORT  the server (default $BOXOFFICE_SERVER, else %s)\n"
		"  --json              print one JSON object per command, for scripts\n"
		"  --no-color          no colours, even on a terminal (also $NO_COLOR)\n"
		"  --timeout-ms N      how long to wait for the connection and for a response\n"
		"                      (default 5000 to connect, 30000 for a response)\n\n"
		"Commands:\n",
		SERVER_DEFAULT);
	for (size_t i = 0; i < ARRAY_COUNT(commands); i++)
		synopsis_print(out, commands[i].synopsis, "  ", "  ");
	fprintf(out,
		"\n'boxctl COMMAND --help' tells more. Times are ISO 8601 UTC; hold and booking\n"
		"ids are 16 hex digits; a USER_ID is the gateway's number for the user\n"
		"(1..18446744073709551615). Exit status: 0 done, 1 refused by the server (the\n"
		"reason on stderr), 2 connection or transport error, 64 usage error.\n");
}

static int run_help(int argc, char **argv)
{
	const char *positionals[1];
	int count = opts_parse(argc, argv, NULL, positionals, 0, 1);
	if (count == 0) {
		usage(stdout);
		return 0;
	}
	const struct ctl_command *command = command_find(positionals[0]);
	if (command == NULL)
		usage_fail("no command '%s'", positionals[0]);
	command_help(stdout, command);
	return 0;
}

int main(int argc, char **argv)
{
	ctl.server = SERVER_DEFAULT; /* connect_server() takes --server or the environment */
	for (int k = 1; k < argc; k++)
		ctl.json_anywhere |= strcmp(argv[k], "--json") == 0;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strncmp(argv[i], "--", 2) != 0 || !opt_take(NULL, argc, argv, &i))
			usage_fail("unknown option %s", argv[i]);
	}
	if (i == argc) {
		usage(stderr);
		usage_exit("no command");
	}
	const struct ctl_command *command = command_find(argv[i]);
	if (command == NULL)
		usage_fail("no command '%s'", argv[i]);
	ctl.command = command->name;
	int rc = command->run(argc - i, argv + i);
	box_client_close(ctl.client);
	return rc;
}
