/*
 * latency.h — a latency histogram, shared by boxbench and net_bench.
 *
 * It is log-linear (HdrHistogram's layout): values below 256 us have a bucket each;
 * above, every power of two is cut into 128 equal buckets, so a bucket is at most
 * 1/128 of its lower bound wide and its midpoint is within 0.4% of any value in it.
 * Values are microseconds up to 2^40 (12 days); larger ones are counted in the last
 * bucket. Min, max, count and sum are exact. 4,352 buckets: 34 KiB. Recording is a
 * few additions, never an allocation.
 */
#ifndef BOXOFFICE_BENCH_LATENCY_H
#define BOXOFFICE_BENCH_LATENCY_H

#include <stdint.h>

#define HISTOGRAM_SUB_BITS 7u
#define HISTOGRAM_SUB_COUNT (1u << HISTOGRAM_SUB_BITS)
#define HISTOGRAM_VALUE_BITS 40u
#define HISTOGRAM_BUCKETS_COUNT \
	((HISTOGRAM_VALUE_BITS - HISTOGRAM_SUB_BITS + 1u) * HISTOGRAM_SUB_COUNT)

struct histogram {
	uint64_t count;
	uint64_t sum_us;
	uint64_t min_us; /* UINT64_MAX while empty */
	uint64_t max_us;
	uint64_t buckets[HISTOGRAM_BUCKETS_COUNT];
};

void histogram_reset(struct histogram *histogram);
void histogram_record(struct histogram *histogram, uint64_t value_us);
void histogram_merge(struct histogram *into, const struct histogram *from);
/* The value at quantile q (0 < q <= 1, nearest rank), in us; 0 when empty. The
 * top quantile (q = 1) is the exact maximum. */
uint64_t histogram_quantile(const struct histogram *histogram, double q);
/* Asserts the counts add up. */
void histogram_check(const struct histogram *histogram);

/* Bucket index of a value and the midpoint of a bucket: exposed for the tests. */
uint32_t histogram_bucket_of(uint64_t value_us);
uint64_t histogram_bucket_value(uint32_t bucket);

#endif
