/* Placement: which queued entries start on which workers now. A pure
 * function over plain structs, so the rules are testable without sockets
 * and the coordinator keeps its own data structures.
 *
 * Rules, in order:
 *   - a worker takes an entry only while accepting, when its capabilities
 *     match (accel, arch, every tag the entry needs, the built-in
 *     scx-ktstr when the entry runs it) and the entry's vCPUs
 *     and memory fit in what its budget leaves free;
 *   - higher priority first;
 *   - within a priority, fair share between runs: the run with the fewest
 *     running entries (this round's placements included) goes next, ties
 *     to the lower run_id (the earlier submission);
 *   - within a run, lower seq first;
 *   - an entry that fits no worker now is passed over; it does not block
 *     the entries behind it;
 *   - among the workers that fit, the one with the most free vCPUs (ties:
 *     the lower index) takes it, which spreads load.
 *
 * Cost per call: O(E log E) to order the entries (O(E) when they come
 * already ordered by priority desc, run_id, seq), O(W) per placement, and
 * O(1) for most entries that cannot be placed: the round stops when no
 * worker has a free vCPU, an entry larger than the largest free slot is
 * passed over at once, and an entry whose needs equal those of one that
 * already failed this round is passed over without a scan (free capacity
 * only shrinks during a round). */
#ifndef KTSTR_PLACEMENT_H
#define KTSTR_PLACEMENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kt_place_worker {
	unsigned vcpus_budget, vcpus_used;    /* sum of running guests' vCPUs */
	uint64_t mem_budget_mb, mem_used_mb;  /* sum of running guests' memory */
	const char *accel;                    /* "kvm", "tcg"; NULL = unknown */
	const char *arch;                     /* "x86_64"; NULL = unknown */
	const char *const *tags;
	size_t n_tags;
	bool accepting;                       /* false while draining */
	bool has_scx_ktstr;                   /* the built-in scheduler is there */
};

struct kt_place_entry {
	uint64_t run_id;
	int priority;                         /* higher goes first */
	uint64_t seq;                         /* order within the run */
	unsigned vcpus;                       /* 0 counts as 1 */
	uint64_t mem_mb;
	const char *need_accel;               /* NULL = any */
	const char *arch;                     /* NULL = any */
	const char *const *tags;              /* all required */
	size_t n_tags;
	bool needs_scx_ktstr;                 /* runs the built-in scheduler */
};

struct kt_place_run {
	uint64_t run_id;
	unsigned running;                     /* entries of the run running now */
};

struct kt_placement {
	size_t entry;                         /* index into the entries given */
	size_t worker;                        /* index into the workers given */
};

/* Decide one round. ENTRIES are the queued entries, in any order. OUT must
 * have room for N_ENTRIES placements; they are written in decision order
 * and their number is returned. Each placement adds the entry's vCPUs and
 * memory to its worker's *_used, and 1 to its run's running count in RUNS.
 * A run that has entries but is missing from RUNS counts as 0 running (and
 * has no count to update). Allocates scratch memory and aborts when out of
 * memory, like kt_xcalloc. */
size_t kt_place(const struct kt_place_entry *entries, size_t n_entries,
		struct kt_place_worker *workers, size_t n_workers,
		struct kt_place_run *runs, size_t n_runs, struct kt_placement *out);

/* Whether any accepting worker could run E once idle: capabilities match
 * and E fits in its whole budget. False means no connected worker will
 * ever take E, which the coordinator reports instead of waiting. */
bool kt_place_possible(const struct kt_place_entry *e, const struct kt_place_worker *workers,
		       size_t n_workers);

#endif
