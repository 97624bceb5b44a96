/*
 * boxwal_dump.c — `boxwal dump`: the records of the valid log, one a line, as text
 * for people or as JSON Lines; and the field emitter that replay shares.
 */
#include "boxwal.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "engine.h"

const char usage_dump[] =
	"usage: boxwal dump DIR [--shard N] [--from LSN] [--limit N] [--json] [--force]\n"
	"\n"
	"Prints the records of the valid log: LSN, time (ISO 8601 UTC), 'flush' and the\n"
	"record's flush LSN (the first LSN not yet durable when its flush began; see\n"
	"wal/FORMAT.md), and the decoded command with its fields. Hold and booking ids print as SHOW:N (with --json as the 64-bit id); a\n"
	"venue prints its seat counts, not its layout.\n"
	"  --from LSN   start at this LSN (default: the first record kept)\n"
	"  --limit N    print at most N records\n"
	"  --json       one JSON object per line (JSON Lines), with the same fields\n"
	"  --force      on a corrupt log, print the records before the corruption\n"
	"               (without it the dump refuses with exit 3)\n"
	"Where a torn or corrupt log stops is said on stderr. A record whose checksum\n"
	"is right but which is not a command prints as 'undecodable' (exit 3 unless\n"
	"--force).\n";

/* Text output: with json a JSON string; else quoted with C escapes, for people. */

/* Bytes that are not UTF-8 become U+FFFD in JSON, so that every line parses. */
static void text_print(bool json, const char *bytes, size_t size)
{
	putchar('"');
	for (size_t i = 0; i < size;) {
		unsigned char c = (unsigned char)bytes[i];
		size_t n = utf8_sequence_size((const uint8_t *)bytes + i, size - i);
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

/* The field emitter (see struct out in boxwal.h). */

void out_key(struct out *out, const char *key)
{
	if (out->json)
		printf("%s\"%s\":", out->first ? "" : ",", key);
	else
		printf(" %s=", key);
	out->first = false;
}

void out_u64(struct out *out, const char *key, uint64_t value)
{
	out_key(out, key);
	printf("%" PRIu64, value);
}

static void out_i64(struct out *out, const char *key, int64_t value)
{
	out_key(out, key);
	printf("%" PRId64, value);
}

void out_bool(struct out *out, const char *key, bool value)
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
void out_name(struct out *out, const char *key, const char *name)
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

void out_open(struct out *out, const char *key, char bracket)
{
	if (key != NULL)
		out_key(out, key);
	else if (!out->first)
		putchar(',');
	putchar(bracket);
	out->first = true;
}

void out_close(struct out *out, char bracket)
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

int dump_run(int dir_fd, const struct options *options)
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
	error = wal_walk(dir_fd, &scan, from, dump_record, &dump);
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
