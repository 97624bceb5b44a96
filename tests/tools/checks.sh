# checks.sh — the checks the tools' end-to-end scripts share. Source it after
# setting TOOL (the program's name, for messages) and WORK (a scratch directory),
# and define run ARGS...: runs the tool, leaving its exit status in $rc and its
# output in $WORK/out and $WORK/err. checks_finish ends the script.

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}
pass() { echo "ok: $*"; }

# expect_rc STATUS WHAT ARGS...: runs the tool with ARGS and checks its exit status.
expect_rc() {
	local want=$1 what=$2
	shift 2
	run "$@"
	if [[ $rc -eq $want ]]; then
		pass "$what"
	else
		fail "$what: exit $rc, expected $want ($TOOL $*)"
		sed 's/^/  | /' "$WORK/out" "$WORK/err" >&2
	fi
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
	if [[ "$1" == "$2" ]]; then pass "$3"; else fail "$3: got '$1', expected '$2'"; fi
}

# expect_grep PATTERN FILE WHAT
expect_grep() {
	if grep -q -- "$1" "$2"; then pass "$3"; else
		fail "$3: no '$1' in:"
		sed 's/^/  | /' "$2" >&2
	fi
}

# Exits 1 when a check failed, else 0.
checks_finish() {
	if ((failures > 0)); then
		echo "$failures check(s) failed" >&2
		exit 1
	fi
	echo "all $TOOL checks passed"
}
