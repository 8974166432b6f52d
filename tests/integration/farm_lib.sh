# Helpers for the farm integration tests (test_farm*.sh): a coordinator
# and workers on this machine, each worker with its own cache (kernels
# reach it from the coordinator by sha256, as on a real farm), and checks
# of the history they leave in SQLite. Sourced after lib.sh.
#
# Every process started here is recorded and ended by its pid on exit,
# whatever happened: workers with SIGTERM twice (the second kills their
# running entries), the rest with SIGTERM, then SIGKILL after 10 s. Any
# process still running from this test's temp dir afterwards (an entry
# runner, a QEMU: they name their cache there) is a failure, and killed.
# On failure the logs' tails are shown; KEEP_TMP=1 keeps the temp dir.
WEP='' CEP='' DB=$TMP/farm.db
COORD_PID=
declare -A WORKER_PID=()
STARTED_PIDS=()

sql() { sqlite3 -readonly -batch -noheader "$DB" "$1"; }

# alive PID: the process exists and is not a zombie.
alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $st != Z* ]]
}

# wait_gone SECONDS PID...: 0 once none of the PIDs is alive.
wait_gone() {
	local deadline=$((SECONDS + $1)) p any
	shift
	while :; do
		any=
		for p in "$@"; do alive "$p" && any=1; done
		[ -z "$any" ] && return 0
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.2
	done
}

# Processes whose command line names this test's temp dir (QEMU names its
# kernel and initramfs there, workers their cache): the pids, one a line.
tmp_procs() {
	local p cmd
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
		[[ $cmd == *"$TMP/"* ]] && echo "$p"
	done
	return 0
}

farm_cleanup() {
	local rc=$? p pids=() left
	set +e
	for p in "${WORKER_PID[@]}"; do alive "$p" && kill -TERM "$p" && pids+=("$p"); done
	sleep 0.3
	for p in "${pids[@]}"; do alive "$p" && kill -TERM "$p"; done
	for p in "${STARTED_PIDS[@]}"; do alive "$p" && kill -TERM "$p" && pids+=("$p"); done
	wait_gone 10 "${pids[@]}" || for p in "${pids[@]}"; do alive "$p" && kill -KILL "$p"; done
	# A sanitizer build (-DKTSTR_SANITIZE=ON) reports into the logs.
	if grep -lE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$TMP"/*.log 2>/dev/null; then
		echo "FAIL - sanitizer reports in the logs above"
		rc=1
	fi
	left=$(tmp_procs)
	if [ -n "$left" ]; then
		echo "FAIL - processes left running after the test:"
		ps -o pid,ppid,pgid,etime,args -p "$(paste -sd, <<<"$left")"
		# shellcheck disable=SC2086 # one pid a line
		kill -KILL $left 2>/dev/null
		rc=1
	fi
	if [ "$rc" -ne 0 ]; then
		for f in "$TMP"/*.log; do
			[ -f "$f" ] || continue
			echo "--- last lines of $(basename "$f")"
			tail -n 25 "$f"
		done
	fi
	if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
	exit "$rc"
}
trap farm_cleanup EXIT
trap 'exit 143' TERM INT HUP

# Bounds: no step of a farm test waits forever, whatever breaks.
export RUN_TIMEOUT=300

# farm_ports BASE: the worker endpoint on BASE, clients on BASE+1.
farm_ports() {
	WEP=tcp://127.0.0.1:$1
	CEP=tcp://127.0.0.1:$(($1 + 1))
}

# start_coord: a coordinator on $DB and the ports; stderr appended to
# coord.log (a restart keeps the first one's lines). Waits until it
# answers a status request.
start_coord() {
	"$BIN/ktstr-coordinator" --db "$DB" --listen-workers "$WEP" --listen-clients "$CEP" \
		--cache "$KTSTR_CACHE_DIR" 2>>"$TMP/coord.log" &
	COORD_PID=$!
	STARTED_PIDS+=("$COORD_PID")
	local deadline=$((SECONDS + 20))
	until "$BIN/ktstr-submit" --coordinator "$CEP" status 999999 >"$TMP/probe.out" 2>&1
		grep -q "no such run" "$TMP/probe.out"; do
		if ! alive "$COORD_PID" || [ $SECONDS -ge $deadline ]; then
			bad "coordinator did not come up"
			exit 1
		fi
		sleep 0.2
	done
}

# start_worker ID: a worker with a 2-vCPU budget (one 2-vCPU guest at a
# time) and its own cache; stderr to ID.log. Waits for its hello.
start_worker() {
	local deadline=$((SECONDS + 20))
	mkdir -p "$TMP/$1"
	"$BIN/ktstr-worker" --coordinator "$WEP" --id "$1" --vcpus 2 --cache "$TMP/$1" \
		2>>"$TMP/$1.log" &
	WORKER_PID[$1]=$!
	until grep -q "worker $1: hello" "$TMP/coord.log"; do
		if ! alive "${WORKER_PID[$1]}" || [ $SECONDS -ge $deadline ]; then
			bad "worker $1 did not register: $(tail -n 3 "$TMP/$1.log")"
			exit 1
		fi
		sleep 0.1
	done
}

# write_matrix FILE NAME TEST...: every TEST (a catalog scenario) for 1s on
# 1n1l2c1t, on sid and bookworm, under EEVDF. Two guests share this
# machine's two cores, so fairness between a cgroup's workers is noise
# here: the spread limit is lifted (work, gap and isolation still count).
write_matrix() {
	local f=$1 t
	{
		echo "name: $2"
		echo "kernels: [debian:sid, debian:bookworm]"
		echo "schedulers: [{name: eevdf}]"
		echo "topologies: [1n1l2c1t]"
		echo "tests:"
		shift 2
		for t in "$@"; do
			echo "  - {scenario: $t, duration: 1s, checks: {max_spread: 100}}"
		done
	} >"$f"
}

# wait_until SECONDS DESCRIPTION CMD...: poll CMD until it succeeds.
wait_until() {
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		if [ $SECONDS -ge $deadline ]; then
			bad "timed out after ${deadline}s waiting for: $what"
			return 1
		fi
		sleep 0.2
	done
}

# check_history RUN N: the run's N entries all finished pass, each with
# exactly one result for its final attempt; a result of an earlier attempt
# only where that attempt ended infra (retried) or was given up on before
# its outcome came; every result from the worker its attempt went to;
# attempts numbered 1..final, all ended, the final one by its outcome.
check_history() {
	local run=$1 n=$2 v
	[ "$(sql "SELECT state FROM runs WHERE id = $run")" = "done" ] &&
		ok "run $run is done" || bad "run $run state: $(sql "SELECT state FROM runs WHERE id = $run")"
	[ "$(sql "SELECT count(*) FROM entries WHERE run_id = $run")" = "$n" ] &&
		ok "run $run has $n entries" ||
		bad "run $run has $(sql "SELECT count(*) FROM entries WHERE run_id = $run") entries, expected $n"
	v=$(sql "SELECT id || ' ' || name || ': ' || state || '/' || ifnull(final_status, '-')
		 FROM entries WHERE run_id = $run AND (state != 'done' OR final_status IS NOT 'pass')")
	[ -z "$v" ] && ok "every entry is done and passed" || bad "entries not done/pass: $v"
	v=$(sql "SELECT e.id || ' has ' || (SELECT count(*) FROM results r WHERE r.entry_id = e.id
			AND r.attempt = e.attempt) || ' results for its final attempt ' || e.attempt
		 FROM entries e WHERE e.run_id = $run AND (SELECT count(*) FROM results r
			WHERE r.entry_id = e.id AND r.attempt = e.attempt AND r.status = e.final_status) != 1")
	[ -z "$v" ] && ok "every entry has exactly one result for its final attempt, with its final status" ||
		bad "final results: $v"
	# An earlier attempt's result: an infra outcome (retried), or the late
	# outcome of an attempt already given up on (lost, handed back).
	v=$(sql "SELECT r.entry_id || '/' || r.attempt || ' ' || r.status FROM results r
		 JOIN entries e ON e.id = r.entry_id JOIN attempts a ON a.entry_id = r.entry_id
			AND a.attempt = r.attempt WHERE e.run_id = $run
		 AND (r.attempt > e.attempt OR (r.attempt < e.attempt AND r.status != 'infra'
			AND a.end_reason = 'outcome'))")
	[ -z "$v" ] && ok "no other results but retried infra attempts and late ones" ||
		bad "stray results: $v"
	v=$(sql "SELECT r.entry_id || '/' || r.attempt || ' by ' || ifnull(r.worker_id, '?')
		 FROM results r JOIN entries e ON e.id = r.entry_id WHERE e.run_id = $run
		 AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.entry_id = r.entry_id
			AND a.attempt = r.attempt AND a.worker_id = r.worker_id)")
	[ -z "$v" ] && ok "every result came from the worker its attempt was given to" ||
		bad "results without a matching attempt: $v"
	v=$(sql "SELECT e.id || ': ' || count(a.attempt) || ' attempts, max ' || max(a.attempt) ||
			', final ' || e.attempt FROM entries e LEFT JOIN attempts a ON a.entry_id = e.id
		 WHERE e.run_id = $run GROUP BY e.id
		 HAVING count(a.attempt) != e.attempt OR max(a.attempt) != e.attempt")
	[ -z "$v" ] && ok "attempts are numbered 1..final for every entry" || bad "attempt numbering: $v"
	v=$(sql "SELECT a.entry_id || '/' || a.attempt || ' ' || ifnull(a.end_reason, 'open')
		 FROM attempts a JOIN entries e ON e.id = a.entry_id WHERE e.run_id = $run
		 AND (a.ended_at IS NULL OR (a.attempt = e.attempt AND a.end_reason != 'outcome'))")
	[ -z "$v" ] && ok "every attempt ended, each final one by its outcome" || bad "attempt ends: $v"
}

# check_junit FILE N: well-formed XML with N testcases and no failure.
check_junit() {
	local f=$1 n=$2 got
	if [ ! -s "$f" ]; then
		bad "JUnit file $f missing or empty"
		return
	fi
	if command -v xmllint >/dev/null; then
		xmllint --noout "$f" 2>"$TMP/xmllint.err" && ok "JUnit file is well-formed XML" ||
			bad "JUnit file is not well-formed: $(cat "$TMP/xmllint.err")"
		got=$(xmllint --xpath 'count(//testsuite/testcase)' "$f")
	else
		got=$(grep -c '<testcase ' "$f")
	fi
	[ "$got" = "$n" ] && ok "JUnit file has $n testcases" || bad "JUnit file has $got testcases, expected $n"
	grep -q 'tests="'"$n"'" failures="0" errors="0"' "$f" && ! grep -q '<failure\|<error' "$f" &&
		ok "JUnit suite: $n tests, no failure or error" || bad "JUnit suite header or cases report failures"
}
