# scx-ktstr --crash-after=1 on the sid kernel: scx_bpf_error() ends it with
# exit kind 1025 "scx_bpf_error" and the fixture's own message. With
# --expect-err that is pass; without, fail with that signature.
source "$(dirname "$0")/lib.sh"

args=(--kernel debian:sid --topology 1n1l2c1t --scenario steady --duration 3s
	--scheduler scx-ktstr --sched-args "--crash-after=1")

out=$TMP/expect.json
run_json "$out" 0 "${args[@]}" --expect-err
check "expect_err: status pass" '.status == "pass"' "$out"
check "expect_err: failure error, exit kind 1025, scx_bpf_error" \
	'.scheduler.failure == "error" and .scheduler.exit.kind == 1025 and .scheduler.exit.reason == "scx_bpf_error"' "$out"
check "expect_err: the scheduler's own message" \
	'.scheduler.exit.message | contains("crash_after_s=1 reached")' "$out"
check "expect_err: a failure dump of its maps" '[.dump.maps[].name] | any(endswith(".bss"))' "$out"

out=$TMP/fail.json
run_json "$out" 1 "${args[@]}"
check "no expect_err: status fail" '.status == "fail"' "$out"
check "no expect_err: the message carries the signature" \
	'.message | contains("error (exit kind 1025: scx_bpf_error)") and contains("crash_after_s=1 reached")' "$out"
finish
