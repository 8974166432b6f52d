# Scenario ops on real guests (sid, 2 vCPUs in 2 LLCs), four short boots:
# a dynamic run (cgroup added and removed mid-run, cpusets swapped, tasks
# moved between disjoint cpusets) passes with isolation judged per segment;
# set_affinity outside the cpuset is `error` naming op, cgroup and CPUs;
# payloads pass, and one metric out of range fails.
source "$(dirname "$0")/lib.sh"
OPS=$(cd "$(dirname "$0")/ops" && pwd)
run() { run_json "$TMP/$1.json" "$2" --kernel debian:sid --topology 1n2l1c1t \
	--scenario "$OPS/$1.yaml" --duration "$3"; }

run dynamic 0 3s
out=$TMP/dynamic.json
check "dynamic: pass" '.status == "pass"' "$out"
check "dynamic: isolation judged and passed" 'any(.checks[]; .name == "isolation" and .passed)' "$out"
check "dynamic: the added cgroup ran (step 0, 2 workers) and was removed" \
	'any(.cgroups[]; .name == "dyn" and .step == 0 and (.workers | length) == 2)' "$out"
check "dynamic: every segment stayed on its cgroup's CPUs" \
	'all(.cgroups[].workers[].segments[]?; (.cpus_seen - .cpus) == [])' "$out"
check "dynamic: left's worker ran under both cpusets, then in right" \
	'[.cgroups[] | select(.name == "left") | .workers[0].segments[] | [.cgroup, .cpus]] == [["left", [0]], ["left", [1]], ["right", [0]]]' "$out"
check "dynamic: segments saw CPUs after each change" \
	'all(.cgroups[] | select(.name == "left" or .name == "right") | .workers[].segments[]; (.cpus_seen | length) > 0)' "$out"

run affinity_outside 2 1s
out=$TMP/affinity_outside.json
check "set_affinity outside: error naming op, cgroup and CPUs" \
	'.status == "error" and (.message | test("ops\\[0\\] set_affinity cgroup .a.: CPUs 1 are outside its cpuset \\(0\\)"))' "$out"

run payload_pass 0 1s
out=$TMP/payload_pass.json
check "payloads: pass" '.status == "pass"' "$out"
check "payloads: three results, the killed one by SIGKILL" \
	'(.payloads | length) == 3 and (.payloads[] | select(.name == "s") | .signal) == 9' "$out"
check "payloads: JSON stdout captured" \
	'(.payloads[] | select(.name == "m") | .output | fromjson | .summary.ops_per_sec) == 1500.5' "$out"
check "payloads: the kill_payload's kill recorded as the op's" \
	'(.payloads[] | select(.name == "s") | .killed_by_op) and ([.payloads[] | select(.name != "s") | .killed_by_op] | any | not)' "$out"
check "payloads: waits scaled by the measured slowdown (>= 1)" \
	'all(.payloads[] | select(.name != "s"); .timeout_ms == 20000 and .slowdown >= 1 and .scaled_timeout_ms >= 20000 and (.clamped | not))' "$out"

run payload_fail 1 1s
out=$TMP/payload_fail.json
check "payload metric out of range: fail naming it" \
	'.status == "fail" and (.message | test("metric summary.ops_per_sec = 1500.5 is outside"))' "$out"
finish
