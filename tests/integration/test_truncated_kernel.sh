# Broken kernel images are infrastructure outcomes, decided well inside the
# watchdog, with the evidence; never a test failure.
#  - truncated: shorter than its own header says; refused before boot.
#  - corrupted payload (same size): boots the stub, which halts; the console
#    tail shows why and the launcher stops the guest at once.
source "$(dirname "$0")/lib.sh"

sid=$("$BIN/ktstr-kernel" list --json | jq -r '[.[] | select(.source | startswith("debian:sid"))][0].image')
[ -f "$sid" ] || { bad "no cached sid kernel (fetch debian:sid first)"; finish; }

size=$(stat -c %s "$sid")
head -c $((size / 2)) "$sid" >"$TMP/vmlinuz-truncated"
out=$TMP/trunc.json
start=$(date +%s)
run_json "$out" 2 --kernel "$TMP/vmlinuz-truncated" --scenario steady --duration 1s
check "truncated: status infra" '.status == "infra"' "$out"
check "truncated: the message says why" '.message | contains("truncated")' "$out"
check "truncated: no scenario result" '(.cgroups | length) == 0' "$out"

cp "$sid" "$TMP/vmlinuz-corrupt"
dd if=/dev/zero of="$TMP/vmlinuz-corrupt" bs=1M seek=$((size / 2 / 1048576)) count=1 conv=notrunc status=none
out=$TMP/corrupt.json
run_json "$out" 2 --kernel "$TMP/vmlinuz-corrupt" --scenario steady --duration 1s
check "corrupt: status infra" '.status == "infra"' "$out"
check "corrupt: no scenario result" '(.cgroups | length) == 0' "$out"
check "corrupt: the console tail shows the boot stub halting" '.console_tail | contains("System halted")' "$out"
elapsed=$(( $(date +%s) - start ))
if [ "$elapsed" -lt 60 ]; then ok "both decided in ${elapsed}s"; else bad "took ${elapsed}s"; fi
"$BIN/ktstr-kernel" rm "$(sha256sum "$TMP/vmlinuz-corrupt" | cut -c1-64)" >/dev/null 2>&1 || true
finish
