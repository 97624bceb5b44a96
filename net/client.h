/*
 * client.h — the client library of the boxoffice protocol (PROTOCOL.md), used by
 * boxctl, the benchmarks and the tests.
 *
 * One struct box_client is one TCP connection that has completed the HELLO
 * handshake. It has two modes that must not be mixed while requests are in flight:
 *
 * - Blocking calls, one per operation (box_client_show, box_client_hold_best...).
 *   Each sends one request and waits for its response. They return 0 with the
 *   decoded response, whose domain outcome is an enum status (an out-parameter, or
 *   result->status for commands), or a negative errno for a transport error:
 *   -ECONNRESET (the server closed the connection, or stopped acknowledging it),
 *   -ETIMEDOUT (no response within this library's timeout), -EPROTO (a response
 *   with a wrong id, opcode, size or payload), -EMSGSIZE (a request larger than the
 *   send buffer or the server's frame limit; nothing was sent), -ENOMEM, or the
 *   socket's errno.
 *
 * - Pipelined calls for load generators: box_client_send_* queue a request and
 *   return its request id at once; box_client_flush writes the queue;
 *   box_client_next waits for the next response (in any order); and
 *   box_client_poll_responses never blocks, so that one thread can drive many
 *   connections from poll or epoll on box_client_fd().
 *
 * Memory: everything a call returns (texts, arrays, raw payloads) borrows from
 * buffers that the client owns and stays valid until the next call on the same
 * client or box_client_close(); copy what must live longer. The one exception is
 * the seat map, which the caller owns and frees with box_seatmap_destroy, because a
 * layout is needed across calls (to name the seats of a hold made after it).
 *
 * Bounds: a client never buffers more than one largest frame of responses and
 * `send_buffer_size` bytes of requests, and never has more than `inflight_max`
 * requests in flight; past either limit box_client_send_* answer -EAGAIN until
 * responses have been read. After a transport error the client is broken: every
 * later call returns the same error (box_client_next's -ETIMEDOUT excepted, which
 * only says that nothing arrived in time), and the caller should close it. When
 * only writing fails (a server that answered, then closed), sending and flushing
 * return that error at once, but the responses that arrived before the close are
 * still handed out; the error becomes the client's once they are read.
 *
 * A client is not thread-safe: one thread at a time.
 */
#ifndef BOXOFFICE_NET_CLIENT_H
#define BOXOFFICE_NET_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

#define BOX_CLIENT_TIMEOUT_MS_DEFAULT 30000
#define BOX_CLIENT_INFLIGHT_MAX_DEFAULT 4096u /* the server's per-connection limit */
#define BOX_CLIENT_SEND_BUFFER_SIZE_DEFAULT (PROTO_FRAME_SIZE_MAX + 4u)
#define BOX_SERVER_VERSION_SIZE_MAX 64u

struct box_client;

struct box_client_options {
	const char *name;	   /* sent in HELLO; cut to PROTO_NAME_SIZE_MAX bytes */
	int connect_timeout_ms;	   /* connect (to each address resolved in turn, with a
				    * share of the time left) and handshake, in all; 1..
				    * (resolving the name is not bounded) */
	int timeout_ms;		   /* a blocking call's response; WAIT adds its own timeout */
	uint32_t inflight_max;	   /* pipelined requests; a power of two, 1..65536 */
	uint32_t send_buffer_size; /* queued request bytes; at least one largest frame */
};

void box_client_options_default(struct box_client_options *options);

/* What the server said about itself in its HELLO response. */
struct box_server_info {
	uint16_t version;
	uint32_t frame_size_max;
	uint16_t workers;
	uint16_t hold_seats_max;
	uint32_t wait_timeout_ms_max;
	char server_version[BOX_SERVER_VERSION_SIZE_MAX + 1]; /* cut to fit, NUL-terminated */
	/* The shard serving this connection (< workers); UINT16_MAX from a version-1 server.
	 * Requests about a show that box_show_shard puts on this shard skip a hand-over
	 * between the server's threads (PROTOCOL.md, "Shard-aware clients"). */
	uint16_t shard;
};

/* The shard, of `shards`, that owns show_id: the same function the server uses (0 when
 * shards is 0). */
uint32_t box_show_shard(uint32_t show_id, uint32_t shards);

/*
 * Connects to host:port (a name or a numeric address, IPv4 or IPv6), turns on
 * TCP_NODELAY, sends HELLO and checks the response. Returns NULL on failure with a
 * message in error[0..error_size) that says which step failed and why.
 */
struct box_client *box_client_connect(const char *host, const char *port, char *error,
				      size_t error_size);
struct box_client *box_client_connect_options(const char *host, const char *port,
					      const struct box_client_options *options,
					      char *error, size_t error_size);
void box_client_close(struct box_client *client); /* accepts NULL */

const struct box_server_info *box_client_server(const struct box_client *client);
/* The socket, non-blocking, for poll/epoll; the client keeps it. */
int box_client_fd(const struct box_client *client);
/* The sticky transport error, or 0 while the connection is usable. */
int box_client_error(const struct box_client *client);
/* Words for a negative errno from this library ("the server closed the connection"...). */
const char *box_client_error_text(int error);

/* Blocking calls: catalog queries. */

int box_client_ping(struct box_client *client, const void *bytes, uint32_t size);
/* Locations with id > after_id, at most `limit` (1..PROTO_LIST_LIMIT_MAX). */
int box_client_locations(struct box_client *client, uint32_t after_id, uint16_t limit,
			 const struct engine_location **locations, uint32_t *count,
			 enum status *status);
int box_client_events(struct box_client *client, uint32_t location_id, uint32_t after_id,
		      uint16_t limit, const struct engine_event_info **events, uint32_t *count,
		      enum status *status);

/* One show of an event, as EVENT lists them (start-time order). */
struct box_event_show {
	uint32_t show_id;
	int64_t start_ms;
	int64_t end_ms;
	uint32_t venue_id;
	struct text venue_name;
	struct text venue_address;
};

int box_client_event(struct box_client *client, uint32_t event_id,
		     struct engine_event_info *event, const struct box_event_show **shows,
		     uint32_t *shows_count, enum status *status);
int box_client_show(struct box_client *client, uint32_t show_id, struct engine_show *show,
		    enum status *status);
/* The venue's layout borrows from the client (see "Memory" above). */
int box_client_venue(struct box_client *client, uint32_t venue_id, struct engine_venue *venue,
		     enum status *status);

/* A show's seat map: its venue's layout and the public state of every seat. */
struct box_seatmap {
	uint32_t show_id;
	uint32_t venue_id;
	struct layout layout;  /* borrows layout_bytes */
	uint8_t *layout_bytes; /* owned */
	uint32_t seats_count;  /* layout.seats_count */
	uint8_t *states;       /* owned; enum seat_state per seat id */
};

/* *seatmap is NULL unless the status is STATUS_OK; free it with box_seatmap_destroy. */
int box_client_seatmap(struct box_client *client, uint32_t show_id,
		       struct box_seatmap **seatmap, enum status *status);
void box_seatmap_destroy(struct box_seatmap *seatmap); /* accepts NULL */

int box_client_search(struct box_client *client, const struct search_query *query,
		      const struct search_hit **hits, uint32_t *count, bool *more,
		      enum status *status);

/* Blocking calls: changes. The status is result->status. */

/*
 * Sends any engine command but TICK and decodes its result. A command that fails
 * command_validate() is not sent: the call returns 0 with that status
 * (STATUS_BAD_REQUEST or STATUS_TOO_LARGE) in result->status.
 */
int box_client_command(struct box_client *client, const struct command *command,
		       struct engine_result *result);
int box_client_hold_seats(struct box_client *client, uint32_t show_id, uint64_t user_id,
			  uint32_t ttl_ms, const uint32_t *seats, uint8_t seats_count,
			  struct engine_result *result);
int box_client_hold_best(struct box_client *client, uint32_t show_id, uint64_t user_id,
			 uint32_t ttl_ms, enum tier tier, uint8_t count, bool together,
			 struct engine_result *result);
int box_client_confirm(struct box_client *client, uint64_t hold_id, uint64_t user_id,
		       struct text payment_ref, struct engine_result *result);
int box_client_release(struct box_client *client, uint64_t hold_id, uint64_t user_id,
		       struct engine_result *result);
int box_client_cancel(struct box_client *client, uint64_t booking_id,
		      struct engine_result *result);
int box_client_seats_block(struct box_client *client, uint32_t show_id, uint32_t seat_first,
			   uint32_t seats_count, bool blocked, struct engine_result *result);
int box_client_waitlist_join(struct box_client *client, uint32_t show_id, uint64_t user_id,
			     enum tier tier, uint8_t count, bool together,
			     struct engine_result *result);
int box_client_waitlist_leave(struct box_client *client, uint32_t show_id, uint64_t user_id,
			      struct engine_result *result);
int box_client_waitlist_poll(struct box_client *client, uint32_t show_id, uint64_t user_id,
			     struct engine_result *result);
/* Long-poll (PROTOCOL.md "Waiting"); timeout_ms 0 is the server's default (30 s). */
int box_client_wait(struct box_client *client, uint32_t show_id, uint64_t user_id,
		    uint32_t timeout_ms, struct engine_result *result);

/* Blocking calls: operators. */

struct box_stat {
	struct text name;
	int64_t value;
};

int box_client_stats(struct box_client *client, const struct box_stat **stats, uint32_t *count,
		     enum status *status);
/* The snapshot LSN of each shard, in shard order. */
int box_client_snapshot(struct box_client *client, const uint64_t **lsns,
			uint32_t *shards_count, enum status *status);

/* Pipelined calls. */

struct box_response {
	uint64_t request_id;
	uint16_t opcode; /* the request's, without PROTO_RESPONSE_BIT */
	enum status status;
	const uint8_t *payload; /* borrowed (see "Memory" above) */
	uint32_t payload_size;
};

/*
 * Each queues one request and sets *request_id. Returns 0, -EAGAIN when the send
 * buffer or the in-flight limit is full (read responses, then retry), -EMSGSIZE for a
 * frame above the server's limit or larger than the whole send buffer, -EINVAL for a
 * search or command that fails its checks (command_validate(), or a command no client
 * sends: TICK, CONFIGURE), -ENOMEM, or the sticky error. Nothing is written to the
 * socket.
 */
int box_client_send_ping(struct box_client *client, const void *bytes, uint32_t size,
			 uint64_t *request_id);
int box_client_send_list(struct box_client *client, uint16_t opcode,
			 const struct proto_list *list, uint64_t *request_id);
/* EVENT, SHOW, SEATMAP or VENUE of one id. */
int box_client_send_id(struct box_client *client, uint16_t opcode, uint32_t id,
		       uint64_t *request_id);
int box_client_send_search(struct box_client *client, const struct search_query *query,
			   uint64_t *request_id);
int box_client_send_command(struct box_client *client, const struct command *command,
			    uint64_t *request_id);
int box_client_send_wait(struct box_client *client, const struct proto_wait *wait,
			 uint64_t *request_id);
/* STATS or SNAPSHOT. */
int box_client_send_empty(struct box_client *client, uint16_t opcode, uint64_t *request_id);

/*
 * Writes every queued byte, waiting at most timeout_ms (negative: no limit).
 * Returns 0, -ETIMEDOUT when bytes are left (the client stays usable), or a
 * transport error.
 */
int box_client_flush(struct box_client *client, int timeout_ms);
/*
 * Writes queued requests and waits at most timeout_ms (negative: no limit, 0: not at
 * all) for the next response, which may answer any request in flight. Returns 0
 * with *response, -ETIMEDOUT when none came in time or nothing is in flight (the
 * client stays usable), or a transport error.
 */
int box_client_next(struct box_client *client, struct box_response *response, int timeout_ms);
/*
 * Never blocks: writes what the socket takes, reads what is there, and hands back
 * up to `capacity` complete responses. Returns how many (0..capacity) or a
 * transport error. Call it when poll says the fd is readable, or writable while
 * box_client_wants_write() is true; with edge-triggered epoll, call it until it
 * returns 0 (then the socket has nothing more to give).
 */
int box_client_poll_responses(struct box_client *client, struct box_response *responses,
			      uint32_t capacity);
bool box_client_wants_write(const struct box_client *client);
uint32_t box_client_inflight(const struct box_client *client);

/* Decoders for pipelined responses; each returns 0 or -EPROTO. */

/*
 * The result of a command or a WAIT, with result->status set to the response's.
 * A refusal without a payload (a server may answer a frame it could not decode
 * with the status alone) gives a zeroed result with that status.
 */
int box_response_result(const struct box_response *response, struct engine_result *result);
int box_response_show(const struct box_response *response, struct engine_show *show);
/* Up to `capacity` hits; more hits than that is -EPROTO. */
int box_response_hits(const struct box_response *response, struct search_hit *hits,
		      uint32_t capacity, uint32_t *count, bool *more);
int box_response_seatmap(const struct box_response *response, uint32_t show_id,
			 struct box_seatmap **seatmap);

#endif
