/*
 * boxdemo — loads the demo catalog into an engine and walks one customer session,
 * printed for a person to read: locations, the events at one, a show and its seat
 * map, a hold, a confirm, a contested seat, and a waiting-list offer after a hold
 * expires. Everything happens in memory (the engine alone, no server, no log).
 *
 * Usage: boxdemo [--seed N] [--no-color]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "demo.h"
#include "engine.h"
#include "seatmap.h"

#define MINUTE_MS 60000LL

static struct engine *engine;
static int64_t now_ms;
static bool color;

static void apply(const struct command *command, struct engine_result *result)
{
	engine_apply(engine, command, now_ms, result);
}

static void load(void *context, const struct command *command)
{
	struct engine_result result;
	apply(command, &result);
	if (result.status != STATUS_OK) {
		fprintf(stderr, "boxdemo: the demo catalog was refused: %s\n",
			status_name(result.status));
		exit(1);
	}
	(*(uint32_t *)context)++;
}

static const char *iso_time(int64_t ms, char *buffer, size_t size)
{
	time_t seconds = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&seconds, &tm);
	strftime(buffer, size, "%Y-%m-%d %H:%M UTC", &tm);
	return buffer;
}

static void heading(const char *text)
{
	printf("\n%s== %s ==%s\n", color ? "\033[1m" : "", text, color ? "\033[0m" : "");
}

static void seats_print(const struct layout *layout, const uint32_t *seats, uint8_t count)
{
	char label[64];
	for (uint8_t i = 0; i < count; i++)
		printf("%s%s", i ? ", " : "", seatmap_label(layout, seats[i], label, sizeof(label)));
}

static uint32_t list_locations(void)
{
	heading("Locations");
	struct engine_location locations[DEMO_LOCATIONS_COUNT];
	uint32_t count = engine_locations_list(engine, 0, locations, DEMO_LOCATIONS_COUNT);
	for (uint32_t i = 0; i < count; i++)
		printf("  %2u  %-12.*s %.2s  %3u events  (%.4f, %.4f)\n", locations[i].location_id,
		       (int)locations[i].name.size, locations[i].name.bytes, locations[i].country,
		       locations[i].events_count, locations[i].lat_e6 / 1e6,
		       locations[i].lon_e6 / 1e6);
	return locations[0].location_id;
}

/* Lists the events at a location; returns the first one that plays its small venue. */
static uint32_t list_events(uint32_t location_id)
{
	struct engine_location location;
	engine_location_get(engine, location_id, &location);
	char title[128];
	snprintf(title, sizeof(title), "Events in %.*s", (int)location.name.size,
		 location.name.bytes);
	heading(title);
	struct engine_event_info events[16];
	uint32_t count = engine_events_list(engine, location_id, 0, events, 16);
	uint32_t chosen = 0;
	for (uint32_t i = 0; i < count; i++) {
		printf("  %u  %-9s %-42.*s [", events[i].event_id,
		       event_type_name(events[i].type), (int)events[i].title.size,
		       events[i].title.bytes);
		for (uint8_t t = 0; t < events[i].tags_count; t++)
			printf("%s%.*s", t ? ", " : "", (int)events[i].tags[t].size,
			       events[i].tags[t].bytes);
		printf("]  %u shows\n", events[i].shows_count);
		uint32_t show_id;
		struct engine_show show;
		engine_event_shows(engine, events[i].event_id, 0, &show_id, 1);
		engine_show_get(engine, show_id, &show);
		if (chosen == 0 && show.venue_id % 2 == 1)
			chosen = events[i].event_id;
	}
	return chosen ? chosen : events[0].event_id;
}

static uint32_t show_event(uint32_t event_id)
{
	struct engine_event_info event;
	engine_event_get(engine, event_id, &event);
	heading("An event and its shows");
	printf("  %.*s (%s, %.*s, %u min)\n  %.*s\n", (int)event.title.size, event.title.bytes,
	       event_type_name(event.type), (int)event.language.size, event.language.bytes,
	       event.duration_min, (int)event.description.size, event.description.bytes);
	uint32_t show_ids[8];
	uint32_t count = engine_event_shows(engine, event_id, 0, show_ids, 8);
	for (uint32_t i = 0; i < count; i++) {
		struct engine_show show;
		struct engine_venue venue;
		char when[32];
		engine_show_get(engine, show_ids[i], &show);
		engine_venue_get(engine, show.venue_id, &venue);
		printf("  show %u  %s  %.*s, %.*s\n", show.show_id,
		       iso_time(show.start_ms, when, sizeof(when)), (int)venue.name.size,
		       venue.name.bytes, (int)venue.address.size, venue.address.bytes);
	}
	return show_ids[0];
}

static void show_details(uint32_t show_id, bool with_map)
{
	struct engine_show show;
	struct engine_venue venue;
	engine_show_get(engine, show_id, &show);
	engine_venue_get(engine, show.venue_id, &venue);
	printf("  show %u at %.*s: %u seats\n", show_id, (int)venue.name.size, venue.name.bytes,
	       venue.layout.seats_count);
	for (int t = TIER_COUNT - 1; t >= 0; t--)
		printf("    %-8s %6.2f %.3s  %4u available  %4u held  %4u booked  %u waiting\n",
		       tier_name(t), (double)show.prices_minor[t] / 100.0, show.currency,
		       show.tiers[t].available, show.tiers[t].held, show.tiers[t].booked,
		       show.tiers[t].waiters);
	if (!with_map)
		return;
	uint8_t *states = malloc(venue.layout.seats_count);
	engine_show_seat_states(engine, show_id, states, venue.layout.seats_count);
	seatmap_print(stdout, &venue.layout, states, color, 40, 8);
	free(states);
}

static struct command hold_best(uint32_t show_id, uint64_t user, uint8_t tier, uint8_t count,
				bool together)
{
	struct command c = { .type = COMMAND_HOLD };
	c.hold = (struct command_hold){ .show_id = show_id, .user_id = user, .best = true,
					.seats_count = count, .tier = tier, .together = together };
	return c;
}

static void say(const char *who, const char *what, const struct engine_result *result)
{
	printf("  %-6s %-44s -> %s\n", who, what, status_name(result->status));
}

/* Alice holds and pays; Bob wants the same seats. */
static void session_booking(uint32_t show_id, const struct layout *layout)
{
	heading("Alice books two VIP seats; Bob wants the same ones");
	struct engine_result result;
	struct command c = hold_best(show_id, 1, TIER_VIP, 2, true);
	apply(&c, &result);
	say("alice", "hold 2 best VIP seats together", &result);
	char when[32];
	printf("         seats ");
	seats_print(layout, result.seats, result.seats_count);
	printf(", hold %llx, held until %s\n", (unsigned long long)result.hold_id,
	       iso_time(result.deadline_ms, when, sizeof(when)));
	uint64_t hold_id = result.hold_id;
	c = (struct command){ .type = COMMAND_HOLD };
	c.hold = (struct command_hold){ .show_id = show_id, .user_id = 2, .seats_count = 2 };
	memcpy(c.hold.seats, result.seats, sizeof(uint32_t) * 2);
	apply(&c, &result);
	say("bob", "hold the same two seats", &result);
	printf("         unavailable: ");
	seats_print(layout, result.seats, result.seats_count);
	printf("\n");
	now_ms += 3 * MINUTE_MS;
	c = (struct command){ .type = COMMAND_CONFIRM };
	c.confirm = (struct command_confirm){ .hold_id = hold_id, .user_id = 1,
					      .payment_ref = text_from_cstr("pay-alice-0001") };
	apply(&c, &result);
	say("alice", "pays 3 minutes later and confirms", &result);
	apply(&c, &result);
	say("alice", "the gateway retries the same confirm", &result);
	printf("         booking %llx, same seats: ", (unsigned long long)result.hold_id);
	seats_print(layout, result.seats, result.seats_count);
	printf("\n");
}

/* Every other VIP seat gets held; Dave waits in line and gets seats when a hold lapses. */
static void session_waitlist(uint32_t show_id, const struct layout *layout)
{
	heading("VIP is all held; Dave waits in line");
	struct engine_result result;
	uint64_t user = 100;
	uint32_t holds = 0;
	for (;;) {
		struct command c = hold_best(show_id, user++, TIER_VIP, 2, false);
		apply(&c, &result);
		if (result.status != STATUS_OK)
			break;
		holds++;
	}
	printf("  %u other customers hold every remaining VIP seat\n", holds);
	struct command c = hold_best(show_id, 4, TIER_VIP, 2, true);
	apply(&c, &result);
	say("dave", "hold 2 VIP seats together", &result);
	c = (struct command){ .type = COMMAND_WAITLIST_JOIN };
	c.waitlist_join = (struct command_waitlist_join){ .show_id = show_id, .user_id = 4,
							  .tier = TIER_VIP, .seats_count = 2,
							  .together = true };
	apply(&c, &result);
	say("dave", "join the VIP waiting list for 2 together", &result);
	printf("         %s, %u in line\n", waiter_state_name(result.waiter_state),
	       result.waiters_count);
	/* Dave's client polls once a minute (a WAIT request does this over the network);
	 * a waiter who stops polling for two minutes loses his place. */
	c = (struct command){ .type = COMMAND_WAITLIST_POLL };
	c.waitlist_poll = (struct command_waitlist_user){ .show_id = show_id, .user_id = 4 };
	uint32_t expired = 0;
	for (int minute = 1; minute <= 15; minute++) {
		now_ms += MINUTE_MS;
		apply(&c, &result);
		uint32_t events_count;
		const struct engine_event *events = engine_events(engine, &events_count);
		for (uint32_t i = 0; i < events_count; i++) {
			if (events[i].type == ENGINE_EVENT_HOLD_EXPIRED) {
				expired++;
				continue;
			}
			printf("  minute %2d: event %s for user %llu: ", minute,
			       engine_event_type_name(events[i].type),
			       (unsigned long long)events[i].user_id);
			seats_print(layout, events[i].seats, events[i].seats_count);
			printf("\n");
		}
		if (result.waiter_state != WAITER_WAITING)
			break;
	}
	printf("  (%u unpaid holds expired at their deadline)\n", expired);
	say("dave", "his poll returns the offer", &result);
	printf("         %s: hold %llx, ", waiter_state_name(result.waiter_state),
	       (unsigned long long)result.hold_id);
	seats_print(layout, result.seats, result.seats_count);
	printf("\n");
	c = (struct command){ .type = COMMAND_CONFIRM };
	c.confirm = (struct command_confirm){ .hold_id = result.hold_id, .user_id = 4,
					      .payment_ref = text_from_cstr("pay-dave-0001") };
	apply(&c, &result);
	say("dave", "pays for the offered seats", &result);
}

static void search_demo(uint32_t location_id)
{
	struct engine_location location;
	engine_location_get(engine, location_id, &location);
	heading("Search: concerts within 50 km, next 60 days");
	struct search_query query;
	search_query_init(&query);
	query.near = true;
	query.lat_e6 = location.lat_e6;
	query.lon_e6 = location.lon_e6;
	query.radius_km = 50;
	query.from_ms = now_ms;
	query.to_ms = now_ms + 60 * 24 * 60 * MINUTE_MS;
	query.type = EVENT_TYPE_CONCERT;
	query.limit = 5;
	struct search_hit hits[5];
	uint32_t count;
	bool more;
	engine_search(engine, &query, hits, &count, &more);
	for (uint32_t i = 0; i < count; i++) {
		struct engine_event_info event;
		char when[32];
		engine_event_get(engine, hits[i].event_id, &event);
		printf("  %s  %-40.*s show %u, %.1f km away\n",
		       iso_time(hits[i].start_ms, when, sizeof(when)), (int)event.title.size,
		       event.title.bytes, hits[i].show_id, hits[i].distance_m / 1000.0);
	}
	if (count == 0)
		printf("  none\n");
	if (more)
		printf("  … more on the next page\n");
}

int main(int argc, char **argv)
{
	uint64_t seed = 1;
	color = isatty(STDOUT_FILENO);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--no-color") == 0) {
			color = false;
		} else {
			fprintf(stderr, "usage: boxdemo [--seed N] [--no-color]\n");
			return 2;
		}
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	struct engine_config config;
	engine_config_default(&config);
	engine = engine_create(&config);
	uint32_t commands = 0;
	demo_catalog_generate(seed, now_ms, load, &commands);
	struct engine_stats stats;
	engine_stats_get(engine, &stats);
	printf("boxoffice demo: %u catalog commands: %u locations, %u venues, %u events, "
	       "%u shows, %llu seats\n",
	       commands, stats.locations, stats.venues, stats.events, stats.shows,
	       (unsigned long long)stats.seats_owned);
	uint32_t location_id = list_locations();
	uint32_t event_id = list_events(location_id);
	uint32_t show_id = show_event(event_id);
	struct engine_show show;
	struct engine_venue venue;
	engine_show_get(engine, show_id, &show);
	engine_venue_get(engine, show.venue_id, &venue);
	heading("The show and its seat map");
	show_details(show_id, true);
	session_booking(show_id, &venue.layout);
	session_waitlist(show_id, &venue.layout);
	heading("The show at the end");
	show_details(show_id, true);
	search_demo(location_id);
	engine_check(engine);
	printf("\nstate digest %016llx; every invariant checked.\n",
	       (unsigned long long)engine_digest(engine));
	engine_destroy(engine);
	return 0;
}
