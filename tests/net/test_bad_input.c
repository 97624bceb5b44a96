/*
 * test_bad_input.c — SPEC §9 against a real server: random bytes, impossible frame
 * sizes, truncated frames, unknown opcodes, requests before HELLO, response opcodes
 * sent as requests, out-of-range fields, a client that never reads its responses,
 * idle connections and too many connections.
 *
 * Each case is sent on raw sockets. Afterwards the server must still run, still
 * serve another connection normally, and the shows must be exactly as before
 * (seat map and counts): bad input never changes anything.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server_fixture.h"

#define BIG_VENUE 10u
#define BIG_SHOW 170u
#define BIG_ROWS 200u
#define BIG_ROW_SEATS 1000u
#define FLOOD_REQUESTS 3000u /* 156 MB of answers each: ten times the 16 MiB limit */
#define NEVER_READERS 4u
#define SEATMAP_ANSWER_MIN (BIG_ROWS * BIG_ROW_SEATS / 4u) /* two bits a seat, and more */
/* Seat maps a client that never reads gets parsed: the answers that fill its 16 MiB
 * output limit and the kernel's socket buffers (reader_kernel_bytes()), and
 * CONN_LARGE_INFLIGHT_MAX more in flight. */
#define READER_OUTPUT_MAX (16u << 20)
#define READER_LARGE_INFLIGHT_MAX 32u
/* What one such client may make the server hold: its unread output up to the 16 MiB
 * limit (in two buffers), the large answers in flight and the allocator's slack. */
#define READER_MEMORY_KIB (48u * 1024u)

static struct box_client *c;
static struct fx_show_state baseline[FX_SHOWS_COUNT]; /* of every show, fx_show_ids' order */

/* Some state worth keeping: a booking, holds, a waiting line. */
static void state_make(void)
{
	struct engine_result h = fx_hold_seats(c, FX_SHOW_HALL_0, 1, 0, (uint32_t[]){ 0, 1 }, 2);
	cr_assert_eq(fx_confirm(c, h.hold_id, 1, "pay").status, STATUS_OK);
	uint32_t seat = 5;
	cr_assert_eq(fx_hold_seats(c, FX_SHOW_HALL_0, 2, 0, &seat, 1).status, STATUS_OK);
	cr_assert_eq(fx_hold_best(c, FX_SHOW_CLUB_1, 3, TIER_VIP, 4, false).status, STATUS_OK);
	struct engine_result r;
	fx_rc(box_client_waitlist_join(c, FX_SHOW_CLUB_1, 4, TIER_VIP, 1, false, &r), "JOIN");
	cr_assert_eq(r.status, STATUS_OK);
}

static void start(const char *const *extra_args)
{
	fx_up(extra_args);
	c = fx_connect(fx_current());
	state_make();
	for (uint32_t i = 0; i < FX_SHOWS_COUNT; i++)
		fx_show_state_get(c, fx_show_ids[i], &baseline[i]);
}

static void setup(void)
{
	start(NULL);
}

static void teardown(void)
{
	box_client_close(c);
	c = NULL;
	for (uint32_t i = 0; i < FX_SHOWS_COUNT; i++)
		fx_show_state_finish(&baseline[i]);
	fx_down();
}

TestSuite(bad_input, .init = setup, .fini = teardown, .timeout = 90);
TestSuite(limits, .fini = teardown, .timeout = 120);

/* The server runs, answers a fresh connection, and the shows did not change. */
static void unharmed(void)
{
	int status;
	cr_assert_eq(waitpid(fx_current()->pid, &status, WNOHANG), 0, "the server died");
	box_client_close(c);
	c = fx_connect(fx_current());
	cr_assert_eq(box_client_ping(c, "ok", 2), 0);
	for (uint32_t i = 0; i < FX_SHOWS_COUNT; i++) {
		struct fx_show_state now;
		fx_show_state_get(c, fx_show_ids[i], &now);
		fx_show_state_check_equal(&baseline[i], &now);
		fx_show_state_finish(&now);
	}
}

/* Sends a frame and reads the answer: its status, checking opcode and id. */
static enum status frame_call(int fd, uint16_t opcode, uint64_t id, const void *payload,
			      size_t size)
{
	uint8_t frame[4096];
	return fx_raw_call(fd, opcode, id, payload, size, frame, sizeof(frame));
}

/* Sends raw bytes, then expects one answer with `status` and the connection closed. */
static void fatal_bytes(const uint8_t *bytes, size_t size, enum status status, bool hello)
{
	int fd = fx_raw_connect(fx_current(), hello);
	cr_assert(fx_raw_send(fd, bytes, size));
	uint8_t frame[256];
	int got = fx_raw_frame_read(fd, frame, sizeof(frame), FX_CALL_TIMEOUT_MS);
	cr_assert_geq(got, (int)PROTO_HEADER_SIZE, "no answer before closing (%d)", got);
	cr_assert_eq(bytes_load_u16(frame + 6), status, "status %s, expected %s",
		     status_name(bytes_load_u16(frame + 6)), status_name(status));
	cr_assert(fx_raw_wait_closed(fd, 5000), "the connection stayed open");
	close(fd);
}

static uint64_t random_next(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

static uint64_t seed_get(const char *name)
{
	const char *text = getenv("BAD_INPUT_SEED");
	uint64_t seed = text ? strtoull(text, NULL, 0) : (uint64_t)time(NULL) | 1;
	fprintf(stderr, "test_bad_input %s: seed %" PRIu64 " (BAD_INPUT_SEED repeats it)\n", name,
		seed);
	return seed;
}

Test(bad_input, random_bytes_change_nothing)
{
	uint64_t random = seed_get("random_bytes");
	uint8_t bytes[4096];
	for (uint32_t round = 0; round < 60; round++) {
		int fd = fx_raw_connect(fx_current(), round % 2 == 0);
		size_t size = 1 + random_next(&random) % sizeof(bytes);
		for (size_t i = 0; i < size; i++)
			bytes[i] = (uint8_t)random_next(&random);
		fx_raw_send(fd, bytes, size); /* the server may close it halfway */
		close(fd);
	}
	unharmed();
}

Test(bad_input, random_frames_with_valid_sizes_change_no_show)
{
	/* Well-framed garbage reaches the payload decoders of every opcode. */
	uint64_t random = seed_get("random_frames");
	int fd = fx_raw_connect(fx_current(), true);
	for (uint32_t round = 0; round < 2000; round++) {
		uint16_t opcode = (uint16_t)(random_next(&random) % 0x48);
		if (opcode == PROTO_HELLO || opcode == PROTO_WAIT || opcode == PROTO_SNAPSHOT)
			continue; /* a WAIT may park; the rest are covered elsewhere */
		uint8_t payload[96];
		size_t size = random_next(&random) % sizeof(payload);
		for (size_t i = 0; i < size; i++)
			payload[i] = (uint8_t)random_next(&random);
		/* Never name a fixture show: a valid request there would be a real change. */
		if (size >= 4 && opcode >= PROTO_SEATS_BLOCK)
			payload[3] = 0xee;
		uint8_t frame[256];
		size_t frame_size =
			fx_frame_build(frame, sizeof(frame), opcode, round, payload, size);
		cr_assert(fx_raw_send(fd, frame, frame_size));
		int got = fx_raw_frame_read(fd, frame, sizeof(frame), FX_CALL_TIMEOUT_MS);
		cr_assert(got >= (int)PROTO_HEADER_SIZE || got == -EMSGSIZE,
			  "round %u, opcode %#x, %zu bytes: no answer (%d)", round, opcode, size,
			  got);
		if (got == -EMSGSIZE) { /* a large answer (a search, a venue): start afresh */
			close(fd);
			fd = fx_raw_connect(fx_current(), true);
		}
	}
	fx_raw_check_open(fd);
	close(fd);
	unharmed();
}

/* A "Name:  N kB" line of the server's /proc status (VmRSS, VmPeak...), in KiB. */
static uint64_t server_status_kib(const char *name, const struct fx_server *server)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)server->pid);
	FILE *file = fopen(path, "r");
	if (file == NULL)
		return 0;
	char line[256];
	size_t name_size = strlen(name);
	unsigned long long kib = 0;
	while (fgets(line, sizeof(line), file) != NULL) {
		if (strncmp(line, name, name_size) == 0 && line[name_size] == ':' &&
		    sscanf(line + name_size + 1, "%llu kB", &kib) == 1)
			break;
	}
	fclose(file);
	return kib;
}

/* The size is checked before anything is allocated for the frame: the server's
 * peak of address space grows by far less than the 4 GiB announced. */
Test(bad_input, size_of_4_gib_is_too_large_and_closes)
{
	uint64_t peak_before = server_status_kib("VmPeak", fx_current());
	cr_assert_gt(peak_before, 0);
	uint8_t frame[PROTO_HEADER_SIZE] = { 0xff, 0xff, 0xff, 0xff, 0x02, 0x00 };
	fatal_bytes(frame, sizeof(frame), STATUS_TOO_LARGE, true);
	uint8_t just_over[PROTO_HEADER_SIZE];
	bytes_store_u32(just_over, PROTO_FRAME_SIZE_MAX + 1);
	bytes_store_u16(just_over + 4, PROTO_PING);
	fatal_bytes(just_over, sizeof(just_over), STATUS_TOO_LARGE, true);
	unharmed();
	uint64_t peak_after = server_status_kib("VmPeak", fx_current());
	cr_assert_lt(peak_after - peak_before, 256 * 1024,
		     "the server's address space grew by %llu KiB",
		     (unsigned long long)(peak_after - peak_before));
}

Test(bad_input, size_below_a_header_is_bad_request_and_closes)
{
	uint8_t frame[PROTO_HEADER_SIZE] = { 11, 0, 0, 0, 0x02, 0x00 };
	fatal_bytes(frame, sizeof(frame), STATUS_BAD_REQUEST, true);
	uint8_t zero[PROTO_HEADER_SIZE] = { 0 };
	fatal_bytes(zero, sizeof(zero), STATUS_BAD_REQUEST, true);
	unharmed();
}

Test(bad_input, truncated_frames_then_close_change_nothing)
{
	/* A HOLD of free seats, cut short: nothing may be held. */
	uint8_t payload[64];
	struct bytes_writer w;
	bytes_writer_init(&w, payload, sizeof(payload));
	bytes_put_u32(&w, FX_SHOW_HALL_0);
	bytes_put_u64(&w, 9);
	bytes_put_u32(&w, 0);
	bytes_put_u8(&w, 0);
	bytes_put_u8(&w, 2);
	bytes_put_u32(&w, 30);
	bytes_put_u32(&w, 31);
	uint8_t frame[128];
	size_t size = fx_frame_build(frame, sizeof(frame), PROTO_HOLD, 1, payload, w.size);
	for (size_t cut = 1; cut < size; cut += 3) {
		int fd = fx_raw_connect(fx_current(), true);
		cr_assert(fx_raw_send(fd, frame, cut));
		close(fd);
	}
	/* Compared once the server has seen every close, not before. */
	for (int64_t end = fx_now_ms() + 5000; fx_stat(c, "connections") != 1;) {
		cr_assert_lt(fx_now_ms(), end, "the server did not see the connections close");
		fx_sleep_ms(5);
	}
	unharmed();
}

Test(bad_input, unknown_opcodes_are_bad_request_and_keep_the_connection)
{
	static const uint16_t opcodes[] = { 0x0000, 0x0003, 0x000f, 0x0017, 0x0020, 0x002d,
					    0x002e, 0x002f, 0x0031, 0x0042, 0x1234, 0x7fff };
	int fd = fx_raw_connect(fx_current(), true);
	for (size_t i = 0; i < ARRAY_COUNT(opcodes); i++) {
		enum status status = frame_call(fd, opcodes[i], 100 + i, "\x01\x00\x00\x00", 4);
		cr_assert_eq(status, STATUS_BAD_REQUEST, "opcode %#x: %s", opcodes[i],
			     status_name(status));
	}
	fx_raw_check_open(fd);
	close(fd);
	unharmed();
}

Test(bad_input, request_before_hello_is_bad_request_and_closes)
{
	uint8_t payload[32];
	size_t size = 0;
	bytes_store_u32(payload, FX_SHOW_HALL_0);
	size = 4;
	uint8_t frame[64];
	size_t frame_size = fx_frame_build(frame, sizeof(frame), PROTO_SEATMAP, 5, payload, size);
	fatal_bytes(frame, frame_size, STATUS_BAD_REQUEST, false);
	/* A change before HELLO is refused the same way, and not applied. */
	struct bytes_writer w;
	bytes_writer_init(&w, payload, sizeof(payload));
	bytes_put_u64(&w, (uint64_t)FX_SHOW_HALL_0 << 32 | 1);
	frame_size = fx_frame_build(frame, sizeof(frame), PROTO_BOOKING_CANCEL, 6, payload, w.size);
	fatal_bytes(frame, frame_size, STATUS_BAD_REQUEST, false);
	unharmed();
}

Test(bad_input, hello_with_a_client_name_above_64_bytes_is_too_large_and_closes)
{
	uint8_t payload[128];
	struct bytes_writer w;
	bytes_writer_init(&w, payload, sizeof(payload));
	bytes_put_raw(&w, PROTO_MAGIC, PROTO_MAGIC_SIZE);
	bytes_put_u16(&w, 1);
	bytes_put_u16(&w, 2);
	bytes_put_u16(&w, PROTO_NAME_SIZE_MAX + 1);
	for (uint32_t i = 0; i <= PROTO_NAME_SIZE_MAX; i++)
		bytes_put_u8(&w, 'g');
	uint8_t frame[256];
	size_t frame_size = fx_frame_build(frame, sizeof(frame), PROTO_HELLO, 1, payload, w.size);
	fatal_bytes(frame, frame_size, STATUS_TOO_LARGE, false);
	unharmed();
}

Test(bad_input, search_texts_that_are_not_utf8_are_bad_request_and_keep_the_connection)
{
	int fd = fx_raw_connect(fx_current(), true);
	uint8_t payload[128];
	for (int tag = 0; tag < 2; tag++) {
		struct bytes_writer w;
		bytes_writer_init(&w, payload, sizeof(payload));
		bytes_put_u16(&w, tag ? 0 : 3);
		if (!tag)
			bytes_put_raw(&w, "\xc3(x", 3); /* a cut two-byte sequence */
		bytes_put_u8(&w, 0);	      /* near */
		bytes_put_u32(&w, 0);	      /* lat */
		bytes_put_u32(&w, 0);	      /* lon */
		bytes_put_u32(&w, 0);	      /* radius */
		bytes_put_u64(&w, 0);	      /* from */
		bytes_put_u64(&w, INT64_MAX); /* to */
		bytes_put_u16(&w, UINT16_MAX); /* type: any (-1) */
		bytes_put_u8(&w, tag ? 1 : 0);
		if (tag) {
			bytes_put_u16(&w, 2);
			bytes_put_raw(&w, "\xff\xfe", 2);
		}
		bytes_put_u16(&w, 10);
		bytes_put_u64(&w, 0);
		bytes_put_u32(&w, 0);
		enum status status = frame_call(fd, PROTO_SEARCH, 1 + (uint64_t)tag, payload, w.size);
		cr_assert_eq(status, STATUS_BAD_REQUEST, "%s", status_name(status));
	}
	fx_raw_check_open(fd);
	close(fd);
	unharmed();
}

/*
 * Statuses the client library never lets a request earn, sent by hand: a payment
 * reference above 64 bytes is too large and an empty one a bad request, a list
 * limit of 0 or 101 is a bad request; each counts in STATS bad_frames, and the
 * connection stays open.
 */
Test(bad_input, texts_and_limits_out_of_range_over_the_wire)
{
	int64_t bad_before = fx_stat(c, "bad_frames");
	int fd = fx_raw_connect(fx_current(), true);
	uint8_t p[128];
	for (uint32_t size = 0; size <= PAYMENT_REF_SIZE_MAX + 1; size += PAYMENT_REF_SIZE_MAX + 1) {
		struct bytes_writer w;
		bytes_writer_init(&w, p, sizeof(p));
		bytes_put_u64(&w, (uint64_t)FX_SHOW_HALL_0 << 32 | 1);
		bytes_put_u64(&w, 1);
		bytes_put_u16(&w, (uint16_t)size);
		for (uint32_t i = 0; i < size; i++)
			bytes_put_u8(&w, 'r');
		enum status status = frame_call(fd, PROTO_CONFIRM, 1 + size, p, w.size);
		cr_assert_eq(status, size == 0 ? STATUS_BAD_REQUEST : STATUS_TOO_LARGE,
			     "payment reference of %u bytes: %s", size, status_name(status));
	}
	for (uint32_t limit = 0; limit <= PROTO_LIST_LIMIT_MAX + 1; limit += PROTO_LIST_LIMIT_MAX + 1) {
		bytes_store_u32(p, 0);
		bytes_store_u16(p + 4, (uint16_t)limit);
		enum status status = frame_call(fd, PROTO_LOCATIONS, 100 + limit, p, 6);
		cr_assert_eq(status, STATUS_BAD_REQUEST, "LOCATIONS limit %u: %s", limit,
			     status_name(status));
	}
	fx_raw_check_open(fd);
	close(fd);
	cr_assert_eq(fx_stat(c, "bad_frames"), bad_before + 4);
	unharmed();
}

Test(bad_input, response_opcode_or_flags_in_a_request_are_bad_request)
{
	uint8_t payload[8];
	bytes_store_u64(payload, (uint64_t)FX_SHOW_HALL_0 << 32 | 1);
	int fd = fx_raw_connect(fx_current(), true);
	enum status status = frame_call(fd, PROTO_BOOKING_CANCEL | PROTO_RESPONSE_BIT, 3,
					payload, sizeof(payload));
	cr_assert_eq(status, STATUS_BAD_REQUEST, "%s", status_name(status));
	uint8_t frame[64];
	size_t size = fx_frame_build(frame, sizeof(frame), PROTO_BOOKING_CANCEL, 4, payload, 8);
	frame[6] = 1; /* flags must be 0 */
	cr_assert(fx_raw_send(fd, frame, size));
	cr_assert_gt(fx_raw_frame_read(fd, frame, sizeof(frame), FX_CALL_TIMEOUT_MS), 0);
	cr_assert_eq(bytes_load_u16(frame + 6), STATUS_BAD_REQUEST);
	fx_raw_check_open(fd);
	close(fd);
	unharmed();
}

Test(bad_input, payloads_short_long_or_out_of_range_are_refused_and_keep_the_connection)
{
	int fd = fx_raw_connect(fx_current(), true);
	uint8_t p[64] = { 0 };
	/* CANCEL of booking 1 with a byte missing, and with a byte too many. */
	bytes_store_u64(p, (uint64_t)FX_SHOW_HALL_0 << 32 | 1);
	cr_assert_eq(frame_call(fd, PROTO_BOOKING_CANCEL, 1, p, 7), STATUS_BAD_REQUEST);
	cr_assert_eq(frame_call(fd, PROTO_BOOKING_CANCEL, 2, p, 9), STATUS_BAD_REQUEST);
	/* A hold id with n = 0, a WAIT for show 0 and for user 0. */
	bytes_store_u64(p, (uint64_t)FX_SHOW_HALL_0 << 32);
	cr_assert_eq(frame_call(fd, PROTO_BOOKING_CANCEL, 3, p, 8), STATUS_BAD_REQUEST);
	memset(p, 0, sizeof(p));
	bytes_store_u64(p + 4, 1);
	cr_assert_eq(frame_call(fd, PROTO_WAIT, 4, p, 16), STATUS_BAD_REQUEST);
	bytes_store_u32(p, FX_SHOW_CLUB_1);
	bytes_store_u64(p + 4, 0);
	cr_assert_eq(frame_call(fd, PROTO_WAIT, 5, p, 16), STATUS_BAD_REQUEST);
	/* Absurd counts: a list of 65,535, a block of 4 billion seats. */
	memset(p, 0xff, 10);
	cr_assert_eq(frame_call(fd, PROTO_LOCATIONS, 6, p, 6), STATUS_BAD_REQUEST);
	bytes_store_u32(p, FX_SHOW_HALL_0);
	bytes_store_u32(p + 4, 0);
	bytes_store_u32(p + 8, UINT32_MAX);
	p[12] = 1;
	cr_assert_eq(frame_call(fd, PROTO_SEATS_BLOCK, 7, p, 13), STATUS_BAD_REQUEST);
	/* A seat id past any venue. */
	bytes_store_u32(p, FX_SHOW_HALL_0);
	bytes_store_u64(p + 4, 9);
	bytes_store_u32(p + 12, 0);
	p[16] = 0;
	p[17] = 1;
	bytes_store_u32(p + 18, UINT32_MAX);
	cr_assert_eq(frame_call(fd, PROTO_HOLD, 8, p, 22), STATUS_BAD_REQUEST);
	fx_raw_check_open(fd);
	close(fd);
	unharmed();
}

Test(bad_input, show_zero_after_a_keyword_search_keeps_the_server_alive)
{
	int fd = fx_raw_connect(fx_current(), true);
	struct search_query q;
	search_query_init(&q);
	q.keyword = text_from_cstr("giovanni");
	uint8_t frame[1024];
	struct bytes_writer w;
	bytes_writer_init(&w, frame, sizeof(frame));
	proto_encode_search(&w, 1, &q);
	cr_assert(fx_raw_send(fd, frame, w.size));
	cr_assert_gt(fx_raw_frame_read(fd, frame, sizeof(frame), FX_CALL_TIMEOUT_MS), 0);
	uint8_t zero[4] = { 0 };
	enum status status = frame_call(fd, PROTO_SHOW, 2, zero, 4);
	cr_assert(status == STATUS_NOT_FOUND || status == STATUS_BAD_REQUEST, "SHOW 0: %s",
		  status_name(status));
	close(fd);
	unharmed();
}

/* Limits. */

/* The server's resident memory in KiB (VmRSS), or 0 when not known. */
/*
 * Under AddressSanitizer a freed block is kept in a quarantine (256 MB by default)
 * before its memory is used again, so every answer the server freed still counts in
 * its resident memory. The memory test gives its server a small quarantine, so that
 * what it measures is what the server holds, as in a build without sanitizers.
 */
static void sanitizer_quarantine_small(void)
{
#if defined(__SANITIZE_ADDRESS__)
	const char *options = getenv("ASAN_OPTIONS");
	char value[512];
	snprintf(value, sizeof(value), "%s%squarantine_size_mb=4", options ? options : "",
		 options && options[0] ? ":" : "");
	setenv("ASAN_OPTIONS", value, 1);
#endif
}

/* A show of BIG_SHOW's venue on the other shard: BIG_SHOW's seat maps are worked on
 * by the connection's own shard or by the other, and so whichever a connection lands
 * on, one of the two shows is answered through the other shard. */
static uint32_t big_show_other(void)
{
	uint32_t id = BIG_SHOW + 1;
	while (engine_show_shard(id, FX_WORKERS_DEFAULT) ==
	       engine_show_shard(BIG_SHOW, FX_WORKERS_DEFAULT))
		id++;
	return id;
}

/* Two shows of 200,000 seats (BIG_SHOW and big_show_other()), whose seat map answer is
 * about 52 KB. */
static void big_show_put(void)
{
	struct layout_builder b;
	layout_builder_init(&b);
	layout_builder_section(&b, "Arena");
	for (uint32_t row = 0; row < BIG_ROWS; row++) {
		char name[8];
		snprintf(name, sizeof(name), "%u", row + 1);
		layout_builder_row(&b, name, 1, BIG_ROW_SEATS, TIER_ECONOMY);
	}
	struct command cmd = { .type = COMMAND_VENUE_PUT };
	cmd.venue_put = (struct command_venue_put){ .venue_id = BIG_VENUE,
						    .location_id = FX_LOCATION_VIENNA,
						    .name = text_from_cstr("Arena") };
	cr_assert_eq(layout_builder_layout(&b, &cmd.venue_put.layout), STATUS_OK);
	struct engine_result r;
	fx_rc(box_client_command(c, &cmd, &r), "VENUE_PUT");
	cr_assert_eq(r.status, STATUS_OK);
	layout_builder_finish(&b);
	for (uint32_t i = 0; i < 2; i++) {
		cmd = fx_show_command(i == 0 ? BIG_SHOW : big_show_other());
		cmd.show_put.venue_id = BIG_VENUE;
		fx_rc(box_client_command(c, &cmd, &r), "SHOW_PUT");
		cr_assert_eq(r.status, STATUS_OK);
	}
}

/* What the kernel can hold of answers a client does not read: the server's send buffer
 * (at most tcp_wmem's maximum, counted twice for slack) and the client's receive
 * buffer (tcp_rmem's default: it grows only as the client reads). Read from this
 * machine, since the bound of the test below depends on it. */
/* Field `which` (0: min, 1: default, 2: max) of a tcp_wmem or tcp_rmem file, or
 * `otherwise` when it cannot be read. */
static uint64_t tcp_buffer_setting(const char *path, int which, uint64_t otherwise)
{
	unsigned long long values[3];
	FILE *file = fopen(path, "r");
	if (file == NULL)
		return otherwise;
	bool read = fscanf(file, "%llu %llu %llu", &values[0], &values[1], &values[2]) == 3;
	fclose(file);
	return read ? values[which] : otherwise;
}

static uint64_t reader_kernel_bytes(void)
{
	return 2 * tcp_buffer_setting("/proc/sys/net/ipv4/tcp_wmem", 2, 4u << 20) +
	       tcp_buffer_setting("/proc/sys/net/ipv4/tcp_rmem", 1, 131072);
}

/*
 * Several clients send thousands of seat map requests at once and never read. Each is
 * disconnected at its 16 MiB output limit, and what it asked for must not pile up on
 * the way meanwhile: the server parses only CONN_LARGE_INFLIGHT_MAX such requests
 * ahead of the answers it has delivered. Before that limit it read all 3,000 at once
 * and built every answer it could before noticing the client had gone.
 */
Test(limits, clients_that_never_read_are_disconnected_while_others_are_served)
{
	sanitizer_quarantine_small(); /* criterion runs each test in its own process */
	start(NULL);
	big_show_put();
	struct fx_server *server = fx_current();
	int fds[NEVER_READERS];
	for (uint32_t i = 0; i < NEVER_READERS; i++)
		fds[i] = fx_raw_connect(server, true);
	int64_t own_requests = 0; /* ours on `c`, counted by STATS too */
	int64_t requests_before = fx_stat(c, "requests");
	own_requests++;
	uint64_t rss_before = server_status_kib("VmRSS", server), rss_max = rss_before;
	static uint8_t frames[FLOOD_REQUESTS * 32];
	size_t size = 0;
	for (uint32_t sent = 0; sent < FLOOD_REQUESTS; sent++) {
		uint8_t id[4];
		bytes_store_u32(id, sent % 2 ? big_show_other() : BIG_SHOW);
		size += fx_frame_build(frames + size, sizeof(frames) - size, PROTO_SEATMAP,
				       sent + 1, id, 4);
	}
	for (uint32_t i = 0; i < NEVER_READERS; i++) {
		fx_raw_send(fds[i], frames, size); /* all at once; false when cut off already */
		uint64_t rss = server_status_kib("VmRSS", server);
		rss_max = rss > rss_max ? rss : rss_max;
		cr_assert_eq(box_client_ping(c, "alive", 5), 0);
		own_requests++;
	}
	/* The server closes the connections: STATS counts only ours again. Seat maps read
	 * before a close and queued on another shard are skipped there once it sees the
	 * connection has gone; the deadline is generous for a loaded machine. */
	int64_t deadline = fx_now_ms() + 60000;
	for (;;) {
		int64_t connections = fx_stat(c, "connections");
		own_requests++;
		if (connections == 1)
			break;
		cr_assert_lt(fx_now_ms(), deadline,
			     "clients that do not read are still connected after %u seat maps each "
			     "(%lld connections)",
			     FLOOD_REQUESTS, (long long)connections);
		uint64_t rss = server_status_kib("VmRSS", server);
		rss_max = rss > rss_max ? rss : rss_max;
		fx_sleep_ms(10);
	}
	int64_t parsed = fx_stat(c, "requests") - requests_before - own_requests;
	uint64_t rss = server_status_kib("VmRSS", server);
	rss_max = rss > rss_max ? rss : rss_max;
	fprintf(stderr,
		"test_bad_input: %u clients sent %u seat maps each, unread; the server parsed "
		"%lld of them; RSS %llu -> max %llu KiB\n",
		NEVER_READERS, FLOOD_REQUESTS, (long long)parsed, (unsigned long long)rss_before,
		(unsigned long long)rss_max);
	int64_t parsed_max = (int64_t)((READER_OUTPUT_MAX + reader_kernel_bytes()) /
					   SEATMAP_ANSWER_MIN) +
			     READER_LARGE_INFLIGHT_MAX;
	cr_assert_leq(parsed, NEVER_READERS * parsed_max,
		      "the server parsed %lld seat map requests of clients that read nothing",
		      (long long)parsed);
	cr_assert_lt(rss_max - rss_before, (uint64_t)NEVER_READERS * READER_MEMORY_KIB,
		     "the server grew by %llu KiB", (unsigned long long)(rss_max - rss_before));
	for (uint32_t i = 0; i < NEVER_READERS; i++)
		close(fds[i]);
	struct box_seatmap *map = fx_seatmap(c, BIG_SHOW);
	cr_assert_eq(map->seats_count, BIG_ROWS * BIG_ROW_SEATS);
	box_seatmap_destroy(map);
	unharmed();
}

/*
 * A client that reads gets every answer however many large ones it sends at once:
 * past CONN_LARGE_INFLIGHT_MAX the server stops parsing and goes on as answers leave.
 * Small requests sent between them are answered too.
 */
Test(limits, pipelined_seat_maps_beyond_the_large_answer_limit_are_all_answered)
{
	start(NULL);
	big_show_put();
	struct fx_server *server = fx_current();
	int fd = fx_raw_connect(server, true);
	enum { REQUESTS = 400 };
	static uint8_t frames[REQUESTS * 64];
	size_t size = 0;
	for (uint32_t i = 0; i < REQUESTS; i++) {
		/* Every fifth: a show read (a small answer). The shows alternate, so that
		 * half the seat maps are answered by the other shard. */
		uint8_t id[4];
		bytes_store_u32(id, i % 2 ? big_show_other() : BIG_SHOW);
		uint16_t opcode = i % 5 == 4 ? PROTO_SHOW : PROTO_SEATMAP;
		size += fx_frame_build(frames + size, sizeof(frames) - size, opcode, i + 1, id, 4);
	}
	cr_assert(fx_raw_send(fd, frames, size));
	static uint8_t answer[PROTO_FRAME_SIZE_MAX + 4];
	bool answered[REQUESTS] = { false };
	uint32_t seatmap_size = 0;
	for (uint32_t n = 0; n < REQUESTS; n++) {
		int got = fx_raw_frame_read(fd, answer, sizeof(answer), 10000);
		cr_assert_gt(got, (int)PROTO_HEADER_SIZE, "answer %u of %u did not come (%d)", n,
			     REQUESTS, got);
		struct proto_header header;
		proto_header_decode(answer, &header);
		cr_assert_eq(header.word, STATUS_OK);
		cr_assert(header.request_id >= 1 && header.request_id <= REQUESTS);
		uint32_t i = (uint32_t)header.request_id - 1;
		cr_assert_not(answered[i], "request %u answered twice", i + 1);
		answered[i] = true;
		uint16_t opcode = i % 5 == 4 ? PROTO_SHOW : PROTO_SEATMAP;
		cr_assert_eq(header.opcode, opcode | PROTO_RESPONSE_BIT);
		if (opcode == PROTO_SEATMAP) {
			/* Every seat map whole: the same size each time. */
			seatmap_size = seatmap_size ? seatmap_size : (uint32_t)got;
			cr_assert_eq((uint32_t)got, seatmap_size);
			cr_assert_gt(got, (int)(BIG_ROWS * BIG_ROW_SEATS / 4));
		}
	}
	close(fd);
	unharmed();
}

/*
 * A stopping server waits (up to 10 s) for a client that does not read its answers;
 * a second SIGTERM meanwhile stops it at once, with exit 1. 120 seat maps of 200,000
 * seats are about 6 MB: more than the sockets hold, less than the 16 MiB output limit.
 */
Test(limits, a_second_sigterm_stops_a_server_held_up_by_a_client_that_does_not_read)
{
	start(NULL);
	big_show_put();
	int fd = fx_raw_connect(fx_current(), true);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	static uint8_t frames[120 * 32];
	size_t size = 0;
	uint8_t id[4];
	bytes_store_u32(id, BIG_SHOW);
	for (uint32_t i = 0; i < 120; i++)
		size += fx_frame_build(frames + size, sizeof(frames) - size, PROTO_SEATMAP, i + 1, id, 4);
	cr_assert(fx_raw_send(fd, frames, size));
	fx_sleep_ms(500);
	pid_t pid = fx_current()->pid;
	cr_assert_eq(kill(pid, SIGTERM), 0);
	for (int64_t end = fx_now_ms() + 5000; !fx_log_contains(fx_current(), "SIGTERM: stopping");)
		cr_assert_lt(fx_now_ms(), end, "the server did not log the SIGTERM");
	fx_sleep_ms(300);
	cr_assert_eq(waitpid(pid, NULL, WNOHANG), 0, "the server stopped with answers unread");
	int64_t second = fx_now_ms();
	cr_assert_eq(kill(pid, SIGTERM), 0);
	int status = fx_server_exit_status(fx_current());
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "wait status %#x", status);
	cr_assert_lt(fx_now_ms() - second, 5000, "the second SIGTERM did not stop it at once");
	cr_assert(fx_log_contains(fx_current(), "SIGTERM again: stopping at once"));
	close(fd);
}

Test(limits, idle_connection_is_closed_but_not_while_a_wait_is_parked)
{
	start((const char *const[]){ "--idle-timeout", "1", NULL });
	int idle = fx_raw_connect(fx_current(), true);
	struct box_client *waiter = fx_connect(fx_current());
	/* User 4 waits in the vip line of FX_SHOW_CLUB_1 (state_make). */
	struct engine_result r;
	fx_rc(box_client_wait(waiter, FX_SHOW_CLUB_1, 4, 3000, &r), "WAIT");
	cr_assert(r.status == STATUS_OK && r.waiter_state == WAITER_WAITING);
	cr_assert(fx_raw_wait_closed(idle, 5000), "the idle connection stayed open");
	close(idle);
	box_client_close(waiter);
	unharmed();
}

Test(limits, connections_past_the_maximum_are_refused_until_one_leaves)
{
	start((const char *const[]){ "--max-connections", "4", NULL });
	/* c is one; three more fill the server. */
	int fds[3];
	for (int i = 0; i < 3; i++)
		fds[i] = fx_raw_connect(fx_current(), true);
	int extra = fx_raw_connect(fx_current(), false);
	cr_assert(fx_raw_wait_closed(extra, 5000), "a fifth connection was kept");
	close(extra);
	cr_assert_eq(box_client_ping(c, "ok", 2), 0);
	/* An operator can tell the limit was reached. */
	cr_assert_eq(fx_stat(c, "connections_refused"), 1);
	cr_assert(fx_log_contains(fx_current(), "connection refused: 4 open"));
	close(fds[0]);
	int64_t deadline = fx_now_ms() + 5000;
	while (fx_stat(c, "connections") != 3)
		cr_assert_lt(fx_now_ms(), deadline, "a closed connection is still counted");
	fds[0] = fx_raw_connect(fx_current(), true); /* HELLO answered: accepted */
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	/* unharmed() connects again: wait until the server has seen these go. */
	deadline = fx_now_ms() + 5000;
	while (fx_stat(c, "connections") != 1)
		cr_assert_lt(fx_now_ms(), deadline, "closed connections are still counted");
	unharmed();
}

Test(limits, requests_past_4096_in_flight_are_overloaded_and_parked_waits_survive_a_close)
{
	start(NULL);
	/* Parked WAITs stay in flight: 4,096 of them fill a connection. */
	int fd = fx_raw_connect(fx_current(), true);
	uint8_t payload[16];
	bytes_store_u32(payload, FX_SHOW_CLUB_1);
	bytes_store_u64(payload + 4, 4); /* user 4 waits in a line (state_make) */
	bytes_store_u32(payload + 12, 60000);
	static uint8_t frames[4096 * 32];
	size_t size = 0;
	for (uint32_t i = 0; i < 4096; i++)
		size += fx_frame_build(frames + size, sizeof(frames) - size, PROTO_WAIT, i + 1,
				       payload, sizeof(payload));
	cr_assert(fx_raw_send(fd, frames, size));
	int64_t deadline = fx_now_ms() + 15000;
	while (fx_stat(c, "waits_parked") != 4096) {
		cr_assert_lt(fx_now_ms(), deadline, "%lld WAITs parked",
			     (long long)fx_stat(c, "waits_parked"));
		fx_sleep_ms(10);
	}
	uint8_t id[4];
	bytes_store_u32(id, FX_SHOW_HALL_0);
	cr_assert_eq(frame_call(fd, PROTO_SHOW, 5000, id, 4), STATUS_OVERLOADED);
	close(fd); /* with every WAIT still parked */
	/* Nobody is left to answer: they are dropped within seconds, not at their timeout. */
	deadline = fx_now_ms() + 5000;
	while (fx_stat(c, "waits_parked") != 0) {
		cr_assert_lt(fx_now_ms(), deadline, "%lld WAITs of a closed connection are parked",
			     (long long)fx_stat(c, "waits_parked"));
		fx_sleep_ms(20);
	}
	unharmed();
}

/*
 * A shard whose queue to another shard is full answers what it would hand over
 * "overloaded" at once, and serves the rest. With queues of 2 MiB between shards
 * (BOXOFFICE_TEST_MAILBOX_BYTES, the least), connections of the other shard send
 * 4,096 SHOWs of one show each at once: more than the queue holds.
 */
Test(limits, requests_for_a_shard_whose_queue_is_full_are_overloaded)
{
	setenv("BOXOFFICE_TEST_MAILBOX_BYTES", "2097152", 1);
	start(NULL);
	unsetenv("BOXOFFICE_TEST_MAILBOX_BYTES");
	enum { CONNS = 24, EACH = 4096 };
	uint16_t owner = (uint16_t)box_show_shard(FX_SHOW_HALL_0, FX_WORKERS_DEFAULT);
	int fds[CONNS], others[256];
	uint32_t count = 0, others_count = 0;
	while (count < CONNS) {
		cr_assert_lt(others_count, 256, "no connection lands on the other shard");
		uint16_t shard;
		int fd = fx_raw_connect_shard(fx_current(), &shard);
		if (shard == owner)
			others[others_count++] = fd;
		else
			fds[count++] = fd;
	}
	static uint8_t frames[EACH * 32];
	size_t size = 0;
	uint8_t id[4];
	bytes_store_u32(id, FX_SHOW_HALL_0);
	for (uint32_t i = 0; i < EACH; i++)
		size += fx_frame_build(frames + size, sizeof(frames) - size, PROTO_SHOW, i + 1, id, 4);
	int64_t overloaded_before = fx_stat(c, "overloaded");
	for (uint32_t k = 0; k < CONNS; k++)
		cr_assert(fx_raw_send(fds[k], frames, size));
	uint32_t ok = 0, overloaded = 0;
	static uint8_t answer[4096];
	for (uint32_t k = 0; k < CONNS; k++) {
		for (uint32_t i = 0; i < EACH; i++) {
			int got = fx_raw_frame_read(fds[k], answer, sizeof(answer), FX_CALL_TIMEOUT_MS);
			cr_assert_geq(got, (int)PROTO_HEADER_SIZE, "answer %u on connection %u: %d",
				      i, k, got);
			uint16_t status = bytes_load_u16(answer + 6);
			cr_assert(status == STATUS_OK || status == STATUS_OVERLOADED, "%s",
				  status_name(status));
			ok += status == STATUS_OK;
			overloaded += status == STATUS_OVERLOADED;
		}
		fx_raw_check_open(fds[k]);
		close(fds[k]);
	}
	for (uint32_t k = 0; k < others_count; k++)
		close(others[k]);
	fprintf(stderr, "test_bad_input: %u SHOWs answered, %u overloaded\n", ok, overloaded);
	cr_assert_gt(overloaded, 0, "no request was refused with the queue full");
	cr_assert_gt(ok, 0);
	cr_assert_eq(fx_stat(c, "overloaded") - overloaded_before, overloaded);
	unharmed();
}

Test(bad_input, frame_of_the_largest_size_is_read_whole_and_refused_keeping_the_connection)
{
	size_t payload_size = PROTO_PAYLOAD_SIZE_MAX;
	uint8_t *frame = calloc(1, PROTO_HEADER_SIZE + payload_size);
	cr_assert_not_null(frame);
	int fd = fx_raw_connect(fx_current(), true);
	uint16_t opcodes[] = { PROTO_PING, PROTO_VENUE_PUT, PROTO_HOLD };
	for (size_t i = 0; i < ARRAY_COUNT(opcodes); i++) {
		size_t size = fx_frame_build(frame, PROTO_HEADER_SIZE + payload_size, opcodes[i],
					     10 + i, NULL, 0);
		bytes_store_u32(frame, PROTO_FRAME_SIZE_MAX); /* the payload: zeros */
		cr_assert_eq(size, PROTO_HEADER_SIZE);
		cr_assert(fx_raw_send(fd, frame, PROTO_HEADER_SIZE + payload_size));
		uint8_t answer[256];
		int got = fx_raw_frame_read(fd, answer, sizeof(answer), FX_CALL_TIMEOUT_MS);
		cr_assert_geq(got, (int)PROTO_HEADER_SIZE, "opcode %#x: no answer (%d)", opcodes[i],
			      got);
		enum status status = bytes_load_u16(answer + 6);
		cr_assert(status == STATUS_TOO_LARGE || status == STATUS_BAD_REQUEST,
			  "opcode %#x: %s", opcodes[i], status_name(status));
	}
	fx_raw_check_open(fd);
	close(fd);
	free(frame);
	unharmed();
}

#define LINGER_PINGS 8000u /* 8 MB of answers: more than the socket buffers hold */
#define LINGER_PING_SIZE 1000u

struct garbage_sender {
	int fd;
	atomic_bool stop;
	uint64_t sent;
};

/* Keeps sending bytes until told to stop or the connection fails. */
static void *garbage_send(void *argument)
{
	struct garbage_sender *sender = argument;
	uint8_t bytes[1024];
	memset(bytes, 0x5a, sizeof(bytes));
	for (int64_t end = fx_now_ms() + 20000; !atomic_load(&sender->stop) && fx_now_ms() < end;) {
		ssize_t sent = send(sender->fd, bytes, sizeof(bytes), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent < 0 && errno != EAGAIN && errno != EINTR)
			break;
		sender->sent += sent > 0 ? (uint64_t)sent : 0;
		fx_sleep_ms(1);
	}
	return NULL;
}

/*
 * Connects and sends LINGER_PINGS PINGs, whose answers are more than the socket
 * buffers hold while the client does not read, then a frame whose size the stream
 * cannot be read past (request id 999999). The client's receive buffer is left as it
 * is: one made tiny makes the kernel drop segments, and the sender's backed-off
 * retransmissions stalled the test for over a minute under load.
 */
static int pings_then_bad_frame_sent(void)
{
	int fd = fx_raw_connect(fx_current(), true);
	/* No call on it may block for ever: a stuck server fails the test, saying where. */
	struct timeval limit = { .tv_sec = 20 };
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit)), 0);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit)), 0);
	size_t frame_size = PROTO_HEADER_SIZE + LINGER_PING_SIZE;
	uint8_t *frames = malloc(LINGER_PINGS * frame_size + PROTO_HEADER_SIZE);
	cr_assert_not_null(frames);
	uint8_t payload[LINGER_PING_SIZE];
	memset(payload, 0xa5, sizeof(payload));
	size_t size = 0;
	for (uint32_t i = 0; i < LINGER_PINGS; i++)
		size += fx_frame_build(frames + size, frame_size, PROTO_PING, i + 1, payload,
				       sizeof(payload));
	uint8_t *bad = frames + size;
	memset(bad, 0, PROTO_HEADER_SIZE);
	bytes_store_u32(bad, 0xffffffffu);
	bytes_store_u16(bad + 4, PROTO_PING);
	bytes_store_u64(bad + 8, 999999);
	size += PROTO_HEADER_SIZE;
	cr_assert(fx_raw_send(fd, frames, size), "sending the PINGs: %s", strerror(errno));
	free(frames);
	return fd;
}

/*
 * A bad frame's answer reaches a client that reads slowly and keeps sending: the
 * server closes its side only after the answers it owes (the stream's end follows
 * them), and never resets the connection under them, which would throw away the ones
 * not yet delivered.
 */
Test(bad_input, a_bad_frame_is_answered_and_nothing_before_it_lost_while_the_client_sends_on)
{
	int fd = pings_then_bad_frame_sent();
	size_t frame_size = PROTO_HEADER_SIZE + LINGER_PING_SIZE;
	struct garbage_sender sender = { .fd = fd };
	pthread_t thread;
	cr_assert_eq(pthread_create(&thread, NULL, garbage_send, &sender), 0);
	fx_sleep_ms(300); /* the answers fill the socket buffers; the server waits */
	uint8_t answer[PROTO_HEADER_SIZE + LINGER_PING_SIZE];
	for (uint32_t i = 0; i < LINGER_PINGS; i++) {
		int got = fx_raw_frame_read(fd, answer, sizeof(answer), FX_CALL_TIMEOUT_MS);
		cr_assert_eq(got, (int)frame_size, "answer %u of %u: %d (%s)", i + 1, LINGER_PINGS,
			     got, got < 0 ? strerror(-got) : "");
		cr_assert_eq(bytes_load_u64(answer + 8), i + 1);
	}
	int got = fx_raw_frame_read(fd, answer, sizeof(answer), FX_CALL_TIMEOUT_MS);
	cr_assert_geq(got, (int)PROTO_HEADER_SIZE, "no answer to the bad frame (%d: %s)", got,
		      got < 0 ? strerror(-got) : "closed");
	cr_assert_eq(bytes_load_u16(answer + 6), STATUS_TOO_LARGE);
	cr_assert_eq(bytes_load_u64(answer + 8), 999999);
	uint8_t after;
	ssize_t last = recv(fd, &after, 1, 0);
	cr_assert_eq(last, 0, "the answer is not followed by the stream's end (%zd: %s)", last,
		     last < 0 ? strerror(errno) : "a byte");
	atomic_store(&sender.stop, true);
	pthread_join(thread, NULL);
	cr_assert_gt(sender.sent, 0);
	/* The client ends its side too: the server closes now, not after lingering. */
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	for (int64_t end = fx_now_ms() + 1000; fx_stat(c, "connections") != 1;) {
		cr_assert_lt(fx_now_ms(), end, "the server lingers after the client's end");
		fx_sleep_ms(10);
	}
	close(fd);
	unharmed();
}

/* ...and a client that neither reads on nor closes is not waited for long. */
Test(bad_input, a_client_that_stays_after_a_bad_frame_is_closed_within_seconds)
{
	int fd = fx_raw_connect(fx_current(), true);
	int64_t connections = fx_stat(c, "connections");
	cr_assert_eq(connections, 2);
	uint8_t bad[PROTO_HEADER_SIZE] = { 0xff, 0xff, 0xff, 0xff, 0x02, 0x00 };
	cr_assert(fx_raw_send(fd, bad, sizeof(bad)));
	struct garbage_sender sender = { .fd = fd };
	pthread_t thread;
	cr_assert_eq(pthread_create(&thread, NULL, garbage_send, &sender), 0);
	uint8_t answer[64];
	int got = fx_raw_frame_read(fd, answer, sizeof(answer), FX_CALL_TIMEOUT_MS);
	cr_assert_eq(got, (int)PROTO_HEADER_SIZE, "%d", got);
	cr_assert_eq(bytes_load_u16(answer + 6), STATUS_TOO_LARGE);
	int64_t start = fx_now_ms();
	while (fx_stat(c, "connections") != 1) {
		cr_assert_lt(fx_now_ms() - start, 6000, "the server still keeps the connection");
		fx_sleep_ms(20);
	}
	/* The server closed a socket with unread input: the sender is told so. */
	for (int64_t end = fx_now_ms() + 5000; pthread_tryjoin_np(thread, NULL) != 0;) {
		cr_assert_lt(fx_now_ms(), end, "the client can still send");
		fx_sleep_ms(10);
	}
	cr_assert_gt(sender.sent, 0);
	close(fd);
	unharmed();
}

/* ...nor one that reads nothing at all after a bad frame, its answers stuck. */
Test(bad_input, a_client_that_reads_nothing_after_a_bad_frame_is_closed_within_seconds,
     .timeout = 120)
{
	int fd = pings_then_bad_frame_sent();
	struct garbage_sender sender = { .fd = fd };
	pthread_t thread;
	cr_assert_eq(pthread_create(&thread, NULL, garbage_send, &sender), 0);
	int64_t start = fx_now_ms();
	while (fx_stat(c, "connections") != 1) {
		cr_assert_lt(fx_now_ms() - start, 14000,
			     "the server still keeps a connection that reads nothing");
		fx_sleep_ms(50);
	}
	atomic_store(&sender.stop, true);
	pthread_join(thread, NULL);
	close(fd);
	unharmed();
}

/* The CPU time a process has used, in clock ticks. */
static uint64_t process_cpu_ticks(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *file = fopen(path, "r");
	cr_assert_not_null(file);
	char text[1024];
	size_t got = fread(text, 1, sizeof(text) - 1, file);
	fclose(file);
	text[got] = '\0';
	/* Fields 14 and 15 (utime, stime) follow the command name's closing parenthesis. */
	const char *rest = strrchr(text, ')');
	cr_assert_not_null(rest);
	unsigned long long utime = 0, stime = 0;
	cr_assert_eq(sscanf(rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			    &utime, &stime), 2);
	return utime + stime;
}

/*
 * With no descriptor left for a new connection, accepting fails while the connection
 * waits in the listen queue. The shard must not spin on it: it tries again a little
 * later and logs the failure once a second at most, serves the connections it has,
 * and takes the waiting ones once descriptors are free again.
 */
Test(limits, accepting_without_descriptors_left_backs_off_and_recovers)
{
	struct fx_server server;
	fx_server_init(&server, NULL, 0, NULL);
	server.files_max = 40;
	fx_server_start(&server);
	struct box_client *client = fx_connect(&server);
	/* Connections until the server has no descriptor left, and 4 more: those wait. */
	int fds[48];
	uint32_t count = 0;
	for (; count < ARRAY_COUNT(fds); count++) {
		fds[count] = fx_raw_connect(&server, false);
		if (count >= 4 && fx_log_contains(&server, "accept: Too many open files"))
			break;
		fx_sleep_ms(20);
	}
	cr_assert_lt(count, ARRAY_COUNT(fds), "the server accepted %u connections", count);
	uint64_t cpu_before = process_cpu_ticks(server.pid);
	int64_t started = fx_now_ms();
	fx_sleep_ms(1500);
	uint64_t cpu = process_cpu_ticks(server.pid) - cpu_before;
	int64_t elapsed = fx_now_ms() - started;
	cr_assert_eq(box_client_ping(client, "alive", 5), 0);
	uint32_t warnings = fx_log_count(&server, "accept: Too many open files");
	fprintf(stderr, "test_bad_input: no descriptors for %lld ms: %llu ticks of CPU, %u "
		"warnings\n", (long long)elapsed, (unsigned long long)cpu, warnings);
	cr_assert_leq(warnings, 2 * (uint32_t)(elapsed / 1000 + 2), "%u warnings in %lld ms",
		      warnings, (long long)elapsed);
	cr_assert_lt(cpu, (uint64_t)sysconf(_SC_CLK_TCK) / 2,
		     "the server used %llu ticks of CPU while it could not accept",
		     (unsigned long long)cpu);
	/* Descriptors free again: the connections that waited are taken. Of the client's
	 * and fds[0..count], eight go. */
	for (uint32_t i = 0; i < 8; i++)
		close(fds[i]);
	int64_t expected = (int64_t)count + 2 - 8;
	for (int64_t end = fx_now_ms() + 5000;; fx_sleep_ms(20)) {
		int64_t open = fx_stat(client, "connections");
		if (open == expected)
			break;
		cr_assert_lt(fx_now_ms(), end, "%lld connections open, not %lld: the waiting "
			     "ones were not taken", (long long)open, (long long)expected);
	}
	for (uint32_t i = 8; i <= count && i < ARRAY_COUNT(fds); i++)
		close(fds[i]);
	box_client_close(client);
	fx_server_finish(&server);
}
