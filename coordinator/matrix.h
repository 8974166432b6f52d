/* Matrix files: what a farm run covers. A matrix names kernels, schedulers
 * (with flag profiles), topologies and tests; it expands into one test
 * entry per combination, each with a stable name
 *
 *   test/topology/scheduler:profile/kernel      e.g. steady/1n2l1c1t/eevdf:default/6.1.0-50-cloud-amd64
 *
 * so the history of one entry can be followed across runs. The shape:
 *
 *   name: nightly                  # required, [A-Za-z0-9_.-]{1,63}
 *   priority: 10                   # optional, -1000..1000, default 0; higher runs first
 *   kernels: [debian:sid, debian:bookworm]   # 1..64 kernel refs (ktstr-run --kernel), unique
 *   schedulers:                    # optional, 1..64; default [{name: eevdf}]
 *     - {name: eevdf}              # the kernel's own scheduler: nothing else allowed
 *     - name: scx-ktstr            # our fixture; built in, so binary is optional
 *       args: [--stall-after=0]    # optional base arguments
 *       checks: {max_p99_wake_us: 5000}  # optional, as a test's (also for eevdf)
 *       flags:                     # optional, at most 16, names [A-Za-z0-9_-]{1,31}
 *         slow: [--slow]           # flag: NAME: [ARGS...] ...
 *         scatter: {args: [--scattershot], requires: [slow]}  # ... or {args, requires}
 *       profiles: [default, slow, slow+scatter]  # optional, see below
 *       sysctls: {kernel.sched_rt_runtime_us: 950000}  # optional, at most 32: written
 *                                  # under /proc/sys in the guest before it starts
 *       kernel_args: [nosmt]       # optional, at most 32 words: appended to the
 *                                  # guest's kernel command line
 *     - {name: scx_rusty, binary: /usr/bin/scx_rusty}  # any other: binary required
 *                                  # (a host path; relative = to the matrix's
 *                                  # directory; ktstr-submit sends it, it runs as
 *                                  # /bin/<name> in the guest)
 *   topologies: [1n1l2c1t, 1n2l2c1t]          # 1..64 NnNlNcNt (kt_topo_parse), unique;
 *                                  # optional when every test has gauntlet: true
 *   budget: 30m                    # optional: time for all tests without their own
 *                                  # budget, together (see Budgets)
 *   tests:                         # 1..64
 *     - scenario: steady           # required: a catalog name, or a file (has a '/'
 *                                  # or ends in .yaml/.yml, as kt_scenario_load decides)
 *       name: steady-long          # optional; default the scenario name (a file's
 *                                  # base name without .yaml); unique among tests
 *       duration: 3s               # optional: N ms | N s | N m (no fraction), default 2s
 *       workers: 4                 # optional: per cgroup where the scenario leaves it open, 1..256
 *       memory_mb: 1024            # optional: guest memory 64..1048576, default
 *                                  # kt_topo_default_mem_mb
 *       constraints: {min_llcs: 2, max_llcs: 8, min_cpus: 2, max_cpus: 64,
 *                     min_numa_nodes: 1, max_numa_nodes: 2, requires_smt: true}
 *       schedulers: [scx-ktstr]    # optional: only these of the matrix's schedulers
 *       expect_err: true           # optional: the scheduler is expected to fail (needs
 *                                  # schedulers: without eevdf, which cannot fail so)
 *       sched_args: [--degrade]    # optional: appended for every scheduler but eevdf
 *       checks: {max_gap_ms: 3000, isolation: true, max_throughput_cv: 0.5}
 *                                  # optional: keys, values and `off` as in
 *                                  # common/checks_cfg.h
 *       tags: [big]                # optional: worker tags the entries need
 *       accel: kvm                 # optional: kvm or tcg; default any
 *       gauntlet: true             # optional: run on every gauntlet preset
 *                                  # (common/gauntlet.h) its constraints allow,
 *                                  # instead of the matrix's topologies
 *       budget: 10m                # optional: this test's own budget
 *
 * Flag profiles: with `profiles:`, each is `default` (no flags) or flags
 * joined by '+', and must satisfy every chosen flag's `requires` (a flag
 * that requires X only runs together with X). Without `profiles:` the
 * profiles are the power set of the flags filtered by `requires`, at most
 * 256. A profile's name lists its flags in declaration order, so
 * "scatter+slow" is the same profile as "slow+scatter" (a duplicate). The
 * entry's arguments: the scheduler's args, then each flag's args in
 * declaration order, then the test's sched_args.
 *
 * Checks: an entry's thresholds are the scenario's own `checks:`, then its
 * scheduler's `checks:`, then its test's, a later one winning key by key
 * (scenario < scheduler < test); the entry carries the scheduler's and the
 * test's merged (kt_entry_def.checks, Assignment.checks) and the worker
 * applies them to the scenario's.
 *
 * Constraints select, per test, the topologies it runs on (requires_smt:
 * threads per core > 1): the matrix's, or with gauntlet: the presets (from
 * tiny-1llc, 4 vCPUs, to max-cpu, 252 vCPUs in 14 LLCs); a test that
 * matches none is an error. Gauntlet entries are named by the canonical
 * topology like any other, so their history joins other tests'.
 *
 * Budgets (N ms | N s | N m, at most 24h): a test's budget picks, among
 * its (topology x scheduler:profile) combinations, the ones that run;
 * the matrix's budget does so for all tests without their own, together.
 * A combination costs its estimated entry time (kt_gauntlet_cost: mean
 * measured total_ms of that topology and accel from stored results,
 * scaled to the test's duration; else extrapolated over vCPUs; else the
 * boot model) times the number of kernels it runs on (skipped entries
 * cost next to nothing). kt_gauntlet_select takes first
 * the combinations that add the most uncovered features (topology
 * classes, schedulers, default profiles, flags) per second, then fills
 * the rest cheapest first. A budget that leaves a test without entries is
 * an error. Without budgets every combination runs. A catalog
 * scenario is checked here against each topology it runs on
 * (kt_scenario_fits) and against the test's duration and workers
 * (kt_scenario_entry_spec); a scenario file is checked the same way by
 * kt_matrix_check_file once its text arrives.
 *
 * Parsing is strict, like scenario files: unknown or duplicate keys, wrong
 * types and out-of-range values are errors, and every error reads
 * "FILE:LINE: FIELD.PATH: what is wrong". An invalid matrix yields nothing:
 * the coordinator queues no entry of it. Bounds: KT_MATRIX_MAX_BYTES of
 * text, 64 kernels, schedulers, topologies and tests, and
 * KT_MATRIX_MAX_ENTRIES entries after expansion, before budgets. */
#ifndef KTSTR_MATRIX_H
#define KTSTR_MATRIX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "checks_cfg.h"
#include "err.h"
#include "gauntlet.h"
#include "scenario.h"
#include "strv.h"
#include "topology.h"

#define KT_MATRIX_MAX_BYTES (1u << 20)
#define KT_MATRIX_MAX_ENTRIES 20000
#define KT_MATRIX_DEFAULT_DURATION_MS 2000
#define KT_MATRIX_DEFAULT_WORKERS 2 /* as ktstr-run */

struct kt_matrix; /* opaque, immutable once parsed */

/* Parse LEN bytes of YAML; FILENAME labels error messages. */
int kt_matrix_parse(const char *yaml, size_t len, const char *filename, struct kt_matrix **out,
		    struct kt_err *err);
void kt_matrix_free(struct kt_matrix *m);

const char *kt_matrix_name(const struct kt_matrix *m);
int kt_matrix_priority(const struct kt_matrix *m);

/* The kernel refs, as written. */
size_t kt_matrix_n_kernels(const struct kt_matrix *m);
const char *kt_matrix_kernel(const struct kt_matrix *m, size_t i);

/* The scenario files the tests name, as written, each once: ktstr-submit
 * reads and sends them; the coordinator checks each with
 * kt_matrix_check_file. */
size_t kt_matrix_n_files(const struct kt_matrix *m);
const char *kt_matrix_file(const struct kt_matrix *m, size_t i);

/* The scheduler binaries (`binary:`), as written, each once: ktstr-submit
 * or the coordinator turns them into artifacts. */
size_t kt_matrix_n_binaries(const struct kt_matrix *m);
const char *kt_matrix_binary(const struct kt_matrix *m, size_t i);

/* The payload binaries (run_payload paths) of the catalog scenarios the
 * tests name, each once: ktstr-submit sends them as it sends a scenario
 * file's (kt_scenario_payload_bins of the file's text). */
size_t kt_matrix_n_payloads(const struct kt_matrix *m);
const char *kt_matrix_payload(const struct kt_matrix *m, size_t i);

/* The number of entries kt_matrix_expand makes (known once parsed); with
 * a budget, the most kt_matrix_expand_budget can make. */
size_t kt_matrix_n_entries(const struct kt_matrix *m);

/* Check the scenario S, parsed from the text sent for FILE (one of
 * kt_matrix_file), against every test that names FILE: it fits each of
 * their topologies and accepts their duration and workers. Errors name
 * the matrix file, line and test. */
int kt_matrix_check_file(const struct kt_matrix *m, const char *file,
			 const struct kt_scenario *s, struct kt_err *err);

/* What the coordinator learnt about kernel i when it resolved the ref. */
struct kt_matrix_kernel_info {
	const char *label; /* goes into entry names (e.g. the release); NULL = the ref */
	int has_sched_ext; /* 1, 0, or -1 unknown */
};

/* One test entry. Every pointer is owned by the array (kt_entry_defs_free),
 * so the definitions outlive the matrix. */
struct kt_entry_def {
	char *name;          /* test/topology/scheduler:profile/kernel_label */
	char *test;          /* the test's name */
	char *scenario;      /* as written: a catalog name or a file */
	bool scenario_is_file;
	size_t kernel_idx;   /* into kt_matrix_kernel */
	char *topology;      /* canonical NnNlNcNt */
	struct kt_topo topo;
	const char *preset;  /* gauntlet preset name (static), or NULL */
	char *scheduler;     /* "eevdf" = the kernel's own */
	char *binary;        /* as written; NULL for eevdf and the built-in scx-ktstr */
	char *profile;       /* "default", "slow+scatter" */
	struct kt_strv args; /* scheduler args; none for eevdf (args.v is NULL when empty) */
	struct kt_strv sysctls;     /* "key=value" (v NULL when empty) */
	struct kt_strv kernel_args; /* guest command line words (v NULL when empty) */
	uint64_t duration_ms;
	unsigned workers;    /* per cgroup where the scenario leaves it open (never 0) */
	struct kt_checks_over checks; /* the scheduler's, then the test's on top */
	bool expect_err;
	unsigned vcpus;      /* the topology's CPUs */
	uint64_t memory_mb;
	char *need_accel;    /* NULL = any */
	struct kt_strv tags; /* worker tags needed (tags.v is NULL when empty) */
	char *skip_reason;   /* "" = runs; else why it is recorded `skip` unrun */
};

/* The entries of M, in a stable order: test, topology, scheduler, profile,
 * kernel (the name's order); budgets, if any, with the boot model's
 * costs (kt_matrix_expand_budget takes measured ones). KINFO has
 * kt_matrix_n_kernels items, or is NULL (labels = the refs as written,
 * sched_ext unknown). A sched_ext
 * scheduler (any but eevdf) on a kernel with has_sched_ext 0 gets a
 * skip_reason. Labels must be 1..127 printable characters without '/' or
 * spaces, and distinct (two refs that resolve to the same kernel would
 * make the same names). */
int kt_matrix_expand(const struct kt_matrix *m, const struct kt_matrix_kernel_info *kinfo,
		     struct kt_entry_def **out, size_t *n, struct kt_err *err);
void kt_entry_defs_free(struct kt_entry_def *d, size_t n);

/* Whether a test or the matrix has a budget (costs are then worth
 * looking up). */
bool kt_matrix_has_budget(const struct kt_matrix *m);

/* What budgets did to one expansion. */
struct kt_matrix_budget_report {
	size_t candidates;          /* entries without budgets (kt_matrix_n_entries) */
	size_t entries, left_out;   /* made, and left out by budgets */
	double planned_ms;          /* estimated time of the budgeted entries made */
	size_t features, covered;   /* budgeted features in all, and covered */
	size_t cost_sources[3];     /* budgeted combinations by enum kt_cost_source */
};

/* kt_matrix_expand with budgets applied, costs from the N_SAMPLES SAMPLES
 * (db/costs.h; none: the boot model). REP (optional) says what was left
 * out. */
int kt_matrix_expand_budget(const struct kt_matrix *m, const struct kt_matrix_kernel_info *kinfo,
			    const struct kt_cost_sample *samples, size_t n_samples,
			    struct kt_matrix_budget_report *rep, struct kt_entry_def **out,
			    size_t *n, struct kt_err *err);

#endif
