/*
 * target_postgres.c — boxbench's PostgreSQL 15 peer: every operation of
 * bench/WORKLOAD.md is one call of a PL/pgSQL function of bench/peers/postgres.sql,
 * one round trip and one transaction, acknowledged only when the server has
 * committed it (synchronous_commit = on: after the WAL fsync).
 *
 * Connections. `connections` request connections in libpq pipeline mode, each with
 * the statements prepared once at open. An operation is sent as Bind/Execute plus a
 * Sync, so it is its own implicit transaction, and goes to the connection with the
 * fewest operations in flight. Its result rows arrive before its commit; only the
 * PGRES_PIPELINE_SYNC that follows (ReadyForQuery, after COMMIT) completes it.
 * Three more connections: the sweeper (pipeline mode; bench_expire every 50 ms and a
 * seat-map rebuild every 100 ms, sent from inside poll(), so they run while the
 * driver polls; audit expires once more itself), the listener (LISTEN bench_waiter:
 * the sweeper notifies a user whose line entry was offered seats, sold out or
 * lapsed) and a blocking one for setup and audit. SEATMAP returns the last rebuild.
 *
 * WAIT is a poll of the user's entry (bench_poll). If the entry is still waiting the
 * WAIT is parked here, in a hash by user and a list by deadline, and costs the server
 * nothing until a notification for the user re-polls it or its timeout completes it
 * with "waiting". A notification that arrives while the poll is in flight is
 * remembered and causes one more poll, so no wake-up is lost.
 *
 * submit answers -ENOTSUP for the browse operations (boxoffice's alone) and -EEXIST
 * for a second WAIT of the same user while one is in flight.
 *
 * Bounds: PG_OPS_COUNT_MAX operations in flight (submit answers -EAGAIN past it),
 * PG_CONNECTIONS_COUNT_MAX connections, PG_RETRIES_MAX retries of an operation whose
 * transaction was chosen as a deadlock or serialization victim. Everything is
 * allocated by open.
 */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "postgres_sql.h"
#include "target.h"

#define PG_OPS_COUNT_MAX 65536u
#define PG_CONNECTIONS_COUNT_MAX 1024u
#define PG_WAIT_BUCKETS_COUNT 65536u /* a power of two */
#define PG_RETRIES_MAX 3u
#define PG_SWEEP_PERIOD_MS 50
/* The seat map is rebuilt from the seat table (a 50,000-row scan and sort) at most
 * this often and SEATMAP reads the copy: the same 100 ms bound that WORKLOAD.md
 * allows for expiry. Building it for every SEATMAP would cost ~10 ms of server CPU
 * each. */
#define PG_SEATMAP_REFRESH_MS 100
#define PG_WAIT_TIMEOUT_MS_DEFAULT 30000u
#define PG_WAIT_TIMEOUT_MS_MAX 300000u
#define PG_ERRORS_LOGGED_MAX 10u

enum pg_kind {
	PG_KIND_REQUEST = 0, /* a bench_request; WAIT while its poll is in flight */
	PG_KIND_SWEEP = 1,
	PG_KIND_SEATMAP_REFRESH = 2,
};

struct pg_op {
	enum pg_kind kind;
	struct bench_request request;
	bench_done_fn *done;
	void *context;
	struct pg_op *next;	 /* a connection's queue, the free list or the done list */
	struct pg_op *hash_next; /* WAIT: the wait hash chain */
	struct pg_op *park_prev; /* WAIT: the parked list, by deadline */
	struct pg_op *park_next;
	int64_t wait_deadline_ms; /* WAIT: monotonic */
	uint8_t retries_count;	  /* 0..PG_RETRIES_MAX */
	bool wait_notified;	  /* WAIT: a notification came during the poll */
	bool wait_parked;
};

struct pg_connection {
	PGconn *conn;
	struct pg_op *queue_head; /* sent, awaiting their PIPELINE_SYNC, in order */
	struct pg_op *queue_tail;
	uint32_t queue_count;
	PGresult *pending; /* the queue head's result, kept until its sync */
	bool broken;
};

struct bench_target {
	struct pg_connection *connections; /* connections_count request connections */
	uint32_t connections_count;
	struct pg_connection sweeper;
	PGconn *listener;
	PGconn *control;
	struct pg_op *ops; /* PG_OPS_COUNT_MAX */
	struct pg_op *free_head;
	struct pg_op *done_head; /* failed before reaching a connection */
	struct pg_op **wait_buckets;
	struct pg_op *park_head; /* parked WAITs, earliest deadline first */
	struct pg_op *park_tail;
	struct pollfd *pollfds; /* connections_count + 2 */
	uint32_t in_flight_count;
	uint32_t completed_count; /* by the current poll */
	uint32_t errors_logged_count;
	int64_t sweep_next_ms;
	int64_t refresh_next_ms;
	uint8_t states[BENCH_SEATS_COUNT];
};

static int64_t pg_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Logs the first few server errors: a benchmark that fails should say why, once. */
static void pg_error_log(struct bench_target *target, const char *what, const char *message)
{
	if (target->errors_logged_count >= PG_ERRORS_LOGGED_MAX)
		return;
	target->errors_logged_count++;
	fprintf(stderr, "target_postgres: %s: %s\n", what, message);
}

static PGconn *pg_connect(const char *conninfo, char *error, size_t error_size)
{
	PGconn *conn = PQconnectdb(conninfo);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		snprintf(error, error_size, "connect: %s",
			 conn ? PQerrorMessage(conn) : "out of memory");
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Prepares every statement (blocking) and turns on non-blocking pipeline mode. */
static int pg_connection_open(struct pg_connection *connection, const char *conninfo,
			      char *error, size_t error_size)
{
	connection->conn = pg_connect(conninfo, error, error_size);
	if (connection->conn == NULL)
		return -ECONNREFUSED;
	for (size_t i = 0; i < PG_STATEMENTS_COUNT; i++) {
		PGresult *result = PQprepare(connection->conn, pg_statements[i].name,
					     pg_statements[i].text, 0, NULL);
		bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
		if (!ok)
			snprintf(error, error_size, "prepare %s: %s", pg_statements[i].name,
				 PQresultErrorMessage(result));
		PQclear(result);
		if (!ok)
			return -EPROTO;
	}
	if (PQsetnonblocking(connection->conn, 1) != 0 ||
	    PQenterPipelineMode(connection->conn) != 1) {
		snprintf(error, error_size, "pipeline mode: %s",
			 PQerrorMessage(connection->conn));
		return -EPROTO;
	}
	return 0;
}

static struct pg_op *pg_op_get(struct bench_target *target)
{
	struct pg_op *op = target->free_head;
	if (op == NULL)
		return NULL;
	target->free_head = op->next;
	memset(op, 0, sizeof(*op));
	return op;
}

static void pg_op_put(struct bench_target *target, struct pg_op *op)
{
	op->next = target->free_head;
	target->free_head = op;
}

/* The link of the wait hash that points at the user's WAIT, or at NULL if none. */
static struct pg_op **pg_wait_link(struct bench_target *target, uint64_t user_id)
{
	uint64_t hash = user_id * 0x9E3779B97F4A7C15ull; /* Fibonacci hashing */
	struct pg_op **link = &target->wait_buckets[(hash >> 32) & (PG_WAIT_BUCKETS_COUNT - 1)];
	while (*link != NULL && (*link)->request.user_id != user_id)
		link = &(*link)->hash_next;
	return link;
}

static void pg_wait_remove(struct bench_target *target, struct pg_op *wait)
{
	struct pg_op **link = pg_wait_link(target, wait->request.user_id);
	ASSERT(*link == wait);
	*link = wait->hash_next;
	wait->hash_next = NULL;
}

/* Parks a WAIT whose entry is still waiting, keeping the list in deadline order
 * (appending is O(1) when every WAIT has the same timeout). */
static void pg_wait_park(struct bench_target *target, struct pg_op *wait)
{
	ASSERT(!wait->wait_parked);
	struct pg_op *after = target->park_tail;
	while (after != NULL && after->wait_deadline_ms > wait->wait_deadline_ms)
		after = after->park_prev;
	wait->park_prev = after;
	wait->park_next = after ? after->park_next : target->park_head;
	if (wait->park_next)
		wait->park_next->park_prev = wait;
	else
		target->park_tail = wait;
	if (after)
		after->park_next = wait;
	else
		target->park_head = wait;
	wait->wait_parked = true;
}

static void pg_wait_unpark(struct bench_target *target, struct pg_op *wait)
{
	ASSERT(wait->wait_parked);
	if (wait->park_prev)
		wait->park_prev->park_next = wait->park_next;
	else
		target->park_head = wait->park_next;
	if (wait->park_next)
		wait->park_next->park_prev = wait->park_prev;
	else
		target->park_tail = wait->park_prev;
	wait->park_prev = wait->park_next = NULL;
	wait->wait_parked = false;
}

/* The statement and parameters of an operation. */
static void pg_op_call(const struct pg_op *op, struct pg_call *call)
{
	if (op->kind == PG_KIND_REQUEST) {
		pg_call_build(&op->request, call);
		return;
	}
	*call = (struct pg_call){ .name = op->kind == PG_KIND_SWEEP ? "expire" : "seatmap_refresh" };
}

/* Sends one operation with its Sync: its own transaction. Returns 0, or -EIO when the
 * connection is broken (the caller completes the op as failed). */
static int pg_op_send(struct pg_connection *connection, struct pg_op *op)
{
	struct pg_call call;
	pg_op_call(op, &call);
	if (connection->broken ||
	    PQsendQueryPrepared(connection->conn, call.name, call.values_count, call.values,
				NULL, NULL, call.result_format) != 1 ||
	    PQpipelineSync(connection->conn) != 1) {
		connection->broken = true;
		return -EIO;
	}
	op->next = NULL;
	if (connection->queue_tail)
		connection->queue_tail->next = op;
	else
		connection->queue_head = op;
	connection->queue_tail = op;
	connection->queue_count++;
	return 0;
}

static struct pg_connection *pg_connection_pick(struct bench_target *target)
{
	struct pg_connection *best = NULL;
	for (uint32_t i = 0; i < target->connections_count; i++) {
		struct pg_connection *c = &target->connections[i];
		if (!c->broken && (best == NULL || c->queue_count < best->queue_count))
			best = c;
	}
	return best;
}

/* Sends a request op, or parks it on the done list as failed if no connection works. */
static void pg_request_send(struct bench_target *target, struct pg_op *op)
{
	struct pg_connection *connection = pg_connection_pick(target);
	if (connection != NULL && pg_op_send(connection, op) == 0)
		return;
	op->next = target->done_head;
	target->done_head = op;
}

static void pg_request_finish(struct bench_target *target, struct pg_op *op,
			      const struct bench_result *result)
{
	if (op->request.op == BENCH_WAIT)
		pg_wait_remove(target, op);
	ASSERT(target->in_flight_count > 0);
	target->in_flight_count--;
	target->completed_count++;
	op->done(op->context, result);
	pg_op_put(target, op);
}

/* Turns a server answer into a bench_result. Returns false when the operation should
 * be retried (a deadlock or serialization victim, up to PG_RETRIES_MAX times). */
static bool pg_result_parse(struct bench_target *target, struct pg_op *op,
			    const PGresult *pending, struct bench_result *result)
{
	enum pg_answer answer = pg_answer_parse(pending, op->request.op, target->states, result);
	if (answer == PG_ANSWER_VICTIM && op->retries_count < PG_RETRIES_MAX)
		return false;
	if (answer != PG_ANSWER_DONE)
		pg_error_log(target, bench_op_name(op->request.op), PQresultErrorMessage(pending));
	return true;
}

/* A WAIT's poll answered: complete it, park it, or poll again. */
static void pg_wait_answered(struct bench_target *target, struct pg_op *op,
			     const struct bench_result *result)
{
	bool waiting = result->status == STATUS_OK && result->waiter_state == WAITER_WAITING;
	if (waiting && op->wait_notified) {
		op->wait_notified = false;
		pg_request_send(target, op);
	} else if (waiting && pg_clock_ms() < op->wait_deadline_ms) {
		pg_wait_park(target, op);
	} else {
		pg_request_finish(target, op, result);
	}
}

/* The operation at the head of `connection` has committed (or failed). */
static void pg_op_complete(struct bench_target *target, struct pg_connection *connection)
{
	struct pg_op *op = connection->queue_head;
	ASSERT(op != NULL);
	connection->queue_head = op->next;
	if (connection->queue_head == NULL)
		connection->queue_tail = NULL;
	connection->queue_count--;
	PGresult *pending = connection->pending;
	connection->pending = NULL;
	if (op->kind != PG_KIND_REQUEST) {
		if (pending && PQresultStatus(pending) != PGRES_TUPLES_OK)
			pg_error_log(target, "sweeper", PQresultErrorMessage(pending));
		PQclear(pending);
		pg_op_put(target, op);
		return;
	}
	struct bench_result result;
	if (!pg_result_parse(target, op, pending, &result)) {
		PQclear(pending);
		op->retries_count++;
		pg_request_send(target, op);
		return;
	}
	if (op->request.op == BENCH_WAIT)
		pg_wait_answered(target, op, &result);
	else
		pg_request_finish(target, op, &result);
	PQclear(pending);
}

/* Reads what the server sent and completes every operation whose Sync arrived. */
static void pg_connection_read(struct bench_target *target, struct pg_connection *connection)
{
	if (connection->broken || PQconsumeInput(connection->conn) != 1) {
		connection->broken = true;
		return;
	}
	uint32_t nulls_count = 0;
	while (connection->queue_head != NULL && !PQisBusy(connection->conn)) {
		PGresult *result = PQgetResult(connection->conn);
		if (result == NULL) {
			/* The end of one statement's results; twice in a row: nothing more. */
			if (++nulls_count == 2)
				break;
			continue;
		}
		nulls_count = 0;
		switch (PQresultStatus(result)) {
		case PGRES_PIPELINE_SYNC:
			PQclear(result);
			pg_op_complete(target, connection);
			break;
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			/* Keep an error that came first: it is the outcome. */
			if (connection->pending == NULL) {
				connection->pending = result;
				break;
			}
			PQclear(result);
			break;
		default:
			/* An error (also one raised at COMMIT) replaces any rows. */
			PQclear(connection->pending);
			connection->pending = result;
			break;
		}
	}
}

/* Completes every op of a broken connection as failed, so none is lost. */
static void pg_connection_drain(struct bench_target *target, struct pg_connection *connection)
{
	while (connection->queue_head != NULL) {
		struct pg_op *op = connection->queue_head;
		if (op->kind == PG_KIND_REQUEST)
			op->retries_count = PG_RETRIES_MAX;
		PQclear(connection->pending);
		connection->pending = NULL;
		pg_op_complete(target, connection);
	}
}

static void pg_notifications_read(struct bench_target *target)
{
	if (PQconsumeInput(target->listener) != 1) {
		pg_error_log(target, "listener", PQerrorMessage(target->listener));
		return;
	}
	PGnotify *notify;
	while ((notify = PQnotifies(target->listener)) != NULL) {
		struct pg_op *wait = *pg_wait_link(target, strtoull(notify->extra, NULL, 10));
		PQfreemem(notify);
		if (wait == NULL)
			continue; /* no WAIT now: the next one polls first */
		if (!wait->wait_parked) {
			wait->wait_notified = true;
			continue;
		}
		pg_wait_unpark(target, wait);
		pg_request_send(target, wait);
	}
}

/* Starts a sweep (and a seat-map rebuild) when one is due and none is running. */
static void pg_sweeper_tick(struct bench_target *target, int64_t now_ms)
{
	struct pg_connection *sweeper = &target->sweeper;
	if (sweeper->queue_head != NULL || sweeper->broken || now_ms < target->sweep_next_ms)
		return;
	target->sweep_next_ms = now_ms + PG_SWEEP_PERIOD_MS;
	struct pg_op *op = pg_op_get(target);
	if (op == NULL)
		return;
	op->kind = PG_KIND_SWEEP;
	if (pg_op_send(sweeper, op) != 0) {
		pg_op_put(target, op);
		pg_error_log(target, "sweeper", PQerrorMessage(sweeper->conn));
		return;
	}
	if (now_ms < target->refresh_next_ms || (op = pg_op_get(target)) == NULL)
		return;
	target->refresh_next_ms = now_ms + PG_SEATMAP_REFRESH_MS;
	op->kind = PG_KIND_SEATMAP_REFRESH;
	if (pg_op_send(sweeper, op) != 0)
		pg_op_put(target, op);
}

/* Completes parked WAITs whose timeout passed, and ops that failed before sending. */
static void pg_timers_run(struct bench_target *target, int64_t now_ms)
{
	while (target->park_head != NULL && target->park_head->wait_deadline_ms <= now_ms) {
		struct pg_op *wait = target->park_head;
		pg_wait_unpark(target, wait);
		struct bench_result result = {.status = STATUS_OK,
					      .waiter_state = WAITER_WAITING};
		pg_request_finish(target, wait, &result);
	}
	while (target->done_head != NULL) {
		struct pg_op *op = target->done_head;
		target->done_head = op->next;
		struct bench_result result = {.status = STATUS_INTERNAL};
		pg_request_finish(target, op, &result);
	}
}

/* How long to wait: up to timeout_us (negative: no limit), and no later than the
 * sweeper's next run or the first parked WAIT's deadline. */
static int64_t pg_timeout_us(const struct bench_target *target, int64_t now_ms,
			     int64_t timeout_us)
{
	int64_t next = target->sweep_next_ms;
	if (target->park_head != NULL && target->park_head->wait_deadline_ms < next)
		next = target->park_head->wait_deadline_ms;
	int64_t until = next > now_ms ? (next - now_ms) * 1000 : 0;
	if (timeout_us < 0 || until < timeout_us)
		return until;
	return timeout_us;
}

/* Whether libpq already holds a whole result of `c` (read while it was sending), which
 * poll(2) would not report. */
static bool pg_connection_buffered(const struct pg_connection *c)
{
	return !c->broken && c->queue_head != NULL && !PQisBusy(c->conn);
}

/* One poll(2) over every socket; flushes what libpq could not send at once. */
static int pg_poll_once(struct bench_target *target, int64_t timeout_us)
{
	uint32_t count = target->connections_count;
	for (uint32_t i = 0; i <= count; i++) {
		struct pg_connection *c = i < count ? &target->connections[i] : &target->sweeper;
		int flushed = c->broken ? 0 : PQflush(c->conn);
		if (flushed < 0)
			c->broken = true;
		if (pg_connection_buffered(c))
			timeout_us = 0;
		target->pollfds[i] = (struct pollfd){
			.fd = c->broken ? -1 : PQsocket(c->conn),
			.events = (short)(POLLIN | (flushed == 1 ? POLLOUT : 0)),
		};
	}
	target->pollfds[count + 1] = (struct pollfd){.fd = PQsocket(target->listener),
						      .events = POLLIN};
	struct timespec timeout = { .tv_sec = timeout_us / 1000000,
				    .tv_nsec = (long)(timeout_us % 1000000) * 1000 };
	int ready = ppoll(target->pollfds, count + 2, &timeout, NULL);
	if (ready < 0)
		return errno == EINTR ? 0 : -errno;
	for (uint32_t i = 0; i <= count; i++) {
		struct pg_connection *c = i < count ? &target->connections[i] : &target->sweeper;
		if (target->pollfds[i].revents != 0 || pg_connection_buffered(c))
			pg_connection_read(target, c);
		if (c->broken)
			pg_connection_drain(target, c);
	}
	if (target->pollfds[count + 1].revents != 0)
		pg_notifications_read(target);
	return 0;
}

static int64_t pg_clock_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A negative timeout_us waits until something completes. */
static int pg_poll(struct bench_target *target, int64_t timeout_us)
{
	int64_t deadline_us = timeout_us < 0 ? INT64_MAX : pg_clock_us() + timeout_us;
	target->completed_count = 0;
	for (;;) {
		int64_t now_ms = pg_clock_ms();
		pg_sweeper_tick(target, now_ms);
		pg_timers_run(target, now_ms);
		int64_t now_us = pg_clock_us();
		int64_t left_us = deadline_us == INT64_MAX ? -1
				  : deadline_us > now_us   ? deadline_us - now_us
							   : 0;
		int64_t wait_us = target->completed_count > 0 ? 0
				  : pg_timeout_us(target, now_ms, left_us);
		int error = pg_poll_once(target, wait_us);
		if (error < 0)
			return error;
		if (target->completed_count > 0 || pg_clock_us() >= deadline_us)
			return (int)target->completed_count;
	}
}

static int pg_submit(struct bench_target *target, const struct bench_request *request,
		     bench_done_fn *done, void *context)
{
	ASSERT(done != NULL);
	if (request->op > BENCH_WAIT)
		return -ENOTSUP; /* the browse profile is boxoffice's alone */
	struct pg_op **wait_link = NULL;
	if (request->op == BENCH_WAIT) {
		wait_link = pg_wait_link(target, request->user_id);
		if (*wait_link != NULL)
			return -EEXIST; /* one WAIT per user at a time */
	}
	struct pg_op *op = pg_op_get(target);
	if (op == NULL)
		return -EAGAIN;
	op->kind = PG_KIND_REQUEST;
	op->request = *request;
	op->done = done;
	op->context = context;
	target->in_flight_count++;
	if (wait_link != NULL) {
		uint32_t timeout_ms = request->timeout_ms ? request->timeout_ms
							  : PG_WAIT_TIMEOUT_MS_DEFAULT;
		if (timeout_ms > PG_WAIT_TIMEOUT_MS_MAX)
			timeout_ms = PG_WAIT_TIMEOUT_MS_MAX;
		op->wait_deadline_ms = pg_clock_ms() + timeout_ms;
		*wait_link = op;
	}
	pg_request_send(target, op);
	return 0;
}

static uint32_t pg_in_flight(const struct bench_target *target)
{
	return target->in_flight_count;
}

/* Runs one statement on the blocking control connection; returns its result, or NULL
 * (logged) if it failed. */
static PGresult *pg_control_exec(struct bench_target *target, const char *sql)
{
	PGresult *result = PQexec(target->control, sql);
	ExecStatusType status = PQresultStatus(result);
	if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
		pg_error_log(target, sql, PQresultErrorMessage(result));
		PQclear(result);
		return NULL;
	}
	return result;
}

static int pg_control_run(struct bench_target *target, const char *sql)
{
	PGresult *result = pg_control_exec(target, sql);
	PQclear(result);
	return result != NULL ? 0 : -EIO;
}

static int pg_setup(struct bench_target *target, uint32_t hold_ttl_ms, uint32_t idle_ms)
{
	char sql[96];
	snprintf(sql, sizeof(sql), "SELECT bench_setup(%" PRIu32 ", %" PRIu32 ")",
		 hold_ttl_ms ? hold_ttl_ms : HOLD_TTL_MS_DEFAULT,
		 idle_ms ? idle_ms : WAITLIST_IDLE_MS_DEFAULT);
	/* Then fresh statistics and visibility map, so that the first plans are good. */
	if (pg_control_run(target, sql) < 0 ||
	    pg_control_run(target, "VACUUM (ANALYZE) seat, hold, waiter") < 0)
		return -EIO;
	target->sweep_next_ms = target->refresh_next_ms = pg_clock_ms();
	return 0;
}

/* Waits until the sweeper's statements in flight have committed. Only sweeper ops are
 * completed here, so no done callback runs outside poll(). */
static void pg_sweeper_drain(struct bench_target *target)
{
	struct pg_connection *sweeper = &target->sweeper;
	while (sweeper->queue_head != NULL && !sweeper->broken) {
		struct pollfd pollfd = {.fd = PQsocket(sweeper->conn), .events = POLLIN};
		if (PQflush(sweeper->conn) == 1)
			pollfd.events |= POLLOUT;
		if (poll(&pollfd, 1, 100) < 0 && errno != EINTR)
			break;
		pg_connection_read(target, sweeper);
	}
	if (sweeper->broken)
		pg_connection_drain(target, sweeper);
}

static int pg_audit(struct bench_target *target, struct bench_audit *audit)
{
	/* Expire what the sweeper has not yet, once a sweep in flight has committed (its
	 * locked holds would be skipped), and rebuild the seat map, so that the counts
	 * and a SEATMAP read next are final. */
	pg_sweeper_drain(target);
	if (pg_control_run(target, "SELECT bench_expire()") < 0 ||
	    pg_control_run(target, "SELECT bench_seatmap_refresh()") < 0)
		return -EIO;
	PGresult *result = pg_control_exec(target, "SELECT * FROM bench_audit()");
	if (result == NULL)
		return -EIO;
	ASSERT(PQntuples(result) == 1 && PQnfields(result) == 4);
	audit->seats_booked = (uint32_t)pg_field_int(result, 0);
	audit->seats_held = (uint32_t)pg_field_int(result, 1);
	audit->seats_available = (uint32_t)pg_field_int(result, 2);
	audit->seats_double_booked = (uint32_t)pg_field_int(result, 3);
	PQclear(result);
	return 0;
}

static void pg_close(struct bench_target *target)
{
	if (target == NULL)
		return;
	for (uint32_t i = 0; i < target->connections_count; i++) {
		PQclear(target->connections[i].pending);
		PQfinish(target->connections[i].conn);
	}
	PQclear(target->sweeper.pending);
	PQfinish(target->sweeper.conn);
	PQfinish(target->listener);
	PQfinish(target->control);
	free(target->connections);
	free(target->ops);
	free(target->wait_buckets);
	free(target->pollfds);
	free(target);
}

static int pg_open_connections(struct bench_target *target, const char *conninfo,
			       char *error, size_t error_size)
{
	for (uint32_t i = 0; i < target->connections_count; i++) {
		int code = pg_connection_open(&target->connections[i], conninfo, error,
					      error_size);
		if (code < 0)
			return code;
	}
	int code = pg_connection_open(&target->sweeper, conninfo, error, error_size);
	if (code < 0)
		return code;
	target->control = pg_connect(conninfo, error, error_size);
	target->listener = pg_connect(conninfo, error, error_size);
	if (target->control == NULL || target->listener == NULL)
		return -ECONNREFUSED;
	PGresult *result = PQexec(target->listener, "LISTEN bench_waiter");
	bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
	PQclear(result);
	if (!ok || PQsetnonblocking(target->listener, 1) != 0) {
		snprintf(error, error_size, "listen: %s", PQerrorMessage(target->listener));
		return -EPROTO;
	}
	return 0;
}

static int pg_open(struct bench_target **target_out, const char *address,
		   uint32_t connections, char *error, size_t error_size)
{
	ASSERT(address != NULL);
	if (connections < 1 || connections > PG_CONNECTIONS_COUNT_MAX) {
		snprintf(error, error_size, "connections must be 1..%u", PG_CONNECTIONS_COUNT_MAX);
		return -EINVAL;
	}
	struct bench_target *target = calloc(1, sizeof(*target));
	if (target == NULL)
		return -ENOMEM;
	target->connections_count = connections;
	target->connections = calloc(connections, sizeof(*target->connections));
	target->ops = calloc(PG_OPS_COUNT_MAX, sizeof(*target->ops));
	target->wait_buckets = calloc(PG_WAIT_BUCKETS_COUNT, sizeof(*target->wait_buckets));
	target->pollfds = calloc(connections + 2, sizeof(*target->pollfds));
	if (!target->connections || !target->ops || !target->wait_buckets || !target->pollfds) {
		snprintf(error, error_size, "out of memory");
		pg_close(target);
		return -ENOMEM;
	}
	for (uint32_t i = PG_OPS_COUNT_MAX; i-- > 0;)
		pg_op_put(target, &target->ops[i]);
	int code = pg_open_connections(target, address, error, error_size);
	if (code < 0) {
		pg_close(target);
		return code;
	}
	target->sweep_next_ms = target->refresh_next_ms = pg_clock_ms();
	*target_out = target;
	return 0;
}

const struct bench_target_ops bench_target_postgres = {
	.name = "postgres",
	.open = pg_open,
	.setup = pg_setup,
	.submit = pg_submit,
	.poll = pg_poll,
	.in_flight = pg_in_flight,
	.audit = pg_audit,
	.close = pg_close,
};
