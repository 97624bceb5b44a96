/*
 * bench_time.h — what boxbench's parts share besides the target interface: the
 * monotonic clock in nanoseconds, and a seeded splitmix64 stream for the random
 * choices of a profile (one stream per run, so a seed replays the same traffic).
 */
#ifndef BOXOFFICE_BENCH_TIME_H
#define BOXOFFICE_BENCH_TIME_H

#include <stdint.h>
#include <time.h>

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

static inline int64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static inline uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static inline double rng_unit(uint64_t *state) /* [0, 1) */
{
	return (double)(rng_next(state) >> 11) * 0x1.0p-53;
}

static inline uint32_t rng_below(uint64_t *state, uint32_t bound)
{
	return (uint32_t)(rng_next(state) % bound);
}

#endif
