/*
 * bitmap.c — word-at-a-time range operations on bit arrays (see bitmap.h).
 */
#include "bitmap.h"

#include "base.h"

/* Bits [from % 64, 64) of a word, or fewer when the range ends inside the word. */
static uint64_t range_mask(uint32_t from, uint32_t end, uint32_t word)
{
	uint64_t mask = ~UINT64_C(0);
	if (from / 64 == word)
		mask &= ~UINT64_C(0) << (from % 64);
	if (end / 64 == word)
		mask &= (UINT64_C(1) << (end % 64)) - 1;
	return mask;
}

static uint32_t next_bit(const uint64_t *words, uint32_t from, uint32_t end, uint64_t flip)
{
	ASSERT(from <= end);
	if (from == end)
		return end;
	uint32_t last = (end - 1) / 64;
	for (uint32_t w = from / 64; w <= last; w++) {
		uint64_t bits = (words[w] ^ flip) & range_mask(from, end, w);
		if (bits != 0)
			return w * 64 + (uint32_t)__builtin_ctzll(bits);
	}
	return end;
}

uint32_t bitmap_next_set(const uint64_t *words, uint32_t from, uint32_t end)
{
	return next_bit(words, from, end, 0);
}

uint32_t bitmap_next_clear(const uint64_t *words, uint32_t from, uint32_t end)
{
	return next_bit(words, from, end, ~UINT64_C(0));
}

uint32_t bitmap_count(const uint64_t *words, uint32_t from, uint32_t end)
{
	ASSERT(from <= end);
	if (from == end)
		return 0;
	uint32_t count = 0;
	uint32_t last = (end - 1) / 64;
	for (uint32_t w = from / 64; w <= last; w++)
		count += (uint32_t)__builtin_popcountll(words[w] & range_mask(from, end, w));
	return count;
}

void bitmap_set_range(uint64_t *words, uint32_t from, uint32_t end)
{
	ASSERT(from <= end);
	if (from == end)
		return;
	for (uint32_t w = from / 64; w <= (end - 1) / 64; w++)
		words[w] |= range_mask(from, end, w);
}

void bitmap_clear_range(uint64_t *words, uint32_t from, uint32_t end)
{
	ASSERT(from <= end);
	if (from == end)
		return;
	for (uint32_t w = from / 64; w <= (end - 1) / 64; w++)
		words[w] &= ~range_mask(from, end, w);
}

void bitmap_transfer_range(uint64_t *target, uint64_t *source, uint32_t from, uint32_t end)
{
	ASSERT(from <= end);
	if (from == end)
		return;
	for (uint32_t w = from / 64; w <= (end - 1) / 64; w++) {
		uint64_t moving = source[w] & range_mask(from, end, w);
		target[w] |= moving;
		source[w] &= ~moving;
	}
}
