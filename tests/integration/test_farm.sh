# The farm end to end: a coordinator and two workers (2 vCPUs each: one
# guest at a time) run 8 entries (4 tests x 1 topology x sid and bookworm);
# `ktstr-submit --wait` exits 0, every entry has exactly one final result,
# both workers took entries, and the JUnit report is well-formed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/farm_lib.sh"
farm_ports 17200

write_matrix "$TMP/matrix.yaml" it-farm steady mixed-load cpuset-disjoint steady-then-mixed
start_coord
start_worker w1
start_worker w2
start=$SECONDS
rc=0
timeout "$RUN_TIMEOUT" "$BIN/ktstr-submit" --coordinator "$CEP" "$TMP/matrix.yaml" --wait --junit "$TMP/junit.xml" \
	>"$TMP/submit.out" 2>"$TMP/submit.log" || rc=$?
echo "# run took $((SECONDS - start)) s"
[ $rc -eq 0 ] && ok "ktstr-submit --wait exits 0" || bad "ktstr-submit --wait exited $rc"
run=$(head -n 1 "$TMP/submit.out")
[[ $run =~ ^[0-9]+$ ]] && ok "the run id ($run) is printed first" || bad "first line '$run' is not a run id"
grep -q "^run $run done: 8 entries, pass 8, fail 0" "$TMP/submit.out" &&
	ok "summary line: 8 entries, 8 passed" || bad "summary: $(tail -n 1 "$TMP/submit.out")"
[ "$(grep -c '^pass ' "$TMP/submit.out")" = 8 ] && ok "8 entries reported as they finished" ||
	bad "$(grep -c '^pass ' "$TMP/submit.out") pass lines"

check_history "$run" 8
v=$(sql "SELECT count(DISTINCT a.worker_id) FROM attempts a JOIN entries e ON e.id = a.entry_id
	 WHERE e.run_id = $run")
[ "$v" = 2 ] && ok "both workers took entries ($(sql "SELECT group_concat(worker_id || ':' || n, ' ')
	FROM (SELECT worker_id, count(*) n FROM attempts GROUP BY worker_id)"))" ||
	bad "attempts went to $v distinct workers"
[ "$(sql "SELECT count(DISTINCT kernel_sha) FROM entries WHERE run_id = $run")" = 2 ] &&
	ok "entries cover two kernels" || bad "kernels: $(sql "SELECT DISTINCT kernel_label FROM entries")"
v=$(sql "SELECT count(*) FROM results r JOIN entries e ON e.id = r.entry_id
	 WHERE e.run_id = $run AND r.attempt = e.attempt AND e.kernel_label != ''
	 AND instr(e.kernel_label, r.guest_kernel) = 1")
[ "$v" = 8 ] && ok "every final result ran the entry's kernel in the guest" ||
	bad "$v of 8 final results report the entry's kernel as the guest kernel"
[ "$(sql "SELECT count(*) FROM workers WHERE id IN ('w1', 'w2')")" = 2 ] &&
	ok "both workers are recorded" || bad "workers table: $(sql "SELECT id FROM workers")"
check_junit "$TMP/junit.xml" 8

# The same history through ktstr-query.
"$BIN/ktstr-query" --db "$DB" --json runs >"$TMP/runs.json"
check "ktstr-query runs: the run, done, 8 passed" \
	"[.[] | select(.id == $run)] | length == 1 and .[0].state == \"done\" and .[0].pass == 8 and .[0].entries == 8" \
	"$TMP/runs.json"
"$BIN/ktstr-submit" --coordinator "$CEP" status "$run" >"$TMP/status.out" 2>&1 &&
	grep -q "done: 8 entries; queued 0 running 0 pass 8 fail 0" "$TMP/status.out" &&
	ok "ktstr-submit status: done, 8 passed" || bad "status: $(cat "$TMP/status.out")"
finish
