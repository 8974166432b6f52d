/* The scenario language's issue-5 constructs: backdrop, ops, loop holds,
 * the cpuset kinds numa/range/overlap, affinities, policies and nice,
 * nested cgroups, payloads with metric checks; each accepted with what it
 * means in the EntrySpec, and rejected with its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "ktstr.pb-c.h"
#include "scenario.h"

static struct kt_scenario *parse_ok(const char *yaml)
{
	struct kt_scenario *s = NULL;
	struct kt_err err = { "" };

	if (kt_scenario_parse(yaml, strlen(yaml), "t.yaml", &s, &err))
		fail_msg("unexpected error: %s\n--- input:\n%s", err.msg, yaml);
	return s;
}

/* The error for YAML must start with WANT. */
static void parse_err(const char *yaml, const char *want)
{
	struct kt_scenario *s = NULL;
	struct kt_err err = { "" };

	if (!kt_scenario_parse(yaml, strlen(yaml), "t.yaml", &s, &err)) {
		kt_scenario_free(s);
		fail_msg("expected an error starting with \"%s\"\n--- input:\n%s", want, yaml);
	}
	assert_null(s);
	if (strncmp(err.msg, want, strlen(want)))
		fail_msg("error \"%s\"\n  does not start with \"%s\"", err.msg, want);
}

/* The EntrySpec of S for 1000 ms with 2 default workers; the guest's
 * rules accept it. */
static Ktstr__EntrySpec *spec_of(const struct kt_scenario *s)
{
	struct kt_err err = { "" };
	Ktstr__EntrySpec *es;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (kt_scenario_entry_spec(s, 1000, 2, 0, &buf, &len, &err))
		fail_msg("entry_spec: %s", err.msg);
	es = ktstr__entry_spec__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(es);
	if (kt_spec_validate(es, &err))
		fail_msg("guest would refuse: %s", err.msg);
	return es;
}

static const char full[] =
	"name: full\n"
	"backdrop:\n"
	"  - {name: bg, workers: 1, work: yield_heavy}\n"
	"  - {name: outer, cpuset: {range: {start: 0.0, end: 0.5}}, workers: 1}\n"
	"steps:\n"
	"  - ops:\n"
	"      - {add_cgroup: {name: a, cpuset: {llc: 0}, workers: 2, work: cpu_spin}}\n"
	"      - {add_cgroup: {name: b, parent: outer, workers: 2}}\n"
	"      - {set_cpuset: {cgroup: a, cpuset: {disjoint: {index: 0, of: 2}}}}\n"
	"      - {clear_cpuset: a}\n"
	"      - {swap_cpusets: {a: a, b: bg}}\n"
	"      - {spawn: {cgroup: a, workers: 2, work: mixed, affinity: single_cpu, policy: batch}}\n"
	"      - {stop_cgroup: a}\n"
	"      - {set_affinity: {cgroup: a, kind: {exact: [1]}}}\n"
	"      - {spawn_host: {cgroup: b, workers: 1, work: cpu_spin}}\n"
	"      - {move_all_tasks: {from: a, to: b}}\n"
	"      - {run_payload: {name: bench, path: /usr/bin/true, args: [-x], exit_code: 0,\n"
	"                       cgroup: a, metrics: [{path: summary.ops_per_sec, min: 1000},\n"
	"                                            {path: x.y, max: 5}, {path: z}]}}\n"
	"      - {wait_payload: {name: bench, timeout_ms: 5000}}\n"
	"      - {snapshot: after_setup}\n"
	"      - {watch_snapshot: bss.stall}\n"
	"      - {run_payload: {name: p2, path: /usr/bin/true}}\n"
	"      - {kill_payload: p2}\n"
	"      - {remove_cgroup: a}\n"
	"    cgroups:\n"
	"      - name: cg_0\n"
	"        parent: outer\n"
	"        cpuset: {overlap: {index: 0, of: 2, frac: 0.5}}\n"
	"        workers: 2\n"
	"        work: {bursty: {burst_ms: 50}}\n"
	"        affinity: {random_subset: {count: 1}}\n"
	"        policy: normal\n"
	"        nice: -5\n"
	"      - {name: cg_1, cpuset: {numa: 0}, policy: {fifo: 10}, affinity: {cross_cgroup: bg}}\n"
	"      - {name: cg_2, cpuset: {exact: \"0-1,3\"}, policy: {rr: 5}, affinity: llc_aligned}\n"
	"      - {name: cg_3, affinity: inherit, policy: idle}\n"
	"    hold: {frac: 0.5}\n"
	"  - ops: [{set_affinity: {cgroup: bg, kind: inherit}}]\n"
	"    hold: {loop: {fixed_ms: 100, interval_ms: 50}}\n";

static void test_full_syntax(void **state)
{
	struct kt_scenario *s;

	(void)state;
	s = parse_ok(full);
	{
		Ktstr__EntrySpec *es = spec_of(s);
		const Ktstr__StepSpec *st = es->steps[0];
		const char *const *bins = kt_scenario_payload_bins(s);

		assert_int_equal(es->n_backdrop, 2);
		assert_string_equal(es->backdrop[1]->name, "outer");
		assert_int_equal(es->backdrop[1]->cpuset->kind, KTSTR__CPUSET_KIND__CPUSET_RANGE);
		assert_true(es->backdrop[1]->cpuset->end_frac == 0.5);
		assert_int_equal(st->n_ops, 17);
		assert_int_equal(st->ops[0]->op_case, KTSTR__OP__OP_ADD_CGROUP);
		assert_string_equal(st->ops[1]->add_cgroup->parent, "outer");
		assert_int_equal(st->ops[2]->set_cpuset->cpuset->kind,
				 KTSTR__CPUSET_KIND__CPUSET_DISJOINT);
		assert_string_equal(st->ops[3]->clear_cpuset, "a");
		assert_string_equal(st->ops[4]->swap_cpusets->b, "bg");
		assert_int_equal(st->ops[5]->spawn->workers, 2);
		assert_int_equal(st->ops[5]->spawn->work->type, KTSTR__WORK_TYPE__WORK_MIXED);
		assert_int_equal(st->ops[5]->spawn->affinity->kind,
				 KTSTR__AFFINITY_KIND__AFFINITY_SINGLE_CPU);
		assert_int_equal(st->ops[5]->spawn->policy->kind, KTSTR__POLICY_KIND__POLICY_BATCH);
		assert_string_equal(st->ops[6]->stop_cgroup, "a");
		assert_int_equal(st->ops[7]->set_affinity->affinity->n_cpus, 1);
		assert_string_equal(st->ops[8]->spawn_host->cgroup, "b");
		assert_string_equal(st->ops[9]->move_all_tasks->to, "b");
		/* The guest path of a payload is /bin/<basename>. */
		assert_string_equal(st->ops[10]->run_payload->path, "/bin/true");
		assert_string_equal(bins[0], "/usr/bin/true");
		assert_null(bins[1]);
		assert_int_equal(st->ops[10]->run_payload->n_metrics, 3);
		assert_true(st->ops[10]->run_payload->metrics[0]->has_min);
		assert_false(st->ops[10]->run_payload->metrics[0]->has_max);
		assert_true(st->ops[10]->run_payload->metrics[1]->max == 5);
		assert_false(st->ops[10]->run_payload->metrics[2]->has_min);
		assert_int_equal(st->ops[11]->wait_payload->timeout_ms, 5000);
		assert_string_equal(st->ops[12]->snapshot, "after_setup");
		assert_string_equal(st->ops[13]->watch_snapshot, "bss.stall");
		assert_string_equal(st->ops[15]->kill_payload, "p2");
		assert_int_equal(st->cgroups[0]->cpuset->kind, KTSTR__CPUSET_KIND__CPUSET_OVERLAP);
		assert_true(st->cgroups[0]->cpuset->frac == 0.5);
		assert_int_equal(st->cgroups[0]->policy->nice, -5);
		assert_int_equal(st->cgroups[0]->affinity->count, 1);
		assert_int_equal(st->cgroups[1]->policy->kind, KTSTR__POLICY_KIND__POLICY_FIFO);
		assert_int_equal(st->cgroups[1]->policy->priority, 10);
		assert_string_equal(st->cgroups[1]->affinity->cgroup, "bg");
		assert_int_equal(st->cgroups[2]->cpuset->n_cpus, 3);
		assert_int_equal(st->cgroups[3]->policy->kind, KTSTR__POLICY_KIND__POLICY_IDLE);
		assert_int_equal(es->steps[1]->hold->kind, KTSTR__HOLD_SPEC__KIND__LOOP);
		assert_int_equal(es->steps[1]->hold->ms, 100);
		assert_int_equal(es->steps[1]->hold->interval_ms, 50);
		/* The default count fills spawns too. */
		ktstr__entry_spec__free_unpacked(es, NULL);
	}
	kt_scenario_free(s);
}

/* YAML with the first FROM replaced by TO (a static buffer). */
static const char *edit(const char *yaml, const char *from, const char *to)
{
	static char buf[8192];
	const char *at = strstr(yaml, from);

	assert_non_null(at);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - yaml), yaml, to, at + strlen(from));
	return buf;
}

/* A loop hold repeats its ops: only those that can repeat. */
static void test_loop_ops(void **state)
{
	(void)state;
	parse_err(edit(full, "hold: {frac: 0.5}", "hold: {loop: {frac: 0.5, interval_ms: 200}}"),
		  "t.yaml:7: steps[0].ops[0].add_cgroup: add_cgroup cannot repeat in a loop "
		  "hold");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_syntax),
		cmocka_unit_test(test_loop_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
