/*
 * test_slots.c — a response owed to a connection that has closed (here a parked
 * WAIT, answered minutes later) must never reach a later connection that took the
 * same slot in the worker, however many connections came and went in between:
 * not as an answer to a request it never sent, and not as a crash of the server.
 *
 * A server with one worker, so that every connection shares its slots. 65,535
 * connections open and close in between, one at a time: with slots reused most
 * recent first and 16-bit slot generations, that is exactly what gave the next
 * connection the closed one's id (BOX_SLOT_CYCLES sets another count).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_fixture.h"

#define CYCLES_DEFAULT 65535u

static struct fx_server server;

static void teardown(void)
{
	fx_server_finish(&server);
}

TestSuite(slots, .fini = teardown, .timeout = 600);

/* Opens a connection and drops it with a reset, as a vanishing client does. */
static void connect_and_reset(void)
{
	int fd = fx_raw_connect(&server, true);
	struct linger linger = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
	close(fd);
}

Test(slots, an_answer_owed_to_a_closed_connection_never_reaches_a_later_one)
{
	const char *text = getenv("BOX_SLOT_CYCLES");
	uint32_t cycles = text ? (uint32_t)strtoul(text, NULL, 10) : CYCLES_DEFAULT;
	fx_server_init(&server, NULL, 1, NULL);
	fx_server_start(&server);
	struct box_client *a = fx_connect(&server);
	fx_catalog_load(a);
	/* User 1 holds every vip seat of the club; user 2 waits in line for one. */
	struct engine_result held = fx_hold_best(a, FX_SHOW_CLUB_0, 1, TIER_VIP, 4, false);
	FX_STATUS_IS(held.status, STATUS_OK);
	struct engine_result joined;
	fx_rc(box_client_waitlist_join(a, FX_SHOW_CLUB_0, 2, TIER_VIP, 1, false, &joined), "JOIN");
	FX_STATUS_IS(joined.status, STATUS_OK);

	/* B parks a WAIT for user 2 and goes away. */
	struct box_client *b = fx_connect(&server);
	struct proto_wait wait = { .show_id = FX_SHOW_CLUB_0, .user_id = 2,
				   .timeout_ms = PROTO_WAIT_TIMEOUT_MS_MAX };
	uint64_t request_id;
	fx_rc(box_client_send_wait(b, &wait, &request_id), "send WAIT");
	fx_rc(box_client_flush(b, FX_CALL_TIMEOUT_MS), "flush WAIT");
	FX_CHECK(fx_stat(a, "waits_parked") == 1, "the WAIT is parked");
	box_client_close(b);

	/* Many connections come and go; a round trip on A after each lets the server see
	 * the close before the next one arrives, so that they take the same slot. */
	for (uint32_t i = 0; i < cycles; i++) {
		connect_and_reset();
		fx_rc(box_client_ping(a, "x", 1), "PING");
	}

	/* A new connection, with a WAIT of its own parked, and one with nothing asked. */
	struct box_client *v = fx_connect(&server);
	struct box_client *idle = fx_connect(&server);
	struct proto_wait own = { .show_id = FX_SHOW_CLUB_0, .user_id = 2,
				  .timeout_ms = 10000 };
	uint64_t own_id;
	fx_rc(box_client_send_wait(v, &own, &own_id), "send WAIT");
	fx_rc(box_client_flush(v, FX_CALL_TIMEOUT_MS), "flush WAIT");

	/* The seats come back: user 2 is offered one, and B's WAIT is answered to nobody. */
	FX_STATUS_IS(fx_release(a, held.hold_id, 1).status, STATUS_OK);
	struct box_response response;
	fx_rc(box_client_next(v, &response, FX_CALL_TIMEOUT_MS), "V's answer");
	cr_assert_eq(response.request_id, own_id, "V got an answer to request %llu it never sent",
		     (unsigned long long)response.request_id);
	fx_rc(box_client_ping(idle, "y", 1), "PING on the idle connection");
	fx_rc(box_client_ping(v, "z", 1), "PING on V");
	struct engine_result polled;
	fx_rc(box_client_waitlist_poll(a, FX_SHOW_CLUB_0, 2, &polled), "POLL");
	cr_assert_eq(polled.waiter_state, WAITER_OFFERED);
	box_client_close(v);
	box_client_close(idle);
	box_client_close(a);
	fx_server_stop(&server);
}
