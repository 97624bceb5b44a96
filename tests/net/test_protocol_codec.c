/*
 * test_protocol_codec.c — the response codecs that have no engine struct of their
 * own (HELLO, SEATMAP, EVENT's shows, SEARCH's header, STATS, SNAPSHOT): each
 * writes the bytes PROTOCOL.md lists, reads back what it wrote, and refuses a
 * payload that is cut short or out of range.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "protocol.h"

#define CODEC_BUFFER_SIZE 4096u

struct codec {
	uint8_t bytes[CODEC_BUFFER_SIZE];
	struct bytes_writer w;
	struct bytes_reader r;
};

static void codec_init(struct codec *c)
{
	bytes_writer_init(&c->w, c->bytes, sizeof(c->bytes));
}

/* Checks what was written against the expected bytes, then reads it from the start. */
static void codec_expect(struct codec *c, const uint8_t *expected, size_t size)
{
	cr_assert_not(c->w.failed);
	cr_assert_eq(c->w.size, size, "wrote %zu bytes, not %zu", c->w.size, size);
	cr_assert_eq(memcmp(c->bytes, expected, size), 0);
	bytes_reader_init(&c->r, c->bytes, c->w.size);
}

/* A reader over the first size bytes written: a payload cut short. */
static struct bytes_reader *codec_cut(struct codec *c, size_t size)
{
	cr_assert_leq(size, c->w.size);
	bytes_reader_init(&c->r, c->bytes, size);
	return &c->r;
}

/*
 * HELLO's answer of a version: written as expected (u16 version, u32 max frame, u16 workers,
 * u16 seats per hold, u32 max WAIT, text; from version 2 on, u16 shard), read back the same,
 * and refused when cut short by one byte.
 */
static void hello_info_check(uint16_t version, const uint8_t *expected, size_t size)
{
	struct proto_hello_info info = { .version = version,
					 .frame_size_max = PROTO_FRAME_SIZE_MAX, .workers = 4,
					 .hold_seats_max = HOLD_SEATS_COUNT_MAX,
					 .wait_timeout_ms_max = PROTO_WAIT_TIMEOUT_MS_MAX,
					 .server_version = text_from_cstr("bx 1"), .shard = 3 };
	struct codec c;
	codec_init(&c);
	proto_put_hello_info(&c.w, &info);
	codec_expect(&c, expected, size);
	struct proto_hello_info back;
	cr_assert(proto_get_hello_info(&c.r, &back));
	cr_assert(bytes_reader_done(&c.r));
	cr_assert_eq(back.version, info.version);
	cr_assert_eq(back.frame_size_max, info.frame_size_max);
	cr_assert_eq(back.workers, 4);
	cr_assert_eq(back.hold_seats_max, info.hold_seats_max);
	cr_assert_eq(back.wait_timeout_ms_max, info.wait_timeout_ms_max);
	cr_assert(text_equal(back.server_version, info.server_version));
	cr_assert_eq(back.shard, version >= 2 ? 3 : 0);
	cr_assert_not(proto_get_hello_info(codec_cut(&c, size - 1), &back));
}

Test(codec, hello_info_round_trips)
{
	static const uint8_t expected[] = { 0x01, 0x00, 0x00, 0x00, 0x10, 0x00, 0x04, 0x00,
					    0x0a, 0x00, 0xe0, 0x93, 0x04, 0x00, 0x04, 0x00,
					    'b',  'x',	' ',  '1' };
	hello_info_check(1, expected, sizeof(expected));
}

Test(codec, hello_info_of_version_2_names_the_connections_shard)
{
	static const uint8_t expected[] = { 0x02, 0x00, 0x00, 0x00, 0x10, 0x00, 0x04, 0x00,
					    0x0a, 0x00, 0xe0, 0x93, 0x04, 0x00, 0x04, 0x00,
					    'b',  'x',	' ',  '1',  0x03, 0x00 };
	hello_info_check(2, expected, sizeof(expected));
	/* A shard the server does not have: malformed. */
	struct proto_hello_info info = { .version = 2, .workers = 4, .shard = 4 };
	struct codec c;
	codec_init(&c);
	proto_put_hello_info(&c.w, &info);
	struct proto_hello_info back;
	cr_assert_not(proto_get_hello_info(codec_cut(&c, c.w.size), &back));
	info.shard = 3;
	codec_init(&c);
	proto_put_hello_info(&c.w, &info);
	cr_assert(proto_get_hello_info(codec_cut(&c, c.w.size), &back));
}

Test(codec, hello_agrees_on_the_highest_version_both_speak)
{
	cr_assert_eq(proto_version_agreed(1, 1), 1);
	cr_assert_eq(proto_version_agreed(1, 2), 2);
	cr_assert_eq(proto_version_agreed(1, 9), 2);
	cr_assert_eq(proto_version_agreed(2, 2), 2);
	cr_assert_eq(proto_version_agreed(2, 9), 2);
	cr_assert_eq(proto_version_agreed(3, 9), 0);
	cr_assert_eq(proto_version_agreed(0, 0), 0);
}

/* One section "S", row "A" numbered from 1, 5 seats of tier vip. */
static void small_layout(struct layout_builder *b, struct layout *layout)
{
	layout_builder_init(b);
	layout_builder_section(b, "S");
	layout_builder_row(b, "A", 1, 5, TIER_VIP);
	cr_assert_eq(layout_builder_layout(b, layout), STATUS_OK);
	cr_assert_eq(layout->seats_count, 5);
}

Test(codec, seatmap_round_trips)
{
	struct layout_builder b;
	struct layout layout;
	small_layout(&b, &layout);
	const uint8_t states[] = { 0, 1, 2, 3, 1 };
	struct codec c;
	codec_init(&c);
	proto_put_seatmap(&c.w, 101, &layout, states, 5);
	/* u32 venue, u32 layout size, the layout, u32 seat count, 2 bits a seat. */
	uint8_t expected[64];
	size_t size = 0;
	bytes_store_u32(expected, 101);
	bytes_store_u32(expected + 4, layout.size);
	memcpy(expected + 8, layout.bytes, layout.size);
	size = 8 + layout.size;
	bytes_store_u32(expected + size, 5);
	expected[size + 4] = 0xe4; /* seats 0-3: 0, 1, 2, 3 from the low bits up */
	expected[size + 5] = 0x01; /* seat 4: 1 */
	size += 6;
	codec_expect(&c, expected, size);

	uint32_t venue_id;
	struct layout back;
	const uint8_t *packed;
	cr_assert(proto_get_seatmap(&c.r, &venue_id, &back, &packed));
	cr_assert(bytes_reader_done(&c.r));
	cr_assert_eq(venue_id, 101);
	cr_assert_eq(back.size, layout.size);
	cr_assert_eq(back.seats_count, 5);
	cr_assert_eq(back.tier_seats_count[TIER_VIP], 5);
	uint8_t unpacked[5];
	proto_states_unpack(packed, 5, unpacked);
	cr_assert_eq(memcmp(unpacked, states, sizeof(states)), 0);
	cr_assert_not(proto_get_seatmap(codec_cut(&c, size - 1), &venue_id, &back, &packed));
	layout_builder_finish(&b);
}

Test(codec, seatmap_with_the_wrong_seat_count_or_no_layout_is_refused)
{
	struct layout_builder b;
	struct layout layout;
	small_layout(&b, &layout);
	const uint8_t states[6] = { 0 };
	uint32_t venue_id;
	struct layout back;
	const uint8_t *packed;
	struct codec c;
	codec_init(&c);
	proto_put_seatmap(&c.w, 101, &layout, states, 6);
	cr_assert_not(proto_get_seatmap(codec_cut(&c, c.w.size), &venue_id, &back, &packed));
	struct layout empty = { .bytes = layout.bytes, .size = 0 };
	codec_init(&c);
	proto_put_seatmap(&c.w, 101, &empty, states, 0);
	cr_assert_not(proto_get_seatmap(codec_cut(&c, c.w.size), &venue_id, &back, &packed));
	layout_builder_finish(&b);
}

Test(codec, event_show_round_trips)
{
	struct proto_event_show show = { .show_id = 10001, .start_ms = -2, .end_ms = 1 << 20,
					 .venue_id = 101, .venue_name = text_from_cstr("Hall"),
					 .venue_address = text_from_cstr("") };
	/* u32 show, i64 start, i64 end, u32 venue, text name, text address. */
	static const uint8_t expected[] = {
		0x11, 0x27, 0x00, 0x00, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x65, 0x00, 0x00, 0x00,
		0x04, 0x00, 'H',  'a',	'l',  'l',  0x00, 0x00,
	};
	struct codec c;
	codec_init(&c);
	proto_put_event_show(&c.w, &show);
	codec_expect(&c, expected, sizeof(expected));
	struct proto_event_show back;
	cr_assert(proto_get_event_show(&c.r, &back));
	cr_assert(bytes_reader_done(&c.r));
	cr_assert_eq(back.show_id, show.show_id);
	cr_assert_eq(back.start_ms, show.start_ms);
	cr_assert_eq(back.end_ms, show.end_ms);
	cr_assert_eq(back.venue_id, show.venue_id);
	cr_assert(text_equal(back.venue_name, show.venue_name));
	cr_assert_eq(back.venue_address.size, 0);
	cr_assert_not(proto_get_event_show(codec_cut(&c, sizeof(expected) - 1), &back));
}

Test(codec, search_header_round_trips_and_more_is_zero_or_one)
{
	static const uint8_t expected[] = { 0x03, 0x00, 0x01 }; /* u16 count, u8 more */
	struct codec c;
	codec_init(&c);
	proto_put_search_header(&c.w, 3, true);
	codec_expect(&c, expected, sizeof(expected));
	uint32_t count;
	bool more;
	cr_assert(proto_get_search_header(&c.r, &count, &more));
	cr_assert_eq(count, 3);
	cr_assert(more);
	c.bytes[2] = 2;
	cr_assert_not(proto_get_search_header(codec_cut(&c, 3), &count, &more));
	cr_assert_not(proto_get_search_header(codec_cut(&c, 2), &count, &more));
}

Test(codec, stat_round_trips)
{
	static const uint8_t expected[] = { 0x02, 0x00, 'u',  'p',  0xff, 0xff,
					    0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct codec c;
	codec_init(&c);
	proto_put_stat(&c.w, text_from_cstr("up"), -1);
	codec_expect(&c, expected, sizeof(expected));
	struct text name;
	int64_t value;
	cr_assert(proto_get_stat(&c.r, &name, &value));
	cr_assert(bytes_reader_done(&c.r));
	cr_assert(text_equal(name, text_from_cstr("up")));
	cr_assert_eq(value, -1);
	cr_assert_not(proto_get_stat(codec_cut(&c, sizeof(expected) - 1), &name, &value));
}

Test(codec, snapshot_lsns_round_trip_within_their_capacity)
{
	const uint64_t lsns[] = { 41, 0x0102030405060708ull };
	static const uint8_t expected[] = { 0x02, 0x00, 0x29, 0x00, 0x00, 0x00, 0x00, 0x00,
					    0x00, 0x00, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03,
					    0x02, 0x01 };
	struct codec c;
	codec_init(&c);
	proto_put_snapshot_lsns(&c.w, lsns, 2);
	codec_expect(&c, expected, sizeof(expected));
	uint64_t back[2];
	uint32_t count;
	cr_assert(proto_get_snapshot_lsns(&c.r, back, 2, &count));
	cr_assert(bytes_reader_done(&c.r));
	cr_assert_eq(count, 2);
	cr_assert_eq(back[0], lsns[0]);
	cr_assert_eq(back[1], lsns[1]);
	cr_assert_not(proto_get_snapshot_lsns(codec_cut(&c, sizeof(expected)), back, 1, &count));
	cr_assert_eq(count, 0);
	cr_assert_not(proto_get_snapshot_lsns(codec_cut(&c, sizeof(expected) - 1), back, 2,
					      &count));
}

/* Fixed buffers for a result (a parked WAIT's answer) are PROTO_RESULT_SIZE_MAX. */
Test(codec, a_result_with_the_most_seats_fills_proto_result_size_max)
{
	struct engine_result result = { .hold_id = 7, .seats_count = HOLD_SEATS_COUNT_MAX,
					.waiter_state = WAITER_OFFERED };
	for (uint32_t i = 0; i < HOLD_SEATS_COUNT_MAX; i++)
		result.seats[i] = 100 + i;
	struct codec c;
	codec_init(&c);
	proto_put_result(&c.w, &result);
	cr_assert_not(c.w.failed);
	cr_assert_eq(c.w.size, PROTO_RESULT_SIZE_MAX);
	bytes_reader_init(&c.r, c.bytes, c.w.size);
	struct engine_result back;
	cr_assert(proto_get_result(&c.r, &back));
	cr_assert(back.seats_count == HOLD_SEATS_COUNT_MAX && back.seats[9] == 109);
}

/* The server decodes what any client sends, not only what the client library allows. */
static enum status search_decoded(const struct search_query *q)
{
	static uint8_t frame[1024];
	struct bytes_writer w;
	bytes_writer_init(&w, frame, sizeof(frame));
	proto_encode_search(&w, 1, q);
	cr_assert(!w.failed);
	struct proto_request request;
	return proto_request_decode(frame, w.size, &request);
}

Test(codec, a_search_keyword_or_tag_above_its_limit_is_too_large)
{
	char text[SEARCH_KEYWORD_SIZE_MAX + 2];
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	struct search_query q;
	search_query_init(&q);
	q.keyword = text_from_cstr(text);
	cr_assert_eq(search_decoded(&q), STATUS_TOO_LARGE);
	q.keyword.size = SEARCH_KEYWORD_SIZE_MAX;
	cr_assert_eq(search_decoded(&q), STATUS_OK);
	search_query_init(&q);
	q.tags_count = 1;
	q.tags[0] = (struct text){ .bytes = text, .size = TAG_SIZE_MAX + 1 };
	cr_assert_eq(search_decoded(&q), STATUS_TOO_LARGE);
	q.tags[0].size = TAG_SIZE_MAX;
	cr_assert_eq(search_decoded(&q), STATUS_OK);
	q.tags[0].size = 0;
	cr_assert_eq(search_decoded(&q), STATUS_BAD_REQUEST);
}

/* PROTOCOL.md's conventions hold for every text, not only those of commands. */
Test(codec, a_search_or_hello_text_that_is_not_utf8_is_a_bad_request)
{
	struct search_query q;
	search_query_init(&q);
	q.keyword = text_from_cstr("caf\xe9");
	cr_assert_eq(search_decoded(&q), STATUS_BAD_REQUEST);
	q.keyword = text_from_cstr("caf\xc3\xa9");
	cr_assert_eq(search_decoded(&q), STATUS_OK);
	q.tags_count = 1;
	q.tags[0] = text_from_cstr("\xffjazz");
	cr_assert_eq(search_decoded(&q), STATUS_BAD_REQUEST);
	q.tags[0] = text_from_cstr("jazz");
	cr_assert_eq(search_decoded(&q), STATUS_OK);

	static uint8_t frame[256];
	struct proto_hello hello = { .version_min = 1, .version_max = 2,
				     .client = text_from_cstr("gate\x80") };
	struct bytes_writer w;
	bytes_writer_init(&w, frame, sizeof(frame));
	proto_encode_hello(&w, 1, &hello);
	struct proto_request request;
	cr_assert_eq(proto_request_decode(frame, w.size, &request), STATUS_BAD_REQUEST);
	hello.client = text_from_cstr("gate \xe2\x86\x92 1");
	bytes_writer_init(&w, frame, sizeof(frame));
	proto_encode_hello(&w, 1, &hello);
	cr_assert_eq(proto_request_decode(frame, w.size, &request), STATUS_OK);
	cr_assert_eq(request.hello.client.size, 10);
}

Test(codec, a_hello_client_name_above_its_limit_is_too_large)
{
	static uint8_t frame[256];
	char name[PROTO_NAME_SIZE_MAX + 1];
	memset(name, 'g', sizeof(name));
	struct proto_hello hello = { .version_min = 1, .version_max = 2,
				     .client = { .bytes = name, .size = sizeof(name) } };
	struct bytes_writer w;
	bytes_writer_init(&w, frame, sizeof(frame));
	proto_encode_hello(&w, 1, &hello);
	struct proto_request request;
	cr_assert_eq(proto_request_decode(frame, w.size, &request), STATUS_TOO_LARGE);
	hello.client.size = PROTO_NAME_SIZE_MAX;
	bytes_writer_init(&w, frame, sizeof(frame));
	proto_encode_hello(&w, 1, &hello);
	cr_assert_eq(proto_request_decode(frame, w.size, &request), STATUS_OK);
}

Test(codec, search_near_is_0_or_1)
{
	static uint8_t frame[1024];
	struct search_query q;
	search_query_init(&q);
	q.keyword = text_from_cstr("jazz");
	q.near = true;
	q.radius_km = 10;
	struct bytes_writer w;
	bytes_writer_init(&w, frame, sizeof(frame));
	proto_encode_search(&w, 1, &q);
	/* The byte after the header and the keyword (a u16 size and 4 bytes). */
	uint8_t *near = frame + PROTO_HEADER_SIZE + 2 + 4;
	cr_assert_eq(*near, 1);
	struct proto_request request;
	cr_assert_eq(proto_request_decode(frame, w.size, &request), STATUS_OK);
	cr_assert(request.search.near);
	*near = 0;
	cr_assert_eq(proto_request_decode(frame, w.size, &request), STATUS_OK);
	cr_assert_not(request.search.near);
	*near = 2;
	cr_assert_eq(proto_request_decode(frame, w.size, &request), STATUS_BAD_REQUEST);
}

Test(codec, a_command_whose_text_is_not_utf8_is_a_bad_request)
{
	static uint8_t frame[1024];
	struct command put = { .type = COMMAND_LOCATION_PUT };
	put.location_put = (struct command_location_put){ .location_id = 1,
							  .name = text_from_cstr("Z\xfcrich"),
							  .country = { 'C', 'H' } };
	struct bytes_writer w;
	bytes_writer_init(&w, frame, sizeof(frame));
	proto_encode_command(&w, 1, &put);
	struct proto_request request;
	cr_assert_eq(proto_request_decode(frame, w.size, &request), STATUS_BAD_REQUEST);
	put.location_put.name = text_from_cstr("Z\xc3\xbcrich");
	bytes_writer_init(&w, frame, sizeof(frame));
	proto_encode_command(&w, 1, &put);
	cr_assert_eq(proto_request_decode(frame, w.size, &request), STATUS_OK);
}

Test(codec, a_venue_whose_seats_share_a_label_is_a_bad_request)
{
	static uint8_t frame[4096];
	for (int split = 0; split < 2; split++) {
		struct layout_builder b;
		layout_builder_init(&b);
		layout_builder_section(&b, "Stalls");
		layout_builder_row(&b, "A", 1, 10, TIER_REGULAR);
		layout_builder_section(&b, "Circle");
		layout_builder_row(&b, "A", 1, 10, TIER_REGULAR);
		layout_builder_section(&b, "Stalls"); /* listed again: allowed */
		/* Row A again: seats 11-20 carry on from the first part; 10-19 repeat A-10. */
		layout_builder_row(&b, "A", split ? 11 : 10, 10, TIER_REGULAR);
		struct command put = { .type = COMMAND_VENUE_PUT };
		put.venue_put = (struct command_venue_put){ .venue_id = 1, .location_id = 1,
							    .name = text_from_cstr("Hall") };
		cr_assert_eq(layout_builder_layout(&b, &put.venue_put.layout), STATUS_OK);
		struct bytes_writer w;
		bytes_writer_init(&w, frame, sizeof(frame));
		proto_encode_command(&w, 1, &put);
		struct proto_request request;
		cr_assert_eq(proto_request_decode(frame, w.size, &request),
			     split ? STATUS_OK : STATUS_BAD_REQUEST, "split %d", split);
		layout_builder_finish(&b);
	}
}
