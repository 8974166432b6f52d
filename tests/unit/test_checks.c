#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "checks.h"

#define MAXCG 4
#define MAXW 4
#define MS 1000000ull

/* A synthetic ScenarioResult: NCG cgroups "cg_I" of NW workers each, every
 * worker healthy (1000 units, 10% run-queue wait, 10 ms gap, seen on CPU 0) and
 * every cgroup on CPUs 0-1. Tests then break one thing. */
struct fx {
	Ktstr__ScenarioResult res;
	Ktstr__CgroupStats cg[MAXCG], *cgp[MAXCG];
	Ktstr__WorkerStats w[MAXCG][MAXW], *wp[MAXCG][MAXW];
	uint32_t cpus[MAXCG][4];
	uint32_t seen[MAXCG][MAXW][4];
	char names[MAXCG][24];
};

static void fx_init(struct fx *f, size_t ncg, size_t nw)
{
	memset(f, 0, sizeof(*f));
	ktstr__scenario_result__init(&f->res);
	f->res.ok = true;
	f->res.run_ms = 2000;
	f->res.n_cgroups = ncg;
	f->res.cgroups = f->cgp;
	for (size_t i = 0; i < ncg; i++) {
		Ktstr__CgroupStats *cg = &f->cg[i];

		ktstr__cgroup_stats__init(cg);
		snprintf(f->names[i], sizeof(f->names[i]), "cg_%zu", i);
		cg->name = f->names[i];
		f->cpus[i][0] = 0;
		f->cpus[i][1] = 1;
		cg->cpus = f->cpus[i];
		cg->n_cpus = 2;
		cg->workers = f->wp[i];
		cg->n_workers = nw;
		f->cgp[i] = cg;
		for (size_t j = 0; j < nw; j++) {
			Ktstr__WorkerStats *w = &f->w[i][j];

			ktstr__worker_stats__init(w);
			w->work_units = 1000;
			w->cpu_ns = 900 * MS;
			w->run_delay_ns = 100 * MS;
			w->wall_ns = 1000 * MS;
			w->max_gap_ns = 10 * MS;
			w->cpus_seen = f->seen[i][j];
			w->n_cpus_seen = 1;
			f->wp[i][j] = w;
		}
	}
}

static struct kt_checks_cfg cfg_all(void)
{
	struct kt_checks_cfg c;

	kt_checks_cfg_default(&c);
	c.isolation = true;
	return c;
}

/* Evaluate and return the check called NAME (the array stays in *ALL). */
static const struct kt_check *eval_one(const struct kt_checks_cfg *cfg, const struct fx *f,
				       const char *name, struct kt_check **all)
{
	struct kt_err err = { "" };
	size_t n = 0;

	if (kt_checks_eval(cfg, &f->res, all, &n, &err))
		fail_msg("eval: %s", err.msg);
	for (size_t i = 0; i < n; i++)
		if (!strcmp((*all)[i].name, name))
			return &(*all)[i];
	fail_msg("no check %s", name);
	return NULL;
}

static void want_msg(const struct kt_check *c, const char *want)
{
	if (!strstr(c->message, want))
		fail_msg("%s: message \"%s\"\n  does not contain \"%s\"", c->name, c->message, want);
}

static void eval_fails(const struct kt_checks_cfg *cfg, const Ktstr__ScenarioResult *res,
		       const char *want)
{
	struct kt_check *all = (struct kt_check *)&all;
	struct kt_err err = { "" };
	size_t n = 7;

	assert_int_equal(kt_checks_eval(cfg, res, &all, &n, &err), -1);
	assert_null(all);
	assert_int_equal(n, 0);
	if (!strstr(err.msg, want))
		fail_msg("error \"%s\"\n  does not contain \"%s\"", err.msg, want);
}

static void test_all_pass(void **state)
{
	struct kt_checks_cfg cfg = cfg_all();
	struct kt_check *all = NULL;
	struct kt_err err;
	struct fx f;
	size_t n;

	(void)state;
	fx_init(&f, 2, 2);
	f.w[0][1].max_gap_ns = 37 * MS;
	assert_int_equal(kt_checks_eval(&cfg, &f.res, &all, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(all[0].name, "not_starved.work");
	assert_string_equal(all[1].name, "not_starved.spread");
	assert_string_equal(all[2].name, "not_starved.gap");
	assert_string_equal(all[3].name, "isolation");
	assert_true(kt_checks_passed(all, n));
	assert_true(all[0].value == 0 && all[0].threshold == 0);
	want_msg(&all[0], "4 workers in 2 cgroups all did work, fewest 1000 units (cg_0 worker 0)");
	assert_true(all[1].value == 0 && all[1].threshold == 15);
	want_msg(&all[1], "run-queue wait spread 0.0 pp in cg_0");
	want_msg(&all[1], "within 15.0 pp; 2 cgroups compared");
	assert_true(all[2].value == 37 && all[2].threshold == 2000);
	assert_string_equal(all[2].message, "4 workers in 2 cgroups, worst gap 37.0 ms (cg_0 worker 1), "
			    "threshold 2000.0 ms");
	assert_true(all[3].value == 0);
	assert_string_equal(all[3].message, "4 workers in 2 cgroups stayed on their cgroup's CPUs");
	free(all);
}

static void test_selection(void **state)
{
	struct kt_checks_cfg cfg;
	struct kt_check *all = NULL;
	struct kt_err err;
	struct fx f;
	size_t n;

	(void)state;
	fx_init(&f, 1, 2);
	kt_checks_cfg_default(&cfg); /* not_starved only */
	assert_int_equal(kt_checks_eval(&cfg, &f.res, &all, &n, &err), 0);
	assert_int_equal(n, 3);
	free(all);
	cfg.not_starved = false;
	cfg.isolation = true;
	assert_int_equal(kt_checks_eval(&cfg, &f.res, &all, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(all[0].name, "isolation");
	free(all);
	/* Nothing enabled: no checks, which counts as passed. */
	cfg.isolation = false;
	assert_int_equal(kt_checks_eval(&cfg, &f.res, &all, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_true(kt_checks_passed(all, n));
	free(all);
}

static void test_work(void **state)
{
	struct kt_checks_cfg cfg = cfg_all();
	const struct kt_check *c;
	struct kt_check *all;
	struct fx f;

	(void)state;
	fx_init(&f, 2, 2);
	f.w[1][1].work_units = 0;
	c = eval_one(&cfg, &f, "not_starved.work", &all);
	assert_false(c->passed);
	assert_true(c->value == 1 && c->threshold == 0);
	assert_string_equal(c->message, "1 of 4 workers did no work (threshold 0): cg_1 worker 1");
	assert_false(kt_checks_passed(all, 4));
	free(all);

	/* Many offenders: the first few are named, the count is exact. */
	fx_init(&f, 4, 4);
	for (size_t i = 0; i < 4; i++)
		for (size_t j = 0; j < 4; j++)
			f.w[i][j].work_units = 0;
	c = eval_one(&cfg, &f, "not_starved.work", &all);
	assert_true(c->value == 16);
	want_msg(c, "16 of 16 workers did no work (threshold 0): cg_0 worker 0, cg_0 worker 1, "
		 "cg_0 worker 2, cg_0 worker 3, ...");
	free(all);

	/* One unit is work. */
	fx_init(&f, 1, 2);
	f.w[0][0].work_units = 1;
	c = eval_one(&cfg, &f, "not_starved.work", &all);
	assert_true(c->passed);
	want_msg(c, "fewest 1 units (cg_0 worker 0)");
	free(all);
}

static void test_spread(void **state)
{
	struct kt_checks_cfg cfg = cfg_all();
	const struct kt_check *c;
	struct kt_check *all;
	struct fx f;

	(void)state;
	/* 30% vs 15% waiting: a spread of exactly 15 passes at 15. */
	fx_init(&f, 2, 2);
	f.w[1][0].run_delay_ns = 300 * MS;
	f.w[1][1].run_delay_ns = 150 * MS;
	c = eval_one(&cfg, &f, "not_starved.spread", &all);
	assert_true(c->passed);
	assert_true(c->value == 15);
	want_msg(c, "run-queue wait spread 15.0 pp in cg_1 (worker 0 30.0%, worker 1 15.0%) within 15.0 pp");
	free(all);

	cfg.max_spread = 14.9;
	c = eval_one(&cfg, &f, "not_starved.spread", &all);
	assert_false(c->passed);
	assert_true(c->threshold == 14.9);
	want_msg(c, "run-queue wait spread 15.0 pp in cg_1 (worker 0 30.0%, worker 1 15.0%) exceeds 14.9 pp");
	free(all);

	/* The worst cgroup wins; the clamp: a delay above wall time is 100%. */
	cfg.max_spread = 15;
	fx_init(&f, 3, 3);
	f.w[0][0].run_delay_ns = 200 * MS; /* cg_0: spread 10 */
	f.w[2][1].run_delay_ns = 0;        /* cg_2: 0% ... */
	f.w[2][2].run_delay_ns = 2000 * MS; /* ... and 100%: spread 100 */
	c = eval_one(&cfg, &f, "not_starved.spread", &all);
	assert_false(c->passed);
	assert_true(c->value == 100);
	want_msg(c, "run-queue wait spread 100.0 pp in cg_2 (worker 2 100.0%, worker 1 0.0%) exceeds 15.0 pp; "
		 "3 cgroups compared");
	free(all);

	/* Wall time 0 = not measured: left out and named. */
	fx_init(&f, 2, 2);
	f.w[0][1].wall_ns = 0;
	f.w[0][1].cpu_ns = 0;
	f.w[1][0].cpu_ns = 100 * MS;
	f.w[1][0].wall_ns = 0;
	c = eval_one(&cfg, &f, "not_starved.spread", &all);
	assert_true(c->passed);
	assert_true(c->value == 0);
	want_msg(c, "no cgroup has 2 measured workers, nothing to compare; not measured (wall time 0): "
		 "cg_0 worker 1, cg_1 worker 0");
	free(all);

	/* A cgroup with one worker has no spread. */
	fx_init(&f, 1, 1);
	f.w[0][0].run_delay_ns = 1000 * MS;
	c = eval_one(&cfg, &f, "not_starved.spread", &all);
	assert_true(c->passed);
	free(all);
}

static void test_gap(void **state)
{
	struct kt_checks_cfg cfg = cfg_all();
	const struct kt_check *c;
	struct kt_check *all;
	struct fx f;

	(void)state;
	fx_init(&f, 2, 2);
	f.w[1][0].max_gap_ns = 2000 * MS; /* == threshold: pass */
	c = eval_one(&cfg, &f, "not_starved.gap", &all);
	assert_true(c->passed);
	assert_true(c->value == 2000);
	want_msg(c, "worst gap 2000.0 ms (cg_1 worker 0)");
	free(all);

	f.w[1][0].max_gap_ns = 2000 * MS + 1;
	f.w[0][1].max_gap_ns = 2500 * MS;
	c = eval_one(&cfg, &f, "not_starved.gap", &all);
	assert_false(c->passed);
	assert_true(c->value == 2500);
	assert_string_equal(c->message, "worst gap 2500.0 ms (cg_0 worker 1) exceeds 2000.0 ms; "
			    "2 of 4 workers over");
	free(all);

	/* max_gap_ms 0: any gap fails, no gap passes. */
	cfg.max_gap_ms = 0;
	fx_init(&f, 1, 2);
	f.w[0][0].max_gap_ns = 0;
	f.w[0][1].max_gap_ns = 1;
	c = eval_one(&cfg, &f, "not_starved.gap", &all);
	assert_false(c->passed);
	want_msg(c, "(cg_0 worker 1) exceeds 0.0 ms; 1 of 2 workers over");
	free(all);
	f.w[0][1].max_gap_ns = 0;
	c = eval_one(&cfg, &f, "not_starved.gap", &all);
	assert_true(c->passed);
	assert_true(c->value == 0);
	free(all);
}

static void test_isolation(void **state)
{
	struct kt_checks_cfg cfg = cfg_all();
	const struct kt_check *c;
	struct kt_check *all;
	struct fx f;

	(void)state;
	fx_init(&f, 2, 2);
	/* Unsorted cgroup cpus with a duplicate: {3, 1, 3}. */
	f.cpus[1][0] = 3;
	f.cpus[1][1] = 1;
	f.cpus[1][2] = 3;
	f.cg[1].n_cpus = 3;
	f.seen[1][0][0] = 1;
	f.seen[1][1][0] = 3;
	c = eval_one(&cfg, &f, "isolation", &all);
	assert_true(c->passed);
	free(all);

	f.seen[0][1][0] = 0;
	f.seen[0][1][1] = 2;
	f.seen[0][1][2] = 1;
	f.seen[0][1][3] = 3;
	f.w[0][1].n_cpus_seen = 4;
	f.seen[1][0][1] = 0;
	f.w[1][0].n_cpus_seen = 2;
	c = eval_one(&cfg, &f, "isolation", &all);
	assert_false(c->passed);
	assert_true(c->value == 2 && c->threshold == 0);
	assert_string_equal(c->message, "2 of 4 workers ran outside their cgroup's CPUs: cg_0 worker 1 "
			    "on CPU 2,3 (allowed 0-1); cg_1 worker 0 on CPU 0 (allowed 1,3)");
	free(all);

	/* A worker never seen on a CPU is not outside. */
	fx_init(&f, 1, 1);
	f.w[0][0].n_cpus_seen = 0;
	c = eval_one(&cfg, &f, "isolation", &all);
	assert_true(c->passed);
	free(all);
}

static void test_long_messages(void **state)
{
	struct kt_checks_cfg cfg = cfg_all();
	char longname[200];
	const struct kt_check *c;
	struct kt_check *all;
	struct fx f;

	(void)state;
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	fx_init(&f, 4, 4);
	for (size_t i = 0; i < 4; i++) {
		f.cg[i].name = longname;
		for (size_t j = 0; j < 4; j++) {
			f.seen[i][j][0] = 200 + (uint32_t)j;
			f.w[i][j].work_units = 0;
		}
	}
	c = eval_one(&cfg, &f, "isolation", &all);
	assert_true(c->value == 16);
	assert_true(strlen(c->message) < sizeof(c->message));
	assert_string_equal(c->message + strlen(c->message) - 3, "...");
	free(all);
}

static void test_unjudgeable(void **state)
{
	struct kt_checks_cfg cfg = cfg_all();
	struct fx f;

	(void)state;
	eval_fails(&cfg, NULL, "no result");
	fx_init(&f, 0, 0);
	eval_fails(&cfg, &f.res, "result: no cgroups reported, nothing to check");
	fx_init(&f, 1, 1);
	f.res.ok = false;
	f.res.error = "cgroup setup failed: ENOSPC";
	eval_fails(&cfg, &f.res, "result: the scenario did not run: cgroup setup failed: ENOSPC");
	f.res.error = NULL;
	eval_fails(&cfg, &f.res, "did not run: (no reason given)");

	fx_init(&f, 2, 2);
	f.cg[1].n_workers = 0;
	eval_fails(&cfg, &f.res, "result: cgroup 'cg_1' reported no workers");

	/* Inconsistent arrays (protobuf-c would not produce them). */
	fx_init(&f, 2, 2);
	f.res.cgroups = NULL;
	eval_fails(&cfg, &f.res, "inconsistent cgroup array");
	fx_init(&f, 2, 2);
	f.cgp[1] = NULL;
	eval_fails(&cfg, &f.res, "cgroup 1 is missing");
	fx_init(&f, 2, 2);
	f.cg[0].workers = NULL;
	eval_fails(&cfg, &f.res, "cgroup 'cg_0': inconsistent arrays");
	fx_init(&f, 2, 2);
	f.cg[0].cpus = NULL;
	eval_fails(&cfg, &f.res, "cgroup 'cg_0': inconsistent arrays");
	fx_init(&f, 2, 2);
	f.wp[1][1] = NULL;
	eval_fails(&cfg, &f.res, "cgroup 'cg_1' worker 1 is missing");
	fx_init(&f, 2, 2);
	f.w[1][0].cpus_seen = NULL;
	eval_fails(&cfg, &f.res, "cgroup 'cg_1' worker 0: inconsistent arrays");
	fx_init(&f, 2, 2);
	f.cg[0].name = NULL;
	f.cg[0].n_workers = 0;
	eval_fails(&cfg, &f.res, "cgroup '(unnamed)' reported no workers");

	/* No cpus: isolation cannot be judged; without isolation that is fine. */
	fx_init(&f, 1, 1);
	f.cg[0].n_cpus = 0;
	eval_fails(&cfg, &f.res, "cgroup 'cg_0' reported no cpus, so isolation cannot be checked");
	cfg.isolation = false;
	{
		struct kt_check *all;
		struct kt_err err;
		size_t n;

		assert_int_equal(kt_checks_eval(&cfg, &f.res, &all, &n, &err), 0);
		assert_int_equal(n, 3);
		free(all);
	}
}

/* Through the wire format: what the host really evaluates. */
static void test_unpacked(void **state)
{
	struct kt_checks_cfg cfg = cfg_all();
	Ktstr__ScenarioResult *res;
	struct kt_check *all;
	struct kt_err err;
	uint8_t *buf;
	size_t len, n;
	struct fx f;

	(void)state;
	fx_init(&f, 2, 3);
	f.seen[1][2][0] = 5;
	len = ktstr__scenario_result__get_packed_size(&f.res);
	buf = malloc(len);
	assert_non_null(buf);
	ktstr__scenario_result__pack(&f.res, buf);
	res = ktstr__scenario_result__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(res);
	assert_int_equal(kt_checks_eval(&cfg, res, &all, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_true(all[0].passed && all[1].passed && all[2].passed);
	assert_false(all[3].passed);
	assert_string_equal(all[3].message, "1 of 6 workers ran outside their cgroup's CPUs: cg_1 "
			    "worker 2 on CPU 5 (allowed 0-1)");
	free(all);
	ktstr__scenario_result__free_unpacked(res, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_pass),
		cmocka_unit_test(test_selection),
		cmocka_unit_test(test_work),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_gap),
		cmocka_unit_test(test_isolation),
		cmocka_unit_test(test_long_messages),
		cmocka_unit_test(test_unjudgeable),
		cmocka_unit_test(test_unpacked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
