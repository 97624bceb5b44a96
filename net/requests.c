/*
 * requests.c — what each request does, and when its response may leave.
 *
 * Routing: catalog reads run on the connection's own worker (every shard keeps the
 * whole catalog); anything about a show's seats runs on the show's owner,
 * engine_show_shard(show id); catalog writes run on every shard; stats and
 * snapshots ask every shard (those three: gathers.c).
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

void requests_frame_writer(struct worker *w, struct bytes_writer *writer)
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
	conn_request_done(w, conn, proto_frame_opcode(bytes));
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

/* Hands a released pending entry to its receiver. */
static void pending_deliver(struct worker *w, uint16_t target_worker, uint8_t kind,
			    uint64_t target, const uint8_t *bytes, uint32_t size)
{
	if (target_worker == w->index) {
		if (kind == PENDING_RESPONSE)
			response_deliver(w, target, bytes, size);
		else
			gathers_reply(w, (uint32_t)target, bytes, size);
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
	pending_queue_push(&w->pending,
			   (struct pending){ .required_lsn = required_lsn, .target = target,
					     .size = size, .worker = target_worker, .kind = kind },
			   bytes);
}

void requests_release(struct worker *w)
{
	gathers_deferred_run(w);
	uint64_t durable = wal_writer_durable_lsn(w->writer);
	const struct pending *p;
	const uint8_t *bytes;
	while ((p = pending_queue_front(&w->pending, &bytes)) != NULL &&
	       p->required_lsn <= durable) {
		struct pending entry = *p; /* a delivery may push onto the queue */
		pending_queue_pop(&w->pending);
		pending_deliver(w, entry.worker, entry.kind, entry.target, bytes, entry.size);
	}
	pending_queue_settle(&w->pending);
}

/*
 * Applies a command on this shard and appends what must be logged. Returns the LSN
 * its response depends on, or 0 with result->status OVERLOADED when the log cannot
 * take a record now (the command was not applied). Declared in worker.h.
 */
uint64_t requests_command_run(struct worker *w, const struct command *command,
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
	uint64_t lsn = requests_command_run(w, &poll, result);
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
	requests_frame_writer(w, &writer);
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
	lsn = requests_command_run(w, command, &result);
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
		/* Its client gone (the poll above still counts), it is not parked. */
		if (!conn_gone(&w->server->workers[origin], conn_id))
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

void requests_tick(struct worker *w)
{
	struct command tick = { .type = COMMAND_TICK };
	struct engine_result result;
	requests_command_run(w, &tick, &result);
	waits_expire(w, false);
	gathers_snapshot_progress(w);
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
		gathers_reply(w, gather, bytes + 4, size - 4);
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
			gathers_catalog_decide(w, &request, origin, conn_id, bytes + 10, size - 10);
		return;
	}
	uint32_t gather = bytes_get_u32(&r);
	if (kind == MESSAGE_APPLY) {
		gathers_apply_or_defer(w, origin, gather, bytes + 6, size - 6);
	} else if (kind == MESSAGE_STATS) {
		gathers_stats_answer(w, origin, gather);
	} else if (kind == MESSAGE_SNAPSHOT) {
		gathers_snapshot_request(w, origin, gather);
	} else {
		log_error("unknown message kind %u", kind);
	}
}

/* Frames from this worker's clients. */

static void hello_answer(struct worker *w, struct conn *conn, const struct proto_request *request)
{
	struct bytes_writer writer;
	requests_frame_writer(w, &writer);
	uint16_t version =
		proto_version_agreed(request->hello.version_min, request->hello.version_max);
	bool fits = version != 0;
	proto_response_begin(&writer, PROTO_HELLO, fits ? STATUS_OK : STATUS_BAD_REQUEST,
			     request->request_id);
	if (fits) {
		struct proto_hello_info info = {
			.version = version,
			.frame_size_max = PROTO_FRAME_SIZE_MAX,
			.workers = (uint16_t)w->server->workers_count,
			.hold_seats_max = HOLD_SEATS_COUNT_MAX,
			.wait_timeout_ms_max = PROTO_WAIT_TIMEOUT_MS_MAX,
			.server_version = text_from_cstr("boxoffice 0.1.0"),
			.shard = (uint16_t)w->index,
		};
		proto_put_hello_info(&writer, &info);
	}
	conn->hello_done = fits;
	w->counters.responses++;
	conn_output(w, conn, w->frame, (uint32_t)proto_frame_end(&writer, 0));
	if (!fits)
		conn_end_after_answers(w, conn);
}

/* Sends a request to every shard, each answering the gather opened here. */
static void broadcast(struct worker *w, const struct proto_request *request, uint64_t conn_id,
		      uint32_t kind, const uint8_t *frame, uint32_t size)
{
	uint32_t gather = gathers_open(w, request, (uint16_t)w->index, conn_id);
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
		conn_request_done(w, conn, request->opcode);
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
			gathers_catalog_decide(w, request, 0, conn_id, frame, size);
			return;
		}
		forward(w, conn, request, 0, MESSAGE_CATALOG_PUT, frame, size);
	} else if (opcode == PROTO_STATS || opcode == PROTO_SNAPSHOT) {
		broadcast(w, request, conn_id,
			  opcode == PROTO_STATS ? MESSAGE_STATS : MESSAGE_SNAPSHOT, NULL, 0);
	} else if (opcode == PROTO_LOCATIONS || opcode == PROTO_EVENTS || opcode == PROTO_EVENT ||
		   opcode == PROTO_VENUE || opcode == PROTO_SEARCH) {
		struct bytes_writer writer;
		requests_frame_writer(w, &writer);
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
		/* A HELLO keeps its own status (a client name above its limit is too large). */
		requests_error(w, conn, request.opcode, request.request_id,
			       request.opcode == PROTO_HELLO ? status : STATUS_BAD_REQUEST);
		conn_end_after_answers(w, conn);
		return;
	}
	if (status != STATUS_OK) {
		w->counters.bad_frames++;
		requests_error(w, conn, request.opcode, request.request_id, status);
		return;
	}
	if (request.opcode == PROTO_PING || request.opcode == PROTO_HELLO) {
		struct bytes_writer writer;
		requests_frame_writer(w, &writer);
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
	if (proto_answer_may_be_large(request.opcode))
		conn->large_in_flight++;
	route(w, conn, &request, frame, size);
}
