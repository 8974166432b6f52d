# A worker stalls (SIGSTOP) past the heartbeat limit while its guest runs
# on, then resumes (SIGCONT): the coordinator has declared it lost and put
# the entry back in the queue. The stalled worker must say hello again
# (the coordinator asks it to), have its abandoned attempt cancelled (its
# vCPUs are not free until then: no hand-back loop), and take new work;
# the entry finishes in a later attempt; every entry has exactly one final
# result.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/farm_lib.sh"
farm_ports 17230

write_matrix "$TMP/matrix.yaml" it-stall steady mixed-load cpuset-disjoint
start_coord
start_worker w1
start_worker w2
start=$SECONDS
timeout "$RUN_TIMEOUT" "$BIN/ktstr-submit" --coordinator "$CEP" "$TMP/matrix.yaml" --wait \
	>"$TMP/submit.out" 2>"$TMP/submit.log" &
submit=$!
STARTED_PIDS+=("$submit")

started() { grep -q ': started (pid' "$TMP/w1.log"; }
wait_until 120 "w1 starts an entry" started || exit 1
line=$(grep -m1 ': started (pid' "$TMP/w1.log")
entry=$(sed -n 's/.*: entry \([0-9]*\)\/[0-9]* (.*/\1/p' <<<"$line")
attempt=$(sed -n 's/.*: entry [0-9]*\/\([0-9]*\) (.*/\1/p' <<<"$line")
echo "# stopping w1 while it runs entry $entry/$attempt"
kill -STOP "${WORKER_PID[w1]}"
lost() { grep -q "worker w1 lost: missed heartbeats" "$TMP/coord.log"; }
wait_until 20 "the coordinator declares w1 lost" lost && ok "w1 declared lost while stopped"
sleep 1
kill -CONT "${WORKER_PID[w1]}"
rehello() { [ "$(grep -c "worker w1: hello" "$TMP/coord.log")" -ge 2 ]; }
wait_until 20 "w1 says hello again" rehello && ok "w1 said hello again after it resumed"

rc=0
wait "$submit" || rc=$?
echo "# run took $((SECONDS - start)) s"
[ $rc -eq 0 ] && ok "ktstr-submit --wait exits 0" || bad "ktstr-submit --wait exited $rc"
run=$(head -n 1 "$TMP/submit.out")
grep -q "^run $run done: 6 entries, pass 6, fail 0" "$TMP/submit.out" &&
	ok "summary line: 6 entries, 6 passed" || bad "summary: $(tail -n 1 "$TMP/submit.out")"
check_history "$run" 6
v=$(sql "SELECT worker_id || ' ' || ifnull(end_reason, 'open') FROM attempts
	 WHERE entry_id = $entry AND attempt = $attempt")
[ "$v" = "w1 worker lost" ] && ok "entry $entry attempt $attempt: w1, ended 'worker lost'" ||
	bad "entry $entry attempt $attempt: '$v', expected 'w1 worker lost'"
grep -q "worker w1: entry $entry attempt $attempt is no longer wanted: cancelled" "$TMP/coord.log" &&
	grep -q "entry $entry/$attempt (.*): cancelled" "$TMP/w1.log" &&
	ok "the abandoned attempt $entry/$attempt was cancelled on w1" ||
	bad "no cancel of $entry/$attempt in the logs"
[ "$(sql "SELECT count(*) FROM results WHERE entry_id = $entry AND attempt = $attempt")" = 0 ] &&
	ok "no result for the abandoned attempt" || bad "the abandoned attempt has a result"
v=$(sql "SELECT count(*) FROM attempts WHERE end_reason = 'handed back'")
[ "$v" -le 2 ] && ok "$v hand backs (no assign/hand-back loop)" || bad "$v hand backs"
v=$(sql "SELECT attempt FROM entries WHERE id = $entry")
[ "$v" -gt "$attempt" ] && ok "entry $entry finished in a later attempt ($v)" ||
	bad "entry $entry final attempt $v"
v=$(sql "SELECT count(*) FROM attempts a JOIN entries e ON e.id = a.entry_id
	 WHERE e.run_id = $run AND a.worker_id = 'w1' AND a.assigned_at >
	 (SELECT ended_at FROM attempts WHERE entry_id = $entry AND attempt = $attempt)")
[ "$v" -ge 1 ] && ok "w1 took $v new attempt(s) after it came back" ||
	bad "w1 took no work after it came back"
finish
