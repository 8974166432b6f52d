/* CPU topology strings "NnNlNcNt": NUMA nodes, LLCs in total, cores per
 * LLC, threads per core. E.g. 1n2l4c1t = 8 vCPUs in 2 LLCs on one node. */
#ifndef KTSTR_TOPOLOGY_H
#define KTSTR_TOPOLOGY_H
#include "err.h"

#define KT_TOPO_MAX_CPUS 256

struct kt_topo {
	unsigned nodes;
	unsigned llcs;          /* total, a multiple of nodes */
	unsigned cores_per_llc;
	unsigned threads;       /* per core */
};

/* Parse S; rejects zero counts, LLCs not divisible by nodes, and more than
 * KT_TOPO_MAX_CPUS CPUs. */
int kt_topo_parse(const char *s, struct kt_topo *t, struct kt_err *err);
unsigned kt_topo_cpus(const struct kt_topo *t);
/* Canonical "NnNlNcNt" form into BUF. */
void kt_topo_format(const struct kt_topo *t, char *buf, unsigned len);
/* Default guest memory: max(64 MiB * cpus, 256 MiB). */
unsigned kt_topo_default_mem_mb(const struct kt_topo *t);

#endif
