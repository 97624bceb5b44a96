/*
 * boxwal_replay.c — `boxwal replay`: rebuilds the shard's state offline as recovery
 * would, writing nothing, and prints its summary and every owned show's seats.
 */
#include "boxwal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine.h"
#include "files.h"
#include "recovery.h"
#include "snapshot.h"

const char usage_replay[] =
	"usage: boxwal replay DIR [--shard N] [--shards COUNT] [--json]\n"
	"\n"
	"Rebuilds the shard's state as recovery would (the newest usable snapshot, then\n"
	"every later record) without writing anything: a torn tail is reported, not cut.\n"
	"Prints the state digest, the snapshot used, the records replayed, the last LSN,\n"
	"the time taken, the open holds of the shard, and for every show the shard owns\n"
	"its seats per tier: available, held (seats in holds and offers), pooled (held\n"
	"for the waiting list), booked, blocked, and the waiting-list length.\n"
	"  --shards COUNT          shards in the deployment (default: the count in the\n"
	"                          data directory's 'shards' file beside DIR, else the\n"
	"                          newest readable snapshot's, else 1)\n"
	"  --json                  one JSON object\n"
	"Exit 3 when recovery would refuse (corruption, no usable snapshot).\n";

/* replay */

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Show ids, gathered in a growing array. */
struct id_list {
	uint32_t *ids;
	uint32_t count;
	uint32_t capacity;
	bool failed; /* memory ran out */
};

static void id_list_push(struct id_list *list, uint32_t id)
{
	if (list->count == list->capacity && !list->failed) {
		uint32_t grown = list->capacity ? list->capacity * 2 : 64;
		uint32_t *more = realloc(list->ids, grown * sizeof(*more));
		list->failed = more == NULL;
		list->ids = more ? more : list->ids;
		list->capacity = more ? grown : list->capacity;
	}
	if (!list->failed)
		list->ids[list->count++] = id;
}

static void location_shows_collect(const struct engine *engine, uint32_t location_id,
				   struct id_list *list)
{
	/* Static: event infos are large (every tag), and this runs once. */
	static struct engine_event_info events[32];
	uint32_t shows[256];
	uint32_t count;
	for (uint32_t after = 0;
	     (count = engine_events_list(engine, location_id, after, events, ARRAY_COUNT(events)));
	     after = events[count - 1].event_id) {
		for (uint32_t e = 0; e < count; e++) {
			uint32_t got;
			for (uint32_t first = 0; (got = engine_event_shows(engine, events[e].event_id,
									  first, shows, 256));
			     first += got) {
				for (uint32_t s = 0; s < got; s++)
					id_list_push(list, shows[s]);
			}
		}
	}
}

/* Every show id, ascending. The engine lists shows per event and events per
 * location only, so this walks all three. */
static void show_ids_collect(const struct engine *engine, struct id_list *list)
{
	struct engine_location locations[64];
	uint32_t count;
	for (uint32_t after = 0;
	     (count = engine_locations_list(engine, after, locations, ARRAY_COUNT(locations)));
	     after = locations[count - 1].location_id) {
		for (uint32_t l = 0; l < count; l++)
			location_shows_collect(engine, locations[l].location_id, list);
	}
	if (!list->failed && list->count > 0)
		qsort(list->ids, list->count, sizeof(*list->ids), compare_u32);
}

static void replay_show_print(struct out *out, const struct engine_show *show)
{
	uint32_t seats = 0;
	for (uint32_t t = 0; t < TIER_COUNT; t++)
		seats += show->tiers[t].seats;
	if (!out->json) {
		printf("\nshow %" PRIu32 " (event %" PRIu32 ", venue %" PRIu32 "): %" PRIu32
		       " seats\n  %-8s %7s %9s %7s %7s %7s %7s %7s\n", show->show_id,
		       show->event_id, show->venue_id, seats, "tier", "seats", "available",
		       "held", "pooled", "booked", "blocked", "waiting");
		for (uint32_t t = 0; t < TIER_COUNT; t++) {
			const struct engine_tier_counts *c = &show->tiers[t];
			printf("  %-8s %7" PRIu32 " %9" PRIu32 " %7" PRIu32 " %7" PRIu32 " %7" PRIu32
			       " %7" PRIu32 " %7" PRIu32 "\n", tier_name((enum tier)t), c->seats,
			       c->available, c->held - c->pooled, c->pooled, c->booked, c->blocked,
			       c->waiters);
		}
		return;
	}
	out_open(out, NULL, '{');
	out_u64(out, "show_id", show->show_id);
	out_u64(out, "seats", seats);
	out_open(out, "tiers", '{');
	for (uint32_t t = 0; t < TIER_COUNT; t++) {
		const struct engine_tier_counts *c = &show->tiers[t];
		out_open(out, tier_name((enum tier)t), '{');
		out_u64(out, "seats", c->seats);
		out_u64(out, "available", c->available);
		out_u64(out, "held", c->held - c->pooled);
		out_u64(out, "pooled", c->pooled);
		out_u64(out, "booked", c->booked);
		out_u64(out, "blocked", c->blocked);
		out_u64(out, "waiting", c->waiters);
		out_close(out, '}');
	}
	out_close(out, '}');
	out_close(out, '}');
}

static void replay_summary_print(struct out *out, const struct engine *engine,
				 const struct wal_recovery *report)
{
	struct engine_stats stats;
	engine_stats_get(engine, &stats);
	char digest[17];
	snprintf(digest, sizeof(digest), "%016" PRIx64, engine_digest(engine));
	if (out->json) {
		out_name(out, "digest", digest);
		if (report->snapshot_lsn == 0) {
			out_key(out, "snapshot_lsn");
			fputs("null", stdout);
		} else {
			out_u64(out, "snapshot_lsn", report->snapshot_lsn);
		}
		out_bool(out, "snapshot_fallback", report->snapshot_fallback);
		out_u64(out, "records_replayed", report->records_replayed);
		out_u64(out, "last_lsn", report->last_lsn);
		out_bool(out, "torn", report->torn);
		out_key(out, "seconds");
		printf("%.6f", report->seconds);
		out_u64(out, "shows", stats.shows);
		out_u64(out, "shows_owned", stats.shows_owned);
		out_u64(out, "holds_open", stats.holds_active);
		out_u64(out, "bookings", stats.bookings);
		out_u64(out, "waiters", stats.waiters);
		return;
	}
	printf("digest            %s\n", digest);
	if (report->snapshot_lsn == 0)
		printf("snapshot          none%s\n",
		       report->snapshot_fallback ? " (fallback: every snapshot was unusable)" : "");
	else
		printf("snapshot          LSN %" PRIu64 "%s\n", report->snapshot_lsn,
		       report->snapshot_fallback ? " (fallback: a newer one was unusable)" : "");
	printf("records replayed  %" PRIu64 "\nlast LSN          %" PRIu64
	       "\ntime              %.3f s\n", report->records_replayed, report->last_lsn,
	       report->seconds);
	if (report->torn)
		printf("torn tail         yes: replay leaves it (verify says where)\n");
	printf("shows             %" PRIu32 " (%" PRIu32 " owned by this shard)\n"
	       "holds open        %" PRIu64 " (the shard's total; per show below, the seats in "
	       "holds and offers)\nbookings          %" PRIu64 "\nwaiters           %" PRIu64 "\n",
	       stats.shows, stats.shows_owned, stats.holds_active, stats.bookings, stats.waiters);
}

/* The newest snapshot that reads back whole says how many shards there are. */
static uint32_t snapshots_shard_count(int dir_fd, uint32_t shard_index,
				      const struct wal_listing *listing)
{
	for (uint32_t i = listing->snapshots_count; i-- > 0;) {
		uint8_t *image;
		size_t size;
		if (wal_snapshot_read(dir_fd, shard_index, listing->snapshots[i], &image, &size) != 0)
			continue;
		uint32_t count = image_shard_count(image, size);
		free(image);
		if (count > shard_index)
			return count;
	}
	return 1;
}

/* The shard count in DIR/../shards, which the server writes; 0 when there is none. */
static uint32_t data_dir_shard_count(const char *dir)
{
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/../shards", dir) >= (int)sizeof(path))
		return 0;
	FILE *file = fopen(path, "r");
	if (file == NULL)
		return 0;
	unsigned count = 0;
	if (fscanf(file, "%u", &count) != 1)
		count = 0;
	fclose(file);
	return count;
}

/* The engine settings for replay (the log's CONFIGURE records, or a snapshot, carry
 * the hold and idle settings): the shard index and count. */
static int replay_config(int dir_fd, const struct options *options, struct engine_config *config)
{
	engine_config_default(config);
	config->shard_index = (uint32_t)options->values[OPT_SHARD];
	uint32_t stored = data_dir_shard_count(options->dir);
	if (given(options, OPT_SHARDS)) {
		config->shard_count = (uint32_t)options->values[OPT_SHARDS];
	} else if (stored != 0) {
		config->shard_count = stored;
	} else {
		struct wal_listing *listing = malloc(sizeof(*listing));
		int error = listing ? wal_list(dir_fd, listing) : -ENOMEM;
		if (error == 0)
			config->shard_count = snapshots_shard_count(dir_fd, config->shard_index,
								    listing);
		free(listing);
		if (error != 0)
			return io_fail("list", options->dir, error);
	}
	if (config->shard_index >= config->shard_count)
		return usage_error(usage_replay, given(options, OPT_SHARDS)
			? "--shard must be below --shards"
			: "no snapshot of this shard gives the shard count: give --shards", NULL);
	return 0;
}

int replay_run(int dir_fd, const struct options *options)
{
	struct engine_config config;
	int code = replay_config(dir_fd, options, &config);
	if (code != 0)
		return code;
	struct engine *engine;
	struct wal_position position;
	struct wal_recovery report;
	int error = wal_recover(dir_fd, &config, false, &engine, &position, &report);
	if (error != 0 && report.message[0] != '\0') {
		fprintf(stderr, "boxwal: replay refused: %s\n", report.message);
		return EXIT_CORRUPT;
	}
	if (error != 0)
		return io_fail("wal_recover", options->dir, error);
	struct id_list shows = { 0 };
	show_ids_collect(engine, &shows);
	if (shows.failed) {
		free(shows.ids);
		engine_destroy(engine);
		return io_fail("malloc", "show ids", -ENOMEM);
	}
	struct out out = { .json = given(options, OPT_JSON), .first = true };
	if (out.json)
		putchar('{');
	replay_summary_print(&out, engine, &report);
	if (out.json)
		out_open(&out, "owned_shows", '[');
	for (uint32_t i = 0; i < shows.count; i++) {
		struct engine_show show;
		if (engine_show_get(engine, shows.ids[i], &show) && show.owned)
			replay_show_print(&out, &show);
	}
	if (out.json) {
		out_close(&out, ']');
		fputs("}\n", stdout);
	}
	free(shows.ids);
	engine_destroy(engine);
	return 0;
}
