# `steady` under the fixture scheduler scx-ktstr on the sid kernel: pass,
# the scheduler recorded enabled and still running at the end, the checks
# judged as without a scheduler.
source "$(dirname "$0")/lib.sh"

out=$TMP/steady.json
run_json "$out" 0 --kernel debian:sid --topology 1n1l2c1t --scenario steady --duration 2s \
	--scheduler scx-ktstr
check "status pass" '.status == "pass"' "$out"
check "scheduler recorded enabled, no failure" \
	'.scheduler.name == "scx-ktstr" and .scheduler.enabled and .scheduler.failure == "none" and .scheduler.exit == null' "$out"
check "it was stopped by the agent (exit status 0)" '.scheduler.exit_status == 0' "$out"
check "its output says it was enabled" '.scheduler.output | contains("scx-ktstr: enabled")' "$out"
check "the checks were judged" '(.checks | length) >= 3 and all(.checks[]; .passed)' "$out"
check "no failure dump" '.dump == null' "$out"
finish
