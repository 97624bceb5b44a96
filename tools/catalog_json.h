/*
 * catalog_json.h — the catalog import format: one JSON file with locations, venues
 * (with their seat layouts), events and shows, read with jansson and turned into
 * the engine's put commands. tools/catalog.example.json is a complete example (its
 * ids, 501.., 5001.., 50001.., 500001.., stay clear of the demo catalog's, so both
 * can be loaded); `boxctl catalog load FILE` sends a catalog to a server.
 *
 *   {
 *     "locations": [ LOCATION, ... ],
 *     "venues":    [ VENUE, ... ],
 *     "events":    [ EVENT, ... ],
 *     "shows":     [ SHOW, ... ]
 *   }
 *
 * Every member is optional; the commands are emitted in that order (all locations,
 * then venues, events and shows), which applies cleanly to an empty engine. Fields
 * not listed here are errors, so that a misspelt optional field is not silently
 * ignored.
 *
 *   LOCATION  "id" 1..4294967295, "name" (1-128 bytes), "country" ("PT": ISO 3166
 *             alpha-2, upper case), "lat" and "lon" in degrees (numbers; kept to
 *             millionths).
 *   VENUE     "id", "location" (a location id), "name" (1-128), "address" (0-256,
 *             default ""), "lat", "lon", "sections": [ SECTION, ... ] (1-255). The
 *             order of sections and rows is preference order: best first.
 *   SECTION   "name" (1-16 bytes), "rows": [ ROW, ... ] (at least one).
 *   ROW       "name" (1-16 bytes), or "names": [ ... ] for several rows alike;
 *             "first": the first seat number (default 1); then either "seats"
 *             (1-1024) and "tier" ("economy", "regular" or "vip"), or "runs":
 *             [ { "tier": "regular", "seats": 10 }, ... ] (1-8 runs, in seat order,
 *             at most 1024 seats) for a row whose tier changes along it.
 *             A venue has at most 8,192 rows and 200,000 seats.
 *   EVENT     "id", "location", "title" (1-256), "description" (0-2048, default ""),
 *             "type" (concert, sport, theatre, comedy, festival, family, conference,
 *             other), "language" (0-16, e.g. "pt"), "duration_min" (0-10080,
 *             default 0), "tags": [ "fado", ... ] (0-16, each 1-32 bytes).
 *   SHOW      "id", "event", "venue", "start" and "end" (ISO 8601 times, see below;
 *             "end" defaults to start + the event's duration when the event is in
 *             the same file), "currency" ("EUR": ISO 4217, upper case), "prices":
 *             { "vip": 8000, "regular": 4500, "economy": 2500 } (integer minor units
 *             of the currency, so 8000 EUR cents = 80.00 EUR; a missing tier costs
 *             0), "max_seats_per_user" (1-100, default 10), "sale_opens" (default: the
 *             epoch, so on sale at once), "sale_closes" (default: the start),
 *             "hold_ttl_ms" (1-3600000, default: the server's).
 *
 * Times are ISO 8601 in UTC or with an offset: "2027-03-01T19:30:00Z",
 * "2027-03-01T19:30Z", "2027-03-01T20:30:00+01:00", "2027-03-01T19:30:00.250Z", or a
 * date alone ("2027-03-01", midnight UTC).
 *
 * Errors name the file, the place and the rule:
 * "catalog.json: venues[2].sections[0].rows[3]: seats must be 1..1024".
 */
#ifndef BOXOFFICE_TOOLS_CATALOG_JSON_H
#define BOXOFFICE_TOOLS_CATALOG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"

/*
 * Receives one command, valid only during the call; `where` names its place in the
 * file ("venues[2]"). Returns 0 to go on; anything else stops the load and is
 * returned by it.
 */
typedef int catalog_emit_fn(void *context, const struct command *command, const char *where);

/*
 * Reads the catalog in `path`, checks all of it, and only then emits its commands
 * (so a bad file emits nothing). Returns 0; -EINVAL for a catalog that is not valid
 * JSON or breaks a rule above, with the message in error[0..error_size); another
 * negative errno when the file cannot be read; or the first non-zero emit result.
 */
int catalog_json_load(const char *path, catalog_emit_fn *emit, void *context, char *error,
		      size_t error_size);
/* The same for a text in memory; `name` starts every message. */
int catalog_json_parse(const char *name, const char *text, size_t size, catalog_emit_fn *emit,
		       void *context, char *error, size_t error_size);

/* Parses an ISO 8601 time as above into milliseconds since the epoch. */
bool catalog_time_parse(const char *text, int64_t *ms);
/* Writes "2027-03-01T19:30:00Z" (".250" before the Z when there are milliseconds). */
char *catalog_time_format(int64_t ms, char *buffer, size_t size);

/* Writes an amount of minor units as "80.00 EUR" (JPY has no minor unit: "6000 JPY"). */
char *catalog_money_format(int64_t minor, const char currency[CURRENCY_SIZE], char *buffer,
			   size_t size);

#endif
