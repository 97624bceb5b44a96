/*
 * engine.h — the seat-allocation state machine.
 *
 * Pure and deterministic: no syscalls, no clock reads, no threads, no I/O. Every
 * command carries `now_ms`; the same commands with the same timestamps give the same
 * state, bit for bit (engine_digest). The rules every command follows are written
 * out in engine/RULES.md; that file is the contract the reference model in the tests
 * is built from.
 *
 * One engine serves one shard. With shard_count > 1 every shard keeps the whole
 * catalog (so that catalog reads and search are answered anywhere) but only the
 * shows with engine_show_shard(show_id) == shard_index have seats, holds, bookings
 * and waiting lists there.
 *
 * Ids: catalog ids are chosen by the operator (1..2^32-1). Hold ids are made by the
 * engine and name their show: (show_id << 32) | n, n = 1, 2, … per show. A hold that
 * is confirmed becomes the booking with the same id.
 */
#ifndef BOXOFFICE_ENGINE_H
#define BOXOFFICE_ENGINE_H

#include "base.h"
#include "command.h"

struct engine;

struct engine_config {
	uint32_t shard_index;	      /* 0..shard_count-1 */
	uint32_t shard_count;	      /* 1.. */
	uint32_t hold_ttl_ms_default; /* 1..HOLD_TTL_MS_MAX; a show may set its own */
	uint32_t waitlist_idle_ms;    /* 1..; SPEC §6.5 idle limit */
};

void engine_config_default(struct engine_config *config);

/* The shard that owns a show: xxh3-64 of the little-endian show id, modulo count. */
uint32_t engine_show_shard(uint32_t show_id, uint32_t shard_count);

static inline uint32_t hold_id_show(uint64_t hold_id)
{
	return (uint32_t)(hold_id >> 32);
}

/* Returns NULL when memory runs out. */
struct engine *engine_create(const struct engine_config *config);
void engine_destroy(struct engine *engine); /* accepts NULL */
const struct engine_config *engine_config_get(const struct engine *engine);

enum waiter_state {
	WAITER_NONE = 0,
	WAITER_WAITING = 1,
	WAITER_OFFERED = 2,
	WAITER_SOLD_OUT = 3,
	WAITER_LAPSED = 4,
};

const char *waiter_state_name(enum waiter_state state);

struct engine_result {
	enum status status;
	/* Anything but the clock changed: the command must be logged to be replayed. */
	bool changed;
	/* Hold, confirm, release, cancel: the hold (= booking) id; poll: the offer's. */
	uint64_t hold_id;
	/* Hold: when it expires; poll of an offer: when the offer expires. */
	int64_t deadline_ms;
	/* The seats held, booked or returned; with STATUS_SEAT_UNAVAILABLE the ones that
	 * were not available, in request order (none for best-available). Seat ids. */
	uint8_t seats_count;
	uint32_t seats[HOLD_SEATS_COUNT_MAX];
	bool booking_cancelled;	   /* confirm or cancel of a cancelled booking */
	uint8_t waiter_state;	   /* enum waiter_state: join and poll */
	uint8_t tier;		   /* join and poll */
	uint32_t waiters_count;	   /* join and poll: the tier's line length */
	uint64_t waiter_seq;	   /* join and poll: the entry's join sequence number */
};

enum engine_event_type {
	ENGINE_EVENT_HOLD_EXPIRED = 1, /* a hold (or an offer) reached its deadline */
	ENGINE_EVENT_OFFERED = 2,      /* a waiter got a hold (SPEC §6.3) */
	ENGINE_EVENT_SOLD_OUT = 3,     /* a waiter was removed: none can come back */
	ENGINE_EVENT_LAPSED = 4,       /* a waiter did not poll within the idle limit */
};

const char *engine_event_type_name(enum engine_event_type type);

/* What a waiter (or a hold's owner) must hear about; see SPEC §7. */
struct engine_event {
	enum engine_event_type type;
	uint32_t show_id;
	uint64_t user_id;
	uint64_t hold_id;     /* HOLD_EXPIRED, OFFERED */
	int64_t deadline_ms;  /* OFFERED */
	uint8_t tier;	      /* OFFERED, SOLD_OUT, LAPSED */
	uint8_t seats_count;  /* HOLD_EXPIRED, OFFERED */
	uint32_t seats[HOLD_SEATS_COUNT_MAX];
	uint64_t waiter_seq;  /* OFFERED, SOLD_OUT, LAPSED: the entry's join sequence number */
};

/*
 * Applies one command at time now_ms (the engine's clock never goes back: an older
 * now_ms is taken as the current clock). Timers due by then fire first, in the
 * order RULES.md gives. *result is always filled; events caused by the command
 * (and by the timers it fired) are then in engine_events() until the next apply.
 * Memory exhaustion aborts the process: a half-applied command is never left.
 */
void engine_apply(struct engine *engine, const struct command *command, int64_t now_ms,
		  struct engine_result *result);

/* The events of the last engine_apply(), in the order they happened. */
const struct engine_event *engine_events(const struct engine *engine, uint32_t *count);

/* The engine's clock: the largest now_ms applied so far. */
int64_t engine_now(const struct engine *engine);

/*
 * xxh3-64 over a canonical walk of the state (catalog in id order, seat states,
 * holds and bookings in id order, waiting lines in order). The clock is not part of
 * it. Equal digests mean equal states, whatever the path that led to them.
 */
uint64_t engine_digest(const struct engine *engine);

/* Asserts every invariant of every structure (SPEC §3). Slow: for tests. */
void engine_check(const struct engine *engine);

/* Read-only queries. Texts borrow from the engine until the next engine_apply(). */

struct engine_location {
	uint32_t location_id;
	struct text name;
	char country[COUNTRY_SIZE];
	int32_t lat_e6;
	int32_t lon_e6;
	uint32_t events_count;
};

bool engine_location_get(const struct engine *engine, uint32_t location_id,
			 struct engine_location *location);
/* Locations with id > after_id in id order; returns how many were written. */
uint32_t engine_locations_list(const struct engine *engine, uint32_t after_id,
			       struct engine_location *locations, uint32_t capacity);

struct engine_venue {
	uint32_t venue_id;
	uint32_t location_id;
	struct text name;
	struct text address;
	int32_t lat_e6;
	int32_t lon_e6;
	struct layout layout;
};

bool engine_venue_get(const struct engine *engine, uint32_t venue_id, struct engine_venue *venue);

struct engine_event_info {
	uint32_t event_id;
	uint32_t location_id;
	struct text title;
	struct text description;
	uint8_t type;
	struct text language;
	uint32_t duration_min;
	uint8_t tags_count;
	struct text tags[TAGS_COUNT_MAX];
	uint32_t shows_count;
};

bool engine_event_get(const struct engine *engine, uint32_t event_id,
		      struct engine_event_info *event);
/* Events at a location with id > after_id, in id order. */
uint32_t engine_events_list(const struct engine *engine, uint32_t location_id, uint32_t after_id,
			    struct engine_event_info *events, uint32_t capacity);
/* Show ids of an event, in (start_ms, show_id) order, from position `first`. */
uint32_t engine_event_shows(const struct engine *engine, uint32_t event_id, uint32_t first,
			    uint32_t *show_ids, uint32_t capacity);

struct engine_tier_counts {
	uint32_t seats;	    /* in the venue */
	uint32_t available; /* to the public now */
	uint32_t held;	    /* by holds and offers, plus the waiting-list pool */
	uint32_t pooled;    /* of those, in the waiting-list pool */
	uint32_t booked;
	uint32_t blocked;
	uint32_t waiters;
};

struct engine_show {
	uint32_t show_id;
	uint32_t event_id;
	uint32_t venue_id;
	int64_t start_ms;
	int64_t end_ms;
	int64_t prices_minor[TIER_COUNT];
	char currency[CURRENCY_SIZE];
	uint8_t user_seats_max;
	int64_t sale_opens_ms;
	int64_t sale_closes_ms;
	uint32_t hold_ttl_ms;
	bool owned; /* this shard has its seats; the counts are zero otherwise */
	struct engine_tier_counts tiers[TIER_COUNT];
};

bool engine_show_get(const struct engine *engine, uint32_t show_id, struct engine_show *show);
/* The length of a tier's waiting line of an owned show (what a poll reports); 0 otherwise. */
uint32_t engine_line_length(const struct engine *engine, uint32_t show_id, uint8_t tier);

/*
 * Writes the public state (enum seat_state) of every seat of an owned show in seat
 * id order into states[0..capacity). Returns the number of seats, or 0 when the
 * show is unknown, not owned here, or capacity is too small.
 */
uint32_t engine_show_seat_states(const struct engine *engine, uint32_t show_id,
				 uint8_t *states, uint32_t capacity);
/*
 * The same states packed two bits per seat, seat i in bits 2i and 2i+1 of byte i / 4
 * (SEATMAP's wire form), into packed[0 .. (n + 3) / 4). Returns the number of seats n,
 * or 0 as above when capacity < (n + 3) / 4.
 */
uint32_t engine_show_seat_states_packed(const struct engine *engine, uint32_t show_id,
					uint8_t *packed, uint32_t capacity);

/* Search (SPEC §2). Results are shows, in (start_ms, show_id) order. */
struct search_query {
	struct text keyword; /* words; each must start a word of title, description or a tag */
	bool near;
	int32_t lat_e6;
	int32_t lon_e6;
	uint32_t radius_km; /* with near: 1..SEARCH_RADIUS_KM_MAX */
	int64_t from_ms;    /* show start in [from_ms, to_ms) */
	int64_t to_ms;
	int16_t type; /* enum event_type, or -1 for any */
	uint8_t tags_count;
	struct text tags[TAGS_COUNT_MAX]; /* match any; none = no preference */
	uint32_t limit;			  /* 1..SEARCH_RESULTS_COUNT_MAX */
	int64_t after_start_ms;		  /* cursor: results strictly after this */
	uint32_t after_show_id;		  /* (0, 0) starts from the beginning */
};

struct search_hit {
	uint32_t show_id;
	uint32_t event_id;
	uint32_t venue_id;
	uint32_t location_id;
	int64_t start_ms;
	uint32_t distance_m; /* from the query point, with near */
};

void search_query_init(struct search_query *query);

/*
 * Runs a search. Returns STATUS_OK with *hits_count hits written to hits[0..limit)
 * and *more set when further results exist (continue from the last hit), or
 * STATUS_BAD_REQUEST for a query out of range. Not const: indexes are brought up to
 * date lazily after catalog changes.
 */
enum status engine_search(struct engine *engine, const struct search_query *query,
			  struct search_hit *hits, uint32_t *hits_count, bool *more);

/*
 * Snapshots. An image is the whole state, encoded (catalog as its put commands,
 * then seats, holds, bookings and waiting lists), versioned and checksummed; the
 * layout is in engine_snapshot.c. Encoding is a read-only walk that copies the
 * state into memory, so a shard pauses only for that copy; writing the image out
 * is someone else's job.
 */
struct engine_image {
	uint8_t *bytes;
	size_t size;
	size_t capacity;
};

/*
 * Calls emit with the put command of every catalog entity: locations, venues,
 * events, shows, each kind in id order, so that applying them in turn to another
 * engine rebuilds the same catalog. The commands borrow from the engine.
 */
typedef void engine_command_fn(void *context, const struct command *command);
void engine_catalog_export(const struct engine *engine, engine_command_fn *emit, void *context);

/* Replaces image's contents with the engine's state. */
void engine_snapshot_encode(const struct engine *engine, struct engine_image *image);
void engine_image_finish(struct engine_image *image); /* accepts NULL */

/*
 * Rebuilds an engine from an image. The shard index and count in `config` must be
 * the image's; its hold and idle settings are taken from the image, so that replay
 * after it behaves as before. Returns NULL with *status STATUS_BAD_REQUEST for an
 * image that is malformed, has a bad checksum, or is not consistent (a seat held by
 * nothing, an unknown show...); with STATUS_NOT_OWNER for a whole image (checksum
 * and magic right) of another version or another shard index or count, which no
 * older image can stand in for. Never a half-built engine.
 */
struct engine *engine_snapshot_decode(const uint8_t *bytes, size_t size,
				      const struct engine_config *config, enum status *status);

struct engine_stats {
	uint32_t locations;
	uint32_t venues;
	uint32_t events;
	uint32_t shows;
	uint32_t shows_owned;
	uint64_t seats_owned;
	uint64_t holds_active;
	uint64_t bookings;
	uint64_t waiters; /* entries waiting in lines (not offered, sold out or lapsed ones) */
	/* Memory, in bytes. */
	uint64_t seat_state_bytes; /* bitmaps and per-row counters of owned shows */
	uint64_t hold_bytes;	   /* hold records, their seat arrays and id index */
	uint64_t total_bytes;	   /* everything the engine has allocated */
};

void engine_stats_get(const struct engine *engine, struct engine_stats *stats);

#endif
