/*
 * catalog_json.c — the JSON catalog format (see catalog_json.h).
 *
 * The file is walked twice: a checking pass that emits nothing, then the emitting
 * pass, so that a mistake in the last show does not leave half a catalog loaded.
 * Texts in the commands borrow from the jansson tree; layouts from a builder that
 * lives for one venue.
 */
#include "catalog_json.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PATH_SIZE 160
#define ID_MAX 4294967295LL
#define MS_PER_DAY 86400000LL

struct loader {
	const char *name; /* the file, first in every message */
	json_t *root;
	catalog_emit_fn *emit; /* NULL in the checking pass */
	void *context;
	char *error;
	size_t error_size;
};

__attribute__((format(printf, 3, 4))) static int fail(struct loader *l, const char *path,
						      const char *format, ...)
{
	char message[256];
	va_list args;
	va_start(args, format);
	vsnprintf(message, sizeof(message), format, args);
	va_end(args);
	snprintf(l->error, l->error_size, "%s: %s%s%s", l->name, path, *path ? ": " : "",
		 message);
	return -EINVAL;
}

/* Names an item inside `path`: "venues[2]" + "sections", 0 → "venues[2].sections[0]". */
static void path_item(char *where, const char *path, const char *key, size_t index)
{
	int n = snprintf(where, PATH_SIZE, "%s%s%s[%zu]", path, *path ? "." : "", key, index);
	if (n < 0 || n >= PATH_SIZE)
		memcpy(where + PATH_SIZE - 4, "...", 4);
}

static int emit(struct loader *l, const struct command *command, const char *path)
{
	enum status status = command_validate(command);
	if (status != STATUS_OK)
		return fail(l, path, "%s (a field is out of range)", status_name(status));
	return l->emit ? l->emit(l->context, command, path) : 0;
}

/* Rejects members that the format does not define: a typo must not pass silently. */
static int keys_check(struct loader *l, json_t *object, const char *path,
		      const char *const *keys)
{
	const char *key;
	json_t *value;
	json_object_foreach(object, key, value) {
		size_t i = 0;
		while (keys[i] != NULL && strcmp(keys[i], key) != 0)
			i++;
		if (keys[i] == NULL)
			return fail(l, path, "unknown field \"%s\"", key);
	}
	return 0;
}

static int object_check(struct loader *l, json_t *object, const char *path,
			const char *const *keys)
{
	if (!json_is_object(object))
		return fail(l, path, "must be an object");
	return keys_check(l, object, path, keys);
}

/* An integer member in [min, max]; `fallback` when absent unless required. */
static int get_integer(struct loader *l, json_t *object, const char *path, const char *key,
		       long long min, long long max, bool required, long long fallback,
		       long long *value)
{
	json_t *member = json_object_get(object, key);
	if (member == NULL) {
		if (required)
			return fail(l, path, "\"%s\" is required", key);
		*value = fallback;
		return 0;
	}
	if (!json_is_integer(member))
		return fail(l, path, "\"%s\" must be an integer", key);
	*value = json_integer_value(member);
	if (*value < min || *value > max)
		return fail(l, path, "%s must be %lld..%lld", key, min, max);
	return 0;
}

static int get_id(struct loader *l, json_t *object, const char *path, const char *key,
		  uint32_t *id)
{
	long long value = 0;
	int rc = get_integer(l, object, path, key, 1, ID_MAX, true, 0, &value);
	*id = (uint32_t)value;
	return rc;
}

/* A string member of size_min..size_max bytes; "" when absent unless required. */
static int get_text(struct loader *l, json_t *object, const char *path, const char *key,
		    uint32_t size_min, uint32_t size_max, bool required, struct text *text)
{
	json_t *member = json_object_get(object, key);
	*text = text_from("", 0);
	if (member == NULL)
		return required ? fail(l, path, "\"%s\" is required", key) : 0;
	if (!json_is_string(member))
		return fail(l, path, "\"%s\" must be a string", key);
	size_t size = json_string_length(member);
	if (size < size_min || size > size_max)
		return fail(l, path, "%s must be %u..%u bytes long", key, size_min, size_max);
	*text = text_from(json_string_value(member), (uint32_t)size);
	/* As the server checks: a description may break lines and tab, nothing else may. */
	bool multiline = strcmp(key, "description") == 0;
	for (size_t i = 0; i < size; i++) {
		unsigned char c = (unsigned char)text->bytes[i];
		if ((c < 0x20 || c == 0x7f) && !(multiline && (c == '\n' || c == '\t')))
			return fail(l, path, "%s must not contain control characters%s", key,
				    multiline ? " (but for line breaks and tabs)" : "");
	}
	return 0;
}

/* Upper-case letters, exactly `size` of them (country and currency codes). */
static int get_code(struct loader *l, json_t *object, const char *path, const char *key,
		    uint32_t size, char *code)
{
	struct text text;
	int rc = get_text(l, object, path, key, 0, UINT16_MAX, true, &text);
	if (rc < 0)
		return rc;
	bool ok = text.size == size;
	for (uint32_t i = 0; ok && i < size; i++)
		ok = text.bytes[i] >= 'A' && text.bytes[i] <= 'Z';
	if (!ok)
		return fail(l, path, "%s must be %u upper-case letters", key, size);
	memcpy(code, text.bytes, size);
	return 0;
}

/* Degrees as a JSON number, kept as integer millionths. */
static int get_degrees(struct loader *l, json_t *object, const char *path, const char *key,
		       int32_t max_e6, int32_t *value_e6)
{
	json_t *member = json_object_get(object, key);
	if (member == NULL)
		return fail(l, path, "\"%s\" is required", key);
	if (!json_is_number(member))
		return fail(l, path, "\"%s\" must be a number of degrees", key);
	double e6 = round(json_number_value(member) * 1e6);
	if (!(e6 >= -(double)max_e6 && e6 <= (double)max_e6))
		return fail(l, path, "%s must be -%d..%d degrees", key, max_e6 / 1000000,
			    max_e6 / 1000000);
	*value_e6 = (int32_t)e6;
	return 0;
}

static int get_time(struct loader *l, json_t *object, const char *path, const char *key,
		    bool required, int64_t fallback, int64_t *ms)
{
	json_t *member = json_object_get(object, key);
	if (member == NULL) {
		*ms = fallback;
		return required ? fail(l, path, "\"%s\" is required", key) : 0;
	}
	if (!json_is_string(member) || !catalog_time_parse(json_string_value(member), ms))
		return fail(l, path, "%s must be an ISO 8601 time like \"2027-03-01T19:30:00Z\"",
			    key);
	if (*ms < 0 || *ms > TIME_MS_MAX)
		return fail(l, path, "%s must be from 1970 to 9999", key);
	return 0;
}

static int get_tier(struct loader *l, json_t *object, const char *path, uint8_t *tier)
{
	struct text name;
	int rc = get_text(l, object, path, "tier", 1, 16, true, &name);
	if (rc < 0)
		return rc;
	int value = tier_parse(name.bytes, name.size);
	if (value < 0)
		return fail(l, path, "tier must be economy, regular or vip, not \"%.*s\"",
			    (int)name.size, name.bytes);
	*tier = (uint8_t)value;
	return 0;
}

/* An optional array member; NULL (and 0) when absent. */
static int get_array(struct loader *l, json_t *object, const char *path, const char *key,
		     json_t **array)
{
	*array = json_object_get(object, key);
	if (*array != NULL && !json_is_array(*array))
		return fail(l, path, "\"%s\" must be an array", key);
	return 0;
}

/* Locations. */

static int location_read(struct loader *l, json_t *object, const char *path)
{
	static const char *const keys[] = { "id", "name", "country", "lat", "lon", NULL };
	struct command c = { .type = COMMAND_LOCATION_PUT };
	struct command_location_put *p = &c.location_put;
	int rc = object_check(l, object, path, keys);
	if (rc == 0)
		rc = get_id(l, object, path, "id", &p->location_id);
	if (rc == 0)
		rc = get_text(l, object, path, "name", 1, NAME_SIZE_MAX, true, &p->name);
	if (rc == 0)
		rc = get_code(l, object, path, "country", COUNTRY_SIZE, p->country);
	if (rc == 0)
		rc = get_degrees(l, object, path, "lat", LAT_E6_MAX, &p->lat_e6);
	if (rc == 0)
		rc = get_degrees(l, object, path, "lon", LON_E6_MAX, &p->lon_e6);
	return rc == 0 ? emit(l, &c, path) : rc;
}

/* Venues and their layouts. */

struct row_shape {
	uint16_t first_number;
	uint8_t runs_count;
	uint8_t run_tiers[LAYOUT_ROW_RUNS_COUNT_MAX];
	uint16_t run_seats_counts[LAYOUT_ROW_RUNS_COUNT_MAX];
	uint32_t seats_count;
};

static int runs_read(struct loader *l, json_t *runs, const char *path, struct row_shape *shape)
{
	static const char *const keys[] = { "tier", "seats", NULL };
	size_t count = json_array_size(runs);
	if (count < 1 || count > LAYOUT_ROW_RUNS_COUNT_MAX)
		return fail(l, path, "runs must have 1..%u entries", LAYOUT_ROW_RUNS_COUNT_MAX);
	for (size_t i = 0; i < count; i++) {
		char where[PATH_SIZE];
		long long seats = 0;
		path_item(where, path, "runs", i);
		json_t *run = json_array_get(runs, i);
		int rc = object_check(l, run, where, keys);
		if (rc == 0)
			rc = get_tier(l, run, where, &shape->run_tiers[i]);
		if (rc == 0)
			rc = get_integer(l, run, where, "seats", 1, LAYOUT_ROW_SEATS_COUNT_MAX,
					 true, 0, &seats);
		if (rc < 0)
			return rc;
		shape->run_seats_counts[i] = (uint16_t)seats;
		shape->seats_count += (uint32_t)seats;
	}
	shape->runs_count = (uint8_t)count;
	if (shape->seats_count > LAYOUT_ROW_SEATS_COUNT_MAX)
		return fail(l, path, "runs add up to %u seats, at most %u", shape->seats_count,
			    LAYOUT_ROW_SEATS_COUNT_MAX);
	return 0;
}

static int row_shape_read(struct loader *l, json_t *row, const char *path,
			  struct row_shape *shape)
{
	long long value = 0;
	*shape = (struct row_shape){ 0 };
	int rc = get_integer(l, row, path, "first", 1, UINT16_MAX, false, 1, &value);
	if (rc < 0)
		return rc;
	shape->first_number = (uint16_t)value;
	json_t *runs;
	if ((rc = get_array(l, row, path, "runs", &runs)) < 0)
		return rc;
	if (runs != NULL) {
		if (json_object_get(row, "seats") || json_object_get(row, "tier"))
			return fail(l, path, "give either runs or seats and tier, not both");
		rc = runs_read(l, runs, path, shape);
	} else {
		rc = get_integer(l, row, path, "seats", 1, LAYOUT_ROW_SEATS_COUNT_MAX, true, 0,
				 &value);
		if (rc == 0)
			rc = get_tier(l, row, path, &shape->run_tiers[0]);
		shape->runs_count = 1;
		shape->seats_count = (uint32_t)value;
		shape->run_seats_counts[0] = (uint16_t)value;
	}
	if (rc == 0 && shape->first_number + shape->seats_count - 1 > UINT16_MAX)
		return fail(l, path, "seat numbers must stay below 65536");
	return rc;
}

/* A section or row name: the builder takes C strings, so no NUL inside, and the
 * server takes no control characters. */
static bool label_ok(json_t *name)
{
	if (!json_is_string(name) || json_string_length(name) < 1 ||
	    json_string_length(name) > LABEL_SIZE_MAX)
		return false;
	const unsigned char *bytes = (const unsigned char *)json_string_value(name);
	for (size_t i = 0; i < json_string_length(name); i++) {
		if (bytes[i] < 0x20 || bytes[i] == 0x7f)
			return false;
	}
	return true;
}

/* A section (row_index UINT32_MAX) or a row, by name, for finding names used twice. */
struct layout_name {
	uint32_t section_index;
	uint32_t row_index;
	const char *name;
	uint8_t size;
};

static int layout_name_compare(const void *a, const void *b)
{
	const struct layout_name *x = a, *y = b;
	bool x_section = x->row_index == UINT32_MAX, y_section = y->row_index == UINT32_MAX;
	if (x_section != y_section)
		return x_section ? -1 : 1;
	if (!x_section && x->section_index != y->section_index)
		return x->section_index < y->section_index ? -1 : 1;
	int order = memcmp(x->name, y->name, x->size < y->size ? x->size : y->size);
	return order != 0 ? order : (int)x->size - (int)y->size;
}

/*
 * Section names must differ within the venue and row names within their section:
 * a seat is named by them (SECTION:ROW-NUMBER), and one named twice could not be held
 * by its label. Sorting finds doubles in n log n, for venues of thousands of rows.
 */
static int layout_names_check(struct loader *l, const char *path, const struct layout *layout)
{
	struct layout_name *names = calloc(layout->rows_count * 2u + 1, sizeof(*names));
	if (names == NULL)
		return fail(l, path, "out of memory");
	uint32_t count = 0;
	struct layout_reader reader;
	struct layout_row row;
	layout_reader_init(&reader, layout);
	while (layout_reader_next(&reader, &row)) {
		if (count == 0 || names[count - 1].section_index != row.section_index)
			names[count++] = (struct layout_name){ row.section_index, UINT32_MAX,
								row.section_name,
								row.section_name_size };
		names[count++] = (struct layout_name){ row.section_index, row.row_index,
							row.row_name, row.row_name_size };
	}
	qsort(names, count, sizeof(*names), layout_name_compare);
	int rc = 0;
	for (uint32_t i = 1; i < count && rc == 0; i++) {
		if (layout_name_compare(&names[i - 1], &names[i]) != 0)
			continue;
		bool section = names[i].row_index == UINT32_MAX;
		rc = fail(l, path, "%s name \"%.*s\" is used twice%s", section ? "section" : "row",
			  (int)names[i].size, names[i].name, section ? "" : " in one section");
	}
	free(names);
	return rc;
}

/* Adds one ROW (one or several rows alike) to the builder; counts rows and seats. */
static int row_read(struct loader *l, json_t *row, const char *path, struct layout_builder *b,
		    uint32_t *rows_count, uint32_t *seats_count)
{
	static const char *const keys[] = { "name", "names", "first", "seats", "tier", "runs",
					    NULL };
	struct row_shape shape;
	int rc = object_check(l, row, path, keys);
	if (rc == 0)
		rc = row_shape_read(l, row, path, &shape);
	if (rc < 0)
		return rc;
	json_t *names = json_object_get(row, "names");
	json_t *name = json_object_get(row, "name");
	if ((names == NULL) == (name == NULL))
		return fail(l, path, "give either \"name\" or \"names\"");
	if (names != NULL && (!json_is_array(names) || json_array_size(names) == 0))
		return fail(l, path, "\"names\" must be a non-empty array of row names");
	size_t count = names ? json_array_size(names) : 1;
	for (size_t i = 0; i < count; i++) {
		json_t *n = names ? json_array_get(names, i) : name;
		if (!label_ok(n))
			return fail(l, path, "row names must be strings of 1..%u bytes, without "
				    "control characters", LABEL_SIZE_MAX);
		layout_builder_row_runs(b, json_string_value(n), shape.first_number,
					shape.runs_count, shape.run_tiers,
					shape.run_seats_counts);
		*seats_count += shape.seats_count;
		if (++*rows_count > LAYOUT_ROWS_COUNT_MAX)
			return fail(l, path, "a venue has at most %u rows", LAYOUT_ROWS_COUNT_MAX);
	}
	return 0;
}

static int section_read(struct loader *l, json_t *section, const char *path,
			struct layout_builder *b, uint32_t *rows_count, uint32_t *seats_count)
{
	static const char *const keys[] = { "name", "rows", NULL };
	struct text name;
	json_t *rows = NULL;
	int rc = object_check(l, section, path, keys);
	if (rc == 0)
		rc = get_text(l, section, path, "name", 1, LABEL_SIZE_MAX, true, &name);
	if (rc == 0 && !label_ok(json_object_get(section, "name")))
		rc = fail(l, path, "name must not contain control characters");
	if (rc == 0)
		rc = get_array(l, section, path, "rows", &rows);
	if (rc < 0)
		return rc;
	if (rows == NULL || json_array_size(rows) == 0)
		return fail(l, path, "a section needs at least one row");
	/* The builder takes a C string; json strings are NUL-terminated. */
	layout_builder_section(b, name.bytes);
	for (size_t i = 0; i < json_array_size(rows); i++) {
		char where[PATH_SIZE];
		path_item(where, path, "rows", i);
		rc = row_read(l, json_array_get(rows, i), where, b, rows_count, seats_count);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int layout_read(struct loader *l, json_t *venue, const char *path,
		       struct layout_builder *b, struct layout *layout)
{
	json_t *sections;
	int rc = get_array(l, venue, path, "sections", &sections);
	if (rc < 0)
		return rc;
	size_t count = sections ? json_array_size(sections) : 0;
	if (count < 1 || count > LAYOUT_SECTIONS_COUNT_MAX)
		return fail(l, path, "sections must have 1..%u entries", LAYOUT_SECTIONS_COUNT_MAX);
	uint32_t rows_count = 0, seats_count = 0;
	for (size_t i = 0; i < count; i++) {
		char where[PATH_SIZE];
		path_item(where, path, "sections", i);
		rc = section_read(l, json_array_get(sections, i), where, b, &rows_count,
				  &seats_count);
		if (rc < 0)
			return rc;
	}
	if (seats_count > LAYOUT_SEATS_COUNT_MAX)
		return fail(l, path, "%u seats, a venue has at most %u", seats_count,
			    LAYOUT_SEATS_COUNT_MAX);
	if (layout_builder_layout(b, layout) != STATUS_OK)
		return fail(l, path, "the seat layout is not valid");
	return layout_names_check(l, path, layout);
}

static int venue_read(struct loader *l, json_t *object, const char *path)
{
	static const char *const keys[] = { "id", "location", "name", "address", "lat", "lon",
					    "sections", NULL };
	struct command c = { .type = COMMAND_VENUE_PUT };
	struct command_venue_put *p = &c.venue_put;
	struct layout_builder builder;
	layout_builder_init(&builder);
	int rc = object_check(l, object, path, keys);
	if (rc == 0)
		rc = get_id(l, object, path, "id", &p->venue_id);
	if (rc == 0)
		rc = get_id(l, object, path, "location", &p->location_id);
	if (rc == 0)
		rc = get_text(l, object, path, "name", 1, NAME_SIZE_MAX, true, &p->name);
	if (rc == 0)
		rc = get_text(l, object, path, "address", 0, ADDRESS_SIZE_MAX, false, &p->address);
	if (rc == 0)
		rc = get_degrees(l, object, path, "lat", LAT_E6_MAX, &p->lat_e6);
	if (rc == 0)
		rc = get_degrees(l, object, path, "lon", LON_E6_MAX, &p->lon_e6);
	if (rc == 0)
		rc = layout_read(l, object, path, &builder, &p->layout);
	if (rc == 0)
		rc = emit(l, &c, path);
	layout_builder_finish(&builder);
	return rc;
}

/* Events. */

static int tags_read(struct loader *l, json_t *object, const char *path,
		     struct command_event_put *p)
{
	json_t *tags;
	int rc = get_array(l, object, path, "tags", &tags);
	if (rc < 0 || tags == NULL)
		return rc;
	if (json_array_size(tags) > TAGS_COUNT_MAX)
		return fail(l, path, "at most %u tags", TAGS_COUNT_MAX);
	for (size_t i = 0; i < json_array_size(tags); i++) {
		json_t *tag = json_array_get(tags, i);
		if (!json_is_string(tag) || json_string_length(tag) < 1 ||
		    json_string_length(tag) > TAG_SIZE_MAX)
			return fail(l, path, "tags[%zu] must be a string of 1..%u bytes", i,
				    TAG_SIZE_MAX);
		p->tags[i] = text_from(json_string_value(tag), (uint32_t)json_string_length(tag));
	}
	p->tags_count = (uint8_t)json_array_size(tags);
	return 0;
}

static int event_read(struct loader *l, json_t *object, const char *path)
{
	static const char *const keys[] = { "id", "location", "title", "description", "type",
					    "language", "duration_min", "tags", NULL };
	struct command c = { .type = COMMAND_EVENT_PUT };
	struct command_event_put *p = &c.event_put;
	struct text type;
	long long duration = 0;
	int rc = object_check(l, object, path, keys);
	if (rc == 0)
		rc = get_id(l, object, path, "id", &p->event_id);
	if (rc == 0)
		rc = get_id(l, object, path, "location", &p->location_id);
	if (rc == 0)
		rc = get_text(l, object, path, "title", 1, TITLE_SIZE_MAX, true, &p->title);
	if (rc == 0)
		rc = get_text(l, object, path, "description", 0, DESCRIPTION_SIZE_MAX, false,
			      &p->description);
	if (rc == 0)
		rc = get_text(l, object, path, "type", 1, 32, true, &type);
	if (rc == 0 && event_type_parse(type.bytes, type.size) < 0)
		rc = fail(l, path, "type must be concert, sport, theatre, comedy, festival, "
				   "family, conference or other");
	if (rc == 0)
		rc = get_text(l, object, path, "language", 0, LANGUAGE_SIZE_MAX, false,
			      &p->language);
	if (rc == 0)
		rc = get_integer(l, object, path, "duration_min", 0, 10080, false, 0, &duration);
	if (rc == 0)
		rc = tags_read(l, object, path, p);
	if (rc < 0)
		return rc;
	p->type = (uint8_t)event_type_parse(type.bytes, type.size);
	p->duration_min = (uint32_t)duration;
	return emit(l, &c, path);
}

/* Shows. */

/* The duration of an event given in the same file, or 0. */
static int64_t event_duration_ms(struct loader *l, uint32_t event_id)
{
	json_t *events = json_object_get(l->root, "events");
	for (size_t i = 0; i < json_array_size(events); i++) {
		json_t *event = json_array_get(events, i);
		json_t *id = json_object_get(event, "id");
		json_t *duration = json_object_get(event, "duration_min");
		if (json_is_integer(id) && json_integer_value(id) == event_id &&
		    json_is_integer(duration))
			return json_integer_value(duration) * 60000;
	}
	return 0;
}

static int prices_read(struct loader *l, json_t *object, const char *path,
		       struct command_show_put *p)
{
	json_t *prices = json_object_get(object, "prices");
	if (prices == NULL)
		return fail(l, path, "\"prices\" is required");
	if (!json_is_object(prices))
		return fail(l, path, "prices must be an object like {\"vip\": 8000}");
	const char *key;
	json_t *value;
	json_object_foreach(prices, key, value) {
		int tier = tier_parse(key, strlen(key));
		if (tier < 0)
			return fail(l, path, "prices: unknown tier \"%s\"", key);
		if (!json_is_integer(value) || json_integer_value(value) < 0 ||
		    json_integer_value(value) > PRICE_MINOR_MAX)
			return fail(l, path, "prices.%s must be a whole number of minor units "
					     "(cents) from 0 to %lld", key, PRICE_MINOR_MAX);
		p->prices_minor[tier] = json_integer_value(value);
	}
	return 0;
}

static int show_times_read(struct loader *l, json_t *object, const char *path,
			   struct command_show_put *p)
{
	int rc = get_time(l, object, path, "start", true, 0, &p->start_ms);
	int64_t duration = rc == 0 ? event_duration_ms(l, p->event_id) : 0;
	if (rc == 0 && duration == 0 && json_object_get(object, "end") == NULL)
		return fail(l, path, "\"end\" is required (the event has no duration here)");
	if (rc == 0)
		rc = get_time(l, object, path, "end", false, p->start_ms + duration, &p->end_ms);
	if (rc == 0 && p->end_ms <= p->start_ms)
		return fail(l, path, "end must be after start");
	if (rc == 0 && p->end_ms > TIME_MS_MAX)
		return fail(l, path, "the show must end by 9999-12-31 (start plus the event's "
				     "duration)");
	if (rc == 0)
		rc = get_time(l, object, path, "sale_opens", false, 0, &p->sale_opens_ms);
	if (rc == 0)
		rc = get_time(l, object, path, "sale_closes", false, p->start_ms,
			      &p->sale_closes_ms);
	if (rc == 0 && p->sale_closes_ms <= p->sale_opens_ms)
		return fail(l, path, "sale_closes must be after sale_opens");
	return rc;
}

static int show_read(struct loader *l, json_t *object, const char *path)
{
	static const char *const keys[] = { "id", "event", "venue", "start", "end", "currency",
					    "prices", "max_seats_per_user", "sale_opens",
					    "sale_closes", "hold_ttl_ms", NULL };
	struct command c = { .type = COMMAND_SHOW_PUT };
	struct command_show_put *p = &c.show_put;
	long long seats_max = 0, ttl = 0;
	int rc = object_check(l, object, path, keys);
	if (rc == 0)
		rc = get_id(l, object, path, "id", &p->show_id);
	if (rc == 0)
		rc = get_id(l, object, path, "event", &p->event_id);
	if (rc == 0)
		rc = get_id(l, object, path, "venue", &p->venue_id);
	if (rc == 0)
		rc = show_times_read(l, object, path, p);
	if (rc == 0)
		rc = get_code(l, object, path, "currency", CURRENCY_SIZE, p->currency);
	if (rc == 0)
		rc = prices_read(l, object, path, p);
	if (rc == 0)
		rc = get_integer(l, object, path, "max_seats_per_user", 1,
				 USER_SEATS_COUNT_MAX_LIMIT, false, 0, &seats_max);
	if (rc == 0)
		rc = get_integer(l, object, path, "hold_ttl_ms", 1, HOLD_TTL_MS_MAX, false, 0, &ttl);
	if (rc < 0)
		return rc;
	p->user_seats_max = (uint8_t)seats_max;
	p->hold_ttl_ms = (uint32_t)ttl;
	return emit(l, &c, path);
}

/* The whole file. */

typedef int item_read_fn(struct loader *l, json_t *object, const char *path);

static int pass(struct loader *l)
{
	static const char *const keys[] = { "locations", "venues", "events", "shows", NULL };
	static item_read_fn *const readers[] = { location_read, venue_read, event_read,
						 show_read };
	int rc = object_check(l, l->root, "", keys);
	for (size_t k = 0; rc == 0 && k < ARRAY_COUNT(readers); k++) {
		json_t *items;
		rc = get_array(l, l->root, "", keys[k], &items);
		for (size_t i = 0; rc == 0 && i < json_array_size(items); i++) {
			char path[PATH_SIZE];
			path_item(path, "", keys[k], i);
			rc = readers[k](l, json_array_get(items, i), path);
		}
	}
	return rc;
}

static int catalog_run(struct loader *l, json_t *root, catalog_emit_fn *emit_fn, void *context)
{
	l->root = root;
	int rc = pass(l);
	if (rc == 0) {
		l->emit = emit_fn;
		l->context = context;
		rc = pass(l);
	}
	json_decref(root);
	return rc;
}

int catalog_json_parse(const char *name, const char *text, size_t size, catalog_emit_fn *emit_fn,
		       void *context, char *error, size_t error_size)
{
	struct loader l = { .name = name, .error = error, .error_size = error_size };
	json_error_t json_error;
	json_t *root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &json_error);
	if (root == NULL) {
		snprintf(error, error_size, "%s:%d:%d: %s", name, json_error.line,
			 json_error.column, json_error.text);
		return -EINVAL;
	}
	return catalog_run(&l, root, emit_fn, context);
}

int catalog_json_load(const char *path, catalog_emit_fn *emit_fn, void *context, char *error,
		      size_t error_size)
{
	struct loader l = { .name = path, .error = error, .error_size = error_size };
	FILE *file = fopen(path, "rb");
	if (file == NULL) {
		int rc = -errno;
		snprintf(error, error_size, "%s: %s", path, strerror(-rc));
		return rc;
	}
	struct stat st;
	if (fstat(fileno(file), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(file);
		snprintf(error, error_size, "%s is a directory, not a catalog file", path);
		return -EISDIR;
	}
	json_error_t json_error;
	json_t *root = json_loadf(file, JSON_REJECT_DUPLICATES, &json_error);
	fclose(file);
	if (root == NULL) {
		snprintf(error, error_size, "%s:%d:%d: %s", path, json_error.line,
			 json_error.column, json_error.text);
		return -EINVAL;
	}
	return catalog_run(&l, root, emit_fn, context);
}

/* Times and money. */

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool leap_year(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Reads exactly `count` digits. */
static bool digits_read(const char **p, int count, unsigned *value)
{
	*value = 0;
	for (int i = 0; i < count; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		*value = *value * 10 + (unsigned)((*p)[i] - '0');
	}
	*p += count;
	return true;
}

static bool date_read(const char **p, int64_t *days)
{
	static const unsigned month_days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, m, d;
	if (!digits_read(p, 4, &y) || *(*p)++ != '-' || !digits_read(p, 2, &m) ||
	    *(*p)++ != '-' || !digits_read(p, 2, &d))
		return false;
	if (m < 1 || m > 12 || d < 1 || d > month_days[m - 1] + (m == 2 && leap_year(y)))
		return false;
	*days = days_from_civil(y, m, d);
	return true;
}

/* "HH:MM[:SS[.fff]]" then "Z" or "+HH:MM"/"-HH:MM"; the offset is subtracted. */
static bool clock_read(const char **p, int64_t *ms)
{
	unsigned h, min, s = 0, frac = 0, oh, om;
	if (!digits_read(p, 2, &h) || *(*p)++ != ':' || !digits_read(p, 2, &min))
		return false;
	if (**p == ':' && (++*p, !digits_read(p, 2, &s)))
		return false;
	if (**p == '.') {
		++*p;
		unsigned scale = 100;
		if (**p < '0' || **p > '9')
			return false;
		for (; **p >= '0' && **p <= '9'; ++*p, scale /= 10)
			frac += scale * (unsigned)(**p - '0');
	}
	if (h > 23 || min > 59 || s > 59)
		return false;
	*ms = ((int64_t)h * 3600 + min * 60 + s) * 1000 + frac;
	if (**p == 'Z' || **p == 'z') {
		++*p;
		return true;
	}
	char sign = **p;
	if (sign != '+' && sign != '-')
		return false;
	++*p;
	if (!digits_read(p, 2, &oh) || *(*p)++ != ':' || !digits_read(p, 2, &om) || oh > 23 ||
	    om > 59)
		return false;
	int64_t offset = ((int64_t)oh * 60 + om) * 60000;
	*ms -= sign == '+' ? offset : -offset;
	return true;
}

bool catalog_time_parse(const char *text, int64_t *ms)
{
	const char *p = text;
	int64_t days, clock = 0;
	if (!date_read(&p, &days))
		return false;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!clock_read(&p, &clock))
			return false;
	}
	if (*p != '\0')
		return false;
	*ms = days * MS_PER_DAY + clock;
	return true;
}

char *catalog_time_format(int64_t ms, char *buffer, size_t size)
{
	/* Floor division without negating: ms may be INT64_MIN. */
	int64_t seconds = ms / 1000;
	int millis = (int)(ms % 1000);
	if (millis < 0) {
		millis += 1000;
		seconds--;
	}
	time_t t = (time_t)seconds;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
		snprintf(buffer, size, "%lld ms", (long long)ms);
		return buffer;
	}
	size_t n = strftime(buffer, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (millis != 0)
		snprintf(buffer + n, size - n, ".%03dZ", millis);
	else
		snprintf(buffer + n, size - n, "Z");
	return buffer;
}

/* ISO 4217 minor units where they are not 2. */
static int currency_exponent(const char currency[CURRENCY_SIZE])
{
	static const char zero[][4] = { "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW",
					"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF" };
	static const char three[][4] = { "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND" };
	for (size_t i = 0; i < ARRAY_COUNT(zero); i++) {
		if (memcmp(currency, zero[i], CURRENCY_SIZE) == 0)
			return 0;
	}
	for (size_t i = 0; i < ARRAY_COUNT(three); i++) {
		if (memcmp(currency, three[i], CURRENCY_SIZE) == 0)
			return 3;
	}
	return 2;
}

char *catalog_money_format(int64_t minor, const char currency[CURRENCY_SIZE], char *buffer,
			   size_t size)
{
	int exponent = currency_exponent(currency);
	const char *sign = minor < 0 ? "-" : "";
	uint64_t magnitude = minor < 0 ? 0 - (uint64_t)minor : (uint64_t)minor;
	uint64_t unit = exponent == 0 ? 1 : exponent == 2 ? 100 : 1000;
	if (exponent == 0)
		snprintf(buffer, size, "%s%llu %.3s", sign, (unsigned long long)magnitude, currency);
	else
		snprintf(buffer, size, "%s%llu.%0*llu %.3s", sign,
			 (unsigned long long)(magnitude / unit), exponent,
			 (unsigned long long)(magnitude % unit), currency);
	return buffer;
}
