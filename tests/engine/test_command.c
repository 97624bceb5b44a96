/*
 * test_command.c — the command encoding: exact bytes, round trips for every type,
 * and refusal of every kind of malformed input.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "command.h"

static uint8_t buffer[COMMAND_SIZE_MAX + 16];
static uint8_t again[COMMAND_SIZE_MAX + 16];
static struct layout_builder builder;

/* One valid command of every type. */
static uint32_t examples(struct command *out)
{
	uint32_t n = 0;
	memset(out, 0, sizeof(*out) * 14); /* version 0: the current rules */
	out[n].type = COMMAND_LOCATION_PUT;
	out[n++].location_put = (struct command_location_put){
		.location_id = 7, .name = text_from_cstr("Lisbon"), .country = { 'P', 'T' },
		.lat_e6 = 38722252, .lon_e6 = -9139337 };
	layout_builder_init(&builder);
	layout_builder_section(&builder, "Stalls");
	layout_builder_row(&builder, "A", 1, 12, TIER_VIP);
	uint8_t tiers[] = { TIER_ECONOMY, TIER_REGULAR };
	uint16_t counts[] = { 4, 6 };
	layout_builder_row_runs(&builder, "B", 3, 2, tiers, counts);
	out[n].type = COMMAND_VENUE_PUT;
	out[n].venue_put = (struct command_venue_put){
		.venue_id = 3, .location_id = 7, .name = text_from_cstr("Coliseu"),
		.address = text_from_cstr("Rua das Portas 1"), .lat_e6 = -1, .lon_e6 = 1 };
	cr_assert_eq(layout_builder_layout(&builder, &out[n++].venue_put.layout), STATUS_OK);
	out[n].type = COMMAND_EVENT_PUT;
	out[n++].event_put = (struct command_event_put){
		.event_id = 9, .location_id = 7, .title = text_from_cstr("Fado Night"),
		.description = text_from_cstr("Songs of longing.\nTwo sets."),
		.type = EVENT_TYPE_CONCERT, .language = text_from_cstr("pt"), .duration_min = 120,
		.tags_count = 2, .tags = { text_from_cstr("fado"), text_from_cstr("live") } };
	out[n].type = COMMAND_SHOW_PUT;
	out[n++].show_put = (struct command_show_put){
		.show_id = 11, .event_id = 9, .venue_id = 3, .start_ms = 2000, .end_ms = 3000,
		.prices_minor = { 1, 2, 3 }, .currency = { 'E', 'U', 'R' }, .user_seats_max = 4,
		.sale_opens_ms = 0, .sale_closes_ms = 2000, .hold_ttl_ms = 90000 };
	out[n].type = COMMAND_SEATS_BLOCK;
	out[n++].seats_block = (struct command_seats_block){ .show_id = 11, .seat_first = 2,
							     .seats_count = 5, .blocked = true };
	out[n].type = COMMAND_HOLD;
	out[n++].hold = (struct command_hold){ .show_id = 11, .user_id = UINT64_MAX, .ttl_ms = 5,
					       .seats_count = 3, .seats = { 0, 21, 9 } };
	out[n].type = COMMAND_HOLD;
	out[n++].hold = (struct command_hold){ .show_id = 11, .user_id = 2, .best = true,
					       .seats_count = 10, .tier = TIER_VIP,
					       .together = true };
	out[n].type = COMMAND_CONFIRM;
	out[n++].confirm = (struct command_confirm){ .hold_id = (11ull << 32) | 5, .user_id = 2,
						     .payment_ref = text_from_cstr("pi_3Nx") };
	out[n].type = COMMAND_RELEASE;
	out[n++].release = (struct command_release){ .hold_id = (11ull << 32) | 6, .user_id = 2 };
	out[n].type = COMMAND_BOOKING_CANCEL;
	out[n++].booking_cancel.booking_id = (11ull << 32) | 5;
	out[n].type = COMMAND_WAITLIST_JOIN;
	out[n++].waitlist_join = (struct command_waitlist_join){
		.show_id = 11, .user_id = 4, .tier = TIER_REGULAR, .seats_count = 2,
		.together = true };
	out[n].type = COMMAND_WAITLIST_LEAVE;
	out[n++].waitlist_leave = (struct command_waitlist_user){ .show_id = 11, .user_id = 4 };
	out[n].type = COMMAND_WAITLIST_POLL;
	out[n++].waitlist_poll = (struct command_waitlist_user){ .show_id = 11, .user_id = 4 };
	out[n++].type = COMMAND_TICK;
	return n;
}

static void teardown(void)
{
	layout_builder_finish(&builder);
}

TestSuite(command, .fini = teardown);

Test(command, hold_encodes_to_the_documented_bytes)
{
	struct command c = { .type = COMMAND_HOLD };
	c.hold = (struct command_hold){ .show_id = 0x0a0b0c0d, .user_id = 0x0102030405060708,
					.ttl_ms = 1000, .seats_count = 2, .seats = { 1, 0x10000 } };
	static const uint8_t expected[] = {
		0x02, 0x06,			/* version, type */
		0x0d, 0x0c, 0x0b, 0x0a,		/* show id */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* user id */
		0xe8, 0x03, 0x00, 0x00,		/* ttl_ms */
		0x00,				/* explicit */
		0x02,				/* seats_count */
		0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, /* seats */
	};
	cr_assert_eq(command_encoded_size(&c), sizeof(expected));
	cr_assert_eq(command_encode(&c, buffer, sizeof(buffer)), sizeof(expected));
	cr_assert_arr_eq(buffer, expected, sizeof(expected));
}

Test(command, every_type_round_trips_to_identical_bytes)
{
	struct command commands[16];
	uint32_t count = examples(commands);
	cr_assert_eq(count, 14);
	for (uint32_t i = 0; i < count; i++) {
		cr_assert_eq(command_validate(&commands[i]), STATUS_OK, "example %u", i);
		size_t size = command_encode(&commands[i], buffer, sizeof(buffer));
		cr_assert_gt(size, 0);
		cr_assert_eq(size, command_encoded_size(&commands[i]));
		struct command decoded;
		cr_assert_eq(command_decode(buffer, size, &decoded), STATUS_OK, "example %u", i);
		cr_assert_eq(decoded.type, commands[i].type);
		size_t size_again = command_encode(&decoded, again, sizeof(again));
		cr_assert_eq(size_again, size);
		cr_assert_arr_eq(again, buffer, size, "example %u", i);
	}
}

Test(command, decoded_fields_equal_the_originals)
{
	struct command commands[16];
	examples(commands);
	struct command d;
	size_t size = command_encode(&commands[2], buffer, sizeof(buffer));
	cr_assert_eq(command_decode(buffer, size, &d), STATUS_OK);
	cr_assert(text_equal(d.event_put.title, commands[2].event_put.title));
	cr_assert(text_equal(d.event_put.tags[1], commands[2].event_put.tags[1]));
	cr_assert_eq(d.event_put.duration_min, 120);
	size = command_encode(&commands[1], buffer, sizeof(buffer));
	cr_assert_eq(command_decode(buffer, size, &d), STATUS_OK);
	cr_assert_eq(d.venue_put.layout.seats_count, 22);
	cr_assert_eq(d.venue_put.layout.tier_seats_count[TIER_REGULAR], 6);
	cr_assert_eq(d.venue_put.lat_e6, -1);
	size = command_encode(&commands[5], buffer, sizeof(buffer));
	cr_assert_eq(command_decode(buffer, size, &d), STATUS_OK);
	cr_assert_eq(d.hold.user_id, UINT64_MAX);
	cr_assert_eq(d.hold.seats[1], 21);
}

Test(command, every_truncation_and_any_trailing_byte_is_refused)
{
	struct command commands[16];
	uint32_t count = examples(commands);
	for (uint32_t i = 0; i < count; i++) {
		size_t size = command_encode(&commands[i], buffer, sizeof(buffer));
		struct command d;
		for (size_t cut = 0; cut < size; cut++)
			cr_assert_eq(command_decode(buffer, cut, &d), STATUS_BAD_REQUEST,
				     "example %u cut at %zu", i, cut);
		buffer[size] = 0;
		cr_assert_eq(command_decode(buffer, size + 1, &d), STATUS_BAD_REQUEST);
	}
}

Test(command, unknown_version_type_and_bool_are_refused)
{
	struct command c = { .type = COMMAND_TICK };
	size_t size = command_encode(&c, buffer, sizeof(buffer));
	struct command d;
	cr_assert_eq(command_decode(buffer, size, &d), STATUS_OK);
	cr_assert_eq(d.version, COMMAND_VERSION);
	buffer[0] = COMMAND_VERSION + 1;
	cr_assert_eq(command_decode(buffer, size, &d), STATUS_BAD_REQUEST);
	buffer[0] = 0;
	cr_assert_eq(command_decode(buffer, size, &d), STATUS_BAD_REQUEST);
	buffer[0] = 1; /* records logged before version 2 still decode, as version 1 */
	cr_assert_eq(command_decode(buffer, size, &d), STATUS_OK);
	cr_assert_eq(d.version, 1);
	buffer[0] = COMMAND_VERSION;
	buffer[1] = 0;
	cr_assert_eq(command_decode(buffer, size, &d), STATUS_BAD_REQUEST);
	buffer[1] = COMMAND_TYPE_MAX + 1;
	cr_assert_eq(command_decode(buffer, size, &d), STATUS_BAD_REQUEST);
	struct command join = { .type = COMMAND_WAITLIST_JOIN };
	join.waitlist_join = (struct command_waitlist_join){ .show_id = 1, .user_id = 1,
							     .seats_count = 1 };
	size = command_encode(&join, buffer, sizeof(buffer));
	buffer[size - 1] = 2; /* together must be 0 or 1 */
	cr_assert_eq(command_decode(buffer, size, &d), STATUS_BAD_REQUEST);
}

Test(command, oversized_fields_are_too_large)
{
	struct command c = { .type = COMMAND_CONFIRM };
	char ref[PAYMENT_REF_SIZE_MAX + 1];
	memset(ref, 'x', sizeof(ref));
	c.confirm = (struct command_confirm){ .hold_id = (1ull << 32) | 1, .user_id = 1,
					      .payment_ref = text_from(ref, sizeof(ref)) };
	cr_assert_eq(command_validate(&c), STATUS_TOO_LARGE);
	c.confirm.payment_ref.size = PAYMENT_REF_SIZE_MAX;
	size_t size = command_encode(&c, buffer, sizeof(buffer));
	buffer[18] = PAYMENT_REF_SIZE_MAX + 1; /* the text's size field */
	struct command d;
	cr_assert_eq(command_decode(buffer, size + 1, &d), STATUS_TOO_LARGE);
	struct command hold = { .type = COMMAND_HOLD };
	hold.hold = (struct command_hold){ .show_id = 1, .user_id = 1, .seats_count = 1 };
	size = command_encode(&hold, buffer, sizeof(buffer));
	buffer[size - 5] = HOLD_SEATS_COUNT_MAX + 1;
	cr_assert_eq(command_decode(buffer, size, &d), STATUS_TOO_LARGE);
	cr_assert_eq(command_decode(buffer, COMMAND_SIZE_MAX + 1, &d), STATUS_TOO_LARGE);
}

Test(command, out_of_range_fields_are_bad_requests)
{
	struct command c = { .type = COMMAND_LOCATION_PUT };
	c.location_put = (struct command_location_put){ .location_id = 1,
							.name = text_from_cstr("X"),
							.country = { 'a', 'T' } };
	cr_assert_eq(command_validate(&c), STATUS_BAD_REQUEST);
	c.location_put.country[0] = 'A';
	cr_assert_eq(command_validate(&c), STATUS_OK);
	c.location_put.lat_e6 = LAT_E6_MAX + 1;
	cr_assert_eq(command_validate(&c), STATUS_BAD_REQUEST);
	c.location_put.lat_e6 = 0;
	c.location_put.name = text_from_cstr("tab\there");
	cr_assert_eq(command_validate(&c), STATUS_BAD_REQUEST);
	struct command s = { .type = COMMAND_SHOW_PUT };
	s.show_put = (struct command_show_put){ .show_id = 1, .event_id = 1, .venue_id = 1,
						.start_ms = 5, .end_ms = 6, .currency = { 'U', 'S', 'D' },
						.sale_opens_ms = 1, .sale_closes_ms = 2 };
	cr_assert_eq(command_validate(&s), STATUS_OK);
	s.show_put.prices_minor[1] = -1;
	cr_assert_eq(command_validate(&s), STATUS_BAD_REQUEST);
	s.show_put.prices_minor[1] = 0;
	s.show_put.user_seats_max = USER_SEATS_COUNT_MAX_LIMIT + 1;
	cr_assert_eq(command_validate(&s), STATUS_BAD_REQUEST);
	struct command j = { .type = COMMAND_WAITLIST_JOIN };
	j.waitlist_join = (struct command_waitlist_join){ .show_id = 1, .user_id = 1,
							  .tier = TIER_COUNT, .seats_count = 1 };
	cr_assert_eq(command_validate(&j), STATUS_BAD_REQUEST);
}

Test(command, random_bytes_never_crash_the_decoder)
{
	uint64_t x = 0x243f6a8885a308d3;
	struct command commands[16];
	uint32_t count = examples(commands);
	for (uint32_t round = 0; round < 20000; round++) {
		size_t size = command_encode(&commands[round % count], buffer, sizeof(buffer));
		/* Flip a few bytes of a valid command, or write pure noise. */
		for (int k = 0; k < 3; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buffer[x % (size + 1)] ^= (uint8_t)(x >> 32);
		}
		struct command d;
		enum status status = command_decode(buffer, size, &d);
		if (status == STATUS_OK)
			cr_assert_eq(command_validate(&d), STATUS_OK);
	}
}

Test(command, utf8_validity_follows_the_standard)
{
	static const struct {
		const char *bytes;
		bool valid;
	} cases[] = {
		{ "plain", true },	     { "Z\xc3\xbcrich", true },	 { "\xe2\x82\xac", true },
		{ "\xf0\x9f\x8e\xab", true }, { "\xf4\x8f\xbf\xbf", true }, { "\xed\x9f\xbf", true },
		{ "\xff", false },	     { "\xc3", false },		 { "\xc0\xaf", false },
		{ "\xe0\x80\xaf", false },   { "\xed\xa0\x80", false },	 { "\xf4\x90\x80\x80", false },
		{ "\xf0\x80\x80\xaf", false }, { "\xe2\x82", false },	 { "a\x80z", false },
		{ "\xf5\x80\x80\x80", false }, { "\xe2\x28\xa1", false },
	};
	for (size_t i = 0; i < ARRAY_COUNT(cases); i++)
		cr_assert_eq(utf8_valid((const uint8_t *)cases[i].bytes, strlen(cases[i].bytes)),
			     cases[i].valid, "case %zu", i);
}

Test(command, texts_and_labels_that_are_not_utf8_are_found_but_still_decode)
{
	struct command c = { .type = COMMAND_LOCATION_PUT };
	c.location_put = (struct command_location_put){ .location_id = 1,
							.name = text_from_cstr("Z\xfcrich"),
							.country = { 'C', 'H' } };
	cr_assert_not(command_utf8_valid(&c));
	/* A record logged before the server checked this must still replay. */
	cr_assert_eq(command_validate(&c), STATUS_OK);
	size_t size = command_encode(&c, buffer, sizeof(buffer));
	struct command d;
	cr_assert_eq(command_decode(buffer, size, &d), STATUS_OK);
	c.location_put.name = text_from_cstr("Z\xc3\xbcrich");
	cr_assert(command_utf8_valid(&c));
	struct command confirm = { .type = COMMAND_CONFIRM };
	confirm.confirm = (struct command_confirm){ .hold_id = 1, .user_id = 1,
						    .payment_ref = text_from_cstr("ref\xc3") };
	cr_assert_not(command_utf8_valid(&confirm));
	struct command venue = { .type = COMMAND_VENUE_PUT };
	venue.venue_put = (struct command_venue_put){ .venue_id = 1, .location_id = 1,
						      .name = text_from_cstr("Halle") };
	layout_builder_init(&builder);
	layout_builder_section(&builder, "Parkett");
	layout_builder_row(&builder, "R\xe9", 1, 4, TIER_VIP);
	cr_assert_eq(layout_builder_layout(&builder, &venue.venue_put.layout), STATUS_OK);
	cr_assert_not(command_utf8_valid(&venue));
}
