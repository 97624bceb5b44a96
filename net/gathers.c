/*
 * gathers.c — requests every shard answers: catalog puts (decided by shard 0, then
 * applied by every shard in shard 0's order, or deferred while a shard's log cannot
 * take them), stats and snapshots. The worker that received the request opens a
 * gather; each shard's part comes back to it once durable, and the last part sends
 * the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "memory.h"
#include "server.h"
#include "worker.h"

uint32_t gathers_open(struct worker *w, const struct proto_request *request, uint16_t origin,
		      uint64_t conn_id)
{
	/* A free list, not a search: a client may keep thousands of gathers open. */
	uint32_t index = w->gathers_free;
	if (index != UINT32_MAX) {
		w->gathers_free = w->gathers[index].next_free;
	} else {
		ARRAY_RESERVE(w->gathers, w->gathers_capacity, (uint64_t)w->gathers_made + 1);
		index = w->gathers_made++;
	}
	struct gather *g = &w->gathers[index];
	w->gathers_open++;
	*g = (struct gather){ .used = true, .opcode = request->opcode, .worker = origin,
			      .conn_id = conn_id,
			      .request_id = request->request_id,
			      .waiting = w->server->workers_count, .status = STATUS_OK };
	return index;
}

/* Stats every shard reports, by position; the first ones add up over shards. */
static const char *const stat_names[] = {
	"connections", "requests", "responses", "forwarded", "overloaded", "bad_frames",
	"connections_refused", "holds_active", "bookings", "waiters", "waits_parked",
	"shows_owned", "seats_owned", "engine_bytes", "wal_pending_bytes", "wal_durable_lsn",
	"snapshot_lsn",
};
#define STATS_SUMMED 15u

static uint32_t stats_collect(struct worker *w, int64_t *values)
{
	struct engine_stats stats;
	engine_stats_get(w->engine, &stats);
	int64_t collected[] = {
		w->conns_open, (int64_t)w->counters.requests, (int64_t)w->counters.responses,
		(int64_t)w->counters.forwarded, (int64_t)w->counters.overloaded,
		(int64_t)w->counters.bad_frames, (int64_t)w->counters.connections_refused,
		(int64_t)stats.holds_active,
		(int64_t)stats.bookings, (int64_t)stats.waiters, w->parked_count,
		stats.shows_owned, (int64_t)stats.seats_owned, (int64_t)stats.total_bytes,
		(int64_t)wal_writer_pending_bytes(w->writer),
		(int64_t)wal_writer_durable_lsn(w->writer),
		(int64_t)atomic_load(&w->snapshot_written_lsn),
	};
	memcpy(values, collected, sizeof(collected));
	return ARRAY_COUNT(collected);
}

static void gather_finish(struct worker *w, struct gather *g)
{
	struct bytes_writer writer;
	requests_frame_writer(w, &writer);
	proto_response_begin(&writer, g->opcode, g->status, g->request_id);
	if (g->opcode == PROTO_STATS) {
		uint32_t shards = w->server->workers_count;
		bytes_put_u16(&writer, (uint16_t)(STATS_SUMMED + 2 * shards + 1));
		for (uint32_t i = 0; i < STATS_SUMMED; i++)
			proto_put_stat(&writer, text_from_cstr(stat_names[i]), g->stats[i]);
		for (uint32_t s = 0; s < shards; s++) {
			for (uint32_t k = 0; k < 2; k++) {
				char name[48];
				snprintf(name, sizeof(name), "shard%u.%s", s, stat_names[STATS_SUMMED + k]);
				proto_put_stat(&writer, text_from_cstr(name),
					       g->stats[STATS_SUMMED + 2 * s + k]);
			}
		}
		proto_put_stat(&writer, text_from_cstr("uptime_ms"),
			       w->now_ms - w->server->started_ms);
	} else if (g->opcode == PROTO_SNAPSHOT) {
		if (g->status == STATUS_OK)
			proto_put_snapshot_lsns(&writer, g->snapshot_lsn, w->server->workers_count);
	} else if (g->status == STATUS_OK) {
		proto_put_result(&writer, &g->result);
	}
	size_t size = proto_frame_end(&writer, 0);
	g->used = false;
	w->gathers_open--;
	g->next_free = w->gathers_free;
	w->gathers_free = (uint32_t)(g - w->gathers);
	/* Every shard's part is durable by now: the answer goes out at once. */
	pending_add(w, 0, g->worker, PENDING_RESPONSE, g->conn_id, w->frame, (uint32_t)size);
}

/* A shard's reply to a gather this worker opened: [u16 shard][kind-specific]. */
void gathers_reply(struct worker *w, uint32_t gather_index, const uint8_t *bytes, uint32_t size)
{
	ASSERT(gather_index < w->gathers_capacity && w->gathers[gather_index].used);
	struct gather *g = &w->gathers[gather_index];
	struct bytes_reader r;
	bytes_reader_init(&r, bytes, size);
	uint16_t shard = bytes_get_u16(&r);
	if (g->opcode == PROTO_STATS) {
		uint32_t count = bytes_get_u16(&r);
		for (uint32_t i = 0; i < count; i++) {
			int64_t value = (int64_t)bytes_get_u64(&r);
			if (i < STATS_SUMMED)
				g->stats[i] += value;
			else
				g->stats[STATS_SUMMED + 2 * shard + (i - STATS_SUMMED)] = value;
		}
	} else {
		if (g->opcode == PROTO_SNAPSHOT)
			g->snapshot_lsn[shard] = bytes_get_u64(&r);
		/* A shard's refusal (a snapshot it could not write; a put shard 0 accepted
		 * that its log refused) turns the answer into that refusal. */
		enum status status = (enum status)bytes_get_u16(&r);
		if (g->status == STATUS_OK && status != STATUS_OK)
			g->status = status;
	}
	ASSERT(g->waiting > 0);
	if (--g->waiting == 0)
		gather_finish(w, g);
}

/* Sends a gather's reply (from this shard) to the worker that opened it. */
static void gather_answer(struct worker *w, uint16_t origin, uint32_t gather, uint64_t lsn,
			  const uint8_t *payload, uint32_t size)
{
	uint8_t bytes[8 + 2 + 2 + PROTO_STATS_COUNT_MAX * 8 + 64];
	ASSERT(size + 2 <= sizeof(bytes));
	bytes_store_u16(bytes, (uint16_t)w->index);
	memcpy(bytes + 2, payload, size);
	pending_add(w, lsn, origin, PENDING_APPLY_DONE, gather, bytes, size + 2);
}

void gathers_stats_answer(struct worker *w, uint16_t origin, uint32_t gather)
{
	int64_t values[PROTO_STATS_COUNT_MAX];
	uint32_t count = stats_collect(w, values);
	uint8_t payload[2 + PROTO_STATS_COUNT_MAX * 8];
	bytes_store_u16(payload, (uint16_t)count);
	for (uint32_t i = 0; i < count; i++)
		bytes_store_u64(payload + 2 + 8 * i, (uint64_t)values[i]);
	gather_answer(w, origin, gather, 0, payload, 2 + 8 * count);
}

/* This shard's part of a catalog put: its status, once what it appended is durable. */
static void apply_answer(struct worker *w, uint16_t origin, uint32_t gather, uint64_t lsn,
			 enum status status)
{
	uint8_t payload[2];
	bytes_store_u16(payload, (uint16_t)status);
	gather_answer(w, origin, gather, lsn ? lsn : worker_appended_lsn(w), payload,
		      sizeof(payload));
}

static void apply_request(struct worker *w, uint16_t origin, uint32_t gather,
			  const struct command *command)
{
	struct engine_result result;
	uint64_t lsn = requests_command_run(w, command, &result);
	apply_answer(w, origin, gather, lsn, result.status);
}

struct deferred_apply {
	struct deferred_apply *next;
	uint16_t origin;
	uint32_t gather;
	uint32_t size;
	uint32_t record_size; /* of the put's command in the log */
	uint8_t frame[];      /* the put's request frame */
};

/* Whether the log must be waited for before a record of this size can go in. */
static bool apply_must_wait(struct worker *w, uint32_t record_size)
{
	return wal_writer_can_append(w->writer, record_size) == -EAGAIN;
}

/*
 * A put shard 0 accepted is applied here too, whatever this shard's log is doing:
 * refused here it would be on some shards only. When the log cannot take it now, it
 * waits (with every later put, to keep shard 0's order) for requests_release.
 */
void gathers_apply_or_defer(struct worker *w, uint16_t origin, uint32_t gather,
			    const uint8_t *frame, uint32_t size)
{
	struct proto_request request;
	enum status status = proto_request_decode(frame, size, &request);
	ASSERT(status == STATUS_OK); /* decoded once already by shard 0 */
	uint32_t record_size = (uint32_t)command_encoded_size(&request.command);
	if (w->deferred_head == NULL && !apply_must_wait(w, record_size)) {
		apply_request(w, origin, gather, &request.command);
		return;
	}
	struct deferred_apply *d = malloc(sizeof(*d) + size);
	if (d == NULL) {
		apply_answer(w, origin, gather, 0, STATUS_OVERLOADED);
		return;
	}
	*d = (struct deferred_apply){ .origin = origin, .gather = gather, .size = size,
				      .record_size = record_size };
	memcpy(d->frame, frame, size);
	if (w->deferred_tail != NULL)
		w->deferred_tail->next = d;
	else
		w->deferred_head = d;
	w->deferred_tail = d;
}

void gathers_deferred_run(struct worker *w)
{
	while (w->deferred_head != NULL) {
		struct deferred_apply *d = w->deferred_head;
		if (apply_must_wait(w, d->record_size))
			return;
		struct proto_request request;
		enum status status = proto_request_decode(d->frame, d->size, &request);
		ASSERT(status == STATUS_OK);
		apply_request(w, d->origin, d->gather, &request.command);
		w->deferred_head = d->next;
		if (w->deferred_head == NULL)
			w->deferred_tail = NULL;
		free(d);
	}
}

void gathers_finish(struct worker *w)
{
	while (w->deferred_head != NULL) {
		struct deferred_apply *d = w->deferred_head;
		w->deferred_head = d->next;
		free(d);
	}
	w->deferred_tail = NULL;
}

/*
 * Catalog puts are decided by shard 0 alone, in the order it receives them: two clients
 * racing to create the same id on different workers get one OK and one ALREADY_EXISTS,
 * and every shard applies the accepted puts in shard 0's order (its mailboxes are FIFO),
 * so the shards' catalogs never differ. A refusal is answered from shard 0; an accepted
 * put is answered when every shard has applied it durably.
 */
void gathers_catalog_decide(struct worker *w, const struct proto_request *request,
			    uint16_t origin, uint64_t conn_id, const uint8_t *frame, uint32_t size)
{
	ASSERT(w->index == 0);
	struct engine_result result;
	uint64_t lsn = requests_command_run(w, &request->command, &result);
	if (lsn == 0)
		lsn = worker_appended_lsn(w);
	if (result.status != STATUS_OK) {
		struct bytes_writer writer;
		requests_frame_writer(w, &writer);
		proto_response_begin(&writer, request->opcode, result.status, request->request_id);
		pending_add(w, lsn, origin, PENDING_RESPONSE, conn_id, w->frame,
			    (uint32_t)proto_frame_end(&writer, 0));
		return;
	}
	uint32_t gather = gathers_open(w, request, origin, conn_id);
	w->gathers[gather].result = result;
	apply_answer(w, 0, gather, lsn, STATUS_OK);
	uint8_t head[6];
	bytes_store_u16(head, 0);
	bytes_store_u32(head + 2, gather);
	for (uint32_t t = 1; t < w->server->workers_count; t++)
		worker_push(w, t, MESSAGE_APPLY, head, sizeof(head), frame, size, true);
}

/* A snapshot now (unless one is on its way): answered when it is on disk, or with
 * STATUS_INTERNAL when writing it failed. Payload: [u64 LSN][u16 status]. */
static void snapshot_answer(struct worker *w, uint16_t origin, uint32_t gather, uint64_t lsn,
			    enum status status)
{
	uint8_t payload[10];
	bytes_store_u64(payload, lsn);
	bytes_store_u16(payload + 8, (uint16_t)status);
	gather_answer(w, origin, gather, 0, payload, sizeof(payload));
}

static void snapshot_capture(struct worker *w)
{
	engine_snapshot_encode(w->engine, &w->snapshot_image);
	w->snapshot_lsn = worker_appended_lsn(w);
	w->records_since_snapshot = 0;
	w->snapshot_last_ms = w->now_ms;
}

void gathers_snapshot_request(struct worker *w, uint16_t origin, uint32_t gather)
{
	uint64_t written = atomic_load(&w->snapshot_written_lsn);
	if (w->snapshot_lsn == 0 && worker_appended_lsn(w) == written) {
		/* Nothing logged since the last snapshot (or ever): the last one answers. */
		snapshot_answer(w, origin, gather, written, STATUS_OK);
		return;
	}
	/* Everyone asking waits for the snapshot under way, however many they are (each
	 * is a request in flight on its connection, so the list is bounded by those). */
	ARRAY_RESERVE(w->snapshot_gathers, w->snapshot_gathers_capacity,
		      (uint64_t)w->snapshot_gathers_count + 1);
	w->snapshot_gathers[w->snapshot_gathers_count++] = (uint64_t)origin << 32 | gather;
	if (w->snapshot_lsn == 0)
		snapshot_capture(w);
}

/* Snapshots: taken by policy or on demand, written once durable, then reported. */
void gathers_snapshot_progress(struct worker *w)
{
	const struct server_config *config = &w->server->config;
	bool due = w->records_since_snapshot >= config->snapshot_every_records ||
		   (w->records_since_snapshot > 0 &&
		    w->now_ms - w->snapshot_last_ms >= (int64_t)config->snapshot_every_s * 1000);
	if (w->snapshot_lsn == 0 && due && !w->stopping)
		snapshot_capture(w);
	if (w->snapshot_lsn != 0 && !w->snapshot_writing &&
	    wal_writer_durable_lsn(w->writer) >= w->snapshot_lsn) {
		/* The image holds records up to snapshot_lsn: on disk only once they are. */
		w->snapshot_writing = true;
		server_snapshot_submit(w->server, w);
	}
	if (w->snapshot_writing && atomic_load(&w->snapshot_jobs_done) == w->snapshot_jobs_sent) {
		w->snapshot_writing = false;
		bool failed = atomic_load(&w->snapshot_error) != 0;
		for (uint32_t i = 0; i < w->snapshot_gathers_count; i++) {
			uint64_t asked = w->snapshot_gathers[i];
			snapshot_answer(w, (uint16_t)(asked >> 32), (uint32_t)asked,
					failed ? 0 : w->snapshot_lsn,
					failed ? STATUS_INTERNAL : STATUS_OK);
		}
		w->snapshot_gathers_count = 0;
		w->snapshot_lsn = 0;
	}
}
