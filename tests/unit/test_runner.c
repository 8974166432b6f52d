/* The runner's failure kinds on the paths a host can take without
 * cgroupfs: BASE is a plain directory here, so a step gets as far as the
 * first thing that needs the kernel's cgroups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "entry_spec.h"
#include "runner.h"
#include "util.h"

static char base[] = "/tmp/ktstr-runner-XXXXXX";

static int setup(void **state)
{
	char path[64];
	struct kt_err e;

	(void)state;
	if (!mkdtemp(base))
		return -1;
	snprintf(path, sizeof(path), "%s/cpuset.mems.effective", base);
	return kt_write_file(path, "0\n", 2, &e);
}

static int teardown(void **state)
{
	char cmd[96];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) ? -1 : 0;
}

/* A 2-CPU topology and a one-step, one-cgroup spec, all owned here. */
struct fixture {
	Ktstr__GuestTopology topo;
	Ktstr__CpuInfo cpu[2], *cpup[2];
	Ktstr__EntrySpec e;
	Ktstr__StepSpec st, *stp[1];
	Ktstr__HoldSpec hold;
	Ktstr__CgroupSpec cg, *cgp[1];
	Ktstr__WorkSpec work;
	Ktstr__CpusetSpec cs;
	uint32_t exact[1];
};

static void mk(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	ktstr__guest_topology__init(&f->topo);
	for (uint32_t i = 0; i < 2; i++) {
		ktstr__cpu_info__init(&f->cpu[i]);
		f->cpu[i].cpu = i;
		f->cpup[i] = &f->cpu[i];
	}
	f->topo.cpus = 2;
	f->topo.llcs = 1;
	f->topo.cpu = f->cpup;
	f->topo.n_cpu = 2;
	ktstr__entry_spec__init(&f->e);
	ktstr__step_spec__init(&f->st);
	ktstr__hold_spec__init(&f->hold);
	ktstr__cgroup_spec__init(&f->cg);
	ktstr__work_spec__init(&f->work);
	ktstr__cpuset_spec__init(&f->cs);
	f->e.version = KT_SCENARIO_ENTRY_VERSION;
	f->e.name = "r";
	f->e.duration_ms = 100;
	f->e.steps = f->stp;
	f->e.n_steps = 1;
	f->stp[0] = &f->st;
	f->st.hold = &f->hold;
	f->hold.kind = KTSTR__HOLD_SPEC__KIND__FIXED;
	f->hold.ms = 10;
	f->st.cgroups = f->cgp;
	f->st.n_cgroups = 1;
	f->cgp[0] = &f->cg;
	f->cg.name = "cg_0";
	f->cg.workers = 2;
	f->cg.work = &f->work;
	f->cg.cpuset = &f->cs;
}

static Ktstr__ScenarioResult *run(const struct fixture *f, const char *dir)
{
	Ktstr__ScenarioResult *res = kt_runner_run(&f->e, &f->topo, dir, NULL, NULL);

	assert_non_null(res);
	return res;
}

static void expect(Ktstr__ScenarioResult *res, Ktstr__ScenarioResult__Kind kind,
		   const char *want)
{
	assert_false(res->ok);
	assert_int_equal(res->kind, kind);
	if (!strstr(res->error, want))
		fail_msg("error '%s' lacks '%s'", res->error, want);
	ktstr__scenario_result__free_unpacked(res, NULL);
}

static void no_steps_completes(void **state)
{
	Ktstr__ScenarioResult *res;
	struct fixture f;

	(void)state;
	mk(&f);
	f.e.n_steps = 0;
	res = run(&f, "/nonexistent"); /* nothing to set up, nothing read */
	assert_true(res->ok);
	assert_int_equal(res->kind, KTSTR__SCENARIO_RESULT__KIND__COMPLETED);
	assert_int_equal(res->n_cgroups, 0);
	ktstr__scenario_result__free_unpacked(res, NULL);
}

/* The machine cannot give what every scenario needs: infra. */
static void no_memory_nodes_is_setup(void **state)
{
	struct fixture f;

	(void)state;
	mk(&f);
	expect(run(&f, "/nonexistent"), KTSTR__SCENARIO_RESULT__KIND__GUEST_SETUP,
	       "/nonexistent/cpuset.mems.effective: No such file");
}

/* A cpuset the topology cannot give is the scenario's fault, and nothing
 * is created for it. */
static void unresolvable_cpuset_is_scenario(void **state)
{
	char path[96];
	struct fixture f;

	(void)state;
	mk(&f);
	f.cs.kind = KTSTR__CPUSET_KIND__CPUSET_EXACT;
	f.exact[0] = 5;
	f.cs.cpus = f.exact;
	f.cs.n_cpus = 1;
	expect(run(&f, base), KTSTR__SCENARIO_RESULT__KIND__SCENARIO_ERROR,
	       "step 0 cgroup 'cg_0': ");
	snprintf(path, sizeof(path), "%s/cg_0", base);
	assert_int_equal(access(path, F_OK), -1);
}

/* So is an odd pipe_io count that got past validation. */
static void odd_pipe_io_is_scenario(void **state)
{
	char path[96];
	struct fixture f;

	(void)state;
	mk(&f);
	f.work.type = KTSTR__WORK_TYPE__WORK_PIPE_IO;
	f.cg.workers = 3;
	expect(run(&f, base), KTSTR__SCENARIO_RESULT__KIND__SCENARIO_ERROR,
	       "step 0 cgroup 'cg_0': pipe_io needs an even number of workers, got 3");
	/* The cgroup made for it before the workers was removed again. */
	snprintf(path, sizeof(path), "%s/cg_0", base);
	assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_steps_completes),
		cmocka_unit_test(no_memory_nodes_is_setup),
		cmocka_unit_test(unresolvable_cpuset_is_scenario),
		cmocka_unit_test(odd_pipe_io_is_scenario),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
