# An entry that needs sched_ext on the bookworm 6.1 kernel (no
# CONFIG_SCHED_CLASS_EXT) is skip with the reason, without booting.
source "$(dirname "$0")/lib.sh"

out=$TMP/skip.json
run_json "$out" 0 --kernel debian:bookworm --topology 1n1l2c1t --scenario steady --duration 2s \
	--scheduler scx-ktstr
check "status skip" '.status == "skip"' "$out"
check "the reason names sched_ext and the kernel" '. as $r | ($r.message | contains("needs sched_ext")) and ($r.message | contains($r.kernel.version))' "$out"
check "nothing booted" '.boot_ms == 0 and .guest_kernel == null' "$out"
finish
