/*
 * boxctl_query.c — boxctl's commands that only read: the catalog (locations,
 * events, an event, a show, a venue), seat maps, search, and the operators' stats,
 * snapshot and ping.
 */
#include "boxctl.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "seatmap.h"

/* The next page starts after the last id of this one, which must be past the last
 * page's: a server that repeats a page would keep a listing going for ever. */
static void list_advance(uint32_t *after, uint32_t last_id)
{
	if (last_id <= *after) {
		transport_fail_with("the server repeated a page (id %u after %u)", last_id, *after);
	}
	*after = last_id;
}

/* Catalog queries. */

static json_t *json_location(const struct engine_location *l)
{
	return json_pack("{s:I, s:o, s:s#, s:o, s:o, s:I}", "id", (json_int_t)l->location_id,
			 "name", json_text(l->name), "country", l->country, (int)COUNTRY_SIZE,
			 "lat", json_degrees(l->lat_e6), "lon", json_degrees(l->lon_e6), "events",
			 (json_int_t)l->events_count);
}

int run_locations(int argc, char **argv)
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
		list_advance(&after, items[count - 1].location_id);
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

int run_events(int argc, char **argv)
{
	const char *positionals[1];
	opts_parse(argc, argv, NULL, positionals, 1, 1);
	uint32_t location_id = id_parse(positionals[0], "LOCATION_ID");
	connect_server();
	json_t *array = json_array();
	uint32_t after = 0;
	for (;;) {
		const struct engine_event_info *items;
		uint32_t count;
		enum status status;
		check_query(box_client_events(ctl.client, location_id, after, PROTO_LIST_LIMIT_MAX,
					      &items, &count, &status), &status, "location", location_id);
		/* Once the location is known to exist: an error prints no table. */
		if (!ctl.json && after == 0)
			heading("%-8s %-10s %-44s %5s  %s", "ID", "TYPE", "TITLE", "SHOWS", "TAGS");
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
		list_advance(&after, items[count - 1].event_id);
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

int run_event(int argc, char **argv)
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

int run_show(int argc, char **argv)
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

uint8_t row_seat_tier(const struct layout_row *row, uint32_t offset)
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
					      json_pack("{s:o, s:o}", "name",
							json_text(text_from(row.section_name,
									    row.section_name_size)),
							"rows", rows));
		}
		for (uint32_t i = 0; i < row.seats_count; i++) {
			states[i] = seat_chars[map->states[row.seat_first + i] & 3];
			tiers[i] = tier_chars[row_seat_tier(&row, i) % TIER_COUNT];
		}
		json_array_append_new(rows, json_pack("{s:o, s:I, s:I, s:s#, s:s#}", "name",
						      json_text(text_from(row.row_name,
									  row.row_name_size)),
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

int run_seatmap(int argc, char **argv)
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

int run_venue(int argc, char **argv)
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
		/* Written so that NaN, which compares false, fails too. */
		if (sscanf(a->near, "%lf,%lf%c", &lat, &lon, &end) != 2 ||
		    !(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180))
			usage_fail("--near must be LAT,LON in degrees, not '%s'", a->near);
		q->near = true;
		q->lat_e6 = (int32_t)(lat * 1e6 + (lat < 0 ? -0.5 : 0.5));
		q->lon_e6 = (int32_t)(lon * 1e6 + (lon < 0 ? -0.5 : 0.5));
		q->radius_km = (uint32_t)number_parse(a->radius, "--radius-km", 1,
						      SEARCH_RADIUS_KM_MAX);
	}
	q->from_ms = a->from ? time_parse(a->from, "--from") : 0;
	q->to_ms = a->to ? time_parse(a->to, "--to") : INT64_MAX;
	if (q->from_ms > q->to_ms)
		usage_fail("--from %s is after --to %s", a->from, a->to);
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
		/* Both parts as the page printed them: a start time in ms and a show id. */
		char start[32];
		const char *colon = strchr(a->after, ':');
		size_t start_size = colon ? (size_t)(colon - a->after) : 0;
		if (colon == NULL || start_size == 0 || start_size >= sizeof(start))
			usage_fail("--after must be START_MS:SHOW_ID, as printed with a page");
		memcpy(start, a->after, start_size);
		start[start_size] = '\0';
		q->after_start_ms = (int64_t)number_parse(start, "--after's START_MS", 0, TIME_MS_MAX);
		q->after_show_id = (uint32_t)number_parse(colon + 1, "--after's SHOW_ID", 0, UINT32_MAX);
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

int run_search(int argc, char **argv)
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

/* Operators. */

int run_stats(int argc, char **argv)
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

int run_snapshot(int argc, char **argv)
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

int run_ping(int argc, char **argv)
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
		else if (info->shard == UINT16_MAX)
			printf("pong from %s (%s, protocol %u, %u workers): %.0f us\n", ctl.server,
			       info->server_version, info->version, info->workers, us);
		else
			printf("pong from %s (%s, protocol %u, %u workers, this connection on shard "
			       "%u): %.0f us\n",
			       ctl.server, info->server_version, info->version, info->workers,
			       info->shard, us);
	}
	if (ctl.json)
		json_print(json_pack("{s:s, s:o, s:I, s:I, s:o, s:I, s:I, s:o}", "server", ctl.server,
				     "version", json_text(text_from_cstr(info->server_version)),
				     "protocol",
				     (json_int_t)info->version, "workers", (json_int_t)info->workers,
				     "shard",
				     info->shard == UINT16_MAX ? json_null()
							       : json_integer(info->shard),
				     "frame_size_max", (json_int_t)info->frame_size_max,
				     "wait_timeout_ms_max", (json_int_t)info->wait_timeout_ms_max,
				     "round_trips_us", times));
	else
		json_decref(times);
	return 0;
}
