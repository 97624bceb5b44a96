/*
 * writer.c — group commit (see writer.h and FORMAT.md).
 *
 * Appended records wait in chunks: a chunk is bytes bound for one place in one
 * segment. The chunks form a short queue: the head is being flushed (or is next),
 * the tail is filling; a rotation to a new segment seals the tail and starts a new
 * one. A flush (a write into the page cache, then an fdatasync; or one direct
 * write with RWF_DSYNC) writes the head's next chunk. With direct writes and
 * config.flushes above 1, up to that many chunks may be in flight at once, each on
 * pages of its own (FORMAT.md, "Flushes in flight"): the disk serves concurrent
 * writes in about the time of one, so a request need not wait for the flush before
 * its own to finish first. Chunks complete in any order; the durable LSN moves over
 * the completed ones at the head. Segments such a writer begins are version 2
 * (their flushes may leave a page's end zero); with one flush at a time, version 1,
 * byte for byte what earlier versions wrote.
 *
 * Tokens: bits 48-55 say what a request was, bits 0-47 carry a detail (for a
 * flush, its chunk's slot in bits 32-39 and a direct write's size in bits 0-31);
 * the top byte is left for whoever multiplexes completions (the server).
 */
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "base.h"
#include "bytes.h"
#include "files.h"
#include "record.h"

/* Room for the flushes in flight, the filling tail and a chunk sealed by rotation. */
#define CHUNKS_MAX (WAL_FLUSHES_MAX + 4u)
#define ZERO_CHUNK_SIZE (1u << 20)
/* A retired chunk keeps a buffer up to this size for its slot's next use; a larger one
 * (left by a burst) is freed, so that idle slots do not hold on to a burst's memory. */
#define CHUNK_KEEP_MAX (1u << 20)

enum token_kind {
	TOKEN_FLUSH_SYNC = 2,
	TOKEN_SPARE_WRITE = 3,
	TOKEN_SPARE_SYNC = 4,
	TOKEN_DIR_SYNC = 5,
};

#define TOKEN_KIND_SHIFT 48
#define TOKEN_DETAIL_MASK ((UINT64_C(1) << TOKEN_KIND_SHIFT) - 1)
#define TOKEN_SLOT_SHIFT 32

static uint64_t token(enum token_kind kind)
{
	return (uint64_t)kind << TOKEN_KIND_SHIFT;
}

/*
 * A chunk starts on a page boundary: bytes[0, prefix) are what the file already
 * holds between that boundary and the chunk's first new byte (the end of the page
 * the previous flush left part-filled), and a flush pads the chunk with zeros to the
 * next boundary. So every flush overwrites whole pages: the kernel never has to read
 * a page from disk to merge a part-page write into it (spare segments are zeroed
 * with direct I/O and are not in the page cache), and what it rewrites is what the
 * file already holds there, so a torn write of it loses nothing that was synced.
 * Whole pages from page-aligned memory are also what a direct write needs.
 *
 * A chunk flushed while the chunk before it is still in flight must not rewrite
 * that chunk's last page (two writes of one block in flight land in either order):
 * it is moved to the next page boundary first, and the rest of that page stays
 * zero in the file (chunk_page_own).
 */
enum chunk_state { CHUNK_FILLING, CHUNK_FLUSHING, CHUNK_DONE };

struct chunk {
	uint8_t *bytes;
	uint32_t size;	   /* prefix included */
	uint32_t prefix;
	uint32_t capacity;
	int fd;
	uint64_t offset;	     /* where bytes[0] goes in the file: a page boundary */
	uint64_t first_lsn; /* of its first record, which opens its flush; 0: none yet */
	uint64_t last_lsn;  /* of its last record; 0 when it holds none */
	bool direct;	    /* fd is open for direct I/O: flushed with one durable write */
	bool overlap;	    /* may be flushed beside others: direct, in a version-2 segment */
	uint64_t segment_size; /* of fd's segment */
	enum chunk_state state;
};

enum spare_state { SPARE_NONE, SPARE_PREPARING, SPARE_READY };

struct wal_writer {
	struct wal_writer_config config;
	struct wal_io *io;
	struct {
		int fd;
		uint64_t sequence;
		uint64_t end;  /* offset after the last appended byte */
		uint64_t size; /* its own: a log reopened under a new setting keeps the old */
		bool direct;
		bool overlap; /* its chunks may be flushed beside others (struct chunk) */
	} current;
	struct {
		int fd;
		uint64_t sequence;
		enum spare_state state;
		uint64_t zeroed; /* bytes of zeros written so far */
		bool in_flight;	 /* a preparation request is outstanding */
		bool direct;	 /* opened for direct I/O */
	} spare;
	struct chunk chunks[CHUNKS_MAX]; /* a ring: head .. head + count - 1 */
	uint32_t chunk_head;
	uint32_t chunk_count;
	uint32_t submitted; /* chunks at the head whose flush was submitted */
	uint32_t flushing;  /* of those, how many are still in flight */
	uint64_t next_lsn;
	uint64_t durable_lsn;
	uint64_t pending_bytes;
	int error;
};

/* Aligned for direct I/O. */
static _Alignas(WAL_PAGE_BYTES) const uint8_t zero_chunk[ZERO_CHUNK_SIZE];

static struct chunk *chunk_at(struct wal_writer *w, uint32_t i)
{
	ASSERT(i < w->chunk_count);
	return &w->chunks[(w->chunk_head + i) % CHUNKS_MAX];
}

static struct chunk *chunk_tail(struct wal_writer *w)
{
	return chunk_at(w, w->chunk_count - 1);
}

static bool chunk_reserve(struct chunk *c, uint32_t size);

static bool chunk_empty(const struct chunk *c)
{
	return c->size == c->prefix;
}

/*
 * Starts a new, empty tail chunk bound for fd, whose first new byte goes at offset;
 * `before` holds the offset % WAL_PAGE_BYTES bytes of the file just before it. Returns
 * false when out of memory.
 */
static bool chunk_push(struct wal_writer *w, int fd, uint64_t offset, const uint8_t *before)
{
	ASSERT(w->chunk_count < CHUNKS_MAX);
	ASSERT(fd == w->current.fd); /* only the current segment is appended to */
	struct chunk *c = &w->chunks[(w->chunk_head + w->chunk_count) % CHUNKS_MAX];
	uint32_t prefix = (uint32_t)(offset % WAL_PAGE_BYTES);
	c->size = 0;
	if (!chunk_reserve(c, prefix))
		return false;
	if (prefix > 0)
		memcpy(c->bytes, before, prefix);
	c->size = prefix;
	c->prefix = prefix;
	c->fd = fd;
	c->direct = w->current.direct;
	c->overlap = w->current.overlap;
	c->segment_size = w->current.size;
	c->offset = offset - prefix;
	c->first_lsn = 0;
	c->last_lsn = 0;
	c->state = CHUNK_FILLING;
	w->chunk_count++;
	return true;
}

static bool chunk_reserve(struct chunk *c, uint32_t size)
{
	if (c->capacity - c->size >= size)
		return true;
	uint32_t capacity = c->capacity ? c->capacity : 64 * 1024;
	while (capacity - c->size < size)
		capacity *= 2;
	/* Page-aligned, for direct I/O; growing copies what the chunk holds. */
	void *bytes = NULL;
	if (posix_memalign(&bytes, WAL_PAGE_BYTES, capacity) != 0)
		return false;
	if (c->size > 0)
		memcpy(bytes, c->bytes, c->size);
	free(c->bytes);
	c->bytes = bytes;
	c->capacity = capacity;
	return true;
}

static void fail(struct wal_writer *w, int error)
{
	ASSERT(error < 0);
	if (w->error == 0)
		w->error = error;
}

/* Spare segments. */

static void spare_step(struct wal_writer *w);

static void spare_start(struct wal_writer *w);

/*
 * The next segment is prepared once the current one is past half full, or earlier
 * when the largest record might no longer fit in it (nothing else would start it
 * then): on append, and also when the writer opens or flushes, so that a log
 * reopened near the end of its segment gets a spare before it needs one.
 */
static void spare_maybe_start(struct wal_writer *w)
{
	if (w->spare.state != SPARE_NONE || w->error != 0)
		return;
	uint64_t room = w->current.size - w->current.end;
	if (w->current.end > w->current.size / 2 ||
	    room < wal_record_size(WAL_RECORD_PAYLOAD_MAX))
		spare_start(w);
}

static void spare_start(struct wal_writer *w)
{
	ASSERT(w->spare.state == SPARE_NONE);
	char name[64];
	w->spare.sequence = w->current.sequence + 1;
	wal_segment_name(w->spare.sequence, name, sizeof(name));
	/* Creating the file is a metadata update with no data to wait for; the zeros
	 * and the syncs go through the I/O interface. The zeros are written with direct
	 * I/O where the file system has it: copying 64 MiB of them through the page
	 * cache cost up to a tenth of the server's CPU at a million records a second,
	 * and their writeback competed with the log's own syncs. */
	int fd = openat(w->config.dir_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT,
			0644);
	if (fd < 0 && errno == EINVAL)
		fd = openat(w->config.dir_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fail(w, -errno);
		return;
	}
	w->spare.fd = fd;
	w->spare.zeroed = 0;
	w->spare.state = SPARE_PREPARING;
	spare_step(w);
}

static void direct_io_end(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0 && (flags & O_DIRECT))
		fcntl(fd, F_SETFL, flags & ~O_DIRECT);
}

/* Turns direct I/O on for fd; false where the file system does not have it. */
static bool direct_io_begin(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	return flags >= 0 && ((flags & O_DIRECT) || fcntl(fd, F_SETFL, flags | O_DIRECT) == 0);
}

static bool direct_io_on(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	return flags >= 0 && (flags & O_DIRECT);
}

/* A segment's flushes may be direct writes: asked for, and every write of it is whole pages. */
static bool direct_wanted(const struct wal_writer *w, uint64_t segment_size)
{
	return w->config.direct && segment_size % WAL_PAGE_BYTES == 0;
}

/* Submits the next preparation request: a block of zeros, the file sync, the directory sync. */
static void spare_step(struct wal_writer *w)
{
	ASSERT(w->spare.state == SPARE_PREPARING && !w->spare.in_flight);
	int result;
	uint64_t left = w->config.segment_size - w->spare.zeroed;
	if (left > 0) {
		uint32_t size = left < ZERO_CHUNK_SIZE ? (uint32_t)left : ZERO_CHUNK_SIZE;
		if (size % WAL_PAGE_BYTES != 0) {
			/* A segment size that is not whole pages: its last part is written
			 * through the page cache, as direct I/O cannot write it. */
			size = size >= WAL_PAGE_BYTES ? size - size % WAL_PAGE_BYTES : size;
			if (size < WAL_PAGE_BYTES)
				direct_io_end(w->spare.fd);
		}
		result = w->io->write(w->io, w->spare.fd, zero_chunk, size, w->spare.zeroed,
				      token(TOKEN_SPARE_WRITE) | size);
	} else {
		/* The log's own writes: direct ones when the writer flushes that way (and
		 * the file system took O_DIRECT), else through the page cache. */
		w->spare.direct = direct_wanted(w, w->config.segment_size) &&
				  direct_io_on(w->spare.fd);
		if (!w->spare.direct)
			direct_io_end(w->spare.fd);
		result = w->io->sync(w->io, w->spare.fd, false, token(TOKEN_SPARE_SYNC));
	}
	if (result < 0)
		fail(w, result);
	else
		w->spare.in_flight = true;
}

static void spare_complete(struct wal_writer *w, enum token_kind kind, uint64_t detail,
			   int32_t result)
{
	w->spare.in_flight = false;
	bool ok = kind == TOKEN_SPARE_WRITE ? result == (int32_t)detail : result == 0;
	if (!ok) {
		/* A spare's write extends its file: one cut short means the file system is
		 * full (or a quota is reached), which the operator must be told as such. */
		fail(w, result < 0 ? result : kind == TOKEN_SPARE_WRITE ? -ENOSPC : -EIO);
		return;
	}
	if (kind == TOKEN_SPARE_WRITE) {
		w->spare.zeroed += detail;
		spare_step(w);
	} else if (kind == TOKEN_SPARE_SYNC) {
		int submitted = w->io->sync(w->io, w->config.dir_fd, false, token(TOKEN_DIR_SYNC));
		if (submitted < 0)
			fail(w, submitted);
		else
			w->spare.in_flight = true;
	} else {
		w->spare.state = SPARE_READY;
	}
}

/* Appending. */

/* Closes a segment's fd once neither appends nor any waiting chunk need it. */
static void fd_release_if_unused(struct wal_writer *w, int fd)
{
	if (fd == w->current.fd)
		return;
	for (uint32_t i = 0; i < w->chunk_count; i++) {
		if (chunk_at(w, i)->fd == fd)
			return;
	}
	close(fd);
}

/* Whether a segment this writer begins is flushed beside others (and is version 2). */
static bool overlap_wanted(const struct wal_writer *w, bool direct)
{
	return direct && w->config.flushes > 1;
}

/* Moves appends to the prepared spare segment, which starts with its header. */
static int rotate(struct wal_writer *w)
{
	if (w->spare.state != SPARE_READY)
		return -EAGAIN;
	struct chunk *tail = chunk_tail(w);
	bool reuse = chunk_empty(tail); /* never the chunk in flight: flushing pushes a tail */
	if (!reuse && w->chunk_count == CHUNKS_MAX)
		return -EAGAIN;
	int old_fd = w->current.fd;
	w->current.fd = w->spare.fd;
	w->current.sequence = w->spare.sequence;
	w->current.direct = w->spare.direct;
	w->current.overlap = overlap_wanted(w, w->spare.direct);
	w->current.size = w->config.segment_size;
	w->current.end = 0;
	w->spare.state = SPARE_NONE;
	w->spare.fd = -1;
	if (reuse) {
		tail->fd = w->current.fd;
		tail->direct = w->current.direct;
		tail->overlap = w->current.overlap;
		tail->segment_size = w->current.size;
		tail->offset = 0;
		tail->size = 0;
		tail->prefix = 0;
	} else {
		bool pushed = chunk_push(w, w->current.fd, 0, NULL); /* no prefix: no memory */
		ASSERT(pushed);
	}
	fd_release_if_unused(w, old_fd);
	return 0;
}

/* Puts the segment header at the start of the tail chunk, which begins the segment. */
static bool header_put(struct wal_writer *w)
{
	struct chunk *c = chunk_tail(w);
	ASSERT(c->offset == 0 && c->size == 0 && w->current.end == 0);
	if (!chunk_reserve(c, WAL_SEGMENT_HEADER_SIZE))
		return false;
	struct wal_segment_header header = { .shard_index = w->config.shard_index,
					     .sequence = w->current.sequence,
					     .first_lsn = w->next_lsn,
					     .segment_size = w->config.segment_size,
					     .version = w->current.overlap ? 2 : 1 };
	wal_segment_header_encode(&header, c->bytes);
	c->size = WAL_SEGMENT_HEADER_SIZE;
	w->current.end = WAL_SEGMENT_HEADER_SIZE;
	w->pending_bytes += WAL_SEGMENT_HEADER_SIZE;
	return true;
}

int wal_writer_can_append(const struct wal_writer *w, uint32_t size)
{
	if (w->error != 0)
		return w->error;
	if (size == 0)
		return -EINVAL;
	if (size > WAL_RECORD_PAYLOAD_MAX)
		return -EFBIG;
	uint64_t record_size = wal_record_size(size);
	if (w->pending_bytes + record_size + WAL_SEGMENT_HEADER_SIZE > w->config.buffer_bytes_max)
		return -EAGAIN;
	if (w->current.end + record_size > w->current.size) {
		if (w->spare.state != SPARE_READY)
			return -EAGAIN;
		const struct chunk *tail = &w->chunks[(w->chunk_head + w->chunk_count - 1) % CHUNKS_MAX];
		if (!chunk_empty(tail) && w->chunk_count == CHUNKS_MAX)
			return -EAGAIN;
	}
	return 0;
}

int64_t wal_writer_append(struct wal_writer *w, int64_t timestamp_ms, const void *payload,
			  uint32_t size)
{
	int allowed = wal_writer_can_append(w, size);
	if (allowed != 0)
		return allowed;
	uint32_t record_size = (uint32_t)wal_record_size(size);
	if (w->current.end + record_size > w->current.size) {
		int rotated = rotate(w);
		ASSERT(rotated == 0);
	}
	if (w->current.end == 0 && !header_put(w))
		return -ENOMEM;
	struct chunk *c = chunk_tail(w);
	if (!chunk_reserve(c, record_size))
		return -ENOMEM;
	/* A chunk is written by exactly one flush, so its first LSN is the flush's. */
	if (c->first_lsn == 0)
		c->first_lsn = w->next_lsn;
	c->size += (uint32_t)wal_record_encode(c->bytes + c->size, WAL_RECORD_TYPE_COMMAND,
					       w->next_lsn, c->first_lsn, timestamp_ms, payload,
					       size);
	c->last_lsn = w->next_lsn;
	w->current.end += record_size;
	w->pending_bytes += record_size;
	spare_maybe_start(w);
	return (int64_t)w->next_lsn++;
}

/* At most this many chunks are submitted and not yet retired from the head. */
static uint32_t flushes_max(const struct wal_writer *w)
{
	return w->config.flushes == 0 ? 1 : w->config.flushes;
}

/*
 * Moves chunk c, about to be flushed beside the one before it, off that chunk's last
 * page: its new bytes go to the start of the next page, whose offset in the file
 * they now take, and the rest of the shared page stays zero. False when the moved
 * chunk would not fit in its segment (it then waits for the flushes in flight).
 */
static bool chunk_page_own(struct wal_writer *w, struct chunk *c, bool tail)
{
	uint32_t shift = WAL_PAGE_BYTES - c->prefix;
	uint32_t bytes = c->size - c->prefix;
	if (c->offset + WAL_PAGE_BYTES + bytes > c->segment_size)
		return false;
	memmove(c->bytes, c->bytes + c->prefix, bytes);
	c->offset += WAL_PAGE_BYTES;
	c->size = bytes;
	c->prefix = 0;
	if (tail)
		w->current.end += shift;
	return true;
}

/*
 * Whether chunk `index` may be flushed now, moving it off a page still being
 * written if it must. With nothing in flight, always. Otherwise only beside flushes
 * of its own segment (so that a flush never begins a segment while the one before
 * is unsynced: FORMAT.md), and off the last page of a chunk still in flight.
 */
static bool flush_may_start(struct wal_writer *w, uint32_t index)
{
	if (w->flushing == 0)
		return true;
	struct chunk *c = chunk_at(w, index);
	if (!c->overlap || chunk_at(w, 0)->fd != c->fd)
		return false;
	if (c->prefix == 0 || chunk_at(w, index - 1)->state == CHUNK_DONE)
		return true;
	return chunk_page_own(w, c, index + 1 == w->chunk_count);
}

/*
 * Every record of c carries the first LSN not yet durable when its flush is
 * submitted (FORMAT.md): the chunk's own first LSN when nothing is in flight, as
 * appended; an earlier one beside flushes in flight, written in here.
 */
static void chunk_flush_lsn_set(const struct wal_writer *w, struct chunk *c)
{
	uint64_t flush_lsn = w->durable_lsn + 1;
	if (c->first_lsn == 0 || flush_lsn == c->first_lsn)
		return;
	ASSERT(flush_lsn < c->first_lsn);
	uint32_t at = c->prefix;
	if (c->offset == 0 && at < WAL_SEGMENT_HEADER_SIZE)
		at = WAL_SEGMENT_HEADER_SIZE; /* the chunk begins its segment: skip the header */
	while (at < c->size)
		at += (uint32_t)wal_record_flush_lsn_set(c->bytes + at, flush_lsn);
	ASSERT(at == c->size);
}

/* Submits the flush of chunk `index`, the first not yet submitted. False if it cannot now. */
static bool flush_start(struct wal_writer *w, uint32_t index)
{
	struct chunk *c = chunk_at(w, index);
	if (chunk_empty(c) || !flush_may_start(w, index))
		return false;
	/* Before the next chunk copies c's last page: it rewrites what c writes. */
	chunk_flush_lsn_set(w, c);
	uint64_t end = c->offset + c->size;
	uint32_t part = (uint32_t)(end % WAL_PAGE_BYTES);
	if (index + 1 == w->chunk_count) {
		/* c is still filling: appends from now on go to a new chunk, which starts
		 * with c's part-filled last page. */
		if (!chunk_push(w, c->fd, end, c->bytes + c->size - part)) {
			fail(w, -ENOMEM);
			return false;
		}
	}
	/* Zeros to the page's end (the file holds zeros there), but not past the segment. */
	uint32_t padding = part == 0 ? 0 : WAL_PAGE_BYTES - part;
	if (end + padding > c->segment_size)
		padding = (uint32_t)(c->segment_size - end);
	if (!chunk_reserve(c, padding)) {
		fail(w, -ENOMEM);
		return false;
	}
	memset(c->bytes + c->size, 0, padding);
	uint32_t size = c->size + padding;
	uint64_t slot = (uint64_t)(c - w->chunks) << TOKEN_SLOT_SHIFT;
	int result;
	if (c->direct) {
		/* One write, done when it is on stable storage; its token carries its size. */
		result = w->io->write_durable(w->io, c->fd, c->bytes, size, c->offset,
					      token(TOKEN_FLUSH_SYNC) | slot | size);
	} else {
		/* The sync is asked for only once the bytes are in the file, so it covers them. */
		int32_t written = w->io->write_now(w->io, c->fd, c->bytes, size, c->offset);
		if (written != (int32_t)size) {
			/* A short write is a failure too: the rest is never retried. */
			fail(w, written < 0 ? written : -EIO);
			return false;
		}
		result = w->io->sync(w->io, c->fd, true, token(TOKEN_FLUSH_SYNC) | slot);
	}
	if (result < 0) {
		fail(w, result);
		return false;
	}
	c->state = CHUNK_FLUSHING;
	w->submitted++;
	w->flushing++;
	return true;
}

void wal_writer_flush(struct wal_writer *w)
{
	spare_maybe_start(w);
	while (w->error == 0 && w->submitted < w->chunk_count && w->submitted < flushes_max(w) &&
	       flush_start(w, w->submitted)) {
	}
}

static void flush_complete(struct wal_writer *w, uint32_t slot, int32_t result)
{
	ASSERT(slot < CHUNKS_MAX && w->chunks[slot].state == CHUNK_FLUSHING);
	w->flushing--;
	if (result < 0)
		fail(w, result);
	if (w->error != 0)
		return;
	w->chunks[slot].state = CHUNK_DONE;
	/* The durable LSN moves only over completed chunks with none unfinished before them. */
	while (w->submitted > 0 && chunk_at(w, 0)->state == CHUNK_DONE) {
		struct chunk *head = chunk_at(w, 0);
		if (head->last_lsn != 0)
			w->durable_lsn = head->last_lsn;
		w->pending_bytes -= head->size - head->prefix;
		/* The chunk's buffer stays with its ring slot for reuse, unless a burst made it large. */
		if (head->capacity > CHUNK_KEEP_MAX) {
			free(head->bytes);
			head->bytes = NULL;
			head->capacity = 0;
		}
		int fd = head->fd;
		w->chunk_head = (w->chunk_head + 1) % CHUNKS_MAX;
		w->chunk_count--;
		w->submitted--;
		fd_release_if_unused(w, fd);
	}
}

void wal_writer_complete(struct wal_writer *w, uint64_t token_value, int32_t result)
{
	enum token_kind kind = (enum token_kind)((token_value >> TOKEN_KIND_SHIFT) & 0xff);
	uint64_t detail = token_value & TOKEN_DETAIL_MASK;
	switch (kind) {
	case TOKEN_FLUSH_SYNC: {
		/* A direct flush's token carries its size: fewer bytes written is a failure. */
		uint32_t size = (uint32_t)detail;
		flush_complete(w, (uint32_t)(detail >> TOKEN_SLOT_SHIFT),
			       size == 0 || result < 0 ? result
			       : result == (int32_t)size ? 0
							 : -EIO);
		return;
	}
	case TOKEN_SPARE_WRITE:
	case TOKEN_SPARE_SYNC:
	case TOKEN_DIR_SYNC:
		ASSERT(w->spare.in_flight);
		spare_complete(w, kind, detail, result);
		return;
	}
	ASSERT(!"unknown wal token");
}

void wal_writer_complete_fn(void *owner, uint64_t token_value, int32_t result)
{
	wal_writer_complete(owner, token_value, result);
}

int wal_writer_create(struct wal_writer **writer, const struct wal_writer_config *config,
		      struct wal_io *io, const struct wal_position *position)
{
	ASSERT(config->segment_size >= WAL_SEGMENT_SIZE_MIN);
	ASSERT(config->flushes <= WAL_FLUSHES_MAX);
	ASSERT(position->next_lsn >= 1);
	struct wal_writer *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	*w = (struct wal_writer){ .config = *config, .io = io, .next_lsn = position->next_lsn,
				  .durable_lsn = position->next_lsn - 1 };
	w->spare.fd = -1;
	char name[64];
	int fd;
	if (position->segment_sequence == 0) {
		/* A new log: its first segment is prepared now, before anything is appended. */
		w->current.sequence = 1;
		wal_segment_name(1, name, sizeof(name));
		fd = wal_file_prepare(config->dir_fd, name, config->segment_size);
		w->current.end = 0;
		w->current.size = config->segment_size;
	} else {
		/* The segment keeps the size it was made with (recovery checked that its
		 * file is as long as its header says), whatever the setting is now. */
		w->current.sequence = position->segment_sequence;
		wal_segment_name(position->segment_sequence, name, sizeof(name));
		fd = openat(config->dir_fd, name, O_RDWR | O_CLOEXEC);
		fd = fd < 0 ? -errno : fd;
		struct stat st;
		if (fd >= 0) {
			int error = fstat(fd, &st) < 0 ? -errno
				    : (uint64_t)st.st_size < position->segment_offset ? -EIO
										    : 0;
			if (error != 0) {
				close(fd);
				fd = error;
			}
		}
		if (fd >= 0)
			w->current.size = (uint64_t)st.st_size;
		w->current.end = position->segment_offset;
	}
	if (fd < 0) {
		free(w);
		return fd;
	}
	w->current.fd = fd;
	/* The first chunk starts with what the file holds of its part-filled page, read
	 * before direct I/O (which could not read it into this buffer) is turned on. */
	uint8_t before[WAL_PAGE_BYTES];
	uint32_t part = (uint32_t)(w->current.end % WAL_PAGE_BYTES);
	int error = wal_pread_all(fd, before, part, w->current.end - part);
	/* A segment of version 1 goes on one flush at a time: a reader of that version
	 * takes a page left part zero for the log's end. An empty one gets its header
	 * from this writer. */
	bool version_2 = w->current.end == 0;
	uint8_t header[WAL_SEGMENT_HEADER_SIZE];
	struct wal_segment_header decoded;
	if (error == 0 && !version_2 &&
	    (error = wal_pread_all(fd, header, sizeof(header), 0)) == 0)
		version_2 = wal_segment_header_decode(header, &decoded) == WAL_HEADER_OK &&
			    decoded.version >= 2;
	w->current.direct = error == 0 && direct_wanted(w, w->current.size) && direct_io_begin(fd);
	w->current.overlap = overlap_wanted(w, w->current.direct) && version_2;
	if (error == 0 && !chunk_push(w, fd, w->current.end, before))
		error = -ENOMEM;
	if (error != 0) {
		close(fd);
		free(w->chunks[0].bytes);
		free(w);
		return error;
	}
	spare_maybe_start(w);
	*writer = w;
	return 0;
}

void wal_writer_destroy(struct wal_writer *w)
{
	if (w == NULL)
		return;
	ASSERT(!wal_writer_busy(w));
	for (uint32_t i = 0; i < CHUNKS_MAX; i++)
		free(w->chunks[i].bytes);
	close(w->current.fd);
	if (w->spare.fd >= 0)
		close(w->spare.fd);
	free(w);
}

void wal_writer_position(const struct wal_writer *w, struct wal_position *position)
{
	ASSERT(w->pending_bytes == 0 && w->flushing == 0);
	/* A new log whose first segment was prepared but holds nothing yet goes on as
	 * that segment, from its start. */
	*position = (struct wal_position){ .next_lsn = w->next_lsn,
					   .segment_sequence = w->current.sequence,
					   .segment_offset = w->current.end };
}

uint64_t wal_writer_durable_lsn(const struct wal_writer *w)
{
	return w->durable_lsn;
}

uint64_t wal_writer_next_lsn(const struct wal_writer *w)
{
	return w->next_lsn;
}

int wal_writer_error(const struct wal_writer *w)
{
	return w->error;
}

bool wal_writer_direct(const struct wal_writer *w)
{
	return w->current.direct;
}

bool wal_writer_flushing(const struct wal_writer *w)
{
	return w->flushing > 0;
}

bool wal_writer_busy(const struct wal_writer *w)
{
	return w->flushing > 0 || w->spare.in_flight;
}

uint64_t wal_writer_pending_bytes(const struct wal_writer *w)
{
	return w->pending_bytes;
}
