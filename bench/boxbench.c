/*
 * boxbench — the on-sale load generator (bench/WORKLOAD.md): drives a running
 * boxoffice server, or a peer (PostgreSQL, Redis) through the same interface
 * (bench/target.h), with simulated users, and reports per operation the offered and
 * achieved rates, latency percentiles and statuses, a per-second time series (CSV,
 * and a gnuplot PNG of throughput and p99 across the spike), then audits the result
 * through the server.
 *
 * One thread: the profile submits what is due, the target writes it all on its next
 * poll and calls back as responses come, and the recorder files each completion.
 * Open loop by default: every operation has an intended send time, fixed before it
 * is sent, and its latency is counted from there, so a server (or a generator) that
 * stalls cannot hide the stall by delaying the requests it would have been sent.
 * Run `boxbench --help` for the options.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_time.h"
#include "browse.h"
#include "histogram.h"
#include "onsale.h"
#include "target.h"

#define POLL_TIMEOUT_MS_MAX 10
#define SERIES_SLACK_S 120u

extern char **environ;

/* Peers are compiled in only when meson has their client libraries. */
static const struct bench_target_ops *const targets[] = {
	&bench_target_boxoffice,
#ifdef BOXBENCH_POSTGRES
	&bench_target_postgres,
#endif
#ifdef BOXBENCH_REDIS
	&bench_target_redis,
#endif
};

static const char *const op_names[BENCH_OP_COUNT] = {
	[BENCH_SEATMAP] = "SEATMAP",	 [BENCH_HOLD_SEATS] = "HOLD_SEATS",
	[BENCH_HOLD_BEST] = "HOLD_BEST", [BENCH_CONFIRM] = "CONFIRM",
	[BENCH_RELEASE] = "RELEASE",	 [BENCH_JOIN] = "JOIN",
	[BENCH_WAIT] = "WAIT",		 [BENCH_LOCATIONS] = "LOCATIONS",
	[BENCH_EVENTS] = "EVENTS",	 [BENCH_EVENT] = "EVENT",
	[BENCH_SHOW] = "SHOW",		 [BENCH_SEARCH] = "SEARCH",
};

const char *bench_op_name(enum bench_op op)
{
	return (unsigned)op < BENCH_OP_COUNT ? op_names[op] : "?";
}

enum profile { PROFILE_ONSALE, PROFILE_BROWSE };

struct options {
	const struct bench_target_ops *target;
	const char *address;
	enum profile profile;
	bool closed;
	uint32_t connections;
	double baseline_rate;
	double spike_factor;
	double pre_s;
	double spike_s;
	double post_s;
	double rate; /* browse open: operations/s; closed: operations in flight */
	bool rate_set;
	uint32_t hold_ttl_ms;
	uint32_t think_ms_min;
	uint32_t think_ms_max;
	double confirm_p;
	double offer_confirm_p;
	uint64_t seed;
	const char *csv;
	const char *plot;
	const char *plot_script;
	bool json;
	double duration_s;
	double drain_s;
	uint32_t idle_ms;
	uint32_t wait_timeout_ms;
	uint32_t views_per_booking;
	bool quiet;
	bool shard_aware;
};

static const char usage_text[] =
	"usage: boxbench --target boxoffice|postgres|redis --address HOST:PORT|CONNINFO\n"
	"                --profile onsale|browse [options]\n"
	"\n"
	"Drives a running server with simulated users (bench/WORKLOAD.md), reports\n"
	"latency and throughput per operation, and audits the outcome through the server.\n"
	"\n"
	"  --target NAME           boxoffice (default)%s\n"
	"  --address A             HOST:PORT (boxoffice, redis; default 127.0.0.1:7878 for\n"
	"                          boxoffice) or a libpq conninfo (postgres)\n"
	"  --profile P             onsale (default): one hot show of 50,000 seats, users\n"
	"                          arriving at a baseline rate, then a spike, then the\n"
	"                          baseline again; browse (boxoffice only, needs --demo):\n"
	"                          catalog views with one booking per --views-per-booking\n"
	"  --mode open|closed      open (default): arrivals at the given rate, latency from\n"
	"                          each request's intended send time; closed: keep --rate\n"
	"                          operations in flight, to find the maximum rate\n"
	"  --connections N         connections to the server (default 16)\n"
	"  --shard-aware           boxoffice: send each request on a connection of its\n"
	"                          show's shard when one has room (PROTOCOL.md)\n"
	"  --baseline-rate U       onsale: users arriving per second (default 100)\n"
	"  --spike-factor F        onsale: the spike's rate is F x baseline (default 50)\n"
	"  --pre-s S               onsale: seconds at baseline before the spike (default 5)\n"
	"  --spike-s S             onsale: seconds of spike (default 2)\n"
	"  --post-s S              onsale: seconds at baseline after it (default 10)\n"
	"  --rate R                browse open: operations per second (default 2000);\n"
	"                          closed: operations in flight (default 64; WAITs excluded)\n"
	"  --duration S            browse, and closed loop: seconds of arrivals (default 10)\n"
	"  --hold-ttl-ms MS        the show's hold lifetime (default 10000): short holds\n"
	"                          compress time, abandoned holds come back sooner\n"
	"  --think-ms MIN:MAX      a user's think time before confirming (default 500:3000)\n"
	"  --confirm-p P           a hold is confirmed with probability P (default 0.7)\n"
	"  --offer-confirm-p P     an offer from the line is confirmed with P (default 0.9)\n"
	"  --views-per-booking N   browse: views per booking (default 10000)\n"
	"  --wait-timeout-ms MS    a parked WAIT's timeout; it is re-issued (default 5000)\n"
	"  --drain-s S             after arrivals end, how long users may finish (default 60)\n"
	"  --idle-ms MS            waiting-list idle limit asked of the target's setup\n"
	"                          (default 120000; boxoffice: the server's own option)\n"
	"  --seed N                random seed (default 1)\n"
	"  --csv FILE              write the per-second time series as CSV (the last row\n"
	"                          may cover the run's last, partial second)\n"
	"  --plot FILE.png         plot throughput and p99 per second with gnuplot\n"
	"  --plot-script FILE      the gnuplot script (default: plot.gp found next to the\n"
	"                          program, in ../../bench/ from it, or in ./bench/)\n"
	"  --json                  print the results as JSON on stdout (the summary goes to\n"
	"                          stderr)\n"
	"  --quiet                 no progress line\n"
	"  --help                  this text\n"
	"\n"
	"Exit status: 0 when the audit passed, 1 when it failed, 2 on an error, 64 on a\n"
	"usage error.\n";

static void usage(FILE *out)
{
	char peers[64] = "";
	for (size_t i = 1; i < ARRAY_COUNT(targets); i++) {
		size_t used = strlen(peers);
		snprintf(peers + used, sizeof(peers) - used, ", %s", targets[i]->name);
	}
	if (ARRAY_COUNT(targets) == 1)
		snprintf(peers, sizeof(peers), " (peers not compiled in)");
	fprintf(out, usage_text, peers);
}

static _Noreturn void usage_fail(const char *what, const char *value)
{
	fprintf(stderr, "boxbench: %s%s%s\n", what, value ? ": " : "", value ? value : "");
	fprintf(stderr, "Try 'boxbench --help'.\n");
	exit(64);
}

static double number(const char *name, const char *value, double min, double max)
{
	char *end;
	errno = 0;
	double x = strtod(value, &end);
	if (errno != 0 || end == value || *end != '\0' || !(x >= min && x <= max)) {
		char what[128];
		snprintf(what, sizeof(what), "%s wants a number in [%g, %g]", name, min, max);
		usage_fail(what, value);
	}
	return x;
}

static void think_parse(const char *value, struct options *o)
{
	char buffer[64];
	snprintf(buffer, sizeof(buffer), "%s", value);
	char *colon = strchr(buffer, ':');
	if (colon == NULL)
		usage_fail("--think-ms wants MIN:MAX", value);
	*colon = '\0';
	o->think_ms_min = (uint32_t)number("--think-ms", buffer, 0, 3600000);
	o->think_ms_max = (uint32_t)number("--think-ms", colon + 1, 0, 3600000);
	if (o->think_ms_min > o->think_ms_max)
		usage_fail("--think-ms wants MIN <= MAX", value);
}

static const struct bench_target_ops *target_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_COUNT(targets); i++) {
		if (strcmp(targets[i]->name, name) == 0)
			return targets[i];
	}
	usage_fail("unknown or not compiled-in target", name);
}

/* Options that take a value; returns false for one this does not know. */
static bool option_value(struct options *o, const char *name, const char *v)
{
	if (strcmp(name, "--target") == 0)
		o->target = target_find(v);
	else if (strcmp(name, "--address") == 0)
		o->address = v;
	else if (strcmp(name, "--profile") == 0 && strcmp(v, "onsale") == 0)
		o->profile = PROFILE_ONSALE;
	else if (strcmp(name, "--profile") == 0 && strcmp(v, "browse") == 0)
		o->profile = PROFILE_BROWSE;
	else if (strcmp(name, "--mode") == 0 && (strcmp(v, "open") == 0 || strcmp(v, "closed") == 0))
		o->closed = strcmp(v, "closed") == 0;
	else if (strcmp(name, "--connections") == 0)
		o->connections = (uint32_t)number(name, v, 1, 4096);
	else if (strcmp(name, "--baseline-rate") == 0)
		o->baseline_rate = number(name, v, 0, 1e7);
	else if (strcmp(name, "--spike-factor") == 0)
		o->spike_factor = number(name, v, 0, 1e6);
	else if (strcmp(name, "--pre-s") == 0)
		o->pre_s = number(name, v, 0, 86400);
	else if (strcmp(name, "--spike-s") == 0)
		o->spike_s = number(name, v, 0, 86400);
	else if (strcmp(name, "--post-s") == 0)
		o->post_s = number(name, v, 0, 86400);
	else if (strcmp(name, "--rate") == 0)
		o->rate = number(name, v, 0, 1e8), o->rate_set = true;
	else if (strcmp(name, "--hold-ttl-ms") == 0)
		o->hold_ttl_ms = (uint32_t)number(name, v, 1, HOLD_TTL_MS_MAX);
	else if (strcmp(name, "--think-ms") == 0)
		think_parse(v, o);
	else if (strcmp(name, "--confirm-p") == 0)
		o->confirm_p = number(name, v, 0, 1);
	else if (strcmp(name, "--offer-confirm-p") == 0)
		o->offer_confirm_p = number(name, v, 0, 1);
	else if (strcmp(name, "--seed") == 0)
		o->seed = (uint64_t)number(name, v, 0, 9007199254740992.0);
	else if (strcmp(name, "--csv") == 0)
		o->csv = v;
	else if (strcmp(name, "--plot") == 0)
		o->plot = v;
	else if (strcmp(name, "--plot-script") == 0)
		o->plot_script = v;
	else if (strcmp(name, "--duration") == 0)
		o->duration_s = number(name, v, 0, 86400);
	else if (strcmp(name, "--drain-s") == 0)
		o->drain_s = number(name, v, 0, 86400);
	else if (strcmp(name, "--idle-ms") == 0)
		o->idle_ms = (uint32_t)number(name, v, 1, WAITLIST_IDLE_MS_MAX);
	else if (strcmp(name, "--wait-timeout-ms") == 0)
		o->wait_timeout_ms = (uint32_t)number(name, v, 1, 300000);
	else if (strcmp(name, "--views-per-booking") == 0)
		o->views_per_booking = (uint32_t)number(name, v, 1, 1e9);
	else
		return false;
	return true;
}

static void options_parse(int argc, char **argv, struct options *o)
{
	*o = (struct options){ .target = &bench_target_boxoffice, .connections = 16,
			       .baseline_rate = 100, .spike_factor = 50, .pre_s = 5, .spike_s = 2,
			       .post_s = 10, .hold_ttl_ms = 10000, .think_ms_min = 500,
			       .think_ms_max = 3000, .confirm_p = 0.7, .offer_confirm_p = 0.9,
			       .seed = 1, .duration_s = 10, .drain_s = 60, .idle_ms = 120000,
			       .wait_timeout_ms = 5000, .views_per_booking = 10000 };
	for (int i = 1; i < argc; i++) {
		const char *name = argv[i];
		if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(name, "--json") == 0) {
			o->json = true;
		} else if (strcmp(name, "--quiet") == 0) {
			o->quiet = true;
		} else if (strcmp(name, "--shard-aware") == 0) {
			o->shard_aware = true;
		} else if (i + 1 >= argc || !option_value(o, name, argv[i + 1])) {
			usage_fail(i + 1 >= argc ? "missing value or unknown option"
						 : "unknown option or value",
				   name);
		} else {
			i++;
		}
	}
	if (!o->rate_set)
		o->rate = o->closed ? 64 : 2000;
	if (o->closed && o->rate < 1)
		usage_fail("--mode closed wants --rate (operations in flight) of 1 or more", NULL);
	if (o->address == NULL && o->target == &bench_target_boxoffice)
		o->address = "127.0.0.1:7878";
	if (o->address == NULL)
		usage_fail("--address is needed for this target", o->target->name);
	if (o->profile == PROFILE_BROWSE && o->target != &bench_target_boxoffice)
		usage_fail("--profile browse drives boxoffice only", o->target->name);
	if (o->shard_aware && o->target != &bench_target_boxoffice)
		usage_fail("--shard-aware is for boxoffice only", o->target->name);
	bench_boxoffice_shard_aware(o->shard_aware);
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The run: a profile, the target, the recorder, and the loop between them. */

struct run {
	const struct options *options;
	struct bench_target *target;
	struct bench_recorder recorder;
	struct onsale *onsale;
	struct browse *browse;
	int64_t start_ns;
	int64_t arrivals_ns; /* planned length of the arrivals */
	int64_t elapsed_ns;  /* first arrival to last completion */
	uint32_t progress_second;
	uint32_t stuck_in_flight; /* operations still in flight when the run was cut */
	struct bench_audit_report audit;
};

static int run_issue(struct run *run, int64_t now, int64_t *next)
{
	if (run->onsale != NULL)
		return onsale_issue(run->onsale, now, next);
	return browse_issue(run->browse, now, next);
}

static bool run_idle(const struct run *run)
{
	return run->onsale != NULL ? onsale_idle(run->onsale) : browse_idle(run->browse);
}

static void run_stop(struct run *run)
{
	if (run->onsale != NULL)
		onsale_abandon_all(run->onsale);
	else
		browse_stop_arrivals(run->browse);
}

static void progress(struct run *run)
{
	const struct bench_second *s = bench_recorder_last(&run->recorder);
	if (run->options->quiet || s == NULL || run->recorder.seconds_count == run->progress_second)
		return;
	run->progress_second = run->recorder.seconds_count;
	uint64_t booked = 0;
	if (run->onsale != NULL) {
		struct onsale_totals totals;
		onsale_totals(run->onsale, &totals);
		booked = totals.seats_booked;
	}
	bool tty = isatty(STDERR_FILENO);
	fprintf(stderr, "%s[%4us] users %6llu/s  done %7llu op/s  p99 %8.2f ms  in flight %6u  "
			"seats booked %6llu%s",
		tty ? "\r" : "", run->recorder.seconds_count, (unsigned long long)s->users_arrived,
		(unsigned long long)s->completed, (double)s->p99_us / 1000.0, s->in_flight,
		(unsigned long long)booked, tty ? "\033[K" : "\n");
}

/* Microseconds until the next operation is due: the targets wait that precisely (with
 * no timer slack), so nothing is sent late and no CPU is spent spinning. */
static int64_t timeout_of(int64_t now, int64_t next)
{
	if (next <= now)
		return 0;
	int64_t us = (next - now) / 1000;
	return us > POLL_TIMEOUT_MS_MAX * 1000 ? POLL_TIMEOUT_MS_MAX * 1000 : us;
}

/* Drives the run to its end: arrivals, then the drain, then a cut if it overruns. */
static int run_loop(struct run *run)
{
	const struct options *o = run->options;
	const struct bench_target_ops *ops = o->target;
	int64_t drain_end = run->start_ns + run->arrivals_ns + (int64_t)(o->drain_s * 1e9);
	int64_t cut_end = INT64_MAX;
	for (;;) {
		int64_t now = clock_ns(), next = INT64_MAX;
		int rc = run_issue(run, now, &next);
		if (rc < 0)
			return rc;
		uint32_t in_flight = ops->in_flight(run->target);
		bench_recorder_tick(&run->recorder, now, in_flight);
		progress(run);
		if (run_idle(run) && in_flight == 0)
			break;
		if (now >= drain_end && cut_end == INT64_MAX) {
			/* Users still there are dropped; parked WAITs end by their timeout. */
			run_stop(run);
			cut_end = now + (int64_t)(o->wait_timeout_ms + 5000) * NS_PER_MS;
		}
		if (now >= cut_end) {
			run->stuck_in_flight = in_flight;
			break;
		}
		rc = ops->poll(run->target, timeout_of(now, next));
		if (rc < 0)
			return rc;
	}
	int64_t end = clock_ns();
	bench_recorder_end(&run->recorder, end, ops->in_flight(run->target));
	run->elapsed_ns = end - run->start_ns;
	if (!o->quiet && isatty(STDERR_FILENO))
		fprintf(stderr, "\n");
	return 0;
}

/* The audit is only sound once no hold can still turn into a booking. */
static void holds_expire_wait(struct run *run)
{
	int64_t last = onsale_last_deadline_ms(run->onsale);
	int64_t wait = last + 200 - wall_ms();
	if (wait <= 0)
		return;
	if (!run->options->quiet)
		fprintf(stderr, "boxbench: waiting %.1f s for the last holds to expire\n",
			(double)wait / 1000.0);
	struct timespec ts = { .tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * NS_PER_MS };
	nanosleep(&ts, NULL);
}

static void phases_set(struct run *run)
{
	const struct options *o = run->options;
	struct bench_recorder *r = &run->recorder;
	if (o->profile == PROFILE_ONSALE && !o->closed) {
		bench_recorder_phase(r, "pre", (int64_t)(o->pre_s * 1e9));
		bench_recorder_phase(r, "spike", (int64_t)((o->pre_s + o->spike_s) * 1e9));
		bench_recorder_phase(r, "post", run->arrivals_ns);
	} else {
		bench_recorder_phase(r, "run", run->arrivals_ns);
	}
	bench_recorder_phase(r, "drain", INT64_MAX);
}

static int profile_create(struct run *run)
{
	const struct options *o = run->options;
	if (o->profile == PROFILE_ONSALE) {
		struct onsale_config c = {
			.seed = o->seed, .closed = o->closed, .in_flight_max = (uint32_t)o->rate,
			.baseline_rate = o->baseline_rate, .spike_factor = o->spike_factor,
			.pre_s = o->pre_s, .spike_s = o->spike_s, .post_s = o->post_s,
			.duration_s = o->duration_s, .hold_ttl_ms = o->hold_ttl_ms,
			.think_ms_min = o->think_ms_min, .think_ms_max = o->think_ms_max,
			.confirm_p = o->confirm_p, .offer_confirm_p = o->offer_confirm_p,
			.wait_timeout_ms = o->wait_timeout_ms };
		run->onsale = onsale_create(&c, o->target, run->target, &run->recorder,
					    run->start_ns);
		return run->onsale ? 0 : -ENOMEM;
	}
	struct browse_config c = { .seed = o->seed, .closed = o->closed,
				   .in_flight_max = (uint32_t)o->rate, .rate = o->rate,
				   .duration_s = o->duration_s, .confirm_p = o->confirm_p,
				   .views_per_booking = o->views_per_booking };
	run->browse = browse_create(&c, o->target, run->target, &run->recorder, run->start_ns);
	return run->browse ? 0 : -ENOMEM;
}

static int run_start(struct run *run)
{
	const struct options *o = run->options;
	bool profiled = o->profile == PROFILE_ONSALE && !o->closed;
	double arrivals_s = profiled ? o->pre_s + o->spike_s + o->post_s : o->duration_s;
	run->arrivals_ns = (int64_t)(arrivals_s * 1e9);
	uint32_t seconds = (uint32_t)(arrivals_s + o->drain_s) + o->wait_timeout_ms / 1000 +
			   SERIES_SLACK_S;
	run->start_ns = clock_ns();
	if (bench_recorder_init(&run->recorder, run->start_ns, seconds) < 0)
		return -ENOMEM;
	phases_set(run);
	return profile_create(run);
}

/* Outputs. */

/* The gnuplot script: the option, else plot.gp beside the program or in the tree. */
static const char *plot_script_find(const char *given, char *buffer, size_t size)
{
	if (given != NULL)
		return given;
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash != NULL)
		*slash = '\0';
	const char *candidates[] = { "/plot.gp", "/../../bench/plot.gp", "/../bench/plot.gp" };
	for (size_t i = 0; i < ARRAY_COUNT(candidates) && slash != NULL; i++) {
		snprintf(buffer, size, "%s%s", exe, candidates[i]);
		if (access(buffer, R_OK) == 0)
			return buffer;
	}
	return access("bench/plot.gp", R_OK) == 0 ? "bench/plot.gp" : NULL;
}

static int plot_run(const struct options *o, const char *csv)
{
	char found[4200], expression[8800];
	const char *script = plot_script_find(o->plot_script, found, sizeof(found));
	if (script == NULL) {
		fprintf(stderr, "boxbench: plot.gp not found: use --plot-script\n");
		return -ENOENT;
	}
	if (strchr(csv, '\'') || strchr(o->plot, '\'')) {
		fprintf(stderr, "boxbench: --csv and --plot paths may not contain quotes\n");
		return -EINVAL;
	}
	snprintf(expression, sizeof(expression), "csv='%s'; png='%s'; title='boxbench %s %s'",
		 csv, o->plot, o->target->name, o->profile == PROFILE_ONSALE ? "on-sale" : "browse");
	char *argv[] = { "gnuplot", "-e", expression, (char *)script, NULL };
	pid_t pid;
	int rc = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
	if (rc != 0) {
		fprintf(stderr, "boxbench: cannot run gnuplot: %s\n", strerror(rc));
		return -rc;
	}
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "boxbench: gnuplot failed\n");
		return -EIO;
	}
	return 0;
}

/* Writes the CSV (a temporary one beside the PNG when only a plot was asked for). */
static int outputs_write(const struct run *run)
{
	const struct options *o = run->options;
	char csv_tmp[4200];
	const char *csv = o->csv;
	if (csv == NULL && o->plot != NULL) {
		snprintf(csv_tmp, sizeof(csv_tmp), "%s.csv", o->plot);
		csv = csv_tmp;
	}
	if (csv == NULL)
		return 0;
	int rc = bench_recorder_csv(&run->recorder, csv);
	if (rc < 0) {
		fprintf(stderr, "boxbench: %s: %s\n", csv, strerror(-rc));
		return rc;
	}
	if (o->plot != NULL)
		rc = plot_run(o, csv);
	if (csv == csv_tmp)
		unlink(csv_tmp);
	return rc;
}

static void summary_users(const struct run *run, FILE *out)
{
	if (run->onsale != NULL) {
		struct onsale_totals t;
		onsale_totals(run->onsale, &t);
		fprintf(out, "users: %llu arrived, %llu booked (%llu seats), %llu abandoned a hold, "
			     "%llu confirmed too late, %llu joined a line, %llu offered, %llu sold out, "
			     "%llu lapsed, %llu gave up, %llu retries after overloaded, %llu still there "
			     "when the drain ran out\n",
			(unsigned long long)t.users_arrived, (unsigned long long)t.booked,
			(unsigned long long)t.seats_booked, (unsigned long long)t.abandoned,
			(unsigned long long)t.confirm_late, (unsigned long long)t.joined,
			(unsigned long long)t.offered, (unsigned long long)t.sold_out,
			(unsigned long long)t.lapsed, (unsigned long long)t.gave_up,
			(unsigned long long)t.retried, (unsigned long long)t.cut);
		return;
	}
	struct browse_totals t;
	browse_totals(run->browse, &t);
	fprintf(out, "browse: %llu views, %llu holds, %llu bookings, %llu releases\n",
		(unsigned long long)t.views, (unsigned long long)t.holds,
		(unsigned long long)t.bookings, (unsigned long long)t.releases);
}

static void summary_audit(const struct bench_audit_report *a, FILE *out)
{
	fprintf(out, "audit: %s — %llu bookings (%llu seats) acknowledged, %llu read back "
		     "intact, %llu not; %llu seats claimed twice",
		!a->ran ? "not run" : a->passed ? "PASSED" : "FAILED", (unsigned long long)a->bookings,
		(unsigned long long)a->seats_confirmed, (unsigned long long)a->read_back_ok,
		(unsigned long long)a->read_back_failed, (unsigned long long)a->double_claims);
	if (a->show_checked)
		fprintf(out, "; show: %u booked, %u held, %u available, %u double-booked; seat map: "
			     "%llu booked, %llu acknowledged seats missing, %llu unacknowledged",
			a->show.seats_booked, a->show.seats_held, a->show.seats_available,
			a->show.seats_double_booked, (unsigned long long)a->seatmap_booked,
			(unsigned long long)a->seatmap_missing, (unsigned long long)a->seatmap_extra);
	if (a->offers > 0 || a->show_checked)
		fprintf(out, "; offers: %llu, %llu out of line order, %llu without a sequence",
			(unsigned long long)a->offers, (unsigned long long)a->offers_out_of_order,
			(unsigned long long)a->offers_unsequenced);
	if (a->confirms_unknown > 0 || a->bookings_dropped > 0)
		fprintf(out, "; %llu confirms of unknown outcome, %llu bookings unrecorded",
			(unsigned long long)a->confirms_unknown,
			(unsigned long long)a->bookings_dropped);
	fprintf(out, "\n");
}

static void summary_print(const struct run *run, FILE *out)
{
	const struct options *o = run->options;
	double elapsed = (double)run->elapsed_ns / 1e9;
	fprintf(out, "boxbench: target %s, profile %s, %s loop, %.1f s, seed %llu\n",
		o->target->name, o->profile == PROFILE_ONSALE ? "onsale" : "browse",
		o->closed ? "closed" : "open", elapsed, (unsigned long long)o->seed);
	summary_users(run, out);
	fprintf(out, "\n");
	bench_recorder_print(&run->recorder, out, elapsed);
	fprintf(out, "\n");
	if (run->stuck_in_flight > 0)
		fprintf(out, "cut: %u operations were still in flight at the end\n",
			run->stuck_in_flight);
	summary_audit(&run->audit, out);
}

static void json_config(const struct run *run, FILE *out)
{
	const struct options *o = run->options;
	fprintf(out, "  \"target\": \"%s\", \"profile\": \"%s\", \"mode\": \"%s\", \"seed\": %llu,\n",
		o->target->name, o->profile == PROFILE_ONSALE ? "onsale" : "browse",
		o->closed ? "closed" : "open", (unsigned long long)o->seed);
	fprintf(out, "  \"config\": {\"connections\": %u, \"baseline_rate\": %g, \"spike_factor\": %g, "
		     "\"pre_s\": %g, \"spike_s\": %g, \"post_s\": %g, \"rate\": %g, \"duration_s\": %g, "
		     "\"hold_ttl_ms\": %u, \"think_ms\": [%u, %u], \"confirm_p\": %g, "
		     "\"offer_confirm_p\": %g, \"wait_timeout_ms\": %u, \"drain_s\": %g, "
		     "\"shard_aware\": %s},\n",
		o->connections, o->baseline_rate, o->spike_factor, o->pre_s, o->spike_s, o->post_s,
		o->rate, o->duration_s, o->hold_ttl_ms, o->think_ms_min, o->think_ms_max,
		o->confirm_p, o->offer_confirm_p, o->wait_timeout_ms, o->drain_s,
		o->shard_aware ? "true" : "false");
	fprintf(out, "  \"elapsed_s\": %.3f, \"cut_in_flight\": %u,\n",
		(double)run->elapsed_ns / 1e9, run->stuck_in_flight);
}

static void json_users(const struct run *run, FILE *out)
{
	if (run->onsale != NULL) {
		struct onsale_totals t;
		onsale_totals(run->onsale, &t);
		fprintf(out, "  \"users\": {\"arrived\": %llu, \"booked\": %llu, \"seats_booked\": %llu, "
			     "\"holds\": %llu, \"abandoned\": %llu, \"confirm_late\": %llu, "
			     "\"joined\": %llu, \"offered\": %llu, \"sold_out\": %llu, \"lapsed\": %llu, "
			     "\"gave_up\": %llu, \"retried\": %llu, \"cut\": %llu},\n",
			(unsigned long long)t.users_arrived, (unsigned long long)t.booked,
			(unsigned long long)t.seats_booked, (unsigned long long)t.holds,
			(unsigned long long)t.abandoned, (unsigned long long)t.confirm_late,
			(unsigned long long)t.joined, (unsigned long long)t.offered,
			(unsigned long long)t.sold_out, (unsigned long long)t.lapsed,
			(unsigned long long)t.gave_up, (unsigned long long)t.retried,
			(unsigned long long)t.cut);
		return;
	}
	struct browse_totals t;
	browse_totals(run->browse, &t);
	fprintf(out, "  \"browse\": {\"views\": %llu, \"holds\": %llu, \"bookings\": %llu, "
		     "\"releases\": %llu},\n",
		(unsigned long long)t.views, (unsigned long long)t.holds,
		(unsigned long long)t.bookings, (unsigned long long)t.releases);
}

static void json_peak(const struct run *run, FILE *out)
{
	const struct bench_recorder *r = &run->recorder;
	uint32_t best = 0;
	for (uint32_t i = 1; i < r->seconds_count; i++)
		best = r->seconds[i].completed > r->seconds[best].completed ? i : best;
	uint64_t worst_p99 = 0;
	for (uint32_t i = 0; i < r->seconds_count; i++)
		worst_p99 = r->seconds[i].p99_us > worst_p99 ? r->seconds[i].p99_us : worst_p99;
	fprintf(out, "  \"peak\": {\"second\": %u, \"completed_per_s\": %llu, "
		     "\"worst_second_p99_ms\": %.3f},\n",
		best, r->seconds_count ? (unsigned long long)r->seconds[best].completed : 0ULL,
		(double)worst_p99 / 1000.0);
}

static void json_audit(const struct bench_audit_report *a, FILE *out)
{
	fprintf(out, "  \"audit\": {\"ran\": %s, \"passed\": %s, \"bookings\": %llu, "
		     "\"seats_confirmed\": %llu, \"double_claims\": %llu, \"read_back_ok\": %llu, "
		     "\"read_back_failed\": %llu, \"confirms_unknown\": %llu, "
		     "\"bookings_unrecorded\": %llu",
		a->ran ? "true" : "false", a->passed ? "true" : "false",
		(unsigned long long)a->bookings, (unsigned long long)a->seats_confirmed,
		(unsigned long long)a->double_claims, (unsigned long long)a->read_back_ok,
		(unsigned long long)a->read_back_failed, (unsigned long long)a->confirms_unknown,
		(unsigned long long)a->bookings_dropped);
	if (a->show_checked)
		fprintf(out, ", \"show\": {\"seats_booked\": %u, \"seats_held\": %u, "
			     "\"seats_available\": %u, \"seats_double_booked\": %u}, "
			     "\"seatmap\": {\"booked\": %llu, \"missing\": %llu, \"extra\": %llu}, "
			     "\"offers\": {\"count\": %llu, \"out_of_order\": %llu, \"unsequenced\": %llu}",
			a->show.seats_booked, a->show.seats_held, a->show.seats_available,
			a->show.seats_double_booked, (unsigned long long)a->seatmap_booked,
			(unsigned long long)a->seatmap_missing, (unsigned long long)a->seatmap_extra,
			(unsigned long long)a->offers, (unsigned long long)a->offers_out_of_order,
			(unsigned long long)a->offers_unsequenced);
	fprintf(out, "},\n");
}

/* A path as a JSON string (or null): quotes, backslashes and controls escaped. */
static void json_string(const char *text, FILE *out)
{
	if (text == NULL) {
		fprintf(out, "null");
		return;
	}
	fputc('"', out);
	for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(out, "\\%c", *c);
		else if (*c < 0x20)
			fprintf(out, "\\u%04x", *c);
		else
			fputc(*c, out);
	}
	fputc('"', out);
}

static void json_print(const struct run *run, FILE *out)
{
	const struct options *o = run->options;
	double elapsed = (double)run->elapsed_ns / 1e9;
	fprintf(out, "{\n");
	json_config(run, out);
	json_users(run, out);
	fprintf(out, "  \"operations\": {");
	bench_recorder_json_ops(&run->recorder, out, elapsed);
	fprintf(out, "\n  },\n  \"phases\": [");
	bench_recorder_json_phases(&run->recorder, out, elapsed);
	fprintf(out, "\n  ],\n");
	json_peak(run, out);
	json_audit(&run->audit, out);
	fprintf(out, "  \"outputs\": {\"csv\": ");
	json_string(o->csv, out);
	fprintf(out, ", \"plot\": ");
	json_string(o->plot, out);
	fprintf(out, "}\n}\n");
}

static int run_audit(struct run *run)
{
	if (run->stuck_in_flight > 0)
		fprintf(stderr, "boxbench: %u operations never answered: the audit may not balance\n",
			run->stuck_in_flight);
	if (run->onsale == NULL)
		return browse_audit(run->browse, &run->audit);
	holds_expire_wait(run);
	return onsale_audit(run->onsale, &run->audit);
}

static void raise_fd_limit(void)
{
	struct rlimit limit;
	if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
		limit.rlim_cur = limit.rlim_max;
		setrlimit(RLIMIT_NOFILE, &limit);
	}
}

int main(int argc, char **argv)
{
	prctl(PR_SET_TIMERSLACK, 1UL); /* timed waits end when asked, not up to 50 us late */
	struct options options;
	options_parse(argc, argv, &options);
	raise_fd_limit();
	const struct bench_target_ops *ops = options.target;
	struct run run = { .options = &options };
	char error[512];
	int rc = ops->open(&run.target, options.address, options.connections, error, sizeof(error));
	if (rc < 0) {
		fprintf(stderr, "boxbench: %s: %s\n", ops->name, error);
		return 2;
	}
	if (options.profile == PROFILE_ONSALE)
		rc = ops->setup(run.target, options.hold_ttl_ms, options.idle_ms);
	rc = rc < 0 ? rc : run_start(&run);
	rc = rc < 0 ? rc : run_loop(&run);
	rc = rc < 0 ? rc : run_audit(&run);
	if (rc < 0) {
		fprintf(stderr, "boxbench: run failed: %s\n", strerror(-rc));
	} else {
		rc = outputs_write(&run);
		summary_print(&run, options.json ? stderr : stdout);
		if (options.json)
			json_print(&run, stdout);
	}
	onsale_destroy(run.onsale);
	browse_destroy(run.browse);
	bench_recorder_finish(&run.recorder);
	ops->close(run.target);
	return rc < 0 ? 2 : run.audit.passed ? 0 : 1;
}
