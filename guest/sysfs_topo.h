/* The CPU topology as the kernel shows it in sysfs: the guest reports this
 * (not what the host asked QEMU for) because only the guest's view decides
 * where tasks run.
 *
 * Per online CPU (devices/system/cpu/online):
 *   package   cpuN/topology/physical_package_id (-1 or missing: 0)
 *   core      cpuN/topology/core_id (-1 or missing: 0)
 *   siblings  cpuN/topology/thread_siblings_list (missing: the CPU alone)
 *   llc       the shared_cpu_list of the cache index with the highest
 *             cpuN/cache/indexK/level (the first such index on ties); the
 *             sets are numbered densely in order of their lowest CPU. If
 *             any online CPU has no cache information, every package
 *             counts as one LLC instead (numbered in order of package id).
 *   node      K of the devices/system/node/nodeK whose cpulist holds the
 *             CPU (no node directory: 0).
 * Totals: cpus; llcs; cores = distinct (package, core) pairs;
 * threads_per_core = the largest sibling count; numa_nodes = distinct nodes
 * among the online CPUs.
 * Everything read is untrusted: sizes are bounded and malformed files are
 * errors naming the file. */
#ifndef KTSTR_SYSFS_TOPO_H
#define KTSTR_SYSFS_TOPO_H
#include "err.h"
#include "ktstr.pb-c.h"

/* Most CPUs and cache indices the reader accepts. */
#define KT_SYSFS_MAX_CPUS 1024
#define KT_SYSFS_MAX_CACHE_INDEX 16

/* Read the topology under ROOT ("/sys", or a fake tree in tests) into a new
 * message (*OUT, CPUs sorted by id). Everything is malloc'd: free it with
 * ktstr__guest_topology__free_unpacked(t, NULL). */
int kt_sysfs_topo_read(const char *root, Ktstr__GuestTopology **out, struct kt_err *err);

#endif
