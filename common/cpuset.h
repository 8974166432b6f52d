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

/* Describe SPEC as "none", "exact(0,2)", "disjoint(1 of 4)", "llc(2)" into
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
 *                   not be empty.
 * Errors name the spec and the topology. */
int kt_cpuset_resolve(const Ktstr__CpusetSpec *spec, const Ktstr__GuestTopology *topo,
		      uint32_t *cpus, size_t max, size_t *n, struct kt_err *err);

#endif
