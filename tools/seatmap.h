/*
 * seatmap.h — draws a show's seat map in a terminal: one line per row, grouped by
 * section, one character per seat, with a legend. Shared by boxdemo and boxctl.
 */
#ifndef BOXOFFICE_SEATMAP_H
#define BOXOFFICE_SEATMAP_H

#include <stdbool.h>
#include <stdio.h>

#include "layout.h"

/*
 * Prints every row of `layout` with the public state (enum seat_state) of each seat
 * from states[seat id]. With colour, tiers and states are coloured (ANSI). Rows
 * longer than `width` characters are cut with "…" so that a stadium stays legible;
 * sections beyond `sections_max` are summarised on one line each.
 */
void seatmap_print(FILE *out, const struct layout *layout, const uint8_t *states, bool color,
		   unsigned width, unsigned sections_max);

/* Writes "Section Row-Number" for a seat id into buffer; returns buffer. */
char *seatmap_label(const struct layout *layout, uint32_t seat, char *buffer, size_t size);

#endif
