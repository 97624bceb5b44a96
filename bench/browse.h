/*
 * browse.h — boxbench's browse profile (boxoffice only, over the demo catalog that
 * `boxoffice --demo` loads): the traffic of people looking, about 10,000 views to a
 * booking. Each arrival is one view — LOCATIONS, EVENTS of a location, EVENT, SHOW,
 * SEARCH or SEATMAP of a demo entity drawn at random — or, rarely, a booking: a
 * best-available HOLD on a demo show, then its CONFIRM (or its RELEASE).
 *
 * Arrivals are a Poisson process at a constant rate (open loop, latency from each
 * operation's intended time), or as many as keep a number of operations in flight
 * (closed loop). Contexts of operations in flight come from a pool allocated at
 * start; an arrival that finds the pool empty waits, and its wait is latency.
 */
#ifndef BOXOFFICE_BENCH_BROWSE_H
#define BOXOFFICE_BENCH_BROWSE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "histogram.h"
#include "onsale.h"
#include "target.h"

struct browse_config {
	uint64_t seed;
	bool closed;
	uint32_t in_flight_max; /* closed loop */
	double rate;		/* open loop: operations per second */
	double duration_s;
	double confirm_p;	     /* a booking's hold is confirmed, else released */
	uint32_t views_per_booking; /* 1..; the workload's is 10,000 */
};

struct browse;

/* Returns NULL when memory runs out. start_ns is the run's second 0. */
struct browse *browse_create(const struct browse_config *config,
			     const struct bench_target_ops *ops, struct bench_target *target,
			     struct bench_recorder *recorder, int64_t start_ns);
void browse_destroy(struct browse *browse); /* accepts NULL */

/* As onsale_issue: submits what is due, sets *next_ns; 0 or a target's error. */
int browse_issue(struct browse *browse, int64_t now_ns, int64_t *next_ns);
void browse_stop_arrivals(struct browse *browse);
bool browse_idle(const struct browse *browse);

struct browse_totals {
	uint64_t views;
	uint64_t holds;
	uint64_t bookings;
	uint64_t releases;
};

void browse_totals(const struct browse *browse, struct browse_totals *totals);

/* Reads the run's bookings back (bench_ledger_audit). Blocking. */
int browse_audit(struct browse *browse, struct bench_audit_report *report);

/*
 * The search behind a SEARCH request's id, the same for the same id: by keyword, near
 * a demo city, by event type over the next weeks, or by tag. Texts borrow static
 * storage. A bench_request has no room for a query, so the boxoffice target calls
 * this to turn the id into one.
 */
void browse_search_query(uint32_t id, struct search_query *query);

#endif
