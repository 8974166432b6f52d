/* The guest's initramfs: a cached base archive (the agent as /init, helper
 * binaries, their shared libraries) plus a small per-entry archive
 * appended to it (the kernel unpacks concatenated newc archives in order).
 *
 * The base is content-addressed: its file name is the sha256 of a layout
 * version and a description of every entry, including the sha256 of every
 * file copied in. A rebuilt agent or an upgraded libc gives a new name; the
 * same inputs give the same name and byte-identical content, so a base is
 * built once per cache and reused by every test entry. */
#ifndef KTSTR_INITRAMFS_H
#define KTSTR_INITRAMFS_H
#include <stddef.h>
#include "err.h"

/* Bump when the layout changes (directories, nodes, placement rules). */
#define KT_INITRAMFS_LAYOUT "ktstr-initramfs-layout-1"

/* Build (or reuse) <CACHE_DIR>/initramfs/<sha256>.cpio holding:
 * /dev (with console 5:1 and null 1:3, so the kernel has a console before
 * devtmpfs is mounted), /proc, /sys, /sys/fs/cgroup, /tmp (1777), /run,
 * /ktstr, /bin, /lib, /lib64, /usr/lib and every parent directory of a
 * file; /init = AGENT_PATH (0755); each of EXTRA_BINS (NULL-terminated, may
 * be NULL) at /bin/<basename> (0755); the union of their ELF closures at
 * their guest paths (see elfdeps.h), a file reached twice stored once and
 * linked, and libraries found only through ld.so.conf linked from
 * /lib/x86_64-linux-gnu (the guest has no ld.so.cache).
 * The archive is written to a temporary file in the same directory and
 * renamed into place, so readers never see a partial archive and two
 * builders of the same key both succeed. OUT_PATH receives the path. */
int kt_initramfs_base(const char *cache_dir, const char *agent_path,
		      const char *const *extra_bins, char *out_path, size_t out_len,
		      struct kt_err *err);

/* One file of the per-entry archive. */
struct kt_initramfs_file {
	const char *path;  /* in the guest, e.g. "/ktstr/entry.pb" */
	const void *data;
	size_t len;
	unsigned mode;     /* permission bits only (e.g. 0644) */
};

/* Write OUT_PATH = the bytes of BASE_PATH followed by a newc archive of
 * FILES[0..N). Parent directories of the files that the base layout does
 * not already create (/ktstr, /tmp, ...) are added to the second archive.
 * The base is streamed, never loaded whole; it must be a newc archive whose
 * size is a multiple of 4 bytes so the second archive starts aligned. */
int kt_initramfs_compose(const char *base_path, const struct kt_initramfs_file *files, size_t n,
			 const char *out_path, struct kt_err *err);

#endif
