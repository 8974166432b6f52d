# A scenario with max_gap_ms: 0 must fail, and name the gap check.
source "$(dirname "$0")/lib.sh"

cat >"$TMP/nogap.yaml" <<'YAML'
name: no-gap-allowed
description: any scheduling gap at all fails
checks: {max_gap_ms: 0}
steps:
  - cgroups:
      - {name: cg_0, workers: 2, work: cpu_spin}
YAML
out=$TMP/nogap.json
run_json "$out" 1 --kernel debian:sid --scenario "$TMP/nogap.yaml" --duration 1s
check "status fail" '.status == "fail"' "$out"
check "the gap check failed with threshold 0" 'any(.checks[]; .name == "not_starved.gap" and (.passed | not) and .threshold == 0 and .value > 0)' "$out"
check "the message names the gap check" '.message | contains("not_starved.gap")' "$out"
check "the other checks passed" 'all(.checks[]; .name == "not_starved.gap" or .passed)' "$out"
finish
