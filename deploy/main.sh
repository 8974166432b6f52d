#!/usr/bin/env bash
# The main job: install what is needed, build, and run one real test entry
# (the `steady` scenario on the newest Debian sid kernel, sched_ext capable,
# 2 vCPUs) in a real guest. Extra arguments go to ktstr-run, e.g.
#   bash deploy/main.sh --scenario cpuset-disjoint --topology 1n2l1c1t
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C build -j"$(nproc)" --no-print-directory >/dev/null
exec build/bin/ktstr-run --kernel debian:sid --topology 1n1l2c1t --scenario steady --duration 3s "$@"
