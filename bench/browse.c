/*
 * browse.c — the browse profile (see browse.h).
 *
 * The demo catalog's ids are fixed by demo.h (locations 1-20, events 1001-1200,
 * shows 10001-11000) whatever its seed; the search points are the demo cities,
 * read from the generator itself so that they stay the server's.
 */
#include "browse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_time.h"
#include "demo.h"

#define SLOTS_OPEN 65536u /* operations in flight at most, open loop */
#define DEMO_EVENT_ID_FIRST 1001u
#define DAY_MS (24LL * 3600 * 1000)
#define BOOKINGS_CAPACITY 65536u

/* A view's kind and its share of the views, in percent. */
static const struct {
	enum bench_op op;
	uint32_t percent;
} view_mix[] = {
	{ BENCH_LOCATIONS, 5 }, { BENCH_EVENTS, 15 }, { BENCH_EVENT, 20 },
	{ BENCH_SHOW, 25 },	{ BENCH_SEARCH, 20 }, { BENCH_SEATMAP, 15 },
};

struct slot {
	struct browse *browse;
	int64_t intended_ns;
	uint64_t user_id; /* bookings */
	uint64_t hold_id;
	uint32_t id; /* the entity viewed, or the show of a booking */
	uint8_t op;  /* enum bench_op */
	uint8_t seats_count;
	uint8_t tier;
	uint32_t next_free;
};

struct browse {
	struct browse_config config;
	const struct bench_target_ops *ops;
	struct bench_target *target;
	struct bench_recorder *recorder;
	int64_t start_ns;
	int64_t end_ns;
	uint64_t rng;
	uint64_t user_base; /* booking users: user_base + n, distinct across runs */
	struct slot *slots;
	uint32_t slots_capacity;
	uint32_t free_first;
	uint32_t in_flight;
	uint32_t *ready; /* slots whose next operation (a confirm or release) is due now */
	uint32_t ready_count;
	int64_t arrival_next_ns; /* INT64_MAX: no more */
	bool stopped;
	struct bench_ledger ledger;
	struct browse_totals totals;
};

/* Searches. */

static const char *const search_words[] = {
	"rock",	  "jazz",  "live", "tour",    "hamlet", "opera", "festival", "kids",
	"magic",  "derby", "cup",  "comedy",  "summit", "data",  "summer",   "electric",
	"velvet", "city",  "open", "musical", "circus", "final", "indie",    "talks",
};

static const char *const search_tags[] = {
	"rock", "pop", "football", "drama", "standup", "festival", "family", "tech", "outdoor",
};

static struct {
	bool ready;
	int32_t lat_e6[DEMO_LOCATIONS_COUNT];
	int32_t lon_e6[DEMO_LOCATIONS_COUNT];
} cities;

static void city_take(void *context, const struct command *command)
{
	(void)context;
	if (command->type != COMMAND_LOCATION_PUT)
		return;
	uint32_t index = command->location_put.location_id - 1;
	ASSERT(index < DEMO_LOCATIONS_COUNT);
	cities.lat_e6[index] = command->location_put.lat_e6;
	cities.lon_e6[index] = command->location_put.lon_e6;
}

void browse_search_query(uint32_t id, struct search_query *query)
{
	if (!cities.ready) {
		demo_catalog_generate(1, 0, city_take, NULL);
		cities.ready = true;
	}
	search_query_init(query);
	uint32_t pick = id / 4;
	switch (id % 4) {
	case 0:
		query->keyword = text_from_cstr(search_words[pick % ARRAY_COUNT(search_words)]);
		break;
	case 1:
		query->near = true;
		query->lat_e6 = cities.lat_e6[pick % DEMO_LOCATIONS_COUNT];
		query->lon_e6 = cities.lon_e6[pick % DEMO_LOCATIONS_COUNT];
		query->radius_km = 25;
		break;
	case 2: {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		query->type = (int16_t)(pick % EVENT_TYPE_COUNT);
		query->from_ms = (int64_t)ts.tv_sec * 1000;
		query->to_ms = query->from_ms + (int64_t)(7 + pick % 60) * DAY_MS;
		break;
	}
	default:
		query->tags_count = 1;
		query->tags[0] = text_from_cstr(search_tags[pick % ARRAY_COUNT(search_tags)]);
		break;
	}
}

/* Slots. */

static struct slot *slot_take(struct browse *b)
{
	if (b->free_first == UINT32_MAX)
		return NULL;
	struct slot *s = &b->slots[b->free_first];
	b->free_first = s->next_free;
	*s = (struct slot){ .browse = b };
	return s;
}

static void slot_free(struct browse *b, struct slot *s)
{
	s->next_free = b->free_first;
	b->free_first = (uint32_t)(s - b->slots);
}

/* A new arrival: a view of a random entity, or once in views_per_booking a booking. */
static void arrival_fill(struct browse *b, struct slot *s)
{
	if (rng_below(&b->rng, b->config.views_per_booking) == 0) {
		s->op = BENCH_HOLD_BEST;
		s->id = DEMO_SHOW_ID_FIRST + rng_below(&b->rng, DEMO_SHOWS_COUNT);
		s->user_id = b->user_base + ++b->totals.holds;
		s->tier = (uint8_t)rng_below(&b->rng, TIER_COUNT);
		s->seats_count = (uint8_t)(1 + rng_below(&b->rng, 2));
		return;
	}
	b->totals.views++;
	uint32_t x = rng_below(&b->rng, 100), i = 0;
	while (x >= view_mix[i].percent) {
		x -= view_mix[i].percent;
		i++;
	}
	s->op = (uint8_t)view_mix[i].op;
	switch (view_mix[i].op) {
	case BENCH_LOCATIONS:
		s->id = rng_below(&b->rng, DEMO_LOCATIONS_COUNT); /* "after id": a page */
		break;
	case BENCH_EVENTS:
		s->id = 1 + rng_below(&b->rng, DEMO_LOCATIONS_COUNT);
		break;
	case BENCH_EVENT:
		s->id = DEMO_EVENT_ID_FIRST + rng_below(&b->rng, DEMO_EVENTS_COUNT);
		break;
	case BENCH_SEARCH:
		s->id = (uint32_t)rng_next(&b->rng);
		break;
	default:
		s->id = DEMO_SHOW_ID_FIRST + rng_below(&b->rng, DEMO_SHOWS_COUNT);
		break;
	}
}

static void request_of(const struct slot *s, struct bench_request *r)
{
	*r = (struct bench_request){ .op = (enum bench_op)s->op, .id = s->id, .show_id = s->id,
				     .user_id = s->user_id, .hold_id = s->hold_id,
				     .seats_count = s->seats_count, .tier = s->tier,
				     .together = true };
	if (r->op == BENCH_CONFIRM)
		bench_payment_ref(s->user_id, r->payment_ref);
}

static void slot_done(void *context, const struct bench_result *result)
{
	struct slot *s = context;
	struct browse *b = s->browse;
	int64_t now = clock_ns();
	b->in_flight--;
	bench_recorder_completed(b->recorder, (enum bench_op)s->op, result->status,
				 s->intended_ns, now);
	if (s->op == BENCH_HOLD_BEST && result->status == STATUS_OK) {
		/* Hold, then straight away confirm or let go: no think time while browsing. */
		s->hold_id = result->hold_id;
		s->op = rng_unit(&b->rng) < b->config.confirm_p ? BENCH_CONFIRM : BENCH_RELEASE;
		s->intended_ns = now;
		b->ready[b->ready_count++] = (uint32_t)(s - b->slots);
		return;
	}
	if (s->op == BENCH_CONFIRM && result->status == STATUS_OK) {
		ASSERT(result->seats_count <= BENCH_USER_SEATS_MAX);
		bench_ledger_add(&b->ledger, result->hold_id, s->user_id, result->seats,
				 result->seats_count);
		b->totals.bookings++;
	}
	b->totals.releases += s->op == BENCH_RELEASE && result->status == STATUS_OK;
	slot_free(b, s);
}

static int slot_submit(struct browse *b, struct slot *s)
{
	struct bench_request request;
	request_of(s, &request);
	int rc = b->ops->submit(b->target, &request, slot_done, s);
	if (rc < 0)
		return rc;
	b->in_flight++;
	bench_recorder_offered(b->recorder, request.op, s->intended_ns);
	return 0;
}

static int64_t arrival_after(struct browse *b, int64_t after_ns)
{
	if (b->config.rate <= 0)
		return INT64_MAX;
	double gap_s = -log(1.0 - rng_unit(&b->rng)) / b->config.rate;
	int64_t at = after_ns + (int64_t)(gap_s * 1e9);
	return at < b->end_ns ? at : INT64_MAX;
}

/* Submits confirms and releases that are due; false when the target is full. */
static int ready_submit(struct browse *b)
{
	while (b->ready_count > 0) {
		struct slot *s = &b->slots[b->ready[b->ready_count - 1]];
		int rc = slot_submit(b, s);
		if (rc < 0)
			return rc;
		b->ready_count--;
	}
	return 0;
}

/* The next arrival is due (or, closed loop, there is room): 0, -EAGAIN when full. */
static int arrival_submit(struct browse *b, int64_t intended_ns)
{
	struct slot *s = slot_take(b);
	if (s == NULL)
		return -EAGAIN;
	uint64_t rng = b->rng;
	arrival_fill(b, s);
	s->intended_ns = intended_ns;
	int rc = slot_submit(b, s);
	if (rc < 0) {
		/* Not sent: draw the same arrival again next time. */
		b->rng = rng;
		b->totals.views -= s->op != BENCH_HOLD_BEST;
		b->totals.holds -= s->op == BENCH_HOLD_BEST;
		slot_free(b, s);
	}
	return rc;
}

int browse_issue(struct browse *b, int64_t now_ns, int64_t *next_ns)
{
	int rc = ready_submit(b);
	if (now_ns >= b->end_ns)
		b->stopped = true;
	while (rc == 0 && !b->stopped && !b->config.closed && b->arrival_next_ns <= now_ns) {
		rc = arrival_submit(b, b->arrival_next_ns);
		if (rc == 0)
			b->arrival_next_ns = arrival_after(b, b->arrival_next_ns);
	}
	while (rc == 0 && !b->stopped && b->config.closed && b->in_flight < b->config.in_flight_max)
		rc = arrival_submit(b, now_ns);
	if (rc == -EAGAIN) {
		*next_ns = now_ns + NS_PER_MS; /* full: look again once responses came */
		return 0;
	}
	if (!b->config.closed && b->arrival_next_ns == INT64_MAX)
		b->stopped = true;
	*next_ns = b->stopped || b->config.closed ? INT64_MAX : b->arrival_next_ns;
	return rc;
}

void browse_stop_arrivals(struct browse *b)
{
	b->stopped = true;
}

bool browse_idle(const struct browse *b)
{
	return b->stopped && b->in_flight == 0 && b->ready_count == 0;
}

void browse_totals(const struct browse *b, struct browse_totals *totals)
{
	*totals = b->totals;
}

int browse_audit(struct browse *b, struct bench_audit_report *report)
{
	int rc = bench_ledger_audit(&b->ledger, b->ops, b->target, report);
	report->passed = report->passed && rc == 0 && report->bookings_dropped == 0;
	return rc;
}

struct browse *browse_create(const struct browse_config *config,
			     const struct bench_target_ops *ops, struct bench_target *target,
			     struct bench_recorder *recorder, int64_t start_ns)
{
	ASSERT(config->views_per_booking >= 1);
	ASSERT(config->closed ? config->in_flight_max > 0 : config->rate >= 0);
	struct browse *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	*b = (struct browse){ .config = *config, .ops = ops, .target = target,
			      .recorder = recorder, .start_ns = start_ns, .rng = config->seed,
			      .free_first = UINT32_MAX,
			      .end_ns = start_ns + (int64_t)(config->duration_s * 1e9) };
	/* Booking users must not meet an earlier run's on the same demo shows. */
	b->user_base = (UINT64_C(1) << 62) | (uint64_t)time(NULL) << 24;
	b->slots_capacity = config->closed ? config->in_flight_max : SLOTS_OPEN;
	b->slots = calloc(b->slots_capacity, sizeof(*b->slots));
	b->ready = calloc(b->slots_capacity, sizeof(*b->ready));
	if (b->slots == NULL || b->ready == NULL ||
	    bench_ledger_init(&b->ledger, BOOKINGS_CAPACITY) < 0) {
		browse_destroy(b);
		return NULL;
	}
	for (uint32_t i = b->slots_capacity; i-- > 0;)
		slot_free(b, &b->slots[i]);
	b->arrival_next_ns = config->closed ? INT64_MAX : arrival_after(b, start_ns);
	return b;
}

void browse_destroy(struct browse *b)
{
	if (b == NULL)
		return;
	bench_ledger_finish(&b->ledger);
	free(b->slots);
	free(b->ready);
	free(b);
}
