/*
 * command.h — the engine's commands: one tagged union, and its stable byte encoding.
 *
 * A command is everything that can change engine state. The same encoded bytes are
 * written to the write-ahead log, replayed at recovery, and carried as the payload of
 * the protocol's write requests, so the encoding is explicit little-endian, field by
 * field, versioned by its first byte, and never a memcpy of a struct.
 *
 * Encoding: u8 version (COMMAND_VERSION), u8 type, then the fields of that type in
 * the order they are declared below. Integers are little-endian of their declared
 * width; a bool is one byte, 0 or 1; a text is a u16 byte count then the bytes (no
 * terminator); a layout is described in layout.h. Nothing follows the last field.
 *
 * Decoded texts and layouts borrow from the decoded buffer: keep it alive while the
 * command is in use.
 */
#ifndef BOXOFFICE_COMMAND_H
#define BOXOFFICE_COMMAND_H

#include "base.h"
#include "layout.h"

/*
 * The encoding's version byte also names the rules a logged command was applied
 * under, so that replay applies an old record as it was applied live. Version 1
 * (before): a show put's lifetime of 0 took the default of that moment; a join's
 * "seats available" test looked for the seats together when asked. Version 2: a
 * lifetime of 0 stays 0 (the default when a hold is made); the join counts seats.
 */
#define COMMAND_VERSION 2u
#define COMMAND_VERSION_MIN 1u
/* Largest encoded command: a venue with every row of the largest layout. */
#define COMMAND_SIZE_MAX (512u * 1024u)
/* Times are from 1970-01-01 to 9999-12-31T23:59:59.999Z; prices up to 10^12 minor units. */
#define TIME_MS_MAX 253402300799999LL
#define PRICE_MINOR_MAX 1000000000000LL

enum command_type {
	COMMAND_LOCATION_PUT = 1,
	COMMAND_VENUE_PUT = 2,
	COMMAND_EVENT_PUT = 3,
	COMMAND_SHOW_PUT = 4,
	COMMAND_SEATS_BLOCK = 5,
	COMMAND_HOLD = 6,
	COMMAND_CONFIRM = 7,
	COMMAND_RELEASE = 8,
	COMMAND_BOOKING_CANCEL = 9,
	COMMAND_WAITLIST_JOIN = 10,
	COMMAND_WAITLIST_LEAVE = 11,
	COMMAND_WAITLIST_POLL = 12,
	COMMAND_TICK = 13,
	COMMAND_CONFIGURE = 14,
	COMMAND_TYPE_MAX = 14,
};

const char *command_type_name(enum command_type type);

/* A byte string borrowed from elsewhere; not NUL-terminated. */
struct text {
	const char *bytes;
	uint32_t size;
};

struct command_location_put {
	uint32_t location_id; /* 1.. */
	struct text name;     /* 1..NAME_SIZE_MAX */
	char country[COUNTRY_SIZE];
	int32_t lat_e6; /* -LAT_E6_MAX..LAT_E6_MAX */
	int32_t lon_e6; /* -LON_E6_MAX..LON_E6_MAX */
};

struct command_venue_put {
	uint32_t venue_id;    /* 1.. */
	uint32_t location_id; /* 1.. */
	struct text name;     /* 1..NAME_SIZE_MAX */
	struct text address;  /* 0..ADDRESS_SIZE_MAX */
	int32_t lat_e6;
	int32_t lon_e6;
	struct layout layout; /* 1..LAYOUT_SEATS_COUNT_MAX seats */
};

struct command_event_put {
	uint32_t event_id;	 /* 1.. */
	uint32_t location_id;	 /* 1.. */
	struct text title;	 /* 1..TITLE_SIZE_MAX */
	struct text description; /* 0..DESCRIPTION_SIZE_MAX */
	uint8_t type;		 /* enum event_type */
	struct text language;	 /* 0..LANGUAGE_SIZE_MAX, e.g. "en" */
	uint32_t duration_min;	 /* 0..10080 */
	uint8_t tags_count;	 /* 0..TAGS_COUNT_MAX */
	struct text tags[TAGS_COUNT_MAX]; /* each 1..TAG_SIZE_MAX */
};

struct command_show_put {
	uint32_t show_id;  /* 1.. */
	uint32_t event_id; /* 1.. */
	uint32_t venue_id; /* 1.. */
	int64_t start_ms;  /* < end_ms */
	int64_t end_ms;
	int64_t prices_minor[TIER_COUNT]; /* >= 0, minor units of `currency` */
	char currency[CURRENCY_SIZE];
	uint8_t user_seats_max; /* 0 = USER_SEATS_COUNT_MAX_DEFAULT, else 1..USER_SEATS_COUNT_MAX_LIMIT */
	int64_t sale_opens_ms;	/* < sale_closes_ms */
	int64_t sale_closes_ms;
	uint32_t hold_ttl_ms; /* 0 = the engine's default, else 1..HOLD_TTL_MS_MAX */
};

/* Blocks (or unblocks) the seats [seat_first, seat_first + seats_count) of a show. */
struct command_seats_block {
	uint32_t show_id;
	uint32_t seat_first;
	uint32_t seats_count; /* 1..LAYOUT_SEATS_COUNT_MAX */
	bool blocked;
};

/*
 * Explicit seats (best == false: seats[0..seats_count)) or best-available
 * (best == true: seats_count seats of `tier`, adjacent in one row if `together`).
 * Seat ids are indices into the venue layout, in layout order.
 */
struct command_hold {
	uint32_t show_id;
	uint64_t user_id; /* 1.. */
	uint32_t ttl_ms;  /* 0 = the show's lifetime; larger than it is cut to it */
	bool best;
	uint8_t seats_count; /* 1..HOLD_SEATS_COUNT_MAX */
	uint32_t seats[HOLD_SEATS_COUNT_MAX];
	uint8_t tier;
	bool together;
};

/* A hold id names its show: the high 32 bits are the show id (see engine.h). */
struct command_confirm {
	uint64_t hold_id;
	uint64_t user_id;
	struct text payment_ref; /* 1..PAYMENT_REF_SIZE_MAX */
};

struct command_release {
	uint64_t hold_id;
	uint64_t user_id;
};

struct command_booking_cancel {
	uint64_t booking_id;
};

struct command_waitlist_join {
	uint32_t show_id;
	uint64_t user_id;
	uint8_t tier;
	uint8_t seats_count; /* 1..HOLD_SEATS_COUNT_MAX */
	bool together;
};

/*
 * The engine's settings from here on. The log carries them so that a replay runs
 * with the settings each record was applied under (RULES.md CONFIGURE).
 */
struct command_configure {
	uint32_t hold_ttl_ms_default; /* 1..HOLD_TTL_MS_MAX */
	uint32_t waitlist_idle_ms;    /* 1..WAITLIST_IDLE_MS_MAX */
};

/* Leave and poll share one shape. */
struct command_waitlist_user {
	uint32_t show_id;
	uint64_t user_id;
};

struct command {
	enum command_type type;
	uint8_t version; /* the rules it is applied under: COMMAND_VERSION_MIN..COMMAND_VERSION,
			  * 0 for the current (commands made in code and from the network) */
	union {
		struct command_location_put location_put;
		struct command_venue_put venue_put;
		struct command_event_put event_put;
		struct command_show_put show_put;
		struct command_seats_block seats_block;
		struct command_hold hold;
		struct command_confirm confirm;
		struct command_release release;
		struct command_booking_cancel booking_cancel;
		struct command_waitlist_join waitlist_join;
		struct command_waitlist_user waitlist_leave;
		struct command_waitlist_user waitlist_poll;
		struct command_configure configure;
	};
};

/*
 * Checks every field against its range and limit (not against engine state).
 * Returns STATUS_OK, STATUS_BAD_REQUEST or STATUS_TOO_LARGE.
 */
enum status command_validate(const struct command *command);

/*
 * Whether every text of the command (names, titles, tags, a payment reference, a
 * venue's section and row names) is well-formed UTF-8. Checked where commands come
 * in from the network, not in command_validate(): records logged before the rule
 * must still replay.
 */
bool command_utf8_valid(const struct command *command);

/* Bytes command_encode() will write; the command must be valid. */
size_t command_encoded_size(const struct command *command);

/*
 * Writes a valid command into buffer[0..capacity). Returns the size written, or 0
 * when it does not fit (nothing useful is left in the buffer then).
 */
size_t command_encode(const struct command *command, uint8_t *buffer, size_t capacity);

/*
 * Parses bytes[0..size) into *command and validates it (command_validate). Returns
 * STATUS_OK, STATUS_TOO_LARGE (size above COMMAND_SIZE_MAX) or STATUS_BAD_REQUEST
 * (unknown version or type, truncated, trailing bytes, or a field out of range).
 */
enum status command_decode(const uint8_t *bytes, size_t size, struct command *command);

/*
 * The same, without the two leading bytes (version and type): the protocol carries
 * the type in its opcode. command_encode_body returns the size written or 0.
 */
size_t command_encode_body(const struct command *command, uint8_t *buffer, size_t capacity);
enum status command_decode_body(enum command_type type, const uint8_t *bytes, size_t size,
				struct command *command);

/* Helpers shared by the engine and tools. */
static inline struct text text_from(const char *bytes, uint32_t size)
{
	return (struct text){ .bytes = bytes, .size = size };
}
struct text text_from_cstr(const char *cstr);
bool text_equal(struct text a, struct text b);

#endif
