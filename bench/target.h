/*
 * target.h — what boxbench drives: boxoffice, or a peer (PostgreSQL, Redis) that
 * implements the same on-sale operations with the same promise (acknowledged only
 * after fsync). bench/WORKLOAD.md says exactly what each operation must do.
 *
 * Everything is asynchronous and single-threaded: submit() queues an operation and
 * returns at once; poll() drives the target's I/O and calls each operation's done
 * callback exactly once, from inside poll(), in any order. A target keeps up to
 * `connections` connections and pipelines on them.
 */
#ifndef BOXOFFICE_BENCH_TARGET_H
#define BOXOFFICE_BENCH_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"

/* The hot show every target creates: see WORKLOAD.md "The show". */
#define BENCH_SHOW_ID 77001u
#define BENCH_SECTIONS 25u
#define BENCH_ROWS_PER_SECTION 40u
#define BENCH_SEATS_PER_ROW 50u
#define BENCH_SEATS_COUNT (BENCH_SECTIONS * BENCH_ROWS_PER_SECTION * BENCH_SEATS_PER_ROW)

/* Seat id → tier and row, the same for every target (WORKLOAD.md). */
static inline uint8_t bench_seat_tier(uint32_t seat)
{
	uint32_t section = seat / (BENCH_ROWS_PER_SECTION * BENCH_SEATS_PER_ROW);
	return section < 3 ? TIER_VIP : section < 10 ? TIER_REGULAR : TIER_ECONOMY;
}

static inline uint32_t bench_seat_row(uint32_t seat)
{
	return seat / BENCH_SEATS_PER_ROW;
}

enum bench_op {
	BENCH_SEATMAP = 0,
	BENCH_HOLD_SEATS = 1,
	BENCH_HOLD_BEST = 2,
	BENCH_CONFIRM = 3,
	BENCH_RELEASE = 4,
	BENCH_JOIN = 5,
	BENCH_WAIT = 6,
	/* Browse profile (boxoffice only). */
	BENCH_LOCATIONS = 7,
	BENCH_EVENTS = 8,
	BENCH_EVENT = 9,
	BENCH_SHOW = 10,
	BENCH_SEARCH = 11,
	BENCH_OP_COUNT = 12,
};

const char *bench_op_name(enum bench_op op);

struct bench_request {
	enum bench_op op;
	uint32_t show_id;
	uint64_t user_id;
	uint8_t seats_count;			/* HOLD_SEATS: the seats; HOLD_BEST, JOIN: how many */
	uint32_t seats[HOLD_SEATS_COUNT_MAX];	/* HOLD_SEATS */
	uint8_t tier;				/* HOLD_BEST, JOIN */
	bool together;				/* HOLD_BEST, JOIN */
	uint32_t hold_ttl_ms;			/* HOLD_*: 0 = the show's */
	uint64_t hold_id;			/* CONFIRM, RELEASE */
	char payment_ref[32];			/* CONFIRM */
	uint32_t timeout_ms;			/* WAIT */
	uint32_t id;				/* browse: location, event, show ids */
};

struct bench_result {
	enum status status; /* boxoffice's vocabulary, peers map to it (WORKLOAD.md) */
	uint64_t hold_id;   /* HOLD_*, CONFIRM, WAIT with an offer */
	int64_t deadline_ms;
	uint8_t seats_count;
	uint32_t seats[HOLD_SEATS_COUNT_MAX]; /* held, booked, or offered */
	uint8_t waiter_state;		      /* JOIN, WAIT: enum waiter_state */
	/* SEATMAP: the public state (enum seat_state) of each seat, valid during the
	 * callback only. */
	const uint8_t *states;
	uint32_t states_count;
	/* JOIN, WAIT: the line entry's join sequence number, for the audit of the line's
	 * order; 0 from a target that has none (added for boxbench's audit). */
	uint64_t waiter_seq;
};

typedef void bench_done_fn(void *context, const struct bench_result *result);

/* Counts read back from the target after a run, for the audit. */
struct bench_audit {
	uint32_t seats_booked;	/* seats in a booked state */
	uint32_t seats_held;	/* held or pooled */
	uint32_t seats_available;
	uint32_t seats_double_booked; /* a seat claimed by two bookings (must be 0) */
};

struct bench_target;

struct bench_target_ops {
	const char *name;
	/* Connects; `address` is "host:port" (or a libpq conninfo for PostgreSQL). */
	int (*open)(struct bench_target **target, const char *address, uint32_t connections,
		    char *error, size_t error_size);
	/* Creates the show afresh (every seat available, no holds, no line). Blocking. */
	int (*setup)(struct bench_target *target, uint32_t hold_ttl_ms, uint32_t idle_ms);
	int (*submit)(struct bench_target *target, const struct bench_request *request,
		      bench_done_fn *done, void *context);
	/* Drives I/O for up to timeout_us microseconds (waiting precisely: an open-loop
	 * harness must neither send late nor spin); returns how many operations completed. */
	int (*poll)(struct bench_target *target, int64_t timeout_us);
	/* Operations submitted and not yet done. */
	uint32_t (*in_flight)(const struct bench_target *target);
	/* Blocking: reads the show back for the audit. */
	int (*audit)(struct bench_target *target, struct bench_audit *audit);
	void (*close)(struct bench_target *target);
};

extern const struct bench_target_ops bench_target_boxoffice;
/* boxoffice: send each request about a show on a connection its show's shard serves, when
 * one has room (PROTOCOL.md, "Shard-aware clients"); set before open. */
void bench_boxoffice_shard_aware(bool on);
extern const struct bench_target_ops bench_target_postgres;
extern const struct bench_target_ops bench_target_redis;

#endif
