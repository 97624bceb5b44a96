/*
 * layout.c — parsing, reading and building encoded seat layouts (see layout.h).
 */
#include "layout.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "memory.h"

static bool label_valid(const uint8_t *name, uint8_t size)
{
	if (size == 0 || size > LABEL_SIZE_MAX)
		return false;
	for (uint8_t i = 0; i < size; i++) {
		if (name[i] < 0x20 || name[i] == 0x7f)
			return false;
	}
	return true;
}

/* Reads one row at the reader's position; false when it is malformed. */
static bool row_parse(struct bytes_reader *r, struct layout_row *row)
{
	row->row_name_size = bytes_get_u8(r);
	const uint8_t *name = bytes_take(r, row->row_name_size);
	row->row_name = (const char *)name;
	row->first_number = bytes_get_u16(r);
	row->seats_count = bytes_get_u16(r);
	row->runs_count = bytes_get_u8(r);
	if (r->failed || !label_valid(name, row->row_name_size))
		return false;
	if (row->first_number == 0 || row->seats_count == 0 ||
	    row->seats_count > LAYOUT_ROW_SEATS_COUNT_MAX ||
	    (uint32_t)row->first_number + row->seats_count - 1 > UINT16_MAX)
		return false;
	if (row->runs_count == 0 || row->runs_count > LAYOUT_ROW_RUNS_COUNT_MAX)
		return false;
	uint32_t covered = 0;
	for (uint8_t i = 0; i < row->runs_count; i++) {
		row->run_tiers[i] = bytes_get_u8(r);
		row->run_seats_counts[i] = bytes_get_u16(r);
		if (row->run_tiers[i] >= TIER_COUNT || row->run_seats_counts[i] == 0)
			return false;
		covered += row->run_seats_counts[i];
	}
	return !r->failed && covered == row->seats_count;
}

enum status layout_parse(const uint8_t *bytes, uint32_t size, struct layout *layout)
{
	memset(layout, 0, sizeof(*layout));
	struct layout parsed = { .bytes = bytes, .size = size };
	struct bytes_reader r;
	bytes_reader_init(&r, bytes, size);
	parsed.sections_count = bytes_get_u8(&r);
	if (parsed.sections_count == 0)
		return STATUS_BAD_REQUEST;
	for (uint32_t s = 0; s < parsed.sections_count; s++) {
		uint8_t name_size = bytes_get_u8(&r);
		const uint8_t *name = bytes_take(&r, name_size);
		uint16_t rows_count = bytes_get_u16(&r);
		if (r.failed || !label_valid(name, name_size) || rows_count == 0)
			return STATUS_BAD_REQUEST;
		for (uint32_t i = 0; i < rows_count; i++) {
			struct layout_row row;
			if (!row_parse(&r, &row))
				return STATUS_BAD_REQUEST;
			parsed.rows_count++;
			parsed.seats_count += row.seats_count;
			for (uint8_t k = 0; k < row.runs_count; k++)
				parsed.tier_seats_count[row.run_tiers[k]] += row.run_seats_counts[k];
			if (parsed.rows_count > LAYOUT_ROWS_COUNT_MAX ||
			    parsed.seats_count > LAYOUT_SEATS_COUNT_MAX)
				return STATUS_BAD_REQUEST;
		}
	}
	if (!bytes_reader_done(&r))
		return STATUS_BAD_REQUEST;
	*layout = parsed;
	return STATUS_OK;
}

void layout_reader_init(struct layout_reader *reader, const struct layout *layout)
{
	ASSERT(layout->sections_count > 0);
	*reader = (struct layout_reader){ .layout = layout, .offset = 1 };
	reader->section_index = UINT32_MAX; /* the first row opens section 0 */
}

bool layout_reader_next(struct layout_reader *reader, struct layout_row *row)
{
	const struct layout *layout = reader->layout;
	struct bytes_reader r;
	bytes_reader_init(&r, layout->bytes, layout->size);
	r.offset = reader->offset;
	if (reader->section_rows_left == 0) {
		if (reader->section_index + 1 >= layout->sections_count)
			return false;
		reader->section_index++;
		reader->section_name_size = bytes_get_u8(&r);
		reader->section_name = (const char *)bytes_take(&r, reader->section_name_size);
		reader->section_rows_left = bytes_get_u16(&r);
	}
	bool ok = row_parse(&r, row);
	ASSERT(ok); /* the layout was parsed before it was read */
	row->section_index = reader->section_index;
	row->section_name = reader->section_name;
	row->section_name_size = reader->section_name_size;
	row->row_index = reader->row_index++;
	row->seat_first = reader->seat_next;
	reader->seat_next += row->seats_count;
	reader->section_rows_left--;
	reader->offset = (uint32_t)r.offset;
	return true;
}

bool layout_seat_row(const struct layout *layout, uint32_t seat, struct layout_row *row)
{
	struct layout_reader reader;
	layout_reader_init(&reader, layout);
	while (layout_reader_next(&reader, row)) {
		if (seat < row->seat_first + row->seats_count)
			return true;
	}
	return false;
}

static bool label_equal(const char *label, uint8_t label_size, const char *name, size_t size)
{
	return label_size == size && memcmp(label, name, size) == 0;
}

struct label_range {
	const char *section;
	const char *row;
	uint8_t section_size;
	uint8_t row_size;
	uint16_t first_number;
	uint32_t end_number; /* past the row's last seat */
};

static int names_compare(const char *a, uint8_t a_size, const char *b, uint8_t b_size)
{
	if (a_size != b_size)
		return a_size < b_size ? -1 : 1;
	return memcmp(a, b, a_size);
}

/* Orders by section name, row name, then first seat number. */
static int label_range_compare(const void *left, const void *right)
{
	const struct label_range *a = left, *b = right;
	int order = names_compare(a->section, a->section_size, b->section, b->section_size);
	if (order == 0)
		order = names_compare(a->row, a->row_size, b->row, b->row_size);
	if (order == 0 && a->first_number != b->first_number)
		order = a->first_number < b->first_number ? -1 : 1;
	return order;
}

bool layout_labels_unique(const struct layout *layout)
{
	/* Aborts when memory runs out (memory.h), rather than call the venue bad. */
	struct label_range *ranges = memory_alloc(sizeof(*ranges) * layout->rows_count);
	struct layout_reader reader;
	struct layout_row row;
	uint32_t count = 0;
	layout_reader_init(&reader, layout);
	while (layout_reader_next(&reader, &row)) /* rows_count rows, a parsed layout's */
		ranges[count++] = (struct label_range){
			.section = row.section_name, .section_size = row.section_name_size,
			.row = row.row_name, .row_size = row.row_name_size,
			.first_number = row.first_number,
			.end_number = (uint32_t)row.first_number + row.seats_count };
	qsort(ranges, count, sizeof(*ranges), label_range_compare);
	bool unique = true;
	for (uint32_t i = 1; i < count && unique; i++) {
		const struct label_range *a = &ranges[i - 1], *b = &ranges[i];
		bool same_row = label_equal(a->section, a->section_size, b->section,
					    b->section_size) &&
				label_equal(a->row, a->row_size, b->row, b->row_size);
		/* Sorted by first number: b overlaps an earlier range of its row iff it
		 * starts before the furthest end so far, which a carries forward. */
		if (same_row && b->first_number < a->end_number)
			unique = false;
		else if (same_row && a->end_number > b->end_number)
			ranges[i].end_number = a->end_number;
	}
	memory_free(ranges);
	return unique;
}

bool layout_seat_find(const struct layout *layout, const char *section, size_t section_size,
		      const char *row_name, size_t row_size, uint32_t number, uint32_t *seat)
{
	struct layout_reader reader;
	struct layout_row row;
	uint32_t matches = 0;
	layout_reader_init(&reader, layout);
	while (layout_reader_next(&reader, &row)) {
		if (section_size > 0 &&
		    !label_equal(row.section_name, row.section_name_size, section, section_size))
			continue;
		if (!label_equal(row.row_name, row.row_name_size, row_name, row_size))
			continue;
		if (number < row.first_number || number >= (uint32_t)row.first_number + row.seats_count)
			continue;
		*seat = row.seat_first + (number - row.first_number);
		matches++;
	}
	return matches == 1;
}

void layout_builder_init(struct layout_builder *builder)
{
	*builder = (struct layout_builder){ 0 };
}

void layout_builder_finish(struct layout_builder *builder)
{
	if (builder == NULL)
		return;
	free(builder->bytes);
	*builder = (struct layout_builder){ 0 };
}

static uint8_t *builder_grow(struct layout_builder *builder, uint32_t size)
{
	if (builder->failed)
		return NULL;
	if (builder->capacity - builder->size < size) {
		uint32_t capacity = builder->capacity ? builder->capacity : 256;
		while (capacity - builder->size < size)
			capacity *= 2;
		uint8_t *bytes = realloc(builder->bytes, capacity);
		if (bytes == NULL) {
			builder->failed = true;
			return NULL;
		}
		builder->bytes = bytes;
		builder->capacity = capacity;
	}
	uint8_t *p = builder->bytes + builder->size;
	builder->size += size;
	return p;
}

static void builder_label(struct layout_builder *builder, const char *name)
{
	size_t size = strlen(name);
	if (size == 0 || size > LABEL_SIZE_MAX) {
		builder->failed = true;
		return;
	}
	uint8_t *p = builder_grow(builder, (uint32_t)(1 + size));
	if (p) {
		p[0] = (uint8_t)size;
		memcpy(p + 1, name, size);
	}
}

void layout_builder_section(struct layout_builder *builder, const char *name)
{
	if (builder->size == 0 && builder_grow(builder, 1) != NULL)
		builder->bytes[0] = 0;
	if (builder->sections_count == LAYOUT_SECTIONS_COUNT_MAX)
		builder->failed = true;
	builder_label(builder, name);
	uint8_t *p = builder_grow(builder, 2);
	if (p == NULL)
		return;
	bytes_store_u16(p, 0);
	builder->section_rows_offset = (uint32_t)(p - builder->bytes);
	builder->section_rows_count = 0;
	builder->sections_count++;
	builder->bytes[0] = (uint8_t)builder->sections_count;
}

void layout_builder_row(struct layout_builder *builder, const char *name,
			uint16_t first_number, uint16_t seats_count, enum tier tier)
{
	uint8_t run_tier = (uint8_t)tier;
	layout_builder_row_runs(builder, name, first_number, 1, &run_tier, &seats_count);
}

void layout_builder_row_runs(struct layout_builder *builder, const char *name,
			     uint16_t first_number, uint8_t runs_count,
			     const uint8_t *run_tiers, const uint16_t *run_seats_counts)
{
	if (builder->sections_count == 0 || builder->section_rows_count == UINT16_MAX ||
	    runs_count == 0 || runs_count > LAYOUT_ROW_RUNS_COUNT_MAX) {
		builder->failed = true;
		return;
	}
	uint32_t seats_count = 0;
	for (uint8_t i = 0; i < runs_count; i++)
		seats_count += run_seats_counts[i];
	if (seats_count > UINT16_MAX) {
		builder->failed = true;
		return;
	}
	builder_label(builder, name);
	uint8_t *p = builder_grow(builder, 5u + 3u * runs_count);
	if (p == NULL)
		return;
	bytes_store_u16(p, first_number);
	bytes_store_u16(p + 2, (uint16_t)seats_count);
	p[4] = runs_count;
	for (uint8_t i = 0; i < runs_count; i++) {
		p[5 + 3 * i] = run_tiers[i];
		bytes_store_u16(p + 6 + 3 * i, run_seats_counts[i]);
	}
	builder->section_rows_count++;
	bytes_store_u16(builder->bytes + builder->section_rows_offset,
			(uint16_t)builder->section_rows_count);
}

enum status layout_builder_layout(struct layout_builder *builder, struct layout *layout)
{
	if (builder->failed || builder->size == 0) {
		memset(layout, 0, sizeof(*layout));
		return STATUS_BAD_REQUEST;
	}
	return layout_parse(builder->bytes, builder->size, layout);
}
