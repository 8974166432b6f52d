/* The scenario runner: carries out a validated EntrySpec step by step.
 *
 * A step creates its cgroups under BASE (mkdir; cpuset.cpus from the
 * resolved CpusetSpec and cpuset.mems = BASE's cpuset.mems.effective,
 * written before any task joins), forks its workers, moves each into its
 * cgroup, starts them all at once, holds, records each cgroup's
 * cpuset.cpus.effective, stops the workers (SIGKILL after
 * KT_RUNNER_GRACE_MS), collects their telemetry and removes the cgroups.
 * Whatever a step cannot do ends the scenario with ok=false, an error
 * naming the step, the cgroup and the problem, and a kind saying whose
 * fault it is: SCENARIO_ERROR when the spec cannot be set up as written (a
 * cpuset that does not resolve, an odd pipe_io count), WORKER_DIED when a
 * worker died of a signal the agent did not send, GUEST_SETUP for the
 * rest (cgroupfs, fork, a worker's own fault). The cgroups of the steps
 * that completed, and those of the failing step that got as far as
 * collecting, stay in the result. */
#ifndef KTSTR_RUNNER_H
#define KTSTR_RUNNER_H
#include <stdbool.h>
#include "err.h"
#include "ktstr.pb-c.h"

#define KT_RUNNER_GRACE_MS 2000

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

/* Run SPEC (validated by kt_spec_validate) against TOPO with
 * cgroups under BASE. The result is malloc'd: free it with
 * ktstr__scenario_result__free_unpacked(r, NULL). Aborts only when out of
 * memory. */
Ktstr__ScenarioResult *kt_runner_run(const Ktstr__EntrySpec *spec,
				     const Ktstr__GuestTopology *topo, const char *base,
				     const struct kt_runner_hooks *hooks);

#endif
