/*
 * requests.c — what each request does, and when its response may leave.
 *
 * Routing: catalog reads run on the connection's own worker (every shard keeps the
 * whole catalog); anything about a show's seats runs on the show's owner,
 * engine_show_shard(show id); catalog writes run on every shard; stats and
 * snapshots ask every shard.
 *
 * Durability: a response is queued with the LSN it depends on — its own record, or
 * for a refusal or a read the last record appended before it (which it may have
 * seen) — and leaves only once the log is durable that far. The queue is released
 * in order after each batch of completions, so one fdatasync releases every
 * response it covers. A read whose state is already durable leaves at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "memory.h"
#include "server.h"
#include "store.h"
#include "worker.h"

#define EVENT_SHOWS_LISTED_MAX 1000u


uint64_t worker_appended_lsn(const struct worker *w)
{
	return wal_writer_next_lsn(w->writer) - 1;
}

static void frame_writer(struct worker *w, struct bytes_writer *writer)
{
	bytes_writer_init(writer, w->frame, PROTO_FRAME_SIZE_MAX + 4);
}

/* Delivers a response frame to a connection of this worker. */
static void response_deliver(struct worker *w, uint64_t conn_id, const uint8_t *bytes,
			     uint32_t size)
{
	struct conn *conn = worker_conn(w, conn_id);
	if (conn == NULL || conn->requests_in_flight == 0)
		return; /* the client left; its request still happened */
	conn->requests_in_flight--;
	w->counters.responses++;
	conn_output(w, conn, bytes, size);
}

void requests_error(struct worker *w, struct conn *conn, uint16_t opcode, uint64_t request_id,
		    enum status status)
{
	uint8_t bytes[PROTO_HEADER_SIZE];
	struct bytes_writer writer;
	bytes_writer_init(&writer, bytes, sizeof(bytes));
	proto_response_begin(&writer, opcode, status, request_id);
	proto_frame_end(&writer, 0);
	w->counters.responses++;
	if (status == STATUS_OVERLOADED)
		w->counters.overloaded++;
	conn_output(w, conn, bytes, (uint32_t)writer.size);
}

static void gather_reply(struct worker *w, uint32_t gather_index, const uint8_t *bytes,
			 uint32_t size);

/* Hands a released pending entry to its receiver. */
static void pending_deliver(struct worker *w, uint16_t target_worker, uint8_t kind,
			    uint64_t target, const uint8_t *bytes, uint32_t size)
{
	if (target_worker == w->index) {
		if (kind == PENDING_RESPONSE)
			response_deliver(w, target, bytes, size);
		else
			gather_reply(w, (uint32_t)target, bytes, size);
		return;
	}
	uint8_t head[12];
	uint32_t head_size;
	uint32_t message;
	if (kind == PENDING_RESPONSE) {
		bytes_store_u64(head, target);
		head_size = 8;
		message = MESSAGE_RESPONSE;
	} else {
		bytes_store_u32(head, (uint32_t)target);
		head_size = 4;
		message = MESSAGE_APPLY_DONE;
	}
	/* Queued if the mailbox is full: an acknowledged response is never dropped. */
	worker_push(w, target_worker, message, head, head_size, bytes, size, true);
}

void pending_add(struct worker *w, uint64_t required_lsn, uint16_t target_worker, uint8_t kind,
		 uint64_t target, const uint8_t *bytes, uint32_t size)
{
	if (required_lsn <= wal_writer_durable_lsn(w->writer)) {
		pending_deliver(w, target_worker, kind, target, bytes, size);
		return;
	}
	ARRAY_RESERVE(w->pendings, w->pendings_capacity,
		      (uint64_t)w->pendings_head + w->pendings_count + 1);
	ARRAY_RESERVE(w->arena, w->arena_capacity, (uint64_t)w->arena_size + size);
	memcpy(w->arena + w->arena_size, bytes, size);
	w->pendings[w->pendings_head + w->pendings_count++] = (struct pending){
		.required_lsn = required_lsn, .target = target, .offset = w->arena_size,
		.size = size, .worker = target_worker, .kind = kind };
	w->arena_size += size;
}

static void deferred_run(struct worker *w);

void requests_release(struct worker *w)
{
	deferred_run(w);
	uint64_t durable = wal_writer_durable_lsn(w->writer);
	while (w->pendings_count > 0) {
		struct pending *p = &w->pendings[w->pendings_head];
		if (p->required_lsn > durable)
			break;
		pending_deliver(w, p->worker, p->kind, p->target, w->arena + p->offset, p->size);
		w->arena_head = p->offset + p->size;
		w->pendings_head++;
		w->pendings_count--;
	}
	if (w->pendings_count == 0) {
		w->pendings_head = 0;
		w->arena_head = w->arena_size = 0;
	} else if (w->pendings_head > 4096 && w->pendings_head > w->pendings_count) {
		/* Compact now and then so the queue's arrays do not creep forever. */
		memmove(w->pendings, w->pendings + w->pendings_head,
			sizeof(struct pending) * w->pendings_count);
		w->pendings_head = 0;
	}
}

/*
 * Applies a command on this shard and appends what must be logged. Returns the LSN
 * its response depends on, or 0 with *status OVERLOADED when the log cannot take
 * a record now (the command was not applied).
 */
static uint64_t command_run(struct worker *w, const struct command *command,
			    struct engine_result *result)
{
	uint32_t size = command->type == COMMAND_TICK ? 2 : (uint32_t)command_encoded_size(command);
	if (wal_writer_can_append(w->writer, size) != 0) {
		*result = (struct engine_result){ .status = STATUS_OVERLOADED };
		return 0;
	}
	int64_t now = worker_clock(w);
	engine_apply(w->engine, command, now, result);
	struct command tick;
	const struct command *logged = wal_loggable(command, result, now, &tick);
	uint64_t lsn = worker_appended_lsn(w);
	if (logged != NULL) {
		size_t encoded = command_encode(logged, w->record, COMMAND_SIZE_MAX);
		int64_t appended = wal_writer_append(w->writer, engine_now(w->engine), w->record,
						     (uint32_t)encoded);
		ASSERT(appended > 0); /* wal_writer_can_append said yes just above */
		lsn = (uint64_t)appended;
		w->records_since_snapshot++;
		if (logged->type <= COMMAND_SHOW_PUT)
			w->catalog_lsn = lsn;
	}
	uint32_t events_count;
	const struct engine_event *events = engine_events(w->engine, &events_count);
	if (events_count > 0)
		waits_notify(w, events, events_count, lsn);
	if (command->type == COMMAND_WAITLIST_LEAVE && result->status == STATUS_OK)
		waits_left(w, command->waitlist_leave.show_id, command->waitlist_leave.user_id, lsn);
	return lsn;
}

uint64_t requests_poll(struct worker *w, uint32_t show_id, uint64_t user_id,
		       struct engine_result *result)
{
	struct command poll = { .type = COMMAND_WAITLIST_POLL };
	poll.waitlist_poll = (struct command_waitlist_user){ .show_id = show_id,
							     .user_id = user_id };
	uint64_t lsn = command_run(w, &poll, result);
	return lsn ? lsn : worker_appended_lsn(w);
}

static uint32_t show_of(const struct proto_request *request)
{
	switch (request->opcode) {
	case PROTO_SHOW:
	case PROTO_SEATMAP:
		return request->id;
	case PROTO_WAIT:
		return request->wait.show_id;
	case PROTO_SEATS_BLOCK:
		return request->command.seats_block.show_id;
	case PROTO_HOLD:
		return request->command.hold.show_id;
	case PROTO_CONFIRM:
		return hold_id_show(request->command.confirm.hold_id);
	case PROTO_RELEASE:
		return hold_id_show(request->command.release.hold_id);
	case PROTO_BOOKING_CANCEL:
		return hold_id_show(request->command.booking_cancel.booking_id);
	case PROTO_WAITLIST_JOIN:
		return request->command.waitlist_join.show_id;
	case PROTO_WAITLIST_LEAVE:
	case PROTO_WAITLIST_POLL:
		return request->command.waitlist_poll.show_id;
	}
	return 0;
}

/* Owner-side execution: show reads, commands and WAITs. */

static size_t show_response(struct worker *w, const struct proto_request *request,
			    struct bytes_writer *writer)
{
	struct engine_show show;
	bool found = engine_show_get(w->engine, request->id, &show);
	enum status status = !found ? STATUS_NOT_FOUND : show.owned ? STATUS_OK : STATUS_INTERNAL;
	proto_response_begin(writer, request->opcode, status, request->request_id);
	if (status == STATUS_OK && request->opcode == PROTO_SHOW)
		proto_put_show(writer, &show);
	if (status == STATUS_OK && request->opcode == PROTO_SEATMAP) {
		struct engine_venue venue;
		engine_venue_get(w->engine, show.venue_id, &venue);
		/* The engine copies its packed map straight into the frame. */
		uint8_t *packed = proto_put_seatmap_head(writer, venue.venue_id, &venue.layout);
		uint32_t room = (venue.layout.seats_count + 3) / 4;
		if (packed != NULL &&
		    engine_show_seat_states_packed(w->engine, show.show_id, packed, room) == 0)
			memset(packed, 0, room);
	}
	return proto_frame_end(writer, 0);
}

/* Runs a request this shard owns; its response goes to (origin, conn_id). */
static void owner_execute(struct worker *w, const struct proto_request *request, uint16_t origin,
			  uint64_t conn_id)
{
	struct bytes_writer writer;
	frame_writer(w, &writer);
	uint64_t lsn = worker_appended_lsn(w);
	if (request->opcode == PROTO_SHOW || request->opcode == PROTO_SEATMAP) {
		/* A read for a client that has gone is skipped: one that queued thousands of
		 * seat maps and left must not keep this shard busy for nobody. */
		if (origin != w->index && conn_gone(&w->server->workers[origin], conn_id))
			return;
		size_t size = show_response(w, request, &writer);
		pending_add(w, lsn, origin, PENDING_RESPONSE, conn_id, w->frame, (uint32_t)size);
		return;
	}
	struct engine_result result;
	struct command poll;
	const struct command *command = &request->command;
	if (request->opcode == PROTO_WAIT) {
		poll = (struct command){ .type = COMMAND_WAITLIST_POLL };
		poll.waitlist_poll = (struct command_waitlist_user){
			.show_id = request->wait.show_id, .user_id = request->wait.user_id };
		command = &poll;
	}
	lsn = command_run(w, command, &result);
	if (result.status == STATUS_OVERLOADED)
		w->counters.overloaded++;
	/* While stopping, a WAIT is answered with its poll at once: parked, it would only
	 * hold the stop up (stop_begin answered those parked before it). */
	if (request->opcode == PROTO_WAIT && result.status == STATUS_OK &&
	    result.waiter_state == WAITER_WAITING && !w->stopping) {
		uint32_t timeout = request->wait.timeout_ms ? request->wait.timeout_ms
							    : PROTO_WAIT_TIMEOUT_MS_DEFAULT;
		/* A parked WAIT must not outlive the entry's idle limit: it answers "waiting"
		 * (re-polling, which keeps the entry) by half the limit at the latest, and
		 * the client asks again. */
		uint32_t idle_half = engine_config_get(w->engine)->waitlist_idle_ms / 2;
		if (timeout > idle_half && idle_half > 0)
			timeout = idle_half;
		waits_park(w, origin, conn_id, request->request_id, request->wait.show_id,
			   request->wait.user_id, timeout);
		return;
	}
	proto_response_begin(&writer, request->opcode, result.status, request->request_id);
	if (result.status == STATUS_OK || result.status == STATUS_SEAT_UNAVAILABLE)
		proto_put_result(&writer, &result);
	size_t size = proto_frame_end(&writer, 0);
	if (lsn == 0)
		lsn = worker_appended_lsn(w);
	pending_add(w, lsn, origin, PENDING_RESPONSE, conn_id, w->frame, (uint32_t)size);
}

/* Catalog reads, on any shard. */

static size_t event_response(struct worker *w, const struct proto_request *request,
			     struct bytes_writer *writer)
{
	struct engine_event_info event;
	bool found = engine_event_get(w->engine, request->id, &event);
	proto_response_begin(writer, request->opcode, found ? STATUS_OK : STATUS_NOT_FOUND,
			     request->request_id);
	if (!found)
		return proto_frame_end(writer, 0);
	proto_put_event(writer, &event);
	uint32_t ids[64];
	uint32_t listed = event.shows_count < EVENT_SHOWS_LISTED_MAX ? event.shows_count
								      : EVENT_SHOWS_LISTED_MAX;
	bytes_put_u16(writer, (uint16_t)listed);
	for (uint32_t first = 0; first < listed;) {
		uint32_t count = engine_event_shows(w->engine, event.event_id, first, ids, 64);
		for (uint32_t i = 0; i < count && first + i < listed; i++) {
			struct engine_show show;
			struct engine_venue venue;
			engine_show_get(w->engine, ids[i], &show);
			engine_venue_get(w->engine, show.venue_id, &venue);
			struct proto_event_show entry = {
				.show_id = show.show_id, .start_ms = show.start_ms,
				.end_ms = show.end_ms, .venue_id = venue.venue_id,
				.venue_name = venue.name, .venue_address = venue.address
			};
			proto_put_event_show(writer, &entry);
		}
		first += count ? count : listed;
	}
	return proto_frame_end(writer, 0);
}

static size_t list_response(struct worker *w, const struct proto_request *request,
			    struct bytes_writer *writer)
{
	proto_response_begin(writer, request->opcode, STATUS_OK, request->request_id);
	if (request->opcode == PROTO_LOCATIONS) {
		struct engine_location items[PROTO_LIST_LIMIT_MAX];
		uint32_t count = engine_locations_list(w->engine, request->list.after_id, items,
						       request->list.limit);
		bytes_put_u16(writer, (uint16_t)count);
		for (uint32_t i = 0; i < count; i++)
			proto_put_location(writer, &items[i]);
	} else if (!engine_location_get(w->engine, request->list.parent_id,
					&(struct engine_location){ 0 })) {
		/* Rewrite the header: the location does not exist. */
		writer->size = 0;
		proto_response_begin(writer, request->opcode, STATUS_NOT_FOUND, request->request_id);
	} else {
		static _Thread_local struct engine_event_info items[PROTO_LIST_LIMIT_MAX];
		uint32_t count = engine_events_list(w->engine, request->list.parent_id,
						    request->list.after_id, items,
						    request->list.limit);
		bytes_put_u16(writer, (uint16_t)count);
		for (uint32_t i = 0; i < count; i++)
			proto_put_event(writer, &items[i]);
	}
	return proto_frame_end(writer, 0);
}

static size_t catalog_response(struct worker *w, const struct proto_request *request,
			       struct bytes_writer *writer)
{
	switch (request->opcode) {
	case PROTO_LOCATIONS:
	case PROTO_EVENTS:
		return list_response(w, request, writer);
	case PROTO_EVENT:
		return event_response(w, request, writer);
	case PROTO_VENUE: {
		struct engine_venue venue;
		bool found = engine_venue_get(w->engine, request->id, &venue);
		proto_response_begin(writer, request->opcode, found ? STATUS_OK : STATUS_NOT_FOUND,
				     request->request_id);
		if (found)
			proto_put_venue(writer, &venue);
		return proto_frame_end(writer, 0);
	}
	}
	struct search_hit hits[SEARCH_RESULTS_COUNT_MAX];
	uint32_t count = 0;
	bool more = false;
	enum status status = engine_search(w->engine, &request->search, hits, &count, &more);
	proto_response_begin(writer, request->opcode, status, request->request_id);
	if (status == STATUS_OK) {
		proto_put_search_header(writer, count, more);
		for (uint32_t i = 0; i < count; i++)
			proto_put_hit(writer, &hits[i]);
	}
	return proto_frame_end(writer, 0);
}

/* Requests every shard answers: catalog puts, stats, snapshots. */

static uint32_t gather_open(struct worker *w, const struct proto_request *request,
			    uint16_t origin, uint64_t conn_id)
{
	uint32_t index = 0;
	while (index < w->gathers_capacity && w->gathers[index].used)
		index++;
	ARRAY_RESERVE(w->gathers, w->gathers_capacity, (uint64_t)index + 1);
	struct gather *g = &w->gathers[index];
	*g = (struct gather){ .used = true, .opcode = request->opcode, .worker = origin,
			      .conn_id = conn_id,
			      .request_id = request->request_id,
			      .waiting = w->server->workers_count, .status = STATUS_OK };
	return index;
}

/* Stats every shard reports, by position; the first ones add up over shards. */
static const char *const stat_names[] = {
	"connections", "requests", "responses", "forwarded", "overloaded", "bad_frames",
	"holds_active", "bookings", "waiters", "waits_parked", "shows_owned", "seats_owned",
	"engine_bytes", "wal_pending_bytes", "wal_durable_lsn", "snapshot_lsn",
};
#define STATS_SUMMED 14u

static uint32_t stats_collect(struct worker *w, int64_t *values)
{
	struct engine_stats stats;
	engine_stats_get(w->engine, &stats);
	int64_t collected[] = {
		w->conns_open, (int64_t)w->counters.requests, (int64_t)w->counters.responses,
		(int64_t)w->counters.forwarded, (int64_t)w->counters.overloaded,
		(int64_t)w->counters.bad_frames, (int64_t)stats.holds_active,
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
	frame_writer(w, &writer);
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
	/* Every shard's part is durable by now: the answer goes out at once. */
	pending_deliver(w, g->worker, PENDING_RESPONSE, g->conn_id, w->frame, (uint32_t)size);
}

/* A shard's reply to a gather this worker opened: [u16 shard][kind-specific]. */
static void gather_reply(struct worker *w, uint32_t gather_index, const uint8_t *bytes,
			 uint32_t size)
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
	} else if (g->opcode == PROTO_SNAPSHOT) {
		g->snapshot_lsn[shard] = bytes_get_u64(&r);
		enum status status = (enum status)bytes_get_u16(&r);
		if (g->status == STATUS_OK && status != STATUS_OK)
			g->status = status;
	} else {
		/* Shard 0 accepted the put and every shard applies it in shard 0's order; a
		 * shard refusing it (its log full, say) turns the answer into its refusal. */
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

static void stats_answer(struct worker *w, uint16_t origin, uint32_t gather)
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
	uint64_t lsn = command_run(w, command, &result);
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
static void apply_or_defer(struct worker *w, uint16_t origin, uint32_t gather,
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

static void deferred_run(struct worker *w)
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

void requests_finish(struct worker *w)
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
static void catalog_decide(struct worker *w, const struct proto_request *request,
			   uint16_t origin, uint64_t conn_id, const uint8_t *frame, uint32_t size)
{
	ASSERT(w->index == 0);
	struct engine_result result;
	uint64_t lsn = command_run(w, &request->command, &result);
	if (lsn == 0)
		lsn = worker_appended_lsn(w);
	if (result.status != STATUS_OK) {
		struct bytes_writer writer;
		frame_writer(w, &writer);
		proto_response_begin(&writer, request->opcode, result.status, request->request_id);
		pending_add(w, lsn, origin, PENDING_RESPONSE, conn_id, w->frame,
			    (uint32_t)proto_frame_end(&writer, 0));
		return;
	}
	uint32_t gather = gather_open(w, request, origin, conn_id);
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

static void snapshot_request(struct worker *w, uint16_t origin, uint32_t gather)
{
	uint64_t written = atomic_load(&w->snapshot_written_lsn);
	if ((w->snapshot_lsn == 0 && worker_appended_lsn(w) == written) ||
	    w->snapshot_gathers_count == ARRAY_COUNT(w->snapshot_gathers)) {
		/* Nothing logged since the last snapshot (or ever), or too many asking at
		 * once: the last one answers. */
		snapshot_answer(w, origin, gather, written, STATUS_OK);
		return;
	}
	w->snapshot_gathers[w->snapshot_gathers_count++] = (uint64_t)origin << 32 | gather;
	if (w->snapshot_lsn == 0) {
		engine_snapshot_encode(w->engine, &w->snapshot_image);
		w->snapshot_lsn = worker_appended_lsn(w);
		w->records_since_snapshot = 0;
		w->snapshot_last_ms = w->now_ms;
	}
}

static void snapshot_capture(struct worker *w)
{
	engine_snapshot_encode(w->engine, &w->snapshot_image);
	w->snapshot_lsn = worker_appended_lsn(w);
	w->records_since_snapshot = 0;
	w->snapshot_last_ms = w->now_ms;
}

/* Snapshots: taken by policy or on demand, written once durable, then reported. */
static void snapshot_progress(struct worker *w)
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

void requests_tick(struct worker *w)
{
	struct command tick = { .type = COMMAND_TICK };
	struct engine_result result;
	command_run(w, &tick, &result);
	waits_expire(w, false);
	snapshot_progress(w);
}

/* Messages from other shards (or from this one to itself). */
void requests_message(struct worker *w, uint32_t kind, const uint8_t *bytes, uint32_t size)
{
	struct bytes_reader r;
	bytes_reader_init(&r, bytes, size);
	if (kind == MESSAGE_RESPONSE) {
		uint64_t conn_id = bytes_get_u64(&r);
		response_deliver(w, conn_id, bytes + 8, size - 8);
		return;
	}
	if (kind == MESSAGE_APPLY_DONE) {
		uint32_t gather = bytes_get_u32(&r);
		gather_reply(w, gather, bytes + 4, size - 4);
		return;
	}
	uint16_t origin = bytes_get_u16(&r);
	if (kind == MESSAGE_REQUEST || kind == MESSAGE_CATALOG_PUT) {
		uint64_t conn_id = bytes_get_u64(&r);
		struct proto_request request;
		enum status status = proto_request_decode(bytes + 10, size - 10, &request);
		ASSERT(status == STATUS_OK); /* decoded once already by the sender */
		if (kind == MESSAGE_REQUEST)
			owner_execute(w, &request, origin, conn_id);
		else
			catalog_decide(w, &request, origin, conn_id, bytes + 10, size - 10);
		return;
	}
	uint32_t gather = bytes_get_u32(&r);
	if (kind == MESSAGE_APPLY) {
		apply_or_defer(w, origin, gather, bytes + 6, size - 6);
	} else if (kind == MESSAGE_STATS) {
		stats_answer(w, origin, gather);
	} else if (kind == MESSAGE_SNAPSHOT) {
		snapshot_request(w, origin, gather);
	} else {
		log_error("unknown message kind %u", kind);
	}
}

/* Frames from this worker's clients. */

static void hello_answer(struct worker *w, struct conn *conn, const struct proto_request *request)
{
	struct bytes_writer writer;
	frame_writer(w, &writer);
	bool fits = request->hello.version_min <= PROTO_VERSION &&
		    PROTO_VERSION <= request->hello.version_max;
	proto_response_begin(&writer, PROTO_HELLO, fits ? STATUS_OK : STATUS_BAD_REQUEST,
			     request->request_id);
	if (fits) {
		struct proto_hello_info info = {
			.version = PROTO_VERSION,
			.frame_size_max = PROTO_FRAME_SIZE_MAX,
			.workers = (uint16_t)w->server->workers_count,
			.hold_seats_max = HOLD_SEATS_COUNT_MAX,
			.wait_timeout_ms_max = PROTO_WAIT_TIMEOUT_MS_MAX,
			.server_version = text_from_cstr("boxoffice 0.1.0"),
		};
		proto_put_hello_info(&writer, &info);
	}
	conn->hello_done = fits;
	if (!fits)
		conn->close_after_send = true;
	w->counters.responses++;
	conn_output(w, conn, w->frame, (uint32_t)proto_frame_end(&writer, 0));
}

/* Sends a request to every shard, each answering the gather opened here. */
static void broadcast(struct worker *w, const struct proto_request *request, uint64_t conn_id,
		      uint32_t kind, const uint8_t *frame, uint32_t size)
{
	uint32_t gather = gather_open(w, request, (uint16_t)w->index, conn_id);
	uint8_t head[6];
	bytes_store_u16(head, (uint16_t)w->index);
	bytes_store_u32(head + 2, gather);
	for (uint32_t t = 0; t < w->server->workers_count; t++)
		worker_push(w, t, kind, head, sizeof(head), frame, size, true);
}

/* Hands a request to the shard that decides it. */
static void forward(struct worker *w, struct conn *conn, const struct proto_request *request,
		    uint32_t target, uint32_t kind, const uint8_t *frame, uint32_t size)
{
	uint8_t head[10];
	bytes_store_u16(head, (uint16_t)w->index);
	bytes_store_u64(head + 2, conn_id_of(w, conn));
	w->counters.forwarded++;
	if (!worker_push(w, target, kind, head, sizeof(head), frame, size, false)) {
		/* The target's queue is full: say so now rather than queue without bound. */
		conn->requests_in_flight--;
		requests_error(w, conn, request->opcode, request->request_id, STATUS_OVERLOADED);
	}
}

static void route(struct worker *w, struct conn *conn, const struct proto_request *request,
		  const uint8_t *frame, uint32_t size)
{
	uint64_t conn_id = conn_id_of(w, conn);
	uint16_t opcode = request->opcode;
	if (opcode >= PROTO_LOCATION_PUT && opcode <= PROTO_SHOW_PUT) {
		if (w->index == 0) {
			catalog_decide(w, request, 0, conn_id, frame, size);
			return;
		}
		forward(w, conn, request, 0, MESSAGE_CATALOG_PUT, frame, size);
	} else if (opcode == PROTO_STATS || opcode == PROTO_SNAPSHOT) {
		broadcast(w, request, conn_id,
			  opcode == PROTO_STATS ? MESSAGE_STATS : MESSAGE_SNAPSHOT, NULL, 0);
	} else if (opcode == PROTO_LOCATIONS || opcode == PROTO_EVENTS || opcode == PROTO_EVENT ||
		   opcode == PROTO_VENUE || opcode == PROTO_SEARCH) {
		struct bytes_writer writer;
		frame_writer(w, &writer);
		size_t length = catalog_response(w, request, &writer);
		/* A catalog read depends only on the catalog changes appended here. */
		pending_add(w, w->catalog_lsn, (uint16_t)w->index, PENDING_RESPONSE, conn_id,
			    w->frame, (uint32_t)length);
	} else {
		uint32_t owner = engine_show_shard(show_of(request), w->server->workers_count);
		if (owner == w->index) {
			owner_execute(w, request, (uint16_t)w->index, conn_id);
			return;
		}
		forward(w, conn, request, owner, MESSAGE_REQUEST, frame, size);
	}
}

void requests_frame(struct worker *w, struct conn *conn, const uint8_t *frame, uint32_t size)
{
	w->counters.requests++;
	struct proto_request request;
	enum status status = proto_request_decode(frame, size, &request);
	if (!conn->hello_done) {
		if (request.opcode == PROTO_HELLO && status == STATUS_OK) {
			hello_answer(w, conn, &request);
			return;
		}
		requests_error(w, conn, request.opcode, request.request_id, STATUS_BAD_REQUEST);
		conn->close_after_send = true;
		return;
	}
	if (status != STATUS_OK) {
		w->counters.bad_frames++;
		requests_error(w, conn, request.opcode, request.request_id, status);
		return;
	}
	if (request.opcode == PROTO_PING || request.opcode == PROTO_HELLO) {
		struct bytes_writer writer;
		frame_writer(w, &writer);
		proto_response_begin(&writer, request.opcode,
				     request.opcode == PROTO_PING ? STATUS_OK : STATUS_BAD_REQUEST,
				     request.request_id);
		if (request.opcode == PROTO_PING)
			bytes_put_raw(&writer, request.ping.bytes, request.ping.size);
		w->counters.responses++;
		conn_output(w, conn, w->frame, (uint32_t)proto_frame_end(&writer, 0));
		return;
	}
	if (conn->requests_in_flight >= CONN_INFLIGHT_MAX) {
		requests_error(w, conn, request.opcode, request.request_id, STATUS_OVERLOADED);
		return;
	}
	conn->requests_in_flight++;
	route(w, conn, &request, frame, size);
}
