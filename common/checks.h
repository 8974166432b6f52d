/* Checks: the host's verdict on a ktstr.ScenarioResult, as thresholds from
 * a struct kt_checks_cfg (scenario.h; written as in checks_cfg.h) applied
 * to the guest's telemetry. Pure arithmetic, no I/O. Each check aggregates
 * over all cgroups; its value is the worst one found and its message names
 * where (cgroup, worker index), the value and the threshold. A check passes
 * when value <= threshold (work_rate: value >= threshold).
 *
 *   not_starved.work    workers that did no work units;     threshold 0
 *   not_starved.spread  largest spread (max - min) of run-queue wait % among
 *                       the workers of one cgroup, wait % = 100 * run_delay /
 *                       wall (schedstat), clamped to [0, 100]: the off-CPU
 *                       time a worker did not choose (for CPU-bound work the
 *                       same as 100 * (1 - cpu/wall); blocking work's own
 *                       sleeps do not count); threshold max_spread. Workers
 *                       with wall time 0 were not measured: left out of
 *                       the spread and named in the message. The wait %
 *                       leaves out a worker's first spread_warmup_ms (its
 *                       settle sample, WorkerStats.settle_*): the
 *                       scheduler placing and balancing new tasks is a
 *                       transient, and spread is about the steady share.
 *                       Like is compared with like: when a worker of
 *                       the cgroup has no sample, or its run after the
 *                       sample is shorter than before it, the whole
 *                       cgroup is judged over the whole run; the message
 *                       counts cgroups of each kind.
 *   not_starved.gap     largest gap between progress checks, ms;
 *                       max_gap_ms x slowdown
 *   isolation           workers seen on a CPU outside their cgroup's cpus;
 *                       threshold 0. A worker with segments (it moved, or
 *                       its cpuset changed) is judged per segment against
 *                       that segment's cpus, and the message names the
 *                       segment's cgroup.
 *   throughput_cv       optional: the largest coefficient of variation
 *                       (population standard deviation / mean) of work
 *                       units per wall-second among the workers of one work
 *                       type in one cgroup (2 or more with wall time);
 *                       per wall-second, because a worker held off the CPU
 *                       is what falls behind; max_throughput_cv
 *   work_rate           optional: the lowest work units per CPU-second of
 *                       any worker (0 without CPU time): work done with the
 *                       CPU a worker had; min_work_rate / slowdown
 *   wake_latency.p99    optional: the largest p99 wake-to-run latency of a
 *                       worker, us (workers without wakeups are left out);
 *                       max_p99_wake_us x slowdown
 *   wake_latency.cv     optional: the largest CV of mean wake latency among
 *                       the workers of one type in one cgroup (the guest
 *                       sends percentiles and a mean, not samples);
 *                       max_wake_cv
 *   migration_ratio     optional: the largest migrations (CPU changes seen)
 *                       per timeslice (schedstat) of a worker; per
 *                       timeslice, because a worker can only change CPU
 *                       when it is scheduled again, so the ratio is in
 *                       [0, 1] whatever the run's length or work type;
 *                       workers without timeslices are left out;
 *                       max_migration_ratio
 * An optional check whose data no worker has (no wake-based work, no
 * schedstat) passes and says so.
 *
 * slowdown: cfg->slowdown, the guest's measured slowdown against the host
 * (common/calib.h), >= 1; time thresholds are scaled by it and their
 * messages say so: "threshold 23600.0 ms (2000 ms x 11.8 measured
 * slowdown)", and kt_check.threshold holds the scaled value.
 *
 * The three not_starved checks run when cfg->not_starved, isolation when
 * cfg->isolation, an optional check when its threshold is not KT_CHECK_OFF.
 * A result that carries nothing to judge (the scenario did not run, no
 * cgroups, a cgroup without workers, a cgroup or segment without cpus when
 * isolation is checked against it, or inconsistent arrays) is an error,
 * not a pass: a broken agent must not make a scheduler look good. */
#ifndef KTSTR_CHECKS_H
#define KTSTR_CHECKS_H
#include <stdbool.h>
#include <stddef.h>
#include "err.h"
#include "ktstr.pb-c.h"
#include "scenario.h"

#define KT_CHECKS_MAX 9

struct kt_check {
	char name[48];
	bool passed;
	double value;
	double threshold;
	char message[384];
};

/* Evaluate CFG on RES into a malloc'd array *OUT of *N checks (free()).
 * Returns -1 (and *OUT NULL) when RES cannot be judged, see above. */
int kt_checks_eval(const struct kt_checks_cfg *cfg, const Ktstr__ScenarioResult *res,
		   struct kt_check **out, size_t *n, struct kt_err *err);

/* Whether all N checks passed (true for none). */
bool kt_checks_passed(const struct kt_check *c, size_t n);

#endif
