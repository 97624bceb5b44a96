/*
 * worker.h — one shard thread: its io_uring, connections, engine, log, parked
 * WAITs, and mailboxes to the other shards. Shared by worker.c (the event loop and
 * sockets), requests.c (what requests do), gathers.c (requests every shard answers)
 * and waits.c (parked WAITs).
 *
 * The data path is one-way: a frame is read and decoded on the connection's
 * worker, runs on the worker that owns its show (handed over through a mailbox when
 * that is another), is logged, and its response waits in the owner's pending queue
 * until the log is durable up to the response's LSN, then goes back to the
 * connection's worker, which writes it to the socket.
 *
 * user_data of every ring request: kind << 56 | detail. Connection requests carry
 * the connection id (generation << 32 | index) in the detail, so a completion for a
 * slot that has since been reused is recognised and dropped. Generations have 24 bits
 * (what fits below the kind), and a freed slot is reused only after every other free
 * one: a response still owed to a closed connection (a parked WAIT lasts minutes)
 * could only reach a later connection after 2^24 reuses of every free slot.
 */
#ifndef BOXOFFICE_NET_WORKER_H
#define BOXOFFICE_NET_WORKER_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>

#include "engine.h"
#include "hashmap.h"
#include "io_uring.h"
#include "mailbox.h"
#include "pending.h"
#include "protocol.h"
#include "wheel.h"
#include "writer.h"

#define WORKERS_MAX 64u
#define CONN_INFLIGHT_MAX 4096u
#define CONN_OUTPUT_MAX (16u << 20)
/* Requests whose answer can be large (proto_answer_may_be_large) in flight per
 * connection; the next one waits, unparsed, until an earlier one is answered. With
 * CONN_OUTPUT_MAX this bounds what a connection's answers can take: a client that never
 * reads is cut off at the output limit before answers it asked for pile up elsewhere. */
#define CONN_LARGE_INFLIGHT_MAX 32u
#define CONN_INPUT_MAX (16u << 20) /* received and not parsed yet */
#define RECV_BUFFER_SIZE 16384u
#define RECV_BUFFERS_COUNT 256u /* a power of two */
#define RECV_BUFFER_GROUP 1
#define MAILBOX_CAPACITY (16u << 20)
#define TICK_MS 10
#define WAL_TAG 0x57u

enum op_kind {
	OP_ACCEPT = 1,
	OP_RECV = 2,
	OP_SEND = 3,
	OP_TICK = 4,
	OP_MAILBOX = 5,
	OP_WAKE = 6,
	OP_CLOSE = 7,
	OP_IGNORE = 8,
	/* WAL_TAG: the log's requests (io_uring.h) */
};

static inline uint64_t op_data(enum op_kind kind, uint64_t detail)
{
	return (uint64_t)kind << 56 | detail;
}

enum conn_state { CONN_FREE = 0, CONN_OPEN = 1, CONN_CLOSING = 2 };

#define CONN_GENERATION_MASK 0xffffffu

struct conn {
	int fd;
	uint32_t generation; /* CONN_GENERATION_MASK bits */
	uint8_t state; /* enum conn_state */
	bool hello_done;
	bool recv_armed;
	bool send_in_flight;
	/* Ending (conn_settle): reading no more requests, and closing once every answer
	 * owed is sent. */
	bool close_after_send; /* a fatal framing error was answered (since ending_since_ms) */
	bool lingering;	       /* ...and all is sent: the client's end of the stream is awaited */
	bool peer_closed;      /* the client ended its side of the stream */
	bool reading_stopped;  /* the server is stopping: parse nothing more */
	bool parsing_paused;   /* CONN_LARGE_INFLIGHT_MAX reached: the rest waits in `in` */
	bool resume_listed;    /* on the worker's list of connections to parse again */
	uint32_t requests_in_flight; /* answered later: pending, forwarded or parked */
	uint32_t large_in_flight;    /* of those, ones whose answer may be large */
	int64_t last_activity_ms;
	int64_t ending_since_ms;
	int64_t linger_since_ms;
	/* Bytes received and not yet parsed: a frame's beginning, or, while parsing is
	 * paused, everything from the frame that waits (at most CONN_INPUT_MAX). */
	uint8_t *in;
	uint32_t in_head; /* parsed bytes at the front of `in`, dropped lazily */
	uint32_t in_size;
	uint32_t in_capacity;
	/* Output is double-buffered: the kernel reads `out` while a send is in flight,
	 * so new responses go to `next` (which may grow), and the two swap when `out`
	 * has been sent. */
	uint8_t *out; /* being sent: [out_head, out_size) */
	uint32_t out_head;
	uint32_t out_size;
	uint32_t out_capacity;
	uint8_t *next; /* waiting for the send in flight */
	uint32_t next_size;
	uint32_t next_capacity;
	uint32_t next_free;
};

/* A request answered by several shards: catalog puts, stats, snapshots. */
struct gather {
	bool used;
	uint32_t next_free; /* while not used: the next free gather, or UINT32_MAX */
	uint16_t opcode;
	uint16_t worker; /* the worker that owns the connection */
	uint64_t conn_id;
	uint64_t request_id;
	uint32_t waiting;
	enum status status;
	struct engine_result result;
	int64_t stats[PROTO_STATS_COUNT_MAX];
	uint32_t stats_count;
	uint64_t snapshot_lsn[WORKERS_MAX];
};

/* A parked WAIT, on the show's owner. */
struct parked {
	uint64_t key; /* show id << 32 ^ user id (see waits.c), 0 when free */
	uint32_t show_id;
	uint64_t user_id;
	uint64_t conn_id;
	uint64_t request_id;
	uint16_t worker;
	struct timer_node timer;
	uint32_t next; /* same key, or the free list */
	uint32_t prev; /* same key; UINT32_MAX for the first (the map's) */
};

/* Messages over mailboxes. */
enum message_kind {
	MESSAGE_REQUEST = 1,	/* u16 origin, u64 conn id, then a whole request frame */
	MESSAGE_RESPONSE = 2,	/* u64 conn id, then a whole response frame */
	MESSAGE_APPLY = 3,	/* u16 origin, u32 gather, then a catalog-put request frame */
	MESSAGE_APPLY_DONE = 4, /* u32 gather, u16 status, then a result payload */
	MESSAGE_STATS = 5,	/* u16 origin, u32 gather */
	MESSAGE_STATS_DONE = 6, /* u32 gather, u16 count, count x (u8 id, i64 value) */
	MESSAGE_SNAPSHOT = 7,	/* u16 origin, u32 gather */
	MESSAGE_SNAPSHOT_DONE = 8, /* u32 gather, u64 lsn */
	MESSAGE_CATALOG_PUT = 9,   /* to shard 0: u16 origin, u64 conn id, then the put's frame */
};

/* A message that did not fit its mailbox, waiting to be pushed again. */
struct outbound {
	uint32_t kind;
	uint32_t size;
	uint8_t *bytes;
};

struct server;

struct worker_counters {
	uint64_t requests;
	uint64_t responses;
	uint64_t forwarded;
	uint64_t overloaded;
	uint64_t connections_accepted;
	uint64_t connections_closed;
	uint64_t connections_refused; /* past --max-connections */
	uint64_t bad_frames;
};

struct worker {
	uint32_t index;
	struct server *server;
	pthread_t thread;
	struct io_uring ring;
	bool ring_disabled; /* created disabled by the main thread; enabled by the worker */
	int ring_fd;	    /* for other workers' MSG_RING wake-ups */
	int listen_fd;
	int wake_fd; /* an eventfd the main thread writes to stop the worker */
	uint64_t wake_value;
	/* After a failed accept (no descriptors left, say), accepting waits for a tick
	 * rather than failing again at once: when to accept again (0: accepting). */
	int64_t accept_again_ms;
	uint64_t accept_failures;	  /* since the last warning */
	int64_t accept_warned_ms;	  /* when the last warning was logged */
	struct io_uring_buf_ring *recv_ring;
	uint8_t *recv_buffers;
	struct __kernel_timespec tick_interval;
	int64_t now_ms; /* never goes back */
	uint32_t ticks;

	struct conn *conns;
	/* Each slot's generation while its connection is open, anything else once closed:
	 * read by other shards to skip reads nobody is left to receive. */
	_Atomic uint32_t *conns_live;
	uint32_t conns_slots; /* of conns_live: no connection index reaches it */
	uint32_t conns_count; /* slots in use or ever used */
	uint32_t conns_capacity;
	uint32_t conns_free;	  /* first free slot, reused first */
	uint32_t conns_free_tail; /* last free slot: a slot freed now is reused last */
	uint32_t conns_open;

	struct engine *engine;
	struct wal_position wal_position; /* where recovery left the log */
	/* Catalog puts shard 0 accepted that this shard's log could not take yet (its
	 * buffer full, its next segment not ready), oldest first: applied, in that order
	 * and before any later one, as soon as the log takes them. */
	struct deferred_apply *deferred_head, *deferred_tail;
	struct wal_writer *writer;
	struct wal_io_uring wal_io;
	uint64_t catalog_lsn; /* LSN of the last catalog change appended here */
	uint64_t records_since_snapshot;
	int64_t snapshot_last_ms;
	struct engine_image snapshot_image; /* captured, waiting for its LSN to be durable */
	uint64_t snapshot_lsn;		    /* of the image; 0 when none is pending */
	bool snapshot_writing;
	uint64_t snapshot_jobs_sent; /* to the snapshot thread, one at a time */
	/* Set by the snapshot thread: the LSN of the last snapshot written, the result of
	 * the last job, then (last, with release) that job's number. */
	_Atomic uint64_t snapshot_written_lsn;
	_Atomic int snapshot_error;
	_Atomic uint64_t snapshot_jobs_done;
	/* Who asked for this snapshot: origin << 32 | gather (gather indexes are 32-bit). */
	uint64_t *snapshot_gathers; /* origin << 32 | gather, each waiting for the snapshot */
	uint32_t snapshot_gathers_count;
	uint32_t snapshot_gathers_capacity;

	struct pending_queue pending; /* answers waiting for the log */

	struct gather *gathers;
	uint32_t gathers_capacity;
	uint32_t gathers_made;	/* gathers[0, made) have been used */
	uint32_t gathers_free;	/* a list through next_free; UINT32_MAX when empty */
	uint32_t gathers_open;	/* in use: waiting for shards' replies */

	struct parked *parked;
	uint32_t parked_count;
	uint32_t parked_capacity;
	uint32_t parked_free;
	struct u64map parked_by_key; /* key → first parked index */
	struct wheel parked_wheel;
	uint32_t *parked_due;
	uint32_t parked_due_count;
	uint32_t parked_due_capacity;

	struct mailbox *inbox[WORKERS_MAX]; /* from worker i to this one */
	bool wake_pending[WORKERS_MAX];	    /* this loop pushed to worker i */
	struct outbound *outbound[WORKERS_MAX];
	uint32_t outbound_count[WORKERS_MAX];
	uint32_t outbound_capacity[WORKERS_MAX];
	uint8_t *scratch; /* a frame's worth, for mailbox messages that wrap */
	uint8_t *frame;	  /* a frame's worth, for encoding responses */
	uint8_t *record;  /* COMMAND_SIZE_MAX, for encoding log records */

	/* Connections whose parsing paused and may go on: ids, parsed again after the
	 * batch of completions that answered them (see conns_resume). */
	uint64_t *resumes;
	uint32_t resumes_count;
	uint32_t resumes_capacity;

	struct worker_counters counters;
	bool stopping;
	int64_t stopping_since_ms;
	_Atomic bool drained; /* stopping, and nothing in flight here (see worker.c) */
	int exit_code;
};

/* worker.c */
void *worker_main(void *argument);
int worker_ring_init(struct worker *worker);
struct conn *worker_conn(struct worker *worker, uint64_t conn_id);
void conn_output(struct worker *worker, struct conn *conn, const uint8_t *bytes, uint32_t size);
/* Bytes of responses not yet handed to the kernel. */
uint32_t conn_output_pending(const struct conn *conn);
void conn_close(struct worker *worker, struct conn *conn, const char *why);
/* A fatal framing error was answered: the connection reads no more requests and ends
 * once it has sent what it owes. */
void conn_end_after_answers(struct worker *worker, struct conn *conn);
/* One of the connection's requests in flight has its answer (or will never have one). */
void conn_request_done(struct worker *worker, struct conn *conn, uint16_t opcode);
uint64_t conn_id_of(const struct worker *worker, const struct conn *conn);
/* Whether a connection of another worker has closed (safe from any shard). */
bool conn_gone(const struct worker *owner, uint64_t conn_id);
/* ...or its client has ended its side of the stream: it sends no more requests. */
bool conn_sends_no_more(const struct worker *owner, uint64_t conn_id);
int64_t worker_clock(struct worker *worker);
bool worker_push(struct worker *worker, uint32_t target, uint32_t kind, const void *first,
		 uint32_t first_size, const void *second, uint32_t second_size, bool may_queue);

/* requests.c */
void requests_frame(struct worker *worker, struct conn *conn, const uint8_t *frame,
		    uint32_t size);
void requests_message(struct worker *worker, uint32_t kind, const uint8_t *bytes, uint32_t size);
void requests_tick(struct worker *worker);
void requests_release(struct worker *worker);
/* Queues a response frame for (worker, conn) once the log is durable up to lsn. */
void pending_add(struct worker *worker, uint64_t required_lsn, uint16_t target_worker,
		 uint8_t kind, uint64_t target, const uint8_t *bytes, uint32_t size);
uint64_t worker_appended_lsn(const struct worker *worker);
void requests_error(struct worker *worker, struct conn *conn, uint16_t opcode,
		    uint64_t request_id, enum status status);
/* Polls a waiting-list entry (logged, as every poll is); returns the LSN it needs. */
uint64_t requests_poll(struct worker *worker, uint32_t show_id, uint64_t user_id,
		       struct engine_result *result);
/*
 * Applies a command on this shard and appends what must be logged. Returns the LSN
 * its response depends on, or 0 with result->status OVERLOADED when the log cannot
 * take a record now (the command was not applied).
 */
uint64_t requests_command_run(struct worker *worker, const struct command *command,
			      struct engine_result *result);
/* A writer over the worker's frame buffer, for one response. */
void requests_frame_writer(struct worker *worker, struct bytes_writer *writer);

/* gathers.c: requests every shard answers (catalog puts, stats, snapshots) */
/* Opens a gather on this worker for a request every shard answers; its index. */
uint32_t gathers_open(struct worker *worker, const struct proto_request *request,
		      uint16_t origin, uint64_t conn_id);
/* A shard's part of a gather this worker opened. */
void gathers_reply(struct worker *worker, uint32_t gather_index, const uint8_t *bytes,
		   uint32_t size);
/* Shard 0 decides a catalog put; an accepted one goes to every shard. */
void gathers_catalog_decide(struct worker *worker, const struct proto_request *request,
			    uint16_t origin, uint64_t conn_id, const uint8_t *frame, uint32_t size);
/* This shard's part of an accepted put: applied now, or once the log can take it. */
void gathers_apply_or_defer(struct worker *worker, uint16_t origin, uint32_t gather,
			    const uint8_t *frame, uint32_t size);
/* Applies the deferred puts the log can take now, in order. */
void gathers_deferred_run(struct worker *worker);
/* Frees the puts still deferred when the worker ends. */
void gathers_finish(struct worker *worker);
void gathers_stats_answer(struct worker *worker, uint16_t origin, uint32_t gather);
void gathers_snapshot_request(struct worker *worker, uint16_t origin, uint32_t gather);
/* Takes snapshots by policy, writes them once durable, and answers who asked. */
void gathers_snapshot_progress(struct worker *worker);

/* waits.c */
int waits_init(struct worker *worker);
void waits_finish(struct worker *worker);
void waits_park(struct worker *worker, uint16_t origin, uint64_t conn_id, uint64_t request_id,
		uint32_t show_id, uint64_t user_id, uint32_t timeout_ms);
/* Answers the parked WAITs that the engine's events concern, gated by lsn. */
void waits_notify(struct worker *worker, const struct engine_event *events, uint32_t count,
		  uint64_t lsn);
/* Answers the parked WAITs of a user who left the line with "not found", gated by lsn. */
void waits_left(struct worker *worker, uint32_t show_id, uint64_t user_id, uint64_t lsn);
/* Answers WAITs whose timeout passed (or all of them, when stopping). */
void waits_expire(struct worker *worker, bool all);
/* Drops the parked WAITs whose connection has closed (on any worker): nobody is left
 * to answer, and their timeouts would poll the entry for nobody. Those whose client
 * has ended its side of the stream are answered now: their connection closes once
 * they are. */
void waits_orphans_drop(struct worker *worker);

#endif
