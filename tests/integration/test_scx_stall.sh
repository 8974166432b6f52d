# scx-ktstr --stall-after=1 on the sid kernel: the sched_ext watchdog ends
# it with exit kind 1026 "runnable task stall". With --expect-err that is
# pass, and the failure dump holds .bss stall != 0; without, fail with the
# signature.
source "$(dirname "$0")/lib.sh"

args=(--kernel debian:sid --topology 1n1l2c1t --scenario steady --duration 3s
	--scheduler scx-ktstr --sched-args "--stall-after=1 --timeout-ms=1000")
stall_of='[.dump.maps[] | select(.name | endswith(".bss")) | .entries[0].value.members[] | select(.name == "stall") | .value.value][0]'

out=$TMP/expect.json
run_json "$out" 0 "${args[@]}" --expect-err
check "expect_err: status pass" '.status == "pass"' "$out"
check "expect_err: failure stall, exit kind 1026, runnable task stall" \
	'.scheduler.failure == "stall" and .scheduler.exit.kind == 1026 and .scheduler.exit.reason == "runnable task stall"' "$out"
check "expect_err: the dump holds stall != 0" "($stall_of) != 0 and ($stall_of) != null" "$out"
check "expect_err: the dump names the scheduler's maps" '[.dump.maps[].name] | any(endswith(".bss"))' "$out"
check "expect_err: the kernel's sched_ext dump" '.scheduler.kernel_dump | contains("runnable task stall")' "$out"
check "expect_err: the kernel log tail" '.scheduler.klog_tail | contains("disabled (runnable task stall)")' "$out"

out=$TMP/fail.json
run_json "$out" 1 "${args[@]}"
check "no expect_err: status fail" '.status == "fail"' "$out"
check "no expect_err: the message carries the signature" \
	'.message | contains("stall (exit kind 1026: runnable task stall)")' "$out"
check "no expect_err: checks not judged on a failed scheduler" '(.checks | length) == 0' "$out"
finish
