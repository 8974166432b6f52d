# cpuset-disjoint on 1n2l1c1t: two LLCs, each cgroup confined to its half,
# and the isolation check passes because every worker stayed inside.
source "$(dirname "$0")/lib.sh"

out=$TMP/disjoint.json
run_json "$out" 0 --kernel debian:sid --topology 1n2l1c1t --scenario cpuset-disjoint --duration 2s
check "status pass" '.status == "pass"' "$out"
check "guest sees 2 LLCs of 1 CPU" '.guest_topology.llcs == 2 and .guest_topology.cpus == 2 and .guest_topology.matches' "$out"
check "isolation check ran and passed" 'any(.checks[]; .name == "isolation" and .passed)' "$out"
check "cgroup cpusets are disjoint and non-empty" '(.cgroups | length) == 2 and (.cgroups[0].cpus | length) > 0 and (.cgroups[1].cpus | length) > 0 and ((.cgroups[0].cpus - .cgroups[1].cpus) == .cgroups[0].cpus)' "$out"
check "every worker ran only inside its cpuset" 'all(.cgroups[]; . as $c | all($c.workers[]; (.cpus_seen - $c.cpus) == []))' "$out"
finish
