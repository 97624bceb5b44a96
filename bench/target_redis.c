/*
 * target_redis.c — boxbench's Redis 7 peer (bench/peers/redis.sh starts the server,
 * bench/peers/redis.lua holds the logic): every operation is one round trip, an FCALL
 * of a function that runs atomically in the server (SEATMAP: a GET), and every change
 * is in the fsynced AOF before its reply leaves (appendfsync always).
 *
 * Connections: `connections` pipelined command connections, taken in turn, driven by
 * hiredis's asynchronous API on our own poll(2) loop (the adapter is four flags); one
 * sweeper connection that calls bx_expire every SWEEP_INTERVAL_MS, sooner when it
 * reports an earlier deadline (so seats come back within milliseconds), at once while
 * it reports work left; one subscriber connection on the bx:news channel; and one
 * blocking connection for setup and the audit.
 *
 * WAIT costs no connection: it registers the user in a local table, then polls the
 * entry (bx_poll). A terminal entry answers at once; a waiting one stays parked until
 * its news arrives over the subscriber (offered, sold out, lapsed) or its timeout
 * passes. The news is published after the change is in the AOF and the entry keeps it
 * for a poll, so news that races the poll is never lost: whichever comes first
 * answers, once.
 *
 * Expected sizes: 64 connections, thousands of operations in flight and of parked
 * WAITs. Operations and parked WAITs live in pools that grow and never shrink;
 * nothing is allocated per operation beyond what hiredis does.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "engine.h"
#include "redis_calls.h"
#include "target.h"

#define CONNECTIONS_MAX 1024u
#define SWEEP_INTERVAL_MS 50
#define SWEEP_SPACING_MS 2 /* between two sweeps, however soon the next deadline */
#define CONNECT_TIMEOUT_MS 5000
#define WAIT_TIMEOUT_MS_DEFAULT 30000u /* PROTOCOL.md: WAIT's 0 */
#define WAIT_TIMEOUT_MS_MAX 300000u
#define OPS_CHUNK_COUNT 4096u
#define WAITS_SCAN_MS 5
/* bx:seats: a state byte per seat, then a byte per tier that is 1 while the tier has a
 * waiting line (its available bytes are then pooled seats, which show as held). */
#define SEATS_VALUE_SIZE (BENCH_SEATS_COUNT + TIER_COUNT)

struct redis_target;

/* One submitted operation, from submit() until its done callback has run. */
struct redis_op {
	struct redis_target *target;
	struct redis_op *next_free;
	bench_done_fn *done;
	void *context;
	uint64_t user_id;
	uint64_t seq;	   /* WAIT: the entry's join sequence once the poll said waiting */
	int64_t due_ms;	   /* WAIT: its timeout */
	bool poll_pending; /* WAIT: bx_poll's reply has not come back (nothing answers it) */
	/* WAIT: news that came before the poll's reply. It answers the WAIT only if the
	 * poll finds the same entry (news.waiter_seq) still waiting: it may be an older
	 * entry's. */
	bool news_kept;
	struct bench_result news;
};

struct redis_ops_chunk {
	struct redis_ops_chunk *next;
	struct redis_op ops[OPS_CHUNK_COUNT];
};

struct redis_conn {
	struct redis_target *target;
	redisAsyncContext *async; /* NULL once closed */
	short events;		  /* POLLIN | POLLOUT, as hiredis asks */
};

struct redis_target {
	uint32_t conns_count; /* command connections: 1..CONNECTIONS_MAX */
	uint32_t conns_next;  /* round robin */
	/* The command connections, then the sweeper and the subscriber. */
	struct redis_conn conns[CONNECTIONS_MAX + 2];
	struct redis_conn *sweeper;
	struct redis_conn *subscriber;
	redisContext *sync; /* setup and audit */
	struct pollfd pollfds[CONNECTIONS_MAX + 2];
	struct redis_conn *poll_conns[CONNECTIONS_MAX + 2];

	uint32_t in_flight;
	uint32_t completed; /* done callbacks run during the current poll() */
	uint32_t opening;   /* replies awaited while open() connects */
	bool ready;	    /* the show is set up: the sweeper runs */
	bool sweeping;	    /* a bx_expire is in flight */
	bool closing;
	int64_t sweep_due_ms;

	struct redis_op *ops_free;
	struct redis_ops_chunk *ops_chunks;

	/* Parked WAITs by user: linear probing, capacity a power of two, at most half full.
	 * Their timeouts are found by a scan of the table when the first is due (at most
	 * every WAITS_SCAN_MS): thousands of slots, a few microseconds. */
	struct redis_op **waits;
	uint32_t waits_capacity;
	uint32_t waits_count;
	int64_t waits_scan_ms;

	uint64_t errors_count; /* error replies and lost connections; the first is logged */
	uint8_t states[BENCH_SEATS_COUNT];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void target_error(struct redis_target *target, const char *what, const char *detail)
{
	if (!target->closing && target->errors_count++ == 0)
		fprintf(stderr, "redis target: %s: %s\n", what, detail ? detail : "(no detail)");
}

static const char *reply_error(const redisReply *reply)
{
	return reply == NULL ? "no reply (connection closed)"
	       : reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply";
}

/* The hiredis event hooks: they only record what the poll loop must wait for. */
static void ev_add_read(void *data) { ((struct redis_conn *)data)->events |= POLLIN; }
static void ev_del_read(void *data) { ((struct redis_conn *)data)->events &= ~POLLIN; }
static void ev_add_write(void *data) { ((struct redis_conn *)data)->events |= POLLOUT; }
static void ev_del_write(void *data) { ((struct redis_conn *)data)->events &= ~POLLOUT; }

static void ev_cleanup(void *data)
{
	struct redis_conn *conn = data;
	conn->events = 0;
	conn->async = NULL;
}

static void conn_disconnected(const redisAsyncContext *async, int status)
{
	struct redis_conn *conn = async->ev.data;
	if (status != REDIS_OK)
		target_error(conn->target, "connection lost", async->errstr);
}

static int conn_open(struct redis_target *target, struct redis_conn *conn, const char *host,
		     int port)
{
	conn->target = target;
	conn->async = redisAsyncConnect(host, port);
	if (conn->async == NULL)
		return -ENOMEM;
	if (conn->async->err) {
		redisAsyncFree(conn->async);
		conn->async = NULL;
		return -ECONNREFUSED;
	}
	conn->async->ev.data = conn;
	conn->async->ev.addRead = ev_add_read;
	conn->async->ev.delRead = ev_del_read;
	conn->async->ev.addWrite = ev_add_write;
	conn->async->ev.delWrite = ev_del_write;
	conn->async->ev.cleanup = ev_cleanup;
	redisAsyncSetDisconnectCallback(conn->async, conn_disconnected);
	/* The connect completes on the first writable event; hiredis asked for it before
	 * the hooks were installed. */
	conn->events = POLLIN | POLLOUT;
	return 0;
}

static struct redis_op *op_create(struct redis_target *target)
{
	if (target->ops_free == NULL) {
		/* Memory exhaustion aborts: the run could not be reported anyway. */
		struct redis_ops_chunk *chunk = calloc(1, sizeof(*chunk));
		ASSERT(chunk != NULL);
		chunk->next = target->ops_chunks;
		target->ops_chunks = chunk;
		for (uint32_t i = 0; i < OPS_CHUNK_COUNT; i++) {
			chunk->ops[i].next_free = target->ops_free;
			target->ops_free = &chunk->ops[i];
		}
	}
	struct redis_op *op = target->ops_free;
	target->ops_free = op->next_free;
	*op = (struct redis_op){ .target = target };
	return op;
}

/* Runs the done callback, once, and frees the op. */
static void op_finish(struct redis_op *op, const struct bench_result *result)
{
	struct redis_target *target = op->target;
	ASSERT(op->done != NULL);
	ASSERT(target->in_flight > 0);
	target->in_flight--;
	target->completed++;
	if (!target->closing)
		op->done(op->context, result);
	op->done = NULL;
	op->next_free = target->ops_free;
	target->ops_free = op;
}

/* Parked WAITs by user. */

static uint32_t waits_slot(const struct redis_target *target, uint64_t user_id)
{
	return (uint32_t)((user_id * 0x9e3779b97f4a7c15ull) >> 32) & (target->waits_capacity - 1);
}

static struct redis_op *waits_get(const struct redis_target *target, uint64_t user_id)
{
	uint32_t mask = target->waits_capacity - 1;
	for (uint32_t i = waits_slot(target, user_id);; i = (i + 1) & mask)
		if (target->waits[i] == NULL || target->waits[i]->user_id == user_id)
			return target->waits[i];
}

static void waits_put(struct redis_target *target, struct redis_op *op)
{
	if ((target->waits_count + 1) * 2 > target->waits_capacity) {
		struct redis_op **old = target->waits;
		uint32_t old_capacity = target->waits_capacity;
		target->waits_capacity = old_capacity ? old_capacity * 2 : 1024;
		target->waits = calloc(target->waits_capacity, sizeof(*old));
		ASSERT(target->waits != NULL);
		target->waits_count = 0;
		for (uint32_t i = 0; i < old_capacity; i++)
			if (old[i] != NULL)
				waits_put(target, old[i]);
		free(old);
	}
	uint32_t i = waits_slot(target, op->user_id);
	while (target->waits[i] != NULL) {
		/* One WAIT per user at a time: the driver's users wait for one answer. */
		ASSERT(target->waits[i]->user_id != op->user_id);
		i = (i + 1) & (target->waits_capacity - 1);
	}
	target->waits[i] = op;
	target->waits_count++;
}

/* Removes a parked WAIT, shifting the probe chain back over the hole. */
static void waits_remove(struct redis_target *target, const struct redis_op *op)
{
	uint32_t mask = target->waits_capacity - 1;
	uint32_t hole = waits_slot(target, op->user_id);
	while (target->waits[hole] != op) {
		ASSERT(target->waits[hole] != NULL);
		hole = (hole + 1) & mask;
	}
	for (uint32_t i = (hole + 1) & mask; target->waits[i] != NULL; i = (i + 1) & mask) {
		uint32_t home = waits_slot(target, target->waits[i]->user_id);
		/* The entry at i may move to the hole if its home is not in (hole, i]. */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			target->waits[hole] = target->waits[i];
			hole = i;
		}
	}
	target->waits[hole] = NULL;
	target->waits_count--;
}

/* Replies. */

/* The reply of a function as a result; a bad one is logged and is STATUS_INTERNAL. */
static void result_parse(struct redis_target *target, const redisReply *reply,
			 struct bench_result *result)
{
	if (!redis_result_parse(reply, result))
		target_error(target, "bad reply", reply_error(reply));
}

static void op_replied(redisAsyncContext *async, void *reply, void *data)
{
	struct redis_op *op = data;
	struct bench_result result;
	(void)async;
	result_parse(op->target, reply, &result);
	op_finish(op, &result);
}

/* GET bx:seats: the state bytes, then the line flags. A tier with a line shows its
 * available seats as held: they are pooled for the line, as boxoffice shows them. */
static void seatmap_replied(redisAsyncContext *async, void *data, void *privdata)
{
	struct redis_op *op = privdata;
	struct redis_target *target = op->target;
	const redisReply *reply = data;
	struct bench_result result = { .status = STATUS_INTERNAL };
	(void)async;
	if (reply != NULL && reply->type == REDIS_REPLY_STRING && reply->len == SEATS_VALUE_SIZE) {
		const uint8_t *states = (const uint8_t *)reply->str;
		const uint8_t *lined = states + BENCH_SEATS_COUNT;
		if (lined[TIER_ECONOMY] | lined[TIER_REGULAR] | lined[TIER_VIP]) {
			memcpy(target->states, states, BENCH_SEATS_COUNT);
			for (uint32_t seat = 0; seat < BENCH_SEATS_COUNT; seat++)
				if (lined[bench_seat_tier(seat)] && states[seat] == SEAT_AVAILABLE)
					target->states[seat] = SEAT_HELD;
			states = target->states;
		}
		result = (struct bench_result){ .status = STATUS_OK, .states = states,
						.states_count = BENCH_SEATS_COUNT };
	} else {
		target_error(target, "bad seat map", reply_error(reply));
	}
	op_finish(op, &result);
}

/* The poll behind a WAIT: a terminal entry (or an error) answers now; a waiting
 * entry leaves the WAIT parked for its news or its timeout. */
static void wait_polled(redisAsyncContext *async, void *reply, void *data)
{
	struct redis_op *op = data;
	struct bench_result result;
	(void)async;
	/* Neither news nor the timeout answers a WAIT before its poll has. */
	ASSERT(op->poll_pending);
	op->poll_pending = false;
	result_parse(op->target, reply, &result);
	if (result.status == STATUS_OK && result.waiter_state == WAITER_WAITING) {
		if (op->news_kept && op->news.waiter_seq == result.waiter_seq)
			result = op->news;
		else if (now_ms() < op->due_ms) {
			/* Parked: scans skipped it while its poll was out. */
			op->seq = result.waiter_seq;
			if (op->due_ms < op->target->waits_scan_ms)
				op->target->waits_scan_ms = op->due_ms;
			return;
		}
	}
	waits_remove(op->target, op);
	op_finish(op, &result);
}

static void news_received(redisAsyncContext *async, void *data, void *privdata)
{
	struct redis_target *target = privdata;
	const redisReply *reply = data;
	(void)async;
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
		return;
	if (strcmp(reply->element[0]->str, "subscribe") == 0) {
		target->opening--;
		return;
	}
	uint64_t user_id;
	struct bench_result result;
	if (reply->element[2]->type != REDIS_REPLY_STRING ||
	    !redis_news_parse(reply->element[2]->str, &user_id, &result)) {
		target_error(target, "bad news", reply_error(reply->element[2]));
		return;
	}
	struct redis_op *op = target->waits_count ? waits_get(target, user_id) : NULL;
	/* News nobody waits for, or of an older entry of the user, is dropped: the entry
	 * itself answers the next poll. */
	if (op == NULL || (!op->poll_pending && op->seq != result.waiter_seq))
		return;
	if (op->poll_pending) {
		op->news_kept = true;
		op->news = result;
		return;
	}
	waits_remove(target, op);
	op_finish(op, &result);
}

/* Answers the parked WAITs whose timeout has passed (still waiting), and finds when
 * the next one is due. A WAIT whose poll is still out is left to the poll's reply:
 * the poll may be delivering (and removing) its news. The done callbacks run after
 * the walk, since they may park WAITs. */
static void waits_expire(struct redis_target *target, int64_t now)
{
	if (now < target->waits_scan_ms)
		return;
	struct redis_op *due = NULL; /* chained through next_free, unused while in flight */
	int64_t next = now + WAIT_TIMEOUT_MS_MAX;
	for (uint32_t i = 0; i < target->waits_capacity;) {
		struct redis_op *op = target->waits[i];
		if (op == NULL || op->due_ms > now || op->poll_pending) {
			if (op != NULL && !op->poll_pending && op->due_ms < next)
				next = op->due_ms;
			i++;
			continue;
		}
		/* Removing shifts a later entry into slot i: look at it again. */
		waits_remove(target, op);
		op->next_free = due;
		due = op;
	}
	target->waits_scan_ms = next > now + WAITS_SCAN_MS ? next : now + WAITS_SCAN_MS;
	while (due != NULL) {
		struct redis_op *op = due;
		struct bench_result result = { .status = STATUS_OK, .waiter_state = WAITER_WAITING,
					       .waiter_seq = op->seq };
		due = op->next_free;
		op_finish(op, &result);
	}
}

static void sweep_replied(redisAsyncContext *async, void *data, void *privdata)
{
	struct redis_target *target = privdata;
	const redisReply *reply = data;
	long long more = 0, next_ms = SWEEP_INTERVAL_MS;
	(void)async;
	target->sweeping = false;
	if (!redis_reply_integer(reply, 2, &more) || !redis_reply_integer(reply, 3, &next_ms))
		target_error(target, "sweep failed", reply_error(reply));
	/* Work left (a batch limit was reached): go on at once. Else come back when the
	 * next hold or waiter is due, and at least every SWEEP_INTERVAL_MS. */
	if (next_ms > SWEEP_INTERVAL_MS || next_ms < 0)
		next_ms = SWEEP_INTERVAL_MS;
	if (next_ms < SWEEP_SPACING_MS)
		next_ms = SWEEP_SPACING_MS;
	target->sweep_due_ms = now_ms() + (more ? 0 : next_ms);
}

static void opening_replied(redisAsyncContext *async, void *data, void *privdata)
{
	struct redis_target *target = privdata;
	const redisReply *reply = data;
	(void)async;
	if (reply != NULL && reply->type == REDIS_REPLY_STATUS)
		target->opening--;
}

/* Submitting. */

static struct redis_conn *conn_next(struct redis_target *target)
{
	for (uint32_t tries = 0; tries < target->conns_count; tries++) {
		struct redis_conn *conn = &target->conns[target->conns_next++ % target->conns_count];
		if (conn->async != NULL)
			return conn;
	}
	return NULL;
}

static int redis_submit(struct bench_target *opaque, const struct bench_request *request,
			bench_done_fn *done, void *context)
{
	struct redis_target *target = (struct redis_target *)opaque;
	const char *argv[ARGV_COUNT_MAX];
	size_t sizes[ARGV_COUNT_MAX];
	char numbers[ARGV_COUNT_MAX][NUMBER_SIZE];
	ASSERT(done != NULL);
	/* One show only (CONFIRM and RELEASE name it by the hold id); the browse
	 * operations are boxoffice's alone. */
	if (request->show_id != BENCH_SHOW_ID && request->op != BENCH_CONFIRM &&
	    request->op != BENCH_RELEASE)
		return -EINVAL;
	int argc = redis_request_format(request, argv, sizes, numbers);
	if (argc < 0)
		return -ENOTSUP;
	struct redis_conn *conn = conn_next(target);
	if (conn == NULL)
		return -ENOTCONN;

	struct redis_op *op = op_create(target);
	op->done = done;
	op->context = context;
	op->user_id = request->user_id;
	redisCallbackFn *replied = request->op == BENCH_SEATMAP ? seatmap_replied
				   : request->op == BENCH_WAIT	? wait_polled
								: op_replied;
	if (request->op == BENCH_WAIT) {
		uint32_t timeout_ms = request->timeout_ms ? request->timeout_ms
							  : WAIT_TIMEOUT_MS_DEFAULT;
		if (timeout_ms > WAIT_TIMEOUT_MS_MAX)
			timeout_ms = WAIT_TIMEOUT_MS_MAX;
		op->poll_pending = true;
		op->due_ms = now_ms() + timeout_ms;
		/* Registered before the poll is sent, so that no news can slip past. */
		waits_put(target, op);
	}
	target->in_flight++;
	int rc = redisAsyncCommandArgv(conn->async, replied, op, argc, argv, sizes);
	ASSERT(rc == REDIS_OK);
	return 0;
}

/* The poll loop. */

static void conns_flush(struct redis_target *target)
{
	for (uint32_t i = 0; i < target->conns_count + 2; i++)
		if (target->conns[i].events & POLLOUT)
			redisAsyncHandleWrite(target->conns[i].async);
}

static void sweep_start(struct redis_target *target, int64_t now)
{
	if (!target->ready || target->sweeping || now < target->sweep_due_ms ||
	    target->sweeper->async == NULL)
		return;
	target->sweeping = true;
	redisAsyncCommand(target->sweeper->async, sweep_replied, target, "FCALL bx_expire 0");
}

/* Waits up to timeout_us for I/O, then handles it: replies run their callbacks. */
static void io_run(struct redis_target *target, int64_t timeout_us)
{
	uint32_t count = 0;
	for (uint32_t i = 0; i < target->conns_count + 2; i++) {
		struct redis_conn *conn = &target->conns[i];
		if (conn->async == NULL || conn->events == 0)
			continue;
		target->pollfds[count] = (struct pollfd){ .fd = conn->async->c.fd,
							  .events = conn->events };
		target->poll_conns[count++] = conn;
	}
	struct timespec timeout = { .tv_sec = timeout_us / 1000000,
				    .tv_nsec = (long)(timeout_us % 1000000) * 1000 };
	int ready = ppoll(target->pollfds, count, &timeout, NULL);
	if (ready < 0 && errno != EINTR)
		target_error(target, "poll", strerror(errno));
	for (uint32_t i = 0; ready > 0 && i < count; i++) {
		short revents = target->pollfds[i].revents;
		struct redis_conn *conn = target->poll_conns[i];
		if ((revents & (POLLIN | POLLERR | POLLHUP)) && conn->async != NULL)
			redisAsyncHandleRead(conn->async);
		if ((revents & POLLOUT) && conn->async != NULL)
			redisAsyncHandleWrite(conn->async);
	}
}

static int redis_poll(struct bench_target *opaque, int64_t timeout_us)
{
	struct redis_target *target = (struct redis_target *)opaque;
	int64_t now = now_ms();
	target->completed = 0;
	sweep_start(target, now);
	conns_flush(target);
	/* Sleep no longer than the caller allows, than the sweeper's period, or than the
	 * first WAIT timeout. */
	int64_t wait_us = timeout_us < 0 ? 1000000 : timeout_us;
	int64_t wake = now + wait_us / 1000 + 1;
	if (target->ready && !target->sweeping && target->sweep_due_ms < wake)
		wake = target->sweep_due_ms;
	if (target->waits_count > 0 && target->waits_scan_ms < wake)
		wake = target->waits_scan_ms;
	int64_t until_us = wake > now ? (wake - now) * 1000 : 0;
	io_run(target, until_us < wait_us ? until_us : wait_us);
	now = now_ms();
	waits_expire(target, now);
	sweep_start(target, now);
	/* Requests that the done callbacks submitted leave now, not at the next poll. */
	conns_flush(target);
	return (int)target->completed;
}

static uint32_t redis_in_flight(const struct bench_target *opaque)
{
	return ((const struct redis_target *)opaque)->in_flight;
}

/* Blocking calls on the sync connection; NULL (logged) unless the reply is an array. */
static redisReply *sync_call(struct redis_target *target, int argc, const char **argv)
{
	redisReply *reply = redisCommandArgv(target->sync, argc, argv, NULL);
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
		target_error(target, argv[1], reply ? reply_error(reply) : target->sync->errstr);
		freeReplyObject(reply);
		return NULL;
	}
	return reply;
}

static int redis_setup(struct bench_target *opaque, uint32_t hold_ttl_ms, uint32_t idle_ms)
{
	struct redis_target *target = (struct redis_target *)opaque;
	char ttl[NUMBER_SIZE], idle[NUMBER_SIZE];
	ASSERT(target->in_flight == 0);
	snprintf(ttl, sizeof(ttl), "%" PRIu32, hold_ttl_ms ? hold_ttl_ms : HOLD_TTL_MS_DEFAULT);
	snprintf(idle, sizeof(idle), "%" PRIu32, idle_ms ? idle_ms : WAITLIST_IDLE_MS_DEFAULT);
	const char *argv[] = { "FCALL", "bx_setup", "0", ttl, idle };
	redisReply *reply = sync_call(target, 5, argv);
	long long status = -1;
	bool ok = redis_reply_integer(reply, 0, &status) && status == STATUS_OK;
	freeReplyObject(reply);
	if (!ok)
		return -EIO;
	target->ready = true;
	target->sweep_due_ms = now_ms() + SWEEP_INTERVAL_MS;
	return 0;
}

/* Sweeps until no hold is due, then counts with bx_audit, which also lists every
 * broken invariant it finds (logged here; any makes the audit fail). */
static int redis_audit(struct bench_target *opaque, struct bench_audit *audit)
{
	struct redis_target *target = (struct redis_target *)opaque;
	const char *sweep[] = { "FCALL", "bx_expire", "0" };
	const char *count[] = { "FCALL_RO", "bx_audit", "0" };
	long long more = 1, v[4];
	for (uint32_t rounds = 0; more && rounds < 100000; rounds++) {
		redisReply *reply = sync_call(target, 3, sweep);
		if (!redis_reply_integer(reply, 2, &more))
			more = 0;
		freeReplyObject(reply);
	}
	redisReply *reply = sync_call(target, 3, count);
	bool ok = reply != NULL;
	for (size_t i = 0; ok && i < ARRAY_COUNT(v); i++)
		ok = redis_reply_integer(reply, i, &v[i]) && v[i] >= 0 && v[i] <= BENCH_SEATS_COUNT;
	for (size_t i = ARRAY_COUNT(v); ok && i < reply->elements; i++)
		fprintf(stderr, "redis target: audit: %s\n", reply->element[i]->str);
	ok = ok && reply->elements == ARRAY_COUNT(v);
	if (ok)
		*audit = (struct bench_audit){ .seats_booked = (uint32_t)v[0],
					       .seats_held = (uint32_t)v[1],
					       .seats_available = (uint32_t)v[2],
					       .seats_double_booked = (uint32_t)v[3] };
	freeReplyObject(reply);
	return ok ? 0 : -EIO;
}

/* Opening and closing. */

static int address_parse(const char *address, char *host, size_t host_size, int *port)
{
	const char *colon = strrchr(address, ':');
	if (colon == NULL || colon == address || (size_t)(colon - address) >= host_size)
		return -EINVAL;
	memcpy(host, address, (size_t)(colon - address));
	host[colon - address] = '\0';
	char *end;
	long value = strtol(colon + 1, &end, 10);
	if (*end != '\0' || value < 1 || value > 65535)
		return -EINVAL;
	*port = (int)value;
	return 0;
}

/* Checks that bench/peers/redis.sh loaded the library, so that a missing one is one
 * clear error rather than every FCALL failing. */
static int library_check(struct redis_target *target, char *error, size_t error_size)
{
	const char *argv[] = { "FUNCTION", "LIST", "LIBRARYNAME", "boxoffice" };
	redisReply *reply = sync_call(target, 4, argv);
	bool loaded = reply != NULL && reply->elements > 0;
	freeReplyObject(reply);
	if (!loaded)
		snprintf(error, error_size, "the boxoffice function library is not loaded "
					    "(start the server with bench/peers/redis.sh)");
	return loaded ? 0 : -ENOENT;
}

/* Connects every asynchronous connection and waits until each has answered. */
static int conns_open(struct redis_target *target, const char *host, int port)
{
	for (uint32_t i = 0; i < target->conns_count + 2; i++) {
		struct redis_conn *conn = &target->conns[i];
		int rc = conn_open(target, conn, host, port);
		if (rc < 0)
			return rc;
		target->opening++;
		if (conn == target->subscriber)
			redisAsyncCommand(conn->async, news_received, target, "SUBSCRIBE bx:news");
		else
			redisAsyncCommand(conn->async, opening_replied, target, "PING");
	}
	int64_t give_up = now_ms() + CONNECT_TIMEOUT_MS;
	while (target->opening > 0 && now_ms() < give_up && target->errors_count == 0) {
		conns_flush(target);
		io_run(target, 10);
	}
	return target->opening == 0 ? 0 : -ECONNREFUSED;
}

static void redis_close(struct bench_target *opaque);

static int redis_open(struct bench_target **opaque, const char *address, uint32_t connections,
		      char *error, size_t error_size)
{
	char host[256];
	int port = 0;
	if (address_parse(address, host, sizeof(host), &port) < 0) {
		snprintf(error, error_size, "address '%s' is not host:port", address);
		return -EINVAL;
	}
	struct redis_target *target = calloc(1, sizeof(*target));
	if (target == NULL)
		return -ENOMEM;
	target->conns_count = connections < 1		      ? 1
			      : connections > CONNECTIONS_MAX ? CONNECTIONS_MAX
							      : connections;
	target->sweeper = &target->conns[target->conns_count];
	target->subscriber = &target->conns[target->conns_count + 1];
	struct timeval timeout = { .tv_sec = CONNECT_TIMEOUT_MS / 1000 };
	target->sync = redisConnectWithTimeout(host, port, timeout);
	int rc = -ECONNREFUSED;
	if (target->sync == NULL || target->sync->err) {
		snprintf(error, error_size, "connecting to %s: %s", address,
			 target->sync ? target->sync->errstr : "out of memory");
		goto fail;
	}
	rc = library_check(target, error, error_size);
	if (rc < 0)
		goto fail;
	rc = conns_open(target, host, port);
	if (rc < 0) {
		snprintf(error, error_size, "opening %" PRIu32 " connections to %s failed",
			 target->conns_count + 2, address);
		goto fail;
	}
	*opaque = (struct bench_target *)target;
	return 0;
fail:
	redis_close((struct bench_target *)target);
	return rc;
}

static void redis_close(struct bench_target *opaque)
{
	struct redis_target *target = (struct redis_target *)opaque;
	if (target == NULL)
		return;
	/* Freeing a connection runs the callbacks of its unanswered commands with no
	 * reply; `closing` keeps them from calling into a driver that is done. */
	target->closing = true;
	for (uint32_t i = 0; i < target->conns_count + 2; i++)
		if (target->conns[i].async != NULL)
			redisAsyncFree(target->conns[i].async);
	if (target->sync != NULL)
		redisFree(target->sync);
	while (target->ops_chunks != NULL) {
		struct redis_ops_chunk *next = target->ops_chunks->next;
		free(target->ops_chunks);
		target->ops_chunks = next;
	}
	free(target->waits);
	free(target);
}

const struct bench_target_ops bench_target_redis = {
	.name = "redis",
	.open = redis_open,
	.setup = redis_setup,
	.submit = redis_submit,
	.poll = redis_poll,
	.in_flight = redis_in_flight,
	.audit = redis_audit,
	.close = redis_close,
};
