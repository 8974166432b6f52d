#!/usr/bin/env bash
# Local mode: a coordinator and one worker on this machine, an SQLite file in
# the working directory, one matrix run to the end, and a summary.
#   deploy/local-farm.sh [MATRIX]      (default: deploy/example-matrix.yaml)
# Environment: KTSTR_DB (default ./ktstr-farm.db), KTSTR_PORT_BASE (7100:
# workers on it, clients on +1), KTSTR_VCPUS (worker budget, default 2 x CPUs),
# BIN (default build/bin next to this script).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$here/../build/bin}
matrix=${1:-$here/example-matrix.yaml}
db=${KTSTR_DB:-$PWD/ktstr-farm.db}
base=${KTSTR_PORT_BASE:-7100}
vcpus=${KTSTR_VCPUS:-$(( $(nproc) * 2 ))}
wep=tcp://127.0.0.1:$base
cep=tcp://127.0.0.1:$((base + 1))
logdir=$(mktemp -d /tmp/ktstr-local.XXXXXX)

pids=()
cleanup() {
	# SIGTERM: the worker drains, the coordinator commits and stops.
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

echo "local farm: database $db, logs in $logdir"
"$BIN/ktstr-coordinator" --db "$db" --listen-workers "$wep" --listen-clients "$cep" \
	2>"$logdir/coordinator.log" &
pids+=($!)
"$BIN/ktstr-worker" --coordinator "$wep" --id "$(hostname)-local" --vcpus "$vcpus" \
	2>"$logdir/worker.log" &
pids+=($!)

rc=0
"$BIN/ktstr-submit" --coordinator "$cep" "$matrix" --wait --junit "$PWD/ktstr-junit.xml" || rc=$?
run=$("$BIN/ktstr-query" --db "$db" runs --json | jq -r 'max_by(.id).id')
echo
echo "== summary of run $run (JUnit: $PWD/ktstr-junit.xml)"
"$BIN/ktstr-query" --db "$db" runs
echo
"$BIN/ktstr-query" --db "$db" failures --since 1d || true
echo
echo "Ask more: $BIN/ktstr-query --db $db history steady | show ENTRY | stats"
exit "$rc"
