# ktstr-run --check turns on the optional checks over a catalog scenario
# with wake-based work: a p99 wake latency threshold of 0 must fail and name
# the check; generous thresholds for the others must pass; the measured
# guest/host slowdown is reported and scales the time thresholds; a
# spread warm-up given by --check reaches the guest's workers (each takes
# its settle sample after it) and the spread check says it used it. One
# boot.
source "$(dirname "$0")/lib.sh"

out=$TMP/wake.json
run_json "$out" 1 --kernel debian:sid --scenario wake-chains --duration 1s \
	--check max_p99_wake_us=0 --check max_throughput_cv=100 --check min_work_rate=0 \
	--check max_wake_cv=100 --check max_migration_ratio=1000 --check spread_warmup_ms=200
check "status fail" '.status == "fail"' "$out"
check "the p99 wake latency check failed with threshold 0" 'any(.checks[]; .name == "wake_latency.p99" and (.passed | not) and .threshold == 0 and .value > 0)' "$out"
check "its message names a cgroup and worker" 'any(.checks[]; .name == "wake_latency.p99" and (.message | test("\\(\\S+ worker [0-9]+, [a-z_]+\\) exceeds")))' "$out"
check "the other optional checks ran and passed" '[.checks[] | select(.name == "throughput_cv" or .name == "work_rate" or .name == "wake_latency.cv" or .name == "migration_ratio") | .passed] == [true, true, true, true]' "$out"
check "the guest and the host measured their speed" '.speed.guest_ns > 0 and .speed.host_ns > 0 and .speed.factor >= 1' "$out"
check "the factor is guest over host" '(.speed.factor - ([.speed.guest_ns / .speed.host_ns, 1] | max)) | fabs < 0.01' "$out"
check "the gap threshold is scaled by it" '.speed.factor as $f | any(.checks[]; .name == "not_starved.gap" and (.threshold - 2000 * $f | fabs) < 0.01)' "$out"
check "the gap message says so when scaled" '.speed.factor as $f | any(.checks[]; .name == "not_starved.gap" and (.message | contains("measured slowdown")) == ($f > 1))' "$out"
check "every worker sampled after the 200 ms warm-up, within its run" '[.cgroups[].workers[] | .settle_wall_ms >= 200 and .settle_wall_ms < .wall_ms and .settle_run_delay_ms <= .run_delay_ms] | length > 0 and all' "$out"
check "the spread check judged after it" 'any(.checks[]; .name == "not_starved.spread" and (.message | test("[0-9]+ of [0-9]+ cgroups judged after a 200 ms warm-up")))' "$out"
echo "speed: $(jq -c .speed "$out")"
finish
