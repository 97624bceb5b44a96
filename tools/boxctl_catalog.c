/*
 * boxctl_catalog.c — `boxctl catalog`: loads the demo catalog or a JSON catalog
 * (tools/catalog_json.h), pipelining the put commands within each kind.
 */
#include "boxctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_json.h"
#include "demo.h"

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
