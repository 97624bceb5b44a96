/*
 * server.h — the boxoffice server: start-up (recovery of every shard, catalog
 * reconciliation, the demo catalog), the shard threads, the snapshot thread,
 * signals and shutdown.
 */
#ifndef BOXOFFICE_NET_SERVER_H
#define BOXOFFICE_NET_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mailbox.h"

#define SERVER_PATH_SIZE 1024u
/* Direct log writes in flight per shard (wal_writer_config.flushes): see ARCHITECTURE.md. */
#define SERVER_LOG_FLUSHES_DEFAULT 1u

/* The smallest queue between two shards that takes any message (a largest frame
 * and its header): the least test_mailbox_bytes below may ask. */
#define MAILBOX_CAPACITY_MIN (2u << 20)

struct server_config {
	char host[256];
	char port[16];	  /* "0": any free port (see port_file) */
	char data_dir[SERVER_PATH_SIZE];
	char port_file[SERVER_PATH_SIZE]; /* where to write the bound port; "" for none */
	uint32_t workers;		  /* 0: as many as CPUs (or as the data dir has) */
	uint32_t max_connections;
	uint32_t idle_timeout_s;
	bool demo; /* load the demo catalog into an empty catalog */
	uint64_t demo_seed;
	bool demo_seed_given; /* --demo-seed: its seed differing from the one used is said */
	bool pin; /* pin worker i to CPU i */
	uint64_t segment_size;
	uint32_t log_flushes; /* direct flushes in flight per shard, 1 … WAL_FLUSHES_MAX */
	uint64_t snapshot_every_records;
	uint32_t snapshot_every_s;
	uint32_t hold_ttl_ms;
	uint32_t waitlist_idle_ms;
	/* For tests ($BOXOFFICE_TEST_FAIL_SYNC): each shard's n-th durable write or sync
	 * of its log fails (wal_io_uring_fail_at); 0: none. */
	uint32_t test_fail_sync_at;
	/* For tests ($BOXOFFICE_TEST_MAILBOX_BYTES): the bytes of each queue between two
	 * shards instead of MAILBOX_CAPACITY, at least MAILBOX_CAPACITY_MIN; 0: the default. */
	uint32_t test_mailbox_bytes;
};

void server_config_default(struct server_config *config);
/* For a log that could not be prepared: what takes the space when the disk is full
 * ("" for other errors). */
const char *server_space_hint(int error);

struct worker;

struct snapshot_job {
	struct worker *worker;
	uint64_t lsn;
	uint64_t number; /* the worker's count of jobs sent, this one included */
};

struct server {
	struct server_config config;
	struct worker *workers;
	uint32_t workers_count;
	struct mailbox *mailboxes; /* [from * workers_count + to] */
	int *dir_fds;		   /* per shard */
	int data_fd;		   /* the data directory, locked while the server runs */
	_Atomic uint32_t connections;
	_Atomic bool stopping;
	_Atomic bool failed;	  /* a worker failed: the process exits non-zero */
	bool port_file_written;	  /* removed at the end, so that no one reads a stale port */
	pthread_t snapshot_thread;
	pthread_mutex_t snapshot_lock;
	pthread_cond_t snapshot_cond;
	struct snapshot_job snapshot_jobs[64];
	uint32_t snapshot_jobs_count;
	bool snapshot_quit;
	int64_t started_ms;
};

/* Runs until SIGTERM/SIGINT (returns 0) or a failure (returns non-zero). */
int server_run(const struct server_config *config);

/* Hands the worker's captured snapshot image to the snapshot thread. */
void server_snapshot_submit(struct server *server, struct worker *worker);

#endif
