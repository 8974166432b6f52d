# Check overrides through the farm: a matrix scheduler's `checks:` reaches
# the worker in the Assignment and is applied to the scenario's; a test's
# `checks:` wins over its scheduler's (scenario < scheduler < test). One
# coordinator, one worker, two 1-second entries on sid.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/farm_lib.sh"
farm_ports 17260

cat >"$TMP/matrix.yaml" <<'YAML'
name: it-farm-checks
kernels: [debian:sid]
schedulers:
  - {name: eevdf, checks: {max_gap_ms: 0, max_spread: 100, max_migration_ratio: 1000}}
topologies: [1n1l2c1t]
tests:
  - {scenario: steady, name: sched-level, duration: 1s}
  - {scenario: steady, name: test-wins, duration: 1s, checks: {max_gap_ms: 3600000, max_migration_ratio: off}}
YAML
start_coord
start_worker w1
rc=0
timeout "$RUN_TIMEOUT" "$BIN/ktstr-submit" --coordinator "$CEP" "$TMP/matrix.yaml" --wait \
	>"$TMP/submit.out" 2>"$TMP/submit.log" || rc=$?
[ $rc -eq 1 ] && ok "ktstr-submit --wait exits 1 (a failure)" || bad "ktstr-submit --wait exited $rc"
run=$(head -n 1 "$TMP/submit.out")

# Per entry: final status, then its checks as name:passed:threshold.
status() { sql "SELECT final_status FROM entries WHERE run_id = $run AND name LIKE '$1/%'"; }
check_row() {
	sql "SELECT c.passed || ' ' || c.threshold FROM checks c JOIN entries e ON e.id = c.entry_id
	     AND c.attempt = e.attempt WHERE e.run_id = $run AND e.name LIKE '$1/%' AND c.name = '$2'"
}
[ "$(status sched-level)" = fail ] && ok "the scheduler's max_gap_ms 0 fails its entry" ||
	bad "sched-level: $(status sched-level)"
[ "$(check_row sched-level not_starved.gap)" = "0 0.0" ] && ok "with the gap check at threshold 0" ||
	bad "sched-level gap: $(check_row sched-level not_starved.gap)"
[ "$(check_row sched-level migration_ratio | cut -d' ' -f1)" = 1 ] &&
	ok "the scheduler's optional migration check ran" ||
	bad "sched-level migration_ratio: '$(check_row sched-level migration_ratio)'"
[ "$(status test-wins)" = pass ] && ok "the test's max_gap_ms wins over the scheduler's" ||
	bad "test-wins: $(status test-wins)"
thr=$(check_row test-wins not_starved.gap | cut -d' ' -f2)
awk -v t="$thr" 'BEGIN { exit !(t >= 3600000) }' && ok "its gap threshold is the test's, scaled ($thr ms)" ||
	bad "test-wins gap threshold: '$thr'"
[ -z "$(check_row test-wins migration_ratio)" ] && ok "and its test turned the migration check off" ||
	bad "test-wins migration_ratio: '$(check_row test-wins migration_ratio)'"
finish
