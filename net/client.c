/*
 * client.c — the protocol client's connection, transport and pipelining (see
 * client.h); the blocking calls and the response decoders are in client_calls.c.
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
#include "client_internal.h"

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

int client_fail(struct box_client *c, int error)
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

/*
 * A failed send or recv as this library reports it: a connection the peer closed or
 * stopped acknowledging (EPIPE, the socket's own ETIMEDOUT) is -ECONNRESET, so that
 * -ETIMEDOUT always means this library's timeout, after which a client may go on.
 */
static int socket_error(int error)
{
	return error == EPIPE || error == ETIMEDOUT ? -ECONNRESET : -error;
}

/* Returns 0 or an errno. */
static int socket_connect(int fd, const struct addrinfo *ai, int64_t deadline)
{
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
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

/* Returns a connected non-blocking socket, or -1 with a message in error. The
 * addresses resolved are tried in turn before the deadline, each with an equal share
 * of the time left, so that one that does not answer leaves time for the next. */
static int tcp_connect(const char *host, const char *port, int64_t deadline, char *error,
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
	uint32_t untried = 0;
	for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next)
		untried++;
	for (const struct addrinfo *ai = list; ai != NULL && fd < 0; ai = ai->ai_next, untried--) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		int64_t now = clock_ms();
		last = now < deadline ? socket_connect(fd, ai, now + (deadline - now) / untried)
				      : ETIMEDOUT;
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
	return client->write_error == 0 && client->output_end > client->output_begin;
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
	if (c->write_error != 0)
		return c->write_error;
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
enum status client_search_check(const struct search_query *query)
{
	if (query->keyword.size > SEARCH_KEYWORD_SIZE_MAX || query->tags_count > TAGS_COUNT_MAX)
		return STATUS_TOO_LARGE;
	for (uint8_t i = 0; i < query->tags_count; i++) {
		if (query->tags[i].size > TAG_SIZE_MAX)
			return STATUS_TOO_LARGE;
	}
	return query->limit > UINT16_MAX ? STATUS_BAD_REQUEST : STATUS_OK;
}

enum status client_command_check(const struct command *command)
{
	if (proto_opcode_command((uint16_t)(PROTO_COMMAND_BASE + command->type)) == 0)
		return STATUS_BAD_REQUEST;
	return command_validate(command);
}

int box_client_send_search(struct box_client *client, const struct search_query *query,
			   uint64_t *request_id)
{
	if (client->error != 0)
		return client->error;
	if (client_search_check(query) != STATUS_OK)
		return -EINVAL;
	struct client_request r = { .opcode = PROTO_SEARCH, .search = query };
	return client_queue(client, &r, request_id);
}

int box_client_send_command(struct box_client *client, const struct command *command,
			    uint64_t *request_id)
{
	if (client->error != 0)
		return client->error;
	if (client_command_check(command) != STATUS_OK)
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

/* Writes what the socket takes. A write it refuses is kept as write_error (see there):
 * the caller goes on reading the answers already on their way. */
static void client_write(struct box_client *c)
{
	while (c->write_error == 0 && c->output_begin < c->output_end) {
		ssize_t n = send(c->fd, c->output + c->output_begin, c->output_end - c->output_begin,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			c->write_error = socket_error(errno);
			return;
		}
		c->output_begin += (size_t)n;
	}
	if (c->write_error == 0)
		c->output_begin = c->output_end = 0;
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
			return socket_error(errno);
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
		client_write(client);
		if (client->write_error != 0)
			return client->write_error; /* the answers already sent can still be read */
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
		client_write(c);
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
	client_write(c);
	int rc;
	/* Reading moves the input buffer, so read only when nothing complete is waiting,
	 * and then until a frame is complete or the socket is empty: returning 0 must mean
	 * the socket has nothing more (edge-triggered callers rely on it), and a read may
	 * end within a frame's first bytes with the rest in the socket. */
	int64_t ready;
	while ((ready = frame_ready(c)) == 0) {
		rc = client_read(c);
		if (rc < 0)
			return client_fail(c, rc);
		if (rc == 0)
			break;
	}
	if (ready < 0)
		return client_fail(c, (int)ready);
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

/* Blocking calls: the one request in flight. */

int client_call(struct box_client *c, const struct client_request *request,
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

struct box_client *box_client_connect_options(const char *host, const char *port,
					      const struct box_client_options *options,
					      char *error, size_t error_size)
{
	ASSERT(options->inflight_max >= 1 && options->inflight_max <= INFLIGHT_MAX_LIMIT);
	ASSERT((options->inflight_max & (options->inflight_max - 1)) == 0);
	ASSERT(options->send_buffer_size >= SEND_BUFFER_SIZE_MIN);
	ASSERT(options->connect_timeout_ms > 0 && options->timeout_ms > 0);
	int64_t deadline = clock_ms() + options->connect_timeout_ms;
	int fd = tcp_connect(host, port, deadline, error, error_size);
	if (fd < 0)
		return NULL;
	struct box_client *c = client_create(fd, options);
	if (c == NULL) {
		close(fd);
		snprintf(error, error_size, "out of memory");
		return NULL;
	}
	char message[256];
	int64_t left = deadline - clock_ms();
	if (client_handshake(c, left > 0 ? (int)left : 1, message, sizeof(message)) < 0) {
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
