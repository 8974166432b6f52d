#!/usr/bin/env bash
# Dispatch throughput of the coordinator: a real ktstr-coordinator on a
# fresh SQLite file, dispatch_sim playing 200 workers that answer every
# assignment at once, and a matrix of 20,000 entries:
#   50 tests (scenario steady, names t00..t49)
#   x 50 topologies (1n{1..5}l{1..5}c{1,2}t: 1 to 50 vCPUs, 13.5 on average)
#   x 8 profiles (scx-ktstr with 3 flags, the power set)
#   x 1 kernel (debian:sid, which must be cached: nothing is downloaded).
# Each simulated worker offers 64 vCPUs and 64 GiB, so 200 of them hold
# 12,800 vCPUs of guests at once (about 950 entries of this matrix).
# Prints the figures dispatch_sim measures; the target is 5,000 entries/s
# end to end. Exits non-zero only when the run did not complete.
# Usage: tests/bench/dispatch.sh [BUILD_BIN_DIR]
#   KTSTR_CACHE_DIR   kernel cache holding debian:sid (default as ktstr-run)
#   KT_BENCH_WORKERS  simulated workers (200); KT_BENCH_TESTS tests (50),
#   KT_BENCH_TOPOS    topologies (50), for smaller runs under a profiler;
#   KT_BENCH_WRAP     a command put before the coordinator (e.g. "perf record -g -o F")
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=$(cd "${1:-$here/../../build/bin}" && pwd)
WORKERS=${KT_BENCH_WORKERS:-200}
TESTS=${KT_BENCH_TESTS:-50}
TOPOS=${KT_BENCH_TOPOS:-50}
SRC_CACHE=${KTSTR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ktstr}
for b in ktstr-coordinator dispatch_sim; do
	[ -x "$BIN/$b" ] || { echo "dispatch.sh: $BIN/$b not built" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/ktstr-dispatch.XXXXXX)
coord=
cleanup() {
	if [ -n "$coord" ] && kill -0 "$coord" 2>/dev/null; then
		kill -TERM "$coord" 2>/dev/null || true
		wait "$coord" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# A private cache that links the cached kernels, so the coordinator's
# artifacts (scenario texts, kernel configs) do not land in the real one.
mkdir -p "$tmp/cache/kernels"
sid=
for d in "$SRC_CACHE"/kernels/*/; do
	[ -f "$d/meta" ] || continue
	ln -s "${d%/}" "$tmp/cache/kernels/$(basename "$d")"
	grep -q '^source=debian:sid ' "$d/meta" && sid=$(basename "$d")
done
if [ -z "$sid" ]; then
	echo "dispatch.sh: debian:sid is not in the kernel cache $SRC_CACHE;" \
	     "fetch it first (ktstr-kernel fetch debian:sid) or set KTSTR_CACHE_DIR" >&2
	exit 2
fi

# The matrix.
{
	echo "name: dispatch-bench"
	echo "kernels: [debian:sid]"
	echo "schedulers:"
	echo "  - name: scx-ktstr"
	echo "    flags: {slow: [--slow], degrade: [--degrade], scatter: [--scattershot]}"
	printf "topologies: ["
	n=0
	for l in 1 2 3 4 5; do for c in 1 2 3 4 5; do for t in 1 2; do
		[ "$n" -lt "$TOPOS" ] || continue
		[ "$n" -eq 0 ] || printf ", "
		printf "1n%dl%dc%dt" "$l" "$c" "$t"
		n=$((n + 1))
	done; done; done
	echo "]"
	echo "tests:"
	for ((i = 0; i < TESTS; i++)); do
		printf "  - {scenario: steady, name: t%02d}\n" "$i"
	done
} >"$tmp/matrix.yaml"

# The coordinator, on high ports (another pair when one is taken).
for _ in 1 2 3 4 5; do
	wport=$((20000 + RANDOM % 20000))
	cport=$((wport + 1))
	# shellcheck disable=SC2086 # KT_BENCH_WRAP is a command line
	${KT_BENCH_WRAP:-} "$BIN/ktstr-coordinator" --db "$tmp/farm.db" --cache "$tmp/cache" \
		--listen-workers "tcp://127.0.0.1:$wport" \
		--listen-clients "tcp://127.0.0.1:$cport" 2>"$tmp/coord.log" &
	coord=$!
	for _ in $(seq 100); do
		grep -q ': workers on ' "$tmp/coord.log" && break
		kill -0 "$coord" 2>/dev/null || break
		sleep 0.1
	done
	grep -q ': workers on ' "$tmp/coord.log" && break
	kill -TERM "$coord" 2>/dev/null || true
	wait "$coord" 2>/dev/null || true
	coord=
done
if [ -z "$coord" ]; then
	echo "dispatch.sh: the coordinator did not start:" >&2
	tail -5 "$tmp/coord.log" >&2
	exit 1
fi

echo "matrix: $TESTS tests x $TOPOS topologies x 8 profiles x 1 kernel (debian:sid $(cut -c1-12 <<<"$sid"))"
rc=0
"$BIN/dispatch_sim" --workers-ep "tcp://127.0.0.1:$wport" --clients-ep "tcp://127.0.0.1:$cport" \
	--matrix "$tmp/matrix.yaml" --workers "$WORKERS" --vcpus 64 --memory-mb 65536 || rc=$?

# What the coordinator's process spent, then stop it.
if [ -r "/proc/$coord/stat" ] && [ -z "${KT_BENCH_WRAP:-}" ]; then
	read -r -a st < <(sed 's/.*) //' "/proc/$coord/stat")
	hz=$(getconf CLK_TCK)
	awk -v u="${st[11]}" -v s="${st[12]}" -v hz="$hz" \
		'BEGIN { printf "coordinator CPU: %.2f s user, %.2f s system\n", u / hz, s / hz }'
fi
crc=0
if [ -n "${KT_BENCH_WRAP:-}" ]; then
	# A wrapper (perf) stops on SIGINT and ends the coordinator itself;
	# its status is not the coordinator's.
	kill -INT "$coord"
	wait "$coord" || true
else
	kill -TERM "$coord"
	wait "$coord" || crc=$?
fi
coord=
[ "$crc" -eq 0 ] || { echo "dispatch.sh: the coordinator exited with status $crc" >&2; rc=1; }

if command -v sqlite3 >/dev/null; then
	sqlite3 "$tmp/farm.db" "SELECT 'stored rows: ' || (SELECT count(*) FROM results) || ' results, '
		|| (SELECT count(*) FROM checks) || ' checks, '
		|| (SELECT count(*) FROM worker_stats) || ' worker_stats, '
		|| (SELECT count(*) FROM attempts) || ' attempts'"
fi
echo "db: $(du -h "$tmp/farm.db" | cut -f1) on $(df --output=fstype "$tmp" | tail -1)"
if [ "$rc" -ne 0 ]; then
	echo "dispatch.sh: the run did not complete; the coordinator's log ends:" >&2
	tail -20 "$tmp/coord.log" >&2
	exit 1
fi
