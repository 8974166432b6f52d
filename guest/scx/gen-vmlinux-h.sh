#!/usr/bin/env bash
# Generate vmlinux.h for the scx-ktstr BPF object from a kernel's BTF.
#
# usage: gen-vmlinux-h.sh KTSTR_KERNEL OUT [IMAGE]
#   KTSTR_KERNEL  the ktstr-kernel binary (its cache: $KTSTR_CACHE_DIR, else
#                 $XDG_CACHE_HOME/ktstr, else ~/.cache/ktstr)
#   OUT           the vmlinux.h to write
#   IMAGE         a kernel image (bzImage or vmlinux) with BTF; default: the
#                 most recently fetched cached kernel with BTF and sched_ext,
#                 and if there is none, debian:sid is fetched into the cache
#                 (about 15 MB from the Debian mirror).
# The image's vmlinux is found the way the kernel's scripts/extract-vmlinux
# does: try every compression magic (zstd, gzip, xz, lz4) until a
# decompression yields an ELF; bpftool then dumps its .BTF as C.
set -euo pipefail

kk=${1:?usage: gen-vmlinux-h.sh KTSTR_KERNEL OUT [IMAGE]}
out=${2:?usage: gen-vmlinux-h.sh KTSTR_KERNEL OUT [IMAGE]}
image=${3:-}
bpftool=${BPFTOOL:-bpftool}
me=gen-vmlinux-h

die() { echo "$me: $*" >&2; exit 1; }

pick() {
	"$kk" list --json |
		jq -r '[.[] | select(.has_btf and .has_sched_ext)]
		       | sort_by(.fetched_at) | last | .image // empty'
}

if [ -z "$image" ]; then
	image=$(pick) || die "'$kk list --json' failed"
	if [ -z "$image" ]; then
		echo "$me: no cached kernel with BTF and sched_ext; fetching debian:sid" >&2
		"$kk" fetch debian:sid >&2 ||
			die "cannot fetch debian:sid (needs the Debian mirror). Fetch a sched_ext kernel into the cache (ktstr-kernel fetch debian:sid, cache \$KTSTR_CACHE_DIR) or configure with -DKTSTR_SCX_KERNEL=/path/to/bzImage"
		image=$(pick)
		[ -n "$image" ] || die "debian:sid fetched but no kernel with BTF and sched_ext is cached"
	fi
fi
[ -r "$image" ] || die "kernel image $image: not readable"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

is_elf() { [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; }

# Decompress IMAGE from each offset of MAGIC (hex bytes for grep -P) with
# the command that follows, until the result is an ELF file.
try_magic() {
	local magic=$1 off
	shift
	for off in $(LC_ALL=C grep -obUaP "$magic" "$image" | cut -d: -f1 | head -n 8); do
		tail -c +$((off + 1)) "$image" | "$@" >"$tmp/vmlinux" 2>/dev/null || true
		is_elf "$tmp/vmlinux" && return 0
	done
	return 1
}

if is_elf "$image"; then
	cp "$image" "$tmp/vmlinux"
else
	try_magic '\x28\xb5\x2f\xfd' zstd -dc ||
		try_magic '\x1f\x8b\x08' gzip -dc ||
		try_magic '\xfd\x37\x7a\x58\x5a\x00' xz -dc ||
		{ command -v lz4 >/dev/null && try_magic '\x02\x21\x4c\x18' lz4 -dc; } ||
		die "kernel image $image: no zstd, gzip, xz or lz4 payload decompresses to an ELF vmlinux"
fi

"$bpftool" btf dump file "$tmp/vmlinux" format c >"$tmp/vmlinux.h" ||
	die "kernel image $image: bpftool found no BTF in its vmlinux (CONFIG_DEBUG_INFO_BTF off?)"
grep -q '^struct sched_ext_ops {' "$tmp/vmlinux.h" ||
	die "kernel image $image: its BTF has no struct sched_ext_ops (CONFIG_SCHED_CLASS_EXT off?)"
mv "$tmp/vmlinux.h" "$out"
echo "$me: $out from $image" >&2
