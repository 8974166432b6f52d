#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "accel.h"
#include "cpuset.h"
#include "entry.h"
#include "frame.h"
#include "initramfs.h"
#include "payload_check.h"

/* A per-entry file older than this belongs to a run that was killed. */
#define KT_RUN_FILE_MAX_AGE_S (6 * 3600)

/* Time a guest may take from QEMU start to agent contact, by accelerator. */
#define KT_CONTACT_TCG_MS 45000
#define KT_CONTACT_KVM_MS 20000

static const char *const status_names[] = {"pass", "fail", "error", "infra", "skip"};

const char *kt_status_name(enum kt_status s)
{
	return (unsigned)s < 5 ? status_names[s] : "?";
}

int kt_status_exit_code(enum kt_status s)
{
	switch (s) {
	case KT_PASS:
	case KT_SKIP:
		return 0;
	case KT_FAIL:
		return 1;
	default:
		return 2;
	}
}

/* Collects the guest's frames; the first of each kind counts. */
static int on_frame(void *ctx, unsigned type, const uint8_t *p, size_t len)
{
	struct kt_entry_result *r = ctx;

	switch (type) {
	case KT_FRAME_HELLO:
		if (!r->hello && !(r->hello = ktstr__hello__unpack(NULL, len, p)))
			r->vm.frames_rejected++;
		return 0;
	case KT_FRAME_TOPOLOGY:
		if (!r->gtopo && !(r->gtopo = ktstr__guest_topology__unpack(NULL, len, p)))
			r->vm.frames_rejected++;
		return 0;
	case KT_FRAME_LOG: {
		Ktstr__Log *l = ktstr__log__unpack(NULL, len, p);

		if (l && r->n_logs < KT_ENTRY_MAX_LOGS)
			r->logs[r->n_logs++] = strndup(l->text, 1024);
		if (l)
			ktstr__log__free_unpacked(l, NULL);
		return 0;
	}
	case KT_FRAME_RESULT:
		if (!r->result && !(r->result = ktstr__scenario_result__unpack(NULL, len, p))) {
			r->vm.frames_rejected++;
			return 0;
		}
		return 1;
	}
	return 0;
}

/* The guest's sysfs against the request: totals, and every LLC with its
 * share of CPUs, and every node with its share of LLCs. */
static bool topo_matches(const struct kt_topo *t, const Ktstr__GuestTopology *g)
{
	unsigned per_llc = t->cores_per_llc * t->threads, llcs_per_node = t->llcs / t->nodes;
	unsigned llc_cpus[KT_TOPO_MAX_CPUS] = {0}, llc_node[KT_TOPO_MAX_CPUS];
	unsigned node_llcs[KT_TOPO_MAX_CPUS] = {0};

	if (g->cpus != kt_topo_cpus(t) || g->llcs != t->llcs ||
	    g->cores != t->llcs * t->cores_per_llc || g->threads_per_core != t->threads ||
	    g->numa_nodes != t->nodes || g->n_cpu != g->cpus)
		return false;
	for (size_t i = 0; i < g->n_cpu; i++) {
		const Ktstr__CpuInfo *c = g->cpu[i];

		if (c->llc >= t->llcs || c->node >= t->nodes)
			return false;
		if (llc_cpus[c->llc]++ == 0) {
			llc_node[c->llc] = c->node;
			node_llcs[c->node]++;
		} else if (llc_node[c->llc] != c->node) {
			return false; /* an LLC split over nodes */
		}
	}
	for (unsigned l = 0; l < t->llcs; l++)
		if (llc_cpus[l] != per_llc)
			return false;
	for (unsigned n = 0; n < t->nodes; n++)
		if (node_llcs[n] != llcs_per_node)
			return false;
	return true;
}

static void set_status(struct kt_entry_result *r, enum kt_status s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_status(struct kt_entry_result *r, enum kt_status s, const char *fmt, ...)
{
	va_list ap;

	r->status = s;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

/* No result: what the console and the launcher saw decides whose fault. */
static void classify_no_result(struct kt_entry_result *r)
{
	const struct kt_vm_outcome *vm = &r->vm;

	/* PID 1 exiting is our agent crashing, not the kernel failing. */
	if (strstr(vm->console_tail, "Attempted to kill init"))
		set_status(r, KT_INFRA, "the guest agent (PID 1) died before it reported");
	else if (vm->panic)
		set_status(r, KT_FAIL, "kernel panic while the guest agent was running");
	else if (vm->watchdog)
		set_status(r, KT_INFRA, "host watchdog killed the guest with no result");
	else if (vm->frame_error[0])
		set_status(r, KT_INFRA, "guest ended with no result (last frame error: %s)",
			   vm->frame_error);
	else
		set_status(r, KT_INFRA, "guest ended with no result");
}

/* Everything but the checks' verdict. */
static void classify(const struct kt_entry_req *req, struct kt_entry_result *r)
{
	const struct kt_vm_outcome *vm = &r->vm;
	char want[32];

	kt_topo_format(&req->topo, want, sizeof(want));
	if (!vm->contact || !r->hello) {
		if (vm->panic)
			set_status(r, KT_INFRA, "kernel panic before the guest agent started");
		else if (vm->halted)
			set_status(r, KT_INFRA, "the kernel image did not start: its boot stub halted");
		else if (vm->contact_timeout)
			set_status(r, KT_INFRA, "no guest agent contact within %u ms",
				   r->accel == KT_ACCEL_KVM ? KT_CONTACT_KVM_MS : KT_CONTACT_TCG_MS);
		else if (vm->watchdog)
			set_status(r, KT_INFRA, "watchdog killed the guest before agent contact");
		else
			set_status(r, KT_INFRA, "guest exited without guest agent contact%s%s",
				   vm->qemu_stderr[0] ? ": " : "", vm->qemu_stderr);
		return;
	}
	if (r->gtopo) {
		r->topo_match = topo_matches(&req->topo, r->gtopo);
		if (!r->topo_match) {
			set_status(r, KT_INFRA,
				   "guest topology differs from %s: %u CPUs, %u LLCs, %u cores, "
				   "%u threads/core, %u nodes",
				   want, r->gtopo->cpus, r->gtopo->llcs, r->gtopo->cores,
				   r->gtopo->threads_per_core, r->gtopo->numa_nodes);
			return;
		}
	}
	if (!r->result) {
		classify_no_result(r);
		return;
	}
	if (!r->gtopo) {
		set_status(r, KT_INFRA, "guest agent reported no topology");
		return;
	}
	r->run_ms = r->result->run_ms;
	switch (r->result->kind) {
	case KTSTR__SCENARIO_RESULT__KIND__COMPLETED:
		if (r->result->ok) {
			set_status(r, KT_PASS, "scenario completed");
			return;
		}
		set_status(r, KT_INFRA, "guest agent: not ok but completed: %s", r->result->error);
		return;
	case KTSTR__SCENARIO_RESULT__KIND__SCENARIO_ERROR:
		set_status(r, KT_ERROR, "scenario error: %s", r->result->error);
		return;
	case KTSTR__SCENARIO_RESULT__KIND__GUEST_SETUP:
		set_status(r, KT_INFRA, "guest set-up failed: %s", r->result->error);
		return;
	case KTSTR__SCENARIO_RESULT__KIND__WATCHDOG:
	case KTSTR__SCENARIO_RESULT__KIND__WORKER_DIED:
		set_status(r, KT_FAIL, "%s", r->result->error);
		return;
	default:
		set_status(r, KT_INFRA, "guest agent reported unknown result kind %d: %s",
			   (int)r->result->kind, r->result->error);
	}
}

/* The planned cgroup (STEP, NAME), or NULL. */
static const struct kt_spec_cg *plan_cgroup(const struct kt_spec_plan *plan, uint32_t step,
					    const char *name)
{
	for (size_t i = 0; i < plan->n; i++)
		if (plan->cg[i].step == step && strcmp(plan->cg[i].name, name) == 0)
			return &plan->cg[i];
	return NULL;
}

/* CPUS[N] are CPUs of the topology, at least one. */
static int cpus_exist(const uint32_t *cpus, size_t n, const Ktstr__GuestTopology *topo,
		      const char *name, struct kt_err *err)
{
	uint32_t all[KT_TOPO_MAX_CPUS];
	size_t na, no;
	uint32_t out[KT_TOPO_MAX_CPUS];

	if (!n)
		return kt_errf(err, "cgroup '%s': the guest reported no CPUs", name);
	if (n > KT_TOPO_MAX_CPUS || kt_cpuset_resolve(NULL, topo, all, KT_TOPO_MAX_CPUS, &na, err))
		return kt_errf(err, "cgroup '%s': %zu CPUs reported", name, n);
	no = kt_cpus_outside(cpus, n, all, na, out);
	if (no)
		return kt_errf(err, "cgroup '%s': CPU %u is not in the guest topology", name, out[0]);
	return 0;
}

/* The result must account for exactly the spec's cgroups and workers
 * (kt_spec_resolve's plan: the backdrop, cgroups ops add, the steps' own,
 * workers spawned later), each cgroup on the CPUs its cpuset spec resolves
 * to on the guest's topology: the isolation check then judges against what
 * was asked, not only against what the guest says it set. A cgroup whose
 * cpuset an op changed, a nested one (its parent's set bounds it) and the
 * root only have to report CPUs that exist; their workers' segments carry
 * what they ran under. */
static int result_matches_spec(const Ktstr__EntrySpec *spec, const Ktstr__ScenarioResult *res,
			       const Ktstr__GuestTopology *topo, struct kt_err *err)
{
	struct kt_spec_plan plan;
	uint32_t cpus[KT_TOPO_MAX_CPUS];
	size_t n;
	int rc = -1;

	if (kt_spec_resolve(spec, &plan, NULL, err))
		return kt_err_prefix(err, "the spec does not resolve");
	if (res->n_cgroups != plan.n) {
		kt_errf(err, "guest agent reported %zu cgroups, the scenario has %zu", res->n_cgroups,
			plan.n);
		goto out;
	}
	for (size_t i = 0; i < res->n_cgroups; i++) {
		const Ktstr__CgroupStats *cg = res->cgroups[i];
		const struct kt_spec_cg *pc = plan_cgroup(&plan, cg->step, cg->name);

		if (!pc) {
			kt_errf(err, "guest agent reported cgroup '%s' in step %u, which the "
				"scenario does not have", cg->name, cg->step);
			goto out;
		}
		if (cg->n_workers != pc->workers) {
			kt_errf(err, "cgroup '%s': guest agent reported %zu workers of %u", cg->name,
				cg->n_workers, pc->workers);
			goto out;
		}
		if (!pc->spec || pc->cpuset_changed || pc->spec->parent[0]) {
			if (cpus_exist(cg->cpus, cg->n_cpus, topo, cg->name, err))
				goto out;
			continue;
		}
		if (kt_cpuset_resolve(pc->spec->cpuset, topo, cpus, KT_TOPO_MAX_CPUS, &n, err)) {
			kt_err_prefix(err, "cgroup '%s'", cg->name);
			goto out;
		}
		if (n != cg->n_cpus || memcmp(cpus, cg->cpus, n * sizeof(cpus[0])) != 0) {
			char a[1024], b[1024];

			kt_cpulist_format(cpus, n, a, sizeof(a), NULL);
			kt_cpulist_format(cg->cpus, cg->n_cpus, b, sizeof(b), NULL);
			kt_errf(err, "cgroup '%s': its cpuset resolves to %s but the guest ran it on %s",
				cg->name, a, b);
			goto out;
		}
	}
	rc = 0;
out:
	kt_spec_plan_free(&plan);
	return rc;
}

/* The payload result called NAME, or NULL. */
static const Ktstr__PayloadResult *payload_result(const Ktstr__ScenarioResult *res,
						  const char *name)
{
	for (size_t i = 0; i < res->n_payloads; i++)
		if (res->payloads[i] && strcmp(res->payloads[i]->name, name) == 0)
			return res->payloads[i];
	return NULL;
}

/* Whether the spec has a kill_payload for NAME. */
static bool killed_by_op(const Ktstr__EntrySpec *spec, const char *name)
{
	for (size_t i = 0; i < spec->n_steps; i++)
		for (size_t k = 0; k < spec->steps[i]->n_ops; k++)
			if (spec->steps[i]->ops[k]->op_case == KTSTR__OP__OP_KILL_PAYLOAD &&
			    strcmp(spec->steps[i]->ops[k]->kill_payload, name) == 0)
				return true;
	return false;
}

/* Every payload of the spec by kt_payload_check: the first that fails
 * fails the entry, one that cannot be judged makes it an error. */
static void judge_payloads(const Ktstr__EntrySpec *spec, struct kt_entry_result *r)
{
	enum kt_payload_verdict worst = KT_PAYLOAD_PASS;
	char msg[512], first[512] = "";
	size_t n = 0;

	for (size_t i = 0; i < spec->n_steps; i++)
		for (size_t k = 0; k < spec->steps[i]->n_ops; k++) {
			const Ktstr__Op *op = spec->steps[i]->ops[k];
			enum kt_payload_verdict v;

			if (op->op_case != KTSTR__OP__OP_RUN_PAYLOAD)
				continue;
			n++;
			v = kt_payload_check(op->run_payload,
					     payload_result(r->result, op->run_payload->name),
					     killed_by_op(spec, op->run_payload->name), msg,
					     sizeof(msg));
			if (v > worst) {
				worst = v;
				snprintf(first, sizeof(first), "%s", msg);
			}
		}
	if (worst == KT_PAYLOAD_FAIL)
		set_status(r, KT_FAIL, "%s", first);
	else if (worst == KT_PAYLOAD_ERROR)
		set_status(r, KT_ERROR, "%s", first);
	else if (n && strlen(r->message) + 32 < sizeof(r->message))
		snprintf(r->message + strlen(r->message), sizeof(r->message) - strlen(r->message),
			 "; %zu payloads passed", n);
}

/* The checks' verdict on a scenario that ran to completion. */
static void judge(const struct kt_entry_req *req, struct kt_entry_result *r,
		  const Ktstr__EntrySpec *spec)
{
	struct kt_err e;
	size_t failed = 0;

	if (result_matches_spec(spec, r->result, r->gtopo, &e)) {
		/* The kernel applied a cpuset other than the one written, or
		 * the agent misreported: either way not a scheduler verdict. */
		set_status(r, KT_INFRA, "guest result does not match the scenario: %s", e.msg);
		return;
	}
	if (r->result->n_cgroups == 0) {
		set_status(r, KT_PASS, r->result->n_payloads ? "payloads only: no workers to judge" :
			   "zero-length scenario: booted, reported, powered off");
		judge_payloads(spec, r);
		return;
	}
	if (kt_checks_eval(req->checks ? req->checks : kt_scenario_checks(req->scenario), r->result,
			   &r->checks, &r->n_checks, &e)) {
		set_status(r, KT_INFRA, "guest telemetry cannot be judged: %s", e.msg);
		return;
	}
	for (size_t i = 0; i < r->n_checks; i++)
		failed += !r->checks[i].passed;
	for (size_t i = 0; i < r->n_checks; i++)
		if (!r->checks[i].passed) {
			set_status(r, KT_FAIL, "%zu of %zu checks failed; first: %s: %s", failed,
				   r->n_checks, r->checks[i].name, r->checks[i].message);
			return;
		}
	set_status(r, KT_PASS, "all %zu checks passed", r->n_checks);
	judge_payloads(spec, r);
}

void kt_entry_classify(const struct kt_entry_req *req, const Ktstr__EntrySpec *spec,
		       struct kt_entry_result *r)
{
	classify(req, r);
	if (r->status == KT_PASS)
		judge(req, r, spec);
}

/* Per-entry files of runs that were killed before they could remove them:
 * anything in DIR older than any entry can live. */
static void sweep_run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	time_t limit = time(NULL) - KT_RUN_FILE_MAX_AGE_S;

	while (d && (de = readdir(d))) {
		struct stat st;

		if (strncmp(de->d_name, "entry-", 6) == 0 &&
		    fstatat(dirfd(d), de->d_name, &st, 0) == 0 && st.st_mtime < limit)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d)
		closedir(d);
}

/* A per-entry initramfs: the cached base plus SPEC as /ktstr/entry.pb, in
 * <cache>/run/ (the kernel cache sweeps <cache>/tmp). */
static int compose(const char *cache, const char *base, const uint8_t *spec, size_t len,
		   char *path, size_t path_len, struct kt_err *err)
{
	struct kt_initramfs_file f = {"/ktstr/entry.pb", spec, len, 0644};
	int fd;

	snprintf(path, path_len, "%s/run", cache);
	if (mkdir(path, 0755) && errno != EEXIST)
		return kt_errf(err, "%s: %s", path, strerror(errno));
	sweep_run_dir(path);
	snprintf(path, path_len, "%s/run/entry-XXXXXX", cache);
	fd = mkstemp(path);
	if (fd < 0)
		return kt_errf(err, "%s: %s", path, strerror(errno));
	close(fd);
	if (kt_initramfs_compose(base, &f, 1, path, err)) {
		unlink(path);
		return -1;
	}
	return 0;
}

static int choose_accel(const struct kt_entry_req *req, const char *base, struct kt_entry_result *r,
			struct kt_err *err)
{
	Ktstr__EntrySpec probe = KTSTR__ENTRY_SPEC__INIT;
	uint8_t buf[64];
	char path[4096];
	int rc;

	if (req->accel == KT_ACCEL_ONLY_TCG || req->accel == KT_ACCEL_ONLY_KVM) {
		r->accel = req->accel == KT_ACCEL_ONLY_KVM ? KT_ACCEL_KVM : KT_ACCEL_TCG;
		snprintf(r->accel_why, sizeof(r->accel_why), "requested");
		return 0;
	}
	if (kt_accel_known(req->cache_dir, &r->accel, r->accel_why, sizeof(r->accel_why)) == 0)
		return 0;
	probe.version = KT_SCENARIO_ENTRY_VERSION;
	probe.name = "probe";
	probe.probe = 1;
	probe.watchdog_ms = KT_ACCEL_PROBE_MS;
	if (compose(req->cache_dir, base, buf, ktstr__entry_spec__pack(&probe, buf), path,
		    sizeof(path), err))
		return -1;
	rc = kt_accel_detect(req->cache_dir, req->kernel->image, path, &r->accel, r->accel_why,
			     sizeof(r->accel_why), err);
	unlink(path);
	return rc;
}

int kt_entry_run(const struct kt_entry_req *req, struct kt_entry_result *r, struct kt_err *err)
{
	char base[4096], initrd[4096];
	struct kt_vm_opts o = {0};
	Ktstr__EntrySpec *spec = NULL;
	uint8_t *packed = NULL;
	size_t packed_len;
	uint32_t guest_wd;
	uint64_t contact_ms;
	struct kt_err e;

	memset(r, 0, sizeof(*r));
	if (!req->cache_dir || !req->agent || !req->kernel || !req->scenario)
		return kt_errf(err, "entry: cache, agent, kernel and scenario are required");
	/* The scenario's own faults first: nothing boots for a wrong test. */
	if (kt_scenario_fits(req->scenario, &req->topo, &e)) {
		set_status(r, KT_ERROR, "%s", e.msg);
		return 0;
	}
	/* The guest's watchdog covers the planned holds with room for set-up;
	 * the host's adds boot time and is the backstop for a guest that
	 * cannot report at all. */
	guest_wd = (uint32_t)(2 * kt_scenario_planned_ms(req->scenario, req->duration_ms) + 20000);
	if (kt_scenario_entry_spec(req->scenario, req->duration_ms, req->workers, guest_wd, &packed,
				   &packed_len, &e)) {
		set_status(r, KT_ERROR, "%s", e.msg);
		return 0;
	}
	spec = ktstr__entry_spec__unpack(NULL, packed_len, packed);
	if (!spec) {
		free(packed);
		return kt_errf(err, "entry: the packed entry spec does not unpack");
	}
	for (const char *const *b = kt_scenario_payload_bins(req->scenario); *b; b++)
		if (access(*b, X_OK)) {
			set_status(r, KT_ERROR, "payload binary %s: %s", *b, strerror(errno));
			goto out;
		}
	if (kt_initramfs_base(req->cache_dir, req->agent,
			      (const char *const *)kt_scenario_payload_bins(req->scenario), base,
			      sizeof(base), &e) ||
	    choose_accel(req, base, r, &e) ||
	    compose(req->cache_dir, base, packed, packed_len, initrd, sizeof(initrd), &e)) {
		set_status(r, KT_INFRA, "preparing the guest: %s", e.msg);
		goto out;
	}
	contact_ms = r->accel == KT_ACCEL_KVM ? KT_CONTACT_KVM_MS : KT_CONTACT_TCG_MS;
	o.qemu.kernel = req->kernel->image;
	o.qemu.initrd = initrd;
	o.qemu.topo = req->topo;
	o.qemu.mem_mb = req->mem_mb;
	o.qemu.accel = r->accel;
	o.budget_ms = contact_ms + guest_wd + 10000;
	o.contact_timeout_ms = contact_ms;
	o.console_path = req->console_path;
	o.on_frame = on_frame;
	o.ctx = r;
	if (kt_vm_run(&o, &r->vm, &e)) {
		/* QEMU could not even be started: that is the host's problem. */
		set_status(r, KT_INFRA, "%s", e.msg);
	} else {
		r->boot_ms = r->vm.contact_ms;
		r->total_ms = r->vm.total_ms;
		kt_entry_classify(req, spec, r);
	}
	unlink(initrd);
out:
	ktstr__entry_spec__free_unpacked(spec, NULL);
	free(packed);
	return 0;
}
void kt_entry_result_free(struct kt_entry_result *r)
{
	if (r->hello)
		ktstr__hello__free_unpacked(r->hello, NULL);
	if (r->gtopo)
		ktstr__guest_topology__free_unpacked(r->gtopo, NULL);
	if (r->result)
		ktstr__scenario_result__free_unpacked(r->result, NULL);
	for (size_t i = 0; i < r->n_logs; i++)
		free(r->logs[i]);
	free(r->checks);
	memset(r, 0, sizeof(*r));
}
