/*
 * client.c — the protocol client (see client.h).
 *
 * The socket is always non-blocking; blocking calls wait with poll() and a
 * deadline. Requests are encoded with the shared codec (protocol.c) straight into
 * the output buffer; responses are read into the input buffer and handed out in
 * place, so that a decoded response borrows from it until the next call.
 *
 * Invariants: output bytes [output_begin, output_end) belong to requests in flight;
 * input bytes [input_begin, input_handed) are frames handed out by the current call,
 * [input_handed, input_end) are not handed out yet. The input buffer moves (compacts
 * or grows) only at the start of a call, after the frames handed out by the previous
 * one are released, so nothing handed out ever dangles. A request id in flight
 * occupies slot id & (inflight_max - 1); ids that would land on an occupied slot
 * are skipped, so that a response is matched to its request in O(1).
 */
#include "client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define INPUT_SIZE_INITIAL (64u * 1024u)
#define INPUT_SIZE_MAX (PROTO_FRAME_SIZE_MAX + 4u)
#define OUTPUT_SIZE_INITIAL (64u * 1024u)
#define SEND_BUFFER_SIZE_MIN 4096u
#define INFLIGHT_MAX_LIMIT 65536u

struct client_slot {
	uint64_t request_id; /* 0: free */
	uint16_t opcode;
};

struct box_client {
	int fd;
	int error; /* sticky transport error (negative errno), 0 while usable */
	struct box_client_options options;
	struct box_server_info server;
	uint64_t request_id_next;  /* 1.. ; 0 marks a free slot */
	struct client_slot *slots; /* options.inflight_max of them */
	uint32_t inflight;	   /* 0..inflight_max */
	uint8_t *output;
	size_t output_begin;
	size_t output_end;
	size_t output_capacity; /* up to options.send_buffer_size */
	uint8_t *input;
	size_t input_begin;
	size_t input_handed;
	size_t input_end;
	size_t input_capacity; /* up to INPUT_SIZE_MAX */
	void *scratch;	       /* the decoded arrays of the last blocking call */
	size_t scratch_capacity;
};

/* What one request carries; the opcode says which member is set. */
struct client_request {
	uint16_t opcode;
	union {
		const struct proto_hello *hello;
		struct text ping;
		struct proto_list list;
		uint32_t id;
		const struct search_query *search;
		const struct command *command;
		struct proto_wait wait;
	};
};

void box_client_options_default(struct box_client_options *options)
{
	*options = (struct box_client_options){
		.name = "boxoffice-client",
		.connect_timeout_ms = 5000,
		.timeout_ms = BOX_CLIENT_TIMEOUT_MS_DEFAULT,
		.inflight_max = BOX_CLIENT_INFLIGHT_MAX_DEFAULT,
		.send_buffer_size = BOX_CLIENT_SEND_BUFFER_SIZE_DEFAULT,
	};
}

const char *box_client_error_text(int error)
{
	switch (error) {
	case -ECONNRESET:
		return "the server closed the connection";
	case -EPROTO:
		return "malformed or unexpected response";
	case -ETIMEDOUT:
		return "no response in time";
	case -EMSGSIZE:
		return "request larger than the server's frame limit";
	case -EAGAIN:
		return "send buffer or in-flight limit full";
	}
	return strerror(-error);
}

static int64_t clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int client_fail(struct box_client *c, int error)
{
	ASSERT(error < 0);
	if (c->error == 0)
		c->error = error;
	return error;
}

/* Connecting. */

static void address_format(const char *host, const char *port, char *buffer, size_t size)
{
	snprintf(buffer, size, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
}

/* Returns 0 or an errno. */
static int socket_connect(int fd, const struct addrinfo *ai, int timeout_ms)
{
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int64_t deadline = clock_ms() + timeout_ms;
	int n;
	do {
		int64_t left = deadline - clock_ms();
		n = poll(&p, 1, left > 0 ? (int)left : 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno;
	if (n == 0)
		return ETIMEDOUT;
	int error = 0;
	socklen_t size = sizeof(error);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) < 0)
		return errno;
	return error;
}

/* Returns a connected non-blocking socket, or -1 with a message in error. */
static int tcp_connect(const char *host, const char *port, int timeout_ms, char *error,
		       size_t error_size)
{
	char address[300];
	address_format(host, port, address, sizeof(address));
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_protocol = IPPROTO_TCP };
	struct addrinfo *list;
	int rc = getaddrinfo(host, port, &hints, &list);
	if (rc != 0) {
		snprintf(error, error_size, "cannot resolve %s: %s", address, gai_strerror(rc));
		return -1;
	}
	int fd = -1;
	int last = EADDRNOTAVAIL;
	for (const struct addrinfo *ai = list; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		last = socket_connect(fd, ai, timeout_ms);
		if (last != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(list);
	if (fd < 0) {
		snprintf(error, error_size, "cannot connect to %s: %s", address, strerror(last));
		return -1;
	}
	/* Requests are small and latency-bound: never wait to coalesce them. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static struct box_client *client_create(int fd, const struct box_client_options *options)
{
	struct box_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->fd = fd;
	c->options = *options;
	c->request_id_next = 1;
	c->server.frame_size_max = PROTO_FRAME_SIZE_MAX;
	c->output_capacity = options->send_buffer_size < OUTPUT_SIZE_INITIAL
				     ? options->send_buffer_size
				     : OUTPUT_SIZE_INITIAL;
	c->input_capacity = INPUT_SIZE_INITIAL;
	c->slots = calloc(options->inflight_max, sizeof(*c->slots));
	c->output = malloc(c->output_capacity);
	c->input = malloc(c->input_capacity);
	if (c->slots == NULL || c->output == NULL || c->input == NULL) {
		c->fd = -1;
		box_client_close(c);
		return NULL;
	}
	return c;
}

void box_client_close(struct box_client *client)
{
	if (client == NULL)
		return;
	if (client->fd >= 0)
		close(client->fd);
	free(client->slots);
	free(client->output);
	free(client->input);
	free(client->scratch);
	free(client);
}

const struct box_server_info *box_client_server(const struct box_client *client)
{
	return &client->server;
}

int box_client_fd(const struct box_client *client)
{
	return client->fd;
}

int box_client_error(const struct box_client *client)
{
	return client->error;
}

bool box_client_wants_write(const struct box_client *client)
{
	return client->output_end > client->output_begin;
}

uint32_t box_client_inflight(const struct box_client *client)
{
	return client->inflight;
}

/* Queueing requests. */

static void request_encode(struct bytes_writer *w, uint64_t id, const struct client_request *r)
{
	switch (r->opcode) {
	case PROTO_HELLO:
		proto_encode_hello(w, id, r->hello);
		return;
	case PROTO_PING: {
		size_t start = w->size;
		proto_request_begin(w, PROTO_PING, id);
		bytes_put_raw(w, r->ping.bytes, r->ping.size);
		proto_frame_end(w, start);
		return;
	}
	case PROTO_LOCATIONS:
	case PROTO_EVENTS:
		proto_encode_list(w, r->opcode, id, &r->list);
		return;
	case PROTO_SEARCH:
		proto_encode_search(w, id, r->search);
		return;
	case PROTO_WAIT:
		proto_encode_wait(w, id, &r->wait);
		return;
	case PROTO_STATS:
	case PROTO_SNAPSHOT:
		proto_encode_empty(w, r->opcode, id);
		return;
	}
	if (proto_opcode_command(r->opcode) != 0) {
		proto_encode_command(w, id, r->command);
		return;
	}
	proto_encode_id(w, r->opcode, id, r->id);
}

static uint64_t client_id_take(struct box_client *c)
{
	uint32_t mask = c->options.inflight_max - 1;
	/* Fewer than inflight_max slots are taken, so this ends within that many ids. */
	for (;;) {
		uint64_t id = c->request_id_next++;
		if (id != 0 && c->slots[id & mask].request_id == 0)
			return id;
	}
}

/* Makes room in the output buffer: 0, -ENOBUFS when it is as big as allowed, -ENOMEM. */
static int output_make_room(struct box_client *c)
{
	if (c->output_begin > 0) {
		memmove(c->output, c->output + c->output_begin, c->output_end - c->output_begin);
		c->output_end -= c->output_begin;
		c->output_begin = 0;
		return 0;
	}
	if (c->output_capacity >= c->options.send_buffer_size)
		return -ENOBUFS;
	size_t capacity = c->output_capacity * 2;
	if (capacity > c->options.send_buffer_size)
		capacity = c->options.send_buffer_size;
	uint8_t *output = realloc(c->output, capacity);
	if (output == NULL)
		return -ENOMEM;
	c->output = output;
	c->output_capacity = capacity;
	return 0;
}

static int client_queue(struct box_client *c, const struct client_request *request,
			uint64_t *request_id)
{
	if (c->error != 0)
		return c->error;
	if (c->inflight >= c->options.inflight_max)
		return -EAGAIN;
	uint64_t id = client_id_take(c);
	struct bytes_writer w;
	for (;;) {
		bytes_writer_init(&w, c->output + c->output_end, c->output_capacity - c->output_end);
		request_encode(&w, id, request);
		if (!w.failed)
			break;
		int rc = output_make_room(c);
		if (rc == -ENOBUFS)
			return c->output_end > c->output_begin ? -EAGAIN : -EMSGSIZE;
		if (rc < 0)
			return rc;
	}
	if (w.size - 4 > c->server.frame_size_max)
		return -EMSGSIZE;
	c->output_end += w.size;
	c->slots[id & (c->options.inflight_max - 1)] =
		(struct client_slot){ .request_id = id, .opcode = request->opcode };
	c->inflight++;
	*request_id = id;
	return 0;
}

int box_client_send_ping(struct box_client *client, const void *bytes, uint32_t size,
			 uint64_t *request_id)
{
	struct client_request r = { .opcode = PROTO_PING, .ping = text_from(bytes, size) };
	return client_queue(client, &r, request_id);
}

int box_client_send_list(struct box_client *client, uint16_t opcode,
			 const struct proto_list *list, uint64_t *request_id)
{
	ASSERT(opcode == PROTO_LOCATIONS || opcode == PROTO_EVENTS);
	struct client_request r = { .opcode = opcode, .list = *list };
	return client_queue(client, &r, request_id);
}

int box_client_send_id(struct box_client *client, uint16_t opcode, uint32_t id,
		       uint64_t *request_id)
{
	ASSERT(opcode >= PROTO_EVENT && opcode <= PROTO_VENUE);
	struct client_request r = { .opcode = opcode, .id = id };
	return client_queue(client, &r, request_id);
}

/* The checks that keep the encoder from writing a field wider than the wire's. */
static enum status search_check(const struct search_query *query)
{
	if (query->keyword.size > SEARCH_KEYWORD_SIZE_MAX || query->tags_count > TAGS_COUNT_MAX)
		return STATUS_TOO_LARGE;
	for (uint8_t i = 0; i < query->tags_count; i++) {
		if (query->tags[i].size > TAG_SIZE_MAX)
			return STATUS_TOO_LARGE;
	}
	return query->limit > UINT16_MAX ? STATUS_BAD_REQUEST : STATUS_OK;
}

int box_client_send_search(struct box_client *client, const struct search_query *query,
			   uint64_t *request_id)
{
	if (search_check(query) != STATUS_OK)
		return -EINVAL;
	struct client_request r = { .opcode = PROTO_SEARCH, .search = query };
	return client_queue(client, &r, request_id);
}

int box_client_send_command(struct box_client *client, const struct command *command,
			    uint64_t *request_id)
{
	if (command->type == COMMAND_TICK || command_validate(command) != STATUS_OK)
		return -EINVAL;
	struct client_request r = { .opcode = (uint16_t)(PROTO_COMMAND_BASE + command->type),
				    .command = command };
	return client_queue(client, &r, request_id);
}

int box_client_send_wait(struct box_client *client, const struct proto_wait *wait,
			 uint64_t *request_id)
{
	struct client_request r = { .opcode = PROTO_WAIT, .wait = *wait };
	return client_queue(client, &r, request_id);
}

int box_client_send_empty(struct box_client *client, uint16_t opcode, uint64_t *request_id)
{
	ASSERT(opcode == PROTO_STATS || opcode == PROTO_SNAPSHOT);
	struct client_request r = { .opcode = opcode };
	return client_queue(client, &r, request_id);
}

/* Moving bytes. */

/* Writes what the socket takes; returns 0 or a negative errno. */
static int client_write(struct box_client *c)
{
	while (c->output_begin < c->output_end) {
		ssize_t n = send(c->fd, c->output + c->output_begin, c->output_end - c->output_begin,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return errno == EPIPE ? -ECONNRESET : -errno;
		c->output_begin += (size_t)n;
	}
	c->output_begin = c->output_end = 0;
	return 0;
}

/* Frees what the last call handed out; the input buffer may move from here on. */
static void client_release(struct box_client *c)
{
	c->input_begin = c->input_handed;
	if (c->input_begin == c->input_end)
		c->input_begin = c->input_handed = c->input_end = 0;
}

/* Makes room for the rest of the frame being received (or at least one byte). */
static int input_make_room(struct box_client *c)
{
	ASSERT(c->input_begin == c->input_handed);
	size_t pending = c->input_end - c->input_begin;
	size_t want = pending + 1;
	if (pending >= 4) {
		uint32_t size = proto_frame_size(c->input + c->input_begin);
		if (size <= PROTO_FRAME_SIZE_MAX && (size_t)size + 4 > want)
			want = (size_t)size + 4;
	}
	if (c->input_begin > 0 && c->input_begin + want > c->input_capacity) {
		memmove(c->input, c->input + c->input_begin, pending);
		c->input_begin = c->input_handed = 0;
		c->input_end = pending;
	}
	if (want > c->input_capacity) {
		size_t capacity = c->input_capacity * 2;
		capacity = capacity < want ? want : capacity;
		capacity = capacity > INPUT_SIZE_MAX ? INPUT_SIZE_MAX : capacity;
		uint8_t *input = realloc(c->input, capacity);
		if (input == NULL)
			return -ENOMEM;
		c->input = input;
		c->input_capacity = capacity;
	}
	return 0;
}

/* One recv: 1 when bytes came, 0 when there were none, or a negative errno. */
static int client_read(struct box_client *c)
{
	int rc = input_make_room(c);
	if (rc < 0)
		return rc;
	for (;;) {
		ssize_t n = recv(c->fd, c->input + c->input_end, c->input_capacity - c->input_end,
				 MSG_DONTWAIT);
		if (n > 0) {
			c->input_end += (size_t)n;
			return 1;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* Checks a response header against the request in flight with its id, and retires it. */
static int slot_retire(struct box_client *c, const struct proto_header *header)
{
	if (!(header->opcode & PROTO_RESPONSE_BIT) || header->word >= STATUS_COUNT ||
	    header->request_id == 0)
		return -EPROTO;
	struct client_slot *slot = &c->slots[header->request_id & (c->options.inflight_max - 1)];
	if (slot->request_id != header->request_id ||
	    slot->opcode != (header->opcode & (uint16_t)~PROTO_RESPONSE_BIT))
		return -EPROTO;
	*slot = (struct client_slot){ 0 };
	c->inflight--;
	return 0;
}

/* The size of the complete frame at input_handed: > 0, 0 when it is not all here, or -EPROTO. */
static int64_t frame_ready(const struct box_client *c)
{
	size_t available = c->input_end - c->input_handed;
	if (available < 4)
		return 0;
	uint32_t size = proto_frame_size(c->input + c->input_handed);
	if (size > PROTO_FRAME_SIZE_MAX || size < PROTO_HEADER_SIZE - 4)
		return -EPROTO;
	return available < (size_t)size + 4 ? 0 : (int64_t)size + 4;
}

/* Hands out the next complete frame: 1, 0 when there is none yet, or -EPROTO. */
static int frame_take(struct box_client *c, struct box_response *response)
{
	int64_t size = frame_ready(c);
	if (size <= 0)
		return (int)size;
	const uint8_t *frame = c->input + c->input_handed;
	struct proto_header header;
	if (proto_header_decode(frame, &header) != STATUS_OK || slot_retire(c, &header) < 0)
		return -EPROTO;
	*response = (struct box_response){
		.request_id = header.request_id,
		.opcode = header.opcode & (uint16_t)~PROTO_RESPONSE_BIT,
		.status = (enum status)header.word,
		.payload = frame + PROTO_HEADER_SIZE,
		.payload_size = (uint32_t)size - PROTO_HEADER_SIZE,
	};
	c->input_handed += (size_t)size;
	return 1;
}

/* Waits until the socket can be read (or written, while requests are queued). */
static int client_wait_io(struct box_client *c, int64_t deadline_ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	if (box_client_wants_write(c))
		p.events |= POLLOUT;
	int timeout = -1;
	if (deadline_ms >= 0) {
		int64_t left = deadline_ms - clock_ms();
		timeout = left > 0 ? (int)(left < INT32_MAX ? left : INT32_MAX) : 0;
	}
	int n = poll(&p, 1, timeout);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

int box_client_flush(struct box_client *client, int timeout_ms)
{
	if (client->error != 0)
		return client->error;
	int64_t deadline = timeout_ms < 0 ? -1 : clock_ms() + timeout_ms;
	for (;;) {
		int rc = client_write(client);
		if (rc < 0)
			return client_fail(client, rc);
		if (!box_client_wants_write(client))
			return 0;
		struct pollfd p = { .fd = client->fd, .events = POLLOUT };
		int64_t left = deadline < 0 ? -1 : deadline - clock_ms();
		if (deadline >= 0 && left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)(left > INT32_MAX ? INT32_MAX : left)) < 0 && errno != EINTR)
			return client_fail(client, -errno);
	}
}

int box_client_next(struct box_client *client, struct box_response *response, int timeout_ms)
{
	struct box_client *c = client;
	*response = (struct box_response){ 0 };
	if (c->error != 0)
		return c->error;
	client_release(c);
	int64_t deadline = timeout_ms < 0 ? -1 : clock_ms() + timeout_ms;
	for (;;) {
		int rc = frame_take(c, response);
		if (rc != 0)
			return rc < 0 ? client_fail(c, rc) : 0;
		if (c->inflight == 0 && c->input_end == c->input_handed)
			return -ETIMEDOUT;
		rc = client_write(c);
		if (rc >= 0)
			rc = client_read(c);
		if (rc < 0)
			return client_fail(c, rc);
		if (rc > 0)
			continue;
		rc = client_wait_io(c, deadline);
		if (rc == -ETIMEDOUT)
			return rc;
		if (rc < 0)
			return client_fail(c, rc);
	}
}

int box_client_poll_responses(struct box_client *client, struct box_response *responses,
			      uint32_t capacity)
{
	struct box_client *c = client;
	if (c->error != 0)
		return c->error;
	client_release(c);
	int rc = client_write(c);
	if (rc < 0)
		return client_fail(c, rc);
	/* Reading moves the input buffer, so read only when nothing complete is waiting. */
	int64_t ready = frame_ready(c);
	if (ready < 0)
		return client_fail(c, (int)ready);
	if (ready == 0) {
		rc = client_read(c);
		if (rc < 0)
			return client_fail(c, rc);
	}
	uint32_t count = 0;
	while (count < capacity) {
		rc = frame_take(c, &responses[count]);
		if (rc < 0)
			return client_fail(c, rc);
		if (rc == 0)
			break;
		count++;
	}
	return (int)count;
}

/* Blocking calls. */

/* Sends one request and waits for its response, the only one in flight. */
static int client_call(struct box_client *c, const struct client_request *request,
		       int timeout_ms, struct box_response *response)
{
	if (c->error != 0)
		return c->error;
	ASSERT(c->inflight == 0);
	uint64_t id;
	int rc = client_queue(c, request, &id);
	if (rc < 0)
		return rc;
	rc = box_client_next(c, response, timeout_ms);
	/* A late answer would be taken for the next call's: the stream is out of step. */
	if (rc < 0)
		return client_fail(c, rc);
	ASSERT(response->request_id == id);
	return 0;
}

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

static int hello_decode(struct box_client *c, const struct box_response *response)
{
	struct bytes_reader r;
	struct text version;
	response_reader(&r, response);
	c->server.version = bytes_get_u16(&r);
	c->server.frame_size_max = bytes_get_u32(&r);
	c->server.workers = bytes_get_u16(&r);
	c->server.hold_seats_max = bytes_get_u16(&r);
	c->server.wait_timeout_ms_max = bytes_get_u32(&r);
	bool ok = proto_get_text(&r, &version, UINT16_MAX);
	size_t size = version.size < BOX_SERVER_VERSION_SIZE_MAX ? version.size
								 : BOX_SERVER_VERSION_SIZE_MAX;
	if (ok && size > 0)
		memcpy(c->server.server_version, version.bytes, size);
	c->server.server_version[size] = '\0';
	ok = ok && c->server.frame_size_max >= PROTO_HEADER_SIZE - 4;
	if (c->server.frame_size_max > PROTO_FRAME_SIZE_MAX)
		c->server.frame_size_max = PROTO_FRAME_SIZE_MAX;
	return reader_finish(c, &r, ok);
}

static int client_handshake(struct box_client *c, char *error, size_t error_size)
{
	struct text name = text_from_cstr(c->options.name ? c->options.name : "");
	if (name.size > PROTO_NAME_SIZE_MAX)
		name.size = PROTO_NAME_SIZE_MAX;
	struct proto_hello hello = { .version_min = PROTO_VERSION, .version_max = PROTO_VERSION,
				     .client = name };
	struct client_request request = { .opcode = PROTO_HELLO, .hello = &hello };
	struct box_response response;
	int rc = client_call(c, &request, c->options.connect_timeout_ms, &response);
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
	if (c->server.version != PROTO_VERSION) {
		snprintf(error, error_size, "the server speaks protocol version %u, not %u",
			 c->server.version, PROTO_VERSION);
		return client_fail(c, -EPROTO);
	}
	return 0;
}

struct box_client *box_client_connect_options(const char *host, const char *port,
					      const struct box_client_options *options,
					      char *error, size_t error_size)
{
	ASSERT(options->inflight_max >= 1 && options->inflight_max <= INFLIGHT_MAX_LIMIT);
	ASSERT((options->inflight_max & (options->inflight_max - 1)) == 0);
	ASSERT(options->send_buffer_size >= SEND_BUFFER_SIZE_MIN);
	ASSERT(options->connect_timeout_ms > 0 && options->timeout_ms > 0);
	int fd = tcp_connect(host, port, options->connect_timeout_ms, error, error_size);
	if (fd < 0)
		return NULL;
	struct box_client *c = client_create(fd, options);
	if (c == NULL) {
		close(fd);
		snprintf(error, error_size, "out of memory");
		return NULL;
	}
	char message[256];
	if (client_handshake(c, message, sizeof(message)) < 0) {
		char address[300];
		address_format(host, port, address, sizeof(address));
		snprintf(error, error_size, "%s: %s", address, message);
		box_client_close(c);
		return NULL;
	}
	return c;
}

struct box_client *box_client_connect(const char *host, const char *port, char *error,
				      size_t error_size)
{
	struct box_client_options options;
	box_client_options_default(&options);
	return box_client_connect_options(host, port, &options, error, error_size);
}

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
	struct bytes_reader r;
	response_reader(&r, &response);
	uint16_t n = bytes_get_u16(&r);
	if (n > limit || !count_fits(&r, n, 4 + 2 + COUNTRY_SIZE + 12))
		return reader_finish(client, &r, false);
	struct engine_location *items = client_scratch(client, n * sizeof(*items));
	if (n > 0 && items == NULL)
		return client_fail(client, -ENOMEM);
	bool ok = true;
	for (uint16_t i = 0; i < n && ok; i++)
		ok = proto_get_location(&r, &items[i]);
	*locations = items;
	*count = n;
	return reader_finish(client, &r, ok);
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
	struct bytes_reader r;
	response_reader(&r, &response);
	uint16_t n = bytes_get_u16(&r);
	if (n > limit || !count_fits(&r, n, 4 + 4 + 2 + 2 + 1 + 2 + 4 + 1 + 4))
		return reader_finish(client, &r, false);
	struct engine_event_info *items = client_scratch(client, n * sizeof(*items));
	if (n > 0 && items == NULL)
		return client_fail(client, -ENOMEM);
	bool ok = true;
	for (uint16_t i = 0; i < n && ok; i++)
		ok = proto_get_event(&r, &items[i]);
	*events = items;
	*count = n;
	return reader_finish(client, &r, ok);
}

static bool event_show_get(struct bytes_reader *r, struct box_event_show *show)
{
	show->show_id = bytes_get_u32(r);
	show->start_ms = (int64_t)bytes_get_u64(r);
	show->end_ms = (int64_t)bytes_get_u64(r);
	show->venue_id = bytes_get_u32(r);
	proto_get_text(r, &show->venue_name, NAME_SIZE_MAX);
	return proto_get_text(r, &show->venue_address, ADDRESS_SIZE_MAX);
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
	struct bytes_reader r;
	response_reader(&r, &response);
	bool ok = proto_get_event(&r, event);
	uint16_t n = bytes_get_u16(&r);
	if (!ok || !count_fits(&r, n, 4 + 8 + 8 + 4 + 2 + 2))
		return reader_finish(client, &r, false);
	struct box_event_show *items = client_scratch(client, n * sizeof(*items));
	if (n > 0 && items == NULL)
		return client_fail(client, -ENOMEM);
	for (uint16_t i = 0; i < n && ok; i++)
		ok = event_show_get(&r, &items[i]);
	*shows = items;
	*shows_count = n;
	return reader_finish(client, &r, ok);
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

/* Payload: u32 venue id, u32 layout size, layout, u32 seat count, packed states. */
static int seatmap_decode(struct bytes_reader *r, struct box_seatmap *m)
{
	m->venue_id = bytes_get_u32(r);
	uint32_t size = bytes_get_u32(r);
	const uint8_t *layout = size <= COMMAND_SIZE_MAX ? bytes_take(r, size) : NULL;
	if (layout == NULL || size == 0)
		return -EPROTO;
	m->layout_bytes = malloc(size);
	if (m->layout_bytes == NULL)
		return -ENOMEM;
	memcpy(m->layout_bytes, layout, size);
	if (layout_parse(m->layout_bytes, size, &m->layout) != STATUS_OK)
		return -EPROTO;
	m->seats_count = m->layout.seats_count;
	m->states = malloc(m->seats_count);
	if (m->states == NULL)
		return -ENOMEM;
	if (!proto_get_states(r, m->states, m->seats_count) || !bytes_reader_done(r))
		return -EPROTO;
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
	uint16_t n = bytes_get_u16(&r);
	uint8_t flag = bytes_get_u8(&r);
	*count = 0;
	*more = flag == 1;
	if (n > capacity || flag > 1)
		return -EPROTO;
	bool ok = true;
	for (uint16_t i = 0; i < n && ok; i++)
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
	*status = search_check(query);
	if (*status != STATUS_OK)
		return 0;
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
	ASSERT(command->type != COMMAND_TICK);
	/* The encoder asserts a valid command: refuse an invalid one here, unsent. */
	enum status status = command_validate(command);
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
	struct bytes_reader r;
	response_reader(&r, &response);
	uint16_t n = bytes_get_u16(&r);
	if (n > PROTO_STATS_COUNT_MAX || !count_fits(&r, n, 2 + 8))
		return reader_finish(client, &r, false);
	struct box_stat *items = client_scratch(client, n * sizeof(*items));
	if (n > 0 && items == NULL)
		return client_fail(client, -ENOMEM);
	bool ok = true;
	for (uint16_t i = 0; i < n && ok; i++) {
		ok = proto_get_text(&r, &items[i].name, NAME_SIZE_MAX);
		items[i].value = (int64_t)bytes_get_u64(&r);
	}
	*stats = items;
	*count = n;
	return reader_finish(client, &r, ok);
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
	uint16_t n = bytes_get_u16(&r);
	if (!count_fits(&r, n, 8))
		return reader_finish(client, &r, false);
	uint64_t *items = client_scratch(client, n * sizeof(*items));
	if (n > 0 && items == NULL)
		return client_fail(client, -ENOMEM);
	for (uint16_t i = 0; i < n; i++)
		items[i] = bytes_get_u64(&r);
	*lsns = items;
	*shards_count = n;
	return reader_finish(client, &r, true);
}
