/* Scenario files: what the guest runs (cgroups of workers, step by step,
 * and ops that change them as it goes) and which checks the host applies
 * to the result. A scenario is YAML, either a file or a name from the
 * built-in catalog (common/catalog/NAME.yaml):
 *
 *   name: two-cgroups                       # [A-Za-z0-9_.-]{1,63}, required
 *   description: one line                   # optional
 *   checks: {not_starved: true, max_gap_ms: 2000, max_spread: 15, isolation: false}
 *   backdrop:                               # optional: cgroups that live
 *     - {name: bg, workers: 1, work: yield_heavy}   # across all steps
 *   steps:                                  # 0..64, run in order
 *     - ops:                                # optional, 1..64, applied in
 *         - {add_cgroup: {name: a, workers: 2}}     # order before cgroups:
 *       cgroups:                            # 1..64, names unique in the step
 *         - {name: cg_0, workers: 2, work: cpu_spin}
 *         - {name: cg_1, cpuset: {disjoint: {index: 1, of: 2}},
 *            work: {bursty: {burst_ms: 50, sleep_ms: 100}}}
 *       hold: {frac: 0.5}                   # or {fixed_ms: N}, or a loop
 *
 * A step needs cgroups, ops or both. A cgroup (in a step, the backdrop or
 * add_cgroup) is a mapping of:
 *   name     required, see Names below
 *   parent   nested under this cgroup, which must exist at that point (the
 *            backdrop, an earlier op, or an earlier cgroup of this step);
 *            the guest makes nested cgroups threaded, so the parent may
 *            keep tasks of its own
 *   cpuset   absent = all CPUs; {exact: [0, 2]} or {exact: "0-1,3"};
 *            {disjoint: {index: I, of: N}}; {llc: N}; {numa: N};
 *            {range: {start: 0.0, end: 0.5}} (fractions of the sorted CPU
 *            list, 0 <= start < end <= 1); {overlap: {index: I, of: N,
 *            frac: F}} (the disjoint slice widened by F of a slice into its
 *            neighbours, F in [0, 1]); see kt_cpuset_resolve (cpuset.h)
 *   workers  1..256; absent or 0 = the run's default
 *   work     see below
 *   affinity per worker, inside the cpuset: inherit (default) |
 *            llc_aligned | single_cpu | {random_subset: {count: N}} |
 *            {cross_cgroup: NAME} | {exact: [1, 3]}; see kt_affinity_resolve
 *   policy   normal | batch | idle | {fifo: P} | {rr: P}, P 1..99
 *   nice     -20..19, for normal and batch only
 *
 * ops: each a one-key mapping, applied in order at the start of the step
 * (before its own cgroups are set up, so ops name only backdrop and op
 * cgroups), and again every interval of a loop hold:
 *   {add_cgroup: CGROUP}                    lives until removed or the end
 *   {remove_cgroup: NAME}                   only an add_cgroup's, no children,
 *                                           no payload running in it
 *   {set_cpuset: {cgroup: NAME, cpuset: CPUSET}}
 *   {clear_cpuset: NAME}                    back to its parent's CPUs
 *   {swap_cpusets: {a: NAME, b: NAME}}
 *   {spawn: {cgroup: NAME, workers: N, work: W, affinity: A, policy: P, nice: N}}
 *   {spawn_host: {...the same...}}          into NAME's parent (a top
 *                                           cgroup's: the cgroup root)
 *   {stop_cgroup: NAME}                     its workers stop, telemetry kept
 *   {set_affinity: {cgroup: NAME, kind: AFFINITY}}  CPUs outside the
 *                                           cgroup's cpuset (but for
 *                                           cross_cgroup) end the run as
 *                                           `error`, naming op, cgroup, CPUs
 *   {move_all_tasks: {from: NAME, to: NAME}}
 *   {run_payload: {name: N, path: /host/path, args: [...], exit_code: 0,
 *                  cgroup: NAME, metrics: [{path: a.b, min: X, max: Y}]}}
 *                                           the binary sits at /bin/<basename>
 *                                           in the guest; stdout is kept (64
 *                                           KiB) and checked on the host as
 *                                           JSON (common/payload_check.h);
 *                                           a metric without bounds must exist
 *   {wait_payload: {name: N, timeout_ms: T}} 1..3600000 ms at native speed:
 *                                           the guest waits T times the
 *                                           measured guest/host slowdown
 *                                           (common/calib.h; TCG is 5-10x),
 *                                           ended in time before its
 *                                           watchdog (guest/runner.h); past
 *                                           it: the payload (and its process
 *                                           group) killed, fail ("timed out
 *                                           after 25000 ms = 5000 ms x 5.0
 *                                           measured slowdown"); error when
 *                                           the watchdog cut the wait short
 *   {kill_payload: N}                       it and its process group; fine
 *                                           (the result says killed_by_op)
 *   {snapshot: NAME}                        the scheduler's maps, now
 *   {watch_snapshot: SYMBOL}                when SYMBOL is written
 * Names resolve through the steps on the host (kt_spec_resolve): an op
 * naming a cgroup that cannot exist at that point, a payload waited or
 * killed that is not running, a payload name used twice, two payload
 * files with one basename, or one name made twice in a step are errors
 * at their line, and so is a remove_cgroup of a cgroup that holds a
 * payload still running (removing it kills the payload: wait or kill it
 * first; a payload moves with move_all_tasks; stop_cgroup stops only
 * workers). Every payload still running at the end is killed, and fails.
 * A loop hold repeats only set_cpuset, clear_cpuset,
 * swap_cpusets, set_affinity and move_all_tasks. When ops move tasks or
 * change cpusets, every worker reports segments (ktstr.proto Segment) for
 * the isolation check.
 *
 * work: a type name, or a one-key map {TYPE: {params}}; what each type does
 * is in guest/workload.h. Types and their params (all optional, ranges and
 * defaults):
 *   cpu_spin (the default), yield_heavy, mixed, io_sync, pipe_io,
 *   futex_ping_pong, fork_exit, nice_sweep, affinity_churn, policy_churn
 *                     no params
 *   bursty            burst_ms 1..60000 (50), sleep_ms 0..60000 (100)
 *   futex_fan_out, fan_out_compute    fan_out 1..255 (4)
 *   cache_pressure, cache_yield, cache_pipe
 *                     size_kb 1..65536 (32), stride 1..65536 bytes (64),
 *                     stride at most the buffer
 *   page_fault_churn  region_kb 4..262144 (4096)
 *   mutex_contention  contenders 2..256 (4)
 *   sequence          phases (required): 1..16 of {work: NAME, ms: 1..60000},
 *                     NAME one of sleep, cpu_spin, yield_heavy, mixed,
 *                     io_sync, cache_pressure, cache_yield, fork_exit,
 *                     page_fault_churn (at their defaults); not all sleep;
 *                     cycled until the step ends.
 * Grouped types: a cgroup's workers must be a multiple of the group
 * (kt_spec_work_group): pipe_io, futex_ping_pong and cache_pipe pairs,
 * fan_out + 1 for futex_fan_out and fan_out_compute, contenders for
 * mutex_contention.
 * Names (the scenario's and the cgroups') follow kt_spec_name_problem
 * (entry_spec.h): no "." or "..", and a cgroup name is not a cgroupfs
 * file name such as cgroup.procs or cpu.max.
 * workers: 1..256; absent or 0 = the run's default (kt_scenario_entry_spec);
 * at most 1024 in a step and 4096 in all. Grouped types need a multiple of
 * their group, also when the count is the run's default.
 * hold: frac in (0, 1] of the run's duration, or fixed_ms 1..3600000, or
 * {loop: {frac: F | fixed_ms: N, interval_ms: 1..3600000}} (hold, applying
 * the step's ops again every interval); absent = 1/number of steps. The
 * fractions of all steps sum to at most 1.
 * checks: all optional, written and ranged as in common/checks_cfg.h
 * (e.g. {max_gap_ms: 3000, max_throughput_cv: 0.5, min_work_rate: off});
 * the optional checks are off unless set. isolation defaults to on when
 * any cgroup has a cpuset (there is something to be isolated), off
 * otherwise. A matrix's scheduler and test `checks:` and ktstr-run's
 * --check override them (scenario < scheduler < test).
 *
 * Parsing is strict so that a typo never silently runs a different test:
 * unknown and duplicate keys, wrong types and out-of-range values are
 * errors. Numbers and booleans must be plain (unquoted) scalars. Every error
 * reads "FILE:LINE: FIELD.PATH: what is wrong". Anchors and aliases work;
 * nesting deeper than 16 levels and more than 64 anchors are refused (they
 * would make libyaml slow, and no scenario needs them). */
#ifndef KTSTR_SCENARIO_H
#define KTSTR_SCENARIO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "entry_spec.h"
#include "err.h"
#include "topology.h"

#define KT_SCENARIO_MAX_BYTES (1u << 20)

/* Check thresholds; see checks.h for what each one measures and
 * common/checks_cfg.h for how they are written and overridden. An optional
 * check is off while its threshold is KT_CHECK_OFF (negative). */
#define KT_CHECK_OFF (-1.0)
struct kt_checks_cfg {
	bool not_starved;           /* default true */
	double max_gap_ms;          /* default 2000, scaled by slowdown */
	double max_spread;          /* default 15 (percentage points of run-queue wait) */
	double spread_warmup_ms;    /* default 500: spread is judged after it */
	bool isolation;             /* default false (see above) */
	double max_throughput_cv;   /* optional: CV of work units per wall-second */
	double min_work_rate;       /* optional: work units per CPU-second, / slowdown */
	double max_p99_wake_us;     /* optional: a worker's p99 wake latency, scaled */
	double max_wake_cv;         /* optional: CV of mean wake latency */
	double max_migration_ratio; /* optional: migrations per timeslice */
	/* Not a setting: the measured guest/host slowdown (common/calib.h,
	 * >= 1) that the time thresholds are scaled by; 1 by default. */
	double slowdown;
};

/* ktstr's defaults: not_starved on, gap 2000 ms, spread 15, no isolation,
 * the optional checks off, slowdown 1. */
void kt_checks_cfg_default(struct kt_checks_cfg *c);

struct kt_scenario; /* opaque, immutable once parsed */

/* Parse LEN bytes of YAML; FILENAME only labels error messages. */
int kt_scenario_parse(const char *text, size_t len, const char *filename,
		      struct kt_scenario **out, struct kt_err *err);

/* NAME_OR_PATH containing a '/' or ending in .yaml/.yml is a file (at most
 * KT_SCENARIO_MAX_BYTES); anything else is a catalog name. */
int kt_scenario_load(const char *name_or_path, struct kt_scenario **out, struct kt_err *err);

const char *kt_scenario_name(const struct kt_scenario *s);
const char *kt_scenario_description(const struct kt_scenario *s); /* "" if none */
const struct kt_checks_cfg *kt_scenario_checks(const struct kt_scenario *s);

/* Whether every cpuset in S can be built on topology T (enough CPUs for
 * disjoint slices, LLC and exact CPU numbers that exist), so that a run on a
 * topology that cannot hold the scenario is rejected on the host, before a
 * guest boots. The error names the cgroup and the topology. */
int kt_scenario_fits(const struct kt_scenario *s, const struct kt_topo *t, struct kt_err *err);

/* Planned hold time of all steps for a run of DURATION_MS, in ms, with
 * every wait_payload's timeout (unscaled: the worker gives the waits more
 * room under TCG, and the guest clamps its scaled waits to its watchdog):
 * what a guest watchdog must allow beyond boot and set-up. */
double kt_scenario_planned_ms(const struct kt_scenario *s, uint64_t duration_ms);

/* Build and pack the EntrySpec (version KT_SCENARIO_ENTRY_VERSION) for one
 * run into a malloc'd *BUF of *LEN bytes. DEFAULT_WORKERS (1..256) fills the
 * cgroups whose count is unset. Checks the rules that depend on the run:
 * the default count must suit the grouped work types of such cgroups
 * (kt_spec_work_group: a multiple of the group), DURATION_MS is
 * 0..86400000, when
 * WATCHDOG_MS is not 0 the planned hold time must end before it, and the
 * spec passes kt_spec_validate (the guest's rules: at most 1024 workers in
 * a step and 4096 in all, a step's hold at most one hour). Errors name the
 * scenario, the step and the cgroup. */
int kt_scenario_entry_spec(const struct kt_scenario *s, uint64_t duration_ms,
			   unsigned default_workers, uint32_t watchdog_ms, uint8_t **buf,
			   size_t *len, struct kt_err *err);

/* The host paths of the scenario's payload binaries, NULL-terminated
 * (each once): the host packs them at /bin/<basename> in the guest
 * (kt_initramfs_base's extra_bins), where the EntrySpec points. */
const char *const *kt_scenario_payload_bins(const struct kt_scenario *s);

void kt_scenario_free(struct kt_scenario *s);

#endif
