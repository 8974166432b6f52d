# The coordinator dies (SIGKILL) mid-run and comes back on the same
# database and ports. Guests keep running on the workers meanwhile; an
# outcome that finishes while it is away waits in the worker's outbox and
# is stored after the restart; the workers' running entries are claimed
# back, not re-run; the original `ktstr-submit --wait` rides out the gap
# and reports the whole run; every entry has exactly one final result.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/farm_lib.sh"
farm_ports 17220

write_matrix "$TMP/matrix.yaml" it-restart steady mixed-load cpuset-disjoint steady-then-mixed
start_coord
start_worker w1
start_worker w2
start=$SECONDS
timeout "$RUN_TIMEOUT" "$BIN/ktstr-submit" --coordinator "$CEP" "$TMP/matrix.yaml" --wait --junit "$TMP/junit.xml" \
	--reconnect-timeout 120 >"$TMP/submit.out" 2>"$TMP/submit.log" &
submit=$!
STARTED_PIDS+=("$submit")

# Kill it once two entries are done and two run.
midrun() {
	[ "$(sql "SELECT count(*) FROM entries WHERE state = 'done'")" -ge 2 ] &&
		[ "$(sql "SELECT count(*) FROM entries WHERE state = 'running'")" = 2 ]
}
wait_until 120 "two entries done and two running" midrun || exit 1
running=$(sql "SELECT group_concat(id || '/' || attempt, ' ') FROM entries WHERE state = 'running'")
done_before=$(sql "SELECT count(*) FROM entries WHERE state = 'done'")
# Outcome lines in the workers' logs (file name first).
outcomes() {
	grep -E ': entry [0-9]+/[0-9]+ \(.*\): (pass|fail|error|infra|skip): ' "$TMP/w1.log" "$TMP/w2.log" ||
		true
}
echo "# killing the coordinator: $done_before entries done, running: $running"
kill -KILL "$COORD_PID"
wait "$COORD_PID" 2>/dev/null || true
killed_at=$SECONDS
outcomes >"$TMP/outcomes.before"

# Stay away until a worker has finished an entry it cannot report.
new_outcomes() { outcomes | grep -vxF -f "$TMP/outcomes.before" || true; }
outcome_while_away() { [ -n "$(new_outcomes)" ]; }
wait_until 60 "a worker finishes an entry while the coordinator is away" outcome_while_away || exit 1
away=$(new_outcomes | head -n 1 | sed -n 's/.*: entry \([0-9]*\/[0-9]*\) (.*/\1/p')
echo "# entry $away finished while the coordinator was away ($((SECONDS - killed_at)) s)"
# Away longer than one watch request waits (5 s), so that ktstr-submit
# --wait sees requests fail and has to ask again.
while [ $((SECONDS - killed_at)) -lt 8 ]; do sleep 0.5; done
start_coord
echo "# coordinator back after $((SECONDS - killed_at)) s"
grep -q "resumed 1 runs (.* [12] running)" "$TMP/coord.log" &&
	ok "the restarted coordinator resumed the run with its running entries" ||
	bad "no 'resumed 1 runs' line: $(grep resumed "$TMP/coord.log" | tail -n 1)"

# A quick restart, within the workers' heartbeat limit: they never see it
# go silent, only heartbeats from a coordinator that does not know them.
midrun2() {
	[ "$(sql "SELECT count(*) FROM entries WHERE state = 'done'")" -ge 5 ] &&
		[ "$(sql "SELECT count(*) FROM entries WHERE state = 'running'")" = 2 ]
}
wait_until 120 "five entries done and two running" midrun2 || exit 1
running=$(sql "SELECT group_concat(id || '/' || attempt, ' ') FROM entries WHERE state = 'running'")
echo "# killing the coordinator again and restarting it at once; running: $running"
kill -KILL "$COORD_PID"
wait "$COORD_PID" 2>/dev/null || true
killed_at=$SECONDS
start_coord
echo "# coordinator back after $((SECONDS - killed_at)) s"
rehello() { [ "$(grep -c ": hello (" "$TMP/coord.log")" -ge 6 ]; }
wait_until 10 "both workers say hello to the third coordinator" rehello &&
	ok "both workers said hello to the quickly restarted coordinator"

rc=0
wait "$submit" || rc=$?
echo "# run took $((SECONDS - start)) s"
[ $rc -eq 0 ] && ok "the original ktstr-submit --wait exits 0" || bad "ktstr-submit --wait exited $rc"
grep -q "asking again" "$TMP/submit.log" && grep -q "answers again" "$TMP/submit.log" &&
	ok "ktstr-submit --wait noticed the gap and carried on" ||
	bad "ktstr-submit log: $(grep -i coordinator "$TMP/submit.log" | head -n 3)"
run=$(head -n 1 "$TMP/submit.out")
grep -q "^run $run done: 8 entries, pass 8, fail 0" "$TMP/submit.out" &&
	ok "summary line: 8 entries, 8 passed" || bad "summary: $(tail -n 1 "$TMP/submit.out")"
[ "$(grep -c '^pass ' "$TMP/submit.out")" = 8 ] && ok "each entry reported once (8 lines)" ||
	bad "$(grep -c '^pass ' "$TMP/submit.out") pass lines, expected 8"
check_junit "$TMP/junit.xml" 8

check_history "$run" 8
v=$(sql "SELECT count(*) FROM attempts WHERE end_reason != 'outcome'")
[ "$v" = 0 ] && ok "no attempt was lost or re-run across the restart" ||
	bad "attempts ended otherwise: $(sql "SELECT entry_id || '/' || attempt || ' ' || end_reason
		FROM attempts WHERE end_reason != 'outcome'")"
e=${away%/*} a=${away#*/}
[ "$(sql "SELECT count(*) FROM results WHERE entry_id = $e AND attempt = $a")" = 1 ] &&
	grep -q "hello (.*, [1-9][0-9]* unacked)" "$TMP/coord.log" &&
	ok "the outcome of $away, finished while the coordinator was away, came in a hello and was stored" ||
	bad "the outcome of $away was not stored after the restart"
"$BIN/ktstr-submit" --coordinator "$CEP" status "$run" >"$TMP/status.out" 2>&1 &&
	grep -q "done: 8 entries; queued 0 running 0 pass 8" "$TMP/status.out" &&
	ok "ktstr-submit status after the restart: done, 8 passed" || bad "status: $(cat "$TMP/status.out")"
finish
