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
};

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
