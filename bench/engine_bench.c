/*
 * engine_bench.c — the engine alone, on one core, no I/O: how many holds, confirms,
 * releases and expiries per second, how fast best-available is in a nearly full
 * show, how fast search is, and how many bytes a seat and a hold cost.
 *
 * Prints one figure a line as `name: value unit`. Each rate is the median of
 * BENCH_REPEATS timed repetitions. Usage: engine_bench [--quick] [--seed N]
 * [--only PREFIX] (--quick shrinks every loop for a smoke run; its figures mean
 * little; --only runs the figures whose name starts with PREFIX).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_search.h"
#include "engine.h"

#define BENCH_REPEATS 5
#define SHOW_ID 1u
#define SEATS_COUNT 50000u

static uint32_t scale = 1;	 /* loop sizes are divided by this with --quick */
static const char *only = NULL; /* --only: run the figures whose name starts so */

static bool wanted(const char *name)
{
	return only == NULL || strncmp(name, only, strlen(only)) == 0;
}

static double seconds_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *values, int count)
{
	qsort(values, (size_t)count, sizeof(double), compare_double);
	return values[count / 2];
}

static struct layout_builder layout;

/*
 * A 50,000-seat venue: 25 sections of 40 rows of 50 seats; sections 1-5 VIP, 6-15
 * regular, 16-25 economy (10,000, 20,000 and 20,000 seats).
 */
static struct engine *bench_engine_shows(uint32_t shows)
{
	struct engine_config config;
	engine_config_default(&config);
	struct engine *engine = engine_create(&config);
	struct engine_result result;
	struct command c = { .type = COMMAND_LOCATION_PUT };
	c.location_put = (struct command_location_put){
		.location_id = 1, .name = text_from_cstr("Bench"), .country = { 'X', 'X' } };
	engine_apply(engine, &c, 0, &result);
	layout_builder_finish(&layout);
	layout_builder_init(&layout);
	for (uint32_t s = 0; s < 25; s++) {
		char name[16];
		snprintf(name, sizeof(name), "S%u", s + 1);
		layout_builder_section(&layout, name);
		for (uint32_t r = 0; r < 40; r++) {
			snprintf(name, sizeof(name), "%u", r + 1);
			layout_builder_row(&layout, name, 1, 50,
					   s < 5 ? TIER_VIP : s < 15 ? TIER_REGULAR : TIER_ECONOMY);
		}
	}
	c = (struct command){ .type = COMMAND_VENUE_PUT };
	c.venue_put = (struct command_venue_put){ .venue_id = 1, .location_id = 1,
						  .name = text_from_cstr("Stadium") };
	if (layout_builder_layout(&layout, &c.venue_put.layout) != STATUS_OK)
		abort();
	engine_apply(engine, &c, 0, &result);
	c = (struct command){ .type = COMMAND_EVENT_PUT };
	c.event_put = (struct command_event_put){ .event_id = 1, .location_id = 1,
						  .title = text_from_cstr("Final") };
	engine_apply(engine, &c, 0, &result);
	for (uint32_t i = 0; i < shows; i++) {
		c = (struct command){ .type = COMMAND_SHOW_PUT };
		c.show_put = (struct command_show_put){
			.show_id = SHOW_ID + i, .event_id = 1, .venue_id = 1,
			.start_ms = 1LL << 40, .end_ms = (1LL << 40) + 1,
			.currency = { 'E', 'U', 'R' }, .sale_opens_ms = 0,
			.sale_closes_ms = 1LL << 40 };
		engine_apply(engine, &c, 0, &result);
		if (result.status != STATUS_OK)
			abort();
	}
	return engine;
}

static struct engine *bench_engine(void)
{
	return bench_engine_shows(1);
}

static struct command hold_command(uint64_t user, uint8_t count, uint32_t first)
{
	struct command c = { .type = COMMAND_HOLD };
	c.hold = (struct command_hold){ .show_id = SHOW_ID, .user_id = user, .seats_count = count };
	for (uint8_t i = 0; i < count; i++)
		c.hold.seats[i] = first + i;
	return c;
}

static struct command release_command(uint64_t hold_id, uint64_t user)
{
	struct command c = { .type = COMMAND_RELEASE };
	c.release = (struct command_release){ .hold_id = hold_id, .user_id = user };
	return c;
}

static void apply_ok(struct engine *engine, const struct command *c, int64_t now,
		     struct engine_result *result)
{
	engine_apply(engine, c, now, result);
	if (result->status != STATUS_OK) {
		fprintf(stderr, "engine_bench: %s refused: %s\n", command_type_name(c->type),
			status_name(result->status));
		exit(1);
	}
}

/* Single-seat explicit hold, then release, over every seat in turn. */
static double bench_hold_release(struct engine *engine)
{
	uint32_t pairs = 2000000 / scale;
	struct engine_result result;
	double start = seconds_now();
	for (uint32_t i = 0; i < pairs; i++) {
		int64_t now = 1 + i / 1024;
		struct command hold = hold_command(1 + i % 64, 1, (i * 7919) % SEATS_COUNT);
		apply_ok(engine, &hold, now, &result);
		struct command release = release_command(result.hold_id, hold.hold.user_id);
		apply_ok(engine, &release, now, &result);
	}
	return pairs / (seconds_now() - start);
}

/* 4-seat explicit holds filling the show; the releases are not timed. */
static double bench_hold4(struct engine *engine, int64_t *now)
{
	uint32_t holds = SEATS_COUNT / 4;
	static uint64_t ids[SEATS_COUNT / 4];
	struct engine_result result;
	double elapsed = 0;
	for (uint32_t round = 0; round < 8 / (scale > 8 ? 8 : scale); round++) {
		double start = seconds_now();
		for (uint32_t i = 0; i < holds; i++) {
			struct command hold = hold_command(1 + i / 2, 4, i * 4);
			apply_ok(engine, &hold, *now, &result);
			ids[i] = result.hold_id;
		}
		elapsed += seconds_now() - start;
		for (uint32_t i = 0; i < holds; i++) {
			struct command release = release_command(ids[i], 1 + i / 2);
			apply_ok(engine, &release, *now, &result);
		}
		(*now)++;
	}
	return holds * (8.0 / (scale > 8 ? 8 : scale)) / elapsed;
}

/*
 * Fills 90% of every tier: front to back (the way a sale fills a venue) or at
 * random seats (a venue fragmented by expiries and releases).
 */
static void fill_ninety_percent(struct engine *engine, bool fragmented, int64_t now)
{
	struct engine_result result;
	uint64_t x = 0x2545f4914f6cdd1d;
	uint32_t held = 0;
	uint64_t user = 1000000;
	while (held < SEATS_COUNT * 9 / 10) {
		uint32_t seat;
		if (fragmented) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			seat = (uint32_t)(x % SEATS_COUNT);
		} else {
			seat = held; /* the first 90% of seats in layout order */
		}
		struct command hold = hold_command(user++, 1, seat);
		engine_apply(engine, &hold, now, &result);
		held += result.status == STATUS_OK;
	}
}

/* Best-available 4 economy seats in batches of 100; releasing them is not timed. */
static double bench_best_available(bool fragmented, bool together)
{
	struct engine *engine = bench_engine();
	fill_ninety_percent(engine, fragmented, 1);
	uint32_t batches = 2000 / scale;
	uint64_t ids[100];
	struct engine_result result;
	double elapsed = 0;
	for (uint32_t b = 0; b < batches; b++) {
		double start = seconds_now();
		for (uint32_t i = 0; i < 100; i++) {
			struct command c = { .type = COMMAND_HOLD };
			c.hold = (struct command_hold){ .show_id = SHOW_ID, .user_id = 1 + i,
							.best = true, .seats_count = 4,
							.tier = TIER_ECONOMY, .together = together };
			apply_ok(engine, &c, 2, &result);
			ids[i] = result.hold_id;
		}
		elapsed += seconds_now() - start;
		for (uint32_t i = 0; i < 100; i++) {
			struct command release = release_command(ids[i], 1 + i);
			apply_ok(engine, &release, 2, &result);
		}
	}
	engine_destroy(engine);
	return batches * 100.0 / elapsed;
}

/* Public seat states of the whole 50,000-seat show (the SEATMAP read), 90% held at random. */
static double run_seat_states(void)
{
	struct engine *engine = bench_engine();
	fill_ninety_percent(engine, true, 1);
	uint8_t *states = malloc(SEATS_COUNT);
	uint32_t maps = 20000 / scale;
	uint64_t check = 0;
	double start = seconds_now();
	for (uint32_t i = 0; i < maps; i++) {
		if (engine_show_seat_states(engine, SHOW_ID, states, SEATS_COUNT) != SEATS_COUNT)
			abort();
		check += states[i % SEATS_COUNT];
	}
	double elapsed = seconds_now() - start;
	if (check > (uint64_t)maps * 3)
		abort();
	free(states);
	engine_destroy(engine);
	return maps / elapsed;
}

/* The same map packed two bits per seat, as SEATMAP sends it. */
static double run_seat_states_packed(void)
{
	struct engine *engine = bench_engine();
	fill_ninety_percent(engine, true, 1);
	uint32_t words = SEATS_COUNT / 4 + 1;
	uint8_t *packed = malloc(words);
	uint32_t maps = 100000 / scale;
	uint64_t check = 0;
	double start = seconds_now();
	for (uint32_t i = 0; i < maps; i++) {
		if (engine_show_seat_states_packed(engine, SHOW_ID, packed, words) != SEATS_COUNT)
			abort();
		check += packed[i % words] & 3;
	}
	double elapsed = seconds_now() - start;
	if (check > (uint64_t)maps * 3)
		abort();
	free(packed);
	engine_destroy(engine);
	return maps / elapsed;
}

/* Confirms of 2-seat holds: the holds are made untimed, the confirms timed. */
static double bench_confirm(void)
{
	struct engine *engine = bench_engine();
	uint32_t holds = SEATS_COUNT / 2 / (scale > 4 ? 4 : scale);
	uint64_t *ids = malloc(sizeof(uint64_t) * holds);
	struct engine_result result;
	for (uint32_t i = 0; i < holds; i++) {
		struct command hold = hold_command(1 + i / 5, 2, i * 2);
		apply_ok(engine, &hold, 1, &result);
		ids[i] = result.hold_id;
	}
	struct command c = { .type = COMMAND_CONFIRM };
	c.confirm.payment_ref = text_from_cstr("pi_0123456789abcdef");
	double start = seconds_now();
	for (uint32_t i = 0; i < holds; i++) {
		c.confirm.hold_id = ids[i];
		c.confirm.user_id = 1 + i / 5;
		apply_ok(engine, &c, 2, &result);
	}
	double rate = holds / (seconds_now() - start);
	free(ids);
	engine_destroy(engine);
	return rate;
}

/* Single-seat holds on every seat, all due within 1 s; the ticks that expire them are timed. */
static double bench_expiry(void)
{
	struct engine *engine = bench_engine();
	struct engine_result result;
	uint32_t holds = SEATS_COUNT / scale;
	for (uint32_t i = 0; i < holds; i++) {
		struct command hold = hold_command(1 + i, 1, i);
		hold.hold.ttl_ms = 1000 + i % 1000;
		apply_ok(engine, &hold, 1, &result);
	}
	struct command tick = { .type = COMMAND_TICK };
	double start = seconds_now();
	for (int64_t now = 1001; now <= 2001; now += 10)
		apply_ok(engine, &tick, now, &result);
	double rate = holds / (seconds_now() - start);
	struct engine_stats stats;
	engine_stats_get(engine, &stats);
	if (stats.holds_active != 0)
		abort();
	engine_destroy(engine);
	return rate;
}

static void report_rate(const char *name, double (*run)(void), const char *unit)
{
	double values[BENCH_REPEATS];
	if (!wanted(name))
		return;
	for (int r = 0; r < BENCH_REPEATS; r++)
		values[r] = run();
	printf("%s: %.0f %s\n", name, median(values, BENCH_REPEATS), unit);
	fflush(stdout);
}

static double run_hold_release(void)
{
	struct engine *engine = bench_engine();
	double rate = bench_hold_release(engine);
	engine_destroy(engine);
	return rate;
}

static double run_hold4(void)
{
	struct engine *engine = bench_engine();
	int64_t now = 1;
	double rate = bench_hold4(engine, &now);
	engine_destroy(engine);
	return rate;
}

static double run_best_front(void)
{
	return bench_best_available(false, false);
}

static double run_best_front_together(void)
{
	return bench_best_available(false, true);
}

static double run_best_fragmented(void)
{
	return bench_best_available(true, false);
}

/*
 * The memory a hold of `seats` seats costs: its record, its entry in the hold-id
 * table and its seats in the pool, all with the unused room their arrays carry.
 * That room depends on how many holds there are, so the figure is the worst over
 * every count from 10,000 holds up to MEMORY_SHOWS full shows, taken each 1,000.
 */
#define MEMORY_SHOWS 8u

static void report_hold_memory(uint8_t seats)
{
	struct engine *engine = bench_engine_shows(MEMORY_SHOWS);
	uint32_t per_show = SEATS_COUNT / seats, total = per_show * MEMORY_SHOWS;
	double worst = 0;
	struct engine_result result;
	for (uint32_t i = 0; i < total; i++) {
		struct command hold = hold_command(1 + i, seats, (i % per_show) * seats);
		hold.hold.show_id = SHOW_ID + i / per_show;
		apply_ok(engine, &hold, 1, &result);
		if ((i + 1) % 1000 != 0 || i + 1 < 10000)
			continue;
		struct engine_stats stats;
		engine_stats_get(engine, &stats);
		double bytes = (double)stats.hold_bytes / (double)stats.holds_active;
		worst = bytes > worst ? bytes : worst;
	}
	printf("hold_bytes_per_hold_%u_seat%s: %.1f bytes (worst from 10000 to %u holds)\n",
	       seats, seats > 1 ? "s" : "", worst, total);
	engine_destroy(engine);
}

/* Memory: seat state per seat, and what a hold of 1 and of 4 seats costs. */
static void report_memory(void)
{
	struct engine *engine = bench_engine();
	struct engine_stats stats;
	engine_stats_get(engine, &stats);
	printf("seat_state_bytes_per_seat: %.3f bytes\n",
	       (double)stats.seat_state_bytes / (double)stats.seats_owned);
	engine_destroy(engine);
	report_hold_memory(1);
	report_hold_memory(4);
}

int main(int argc, char **argv)
{
	uint64_t seed = 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			scale = 50;
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: engine_bench [--quick] [--seed N] [--only PREFIX]\n");
			return 2;
		}
	}
	report_rate("hold_release_pairs_per_s", run_hold_release, "pairs/s");
	report_rate("explicit_hold_4_seats_per_s", run_hold4, "holds/s");
	report_rate("best_available_4_front_filled_90pct_per_s", run_best_front, "holds/s");
	report_rate("best_available_4_together_front_filled_90pct_per_s",
		    run_best_front_together, "holds/s");
	report_rate("best_available_4_fragmented_90pct_per_s", run_best_fragmented, "holds/s");
	report_rate("seat_states_50k_seats_per_s", run_seat_states, "maps/s");
	report_rate("seat_states_packed_50k_seats_per_s", run_seat_states_packed, "maps/s");
	report_rate("confirms_per_s", bench_confirm, "confirms/s");
	report_rate("expiries_per_s", bench_expiry, "expiries/s");
	if (wanted("seat_state") || wanted("hold_bytes"))
		report_memory();
	if (wanted("search"))
		bench_search_run(seed);
	layout_builder_finish(&layout);
	return 0;
}
