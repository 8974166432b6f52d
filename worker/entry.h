/* One test entry, end to end: initramfs (cached base + per-entry spec),
 * accelerator choice, QEMU under a watchdog, frames from the guest agent,
 * checks, and an honest status:
 *
 *   pass   the scenario ran and every check passed
 *   fail   the kernel/scheduler misbehaved: a check failed, the kernel
 *          panicked during the scenario, the guest watchdog expired
 *   error  the test itself is wrong (the scenario could not be set up)
 *   infra  no guest agent contact, panic before the scenario, host
 *          watchdog with no result, a guest topology other than requested
 *
 * This is the core that ktstr-run and the farm's worker share. */
#ifndef KTSTR_ENTRY_H
#define KTSTR_ENTRY_H
#include <stdbool.h>
#include <stdint.h>
#include "checks.h"
#include "err.h"
#include "kernel_cache.h"
#include "ktstr.pb-c.h"
#include "qemu.h"
#include "scenario.h"
#include "topology.h"
#include "vm.h"

enum kt_status { KT_PASS, KT_FAIL, KT_ERROR, KT_INFRA, KT_SKIP };

const char *kt_status_name(enum kt_status s);
/* ktstr-run's exit code: 0 pass (and skip), 1 fail, 2 error or infra. */
int kt_status_exit_code(enum kt_status s);

enum kt_accel_mode { KT_ACCEL_AUTO, KT_ACCEL_ONLY_TCG, KT_ACCEL_ONLY_KVM };

struct kt_entry_req {
	const char *cache_dir;
	const char *agent;               /* ktstr-guest binary */
	const struct kt_kernel *kernel;
	struct kt_topo topo;
	const struct kt_scenario *scenario;
	uint64_t duration_ms;
	unsigned workers;                /* per cgroup where the scenario leaves it open */
	unsigned mem_mb;                 /* 0 = default for the topology */
	enum kt_accel_mode accel;
	const char *console_path;        /* may be NULL */
};

#define KT_ENTRY_MAX_LOGS 64

struct kt_entry_result {
	enum kt_status status;
	char message[1024];
	enum kt_accel accel;
	char accel_why[256];
	uint64_t boot_ms;       /* QEMU start to guest agent contact */
	uint64_t run_ms;        /* scenario run time reported by the guest */
	uint64_t total_ms;      /* QEMU start to exit */
	Ktstr__Hello *hello;
	Ktstr__GuestTopology *gtopo;
	Ktstr__ScenarioResult *result;
	bool topo_match;
	struct kt_check *checks;
	size_t n_checks;
	char *logs[KT_ENTRY_MAX_LOGS];
	size_t n_logs;
	struct kt_vm_outcome vm;
};

/* Returns -1 only when the entry could not be attempted at all (bad request,
 * no initramfs); everything that happens to the guest is in RES->status. */
int kt_entry_run(const struct kt_entry_req *req, struct kt_entry_result *res, struct kt_err *err);
void kt_entry_result_free(struct kt_entry_result *res);

#endif
