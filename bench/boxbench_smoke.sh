#!/bin/sh
# boxbench_smoke.sh — a quick end-to-end check of the network benchmarks against a
# real server: starts boxoffice on an ephemeral port with a temporary data directory
# and the demo catalog, runs a few seconds of on-sale at a low rate (plain, then
# shard-aware) and a short browse run, and checks that every audit passes and that the
# CSV, PNG and JSON outputs exist; then runs net_bench briefly, closed and open loop, and checks that every request
# was answered ok. About 20 seconds. A check of timing would be flaky on a shared
# machine, so there is none.
#
# Usage: boxbench_smoke.sh [BOXBENCH [BOXOFFICE [PLOT_SCRIPT [NET_BENCH]]]]
# (defaults: build/bench/boxbench, build/tools/boxoffice, bench/plot.gp from the
# source tree this script is in, build/bench/net_bench). Exit 0 on success, 1 on failure, 77 (skip) when a
# program is missing.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
boxbench=${1:-$root/build/bench/boxbench}
boxoffice=${2:-$root/build/tools/boxoffice}
plot_script=${3:-$here/plot.gp}
net_bench=${4:-$root/build/bench/net_bench}

for program in "$boxbench" "$boxoffice" "$net_bench"; do
	if [ ! -x "$program" ]; then
		echo "boxbench_smoke: $program is not built: skipped"
		exit 77
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/boxbench-smoke.XXXXXX")
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then
		kill -TERM "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

fail() {
	echo "boxbench_smoke: FAIL: $*"
	for log in "$work"/*.err "$work/server.log"; do
		[ -f "$log" ] && { echo "--- $log"; tail -n 30 "$log"; }
	done
	exit 1
}

# Two workers, whatever the machine, so that requests cross shards as in production.
"$boxoffice" --listen 127.0.0.1:0 --port-file "$work/port" --data "$work/data" --demo \
	--workers 2 --log-level warn >"$work/server.log" 2>&1 &
server_pid=$!
tries=0
while [ ! -s "$work/port" ]; do
	tries=$((tries + 1))
	[ $tries -gt 100 ] && fail "the server did not start within 10 s"
	kill -0 "$server_pid" 2>/dev/null || fail "the server exited at start"
	sleep 0.1
done
address=127.0.0.1:$(cat "$work/port")

have_gnuplot=no
command -v gnuplot >/dev/null 2>&1 && have_gnuplot=yes
plot_args=
[ $have_gnuplot = yes ] && plot_args="--plot $work/onsale.png --plot-script $plot_script"

# On-sale: ~25 users/s, a x10 spike for a second, 1 s holds.
# shellcheck disable=SC2086 # plot_args is a list of words
"$boxbench" --target boxoffice --address "$address" --profile onsale --connections 4 \
	--baseline-rate 25 --spike-factor 10 --pre-s 1 --spike-s 1 --post-s 1 \
	--hold-ttl-ms 1000 --think-ms 50:300 --wait-timeout-ms 1000 --drain-s 8 --seed 7 \
	--csv "$work/onsale.csv" $plot_args --json --quiet \
	>"$work/onsale.json" 2>"$work/onsale.err"
status=$?
[ $status -eq 0 ] || fail "on-sale run exited with $status (1: the audit failed)"

grep -q '"passed": true' "$work/onsale.json" || fail "on-sale JSON does not say the audit passed"
grep -q '"SEATMAP"' "$work/onsale.json" || fail "on-sale JSON has no SEATMAP statistics"
grep -q '"CONFIRM"' "$work/onsale.json" || fail "on-sale JSON has no CONFIRM statistics"
grep -q '^second,phase,users_arrived' "$work/onsale.csv" || fail "the CSV has no header"
rows=$(($(wc -l <"$work/onsale.csv") - 1))
[ $rows -ge 3 ] || fail "the CSV has $rows seconds, expected at least 3"
if [ $have_gnuplot = yes ]; then
	[ -s "$work/onsale.png" ] || fail "no PNG plot was written"
else
	echo "boxbench_smoke: gnuplot is not installed: the PNG is not checked"
fi

# The same on-sale from a shard-aware client: each request goes to its show's shard.
"$boxbench" --target boxoffice --address "$address" --profile onsale --connections 4 \
	--baseline-rate 25 --spike-factor 10 --pre-s 1 --spike-s 1 --post-s 1 \
	--hold-ttl-ms 1000 --think-ms 50:300 --wait-timeout-ms 1000 --drain-s 8 --seed 7 \
	--shard-aware --json --quiet >"$work/aware.json" 2>"$work/aware.err"
status=$?
[ $status -eq 0 ] || fail "shard-aware on-sale run exited with $status (1: the audit failed)"
grep -q '"passed": true' "$work/aware.json" || fail "shard-aware JSON does not say the audit passed"
grep -q '"shard_aware": true' "$work/aware.json" || fail "shard-aware JSON does not say so"

# Browse: the demo catalog, with a booking every 50 views so that a few happen.
"$boxbench" --target boxoffice --address "$address" --profile browse --connections 4 \
	--rate 300 --duration 2 --views-per-booking 50 --seed 7 --json --quiet \
	>"$work/browse.json" 2>"$work/browse.err"
status=$?
[ $status -eq 0 ] || fail "browse run exited with $status (1: the audit failed)"
grep -q '"passed": true' "$work/browse.json" || fail "browse JSON does not say the audit passed"
for op in SEARCH SHOW SEATMAP EVENT; do
	grep -q "\"$op\"" "$work/browse.json" || fail "browse JSON has no $op statistics"
done

# net_bench: durable holds and releases, pipelined, then from a shard-aware client; then
# pings, open loop.
for args in "--op holds --connections 8 --pipeline 4" \
	"--op holds --connections 8 --pipeline 4 --shard-aware" \
	"--op ping --connections 4 --rate 2000"; do
	# shellcheck disable=SC2086 # args is a list of words
	"$net_bench" --server "$address" --seconds 1 $args >"$work/net.out" 2>"$work/net.err" ||
		fail "net_bench $args exited with $?"
	grep -Eq '^(durable|durable_aware|ping)_requests_per_s_[0-9a-z_]+: [1-9][0-9]* requests/s$' \
		"$work/net.out" ||
		fail "net_bench $args reported no requests: $(cat "$work/net.out")"
	grep -Eq '^latency_p99_us: [0-9]+ us$' "$work/net.out" || fail "net_bench $args: no p99"
	grep -Eq '^statuses: ok=[0-9]+$' "$work/net.out" ||
		fail "net_bench $args: a request was not ok: $(grep statuses "$work/net.out")"
done

echo "boxbench_smoke: ok"
exit 0
