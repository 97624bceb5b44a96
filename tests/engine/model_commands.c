/*
 * model_commands.c — the reference model's commands: each one's rules, step by step
 * as engine/RULES.md gives them, over the state and helpers of model.c.
 */
#include "model_internal.h"

#include <stdlib.h>

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

/* Lifetimes compare as resolved with the default now (0 is "the default"). */
static bool show_same(const struct command_show_put *a, const struct command_show_put *b,
		      uint32_t hold_ttl_ms_default)
{
	uint32_t a_ttl_ms = a->hold_ttl_ms != 0 ? a->hold_ttl_ms : hold_ttl_ms_default;
	uint32_t b_ttl_ms = b->hold_ttl_ms != 0 ? b->hold_ttl_ms : hold_ttl_ms_default;
	return a->event_id == b->event_id && a->venue_id == b->venue_id &&
	       a->start_ms == b->start_ms && a->end_ms == b->end_ms &&
	       memcmp(a->prices_minor, b->prices_minor, sizeof(a->prices_minor)) == 0 &&
	       memcmp(a->currency, b->currency, CURRENCY_SIZE) == 0 &&
	       a->user_seats_max == b->user_seats_max && a->sale_opens_ms == b->sale_opens_ms &&
	       a->sale_closes_ms == b->sale_closes_ms && a_ttl_ms == b_ttl_ms;
}

/* Identical content: every field of the put (a show's after its defaults). */
static bool entity_same(const struct command *a, const struct command *b,
			uint32_t hold_ttl_ms_default)
{
	switch (a->type) {
	case COMMAND_LOCATION_PUT:
		return location_same(&a->location_put, &b->location_put);
	case COMMAND_VENUE_PUT:
		return venue_same(&a->venue_put, &b->venue_put);
	case COMMAND_EVENT_PUT:
		return event_same(&a->event_put, &b->event_put);
	default:
		return show_same(&a->show_put, &b->show_put, hold_ttl_ms_default);
	}
}

/* RULES.md steps 2 and 3 of the puts, once the references were checked. */
static enum status entity_put(struct model *model, const struct command *command)
{
	const struct command *found = model_entity_find(model, command->type, model_entity_id(command));
	if (found != NULL)
		return entity_same(found, command, model->config.hold_ttl_ms_default)
			       ? STATUS_OK
			       : STATUS_ALREADY_EXISTS;
	size_t size = command_encoded_size(command);
	struct model_entity *entity = APPEND(model->entities, model->entities_count,
					      model->entities_capacity);
	entity->bytes = model_alloc_zeroed(size, 1);
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
	show->seat_states = model_alloc_zeroed(show->seats_count, 1);
	show->seat_tiers = model_alloc_zeroed(show->seats_count, 1);
	show->seat_rows = model_alloc_zeroed(show->seats_count, sizeof(uint32_t));
	show->seat_owners = model_alloc_zeroed(show->seats_count, sizeof(uint32_t));
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
	if (location_id != 0 && model_entity_find(model, COMMAND_LOCATION_PUT, location_id) == NULL)
		return STATUS_NOT_FOUND;
	if (command->type != COMMAND_SHOW_PUT)
		return entity_put(model, command);
	const struct command_show_put *c = &command->show_put;
	const struct command *event = model_entity_find(model, COMMAND_EVENT_PUT, c->event_id);
	const struct command *venue = model_entity_find(model, COMMAND_VENUE_PUT, c->venue_id);
	if (event == NULL || venue == NULL)
		return STATUS_NOT_FOUND;
	if (venue->venue_put.location_id != event->event_put.location_id)
		return STATUS_BAD_REQUEST;
	struct command normalized = *command;
	if (normalized.show_put.user_seats_max == 0)
		normalized.show_put.user_seats_max = USER_SEATS_COUNT_MAX_DEFAULT;
	bool exists = model_show_find(model, c->show_id) != NULL;
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
	struct model_show *show = model_show_find(model, c->show_id);
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
			model_seat_return(model, show, s, received);
	}
	model->changed = true;
	model_tiers_serve(model, show, received);
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
	struct model_show *show = model_show_find(model, c->show_id);
	if (show == NULL)
		return STATUS_NOT_FOUND;
	if (!hold_request_valid(show, c))
		return STATUS_BAD_REQUEST;
	if (!on_sale(model, show))
		return STATUS_NOT_ON_SALE;
	if (model_user_total(model, show, c->user_id) + c->seats_count > show->put.user_seats_max)
		return STATUS_LIMIT_EXCEEDED;
	for (uint8_t i = 0; i < (c->best ? 1 : c->seats_count); i++) {
		uint8_t tier = c->best ? c->tier : show->seat_tiers[c->seats[i]];
		if (model_line_length(model, c->show_id, tier) > 0)
			return STATUS_WAITLIST_ACTIVE;
	}
	uint32_t seats[HOLD_SEATS_COUNT_MAX];
	if (c->best) {
		if (!model_seats_select(show, c->tier, MODEL_SEAT_FREE, c->seats_count, c->together,
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
	uint32_t show_ttl_ms = model_show_hold_ttl_ms(model, show);
	uint32_t ttl_ms = c->ttl_ms != 0 && c->ttl_ms < show_ttl_ms ? c->ttl_ms : show_ttl_ms;
	const struct model_hold *made = model_hold_make(model, show, c->user_id, seats,
							c->seats_count, model->clock_ms + ttl_ms);
	result->hold_id = made->hold_id;
	result->deadline_ms = made->deadline_ms;
	result_seats(result, made->seats, made->seats_count);
	return STATUS_OK;
}

static enum status confirm(struct model *model, const struct command_confirm *c,
			   struct engine_result *result)
{
	struct model_hold *hold = model_hold_lookup(model, c->hold_id);
	if (hold == NULL)
		return STATUS_NOT_FOUND;
	switch (hold->state) {
	case MODEL_HOLD_ACTIVE: {
		if (hold->user_id != c->user_id)
			return STATUS_NOT_OWNER;
		struct model_show *show = model_show_find(model, hold_id_show(c->hold_id));
		bool tiers[TIER_COUNT] = { false };
		for (uint32_t i = 0; i < hold->seats_count; i++) {
			show->seat_states[hold->seats[i]] = MODEL_SEAT_BOOKED;
			tiers[show->seat_tiers[hold->seats[i]]] = true;
		}
		model_hold_end(model, hold, MODEL_HOLD_CONFIRMED);
		hold->payment_ref_size = (uint8_t)c->payment_ref.size;
		memcpy(hold->payment_ref, c->payment_ref.bytes, c->payment_ref.size);
		model->changed = true;
		/* Fewer seats are held: a line whose seats cannot come back is sold out. */
		model_tiers_serve(model, show, tiers);
		hold = model_hold_lookup(model, c->hold_id); /* serving can move the hold array */
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
	struct model_hold *hold = model_hold_lookup(model, c->hold_id);
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
	model_hold_end(model, hold, MODEL_HOLD_RELEASED);
	model_hold_seats_return(model, model_show_find(model, hold_id_show(c->hold_id)), hold);
	return STATUS_OK;
}

static enum status booking_cancel(struct model *model, const struct command_booking_cancel *c,
				  struct engine_result *result)
{
	struct model_hold *booking = model_hold_lookup(model, c->booking_id);
	if (booking == NULL || booking->state != MODEL_HOLD_CONFIRMED)
		return STATUS_NOT_FOUND;
	result->hold_id = booking->hold_id;
	result->booking_cancelled = true;
	result_seats(result, booking->seats, booking->seats_count);
	if (booking->booking_cancelled)
		return STATUS_OK;
	booking->booking_cancelled = true;
	model_hold_seats_return(model, model_show_find(model, hold_id_show(c->booking_id)), booking);
	return STATUS_OK;
}

/* Waiting-list commands. */

static enum status waitlist_join(struct model *model, const struct command_waitlist_join *c,
				 struct engine_result *result)
{
	struct model_show *show = model_show_find(model, c->show_id);
	if (show == NULL)
		return STATUS_NOT_FOUND;
	if (show->tier_seats_count[c->tier] == 0)
		return STATUS_BAD_REQUEST;
	if (!on_sale(model, show))
		return STATUS_NOT_ON_SALE;
	struct model_entry *old = model_entry_find(model, c->show_id, c->user_id);
	if (old != NULL && old->state == WAITER_WAITING)
		return STATUS_ALREADY_EXISTS;
	if (model_user_total(model, show, c->user_id) + c->seats_count > show->put.user_seats_max)
		return STATUS_LIMIT_EXCEEDED;
	bool line_empty = model_line_length(model, c->show_id, c->tier) == 0;
	if (line_empty && model_free_count(show, c->tier) >= c->seats_count)
		return STATUS_SEATS_AVAILABLE;
	if (model_held_count(show, c->tier) == 0)
		return STATUS_SOLD_OUT;
	if (old != NULL)
		model_entry_remove(model, old);
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
	model_tier_serve(model, show, c->tier);
	entry = model_entry_find(model, c->show_id, c->user_id);
	ASSERT(entry != NULL && entry->sequence == sequence);
	result->waiter_state = entry->state;
	result->tier = c->tier;
	result->waiters_count = model_line_length(model, c->show_id, c->tier);
	result->waiter_seq = entry->sequence;
	return STATUS_OK;
}

static enum status waitlist_leave(struct model *model, const struct command_waitlist_user *c)
{
	struct model_entry *entry = model_entry_find(model, c->show_id, c->user_id);
	if (model_show_find(model, c->show_id) == NULL || entry == NULL)
		return STATUS_NOT_FOUND;
	bool waiting = entry->state == WAITER_WAITING;
	uint8_t tier = entry->tier;
	model_entry_remove(model, entry);
	model->changed = true;
	if (waiting)
		model_tier_serve(model, model_show_find(model, c->show_id), tier);
	return STATUS_OK;
}

/* A waiting entry's poll moves its timer; a terminal entry's poll delivers and removes it. */
static enum status waitlist_poll(struct model *model, const struct command_waitlist_user *c,
				 struct engine_result *result)
{
	struct model_entry *entry = model_entry_find(model, c->show_id, c->user_id);
	if (model_show_find(model, c->show_id) == NULL || entry == NULL)
		return STATUS_NOT_FOUND;
	result->waiter_state = entry->state;
	result->tier = entry->tier;
	result->waiters_count = model_line_length(model, c->show_id, entry->tier);
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
	model_entry_remove(model, entry);
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

enum status model_command_run(struct model *model, const struct command *command,
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
