/*
 * command.c — validation and the byte encoding of engine commands (see command.h).
 *
 * Encoding and decoding walk the same field list: each `codec_*` call either writes
 * a field or reads it back, so the two directions cannot drift apart.
 */
#include "command.h"

#include <stddef.h>
#include <string.h>

#include "bytes.h"

/* Times are milliseconds since 1970 and must lie before year 10000. */
#define DURATION_MIN_MAX 10080u

static const char *const command_type_names[COMMAND_TYPE_MAX + 1] = {
	[COMMAND_LOCATION_PUT] = "location_put",
	[COMMAND_VENUE_PUT] = "venue_put",
	[COMMAND_EVENT_PUT] = "event_put",
	[COMMAND_SHOW_PUT] = "show_put",
	[COMMAND_SEATS_BLOCK] = "seats_block",
	[COMMAND_HOLD] = "hold",
	[COMMAND_CONFIRM] = "confirm",
	[COMMAND_RELEASE] = "release",
	[COMMAND_BOOKING_CANCEL] = "booking_cancel",
	[COMMAND_WAITLIST_JOIN] = "waitlist_join",
	[COMMAND_WAITLIST_LEAVE] = "waitlist_leave",
	[COMMAND_WAITLIST_POLL] = "waitlist_poll",
	[COMMAND_TICK] = "tick",
	[COMMAND_CONFIGURE] = "configure",
};

const char *command_type_name(enum command_type type)
{
	if (type < COMMAND_LOCATION_PUT || type > COMMAND_TYPE_MAX)
		return "unknown command";
	return command_type_names[type];
}

struct text text_from_cstr(const char *cstr)
{
	return text_from(cstr, (uint32_t)strlen(cstr));
}

bool text_equal(struct text a, struct text b)
{
	return a.size == b.size && (a.size == 0 || memcmp(a.bytes, b.bytes, a.size) == 0);
}

/* Validation. */

static bool text_utf8(struct text text)
{
	return utf8_valid((const uint8_t *)text.bytes, text.size);
}

static bool layout_utf8(const struct layout *layout)
{
	struct layout_reader reader;
	struct layout_row row;
	layout_reader_init(&reader, layout);
	uint32_t section = UINT32_MAX;
	while (layout_reader_next(&reader, &row)) {
		if (row.section_index != section &&
		    !utf8_valid((const uint8_t *)row.section_name, row.section_name_size))
			return false;
		section = row.section_index;
		if (!utf8_valid((const uint8_t *)row.row_name, row.row_name_size))
			return false;
	}
	return true;
}

bool command_utf8_valid(const struct command *c)
{
	switch (c->type) {
	case COMMAND_LOCATION_PUT:
		return text_utf8(c->location_put.name);
	case COMMAND_VENUE_PUT:
		return text_utf8(c->venue_put.name) && text_utf8(c->venue_put.address) &&
		       layout_utf8(&c->venue_put.layout);
	case COMMAND_EVENT_PUT: {
		const struct command_event_put *e = &c->event_put;
		bool valid = text_utf8(e->title) && text_utf8(e->description) &&
			     text_utf8(e->language);
		for (uint8_t i = 0; valid && i < e->tags_count; i++)
			valid = text_utf8(e->tags[i]);
		return valid;
	}
	case COMMAND_CONFIRM:
		return text_utf8(c->confirm.payment_ref);
	default:
		return true;
	}
}

static enum status text_check(struct text text, uint32_t size_min, uint32_t size_max,
			      bool multiline)
{
	if (text.size > size_max)
		return STATUS_TOO_LARGE;
	if (text.size < size_min)
		return STATUS_BAD_REQUEST;
	for (uint32_t i = 0; i < text.size; i++) {
		uint8_t c = (uint8_t)text.bytes[i];
		bool control = c < 0x20 || c == 0x7f;
		if (control && !(multiline && (c == '\n' || c == '\t')))
			return STATUS_BAD_REQUEST;
	}
	return STATUS_OK;
}

static bool upper_letters(const char *chars, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (chars[i] < 'A' || chars[i] > 'Z')
			return false;
	}
	return true;
}

static bool coordinates_valid(int32_t lat_e6, int32_t lon_e6)
{
	return lat_e6 >= -LAT_E6_MAX && lat_e6 <= LAT_E6_MAX && lon_e6 >= -LON_E6_MAX &&
	       lon_e6 <= LON_E6_MAX;
}

static bool time_valid(int64_t ms)
{
	return ms >= 0 && ms <= TIME_MS_MAX;
}

static bool hold_id_valid(uint64_t id)
{
	return (id >> 32) != 0 && (uint32_t)id != 0;
}

/* Combines checks: the first status that is not OK wins. */
#define CHECK(expression)                                  \
	do {                                               \
		enum status check_status_ = (expression);  \
		if (check_status_ != STATUS_OK)            \
			return check_status_;              \
	} while (0)
#define REQUIRE(condition) CHECK((condition) ? STATUS_OK : STATUS_BAD_REQUEST)

static enum status location_validate(const struct command_location_put *c)
{
	REQUIRE(c->location_id != 0);
	CHECK(text_check(c->name, 1, NAME_SIZE_MAX, false));
	REQUIRE(upper_letters(c->country, COUNTRY_SIZE));
	REQUIRE(coordinates_valid(c->lat_e6, c->lon_e6));
	return STATUS_OK;
}

static enum status venue_validate(const struct command_venue_put *c)
{
	REQUIRE(c->venue_id != 0 && c->location_id != 0);
	CHECK(text_check(c->name, 1, NAME_SIZE_MAX, false));
	CHECK(text_check(c->address, 0, ADDRESS_SIZE_MAX, false));
	REQUIRE(coordinates_valid(c->lat_e6, c->lon_e6));
	if (c->layout.size > COMMAND_SIZE_MAX)
		return STATUS_TOO_LARGE;
	struct layout parsed;
	REQUIRE(c->layout.bytes != NULL &&
		layout_parse(c->layout.bytes, c->layout.size, &parsed) == STATUS_OK);
	return STATUS_OK;
}

static enum status event_validate(const struct command_event_put *c)
{
	REQUIRE(c->event_id != 0 && c->location_id != 0);
	CHECK(text_check(c->title, 1, TITLE_SIZE_MAX, false));
	CHECK(text_check(c->description, 0, DESCRIPTION_SIZE_MAX, true));
	REQUIRE(c->type < EVENT_TYPE_COUNT);
	CHECK(text_check(c->language, 0, LANGUAGE_SIZE_MAX, false));
	REQUIRE(c->duration_min <= DURATION_MIN_MAX);
	if (c->tags_count > TAGS_COUNT_MAX)
		return STATUS_TOO_LARGE;
	for (uint8_t i = 0; i < c->tags_count; i++)
		CHECK(text_check(c->tags[i], 1, TAG_SIZE_MAX, false));
	return STATUS_OK;
}

static enum status show_validate(const struct command_show_put *c)
{
	REQUIRE(c->show_id != 0 && c->event_id != 0 && c->venue_id != 0);
	REQUIRE(time_valid(c->start_ms) && time_valid(c->end_ms) && c->start_ms < c->end_ms);
	REQUIRE(time_valid(c->sale_opens_ms) && time_valid(c->sale_closes_ms) &&
		c->sale_opens_ms < c->sale_closes_ms);
	for (int t = 0; t < TIER_COUNT; t++)
		REQUIRE(c->prices_minor[t] >= 0 && c->prices_minor[t] <= PRICE_MINOR_MAX);
	REQUIRE(upper_letters(c->currency, CURRENCY_SIZE));
	REQUIRE(c->user_seats_max <= USER_SEATS_COUNT_MAX_LIMIT);
	REQUIRE(c->hold_ttl_ms <= HOLD_TTL_MS_MAX);
	return STATUS_OK;
}

static enum status hold_validate(const struct command_hold *c)
{
	REQUIRE(c->show_id != 0 && c->user_id != 0);
	REQUIRE(c->ttl_ms <= HOLD_TTL_MS_MAX);
	if (c->seats_count > HOLD_SEATS_COUNT_MAX)
		return STATUS_TOO_LARGE;
	REQUIRE(c->seats_count > 0);
	if (c->best) {
		REQUIRE(c->tier < TIER_COUNT);
	} else {
		for (uint8_t i = 0; i < c->seats_count; i++)
			REQUIRE(c->seats[i] < LAYOUT_SEATS_COUNT_MAX);
	}
	return STATUS_OK;
}

static enum status join_validate(const struct command_waitlist_join *c)
{
	REQUIRE(c->show_id != 0 && c->user_id != 0);
	REQUIRE(c->tier < TIER_COUNT);
	if (c->seats_count > HOLD_SEATS_COUNT_MAX)
		return STATUS_TOO_LARGE;
	REQUIRE(c->seats_count > 0);
	return STATUS_OK;
}

enum status command_validate(const struct command *c)
{
	switch (c->type) {
	case COMMAND_LOCATION_PUT:
		return location_validate(&c->location_put);
	case COMMAND_VENUE_PUT:
		return venue_validate(&c->venue_put);
	case COMMAND_EVENT_PUT:
		return event_validate(&c->event_put);
	case COMMAND_SHOW_PUT:
		return show_validate(&c->show_put);
	case COMMAND_SEATS_BLOCK:
		REQUIRE(c->seats_block.show_id != 0);
		REQUIRE(c->seats_block.seats_count > 0 &&
			c->seats_block.seats_count <= LAYOUT_SEATS_COUNT_MAX);
		REQUIRE(c->seats_block.seat_first < LAYOUT_SEATS_COUNT_MAX);
		return STATUS_OK;
	case COMMAND_HOLD:
		return hold_validate(&c->hold);
	case COMMAND_CONFIRM:
		REQUIRE(hold_id_valid(c->confirm.hold_id) && c->confirm.user_id != 0);
		return text_check(c->confirm.payment_ref, 1, PAYMENT_REF_SIZE_MAX, false);
	case COMMAND_RELEASE:
		REQUIRE(hold_id_valid(c->release.hold_id) && c->release.user_id != 0);
		return STATUS_OK;
	case COMMAND_BOOKING_CANCEL:
		REQUIRE(hold_id_valid(c->booking_cancel.booking_id));
		return STATUS_OK;
	case COMMAND_WAITLIST_JOIN:
		return join_validate(&c->waitlist_join);
	case COMMAND_WAITLIST_LEAVE:
	case COMMAND_WAITLIST_POLL:
		/* Leave and poll share one layout; the union makes them alias. */
		REQUIRE(c->waitlist_poll.show_id != 0 && c->waitlist_poll.user_id != 0);
		return STATUS_OK;
	case COMMAND_TICK:
		return STATUS_OK;
	case COMMAND_CONFIGURE:
		REQUIRE(c->configure.hold_ttl_ms_default >= 1 &&
			c->configure.hold_ttl_ms_default <= HOLD_TTL_MS_MAX);
		REQUIRE(c->configure.waitlist_idle_ms >= 1 &&
			c->configure.waitlist_idle_ms <= WAITLIST_IDLE_MS_MAX);
		return STATUS_OK;
	}
	return STATUS_BAD_REQUEST;
}

/* The two-way field walker. */

struct codec {
	bool decoding;
	bool counting; /* encoding with no buffer: only sizes are summed */
	struct bytes_writer writer;
	struct bytes_reader reader;
	bool too_large; /* decoding met a length above its limit */
};

/* The walker's leaves are inlined: decoding is on the replay path. */
static inline __attribute__((always_inline)) void codec_raw(struct codec *c, void *field,
							    size_t size)
{
	if (c->decoding) {
		const uint8_t *p = bytes_take(&c->reader, size);
		if (p)
			memcpy(field, p, size);
		else
			memset(field, 0, size);
	} else if (c->counting) {
		c->writer.size += size;
	} else {
		bytes_put_raw(&c->writer, field, size);
	}
}

/* width is in bits. */
#define CODEC_INT(name, type, width)                                      \
	static inline __attribute__((always_inline)) void codec_##name(struct codec *c,          \
								       type *field)      \
	{                                                                 \
		uint8_t bytes[width / 8];                                 \
		if (!c->decoding)                                         \
			bytes_store_##width##_(bytes, (uint##width##_t)*field); \
		codec_raw(c, bytes, width / 8);                           \
		if (c->decoding)                                          \
			*field = (type)bytes_load_##width##_(bytes);      \
	}

/* Byte-array adapters so one macro covers every width. */
static inline void bytes_store_8_(uint8_t *p, uint8_t v)
{
	p[0] = v;
}
static inline uint8_t bytes_load_8_(const uint8_t *p)
{
	return p[0];
}
#define bytes_store_16_ bytes_store_u16
#define bytes_load_16_ bytes_load_u16
#define bytes_store_32_ bytes_store_u32
#define bytes_load_32_ bytes_load_u32
#define bytes_store_64_ bytes_store_u64
#define bytes_load_64_ bytes_load_u64

CODEC_INT(u8, uint8_t, 8)
CODEC_INT(u16, uint16_t, 16)
CODEC_INT(u32, uint32_t, 32)
CODEC_INT(i32, int32_t, 32)
CODEC_INT(u64, uint64_t, 64)
CODEC_INT(i64, int64_t, 64)

static void codec_bool(struct codec *c, bool *field)
{
	uint8_t byte = *field ? 1 : 0;
	codec_u8(c, &byte);
	if (c->decoding) {
		if (byte > 1)
			c->reader.failed = true;
		*field = byte == 1;
	}
}

/* A u16 size then bytes; decoding borrows the bytes. `size_max` bounds what is read. */
static void codec_text(struct codec *c, struct text *text, uint32_t size_max)
{
	uint16_t size = (uint16_t)text->size;
	codec_u16(c, &size);
	if (!c->decoding) {
		codec_raw(c, (void *)text->bytes, text->size);
		return;
	}
	if (size > size_max) {
		c->too_large = true;
		c->reader.failed = true;
	}
	const uint8_t *bytes = bytes_take(&c->reader, size);
	*text = text_from((const char *)bytes, bytes ? size : 0);
}

static void codec_location(struct codec *c, struct command_location_put *p)
{
	codec_u32(c, &p->location_id);
	codec_text(c, &p->name, NAME_SIZE_MAX);
	codec_raw(c, p->country, COUNTRY_SIZE);
	codec_i32(c, &p->lat_e6);
	codec_i32(c, &p->lon_e6);
}

static void codec_venue(struct codec *c, struct command_venue_put *p)
{
	codec_u32(c, &p->venue_id);
	codec_u32(c, &p->location_id);
	codec_text(c, &p->name, NAME_SIZE_MAX);
	codec_text(c, &p->address, ADDRESS_SIZE_MAX);
	codec_i32(c, &p->lat_e6);
	codec_i32(c, &p->lon_e6);
	uint32_t size = p->layout.size;
	codec_u32(c, &size);
	if (!c->decoding) {
		codec_raw(c, (void *)p->layout.bytes, p->layout.size);
		return;
	}
	const uint8_t *bytes = bytes_take(&c->reader, size);
	if (bytes == NULL || layout_parse(bytes, size, &p->layout) != STATUS_OK)
		c->reader.failed = true;
}

static void codec_event(struct codec *c, struct command_event_put *p)
{
	codec_u32(c, &p->event_id);
	codec_u32(c, &p->location_id);
	codec_text(c, &p->title, TITLE_SIZE_MAX);
	codec_text(c, &p->description, DESCRIPTION_SIZE_MAX);
	codec_u8(c, &p->type);
	codec_text(c, &p->language, LANGUAGE_SIZE_MAX);
	codec_u32(c, &p->duration_min);
	codec_u8(c, &p->tags_count);
	if (p->tags_count > TAGS_COUNT_MAX) {
		c->too_large = true;
		c->reader.failed = true;
		return;
	}
	for (uint8_t i = 0; i < p->tags_count; i++)
		codec_text(c, &p->tags[i], TAG_SIZE_MAX);
}

static void codec_show(struct codec *c, struct command_show_put *p)
{
	codec_u32(c, &p->show_id);
	codec_u32(c, &p->event_id);
	codec_u32(c, &p->venue_id);
	codec_i64(c, &p->start_ms);
	codec_i64(c, &p->end_ms);
	for (int t = 0; t < TIER_COUNT; t++)
		codec_i64(c, &p->prices_minor[t]);
	codec_raw(c, p->currency, CURRENCY_SIZE);
	codec_u8(c, &p->user_seats_max);
	codec_i64(c, &p->sale_opens_ms);
	codec_i64(c, &p->sale_closes_ms);
	codec_u32(c, &p->hold_ttl_ms);
}

static void codec_hold(struct codec *c, struct command_hold *p)
{
	codec_u32(c, &p->show_id);
	codec_u64(c, &p->user_id);
	codec_u32(c, &p->ttl_ms);
	codec_bool(c, &p->best);
	if (p->best) {
		codec_u8(c, &p->tier);
		codec_u8(c, &p->seats_count);
		codec_bool(c, &p->together);
		return;
	}
	codec_u8(c, &p->seats_count);
	if (p->seats_count > HOLD_SEATS_COUNT_MAX) {
		c->too_large = true;
		c->reader.failed = true;
		return;
	}
	for (uint8_t i = 0; i < p->seats_count; i++)
		codec_u32(c, &p->seats[i]);
}

static void codec_command(struct codec *c, struct command *p)
{
	switch (p->type) {
	case COMMAND_LOCATION_PUT:
		codec_location(c, &p->location_put);
		return;
	case COMMAND_VENUE_PUT:
		codec_venue(c, &p->venue_put);
		return;
	case COMMAND_EVENT_PUT:
		codec_event(c, &p->event_put);
		return;
	case COMMAND_SHOW_PUT:
		codec_show(c, &p->show_put);
		return;
	case COMMAND_SEATS_BLOCK:
		codec_u32(c, &p->seats_block.show_id);
		codec_u32(c, &p->seats_block.seat_first);
		codec_u32(c, &p->seats_block.seats_count);
		codec_bool(c, &p->seats_block.blocked);
		return;
	case COMMAND_HOLD:
		codec_hold(c, &p->hold);
		return;
	case COMMAND_CONFIRM:
		codec_u64(c, &p->confirm.hold_id);
		codec_u64(c, &p->confirm.user_id);
		codec_text(c, &p->confirm.payment_ref, PAYMENT_REF_SIZE_MAX);
		return;
	case COMMAND_RELEASE:
		codec_u64(c, &p->release.hold_id);
		codec_u64(c, &p->release.user_id);
		return;
	case COMMAND_BOOKING_CANCEL:
		codec_u64(c, &p->booking_cancel.booking_id);
		return;
	case COMMAND_WAITLIST_JOIN:
		codec_u32(c, &p->waitlist_join.show_id);
		codec_u64(c, &p->waitlist_join.user_id);
		codec_u8(c, &p->waitlist_join.tier);
		codec_u8(c, &p->waitlist_join.seats_count);
		codec_bool(c, &p->waitlist_join.together);
		return;
	case COMMAND_WAITLIST_LEAVE:
	case COMMAND_WAITLIST_POLL:
		codec_u32(c, &p->waitlist_poll.show_id);
		codec_u64(c, &p->waitlist_poll.user_id);
		return;
	case COMMAND_TICK:
		return;
	case COMMAND_CONFIGURE:
		codec_u32(c, &p->configure.hold_ttl_ms_default);
		codec_u32(c, &p->configure.waitlist_idle_ms);
		return;
	}
	c->reader.failed = true;
}

static size_t encode(const struct command *command, struct codec *c, bool with_header)
{
	ASSERT(command_validate(command) == STATUS_OK);
	ASSERT(command->version <= COMMAND_VERSION);
	if (with_header) {
		uint8_t version = command->version != 0 ? command->version : COMMAND_VERSION;
		uint8_t type = (uint8_t)command->type;
		codec_u8(c, &version);
		codec_u8(c, &type);
	}
	/* The walker only reads fields when encoding. */
	codec_command(c, (struct command *)command);
	return c->writer.failed ? 0 : c->writer.size;
}

size_t command_encoded_size(const struct command *command)
{
	struct codec c = { .counting = true };
	return encode(command, &c, true);
}

size_t command_encode(const struct command *command, uint8_t *buffer, size_t capacity)
{
	struct codec c = { 0 };
	bytes_writer_init(&c.writer, buffer, capacity);
	return encode(command, &c, true);
}

size_t command_encode_body(const struct command *command, uint8_t *buffer, size_t capacity)
{
	struct codec c = { 0 };
	bytes_writer_init(&c.writer, buffer, capacity);
	return encode(command, &c, false);
}

/* Bytes of the union member a type uses: decoding clears only those. */
static size_t member_size(enum command_type type)
{
	switch (type) {
	case COMMAND_LOCATION_PUT:
		return sizeof(struct command_location_put);
	case COMMAND_VENUE_PUT:
		return sizeof(struct command_venue_put);
	case COMMAND_EVENT_PUT:
		return sizeof(struct command_event_put);
	case COMMAND_SHOW_PUT:
		return sizeof(struct command_show_put);
	case COMMAND_SEATS_BLOCK:
		return sizeof(struct command_seats_block);
	case COMMAND_HOLD:
		return sizeof(struct command_hold);
	case COMMAND_CONFIRM:
		return sizeof(struct command_confirm);
	case COMMAND_RELEASE:
		return sizeof(struct command_release);
	case COMMAND_BOOKING_CANCEL:
		return sizeof(struct command_booking_cancel);
	case COMMAND_WAITLIST_JOIN:
		return sizeof(struct command_waitlist_join);
	case COMMAND_WAITLIST_LEAVE:
	case COMMAND_WAITLIST_POLL:
		return sizeof(struct command_waitlist_user);
	case COMMAND_TICK:
		return 0;
	case COMMAND_CONFIGURE:
		return sizeof(struct command_configure);
	}
	return sizeof(struct command) - offsetof(struct command, hold);
}

/* Decodes the fields of a command whose type is known, from c's reader. */
static enum status decode_fields(struct codec *c, enum command_type type, struct command *command)
{
	command->type = type;
	memset((uint8_t *)command + offsetof(struct command, hold), 0, member_size(type));
	codec_command(c, command);
	if (c->too_large)
		return STATUS_TOO_LARGE;
	if (!bytes_reader_done(&c->reader))
		return STATUS_BAD_REQUEST;
	return command_validate(command);
}

enum status command_decode(const uint8_t *bytes, size_t size, struct command *command)
{
	command->type = 0;
	if (size > COMMAND_SIZE_MAX)
		return STATUS_TOO_LARGE;
	struct codec c = { .decoding = true };
	bytes_reader_init(&c.reader, bytes, size);
	uint8_t version = 0;
	uint8_t type = 0;
	codec_u8(&c, &version);
	codec_u8(&c, &type);
	if (c.reader.failed || version < COMMAND_VERSION_MIN || version > COMMAND_VERSION ||
	    type < COMMAND_LOCATION_PUT || type > COMMAND_TYPE_MAX)
		return STATUS_BAD_REQUEST;
	enum status status = decode_fields(&c, (enum command_type)type, command);
	command->version = version;
	return status;
}

enum status command_decode_body(enum command_type type, const uint8_t *bytes, size_t size,
				struct command *command)
{
	command->type = 0;
	if (type < COMMAND_LOCATION_PUT || type > COMMAND_TYPE_MAX)
		return STATUS_BAD_REQUEST;
	if (size > COMMAND_SIZE_MAX)
		return STATUS_TOO_LARGE;
	struct codec c = { .decoding = true };
	bytes_reader_init(&c.reader, bytes, size);
	enum status status = decode_fields(&c, type, command);
	command->version = 0;
	return status;
}
