/*
 * walfx.c — helpers for the log tests (see walfx.h).
 */
#include "walfx.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"
#include "record.h"

void walfx_dir(char *path, size_t size)
{
	const char *base = getenv("TMPDIR");
	snprintf(path, size, "%s/boxoffice-test-XXXXXX", base ? base : "/tmp");
	if (mkdtemp(path) == NULL) {
		perror("mkdtemp");
		abort();
	}
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

void walfx_dir_remove(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char walfx_dir_path[256];
int walfx_dir_fd = -1;

void walfx_dir_setup(void)
{
	walfx_dir(walfx_dir_path, sizeof(walfx_dir_path));
	walfx_dir_fd = wal_dir_open(walfx_dir_path, false);
	if (walfx_dir_fd < 0) {
		fprintf(stderr, "opening %s: %s\n", walfx_dir_path, strerror(-walfx_dir_fd));
		abort();
	}
}

void walfx_dir_teardown(void)
{
	close(walfx_dir_fd);
	walfx_dir_fd = -1;
	walfx_dir_remove(walfx_dir_path);
}

struct wal_store_config walfx_config(const char *dir)
{
	struct wal_store_config config = { .dir = dir, .segment_size = WAL_SEGMENT_SIZE_MIN,
					   .buffer_bytes_max = 4u << 20 };
	engine_config_default(&config.engine);
	config.engine.waitlist_idle_ms = 400;
	return config;
}

uint64_t walfx_rng_next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t rng_next(struct walfx_workload *w)
{
	return walfx_rng_next(&w->rng);
}

static uint32_t below(struct walfx_workload *w, uint32_t n)
{
	return (uint32_t)(rng_next(w) % n);
}

void walfx_workload_init(struct walfx_workload *w, uint64_t seed)
{
	*w = (struct walfx_workload){ .rng = seed, .now_ms = 1000000 };
	layout_builder_init(&w->layout);
	layout_builder_section(&w->layout, "Floor");
	for (int r = 0; r < 4; r++) {
		char name[4] = { (char)('A' + r), 0 };
		layout_builder_row(&w->layout, name, 1, 8, r < 1 ? TIER_VIP : TIER_REGULAR);
	}
	layout_builder_section(&w->layout, "Back");
	layout_builder_row(&w->layout, "Z", 1, 12, TIER_ECONOMY);
}

void walfx_workload_finish(struct walfx_workload *w)
{
	layout_builder_finish(&w->layout);
}

/* The catalog: one location, one venue of 44 seats, one event, shows 1 and 2. */
static bool catalog_next(struct walfx_workload *w, struct command *c)
{
	switch (w->step) {
	case 0:
		*c = (struct command){ .type = COMMAND_LOCATION_PUT };
		c->location_put = (struct command_location_put){
			.location_id = 1, .name = text_from_cstr("Test"), .country = { 'T', 'T' } };
		return true;
	case 1:
		*c = (struct command){ .type = COMMAND_VENUE_PUT };
		c->venue_put = (struct command_venue_put){ .venue_id = 1, .location_id = 1,
							   .name = text_from_cstr("Hall") };
		layout_builder_layout(&w->layout, &c->venue_put.layout);
		return true;
	case 2:
		*c = (struct command){ .type = COMMAND_EVENT_PUT };
		c->event_put = (struct command_event_put){ .event_id = 1, .location_id = 1,
							   .title = text_from_cstr("Test") };
		return true;
	case 3:
	case 4:
		*c = (struct command){ .type = COMMAND_SHOW_PUT };
		c->show_put = (struct command_show_put){
			.show_id = w->step - 2, .event_id = 1, .venue_id = 1,
			.start_ms = 1LL << 42, .end_ms = (1LL << 42) + 1,
			.currency = { 'E', 'U', 'R' }, .user_seats_max = 6,
			.sale_closes_ms = 1LL << 42, .hold_ttl_ms = 300 };
		return true;
	}
	return false;
}

static uint64_t known_hold(struct walfx_workload *w)
{
	if (w->holds_count == 0)
		return (UINT64_C(1) << 32) | 1;
	return w->holds[below(w, w->holds_count)];
}

const struct command *walfx_next(struct walfx_workload *w, int64_t *now_ms)
{
	static struct command c;
	w->now_ms += below(w, 3) == 0 ? below(w, 200) : 0;
	*now_ms = w->now_ms;
	if (catalog_next(w, &c)) {
		w->step++;
		return &c;
	}
	w->step++;
	uint32_t show = 1 + below(w, 2);
	uint64_t user = 1 + below(w, 6);
	uint32_t kind = below(w, 100);
	c = (struct command){ .type = COMMAND_TICK };
	if (kind < 35) {
		c.type = COMMAND_HOLD;
		c.hold = (struct command_hold){ .show_id = show, .user_id = user,
						.seats_count = (uint8_t)(1 + below(w, 3)) };
		if (below(w, 2)) {
			c.hold.best = true;
			c.hold.tier = (uint8_t)below(w, TIER_COUNT);
			c.hold.together = below(w, 2);
		} else {
			for (uint8_t i = 0; i < c.hold.seats_count; i++)
				c.hold.seats[i] = below(w, 44);
		}
	} else if (kind < 55) {
		c.type = COMMAND_CONFIRM;
		snprintf(w->ref, sizeof(w->ref), "pay-%u", below(w, 4));
		c.confirm = (struct command_confirm){ .hold_id = known_hold(w), .user_id = user,
						      .payment_ref = text_from_cstr(w->ref) };
	} else if (kind < 65) {
		c.type = COMMAND_RELEASE;
		c.release = (struct command_release){ .hold_id = known_hold(w), .user_id = user };
	} else if (kind < 70) {
		c.type = COMMAND_BOOKING_CANCEL;
		c.booking_cancel.booking_id = known_hold(w);
	} else if (kind < 85) {
		c.type = COMMAND_WAITLIST_JOIN;
		c.waitlist_join = (struct command_waitlist_join){
			.show_id = show, .user_id = user, .tier = (uint8_t)below(w, TIER_COUNT),
			.seats_count = (uint8_t)(1 + below(w, 2)), .together = below(w, 2) };
	} else if (kind < 95) {
		c.type = COMMAND_WAITLIST_POLL;
		c.waitlist_poll = (struct command_waitlist_user){ .show_id = show, .user_id = user };
	} else if (kind < 97) {
		c.type = COMMAND_WAITLIST_LEAVE;
		c.waitlist_leave = (struct command_waitlist_user){ .show_id = show, .user_id = user };
	}
	return &c;
}

static void hold_remember(struct walfx_workload *w, uint64_t id)
{
	if (w->holds_count < 256)
		w->holds[w->holds_count++] = id;
	else
		w->holds[below(w, 256)] = id;
}

void walfx_observe(struct walfx_workload *w, const struct command *c,
		   const struct engine_result *r, const struct engine *engine)
{
	if (c->type == COMMAND_HOLD && r->status == STATUS_OK)
		hold_remember(w, r->hold_id);
	uint32_t count;
	const struct engine_event *events = engine_events(engine, &count);
	for (uint32_t i = 0; i < count; i++) {
		if (events[i].type == ENGINE_EVENT_OFFERED)
			hold_remember(w, events[i].hold_id);
	}
}

struct wal_writer *walfx_writer_new(int dir_fd, struct wal_io *io, uint64_t buffer_bytes_max)
{
	struct wal_writer_config config = walfx_writer_config(dir_fd, buffer_bytes_max);
	struct wal_position position = { .next_lsn = 1 };
	struct wal_writer *writer = NULL;
	return wal_writer_create(&writer, &config, io, &position) == 0 ? writer : NULL;
}

struct wal_writer_config walfx_writer_config(int dir_fd, uint64_t buffer_bytes_max)
{
	return (struct wal_writer_config){ .dir_fd = dir_fd, .segment_size = WAL_SEGMENT_SIZE_MIN,
					   .buffer_bytes_max = buffer_bytes_max };
}

struct wal_writer_config walfx_writer_config_direct(int dir_fd, uint64_t buffer_bytes_max)
{
	struct wal_writer_config config = walfx_writer_config(dir_fd, buffer_bytes_max);
	config.segment_size = WALFX_DIRECT_SEGMENT_SIZE;
	config.direct = true;
	return config;
}

bool walfx_direct_io_supported(int dir_fd)
{
	int fd = openat(dir_fd, "direct-io-probe", O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	close(fd);
	unlinkat(dir_fd, "direct-io-probe", 0);
	return true;
}

bool walfx_deliver_one(struct wal_io_sync *sync, struct wal_writer *writer)
{
	if (sync->count == 0)
		return false;
	uint64_t token = sync->tokens[sync->head];
	int32_t result = sync->results[sync->head];
	sync->head = (sync->head + 1) % WAL_IO_SYNC_QUEUE_MAX;
	sync->count--;
	wal_writer_complete(writer, token, result);
	return true;
}
