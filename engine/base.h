/*
 * base.h — what every part of boxoffice shares: the always-on assertion, the
 * domain enums (statuses, tiers, seat states, event types) and the hard limits.
 *
 * The limits are part of the contract with clients (PROTOCOL.md repeats them) and
 * of the durable formats: raising one is a format change, lowering one can make an
 * old log unreadable.
 */
#ifndef BOXOFFICE_BASE_H
#define BOXOFFICE_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A programmer error: always checked, also in release builds, because a broken
 * invariant in a booking engine must stop the process before it sells a seat twice.
 */
#define ASSERT(condition)                                                      \
	do {                                                                   \
		if (!(condition))                                              \
			assert_fail(#condition, __FILE__, __LINE__, __func__); \
	} while (0)

_Noreturn void assert_fail(const char *expression, const char *file, int line,
			   const char *function);

#define ARRAY_COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* Outcome of a command. A domain outcome, never an "error"; values are on the wire. */
enum status {
	STATUS_OK = 0,
	STATUS_NOT_FOUND = 1,
	STATUS_SEAT_UNAVAILABLE = 2,
	STATUS_LIMIT_EXCEEDED = 3,
	STATUS_NOT_ON_SALE = 4,
	STATUS_HOLD_EXPIRED = 5,
	STATUS_NOT_OWNER = 6,
	STATUS_ALREADY_CONFIRMED = 7,
	STATUS_WAITLIST_ACTIVE = 8,
	STATUS_BAD_REQUEST = 9,
	STATUS_TOO_LARGE = 10,
	STATUS_OVERLOADED = 11,
	STATUS_INTERNAL = 12,
	STATUS_SEATS_AVAILABLE = 13, /* waitlist join refused: hold them instead */
	STATUS_SOLD_OUT = 14,	     /* waitlist join refused: none can come back */
	STATUS_ALREADY_EXISTS = 15,  /* same id with other content, or already in line */
	STATUS_COUNT = 16,
};

const char *status_name(enum status status);

enum tier {
	TIER_ECONOMY = 0,
	TIER_REGULAR = 1,
	TIER_VIP = 2,
	TIER_COUNT = 3,
};

const char *tier_name(enum tier tier);
/* Returns the tier named `name` (case-sensitive, "economy"/"regular"/"vip"), or -1. */
int tier_parse(const char *name, size_t size);

/* What the public sees of a seat. Seats in a waiting-list pool show as held. */
enum seat_state {
	SEAT_AVAILABLE = 0,
	SEAT_HELD = 1,
	SEAT_BOOKED = 2,
	SEAT_BLOCKED = 3,
};

const char *seat_state_name(enum seat_state state);

enum event_type {
	EVENT_TYPE_CONCERT = 0,
	EVENT_TYPE_SPORT = 1,
	EVENT_TYPE_THEATRE = 2,
	EVENT_TYPE_COMEDY = 3,
	EVENT_TYPE_FESTIVAL = 4,
	EVENT_TYPE_FAMILY = 5,
	EVENT_TYPE_CONFERENCE = 6,
	EVENT_TYPE_OTHER = 7,
	EVENT_TYPE_COUNT = 8,
};

const char *event_type_name(enum event_type type);
int event_type_parse(const char *name, size_t size);

/* Whether bytes are well-formed UTF-8 (no overlong forms, surrogates or code points
 * above U+10FFFF): every text the engine keeps is, so every client can show it. */
bool utf8_valid(const uint8_t *bytes, size_t size);
/* The size of the well-formed UTF-8 sequence at s (1 for ASCII), or 0; size >= 1. */
size_t utf8_sequence_size(const uint8_t *s, size_t size);

/* Strings, in bytes of UTF-8, which is otherwise passed through untouched. */
#define NAME_SIZE_MAX 128u
#define ADDRESS_SIZE_MAX 256u
#define TITLE_SIZE_MAX 256u
#define DESCRIPTION_SIZE_MAX 2048u
#define LANGUAGE_SIZE_MAX 16u
#define TAG_SIZE_MAX 32u
#define TAGS_COUNT_MAX 16u
#define LABEL_SIZE_MAX 16u /* section and row names */
#define PAYMENT_REF_SIZE_MAX 64u
#define COUNTRY_SIZE 2u	 /* ISO 3166-1 alpha-2, upper case */
#define CURRENCY_SIZE 3u /* ISO 4217, upper case */

/* Seat layouts. */
#define LAYOUT_SECTIONS_COUNT_MAX 255u
#define LAYOUT_ROWS_COUNT_MAX 8192u	 /* per venue */
#define LAYOUT_ROW_SEATS_COUNT_MAX 1024u /* per row */
#define LAYOUT_ROW_RUNS_COUNT_MAX 8u	 /* tier changes along one row */
#define LAYOUT_SEATS_COUNT_MAX 200000u	 /* per venue */

/* Holds and the waiting list. */
#define HOLD_SEATS_COUNT_MAX 10u
#define USER_SEATS_COUNT_MAX_DEFAULT 10u
#define USER_SEATS_COUNT_MAX_LIMIT 100u
#define HOLD_TTL_MS_DEFAULT 600000u /* 10 minutes */
#define HOLD_TTL_MS_MAX 3600000u    /* 1 hour */
#define WAITLIST_IDLE_MS_DEFAULT 120000u
#define WAITLIST_IDLE_MS_MAX 86400000u /* a day */

/* Search. */
#define SEARCH_RESULTS_COUNT_MAX 100u
#define SEARCH_KEYWORD_SIZE_MAX 128u
#define SEARCH_RADIUS_KM_MAX 20000u

/* Coordinates are integer millionths of a degree, so that every shard computes alike. */
#define LAT_E6_MAX 90000000
#define LON_E6_MAX 180000000

#endif
