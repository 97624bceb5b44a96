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
#include "model.h"

#include <stdlib.h>
#include <string.h>

enum model_seat_state {
	MODEL_SEAT_FREE = 0,
	MODEL_SEAT_HELD = 1,
	MODEL_SEAT_BOOKED = 2,
	MODEL_SEAT_BLOCKED = 3,
	MODEL_SEAT_POOLED = 4,
};

enum model_hold_state {
	MODEL_HOLD_ACTIVE = 0,
	MODEL_HOLD_EXPIRED = 1,
	MODEL_HOLD_RELEASED = 2,
	MODEL_HOLD_CONFIRMED = 3, /* it is now the booking with the same id */
};

struct model_hold {
	uint64_t hold_id;
	uint64_t user_id;
	int64_t deadline_ms;
	uint8_t state;	     /* enum model_hold_state */
	uint8_t seats_count; /* 1..HOLD_SEATS_COUNT_MAX */
	uint32_t seats[HOLD_SEATS_COUNT_MAX];
	uint8_t payment_ref_size; /* set when confirmed */
	char payment_ref[PAYMENT_REF_SIZE_MAX];
	bool booking_cancelled;
};

struct model_show {
	struct command_show_put put; /* defaults applied */
	uint32_t seats_count;
	uint32_t tier_seats_count[TIER_COUNT];
	uint8_t *seat_states; /* enum model_seat_state, per seat id */
	uint8_t *seat_tiers;
	uint32_t *seat_rows;   /* row index within the venue */
	uint32_t *seat_owners; /* hold n of the hold or booking, 0 for none */
	struct model_hold *holds; /* holds[n - 1]; the next n is holds_count + 1 */
	uint32_t holds_count;
	uint32_t holds_capacity;
};

/* A waiting-list entry: waiting, or terminal (offered, sold out, lapsed) until removed. */
struct model_entry {
	uint32_t show_id;
	uint64_t user_id;
	uint64_t sequence; /* join sequence number, engine-wide, from 1 */
	uint8_t tier;
	uint8_t seats_count;
	bool together;
	uint8_t state; /* enum waiter_state, never WAITER_NONE */
	int64_t timer_due_ms;
	uint64_t offer_hold_id;
	int64_t offer_deadline_ms;
	uint8_t offer_seats_count;
	uint32_t offer_seats[HOLD_SEATS_COUNT_MAX];
};

/* A catalog entity is kept as its put command, decoded from the model's own copy of
 * its encoding (so that its texts and layout are the model's). */
struct model_entity {
	uint8_t *bytes;
	size_t size;
	struct command command; /* borrows from bytes */
};

struct model {
	struct engine_config config;
	int64_t clock_ms;
	uint64_t join_sequence_last;
	bool changed; /* by the command being applied, timers included */
	struct model_entity *entities; /* locations, venues, events and shows, as put */
	uint32_t entities_count, entities_capacity;
	struct model_show *shows;
	uint32_t shows_count, shows_capacity;
	struct model_entry *entries;
	uint32_t entries_count, entries_capacity;
	uint64_t *active_hold_ids; /* holds that still have a timer; unordered */
	uint32_t active_count, active_capacity;
	struct engine_event *events;
	uint32_t events_count, events_capacity;
};

/* Memory. */

static void *grow(void *items, uint32_t *capacity, size_t item_size, uint32_t needed)
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

/* Grows the array by one zeroed item and gives a pointer to it. */
#define APPEND(array, count, capacity)                                         \
	((array) = grow((array), &(capacity), sizeof(*(array)), (count) + 1), \
	 memset(&(array)[(count)], 0, sizeof(*(array))), &(array)[(count)++])

static void *alloc_zeroed(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size);
	ASSERT(p != NULL);
	return p;
}

/* Catalog lookups: linear scans by id. */

static uint32_t entity_id(const struct command *command)
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

static const struct command *entity_find(const struct model *model, enum command_type type,
					 uint32_t id)
{
	for (uint32_t i = 0; i < model->entities_count; i++) {
		const struct command *command = &model->entities[i].command;
		if (command->type == type && entity_id(command) == id)
			return command;
	}
	return NULL;
}

static struct model_show *show_find(const struct model *model, uint32_t id)
{
	for (uint32_t i = 0; i < model->shows_count; i++) {
		if (model->shows[i].put.show_id == id)
			return &model->shows[i];
	}
	return NULL;
}

/* CONFIRM step 1: the show exists and n was issued. */
static struct model_hold *hold_lookup(const struct model *model, uint64_t hold_id)
{
	struct model_show *show = show_find(model, hold_id_show(hold_id));
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
static uint32_t held_count(const struct model_show *show, uint8_t tier)
{
	return seats_count_in(show, tier, MODEL_SEAT_HELD);
}

static struct model_entry *entry_find(const struct model *model, uint32_t show_id,
				      uint64_t user_id)
{
	for (uint32_t i = 0; i < model->entries_count; i++) {
		if (model->entries[i].show_id == show_id && model->entries[i].user_id == user_id)
			return &model->entries[i];
	}
	return NULL;
}

static void entry_remove(struct model *model, struct model_entry *entry)
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

static uint32_t line_length(const struct model *model, uint32_t show_id, uint8_t tier)
{
	uint32_t count = 0;
	for (uint32_t i = 0; i < model->entries_count; i++) {
		const struct model_entry *e = &model->entries[i];
		count += e->show_id == show_id && e->tier == tier && e->state == WAITER_WAITING;
	}
	return count;
}

/* Held and booked seats of the user's holds and bookings, plus a waiting entry's count. */
static uint32_t user_total(const struct model *model, const struct model_show *show,
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
	const struct model_entry *entry = entry_find(model, show->put.show_id, user_id);
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
		.firsts = alloc_zeroed(show->seats_count, sizeof(uint32_t)),
		.lengths = alloc_zeroed(show->seats_count, sizeof(uint32_t)),
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

static bool seats_select(const struct model_show *show, uint8_t tier, uint8_t state, uint32_t k,
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

static struct model_hold *hold_make(struct model *model, struct model_show *show,
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
static void hold_end(struct model *model, struct model_hold *hold, uint8_t state)
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

static void tier_serve(struct model *model, struct model_show *show, uint8_t tier)
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
		if (seats_select(show, tier, MODEL_SEAT_POOLED, head->seats_count,
				 head->together, seats)) {
			int64_t deadline_ms = model->clock_ms + show->put.hold_ttl_ms;
			struct model_hold *offer = hold_make(model, show, head->user_id, seats,
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
		} else if (held_count(show, tier) == 0) {
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

static void tiers_serve(struct model *model, struct model_show *show,
			const bool received[TIER_COUNT])
{
	for (uint8_t tier = 0; tier < TIER_COUNT; tier++) {
		if (received[tier])
			tier_serve(model, show, tier);
	}
}

static void seat_return(const struct model *model, struct model_show *show, uint32_t seat,
			bool received[TIER_COUNT])
{
	uint8_t tier = show->seat_tiers[seat];
	bool line = line_length(model, show->put.show_id, tier) > 0;
	show->seat_states[seat] = line ? MODEL_SEAT_POOLED : MODEL_SEAT_FREE;
	show->seat_owners[seat] = 0;
	received[tier] = true;
}

static void hold_seats_return(struct model *model, struct model_show *show,
			      const struct model_hold *hold)
{
	bool received[TIER_COUNT] = { false };
	for (uint32_t i = 0; i < hold->seats_count; i++)
		seat_return(model, show, hold->seats[i], received);
	model->changed = true;
	tiers_serve(model, show, received);
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
		const struct model_hold *hold = hold_lookup(model, model->active_hold_ids[i]);
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
	struct model_hold *hold = hold_lookup(model, hold_id);
	struct model_show *show = show_find(model, hold_id_show(hold_id));
	hold_end(model, hold, MODEL_HOLD_EXPIRED);
	struct engine_event *event = event_add(model, ENGINE_EVENT_HOLD_EXPIRED,
					       show->put.show_id, hold->user_id);
	event->hold_id = hold->hold_id;
	event->seats_count = hold->seats_count;
	memcpy(event->seats, hold->seats, sizeof(hold->seats));
	hold_seats_return(model, show, hold);
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
		entry_remove(model, entry);
		return;
	}
	entry->state = WAITER_LAPSED;
	struct engine_event *event = event_add(model, ENGINE_EVENT_LAPSED, entry->show_id,
					       entry->user_id);
	event->tier = entry->tier;
	event->waiter_seq = entry->sequence;
	entry->timer_due_ms = model->clock_ms + model->config.waitlist_idle_ms;
	tier_serve(model, show_find(model, entry->show_id), entry->tier);
}

static void timers_fire(struct model *model)
{
	struct model_timer next;
	while (timer_next(model, &next) && next.due_ms <= model->clock_ms) {
		model->changed = true;
		if (next.kind == 0)
			hold_expire(model, next.id);
		else
			entry_timer_fire(model, next.id);
	}
}

/* Catalog commands. */

static bool location_same(const struct command_location_put *a,
			  const struct command_location_put *b)
{
	return text_equal(a->name, b->name) && memcmp(a->country, b->country, COUNTRY_SIZE) == 0 &&
	       a->lat_e6 == b->lat_e6 && a->lon_e6 == b->lon_e6;
}

static bool venue_same(const struct command_venue_put *a, const struct command_venue_put *b)
{
	return a->location_id == b->location_id && text_equal(a->name, b->name) &&
	       text_equal(a->address, b->address) && a->lat_e6 == b->lat_e6 &&
	       a->lon_e6 == b->lon_e6 && a->layout.size == b->layout.size &&
	       memcmp(a->layout.bytes, b->layout.bytes, a->layout.size) == 0;
}

static bool event_same(const struct command_event_put *a, const struct command_event_put *b)
{
	bool same = a->location_id == b->location_id && text_equal(a->title, b->title) &&
		    text_equal(a->description, b->description) && a->type == b->type &&
		    text_equal(a->language, b->language) && a->duration_min == b->duration_min &&
		    a->tags_count == b->tags_count;
	for (uint8_t i = 0; same && i < a->tags_count; i++)
		same = text_equal(a->tags[i], b->tags[i]);
	return same;
}

static bool show_same(const struct command_show_put *a, const struct command_show_put *b)
{
	return a->event_id == b->event_id && a->venue_id == b->venue_id &&
	       a->start_ms == b->start_ms && a->end_ms == b->end_ms &&
	       memcmp(a->prices_minor, b->prices_minor, sizeof(a->prices_minor)) == 0 &&
	       memcmp(a->currency, b->currency, CURRENCY_SIZE) == 0 &&
	       a->user_seats_max == b->user_seats_max && a->sale_opens_ms == b->sale_opens_ms &&
	       a->sale_closes_ms == b->sale_closes_ms && a->hold_ttl_ms == b->hold_ttl_ms;
}

/* Identical content: every field of the put (a show's after its defaults). */
static bool entity_same(const struct command *a, const struct command *b)
{
	switch (a->type) {
	case COMMAND_LOCATION_PUT:
		return location_same(&a->location_put, &b->location_put);
	case COMMAND_VENUE_PUT:
		return venue_same(&a->venue_put, &b->venue_put);
	case COMMAND_EVENT_PUT:
		return event_same(&a->event_put, &b->event_put);
	default:
		return show_same(&a->show_put, &b->show_put);
	}
}

/* RULES.md steps 2 and 3 of the puts, once the references were checked. */
static enum status entity_put(struct model *model, const struct command *command)
{
	const struct command *found = entity_find(model, command->type, entity_id(command));
	if (found != NULL)
		return entity_same(found, command) ? STATUS_OK : STATUS_ALREADY_EXISTS;
	size_t size = command_encoded_size(command);
	struct model_entity *entity = APPEND(model->entities, model->entities_count,
					      model->entities_capacity);
	entity->bytes = alloc_zeroed(size, 1);
	entity->size = size;
	ASSERT(command_encode(command, entity->bytes, size) == size);
	ASSERT(command_decode(entity->bytes, size, &entity->command) == STATUS_OK);
	model->changed = true;
	return STATUS_OK;
}

/* A new show gets every seat free, with each seat's tier and row from the layout. */
static void show_create(struct model *model, const struct command_show_put *put,
			const struct layout *layout)
{
	struct model_show *show = APPEND(model->shows, model->shows_count,
					  model->shows_capacity);
	show->put = *put;
	show->seats_count = layout->seats_count;
	show->seat_states = alloc_zeroed(show->seats_count, 1);
	show->seat_tiers = alloc_zeroed(show->seats_count, 1);
	show->seat_rows = alloc_zeroed(show->seats_count, sizeof(uint32_t));
	show->seat_owners = alloc_zeroed(show->seats_count, sizeof(uint32_t));
	struct layout_reader reader;
	struct layout_row row;
	uint32_t seat = 0;
	layout_reader_init(&reader, layout);
	while (layout_reader_next(&reader, &row)) {
		for (uint8_t r = 0; r < row.runs_count; r++) {
			for (uint16_t i = 0; i < row.run_seats_counts[r]; i++) {
				show->seat_tiers[seat] = row.run_tiers[r];
				show->seat_rows[seat] = row.row_index;
				show->tier_seats_count[row.run_tiers[r]]++;
				seat++;
			}
		}
	}
	ASSERT(seat == show->seats_count);
}

static enum status catalog_put(struct model *model, const struct command *command)
{
	uint32_t location_id = 0;
	if (command->type == COMMAND_VENUE_PUT)
		location_id = command->venue_put.location_id;
	if (command->type == COMMAND_EVENT_PUT)
		location_id = command->event_put.location_id;
	if (location_id != 0 && entity_find(model, COMMAND_LOCATION_PUT, location_id) == NULL)
		return STATUS_NOT_FOUND;
	if (command->type != COMMAND_SHOW_PUT)
		return entity_put(model, command);
	const struct command_show_put *c = &command->show_put;
	const struct command *event = entity_find(model, COMMAND_EVENT_PUT, c->event_id);
	const struct command *venue = entity_find(model, COMMAND_VENUE_PUT, c->venue_id);
	if (event == NULL || venue == NULL)
		return STATUS_NOT_FOUND;
	if (venue->venue_put.location_id != event->event_put.location_id)
		return STATUS_BAD_REQUEST;
	struct command normalized = *command;
	if (normalized.show_put.user_seats_max == 0)
		normalized.show_put.user_seats_max = USER_SEATS_COUNT_MAX_DEFAULT;
	if (normalized.show_put.hold_ttl_ms == 0)
		normalized.show_put.hold_ttl_ms = model->config.hold_ttl_ms_default;
	bool exists = show_find(model, c->show_id) != NULL;
	/* The layout's bytes stay put when entity_put() moves the entity array. */
	struct layout layout = venue->venue_put.layout;
	enum status status = entity_put(model, &normalized);
	if (status == STATUS_OK && !exists)
		show_create(model, &normalized.show_put, &layout);
	return status;
}

/* Seat commands. */

static void result_seats(struct engine_result *result, const uint32_t *seats, uint32_t count)
{
	ASSERT(count <= HOLD_SEATS_COUNT_MAX);
	result->seats_count = (uint8_t)count;
	memcpy(result->seats, seats, count * sizeof(*seats));
}

static enum status seats_block(struct model *model, const struct command_seats_block *c,
			       struct engine_result *result)
{
	struct model_show *show = show_find(model, c->show_id);
	if (show == NULL)
		return STATUS_NOT_FOUND;
	if ((uint64_t)c->seat_first + c->seats_count > show->seats_count)
		return STATUS_BAD_REQUEST;
	uint8_t wanted = c->blocked ? MODEL_SEAT_FREE : MODEL_SEAT_BLOCKED;
	uint32_t last = c->seat_first + c->seats_count;
	for (uint32_t s = c->seat_first; s < last; s++) {
		if (show->seat_states[s] != wanted && result->seats_count < HOLD_SEATS_COUNT_MAX)
			result->seats[result->seats_count++] = s;
	}
	if (result->seats_count > 0)
		return STATUS_SEAT_UNAVAILABLE;
	bool received[TIER_COUNT] = { false };
	for (uint32_t s = c->seat_first; s < last; s++) {
		if (c->blocked)
			show->seat_states[s] = MODEL_SEAT_BLOCKED;
		else
			seat_return(model, show, s, received);
	}
	model->changed = true;
	tiers_serve(model, show, received);
	return STATUS_OK;
}

static bool on_sale(const struct model *model, const struct model_show *show)
{
	return show->put.sale_opens_ms <= model->clock_ms &&
	       model->clock_ms < show->put.sale_closes_ms;
}

/* HOLD step 2: explicit seats in range and distinct; a best tier present in the venue. */
static bool hold_request_valid(const struct model_show *show, const struct command_hold *c)
{
	if (c->best)
		return show->tier_seats_count[c->tier] > 0;
	for (uint8_t i = 0; i < c->seats_count; i++) {
		if (c->seats[i] >= show->seats_count)
			return false;
		for (uint8_t j = 0; j < i; j++) {
			if (c->seats[j] == c->seats[i])
				return false;
		}
	}
	return true;
}

static enum status hold(struct model *model, const struct command_hold *c,
			struct engine_result *result)
{
	struct model_show *show = show_find(model, c->show_id);
	if (show == NULL)
		return STATUS_NOT_FOUND;
	if (!hold_request_valid(show, c))
		return STATUS_BAD_REQUEST;
	if (!on_sale(model, show))
		return STATUS_NOT_ON_SALE;
	if (user_total(model, show, c->user_id) + c->seats_count > show->put.user_seats_max)
		return STATUS_LIMIT_EXCEEDED;
	for (uint8_t i = 0; i < (c->best ? 1 : c->seats_count); i++) {
		uint8_t tier = c->best ? c->tier : show->seat_tiers[c->seats[i]];
		if (line_length(model, c->show_id, tier) > 0)
			return STATUS_WAITLIST_ACTIVE;
	}
	uint32_t seats[HOLD_SEATS_COUNT_MAX];
	if (c->best) {
		if (!seats_select(show, c->tier, MODEL_SEAT_FREE, c->seats_count, c->together,
				  seats))
			return STATUS_SEAT_UNAVAILABLE;
	} else {
		for (uint8_t i = 0; i < c->seats_count; i++) {
			if (show->seat_states[c->seats[i]] != MODEL_SEAT_FREE)
				result->seats[result->seats_count++] = c->seats[i];
		}
		if (result->seats_count > 0)
			return STATUS_SEAT_UNAVAILABLE;
		memcpy(seats, c->seats, sizeof(seats));
	}
	uint32_t ttl_ms = c->ttl_ms != 0 && c->ttl_ms < show->put.hold_ttl_ms ? c->ttl_ms
									      : show->put.hold_ttl_ms;
	const struct model_hold *made = hold_make(model, show, c->user_id, seats,
						  c->seats_count, model->clock_ms + ttl_ms);
	result->hold_id = made->hold_id;
	result->deadline_ms = made->deadline_ms;
	result_seats(result, made->seats, made->seats_count);
	return STATUS_OK;
}

static enum status confirm(struct model *model, const struct command_confirm *c,
			   struct engine_result *result)
{
	struct model_hold *hold = hold_lookup(model, c->hold_id);
	if (hold == NULL)
		return STATUS_NOT_FOUND;
	switch (hold->state) {
	case MODEL_HOLD_ACTIVE: {
		if (hold->user_id != c->user_id)
			return STATUS_NOT_OWNER;
		struct model_show *show = show_find(model, hold_id_show(c->hold_id));
		bool tiers[TIER_COUNT] = { false };
		for (uint32_t i = 0; i < hold->seats_count; i++) {
			show->seat_states[hold->seats[i]] = MODEL_SEAT_BOOKED;
			tiers[show->seat_tiers[hold->seats[i]]] = true;
		}
		hold_end(model, hold, MODEL_HOLD_CONFIRMED);
		hold->payment_ref_size = (uint8_t)c->payment_ref.size;
		memcpy(hold->payment_ref, c->payment_ref.bytes, c->payment_ref.size);
		model->changed = true;
		/* Fewer seats are held: a line whose seats cannot come back is sold out. */
		tiers_serve(model, show, tiers);
		hold = hold_lookup(model, c->hold_id); /* serving can move the hold array */
		break;
	}
	case MODEL_HOLD_CONFIRMED:
		if (hold->user_id != c->user_id)
			return STATUS_NOT_OWNER;
		if (!text_equal(text_from(hold->payment_ref, hold->payment_ref_size),
				c->payment_ref))
			return STATUS_ALREADY_CONFIRMED;
		break;
	case MODEL_HOLD_EXPIRED:
		return STATUS_HOLD_EXPIRED;
	default:
		return STATUS_NOT_FOUND;
	}
	result->hold_id = hold->hold_id;
	result->booking_cancelled = hold->booking_cancelled;
	result_seats(result, hold->seats, hold->seats_count);
	return STATUS_OK;
}

static enum status release(struct model *model, const struct command_release *c,
			   struct engine_result *result)
{
	struct model_hold *hold = hold_lookup(model, c->hold_id);
	if (hold == NULL)
		return STATUS_NOT_FOUND;
	switch (hold->state) {
	case MODEL_HOLD_ACTIVE:
		if (hold->user_id != c->user_id)
			return STATUS_NOT_OWNER;
		break;
	case MODEL_HOLD_CONFIRMED:
		return STATUS_ALREADY_CONFIRMED;
	case MODEL_HOLD_EXPIRED:
		return STATUS_HOLD_EXPIRED;
	default:
		return STATUS_NOT_FOUND;
	}
	result->hold_id = hold->hold_id;
	result_seats(result, hold->seats, hold->seats_count);
	hold_end(model, hold, MODEL_HOLD_RELEASED);
	hold_seats_return(model, show_find(model, hold_id_show(c->hold_id)), hold);
	return STATUS_OK;
}

static enum status booking_cancel(struct model *model, const struct command_booking_cancel *c,
				  struct engine_result *result)
{
	struct model_hold *booking = hold_lookup(model, c->booking_id);
	if (booking == NULL || booking->state != MODEL_HOLD_CONFIRMED)
		return STATUS_NOT_FOUND;
	result->hold_id = booking->hold_id;
	result->booking_cancelled = true;
	result_seats(result, booking->seats, booking->seats_count);
	if (booking->booking_cancelled)
		return STATUS_OK;
	booking->booking_cancelled = true;
	hold_seats_return(model, show_find(model, hold_id_show(c->booking_id)), booking);
	return STATUS_OK;
}

/* Waiting-list commands. */

static enum status waitlist_join(struct model *model, const struct command_waitlist_join *c,
				 struct engine_result *result)
{
	struct model_show *show = show_find(model, c->show_id);
	if (show == NULL)
		return STATUS_NOT_FOUND;
	if (show->tier_seats_count[c->tier] == 0)
		return STATUS_BAD_REQUEST;
	if (!on_sale(model, show))
		return STATUS_NOT_ON_SALE;
	struct model_entry *old = entry_find(model, c->show_id, c->user_id);
	if (old != NULL && old->state == WAITER_WAITING)
		return STATUS_ALREADY_EXISTS;
	if (user_total(model, show, c->user_id) + c->seats_count > show->put.user_seats_max)
		return STATUS_LIMIT_EXCEEDED;
	uint32_t seats[HOLD_SEATS_COUNT_MAX];
	bool line_empty = line_length(model, c->show_id, c->tier) == 0;
	if (line_empty &&
	    seats_select(show, c->tier, MODEL_SEAT_FREE, c->seats_count, c->together, seats))
		return STATUS_SEATS_AVAILABLE;
	if (held_count(show, c->tier) == 0)
		return STATUS_SOLD_OUT;
	if (old != NULL)
		entry_remove(model, old);
	for (uint32_t s = 0; line_empty && s < show->seats_count; s++) {
		if (show->seat_tiers[s] == c->tier && show->seat_states[s] == MODEL_SEAT_FREE)
			show->seat_states[s] = MODEL_SEAT_POOLED;
	}
	struct model_entry *entry = APPEND(model->entries, model->entries_count,
					    model->entries_capacity);
	uint64_t sequence = ++model->join_sequence_last;
	*entry = (struct model_entry){
		.show_id = c->show_id,
		.user_id = c->user_id,
		.sequence = sequence,
		.tier = c->tier,
		.seats_count = c->seats_count,
		.together = c->together,
		.state = WAITER_WAITING,
		.timer_due_ms = model->clock_ms + model->config.waitlist_idle_ms,
	};
	model->changed = true;
	tier_serve(model, show, c->tier);
	entry = entry_find(model, c->show_id, c->user_id);
	ASSERT(entry != NULL && entry->sequence == sequence);
	result->waiter_state = entry->state;
	result->tier = c->tier;
	result->waiters_count = line_length(model, c->show_id, c->tier);
	result->waiter_seq = entry->sequence;
	return STATUS_OK;
}

static enum status waitlist_leave(struct model *model, const struct command_waitlist_user *c)
{
	struct model_entry *entry = entry_find(model, c->show_id, c->user_id);
	if (show_find(model, c->show_id) == NULL || entry == NULL)
		return STATUS_NOT_FOUND;
	bool waiting = entry->state == WAITER_WAITING;
	uint8_t tier = entry->tier;
	entry_remove(model, entry);
	model->changed = true;
	if (waiting)
		tier_serve(model, show_find(model, c->show_id), tier);
	return STATUS_OK;
}

/* A waiting entry's poll moves its timer; a terminal entry's poll delivers and removes it. */
static enum status waitlist_poll(struct model *model, const struct command_waitlist_user *c,
				 struct engine_result *result)
{
	struct model_entry *entry = entry_find(model, c->show_id, c->user_id);
	if (show_find(model, c->show_id) == NULL || entry == NULL)
		return STATUS_NOT_FOUND;
	result->waiter_state = entry->state;
	result->tier = entry->tier;
	result->waiters_count = line_length(model, c->show_id, entry->tier);
	result->waiter_seq = entry->sequence;
	/* Even a poll at the clock of the last one: RULES.md says a poll always changes. */
	model->changed = true;
	if (entry->state == WAITER_WAITING) {
		entry->timer_due_ms = model->clock_ms + model->config.waitlist_idle_ms;
		return STATUS_OK;
	}
	if (entry->state == WAITER_OFFERED) {
		result->hold_id = entry->offer_hold_id;
		result->deadline_ms = entry->offer_deadline_ms;
		result_seats(result, entry->offer_seats, entry->offer_seats_count);
	}
	entry_remove(model, entry);
	return STATUS_OK;
}

/* Settings: shows put later and entry timers set later use them; nothing else moves. */
static enum status configure(struct model *model, const struct command_configure *c)
{
	if (model->config.hold_ttl_ms_default != c->hold_ttl_ms_default ||
	    model->config.waitlist_idle_ms != c->waitlist_idle_ms)
		model->changed = true;
	model->config.hold_ttl_ms_default = c->hold_ttl_ms_default;
	model->config.waitlist_idle_ms = c->waitlist_idle_ms;
	return STATUS_OK;
}

/* The model. */

struct model *model_create(const struct engine_config *config)
{
	ASSERT(config->shard_count == 1 && config->shard_index == 0);
	ASSERT(config->hold_ttl_ms_default >= 1 && config->waitlist_idle_ms >= 1);
	struct model *model = alloc_zeroed(1, sizeof(*model));
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

static enum status command_run(struct model *model, const struct command *command,
			       struct engine_result *result)
{
	switch (command->type) {
	case COMMAND_LOCATION_PUT:
	case COMMAND_VENUE_PUT:
	case COMMAND_EVENT_PUT:
	case COMMAND_SHOW_PUT:
		return catalog_put(model, command);
	case COMMAND_SEATS_BLOCK:
		return seats_block(model, &command->seats_block, result);
	case COMMAND_HOLD:
		return hold(model, &command->hold, result);
	case COMMAND_CONFIRM:
		return confirm(model, &command->confirm, result);
	case COMMAND_RELEASE:
		return release(model, &command->release, result);
	case COMMAND_BOOKING_CANCEL:
		return booking_cancel(model, &command->booking_cancel, result);
	case COMMAND_WAITLIST_JOIN:
		return waitlist_join(model, &command->waitlist_join, result);
	case COMMAND_WAITLIST_LEAVE:
		return waitlist_leave(model, &command->waitlist_leave);
	case COMMAND_WAITLIST_POLL:
		return waitlist_poll(model, &command->waitlist_poll, result);
	case COMMAND_TICK:
		return STATUS_OK;
	case COMMAND_CONFIGURE:
		return configure(model, &command->configure);
	}
	return STATUS_BAD_REQUEST;
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
		status = command_run(model, command, &command_result);
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
	return entity_find(model, type, id) != NULL;
}

bool model_show_get(const struct model *model, uint32_t show_id, struct engine_show *out)
{
	const struct model_show *show = show_find(model, show_id);
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
		.hold_ttl_ms = p->hold_ttl_ms,
		.owned = true,
	};
	memcpy(out->prices_minor, p->prices_minor, sizeof(out->prices_minor));
	memcpy(out->currency, p->currency, CURRENCY_SIZE);
	for (uint8_t t = 0; t < TIER_COUNT; t++) {
		struct engine_tier_counts *counts = &out->tiers[t];
		counts->seats = show->tier_seats_count[t];
		counts->available = seats_count_in(show, t, MODEL_SEAT_FREE);
		counts->pooled = seats_count_in(show, t, MODEL_SEAT_POOLED);
		counts->held = held_count(show, t) + counts->pooled;
		counts->booked = seats_count_in(show, t, MODEL_SEAT_BOOKED);
		counts->blocked = seats_count_in(show, t, MODEL_SEAT_BLOCKED);
		counts->waiters = line_length(model, show_id, t);
	}
	return true;
}

uint32_t model_show_seat_states(const struct model *model, uint32_t show_id, uint8_t *states,
				uint32_t capacity)
{
	const struct model_show *show = show_find(model, show_id);
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
