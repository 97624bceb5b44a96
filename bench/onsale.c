/*
 * onsale.c — the on-sale profile and the bookings ledger (see onsale.h).
 *
 * A user is in one of three places: in the heap (its next operation is due at a
 * time), in flight (its operation was submitted, the target will call user_done),
 * or on the free list. It is never in two. Users live in one array allocated at
 * start; a finished user's slot is reused, its bookings having been copied to the
 * ledger. Latency is measured from each operation's intended time: the arrival for
 * a user's first, and for the next ones the completion of the previous plus the
 * think time, so a generator that falls behind shows up as latency.
 */
#include "onsale.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_time.h"
#include "engine.h"

#define USERS_CLOSED_CAPACITY (1u << 18) /* users alive at once in closed loop */
#define USERS_OPEN_SLACK 4096u
#define OFFERS_CAPACITY_MIN 65536u
#define JOINS_MAX 2u	  /* a user joins a line at most twice */
#define OVERLOADS_MAX 5u  /* an overloaded operation is retried this often */
#define ROWS_TRIED 3u	  /* rows a user looks through for adjacent seats */
#define AUDIT_TIMEOUT_MS 60000

enum step {
	STEP_SEATMAP,
	STEP_HOLD_SEATS,
	STEP_HOLD_BEST,
	STEP_JOIN,
	STEP_WAIT,
	STEP_CONFIRM,
	STEP_DONE,
};

static const enum bench_op step_ops[] = {
	[STEP_SEATMAP] = BENCH_SEATMAP, [STEP_HOLD_SEATS] = BENCH_HOLD_SEATS,
	[STEP_HOLD_BEST] = BENCH_HOLD_BEST, [STEP_JOIN] = BENCH_JOIN,
	[STEP_WAIT] = BENCH_WAIT, [STEP_CONFIRM] = BENCH_CONFIRM,
};

struct user {
	struct onsale *onsale;
	uint64_t user_id;     /* 1..; never reused within a run */
	uint64_t hold_id;     /* the hold or offer being confirmed */
	int64_t intended_ns;  /* of the operation scheduled or in flight */
	uint32_t seats[BENCH_USER_SEATS_MAX]; /* asked for, then held */
	uint8_t seats_count;		      /* 1..BENCH_USER_SEATS_MAX */
	uint8_t step;			      /* enum step */
	uint8_t tier;
	uint8_t joins;	   /* 0..JOINS_MAX */
	uint8_t overloads; /* 0..OVERLOADS_MAX */
	bool together;
	bool best_retried; /* the one more HOLD_BEST after "seats available" */
	bool offered;	   /* hold_id is an offer */
	bool in_flight;
	uint32_t next_free;
};

struct heap_entry {
	int64_t due_ns;
	uint32_t user;
};

/* An offer as the audit needs it: offers of a tier must follow join order. */
struct offer {
	uint64_t waiter_seq;
	uint64_t hold_id;
	uint8_t tier;
};

struct onsale {
	struct onsale_config config;
	const struct bench_target_ops *ops;
	struct bench_target *target;
	struct bench_recorder *recorder;
	int64_t start_ns;
	uint64_t rng;
	struct user *users;
	uint32_t users_capacity;
	uint32_t free_first; /* UINT32_MAX: none free */
	struct heap_entry *heap;
	uint32_t heap_count;
	int64_t arrival_next_ns; /* open loop: the next arrival; INT64_MAX once stopped */
	int64_t arrivals_end_ns;
	bool stopped;
	bool abandoning;
	uint32_t ops_in_flight; /* WAITs excluded: they are the line, not load */
	uint32_t users_in_flight;
	double row_weights[BENCH_SEATS_COUNT / BENCH_SEATS_PER_ROW]; /* cumulative 1/(r + 1) */
	struct bench_ledger ledger;
	struct offer *offers;
	uint32_t offers_count;
	uint32_t offers_capacity;
	uint64_t offers_dropped;
	int64_t last_deadline_ms;
	uint64_t confirms_unknown;
	struct onsale_totals totals;
};

/* The heap of (due time, user). */

static void heap_swap(struct heap_entry *a, struct heap_entry *b)
{
	struct heap_entry t = *a;
	*a = *b;
	*b = t;
}

static void heap_push(struct onsale *o, uint32_t user, int64_t due_ns)
{
	ASSERT(o->heap_count < o->users_capacity);
	uint32_t i = o->heap_count++;
	o->heap[i] = (struct heap_entry){ .due_ns = due_ns, .user = user };
	while (i > 0 && o->heap[(i - 1) / 2].due_ns > o->heap[i].due_ns) {
		heap_swap(&o->heap[(i - 1) / 2], &o->heap[i]);
		i = (i - 1) / 2;
	}
}

static void heap_pop(struct onsale *o)
{
	ASSERT(o->heap_count > 0);
	o->heap[0] = o->heap[--o->heap_count];
	uint32_t i = 0;
	for (;;) {
		uint32_t least = i, left = 2 * i + 1, right = left + 1;
		if (left < o->heap_count && o->heap[left].due_ns < o->heap[least].due_ns)
			least = left;
		if (right < o->heap_count && o->heap[right].due_ns < o->heap[least].due_ns)
			least = right;
		if (least == i)
			return;
		heap_swap(&o->heap[i], &o->heap[least]);
		i = least;
	}
}

/* Users. */

static uint32_t user_index(const struct onsale *o, const struct user *u)
{
	return (uint32_t)(u - o->users);
}

static struct user *user_new(struct onsale *o)
{
	if (o->free_first == UINT32_MAX)
		return NULL;
	struct user *u = &o->users[o->free_first];
	o->free_first = u->next_free;
	*u = (struct user){ .onsale = o, .user_id = ++o->totals.users_arrived,
			    .step = STEP_SEATMAP };
	o->totals.users_active++;
	return u;
}

static void user_finish(struct onsale *o, struct user *u)
{
	ASSERT(!u->in_flight);
	u->step = STEP_DONE;
	u->next_free = o->free_first;
	o->free_first = user_index(o, u);
	o->totals.users_active--;
}

static void user_schedule(struct onsale *o, struct user *u, enum step step, int64_t due_ns)
{
	if (o->abandoning) {
		user_finish(o, u);
		return;
	}
	u->step = (uint8_t)step;
	u->intended_ns = due_ns;
	heap_push(o, user_index(o, u), due_ns);
}

static int64_t think_ns(struct onsale *o)
{
	uint32_t span = o->config.think_ms_max - o->config.think_ms_min;
	uint32_t ms = o->config.think_ms_min + (span ? rng_below(&o->rng, span + 1) : 0);
	return (int64_t)ms * NS_PER_MS;
}

static void request_of(const struct user *u, uint32_t wait_timeout_ms,
		       struct bench_request *request)
{
	*request = (struct bench_request){ .op = step_ops[u->step], .show_id = BENCH_SHOW_ID,
					   .user_id = u->user_id, .tier = u->tier,
					   .together = u->together, .seats_count = u->seats_count };
	switch (u->step) {
	case STEP_HOLD_SEATS:
		memcpy(request->seats, u->seats, sizeof(uint32_t) * u->seats_count);
		break;
	case STEP_WAIT:
		request->timeout_ms = wait_timeout_ms;
		break;
	case STEP_CONFIRM:
		request->hold_id = u->hold_id;
		bench_payment_ref(u->user_id, request->payment_ref);
		break;
	default:
		break;
	}
}

static void user_done(void *context, const struct bench_result *result);

/* Submits a user's scheduled operation: 0, -EAGAIN when the target is full. */
static int user_submit(struct onsale *o, struct user *u)
{
	ASSERT(u->step < STEP_DONE && !u->in_flight);
	struct bench_request request;
	request_of(u, o->config.wait_timeout_ms, &request);
	int rc = o->ops->submit(o->target, &request, user_done, u);
	if (rc < 0)
		return rc;
	u->in_flight = true;
	o->users_in_flight++;
	o->ops_in_flight += u->step != STEP_WAIT;
	bench_recorder_offered(o->recorder, request.op, u->intended_ns);
	return 0;
}

/* Seat choice. */

static uint32_t row_sample(struct onsale *o)
{
	uint32_t rows = (uint32_t)ARRAY_COUNT(o->row_weights);
	double x = rng_unit(&o->rng) * o->row_weights[rows - 1];
	uint32_t low = 0, high = rows - 1;
	while (low < high) {
		uint32_t middle = (low + high) / 2;
		if (o->row_weights[middle] > x)
			high = middle;
		else
			low = middle + 1;
	}
	return low;
}

/* Finds count adjacent available seats in the row, from a random place on; false if none. */
static bool row_pick(struct onsale *o, const uint8_t *states, uint32_t row, uint8_t count,
		     uint32_t *seats)
{
	uint32_t first = row * BENCH_SEATS_PER_ROW;
	uint32_t start = rng_below(&o->rng, BENCH_SEATS_PER_ROW);
	for (uint32_t i = 0; i < BENCH_SEATS_PER_ROW; i++) {
		uint32_t at = (start + i) % BENCH_SEATS_PER_ROW;
		if (at + count > BENCH_SEATS_PER_ROW)
			continue;
		uint8_t n = 0;
		while (n < count && states[first + at + n] == SEAT_AVAILABLE)
			n++;
		if (n < count)
			continue;
		for (uint8_t k = 0; k < count; k++)
			seats[k] = first + at + k;
		return true;
	}
	return false;
}

/* After the seat map: half pick seats themselves, half ask for the best of a tier. */
static enum step seats_choose(struct onsale *o, struct user *u, const struct bench_result *map)
{
	u->seats_count = (uint8_t)(1 + rng_below(&o->rng, BENCH_USER_SEATS_MAX));
	if (rng_unit(&o->rng) < 0.5 && map->states_count == BENCH_SEATS_COUNT) {
		uint32_t row = row_sample(o);
		u->tier = bench_seat_tier(row * BENCH_SEATS_PER_ROW);
		u->together = true;
		for (uint32_t r = row; r < row + ROWS_TRIED && r < ARRAY_COUNT(o->row_weights); r++) {
			if (bench_seat_tier(r * BENCH_SEATS_PER_ROW) == u->tier &&
			    row_pick(o, map->states, r, u->seats_count, u->seats))
				return STEP_HOLD_SEATS;
		}
		/* Nothing together near the row wanted: ask for the best of its tier. */
		u->best_retried = true;
		return STEP_HOLD_BEST;
	}
	double x = rng_unit(&o->rng);
	u->tier = x < 0.15 ? TIER_VIP : x < 0.50 ? TIER_REGULAR : TIER_ECONOMY;
	u->together = rng_unit(&o->rng) < 0.7;
	return STEP_HOLD_BEST;
}

/* Reactions to each result; each returns the next step (STEP_DONE: the user leaves). */

static enum step hold_got(struct onsale *o, struct user *u, const struct bench_result *r,
			  bool offered, int64_t now_ns)
{
	ASSERT(r->seats_count >= 1 && r->seats_count <= BENCH_USER_SEATS_MAX);
	u->hold_id = r->hold_id;
	u->offered = offered;
	u->seats_count = r->seats_count;
	memcpy(u->seats, r->seats, sizeof(uint32_t) * r->seats_count);
	o->totals.holds++;
	if (r->deadline_ms > o->last_deadline_ms)
		o->last_deadline_ms = r->deadline_ms;
	double p = offered ? o->config.offer_confirm_p : o->config.confirm_p;
	if (rng_unit(&o->rng) >= p) {
		o->totals.abandoned++;
		return STEP_DONE;
	}
	u->intended_ns = now_ns + think_ns(o);
	return STEP_CONFIRM;
}

static enum step line_join(struct onsale *o, struct user *u)
{
	if (u->joins >= JOINS_MAX) {
		o->totals.gave_up++;
		return STEP_DONE;
	}
	u->joins++;
	return STEP_JOIN;
}

static enum step after_hold(struct onsale *o, struct user *u, const struct bench_result *r,
			    int64_t now_ns)
{
	switch (r->status) {
	case STATUS_OK:
		return hold_got(o, u, r, false, now_ns);
	case STATUS_SEAT_UNAVAILABLE:
		if (u->step == STEP_HOLD_SEATS) {
			u->together = true;
			return STEP_HOLD_BEST;
		}
		return line_join(o, u);
	case STATUS_WAITLIST_ACTIVE:
		return line_join(o, u);
	default:
		o->totals.gave_up++;
		return STEP_DONE;
	}
}

static enum step after_join(struct onsale *o, struct user *u, const struct bench_result *r)
{
	switch (r->status) {
	case STATUS_OK:
	case STATUS_ALREADY_EXISTS:
		o->totals.joined += r->status == STATUS_OK;
		return STEP_WAIT;
	case STATUS_SEATS_AVAILABLE:
		/* Enough seats are free, though maybe not side by side: take them apart. */
		if (!u->best_retried) {
			u->best_retried = true;
			u->together = false;
			return STEP_HOLD_BEST;
		}
		o->totals.gave_up++;
		return STEP_DONE;
	case STATUS_SOLD_OUT:
		o->totals.sold_out++;
		return STEP_DONE;
	default:
		o->totals.gave_up++;
		return STEP_DONE;
	}
}

static void offer_record(struct onsale *o, const struct user *u, const struct bench_result *r)
{
	if (o->offers_count == o->offers_capacity) {
		o->offers_dropped++;
		return;
	}
	o->offers[o->offers_count++] = (struct offer){ .waiter_seq = r->waiter_seq,
						       .hold_id = r->hold_id, .tier = u->tier };
}

static enum step after_wait(struct onsale *o, struct user *u, const struct bench_result *r,
			    int64_t now_ns)
{
	if (r->status != STATUS_OK) {
		o->totals.gave_up++;
		return STEP_DONE;
	}
	switch (r->waiter_state) {
	case WAITER_OFFERED:
		o->totals.offered++;
		offer_record(o, u, r);
		return hold_got(o, u, r, true, now_ns);
	case WAITER_WAITING:
		return STEP_WAIT; /* the WAIT timed out: park again */
	case WAITER_SOLD_OUT:
		o->totals.sold_out++;
		return STEP_DONE;
	case WAITER_LAPSED:
		o->totals.lapsed++;
		return STEP_DONE;
	default:
		o->totals.gave_up++;
		return STEP_DONE;
	}
}

static enum step after_confirm(struct onsale *o, struct user *u, const struct bench_result *r)
{
	if (r->status == STATUS_OK) {
		ASSERT(r->hold_id == u->hold_id);
		bench_ledger_add(&o->ledger, r->hold_id, u->user_id, r->seats, r->seats_count);
		o->totals.booked++;
		o->totals.seats_booked += r->seats_count;
	} else if (r->status == STATUS_HOLD_EXPIRED) {
		o->totals.confirm_late++;
	} else if (r->status == STATUS_INTERNAL) {
		/* The server could not say whether it booked: the audit cannot balance. */
		o->confirms_unknown++;
	} else {
		o->totals.gave_up++;
	}
	return STEP_DONE;
}

static enum step step_next(struct onsale *o, struct user *u, const struct bench_result *r,
			   int64_t now_ns)
{
	switch (u->step) {
	case STEP_SEATMAP:
		if (r->status != STATUS_OK) {
			o->totals.gave_up++;
			return STEP_DONE;
		}
		return seats_choose(o, u, r);
	case STEP_HOLD_SEATS:
	case STEP_HOLD_BEST:
		return after_hold(o, u, r, now_ns);
	case STEP_JOIN:
		return after_join(o, u, r);
	case STEP_WAIT:
		return after_wait(o, u, r, now_ns);
	case STEP_CONFIRM:
		return after_confirm(o, u, r);
	default:
		ASSERT(false);
	}
}

static void user_done(void *context, const struct bench_result *result)
{
	struct user *u = context;
	struct onsale *o = u->onsale;
	int64_t now = clock_ns();
	enum bench_op op = step_ops[u->step];
	ASSERT(u->in_flight);
	u->in_flight = false;
	o->users_in_flight--;
	o->ops_in_flight -= op != BENCH_WAIT;
	bench_recorder_completed(o->recorder, op, result->status, u->intended_ns, now);
	if (result->status == STATUS_OVERLOADED && u->overloads < OVERLOADS_MAX) {
		/* Back off a little more each time: the server asked for it. */
		o->totals.retried++;
		u->overloads++;
		user_schedule(o, u, (enum step)u->step, now + (NS_PER_MS << u->overloads));
		return;
	}
	u->overloads = 0;
	enum step next = step_next(o, u, result, now);
	if (next == STEP_DONE)
		user_finish(o, u);
	else
		user_schedule(o, u, next, next == STEP_CONFIRM ? u->intended_ns : now);
}

/* Arrivals. */

/* The arrival rate at an offset from the start (users per second). */
static double rate_at(const struct onsale_config *c, double t, double *until)
{
	if (t < c->pre_s) {
		*until = c->pre_s;
		return c->baseline_rate;
	}
	if (t < c->pre_s + c->spike_s) {
		*until = c->pre_s + c->spike_s;
		return c->baseline_rate * c->spike_factor;
	}
	*until = c->pre_s + c->spike_s + c->post_s;
	return c->baseline_rate;
}

/* The next arrival of a Poisson process whose rate is piecewise constant: an
 * exponential amount of "rate × time" is used up across the pieces. */
static int64_t arrival_after(struct onsale *o, int64_t after_ns)
{
	double work = -log(1.0 - rng_unit(&o->rng));
	double t = (double)(after_ns - o->start_ns) / 1e9;
	double end = o->config.pre_s + o->config.spike_s + o->config.post_s;
	while (t < end) {
		double until;
		double rate = rate_at(&o->config, t, &until);
		if (rate > 0 && work <= rate * (until - t))
			return o->start_ns + (int64_t)((t + work / rate) * 1e9);
		work -= rate * (until - t);
		t = until;
	}
	return INT64_MAX;
}

static void arrivals_open(struct onsale *o, int64_t now_ns)
{
	while (!o->stopped && o->arrival_next_ns <= now_ns) {
		int64_t at = o->arrival_next_ns;
		o->arrival_next_ns = arrival_after(o, at);
		struct user *u = user_new(o);
		if (u == NULL) {
			o->totals.gave_up++; /* more users alive than allocated: counted, not run */
			continue;
		}
		bench_recorder_user(o->recorder, at);
		user_schedule(o, u, STEP_SEATMAP, at);
	}
	if (o->arrival_next_ns == INT64_MAX)
		o->stopped = true;
}

/* Closed loop: a new user whenever fewer operations than the limit are in flight. */
static int arrivals_closed(struct onsale *o, int64_t now_ns)
{
	if (now_ns >= o->arrivals_end_ns)
		o->stopped = true;
	while (!o->stopped && o->ops_in_flight < o->config.in_flight_max) {
		struct user *u = user_new(o);
		if (u == NULL)
			return 0;
		u->intended_ns = now_ns;
		int rc = user_submit(o, u);
		if (rc < 0) {
			o->totals.users_arrived--;
			user_finish(o, u);
			return rc == -EAGAIN ? 0 : rc;
		}
		bench_recorder_user(o->recorder, now_ns);
	}
	return 0;
}

int onsale_issue(struct onsale *o, int64_t now_ns, int64_t *next_ns)
{
	if (!o->config.closed)
		arrivals_open(o, now_ns);
	bool full = false;
	while (o->heap_count > 0 && o->heap[0].due_ns <= now_ns) {
		struct user *u = &o->users[o->heap[0].user];
		int rc = user_submit(o, u);
		if (rc == -EAGAIN) {
			full = true;
			break;
		}
		if (rc < 0)
			return rc;
		heap_pop(o);
	}
	if (o->config.closed && !full) {
		int rc = arrivals_closed(o, now_ns);
		if (rc < 0)
			return rc;
	}
	int64_t next = o->heap_count > 0 ? o->heap[0].due_ns : INT64_MAX;
	if (!o->config.closed && !o->stopped && o->arrival_next_ns < next)
		next = o->arrival_next_ns;
	/* A full target frees up only as responses come: look again shortly. */
	*next_ns = full ? now_ns + NS_PER_MS : next;
	return 0;
}

void onsale_stop_arrivals(struct onsale *o)
{
	o->stopped = true;
}

void onsale_abandon_all(struct onsale *o)
{
	o->stopped = true;
	o->abandoning = true;
	o->totals.cut = o->totals.users_active;
	while (o->heap_count > 0) {
		struct user *u = &o->users[o->heap[0].user];
		heap_pop(o);
		o->totals.abandoned += u->step == STEP_CONFIRM;
		user_finish(o, u);
	}
}

bool onsale_arrivals_over(const struct onsale *o, int64_t now_ns)
{
	(void)now_ns;
	return o->stopped;
}

bool onsale_idle(const struct onsale *o)
{
	return o->stopped && o->heap_count == 0 && o->users_in_flight == 0;
}

int64_t onsale_last_deadline_ms(const struct onsale *o)
{
	return o->last_deadline_ms;
}

void onsale_totals(const struct onsale *o, struct onsale_totals *totals)
{
	*totals = o->totals;
}

struct onsale *onsale_create(const struct onsale_config *config,
			     const struct bench_target_ops *ops, struct bench_target *target,
			     struct bench_recorder *recorder, int64_t start_ns)
{
	ASSERT(config->think_ms_min <= config->think_ms_max);
	ASSERT(config->closed ? config->in_flight_max > 0 : config->baseline_rate >= 0);
	struct onsale *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return NULL;
	*o = (struct onsale){ .config = *config, .ops = ops, .target = target,
			      .recorder = recorder, .start_ns = start_ns, .rng = config->seed,
			      .free_first = UINT32_MAX };
	double expected = config->baseline_rate * (config->pre_s + config->post_s) +
			  config->baseline_rate * config->spike_factor * config->spike_s;
	o->users_capacity = config->closed ? USERS_CLOSED_CAPACITY
					   : (uint32_t)fmin(expected * 1.25 + USERS_OPEN_SLACK, 1 << 24);
	o->users = calloc(o->users_capacity, sizeof(*o->users));
	o->heap = calloc(o->users_capacity, sizeof(*o->heap));
	o->offers_capacity = o->users_capacity * 2 > OFFERS_CAPACITY_MIN ? o->users_capacity * 2
									 : OFFERS_CAPACITY_MIN;
	o->offers = calloc(o->offers_capacity, sizeof(*o->offers));
	/* A booking has a seat at least, so the show never has more bookings than seats. */
	if (o->users == NULL || o->heap == NULL || o->offers == NULL ||
	    bench_ledger_init(&o->ledger, BENCH_SEATS_COUNT) < 0) {
		onsale_destroy(o);
		return NULL;
	}
	for (uint32_t i = o->users_capacity; i-- > 0;) {
		o->users[i].next_free = o->free_first;
		o->free_first = i;
	}
	double sum = 0;
	for (uint32_t r = 0; r < ARRAY_COUNT(o->row_weights); r++)
		o->row_weights[r] = sum += 1.0 / (r + 1);
	o->arrivals_end_ns = start_ns + (int64_t)(config->duration_s * 1e9);
	o->arrival_next_ns = config->closed ? INT64_MAX : arrival_after(o, start_ns);
	return o;
}

void onsale_destroy(struct onsale *o)
{
	if (o == NULL)
		return;
	bench_ledger_finish(&o->ledger);
	free(o->users);
	free(o->heap);
	free(o->offers);
	free(o);
}

/* The audit. */

struct seatmap_check {
	const struct onsale *onsale;
	struct bench_audit_report *report;
	uint8_t *acknowledged; /* per seat: 1 when an acknowledged booking names it */
	uint32_t in_flight;
};

static void seatmap_checked(void *context, const struct bench_result *result)
{
	struct seatmap_check *check = context;
	struct bench_audit_report *report = check->report;
	check->in_flight--;
	if (result->status != STATUS_OK || result->states_count != BENCH_SEATS_COUNT) {
		report->seatmap_missing = check->onsale->ledger.seats_count;
		return;
	}
	for (uint32_t s = 0; s < BENCH_SEATS_COUNT; s++) {
		bool booked = result->states[s] == SEAT_BOOKED;
		report->seatmap_booked += booked;
		report->seatmap_missing += check->acknowledged[s] && !booked;
		report->seatmap_extra += booked && !check->acknowledged[s];
	}
}

static int seatmap_audit(struct onsale *o, struct bench_audit_report *report)
{
	struct seatmap_check check = { .onsale = o, .report = report };
	check.acknowledged = calloc(BENCH_SEATS_COUNT, 1);
	if (check.acknowledged == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < o->ledger.count; i++) {
		const struct bench_booking *b = &o->ledger.bookings[i];
		for (uint8_t s = 0; s < b->seats_count; s++)
			check.acknowledged[b->seats[s]] = 1;
	}
	struct bench_request request = { .op = BENCH_SEATMAP, .show_id = BENCH_SHOW_ID };
	int rc;
	while ((rc = o->ops->submit(o->target, &request, seatmap_checked, &check)) == -EAGAIN)
		o->ops->poll(o->target, 10000);
	if (rc == 0) {
		check.in_flight = 1;
		rc = bench_drive_down(o->ops, o->target, &check.in_flight, 0, AUDIT_TIMEOUT_MS);
	}
	free(check.acknowledged);
	return rc;
}

static int offer_compare(const void *a, const void *b)
{
	const struct offer *x = a, *y = b;
	if (x->tier != y->tier)
		return x->tier < y->tier ? -1 : 1;
	return x->waiter_seq < y->waiter_seq ? -1 : x->waiter_seq > y->waiter_seq;
}

/* Within a tier, sorted by join order, the offers' hold ids must rise: hold ids are
 * issued in order, so an offer made out of line order shows as a smaller id. */
static void offers_audit(struct onsale *o, struct bench_audit_report *report)
{
	qsort(o->offers, o->offers_count, sizeof(*o->offers), offer_compare);
	report->offers = o->offers_count;
	for (uint32_t i = 0; i < o->offers_count; i++) {
		const struct offer *f = &o->offers[i];
		if (f->waiter_seq == 0) {
			report->offers_unsequenced++;
			continue;
		}
		const struct offer *e = i > 0 ? &o->offers[i - 1] : NULL;
		if (e != NULL && e->tier == f->tier && e->waiter_seq != 0 && e->hold_id >= f->hold_id) {
			report->offers_out_of_order++;
			if (report->offers_out_of_order <= 5)
				fprintf(stderr, "boxbench: audit: tier %u: entry %llu got hold %llx "
						"after entry %llu got %llx\n",
					f->tier, (unsigned long long)f->waiter_seq,
					(unsigned long long)f->hold_id,
					(unsigned long long)e->waiter_seq,
					(unsigned long long)e->hold_id);
		}
	}
}

int onsale_audit(struct onsale *o, struct bench_audit_report *report)
{
	int rc = bench_ledger_audit(&o->ledger, o->ops, o->target, report);
	report->confirms_unknown = o->confirms_unknown;
	if (rc == 0)
		rc = o->ops->audit(o->target, &report->show);
	report->show_checked = rc == 0;
	if (rc == 0)
		rc = seatmap_audit(o, report);
	offers_audit(o, report);
	report->passed = rc == 0 && report->passed && report->show.seats_double_booked == 0 &&
			 report->show.seats_booked == report->seats_confirmed &&
			 report->seatmap_missing == 0 && report->seatmap_extra == 0 &&
			 report->offers_out_of_order == 0 && report->bookings_dropped == 0 &&
			 report->confirms_unknown == 0;
	return rc;
}
