/*
 * fake_server.h — a scripted fake server for the client library's tests.
 *
 * The fake server is a loopback listener served by one thread: it accepts one
 * connection at a time, reads whole frames, decodes them with proto_request_decode
 * (so every request the client sends is checked by the server's own decoder), and
 * hands them to the test's script, which answers with frames built by the
 * proto_put_* codec, or with deliberately broken ones. The script runs on the
 * server thread; it keeps what the test checks afterwards in the fake_server
 * struct, under its mutex.
 */
#ifndef BOXOFFICE_TESTS_FAKE_SERVER_H
#define BOXOFFICE_TESTS_FAKE_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

#define FAKE_FRAME_BUFFER_SIZE (PROTO_FRAME_SIZE_MAX + 4u)
#define FAKE_DEFERRED_MAX 4096u

struct fake_server;

/* Answers one decoded request; returns false to close the connection. */
typedef bool fake_script_fn(struct fake_server *server, const struct proto_request *request,
			    enum status decoded);

struct fake_server {
	int listen_fd;
	int fd;
	char port[16];
	pthread_t thread;
	fake_script_fn *script;
	int mode; /* the script's variant */
	uint8_t *in;
	uint8_t *out;
	struct bytes_writer w;
	size_t frame_start;
	/* Responses held back to be sent later, in another order. */
	uint8_t *deferred[FAKE_DEFERRED_MAX];
	size_t deferred_sizes[FAKE_DEFERRED_MAX];
	uint32_t deferred_count;
	pthread_mutex_t mutex;
	uint32_t requests_count;
	uint8_t last_frame[4096];
	size_t last_frame_size;
	char client_name[PROTO_NAME_SIZE_MAX + 1];
};

/* Starts a server that answers with script; mode is the script's variant. */
struct fake_server *fake_server_start(fake_script_fn *script, int mode);
/* Waits for the connection in progress to end, then stops the server. */
void fake_server_stop(struct fake_server *s);
/* Connects a client with the default options; asserts that it worked. */
struct box_client *fake_connect(struct fake_server *s);
/* Decodes the last request the server received, into a copy the caller keeps. */
void fake_last_request(struct fake_server *s, uint8_t *frame, struct proto_request *request);

void fake_write_all(int fd, const uint8_t *bytes, size_t size);
/* Starts a response to `request` in the server's output writer. */
void fake_reply_begin(struct fake_server *s, const struct proto_request *request,
		      enum status status);
void fake_reply_send(struct fake_server *s);
/* Keeps the response to send later with fake_deferred_send. */
void fake_reply_defer(struct fake_server *s);
/* Sends the deferred responses in the order given by index_of(i). */
void fake_deferred_send(struct fake_server *s, uint32_t (*index_of)(uint32_t i, uint32_t n));
/* Answers a HELLO and returns true; returns false, answering nothing, for any other
 * request. */
bool fake_hello_answer(struct fake_server *s, const struct proto_request *request);

/* Canned catalog data. */
extern const struct engine_location fake_canned_location;
/* A two-section layout: "Stalls" rows A (6 seats, vip) and B (mixed), "Circle" row A. */
void fake_canned_layout(struct layout_builder *b, struct layout *layout);
/* Venue 101's seat map with count seat states, seat i in state i % 4. */
void fake_put_seatmap(struct fake_server *s, const struct layout *layout, uint32_t count);
/* Writes the payload of a correct answer to any request. */
void fake_put_answer(struct fake_server *s, const struct proto_request *r);
/* Starts the response to request, with the correct answer when it decoded. */
void fake_reply_correct(struct fake_server *s, const struct proto_request *request,
			enum status decoded);
/* Answers everything correctly, at once. */
bool fake_script_correct(struct fake_server *s, const struct proto_request *request,
			 enum status decoded);

#endif
