/* The scenario runner: carries out a validated EntrySpec step by step.
 *
 * Cgroups live under BASE (mkdir; cpuset.cpus from the resolved CpusetSpec,
 * within the parent's for a nested one, and cpuset.mems = BASE's
 * cpuset.mems.effective, written before any task joins; a nested cgroup
 * is threaded, and a parent gets +cpuset before its tasks). The backdrop's
 * cgroups are made first and live to the end; then each step applies its
 * ops in order (add_cgroup's cgroups live until remove_cgroup or the end),
 * makes its own cgroups, forks their workers, moves each into its cgroup
 * (affinity and policy set from here), starts them all at once, holds
 * (re-applying the ops every interval of a LOOP hold; watching payloads
 * and the scheduler), records each of its cgroups' cpuset.cpus.effective,
 * stops its workers (SIGKILL after KT_RUNNER_GRACE_MS), collects their
 * telemetry and removes its cgroups. At the end every payload still
 * running is killed and everything left is stopped, collected and
 * removed. Workers whose cgroup changes (move_all_tasks) or whose cpuset
 * changes (set/clear/swap) report segments (WorkerStats.segments; see
 * kt_workset_segment_next). Payloads run from /bin/<basename> in their
 * cgroup, each in a process group of its own, stdout kept up to 64 KiB,
 * each with a PayloadResult. However a payload ends (it exits, is waited
 * past its timeout, killed by kill_payload or at the end), its whole
 * process group is killed, so no child of it outlives it, and those of
 * them that are the agent's children (orphans, as PID 1) are reaped.
 * Whatever cannot be done ends the scenario with ok=false, an error naming
 * the step, the op or cgroup and the problem, and a kind saying whose
 * fault it is: SCENARIO_ERROR when the spec cannot be carried out as
 * written (a cpuset that does not resolve, an odd pipe_io count, an
 * affinity outside the cpuset, a payload that does not exec, a watch the
 * scheduler side refuses), WORKER_DIED when a worker died of a signal the
 * agent did not send, GUEST_SETUP for the rest (cgroupfs, fork, a worker's
 * own fault). Every cgroup made and every worker spawned stays in the
 * result. */
#ifndef KTSTR_RUNNER_H
#define KTSTR_RUNNER_H
#include <stdbool.h>
#include <stdint.h>
#include "err.h"
#include "ktstr.pb-c.h"

#define KT_RUNNER_GRACE_MS 2000
/* Segments per worker: one per distinct (cgroup, effective CPUs) it ran
 * under; a repeat adds to the one it has. Bounds the result frame. */
#define KT_RUNNER_MAX_SEGMENTS 64

/* What the runner asks of the scheduler side (guest/sched.c); any hook may
 * be NULL, and HOOKS itself may be NULL (no scheduler).
 *   snapshot       the `snapshot: NAME` op: capture now. Never fails the
 *                  step: a failed capture is recorded with its error, and
 *                  without a scheduler it is a logged no-op.
 *   watch          the `watch_snapshot: SYMBOL` op: -1 fails the step with
 *                  ERR (containing "cap exceeded" for a 4th watch, "did
 *                  not resolve" for an unknown symbol).
 *   sched_failed   polled during holds: true once the scheduler under test
 *                  has failed; the runner then ends the hold and skips the
 *                  remaining steps (the scenario stays ok: the verdict is
 *                  the scheduler's). */
struct kt_runner_hooks {
	void *ctx;
	void (*snapshot)(void *ctx, const char *name);
	int (*watch)(void *ctx, const char *symbol, struct kt_err *err);
	bool (*sched_failed)(void *ctx);
};

/* Time as the guest sees it, for wait_payload. A payload's timeout is
 * written for a host at native speed: the runner scales it by
 * kt_calib_factor(CALIB_NS, spec->host_calib_ns) (1 when either is 0), so
 * that a payload slowed down by TCG is not cut off. The scaled wait is
 * clamped to end KT_RUNNER_END_RESERVE_MS plus the unscaled planned time
 * of the rest of the scenario before DEADLINE_MS (kt_now_ms() at which
 * the guest watchdog fires; 0 = none), but never below the timeout as
 * written (the host sized the watchdog for that): a timeout reached when
 * clamped is recorded as such (PayloadResult.clamped) and judged as an
 * error, not the scheduler's failure. */
#define KT_RUNNER_END_RESERVE_MS 10000
struct kt_runner_time {
	uint64_t calib_ns;    /* the guest's kt_calib_measure (Hello.calib_ns) */
	uint64_t deadline_ms; /* the guest watchdog fires at kt_now_ms() == this */
};

/* Run SPEC (validated by kt_spec_validate) against TOPO with
 * cgroups under BASE; TIME may be NULL (no scaling, no watchdog). The result is malloc'd: free it with
 * ktstr__scenario_result__free_unpacked(r, NULL). Aborts only when out of
 * memory. */
Ktstr__ScenarioResult *kt_runner_run(const Ktstr__EntrySpec *spec,
				     const Ktstr__GuestTopology *topo, const char *base,
				     const struct kt_runner_hooks *hooks,
				     const struct kt_runner_time *time);

#endif
