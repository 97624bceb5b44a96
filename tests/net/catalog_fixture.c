/*
 * catalog_fixture.c — the end-to-end tests' side of the wire (see server_fixture.h):
 * the test catalog, a show's state read back whole, and one-call shorthands.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_fixture.h"

const uint32_t fx_show_ids[FX_SHOWS_COUNT] = {
	FX_SHOW_HALL_0, FX_SHOW_HALL_1, FX_SHOW_CLUB_0, FX_SHOW_CLUB_1,
	FX_SHOW_FUTURE, FX_SHOW_SHORT,	FX_SHOW_GRAZ,
};

/* The test catalog. */

static void put(struct box_client *client, const struct command *command, const char *what)
{
	struct engine_result result;
	fx_rc(box_client_command(client, command, &result), what);
	FX_CHECK(result.status == STATUS_OK, "%s: %s", what, status_name(result.status));
}

static void locations_put(struct box_client *client)
{
	static const struct {
		uint32_t id;
		const char *name;
		char country[2];
		int32_t lat_e6;
		int32_t lon_e6;
	} locations[] = {
		{ FX_LOCATION_VIENNA, "Vienna", { 'A', 'T' }, 48208174, 16373819 },
		{ FX_LOCATION_GRAZ, "Graz", { 'A', 'T' }, 47070714, 15439504 },
		{ FX_LOCATION_LISBON, "Lisbon", { 'P', 'T' }, 38722252, -9139337 },
	};
	for (size_t i = 0; i < ARRAY_COUNT(locations); i++) {
		struct command c = { .type = COMMAND_LOCATION_PUT };
		c.location_put = (struct command_location_put){
			.location_id = locations[i].id, .name = text_from_cstr(locations[i].name),
			.country = { locations[i].country[0], locations[i].country[1] },
			.lat_e6 = locations[i].lat_e6, .lon_e6 = locations[i].lon_e6 };
		put(client, &c, "LOCATION_PUT");
	}
}

/* Builds a venue's layout; the builder owns the bytes until it is finished. */
static void venue_layout(uint32_t venue_id, struct layout_builder *b)
{
	layout_builder_init(b);
	if (venue_id == FX_VENUE_HALL) {
		static const char *const rows = "ABCDEFGHIJKL";
		layout_builder_section(b, "Front");
		for (int i = 0; i < 12; i++) {
			if (i == 2)
				layout_builder_section(b, "Middle");
			if (i == 6)
				layout_builder_section(b, "Back");
			char name[2] = { rows[i], '\0' };
			enum tier tier = i < 2 ? TIER_VIP : i < 6 ? TIER_REGULAR : TIER_ECONOMY;
			layout_builder_row(b, name, 1, 10, tier);
		}
	} else if (venue_id == FX_VENUE_CLUB) {
		static const uint8_t tiers[] = { TIER_ECONOMY, TIER_REGULAR, TIER_VIP };
		static const uint16_t counts[] = { 4, 4, 4 };
		layout_builder_section(b, "Floor");
		layout_builder_row_runs(b, "A", 1, 3, tiers, counts);
	} else {
		layout_builder_section(b, "Saal");
		layout_builder_row(b, "1", 1, 10, TIER_REGULAR);
		layout_builder_row(b, "2", 1, 10, TIER_REGULAR);
	}
}

static void venues_put(struct box_client *client)
{
	static const struct {
		uint32_t id;
		uint32_t location_id;
		const char *name;
		const char *address;
		int32_t lat_e6;
		int32_t lon_e6;
	} venues[] = {
		{ FX_VENUE_HALL, FX_LOCATION_VIENNA, "Grand Hall", "Opernring 2", 48202960,
		  16368980 },
		{ FX_VENUE_CLUB, FX_LOCATION_VIENNA, "Club", "Gürtel 8", 48219870, 16342230 },
		{ FX_VENUE_STADTSAAL, FX_LOCATION_GRAZ, "Stadtsaal", "Hauptplatz 1", 47071000,
		  15438000 },
	};
	for (size_t i = 0; i < ARRAY_COUNT(venues); i++) {
		struct layout_builder builder;
		venue_layout(venues[i].id, &builder);
		struct command c = { .type = COMMAND_VENUE_PUT };
		c.venue_put = (struct command_venue_put){
			.venue_id = venues[i].id, .location_id = venues[i].location_id,
			.name = text_from_cstr(venues[i].name),
			.address = text_from_cstr(venues[i].address), .lat_e6 = venues[i].lat_e6,
			.lon_e6 = venues[i].lon_e6 };
		FX_CHECK(layout_builder_layout(&builder, &c.venue_put.layout) == STATUS_OK,
			 "layout of venue %u", venues[i].id);
		put(client, &c, "VENUE_PUT");
		layout_builder_finish(&builder);
	}
}

static void events_put(struct box_client *client)
{
	struct command c = { .type = COMMAND_EVENT_PUT };
	c.event_put = (struct command_event_put){
		.event_id = FX_EVENT_OPERA, .location_id = FX_LOCATION_VIENNA,
		.title = text_from_cstr("Don Giovanni"),
		.description = text_from_cstr("Opera in two acts by Mozart"),
		.type = EVENT_TYPE_THEATRE, .language = text_from_cstr("it"), .duration_min = 180,
		.tags_count = 2, .tags = { text_from_cstr("opera"), text_from_cstr("classic") } };
	put(client, &c, "EVENT_PUT opera");
	c.event_put = (struct command_event_put){
		.event_id = FX_EVENT_ROCK, .location_id = FX_LOCATION_VIENNA,
		.title = text_from_cstr("Rock Night"),
		.description = text_from_cstr("Three bands, one loud evening"),
		.type = EVENT_TYPE_CONCERT, .language = text_from_cstr("en"), .duration_min = 240,
		.tags_count = 1, .tags = { text_from_cstr("rock") } };
	put(client, &c, "EVENT_PUT rock");
	c.event_put = (struct command_event_put){
		.event_id = FX_EVENT_COMEDY, .location_id = FX_LOCATION_GRAZ,
		.title = text_from_cstr("Comedy Abend"),
		.description = text_from_cstr("Stand-up in Graz"), .type = EVENT_TYPE_COMEDY,
		.language = text_from_cstr("de"), .duration_min = 90, .tags_count = 1,
		.tags = { text_from_cstr("standup") } };
	put(client, &c, "EVENT_PUT comedy");
}

struct command fx_show_command(uint32_t show_id)
{
	uint32_t event_id = FX_EVENT_OPERA;
	uint32_t venue_id = FX_VENUE_HALL;
	int64_t day = 86400000;
	int64_t start = FX_T0_MS;
	int64_t sale_opens = 1000;
	uint32_t ttl = 0;
	switch (show_id) {
	case FX_SHOW_HALL_0:
		start += 1 * day;
		break;
	case FX_SHOW_HALL_1:
		start += 2 * day;
		break;
	case FX_SHOW_CLUB_0:
	case FX_SHOW_CLUB_1:
	case FX_SHOW_SHORT:
		event_id = FX_EVENT_ROCK;
		venue_id = FX_VENUE_CLUB;
		start += (show_id == FX_SHOW_CLUB_0 ? 3 : show_id == FX_SHOW_CLUB_1 ? 4 : 6) * day;
		ttl = show_id == FX_SHOW_SHORT ? FX_SHORT_TTL_MS : 0;
		break;
	case FX_SHOW_FUTURE:
		start += 5 * day;
		sale_opens = FX_T0_MS - 30 * day;
		break;
	case FX_SHOW_GRAZ:
		event_id = FX_EVENT_COMEDY;
		venue_id = FX_VENUE_STADTSAAL;
		start += 7 * day;
		break;
	default:
		/* Shows made by a test: the Grand Hall, a day each after the fixed ones. */
		start += (int64_t)(10 + show_id % 1000) * day;
		break;
	}
	struct command c = { .type = COMMAND_SHOW_PUT };
	c.show_put = (struct command_show_put){
		.show_id = show_id, .event_id = event_id, .venue_id = venue_id, .start_ms = start,
		.end_ms = start + 3 * 3600000, .prices_minor = { 2500, 4900, 12000 },
		.currency = { 'E', 'U', 'R' }, .user_seats_max = 0, .sale_opens_ms = sale_opens,
		.sale_closes_ms = start, .hold_ttl_ms = ttl };
	return c;
}

void fx_catalog_load(struct box_client *client)
{
	locations_put(client);
	venues_put(client);
	events_put(client);
	const struct box_server_info *info = box_client_server(client);
	for (uint32_t i = 0; i < FX_SHOWS_COUNT; i++) {
		uint32_t id = fx_show_ids[i];
		/* The ids were picked so that both shards of two own shows. */
		if (info->workers == 2) {
			bool shard1 = id == FX_SHOW_HALL_1 || id == FX_SHOW_CLUB_1 ||
				      id == FX_SHOW_SHORT;
			FX_CHECK(engine_show_shard(id, 2) == (shard1 ? 1u : 0u),
				 "show %u is not on the shard the catalog expects", id);
		}
		struct command c = fx_show_command(id);
		put(client, &c, "SHOW_PUT");
	}
}

/* State of a show. */

void fx_show_state_get(struct box_client *client, uint32_t show_id, struct fx_show_state *state)
{
	*state = (struct fx_show_state){ .show_id = show_id };
	state->show = fx_show(client, show_id);
	struct box_seatmap *map = fx_seatmap(client, show_id);
	state->seats_count = map->seats_count;
	state->states = malloc(map->seats_count ? map->seats_count : 1);
	FX_CHECK(state->states != NULL, "out of memory");
	memcpy(state->states, map->states, map->seats_count);
	box_seatmap_destroy(map);
}

void fx_show_state_check_equal(const struct fx_show_state *a, const struct fx_show_state *b)
{
	FX_CHECK(a->show_id == b->show_id, "states of shows %u and %u", a->show_id, b->show_id);
	FX_CHECK(a->seats_count == b->seats_count, "show %u: %u seats, then %u", a->show_id,
		 a->seats_count, b->seats_count);
	for (uint32_t i = 0; i < a->seats_count; i++) {
		FX_CHECK(a->states[i] == b->states[i], "show %u seat %u: %s, then %s", a->show_id,
			 i, seat_state_name(a->states[i]), seat_state_name(b->states[i]));
	}
	const struct engine_show *x = &a->show;
	const struct engine_show *y = &b->show;
	for (int t = 0; t < TIER_COUNT; t++) {
		const struct engine_tier_counts *p = &x->tiers[t];
		const struct engine_tier_counts *q = &y->tiers[t];
		FX_CHECK(p->seats == q->seats && p->available == q->available &&
				 p->held == q->held && p->pooled == q->pooled &&
				 p->booked == q->booked && p->blocked == q->blocked &&
				 p->waiters == q->waiters,
			 "show %u tier %s: counts %u/%u/%u/%u/%u/%u/%u, then %u/%u/%u/%u/%u/%u/%u "
			 "(seats/available/held/pooled/booked/blocked/waiters)",
			 a->show_id, tier_name((enum tier)t), p->seats, p->available, p->held,
			 p->pooled, p->booked, p->blocked, p->waiters, q->seats, q->available,
			 q->held, q->pooled, q->booked, q->blocked, q->waiters);
	}
	FX_CHECK(x->event_id == y->event_id && x->venue_id == y->venue_id &&
			 x->start_ms == y->start_ms && x->hold_ttl_ms == y->hold_ttl_ms &&
			 x->sale_opens_ms == y->sale_opens_ms &&
			 x->user_seats_max == y->user_seats_max,
		 "show %u: its details changed", a->show_id);
}

void fx_show_state_finish(struct fx_show_state *state)
{
	free(state->states);
	state->states = NULL;
}

uint32_t fx_seats_in_state(const struct fx_show_state *state, enum seat_state seat_state)
{
	uint32_t count = 0;
	for (uint32_t i = 0; i < state->seats_count; i++)
		count += state->states[i] == seat_state;
	return count;
}

/* Shorthands. */

struct engine_result fx_hold_seats(struct box_client *client, uint32_t show_id, uint64_t user_id,
				   uint32_t ttl_ms, const uint32_t *seats, uint8_t count)
{
	struct engine_result result;
	fx_rc(box_client_hold_seats(client, show_id, user_id, ttl_ms, seats, count, &result),
	      "HOLD");
	return result;
}

struct engine_result fx_hold_best(struct box_client *client, uint32_t show_id, uint64_t user_id,
				  enum tier tier, uint8_t count, bool together)
{
	struct engine_result result;
	fx_rc(box_client_hold_best(client, show_id, user_id, 0, tier, count, together, &result),
	      "HOLD best");
	return result;
}

struct engine_result fx_confirm(struct box_client *client, uint64_t hold_id, uint64_t user_id,
				const char *payment_ref)
{
	struct engine_result result;
	fx_rc(box_client_confirm(client, hold_id, user_id, text_from_cstr(payment_ref), &result),
	      "CONFIRM");
	return result;
}

struct engine_result fx_release(struct box_client *client, uint64_t hold_id, uint64_t user_id)
{
	struct engine_result result;
	fx_rc(box_client_release(client, hold_id, user_id, &result), "RELEASE");
	return result;
}

struct engine_result fx_command(struct box_client *client, const struct command *command)
{
	struct engine_result result;
	fx_rc(box_client_command(client, command, &result), command_type_name(command->type));
	return result;
}

struct box_seatmap *fx_seatmap(struct box_client *client, uint32_t show_id)
{
	struct box_seatmap *map = NULL;
	enum status status;
	fx_rc(box_client_seatmap(client, show_id, &map, &status), "SEATMAP");
	FX_CHECK(status == STATUS_OK && map != NULL, "SEATMAP of show %u: %s", show_id,
		 status_name(status));
	return map;
}

struct engine_show fx_show(struct box_client *client, uint32_t show_id)
{
	struct engine_show show;
	enum status status;
	fx_rc(box_client_show(client, show_id, &show, &status), "SHOW");
	FX_CHECK(status == STATUS_OK, "SHOW %u: %s", show_id, status_name(status));
	return show;
}

int64_t fx_stat(struct box_client *client, const char *name)
{
	const struct box_stat *stats;
	uint32_t count;
	enum status status;
	fx_rc(box_client_stats(client, &stats, &count, &status), "STATS");
	FX_CHECK(status == STATUS_OK, "STATS: %s", status_name(status));
	for (uint32_t i = 0; i < count; i++) {
		if (text_equal(stats[i].name, text_from_cstr(name)))
			return stats[i].value;
	}
	return -1;
}
