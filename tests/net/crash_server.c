/*
 * crash_server.c — kill -9 the server under load, again and again, and check that
 * every acknowledged change survived (SPEC §8).
 *
 *   crash_server --cycles N --server PATH [--seed S] [--workers W]
 *
 * One data directory lives through all the cycles. Each cycle starts the server on
 * it, puts three fresh shows (a Grand Hall show on each shard and a small Club
 * show where waiting lines form), and runs loaders: threads with a connection
 * each, making holds (some with lifetimes of 50-150 ms), confirms, releases,
 * repeated confirms and waiting-list joins and leaves, and recording every
 * ACKNOWLEDGED result. 10-300 ms in, the server is killed with SIGKILL; a request
 * in flight then is "uncertain": it may or may not have happened. The server is
 * started again and the record is checked against what it says:
 *
 * - every acknowledged booking is there: its seats are booked in the seat map and
 *   a repeated confirm with its payment reference returns the same booking;
 * - the booked seats of every show are exactly the seats of its bookings, and no
 *   seat is in two bookings (bookings are only ever made by confirms here);
 * - every acknowledged hold still active is there (seats held) or, when its
 *   deadline has passed, expired; released holds stay released;
 * - expired holds stay expired: a confirm after the deadline fails with "hold
 *   expired";
 * - acknowledged waiting-list entries of the cycle are there (in any state);
 * - a hold in flight at the kill happened whole or not at all: each hold id of the
 *   cycle's shows that no answer named is confirmed in the name of the user whose
 *   hold was in flight; the booking must have the seats that hold asked for (or as
 *   many, for best available). Where no waiting line makes offers, a hold no one
 *   asked for fails the run, and every held seat must be a seat of a known hold.
 *
 * The state of a hold is read without changing it by a RELEASE in the name of a
 * user who never holds anything: "not owner" means active, "already confirmed"
 * booked, "hold expired" expired and "not found" released. Uncertain confirms and
 * releases are settled the same way. Exit status 0 when every check held.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server_fixture.h"

#define LOADERS_COUNT 6u
#define SHOWS_PER_CYCLE 3u
#define SHOWS_MAX 4096u
#define PROBE_USER 1u /* never holds anything */
#define KILL_AFTER_MS_MIN 10
#define KILL_AFTER_MS_MAX 300
#define OLD_SAMPLES 200u /* holds of earlier cycles probed again each cycle */
#define ACTIVE_HOLDS_MAX 5u /* per loader: more are confirmed or released first */
#define ARENA_VENUE 20u
#define ARENA_ROWS 10u
#define ARENA_ROW_SEATS 100u

enum fate { FATE_ACTIVE = 1, FATE_BOOKED = 2, FATE_RELEASED = 3, FATE_EXPIRED = 4 };
enum join_fate { JOIN_IN_LINE = 1, JOIN_LEFT = 2 };

struct hold_record {
	uint64_t hold_id;
	uint64_t user_id;
	uint32_t show_id;
	uint32_t cycle;
	int64_t deadline_ms;
	uint8_t seats_count;
	uint32_t seats[HOLD_SEATS_COUNT_MAX];
	uint8_t fate;	   /* enum fate */
	uint8_t uncertain; /* the command in flight at the kill (CONFIRM or RELEASE), or 0 */
	bool short_lived;  /* asked for 50-150 ms */
};

struct join_record {
	uint32_t show_id;
	uint64_t user_id;
	uint8_t fate;	   /* enum join_fate */
	uint8_t uncertain; /* JOIN or LEAVE in flight at the kill, or 0 */
};

/* A growable array of records. */
#define VECTOR(type) struct { type *items; uint32_t count; uint32_t capacity; }

#define VECTOR_PUSH(vector, item)                                                        \
	do {                                                                             \
		if ((vector).count == (vector).capacity) {                               \
			(vector).capacity = (vector).capacity ? 2 * (vector).capacity : 64; \
			(vector).items = realloc((vector).items,                         \
						 sizeof(*(vector).items) * (vector).capacity); \
			FX_CHECK((vector).items != NULL, "out of memory");               \
		}                                                                        \
		(vector).items[(vector).count++] = (item);                               \
	} while (0)

typedef VECTOR(struct hold_record) hold_vector;
typedef VECTOR(struct join_record) join_vector;
typedef VECTOR(struct command_hold) request_vector;

struct loader {
	uint32_t index;
	uint64_t random;
	struct box_client *client;
	pthread_t thread;
	uint64_t user_next;
	uint64_t user_id;
	const uint32_t *shows; /* this cycle's */
	hold_vector holds;     /* this cycle's, merged into the run's after it */
	join_vector joins;
	uint32_t uncertain_holds;
	struct command_hold uncertain_hold; /* when uncertain_holds is 1 */
	uint32_t acknowledged;
	char problem[256];
};

struct run {
	struct fx_server server;
	uint64_t seed;
	uint64_t random;
	uint32_t cycles;
	uint32_t workers;
	uint32_t shows[SHOWS_MAX];
	uint32_t shows_count;
	uint32_t show_id_next;
	hold_vector holds; /* every acknowledged hold of every cycle */
	join_vector joins; /* the last cycle's */
	request_vector uncertain_holds; /* the last cycle's HOLDs in flight at the kill */
	struct loader loaders[LOADERS_COUNT];
};

static uint64_t random_next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint32_t random_below(uint64_t *state, uint32_t bound)
{
	return (uint32_t)(random_next(state) % bound);
}

static void payment_ref(uint64_t hold_id, char *buffer, size_t size)
{
	snprintf(buffer, size, "pay-%016" PRIx64, hold_id);
}

static void loader_problem(struct loader *l, const char *what, enum status status)
{
	if (l->problem[0] == '\0')
		snprintf(l->problem, sizeof(l->problem), "loader %u: %s (status %s)", l->index,
			 what, status_name(status));
}

/* Load. */

static bool load_hold(struct loader *l)
{
	uint32_t which = random_below(&l->random, SHOWS_PER_CYCLE);
	uint32_t show_id = l->shows[which];
	uint32_t seats_count = which == 2 ? FX_CLUB_SEATS : ARENA_ROWS * ARENA_ROW_SEATS;
	struct command c = { .type = COMMAND_HOLD };
	c.hold = (struct command_hold){ .show_id = show_id, .user_id = l->user_id };
	if (random_below(&l->random, 5) == 0)
		c.hold.ttl_ms = 50 + random_below(&l->random, 100);
	c.hold.seats_count = (uint8_t)(1 + random_below(&l->random, 3));
	if (random_below(&l->random, 4) == 0) {
		c.hold.best = true;
		c.hold.tier = (uint8_t)random_below(&l->random, TIER_COUNT);
	} else {
		uint32_t first = random_below(&l->random, seats_count - c.hold.seats_count + 1);
		for (uint8_t i = 0; i < c.hold.seats_count; i++)
			c.hold.seats[i] = first + i;
	}
	struct engine_result r;
	if (box_client_command(l->client, &c, &r) != 0) {
		l->uncertain_holds++;
		l->uncertain_hold = c.hold;
		return false;
	}
	l->acknowledged++;
	if (r.status == STATUS_OK) {
		struct hold_record h = { .hold_id = r.hold_id, .user_id = l->user_id,
					 .show_id = show_id, .deadline_ms = r.deadline_ms,
					 .seats_count = r.seats_count, .fate = FATE_ACTIVE,
					 .short_lived = c.hold.ttl_ms != 0 };
		memcpy(h.seats, r.seats, sizeof(uint32_t) * r.seats_count);
		VECTOR_PUSH(l->holds, h);
	} else if (r.status == STATUS_LIMIT_EXCEEDED) {
		l->user_id = l->user_next++;
	} else if (r.status != STATUS_SEAT_UNAVAILABLE && r.status != STATUS_WAITLIST_ACTIVE) {
		loader_problem(l, "a hold was refused for no good reason", r.status);
		return false;
	}
	return true;
}

static struct hold_record *own_hold(struct loader *l, uint8_t fate)
{
	if (l->holds.count == 0)
		return NULL;
	uint32_t start = random_below(&l->random, l->holds.count);
	for (uint32_t i = 0; i < l->holds.count; i++) {
		struct hold_record *h = &l->holds.items[(start + i) % l->holds.count];
		if (h->fate == fate)
			return h;
	}
	return NULL;
}

/* Confirms (or confirms again, or releases) one of the loader's holds. */
static bool load_settle(struct loader *l, enum command_type type, uint8_t fate)
{
	struct hold_record *h = own_hold(l, fate);
	/* Short holds are mostly left to expire by themselves. */
	if (h == NULL || (h->short_lived && random_below(&l->random, 4) != 0))
		return true;
	char ref[32];
	payment_ref(h->hold_id, ref, sizeof(ref));
	struct engine_result r;
	struct box_client *client = l->client;
	int rc = type == COMMAND_CONFIRM ? box_client_confirm(client, h->hold_id, h->user_id,
							      text_from_cstr(ref), &r)
					 : box_client_release(client, h->hold_id, h->user_id, &r);
	if (rc != 0) {
		if (fate == FATE_ACTIVE)
			h->uncertain = (uint8_t)type;
		return false;
	}
	l->acknowledged++;
	bool same = r.hold_id == h->hold_id && r.seats_count == h->seats_count &&
		    memcmp(r.seats, h->seats, sizeof(uint32_t) * h->seats_count) == 0;
	if (r.status == STATUS_OK && same) {
		h->fate = type == COMMAND_CONFIRM ? FATE_BOOKED : FATE_RELEASED;
	} else if (r.status == STATUS_HOLD_EXPIRED && fate == FATE_ACTIVE &&
		   fx_now_ms() + 2 >= h->deadline_ms) {
		h->fate = FATE_EXPIRED;
	} else {
		loader_problem(l,
			       fate == FATE_BOOKED ? "a repeated confirm did not give the booking"
						   : "a confirm or release of an active hold",
			       r.status);
		return false;
	}
	return true;
}

static bool load_join(struct loader *l)
{
	struct join_record j = { .show_id = l->shows[2], .user_id = l->user_next++,
				 .uncertain = COMMAND_WAITLIST_JOIN };
	struct engine_result r;
	enum tier tier = (enum tier)random_below(&l->random, TIER_COUNT);
	if (box_client_waitlist_join(l->client, j.show_id, j.user_id, tier, 1, false, &r) != 0) {
		VECTOR_PUSH(l->joins, j);
		return false;
	}
	l->acknowledged++;
	if (r.status == STATUS_OK) {
		j.fate = JOIN_IN_LINE;
		j.uncertain = 0;
		VECTOR_PUSH(l->joins, j);
	}
	return true;
}

static bool load_leave(struct loader *l)
{
	for (uint32_t i = 0; i < l->joins.count; i++) {
		struct join_record *j = &l->joins.items[i];
		if (j->fate != JOIN_IN_LINE || j->uncertain)
			continue;
		struct engine_result r;
		if (box_client_waitlist_leave(l->client, j->show_id, j->user_id, &r) != 0) {
			j->uncertain = COMMAND_WAITLIST_LEAVE;
			return false;
		}
		l->acknowledged++;
		if (r.status != STATUS_OK) {
			loader_problem(l, "leaving a line joined", r.status);
			return false;
		}
		j->fate = JOIN_LEFT;
		return true;
	}
	return true;
}

static uint32_t active_count(const struct loader *l)
{
	uint32_t count = 0;
	for (uint32_t i = 0; i < l->holds.count; i++)
		count += l->holds.items[i].fate == FATE_ACTIVE;
	return count;
}

/* Runs until the server dies under it (or something is wrong). */
static void *loader_main(void *argument)
{
	struct loader *l = argument;
	for (;;) {
		uint32_t dice = random_below(&l->random, 20);
		/* A few holds stay active, so that some are in the air at the kill. */
		if (dice < 8 && active_count(l) >= ACTIVE_HOLDS_MAX)
			dice = 8 + random_below(&l->random, 5);
		bool go = dice < 8    ? load_hold(l)
			  : dice < 10 ? load_settle(l, COMMAND_CONFIRM, FATE_ACTIVE)
			  : dice < 13 ? load_settle(l, COMMAND_RELEASE, FATE_ACTIVE)
			  : dice < 15 ? load_settle(l, COMMAND_CONFIRM, FATE_BOOKED)
			  : dice < 18 ? load_join(l)
				      : load_leave(l);
		if (!go)
			return NULL;
	}
}

/* Checks after a restart. */

/* The state of a hold, read without changing it (see the top of this file). */
static uint8_t hold_probe(struct box_client *client, const struct hold_record *h,
			  int64_t *before, int64_t *after)
{
	struct engine_result r;
	*before = fx_now_ms();
	fx_rc(box_client_release(client, h->hold_id, PROBE_USER, &r), "RELEASE probe");
	*after = fx_now_ms();
	switch (r.status) {
	case STATUS_NOT_OWNER:
		return FATE_ACTIVE;
	case STATUS_ALREADY_CONFIRMED:
		return FATE_BOOKED;
	case STATUS_HOLD_EXPIRED:
		return FATE_EXPIRED;
	case STATUS_NOT_FOUND:
		return FATE_RELEASED;
	default:
		fx_fail("hold %#" PRIx64 ": the probe answered %s", h->hold_id,
			status_name(r.status));
	}
}

static const char *fate_name(uint8_t fate)
{
	static const char *const names[] = { "?", "active", "booked", "released", "expired" };
	return fate < ARRAY_COUNT(names) ? names[fate] : "?";
}

/* Compares a hold's recovered state with the record, and settles uncertain ones. */
static void hold_verify(struct box_client *client, struct hold_record *h)
{
	int64_t before, after;
	uint8_t found = hold_probe(client, h, &before, &after);
	uint8_t want = h->fate;
	if (want == FATE_ACTIVE && h->deadline_ms <= before)
		want = FATE_EXPIRED; /* it reached its deadline meanwhile */
	bool expiry_race = h->fate == FATE_ACTIVE && h->deadline_ms > before &&
			   h->deadline_ms <= after;
	bool ok = found == want || (expiry_race && found == FATE_EXPIRED);
	if (h->uncertain == COMMAND_CONFIRM)
		ok = found == want || found == FATE_BOOKED || found == FATE_EXPIRED;
	if (h->uncertain == COMMAND_RELEASE)
		ok = found == want || found == FATE_RELEASED || found == FATE_EXPIRED;
	FX_CHECK(ok, "hold %#" PRIx64 " (cycle %u, show %u, deadline %+lld ms from now%s%s) "
		     "is %s after the restart; acknowledged: %s",
		 h->hold_id, h->cycle, h->show_id, (long long)(h->deadline_ms - before),
		 h->uncertain ? ", then an uncertain " : "",
		 h->uncertain ? command_type_name(h->uncertain) : "", fate_name(found),
		 fate_name(want));
	h->fate = found;
	h->uncertain = 0;
}

/* A booking answers a repeated confirm with itself; an expired hold stays expired. */
static void hold_confirm_again(struct box_client *client, const struct hold_record *h)
{
	if (h->fate != FATE_BOOKED && h->fate != FATE_EXPIRED)
		return;
	char ref[32];
	payment_ref(h->hold_id, ref, sizeof(ref));
	struct engine_result r = fx_confirm(client, h->hold_id, h->user_id, ref);
	if (h->fate == FATE_EXPIRED) {
		FX_CHECK(r.status == STATUS_HOLD_EXPIRED,
			 "expired hold %#" PRIx64 ": a confirm answered %s", h->hold_id,
			 status_name(r.status));
		return;
	}
	FX_CHECK(r.status == STATUS_OK && r.hold_id == h->hold_id &&
			 r.seats_count == h->seats_count &&
			 memcmp(r.seats, h->seats, sizeof(uint32_t) * h->seats_count) == 0,
		 "booking %#" PRIx64 ": a repeated confirm answered %s with %u seats",
		 h->hold_id, status_name(r.status), r.seats_count);
}

static bool hold_known(const struct run *run, uint32_t cycle, uint64_t hold_id)
{
	for (uint32_t i = run->holds.count; i-- > 0;) {
		const struct hold_record *h = &run->holds.items[i];
		if (h->cycle != cycle)
			return false; /* the earlier cycles had other shows */
		if (h->hold_id == hold_id)
			return true;
	}
	return false;
}

enum claim { CLAIM_NONE, CLAIM_BOOKED, CLAIM_EXPIRED };

/* Confirms an active hold no answer named in the name of the users whose HOLD of its
 * show was in flight. CLAIM_BOOKED: one of them owned it, and its booking is recorded;
 * CLAIM_EXPIRED: it expired before it could be asked. */
static enum claim uncertain_hold_claim(struct run *run, struct box_client *client,
				       uint32_t cycle, uint64_t hold_id, bool *matched)
{
	for (uint32_t u = 0; u < run->uncertain_holds.count; u++) {
		const struct command_hold *asked = &run->uncertain_holds.items[u];
		if (matched[u] || asked->show_id != (uint32_t)(hold_id >> 32))
			continue;
		char ref[32];
		payment_ref(hold_id, ref, sizeof(ref));
		struct engine_result r = fx_confirm(client, hold_id, asked->user_id, ref);
		if (r.status == STATUS_NOT_OWNER)
			continue;
		if (r.status == STATUS_HOLD_EXPIRED) /* since the probe: nothing to learn */
			return CLAIM_EXPIRED;
		FX_CHECK(r.status == STATUS_OK, "hold %#" PRIx64 " of user %" PRIu64 ": confirm %s",
			 hold_id, asked->user_id, status_name(r.status));
		/* Whole: the seats asked for, or for best available as many. */
		FX_CHECK(r.seats_count == asked->seats_count &&
				 (asked->best || memcmp(r.seats, asked->seats,
							sizeof(uint32_t) * r.seats_count) == 0),
			 "hold %#" PRIx64 ", in flight at the kill, has %u seats (first %u); it "
			 "asked for %u (first %u)",
			 hold_id, r.seats_count, r.seats[0], asked->seats_count,
			 asked->best ? 0 : asked->seats[0]);
		struct hold_record h = { .hold_id = hold_id, .user_id = asked->user_id,
					 .show_id = asked->show_id, .cycle = cycle,
					 .deadline_ms = r.deadline_ms, .seats_count = r.seats_count,
					 .fate = FATE_BOOKED };
		memcpy(h.seats, r.seats, sizeof(uint32_t) * r.seats_count);
		VECTOR_PUSH(run->holds, h);
		matched[u] = true;
		return CLAIM_BOOKED;
	}
	return CLAIM_NONE;
}

/*
 * The HOLDs in flight at the kill happened whole or not at all. Hold ids are dense
 * per show (n = 1, 2, ...): those of the cycle's shows that no answer named are such
 * holds, or offers of the Club show's waiting line. Each active one is claimed
 * (uncertain_hold_claim); one no one claims on a show without a waiting line is a
 * hold no one asked for. Past the highest id answered, the ids are probed until
 * HOLD_ID_GAP_MAX in a row are not found (offers withdrawn by a leave leave gaps).
 */
#define HOLD_ID_GAP_MAX 64u
static void uncertain_holds_settle(struct run *run, struct box_client *client, uint32_t cycle,
				   const uint32_t *shows)
{
	bool *matched = calloc(run->uncertain_holds.count + 1, sizeof(bool));
	FX_CHECK(matched != NULL, "out of memory");
	uint32_t happened = 0, expired = 0, offers = 0;
	for (uint32_t s = 0; s < SHOWS_PER_CYCLE; s++) {
		uint32_t known_max = 0;
		for (uint32_t i = 0; i < run->holds.count; i++) {
			const struct hold_record *h = &run->holds.items[i];
			if (h->cycle == cycle && h->show_id == shows[s] &&
			    (uint32_t)h->hold_id > known_max)
				known_max = (uint32_t)h->hold_id;
		}
		for (uint32_t n = 1, gap = 0; gap < HOLD_ID_GAP_MAX; n++) {
			uint64_t hold_id = (uint64_t)shows[s] << 32 | n;
			if (n <= known_max && hold_known(run, cycle, hold_id))
				continue;
			struct hold_record probe = { .hold_id = hold_id };
			int64_t before, after;
			uint8_t fate = hold_probe(client, &probe, &before, &after);
			gap = fate == FATE_RELEASED && n > known_max ? gap + 1 : 0;
			FX_CHECK(fate != FATE_BOOKED,
				 "hold %#" PRIx64 " is booked, but no confirm of it was sent", hold_id);
			if (fate == FATE_EXPIRED)
				expired++;
			if (fate != FATE_ACTIVE)
				continue;
			enum claim claim = uncertain_hold_claim(run, client, cycle, hold_id, matched);
			happened += claim == CLAIM_BOOKED;
			expired += claim == CLAIM_EXPIRED;
			if (claim != CLAIM_NONE)
				continue;
			FX_CHECK(s == 2, "show %u: hold %#" PRIx64 " is active, but no answer named "
					 "it and no HOLD in flight was its",
				 shows[s], hold_id);
			offers++;
		}
	}
	printf("  %u HOLDs in flight at the kill: %u happened whole (now booked), %u unnamed "
	       "holds expired, %u offers\n",
	       run->uncertain_holds.count, happened, expired, offers);
	free(matched);
	run->uncertain_holds.count = 0;
}

/* Seats of one show: owner record per seat, for booked and active holds. Where no
 * waiting line makes offers, every held seat is a seat of a hold on record. */
static void show_verify(struct run *run, struct box_client *client, uint32_t show_id,
			bool offers)
{
	struct fx_show_state state;
	fx_show_state_get(client, show_id, &state);
	const struct hold_record **owners = calloc(state.seats_count, sizeof(*owners));
	FX_CHECK(owners != NULL, "out of memory");
	/* A hold recorded active that was not probed now may have expired since. */
	int64_t expiry_horizon = fx_now_ms() + 100;
	uint32_t booked = 0;
	for (uint32_t i = 0; i < run->holds.count; i++) {
		const struct hold_record *h = &run->holds.items[i];
		if (h->show_id != show_id || (h->fate != FATE_BOOKED && h->fate != FATE_ACTIVE) ||
		    (h->fate == FATE_ACTIVE && h->deadline_ms <= expiry_horizon))
			continue;
		for (uint8_t s = 0; s < h->seats_count; s++) {
			uint32_t seat = h->seats[s];
			FX_CHECK(seat < state.seats_count && owners[seat] == NULL,
				 "show %u seat %u is in hold %#" PRIx64 " and in %#" PRIx64,
				 show_id, seat, h->hold_id,
				 owners[seat] ? owners[seat]->hold_id : 0);
			owners[seat] = h;
			uint8_t want = h->fate == FATE_BOOKED ? SEAT_BOOKED : SEAT_HELD;
			FX_CHECK(state.states[seat] == want,
				 "show %u seat %u of %s hold %#" PRIx64 " is %s", show_id, seat,
				 fate_name(h->fate), h->hold_id,
				 seat_state_name(state.states[seat]));
			booked += h->fate == FATE_BOOKED;
		}
	}
	if (!offers) {
		/* Holds recorded active may have expired since (their seats are free then). */
		bool *claimed = calloc(state.seats_count, sizeof(bool));
		FX_CHECK(claimed != NULL, "out of memory");
		for (uint32_t i = 0; i < run->holds.count; i++) {
			const struct hold_record *h = &run->holds.items[i];
			for (uint8_t s = 0; h->show_id == show_id && h->fate == FATE_ACTIVE &&
					    s < h->seats_count; s++)
				claimed[h->seats[s]] = true;
		}
		for (uint32_t seat = 0; seat < state.seats_count; seat++)
			FX_CHECK(state.states[seat] != SEAT_HELD || claimed[seat],
				 "show %u seat %u is held, but by no hold on record", show_id,
				 seat);
		free(claimed);
	}
	/* Only confirms make bookings, and every confirm is known: nothing else is booked. */
	uint32_t booked_seen = fx_seats_in_state(&state, SEAT_BOOKED);
	FX_CHECK(booked_seen == booked, "show %u has %u booked seats; the bookings have %u",
		 show_id, booked_seen, booked);
	free(owners);
	fx_show_state_finish(&state);
}

static void joins_verify(struct run *run, struct box_client *client)
{
	for (uint32_t i = 0; i < run->joins.count; i++) {
		const struct join_record *j = &run->joins.items[i];
		struct engine_result r;
		fx_rc(box_client_waitlist_poll(client, j->show_id, j->user_id, &r), "POLL");
		bool there = r.status == STATUS_OK && r.waiter_state >= WAITER_WAITING &&
			     r.waiter_state <= WAITER_LAPSED;
		bool gone = r.status == STATUS_NOT_FOUND;
		bool ok = j->uncertain ? there || gone : j->fate == JOIN_IN_LINE ? there : gone;
		FX_CHECK(ok,
			 "show %u: waiting-list entry of user %" PRIu64 " (%s%s) polls %s, "
			 "state %u",
			 j->show_id, j->user_id, j->fate == JOIN_IN_LINE ? "joined" : "left",
			 j->uncertain ? ", uncertain" : "", status_name(r.status), r.waiter_state);
	}
	run->joins.count = 0;
}

static void recovery_verify(struct run *run, uint32_t cycle, const uint32_t *shows)
{
	struct box_client *client = fx_connect(&run->server);
	uint32_t counts[5] = { 0 };
	uint32_t old_count = 0;
	for (uint32_t i = 0; i < run->holds.count; i++) {
		struct hold_record *h = &run->holds.items[i];
		/* Every hold of this cycle; a sample of the earlier ones. */
		bool recent = h->cycle == cycle;
		bool sampled = random_below(&run->random, run->holds.count) < OLD_SAMPLES;
		if (!recent && h->uncertain == 0 && !sampled)
			continue;
		old_count += !recent;
		hold_verify(client, h);
		if (recent || random_below(&run->random, 4) == 0)
			hold_confirm_again(client, h);
		counts[h->fate]++;
	}
	uncertain_holds_settle(run, client, cycle, shows);
	for (uint32_t i = 0; i < run->shows_count; i++)
		show_verify(run, client, run->shows[i], i % SHOWS_PER_CYCLE == 2);
	joins_verify(run, client);
	printf("  verified: %u booked, %u active, %u released, %u expired (%u of earlier cycles); "
	       "%u shows\n",
	       counts[FATE_BOOKED], counts[FATE_ACTIVE], counts[FATE_RELEASED],
	       counts[FATE_EXPIRED], old_count, run->shows_count);
	box_client_close(client);
}

/* One cycle. */

static uint32_t show_id_on_shard(struct run *run, uint32_t shard)
{
	while (engine_show_shard(run->show_id_next, run->workers) != shard)
		run->show_id_next++;
	return run->show_id_next++;
}

/* A venue large enough that a cycle's load does not sell it out. */
static void arena_put(struct box_client *client)
{
	struct layout_builder b;
	layout_builder_init(&b);
	layout_builder_section(&b, "Arena");
	for (uint32_t row = 0; row < ARENA_ROWS; row++) {
		char name[8];
		snprintf(name, sizeof(name), "R%u", row + 1);
		enum tier tier = row < 2 ? TIER_VIP : row < 6 ? TIER_REGULAR : TIER_ECONOMY;
		layout_builder_row(&b, name, 1, ARENA_ROW_SEATS, tier);
	}
	struct command c = { .type = COMMAND_VENUE_PUT };
	c.venue_put = (struct command_venue_put){ .venue_id = ARENA_VENUE,
						  .location_id = FX_LOCATION_VIENNA,
						  .name = text_from_cstr("Crash Arena") };
	FX_CHECK(layout_builder_layout(&b, &c.venue_put.layout) == STATUS_OK, "arena layout");
	struct engine_result r;
	fx_rc(box_client_command(client, &c, &r), "VENUE_PUT");
	FX_CHECK(r.status == STATUS_OK, "VENUE_PUT arena: %s", status_name(r.status));
	layout_builder_finish(&b);
}

static void shows_put(struct run *run, struct box_client *client, uint32_t *shows)
{
	for (uint32_t i = 0; i < SHOWS_PER_CYCLE; i++) {
		uint32_t id = show_id_on_shard(run, i % run->workers);
		struct command c = fx_show_command(id);
		c.show_put.venue_id = ARENA_VENUE;
		if (i == 2) {
			c.show_put.event_id = FX_EVENT_ROCK;
			c.show_put.venue_id = FX_VENUE_CLUB;
		}
		struct engine_result r;
		fx_rc(box_client_command(client, &c, &r), "SHOW_PUT");
		FX_CHECK(r.status == STATUS_OK, "SHOW_PUT %u: %s", id, status_name(r.status));
		FX_CHECK(run->shows_count < SHOWS_MAX, "too many shows");
		run->shows[run->shows_count++] = id;
		shows[i] = id;
	}
}

/* Loads the server until it is killed; returns the loaders' counts. */
static void load_and_kill(struct run *run, uint32_t cycle, const uint32_t *shows)
{
	for (uint32_t i = 0; i < LOADERS_COUNT; i++) {
		struct loader *l = &run->loaders[i];
		/* Every cycle and loader has users of its own. */
		uint64_t users = (uint64_t)(cycle + 1) * 1000000 + i * 100000 + 1000;
		*l = (struct loader){ .index = i, .random = run->seed ^ ((uint64_t)cycle << 20 | i),
				      .client = fx_connect(&run->server), .shows = shows,
				      .user_next = users };
		l->user_id = l->user_next++;
	}
	for (uint32_t i = 0; i < LOADERS_COUNT; i++)
		FX_CHECK(pthread_create(&run->loaders[i].thread, NULL, loader_main,
					&run->loaders[i]) == 0, "pthread_create");
	uint32_t kill_after = KILL_AFTER_MS_MIN +
			      random_below(&run->random, KILL_AFTER_MS_MAX - KILL_AFTER_MS_MIN + 1);
	if (cycle % 3 == 1) {
		/* Now and then a snapshot is on its way when the kill comes. */
		struct box_client *client = fx_connect(&run->server);
		uint64_t id;
		box_client_send_empty(client, PROTO_SNAPSHOT, &id);
		box_client_flush(client, 1000);
		fx_sleep_ms(kill_after);
		fx_server_kill(&run->server);
		box_client_close(client);
	} else {
		fx_sleep_ms(kill_after);
		fx_server_kill(&run->server);
	}
	uint32_t acknowledged = 0, uncertain = 0;
	for (uint32_t i = 0; i < LOADERS_COUNT; i++) {
		struct loader *l = &run->loaders[i];
		pthread_join(l->thread, NULL);
		box_client_close(l->client);
		FX_CHECK(l->problem[0] == '\0', "%s", l->problem);
		acknowledged += l->acknowledged;
		uncertain += l->uncertain_holds;
		if (l->uncertain_holds > 0)
			VECTOR_PUSH(run->uncertain_holds, l->uncertain_hold);
		for (uint32_t k = 0; k < l->holds.count; k++) {
			l->holds.items[k].cycle = cycle;
			uncertain += l->holds.items[k].uncertain != 0;
			VECTOR_PUSH(run->holds, l->holds.items[k]);
		}
		for (uint32_t k = 0; k < l->joins.count; k++) {
			uncertain += l->joins.items[k].uncertain != 0;
			VECTOR_PUSH(run->joins, l->joins.items[k]);
		}
		free(l->holds.items);
		free(l->joins.items);
	}
	printf("cycle %u: killed after %u ms; %u requests acknowledged, %u in flight\n", cycle,
	       kill_after, acknowledged, uncertain);
}

static void cycle_run(struct run *run, uint32_t cycle)
{
	struct box_client *client = fx_connect(&run->server);
	if (cycle == 0) {
		fx_catalog_load(client);
		arena_put(client);
	}
	uint32_t shows[SHOWS_PER_CYCLE];
	shows_put(run, client, shows);
	box_client_close(client);
	load_and_kill(run, cycle, shows);
	fx_server_start(&run->server);
	recovery_verify(run, cycle, shows);
	fflush(stdout);
}

/*
 * The log's segments were written the way --log-flushes asks: with more than one
 * flush in flight at least one segment is version 2 (flushes went beside each
 * other), with one every started segment is version 1. A run whose data directory
 * has no direct I/O (tmpfs) would test nothing new with more: that fails here too.
 */
static void segment_versions_check(const struct run *run, uint32_t log_flushes)
{
	uint32_t versions[3] = { 0 };
	for (uint32_t shard = 0; shard < run->workers; shard++) {
		char dir_path[FX_PATH_SIZE + 32];
		snprintf(dir_path, sizeof(dir_path), "%s/shard-%u", run->server.data_dir, shard);
		DIR *dir = opendir(dir_path);
		if (dir == NULL)
			fx_fail("%s: %s", dir_path, strerror(errno));
		for (struct dirent *entry; (entry = readdir(dir)) != NULL;) {
			if (strncmp(entry->d_name, "segment-", 8) != 0)
				continue;
			char path[sizeof(dir_path) + 256];
			snprintf(path, sizeof(path), "%s/%s", dir_path, entry->d_name);
			FILE *file = fopen(path, "rb");
			uint8_t header[12] = { 0 };
			if (file == NULL || fread(header, 1, sizeof(header), file) != sizeof(header))
				fx_fail("%s: cannot read its header", path);
			fclose(file);
			uint32_t version = (uint32_t)header[8] | (uint32_t)header[9] << 8 |
					   (uint32_t)header[10] << 16 | (uint32_t)header[11] << 24;
			if (memcmp(header, "BOXWALSG", 8) != 0)
				continue; /* a spare */
			if (version < 1 || version > 2)
				fx_fail("%s: segment version %u", path, version);
			versions[version]++;
		}
		closedir(dir);
	}
	printf("crash_server: %u segments of version 1, %u of version 2\n", versions[1],
	       versions[2]);
	if (log_flushes > 1 && versions[2] == 0)
		fx_fail("--log-flushes %u wrote no version-2 segment: no direct I/O in %s?",
			log_flushes, run->server.data_dir);
	if (log_flushes == 1 && versions[2] > 0)
		fx_fail("--log-flushes 1 wrote version-2 segments");
}

static void usage_exit(void)
{
	fprintf(stderr, "usage: crash_server --cycles N --server PATH [--seed S] [--workers W] "
			"[--log-flushes F]\n");
	exit(64);
}

static void arguments_parse(struct run *run, int argc, char **argv, const char **server,
			    const char **log_flushes)
{
	static const struct option options[] = {
		{ "cycles", required_argument, NULL, 'c' },
		{ "server", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'r' },
		{ "workers", required_argument, NULL, 'w' },
		{ "log-flushes", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int option;
	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (option == 'c')
			run->cycles = (uint32_t)strtoul(optarg, NULL, 10);
		else if (option == 's')
			*server = optarg;
		else if (option == 'r')
			run->seed = strtoull(optarg, NULL, 0);
		else if (option == 'w')
			run->workers = (uint32_t)strtoul(optarg, NULL, 10);
		else if (option == 'f')
			*log_flushes = optarg;
		else
			usage_exit();
	}
	if (optind != argc || run->cycles == 0 || *server == NULL || run->workers == 0)
		usage_exit();
}

int main(int argc, char **argv)
{
	static struct run run;
	run = (struct run){ .seed = (uint64_t)time(NULL), .workers = FX_WORKERS_DEFAULT,
			    .show_id_next = 1000 };
	const char *server = NULL;
	const char *log_flushes = "1";
	arguments_parse(&run, argc, argv, &server, &log_flushes);
	run.random = run.seed;
	fx_fail_exit_set(true);
	/* Frequent snapshots: kills land before, during and after them. */
	fx_server_init(&run.server, server, run.workers,
		       (const char *const[]){ "--snapshot-every-records", "64", "--log-flushes",
					      log_flushes, NULL });
	run.server.keep_root = true; /* removed below only once every cycle passed */
	printf("crash_server: seed %" PRIu64 ", %u cycles, %u workers, %s log flushes, data %s\n",
	       run.seed, run.cycles, run.workers, log_flushes, run.server.data_dir);
	fflush(stdout);
	fx_server_start(&run.server);
	for (uint32_t cycle = 0; cycle < run.cycles; cycle++)
		cycle_run(&run, cycle);
	fx_server_stop(&run.server);
	segment_versions_check(&run, (uint32_t)strtoul(log_flushes, NULL, 10));
	run.server.keep_root = false;
	fx_server_finish(&run.server);
	free(run.holds.items);
	free(run.joins.items);
	free(run.uncertain_holds.items);
	printf("crash_server: %u cycles passed (seed %" PRIu64 ")\n", run.cycles, run.seed);
	return 0;
}
