/*
 * boxctl_change.c — boxctl's commands that change a show: holds, confirmations,
 * releases, cancellations, blocked seats, waiting lists and WAIT. Each loads the
 * show's seat map first, to name and price the seats of its result.
 */
#include "boxctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seatmap.h"

/* Changes: what a result says about seats, with their labels and prices. */

/* The show a change is about: its seat map names the seats, the show prices them. */
struct show_context {
	uint32_t show_id;
	struct box_seatmap *map; /* NULL when it could not be had */
	struct engine_show show;
	bool have_show;
};

/* Returns the seat map's status: STATUS_NOT_FOUND for an unknown show. */
static enum status show_context_load(struct show_context *s, uint32_t show_id)
{
	enum status map_status, status;
	*s = (struct show_context){ .show_id = show_id };
	check(box_client_seatmap(ctl.client, show_id, &s->map, &map_status));
	check(box_client_show(ctl.client, show_id, &s->show, &status));
	s->have_show = status == STATUS_OK;
	return map_status;
}

static void show_context_finish(struct show_context *s)
{
	box_seatmap_destroy(s->map);
}

static const char *seat_label(const struct show_context *s, uint32_t seat, char *buffer,
			      size_t size)
{
	if (s->map == NULL || seat >= s->map->seats_count) {
		snprintf(buffer, size, "#%u", seat);
		return buffer;
	}
	return seatmap_label(&s->map->layout, seat, buffer, size);
}

/* The seat's tier, or -1 without a seat map. */
static int seat_tier(const struct show_context *s, uint32_t seat)
{
	struct layout_row row;
	if (s->map == NULL || !layout_seat_row(&s->map->layout, seat, &row))
		return -1;
	return row_seat_tier(&row, seat - row.seat_first);
}

static json_t *json_seats(const struct show_context *s, const uint32_t *seats, uint8_t count)
{
	json_t *array = json_array();
	for (uint8_t i = 0; i < count; i++) {
		char label[64];
		int tier = seat_tier(s, seats[i]);
		json_t *o = json_pack("{s:I, s:o}", "id", (json_int_t)seats[i], "label",
				      json_text(text_from_cstr(seat_label(s, seats[i], label,
									  sizeof(label)))));
		if (tier >= 0)
			json_object_set_new(o, "tier", json_string(tier_name(tier)));
		if (tier >= 0 && s->have_show)
			json_object_set_new(o, "price_minor", json_integer(s->show.prices_minor[tier]));
		json_array_append_new(array, o);
	}
	return array;
}

/* One line per seat with its tier and price, then the total. */
static void seats_print(const struct show_context *s, const uint32_t *seats, uint8_t count)
{
	int64_t total = 0;
	bool priced = s->have_show;
	for (uint8_t i = 0; i < count; i++) {
		char label[64];
		int tier = seat_tier(s, seats[i]);
		printf("  %-24s", seat_label(s, seats[i], label, sizeof(label)));
		if (tier >= 0)
			printf(" %-8s", tier_name(tier));
		if (tier >= 0 && s->have_show) {
			printf(" %14s", money_text(s->show.prices_minor[tier], s->show.currency));
			total += s->show.prices_minor[tier];
		} else {
			priced = false;
		}
		putchar('\n');
	}
	if (priced && count > 1)
		printf("  %-24s %-8s %14s\n", "total", "", money_text(total, s->show.currency));
}

static void seats_inline(const struct show_context *s, const uint32_t *seats, uint8_t count)
{
	for (uint8_t i = 0; i < count; i++) {
		char label[64];
		fprintf(stderr, "%s%s", i ? ", " : "", seat_label(s, seats[i], label, sizeof(label)));
	}
}

static json_t *json_result(const struct engine_result *r, const struct show_context *s)
{
	json_t *o = json_pack("{s:s}", "status", status_name(r->status));
	if (r->hold_id != 0)
		json_object_set_new(o, "hold_id", json_hold_id(r->hold_id));
	if (r->deadline_ms != 0) {
		json_object_set_new(o, "deadline", json_time(r->deadline_ms));
		json_object_set_new(o, "deadline_ms", json_integer(r->deadline_ms));
	}
	json_object_set_new(o, "seats", json_seats(s, r->seats, r->seats_count));
	if (r->booking_cancelled)
		json_object_set_new(o, "booking_cancelled", json_true());
	if (r->waiter_state != WAITER_NONE) {
		json_object_set_new(o, "waiter_state", json_string(waiter_state_name(r->waiter_state)));
		json_object_set_new(o, "tier", json_string(tier_name(r->tier)));
		json_object_set_new(o, "waiting", json_integer(r->waiters_count));
		json_object_set_new(o, "waiter_seq", json_integer((json_int_t)r->waiter_seq));
	}
	return o;
}

/*
 * Ends a change: a refusal exits 1 with the status in words (and, for seats that
 * were not available, which ones); success prints the result as JSON when asked.
 * Returns true when the caller prints the text itself.
 */
static bool result_settle_seats(int rc, const struct engine_result *r, struct show_context *s,
				const char *what, const char *unavailable, json_t *extra)
{
	check(rc);
	if (ctl.json) {
		json_t *o = json_result(r, s);
		if (extra != NULL)
			json_object_update(o, extra);
		json_print(o);
	}
	json_decref(extra);
	if (r->status == STATUS_OK)
		return !ctl.json;
	if (r->status == STATUS_SEAT_UNAVAILABLE && r->seats_count > 0 && !ctl.json) {
		fprintf(stderr, "boxctl: %s: seat unavailable: ", ctl.command);
		seats_inline(s, r->seats, r->seats_count);
		fprintf(stderr, " %s %s\n", r->seats_count > 1 ? "are" : "is", unavailable);
		exit(EXIT_REFUSED);
	}
	if (ctl.json) {
		fprintf(stderr, "boxctl: %s: %s: %s\n", ctl.command, status_name(r->status), what);
		exit(EXIT_REFUSED);
	}
	refused(r->status, "%s", what);
}

/* The same, for changes whose unavailable seats are taken (holds, waits...). */
static bool result_settle(int rc, const struct engine_result *r, struct show_context *s,
			  const char *what)
{
	return result_settle_seats(rc, r, s, what, "taken", NULL);
}

/*
 * "#123", "ROW-NUMBER", "SECTION:ROW-NUMBER", or a label as printed, "SECTION
 * ROW-NUMBER" (section names may have spaces, so that form splits at the last one).
 */
static uint32_t seat_resolve(const struct box_seatmap *map, const char *label)
{
	if (label[0] == '#')
		return (uint32_t)number_parse(label + 1, "a seat id", 0, map->seats_count - 1);
	const char *dash = strrchr(label, '-');
	const char *colon = strrchr(label, ':');
	if (colon != NULL && dash != NULL && colon > dash)
		colon = NULL;
	if (dash == NULL || dash == label || !all_of(dash + 1, "0123456789") ||
	    strlen(dash + 1) > 5)
		usage_fail("'%s' is not a seat: give ROW-NUMBER, SECTION:ROW-NUMBER or #SEAT_ID",
			   label);
	uint32_t number = (uint32_t)atoi(dash + 1), seat, found = 0, matches = 0;
	const char *row = colon ? colon + 1 : label;
	if (layout_seat_find(&map->layout, label, colon ? (size_t)(colon - label) : 0, row,
			     (size_t)(dash - row), number, &seat)) {
		found = seat;
		matches++;
	}
	/* As printed, "SECTION ROW-NUMBER": either name may hold spaces, so try each place
	 * the label can split, and take it only when just one seat answers to it. */
	for (const char *space = colon ? NULL : memrchr(label, ' ', (size_t)(dash - label));
	     space != NULL; space = memrchr(label, ' ', (size_t)(space - label))) {
		if (layout_seat_find(&map->layout, label, (size_t)(space - label), space + 1,
				     (size_t)(dash - space - 1), number, &seat) &&
		    (matches == 0 || seat != found)) {
			found = seat;
			matches++;
		}
	}
	if (matches > 1)
		usage_fail("'%s' names more than one seat in show %u's venue: give "
			   "SECTION:ROW-NUMBER or #SEAT_ID",
			   label, map->show_id);
	if (matches == 0)
		usage_fail("no seat '%s' in show %u's venue (or the row name is in several "
			   "sections: give SECTION:ROW-NUMBER)",
			   label, map->show_id);
	return found;
}

/* Every label of every --seats option, each a comma-separated list. */
static uint8_t seats_resolve(const struct box_seatmap *map, const struct opt_list *lists,
			     uint32_t *seats)
{
	uint8_t count = 0;
	for (int i = 0; i < lists->count; i++) {
		char copy[1024];
		snprintf(copy, sizeof(copy), "%s", lists->values[i]);
		for (char *save, *label = strtok_r(copy, ",", &save); label;
		     label = strtok_r(NULL, ",", &save)) {
			if (count == HOLD_SEATS_COUNT_MAX)
				usage_fail("at most %u seats in one hold", HOLD_SEATS_COUNT_MAX);
			uint32_t seat = seat_resolve(map, label);
			for (uint8_t j = 0; j < count; j++) {
				if (seats[j] == seat)
					usage_fail("--seats names seat %s twice", label);
			}
			seats[count++] = seat;
		}
	}
	if (count == 0)
		usage_fail("--seats names no seat: give a comma-separated list of seats");
	return count;
}

int run_hold(int argc, char **argv)
{
	struct opt_list seat_lists = { 0 };
	const char *positionals[1], *user = NULL, *tier = NULL, *count = NULL, *ttl = NULL;
	bool together = false;
	const struct opt opts[] = {
		{ "user", OPT_VALUE, &user },	{ "seats", OPT_LIST, &seat_lists },
		{ "tier", OPT_VALUE, &tier },	{ "count", OPT_VALUE, &count },
		{ "together", OPT_FLAG, &together }, { "ttl-ms", OPT_VALUE, &ttl },
		{ NULL, OPT_FLAG, NULL },
	};
	opts_parse(argc, argv, opts, positionals, 1, 1);
	uint32_t show_id = id_parse(positionals[0], "SHOW_ID");
	uint64_t user_id = user_parse(user);
	bool best = seat_lists.count == 0;
	if (best == (tier == NULL) || (!best && (count || together)))
		usage_fail("give either --seats LABEL,... or --tier TIER --count N [--together]");
	uint32_t ttl_ms = ttl ? (uint32_t)number_parse(ttl, "--ttl-ms", 1, HOLD_TTL_MS_MAX) : 0;
	enum tier best_tier = best ? tier_arg(tier) : TIER_ECONOMY;
	uint8_t best_count = best ? (uint8_t)number_parse(count ? count : "1", "--count", 1,
							  HOLD_SEATS_COUNT_MAX)
				  : 0;
	connect_server();
	struct show_context s;
	enum status status = show_context_load(&s, show_id);
	if (status != STATUS_OK)
		refused(status, "show %u", show_id);
	struct engine_result r;
	int rc;
	if (best) {
		rc = box_client_hold_best(ctl.client, show_id, user_id, ttl_ms, best_tier,
					  best_count, together, &r);
	} else {
		uint32_t seats[HOLD_SEATS_COUNT_MAX];
		uint8_t seats_count = seats_resolve(s.map, &seat_lists, seats);
		rc = box_client_hold_seats(ctl.client, show_id, user_id, ttl_ms, seats, seats_count,
					   &r);
	}
	char what[160] = "the hold was not made";
	if (rc == 0 && r.status == STATUS_LIMIT_EXCEEDED && s.have_show)
		snprintf(what, sizeof(what),
			 "the hold was not made: user %llu would pass the show's limit of %u "
			 "seats (held, booked and waiting together)",
			 (unsigned long long)user_id, s.show.user_seats_max);
	if (result_settle(rc, &r, &s, what)) {
		heading("hold %016llx: %u seat%s of show %u for user %llu",
			(unsigned long long)r.hold_id, r.seats_count, r.seats_count > 1 ? "s" : "",
			show_id, (unsigned long long)user_id);
		printf("  held until %s; confirm it before then\n", time_text(r.deadline_ms));
		seats_print(&s, r.seats, r.seats_count);
	}
	show_context_finish(&s);
	return 0;
}

int run_confirm(int argc, char **argv)
{
	const char *positionals[1], *user = NULL, *payment = NULL;
	const struct opt opts[] = { { "user", OPT_VALUE, &user },
				    { "payment-ref", OPT_VALUE, &payment },
				    { NULL, OPT_FLAG, NULL } };
	opts_parse(argc, argv, opts, positionals, 1, 1);
	uint64_t hold_id = hold_id_parse(positionals[0]);
	uint64_t user_id = user_parse(user);
	if (payment == NULL || payment[0] == '\0')
		usage_fail("--payment-ref REF (1..%u bytes) is required", PAYMENT_REF_SIZE_MAX);
	if (strlen(payment) > PAYMENT_REF_SIZE_MAX)
		usage_fail("--payment-ref is %zu bytes; at most %u", strlen(payment),
			   PAYMENT_REF_SIZE_MAX);
	for (const char *c = payment; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			usage_fail("--payment-ref must not contain control characters");
	}
	connect_server();
	struct show_context s;
	show_context_load(&s, hold_id_show(hold_id));
	struct engine_result r;
	int rc = box_client_confirm(ctl.client, hold_id, user_id, text_from_cstr(payment), &r);
	if (result_settle(rc, &r, &s, "the hold was not confirmed")) {
		heading("booking %016llx confirmed for user %llu (payment %s)%s",
			(unsigned long long)r.hold_id, (unsigned long long)user_id, payment,
			r.booking_cancelled ? ", since cancelled" : "");
		seats_print(&s, r.seats, r.seats_count);
	}
	show_context_finish(&s);
	return 0;
}

/* RELEASE and BOOKING_CANCEL: seats go back. */
static int run_give_back(int argc, char **argv, bool cancel)
{
	const char *positionals[1], *user = NULL;
	const struct opt opts[] = { { "user", OPT_VALUE, &user }, { NULL, OPT_FLAG, NULL } };
	opts_parse(argc, argv, cancel ? NULL : opts, positionals, 1, 1);
	uint64_t id = hold_id_parse(positionals[0]);
	uint64_t user_id = cancel ? 0 : user_parse(user);
	connect_server();
	struct show_context s;
	show_context_load(&s, hold_id_show(id));
	struct engine_result r;
	int rc = cancel ? box_client_cancel(ctl.client, id, &r)
			: box_client_release(ctl.client, id, user_id, &r);
	if (result_settle(rc, &r, &s, cancel ? "the booking was not cancelled"
					      : "the hold was not released")) {
		heading("%s %016llx %s; %u seat%s returned", cancel ? "booking" : "hold",
			(unsigned long long)id, cancel ? "cancelled" : "released", r.seats_count,
			r.seats_count == 1 ? "" : "s");
		seats_print(&s, r.seats, r.seats_count);
	}
	show_context_finish(&s);
	return 0;
}

int run_release(int argc, char **argv)
{
	return run_give_back(argc, argv, false);
}

int run_cancel(int argc, char **argv)
{
	return run_give_back(argc, argv, true);
}

/* "FIRST-LAST" or "N" seat ids, '#' allowed. */
static void seat_range_parse(const char *text, uint32_t *first, uint32_t *count)
{
	if (text[0] == '\0')
		usage_fail("--seats FIRST-LAST (seat ids) is empty");
	char copy[64];
	snprintf(copy, sizeof(copy), "%s", text);
	char *dash = strchr(copy + 1, '-');
	if (dash)
		*dash = '\0';
	const char *a = copy[0] == '#' ? copy + 1 : copy;
	const char *b = dash ? (dash[1] == '#' ? dash + 2 : dash + 1) : a;
	uint64_t low = number_parse(a, "the first seat id", 0, LAYOUT_SEATS_COUNT_MAX - 1);
	uint64_t high = number_parse(b, "the last seat id", low, LAYOUT_SEATS_COUNT_MAX - 1);
	*first = (uint32_t)low;
	*count = (uint32_t)(high - low + 1);
}

static int run_block_change(int argc, char **argv, bool blocked)
{
	const char *positionals[1], *range = NULL;
	const struct opt opts[] = { { "seats", OPT_VALUE, &range }, { NULL, OPT_FLAG, NULL } };
	opts_parse(argc, argv, opts, positionals, 1, 1);
	uint32_t show_id = id_parse(positionals[0], "SHOW_ID");
	if (range == NULL)
		usage_fail("--seats FIRST-LAST (seat ids) is required");
	uint32_t first, count;
	seat_range_parse(range, &first, &count);
	connect_server();
	struct show_context s;
	show_context_load(&s, show_id);
	if (s.map != NULL && (uint64_t)first + count > s.map->seats_count)
		usage_fail("show %u has %u seats (ids 0-%u): --seats %s goes past them", show_id,
			   s.map->seats_count, s.map->seats_count - 1, range);
	struct engine_result r;
	int rc = box_client_seats_block(ctl.client, show_id, first, count, blocked, &r);
	/* The result names only seats that were not available: JSON gives the range. */
	json_t *seats_range = json_pack("{s:I, s:I, s:I}", "show_id", (json_int_t)show_id,
					"first", (json_int_t)first, "count", (json_int_t)count);
	if (result_settle_seats(rc, &r, &s,
				blocked ? "the seats were not blocked" : "the seats were not unblocked",
				blocked ? "not free (held, booked or blocked)" : "not blocked",
				seats_range)) {
		char a[64], b[64];
		printf("%s %u seat%s of show %u: %s .. %s\n", blocked ? "blocked" : "unblocked",
		       count, count == 1 ? "" : "s", show_id, seat_label(&s, first, a, sizeof(a)),
		       seat_label(&s, first + count - 1, b, sizeof(b)));
	}
	show_context_finish(&s);
	return 0;
}

int run_block(int argc, char **argv)
{
	return run_block_change(argc, argv, true);
}

int run_unblock(int argc, char **argv)
{
	return run_block_change(argc, argv, false);
}

/* Waiting lists. */

static void waiter_print(const struct engine_result *r, const struct show_context *s,
			 uint64_t user_id)
{
	const char *tier = tier_name(r->tier);
	switch (r->waiter_state) {
	case WAITER_WAITING:
		printf("user %llu is waiting in the %s line of show %u (%u waiting in it)\n",
		       (unsigned long long)user_id, tier, s->show_id, r->waiters_count);
		return;
	case WAITER_OFFERED:
		heading("offer for user %llu: hold %016llx, until %s", (unsigned long long)user_id,
			(unsigned long long)r->hold_id, time_text(r->deadline_ms));
		seats_print(s, r->seats, r->seats_count);
		printf("  confirm it: boxctl confirm %016llx --user %llu --payment-ref REF\n",
		       (unsigned long long)r->hold_id, (unsigned long long)user_id);
		return;
	case WAITER_SOLD_OUT:
		printf("the %s line of show %u is sold out: no seat can come back\n", tier,
		       s->show_id);
		return;
	case WAITER_LAPSED:
		printf("user %llu's place in the %s line lapsed: it was not polled in time\n",
		       (unsigned long long)user_id, tier);
		return;
	}
	printf("user %llu is in no waiting line of show %u\n", (unsigned long long)user_id,
	       s->show_id);
}

int run_waitlist(int argc, char **argv)
{
	const char *positionals[2], *user = NULL, *tier = NULL, *count = NULL;
	bool together = false;
	const struct opt opts[] = {
		{ "user", OPT_VALUE, &user },	  { "tier", OPT_VALUE, &tier },
		{ "count", OPT_VALUE, &count },	  { "together", OPT_FLAG, &together },
		{ NULL, OPT_FLAG, NULL },
	};
	opts_parse(argc, argv, opts, positionals, 2, 2);
	const char *action = positionals[0];
	bool join = strcmp(action, "join") == 0;
	if (!join && strcmp(action, "leave") != 0 && strcmp(action, "poll") != 0)
		usage_fail("the action must be join, leave or poll, not '%s'", action);
	if (!join && (tier || count || together))
		usage_fail("--tier, --count and --together are for join");
	uint32_t show_id = id_parse(positionals[1], "SHOW_ID");
	uint64_t user_id = user_parse(user);
	enum tier join_tier = join ? tier_arg(tier) : TIER_ECONOMY;
	uint8_t join_count = join ? (uint8_t)number_parse(count ? count : "1", "--count", 1,
							  HOLD_SEATS_COUNT_MAX)
				  : 0;
	connect_server();
	struct show_context s;
	show_context_load(&s, show_id);
	struct engine_result r;
	int rc;
	if (join)
		rc = box_client_waitlist_join(ctl.client, show_id, user_id, join_tier, join_count,
					      together, &r);
	else if (action[0] == 'l')
		rc = box_client_waitlist_leave(ctl.client, show_id, user_id, &r);
	else
		rc = box_client_waitlist_poll(ctl.client, show_id, user_id, &r);
	char what[64];
	snprintf(what, sizeof(what), "the waiting list of show %u said no", show_id);
	if (result_settle(rc, &r, &s, what)) {
		if (action[0] == 'l')
			printf("user %llu left the waiting line of show %u\n",
			       (unsigned long long)user_id, show_id);
		else
			waiter_print(&r, &s, user_id);
	}
	show_context_finish(&s);
	return 0;
}

int run_wait(int argc, char **argv)
{
	const char *positionals[1], *user = NULL, *timeout = NULL;
	const struct opt opts[] = { { "user", OPT_VALUE, &user },
				    { "timeout-ms", OPT_VALUE, &timeout },
				    { NULL, OPT_FLAG, NULL } };
	/* --timeout-ms after the command is the WAIT's own, not the connection's. */
	opts_parse(argc, argv, opts, positionals, 1, 1);
	uint32_t show_id = id_parse(positionals[0], "SHOW_ID");
	uint64_t user_id = user_parse(user);
	uint32_t timeout_ms = timeout ? (uint32_t)number_parse(timeout, "--timeout-ms", 1,
							       PROTO_WAIT_TIMEOUT_MS_MAX)
				      : 0;
	connect_server();
	struct show_context s;
	show_context_load(&s, show_id);
	struct engine_result r;
	int rc = box_client_wait(ctl.client, show_id, user_id, timeout_ms, &r);
	if (result_settle(rc, &r, &s, "nothing to wait for"))
		waiter_print(&r, &s, user_id);
	show_context_finish(&s);
	return 0;
}
