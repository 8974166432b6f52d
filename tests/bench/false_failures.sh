#!/bin/bash
# False failures: the whole catalog, N rounds, under the kernel's own
# scheduler (which has no bug these scenarios look for), at CI size as in
# tests/integration/test_catalog.sh (2 vCPUs, 6 s, one guest at a time; CAT_JOBS=N for more).
# Every entry that does not pass is a false failure of ours: a check too
# tight for a slow host, a scenario that cannot hold, a flaky harness.
#
#   bash tests/bench/false_failures.sh BUILD_BIN_DIR [ROUNDS]
#
# ROUNDS defaults to the fewest that make at least 200 entries. Prints each
# failed entry with its reason, the number failed (target: 0 in 200), and
# per scenario the duration overhead: the measured wall time of ktstr-run
# (kernel cache lookup, initramfs, boot, set-up, run, teardown) against the
# planned hold time (the duration: every catalog scenario holds for exactly
# its duration, test_catalog.c checks it), with the guest's own boot_ms and
# run_ms beside it. All numbers are measured in this run. Infra outcomes
# are retried once, as the farm does, and counted apart. FF_OUT=DIR keeps
# every entry's report there (else they go with the temporary directory);
# FF_REPORT_ONLY=1 with FF_OUT prints the summary of the runs kept there
# without running anything.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../integration/lib.sh"
source "$here/../integration/catalog_lib.sh"

out=${FF_OUT:-$TMP}
mkdir -p "$out"
rm -f "$out/failures"
[ -n "${FF_REPORT_ONLY:-}" ] || rm -f "$out"/*.infra
mapfile -t names < <(catalog_names)
rounds=${2:-$(((200 + ${#names[@]} - 1) / ${#names[@]}))}
planned_ms=$(jq -n --arg d "$CAT_DURATION" '$d | if test("ms$") then .[:-2] | tonumber
	elif test("m$") then .[:-1] | tonumber * 60000 else rtrimstr("s") | tonumber * 1000 end')
echo "false_failures: ${#names[@]} scenarios x $rounds rounds = $((${#names[@]} * rounds)) entries," \
	"$CAT_KERNEL, $CAT_TOPOLOGY ($CAT_TOPOLOGY_LLCS where two LLCs are needed), $CAT_DURATION," \
	"$CAT_JOBS at a time"
start=$(date +%s)
for r in $(seq 1 "$rounds"); do
	[ -n "${FF_REPORT_ONLY:-}" ] && break
	catalog_run "$out" "$r" "${names[@]}"
	echo "round $r/$rounds done after $(($(date +%s) - start)) s"
done

failed=0 infra=0 total=0
printf '%-22s %5s %9s %9s %9s %9s %8s\n' scenario runs wall_ms overhead boot_ms run_ms failed
for n in "${names[@]}"; do
	walls=() boots=() runs=() nf=0
	for r in $(seq 1 "$rounds"); do
		f=$out/$r.$n
		total=$((total + 1))
		[ -f "$f.infra" ] && infra=$((infra + 1))
		v=$(catalog_verdict "$f")
		if [ "$v" != pass ]; then
			nf=$((nf + 1))
			echo "FAILED round $r $n: $v" >>"$out/failures"
		fi
		walls+=("$(cat "$f.wall_ms")")
		boots+=("$(jq -r '.boot_ms // 0' "$f.json" 2>/dev/null || echo 0)")
		runs+=("$(jq -r '.run_ms // 0' "$f.json" 2>/dev/null || echo 0)")
	done
	failed=$((failed + nf))
	mean() { printf '%s\n' "$@" | awk '{s += $1} END {printf "%.0f", s / NR}'; }
	w=$(mean "${walls[@]}")
	printf '%-22s %5d %9s %9s %9s %9s %8d\n' "$n" "$rounds" "$w" "$((w - planned_ms))" \
		"$(mean "${boots[@]}")" "$(mean "${runs[@]}")" "$nf"
done
echo "(overhead = wall - planned hold of $planned_ms ms)"
[ -f "$out/failures" ] && cat "$out/failures"
echo "false_failures: $failed failed of $total entries (target 0); $infra infra retried;" \
	"$(($(date +%s) - start)) s"
[ "$failed" -eq 0 ]
