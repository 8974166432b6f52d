/* The runner's ops on the paths a host can take without a cgroup v2
 * cpuset hierarchy (this host has none): BASE is a plain directory, so
 * cgroup files are plain files and the kernel's side (effective CPUs,
 * task moves) is not there. What is tested here is what the runner itself
 * decides: the hooks, payloads (real fork/exec), and the scenario errors
 * it finds before the kernel would. Specs come from YAML through the same
 * path as a real run (kt_scenario_entry_spec). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <cmocka.h>
#include "cpuset.h"
#include "runner.h"
#include "scenario.h"
#include "util.h"

static char base[] = "/tmp/ktstr-runops-XXXXXX";
static Ktstr__GuestTopology *topo;

static int setup(void **state)
{
	struct kt_topo t;
	char path[64];
	struct kt_err e;

	(void)state;
	if (!mkdtemp(base) || kt_topo_parse("1n1l2c1t", &t, &e))
		return -1;
	topo = kt_cpuset_topo_model(&t);
	snprintf(path, sizeof(path), "%s/cpuset.mems.effective", base);
	return kt_write_file(path, "0\n", 2, &e);
}

static int teardown(void **state)
{
	char cmd[96];

	(void)state;
	ktstr__guest_topology__free_unpacked(topo, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) ? -1 : 0;
}

static Ktstr__EntrySpec *spec(const char *yaml)
{
	struct kt_scenario *s;
	struct kt_err e;
	uint8_t *buf;
	size_t len;
	Ktstr__EntrySpec *es;

	if (kt_scenario_parse(yaml, strlen(yaml), "t.yaml", &s, &e) ||
	    kt_scenario_entry_spec(s, 200, 1, 0, &buf, &len, &e))
		fail_msg("%s", e.msg);
	es = ktstr__entry_spec__unpack(NULL, len, buf);
	free(buf);
	kt_scenario_free(s);
	return es;
}

/* What the hooks saw. */
struct seen {
	char snaps[4][32];
	int n_snaps, n_watch;
};

static void on_snapshot(void *ctx, const char *name)
{
	struct seen *s = ctx;

	if (s->n_snaps < 4)
		snprintf(s->snaps[s->n_snaps++], 32, "%s", name);
}

static int on_watch(void *ctx, const char *symbol, struct kt_err *err)
{
	struct seen *s = ctx;

	if (++s->n_watch > 1)
		return kt_errf(err, "cap exceeded (%s)", symbol);
	return 0;
}

/* With TIME, the host's calibration is HOST_NS. */
static Ktstr__ScenarioResult *run_timed(const char *yaml, const struct kt_runner_hooks *hooks,
					const struct kt_runner_time *time, uint64_t host_ns)
{
	Ktstr__EntrySpec *es = spec(yaml);
	Ktstr__ScenarioResult *res;

	es->host_calib_ns = host_ns;
	res = kt_runner_run(es, topo, base, hooks, time);

	ktstr__entry_spec__free_unpacked(es, NULL);
	assert_non_null(res);
	return res;
}

static Ktstr__ScenarioResult *run(const char *yaml, const struct kt_runner_hooks *hooks)
{
	return run_timed(yaml, hooks, NULL, 0);
}

/* Remove what a failed run left under BASE (plain directories do not
 * rmdir with files in them, as cgroups do). */
static void clean(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'/*/", base);
	assert_int_equal(system(cmd), 0);
}

static void expect_err(Ktstr__ScenarioResult *res, const char *want)
{
	assert_false(res->ok);
	assert_int_equal(res->kind, KTSTR__SCENARIO_RESULT__KIND__SCENARIO_ERROR);
	if (!strstr(res->error, want))
		fail_msg("error '%s' lacks '%s'", res->error, want);
}

static void test_hooks(void **state)
{
	struct seen s = { .n_snaps = 0 };
	struct kt_runner_hooks h = { &s, on_snapshot, on_watch, NULL };
	Ktstr__ScenarioResult *res;

	(void)state;
	res = run("name: t\nsteps:\n  - ops: [{snapshot: one}, {watch_snapshot: bss.stall}]\n"
		  "    hold: {fixed_ms: 1}\n  - ops: [{snapshot: two}]\n    hold: {fixed_ms: 1}\n",
		  &h);
	assert_true(res->ok);
	assert_int_equal(s.n_snaps, 2);
	assert_string_equal(s.snaps[0], "one");
	assert_string_equal(s.snaps[1], "two");
	ktstr__scenario_result__free_unpacked(res, NULL);
	/* A failing watch fails the step with the hook's words; the next
	 * step does not run. */
	memset(&s, 0, sizeof(s));
	res = run("name: t\nsteps:\n  - ops: [{watch_snapshot: a}, {watch_snapshot: b}]\n"
		  "    hold: {fixed_ms: 1}\n  - ops: [{snapshot: never}]\n", &h);
	expect_err(res, "step 0 ops[1] watch_snapshot 'b': cap exceeded (b)");
	assert_int_equal(s.n_snaps, 0);
	ktstr__scenario_result__free_unpacked(res, NULL);
	/* No hooks: both are logged no-ops. */
	res = run("name: t\nsteps:\n  - ops: [{snapshot: x}, {watch_snapshot: y}]\n", NULL);
	assert_true(res->ok);
	ktstr__scenario_result__free_unpacked(res, NULL);
}

static void test_payloads(void **state)
{
	Ktstr__ScenarioResult *res;

	(void)state;
	res = run("name: t\nsteps:\n  - ops:\n"
		  "      - {run_payload: {name: e, path: /bin/echo, args: ['{\"a\": 1}']}}\n"
		  "      - {wait_payload: {name: e, timeout_ms: 10000}}\n"
		  "      - {run_payload: {name: s, path: /bin/sleep, args: ['10']}}\n"
		  "      - {wait_payload: {name: s, timeout_ms: 50}}\n"
		  "      - {run_payload: {name: k, path: /bin/sleep, args: ['10']}}\n"
		  "      - {kill_payload: k}\n"
		  "      - {run_payload: {name: late, path: /bin/sleep, args: ['10']}}\n"
		  "    hold: {fixed_ms: 1}\n", NULL);
	assert_true(res->ok);
	assert_int_equal(res->n_payloads, 4);
	assert_string_equal(res->payloads[0]->output, "{\"a\": 1}\n");
	assert_int_equal(res->payloads[0]->exit_code, 0);
	assert_true(res->payloads[1]->timed_out);
	assert_int_equal(res->payloads[1]->signal, SIGKILL);
	assert_false(res->payloads[1]->killed_by_op);
	/* No calibration: the timeout as written. */
	assert_int_equal(res->payloads[1]->timeout_ms, 50);
	assert_int_equal(res->payloads[1]->scaled_timeout_ms, 50);
	assert_false(res->payloads[1]->clamped);
	assert_false(res->payloads[2]->timed_out);
	assert_int_equal(res->payloads[2]->signal, SIGKILL);
	assert_true(res->payloads[2]->killed_by_op);
	/* Still running at the end: killed, not timed out, not by an op. */
	assert_int_equal(res->payloads[3]->signal, SIGKILL);
	assert_int_equal(res->payloads[3]->exit_code, -1);
	assert_false(res->payloads[3]->killed_by_op);
	ktstr__scenario_result__free_unpacked(res, NULL);
	res = run("name: t\nsteps:\n  - ops:\n"
		  "      - {run_payload: {name: x, path: /usr/lib/ktstr-no-such-binary}}\n", NULL);
	expect_err(res, "step 0 ops[0] run_payload 'x': exec /bin/ktstr-no-such-binary: No such "
		   "file");
	ktstr__scenario_result__free_unpacked(res, NULL);
}

/* set_affinity outside the cgroup's cpuset: the scenario's error, naming
 * the op, the cgroup and the CPUs, before any sched_setaffinity. */
static void test_affinity_outside(void **state)
{
	Ktstr__ScenarioResult *res;

	(void)state;
	res = run("name: t\nbackdrop: [{name: a, cpuset: {exact: [0]}, workers: 2}]\n"
		  "steps:\n  - ops: [{set_affinity: {cgroup: a, kind: {exact: [1]}}}]\n", NULL);
	expect_err(res, "step 0 ops[0] set_affinity cgroup 'a': CPUs 1 are outside its cpuset (0)");
	/* The workers were spawned, then stopped with their telemetry. */
	assert_int_equal(res->n_cgroups, 1);
	assert_int_equal(res->cgroups[0]->n_workers, 2);
	ktstr__scenario_result__free_unpacked(res, NULL);
	clean();
	/* So is a cgroup affinity at spawn. */
	res = run("name: t\nsteps:\n  - cgroups: [{name: b, cpuset: {exact: [1]}, workers: 1,\n"
		  "                affinity: {random_subset: {count: 2}}}]\n", NULL);
	expect_err(res, "step 0 cgroup 'b': affinity random_subset of 2 CPUs from a cpuset of 1");
	ktstr__scenario_result__free_unpacked(res, NULL);
}

/* A spec the host did not check (the guest cannot assume): a name that
 * does not exist is the scenario's error, not a crash. */
static void test_unknown_name(void **state)
{
	Ktstr__EntrySpec *es = spec("name: t\nbackdrop: [{name: a, workers: 1}]\n"
				    "steps:\n  - ops: [{stop_cgroup: a}]\n");
	Ktstr__ScenarioResult *res;

	(void)state;
	free(es->steps[0]->ops[0]->stop_cgroup);
	es->steps[0]->ops[0]->stop_cgroup = strdup("ghost");
	res = kt_runner_run(es, topo, base, NULL, NULL);
	expect_err(res, "step 0 ops[0] stop_cgroup: cgroup 'ghost' does not exist");
	ktstr__scenario_result__free_unpacked(res, NULL);
	ktstr__entry_spec__free_unpacked(es, NULL);
	clean();
}

/* A guest 5 times slower than its host waits 5 times as long. */
static void test_wait_scaled(void **state)
{
	struct kt_runner_time t = { 5000, 0 };
	Ktstr__ScenarioResult *res;

	(void)state;
	res = run_timed("name: t\nsteps:\n  - ops:\n"
			"      - {run_payload: {name: s, path: /bin/sleep, args: ['10']}}\n"
			"      - {wait_payload: {name: s, timeout_ms: 40}}\n"
			"    hold: {fixed_ms: 1}\n", NULL, &t, 1000);
	assert_true(res->ok);
	assert_true(res->payloads[0]->timed_out);
	assert_int_equal(res->payloads[0]->timeout_ms, 40);
	assert_int_equal(res->payloads[0]->scaled_timeout_ms, 200);
	assert_true(res->payloads[0]->slowdown == 5.0);
	assert_false(res->payloads[0]->clamped);
	/* Not killed before the scaled timeout. */
	assert_true(res->payloads[0]->run_ms >= 200);
	ktstr__scenario_result__free_unpacked(res, NULL);
}

/* The scaled wait ends before the guest watchdog, but never before the
 * timeout as written. */
static void test_wait_clamped(void **state)
{
	struct kt_runner_time t = { 100000, 0 };
	Ktstr__ScenarioResult *res;
	const char *yaml = "name: t\nsteps:\n  - ops:\n"
			   "      - {run_payload: {name: s, path: /bin/sleep, args: ['10']}}\n"
			   "      - {wait_payload: {name: s, timeout_ms: 50}}\n"
			   "    hold: {fixed_ms: 1}\n";

	(void)state;
	/* The watchdog is due now: no room beyond the written timeout. */
	t.deadline_ms = kt_now_ms();
	res = run_timed(yaml, NULL, &t, 1000);
	assert_true(res->payloads[0]->timed_out);
	assert_true(res->payloads[0]->slowdown == 100.0);
	assert_int_equal(res->payloads[0]->scaled_timeout_ms, 50);
	assert_true(res->payloads[0]->clamped);
	ktstr__scenario_result__free_unpacked(res, NULL);
	/* Room for 400 ms beyond the reserve and the 1 ms hold: less than
	 * 100 x 50 ms, so that much at most. */
	t.deadline_ms = kt_now_ms() + KT_RUNNER_END_RESERVE_MS + 1 + 400;
	res = run_timed(yaml, NULL, &t, 1000);
	assert_true(res->payloads[0]->clamped);
	assert_true(res->payloads[0]->scaled_timeout_ms > 50);
	assert_true(res->payloads[0]->scaled_timeout_ms <= 400);
	ktstr__scenario_result__free_unpacked(res, NULL);
}

/* Whether PID is gone (or a zombie), waiting up to 5 s for a SIGKILL to
 * land. */
static bool dead(pid_t pid)
{
	for (int i = 0; i < 500; i++) {
		char path[64], buf[256], *p;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if (!(f = fopen(path, "r")))
			return true;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (p && (p = strrchr(buf, ')')) && p[1] == ' ' && p[2] == 'Z')
			return true;
		usleep(10000);
	}
	return false;
}

/* A payload that ends leaves no child running: its process group is
 * killed. */
static void test_payload_group(void **state)
{
	Ktstr__ScenarioResult *res;
	long pid;

	(void)state;
	res = run("name: t\nsteps:\n  - ops:\n"
		  "      - {run_payload: {name: sh, path: /bin/sh, args: ['-c',\n"
		  "         'sleep 30 >/dev/null 2>&1 & echo $!']}}\n"
		  "      - {wait_payload: {name: sh, timeout_ms: 10000}}\n"
		  "    hold: {fixed_ms: 1}\n", NULL);
	assert_true(res->ok);
	assert_int_equal(res->payloads[0]->exit_code, 0);
	pid = strtol(res->payloads[0]->output, NULL, 10);
	assert_true(pid > 1);
	if (!dead((pid_t)pid)) {
		kill((pid_t)pid, SIGKILL);
		fail_msg("the payload's child %ld outlived it", pid);
	}
	ktstr__scenario_result__free_unpacked(res, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hooks),
		cmocka_unit_test(test_payloads),
		cmocka_unit_test(test_wait_scaled),
		cmocka_unit_test(test_wait_clamped),
		cmocka_unit_test(test_payload_group),
		cmocka_unit_test(test_affinity_outside),
		cmocka_unit_test(test_unknown_name),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
