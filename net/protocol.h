/*
 * protocol.h — the binary protocol (PROTOCOL.md is the contract for gateway
 * authors): frames, opcodes, and the codec for every payload, shared by the server
 * and the client library.
 *
 * Decoding validates every length, count and range before anything reaches the
 * engine; texts and layouts in decoded messages borrow from the frame bytes.
 */
#ifndef BOXOFFICE_NET_PROTOCOL_H
#define BOXOFFICE_NET_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "command.h"
#include "engine.h"

/* The versions this code speaks. Version 2 adds the connection's shard to HELLO's answer
 * (PROTOCOL.md, "Shard-aware clients"); nothing else differs. */
#define PROTO_VERSION_MIN 1u
#define PROTO_VERSION 2u
#define PROTO_MAGIC "BOXPROTO"
#define PROTO_MAGIC_SIZE 8u
#define PROTO_HEADER_SIZE 16u		  /* u32 size, u16 opcode, u16 flags|status, u64 id */
#define PROTO_FRAME_SIZE_MAX (1u << 20) /* the size field's largest value */
#define PROTO_PAYLOAD_SIZE_MAX (PROTO_FRAME_SIZE_MAX - (PROTO_HEADER_SIZE - 4))
#define PROTO_LIST_LIMIT_MAX 100u
#define PROTO_PING_SIZE_MAX 1024u
#define PROTO_NAME_SIZE_MAX 64u
#define PROTO_WAIT_TIMEOUT_MS_DEFAULT 30000u
#define PROTO_WAIT_TIMEOUT_MS_MAX 300000u
#define PROTO_RESPONSE_BIT 0x8000u
#define PROTO_STATS_COUNT_MAX 256u

enum proto_opcode {
	PROTO_HELLO = 0x0001,
	PROTO_PING = 0x0002,
	PROTO_LOCATIONS = 0x0010,
	PROTO_EVENTS = 0x0011,
	PROTO_EVENT = 0x0012,
	PROTO_SHOW = 0x0013,
	PROTO_SEATMAP = 0x0014,
	PROTO_VENUE = 0x0015,
	PROTO_SEARCH = 0x0016,
	/* 0x0021-0x002C: one opcode per engine command, 0x0020 + enum command_type;
	 * the payload is the command's encoding without its version and type bytes. */
	PROTO_COMMAND_BASE = 0x0020,
	PROTO_LOCATION_PUT = 0x0021,
	PROTO_VENUE_PUT = 0x0022,
	PROTO_EVENT_PUT = 0x0023,
	PROTO_SHOW_PUT = 0x0024,
	PROTO_SEATS_BLOCK = 0x0025,
	PROTO_HOLD = 0x0026,
	PROTO_CONFIRM = 0x0027,
	PROTO_RELEASE = 0x0028,
	PROTO_BOOKING_CANCEL = 0x0029,
	PROTO_WAITLIST_JOIN = 0x002A,
	PROTO_WAITLIST_LEAVE = 0x002B,
	PROTO_WAITLIST_POLL = 0x002C,
	PROTO_WAIT = 0x0030,
	PROTO_STATS = 0x0040,
	PROTO_SNAPSHOT = 0x0041,
};

const char *proto_opcode_name(uint16_t opcode);
/* The engine command an opcode carries, or 0 (TICK is not a client's to send). */
enum command_type proto_opcode_command(uint16_t opcode);

struct proto_header {
	uint32_t size;	   /* bytes after the size field: 12 + payload */
	uint16_t opcode;   /* responses: the request's opcode | PROTO_RESPONSE_BIT */
	uint16_t word;	   /* requests: flags (0); responses: enum status */
	uint64_t request_id;
};

void proto_header_encode(const struct proto_header *header, uint8_t *bytes);
/*
 * Reads a header from bytes[0..PROTO_HEADER_SIZE). Returns STATUS_OK, or
 * STATUS_TOO_LARGE when the size field is above PROTO_FRAME_SIZE_MAX, or
 * STATUS_BAD_REQUEST when it is below 12. Only the first 4 bytes are needed to
 * judge the size: proto_frame_size() does that alone.
 */
enum status proto_header_decode(const uint8_t *bytes, struct proto_header *header);
/* The size field of a frame starting at bytes (4 bytes needed). */
static inline uint32_t proto_frame_size(const uint8_t *bytes)
{
	return bytes_load_u32(bytes);
}

/* The opcode field of a frame starting at bytes (6 bytes needed). */
static inline uint16_t proto_frame_opcode(const uint8_t *bytes)
{
	return bytes_load_u16(bytes + 4);
}

/*
 * Whether a request's answer can be large: catalog lists and reads, search and seat
 * maps (up to a whole frame), against a few hundred bytes for every other answer.
 * Takes a request's opcode or its response's.
 */
static inline bool proto_answer_may_be_large(uint16_t opcode)
{
	opcode &= (uint16_t)~PROTO_RESPONSE_BIT;
	return opcode >= PROTO_LOCATIONS && opcode <= PROTO_SEARCH && opcode != PROTO_SHOW;
}

/* Requests. */

struct proto_hello {
	uint16_t version_min;
	uint16_t version_max;
	struct text client; /* 0..PROTO_NAME_SIZE_MAX */
};

struct proto_list {
	uint32_t parent_id; /* EVENTS: the location; LOCATIONS: 0 */
	uint32_t after_id;
	uint16_t limit; /* 1..PROTO_LIST_LIMIT_MAX */
};

struct proto_wait {
	uint32_t show_id;
	uint64_t user_id;
	uint32_t timeout_ms; /* 0: the default; at most PROTO_WAIT_TIMEOUT_MS_MAX */
};

/* A decoded request: the header's opcode says which member is set. */
struct proto_request {
	uint16_t opcode;
	uint64_t request_id;
	union {
		struct proto_hello hello;
		struct text ping;
		struct proto_list list;
		uint32_t id; /* EVENT, SHOW, SEATMAP, VENUE */
		struct search_query search;
		struct command command;
		struct proto_wait wait;
	};
};

/*
 * Decodes a whole frame (header and payload, `size` bytes from its start).
 * Returns STATUS_OK or why not: STATUS_BAD_REQUEST (unknown opcode, truncated or
 * trailing bytes, a field out of range) or STATUS_TOO_LARGE. request->opcode and
 * request_id are set whenever the header itself could be read, so the error can be
 * answered.
 */
enum status proto_request_decode(const uint8_t *frame, size_t size,
				 struct proto_request *request);

/* Request encoders for clients: write a whole frame into w. */
void proto_request_begin(struct bytes_writer *w, uint16_t opcode, uint64_t request_id);
/* Patches the size field once the payload is written; returns the frame size. */
size_t proto_frame_end(struct bytes_writer *w, size_t frame_start);
void proto_put_text(struct bytes_writer *w, struct text text);
void proto_encode_hello(struct bytes_writer *w, uint64_t id, const struct proto_hello *hello);
void proto_encode_list(struct bytes_writer *w, uint16_t opcode, uint64_t id,
		       const struct proto_list *list);
void proto_encode_id(struct bytes_writer *w, uint16_t opcode, uint64_t id, uint32_t object_id);
void proto_encode_search(struct bytes_writer *w, uint64_t id, const struct search_query *query);
/* Any engine command but TICK. */
void proto_encode_command(struct bytes_writer *w, uint64_t id, const struct command *command);
void proto_encode_wait(struct bytes_writer *w, uint64_t id, const struct proto_wait *wait);
void proto_encode_empty(struct bytes_writer *w, uint16_t opcode, uint64_t id);

/* Responses: the server writes them with these, the client reads them back. */

void proto_response_begin(struct bytes_writer *w, uint16_t opcode, enum status status,
			  uint64_t request_id);

/* The result of an engine command or of a WAIT (see PROTOCOL.md "Result"). */
/* A result's encoding: 32 bytes and 4 per seat. */
#define PROTO_RESULT_SIZE_MAX (32u + 4u * HOLD_SEATS_COUNT_MAX)
void proto_put_result(struct bytes_writer *w, const struct engine_result *result);
bool proto_get_result(struct bytes_reader *r, struct engine_result *result);
/* An event that completes a WAIT, as a result. */
void proto_result_from_event(const struct engine_event *event, struct engine_result *result);

void proto_put_location(struct bytes_writer *w, const struct engine_location *location);
bool proto_get_location(struct bytes_reader *r, struct engine_location *location);
void proto_put_event(struct bytes_writer *w, const struct engine_event_info *event);
bool proto_get_event(struct bytes_reader *r, struct engine_event_info *event);
void proto_put_show(struct bytes_writer *w, const struct engine_show *show);
bool proto_get_show(struct bytes_reader *r, struct engine_show *show);
void proto_put_venue(struct bytes_writer *w, const struct engine_venue *venue);
bool proto_get_venue(struct bytes_reader *r, struct engine_venue *venue);
void proto_put_hit(struct bytes_writer *w, const struct search_hit *hit);
bool proto_get_hit(struct bytes_reader *r, struct search_hit *hit);
bool proto_get_text(struct bytes_reader *r, struct text *text, uint32_t size_max);

/* Seat states packed four to a byte, seat 0 in the low bits of byte 0. */
void proto_put_states(struct bytes_writer *w, const uint8_t *states, uint32_t count);
bool proto_get_states(struct bytes_reader *r, uint8_t *states, uint32_t count);
/* Unpacks count states from packed ((count + 3) / 4 bytes), one byte a seat. */
void proto_states_unpack(const uint8_t *packed, uint32_t count, uint8_t *states);

/*
 * Response payloads that have no engine struct of their own (PROTOCOL.md gives
 * their bytes). Each get returns false when the payload is short or a field is out
 * of range; decoded texts, layouts and packed states borrow from the reader's bytes.
 */

/* HELLO's response. */
struct proto_hello_info {
	uint16_t version;
	uint32_t frame_size_max;
	uint16_t workers;
	uint16_t hold_seats_max;
	uint32_t wait_timeout_ms_max;
	struct text server_version; /* 0..UINT16_MAX bytes */
	uint16_t shard; /* version 2 on: the shard serving this connection, < workers */
};

/* The version a server speaking PROTO_VERSION_MIN..PROTO_VERSION answers a HELLO for
 * min..max with: the highest both speak, or 0 when they share none. */
uint16_t proto_version_agreed(uint16_t min, uint16_t max);

void proto_put_hello_info(struct bytes_writer *w, const struct proto_hello_info *info);
bool proto_get_hello_info(struct bytes_reader *r, struct proto_hello_info *info);

/* SEATMAP's response: the show's venue, its layout (1..COMMAND_SIZE_MAX bytes) and
 * the packed state of each of the layout's seats. */
void proto_put_seatmap(struct bytes_writer *w, uint32_t venue_id, const struct layout *layout,
		       const uint8_t *states, uint32_t seats_count);
/* The same up to the states: reserves room for them and returns where they go (packed,
 * four per byte), or NULL when the frame is full. */
uint8_t *proto_put_seatmap_head(struct bytes_writer *w, uint32_t venue_id,
				const struct layout *layout);
/* The states count must be layout->seats_count; unpack them with proto_states_unpack. */
bool proto_get_seatmap(struct bytes_reader *r, uint32_t *venue_id, struct layout *layout,
		       const uint8_t **states_packed);

/* One show of EVENT's response, which lists them after the event and a u16 count. */
struct proto_event_show {
	uint32_t show_id;
	int64_t start_ms;
	int64_t end_ms;
	uint32_t venue_id;
	struct text venue_name;	   /* 0..NAME_SIZE_MAX bytes */
	struct text venue_address; /* 0..ADDRESS_SIZE_MAX bytes */
};

void proto_put_event_show(struct bytes_writer *w, const struct proto_event_show *show);
bool proto_get_event_show(struct bytes_reader *r, struct proto_event_show *show);

/* SEARCH's response starts with the hit count (0..UINT16_MAX) and whether more shows
 * match (a u8, 0 or 1); the hits follow (proto_put_hit). */
void proto_put_search_header(struct bytes_writer *w, uint32_t count, bool more);
bool proto_get_search_header(struct bytes_reader *r, uint32_t *count, bool *more);

/* One entry of STATS's response, which lists them after a u16 count. */
void proto_put_stat(struct bytes_writer *w, struct text name, int64_t value);
bool proto_get_stat(struct bytes_reader *r, struct text *name, int64_t *value);

/* SNAPSHOT's response: a u16 count of shards, then each shard's snapshot LSN. */
void proto_put_snapshot_lsns(struct bytes_writer *w, const uint64_t *lsns, uint32_t count);
/* False as well when there are more than capacity LSNs. */
bool proto_get_snapshot_lsns(struct bytes_reader *r, uint64_t *lsns, uint32_t capacity,
			     uint32_t *count);

#endif
