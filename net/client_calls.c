/*
 * client_calls.c — the client's blocking calls, one per operation, and the decoders
 * of their responses (see client.h). Each call sends one request with client_call()
 * and decodes the response with the shared codec (protocol.c); the arrays it hands
 * back live in the client's scratch until the next call.
 */
#include "client_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A query: returns 1 when the response is STATUS_OK and its payload is to be
 * decoded, 0 when it was refused (*status says why), or a transport error.
 */
static int client_query(struct box_client *c, const struct client_request *request,
			struct box_response *response, enum status *status)
{
	*status = STATUS_INTERNAL;
	int rc = client_call(c, request, c->options.timeout_ms, response);
	if (rc < 0)
		return rc;
	*status = response->status;
	return response->status == STATUS_OK;
}

/* Room for the arrays of one call's response; it lives until the next call. */
static void *client_scratch(struct box_client *c, size_t size)
{
	if (size > c->scratch_capacity) {
		free(c->scratch);
		c->scratch = malloc(size);
		c->scratch_capacity = c->scratch ? size : 0;
	}
	return c->scratch;
}

static void response_reader(struct bytes_reader *r, const struct box_response *response)
{
	bytes_reader_init(r, response->payload, response->payload_size);
}

/* A decoded payload is good when everything read well and nothing is left over. */
static int reader_finish(struct box_client *c, const struct bytes_reader *r, bool ok)
{
	if (ok && bytes_reader_done(r))
		return 0;
	return c ? client_fail(c, -EPROTO) : -EPROTO;
}

/* A count of items, each at least item_size_min bytes: more than the payload holds is a lie. */
static bool count_fits(const struct bytes_reader *r, uint32_t count, size_t item_size_min)
{
	return !r->failed && (size_t)count * item_size_min <= r->size - r->offset;
}

/* How to decode the items of a counted list. */
struct list_codec {
	size_t item_size;     /* of the decoded struct */
	size_t item_size_min; /* of the smallest encoding of one */
	bool (*get)(struct bytes_reader *r, void *item);
};

/*
 * Reads the rest of a payload: a u16 count (at most count_max), then that many items
 * into the client's scratch. Returns 0 with *items and *count set, or the sticky
 * error (-EPROTO, -ENOMEM) with them untouched. The caller's array pointer is set
 * from *items, never written through a cast, so that no type is punned.
 */
static int list_decode(struct box_client *c, struct bytes_reader *r, uint32_t count_max,
		       const struct list_codec *codec, const void **items, uint32_t *count)
{
	uint16_t n = bytes_get_u16(r);
	if (n > count_max || !count_fits(r, n, codec->item_size_min))
		return reader_finish(c, r, false);
	uint8_t *array = client_scratch(c, n * codec->item_size);
	if (n > 0 && array == NULL)
		return client_fail(c, -ENOMEM);
	bool ok = true;
	for (uint16_t i = 0; i < n && ok; i++)
		ok = codec->get(r, array + i * codec->item_size);
	*items = array;
	*count = n;
	return reader_finish(c, r, ok);
}

static bool location_get(struct bytes_reader *r, void *item)
{
	return proto_get_location(r, item);
}

static bool event_get(struct bytes_reader *r, void *item)
{
	return proto_get_event(r, item);
}

static bool event_show_get(struct bytes_reader *r, void *item)
{
	struct proto_event_show s;
	bool ok = proto_get_event_show(r, &s);
	*(struct box_event_show *)item = (struct box_event_show){
		.show_id = s.show_id, .start_ms = s.start_ms, .end_ms = s.end_ms,
		.venue_id = s.venue_id, .venue_name = s.venue_name,
		.venue_address = s.venue_address
	};
	return ok;
}

static bool stat_get(struct bytes_reader *r, void *item)
{
	struct box_stat *stat = item;
	return proto_get_stat(r, &stat->name, &stat->value);
}

/* The handshake. */

uint32_t box_show_shard(uint32_t show_id, uint32_t shards)
{
	return shards > 0 ? engine_show_shard(show_id, shards) : 0;
}

static int hello_decode(struct box_client *c, const struct box_response *response)
{
	struct bytes_reader r;
	struct proto_hello_info info;
	response_reader(&r, response);
	bool ok = proto_get_hello_info(&r, &info);
	c->server.version = info.version;
	c->server.frame_size_max = info.frame_size_max;
	c->server.workers = info.workers;
	c->server.hold_seats_max = info.hold_seats_max;
	c->server.wait_timeout_ms_max = info.wait_timeout_ms_max;
	c->server.shard = info.version >= 2 ? info.shard : UINT16_MAX;
	size_t size = info.server_version.size < BOX_SERVER_VERSION_SIZE_MAX
			      ? info.server_version.size
			      : BOX_SERVER_VERSION_SIZE_MAX;
	if (ok && size > 0)
		memcpy(c->server.server_version, info.server_version.bytes, size);
	c->server.server_version[size] = '\0';
	ok = ok && c->server.frame_size_max >= PROTO_HEADER_SIZE - 4 && c->server.workers > 0;
	if (c->server.frame_size_max > PROTO_FRAME_SIZE_MAX)
		c->server.frame_size_max = PROTO_FRAME_SIZE_MAX;
	return reader_finish(c, &r, ok);
}

int client_handshake(struct box_client *c, int timeout_ms, char *error, size_t error_size)
{
	struct text name = text_from_cstr(c->options.name ? c->options.name : "");
	if (name.size > PROTO_NAME_SIZE_MAX) {
		/* Cut before a character, not inside one: the server wants UTF-8. */
		name.size = PROTO_NAME_SIZE_MAX;
		while (name.size > 0 && ((uint8_t)name.bytes[name.size] & 0xc0) == 0x80)
			name.size--;
	}
	struct proto_hello hello = { .version_min = PROTO_VERSION_MIN,
				     .version_max = PROTO_VERSION, .client = name };
	struct client_request request = { .opcode = PROTO_HELLO, .hello = &hello };
	struct box_response response;
	int rc = client_call(c, &request, timeout_ms, &response);
	if (rc < 0) {
		snprintf(error, error_size, "handshake failed: %s", box_client_error_text(rc));
		return rc;
	}
	if (response.status != STATUS_OK) {
		snprintf(error, error_size, "the server refused the handshake: %s",
			 status_name(response.status));
		return client_fail(c, -EPROTO);
	}
	if (hello_decode(c, &response) < 0) {
		snprintf(error, error_size, "handshake failed: malformed HELLO response");
		return -EPROTO;
	}
	if (c->server.version < PROTO_VERSION_MIN || c->server.version > PROTO_VERSION) {
		snprintf(error, error_size, "the server speaks protocol version %u, not %u to %u",
			 c->server.version, PROTO_VERSION_MIN, PROTO_VERSION);
		return client_fail(c, -EPROTO);
	}
	return 0;
}

/* Catalog queries. */

int box_client_ping(struct box_client *client, const void *bytes, uint32_t size)
{
	struct client_request request = { .opcode = PROTO_PING, .ping = text_from(bytes, size) };
	struct box_response response;
	enum status status;
	int rc = client_query(client, &request, &response, &status);
	if (rc < 0)
		return rc;
	/* A refused ping says the request was wrong, not the server: it is a status too. */
	if (rc == 0)
		return status == STATUS_TOO_LARGE ? -EMSGSIZE : client_fail(client, -EPROTO);
	if (response.payload_size != size ||
	    (size > 0 && memcmp(response.payload, bytes, size) != 0))
		return client_fail(client, -EPROTO);
	return 0;
}

int box_client_locations(struct box_client *client, uint32_t after_id, uint16_t limit,
			 const struct engine_location **locations, uint32_t *count,
			 enum status *status)
{
	struct client_request request = { .opcode = PROTO_LOCATIONS,
					   .list = { .after_id = after_id, .limit = limit } };
	struct box_response response;
	*locations = NULL;
	*count = 0;
	int rc = client_query(client, &request, &response, status);
	if (rc <= 0)
		return rc;
	static const struct list_codec codec = { .item_size = sizeof(struct engine_location),
						 .item_size_min = 4 + 2 + COUNTRY_SIZE + 12,
						 .get = location_get };
	struct bytes_reader r;
	response_reader(&r, &response);
	const void *items = NULL;
	rc = list_decode(client, &r, limit, &codec, &items, count);
	*locations = items;
	return rc;
}

int box_client_events(struct box_client *client, uint32_t location_id, uint32_t after_id,
		      uint16_t limit, const struct engine_event_info **events, uint32_t *count,
		      enum status *status)
{
	struct client_request request = {
		.opcode = PROTO_EVENTS,
		.list = { .parent_id = location_id, .after_id = after_id, .limit = limit }
	};
	struct box_response response;
	*events = NULL;
	*count = 0;
	int rc = client_query(client, &request, &response, status);
	if (rc <= 0)
		return rc;
	static const struct list_codec codec = { .item_size = sizeof(struct engine_event_info),
						 .item_size_min = 4 + 4 + 2 + 2 + 1 + 2 + 4 + 1 + 4,
						 .get = event_get };
	struct bytes_reader r;
	response_reader(&r, &response);
	const void *items = NULL;
	rc = list_decode(client, &r, limit, &codec, &items, count);
	*events = items;
	return rc;
}

int box_client_event(struct box_client *client, uint32_t event_id,
		     struct engine_event_info *event, const struct box_event_show **shows,
		     uint32_t *shows_count, enum status *status)
{
	struct client_request request = { .opcode = PROTO_EVENT, .id = event_id };
	struct box_response response;
	*shows = NULL;
	*shows_count = 0;
	int rc = client_query(client, &request, &response, status);
	if (rc <= 0)
		return rc;
	static const struct list_codec codec = { .item_size = sizeof(struct box_event_show),
						 .item_size_min = 4 + 8 + 8 + 4 + 2 + 2,
						 .get = event_show_get };
	struct bytes_reader r;
	response_reader(&r, &response);
	if (!proto_get_event(&r, event))
		return reader_finish(client, &r, false);
	const void *items = NULL;
	rc = list_decode(client, &r, UINT16_MAX, &codec, &items, shows_count);
	*shows = items;
	return rc;
}

int box_response_show(const struct box_response *response, struct engine_show *show)
{
	struct bytes_reader r;
	response_reader(&r, response);
	return reader_finish(NULL, &r, proto_get_show(&r, show));
}

int box_client_show(struct box_client *client, uint32_t show_id, struct engine_show *show,
		    enum status *status)
{
	struct client_request request = { .opcode = PROTO_SHOW, .id = show_id };
	struct box_response response;
	int rc = client_query(client, &request, &response, status);
	if (rc <= 0)
		return rc;
	rc = box_response_show(&response, show);
	return rc < 0 ? client_fail(client, rc) : 0;
}

int box_client_venue(struct box_client *client, uint32_t venue_id, struct engine_venue *venue,
		     enum status *status)
{
	struct client_request request = { .opcode = PROTO_VENUE, .id = venue_id };
	struct box_response response;
	int rc = client_query(client, &request, &response, status);
	if (rc <= 0)
		return rc;
	struct bytes_reader r;
	response_reader(&r, &response);
	return reader_finish(client, &r, proto_get_venue(&r, venue));
}

void box_seatmap_destroy(struct box_seatmap *seatmap)
{
	if (seatmap == NULL)
		return;
	free(seatmap->layout_bytes);
	free(seatmap->states);
	free(seatmap);
}

/* Copies the layout and unpacks the states: the seat map outlives the response. */
static int seatmap_decode(struct bytes_reader *r, struct box_seatmap *m)
{
	const uint8_t *packed;
	if (!proto_get_seatmap(r, &m->venue_id, &m->layout, &packed) || !bytes_reader_done(r))
		return -EPROTO;
	m->layout_bytes = malloc(m->layout.size);
	if (m->layout_bytes == NULL)
		return -ENOMEM;
	memcpy(m->layout_bytes, m->layout.bytes, m->layout.size);
	/* A layout is its bytes and counts read from them: the copy serves as well. */
	m->layout.bytes = m->layout_bytes;
	m->seats_count = m->layout.seats_count;
	m->states = malloc(m->seats_count);
	if (m->states == NULL)
		return -ENOMEM;
	proto_states_unpack(packed, m->seats_count, m->states);
	return 0;
}

int box_response_seatmap(const struct box_response *response, uint32_t show_id,
			 struct box_seatmap **seatmap)
{
	*seatmap = NULL;
	struct box_seatmap *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->show_id = show_id;
	struct bytes_reader r;
	response_reader(&r, response);
	int rc = seatmap_decode(&r, m);
	if (rc < 0) {
		box_seatmap_destroy(m);
		return rc;
	}
	*seatmap = m;
	return 0;
}

int box_client_seatmap(struct box_client *client, uint32_t show_id,
		       struct box_seatmap **seatmap, enum status *status)
{
	struct client_request request = { .opcode = PROTO_SEATMAP, .id = show_id };
	struct box_response response;
	*seatmap = NULL;
	int rc = client_query(client, &request, &response, status);
	if (rc <= 0)
		return rc;
	rc = box_response_seatmap(&response, show_id, seatmap);
	return rc < 0 ? client_fail(client, rc) : 0;
}

int box_response_hits(const struct box_response *response, struct search_hit *hits,
		      uint32_t capacity, uint32_t *count, bool *more)
{
	struct bytes_reader r;
	response_reader(&r, response);
	uint32_t n;
	bool ok = proto_get_search_header(&r, &n, more);
	*count = 0;
	if (!ok || n > capacity)
		return -EPROTO;
	for (uint32_t i = 0; i < n && ok; i++)
		ok = proto_get_hit(&r, &hits[i]);
	*count = n;
	return reader_finish(NULL, &r, ok);
}

int box_client_search(struct box_client *client, const struct search_query *query,
		      const struct search_hit **hits, uint32_t *count, bool *more,
		      enum status *status)
{
	*hits = NULL;
	*count = 0;
	*more = false;
	*status = client_search_check(query);
	if (*status != STATUS_OK)
		return client->error;
	struct client_request request = { .opcode = PROTO_SEARCH, .search = query };
	struct box_response response;
	int rc = client_query(client, &request, &response, status);
	if (rc <= 0)
		return rc;
	uint32_t capacity = query->limit < SEARCH_RESULTS_COUNT_MAX ? query->limit
								    : SEARCH_RESULTS_COUNT_MAX;
	struct search_hit *items = client_scratch(client, (capacity + 1) * sizeof(*items));
	if (items == NULL)
		return client_fail(client, -ENOMEM);
	rc = box_response_hits(&response, items, capacity, count, more);
	*hits = items;
	return rc < 0 ? client_fail(client, rc) : 0;
}

/* Changes. */

int box_response_result(const struct box_response *response, struct engine_result *result)
{
	*result = (struct engine_result){ .status = response->status };
	if (response->status != STATUS_OK && response->payload_size == 0)
		return 0;
	struct bytes_reader r;
	response_reader(&r, response);
	bool ok = proto_get_result(&r, result);
	result->status = response->status;
	return reader_finish(NULL, &r, ok);
}

/* Sends a command or a WAIT and decodes its result. */
static int client_result(struct box_client *c, const struct client_request *request,
			 int timeout_ms, struct engine_result *result)
{
	*result = (struct engine_result){ .status = STATUS_INTERNAL };
	struct box_response response;
	int rc = client_call(c, request, timeout_ms, &response);
	if (rc < 0)
		return rc;
	rc = box_response_result(&response, result);
	return rc < 0 ? client_fail(c, rc) : 0;
}

int box_client_command(struct box_client *client, const struct command *command,
		       struct engine_result *result)
{
	/* The encoder asserts a valid command: refuse an invalid one here, unsent. */
	enum status status = client_command_check(command);
	if (status != STATUS_OK) {
		*result = (struct engine_result){ .status = status };
		return client->error;
	}
	struct client_request request = { .opcode = (uint16_t)(PROTO_COMMAND_BASE + command->type),
					  .command = command };
	return client_result(client, &request, client->options.timeout_ms, result);
}

int box_client_hold_seats(struct box_client *client, uint32_t show_id, uint64_t user_id,
			  uint32_t ttl_ms, const uint32_t *seats, uint8_t seats_count,
			  struct engine_result *result)
{
	struct command c = { .type = COMMAND_HOLD };
	c.hold = (struct command_hold){ .show_id = show_id, .user_id = user_id, .ttl_ms = ttl_ms,
					.seats_count = seats_count };
	if (seats_count > HOLD_SEATS_COUNT_MAX) {
		*result = (struct engine_result){ .status = STATUS_TOO_LARGE };
		return client->error;
	}
	memcpy(c.hold.seats, seats, sizeof(uint32_t) * seats_count);
	return box_client_command(client, &c, result);
}

int box_client_hold_best(struct box_client *client, uint32_t show_id, uint64_t user_id,
			 uint32_t ttl_ms, enum tier tier, uint8_t count, bool together,
			 struct engine_result *result)
{
	struct command c = { .type = COMMAND_HOLD };
	c.hold = (struct command_hold){ .show_id = show_id, .user_id = user_id, .ttl_ms = ttl_ms,
					.best = true, .seats_count = count, .tier = (uint8_t)tier,
					.together = together };
	return box_client_command(client, &c, result);
}

int box_client_confirm(struct box_client *client, uint64_t hold_id, uint64_t user_id,
		       struct text payment_ref, struct engine_result *result)
{
	struct command c = { .type = COMMAND_CONFIRM };
	c.confirm = (struct command_confirm){ .hold_id = hold_id, .user_id = user_id,
					      .payment_ref = payment_ref };
	return box_client_command(client, &c, result);
}

int box_client_release(struct box_client *client, uint64_t hold_id, uint64_t user_id,
		       struct engine_result *result)
{
	struct command c = { .type = COMMAND_RELEASE };
	c.release = (struct command_release){ .hold_id = hold_id, .user_id = user_id };
	return box_client_command(client, &c, result);
}

int box_client_cancel(struct box_client *client, uint64_t booking_id,
		      struct engine_result *result)
{
	struct command c = { .type = COMMAND_BOOKING_CANCEL };
	c.booking_cancel.booking_id = booking_id;
	return box_client_command(client, &c, result);
}

int box_client_seats_block(struct box_client *client, uint32_t show_id, uint32_t seat_first,
			   uint32_t seats_count, bool blocked, struct engine_result *result)
{
	struct command c = { .type = COMMAND_SEATS_BLOCK };
	c.seats_block = (struct command_seats_block){ .show_id = show_id, .seat_first = seat_first,
						      .seats_count = seats_count,
						      .blocked = blocked };
	return box_client_command(client, &c, result);
}

int box_client_waitlist_join(struct box_client *client, uint32_t show_id, uint64_t user_id,
			     enum tier tier, uint8_t count, bool together,
			     struct engine_result *result)
{
	struct command c = { .type = COMMAND_WAITLIST_JOIN };
	c.waitlist_join = (struct command_waitlist_join){ .show_id = show_id, .user_id = user_id,
							  .tier = (uint8_t)tier,
							  .seats_count = count,
							  .together = together };
	return box_client_command(client, &c, result);
}

int box_client_waitlist_leave(struct box_client *client, uint32_t show_id, uint64_t user_id,
			      struct engine_result *result)
{
	struct command c = { .type = COMMAND_WAITLIST_LEAVE };
	c.waitlist_leave = (struct command_waitlist_user){ .show_id = show_id, .user_id = user_id };
	return box_client_command(client, &c, result);
}

int box_client_waitlist_poll(struct box_client *client, uint32_t show_id, uint64_t user_id,
			     struct engine_result *result)
{
	struct command c = { .type = COMMAND_WAITLIST_POLL };
	c.waitlist_poll = (struct command_waitlist_user){ .show_id = show_id, .user_id = user_id };
	return box_client_command(client, &c, result);
}

int box_client_wait(struct box_client *client, uint32_t show_id, uint64_t user_id,
		    uint32_t timeout_ms, struct engine_result *result)
{
	struct client_request request = {
		.opcode = PROTO_WAIT,
		.wait = { .show_id = show_id, .user_id = user_id, .timeout_ms = timeout_ms }
	};
	/* The server holds the answer for up to the WAIT's own timeout. */
	uint32_t parked_ms = timeout_ms ? timeout_ms : PROTO_WAIT_TIMEOUT_MS_DEFAULT;
	int64_t total = (int64_t)parked_ms + client->options.timeout_ms;
	return client_result(client, &request, total > INT32_MAX ? INT32_MAX : (int)total, result);
}

/* Operators. */

int box_client_stats(struct box_client *client, const struct box_stat **stats, uint32_t *count,
		     enum status *status)
{
	struct client_request request = { .opcode = PROTO_STATS };
	struct box_response response;
	*stats = NULL;
	*count = 0;
	int rc = client_query(client, &request, &response, status);
	if (rc <= 0)
		return rc;
	static const struct list_codec codec = { .item_size = sizeof(struct box_stat),
						 .item_size_min = 2 + 8,
						 .get = stat_get };
	struct bytes_reader r;
	response_reader(&r, &response);
	const void *items = NULL;
	rc = list_decode(client, &r, PROTO_STATS_COUNT_MAX, &codec, &items, count);
	*stats = items;
	return rc;
}

int box_client_snapshot(struct box_client *client, const uint64_t **lsns,
			uint32_t *shards_count, enum status *status)
{
	struct client_request request = { .opcode = PROTO_SNAPSHOT };
	struct box_response response;
	*lsns = NULL;
	*shards_count = 0;
	int rc = client_query(client, &request, &response, status);
	if (rc <= 0)
		return rc;
	struct bytes_reader r;
	response_reader(&r, &response);
	/* The payload cannot hold more LSNs than it has bytes for. */
	uint32_t capacity = response.payload_size / 8;
	uint64_t *items = client_scratch(client, capacity * sizeof(*items));
	if (capacity > 0 && items == NULL)
		return client_fail(client, -ENOMEM);
	if (!proto_get_snapshot_lsns(&r, items, capacity, shards_count))
		return reader_finish(client, &r, false);
	*lsns = items;
	return reader_finish(client, &r, true);
}
