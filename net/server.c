/*
 * server.c — start-up, shard threads, the snapshot thread, signals, shutdown.
 *
 * Start-up runs on the main thread and may block: every shard is recovered from
 * its directory (data/shard-N) with the synchronous store, the shards' catalogs are
 * reconciled (a catalog put that reached some shards before a crash is applied to
 * the rest), the demo catalog is loaded into an empty catalog when asked, and the
 * logs are handed to the shard threads, which continue them on their own rings.
 * Only then are connections accepted.
 */
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "demo.h"
#include "files.h"
#include "log.h"
#include "memory.h"
#include "reader.h"
#include "record.h"
#include "snapshot.h"
#include "store.h"
#include "worker.h"

void server_config_default(struct server_config *config)
{
	*config = (struct server_config){
		.max_connections = 16384, .idle_timeout_s = 300, .demo_seed = 1, .pin = true,
		.segment_size = WAL_SEGMENT_SIZE_DEFAULT, .log_flushes = SERVER_LOG_FLUSHES_DEFAULT,
		.snapshot_every_records = 1000000,
		.snapshot_every_s = 300, .hold_ttl_ms = HOLD_TTL_MS_DEFAULT,
		.waitlist_idle_ms = WAITLIST_IDLE_MS_DEFAULT };
	snprintf(config->host, sizeof(config->host), "127.0.0.1");
	snprintf(config->port, sizeof(config->port), "7878");
	snprintf(config->data_dir, sizeof(config->data_dir), "var");
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether a shard directory holds anything recovery would read: a snapshot, a record,
 * or what the scan cannot read (counted as data, to be safe). */
static bool shard_dir_has_data(const char *path, uint32_t index)
{
	int dir_fd = wal_dir_open(path, false);
	if (dir_fd < 0)
		return dir_fd != -ENOENT;
	struct wal_listing *listing = malloc(sizeof(*listing));
	bool data = listing == NULL || wal_list(dir_fd, listing) != 0 ||
		    listing->snapshots_count > 0;
	free(listing);
	struct wal_scan scan;
	if (!data && wal_scan(dir_fd, index, &scan) == 0) {
		data = scan.records > 0 || scan.state == WAL_SCAN_CORRUPT;
		wal_scan_finish(&scan);
	} else {
		data = true;
	}
	close(dir_fd);
	return data;
}

/*
 * Whether a shard-N entry of data_dir with N >= from holds data (*found_index: the
 * first such N). *dirs: one more than the highest N of any shard-N entry (0: none),
 * the shard count the directory was most likely created with.
 */
static bool shard_data_scan(const char *data_dir, uint32_t from, uint32_t *found_index,
			    uint32_t *dirs)
{
	*dirs = 0;
	DIR *dir = opendir(data_dir);
	if (dir == NULL)
		return false;
	bool found = false;
	struct dirent *entry;
	unsigned index;
	char tail;
	while ((entry = readdir(dir)) != NULL) {
		if (sscanf(entry->d_name, "shard-%u%c", &index, &tail) != 1)
			continue;
		if (index >= *dirs)
			*dirs = index + 1;
		if (found || index < from)
			continue;
		char path[SERVER_PATH_SIZE + 32];
		snprintf(path, sizeof(path), "%s/%s", data_dir, entry->d_name);
		found = shard_dir_has_data(path, index);
		*found_index = index;
	}
	closedir(dir);
	return found;
}

/* Whether any shard-N directory of data_dir holds data. A first start cut short (a
 * full disk, Ctrl-C) leaves shard directories with none, which are safe to redo. */
static bool shard_data_exists(const char *data_dir)
{
	uint32_t index, dirs;
	return shard_data_scan(data_dir, 0, &index, &dirs);
}

/*
 * The count stored in data/shards: 0 when the directory is new. A directory whose
 * count is lost or unreadable while a shard holds data is refused: started with
 * another count, replay would route shows to other shards and drop their records.
 */
static int shards_stored(const struct server *server, const char *path, unsigned *stored)
{
	*stored = 0;
	FILE *file = fopen(path, "r");
	if (file == NULL && errno != ENOENT) {
		log_error("reading %s: %s", path, strerror(errno));
		return -errno;
	}
	bool read = false;
	if (file != NULL) {
		read = fscanf(file, "%u", stored) == 1 && *stored >= 1 && *stored <= WORKERS_MAX;
		fclose(file);
		if (read)
			return 0;
		*stored = 0;
	}
	uint32_t index, dirs;
	if (shard_data_scan(server->config.data_dir, 0, &index, &dirs)) {
		log_error("%s has shards holding data but %s %s; put it back with the shard count "
			  "the directory was created with (one line: the number of shard-N "
			  "directories, %u here, unless some were lost): it places the shows",
			  server->config.data_dir, path,
			  file != NULL ? "holds no shard count" : "is missing", dirs);
		return -EINVAL;
	}
	if (file != NULL)
		log_warn("%s holds no shard count, and no shard holds data: starting afresh", path);
	return 0;
}

/* Every shard directory of a data directory whose shards hold data must be there: an
 * empty one in its place would start its shard with none of its bookings. */
static int shard_dirs_check(const struct server *server, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		char dir[SERVER_PATH_SIZE + 32];
		snprintf(dir, sizeof(dir), "%s/shard-%u", server->config.data_dir, i);
		struct stat st;
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			continue;
		if (!shard_data_exists(server->config.data_dir))
			continue; /* a first start cut short: nothing to lose */
		log_error("%s is missing: %s holds %u shards and each keeps its own log; "
			  "restore it rather than start that shard empty",
			  dir, server->config.data_dir, count);
		return -ENOENT;
	}
	return 0;
}

/* A shard-N entry that is not a directory is no shard's: it is refused before anything
 * takes it for a shard holding data, or a missing one. */
static int shard_entries_check(const struct server *server)
{
	DIR *dir = opendir(server->config.data_dir);
	if (dir == NULL)
		return -errno;
	int error = 0;
	struct dirent *entry;
	unsigned index;
	char tail;
	while (error == 0 && (entry = readdir(dir)) != NULL) {
		struct stat st;
		if (sscanf(entry->d_name, "shard-%u%c", &index, &tail) != 1 ||
		    fstatat(dirfd(dir), entry->d_name, &st, 0) != 0 || S_ISDIR(st.st_mode))
			continue;
		log_error("%s/%s is not a directory: the shard-N entries of a data directory are "
			  "its shards' own directories; move it out of the way",
			  server->config.data_dir, entry->d_name);
		error = -ENOTDIR;
	}
	closedir(dir);
	return error;
}

/*
 * The number of shards is fixed when a data directory is created (shows are placed
 * by it); it is kept in data/shards and a different --workers is refused.
 */
static int shards_settle(struct server *server)
{
	char path[SERVER_PATH_SIZE + 16];
	snprintf(path, sizeof(path), "%s/shards", server->config.data_dir);
	unsigned stored;
	int error = shard_entries_check(server);
	if (error == 0)
		error = shards_stored(server, path, &stored);
	if (error != 0)
		return error;
	uint32_t beyond, dirs;
	if (stored != 0 && shard_data_scan(server->config.data_dir, stored, &beyond, &dirs)) {
		/* Started so, the shards past the count would be left out, bookings and all. */
		log_error("%s/shard-%u holds data, but %s says %u shards: that count is wrong (the "
			  "shard-N directories say %u); correct it to the count the directory was "
			  "created with",
			  server->config.data_dir, beyond, path, stored, dirs);
		return -EINVAL;
	}
	if (stored != 0 && server->config.workers != 0 && stored != server->config.workers) {
		log_error("%s was created with %u shards; start it with --workers %u (shows are "
			  "placed by the shard count, which cannot change)",
			  server->config.data_dir, stored, stored);
		return -EINVAL;
	}
	uint32_t count = stored ? stored : server->config.workers;
	if (count == 0)
		count = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
	if (count == 0 || count > WORKERS_MAX)
		count = count == 0 ? 1 : WORKERS_MAX;
	server->workers_count = count;
	if (stored != 0)
		return shard_dirs_check(server, count);
	FILE *file = fopen(path, "w");
	if (file == NULL || fprintf(file, "%u\n", count) < 0 || fflush(file) != 0 ||
	    fsync(fileno(file)) != 0) {
		log_error("writing %s: %s", path, strerror(errno));
		if (file)
			fclose(file);
		return -errno;
	}
	fclose(file);
	int dir_fd = wal_dir_open(server->config.data_dir, false);
	if (dir_fd >= 0) {
		wal_dir_sync(dir_fd);
		close(dir_fd);
	}
	return 0;
}

const char *server_space_hint(int error)
{
	return error == -ENOSPC || error == -EFBIG
		       ? " (each shard fills a log segment of --segment-size bytes before use, "
			 "and a spare one beside it)"
		       : "";
}

static int shard_open(struct server *server, uint32_t index, struct wal_store **store)
{
	char dir[SERVER_PATH_SIZE + 32];
	snprintf(dir, sizeof(dir), "%s/shard-%u", server->config.data_dir, index);
	struct wal_store_config config = { .dir = dir,
					   .segment_size = server->config.segment_size };
	engine_config_default(&config.engine);
	config.engine.shard_index = index;
	config.engine.shard_count = server->workers_count;
	config.engine.hold_ttl_ms_default = server->config.hold_ttl_ms;
	config.engine.waitlist_idle_ms = server->config.waitlist_idle_ms;
	int error = wal_store_open(store, &config);
	const struct wal_recovery *report = &(*store)->recovery;
	if (error != 0) {
		log_error("shard %u (%s) cannot start: %s%s%s%s%s", index, dir, strerror(-error),
			  server_space_hint(error), report->message[0] ? ": " : "", report->message,
			  error == -EUCLEAN ? " (`boxwal verify` on the directory reports the same; "
					      "`boxwal truncate --at LSN` is the repair, discarding "
					      "everything after LSN: wal/FORMAT.md)"
					    : "");
		return error;
	}
	/* A cut tail is a warning: records were dropped (never acknowledged ones, by the
	 * log's rules; an operator may want to know how many, and why). */
	log_write(report->snapshot_fallback || report->torn ? LOG_WARN : LOG_INFO,
		  "shard %u recovered: snapshot at LSN %llu%s, %llu records replayed, last LSN "
		  "%llu, %.3f s%s%s",
		  index, (unsigned long long)report->snapshot_lsn,
		  !report->snapshot_fallback ? ""
		  : report->snapshot_lsn != 0 ? " (a newer snapshot was unusable: fell back)"
					      : " (every snapshot was unusable: replayed from LSN 1)",
		  (unsigned long long)report->records_replayed,
		  (unsigned long long)report->last_lsn, report->seconds,
		  report->torn ? "; " : "", report->torn ? report->message : "");
	server->dir_fds[index] = dup((*store)->dir_fd);
	return 0;
}

struct catalog_copy {
	struct wal_store *target;
	uint32_t applied;
	uint32_t conflicts;
	int error;
};

/* Whether an engine already has the entity a catalog put names. */
static bool catalog_has(const struct engine *engine, const struct command *put)
{
	switch (put->type) {
	case COMMAND_LOCATION_PUT: {
		struct engine_location location;
		return engine_location_get(engine, put->location_put.location_id, &location);
	}
	case COMMAND_VENUE_PUT: {
		struct engine_venue venue;
		return engine_venue_get(engine, put->venue_put.venue_id, &venue);
	}
	case COMMAND_EVENT_PUT: {
		struct engine_event_info event;
		return engine_event_get(engine, put->event_put.event_id, &event);
	}
	case COMMAND_SHOW_PUT: {
		struct engine_show show;
		return engine_show_get(engine, put->show_put.show_id, &show);
	}
	default:
		ASSERT(false);
		return false;
	}
}

/* Applies one exported catalog put to another shard, logged there. A put is logged
 * also when it only fires timers that came due while the server was down, so what
 * counts as copied is an entity the shard lacked. */
static void catalog_copy_one(void *context, const struct command *command)
{
	struct catalog_copy *copy = context;
	struct engine_result result;
	uint64_t lsn;
	if (copy->error != 0)
		return;
	bool had = catalog_has(copy->target->engine, command);
	copy->error = wal_store_apply_waiting(copy->target, command, wall_ms(), &result, &lsn);
	copy->applied += result.status == STATUS_OK && !had;
	copy->conflicts += result.status != STATUS_OK;
}

/* Every shard gets every catalog entity any shard has. */
static int catalogs_reconcile(struct server *server, struct wal_store **stores)
{
	for (uint32_t from = 0; from < server->workers_count; from++) {
		for (uint32_t to = 0; to < server->workers_count; to++) {
			if (from == to)
				continue;
			struct catalog_copy copy = { .target = stores[to] };
			engine_catalog_export(stores[from]->engine, catalog_copy_one, &copy);
			if (copy.error == 0)
				copy.error = wal_store_sync(stores[to]);
			if (copy.error != 0)
				return copy.error;
			if (copy.applied > 0 || copy.conflicts > 0)
				log_warn("catalog reconciled: %u entities of shard %u were missing on "
					 "shard %u, %u conflicted",
					 copy.applied, from, to, copy.conflicts);
		}
	}
	return 0;
}

struct demo_load {
	struct wal_store **stores;
	uint32_t count;
	uint32_t added; /* entities shard 0 did not have */
	int error;
};

static void demo_load_one(void *context, const struct command *command)
{
	struct demo_load *load = context;
	load->added += load->error == 0 && !catalog_has(load->stores[0]->engine, command);
	for (uint32_t i = 0; i < load->count && load->error == 0; i++) {
		struct engine_result result;
		uint64_t lsn;
		load->error = wal_store_apply_waiting(load->stores[i], command, wall_ms(),
						      &result, &lsn);
	}
}

/*
 * The demo catalog depends on the day it is first loaded (its shows start over the
 * next 120 days), so data/demo records that day and the seed, durably, before the
 * load begins. A load cut short (a crash in the first start) is then completed by
 * the next start with --demo: the puts are idempotent. Reads the record into *day_ms
 * and *seed; without a readable one, writes theirs when `create`, else -ENOENT.
 */
static int demo_record(struct server *server, bool create, int64_t *day_ms, uint64_t *seed)
{
	char path[SERVER_PATH_SIZE + 16];
	snprintf(path, sizeof(path), "%s/demo", server->config.data_dir);
	FILE *file = fopen(path, "r");
	long long day = 0;
	unsigned long long value = 0;
	bool found = file != NULL && fscanf(file, "%lld %llu", &day, &value) == 2;
	if (file != NULL)
		fclose(file);
	if (found) {
		*day_ms = day;
		*seed = value;
		return 0;
	}
	if (!create)
		return -ENOENT;
	file = fopen(path, "w");
	if (file == NULL || fprintf(file, "%lld %llu\n", (long long)*day_ms,
				    (unsigned long long)*seed) < 0 ||
	    fflush(file) != 0 || fsync(fileno(file)) != 0) {
		int error = -errno;
		log_error("writing %s: %s", path, strerror(errno));
		if (file)
			fclose(file);
		return error;
	}
	fclose(file);
	return wal_dir_sync(server->data_fd);
}

static int demo_load(struct server *server, struct wal_store **stores)
{
	struct engine_location first;
	bool empty = engine_locations_list(stores[0]->engine, 0, &first, 1) == 0;
	int64_t now = wall_ms();
	int64_t day_ms = now - now % (24LL * 3600 * 1000);
	uint64_t seed = server->config.demo_seed;
	int error = demo_record(server, empty, &day_ms, &seed);
	if (error == -ENOENT) {
		log_info("the catalog is not empty: the demo catalog is not loaded again");
		if (server->config.demo_seed_given)
			log_warn("--demo-seed %llu is not applied: it only seeds a demo catalog "
				 "loaded into an empty data directory",
				 (unsigned long long)server->config.demo_seed);
		return 0;
	}
	if (error != 0)
		return error;
	if (server->config.demo_seed_given && seed != server->config.demo_seed)
		log_warn("--demo-seed %llu is not applied: this data directory's demo catalog "
			 "was made with seed %llu",
			 (unsigned long long)server->config.demo_seed, (unsigned long long)seed);
	struct demo_load load = { .stores = stores, .count = server->workers_count };
	demo_catalog_generate(seed, day_ms, demo_load_one, &load);
	for (uint32_t i = 0; i < server->workers_count && load.error == 0; i++)
		load.error = wal_store_sync(stores[i]);
	if (load.error == 0 && empty)
		log_info("demo catalog loaded: %u locations, %u events, %u shows",
			 DEMO_LOCATIONS_COUNT, DEMO_EVENTS_COUNT, DEMO_SHOWS_COUNT);
	else if (load.error == 0 && load.added > 0)
		log_warn("demo catalog completed: %u entities of a load cut short were added",
			 load.added);
	else if (load.error == 0)
		log_info("demo catalog already loaded");
	return load.error;
}

/* Recovers every shard and hands its engine and log position to its worker. */
static int shards_recover(struct server *server)
{
	struct wal_store **stores = calloc(server->workers_count, sizeof(*stores));
	int error = 0;
	for (uint32_t i = 0; i < server->workers_count && error == 0; i++)
		error = shard_open(server, i, &stores[i]);
	if (error == 0) {
		error = catalogs_reconcile(server, stores);
		if (error != 0)
			log_error("reconciling the shards' catalogs: %s", strerror(-error));
	}
	if (error == 0 && server->config.demo) {
		error = demo_load(server, stores);
		if (error != 0)
			log_error("loading the demo catalog: %s", strerror(-error));
	}
	for (uint32_t i = 0; i < server->workers_count; i++) {
		struct worker *w = &server->workers[i];
		if (stores[i] == NULL)
			continue;
		if (error != 0) {
			wal_store_close(stores[i]);
			continue;
		}
		error = wal_store_detach(stores[i], &w->engine, &w->wal_position);
		if (error != 0)
			log_error("shard %u: preparing its log for the worker: %s", i,
				  strerror(-error));
	}
	free(stores);
	return error;
}

/* Listening sockets: one per worker on the same port (SO_REUSEPORT), so that the
 * kernel spreads connections over the workers with no hand-off between threads.
 * SO_REUSEPORT would also let another process (of the same user) join the port and
 * take a share of the connections, so the port is first bound without it: that fails
 * while anything listens there. */
static int listen_one(struct server *server, const char *port, bool shared)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *found;
	int error = getaddrinfo(server->config.host, port, &hints, &found);
	if (error != 0) {
		log_error("--listen %s:%s: %s", server->config.host, port, gai_strerror(error));
		return -EINVAL;
	}
	int fd = socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
	int one = 1;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (shared)
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	}
	if (fd < 0 || bind(fd, found->ai_addr, found->ai_addrlen) < 0 ||
	    (shared && listen(fd, 4096) < 0)) {
		error = -errno;
		log_error("listening on %s:%s: %s%s", server->config.host, port, strerror(errno),
			  errno == EADDRINUSE ? " (is another server listening there?)" : "");
		if (fd >= 0)
			close(fd);
		freeaddrinfo(found);
		return error;
	}
	freeaddrinfo(found);
	return fd;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage address;
	socklen_t size = sizeof(address);
	getsockname(fd, (struct sockaddr *)&address, &size);
	if (address.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&address)->sin6_port);
	return ntohs(((struct sockaddr_in *)&address)->sin_port);
}

/* Whether the port file can be written, checked before recovery (which may take a
 * while) rather than after it. */
static int port_file_check(const struct server *server)
{
	const char *path = server->config.port_file;
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		log_error("--port-file %s is a directory", path);
		return -EISDIR;
	}
	char temporary[SERVER_PATH_SIZE + 8];
	snprintf(temporary, sizeof(temporary), "%s.tmp", path);
	int fd = open(temporary, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		int error = errno;
		log_error("--port-file %s cannot be written: %s", path, strerror(error));
		return -error;
	}
	close(fd);
	unlink(temporary);
	return 0;
}

/* Fails, before the (possibly long) recovery, when the port file cannot be written or
 * another process listens on the port. */
static int port_check(struct server *server)
{
	if (server->config.port_file[0] != '\0') {
		int error = port_file_check(server);
		if (error != 0)
			return error;
	}
	if (strtoul(server->config.port, NULL, 10) == 0)
		return 0;
	int probe = listen_one(server, server->config.port, false);
	if (probe < 0)
		return probe;
	close(probe);
	return 0;
}

static int listeners_open(struct server *server)
{
	char port[16];
	snprintf(port, sizeof(port), "%s", server->config.port);
	for (uint32_t i = 0; i < server->workers_count; i++) {
		int fd = listen_one(server, port, true);
		if (fd < 0)
			return fd;
		server->workers[i].listen_fd = fd;
		/* Port 0 picks a free port once; the other workers join that one. */
		snprintf(port, sizeof(port), "%u", bound_port(fd));
	}
	log_info("listening on %s:%s with %u shards", server->config.host, port,
		 server->workers_count);
	if (server->config.port_file[0] == '\0')
		return 0;
	char temporary[SERVER_PATH_SIZE + 8];
	snprintf(temporary, sizeof(temporary), "%s.tmp", server->config.port_file);
	FILE *file = fopen(temporary, "w");
	if (file == NULL || fprintf(file, "%s\n", port) < 0 || fclose(file) != 0 ||
	    rename(temporary, server->config.port_file) != 0) {
		int error = errno;
		log_error("writing %s: %s", server->config.port_file, strerror(error));
		unlink(temporary);
		return -error;
	}
	server->port_file_written = true;
	return 0;
}

static int workers_init(struct server *server)
{
	uint32_t count = server->workers_count;
	server->mailboxes = calloc((size_t)count * count, sizeof(struct mailbox));
	for (uint32_t i = 0; i < count * count; i++) {
		uint32_t capacity = server->config.test_mailbox_bytes != 0
					    ? server->config.test_mailbox_bytes
					    : MAILBOX_CAPACITY;
		if (mailbox_init(&server->mailboxes[i], capacity) != 0)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < count; i++) {
		struct worker *w = &server->workers[i];
		w->index = i;
		w->server = server;
		w->now_ms = wall_ms();
		w->scratch = memory_alloc(PROTO_FRAME_SIZE_MAX + LAYOUT_SEATS_COUNT_MAX + 64);
		w->frame = memory_alloc(PROTO_FRAME_SIZE_MAX + 4);
		w->record = memory_alloc(COMMAND_SIZE_MAX);
		/* Closing connections keep their slot until the kernel lets go of them. */
		w->conns_slots = server->config.max_connections + 1024;
		w->conns_live = memory_alloc(sizeof(*w->conns_live) * w->conns_slots);
		for (uint32_t c = 0; c < w->conns_slots; c++)
			atomic_init(&w->conns_live[c], 0);
		w->wake_fd = eventfd(0, EFD_CLOEXEC);
		int error = w->wake_fd < 0 ? -errno : worker_ring_init(w);
		if (error < 0) {
			log_error("io_uring set-up for shard %u: %s", i, strerror(-error));
			return error;
		}
	}
	return 0;
}

/* The snapshot thread: writes captured images and retires old files, so that no
 * shard thread ever waits on the disk for it. */
static void *snapshot_main(void *argument)
{
	struct server *server = argument;
	log_thread_name("snapshots");
	pthread_mutex_lock(&server->snapshot_lock);
	for (;;) {
		while (server->snapshot_jobs_count == 0 && !server->snapshot_quit)
			pthread_cond_wait(&server->snapshot_cond, &server->snapshot_lock);
		if (server->snapshot_jobs_count == 0)
			break;
		struct snapshot_job job = server->snapshot_jobs[0];
		memmove(server->snapshot_jobs, server->snapshot_jobs + 1,
			sizeof(job) * --server->snapshot_jobs_count);
		pthread_mutex_unlock(&server->snapshot_lock);
		struct worker *w = job.worker;
		int dir_fd = server->dir_fds[w->index];
		int error = wal_snapshot_write(dir_fd, w->index, job.lsn, &w->snapshot_image);
		if (error == 0)
			error = wal_retire(dir_fd, WAL_SNAPSHOTS_KEPT);
		if (error != 0)
			log_error("snapshot of shard %u at LSN %llu: %s", w->index,
				  (unsigned long long)job.lsn, strerror(-error));
		else
			log_info("snapshot of shard %u at LSN %llu written (%zu bytes)", w->index,
				 (unsigned long long)job.lsn, w->snapshot_image.size);
		if (error == 0)
			atomic_store(&w->snapshot_written_lsn, job.lsn);
		atomic_store(&w->snapshot_error, error);
		/* Release: the worker may reuse the image once it sees this. */
		atomic_store(&w->snapshot_jobs_done, job.number);
		pthread_mutex_lock(&server->snapshot_lock);
	}
	pthread_mutex_unlock(&server->snapshot_lock);
	return NULL;
}

void server_snapshot_submit(struct server *server, struct worker *worker)
{
	pthread_mutex_lock(&server->snapshot_lock);
	ASSERT(server->snapshot_jobs_count < ARRAY_COUNT(server->snapshot_jobs));
	server->snapshot_jobs[server->snapshot_jobs_count++] =
		(struct snapshot_job){ .worker = worker, .lsn = worker->snapshot_lsn,
				       .number = ++worker->snapshot_jobs_sent };
	pthread_cond_signal(&server->snapshot_cond);
	pthread_mutex_unlock(&server->snapshot_lock);
}

/* SIGTERM, SIGINT and SIGHUP (a closed terminal) stop the server. */
static bool stop_signal(int signal_number)
{
	return signal_number == SIGTERM || signal_number == SIGINT || signal_number == SIGHUP;
}

/* Waits for a stop signal (returns it), or for a worker to fail (returns 0). */
static int signals_wait(struct server *server, const sigset_t *signals)
{
	struct timespec interval = { .tv_nsec = 200 * 1000000L };
	for (;;) {
		int signal_number = sigtimedwait(signals, NULL, &interval);
		if (stop_signal(signal_number))
			return signal_number;
		if (atomic_load(&server->failed))
			return 0;
	}
}

static const char *signal_name(int signal_number)
{
	return signal_number == SIGTERM ? "SIGTERM" : signal_number == SIGINT ? "SIGINT" : "SIGHUP";
}

/* Joins a worker that is stopping. A second stop signal meanwhile ends the process at
 * once: what was acknowledged is durable already; only answers not yet sent are lost. */
static void worker_join(struct worker *w, const sigset_t *signals)
{
	for (;;) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (pthread_timedjoin_np(w->thread, NULL, &until) == 0)
			return;
		struct timespec now = { 0 };
		int signal_number = sigtimedwait(signals, NULL, &now);
		if (stop_signal(signal_number)) {
			log_warn("%s again: stopping at once, without finishing what is in flight "
				 "(every acknowledged change is durable)",
				 signal_name(signal_number));
			_exit(1);
		}
	}
}

static void server_free(struct server *server)
{
	for (uint32_t i = 0; i < server->workers_count && server->workers; i++) {
		struct worker *w = &server->workers[i];
		engine_destroy(w->engine);
		engine_image_finish(&w->snapshot_image);
		memory_free(w->scratch);
		memory_free(w->frame);
		memory_free(w->record);
		memory_free((void *)w->conns_live);
		/* Zero is never one of these: stdin stays open. */
		if (w->listen_fd > 0)
			close(w->listen_fd);
		if (w->wake_fd > 0)
			close(w->wake_fd);
	}
	for (uint32_t i = 0; server->mailboxes && i < server->workers_count * server->workers_count; i++)
		mailbox_finish(&server->mailboxes[i]);
	free(server->mailboxes);
	free(server->workers);
	free(server->dir_fds);
	if (server->data_fd > 0)
		close(server->data_fd);
	free(server);
}

static int server_start(struct server *server)
{
	/* First, so that a start refused for its port leaves no new data directory. */
	int error = port_check(server);
	if (error != 0)
		return error;
	server->data_fd = wal_dir_open(server->config.data_dir, true);
	if (server->data_fd < 0) {
		log_error("data directory %s: %s", server->config.data_dir,
			  strerror(-server->data_fd));
		return server->data_fd;
	}
	/* Held until the process ends: two servers on one directory would both append to
	 * its logs. (Each shard's store also locks its own directory, for boxwal.) */
	error = wal_dir_lock(server->data_fd);
	if (error != 0) {
		log_error("data directory %s: %s", server->config.data_dir,
			  error == -EBUSY ? "in use by another process (is another boxoffice "
					    "running on it?)"
					  : strerror(-error));
		return error;
	}
	error = shards_settle(server);
	if (error != 0)
		return error;
	server->workers = calloc(server->workers_count, sizeof(struct worker));
	server->dir_fds = calloc(server->workers_count, sizeof(int));
	error = shards_recover(server);
	if (error == 0)
		error = listeners_open(server);
	if (error == 0)
		error = workers_init(server);
	return error;
}

int server_run(const struct server_config *config)
{
	struct server *server = calloc(1, sizeof(*server));
	server->config = *config;
	server->started_ms = wall_ms();
	/* Each connection is a file descriptor: allow as many as the hard limit. */
	struct rlimit limit;
	if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
		limit.rlim_cur = limit.rlim_max;
		setrlimit(RLIMIT_NOFILE, &limit);
	}
	pthread_mutex_init(&server->snapshot_lock, NULL);
	pthread_cond_init(&server->snapshot_cond, NULL);
	/* Signals go to the main thread only: the workers inherit this mask. They are
	 * blocked before start-up, so a SIGTERM that comes once the port is announced
	 * (or during recovery) is a clean stop right after the start, not a kill. */
	sigset_t signals;
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGHUP); /* a closed terminal: a clean stop, not a silent death */
	sigaddset(&signals, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	sigdelset(&signals, SIGPIPE);
	int error = server_start(server);
	if (error != 0) {
		if (server->port_file_written)
			unlink(server->config.port_file);
		server_free(server);
		return 1;
	}
	pthread_create(&server->snapshot_thread, NULL, snapshot_main, server);
	for (uint32_t i = 0; i < server->workers_count; i++)
		pthread_create(&server->workers[i].thread, NULL, worker_main, &server->workers[i]);
	int signal_number = signals_wait(server, &signals);
	atomic_store(&server->stopping, true);
	/* From here on a connection attempt is refused at once (and those queued for
	 * accepting are reset), rather than waiting in a queue nobody serves until the
	 * process ends. */
	for (uint32_t i = 0; i < server->workers_count; i++)
		shutdown(server->workers[i].listen_fd, SHUT_RDWR);
	if (signal_number != 0)
		log_info("%s: stopping: no new connections or requests; finishing what is in "
			 "flight (a second signal stops at once)",
			 signal_name(signal_number));
	for (uint32_t i = 0; i < server->workers_count; i++) {
		uint64_t one = 1;
		ssize_t written = write(server->workers[i].wake_fd, &one, sizeof(one));
		(void)written;
	}
	for (uint32_t i = 0; i < server->workers_count; i++)
		worker_join(&server->workers[i], &signals);
	pthread_mutex_lock(&server->snapshot_lock);
	server->snapshot_quit = true;
	pthread_cond_signal(&server->snapshot_cond);
	pthread_mutex_unlock(&server->snapshot_lock);
	pthread_join(server->snapshot_thread, NULL);
	if (server->port_file_written)
		unlink(server->config.port_file);
	bool failed = atomic_load(&server->failed);
	int code = failed ? 1 : 0;
	for (uint32_t i = 0; i < server->workers_count; i++)
		code = server->workers[i].exit_code ? server->workers[i].exit_code : code;
	log_info("stopped%s", failed ? " after a failure" : ": every acknowledged change is durable");
	server_free(server);
	return code;
}
