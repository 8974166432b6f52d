#!/usr/bin/env bash
# The test command: installs what it needs, builds (normal and ASan+UBSan),
# runs the unit tests in both builds, fetches the test kernels once into the
# cache, then runs the integration tests that boot real guests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash deploy/install-deps.sh

# One kernel cache for the whole run: the build takes its BTF (vmlinux.h
# for scx-ktstr) from it, and every kernel is fetched once and reused.
export KTSTR_CACHE_DIR=${KTSTR_CACHE_DIR:-$root/.cache/ktstr}
mkdir -p "$KTSTR_CACHE_DIR"

echo "== build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C build -j"$(nproc)" --no-print-directory

echo "== unit tests"
ctest --test-dir build -L unit --output-on-failure

echo "== unit tests under ASan+UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKTSTR_SANITIZE=ON -DKTSTR_SCX=OFF >/dev/null
make -C build-asan -j"$(nproc)" --no-print-directory
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	ctest --test-dir build-asan -L unit --output-on-failure

echo "== integration tests (real guests)"
build/bin/ktstr-kernel fetch debian:sid
build/bin/ktstr-kernel fetch debian:bookworm
ctest --test-dir build -L integration --output-on-failure
