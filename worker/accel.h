/* Which accelerator this host can really use.
 *
 * /dev/kvm opening is not enough: under some nested setups KVM guests hang
 * at "Booting from ROM". So KVM counts only if a probe boot reaches the
 * guest agent (a Hello frame) within KT_ACCEL_PROBE_MS; else TCG. The answer
 * is cached per host boot (boot_id) and QEMU binary, so one probe serves
 * every later run until either changes. */
#ifndef KTSTR_ACCEL_H
#define KTSTR_ACCEL_H
#include <stddef.h>
#include "err.h"
#include "qemu.h"

#define KT_ACCEL_PROBE_MS 8000

/* The answer when it needs no probe boot: 0 with OUT set when /dev/kvm is
 * unusable (TCG) or a cached probe result for this host boot exists; -1 when
 * a probe is needed. */
int kt_accel_known(const char *cache_dir, enum kt_accel *out, char *why, size_t why_len);

/* Probe (or read the cached answer). PROBE_INITRD must be an initramfs whose
 * entry spec has probe set; KERNEL any bootable kernel. WHY receives a
 * one-line reason for the choice. */
int kt_accel_detect(const char *cache_dir, const char *kernel, const char *probe_initrd,
		    enum kt_accel *out, char *why, size_t why_len, struct kt_err *err);

#endif
