# The accelerator is decided by a real probe boot (KVM only if the guest
# agent answers in time, else TCG), cached per host boot, and reported.
source "$(dirname "$0")/lib.sh"

state=$KTSTR_CACHE_DIR/accel.state
rm -f "$state"
cat >"$TMP/empty.yaml" <<'YAML'
name: empty
description: boot and report only
steps: []
YAML
out=$TMP/first.json
run_json "$out" 0 --kernel debian:sid --scenario "$TMP/empty.yaml" --duration 0s
check "accel is kvm or tcg" '.accel == "kvm" or .accel == "tcg"' "$out"
if [ -r /dev/kvm ]; then
	check "first run decided by a probe boot" '.accel_reason | test("^KVM probe boot")' "$out"
	[ -f "$state" ] && ok "probe result cached in $state" || bad "no $state after a probe"
	out2=$TMP/second.json
	run_json "$out2" 0 --kernel debian:sid --scenario "$TMP/empty.yaml" --duration 0s
	check "second run uses the cached probe" '.accel_reason | contains("cached")' "$out2"
	a1=$(jq -r .accel "$out"); a2=$(jq -r .accel "$out2")
	[ "$a1" = "$a2" ] && [ "$a1" != null ] && ok "same answer ($a1)" || bad "answers differ: $a1 vs $a2"
else
	check "no /dev/kvm: TCG without a probe" '.accel == "tcg" and (.accel_reason | contains("/dev/kvm"))' "$out"
fi
finish
