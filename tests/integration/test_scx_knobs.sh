# scx-ktstr's misbehaviour knobs on the sid kernel, each seen doing what it
# says through the fixture's own counters (snapshots of its .bss), while the
# scheduler stays enabled and the run ends pass or fail, never error or
# infra (a slow or scattering scheduler is a scheduler verdict):
#   --slow         3 of every 4 dispatch rounds are skipped: nr_skipped =
#                  nr_dispatch_calls - ceil(nr_dispatch_calls / 4);
#   --degrade      the skipped share grows with time (s of 16 after s
#                  seconds): larger between snapshots s1 and s2 than
#                  between s0 and s1;
#   --scattershot  enqueue scatters tasks over CPUs (nr_scattered > 0) and
#                  select_cpu never inserts directly (nr_direct = 0), while
#                  without it an idle CPU gets tasks directly.
source "$(dirname "$0")/lib.sh"

# Four spinners on two CPUs keep the shared DSQ busy, so dispatch runs.
cat >"$TMP/knobs.yaml" <<'YAML'
name: knobs
description: four spinners across three steps, a snapshot between each
backdrop:
  - {name: load, workers: 4, work: cpu_spin}
steps:
  - ops: [{snapshot: s0}]
    hold: {frac: 0.5}
  - ops: [{snapshot: s1}]
    hold: {frac: 0.5}
  - ops: [{snapshot: s2}]
    hold: {fixed_ms: 1}
YAML
# bss SNAPSHOT MEMBER: a jq expression for the fixture's .bss member.
bss() { echo "([.snapshots[\"$1\"].maps[] | select(.name | endswith(\".bss\")) | .entries[0].value.members[] | select(.name == \"$2\") | .value.value][0])"; }
verdict='(.status == "pass" or .status == "fail") and .scheduler.enabled and .scheduler.failure == "none"'

# run_knob OUT ARGS: pass and fail are both answers here (exit 0 or not);
# the checks below read the report.
run_knob() {
	"$BIN/ktstr-run" --json --kernel debian:sid --topology 1n1l2c1t --duration 4s \
		--scenario "$TMP/knobs.yaml" --scheduler scx-ktstr --sched-args "$2" \
		>"$1" 2>"$1.err" || true
	echo "     scx-ktstr $2: $(jq -r '"\(.status): \(.message)"' "$1" 2>/dev/null ||
		tail -c 300 "$1.err")"
}

out=$TMP/slow.json
run_knob "$out" --slow
check "slow: a scheduler verdict, scheduler still enabled" "$verdict" "$out"
calls=$(bss s2 nr_dispatch_calls) skipped=$(bss s2 nr_skipped)
check "slow: dispatch ran" "$calls > 100" "$out"
# The counters are read while CPUs update them: a few rounds of slack.
check "slow: 3 of 4 rounds skipped" \
	"($skipped - ($calls - (($calls + 3) / 4 | floor))) | fabs <= 4" "$out"

out=$TMP/degrade.json
run_knob "$out" --degrade
check "degrade: a scheduler verdict, scheduler still enabled" "$verdict" "$out"
share() { echo "(($(bss "$2" nr_skipped) - $(bss "$1" nr_skipped)) / ($(bss "$2" nr_dispatch_calls) - $(bss "$1" nr_dispatch_calls)))"; }
check "degrade: rounds skipped by s2" "$(bss s2 nr_skipped) > 0" "$out"
check "degrade: the skipped share grows (s1..s2 above s0..s1)" "$(share s1 s2) > $(share s0 s1)" "$out"

out=$TMP/scatter.json
run_knob "$out" --scattershot
check "scattershot: a scheduler verdict, scheduler still enabled" "$verdict" "$out"
check "scattershot: tasks scattered" "$(bss s2 nr_scattered) > 0" "$out"
check "scattershot: no direct inserts" "$(bss s2 nr_direct) == 0" "$out"

# The same run without knobs: idle CPUs take tasks directly, none scattered,
# nothing skipped.
out=$TMP/plain.json
run_knob "$out" ""
check "plain: pass" '.status == "pass"' "$out"
check "plain: direct inserts, nothing scattered or skipped" \
	"$(bss s2 nr_direct) > 0 and $(bss s2 nr_scattered) == 0 and $(bss s2 nr_skipped) == 0" "$out"
finish
