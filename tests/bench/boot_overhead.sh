#!/usr/bin/env bash
# Boot overhead of ktstr-run: the median of 5 runs of ktstr-run with a
# zero-length scenario, divided by the median of 5 bare QEMU boots of the
# same kernel with a trivial static init that powers off, same machine type,
# accelerator and topology. Both are measured here, in this run.
# Usage: tests/bench/boot_overhead.sh [BUILD_BIN_DIR] [KERNEL_SPEC]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=$(cd "${1:-$here/../../build/bin}" && pwd)
SPEC=${2:-debian:sid}
RUNS=5
tmp=$(mktemp -d /tmp/ktstr-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/empty.yaml" <<'YAML'
name: empty
description: zero-length scenario
steps: []
YAML

# Warm everything that is cached across runs (kernel, base initramfs,
# accelerator probe) so the runs measure the steady state.
"$BIN/ktstr-run" --kernel "$SPEC" --scenario "$tmp/empty.yaml" --duration 0s --json >"$tmp/warm.json"
kernel=$("$BIN/ktstr-kernel" list --json | jq -r --arg s "$(jq -r .kernel.sha256 "$tmp/warm.json")" '.[] | select(.sha256 == $s) | .image')
accel=$(jq -r .accel "$tmp/warm.json")

gcc -static -O2 -o "$tmp/init" "$here/bare_init.c"
(cd "$tmp" && mkdir -p root/dev && cp init root/init && cd root &&
	find . | cpio -o -H newc --quiet >"$tmp/bare.cpio")

cpu=max accel_arg=tcg,thread=single  # as worker/qemu.c for a 2-vCPU guest
[ "$accel" = kvm ] && cpu=host accel_arg=kvm
bare() {
	qemu-system-x86_64 -nodefaults -no-user-config -no-reboot -display none -M pc \
		-accel "$accel_arg" -cpu "$cpu" -m 256 -smp cpus=2,sockets=1,dies=1,cores=2,threads=1 \
		-kernel "$kernel" -initrd "$tmp/bare.cpio" \
		-append "console=ttyS0 earlyprintk=serial,ttyS0 rdinit=/init panic=-1 mitigations=off" \
		-chardev stdio,id=con,signal=off -serial chardev:con -serial null </dev/null >/dev/null
}

ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: >"$tmp/bare.txt"
: >"$tmp/ktstr.txt"
for i in $(seq $RUNS); do
	t0=$(ms); bare; t1=$(ms)
	echo $((t1 - t0)) >>"$tmp/bare.txt"
	t0=$(ms)
	"$BIN/ktstr-run" --kernel "$SPEC" --scenario "$tmp/empty.yaml" --duration 0s --json >"$tmp/run.json"
	t1=$(ms)
	[ "$(jq -r .status "$tmp/run.json")" = pass ] || { echo "ktstr-run did not pass"; cat "$tmp/run.json"; exit 1; }
	echo $((t1 - t0)) >>"$tmp/ktstr.txt"
done
b=$(median <"$tmp/bare.txt")
k=$(median <"$tmp/ktstr.txt")
echo "kernel $(jq -r .kernel.version "$tmp/warm.json"), accel $accel, 1n1l2c1t, $RUNS runs each"
echo "bare QEMU boot+poweroff (static init): $(tr '\n' ' ' <"$tmp/bare.txt")ms -> median $b ms"
echo "ktstr-run zero-length scenario:        $(tr '\n' ' ' <"$tmp/ktstr.txt")ms -> median $k ms"
awk -v k="$k" -v b="$b" 'BEGIN { printf "boot overhead ratio: %.3f (target <= 1.15)\n", k / b }'
