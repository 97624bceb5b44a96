/*
 * boxoffice — the seat-allocation server.
 *
 *   boxoffice [--listen HOST:PORT] [--data DIR] [--workers N] [--demo] ...
 *
 * See --help; PROTOCOL.md is what it speaks.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "files.h"
#include "log.h"
#include "record.h"
#include "server.h"
#include "writer.h"

static const char usage[] =
	"usage: boxoffice [options]\n"
	"\n"
	"The boxoffice seat-allocation server. Shows are sharded over worker threads,\n"
	"each with its own write-ahead log and snapshots under DIR/shard-N; every\n"
	"change is acknowledged only once it is on stable storage.\n"
	"\n"
	"  --listen HOST:PORT        where to accept connections (default 127.0.0.1:7878;\n"
	"                            port 0 picks a free one, see --port-file)\n"
	"  --data DIR                data directory (default ./var)\n"
	"  --workers N               shard threads (default: one per CPU; fixed once DIR exists)\n"
	"  --demo                    load the demo catalog if the catalog is empty (or\n"
	"                            complete one whose first load was cut short)\n"
	"  --demo-seed N             seed of the demo catalog (default 1); a directory keeps\n"
	"                            the seed its demo catalog was made with\n"
	"  --port-file FILE          write the port listened on to FILE\n"
	"  --max-connections N       default 16384\n"
	"  --idle-timeout S          close connections idle for S seconds (default 300)\n"
	"  --hold-ttl-ms MS          hold lifetime of shows that set none (default 600000)\n"
	"  --waitlist-idle-ms MS     waiting-list idle limit (default 120000)\n"
	"  --snapshot-every-records N  snapshot a shard after N logged changes (default 1000000)\n"
	"  --snapshot-every-s S      ... or S seconds after its last (default 300)\n"
	"  --segment-size BYTES      log segment size (default 67108864)\n"
	"  --log-flushes N           log writes in flight at once per shard, 1-8 (default 1;\n"
	"                            more only helps a server with CPUs of its own)\n"
	"  --no-pin                  do not pin worker threads to CPUs\n"
	"  --log-level LEVEL         debug, info (default), warn, error\n"
	"  --help                    this text\n"
	"\n"
	"SIGTERM, SIGINT or SIGHUP (its terminal closed) stops it: no new connections,\n"
	"in-flight work finished and flushed, exit 0; a second one while it finishes stops\n"
	"it at once, exit 1 (what it acknowledged is durable). A failed write or fsync of\n"
	"the log stops it at once with exit 70. It refuses to start (exit 1) on a data\n"
	"directory another process holds, or on a port something else listens on; a bad\n"
	"option or value exits 64. An option given twice takes its last value, so that a\n"
	"wrapper's defaults can be overridden by options passed after them.\n";

static bool number(const char *text, uint64_t max, uint64_t *value);

/* HOST:PORT, or [HOST]:PORT for IPv6; PORT a decimal number from 0 to 65535. */
static bool listen_parse(const char *text, struct server_config *config)
{
	const char *colon = strrchr(text, ':');
	uint64_t port;
	if (colon == NULL || colon == text || colon[1] == '\0' ||
	    (size_t)(colon - text) >= sizeof(config->host) || strlen(colon + 1) >= sizeof(config->port) ||
	    !number(colon + 1, 65535, &port))
		return false;
	const char *host = text;
	size_t host_size = (size_t)(colon - text);
	if (host[0] == '[' && host[host_size - 1] == ']') {
		host++;
		host_size -= 2;
	}
	snprintf(config->host, sizeof(config->host), "%.*s", (int)host_size, host);
	snprintf(config->port, sizeof(config->port), "%s", colon + 1);
	return true;
}

static bool number(const char *text, uint64_t max, uint64_t *value)
{
	char *end;
	errno = 0;
	unsigned long long parsed = strtoull(text, &end, 10);
	/* No sign, no space, and not past 2^64 - 1 (which strtoull reads as that). */
	if (*text < '0' || *text > '9' || *end != '\0' || errno == ERANGE || parsed > max)
		return false;
	*value = parsed;
	return true;
}

enum option_id {
	OPT_LISTEN = 1, OPT_DATA, OPT_WORKERS, OPT_DEMO, OPT_DEMO_SEED, OPT_PORT_FILE,
	OPT_MAX_CONNECTIONS, OPT_IDLE, OPT_TTL, OPT_WAITLIST_IDLE, OPT_SNAP_RECORDS, OPT_SNAP_S,
	OPT_SEGMENT, OPT_LOG_FLUSHES, OPT_NO_PIN, OPT_LOG_LEVEL, OPT_HELP,
};

static const struct option options[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "data", required_argument, NULL, OPT_DATA },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "demo", no_argument, NULL, OPT_DEMO },
	{ "demo-seed", required_argument, NULL, OPT_DEMO_SEED },
	{ "port-file", required_argument, NULL, OPT_PORT_FILE },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "hold-ttl-ms", required_argument, NULL, OPT_TTL },
	{ "waitlist-idle-ms", required_argument, NULL, OPT_WAITLIST_IDLE },
	{ "snapshot-every-records", required_argument, NULL, OPT_SNAP_RECORDS },
	{ "snapshot-every-s", required_argument, NULL, OPT_SNAP_S },
	{ "segment-size", required_argument, NULL, OPT_SEGMENT },
	{ "log-flushes", required_argument, NULL, OPT_LOG_FLUSHES },
	{ "no-pin", no_argument, NULL, OPT_NO_PIN },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Applies one option; false with a message for a bad value. */
static bool option_apply(int id, const char *value, struct server_config *c)
{
	uint64_t n = 0;
	switch (id) {
	case OPT_LISTEN:
		return listen_parse(value, c);
	case OPT_DATA:
		return value[0] != '\0' &&
		       snprintf(c->data_dir, sizeof(c->data_dir), "%s", value) < (int)sizeof(c->data_dir);
	case OPT_PORT_FILE:
		return value[0] != '\0' &&
		       snprintf(c->port_file, sizeof(c->port_file), "%s", value) < (int)sizeof(c->port_file);
	case OPT_WORKERS:
		return number(value, 64, &n) && n >= 1 && (c->workers = (uint32_t)n, true);
	case OPT_DEMO:
		return c->demo = true;
	case OPT_DEMO_SEED:
		return number(value, UINT64_MAX, &c->demo_seed) && (c->demo_seed_given = true);
	case OPT_MAX_CONNECTIONS:
		return number(value, 1000000, &n) && n >= 1 && (c->max_connections = (uint32_t)n, true);
	case OPT_IDLE:
		return number(value, 86400, &n) && n >= 1 && (c->idle_timeout_s = (uint32_t)n, true);
	case OPT_TTL:
		return number(value, HOLD_TTL_MS_MAX, &n) && n >= 1 && (c->hold_ttl_ms = (uint32_t)n, true);
	case OPT_WAITLIST_IDLE:
		return number(value, WAITLIST_IDLE_MS_MAX, &n) && n >= 1 &&
		       (c->waitlist_idle_ms = (uint32_t)n, true);
	case OPT_SNAP_RECORDS:
		return number(value, UINT64_MAX, &n) && n >= 1 && (c->snapshot_every_records = n, true);
	case OPT_SNAP_S:
		return number(value, 86400 * 30, &n) && n >= 1 && (c->snapshot_every_s = (uint32_t)n, true);
	case OPT_SEGMENT:
		return number(value, UINT64_C(1) << 40, &c->segment_size) &&
		       c->segment_size >= WAL_SEGMENT_SIZE_MIN;
	case OPT_LOG_FLUSHES:
		return number(value, WAL_FLUSHES_MAX, &n) && n >= 1 && (c->log_flushes = (uint32_t)n, true);
	case OPT_NO_PIN:
		c->pin = false;
		return true;
	case OPT_LOG_LEVEL: {
		static const char *const levels[] = { "debug", "info", "warn", "error" };
		for (int i = 0; i < 4; i++) {
			if (strcmp(value, levels[i]) == 0) {
				log_level_set((enum log_level)i);
				return true;
			}
		}
		return false;
	}
	}
	return false;
}

/* Reads a test setting from the environment, if set: a number from min up; false
 * (and a message) for anything else. Says on stderr what it changes. */
static bool test_setting(const char *name, uint32_t min, uint32_t *value, const char *what)
{
	const char *text = getenv(name);
	if (text == NULL)
		return true;
	char *end;
	errno = 0;
	unsigned long n = strtoul(text, &end, 10);
	if (*text < '0' || *text > '9' || *end != '\0' || errno != 0 || n < min ||
	    n > UINT32_MAX) {
		fprintf(stderr, "boxoffice: bad value for %s (a number from %u): %s\n", name, min,
			text);
		return false;
	}
	*value = (uint32_t)n;
	fprintf(stderr, "boxoffice: %s=%u: %s\n", name, *value, what);
	return true;
}

int main(int argc, char **argv)
{
	if (!wal_standard_fds_open())
		return 1; /* no stderr to say why on */
	struct server_config config;
	server_config_default(&config);
	int id;
	while ((id = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (id == OPT_HELP) {
			fputs(usage, stdout);
			return 0;
		}
		if (id == '?') {
			fputs(usage, stderr);
			return 64;
		}
		if (!option_apply(id, optarg, &config)) {
			fprintf(stderr, "boxoffice: bad value for --%s: %s\n", options[id - 1].name,
				optarg ? optarg : "");
			return 64;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "boxoffice: unexpected argument: %s\n%s", argv[optind], usage);
		return 64;
	}
	if (config.demo_seed_given && !config.demo) {
		fprintf(stderr, "boxoffice: --demo-seed needs --demo\n");
		return 64;
	}
	/* Settings for the project's tests only (net/server.h). */
	if (!test_setting("BOXOFFICE_TEST_FAIL_SYNC", 1, &config.test_fail_sync_at,
			  "that log sync of each shard fails (a test of disk failure)") ||
	    !test_setting("BOXOFFICE_TEST_MAILBOX_BYTES", MAILBOX_CAPACITY_MIN,
			  &config.test_mailbox_bytes,
			  "the bytes each queue between two shards holds (a test of overload)"))
		return 64;
	return server_run(&config);
}
