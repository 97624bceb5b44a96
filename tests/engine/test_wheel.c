/*
 * test_wheel.c — the hashed timing wheel against a naive list of timers: every
 * collection returns exactly the scheduled timers that are due, whatever the mix
 * of schedules, cancels and clock jumps (including jumps over a whole turn).
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "wheel.h"

#define TIMERS 512u

static struct timer_node nodes[TIMERS];

static struct timer_node *node_of(void *context, uint32_t id)
{
	(void)context;
	return &nodes[id];
}

static uint64_t next_random(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

Test(wheel, collects_exactly_the_due_timers)
{
	uint64_t seed = 0x9e3779b97f4a7c15;
	struct wheel wheel;
	wheel_init(&wheel, 64, node_of, NULL); /* a small wheel: many turns */
	int64_t due[TIMERS];
	for (uint32_t i = 0; i < TIMERS; i++) {
		timer_node_init(&nodes[i]);
		due[i] = WHEEL_UNSCHEDULED;
	}
	uint32_t *ids = NULL, count = 0, capacity = 0;
	int64_t now = 0;
	for (uint32_t step = 0; step < 200000; step++) {
		uint32_t id = (uint32_t)(next_random(&seed) % TIMERS);
		uint64_t r = next_random(&seed) % 100;
		if (r < 45 && due[id] == WHEEL_UNSCHEDULED) {
			due[id] = now + 1 + (int64_t)(next_random(&seed) % 300);
			wheel_schedule(&wheel, id, due[id]);
		} else if (r < 60 && due[id] != WHEEL_UNSCHEDULED) {
			wheel_cancel(&wheel, id);
			due[id] = WHEEL_UNSCHEDULED;
		} else if (r < 99) {
			/* Mostly small steps, sometimes a jump of several turns. */
			now += (int64_t)(next_random(&seed) % (r == 98 ? 1000 : 8));
			count = 0;
			wheel_collect(&wheel, now, &ids, &count, &capacity);
			uint32_t expected = 0;
			for (uint32_t i = 0; i < TIMERS; i++)
				expected += due[i] != WHEEL_UNSCHEDULED && due[i] <= now;
			cr_assert_eq(count, expected, "step %u", step);
			if (count > 1)
				qsort(ids, count, sizeof(uint32_t), compare_u32);
			for (uint32_t k = 0; k < count; k++) {
				cr_assert(due[ids[k]] != WHEEL_UNSCHEDULED && due[ids[k]] <= now);
				cr_assert(k == 0 || ids[k] != ids[k - 1]);
				wheel_cancel(&wheel, ids[k]); /* fired */
				due[ids[k]] = WHEEL_UNSCHEDULED;
			}
		}
		if (step % 1000 == 0)
			wheel_check(&wheel);
	}
	wheel_check(&wheel);
	free(ids);
	wheel_finish(&wheel);
}

Test(wheel, reschedule_moves_a_timer)
{
	struct wheel wheel;
	wheel_init(&wheel, 16, node_of, NULL);
	timer_node_init(&nodes[0]);
	wheel_schedule(&wheel, 0, 5);
	wheel_reschedule(&wheel, 0, 40);
	uint32_t *ids = NULL, count = 0, capacity = 0;
	wheel_collect(&wheel, 39, &ids, &count, &capacity);
	cr_assert_eq(count, 0);
	wheel_collect(&wheel, 40, &ids, &count, &capacity);
	cr_assert_eq(count, 1);
	cr_assert_eq(ids[0], 0);
	cr_assert_eq(wheel.count, 1);
	free(ids);
	wheel_finish(&wheel);
}
