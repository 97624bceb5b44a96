/*
 * model.c — the reference model: engine/RULES.md written out as literally as
 * possible (see model.h).
 *
 * Every rule is a scan: a seat's owner is looked up through the show's hold array,
 * a user's total is counted over the seat array, a line is the set of waiting
 * entries of a (show, tier) in join order, and the next timer is the smallest
 * (due, kind, id) over every active hold and every live entry. Nothing is cached
 * that a scan can recompute, so that the model has no invariants of its own to get
 * wrong. Bookings are the confirmed holds (a booking has its hold's id).
 *
 * Expected sizes: a few venues and shows, a few hundred seats per show, tens of
 * thousands of holds per run, at most one live entry per (show, user).
 */
#include "model_internal.h"

#include <stdlib.h>

/* Memory. */

void *model_grow(void *items, uint32_t *capacity, size_t item_size, uint32_t needed)
{
	if (needed <= *capacity)
		return items;
	uint32_t grown = *capacity ? *capacity * 2 : 8;
	while (grown < needed)
		grown *= 2;
	items = realloc(items, (size_t)grown * item_size);
	ASSERT(items != NULL);
	*capacity = grown;
	return items;
}

void *model_alloc_zeroed(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size);
	ASSERT(p != NULL);
	return p;
}

/* Catalog lookups: linear scans by id. */

uint32_t model_entity_id(const struct command *command)
{
	switch (command->type) {
	case COMMAND_LOCATION_PUT:
		return command->location_put.location_id;
	case COMMAND_VENUE_PUT:
		return command->venue_put.venue_id;
	case COMMAND_EVENT_PUT:
		return command->event_put.event_id;
	case COMMAND_SHOW_PUT:
		return command->show_put.show_id;
	default:
		ASSERT(false);
	}
	return 0;
}

const struct command *model_entity_find(const struct model *model, enum command_type type,
					uint32_t id)
{
	for (uint32_t i = 0; i < model->entities_count; i++) {
		const struct command *command = &model->entities[i].command;
		if (command->type == type && model_entity_id(command) == id)
			return command;
	}
	return NULL;
}

struct model_show *model_show_find(const struct model *model, uint32_t id)
{
	for (uint32_t i = 0; i < model->shows_count; i++) {
		if (model->shows[i].put.show_id == id)
			return &model->shows[i];
	}
	return NULL;
}

/* CONFIRM step 1: the show exists and n was issued. */
struct model_hold *model_hold_lookup(const struct model *model, uint64_t hold_id)
{
	struct model_show *show = model_show_find(model, hold_id_show(hold_id));
	uint32_t n = (uint32_t)hold_id;
	if (show == NULL || n == 0 || n > show->holds_count)
		return NULL;
	ASSERT(show->holds[n - 1].hold_id == hold_id);
	return &show->holds[n - 1];
}

/* Scans over seats, holds and entries. */

static uint32_t seats_count_in(const struct model_show *show, uint8_t tier, uint8_t state)
{
	uint32_t count = 0;
	for (uint32_t s = 0; s < show->seats_count; s++)
		count += show->seat_tiers[s] == tier && show->seat_states[s] == state;
	return count;
}

/* Seats of this tier held by holds, offers included; pooled seats are not held. */
uint32_t model_held_count(const struct model_show *show, uint8_t tier)
{
	return seats_count_in(show, tier, MODEL_SEAT_HELD);
}

uint32_t model_show_hold_ttl_ms(const struct model *model, const struct model_show *show)
{
	return show->put.hold_ttl_ms != 0 ? show->put.hold_ttl_ms : model->config.hold_ttl_ms_default;
}

uint32_t model_free_count(const struct model_show *show, uint8_t tier)
{
	return seats_count_in(show, tier, MODEL_SEAT_FREE);
}

struct model_entry *model_entry_find(const struct model *model, uint32_t show_id,
				     uint64_t user_id)
{
	for (uint32_t i = 0; i < model->entries_count; i++) {
		if (model->entries[i].show_id == show_id && model->entries[i].user_id == user_id)
			return &model->entries[i];
	}
	return NULL;
}

void model_entry_remove(struct model *model, struct model_entry *entry)
{
	uint32_t index = (uint32_t)(entry - model->entries);
	ASSERT(index < model->entries_count);
	model->entries[index] = model->entries[--model->entries_count];
}

/* The line's head: the waiting entry of (show, tier) with the smallest join sequence. */
static struct model_entry *line_head(const struct model *model, uint32_t show_id, uint8_t tier)
{
	struct model_entry *head = NULL;
	for (uint32_t i = 0; i < model->entries_count; i++) {
		struct model_entry *e = &model->entries[i];
		if (e->show_id == show_id && e->tier == tier && e->state == WAITER_WAITING &&
		    (head == NULL || e->sequence < head->sequence))
			head = e;
	}
	return head;
}

uint32_t model_line_length(const struct model *model, uint32_t show_id, uint8_t tier)
{
	uint32_t count = 0;
	for (uint32_t i = 0; i < model->entries_count; i++) {
		const struct model_entry *e = &model->entries[i];
		count += e->show_id == show_id && e->tier == tier && e->state == WAITER_WAITING;
	}
	return count;
}

/* Held and booked seats of the user's holds and bookings, plus a waiting entry's count. */
uint32_t model_user_total(const struct model *model, const struct model_show *show,
			  uint64_t user_id)
{
	uint32_t total = 0;
	for (uint32_t s = 0; s < show->seats_count; s++) {
		uint8_t state = show->seat_states[s];
		if (state != MODEL_SEAT_HELD && state != MODEL_SEAT_BOOKED)
			continue;
		ASSERT(show->seat_owners[s] >= 1 && show->seat_owners[s] <= show->holds_count);
		total += show->holds[show->seat_owners[s] - 1].user_id == user_id;
	}
	const struct model_entry *entry = model_entry_find(model, show->put.show_id, user_id);
	if (entry != NULL && entry->state == WAITER_WAITING)
		total += entry->seats_count;
	return total;
}

static struct engine_event *event_add(struct model *model, enum engine_event_type type,
				      uint32_t show_id, uint64_t user_id)
{
	struct engine_event *event = APPEND(model->events, model->events_count,
					     model->events_capacity);
	event->type = type;
	event->show_id = show_id;
	event->user_id = user_id;
	return event;
}

/* Select (best-available), from the seats of `tier` in `state`; see RULES.md. */

struct model_runs {
	uint32_t count;
	uint32_t *firsts; /* first seat id of each run, ascending */
	uint32_t *lengths;
};

static struct model_runs runs_compute(const struct model_show *show, uint8_t tier, uint8_t state)
{
	struct model_runs runs = {
		.firsts = model_alloc_zeroed(show->seats_count, sizeof(uint32_t)),
		.lengths = model_alloc_zeroed(show->seats_count, sizeof(uint32_t)),
	};
	bool previous_in = false;
	for (uint32_t s = 0; s < show->seats_count; s++) {
		bool in = show->seat_tiers[s] == tier && show->seat_states[s] == state;
		if (in && previous_in && show->seat_rows[s] == show->seat_rows[s - 1]) {
			runs.lengths[runs.count - 1]++;
		} else if (in) {
			runs.firsts[runs.count] = s;
			runs.lengths[runs.count] = 1;
			runs.count++;
		}
		previous_in = in;
	}
	return runs;
}

static void take(uint32_t *seats, uint32_t *taken, uint32_t first, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++)
		seats[(*taken)++] = first + i;
}

/* Steps 3 to 5: any k seats of S, preferring whole runs and stranding no lone seat. */
static bool select_spread(const struct model_runs *runs, uint32_t k, uint32_t *seats)
{
	uint32_t size = 0;
	for (uint32_t r = 0; r < runs->count; r++)
		size += runs->lengths[r];
	if (size < k)
		return false;
	uint32_t need = k;
	uint32_t taken = 0;
	for (uint32_t r = 0; r < runs->count && need > 0; r++) {
		uint32_t length = runs->lengths[r];
		uint32_t t = length < need ? length : need;
		if (length - t == 1)
			continue;
		take(seats, &taken, runs->firsts[r], t);
		need -= t;
	}
	if (need == 0)
		return true;
	taken = 0;
	for (uint32_t r = 0; r < runs->count && taken < k; r++) {
		uint32_t length = runs->lengths[r];
		take(seats, &taken, runs->firsts[r], length < k - taken ? length : k - taken);
	}
	return true;
}

static bool select_runs(const struct model_runs *runs, uint32_t k, bool together,
			uint32_t *seats)
{
	uint32_t taken = 0;
	for (uint32_t r = 0; r < runs->count; r++) {
		if (runs->lengths[r] == k || runs->lengths[r] >= k + 2) {
			take(seats, &taken, runs->firsts[r], k);
			return true;
		}
	}
	if (!together)
		return select_spread(runs, k, seats);
	for (uint32_t r = 0; r < runs->count; r++) {
		if (runs->lengths[r] >= k) {
			take(seats, &taken, runs->firsts[r], k);
			return true;
		}
	}
	return false;
}

bool model_seats_select(const struct model_show *show, uint8_t tier, uint8_t state, uint32_t k,
			bool together, uint32_t *seats)
{
	ASSERT(k >= 1 && k <= HOLD_SEATS_COUNT_MAX);
	struct model_runs runs = runs_compute(show, tier, state);
	bool selected = select_runs(&runs, k, together, seats);
	free(runs.firsts);
	free(runs.lengths);
	for (uint32_t i = 1; selected && i < k; i++)
		ASSERT(seats[i - 1] < seats[i]);
	return selected;
}

/* Holds, returning seats and serving lines. */

struct model_hold *model_hold_make(struct model *model, struct model_show *show,
				   uint64_t user_id, const uint32_t *seats,
				   uint32_t seats_count, int64_t deadline_ms)
{
	struct model_hold *hold = APPEND(show->holds, show->holds_count, show->holds_capacity);
	uint32_t n = show->holds_count;
	hold->hold_id = ((uint64_t)show->put.show_id << 32) | n;
	hold->user_id = user_id;
	hold->deadline_ms = deadline_ms;
	hold->state = MODEL_HOLD_ACTIVE;
	hold->seats_count = (uint8_t)seats_count;
	for (uint32_t i = 0; i < seats_count; i++) {
		ASSERT(show->seat_owners[seats[i]] == 0);
		hold->seats[i] = seats[i];
		show->seat_states[seats[i]] = MODEL_SEAT_HELD;
		show->seat_owners[seats[i]] = n;
	}
	*APPEND(model->active_hold_ids, model->active_count, model->active_capacity) =
		hold->hold_id;
	model->changed = true;
	return hold;
}

/* The hold is no longer active: its timer goes. */
void model_hold_end(struct model *model, struct model_hold *hold, uint8_t state)
{
	ASSERT(hold->state == MODEL_HOLD_ACTIVE);
	hold->state = state;
	for (uint32_t i = 0; i < model->active_count; i++) {
		if (model->active_hold_ids[i] == hold->hold_id) {
			model->active_hold_ids[i] = model->active_hold_ids[--model->active_count];
			return;
		}
	}
	ASSERT(false);
}

void model_tier_serve(struct model *model, struct model_show *show, uint8_t tier)
{
	uint32_t show_id = show->put.show_id;
	for (;;) {
		struct model_entry *head = line_head(model, show_id, tier);
		if (head == NULL) {
			for (uint32_t s = 0; s < show->seats_count; s++) {
				if (show->seat_tiers[s] == tier &&
				    show->seat_states[s] == MODEL_SEAT_POOLED)
					show->seat_states[s] = MODEL_SEAT_FREE;
			}
			return;
		}
		uint32_t seats[HOLD_SEATS_COUNT_MAX];
		if (model_seats_select(show, tier, MODEL_SEAT_POOLED, head->seats_count,
				       head->together, seats)) {
			int64_t deadline_ms = model->clock_ms + model_show_hold_ttl_ms(model, show);
			struct model_hold *offer = model_hold_make(model, show, head->user_id, seats,
								   head->seats_count, deadline_ms);
			head->state = WAITER_OFFERED;
			head->offer_hold_id = offer->hold_id;
			head->offer_deadline_ms = deadline_ms;
			head->offer_seats_count = head->seats_count;
			memcpy(head->offer_seats, seats, sizeof(seats));
			head->timer_due_ms = model->clock_ms + model->config.waitlist_idle_ms;
			struct engine_event *event = event_add(model, ENGINE_EVENT_OFFERED, show_id,
							       head->user_id);
			event->hold_id = offer->hold_id;
			event->deadline_ms = deadline_ms;
			event->tier = tier;
			event->waiter_seq = head->sequence;
			event->seats_count = head->seats_count;
			memcpy(event->seats, seats, sizeof(seats));
		} else if (model_held_count(show, tier) == 0) {
			head->state = WAITER_SOLD_OUT;
			head->timer_due_ms = model->clock_ms + model->config.waitlist_idle_ms;
			struct engine_event *event = event_add(model, ENGINE_EVENT_SOLD_OUT, show_id,
							       head->user_id);
			event->tier = tier;
			event->waiter_seq = head->sequence;
		} else {
			return;
		}
		model->changed = true;
	}
}

void model_tiers_serve(struct model *model, struct model_show *show,
		       const bool received[TIER_COUNT])
{
	for (uint8_t tier = 0; tier < TIER_COUNT; tier++) {
		if (received[tier])
			model_tier_serve(model, show, tier);
	}
}

void model_seat_return(const struct model *model, struct model_show *show, uint32_t seat,
		       bool received[TIER_COUNT])
{
	uint8_t tier = show->seat_tiers[seat];
	bool line = model_line_length(model, show->put.show_id, tier) > 0;
	show->seat_states[seat] = line ? MODEL_SEAT_POOLED : MODEL_SEAT_FREE;
	show->seat_owners[seat] = 0;
	received[tier] = true;
}

void model_hold_seats_return(struct model *model, struct model_show *show,
			     const struct model_hold *hold)
{
	bool received[TIER_COUNT] = { false };
	for (uint32_t i = 0; i < hold->seats_count; i++)
		model_seat_return(model, show, hold->seats[i], received);
	model->changed = true;
	model_tiers_serve(model, show, received);
}

/* Time and timers. */

struct model_timer {
	int64_t due_ms;
	uint8_t kind; /* 0: hold, 1: waiting-list entry */
	uint64_t id;  /* hold id, or the entry's join sequence number */
};

static bool timer_before(struct model_timer a, struct model_timer b)
{
	if (a.due_ms != b.due_ms)
		return a.due_ms < b.due_ms;
	if (a.kind != b.kind)
		return a.kind < b.kind;
	return a.id < b.id;
}

/* The smallest timer over every active hold and every live entry; false if none. */
static bool timer_next(const struct model *model, struct model_timer *next)
{
	bool found = false;
	for (uint32_t i = 0; i < model->active_count; i++) {
		const struct model_hold *hold = model_hold_lookup(model, model->active_hold_ids[i]);
		ASSERT(hold != NULL && hold->state == MODEL_HOLD_ACTIVE);
		struct model_timer t = { hold->deadline_ms, 0, hold->hold_id };
		if (!found || timer_before(t, *next))
			*next = t;
		found = true;
	}
	for (uint32_t i = 0; i < model->entries_count; i++) {
		const struct model_entry *entry = &model->entries[i];
		struct model_timer t = { entry->timer_due_ms, 1, entry->sequence };
		if (!found || timer_before(t, *next))
			*next = t;
		found = true;
	}
	return found;
}

static void hold_expire(struct model *model, uint64_t hold_id)
{
	struct model_hold *hold = model_hold_lookup(model, hold_id);
	struct model_show *show = model_show_find(model, hold_id_show(hold_id));
	model_hold_end(model, hold, MODEL_HOLD_EXPIRED);
	struct engine_event *event = event_add(model, ENGINE_EVENT_HOLD_EXPIRED,
					       show->put.show_id, hold->user_id);
	event->hold_id = hold->hold_id;
	event->seats_count = hold->seats_count;
	memcpy(event->seats, hold->seats, sizeof(hold->seats));
	model_hold_seats_return(model, show, hold);
}

static void entry_timer_fire(struct model *model, uint64_t sequence)
{
	struct model_entry *entry = NULL;
	for (uint32_t i = 0; i < model->entries_count; i++) {
		if (model->entries[i].sequence == sequence)
			entry = &model->entries[i];
	}
	ASSERT(entry != NULL);
	if (entry->state != WAITER_WAITING) {
		model_entry_remove(model, entry);
		return;
	}
	entry->state = WAITER_LAPSED;
	struct engine_event *event = event_add(model, ENGINE_EVENT_LAPSED, entry->show_id,
					       entry->user_id);
	event->tier = entry->tier;
	event->waiter_seq = entry->sequence;
	entry->timer_due_ms = model->clock_ms + model->config.waitlist_idle_ms;
	model_tier_serve(model, model_show_find(model, entry->show_id), entry->tier);
}

static void timers_fire(struct model *model)
{
	struct model_timer next = { 0 }; /* (gcc -O3 cannot see timer_next fill it) */
	while (timer_next(model, &next) && next.due_ms <= model->clock_ms) {
		model->changed = true;
		if (next.kind == 0)
			hold_expire(model, next.id);
		else
			entry_timer_fire(model, next.id);
	}
}

/* The model. */

struct model *model_create(const struct engine_config *config)
{
	ASSERT(config->shard_count == 1 && config->shard_index == 0);
	ASSERT(config->hold_ttl_ms_default >= 1 && config->waitlist_idle_ms >= 1);
	struct model *model = model_alloc_zeroed(1, sizeof(*model));
	model->config = *config;
	return model;
}

void model_destroy(struct model *model)
{
	if (model == NULL)
		return;
	for (uint32_t i = 0; i < model->entities_count; i++)
		free(model->entities[i].bytes);
	for (uint32_t i = 0; i < model->shows_count; i++) {
		struct model_show *show = &model->shows[i];
		free(show->holds);
		free(show->seat_states);
		free(show->seat_tiers);
		free(show->seat_rows);
		free(show->seat_owners);
	}
	free(model->entities);
	free(model->shows);
	free(model->entries);
	free(model->active_hold_ids);
	free(model->events);
	free(model);
}

/*
 * The clock moves and due timers fire before any check, command_validate() included:
 * the bad-request checks are the first checks of the command, timers are not part of
 * it (RULES.md "Time and timers"), and engine.h defines the clock as the largest
 * now_ms applied.
 */
void model_apply(struct model *model, const struct command *command, int64_t now_ms,
		 struct engine_result *result)
{
	memset(result, 0, sizeof(*result));
	model->events_count = 0;
	model->changed = false;
	if (now_ms > model->clock_ms)
		model->clock_ms = now_ms;
	timers_fire(model);
	struct engine_result command_result = { 0 };
	enum status status = command_validate(command);
	if (status == STATUS_OK)
		status = model_command_run(model, command, &command_result);
	/* A failed check changes nothing, and what it had written stays meaningful only
	 * for SEAT_UNAVAILABLE (the seats that were not available). */
	if (status == STATUS_OK || status == STATUS_SEAT_UNAVAILABLE)
		*result = command_result;
	result->status = status;
	result->changed = model->changed;
}

const struct engine_event *model_events(const struct model *model, uint32_t *count)
{
	*count = model->events_count;
	return model->events;
}

int64_t model_now(const struct model *model)
{
	return model->clock_ms;
}

bool model_catalog_has(const struct model *model, enum command_type type, uint32_t id)
{
	return model_entity_find(model, type, id) != NULL;
}

bool model_show_get(const struct model *model, uint32_t show_id, struct engine_show *out)
{
	const struct model_show *show = model_show_find(model, show_id);
	if (show == NULL)
		return false;
	const struct command_show_put *p = &show->put;
	*out = (struct engine_show){
		.show_id = p->show_id,
		.event_id = p->event_id,
		.venue_id = p->venue_id,
		.start_ms = p->start_ms,
		.end_ms = p->end_ms,
		.user_seats_max = p->user_seats_max,
		.sale_opens_ms = p->sale_opens_ms,
		.sale_closes_ms = p->sale_closes_ms,
		.hold_ttl_ms = model_show_hold_ttl_ms(model, show),
		.owned = true,
	};
	memcpy(out->prices_minor, p->prices_minor, sizeof(out->prices_minor));
	memcpy(out->currency, p->currency, CURRENCY_SIZE);
	for (uint8_t t = 0; t < TIER_COUNT; t++) {
		struct engine_tier_counts *counts = &out->tiers[t];
		counts->seats = show->tier_seats_count[t];
		counts->available = seats_count_in(show, t, MODEL_SEAT_FREE);
		counts->pooled = seats_count_in(show, t, MODEL_SEAT_POOLED);
		counts->held = model_held_count(show, t) + counts->pooled;
		counts->booked = seats_count_in(show, t, MODEL_SEAT_BOOKED);
		counts->blocked = seats_count_in(show, t, MODEL_SEAT_BLOCKED);
		counts->waiters = model_line_length(model, show_id, t);
	}
	return true;
}

uint32_t model_show_seat_states(const struct model *model, uint32_t show_id, uint8_t *states,
				uint32_t capacity)
{
	const struct model_show *show = model_show_find(model, show_id);
	if (show == NULL || capacity < show->seats_count)
		return 0;
	static const uint8_t public_states[] = {
		[MODEL_SEAT_FREE] = SEAT_AVAILABLE, [MODEL_SEAT_HELD] = SEAT_HELD,
		[MODEL_SEAT_BOOKED] = SEAT_BOOKED,  [MODEL_SEAT_BLOCKED] = SEAT_BLOCKED,
		[MODEL_SEAT_POOLED] = SEAT_HELD,
	};
	for (uint32_t s = 0; s < show->seats_count; s++)
		states[s] = public_states[show->seat_states[s]];
	return show->seats_count;
}
