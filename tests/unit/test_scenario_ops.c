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
		/* Holds of 0.5 and 100 ms, and the wait's 5000 ms. */
		assert_true(kt_scenario_planned_ms(s, 1000) == 5600);
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

/* One step around OPS (YAML flow items, one per line from line 4 on). */
#define STEP(ops) "name: t\nbackdrop: [{name: bg, workers: 1}]\nsteps:\n  - ops:\n" ops

static const struct { const char *yaml, *want; } rejects[] = {
	/* op forms */
	{ STEP("      - {frobnicate: x}\n"), "t.yaml:5: steps[0].ops[0]: unknown op 'frobnicate'" },
	{ STEP("      - snapshot\n"), "t.yaml:5: steps[0].ops[0]: expected an op" },
	{ STEP("      - {snapshot: a, stop_cgroup: bg}\n"), "t.yaml:5: steps[0].ops[0]: expected an op" },
	{ STEP("      - {snapshot: ../x}\n"), "t.yaml:5: steps[0].ops[0].snapshot: '../x' is not a valid name" },
	{ STEP("      - {watch_snapshot: \"a b\"}\n"), "t.yaml:5: steps[0].ops[0].watch_snapshot: " },
	{ STEP("      - {add_cgroup: {name: a, wrokers: 1}}\n"), "t.yaml:5: steps[0].ops[0].add_cgroup.wrokers: unknown key" },
	{ STEP("      - {remove_cgroup: {name: a}}\n"), "t.yaml:5: steps[0].ops[0].remove_cgroup: expected a name" },
	{ STEP("      - {set_cpuset: {cgroup: bg}}\n"), "t.yaml:5: steps[0].ops[0].set_cpuset.cpuset: missing" },
	{ STEP("      - {set_cpuset: {cgroup: bg, cpuset: {numa: -1}}}\n"), "t.yaml:5: steps[0].ops[0].set_cpuset.cpuset.numa: " },
	{ STEP("      - {swap_cpusets: {a: bg}}\n"), "t.yaml:5: steps[0].ops[0].swap_cpusets.b: missing" },
	{ STEP("      - {spawn: {workers: 1}}\n"), "t.yaml:5: steps[0].ops[0].spawn.cgroup: missing" },
	{ STEP("      - {spawn: {cgroup: bg, workers: 3, work: pipe_io}}\n"), "t.yaml:5: steps[0].ops[0].spawn.workers: pipe_io needs an even number" },
	{ STEP("      - {spawn_host: {cgroup: bg, workers: 0}}\n"), "t.yaml:5: steps[0].ops[0].spawn_host.workers: " },
	{ STEP("      - {set_affinity: {cgroup: bg, kind: some}}\n"), "t.yaml:5: steps[0].ops[0].set_affinity.kind: unknown affinity 'some'" },
	{ STEP("      - {set_affinity: {cgroup: bg, kind: {random_subset: {}}}}\n"), "t.yaml:5: steps[0].ops[0].set_affinity.kind.random_subset.count: missing" },
	{ STEP("      - {set_affinity: {cgroup: bg, kind: {exact: []}}}\n"), "t.yaml:5: steps[0].ops[0].set_affinity.kind.exact: the CPU list is empty" },
	{ STEP("      - {move_all_tasks: {from: bg, into: bg}}\n"), "t.yaml:5: steps[0].ops[0].move_all_tasks.into: unknown key" },
	{ STEP("      - {run_payload: {name: p}}\n"), "t.yaml:5: steps[0].ops[0].run_payload.path: missing" },
	{ STEP("      - {run_payload: {name: p, path: bin/true}}\n"), "t.yaml:5: steps[0].ops[0].run_payload.path: 'bin/true' is not an absolute path" },
	{ STEP("      - {run_payload: {name: p, path: /bin/true, exit_code: 256}}\n"), "t.yaml:5: steps[0].ops[0].run_payload.exit_code: 256 is out of range 0..255" },
	{ STEP("      - {run_payload: {name: p, path: /bin/true, args: [[1]]}}\n"), "t.yaml:5: steps[0].ops[0].run_payload.args[0]: expected an argument" },
	{ STEP("      - {run_payload: {name: p, path: /bin/true, metrics: [{min: 1}]}}\n"), "t.yaml:5: steps[0].ops[0].run_payload.metrics[0].path: missing" },
	{ STEP("      - {run_payload: {name: p, path: /bin/true, metrics: [{path: a..b}]}}\n"), "t.yaml:5: steps[0].ops[0].run_payload.metrics[0].path: 'a..b' has an empty part" },
	{ STEP("      - {run_payload: {name: p, path: /bin/true, metrics: [{path: a, min: 2, max: 1}]}}\n"), "t.yaml:5: steps[0].ops[0].run_payload.metrics[0].max: 1 is below min (2)" },
	{ STEP("      - {run_payload: {name: p, path: /usr/bin/true}}\n      - {run_payload: {name: q, path: /bin/true}}\n"), "t.yaml:6: steps[0].ops[1].run_payload: /usr/bin/true and /bin/true would both be /bin/true" },
	{ STEP("      - {wait_payload: {name: p}}\n"), "t.yaml:5: steps[0].ops[0].wait_payload.timeout_ms: missing" },
	{ STEP("      - {kill_payload: [p]}\n"), "t.yaml:5: steps[0].ops[0].kill_payload: expected a name" },
	/* names through the steps */
	{ STEP("      - {stop_cgroup: nope}\n"), "t.yaml:5: steps[0].ops[0].stop_cgroup: stop_cgroup: cgroup 'nope' does not exist at this point" },
	{ STEP("      - {add_cgroup: {name: bg}}\n"), "t.yaml:5: steps[0].ops[0].add_cgroup: add_cgroup: cgroup 'bg' already exists" },
	{ STEP("      - {add_cgroup: {name: a, parent: nope}}\n"), "t.yaml:5: steps[0].ops[0].add_cgroup: add_cgroup: parent of 'a': cgroup 'nope' does not exist" },
	{ STEP("      - {remove_cgroup: bg}\n"), "t.yaml:5: steps[0].ops[0].remove_cgroup: remove_cgroup: cgroup 'bg' was not made by add_cgroup" },
	{ STEP("      - {add_cgroup: {name: a}}\n      - {add_cgroup: {name: b, parent: a}}\n      - {remove_cgroup: a}\n"), "t.yaml:7: steps[0].ops[2].remove_cgroup: remove_cgroup: cgroup 'a' still has the child cgroup 'b'" },
	{ STEP("      - {add_cgroup: {name: a}}\n      - {remove_cgroup: a}\n      - {add_cgroup: {name: a}}\n"), "t.yaml:7: steps[0].ops[2].add_cgroup: add_cgroup: cgroup 'a' was already made in this step" },
	{ STEP("      - {swap_cpusets: {a: bg, b: bg}}\n"), "t.yaml:5: steps[0].ops[0].swap_cpusets: swap_cpusets: swaps cgroup 'bg' with itself" },
	{ STEP("      - {move_all_tasks: {from: bg, to: bg}}\n"), "t.yaml:5: steps[0].ops[0].move_all_tasks: move_all_tasks: moves cgroup 'bg' into itself" },
	{ STEP("      - {set_affinity: {cgroup: bg, kind: {cross_cgroup: nope}}}\n"), "t.yaml:5: steps[0].ops[0].set_affinity: set_affinity: cross_cgroup: cgroup 'nope' does not exist" },
	{ STEP("      - {wait_payload: {name: p, timeout_ms: 10}}\n"), "t.yaml:5: steps[0].ops[0].wait_payload: wait_payload: payload 'p' is not running at this point" },
	{ STEP("      - {run_payload: {name: p, path: /bin/true}}\n      - {kill_payload: p}\n      - {kill_payload: p}\n"), "t.yaml:7: steps[0].ops[2].kill_payload: kill_payload: payload 'p' is not running" },
	{ STEP("      - {run_payload: {name: p, path: /bin/true}}\n  - ops:\n      - {run_payload: {name: p, path: /bin/true}}\n"), "t.yaml:7: steps[1].ops[0].run_payload: run_payload: payload 'p' already ran" },
	{ STEP("      - {run_payload: {name: p, path: /bin/true, cgroup: nope}}\n"), "t.yaml:5: steps[0].ops[0].run_payload: run_payload: cgroup 'nope' does not exist" },
	/* remove_cgroup kills what runs in it: not a payload still running,
	 * also one that moved there with its tasks */
	{ STEP("      - {add_cgroup: {name: a}}\n      - {run_payload: {name: p, path: /bin/true, cgroup: a}}\n  - ops:\n      - {remove_cgroup: a}\n"), "t.yaml:8: steps[1].ops[0].remove_cgroup: remove_cgroup: cgroup 'a' holds payload 'p', still running: wait_payload or kill_payload it first" },
	{ STEP("      - {add_cgroup: {name: a}}\n      - {add_cgroup: {name: b}}\n      - {run_payload: {name: p, path: /bin/true, cgroup: a}}\n      - {move_all_tasks: {from: a, to: b}}\n      - {remove_cgroup: b}\n"), "t.yaml:9: steps[0].ops[4].remove_cgroup: remove_cgroup: cgroup 'b' holds payload 'p'" },
	/* a step's own cgroups come after its ops and end with the step */
	{ STEP("      - {stop_cgroup: c}\n    cgroups: [{name: c}]\n"), "t.yaml:5: steps[0].ops[0].stop_cgroup: stop_cgroup: cgroup 'c' does not exist" },
	{ "name: t\nsteps:\n  - cgroups: [{name: c}]\n  - ops: [{stop_cgroup: c}]\n", "t.yaml:4: steps[1].ops[0].stop_cgroup: stop_cgroup: cgroup 'c' does not exist" },
	{ "name: t\nbackdrop: [{name: c}]\nsteps:\n  - cgroups: [{name: c}]\n", "t.yaml:4: steps[0].cgroups[0]: cgroup 'c' already exists" },
	{ "name: t\nsteps:\n  - cgroups:\n      - {name: c, parent: d}\n      - {name: d}\n", "t.yaml:4: steps[0].cgroups[0]: parent of 'c': cgroup 'd' does not exist" },
	{ "name: t\nbackdrop:\n  - {name: c, parent: c}\nsteps: []\n", "t.yaml:3: backdrop[0].parent: a cgroup cannot be its own parent" },
	{ "name: t\nbackdrop:\n  - {name: c, affinity: {cross_cgroup: x}}\nsteps: []\n", "t.yaml:3: backdrop[0]: cross_cgroup: cgroup 'x' does not exist" },
	{ "name: t\nbackdrop: {name: c}\nsteps: []\n", "t.yaml:2: backdrop: expected a list of cgroups" },
	/* cgroup fields */
	{ "name: t\nsteps:\n  - cgroups: [{name: c, cpuset: {range: {start: 0.5, end: 0.5}}}]\n", "t.yaml:3: steps[0].cgroups[0].cpuset.range.end: 0.5 must be greater than start (0.5)" },
	{ "name: t\nsteps:\n  - cgroups: [{name: c, cpuset: {range: {start: 0}}}]\n", "t.yaml:3: steps[0].cgroups[0].cpuset.range.end: missing" },
	{ "name: t\nsteps:\n  - cgroups: [{name: c, cpuset: {overlap: {index: 0, of: 2}}}]\n", "t.yaml:3: steps[0].cgroups[0].cpuset.overlap.frac: missing" },
	{ "name: t\nsteps:\n  - cgroups: [{name: c, cpuset: {overlap: {index: 0, of: 2, frac: 1.5}}}]\n", "t.yaml:3: steps[0].cgroups[0].cpuset.overlap.frac: 1.5 is out of range" },
	{ "name: t\nsteps:\n  - cgroups: [{name: c, cpuset: {numa: x}}]\n", "t.yaml:3: steps[0].cgroups[0].cpuset.numa: " },
	{ "name: t\nsteps:\n  - cgroups: [{name: c, policy: fifo}]\n", "t.yaml:3: steps[0].cgroups[0].policy: unknown policy 'fifo'" },
	{ "name: t\nsteps:\n  - cgroups: [{name: c, policy: {fifo: 100}}]\n", "t.yaml:3: steps[0].cgroups[0].policy.fifo: '100' is out of range" },
	{ "name: t\nsteps:\n  - cgroups: [{name: c, policy: {rr: 0}}]\n", "t.yaml:3: steps[0].cgroups[0].policy.rr: '0' is out of range" },
	{ "name: t\nsteps:\n  - cgroups: [{name: c, policy: {deadline: 1}}]\n", "t.yaml:3: steps[0].cgroups[0].policy: unknown policy 'deadline'" },
	{ "name: t\nsteps:\n  - cgroups: [{name: c, nice: 20}]\n", "t.yaml:3: steps[0].cgroups[0].nice: 20 is out of range -20..19" },
	{ "name: t\nsteps:\n  - cgroups: [{name: c, policy: idle, nice: 1}]\n", "t.yaml:3: steps[0].cgroups[0].nice: nice applies to the normal and batch policies only" },
	{ "name: t\nsteps:\n  - cgroups: [{name: c, affinity: {single_cpu: 1}}]\n", "t.yaml:3: steps[0].cgroups[0].affinity: unknown affinity 'single_cpu'" },
	{ "name: t\nsteps:\n  - cgroups: [{name: c, affinity: {random_subset: {count: 0}}}]\n", "t.yaml:3: steps[0].cgroups[0].affinity.random_subset.count: '0' is out of range" },
	/* holds and steps */
	{ "name: t\nsteps:\n  - cgroups: [{name: c}]\n    hold: {loop: {frac: 0.5}}\n", "t.yaml:4: steps[0].hold.loop.interval_ms: missing" },
	{ "name: t\nsteps:\n  - cgroups: [{name: c}]\n    hold: {loop: {interval_ms: 5}}\n", "t.yaml:4: steps[0].hold.loop: expected one of frac, fixed_ms" },
	{ "name: t\nsteps:\n  - cgroups: [{name: c}]\n    hold: {loop: {frac: 0.5, interval_ms: 0}}\n", "t.yaml:4: steps[0].hold.loop.interval_ms: '0' is out of range" },
	{ "name: t\nsteps:\n  - cgroups: [{name: c}]\n    hold: {frac: 0.5, loop: {frac: 0.5, interval_ms: 5}}\n", "t.yaml:4: steps[0].hold: give only one of frac, fixed_ms, loop" },
	{ "name: t\nsteps:\n  - hold: {frac: 0.5}\n", "t.yaml:3: steps[0].cgroups: missing" },
	{ "name: t\nsteps:\n  - ops: []\n", "t.yaml:3: steps[0].ops: expected 1 to 64 ops, got 0" },
	{ "name: t\nbackdrop: [{name: b}]\nsteps:\n  - ops: [{snapshot: s}]\n    hold: {loop: {frac: 0.5, interval_ms: 5}}\n", "t.yaml:4: steps[0].ops[0].snapshot: snapshot cannot repeat in a loop hold" },
};

static void test_rejects(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++)
		parse_err(rejects[i].yaml, rejects[i].want);
}

/* Accepted forms not in the full example, and what they mean. */
static void test_accepts(void **state)
{
	struct kt_scenario *s;
	Ktstr__EntrySpec *es;

	(void)state;
	/* A step of ops and a hold only; loop by fixed_ms; defaults fill
	 * add_cgroup's and spawn's worker counts; exists-only metrics. */
	s = parse_ok("name: t\nbackdrop: [{name: bg, cpuset: {numa: 0}}]\nsteps:\n"
		     "  - ops:\n      - {add_cgroup: {name: a}}\n"
		     "      - {spawn: {cgroup: a}}\n"
		     "      - {spawn_host: {cgroup: a, policy: {rr: 1}}}\n"
		     "      - {add_cgroup: {name: n, parent: a, cpuset: {exact: [0]}}}\n"
		     "  - ops: [{swap_cpusets: {a: a, b: bg}}, {move_all_tasks: {from: a, to: bg}},\n"
		     "          {clear_cpuset: bg}, {set_cpuset: {cgroup: a, cpuset: {llc: 0}}}]\n"
		     "    hold: {loop: {fixed_ms: 300, interval_ms: 100}}\n"
		     "  - cgroups: [{name: c, parent: n, nice: 19, policy: batch}]\n");
	es = spec_of(s);
	assert_int_equal(es->n_steps, 3);
	assert_int_equal(es->backdrop[0]->workers, 2);
	assert_int_equal(es->steps[0]->ops[0]->add_cgroup->workers, 2);
	assert_int_equal(es->steps[0]->ops[1]->spawn->workers, 2);
	assert_int_equal(es->steps[0]->ops[2]->spawn_host->policy->kind,
			 KTSTR__POLICY_KIND__POLICY_RR);
	assert_int_equal(es->steps[1]->hold->kind, KTSTR__HOLD_SPEC__KIND__LOOP);
	assert_int_equal(kt_spec_hold_ms(es, es->steps[1]), 300);
	assert_string_equal(es->steps[2]->cgroups[0]->parent, "n");
	assert_int_equal(es->steps[2]->cgroups[0]->policy->nice, 19);
	/* 1/3 of 1000 ms twice (steps 0 and 2) and 300 ms. */
	assert_true(kt_scenario_planned_ms(s, 1000) > 966 && kt_scenario_planned_ms(s, 1000) < 967);
	/* Isolation defaults on: there are cpusets to keep. */
	assert_true(kt_scenario_checks(s)->isolation);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);
	/* A cgroup whose payload was waited, killed or moved away can go. */
	s = parse_ok("name: t\nsteps:\n  - ops:\n"
		     "      - {add_cgroup: {name: a}}\n      - {add_cgroup: {name: b}}\n"
		     "      - {run_payload: {name: p, path: /bin/true, cgroup: a}}\n"
		     "      - {run_payload: {name: q, path: /bin/true, cgroup: b}}\n"
		     "      - {move_all_tasks: {from: a, to: b}}\n      - {remove_cgroup: a}\n"
		     "      - {wait_payload: {name: p, timeout_ms: 100}}\n"
		     "      - {kill_payload: q}\n      - {remove_cgroup: b}\n");
	kt_scenario_free(s);
}

/* The plan the host checks results against. */
static void test_plan(void **state)
{
	struct kt_scenario *s = parse_ok(full);
	Ktstr__EntrySpec *es = spec_of(s);
	struct kt_spec_plan plan;
	struct kt_err e;

	(void)state;
	assert_int_equal(kt_spec_resolve(es, &plan, NULL, &e), 0);
	/* bg, outer, a, b (step 0 ops), cg_0..cg_3: 8 cgroups. */
	assert_int_equal(plan.n, 8);
	assert_string_equal(plan.cg[2].name, "a");
	assert_int_equal(plan.cg[2].workers, 4); /* 2 + spawn 2 */
	assert_true(plan.cg[2].cpuset_changed);
	assert_true(plan.cg[0].cpuset_changed);  /* bg: swapped */
	assert_false(plan.cg[1].cpuset_changed);
	/* spawn_host on b lands in b's parent, outer. */
	assert_int_equal(plan.cg[1].workers, 2);
	assert_int_equal(plan.cg[3].workers, 2);
	assert_int_equal(plan.n_payloads, 2);
	kt_spec_plan_free(&plan);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);
	/* spawn_host on a top cgroup: the root, made at the first one. */
	s = parse_ok("name: t\nbackdrop: [{name: bg}]\nsteps:\n"
		     "  - ops: [{spawn_host: {cgroup: bg, workers: 3}}]\n"
		     "  - ops: [{spawn_host: {cgroup: bg, workers: 1}}]\n");
	es = spec_of(s);
	assert_int_equal(kt_spec_resolve(es, &plan, NULL, &e), 0);
	assert_int_equal(plan.n, 2);
	assert_string_equal(plan.cg[1].name, KT_SPEC_ROOT_CGROUP);
	assert_int_equal(plan.cg[1].step, 0);
	assert_int_equal(plan.cg[1].workers, 4);
	assert_null(plan.cg[1].spec);
	kt_spec_plan_free(&plan);
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);
}

/* The guest's rules on specs the host would not write. */
static void test_validate(void **state)
{
	struct kt_scenario *s = parse_ok(full);
	Ktstr__EntrySpec *es = spec_of(s);
	Ktstr__StepSpec *st = es->steps[0];
	struct kt_err e;

	(void)state;
	st->cgroups[1]->policy->priority = 0;
	assert_int_equal(kt_spec_validate(es, &e), -1);
	assert_non_null(strstr(e.msg, "cgroup 'cg_1': policy priority 0"));
	st->cgroups[1]->policy->priority = 10;
	st->cgroups[0]->cpuset->frac = 2;
	assert_int_equal(kt_spec_validate(es, &e), -1);
	assert_non_null(strstr(e.msg, "overlap frac 2"));
	st->cgroups[0]->cpuset->frac = 0.5;
	st->ops[11]->wait_payload->timeout_ms = 0;
	assert_int_equal(kt_spec_validate(es, &e), -1);
	assert_non_null(strstr(e.msg, "step 0 op 11 (wait_payload): timeout_ms 0"));
	st->ops[11]->wait_payload->timeout_ms = 5;
	st->ops[6]->op_case = KTSTR__OP__OP__NOT_SET;
	assert_int_equal(kt_spec_validate(es, &e), -1);
	assert_non_null(strstr(e.msg, "no op set"));
	st->ops[6]->op_case = KTSTR__OP__OP_STOP_CGROUP;
	free(st->ops[6]->stop_cgroup);
	st->ops[6]->stop_cgroup = strdup("ghost");
	assert_int_equal(kt_spec_validate(es, &e), -1);
	assert_non_null(strstr(e.msg, "cgroup 'ghost' does not exist at this point"));
	ktstr__entry_spec__free_unpacked(es, NULL);
	kt_scenario_free(s);
}

/* Topologies: numa beyond the nodes, exact affinity CPUs beyond the CPUs. */
static void test_fits_kinds(void **state)
{
	struct kt_scenario *s = parse_ok(
		"name: f\nbackdrop: [{name: b, cpuset: {numa: 1}}]\nsteps:\n"
		"  - ops: [{set_affinity: {cgroup: b, kind: {exact: [3]}}}]\n"
		"    cgroups: [{name: c, cpuset: {overlap: {index: 1, of: 4, frac: 0}},\n"
		"               affinity: {random_subset: {count: 2}}}]\n");
	struct kt_topo t;
	struct kt_err e;

	(void)state;
	assert_int_equal(kt_topo_parse("2n2l4c1t", &t, &e), 0);
	assert_int_equal(kt_scenario_fits(s, &t, &e), 0);
	assert_int_equal(kt_topo_parse("1n2l2c1t", &t, &e), 0);
	assert_int_equal(kt_scenario_fits(s, &t, &e), -1);
	assert_non_null(strstr(e.msg, "backdrop cgroup 'b': cpuset does not fit"));
	assert_non_null(strstr(e.msg, "NUMA node 1 is out of range"));
	assert_int_equal(kt_topo_parse("2n2l1c1t", &t, &e), 0);
	assert_int_equal(kt_scenario_fits(s, &t, &e), -1);
	assert_non_null(strstr(e.msg, "ops[0] (set_affinity): affinity does not fit"));
	assert_int_equal(kt_topo_parse("2n4l1c1t", &t, &e), 0);
	assert_int_equal(kt_scenario_fits(s, &t, &e), -1);
	assert_non_null(strstr(e.msg, "random_subset of 2 CPUs from a cpuset of 1"));
	kt_scenario_free(s);
}

/* Mutations of the full example (deleted, inserted and replaced bytes
 * and tokens) parse or fail cleanly, and what parses builds or refuses a
 * spec cleanly: no crash, no leak (the sanitizer build checks). */
static void test_mutations(void **state)
{
	static const char *const toks[] = { "{", "}", "[", "]", ":", ",", " ", "\n", "-", "0",
		"a", "bg", "outer", "\"", "99999999999", "-1", "0.5", "null", "&x", "*x",
		"add_cgroup", "remove_cgroup", "parent", "loop", "interval_ms", "cg_0" };
	uint64_t x = 42;
	char buf[sizeof(full) + 256];

	(void)state;
	for (int it = 0; it < 3000; it++) {
		size_t len = sizeof(full) - 1;
		struct kt_scenario *s;
		struct kt_topo t = { 1, 2, 2, 1 };
		struct kt_err e;

		memcpy(buf, full, len);
		for (int k = 0; k < 3; k++) {
			size_t pos, tl;
			const char *tok;

			x = x * 6364136223846793005ull + 1442695040888963407ull;
			pos = (size_t)(x >> 33) % len;
			tok = toks[(x >> 20) % (sizeof(toks) / sizeof(toks[0]))];
			tl = strlen(tok);
			if ((x >> 10) % 3 == 0) {
				memmove(buf + pos, buf + pos + 1, len - pos - 1);
				len--;
			} else if ((x >> 10) % 3 == 1 && len + tl < sizeof(buf)) {
				memmove(buf + pos + tl, buf + pos, len - pos);
				memcpy(buf + pos, tok, tl);
				len += tl;
			} else {
				buf[pos] = (char)((x >> 40) % 128);
			}
		}
		if (kt_scenario_parse(buf, len, "m.yaml", &s, &e) == 0) {
			uint8_t *out;
			size_t n;

			kt_scenario_fits(s, &t, &e);
			if (!kt_scenario_entry_spec(s, 1000, 2, 0, &out, &n, &e))
				free(out);
			kt_scenario_free(s);
		} else {
			assert_non_null(strstr(e.msg, "m.yaml"));
		}
	}
}

/* The guest's side: mutated packed specs unpack or not, and the rules
 * (with name resolution) judge whatever unpacks without crashing. */
static void test_spec_mutations(void **state)
{
	struct kt_scenario *s = parse_ok(full);
	struct kt_err e;
	uint8_t *buf, *m;
	size_t len;
	uint64_t x = 7;

	(void)state;
	assert_int_equal(kt_scenario_entry_spec(s, 1000, 2, 0, &buf, &len, &e), 0);
	m = malloc(len);
	for (int it = 0; it < 5000; it++) {
		Ktstr__EntrySpec *es;

		memcpy(m, buf, len);
		for (int k = 0; k < 2; k++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			m[(x >> 33) % len] = (uint8_t)(x >> 20);
		}
		es = ktstr__entry_spec__unpack(NULL, len, m);
		if (!es)
			continue;
		kt_spec_validate(es, &e);
		ktstr__entry_spec__free_unpacked(es, NULL);
	}
	free(m);
	free(buf);
	kt_scenario_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_syntax),
		cmocka_unit_test(test_loop_ops),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_fits_kinds),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_spec_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
