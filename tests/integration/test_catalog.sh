# Every catalog scenario passes under the kernel's own scheduler on the sid
# kernel at CI size: 2 vCPUs (1n1l2c1t; 1n2l1c1t for the scenarios that
# need two LLCs), 6 s each, one guest at a time (catalog_lib.sh says why). Each report is also
# checked to be the scenario asked for, on 2 vCPUs, with telemetry.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/catalog_lib.sh"

mapfile -t names < <(catalog_names)
if [ "${#names[@]}" -ge 30 ]; then
	ok "catalog has ${#names[@]} scenarios"
else
	bad "catalog has ${#names[@]} scenarios, expected at least 30"
fi
start=$(date +%s)
catalog_run "$TMP" 0 "${names[@]}"
for n in "${names[@]}"; do
	f=$TMP/0.$n
	v=$(catalog_verdict "$f")
	if [ "$v" = pass ]; then
		ok "$n: pass$( [ -f "$f.infra" ] && echo " (after one infra retry: $(cat "$f.infra"))")"
	else
		bad "$n: $v"
		continue
	fi
	[ "$(jq -r '.scenario' "$f.json")" = "$n" ] || bad "$n: report names scenario $(jq -r .scenario "$f.json")"
	jq -e '.guest_topology.matches and .guest_topology.cpus == 2' \
		"$f.json" >/dev/null || bad "$n: guest topology does not match, or is not 2 CPUs"
	jq -e '(.cgroups | length) > 0 and all(.cgroups[].workers[]; .wall_ms > 0)' \
		"$f.json" >/dev/null || bad "$n: no worker telemetry"
done
echo "catalog: ${#names[@]} scenarios in $(($(date +%s) - start)) s"
finish
