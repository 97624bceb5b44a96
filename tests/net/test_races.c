/*
 * test_races.c — many connections fighting over the same seats of one show
 * (SPEC §5): 64 threads, each with its own connection, make explicit holds on
 * random seats among the same 100 seats and best-available holds, and confirm or
 * release some of what they got. Every acknowledged result is recorded; afterwards
 * the seat map must be exactly what the acknowledgements say: no seat in two
 * active holds or bookings, booked seats = seats of acknowledged confirms, held
 * seats = seats of acknowledged holds still active. Holds live 10 minutes (the
 * default), so none expires during the test.
 *
 * Threads never call criterion: each records its first problem, and the main
 * thread checks after joining them.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server_fixture.h"

#define RACERS_COUNT 64u
#define STEPS_PER_RACER 200u
#define CONTESTED_SEATS 100u /* seats 0..99 of the Grand Hall */
#define RACE_SHOW FX_SHOW_HALL_0
#define HOLDS_MAX (RACERS_COUNT * STEPS_PER_RACER)

enum hold_fate { FATE_ACTIVE = 1, FATE_BOOKED = 2, FATE_RELEASED = 3 };

struct acked_hold {
	uint64_t hold_id;
	uint64_t user_id;
	uint8_t seats_count;
	uint32_t seats[HOLD_SEATS_COUNT_MAX];
	uint8_t fate; /* enum hold_fate */
};

struct racer {
	uint32_t index;
	uint64_t seed;
	struct box_client *client;
	pthread_t thread;
	uint64_t user_id; /* changes when the user's limit is reached */
	struct acked_hold holds[STEPS_PER_RACER];
	uint32_t holds_count;
	uint32_t refused[STATUS_COUNT];
	char problem[256]; /* the first thing that went wrong; empty when none */
};

static struct racer racers[RACERS_COUNT];

static uint64_t next_random(uint64_t *state)
{
	/* splitmix64: a seeded, reproducible sequence per racer. */
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void problem(struct racer *r, const char *what, int rc, enum status status)
{
	if (r->problem[0] == '\0')
		snprintf(r->problem, sizeof(r->problem), "racer %u: %s: rc %d (%s), status %s",
			 r->index, what, rc, box_client_error_text(rc), status_name(status));
}

/* Checks and records one hold's answer; false when the racer must stop. */
static bool hold_answered(struct racer *r, const struct command_hold *asked,
			  const struct engine_result *result)
{
	if (result->status == STATUS_OK) {
		bool shape = result->seats_count == asked->seats_count &&
			     hold_id_show(result->hold_id) == RACE_SHOW;
		for (uint8_t i = 0; shape && !asked->best && i < asked->seats_count; i++)
			shape = result->seats[i] == asked->seats[i];
		if (!shape) {
			problem(r, "a hold answered with other seats than asked", 0,
				result->status);
			return false;
		}
		struct acked_hold *h = &r->holds[r->holds_count++];
		*h = (struct acked_hold){ .hold_id = result->hold_id, .user_id = asked->user_id,
					  .seats_count = result->seats_count, .fate = FATE_ACTIVE };
		memcpy(h->seats, result->seats, sizeof(uint32_t) * result->seats_count);
		return true;
	}
	r->refused[result->status]++;
	if (result->status == STATUS_LIMIT_EXCEEDED) {
		r->user_id++;
		return true;
	}
	if (result->status == STATUS_SEAT_UNAVAILABLE) {
		/* The seats named must be ones asked for (none for best-available). */
		bool named = asked->best ? result->seats_count == 0 : result->seats_count > 0;
		for (uint8_t i = 0; named && i < result->seats_count; i++) {
			bool asked_for = false;
			for (uint8_t k = 0; k < asked->seats_count; k++)
				asked_for |= asked->seats[k] == result->seats[i];
			named = asked_for;
		}
		if (!named)
			problem(r, "seat unavailable named seats that were not asked for", 0,
				result->status);
		return named;
	}
	problem(r, "unexpected hold status", 0, result->status);
	return false;
}

static bool step_hold(struct racer *r, uint64_t *random)
{
	struct command c = { .type = COMMAND_HOLD };
	c.hold = (struct command_hold){ .show_id = RACE_SHOW, .user_id = r->user_id };
	if (next_random(random) % 3 == 0) {
		c.hold.best = true;
		c.hold.tier = next_random(random) % 2 ? TIER_ECONOMY : TIER_REGULAR;
		c.hold.seats_count = (uint8_t)(1 + next_random(random) % 2);
		c.hold.together = next_random(random) % 2;
	} else {
		c.hold.seats_count = (uint8_t)(1 + next_random(random) % 3);
		for (uint8_t i = 0; i < c.hold.seats_count; i++) {
			bool repeated;
			do {
				c.hold.seats[i] = (uint32_t)(next_random(random) % CONTESTED_SEATS);
				repeated = false;
				for (uint8_t k = 0; k < i; k++)
					repeated |= c.hold.seats[k] == c.hold.seats[i];
			} while (repeated);
		}
	}
	struct engine_result result;
	int rc = box_client_command(r->client, &c, &result);
	if (rc != 0) {
		problem(r, "HOLD", rc, result.status);
		return false;
	}
	return hold_answered(r, &c.hold, &result);
}

/* Confirms or releases one of the racer's active holds. */
static bool step_settle(struct racer *r, uint64_t *random, bool confirm)
{
	if (r->holds_count == 0)
		return true;
	/* The first active hold from a random place, if any. */
	uint32_t start = (uint32_t)(next_random(random) % r->holds_count);
	struct acked_hold *h = NULL;
	for (uint32_t i = 0; i < r->holds_count && h == NULL; i++) {
		struct acked_hold *candidate = &r->holds[(start + i) % r->holds_count];
		if (candidate->fate == FATE_ACTIVE)
			h = candidate;
	}
	if (h == NULL)
		return true;
	struct engine_result result;
	char reference[64];
	snprintf(reference, sizeof(reference), "race-%" PRIx64, h->hold_id);
	int rc = confirm ? box_client_confirm(r->client, h->hold_id, h->user_id,
					      text_from_cstr(reference), &result)
			 : box_client_release(r->client, h->hold_id, h->user_id, &result);
	if (rc != 0 || result.status != STATUS_OK || result.hold_id != h->hold_id ||
	    result.seats_count != h->seats_count ||
	    memcmp(result.seats, h->seats, sizeof(uint32_t) * h->seats_count) != 0) {
		problem(r, confirm ? "CONFIRM of an active hold" : "RELEASE of an active hold", rc,
			result.status);
		return false;
	}
	h->fate = confirm ? FATE_BOOKED : FATE_RELEASED;
	return true;
}

static void *racer_main(void *argument)
{
	struct racer *r = argument;
	uint64_t random = r->seed;
	for (uint32_t step = 0; step < STEPS_PER_RACER; step++) {
		/* Releases keep seats coming back to fight over; confirms keep some. */
		uint64_t dice = next_random(&random) % 20;
		bool ok = dice < 11 ? step_hold(r, &random) : step_settle(r, &random, dice < 13);
		if (!ok)
			break;
	}
	return NULL;
}

/* Which acknowledged hold or booking owns each seat; two owners fail the test. */
static void owners_build(struct acked_hold **owners, uint32_t seats_count,
			 uint32_t *active_count, uint32_t *booked_count)
{
	memset(owners, 0, sizeof(*owners) * seats_count);
	*active_count = *booked_count = 0;
	for (uint32_t i = 0; i < RACERS_COUNT; i++) {
		for (uint32_t k = 0; k < racers[i].holds_count; k++) {
			struct acked_hold *h = &racers[i].holds[k];
			if (h->fate == FATE_RELEASED)
				continue;
			*active_count += h->fate == FATE_ACTIVE;
			*booked_count += h->fate == FATE_BOOKED;
			for (uint8_t s = 0; s < h->seats_count; s++) {
				uint32_t seat = h->seats[s];
				cr_assert_lt(seat, seats_count);
				cr_assert_null(owners[seat],
					       "seat %u is in hold %#" PRIx64 " and hold %#" PRIx64,
					       seat, owners[seat] ? owners[seat]->hold_id : 0,
					       h->hold_id);
				owners[seat] = h;
			}
		}
	}
}

static void seatmap_check(struct box_client *client)
{
	struct fx_show_state state;
	fx_show_state_get(client, RACE_SHOW, &state);
	struct acked_hold *owners[FX_HALL_SEATS];
	uint32_t active, booked;
	owners_build(owners, FX_HALL_SEATS, &active, &booked);
	cr_assert_eq(state.seats_count, FX_HALL_SEATS);
	uint32_t held_seats = 0, booked_seats = 0;
	for (uint32_t seat = 0; seat < state.seats_count; seat++) {
		uint8_t want = owners[seat] == NULL		    ? SEAT_AVAILABLE
			       : owners[seat]->fate == FATE_BOOKED ? SEAT_BOOKED
								    : SEAT_HELD;
		cr_assert_eq(state.states[seat], want, "seat %u is %s; the acknowledgements say %s",
			     seat, seat_state_name(state.states[seat]), seat_state_name(want));
		held_seats += want == SEAT_HELD;
		booked_seats += want == SEAT_BOOKED;
	}
	uint32_t show_held = 0, show_booked = 0;
	for (int t = 0; t < TIER_COUNT; t++) {
		show_held += state.show.tiers[t].held;
		show_booked += state.show.tiers[t].booked;
	}
	cr_assert_eq(show_held, held_seats);
	cr_assert_eq(show_booked, booked_seats);
	cr_assert_eq(fx_stat(client, "holds_active"), active);
	cr_assert_eq(fx_stat(client, "bookings"), booked);
	fx_show_state_finish(&state);
}

static uint64_t seed_get(void)
{
	const char *text = getenv("RACE_SEED");
	uint64_t seed = text ? strtoull(text, NULL, 0) : (uint64_t)time(NULL);
	fprintf(stderr, "test_races: seed %" PRIu64 " (RACE_SEED=%" PRIu64 " repeats it)\n", seed,
		seed);
	return seed;
}

Test(races, contested_seats_end_with_exactly_the_acknowledged_owners, .init = NULL,
     .fini = fx_down, .timeout = 120)
{
	struct fx_server *server = fx_up(NULL);
	uint64_t seed = seed_get();
	for (uint32_t i = 0; i < RACERS_COUNT; i++) {
		racers[i] = (struct racer){ .index = i, .seed = seed * 1000 + i,
					    .user_id = (uint64_t)(i + 1) * 1000,
					    .client = fx_connect(server) };
	}
	for (uint32_t i = 0; i < RACERS_COUNT; i++)
		cr_assert_eq(pthread_create(&racers[i].thread, NULL, racer_main, &racers[i]), 0);
	uint32_t holds = 0, unavailable = 0;
	for (uint32_t i = 0; i < RACERS_COUNT; i++) {
		pthread_join(racers[i].thread, NULL);
		box_client_close(racers[i].client);
		holds += racers[i].holds_count;
		unavailable += racers[i].refused[STATUS_SEAT_UNAVAILABLE];
	}
	for (uint32_t i = 0; i < RACERS_COUNT; i++)
		cr_assert_eq(racers[i].problem[0], '\0', "%s", racers[i].problem);
	fprintf(stderr, "test_races: %u holds acknowledged, %u refused as seat unavailable\n",
		holds, unavailable);
	cr_assert_gt(unavailable, 0, "no contention happened: the test tests nothing");
	struct box_client *client = fx_connect(server);
	seatmap_check(client);
	box_client_close(client);
	/* What was acknowledged is what a restart recovers. */
	fx_server_stop(server);
	fx_server_start(server);
	client = fx_connect(server);
	seatmap_check(client);
	box_client_close(client);
}

/* Catalog puts race too: every shard keeps the whole catalog, so the shards must agree. */

#define PUTTERS_COUNT 8u
#define CONTESTED_IDS 100u

struct putter {
	struct box_client *client;
	pthread_t thread;
	uint32_t index;
	pthread_barrier_t *barrier;
	enum status statuses[CONTESTED_IDS];
	int rc;
};

static void *putter_main(void *argument)
{
	struct putter *p = argument;
	/* Every round meets at the barrier, even after a transport error, so that no
	 * putter waits there for one that left. */
	for (uint32_t i = 0; i < CONTESTED_IDS; i++) {
		char name[32];
		snprintf(name, sizeof(name), "Contender %u", p->index);
		struct command c = { .type = COMMAND_LOCATION_PUT };
		c.location_put = (struct command_location_put){ .location_id = 1000 + i,
								.name = text_from_cstr(name),
								.country = { 'A', 'T' } };
		struct engine_result result;
		pthread_barrier_wait(p->barrier); /* all put the same id at once */
		if (p->rc == 0)
			p->rc = box_client_command(p->client, &c, &result);
		p->statuses[i] = p->rc == 0 ? result.status : STATUS_INTERNAL;
	}
	return NULL;
}

Test(races, conflicting_catalog_puts_leave_one_content_on_every_shard, .fini = fx_down,
     .timeout = 120)
{
	struct fx_server *server = fx_up(NULL);
	static struct putter putters[PUTTERS_COUNT];
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, PUTTERS_COUNT);
	for (uint32_t i = 0; i < PUTTERS_COUNT; i++)
		putters[i] = (struct putter){ .client = fx_connect(server), .index = i,
					      .barrier = &barrier };
	for (uint32_t i = 0; i < PUTTERS_COUNT; i++)
		pthread_create(&putters[i].thread, NULL, putter_main, &putters[i]);
	for (uint32_t i = 0; i < PUTTERS_COUNT; i++) {
		pthread_join(putters[i].thread, NULL);
		cr_assert_eq(putters[i].rc, 0, "%s", box_client_error_text(putters[i].rc));
	}
	pthread_barrier_destroy(&barrier);
	/* Connections are spread over the workers: each reads its own worker's catalog. */
	for (uint32_t id = 1000; id < 1000 + CONTESTED_IDS; id++) {
		uint32_t winners = 0, winner = 0;
		for (uint32_t i = 0; i < PUTTERS_COUNT; i++) {
			enum status status = putters[i].statuses[id - 1000];
			cr_assert(status == STATUS_OK || status == STATUS_ALREADY_EXISTS,
				  "location %u: %s", id, status_name(status));
			winners += status == STATUS_OK;
			winner = status == STATUS_OK ? i : winner;
		}
		cr_assert_eq(winners, 1, "location %u: %u puts answered ok", id, winners);
		char want[32];
		snprintf(want, sizeof(want), "Contender %u", winner);
		for (uint32_t i = 0; i < PUTTERS_COUNT; i++) {
			const struct engine_location *l;
			uint32_t count;
			enum status status;
			struct box_client *client = putters[i].client;
			fx_rc(box_client_locations(client, id - 1, 1, &l, &count, &status),
			      "LOCATIONS");
			cr_assert(count == 1 && l[0].location_id == id, "location %u is missing",
				  id);
			cr_assert(text_equal(l[0].name, text_from_cstr(want)),
				  "location %u reads \"%.*s\" on one connection; the put "
				  "answered ok was \"%s\"",
				  id, (int)l[0].name.size, l[0].name.bytes, want);
		}
	}
	for (uint32_t i = 0; i < PUTTERS_COUNT; i++)
		box_client_close(putters[i].client);
}

/* Changes to one show are applied in the order the server reads them (PROTOCOL.md). */

#define PIPELINED_HOLDS 200u

Test(races, pipelined_holds_on_one_show_apply_in_the_order_sent, .fini = fx_down, .timeout = 60)
{
	struct fx_server *server = fx_up(NULL);
	struct box_client *client = fx_connect(server);
	/* Request i holds seat i % 10 of one of two shows (one per shard) for user i + 1:
	 * only the first request for each seat may win it. */
	static const uint32_t shows[2] = { FX_SHOW_HALL_0, FX_SHOW_HALL_1 };
	uint64_t ids[PIPELINED_HOLDS];
	for (uint32_t i = 0; i < PIPELINED_HOLDS; i++) {
		struct command c = { .type = COMMAND_HOLD };
		c.hold = (struct command_hold){ .show_id = shows[i % 2], .user_id = i + 1,
						.seats_count = 1, .seats = { (i / 2) % 10 } };
		fx_rc(box_client_send_command(client, &c, &ids[i]), "HOLD send");
	}
	fx_rc(box_client_flush(client, FX_CALL_TIMEOUT_MS), "flush");
	for (uint32_t k = 0; k < PIPELINED_HOLDS; k++) {
		struct box_response response;
		uint32_t i = fx_next_of(client, ids, PIPELINED_HOLDS, &response, "HOLD answer");
		struct engine_result r;
		fx_rc(box_response_result(&response, &r), "HOLD result");
		if (i < 20) {
			cr_assert_eq(r.status, STATUS_OK, "request %u: %s", i, status_name(r.status));
			cr_assert_eq(r.hold_id, (uint64_t)shows[i % 2] << 32 | (i / 2 + 1),
				     "request %u was not applied in its place", i);
		} else {
			cr_assert_eq(r.status, STATUS_SEAT_UNAVAILABLE,
				     "request %u for a seat taken before it: %s", i,
				     status_name(r.status));
		}
	}
	box_client_close(client);
}
