# The guest's sysfs agrees with the requested topology: LLCs, SMT siblings,
# NUMA nodes (zero-length scenario: boot, report, power off).
source "$(dirname "$0")/lib.sh"

cat >"$TMP/empty.yaml" <<'YAML'
name: empty
description: boot and report the topology only
steps: []
YAML
for t in 1n2l1c1t:2:2:2:1:1 1n1l1c2t:2:1:1:2:1 2n2l1c1t:2:2:2:1:2 1n2l2c1t:4:2:4:1:1; do
	IFS=: read -r topo cpus llcs cores threads nodes <<<"$t"
	out=$TMP/$topo.json
	run_json "$out" 0 --kernel debian:sid --topology "$topo" --scenario "$TMP/empty.yaml" --duration 0s
	check "$topo: guest sees $cpus CPUs, $llcs LLCs, $cores cores, $threads threads/core, $nodes nodes" \
		".guest_topology.cpus == $cpus and .guest_topology.llcs == $llcs and .guest_topology.cores == $cores and .guest_topology.threads_per_core == $threads and .guest_topology.numa_nodes == $nodes and .guest_topology.matches" "$out"
done
finish
