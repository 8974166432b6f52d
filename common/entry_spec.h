/* The rules of a ktstr.EntrySpec: the one scenario run the host hands the
 * guest agent (/ktstr/entry.pb). Both sides check the same rules: the host
 * when it builds the spec (kt_scenario_entry_spec), the agent before it
 * acts on one. So a spec the agent would refuse never boots a guest, and
 * the agent can still rely on sane names and bounded counts when the file
 * it reads is not what the host wrote. */
#ifndef KTSTR_ENTRY_SPEC_H
#define KTSTR_ENTRY_SPEC_H
#include <stdbool.h>
#include <stdint.h>
#include "err.h"
#include "ktstr.pb-c.h"

#define KT_SCENARIO_ENTRY_VERSION 2 /* EntrySpec.version */

#define KT_SPEC_MAX_STEPS 64
#define KT_SPEC_MAX_CGROUPS 64          /* per step */
#define KT_SPEC_MAX_WORKERS 256         /* per cgroup */
#define KT_SPEC_MAX_STEP_WORKERS 1024   /* per step */
#define KT_SPEC_MAX_TOTAL_WORKERS 4096  /* per scenario: bounds the result frame */
#define KT_SPEC_NAME_MAX 63             /* cgroup and scenario names */
#define KT_SPEC_MAX_DURATION_MS 86400000u
#define KT_SPEC_MAX_HOLD_MS 3600000u    /* one step's hold, fixed or frac */
#define KT_SPEC_MAX_BURST_MS 60000u     /* bursty burst_ms and sleep_ms */
#define KT_SPEC_MAX_FAN_OUT 255u        /* waiters per waker: a group fits a cgroup */
#define KT_SPEC_MAX_SIZE_KB 65536u      /* cache_*: 64 MiB, a buffer per worker */
#define KT_SPEC_MAX_STRIDE 65536u       /* cache_*: bytes, at most the buffer */
#define KT_SPEC_MIN_REGION_KB 4u        /* page_fault_churn: one page */
#define KT_SPEC_MAX_REGION_KB 262144u   /* 256 MiB: the smallest guest's memory */
#define KT_SPEC_MAX_CONTENDERS 256u     /* mutex_contention: 2..256 */
#define KT_SPEC_MAX_PHASES 16           /* sequence */
#define KT_SPEC_MAX_PHASE_MS 60000u
#define KT_SPEC_MAX_OPS 64              /* per step */
#define KT_SPEC_MAX_PAYLOADS 16         /* per scenario */
#define KT_SPEC_MAX_ARGS 64             /* per payload */
#define KT_SPEC_MAX_ARG_LEN 256
#define KT_SPEC_MAX_PATH_LEN 255        /* payload path in the guest */
#define KT_SPEC_MAX_METRICS 32          /* per payload */
#define KT_SPEC_MAX_METRIC_PATH 127
#define KT_SPEC_MAX_SYMBOL 127          /* watch_snapshot symbol */
#define KT_SPEC_MAX_PRIO 99             /* fifo and rr */
#define KT_SPEC_MIN_NICE (-20)
#define KT_SPEC_MAX_NICE 19
#define KT_SPEC_ROOT_CGROUP "/"         /* CgroupStats name of the scenario root
                                         * (workers of spawn_host on a top cgroup) */

/* Parameter defaults (a WorkSpec field of 0 means these). */
#define KT_SPEC_DEFAULT_BURST_MS 50u
#define KT_SPEC_DEFAULT_SLEEP_MS 100u
#define KT_SPEC_DEFAULT_FAN_OUT 4u
#define KT_SPEC_DEFAULT_SIZE_KB 32u
#define KT_SPEC_DEFAULT_STRIDE 64u
#define KT_SPEC_DEFAULT_REGION_KB 4096u
#define KT_SPEC_DEFAULT_CONTENDERS 4u

#define KT_SPEC_WORK_TYPES 19 /* WorkType values are 0..KT_SPEC_WORK_TYPES-1 */

/* Why S is not a valid name, or NULL when it is. A name is
 * 1..KT_SPEC_NAME_MAX of [A-Za-z0-9_.-], not "." or "..". A cgroup name
 * (CGROUP) also is not "PREFIX.anything" for PREFIX "cgroup" or a cgroup v2
 * controller (cpu, cpuset, io, memory, pids, ...): those are cgroupfs
 * interface files (cgroup.procs, cpu.max, memory.pressure), and mkdir would
 * clash with one. The reason is a short phrase for a message. */
const char *kt_spec_name_problem(const char *s, bool cgroup);

/* The YAML name of work type T ("cpu_spin", "futex_fan_out", ...), NULL
 * for a value this build does not know. */
const char *kt_spec_work_name(Ktstr__WorkType t);

/* The work type called NAME; false when there is none. */
bool kt_spec_work_by_name(const char *name, Ktstr__WorkType *out);

/* Whether T can be a phase of a sequence: the types that need no partner
 * and leave the worker as they found it (cpu_spin, yield_heavy, mixed,
 * io_sync, cache_pressure, cache_yield, fork_exit, page_fault_churn). The
 * churn types are left out because the nice, affinity or policy they set
 * would outlive their phase; bursty is itself spin and sleep phases. */
bool kt_spec_phase_work_ok(Ktstr__WorkType t);

/* How many workers of WORK (NULL = cpu_spin) work together, so that a
 * cgroup's count must be a multiple of it: 2 for pipe_io, futex_ping_pong
 * and cache_pipe (pairs), fan_out + 1 for futex_fan_out and fan_out_compute
 * (one waker, fan_out waiters), contenders for mutex_contention (sharing
 * one mutex), else 1. Parameters of 0 count as their defaults. Meant for
 * a WORK that kt_spec_work_check accepts; never 0 for any WORK. */
unsigned kt_spec_work_group(const Ktstr__WorkSpec *work);

/* Whether N workers of WORK (NULL = cpu_spin) can run: a known type, its
 * parameters in range (0 = the default; bursty: burst_ms 1..60000 and
 * sleep_ms 0..60000, both 0 = 50 and 100; fan_out 1..255; size_kb
 * 1..65536 and stride 1..65536 with stride <= the buffer; region_kb
 * 4..262144; contenders 2..256; sequence: 1..16 phases of ms 1..60000,
 * each sleep or a kt_spec_phase_work_ok type, at least one not sleep),
 * and N a multiple of kt_spec_work_group. */
int kt_spec_work_check(const Ktstr__WorkSpec *work, unsigned n, struct kt_err *err);

/* The rules: version KT_SCENARIO_ENTRY_VERSION; the scenario name printable
 * ASCII, at most KT_SPEC_NAME_MAX; duration_ms <= KT_SPEC_MAX_DURATION_MS;
 * counts within the limits above; cgroup names kt_spec_cgroup_name_ok and
 * unique in their step; kt_spec_work_check; hold frac finite in [0, 1],
 * hold time <= KT_SPEC_MAX_HOLD_MS; known cpuset kinds with sane
 * parameters (range 0 <= start < end <= 1, overlap frac in [0, 1]),
 * affinities, policies (fifo/rr priority 1..99, nice -20..19 for normal
 * and batch only); ops and payloads within the limits above; names that
 * resolve (kt_spec_resolve). Errors name the scenario, the step and the
 * cgroup or op. watchdog_ms 0 means no guest watchdog. */
int kt_spec_validate(const Ktstr__EntrySpec *spec, struct kt_err *err);

/* Where kt_spec_resolve found a problem: the backdrop's cgroup INDEX,
 * step STEP's op INDEX or step STEP's cgroup INDEX. The scenario parser
 * turns it into a file line. */
enum kt_spec_at { KT_AT_BACKDROP, KT_AT_OP, KT_AT_CGROUP };
struct kt_spec_where {
	enum kt_spec_at at;
	size_t step, index;
};

/* One cgroup instance of a run, in creation order: the backdrop's (step
 * 0), then per step those its ops add and its own cgroups, and the
 * scenario root KT_SPEC_ROOT_CGROUP at the first spawn_host into it.
 * (STEP, NAME) is unique and is how the guest's CgroupStats name it. */
struct kt_spec_cg {
	const char *name;
	uint32_t step;
	const Ktstr__CgroupSpec *spec;  /* NULL for the root */
	unsigned workers;               /* its own plus spawn / spawn_host ops */
	bool cpuset_changed;            /* set_cpuset, clear_cpuset or swap_cpusets */
};

struct kt_spec_plan {
	struct kt_spec_cg *cg;          /* malloc'd */
	size_t n;
	size_t n_payloads;
};

/* Walk SPEC's steps the way the guest runner will and check every name
 * against what exists at that point: the backdrop lives throughout; an
 * add_cgroup lives until its remove_cgroup or the end; a step's own
 * cgroups live for the step and are set up after its ops, so ops name
 * only backdrop and op cgroups. Errors: a name that does not exist (or
 * already exists), a parent that does not exist, removing a cgroup that
 * is not an op's or has children or holds a payload still running
 * (remove_cgroup kills what is in it; a payload moves with its cgroup's
 * move_all_tasks), the same name made twice in one step, a payload
 * waited or killed that is not running or run twice, in a LOOP
 * hold an op that cannot repeat (only set_cpuset, clear_cpuset,
 * swap_cpusets, set_affinity and move_all_tasks can). WHERE (may be NULL)
 * says where; PLAN (may be NULL) receives the cgroup instances; free it
 * with kt_spec_plan_free. */
int kt_spec_resolve(const Ktstr__EntrySpec *spec, struct kt_spec_plan *plan,
		    struct kt_spec_where *where, struct kt_err *err);
void kt_spec_plan_free(struct kt_spec_plan *plan);

/* The name an Op's case goes by in YAML ("add_cgroup", ...). */
const char *kt_spec_op_name(const Ktstr__Op *op);

/* The hold time of STEP in ms (FRAC of duration_ms, rounded, or FIXED). */
uint64_t kt_spec_hold_ms(const Ktstr__EntrySpec *spec, const Ktstr__StepSpec *step);

#endif
