/* The cpuset kinds numa, range and overlap and the affinity kinds, on
 * model topologies (kt_cpuset_topo_model): one LLC, odd LLC counts, SMT,
 * 2- and 4-node NUMA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "cpuset.h"

static Ktstr__GuestTopology *topo(const char *s)
{
	struct kt_topo t;
	struct kt_err e;

	assert_int_equal(kt_topo_parse(s, &t, &e), 0);
	return kt_cpuset_topo_model(&t);
}

/* Resolve CS on topology TS into "0-3,6" (or "error: ..."). */
static const char *res(const char *ts, const Ktstr__CpusetSpec *cs)
{
	static char buf[KT_ERR_MAX + 16];
	Ktstr__GuestTopology *g = topo(ts);
	uint32_t cpus[256];
	size_t n;
	struct kt_err e;

	if (kt_cpuset_resolve(cs, g, cpus, 256, &n, &e))
		snprintf(buf, sizeof(buf), "error: %s", e.msg);
	else
		kt_cpulist_format(cpus, n, buf, sizeof(buf), NULL);
	ktstr__guest_topology__free_unpacked(g, NULL);
	return buf;
}

static Ktstr__CpusetSpec spec(Ktstr__CpusetKind k, uint32_t index, uint32_t of, double a,
			      double b)
{
	Ktstr__CpusetSpec cs = KTSTR__CPUSET_SPEC__INIT;

	cs.kind = k;
	cs.index = index;
	cs.of = of;
	cs.start_frac = a;
	cs.end_frac = b;
	cs.frac = a;
	return cs;
}

#define NUMA KTSTR__CPUSET_KIND__CPUSET_NUMA
#define RANGE KTSTR__CPUSET_KIND__CPUSET_RANGE
#define OVERLAP KTSTR__CPUSET_KIND__CPUSET_OVERLAP

static void test_model(void **state)
{
	Ktstr__GuestTopology *g = topo("2n4l2c2t");

	(void)state;
	assert_int_equal(g->n_cpu, 16);
	assert_int_equal(g->numa_nodes, 2);
	assert_int_equal(g->cpu[5]->llc, 1);
	assert_int_equal(g->cpu[5]->node, 0);
	assert_int_equal(g->cpu[9]->node, 1);
	assert_int_equal(g->cpu[5]->n_siblings, 2);
	assert_int_equal(g->cpu[5]->siblings[0], 4);
	ktstr__guest_topology__free_unpacked(g, NULL);
}

static void test_numa(void **state)
{
	Ktstr__CpusetSpec cs = spec(NUMA, 1, 0, 0, 0);

	(void)state;
	assert_string_equal(res("2n2l2c1t", &cs), "2-3");
	assert_string_equal(res("2n4l2c2t", &cs), "8-15");
	cs.index = 3;
	assert_string_equal(res("4n4l1c1t", &cs), "3");
	assert_string_equal(res("2n2l2c1t", &cs),
			    "error: cpuset numa(3): NUMA node 3 is out of range in the guest "
			    "topology of 4 CPUs (0-3) in 2 LLCs (2 nodes)");
	cs.index = 0;
	assert_string_equal(res("1n3l1c1t", &cs), "0-2");
}

static void test_range(void **state)
{
	Ktstr__CpusetSpec cs = spec(RANGE, 0, 0, 0.0, 0.5);

	(void)state;
	assert_string_equal(res("1n1l4c1t", &cs), "0-1");
	/* Odd counts: the first half of 3 LLCs x 1 is CPUs 0 and 1 (ceil). */
	assert_string_equal(res("1n3l1c1t", &cs), "0-1");
	cs.start_frac = 0.5;
	cs.end_frac = 1.0;
	assert_string_equal(res("1n3l1c1t", &cs), "1-2");
	assert_string_equal(res("1n3l2c1t", &cs), "3-5");
	/* Never empty: a sliver still selects one CPU. */
	cs.start_frac = 0.5;
	cs.end_frac = 0.51;
	assert_string_equal(res("1n1l2c1t", &cs), "1");
	cs.end_frac = 0.4;
	assert_string_equal(res("1n1l2c1t", &cs),
			    "error: cpuset range(0.5 to 0.4): needs 0 <= start < end <= 1");
}

static void test_overlap(void **state)
{
	Ktstr__CpusetSpec cs = spec(OVERLAP, 0, 2, 0.5, 0);

	(void)state;
	/* 8 CPUs, slices of 4, widened by 2 into the neighbour, clamped. */
	assert_string_equal(res("1n2l4c1t", &cs), "0-5");
	cs.index = 1;
	assert_string_equal(res("1n2l4c1t", &cs), "2-7");
	/* frac 0 is the disjoint slice; 1 a whole slice each way. */
	cs.frac = 0;
	assert_string_equal(res("1n2l4c1t", &cs), "4-7");
	cs.frac = 1;
	cs.index = 1;
	cs.of = 3;
	assert_string_equal(res("1n3l2c1t", &cs), "0-5");
	cs.index = 0;
	assert_string_equal(res("1n3l2c1t", &cs), "0-3");
	/* Neighbours overlap: slice 0 and 1 share CPUs 2 and 3 at 0.5 of 4. */
	cs.of = 5;
	cs.index = 5;
	assert_string_equal(res("1n1l4c1t", &cs), "error: cpuset overlap(5 of 5, frac 1): "
			    "index must be below 'of'");
	cs.index = 0;
	assert_string_equal(res("1n1l4c1t", &cs), "error: cpuset overlap(0 of 5, frac 1): 5 "
			    "slices of the guest topology of 4 CPUs (0-3) in 1 LLCs would leave "
			    "some empty");
}

/* Affinity of worker W by A in a cgroup of CPUS (cpulist) on TS. */
static const char *aff(const char *ts, const Ktstr__AffinitySpec *a, const char *cg,
		       const char *cross, unsigned w)
{
	static char buf[KT_ERR_MAX + 16];
	Ktstr__GuestTopology *g = topo(ts);
	uint32_t c[256], x[256], out[512];
	size_t nc, nx = 0, n;
	struct kt_err e;

	assert_int_equal(kt_cpulist_parse(cg, c, 256, &nc, &e), 0);
	if (cross)
		assert_int_equal(kt_cpulist_parse(cross, x, 256, &nx, &e), 0);
	if (kt_affinity_resolve(a, c, nc, x, nx, g, w, out, 512, &n, &e))
		snprintf(buf, sizeof(buf), "error: %s", e.msg);
	else
		kt_cpulist_format(out, n, buf, sizeof(buf), NULL);
	ktstr__guest_topology__free_unpacked(g, NULL);
	return buf;
}

static void test_affinity(void **state)
{
	Ktstr__AffinitySpec a = KTSTR__AFFINITY_SPEC__INIT;
	uint32_t ex[] = {1, 3};
	char first[64];

	(void)state;
	assert_string_equal(aff("1n2l2c1t", NULL, "0-3", NULL, 0), "0-3");
	a.kind = KTSTR__AFFINITY_KIND__AFFINITY_SINGLE_CPU;
	assert_string_equal(aff("1n2l2c1t", &a, "1-3", NULL, 0), "1");
	assert_string_equal(aff("1n2l2c1t", &a, "1-3", NULL, 4), "2");
	a.kind = KTSTR__AFFINITY_KIND__AFFINITY_LLC_ALIGNED;
	/* Odd LLC counts: 3 LLCs of 2; a cgroup over LLCs 0-2 cycles them. */
	assert_string_equal(aff("1n3l2c1t", &a, "1-5", NULL, 0), "1");
	assert_string_equal(aff("1n3l2c1t", &a, "1-5", NULL, 1), "2-3");
	assert_string_equal(aff("1n3l2c1t", &a, "1-5", NULL, 5), "4-5");
	a.kind = KTSTR__AFFINITY_KIND__AFFINITY_CROSS_CGROUP;
	assert_string_equal(aff("1n2l2c1t", &a, "0-1", "2", 0), "0-2");
	a.kind = KTSTR__AFFINITY_KIND__AFFINITY_EXACT;
	a.cpus = ex;
	a.n_cpus = 2;
	assert_string_equal(aff("1n2l2c1t", &a, "0", NULL, 0), "1,3");
	assert_string_equal(aff("1n1l2c1t", &a, "0", NULL, 0),
			    "error: affinity exact: CPU 3 is not in the guest topology");
	a.kind = KTSTR__AFFINITY_KIND__AFFINITY_RANDOM_SUBSET;
	a.count = 2;
	/* The same worker gets the same CPUs, inside the cgroup. */
	snprintf(first, sizeof(first), "%s", aff("2n4l2c1t", &a, "0-7", NULL, 3));
	assert_string_equal(aff("2n4l2c1t", &a, "0-7", NULL, 3), first);
	{
		uint32_t c[8];
		size_t n;
		struct kt_err e;

		assert_int_equal(kt_cpulist_parse(first, c, 8, &n, &e), 0);
		assert_int_equal(n, 2);
		assert_true(c[1] <= 7);
	}
	a.count = 9;
	assert_string_equal(aff("2n4l2c1t", &a, "0-7", NULL, 3),
			    "error: affinity random_subset of 9 CPUs from a cpuset of 8");
}

static void test_outside(void **state)
{
	uint32_t set[] = {0, 2, 5}, within[] = {0, 1, 2}, out[3];

	(void)state;
	assert_int_equal(kt_cpus_outside(set, 3, within, 3, out), 1);
	assert_int_equal(out[0], 5);
	assert_int_equal(kt_cpus_outside(set, 2, within, 3, out), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_numa),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_affinity),
		cmocka_unit_test(test_outside),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
