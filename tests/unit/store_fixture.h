/* Synthetic farm data for the store and query tests: entries as the
 * coordinator adds them and outcomes as a worker reports them. */
#ifndef KTSTR_TEST_STORE_FIXTURE_H
#define KTSTR_TEST_STORE_FIXTURE_H
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "store.h"

#define FX_MS 1000000ull

/* An outcome of entry ENTRY, attempt ATTEMPT: two checks (the second is
 * FAILED_CHECK, failing, when given), one cgroup of two workers on CPUs
 * 0-1, a console tail and a log line. */
struct ofx {
	Ktstr__EntryOutcome o;
	Ktstr__EntryRef ref;
	Ktstr__CheckResult ck[2], *ckp[2];
	Ktstr__ScenarioResult res;
	Ktstr__CgroupStats cg, *cgp[1];
	Ktstr__WorkerStats w[2], *wp[2];
	Ktstr__GuestTopology topo;
	uint32_t cpus[2], seen[2][2];
	char *logs[1];
	Ktstr__SchedulerState sched;
	Ktstr__Snapshot snap[2], *snapp[2];
};

/* A failure dump as guest/mapdump.h documents it: scx-ktstr's .bss after a
 * forced stall (stall = 1), its .rodata, a hash map keyed by pid and a
 * per-CPU array on two CPUs. */
#define FX_DUMP_JSON \
	"{\"schema\": \"ktstr-dump-1\",\n" \
	" \"maps\": [\n" \
	"  {\"name\": \"scx_ktst.bss\", \"map_type\": \"array\", \"key_size\": 4,\n" \
	"   \"value_size\": 24, \"max_entries\": 1, \"map_flags\": 1024,\n" \
	"   \"entries\": [{\"key\": 0, \"value\": {\"kind\": \"struct\", \"type_name\": \".bss\",\n" \
	"     \"members\": [\n" \
	"      {\"name\": \"stall\", \"value\": {\"kind\": \"uint\", \"bits\": 32, \"value\": 1}},\n" \
	"      {\"name\": \"nr_enqueued\", \"value\": {\"kind\": \"uint\", \"bits\": 64, \"value\": 4711}},\n" \
	"      {\"name\": \"nr_dispatched\", \"value\": {\"kind\": \"uint\", \"bits\": 64, \"value\": 4700}},\n" \
	"      {\"name\": \"nr_cpus\", \"value\": {\"kind\": \"int\", \"bits\": 32, \"value\": 2}},\n" \
	"      {\"name\": \"\", \"value\": {\"kind\": \"union\", \"members\": [\n" \
	"        {\"name\": \"raw\", \"value\": {\"kind\": \"uint\", \"bits\": 32, \"value\": 9}}]}},\n" \
	"      {\"name\": \"seen\", \"value\": {\"kind\": \"array\", \"len\": 4, \"elements\": [\n" \
	"        {\"kind\": \"uint\", \"bits\": 8, \"value\": 3}, {\"kind\": \"uint\", \"bits\": 8,\n" \
	"         \"value\": 4}], \"truncated\": 2}}]}}],\n" \
	"   \"truncated\": false},\n" \
	"  {\"name\": \"scx_ktst.rodata\", \"map_type\": \"array\", \"key_size\": 4,\n" \
	"   \"value_size\": 8, \"max_entries\": 1, \"map_flags\": 1152,\n" \
	"   \"entries\": [{\"key\": 0, \"value\": {\"kind\": \"struct\", \"type_name\": \".rodata\",\n" \
	"     \"members\": [\n" \
	"      {\"name\": \"stall_after_s\", \"value\": {\"kind\": \"uint\", \"bits\": 32, \"value\": 1}},\n" \
	"      {\"name\": \"mode\", \"value\": {\"kind\": \"enum\", \"type_name\": \"ktstr_mode\",\n" \
	"        \"bits\": 32, \"value\": \"MODE_STALL\", \"raw\": 2}}]}}],\n" \
	"   \"truncated\": false},\n" \
	"  {\"name\": \"task_ctx\", \"map_type\": \"hash\", \"key_size\": 4, \"value_size\": 16,\n" \
	"   \"max_entries\": 1024, \"map_flags\": 0,\n" \
	"   \"entries\": [{\"key\": {\"kind\": \"int\", \"bits\": 32, \"value\": 42},\n" \
	"     \"value\": {\"kind\": \"struct\", \"type_name\": \"task_ctx\", \"members\": [\n" \
	"      {\"name\": \"comm\", \"value\": {\"kind\": \"string\", \"len\": 16,\n" \
	"        \"value\": \"worker-0\"}},\n" \
	"      {\"name\": \"last_cpu\", \"value\": {\"kind\": \"int\", \"bits\": 32, \"value\": -1}}]}}],\n" \
	"   \"truncated\": false},\n" \
	"  {\"name\": \"pcpu_stats\", \"map_type\": \"percpu_array\", \"key_size\": 4,\n" \
	"   \"value_size\": 8, \"max_entries\": 1, \"map_flags\": 0,\n" \
	"   \"entries\": [{\"key\": 0, \"percpu\": [\n" \
	"     {\"kind\": \"uint\", \"bits\": 64, \"value\": 10},\n" \
	"     {\"kind\": \"uint\", \"bits\": 64, \"value\": 20}]}],\n" \
	"   \"truncated\": false},\n" \
	"  {\"name\": \"events\", \"map_type\": \"ringbuf\", \"key_size\": 0, \"value_size\": 0,\n" \
	"   \"max_entries\": 4096, \"map_flags\": 0, \"skipped\": \"not readable by lookup\"}],\n" \
	" \"errors\": [\"map 7: no BTF\"]}\n"

/* F's scheduler (scx-ktstr) failed with FAILURE, the kernel's EXIT_KIND
 * and REASON, leaving DUMP (NULL = none), a kernel dump and a log tail;
 * plus two snapshots: "mid" captured, "late" failed. */
static inline void ofx_sched(struct ofx *f, Ktstr__SchedulerState__Failure failure,
			     uint32_t exit_kind, const char *reason, const char *dump)
{
	ktstr__scheduler_state__init(&f->sched);
	f->sched.name = "scx-ktstr";
	f->sched.enabled = true;
	f->sched.exited = failure != KTSTR__SCHEDULER_STATE__FAILURE__NONE;
	f->sched.failure = failure;
	f->sched.exit_kind = exit_kind;
	f->sched.reason = (char *)(reason ? reason : "");
	f->sched.message = exit_kind ? "scx_ktstr[120] failed to run for 3.100s" : "";
	f->sched.exit_status = 2;
	f->sched.exited_after_ms = 3100;
	f->sched.output = "scx-ktstr: enabled\nscx-ktstr: exit kind=1026\n";
	f->sched.kernel_dump = "sched_ext: BPF scheduler \"ktstr\" errored, disabling\n"
			       "CPU 0   : nr_run=3 flags=0x1\n";
	f->sched.klog_tail = "[    5.1] sched_ext: runnable task stall\n";
	f->res.scheduler = &f->sched;
	f->res.dump_json = (char *)(dump ? dump : "");
	for (int i = 0; i < 2; i++) {
		ktstr__snapshot__init(&f->snap[i]);
		f->snapp[i] = &f->snap[i];
	}
	f->snap[0].name = "mid";
	f->snap[0].json = FX_DUMP_JSON;
	f->snap[0].at_ms = 900;
	f->snap[1].name = "late";
	f->snap[1].json = "";
	f->snap[1].error = "scheduler gone";
	f->snap[1].at_ms = 1900;
	f->res.snapshots = f->snapp;
	f->res.n_snapshots = 2;
}

static inline void ofx_init(struct ofx *f, uint64_t entry, uint32_t attempt, const char *status,
			    const char *failed_check)
{
	memset(f, 0, sizeof(*f));
	ktstr__entry_outcome__init(&f->o);
	ktstr__entry_ref__init(&f->ref);
	f->ref.entry_id = entry;
	f->ref.attempt = attempt;
	f->o.ref = &f->ref;
	f->o.worker_id = "w1";
	f->o.status = (char *)status;
	f->o.message = "synthetic";
	f->o.accel = "tcg";
	f->o.has_boot_ms = f->o.has_run_ms = f->o.has_total_ms = true;
	f->o.boot_ms = 2100;
	f->o.run_ms = 2000;
	f->o.total_ms = 4400;
	f->o.guest_kernel = "7.2.0-cloud-amd64";
	ktstr__guest_topology__init(&f->topo);
	f->topo.cpus = 2;
	f->topo.llcs = 1;
	f->topo.cores = 2;
	f->topo.threads_per_core = 1;
	f->topo.numa_nodes = 1;
	f->o.guest_topology = &f->topo;
	for (int i = 0; i < 2; i++) {
		ktstr__check_result__init(&f->ck[i]);
		f->ck[i].passed = true;
		f->ck[i].has_value = f->ck[i].has_threshold = true;
		f->ckp[i] = &f->ck[i];
	}
	f->ck[0].name = "not_starved.work";
	f->ck[1].name = failed_check ? (char *)failed_check : "not_starved.gap";
	f->ck[1].passed = !failed_check;
	f->ck[1].value = failed_check ? 2500 : 10;
	f->ck[1].threshold = 2000;
	f->ck[1].message = failed_check ? "worker 1 of cg_0: gap 2500 ms" : NULL;
	f->o.checks = f->ckp;
	f->o.n_checks = 2;
	ktstr__scenario_result__init(&f->res);
	f->res.ok = true;
	f->res.run_ms = 2000;
	ktstr__cgroup_stats__init(&f->cg);
	f->cg.name = "cg_0";
	f->cpus[0] = 0;
	f->cpus[1] = 1;
	f->cg.cpus = f->cpus;
	f->cg.n_cpus = 2;
	for (int i = 0; i < 2; i++) {
		ktstr__worker_stats__init(&f->w[i]);
		f->w[i].work_type = KTSTR__WORK_TYPE__WORK_YIELD_HEAVY;
		f->w[i].work_units = 1000 + i;
		f->w[i].cpu_ns = 900 * FX_MS;
		f->w[i].wall_ns = 1000 * FX_MS;
		f->w[i].max_gap_ns = 10 * FX_MS;
		f->w[i].migrations = 3;
		f->seen[i][0] = 1;
		f->seen[i][1] = 0;
		f->w[i].cpus_seen = f->seen[i];
		f->w[i].n_cpus_seen = 2;
		f->wp[i] = &f->w[i];
	}
	f->cg.workers = f->wp;
	f->cg.n_workers = 2;
	f->cgp[0] = &f->cg;
	f->res.cgroups = f->cgp;
	f->res.n_cgroups = 1;
	f->o.result = &f->res;
	f->o.console_tail = "[    0.000000] Linux version 7.2\nktstr-guest: done\n";
	f->logs[0] = "agent: scenario done";
	f->o.logs = f->logs;
	f->o.n_logs = 1;
}

/* Entry fields named after TEST and KERNEL; NAME is a buffer of 128. */
static inline struct kt_store_entry fx_entry(uint64_t run_id, uint32_t seq, const char *test,
					     const char *kernel, char *name)
{
	static const unsigned char blob[] = { 0x0a, 0x04, 0x08, 0x01, 0x10, 0x01 };
	struct kt_store_entry e = {
		.run_id = run_id,
		.seq = seq,
		.name = name,
		.test = test,
		.scenario = "steady",
		.topology = "1n1l2c1t",
		.scheduler = "scx_ktstr",
		.profile = "default",
		.kernel_label = kernel,
		.kernel_sha = !strcmp(kernel, "sid") ?
			"aaaa000000000000000000000000000000000000000000000000000000000000" :
			"bbbb000000000000000000000000000000000000000000000000000000000000",
		.vcpus = 2,
		.memory_mb = 256,
		.assignment = blob,
		.assignment_len = sizeof(blob),
	};

	snprintf(name, 128, "%s/1n1l2c1t/scx_ktstr:default/%s", test, kernel);
	return e;
}

/* A fresh temporary path for a database (the file does not exist). */
static inline void fx_tmp_db(char *path, size_t len)
{
	static int n;

	snprintf(path, len, "/tmp/ktstr-db-test-%d-%d.db", (int)getpid(), n++);
	unlink(path);
}

static inline void fx_rm_db(const char *path)
{
	char p[300];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

#endif
