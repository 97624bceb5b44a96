/*
 * test_client_codec.c — the client library against a scripted fake server
 * (fake_server.h): the handshake, the blocking calls, pipelining, and malformed or
 * cut-off responses.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_server.h"

Test(handshake, connects_and_reads_server_limits)
{
	struct fake_server *s = fake_server_start(fake_script_correct, 0);
	struct box_client *client = fake_connect(s);
	const struct box_server_info *info = box_client_server(client);
	cr_assert_eq(info->version, PROTO_VERSION);
	cr_assert_eq(info->frame_size_max, PROTO_FRAME_SIZE_MAX);
	cr_assert_eq(info->workers, 4);
	cr_assert_eq(info->hold_seats_max, HOLD_SEATS_COUNT_MAX);
	cr_assert_eq(info->wait_timeout_ms_max, PROTO_WAIT_TIMEOUT_MS_MAX);
	cr_assert_str_eq(info->server_version, "fake 0.1");
	cr_assert_eq(info->shard, 3);
	cr_assert_str_eq(s->client_name, "boxoffice-client");
	cr_assert(box_client_fd(client) >= 0);
	cr_assert_eq(box_client_error(client), 0);
	box_client_close(client);
	fake_server_stop(s);
}

/* A name longer than the protocol allows is cut before a character, not inside one. */
Test(handshake, a_long_client_name_is_cut_between_characters)
{
	struct fake_server *s = fake_server_start(fake_script_correct, 0);
	char name[128] = "a";
	for (int i = 0; i < 40; i++)
		strcat(name, "\xc3\xa9"); /* é, 2 bytes */
	struct box_client_options options;
	box_client_options_default(&options);
	options.name = name;
	char error[256] = "";
	struct box_client *client =
		box_client_connect_options("127.0.0.1", s->port, &options, error, sizeof(error));
	cr_assert_not_null(client, "%s", error);
	cr_assert_eq(strlen(s->client_name), 63);
	cr_assert_eq(strncmp(s->client_name, name, 63), 0);
	box_client_close(client);
	fake_server_stop(s);
}

static bool script_refuse_hello(struct fake_server *s, const struct proto_request *request,
				enum status decoded)
{
	(void)decoded;
	fake_reply_begin(s, request, s->mode == 0 ? STATUS_BAD_REQUEST : STATUS_OK);
	/* Mode 1: a version this client did not ask for; mode 3: a server with no shard. */
	struct proto_hello_info info = { .version = s->mode == 1 ? 3 : 1,
					 .frame_size_max = PROTO_FRAME_SIZE_MAX,
					 .workers = s->mode == 1 ? 1 : 0, .hold_seats_max = 10,
					 .wait_timeout_ms_max = 1000,
					 .server_version = text_from_cstr("odd") };
	if (s->mode == 1 || s->mode == 3)
		proto_put_hello_info(&s->w, &info);
	if (s->mode == 2)
		bytes_put_u16(&s->w, PROTO_VERSION); /* and nothing else */
	fake_reply_send(s);
	return false;
}

Test(handshake, refusal_is_reported)
{
	const char *expected[] = { "refused the handshake: bad request", "protocol version 3",
				   "malformed HELLO", "malformed HELLO" };
	for (int mode = 0; mode < 4; mode++) {
		struct fake_server *s = fake_server_start(script_refuse_hello, mode);
		char error[256] = "";
		struct box_client *client = box_client_connect("127.0.0.1", s->port, error,
							       sizeof(error));
		cr_assert_null(client);
		cr_assert(strstr(error, expected[mode]) != NULL, "mode %d: %s", mode, error);
		fake_server_stop(s);
	}
}

/* A server that speaks version 1 only: its HELLO answer has no shard. */
static bool script_version_1(struct fake_server *s, const struct proto_request *request,
			     enum status decoded)
{
	if (request->opcode != PROTO_HELLO)
		return fake_script_correct(s, request, decoded);
	cr_assert_eq(request->hello.version_min, 1);
	cr_assert_geq(request->hello.version_max, 2);
	struct proto_hello_info info = { .version = 1, .frame_size_max = PROTO_FRAME_SIZE_MAX,
					 .workers = 2, .hold_seats_max = 10,
					 .wait_timeout_ms_max = 1000,
					 .server_version = text_from_cstr("old"), .shard = 1 };
	fake_reply_begin(s, request, STATUS_OK);
	proto_put_hello_info(&s->w, &info);
	fake_reply_send(s);
	return true;
}

Test(handshake, a_server_of_version_1_is_spoken_to_without_a_shard)
{
	struct fake_server *s = fake_server_start(script_version_1, 0);
	struct box_client *client = fake_connect(s);
	const struct box_server_info *info = box_client_server(client);
	cr_assert_eq(info->version, 1);
	cr_assert_eq(info->workers, 2);
	cr_assert_eq(info->shard, UINT16_MAX);
	cr_assert_eq(box_client_ping(client, "x", 1), 0);
	box_client_close(client);
	fake_server_stop(s);
	cr_assert_eq(box_show_shard(104, 2), 1);
	cr_assert_eq(box_show_shard(104, 0), 0);
}

static bool script_close(struct fake_server *s, const struct proto_request *request,
			 enum status decoded)
{
	(void)request;
	(void)decoded;
	(void)s;
	return false;
}

Test(handshake, closed_connection_is_reported)
{
	struct fake_server *s = fake_server_start(script_close, 0);
	char error[256] = "";
	cr_assert_null(box_client_connect("127.0.0.1", s->port, error, sizeof(error)));
	cr_assert(strstr(error, "closed the connection") != NULL, "%s", error);
	fake_server_stop(s);
}

Test(handshake, refused_connection_is_reported)
{
	/* A port that was just free: nobody listens on it any more. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in address = { .sin_family = AF_INET,
				       .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bind(fd, (struct sockaddr *)&address, sizeof(address));
	socklen_t length = sizeof(address);
	getsockname(fd, (struct sockaddr *)&address, &length);
	close(fd);
	char port[16], error[256] = "";
	snprintf(port, sizeof(port), "%u", ntohs(address.sin_port));
	cr_assert_null(box_client_connect("127.0.0.1", port, error, sizeof(error)));
	cr_assert(strstr(error, "cannot connect to 127.0.0.1:") != NULL, "%s", error);
	cr_assert(strstr(error, "refused") != NULL, "%s", error);
	cr_assert_null(box_client_connect("no-such-host.invalid", "1", error, sizeof(error)));
	cr_assert(strstr(error, "cannot resolve") != NULL, "%s", error);
}

Test(calls, catalog_queries_decode)
{
	struct fake_server *s = fake_server_start(fake_script_correct, 0);
	struct box_client *client = fake_connect(s);
	enum status status;
	cr_assert_eq(box_client_ping(client, "hello", 5), 0);

	const struct engine_location *locations;
	uint32_t count;
	cr_assert_eq(box_client_locations(client, 0, 10, &locations, &count, &status), 0);
	cr_assert_eq(status, STATUS_OK);
	cr_assert_eq(count, 1);
	cr_assert_eq(locations[0].location_id, 7);
	cr_assert(text_equal(locations[0].name, text_from_cstr("Lisbon")));
	cr_assert_eq(memcmp(locations[0].country, "PT", 2), 0);
	cr_assert_eq(locations[0].lon_e6, -9139337);
	cr_assert_eq(locations[0].events_count, 3);

	const struct engine_event_info *events;
	cr_assert_eq(box_client_events(client, 7, 0, 100, &events, &count, &status), 0);
	cr_assert_eq(count, 2);
	cr_assert_eq(events[1].event_id, 1002);
	cr_assert(text_equal(events[1].tags[1], text_from_cstr("live")));
	uint8_t frame[4096];
	struct proto_request request;
	fake_last_request(s, frame, &request);
	cr_assert_eq(request.opcode, PROTO_EVENTS);
	cr_assert_eq(request.list.parent_id, 7);
	cr_assert_eq(request.list.limit, 100);

	struct engine_event_info event;
	const struct box_event_show *shows;
	cr_assert_eq(box_client_event(client, 1001, &event, &shows, &count, &status), 0);
	cr_assert_eq(event.event_id, 1001);
	cr_assert(text_equal(event.title, text_from_cstr("Fado Night")));
	cr_assert_eq(event.duration_min, 90);
	cr_assert_eq(count, 2);
	cr_assert_eq(shows[1].show_id, 10002);
	cr_assert_eq(shows[1].start_ms, 1800086400000);
	cr_assert(text_equal(shows[0].venue_address, text_from_cstr("Rua das Portas 96")));

	struct engine_show show;
	cr_assert_eq(box_client_show(client, 10001, &show, &status), 0);
	cr_assert_eq(show.show_id, 10001);
	cr_assert_eq(show.prices_minor[TIER_VIP], 8000);
	cr_assert_eq(memcmp(show.currency, "EUR", 3), 0);
	cr_assert_eq(show.tiers[TIER_VIP].available, 4);
	cr_assert(show.owned);

	struct engine_venue venue;
	cr_assert_eq(box_client_venue(client, 101, &venue, &status), 0);
	cr_assert_eq(venue.venue_id, 101);
	cr_assert_eq(venue.layout.seats_count, 20);
	cr_assert_eq(venue.layout.sections_count, 2);
	box_client_close(client);
	fake_server_stop(s);
}

Test(calls, seatmap_search_and_operator_calls_decode)
{
	struct fake_server *s = fake_server_start(fake_script_correct, 0);
	struct box_client *client = fake_connect(s);
	enum status status;
	struct box_seatmap *map;
	cr_assert_eq(box_client_seatmap(client, 10001, &map, &status), 0);
	cr_assert_eq(status, STATUS_OK);
	cr_assert_eq(map->show_id, 10001);
	cr_assert_eq(map->venue_id, 101);
	cr_assert_eq(map->seats_count, 20);
	for (uint32_t i = 0; i < map->seats_count; i++)
		cr_assert_eq(map->states[i], i % 4);
	uint32_t seat;
	cr_assert(layout_seat_find(&map->layout, "Circle", 6, "A", 1, 103, &seat));
	cr_assert_eq(seat, 14);
	/* The seat map outlives later calls: it is the caller's. */
	cr_assert_eq(box_client_ping(client, "x", 1), 0);
	cr_assert(layout_seat_find(&map->layout, "Stalls", 6, "B", 1, 2, &seat));
	cr_assert_eq(seat, 7);
	box_seatmap_destroy(map);

	struct search_query query;
	search_query_init(&query);
	query.keyword = text_from_cstr("fado");
	query.limit = 10;
	query.tags_count = 1;
	query.tags[0] = text_from_cstr("live");
	const struct search_hit *hits;
	uint32_t count;
	bool more;
	cr_assert_eq(box_client_search(client, &query, &hits, &count, &more, &status), 0);
	cr_assert_eq(count, 1);
	cr_assert(more);
	cr_assert_eq(hits[0].distance_m, 1234);
	uint8_t frame[4096];
	struct proto_request request;
	fake_last_request(s, frame, &request);
	cr_assert(text_equal(request.search.keyword, text_from_cstr("fado")));
	cr_assert(text_equal(request.search.tags[0], text_from_cstr("live")));

	const struct box_stat *stats;
	cr_assert_eq(box_client_stats(client, &stats, &count, &status), 0);
	cr_assert_eq(count, 2);
	cr_assert(text_equal(stats[1].name, text_from_cstr("holds_active")));
	cr_assert_eq(stats[1].value, -1);
	const uint64_t *lsns;
	cr_assert_eq(box_client_snapshot(client, &lsns, &count, &status), 0);
	cr_assert_eq(count, 2);
	cr_assert_eq(lsns[1], 42);
	box_client_close(client);
	fake_server_stop(s);
}

Test(calls, commands_send_their_fields_and_decode_results)
{
	struct fake_server *s = fake_server_start(fake_script_correct, 0);
	struct box_client *client = fake_connect(s);
	struct engine_result result;
	uint8_t frame[4096];
	struct proto_request request;
	const uint32_t seats[] = { 3, 4 };
	cr_assert_eq(box_client_hold_seats(client, 10009, 42, 0, seats, 2, &result), 0);
	cr_assert_eq(result.status, STATUS_OK);
	cr_assert_eq(result.hold_id, 0x0000271900000001ull);
	cr_assert_eq(result.deadline_ms, 1800000600000);
	cr_assert_eq(result.seats_count, 2);
	cr_assert_eq(result.seats[1], 4);
	fake_last_request(s, frame, &request);
	cr_assert_eq(request.opcode, PROTO_HOLD);
	cr_assert_eq(request.command.hold.user_id, 42);
	cr_assert_eq(request.command.hold.seats[0], 3);

	cr_assert_eq(box_client_hold_best(client, 10009, 42, 5000, TIER_VIP, 3, true, &result), 0);
	cr_assert_eq(result.seats_count, 3);
	cr_assert_eq(result.seats[2], 102);
	fake_last_request(s, frame, &request);
	cr_assert(request.command.hold.best && request.command.hold.together);
	cr_assert_eq(request.command.hold.ttl_ms, 5000);

	cr_assert_eq(box_client_confirm(client, 0x0000271900000001ull, 42,
					text_from_cstr("pay-1"), &result), 0);
	cr_assert_eq(result.hold_id, 0x0000271900000001ull);
	fake_last_request(s, frame, &request);
	cr_assert(text_equal(request.command.confirm.payment_ref, text_from_cstr("pay-1")));
	cr_assert_eq(box_client_release(client, 0x0000271900000001ull, 42, &result), 0);
	cr_assert_eq(box_client_cancel(client, 0x0000271900000001ull, &result), 0);
	cr_assert(result.booking_cancelled);
	cr_assert_eq(box_client_seats_block(client, 10009, 10, 5, true, &result), 0);
	fake_last_request(s, frame, &request);
	cr_assert_eq(request.command.seats_block.seats_count, 5);
	cr_assert_eq(box_client_waitlist_join(client, 10009, 42, TIER_VIP, 2, true, &result), 0);
	cr_assert_eq(result.waiter_state, WAITER_WAITING);
	cr_assert_eq(result.waiters_count, 5);
	cr_assert_eq(box_client_waitlist_poll(client, 10009, 42, &result), 0);
	cr_assert_eq(box_client_waitlist_leave(client, 10009, 42, &result), 0);
	fake_last_request(s, frame, &request);
	cr_assert_eq(request.opcode, PROTO_WAITLIST_LEAVE);

	cr_assert_eq(box_client_wait(client, 10009, 42, 1000, &result), 0);
	cr_assert_eq(result.waiter_state, WAITER_OFFERED);
	cr_assert_eq(result.waiter_seq, 77);
	cr_assert_eq(result.hold_id, 0x0000271900000009ull);
	cr_assert_eq(result.seats[1], 5);
	fake_last_request(s, frame, &request);
	cr_assert_eq(request.wait.timeout_ms, 1000);
	box_client_close(client);
	fake_server_stop(s);
}

Test(calls, invalid_command_is_refused_without_sending)
{
	struct fake_server *s = fake_server_start(fake_script_correct, 0);
	struct box_client *client = fake_connect(s);
	struct engine_result result;
	uint32_t before = s->requests_count;
	cr_assert_eq(box_client_confirm(client, 0x0000271900000001ull, 42, text_from_cstr(""),
					&result), 0);
	cr_assert_eq(result.status, STATUS_BAD_REQUEST);
	const uint32_t seats[11] = { 0 };
	cr_assert_eq(box_client_hold_seats(client, 1, 1, 0, seats, 11, &result), 0);
	cr_assert_eq(result.status, STATUS_TOO_LARGE);
	cr_assert_eq(box_client_hold_best(client, 1, 0, 0, TIER_VIP, 1, false, &result), 0);
	cr_assert_eq(result.status, STATUS_BAD_REQUEST);
	struct command hold = { .type = COMMAND_HOLD };
	uint64_t id;
	cr_assert_eq(box_client_send_command(client, &hold, &id), -EINVAL);
	/* The engine's own commands have no opcode: a valid one is not sent either. */
	struct command configure = { .type = COMMAND_CONFIGURE };
	configure.configure = (struct command_configure){ .hold_ttl_ms_default = 60000,
							  .waitlist_idle_ms = 60000 };
	cr_assert_eq(command_validate(&configure), STATUS_OK);
	cr_assert_eq(box_client_send_command(client, &configure, &id), -EINVAL);
	cr_assert_eq(box_client_command(client, &configure, &result), 0);
	cr_assert_eq(result.status, STATUS_BAD_REQUEST);
	struct command tick = { .type = COMMAND_TICK };
	cr_assert_eq(box_client_send_command(client, &tick, &id), -EINVAL);
	cr_assert_eq(box_client_command(client, &tick, &result), 0);
	cr_assert_eq(result.status, STATUS_BAD_REQUEST);
	cr_assert_eq(box_client_ping(client, "p", 1), 0);
	pthread_mutex_lock(&s->mutex);
	cr_assert_eq(s->requests_count, before + 1);
	pthread_mutex_unlock(&s->mutex);
	box_client_close(client);
	fake_server_stop(s);
}

/* Refusals carry their status and, for commands, the result the server gave. */
static bool script_refuse(struct fake_server *s, const struct proto_request *request,
			  enum status decoded)
{
	(void)decoded;
	if (fake_hello_answer(s, request))
		return true;
	if (request->opcode == PROTO_HOLD) {
		fake_reply_begin(s, request, STATUS_SEAT_UNAVAILABLE);
		struct engine_result result = { .seats_count = 1, .seats = { 4 } };
		proto_put_result(&s->w, &result);
	} else {
		fake_reply_begin(s, request, request->opcode == PROTO_CONFIRM ? STATUS_HOLD_EXPIRED
									  : STATUS_NOT_FOUND);
	}
	fake_reply_send(s);
	return true;
}

Test(calls, refusals_carry_their_status)
{
	struct fake_server *s = fake_server_start(script_refuse, 0);
	struct box_client *client = fake_connect(s);
	struct engine_result result;
	const uint32_t seats[] = { 3, 4 };
	cr_assert_eq(box_client_hold_seats(client, 10009, 42, 0, seats, 2, &result), 0);
	cr_assert_eq(result.status, STATUS_SEAT_UNAVAILABLE);
	cr_assert_eq(result.seats_count, 1);
	cr_assert_eq(result.seats[0], 4);
	cr_assert_eq(result.hold_id, 0);
	cr_assert_eq(box_client_confirm(client, 0x0000271900000001ull, 42, text_from_cstr("p"),
					&result), 0);
	cr_assert_eq(result.status, STATUS_HOLD_EXPIRED);
	enum status status;
	struct engine_show show;
	cr_assert_eq(box_client_show(client, 1, &show, &status), 0);
	cr_assert_eq(status, STATUS_NOT_FOUND);
	struct box_seatmap *map = (void *)1;
	cr_assert_eq(box_client_seatmap(client, 1, &map, &status), 0);
	cr_assert_eq(status, STATUS_NOT_FOUND);
	cr_assert_null(map);
	box_client_close(client);
	fake_server_stop(s);
}

/* Holds every response back until `mode` requests came, then answers them last first. */
static uint32_t reversed(uint32_t i, uint32_t n)
{
	return n - 1 - i;
}

/* A fixed shuffle: 389 is prime and does not divide the counts used. */
static uint32_t shuffled(uint32_t i, uint32_t n)
{
	return (uint32_t)(((uint64_t)i * 389u) % n);
}

static bool script_deferred(struct fake_server *s, const struct proto_request *request,
			    enum status decoded)
{
	if (fake_hello_answer(s, request))
		return true;
	fake_reply_correct(s, request, decoded);
	fake_reply_defer(s);
	if (s->deferred_count == (uint32_t)(s->mode > 0 ? s->mode : -s->mode))
		fake_deferred_send(s, s->mode > 0 ? reversed : shuffled);
	return true;
}

Test(pipelining, out_of_order_responses_are_matched_by_id)
{
	struct fake_server *s = fake_server_start(script_deferred, 3);
	struct box_client *client = fake_connect(s);
	uint64_t show_id, ping_id, hold_id;
	cr_assert_eq(box_client_send_id(client, PROTO_SHOW, 10001, &show_id), 0);
	cr_assert_eq(box_client_send_ping(client, "abc", 3, &ping_id), 0);
	struct command c = { .type = COMMAND_HOLD };
	c.hold = (struct command_hold){ .show_id = 10001, .user_id = 5, .best = true,
					.seats_count = 2, .tier = TIER_REGULAR };
	cr_assert_eq(box_client_send_command(client, &c, &hold_id), 0);
	cr_assert(show_id != ping_id && ping_id != hold_id);
	cr_assert_eq(box_client_inflight(client), 3);
	cr_assert(box_client_wants_write(client));
	cr_assert_eq(box_client_flush(client, 5000), 0);
	cr_assert_not(box_client_wants_write(client));

	struct box_response r;
	struct engine_result result;
	cr_assert_eq(box_client_next(client, &r, 5000), 0);
	cr_assert_eq(r.request_id, hold_id);
	cr_assert_eq(r.opcode, PROTO_HOLD);
	cr_assert_eq(box_response_result(&r, &result), 0);
	cr_assert_eq(result.seats_count, 2);
	cr_assert_eq(r.status, STATUS_OK);
	cr_assert_eq(box_client_next(client, &r, 5000), 0);
	cr_assert_eq(r.request_id, ping_id);
	cr_assert_eq(r.payload_size, 3);
	cr_assert_eq(memcmp(r.payload, "abc", 3), 0);
	cr_assert_eq(box_client_next(client, &r, 5000), 0);
	cr_assert_eq(r.request_id, show_id);
	struct engine_show show;
	cr_assert_eq(box_response_show(&r, &show), 0);
	cr_assert_eq(show.show_id, 10001);
	cr_assert_eq(box_client_inflight(client), 0);
	cr_assert_eq(box_client_next(client, &r, 0), -ETIMEDOUT);
	cr_assert_eq(box_client_error(client), 0);
	box_client_close(client);
	fake_server_stop(s);
}

#define POLLED_COUNT 1000u

Test(pipelining, non_blocking_poll_collects_every_response)
{
	struct fake_server *s = fake_server_start(script_deferred, -(int)POLLED_COUNT);
	struct box_client *client = fake_connect(s);
	static uint8_t seen[POLLED_COUNT + 64];
	uint64_t first = 0;
	for (uint32_t i = 0; i < POLLED_COUNT; i++) {
		uint64_t id;
		struct command c = { .type = COMMAND_HOLD };
		c.hold = (struct command_hold){ .show_id = 10001, .user_id = 1 + i,
						.seats_count = 1, .seats = { i } };
		cr_assert_eq(box_client_send_command(client, &c, &id), 0);
		first = first ? first : id;
	}
	uint32_t received = 0;
	while (received < POLLED_COUNT) {
		struct pollfd p = { .fd = box_client_fd(client), .events = POLLIN };
		if (box_client_wants_write(client))
			p.events |= POLLOUT;
		cr_assert(poll(&p, 1, 10000) == 1);
		struct box_response responses[16];
		int n;
		while ((n = box_client_poll_responses(client, responses, 16)) > 0) {
			for (int k = 0; k < n; k++) {
				struct engine_result result;
				cr_assert_eq(box_response_result(&responses[k], &result), 0);
				uint64_t index = responses[k].request_id - first;
				cr_assert(index < POLLED_COUNT && !seen[index]);
				cr_assert_eq(result.seats[0], index);
				seen[index] = 1;
				received++;
			}
		}
		cr_assert_geq(n, 0);
	}
	cr_assert_eq(box_client_inflight(client), 0);
	box_client_close(client);
	fake_server_stop(s);
}

/*
 * Answers the first SPLIT_PINGS pings in two writes: every answer but the last with
 * the first two bytes of the last (65,530 bytes, so that they end just short of the
 * client's 64 KiB input buffer), then, when the next ping comes, the last one's other
 * 98 bytes and that ping's answer.
 */
#define SPLIT_PINGS 66u
static bool script_split(struct fake_server *s, const struct proto_request *request,
			 enum status decoded)
{
	static uint8_t bytes[SPLIT_PINGS * 1100];
	static size_t size;
	if (fake_hello_answer(s, request))
		return true;
	fake_reply_correct(s, request, decoded);
	if (s->deferred_count == SPLIT_PINGS) { /* the next ping: the rest */
		fake_write_all(s->fd, bytes + 65530, size - 65530);
		fake_reply_send(s);
		return true;
	}
	fake_reply_defer(s);
	if (s->deferred_count < SPLIT_PINGS)
		return true;
	size = 0;
	for (uint32_t i = 0; i < s->deferred_count; i++) {
		memcpy(bytes + size, s->deferred[i], s->deferred_sizes[i]);
		size += s->deferred_sizes[i];
	}
	cr_assert_eq(size, 65628);
	fake_write_all(s->fd, bytes, 65530);
	return true;
}

/*
 * With edge-triggered epoll a caller reads until box_client_poll_responses returns 0,
 * trusting that the socket is then empty. A frame whose first bytes end a read must
 * not make it return 0 with the rest of the frame still in the socket.
 */
Test(pipelining, poll_responses_returns_0_only_once_the_socket_is_empty)
{
	struct fake_server *s = fake_server_start(script_split, 0);
	struct box_client *client = fake_connect(s);
	static uint8_t payload[1000];
	uint64_t id;
	for (uint32_t i = 0; i < SPLIT_PINGS; i++) {
		/* 64 answers of 1,016 bytes, one of 504 and one of 100. */
		uint32_t size = i < 64 ? 1000 : i == 64 ? 488 : 84;
		cr_assert_eq(box_client_send_ping(client, payload, size, &id), 0);
	}
	cr_assert_eq(box_client_flush(client, 5000), 0);
	/* The first write: every answer but the last, which has begun. */
	uint32_t received = 0;
	struct box_response responses[128];
	int n;
	while (received < SPLIT_PINGS - 1) {
		struct pollfd p = { .fd = box_client_fd(client), .events = POLLIN };
		cr_assert_eq(poll(&p, 1, 10000), 1);
		while ((n = box_client_poll_responses(client, responses, 128)) > 0)
			received += (uint32_t)n;
		cr_assert_eq(n, 0);
	}
	cr_assert_eq(received, SPLIT_PINGS - 1);
	/* The server sends the rest when this ping comes, then nothing more: one readable
	 * event, then calls until 0, must hand out both answers and leave nothing. */
	cr_assert_eq(box_client_send_ping(client, "go", 2, &id), 0);
	cr_assert_eq(box_client_flush(client, 5000), 0);
	struct pollfd p = { .fd = box_client_fd(client), .events = POLLIN };
	cr_assert_eq(poll(&p, 1, 10000), 1);
	usleep(100 * 1000); /* all of it arrived */
	while ((n = box_client_poll_responses(client, responses, 128)) > 0)
		received += (uint32_t)n;
	cr_assert_eq(n, 0);
	int unread = -1;
	cr_assert_eq(ioctl(box_client_fd(client), FIONREAD, &unread), 0);
	cr_assert_eq(unread, 0, "0 returned with %d bytes in the socket", unread);
	cr_assert_eq(received, SPLIT_PINGS + 1);
	box_client_close(client);
	fake_server_stop(s);
}

/* Never answers anything after HELLO. */
static bool script_silent(struct fake_server *s, const struct proto_request *request,
			  enum status decoded)
{
	(void)decoded;
	fake_hello_answer(s, request);
	return true;
}

Test(pipelining, buffers_and_inflight_are_bounded)
{
	struct fake_server *s = fake_server_start(script_silent, 0);
	struct box_client_options options;
	box_client_options_default(&options);
	options.inflight_max = 8;
	options.send_buffer_size = 4096;
	options.timeout_ms = 50;
	char error[256];
	struct box_client *client = box_client_connect_options("127.0.0.1", s->port, &options,
							       error, sizeof(error));
	cr_assert_not_null(client, "%s", error);
	uint64_t id;
	for (int i = 0; i < 8; i++)
		cr_assert_eq(box_client_send_ping(client, "p", 1, &id), 0);
	cr_assert_eq(box_client_send_ping(client, "p", 1, &id), -EAGAIN);
	cr_assert_eq(box_client_inflight(client), 8);
	struct box_response r;
	cr_assert_eq(box_client_next(client, &r, 20), -ETIMEDOUT);
	cr_assert_eq(box_client_error(client), 0);
	box_client_close(client);

	/* A send buffer of 4 KiB takes a few 1 KiB pings, then says "later", and a
	 * frame larger than the whole buffer can never be sent. */
	client = box_client_connect_options("127.0.0.1", s->port, &options, error, sizeof(error));
	static const uint8_t big[1024];
	int queued = 0, rc;
	while ((rc = box_client_send_ping(client, big, sizeof(big), &id)) == 0)
		queued++;
	cr_assert_eq(rc, -EAGAIN);
	cr_assert_eq(queued, 3);
	box_client_close(client);
	client = box_client_connect_options("127.0.0.1", s->port, &options, error, sizeof(error));
	static const uint8_t huge[5000];
	cr_assert_eq(box_client_send_ping(client, huge, sizeof(huge), &id), -EMSGSIZE);
	cr_assert_eq(box_client_inflight(client), 0);
	/* The blocking call waits at most timeout_ms, then the client is out of step:
	 * every later call says so, also one whose arguments are wrong. */
	cr_assert_eq(box_client_ping(client, "p", 1), -ETIMEDOUT);
	cr_assert_eq(box_client_ping(client, "p", 1), -ETIMEDOUT);
	struct search_query query = { .limit = 10, .keyword = text_from((const char *)huge, 4000) };
	const struct search_hit *hits;
	uint32_t hits_count;
	bool more;
	enum status status;
	cr_assert_eq(box_client_search(client, &query, &hits, &hits_count, &more, &status),
		     -ETIMEDOUT);
	cr_assert_eq(box_client_send_search(client, &query, &id), -ETIMEDOUT);
	struct command hold = { .type = COMMAND_HOLD };
	cr_assert_eq(box_client_send_command(client, &hold, &id), -ETIMEDOUT);
	box_client_close(client);
	fake_server_stop(s);
}

/* Malformed responses: each mode breaks one thing about the answer to the request. */
enum broken {
	BROKEN_SIZE_HUGE,
	BROKEN_SIZE_SMALL,
	BROKEN_ID,
	BROKEN_OPCODE,
	BROKEN_NO_RESPONSE_BIT,
	BROKEN_TRUNCATED_PAYLOAD,
	BROKEN_TRAILING_BYTE,
	BROKEN_STATUS,
	BROKEN_COUNT_ABOVE_LIMIT,
	BROKEN_STATES_COUNT,
	BROKEN_RESULT_SEATS,
	BROKEN_LAYOUT,
	BROKEN_PING_ECHO,
	BROKEN_COUNT,
};

static void broken_payload(struct fake_server *s, const struct proto_request *request)
{
	struct layout_builder b;
	struct layout layout;
	switch (s->mode) {
	case BROKEN_COUNT_ABOVE_LIMIT:
		bytes_put_u16(&s->w, 2);
		proto_put_location(&s->w, &fake_canned_location);
		proto_put_location(&s->w, &fake_canned_location);
		return;
	case BROKEN_STATES_COUNT:
		fake_canned_layout(&b, &layout);
		fake_put_seatmap(s, &layout, layout.seats_count - 1);
		layout_builder_finish(&b);
		return;
	case BROKEN_RESULT_SEATS: {
		struct engine_result result = { .seats_count = 1 };
		proto_put_result(&s->w, &result);
		s->w.bytes[PROTO_HEADER_SIZE + 16] = HOLD_SEATS_COUNT_MAX + 1;
		return;
	}
	case BROKEN_LAYOUT:
		bytes_put_u32(&s->w, 101);
		bytes_put_u32(&s->w, 3);
		bytes_put_raw(&s->w, "\x01\x00\x00", 3);
		bytes_put_u32(&s->w, 0);
		return;
	case BROKEN_PING_ECHO:
		bytes_put_raw(&s->w, "xyz", 3);
		return;
	}
	fake_put_answer(s, request);
}

static bool script_broken(struct fake_server *s, const struct proto_request *request,
			  enum status decoded)
{
	(void)decoded;
	if (fake_hello_answer(s, request))
		return true;
	fake_reply_begin(s, request, STATUS_OK);
	broken_payload(s, request);
	size_t size = proto_frame_end(&s->w, 0);
	uint8_t *f = s->out;
	switch (s->mode) {
	case BROKEN_SIZE_HUGE:
		bytes_store_u32(f, PROTO_FRAME_SIZE_MAX + 1);
		break;
	case BROKEN_SIZE_SMALL:
		bytes_store_u32(f, 11);
		break;
	case BROKEN_ID:
		bytes_store_u64(f + 8, request->request_id + 1);
		break;
	case BROKEN_OPCODE:
		bytes_store_u16(f + 4, PROTO_VENUE | PROTO_RESPONSE_BIT);
		break;
	case BROKEN_NO_RESPONSE_BIT:
		bytes_store_u16(f + 4, request->opcode);
		break;
	case BROKEN_TRUNCATED_PAYLOAD:
		size -= 5;
		bytes_store_u32(f, (uint32_t)size - 4);
		break;
	case BROKEN_TRAILING_BYTE:
		f[size++] = 0;
		bytes_store_u32(f, (uint32_t)size - 4);
		break;
	case BROKEN_STATUS:
		bytes_store_u16(f + 6, STATUS_COUNT);
		break;
	}
	fake_write_all(s->fd, f, size);
	return true;
}

/* Makes the call whose response the mode breaks; returns what the client said. */
static int broken_call(struct box_client *client, int mode)
{
	enum status status;
	struct engine_show show;
	struct engine_result result;
	if (mode == BROKEN_COUNT_ABOVE_LIMIT) {
		const struct engine_location *locations;
		uint32_t count;
		return box_client_locations(client, 0, 1, &locations, &count, &status);
	}
	if (mode == BROKEN_STATES_COUNT || mode == BROKEN_LAYOUT) {
		struct box_seatmap *map;
		int rc = box_client_seatmap(client, 10001, &map, &status);
		cr_assert_null(map);
		return rc;
	}
	if (mode == BROKEN_RESULT_SEATS)
		return box_client_hold_best(client, 10001, 1, 0, TIER_VIP, 1, false, &result);
	if (mode == BROKEN_PING_ECHO)
		return box_client_ping(client, "abc", 3);
	return box_client_show(client, 10001, &show, &status);
}

Test(malformed, every_broken_response_is_a_protocol_error)
{
	for (int mode = 0; mode < BROKEN_COUNT; mode++) {
		struct fake_server *s = fake_server_start(script_broken, mode);
		struct box_client *client = fake_connect(s);
		cr_assert_eq(broken_call(client, mode), -EPROTO, "mode %d", mode);
		cr_assert_eq(box_client_error(client), -EPROTO, "mode %d", mode);
		/* The stream cannot be trusted any more: every later call says so. */
		cr_assert_eq(box_client_ping(client, "p", 1), -EPROTO, "mode %d", mode);
		uint64_t id;
		cr_assert_eq(box_client_send_ping(client, "p", 1, &id), -EPROTO, "mode %d", mode);
		box_client_close(client);
		fake_server_stop(s);
	}
}

Test(malformed, pipelined_response_with_unknown_id_is_a_protocol_error)
{
	struct fake_server *s = fake_server_start(script_broken, BROKEN_ID);
	struct box_client *client = fake_connect(s);
	uint64_t id;
	cr_assert_eq(box_client_send_id(client, PROTO_SHOW, 10001, &id), 0);
	struct box_response r;
	cr_assert_eq(box_client_next(client, &r, 5000), -EPROTO);
	box_client_close(client);
	fake_server_stop(s);
}

/* Closes the connection after HELLO, at once or after half a response. */
static bool script_hang_up(struct fake_server *s, const struct proto_request *request,
			   enum status decoded)
{
	if (fake_hello_answer(s, request))
		return true;
	if (s->mode == 1) {
		fake_reply_begin(s, request, decoded);
		fake_put_answer(s, request);
		size_t size = proto_frame_end(&s->w, 0);
		fake_write_all(s->fd, s->out, size / 2);
	}
	return false;
}

Test(closed, server_hang_up_is_a_connection_reset)
{
	for (int mode = 0; mode < 2; mode++) {
		struct fake_server *s = fake_server_start(script_hang_up, mode);
		struct box_client *client = fake_connect(s);
		enum status status;
		struct engine_show show;
		cr_assert_eq(box_client_show(client, 10001, &show, &status), -ECONNRESET);
		cr_assert_eq(box_client_show(client, 10001, &show, &status), -ECONNRESET);
		cr_assert_str_eq(box_client_error_text(-ECONNRESET),
				 "the server closed the connection");
		box_client_close(client);
		fake_server_stop(s);
	}
}

Test(closed, pipelined_client_sees_the_hang_up)
{
	struct fake_server *s = fake_server_start(script_hang_up, 0);
	struct box_client *client = fake_connect(s);
	uint64_t id;
	cr_assert_eq(box_client_send_id(client, PROTO_SHOW, 10001, &id), 0);
	struct box_response responses[4];
	int rc = 0;
	for (int i = 0; i < 1000 && rc >= 0; i++) {
		struct pollfd p = { .fd = box_client_fd(client), .events = POLLIN };
		if (box_client_wants_write(client))
			p.events |= POLLOUT;
		cr_assert_eq(poll(&p, 1, 10000), 1);
		rc = box_client_poll_responses(client, responses, 4);
		cr_assert(rc <= 0);
	}
	cr_assert_eq(rc, -ECONNRESET);
	box_client_close(client);
	fake_server_stop(s);
}

/* Answers three requests after HELLO, then closes (the third answer goes first). */
static bool script_answer_three(struct fake_server *s, const struct proto_request *request,
				enum status decoded)
{
	if (fake_hello_answer(s, request))
		return true;
	fake_reply_begin(s, request, decoded);
	fake_put_answer(s, request);
	fake_reply_send(s);
	pthread_mutex_lock(&s->mutex);
	bool more = s->requests_count < 4; /* HELLO and two answers so far */
	pthread_mutex_unlock(&s->mutex);
	return more;
}

/*
 * A server that answered, then closed, while the client was still sending: the
 * sends fail, but the answers that came before the close are handed out before
 * the connection's error (a stopping server answers what it read, then closes).
 */
Test(closed, answers_sent_before_a_close_are_read_after_a_write_fails)
{
	struct fake_server *s = fake_server_start(script_answer_three, 0);
	struct box_client *client = fake_connect(s);
	uint64_t ids[3];
	for (int i = 0; i < 3; i++)
		cr_assert_eq(box_client_send_ping(client, "abc", 3, &ids[i]), 0);
	cr_assert_eq(box_client_flush(client, 5000), 0);
	/* The three answers and the close are on their way; the next bytes written are
	 * answered with a reset, and those after fail. */
	usleep(100 * 1000);
	int rc = 0;
	for (int i = 0; i < 20 && rc == 0; i++) {
		uint64_t id;
		rc = box_client_send_ping(client, "late", 4, &id);
		if (rc == 0)
			rc = box_client_flush(client, 5000);
		usleep(10 * 1000);
	}
	cr_assert_eq(rc, -ECONNRESET, "writing to a closed connection: %d", rc);
	struct box_response r;
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(box_client_next(client, &r, 5000), 0, "answer %d was lost", i);
		cr_assert_eq(r.request_id, ids[i]);
		cr_assert_eq(r.status, STATUS_OK);
	}
	cr_assert_eq(box_client_next(client, &r, 5000), -ECONNRESET);
	cr_assert_eq(box_client_error(client), -ECONNRESET);
	box_client_close(client);
	fake_server_stop(s);
}

/* A big answer: a stadium-sized seat map grows the input buffer past its first size. */
static bool script_big(struct fake_server *s, const struct proto_request *request,
		       enum status decoded)
{
	(void)decoded;
	if (fake_hello_answer(s, request))
		return true;
	struct layout_builder b;
	struct layout layout;
	layout_builder_init(&b);
	for (unsigned section = 0; section < 200; section++) {
		char name[LABEL_SIZE_MAX + 1];
		snprintf(name, sizeof(name), "Block %u", section % 1000);
		layout_builder_section(&b, name);
		for (unsigned row = 0; row < 10; row++) {
			snprintf(name, sizeof(name), "R%u", row % 100);
			layout_builder_row(&b, name, 1, 100, (enum tier)(row % 3));
		}
	}
	cr_assert_eq(layout_builder_layout(&b, &layout), STATUS_OK);
	fake_reply_begin(s, request, STATUS_OK);
	fake_put_seatmap(s, &layout, layout.seats_count);
	layout_builder_finish(&b);
	fake_reply_send(s);
	return true;
}

Test(calls, large_seatmap_is_received_whole)
{
	struct fake_server *s = fake_server_start(script_big, 0);
	struct box_client *client = fake_connect(s);
	enum status status;
	struct box_seatmap *map;
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(box_client_seatmap(client, 20001, &map, &status), 0);
		cr_assert_eq(map->seats_count, 200000);
		cr_assert_eq(map->states[199999], 199999 % 4);
		box_seatmap_destroy(map);
	}
	box_client_close(client);
	fake_server_stop(s);
}

/* PROTOCOL.md's worked example, byte for byte (the request id is the client's own). */
static const uint8_t example_request[] = {
	0x26, 0x00, 0x00, 0x00, 0x26, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x19, 0x27, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
};
static const uint8_t example_response[] = {
	0x34, 0x00, 0x00, 0x00, 0x26, 0x80, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x19, 0x27, 0x00, 0x00, 0xc0, 0x77, 0x65, 0x18,
	0xa3, 0x01, 0x00, 0x00, 0x02, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static bool script_example(struct fake_server *s, const struct proto_request *request,
			   enum status decoded)
{
	(void)decoded;
	if (fake_hello_answer(s, request))
		return true;
	uint8_t response[sizeof(example_response)];
	memcpy(response, example_response, sizeof(response));
	bytes_store_u64(response + 8, request->request_id);
	fake_write_all(s->fd, response, sizeof(response));
	return true;
}

Test(calls, protocol_worked_example_matches)
{
	struct fake_server *s = fake_server_start(script_example, 0);
	struct box_client *client = fake_connect(s);
	const uint32_t seats[] = { 3, 4 };
	struct engine_result result;
	cr_assert_eq(box_client_hold_seats(client, 10009, 42, 0, seats, 2, &result), 0);
	pthread_mutex_lock(&s->mutex);
	cr_assert_eq(s->last_frame_size, sizeof(example_request));
	bytes_store_u64(s->last_frame + 8, 7);
	cr_assert_eq(memcmp(s->last_frame, example_request, sizeof(example_request)), 0);
	pthread_mutex_unlock(&s->mutex);
	cr_assert_eq(result.status, STATUS_OK);
	cr_assert_eq(result.hold_id, 0x0000271900000001ull);
	cr_assert_eq(result.deadline_ms, 1800000600000);
	cr_assert_eq(result.seats_count, 2);
	cr_assert_eq(result.seats[0], 3);
	cr_assert_eq(result.seats[1], 4);
	box_client_close(client);
	fake_server_stop(s);
}
