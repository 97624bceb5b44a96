/*
 * bitmap.h — bit arrays in 64-bit words, with range scans.
 *
 * Seat state lives in these (one bit per seat per state). Ranges are half-open,
 * [from, end); scans return `end` when nothing is found.
 */
#ifndef BOXOFFICE_BITMAP_H
#define BOXOFFICE_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

static inline uint32_t bitmap_words(uint32_t bits)
{
	return (bits + 63) / 64;
}

static inline bool bitmap_test(const uint64_t *words, uint32_t bit)
{
	return (words[bit / 64] >> (bit % 64)) & 1;
}

static inline void bitmap_set(uint64_t *words, uint32_t bit)
{
	words[bit / 64] |= UINT64_C(1) << (bit % 64);
}

static inline void bitmap_clear(uint64_t *words, uint32_t bit)
{
	words[bit / 64] &= ~(UINT64_C(1) << (bit % 64));
}

/* The first set bit in [from, end), or end. */
uint32_t bitmap_next_set(const uint64_t *words, uint32_t from, uint32_t end);
/* The first clear bit in [from, end), or end. */
uint32_t bitmap_next_clear(const uint64_t *words, uint32_t from, uint32_t end);
/* Set bits in [from, end). */
uint32_t bitmap_count(const uint64_t *words, uint32_t from, uint32_t end);
void bitmap_set_range(uint64_t *words, uint32_t from, uint32_t end);
void bitmap_clear_range(uint64_t *words, uint32_t from, uint32_t end);
/* Moves the set bits of source in [from, end) into target, clearing them in source. */
void bitmap_transfer_range(uint64_t *target, uint64_t *source, uint32_t from, uint32_t end);

#endif
