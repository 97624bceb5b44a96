/*
 * server_fixture.h — a real boxoffice server for the end-to-end tests.
 *
 * A fixture server is the boxoffice binary (BOXOFFICE_SERVER_BIN, or a path given
 * by the caller) run as a child process on 127.0.0.1 with a port the kernel picks
 * (--listen 127.0.0.1:0 --port-file), a fresh data directory under $TMPDIR (or
 * /tmp), --workers 2 and --no-pin unless told otherwise. Its log goes to a file
 * beside the data directory and is printed (its tail) when a check fails.
 *
 * Every wait has a deadline. A failing check calls fx_fail(), which kills every
 * fixture server, prints what went wrong and then ends the test: inside a criterion
 * test it fails the test (the test's .fini still runs: use fx_down), elsewhere
 * (crash_server) it exits with status 1. The child is also told to die with its
 * parent (PR_SET_PDEATHSIG), so a crashed or timed-out test leaves no server behind.
 * With FX_KEEP set in the environment the directories (data and log) are kept.
 *
 * The server's side is in server_fixture.c; the test catalog, show states and
 * shorthands are in catalog_fixture.c.
 *
 * The test catalog (fx_catalog_load) is small and fixed, with fixed timestamps, so
 * that loading it twice is a no-op (catalog puts are idempotent):
 *
 *   locations 1 Vienna (AT), 2 Graz (AT), 3 Lisbon (PT, no events)
 *   venue 1 "Grand Hall" (Vienna): 120 seats, 12 rows of 10 —
 *            rows A-B vip (seats 0-19), C-F regular (20-59), G-L economy (60-119)
 *   venue 2 "Club" (Vienna): one row of 12 — economy 0-3, regular 4-7, vip 8-11
 *   venue 3 "Stadtsaal" (Graz): 2 rows of 10 regular
 *   event 1 opera (Vienna), event 2 rock concert (Vienna), event 3 comedy (Graz)
 *   shows, with the shard that owns each under --workers 2:
 *     FX_SHOW_HALL_0   event 1, Grand Hall, shard 0
 *     FX_SHOW_HALL_1   event 1, Grand Hall, shard 1
 *     FX_SHOW_CLUB_0   event 2, Club, shard 0
 *     FX_SHOW_CLUB_1   event 2, Club, shard 1
 *     FX_SHOW_FUTURE   event 1, Grand Hall, sale opens in 2099 (not on sale), shard 0
 *     FX_SHOW_SHORT    event 2, Club, hold lifetime FX_SHORT_TTL_MS, shard 1
 *     FX_SHOW_GRAZ     event 3, Stadtsaal, shard 0
 */
#ifndef BOXOFFICE_TESTS_SERVER_FIXTURE_H
#define BOXOFFICE_TESTS_SERVER_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "client.h"

#define FX_PATH_SIZE 1024u
#define FX_ARGS_MAX 16u
#define FX_WORKERS_DEFAULT 2u
#define FX_START_TIMEOUT_MS 20000
#define FX_STOP_TIMEOUT_MS 20000
#define FX_CALL_TIMEOUT_MS 20000

/* Catalog ids. */
#define FX_LOCATION_VIENNA 1u
#define FX_LOCATION_GRAZ 2u
#define FX_LOCATION_LISBON 3u
#define FX_VENUE_HALL 1u
#define FX_VENUE_CLUB 2u
#define FX_VENUE_STADTSAAL 3u
#define FX_EVENT_OPERA 1u
#define FX_EVENT_ROCK 2u
#define FX_EVENT_COMEDY 3u
#define FX_SHOW_HALL_0 101u
#define FX_SHOW_HALL_1 104u
#define FX_SHOW_CLUB_0 102u
#define FX_SHOW_CLUB_1 105u
#define FX_SHOW_FUTURE 106u
#define FX_SHOW_SHORT 107u
#define FX_SHOW_GRAZ 109u
#define FX_SHOWS_COUNT 7u

#define FX_HALL_SEATS 120u
#define FX_CLUB_SEATS 12u
#define FX_SHORT_TTL_MS 400u
/* 2100-01-01T00:00:00Z: every show starts after it; sales are open until then. */
#define FX_T0_MS INT64_C(4102444800000)

extern const uint32_t fx_show_ids[FX_SHOWS_COUNT];

struct fx_server {
	pid_t pid; /* 0 while not running */
	char root[FX_PATH_SIZE - 64]; /* a temporary directory: data/, server.log, port */
	char data_dir[FX_PATH_SIZE];
	char port_file[FX_PATH_SIZE];
	char log_path[FX_PATH_SIZE];
	char binary[FX_PATH_SIZE];
	char port[16];
	uint32_t workers;
	uint32_t args_count;
	char args[FX_ARGS_MAX][128]; /* extra flags, one word each */
	uint32_t starts_count;
	bool keep_root; /* crash_server keeps the directory of a failed run */
	bool stdio_closed; /* started with descriptors 0-2 closed (no log), as daemons may be */
	uint32_t files_max; /* its RLIMIT_NOFILE, soft and hard; 0: inherited */
};

/* Failing. */

/* Kills every fixture server, prints the message and the servers' log tails, and
 * ends the test (criterion) or the program (exit 1). */
_Noreturn void fx_fail(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* Used by crash_server: fail by printing and exiting instead of by criterion. */
void fx_fail_exit_set(bool exit_on_failure);

#define FX_CHECK(condition, ...)                                                   \
	do {                                                                       \
		if (!(condition))                                                  \
			fx_fail_at(__FILE__, __LINE__, #condition, __VA_ARGS__);   \
	} while (0)
_Noreturn void fx_fail_at(const char *file, int line, const char *expression,
			  const char *format, ...) __attribute__((format(printf, 4, 5)));

/* A transport result of a client call: 0, else the test fails naming `what`. */
void fx_rc(int rc, const char *what);

/* The server process. */

/*
 * Prepares (does not start) a server: a fresh temporary directory, the binary
 * (NULL: $BOXOFFICE_SERVER_BIN), `workers` (0: FX_WORKERS_DEFAULT) and extra flags,
 * a NULL-terminated list of words (may be NULL).
 */
void fx_server_init(struct fx_server *server, const char *binary, uint32_t workers,
		    const char *const *extra_args);
/* Starts it on its data directory and waits until it listens. */
void fx_server_start(struct fx_server *server);
/*
 * Runs it once on its data directory, listening on `listen` (NULL: a port the kernel
 * picks), for a start that must fail: waits for it to exit, which it must within
 * FX_START_TIMEOUT_MS, and returns its wait status.
 */
int fx_server_run_to_exit(struct fx_server *server, const char *listen);
/* Lines of its log that hold `text`, and whether there is one. */
uint32_t fx_log_count(const struct fx_server *server, const char *text);
bool fx_log_contains(const struct fx_server *server, const char *text);
/* SIGTERM, then waits for it to exit: the exit status must be 0. */
void fx_server_stop(struct fx_server *server);
/* Waits (at most FX_STOP_TIMEOUT_MS) for it to exit by itself and returns its wait
 * status. */
int fx_server_exit_status(struct fx_server *server);
/* For a server the test sent SIGTERM itself (another would stop it at once): waits
 * for it to exit, which must be with status 0. */
void fx_server_wait_stopped(struct fx_server *server);
/* SIGKILL and reap: a crash. */
void fx_server_kill(struct fx_server *server);
/* Kills it if it runs and removes its directory (unless keep_root). Accepts NULL. */
void fx_server_finish(struct fx_server *server);

/* Clients. */

struct box_client *fx_connect(const struct fx_server *server);
/* The next pipelined response on client (waiting up to FX_CALL_TIMEOUT_MS): the index
 * of the request it answers among ids[0, count). The test fails if it answers none. */
uint32_t fx_next_of(struct box_client *client, const uint64_t *ids, uint32_t count,
		    struct box_response *response, const char *what);
/* Raw sockets: connected (SOCK_CLOEXEC), blocking, with or without a HELLO done. */
int fx_raw_connect(const struct fx_server *server, bool hello);
/* The same after a HELLO of version 2; *shard is the shard serving the connection. */
int fx_raw_connect_shard(const struct fx_server *server, uint16_t *shard);
/* Sends every byte; false when the connection broke. */
bool fx_raw_send(int fd, const void *bytes, size_t size);
/*
 * Reads one whole frame into buffer (capacity at least PROTO_HEADER_SIZE). Returns
 * its size, 0 when the server closed the connection first, -ETIMEDOUT, -EMSGSIZE
 * for a frame larger than capacity, or another negative errno.
 */
int fx_raw_frame_read(int fd, uint8_t *buffer, size_t capacity, int timeout_ms);
/* Reads and drops bytes until the server closes the connection (true) or time runs out. */
bool fx_raw_wait_closed(int fd, int timeout_ms);
/*
 * Sends one request frame and reads its answer into buffer (which also builds the
 * frame); the answer must carry the opcode and request id. Returns its status.
 */
enum status fx_raw_call(int fd, uint16_t opcode, uint64_t request_id, const void *payload,
			size_t payload_size, uint8_t *buffer, size_t capacity);
/* The connection still answers: a PING round trip. */
void fx_raw_check_open(int fd);
/* A request frame: header with `opcode` and `request_id`, then the payload. */
size_t fx_frame_build(uint8_t *buffer, size_t capacity, uint16_t opcode, uint64_t request_id,
		      const void *payload, size_t payload_size);

/* The test catalog (see the top of this file) and the usual fixture. */

void fx_catalog_load(struct box_client *client);
struct command fx_show_command(uint32_t show_id);

/*
 * The fixture server of one criterion test: fx_up() makes it (extra flags as for
 * fx_server_init), starts it and loads the catalog; fx_down() is the test's .fini.
 */
struct fx_server *fx_up(const char *const *extra_args);
void fx_down(void);
/* The server fx_up() made. */
struct fx_server *fx_current(void);
/* fx_up(NULL) and a client connected to it; the test's .fini closes it, then fx_down(). */
struct box_client *fx_up_connected(void);
void fx_down_connected(struct box_client **client);

/* Checks a status, naming both in words when they differ. */
#define FX_STATUS_IS(got, want)                                                    \
	cr_assert_eq((got), (want), "status %s, expected %s", status_name(got), \
		     status_name(want))

/* State of a show as clients see it, to compare before and after. */

struct fx_show_state {
	uint32_t show_id;
	struct engine_show show; /* the SHOW response: details and counts per tier */
	uint32_t seats_count;
	uint8_t *states; /* malloc'd: enum seat_state per seat id */
};

void fx_show_state_get(struct box_client *client, uint32_t show_id, struct fx_show_state *state);
/* Fails the test, naming the first difference, unless a and b are equal. */
void fx_show_state_check_equal(const struct fx_show_state *a, const struct fx_show_state *b);
void fx_show_state_finish(struct fx_show_state *state);
/* Seats of a show in a given public state. */
uint32_t fx_seats_in_state(const struct fx_show_state *state, enum seat_state seat_state);

/* Shorthands for blocking calls whose transport must succeed. */

struct engine_result fx_hold_seats(struct box_client *client, uint32_t show_id, uint64_t user_id,
				   uint32_t ttl_ms, const uint32_t *seats, uint8_t count);
struct engine_result fx_hold_best(struct box_client *client, uint32_t show_id, uint64_t user_id,
				  enum tier tier, uint8_t count, bool together);
struct engine_result fx_confirm(struct box_client *client, uint64_t hold_id, uint64_t user_id,
				const char *payment_ref);
struct engine_result fx_release(struct box_client *client, uint64_t hold_id, uint64_t user_id);
/* Any command (a catalog put, a block, ...) and its result. */
struct engine_result fx_command(struct box_client *client, const struct command *command);
struct box_seatmap *fx_seatmap(struct box_client *client, uint32_t show_id);
struct engine_show fx_show(struct box_client *client, uint32_t show_id);
/* The value of a STATS entry (summed over shards), or -1 when missing. */
int64_t fx_stat(struct box_client *client, const char *name);

int64_t fx_now_ms(void);
void fx_sleep_ms(int64_t ms);

#endif
