#!/usr/bin/env bash
#
# run.sh — runs the benchmarks and writes bench/RESULTS.md.
#
#   bash bench/run.sh [--quick] [--runs N] [--onsale-runs N] [PART...]
#
# PART is any of: engine wal net onsale (default: all four). Each part writes
# bench/results/PART.md (and, for onsale, its plots and raw JSON); RESULTS.md is then put
# together from every part file present, so one part can be measured again alone.
#
#   engine   engine_bench, N runs: operations per second and bytes, medians
#   wal      wal_bench, N runs: durable records/s under group commit, replay, recovery of
#            10,000,000 records (1,000,000 with --quick), snapshots
#   net      a boxoffice server on loopback and net_bench, N runs per figure: requests/s and
#            latency at 1, 64 and 1,024 connections, pipelined and not; durable holds at half
#            the maximum rate; memory per idle connection; and flush_bench, the disk's own
#            flush latency with the other CPUs idle and busy
#   onsale   boxbench's on-sale workload against boxoffice, PostgreSQL 15 and Redis 7 on
#            this machine: the maximum sustained rate (closed loop, the best of 64, 256 and
#            1,024 operations in flight) and the same open-loop spikes for all three
#
# --quick makes every run short (a check that the script works, not figures to quote);
# --runs N sets the repetitions medians are taken over (default 5, 1 with --quick);
# --onsale-runs N the repetitions of every on-sale run, each about 40 s (default 3).
# The script installs what it needs from Debian (PostgreSQL, Redis, their client
# libraries, gnuplot, python3), builds a release build in build-bench/, and starts and stops
# every server itself, on 127.0.0.1 only, with its data in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source tools/setup.sh

quick=no
runs=
onsale_runs=
parts=()
while (($# > 0)); do
	case "$1" in
	--quick) quick=yes ;;
	--runs)
		runs=$2
		shift
		;;
	--onsale-runs)
		onsale_runs=$2
		shift
		;;
	engine | wal | net | onsale) parts+=("$1") ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "run.sh: unknown argument $1 (try --help)" >&2
		exit 64
		;;
	esac
	shift
done
((${#parts[@]} > 0)) || parts=(engine wal net onsale)
[ -n "$runs" ] || { [ $quick = yes ] && runs=1 || runs=5; }
[ -n "$onsale_runs" ] || { [ $quick = yes ] && onsale_runs=1 || onsale_runs=3; }

# PostgreSQL and Redis are installed without starting Debian's own instances (policy-rc.d
# says no): the benchmark starts its own, in temporary directories.
bench_packages=(python3 gnuplot-nox libpq-dev libhiredis-dev iproute2)
[[ " ${parts[*]} " == *" onsale "* ]] && bench_packages+=(postgresql-15 redis-server)
if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" -eq 0 ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
setup_packages "${bench_packages[@]}"
rm -f /usr/sbin/policy-rc.d 2>/dev/null || true
trap - EXIT
setup_build build-bench --buildtype=release -Dtests=false
build=$root/build-bench

results=$root/bench/results
mkdir -p "$results"
work=$(mktemp -d "${TMPDIR:-/tmp}/boxoffice-bench.XXXXXX")
chmod 711 "$work" # PostgreSQL's cluster inside belongs to the postgres user
server_pid=
server_data=
pg_dir=
redis_dir=
cleanup() {
	[ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" || true
	[ -n "$pg_dir" ] && bash bench/peers/postgres.sh destroy "$pg_dir" >/dev/null 2>&1 || true
	[ -n "$redis_dir" ] && bash bench/peers/redis.sh destroy "$redis_dir" >/dev/null 2>&1 ||
		true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

say() { echo "== $*" >&2; }

# boxoffice on an ephemeral port with a fresh data directory; sets server_pid and address.
server_start() {
	server_data=$work/data-$RANDOM
	"$build/tools/boxoffice" --listen 127.0.0.1:0 --port-file "$work/port" --data "$server_data" \
		--log-level warn "$@" >"$work/server.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		[ -s "$work/port" ] && break
		sleep 0.1
	done
	[ -s "$work/port" ] || {
		cat "$work/server.log" >&2
		exit 1
	}
	address=127.0.0.1:$(cat "$work/port")
	rm -f "$work/port"
}

server_stop() {
	kill -TERM "$server_pid"
	wait "$server_pid" || true
	server_pid=
	rm -rf "$server_data"
}

report() { python3 bench/report.py "$@"; }

# Ends a part's file with when, at which commit and on which machine it was measured.
# Uncommitted changes count only outside the results this script writes.
stamp() {
	local dirty cpu
	dirty=$(git status --porcelain --untracked-files=no -- . ':!bench/results' ':!bench/RESULTS.md')
	cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
	printf '\nMeasured %s at commit %s%s on %s CPUs (%s), %s GiB, Debian %s, Linux %s.\n' \
		"$(date -u '+%Y-%m-%d %H:%M UTC')" "$(git rev-parse --short HEAD)" \
		"${dirty:+ (with uncommitted changes)}" "$(nproc)" "$cpu" \
		"$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" \
		"$(cat /etc/debian_version)" "$(uname -r)" >>"$1"
}

# A free loopback port at or above $1, below the ephemeral range (so that no client
# connection can be holding it when the server binds it).
free_port() {
	local port=$1
	while ss -Htan "( sport = :$port )" | grep -q .; do
		port=$((port + 1))
	done
	echo "$port"
}

part_engine() {
	say "engine: engine_bench x $runs"
	local args=()
	[ $quick = yes ] && args=(--quick)
	for i in $(seq "$runs"); do
		"$build/bench/engine_bench" "${args[@]}" >"$work/engine.$i"
	done
	report medians --title "Engine (one core, in memory)" \
		--command "build-bench/bench/engine_bench ${args[*]}  (x $runs)" \
		"$work"/engine.* >"$results/engine.md"
	stamp "$results/engine.md"
}

part_wal() {
	say "wal: wal_bench x $runs"
	local args=(--dir "$work/wal")
	[ $quick = yes ] && args+=(--quick --records 1000000)
	for i in $(seq "$runs"); do
		rm -rf "$work/wal"
		"$build/bench/wal_bench" "${args[@]}" >"$work/wal.$i"
	done
	rm -rf "$work/wal"
	report medians --title "Write-ahead log (this machine's disk)" \
		--command "build-bench/bench/wal_bench ${args[*]/$work/\$TMP}  (x $runs)" \
		"$work"/wal.* >"$results/wal.md"
	stamp "$results/wal.md"
}

part_net() {
	local seconds=5
	[ $quick = yes ] && seconds=1
	say "net: net_bench, $runs runs per figure, a fresh server for each figure"
	local cases=(
		"--op holds --connections 1 --pipeline 1"
		"--op holds --connections 64 --pipeline 1"
		"--op holds --connections 64 --pipeline 1 --shard-aware"
		"--op holds --connections 1024 --pipeline 1"
		"--op holds --connections 1 --pipeline 32"
		"--op holds --connections 64 --pipeline 32"
		"--op holds --connections 64 --pipeline 128"
		"--op holds --connections 64 --pipeline 128 --shard-aware"
		"--op holds --connections 1024 --pipeline 8"
		"--op show --connections 64 --pipeline 1"
		"--op ping --connections 64 --pipeline 1"
		"--op ping --connections 64 --pipeline 32"
	)
	local c i
	# The disk alone, with the other CPUs idle, then busy: the floor under every durable
	# figure below.
	local others=$(($(nproc) - 1))
	say "net: flush_bench x $runs, idle and with $others other CPUs busy"
	for i in $(seq "$runs"); do
		"$build/bench/flush_bench" --dir "$work" --seconds $seconds >>"$work/net.$i"
		((others == 0)) || "$build/bench/flush_bench" --dir "$work" --seconds $seconds \
			--busy "$others" >>"$work/net.$i"
	done
	# One server per figure, so that no figure depends on what the ones before it left
	# in the log (its size, a snapshot falling due).
	for c in "${cases[@]}"; do
		server_start
		for i in $(seq "$runs"); do
			# shellcheck disable=SC2086 # c is a list of options
			"$build/bench/net_bench" --server "$address" --seconds $seconds $c \
				>>"$work/net.$i"
		done
		server_stop
	done
	# Durable holds offered open loop at half the maximum rate: the best median of the
	# pipelined rows (the log's group commit gains from more requests in flight, as on
	# the on-sale part a system gets the depth it needs for its peak). 128 in flight per
	# connection leaves the open loop room to queue.
	local max half
	max=$(report pipelined-best durable "$work"/net.*)
	half=$(python3 -c "print(int($max / 2))")
	server_start
	for i in $(seq "$runs"); do
		"$build/bench/net_bench" --server "$address" --seconds $seconds --op holds \
			--connections 64 --pipeline 128 --rate "$half" |
			sed 's/^durable_requests_per_s_64conn_pipeline128/half_max_durable_requests_per_s/;
			     s/^latency_/half_max_latency_/' >>"$work/net.$i"
	done
	server_stop
	# Memory per idle connection, each time on a fresh server (a server that already
	# held 10,000 connections would not grow again).
	for i in $(seq "$runs"); do
		server_start
		"$build/bench/net_bench" --server "$address" --idle 10000 --server-pid "$server_pid" \
			>>"$work/net.$i"
		server_stop
	done
	report net --title "Server over loopback (durability on, 2 workers, load generator on the same 2 cores)" \
		--command "build-bench/tools/boxoffice --listen 127.0.0.1:0 --data \$TMP; build-bench/bench/net_bench --server ADDRESS --seconds $seconds OPTIONS  (x $runs)" \
		"$work"/net.* >"$results/net.md"
	stamp "$results/net.md"
}

# One boxbench run: onsale_run NAME TARGET ADDRESS [boxbench options...]
onsale_run() {
	local name=$1 target=$2 addr=$3
	shift 3
	# boxoffice's client routes each request to its show's shard, as a gateway speaking
	# protocol version 2 can (PROTOCOL.md, "Shard-aware clients").
	[ "$target" = boxoffice ] && set -- --shard-aware "$@"
	say "onsale: $name"
	"$build/bench/boxbench" --target "$target" --address "$addr" --profile onsale \
		--connections 64 --json --quiet "$@" \
		>"$results/onsale-$name.json" 2>"$work/onsale-$name.txt" || {
		echo "boxbench $name failed:" >&2
		tail -20 "$work/onsale-$name.txt" >&2
		return 1
	}
}

# A fresh server of an on-sale system; its address goes to $addr.
onsale_target_start() {
	case $1 in
	boxoffice)
		server_start
		addr=$address
		;;
	postgres)
		pg_dir=$work/postgres
		addr=$(bash bench/peers/postgres.sh start "$pg_dir" "$(free_port 25432)")
		;;
	redis)
		redis_dir=$work/redis
		addr=$(bash bench/peers/redis.sh start "$redis_dir" "$(free_port 26379)")
		;;
	esac
}

# Stops that server and removes its data.
onsale_target_stop() {
	case $1 in
	boxoffice) server_stop ;;
	postgres)
		bash bench/peers/postgres.sh destroy "$pg_dir" >/dev/null
		pg_dir=
		;;
	redis)
		bash bench/peers/redis.sh destroy "$redis_dir" >/dev/null
		redis_dir=
		;;
	esac
}

part_onsale() {
	local closed_s=10 pre=5 spike=2 post=10 drain=20 rates=(20 100 400) depths=(64 256 1024)
	[ $quick = yes ] && closed_s=2 pre=1 spike=1 post=1 drain=5 rates=(20) depths=(64)
	local common=(--hold-ttl-ms 10000 --think-ms 500:3000 --drain-s $drain --seed 1)
	rm -f "$results"/onsale-*
	local target addr rate depth k plot
	# Rounds of every run, so that a slow spell of the machine lands on all three
	# systems alike; the report takes the median run of each. Plots: the first round.
	# Every run gets a fresh server of its system, so that none carries what the runs
	# before it left (waiting lines, bookings, a longer log).
	for k in $(seq "$onsale_runs"); do
		for target in boxoffice postgres redis; do
			# The maximum rate is each system's best over several depths of operations
			# in flight: a system that needs more concurrency for its peak gets it.
			for depth in "${depths[@]}"; do
				onsale_target_start "$target"
				onsale_run "$target-closed-$depth-$k" "$target" "$addr" --mode closed \
					--rate "$depth" --duration $closed_s "${common[@]}"
				onsale_target_stop "$target"
			done
			for rate in "${rates[@]}"; do
				plot=()
				[ "$k" = 1 ] && plot=(--csv "$results/onsale-$target-open-$rate.csv"
					--plot "$results/onsale-$target-open-$rate.png"
					--plot-script bench/plot.gp)
				onsale_target_start "$target"
				onsale_run "$target-open-$rate-$k" "$target" "$addr" --baseline-rate "$rate" \
					--spike-factor 50 --pre-s $pre --spike-s $spike --post-s $post \
					"${plot[@]}" "${common[@]}"
				onsale_target_stop "$target"
			done
		done
	done
	report onsale --rates "${rates[*]}" --depths "${depths[*]}" --runs "$onsale_runs" \
		--results "$results" \
		--command "bash bench/run.sh onsale$([ $quick = yes ] && echo ' --quick')" \
		>"$results/onsale.md"
	stamp "$results/onsale.md"
}

for part in "${parts[@]}"; do
	"part_$part"
done
report assemble --quick $quick --results "$results" >bench/RESULTS.md
say "wrote bench/RESULTS.md"
