#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "catalog.h"
#include "ktstr.pb-c.h"
#include "scenario.h"

static struct kt_scenario *parse_ok(const char *yaml)
{
	struct kt_scenario *s = NULL;
	struct kt_err err = { "" };

	if (kt_scenario_parse(yaml, strlen(yaml), "t.yaml", &s, &err))
		fail_msg("unexpected error: %s\n--- input:\n%s", err.msg, yaml);
	assert_non_null(s);
	return s;
}

/* The error for YAML must start with WANT. */
static void parse_err_len(const char *yaml, size_t len, const char *want)
{
	struct kt_scenario *s = (struct kt_scenario *)&s; /* must be overwritten */
	struct kt_err err = { "" };

	if (!kt_scenario_parse(yaml, len, "t.yaml", &s, &err)) {
		kt_scenario_free(s);
		fail_msg("expected an error starting with \"%s\"\n--- input:\n%s", want, yaml);
	}
	assert_null(s);
	if (strncmp(err.msg, want, strlen(want)))
		fail_msg("error \"%s\"\n  does not start with \"%s\"", err.msg, want);
}

static void parse_err(const char *yaml, const char *want)
{
	parse_err_len(yaml, strlen(yaml), want);
}

static Ktstr__EntrySpec *spec_of(const struct kt_scenario *s, uint64_t dur, unsigned workers,
				 uint32_t watchdog)
{
	struct kt_err err = { "" };
	Ktstr__EntrySpec *es;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (kt_scenario_entry_spec(s, dur, workers, watchdog, &buf, &len, &err))
		fail_msg("entry_spec: %s", err.msg);
	es = ktstr__entry_spec__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(es);
	/* What the host builds, the guest accepts. */
	if (kt_spec_validate(es, &err))
		fail_msg("guest would refuse: %s", err.msg);
	assert_int_equal(es->version, KT_SCENARIO_ENTRY_VERSION);
	assert_string_equal(es->name, kt_scenario_name(s));
	assert_int_equal(es->duration_ms, dur);
	assert_int_equal(es->watchdog_ms, watchdog);
	return es;
}

static void spec_of_free(const struct kt_scenario *s, uint64_t dur, unsigned workers)
{
	ktstr__entry_spec__free_unpacked(spec_of(s, dur, workers, 0), NULL);
}

static void spec_err(const struct kt_scenario *s, uint64_t dur, unsigned workers,
		     uint32_t watchdog, const char *want)
{
	struct kt_err err = { "" };
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(kt_scenario_entry_spec(s, dur, workers, watchdog, &buf, &len, &err), -1);
	assert_null(buf);
	if (!strstr(err.msg, want))
		fail_msg("error \"%s\"\n  does not contain \"%s\"", err.msg, want);
}

static const Ktstr__CgroupSpec *cg_at(const Ktstr__EntrySpec *es, size_t step, size_t i)
{
	assert_true(step < es->n_steps);
	assert_true(i < es->steps[step]->n_cgroups);
	return es->steps[step]->cgroups[i];
}

/* ---- every construct ---- */

static void test_full_example(void **state)
{
	const char *y =
		"name: two-cgroups\n"
		"description: two cgroups of spinning workers share the machine\n"
		"checks: {max_gap_ms: 2000, max_spread: 15, isolation: true}\n"
		"steps:\n"
		"  - cgroups:\n"
		"      - {name: cg_0, workers: 2, work: cpu_spin}\n"
		"      - {name: cg_1, cpuset: {disjoint: {index: 1, of: 2}}, workers: 2,\n"
		"         work: {bursty: {burst_ms: 50, sleep_ms: 100}}}\n"
		"    hold: {frac: 1.0}\n";
	struct kt_scenario *s = parse_ok(y);
	const struct kt_checks_cfg *ck = kt_scenario_checks(s);
	Ktstr__EntrySpec *es;
	const Ktstr__CgroupSpec *cg;

	(void)state;
	assert_string_equal(kt_scenario_name(s), "two-cgroups");
	assert_string_equal(kt_scenario_description(s),
			    "two cgroups of spinning workers share the machine");
	assert_true(ck->not_starved);
	assert_true(ck->isolation);
	assert_true(ck->max_gap_ms == 2000);
	assert_true(ck->max_spread == 15);
	es = spec_of(s, 2000, 3, 60000);
	assert_int_equal(es->n_steps, 1);
	assert_int_equal(es->steps[0]->n_cgroups, 2);
	assert_int_equal(es->steps[0]->hold->kind, KTSTR__HOLD_SPEC__KIND__FRAC);
	assert_true(es->steps[0]->hold->frac == 1.0);
	cg = cg_at(es, 0, 0);
	assert_string_equal(cg->name, "cg_0");
	assert_int_equal(cg->workers, 2);
	assert_int_equal(cg->work->type, KTSTR__WORK_TYPE__WORK_CPU_SPIN);
	assert_int_equal(cg->cpuset->kind, KTSTR__CPUSET_KIND__CPUSET_NONE);
	cg = cg_at(es, 0, 1);
	assert_string_equal(cg->name, "cg_1");
	assert_int_equal(cg->cpuset->kind, KTSTR__CPUSET_KIND__CPUSET_DISJOINT);
	assert_int_equal(cg->cpuset->index, 1);
	assert_int_equal(cg->cpuset->of, 2);
	assert_int_equal(cg->work->type, KTSTR__WORK_TYPE__WORK_BURSTY);
	assert_int_equal(cg->work->burst_ms, 50);
	assert_int_equal(cg->work->sleep_ms, 100);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);
}

static void test_work_forms(void **state)
{
	const char *y =
		"name: w\n"
		"steps:\n"
		"  - cgroups:\n"
		"      - {name: a, work: cpu_spin}\n"
		"      - {name: b, work: yield_heavy}\n"
		"      - {name: c, work: mixed}\n"
		"      - {name: d, work: io_sync}\n"
		"      - {name: e, work: bursty}\n"
		"      - {name: f, work: pipe_io, workers: 4}\n"
		"      - {name: g, work: {bursty: {burst_ms: 7}}}\n"
		"      - {name: h, work: {bursty: {sleep_ms: 0}}}\n"
		"      - {name: i, work: {mixed: {}}}\n"
		"      - {name: j}\n"
		"      - name: k\n"
		"        work:\n"
		"          bursty:\n"
		"            burst_ms: 60000\n"
		"            sleep_ms: 60000\n";
	static const Ktstr__WorkType types[] = {
		KTSTR__WORK_TYPE__WORK_CPU_SPIN, KTSTR__WORK_TYPE__WORK_YIELD_HEAVY,
		KTSTR__WORK_TYPE__WORK_MIXED, KTSTR__WORK_TYPE__WORK_IO_SYNC,
		KTSTR__WORK_TYPE__WORK_BURSTY, KTSTR__WORK_TYPE__WORK_PIPE_IO,
		KTSTR__WORK_TYPE__WORK_BURSTY, KTSTR__WORK_TYPE__WORK_BURSTY,
		KTSTR__WORK_TYPE__WORK_MIXED, KTSTR__WORK_TYPE__WORK_CPU_SPIN,
		KTSTR__WORK_TYPE__WORK_BURSTY,
	};
	struct kt_scenario *s = parse_ok(y);
	Ktstr__EntrySpec *es = spec_of(s, 1000, 2, 0);

	(void)state;
	assert_int_equal(es->steps[0]->n_cgroups, 11);
	for (size_t i = 0; i < 11; i++)
		assert_int_equal(cg_at(es, 0, i)->work->type, types[i]);
	assert_int_equal(cg_at(es, 0, 4)->work->burst_ms, 50);
	assert_int_equal(cg_at(es, 0, 4)->work->sleep_ms, 100);
	assert_int_equal(cg_at(es, 0, 5)->workers, 4);
	assert_int_equal(cg_at(es, 0, 6)->work->burst_ms, 7);
	assert_int_equal(cg_at(es, 0, 6)->work->sleep_ms, 100);
	assert_int_equal(cg_at(es, 0, 7)->work->burst_ms, 50);
	assert_int_equal(cg_at(es, 0, 7)->work->sleep_ms, 0);
	assert_int_equal(cg_at(es, 0, 10)->work->burst_ms, 60000);
	assert_int_equal(cg_at(es, 0, 10)->work->sleep_ms, 60000);
	/* Non-bursty work carries no bursty params. */
	assert_int_equal(cg_at(es, 0, 0)->work->burst_ms, 0);
	/* Unset counts take the run's default. */
	assert_int_equal(cg_at(es, 0, 0)->workers, 2);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);
}

#define W(x) KTSTR__WORK_TYPE__WORK_##x

/* The 13 types beyond the first six, in both forms, with their params. */
static void test_new_work_forms(void **state)
{
	const char *y =
		"name: w2\n"
		"steps:\n"
		"  - cgroups:\n"
		"      - {name: a, workers: 2, work: futex_ping_pong}\n"
		"      - {name: b, workers: 5, work: futex_fan_out}\n"
		"      - {name: c, workers: 6, work: {futex_fan_out: {fan_out: 2}}}\n"
		"      - {name: d, work: cache_pressure}\n"
		"      - {name: e, work: {cache_yield: {size_kb: 64, stride: 128}}}\n"
		"      - {name: f, workers: 2, work: {cache_pipe: {size_kb: 1, stride: 1024}}}\n"
		"      - {name: g, workers: 10, work: {fan_out_compute: {fan_out: 1}}}\n"
		"      - name: h\n"
		"        work:\n"
		"          sequence:\n"
		"            phases:\n"
		"              - {work: cpu_spin, ms: 30}\n"
		"              - {work: sleep, ms: 20}\n"
		"              - {work: page_fault_churn, ms: 60000}\n"
		"      - {name: i, work: fork_exit}\n"
		"      - {name: j, work: nice_sweep}\n"
		"      - {name: k, work: {affinity_churn: {}}}\n"
		"      - {name: l, work: policy_churn}\n"
		"      - {name: m, work: {page_fault_churn: {region_kb: 4}}}\n"
		"      - {name: n, work: page_fault_churn}\n"
		"      - {name: o, workers: 4, work: mutex_contention}\n"
		"      - {name: p, workers: 6, work: {mutex_contention: {contenders: 3}}}\n"
		"      - {name: q, workers: 5, work: fan_out_compute}\n"
		"      - {name: r, workers: 256, work: {futex_fan_out: {fan_out: 255}}}\n";
	static const Ktstr__WorkType types[] = {
		W(FUTEX_PING_PONG), W(FUTEX_FAN_OUT), W(FUTEX_FAN_OUT), W(CACHE_PRESSURE),
		W(CACHE_YIELD), W(CACHE_PIPE), W(FAN_OUT_COMPUTE), W(SEQUENCE), W(FORK_EXIT),
		W(NICE_SWEEP), W(AFFINITY_CHURN), W(POLICY_CHURN), W(PAGE_FAULT_CHURN),
		W(PAGE_FAULT_CHURN), W(MUTEX_CONTENTION), W(MUTEX_CONTENTION), W(FAN_OUT_COMPUTE),
		W(FUTEX_FAN_OUT),
	};
	struct kt_scenario *s = parse_ok(y);
	Ktstr__EntrySpec *es = spec_of(s, 1000, 2, 0);
	const Ktstr__WorkSpec *w;

	(void)state;
	assert_int_equal(es->steps[0]->n_cgroups, 18);
	for (size_t i = 0; i < 18; i++)
		assert_int_equal(cg_at(es, 0, i)->work->type, types[i]);
	/* Defaults are written out; a type carries only its own params. */
	assert_int_equal(cg_at(es, 0, 1)->work->fan_out, 4);
	assert_int_equal(cg_at(es, 0, 2)->work->fan_out, 2);
	assert_int_equal(cg_at(es, 0, 2)->workers, 6);
	w = cg_at(es, 0, 3)->work;
	assert_int_equal(w->size_kb, 32);
	assert_int_equal(w->stride, 64);
	assert_int_equal(w->fan_out + w->region_kb + w->contenders + w->burst_ms, 0);
	assert_int_equal(cg_at(es, 0, 3)->workers, 2);
	assert_int_equal(cg_at(es, 0, 4)->work->size_kb, 64);
	assert_int_equal(cg_at(es, 0, 4)->work->stride, 128);
	assert_int_equal(cg_at(es, 0, 5)->work->size_kb, 1);
	assert_int_equal(cg_at(es, 0, 5)->work->stride, 1024);
	assert_int_equal(cg_at(es, 0, 6)->work->fan_out, 1);
	w = cg_at(es, 0, 7)->work;
	assert_int_equal(w->n_phases, 3);
	assert_int_equal(w->phases[0]->work, W(CPU_SPIN));
	assert_int_equal(w->phases[0]->ms, 30);
	assert_false(w->phases[0]->sleep);
	assert_true(w->phases[1]->sleep);
	assert_int_equal(w->phases[1]->ms, 20);
	assert_int_equal(w->phases[2]->work, W(PAGE_FAULT_CHURN));
	assert_int_equal(w->phases[2]->ms, 60000);
	assert_int_equal(w->size_kb + w->region_kb, 0);
	assert_int_equal(cg_at(es, 0, 8)->work->n_phases, 0);
	assert_int_equal(cg_at(es, 0, 12)->work->region_kb, 4);
	assert_int_equal(cg_at(es, 0, 13)->work->region_kb, 4096);
	assert_int_equal(cg_at(es, 0, 14)->work->contenders, 4);
	assert_int_equal(cg_at(es, 0, 15)->work->contenders, 3);
	assert_int_equal(cg_at(es, 0, 16)->work->fan_out, 4);
	assert_int_equal(cg_at(es, 0, 17)->work->fan_out, 255);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);
}

/* An unset count takes the run's default, which must suit the grouping. */
static void test_group_defaults(void **state)
{
	struct kt_scenario *s = parse_ok("name: g\nsteps:\n  - cgroups:\n"
					 "      - {name: fan, work: futex_fan_out}\n"
					 "      - {name: spin, work: cpu_spin}\n");
	Ktstr__EntrySpec *es;

	(void)state;
	spec_err(s, 1000, 2, 0, "scenario 'g': steps[0] cgroup 'fan': futex_fan_out works in groups "
		 "of fan_out + 1 (5: one waker, 4 waiters): needs a multiple of 5 workers, got 2 with "
		 "the run's default count");
	es = spec_of(s, 1000, 10, 0);
	assert_int_equal(cg_at(es, 0, 0)->workers, 10);
	assert_int_equal(cg_at(es, 0, 1)->workers, 10);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);
	s = parse_ok("name: m\nsteps:\n  - cgroups:\n"
		     "      - {name: mx, work: {mutex_contention: {contenders: 3}}}\n");
	spec_err(s, 1000, 4, 0, "cgroup 'mx': mutex_contention works in groups of contenders (3) "
		 "sharing a mutex: needs a multiple of 3 workers, got 4");
	spec_of_free(s, 1000, 6);
	kt_scenario_free(s);
	s = parse_ok("name: p\nsteps:\n  - cgroups:\n"
		     "      - {name: pp, work: futex_ping_pong}\n      - {name: cp, work: cache_pipe}\n");
	spec_err(s, 1000, 1, 0, "cgroup 'pp': futex_ping_pong needs an even number of workers, "
		 "got 1");
	spec_of_free(s, 1000, 2);
	kt_scenario_free(s);
}

static void test_cpuset_forms(void **state)
{
	const char *y =
		"name: c\n"
		"steps:\n"
		"  - cgroups:\n"
		"      - {name: a, cpuset: {exact: [2, 0]}}\n"
		"      - {name: b, cpuset: {exact: \"0-1,3\"}}\n"
		"      - {name: c, cpuset: {exact: 5}}\n"
		"      - {name: d, cpuset: {disjoint: {index: 0, of: 1}}}\n"
		"      - {name: e, cpuset: {llc: 3}}\n"
		"      - {name: f, cpuset: {exact: 255}}\n"
		"      - {name: g}\n"
		"      - {name: h, cpuset: {exact: \"4-6,5\\n\"}}\n";
	struct kt_scenario *s = parse_ok(y);
	Ktstr__EntrySpec *es = spec_of(s, 1000, 1, 0);
	const Ktstr__CpusetSpec *cs;

	(void)state;
	cs = cg_at(es, 0, 0)->cpuset;
	assert_int_equal(cs->kind, KTSTR__CPUSET_KIND__CPUSET_EXACT);
	assert_int_equal(cs->n_cpus, 2);
	assert_int_equal(cs->cpus[0], 0); /* sorted */
	assert_int_equal(cs->cpus[1], 2);
	cs = cg_at(es, 0, 1)->cpuset;
	assert_int_equal(cs->n_cpus, 3);
	assert_int_equal(cs->cpus[0], 0);
	assert_int_equal(cs->cpus[1], 1);
	assert_int_equal(cs->cpus[2], 3);
	cs = cg_at(es, 0, 2)->cpuset;
	assert_int_equal(cs->n_cpus, 1);
	assert_int_equal(cs->cpus[0], 5);
	cs = cg_at(es, 0, 3)->cpuset;
	assert_int_equal(cs->kind, KTSTR__CPUSET_KIND__CPUSET_DISJOINT);
	assert_int_equal(cs->index, 0);
	assert_int_equal(cs->of, 1);
	cs = cg_at(es, 0, 4)->cpuset;
	assert_int_equal(cs->kind, KTSTR__CPUSET_KIND__CPUSET_LLC);
	assert_int_equal(cs->index, 3);
	assert_int_equal(cg_at(es, 0, 5)->cpuset->cpus[0], 255);
	assert_int_equal(cg_at(es, 0, 6)->cpuset->kind, KTSTR__CPUSET_KIND__CPUSET_NONE);
	/* The text form is the kernel's: overlaps merge, a newline may end it. */
	cs = cg_at(es, 0, 7)->cpuset;
	assert_int_equal(cs->n_cpus, 3);
	assert_int_equal(cs->cpus[0], 4);
	assert_int_equal(cs->cpus[2], 6);
	/* A cpuset turns isolation on by default. */
	assert_true(kt_scenario_checks(s)->isolation);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);
}

static void test_hold_forms(void **state)
{
	const char *y =
		"name: h\n"
		"steps:\n"
		"  - cgroups: [{name: a}]\n"
		"  - cgroups: [{name: a}]\n"
		"    hold: {fixed_ms: 500}\n"
		"  - cgroups: [{name: a}]\n"
		"    hold: {frac: 0.25}\n"
		"  - cgroups: [{name: a}]\n";
	struct kt_scenario *s = parse_ok(y);
	Ktstr__EntrySpec *es = spec_of(s, 4000, 2, 0);

	(void)state;
	assert_int_equal(es->n_steps, 4);
	assert_int_equal(es->steps[0]->hold->kind, KTSTR__HOLD_SPEC__KIND__FRAC);
	assert_true(es->steps[0]->hold->frac == 0.25); /* 1 / 4 steps */
	assert_int_equal(es->steps[1]->hold->kind, KTSTR__HOLD_SPEC__KIND__FIXED);
	assert_int_equal(es->steps[1]->hold->ms, 500);
	assert_true(es->steps[2]->hold->frac == 0.25);
	assert_true(es->steps[3]->hold->frac == 0.25);
	ktstr__entry_spec__free_unpacked(es, NULL);
	/* Planned: 3 * 1000 + 500 ms; the watchdog must be later. */
	spec_err(s, 4000, 2, 3500, "does not end before the guest watchdog (3500 ms)");
	es = spec_of(s, 4000, 2, 3501);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);

	/* Thirds add up to 1 despite binary rounding. */
	s = parse_ok("name: t\nsteps:\n  - cgroups: [{name: a}]\n  - cgroups: [{name: a}]\n"
		     "  - cgroups: [{name: a}]\n");
	kt_scenario_free(s);
}

static void test_checks_forms(void **state)
{
	struct kt_scenario *s;
	const struct kt_checks_cfg *ck;
	struct kt_checks_cfg d;

	(void)state;
	kt_checks_cfg_default(&d);
	assert_true(d.not_starved && !d.isolation && d.max_gap_ms == 2000 && d.max_spread == 15);
	s = parse_ok("name: c\nsteps: [{cgroups: [{name: a}]}]\n");
	ck = kt_scenario_checks(s);
	assert_true(ck->not_starved == d.not_starved && ck->isolation == d.isolation);
	assert_true(ck->max_gap_ms == d.max_gap_ms && ck->max_spread == d.max_spread);
	assert_string_equal(kt_scenario_description(s), "");
	kt_scenario_free(s);

	s = parse_ok("name: c\n"
		     "checks:\n"
		     "  not_starved: false\n"
		     "  max_gap_ms: 0\n"
		     "  max_spread: 100\n"
		     "  isolation: TRUE\n"
		     "steps: [{cgroups: [{name: a}]}]\n");
	ck = kt_scenario_checks(s);
	assert_false(ck->not_starved);
	assert_true(ck->max_gap_ms == 0);
	assert_true(ck->max_spread == 100);
	assert_true(ck->isolation);
	kt_scenario_free(s);

	/* An explicit isolation: false wins over the cpuset default. */
	s = parse_ok("name: c\nchecks: {isolation: false, max_spread: 2.5e1}\n"
		     "steps: [{cgroups: [{name: a, cpuset: {llc: 0}}]}]\n");
	assert_false(kt_scenario_checks(s)->isolation);
	assert_true(kt_scenario_checks(s)->max_spread == 25);
	kt_scenario_free(s);

	/* The optional checks: off by default, a number or off when written. */
	assert_true(d.max_throughput_cv < 0 && d.min_work_rate < 0 && d.max_p99_wake_us < 0 &&
		    d.max_wake_cv < 0 && d.max_migration_ratio < 0 && d.slowdown == 1);
	s = parse_ok("name: c\n"
		     "checks:\n"
		     "  max_throughput_cv: 0.25\n"
		     "  min_work_rate: 1e6\n"
		     "  max_p99_wake_us: 5000\n"
		     "  max_wake_cv: off\n"
		     "  max_migration_ratio: 0\n"
		     "steps: [{cgroups: [{name: a}]}]\n");
	ck = kt_scenario_checks(s);
	assert_true(ck->max_throughput_cv == 0.25 && ck->min_work_rate == 1e6);
	assert_true(ck->max_p99_wake_us == 5000 && ck->max_migration_ratio == 0);
	assert_true(ck->max_wake_cv == KT_CHECK_OFF);
	assert_true(ck->not_starved && ck->max_gap_ms == 2000 && ck->slowdown == 1);
	kt_scenario_free(s);
}

static void test_yaml_features(void **state)
{
	/* Block style, comments, quoting and anchors are plain YAML. */
	const char *y =
		"# comment\n"
		"---\n"
		"'name': \"anchors\"\n"
		"description: 'quoted: fine'\n"
		"steps:\n"
		"  - cgroups:\n"
		"      - &base\n"
		"        name: a\n"
		"        work: io_sync\n"
		"  - cgroups:\n"
		"      - *base\n"
		"...\n";
	struct kt_scenario *s = parse_ok(y);
	Ktstr__EntrySpec *es = spec_of(s, 100, 1, 0);

	(void)state;
	assert_string_equal(kt_scenario_description(s), "quoted: fine");
	assert_int_equal(cg_at(es, 1, 0)->work->type, KTSTR__WORK_TYPE__WORK_IO_SYNC);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);
}

/* ---- errors: file, line, field path ---- */

#define HDR "name: t\nsteps:\n  - cgroups:\n" /* lines 1-3 */

static const struct {
	const char *yaml, *want;
} errors[] = {
	/* wrong types */
	{ HDR "      - {name: a, workers: two}\n",
	  "t.yaml:4: steps[0].cgroups[0].workers: expected an integer, got 'two'" },
	{ HDR "      - {name: a, workers: \"2\"}\n",
	  "t.yaml:4: steps[0].cgroups[0].workers: expected an integer, got the quoted string '2'" },
	{ HDR "      - {name: a, workers: 1.5}\n",
	  "t.yaml:4: steps[0].cgroups[0].workers: expected an integer, got '1.5'" },
	{ HDR "      - {name: a, workers: }\n",
	  "t.yaml:4: steps[0].cgroups[0].workers: expected an integer, got nothing (null)" },
	{ HDR "      - {name: a, workers: [1]}\n",
	  "t.yaml:4: steps[0].cgroups[0].workers: expected an integer, got a list" },
	{ HDR "      - {name: [a]}\n",
	  "t.yaml:4: steps[0].cgroups[0].name: expected a name, got a list" },
	{ HDR "      - a\n", "t.yaml:4: steps[0].cgroups[0]: expected a mapping, got 'a'" },
	{ "name: t\nsteps: {}\n", "t.yaml:2: steps: expected a list of steps, got a mapping" },
	{ "name: t\nsteps:\n  - cgroups: {a: 1}\n",
	  "t.yaml:3: steps[0].cgroups: expected a list of cgroups, got a mapping" },
	{ "- a\n", "t.yaml:1: expected a mapping, got a list" },
	{ "just text\n", "t.yaml:1: expected a mapping, got 'just text'" },
	{ "name: t\nchecks: {isolation: yes}\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: checks.isolation: expected true or false, got 'yes'" },
	{ "name: t\nchecks: {max_gap_ms: lots}\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: checks.max_gap_ms: expected a number, got 'lots'" },
	{ "name: t\nchecks: {max_gap_ms: .nan}\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: checks.max_gap_ms: expected a number, got '.nan'" },
	{ "name: t\nchecks: {max_gap_ms: 1e999}\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: checks.max_gap_ms: 1e999 is not a number in [0, 3600000]" },
	{ "name: t\nchecks: {max_gap_ms: off}\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: checks.max_gap_ms: expected a number, got 'off'" },
	{ "name: t\nchecks: {max_throughput_cv: -0.5}\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: checks.max_throughput_cv: -0.5 is not a number in [0, 100] or off" },
	{ "name: t\nchecks: {min_work_rate: \"off\"}\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: checks.min_work_rate: expected a number, got the quoted string 'off'" },
	{ "name: t\nchecks:\n  max_wake_cv: 0.5\n  max_p99_wake_us: 4e9\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:4: checks.max_p99_wake_us: 4e9 is not a number in [0, 3600000000] or off" },
	{ "name: t\nchecks:\n  max_migration_ratio: 1001\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:3: checks.max_migration_ratio: 1001 is not a number in [0, 1000] or off" },
	{ "name: t\nchecks:\n  max_wake_cv: [1]\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:3: checks.max_wake_cv: expected a number, got a list" },
	{ "name: t\nchecks: {isolation: off}\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: checks.isolation: expected true or false, got 'off'" },
	{ "name: t\nchecks: {max_wake_cv: 1, max_wake_cv: 2}\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: checks.max_wake_cv: " },
	{ "name: t\nchecks: [1]\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: checks: expected a mapping, got a list" },
	{ "name: t\ndescription: [x]\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: description: expected one line of text, got a list" },
	{ "name: t\ndescription: \"two\\nlines\"\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: description: must be one line of text" },
	{ "name: t\ndescription: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxx\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: description: longer than 256 bytes" },
	{ HDR "      - {name: a, cpuset: {exact: \"300-2\"}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.exact: cpulist '300-2': range 300-2 runs backwards" },
	{ HDR "      - {name: a, cpuset: {exact: {a: 1}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.exact: expected a CPU list" },
	{ HDR "      - {name: a, cpuset: {exact: [0, x]}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.exact[1]: expected an integer, got 'x'" },
	{ HDR "      - {name: a, work: [cpu_spin]}\n",
	  "t.yaml:4: steps[0].cgroups[0].work: expected a work type or a one-key mapping" },
	{ HDR "      - {name: a, work: {bursty: 5}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.bursty: expected a mapping, got '5'" },
	{ HDR "      - {name: a, work: {[x]: {}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work: expected a work type" },
	/* unknown keys */
	{ HDR "      - {name: a, wrokers: 2}\n",
	  "t.yaml:4: steps[0].cgroups[0].wrokers: unknown key (expected name, cpuset, workers, work, parent, affinity, policy, nice)" },
	{ "name: t\nsteps: [{cgroups: [{name: a}]}]\nextra: 1\n",
	  "t.yaml:3: extra: unknown key (expected name, description, checks, steps, backdrop)" },
	{ "name: t\nsteps:\n  - cgroups: [{name: a}]\n    hodl: {frac: 1}\n",
	  "t.yaml:4: steps[0].hodl: unknown key (expected cgroups, hold, ops)" },
	{ "name: t\nchecks: {max_gap: 5}\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: checks.max_gap: unknown key (expected not_starved, max_gap_ms, max_spread, spread_warmup_ms, isolation, "
	  "max_throughput_cv, min_work_rate, max_p99_wake_us, max_wake_cv, max_migration_ratio)" },
	{ HDR "      - {name: a, work: {bursty: {burst: 5}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.bursty.burst: unknown key (expected burst_ms, sleep_ms)" },
	{ HDR "      - {name: a, work: {cpu_spin: {burst_ms: 5}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.cpu_spin.burst_ms: unknown key (cpu_spin takes no parameters)" },
	{ HDR "      - {name: a, work: {futex_fan_out: {fanout: 2}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.futex_fan_out.fanout: unknown key (expected fan_out)" },
	{ HDR "      - {name: a, work: {cache_pipe: {size: 2}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.cache_pipe.size: unknown key (expected size_kb, stride)" },
	{ HDR "      - {name: a, work: {page_fault_churn: {region: 2}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.page_fault_churn.region: unknown key (expected region_kb)" },
	{ HDR "      - {name: a, work: {mutex_contention: {threads: 2}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.mutex_contention.threads: unknown key (expected contenders)" },
	{ HDR "      - {name: a, work: {nice_sweep: {step: 1}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.nice_sweep.step: unknown key (nice_sweep takes no parameters)" },
	{ HDR "      - {name: a, work: {fork_exit: {n: 1}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.fork_exit.n: unknown key (fork_exit takes no parameters)" },
	{ HDR "      - {name: a, work: {sequence: {phases: [{work: cpu_spin, ms: 5}], x: 1}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.sequence.x: unknown key (expected phases)" },
	{ HDR "      - {name: a, work: {sequence: {phases: [{work: cpu_spin, ms: 5, x: 1}]}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.sequence.phases[0].x: unknown key (expected work, ms)" },
	{ HDR "      - {name: a, cpuset: {all: true}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.all: unknown key (expected exact, disjoint, llc, numa, range, overlap)" },
	{ HDR "      - {name: a, cpuset: {disjoint: {index: 0, of: 2, x: 1}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.disjoint.x: unknown key (expected index, of)" },
	{ HDR "      - {name: a, \"bad\\tkey\": 1}\n",
	  "t.yaml:4: steps[0].cgroups[0].bad?key: unknown key" },
	{ HDR "      - {name: a, [k]: 1}\n",
	  "t.yaml:4: steps[0].cgroups[0]: keys must be plain names, got a list" },
	/* duplicate keys */
	{ HDR "      - name: a\n        workers: 1\n        workers: 2\n",
	  "t.yaml:6: steps[0].cgroups[0].workers: duplicate key (first at line 5)" },
	{ "name: t\nname: u\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: name: duplicate key (first at line 1)" },
	/* bad enums */
	{ HDR "      - {name: a, work: spin}\n",
	  "t.yaml:4: steps[0].cgroups[0].work: unknown work type 'spin' (expected cpu_spin, yield_heavy, "
	  "mixed, io_sync, bursty, pipe_io, futex_ping_pong, futex_fan_out, cache_pressure, "
	  "cache_yield, cache_pipe, fan_out_compute, sequence, fork_exit, nice_sweep, affinity_churn, "
	  "policy_churn, page_fault_churn, mutex_contention)" },
	{ HDR "      - {name: a, work: {spin: {}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work: unknown work type 'spin'" },
	{ HDR "      - {name: a, work: sequence}\n",
	  "t.yaml:4: steps[0].cgroups[0].work: sequence needs its phases: {sequence: {phases: "
	  "[{work: cpu_spin, ms: 50}, {work: sleep, ms: 50}]}}" },
	{ HDR "      - {name: a, work: {bursty: {}, mixed: {}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work: expected a work type or a one-key mapping" },
	{ HDR "      - {name: a, cpuset: {}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset: expected one of exact, disjoint, llc" },
	{ HDR "      - {name: a, cpuset: {llc: 0,\n          exact: [1]}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset: give only one of exact, disjoint, llc" },
	{ "name: t\nsteps:\n  - cgroups: [{name: a}]\n    hold: {}\n",
	  "t.yaml:4: steps[0].hold: expected one of frac, fixed_ms" },
	/* missing required fields */
	{ HDR "      - {workers: 2}\n", "t.yaml:4: steps[0].cgroups[0].name: missing (required)" },
	{ "steps: [{cgroups: [{name: a}]}]\n", "t.yaml:1: name: missing (required)" },
	{ "name: t\n", "t.yaml:1: steps: missing (required)" },
	{ "name: t\nsteps:\n  - hold: {frac: 1}\n", "t.yaml:3: steps[0].cgroups: missing (required)" },
	{ HDR "      - {name: a, cpuset: {disjoint: {of: 2}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.disjoint.index: missing (required)" },
	{ HDR "      - {name: a, cpuset: {disjoint: {index: 0}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.disjoint.of: missing (required)" },
	/* out of range and invalid values */
	{ HDR "      - {name: a, workers: 257}\n",
	  "t.yaml:4: steps[0].cgroups[0].workers: '257' is out of range (0..256)" },
	{ HDR "      - {name: a, workers: -1}\n",
	  "t.yaml:4: steps[0].cgroups[0].workers: '-1' is out of range (0..256)" },
	{ HDR "      - {name: a, workers: 99999999999999999999999999}\n",
	  "t.yaml:4: steps[0].cgroups[0].workers: '99999999999999999999999999' is out of range" },
	{ HDR "      - {name: a, workers: 3, work: pipe_io}\n",
	  "t.yaml:4: steps[0].cgroups[0].workers: pipe_io needs an even number of workers, got 3 (it "
	  "works in pairs)" },
	{ HDR "      - {name: a, workers: 4, work: futex_fan_out}\n",
	  "t.yaml:4: steps[0].cgroups[0].workers: futex_fan_out works in groups of fan_out + 1 (5: one "
	  "waker, 4 waiters): needs a multiple of 5 workers, got 4" },
	{ HDR "      - {name: a, workers: 4, work: {fan_out_compute: {fan_out: 2}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].workers: fan_out_compute works in groups of fan_out + 1 (3: "
	  "one waker, 2 waiters): needs a multiple of 3 workers, got 4" },
	{ HDR "      - {name: a, workers: 3, work: futex_ping_pong}\n",
	  "t.yaml:4: steps[0].cgroups[0].workers: futex_ping_pong needs an even number of workers, got 3" },
	{ HDR "      - name: a\n        work: cache_pipe\n        workers: 1\n",
	  "t.yaml:6: steps[0].cgroups[0].workers: cache_pipe needs an even number of workers, got 1" },
	{ HDR "      - {name: a, workers: 6, work: mutex_contention}\n",
	  "t.yaml:4: steps[0].cgroups[0].workers: mutex_contention works in groups of contenders (4) "
	  "sharing a mutex: needs a multiple of 4 workers, got 6" },
	{ HDR "      - {name: a, work: {futex_fan_out: {fan_out: 0}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.futex_fan_out.fan_out: '0' is out of range (1..255)" },
	{ HDR "      - {name: a, work: {fan_out_compute: {fan_out: 256}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.fan_out_compute.fan_out: '256' is out of range (1..255)" },
	{ HDR "      - {name: a, work: {cache_pressure: {size_kb: 0}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.cache_pressure.size_kb: '0' is out of range (1..65536)" },
	{ HDR "      - {name: a, work: {cache_yield: {size_kb: 65537}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.cache_yield.size_kb: '65537' is out of range (1..65536)" },
	{ HDR "      - {name: a, work: {cache_pressure: {stride: 0}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.cache_pressure.stride: '0' is out of range (1..65536)" },
	{ HDR "      - {name: a, work: {cache_pressure: {size_kb: 1, stride: 2048}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.cache_pressure.stride: 2048 is larger than the buffer "
	  "(size_kb 1 = 1024 bytes)" },
	{ HDR "      - {name: a, work: {page_fault_churn: {region_kb: 3}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.page_fault_churn.region_kb: '3' is out of range (4..262144)" },
	{ HDR "      - {name: a, work: {page_fault_churn: {region_kb: 262145}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.page_fault_churn.region_kb: '262145' is out of range" },
	{ HDR "      - {name: a, work: {mutex_contention: {contenders: 1}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.mutex_contention.contenders: '1' is out of range (2..256)" },
	{ HDR "      - {name: a, work: {mutex_contention: {contenders: 257}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.mutex_contention.contenders: '257' is out of range (2..256)" },
	{ HDR "      - {name: a, work: {sequence: {}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.sequence.phases: missing (required)" },
	{ HDR "      - {name: a, work: {sequence: {phases: []}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.sequence.phases: expected 1 to 16 phases, got 0" },
	{ HDR "      - {name: a, work: {sequence: {phases: {a: 1}}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.sequence.phases: expected a list of phases, got a mapping" },
	{ HDR "      - {name: a, work: {sequence: {phases: [{work: cpu_spin}]}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.sequence.phases[0].ms: missing (required)" },
	{ HDR "      - {name: a, work: {sequence: {phases: [{ms: 5}]}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.sequence.phases[0].work: missing (required)" },
	{ HDR "      - {name: a, work: {sequence: {phases: [{work: cpu_spin, ms: 0}]}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.sequence.phases[0].ms: '0' is out of range (1..60000)" },
	{ HDR "      - {name: a, work: {sequence: {phases: [{work: cpu_spin, ms: 60001}]}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.sequence.phases[0].ms: '60001' is out of range (1..60000)" },
	{ HDR "      - name: a\n        work:\n          sequence:\n            phases:\n"
	  "              - {work: sleep, ms: 5}\n              - {work: spin, ms: 5}\n",
	  "t.yaml:9: steps[0].cgroups[0].work.sequence.phases[1].work: unknown phase 'spin' (expected "
	  "sleep, cpu_spin, yield_heavy, mixed, io_sync, cache_pressure, cache_yield, fork_exit, "
	  "page_fault_churn)" },
	{ HDR "      - {name: a, work: {sequence: {phases: [{work: pipe_io, ms: 5}]}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.sequence.phases[0].work: pipe_io cannot be a sequence "
	  "phase (expected sleep, cpu_spin," },
	{ HDR "      - {name: a, work: {sequence: {phases: [{work: nice_sweep, ms: 5}]}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.sequence.phases[0].work: nice_sweep cannot be a sequence "
	  "phase" },
	{ HDR "      - {name: a, work: {sequence: {phases: [{work: sequence, ms: 5}]}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.sequence.phases[0].work: sequence cannot be a sequence "
	  "phase" },
	{ HDR "      - {name: a, work: {sequence: {phases: [{work: {cache_pressure: {}}, ms: 5}]}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.sequence.phases[0].work: expected a phase (sleep, "
	  "cpu_spin, yield_heavy, mixed, io_sync, cache_pressure, cache_yield, fork_exit, "
	  "page_fault_churn), got a mapping" },
	{ HDR "      - name: a\n        work:\n          sequence:\n            phases:\n"
	  "              - {work: sleep, ms: 5}\n              - {work: sleep, ms: 5}\n",
	  "t.yaml:8: steps[0].cgroups[0].work.sequence.phases: every phase is a sleep: the workers "
	  "would do no work" },
	{ HDR "      - {name: a, work: {sequence: {phases: [\n"
	  "          {work: sleep, ms: 1}, {work: sleep, ms: 1}, {work: sleep, ms: 1},\n"
	  "          {work: sleep, ms: 1}, {work: sleep, ms: 1}, {work: sleep, ms: 1},\n"
	  "          {work: sleep, ms: 1}, {work: sleep, ms: 1}, {work: sleep, ms: 1},\n"
	  "          {work: sleep, ms: 1}, {work: sleep, ms: 1}, {work: sleep, ms: 1},\n"
	  "          {work: sleep, ms: 1}, {work: sleep, ms: 1}, {work: sleep, ms: 1},\n"
	  "          {work: cpu_spin, ms: 1}, {work: cpu_spin, ms: 1}]}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.sequence.phases: expected 1 to 16 phases, got 17" },
	{ HDR "      - {name: a, work: {bursty: {burst_ms: 0}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.bursty.burst_ms: '0' is out of range (1..60000)" },
	{ HDR "      - {name: a, work: {bursty: {sleep_ms: 60001}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].work.bursty.sleep_ms: '60001' is out of range (0..60000)" },
	{ HDR "      - {name: a, cpuset: {disjoint: {index: 2, of: 2}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.disjoint.index: 2 must be less than of (2)" },
	{ HDR "      - {name: a, cpuset: {disjoint: {index: 0, of: 0}}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.disjoint.of: '0' is out of range (1..256)" },
	{ HDR "      - {name: a, cpuset: {llc: 256}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.llc: '256' is out of range (0..255)" },
	{ HDR "      - {name: a, cpuset: {exact: [256]}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.exact[0]: '256' is out of range (0..255)" },
	{ HDR "      - {name: a, cpuset: {exact: [1, 1]}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.exact[1]: cpu 1 is listed twice" },
	{ HDR "      - {name: a, cpuset: {exact: []}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.exact: the CPU list is empty" },
	{ HDR "      - {name: a, cpuset: {exact: \"3-1\"}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.exact: cpulist '3-1': range 3-1 runs backwards" },
	{ HDR "      - {name: a, cpuset: {exact: \"0-300\"}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.exact: the quoted string '0-300': CPU numbers must be below 256" },
	{ HDR "      - {name: a, cpuset: {exact: \"0,,1\"}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.exact: cpulist '0,,1': expected a CPU number at offset 2" },
	{ HDR "      - {name: a, cpuset: {exact: \"0-\"}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.exact: cpulist '0-': expected a CPU number at offset 2" },
	{ HDR "      - {name: a, cpuset: {exact: \"0;1\"}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.exact: cpulist '0;1': unexpected character at offset 1" },
	{ HDR "      - {name: a, cpuset: {exact: \"\"}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.exact: the CPU list is empty" },
	{ HDR "      - {name: a, cpuset: {exact: \"99999999999\"}}\n",
	  "t.yaml:4: steps[0].cgroups[0].cpuset.exact: cpulist '99999999999': CPU number at offset 0 is not below 8192" },
	{ "name: t\nsteps:\n  - cgroups: [{name: a}]\n    hold: {frac: 0}\n",
	  "t.yaml:4: steps[0].hold.frac: 0 is out of range (0, 1]" },
	{ "name: t\nsteps:\n  - cgroups: [{name: a}]\n    hold: {frac: 1.01}\n",
	  "t.yaml:4: steps[0].hold.frac: 1.01 is out of range (0, 1]" },
	{ "name: t\nsteps:\n  - cgroups: [{name: a}]\n    hold: {fixed_ms: 0}\n",
	  "t.yaml:4: steps[0].hold.fixed_ms: '0' is out of range (1..3600000)" },
	{ "name: t\nsteps:\n  - cgroups: [{name: a}]\n    hold: {fixed_ms: 3600001}\n",
	  "t.yaml:4: steps[0].hold.fixed_ms: '3600001' is out of range (1..3600000)" },
	{ "name: t\nsteps:\n  - cgroups: [{name: a}]\n    hold: {frac: 0.5, fixed_ms: 5}\n",
	  "t.yaml:4: steps[0].hold: give only one of frac, fixed_ms" },
	{ "name: t\nsteps:\n  - cgroups: [{name: a}]\n    hold: {frac: 0.75}\n"
	  "  - cgroups: [{name: a}]\n    hold: {frac: 0.5}\n",
	  "t.yaml:5: steps[1].hold: the hold fractions up to here add up to 1.25" },
	{ "name: t\nchecks: {max_spread: 101}\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: checks.max_spread: 101 is not a number in [0, 100]" },
	{ "name: t\nchecks: {max_gap_ms: -1}\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:2: checks.max_gap_ms: -1 is not a number in [0, 3600000]" },
	{ "name: \"bad name\"\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:1: name: the quoted string 'bad name' is not a valid name" },
	{ "name: ..\nsteps: [{cgroups: [{name: a}]}]\n",
	  "t.yaml:1: name: '..' is not a valid name (. and .. are directory entries)" },
	{ HDR "      - {name: .}\n",
	  "t.yaml:4: steps[0].cgroups[0].name: '.' is not a valid name (. and .. are directory entries)" },
	{ HDR "      - {name: cgroup.procs}\n",
	  "t.yaml:4: steps[0].cgroups[0].name: 'cgroup.procs' is not a valid name (cgroup.*, cpu.*, "
	  "memory.* and the like are cgroupfs interface files)" },
	{ HDR "      - {name: cpu.max}\n",
	  "t.yaml:4: steps[0].cgroups[0].name: 'cpu.max' is not a valid name (cgroup.*" },
	{ HDR "      - {name: a/b}\n",
	  "t.yaml:4: steps[0].cgroups[0].name: 'a/b' is not a valid name (1 to 63 of A-Z a-z 0-9 _ . -)" },
	{ HDR "      - {name: \"\"}\n",
	  "t.yaml:4: steps[0].cgroups[0].name: the quoted string '' is not a valid name" },
	{ HDR "      - {name: "
	  "a234567890123456789012345678901234567890123456789012345678901234}\n",
	  "t.yaml:4: steps[0].cgroups[0].name: 'a2345678901234567890123456789012345678901234...' is not a valid name" },
	{ HDR "      - {name: a}\n      - {name: b}\n      - {name: a}\n",
	  "t.yaml:6: steps[0].cgroups[2].name: 'a' is already the name of cgroups[0]" },
	{ "name: t\nsteps:\n  - cgroups: []\n",
	  "t.yaml:3: steps[0].cgroups: expected 1 to 64 cgroups, got 0" },
	/* malformed YAML */
	{ "name: t\nsteps: [\n", "t.yaml:3: YAML syntax error: did not find expected node content "
	  "(while parsing a flow node at line 3)" },
	{ "name: t\n  bad: indent\n", "t.yaml:2: YAML syntax error: mapping values are not allowed" },
	{ "name: *nowhere\n", "t.yaml:1: YAML syntax error: found undefined alias" },
	{ "name: t\nsteps: [{cgroups: [{name: a}]}]\n---\nname: u\n",
	  "t.yaml:3: a second YAML document: a scenario file holds one" },
	{ "name: t\n\tsteps: x\n", "t.yaml:2: YAML syntax error: found a tab character that "
	  "violates indentation (while scanning a plain scalar at line 1)" },
	{ "name: \"t\x01\"\n", "t.yaml:1: YAML syntax error: control characters are not allowed" },
	/* empty */
	{ "", "t.yaml:1: empty file" },
	{ "# only a comment\n\n", "t.yaml:1: empty file" },
	{ "---\n", "t.yaml:1: empty file" },
	{ "~\n", "t.yaml:1: empty file" },
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		parse_err(errors[i].yaml, errors[i].want);
}

static void test_bounds(void **state)
{
	size_t cap = 2 * KT_SCENARIO_MAX_BYTES, len;
	char *big = malloc(cap + 1);
	struct kt_scenario *s;
	int i;

	(void)state;
	assert_non_null(big);
	/* 64 steps pass, 65 do not. */
	len = (size_t)sprintf(big, "name: t\nsteps:\n");
	for (i = 0; i < 64; i++)
		len += (size_t)sprintf(big + len, "  - {cgroups: [{name: a}], hold: {fixed_ms: 1}}\n");
	s = parse_ok(big);
	kt_scenario_free(s);
	sprintf(big + len, "  - {cgroups: [{name: a}]}\n");
	parse_err(big, "t.yaml:3: steps: expected at most 64 steps, got 65");

	/* 64 cgroups pass, 65 do not. */
	len = (size_t)sprintf(big, "name: t\nsteps:\n  - cgroups:\n");
	for (i = 0; i < 64; i++)
		len += (size_t)sprintf(big + len, "      - {name: c%d, workers: 256}\n", i);
	s = parse_ok(big);
	kt_scenario_free(s);
	sprintf(big + len, "      - {name: c64}\n");
	parse_err(big, "t.yaml:4: steps[0].cgroups: expected 1 to 64 cgroups, got 65");

	/* 1 MiB passes the size gate (a valid file padded with a comment). */
	len = (size_t)sprintf(big, "name: t\nsteps: [{cgroups: [{name: a}]}]\n#");
	memset(big + len, 'x', KT_SCENARIO_MAX_BYTES - len - 1);
	big[KT_SCENARIO_MAX_BYTES - 1] = '\n';
	big[KT_SCENARIO_MAX_BYTES] = 0;
	s = parse_ok(big);
	kt_scenario_free(s);
	parse_err_len(big, KT_SCENARIO_MAX_BYTES + 1, "t.yaml: 1048577 bytes is more than the limit of 1048576");

	/* Deep nesting and a self-referencing alias are handled, not crashed on. */
	len = (size_t)sprintf(big, "name: t\nsteps: ");
	for (i = 0; i < 100000; i++)
		big[len++] = '[';
	for (i = 0; i < 100000; i++)
		big[len++] = ']';
	big[len] = 0;
	parse_err(big, "t.yaml:2: nested deeper than 16 levels");
	len = (size_t)sprintf(big, "name: t\nsteps: ");
	for (i = 0; i < (int)KT_SCENARIO_MAX_BYTES / 4 - 8; i++)
		len += (size_t)sprintf(big + len, "{a: ");
	parse_err_len(big, len, "t.yaml:2: nested deeper than 16 levels");
	len = (size_t)sprintf(big, "name: t\nsteps:\n");
	for (i = 0; i < 65; i++)
		len += (size_t)sprintf(big + len, "  - &a%d {cgroups: [{name: a}], hold: {fixed_ms: 1}}\n", i);
	parse_err(big, "t.yaml:67: more than 64 anchors");
	parse_err("name: t\nsteps: &a [*a]\n", "t.yaml:2: steps[0]: expected a mapping, got a list");
	parse_err("name: t\nsteps:\n  - &s {cgroups: [*s]}\n",
		  "t.yaml:3: steps[0].cgroups[0].cgroups: unknown key");
	/* Embedded NUL in the input. */
	parse_err_len("name: t\0\n", 9, "t.yaml:1: YAML syntax error: control characters are not allowed");
	free(big);
}

/* ---- per-run rules ---- */

static void test_entry_spec_rules(void **state)
{
	struct kt_scenario *s = parse_ok("name: p\nsteps:\n  - cgroups:\n      - {name: pp, work: pipe_io}\n");
	Ktstr__EntrySpec *es;

	(void)state;
	spec_err(s, 1000, 3, 0, "scenario 'p': steps[0] cgroup 'pp': pipe_io needs an even number of "
		 "workers, got 3 (it works in pairs) with the run's default count; give the cgroup its "
		 "own workers:");
	spec_err(s, 0, 2, 0, "scenario 'p': duration 0 ms leaves steps[0], which holds for a fraction of it, empty");
	spec_err(s, 86400001, 2, 0, "duration 86400001 ms is out of range");
	spec_err(s, 1000, 0, 0, "scenario 'p': default worker count 0 is out of range (1..256)");
	spec_err(s, 1000, 257, 0, "default worker count 257 is out of range");
	spec_err(s, 1000, 2, 1000, "its steps hold for 1000 ms, which does not end before the guest watchdog");
	es = spec_of(s, 1000, 4, 1001);
	assert_int_equal(cg_at(es, 0, 0)->workers, 4);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);

	/* A zero-length scenario: no steps, duration 0, still a valid spec. */
	s = parse_ok("name: z\nsteps: []\n");
	es = spec_of(s, 0, 2, 1000);
	assert_int_equal(es->n_steps, 0);
	assert_int_equal(es->duration_ms, 0);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);
}

/* The guest's limits hold on the host, before a guest boots. */
static void test_guest_limits(void **state)
{
	char *y = calloc(1, 8192);
	struct kt_scenario *s;
	size_t len;

	(void)state;
	assert_non_null(y);
	/* 5 x 256 workers in one step: more than 1024. */
	len = (size_t)sprintf(y, "name: big\nsteps:\n  - cgroups:\n");
	for (int i = 0; i < 5; i++)
		len += (size_t)sprintf(y + len, "      - {name: c%d, workers: 256}\n", i);
	s = parse_ok(y);
	spec_err(s, 1000, 2, 0, "scenario 'big': step 0: 1280 workers exceed 1024 per step");
	kt_scenario_free(s);
	/* 4 x 256 per step is fine; 5 such steps are 5120, more than 4096. */
	len = (size_t)sprintf(y, "name: many\nsteps:\n");
	for (int st = 0; st < 5; st++) {
		len += (size_t)sprintf(y + len, "  - cgroups:\n");
		for (int i = 0; i < 4; i++)
			len += (size_t)sprintf(y + len, "      - {name: c%d, workers: 256}\n", i);
	}
	s = parse_ok(y);
	spec_err(s, 1000, 2, 0, "scenario 'many': 5120 workers in all exceed 4096");
	kt_scenario_free(s);
	/* The default worker count counts too: 64 cgroups x 17 > 1024. */
	len = (size_t)sprintf(y, "name: dflt\nsteps:\n  - cgroups:\n");
	for (int i = 0; i < 64; i++)
		len += (size_t)sprintf(y + len, "      - {name: c%d}\n", i);
	s = parse_ok(y);
	spec_of_free(s, 1000, 16);
	spec_err(s, 1000, 17, 0, "step 0: 1088 workers exceed 1024 per step");
	kt_scenario_free(s);
	/* A step holds at most an hour, also as a fraction of a long run. */
	s = parse_ok("name: long\nsteps: [{cgroups: [{name: a}]}]\n");
	spec_of_free(s, 3600000, 2);
	spec_err(s, 3600001, 2, 0, "step 0: hold of 3600001 ms exceeds 3600000");
	kt_scenario_free(s);
	/* A list form that cannot hold distinct CPUs. */
	len = (size_t)sprintf(y, "name: l\nsteps: [{cgroups: [{name: a, cpuset: {exact: [");
	for (int i = 0; i < 257; i++)
		len += (size_t)sprintf(y + len, "%s%d", i ? "," : "", i % 256);
	sprintf(y + len, "]}}]}]\n");
	parse_err(y, "t.yaml:2: steps[0].cgroups[0].cpuset.exact: 257 CPUs listed, more than there "
		  "can be (256)");
	free(y);
}

static void test_fits(void **state)
{
	struct kt_scenario *s = parse_ok(
		"name: f\nsteps:\n  - cgroups:\n"
		"      - {name: a, cpuset: {disjoint: {index: 3, of: 4}}}\n"
		"      - {name: b, cpuset: {llc: 1}}\n"
		"      - {name: c, cpuset: {exact: \"0,7\"}}\n");
	struct kt_topo t;
	struct kt_err err;

	(void)state;
	assert_int_equal(kt_topo_parse("1n2l2c2t", &t, &err), 0);
	assert_int_equal(kt_scenario_fits(s, &t, &err), 0);
	assert_int_equal(kt_topo_parse("1n2l2c1t", &t, &err), 0);
	assert_int_equal(kt_scenario_fits(s, &t, &err), -1);
	assert_string_equal(err.msg, "scenario 'f': steps[0] cgroup 'c': cpuset does not fit topology "
			    "1n2l2c1t (4 CPUs, 2 LLCs): cpuset exact(0,7): CPU 7 is not in the guest "
			    "topology of 4 CPUs (0-3) in 2 LLCs");
	assert_int_equal(kt_topo_parse("1n1l4c2t", &t, &err), 0);
	assert_int_equal(kt_scenario_fits(s, &t, &err), -1);
	assert_non_null(strstr(err.msg, "cgroup 'b'"));
	assert_non_null(strstr(err.msg, "LLC 1 is out of range"));
	assert_int_equal(kt_topo_parse("1n1l3c1t", &t, &err), 0);
	assert_int_equal(kt_scenario_fits(s, &t, &err), -1);
	assert_non_null(strstr(err.msg, "cgroup 'a'"));
	assert_non_null(strstr(err.msg, "would leave some empty"));
	kt_scenario_free(s);
}

/* ---- the catalog ---- */

static const Ktstr__CgroupSpec *find_cg(const Ktstr__EntrySpec *es, const char *name)
{
	for (size_t i = 0; i < es->n_steps; i++)
		for (size_t j = 0; j < es->steps[i]->n_cgroups; j++)
			if (!strcmp(es->steps[i]->cgroups[j]->name, name))
				return es->steps[i]->cgroups[j];
	fail_msg("no cgroup %s", name);
	return NULL;
}

static void test_catalog_all(void **state)
{
	struct kt_topo two, two_llcs;
	struct kt_err err;

	(void)state;
	assert_int_equal(kt_topo_parse("1n1l2c1t", &two, &err), 0);
	assert_int_equal(kt_topo_parse("1n2l1c1t", &two_llcs, &err), 0);
	assert_true(kt_catalog_len >= 6);
	for (size_t i = 0; i < kt_catalog_len; i++) {
		struct kt_scenario *s = NULL;
		Ktstr__EntrySpec *es;
		const char *d;

		if (kt_scenario_load(kt_catalog[i].name, &s, &err))
			fail_msg("catalog %s: %s", kt_catalog[i].name, err.msg);
		assert_string_equal(kt_scenario_name(s), kt_catalog[i].name);
		d = kt_scenario_description(s);
		assert_true(strlen(d) > 10);
		/* Valid on a 2-CPU guest with the default run settings: one LLC,
		 * or two for the scenarios about LLCs. */
		if (kt_scenario_fits(s, &two, &err) && kt_scenario_fits(s, &two_llcs, &err))
			fail_msg("catalog %s: %s", kt_catalog[i].name, err.msg);
		es = spec_of(s, 2000, 2, 60000);
		assert_true(es->n_steps >= 1);
		for (size_t j = 0; j < es->n_steps; j++)
			for (size_t k = 0; k < es->steps[j]->n_cgroups; k++)
				assert_true(es->steps[j]->cgroups[k]->workers >= 1);
		ktstr__entry_spec__free_unpacked(es, NULL);
		kt_scenario_free(s);
	}
}

static Ktstr__EntrySpec *catalog_spec(const char *name, struct kt_scenario **sp)
{
	struct kt_err err;

	if (kt_scenario_load(name, sp, &err))
		fail_msg("%s: %s", name, err.msg);
	return spec_of(*sp, 2000, 2, 60000);
}

static void test_catalog_content(void **state)
{
	struct kt_scenario *s;
	Ktstr__EntrySpec *es;

	(void)state;
	es = catalog_spec("steady", &s);
	assert_int_equal(es->n_steps, 1);
	assert_int_equal(es->steps[0]->n_cgroups, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(cg_at(es, 0, i)->workers, 2);
		assert_int_equal(cg_at(es, 0, i)->work->type, KTSTR__WORK_TYPE__WORK_CPU_SPIN);
		assert_int_equal(cg_at(es, 0, i)->cpuset->kind, KTSTR__CPUSET_KIND__CPUSET_NONE);
	}
	assert_true(es->steps[0]->hold->frac == 1.0);
	assert_false(kt_scenario_checks(s)->isolation);
	assert_true(kt_scenario_checks(s)->not_starved);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);

	es = catalog_spec("mixed-load", &s);
	assert_int_equal(find_cg(es, "spin")->work->type, KTSTR__WORK_TYPE__WORK_CPU_SPIN);
	assert_int_equal(find_cg(es, "mixed")->work->type, KTSTR__WORK_TYPE__WORK_MIXED);
	assert_int_equal(find_cg(es, "io")->work->type, KTSTR__WORK_TYPE__WORK_IO_SYNC);
	assert_int_equal(find_cg(es, "bursty")->work->type, KTSTR__WORK_TYPE__WORK_BURSTY);
	assert_int_equal(find_cg(es, "bursty")->work->burst_ms, 50);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);

	es = catalog_spec("cpuset-disjoint", &s);
	assert_int_equal(es->steps[0]->n_cgroups, 2);
	for (uint32_t i = 0; i < 2; i++) {
		const Ktstr__CpusetSpec *cs = cg_at(es, 0, i)->cpuset;

		assert_int_equal(cs->kind, KTSTR__CPUSET_KIND__CPUSET_DISJOINT);
		assert_int_equal(cs->index, i);
		assert_int_equal(cs->of, 2);
	}
	assert_true(kt_scenario_checks(s)->isolation);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);

	es = catalog_spec("pipe-pairs", &s);
	assert_int_equal(es->steps[0]->n_cgroups, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(cg_at(es, 0, i)->work->type, KTSTR__WORK_TYPE__WORK_PIPE_IO);
		assert_int_equal(cg_at(es, 0, i)->workers % 2, 0);
	}
	ktstr__entry_spec__free_unpacked(es, NULL);
	/* Its counts are fixed, so an odd run default does not break it. */
	es = spec_of(s, 2000, 3, 0);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);

	es = catalog_spec("yield-storm", &s);
	assert_int_equal(find_cg(es, "yield_0")->work->type, KTSTR__WORK_TYPE__WORK_YIELD_HEAVY);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);

	/* The grouped types in the catalog come in whole groups. */
	es = catalog_spec("wake-chains", &s);
	assert_int_equal(find_cg(es, "fanout")->work->type, W(FUTEX_FAN_OUT));
	assert_int_equal(find_cg(es, "fanout")->workers % (find_cg(es, "fanout")->work->fan_out + 1),
			 0);
	assert_int_equal(find_cg(es, "forkjoin")->work->type, W(FAN_OUT_COMPUTE));
	assert_int_equal(find_cg(es, "mutex")->workers % find_cg(es, "mutex")->work->contenders, 0);
	assert_int_equal(find_cg(es, "pingpong")->work->type, W(FUTEX_PING_PONG));
	assert_int_equal(find_cg(es, "cachepipe")->work->type, W(CACHE_PIPE));
	assert_true(kt_scenario_checks(s)->max_spread == 50);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);

	es = catalog_spec("churn", &s);
	assert_int_equal(find_cg(es, "nice")->workers, 1);
	assert_int_equal(find_cg(es, "policy")->work->type, W(POLICY_CHURN));
	assert_int_equal(find_cg(es, "phases")->work->n_phases, 4);
	assert_true(find_cg(es, "phases")->work->phases[1]->sleep);
	assert_int_equal(find_cg(es, "faults")->work->region_kb, 4096);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);

	es = catalog_spec("steady-then-mixed", &s);
	assert_int_equal(es->n_steps, 2);
	assert_true(es->steps[0]->hold->frac == 0.5);
	assert_true(es->steps[1]->hold->frac == 0.5);
	assert_int_equal(cg_at(es, 1, 1)->work->type, KTSTR__WORK_TYPE__WORK_PIPE_IO);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);
}

/* ---- loading files and names ---- */

static void test_load(void **state)
{
	struct kt_scenario *s = NULL;
	struct kt_err err;
	const char *path = "test_scenario_tmp.yaml";
	FILE *f;

	(void)state;
	assert_int_equal(kt_scenario_load("no-such-scenario", &s, &err), -1);
	assert_non_null(strstr(err.msg, "scenario 'no-such-scenario': not in the catalog ("));
	assert_non_null(strstr(err.msg, "ktstr-run --list shows"));

	assert_int_equal(kt_scenario_load("./missing.yaml", &s, &err), -1);
	assert_string_equal(err.msg, "scenario file './missing.yaml': No such file or directory");

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("name: fromfile\nsteps:\n  - cgroups:\n      - {name: a, workers: x}\n", f);
	fclose(f);
	assert_int_equal(kt_scenario_load(path, &s, &err), -1);
	assert_string_equal(err.msg, "test_scenario_tmp.yaml:4: steps[0].cgroups[0].workers: "
			    "expected an integer, got 'x'");

	f = fopen(path, "w");
	fputs("name: fromfile\nsteps:\n  - cgroups:\n      - {name: a}\n", f);
	fclose(f);
	assert_int_equal(kt_scenario_load(path, &s, &err), 0);
	assert_string_equal(kt_scenario_name(s), "fromfile");
	kt_scenario_free(s);

	/* Oversized files are refused before parsing. */
	f = fopen(path, "w");
	for (size_t i = 0; i <= KT_SCENARIO_MAX_BYTES; i += 8)
		fputs("# xxxxx\n", f);
	fclose(f);
	assert_int_equal(kt_scenario_load(path, &s, &err), -1);
	assert_string_equal(err.msg, "scenario file 'test_scenario_tmp.yaml': larger than the "
			    "limit of 1048576 bytes");
	remove(path);

	/* Catalog errors are labelled with the catalog file. */
	assert_int_equal(kt_scenario_parse("name: [", 7, "catalog/x.yaml", &s, &err), -1);
	assert_non_null(strstr(err.msg, "catalog/x.yaml:2: YAML syntax error"));
	kt_scenario_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_example),
		cmocka_unit_test(test_work_forms),
		cmocka_unit_test(test_new_work_forms),
		cmocka_unit_test(test_group_defaults),
		cmocka_unit_test(test_cpuset_forms),
		cmocka_unit_test(test_hold_forms),
		cmocka_unit_test(test_checks_forms),
		cmocka_unit_test(test_yaml_features),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_entry_spec_rules),
		cmocka_unit_test(test_guest_limits),
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_catalog_all),
		cmocka_unit_test(test_catalog_content),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
