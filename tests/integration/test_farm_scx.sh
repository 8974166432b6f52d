# sched_ext through the farm: a coordinator and one worker run scx-ktstr
# (the built-in fixture scheduler, beside ktstr-worker) on debian:sid:
# steady passes with the scheduler enabled, also under a copy of it given
# by `binary:` (sent with the matrix, fetched by the worker, run in the
# guest as /bin/scx_copy); a forced stall (--stall-after=1) with expect_err
# passes and keeps its dump; the same stall without expect_err fails. Then ktstr-query groups the failure under
# exit kind 1026 "runnable task stall" and `dump ENTRY --var stall` reads
# the scheduler's .bss from the stored dump.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/farm_lib.sh"
farm_ports 17260

if [ ! -x "$BIN/scx-ktstr" ]; then
	echo "# SKIP: $BIN/scx-ktstr was not built (-DKTSTR_SCX=OFF)"
	exit 0
fi
mkdir -p "$TMP/bin"
cp "$BIN/scx-ktstr" "$TMP/bin/scx_copy"
cat >"$TMP/matrix.yaml" <<'EOF'
name: it-scx
kernels: [debian:sid]
schedulers:
  - {name: scx-ktstr}
  - {name: scx_copy, binary: bin/scx_copy}
topologies: [1n1l2c1t]
tests:
  - {scenario: steady, duration: 2s, checks: {max_spread: 100}}
  - {scenario: steady, name: stall-expected, duration: 3s, schedulers: [scx-ktstr],
     sched_args: [--stall-after=1, --timeout-ms=1000], expect_err: true,
     checks: {max_spread: 100}}
  - {scenario: steady, name: stall, duration: 3s, schedulers: [scx-ktstr],
     sched_args: [--stall-after=1, --timeout-ms=1000], checks: {max_spread: 100}}
EOF
start_coord
start_worker w1
start=$SECONDS
rc=0
timeout "$RUN_TIMEOUT" "$BIN/ktstr-submit" --coordinator "$CEP" "$TMP/matrix.yaml" --wait \
	>"$TMP/submit.out" 2>"$TMP/submit.log" || rc=$?
echo "# run took $((SECONDS - start)) s"
[ $rc -eq 1 ] && ok "ktstr-submit --wait exits 1 (one entry failed)" ||
	bad "ktstr-submit --wait exited $rc: $(tail -n 3 "$TMP/submit.log")"
run=$(head -n 1 "$TMP/submit.out")
grep -q "^run $run done: 4 entries, pass 3, fail 1" "$TMP/submit.out" &&
	ok "summary: 4 entries, 3 passed, 1 failed" || bad "summary: $(tail -n 1 "$TMP/submit.out")"

# status_of TEST [SCHED]: the final status of the run's entry of TEST
# (under scx-ktstr unless SCHED says otherwise).
status_of() {
	sql "SELECT final_status FROM entries WHERE run_id = $run AND test = '$1'
		AND scheduler = '${2:-scx-ktstr}'"
}
name_of() { sql "SELECT name FROM entries WHERE run_id = $run AND test = '$1' AND scheduler = 'scx-ktstr'"; }
# sched_of TEST [SCHED]: enabled|failure|exit_kind|reason of its final attempt.
sched_of() {
	sql "SELECT s.name || '|' || s.enabled || '|' || ifnull(s.failure, '-') || '|' ||
		ifnull(s.exit_kind, '-') || '|' || ifnull(s.reason, '-') FROM schedulers s
		JOIN entries e ON e.id = s.entry_id AND e.attempt = s.attempt
		WHERE e.run_id = $run AND e.test = '$1' AND e.scheduler = '${2:-scx-ktstr}'"
}

[ "$(status_of steady)" = pass ] && ok "steady under scx-ktstr passes" ||
	bad "steady: $(status_of steady) ($(sql "SELECT final_message FROM entries
		WHERE run_id = $run AND test = 'steady'"))"
[ "$(sched_of steady)" = "scx-ktstr|1|-|-|-" ] && ok "steady: scx-ktstr recorded as enabled, no failure" ||
	bad "steady: scheduler state '$(sched_of steady)'"
[ "$(status_of steady scx_copy)" = pass ] && [ "$(sched_of steady scx_copy)" = "scx_copy|1|-|-|-" ] &&
	ok "steady under the binary scx_copy passes, enabled" ||
	bad "steady/scx_copy: $(status_of steady scx_copy) '$(sched_of steady scx_copy)' $(sql "SELECT
		final_message FROM entries WHERE run_id = $run AND scheduler = 'scx_copy'")"
v=$(find "$TMP/w1/artifacts/bin" -name scx_copy -perm -u+x 2>/dev/null | wc -l)
[ "$v" = 1 ] && ok "the worker fetched the binary and installed it as scx_copy" ||
	bad "$v executable scx_copy files in the worker's artifact cache"
[ "$(status_of stall-expected)" = pass ] && ok "the stall with expect_err passes" ||
	bad "stall-expected: $(status_of stall-expected)"
[ "$(sched_of stall-expected)" = "scx-ktstr|1|stall|1026|runnable task stall" ] &&
	ok "stall-expected: stall, exit kind 1026 runnable task stall" ||
	bad "stall-expected: scheduler state '$(sched_of stall-expected)'"
[ "$(status_of stall)" = fail ] && ok "the stall without expect_err fails" ||
	bad "stall: $(status_of stall)"
v=$(sql "SELECT count(*) FROM dumps d JOIN entries e ON e.id = d.entry_id AND e.attempt = d.attempt
	 WHERE e.run_id = $run AND e.test LIKE 'stall%' AND d.dump_json IS NOT NULL")
[ "$v" = 2 ] && ok "both stalls stored a failure dump" || bad "$v of 2 stalls stored a dump"

# The history through ktstr-query.
"$BIN/ktstr-query" --db "$DB" failures >"$TMP/failures.out" 2>&1 || true
grep "$(name_of stall)" "$TMP/failures.out" | grep -q "1026:runnable task stall" &&
	ok "failures: the stall's signature names 1026 runnable task stall" ||
	bad "failures: $(cat "$TMP/failures.out")"
"$BIN/ktstr-query" --db "$DB" --json failures --group >"$TMP/groups.json" 2>&1 || true
check "failures --group: one signature, one occurrence" \
	'length == 1 and .[0].signature == "fail/scx=1026:runnable task stall" and .[0].occurrences == 1' \
	"$TMP/groups.json"
v=$("$BIN/ktstr-query" --db "$DB" dump "$(name_of stall)" --var stall 2>"$TMP/var.err") || true
[[ $v =~ ^[0-9]+$ ]] && [ "$v" -ne 0 ] && ok "dump --var stall prints $v" ||
	bad "dump --var stall printed '$v': $(cat "$TMP/var.err")"
"$BIN/ktstr-query" --db "$DB" dump "$(name_of stall-expected)" >"$TMP/dump.out" 2>&1 &&
	grep -q "exit kind 1026 (runnable task stall)" "$TMP/dump.out" &&
	grep -qE "^    stall = [1-9]" "$TMP/dump.out" &&
	ok "dump shows the scheduler's exit and .bss stall" || bad "dump: $(head -n 20 "$TMP/dump.out")"
v=0
"$BIN/ktstr-query" --db "$DB" dump "$(name_of steady)" >"$TMP/nodump.out" 2>&1 || v=$?
[ $v -eq 1 ] && grep -q "no failure dump stored" "$TMP/nodump.out" &&
	ok "dump of a passing entry: not found, says so" || bad "dump of steady: exit $v: $(cat "$TMP/nodump.out")"
finish
