#!/usr/bin/env bash
# Install every build and run dependency of ktstr farm from Debian packages.
# Idempotent: re-running changes nothing once everything is present.
# libbpf-dev and bpftool come from bookworm-backports, enabled through the
# mirror the system's apt sources already use (never a hard-coded host).
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# The first Debian archive URI found in the system's apt sources.
mirror_uri() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f")
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
	echo "install-deps: no Debian mirror found in /etc/apt/sources*" >&2
	return 1
}

PKGS=(build-essential cmake pkg-config git cpio zstd xz-utils file
      libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
      libelf-dev zlib1g-dev libzstd-dev libsqlite3-dev sqlite3 libyaml-dev libcmocka-dev
      qemu-system-x86 qemu-utils clang-19 llvm-19 jq)
BPO_PKGS=(libbpf-dev bpftool)

missing() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
	done
}

BPO_LIST=/etc/apt/sources.list.d/ktstr-bookworm-backports.list
need=$(missing "${PKGS[@]}" "${BPO_PKGS[@]}")
if [ -z "$need" ]; then
	echo "install-deps: all dependencies present"
	exit 0
fi

if [ ! -f "$BPO_LIST" ]; then
	uri=$(mirror_uri)
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm-backports main" |
		$SUDO tee "$BPO_LIST" >/dev/null
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${PKGS[@]}"
$SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports "${BPO_PKGS[@]}"
echo "install-deps: done"
