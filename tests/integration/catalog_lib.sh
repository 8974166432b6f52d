# Running the whole catalog in real guests, one at a time: shared by
# test_catalog.sh and tests/bench/false_failures.sh. Sourced after lib.sh.
#
# catalog_names: the catalog's names, one a line (ktstr-run --list --json),
#   except those in $CAT_EXCLUDE (names separated by spaces; default none).
# catalog_run OUTDIR ROUND NAME...: runs each NAME once on $CAT_KERNEL at
#   $CAT_TOPOLOGY (2 vCPUs, one LLC), or $CAT_TOPOLOGY_LLCS (2 vCPUs in two
#   LLCs) for a scenario that needs two LLCs (the host refuses it at
#   $CAT_TOPOLOGY before any boot), for $CAT_DURATION, at most $CAT_JOBS
#   guests at once, into
#   OUTDIR/ROUND.NAME.json (report), .err (stderr), .rc (exit status),
#   .wall_ms (wall time of the ktstr-run process). An entry that ends infra
#   (a boot that never reached the agent: the farm retries these, and they
#   are never a scheduler's fault) is run once more, as the farm would, and
#   OUTDIR/ROUND.NAME.infra records the first attempt's message.
CAT_KERNEL=${CAT_KERNEL:-debian:sid}
CAT_TOPOLOGY=${CAT_TOPOLOGY:-1n1l2c1t}
CAT_TOPOLOGY_LLCS=${CAT_TOPOLOGY_LLCS:-1n2l1c1t}
# 6 s: a step's cgroups are judged over its share of the run, less each
# worker's first spread_warmup_ms (500 ms; checks.h), and at 2 s a step of
# 0.7 s leaves too little after the warm-up: the kernel's own scheduler
# took about 0.5 s to even out six spinners forked onto two CPUs (31 pp
# between them at 0.5 s, 4 pp after). Measured with
# tests/bench/false_failures.sh (TCG, 2 vCPUs, 210 entries each): at 2 s 3
# failed not_starved.spread, at 4 s 1; at 6 s with the warm-up 1 (15.5 pp
# in batch-idle-mix, since rewritten), then 0, the closest 14.7 of 15 pp
# (steady-then-mixed, whose allowance is now 25: see its file).
CAT_DURATION=${CAT_DURATION:-6s}
# One guest at a time: a TCG guest (thread=single) keeps one host core busy;
# with two at once on a 2-core host, neither the host side nor the guests
# get a core to themselves, and the host's preemptions of a vCPU thread
# land on whichever guest task was running (its run time grows, its
# neighbours' run-queue wait grows): noise in not_starved.spread that is
# the host's, not the scheduler's.
CAT_JOBS=${CAT_JOBS:-1}

catalog_names() {
	"$BIN/ktstr-run" --list --json |
		jq -r --arg x "${CAT_EXCLUDE:-}" '($x | split(" ")) as $ex | .[].name |
			select(. as $n | $ex | index($n) | not)'
}

# One entry: the worker of catalog_run (exported for xargs' bash -c).
catalog_one() {
	local out=$1 round=$2 name=$3 f t0 t1 rc try topo=$CAT_TOPOLOGY
	f=$out/$round.$name
	for try in 1 2 3; do
		t0=$(date +%s%N)
		rc=0
		"$BIN/ktstr-run" --json --kernel "$CAT_KERNEL" --topology "$topo" \
			--duration "$CAT_DURATION" --scenario "$name" >"$f.json" 2>"$f.err" || rc=$?
		t1=$(date +%s%N)
		echo "$rc" >"$f.rc"
		echo $(((t1 - t0) / 1000000)) >"$f.wall_ms"
		if [ "$topo" = "$CAT_TOPOLOGY" ] &&
			jq -e '.status == "error" and (.message | test("does not fit topology"))' \
				"$f.json" >/dev/null 2>&1; then
			topo=$CAT_TOPOLOGY_LLCS
			continue
		fi
		if [ ! -f "$f.infra" ] && [ "$(jq -r '.status' "$f.json" 2>/dev/null)" = infra ]; then
			jq -r '.message' "$f.json" >"$f.infra"
			continue
		fi
		break
	done
}
export -f catalog_one
export BIN CAT_KERNEL CAT_TOPOLOGY CAT_TOPOLOGY_LLCS CAT_DURATION

catalog_run() {
	local out=$1 round=$2
	shift 2
	printf '%s\n' "$@" |
		xargs -P "$CAT_JOBS" -I{} bash -c 'catalog_one "$1" "$2" "$3"' _ "$out" "$round" {}
}

# catalog_verdict FILE_PREFIX: "pass" or a one-line reason.
catalog_verdict() {
	local f=$1
	if [ "$(cat "$f.rc" 2>/dev/null)" = 0 ] &&
		[ "$(jq -r '.status' "$f.json" 2>/dev/null)" = pass ]; then
		echo pass
		return
	fi
	jq -r '"\(.status): \(.message)" + ([.checks[]? | select(.passed | not) |
		" [\(.name) \(.value) > \(.threshold): \(.message)]"] | join(""))' \
		"$f.json" 2>/dev/null || echo "no report (exit $(cat "$f.rc" 2>/dev/null)): $(tail -c 300 "$f.err")"
}
