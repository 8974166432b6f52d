/* CPU lists and cpuset resolution.
 *
 * A cpulist is the kernel's text form of a CPU set ("0-3,6\n"), used by
 * sysfs and by cgroup cpuset files. A ktstr.CpusetSpec names a set of CPUs
 * relative to a topology; the guest resolves it against what its sysfs
 * shows (and the host against the topology the guest reported), so both
 * sides agree on which CPUs a cgroup was meant to get.
 *
 * CPU lists in this interface are arrays of CPU ids, sorted ascending and
 * without duplicates. */
#ifndef KTSTR_CPUSET_H
#define KTSTR_CPUSET_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "ktstr.pb-c.h"
#include "topology.h"

/* CPU ids are below this (the parser's bound; NR_CPUS of common kernels). */
#define KT_CPU_ID_MAX 8192

/* Parse the cpulist S (NUL-terminated; one optional trailing newline) into
 * CPUS (room for MAX ids), sorted and de-duplicated; *N is the count. An
 * empty string is the empty set. Strict: only "A" and "A-B" (A <= B) items
 * separated by single commas, decimal, ids < KT_CPU_ID_MAX. */
int kt_cpulist_parse(const char *s, uint32_t *cpus, size_t max, size_t *n, struct kt_err *err);

/* Format the sorted list CPUS[N] as "0-3,6" into BUF (LEN bytes incl. the
 * NUL); runs of two or more consecutive ids become ranges. The empty list
 * is "". Fails (-1) when BUF is too small. */
int kt_cpulist_format(const uint32_t *cpus, size_t n, char *buf, size_t len, struct kt_err *err);

/* Describe SPEC as "none", "exact(0,2)", "disjoint(1 of 4)", "llc(2)",
 * "numa(0)", "range(0 to 0.5)", "overlap(0 of 2, frac 0.5)" into
 * BUF (truncated to fit); for error messages and logs. */
void kt_cpuset_spec_describe(const Ktstr__CpusetSpec *spec, char *buf, size_t len);

/* Resolve SPEC (NULL = none) against TOPO into CPUS (room for MAX ids),
 * sorted; *N is the count, always >= 1 on success.
 *   NONE            every CPU of TOPO;
 *   EXACT           the listed CPUs (duplicates collapse); each must exist,
 *                   the list must not be empty;
 *   DISJOINT{i,of}  slice i of `of` contiguous slices of TOPO's sorted CPU
 *                   list; 1 <= of <= cpus, i < of. Every slice gets
 *                   cpus / of CPUs and the LAST cpus % of slices one more
 *                   each, so slices differ by at most one CPU, the first
 *                   slices are the small ones, and none is empty;
 *   LLC{i}          the CPUs whose llc is i; i < llcs, and the set must
 *                   not be empty;
 *   NUMA{i}         the CPUs whose node is i; i < numa_nodes, not empty;
 *   RANGE{s,e}      the sorted CPU list's positions floor(s * cpus) up to
 *                   ceil(e * cpus) (exclusive); 0 <= s < e <= 1, so never
 *                   empty;
 *   OVERLAP{i,of,f} the DISJOINT slice i of `of`, widened on both sides by
 *                   round(f * its size) positions, clamped to the list;
 *                   f in [0, 1] (0 = the disjoint slice).
 * Errors name the spec and the topology. */
int kt_cpuset_resolve(const Ktstr__CpusetSpec *spec, const Ktstr__GuestTopology *topo,
		      uint32_t *cpus, size_t max, size_t *n, struct kt_err *err);

/* A model of the guest QEMU builds for T (CPUs numbered in order, SMT
 * siblings adjacent, LLC i = CPUs [i * per_llc, (i + 1) * per_llc), LLCs
 * split evenly over nodes), for host-side checks before a boot
 * (kt_scenario_fits). Free with ktstr__guest_topology__free_unpacked. */
Ktstr__GuestTopology *kt_cpuset_topo_model(const struct kt_topo *t);

/* The CPUs of SET[N] not in the sorted WITHIN[NW], into OUT (room for N);
 * returns their count. */
size_t kt_cpus_outside(const uint32_t *set, size_t n, const uint32_t *within, size_t nw,
		       uint32_t *out);

/* The affinity mask of worker WORKER (its index within its cgroup) by A
 * (NULL = inherit), given its cgroup's CPUs CG (sorted, non-empty), the
 * cpus CROSS of the cgroup a cross_cgroup affinity names, and TOPO; into
 * OUT (room for MAX), sorted. Host and guest compute the same mask:
 *   inherit        CG;
 *   random_subset  `count` CPUs of CG (count <= |CG|), picked by a fixed
 *                  pseudo-random sequence seeded by WORKER;
 *   llc_aligned    CG's CPUs in one LLC: the LLCs CG touches, sorted, the
 *                  (WORKER mod their number)-th;
 *   cross_cgroup   CG and CROSS together: a mask that spans the boundary
 *                  (the kernel confines it to the cpuset);
 *   single_cpu     CG[WORKER mod |CG|];
 *   exact          the listed CPUs, each in TOPO.
 * Whether the mask lies inside the cpuset is the caller's rule. */
int kt_affinity_resolve(const Ktstr__AffinitySpec *a, const uint32_t *cg, size_t n_cg,
			const uint32_t *cross, size_t n_cross, const Ktstr__GuestTopology *topo,
			unsigned worker, uint32_t *out, size_t max, size_t *n, struct kt_err *err);

#endif
