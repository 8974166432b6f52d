/* Checks: the host's verdict on a ktstr.ScenarioResult, as thresholds from
 * a struct kt_checks_cfg (scenario.h) applied to the guest's telemetry.
 * Pure arithmetic, no I/O. Each check aggregates over all cgroups; its value
 * is the worst one found and its message names where (cgroup, worker index)
 * and states value and threshold. A check passes when value <= threshold.
 *
 *   not_starved.work    workers that did no work units;     threshold 0
 *   not_starved.spread  largest spread (max - min) of run-queue wait % among
 *                       the workers of one cgroup, wait % = 100 * run_delay /
 *                       wall (schedstat), clamped to [0, 100]: the off-CPU
 *                       time a worker did not choose (for CPU-bound work the
 *                       same as 100 * (1 - cpu/wall); blocking work's own
 *                       sleeps do not count); threshold max_spread. Workers
 *                       with wall time 0 were not measured: left out of
 *                       the spread and named in the message.
 *   not_starved.gap     largest gap between progress checks, ms; max_gap_ms
 *   isolation           workers seen on a CPU outside their cgroup's cpus;
 *                       threshold 0
 *
 * The three not_starved checks run when cfg->not_starved, isolation when
 * cfg->isolation. A result that carries nothing to judge (the scenario did
 * not run, no cgroups, a cgroup without workers, a cgroup without cpus when
 * isolation is checked, or inconsistent arrays) is an error, not a pass:
 * a broken agent must not make a scheduler look good. */
#ifndef KTSTR_CHECKS_H
#define KTSTR_CHECKS_H
#include <stdbool.h>
#include <stddef.h>
#include "err.h"
#include "ktstr.pb-c.h"
#include "scenario.h"

#define KT_CHECKS_MAX 4

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
