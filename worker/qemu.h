/* QEMU command line for one test guest.
 *
 * Topology mapping: one QEMU socket per LLC (QEMU gives every socket its own
 * L3 under TCG and KVM alike; `dies` does not split the L3 on AMD-flavoured
 * CPU models), cores and threads as asked, and sockets grouped into NUMA
 * nodes in order, each node with an equal share of the memory.
 * COM1 (ttyS0) is the kernel console on QEMU's stdout; COM2 (ttyS1) is the
 * control channel on a unix socket that QEMU serves and waits on before it
 * starts the guest, so not a byte of it is lost. */
#ifndef KTSTR_QEMU_H
#define KTSTR_QEMU_H
#include "err.h"
#include "strv.h"
#include "topology.h"

enum kt_accel { KT_ACCEL_TCG = 0, KT_ACCEL_KVM = 1 };

struct kt_qemu_cfg {
	const char *qemu;       /* binary; NULL = qemu-system-x86_64 */
	const char *kernel;     /* bzImage path */
	const char *initrd;     /* initramfs path */
	struct kt_topo topo;
	unsigned mem_mb;        /* 0 = kt_topo_default_mem_mb() */
	enum kt_accel accel;
	const char *ctl_socket; /* unix socket path for COM2 */
	const char *append;     /* extra kernel arguments, may be NULL */
};

const char *kt_accel_name(enum kt_accel a);
/* The kernel command line every guest gets (before cfg->append).
 * earlyprintk makes the boot stub's own errors (a corrupt image) visible;
 * panic=-1 with QEMU's -no-reboot turns a panic into a prompt exit. */
#define KT_KERNEL_CMDLINE \
	"console=ttyS0 earlyprintk=serial,ttyS0 rdinit=/init panic=-1 mitigations=off"

/* Fill ARGV (initialised by the caller) with the full command line. */
int kt_qemu_argv(const struct kt_qemu_cfg *cfg, struct kt_strv *argv, struct kt_err *err);

#endif
