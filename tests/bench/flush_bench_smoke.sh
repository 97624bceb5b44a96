#!/bin/sh
# flush_bench_smoke.sh — flush_bench runs, prints all its figures in order (p50 <= p99 <=
# p99.9 <= max, some flushes made), leaves no file behind and refuses bad arguments.
# No check of the figures' size: they are this machine's disk.
#
# Usage: flush_bench_smoke.sh FLUSH_BENCH
set -u
flush_bench=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/flush-bench-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
fail() {
	echo "flush_bench_smoke: $*" >&2
	exit 1
}

"$flush_bench" --dir "$work" --seconds 0.3 --busy 1 >"$work/out" 2>"$work/err" ||
	fail "exited with $?: $(cat "$work/err")"
awk '
	/^busy1_flushes_per_s: [0-9]+ flushes\/s$/ { rate = $2 }
	/^busy1_flush_p50_us: [0-9]+ us$/ { p50 = $2 }
	/^busy1_flush_p99_us: [0-9]+ us$/ { p99 = $2 }
	/^busy1_flush_p999_us: [0-9]+ us$/ { p999 = $2 }
	/^busy1_flush_max_us: [0-9]+ us$/ { max = $2 }
	/^busy1_flush_mean_us: [0-9]+ us$/ { mean = $2 }
	/^busy1_flushes_over_[15]ms_per_s: [0-9.]+ flushes\/s$/ { over++ }
	END { exit !(rate > 0 && mean > 0 && p50 <= p99 && p99 <= p999 && p999 <= max &&
		     over == 2 && NR == 8) }
' "$work/out" || fail "unexpected output: $(cat "$work/out")"
[ "$(ls "$work" | grep -c flush_bench)" -eq 0 ] || fail "left its file in $work"

"$flush_bench" --dir "$work" --seconds 0 >/dev/null 2>&1
[ $? -eq 64 ] || fail "--seconds 0 was not refused with 64"
"$flush_bench" --dir "$work/missing" --seconds 0.1 >/dev/null 2>"$work/err" &&
	fail "a missing directory was not refused"
grep -q 'missing' "$work/err" || fail "the error does not name the path: $(cat "$work/err")"
echo "flush_bench_smoke: ok"
