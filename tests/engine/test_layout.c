/*
 * test_layout.c — seat layouts: parsing, reading in layout order, building, and
 * refusing malformed layouts.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"

static struct layout_builder b;

static void setup(void)
{
	layout_builder_init(&b);
}

static void teardown(void)
{
	layout_builder_finish(&b);
}

TestSuite(layout, .init = setup, .fini = teardown);

Test(layout, reader_walks_rows_in_layout_order_with_seat_ids)
{
	layout_builder_section(&b, "Stalls");
	layout_builder_row(&b, "A", 1, 10, TIER_VIP);
	uint8_t tiers[] = { TIER_REGULAR, TIER_VIP, TIER_REGULAR };
	uint16_t counts[] = { 2, 3, 2 };
	layout_builder_row_runs(&b, "B", 5, 3, tiers, counts);
	layout_builder_section(&b, "Balcony");
	layout_builder_row(&b, "1", 1, 4, TIER_ECONOMY);
	struct layout layout;
	cr_assert_eq(layout_builder_layout(&b, &layout), STATUS_OK);
	cr_assert_eq(layout.sections_count, 2);
	cr_assert_eq(layout.rows_count, 3);
	cr_assert_eq(layout.seats_count, 21);
	cr_assert_eq(layout.tier_seats_count[TIER_VIP], 13);
	cr_assert_eq(layout.tier_seats_count[TIER_REGULAR], 4);
	cr_assert_eq(layout.tier_seats_count[TIER_ECONOMY], 4);
	struct layout_reader reader;
	struct layout_row row;
	layout_reader_init(&reader, &layout);
	cr_assert(layout_reader_next(&reader, &row));
	cr_assert_eq(row.seat_first, 0);
	cr_assert_eq(row.section_index, 0);
	cr_assert(layout_reader_next(&reader, &row));
	cr_assert_eq(row.seat_first, 10);
	cr_assert_eq(row.first_number, 5);
	cr_assert_eq(row.runs_count, 3);
	cr_assert_eq(row.run_tiers[1], TIER_VIP);
	cr_assert_eq(row.row_index, 1);
	cr_assert(layout_reader_next(&reader, &row));
	cr_assert_eq(row.seat_first, 17);
	cr_assert_eq(row.section_index, 1);
	cr_assert_eq(memcmp(row.section_name, "Balcony", 7), 0);
	cr_assert_not(layout_reader_next(&reader, &row));
}

Test(layout, builder_mistakes_make_the_layout_invalid)
{
	struct layout layout;
	layout_builder_row(&b, "A", 1, 10, TIER_VIP); /* before any section */
	cr_assert_eq(layout_builder_layout(&b, &layout), STATUS_BAD_REQUEST);
	layout_builder_finish(&b);
	layout_builder_init(&b);
	cr_assert_eq(layout_builder_layout(&b, &layout), STATUS_BAD_REQUEST); /* empty */
	layout_builder_section(&b, "A name that is far too long");
	layout_builder_row(&b, "A", 1, 10, TIER_VIP);
	cr_assert_eq(layout_builder_layout(&b, &layout), STATUS_BAD_REQUEST);
}

static enum status parse(const uint8_t *bytes, uint32_t size)
{
	struct layout layout;
	return layout_parse(bytes, size, &layout);
}

Test(layout, malformed_bytes_are_refused)
{
	/* 1 section "S", 1 row "A" numbered from 1, 3 seats, 1 run of 3 VIP. */
	uint8_t good[] = { 1, 1, 'S', 1, 0, 1, 'A', 1, 0, 3, 0, 1, TIER_VIP, 3, 0 };
	cr_assert_eq(parse(good, sizeof(good)), STATUS_OK);
	for (uint32_t cut = 0; cut < sizeof(good); cut++)
		cr_assert_eq(parse(good, cut), STATUS_BAD_REQUEST, "cut at %u", cut);
	uint8_t bad[sizeof(good)];
	memcpy(bad, good, sizeof(good));
	bad[13] = 2; /* runs cover 2 of 3 seats */
	cr_assert_eq(parse(bad, sizeof(bad)), STATUS_BAD_REQUEST);
	memcpy(bad, good, sizeof(good));
	bad[12] = TIER_COUNT;
	cr_assert_eq(parse(bad, sizeof(bad)), STATUS_BAD_REQUEST);
	memcpy(bad, good, sizeof(good));
	bad[7] = 0; /* first number 0 */
	cr_assert_eq(parse(bad, sizeof(bad)), STATUS_BAD_REQUEST);
	memcpy(bad, good, sizeof(good));
	bad[0] = 0; /* no sections */
	cr_assert_eq(parse(bad, sizeof(bad)), STATUS_BAD_REQUEST);
	memcpy(bad, good, sizeof(good));
	bad[6] = 0x07; /* a control character in a row name */
	cr_assert_eq(parse(bad, sizeof(bad)), STATUS_BAD_REQUEST);
	memcpy(bad, good, sizeof(good));
	bad[7] = 0xff, bad[8] = 0xff; /* numbers would pass 65535 */
	cr_assert_eq(parse(bad, sizeof(bad)), STATUS_BAD_REQUEST);
}

Test(layout, seat_limits_are_enforced)
{
	/* 200 rows of 1,001 seats is above LAYOUT_SEATS_COUNT_MAX. */
	layout_builder_section(&b, "Huge");
	for (int r = 0; r < 200; r++)
		layout_builder_row(&b, "R", 1, 1001, TIER_ECONOMY);
	struct layout layout;
	cr_assert_eq(layout_builder_layout(&b, &layout), STATUS_BAD_REQUEST);
	layout_builder_finish(&b);
	layout_builder_init(&b);
	layout_builder_section(&b, "Wide");
	layout_builder_row(&b, "R", 1, LAYOUT_ROW_SEATS_COUNT_MAX + 1, TIER_ECONOMY);
	cr_assert_eq(layout_builder_layout(&b, &layout), STATUS_BAD_REQUEST);
}

/* Builds the layout of the rows given as "SECTION/ROW/FIRST/COUNT" and checks labels. */
static bool labels_unique(const char *const *rows, uint32_t count)
{
	layout_builder_finish(&b);
	layout_builder_init(&b);
	char previous[64] = "";
	for (uint32_t i = 0; i < count; i++) {
		char copy[64], *save;
		snprintf(copy, sizeof(copy), "%s", rows[i]);
		const char *section = strtok_r(copy, "/", &save);
		const char *row = strtok_r(NULL, "/", &save);
		uint16_t first = (uint16_t)atoi(strtok_r(NULL, "/", &save));
		uint16_t seats = (uint16_t)atoi(strtok_r(NULL, "/", &save));
		if (strcmp(section, previous) != 0) /* a section starts where the name changes */
			layout_builder_section(&b, section);
		snprintf(previous, sizeof(previous), "%s", section);
		layout_builder_row(&b, row, first, seats, TIER_REGULAR);
	}
	struct layout layout;
	cr_assert_eq(layout_builder_layout(&b, &layout), STATUS_OK);
	return layout_labels_unique(&layout);
}

Test(layout, every_seat_label_must_be_unique)
{
	/* Distinct rows, and the same row name in two sections. */
	cr_assert(labels_unique((const char *[]){ "Stalls/A/1/10", "Stalls/B/1/10",
						  "Circle/A/1/10" }, 3));
	/* A section listed again later (preference order interleaves it), other rows. */
	cr_assert(labels_unique((const char *[]){ "Stalls/A/1/10", "Circle/A/1/10",
						  "Stalls/B/1/10" }, 3));
	/* A row split in two with numbers that follow on. */
	cr_assert(labels_unique((const char *[]){ "Stalls/A/1/10", "Stalls/A/11/10" }, 2));
	/* The same row twice: every seat label twice. */
	cr_assert_not(labels_unique((const char *[]){ "Stalls/A/1/10", "Stalls/A/1/10" }, 2));
	/* Overlapping by one seat, the later range listed first. */
	cr_assert_not(labels_unique((const char *[]){ "Stalls/A/10/5", "Stalls/A/1/10" }, 2));
	/* Through a section listed again, and past a range in between. */
	cr_assert_not(labels_unique((const char *[]){ "Stalls/A/1/30", "Circle/A/1/10",
						      "Stalls/A/31/5", "Stalls/A/20/2" }, 4));
}
