/*
 * waits.c — parked WAIT requests (SPEC §7), on the worker that owns the show.
 *
 * A WAIT first polls the waiting-list entry; when the entry is still waiting, the
 * request is parked here: an entry in an array, chained under a hash of (show,
 * user) for the engine's events to find, and a timer in a timing wheel for its
 * timeout. Parking costs a few dozen bytes and no thread. Whatever answers it —
 * an event, the user leaving the line, or the timeout — goes through the pending
 * queue like any response, so it leaves only once the log holds what it reports.
 */
#include <string.h>

#include "log.h"
#include "memory.h"
#include "server.h"
#include "worker.h"

#define PARKED_WHEEL_SLOTS 4096u

static uint64_t parked_key(uint32_t show_id, uint64_t user_id)
{
	/* Several (show, user) pairs may share a key; entries carry both and are
	 * matched on them. The key is never 0 (u64map's empty). */
	return hash_u64(user_id ^ ((uint64_t)show_id << 40 | show_id)) | 1;
}

static struct timer_node *parked_timer(void *context, uint32_t index)
{
	struct worker *w = context;
	return &w->parked[index].timer;
}

int waits_init(struct worker *w)
{
	u64map_init(&w->parked_by_key);
	wheel_init(&w->parked_wheel, PARKED_WHEEL_SLOTS, parked_timer, w);
	w->parked_wheel.cursor_ms = w->now_ms;
	w->parked_free = UINT32_MAX;
	return 0;
}

void waits_finish(struct worker *w)
{
	u64map_finish(&w->parked_by_key);
	wheel_finish(&w->parked_wheel);
	memory_free(w->parked);
	memory_free(w->parked_due);
}

void waits_park(struct worker *w, uint16_t origin, uint64_t conn_id, uint64_t request_id,
		uint32_t show_id, uint64_t user_id, uint32_t timeout_ms)
{
	uint32_t index = w->parked_free;
	if (index != UINT32_MAX) {
		w->parked_free = w->parked[index].next;
	} else {
		ARRAY_RESERVE(w->parked, w->parked_capacity, (uint64_t)w->parked_count + 1);
		index = w->parked_count;
	}
	w->parked_count++;
	struct parked *p = &w->parked[index];
	uint64_t key = parked_key(show_id, user_id);
	uint32_t first = UINT32_MAX;
	u64map_get(&w->parked_by_key, key, &first);
	*p = (struct parked){ .key = key, .show_id = show_id, .user_id = user_id,
			      .conn_id = conn_id, .request_id = request_id, .worker = origin,
			      .next = first, .prev = UINT32_MAX };
	if (first != UINT32_MAX)
		w->parked[first].prev = index;
	timer_node_init(&p->timer);
	u64map_put(&w->parked_by_key, key, index);
	int64_t due = w->now_ms + timeout_ms;
	if (due <= w->parked_wheel.cursor_ms)
		due = w->parked_wheel.cursor_ms + 1;
	wheel_schedule(&w->parked_wheel, index, due);
}

/*
 * Unchains, unschedules and frees a parked entry, in constant time: the chain is
 * linked both ways, since timeouts free the oldest WAITs of a chain first and the
 * newest are at its head (a walk from the head made thousands of WAITs parked for
 * one user cost time in the square of their number, all of it the shard's).
 */
static void parked_remove(struct worker *w, uint32_t index)
{
	struct parked *p = &w->parked[index];
	if (p->prev == UINT32_MAX) {
		uint32_t first = UINT32_MAX;
		bool found = u64map_get(&w->parked_by_key, p->key, &first);
		ASSERT(found && first == index);
		if (p->next == UINT32_MAX)
			u64map_remove(&w->parked_by_key, p->key);
		else
			u64map_put(&w->parked_by_key, p->key, p->next);
	} else {
		w->parked[p->prev].next = p->next;
	}
	if (p->next != UINT32_MAX)
		w->parked[p->next].prev = p->prev;
	if (timer_node_scheduled(&p->timer))
		wheel_cancel(&w->parked_wheel, index);
	p->key = 0;
	p->next = w->parked_free;
	w->parked_free = index;
	w->parked_count--;
}

/* Answers a parked WAIT with status and, when OK, the result (a WAIT issued now
 * would get the same answer), gated by lsn; frees the entry. */
static void parked_answer(struct worker *w, uint32_t index, enum status status,
			  const struct engine_result *result, uint64_t lsn)
{
	const struct parked *p = &w->parked[index];
	uint8_t frame[PROTO_HEADER_SIZE + PROTO_RESULT_SIZE_MAX];
	struct bytes_writer writer;
	bytes_writer_init(&writer, frame, sizeof(frame));
	proto_response_begin(&writer, PROTO_WAIT, status, p->request_id);
	if (status == STATUS_OK)
		proto_put_result(&writer, result);
	size_t size = proto_frame_end(&writer, 0);
	ASSERT(size > 0);
	pending_add(w, lsn, p->worker, PENDING_RESPONSE, p->conn_id, frame, (uint32_t)size);
	parked_remove(w, index);
}

/* Answers every WAIT parked for (show, user). */
static void parked_answer_user(struct worker *w, uint32_t show_id, uint64_t user_id,
			       enum status status, const struct engine_result *result,
			       uint64_t lsn)
{
	uint32_t index = UINT32_MAX;
	if (w->parked_count == 0 ||
	    !u64map_get(&w->parked_by_key, parked_key(show_id, user_id), &index))
		return;
	while (index != UINT32_MAX) {
		uint32_t next = w->parked[index].next;
		if (w->parked[index].show_id == show_id && w->parked[index].user_id == user_id)
			parked_answer(w, index, status, result, lsn);
		index = next;
	}
}

void waits_notify(struct worker *w, const struct engine_event *events, uint32_t count,
		  uint64_t lsn)
{
	for (uint32_t e = 0; e < count; e++) {
		const struct engine_event *event = &events[e];
		if (event->type == ENGINE_EVENT_HOLD_EXPIRED)
			continue;
		struct engine_result result;
		proto_result_from_event(event, &result);
		/* As a poll now would say: the line as the command that made the event left it. */
		result.waiters_count = engine_line_length(w->engine, event->show_id, event->tier);
		parked_answer_user(w, event->show_id, event->user_id, STATUS_OK, &result, lsn);
	}
}

void waits_left(struct worker *w, uint32_t show_id, uint64_t user_id, uint64_t lsn)
{
	parked_answer_user(w, show_id, user_id, STATUS_NOT_FOUND, NULL, lsn);
}

/* A parked WAIT that timed out polls again (which keeps the entry alive) and answers
 * with what the poll says: normally "waiting", with the line's length, or the poll's
 * refusal, "overloaded" when the log could not take it, as an unparked WAIT would. */
/* Whether the connection a parked WAIT would answer has closed. */
static bool parked_orphan(const struct worker *w, const struct parked *p)
{
	return conn_gone(&w->server->workers[p->worker], p->conn_id);
}

static void parked_time_out(struct worker *w, uint32_t index)
{
	if (parked_orphan(w, &w->parked[index])) {
		/* Polling now would keep the entry alive for nobody. */
		parked_remove(w, index);
		return;
	}
	struct engine_result result;
	uint64_t lsn = requests_poll(w, w->parked[index].show_id, w->parked[index].user_id, &result);
	/* Timers the poll fired may have made an offer that answered this WAIT already. */
	if (w->parked[index].key == 0)
		return;
	parked_answer(w, index, result.status, &result, lsn);
}

void waits_orphans_drop(struct worker *w)
{
	for (uint32_t i = 0; i < w->parked_capacity && w->parked_count > 0; i++) {
		const struct parked *p = &w->parked[i];
		if (p->key != 0 && conn_sends_no_more(&w->server->workers[p->worker], p->conn_id))
			parked_time_out(w, i); /* answered, or dropped when gone */
	}
}

void waits_expire(struct worker *w, bool all)
{
	if (w->parked_count == 0)
		return;
	if (all) {
		for (uint32_t i = 0; i < w->parked_capacity && w->parked_count > 0; i++) {
			if (w->parked[i].key != 0)
				parked_time_out(w, i);
		}
		return;
	}
	w->parked_due_count = 0;
	wheel_collect(&w->parked_wheel, w->now_ms, &w->parked_due, &w->parked_due_count,
		      &w->parked_due_capacity);
	for (uint32_t i = 0; i < w->parked_due_count; i++) {
		uint32_t index = w->parked_due[i];
		/* An earlier poll in this batch may have answered it through an event. */
		if (w->parked[index].key != 0)
			parked_time_out(w, index);
	}
}
