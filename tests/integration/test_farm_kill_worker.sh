# A worker dies (SIGKILL) while it runs an entry: its guest dies with it,
# the coordinator declares it lost after its missed heartbeats, the entry
# runs again (attempt + 1) on the other worker, and the run completes with
# exactly one final result per entry and nothing from the lost attempt.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/farm_lib.sh"
farm_ports 17210

write_matrix "$TMP/matrix.yaml" it-kill steady mixed-load cpuset-disjoint
start_coord
start_worker w1
start_worker w2
start=$SECONDS
rc=0
timeout "$RUN_TIMEOUT" "$BIN/ktstr-submit" --coordinator "$CEP" "$TMP/matrix.yaml" --wait \
	>"$TMP/submit.out" 2>"$TMP/submit.log" &
submit=$!
STARTED_PIDS+=("$submit")

# w1's first entry: its child (the entry runner) and that child's QEMU.
started() { grep -q ': started (pid' "$TMP/w1.log"; }
wait_until 120 "w1 starts an entry" started || exit 1
line=$(grep -m1 ': started (pid' "$TMP/w1.log")
child=$(sed -n 's/.*: started (pid \([0-9]*\),.*/\1/p' <<<"$line")
entry=$(sed -n 's/.*: entry \([0-9]*\)\/[0-9]* (.*/\1/p' <<<"$line")
attempt=$(sed -n 's/.*: entry [0-9]*\/\([0-9]*\) (.*/\1/p' <<<"$line")
# Its descendants, one a line; QEMU booting the entry's kernel among them
# (not only the accelerator probe a fresh cache starts with).
descendants() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		descendants "$c"
	done
}
guest_up() {
	local p cmd
	for p in $(descendants "$child"); do
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
		[[ $cmd == *qemu-system*-kernel*"$TMP/w1/"* ]] && return 0
	done
	return 1
}
wait_until 30 "w1's entry $entry boots its guest" guest_up || exit 1
sleep 1
running() { [ "$(sql "SELECT state FROM entries WHERE id = $entry")" = running ]; }
running && guest_up || { bad "entry $entry no longer running on w1 a second into its guest"; exit 1; }
tree=$(descendants "$child" | tr '\n' ' ')
tree="$child ${tree% }"
echo "# killing w1 (pid ${WORKER_PID[w1]}) while it runs entry $entry/$attempt; below it:"
ps -o pid,ppid,pgid,args -p "${WORKER_PID[w1]},${tree// /,}" | cut -c1-160 || true
kill -KILL "${WORKER_PID[w1]}"
killed_at=$SECONDS
# shellcheck disable=SC2086
if wait_gone 3 $tree; then
	ok "the dead worker's entry child and its QEMU died within 3 s"
else
	bad "processes of the killed worker survive it:"
	ps -o pid,ppid,pgid,etime,args -p "${tree// /,}" | cut -c1-200 || true
fi

rc=0
wait "$submit" || rc=$?
echo "# run took $((SECONDS - start)) s, $((SECONDS - killed_at)) s after the kill"
[ $rc -eq 0 ] && ok "ktstr-submit --wait exits 0" || bad "ktstr-submit --wait exited $rc"
run=$(head -n 1 "$TMP/submit.out")
grep -q "^run $run done: 6 entries, pass 6, fail 0" "$TMP/submit.out" &&
	ok "summary line: 6 entries, 6 passed" || bad "summary: $(tail -n 1 "$TMP/submit.out")"
grep -q "worker w1 lost: missed heartbeats" "$TMP/coord.log" &&
	ok "the coordinator declared w1 lost" || bad "no 'worker w1 lost' in the coordinator's log"

check_history "$run" 6
v=$(sql "SELECT worker_id || ' ' || ifnull(end_reason, 'open') FROM attempts
	 WHERE entry_id = $entry AND attempt = $attempt")
[ "$v" = "w1 worker lost" ] && ok "entry $entry attempt $attempt: w1, ended 'worker lost'" ||
	bad "entry $entry attempt $attempt: '$v', expected 'w1 worker lost'"
[ "$(sql "SELECT count(*) FROM results WHERE entry_id = $entry AND attempt = $attempt")" = 0 ] &&
	ok "no result for the lost attempt" || bad "the lost attempt has a result"
v=$(sql "SELECT worker_id FROM attempts WHERE entry_id = $entry AND attempt = $((attempt + 1))")
[ "$v" = w2 ] && ok "attempt $((attempt + 1)) of entry $entry went to w2" ||
	bad "attempt $((attempt + 1)) of entry $entry went to '$v'"
v=$(sql "SELECT r.worker_id || ' ' || r.status FROM results r JOIN entries e ON e.id = r.entry_id
	 WHERE e.id = $entry AND r.attempt = e.attempt")
[ "$v" = "w2 pass" ] && ok "entry $entry finished on w2: pass" || bad "entry $entry final result: '$v'"
v=$(sql "SELECT count(*) FROM attempts WHERE worker_id = 'w1' AND end_reason = 'worker lost'")
[ "$v" = 1 ] && ok "w1 lost exactly one attempt" || bad "w1 lost $v attempts"
finish
