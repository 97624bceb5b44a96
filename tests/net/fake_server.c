/*
 * fake_server.c — the scripted fake server of the client tests (see fake_server.h).
 */
#include "fake_server.h"

#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void fake_write_all(int fd, const uint8_t *bytes, size_t size)
{
	while (size > 0) {
		ssize_t n = send(fd, bytes, size, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		bytes += n;
		size -= (size_t)n;
	}
}

static bool fake_read_all(int fd, uint8_t *bytes, size_t size)
{
	while (size > 0) {
		ssize_t n = recv(fd, bytes, size, 0);
		if (n <= 0)
			return false;
		bytes += n;
		size -= (size_t)n;
	}
	return true;
}

void fake_reply_begin(struct fake_server *s, const struct proto_request *request,
		      enum status status)
{
	bytes_writer_init(&s->w, s->out, FAKE_FRAME_BUFFER_SIZE);
	s->frame_start = 0;
	proto_response_begin(&s->w, request->opcode, status, request->request_id);
}

void fake_reply_send(struct fake_server *s)
{
	size_t size = proto_frame_end(&s->w, s->frame_start);
	cr_assert(size > 0);
	fake_write_all(s->fd, s->out, size);
}

void fake_reply_defer(struct fake_server *s)
{
	size_t size = proto_frame_end(&s->w, s->frame_start);
	cr_assert(size > 0 && s->deferred_count < FAKE_DEFERRED_MAX);
	s->deferred[s->deferred_count] = malloc(size);
	memcpy(s->deferred[s->deferred_count], s->out, size);
	s->deferred_sizes[s->deferred_count++] = size;
}

void fake_deferred_send(struct fake_server *s, uint32_t (*index_of)(uint32_t i, uint32_t n))
{
	for (uint32_t i = 0; i < s->deferred_count; i++) {
		uint32_t k = index_of(i, s->deferred_count);
		fake_write_all(s->fd, s->deferred[k], s->deferred_sizes[k]);
	}
	for (uint32_t i = 0; i < s->deferred_count; i++)
		free(s->deferred[i]);
	s->deferred_count = 0;
}

bool fake_hello_answer(struct fake_server *s, const struct proto_request *request)
{
	if (request->opcode != PROTO_HELLO)
		return false;
	struct proto_hello_info info = { .version = PROTO_VERSION,
					 .frame_size_max = PROTO_FRAME_SIZE_MAX, .workers = 4,
					 .hold_seats_max = HOLD_SEATS_COUNT_MAX,
					 .wait_timeout_ms_max = PROTO_WAIT_TIMEOUT_MS_MAX,
					 .server_version = text_from_cstr("fake 0.1"), .shard = 3 };
	fake_reply_begin(s, request, STATUS_OK);
	proto_put_hello_info(&s->w, &info);
	fake_reply_send(s);
	return true;
}

static void request_record(struct fake_server *s, const uint8_t *frame, size_t size,
			   const struct proto_request *request)
{
	pthread_mutex_lock(&s->mutex);
	s->requests_count++;
	s->last_frame_size = size < sizeof(s->last_frame) ? size : 0;
	memcpy(s->last_frame, frame, s->last_frame_size);
	if (request->opcode == PROTO_HELLO)
		snprintf(s->client_name, sizeof(s->client_name), "%.*s",
			 (int)request->hello.client.size, request->hello.client.bytes);
	pthread_mutex_unlock(&s->mutex);
}

/* Serves one connection until either side closes it. */
static void server_connection(struct fake_server *s)
{
	for (;;) {
		if (!fake_read_all(s->fd, s->in, 4))
			break;
		uint32_t size = proto_frame_size(s->in);
		if (size > PROTO_FRAME_SIZE_MAX || !fake_read_all(s->fd, s->in + 4, size))
			break;
		struct proto_request request;
		enum status status = proto_request_decode(s->in, (size_t)size + 4, &request);
		request_record(s, s->in, (size_t)size + 4, &request);
		if (!s->script(s, &request, status))
			break;
	}
	close(s->fd);
	for (uint32_t i = 0; i < s->deferred_count; i++)
		free(s->deferred[i]);
	s->deferred_count = 0;
}

/* Serves connections one after the other until fake_server_stop shuts the listener. */
static void *server_main(void *argument)
{
	struct fake_server *s = argument;
	for (;;) {
		s->fd = accept(s->listen_fd, NULL, NULL);
		if (s->fd < 0)
			return NULL;
		server_connection(s);
	}
}

struct fake_server *fake_server_start(fake_script_fn *script, int mode)
{
	struct fake_server *s = calloc(1, sizeof(*s));
	s->script = script;
	s->mode = mode;
	s->in = malloc(FAKE_FRAME_BUFFER_SIZE);
	s->out = malloc(FAKE_FRAME_BUFFER_SIZE);
	pthread_mutex_init(&s->mutex, NULL);
	s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in address = { .sin_family = AF_INET,
				       .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	cr_assert(bind(s->listen_fd, (struct sockaddr *)&address, sizeof(address)) == 0);
	cr_assert(listen(s->listen_fd, 4) == 0);
	socklen_t length = sizeof(address);
	getsockname(s->listen_fd, (struct sockaddr *)&address, &length);
	snprintf(s->port, sizeof(s->port), "%u", ntohs(address.sin_port));
	pthread_create(&s->thread, NULL, server_main, s);
	return s;
}

void fake_server_stop(struct fake_server *s)
{
	/* A connection ends when the client closes its end (or the script closes first);
	 * then shutting the listener down wakes the thread from accept(). */
	shutdown(s->listen_fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
	free(s->in);
	free(s->out);
	pthread_mutex_destroy(&s->mutex);
	free(s);
}

struct box_client *fake_connect(struct fake_server *s)
{
	char error[256] = "";
	struct box_client *client = box_client_connect("127.0.0.1", s->port, error, sizeof(error));
	cr_assert(client != NULL, "connect: %s", error);
	return client;
}

void fake_last_request(struct fake_server *s, uint8_t *frame, struct proto_request *request)
{
	pthread_mutex_lock(&s->mutex);
	size_t size = s->last_frame_size;
	memcpy(frame, s->last_frame, size);
	pthread_mutex_unlock(&s->mutex);
	cr_assert(size > 0);
	cr_assert_eq(proto_request_decode(frame, size, request), STATUS_OK);
}

/* Canned catalog data. */

const struct engine_location fake_canned_location = {
	.location_id = 7, .name = { "Lisbon", 6 }, .country = { 'P', 'T' },
	.lat_e6 = 38722252, .lon_e6 = -9139337, .events_count = 3,
};

static struct engine_event_info canned_event(uint32_t event_id)
{
	struct engine_event_info e = { .event_id = event_id, .location_id = 7,
				       .title = text_from_cstr("Fado Night"),
				       .description = text_from_cstr("Songs of longing"),
				       .type = EVENT_TYPE_CONCERT, .language = text_from_cstr("pt"),
				       .duration_min = 90, .tags_count = 2, .shows_count = 2 };
	e.tags[0] = text_from_cstr("fado");
	e.tags[1] = text_from_cstr("live");
	return e;
}

static struct engine_show canned_show(uint32_t show_id)
{
	struct engine_show s = { .show_id = show_id, .event_id = 1001, .venue_id = 101,
				 .start_ms = 1800000000000, .end_ms = 1800005400000,
				 .prices_minor = { 2500, 4000, 8000 }, .currency = { 'E', 'U', 'R' },
				 .user_seats_max = 10, .sale_opens_ms = 1700000000000,
				 .sale_closes_ms = 1800000000000, .hold_ttl_ms = 600000,
				 .owned = true };
	s.tiers[TIER_VIP] = (struct engine_tier_counts){ .seats = 6, .available = 4, .held = 1,
							 .booked = 1 };
	return s;
}

void fake_canned_layout(struct layout_builder *b, struct layout *layout)
{
	layout_builder_init(b);
	layout_builder_section(b, "Stalls");
	layout_builder_row(b, "A", 1, 6, TIER_VIP);
	const uint8_t tiers[] = { TIER_REGULAR, TIER_VIP };
	const uint16_t counts[] = { 2, 4 };
	layout_builder_row_runs(b, "B", 1, 2, tiers, counts);
	layout_builder_section(b, "Circle");
	layout_builder_row(b, "A", 101, 8, TIER_ECONOMY);
	cr_assert_eq(layout_builder_layout(b, layout), STATUS_OK);
}

void fake_put_seatmap(struct fake_server *s, const struct layout *layout, uint32_t count)
{
	uint8_t states[LAYOUT_SEATS_COUNT_MAX];
	for (uint32_t i = 0; i < count; i++)
		states[i] = (uint8_t)(i % 4);
	proto_put_seatmap(&s->w, 101, layout, states, count);
}

static void put_result_for(struct fake_server *s, const struct command *c)
{
	struct engine_result result = { .status = STATUS_OK };
	switch (c->type) {
	case COMMAND_HOLD:
		result.hold_id = ((uint64_t)c->hold.show_id << 32) | 1;
		result.deadline_ms = 1800000600000;
		result.seats_count = c->hold.seats_count;
		for (uint8_t i = 0; i < c->hold.seats_count; i++)
			result.seats[i] = c->hold.best ? 100u + i : c->hold.seats[i];
		break;
	case COMMAND_CONFIRM:
		result.hold_id = c->confirm.hold_id;
		result.seats_count = 1;
		result.seats[0] = 3;
		break;
	case COMMAND_BOOKING_CANCEL:
		result.hold_id = c->booking_cancel.booking_id;
		result.booking_cancelled = true;
		break;
	case COMMAND_WAITLIST_JOIN:
		result.waiter_state = WAITER_WAITING;
		result.tier = c->waitlist_join.tier;
		result.waiters_count = 5;
		break;
	default:
		break;
	}
	proto_put_result(&s->w, &result);
}

static void put_stats(struct fake_server *s)
{
	bytes_put_u16(&s->w, 2);
	proto_put_stat(&s->w, text_from_cstr("connections"), 3);
	proto_put_stat(&s->w, text_from_cstr("holds_active"), -1);
}

static void put_event_reply(struct fake_server *s, uint32_t event_id)
{
	struct engine_event_info e = canned_event(event_id);
	proto_put_event(&s->w, &e);
	bytes_put_u16(&s->w, 2);
	for (uint32_t i = 0; i < 2; i++) {
		struct proto_event_show show = {
			.show_id = 10001 + i, .start_ms = 1800000000000 + i * 86400000ll,
			.end_ms = 1800005400000 + i * 86400000ll, .venue_id = 101,
			.venue_name = text_from_cstr("Coliseu"),
			.venue_address = text_from_cstr("Rua das Portas 96")
		};
		proto_put_event_show(&s->w, &show);
	}
}

static void put_wait_result(struct fake_server *s, const struct proto_wait *wait)
{
	struct engine_result result = { .waiter_state = WAITER_OFFERED, .waiter_seq = 77,
					.hold_id = ((uint64_t)wait->show_id << 32) | 9,
					.deadline_ms = 1800000600000, .seats_count = 2,
					.seats = { 4, 5 }, .tier = TIER_VIP };
	proto_put_result(&s->w, &result);
}

void fake_put_answer(struct fake_server *s, const struct proto_request *r)
{
	struct engine_show show = canned_show(r->id);
	struct search_hit hit = { .show_id = 10001, .event_id = 1001, .venue_id = 101,
				  .location_id = 7, .start_ms = 1800000000000, .distance_m = 1234 };
	struct layout_builder b;
	struct layout layout;
	switch (r->opcode) {
	case PROTO_PING:
		bytes_put_raw(&s->w, r->ping.bytes, r->ping.size);
		return;
	case PROTO_LOCATIONS:
		bytes_put_u16(&s->w, 1);
		proto_put_location(&s->w, &fake_canned_location);
		return;
	case PROTO_EVENTS: {
		bytes_put_u16(&s->w, 2);
		for (uint32_t i = 0; i < 2; i++) {
			struct engine_event_info e = canned_event(1001 + i);
			proto_put_event(&s->w, &e);
		}
		return;
	}
	case PROTO_EVENT:
		put_event_reply(s, r->id);
		return;
	case PROTO_SHOW:
		proto_put_show(&s->w, &show);
		return;
	case PROTO_SEATMAP:
		fake_canned_layout(&b, &layout);
		fake_put_seatmap(s, &layout, layout.seats_count);
		layout_builder_finish(&b);
		return;
	case PROTO_VENUE: {
		fake_canned_layout(&b, &layout);
		struct engine_venue venue = { .venue_id = r->id, .location_id = 7,
					      .name = text_from_cstr("Coliseu"),
					      .address = text_from_cstr("Rua das Portas 96"),
					      .lat_e6 = 1, .lon_e6 = -1, .layout = layout };
		proto_put_venue(&s->w, &venue);
		layout_builder_finish(&b);
		return;
	}
	case PROTO_SEARCH:
		proto_put_search_header(&s->w, 1, true);
		proto_put_hit(&s->w, &hit);
		return;
	case PROTO_WAIT:
		put_wait_result(s, &r->wait);
		return;
	case PROTO_STATS:
		put_stats(s);
		return;
	case PROTO_SNAPSHOT:
		proto_put_snapshot_lsns(&s->w, (const uint64_t[]){ 41, 42 }, 2);
		return;
	}
	put_result_for(s, &r->command);
}

void fake_reply_correct(struct fake_server *s, const struct proto_request *request,
			enum status decoded)
{
	fake_reply_begin(s, request, decoded);
	if (decoded == STATUS_OK)
		fake_put_answer(s, request);
}

bool fake_script_correct(struct fake_server *s, const struct proto_request *request,
			 enum status decoded)
{
	if (fake_hello_answer(s, request))
		return true;
	fake_reply_correct(s, request, decoded);
	fake_reply_send(s);
	return true;
}
