# `steady` on 1n1l2c1t passes on the sid kernel and on a bookworm 6.1 kernel,
# with real telemetry from every worker.
source "$(dirname "$0")/lib.sh"

for k in debian:sid debian:bookworm; do
	out=$TMP/${k#debian:}.json
	run_json "$out" 0 --kernel "$k" --topology 1n1l2c1t --scenario steady --duration 2s
	check "$k: status pass" '.status == "pass"' "$out"
	check "$k: guest runs the requested kernel" '.guest_kernel == .kernel.version or (.kernel.version | startswith(.guest_kernel))' "$out"
	check "$k: guest topology matches" '.guest_topology.matches and .guest_topology.cpus == 2' "$out"
	check "$k: 2 cgroups of 2 cpu_spin workers" '(.cgroups | length) == 2 and all(.cgroups[]; (.workers | length) == 2 and all(.workers[]; .work_type == "cpu_spin"))' "$out"
	check "$k: every worker did work and used CPU" 'all(.cgroups[].workers[]; .work_units > 0 and .cpu_ms > 0 and (.cpus_seen | length) > 0)' "$out"
	check "$k: checks present and passed" '([.checks[].name] | contains(["not_starved.work","not_starved.spread","not_starved.gap"])) and all(.checks[]; .passed)' "$out"
	check "$k: boot and run measured" '.boot_ms > 0 and .run_ms >= 1900' "$out"
	check "$k: sha256 recorded" '(.kernel.sha256 | length) == 64' "$out"
done
finish
