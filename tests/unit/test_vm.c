/* The launcher (worker/vm.c) against a fake QEMU, and the outcome table
 * (kt_entry_classify) on hand-made guest reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "calib.h"
#include "entry.h"
#include "frame.h"
#include "vm.h"

/* ---- launcher ---- */

struct seen {
	int hello, log, result;
};

static int count_frames(void *ctx, unsigned type, const uint8_t *p, size_t len)
{
	struct seen *s = ctx;

	(void)p;
	(void)len;
	s->hello += type == KT_FRAME_HELLO;
	s->log += type == KT_FRAME_LOG;
	s->result += type == KT_FRAME_RESULT;
	return type == KT_FRAME_RESULT;
}

static int launch(const char *mode, unsigned budget, unsigned contact, struct seen *s,
		  struct kt_vm_outcome *out, struct kt_err *e)
{
	struct kt_vm_opts o = {0};

	setenv("FAKE_QEMU_MODE", mode, 1);
	o.qemu.qemu = FAKE_QEMU;
	o.qemu.kernel = "/nonexistent/vmlinuz";
	o.qemu.initrd = "/nonexistent/initrd";
	o.qemu.topo = (struct kt_topo){1, 1, 2, 1};
	o.budget_ms = budget;
	o.contact_timeout_ms = contact;
	o.on_frame = count_frames;
	o.ctx = s;
	memset(s, 0, sizeof(*s));
	return kt_vm_run(&o, out, e);
}

static void vm_pass_with_noise(void **state)
{
	struct kt_vm_outcome out;
	struct seen s;
	struct kt_err e;
	uint64_t t0 = kt_now_ms();

	(void)state;
	assert_int_equal(launch("pass", 20000, 10000, &s, &out, &e), 0);
	assert_true(out.contact);
	assert_true(out.done);
	assert_false(out.watchdog);
	assert_int_equal(s.hello, 1);
	assert_int_equal(s.log, 1);
	assert_int_equal(s.result, 1);
	assert_int_equal(out.frames_rejected, 1); /* the corrupted one */
	assert_non_null(strstr(out.frame_error, "CRC"));
	assert_true(out.kernel_seen);
	/* Stopped after the exit grace, not at the 20 s budget. */
	assert_true(kt_now_ms() - t0 < 9000);
}

static void vm_contact_timeout(void **state)
{
	struct kt_vm_outcome out;
	struct seen s;
	struct kt_err e;
	uint64_t t0 = kt_now_ms();

	(void)state;
	assert_int_equal(launch("hang-silent", 20000, 800, &s, &out, &e), 0);
	assert_false(out.contact);
	assert_true(out.contact_timeout);
	assert_false(out.watchdog);
	assert_true(kt_now_ms() - t0 < 5000);
}

static void vm_watchdog(void **state)
{
	struct kt_vm_outcome out;
	struct seen s;
	struct kt_err e;
	uint64_t t0 = kt_now_ms();

	(void)state;
	assert_int_equal(launch("hang-after-hello", 1200, 1000, &s, &out, &e), 0);
	assert_true(out.contact);
	assert_true(out.watchdog);
	assert_false(out.done);
	assert_int_equal(s.hello, 1);
	assert_true(kt_now_ms() - t0 < 5000);
}

static void vm_halted_and_panic(void **state)
{
	struct kt_vm_outcome out;
	struct seen s;
	struct kt_err e;
	uint64_t t0 = kt_now_ms();

	(void)state;
	assert_int_equal(launch("halt", 20000, 15000, &s, &out, &e), 0);
	assert_true(out.halted);
	assert_false(out.contact_timeout);
	assert_non_null(strstr(out.console_tail, "System halted"));
	assert_true(kt_now_ms() - t0 < 5000);

	assert_int_equal(launch("panic", 20000, 15000, &s, &out, &e), 0);
	assert_true(out.panic);
	assert_false(out.contact);
}

static void vm_stalled_frame_salvaged(void **state)
{
	struct kt_vm_outcome out;
	struct seen s;
	struct kt_err e;

	(void)state;
	assert_int_equal(launch("stalled-frame", 20000, 15000, &s, &out, &e), 0);
	assert_true(out.contact);
	assert_int_equal(s.hello, 1);
	assert_true(out.frames_rejected >= 1);
}

static void vm_qemu_exits_early(void **state)
{
	struct kt_vm_outcome out;
	struct seen s;
	struct kt_err e = {{0}};

	(void)state;
	assert_int_equal(launch("exit-early", 20000, 15000, &s, &out, &e), -1);
	assert_non_null(strstr(e.msg, "cannot start"));
}

/* ---- outcome table ---- */

struct fixture {
	struct kt_scenario *sc;
	Ktstr__EntrySpec *spec;
	struct kt_entry_req req;
	struct kt_kernel kernel;
	Ktstr__Hello hello;
	Ktstr__CpuInfo cpu[2], *cpup[2];
	uint32_t sib[2][1];
	Ktstr__GuestTopology topo;
	Ktstr__WorkerStats w[2], *wp[2];
	uint32_t seen[2][2];
	uint32_t cg_cpus[2];
	Ktstr__CgroupStats cg, *cgp[1];
	Ktstr__ScenarioResult res;
	Ktstr__SchedulerState sched_state;
	struct kt_entry_sched sched;
	struct kt_entry_result r;
};

static struct fixture *fixture(void)
{
	static const char yaml[] = "name: t\nsteps:\n  - cgroups:\n"
				   "      - {name: cg_0, workers: 2, work: cpu_spin}\n";
	struct fixture *f = calloc(1, sizeof(*f));
	struct kt_err e;
	uint8_t *buf;
	size_t len;

	assert_int_equal(kt_scenario_parse(yaml, strlen(yaml), "t.yaml", &f->sc, &e), 0);
	assert_int_equal(kt_scenario_entry_spec(f->sc, 1000, 2, 30000, &buf, &len, &e), 0);
	f->spec = ktstr__entry_spec__unpack(NULL, len, buf);
	free(buf);
	f->req.topo = (struct kt_topo){1, 1, 2, 1};
	f->req.scenario = f->sc;
	f->req.kernel = &f->kernel;
	ktstr__hello__init(&f->hello);
	ktstr__guest_topology__init(&f->topo);
	f->topo.cpus = 2, f->topo.llcs = 1, f->topo.cores = 2;
	f->topo.threads_per_core = 1, f->topo.numa_nodes = 1;
	for (int i = 0; i < 2; i++) {
		ktstr__cpu_info__init(&f->cpu[i]);
		f->cpu[i].cpu = i;
		f->cpu[i].core = i;
		f->sib[i][0] = i;
		f->cpu[i].siblings = f->sib[i];
		f->cpu[i].n_siblings = 1;
		f->cpup[i] = &f->cpu[i];
		ktstr__worker_stats__init(&f->w[i]);
		f->w[i].work_units = 1000;
		f->w[i].cpu_ns = 500000000;
		f->w[i].wall_ns = 1000000000;
		f->w[i].max_gap_ns = 10000000;
		f->seen[i][0] = 0, f->seen[i][1] = 1;
		f->w[i].cpus_seen = f->seen[i];
		f->w[i].n_cpus_seen = 2;
		f->wp[i] = &f->w[i];
	}
	f->topo.cpu = f->cpup;
	f->topo.n_cpu = 2;
	ktstr__cgroup_stats__init(&f->cg);
	f->cg.name = "cg_0";
	f->cg_cpus[0] = 0, f->cg_cpus[1] = 1;
	f->cg.cpus = f->cg_cpus;
	f->cg.n_cpus = 2;
	f->cg.workers = f->wp;
	f->cg.n_workers = 2;
	f->cgp[0] = &f->cg;
	ktstr__scenario_result__init(&f->res);
	f->res.ok = 1;
	f->res.cgroups = f->cgp;
	f->res.n_cgroups = 1;
	f->res.error = "";
	/* A guest that answered and completed; tests then break one thing. */
	f->r.vm.contact = true;
	f->r.hello = &f->hello;
	f->r.gtopo = &f->topo;
	f->r.result = &f->res;
	return f;
}

static enum kt_status outcome(struct fixture *f)
{
	kt_entry_classify(&f->req, f->spec, &f->r);
	return f->r.status;
}

static void fixture_free(struct fixture *f)
{
	free(f->r.checks);
	ktstr__entry_spec__free_unpacked(f->spec, NULL);
	kt_scenario_free(f->sc);
	free(f);
}

#define EXPECT(f, status, text)                                                              \
	do {                                                                                 \
		assert_int_equal(outcome(f), status);                                        \
		if (!strstr((f)->r.message, text))                                           \
			fail_msg("message '%s' lacks '%s'", (f)->r.message, text);           \
		fixture_free(f);                                                             \
	} while (0)

static void table_pass(void **state)
{
	struct fixture *f = fixture();

	(void)state;
	assert_int_equal(outcome(f), KT_PASS);
	assert_int_equal(f->r.n_checks, 3);
	fixture_free(f);
}

static void table_no_contact(void **state)
{
	struct fixture *f = fixture();

	(void)state;
	f->r.vm.contact = false, f->r.hello = NULL, f->r.vm.panic = true;
	EXPECT(f, KT_INFRA, "panic before the guest agent");
	f = fixture();
	f->r.vm.contact = false, f->r.hello = NULL, f->r.vm.halted = true;
	EXPECT(f, KT_INFRA, "boot stub halted");
	f = fixture();
	f->r.vm.contact = false, f->r.hello = NULL, f->r.vm.contact_timeout = true;
	EXPECT(f, KT_INFRA, "no guest agent contact");
}

static void table_no_result(void **state)
{
	struct fixture *f = fixture();

	(void)state;
	f->r.result = NULL, f->r.vm.panic = true;
	EXPECT(f, KT_FAIL, "kernel panic while the guest agent was running");
	f = fixture();
	f->r.result = NULL, f->r.vm.panic = true;
	strcpy(f->r.vm.console_tail, "Kernel panic - not syncing: Attempted to kill init!");
	EXPECT(f, KT_INFRA, "guest agent (PID 1) died");
	f = fixture();
	f->r.result = NULL, f->r.vm.watchdog = true;
	EXPECT(f, KT_INFRA, "host watchdog");
}

static void table_result_kinds(void **state)
{
	struct fixture *f = fixture();

	(void)state;
	f->res.ok = 0, f->res.kind = KTSTR__SCENARIO_RESULT__KIND__SCENARIO_ERROR;
	f->res.error = "llc 3 out of range";
	EXPECT(f, KT_ERROR, "llc 3 out of range");
	f = fixture();
	f->res.ok = 0, f->res.kind = KTSTR__SCENARIO_RESULT__KIND__GUEST_SETUP;
	f->res.error = "mount cgroup2";
	EXPECT(f, KT_INFRA, "mount cgroup2");
	f = fixture();
	f->res.ok = 0, f->res.kind = KTSTR__SCENARIO_RESULT__KIND__WATCHDOG;
	f->res.error = "guest watchdog expired after 3000 ms";
	EXPECT(f, KT_FAIL, "guest watchdog");
	f = fixture();
	f->res.ok = 0, f->res.kind = KTSTR__SCENARIO_RESULT__KIND__WORKER_DIED;
	f->res.error = "worker 1 died of signal 11";
	EXPECT(f, KT_FAIL, "signal 11");
}

static void table_mismatches(void **state)
{
	struct fixture *f = fixture();

	(void)state;
	f->topo.llcs = 2, f->cpu[1].llc = 1;
	EXPECT(f, KT_INFRA, "guest topology differs");
	f = fixture();
	f->cg.n_cpus = 1; /* the cgroup ran on fewer CPUs than its cpuset */
	EXPECT(f, KT_INFRA, "resolves to 0-1 but the guest ran it on 0");
	f = fixture();
	f->res.n_cgroups = 0;
	EXPECT(f, KT_INFRA, "reported 0 cgroups, the scenario has 1");
	f = fixture();
	f->cg.n_workers = 1;
	EXPECT(f, KT_INFRA, "reported 1 workers of 2");
}

static void table_check_fails(void **state)
{
	struct fixture *f = fixture();

	(void)state;
	f->w[1].work_units = 0;
	EXPECT(f, KT_FAIL, "not_starved.work");
	f = fixture();
	f->w[0].max_gap_ns = 2500000000ull;
	EXPECT(f, KT_FAIL, "not_starved.gap");
}

/* Time thresholds scale with the guest's measured slowdown (Hello.calib_ns
 * against this process's own measurement); without one they do not. */
static void table_speed(void **state)
{
	struct fixture *f = fixture();
	struct kt_checks_cfg cfg;
	uint64_t host = kt_calib_host_ns();

	(void)state;
	f->w[0].max_gap_ns = 2500000000ull; /* over 2000 ms, under 3 x 2000 */
	f->hello.calib_ns = 3 * host;
	assert_int_equal(outcome(f), KT_PASS);
	assert_true(f->r.speed.guest_ns == 3 * host && f->r.speed.host_ns == host);
	assert_true(f->r.speed.factor == 3);
	assert_string_equal(f->r.checks[2].name, "not_starved.gap");
	assert_true(f->r.checks[2].threshold == 6000);
	if (!strstr(f->r.checks[2].message, "threshold 6000.0 ms (2000 ms x 3.0 measured slowdown)"))
		fail_msg("gap message: %s", f->r.checks[2].message);
	fixture_free(f);

	/* The request's thresholds are scaled the same way. */
	f = fixture();
	kt_checks_cfg_default(&cfg);
	cfg.max_gap_ms = 1000;
	f->req.checks = &cfg;
	f->w[0].max_gap_ns = 2500000000ull;
	f->hello.calib_ns = 3 * host;
	assert_int_equal(outcome(f), KT_PASS);
	fixture_free(f);

	/* An agent that did not measure: no scaling. */
	f = fixture();
	f->w[0].max_gap_ns = 2500000000ull;
	f->hello.calib_ns = 0;
	EXPECT(f, KT_FAIL, "exceeds 2000.0 ms; 1 of 2 workers over");
	f = fixture();
	f->hello.calib_ns = host / 2; /* faster than the host: never stricter */
	assert_int_equal(outcome(f), KT_PASS);
	assert_true(f->r.speed.factor == 1);
	fixture_free(f);
}

/* The same guest report with scx-ktstr under test: STATE is what the
 * guest saw of it. */
static struct fixture *sched_fixture(bool expect_err, Ktstr__SchedulerState__Failure failure)
{
	struct fixture *f = fixture();

	f->sched.name = "scx-ktstr";
	f->sched.binary = "/nonexistent/scx-ktstr";
	f->sched.expect_err = expect_err;
	f->req.sched = &f->sched;
	ktstr__scheduler_state__init(&f->sched_state);
	f->sched_state.name = "scx-ktstr";
	f->sched_state.enabled = failure != KTSTR__SCHEDULER_STATE__FAILURE__NOT_ENABLED &&
				 failure != KTSTR__SCHEDULER_STATE__FAILURE__VERIFIER;
	f->sched_state.failure = failure;
	f->sched_state.output = "";
	f->sched_state.message = "";
	f->sched_state.reason = "";
	if (failure == KTSTR__SCHEDULER_STATE__FAILURE__STALL) {
		f->sched_state.exited = true;
		f->sched_state.exit_kind = 1026;
		f->sched_state.reason = "runnable task stall";
		f->sched_state.message = "kworker/0:1[29] failed to run for 3.1s";
		/* the runner stopped early: fewer cgroups than the spec */
		f->res.n_cgroups = 0;
	}
	f->res.scheduler = &f->sched_state;
	return f;
}

static void table_scheduler(void **state)
{
	struct fixture *f;

	(void)state;
	/* survived, not expected to fail: the checks judge */
	f = sched_fixture(false, KTSTR__SCHEDULER_STATE__FAILURE__NONE);
	EXPECT(f, KT_PASS, "checks passed");
	f = sched_fixture(false, KTSTR__SCHEDULER_STATE__FAILURE__NONE);
	f->w[1].work_units = 0;
	EXPECT(f, KT_FAIL, "not_starved.work");
	/* a stall: fail with its signature, unjudged (cgroups cut short) */
	f = sched_fixture(false, KTSTR__SCHEDULER_STATE__FAILURE__STALL);
	EXPECT(f, KT_FAIL, "stall (exit kind 1026: runnable task stall)");
	f = sched_fixture(true, KTSTR__SCHEDULER_STATE__FAILURE__STALL);
	assert_int_equal(outcome(f), KT_PASS);
	assert_int_equal(f->r.n_checks, 0);
	EXPECT(f, KT_PASS, "failed as expected: stall (exit kind 1026");
	/* expected to fail, did not */
	f = sched_fixture(true, KTSTR__SCHEDULER_STATE__FAILURE__NONE);
	EXPECT(f, KT_FAIL, "a failure was expected");
	/* never enabled: fail with its output, also under expect_err */
	f = sched_fixture(true, KTSTR__SCHEDULER_STATE__FAILURE__NOT_ENABLED);
	f->sched_state.output = "scx-ktstr: attach failed: Device or resource busy\n";
	EXPECT(f, KT_FAIL, "never enabled: scx-ktstr: attach failed: Device or resource busy");
	/* the guest found no sched_ext at all (the kernel's config was unknown) */
	f = sched_fixture(false, KTSTR__SCHEDULER_STATE__FAILURE__NOT_ENABLED);
	f->sched_state.message = "not enabled within 30000 ms (state: no "
				 "/sys/kernel/sched_ext/state: no sched_ext in this kernel)";
	EXPECT(f, KT_SKIP, "needs sched_ext");
	/* a verifier rejection is a failure expect_err can expect */
	f = sched_fixture(true, KTSTR__SCHEDULER_STATE__FAILURE__VERIFIER);
	EXPECT(f, KT_PASS, "failed as expected: verifier");
	/* no state from the guest: the agent's fault */
	f = sched_fixture(false, KTSTR__SCHEDULER_STATE__FAILURE__NONE);
	f->res.scheduler = NULL;
	EXPECT(f, KT_INFRA, "no state of scheduler scx-ktstr");
	/* a guest watchdog expiry is a hang: fail, with or without the state */
	f = sched_fixture(false, KTSTR__SCHEDULER_STATE__FAILURE__NONE);
	f->res.scheduler = NULL;
	f->res.ok = 0, f->res.kind = KTSTR__SCENARIO_RESULT__KIND__WATCHDOG;
	f->res.error = "guest watchdog expired after 3000 ms";
	EXPECT(f, KT_FAIL, "expired after 3000 ms (the guest agent reported no state of scheduler");
	f = sched_fixture(false, KTSTR__SCHEDULER_STATE__FAILURE__NONE);
	f->res.ok = 0, f->res.kind = KTSTR__SCENARIO_RESULT__KIND__WATCHDOG;
	f->res.error = "guest watchdog expired after 3000 ms";
	EXPECT(f, KT_FAIL, "expired after 3000 ms (scheduler scx-ktstr still enabled)");
	/* even an expected failure: the hang is not what was expected */
	f = sched_fixture(true, KTSTR__SCHEDULER_STATE__FAILURE__STALL);
	f->res.ok = 0, f->res.kind = KTSTR__SCENARIO_RESULT__KIND__WATCHDOG;
	f->res.error = "guest watchdog expired after 3000 ms";
	EXPECT(f, KT_FAIL, "(scheduler scx-ktstr had failed: stall (exit kind 1026");
	/* the scenario's own error stays an error */
	f = sched_fixture(false, KTSTR__SCHEDULER_STATE__FAILURE__STALL);
	f->res.ok = 0;
	f->res.kind = KTSTR__SCENARIO_RESULT__KIND__SCENARIO_ERROR;
	f->res.error = "step 0: no such cgroup";
	EXPECT(f, KT_ERROR, "no such cgroup");
}

/* A kernel without sched_ext never boots for a sched_ext scheduler. */
static void sched_needs_sched_ext(void **state)
{
	struct fixture *f = sched_fixture(false, KTSTR__SCHEDULER_STATE__FAILURE__NONE);
	struct kt_entry_result r;
	struct kt_err e;

	(void)state;
	f->req.cache_dir = "/nonexistent";
	f->req.agent = "/nonexistent/ktstr-guest";
	f->req.duration_ms = 1000;
	f->req.workers = 2;
	f->kernel.has_sched_ext = 0;
	snprintf(f->kernel.version, sizeof(f->kernel.version), "6.1.0-40-cloud-amd64");
	assert_int_equal(kt_entry_run(&f->req, &r, &e), 0);
	assert_int_equal(r.status, KT_SKIP);
	assert_non_null(strstr(r.message, "kernel 6.1.0-40-cloud-amd64 has none"));
	kt_entry_result_free(&r);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vm_pass_with_noise),
		cmocka_unit_test(vm_contact_timeout),
		cmocka_unit_test(vm_watchdog),
		cmocka_unit_test(vm_halted_and_panic),
		cmocka_unit_test(vm_stalled_frame_salvaged),
		cmocka_unit_test(vm_qemu_exits_early),
		cmocka_unit_test(table_pass),
		cmocka_unit_test(table_no_contact),
		cmocka_unit_test(table_no_result),
		cmocka_unit_test(table_result_kinds),
		cmocka_unit_test(table_mismatches),
		cmocka_unit_test(table_check_fails),
		cmocka_unit_test(table_speed),
		cmocka_unit_test(table_scheduler),
		cmocka_unit_test(sched_needs_sched_ext),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
