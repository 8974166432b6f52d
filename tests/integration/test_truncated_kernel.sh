# A truncated kernel image is an infrastructure outcome, with the console
# tail, decided inside the watchdog; never a test failure.
source "$(dirname "$0")/lib.sh"

sid=$("$BIN/ktstr-kernel" list --json | jq -r '[.[] | select(.source | startswith("debian:sid"))][0].image')
[ -f "$sid" ] || { bad "no cached sid kernel (fetch debian:sid first)"; finish; }
head -c 3000000 "$sid" >"$TMP/vmlinuz-truncated"
out=$TMP/trunc.json
start=$(date +%s)
run_json "$out" 2 --kernel "$TMP/vmlinuz-truncated" --scenario steady --duration 1s || true
elapsed=$(( $(date +%s) - start ))
check "status infra" '.status == "infra"' "$out"
check "no scenario result" '(.cgroups | length) == 0' "$out"
check "console tail or QEMU's complaint is reported" '(.console_tail | length) > 0 or (.message | length) > 20' "$out"
if [ "$elapsed" -lt 120 ]; then ok "decided in ${elapsed}s"; else bad "took ${elapsed}s"; fi
finish
