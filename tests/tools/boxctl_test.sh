#!/usr/bin/env bash
# boxctl_test.sh — boxctl end to end against a real server (ephemeral loopback port,
# temporary data directory) with the example catalog: loading it (twice: idempotent)
# and a bad one, every query, holds explicit and best-available, confirm, release,
# cancel, the waiting list's refusal, block, stats, snapshot; --json output read
# back; refusals exit 1 naming the status in words, usage errors 64, a server that
# cannot be reached 2; and, on a second server with the smallest log segments, a
# catalog load that the server answers "overloaded" in part still loads everything.
# boxwal then replays the server's shard directories as they are, without being told
# the shard index or count.
#
# Usage: boxctl_test.sh BOXCTL BOXOFFICE CATALOG.json BOXWAL
set -euo pipefail

if [[ $# -ne 4 ]]; then
	echo "usage: $0 BOXCTL BOXOFFICE CATALOG.json BOXWAL" >&2
	exit 64
fi
BOXCTL=$1
BOXOFFICE=$2
CATALOG=$3
BOXWAL=$4
WORK=$(mktemp -d "${TMPDIR:-/tmp}/boxctl-test-XXXXXX")
server_pid=
cleanup() {
	if [[ -n "$server_pid" ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

TOOL=boxctl
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"

# server_start DATA [ARGS...]: starts a server on DATA; sets server_pid and SERVER.
server_start() {
	local data=$1
	shift
	rm -f "$WORK/port"
	"$BOXOFFICE" --listen 127.0.0.1:0 --port-file "$WORK/port" --data "$data" \
		--workers 2 --no-pin "$@" >"$WORK/server.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 200); do
		[[ -s "$WORK/port" ]] && break
		sleep 0.05
	done
	[[ -s "$WORK/port" ]] || {
		cat "$WORK/server.log" >&2
		echo "FAIL: the server did not start" >&2
		exit 1
	}
	SERVER=127.0.0.1:$(cat "$WORK/port")
}

# server_stop WHAT: SIGTERM, and checks the exit status 0.
server_stop() {
	kill -TERM "$server_pid"
	rc=0
	wait "$server_pid" || rc=$?
	server_pid=
	expect_eq "$rc" "0" "$1"
}

server_start "$WORK/data"

# Runs boxctl against the server; leaves the exit status in $rc, output in out, err.
run() {
	rc=0
	"$BOXCTL" --server "$SERVER" --no-color "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
}

# json EXPRESSION: evaluates a Python expression over the last --json output (d).
# Debian's own python3 first: it is there with meson, and starts quickly.
PYTHON=$(command -v /usr/bin/python3 || command -v python3)
json() {
	"$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$WORK/out" "$1" 2>/dev/null || echo "(no JSON)"
}

# --- catalog -------------------------------------------------------------------
expect_rc 0 "catalog load" --json catalog load "$CATALOG"
expect_eq "$(json '[d["loaded"], d["locations"], d["venues"], d["events"], d["shows"]]')" \
	"[14, 2, 3, 4, 5]" "catalog load counts every kind"
expect_rc 0 "catalog load again (puts are idempotent)" --json catalog load "$CATALOG"
echo '{"locations": [{"id": 0, "name": "Nowhere", "country": "PT"}]}' >"$WORK/bad.json"
expect_rc 64 "a bad catalog file is refused before anything is sent" catalog load "$WORK/bad.json"
expect_grep "locations\[0\]" "$WORK/err" "the error names the entry"
expect_rc 64 "a missing catalog file" catalog load "$WORK/missing.json"

# --- queries -------------------------------------------------------------------
expect_rc 0 "locations" --json locations
expect_eq "$(json '[l["id"] for l in d["locations"]]')" "[501, 502]" "both locations, in id order"
expect_rc 0 "events at a location" --json events 501
expect_eq "$(json '[e["id"] for e in d["events"]]')" "[50001, 50002]" "the location's events"
expect_rc 0 "event" --json event 50003
expect_eq "$(json 'd["title"]')" "Orquestra Sinfonica: Mahler 5" "the event's title"
expect_rc 0 "venue" --json venue 5002
expect_eq "$(json 'd["name"]')" "Casa da Musica" "the venue's name"
expect_rc 0 "show" --json show 500004
expect_eq "$(json '[d["tiers"]["vip"]["seats"], d["tiers"]["vip"]["available"]]')" "[32, 32]" \
	"the show's vip seats, all available"
expect_rc 0 "search by keyword" --json search fado
expect_eq "$(json 'sorted(h["show_id"] for h in d["hits"])')" "[500001, 500002]" \
	"the keyword finds the fado shows only"
expect_rc 1 "an unknown show is refused" show 999999
expect_grep "not found" "$WORK/err" "the refusal names the status in words"

# --- holds and bookings --------------------------------------------------------
expect_rc 0 "hold explicit seats" --json hold 500004 --user 1 --seats 1-9,1-10
hold=$(json 'd["hold_id"]')
expect_eq "$(json '[s["label"] for s in d["seats"]]')" "['Plateia 1-9', 'Plateia 1-10']" \
	"the hold names its seats"
expect_rc 1 "a taken seat is refused" --json hold 500004 --user 2 --seats 1-10,1-11
expect_eq "$(json '[d["status"], [s["label"] for s in d["seats"]]]')" \
	"['seat unavailable', ['Plateia 1-10']]" "seat unavailable names the taken seat"
expect_grep "seat unavailable" "$WORK/err" "stderr says seat unavailable"
expect_rc 1 "confirm by another user" confirm "$hold" --user 2 --payment-ref pay-x
expect_grep "not owner" "$WORK/err" "not owner in words"
expect_rc 0 "confirm" --json confirm "$hold" --user 1 --payment-ref pay-1
expect_eq "$(json 'd["status"]')" "ok" "the confirm is ok"
expect_rc 0 "show after the confirm" --json show 500004
expect_eq "$(json 'd["tiers"]["vip"]["booked"]')" "2" "two vip seats booked"
expect_rc 0 "seat map" seatmap 500004
expect_grep "Plateia" "$WORK/out" "the seat map draws the sections"
expect_grep "BB" "$WORK/out" "the booked seats are marked"

expect_rc 0 "hold best available, together" --json hold 500004 --user 3 --tier regular --count 2 \
	--together
best=$(json 'd["hold_id"]')
expect_eq "$(json 'd["seats"][1]["id"] - d["seats"][0]["id"]')" "1" "the two seats are adjacent"
expect_eq "$(json '{s["tier"] for s in d["seats"]}')" "{'regular'}" "in the tier asked for"
expect_rc 0 "release" release "$best" --user 3
expect_rc 0 "eight seats for one user" --json hold 500004 --user 8 --tier economy --count 8
eight=$(json 'd["hold_id"]')
expect_rc 1 "three more pass the show's limit" hold 500004 --user 8 --tier economy --count 3
expect_grep "would pass the show's limit of 10 seats" "$WORK/err" "the refusal gives the limit"
expect_rc 0 "release the eight" release "$eight" --user 8
expect_rc 1 "release again" release "$best" --user 3
expect_rc 1 "a show not on sale yet" hold 500001 --user 3 --tier vip
expect_grep "not on sale" "$WORK/err" "not on sale in words"
expect_rc 1 "the waiting list while seats are available" waitlist join 500004 --user 5 --tier vip
expect_grep "seats available" "$WORK/err" "seats available in words"
expect_rc 0 "block seats" block 500004 --seats 20-21
expect_rc 1 "a blocked seat cannot be held" hold 500004 --user 6 --seats 1-21
expect_rc 0 "unblock them" --json unblock 500004 --seats 20-21
expect_eq "$(json '[d["status"], d["first"], d["count"]]')" "['ok', 20, 2]" "--json names the range"
expect_rc 1 "unblocking seats that are not blocked" unblock 500004 --seats 20-21
expect_grep "are not blocked" "$WORK/err" "says they are not blocked, not taken"
expect_rc 64 "a block past the venue's last seat" block 500004 --seats 20-100000
expect_grep "goes past them" "$WORK/err" "the refusal says the range is too long"
expect_rc 64 "an empty --seats range" block 500004 --seats ''

expect_rc 0 "cancel the booking" --json cancel "$hold"
expect_eq "$(json 'd["booking_cancelled"]')" "True" "the booking is cancelled"
expect_rc 0 "show after the cancel" --json show 500004
expect_eq "$(json '[d["tiers"]["vip"]["booked"], d["tiers"]["vip"]["available"]]')" "[0, 32]" \
	"the seats are back"

# --- operators -----------------------------------------------------------------
expect_rc 0 "stats" --json stats
# "bookings" counts booking records, the cancelled one included.
expect_eq "$(json '[d["stats"]["bookings"], d["stats"]["holds_active"]]')" "[1, 0]" \
	"stats count the booking made and no hold left"
expect_rc 0 "ping" --json ping
expect_eq "$(json '[d["protocol"], d["workers"], d["shard"] in (0, 1)]')" "[2, 2, True]" \
	"ping names the protocol version, the shards and the connection's shard"
expect_rc 0 "ping, as text" ping
expect_grep "this connection on shard [01]" "$WORK/out" "and so does its text"
expect_rc 0 "snapshot" --json snapshot
expect_eq "$(json 'len(d["snapshot_lsns"]) == 2 and min(d["snapshot_lsns"]) > 0')" "True" \
	"a snapshot LSN per shard"

# --- errors --------------------------------------------------------------------
expect_rc 64 "an unknown command" nosuch
expect_rc 64 "a hold without --user" hold 500004 --seats 1-1
expect_rc 64 "a hold whose --seats names no seat" --json hold 500004 --user 1 --seats ,
expect_eq "$(json '[d["error"], d["about"]]')" "['usage', '--seats names no seat: give a comma-separated list of seats']" \
	"with --json, a usage error is an object on stdout too"
expect_rc 64 "an unknown option before --json" --bogus stats --json
expect_eq "$(json 'd["error"]')" "usage" "is one too"
expect_rc 64 "--near that is not a number" search --near nan,nan --radius-km 10
rc=0
"$BOXCTL" --server 127.0.0.1:112837 ping >"$WORK/out" 2>"$WORK/err" || rc=$?
expect_eq "$rc" "64" "a port out of range"
expect_grep "port of --server" "$WORK/err" "and it says which"
rc=0
BOXOFFICE_SERVER=garbage "$BOXCTL" stats >"$WORK/out" 2>"$WORK/err" || rc=$?
expect_eq "$rc" "64" "a server address from the environment that is not HOST:PORT"
expect_grep '\$BOXOFFICE_SERVER must be HOST:PORT' "$WORK/err" "names the environment, not --server"
expect_rc 64 "an option given twice" hold 500004 --user 1 --user 2 --seats 1-1
expect_grep "\-\-user is given twice" "$WORK/err" "and it says which"
expect_rc 64 "a seat named twice in one hold" hold 500004 --user 1 --seats "1-1,#0"
expect_grep "names seat #0 twice" "$WORK/err" "the refusal names the seat"
expect_rc 64 "a search whose --from is after its --to" search --from 2027-02-01 --to 2027-01-01
expect_grep "after --to" "$WORK/err" "and it says so"
expect_rc 64 "an --after start out of range" search --after 99999999999999999999:1
expect_rc 64 "a negative --after start" search --after -1:5
expect_rc 64 "an --after show id out of range" search --after 1:99999999999
expect_rc 64 "a payment reference over 64 bytes" confirm 0000000100000001 --user 1 \
	--payment-ref "$(printf 'r%.0s' $(seq 65))"
expect_grep "65 bytes; at most 64" "$WORK/err" "and it says how long it is"
expect_rc 1 "the events of a location that does not exist" events 99999
expect_eq "$(wc -c <"$WORK/out")" "0" "print nothing on stdout"
# A listener that never answers: --timeout-ms bounds the handshake too (5 s otherwise).
"$PYTHON" -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); time.sleep(30)' >"$WORK/silent.port" &
silent_pid=$!
for _ in $(seq 50); do [[ -s "$WORK/silent.port" ]] && break; sleep 0.1; done
started=$(date +%s%N)
rc=0
"$BOXCTL" --server "127.0.0.1:$(cat "$WORK/silent.port")" --timeout-ms 200 ping \
	>"$WORK/out" 2>"$WORK/err" || rc=$?
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
kill "$silent_pid" 2>/dev/null || true
wait "$silent_pid" 2>/dev/null || true
expect_eq "$rc" "2" "a server that never answers the handshake exits 2"
if ((elapsed_ms < 3000)); then pass "within --timeout-ms 200 ($elapsed_ms ms)"; else
	fail "--timeout-ms 200 took $elapsed_ms ms to give up on the handshake"; fi

# --- names with spaces, and what --json makes of catalog loads ---------------------
cat >"$WORK/spaces.json" <<'JSON'
{"locations": [{"id": 9, "name": "Here", "country": "AT", "lat": 48.2, "lon": 16.4}],
 "venues": [{"id": 9, "location": 9, "name": "Spaces", "lat": 48.2, "lon": 16.4,
   "sections": [{"name": "Upper Circle", "rows": [{"name": "Box 1", "seats": 4, "tier": "vip"}]}]}],
 "events": [{"id": 9, "location": 9, "title": "Spaced", "type": "comedy", "duration_min": 60}],
 "shows": [{"id": 9, "event": 9, "venue": 9, "start": "2030-01-01T20:00:00Z", "currency": "EUR",
   "prices": {"vip": 100, "regular": 0, "economy": 0}, "sale_opens": "2026-01-01T00:00:00Z"}]}
JSON
expect_rc 0 "a catalog with spaces in section and row names" --json catalog load "$WORK/spaces.json"
expect_rc 0 "a seat held by its label as printed" --json hold 9 --user 1 --seats "Upper Circle Box 1-2"
expect_eq "$(json '[s["label"] for s in d["seats"]]')" "['Upper Circle Box 1-2']" \
	"the label printed is the one given"
# Section "Upper Circle" row "A" and section "Upper" row "Circle A" print alike.
sed 's/"id": 9,/"id": 10,/g; s/"location": 9,/"location": 10,/; s/"event": 9, "venue": 9/"event": 10, "venue": 10/;
     s/"sections": \[.*\]}\]}\],/"sections": [{"name": "Upper Circle", "rows": [{"name": "A", "seats": 4, "tier": "vip"}]}, {"name": "Upper", "rows": [{"name": "Circle A", "seats": 4, "tier": "vip"}]}]}],/' \
	"$WORK/spaces.json" >"$WORK/alike.json"
expect_rc 0 "a catalog whose labels print alike" --json catalog load "$WORK/alike.json"
expect_rc 64 "a label as printed that names two seats" hold 10 --user 1 --seats "Upper Circle A-1"
expect_grep "more than one seat" "$WORK/err" "and it says so"
expect_rc 0 "the same seat with its section spelt out" --json hold 10 --user 1 \
	--seats "Upper Circle:A-1"
expect_eq "$(json '[s["id"] for s in d["seats"]]')" "[0]" "the seat of section Upper Circle"
sed 's/"name": "Box 1", "seats": 4/"names": ["Box 1", "Box 1"], "seats": 4/' "$WORK/spaces.json" \
	>"$WORK/twice.json"
expect_rc 64 "a row name used twice in a section" catalog load "$WORK/twice.json"
expect_grep 'row name "Box 1" is used twice' "$WORK/err" "the refusal names the row"
sed 's/"name": "Box 1", "seats": 4/"name": "Box\\t1", "seats": 4/' "$WORK/spaces.json" >"$WORK/tab.json"
expect_rc 64 "a row name with a control character" catalog load "$WORK/tab.json"
expect_grep "without control characters" "$WORK/err" "the refusal says what is wrong with it"
expect_rc 64 "a directory for a catalog file" catalog load "$WORK"
expect_grep "is a directory" "$WORK/err" "and it says so"
sed 's/"start": "2030-01-01T20:00:00Z"/"start": "1969-12-31T20:00:00Z"/' "$WORK/spaces.json" \
	>"$WORK/early.json"
expect_rc 64 "a show starting before 1970" catalog load "$WORK/early.json"
expect_grep "start must be from 1970 to 9999" "$WORK/err" "the refusal names the field"
sed 's/"vip": 100,/"vip": 1000000000001,/' "$WORK/spaces.json" >"$WORK/dear.json"
expect_rc 64 "a price above the limit" catalog load "$WORK/dear.json"
expect_grep "prices.vip must be" "$WORK/err" "the refusal names the price"
sed 's/"title": "Spaced"/"title": "Spa\\u0007ced"/' "$WORK/spaces.json" >"$WORK/bell.json"
expect_rc 64 "a title with a control character" catalog load "$WORK/bell.json"
expect_grep "title must not contain control characters" "$WORK/err" "the refusal names the title"
echo '{}' >"$WORK/empty.json"
expect_rc 0 "an empty catalog" --json catalog load "$WORK/empty.json"
expect_eq "$(json 'd["loaded"]')" "0" "an empty catalog loads nothing, as JSON"
sed 's/"name": "Spaces"/"name": "Other"/' "$WORK/spaces.json" >"$WORK/spaces-clash.json"
expect_rc 1 "a catalog load with a clash" --json catalog load "$WORK/spaces-clash.json"
expect_eq "$(json '[d["status"], d["about"]]')" "['already exists', 'venues[0] (venue 9)']" \
	"a refused load is one JSON object naming the entry"
# References are checked against the file and the server before anything is sent:
# a location that is new in the file stays unloaded when an event names a missing one.
cat >"$WORK/dangling.json" <<'JSON'
{"locations": [{"id": 11, "name": "New", "country": "AT", "lat": 48.2, "lon": 16.4}],
 "events": [{"id": 11, "location": 99999, "title": "Nowhere", "type": "comedy", "duration_min": 60}]}
JSON
expect_rc 1 "a catalog naming a location that exists nowhere" --json catalog load "$WORK/dangling.json"
expect_eq "$(json '[d["status"], d["about"]]')" \
	"['not found', 'events[0] (event 11): location 99999 is neither in the file nor on the server; nothing was loaded']" \
	"the refusal names the entry and the missing location"
expect_rc 0 "locations after it" --json locations
expect_eq "$(json '11 in [l["id"] for l in d["locations"]]')" "False" "and nothing of that file was loaded"
# A show may name an event and a venue the server has, not only the file's.
cat >"$WORK/on-server.json" <<'JSON'
{"shows": [{"id": 12, "event": 9, "venue": 9, "start": "2030-02-01T20:00:00Z",
   "end": "2030-02-01T22:00:00Z", "currency": "EUR",
   "prices": {"vip": 100, "regular": 0, "economy": 0}, "sale_opens": "2026-01-01T00:00:00Z"}]}
JSON
expect_rc 0 "a show of an event and a venue already on the server" --json catalog load "$WORK/on-server.json"
expect_eq "$(json 'd["shows"]')" "1" "it is loaded"
sed 's/"venue": 9/"venue": 77/' "$WORK/on-server.json" >"$WORK/no-venue.json"
expect_rc 1 "a show of a venue that exists nowhere" catalog load "$WORK/no-venue.json"
expect_grep "venue 77 is neither in the file nor on the server" "$WORK/err" "the refusal names the venue"
# Event 9 is at location 9, venue 10 (alike.json) at location 10.
sed 's/"id": 12,/"id": 13,/; s/"venue": 9/"venue": 10/' "$WORK/on-server.json" >"$WORK/elsewhere.json"
expect_rc 1 "a show whose venue is not at its event's location" catalog load "$WORK/elsewhere.json"
expect_grep "event 9 is at location 9 but venue 10 at location 10" "$WORK/err" \
	"the refusal names both locations"
rc=0
"$BOXCTL" --server 127.0.0.1:1 stats >"$WORK/out" 2>"$WORK/err" || rc=$?
expect_eq "$rc" "2" "a server that cannot be reached exits 2"
expect_grep "cannot connect" "$WORK/err" "and says so"
rc=0
"$BOXCTL" --server 127.0.0.1:1 --json stats >"$WORK/out" 2>"$WORK/err" || rc=$?
expect_eq "$rc" "2" "with --json too"
expect_eq "$(json 'd["error"] + ": " + d["about"]')" \
	"connection: cannot connect to 127.0.0.1:1: Connection refused" "and says so on stdout"

server_stop "the server stops on SIGTERM with exit 0"

# --- boxwal on the server's shards ------------------------------------------------
# Without snapshots the shard count comes from the data directory's "shards" file,
# the index from the directory's name; each shard owns some shows, together all.
cp -r "$WORK/data" "$WORK/data-copy"
rm -f "$WORK"/data-copy/shard-*/snapshot-*
owned=()
for shard in 0 1; do
	rc=0
	"$BOXWAL" replay "$WORK/data-copy/shard-$shard" --json >"$WORK/out" 2>"$WORK/err" || rc=$?
	expect_eq "$rc" "0" "boxwal replay of shard $shard, without --shard or --shards"
	expect_eq "$(json 'd["snapshot_lsn"]')" "None" "shard $shard replays from the first record"
	owned+=("$(json 'd["shows_owned"]')")
	shows=$(json 'd["shows"]')
done
rc=0
(cd "$WORK/data-copy/shard-1" && "$BOXWAL" replay . --json) >"$WORK/out" 2>"$WORK/err" || rc=$?
expect_eq "$rc,$(json 'd["shows_owned"]')" "0,${owned[1]}" "boxwal replay . inside shard-1 knows it is shard 1"
expect_eq "$(json "[0 < $((owned[0])) < $shows, $((owned[0] + owned[1])) == $shows]")" \
	"[True, True]" "the shards own ${owned[*]} of the $shows shows between them"

# --- a catalog load while the server is overloaded -----------------------------
# Segments of the smallest size (524,392 bytes) take five of these venues (8,192
# rows each, about 100 kB of layout): pipelined, many find the next segment not
# ready and are answered "overloaded". boxctl sends those again until they land.
VENUES=40
{
	printf '{"locations": [{"id": 1, "name": "Here", "country": "AT", "lat": 48.2, "lon": 16.4}],\n'
	printf ' "venues": [\n'
	rows=$(seq -s '", "' 1 8192)
	for v in $(seq 1 $VENUES); do
		((v > 1)) && printf ',\n'
		printf '  {"id": %d, "location": 1, "name": "Hall %d", "lat": 48.2, "lon": 16.4, "sections": [{"name": "Floor", ' "$v" "$v"
		printf '"rows": [{"names": ["%s"], "seats": 24, "tier": "economy"}]}]}' "$rows"
	done
	printf '\n ]}\n'
} >"$WORK/big.json"
server_start "$WORK/data-small" --segment-size 524392
expect_rc 0 "a catalog load the server answers 'overloaded' in part" --json catalog load "$WORK/big.json"
expect_eq "$(json '[d["loaded"], d["venues"], d["retried"] > 0]')" "[$((VENUES + 1)), $VENUES, True]" \
	"every venue loaded, some after being sent again"
expect_rc 0 "the last venue" --json venue $VENUES
expect_eq "$(json 'd["name"]')" "Hall $VENUES" "the last venue is there"
sed 's/"name": "Hall 5",/"name": "Hall Five",/' "$WORK/big.json" >"$WORK/clash.json"
expect_rc 1 "a load with a venue that clashes with the loaded one is refused" \
	catalog load "$WORK/clash.json"
expect_grep "venues\[4\] (venue 5): already exists (the id is taken by other content)" \
	"$WORK/err" "the refusal names the entry and why"
server_stop "that server stops with exit 0 too"

checks_finish
