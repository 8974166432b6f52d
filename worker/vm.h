/* Run one QEMU guest to completion under a watchdog.
 *
 * The launcher owns the QEMU process: it captures COM1 (kernel console) to
 * a log and a bounded tail, decodes COM2 frames and hands each valid one to
 * the caller, and kills the guest when its budget runs out or when no agent
 * contact arrives in time. It reports what happened, not what it means:
 * classification into pass/fail/error/infra is the caller's job. */
#ifndef KTSTR_VM_H
#define KTSTR_VM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "qemu.h"
#include "util.h" /* kt_now_ms */

#define KT_CONSOLE_TAIL 4096

/* Called for every valid frame; return nonzero once the guest has said all
 * it will say (the launcher then only waits briefly for QEMU to exit). */
typedef int (*kt_vm_frame_fn)(void *ctx, unsigned type, const uint8_t *payload, size_t len);

struct kt_vm_opts {
	struct kt_qemu_cfg qemu;     /* ctl_socket is filled in by the launcher */
	unsigned budget_ms;          /* watchdog: the guest is killed after this */
	unsigned contact_timeout_ms; /* kill if no Hello frame by then (0 = budget) */
	const char *console_path;    /* full console log, may be NULL */
	kt_vm_frame_fn on_frame;
	void *ctx;
};

struct kt_vm_outcome {
	bool contact;          /* a Hello frame arrived */
	bool done;             /* on_frame said the guest finished */
	bool watchdog;         /* killed at budget_ms */
	bool contact_timeout;  /* killed for lack of contact */
	bool panic;            /* "Kernel panic" seen on the console */
	bool halted;           /* "System halted": the boot stub gave up (bad image) */
	bool kernel_seen;      /* the kernel's "Linux version" banner was printed */
	int exit_status;       /* QEMU's wait status */
	uint64_t contact_ms;   /* spawn to Hello */
	uint64_t total_ms;     /* spawn to QEMU exit */
	unsigned frames_rejected;
	char frame_error[KT_ERR_MAX]; /* the last rejection, if any */
	char console_tail[KT_CONSOLE_TAIL]; /* NUL-terminated */
	char qemu_stderr[1024];
};

int kt_vm_run(const struct kt_vm_opts *opts, struct kt_vm_outcome *out, struct kt_err *err);


#endif
