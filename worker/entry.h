/* One test entry, end to end: initramfs (cached base + per-entry spec),
 * accelerator choice, QEMU under a watchdog, frames from the guest agent,
 * checks, and an honest status:
 *
 *   pass   the scenario ran and every check passed; or the scheduler
 *          under test failed and expect_err said it would
 *   fail   the kernel/scheduler misbehaved: a check failed, the kernel
 *          panicked while the agent ran, the guest watchdog expired, a
 *          worker died of a signal nobody sent, the scheduler under test
 *          failed (stall, error, crash, verifier; the message carries
 *          its signature: exit kind and reason; the checks are not
 *          judged), never became enabled, or survived an expect_err
 *   error  the test itself is wrong (the scenario could not be set up)
 *   infra  no guest agent contact, panic before the agent started, the
 *          agent itself died, host watchdog with no result, a guest
 *          topology or cpuset other than requested, guest set-up failed
 *   skip   a sched_ext scheduler on a kernel without sched_ext
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

/* The scheduler under test; kt_entry_req.sched NULL = the kernel's own. */
struct kt_entry_sched {
	const char *name;               /* "scx-ktstr", or the binary's basename */
	const char *binary;             /* host path; packed at /bin/<basename> */
	const char *const *args;        /* NULL-terminated, may be NULL */
	bool expect_err;                /* a scheduler failure is the expected outcome */
	const char *const *sysctls;     /* "key=value", NULL-terminated, may be NULL */
	const char *const *kernel_args; /* appended to the guest command line */
};

/* A payload binary kept somewhere other than the host path its scenario
 * names (a farm worker's fetched copy). LOCAL_PATH's basename must be
 * SCENARIO_PATH's: the guest runs it as /bin/<basename>. */
struct kt_entry_payload {
	const char *scenario_path;      /* as written in run_payload */
	const char *local_path;
};

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
	const struct kt_checks_cfg *checks; /* NULL = the scenario's own */
	const struct kt_entry_sched *sched; /* NULL = the kernel's own scheduler */
	/* Payload binaries found elsewhere, ended by a NULL scenario_path;
	 * NULL = every payload at the path the scenario names. */
	const struct kt_entry_payload *payloads;
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
	/* The guest's slowdown against this host (common/calib.h), which the
	 * time thresholds were scaled by: set once the guest said Hello. */
	struct {
		uint64_t guest_ns, host_ns; /* the calibration loop's time on each */
		double factor;              /* kt_calib_factor; 1 = not scaled */
	} speed;
	struct kt_check *checks;
	size_t n_checks;
	char *logs[KT_ENTRY_MAX_LOGS];
	size_t n_logs;
	struct kt_vm_outcome vm;
};

/* Returns -1 only for a malformed request (missing fields); everything else,
 * from a scenario that does not fit the topology to a guest that never
 * answered, is in RES->status and RES->message. */
int kt_entry_run(const struct kt_entry_req *req, struct kt_entry_result *res, struct kt_err *err);
void kt_entry_result_free(struct kt_entry_result *res);

/* The guest watchdog WD (planned holds and waits, set-up) stretched for
 * TCG: plus (KT_TCG_WAIT_FACTOR - 1) times SPEC's wait_payload timeouts,
 * at most KT_TCG_WD_MAX_MS (never below WD). The guest scales its waits by
 * the slowdown it measures (guest/runner.h), which the host learns only
 * after boot; TCG's typical one (common/calib.h measures 5-10) fits, and
 * beyond it the guest clamps its waits to the watchdog. */
#define KT_TCG_WAIT_FACTOR 10
#define KT_TCG_WD_MAX_MS 86400000u
uint32_t kt_entry_tcg_watchdog(const Ktstr__EntrySpec *spec, uint32_t wd);

/* The status of a finished guest run: RES->vm and the frames it collected
 * (hello, gtopo, result) against the request and the entry's SPEC. Sets
 * RES->status, message, speed, checks. Exposed for the outcome-table tests. */
void kt_entry_classify(const struct kt_entry_req *req, const Ktstr__EntrySpec *spec,
		       struct kt_entry_result *res);

#endif
