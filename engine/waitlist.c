/*
 * waitlist.c — the waiting list (SPEC §6, RULES.md "Returning seats and serving a
 * line", WAITLIST_JOIN/LEAVE/POLL).
 *
 * Per (show, tier) a FIFO line of waiting entries, doubly linked through the waiter
 * array. An entry is waiting (in a line, its seats counted in the user's total) or
 * terminal (offered, sold out, lapsed: out of any line, kept until its user polls or
 * its timer removes it). A user has at most one entry per show, found through the
 * show's waiter_of map.
 *
 * Invariants (engine_check): a tier has pooled seats only while its line is not
 * empty; while the line is not empty its held count is above zero and its head
 * cannot be served from the pool.
 */
#include <string.h>

#include "engine_internal.h"
#include "memory.h"

struct timer_node *waiter_timer(struct engine *engine, uint32_t waiter_index)
{
	ASSERT(waiter_index < engine->waiters_count);
	return &engine->waiters[waiter_index].timer;
}

static uint32_t waiter_timer_id(uint32_t waiter_index)
{
	return waiter_index | WAITER_TIMER_BIT;
}

static uint32_t waiter_alloc(struct engine *engine)
{
	uint32_t index = engine->waiters_free;
	if (index != NONE) {
		engine->waiters_free = engine->waiters[index].line_next;
	} else {
		ARRAY_RESERVE(engine->waiters, engine->waiters_capacity,
			      (uint64_t)engine->waiters_count + 1);
		index = engine->waiters_count++;
		ASSERT(index < WAITER_TIMER_BIT);
	}
	struct waiter *waiter = &engine->waiters[index];
	*waiter = (struct waiter){ .line_next = NONE, .line_prev = NONE };
	timer_node_init(&waiter->timer);
	engine->waiters_live++;
	return index;
}

/* Forgets an entry that is not in a line. */
static void waiter_free(struct engine *engine, uint32_t index)
{
	struct waiter *waiter = &engine->waiters[index];
	ASSERT(waiter->seq != 0 && waiter->state != WAITER_WAITING);
	struct show_state *state = engine->catalog.shows[waiter->show_index].state;
	bool removed = u64map_remove(&state->waiter_of, waiter->user_id);
	ASSERT(removed);
	if (timer_node_scheduled(&waiter->timer))
		wheel_cancel(&engine->wheel, waiter_timer_id(index));
	waiter->seq = 0;
	waiter->state = WAITER_NONE;
	waiter->line_next = engine->waiters_free;
	engine->waiters_free = index;
	engine->waiters_live--;
	engine->changed = true;
}

static void line_append(struct engine *engine, struct tier_state *tier, uint32_t index)
{
	struct waiter *waiter = &engine->waiters[index];
	waiter->line_prev = tier->line_tail;
	waiter->line_next = NONE;
	if (tier->line_tail != NONE)
		engine->waiters[tier->line_tail].line_next = index;
	else
		tier->line_head = index;
	tier->line_tail = index;
	tier->line_count++;
}

static void line_remove(struct engine *engine, struct tier_state *tier, uint32_t index)
{
	struct waiter *waiter = &engine->waiters[index];
	ASSERT(tier->line_count > 0);
	if (waiter->line_prev != NONE)
		engine->waiters[waiter->line_prev].line_next = waiter->line_next;
	else
		tier->line_head = waiter->line_next;
	if (waiter->line_next != NONE)
		engine->waiters[waiter->line_next].line_prev = waiter->line_prev;
	else
		tier->line_tail = waiter->line_prev;
	waiter->line_next = NONE;
	waiter->line_prev = NONE;
	tier->line_count--;
}

/*
 * Takes a waiting entry out of its line into a terminal state: its timer restarts
 * for the idle limit (the entry is kept that long for its user to poll) and, unless
 * it became an offer, its seats leave the user's total.
 */
static void waiter_finish(struct engine *engine, uint32_t index, enum waiter_state to)
{
	struct waiter *waiter = &engine->waiters[index];
	ASSERT(waiter->state == WAITER_WAITING && to != WAITER_WAITING);
	struct show_state *state = engine->catalog.shows[waiter->show_index].state;
	line_remove(engine, &state->tiers[waiter->tier], index);
	waiter->state = to;
	if (to != WAITER_OFFERED)
		user_total_add(state, waiter->user_id, -(int32_t)waiter->seats_count);
	wheel_reschedule(&engine->wheel, waiter_timer_id(index),
			 engine->clock_ms + engine->config.waitlist_idle_ms);
	engine->changed = true;
}

/* Makes an offer to the head of a line from the pooled seats in slots[]. */
static void waiter_offer(struct engine *engine, uint32_t show_index, uint32_t index,
			 const uint32_t *slots)
{
	const struct show *show = &engine->catalog.shows[show_index];
	const struct venue *venue = &engine->catalog.venues[show->venue_index];
	struct waiter *waiter = &engine->waiters[index];
	uint32_t seats[HOLD_SEATS_COUNT_MAX];
	for (uint8_t i = 0; i < waiter->seats_count; i++) {
		inventory_seat_move(show->state, venue, slots[i], SEAT_IS_POOLED, SEAT_IS_HELD);
		seats[i] = venue_slot_seat(venue, slots[i]);
	}
	int64_t deadline_ms = engine->clock_ms + engine_show_hold_ttl_ms(engine, show);
	uint32_t hold = engine_hold_create(engine, show_index, waiter->user_id, seats,
					   waiter->seats_count, deadline_ms);
	waiter = &engine->waiters[index];
	waiter->offer_hold_id = engine_hold_id(engine, show_index, engine->holds[hold].n);
	waiter->offer_deadline_ms = deadline_ms;
	memcpy(waiter->offer_seats, seats, sizeof(uint32_t) * waiter->seats_count);
	waiter_finish(engine, index, WAITER_OFFERED);
	struct engine_event *event =
		engine_event_push(engine, ENGINE_EVENT_OFFERED, show_index, waiter->user_id);
	event->hold_id = waiter->offer_hold_id;
	event->deadline_ms = deadline_ms;
	event->tier = waiter->tier;
	event->waiter_seq = waiter->seq;
	event->seats_count = waiter->seats_count;
	memcpy(event->seats, seats, sizeof(uint32_t) * waiter->seats_count);
}

void waitlist_serve(struct engine *engine, uint32_t show_index, uint8_t tier)
{
	const struct show *show = &engine->catalog.shows[show_index];
	const struct venue *venue = &engine->catalog.venues[show->venue_index];
	struct tier_state *t = &show->state->tiers[tier];
	/* Each pass removes the head or stops, so the loop ends within line_count passes. */
	for (;;) {
		if (t->line_count == 0) {
			if (t->pooled > 0) {
				inventory_tier_unpool(show->state, venue, tier);
				engine->changed = true;
			}
			return;
		}
		uint32_t head = t->line_head;
		const struct waiter *waiter = &engine->waiters[head];
		uint32_t slots[HOLD_SEATS_COUNT_MAX];
		if (inventory_select(show->state, venue, tier, true, waiter->seats_count,
				     waiter->together, slots)) {
			waiter_offer(engine, show_index, head, slots);
			continue;
		}
		if (t->held > 0)
			return;
		uint64_t user_id = waiter->user_id;
		uint64_t seq = waiter->seq;
		waiter_finish(engine, head, WAITER_SOLD_OUT);
		struct engine_event *event =
			engine_event_push(engine, ENGINE_EVENT_SOLD_OUT, show_index, user_id);
		event->tier = tier;
		event->waiter_seq = seq;
	}
}

void waitlist_serve_tiers(struct engine *engine, uint32_t show_index, uint8_t tiers)
{
	for (uint8_t tier = 0; tier < TIER_COUNT; tier++) {
		if (tiers & (1u << tier))
			waitlist_serve(engine, show_index, tier);
	}
}

uint8_t waitlist_seat_return(struct engine *engine, uint32_t show_index, uint32_t seat,
			     enum seat_internal from)
{
	const struct show *show = &engine->catalog.shows[show_index];
	const struct venue *venue = &engine->catalog.venues[show->venue_index];
	uint32_t slot = venue->slot_of_seat[seat];
	uint8_t tier = venue_slot_tier(venue, slot);
	enum seat_internal to = show->state->tiers[tier].line_count > 0 ? SEAT_IS_POOLED
									: SEAT_IS_FREE;
	inventory_seat_move(show->state, venue, slot, from, to);
	engine->changed = true;
	return (uint8_t)(1u << tier);
}

void waitlist_seats_return(struct engine *engine, uint32_t show_index, const uint32_t *seats,
			   uint32_t seats_count, enum seat_internal from)
{
	ASSERT(seats_count <= HOLD_SEATS_COUNT_MAX);
	/* Copied first: serving allocates holds and may move the array seats points into. */
	uint32_t copy[HOLD_SEATS_COUNT_MAX];
	memcpy(copy, seats, sizeof(uint32_t) * seats_count);
	uint8_t tiers = 0;
	for (uint32_t i = 0; i < seats_count; i++)
		tiers |= waitlist_seat_return(engine, show_index, copy[i], from);
	waitlist_serve_tiers(engine, show_index, tiers);
}

void waitlist_timer_fire(struct engine *engine, uint32_t index)
{
	struct waiter *waiter = &engine->waiters[index];
	ASSERT(waiter->seq != 0);
	if (waiter->state != WAITER_WAITING) {
		waiter_free(engine, index);
		return;
	}
	uint32_t show_index = waiter->show_index;
	uint8_t tier = waiter->tier;
	uint64_t user_id = waiter->user_id;
	uint64_t seq = waiter->seq;
	waiter_finish(engine, index, WAITER_LAPSED);
	struct engine_event *event =
		engine_event_push(engine, ENGINE_EVENT_LAPSED, show_index, user_id);
	event->tier = tier;
	event->waiter_seq = seq;
	waitlist_serve(engine, show_index, tier);
}

/* The user's entry for an owned show: NOT_FOUND, INTERNAL, or OK with *index. */
static enum status waiter_find(struct engine *engine, uint32_t show_id, uint64_t user_id,
			       uint32_t *show_index, uint32_t *index)
{
	*show_index = catalog_show_find(&engine->catalog, show_id);
	if (*show_index == CATALOG_NONE)
		return STATUS_NOT_FOUND;
	const struct show_state *state = engine->catalog.shows[*show_index].state;
	if (state == NULL)
		return STATUS_INTERNAL;
	*index = NONE;
	u64map_get(&state->waiter_of, user_id, index);
	return STATUS_OK;
}

/* Steps 2-7 of WAITLIST_JOIN: whether this user may join this line now. */
static enum status join_check(struct engine *engine, const struct show *show,
			      const struct command_waitlist_join *join, uint32_t existing,
			      bool rules_1)
{
	const struct venue *venue = &engine->catalog.venues[show->venue_index];
	if (venue->tier_slot_first[join->tier + 1] == venue->tier_slot_first[join->tier])
		return STATUS_BAD_REQUEST;
	if (!(show->sale_opens_ms <= engine->clock_ms && engine->clock_ms < show->sale_closes_ms))
		return STATUS_NOT_ON_SALE;
	if (existing != NONE && engine->waiters[existing].state == WAITER_WAITING)
		return STATUS_ALREADY_EXISTS;
	if (user_total_get(show->state, join->user_id) + join->seats_count > show->user_seats_max)
		return STATUS_LIMIT_EXCEEDED;
	/* SPEC 6.1 counts seats, not runs: a user who wants seats together may not queue
	 * (and so pool the tier) while the public can still buy as many seats singly. */
	const struct tier_state *tier = &show->state->tiers[join->tier];
	uint32_t slots[HOLD_SEATS_COUNT_MAX];
	if (tier->line_count == 0 &&
	    (rules_1 ? inventory_select(show->state, venue, join->tier, false, join->seats_count,
					join->together, slots)
		     : tier->free >= join->seats_count))
		return STATUS_SEATS_AVAILABLE;
	if (tier->held == 0)
		return STATUS_SOLD_OUT;
	return STATUS_OK;
}

enum status waitlist_join(struct engine *engine, const struct command_waitlist_join *join,
			  bool rules_1,
			  struct engine_result *result)
{
	uint32_t show_index;
	uint32_t existing;
	enum status status = waiter_find(engine, join->show_id, join->user_id, &show_index,
					 &existing);
	if (status != STATUS_OK)
		return status;
	const struct show *show = &engine->catalog.shows[show_index];
	status = join_check(engine, show, join, existing, rules_1);
	if (status != STATUS_OK)
		return status;
	if (existing != NONE)
		waiter_free(engine, existing);
	struct tier_state *tier = &show->state->tiers[join->tier];
	if (tier->line_count == 0)
		inventory_tier_pool(show->state, &engine->catalog.venues[show->venue_index],
				    join->tier);
	uint32_t index = waiter_alloc(engine);
	struct waiter *waiter = &engine->waiters[index];
	waiter->user_id = join->user_id;
	waiter->seq = engine->waiter_seq_next++;
	waiter->show_index = show_index;
	waiter->tier = join->tier;
	waiter->seats_count = join->seats_count;
	waiter->together = join->together;
	waiter->state = WAITER_WAITING;
	wheel_schedule(&engine->wheel, waiter_timer_id(index),
		       engine->clock_ms + engine->config.waitlist_idle_ms);
	line_append(engine, tier, index);
	u64map_put(&show->state->waiter_of, join->user_id, index);
	user_total_add(show->state, join->user_id, join->seats_count);
	engine->changed = true;
	waitlist_serve(engine, show_index, join->tier);
	result->waiter_state = engine->waiters[index].state;
	result->tier = join->tier;
	result->waiters_count = tier->line_count;
	result->waiter_seq = engine->waiters[index].seq;
	return STATUS_OK;
}

enum status waitlist_leave(struct engine *engine, const struct command_waitlist_user *leave,
			   struct engine_result *result)
{
	(void)result;
	uint32_t show_index;
	uint32_t index;
	enum status status = waiter_find(engine, leave->show_id, leave->user_id, &show_index,
					 &index);
	if (status != STATUS_OK)
		return status;
	if (index == NONE)
		return STATUS_NOT_FOUND;
	struct waiter *waiter = &engine->waiters[index];
	uint8_t tier = waiter->tier;
	bool waiting = waiter->state == WAITER_WAITING;
	if (waiting) {
		struct show_state *state = engine->catalog.shows[show_index].state;
		line_remove(engine, &state->tiers[tier], index);
		user_total_add(state, waiter->user_id, -(int32_t)waiter->seats_count);
		waiter->state = WAITER_NONE; /* neither waiting nor terminal: about to go */
	}
	waiter_free(engine, index);
	if (waiting)
		waitlist_serve(engine, show_index, tier);
	return STATUS_OK;
}

enum status waitlist_poll(struct engine *engine, const struct command_waitlist_user *poll,
			  struct engine_result *result)
{
	uint32_t show_index;
	uint32_t index;
	enum status status = waiter_find(engine, poll->show_id, poll->user_id, &show_index,
					 &index);
	if (status != STATUS_OK)
		return status;
	if (index == NONE)
		return STATUS_NOT_FOUND;
	const struct waiter *waiter = &engine->waiters[index];
	const struct show_state *state = engine->catalog.shows[show_index].state;
	result->waiter_state = waiter->state;
	result->tier = waiter->tier;
	result->waiters_count = state->tiers[waiter->tier].line_count;
	result->waiter_seq = waiter->seq;
	engine->changed = true;
	if (waiter->state == WAITER_WAITING) {
		wheel_reschedule(&engine->wheel, waiter_timer_id(index),
				 engine->clock_ms + engine->config.waitlist_idle_ms);
		return STATUS_OK;
	}
	if (waiter->state == WAITER_OFFERED) {
		result->hold_id = waiter->offer_hold_id;
		result->deadline_ms = waiter->offer_deadline_ms;
		result->seats_count = waiter->seats_count;
		memcpy(result->seats, waiter->offer_seats, sizeof(uint32_t) * waiter->seats_count);
	}
	waiter_free(engine, index);
	return STATUS_OK;
}

void waitlist_restore(struct engine *engine, const struct waiter *saved, int64_t due_ms)
{
	struct show_state *state = engine->catalog.shows[saved->show_index].state;
	ASSERT(state != NULL && saved->seq != 0);
	uint32_t index = waiter_alloc(engine);
	struct waiter *waiter = &engine->waiters[index];
	*waiter = *saved;
	waiter->line_next = NONE;
	waiter->line_prev = NONE;
	timer_node_init(&waiter->timer);
	wheel_schedule(&engine->wheel, waiter_timer_id(index), due_ms);
	u64map_put(&state->waiter_of, saved->user_id, index);
	if (saved->state == WAITER_WAITING) {
		line_append(engine, &state->tiers[saved->tier], index);
		user_total_add(state, saved->user_id, saved->seats_count);
	}
}
