/*
 * demo.h — the demo catalog: a realistic, deterministic catalog to try the engine
 * with, load into the server, and benchmark against.
 *
 * 20 locations in real cities with their real coordinates; two venues each, a small
 * one (a 496-seat theatre or a 2,000-seat concert hall) and a large one (a
 * 15,000-seat arena or a 60,000-seat stadium), every one with economy, regular and
 * VIP seats; 200 events of seven types with tags and languages; 1,000 shows over the
 * 120 days after `start_ms`, each on sale from `start_ms` until it starts.
 *
 * Ids: locations 1-20, venues 101-140, events 1001-1200, shows 10001-11000.
 * The same seed and start_ms give the same commands, byte for byte.
 */
#ifndef BOXOFFICE_DEMO_H
#define BOXOFFICE_DEMO_H

#include "command.h"

#define DEMO_LOCATIONS_COUNT 20u
#define DEMO_EVENTS_COUNT 200u
#define DEMO_SHOWS_COUNT 1000u
#define DEMO_SHOW_ID_FIRST 10001u

typedef void demo_emit_fn(void *context, const struct command *command);

/*
 * Calls emit once per command, in an order that applies cleanly to an empty engine
 * (locations, venues, events, shows). The command and what it points to are valid
 * only during the call.
 */
void demo_catalog_generate(uint64_t seed, int64_t start_ms, demo_emit_fn *emit, void *context);

#endif
