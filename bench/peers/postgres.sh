#!/usr/bin/env bash
#
# postgres.sh — the PostgreSQL 15 peer of boxbench: a throw-away cluster tuned for the
# on-sale workload, with the same promise as boxoffice (a change is acknowledged only
# after it is on stable storage: fsync = on, synchronous_commit = on).
#
#   postgres.sh start DIR PORT   initialise DIR if it is new, start the server on
#                                127.0.0.1:PORT, (re)load postgres.sql, print the conninfo
#   postgres.sh stop DIR         stop the server (fast shutdown), keep DIR
#   postgres.sh destroy DIR      stop the server and remove DIR
#
# The server binaries come from PG_BIN (default /usr/lib/postgresql/15/bin, where
# Debian's postgresql-15 package puts them). PostgreSQL refuses to run as root, so when
# we are root the cluster belongs to the `postgres` user that the package creates and
# every server binary runs through runuser. Only the conninfo goes to stdout; progress
# and the server's own output go to stderr and DIR/server.log.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
DATABASE=boxbench
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SQL_FILE="$SCRIPT_DIR/postgres.sql"

die() {
	echo "postgres.sh: $*" >&2
	exit 1
}

usage() {
	die "usage: postgres.sh start DIR PORT | stop DIR | destroy DIR"
}

# Runs a server binary as the cluster's owner: `postgres` when we are root, else us.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Writes the benchmark settings, included from postgresql.conf so that initdb's file
# stays as it was. Every value is here for a reason given beside it.
write_settings() {
	local dir=$1 port=$2
	cat >"$dir/boxbench.conf" <<EOF
# Written by bench/peers/postgres.sh; rewritten on every start.

# Loopback only: the cluster trusts local connections and must not be reachable from
# outside. The socket goes to DIR so that no system directory has to be writable.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'

# boxbench opens up to 'connections' pipelined connections plus three of its own (a
# sweeper, a LISTEN connection for WAIT, a blocking one for setup and audit). 64 is
# the figure the runs use; 200 leaves room for bigger runs without the per-backend
# memory of thousands of slots.
max_connections = 200

# The promise: nothing is acknowledged before it is on stable storage, and a torn page
# cannot lose an acknowledged change. These are the defaults, written down on purpose.
fsync = on
synchronous_commit = on
full_page_writes = on
wal_sync_method = fdatasync	# what boxoffice's log uses too

# The whole working set (50,000 seats, the holds of a run, the indexes) is a few tens
# of MB: 512 MB keeps all of it cached with room for bloat between vacuums. WAL buffers
# at their useful maximum let a group commit gather many commits in one write.
shared_buffers = 512MB
wal_buffers = 16MB
effective_cache_size = 2GB
random_page_cost = 1.1
work_mem = 16MB
maintenance_work_mem = 256MB

# Group commit. Backends that commit while a WAL flush is in progress already share the
# next one; commit_delay makes the flushing backend wait a little for more commits when
# at least commit_siblings other transactions are open, and costs nothing when it is
# quiet. Measured with 64 connections on a 2-core VM (HOLD_BEST then CONFIRM, 12,000
# each): 0 us gave 25 commits per fdatasync, 20 us 32 and the best rates, 200 us 34
# but 10-20% lower rates (the sleep delays every commit of a CPU-bound server).
commit_delay = 20
commit_siblings = 5

# No checkpoint during a run: a checkpoint writes every dirty page and the first change
# of each page afterwards logs a full page image, both of which would show up as a
# stall that has nothing to do with the workload. Crash recovery replays at most a run.
checkpoint_timeout = 30min
max_wal_size = 16GB
min_wal_size = 1GB
checkpoint_completion_target = 0.9

# Nothing replicates from this cluster: minimal WAL is still crash-safe and makes the
# bulk loads of setup (TRUNCATE then INSERT in one transaction) skip the WAL.
wal_level = minimal
max_wal_senders = 0

# Seats are updated thousands of times a second; without frequent vacuums the partial
# indexes that find free seats fill with dead entries. The tables also set their own
# thresholds (postgres.sql). Vacuum must not be throttled to keep up.
autovacuum_naptime = 1s
autovacuum_vacuum_cost_delay = 0
autovacuum_vacuum_cost_limit = 10000

# The statements are tiny OLTP statements and PL/pgSQL plans: JIT compilation and
# parallel workers only add latency to them (and the machine has few cores).
jit = off
max_parallel_workers_per_gather = 0

# A lock wait between two of our transactions is a bug, but if one happens the victim is
# retried by the client: find it quickly.
deadlock_timeout = 100ms

# Quiet logs: a benchmark server logs only problems.
log_min_messages = warning
log_checkpoints = on
log_lock_waits = on
EOF
	chown postgres:postgres "$dir/boxbench.conf" 2>/dev/null || true
	if ! grep -q "^include_if_exists = 'boxbench.conf'" "$dir/postgresql.conf"; then
		echo "include_if_exists = 'boxbench.conf'" >>"$dir/postgresql.conf"
	fi
}

init_cluster() {
	local dir=$1
	if [ -f "$dir/PG_VERSION" ]; then
		return
	fi
	if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
		die "$dir exists, is not empty and is not a cluster"
	fi
	mkdir -p "$dir"
	chmod 700 "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "no 'postgres' user: is postgresql-15 installed?"
		chown postgres:postgres "$dir"
		if ! runuser -u postgres -- test -x "$dir"; then
			rmdir "$dir"
			die "user postgres cannot reach $dir (a parent is private): use one under /tmp"
		fi
	fi
	# C locale: byte-order comparisons are the fastest and we sort nothing by language.
	# Trust authentication is safe only because the server listens on loopback alone.
	as_owner "$PG_BIN/initdb" -D "$dir" --username=postgres --auth=trust \
		--encoding=UTF8 --locale=C >&2
}

start() {
	local dir=$1 port=$2
	[ -x "$PG_BIN/pg_ctl" ] || die "no $PG_BIN/pg_ctl: install postgresql-15"
	[[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number"
	[ -r "$SQL_FILE" ] || die "cannot read $SQL_FILE"
	dir=$(realpath -m "$dir")
	init_cluster "$dir"
	write_settings "$dir" "$port"
	if as_owner "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
		as_owner "$PG_BIN/pg_ctl" -D "$dir" -m fast stop >&2
	fi
	as_owner touch "$dir/server.log"
	as_owner "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >&2
	local psql=("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres)
	if ! "${psql[@]}" -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" | grep -q 1; then
		"${psql[@]}" -d postgres -c "CREATE DATABASE $DATABASE" >&2
	fi
	# The script is read by us and piped, so the postgres user needs no access to it.
	"${psql[@]}" -d "$DATABASE" -v ON_ERROR_STOP=1 <"$SQL_FILE" >&2
	echo "host=127.0.0.1 port=$port dbname=$DATABASE user=postgres"
}

stop() {
	local dir
	dir=$(realpath -m "$1")
	[ -f "$dir/PG_VERSION" ] || die "$dir is not a cluster"
	if as_owner "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
		as_owner "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >&2
	fi
}

destroy() {
	local dir
	dir=$(realpath -m "$1")
	[ -e "$dir" ] || return 0
	# Only a cluster (or an empty directory) is removed, so that a wrong argument
	# cannot delete anything else.
	if [ -f "$dir/PG_VERSION" ]; then
		stop "$dir"
	elif [ -n "$(ls -A "$dir")" ]; then
		die "$dir is not a cluster: not removing it"
	fi
	rm -rf -- "$dir"
}

case "${1:-}" in
start)
	[ $# -eq 3 ] || usage
	start "$2" "$3"
	;;
stop)
	[ $# -eq 2 ] || usage
	stop "$2"
	;;
destroy)
	[ $# -eq 2 ] || usage
	destroy "$2"
	;;
*)
	usage
	;;
esac
