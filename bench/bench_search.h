/*
 * bench_search.h — the search index benchmark: builds a realistic catalog of
 * 100,000 events and about 250,000 shows, runs a mix of realistic queries, and
 * prints build time, throughput, latency percentiles and memory per event.
 */
#ifndef BOXOFFICE_BENCH_SEARCH_H
#define BOXOFFICE_BENCH_SEARCH_H

#include <stdint.h>

/* The same seed gives the same catalog and the same queries. */
void bench_search_run(uint64_t seed);

#endif
