/*
 * worker.c — a shard thread's event loop: one io_uring for accepting, receiving,
 * sending, ticking, waking and logging; connections and their buffers; mailbox
 * delivery between shards. What requests do is in requests.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "memory.h"
#include "server.h"
#include "worker.h"

#define CONN_ID_INDEX_MASK 0xffffffffu
#define IDLE_SWEEP_TICKS (1000 / TICK_MS)
/* How long a connection ended by a bad frame waits for its client to end the stream:
 * LINGER_MS once its answers are delivered, and LINGER_MAX_MS since the bad frame at
 * most. */
#define LINGER_MS 2000
#define LINGER_MAX_MS 10000
#define ACCEPT_RETRY_MS 100 /* after a failed accept (accept_failed) */

int64_t worker_clock(struct worker *w)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	/* The engine's clock must never go back; the wall clock may (NTP). */
	if (now > w->now_ms)
		w->now_ms = now;
	return w->now_ms;
}

static struct io_uring_sqe *sqe_get(struct worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	if (sqe == NULL) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	ASSERT(sqe != NULL); /* just submitted: the queue has room */
	return sqe;
}

/* Ring set-up: the flags each get a fallback for older kernels. */

int worker_ring_init(struct worker *w)
{
	struct io_uring_params params = { 0 };
	/* One thread submits and reaps (SINGLE_ISSUER); completions are processed only
	 * when it waits (DEFER_TASKRUN), so no interrupt ever preempts the loop. */
	/* The ring is made here, before the threads start, so that every worker knows
	 * every ring's fd; it stays disabled until its own thread enables it and so
	 * becomes its single issuer. */
	params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		       IORING_SETUP_CQSIZE | IORING_SETUP_R_DISABLED;
	params.cq_entries = 16384;
	int error = io_uring_queue_init_params(2048, &w->ring, &params);
	w->ring_disabled = error == 0;
	if (error == -EINVAL) {
		params = (struct io_uring_params){ .flags = IORING_SETUP_COOP_TASKRUN |
							    IORING_SETUP_CQSIZE,
						   .cq_entries = 16384 };
		error = io_uring_queue_init_params(2048, &w->ring, &params);
	}
	if (error == -EINVAL) {
		params = (struct io_uring_params){ .flags = IORING_SETUP_CQSIZE,
						   .cq_entries = 16384 };
		error = io_uring_queue_init_params(2048, &w->ring, &params);
	}
	if (error < 0)
		return error;
	w->ring_fd = w->ring.ring_fd;
	return 0;
}

/*
 * Enables a ring made disabled; the calling thread becomes its single issuer.
 * (The liburing of Debian 12 declares io_uring_enable_rings but does not export
 * it, so the register call is made directly.)
 */
static int ring_enable(struct worker *w)
{
	long result = syscall(__NR_io_uring_register, w->ring.ring_fd,
			      IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	return result < 0 ? -errno : 0;
}

/* Provided buffers for multishot receive: the kernel picks one per completion. */
static int recv_buffers_init(struct worker *w)
{
	size_t ring_size = sizeof(struct io_uring_buf) * RECV_BUFFERS_COUNT;
	void *ring_memory = mmap(NULL, ring_size, PROT_READ | PROT_WRITE,
				 MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (ring_memory == MAP_FAILED)
		return -errno;
	w->recv_ring = ring_memory;
	struct io_uring_buf_reg registration = { .ring_addr = (uint64_t)(uintptr_t)ring_memory,
						 .ring_entries = RECV_BUFFERS_COUNT,
						 .bgid = RECV_BUFFER_GROUP };
	int error = io_uring_register_buf_ring(&w->ring, &registration, 0);
	if (error < 0)
		return error;
	w->recv_buffers = memory_alloc((size_t)RECV_BUFFER_SIZE * RECV_BUFFERS_COUNT);
	io_uring_buf_ring_init(w->recv_ring);
	int mask = io_uring_buf_ring_mask(RECV_BUFFERS_COUNT);
	for (uint32_t i = 0; i < RECV_BUFFERS_COUNT; i++)
		io_uring_buf_ring_add(w->recv_ring, w->recv_buffers + (size_t)i * RECV_BUFFER_SIZE,
				      RECV_BUFFER_SIZE, (unsigned short)i, mask, (int)i);
	io_uring_buf_ring_advance(w->recv_ring, RECV_BUFFERS_COUNT);
	return 0;
}

static void recv_buffer_return(struct worker *w, uint16_t id)
{
	io_uring_buf_ring_add(w->recv_ring, w->recv_buffers + (size_t)id * RECV_BUFFER_SIZE,
			      RECV_BUFFER_SIZE, id, io_uring_buf_ring_mask(RECV_BUFFERS_COUNT), 0);
	io_uring_buf_ring_advance(w->recv_ring, 1);
}

/* Connections. */

uint64_t conn_id_of(const struct worker *w, const struct conn *conn)
{
	uint32_t index = (uint32_t)(conn - w->conns);
	return (uint64_t)conn->generation << 32 | index;
}

struct conn *worker_conn(struct worker *w, uint64_t conn_id)
{
	uint32_t index = (uint32_t)(conn_id & CONN_ID_INDEX_MASK);
	if (index >= w->conns_count)
		return NULL;
	struct conn *conn = &w->conns[index];
	if (conn->state != CONN_OPEN || conn->generation != (uint32_t)(conn_id >> 32))
		return NULL;
	return conn;
}

/* In conns_live beside the generation: the client has ended its side of the stream
 * (generations take CONN_GENERATION_MASK's bits; a closed slot holds their inverse). */
#define CONN_LIVE_PEER_CLOSED 0x80000000u

/* Whether conns_live of the connection's slot, with `mask` applied, no longer holds
 * its generation. */
static bool conn_live_differs(const struct worker *owner, uint64_t conn_id, uint32_t mask)
{
	uint32_t index = (uint32_t)(conn_id & CONN_ID_INDEX_MASK);
	return index < owner->conns_slots &&
	       (atomic_load_explicit(&owner->conns_live[index], memory_order_relaxed) & mask) !=
		       (uint32_t)(conn_id >> 32);
}

bool conn_gone(const struct worker *owner, uint64_t conn_id)
{
	return conn_live_differs(owner, conn_id, ~CONN_LIVE_PEER_CLOSED);
}

bool conn_sends_no_more(const struct worker *owner, uint64_t conn_id)
{
	return conn_live_differs(owner, conn_id, ~0u);
}

static void recv_arm(struct worker *w, struct conn *conn)
{
	struct io_uring_sqe *sqe = sqe_get(w);
	io_uring_prep_recv_multishot(sqe, conn->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = RECV_BUFFER_GROUP;
	io_uring_sqe_set_data64(sqe, op_data(OP_RECV, conn_id_of(w, conn)));
	conn->recv_armed = true;
}

static void accept_arm(struct worker *w)
{
	struct io_uring_sqe *sqe = sqe_get(w);
	io_uring_prep_multishot_accept(sqe, w->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, op_data(OP_ACCEPT, 0));
}

static void conn_open(struct worker *w, int fd)
{
	struct server *server = w->server;
	uint32_t open = atomic_fetch_add(&server->connections, 1) + 1;
	if (open > server->config.max_connections || w->stopping) {
		atomic_fetch_sub(&server->connections, 1);
		close(fd);
		if (!w->stopping && w->counters.connections_refused++ % 1000 == 0)
			log_warn("connection refused: %u open, the most --max-connections allows "
				 "(%llu refused by this shard so far)",
				 server->config.max_connections,
				 (unsigned long long)w->counters.connections_refused);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	uint32_t index = w->conns_free;
	if (index != UINT32_MAX) {
		w->conns_free = w->conns[index].next_free;
		if (w->conns_free == UINT32_MAX)
			w->conns_free_tail = UINT32_MAX;
	} else {
		if (w->conns_count == w->conns_slots) {
			/* Only when many closed connections still wait for the kernel. */
			atomic_fetch_sub(&server->connections, 1);
			close(fd);
			return;
		}
		ARRAY_RESERVE(w->conns, w->conns_capacity, (uint64_t)w->conns_count + 1);
		index = w->conns_count++;
	}
	struct conn *conn = &w->conns[index];
	uint32_t generation = (conn->generation + 1) & CONN_GENERATION_MASK;
	*conn = (struct conn){ .fd = fd, .generation = generation, .state = CONN_OPEN,
			       .last_activity_ms = w->now_ms, .next_free = UINT32_MAX };
	atomic_store_explicit(&w->conns_live[index], generation, memory_order_relaxed);
	w->conns_open++;
	w->counters.connections_accepted++;
	recv_arm(w, conn);
}

/* Frees a closing connection once the kernel holds no request of it. */
static void conn_release_if_idle(struct worker *w, struct conn *conn)
{
	if (conn->state != CONN_CLOSING || conn->recv_armed || conn->send_in_flight)
		return;
	close(conn->fd);
	memory_free(conn->in);
	memory_free(conn->out);
	memory_free(conn->next);
	uint32_t generation = conn->generation;
	uint32_t index = (uint32_t)(conn - w->conns);
	*conn = (struct conn){ .fd = -1, .generation = generation, .state = CONN_FREE,
			       .next_free = UINT32_MAX };
	if (w->conns_free_tail != UINT32_MAX)
		w->conns[w->conns_free_tail].next_free = index;
	else
		w->conns_free = index;
	w->conns_free_tail = index;
}

void conn_close(struct worker *w, struct conn *conn, const char *why)
{
	if (conn->state != CONN_OPEN)
		return;
	log_debug("closing connection %u: %s", (unsigned)(conn - w->conns), why);
	conn->state = CONN_CLOSING;
	atomic_store_explicit(&w->conns_live[conn - w->conns], ~conn->generation,
			      memory_order_relaxed);
	/* Makes the armed receive and any send complete now. */
	shutdown(conn->fd, SHUT_RDWR);
	w->conns_open--;
	w->counters.connections_closed++;
	atomic_fetch_sub(&w->server->connections, 1);
	conn_release_if_idle(w, conn);
}

/*
 * Ends a connection that reads no more requests (a fatal framing error was answered,
 * or its client ended its side of the stream) once every answer it owes is handed to
 * the kernel. A client that ended its side is closed then; its parked WAITs are
 * answered within a second (waits_orphans_drop), not at their timeouts. After a
 * framing error the client may still be sending, and closing the socket would reset
 * the connection, throwing away the answers not yet delivered. So the server ends only
 * its own half: the client reads every answer and then the stream's end. What it
 * still sends is read and dropped until it closes its half too, or until the idle
 * sweep gives up on it (conn_ending_over).
 */
static void conn_settle(struct worker *w, struct conn *conn)
{
	if (conn->state != CONN_OPEN || (!conn->close_after_send && !conn->peer_closed))
		return;
	/* Once lingering, all was sent: only the client's end is waited for. */
	if (!conn->lingering && (conn_output_pending(conn) > 0 || conn->requests_in_flight > 0))
		return;
	if (conn->peer_closed) {
		conn_close(w, conn, "closed by the client");
		return;
	}
	if (conn->lingering)
		return;
	conn->lingering = true;
	conn->linger_since_ms = w->now_ms;
	if (shutdown(conn->fd, SHUT_WR) < 0)
		conn_close(w, conn, strerror(errno));
}

void conn_end_after_answers(struct worker *w, struct conn *conn)
{
	if (conn->close_after_send)
		return;
	conn->close_after_send = true;
	conn->ending_since_ms = w->now_ms;
	conn_settle(w, conn);
}

static void send_arm(struct worker *w, struct conn *conn)
{
	if (conn->send_in_flight || conn->out_head == conn->out_size || conn->state != CONN_OPEN)
		return;
	struct io_uring_sqe *sqe = sqe_get(w);
	io_uring_prep_send(sqe, conn->fd, conn->out + conn->out_head,
			   conn->out_size - conn->out_head, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, op_data(OP_SEND, conn_id_of(w, conn)));
	conn->send_in_flight = true;
}

uint32_t conn_output_pending(const struct conn *conn)
{
	return conn->out_size - conn->out_head + conn->next_size;
}

void conn_output(struct worker *w, struct conn *conn, const uint8_t *bytes, uint32_t size)
{
	if (conn->state != CONN_OPEN)
		return;
	if (conn_output_pending(conn) + (uint64_t)size > CONN_OUTPUT_MAX) {
		/* A client that does not read its responses is not allowed to grow them
		 * without bound. */
		conn_close(w, conn, "output limit reached: the client is not reading");
		return;
	}
	if (conn->send_in_flight) {
		ARRAY_RESERVE(conn->next, conn->next_capacity, (uint64_t)conn->next_size + size);
		memcpy(conn->next + conn->next_size, bytes, size);
		conn->next_size += size;
		return;
	}
	ARRAY_RESERVE(conn->out, conn->out_capacity, (uint64_t)conn->out_size + size);
	memcpy(conn->out + conn->out_size, bytes, size);
	conn->out_size += size;
	send_arm(w, conn);
}

static void send_complete(struct worker *w, struct conn *conn, int32_t result)
{
	conn->send_in_flight = false;
	if (conn->state != CONN_OPEN) {
		conn_release_if_idle(w, conn);
		return;
	}
	if (result <= 0) {
		conn_close(w, conn, result == 0 ? "send returned 0" : strerror(-result));
		return;
	}
	conn->out_head += (uint32_t)result;
	if (conn->out_head == conn->out_size) {
		/* All sent: what waited becomes the next send. */
		uint8_t *bytes = conn->out;
		uint32_t capacity = conn->out_capacity;
		conn->out = conn->next;
		conn->out_capacity = conn->next_capacity;
		conn->out_size = conn->next_size;
		conn->out_head = 0;
		conn->next = bytes;
		conn->next_capacity = capacity;
		conn->next_size = 0;
	}
	send_arm(w, conn);
}

/* Input. */

/*
 * Parses whole frames from bytes; returns how many bytes were consumed. Stops (and
 * pauses the connection) at a request whose answer may be large while
 * CONN_LARGE_INFLIGHT_MAX such requests are in flight: the frames from it on wait, in
 * order, until conn_request_done lets parsing go on.
 */
static uint32_t frames_parse(struct worker *w, struct conn *conn, const uint8_t *bytes,
			     uint32_t size)
{
	uint32_t offset = 0;
	while (conn->state == CONN_OPEN && !conn->close_after_send && !conn->parsing_paused &&
	       size - offset >= 4) {
		uint32_t frame_size = proto_frame_size(bytes + offset);
		if (frame_size > PROTO_FRAME_SIZE_MAX || frame_size < PROTO_HEADER_SIZE - 4) {
			/* The stream cannot be resynchronised after a bad length: answer, close. */
			struct proto_header header = { 0 };
			if (size - offset >= PROTO_HEADER_SIZE)
				proto_header_decode(bytes + offset, &header);
			w->counters.bad_frames++;
			requests_error(w, conn, header.opcode, header.request_id,
				       frame_size > PROTO_FRAME_SIZE_MAX ? STATUS_TOO_LARGE
									 : STATUS_BAD_REQUEST);
			conn_end_after_answers(w, conn);
			return size;
		}
		if (size - offset < frame_size + 4)
			break;
		if (conn->large_in_flight >= CONN_LARGE_INFLIGHT_MAX &&
		    proto_answer_may_be_large(proto_frame_opcode(bytes + offset))) {
			conn->parsing_paused = true;
			break;
		}
		requests_frame(w, conn, bytes + offset, frame_size + 4);
		offset += frame_size + 4;
	}
	return offset;
}

/* Parses what waits in the connection's input buffer; the rest stays for later. */
static void input_parse(struct worker *w, struct conn *conn)
{
	uint32_t used =
		frames_parse(w, conn, conn->in + conn->in_head, conn->in_size - conn->in_head);
	if (conn->state != CONN_OPEN)
		return;
	conn->in_head += used;
	if (conn->in_head == conn->in_size)
		conn->in_head = conn->in_size = 0;
}

static void conn_input(struct worker *w, struct conn *conn, const uint8_t *bytes, uint32_t size)
{
	if (conn->reading_stopped || conn->close_after_send)
		return; /* dropped: not activity that keeps the connection open */
	conn->last_activity_ms = w->now_ms;
	if (conn->in_size == 0) {
		/* Usual case: whole frames straight from the receive buffer. */
		uint32_t used = frames_parse(w, conn, bytes, size);
		bytes += used;
		size -= used;
		if (size == 0 || conn->state != CONN_OPEN)
			return;
	}
	if ((uint64_t)conn->in_size - conn->in_head + size > CONN_INPUT_MAX) {
		/* Only a paused connection keeps more than a frame: its client sends far
		 * ahead of the answers it reads. */
		conn_close(w, conn, "input limit reached: the client is not reading");
		return;
	}
	if (conn->in_head > 0 && (conn->in_head >= conn->in_size - conn->in_head ||
				  (uint64_t)conn->in_size + size > CONN_INPUT_MAX)) {
		/* Compact once at least half is parsed, so that a byte is moved a bounded
		 * number of times however often a paused connection resumes, and before the
		 * buffer would pass CONN_INPUT_MAX. */
		memmove(conn->in, conn->in + conn->in_head, conn->in_size - conn->in_head);
		conn->in_size -= conn->in_head;
		conn->in_head = 0;
	}
	ARRAY_RESERVE(conn->in, conn->in_capacity, (uint64_t)conn->in_size + size);
	memcpy(conn->in + conn->in_size, bytes, size);
	conn->in_size += size;
	if (!conn->parsing_paused) /* a paused one only keeps what comes */
		input_parse(w, conn);
}

void conn_request_done(struct worker *w, struct conn *conn, uint16_t opcode)
{
	ASSERT(conn->requests_in_flight > 0);
	conn->requests_in_flight--;
	if (!proto_answer_may_be_large(opcode))
		return;
	ASSERT(conn->large_in_flight > 0);
	conn->large_in_flight--;
	if (conn->parsing_paused && !conn->resume_listed) {
		/* Parsed again once this batch of completions is handled, not from inside
		 * the delivery of a response. */
		ARRAY_RESERVE(w->resumes, w->resumes_capacity, (uint64_t)w->resumes_count + 1);
		w->resumes[w->resumes_count++] = conn_id_of(w, conn);
		conn->resume_listed = true;
	}
}

/* Lets paused connections whose large answers have come back parse on. */
static void conns_resume(struct worker *w)
{
	/* Parsing may list connections again: answers read on this shard are delivered
	 * at once, so the list can grow while it is walked. */
	for (uint32_t i = 0; i < w->resumes_count; i++) {
		struct conn *conn = worker_conn(w, w->resumes[i]); /* NULL once closed */
		if (conn == NULL)
			continue;
		conn->resume_listed = false;
		if (conn->reading_stopped)
			continue;
		conn->parsing_paused = false;
		input_parse(w, conn);
	}
	w->resumes_count = 0;
}

static void recv_complete(struct worker *w, uint64_t conn_id, struct io_uring_cqe *cqe)
{
	uint32_t index = (uint32_t)(conn_id & CONN_ID_INDEX_MASK);
	ASSERT(index < w->conns_count);
	struct conn *conn = &w->conns[index];
	ASSERT(conn->generation == (uint32_t)(conn_id >> 32));
	bool buffer = cqe->flags & IORING_CQE_F_BUFFER;
	uint16_t buffer_id = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	if (cqe->res > 0 && buffer && conn->state == CONN_OPEN)
		conn_input(w, conn, w->recv_buffers + (size_t)buffer_id * RECV_BUFFER_SIZE,
			   (uint32_t)cqe->res);
	if (buffer)
		recv_buffer_return(w, buffer_id);
	if (cqe->res == 0 && conn->state == CONN_OPEN) {
		/* Perhaps only its sending side: the answers it is owed still go out. */
		conn->peer_closed = true;
		atomic_store_explicit(&w->conns_live[index],
				      conn->generation | CONN_LIVE_PEER_CLOSED,
				      memory_order_relaxed);
		conn_settle(w, conn);
	} else if (cqe->res < 0 && cqe->res != -ENOBUFS && conn->state == CONN_OPEN)
		conn_close(w, conn, strerror(-cqe->res));
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		conn->recv_armed = false;
		bool again = cqe->res > 0 || cqe->res == -ENOBUFS;
		if (conn->state == CONN_OPEN && again && !conn->reading_stopped)
			recv_arm(w, conn);
		conn_release_if_idle(w, conn);
	}
}

/* Mailboxes. */

/*
 * A message is in the target's mailbox: while stopping, the target is not drained.
 * Stored after the push, and the target checks its mailboxes after it says it is
 * drained (stop_complete): with the fences between, either it sees the message or
 * this store comes after its own.
 */
static void worker_pushed(struct worker *w, uint32_t target)
{
	w->wake_pending[target] = true;
	atomic_thread_fence(memory_order_seq_cst);
	atomic_store(&w->server->workers[target].drained, false);
}

bool worker_push(struct worker *w, uint32_t target, uint32_t kind, const void *first,
		 uint32_t first_size, const void *second, uint32_t second_size, bool may_queue)
{
	struct server *server = w->server;
	struct mailbox *mailbox = &server->mailboxes[w->index * server->workers_count + target];
	if (w->outbound_count[target] == 0 &&
	    mailbox_push(mailbox, kind, first, first_size, second, second_size)) {
		worker_pushed(w, target);
		return true;
	}
	if (!may_queue)
		return false;
	/* Order is kept: once something waits, everything after it waits too. */
	ARRAY_RESERVE(w->outbound[target], w->outbound_capacity[target],
		      (uint64_t)w->outbound_count[target] + 1);
	struct outbound *o = &w->outbound[target][w->outbound_count[target]++];
	o->kind = kind;
	o->size = first_size + second_size;
	o->bytes = memory_alloc(o->size ? o->size : 1);
	memcpy(o->bytes, first, first_size);
	if (second_size > 0)
		memcpy(o->bytes + first_size, second, second_size);
	return true;
}

static void outbound_flush(struct worker *w)
{
	struct server *server = w->server;
	for (uint32_t target = 0; target < server->workers_count; target++) {
		struct mailbox *mailbox =
			&server->mailboxes[w->index * server->workers_count + target];
		uint32_t sent = 0;
		while (sent < w->outbound_count[target]) {
			struct outbound *o = &w->outbound[target][sent];
			if (!mailbox_push(mailbox, o->kind, o->bytes, o->size, NULL, 0))
				break;
			memory_free(o->bytes);
			sent++;
			worker_pushed(w, target);
		}
		if (sent > 0) {
			memmove(w->outbound[target], w->outbound[target] + sent,
				sizeof(struct outbound) * (w->outbound_count[target] - sent));
			w->outbound_count[target] -= sent;
		}
		if (w->wake_pending[target] && target != w->index) {
			/* A completion on the other ring wakes its thread from its wait. */
			struct io_uring_sqe *sqe = sqe_get(w);
			io_uring_prep_msg_ring(sqe, server->workers[target].ring_fd, 0,
					       op_data(OP_MAILBOX, w->index), 0);
			io_uring_sqe_set_data64(sqe, op_data(OP_IGNORE, 0));
		}
		w->wake_pending[target] = false;
	}
}

static void inboxes_drain(struct worker *w)
{
	struct server *server = w->server;
	for (uint32_t source = 0; source < server->workers_count; source++) {
		struct mailbox *mailbox =
			&server->mailboxes[source * server->workers_count + w->index];
		uint32_t kind, size;
		const uint8_t *bytes;
		/* A bounded batch per source keeps every source and the sockets served. */
		for (int n = 0; n < 4096 && mailbox_peek(mailbox, &kind, &bytes, &size, w->scratch);
		     n++) {
			requests_message(w, kind, bytes, size);
			mailbox_pop(mailbox);
		}
	}
}


/* Timers, idleness and stopping. */

static void tick_arm(struct worker *w)
{
	struct io_uring_sqe *sqe = sqe_get(w);
	io_uring_prep_timeout(sqe, &w->tick_interval, 0, 0);
	io_uring_sqe_set_data64(sqe, op_data(OP_TICK, 0));
}

static void wake_arm(struct worker *w)
{
	struct io_uring_sqe *sqe = sqe_get(w);
	io_uring_prep_read(sqe, w->wake_fd, &w->wake_value, sizeof(w->wake_value), 0);
	io_uring_sqe_set_data64(sqe, op_data(OP_WAKE, 0));
}

/*
 * Whether the kernel still holds bytes of this connection's output that the client
 * has not taken. Closing a socket whose input was not all read resets the
 * connection and drops them, and a stopping server reads no more: so it closes only
 * once its answers are with the client.
 */
static bool conn_unsent(const struct conn *conn)
{
	int unsent = 0;
	return ioctl(conn->fd, SIOCOUTQ, &unsent) == 0 && unsent > 0;
}

/* The client of a connection ended by a framing error has had its time to read its
 * answers and go: LINGER_MS since all was sent and delivered, at most LINGER_MAX_MS
 * since the error. */
static bool conn_ending_over(struct worker *w, const struct conn *conn)
{
	return w->now_ms - conn->ending_since_ms >= LINGER_MAX_MS ||
	       (conn->lingering && w->now_ms - conn->linger_since_ms >= LINGER_MS &&
		!conn_unsent(conn));
}

static void idle_sweep(struct worker *w)
{
	int64_t limit_ms = (int64_t)w->server->config.idle_timeout_s * 1000;
	for (uint32_t i = 0; i < w->conns_count; i++) {
		struct conn *conn = &w->conns[i];
		if (conn->state == CONN_OPEN && conn->close_after_send && conn_ending_over(w, conn))
			conn_close(w, conn, "bad frame answered");
		if (conn->state == CONN_OPEN && conn->requests_in_flight == 0 &&
		    w->now_ms - conn->last_activity_ms > limit_ms)
			conn_close(w, conn, "idle timeout");
	}
}

/* Stop: accept nothing and read nothing more; what is in flight is finished. */
static void stop_begin(struct worker *w)
{
	if (w->stopping)
		return;
	w->stopping = true;
	w->stopping_since_ms = w->now_ms;
	struct io_uring_sqe *sqe = sqe_get(w);
	io_uring_prep_cancel64(sqe, op_data(OP_ACCEPT, 0), 0);
	io_uring_sqe_set_data64(sqe, op_data(OP_IGNORE, 0));
	for (uint32_t i = 0; i < w->conns_count; i++)
		w->conns[i].reading_stopped = true;
	waits_expire(w, true);
}

/* Everything this worker owes is answered and sent, and its log is idle. */
static bool worker_idle(struct worker *w)
{
	if (w->pending.count > 0 || wal_writer_busy(w->writer) || w->snapshot_writing ||
	    w->deferred_head != NULL || w->parked_count > 0 || w->gathers_open > 0)
		return false;
	for (uint32_t t = 0; t < w->server->workers_count; t++) {
		if (w->outbound_count[t] > 0)
			return false;
	}
	for (uint32_t i = 0; i < w->conns_count; i++) {
		const struct conn *conn = &w->conns[i];
		if (conn->state == CONN_OPEN &&
		    (conn->requests_in_flight > 0 || conn_output_pending(conn) > 0 ||
		     conn_unsent(conn)))
			return false;
	}
	return true;
}

/* True when every worker is idle at once: nothing can be in flight anywhere. */
static bool stop_complete(struct worker *w)
{
	struct server *server = w->server;
	/* Said afresh each time: work of its own (a timer's) makes a drained worker busy
	 * again, as a message from another does (worker_pushed). A worker with a gather
	 * open is not idle, so that one waiting for replies keeps every other from
	 * ending: no other message goes to a worker that is idle. */
	bool idle = worker_idle(w) &&
		    wal_writer_durable_lsn(w->writer) + 1 == wal_writer_next_lsn(w->writer);
	atomic_store(&w->drained, idle);
	if (idle) {
		/* A message another worker pushed meanwhile is work too (worker_pushed). */
		atomic_thread_fence(memory_order_seq_cst);
		for (uint32_t source = 0; source < server->workers_count; source++) {
			if (!mailbox_empty(&server->mailboxes[source * server->workers_count +
							      w->index]))
				atomic_store(&w->drained, false);
		}
	}
	for (uint32_t i = 0; i < server->workers_count; i++) {
		if (atomic_load(&server->workers[i].drained))
			continue;
		if (w->now_ms - w->stopping_since_ms <= 10000)
			return false;
		uint32_t unread = 0;
		for (uint32_t k = 0; k < w->conns_count; k++) {
			const struct conn *conn = &w->conns[k];
			unread += conn->state == CONN_OPEN &&
				  (conn_output_pending(conn) > 0 || conn_unsent(conn));
		}
		log_warn("stopping shard %u with work unfinished after 10 s (%u parked WAITs, "
			 "%u responses waiting for the log, %u connections whose client has not "
			 "read its answers)",
			 w->index, w->parked_count, w->pending.count, unread);
		return true;
	}
	return true;
}

/*
 * A failed accept ends the multishot accept; armed again at once, it would fail again
 * at once while the cause lasts (no descriptors left), spinning the shard. So it is
 * armed again after ACCEPT_RETRY_MS, and the failures are logged once a second at
 * most, with their count.
 */
static void accept_failed(struct worker *w, int error)
{
	w->accept_failures++;
	if (w->accept_warned_ms == 0 || w->now_ms - w->accept_warned_ms >= 1000) {
		log_warn("accept: %s (%llu failures since the last such line); accepting again "
			 "in %d ms",
			 strerror(error), (unsigned long long)w->accept_failures, ACCEPT_RETRY_MS);
		w->accept_warned_ms = w->now_ms;
		w->accept_failures = 0;
	}
	w->accept_again_ms = w->now_ms + ACCEPT_RETRY_MS;
}

static void tick_complete(struct worker *w)
{
	worker_clock(w);
	if (w->accept_again_ms != 0 && w->now_ms >= w->accept_again_ms) {
		w->accept_again_ms = 0;
		if (!w->stopping)
			accept_arm(w);
	}
	requests_tick(w);
	if (++w->ticks % IDLE_SWEEP_TICKS == 0 && !w->stopping) {
		idle_sweep(w);
		waits_orphans_drop(w);
	}
	tick_arm(w);
}

static void cqe_handle(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	uint64_t detail = data & ((UINT64_C(1) << 56) - 1);
	if (wal_io_uring_owns(&w->wal_io, data)) {
		wal_writer_complete(w->writer, wal_io_uring_token(data), cqe->res);
		return;
	}
	switch ((enum op_kind)(data >> 56)) {
	case OP_ACCEPT:
		if (cqe->res >= 0)
			conn_open(w, cqe->res);
		else if (cqe->res != -ECANCELED && !atomic_load(&w->server->stopping))
			accept_failed(w, -cqe->res);
		/* (The server shuts the listeners down as it begins to stop.) */
		if (!(cqe->flags & IORING_CQE_F_MORE) && !atomic_load(&w->server->stopping) &&
		    w->accept_again_ms == 0)
			accept_arm(w);
		return;
	case OP_RECV:
		recv_complete(w, detail, (struct io_uring_cqe *)cqe);
		return;
	case OP_SEND: {
		struct conn *conn = &w->conns[detail & CONN_ID_INDEX_MASK];
		send_complete(w, conn, cqe->res);
		conn_settle(w, conn);
		return;
	}
	case OP_TICK:
		tick_complete(w);
		return;
	case OP_WAKE:
		if (atomic_load(&w->server->stopping))
			stop_begin(w);
		else
			wake_arm(w);
		return;
	case OP_MAILBOX:
	case OP_CLOSE:
	case OP_IGNORE:
		return;
	}
	log_warn("unexpected completion %016llx", (unsigned long long)data);
}

static void loop_run(struct worker *w)
{
	for (;;) {
		outbound_flush(w);
		wal_writer_flush(w->writer);
		int submitted = io_uring_submit_and_wait(&w->ring, 1);
		if (submitted < 0 && submitted != -EINTR && submitted != -EAGAIN &&
		    submitted != -EBUSY) {
			log_error("io_uring_submit_and_wait: %s", strerror(-submitted));
			w->exit_code = 1;
			return;
		}
		worker_clock(w);
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&w->ring, head, cqe)
		{
			cqe_handle(w, cqe);
			seen++;
		}
		io_uring_cq_advance(&w->ring, seen);
		inboxes_drain(w);
		int error = wal_writer_error(w->writer);
		if (error != 0) {
			/* SPEC §8: never retried, never acknowledged past it. Stop at once. */
			log_write(LOG_FATAL, "write-ahead log failed: %s; stopping without "
					     "acknowledging anything more",
				  strerror(-error));
			_exit(70);
		}
		requests_release(w);
		conns_resume(w);
		if (w->stopping && stop_complete(w))
			return;
	}
}

/* Gives back everything the worker owns, once its loop has ended. */
static void worker_finish(struct worker *w)
{
	wal_writer_destroy(w->writer);
	w->writer = NULL;
	waits_finish(w);
	gathers_finish(w);
	for (uint32_t i = 0; i < w->conns_count; i++) {
		struct conn *conn = &w->conns[i];
		if (conn->state != CONN_FREE)
			close(conn->fd);
		memory_free(conn->in);
		memory_free(conn->out);
		memory_free(conn->next);
	}
	memory_free(w->conns);
	memory_free(w->resumes);
	for (uint32_t t = 0; t < w->server->workers_count; t++) {
		for (uint32_t i = 0; i < w->outbound_count[t]; i++)
			memory_free(w->outbound[t][i].bytes);
		memory_free(w->outbound[t]);
	}
	memory_free(w->gathers);
	memory_free(w->snapshot_gathers);
	pending_queue_finish(&w->pending);
	io_uring_queue_exit(&w->ring);
	memory_free(w->recv_buffers);
	if (w->recv_ring != NULL)
		munmap(w->recv_ring, sizeof(struct io_uring_buf) * RECV_BUFFERS_COUNT);
}

void *worker_main(void *argument)
{
	struct worker *w = argument;
	struct server *server = w->server;
	char name[16];
	snprintf(name, sizeof(name), "shard-%u", w->index);
	log_thread_name(name);
	if (server->config.pin) {
		cpu_set_t cpus;
		CPU_ZERO(&cpus);
		CPU_SET(w->index % (uint32_t)sysconf(_SC_NPROCESSORS_ONLN), &cpus);
		if (sched_setaffinity(0, sizeof(cpus), &cpus) < 0)
			log_warn("sched_setaffinity: %s", strerror(errno));
	}
	int error = w->ring_disabled ? ring_enable(w) : 0;
	if (error == 0)
		error = recv_buffers_init(w);
	if (error < 0) {
		log_error("registering receive buffers: %s", strerror(-error));
		atomic_store(&server->failed, true);
		return NULL;
	}
	wal_io_uring_init(&w->wal_io, &w->ring, WAL_TAG);
	if (server->config.test_fail_sync_at != 0)
		wal_io_uring_fail_at(&w->wal_io, server->config.test_fail_sync_at);
	struct wal_writer_config config = {
		.dir_fd = server->dir_fds[w->index], .shard_index = w->index,
		.segment_size = server->config.segment_size, .buffer_bytes_max = 256u << 20,
		.direct = true, .flushes = server->config.log_flushes };
	error = wal_writer_create(&w->writer, &config, &w->wal_io.io, &w->wal_position);
	if (error < 0 || waits_init(w) < 0) {
		log_error("opening the log: %s%s", strerror(-error), server_space_hint(error));
		atomic_store(&server->failed, true);
		return NULL;
	}
	if (!wal_writer_direct(w->writer))
		log_info("the log is flushed through the page cache: its file system or segment "
			 "size does not allow direct I/O");
	w->tick_interval = (struct __kernel_timespec){ .tv_nsec = TICK_MS * 1000000L };
	w->conns_free = UINT32_MAX;
	w->gathers_free = UINT32_MAX;
	w->conns_free_tail = UINT32_MAX;
	w->snapshot_last_ms = worker_clock(w);
	accept_arm(w);
	tick_arm(w);
	wake_arm(w);
	loop_run(w);
	worker_finish(w);
	return NULL;
}
