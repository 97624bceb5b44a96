/*
 * layout.h — a venue's seat layout: sections → rows → seats, each seat with a tier.
 *
 * The layout is kept in its encoded form (the same bytes travel in the venue
 * command, the log and the protocol) and read with a cursor. Seat ids are indices
 * in layout order: every seat of the first row of the first section, then the next
 * row, and so on. Layout order is also preference order: sections and rows are
 * listed from the best (closest to the stage) to the worst, and best-available
 * picks earlier seats first.
 *
 * Encoding, little-endian:
 *   u8  sections_count                      1..LAYOUT_SECTIONS_COUNT_MAX
 *   per section:
 *     u8 name_size, name bytes              1..LABEL_SIZE_MAX
 *     u16 rows_count                        1..
 *     per row:
 *       u8 name_size, name bytes            1..LABEL_SIZE_MAX
 *       u16 first_number                    1..; numbers run up by one along the row
 *       u16 seats_count                     1..LAYOUT_ROW_SEATS_COUNT_MAX
 *       u8  runs_count                      1..LAYOUT_ROW_RUNS_COUNT_MAX
 *       per run: u8 tier, u16 seats_count   the runs cover the row, in seat order
 * Rows in a venue: 1..LAYOUT_ROWS_COUNT_MAX; seats: 1..LAYOUT_SEATS_COUNT_MAX.
 * Adjacent seats of one run are side by side; two runs of a row are not adjacent
 * for "together" purposes unless they have the same tier and touch.
 */
#ifndef BOXOFFICE_LAYOUT_H
#define BOXOFFICE_LAYOUT_H

#include "base.h"

struct layout {
	const uint8_t *bytes; /* borrowed; encoded as above */
	uint32_t size;
	uint32_t sections_count;
	uint32_t rows_count;
	uint32_t seats_count;
	uint32_t tier_seats_count[TIER_COUNT];
};

/*
 * Validates bytes[0..size) and fills *layout (borrowing bytes). Returns STATUS_OK or
 * STATUS_BAD_REQUEST; *layout is zeroed on failure.
 */
enum status layout_parse(const uint8_t *bytes, uint32_t size, struct layout *layout);

struct layout_row {
	uint32_t section_index;
	const char *section_name;
	uint8_t section_name_size;
	uint32_t row_index; /* within the venue */
	const char *row_name;
	uint8_t row_name_size;
	uint32_t seat_first; /* seat id of the row's first seat */
	uint16_t first_number;
	uint16_t seats_count;
	uint8_t runs_count;
	uint8_t run_tiers[LAYOUT_ROW_RUNS_COUNT_MAX];
	uint16_t run_seats_counts[LAYOUT_ROW_RUNS_COUNT_MAX];
};

/*
 * Whether every seat of a parsed layout has its own label, SECTION ROW-NUMBER: a
 * section name may come back later in the layout (preference order can interleave
 * sections), and a row name may repeat within a section, but never with seat
 * numbers that overlap. Checked where venues come in from the network, not in
 * layout_parse(): venues logged before the rule must still replay.
 */
bool layout_labels_unique(const struct layout *layout);

/* Walks the rows of a parsed (valid) layout in layout order. */
struct layout_reader {
	const struct layout *layout;
	uint32_t offset;
	uint32_t section_index;
	uint32_t section_rows_left;
	const char *section_name;
	uint8_t section_name_size;
	uint32_t row_index;
	uint32_t seat_next;
};

void layout_reader_init(struct layout_reader *reader, const struct layout *layout);
/* Fills *row with the next row; returns false after the last one. */
bool layout_reader_next(struct layout_reader *reader, struct layout_row *row);

/*
 * Finds the row holding seat id `seat` of a parsed layout (a walk over the rows).
 * Returns false when the seat is past the last one. The seat's number in its row
 * is row->first_number + (seat - row->seat_first).
 */
bool layout_seat_row(const struct layout *layout, uint32_t seat, struct layout_row *row);

/*
 * Finds the seat id of a seat by its labels: the row name and seat number, and the
 * section name unless section_size is 0 (then the row name must be unique in the
 * layout). Returns false when there is no such seat, or several match.
 */
bool layout_seat_find(const struct layout *layout, const char *section, size_t section_size,
		      const char *row, size_t row_size, uint32_t number, uint32_t *seat);

/*
 * Builds an encoded layout in memory that the builder owns. Mistakes (a row before
 * any section, a name too long, more than the limits) make layout_builder_layout()
 * fail rather than asserting, so generated catalogs can be checked like any input.
 */
struct layout_builder {
	uint8_t *bytes;
	uint32_t size;
	uint32_t capacity;
	uint32_t sections_count;
	uint32_t section_rows_offset; /* where the current section's rows_count lives */
	uint32_t section_rows_count;
	bool failed;
};

void layout_builder_init(struct layout_builder *builder);
void layout_builder_finish(struct layout_builder *builder); /* accepts NULL */
void layout_builder_section(struct layout_builder *builder, const char *name);
/* A row of `seats_count` seats numbered from `first_number`, all of one tier. */
void layout_builder_row(struct layout_builder *builder, const char *name,
			uint16_t first_number, uint16_t seats_count, enum tier tier);
/* A row made of runs of tiers, in seat order. */
void layout_builder_row_runs(struct layout_builder *builder, const char *name,
			     uint16_t first_number, uint8_t runs_count,
			     const uint8_t *run_tiers, const uint16_t *run_seats_counts);
/*
 * Parses what was built into *layout (borrowing the builder's bytes). Returns
 * STATUS_OK or STATUS_BAD_REQUEST.
 */
enum status layout_builder_layout(struct layout_builder *builder, struct layout *layout);

#endif
