#!/usr/bin/env bash
# boxwal_test.sh — boxwal end to end on real logs: a clean log verifies and replays
# to the digest its writer printed; a torn tail, a flipped byte and a damaged
# snapshot are each reported with their own exit code; truncate cuts where asked
# and refuses what would lose the log's consistency or a directory in use; usage
# errors exit 64.
#
# Usage: boxwal_test.sh BOXWAL LOGWRITER
#   LOGWRITER DIR STEPS [--snapshot-every N] [--seed S] writes a durable log of
#   random commands and prints the final digest (tests/wal/logwriter.c).
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 BOXWAL LOGWRITER" >&2
	exit 64
fi
BOXWAL=$1
LOGWRITER=$2
WORK=$(mktemp -d "${TMPDIR:-/tmp}/boxwal-test-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Enough steps for two segments (the test config uses the smallest segment size),
# few enough to stay well under a second.
STEPS=30000
SEED=7

TOOL=boxwal
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"

# Runs boxwal; leaves the exit status in $rc and the output in $WORK/out, err.
run() {
	rc=0
	"$BOXWAL" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
}

# A field of replay --json ($FIELD); empty when replay fails, which the check reports.
replay_field() {
	"$BOXWAL" replay "$@" --json 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$FIELD" \
			2>/dev/null || true
}
stats_records() { "$BOXWAL" stats "$1" | awk '$1 == "records" { print $2 }'; }
stats_last_lsn() { "$BOXWAL" stats "$1" | awk '$1 == "LSN" && $2 == "range" { split($3, r, "[.][.]"); print r[2] }'; }
# The last segment holding records and the offset where its data ends.
stats_data_end() { "$BOXWAL" stats "$1" | awk '/ bytes used$/ { f = $1; e = $(NF - 4) } END { print f, e }'; }

# --- a clean log -------------------------------------------------------------
digest=$("$LOGWRITER" "$WORK/plain" "$STEPS" --seed "$SEED")
expect_eq "${#digest}" 16 "logwriter prints a 16-digit digest"
segments=$(find "$WORK/plain" -name 'segment-*.wal' | wc -l)
[[ $segments -ge 2 ]] || fail "the log should span several segments, has $segments"

expect_rc 0 "verify: a clean log is sound" verify "$WORK/plain"
expect_grep '^ok: ' "$WORK/out" "verify prints a summary"

expect_rc 0 "replay a clean log" replay "$WORK/plain"
expect_grep "^digest  *$digest\$" "$WORK/out" "replay prints the writer's digest"
FIELD=digest
expect_eq "$(replay_field "$WORK/plain")" "$digest" "replay --json digest"
FIELD=last_lsn
last=$(replay_field "$WORK/plain")

expect_rc 0 "dump --limit 5" dump "$WORK/plain" --limit 5
expect_eq "$(wc -l <"$WORK/out")" 5 "dump --limit 5 prints 5 records"
expect_rc 0 "dump --limit 5 --json" dump "$WORK/plain" --limit 5 --json
expect_eq "$(wc -l <"$WORK/out")" 5 "dump --json --limit 5 prints 5 lines"
if "$BOXWAL" dump "$WORK/plain" --json |
	python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]'; then
	pass "every line of dump --json parses"
else
	fail "dump --json output does not parse"
fi
"$BOXWAL" dump "$WORK/plain" --from "$last" >"$WORK/out"
expect_grep "^ *$last .* flush " "$WORK/out" "dump --from the last LSN: a flush end"

expect_eq "$(stats_records "$WORK/plain")" "$last" "stats: record count = last LSN"
# One flush at a time writes format version 1 (wal/FORMAT.md), which stats names.
expect_eq "$("$BOXWAL" stats "$WORK/plain" | awk '/ bytes used$/ && $3 != "1" { n++ } END { print n + 0 }')" 0 \
	"stats: every segment of a log written one flush at a time is version 1"
expect_eq "$(stats_last_lsn "$WORK/plain")" "$last" "stats: LSN range ends at the last LSN"

# --- a torn tail: bytes after the last record of the last segment ------------
cp -r "$WORK/plain" "$WORK/torn"
read -r segment end < <(stats_data_end "$WORK/torn") || fail "stats gives no data end"
python3 - "$WORK/torn/$segment" "$end" <<'EOF'
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(int(sys.argv[2]))
    f.write(b'\xde\xad\xbe\xef' * 16)
EOF
expect_rc 2 "verify: a torn tail exits 2" verify "$WORK/torn"
expect_grep "^torn tail at $segment offset $end: 64 bytes" "$WORK/out" "verify names the torn tail"
expect_rc 0 "replay a torn log (read-only)" replay "$WORK/torn"
expect_grep "^digest  *$digest\$" "$WORK/out" "replay of a torn log keeps every record"
expect_rc 0 "dump a torn log" dump "$WORK/torn" --from "$last"
expect_grep "torn tail" "$WORK/err" "dump says where a torn log stops"
expect_rc 0 "truncate at the last LSN cuts the torn tail" truncate "$WORK/torn" --at "$last"
expect_rc 0 "verify after the cut" verify "$WORK/torn"

# --- corruption: a flipped byte in the middle of the first segment -----------
cp -r "$WORK/plain" "$WORK/corrupt"
first_end=$("$BOXWAL" stats "$WORK/corrupt" | awk '/ bytes used$/ { print $(NF - 4); exit }')
python3 - "$WORK/corrupt/segment-00000001.wal" "$((first_end / 2))" <<'EOF'
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(int(sys.argv[2]))
    byte = f.read(1)[0]
    f.seek(int(sys.argv[2]))
    f.write(bytes([byte ^ 0xff]))
EOF
expect_rc 3 "verify: a flipped byte exits 3" verify "$WORK/corrupt"
expect_grep "^corruption at segment-00000001.wal offset " "$WORK/out" "verify names the corruption"
expect_rc 3 "replay refuses a corrupt log" replay "$WORK/corrupt"
expect_grep "refused" "$WORK/err" "replay says it refused"
expect_rc 3 "dump refuses a corrupt log" dump "$WORK/corrupt"
expect_rc 0 "dump --force prints the valid prefix" dump "$WORK/corrupt" --force
valid=$(awk 'END { print $1 }' "$WORK/out")
[[ $valid -gt 0 && $valid -lt $last ]] || fail "dump --force: prefix ends at '$valid'"
expect_rc 3 "truncate cannot keep records past the corruption" \
	truncate "$WORK/corrupt" --at "$((valid + 1))" --force
expect_rc 0 "truncate at the last record before the corruption" \
	truncate "$WORK/corrupt" --at "$valid"
expect_rc 0 "verify after the repair" verify "$WORK/corrupt"
FIELD=last_lsn
expect_eq "$(replay_field "$WORK/corrupt")" "$valid" "replay after the repair"

# --- truncate on a clean log ---------------------------------------------------
cp -r "$WORK/plain" "$WORK/cut"
cut=$((last / 2))
expect_rc 3 "truncate past the end is refused" truncate "$WORK/cut" --at "$((last + 1))"
# A running server holds an exclusive flock on each shard's directory; truncate must
# not cut a log that is being written.
exec {lock_fd}<"$WORK/cut"
flock --exclusive "$lock_fd"
expect_rc 1 "truncate of a directory in use is refused" truncate "$WORK/cut" --at "$cut"
expect_grep "in use by another process" "$WORK/err" "the refusal says the directory is in use"
expect_eq "$(stats_records "$WORK/cut")" "$last" "the refused truncate changed nothing"
exec {lock_fd}<&-
expect_rc 0 "truncate --at $cut" truncate "$WORK/cut" --at "$cut"
expect_rc 0 "verify after truncate" verify "$WORK/cut"
expect_eq "$(replay_field "$WORK/cut")" "$cut" "replay's last LSN is the cut"
expect_eq "$(stats_records "$WORK/cut")" "$cut" "stats after truncate"

# --- snapshots -----------------------------------------------------------------
snap_digest=$("$LOGWRITER" "$WORK/snap" "$STEPS" --seed "$SEED" --snapshot-every 4000)
expect_eq "$snap_digest" "$digest" "same commands, same digest with snapshots"
expect_rc 0 "verify a log with snapshots" verify "$WORK/snap"
FIELD=digest
expect_eq "$(replay_field "$WORK/snap")" "$digest" "replay from a snapshot"
mapfile -t snapshots < <(cd "$WORK/snap" && ls snapshot-*.snap)
[[ ${#snapshots[@]} -eq 2 ]] || fail "expected 2 snapshots, found ${#snapshots[@]}"
newest=${snapshots[-1]}
newest_lsn=$((16#${newest:9:16}))
cp -r "$WORK/snap" "$WORK/snapcut"
python3 - "$WORK/snap/$newest" <<'EOF'
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(100)
    byte = f.read(1)[0]
    f.seek(100)
    f.write(bytes([byte ^ 1]))
EOF
expect_rc 4 "verify: a damaged snapshot exits 4" verify "$WORK/snap"
expect_grep "^damaged snapshot $newest" "$WORK/out" "verify names the damaged snapshot"
expect_grep "falls back to snapshot LSN" "$WORK/out" "verify says recovery falls back"
FIELD=snapshot_fallback
expect_eq "$(replay_field "$WORK/snap")" True "replay falls back to the older snapshot"
FIELD=digest
expect_eq "$(replay_field "$WORK/snap")" "$digest" "the fallback gives the same state"

below=$((newest_lsn - 10))
expect_rc 3 "truncate below the newest snapshot is refused" truncate "$WORK/snapcut" --at "$below"
expect_grep "ahead of the log" "$WORK/err" "the refusal says why"
expect_rc 0 "truncate --force below the newest snapshot" \
	truncate "$WORK/snapcut" --at "$below" --force
[[ ! -e "$WORK/snapcut/$newest" ]] || fail "truncate --force left $newest"
expect_rc 0 "verify after the forced cut" verify "$WORK/snapcut"
FIELD=last_lsn
expect_eq "$(replay_field "$WORK/snapcut")" "$below" "replay after the forced cut"

# --- usage ---------------------------------------------------------------------
expect_rc 64 "no arguments"
expect_rc 64 "unknown command" frobnicate "$WORK/plain"
expect_rc 64 "unknown option" dump "$WORK/plain" --frobnicate
expect_rc 64 "option of another command" verify "$WORK/plain" --json
expect_rc 64 "option without its value" dump "$WORK/plain" --limit
expect_rc 64 "not a number" dump "$WORK/plain" --limit many
expect_rc 64 "truncate without --at" truncate "$WORK/plain"
expect_rc 64 "no directory" verify
expect_rc 0 "--help" --help
expect_grep "exit status" "$WORK/out" "--help documents the exit codes"
for command in verify dump replay stats truncate; do
	expect_rc 0 "$command --help" "$command" --help
done
expect_rc 1 "a missing directory is an I/O error" verify "$WORK/missing"
mkdir -p "$WORK/odd/segment-00000002.wal"
expect_rc 1 "a directory named like a segment is an I/O error" verify "$WORK/odd"
expect_grep "Is a directory" "$WORK/err" "which says what it found"

checks_finish
