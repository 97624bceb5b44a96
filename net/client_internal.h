/*
 * client_internal.h — the client's state, shared by client.c (connection,
 * transport, pipelining) and client_calls.c (the blocking calls and the response
 * decoders). client.c states the invariants.
 */
#ifndef BOXOFFICE_NET_CLIENT_INTERNAL_H
#define BOXOFFICE_NET_CLIENT_INTERNAL_H

#include "client.h"

struct client_slot {
	uint64_t request_id; /* 0: free */
	uint16_t opcode;
};

struct box_client {
	int fd;
	int error; /* sticky transport error (negative errno), 0 while usable */
	/* The socket refused a write: nothing more is sent or queued, but the responses
	 * already on their way are still read (the server may have answered, then
	 * closed); `error` follows once reading ends too. */
	int write_error;
	struct box_client_options options;
	struct box_server_info server;
	uint64_t request_id_next;  /* 1.. ; 0 marks a free slot */
	struct client_slot *slots; /* options.inflight_max of them */
	uint32_t inflight;	   /* 0..inflight_max */
	uint8_t *output;
	size_t output_begin;
	size_t output_end;
	size_t output_capacity; /* up to options.send_buffer_size */
	uint8_t *input;
	size_t input_begin;
	size_t input_handed;
	size_t input_end;
	size_t input_capacity; /* up to INPUT_SIZE_MAX */
	void *scratch;	       /* the decoded arrays of the last blocking call */
	size_t scratch_capacity;
};

/* What one request carries; the opcode says which member is set. */
struct client_request {
	uint16_t opcode;
	union {
		const struct proto_hello *hello;
		struct text ping;
		struct proto_list list;
		uint32_t id;
		const struct search_query *search;
		const struct command *command;
		struct proto_wait wait;
	};
};

/* Makes error the client's sticky error unless it has one already; returns error. */
int client_fail(struct box_client *c, int error);
/* Sends one request and waits for its response, the only one in flight. Returns 0,
 * or a transport error, which is then the sticky error too. */
int client_call(struct box_client *c, const struct client_request *request, int timeout_ms,
		struct box_response *response);
/* The checks that keep the encoder from writing a field wider than the wire's. */
enum status client_search_check(const struct search_query *query);
/* Whether a command can be sent: a valid one (command_validate) with an opcode of its
 * own (the engine's internal commands have none); else bad request. */
enum status client_command_check(const struct command *command);
/* Sends HELLO and reads the server's limits into c->server, waiting timeout_ms at
 * most. Returns 0 or a negative errno with a message in error; -EPROTO becomes the
 * sticky error. */
int client_handshake(struct box_client *c, int timeout_ms, char *error, size_t error_size);

#endif
