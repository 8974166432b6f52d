#include <math.h>
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
	Ktstr__WakeLatency wl[MAXCG][MAXW];
	Ktstr__Segment seg[MAXCG][MAXW][2], *segp[MAXCG][MAXW][2];
	uint32_t seg_cpus[MAXCG][MAXW][2][2], seg_seen[MAXCG][MAXW][2][2];
};

/* Give worker (I, J) wake latency: p99 and mean in us. */
static void fx_wake(struct fx *f, size_t i, size_t j, uint64_t p99_us, uint64_t mean_us)
{
	Ktstr__WakeLatency *wl = &f->wl[i][j];

	ktstr__wake_latency__init(wl);
	wl->count = 1000;
	wl->samples = 1000;
	wl->p99_ns = p99_us * 1000;
	wl->mean_ns = mean_us * 1000;
	wl->p50_ns = wl->mean_ns;
	wl->max_ns = wl->p99_ns;
	f->w[i][j].wake_latency = wl;
}

/* Give worker (I, J) two segments: in cgroup A on CPUs A0-A0+1, then in B
 * on CPUs B0-B0+1, seen on SA and SB. */
static void fx_segments(struct fx *f, size_t i, size_t j, const char *a, uint32_t a0, uint32_t sa,
			const char *b, uint32_t b0, uint32_t sb)
{
	const char *names[2] = { a, b };
	uint32_t first[2] = { a0, b0 }, seen[2] = { sa, sb };

	for (size_t k = 0; k < 2; k++) {
		Ktstr__Segment *s = &f->seg[i][j][k];

		ktstr__segment__init(s);
		s->cgroup = (char *)names[k];
		f->seg_cpus[i][j][k][0] = first[k];
		f->seg_cpus[i][j][k][1] = first[k] + 1;
		s->cpus = f->seg_cpus[i][j][k];
		s->n_cpus = 2;
		f->seg_seen[i][j][k][0] = seen[k];
		s->cpus_seen = f->seg_seen[i][j][k];
		s->n_cpus_seen = 1;
		f->segp[i][j][k] = s;
	}
	f->w[i][j].segments = f->segp[i][j];
	f->w[i][j].n_segments = 2;
}

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
			w->timeslices = 100;
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

/* The settle sample: spread over what follows it. Two workers of 2000 ms,
 * 35% and 15% waiting over the whole run (20 pp). */
static void test_spread_warmup(void **state)
{
	struct kt_checks_cfg cfg = cfg_all();
	const struct kt_check *c;
	struct kt_check *all;
	struct fx f;

	(void)state;
	fx_init(&f, 1, 2);
	f.w[0][0].wall_ns = f.w[0][1].wall_ns = 2000 * MS;
	f.w[0][0].run_delay_ns = 700 * MS;
	f.w[0][1].run_delay_ns = 300 * MS;
	c = eval_one(&cfg, &f, "not_starved.spread", &all);
	assert_false(c->passed);
	want_msg(c, "(worker 0 35.0%, worker 1 15.0%) exceeds 15.0 pp; 1 cgroups compared; "
		 "1 of 1 cgroups judged over the whole run (a worker without a warm-up sample");
	free(all);

	/* Worker 0 waited 400 of the first 500 ms: after it both waited 20%. */
	f.w[0][0].settle_wall_ns = 500 * MS;
	f.w[0][0].settle_run_delay_ns = 400 * MS;
	f.w[0][1].settle_wall_ns = 500 * MS;
	f.w[0][1].settle_run_delay_ns = 0;
	c = eval_one(&cfg, &f, "not_starved.spread", &all);
	assert_true(c->passed);
	assert_true(fabs(c->value) < 1e-9);
	want_msg(c, "(worker 0 20.0%, worker 1 20.0%) within 15.0 pp; 1 cgroups compared; "
		 "1 of 1 cgroups judged after a 500 ms warm-up");
	free(all);

	/* Held off after the warm-up: 700 of 1500 ms against 300 of 1500. */
	f.w[0][0].settle_run_delay_ns = 0;
	c = eval_one(&cfg, &f, "not_starved.spread", &all);
	assert_false(c->passed);
	want_msg(c, "(worker 0 46.7%, worker 1 20.0%) exceeds 15.0 pp");
	free(all);

	/* One worker's sample unusable (past half its run, or above its
	 * totals): the whole cgroup is judged over the whole run, like with
	 * like. A second cgroup keeps its warm-up. */
	fx_init(&f, 2, 2);
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 2; k++) {
			f.w[i][k].wall_ns = 2000 * MS;
			f.w[i][k].settle_wall_ns = 500 * MS;
		}
	f.w[0][0].run_delay_ns = 700 * MS;
	f.w[0][0].settle_run_delay_ns = 400 * MS;
	f.w[0][1].run_delay_ns = 300 * MS;
	f.w[0][0].settle_wall_ns = 1001 * MS;
	c = eval_one(&cfg, &f, "not_starved.spread", &all);
	assert_false(c->passed);
	want_msg(c, "in cg_0 (worker 0 35.0%, worker 1 15.0%) exceeds 15.0 pp; 2 cgroups compared; "
		 "1 of 2 cgroups judged after a 500 ms warm-up; 1 of 2 cgroups judged over the "
		 "whole run");
	free(all);
	f.w[0][0].settle_wall_ns = 500 * MS;
	f.w[0][0].settle_run_delay_ns = 701 * MS;
	c = eval_one(&cfg, &f, "not_starved.spread", &all);
	assert_false(c->passed);
	want_msg(c, "(worker 0 35.0%, worker 1 15.0%)");
	free(all);

	/* Without a warm-up (spread_warmup_ms 0) the guest takes no sample. */
	cfg.spread_warmup_ms = 0;
	fx_init(&f, 1, 2);
	f.w[0][0].run_delay_ns = 400 * MS;
	c = eval_one(&cfg, &f, "not_starved.spread", &all);
	assert_false(c->passed);
	want_msg(c, "1 of 1 cgroups judged over the whole run");
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

/* Every optional check on with thresholds the healthy fixture meets. */
static struct kt_checks_cfg cfg_optional(void)
{
	struct kt_checks_cfg c = cfg_all();

	c.max_throughput_cv = 0.1;
	c.min_work_rate = 1000;
	c.max_p99_wake_us = 2000;
	c.max_wake_cv = 0.1;
	c.max_migration_ratio = 0.25;
	return c;
}

static void test_optional_pass(void **state)
{
	static const char *const names[] = { "not_starved.work", "not_starved.spread",
					     "not_starved.gap", "isolation", "throughput_cv",
					     "work_rate", "wake_latency.p99", "wake_latency.cv",
					     "migration_ratio" };
	struct kt_checks_cfg cfg = cfg_optional();
	struct kt_check *all;
	struct kt_err err;
	struct fx f;
	size_t n;

	(void)state;
	fx_init(&f, 2, 2);
	for (size_t i = 0; i < 2; i++)
		for (size_t j = 0; j < 2; j++)
			fx_wake(&f, i, j, 1500, 300);
	f.w[1][1].migrations = 25;
	assert_int_equal(kt_checks_eval(&cfg, &f.res, &all, &n, &err), 0);
	assert_int_equal(n, KT_CHECKS_MAX);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(all[i].name, names[i]);
		if (!all[i].passed)
			fail_msg("%s: %s", all[i].name, all[i].message);
	}
	assert_true(all[4].value == 0 && all[4].threshold == 0.1);
	assert_string_equal(all[4].message, "throughput CV 0.000 in cg_0 (2 cpu_spin workers: worker 0 "
			    "1000.0 units/s, worker 0 1000.0 units/s) within 0.100; 2 groups compared");
	/* 1000 units in 0.9 CPU-seconds */
	assert_true(all[5].value > 1111.1 && all[5].value < 1111.2 && all[5].threshold == 1000);
	want_msg(&all[5], "lowest work rate 1111.1 units per CPU-second (cg_0 worker 0, cpu_spin) "
		 "meets 1000.0 units/CPU-s");
	assert_true(all[6].value == 1500 && all[6].threshold == 2000);
	want_msg(&all[6], "worst p99 wake latency 1500.0 us (cg_0 worker 0, cpu_spin) within "
		 "2000.0 us; 0 of 4 measured workers over");
	assert_true(all[7].value == 0);
	assert_true(all[8].value == 0.25);
	assert_string_equal(all[8].message, "worst migration ratio 0.250 per timeslice (cg_1 worker 1: "
			    "25 migrations in 100 timeslices) within 0.250; 0 of 4 measured workers over");
	free(all);

	/* A negative threshold is off, as KT_CHECK_OFF. */
	cfg.max_wake_cv = KT_CHECK_OFF;
	cfg.min_work_rate = -5;
	assert_int_equal(kt_checks_eval(&cfg, &f.res, &all, &n, &err), 0);
	assert_int_equal(n, KT_CHECKS_MAX - 2);
	free(all);
}

static void test_throughput_cv(void **state)
{
	struct kt_checks_cfg cfg = cfg_optional();
	const struct kt_check *c;
	struct kt_check *all;
	struct fx f;

	(void)state;
	cfg.max_throughput_cv = 0.5;
	/* Rates 100, 100, 100, 500 per wall-second: mean 200, population
	 * variance (3 * 100^2 + 300^2) / 4 = 30000, CV sqrt(30000) / 200. */
	fx_init(&f, 2, 4);
	f.w[1][0].work_units = f.w[1][1].work_units = f.w[1][2].work_units = 100;
	f.w[1][3].work_units = 500;
	c = eval_one(&cfg, &f, "throughput_cv", &all);
	assert_false(c->passed);
	assert_true(fabs(c->value - sqrt(30000) / 200) < 1e-12);
	assert_true(c->threshold == 0.5);
	assert_string_equal(c->message, "throughput CV 0.866 in cg_1 (4 cpu_spin workers: worker 0 "
			    "100.0 units/s, worker 3 500.0 units/s) exceeds 0.500; 2 groups compared");
	free(all);

	/* Per wall-second: the same units in twice the wall time is half the rate. */
	fx_init(&f, 1, 2);
	f.w[0][1].wall_ns = 2000 * MS;
	c = eval_one(&cfg, &f, "throughput_cv", &all);
	/* rates 1000 and 500: mean 750, sd 250 */
	assert_true(fabs(c->value - 250.0 / 750) < 1e-12);
	assert_true(c->passed);
	free(all);

	/* Workers of different types are not compared with each other. */
	fx_init(&f, 1, 4);
	f.w[0][1].work_type = f.w[0][3].work_type = KTSTR__WORK_TYPE__WORK_IO_SYNC;
	f.w[0][1].work_units = f.w[0][3].work_units = 10;
	c = eval_one(&cfg, &f, "throughput_cv", &all);
	assert_true(c->passed && c->value == 0);
	want_msg(c, "; 2 groups compared");
	free(all);
	f.w[0][3].work_units = 30; /* io_sync 10 and 30: CV 0.5, at the threshold */
	c = eval_one(&cfg, &f, "throughput_cv", &all);
	assert_true(c->passed && c->value == 0.5);
	assert_string_equal(c->message, "throughput CV 0.500 in cg_0 (2 io_sync workers: worker 1 "
			    "10.0 units/s, worker 3 30.0 units/s) within 0.500; 2 groups compared");
	free(all);

	/* Unmeasured workers (wall 0) are left out; fewer than 2: nothing to compare. */
	fx_init(&f, 1, 2);
	f.w[0][1].wall_ns = 0;
	c = eval_one(&cfg, &f, "throughput_cv", &all);
	assert_true(c->passed && c->value == 0);
	assert_string_equal(c->message, "no cgroup has 2 workers of one type with throughput "
			    "measured, nothing to compare");
	free(all);

	/* No work at all: mean 0, no variation (not_starved.work says the rest). */
	fx_init(&f, 1, 2);
	f.w[0][0].work_units = f.w[0][1].work_units = 0;
	c = eval_one(&cfg, &f, "throughput_cv", &all);
	assert_true(c->passed && c->value == 0);
	free(all);
}

static void test_work_rate(void **state)
{
	struct kt_checks_cfg cfg = cfg_optional();
	const struct kt_check *c;
	struct kt_check *all;
	struct fx f;

	(void)state;
	fx_init(&f, 2, 2);
	f.w[1][1].cpu_ns = 500 * MS; /* 2000 per CPU-second: not the lowest */
	f.w[1][0].cpu_ns = 1000 * MS; /* 1000 per CPU-second: the lowest, at the threshold */
	c = eval_one(&cfg, &f, "work_rate", &all);
	assert_true(c->passed && c->value == 1000);
	want_msg(c, "(cg_1 worker 0, cpu_spin) meets 1000.0 units/CPU-s");
	free(all);

	f.w[1][0].work_units = 999;
	c = eval_one(&cfg, &f, "work_rate", &all);
	assert_false(c->passed);
	assert_true(c->value == 999 && c->threshold == 1000);
	assert_string_equal(c->message, "lowest work rate 999.0 units per CPU-second (cg_1 worker 0, "
			    "cpu_spin) is below 1000.0 units/CPU-s; 1 of 4 workers below");
	free(all);

	/* A slower guest does less per CPU-second: the threshold is divided. */
	cfg.slowdown = 2;
	c = eval_one(&cfg, &f, "work_rate", &all);
	assert_true(c->passed && c->threshold == 500);
	want_msg(c, "meets 500.0 units/CPU-s (1000 units/CPU-s / 2.0 measured slowdown)");
	free(all);

	/* No CPU time rates 0. */
	f.w[0][1].cpu_ns = 0;
	c = eval_one(&cfg, &f, "work_rate", &all);
	assert_false(c->passed);
	want_msg(c, "lowest work rate 0.0 units per CPU-second (cg_0 worker 1, cpu_spin)");
	free(all);
}

static void test_p99_wake(void **state)
{
	struct kt_checks_cfg cfg = cfg_optional();
	const struct kt_check *c;
	struct kt_check *all;
	struct fx f;

	(void)state;
	/* No wake-based work: nothing to judge, passes and says so. */
	fx_init(&f, 1, 2);
	c = eval_one(&cfg, &f, "wake_latency.p99", &all);
	assert_true(c->passed && c->value == 0);
	assert_string_equal(c->message, "no worker measured wake latency (no wake-based work), "
			    "nothing to judge");
	free(all);

	fx_init(&f, 2, 2);
	fx_wake(&f, 0, 0, 2000, 100);
	fx_wake(&f, 1, 1, 3000, 100);
	f.w[1][1].work_type = KTSTR__WORK_TYPE__WORK_PIPE_IO;
	f.wl[0][1].count = 0; /* no wakeups: left out */
	f.wl[0][1].p99_ns = 9999999;
	f.w[0][1].wake_latency = &f.wl[0][1];
	c = eval_one(&cfg, &f, "wake_latency.p99", &all);
	assert_false(c->passed);
	assert_true(c->value == 3000 && c->threshold == 2000);
	assert_string_equal(c->message, "worst p99 wake latency 3000.0 us (cg_1 worker 1, pipe_io) "
			    "exceeds 2000.0 us; 1 of 2 measured workers over");
	free(all);

	/* Scaled by the measured slowdown, and the message says by how much. */
	cfg.slowdown = 1.6;
	c = eval_one(&cfg, &f, "wake_latency.p99", &all);
	assert_true(c->passed && c->threshold == 3200);
	want_msg(c, "within 3200.0 us (2000 us x 1.6 measured slowdown)");
	free(all);
}

static void test_wake_cv(void **state)
{
	struct kt_checks_cfg cfg = cfg_optional();
	const struct kt_check *c;
	struct kt_check *all;
	struct fx f;

	(void)state;
	cfg.max_wake_cv = 0.4;
	fx_init(&f, 1, 3);
	fx_wake(&f, 0, 0, 5000, 1000);
	fx_wake(&f, 0, 2, 5000, 3000); /* worker 1 has none: left out */
	c = eval_one(&cfg, &f, "wake_latency.cv", &all);
	/* means 1000 and 3000 us: mean 2000, sd 1000 */
	assert_false(c->passed);
	assert_true(c->value == 0.5 && c->threshold == 0.4);
	assert_string_equal(c->message, "mean wake latency CV 0.500 in cg_0 (2 cpu_spin workers: "
			    "worker 0 1000.0 us, worker 2 3000.0 us) exceeds 0.400; 1 groups compared");
	free(all);
	cfg.max_wake_cv = 0.5;
	c = eval_one(&cfg, &f, "wake_latency.cv", &all);
	assert_true(c->passed);
	free(all);
	/* A CV is a ratio: not scaled by the slowdown. */
	cfg.max_wake_cv = 0.4;
	cfg.slowdown = 10;
	c = eval_one(&cfg, &f, "wake_latency.cv", &all);
	assert_false(c->passed);
	assert_true(c->threshold == 0.4);
	free(all);
}

static void test_migration_ratio(void **state)
{
	struct kt_checks_cfg cfg = cfg_optional();
	const struct kt_check *c;
	struct kt_check *all;
	struct fx f;

	(void)state;
	fx_init(&f, 2, 2);
	f.w[0][1].migrations = 30; /* 0.3 per timeslice */
	f.w[1][0].migrations = 50;
	f.w[1][0].timeslices = 0; /* no schedstat: left out */
	c = eval_one(&cfg, &f, "migration_ratio", &all);
	assert_false(c->passed);
	assert_true(c->value == 0.3 && c->threshold == 0.25);
	assert_string_equal(c->message, "worst migration ratio 0.300 per timeslice (cg_0 worker 1: 30 "
			    "migrations in 100 timeslices) exceeds 0.250; 1 of 3 measured workers over");
	free(all);

	fx_init(&f, 1, 2);
	f.w[0][0].timeslices = f.w[0][1].timeslices = 0;
	c = eval_one(&cfg, &f, "migration_ratio", &all);
	assert_true(c->passed);
	assert_string_equal(c->message, "no worker reported timeslices (schedstat), nothing to judge");
	free(all);
}

static void test_gap_scaled(void **state)
{
	struct kt_checks_cfg cfg = cfg_all();
	const struct kt_check *c;
	struct kt_check *all;
	struct fx f;

	(void)state;
	fx_init(&f, 1, 2);
	f.w[0][1].max_gap_ns = 20000 * MS;
	cfg.slowdown = 11.8;
	c = eval_one(&cfg, &f, "not_starved.gap", &all);
	assert_true(c->passed);
	assert_true(fabs(c->threshold - 23600) < 1e-9);
	assert_string_equal(c->message, "2 workers in 1 cgroups, worst gap 20000.0 ms (cg_0 worker 1), "
			    "threshold 23600.0 ms (2000 ms x 11.8 measured slowdown)");
	free(all);
	f.w[0][1].max_gap_ns = 23601 * MS;
	c = eval_one(&cfg, &f, "not_starved.gap", &all);
	assert_false(c->passed);
	assert_string_equal(c->message, "worst gap 23601.0 ms (cg_0 worker 1) exceeds 23600.0 ms "
			    "(2000 ms x 11.8 measured slowdown); 1 of 2 workers over");
	free(all);

	/* A slowdown below 1, zero or not a number is no scaling: never stricter. */
	{
		const double bad[] = { 0.5, 0, NAN, -3 };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			cfg.slowdown = bad[i];
			c = eval_one(&cfg, &f, "not_starved.gap", &all);
			assert_true(c->threshold == 2000);
			assert_null(strstr(c->message, "slowdown"));
			free(all);
		}
	}
}

static void test_isolation_segments(void **state)
{
	struct kt_checks_cfg cfg = cfg_all();
	const struct kt_check *c;
	struct kt_check *all;
	struct fx f;

	(void)state;
	/* Worker 0 moved from cg_0 (0-1) to cg_b (2-3): judged per segment,
	 * not against the enclosing cgroup's 0-1. */
	fx_init(&f, 1, 2);
	fx_segments(&f, 0, 0, "cg_0", 0, 1, "cg_b", 2, 3);
	f.seen[0][0][0] = 3;
	c = eval_one(&cfg, &f, "isolation", &all);
	assert_true(c->passed);
	free(all);

	/* Seen on CPU 1 while in cg_b. */
	f.seg_seen[0][0][1][0] = 1;
	c = eval_one(&cfg, &f, "isolation", &all);
	assert_false(c->passed);
	assert_true(c->value == 1);
	assert_string_equal(c->message, "1 of 2 workers ran outside their cgroup's CPUs: cg_0 worker 0 "
			    "in cgroup cg_b (segment 1) on CPU 1 (allowed 2-3)");
	free(all);

	/* Both segments wrong: one worker, both segments named. */
	f.seg_seen[0][0][0][0] = 5;
	c = eval_one(&cfg, &f, "isolation", &all);
	assert_true(c->value == 1);
	want_msg(c, "cg_0 worker 0 in cgroup cg_0 (segment 0) on CPU 5 (allowed 0-1); cg_0 worker 0 "
		 "in cgroup cg_b (segment 1) on CPU 1 (allowed 2-3)");
	free(all);

	/* Every worker segmented: the cgroup needs no cpus of its own. */
	fx_init(&f, 1, 2);
	fx_segments(&f, 0, 0, "cg_0", 0, 0, "cg_b", 2, 2);
	fx_segments(&f, 0, 1, "cg_0", 0, 1, "cg_b", 2, 3);
	f.cg[0].n_cpus = 0;
	c = eval_one(&cfg, &f, "isolation", &all);
	assert_true(c->passed);
	free(all);

	/* Unjudgeable segments. */
	f.seg[0][1][1].n_cpus = 0;
	eval_fails(&cfg, &f.res, "result: cgroup 'cg_0' worker 1 segment 1 reported no cpus, so "
		   "isolation cannot be checked");
	cfg.isolation = false; /* without isolation, segment cpus do not matter */
	c = eval_one(&cfg, &f, "not_starved.work", &all);
	free(all);
	cfg.isolation = true;
	f.seg[0][1][1].n_cpus = 2;
	f.segp[0][1][0] = NULL;
	eval_fails(&cfg, &f.res, "result: cgroup 'cg_0' worker 1 segment 0: missing or inconsistent");
	f.segp[0][1][0] = &f.seg[0][1][0];
	f.seg[0][1][0].cpus_seen = NULL;
	eval_fails(&cfg, &f.res, "worker 1 segment 0: missing or inconsistent");
	f.seg[0][1][0].cpus_seen = f.seg_seen[0][1][0];
	f.w[0][1].segments = NULL;
	eval_fails(&cfg, &f.res, "result: cgroup 'cg_0' worker 1: inconsistent arrays");
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
		cmocka_unit_test(test_spread_warmup),
		cmocka_unit_test(test_gap),
		cmocka_unit_test(test_isolation),
		cmocka_unit_test(test_long_messages),
		cmocka_unit_test(test_unjudgeable),
		cmocka_unit_test(test_unpacked),
		cmocka_unit_test(test_optional_pass),
		cmocka_unit_test(test_throughput_cv),
		cmocka_unit_test(test_work_rate),
		cmocka_unit_test(test_p99_wake),
		cmocka_unit_test(test_wake_cv),
		cmocka_unit_test(test_migration_ratio),
		cmocka_unit_test(test_gap_scaled),
		cmocka_unit_test(test_isolation_segments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
