#!/usr/bin/env bash
# The main job: install what is needed, build, and run the local farm: a
# coordinator and a worker on this machine, an SQLite file in the working
# directory (ktstr-farm.db), the example matrix in deploy/ (2 kernels x 2
# topologies x several scenarios, real guests), and a summary. Results are
# then queryable with build/bin/ktstr-query --db ktstr-farm.db.
#   bash deploy/main.sh [MATRIX]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

bash "$root/deploy/install-deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C "$root/build" -j"$(nproc)" --no-print-directory >/dev/null
exec bash "$root/deploy/local-farm.sh" "$@"
