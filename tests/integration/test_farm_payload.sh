# Payload binaries through the farm: a scenario file runs a payload (a copy
# of echo printing JSON metrics) given by a host path that exists only on
# the submitting side. ktstr-submit sends it, the coordinator stores it and
# puts it in the Assignment, the worker fetches it and packs its copy at
# /bin/<basename> in the guest (the host file is gone before the worker
# starts, so nothing else could have been run). On debian:sid at 2 vCPUs
# the entry whose metric is in range passes, the one whose bound is not met
# fails naming the metric. A payload that is not ELF is refused at submit.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/farm_lib.sh"
farm_ports 17280

mkdir -p "$TMP/pay" "$TMP/sc"
PAY=$TMP/pay/ktpay_echo
cp /bin/echo "$PAY"
# scenario FILE NAME MIN: the payload prints ops_per_sec 1500; MIN bounds it.
scenario() {
	cat >"$1" <<EOF
name: $2
description: a payload sent through the farm, its JSON metric checked
steps:
  - ops:
      - {run_payload: {name: m, path: $PAY, args: ['{"summary": {"ops_per_sec": 1500}}'],
                       metrics: [{path: summary.ops_per_sec, min: $3}]}}
      - {wait_payload: {name: m, timeout_ms: 20000}}
    cgroups:
      - {name: cg_0, workers: 2}
EOF
}
scenario "$TMP/sc/pay_pass.yaml" farm-pay-pass 1000
scenario "$TMP/sc/pay_fail.yaml" farm-pay-fail 2000
cat >"$TMP/matrix.yaml" <<'EOF'
name: it-payload
kernels: [debian:sid]
topologies: [1n1l2c1t]
tests:
  - {scenario: sc/pay_pass.yaml, duration: 1s, checks: {max_spread: 100}}
  - {scenario: sc/pay_fail.yaml, duration: 1s, checks: {max_spread: 100}}
EOF
start_coord

# A payload that is not ELF: refused, naming the scenario and the path.
printf '#!/bin/sh\necho {}\n' >"$TMP/pay/script"
chmod +x "$TMP/pay/script"
sed "s|$PAY|$TMP/pay/script|" "$TMP/sc/pay_pass.yaml" >"$TMP/sc/script.yaml"
printf 'name: it-script\nkernels: [debian:sid]\ntopologies: [1n1l2c1t]\ntests:\n  - {scenario: sc/script.yaml}\n' \
	>"$TMP/script.yaml"
rc=0
"$BIN/ktstr-submit" --coordinator "$CEP" "$TMP/script.yaml" >"$TMP/script.out" 2>&1 || rc=$?
[ $rc -eq 2 ] && grep -q "scenario 'sc/script.yaml': payload '$TMP/pay/script' is not an ELF file" \
	"$TMP/script.out" && ok "a payload that is not ELF is refused, naming scenario and path" ||
	bad "script payload: exit $rc: $(cat "$TMP/script.out")"
# A payload that is not there: ktstr-submit says which, before sending.
sed "s|$PAY|$TMP/pay/absent|" "$TMP/sc/pay_pass.yaml" >"$TMP/sc/script.yaml"
rc=0
"$BIN/ktstr-submit" --coordinator "$CEP" "$TMP/script.yaml" >"$TMP/absent.out" 2>&1 || rc=$?
[ $rc -eq 2 ] && grep -q "$TMP/script.yaml: payload binary of scenario 'sc/script.yaml': $TMP/pay/absent: " "$TMP/absent.out" &&
	ok "a payload missing on the submitting host is refused by ktstr-submit, naming it" ||
	bad "absent payload: exit $rc: $(cat "$TMP/absent.out")"
[ "$(sql "SELECT count(*) FROM runs")" = 0 ] && ok "the refused matrix queued nothing" ||
	bad "runs after the refusal: $(sql "SELECT count(*) FROM runs")"

rc=0
timeout 60 "$BIN/ktstr-submit" --coordinator "$CEP" "$TMP/matrix.yaml" >"$TMP/submit.out" \
	2>"$TMP/submit.log" || rc=$?
run=$(head -n 1 "$TMP/submit.out")
[ $rc -eq 0 ] && [[ $run =~ ^[0-9]+$ ]] && ok "submitted as run $run" ||
	bad "ktstr-submit exited $rc: $(cat "$TMP/submit.log")"
[ "$(sql "SELECT count(*) FROM artifacts WHERE kind = 'binary' AND name = '$PAY'")" = 1 ] &&
	ok "the coordinator stored the payload as a binary artifact named by its path" ||
	bad "artifacts: $(sql "SELECT kind || ' ' || name FROM artifacts")"
rm -f "$PAY"
start_worker w1
start=$SECONDS
run_done() { [ "$(sql "SELECT state FROM runs WHERE id = $run")" = done ]; }
wait_until "$RUN_TIMEOUT" "run $run done" run_done
echo "# run took $((SECONDS - start)) s"

status_of() { sql "SELECT final_status FROM entries WHERE run_id = $run AND test = '$1'"; }
message_of() { sql "SELECT final_message FROM entries WHERE run_id = $run AND test = '$1'"; }
[ "$(status_of pay_pass)" = pass ] && [[ $(message_of pay_pass) == *"1 payloads passed"* ]] &&
	ok "the entry with the metric in range passes: $(message_of pay_pass)" ||
	bad "pay_pass: $(status_of pay_pass): $(message_of pay_pass)"
[ "$(status_of pay_fail)" = fail ] && [[ $(message_of pay_fail) == *summary.ops_per_sec* ]] &&
	ok "the entry with the metric out of range fails naming it: $(message_of pay_fail)" ||
	bad "pay_fail: $(status_of pay_fail): $(message_of pay_fail)"
v=$(find "$TMP/w1/artifacts/bin" -name ktpay_echo -perm -u+x 2>/dev/null | wc -l)
[ "$v" = 1 ] && ok "the worker fetched the payload and installed it as ktpay_echo" ||
	bad "$v executable ktpay_echo files in the worker's artifact cache"
finish
