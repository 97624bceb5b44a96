/*
 * test_protocol.c — PROTOCOL.md's worked example, byte for byte, against the
 * codec in net/protocol.c: what a gateway author reads there is what the server
 * accepts and sends. No server is needed.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "protocol.h"

/* A HOLD of seats 3 and 4 of show 10009 for user 42, request id 7. */
static const uint8_t hold_request[] = {
	0x26, 0x00, 0x00, 0x00, 0x26, 0x00, 0x00, 0x00, /* size 38, HOLD, flags */
	0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* request id 7 */
	0x19, 0x27, 0x00, 0x00,				/* show 10009 */
	0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* user 42 */
	0x00, 0x00, 0x00, 0x00,				/* lifetime 0 */
	0x00,						/* explicit seats */
	0x02, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, /* seats 3 and 4 */
};

/* Its response when the seats were free. */
static const uint8_t hold_response[] = {
	0x34, 0x00, 0x00, 0x00, 0x26, 0x80, 0x00, 0x00, /* size 52, HOLD | 0x8000, ok */
	0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* request id 7 */
	0x01, 0x00, 0x00, 0x00, 0x19, 0x27, 0x00, 0x00, /* hold id */
	0xc0, 0x77, 0x65, 0x18, 0xa3, 0x01, 0x00, 0x00, /* deadline */
	0x02, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, /* the 2 seats held */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* cancelled, waiter, tier, line */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* no line entry */
};

/* Had seat 4 been taken: status 2, seat 4 alone, hold id and deadline zero. */
static const uint8_t hold_refused[] = {
	0x30, 0x00, 0x00, 0x00, 0x26, 0x80, 0x02, 0x00, /* size 48, HOLD | 0x8000, unavailable */
	0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* request id 7 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* no hold */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* no deadline */
	0x01, 0x04, 0x00, 0x00, 0x00,			/* seat 4 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static struct command example_hold(void)
{
	struct command c = { .type = COMMAND_HOLD };
	c.hold = (struct command_hold){ .show_id = 10009, .user_id = 42, .ttl_ms = 0,
					.best = false, .seats_count = 2, .seats = { 3, 4 } };
	return c;
}

static void check_bytes(const uint8_t *got, size_t got_size, const uint8_t *want,
			size_t want_size)
{
	cr_assert_eq(got_size, want_size, "%zu bytes, the example has %zu", got_size, want_size);
	for (size_t i = 0; i < want_size; i++)
		cr_assert_eq(got[i], want[i], "byte %zu is %02x, the example has %02x", i, got[i],
			     want[i]);
}

Test(protocol_example, hold_request_encodes_to_the_documented_bytes)
{
	uint8_t buffer[128];
	struct bytes_writer w;
	bytes_writer_init(&w, buffer, sizeof(buffer));
	struct command c = example_hold();
	proto_encode_command(&w, 7, &c);
	cr_assert(!w.failed);
	check_bytes(buffer, w.size, hold_request, sizeof(hold_request));
}

Test(protocol_example, documented_hold_request_decodes_to_its_fields)
{
	struct proto_request request;
	cr_assert_eq(proto_request_decode(hold_request, sizeof(hold_request), &request), STATUS_OK);
	cr_assert_eq(request.opcode, PROTO_HOLD);
	cr_assert_eq(request.request_id, 7);
	const struct command_hold *h = &request.command.hold;
	cr_assert_eq(request.command.type, COMMAND_HOLD);
	cr_assert_eq(h->show_id, 10009);
	cr_assert_eq(h->user_id, 42);
	cr_assert_eq(h->ttl_ms, 0);
	cr_assert(!h->best);
	cr_assert_eq(h->seats_count, 2);
	cr_assert_eq(h->seats[0], 3);
	cr_assert_eq(h->seats[1], 4);
}

Test(protocol_example, documented_hold_request_is_exactly_one_frame)
{
	/* A byte more or less is a different frame: the size field must match. */
	struct proto_request request;
	cr_assert_eq(proto_request_decode(hold_request, sizeof(hold_request) - 1, &request),
		     STATUS_BAD_REQUEST);
	uint8_t longer[sizeof(hold_request) + 1];
	memcpy(longer, hold_request, sizeof(hold_request));
	longer[sizeof(hold_request)] = 0;
	longer[0] = 0x27; /* size 39: one trailing byte after the seats */
	cr_assert_eq(proto_request_decode(longer, sizeof(longer), &request), STATUS_BAD_REQUEST);
}

static struct engine_result example_result(void)
{
	return (struct engine_result){ .status = STATUS_OK,
				       .hold_id = UINT64_C(0x0000271900000001),
				       .deadline_ms = INT64_C(1800000600000), .seats_count = 2,
				       .seats = { 3, 4 } };
}

Test(protocol_example, hold_response_encodes_to_the_documented_bytes)
{
	uint8_t buffer[128];
	struct bytes_writer w;
	bytes_writer_init(&w, buffer, sizeof(buffer));
	struct engine_result result = example_result();
	proto_response_begin(&w, PROTO_HOLD, STATUS_OK, 7);
	proto_put_result(&w, &result);
	size_t size = proto_frame_end(&w, 0);
	check_bytes(buffer, size, hold_response, sizeof(hold_response));
}

Test(protocol_example, documented_hold_response_decodes_to_its_result)
{
	struct proto_header header;
	cr_assert_eq(proto_header_decode(hold_response, &header), STATUS_OK);
	cr_assert_eq(header.size + 4, sizeof(hold_response));
	cr_assert_eq(header.opcode, PROTO_HOLD | PROTO_RESPONSE_BIT);
	cr_assert_eq(header.word, STATUS_OK);
	cr_assert_eq(header.request_id, 7);
	struct bytes_reader r;
	bytes_reader_init(&r, hold_response + PROTO_HEADER_SIZE,
			  sizeof(hold_response) - PROTO_HEADER_SIZE);
	struct engine_result result;
	cr_assert(proto_get_result(&r, &result));
	cr_assert(bytes_reader_done(&r));
	cr_assert_eq(result.hold_id, UINT64_C(0x0000271900000001));
	cr_assert_eq(hold_id_show(result.hold_id), 10009);
	cr_assert_eq(result.deadline_ms, INT64_C(1800000600000));
	cr_assert_eq(result.seats_count, 2);
	cr_assert_eq(result.seats[0], 3);
	cr_assert_eq(result.seats[1], 4);
	cr_assert(!result.booking_cancelled);
	cr_assert_eq(result.waiter_state, WAITER_NONE);
	cr_assert_eq(result.tier, 0);
	cr_assert_eq(result.waiters_count, 0);
	cr_assert_eq(result.waiter_seq, 0);
}

Test(protocol_example, seat_unavailable_response_lists_the_taken_seat)
{
	uint8_t buffer[128];
	struct bytes_writer w;
	bytes_writer_init(&w, buffer, sizeof(buffer));
	struct engine_result result = { .status = STATUS_SEAT_UNAVAILABLE, .seats_count = 1,
					.seats = { 4 } };
	proto_response_begin(&w, PROTO_HOLD, STATUS_SEAT_UNAVAILABLE, 7);
	proto_put_result(&w, &result);
	size_t size = proto_frame_end(&w, 0);
	check_bytes(buffer, size, hold_refused, sizeof(hold_refused));
}

Test(protocol_example, documented_constants_match_the_codec)
{
	cr_assert_eq(PROTO_FRAME_SIZE_MAX, 1048576u);
	cr_assert_eq(PROTO_HEADER_SIZE, 16u);
	cr_assert_eq(PROTO_RESPONSE_BIT, 0x8000u);
	cr_assert_eq(PROTO_HOLD, 0x0026);
	cr_assert_eq(PROTO_WAIT, 0x0030);
	cr_assert_eq(PROTO_SNAPSHOT, 0x0041);
	cr_assert_eq(PROTO_WAIT_TIMEOUT_MS_MAX, 300000u);
	cr_assert_eq(STATUS_SEAT_UNAVAILABLE, 2);
	cr_assert_eq(STATUS_ALREADY_EXISTS, 15);
}
