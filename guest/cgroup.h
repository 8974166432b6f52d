/* cgroup v2 plumbing for scenario cgroups. Kept apart from the scenario
 * logic because it changes the machine: only the guest agent (PID 1 in a
 * throwaway VM) calls it; host-side unit tests never do.
 *
 * Layout: the agent stays in the root cgroup; scenario cgroups live under
 * KT_CGROUP_BASE, with the cpuset and cpu controllers enabled down to them. */
#ifndef KTSTR_CGROUP_H
#define KTSTR_CGROUP_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "err.h"

#define KT_CGROUP_ROOT "/sys/fs/cgroup"
#define KT_CGROUP_BASE KT_CGROUP_ROOT "/ktstr"

/* Enable +cpuset (required) and +cpu (optional: *CPU_OK says whether it
 * took) in ROOT's subtree_control, create BASE and enable the same there. */
int kt_cgroup_prepare(const char *root, const char *base, int *cpu_ok, struct kt_err *err);

/* mkdir DIR and write its cpuset.cpus and cpuset.mems (cpulists) before
 * any task joins. An existing DIR is an error (a leftover or a clash). On
 * failure DIR is removed again. */
int kt_cgroup_create(const char *dir, const char *cpus, const char *mems, struct kt_err *err);

/* Move PID into DIR (cgroup.procs). */
int kt_cgroup_attach(const char *dir, pid_t pid, struct kt_err *err);

/* Parse the cpulist file DIR/FILE (e.g. cpuset.cpus.effective) into
 * IDS (room for MAX), sorted; *N is the count. */
int kt_cgroup_read_list(const char *dir, const char *file, uint32_t *ids, size_t max,
			size_t *n, struct kt_err *err);

/* Write CPUS (a cpulist; "" = inherit the parent's) to DIR/cpuset.cpus of a
 * live cgroup: the kernel moves its tasks before the write returns. */
int kt_cgroup_set_cpus(const char *dir, const char *cpus, struct kt_err *err);

/* Enable +cpuset (and, where it takes, +cpu) in DIR's subtree_control, so
 * that its child cgroups get cpusets of their own (nested cgroups). */
int kt_cgroup_enable(const char *dir, struct kt_err *err);

/* Make DIR threaded (cgroup.type): a nested cgroup, so that its parent
 * may keep tasks of its own (a domain child of a cgroup with tasks and
 * controllers cannot take tasks). Below a threaded cgroup every cgroup is
 * threaded. */
int kt_cgroup_set_threaded(const char *dir, struct kt_err *err);

/* The ids in DIR/FILE (cgroup.procs, or cgroup.threads, which a threaded
 * cgroup also lists) into PIDS (room for MAX); more is an error. */
int kt_cgroup_read_procs(const char *dir, const char *file, pid_t *pids, size_t max, size_t *n,
			 struct kt_err *err);

/* Kill whatever still runs in DIR (cgroup.kill, where the kernel has it)
 * and remove it, retrying for up to a second while it drains. */
int kt_cgroup_remove(const char *dir, struct kt_err *err);

#endif
