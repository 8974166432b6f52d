/* Outcomes as the farm carries them (worker/outcome.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "outcome.h"

static const struct kt_outcome_meta meta = {42, 3, "host-a", 1700000000000ull, 1700000005000ull};

static void status_names(void **state)
{
	enum kt_status s;

	(void)state;
	for (enum kt_status i = KT_PASS; i <= KT_SKIP; i++) {
		assert_int_equal(kt_outcome_status_parse(kt_status_name(i), &s), 0);
		assert_int_equal(s, i);
	}
	assert_int_equal(kt_outcome_status_parse("infra", &s), 0);
	assert_int_equal(s, KT_INFRA);
	assert_int_equal(kt_outcome_status_parse("PASS", &s), -1);
	assert_int_equal(kt_outcome_status_parse("?", &s), -1);
	assert_int_equal(kt_outcome_status_parse("", &s), -1);
}

static void status_only(void **state)
{
	Ktstr__EntryOutcome *o;
	uint8_t *buf;
	size_t len;
	struct kt_err e;

	(void)state;
	assert_int_equal(kt_outcome_pack_status(&meta, KT_SKIP, "scheduler scx_x: not yet", &buf,
						&len, &e), 0);
	assert_int_equal(kt_outcome_unpack(buf, len, &o, &e), 0);
	assert_int_equal(o->ref->entry_id, 42);
	assert_int_equal(o->ref->attempt, 3);
	assert_string_equal(o->worker_id, "host-a");
	assert_string_equal(o->status, "skip");
	assert_string_equal(o->message, "scheduler scx_x: not yet");
	assert_true(o->has_started_at && o->has_ended_at);
	assert_int_equal(o->started_at, 1700000000000ull);
	assert_int_equal(o->ended_at, 1700000005000ull);
	assert_null(o->accel);
	assert_null(o->result);
	assert_int_equal(o->n_checks, 0);
	ktstr__entry_outcome__free_unpacked(o, NULL);
	free(buf);
}

/* A finished run's result as kt_entry_run leaves it. */
struct fake_run {
	struct kt_entry_result r;
	Ktstr__Hello hello;
	Ktstr__GuestTopology topo;
	Ktstr__ScenarioResult res;
	Ktstr__CgroupStats cg, *cgs[1];
	Ktstr__WorkerStats w, **ws;
	uint32_t cpus[2];
	struct kt_check checks[2];
};

static void fake_run(struct fake_run *f, size_t workers)
{
	memset(f, 0, sizeof(*f));
	ktstr__hello__init(&f->hello);
	f->hello.kernel_release = "7.2.0-1-cloud-amd64";
	ktstr__guest_topology__init(&f->topo);
	f->topo.cpus = 2;
	f->topo.llcs = 1;
	ktstr__worker_stats__init(&f->w);
	f->w.work_units = 1000;
	f->cpus[0] = 0;
	f->cpus[1] = 1;
	f->w.n_cpus_seen = 2;
	f->w.cpus_seen = f->cpus;
	f->ws = calloc(workers, sizeof(*f->ws));
	for (size_t i = 0; i < workers; i++)
		f->ws[i] = &f->w;
	ktstr__cgroup_stats__init(&f->cg);
	f->cg.name = "cg_0";
	f->cg.n_workers = workers;
	f->cg.workers = f->ws;
	f->cgs[0] = &f->cg;
	ktstr__scenario_result__init(&f->res);
	f->res.ok = 1;
	f->res.run_ms = 2001;
	f->res.n_cgroups = 1;
	f->res.cgroups = f->cgs;
	f->r.status = KT_FAIL;
	snprintf(f->r.message, sizeof(f->r.message), "1 of 2 checks failed");
	f->r.accel = KT_ACCEL_TCG;
	snprintf(f->r.accel_why, sizeof(f->r.accel_why), "/dev/kvm: no such file");
	f->r.boot_ms = 2100;
	f->r.run_ms = 2001;
	f->r.total_ms = 4500;
	f->r.hello = &f->hello;
	f->r.gtopo = &f->topo;
	f->r.result = &f->res;
	snprintf(f->checks[0].name, sizeof(f->checks[0].name), "not_starved.work");
	f->checks[0].passed = true;
	snprintf(f->checks[1].name, sizeof(f->checks[1].name), "not_starved.gap");
	f->checks[1].value = 2500;
	f->checks[1].threshold = 2000;
	snprintf(f->checks[1].message, sizeof(f->checks[1].message), "cg_0 worker 1: 2500 ms");
	f->r.checks = f->checks;
	f->r.n_checks = 2;
	f->r.logs[0] = "guest: hello";
	f->r.n_logs = 1;
	snprintf(f->r.vm.console_tail, sizeof(f->r.vm.console_tail), "[ 1.0] Linux version 7.2");
}

static void full_result(void **state)
{
	struct fake_run f;
	Ktstr__EntryOutcome *o;
	uint8_t *buf;
	size_t len;
	struct kt_err e;

	(void)state;
	fake_run(&f, 2);
	assert_int_equal(kt_outcome_pack_result(&meta, &f.r, &buf, &len, &e), 0);
	assert_int_equal(kt_outcome_unpack(buf, len, &o, &e), 0);
	assert_string_equal(o->status, "fail");
	assert_string_equal(o->message, "1 of 2 checks failed");
	assert_string_equal(o->accel, "tcg");
	assert_int_equal(o->boot_ms, 2100);
	assert_int_equal(o->run_ms, 2001);
	assert_int_equal(o->total_ms, 4500);
	assert_string_equal(o->guest_kernel, "7.2.0-1-cloud-amd64");
	assert_int_equal(o->guest_topology->cpus, 2);
	assert_int_equal(o->result->n_cgroups, 1);
	assert_int_equal(o->result->cgroups[0]->n_workers, 2);
	assert_int_equal(o->result->cgroups[0]->workers[1]->work_units, 1000);
	assert_int_equal(o->n_checks, 2);
	assert_string_equal(o->checks[1]->name, "not_starved.gap");
	assert_false(o->checks[1]->passed);
	assert_true(o->checks[1]->value == 2500 && o->checks[1]->threshold == 2000);
	assert_string_equal(o->checks[1]->message, "cg_0 worker 1: 2500 ms");
	assert_int_equal(o->n_logs, 1);
	assert_string_equal(o->logs[0], "guest: hello");
	assert_string_equal(o->console_tail, "[ 1.0] Linux version 7.2");
	ktstr__entry_outcome__free_unpacked(o, NULL);
	free(buf);

	/* never got to choose an accelerator: no accel claimed */
	f.r.accel_why[0] = 0;
	f.r.hello = NULL;
	assert_int_equal(kt_outcome_pack_result(&meta, &f.r, &buf, &len, &e), 0);
	assert_int_equal(kt_outcome_unpack(buf, len, &o, &e), 0);
	assert_null(o->accel);
	assert_null(o->guest_kernel);
	ktstr__entry_outcome__free_unpacked(o, NULL);
	free(buf);
	free(f.ws);
}

/* A result over KT_OUTCOME_MAX keeps verdict and checks, drops telemetry. */
static void oversized_result(void **state)
{
	const size_t workers = 500000;
	struct fake_run f;
	Ktstr__EntryOutcome *o;
	uint8_t *buf;
	size_t len;
	struct kt_err e;

	(void)state;
	fake_run(&f, workers);
	assert_true(ktstr__scenario_result__get_packed_size(&f.res) > KT_OUTCOME_MAX);
	assert_int_equal(kt_outcome_pack_result(&meta, &f.r, &buf, &len, &e), 0);
	assert_true(len <= KT_OUTCOME_MAX);
	assert_int_equal(kt_outcome_unpack(buf, len, &o, &e), 0);
	assert_null(o->result);
	assert_string_equal(o->status, "fail");
	assert_int_equal(o->n_checks, 2);
	assert_int_equal(o->n_logs, 2);
	assert_non_null(strstr(o->logs[1], "per-worker telemetry dropped"));
	ktstr__entry_outcome__free_unpacked(o, NULL);
	free(buf);
	free(f.ws);
}

static void unpack_rejects(void **state)
{
	Ktstr__EntryOutcome o = KTSTR__ENTRY_OUTCOME__INIT, *got;
	Ktstr__EntryRef ref = KTSTR__ENTRY_REF__INIT;
	uint8_t buf[256], *big;
	size_t n;
	struct kt_err e;

	(void)state;
	assert_int_equal(kt_outcome_unpack((const uint8_t *)"\xff\xff\xff", 3, &got, &e), -1);
	assert_null(got);
	assert_non_null(strstr(e.msg, "do not unpack"));
	ref.entry_id = 9;
	ref.attempt = 1;
	o.ref = &ref;
	o.status = "weird\x01";
	n = ktstr__entry_outcome__pack(&o, buf);
	assert_int_equal(kt_outcome_unpack(buf, n, &got, &e), -1);
	assert_string_equal(e.msg, "outcome of entry 9 attempt 1: unknown status 'weird?'");
	big = calloc(1, KT_OUTCOME_MAX + 1);
	assert_int_equal(kt_outcome_unpack(big, KT_OUTCOME_MAX + 1, &got, &e), -1);
	assert_non_null(strstr(e.msg, "more than"));
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(status_names),
		cmocka_unit_test(status_only),
		cmocka_unit_test(full_result),
		cmocka_unit_test(oversized_result),
		cmocka_unit_test(unpack_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
