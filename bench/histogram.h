/*
 * histogram.h — what a boxbench run keeps account of: latency histograms (latency.h); the
 * recorder that files every completed operation into them, per operation, per phase
 * of the run and per second (the time series behind the CSV and the plot); and the
 * ledger of acknowledged bookings that the audit checks.
 *
 * The recorder allocates everything at bench_recorder_init; recording an operation
 * is a few additions, never an allocation.
 *
 * Every booking a run saw acknowledged goes into the ledger (allocated at start too).
 * The audit checks the bookings against each other (no seat in two) and reads each
 * back through the server: a confirm with the same payment reference answers ok
 * with the booking's seats and changes nothing. The profiles add their own checks
 * (on-sale: the show's counts and seat map, and the order of the offers).
 */
#ifndef BOXOFFICE_BENCH_HISTOGRAM_H
#define BOXOFFICE_BENCH_HISTOGRAM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "latency.h"
#include "target.h"

/* The statistics of one operation kind, or of one phase. */
struct bench_op_stats {
	uint64_t offered;   /* submitted, by intended send time */
	uint64_t completed; /* answered */
	uint64_t statuses[STATUS_COUNT];
	struct histogram latency;
};

#define BENCH_PHASES_COUNT_MAX 5u

/* One second of the run: what was offered in it (by intended time) and what
 * completed in it (by completion time). WAITs are left out of the latency columns:
 * their latency is the time spent in the line, not service time. */
struct bench_second {
	uint64_t users_arrived;
	uint64_t offered;   /* WAITs excluded, as in every column but waits_completed */
	uint64_t completed;
	uint64_t ok;
	uint64_t refused;
	uint64_t holds_ok;
	uint64_t confirms_ok;
	uint64_t waits_completed;
	uint32_t in_flight; /* at the end of the second */
	uint64_t p50_us;
	uint64_t p90_us;
	uint64_t p99_us;
	uint64_t max_us;
};

struct bench_recorder {
	int64_t start_ns; /* CLOCK_MONOTONIC of the run's second 0 */
	struct bench_op_stats ops[BENCH_OP_COUNT];
	/* Phases by intended time: phase i ends at phase_ends_ns[i] (relative to start). */
	uint32_t phases_count;
	const char *phase_names[BENCH_PHASES_COUNT_MAX];
	int64_t phase_ends_ns[BENCH_PHASES_COUNT_MAX];
	struct bench_op_stats phases[BENCH_PHASES_COUNT_MAX]; /* WAITs excluded */
	/* The time series: seconds[0..seconds_count) are closed, the one after is open. */
	struct bench_second *seconds;
	uint32_t seconds_capacity;
	uint32_t seconds_count;
	struct histogram second_latency; /* of the open second */
};

/* Returns 0 or -ENOMEM. The series holds up to seconds_capacity seconds; later
 * activity is filed into the last one. */
int bench_recorder_init(struct bench_recorder *recorder, int64_t start_ns,
			uint32_t seconds_capacity);
void bench_recorder_finish(struct bench_recorder *recorder); /* accepts NULL */
/* Adds a phase ending at end_ns after the start; phases are added in time order and
 * the last one should end at INT64_MAX. */
void bench_recorder_phase(struct bench_recorder *recorder, const char *name, int64_t end_ns);

void bench_recorder_offered(struct bench_recorder *recorder, enum bench_op op,
			    int64_t intended_ns);
void bench_recorder_completed(struct bench_recorder *recorder, enum bench_op op,
			      enum status status, int64_t intended_ns, int64_t done_ns);
void bench_recorder_user(struct bench_recorder *recorder, int64_t arrived_ns);
/* Closes every second that ended by now_ns; in_flight is noted on each. */
void bench_recorder_tick(struct bench_recorder *recorder, int64_t now_ns, uint32_t in_flight);
/* At the end of a run: closes what bench_recorder_tick would, then the last, partial
 * second too if anything happened in it. */
void bench_recorder_end(struct bench_recorder *recorder, int64_t now_ns, uint32_t in_flight);
/* The last closed second, or NULL before the first has closed. */
const struct bench_second *bench_recorder_last(const struct bench_recorder *recorder);

/* Writes the series as CSV (columns in bench_recorder_csv's header line). Returns 0
 * or a negative errno. */
int bench_recorder_csv(const struct bench_recorder *recorder, const char *path);
/* Writes `"name": {...}` JSON members for the operations that were offered, and the
 * phases array, into out; elapsed_s is the divisor of the rates. */
void bench_recorder_json_ops(const struct bench_recorder *recorder, FILE *out, double elapsed_s);
void bench_recorder_json_phases(const struct bench_recorder *recorder, FILE *out,
				double elapsed_s);
/* The human-readable tables. */
void bench_recorder_print(const struct bench_recorder *recorder, FILE *out, double elapsed_s);

#define BENCH_USER_SEATS_MAX 4u /* a simulated user asks for 1..4 seats */

/* The payment reference of a user's confirm: the same one on every retry, so that a
 * read-back confirm is idempotent. */
void bench_payment_ref(uint64_t user_id, char ref[32]);

struct bench_booking {
	uint64_t hold_id; /* = booking id */
	uint64_t user_id;
	uint8_t seats_count; /* 1..BENCH_USER_SEATS_MAX */
	uint32_t seats[BENCH_USER_SEATS_MAX];
};

struct bench_ledger {
	struct bench_booking *bookings;
	uint32_t count;
	uint32_t capacity;
	uint64_t seats_count; /* over every booking */
	uint64_t dropped;     /* acknowledged when the ledger was full: the audit is partial */
};

int bench_ledger_init(struct bench_ledger *ledger, uint32_t capacity); /* 0 or -ENOMEM */
void bench_ledger_finish(struct bench_ledger *ledger);		      /* accepts NULL */
void bench_ledger_add(struct bench_ledger *ledger, uint64_t hold_id, uint64_t user_id,
		      const uint32_t *seats, uint8_t seats_count);

struct bench_audit_report {
	bool ran;
	bool passed;
	uint64_t bookings;	  /* acknowledged confirms */
	uint64_t seats_confirmed; /* their seats */
	uint64_t bookings_dropped; /* not in the ledger (full): unchecked */
	uint64_t confirms_unknown; /* answered neither ok nor a clear refusal: unchecked */
	uint64_t double_claims;	   /* a seat in two acknowledged bookings (must be 0) */
	uint64_t read_back_ok;	   /* bookings the server confirmed again, same seats */
	uint64_t read_back_failed;
	/* On-sale: the show, as the target reports it and as its seat map says. */
	bool show_checked;
	struct bench_audit show;
	uint64_t seatmap_booked;
	uint64_t seatmap_missing; /* acknowledged seats the map does not show booked */
	uint64_t seatmap_extra;	  /* booked seats no acknowledged confirm names */
	/* On-sale: offers per tier in join order (targets that report waiter_seq). */
	uint64_t offers;
	uint64_t offers_unsequenced; /* no waiter_seq from the target: not checked */
	uint64_t offers_out_of_order;
};

/* Polls the target until *in_flight (the caller's count, which its callbacks bring
 * down) is at most `level`; 0, -ETIMEDOUT after timeout_ms, or the target's error. */
int bench_drive_down(const struct bench_target_ops *ops, struct bench_target *target,
		     const uint32_t *in_flight, uint32_t level, int timeout_ms);

/*
 * Reads every booking of the ledger back through the target and checks that no seat
 * is in two; fills the ledger's part of *report. Blocking (drives target->poll).
 * Returns 0, or a negative errno from the target.
 */
int bench_ledger_audit(const struct bench_ledger *ledger, const struct bench_target_ops *ops,
		       struct bench_target *target, struct bench_audit_report *report);

#endif
