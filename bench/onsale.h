/*
 * onsale.h — boxbench's on-sale profile (WORKLOAD.md "The simulated user"): users
 * arrive at a rate that follows the profile (or, closed loop, whenever fewer than a
 * given number of operations are in flight), and each walks SEATMAP → HOLD →
 * (JOIN → WAIT) → CONFIRM or abandon, driven by a min-heap of (intended time, user).
 *
 * Also here, because both profiles use them: the ledger of acknowledged bookings and
 * the audit report. Every booking a run saw acknowledged goes into the ledger; the
 * audit checks them against each other (no seat in two), reads each back through the
 * server (a confirm with the same payment reference answers ok with the booking's
 * seats and changes nothing), and for on-sale compares them with the show's seat map
 * and counts, and checks that offers went out in line order.
 *
 * Memory: everything is allocated by onsale_create (users, heap, ledger, offers);
 * the hot path allocates nothing.
 */
#ifndef BOXOFFICE_BENCH_ONSALE_H
#define BOXOFFICE_BENCH_ONSALE_H

#include <stdbool.h>
#include <stdint.h>

#include "histogram.h"
#include "target.h"

struct onsale_config {
	uint64_t seed;
	bool closed;		/* closed loop: new users whenever fewer than in_flight_max are in flight */
	uint32_t in_flight_max; /* closed loop */
	/* Open loop: users per second, baseline → baseline × spike_factor → baseline. */
	double baseline_rate;
	double spike_factor;
	double pre_s;
	double spike_s;
	double post_s;
	double duration_s; /* closed loop: how long users arrive */
	uint32_t hold_ttl_ms;
	uint32_t think_ms_min;
	uint32_t think_ms_max;
	double confirm_p;	/* for a hold */
	double offer_confirm_p; /* for an offer */
	uint32_t wait_timeout_ms;
};

struct onsale;

/* Returns NULL when memory runs out. start_ns is the run's second 0 (CLOCK_MONOTONIC). */
struct onsale *onsale_create(const struct onsale_config *config,
			     const struct bench_target_ops *ops, struct bench_target *target,
			     struct bench_recorder *recorder, int64_t start_ns);
void onsale_destroy(struct onsale *onsale); /* accepts NULL */

/*
 * Submits every step due by now_ns (arrivals, and users' next operations), stopping
 * early when the target is full. Sets *next_ns to when the next one is due (INT64_MAX:
 * nothing is scheduled). Returns 0, or a negative errno from the target.
 */
int onsale_issue(struct onsale *onsale, int64_t now_ns, int64_t *next_ns);
/* No more arrivals after this; users already there carry on. */
void onsale_stop_arrivals(struct onsale *onsale);
/* Users that have stopped are no longer scheduled; their holds expire on their own.
 * Users in flight finish their current operation only. */
void onsale_abandon_all(struct onsale *onsale);
bool onsale_arrivals_over(const struct onsale *onsale, int64_t now_ns);
/* Every user has finished (or was abandoned) and none has an operation in flight. */
bool onsale_idle(const struct onsale *onsale);
/* The latest hold deadline seen (server wall clock, ms), for the audit's wait. */
int64_t onsale_last_deadline_ms(const struct onsale *onsale);

struct onsale_totals {
	uint64_t users_arrived;
	uint64_t users_active;
	uint64_t holds;		/* holds and offers made */
	uint64_t booked;	/* users with an acknowledged confirm */
	uint64_t seats_booked;
	uint64_t abandoned;	/* let a hold or an offer expire */
	uint64_t confirm_late;	/* confirmed after the deadline */
	uint64_t joined;
	uint64_t offered;
	uint64_t sold_out;	/* told so by JOIN or WAIT */
	uint64_t lapsed;
	uint64_t gave_up;	/* refused in a way the walk has no next step for */
	uint64_t retried;	/* an overloaded answer, tried again */
	uint64_t cut;		/* still there when the drain ran out (most wait in a line) */
};

void onsale_totals(const struct onsale *onsale, struct onsale_totals *totals);

/* The whole audit: ledger, target counts, final seat map, offers' order. Blocking. */
int onsale_audit(struct onsale *onsale, struct bench_audit_report *report);

#endif
