/*
 * histogram.c — the run recorder and the bookings ledger (see histogram.h).
 */
#include "histogram.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_time.h"

#define AUDIT_IN_FLIGHT_MAX 512u
#define AUDIT_TIMEOUT_MS 60000
#define TABLE_HEADER "%-12s %9s %9s %9s %9s %9s %9s %9s %9s  statuses\n"

/* The recorder. */

static void op_stats_reset(struct bench_op_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	histogram_reset(&stats->latency);
}

int bench_recorder_init(struct bench_recorder *recorder, int64_t start_ns,
			uint32_t seconds_capacity)
{
	ASSERT(seconds_capacity > 0);
	memset(recorder, 0, sizeof(*recorder));
	recorder->start_ns = start_ns;
	for (uint32_t i = 0; i < BENCH_OP_COUNT; i++)
		op_stats_reset(&recorder->ops[i]);
	for (uint32_t i = 0; i < BENCH_PHASES_COUNT_MAX; i++)
		op_stats_reset(&recorder->phases[i]);
	histogram_reset(&recorder->second_latency);
	recorder->seconds = calloc(seconds_capacity, sizeof(*recorder->seconds));
	if (recorder->seconds == NULL)
		return -ENOMEM;
	recorder->seconds_capacity = seconds_capacity;
	return 0;
}

void bench_recorder_finish(struct bench_recorder *recorder)
{
	if (recorder == NULL)
		return;
	free(recorder->seconds);
	recorder->seconds = NULL;
}

void bench_recorder_phase(struct bench_recorder *recorder, const char *name, int64_t end_ns)
{
	ASSERT(recorder->phases_count < BENCH_PHASES_COUNT_MAX);
	ASSERT(recorder->phases_count == 0 ||
	       recorder->phase_ends_ns[recorder->phases_count - 1] <= end_ns);
	recorder->phase_names[recorder->phases_count] = name;
	recorder->phase_ends_ns[recorder->phases_count] = end_ns;
	recorder->phases_count++;
}

static struct bench_second *second_at(struct bench_recorder *recorder, int64_t time_ns)
{
	int64_t offset = time_ns - recorder->start_ns;
	uint64_t index = offset <= 0 ? 0 : (uint64_t)(offset / NS_PER_S);
	if (index >= recorder->seconds_capacity)
		index = recorder->seconds_capacity - 1;
	return &recorder->seconds[index];
}

static struct bench_op_stats *phase_at(struct bench_recorder *recorder, int64_t intended_ns)
{
	if (recorder->phases_count == 0)
		return NULL;
	int64_t offset = intended_ns - recorder->start_ns;
	uint32_t phase = 0;
	while (phase + 1 < recorder->phases_count && offset >= recorder->phase_ends_ns[phase])
		phase++;
	return &recorder->phases[phase];
}

void bench_recorder_offered(struct bench_recorder *recorder, enum bench_op op,
			    int64_t intended_ns)
{
	ASSERT(op < BENCH_OP_COUNT);
	recorder->ops[op].offered++;
	if (op == BENCH_WAIT)
		return; /* the series and the phases count WAITs apart, as they time them */
	second_at(recorder, intended_ns)->offered++;
	struct bench_op_stats *phase = phase_at(recorder, intended_ns);
	if (phase != NULL)
		phase->offered++;
}

void bench_recorder_completed(struct bench_recorder *recorder, enum bench_op op,
			      enum status status, int64_t intended_ns, int64_t done_ns)
{
	ASSERT(op < BENCH_OP_COUNT);
	ASSERT(status < STATUS_COUNT);
	/* A response can be timed a hair before an intended time read from another
	 * clock call; it is then 0 us, never negative. */
	uint64_t latency_us = done_ns > intended_ns ? (uint64_t)(done_ns - intended_ns) / 1000 : 0;
	struct bench_op_stats *stats = &recorder->ops[op];
	stats->completed++;
	stats->statuses[status]++;
	histogram_record(&stats->latency, latency_us);
	struct bench_second *second = second_at(recorder, done_ns);
	if (op == BENCH_WAIT) {
		second->waits_completed++;
		return;
	}
	struct bench_op_stats *phase = phase_at(recorder, intended_ns);
	if (phase != NULL) {
		phase->completed++;
		phase->statuses[status]++;
		histogram_record(&phase->latency, latency_us);
	}
	second->completed++;
	second->ok += status == STATUS_OK;
	second->refused += status != STATUS_OK;
	second->holds_ok += status == STATUS_OK && (op == BENCH_HOLD_SEATS || op == BENCH_HOLD_BEST);
	second->confirms_ok += status == STATUS_OK && op == BENCH_CONFIRM;
	histogram_record(&recorder->second_latency, latency_us);
}

void bench_recorder_user(struct bench_recorder *recorder, int64_t arrived_ns)
{
	second_at(recorder, arrived_ns)->users_arrived++;
}

/* Closes the open second: its latency quantiles from the second's histogram. */
static void second_close(struct bench_recorder *recorder, uint32_t in_flight)
{
	struct bench_second *second = &recorder->seconds[recorder->seconds_count];
	const struct histogram *h = &recorder->second_latency;
	second->p50_us = histogram_quantile(h, 0.50);
	second->p90_us = histogram_quantile(h, 0.90);
	second->p99_us = histogram_quantile(h, 0.99);
	second->max_us = h->max_us;
	second->in_flight = in_flight;
	histogram_reset(&recorder->second_latency);
	recorder->seconds_count++;
}

void bench_recorder_tick(struct bench_recorder *recorder, int64_t now_ns, uint32_t in_flight)
{
	int64_t elapsed = now_ns - recorder->start_ns;
	while (recorder->seconds_count + 1 < recorder->seconds_capacity &&
	       (int64_t)(recorder->seconds_count + 1) * NS_PER_S <= elapsed)
		second_close(recorder, in_flight);
}

void bench_recorder_end(struct bench_recorder *recorder, int64_t now_ns, uint32_t in_flight)
{
	bench_recorder_tick(recorder, now_ns, in_flight);
	if (recorder->seconds_count + 1 >= recorder->seconds_capacity)
		return;
	const struct bench_second *open = &recorder->seconds[recorder->seconds_count];
	if (open->users_arrived || open->offered || open->completed || open->waits_completed)
		second_close(recorder, in_flight);
}

const struct bench_second *bench_recorder_last(const struct bench_recorder *recorder)
{
	if (recorder->seconds_count == 0)
		return NULL;
	return &recorder->seconds[recorder->seconds_count - 1];
}

static const char *phase_name_at(const struct bench_recorder *recorder, uint32_t second)
{
	if (recorder->phases_count == 0)
		return "run";
	int64_t offset = (int64_t)second * NS_PER_S;
	uint32_t phase = 0;
	while (phase + 1 < recorder->phases_count && offset >= recorder->phase_ends_ns[phase])
		phase++;
	return recorder->phase_names[phase];
}

int bench_recorder_csv(const struct bench_recorder *recorder, const char *path)
{
	FILE *file = fopen(path, "w");
	if (file == NULL)
		return -errno;
	fprintf(file, "second,phase,users_arrived,offered_ops,completed_ops,ok_ops,refused_ops,"
		      "p50_ms,p90_ms,p99_ms,max_ms,holds_ok,confirms_ok,waits_completed,in_flight\n");
	for (uint32_t i = 0; i < recorder->seconds_count; i++) {
		const struct bench_second *s = &recorder->seconds[i];
		fprintf(file, "%u,%s,%llu,%llu,%llu,%llu,%llu,%.3f,%.3f,%.3f,%.3f,%llu,%llu,%llu,%u\n",
			i, phase_name_at(recorder, i), (unsigned long long)s->users_arrived,
			(unsigned long long)s->offered, (unsigned long long)s->completed,
			(unsigned long long)s->ok, (unsigned long long)s->refused,
			(double)s->p50_us / 1000.0, (double)s->p90_us / 1000.0,
			(double)s->p99_us / 1000.0, (double)s->max_us / 1000.0,
			(unsigned long long)s->holds_ok, (unsigned long long)s->confirms_ok,
			(unsigned long long)s->waits_completed, s->in_flight);
	}
	int rc = ferror(file) ? -EIO : 0;
	if (fclose(file) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

static const double quantiles[] = { 0.50, 0.90, 0.99, 0.999 };
static const char *const quantile_names[] = { "p50", "p90", "p99", "p999" };

static void json_latency(const struct histogram *h, FILE *out)
{
	fprintf(out, "{");
	for (uint32_t q = 0; q < ARRAY_COUNT(quantiles); q++)
		fprintf(out, "\"%s\": %.3f, ", quantile_names[q],
			(double)histogram_quantile(h, quantiles[q]) / 1000.0);
	double mean = h->count ? (double)h->sum_us / (double)h->count / 1000.0 : 0;
	fprintf(out, "\"max\": %.3f, \"mean\": %.3f}", (double)h->max_us / 1000.0, mean);
}

static void json_statuses(const struct bench_op_stats *stats, FILE *out)
{
	fprintf(out, "{");
	const char *separator = "";
	for (uint32_t s = 0; s < STATUS_COUNT; s++) {
		if (stats->statuses[s] == 0)
			continue;
		fprintf(out, "%s\"%s\": %llu", separator, status_name(s),
			(unsigned long long)stats->statuses[s]);
		separator = ", ";
	}
	fprintf(out, "}");
}

static void json_stats(const struct bench_op_stats *stats, FILE *out, double seconds)
{
	fprintf(out, "{\"offered\": %llu, \"completed\": %llu, \"offered_per_s\": %.1f, "
		     "\"achieved_per_s\": %.1f, \"latency_ms\": ",
		(unsigned long long)stats->offered, (unsigned long long)stats->completed,
		seconds > 0 ? (double)stats->offered / seconds : 0,
		seconds > 0 ? (double)stats->completed / seconds : 0);
	json_latency(&stats->latency, out);
	fprintf(out, ", \"statuses\": ");
	json_statuses(stats, out);
	fprintf(out, "}");
}

void bench_recorder_json_ops(const struct bench_recorder *recorder, FILE *out, double elapsed_s)
{
	const char *separator = "";
	for (uint32_t op = 0; op < BENCH_OP_COUNT; op++) {
		if (recorder->ops[op].offered == 0 && recorder->ops[op].completed == 0)
			continue;
		fprintf(out, "%s\n    \"%s\": ", separator, bench_op_name(op));
		json_stats(&recorder->ops[op], out, elapsed_s);
		separator = ",";
	}
}

/* A phase's length: from the previous phase's end to its own, the last one to the
 * end of the run. */
static double phase_seconds(const struct bench_recorder *recorder, uint32_t phase,
			    double elapsed_s)
{
	double begin = phase == 0 ? 0 : (double)recorder->phase_ends_ns[phase - 1] / 1e9;
	double end = (double)recorder->phase_ends_ns[phase] / 1e9;
	if (phase + 1 == recorder->phases_count || end > elapsed_s)
		end = elapsed_s;
	return end > begin ? end - begin : 0;
}

void bench_recorder_json_phases(const struct bench_recorder *recorder, FILE *out,
				double elapsed_s)
{
	for (uint32_t p = 0; p < recorder->phases_count; p++) {
		double begin = p == 0 ? 0 : (double)recorder->phase_ends_ns[p - 1] / 1e9;
		fprintf(out, "%s\n    {\"name\": \"%s\", \"start_s\": %.3f, \"seconds\": %.3f, "
			     "\"stats\": ",
			p ? "," : "", recorder->phase_names[p], begin,
			phase_seconds(recorder, p, elapsed_s));
		json_stats(&recorder->phases[p], out, phase_seconds(recorder, p, elapsed_s));
		fprintf(out, "}");
	}
}

static void print_row(FILE *out, const char *name, const struct bench_op_stats *s,
		      double seconds)
{
	const struct histogram *h = &s->latency;
	fprintf(out, "%-12s %9llu %9.1f %9.1f %9.3f %9.3f %9.3f %9.3f %9.3f ", name,
		(unsigned long long)s->completed, seconds > 0 ? (double)s->offered / seconds : 0,
		seconds > 0 ? (double)s->completed / seconds : 0,
		(double)histogram_quantile(h, 0.50) / 1000.0,
		(double)histogram_quantile(h, 0.90) / 1000.0,
		(double)histogram_quantile(h, 0.99) / 1000.0,
		(double)histogram_quantile(h, 0.999) / 1000.0, (double)h->max_us / 1000.0);
	for (uint32_t st = 0; st < STATUS_COUNT; st++) {
		if (s->statuses[st] != 0)
			fprintf(out, " %s=%llu", status_name(st), (unsigned long long)s->statuses[st]);
	}
	fprintf(out, "\n");
}

void bench_recorder_print(const struct bench_recorder *recorder, FILE *out, double elapsed_s)
{
	fprintf(out, TABLE_HEADER, "operation", "count", "offered/s", "done/s", "p50 ms", "p90 ms",
		"p99 ms", "p99.9 ms", "max ms");
	for (uint32_t op = 0; op < BENCH_OP_COUNT; op++) {
		if (recorder->ops[op].offered == 0 && recorder->ops[op].completed == 0)
			continue;
		print_row(out, bench_op_name(op), &recorder->ops[op], elapsed_s);
	}
	if (recorder->phases_count <= 1)
		return;
	fprintf(out, "\nphases (every operation but WAIT, by intended send time):\n");
	fprintf(out, TABLE_HEADER, "phase", "count", "offered/s", "done/s", "p50 ms", "p90 ms",
		"p99 ms", "p99.9 ms", "max ms");
	for (uint32_t p = 0; p < recorder->phases_count; p++)
		print_row(out, recorder->phase_names[p], &recorder->phases[p],
			  phase_seconds(recorder, p, elapsed_s));
}

/* The ledger of acknowledged bookings. */

void bench_payment_ref(uint64_t user_id, char ref[32])
{
	snprintf(ref, 32, "bb-%llu", (unsigned long long)user_id);
}

int bench_ledger_init(struct bench_ledger *ledger, uint32_t capacity)
{
	*ledger = (struct bench_ledger){ .capacity = capacity };
	ledger->bookings = calloc(capacity, sizeof(*ledger->bookings));
	return ledger->bookings == NULL ? -ENOMEM : 0;
}

void bench_ledger_finish(struct bench_ledger *ledger)
{
	if (ledger == NULL)
		return;
	free(ledger->bookings);
	ledger->bookings = NULL;
}

void bench_ledger_add(struct bench_ledger *ledger, uint64_t hold_id, uint64_t user_id,
		      const uint32_t *seats, uint8_t seats_count)
{
	ASSERT(seats_count >= 1 && seats_count <= BENCH_USER_SEATS_MAX);
	if (ledger->count == ledger->capacity) {
		ledger->dropped++;
		return;
	}
	struct bench_booking *b = &ledger->bookings[ledger->count++];
	*b = (struct bench_booking){ .hold_id = hold_id, .user_id = user_id,
				     .seats_count = seats_count };
	memcpy(b->seats, seats, sizeof(uint32_t) * seats_count);
	ledger->seats_count += seats_count;
}

static int u64_compare(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Seats named by two bookings: (show, seat) pairs sorted, then neighbours compared. */
static int ledger_double_claims(const struct bench_ledger *ledger, uint64_t *claims)
{
	uint64_t *pairs = malloc(sizeof(uint64_t) * (ledger->seats_count + 1));
	if (pairs == NULL)
		return -ENOMEM;
	uint64_t n = 0;
	for (uint32_t i = 0; i < ledger->count; i++) {
		const struct bench_booking *b = &ledger->bookings[i];
		for (uint8_t s = 0; s < b->seats_count; s++)
			pairs[n++] = (b->hold_id >> 32) << 32 | b->seats[s];
	}
	ASSERT(n == ledger->seats_count);
	qsort(pairs, n, sizeof(uint64_t), u64_compare);
	*claims = 0;
	for (uint64_t i = 1; i < n; i++)
		*claims += pairs[i] == pairs[i - 1];
	free(pairs);
	return 0;
}

struct read_back {
	const struct bench_ledger *ledger;
	struct bench_audit_report *report;
	uint32_t in_flight;
};

struct read_back_item {
	struct read_back *read_back;
	uint32_t index;
};

static bool seats_same(const uint32_t *a, uint8_t a_count, const uint32_t *b, uint8_t b_count)
{
	return a_count == b_count && memcmp(a, b, sizeof(uint32_t) * a_count) == 0;
}

static void read_back_done(void *context, const struct bench_result *result)
{
	struct read_back_item *item = context;
	struct read_back *rb = item->read_back;
	const struct bench_booking *b = &rb->ledger->bookings[item->index];
	bool same = result->status == STATUS_OK && result->hold_id == b->hold_id &&
		    seats_same(result->seats, result->seats_count, b->seats, b->seats_count);
	if (same)
		rb->report->read_back_ok++;
	else
		rb->report->read_back_failed++;
	if (!same && rb->report->read_back_failed <= 5)
		fprintf(stderr, "boxbench: audit: booking %llx of user %llu reads back as %s\n",
			(unsigned long long)b->hold_id, (unsigned long long)b->user_id,
			status_name(result->status));
	rb->in_flight--;
}

int bench_drive_down(const struct bench_target_ops *ops, struct bench_target *target,
		     const uint32_t *in_flight, uint32_t level, int timeout_ms)
{
	int64_t deadline_ns = clock_ns() + (int64_t)timeout_ms * 1000000;
	while (*in_flight > level) {
		int rc = ops->poll(target, 10000);
		if (rc < 0)
			return rc;
		if (clock_ns() > deadline_ns) {
			fprintf(stderr, "boxbench: audit: the target stopped answering\n");
			return -ETIMEDOUT;
		}
	}
	return 0;
}

static int read_back_all(const struct bench_ledger *ledger, const struct bench_target_ops *ops,
			 struct bench_target *target, struct read_back *rb,
			 struct read_back_item *items)
{
	for (uint32_t i = 0; i < ledger->count; i++) {
		const struct bench_booking *b = &ledger->bookings[i];
		struct bench_request request = { .op = BENCH_CONFIRM, .user_id = b->user_id,
						 .hold_id = b->hold_id };
		bench_payment_ref(b->user_id, request.payment_ref);
		items[i] = (struct read_back_item){ .read_back = rb, .index = i };
		int rc = bench_drive_down(ops, target, &rb->in_flight, AUDIT_IN_FLIGHT_MAX - 1,
					  AUDIT_TIMEOUT_MS);
		while (rc == 0 && (rc = ops->submit(target, &request, read_back_done, &items[i])) == -EAGAIN)
			rc = ops->poll(target, 10000) < 0 ? -EIO : 0;
		if (rc < 0)
			return rc;
		rb->in_flight++;
	}
	return bench_drive_down(ops, target, &rb->in_flight, 0, AUDIT_TIMEOUT_MS);
}

int bench_ledger_audit(const struct bench_ledger *ledger, const struct bench_target_ops *ops,
		       struct bench_target *target, struct bench_audit_report *report)
{
	report->ran = true;
	report->bookings = ledger->count;
	report->seats_confirmed = ledger->seats_count;
	report->bookings_dropped = ledger->dropped;
	int rc = ledger_double_claims(ledger, &report->double_claims);
	if (rc < 0)
		return rc;
	struct read_back_item *items = calloc(ledger->count + 1, sizeof(*items));
	if (items == NULL)
		return -ENOMEM;
	struct read_back rb = { .ledger = ledger, .report = report };
	rc = read_back_all(ledger, ops, target, &rb, items);
	free(items);
	report->passed = rc == 0 && report->double_claims == 0 && report->read_back_failed == 0;
	return rc;
}
