/*
 * net_bench — requests per second and latency of a running server over loopback,
 * with durability on: N connections from one thread (epoll), each keeping D
 * requests in flight (D = 1: unpipelined).
 *
 * Usage: net_bench --server HOST:PORT [--connections N] [--pipeline D] [--seconds S]
 *                  [--op holds|show|ping] [--rate R] [--idle N --server-pid PID]
 *   holds  a best-available hold of one seat, then its release, then again: every
 *          request is a durable change (the default)
 *   show   show details (a read answered by the show's owner)
 *   ping   the protocol's echo (no engine, no log)
 *   --rate  offered requests per second in total (open loop, latency measured from
 *           each request's intended send time); 0 = as fast as possible
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
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "demo.h"
#include "protocol.h"

#define SHOWS_COUNT 32u
#define SHOW_FIRST 90001u
#define PIPELINE_MAX 256u
#define HISTOGRAM_BUCKETS 4096u

enum op { OP_HOLDS, OP_SHOW, OP_PING };

struct slot {
	uint64_t hold_id; /* the hold to release next, 0: hold next */
	double sent;	  /* intended send time */
	bool busy;
};

struct connection {
	int fd;
	uint32_t index;
	uint8_t in[PROTO_FRAME_SIZE_MAX + 4];
	uint32_t in_size;
	uint8_t out[PIPELINE_MAX * 64];
	uint32_t out_size;
	struct slot slots[PIPELINE_MAX];
	uint32_t in_flight;
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
} options = { .host = "127.0.0.1", .port = "7878", .connections = 64, .pipeline = 1,
	      .seconds = 5, .op = OP_HOLDS };

/* A log-linear histogram of microseconds: ≤ 1% error above 100 us. */
static uint64_t histogram[HISTOGRAM_BUCKETS];
static uint64_t statuses[STATUS_COUNT];
static uint64_t completed;

static uint32_t bucket_of(double us)
{
	if (us < 100)
		return (uint32_t)us;
	uint32_t bucket = 100;
	double edge = 100;
	while (bucket < HISTOGRAM_BUCKETS - 1 && us >= edge * 1.01) {
		edge *= 1.01;
		bucket++;
	}
	return bucket;
}

static double bucket_value(uint32_t bucket)
{
	if (bucket < 100)
		return bucket + 0.5;
	double edge = 100;
	for (uint32_t b = 100; b < bucket; b++)
		edge *= 1.01;
	return edge * 1.005;
}

static double percentile(double p)
{
	uint64_t total = 0, seen = 0;
	for (uint32_t b = 0; b < HISTOGRAM_BUCKETS; b++)
		total += histogram[b];
	for (uint32_t b = 0; b < HISTOGRAM_BUCKETS; b++) {
		seen += histogram[b];
		if (seen > 0 && (double)seen >= p * (double)total)
			return bucket_value(b);
	}
	return 0;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

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
		if (got == 4)
			want = 4 + proto_frame_size(frame);
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

static void hello(int fd)
{
	uint8_t buffer[128];
	struct bytes_writer w;
	bytes_writer_init(&w, buffer, sizeof(buffer));
	struct proto_hello hello = { .version_min = 1, .version_max = 1,
				     .client = text_from_cstr("net_bench") };
	proto_encode_hello(&w, 1, &hello);
	if (call(fd, buffer, w.size) != STATUS_OK)
		fatal("hello", "refused");
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

/* Queues the next request of a slot into its connection's output. */
static void slot_send(struct connection *c, uint32_t slot_index, double intended)
{
	struct slot *slot = &c->slots[slot_index];
	struct bytes_writer w;
	bytes_writer_init(&w, c->out + c->out_size, sizeof(c->out) - c->out_size);
	uint32_t show = SHOW_FIRST + (c->index * 7 + slot_index) % SHOWS_COUNT;
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
	if (w.failed)
		fatal("encode", "output buffer full");
	c->out_size += (uint32_t)w.size;
	slot->busy = true;
	slot->sent = intended;
	c->in_flight++;
}

static void flush_out(struct connection *c)
{
	uint32_t done = 0;
	while (done < c->out_size) {
		ssize_t n = write(c->fd, c->out + done, c->out_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			fatal("write", strerror(errno));
		done += (uint32_t)n;
	}
	memmove(c->out, c->out + done, c->out_size - done);
	c->out_size -= done;
}

/* Handles one response; returns the slot it freed. */
static uint32_t response_handle(struct connection *c, const uint8_t *frame, double now)
{
	struct proto_header header;
	proto_header_decode(frame, &header);
	uint32_t slot_index = (uint32_t)header.request_id;
	if (slot_index >= PIPELINE_MAX || !c->slots[slot_index].busy)
		fatal("response", "for no request in flight");
	struct slot *slot = &c->slots[slot_index];
	enum status status = (enum status)header.word;
	statuses[status < STATUS_COUNT ? status : STATUS_INTERNAL]++;
	histogram[bucket_of((now - slot->sent) * 1e6)]++;
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

/* Reads what is there; parses whole responses; in closed loop, refills slots. */
static uint32_t connection_read(struct connection *c, double now, uint32_t *freed)
{
	uint32_t count = 0;
	for (;;) {
		ssize_t n = read(c->fd, c->in + c->in_size, sizeof(c->in) - c->in_size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			fatal("read", n == 0 ? "the server closed the connection" : strerror(errno));
		c->in_size += (uint32_t)n;
		uint32_t offset = 0;
		while (c->in_size - offset >= 4 &&
		       c->in_size - offset >= 4 + proto_frame_size(c->in + offset)) {
			freed[count++] = response_handle(c, c->in + offset, now);
			offset += 4 + proto_frame_size(c->in + offset);
		}
		memmove(c->in, c->in + offset, c->in_size - offset);
		c->in_size -= offset;
	}
	return count;
}

static struct connection *connections;
static int epoll_fd;

static void connections_open(uint32_t count)
{
	connections = calloc(count, sizeof(*connections));
	epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	for (uint32_t i = 0; i < count; i++) {
		struct connection *c = &connections[i];
		c->index = i;
		c->fd = connect_to();
		hello(c->fd);
		if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0)
			fatal("fcntl", strerror(errno));
		struct epoll_event event = { .events = EPOLLIN, .data.u32 = i };
		epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c->fd, &event);
	}
}

/* Intended send times not yet sent (open loop): a ring. */
static double *backlog;
static uint64_t backlog_head, backlog_tail;
#define BACKLOG_CAPACITY (1u << 22)

/* Gives waiting requests (open loop) to free slots, round-robin. */
static void backlog_assign(uint32_t *cursor)
{
	uint32_t tried = 0;
	while (backlog_head < backlog_tail && tried < options.connections) {
		struct connection *c = &connections[*cursor];
		*cursor = (*cursor + 1) % options.connections;
		if (c->in_flight >= options.pipeline) {
			tried++;
			continue;
		}
		tried = 0;
		uint32_t slot = 0;
		while (c->slots[slot].busy)
			slot++;
		slot_send(c, slot, backlog[backlog_head++ % BACKLOG_CAPACITY]);
	}
}

static void run(double seconds)
{
	double start = now_seconds(), warm = start + seconds * 0.1, end = start + seconds;
	double interval = options.rate > 0 ? 1.0 / options.rate : 0, next = start;
	uint32_t cursor = 0;
	uint32_t freed[PIPELINE_MAX * 4];
	bool warmed = false;
	uint64_t completed_at_warm = 0;
	if (options.rate > 0)
		backlog = malloc(sizeof(double) * BACKLOG_CAPACITY);
	for (uint32_t i = 0; i < options.connections && options.rate == 0; i++)
		for (uint32_t s = 0; s < options.pipeline; s++)
			slot_send(&connections[i], s, start);
	for (double now = start; now < end; now = now_seconds()) {
		if (!warmed && now >= warm) {
			memset(histogram, 0, sizeof(histogram));
			memset(statuses, 0, sizeof(statuses));
			completed_at_warm = completed;
			warmed = true;
		}
		for (; options.rate > 0 && next <= now && backlog_tail - backlog_head < BACKLOG_CAPACITY;
		     next += interval)
			backlog[backlog_tail++ % BACKLOG_CAPACITY] = next;
		backlog_assign(&cursor);
		for (uint32_t i = 0; i < options.connections; i++)
			if (connections[i].out_size > 0)
				flush_out(&connections[i]);
		struct epoll_event events[256];
		/* Open loop: wake when the next request is due, but batch sends over 50 us at
		 * high rates so that timer wake-ups do not eat the CPU the server needs. A
		 * late send still counts from its intended time. */
		double wait = options.rate > 0 ? next - now_seconds() : 0.01;
		if (wait < 50e-6)
			wait = 50e-6;
		struct timespec timeout = { .tv_sec = (time_t)wait,
					    .tv_nsec = (long)((wait - (double)(time_t)wait) * 1e9) };
		int ready = epoll_pwait2(epoll_fd, events, 256, &timeout, NULL);
		double arrived = now_seconds();
		for (int e = 0; e < ready; e++) {
			struct connection *c = &connections[events[e].data.u32];
			uint32_t count = connection_read(c, arrived, freed);
			for (uint32_t k = 0; k < count && options.rate == 0; k++)
				slot_send(c, freed[k], arrived);
		}
	}
	double elapsed = end - warm;
	uint64_t done = completed - completed_at_warm;
	const char *op = options.op == OP_HOLDS ? "durable" : options.op == OP_SHOW ? "show" : "ping";
	printf("%s_requests_per_s_%uconn_pipeline%u: %.0f requests/s\n", op, options.connections,
	       options.pipeline, (double)done / elapsed);
	if (options.rate > 0)
		printf("offered_rate: %.0f requests/s\n", options.rate);
	printf("latency_p50_us: %.1f us\n", percentile(0.50));
	printf("latency_p99_us: %.1f us\n", percentile(0.99));
	printf("latency_p999_us: %.1f us\n", percentile(0.999));
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
	connections_open(options.idle);
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
		} else if (option("--op", argc, argv, &i, &v)) {
			options.op = strcmp(v, "show") == 0 ? OP_SHOW : strcmp(v, "ping") == 0 ? OP_PING
												  : OP_HOLDS;
		} else {
			fprintf(stderr, "usage: net_bench --server HOST:PORT [--connections N] "
					"[--pipeline D] [--seconds S] [--op holds|show|ping] [--rate R] "
					"[--idle N --server-pid PID]\n");
			return 64;
		}
	}
	if (options.pipeline == 0 || options.pipeline > PIPELINE_MAX || options.connections == 0)
		fatal("options", "--pipeline 1..256, --connections >= 1");
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
	catalog_put(setup);
	close(setup);
	connections_open(options.connections);
	run(options.seconds);
	layout_builder_finish(&layout);
	return 0;
}
