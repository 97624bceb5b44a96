/*
 * boxctl_catalog.c — `boxctl catalog`: loads the demo catalog or a JSON catalog
 * (tools/catalog_json.h), pipelining the put commands within each kind.
 */
#include "boxctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog_json.h"
#include "demo.h"
#include "memory.h"

/*
 * Catalogs: put commands, pipelined within each kind (locations before venues...).
 * A put the server answers "overloaded" (a shard's log could not take it just then)
 * is sent again after a pause that doubles each time, up to CATALOG_RETRY_MS in all;
 * puts are idempotent, so a retry never does anything twice. Each put in flight
 * keeps its encoded command for that.
 */

#define CATALOG_WINDOW 256u
#define CATALOG_PAUSE_MS_FIRST 5
#define CATALOG_PAUSE_MS_MAX 1000
#define CATALOG_RETRY_MS 60000

struct catalog_sent {
	uint64_t request_id; /* 0 while waiting to be sent again */
	bool due;	     /* to be sent again by the pass under way */
	enum command_type type;
	char where[64];
	uint8_t *encoded;
	uint32_t encoded_size;
	int64_t first_overloaded_ms;
};

struct catalog_load {
	enum command_type phase;
	uint32_t done[COMMAND_TYPE_MAX + 1];
	uint32_t total;
	uint32_t retried;
	bool failed;
	enum status refusal;  /* of the first put refused, once failed */
	char refused_at[64];
	uint32_t inflight; /* in sent[], sent or waiting to be sent again */
	uint32_t resends;  /* of those, waiting to be sent again */
	int pause_ms;
	struct catalog_sent sent[CATALOG_WINDOW];
};

static void catalog_sent_free(struct catalog_load *l, uint32_t i)
{
	free(l->sent[i].encoded);
	l->sent[i] = l->sent[--l->inflight];
}

static void catalog_receive(struct catalog_load *l)
{
	struct box_response response;
	check(box_client_next(ctl.client, &response, ctl.timeout_ms));
	uint32_t i = 0;
	while (i < l->inflight && l->sent[i].request_id != response.request_id)
		i++;
	ASSERT(i < l->inflight); /* the client matched the id to a request in flight */
	struct catalog_sent *sent = &l->sent[i];
	int64_t now = clock_now_ms();
	if (response.status == STATUS_OVERLOADED && !l->failed &&
	    (sent->first_overloaded_ms == 0 ||
	     now - sent->first_overloaded_ms < CATALOG_RETRY_MS)) {
		if (sent->first_overloaded_ms == 0)
			sent->first_overloaded_ms = now;
		sent->request_id = 0;
		sent->due = false; /* the next pass sends it, after its pause */
		l->resends++;
		l->retried++;
		return;
	}
	if (response.status == STATUS_OK) {
		l->done[sent->type]++;
		l->total++;
		l->pause_ms = 0;
	} else if (!l->failed) {
		l->refusal = response.status;
		snprintf(l->refused_at, sizeof(l->refused_at), "%s", sent->where);
		fprintf(stderr, "boxctl: %s: %s: %s%s\n", ctl.command, sent->where,
			status_name(response.status),
			response.status == STATUS_ALREADY_EXISTS ? " (the id is taken by other content)"
			: response.status == STATUS_OVERLOADED	 ? " (still, after a minute of retries)"
								 : "");
		l->failed = true;
	}
	catalog_sent_free(l, i);
}

/* The first put this pass must send again, or UINT32_MAX. */
static uint32_t catalog_resend_next(const struct catalog_load *l)
{
	for (uint32_t i = 0; i < l->inflight; i++) {
		if (l->sent[i].request_id == 0 && l->sent[i].due)
			return i;
	}
	return UINT32_MAX;
}

/*
 * Sends again, after a pause, the puts that were answered "overloaded" (as many as
 * there were when it began: those refused meanwhile wait for the next pause). Taking
 * an answer to make room may move puts within sent[], so each is looked up afresh.
 */
static void catalog_resend(struct catalog_load *l)
{
	l->pause_ms = l->pause_ms == 0 ? CATALOG_PAUSE_MS_FIRST
				       : (l->pause_ms * 2 > CATALOG_PAUSE_MS_MAX ? CATALOG_PAUSE_MS_MAX
										 : l->pause_ms * 2);
	struct timespec pause = { .tv_sec = l->pause_ms / 1000,
				  .tv_nsec = (long)(l->pause_ms % 1000) * 1000000L };
	nanosleep(&pause, NULL);
	for (uint32_t i = 0; i < l->inflight; i++)
		l->sent[i].due = l->sent[i].request_id == 0;
	for (uint32_t count = l->resends; count > 0;) {
		uint32_t i = catalog_resend_next(l);
		ASSERT(i != UINT32_MAX);
		if (l->failed) {
			/* Nothing more is sent once a put failed. */
			l->resends--;
			catalog_sent_free(l, i);
			count--;
			continue;
		}
		struct command command;
		enum status decoded = command_decode(l->sent[i].encoded, l->sent[i].encoded_size,
						     &command);
		ASSERT(decoded == STATUS_OK); /* encoded here from a valid command */
		uint64_t id;
		int rc = box_client_send_command(ctl.client, &command, &id);
		if (rc == -EAGAIN) {
			catalog_receive(l);
			continue;
		}
		check(rc);
		l->sent[i].request_id = id;
		l->sent[i].due = false;
		l->resends--;
		count--;
	}
}

/* Makes progress: takes an answer while any is due, else sends the overloaded puts
 * again (so the server works through everything sent before it is asked again). */
static void catalog_step(struct catalog_load *l)
{
	if (l->resends > 0 && box_client_inflight(ctl.client) == 0)
		catalog_resend(l);
	else
		catalog_receive(l);
}

static void catalog_drain(struct catalog_load *l)
{
	while (l->inflight > 0)
		catalog_step(l);
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

/* "venues[2] (venue 7)": a put's place in the file (when it has one), kind and id. */
static void put_where(char *buffer, size_t size, const struct command *command, const char *where)
{
	/* "location_put" names a location. */
	const char *kind = command_type_name(command->type);
	int kind_size = (int)strcspn(kind, "_");
	if (where)
		snprintf(buffer, size, "%s (%.*s %u)", where, kind_size, kind,
			 command_entity(command));
	else
		snprintf(buffer, size, "%.*s %u", kind_size, kind, command_entity(command));
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
	while (l->inflight == CATALOG_WINDOW && !l->failed)
		catalog_step(l);
	uint64_t id;
	int rc;
	for (;;) {
		/* Making room may have taken a refusal: nothing more is sent then. */
		if (l->failed)
			return 1;
		rc = box_client_send_command(ctl.client, command, &id);
		if (rc != -EAGAIN)
			break;
		catalog_receive(l);
	}
	check(rc);
	uint32_t size = (uint32_t)command_encoded_size(command);
	uint8_t *encoded = malloc(size);
	if (encoded == NULL || command_encode(command, encoded, size) != size) {
		transport_fail_with("out of memory");
	}
	struct catalog_sent *sent = &l->sent[l->inflight++];
	*sent = (struct catalog_sent){ .request_id = id, .type = command->type,
				       .encoded = encoded, .encoded_size = size };
	put_where(sent->where, sizeof(sent->where), command, where);
	return 0;
}

static void demo_send(void *context, const struct command *command)
{
	catalog_send(context, command, NULL);
}

static void catalog_report(struct catalog_load *l, int64_t started_ms)
{
	catalog_drain(l);
	if (l->failed && ctl.json) /* one object, as for any refusal; stderr has the words */
		json_print(json_pack("{s:s, s:s, s:I}", "status", status_name(l->refusal), "about",
				     l->refused_at, "loaded", (json_int_t)l->total));
	if (l->failed) {
		fprintf(stderr,
			"boxctl: %s: %u puts were loaded and the rest were not sent; loading "
			"again once the cause is fixed is harmless\n",
			ctl.command, l->total);
		exit(EXIT_REFUSED);
	}
	const uint32_t *d = l->done;
	double seconds = (double)(clock_now_ms() - started_ms) / 1000.0;
	if (ctl.json) {
		json_print(json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "loaded",
				     (json_int_t)l->total, "locations",
				     (json_int_t)d[COMMAND_LOCATION_PUT], "venues",
				     (json_int_t)d[COMMAND_VENUE_PUT], "events",
				     (json_int_t)d[COMMAND_EVENT_PUT], "shows",
				     (json_int_t)d[COMMAND_SHOW_PUT], "retried",
				     (json_int_t)l->retried, "seconds", seconds));
		return;
	}
	printf("loaded %u catalog commands: %u locations, %u venues, %u events, %u shows "
	       "(%.2f s",
	       l->total, d[COMMAND_LOCATION_PUT], d[COMMAND_VENUE_PUT], d[COMMAND_EVENT_PUT],
	       d[COMMAND_SHOW_PUT], seconds);
	if (l->retried > 0)
		printf("; %u sent again after the server was overloaded", l->retried);
	printf(")\n");
}

/*
 * A file's puts, kept encoded (the parser's texts live only during its callback)
 * until every reference in them is checked, so that a file naming a location, venue
 * or event that exists neither in it nor on the server loads nothing at all.
 */
struct catalog_put {
	uint8_t *encoded;
	uint32_t encoded_size;
	char where[32]; /* as the parser names it: "venues[2]" */
};

/* A location, venue or event the file puts or the server has, with its location
 * (0 for a location); for the server, also one it lacks (location UINT32_MAX). */
struct catalog_entity {
	enum command_type type;
	uint32_t id;
	uint32_t location_id;
};

struct catalog_file {
	struct catalog_put *puts;
	uint32_t count;
	uint32_t capacity;
	struct catalog_entity *entities; /* the file's, sorted once all are read */
	uint32_t entities_count;
	uint32_t entities_capacity;
	struct catalog_entity *asked; /* the server's answers so far */
	uint32_t asked_count;
	uint32_t asked_capacity;
};

static void entity_add(struct catalog_entity **entities, uint32_t *count, uint32_t *capacity,
		       struct catalog_entity entity)
{
	ARRAY_RESERVE(*entities, *capacity, (uint64_t)*count + 1);
	(*entities)[(*count)++] = entity;
}

static int catalog_collect(void *context, const struct command *command, const char *where)
{
	struct catalog_file *file = context;
	ARRAY_RESERVE(file->puts, file->capacity, (uint64_t)file->count + 1);
	struct catalog_put *put = &file->puts[file->count++];
	put->encoded_size = (uint32_t)command_encoded_size(command);
	put->encoded = malloc(put->encoded_size);
	if (put->encoded == NULL ||
	    command_encode(command, put->encoded, put->encoded_size) != put->encoded_size) {
		transport_fail_with("out of memory");
	}
	snprintf(put->where, sizeof(put->where), "%s", where);
	struct catalog_entity entity = { .type = command->type };
	if (command->type == COMMAND_LOCATION_PUT)
		entity.id = command->location_put.location_id;
	else if (command->type == COMMAND_VENUE_PUT)
		entity = (struct catalog_entity){ command->type, command->venue_put.venue_id,
						  command->venue_put.location_id };
	else if (command->type == COMMAND_EVENT_PUT)
		entity = (struct catalog_entity){ command->type, command->event_put.event_id,
						  command->event_put.location_id };
	else
		return 0;
	entity_add(&file->entities, &file->entities_count, &file->entities_capacity, entity);
	return 0;
}

static struct command catalog_put_command(const struct catalog_put *put)
{
	struct command command;
	enum status decoded = command_decode(put->encoded, put->encoded_size, &command);
	ASSERT(decoded == STATUS_OK); /* encoded here from a valid command */
	return command;
}

static const char *entity_kind(enum command_type type)
{
	return type == COMMAND_LOCATION_PUT ? "location"
	       : type == COMMAND_VENUE_PUT  ? "venue"
					    : "event";
}

static int entity_compare(const void *a, const void *b)
{
	const struct catalog_entity *x = a, *y = b;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The location of the venue or event `id` (0 for a location itself), as the server
 * has it; UINT32_MAX when it has no such entity. Each is asked once. */
static uint32_t server_location_of(struct catalog_file *file, enum command_type type, uint32_t id)
{
	for (uint32_t i = 0; i < file->asked_count; i++) {
		if (file->asked[i].type == type && file->asked[i].id == id)
			return file->asked[i].location_id;
	}
	if (ctl.client == NULL)
		connect_server();
	enum status status = STATUS_OK;
	uint32_t location = UINT32_MAX;
	if (type == COMMAND_LOCATION_PUT) {
		const struct engine_location *first;
		uint32_t count;
		check(box_client_locations(ctl.client, id - 1, 1, &first, &count, &status));
		if (status == STATUS_OK && count == 1 && first[0].location_id == id)
			location = 0;
	} else if (type == COMMAND_VENUE_PUT) {
		struct engine_venue venue;
		check(box_client_venue(ctl.client, id, &venue, &status));
		if (status == STATUS_OK)
			location = venue.location_id;
	} else {
		struct engine_event_info event;
		const struct box_event_show *shows;
		uint32_t shows_count;
		check(box_client_event(ctl.client, id, &event, &shows, &shows_count, &status));
		if (status == STATUS_OK)
			location = event.location_id;
	}
	if (status != STATUS_OK && status != STATUS_NOT_FOUND)
		refused(status, "looking up %s %u on the server; nothing was loaded",
			entity_kind(type), id);
	entity_add(&file->asked, &file->asked_count, &file->asked_capacity,
		   (struct catalog_entity){ type, id, location });
	return location;
}

/* Where a put's reference leads: the file first, then the server. A refusal names the
 * put and what it lacks. */
static uint32_t reference_location(struct catalog_file *file, const char *where,
				   enum command_type type, uint32_t id)
{
	struct catalog_entity key = { .type = type, .id = id };
	const struct catalog_entity *found =
		file->entities_count == 0 ? NULL
					  : bsearch(&key, file->entities, file->entities_count,
						    sizeof(key), entity_compare);
	uint32_t location = found ? found->location_id : server_location_of(file, type, id);
	if (location == UINT32_MAX)
		refused(STATUS_NOT_FOUND,
			"%s: %s %u is neither in the file nor on the server; nothing was loaded",
			where, entity_kind(type), id);
	return location;
}

/* The server's rules for references (engine/RULES.md, the catalog puts), checked
 * before anything is sent. */
static void catalog_references_check(struct catalog_file *file)
{
	if (file->entities_count > 0)
		qsort(file->entities, file->entities_count, sizeof(file->entities[0]),
		      entity_compare);
	for (uint32_t i = 0; i < file->count; i++) {
		struct command c = catalog_put_command(&file->puts[i]);
		char where[96]; /* "venues[2] (venue 7)" */
		put_where(where, sizeof(where), &c, file->puts[i].where);
		if (c.type == COMMAND_VENUE_PUT)
			reference_location(file, where, COMMAND_LOCATION_PUT, c.venue_put.location_id);
		else if (c.type == COMMAND_EVENT_PUT)
			reference_location(file, where, COMMAND_LOCATION_PUT, c.event_put.location_id);
		if (c.type != COMMAND_SHOW_PUT)
			continue;
		uint32_t event_location =
			reference_location(file, where, COMMAND_EVENT_PUT, c.show_put.event_id);
		uint32_t venue_location =
			reference_location(file, where, COMMAND_VENUE_PUT, c.show_put.venue_id);
		if (event_location != venue_location)
			refused(STATUS_BAD_REQUEST,
				"%s: event %u is at location %u but venue %u at location %u; a "
				"show's venue must be at its event's location; nothing was loaded",
				where, c.show_put.event_id, event_location,
				c.show_put.venue_id, venue_location);
	}
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

int run_catalog(int argc, char **argv)
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
	struct catalog_file file = { 0 };
	char error[512];
	int64_t started = clock_now_ms();
	int rc = catalog_json_load(positionals[1], catalog_collect, &file, error, sizeof(error));
	if (rc < 0) {
		fprintf(stderr, "boxctl: %s: %s\n", ctl.command, error);
		usage_exit(error);
	}
	if (file.count == 0) {
		if (ctl.json)
			json_print(json_pack("{s:I}", "loaded", (json_int_t)0));
		else
			printf("the catalog is empty: nothing to load\n");
		return 0;
	}
	catalog_references_check(&file);
	for (uint32_t i = 0; i < file.count; i++) {
		struct command command = catalog_put_command(&file.puts[i]);
		if (catalog_send(&l, &command, file.puts[i].where) != 0)
			break;
	}
	catalog_report(&l, started);
	for (uint32_t i = 0; i < file.count; i++)
		free(file.puts[i].encoded);
	memory_free(file.puts);
	memory_free(file.entities);
	memory_free(file.asked);
	return 0;
}
