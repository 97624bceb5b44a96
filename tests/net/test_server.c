/*
 * test_server.c — every operation of PROTOCOL.md over the wire against a real
 * server, with its success and every failure status SPEC §4 names, and the
 * durability of what was acknowledged across a SIGTERM restart and a kill -9.
 * The waiting-list operations (join, leave, poll, WAIT) and their statuses are in
 * test_waitlist_net.c, with the waiting list's behaviour.
 *
 * Each test gets its own server and the fixture catalog (server_fixture.h).
 * Requests the client library refuses to send (out-of-range fields) are sent as
 * hand-made frames on a raw socket, so that the server's own checks are tested.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "server_fixture.h"

static struct box_client *c;

static void setup(void)
{
	fx_up(NULL);
	c = fx_connect(fx_current());
}

static void teardown(void)
{
	box_client_close(c);
	c = NULL;
	fx_down();
}

TestSuite(session, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(catalog, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(holds, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(bookings, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(operators, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(durability, .init = setup, .fini = teardown, .timeout = 60);

#define STATUS_IS(got, want)                                                       \
	cr_assert_eq((got), (want), "status %s, expected %s", status_name(got), \
		     status_name(want))

static struct engine_result command(const struct command *command)
{
	struct engine_result result;
	fx_rc(box_client_command(c, command, &result), command_type_name(command->type));
	return result;
}

static uint8_t seat_state(uint32_t show_id, uint32_t seat)
{
	struct box_seatmap *map = fx_seatmap(c, show_id);
	cr_assert_lt(seat, map->seats_count);
	uint8_t state = map->states[seat];
	box_seatmap_destroy(map);
	return state;
}

/* Session. */

Test(session, hello_reports_version_and_limits)
{
	const struct box_server_info *info = box_client_server(c);
	cr_assert_eq(info->version, 1);
	cr_assert_eq(info->frame_size_max, PROTO_FRAME_SIZE_MAX);
	cr_assert_eq(info->workers, 2);
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
	STATUS_IS(fx_raw_call(fd, PROTO_PING, 77, bytes, 1025, buffer, sizeof(buffer)),
		  STATUS_TOO_LARGE);
	fx_raw_check_open(fd);
	close(fd);
}

Test(session, hello_with_unsupported_version_is_bad_request_and_closes)
{
	int fd = fx_raw_connect(fx_current(), false);
	uint8_t payload[32];
	struct bytes_writer w;
	bytes_writer_init(&w, payload, sizeof(payload));
	bytes_put_raw(&w, PROTO_MAGIC, PROTO_MAGIC_SIZE);
	bytes_put_u16(&w, 2);
	bytes_put_u16(&w, 3);
	proto_put_text(&w, text_from_cstr("future"));
	uint8_t buffer[256];
	STATUS_IS(fx_raw_call(fd, PROTO_HELLO, 77, payload, w.size, buffer, sizeof(buffer)),
		  STATUS_BAD_REQUEST);
	cr_assert(fx_raw_wait_closed(fd, 5000), "the connection stayed open");
	close(fd);
}

Test(session, second_hello_is_bad_request_and_keeps_the_connection)
{
	int fd = fx_raw_connect(fx_current(), true);
	uint8_t payload[32];
	struct bytes_writer w;
	bytes_writer_init(&w, payload, sizeof(payload));
	bytes_put_raw(&w, PROTO_MAGIC, PROTO_MAGIC_SIZE);
	bytes_put_u16(&w, 1);
	bytes_put_u16(&w, 1);
	proto_put_text(&w, text_from_cstr("again"));
	uint8_t buffer[256];
	STATUS_IS(fx_raw_call(fd, PROTO_HELLO, 77, payload, w.size, buffer, sizeof(buffer)),
		  STATUS_BAD_REQUEST);
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
	STATUS_IS(status, STATUS_OK);
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
	STATUS_IS(command(&cmd).status, STATUS_ALREADY_EXISTS);
	cmd = (struct command){ .type = COMMAND_EVENT_PUT };
	cmd.event_put = (struct command_event_put){ .event_id = FX_EVENT_OPERA,
						    .location_id = FX_LOCATION_VIENNA,
						    .title = text_from_cstr("Figaro") };
	STATUS_IS(command(&cmd).status, STATUS_ALREADY_EXISTS);
	cmd = fx_show_command(FX_SHOW_HALL_0);
	cmd.show_put.prices_minor[TIER_VIP] += 1;
	STATUS_IS(command(&cmd).status, STATUS_ALREADY_EXISTS);
	cmd = (struct command){ .type = COMMAND_VENUE_PUT };
	struct box_seatmap *map = fx_seatmap(c, FX_SHOW_CLUB_0); /* the club's own layout */
	cmd.venue_put = (struct command_venue_put){ .venue_id = FX_VENUE_HALL,
						    .location_id = FX_LOCATION_VIENNA,
						    .name = text_from_cstr("Grand Hall"),
						    .address = text_from_cstr("Opernring 2"),
						    .lat_e6 = 48202960, .lon_e6 = 16368980,
						    .layout = map->layout };
	STATUS_IS(command(&cmd).status, STATUS_ALREADY_EXISTS);
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
	STATUS_IS(command(&cmd).status, STATUS_NOT_FOUND);
	struct box_seatmap *map = fx_seatmap(c, FX_SHOW_CLUB_0);
	cmd = (struct command){ .type = COMMAND_VENUE_PUT };
	cmd.venue_put = (struct command_venue_put){ .venue_id = 50, .location_id = 99,
						    .name = text_from_cstr("Nowhere"),
						    .layout = map->layout };
	STATUS_IS(command(&cmd).status, STATUS_NOT_FOUND);
	box_seatmap_destroy(map);
	cmd = fx_show_command(150);
	cmd.show_put.event_id = 99;
	STATUS_IS(command(&cmd).status, STATUS_NOT_FOUND);
	cmd = fx_show_command(150);
	cmd.show_put.venue_id = 99;
	STATUS_IS(command(&cmd).status, STATUS_NOT_FOUND);
	struct engine_event_info event;
	const struct box_event_show *shows;
	uint32_t count;
	enum status status;
	fx_rc(box_client_event(c, 50, &event, &shows, &count, &status), "EVENT");
	STATUS_IS(status, STATUS_NOT_FOUND);
	struct engine_venue venue;
	fx_rc(box_client_venue(c, 50, &venue, &status), "VENUE");
	STATUS_IS(status, STATUS_NOT_FOUND);
	struct engine_show show;
	fx_rc(box_client_show(c, 150, &show, &status), "SHOW");
	STATUS_IS(status, STATUS_NOT_FOUND);
}

Test(catalog, show_at_a_venue_of_another_location_is_bad_request)
{
	struct command cmd = fx_show_command(150);
	cmd.show_put.venue_id = FX_VENUE_STADTSAAL; /* Graz; the opera is in Vienna */
	STATUS_IS(command(&cmd).status, STATUS_BAD_REQUEST);
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
	STATUS_IS(fx_raw_call(fd, PROTO_LOCATION_PUT, 77, payload, w.size, buffer, sizeof(buffer)),
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
	STATUS_IS(status, STATUS_OK);
	cr_assert_eq(count, 2);
	cr_assert(l[0].location_id == 1 && l[1].location_id == 2);
	cr_assert(text_equal(l[1].name, text_from_cstr("Graz")));
	cr_assert(memcmp(l[1].country, "AT", 2) == 0 && l[1].lat_e6 == 47070714);
	cr_assert(l[0].events_count == 2 && l[1].events_count == 1);
	fx_rc(box_client_locations(c, 2, 2, &l, &count, &status), "LOCATIONS");
	cr_assert(count == 1 && l[0].location_id == 3 && l[0].events_count == 0);
	fx_rc(box_client_locations(c, 0, 0, &l, &count, &status), "LOCATIONS");
	STATUS_IS(status, STATUS_BAD_REQUEST);
	fx_rc(box_client_locations(c, 0, 101, &l, &count, &status), "LOCATIONS");
	STATUS_IS(status, STATUS_BAD_REQUEST);
}

Test(catalog, events_at_a_location_are_listed_in_id_order)
{
	const struct engine_event_info *e;
	uint32_t count;
	enum status status;
	fx_rc(box_client_events(c, FX_LOCATION_VIENNA, 0, 100, &e, &count, &status), "EVENTS");
	STATUS_IS(status, STATUS_OK);
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
	STATUS_IS(status, STATUS_NOT_FOUND);
}

Test(catalog, event_lists_its_shows_in_start_order_with_their_venues)
{
	struct engine_event_info event;
	const struct box_event_show *shows;
	uint32_t count;
	enum status status;
	fx_rc(box_client_event(c, FX_EVENT_OPERA, &event, &shows, &count, &status), "EVENT");
	STATUS_IS(status, STATUS_OK);
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
	STATUS_IS(status, STATUS_NOT_FOUND);
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
	STATUS_IS(status, STATUS_NOT_FOUND);
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
	STATUS_IS(status, STATUS_OK);
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
	STATUS_IS(status, STATUS_NOT_FOUND);
}

Test(catalog, seatmap_gives_every_seat_state)
{
	uint32_t held[] = { 30, 31 };
	struct engine_result r = fx_hold_seats(c, FX_SHOW_HALL_0, 1, 0, held, 2);
	STATUS_IS(r.status, STATUS_OK);
	uint32_t booked[] = { 50 };
	r = fx_hold_seats(c, FX_SHOW_HALL_0, 2, 0, booked, 1);
	STATUS_IS(fx_confirm(c, r.hold_id, 2, "pay-1").status, STATUS_OK);
	struct engine_result b;
	fx_rc(box_client_seats_block(c, FX_SHOW_HALL_0, 100, 2, true, &b), "SEATS_BLOCK");
	STATUS_IS(b.status, STATUS_OK);
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
	STATUS_IS(status, STATUS_NOT_FOUND);
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
	STATUS_IS(status, STATUS_OK);
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
	STATUS_IS(status, STATUS_BAD_REQUEST);
}

/* Holds. */

static void check_deadline(const struct engine_result *r, int64_t before, int64_t after,
			   uint32_t ttl_ms)
{
	cr_assert(r->deadline_ms >= before + ttl_ms && r->deadline_ms <= after + ttl_ms + 20,
		  "deadline %lld is not %u ms after [%lld, %lld]", (long long)r->deadline_ms,
		  ttl_ms, (long long)before, (long long)after);
}

Test(holds, explicit_hold_holds_the_seats_in_request_order)
{
	uint32_t seats[] = { 7, 3, 5 };
	int64_t before = fx_now_ms();
	struct engine_result r = fx_hold_seats(c, FX_SHOW_HALL_1, 42, 0, seats, 3);
	int64_t after = fx_now_ms();
	STATUS_IS(r.status, STATUS_OK);
	cr_assert_eq(r.hold_id, (uint64_t)FX_SHOW_HALL_1 << 32 | 1);
	cr_assert(r.seats_count == 3 && r.seats[0] == 7 && r.seats[1] == 3 && r.seats[2] == 5);
	check_deadline(&r, before, after, HOLD_TTL_MS_DEFAULT);
	for (uint32_t i = 0; i < 3; i++)
		cr_assert_eq(seat_state(FX_SHOW_HALL_1, seats[i]), SEAT_HELD);
	struct engine_show s = fx_show(c, FX_SHOW_HALL_1);
	cr_assert(s.tiers[TIER_VIP].held == 3 && s.tiers[TIER_VIP].available == 17);
	r = fx_hold_seats(c, FX_SHOW_HALL_1, 43, 0, (uint32_t[]){ 9 }, 1);
	cr_assert_eq(r.hold_id, (uint64_t)FX_SHOW_HALL_1 << 32 | 2);
}

Test(holds, hold_of_a_taken_seat_names_the_unavailable_seats_and_changes_nothing)
{
	uint32_t taken[] = { 3, 4 };
	STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_0, 1, 0, taken, 2).status, STATUS_OK);
	uint32_t wanted[] = { 5, 4, 3, 6 };
	struct engine_result r = fx_hold_seats(c, FX_SHOW_HALL_0, 2, 0, wanted, 4);
	STATUS_IS(r.status, STATUS_SEAT_UNAVAILABLE);
	cr_assert(r.seats_count == 2 && r.seats[0] == 4 && r.seats[1] == 3);
	cr_assert(r.hold_id == 0 && r.deadline_ms == 0);
	cr_assert_eq(seat_state(FX_SHOW_HALL_0, 5), SEAT_AVAILABLE);
	cr_assert_eq(seat_state(FX_SHOW_HALL_0, 6), SEAT_AVAILABLE);
	cr_assert_eq(fx_show(c, FX_SHOW_HALL_0).tiers[TIER_VIP].held, 2);
}

Test(holds, best_available_together_takes_adjacent_seats_of_the_tier)
{
	struct engine_result r = fx_hold_best(c, FX_SHOW_HALL_0, 1, TIER_REGULAR, 3, true);
	STATUS_IS(r.status, STATUS_OK);
	cr_assert(r.seats_count == 3 && r.seats[0] == 20 && r.seats[1] == 21 && r.seats[2] == 22);
	r = fx_hold_best(c, FX_SHOW_CLUB_1, 1, TIER_VIP, 2, false);
	cr_assert(r.status == STATUS_OK && r.seats_count == 2 && r.seats[0] >= 8);
}

Test(holds, best_available_without_enough_seats_is_seat_unavailable_naming_none)
{
	STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_0, 1, TIER_VIP, 3, false).status, STATUS_OK);
	struct engine_result r = fx_hold_best(c, FX_SHOW_CLUB_0, 2, TIER_VIP, 2, false);
	STATUS_IS(r.status, STATUS_SEAT_UNAVAILABLE);
	cr_assert_eq(r.seats_count, 0);
	cr_assert_eq(fx_show(c, FX_SHOW_CLUB_0).tiers[TIER_VIP].available, 1);
}

Test(holds, hold_past_the_user_limit_is_limit_exceeded_and_changes_nothing)
{
	STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_0, 7, TIER_ECONOMY, 8, false).status, STATUS_OK);
	struct engine_result r = fx_hold_best(c, FX_SHOW_HALL_0, 7, TIER_ECONOMY, 3, false);
	STATUS_IS(r.status, STATUS_LIMIT_EXCEEDED);
	STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_0, 7, 0, (uint32_t[]){ 0, 1, 2 }, 3).status,
		  STATUS_LIMIT_EXCEEDED);
	cr_assert_eq(fx_show(c, FX_SHOW_HALL_0).tiers[TIER_ECONOMY].held, 8);
	uint32_t two[] = { 0, 1 };
	STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_0, 7, 0, two, 2).status, STATUS_OK);
	STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_1, 7, TIER_ECONOMY, 3, false).status, STATUS_OK);
}

Test(holds, hold_before_the_sale_opens_is_not_on_sale)
{
	STATUS_IS(fx_hold_seats(c, FX_SHOW_FUTURE, 1, 0, (uint32_t[]){ 0 }, 1).status,
		  STATUS_NOT_ON_SALE);
	STATUS_IS(fx_hold_best(c, FX_SHOW_FUTURE, 1, TIER_VIP, 1, false).status,
		  STATUS_NOT_ON_SALE);
	cr_assert_eq(fx_show(c, FX_SHOW_FUTURE).tiers[TIER_VIP].available, 20);
}

Test(holds, hold_in_a_tier_with_a_waiting_line_is_waitlist_active)
{
	STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_1, 1, TIER_VIP, 4, false).status, STATUS_OK);
	struct engine_result r;
	fx_rc(box_client_waitlist_join(c, FX_SHOW_CLUB_1, 2, TIER_VIP, 1, false, &r), "JOIN");
	STATUS_IS(r.status, STATUS_OK);
	STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_1, 3, TIER_VIP, 1, false).status,
		  STATUS_WAITLIST_ACTIVE);
	STATUS_IS(fx_hold_seats(c, FX_SHOW_CLUB_1, 3, 0, (uint32_t[]){ 9 }, 1).status,
		  STATUS_WAITLIST_ACTIVE);
	/* Another tier has no line. */
	STATUS_IS(fx_hold_seats(c, FX_SHOW_CLUB_1, 3, 0, (uint32_t[]){ 4 }, 1).status, STATUS_OK);
}

Test(holds, hold_of_seats_outside_the_venue_or_repeated_is_bad_request)
{
	STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_0, 1, 0, (uint32_t[]){ 120 }, 1).status,
		  STATUS_BAD_REQUEST);
	STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_0, 1, 0, (uint32_t[]){ 5, 5 }, 2).status,
		  STATUS_BAD_REQUEST);
	/* The Stadtsaal has regular seats only. */
	STATUS_IS(fx_hold_best(c, FX_SHOW_GRAZ, 1, TIER_VIP, 1, false).status, STATUS_BAD_REQUEST);
	cr_assert_eq(fx_show(c, FX_SHOW_HALL_0).tiers[TIER_VIP].available, 20);
}

/* A HOLD payload with `count` explicit seats 0, 1, ... (count may pass the limit). */
static size_t hold_payload(uint8_t *payload, size_t capacity, uint32_t show_id, bool best,
			   uint8_t count)
{
	struct bytes_writer w;
	bytes_writer_init(&w, payload, capacity);
	bytes_put_u32(&w, show_id);
	bytes_put_u64(&w, 5);
	bytes_put_u32(&w, 0);
	bytes_put_u8(&w, best);
	if (best) {
		bytes_put_u8(&w, TIER_ECONOMY);
		bytes_put_u8(&w, count);
		bytes_put_u8(&w, 0);
	} else {
		bytes_put_u8(&w, count);
		for (uint8_t i = 0; i < count; i++)
			bytes_put_u32(&w, i);
	}
	return w.size;
}

Test(holds, hold_of_more_than_10_seats_is_too_large_and_of_none_bad_request)
{
	int fd = fx_raw_connect(fx_current(), true);
	uint8_t payload[128];
	uint8_t buffer[256];
	size_t size = hold_payload(payload, sizeof(payload), FX_SHOW_HALL_0, false, 11);
	STATUS_IS(fx_raw_call(fd, PROTO_HOLD, 77, payload, size, buffer, sizeof(buffer)),
		  STATUS_TOO_LARGE);
	size = hold_payload(payload, sizeof(payload), FX_SHOW_HALL_0, true, 11);
	STATUS_IS(fx_raw_call(fd, PROTO_HOLD, 77, payload, size, buffer, sizeof(buffer)),
		  STATUS_TOO_LARGE);
	size = hold_payload(payload, sizeof(payload), FX_SHOW_HALL_0, false, 0);
	STATUS_IS(fx_raw_call(fd, PROTO_HOLD, 77, payload, size, buffer, sizeof(buffer)),
		  STATUS_BAD_REQUEST);
	size = hold_payload(payload, sizeof(payload), FX_SHOW_HALL_0, false, 10);
	STATUS_IS(fx_raw_call(fd, PROTO_HOLD, 77, payload, size, buffer, sizeof(buffer)),
		  STATUS_OK);
	close(fd);
	struct engine_show s = fx_show(c, FX_SHOW_HALL_0);
	cr_assert(s.tiers[TIER_VIP].held == 10 && s.tiers[TIER_ECONOMY].held == 0);
}

Test(holds, hold_on_an_unknown_show_is_not_found)
{
	STATUS_IS(fx_hold_seats(c, 999, 1, 0, (uint32_t[]){ 0 }, 1).status, STATUS_NOT_FOUND);
	STATUS_IS(fx_hold_best(c, 998, 1, TIER_VIP, 1, false).status, STATUS_NOT_FOUND);
}

Test(holds, hold_lifetime_is_the_shorter_of_the_request_and_the_show)
{
	int64_t before = fx_now_ms();
	struct engine_result r = fx_hold_seats(c, FX_SHOW_HALL_0, 1, 5000, (uint32_t[]){ 0 }, 1);
	check_deadline(&r, before, fx_now_ms(), 5000);
	before = fx_now_ms();
	r = fx_hold_seats(c, FX_SHOW_HALL_0, 1, HOLD_TTL_MS_MAX, (uint32_t[]){ 1 }, 1);
	check_deadline(&r, before, fx_now_ms(), HOLD_TTL_MS_DEFAULT);
	before = fx_now_ms();
	r = fx_hold_seats(c, FX_SHOW_SHORT, 1, 0, (uint32_t[]){ 1 }, 1);
	check_deadline(&r, before, fx_now_ms(), FX_SHORT_TTL_MS);
}

/* Confirm, release, cancel, block. */

/* Waits (polling the seat map) until a seat leaves the held state. */
static void wait_seat_not_held(uint32_t show_id, uint32_t seat)
{
	int64_t deadline = fx_now_ms() + 10000;
	while (seat_state(show_id, seat) == SEAT_HELD) {
		cr_assert_lt(fx_now_ms(), deadline, "seat %u of show %u stayed held", seat,
			     show_id);
		fx_sleep_ms(20);
	}
}

Test(bookings, confirm_books_the_held_seats_and_is_idempotent)
{
	struct engine_result h = fx_hold_best(c, FX_SHOW_HALL_1, 9, TIER_VIP, 2, true);
	STATUS_IS(h.status, STATUS_OK);
	struct engine_result r = fx_confirm(c, h.hold_id, 9, "pay-9");
	STATUS_IS(r.status, STATUS_OK);
	cr_assert(r.hold_id == h.hold_id && r.seats_count == 2 && r.seats[0] == h.seats[0] &&
		  r.seats[1] == h.seats[1] && !r.booking_cancelled);
	cr_assert_eq(seat_state(FX_SHOW_HALL_1, h.seats[0]), SEAT_BOOKED);
	struct engine_show s = fx_show(c, FX_SHOW_HALL_1);
	cr_assert(s.tiers[TIER_VIP].booked == 2 && s.tiers[TIER_VIP].held == 0);
	r = fx_confirm(c, h.hold_id, 9, "pay-9");
	STATUS_IS(r.status, STATUS_OK);
	cr_assert(r.hold_id == h.hold_id && r.seats_count == 2 && r.seats[1] == h.seats[1]);
	STATUS_IS(fx_confirm(c, h.hold_id, 9, "pay-other").status, STATUS_ALREADY_CONFIRMED);
	STATUS_IS(fx_confirm(c, h.hold_id, 10, "pay-9").status, STATUS_NOT_OWNER);
	cr_assert_eq(fx_show(c, FX_SHOW_HALL_1).tiers[TIER_VIP].booked, 2);
}

Test(bookings, confirm_by_another_user_is_not_owner_and_of_unknown_hold_not_found)
{
	struct engine_result h = fx_hold_seats(c, FX_SHOW_CLUB_0, 1, 0, (uint32_t[]){ 0 }, 1);
	STATUS_IS(fx_confirm(c, h.hold_id, 2, "pay").status, STATUS_NOT_OWNER);
	cr_assert_eq(seat_state(FX_SHOW_CLUB_0, 0), SEAT_HELD);
	STATUS_IS(fx_confirm(c, h.hold_id + 5, 1, "pay").status, STATUS_NOT_FOUND);
	STATUS_IS(fx_confirm(c, (uint64_t)999 << 32 | 1, 1, "pay").status, STATUS_NOT_FOUND);
	STATUS_IS(fx_release(c, h.hold_id + 5, 1).status, STATUS_NOT_FOUND);
}

Test(bookings, confirm_or_release_after_expiry_is_hold_expired)
{
	struct engine_result h = fx_hold_seats(c, FX_SHOW_HALL_0, 1, 300, (uint32_t[]){ 40 }, 1);
	struct engine_result g = fx_hold_seats(c, FX_SHOW_HALL_0, 1, 300, (uint32_t[]){ 41 }, 1);
	STATUS_IS(h.status, STATUS_OK);
	wait_seat_not_held(FX_SHOW_HALL_0, 41);
	cr_assert_geq(fx_now_ms(), h.deadline_ms);
	STATUS_IS(fx_confirm(c, h.hold_id, 1, "late").status, STATUS_HOLD_EXPIRED);
	STATUS_IS(fx_release(c, g.hold_id, 1).status, STATUS_HOLD_EXPIRED);
	cr_assert_eq(seat_state(FX_SHOW_HALL_0, 40), SEAT_AVAILABLE);
	/* A show's own short lifetime expires its holds the same way. */
	h = fx_hold_seats(c, FX_SHOW_SHORT, 1, 0, (uint32_t[]){ 5 }, 1);
	wait_seat_not_held(FX_SHOW_SHORT, 5);
	STATUS_IS(fx_confirm(c, h.hold_id, 1, "late").status, STATUS_HOLD_EXPIRED);
}

Test(bookings, release_returns_the_seats_once)
{
	struct engine_result h = fx_hold_seats(c, FX_SHOW_HALL_1, 3, 0, (uint32_t[]){ 60, 61 }, 2);
	STATUS_IS(fx_release(c, h.hold_id, 4).status, STATUS_NOT_OWNER);
	struct engine_result r = fx_release(c, h.hold_id, 3);
	STATUS_IS(r.status, STATUS_OK);
	cr_assert(r.hold_id == h.hold_id && r.seats_count == 2 && r.seats[0] == 60);
	cr_assert_eq(seat_state(FX_SHOW_HALL_1, 61), SEAT_AVAILABLE);
	STATUS_IS(fx_release(c, h.hold_id, 3).status, STATUS_NOT_FOUND);
	STATUS_IS(fx_confirm(c, h.hold_id, 3, "pay").status, STATUS_NOT_FOUND);
	h = fx_hold_seats(c, FX_SHOW_HALL_1, 3, 0, (uint32_t[]){ 62 }, 1);
	STATUS_IS(fx_confirm(c, h.hold_id, 3, "pay").status, STATUS_OK);
	STATUS_IS(fx_release(c, h.hold_id, 3).status, STATUS_ALREADY_CONFIRMED);
	cr_assert_eq(seat_state(FX_SHOW_HALL_1, 62), SEAT_BOOKED);
}

Test(bookings, cancel_returns_the_booked_seats_and_is_idempotent)
{
	struct engine_result h = fx_hold_seats(c, FX_SHOW_CLUB_1, 3, 0, (uint32_t[]){ 4, 5 }, 2);
	STATUS_IS(fx_confirm(c, h.hold_id, 3, "pay-3").status, STATUS_OK);
	struct engine_result r;
	fx_rc(box_client_cancel(c, h.hold_id, &r), "CANCEL");
	STATUS_IS(r.status, STATUS_OK);
	cr_assert(r.booking_cancelled && r.hold_id == h.hold_id && r.seats_count == 2);
	cr_assert_eq(seat_state(FX_SHOW_CLUB_1, 5), SEAT_AVAILABLE);
	fx_rc(box_client_cancel(c, h.hold_id, &r), "CANCEL");
	cr_assert(r.status == STATUS_OK && r.booking_cancelled);
	r = fx_confirm(c, h.hold_id, 3, "pay-3");
	cr_assert(r.status == STATUS_OK && r.booking_cancelled);
	cr_assert_eq(fx_show(c, FX_SHOW_CLUB_1).tiers[TIER_REGULAR].booked, 0);
	fx_rc(box_client_cancel(c, h.hold_id + 1, &r), "CANCEL");
	STATUS_IS(r.status, STATUS_NOT_FOUND);
	h = fx_hold_seats(c, FX_SHOW_CLUB_1, 3, 0, (uint32_t[]){ 6 }, 1);
	fx_rc(box_client_cancel(c, h.hold_id, &r), "CANCEL"); /* a hold is not a booking */
	STATUS_IS(r.status, STATUS_NOT_FOUND);
}

Test(bookings, blocked_seats_cannot_be_held_until_unblocked)
{
	struct engine_result r;
	fx_rc(box_client_seats_block(c, FX_SHOW_HALL_0, 10, 3, true, &r), "BLOCK");
	STATUS_IS(r.status, STATUS_OK);
	cr_assert_eq(seat_state(FX_SHOW_HALL_0, 12), SEAT_BLOCKED);
	cr_assert_eq(fx_show(c, FX_SHOW_HALL_0).tiers[TIER_VIP].blocked, 3);
	struct engine_result h = fx_hold_seats(c, FX_SHOW_HALL_0, 1, 0, (uint32_t[]){ 11 }, 1);
	cr_assert(h.status == STATUS_SEAT_UNAVAILABLE && h.seats[0] == 11);
	fx_rc(box_client_seats_block(c, FX_SHOW_HALL_0, 12, 2, true, &r), "BLOCK");
	cr_assert(r.status == STATUS_SEAT_UNAVAILABLE && r.seats_count == 1 && r.seats[0] == 12);
	fx_rc(box_client_seats_block(c, FX_SHOW_HALL_0, 119, 2, true, &r), "BLOCK");
	STATUS_IS(r.status, STATUS_BAD_REQUEST);
	fx_rc(box_client_seats_block(c, FX_SHOW_HALL_0, 10, 3, false, &r), "UNBLOCK");
	STATUS_IS(r.status, STATUS_OK);
	STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_0, 1, 0, (uint32_t[]){ 11 }, 1).status, STATUS_OK);
	fx_rc(box_client_seats_block(c, 999, 0, 1, true, &r), "BLOCK");
	STATUS_IS(r.status, STATUS_NOT_FOUND);
}

/* Operators. */

Test(operators, stats_count_connections_holds_and_bookings)
{
	struct engine_result h = fx_hold_best(c, FX_SHOW_HALL_0, 1, TIER_VIP, 2, false);
	fx_hold_best(c, FX_SHOW_HALL_1, 1, TIER_VIP, 1, false);
	STATUS_IS(fx_confirm(c, h.hold_id, 1, "pay").status, STATUS_OK);
	cr_assert_eq(fx_stat(c, "holds_active"), 1);
	cr_assert_eq(fx_stat(c, "bookings"), 1);
	cr_assert_geq(fx_stat(c, "connections"), 1);
	cr_assert_eq(fx_stat(c, "shows_owned"), FX_SHOWS_COUNT);
	cr_assert_gt(fx_stat(c, "shard0.wal_durable_lsn"), 0);
	cr_assert_gt(fx_stat(c, "shard1.wal_durable_lsn"), 0);
	cr_assert_geq(fx_stat(c, "uptime_ms"), 0);
}

Test(operators, snapshot_reports_a_durable_lsn_per_shard)
{
	STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_0, 1, TIER_VIP, 2, false).status, STATUS_OK);
	const uint64_t *lsns;
	uint32_t count;
	enum status status;
	fx_rc(box_client_snapshot(c, &lsns, &count, &status), "SNAPSHOT");
	STATUS_IS(status, STATUS_OK);
	cr_assert_eq(count, 2);
	cr_assert(lsns[0] > 0 && lsns[1] > 0);
	cr_assert_eq((int64_t)lsns[0], fx_stat(c, "shard0.snapshot_lsn"));
}

/* Durability. */

static struct engine_result join(uint32_t show_id, uint64_t user, enum tier tier, uint8_t count)
{
	struct engine_result r;
	fx_rc(box_client_waitlist_join(c, show_id, user, tier, count, false, &r), "JOIN");
	return r;
}

/* Changes of every kind on shows of both shards. */
static void changes_make(void)
{
	struct engine_result h = fx_hold_best(c, FX_SHOW_HALL_0, 1, TIER_VIP, 3, true);
	STATUS_IS(fx_confirm(c, h.hold_id, 1, "pay-a").status, STATUS_OK);
	h = fx_hold_seats(c, FX_SHOW_HALL_1, 2, 0, (uint32_t[]){ 70, 71, 72 }, 3);
	STATUS_IS(fx_confirm(c, h.hold_id, 2, "pay-b").status, STATUS_OK);
	struct engine_result r;
	fx_rc(box_client_cancel(c, h.hold_id, &r), "CANCEL");
	h = fx_hold_seats(c, FX_SHOW_HALL_1, 2, 0, (uint32_t[]){ 80, 81 }, 2);
	STATUS_IS(fx_release(c, h.hold_id, 2).status, STATUS_OK);
	STATUS_IS(fx_hold_seats(c, FX_SHOW_HALL_1, 3, 0, (uint32_t[]){ 90, 91 }, 2).status,
		  STATUS_OK);
	fx_rc(box_client_seats_block(c, FX_SHOW_HALL_0, 100, 5, true, &r), "BLOCK");
	STATUS_IS(fx_hold_best(c, FX_SHOW_CLUB_1, 4, TIER_VIP, 4, false).status, STATUS_OK);
	STATUS_IS(join(FX_SHOW_CLUB_1, 5, TIER_VIP, 2).status, STATUS_OK);
	h = fx_hold_best(c, FX_SHOW_CLUB_0, 6, TIER_ECONOMY, 4, false);
	STATUS_IS(join(FX_SHOW_CLUB_0, 7, TIER_ECONOMY, 1).status, STATUS_OK);
	STATUS_IS(fx_release(c, h.hold_id, 6).status, STATUS_OK); /* an offer to user 7 */
	struct command put = fx_show_command(150);
	STATUS_IS(command(&put).status, STATUS_OK);
}

static void states_capture(struct fx_show_state *states)
{
	for (uint32_t i = 0; i < FX_SHOWS_COUNT; i++)
		fx_show_state_get(c, fx_show_ids[i], &states[i]);
	fx_show_state_get(c, 150, &states[FX_SHOWS_COUNT]);
}

/* After a restart (clean or not) every show is as it was. */
static void restart_check(bool crash)
{
	changes_make();
	struct fx_show_state before[FX_SHOWS_COUNT + 1];
	states_capture(before);
	box_client_close(c);
	if (crash)
		fx_server_kill(fx_current());
	else
		fx_server_stop(fx_current());
	fx_server_start(fx_current());
	c = fx_connect(fx_current());
	struct fx_show_state after[FX_SHOWS_COUNT + 1];
	states_capture(after);
	for (uint32_t i = 0; i <= FX_SHOWS_COUNT; i++) {
		fx_show_state_check_equal(&before[i], &after[i]);
		fx_show_state_finish(&before[i]);
		fx_show_state_finish(&after[i]);
	}
	struct engine_result r;
	fx_rc(box_client_waitlist_poll(c, FX_SHOW_CLUB_0, 7, &r), "POLL");
	cr_assert(r.status == STATUS_OK && r.waiter_state == WAITER_OFFERED);
	cr_assert_eq(fx_confirm(c, (uint64_t)FX_SHOW_HALL_0 << 32 | 1, 1, "pay-a").status,
		     STATUS_OK);
	fx_catalog_load(c); /* still identical: idempotent after recovery too */
}

Test(durability, acknowledged_changes_survive_a_sigterm_restart)
{
	restart_check(false);
}

Test(durability, acknowledged_changes_survive_kill_9)
{
	restart_check(true);
}

Test(durability, changes_after_a_snapshot_survive_kill_9)
{
	const uint64_t *lsns;
	uint32_t count;
	enum status status;
	STATUS_IS(fx_hold_best(c, FX_SHOW_HALL_1, 8, TIER_REGULAR, 2, false).status, STATUS_OK);
	fx_rc(box_client_snapshot(c, &lsns, &count, &status), "SNAPSHOT");
	STATUS_IS(status, STATUS_OK);
	restart_check(true);
}
