/*
 * wheel.h — a hashed timing wheel (Varghese & Lauck, scheme 6).
 *
 * Timers are intrusive nodes that live inside their owners (holds, waiting-list
 * entries); the wheel knows them by a u32 timer id and reaches a node through a
 * callback, so it allocates nothing per timer. Scheduling and cancelling are O(1).
 * Slot i holds the timers whose due time is congruent to i modulo the slot count
 * (one slot per millisecond); collecting visits only the slots the clock passed
 * over since the last collection, at most one full turn, and in each only the
 * timers that hashed there.
 *
 * Invariant: every scheduled timer is due after the cursor (the time of the last
 * collection); collected timers must be fired — cancelled or rescheduled — before
 * the next collection.
 */
#ifndef BOXOFFICE_WHEEL_H
#define BOXOFFICE_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WHEEL_NONE UINT32_MAX
#define WHEEL_UNSCHEDULED INT64_MIN

struct timer_node {
	int64_t due_ms; /* WHEEL_UNSCHEDULED when not in the wheel */
	uint32_t next;	/* timer ids within the slot; WHEEL_NONE ends the list */
	uint32_t prev;
};

typedef struct timer_node *wheel_node_fn(void *context, uint32_t timer_id);

struct wheel {
	uint32_t *heads;      /* slots_count list heads */
	uint32_t slots_count; /* a power of two */
	int64_t cursor_ms;    /* every scheduled timer is due after this */
	uint64_t count;	      /* timers scheduled */
	wheel_node_fn *node;
	void *context;
};

static inline void timer_node_init(struct timer_node *node)
{
	*node = (struct timer_node){ .due_ms = WHEEL_UNSCHEDULED, .next = WHEEL_NONE,
				     .prev = WHEEL_NONE };
}

static inline bool timer_node_scheduled(const struct timer_node *node)
{
	return node->due_ms != WHEEL_UNSCHEDULED;
}

void wheel_init(struct wheel *wheel, uint32_t slots_count, wheel_node_fn *node, void *context);
void wheel_finish(struct wheel *wheel); /* accepts NULL */
/* Schedules an unscheduled timer; due_ms must be after the cursor. */
void wheel_schedule(struct wheel *wheel, uint32_t timer_id, int64_t due_ms);
/* Unschedules a scheduled timer. */
void wheel_cancel(struct wheel *wheel, uint32_t timer_id);
/* Cancels if scheduled, then schedules at due_ms. */
void wheel_reschedule(struct wheel *wheel, uint32_t timer_id, int64_t due_ms);

/*
 * Appends to ids[*count..] (growing *ids, *capacity) every scheduled timer due at or
 * before now_ms, and moves the cursor to now_ms. The timers stay scheduled; the
 * caller fires them.
 */
void wheel_collect(struct wheel *wheel, int64_t now_ms, uint32_t **ids, uint32_t *count,
		   uint32_t *capacity);

size_t wheel_memory(const struct wheel *wheel);

/* Walks every slot and asserts the links and the cursor invariant. */
void wheel_check(const struct wheel *wheel);

#endif
