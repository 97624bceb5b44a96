/*
 * test_catalog_net.c — the session (HELLO, PING) and the catalog over the wire
 * against a real server: operators' puts with every status they can get, and every
 * query (locations, events, event, show, venue, seat map, search).
 *
 * Each test gets its own server and the fixture catalog (server_fixture.h).
 * Requests the client library refuses to send (out-of-range fields) are sent as
 * hand-made frames on a raw socket, so that the server's own checks are tested.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "server_fixture.h"

static struct box_client *c;

static void setup(void)
{
	c = fx_up_connected();
}

static void teardown(void)
{
	fx_down_connected(&c);
}

TestSuite(session, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(catalog, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(catalog_puts, .fini = fx_down, .timeout = 120);

/* Session. */

Test(session, hello_reports_version_and_limits)
{
	const struct box_server_info *info = box_client_server(c);
	cr_assert_eq(info->version, 2);
	cr_assert_eq(info->frame_size_max, PROTO_FRAME_SIZE_MAX);
	cr_assert_eq(info->workers, 2);
	cr_assert_lt(info->shard, 2);
	cr_assert_eq(info->hold_seats_max, 10);
	cr_assert_eq(info->wait_timeout_ms_max, 300000);
}

Test(session, ping_echoes_up_to_1024_bytes_and_refuses_more_as_too_large)
{
	uint8_t bytes[1025];
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7);
	cr_assert_eq(box_client_ping(c, bytes, 1024), 0);
	cr_assert_eq(box_client_ping(c, bytes, 0), 0);
	int fd = fx_raw_connect(fx_current(), true);
	uint8_t buffer[2048];
	FX_STATUS_IS(fx_raw_call(fd, PROTO_PING, 77, bytes, 1025, buffer, sizeof(buffer)),
		     STATUS_TOO_LARGE);
	fx_raw_check_open(fd);
	close(fd);
}

/* Sends a HELLO (the magic, the versions the client speaks, its name) on fd; its status.
 * The answer's payload goes to buffer (256 bytes), its size to *size. */
static enum status hello_exchange(int fd, uint16_t version_min, uint16_t version_max,
				  const char *name, uint8_t *buffer, size_t *size)
{
	uint8_t payload[32];
	struct bytes_writer w;
	bytes_writer_init(&w, payload, sizeof(payload));
	bytes_put_raw(&w, PROTO_MAGIC, PROTO_MAGIC_SIZE);
	bytes_put_u16(&w, version_min);
	bytes_put_u16(&w, version_max);
	proto_put_text(&w, text_from_cstr(name));
	uint8_t frame[256];
	enum status status = fx_raw_call(fd, PROTO_HELLO, 77, payload, w.size, frame, sizeof(frame));
	*size = proto_frame_size(frame) + 4 - PROTO_HEADER_SIZE;
	memcpy(buffer, frame + PROTO_HEADER_SIZE, *size);
	return status;
}

static enum status hello_call(int fd, uint16_t version_min, uint16_t version_max,
			      const char *name)
{
	uint8_t buffer[256];
	size_t size;
	return hello_exchange(fd, version_min, version_max, name, buffer, &size);
}

/* A client of version 1 gets version 1's answer, to the byte; one that also speaks 2 gets
 * 2's, which adds the connection's shard. */
Test(session, hello_answers_the_highest_version_both_speak_in_its_layout)
{
	static const uint16_t ranges[][2] = { { 1, 1 }, { 1, 2 }, { 2, 2 }, { 1, 9 } };
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		int fd = fx_raw_connect(fx_current(), false);
		uint8_t payload[256];
		size_t size;
		FX_STATUS_IS(hello_exchange(fd, ranges[i][0], ranges[i][1], "v", payload, &size),
			     STATUS_OK);
		struct bytes_reader r;
		bytes_reader_init(&r, payload, size);
		struct proto_hello_info info;
		cr_assert(proto_get_hello_info(&r, &info));
		cr_assert(bytes_reader_done(&r), "%zu bytes left", size - r.offset);
		uint16_t expected = ranges[i][1] == 1 ? 1 : 2;
		cr_assert_eq(info.version, expected, "versions %u..%u answered %u", ranges[i][0],
			     ranges[i][1], info.version);
		/* u16, u32, u16, u16, u32, the text, and version 2's u16 shard. */
		cr_assert_eq(size, 14 + 2 + info.server_version.size + (expected == 2 ? 2 : 0));
		cr_assert_lt(info.shard, info.workers);
		fx_raw_check_open(fd);
		close(fd);
	}
}

Test(session, hello_with_unsupported_version_is_bad_request_and_closes)
{
	int fd = fx_raw_connect(fx_current(), false);
	FX_STATUS_IS(hello_call(fd, 3, 4, "future"), STATUS_BAD_REQUEST);
	cr_assert(fx_raw_wait_closed(fd, 5000), "the connection stayed open");
	close(fd);
}

Test(session, second_hello_is_bad_request_and_keeps_the_connection)
{
	int fd = fx_raw_connect(fx_current(), true);
	FX_STATUS_IS(hello_call(fd, 1, 1, "again"), STATUS_BAD_REQUEST);
	fx_raw_check_open(fd);
	close(fd);
}

/* Catalog puts. */

Test(catalog, catalog_puts_are_idempotent)
{
	fx_catalog_load(c); /* the same content again: ok, nothing changes */
	const struct engine_location *locations;
	uint32_t count;
	enum status status;
	fx_rc(box_client_locations(c, 0, 100, &locations, &count, &status), "LOCATIONS");
	FX_STATUS_IS(status, STATUS_OK);
	cr_assert_eq(count, 3);
	struct engine_show show = fx_show(c, FX_SHOW_HALL_0);
	cr_assert_eq(show.tiers[TIER_ECONOMY].available, 60);
}

Test(catalog, put_of_an_existing_id_with_other_content_is_already_exists)
{
	struct command cmd = { .type = COMMAND_LOCATION_PUT };
	cmd.location_put = (struct command_location_put){
		.location_id = FX_LOCATION_VIENNA, .name = text_from_cstr("Wien"),
		.country = { 'A', 'T' }, .lat_e6 = 48208174, .lon_e6 = 16373819 };
	FX_STATUS_IS(fx_command(c, &cmd).status, STATUS_ALREADY_EXISTS);
	cmd = (struct command){ .type = COMMAND_EVENT_PUT };
	cmd.event_put = (struct command_event_put){ .event_id = FX_EVENT_OPERA,
						    .location_id = FX_LOCATION_VIENNA,
						    .title = text_from_cstr("Figaro") };
	FX_STATUS_IS(fx_command(c, &cmd).status, STATUS_ALREADY_EXISTS);
	cmd = fx_show_command(FX_SHOW_HALL_0);
	cmd.show_put.prices_minor[TIER_VIP] += 1;
	FX_STATUS_IS(fx_command(c, &cmd).status, STATUS_ALREADY_EXISTS);
	cmd = (struct command){ .type = COMMAND_VENUE_PUT };
	struct box_seatmap *map = fx_seatmap(c, FX_SHOW_CLUB_0); /* the club's own layout */
	cmd.venue_put = (struct command_venue_put){ .venue_id = FX_VENUE_HALL,
						    .location_id = FX_LOCATION_VIENNA,
						    .name = text_from_cstr("Grand Hall"),
						    .address = text_from_cstr("Opernring 2"),
						    .lat_e6 = 48202960, .lon_e6 = 16368980,
						    .layout = map->layout };
	FX_STATUS_IS(fx_command(c, &cmd).status, STATUS_ALREADY_EXISTS);
	box_seatmap_destroy(map);
	/* The originals are untouched. */
	const struct engine_location *locations;
	uint32_t count;
	enum status status;
	fx_rc(box_client_locations(c, 0, 1, &locations, &count, &status), "LOCATIONS");
	cr_assert(count == 1 && text_equal(locations[0].name, text_from_cstr("Vienna")));
	cr_assert_eq(fx_show(c, FX_SHOW_HALL_0).prices_minor[TIER_VIP], 12000);
	cr_assert_eq(fx_show(c, FX_SHOW_HALL_0).tiers[TIER_VIP].seats, 20);
}

Test(catalog, put_with_a_missing_parent_is_not_found_and_creates_nothing)
{
	struct command cmd = { .type = COMMAND_EVENT_PUT };
	cmd.event_put = (struct command_event_put){ .event_id = 50, .location_id = 99,
						    .title = text_from_cstr("Nowhere") };
	FX_STATUS_IS(fx_command(c, &cmd).status, STATUS_NOT_FOUND);
	struct box_seatmap *map = fx_seatmap(c, FX_SHOW_CLUB_0);
	cmd = (struct command){ .type = COMMAND_VENUE_PUT };
	cmd.venue_put = (struct command_venue_put){ .venue_id = 50, .location_id = 99,
						    .name = text_from_cstr("Nowhere"),
						    .layout = map->layout };
	FX_STATUS_IS(fx_command(c, &cmd).status, STATUS_NOT_FOUND);
	box_seatmap_destroy(map);
	cmd = fx_show_command(150);
	cmd.show_put.event_id = 99;
	FX_STATUS_IS(fx_command(c, &cmd).status, STATUS_NOT_FOUND);
	cmd = fx_show_command(150);
	cmd.show_put.venue_id = 99;
	FX_STATUS_IS(fx_command(c, &cmd).status, STATUS_NOT_FOUND);
	struct engine_event_info event;
	const struct box_event_show *shows;
	uint32_t count;
	enum status status;
	fx_rc(box_client_event(c, 50, &event, &shows, &count, &status), "EVENT");
	FX_STATUS_IS(status, STATUS_NOT_FOUND);
	struct engine_venue venue;
	fx_rc(box_client_venue(c, 50, &venue, &status), "VENUE");
	FX_STATUS_IS(status, STATUS_NOT_FOUND);
	struct engine_show show;
	fx_rc(box_client_show(c, 150, &show, &status), "SHOW");
	FX_STATUS_IS(status, STATUS_NOT_FOUND);
}

Test(catalog, show_at_a_venue_of_another_location_is_bad_request)
{
	struct command cmd = fx_show_command(150);
	cmd.show_put.venue_id = FX_VENUE_STADTSAAL; /* Graz; the opera is in Vienna */
	FX_STATUS_IS(fx_command(c, &cmd).status, STATUS_BAD_REQUEST);
}

Test(catalog, put_with_a_field_out_of_range_is_bad_request_over_the_wire)
{
	int fd = fx_raw_connect(fx_current(), true);
	uint8_t payload[64];
	struct bytes_writer w;
	bytes_writer_init(&w, payload, sizeof(payload));
	bytes_put_u32(&w, 60);
	proto_put_text(&w, text_from_cstr("Lowercase"));
	bytes_put_raw(&w, "at", 2); /* the country must be upper case */
	bytes_put_u32(&w, 0);
	bytes_put_u32(&w, 0);
	uint8_t buffer[256];
	FX_STATUS_IS(fx_raw_call(fd, PROTO_LOCATION_PUT, 77, payload, w.size, buffer, sizeof(buffer)),
		     STATUS_BAD_REQUEST);
	fx_raw_check_open(fd);
	close(fd);
	const struct engine_location *locations;
	uint32_t count;
	enum status status;
	fx_rc(box_client_locations(c, 3, 100, &locations, &count, &status), "LOCATIONS");
	cr_assert_eq(count, 0);
}

/* Catalog queries. */

Test(catalog, locations_are_listed_in_id_order_page_by_page)
{
	const struct engine_location *l;
	uint32_t count;
	enum status status;
	fx_rc(box_client_locations(c, 0, 2, &l, &count, &status), "LOCATIONS");
	FX_STATUS_IS(status, STATUS_OK);
	cr_assert_eq(count, 2);
	cr_assert(l[0].location_id == 1 && l[1].location_id == 2);
	cr_assert(text_equal(l[1].name, text_from_cstr("Graz")));
	cr_assert(memcmp(l[1].country, "AT", 2) == 0 && l[1].lat_e6 == 47070714);
	cr_assert(l[0].events_count == 2 && l[1].events_count == 1);
	fx_rc(box_client_locations(c, 2, 2, &l, &count, &status), "LOCATIONS");
	cr_assert(count == 1 && l[0].location_id == 3 && l[0].events_count == 0);
	fx_rc(box_client_locations(c, 0, 0, &l, &count, &status), "LOCATIONS");
	FX_STATUS_IS(status, STATUS_BAD_REQUEST);
	fx_rc(box_client_locations(c, 0, 101, &l, &count, &status), "LOCATIONS");
	FX_STATUS_IS(status, STATUS_BAD_REQUEST);
}

Test(catalog, events_at_a_location_are_listed_in_id_order)
{
	const struct engine_event_info *e;
	uint32_t count;
	enum status status;
	fx_rc(box_client_events(c, FX_LOCATION_VIENNA, 0, 100, &e, &count, &status), "EVENTS");
	FX_STATUS_IS(status, STATUS_OK);
	cr_assert(count == 2 && e[0].event_id == FX_EVENT_OPERA && e[1].event_id == FX_EVENT_ROCK);
	cr_assert(text_equal(e[0].title, text_from_cstr("Don Giovanni")));
	cr_assert(e[0].type == EVENT_TYPE_THEATRE && e[0].duration_min == 180);
	cr_assert(e[0].tags_count == 2 && text_equal(e[0].tags[1], text_from_cstr("classic")));
	cr_assert_eq(e[0].shows_count, 3);
	fx_rc(box_client_events(c, FX_LOCATION_VIENNA, FX_EVENT_OPERA, 1, &e, &count, &status),
	      "EVENTS");
	cr_assert(count == 1 && e[0].event_id == FX_EVENT_ROCK);
	fx_rc(box_client_events(c, FX_LOCATION_LISBON, 0, 100, &e, &count, &status), "EVENTS");
	cr_assert(status == STATUS_OK && count == 0);
	fx_rc(box_client_events(c, 99, 0, 100, &e, &count, &status), "EVENTS");
	FX_STATUS_IS(status, STATUS_NOT_FOUND);
}

Test(catalog, event_lists_its_shows_in_start_order_with_their_venues)
{
	struct engine_event_info event;
	const struct box_event_show *shows;
	uint32_t count;
	enum status status;
	fx_rc(box_client_event(c, FX_EVENT_OPERA, &event, &shows, &count, &status), "EVENT");
	FX_STATUS_IS(status, STATUS_OK);
	cr_assert(text_equal(event.description, text_from_cstr("Opera in two acts by Mozart")));
	cr_assert_eq(count, 3);
	uint32_t expected[] = { FX_SHOW_HALL_0, FX_SHOW_HALL_1, FX_SHOW_FUTURE };
	for (uint32_t i = 0; i < 3; i++) {
		cr_assert_eq(shows[i].show_id, expected[i]);
		cr_assert_eq(shows[i].venue_id, FX_VENUE_HALL);
		cr_assert(text_equal(shows[i].venue_name, text_from_cstr("Grand Hall")));
		cr_assert(text_equal(shows[i].venue_address, text_from_cstr("Opernring 2")));
		cr_assert(i == 0 || shows[i].start_ms > shows[i - 1].start_ms);
	}
	fx_rc(box_client_event(c, 99, &event, &shows, &count, &status), "EVENT");
	FX_STATUS_IS(status, STATUS_NOT_FOUND);
}

Test(catalog, show_gives_its_details_and_counts_per_tier)
{
	struct engine_show s = fx_show(c, FX_SHOW_HALL_1);
	cr_assert(s.show_id == FX_SHOW_HALL_1 && s.event_id == FX_EVENT_OPERA &&
		  s.venue_id == FX_VENUE_HALL);
	cr_assert(s.prices_minor[0] == 2500 && s.prices_minor[1] == 4900 &&
		  s.prices_minor[2] == 12000 && memcmp(s.currency, "EUR", 3) == 0);
	cr_assert_eq(s.user_seats_max, 10);
	cr_assert_eq(s.hold_ttl_ms, HOLD_TTL_MS_DEFAULT);
	cr_assert(s.owned);
	uint32_t seats[] = { 60, 40, 20 };
	for (int t = 0; t < TIER_COUNT; t++) {
		cr_assert_eq(s.tiers[t].seats, seats[t]);
		cr_assert_eq(s.tiers[t].available, seats[t]);
		cr_assert(s.tiers[t].held == 0 && s.tiers[t].booked == 0);
		cr_assert_eq(s.tiers[t].waiters, 0);
	}
	cr_assert_eq(fx_show(c, FX_SHOW_SHORT).hold_ttl_ms, FX_SHORT_TTL_MS);
	enum status status;
	fx_rc(box_client_show(c, 999, &s, &status), "SHOW");
	FX_STATUS_IS(status, STATUS_NOT_FOUND);
}

/* Id 0 is never a show: refused (not found or bad request) with no payload, whatever
 * request came before on the connection. */
static void show_zero_refused(void)
{
	struct engine_show s;
	enum status status;
	fx_rc(box_client_show(c, 0, &s, &status), "SHOW 0");
	cr_assert(status == STATUS_NOT_FOUND || status == STATUS_BAD_REQUEST, "SHOW 0: %s",
		  status_name(status));
	struct box_seatmap *map;
	fx_rc(box_client_seatmap(c, 0, &map, &status), "SEATMAP 0");
	cr_assert(status == STATUS_NOT_FOUND || status == STATUS_BAD_REQUEST, "SEATMAP 0: %s",
		  status_name(status));
}

Test(catalog, show_and_seatmap_of_id_zero_are_refused_even_after_a_search)
{
	show_zero_refused();
	struct search_query q;
	search_query_init(&q);
	const struct search_hit *hits;
	uint32_t count;
	bool more;
	enum status status;
	fx_rc(box_client_search(c, &q, &hits, &count, &more, &status), "SEARCH");
	show_zero_refused();
	q.keyword = text_from_cstr("giovanni");
	fx_rc(box_client_search(c, &q, &hits, &count, &more, &status), "SEARCH");
	show_zero_refused();
}

Test(catalog, venue_gives_its_layout)
{
	struct engine_venue v;
	enum status status;
	fx_rc(box_client_venue(c, FX_VENUE_HALL, &v, &status), "VENUE");
	FX_STATUS_IS(status, STATUS_OK);
	cr_assert_eq(v.location_id, FX_LOCATION_VIENNA);
	cr_assert(text_equal(v.name, text_from_cstr("Grand Hall")));
	cr_assert(v.layout.seats_count == 120 && v.layout.sections_count == 3 &&
		  v.layout.rows_count == 12);
	cr_assert(v.layout.tier_seats_count[TIER_VIP] == 20 &&
		  v.layout.tier_seats_count[TIER_ECONOMY] == 60);
	struct layout_row row;
	cr_assert(layout_seat_row(&v.layout, 25, &row));
	cr_assert(row.row_name_size == 1 && row.row_name[0] == 'C');
	fx_rc(box_client_venue(c, 99, &v, &status), "VENUE");
	FX_STATUS_IS(status, STATUS_NOT_FOUND);
}

Test(catalog, seatmap_gives_every_seat_state)
{
	uint32_t held[] = { 30, 31 };
	struct engine_result r = fx_hold_seats(c, FX_SHOW_HALL_0, 1, 0, held, 2);
	FX_STATUS_IS(r.status, STATUS_OK);
	uint32_t booked[] = { 50 };
	r = fx_hold_seats(c, FX_SHOW_HALL_0, 2, 0, booked, 1);
	FX_STATUS_IS(fx_confirm(c, r.hold_id, 2, "pay-1").status, STATUS_OK);
	struct engine_result b;
	fx_rc(box_client_seats_block(c, FX_SHOW_HALL_0, 100, 2, true, &b), "SEATS_BLOCK");
	FX_STATUS_IS(b.status, STATUS_OK);
	struct box_seatmap *map = fx_seatmap(c, FX_SHOW_HALL_0);
	cr_assert(map->venue_id == FX_VENUE_HALL && map->seats_count == 120);
	for (uint32_t i = 0; i < 120; i++) {
		uint8_t want = (i == 30 || i == 31) ? SEAT_HELD : i == 50 ? SEAT_BOOKED
				: (i == 100 || i == 101) ? SEAT_BLOCKED : SEAT_AVAILABLE;
		cr_assert_eq(map->states[i], want, "seat %u", i);
	}
	box_seatmap_destroy(map);
	enum status status;
	fx_rc(box_client_seatmap(c, 999, &map, &status), "SEATMAP");
	FX_STATUS_IS(status, STATUS_NOT_FOUND);
}

Test(catalog, search_filters_orders_and_pages)
{
	struct search_query q;
	search_query_init(&q);
	const struct search_hit *hits;
	uint32_t count;
	bool more;
	enum status status;
	fx_rc(box_client_search(c, &q, &hits, &count, &more, &status), "SEARCH");
	FX_STATUS_IS(status, STATUS_OK);
	cr_assert(count == FX_SHOWS_COUNT && !more);
	for (uint32_t i = 1; i < count; i++)
		cr_assert_gt(hits[i].start_ms, hits[i - 1].start_ms);
	q.keyword = text_from_cstr("GIOVANNI");
	fx_rc(box_client_search(c, &q, &hits, &count, &more, &status), "SEARCH");
	cr_assert(count == 3 && hits[0].show_id == FX_SHOW_HALL_0 &&
		  hits[0].location_id == FX_LOCATION_VIENNA);
	q.limit = 2; /* paging: the cursor is the last hit */
	fx_rc(box_client_search(c, &q, &hits, &count, &more, &status), "SEARCH");
	cr_assert(count == 2 && more);
	q.after_start_ms = hits[1].start_ms;
	q.after_show_id = hits[1].show_id;
	fx_rc(box_client_search(c, &q, &hits, &count, &more, &status), "SEARCH");
	cr_assert(count == 1 && !more && hits[0].show_id == FX_SHOW_FUTURE);
	search_query_init(&q);
	q.near = true; /* 20 km around Graz */
	q.lat_e6 = 47070714;
	q.lon_e6 = 15439504;
	q.radius_km = 20;
	fx_rc(box_client_search(c, &q, &hits, &count, &more, &status), "SEARCH");
	cr_assert(count == 1 && hits[0].show_id == FX_SHOW_GRAZ && hits[0].distance_m < 1000);
	search_query_init(&q);
	q.type = EVENT_TYPE_CONCERT;
	q.from_ms = FX_T0_MS + 4 * 86400000LL; /* rock shows from day 4 on */
	fx_rc(box_client_search(c, &q, &hits, &count, &more, &status), "SEARCH");
	cr_assert(count == 2 && hits[0].show_id == FX_SHOW_CLUB_1 &&
		  hits[1].show_id == FX_SHOW_SHORT);
	search_query_init(&q);
	q.tags_count = 2;
	q.tags[0] = text_from_cstr("standup");
	q.tags[1] = text_from_cstr("rock");
	fx_rc(box_client_search(c, &q, &hits, &count, &more, &status), "SEARCH");
	cr_assert_eq(count, 4);
	q.limit = 0;
	fx_rc(box_client_search(c, &q, &hits, &count, &more, &status), "SEARCH");
	FX_STATUS_IS(status, STATUS_BAD_REQUEST);
}

/*
 * Catalog reads do not wait behind changes to shows: a SEARCH pipelined after 100
 * holds, on a connection of the holds' shard, is answered before the holds are
 * durable. The holds and the search reach the worker in one read, so their log
 * flush starts only after the search is answered: a search that waited for it would
 * come back after (or with) the last hold's answer.
 */
Test(catalog, a_search_is_not_held_back_by_pending_holds)
{
	enum { HOLDS = 100 };
	uint32_t show = box_client_server(c)->shard == box_show_shard(FX_SHOW_HALL_0, 2)
				? FX_SHOW_HALL_0
				: FX_SHOW_HALL_1;
	cr_assert_eq(box_show_shard(show, 2), box_client_server(c)->shard);
	uint64_t ids[HOLDS + 1];
	for (uint32_t i = 0; i < HOLDS; i++) {
		struct command hold = { .type = COMMAND_HOLD };
		hold.hold = (struct command_hold){ .show_id = show, .user_id = 1 + i / 10,
						   .seats_count = 1, .seats = { i } };
		fx_rc(box_client_send_command(c, &hold, &ids[i]), "HOLD");
	}
	struct search_query q;
	search_query_init(&q);
	fx_rc(box_client_send_search(c, &q, &ids[HOLDS]), "SEARCH");
	fx_rc(box_client_flush(c, FX_CALL_TIMEOUT_MS), "flush");
	uint32_t holds_before_search = 0;
	bool search_answered = false;
	for (uint32_t n = 0; n <= HOLDS; n++) {
		struct box_response response;
		uint32_t i = fx_next_of(c, ids, HOLDS + 1, &response, "answer");
		FX_STATUS_IS(response.status, STATUS_OK);
		if (i == HOLDS)
			search_answered = true;
		else if (!search_answered)
			holds_before_search++;
	}
	cr_assert_lt(holds_before_search, HOLDS,
		     "the search was answered only after all %u holds were durable", HOLDS);
}

/*
 * Shard 0 decides a catalog put and every shard then applies it; a shard whose log
 * cannot take it at that moment (its next segment still being prepared, say) must
 * apply it once it can, not refuse it: a put is on every shard or on none, and it is
 * OK exactly when it is on every shard. Many large puts, pipelined, into small
 * segments make the shards rotate often while puts keep arriving.
 */
Test(catalog_puts, a_put_is_on_every_shard_or_on_none)
{
	fx_up((const char *const[]){ "--segment-size", "1048576", NULL });
	struct box_client *client = fx_connect(fx_current());
	fx_catalog_load(client);
	enum { PUTS = 4000, FIRST_ID = 1000 };
	static char description[DESCRIPTION_SIZE_MAX];
	memset(description, 'd', sizeof(description));
	static enum status statuses[PUTS];
	static uint64_t request_ids[PUTS];
	uint32_t sent = 0, answered = 0;
	while (answered < PUTS) {
		while (sent < PUTS) {
			struct command put = { .type = COMMAND_EVENT_PUT };
			put.event_put = (struct command_event_put){
				.event_id = FIRST_ID + sent, .location_id = FX_LOCATION_GRAZ,
				.title = text_from_cstr("Put"),
				.description = { .bytes = description,
						 .size = sizeof(description) },
				.type = EVENT_TYPE_CONCERT };
			int rc = box_client_send_command(client, &put, &request_ids[sent]);
			if (rc == -EAGAIN)
				break;
			fx_rc(rc, "send EVENT_PUT");
			sent++;
		}
		struct box_response response;
		uint32_t i = fx_next_of(client, request_ids, sent, &response, "EVENT_PUT answer");
		statuses[i] = response.status;
		answered++;
	}
	uint32_t ok = 0, overloaded = 0;
	for (uint32_t i = 0; i < PUTS; i++) {
		cr_assert(statuses[i] == STATUS_OK || statuses[i] == STATUS_OVERLOADED,
			  "put %u: %s", i, status_name(statuses[i]));
		ok += statuses[i] == STATUS_OK;
		overloaded += statuses[i] == STATUS_OVERLOADED;
	}
	box_client_close(client);
	/* A restart reconciles the shards' catalogs, and logs any put one of them lacked. */
	fx_server_stop(fx_current());
	fx_server_start(fx_current());
	cr_assert_not(fx_log_contains(fx_current(), "catalog reconciled"),
		      "a put was on some shards only (%u OK, %u overloaded)", ok, overloaded);
	client = fx_connect(fx_current());
	for (uint32_t i = 0; i < PUTS; i++) {
		struct engine_event_info event;
		const struct box_event_show *shows;
		uint32_t shows_count;
		enum status status;
		fx_rc(box_client_event(client, FIRST_ID + i, &event, &shows, &shows_count, &status),
		      "EVENT");
		FX_STATUS_IS(status, statuses[i] == STATUS_OK ? STATUS_OK : STATUS_NOT_FOUND);
	}
	box_client_close(client);
	cr_log_info("%u puts OK, %u overloaded", ok, overloaded);
}
