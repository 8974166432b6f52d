# Cancelling a run stops its queued entries and its running ones: the
# worker's guest dies, every entry ends cancelled (none left queued or
# running), the run is cancelled, and `ktstr-submit --wait` exits 2.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/farm_lib.sh"
farm_ports 17240

{
	echo "name: it-cancel"
	echo "kernels: [debian:sid]"
	echo "schedulers: [{name: eevdf}]"
	echo "topologies: [1n1l2c1t]"
	echo "tests:"
	for t in steady mixed-load pipe-pairs yield-storm; do
		echo "  - {scenario: $t, duration: 20s}"
	done
} >"$TMP/matrix.yaml"
start_coord
start_worker w1
rc=0
timeout "$RUN_TIMEOUT" "$BIN/ktstr-submit" --coordinator "$CEP" "$TMP/matrix.yaml" --wait \
	>"$TMP/submit.out" 2>"$TMP/submit.log" &
submit=$!
STARTED_PIDS+=("$submit")

# The entry's own guest (TCG), not the worker's KVM probe boot.
guest_running() { pgrep -f "qemu-system.*-accel tcg.*$TMP/w1/" >/dev/null; }
wait_until 120 "w1 boots an entry's guest" guest_running || finish
sleep 3 # well into the scenario
run=$(head -1 "$TMP/submit.out")
[ -n "$run" ] && ok "run id $run printed first" || bad "no run id printed"
"$BIN/ktstr-submit" --coordinator "$CEP" cancel "$run" >"$TMP/cancel.out" 2>&1 &&
	ok "cancel answered: $(cat "$TMP/cancel.out")" || bad "cancel failed: $(cat "$TMP/cancel.out")"
wait "$submit" || rc=$?
[ "$rc" -eq 2 ] && ok "ktstr-submit --wait exits 2 on a cancelled run" ||
	bad "ktstr-submit --wait exited $rc"
no_guest() { ! guest_running; }
wait_until 15 "the cancelled guest to stop" no_guest && ok "no guest left running"
[ "$(sql "SELECT state FROM runs WHERE id = $run")" = cancelled ] &&
	ok "run $run is cancelled" || bad "run state: $(sql "SELECT state FROM runs WHERE id = $run")"
n=$(sql "SELECT count(*) FROM entries WHERE run_id = $run AND state != 'cancelled'")
[ "$n" = 0 ] && ok "every entry cancelled" || bad "$n entries not cancelled: $(sql "SELECT id, state FROM entries WHERE run_id = $run")"
n=$(sql "SELECT count(*) FROM attempts a JOIN entries e ON e.id = a.entry_id WHERE e.run_id = $run AND a.end_reason = 'cancelled'")
[ "$n" -ge 1 ] && ok "the running attempt ended cancelled" || bad "no attempt ended cancelled"
finish
