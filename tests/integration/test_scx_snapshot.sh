# Snapshots under scx-ktstr on the sid kernel: a `snapshot` op between two
# steps holds the fixture's .bss with the values the test knows
# (nr_cpus_init = the topology's 2 CPUs, tasks enqueued, no stall); a
# `watch_snapshot` on bss.stall does not fire while nothing stalls, and
# fires with stall = 1 when --stall-after=1 stalls the scheduler, also when
# the stall comes after the scenario (during the expect_err wait).
source "$(dirname "$0")/lib.sh"

cat >"$TMP/snap.yaml" <<'YAML'
name: snap-mid
description: a snapshot and a watch between two steps
steps:
  - cgroups:
      - {name: cg_0, workers: 2, work: cpu_spin}
    hold: {frac: 0.5}
  - ops:
      - {snapshot: mid}
      - {watch_snapshot: bss.stall}
    cgroups:
      - {name: cg_1, workers: 2, work: cpu_spin}
    hold: {frac: 0.5}
YAML
bss() { echo "[.snapshots[\"$1\"].maps[] | select(.name | endswith(\".bss\")) | .entries[0].value.members[] | select(.name == \"$2\") | .value.value][0]"; }

out=$TMP/snap.json
run_json "$out" 0 --kernel debian:sid --topology 1n1l2c1t --scenario "$TMP/snap.yaml" \
	--duration 2s --scheduler scx-ktstr
check "status pass" '.status == "pass"' "$out"
check "snapshot 'mid' stored" '.snapshots | has("mid")' "$out"
check "mid: nr_cpus_init = the topology's 2 CPUs" "$(bss mid nr_cpus_init) == 2" "$out"
check "mid: tasks were enqueued" "$(bss mid nr_enqueued) > 0" "$out"
check "mid: no stall" "$(bss mid stall) == 0" "$out"
check "the watch did not fire (stall never written)" '.snapshots | has("watch:bss.stall") | not' "$out"

# Armed in the first step: the stall comes 1 s after the scheduler starts.
cat >"$TMP/watch.yaml" <<'YAML'
name: watch-stall
description: a watch on the fixture's stall flag from the start
steps:
  - ops:
      - {watch_snapshot: bss.stall}
    cgroups:
      - {name: cg_0, workers: 2, work: cpu_spin}
YAML
out=$TMP/watch.json
run_json "$out" 0 --kernel debian:sid --topology 1n1l2c1t --scenario "$TMP/watch.yaml" \
	--duration 3s --scheduler scx-ktstr --sched-args "--stall-after=1 --timeout-ms=1000" --expect-err
check "stalled: status pass (expected)" '.status == "pass" and .scheduler.failure == "stall"' "$out"
check "stalled: the watch captured stall = 1" "$(bss watch:bss.stall stall) == 1" "$out"

# The stall comes after the scenario's last step, while the agent waits for
# the expected failure: the watch still runs then and captures it.
out=$TMP/late.json
run_json "$out" 0 --kernel debian:sid --topology 1n1l2c1t --scenario "$TMP/watch.yaml" \
	--duration 1s --scheduler scx-ktstr --sched-args "--stall-after=4 --timeout-ms=1000" --expect-err
check "late stall: status pass (expected)" '.status == "pass" and .scheduler.failure == "stall"' "$out"
check "late stall: the watch captured it after the scenario" "$(bss watch:bss.stall stall) == 1" "$out"
finish
