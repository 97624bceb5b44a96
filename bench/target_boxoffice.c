/*
 * target_boxoffice.c — boxbench's target for boxoffice itself, through the client
 * library's pipelined calls (net/client.h): `connections` connections driven from
 * one epoll set, plus one control connection for the blocking set-up and audit.
 *
 * Requests are queued by submit() and written by the next poll(), so that every
 * connection gets one send() per loop however many requests were queued. A
 * request's done callback and context live in a per-connection table indexed the
 * way the client indexes its own slots (request id & (inflight_max - 1)), so a
 * response finds its request in O(1) and nothing is allocated per request.
 *
 * The show: boxbench names the on-sale show BENCH_SHOW_ID; this target maps that
 * name to the show it created in setup(), which is 77001 on a fresh server and the
 * next free id after it when an earlier run left its show behind (shows are never
 * removed, and a put of an existing id would not make its seats available again).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "browse.h"
#include "client.h"
#include "target.h"

#define CONNECTIONS_COUNT_MAX 4096u
#define INFLIGHT_MAX BOX_CLIENT_INFLIGHT_MAX_DEFAULT /* per connection: the server's limit */
#define RESPONSES_BATCH 64u
#define EVENTS_BATCH 64u
#define SHOW_IDS_TRIED_MAX 10000u /* fresh show ids tried after BENCH_SHOW_ID */
#define BENCH_LOCATION_ID 77000u  /* clear of the demo's and net_bench's ids */
#define BENCH_VENUE_ID 77000u
#define BENCH_EVENT_ID 77000u
#define DAY_MS (24LL * 3600 * 1000)

struct request_slot {
	bench_done_fn *done; /* NULL: free */
	void *context;
	uint8_t op; /* enum bench_op */
};

struct connection {
	struct box_client *client;
	struct request_slot *slots; /* INFLIGHT_MAX */
	bool dirty;		    /* requests queued since the last flush */
	bool watching_out;	    /* EPOLLOUT is on: a flush left bytes behind */
};

struct bench_target {
	struct connection *connections;
	uint32_t connections_count;
	uint32_t cursor; /* round-robin position for the next submit */
	uint32_t *dirty; /* indices of dirty connections */
	uint32_t dirty_count;
	struct box_client *control; /* blocking calls only */
	int epoll_fd;
	uint32_t in_flight;
	uint32_t show_id; /* the show BENCH_SHOW_ID stands for */
	uint8_t *states;  /* LAYOUT_SEATS_COUNT_MAX: a seat map's states, during its callback */
	uint8_t unpack[256][4]; /* a packed byte's four seat states */
	struct box_response responses[RESPONSES_BATCH];
};

static void target_close(struct bench_target *t);

/* Splits "host:port" or "[v6]:port" into buffers; returns false when malformed. */
static bool address_split(const char *address, char *host, size_t host_size, char *port,
			  size_t port_size)
{
	const char *colon = strrchr(address, ':');
	if (colon == NULL || colon[1] == '\0')
		return false;
	const char *begin = address, *end = colon;
	if (begin[0] == '[' && end > begin && end[-1] == ']') {
		begin++;
		end--;
	}
	size_t size = (size_t)(end - begin);
	if (size == 0 || size >= host_size || strlen(colon + 1) >= port_size)
		return false;
	memcpy(host, begin, size);
	host[size] = '\0';
	snprintf(port, port_size, "%s", colon + 1);
	return true;
}

static struct box_client *client_open(const char *host, const char *port, char *error,
				      size_t error_size)
{
	struct box_client_options options;
	box_client_options_default(&options);
	options.name = "boxbench";
	options.inflight_max = INFLIGHT_MAX;
	return box_client_connect_options(host, port, &options, error, error_size);
}

static int connections_open(struct bench_target *t, const char *host, const char *port,
			    char *error, size_t error_size)
{
	for (uint32_t i = 0; i < t->connections_count; i++) {
		struct connection *c = &t->connections[i];
		c->slots = calloc(INFLIGHT_MAX, sizeof(*c->slots));
		c->client = client_open(host, port, error, error_size);
		if (c->slots == NULL || c->client == NULL)
			return c->slots == NULL ? -ENOMEM : -ECONNREFUSED;
		struct epoll_event event = { .events = EPOLLIN, .data.u32 = i };
		if (epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, box_client_fd(c->client), &event) < 0) {
			snprintf(error, error_size, "epoll_ctl: %s", strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int target_open(struct bench_target **target, const char *address, uint32_t connections,
		       char *error, size_t error_size)
{
	char host[256], port[32];
	*target = NULL;
	if (!address_split(address, host, sizeof(host), port, sizeof(port))) {
		snprintf(error, error_size, "address '%s' is not HOST:PORT", address);
		return -EINVAL;
	}
	if (connections == 0 || connections > CONNECTIONS_COUNT_MAX) {
		snprintf(error, error_size, "connections must be 1..%u", CONNECTIONS_COUNT_MAX);
		return -EINVAL;
	}
	struct bench_target *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	t->connections_count = connections;
	t->connections = calloc(connections, sizeof(*t->connections));
	t->dirty = calloc(connections, sizeof(*t->dirty));
	t->states = malloc(LAYOUT_SEATS_COUNT_MAX);
	int rc = -ENOMEM;
	if (t->epoll_fd < 0 || t->connections == NULL || t->dirty == NULL || t->states == NULL) {
		snprintf(error, error_size, "out of memory or descriptors");
		goto fail;
	}
	t->control = client_open(host, port, error, error_size);
	if (t->control == NULL) {
		rc = -ECONNREFUSED;
		goto fail;
	}
	rc = connections_open(t, host, port, error, error_size);
	if (rc < 0)
		goto fail;
	for (uint32_t byte = 0; byte < 256; byte++) {
		for (uint32_t k = 0; k < 4; k++)
			t->unpack[byte][k] = (byte >> (2 * k)) & 3;
	}
	*target = t;
	return 0;
fail:
	target_close(t);
	return rc;
}

/* Set-up: the venue of WORKLOAD.md and a fresh show. */

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends one catalog put on the control connection; 0, or -EIO with a message. */
static int put(struct bench_target *t, const struct command *command, const char *what)
{
	struct engine_result result;
	int rc = box_client_command(t->control, command, &result);
	if (rc < 0) {
		fprintf(stderr, "boxbench: %s: %s\n", what, box_client_error_text(rc));
		return rc;
	}
	if (result.status != STATUS_OK) {
		fprintf(stderr, "boxbench: %s: %s\n", what, status_name(result.status));
		return -EIO;
	}
	return 0;
}

/* 25 sections of 40 rows of 50 seats: sections 0-2 VIP, 3-9 regular, the rest economy. */
static int venue_put(struct bench_target *t)
{
	struct layout_builder builder;
	layout_builder_init(&builder);
	for (uint32_t s = 0; s < BENCH_SECTIONS; s++) {
		char name[LABEL_SIZE_MAX + 1];
		snprintf(name, sizeof(name), "S%u", s + 1);
		layout_builder_section(&builder, name);
		uint32_t first_seat = s * BENCH_ROWS_PER_SECTION * BENCH_SEATS_PER_ROW;
		enum tier tier = (enum tier)bench_seat_tier(first_seat);
		for (uint32_t r = 0; r < BENCH_ROWS_PER_SECTION; r++) {
			snprintf(name, sizeof(name), "%u", r + 1);
			layout_builder_row(&builder, name, 1, BENCH_SEATS_PER_ROW, tier);
		}
	}
	struct command c = { .type = COMMAND_VENUE_PUT };
	c.venue_put = (struct command_venue_put){ .venue_id = BENCH_VENUE_ID,
						  .location_id = BENCH_LOCATION_ID,
						  .name = text_from_cstr("Bench Arena"),
						  .address = text_from_cstr("1 Spike Street") };
	int rc = -EINVAL;
	if (layout_builder_layout(&builder, &c.venue_put.layout) == STATUS_OK)
		rc = put(t, &c, "venue put");
	ASSERT(rc != -EINVAL); /* the layout above is within every limit */
	ASSERT(rc < 0 || c.venue_put.layout.seats_count == BENCH_SEATS_COUNT);
	layout_builder_finish(&builder);
	return rc;
}

/* The first show id from BENCH_SHOW_ID on that the server does not know. */
static int show_id_free(struct bench_target *t, uint32_t *show_id)
{
	for (uint32_t id = BENCH_SHOW_ID; id < BENCH_SHOW_ID + SHOW_IDS_TRIED_MAX; id++) {
		struct engine_show show;
		enum status status;
		int rc = box_client_show(t->control, id, &show, &status);
		if (rc < 0) {
			fprintf(stderr, "boxbench: show query: %s\n", box_client_error_text(rc));
			return rc;
		}
		if (status == STATUS_NOT_FOUND) {
			*show_id = id;
			return 0;
		}
	}
	fprintf(stderr, "boxbench: shows %u..%u all exist\n", BENCH_SHOW_ID,
		BENCH_SHOW_ID + SHOW_IDS_TRIED_MAX - 1);
	return -EEXIST;
}

static int target_setup(struct bench_target *t, uint32_t hold_ttl_ms, uint32_t idle_ms)
{
	/* The waiting-list idle limit is the server's (--waitlist-idle-ms), not a show's:
	 * boxbench's users keep a WAIT parked, so they never reach it anyway. */
	(void)idle_ms;
	ASSERT(hold_ttl_ms >= 1 && hold_ttl_ms <= HOLD_TTL_MS_MAX);
	struct command c = { .type = COMMAND_LOCATION_PUT };
	c.location_put = (struct command_location_put){ .location_id = BENCH_LOCATION_ID,
							.name = text_from_cstr("Bench City"),
							.country = { 'X', 'X' } };
	int rc = put(t, &c, "location put");
	rc = rc < 0 ? rc : venue_put(t);
	c = (struct command){ .type = COMMAND_EVENT_PUT };
	c.event_put = (struct command_event_put){ .event_id = BENCH_EVENT_ID,
						  .location_id = BENCH_LOCATION_ID,
						  .title = text_from_cstr("Bench On-Sale"),
						  .type = EVENT_TYPE_CONCERT };
	rc = rc < 0 ? rc : put(t, &c, "event put");
	rc = rc < 0 ? rc : show_id_free(t, &t->show_id);
	if (rc < 0)
		return rc;
	int64_t now = wall_ms();
	int64_t start = (now / DAY_MS + 30) * DAY_MS;
	c = (struct command){ .type = COMMAND_SHOW_PUT };
	c.show_put = (struct command_show_put){
		.show_id = t->show_id, .event_id = BENCH_EVENT_ID, .venue_id = BENCH_VENUE_ID,
		.start_ms = start, .end_ms = start + 3 * 3600 * 1000,
		.prices_minor = { 4000, 9000, 25000 }, .currency = { 'E', 'U', 'R' },
		.user_seats_max = USER_SEATS_COUNT_MAX_DEFAULT,
		/* The sale opened a minute ago, so that a server clock a little behind
		 * this one still has it open. */
		.sale_opens_ms = now - 60000, .sale_closes_ms = start, .hold_ttl_ms = hold_ttl_ms };
	rc = put(t, &c, "show put");
	if (rc == 0 && t->show_id != BENCH_SHOW_ID)
		fprintf(stderr, "boxbench: show %u exists from an earlier run: using show %u\n",
			BENCH_SHOW_ID, t->show_id);
	return rc;
}

/* Submitting. */

static uint32_t show_of(const struct bench_target *t, uint32_t show_id)
{
	return show_id == BENCH_SHOW_ID ? t->show_id : show_id;
}

static void command_of(const struct bench_target *t, const struct bench_request *r,
		       struct command *c)
{
	switch (r->op) {
	case BENCH_HOLD_SEATS:
	case BENCH_HOLD_BEST:
		*c = (struct command){ .type = COMMAND_HOLD };
		c->hold = (struct command_hold){ .show_id = show_of(t, r->show_id),
						 .user_id = r->user_id, .ttl_ms = r->hold_ttl_ms,
						 .best = r->op == BENCH_HOLD_BEST,
						 .seats_count = r->seats_count, .tier = r->tier,
						 .together = r->together };
		if (r->op == BENCH_HOLD_SEATS)
			memcpy(c->hold.seats, r->seats, sizeof(uint32_t) * r->seats_count);
		return;
	case BENCH_CONFIRM:
		*c = (struct command){ .type = COMMAND_CONFIRM };
		c->confirm = (struct command_confirm){
			.hold_id = r->hold_id, .user_id = r->user_id,
			.payment_ref = text_from(r->payment_ref,
						 (uint32_t)strnlen(r->payment_ref,
								   sizeof(r->payment_ref))) };
		return;
	case BENCH_RELEASE:
		*c = (struct command){ .type = COMMAND_RELEASE };
		c->release = (struct command_release){ .hold_id = r->hold_id, .user_id = r->user_id };
		return;
	case BENCH_JOIN:
		*c = (struct command){ .type = COMMAND_WAITLIST_JOIN };
		c->waitlist_join = (struct command_waitlist_join){
			.show_id = show_of(t, r->show_id), .user_id = r->user_id, .tier = r->tier,
			.seats_count = r->seats_count, .together = r->together };
		return;
	default:
		ASSERT(false);
	}
}

/* Queues one request on a client; 0, -EAGAIN when it is full, or another error. */
static int request_send(struct bench_target *t, struct box_client *client,
			const struct bench_request *r, uint64_t *request_id)
{
	switch (r->op) {
	case BENCH_SEATMAP:
		return box_client_send_id(client, PROTO_SEATMAP, show_of(t, r->show_id), request_id);
	case BENCH_WAIT: {
		struct proto_wait wait = { .show_id = show_of(t, r->show_id), .user_id = r->user_id,
					   .timeout_ms = r->timeout_ms };
		return box_client_send_wait(client, &wait, request_id);
	}
	case BENCH_LOCATIONS: {
		struct proto_list list = { .after_id = r->id, .limit = 20 };
		return box_client_send_list(client, PROTO_LOCATIONS, &list, request_id);
	}
	case BENCH_EVENTS: {
		struct proto_list list = { .parent_id = r->id, .limit = 20 };
		return box_client_send_list(client, PROTO_EVENTS, &list, request_id);
	}
	case BENCH_EVENT:
		return box_client_send_id(client, PROTO_EVENT, r->id, request_id);
	case BENCH_SHOW:
		return box_client_send_id(client, PROTO_SHOW, r->id, request_id);
	case BENCH_SEARCH: {
		struct search_query query;
		browse_search_query(r->id, &query);
		return box_client_send_search(client, &query, request_id);
	}
	default: {
		struct command command;
		command_of(t, r, &command);
		return box_client_send_command(client, &command, request_id);
	}
	}
}

static bool shard_aware;

void bench_boxoffice_shard_aware(bool on)
{
	shard_aware = on;
}

/* The shard a request should go to when shard-aware, or UINT32_MAX for any: no show, or
 * a server that does not name its connections' shards. */
static uint32_t request_shard(const struct bench_target *t, const struct bench_request *request)
{
	uint32_t show = request->show_id != 0 ? request->show_id : hold_id_show(request->hold_id);
	const struct box_server_info *info = box_client_server(t->connections[0].client);
	if (!shard_aware || show == 0 || info->shard == UINT16_MAX)
		return UINT32_MAX;
	return box_show_shard(show, info->workers);
}

static int target_submit(struct bench_target *t, const struct bench_request *request,
			 bench_done_fn *done, void *context)
{
	ASSERT(request->op < BENCH_OP_COUNT);
	ASSERT(done != NULL);
	/* Round-robin, passing over connections that are full; shard-aware, a first pass over
	 * the connections of the show's shard, then any. */
	uint32_t shard = request_shard(t, request);
	uint32_t passes = shard == UINT32_MAX ? 1 : 2;
	for (uint32_t tried = 0; tried < passes * t->connections_count; tried++) {
		uint32_t index = t->cursor;
		t->cursor = (t->cursor + 1) % t->connections_count;
		struct connection *c = &t->connections[index];
		if (tried < t->connections_count && shard != UINT32_MAX &&
		    box_client_server(c->client)->shard != shard)
			continue;
		uint64_t id;
		int rc = request_send(t, c->client, request, &id);
		if (rc == -EAGAIN)
			continue;
		if (rc < 0) {
			fprintf(stderr, "boxbench: %s request: %s\n", bench_op_name(request->op),
				box_client_error_text(rc));
			return rc;
		}
		struct request_slot *slot = &c->slots[id & (INFLIGHT_MAX - 1)];
		ASSERT(slot->done == NULL);
		*slot = (struct request_slot){ .done = done, .context = context,
					       .op = (uint8_t)request->op };
		t->in_flight++;
		if (!c->dirty) {
			c->dirty = true;
			t->dirty[t->dirty_count++] = index;
		}
		return 0;
	}
	return -EAGAIN;
}

/* Completing. */

/* A seat map without its layout: u32 venue, u32 layout size, layout, u32 count, states. */
static int seatmap_decode(struct bench_target *t, const struct box_response *response,
			  struct bench_result *result)
{
	struct bytes_reader r;
	bytes_reader_init(&r, response->payload, response->payload_size);
	bytes_get_u32(&r);
	uint32_t layout_size = bytes_get_u32(&r);
	if (bytes_take(&r, layout_size) == NULL)
		return -EPROTO;
	uint32_t count = bytes_get_u32(&r);
	const uint8_t *packed = count <= LAYOUT_SEATS_COUNT_MAX ? bytes_take(&r, (count + 3) / 4)
								 : NULL;
	if (packed == NULL || !bytes_reader_done(&r))
		return -EPROTO;
	/* Four states a byte, seat 0 in the low bits (PROTOCOL.md SEATMAP): a table turns
	 * each byte into its four states at once, since a spike unpacks thousands of
	 * 50,000-seat maps a second on the generator's one thread. */
	uint32_t whole = count / 4;
	for (uint32_t i = 0; i < whole; i++)
		memcpy(t->states + 4 * i, &t->unpack[packed[i]], 4);
	for (uint32_t i = 4 * whole; i < count; i++)
		t->states[i] = (packed[i / 4] >> (2 * (i % 4))) & 3;
	result->states = t->states;
	result->states_count = count;
	return 0;
}

static int result_decode(struct bench_target *t, enum bench_op op,
			 const struct box_response *response, struct bench_result *result)
{
	*result = (struct bench_result){ .status = response->status };
	if (response->status != STATUS_OK && response->payload_size == 0)
		return 0;
	if (op == BENCH_SEATMAP)
		return response->status == STATUS_OK ? seatmap_decode(t, response, result) : 0;
	if (op >= BENCH_LOCATIONS)
		return 0; /* browse reads: only the status is wanted */
	struct engine_result engine_result;
	int rc = box_response_result(response, &engine_result);
	if (rc < 0)
		return rc;
	result->hold_id = engine_result.hold_id;
	result->deadline_ms = engine_result.deadline_ms;
	result->seats_count = engine_result.seats_count;
	memcpy(result->seats, engine_result.seats, sizeof(uint32_t) * engine_result.seats_count);
	result->waiter_state = engine_result.waiter_state;
	result->waiter_seq = engine_result.waiter_seq;
	return 0;
}

/* Hands every response waiting on a connection to its callback; returns how many, or
 * a transport error. */
static int connection_drain(struct bench_target *t, struct connection *c)
{
	int completed = 0;
	for (;;) {
		int count = box_client_poll_responses(c->client, t->responses, RESPONSES_BATCH);
		if (count < 0) {
			fprintf(stderr, "boxbench: connection: %s\n", box_client_error_text(count));
			return count;
		}
		for (int i = 0; i < count; i++) {
			const struct box_response *response = &t->responses[i];
			struct request_slot *slot = &c->slots[response->request_id & (INFLIGHT_MAX - 1)];
			ASSERT(slot->done != NULL);
			struct request_slot done = *slot;
			*slot = (struct request_slot){ 0 };
			t->in_flight--;
			struct bench_result result;
			int rc = result_decode(t, done.op, response, &result);
			if (rc < 0) {
				fprintf(stderr, "boxbench: malformed %s response\n",
					bench_op_name(done.op));
				return rc;
			}
			done.done(done.context, &result);
		}
		completed += count;
		if (count < (int)RESPONSES_BATCH)
			return completed;
	}
}

static int watch_out(struct bench_target *t, uint32_t index, bool on)
{
	struct connection *c = &t->connections[index];
	if (c->watching_out == on)
		return 0;
	struct epoll_event event = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = index };
	if (epoll_ctl(t->epoll_fd, EPOLL_CTL_MOD, box_client_fd(c->client), &event) < 0)
		return -errno;
	c->watching_out = on;
	return 0;
}

/* Writes what was queued since the last poll: one send per connection. */
static int flush_dirty(struct bench_target *t)
{
	for (uint32_t i = 0; i < t->dirty_count; i++) {
		uint32_t index = t->dirty[i];
		struct connection *c = &t->connections[index];
		c->dirty = false;
		int rc = box_client_flush(c->client, 0);
		if (rc == -ETIMEDOUT)
			rc = watch_out(t, index, true);
		if (rc < 0) {
			fprintf(stderr, "boxbench: send: %s\n", box_client_error_text(rc));
			return rc;
		}
	}
	t->dirty_count = 0;
	return 0;
}

static int target_poll(struct bench_target *t, int64_t timeout_us)
{
	int rc = flush_dirty(t);
	if (rc < 0)
		return rc;
	struct epoll_event events[EVENTS_BATCH];
	struct timespec timeout = { .tv_sec = timeout_us / 1000000,
				    .tv_nsec = (long)(timeout_us % 1000000) * 1000 };
	int ready = epoll_pwait2(t->epoll_fd, events, EVENTS_BATCH,
				 timeout_us < 0 ? NULL : &timeout, NULL);
	if (ready < 0)
		return errno == EINTR ? 0 : -errno;
	int completed = 0;
	for (int e = 0; e < ready; e++) {
		uint32_t index = events[e].data.u32;
		struct connection *c = &t->connections[index];
		/* Polling responses also writes what is queued. */
		rc = connection_drain(t, c);
		if (rc < 0)
			return rc;
		completed += rc;
		if (c->watching_out && !box_client_wants_write(c->client)) {
			rc = watch_out(t, index, false);
			if (rc < 0)
				return rc;
		}
	}
	return completed;
}

static uint32_t target_in_flight(const struct bench_target *t)
{
	return t->in_flight;
}

/* The audit: the show's counts, from its SHOW record, on the control connection. */
static int target_audit(struct bench_target *t, struct bench_audit *audit)
{
	struct engine_show show;
	enum status status;
	*audit = (struct bench_audit){ 0 };
	int rc = box_client_show(t->control, t->show_id, &show, &status);
	if (rc < 0 || status != STATUS_OK) {
		fprintf(stderr, "boxbench: audit: show %u: %s\n", t->show_id,
			rc < 0 ? box_client_error_text(rc) : status_name(status));
		return rc < 0 ? rc : -EIO;
	}
	for (uint32_t tier = 0; tier < TIER_COUNT; tier++) {
		audit->seats_booked += show.tiers[tier].booked;
		audit->seats_held += show.tiers[tier].held;
		audit->seats_available += show.tiers[tier].available;
	}
	/* The engine gives every seat exactly one state (engine_check asserts it), so a
	 * seat cannot be booked twice here; boxbench checks the acknowledged bookings
	 * against each other and against the seat map itself. */
	audit->seats_double_booked = 0;
	return 0;
}

static void target_close(struct bench_target *t)
{
	if (t == NULL)
		return;
	for (uint32_t i = 0; t->connections != NULL && i < t->connections_count; i++) {
		box_client_close(t->connections[i].client);
		free(t->connections[i].slots);
	}
	box_client_close(t->control);
	if (t->epoll_fd >= 0)
		close(t->epoll_fd);
	free(t->connections);
	free(t->dirty);
	free(t->states);
	free(t);
}

const struct bench_target_ops bench_target_boxoffice = {
	.name = "boxoffice",
	.open = target_open,
	.setup = target_setup,
	.submit = target_submit,
	.poll = target_poll,
	.in_flight = target_in_flight,
	.audit = target_audit,
	.close = target_close,
};
