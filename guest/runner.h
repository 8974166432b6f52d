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
#include "ktstr.pb-c.h"

#define KT_RUNNER_GRACE_MS 2000

/* Run SPEC (validated by kt_spec_validate) against TOPO with
 * cgroups under BASE. The result is malloc'd: free it with
 * ktstr__scenario_result__free_unpacked(r, NULL). Aborts only when out of
 * memory. */
Ktstr__ScenarioResult *kt_runner_run(const Ktstr__EntrySpec *spec,
				     const Ktstr__GuestTopology *topo, const char *base);

#endif
