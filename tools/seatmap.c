/*
 * seatmap.c — terminal seat maps (see seatmap.h).
 */
#include "seatmap.h"

#include <string.h>

static const char state_chars[] = { '.', 'h', 'B', 'x' };

/* ANSI colours: available seats in their tier's colour, the rest dimmed. */
static const char *const tier_colors[TIER_COUNT] = { "\033[32m", "\033[36m", "\033[35m" };
#define COLOR_DIM "\033[2m"
#define COLOR_RESET "\033[0m"

static uint8_t seat_tier(const struct layout_row *row, uint32_t offset)
{
	for (uint8_t r = 0; r < row->runs_count; r++) {
		if (offset < row->run_seats_counts[r])
			return row->run_tiers[r];
		offset -= row->run_seats_counts[r];
	}
	return TIER_ECONOMY;
}

static void row_print(FILE *out, const struct layout_row *row, const uint8_t *states, bool color,
		      unsigned width)
{
	fprintf(out, "  %-12.*s %-4.*s ", (int)row->section_name_size, row->section_name,
		(int)row->row_name_size, row->row_name);
	unsigned shown = row->seats_count < width ? row->seats_count : width;
	for (unsigned i = 0; i < shown; i++) {
		uint8_t state = states[row->seat_first + i] & 3;
		if (color)
			fputs(state == SEAT_AVAILABLE ? tier_colors[seat_tier(row, i)] : COLOR_DIM,
			      out);
		fputc(state_chars[state], out);
		if (color)
			fputs(COLOR_RESET, out);
	}
	if (shown < row->seats_count)
		fprintf(out, "… (+%u)", row->seats_count - shown);
	fputc('\n', out);
}

/* One line for a section too many to draw: its seats by state. */
static void section_summary(FILE *out, const struct layout_row *first, uint32_t seat_end,
			    const uint8_t *states)
{
	unsigned counts[4] = { 0 };
	for (uint32_t seat = first->seat_first; seat < seat_end; seat++)
		counts[states[seat] & 3]++;
	fprintf(out, "  %-12.*s (%u available, %u held, %u booked, %u blocked)\n",
		(int)first->section_name_size, first->section_name, counts[0], counts[1],
		counts[2], counts[3]);
}

void seatmap_print(FILE *out, const struct layout *layout, const uint8_t *states, bool color,
		   unsigned width, unsigned sections_max)
{
	struct layout_reader reader;
	struct layout_row row, section_first = { 0 };
	uint32_t section = UINT32_MAX;
	layout_reader_init(&reader, layout);
	while (layout_reader_next(&reader, &row)) {
		if (row.section_index != section) {
			if (section != UINT32_MAX && section >= sections_max)
				section_summary(out, &section_first, row.seat_first, states);
			section = row.section_index;
			section_first = row;
		}
		if (section < sections_max)
			row_print(out, &row, states, color, width);
	}
	if (section != UINT32_MAX && section >= sections_max)
		section_summary(out, &section_first, layout->seats_count, states);
	fputs("  legend: ", out);
	if (color) {
		for (int t = TIER_COUNT - 1; t >= 0; t--)
			fprintf(out, "%s.%s %s  ", tier_colors[t], COLOR_RESET, tier_name(t));
	} else {
		fputs(". available  ", out);
	}
	fputs("h held  B booked  x blocked\n", out);
}

char *seatmap_label(const struct layout *layout, uint32_t seat, char *buffer, size_t size)
{
	struct layout_row row;
	if (!layout_seat_row(layout, seat, &row)) {
		snprintf(buffer, size, "seat %u", seat);
		return buffer;
	}
	snprintf(buffer, size, "%.*s %.*s-%u", (int)row.section_name_size, row.section_name,
		 (int)row.row_name_size, row.row_name,
		 row.first_number + (seat - row.seat_first));
	return buffer;
}
