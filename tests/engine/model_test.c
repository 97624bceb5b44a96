/*
 * model_test.c — drives the engine and the reference model (model.c) with the same
 * random commands and stops at the first difference.
 *
 * Each seed builds a small random catalog (a few venues of a few dozen seats, tiers
 * mixed along rows, one to three shows with short hold lifetimes and small per-user
 * limits) and then applies random commands from a handful of users while time moves
 * on in small random steps, so that contention, limits, expiry and the waiting list
 * happen all the time. After every step the results, the events, the per-tier
 * counts and the seat maps are compared and engine_check() runs (on a schedule, see
 * CHECK_ALL_STEPS). Every few steps a command's
 * encoding must round-trip, once per seed a prefix of the commands is replayed into
 * two fresh engines whose digests must agree with the original's, and every
 * SNAPSHOT_EVERY steps the engine is swapped for one rebuilt from its snapshot.
 *
 * Usage: model_test [--seed N] [--seeds K] [--steps N] [--check-every N] [--verbose]
 *                   [--stats]
 * A failure prints the seed and the step; `--seed S --steps N` replays it alone.
 * The random catalog and commands come from model_gen.c.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "model.h"
#include "model_gen.h"

#define SEATS_MAP_MAX 4096u
#define ROUND_TRIP_EVERY 7u
#define DIGEST_PREFIX_STEPS 300u
#define SNAPSHOT_EVERY 1000u
/*
 * engine_check() costs 60 to 100 us (it walks all 65,536 timer wheel slots), ten
 * times a whole step, so by default it runs after each of a seed's first
 * CHECK_ALL_STEPS steps and then after every CHECK_EVERY_LATER-th, which keeps the
 * default suite run near 5 s; --check-every 1 checks every step.
 */
#define CHECK_ALL_STEPS 500u
#define CHECK_EVERY_LATER 64u

/* Printing. The driver names events and waiter states itself, to depend on the engine
 * only for what it tests. */

static const char *event_name(uint32_t type)
{
	static const char *const names[] = { "?", "hold_expired", "offered", "sold_out", "lapsed" };
	return type < ARRAY_COUNT(names) ? names[type] : "?";
}

static const char *waiter_name(uint32_t state)
{
	static const char *const names[] = { "none", "waiting", "offered", "sold_out", "lapsed" };
	return state < ARRAY_COUNT(names) ? names[state] : "?";
}

static void hold_describe(const struct command_hold *h, char *out, size_t size)
{
	int n = snprintf(out, size, "hold show=%u user=%" PRIu64 " ttl_ms=%u ", h->show_id,
			 h->user_id, h->ttl_ms);
	if (h->best) {
		snprintf(out + n, size - (size_t)n, "best tier=%u count=%u together=%d", h->tier,
			 h->seats_count, h->together);
		return;
	}
	n += snprintf(out + n, size - (size_t)n, "seats(%u)=", h->seats_count);
	for (uint8_t i = 0; i < h->seats_count && i < HOLD_SEATS_COUNT_MAX; i++)
		n += snprintf(out + n, size - (size_t)n, "%s%u", i ? "," : "", h->seats[i]);
}

static void command_describe(const struct command *c, char *out, size_t size)
{
	switch (c->type) {
	case COMMAND_LOCATION_PUT:
		snprintf(out, size, "location_put id=%u name=%.*s", c->location_put.location_id,
			 (int)c->location_put.name.size, c->location_put.name.bytes);
		return;
	case COMMAND_VENUE_PUT:
		snprintf(out, size, "venue_put id=%u location=%u name=%.*s seats=%u",
			 c->venue_put.venue_id, c->venue_put.location_id,
			 (int)c->venue_put.name.size, c->venue_put.name.bytes,
			 c->venue_put.layout.seats_count);
		return;
	case COMMAND_EVENT_PUT:
		snprintf(out, size, "event_put id=%u location=%u tags=%u", c->event_put.event_id,
			 c->event_put.location_id, c->event_put.tags_count);
		return;
	case COMMAND_SHOW_PUT: {
		const struct command_show_put *p = &c->show_put;
		snprintf(out, size,
			 "show_put id=%u event=%u venue=%u user_seats_max=%u hold_ttl_ms=%u "
			 "sale=[%" PRId64 ",%" PRId64 ") vip_price=%" PRId64,
			 p->show_id, p->event_id, p->venue_id, p->user_seats_max, p->hold_ttl_ms,
			 p->sale_opens_ms, p->sale_closes_ms, p->prices_minor[TIER_VIP]);
		return;
	}
	case COMMAND_SEATS_BLOCK:
		snprintf(out, size, "seats_block show=%u first=%u count=%u blocked=%d",
			 c->seats_block.show_id, c->seats_block.seat_first,
			 c->seats_block.seats_count, c->seats_block.blocked);
		return;
	case COMMAND_HOLD:
		hold_describe(&c->hold, out, size);
		return;
	case COMMAND_CONFIRM:
		snprintf(out, size, "confirm hold=%u:%u user=%" PRIu64 " ref=%.*s",
			 hold_id_show(c->confirm.hold_id), (uint32_t)c->confirm.hold_id,
			 c->confirm.user_id, (int)c->confirm.payment_ref.size,
			 c->confirm.payment_ref.bytes);
		return;
	case COMMAND_RELEASE:
		snprintf(out, size, "release hold=%u:%u user=%" PRIu64,
			 hold_id_show(c->release.hold_id), (uint32_t)c->release.hold_id,
			 c->release.user_id);
		return;
	case COMMAND_BOOKING_CANCEL:
		snprintf(out, size, "booking_cancel booking=%u:%u",
			 hold_id_show(c->booking_cancel.booking_id),
			 (uint32_t)c->booking_cancel.booking_id);
		return;
	case COMMAND_WAITLIST_JOIN:
		snprintf(out, size, "waitlist_join show=%u user=%" PRIu64 " tier=%u count=%u together=%d",
			 c->waitlist_join.show_id, c->waitlist_join.user_id, c->waitlist_join.tier,
			 c->waitlist_join.seats_count, c->waitlist_join.together);
		return;
	case COMMAND_WAITLIST_LEAVE:
	case COMMAND_WAITLIST_POLL:
		snprintf(out, size, "%s show=%u user=%" PRIu64, command_type_name(c->type),
			 c->waitlist_poll.show_id, c->waitlist_poll.user_id);
		return;
	case COMMAND_TICK:
		snprintf(out, size, "tick");
		return;
	case COMMAND_CONFIGURE:
		snprintf(out, size, "configure hold_ttl_ms_default=%u waitlist_idle_ms=%u",
			 c->configure.hold_ttl_ms_default, c->configure.waitlist_idle_ms);
		return;
	}
	snprintf(out, size, "unknown command %d", (int)c->type);
}

static void seats_describe(const uint32_t *seats, uint32_t count, char *out, size_t size)
{
	int n = snprintf(out, size, "[");
	for (uint32_t i = 0; i < count && i < HOLD_SEATS_COUNT_MAX; i++)
		n += snprintf(out + n, size - (size_t)n, "%s%u", i ? "," : "", seats[i]);
	snprintf(out + n, size - (size_t)n, "]");
}

static void result_print(const char *who, const struct engine_result *r)
{
	char seats[128];
	seats_describe(r->seats, r->seats_count, seats, sizeof(seats));
	fprintf(stderr,
		"  %-6s status=%s changed=%d hold=%u:%u deadline=%" PRId64 " seats=%s "
		"cancelled=%d waiter=%s tier=%u waiters=%u\n",
		who, status_name(r->status), r->changed, hold_id_show(r->hold_id),
		(uint32_t)r->hold_id, r->deadline_ms, seats, r->booking_cancelled,
		waiter_name(r->waiter_state), r->tier, r->waiters_count);
}

static void events_print(const char *who, const struct engine_event *events, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		const struct engine_event *e = &events[i];
		char seats[128];
		seats_describe(e->seats, e->seats_count, seats, sizeof(seats));
		fprintf(stderr,
			"  %-6s event %u: %s show=%u user=%" PRIu64 " hold=%u:%u deadline=%" PRId64
			" tier=%u seats=%s\n",
			who, i, event_name(e->type), e->show_id, e->user_id,
			hold_id_show(e->hold_id), (uint32_t)e->hold_id, e->deadline_ms, e->tier, seats);
	}
}

/* Comparing. */

struct diff {
	uint32_t count;
	char text[4096];
	size_t size;
};

__attribute__((format(printf, 2, 3))) static void diff_add(struct diff *d, const char *format, ...)
{
	va_list args;
	va_start(args, format);
	if (d->size < sizeof(d->text))
		d->size += (size_t)vsnprintf(d->text + d->size, sizeof(d->text) - d->size, format, args);
	va_end(args);
	d->count++;
}

static void diff_int(struct diff *d, const char *what, int64_t model, int64_t engine)
{
	if (model != engine)
		diff_add(d, "  %s: model %" PRId64 ", engine %" PRId64 "\n", what, model, engine);
}

static void diff_seats(struct diff *d, const char *what, const uint32_t *model,
		       uint32_t model_count, const uint32_t *engine, uint32_t engine_count)
{
	if (model_count == engine_count &&
	    memcmp(model, engine, model_count * sizeof(*model)) == 0)
		return;
	char a[128], b[128];
	seats_describe(model, model_count, a, sizeof(a));
	seats_describe(engine, engine_count, b, sizeof(b));
	diff_add(d, "  %s: model %s, engine %s\n", what, a, b);
}

/* RULES.md "Results": a field a rule does not name is zero, so every field counts. */
static void result_compare(struct diff *d, const struct engine_result *m,
			   const struct engine_result *e)
{
	if (m->status != e->status)
		diff_add(d, "  status: model %s, engine %s\n", status_name(m->status),
			 status_name(e->status));
	diff_int(d, "changed", m->changed, e->changed);
	diff_int(d, "hold_id", (int64_t)m->hold_id, (int64_t)e->hold_id);
	diff_int(d, "deadline_ms", m->deadline_ms, e->deadline_ms);
	diff_seats(d, "seats", m->seats, m->seats_count, e->seats, e->seats_count);
	diff_int(d, "booking_cancelled", m->booking_cancelled, e->booking_cancelled);
	diff_int(d, "waiter_state", m->waiter_state, e->waiter_state);
	diff_int(d, "tier", m->tier, e->tier);
	diff_int(d, "waiters_count", m->waiters_count, e->waiters_count);
	diff_int(d, "waiter_seq", (int64_t)m->waiter_seq, (int64_t)e->waiter_seq);
}

static void events_compare(struct diff *d, const struct engine_event *m, uint32_t m_count,
			   const struct engine_event *e, uint32_t e_count)
{
	diff_int(d, "events count", m_count, e_count);
	for (uint32_t i = 0; i < m_count && i < e_count && d->count == 0; i++) {
		diff_int(d, "event type", m[i].type, e[i].type);
		diff_int(d, "event show_id", m[i].show_id, e[i].show_id);
		diff_int(d, "event user_id", (int64_t)m[i].user_id, (int64_t)e[i].user_id);
		if (m[i].type == ENGINE_EVENT_HOLD_EXPIRED || m[i].type == ENGINE_EVENT_OFFERED) {
			diff_int(d, "event hold_id", (int64_t)m[i].hold_id, (int64_t)e[i].hold_id);
			diff_seats(d, "event seats", m[i].seats, m[i].seats_count, e[i].seats,
				   e[i].seats_count);
		}
		if (m[i].type == ENGINE_EVENT_OFFERED)
			diff_int(d, "event deadline_ms", m[i].deadline_ms, e[i].deadline_ms);
		if (m[i].type != ENGINE_EVENT_HOLD_EXPIRED) {
			diff_int(d, "event tier", m[i].tier, e[i].tier);
			diff_int(d, "event waiter_seq", (int64_t)m[i].waiter_seq,
				 (int64_t)e[i].waiter_seq);
		}
	}
}

/* Every id the driver ever puts, or puts wrongly, exists in both or in neither. */
static void catalog_compare(struct diff *d, const struct world *w)
{
	static const uint32_t ids[] = { 1, 2, 3, 4, 5, 7, 8, 9 };
	struct engine_location location;
	struct engine_venue venue;
	struct engine_event_info event;
	for (uint32_t i = 0; i < ARRAY_COUNT(ids); i++) {
		diff_int(d, "location exists", model_catalog_has(w->model, COMMAND_LOCATION_PUT, ids[i]),
			 engine_location_get(w->engine, ids[i], &location));
		diff_int(d, "venue exists", model_catalog_has(w->model, COMMAND_VENUE_PUT, ids[i]),
			 engine_venue_get(w->engine, ids[i], &venue));
		diff_int(d, "event exists", model_catalog_has(w->model, COMMAND_EVENT_PUT, ids[i]),
			 engine_event_get(w->engine, ids[i], &event));
	}
}

static void show_compare(struct diff *d, const struct world *w, uint32_t show_id)
{
	struct engine_show m, e;
	bool m_found = model_show_get(w->model, show_id, &m);
	bool e_found = engine_show_get(w->engine, show_id, &e);
	diff_int(d, "show exists", m_found, e_found);
	if (!m_found || !e_found)
		return;
	diff_int(d, "show event_id", m.event_id, e.event_id);
	diff_int(d, "show venue_id", m.venue_id, e.venue_id);
	diff_int(d, "show start_ms", m.start_ms, e.start_ms);
	diff_int(d, "show end_ms", m.end_ms, e.end_ms);
	for (int t = 0; t < TIER_COUNT; t++)
		diff_int(d, "show price", m.prices_minor[t], e.prices_minor[t]);
	diff_int(d, "show currency", memcmp(m.currency, e.currency, CURRENCY_SIZE), 0);
	diff_int(d, "show user_seats_max", m.user_seats_max, e.user_seats_max);
	diff_int(d, "show hold_ttl_ms", m.hold_ttl_ms, e.hold_ttl_ms);
	diff_int(d, "show sale_opens_ms", m.sale_opens_ms, e.sale_opens_ms);
	diff_int(d, "show sale_closes_ms", m.sale_closes_ms, e.sale_closes_ms);
	diff_int(d, "show owned", m.owned, e.owned);
	for (int t = 0; t < TIER_COUNT; t++) {
		const struct engine_tier_counts *a = &m.tiers[t], *b = &e.tiers[t];
		if (memcmp(a, b, sizeof(*a)) != 0)
			diff_add(d,
				 "  show %u %s counts (seats available held pooled booked blocked "
				 "waiters): model %u %u %u %u %u %u %u, engine %u %u %u %u %u %u %u\n",
				 show_id, tier_name((enum tier)t), a->seats, a->available, a->held,
				 a->pooled, a->booked, a->blocked, a->waiters, b->seats, b->available,
				 b->held, b->pooled, b->booked, b->blocked, b->waiters);
	}
	static uint8_t m_states[SEATS_MAP_MAX], e_states[SEATS_MAP_MAX];
	uint32_t m_count = model_show_seat_states(w->model, show_id, m_states, SEATS_MAP_MAX);
	ASSERT(m_count > 0); /* SEATS_MAP_MAX holds the largest venue the driver builds */
	uint32_t e_count = engine_show_seat_states(w->engine, show_id, e_states, SEATS_MAP_MAX);
	diff_int(d, "seat map size", m_count, e_count);
	for (uint32_t s = 0; s < m_count && s < e_count; s++) {
		if (m_states[s] != e_states[s]) {
			diff_add(d, "  show %u seat %u: model %s, engine %s\n", show_id, s,
				 seat_state_name((enum seat_state)m_states[s]),
				 seat_state_name((enum seat_state)e_states[s]));
			break;
		}
	}
	/* The packed form (SEATMAP's) holds the same states, two bits each. */
	static uint8_t e_packed[SEATS_MAP_MAX / 4 + 1];
	uint32_t p_count = engine_show_seat_states_packed(w->engine, show_id, e_packed,
							  SEATS_MAP_MAX / 4 + 1);
	diff_int(d, "packed seat map size", e_count, p_count);
	for (uint32_t s = 0; s < p_count && s < e_count; s++) {
		uint32_t packed = (uint32_t)(e_packed[s / 4] >> (2 * (s % 4))) & 3;
		if (packed != e_states[s]) {
			diff_add(d, "  show %u seat %u: packed %s, bytes %s\n", show_id, s,
				 seat_state_name((enum seat_state)packed),
				 seat_state_name((enum seat_state)e_states[s]));
			break;
		}
	}
	if (p_count % 4 != 0 && e_packed[p_count / 4] >> (2 * (p_count % 4)))
		diff_add(d, "  show %u: bits set past the last seat of the packed map\n", show_id);
}

/* Encoding, decoding and encoding again gives the same bytes. */
static void round_trip_check(struct diff *d, struct world *w, const struct command *c)
{
	size_t size = command_encode(c, w->buffers[0], COMMAND_SIZE_MAX);
	diff_int(d, "encoded size", (int64_t)command_encoded_size(c), (int64_t)size);
	struct command decoded;
	enum status status = command_decode(w->buffers[0], size, &decoded);
	if (status != STATUS_OK) {
		diff_add(d, "  decoding an encoded command: %s\n", status_name(status));
		return;
	}
	size_t again = command_encode(&decoded, w->buffers[1], COMMAND_SIZE_MAX);
	if (again != size || memcmp(w->buffers[0], w->buffers[1], size) != 0)
		diff_add(d, "  re-encoding a decoded command gives other bytes\n");
	w->stats->round_trips++;
}

/* The same commands from scratch, twice, give the same state as the original run. */
static void digest_check(struct diff *d, struct world *w)
{
	uint64_t digests[2];
	for (int i = 0; i < 2; i++) {
		struct engine *engine = engine_create(&w->config);
		ASSERT(engine != NULL);
		struct engine_result result;
		for (uint32_t s = 0; s < w->prefix_count; s++)
			engine_apply(engine, &w->prefix[s].command, w->prefix[s].now_ms, &result);
		digests[i] = engine_digest(engine);
		engine_destroy(engine);
	}
	uint64_t original = engine_digest(w->engine);
	if (digests[0] != digests[1] || digests[0] != original)
		diff_add(d, "  digests after %u steps: original %016" PRIx64 ", replays %016" PRIx64
			 " %016" PRIx64 "\n", w->prefix_count, original, digests[0], digests[1]);
	w->stats->digests++;
}

/*
 * The engine is replaced by one rebuilt from its snapshot: same digest, same clock,
 * and from then on the model keeps checking that it behaves the same.
 */
static void snapshot_swap(struct diff *d, struct world *w)
{
	struct engine_image image = { 0 };
	engine_snapshot_encode(w->engine, &image);
	enum status status = STATUS_INTERNAL;
	struct engine *restored = engine_snapshot_decode(image.bytes, image.size, &w->config,
							 &status);
	engine_image_finish(&image);
	if (restored == NULL) {
		diff_add(d, "  snapshot does not decode: %s\n", status_name(status));
		return;
	}
	engine_check(restored);
	if (engine_digest(restored) != engine_digest(w->engine))
		diff_add(d, "  digest of the engine rebuilt from its snapshot differs\n");
	diff_int(d, "clock after a snapshot", engine_now(w->engine), engine_now(restored));
	engine_destroy(w->engine);
	w->engine = restored;
	w->stats->snapshots++;
}

/* Running. */

static struct world *world_current; /* for the abort handler: engine_check() asserts */

static void history_print(const struct world *w)
{
	uint64_t first = w->step_index >= HISTORY_COUNT ? w->step_index - HISTORY_COUNT + 1 : 0;
	for (uint64_t s = first; s <= w->step_index; s++) {
		const struct step *step = &w->history[s % HISTORY_COUNT];
		char text[512];
		command_describe(&step->command, text, sizeof(text));
		fprintf(stderr, "  %s step %" PRIu64 " now=%+" PRId64 ": %s\n",
			s == w->step_index ? ">>" : "  ", s, step->now_ms - TIME_START_MS, text);
	}
}

static void failure_print(const struct world *w, const char *what)
{
	fprintf(stderr, "model_test: %s at seed %" PRIu64 " step %" PRIu64 "\n", what, w->seed,
		w->step_index);
	fprintf(stderr, "  rerun: model_test --seed %" PRIu64 " --steps %" PRIu64 " --verbose\n",
		w->seed, w->step_index + 1);
	fprintf(stderr, "  users=%u hold_ttl_ms_default=%u waitlist_idle_ms=%u\n", w->users_count,
		w->config.hold_ttl_ms_default, w->config.waitlist_idle_ms);
	history_print(w);
}

static void abort_handler(int signal_number)
{
	(void)signal_number;
	if (world_current != NULL)
		failure_print(world_current, "ABORT");
}

static void step_print(const struct world *w, const struct step *step,
		       const struct engine_result *result, uint32_t events_count)
{
	char text[512];
	command_describe(&step->command, text, sizeof(text));
	printf("seed %" PRIu64 " step %" PRIu64 " now=%+" PRId64 " %s -> %s%s events=%u\n",
	       w->seed, w->step_index, step->now_ms - TIME_START_MS, text,
	       status_name(result->status), result->changed ? " changed" : "", events_count);
}

/* Learns the hold ids the next commands will confirm, release and cancel. */
static void known_holds_learn(struct world *w, const struct command *c,
			      const struct engine_result *r, const struct engine_event *events,
			      uint32_t events_count)
{
	if (c->type == COMMAND_HOLD && r->status == STATUS_OK)
		known_hold_add(w->holds, &w->holds_count, r->hold_id, c->hold.user_id);
	if (c->type == COMMAND_CONFIGURE && r->status == STATUS_OK) {
		w->configured.hold_ttl_ms_default = c->configure.hold_ttl_ms_default;
		w->configured.waitlist_idle_ms = c->configure.waitlist_idle_ms;
	}
	if (c->type == COMMAND_CONFIRM && r->status == STATUS_OK && r->changed)
		known_hold_add(w->bookings, &w->bookings_count, r->hold_id, c->confirm.user_id);
	if (c->type == COMMAND_SEATS_BLOCK && r->status == STATUS_OK && c->seats_block.blocked &&
	    c->seats_block.show_id <= SHOWS_COUNT_MAX)
		w->blocks[c->seats_block.show_id] = c->seats_block;
	if (c->type == COMMAND_WAITLIST_JOIN && r->status == STATUS_OK)
		w->waiting[c->waitlist_join.show_id] |= (uint16_t)(1u << c->waitlist_join.user_id);
	if ((c->type == COMMAND_WAITLIST_LEAVE ||
	     (c->type == COMMAND_WAITLIST_POLL && r->waiter_state != WAITER_WAITING)) &&
	    r->status == STATUS_OK)
		w->waiting[c->waitlist_poll.show_id] &= (uint16_t)~(1u << c->waitlist_poll.user_id);
	for (uint32_t i = 0; i < events_count; i++) {
		if (events[i].type == ENGINE_EVENT_OFFERED)
			known_hold_add(w->holds, &w->holds_count, events[i].hold_id,
				       events[i].user_id);
	}
}

static bool command_type_is_catalog(enum command_type type)
{
	return type >= COMMAND_LOCATION_PUT && type <= COMMAND_SHOW_PUT;
}

static bool step_run(struct world *w, const struct step *step)
{
	const struct command *c = &step->command;
	struct diff d = { 0 };
	w->history[w->step_index % HISTORY_COUNT] = *step;
	if (w->prefix_count < DIGEST_PREFIX_STEPS)
		w->prefix[w->prefix_count++] = *step;
	if (w->step_index % ROUND_TRIP_EVERY == 0 && command_validate(c) == STATUS_OK)
		round_trip_check(&d, w, c);
	struct engine_result m, e;
	engine_apply(w->engine, c, step->now_ms, &e);
	model_apply(w->model, c, step->now_ms, &m);
	uint32_t m_count, e_count;
	const struct engine_event *m_events = model_events(w->model, &m_count);
	const struct engine_event *e_events = engine_events(w->engine, &e_count);
	w->stats->steps++;
	/* Row 0 counts the commands of no known type. */
	w->stats->statuses[c->type <= COMMAND_TYPE_MAX ? c->type : 0][m.status]++;
	for (uint32_t i = 0; i < m_count; i++)
		w->stats->events[m_events[i].type]++;
	if (w->verbose)
		step_print(w, step, &m, m_count);
	result_compare(&d, &m, &e);
	if (d.count == 0)
		events_compare(&d, m_events, m_count, e_events, e_count);
	uint64_t every = w->check_every ? w->check_every
			 : w->step_index < CHECK_ALL_STEPS ? 1
							   : CHECK_EVERY_LATER;
	if (w->step_index % every == 0)
		engine_check(w->engine);
	for (uint32_t show_id = 1; show_id <= w->shows_count + 1 && d.count == 0; show_id++)
		show_compare(&d, w, show_id);
	if (command_type_is_catalog(c->type))
		catalog_compare(&d, w);
	diff_int(&d, "clock", model_now(w->model), engine_now(w->engine));
	if (d.count == 0 && w->prefix_count == DIGEST_PREFIX_STEPS &&
	    w->step_index + 1 == DIGEST_PREFIX_STEPS)
		digest_check(&d, w);
	if (d.count == 0 && w->step_index % SNAPSHOT_EVERY == SNAPSHOT_EVERY - 1)
		snapshot_swap(&d, w);
	if (d.count == 0) {
		known_holds_learn(w, c, &m, m_events, m_count);
		return true;
	}
	failure_print(w, "MISMATCH");
	fprintf(stderr, "%s", d.text);
	result_print("model", &m);
	result_print("engine", &e);
	events_print("model", m_events, m_count);
	events_print("engine", e_events, e_count);
	return false;
}

struct options {
	uint64_t seed;
	uint64_t seeds;
	uint64_t steps;
	uint64_t check_every;
	bool verbose;
	bool table;
};

static bool seed_run(const struct options *options, uint64_t seed, uint64_t steps,
		     struct stats *stats, uint8_t *buffers[2])
{
	struct world *w = calloc(1, sizeof(*w));
	ASSERT(w != NULL);
	*w = (struct world){ .seed = seed, .verbose = options->verbose, .rng = { seed },
			     .check_every = options->check_every, .stats = stats };
	w->buffers[0] = buffers[0];
	w->buffers[1] = buffers[1];
	engine_config_default(&w->config);
	w->config.shard_index = 0;
	w->config.shard_count = 1;
	w->slow = rng_chance(&w->rng, 15);
	w->grain_ms = rng_chance(&w->rng, 30) ? 50 : 1;
	w->config.hold_ttl_ms_default =
		w->slow ? rng_duration(&w->rng, 60000, HOLD_TTL_MS_MAX, w->grain_ms)
			: rng_duration(&w->rng, 50, 500, w->grain_ms);
	w->config.waitlist_idle_ms = w->slow ? rng_duration(&w->rng, 30000, 200000, w->grain_ms)
					     : rng_duration(&w->rng, 300, 3000, w->grain_ms);
	w->users_count = rng_range(&w->rng, 2, 8);
	w->configured = w->config;
	w->engine = engine_create(&w->config);
	w->model = model_create(&w->config);
	w->prefix = calloc(DIGEST_PREFIX_STEPS, sizeof(*w->prefix));
	ASSERT(w->engine != NULL && w->prefix != NULL);
	catalog_build(w);
	w->now_ms = TIME_START_MS;
	world_current = w;
	bool ok = true;
	for (w->step_index = 0; w->step_index < steps && ok; w->step_index++) {
		struct step step;
		random_command(w, &step.command);
		step.now_ms = random_now(w);
		ok = step_run(w, &step);
	}
	world_current = NULL;
	engine_destroy(w->engine);
	model_destroy(w->model);
	for (uint32_t i = 0; i < ARRAY_COUNT(w->builders); i++)
		layout_builder_finish(&w->builders[i]);
	free(w->prefix);
	free(w);
	return ok;
}

static void summary_print(const struct stats *stats, uint64_t seed, uint64_t seeds)
{
	printf("model_test: ok seeds=%" PRIu64 "..%" PRIu64 " steps=%" PRIu64
	       " round_trips=%" PRIu64 " digests=%" PRIu64 " snapshots=%" PRIu64 " statuses:",
	       seed, seed + seeds - 1, stats->steps, stats->round_trips, stats->digests,
	       stats->snapshots);
	for (int s = 0; s < STATUS_COUNT; s++) {
		uint64_t count = 0;
		for (int t = 0; t <= COMMAND_TYPE_MAX; t++)
			count += stats->statuses[t][s];
		printf(" %s=%" PRIu64 "%s", status_name((enum status)s), count,
		       s + 1 < STATUS_COUNT ? "," : "");
	}
	printf(" events:");
	for (int t = ENGINE_EVENT_HOLD_EXPIRED; t <= ENGINE_EVENT_LAPSED; t++)
		printf(" %s=%" PRIu64, event_name((uint32_t)t),
		       stats->events[t]);
	printf("\n");
}

/* With --stats: which statuses each command reached. */
static void table_print(const struct stats *stats)
{
	for (int t = 0; t <= COMMAND_TYPE_MAX; t++) {
		printf("  %-15s", t == 0 ? "unknown" : command_type_name((enum command_type)t));
		for (int s = 0; s < STATUS_COUNT; s++) {
			if (stats->statuses[t][s] != 0)
				printf(" %s=%" PRIu64, status_name((enum status)s), stats->statuses[t][s]);
		}
		printf("\n");
	}
}

static bool option_number(int argc, char **argv, int *i, const char *name, uint64_t *value)
{
	if (strcmp(argv[*i], name) != 0)
		return false;
	char *end = NULL;
	if (*i + 1 >= argc || (*value = strtoull(argv[*i + 1], &end, 10), *end != '\0')) {
		fprintf(stderr, "model_test: %s needs a number\n", name);
		exit(2);
	}
	(*i)++;
	return true;
}

int main(int argc, char **argv)
{
	struct options o = { .seed = 1, .seeds = 1, .steps = 10000 };
	for (int i = 1; i < argc; i++) {
		if (option_number(argc, argv, &i, "--seed", &o.seed) ||
		    option_number(argc, argv, &i, "--seeds", &o.seeds) ||
		    option_number(argc, argv, &i, "--steps", &o.steps) ||
		    option_number(argc, argv, &i, "--check-every", &o.check_every))
			continue;
		if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "--stats") == 0) {
			o.verbose |= strcmp(argv[i], "--verbose") == 0;
			o.table |= strcmp(argv[i], "--stats") == 0;
			continue;
		}
		fprintf(stderr, "usage: model_test [--seed N] [--seeds K] [--steps N] "
				"[--check-every N] [--verbose] [--stats]\n");
		return 2;
	}
	if (o.seeds == 0)
		o.seeds = 1;
	signal(SIGABRT, abort_handler);
	uint8_t *buffers[2] = { malloc(COMMAND_SIZE_MAX), malloc(COMMAND_SIZE_MAX) };
	ASSERT(buffers[0] != NULL && buffers[1] != NULL);
	struct stats stats = { 0 };
	for (uint64_t i = 0; i < o.seeds; i++) {
		uint64_t seed_steps = o.steps / o.seeds + (i < o.steps % o.seeds);
		if (!seed_run(&o, o.seed + i, seed_steps, &stats, buffers))
			return 1;
	}
	summary_print(&stats, o.seed, o.seeds);
	if (o.table)
		table_print(&stats);
	free(buffers[0]);
	free(buffers[1]);
	return 0;
}
