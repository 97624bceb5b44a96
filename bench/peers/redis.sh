#!/usr/bin/env bash
#
# redis.sh — the Redis 7 peer of boxbench: a throw-away server tuned for the on-sale
# workload, with the same promise as boxoffice (a change is acknowledged only after
# it is on stable storage: appendonly yes, appendfsync always).
#
#   redis.sh start DIR PORT   write DIR/redis.conf, start redis-server on 127.0.0.1:PORT
#                             with its data in DIR, (re)load redis.lua, print host:port
#   redis.sh stop DIR         stop the server (SHUTDOWN NOSAVE: the AOF already holds
#                             every acknowledged change), keep DIR
#   redis.sh destroy DIR      stop the server and remove DIR
#
# The binaries come from REDIS_BIN (default /usr/bin, where Debian's redis-server and
# redis-tools packages put them). Only the address goes to stdout; progress goes to
# stderr and the server's own log to DIR/redis.log.
set -euo pipefail

REDIS_BIN=${REDIS_BIN:-/usr/bin}
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LUA_FILE="$SCRIPT_DIR/redis.lua"
MARKER=boxbench-redis # the first line of redis.conf: proves DIR is ours

die() {
	echo "redis.sh: $*" >&2
	exit 1
}

usage() {
	die "usage: redis.sh start DIR PORT | stop DIR | destroy DIR"
}

# Every value is here for a reason given beside it; the file is rewritten on every
# start, so the reasons and the values cannot drift apart.
write_config() {
	local dir=$1 port=$2
	cat >"$dir/redis.conf" <<EOF
# $MARKER: written by bench/peers/redis.sh; rewritten on every start.

# Loopback only, and no password: nothing outside this machine can reach the server.
# Protected mode only refuses non-loopback clients when no password is set, so it stays
# on as a second guard and never gets in the way of boxbench.
bind 127.0.0.1
port $port
protected-mode yes

daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir
loglevel notice

# The promise: every write goes to the append-only file and is fsynced before the
# replies of its event-loop round are sent (pub/sub messages included), so the
# fsync is a group commit of everything the round processed. The AOF is fsynced
# even while a rewrite runs in the background. A torn tail after a crash can only
# hold a write that was never acknowledged, so loading drops it instead of refusing
# to start.
appendonly yes
appendfsync always
appenddirname "appendonlydir"
no-appendfsync-on-rewrite no
aof-use-rdb-preamble yes
aof-load-truncated yes

# No RDB snapshots: the AOF is the durable copy, and a BGSAVE fork during a run would
# only add a stall (and a second copy) that the promise does not need.
save ""

# Automatic AOF rewrites stay at their defaults: they are how Redis bounds its log and
# its restart time, as boxoffice's snapshots do, so a run that grows the log pays for
# them like a production server would. They are cheap here: a fork (~1.5 ms) and a
# few MB of data written by the child, whatever the size of the log.
auto-aof-rewrite-percentage 100
auto-aof-rewrite-min-size 64mb

# One I/O thread. Every command runs on the main thread anyway (Lua included), and
# the machines this runs on have few cores: reader/writer threads would compete with
# the server and with boxbench for them. Threaded I/O pays off only when the socket
# work of many cores' worth of clients dominates, which a fsync per round does not.
io-threads 1

# boxbench opens up to 'connections' pipelined connections plus three of its own (a
# sweeper, a subscriber for WAIT news, a blocking one for setup and audit). Waiters
# cost no connection (their news comes over one pub/sub connection), so 10,000 is
# plenty; the kernel's somaxconn caps the accept backlog whatever we ask.
maxclients 10000
tcp-backlog 511

# The sweeper and subscriber may sit idle for long stretches: never close an idle
# client, and let keepalive find the dead ones.
timeout 0
tcp-keepalive 300

# The news for every waiter goes through one subscriber connection: a burst of
# thousands of "sold out" messages must never get it disconnected.
client-output-buffer-limit pubsub 0 0 0

# A lost key would be a lost hold or booking: never evict. The working set (50,000
# seats and the holds of a run) is tens of MB.
maxmemory 0
maxmemory-policy noeviction

# Functions are cut into bounded budgets (redis.lua), so they never approach the
# busy-script limit; the default is written down to say so.
busy-reply-threshold 5000

# Housekeeping stays at its defaults: 10 Hz background tasks (expiry of keys, which
# we do not use, and incremental rehashing) cost nothing measurable.
hz 10
dynamic-hz yes
EOF
}

redis_cli() {
	"$REDIS_BIN/redis-cli" -h 127.0.0.1 -p "$1" "${@:2}"
}

# The port the server in DIR was started with, from its config.
config_port() {
	sed -n 's/^port \([0-9]*\)$/\1/p' "$1/redis.conf"
}

is_ours() {
	[ -f "$1/redis.conf" ] && head -n 1 "$1/redis.conf" | grep -q "$MARKER"
}

is_running() {
	local pid
	[ -f "$1/redis.pid" ] || return 1
	pid=$(cat "$1/redis.pid")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

start() {
	local dir=$1 port=$2
	[ -x "$REDIS_BIN/redis-server" ] || die "no $REDIS_BIN/redis-server: install redis-server"
	[[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number"
	[ -r "$LUA_FILE" ] || die "cannot read $LUA_FILE"
	dir=$(realpath -m "$dir")
	if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ] && ! is_ours "$dir"; then
		die "$dir exists, is not empty and is not a redis.sh directory"
	fi
	mkdir -p "$dir"
	if is_running "$dir"; then
		stop "$dir"
	fi
	write_config "$dir" "$port"
	"$REDIS_BIN/redis-server" "$dir/redis.conf"
	# Loading a big AOF can take a while: PING answers LOADING until it is done.
	local i
	for i in $(seq 1 600); do
		if [ "$(redis_cli "$port" PING 2>/dev/null)" = PONG ]; then
			break
		fi
		[ "$i" -lt 600 ] || die "the server did not answer PING within 60 s (see $dir/redis.log)"
		sleep 0.1
	done
	# Functions are part of the dataset (the AOF keeps them); REPLACE makes a restart
	# with an older library pick up the current file.
	# redis-cli exits 0 on an error reply, so the answer itself is checked.
	local loaded
	loaded=$(redis_cli "$port" -x FUNCTION LOAD REPLACE <"$LUA_FILE" 2>&1)
	[ "$loaded" = boxoffice ] || die "FUNCTION LOAD of $LUA_FILE failed: $loaded"
	echo "redis.sh: function library '$loaded' loaded; server in $dir" >&2
	echo "127.0.0.1:$port"
}

stop() {
	local dir=$1 port
	is_ours "$dir" || die "$dir is not a redis.sh directory"
	is_running "$dir" || return 0
	port=$(config_port "$dir")
	local pid
	pid=$(cat "$dir/redis.pid")
	redis_cli "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
	local i
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	die "redis-server $pid did not stop within 10 s"
}

destroy() {
	local dir=$1
	[ -e "$dir" ] || return 0
	# Only a directory this script made (or an empty one) is removed, so that a wrong
	# argument cannot delete anything else.
	if is_ours "$dir"; then
		stop "$dir"
	elif [ -n "$(ls -A "$dir")" ]; then
		die "$dir is not a redis.sh directory: not removing it"
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
