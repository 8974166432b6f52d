/* The host's verdict on results of scenarios with ops (kt_entry_classify):
 * cgroups added by ops and workers spawned later are expected, a result
 * that does not account for them is not judged, and payloads decide after
 * the checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "cpuset.h"
#include "entry.h"
#include "util.h"

struct fix {
	struct kt_entry_req req;
	struct kt_scenario *sc;
	Ktstr__EntrySpec *spec;
	struct kt_entry_result r;
	Ktstr__Hello hello;
};

static const char yaml[] =
	"name: t\nbackdrop: [{name: bg, workers: 1}]\nsteps:\n"
	"  - ops:\n"
	"      - {add_cgroup: {name: a, cpuset: {exact: [1]}, workers: 1}}\n"
	"      - {spawn: {cgroup: bg, workers: 2}}\n"
	"      - {run_payload: {name: p, path: /bin/echo, metrics: [{path: ops, min: 10}]}}\n"
	"      - {wait_payload: {name: p, timeout_ms: 100}}\n"
	"    cgroups: [{name: c, workers: 1}]\n";

static void add_cg(Ktstr__ScenarioResult *res, const char *name, uint32_t step, uint32_t cpu0,
		   uint32_t ncpu, size_t workers)
{
	Ktstr__CgroupStats *cs = kt_xcalloc(1, sizeof(*cs));

	ktstr__cgroup_stats__init(cs);
	cs->name = kt_xstrdup(name);
	cs->step = step;
	cs->cpus = kt_xcalloc(ncpu, sizeof(uint32_t));
	for (uint32_t i = 0; i < ncpu; i++)
		cs->cpus[cs->n_cpus++] = cpu0 + i;
	cs->workers = kt_xcalloc(workers, sizeof(*cs->workers));
	for (size_t i = 0; i < workers; i++) {
		Ktstr__WorkerStats *w = kt_xcalloc(1, sizeof(*w));

		ktstr__worker_stats__init(w);
		w->work_units = 1000;
		w->cpu_ns = w->wall_ns = 1000000000;
		w->max_gap_ns = 1000000;
		w->cpus_seen = kt_xcalloc(1, sizeof(uint32_t));
		w->cpus_seen[w->n_cpus_seen++] = cpu0;
		cs->workers[cs->n_workers++] = w;
	}
	res->cgroups = kt_xrealloc(res->cgroups, (res->n_cgroups + 1) * sizeof(*res->cgroups));
	res->cgroups[res->n_cgroups++] = cs;
}

static void set_payload(Ktstr__ScenarioResult *res, const char *output)
{
	Ktstr__PayloadResult *p = kt_xcalloc(1, sizeof(*p));

	ktstr__payload_result__init(p);
	p->name = kt_xstrdup("p");
	p->output = kt_xstrdup(output);
	res->payloads = kt_xcalloc(1, sizeof(*res->payloads));
	res->payloads[res->n_payloads++] = p;
}

/* A run of YAML on 1n1l2c1t that completed with RES (owned). */
static struct fix *fixture(Ktstr__ScenarioResult *res)
{
	struct fix *f = kt_xcalloc(1, sizeof(*f));
	struct kt_err e;
	uint8_t *buf;
	size_t len;

	assert_int_equal(kt_topo_parse("1n1l2c1t", &f->req.topo, &e), 0);
	if (kt_scenario_parse(yaml, strlen(yaml), "t.yaml", &f->sc, &e) ||
	    kt_scenario_entry_spec(f->sc, 1000, 2, 0, &buf, &len, &e))
		fail_msg("%s", e.msg);
	f->spec = ktstr__entry_spec__unpack(NULL, len, buf);
	free(buf);
	f->req.scenario = f->sc;
	ktstr__hello__init(&f->hello);
	f->r.vm.contact = true;
	f->r.hello = &f->hello;
	f->r.gtopo = kt_cpuset_topo_model(&f->req.topo);
	f->r.result = res;
	res->ok = true;
	return f;
}

static void done(struct fix *f)
{
	ktstr__guest_topology__free_unpacked(f->r.gtopo, NULL);
	ktstr__scenario_result__free_unpacked(f->r.result, NULL);
	free(f->r.checks);
	ktstr__entry_spec__free_unpacked(f->spec, NULL);
	kt_scenario_free(f->sc);
	free(f);
}

static Ktstr__ScenarioResult *good(const char *payload_output)
{
	Ktstr__ScenarioResult *res = kt_xcalloc(1, sizeof(*res));

	ktstr__scenario_result__init(res);
	add_cg(res, "bg", 0, 0, 2, 3);  /* 1 + spawn 2 */
	add_cg(res, "a", 0, 1, 1, 1);
	add_cg(res, "c", 0, 0, 2, 1);
	if (payload_output)
		set_payload(res, payload_output);
	return res;
}

static void expect(struct fix *f, enum kt_status st, const char *text)
{
	kt_entry_classify(&f->req, f->spec, &f->r);
	if (f->r.status != st || !strstr(f->r.message, text))
		fail_msg("status %s '%s', expected %s '%s'", kt_status_name(f->r.status),
			 f->r.message, kt_status_name(st), text);
	done(f);
}

static void test_ops_result(void **state)
{
	Ktstr__ScenarioResult *res;

	(void)state;
	expect(fixture(good("{\"ops\": 12}")), KT_PASS, "all 4 checks passed; 1 payloads passed");
	/* The op's cgroup on CPUs other than its cpuset: not a verdict. */
	res = good("{\"ops\": 12}");
	res->cgroups[1]->cpus[0] = 0;
	expect(fixture(res), KT_INFRA, "cgroup 'a': its cpuset resolves to 1 but the guest ran it on 0");
	/* The spawned workers must be there. */
	res = good("{\"ops\": 12}");
	for (; res->cgroups[0]->n_workers > 1; res->cgroups[0]->n_workers--)
		ktstr__worker_stats__free_unpacked(
			res->cgroups[0]->workers[res->cgroups[0]->n_workers - 1], NULL);
	expect(fixture(res), KT_INFRA, "cgroup 'bg': guest agent reported 1 workers of 3");
	res = good("{\"ops\": 12}");
	ktstr__cgroup_stats__free_unpacked(res->cgroups[2], NULL);
	res->n_cgroups = 2;
	expect(fixture(res), KT_INFRA, "reported 2 cgroups, the scenario has 3");
	/* Payloads after the checks: out of range fails, unreadable errs. */
	expect(fixture(good("{\"ops\": 2}")), KT_FAIL, "metric ops = 2 is outside [10, inf]");
	expect(fixture(good("ops 12")), KT_ERROR, "payload 'p': metric ops: payload output is not JSON");
	expect(fixture(good(NULL)), KT_ERROR, "payload 'p': no result reported");
	/* A failed check is reported before payloads. */
	res = good("{\"ops\": 2}");
	res->cgroups[1]->workers[0]->work_units = 0;
	expect(fixture(res), KT_FAIL, "not_starved.work");
}

/* Under TCG the guest watchdog makes room for waits scaled 10 times. */
static void test_tcg_watchdog(void **state)
{
	Ktstr__EntrySpec es = KTSTR__ENTRY_SPEC__INIT;
	Ktstr__StepSpec st = KTSTR__STEP_SPEC__INIT, *stp = &st;
	Ktstr__Op op[2] = { KTSTR__OP__INIT, KTSTR__OP__INIT }, *ops[2] = { &op[0], &op[1] };
	Ktstr__WaitPayload w = KTSTR__WAIT_PAYLOAD__INIT;

	(void)state;
	assert_int_equal(kt_entry_tcg_watchdog(&es, 30000), 30000);
	w.name = "p";
	w.timeout_ms = 5000;
	op[0].op_case = KTSTR__OP__OP_WAIT_PAYLOAD;
	op[0].wait_payload = &w;
	op[1].op_case = KTSTR__OP__OP_KILL_PAYLOAD;
	op[1].kill_payload = "q";
	st.ops = ops;
	st.n_ops = 2;
	es.steps = &stp;
	es.n_steps = 1;
	assert_int_equal(kt_entry_tcg_watchdog(&es, 30000), 30000 + 9 * 5000);
	/* Bounded: a day at most, never below what it was given. */
	w.timeout_ms = 3600000;
	assert_int_equal(kt_entry_tcg_watchdog(&es, 30000), 30000 + 9 * 3600000);
	assert_int_equal(kt_entry_tcg_watchdog(&es, 80000000), KT_TCG_WD_MAX_MS);
	assert_int_equal(kt_entry_tcg_watchdog(&es, KT_TCG_WD_MAX_MS + 5), KT_TCG_WD_MAX_MS + 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops_result),
		cmocka_unit_test(test_tcg_watchdog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
