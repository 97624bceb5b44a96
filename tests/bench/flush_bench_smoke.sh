#!/bin/sh
# flush_bench_smoke.sh — flush_bench runs idle and busy and prints every figure; it leaves
# no file behind, even when killed; it refuses bad arguments, and --busy with no CPU to
# spare. No check of the figures' size: they are this machine's disk.
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

# Every figure once, named after the run, with a number and its unit.
check_figures() { # PREFIX FILE
	awk -v p="$1" '
		$0 ~ "^" p "_o_direct: [01] \\(1 = yes\\)$" { seen["direct"]++ }
		$0 ~ "^" p "_flushes_per_s: [0-9]+ flushes/s$" { seen["rate"]++ }
		$0 ~ "^" p "_flush_mean_us: [0-9.]+ us$" && $2 > 0 { seen["mean"]++ }
		$0 ~ "^" p "_flush_p(50|99|999)_us: [0-9]+ us$" { seen["quantiles"]++ }
		$0 ~ "^" p "_flush_max_us: [0-9]+ us$" { seen["max"]++ }
		$0 ~ "^" p "_flushes_over_[15]ms_per_s: [0-9.]+ flushes/s$" { seen["over"]++ }
		$0 ~ "^" p "_writer_runqueue_wait_ms_per_s: [0-9.]+ ms/s$" { seen["wait"]++ }
		END { exit !(seen["direct"] == 1 && seen["rate"] == 1 && seen["mean"] == 1 &&
			     seen["quantiles"] == 3 && seen["max"] == 1 && seen["over"] == 2 &&
			     seen["wait"] == 1 && NR == 10) }
	' "$2"
}

"$flush_bench" --dir "$work" --seconds 0.2 >"$work/idle" 2>"$work/err" ||
	fail "idle run exited with $?: $(cat "$work/err")"
check_figures idle "$work/idle" || fail "unexpected idle output: $(cat "$work/idle")"
if [ "$(nproc)" -ge 2 ]; then
	"$flush_bench" --dir "$work" --seconds 0.2 --busy 1 >"$work/busy" 2>"$work/err" ||
		fail "busy run exited with $?: $(cat "$work/err")"
	check_figures busy1 "$work/busy" || fail "unexpected busy output: $(cat "$work/busy")"
	taskset -c 0 "$flush_bench" --dir "$work" --seconds 0.2 --busy 1 >/dev/null 2>&1
	[ $? -eq 64 ] || fail "--busy with one CPU allowed was not refused with 64"
fi
rm -f "$work/idle" "$work/busy" "$work/err"

# Killed in the middle of a run: its file must not stay.
"$flush_bench" --dir "$work" --seconds 30 >/dev/null 2>&1 &
pid=$!
sleep 1
kill -KILL $pid
wait $pid 2>/dev/null
[ -z "$(ls -A "$work")" ] || fail "a killed run left $(ls -A "$work") behind"

for args in "--seconds 0" "--seconds abc" "--busy -1" "--busy 1.5" "--busy x" "--frobnicate"; do
	# shellcheck disable=SC2086 # args is a list of options
	"$flush_bench" --dir "$work" $args >/dev/null 2>&1
	[ $? -eq 64 ] || fail "'$args' was not refused with 64"
done
"$flush_bench" --dir "$work/missing" --seconds 0.1 >/dev/null 2>"$work/err" &&
	fail "a missing directory was not refused"
grep -q 'missing' "$work/err" || fail "the error does not name the path: $(cat "$work/err")"
echo "flush_bench_smoke: ok"
