/* The gauntlet: one test crossed with many CPU topologies and scheduler
 * flag profiles, and the time budget that picks which of those run.
 *
 * Presets are named topologies from tiny-1llc (4 vCPUs, one LLC) to
 * max-cpu (252 vCPUs, 14 LLCs), with odd LLC counts, SMT and 2- and 4-node
 * NUMA among them; a test's constraints filter them.
 *
 * A budget picks a subset of candidate items (a topology with a flag
 * profile, each with a cost in ms): kt_gauntlet_select first takes, again
 * and again, the item that covers the most features not yet covered per
 * millisecond, then fills what is left of the budget with the cheapest
 * remaining items. Features are what a scheduler bug can depend on: the
 * topology's classes (kt_gauntlet_topo_features) and, set by the caller,
 * the scheduler and each flag of the profile. Pure and deterministic: the
 * same items and budget give the same choice.
 *
 * Costs (kt_gauntlet_cost) come from what entries really took (mean
 * total_ms per topology and accel from stored results, db/costs.h),
 * scaled to the test's duration, else extrapolated over vCPUs, else a
 * model whose constants were measured on the development host (below). */
#ifndef KTSTR_GAUNTLET_H
#define KTSTR_GAUNTLET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "topology.h"

struct kt_gauntlet_preset {
	const char *name;     /* e.g. "odd-3llc" */
	const char *topology; /* canonical NnNlNcNt, valid for kt_topo_parse */
};

/* In ascending vCPU order (ties: fewer LLCs first). */
extern const struct kt_gauntlet_preset kt_gauntlet_presets[];
extern const size_t kt_gauntlet_n_presets;

/* The preset called NAME, or NULL. */
const struct kt_gauntlet_preset *kt_gauntlet_preset_find(const char *name);

/* A test's constraints on topologies; 0 = no bound. */
struct kt_topo_constraints {
	uint32_t min_llcs, max_llcs, min_cpus, max_cpus, min_nodes, max_nodes;
	bool requires_smt; /* threads per core > 1 */
};

bool kt_topo_constraints_match(const struct kt_topo_constraints *k, const struct kt_topo *t);

/* Topology feature classes, bit numbers of kt_gauntlet_topo_features. The
 * class edges follow the presets: each class holds at least one. */
enum kt_gauntlet_topo_feature {
	KT_GF_LLC_1,      /* one LLC: no cross-LLC decisions at all */
	KT_GF_LLC_2,
	KT_GF_LLC_3_4,
	KT_GF_LLC_5_8,
	KT_GF_LLC_9UP,
	KT_GF_LLC_ODD,    /* 3, 5, 7 ... LLCs: halving code meets a remainder */
	KT_GF_SMT,
	KT_GF_NO_SMT,
	KT_GF_NUMA_1,
	KT_GF_NUMA_2,
	KT_GF_NUMA_3UP,
	KT_GF_CPUS_4,     /* up to 4 vCPUs */
	KT_GF_CPUS_16,    /* 5..16 */
	KT_GF_CPUS_64,    /* 17..64 */
	KT_GF_CPUS_MORE,  /* 65.. */
	KT_GF_TOPO_N
};

/* The bit set (1u << KT_GF_*) of T's classes. */
uint32_t kt_gauntlet_topo_features(const struct kt_topo *t);
const char *kt_gauntlet_feature_name(enum kt_gauntlet_topo_feature f);

/* ---- costs ---- */

/* What entries on one topology and accel took, from stored results: means
 * over N results of total_ms (QEMU start to exit), run_ms (the guest's
 * scenario time) and the entries' planned duration_ms. */
struct kt_cost_sample {
	char topology[32]; /* canonical NnNlNcNt */
	char accel[8];     /* "kvm", "tcg" */
	uint64_t n;
	double total_ms, run_ms, duration_ms;
};

/* Where a cost came from. */
enum kt_cost_source {
	KT_COST_MEASURED,     /* samples of this topology */
	KT_COST_EXTRAPOLATED, /* least squares over the measured topologies' vCPUs */
	KT_COST_MODEL,        /* no samples at all: the boot model below */
};

/* With no history, an entry costs its duration plus a boot that grows with
 * vCPUs: the line through the boots measured on the development host under
 * single-thread TCG (design brief, section 5: 2.05 s at 2 vCPUs, 3.6 s at
 * 8), i.e.
 * 1.53 s + 0.26 s per vCPU. Stated constants, used only until the farm has
 * stored results; they overstate KVM, which keeps budgets on the safe side. */
#define KT_GAUNTLET_MODEL_BOOT_MS 1530.0
#define KT_GAUNTLET_MODEL_BOOT_MS_PER_CPU 260.0

/* The cost in ms of one entry of DURATION_MS on T, from the N samples S
 * (any order; NULL when N is 0). ACCEL "kvm"/"tcg" uses only that accel's
 * samples; NULL pools every accel (weighted by N: the entry goes to
 * whichever worker is free). A measured topology costs its fixed part
 * (total - run: boot, set-up, teardown) plus its run part scaled by
 * DURATION_MS / duration. An unmeasured one: the least-squares line of
 * those costs over vCPUs, its slope at least 0 (more vCPUs never make a
 * guest cheaper), at least DURATION_MS. No sample: the model above. */
double kt_gauntlet_cost(const struct kt_cost_sample *s, size_t n, const struct kt_topo *t,
			const char *accel, uint64_t duration_ms, enum kt_cost_source *src);

/* ---- selection ---- */

#define KT_GAUNTLET_MAX_ITEM_FEATURES 48

/* One candidate. Features are ids the caller chooses; GROUP scopes them
 * (the same id in two groups is two features: a matrix budget shared by
 * several tests covers each test's features). */
struct kt_gauntlet_item {
	double cost_ms;   /* > 0 */
	uint32_t group;
	uint32_t n_features;
	uint32_t features[KT_GAUNTLET_MAX_ITEM_FEATURES];
};

struct kt_gauntlet_choice {
	size_t chosen, left_out;
	size_t features, covered; /* distinct (group, id) pairs among all items / chosen */
	double cost_ms;           /* of the chosen, at most the budget */
};

/* Choose among the N ITEMS within BUDGET_MS: CHOSEN[i] (N bools) says
 * whether item i runs; OUT (optional) sums up. Greedy: while some item
 * that fits the remaining budget adds features, take the one with the most
 * new features per ms (ties: the lower index); then take the remaining
 * items cheapest first (ties: lower index) while they fit. */
void kt_gauntlet_select(const struct kt_gauntlet_item *items, size_t n, double budget_ms,
			bool *chosen, struct kt_gauntlet_choice *out);

#endif
