/*
 * model_gen.c — the model test's random world (see model_gen.h).
 */
#include "model_gen.h"

#include <stdio.h>
#include <string.h>

static uint64_t rng_next(struct rng *rng)
{
	uint64_t z = (rng->state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rng_below(struct rng *rng, uint32_t bound)
{
	ASSERT(bound > 0);
	return (uint32_t)(rng_next(rng) % bound);
}

uint32_t rng_range(struct rng *rng, uint32_t low, uint32_t high)
{
	ASSERT(low <= high);
	return low + rng_below(rng, high - low + 1);
}

/* A duration in [low, high] (roughly) that is a multiple of grain_ms, at least one grain. */
uint32_t rng_duration(struct rng *rng, uint32_t low, uint32_t high, uint32_t grain_ms)
{
	uint32_t ms = rng_range(rng, low, high) / grain_ms * grain_ms;
	return ms > 0 ? ms : grain_ms;
}

bool rng_chance(struct rng *rng, uint32_t percent)
{
	return rng_below(rng, 100) < percent;
}

static const char *const payment_refs[] = { "pay-a", "pay-b" };
static const char long_text[] =
	"0123456789012345678901234567890123456789012345678901234567890123456789";

/* Catalog. */

/* A few long rows of many runs, so that runs cross the engine's 64-seat bitmap words. */
static void layout_build_long(struct world *w, struct layout_builder *builder,
			      uint8_t tiers_mask)
{
	layout_builder_section(builder, "Floor");
	uint32_t rows = rng_range(&w->rng, 1, 3);
	for (uint32_t r = 0; r < rows; r++) {
		uint8_t tiers[LAYOUT_ROW_RUNS_COUNT_MAX];
		uint16_t counts[LAYOUT_ROW_RUNS_COUNT_MAX];
		uint8_t runs = (uint8_t)rng_range(&w->rng, 1, LAYOUT_ROW_RUNS_COUNT_MAX);
		for (uint8_t i = 0; i < runs; i++) {
			do
				tiers[i] = (uint8_t)rng_below(&w->rng, TIER_COUNT);
			while (!(tiers_mask & (1u << tiers[i])));
			counts[i] = (uint16_t)rng_range(&w->rng, 1, 90);
		}
		char name[16];
		snprintf(name, sizeof(name), "L%u", r + 1);
		layout_builder_row_runs(builder, name, 1, runs, tiers, counts);
	}
}

static void layout_build(struct world *w, struct layout_builder *builder, bool big)
{
	uint8_t tiers_mask = (uint8_t)rng_range(&w->rng, 1, 7);
	uint32_t sections = big ? rng_range(&w->rng, 1, 4) : rng_range(&w->rng, 1, 2);
	layout_builder_init(builder);
	if (big && rng_chance(&w->rng, 25)) {
		layout_build_long(w, builder, tiers_mask);
		return;
	}
	for (uint32_t s = 0; s < sections; s++) {
		char name[16];
		snprintf(name, sizeof(name), "S%u", s + 1);
		layout_builder_section(builder, name);
		uint32_t rows = rng_range(&w->rng, 1, big ? 3 : 2);
		for (uint32_t r = 0; r < rows; r++) {
			uint8_t tiers[3];
			uint16_t counts[3];
			uint8_t runs = rng_chance(&w->rng, 60) ? 1 : (uint8_t)rng_range(&w->rng, 2, 3);
			for (uint8_t i = 0; i < runs; i++) {
				do
					tiers[i] = (uint8_t)rng_below(&w->rng, TIER_COUNT);
				while (!(tiers_mask & (1u << tiers[i])));
				counts[i] = (uint16_t)rng_range(&w->rng, 1, runs == 1 ? 12 : 5);
			}
			snprintf(name, sizeof(name), "R%u", r + 1);
			layout_builder_row_runs(builder, name, 1, runs, tiers, counts);
		}
	}
}

static struct command *catalog_add(struct world *w, enum command_type type)
{
	ASSERT(w->catalog_count < CATALOG_COUNT_MAX);
	struct command *c = &w->catalog[w->catalog_count++];
	memset(c, 0, sizeof(*c));
	c->type = type;
	return c;
}

static void venue_add(struct world *w, uint32_t venue_id, uint32_t location_id, bool big)
{
	struct layout_builder *builder = &w->builders[w->venues_count];
	layout_build(w, builder, big);
	struct command *c = catalog_add(w, COMMAND_VENUE_PUT);
	c->venue_put.venue_id = venue_id;
	c->venue_put.location_id = location_id;
	c->venue_put.name = text_from_cstr(location_id == 1 ? "Hall" : "Far hall");
	c->venue_put.address = text_from_cstr("1 Main Street");
	c->venue_put.lat_e6 = 52000000 + (int32_t)venue_id;
	c->venue_put.lon_e6 = 4000000;
	ASSERT(layout_builder_layout(builder, &c->venue_put.layout) == STATUS_OK);
}

static void show_add(struct world *w, uint32_t show_id, uint32_t events_count)
{
	struct command_show_put *p = &catalog_add(w, COMMAND_SHOW_PUT)->show_put;
	p->show_id = show_id;
	p->event_id = rng_range(&w->rng, 1, events_count);
	p->venue_id = rng_range(&w->rng, 1, w->venues_count);
	p->start_ms = TIME_START_MS + 86400000LL * show_id;
	p->end_ms = p->start_ms + 7200000;
	p->prices_minor[TIER_ECONOMY] = 1500;
	p->prices_minor[TIER_REGULAR] = 4000;
	p->prices_minor[TIER_VIP] = 12000;
	memcpy(p->currency, "EUR", CURRENCY_SIZE);
	p->user_seats_max = rng_chance(&w->rng, 30) ? 0 : (uint8_t)rng_range(&w->rng, 2, 6);
	p->sale_opens_ms = rng_chance(&w->rng, 70) ? 0
						   : TIME_START_MS + rng_below(&w->rng, 5000);
	p->sale_closes_ms = rng_chance(&w->rng, 80)
				    ? FAR_FUTURE_MS
				    : TIME_START_MS + rng_range(&w->rng, 20000, 400000);
	/* Now and then holds outlive the waiting-list idle limit, so that waiters lapse. */
	uint32_t r = rng_below(&w->rng, 100);
	p->hold_ttl_ms = r < 40 ? 0 : r < 85 ? rng_duration(&w->rng, 50, 500, w->grain_ms)
					     : rng_duration(&w->rng, 1000, 5000, w->grain_ms);
	if (w->slow && p->hold_ttl_ms != 0)
		p->hold_ttl_ms = rng_duration(&w->rng, 10000, HOLD_TTL_MS_MAX, w->grain_ms);
}

void catalog_build(struct world *w)
{
	struct command *c = catalog_add(w, COMMAND_LOCATION_PUT);
	c->location_put.location_id = 1;
	c->location_put.name = text_from_cstr("Amsterdam");
	memcpy(c->location_put.country, "NL", COUNTRY_SIZE);
	uint32_t venues = rng_range(&w->rng, 1, VENUES_COUNT_MAX);
	for (uint32_t v = 1; v <= venues; v++) {
		venue_add(w, v, 1, rng_chance(&w->rng, 40));
		w->venues_count++;
	}
	if (rng_chance(&w->rng, 50)) {
		c = catalog_add(w, COMMAND_LOCATION_PUT);
		c->location_put.location_id = 2;
		c->location_put.name = text_from_cstr("Utrecht");
		memcpy(c->location_put.country, "NL", COUNTRY_SIZE);
		w->foreign_venue_id = 9;
		venue_add(w, w->foreign_venue_id, 2, false);
	}
	uint32_t events = rng_range(&w->rng, 1, 2);
	for (uint32_t e = 1; e <= events; e++) {
		struct command_event_put *p = &catalog_add(w, COMMAND_EVENT_PUT)->event_put;
		p->event_id = e;
		p->location_id = 1;
		p->title = text_from_cstr(e == 1 ? "Night Concert" : "Cup Final");
		p->type = e == 1 ? EVENT_TYPE_CONCERT : EVENT_TYPE_SPORT;
		p->language = text_from_cstr("en");
		p->duration_min = 120;
		p->tags_count = 1;
		p->tags[0] = text_from_cstr(e == 1 ? "music" : "football");
	}
	w->shows_count = rng_range(&w->rng, 1, SHOWS_COUNT_MAX);
	for (uint32_t s = 1; s <= w->shows_count; s++)
		show_add(w, s, events);
	/* Some shows are put later, so that commands meet a show that does not exist yet. */
	w->catalog_initial = w->catalog_count - rng_below(&w->rng, w->shows_count);
	w->catalog_applied = w->catalog_initial;
}

/* A put that must fail, or a re-put of something already applied (same or changed). */
static void catalog_command(struct world *w, struct command *c)
{
	uint32_t choice = rng_below(&w->rng, 10);
	if (w->catalog_applied < w->catalog_count && choice < 3) {
		*c = w->catalog[w->catalog_applied++];
		return;
	}
	*c = w->catalog[rng_below(&w->rng, w->catalog_applied)];
	if (choice < 5)
		return;
	switch (c->type) {
	case COMMAND_LOCATION_PUT:
		c->location_put.name = text_from_cstr("Elsewhere");
		break;
	case COMMAND_VENUE_PUT:
		if (choice < 7)
			c->venue_put.location_id = 7; /* no such location: NOT_FOUND first */
		else
			c->venue_put.name = text_from_cstr("Renamed hall");
		break;
	case COMMAND_EVENT_PUT:
		if (choice < 7)
			c->event_put.tags_count = 0;
		else
			c->event_put.location_id = 5;
		break;
	case COMMAND_SHOW_PUT: {
		struct command_show_put *p = &c->show_put;
		if (choice == 5 && w->foreign_venue_id != 0)
			p->venue_id = w->foreign_venue_id; /* another location: BAD_REQUEST */
		else if (choice == 6)
			p->event_id = 8; /* NOT_FOUND */
		else if (choice == 7 && p->user_seats_max == 0)
			p->user_seats_max = USER_SEATS_COUNT_MAX_DEFAULT; /* same after defaults */
		else if (choice == 7 && p->hold_ttl_ms == 0)
			p->hold_ttl_ms = w->configured.hold_ttl_ms_default; /* same, if unchanged */
		else
			p->prices_minor[TIER_VIP]++;
		break;
	}
	default:
		ASSERT(false);
	}
}

/* Random commands. */

static uint32_t pick_show(struct world *w)
{
	uint32_t r = rng_below(&w->rng, 100);
	if (r < 94)
		return rng_range(&w->rng, 1, w->shows_count);
	return r < 99 ? w->shows_count + rng_range(&w->rng, 1, 3) : 0;
}

static uint64_t pick_user(struct world *w)
{
	return rng_chance(&w->rng, 1) ? 0 : rng_range(&w->rng, 1, w->users_count);
}

static uint8_t pick_count(struct world *w)
{
	return (uint8_t)(rng_chance(&w->rng, 85) ? rng_range(&w->rng, 1, 3)
						 : rng_range(&w->rng, 1, HOLD_SEATS_COUNT_MAX));
}

static uint32_t show_seats(const struct world *w, uint32_t show_id)
{
	struct engine_show show;
	if (!model_show_get(w->model, show_id, &show))
		return 16;
	uint32_t seats = 0;
	for (int t = 0; t < TIER_COUNT; t++)
		seats += show.tiers[t].seats;
	return seats;
}

/* Mostly a tier the show's venue has; now and then one it may not have. */
static uint8_t pick_tier(struct world *w, uint32_t show_id)
{
	struct engine_show show;
	uint8_t tier = (uint8_t)rng_below(&w->rng, TIER_COUNT);
	if (!model_show_get(w->model, show_id, &show) || rng_chance(&w->rng, 5))
		return tier;
	while (show.tiers[tier].seats == 0)
		tier = (uint8_t)((tier + 1) % TIER_COUNT);
	return tier;
}

static bool seat_listed(const uint32_t *seats, uint32_t count, uint32_t seat)
{
	for (uint32_t i = 0; i < count; i++) {
		if (seats[i] == seat)
			return true;
	}
	return false;
}

static void hold_command(struct world *w, struct command *c, bool best)
{
	struct command_hold *h = &c->hold;
	c->type = COMMAND_HOLD;
	h->show_id = pick_show(w);
	h->user_id = pick_user(w);
	h->ttl_ms = rng_chance(&w->rng, 80) ? 0 : rng_duration(&w->rng, 1, 800, w->grain_ms);
	h->best = best;
	h->seats_count = pick_count(w);
	if (best) {
		h->tier = pick_tier(w, h->show_id);
		h->together = rng_chance(&w->rng, 50);
		return;
	}
	/* Mostly distinct seats near each other; rarely one out of range or repeated. */
	uint32_t seats = show_seats(w, h->show_id);
	if (h->seats_count > seats)
		h->seats_count = (uint8_t)seats;
	uint32_t base = rng_below(&w->rng, seats - h->seats_count + 1);
	bool adjacent = rng_chance(&w->rng, 60);
	for (uint8_t i = 0; i < h->seats_count; i++) {
		uint32_t r = rng_below(&w->rng, 1000);
		if (r < 6)
			h->seats[i] = seats + rng_below(&w->rng, 3); /* out of range */
		else if (r < 12 && i > 0)
			h->seats[i] = h->seats[rng_below(&w->rng, i)]; /* repeated */
		else if (adjacent)
			h->seats[i] = base + i;
		else
			do
				h->seats[i] = rng_below(&w->rng, seats);
			while (seat_listed(h->seats, i, h->seats[i]));
	}
}

static void known_hold_pick(struct world *w, const struct known_hold *ring, uint32_t count,
			    uint64_t *hold_id, uint64_t *user_id)
{
	uint32_t kept = count < KNOWN_HOLDS_COUNT ? count : KNOWN_HOLDS_COUNT;
	if (kept == 0 || rng_chance(&w->rng, 8)) {
		uint32_t n = rng_chance(&w->rng, 5) ? 0 : rng_range(&w->rng, 1, 400);
		*hold_id = ((uint64_t)pick_show(w) << 32) | n;
		*user_id = pick_user(w);
		return;
	}
	/* Recent holds are the interesting ones: still active, or just ended. */
	uint32_t r = rng_below(&w->rng, 100);
	uint32_t back = r < 40 ? 0
			: r < 80 ? rng_below(&w->rng, kept < 8 ? kept : 8)
				 : rng_below(&w->rng, kept);
	const struct known_hold *known = &ring[(count - 1 - back) % KNOWN_HOLDS_COUNT];
	*hold_id = known->hold_id;
	*user_id = rng_chance(&w->rng, 85) ? known->user_id : pick_user(w);
}

void known_hold_add(struct known_hold *ring, uint32_t *count, uint64_t hold_id,
		    uint64_t user_id)
{
	ring[(*count)++ % KNOWN_HOLDS_COUNT] = (struct known_hold){ hold_id, user_id };
}

/* A command that command_validate() refuses. */
static void bad_command(struct world *w, struct command *c)
{
	switch (rng_below(&w->rng, 7)) {
	case 0:
		hold_command(w, c, rng_chance(&w->rng, 50));
		c->hold.seats_count = rng_chance(&w->rng, 50) ? 0 : HOLD_SEATS_COUNT_MAX + 1;
		if (rng_chance(&w->rng, 30) && !c->hold.best) {
			c->hold.seats_count = 1;
			c->hold.seats[0] = LAYOUT_SEATS_COUNT_MAX;
		}
		return;
	case 1:
		hold_command(w, c, true);
		c->hold.tier = TIER_COUNT;
		return;
	case 2:
		c->type = COMMAND_CONFIRM;
		known_hold_pick(w, w->holds, w->holds_count, &c->confirm.hold_id,
				&c->confirm.user_id);
		c->confirm.user_id = 1;
		c->confirm.payment_ref = rng_chance(&w->rng, 50) ? text_from_cstr("")
								 : text_from_cstr(long_text);
		return;
	case 3:
		c->type = COMMAND_WAITLIST_JOIN;
		c->waitlist_join = (struct command_waitlist_join){ 1, 1, TIER_COUNT, 1, false };
		return;
	case 4:
		c->type = COMMAND_SEATS_BLOCK;
		c->seats_block = (struct command_seats_block){ 1, 0, 0, true };
		return;
	case 5:
		c->type = (enum command_type)(COMMAND_TYPE_MAX + 1); /* no such command */
		return;
	default:
		c->type = COMMAND_BOOKING_CANCEL;
		c->booking_cancel.booking_id = (uint64_t)rng_range(&w->rng, 1, 3) << 32;
		return;
	}
}

static void waitlist_command(struct world *w, struct command *c, uint32_t choice)
{
	if (choice == 0) {
		c->type = COMMAND_WAITLIST_JOIN;
		c->waitlist_join.show_id = pick_show(w);
		c->waitlist_join.user_id = pick_user(w);
		c->waitlist_join.tier = pick_tier(w, c->waitlist_join.show_id);
		c->waitlist_join.seats_count = pick_count(w);
		c->waitlist_join.together = rng_chance(&w->rng, 40);
		return;
	}
	uint32_t show_id = pick_show(w);
	uint16_t waiting = show_id <= SHOWS_COUNT_MAX ? w->waiting[show_id] : 0;
	if (waiting == 0 && rng_chance(&w->rng, 70)) {
		waitlist_command(w, c, 0); /* nobody to poll for: join instead */
		return;
	}
	c->type = choice == 1 ? COMMAND_WAITLIST_LEAVE : COMMAND_WAITLIST_POLL;
	c->waitlist_poll.show_id = show_id;
	c->waitlist_poll.user_id = pick_user(w);
	/* Mostly someone who is (or was) in the show's line. */
	if (waiting != 0 && rng_chance(&w->rng, 85)) {
		do
			c->waitlist_poll.user_id = rng_range(&w->rng, 1, w->users_count);
		while (!(waiting & (1u << c->waitlist_poll.user_id)));
	}
}

/*
 * New settings within the seed's ranges (now and then the same ones, or a value out
 * of range), so that later shows and later waiting-list timers pick them up.
 */
static void configure_command(struct world *w, struct command *c)
{
	struct command_configure *p = &c->configure;
	c->type = COMMAND_CONFIGURE;
	p->hold_ttl_ms_default = w->configured.hold_ttl_ms_default;
	p->waitlist_idle_ms = w->configured.waitlist_idle_ms;
	if (rng_chance(&w->rng, 40))
		p->hold_ttl_ms_default = w->slow ? rng_duration(&w->rng, 60000, HOLD_TTL_MS_MAX,
								w->grain_ms)
						 : rng_duration(&w->rng, 50, 500, w->grain_ms);
	if (rng_chance(&w->rng, 40))
		p->waitlist_idle_ms = w->slow ? rng_duration(&w->rng, 30000, 200000, w->grain_ms)
					      : rng_duration(&w->rng, 300, 3000, w->grain_ms);
	if (rng_chance(&w->rng, 5))
		p->waitlist_idle_ms = rng_chance(&w->rng, 50) ? 0 : WAITLIST_IDLE_MS_MAX + 1;
}

static void block_command(struct world *w, struct command *c)
{
	struct command_seats_block *b = &c->seats_block;
	c->type = COMMAND_SEATS_BLOCK;
	b->show_id = pick_show(w);
	b->blocked = rng_chance(&w->rng, 50);
	uint32_t slot = b->show_id <= SHOWS_COUNT_MAX ? b->show_id : 0;
	if (!b->blocked && w->blocks[slot].seats_count != 0 && rng_chance(&w->rng, 70)) {
		*b = w->blocks[slot]; /* undo an earlier block */
		b->blocked = false;
		return;
	}
	uint32_t seats = show_seats(w, b->show_id);
	b->seats_count = rng_range(&w->rng, 1, rng_chance(&w->rng, 5) ? 40 : 3);
	b->seat_first = rng_below(&w->rng, seats);
	if (rng_chance(&w->rng, 90) && b->seat_first + b->seats_count > seats)
		b->seats_count = seats - b->seat_first;
}

void random_command(struct world *w, struct command *c)
{
	memset(c, 0, sizeof(*c));
	uint32_t r = rng_below(&w->rng, 100);
	if (w->step_index < w->catalog_initial) {
		*c = w->catalog[w->step_index]; /* the initial catalog, in order */
	} else if (r < 16) {
		hold_command(w, c, false);
	} else if (r < 30) {
		hold_command(w, c, true);
	} else if (r < 46) {
		c->type = COMMAND_CONFIRM;
		known_hold_pick(w, w->holds, w->holds_count, &c->confirm.hold_id,
				&c->confirm.user_id);
		c->confirm.payment_ref = text_from_cstr(payment_refs[rng_chance(&w->rng, 25)]);
	} else if (r < 52) {
		c->type = COMMAND_RELEASE;
		known_hold_pick(w, w->holds, w->holds_count, &c->release.hold_id,
				&c->release.user_id);
	} else if (r < 58) {
		uint64_t user_id;
		c->type = COMMAND_BOOKING_CANCEL;
		known_hold_pick(w, w->bookings, w->bookings_count, &c->booking_cancel.booking_id,
				&user_id);
	} else if (r < 70) {
		waitlist_command(w, c, 0);
	} else if (r < 73) {
		waitlist_command(w, c, 1);
	} else if (r < 78) {
		waitlist_command(w, c, 2);
	} else if (r < 85) {
		block_command(w, c);
	} else if (r < 94) {
		c->type = COMMAND_TICK;
	} else if (r < 96) {
		if (rng_chance(&w->rng, 30))
			configure_command(w, c);
		else
			catalog_command(w, c);
	} else {
		bad_command(w, c);
	}
}

/* Mostly small steps (holds live 50 to 500 ms), now and then a long pause. */
int64_t random_now(struct world *w)
{
	uint32_t r = rng_below(&w->rng, 100);
	int64_t advance = r < 45 ? 0
			  : r < 90 ? rng_below(&w->rng, 10)
			  : r < 99 ? rng_below(&w->rng, 150)
				   : rng_below(&w->rng, 3000);
	if (rng_below(&w->rng, 1000) < (w->slow ? 40u : 2u))
		advance = rng_range(&w->rng, 10000, 200000);
	if (w->grain_ms > 1 && advance != 0)
		advance = rng_chance(&w->rng, 90) ? w->grain_ms * rng_below(&w->rng, 2)
						  : advance / w->grain_ms * w->grain_ms;
	w->now_ms += advance;
	/* An older time is taken as the current clock. */
	return rng_chance(&w->rng, 3) ? w->now_ms - rng_duration(&w->rng, 1, 1000, w->grain_ms)
				      : w->now_ms;
}
