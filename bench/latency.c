/*
 * latency.c — the log-linear latency histogram (see latency.h).
 */
#include "latency.h"

#include <string.h>

#include "base.h"

void histogram_reset(struct histogram *histogram)
{
	memset(histogram, 0, sizeof(*histogram));
	histogram->min_us = UINT64_MAX;
}

uint32_t histogram_bucket_of(uint64_t value_us)
{
	if (value_us < 2 * HISTOGRAM_SUB_COUNT)
		return (uint32_t)value_us;
	if (value_us >> HISTOGRAM_VALUE_BITS)
		return HISTOGRAM_BUCKETS_COUNT - 1;
	/* The value's top 8 bits select a bucket within its power of two. */
	uint32_t exponent = 63u - (uint32_t)__builtin_clzll(value_us);
	uint32_t shift = exponent - HISTOGRAM_SUB_BITS;
	uint32_t mantissa = (uint32_t)(value_us >> shift);
	ASSERT(mantissa >= HISTOGRAM_SUB_COUNT && mantissa < 2 * HISTOGRAM_SUB_COUNT);
	return shift * HISTOGRAM_SUB_COUNT + mantissa;
}

uint64_t histogram_bucket_value(uint32_t bucket)
{
	ASSERT(bucket < HISTOGRAM_BUCKETS_COUNT);
	if (bucket < 2 * HISTOGRAM_SUB_COUNT)
		return bucket;
	uint32_t shift = bucket / HISTOGRAM_SUB_COUNT - 1;
	uint64_t mantissa = bucket % HISTOGRAM_SUB_COUNT + HISTOGRAM_SUB_COUNT;
	uint64_t low = mantissa << shift;
	return low + ((UINT64_C(1) << shift) - 1) / 2;
}

void histogram_record(struct histogram *histogram, uint64_t value_us)
{
	histogram->buckets[histogram_bucket_of(value_us)]++;
	histogram->count++;
	histogram->sum_us += value_us;
	if (value_us < histogram->min_us)
		histogram->min_us = value_us;
	if (value_us > histogram->max_us)
		histogram->max_us = value_us;
}

void histogram_merge(struct histogram *into, const struct histogram *from)
{
	for (uint32_t b = 0; b < HISTOGRAM_BUCKETS_COUNT; b++)
		into->buckets[b] += from->buckets[b];
	into->count += from->count;
	into->sum_us += from->sum_us;
	if (from->min_us < into->min_us)
		into->min_us = from->min_us;
	if (from->max_us > into->max_us)
		into->max_us = from->max_us;
}

uint64_t histogram_quantile(const struct histogram *histogram, double q)
{
	ASSERT(q > 0 && q <= 1);
	if (histogram->count == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)histogram->count + 0.999999);
	if (rank >= histogram->count)
		return histogram->max_us;
	uint64_t seen = 0;
	for (uint32_t b = 0; b < HISTOGRAM_BUCKETS_COUNT; b++) {
		seen += histogram->buckets[b];
		if (seen >= rank) {
			/* The midpoint, but never outside what was actually seen. */
			uint64_t value = histogram_bucket_value(b);
			value = value < histogram->min_us ? histogram->min_us : value;
			return value > histogram->max_us ? histogram->max_us : value;
		}
	}
	return histogram->max_us;
}

void histogram_check(const struct histogram *histogram)
{
	uint64_t total = 0;
	for (uint32_t b = 0; b < HISTOGRAM_BUCKETS_COUNT; b++)
		total += histogram->buckets[b];
	ASSERT(total == histogram->count);
	ASSERT(histogram->count == 0 || histogram->min_us <= histogram->max_us);
}
