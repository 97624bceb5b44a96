/*
 * boxctl — the command-line client of a boxoffice server, for people and scripts.
 *
 *   boxctl [--server HOST:PORT] [--json] COMMAND [ARGUMENTS] [OPTIONS]
 *
 * One connection per run, blocking calls (net/client.h), except `catalog`, which
 * pipelines its put commands. Without --json the output is for people: ISO 8601
 * UTC times, prices with their currency, seats by label ("Stalls A-12"). With
 * --json every command prints one JSON object on stdout, also when the server
 * refuses (with "status"), so scripts need not scrape text.
 *
 * Exit status: 0 done; 1 the server refused (the status in words on stderr);
 * 2 connection or transport error; 64 usage error.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "catalog_json.h"
#include "client.h"
#include "demo.h"
#include "seatmap.h"

#define EXIT_REFUSED 1
#define EXIT_TRANSPORT 2
#define EXIT_USAGE 64
#define SERVER_DEFAULT "127.0.0.1:7878"
#define LIST_VALUES_MAX 32
#define POSITIONALS_MAX 16

struct ctl_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *synopsis;
	const char *help;
};

/* What every command shares: set by the options, then by connect_server(). */
static struct {
	const char *server; /* HOST:PORT */
	const char *command;
	bool json;
	bool no_color;
	bool color;
	struct box_client *client;
} ctl;

static const struct ctl_command *command_find(const char *name);
static void command_help(FILE *out, const struct ctl_command *command);

/* Failing: three kinds, three exit codes. */

__attribute__((format(printf, 1, 2), noreturn)) static void usage_fail(const char *format, ...)
{
	va_list args;
	va_start(args, format);
	fprintf(stderr, "boxctl: %s%s", ctl.command ? ctl.command : "", ctl.command ? ": " : "");
	vfprintf(stderr, format, args);
	va_end(args);
	fprintf(stderr, "\nTry 'boxctl %s%s--help'.\n", ctl.command ? ctl.command : "",
		ctl.command ? " " : "");
	exit(EXIT_USAGE);
}

__attribute__((noreturn)) static void transport_fail(int error)
{
	fprintf(stderr, "boxctl: %s: %s (server %s)\n", ctl.command, box_client_error_text(error),
		ctl.server);
	box_client_close(ctl.client);
	exit(EXIT_TRANSPORT);
}

/* A refusal: the status in words, and what it was about. */
__attribute__((format(printf, 2, 3), noreturn)) static void refused(enum status status,
								    const char *format, ...)
{
	char about[512] = "";
	va_list args;
	va_start(args, format);
	vsnprintf(about, sizeof(about), format, args);
	va_end(args);
	if (ctl.json) {
		json_t *o = json_pack("{s:s, s:s}", "status", status_name(status), "about", about);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(o);
	}
	fprintf(stderr, "boxctl: %s: %s%s%s\n", ctl.command, status_name(status),
		*about ? ": " : "", about);
	box_client_close(ctl.client);
	exit(EXIT_REFUSED);
}

/* Transport errors end the run; refusals of queries too. */
static void check(int rc)
{
	if (rc < 0)
		transport_fail(rc);
}

/* The status is read through a pointer: the call that sets it is a sibling argument. */
static void check_query(int rc, const enum status *status, const char *what, uint32_t id)
{
	check(rc);
	if (*status != STATUS_OK)
		refused(*status, "%s %u", what, id);
}

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

static const char *timeout_text;

static const struct opt global_opts[] = {
	{ "server", OPT_VALUE, &ctl.server },
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
static int opts_parse(int argc, char **argv, const struct opt *opts, const char **positionals,
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

static uint64_t number_parse(const char *text, const char *what, uint64_t min, uint64_t max)
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

static uint32_t id_parse(const char *text, const char *what)
{
	return (uint32_t)number_parse(text, what, 1, UINT32_MAX);
}

static uint64_t user_parse(const char *text)
{
	if (text == NULL)
		usage_fail("--user USER_ID is required");
	return number_parse(text, "--user", 1, UINT64_MAX);
}

static bool all_of(const char *text, const char *set)
{
	return *text != '\0' && text[strspn(text, set)] == '\0';
}

/*
 * Hold (= booking) ids print as 16 hex digits; they are read back as hex when they
 * have 16 digits, a 0x, or a letter a-f, and as decimal otherwise.
 */
static uint64_t hold_id_parse(const char *text)
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

static int64_t time_parse(const char *text, const char *what)
{
	int64_t ms;
	if (!catalog_time_parse(text, &ms))
		usage_fail("%s must be an ISO 8601 time like 2027-03-01T19:30:00Z, not '%s'", what,
			   text);
	return ms;
}

static enum tier tier_arg(const char *text)
{
	if (text == NULL)
		usage_fail("--tier economy|regular|vip is required");
	int tier = tier_parse(text, strlen(text));
	if (tier < 0)
		usage_fail("--tier must be economy, regular or vip, not '%s'", text);
	return (enum tier)tier;
}

static int64_t clock_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connecting: HOST:PORT, [IPv6]:PORT. */

static void connect_server(void)
{
	char host[256];
	const char *port;
	const char *colon = strrchr(ctl.server, ':');
	const char *host_start = ctl.server;
	size_t host_size = colon ? (size_t)(colon - ctl.server) : 0;
	if (ctl.server[0] == '[' && colon && colon > ctl.server && colon[-1] == ']') {
		host_start++;
		host_size -= 2;
	}
	if (colon == NULL || host_size == 0 || host_size >= sizeof(host) || colon[1] == '\0')
		usage_fail("--server must be HOST:PORT, not '%s'", ctl.server);
	memcpy(host, host_start, host_size);
	host[host_size] = '\0';
	port = colon + 1;
	struct box_client_options options;
	box_client_options_default(&options);
	options.name = "boxctl";
	if (timeout_text)
		options.timeout_ms = (int)number_parse(timeout_text, "--timeout-ms", 1, INT32_MAX);
	char error[512];
	ctl.client = box_client_connect_options(host, port, &options, error, sizeof(error));
	if (ctl.client == NULL) {
		fprintf(stderr, "boxctl: %s: %s\n", ctl.command, error);
		exit(EXIT_TRANSPORT);
	}
}

/* Text and JSON output. */

static void json_print(json_t *value)
{
	json_dumpf(value, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	fputc('\n', stdout);
	json_decref(value);
}

/* A server text as a JSON string; bytes that are not UTF-8 become '?'. */
static json_t *json_text(struct text text)
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

static json_t *json_time(int64_t ms)
{
	char buffer[40];
	return json_string(catalog_time_format(ms, buffer, sizeof(buffer)));
}

static json_t *json_hold_id(uint64_t id)
{
	char buffer[20];
	snprintf(buffer, sizeof(buffer), "%016llx", (unsigned long long)id);
	return json_string(buffer);
}

static json_t *json_degrees(int32_t e6)
{
	return json_real(e6 / 1e6);
}

static const char *time_text(int64_t ms)
{
	static char buffers[4][40];
	static int next;
	char *buffer = buffers[next++ % 4];
	return catalog_time_format(ms, buffer, sizeof(buffers[0]));
}

static const char *money_text(int64_t minor, const char *currency)
{
	static char buffers[4][40];
	static int next;
	char *buffer = buffers[next++ % 4];
	return catalog_money_format(minor, currency, buffer, sizeof(buffers[0]));
}

static void heading(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void heading(const char *format, ...)
{
	va_list args;
	va_start(args, format);
	fputs(ctl.color ? "\033[1m" : "", stdout);
	vprintf(format, args);
	fputs(ctl.color ? "\033[0m\n" : "\n", stdout);
	va_end(args);
}

/* Catalog queries. */

static json_t *json_location(const struct engine_location *l)
{
	return json_pack("{s:I, s:o, s:s#, s:o, s:o, s:I}", "id", (json_int_t)l->location_id,
			 "name", json_text(l->name), "country", l->country, (int)COUNTRY_SIZE,
			 "lat", json_degrees(l->lat_e6), "lon", json_degrees(l->lon_e6), "events",
			 (json_int_t)l->events_count);
}

static int run_locations(int argc, char **argv)
{
	const char *positionals[1];
	opts_parse(argc, argv, NULL, positionals, 0, 0);
	connect_server();
	json_t *array = json_array();
	if (!ctl.json)
		heading("%-8s %-24s %-7s %6s  %s", "ID", "LOCATION", "COUNTRY", "EVENTS",
			"LAT, LON");
	uint32_t after = 0;
	for (;;) {
		const struct engine_location *items;
		uint32_t count;
		enum status status;
		check_query(box_client_locations(ctl.client, after, PROTO_LIST_LIMIT_MAX, &items,
						 &count, &status), &status, "locations after", after);
		for (uint32_t i = 0; i < count; i++) {
			const struct engine_location *l = &items[i];
			if (ctl.json)
				json_array_append_new(array, json_location(l));
			else
				printf("%-8u %-24.*s %-7.2s %6u  %.6f, %.6f\n", l->location_id,
				       (int)l->name.size, l->name.bytes, l->country, l->events_count,
				       l->lat_e6 / 1e6, l->lon_e6 / 1e6);
		}
		if (count < PROTO_LIST_LIMIT_MAX)
			break;
		after = items[count - 1].location_id;
	}
	if (ctl.json)
		json_print(json_pack("{s:o}", "locations", array));
	else
		json_decref(array);
	return 0;
}

static json_t *json_event(const struct engine_event_info *e)
{
	json_t *tags = json_array();
	for (uint8_t i = 0; i < e->tags_count; i++)
		json_array_append_new(tags, json_text(e->tags[i]));
	return json_pack("{s:I, s:I, s:o, s:o, s:s, s:o, s:I, s:o, s:I}", "id",
			 (json_int_t)e->event_id, "location_id", (json_int_t)e->location_id,
			 "title", json_text(e->title), "description", json_text(e->description),
			 "type", event_type_name(e->type), "language", json_text(e->language),
			 "duration_min", (json_int_t)e->duration_min, "tags", tags, "shows",
			 (json_int_t)e->shows_count);
}

static void tags_print(const struct engine_event_info *e)
{
	for (uint8_t t = 0; t < e->tags_count; t++)
		printf("%s%.*s", t ? ", " : "", (int)e->tags[t].size, e->tags[t].bytes);
}

static int run_events(int argc, char **argv)
{
	const char *positionals[1];
	opts_parse(argc, argv, NULL, positionals, 1, 1);
	uint32_t location_id = id_parse(positionals[0], "LOCATION_ID");
	connect_server();
	json_t *array = json_array();
	if (!ctl.json)
		heading("%-8s %-10s %-44s %5s  %s", "ID", "TYPE", "TITLE", "SHOWS", "TAGS");
	uint32_t after = 0;
	for (;;) {
		const struct engine_event_info *items;
		uint32_t count;
		enum status status;
		check_query(box_client_events(ctl.client, location_id, after, PROTO_LIST_LIMIT_MAX,
					      &items, &count, &status), &status, "location", location_id);
		for (uint32_t i = 0; i < count; i++) {
			const struct engine_event_info *e = &items[i];
			if (ctl.json) {
				json_array_append_new(array, json_event(e));
				continue;
			}
			printf("%-8u %-10s %-44.*s %5u  ", e->event_id, event_type_name(e->type),
			       (int)e->title.size, e->title.bytes, e->shows_count);
			tags_print(e);
			putchar('\n');
		}
		if (count < PROTO_LIST_LIMIT_MAX)
			break;
		after = items[count - 1].event_id;
	}
	if (ctl.json)
		json_print(json_pack("{s:I, s:o}", "location_id", (json_int_t)location_id,
				     "events", array));
	else
		json_decref(array);
	return 0;
}

static json_t *json_event_show(const struct box_event_show *s)
{
	return json_pack("{s:I, s:o, s:I, s:o, s:I, s:I, s:o, s:o}", "show_id",
			 (json_int_t)s->show_id, "start", json_time(s->start_ms), "start_ms",
			 (json_int_t)s->start_ms, "end", json_time(s->end_ms), "end_ms",
			 (json_int_t)s->end_ms, "venue_id", (json_int_t)s->venue_id, "venue",
			 json_text(s->venue_name), "address", json_text(s->venue_address));
}

static void event_print(const struct engine_event_info *e)
{
	heading("event %u: %.*s", e->event_id, (int)e->title.size, e->title.bytes);
	printf("  %s, %.*s%s%u min, location %u", event_type_name(e->type), (int)e->language.size,
	       e->language.bytes, e->language.size ? ", " : "", e->duration_min, e->location_id);
	if (e->tags_count > 0) {
		printf(", tags: ");
		tags_print(e);
	}
	putchar('\n');
	if (e->description.size > 0)
		printf("  %.*s\n", (int)e->description.size, e->description.bytes);
}

static int run_event(int argc, char **argv)
{
	const char *positionals[1];
	opts_parse(argc, argv, NULL, positionals, 1, 1);
	uint32_t event_id = id_parse(positionals[0], "EVENT_ID");
	connect_server();
	struct engine_event_info event;
	const struct box_event_show *shows;
	uint32_t count;
	enum status status;
	check_query(box_client_event(ctl.client, event_id, &event, &shows, &count, &status), &status,
		    "event", event_id);
	if (ctl.json) {
		json_t *array = json_array();
		for (uint32_t i = 0; i < count; i++)
			json_array_append_new(array, json_event_show(&shows[i]));
		json_t *o = json_event(&event);
		json_object_set_new(o, "show_list", array);
		json_print(o);
		return 0;
	}
	event_print(&event);
	printf("\n");
	heading("  %-8s %-22s %-22s %s", "SHOW", "START", "END", "VENUE");
	for (uint32_t i = 0; i < count; i++)
		printf("  %-8u %-22s %-22s %.*s, %.*s (venue %u)\n", shows[i].show_id,
		       time_text(shows[i].start_ms), time_text(shows[i].end_ms),
		       (int)shows[i].venue_name.size, shows[i].venue_name.bytes,
		       (int)shows[i].venue_address.size, shows[i].venue_address.bytes,
		       shows[i].venue_id);
	if (count < event.shows_count)
		printf("  (%u more not listed)\n", event.shows_count - count);
	return 0;
}

static json_t *json_show(const struct engine_show *s)
{
	json_t *tiers = json_object();
	for (int t = TIER_COUNT - 1; t >= 0; t--) {
		const struct engine_tier_counts *c = &s->tiers[t];
		if (c->seats == 0)
			continue;
		json_object_set_new(tiers, tier_name(t),
				    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
					      "price_minor", (json_int_t)s->prices_minor[t], "seats",
					      (json_int_t)c->seats, "available",
					      (json_int_t)c->available, "held", (json_int_t)c->held,
					      "pooled", (json_int_t)c->pooled, "booked",
					      (json_int_t)c->booked, "blocked", (json_int_t)c->blocked,
					      "waiting", (json_int_t)c->waiters));
	}
	return json_pack("{s:I, s:I, s:I, s:o, s:I, s:o, s:I, s:s#, s:I, s:o, s:o, s:I, s:o}",
			 "id", (json_int_t)s->show_id, "event_id", (json_int_t)s->event_id,
			 "venue_id", (json_int_t)s->venue_id, "start", json_time(s->start_ms),
			 "start_ms", (json_int_t)s->start_ms, "end", json_time(s->end_ms), "end_ms",
			 (json_int_t)s->end_ms, "currency", s->currency, (int)CURRENCY_SIZE,
			 "max_seats_per_user", (json_int_t)s->user_seats_max, "sale_opens",
			 json_time(s->sale_opens_ms), "sale_closes", json_time(s->sale_closes_ms),
			 "hold_ttl_ms", (json_int_t)s->hold_ttl_ms, "tiers", tiers);
}

/* The event of a show, and where the show plays (from the event's list of shows). */
static void show_where_print(const struct engine_show *s)
{
	struct engine_event_info event;
	const struct box_event_show *shows;
	uint32_t count;
	enum status status;
	check(box_client_event(ctl.client, s->event_id, &event, &shows, &count, &status));
	if (status != STATUS_OK) {
		heading("show %u (event %u, venue %u)", s->show_id, s->event_id, s->venue_id);
		return;
	}
	heading("show %u: %.*s", s->show_id, (int)event.title.size, event.title.bytes);
	printf("  event %u, %s, %u min\n", s->event_id, event_type_name(event.type),
	       event.duration_min);
	for (uint32_t i = 0; i < count; i++) {
		if (shows[i].show_id == s->show_id)
			printf("  at %.*s, %.*s (venue %u)\n", (int)shows[i].venue_name.size,
			       shows[i].venue_name.bytes, (int)shows[i].venue_address.size,
			       shows[i].venue_address.bytes, s->venue_id);
	}
}

static void show_print(const struct engine_show *s)
{
	show_where_print(s);
	printf("  starts %s, ends %s\n", time_text(s->start_ms), time_text(s->end_ms));
	printf("  on sale %s .. %s; at most %u seats per user; holds last %u s\n",
	       time_text(s->sale_opens_ms), time_text(s->sale_closes_ms), s->user_seats_max,
	       s->hold_ttl_ms / 1000);
	heading("  %-8s %14s %7s %9s %6s %6s %7s %7s", "TIER", "PRICE", "SEATS", "AVAILABLE",
		"HELD", "BOOKED", "BLOCKED", "WAITING");
	for (int t = TIER_COUNT - 1; t >= 0; t--) {
		const struct engine_tier_counts *c = &s->tiers[t];
		if (c->seats == 0)
			continue;
		printf("  %-8s %14s %7u %9u %6u %6u %7u %7u\n", tier_name(t),
		       money_text(s->prices_minor[t], s->currency), c->seats, c->available, c->held,
		       c->booked, c->blocked, c->waiters);
	}
}

static int run_show(int argc, char **argv)
{
	const char *positionals[1];
	opts_parse(argc, argv, NULL, positionals, 1, 1);
	uint32_t show_id = id_parse(positionals[0], "SHOW_ID");
	connect_server();
	struct engine_show show;
	enum status status;
	check_query(box_client_show(ctl.client, show_id, &show, &status), &status, "show", show_id);
	if (ctl.json)
		json_print(json_show(&show));
	else
		show_print(&show);
	return 0;
}

/* Seat maps and seat labels. */

static const char seat_chars[] = { '.', 'h', 'B', 'x' };
static const char tier_chars[] = { 'e', 'r', 'v' };

static uint8_t row_seat_tier(const struct layout_row *row, uint32_t offset)
{
	for (uint8_t r = 0; r < row->runs_count; r++) {
		if (offset < row->run_seats_counts[r])
			return row->run_tiers[r];
		offset -= row->run_seats_counts[r];
	}
	return TIER_ECONOMY;
}

/* Every row as two strings, one character per seat: its state and its tier. */
static json_t *json_seatmap_sections(const struct box_seatmap *map)
{
	json_t *sections = json_array();
	json_t *rows = NULL;
	struct layout_reader reader;
	struct layout_row row;
	uint32_t section = UINT32_MAX;
	char states[LAYOUT_ROW_SEATS_COUNT_MAX + 1], tiers[LAYOUT_ROW_SEATS_COUNT_MAX + 1];
	layout_reader_init(&reader, &map->layout);
	while (layout_reader_next(&reader, &row)) {
		if (row.section_index != section) {
			section = row.section_index;
			rows = json_array();
			json_array_append_new(sections,
					      json_pack("{s:s#, s:o}", "name", row.section_name,
							(int)row.section_name_size, "rows", rows));
		}
		for (uint32_t i = 0; i < row.seats_count; i++) {
			states[i] = seat_chars[map->states[row.seat_first + i] & 3];
			tiers[i] = tier_chars[row_seat_tier(&row, i) % TIER_COUNT];
		}
		json_array_append_new(rows, json_pack("{s:s#, s:I, s:I, s:s#, s:s#}", "name",
						      row.row_name, (int)row.row_name_size,
						      "first_seat_id", (json_int_t)row.seat_first,
						      "first_number", (json_int_t)row.first_number,
						      "states", states, (int)row.seats_count, "tiers",
						      tiers, (int)row.seats_count));
	}
	return sections;
}

static json_t *json_seatmap(const struct box_seatmap *map)
{
	uint32_t counts[4] = { 0 };
	for (uint32_t i = 0; i < map->seats_count; i++)
		counts[map->states[i] & 3]++;
	return json_pack("{s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:s, s:o}", "show_id",
			 (json_int_t)map->show_id, "venue_id", (json_int_t)map->venue_id, "seats",
			 (json_int_t)map->seats_count, "counts", "available", (json_int_t)counts[0],
			 "held", (json_int_t)counts[1], "booked", (json_int_t)counts[2], "blocked",
			 (json_int_t)counts[3], "legend",
			 "states: . available, h held, B booked, x blocked; tiers: e economy, "
			 "r regular, v vip",
			 "sections", json_seatmap_sections(map));
}

static unsigned terminal_width(void)
{
	struct winsize size;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 40)
		return size.ws_col;
	return 100;
}

static int run_seatmap(int argc, char **argv)
{
	const char *positionals[1], *width_text = NULL, *sections_text = NULL;
	const struct opt opts[] = { { "width", OPT_VALUE, &width_text },
				    { "sections", OPT_VALUE, &sections_text },
				    { NULL, OPT_FLAG, NULL } };
	opts_parse(argc, argv, opts, positionals, 1, 1);
	uint32_t show_id = id_parse(positionals[0], "SHOW_ID");
	/* A row is drawn after 20 columns of section and row names. */
	unsigned width = width_text ? (unsigned)number_parse(width_text, "--width", 1, 1024)
				    : terminal_width() - 22;
	unsigned sections = sections_text ? (unsigned)number_parse(sections_text, "--sections",
								   0, LAYOUT_SECTIONS_COUNT_MAX)
					  : 10;
	connect_server();
	struct engine_show show;
	struct box_seatmap *map;
	enum status status;
	check_query(box_client_show(ctl.client, show_id, &show, &status), &status, "show", show_id);
	if (!ctl.json)
		show_print(&show);
	check_query(box_client_seatmap(ctl.client, show_id, &map, &status), &status, "show",
		    show_id);
	if (ctl.json) {
		json_print(json_seatmap(map));
	} else {
		putchar('\n');
		seatmap_print(stdout, &map->layout, map->states, ctl.color, width,
			      sections ? sections : LAYOUT_SECTIONS_COUNT_MAX);
	}
	box_seatmap_destroy(map);
	return 0;
}

static void venue_sections_print(const struct layout *layout)
{
	struct layout_reader reader;
	struct layout_row row;
	uint32_t section = UINT32_MAX, rows = 0, seats[TIER_COUNT] = { 0 };
	const char *name = NULL;
	uint8_t name_size = 0;
	bool more = true;
	heading("  %-16s %5s %7s %8s %8s", "SECTION", "ROWS", "VIP", "REGULAR", "ECONOMY");
	layout_reader_init(&reader, layout);
	while (more) {
		more = layout_reader_next(&reader, &row);
		if (section != UINT32_MAX && (!more || row.section_index != section))
			printf("  %-16.*s %5u %7u %8u %8u\n", (int)name_size, name, rows,
			       seats[TIER_VIP], seats[TIER_REGULAR], seats[TIER_ECONOMY]);
		if (!more)
			break;
		if (row.section_index != section) {
			section = row.section_index;
			name = row.section_name;
			name_size = row.section_name_size;
			rows = 0;
			memset(seats, 0, sizeof(seats));
		}
		rows++;
		for (uint8_t r = 0; r < row.runs_count; r++)
			seats[row.run_tiers[r] % TIER_COUNT] += row.run_seats_counts[r];
	}
}

static int run_venue(int argc, char **argv)
{
	const char *positionals[1];
	opts_parse(argc, argv, NULL, positionals, 1, 1);
	uint32_t venue_id = id_parse(positionals[0], "VENUE_ID");
	connect_server();
	struct engine_venue v;
	enum status status;
	check_query(box_client_venue(ctl.client, venue_id, &v, &status), &status, "venue",
		    venue_id);
	const struct layout *l = &v.layout;
	if (ctl.json) {
		json_print(json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:I, s:I, s:{s:I, s:I, s:I}}",
				     "id", (json_int_t)v.venue_id, "location_id",
				     (json_int_t)v.location_id, "name", json_text(v.name), "address",
				     json_text(v.address), "lat", json_degrees(v.lat_e6), "lon",
				     json_degrees(v.lon_e6), "sections", (json_int_t)l->sections_count,
				     "rows", (json_int_t)l->rows_count, "seats", "vip",
				     (json_int_t)l->tier_seats_count[TIER_VIP], "regular",
				     (json_int_t)l->tier_seats_count[TIER_REGULAR], "economy",
				     (json_int_t)l->tier_seats_count[TIER_ECONOMY]));
		return 0;
	}
	heading("venue %u: %.*s", v.venue_id, (int)v.name.size, v.name.bytes);
	printf("  %.*s (location %u, %.6f, %.6f)\n", (int)v.address.size, v.address.bytes,
	       v.location_id, v.lat_e6 / 1e6, v.lon_e6 / 1e6);
	printf("  %u seats in %u sections, %u rows\n", l->seats_count, l->sections_count,
	       l->rows_count);
	venue_sections_print(l);
	return 0;
}

/* Search. */

struct search_args {
	struct opt_list keywords;
	struct opt_list tags;
	const char *near, *radius, *from, *to, *type, *limit, *after;
};

static void search_query_build(const struct search_args *a, struct search_query *q,
			       char *keyword, size_t keyword_size)
{
	search_query_init(q);
	size_t size = 0;
	for (int i = 0; i < a->keywords.count; i++)
		size += (size_t)snprintf(keyword + size, size < keyword_size ? keyword_size - size : 0,
					 "%s%s", i ? " " : "", a->keywords.values[i]);
	if (size > SEARCH_KEYWORD_SIZE_MAX)
		usage_fail("keywords are at most %u bytes", SEARCH_KEYWORD_SIZE_MAX);
	q->keyword = text_from(keyword, (uint32_t)size);
	if ((a->near == NULL) != (a->radius == NULL))
		usage_fail("--near LAT,LON and --radius-km N go together");
	if (a->near) {
		double lat, lon;
		char end;
		if (sscanf(a->near, "%lf,%lf%c", &lat, &lon, &end) != 2 || lat < -90 || lat > 90 ||
		    lon < -180 || lon > 180)
			usage_fail("--near must be LAT,LON in degrees, not '%s'", a->near);
		q->near = true;
		q->lat_e6 = (int32_t)(lat * 1e6 + (lat < 0 ? -0.5 : 0.5));
		q->lon_e6 = (int32_t)(lon * 1e6 + (lon < 0 ? -0.5 : 0.5));
		q->radius_km = (uint32_t)number_parse(a->radius, "--radius-km", 1,
						      SEARCH_RADIUS_KM_MAX);
	}
	q->from_ms = a->from ? time_parse(a->from, "--from") : 0;
	q->to_ms = a->to ? time_parse(a->to, "--to") : INT64_MAX;
	if (a->type) {
		q->type = (int16_t)event_type_parse(a->type, strlen(a->type));
		if (q->type < 0)
			usage_fail("--type must be concert, sport, theatre, comedy, festival, "
				   "family, conference or other");
	}
	for (int i = 0; i < a->tags.count; i++) {
		if (i == TAGS_COUNT_MAX || strlen(a->tags.values[i]) > TAG_SIZE_MAX)
			usage_fail("at most %u tags of %u bytes", TAGS_COUNT_MAX, TAG_SIZE_MAX);
		q->tags[q->tags_count++] = text_from_cstr(a->tags.values[i]);
	}
	q->limit = a->limit ? (uint32_t)number_parse(a->limit, "--limit", 1,
						     SEARCH_RESULTS_COUNT_MAX) : 20;
	if (a->after) {
		unsigned long long start;
		unsigned show;
		char end;
		if (sscanf(a->after, "%llu:%u%c", &start, &show, &end) != 2)
			usage_fail("--after must be START_MS:SHOW_ID, as printed with a page");
		q->after_start_ms = (int64_t)start;
		q->after_show_id = show;
	}
}

/* Names a hit for people: its event's title and venue (one EVENT call per event). */
static json_t *hit_describe(const struct search_hit *hit, char *line, size_t size)
{
	struct engine_event_info event;
	const struct box_event_show *shows;
	uint32_t count;
	enum status status;
	check(box_client_event(ctl.client, hit->event_id, &event, &shows, &count, &status));
	if (status != STATUS_OK) {
		snprintf(line, size, "event %u", hit->event_id);
		return json_null();
	}
	struct text venue = text_from("?", 1);
	for (uint32_t i = 0; i < count; i++) {
		if (shows[i].show_id == hit->show_id)
			venue = shows[i].venue_name;
	}
	snprintf(line, size, "%-40.*s %-10s %.*s", (int)event.title.size, event.title.bytes,
		 event_type_name(event.type), (int)venue.size, venue.bytes);
	return json_pack("{s:o, s:s, s:o}", "title", json_text(event.title), "type",
			 event_type_name(event.type), "venue", json_text(venue));
}

static void hits_output(const struct search_hit *hits, uint32_t count, bool more, bool near)
{
	/* The hits borrow from the client: copy them before describing each. */
	struct search_hit copy[SEARCH_RESULTS_COUNT_MAX];
	memcpy(copy, hits, sizeof(*hits) * count);
	json_t *array = json_array();
	if (!ctl.json && count > 0)
		heading("%-22s %-8s %-40s %-10s %s", "START", "SHOW", "EVENT", "TYPE", "VENUE");
	for (uint32_t i = 0; i < count; i++) {
		const struct search_hit *h = &copy[i];
		char line[256];
		json_t *about = hit_describe(h, line, sizeof(line));
		if (ctl.json) {
			json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:o, s:I}", "show_id",
					      (json_int_t)h->show_id, "event_id",
					      (json_int_t)h->event_id, "venue_id",
					      (json_int_t)h->venue_id, "location_id",
					      (json_int_t)h->location_id, "start",
					      json_time(h->start_ms), "start_ms",
					      (json_int_t)h->start_ms);
			if (near)
				json_object_set_new(o, "distance_m", json_integer(h->distance_m));
			json_object_update(o, about);
			json_array_append_new(array, o);
		} else {
			printf("%-22s %-8u %s", time_text(h->start_ms), h->show_id, line);
			if (near)
				printf(", %.1f km", h->distance_m / 1000.0);
			putchar('\n');
		}
		json_decref(about);
	}
	char cursor[48] = "";
	if (more && count > 0)
		snprintf(cursor, sizeof(cursor), "%lld:%u", (long long)copy[count - 1].start_ms,
			 copy[count - 1].show_id);
	if (ctl.json) {
		json_t *o = json_pack("{s:o, s:b}", "hits", array, "more", more);
		if (*cursor)
			json_object_set_new(o, "next_after", json_string(cursor));
		json_print(o);
		return;
	}
	json_decref(array);
	if (count == 0)
		printf("no shows found\n");
	if (*cursor)
		printf("more: add --after %s for the next page\n", cursor);
}

static int run_search(int argc, char **argv)
{
	struct search_args a = { 0 };
	const struct opt opts[] = {
		{ "near", OPT_VALUE, &a.near },	  { "radius-km", OPT_VALUE, &a.radius },
		{ "from", OPT_VALUE, &a.from },	  { "to", OPT_VALUE, &a.to },
		{ "type", OPT_VALUE, &a.type },	  { "tag", OPT_LIST, &a.tags },
		{ "limit", OPT_VALUE, &a.limit }, { "after", OPT_VALUE, &a.after },
		{ NULL, OPT_FLAG, NULL },
	};
	a.keywords.count = opts_parse(argc, argv, opts, a.keywords.values, 0, LIST_VALUES_MAX);
	struct search_query query;
	char keyword[1024];
	search_query_build(&a, &query, keyword, sizeof(keyword));
	connect_server();
	const struct search_hit *hits;
	uint32_t count;
	bool more;
	enum status status;
	check(box_client_search(ctl.client, &query, &hits, &count, &more, &status));
	if (status != STATUS_OK)
		refused(status, "the search");
	hits_output(hits, count, more, query.near);
	return 0;
}

/* Changes: what a result says about seats, with their labels and prices. */

/* The show a change is about: its seat map names the seats, the show prices them. */
struct show_context {
	uint32_t show_id;
	struct box_seatmap *map; /* NULL when it could not be had */
	struct engine_show show;
	bool have_show;
};

/* Returns the seat map's status: STATUS_NOT_FOUND for an unknown show. */
static enum status show_context_load(struct show_context *s, uint32_t show_id)
{
	enum status map_status, status;
	*s = (struct show_context){ .show_id = show_id };
	check(box_client_seatmap(ctl.client, show_id, &s->map, &map_status));
	check(box_client_show(ctl.client, show_id, &s->show, &status));
	s->have_show = status == STATUS_OK;
	return map_status;
}

static void show_context_finish(struct show_context *s)
{
	box_seatmap_destroy(s->map);
}

static const char *seat_label(const struct show_context *s, uint32_t seat, char *buffer,
			      size_t size)
{
	if (s->map == NULL || seat >= s->map->seats_count) {
		snprintf(buffer, size, "#%u", seat);
		return buffer;
	}
	return seatmap_label(&s->map->layout, seat, buffer, size);
}

/* The seat's tier, or -1 without a seat map. */
static int seat_tier(const struct show_context *s, uint32_t seat)
{
	struct layout_row row;
	if (s->map == NULL || !layout_seat_row(&s->map->layout, seat, &row))
		return -1;
	return row_seat_tier(&row, seat - row.seat_first);
}

static json_t *json_seats(const struct show_context *s, const uint32_t *seats, uint8_t count)
{
	json_t *array = json_array();
	for (uint8_t i = 0; i < count; i++) {
		char label[64];
		int tier = seat_tier(s, seats[i]);
		json_t *o = json_pack("{s:I, s:s}", "id", (json_int_t)seats[i], "label",
				      seat_label(s, seats[i], label, sizeof(label)));
		if (tier >= 0)
			json_object_set_new(o, "tier", json_string(tier_name(tier)));
		if (tier >= 0 && s->have_show)
			json_object_set_new(o, "price_minor", json_integer(s->show.prices_minor[tier]));
		json_array_append_new(array, o);
	}
	return array;
}

/* One line per seat with its tier and price, then the total. */
static void seats_print(const struct show_context *s, const uint32_t *seats, uint8_t count)
{
	int64_t total = 0;
	bool priced = s->have_show;
	for (uint8_t i = 0; i < count; i++) {
		char label[64];
		int tier = seat_tier(s, seats[i]);
		printf("  %-24s", seat_label(s, seats[i], label, sizeof(label)));
		if (tier >= 0)
			printf(" %-8s", tier_name(tier));
		if (tier >= 0 && s->have_show) {
			printf(" %14s", money_text(s->show.prices_minor[tier], s->show.currency));
			total += s->show.prices_minor[tier];
		} else {
			priced = false;
		}
		putchar('\n');
	}
	if (priced && count > 1)
		printf("  %-24s %-8s %14s\n", "total", "", money_text(total, s->show.currency));
}

static void seats_inline(const struct show_context *s, const uint32_t *seats, uint8_t count)
{
	for (uint8_t i = 0; i < count; i++) {
		char label[64];
		fprintf(stderr, "%s%s", i ? ", " : "", seat_label(s, seats[i], label, sizeof(label)));
	}
}

static json_t *json_result(const struct engine_result *r, const struct show_context *s)
{
	json_t *o = json_pack("{s:s}", "status", status_name(r->status));
	if (r->hold_id != 0)
		json_object_set_new(o, "hold_id", json_hold_id(r->hold_id));
	if (r->deadline_ms != 0) {
		json_object_set_new(o, "deadline", json_time(r->deadline_ms));
		json_object_set_new(o, "deadline_ms", json_integer(r->deadline_ms));
	}
	json_object_set_new(o, "seats", json_seats(s, r->seats, r->seats_count));
	if (r->booking_cancelled)
		json_object_set_new(o, "booking_cancelled", json_true());
	if (r->waiter_state != WAITER_NONE) {
		json_object_set_new(o, "waiter_state", json_string(waiter_state_name(r->waiter_state)));
		json_object_set_new(o, "tier", json_string(tier_name(r->tier)));
		json_object_set_new(o, "waiting", json_integer(r->waiters_count));
		json_object_set_new(o, "waiter_seq", json_integer((json_int_t)r->waiter_seq));
	}
	return o;
}

/*
 * Ends a change: a refusal exits 1 with the status in words (and, for seats that
 * were not available, which ones); success prints the result as JSON when asked.
 * Returns true when the caller prints the text itself.
 */
static bool result_settle(int rc, const struct engine_result *r, struct show_context *s,
			  const char *what)
{
	check(rc);
	if (ctl.json)
		json_print(json_result(r, s));
	if (r->status == STATUS_OK)
		return !ctl.json;
	if (r->status == STATUS_SEAT_UNAVAILABLE && r->seats_count > 0 && !ctl.json) {
		fprintf(stderr, "boxctl: %s: seat unavailable: ", ctl.command);
		seats_inline(s, r->seats, r->seats_count);
		fprintf(stderr, " %s taken\n", r->seats_count > 1 ? "are" : "is");
		exit(EXIT_REFUSED);
	}
	if (ctl.json) {
		fprintf(stderr, "boxctl: %s: %s: %s\n", ctl.command, status_name(r->status), what);
		exit(EXIT_REFUSED);
	}
	refused(r->status, "%s", what);
}

/*
 * "#123", "ROW-NUMBER", "SECTION:ROW-NUMBER", or a label as printed, "SECTION
 * ROW-NUMBER" (section names may have spaces, so that form splits at the last one).
 */
static uint32_t seat_resolve(const struct box_seatmap *map, const char *label)
{
	if (label[0] == '#')
		return (uint32_t)number_parse(label + 1, "a seat id", 0, map->seats_count - 1);
	const char *dash = strrchr(label, '-');
	const char *colon = strrchr(label, ':');
	if (colon != NULL && dash != NULL && colon > dash)
		colon = NULL;
	if (dash == NULL || dash == label || !all_of(dash + 1, "0123456789") ||
	    strlen(dash + 1) > 5)
		usage_fail("'%s' is not a seat: give ROW-NUMBER, SECTION:ROW-NUMBER or #SEAT_ID",
			   label);
	uint32_t number = (uint32_t)atoi(dash + 1), seat;
	const char *row = colon ? colon + 1 : label;
	if (layout_seat_find(&map->layout, label, colon ? (size_t)(colon - label) : 0, row,
			     (size_t)(dash - row), number, &seat))
		return seat;
	const char *space = colon ? NULL : memrchr(label, ' ', (size_t)(dash - label));
	if (space != NULL && layout_seat_find(&map->layout, label, (size_t)(space - label),
					      space + 1, (size_t)(dash - space - 1), number, &seat))
		return seat;
	usage_fail("no seat '%s' in show %u's venue (or the row name is in several sections: "
		   "give SECTION:ROW-NUMBER)",
		   label, map->show_id);
}

/* Every label of every --seats option, each a comma-separated list. */
static uint8_t seats_resolve(const struct box_seatmap *map, const struct opt_list *lists,
			     uint32_t *seats)
{
	uint8_t count = 0;
	for (int i = 0; i < lists->count; i++) {
		char copy[1024];
		snprintf(copy, sizeof(copy), "%s", lists->values[i]);
		for (char *save, *label = strtok_r(copy, ",", &save); label;
		     label = strtok_r(NULL, ",", &save)) {
			if (count == HOLD_SEATS_COUNT_MAX)
				usage_fail("at most %u seats in one hold", HOLD_SEATS_COUNT_MAX);
			seats[count++] = seat_resolve(map, label);
		}
	}
	return count;
}

static int run_hold(int argc, char **argv)
{
	struct opt_list seat_lists = { 0 };
	const char *positionals[1], *user = NULL, *tier = NULL, *count = NULL, *ttl = NULL;
	bool together = false;
	const struct opt opts[] = {
		{ "user", OPT_VALUE, &user },	{ "seats", OPT_LIST, &seat_lists },
		{ "tier", OPT_VALUE, &tier },	{ "count", OPT_VALUE, &count },
		{ "together", OPT_FLAG, &together }, { "ttl-ms", OPT_VALUE, &ttl },
		{ NULL, OPT_FLAG, NULL },
	};
	opts_parse(argc, argv, opts, positionals, 1, 1);
	uint32_t show_id = id_parse(positionals[0], "SHOW_ID");
	uint64_t user_id = user_parse(user);
	bool best = seat_lists.count == 0;
	if (best == (tier == NULL) || (!best && (count || together)))
		usage_fail("give either --seats LABEL,... or --tier TIER --count N [--together]");
	uint32_t ttl_ms = ttl ? (uint32_t)number_parse(ttl, "--ttl-ms", 1, HOLD_TTL_MS_MAX) : 0;
	enum tier best_tier = best ? tier_arg(tier) : TIER_ECONOMY;
	uint8_t best_count = best ? (uint8_t)number_parse(count ? count : "1", "--count", 1,
							  HOLD_SEATS_COUNT_MAX)
				  : 0;
	connect_server();
	struct show_context s;
	enum status status = show_context_load(&s, show_id);
	if (status != STATUS_OK)
		refused(status, "show %u", show_id);
	struct engine_result r;
	int rc;
	if (best) {
		rc = box_client_hold_best(ctl.client, show_id, user_id, ttl_ms, best_tier,
					  best_count, together, &r);
	} else {
		uint32_t seats[HOLD_SEATS_COUNT_MAX];
		uint8_t seats_count = seats_resolve(s.map, &seat_lists, seats);
		rc = box_client_hold_seats(ctl.client, show_id, user_id, ttl_ms, seats, seats_count,
					   &r);
	}
	if (result_settle(rc, &r, &s, "the hold was not made")) {
		heading("hold %016llx: %u seat%s of show %u for user %llu",
			(unsigned long long)r.hold_id, r.seats_count, r.seats_count > 1 ? "s" : "",
			show_id, (unsigned long long)user_id);
		printf("  held until %s; confirm it before then\n", time_text(r.deadline_ms));
		seats_print(&s, r.seats, r.seats_count);
	}
	show_context_finish(&s);
	return 0;
}

static int run_confirm(int argc, char **argv)
{
	const char *positionals[1], *user = NULL, *payment = NULL;
	const struct opt opts[] = { { "user", OPT_VALUE, &user },
				    { "payment-ref", OPT_VALUE, &payment },
				    { NULL, OPT_FLAG, NULL } };
	opts_parse(argc, argv, opts, positionals, 1, 1);
	uint64_t hold_id = hold_id_parse(positionals[0]);
	uint64_t user_id = user_parse(user);
	if (payment == NULL || strlen(payment) < 1 || strlen(payment) > PAYMENT_REF_SIZE_MAX)
		usage_fail("--payment-ref REF (1..%u bytes) is required", PAYMENT_REF_SIZE_MAX);
	connect_server();
	struct show_context s;
	show_context_load(&s, hold_id_show(hold_id));
	struct engine_result r;
	int rc = box_client_confirm(ctl.client, hold_id, user_id, text_from_cstr(payment), &r);
	if (result_settle(rc, &r, &s, "the hold was not confirmed")) {
		heading("booking %016llx confirmed for user %llu (payment %s)%s",
			(unsigned long long)r.hold_id, (unsigned long long)user_id, payment,
			r.booking_cancelled ? ", since cancelled" : "");
		seats_print(&s, r.seats, r.seats_count);
	}
	show_context_finish(&s);
	return 0;
}

/* RELEASE and BOOKING_CANCEL: seats go back. */
static int run_give_back(int argc, char **argv, bool cancel)
{
	const char *positionals[1], *user = NULL;
	const struct opt opts[] = { { "user", OPT_VALUE, &user }, { NULL, OPT_FLAG, NULL } };
	opts_parse(argc, argv, cancel ? NULL : opts, positionals, 1, 1);
	uint64_t id = hold_id_parse(positionals[0]);
	uint64_t user_id = cancel ? 0 : user_parse(user);
	connect_server();
	struct show_context s;
	show_context_load(&s, hold_id_show(id));
	struct engine_result r;
	int rc = cancel ? box_client_cancel(ctl.client, id, &r)
			: box_client_release(ctl.client, id, user_id, &r);
	if (result_settle(rc, &r, &s, cancel ? "the booking was not cancelled"
					      : "the hold was not released")) {
		heading("%s %016llx %s; %u seat%s returned", cancel ? "booking" : "hold",
			(unsigned long long)id, cancel ? "cancelled" : "released", r.seats_count,
			r.seats_count == 1 ? "" : "s");
		seats_print(&s, r.seats, r.seats_count);
	}
	show_context_finish(&s);
	return 0;
}

static int run_release(int argc, char **argv)
{
	return run_give_back(argc, argv, false);
}

static int run_cancel(int argc, char **argv)
{
	return run_give_back(argc, argv, true);
}

/* "FIRST-LAST" or "N" seat ids, '#' allowed. */
static void seat_range_parse(const char *text, uint32_t *first, uint32_t *count)
{
	char copy[64];
	snprintf(copy, sizeof(copy), "%s", text);
	char *dash = strchr(copy + 1, '-');
	if (dash)
		*dash = '\0';
	const char *a = copy[0] == '#' ? copy + 1 : copy;
	const char *b = dash ? (dash[1] == '#' ? dash + 2 : dash + 1) : a;
	uint64_t low = number_parse(a, "the first seat id", 0, LAYOUT_SEATS_COUNT_MAX - 1);
	uint64_t high = number_parse(b, "the last seat id", low, LAYOUT_SEATS_COUNT_MAX - 1);
	*first = (uint32_t)low;
	*count = (uint32_t)(high - low + 1);
}

static int run_block_change(int argc, char **argv, bool blocked)
{
	const char *positionals[1], *range = NULL;
	const struct opt opts[] = { { "seats", OPT_VALUE, &range }, { NULL, OPT_FLAG, NULL } };
	opts_parse(argc, argv, opts, positionals, 1, 1);
	uint32_t show_id = id_parse(positionals[0], "SHOW_ID");
	if (range == NULL)
		usage_fail("--seats FIRST-LAST (seat ids) is required");
	uint32_t first, count;
	seat_range_parse(range, &first, &count);
	connect_server();
	struct show_context s;
	show_context_load(&s, show_id);
	struct engine_result r;
	int rc = box_client_seats_block(ctl.client, show_id, first, count, blocked, &r);
	if (result_settle(rc, &r, &s, blocked ? "the seats were not blocked"
					       : "the seats were not unblocked")) {
		char a[64], b[64];
		printf("%s %u seat%s of show %u: %s .. %s\n", blocked ? "blocked" : "unblocked",
		       count, count == 1 ? "" : "s", show_id, seat_label(&s, first, a, sizeof(a)),
		       seat_label(&s, first + count - 1, b, sizeof(b)));
	}
	show_context_finish(&s);
	return 0;
}

static int run_block(int argc, char **argv)
{
	return run_block_change(argc, argv, true);
}

static int run_unblock(int argc, char **argv)
{
	return run_block_change(argc, argv, false);
}

/* Waiting lists. */

static void waiter_print(const struct engine_result *r, const struct show_context *s,
			 uint64_t user_id)
{
	const char *tier = tier_name(r->tier);
	switch (r->waiter_state) {
	case WAITER_WAITING:
		printf("user %llu is waiting in the %s line of show %u: %u in line\n",
		       (unsigned long long)user_id, tier, s->show_id, r->waiters_count);
		return;
	case WAITER_OFFERED:
		heading("offer for user %llu: hold %016llx, until %s", (unsigned long long)user_id,
			(unsigned long long)r->hold_id, time_text(r->deadline_ms));
		seats_print(s, r->seats, r->seats_count);
		printf("  confirm it: boxctl confirm %016llx --user %llu --payment-ref REF\n",
		       (unsigned long long)r->hold_id, (unsigned long long)user_id);
		return;
	case WAITER_SOLD_OUT:
		printf("the %s line of show %u is sold out: no seat can come back\n", tier,
		       s->show_id);
		return;
	case WAITER_LAPSED:
		printf("user %llu's place in the %s line lapsed: it was not polled in time\n",
		       (unsigned long long)user_id, tier);
		return;
	}
	printf("user %llu is in no waiting line of show %u\n", (unsigned long long)user_id,
	       s->show_id);
}

static int run_waitlist(int argc, char **argv)
{
	const char *positionals[2], *user = NULL, *tier = NULL, *count = NULL;
	bool together = false;
	const struct opt opts[] = {
		{ "user", OPT_VALUE, &user },	  { "tier", OPT_VALUE, &tier },
		{ "count", OPT_VALUE, &count },	  { "together", OPT_FLAG, &together },
		{ NULL, OPT_FLAG, NULL },
	};
	opts_parse(argc, argv, opts, positionals, 2, 2);
	const char *action = positionals[0];
	bool join = strcmp(action, "join") == 0;
	if (!join && strcmp(action, "leave") != 0 && strcmp(action, "poll") != 0)
		usage_fail("the action must be join, leave or poll, not '%s'", action);
	if (!join && (tier || count || together))
		usage_fail("--tier, --count and --together are for join");
	uint32_t show_id = id_parse(positionals[1], "SHOW_ID");
	uint64_t user_id = user_parse(user);
	enum tier join_tier = join ? tier_arg(tier) : TIER_ECONOMY;
	uint8_t join_count = join ? (uint8_t)number_parse(count ? count : "1", "--count", 1,
							  HOLD_SEATS_COUNT_MAX)
				  : 0;
	connect_server();
	struct show_context s;
	show_context_load(&s, show_id);
	struct engine_result r;
	int rc;
	if (join)
		rc = box_client_waitlist_join(ctl.client, show_id, user_id, join_tier, join_count,
					      together, &r);
	else if (action[0] == 'l')
		rc = box_client_waitlist_leave(ctl.client, show_id, user_id, &r);
	else
		rc = box_client_waitlist_poll(ctl.client, show_id, user_id, &r);
	if (result_settle(rc, &r, &s, "the waiting list said no")) {
		if (action[0] == 'l')
			printf("user %llu left the waiting line of show %u\n",
			       (unsigned long long)user_id, show_id);
		else
			waiter_print(&r, &s, user_id);
	}
	show_context_finish(&s);
	return 0;
}

static int run_wait(int argc, char **argv)
{
	const char *positionals[1], *user = NULL, *timeout = NULL;
	const struct opt opts[] = { { "user", OPT_VALUE, &user },
				    { "timeout-ms", OPT_VALUE, &timeout },
				    { NULL, OPT_FLAG, NULL } };
	/* --timeout-ms after the command is the WAIT's own, not the connection's. */
	opts_parse(argc, argv, opts, positionals, 1, 1);
	uint32_t show_id = id_parse(positionals[0], "SHOW_ID");
	uint64_t user_id = user_parse(user);
	uint32_t timeout_ms = timeout ? (uint32_t)number_parse(timeout, "--timeout-ms", 1,
							       PROTO_WAIT_TIMEOUT_MS_MAX)
				      : 0;
	connect_server();
	struct show_context s;
	show_context_load(&s, show_id);
	struct engine_result r;
	int rc = box_client_wait(ctl.client, show_id, user_id, timeout_ms, &r);
	if (result_settle(rc, &r, &s, "nothing to wait for"))
		waiter_print(&r, &s, user_id);
	show_context_finish(&s);
	return 0;
}

/* Operators. */

static int run_stats(int argc, char **argv)
{
	const char *positionals[1];
	opts_parse(argc, argv, NULL, positionals, 0, 0);
	connect_server();
	const struct box_stat *stats;
	uint32_t count;
	enum status status;
	check(box_client_stats(ctl.client, &stats, &count, &status));
	if (status != STATUS_OK)
		refused(status, "stats");
	json_t *o = json_object();
	for (uint32_t i = 0; i < count; i++) {
		char name[NAME_SIZE_MAX + 1];
		snprintf(name, sizeof(name), "%.*s", (int)stats[i].name.size, stats[i].name.bytes);
		if (ctl.json)
			json_object_set_new(o, name, json_integer(stats[i].value));
		else
			printf("%-32s %lld\n", name, (long long)stats[i].value);
	}
	if (ctl.json)
		json_print(json_pack("{s:o}", "stats", o));
	else
		json_decref(o);
	return 0;
}

static int run_snapshot(int argc, char **argv)
{
	const char *positionals[1];
	opts_parse(argc, argv, NULL, positionals, 0, 0);
	connect_server();
	const uint64_t *lsns;
	uint32_t count;
	enum status status;
	check(box_client_snapshot(ctl.client, &lsns, &count, &status));
	if (status != STATUS_OK)
		refused(status, "snapshot");
	json_t *array = json_array();
	for (uint32_t i = 0; i < count; i++) {
		if (ctl.json)
			json_array_append_new(array, json_integer((json_int_t)lsns[i]));
		else if (lsns[i] == 0)
			printf("shard %u: nothing to snapshot yet\n", i);
		else
			printf("shard %u: snapshot on disk up to LSN %llu\n", i,
			       (unsigned long long)lsns[i]);
	}
	if (ctl.json)
		json_print(json_pack("{s:o}", "snapshot_lsns", array));
	else
		json_decref(array);
	return 0;
}

static int run_ping(int argc, char **argv)
{
	const char *positionals[1], *count_text = NULL;
	const struct opt opts[] = { { "count", OPT_VALUE, &count_text }, { NULL, OPT_FLAG, NULL } };
	opts_parse(argc, argv, opts, positionals, 0, 0);
	uint32_t count = count_text ? (uint32_t)number_parse(count_text, "--count", 1, 1000000) : 1;
	connect_server();
	const struct box_server_info *info = box_client_server(ctl.client);
	json_t *times = json_array();
	for (uint32_t i = 0; i < count; i++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		check(box_client_ping(ctl.client, "boxctl", 6));
		clock_gettime(CLOCK_MONOTONIC, &b);
		double us = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
		if (ctl.json)
			json_array_append_new(times, json_real(us));
		else
			printf("pong from %s (%s, protocol %u, %u workers): %.0f us\n", ctl.server,
			       info->server_version, info->version, info->workers, us);
	}
	if (ctl.json)
		json_print(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o}", "server", ctl.server,
				     "version", info->server_version, "protocol",
				     (json_int_t)info->version, "workers", (json_int_t)info->workers,
				     "frame_size_max", (json_int_t)info->frame_size_max,
				     "wait_timeout_ms_max", (json_int_t)info->wait_timeout_ms_max,
				     "round_trips_us", times));
	else
		json_decref(times);
	return 0;
}

/* Catalogs: put commands, pipelined within each kind (locations before venues...). */

#define CATALOG_WINDOW 256u

struct catalog_sent {
	uint64_t request_id;
	enum command_type type;
	char where[64];
};

struct catalog_load {
	enum command_type phase;
	uint32_t done[COMMAND_TYPE_MAX + 1];
	uint32_t total;
	bool failed;
	uint32_t inflight;
	struct catalog_sent sent[CATALOG_WINDOW];
};

static void catalog_receive(struct catalog_load *l)
{
	struct box_response response;
	check(box_client_next(ctl.client, &response, -1));
	uint32_t i = 0;
	while (i < l->inflight && l->sent[i].request_id != response.request_id)
		i++;
	ASSERT(i < l->inflight); /* the client matched the id to a request in flight */
	if (response.status == STATUS_OK) {
		l->done[l->sent[i].type]++;
		l->total++;
	} else if (!l->failed) {
		fprintf(stderr, "boxctl: %s: %s: %s%s\n", ctl.command, l->sent[i].where,
			status_name(response.status),
			response.status == STATUS_ALREADY_EXISTS
				? " (the id is taken by other content)" : "");
		l->failed = true;
	}
	l->sent[i] = l->sent[--l->inflight];
}

static void catalog_drain(struct catalog_load *l)
{
	while (l->inflight > 0)
		catalog_receive(l);
}

static uint32_t command_entity(const struct command *c)
{
	switch (c->type) {
	case COMMAND_LOCATION_PUT:
		return c->location_put.location_id;
	case COMMAND_VENUE_PUT:
		return c->venue_put.venue_id;
	case COMMAND_EVENT_PUT:
		return c->event_put.event_id;
	default:
		return c->show_put.show_id;
	}
}

static int catalog_send(void *context, const struct command *command, const char *where)
{
	struct catalog_load *l = context;
	if (ctl.client == NULL)
		connect_server();
	if (command->type != l->phase) {
		/* A venue needs its location, a show its event and venue: finish a kind first. */
		catalog_drain(l);
		l->phase = command->type;
	}
	if (l->failed)
		return 1;
	if (l->inflight == CATALOG_WINDOW)
		catalog_receive(l);
	uint64_t id;
	int rc;
	while ((rc = box_client_send_command(ctl.client, command, &id)) == -EAGAIN)
		catalog_receive(l);
	check(rc);
	struct catalog_sent *sent = &l->sent[l->inflight++];
	*sent = (struct catalog_sent){ .request_id = id, .type = command->type };
	/* "location_put" names a location. */
	const char *kind = command_type_name(command->type);
	int kind_size = (int)strcspn(kind, "_");
	if (where)
		snprintf(sent->where, sizeof(sent->where), "%s (%.*s %u)", where, kind_size, kind,
			 command_entity(command));
	else
		snprintf(sent->where, sizeof(sent->where), "%.*s %u", kind_size, kind,
			 command_entity(command));
	return 0;
}

static void demo_send(void *context, const struct command *command)
{
	catalog_send(context, command, NULL);
}

static void catalog_report(struct catalog_load *l, int64_t started_ms)
{
	catalog_drain(l);
	if (l->failed)
		exit(EXIT_REFUSED);
	const uint32_t *d = l->done;
	double seconds = (double)(clock_now_ms() - started_ms) / 1000.0;
	if (ctl.json) {
		json_print(json_pack("{s:I, s:I, s:I, s:I, s:I, s:f}", "loaded", (json_int_t)l->total,
				     "locations", (json_int_t)d[COMMAND_LOCATION_PUT], "venues",
				     (json_int_t)d[COMMAND_VENUE_PUT], "events",
				     (json_int_t)d[COMMAND_EVENT_PUT], "shows",
				     (json_int_t)d[COMMAND_SHOW_PUT], "seconds", seconds));
		return;
	}
	printf("loaded %u catalog commands: %u locations, %u venues, %u events, %u shows "
	       "(%.2f s)\n",
	       l->total, d[COMMAND_LOCATION_PUT], d[COMMAND_VENUE_PUT], d[COMMAND_EVENT_PUT],
	       d[COMMAND_SHOW_PUT], seconds);
}

static int catalog_demo(const char *seed_text)
{
	uint64_t seed = seed_text ? number_parse(seed_text, "--seed", 0, UINT64_MAX) : 1;
	connect_server();
	const struct engine_location *first;
	uint32_t count;
	enum status status;
	check_query(box_client_locations(ctl.client, 0, 1, &first, &count, &status), &status,
		    "locations after", 0);
	if (count == 1 && first[0].location_id == 1) {
		if (ctl.json)
			json_print(json_pack("{s:I, s:b}", "loaded", (json_int_t)0, "already_loaded",
					     true));
		else
			printf("demo catalog already loaded\n");
		return 0;
	}
	static struct catalog_load l;
	int64_t now = clock_now_ms();
	/* The demo's shows start over the 120 days from today, on sale from midnight. */
	demo_catalog_generate(seed, now - now % 86400000, demo_send, &l);
	catalog_report(&l, now);
	return 0;
}

static int run_catalog(int argc, char **argv)
{
	const char *positionals[2], *seed = NULL;
	const struct opt opts[] = { { "seed", OPT_VALUE, &seed }, { NULL, OPT_FLAG, NULL } };
	int count = opts_parse(argc, argv, opts, positionals, 1, 2);
	if (strcmp(positionals[0], "demo") == 0) {
		if (count != 1)
			usage_fail("catalog demo takes no file");
		return catalog_demo(seed);
	}
	if (strcmp(positionals[0], "load") != 0 || count != 2 || seed)
		usage_fail("give 'catalog demo [--seed N]' or 'catalog load FILE.json'");
	static struct catalog_load l;
	char error[512];
	int64_t started = clock_now_ms();
	int rc = catalog_json_load(positionals[1], catalog_send, &l, error, sizeof(error));
	if (rc < 0) {
		fprintf(stderr, "boxctl: %s: %s\n", ctl.command, error);
		exit(EXIT_USAGE);
	}
	if (ctl.client == NULL) {
		printf("the catalog is empty: nothing to load\n");
		return 0;
	}
	catalog_report(&l, started);
	return 0;
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
	  "title, description or tags. --from/--to bound the start (ISO 8601, e.g.\n"
	  "2027-03-01 or 2027-03-01T19:30:00Z); --type is concert, sport, theatre, comedy,\n"
	  "festival, family, conference or other; --tag may repeat (any matches); --limit is\n"
	  "1..100 (default 20). When there are more, the last line gives the --after value\n"
	  "for the next page." },
	{ "hold", run_hold,
	  "hold SHOW_ID --user U (--seats A-12,A-13 | --tier TIER [--count N] [--together])\n"
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
	{ "confirm", run_confirm, "confirm HOLD_ID --user U --payment-ref REF",
	  "Turns a hold into a booking (same id). Repeating it with the same payment\n"
	  "reference returns the same booking." },
	{ "release", run_release, "release HOLD_ID --user U",
	  "Gives a hold's seats back before its deadline." },
	{ "cancel", run_cancel, "cancel BOOKING_ID", "Cancels a booking (operators, refunds)." },
	{ "waitlist", run_waitlist,
	  "waitlist join SHOW_ID --user U --tier TIER [--count N] [--together]\n"
	  "waitlist leave SHOW_ID --user U\n"
	  "waitlist poll SHOW_ID --user U",
	  "The first-come first-served waiting line of a tier, for when every seat is held.\n"
	  "A waiter that does not poll (or wait) for 120 s loses its place." },
	{ "wait", run_wait, "wait SHOW_ID --user U [--timeout-ms N]",
	  "Waits until the user's waiting-list entry changes (an offer, sold out, lapsed)\n"
	  "or the timeout passes (default 30000 ms, at most 300000), and prints its state.\n"
	  "An offer is a hold: confirm it before its deadline." },
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
	  "tools/catalog.example.json), checks all of it, then loads it; loading the same\n"
	  "file twice is harmless. A file that is not valid exits 64." },
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
		"  --timeout-ms N      how long to wait for a response (default 30000)\n\n"
		"Commands:\n",
		SERVER_DEFAULT);
	for (size_t i = 0; i < ARRAY_COUNT(commands); i++)
		synopsis_print(out, commands[i].synopsis, "  ", "  ");
	fprintf(out,
		"\n'boxctl COMMAND --help' tells more. Times are ISO 8601 UTC; hold and booking\n"
		"ids are 16 hex digits. Exit status: 0 done, 1 refused by the server (the\n"
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
	ctl.server = getenv("BOXOFFICE_SERVER");
	if (ctl.server == NULL || *ctl.server == '\0')
		ctl.server = SERVER_DEFAULT;
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
		return EXIT_USAGE;
	}
	const struct ctl_command *command = command_find(argv[i]);
	if (command == NULL)
		usage_fail("no command '%s'", argv[i]);
	ctl.command = command->name;
	int rc = command->run(argc - i, argv + i);
	box_client_close(ctl.client);
	return rc;
}
