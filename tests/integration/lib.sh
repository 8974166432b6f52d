# Shared helpers for integration tests: sourced, with $1 = build/bin dir.
set -euo pipefail
BIN=${1:?usage: $0 BUILD_BIN_DIR}
BIN=$(cd "$BIN" && pwd)
export KTSTR_CACHE_DIR=${KTSTR_CACHE_DIR:-$HOME/.cache/ktstr}
TMP=$(mktemp -d /tmp/ktstr-it.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
failures=0

ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; failures=$((failures + 1)); }

# check DESCRIPTION JQ_EXPR FILE: FILE must hold exactly one JSON value and
# the jq expression must be true on it (jq -e alone accepts an empty file).
check() {
	if [ "$(jq -s 'length' "$3" 2>/dev/null)" = 1 ] &&
		[ "$(jq -s ".[0] | ($2) == true" "$3" 2>/dev/null)" = true ]; then
		ok "$1"
	else
		bad "$1 ($2)"
	fi
}

# run_json OUT EXPECTED_EXIT ktstr-run args...: runs ktstr-run --json, keeps
# stdout in OUT, and checks the exit status.
run_json() {
	local out=$1 want=$2 rc=0
	shift 2
	"$BIN/ktstr-run" --json "$@" >"$out" 2>"$out.err" || rc=$?
	if [ "$rc" -eq "$want" ]; then
		ok "ktstr-run $* exits $want"
	else
		bad "ktstr-run $* exited $rc, expected $want"
		echo "--- stdout"; cat "$out"; echo "--- stderr"; cat "$out.err"
	fi
}

finish() {
	if [ "$failures" -ne 0 ]; then
		echo "$failures check(s) failed"
		exit 1
	fi
	echo "all checks passed"
}
