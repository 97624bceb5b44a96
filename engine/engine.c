/*
 * engine.c — engine_apply(): timers, holds, confirms, releases, cancels, blocks and
 * catalog writes (RULES.md). The waiting list is in waitlist.c, seat bitmaps and
 * selection in inventory.c, queries in engine_query.c, checks and the digest in
 * engine_check.c.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "bytes.h"
#include "engine_internal.h"
#include "memory.h"

void engine_config_default(struct engine_config *config)
{
	*config = (struct engine_config){
		.shard_index = 0,
		.shard_count = 1,
		.hold_ttl_ms_default = HOLD_TTL_MS_DEFAULT,
		.waitlist_idle_ms = WAITLIST_IDLE_MS_DEFAULT,
	};
}

uint32_t engine_show_shard(uint32_t show_id, uint32_t shard_count)
{
	ASSERT(shard_count > 0);
	uint8_t bytes[4];
	bytes_store_u32(bytes, show_id);
	return (uint32_t)(XXH3_64bits(bytes, sizeof(bytes)) % shard_count);
}

uint64_t engine_hold_id(const struct engine *engine, uint32_t show_index, uint32_t n)
{
	return (uint64_t)engine->catalog.shows[show_index].id << 32 | n;
}

static uint64_t hold_key(const void *context, uint32_t index)
{
	const struct engine *engine = context;
	const struct hold *h = &engine->holds[index];
	return engine_hold_id(engine, h->show_index, h->n);
}

static uint64_t booking_key(const void *context, uint32_t index)
{
	const struct engine *engine = context;
	const struct booking *b = &engine->bookings[index];
	return engine_hold_id(engine, b->show_index, b->n);
}

static struct timer_node *timer_node_of(void *context, uint32_t timer_id)
{
	struct engine *engine = context;
	if (timer_id & WAITER_TIMER_BIT)
		return waiter_timer(engine, timer_id & ~WAITER_TIMER_BIT);
	return &engine->holds[timer_id].timer;
}

struct engine *engine_create(const struct engine_config *config)
{
	ASSERT(config->shard_count > 0 && config->shard_index < config->shard_count);
	ASSERT(config->hold_ttl_ms_default >= 1 && config->hold_ttl_ms_default <= HOLD_TTL_MS_MAX);
	ASSERT(config->waitlist_idle_ms >= 1);
	struct engine *engine = memory_alloc(sizeof(*engine));
	engine->config = *config;
	catalog_init(&engine->catalog);
	engine->holds_free = NONE;
	engine->waiters_free = NONE;
	engine->waiter_seq_next = 1;
	idtable_init(&engine->hold_ids, hold_key, engine);
	idtable_init(&engine->booking_ids, booking_key, engine);
	for (uint32_t k = 0; k <= HOLD_SEATS_COUNT_MAX; k++)
		engine->seat_pools[k].free_head = NONE;
	wheel_init(&engine->wheel, WHEEL_SLOTS_COUNT, timer_node_of, engine);
	return engine;
}

void engine_destroy(struct engine *engine)
{
	if (engine == NULL)
		return;
	for (uint32_t i = 0; i < engine->catalog.shows_count; i++)
		inventory_destroy(engine->catalog.shows[i].state);
	catalog_finish(&engine->catalog);
	memory_free(engine->holds);
	memory_free(engine->bookings);
	memory_free(engine->payment_refs);
	idtable_finish(&engine->hold_ids);
	idtable_finish(&engine->booking_ids);
	for (uint32_t k = 0; k <= HOLD_SEATS_COUNT_MAX; k++)
		memory_free(engine->seat_pools[k].items);
	memory_free(engine->waiters);
	wheel_finish(&engine->wheel);
	memory_free(engine->due_ids);
	memory_free(engine->events);
	memory_free(engine);
}

const struct engine_config *engine_config_get(const struct engine *engine)
{
	return &engine->config;
}

int64_t engine_now(const struct engine *engine)
{
	return engine->clock_ms;
}

const struct engine_event *engine_events(const struct engine *engine, uint32_t *count)
{
	*count = engine->events_count;
	return engine->events;
}

struct engine_event *engine_event_push(struct engine *engine, enum engine_event_type type,
				       uint32_t show_index, uint64_t user_id)
{
	ARRAY_RESERVE(engine->events, engine->events_capacity, (uint64_t)engine->events_count + 1);
	struct engine_event *event = &engine->events[engine->events_count++];
	*event = (struct engine_event){ .type = type,
					.show_id = engine->catalog.shows[show_index].id,
					.user_id = user_id };
	return event;
}

/* Seat arrays: chunks of k seat ids in pool k, recycled through a free list. */

uint32_t *seat_pool_items(struct engine *engine, uint8_t seats_count, uint32_t ref)
{
	ASSERT(seats_count >= 1 && seats_count <= HOLD_SEATS_COUNT_MAX);
	return engine->seat_pools[seats_count].items + (size_t)ref * seats_count;
}

const uint32_t *seat_pool_items_const(const struct engine *engine, uint8_t seats_count,
				      uint32_t ref)
{
	ASSERT(seats_count >= 1 && seats_count <= HOLD_SEATS_COUNT_MAX);
	return engine->seat_pools[seats_count].items + (size_t)ref * seats_count;
}

static uint32_t seat_pool_alloc(struct engine *engine, const uint32_t *seats, uint8_t seats_count)
{
	struct seat_pool *pool = &engine->seat_pools[seats_count];
	uint32_t ref = pool->free_head;
	if (ref != NONE) {
		pool->free_head = pool->items[(size_t)ref * seats_count];
	} else {
		ref = pool->chunks++;
		ARRAY_RESERVE(pool->items, pool->capacity, (uint64_t)pool->chunks * seats_count);
	}
	memcpy(seat_pool_items(engine, seats_count, ref), seats, sizeof(uint32_t) * seats_count);
	return ref;
}

static void seat_pool_free(struct engine *engine, uint8_t seats_count, uint32_t ref)
{
	struct seat_pool *pool = &engine->seat_pools[seats_count];
	pool->items[(size_t)ref * seats_count] = pool->free_head;
	pool->free_head = ref;
}

/* User totals: seats held + booked + waiting per (show, user); absent means zero. */

uint32_t user_total_get(const struct show_state *state, uint64_t user_id)
{
	uint32_t total = 0;
	u64map_get(&state->user_totals, user_id, &total);
	return total;
}

void user_total_add(struct show_state *state, uint64_t user_id, int32_t delta)
{
	int64_t total = (int64_t)user_total_get(state, user_id) + delta;
	ASSERT(total >= 0);
	if (total == 0)
		u64map_remove(&state->user_totals, user_id);
	else
		u64map_put(&state->user_totals, user_id, (uint32_t)total);
}

/* Holds. */

uint32_t engine_hold_create(struct engine *engine, uint32_t show_index, uint64_t user_id,
			    const uint32_t *seats, uint8_t seats_count, int64_t deadline_ms)
{
	struct show_state *state = engine->catalog.shows[show_index].state;
	ASSERT(state != NULL);
	return engine_hold_insert(engine, show_index, state->hold_next++, user_id, seats,
				  seats_count, deadline_ms);
}

uint32_t engine_hold_insert(struct engine *engine, uint32_t show_index, uint32_t n,
			    uint64_t user_id, const uint32_t *seats, uint8_t seats_count,
			    int64_t deadline_ms)
{
	ASSERT(engine->catalog.shows[show_index].state != NULL);
	ASSERT(deadline_ms > engine->clock_ms);
	uint32_t index = engine->holds_free;
	if (index != NONE) {
		engine->holds_free = engine->holds[index].n;
	} else {
		ARRAY_RESERVE(engine->holds, engine->holds_capacity,
			      (uint64_t)engine->holds_count + 1);
		index = engine->holds_count++;
		ASSERT(index < BOOKING_REFERENCE_BIT);
	}
	struct hold *hold = &engine->holds[index];
	*hold = (struct hold){ .user_id = user_id, .show_index = show_index, .n = n,
			       .seats_count = seats_count, .active = true };
	timer_node_init(&hold->timer);
	hold->seats_ref = seat_pool_alloc(engine, seats, seats_count);
	idtable_add(&engine->hold_ids, index);
	wheel_schedule(&engine->wheel, index, deadline_ms);
	engine->holds_active++;
	engine->changed = true;
	return index;
}

/* Ends an active hold: out of the wheel, the id index and the pool. */
static void hold_end(struct engine *engine, uint32_t index, bool keep_seats)
{
	struct hold *hold = &engine->holds[index];
	ASSERT(hold->active);
	if (timer_node_scheduled(&hold->timer))
		wheel_cancel(&engine->wheel, index);
	bool removed = idtable_remove(&engine->hold_ids,
				      engine_hold_id(engine, hold->show_index, hold->n));
	ASSERT(removed);
	if (!keep_seats)
		seat_pool_free(engine, hold->seats_count, hold->seats_ref);
	hold->active = false;
	hold->n = engine->holds_free;
	engine->holds_free = index;
	engine->holds_active--;
	engine->changed = true;
}

/* Copies a hold's seats out, for use after the hold is gone. */
static uint8_t hold_seats_copy(struct engine *engine, const struct hold *hold, uint32_t *seats)
{
	memcpy(seats, seat_pool_items(engine, hold->seats_count, hold->seats_ref),
	       sizeof(uint32_t) * hold->seats_count);
	return hold->seats_count;
}

static void hold_expire(struct engine *engine, uint32_t index)
{
	struct hold *hold = &engine->holds[index];
	uint32_t show_index = hold->show_index;
	uint64_t user_id = hold->user_id;
	struct show_state *state = engine->catalog.shows[show_index].state;
	struct engine_event *event =
		engine_event_push(engine, ENGINE_EVENT_HOLD_EXPIRED, show_index, user_id);
	event->hold_id = engine_hold_id(engine, show_index, hold->n);
	event->seats_count = hold_seats_copy(engine, hold, event->seats);
	uint32_t seats[HOLD_SEATS_COUNT_MAX];
	uint8_t seats_count = hold_seats_copy(engine, hold, seats);
	inventory_expired_mark(state, hold->n);
	user_total_add(state, user_id, -(int32_t)seats_count);
	hold_end(engine, index, false);
	waitlist_seats_return(engine, show_index, seats, seats_count, SEAT_IS_HELD);
}

/* Timers: fire every timer due by the clock in (due, kind, id) order. */

struct due_timer {
	int64_t due_ms;
	uint64_t id; /* hold id, or waiter join sequence */
	uint32_t timer_id;
	uint8_t kind; /* 0 hold, 1 waiter */
};

static int due_timer_compare(const void *a, const void *b)
{
	const struct due_timer *x = a;
	const struct due_timer *y = b;
	if (x->due_ms != y->due_ms)
		return x->due_ms < y->due_ms ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

static void timers_fire(struct engine *engine)
{
	engine->due_count = 0;
	wheel_collect(&engine->wheel, engine->clock_ms, &engine->due_ids, &engine->due_count,
		      &engine->due_capacity);
	if (engine->due_count == 0)
		return;
	struct due_timer *due = memory_alloc(sizeof(*due) * engine->due_count);
	for (uint32_t i = 0; i < engine->due_count; i++) {
		uint32_t timer_id = engine->due_ids[i];
		struct due_timer *d = &due[i];
		d->timer_id = timer_id;
		d->due_ms = timer_node_of(engine, timer_id)->due_ms;
		if (timer_id & WAITER_TIMER_BIT) {
			d->kind = 1;
			d->id = engine->waiters[timer_id & ~WAITER_TIMER_BIT].seq;
		} else {
			const struct hold *hold = &engine->holds[timer_id];
			d->id = engine_hold_id(engine, hold->show_index, hold->n);
		}
	}
	qsort(due, engine->due_count, sizeof(*due), due_timer_compare);
	for (uint32_t i = 0; i < engine->due_count; i++) {
		/* An earlier timer may have cancelled or moved this one (an offer reschedules
		 * its waiter's timer); a moved timer is due after the clock. */
		const struct timer_node *node = timer_node_of(engine, due[i].timer_id);
		if (node->due_ms != due[i].due_ms)
			continue;
		if (due[i].kind == 1)
			waitlist_timer_fire(engine, due[i].timer_id & ~WAITER_TIMER_BIT);
		else
			hold_expire(engine, due[i].timer_id);
	}
	memory_free(due);
}

/* Commands. */

/* The owned show with this id: NOT_FOUND when unknown, INTERNAL when another shard's. */
static enum status show_owned(struct engine *engine, uint32_t show_id, uint32_t *show_index)
{
	*show_index = catalog_show_find(&engine->catalog, show_id);
	if (*show_index == CATALOG_NONE)
		return STATUS_NOT_FOUND;
	if (engine->catalog.shows[*show_index].state == NULL)
		return STATUS_INTERNAL;
	return STATUS_OK;
}

static bool on_sale(const struct engine *engine, const struct show *show)
{
	return show->sale_opens_ms <= engine->clock_ms && engine->clock_ms < show->sale_closes_ms;
}

static bool tier_exists(const struct venue *venue, uint8_t tier)
{
	return venue->tier_slot_first[tier + 1] > venue->tier_slot_first[tier];
}

/* Steps 2 and 5-6 of HOLD for explicit seats: seat ids to slots, or a refusal. */
static enum status hold_explicit_slots(struct engine *engine, const struct show *show,
				       const struct command_hold *hold, uint32_t *slots,
				       struct engine_result *result)
{
	const struct venue *venue = &engine->catalog.venues[show->venue_index];
	for (uint8_t i = 0; i < hold->seats_count; i++) {
		if (hold->seats[i] >= show->state->seats_count)
			return STATUS_BAD_REQUEST;
		for (uint8_t k = 0; k < i; k++) {
			if (hold->seats[k] == hold->seats[i])
				return STATUS_BAD_REQUEST;
		}
		slots[i] = venue->slot_of_seat[hold->seats[i]];
	}
	if (!on_sale(engine, show))
		return STATUS_NOT_ON_SALE;
	if (user_total_get(show->state, hold->user_id) + hold->seats_count > show->user_seats_max)
		return STATUS_LIMIT_EXCEEDED;
	for (uint8_t i = 0; i < hold->seats_count; i++) {
		if (show->state->tiers[venue_slot_tier(venue, slots[i])].line_count > 0)
			return STATUS_WAITLIST_ACTIVE;
	}
	for (uint8_t i = 0; i < hold->seats_count; i++) {
		if (inventory_seat_state(show->state, slots[i]) != SEAT_IS_FREE)
			result->seats[result->seats_count++] = hold->seats[i];
	}
	return result->seats_count > 0 ? STATUS_SEAT_UNAVAILABLE : STATUS_OK;
}

/* Steps 2-6 of HOLD for best-available. */
static enum status hold_best_slots(struct engine *engine, const struct show *show,
				   const struct command_hold *hold, uint32_t *slots)
{
	const struct venue *venue = &engine->catalog.venues[show->venue_index];
	if (!tier_exists(venue, hold->tier))
		return STATUS_BAD_REQUEST;
	if (!on_sale(engine, show))
		return STATUS_NOT_ON_SALE;
	if (user_total_get(show->state, hold->user_id) + hold->seats_count > show->user_seats_max)
		return STATUS_LIMIT_EXCEEDED;
	if (show->state->tiers[hold->tier].line_count > 0)
		return STATUS_WAITLIST_ACTIVE;
	if (!inventory_select(show->state, venue, hold->tier, false, hold->seats_count,
			      hold->together, slots))
		return STATUS_SEAT_UNAVAILABLE;
	return STATUS_OK;
}

static enum status hold_apply(struct engine *engine, const struct command_hold *hold,
			      struct engine_result *result)
{
	uint32_t show_index;
	enum status status = show_owned(engine, hold->show_id, &show_index);
	if (status != STATUS_OK)
		return status;
	const struct show *show = &engine->catalog.shows[show_index];
	const struct venue *venue = &engine->catalog.venues[show->venue_index];
	uint32_t slots[HOLD_SEATS_COUNT_MAX];
	uint32_t seats[HOLD_SEATS_COUNT_MAX];
	status = hold->best ? hold_best_slots(engine, show, hold, slots)
			    : hold_explicit_slots(engine, show, hold, slots, result);
	if (status != STATUS_OK)
		return status;
	for (uint8_t i = 0; i < hold->seats_count; i++) {
		inventory_seat_move(show->state, venue, slots[i], SEAT_IS_FREE, SEAT_IS_HELD);
		seats[i] = hold->best ? venue_slot_seat(venue, slots[i]) : hold->seats[i];
	}
	uint32_t show_ttl_ms = engine_show_hold_ttl_ms(engine, show);
	uint32_t ttl_ms = hold->ttl_ms != 0 && hold->ttl_ms < show_ttl_ms ? hold->ttl_ms : show_ttl_ms;
	int64_t deadline_ms = engine->clock_ms + ttl_ms;
	uint32_t index = engine_hold_create(engine, show_index, hold->user_id, seats,
					    hold->seats_count, deadline_ms);
	user_total_add(show->state, hold->user_id, hold->seats_count);
	result->hold_id = engine_hold_id(engine, show_index, engine->holds[index].n);
	result->deadline_ms = deadline_ms;
	result->seats_count = hold->seats_count;
	memcpy(result->seats, seats, sizeof(uint32_t) * hold->seats_count);
	return STATUS_OK;
}

/*
 * Finds what a hold id refers to: an active hold or a booking (returned as an
 * idtable reference), or IDTABLE_EMPTY for an issued id that ended otherwise.
 * NOT_FOUND when the show is unknown or not owned, or the id was never issued.
 */
static enum status hold_lookup(struct engine *engine, uint64_t hold_id, uint32_t *show_index,
			       uint32_t *reference)
{
	*show_index = catalog_show_find(&engine->catalog, hold_id_show(hold_id));
	if (*show_index == CATALOG_NONE)
		return STATUS_NOT_FOUND;
	const struct show_state *state = engine->catalog.shows[*show_index].state;
	uint32_t n = (uint32_t)hold_id;
	if (state == NULL || n == 0 || n >= state->hold_next)
		return STATUS_NOT_FOUND;
	*reference = idtable_get(&engine->hold_ids, hold_id);
	if (*reference == IDTABLE_EMPTY) {
		uint32_t booking = idtable_get(&engine->booking_ids, hold_id);
		if (booking != IDTABLE_EMPTY)
			*reference = booking | BOOKING_REFERENCE_BIT;
	}
	return STATUS_OK;
}

/* The status for an issued hold id that is neither active nor a booking. */
static enum status hold_ended_status(const struct engine *engine, uint32_t show_index,
				     uint64_t hold_id)
{
	const struct show_state *state = engine->catalog.shows[show_index].state;
	return inventory_expired_test(state, (uint32_t)hold_id) ? STATUS_HOLD_EXPIRED
								: STATUS_NOT_FOUND;
}

static void result_booking(struct engine *engine, const struct booking *booking,
			   struct engine_result *result)
{
	result->hold_id = engine_hold_id(engine, booking->show_index, booking->n);
	result->seats_count = booking->seats_count;
	memcpy(result->seats, seat_pool_items(engine, booking->seats_count, booking->seats_ref),
	       sizeof(uint32_t) * booking->seats_count);
	result->booking_cancelled = booking->cancelled;
}

static bool payment_ref_equal(const struct engine *engine, const struct booking *booking,
			      struct text ref)
{
	return text_equal(text_from(engine->payment_refs + booking->payment_ref_offset,
				    booking->payment_ref_size),
			  ref);
}

/* Appends a booking record; the caller adds it to booking_ids. */
static uint32_t booking_insert(struct engine *engine, uint32_t show_index, uint32_t n,
			       uint64_t user_id, uint32_t seats_ref, uint8_t seats_count,
			       struct text payment_ref)
{
	ARRAY_RESERVE(engine->bookings, engine->bookings_capacity,
		      (uint64_t)engine->bookings_count + 1);
	ASSERT(engine->bookings_count < BOOKING_REFERENCE_BIT);
	ASSERT(payment_ref.size >= 1 && payment_ref.size <= PAYMENT_REF_SIZE_MAX);
	ARRAY_RESERVE(engine->payment_refs, engine->payment_refs_capacity,
		      (uint64_t)engine->payment_refs_size + payment_ref.size);
	uint32_t booking_index = engine->bookings_count++;
	engine->bookings[booking_index] = (struct booking){
		.user_id = user_id, .show_index = show_index, .n = n, .seats_ref = seats_ref,
		.payment_ref_offset = engine->payment_refs_size,
		.payment_ref_size = (uint8_t)payment_ref.size, .seats_count = seats_count };
	memcpy(engine->payment_refs + engine->payment_refs_size, payment_ref.bytes,
	       payment_ref.size);
	engine->payment_refs_size += payment_ref.size;
	return booking_index;
}

uint32_t engine_booking_restore(struct engine *engine, uint32_t show_index, uint32_t n,
				uint64_t user_id, const uint32_t *seats, uint8_t seats_count,
				struct text payment_ref, bool cancelled)
{
	uint32_t seats_ref = seat_pool_alloc(engine, seats, seats_count);
	uint32_t index = booking_insert(engine, show_index, n, user_id, seats_ref, seats_count,
					payment_ref);
	engine->bookings[index].cancelled = cancelled;
	idtable_add(&engine->booking_ids, index);
	return index;
}

/* Turns the active hold at `index` into a booking with the same id. */
static void hold_confirm(struct engine *engine, uint32_t index, struct text payment_ref,
			 struct engine_result *result)
{
	const struct hold *hold = &engine->holds[index];
	const struct show *show = &engine->catalog.shows[hold->show_index];
	const struct venue *venue = &engine->catalog.venues[show->venue_index];
	const uint32_t *seats = seat_pool_items(engine, hold->seats_count, hold->seats_ref);
	uint8_t tiers = 0;
	for (uint8_t i = 0; i < hold->seats_count; i++) {
		uint32_t slot = venue->slot_of_seat[seats[i]];
		inventory_seat_move(show->state, venue, slot, SEAT_IS_HELD, SEAT_IS_BOOKED);
		tiers |= (uint8_t)(1u << venue_slot_tier(venue, slot));
	}
	uint32_t show_index = hold->show_index;
	uint32_t booking_index = booking_insert(engine, hold->show_index, hold->n, hold->user_id,
						hold->seats_ref, hold->seats_count, payment_ref);
	hold_end(engine, index, true); /* the seat array now belongs to the booking */
	idtable_add(&engine->booking_ids, booking_index);
	result_booking(engine, &engine->bookings[booking_index], result);
	/* Fewer seats are held now: a line whose seats can no longer come back is told. */
	waitlist_serve_tiers(engine, show_index, tiers);
}

static enum status confirm_apply(struct engine *engine, const struct command_confirm *confirm,
				 struct engine_result *result)
{
	uint32_t show_index;
	uint32_t reference;
	enum status status = hold_lookup(engine, confirm->hold_id, &show_index, &reference);
	if (status != STATUS_OK)
		return status;
	if (reference == IDTABLE_EMPTY)
		return hold_ended_status(engine, show_index, confirm->hold_id);
	if (reference & BOOKING_REFERENCE_BIT) {
		const struct booking *booking =
			&engine->bookings[reference & ~BOOKING_REFERENCE_BIT];
		if (booking->user_id != confirm->user_id)
			return STATUS_NOT_OWNER;
		if (!payment_ref_equal(engine, booking, confirm->payment_ref))
			return STATUS_ALREADY_CONFIRMED;
		result_booking(engine, booking, result);
		return STATUS_OK;
	}
	if (engine->holds[reference].user_id != confirm->user_id)
		return STATUS_NOT_OWNER;
	hold_confirm(engine, reference, confirm->payment_ref, result);
	return STATUS_OK;
}

static enum status release_apply(struct engine *engine, const struct command_release *release,
				 struct engine_result *result)
{
	uint32_t show_index;
	uint32_t reference;
	enum status status = hold_lookup(engine, release->hold_id, &show_index, &reference);
	if (status != STATUS_OK)
		return status;
	if (reference == IDTABLE_EMPTY)
		return hold_ended_status(engine, show_index, release->hold_id);
	if (reference & BOOKING_REFERENCE_BIT)
		return STATUS_ALREADY_CONFIRMED;
	struct hold *hold = &engine->holds[reference];
	if (hold->user_id != release->user_id)
		return STATUS_NOT_OWNER;
	result->hold_id = release->hold_id;
	result->seats_count = hold_seats_copy(engine, hold, result->seats);
	user_total_add(engine->catalog.shows[show_index].state, hold->user_id,
		       -(int32_t)hold->seats_count);
	hold_end(engine, reference, false);
	waitlist_seats_return(engine, show_index, result->seats, result->seats_count,
			      SEAT_IS_HELD);
	return STATUS_OK;
}

static enum status cancel_apply(struct engine *engine,
				const struct command_booking_cancel *cancel,
				struct engine_result *result)
{
	uint32_t show_index;
	uint32_t reference;
	enum status status = hold_lookup(engine, cancel->booking_id, &show_index, &reference);
	if (status != STATUS_OK)
		return status;
	if (reference == IDTABLE_EMPTY || !(reference & BOOKING_REFERENCE_BIT))
		return STATUS_NOT_FOUND;
	struct booking *booking = &engine->bookings[reference & ~BOOKING_REFERENCE_BIT];
	if (!booking->cancelled) {
		booking->cancelled = true;
		user_total_add(engine->catalog.shows[show_index].state, booking->user_id,
			       -(int32_t)booking->seats_count);
		engine->changed = true;
		waitlist_seats_return(engine, show_index,
				      seat_pool_items(engine, booking->seats_count,
						      booking->seats_ref),
				      booking->seats_count, SEAT_IS_BOOKED);
	}
	result_booking(engine, booking, result);
	return STATUS_OK;
}

static enum status seats_block_apply(struct engine *engine,
				     const struct command_seats_block *block,
				     struct engine_result *result)
{
	uint32_t show_index;
	enum status status = show_owned(engine, block->show_id, &show_index);
	if (status != STATUS_OK)
		return status;
	const struct show *show = &engine->catalog.shows[show_index];
	const struct venue *venue = &engine->catalog.venues[show->venue_index];
	uint64_t end = (uint64_t)block->seat_first + block->seats_count;
	if (end > show->state->seats_count)
		return STATUS_BAD_REQUEST;
	enum seat_internal from = block->blocked ? SEAT_IS_FREE : SEAT_IS_BLOCKED;
	for (uint32_t seat = block->seat_first; seat < end; seat++) {
		if (inventory_seat_state(show->state, venue->slot_of_seat[seat]) != from &&
		    result->seats_count < HOLD_SEATS_COUNT_MAX)
			result->seats[result->seats_count++] = seat;
	}
	if (result->seats_count > 0)
		return STATUS_SEAT_UNAVAILABLE;
	uint8_t touched = 0;
	for (uint32_t seat = block->seat_first; seat < end; seat++) {
		uint32_t slot = venue->slot_of_seat[seat];
		if (block->blocked)
			inventory_seat_move(show->state, venue, slot, SEAT_IS_FREE, SEAT_IS_BLOCKED);
		else
			touched |= waitlist_seat_return(engine, show_index, seat, SEAT_IS_BLOCKED);
	}
	waitlist_serve_tiers(engine, show_index, touched);
	engine->changed = true;
	return STATUS_OK;
}

/* rules_1: a put logged under version 1 rules (command.h) took the default of its time. */
static enum status show_put_apply(struct engine *engine, const struct command_show_put *put,
				  bool rules_1)
{
	struct command_show_put resolved;
	if (rules_1 && put->hold_ttl_ms == 0) {
		resolved = *put;
		resolved.hold_ttl_ms = engine->config.hold_ttl_ms_default;
		put = &resolved;
	}
	bool created;
	uint32_t index;
	enum status status = catalog_show_put(&engine->catalog, put,
					      engine->config.hold_ttl_ms_default, &created, &index);
	if (status != STATUS_OK || !created)
		return status;
	struct show *show = &engine->catalog.shows[index];
	if (engine_show_shard(show->id, engine->config.shard_count) == engine->config.shard_index)
		show->state = inventory_create(&engine->catalog.venues[show->venue_index]);
	engine->changed = true;
	return STATUS_OK;
}

static enum status catalog_apply(struct engine *engine, const struct command *command)
{
	bool created = false;
	enum status status;
	switch (command->type) {
	case COMMAND_LOCATION_PUT:
		status = catalog_location_put(&engine->catalog, &command->location_put, &created);
		break;
	case COMMAND_VENUE_PUT:
		status = catalog_venue_put(&engine->catalog, &command->venue_put, &created);
		break;
	case COMMAND_EVENT_PUT:
		status = catalog_event_put(&engine->catalog, &command->event_put, &created);
		break;
	default:
		return show_put_apply(engine, &command->show_put, command->version == 1);
	}
	if (created)
		engine->changed = true;
	return status;
}

static enum status dispatch(struct engine *engine, const struct command *command,
			    struct engine_result *result)
{
	switch (command->type) {
	case COMMAND_LOCATION_PUT:
	case COMMAND_VENUE_PUT:
	case COMMAND_EVENT_PUT:
	case COMMAND_SHOW_PUT:
		return catalog_apply(engine, command);
	case COMMAND_SEATS_BLOCK:
		return seats_block_apply(engine, &command->seats_block, result);
	case COMMAND_HOLD:
		return hold_apply(engine, &command->hold, result);
	case COMMAND_CONFIRM:
		return confirm_apply(engine, &command->confirm, result);
	case COMMAND_RELEASE:
		return release_apply(engine, &command->release, result);
	case COMMAND_BOOKING_CANCEL:
		return cancel_apply(engine, &command->booking_cancel, result);
	case COMMAND_WAITLIST_JOIN:
		return waitlist_join(engine, &command->waitlist_join, command->version == 1, result);
	case COMMAND_WAITLIST_LEAVE:
		return waitlist_leave(engine, &command->waitlist_leave, result);
	case COMMAND_WAITLIST_POLL:
		return waitlist_poll(engine, &command->waitlist_poll, result);
	case COMMAND_TICK:
		return STATUS_OK;
	case COMMAND_CONFIGURE:
		if (engine->config.hold_ttl_ms_default != command->configure.hold_ttl_ms_default ||
		    engine->config.waitlist_idle_ms != command->configure.waitlist_idle_ms) {
			engine->config.hold_ttl_ms_default = command->configure.hold_ttl_ms_default;
			engine->config.waitlist_idle_ms = command->configure.waitlist_idle_ms;
			engine->changed = true;
		}
		return STATUS_OK;
	}
	return STATUS_BAD_REQUEST;
}

void engine_apply(struct engine *engine, const struct command *command, int64_t now_ms,
		  struct engine_result *result)
{
	memset(result, 0, sizeof(*result));
	engine->events_count = 0;
	engine->changed = false;
	if (now_ms > engine->clock_ms)
		engine->clock_ms = now_ms;
	timers_fire(engine);
	enum status status = command_validate(command);
	if (status == STATUS_OK)
		status = dispatch(engine, command, result);
	if (status != STATUS_OK && status != STATUS_SEAT_UNAVAILABLE) {
		/* A refusal reports nothing but its status (and, above, unavailable seats). */
		memset(result, 0, sizeof(*result));
	}
	result->status = status;
	result->changed = engine->changed;
}
