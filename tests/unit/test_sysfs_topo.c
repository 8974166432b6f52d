#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "sysfs_topo.h"

/* ---- a fake sysfs tree in a temp dir ---- */

static char root[64];

static void mkdirs(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			fail_msg("mkdir %s: %s", buf, strerror(errno));
		*p = '/';
	}
}

static void put(const char *text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(const char *text, const char *fmt, ...)
{
	char rel[PATH_MAX / 2], path[PATH_MAX];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	mkdirs(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/ktstr-sysfs-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void put_cache(unsigned cpu, unsigned idx, unsigned level, const char *shared)
{
	char lv[8];

	snprintf(lv, sizeof(lv), "%u\n", level);
	put(lv, "devices/system/cpu/cpu%u/cache/index%u/level", cpu, idx);
	put(shared, "devices/system/cpu/cpu%u/cache/index%u/shared_cpu_list", cpu, idx);
}

/* 2 packages x 2 cores x 2 threads, Linux-style numbering (siblings four
 * apart): cpu = thread*4 + package*2 + core. L3 per package at index2 and
 * an L2 at index3, so the highest level wins, not the highest index. One
 * NUMA node per package. */
static void tree_2p2c2t(void)
{
	static const char *const pkg_cpus[] = {"0-1,4-5\n", "2-3,6-7\n"};
	char buf[32];

	put("0-7\n", "devices/system/cpu/online");
	for (unsigned cpu = 0; cpu < 8; cpu++) {
		unsigned pkg = (cpu % 4) / 2, core = cpu % 2, sib = cpu % 4;

		snprintf(buf, sizeof(buf), "%u\n", pkg);
		put(buf, "devices/system/cpu/cpu%u/topology/physical_package_id", cpu);
		snprintf(buf, sizeof(buf), "%u\n", core);
		put(buf, "devices/system/cpu/cpu%u/topology/core_id", cpu);
		snprintf(buf, sizeof(buf), "%u,%u\n", sib, sib + 4);
		put(buf, "devices/system/cpu/cpu%u/topology/thread_siblings_list", cpu);
		put_cache(cpu, 0, 1, buf);
		put_cache(cpu, 1, 1, buf);
		put_cache(cpu, 2, 3, pkg_cpus[pkg]);
		put_cache(cpu, 3, 2, buf);
	}
	put(pkg_cpus[0], "devices/system/node/node0/cpulist");
	put(pkg_cpus[1], "devices/system/node/node1/cpulist");
	put("", "devices/system/node/possible"); /* not a node directory */
}

static void assert_cpu(const Ktstr__CpuInfo *c, uint32_t cpu, uint32_t pkg, uint32_t core,
		       uint32_t llc, uint32_t node, uint32_t s0, uint32_t s1)
{
	assert_int_equal(c->cpu, cpu);
	assert_int_equal(c->package, pkg);
	assert_int_equal(c->core, core);
	assert_int_equal(c->llc, llc);
	assert_int_equal(c->node, node);
	assert_int_equal(c->n_siblings, 2);
	assert_int_equal(c->siblings[0], s0);
	assert_int_equal(c->siblings[1], s1);
}

static void fake_smt(void **state)
{
	Ktstr__GuestTopology *t;
	struct kt_err e;

	(void)state;
	tree_2p2c2t();
	if (kt_sysfs_topo_read(root, &t, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(t->cpus, 8);
	assert_int_equal(t->n_cpu, 8);
	assert_int_equal(t->llcs, 2);
	assert_int_equal(t->cores, 4);
	assert_int_equal(t->threads_per_core, 2);
	assert_int_equal(t->numa_nodes, 2);
	assert_cpu(t->cpu[0], 0, 0, 0, 0, 0, 0, 4);
	assert_cpu(t->cpu[1], 1, 0, 1, 0, 0, 1, 5);
	assert_cpu(t->cpu[2], 2, 1, 0, 1, 1, 2, 6);
	assert_cpu(t->cpu[7], 7, 1, 1, 1, 1, 3, 7);
	ktstr__guest_topology__free_unpacked(t, NULL);
}

/* CPU 5 offline: it disappears everywhere, the lists that name it do not
 * confuse the reader. */
static void fake_offline(void **state)
{
	Ktstr__GuestTopology *t;
	struct kt_err e;

	(void)state;
	tree_2p2c2t();
	put("0-4,6-7\n", "devices/system/cpu/online");
	if (kt_sysfs_topo_read(root, &t, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(t->cpus, 7);
	assert_int_equal(t->cpu[5]->cpu, 6);
	assert_int_equal(t->cpu[5]->llc, 1);
	assert_int_equal(t->cores, 4);
	ktstr__guest_topology__free_unpacked(t, NULL);
}

/* No cache information and no NUMA directory: one LLC per package,
 * numbered by package id; every CPU on node 0; missing siblings = self. */
static void fake_no_cache(void **state)
{
	Ktstr__GuestTopology *t;
	struct kt_err e;

	(void)state;
	put("0-3\n", "devices/system/cpu/online");
	for (unsigned cpu = 0; cpu < 4; cpu++) {
		put(cpu < 2 ? "1\n" : "0\n", "devices/system/cpu/cpu%u/topology/physical_package_id",
		    cpu);
		put(cpu % 2 ? "1\n" : "0\n", "devices/system/cpu/cpu%u/topology/core_id", cpu);
	}
	if (kt_sysfs_topo_read(root, &t, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(t->cpus, 4);
	assert_int_equal(t->llcs, 2);
	assert_int_equal(t->cores, 4);
	assert_int_equal(t->threads_per_core, 1);
	assert_int_equal(t->numa_nodes, 1);
	assert_int_equal(t->cpu[0]->llc, 1); /* package 1 */
	assert_int_equal(t->cpu[3]->llc, 0); /* package 0 */
	assert_int_equal(t->cpu[3]->node, 0);
	assert_int_equal(t->cpu[3]->n_siblings, 1);
	assert_int_equal(t->cpu[3]->siblings[0], 3);
	ktstr__guest_topology__free_unpacked(t, NULL);
}

/* Unknown ids (-1) read as 0; a missing topology directory is tolerated. */
static void fake_unknown_ids(void **state)
{
	Ktstr__GuestTopology *t;
	struct kt_err e;

	(void)state;
	put("0-1\n", "devices/system/cpu/online");
	put("-1\n", "devices/system/cpu/cpu0/topology/physical_package_id");
	put("-1\n", "devices/system/cpu/cpu0/topology/core_id");
	if (kt_sysfs_topo_read(root, &t, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(t->cpus, 2);
	assert_int_equal(t->cores, 1); /* both read as package 0 core 0 */
	assert_int_equal(t->llcs, 1);
	ktstr__guest_topology__free_unpacked(t, NULL);
}

static void expect_fail(const char *want)
{
	Ktstr__GuestTopology *t = NULL;
	struct kt_err e = {{0}};

	assert_int_equal(kt_sysfs_topo_read(root, &t, &e), -1);
	assert_null(t);
	if (!strstr(e.msg, want))
		fail_msg("error '%s' lacks '%s'", e.msg, want);
}

static void fake_malformed(void **state)
{
	char *big = malloc(20000);

	(void)state;
	expect_fail("devices/system/cpu/online: missing");
	put("0-x\n", "devices/system/cpu/online");
	expect_fail("cpu/online: cpulist '0-x");
	put("\n", "devices/system/cpu/online");
	expect_fail("no online CPU");
	tree_2p2c2t();
	put("two\n", "devices/system/cpu/cpu3/topology/core_id");
	expect_fail("cpu3/topology/core_id: expected a number");
	put("1\n", "devices/system/cpu/cpu3/topology/core_id");
	put("-2\n", "devices/system/cpu/cpu3/topology/physical_package_id");
	expect_fail("physical_package_id: expected a number");
	put("1\n", "devices/system/cpu/cpu3/topology/physical_package_id");
	put("3,x\n", "devices/system/cpu/cpu3/cache/index2/shared_cpu_list");
	expect_fail("index2/shared_cpu_list");
	put("2-3,6-7\n", "devices/system/cpu/cpu3/cache/index2/shared_cpu_list");
	assert_non_null(big);
	memset(big, '1', 19999);
	big[19999] = 0;
	put(big, "devices/system/node/node1/cpulist");
	expect_fail("longer than");
	free(big);
}

/* The real /sys of the machine running the test. */
static void host_sys(void **state)
{
	Ktstr__GuestTopology *t;
	struct kt_err e;

	(void)state;
	if (kt_sysfs_topo_read("/sys", &t, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(t->cpus, sysconf(_SC_NPROCESSORS_ONLN));
	assert_int_equal(t->n_cpu, t->cpus);
	assert_true(t->llcs >= 1 && t->llcs <= t->cpus);
	assert_true(t->cores >= 1 && t->cores <= t->cpus);
	assert_true(t->threads_per_core >= 1);
	assert_true(t->numa_nodes >= 1);
	for (size_t i = 0; i < t->n_cpu; i++) {
		assert_true(t->cpu[i]->llc < t->llcs);
		assert_true(t->cpu[i]->n_siblings >= 1);
		if (i)
			assert_true(t->cpu[i]->cpu > t->cpu[i - 1]->cpu);
	}
	ktstr__guest_topology__free_unpacked(t, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(fake_smt, setup, teardown),
		cmocka_unit_test_setup_teardown(fake_offline, setup, teardown),
		cmocka_unit_test_setup_teardown(fake_no_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(fake_unknown_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(fake_malformed, setup, teardown),
		cmocka_unit_test(host_sys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
