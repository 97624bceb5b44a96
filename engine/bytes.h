/*
 * bytes.h — explicit little-endian encoding of integers into byte buffers.
 *
 * Every durable or wire format in boxoffice is written with these, never by copying
 * structs. A writer that runs out of room, or a reader that runs out of bytes, sets
 * its `failed` flag and from then on writes nothing and reads zeros, so a caller
 * can encode or decode a whole record and check once at the end.
 */
#ifndef BOXOFFICE_BYTES_H
#define BOXOFFICE_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Fixed-width little-endian loads and stores. On a little-endian machine they are
 * plain unaligned moves (memcpy); elsewhere the bytes are swapped.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BYTES_NATIVE_LE 1
#else
#define BYTES_NATIVE_LE 0
#endif

static inline void bytes_store_u16(uint8_t *p, uint16_t v)
{
	if (!BYTES_NATIVE_LE)
		v = __builtin_bswap16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void bytes_store_u32(uint8_t *p, uint32_t v)
{
	if (!BYTES_NATIVE_LE)
		v = __builtin_bswap32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void bytes_store_u64(uint8_t *p, uint64_t v)
{
	if (!BYTES_NATIVE_LE)
		v = __builtin_bswap64(v);
	memcpy(p, &v, sizeof(v));
}

static inline uint16_t bytes_load_u16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return BYTES_NATIVE_LE ? v : __builtin_bswap16(v);
}

static inline uint32_t bytes_load_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return BYTES_NATIVE_LE ? v : __builtin_bswap32(v);
}

static inline uint64_t bytes_load_u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return BYTES_NATIVE_LE ? v : __builtin_bswap64(v);
}

struct bytes_writer {
	uint8_t *bytes;
	size_t capacity;
	size_t size; /* bytes written so far, <= capacity */
	bool failed; /* something did not fit */
};

static inline void bytes_writer_init(struct bytes_writer *w, uint8_t *bytes, size_t capacity)
{
	*w = (struct bytes_writer){ .bytes = bytes, .capacity = capacity };
}

/* Returns where `size` bytes may be written, or NULL (and sets failed) if they do not fit. */
static inline uint8_t *bytes_reserve(struct bytes_writer *w, size_t size)
{
	if (w->failed || w->capacity - w->size < size) {
		w->failed = true;
		return NULL;
	}
	uint8_t *p = w->bytes + w->size;
	w->size += size;
	return p;
}

static inline void bytes_put_u8(struct bytes_writer *w, uint8_t v)
{
	uint8_t *p = bytes_reserve(w, 1);
	if (p)
		p[0] = v;
}

static inline void bytes_put_u16(struct bytes_writer *w, uint16_t v)
{
	uint8_t *p = bytes_reserve(w, 2);
	if (p)
		bytes_store_u16(p, v);
}

static inline void bytes_put_u32(struct bytes_writer *w, uint32_t v)
{
	uint8_t *p = bytes_reserve(w, 4);
	if (p)
		bytes_store_u32(p, v);
}

static inline void bytes_put_u64(struct bytes_writer *w, uint64_t v)
{
	uint8_t *p = bytes_reserve(w, 8);
	if (p)
		bytes_store_u64(p, v);
}

static inline void bytes_put_raw(struct bytes_writer *w, const void *src, size_t size)
{
	uint8_t *p = bytes_reserve(w, size);
	if (p && size > 0)
		memcpy(p, src, size);
}

struct bytes_reader {
	const uint8_t *bytes;
	size_t size;
	size_t offset; /* <= size */
	bool failed;   /* a read ran past the end */
};

static inline void bytes_reader_init(struct bytes_reader *r, const uint8_t *bytes, size_t size)
{
	*r = (struct bytes_reader){ .bytes = bytes, .size = size };
}

/* Returns the next `size` bytes, or NULL (and sets failed) if there are not that many. */
static inline const uint8_t *bytes_take(struct bytes_reader *r, size_t size)
{
	if (r->failed || r->size - r->offset < size) {
		r->failed = true;
		return NULL;
	}
	const uint8_t *p = r->bytes + r->offset;
	r->offset += size;
	return p;
}

static inline uint8_t bytes_get_u8(struct bytes_reader *r)
{
	const uint8_t *p = bytes_take(r, 1);
	return p ? p[0] : 0;
}

static inline uint16_t bytes_get_u16(struct bytes_reader *r)
{
	const uint8_t *p = bytes_take(r, 2);
	return p ? bytes_load_u16(p) : 0;
}

static inline uint32_t bytes_get_u32(struct bytes_reader *r)
{
	const uint8_t *p = bytes_take(r, 4);
	return p ? bytes_load_u32(p) : 0;
}

static inline uint64_t bytes_get_u64(struct bytes_reader *r)
{
	const uint8_t *p = bytes_take(r, 8);
	return p ? bytes_load_u64(p) : 0;
}

static inline bool bytes_reader_done(const struct bytes_reader *r)
{
	return !r->failed && r->offset == r->size;
}

#endif
