/*
 * net_bench — requests per second and latency of a running server over loopback,
 * with durability on: N connections from one thread, each keeping D requests in
 * flight (D = 1: unpipelined). The connections run on one io_uring: a multishot
 * receive per connection into a ring of provided buffers, and one send per
 * connection per loop, all submitted in one system call, so the load generator
 * spends its CPU on the TCP work it must do rather than on readiness calls.
 *
 * Usage: net_bench --server HOST:PORT [--connections N] [--pipeline D] [--seconds S]
 *                  [--op holds|show|ping] [--shard-aware] [--rate R]
 *                  [--idle N --server-pid PID]
 *   holds  a best-available hold of one seat, then its release, then again: every
 *          request is a durable change (the default)
 *   show   show details (a read answered by the show's owner)
 *   ping   the protocol's echo (no engine, no log)
 *   --shard-aware  each connection asks only about shows of the shard serving it (as
 *          its HELLO says; PROTOCOL.md, "Shard-aware clients"), so that no request is
 *          handed between the server's threads; figures are named durable_aware_...
 *   --rate  offered requests per second in total (open loop, latency measured from
 *           each request's intended send time; what is due at one wake-up, at least
 *           50 us apart, is sent on one connection); 0 = as fast as possible
 *   --idle  instead, open N idle connections and report the server's memory per
 *           connection (from /proc/PID/status)
 * The benchmark puts its own catalog (location 9000, a 60,000-seat venue, shows
 * 90001-90032) so that seats never run out. Prints `name: value unit` lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "bench_time.h"
#include "demo.h"
#include "histogram.h"
#include "protocol.h"

#define SHOWS_COUNT 32u
#define SHOW_FIRST 90001u
#define PIPELINE_MAX 256u
#define REQUEST_SIZE_MAX 64u
#define RECV_BUFFERS_COUNT 4096u
#define RECV_BUFFER_SIZE 4096u
#define RECV_GROUP 1

enum op { OP_HOLDS, OP_SHOW, OP_PING };

struct slot {
	uint64_t hold_id; /* the hold to release next, 0: hold next */
	int64_t sent_ns;  /* intended send time */
	bool busy;
};

/*
 * Output: bytes [out_head, out_size) are unsent; while a send is in flight it
 * covers [out_head, sending_end) and new requests are appended after out_size.
 * Every slot has at most one request in the buffer, so it never overflows.
 */
struct connection {
	int fd;
	uint32_t index;
	uint8_t *in; /* a response cut between receive buffers, PROTO_FRAME_SIZE_MAX + 4 */
	uint32_t in_size;
	uint8_t out[PIPELINE_MAX * REQUEST_SIZE_MAX];
	uint32_t out_head;
	uint32_t out_size;
	bool sending;
	bool dirty; /* on the list of connections with output to send */
	struct slot slots[PIPELINE_MAX];
	uint32_t in_flight;
	uint16_t shard; /* serving this connection, from its HELLO */
};

static struct {
	const char *host;
	const char *port;
	uint32_t connections;
	uint32_t pipeline;
	double seconds;
	enum op op;
	double rate;
	uint32_t idle;
	int server_pid;
	bool shard_aware;
} options = { .host = "127.0.0.1", .port = "7878", .connections = 64, .pipeline = 1,
	      .seconds = 5, .op = OP_HOLDS };

static struct histogram latency;
static uint64_t statuses[STATUS_COUNT];
static uint64_t completed;

static void fatal(const char *what, const char *detail)
{
	fprintf(stderr, "net_bench: %s: %s\n", what, detail);
	exit(1);
}

static int connect_to(void)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *found;
	int error = getaddrinfo(options.host, options.port, &hints, &found);
	if (error != 0)
		fatal("getaddrinfo", gai_strerror(error));
	int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, found->ai_addr, found->ai_addrlen) < 0)
		fatal("connect", strerror(errno));
	freeaddrinfo(found);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void write_all(int fd, const uint8_t *bytes, size_t size)
{
	while (size > 0) {
		ssize_t n = write(fd, bytes, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fatal("write", strerror(errno));
		bytes += n;
		size -= (size_t)n;
	}
}

/* Reads one whole frame, blocking (set-up only). */
static void read_frame(int fd, uint8_t *frame, struct proto_header *header)
{
	size_t got = 0, want = 4;
	while (got < want) {
		ssize_t n = read(fd, frame + got, want - got);
		if (n <= 0)
			fatal("read", n == 0 ? "closed" : strerror(errno));
		got += (size_t)n;
		if (got == 4) {
			want = 4 + (size_t)proto_frame_size(frame);
			if (want < PROTO_HEADER_SIZE || want > PROTO_FRAME_SIZE_MAX + 4)
				fatal("read", "a frame of impossible size");
		}
	}
	proto_header_decode(frame, header);
}

/* A blocking request and its status, for set-up. */
static enum status call(int fd, const uint8_t *request, size_t size)
{
	static uint8_t frame[PROTO_FRAME_SIZE_MAX + 4];
	write_all(fd, request, size);
	struct proto_header header;
	read_frame(fd, frame, &header);
	return (enum status)header.word;
}

static uint16_t server_workers;

/* The handshake; returns the shard serving the connection. */
static uint16_t hello(int fd)
{
	uint8_t buffer[128];
	struct bytes_writer w;
	bytes_writer_init(&w, buffer, sizeof(buffer));
	struct proto_hello hello = { .version_min = PROTO_VERSION_MIN, .version_max = PROTO_VERSION,
				     .client = text_from_cstr("net_bench") };
	proto_encode_hello(&w, 1, &hello);
	write_all(fd, buffer, w.size);
	static uint8_t frame[PROTO_FRAME_SIZE_MAX + 4];
	struct proto_header header;
	read_frame(fd, frame, &header);
	if (header.opcode != (PROTO_HELLO | PROTO_RESPONSE_BIT) ||
	    (enum status)header.word != STATUS_OK)
		fatal("hello", "refused");
	struct bytes_reader r;
	bytes_reader_init(&r, frame + PROTO_HEADER_SIZE, header.size - (PROTO_HEADER_SIZE - 4));
	struct proto_hello_info info;
	if (!proto_get_hello_info(&r, &info) || info.workers == 0 ||
	    info.version < PROTO_VERSION_MIN || info.version > PROTO_VERSION)
		fatal("hello", "malformed answer");
	server_workers = info.workers;
	if (options.shard_aware && info.version < 2)
		fatal("--shard-aware", "the server speaks protocol version 1: no shard in its HELLO");
	return info.shard;
}

/* The benchmark's shows by the shard that owns them, for --shard-aware: every shard must
 * own one, so there can be no more shards than shows. */
static uint32_t shard_shows[SHOWS_COUNT][SHOWS_COUNT];
static uint32_t shard_shows_count[SHOWS_COUNT];

static void shard_shows_sort(void)
{
	if (server_workers > SHOWS_COUNT)
		fatal("--shard-aware", "more shards than the benchmark has shows");
	for (uint32_t i = 0; i < SHOWS_COUNT; i++) {
		uint32_t shard = engine_show_shard(SHOW_FIRST + i, server_workers);
		shard_shows[shard][shard_shows_count[shard]++] = SHOW_FIRST + i;
	}
	for (uint32_t shard = 0; shard < server_workers; shard++) {
		if (shard_shows_count[shard] == 0)
			fatal("--shard-aware", "a shard owns none of the benchmark's shows");
	}
}

static struct layout_builder layout;

/* The benchmark's own catalog: puts are idempotent, so reruns are fine. */
static void catalog_put(int fd)
{
	static uint8_t buffer[PROTO_FRAME_SIZE_MAX + 4];
	struct command c[3 + SHOWS_COUNT];
	uint32_t n = 0;
	c[n] = (struct command){ .type = COMMAND_LOCATION_PUT };
	c[n++].location_put = (struct command_location_put){
		.location_id = 9000, .name = text_from_cstr("Bench City"), .country = { 'X', 'X' } };
	layout_builder_init(&layout);
	for (int s = 0; s < 30; s++) {
		char name[16];
		snprintf(name, sizeof(name), "S%d", s + 1);
		layout_builder_section(&layout, name);
		for (int r = 0; r < 40; r++) {
			snprintf(name, sizeof(name), "%d", r + 1);
			layout_builder_row(&layout, name, 1, 50, s < 3 ? TIER_VIP : TIER_ECONOMY);
		}
	}
	c[n] = (struct command){ .type = COMMAND_VENUE_PUT };
	c[n].venue_put = (struct command_venue_put){ .venue_id = 9000, .location_id = 9000,
						     .name = text_from_cstr("Bench Stadium") };
	layout_builder_layout(&layout, &c[n++].venue_put.layout);
	c[n] = (struct command){ .type = COMMAND_EVENT_PUT };
	c[n++].event_put = (struct command_event_put){ .event_id = 9000, .location_id = 9000,
						       .title = text_from_cstr("Bench Final") };
	for (uint32_t i = 0; i < SHOWS_COUNT; i++) {
		c[n] = (struct command){ .type = COMMAND_SHOW_PUT };
		c[n++].show_put = (struct command_show_put){
			.show_id = SHOW_FIRST + i, .event_id = 9000, .venue_id = 9000,
			.start_ms = 4102444800000LL, .end_ms = 4102444800000LL + 7200000,
			.currency = { 'E', 'U', 'R' }, .sale_closes_ms = 4102444800000LL };
	}
	for (uint32_t i = 0; i < n; i++) {
		struct bytes_writer w;
		bytes_writer_init(&w, buffer, sizeof(buffer));
		proto_encode_command(&w, 1, &c[i]);
		enum status status = call(fd, buffer, w.size);
		if (status != STATUS_OK)
			fatal("catalog put", status_name(status));
	}
}

static struct connection *connections;
static struct io_uring ring;
static struct io_uring_buf_ring *recv_ring;
static uint8_t *recv_buffers;
static uint32_t *dirty; /* indexes of connections with output to send */
static uint32_t dirty_count;

/* Queues the next request of a slot into its connection's output. */
static void slot_send(struct connection *c, uint32_t slot_index, int64_t intended_ns)
{
	struct slot *slot = &c->slots[slot_index];
	struct bytes_writer w;
	bytes_writer_init(&w, c->out + c->out_size, sizeof(c->out) - c->out_size);
	uint32_t show = SHOW_FIRST + (c->index * 7 + slot_index) % SHOWS_COUNT;
	if (options.shard_aware)
		show = shard_shows[c->shard][(c->index * 7 + slot_index) % shard_shows_count[c->shard]];
	uint64_t user = (uint64_t)c->index << 16 | (slot_index + 1);
	struct command command;
	if (options.op == OP_PING) {
		size_t start = w.size;
		proto_request_begin(&w, PROTO_PING, slot_index);
		bytes_put_u64(&w, 0);
		proto_frame_end(&w, start);
	} else if (options.op == OP_SHOW) {
		proto_encode_id(&w, PROTO_SHOW, slot_index, show);
	} else if (slot->hold_id == 0) {
		command = (struct command){ .type = COMMAND_HOLD };
		command.hold = (struct command_hold){ .show_id = show, .user_id = user, .best = true,
						      .seats_count = 1, .tier = TIER_ECONOMY };
		proto_encode_command(&w, slot_index, &command);
	} else {
		command = (struct command){ .type = COMMAND_RELEASE };
		command.release = (struct command_release){ .hold_id = slot->hold_id, .user_id = user };
		proto_encode_command(&w, slot_index, &command);
	}
	if (w.failed || w.size > REQUEST_SIZE_MAX)
		fatal("encode", "a request larger than REQUEST_SIZE_MAX");
	c->out_size += (uint32_t)w.size;
	slot->busy = true;
	slot->sent_ns = intended_ns;
	c->in_flight++;
	if (!c->dirty) {
		c->dirty = true;
		dirty[dirty_count++] = c->index;
	}
}

static struct io_uring_sqe *sqe_get(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	if (sqe == NULL) {
		io_uring_submit(&ring);
		sqe = io_uring_get_sqe(&ring);
	}
	if (sqe == NULL)
		fatal("io_uring", "no submission entry");
	return sqe;
}

/* One send of everything unsent, unless one is in flight (its completion sends the rest). */
static void send_arm(struct connection *c)
{
	if (c->sending || c->out_head == c->out_size)
		return;
	if (c->out_head > 0) {
		memmove(c->out, c->out + c->out_head, c->out_size - c->out_head);
		c->out_size -= c->out_head;
		c->out_head = 0;
	}
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_send(sqe, c->fd, c->out, c->out_size, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, (uint64_t)c->index << 1 | 1);
	c->sending = true;
}

static void send_complete(struct connection *c, int32_t result)
{
	if (result <= 0)
		fatal("send", result == 0 ? "sent nothing" : strerror(-result));
	c->sending = false;
	c->out_head += (uint32_t)result;
	send_arm(c);
}

static void recv_arm(struct connection *c)
{
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = RECV_GROUP;
	io_uring_sqe_set_data64(sqe, (uint64_t)c->index << 1);
}

/* Handles one response; returns the slot it freed. */
static uint32_t response_handle(struct connection *c, const uint8_t *frame, int64_t now_ns)
{
	struct proto_header header;
	proto_header_decode(frame, &header);
	uint32_t slot_index = (uint32_t)header.request_id;
	if (slot_index >= PIPELINE_MAX || !c->slots[slot_index].busy)
		fatal("response", "for no request in flight");
	struct slot *slot = &c->slots[slot_index];
	enum status status = (enum status)header.word;
	statuses[status < STATUS_COUNT ? status : STATUS_INTERNAL]++;
	int64_t waited_ns = now_ns - slot->sent_ns;
	histogram_record(&latency, waited_ns > 0 ? (uint64_t)waited_ns / 1000 : 0);
	completed++;
	if (options.op == OP_HOLDS) {
		uint16_t opcode = header.opcode & (uint16_t)~PROTO_RESPONSE_BIT;
		if (opcode == PROTO_HOLD && status == STATUS_OK)
			slot->hold_id = bytes_load_u64(frame + PROTO_HEADER_SIZE);
		else if (opcode == PROTO_RELEASE)
			slot->hold_id = 0;
	}
	slot->busy = false;
	c->in_flight--;
	return slot_index;
}

/* Handles the whole responses in bytes; in closed loop, refills their slots.
 * Returns how many bytes were used. */
static uint32_t responses_handle(struct connection *c, const uint8_t *bytes, uint32_t size,
				 int64_t now_ns)
{
	uint32_t offset = 0;
	while (size - offset >= 4 && size - offset >= 4 + proto_frame_size(bytes + offset)) {
		uint32_t slot = response_handle(c, bytes + offset, now_ns);
		if (options.rate == 0)
			slot_send(c, slot, now_ns);
		offset += 4 + proto_frame_size(bytes + offset);
	}
	return offset;
}

static void received(struct connection *c, const uint8_t *bytes, uint32_t size, int64_t now_ns)
{
	if (c->in_size == 0) {
		/* Usual case: whole responses straight from the receive buffer. */
		uint32_t used = responses_handle(c, bytes, size, now_ns);
		bytes += used;
		size -= used;
		if (size == 0)
			return;
	}
	if (c->in_size + size > PROTO_FRAME_SIZE_MAX + 4)
		fatal("read", "a response larger than the largest frame");
	memcpy(c->in + c->in_size, bytes, size);
	c->in_size += size;
	uint32_t used = responses_handle(c, c->in, c->in_size, now_ns);
	memmove(c->in, c->in + used, c->in_size - used);
	c->in_size -= used;
}

static void recv_complete(struct connection *c, const struct io_uring_cqe *cqe, int64_t now_ns)
{
	if (cqe->res == 0)
		fatal("read", "the server closed the connection");
	if (cqe->res < 0 && cqe->res != -ENOBUFS)
		fatal("read", strerror(-cqe->res));
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		uint16_t id = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		uint8_t *buffer = recv_buffers + (size_t)id * RECV_BUFFER_SIZE;
		received(c, buffer, (uint32_t)cqe->res, now_ns);
		io_uring_buf_ring_add(recv_ring, buffer, RECV_BUFFER_SIZE, id,
				      io_uring_buf_ring_mask(RECV_BUFFERS_COUNT), 0);
		io_uring_buf_ring_advance(recv_ring, 1);
	}
	if (!(cqe->flags & IORING_CQE_F_MORE))
		recv_arm(c);
}

static void ring_open(uint32_t count)
{
	struct io_uring_params params = { .flags = IORING_SETUP_SINGLE_ISSUER |
						   IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE,
					  .cq_entries = 65536 };
	int error = io_uring_queue_init_params(4096, &ring, &params);
	if (error < 0)
		fatal("io_uring_queue_init", strerror(-error));
	/* (Debian 12's liburing has no io_uring_setup_buf_ring: the ring is mapped here.) */
	size_t ring_size = sizeof(struct io_uring_buf) * RECV_BUFFERS_COUNT;
	recv_ring = mmap(NULL, ring_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (recv_ring == MAP_FAILED)
		fatal("mmap", strerror(errno));
	struct io_uring_buf_reg registration = { .ring_addr = (uint64_t)(uintptr_t)recv_ring,
						 .ring_entries = RECV_BUFFERS_COUNT,
						 .bgid = RECV_GROUP };
	error = io_uring_register_buf_ring(&ring, &registration, 0);
	if (error < 0)
		fatal("io_uring_register_buf_ring", strerror(-error));
	io_uring_buf_ring_init(recv_ring);
	recv_buffers = malloc((size_t)RECV_BUFFERS_COUNT * RECV_BUFFER_SIZE);
	dirty = malloc(sizeof(*dirty) * count);
	if (recv_buffers == NULL || dirty == NULL)
		fatal("malloc", "out of memory");
	for (uint32_t i = 0; i < RECV_BUFFERS_COUNT; i++)
		io_uring_buf_ring_add(recv_ring, recv_buffers + (size_t)i * RECV_BUFFER_SIZE,
				      RECV_BUFFER_SIZE, (unsigned short)i,
				      io_uring_buf_ring_mask(RECV_BUFFERS_COUNT), (int)i);
	io_uring_buf_ring_advance(recv_ring, RECV_BUFFERS_COUNT);
}

static void connections_open(uint32_t count, bool active)
{
	connections = calloc(count, sizeof(*connections));
	if (connections == NULL)
		fatal("calloc", "out of memory");
	if (active)
		ring_open(count);
	for (uint32_t i = 0; i < count; i++) {
		struct connection *c = &connections[i];
		c->index = i;
		c->fd = connect_to();
		c->shard = hello(c->fd); /* < server_workers: proto_get_hello_info checks it */
		if (!active)
			continue;
		c->in = malloc(PROTO_FRAME_SIZE_MAX + 4);
		if (c->in == NULL)
			fatal("malloc", "out of memory");
		recv_arm(c);
	}
}

/* Intended send times not yet sent (open loop): a ring. */
static int64_t *backlog;
static uint64_t backlog_head, backlog_tail;
#define BACKLOG_CAPACITY (1u << 22)

/*
 * Gives waiting requests (open loop) to free slots. What is due at one wake-up goes
 * out together on one connection, as a gateway writes what it has queued in one
 * send, and the next wake-up's on the next connection; a full connection passes
 * the rest on. (One request per connection per wake-up would cost a TCP segment
 * per request on both sides: at 500k/s, more CPU than the requests themselves.)
 */
static void backlog_assign(uint32_t *cursor)
{
	uint32_t tried = 0;
	bool assigned = false;
	while (backlog_head < backlog_tail && tried < options.connections) {
		struct connection *c = &connections[*cursor];
		if (c->in_flight >= options.pipeline) {
			*cursor = (*cursor + 1) % options.connections;
			tried++;
			continue;
		}
		tried = 0;
		assigned = true;
		uint32_t slot = 0;
		while (c->slots[slot].busy)
			slot++;
		slot_send(c, slot, backlog[backlog_head++ % BACKLOG_CAPACITY]);
	}
	if (assigned)
		*cursor = (*cursor + 1) % options.connections;
}

static void sends_arm(void)
{
	for (uint32_t i = 0; i < dirty_count; i++) {
		struct connection *c = &connections[dirty[i]];
		c->dirty = false;
		send_arm(c);
	}
	dirty_count = 0;
}

static void completions_handle(int64_t now_ns)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	io_uring_for_each_cqe(&ring, head, cqe)
	{
		uint64_t data = io_uring_cqe_get_data64(cqe);
		struct connection *c = &connections[data >> 1];
		if (data & 1)
			send_complete(c, cqe->res);
		else
			recv_complete(c, cqe, now_ns);
		seen++;
	}
	io_uring_cq_advance(&ring, seen);
}

static void run(double seconds)
{
	int64_t start = clock_ns(), warm = start + (int64_t)(seconds * 0.1 * NS_PER_S);
	int64_t end = start + (int64_t)(seconds * NS_PER_S);
	int64_t interval = options.rate > 0 ? (int64_t)(NS_PER_S / options.rate) : 0, next = start;
	uint32_t cursor = 0;
	bool warmed = false;
	uint64_t completed_at_warm = 0;
	histogram_reset(&latency);
	if (options.rate > 0) {
		backlog = malloc(sizeof(*backlog) * BACKLOG_CAPACITY);
		if (backlog == NULL || interval == 0)
			fatal("--rate", "out of memory, or above 1e9 requests/s");
	}
	for (uint32_t i = 0; i < options.connections && options.rate == 0; i++)
		for (uint32_t s = 0; s < options.pipeline; s++)
			slot_send(&connections[i], s, start);
	for (int64_t now = start; now < end; now = clock_ns()) {
		if (!warmed && now >= warm) {
			histogram_reset(&latency);
			memset(statuses, 0, sizeof(statuses));
			completed_at_warm = completed;
			warmed = true;
		}
		for (; options.rate > 0 && next <= now && backlog_tail - backlog_head < BACKLOG_CAPACITY;
		     next += interval)
			backlog[backlog_tail++ % BACKLOG_CAPACITY] = next;
		backlog_assign(&cursor);
		sends_arm();
		/* Open loop: wake when the next request is due, but batch sends over 50 us at
		 * high rates so that timer wake-ups do not eat the CPU the server needs. A
		 * late send still counts from its intended time. */
		int64_t wait = options.rate > 0 ? next - clock_ns() : 10 * NS_PER_MS;
		if (wait < 50000)
			wait = 50000;
		struct __kernel_timespec timeout = { .tv_sec = wait / NS_PER_S,
						     .tv_nsec = wait % NS_PER_S };
		struct io_uring_cqe *cqe;
		int error = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &timeout, NULL);
		if (error < 0 && error != -ETIME && error != -EINTR && error != -EBUSY)
			fatal("io_uring_submit_and_wait_timeout", strerror(-error));
		completions_handle(clock_ns());
	}
	double elapsed = (double)(end - warm) / NS_PER_S;
	uint64_t done = completed - completed_at_warm;
	const char *op = options.op == OP_HOLDS ? "durable" : options.op == OP_SHOW ? "show" : "ping";
	printf("%s%s_requests_per_s_%uconn_pipeline%u: %.0f requests/s\n", op,
	       options.shard_aware ? "_aware" : "", options.connections,
	       options.pipeline, (double)done / elapsed);
	if (options.rate > 0)
		printf("offered_rate: %.0f requests/s\n", options.rate);
	printf("latency_p50_us: %llu us\n", (unsigned long long)histogram_quantile(&latency, 0.50));
	printf("latency_p99_us: %llu us\n", (unsigned long long)histogram_quantile(&latency, 0.99));
	printf("latency_p999_us: %llu us\n",
	       (unsigned long long)histogram_quantile(&latency, 0.999));
	printf("statuses:");
	for (uint32_t s = 0; s < STATUS_COUNT; s++)
		if (statuses[s] > 0)
			printf(" %s=%llu", status_name(s), (unsigned long long)statuses[s]);
	printf("\n");
}

static long rss_kib(int pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *file = fopen(path, "r");
	long kib = -1;
	while (file && fgets(line, sizeof(line), file))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (file)
		fclose(file);
	return kib;
}

static void idle_measure(void)
{
	if (options.server_pid <= 0)
		fatal("--idle", "needs --server-pid");
	long before = rss_kib(options.server_pid);
	connections_open(options.idle, false);
	usleep(500000);
	long after = rss_kib(options.server_pid);
	printf("idle_connections: %u\n", options.idle);
	printf("server_rss_growth_mib: %.1f MiB\n", (double)(after - before) / 1024.0);
	printf("server_bytes_per_idle_connection: %.0f bytes\n",
	       (double)(after - before) * 1024.0 / options.idle);
}

static bool option(const char *name, int argc, char **argv, int *i, const char **value)
{
	if (strcmp(argv[*i], name) != 0 || *i + 1 >= argc)
		return false;
	*value = argv[++*i];
	return true;
}

int main(int argc, char **argv)
{
	static char server[256];
	prctl(PR_SET_TIMERSLACK, 1UL); /* timed waits end on time, not up to 50 us late */
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (option("--server", argc, argv, &i, &v)) {
			snprintf(server, sizeof(server), "%s", v);
			char *colon = strrchr(server, ':');
			if (colon == NULL)
				fatal("--server", "HOST:PORT");
			*colon = '\0';
			options.host = server;
			options.port = colon + 1;
		} else if (option("--connections", argc, argv, &i, &v)) {
			options.connections = (uint32_t)strtoul(v, NULL, 10);
		} else if (option("--pipeline", argc, argv, &i, &v)) {
			options.pipeline = (uint32_t)strtoul(v, NULL, 10);
		} else if (option("--seconds", argc, argv, &i, &v)) {
			options.seconds = atof(v);
		} else if (option("--rate", argc, argv, &i, &v)) {
			options.rate = atof(v);
		} else if (option("--idle", argc, argv, &i, &v)) {
			options.idle = (uint32_t)strtoul(v, NULL, 10);
		} else if (option("--server-pid", argc, argv, &i, &v)) {
			options.server_pid = atoi(v);
		} else if (strcmp(argv[i], "--shard-aware") == 0) {
			options.shard_aware = true;
		} else if (option("--op", argc, argv, &i, &v)) {
			options.op = strcmp(v, "show") == 0 ? OP_SHOW : strcmp(v, "ping") == 0 ? OP_PING
												  : OP_HOLDS;
		} else {
			fprintf(stderr, "usage: net_bench --server HOST:PORT [--connections N] "
					"[--pipeline D] [--seconds S] [--op holds|show|ping] "
					"[--shard-aware] [--rate R] [--idle N --server-pid PID]\n");
			return 64;
		}
	}
	if (options.pipeline == 0 || options.pipeline > PIPELINE_MAX || options.connections == 0)
		fatal("options", "--pipeline 1..256, --connections >= 1");
	if (options.shard_aware && (options.op == OP_PING || options.idle > 0))
		fatal("options", "--shard-aware is for requests about a show (holds, show)");
	struct rlimit limit;
	getrlimit(RLIMIT_NOFILE, &limit);
	limit.rlim_cur = limit.rlim_max;
	setrlimit(RLIMIT_NOFILE, &limit);
	if (options.idle > 0) {
		idle_measure();
		return 0;
	}
	int setup = connect_to();
	hello(setup);
	if (options.shard_aware)
		shard_shows_sort();
	catalog_put(setup);
	close(setup);
	connections_open(options.connections, true);
	run(options.seconds);
	layout_builder_finish(&layout);
	return 0;
}
