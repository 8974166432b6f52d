#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "accel.h"
#include "calib.h"
#include "cpuset.h"
#include "entry.h"
#include "frame.h"
#include "initramfs.h"
#include "payload_check.h"
#include "strv.h"
#include "util.h"

/* A per-entry file older than this belongs to a run that was killed. */
#define KT_RUN_FILE_MAX_AGE_S (6 * 3600)

/* Time a guest may take from QEMU start to agent contact, by accelerator. */
#define KT_CONTACT_TCG_MS 45000
#define KT_CONTACT_KVM_MS 20000

/* The scheduler under test: how long the guest waits for sched_ext to say
 * "enabled" (loading and verifying BPF is slow under TCG), and what its
 * stop, failure dump and kernel dump add to the guest's watchdog. */
#define KT_SCHED_ENABLE_TCG_MS 30000
#define KT_SCHED_ENABLE_KVM_MS 10000
#define KT_SCHED_STOP_MS 25000
/* The entry's sched_ext watchdog for the built-in fixture when its args do
 * not set one (the kernel's own default is 30 s). */
#define KT_SCX_KTSTR_TIMEOUT_MS 4000
#define KT_SCX_KTSTR "scx-ktstr"
#define KT_SCHED_MAX_ARGS 64
#define KT_SCHED_MAX_SYSCTLS 64

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

uint32_t kt_entry_tcg_watchdog(const Ktstr__EntrySpec *spec, uint32_t wd)
{
	uint64_t waits = 0, total;

	for (size_t i = 0; i < spec->n_steps; i++)
		for (size_t k = 0; k < spec->steps[i]->n_ops; k++)
			if (spec->steps[i]->ops[k]->op_case == KTSTR__OP__OP_WAIT_PAYLOAD)
				waits += spec->steps[i]->ops[k]->wait_payload->timeout_ms;
	total = wd + waits * (KT_TCG_WAIT_FACTOR - 1);
	return total > KT_TCG_WD_MAX_MS ? (wd > KT_TCG_WD_MAX_MS ? wd : KT_TCG_WD_MAX_MS) :
					   (uint32_t)total;
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
					     payload_result(r->result, op->run_payload->name), msg,
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

/* The thresholds this entry is judged by: the caller's, else the
 * scenario's own. */
static const struct kt_checks_cfg *req_checks(const struct kt_entry_req *req)
{
	return req->checks ? req->checks : kt_scenario_checks(req->scenario);
}

/* The checks' verdict on a scenario that ran to completion. */
static void judge(const struct kt_entry_req *req, struct kt_entry_result *r,
		  const Ktstr__EntrySpec *spec)
{
	struct kt_checks_cfg cfg = *req_checks(req);
	struct kt_err e;
	size_t failed = 0;

	cfg.slowdown = r->speed.factor;
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
	if (kt_checks_eval(&cfg, r->result, &r->checks, &r->n_checks, &e)) {
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

static const char *failure_name(Ktstr__SchedulerState__Failure f)
{
	switch (f) {
	case KTSTR__SCHEDULER_STATE__FAILURE__STALL: return "stall";
	case KTSTR__SCHEDULER_STATE__FAILURE__ERROR: return "error";
	case KTSTR__SCHEDULER_STATE__FAILURE__CRASH: return "crash";
	case KTSTR__SCHEDULER_STATE__FAILURE__VERIFIER: return "verifier";
	case KTSTR__SCHEDULER_STATE__FAILURE__NOT_ENABLED: return "not enabled";
	default: return "none";
	}
}

/* The last LEN-ish bytes of guest text TEXT on one line, for a message. */
static void tail_line(const char *text, char *buf, size_t len)
{
	size_t n = text ? strlen(text) : 0, i, o = 0;

	if (!len)
		return;
	while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
		n--;
	i = n > len - 1 ? n - (len - 1) : 0;
	for (; i < n && o + 1 < len; i++)
		buf[o++] = (unsigned char)text[i] < 0x20 ? ' ' : text[i];
	buf[o] = 0;
}

/* The failure signature: what failed, the kernel's exit kind and reason,
 * then the scheduler's own message. */
static void sched_signature(const Ktstr__SchedulerState *s, char *buf, size_t len)
{
	char msg[400];

	tail_line(s->message, msg, sizeof(msg));
	if (s->exit_kind || (s->reason && s->reason[0]))
		snprintf(buf, len, "%s (exit kind %u: %s)%s%s", failure_name(s->failure),
			 s->exit_kind, s->reason ? s->reason : "", msg[0] ? ": " : "", msg);
	else
		snprintf(buf, len, "%s%s%s", failure_name(s->failure), msg[0] ? ": " : "", msg);
}

/* The scheduler under test decides the status when it failed or was
 * expected to: true when it did. A run whose scheduler failed is not
 * judged by the checks (its steps were cut short on purpose). */
static bool sched_verdict(const struct kt_entry_req *req, struct kt_entry_result *r)
{
	const Ktstr__SchedulerState *s;
	Ktstr__ScenarioResult__Kind k;
	char sig[640], out[400];

	if (!req->sched || !r->result || (r->status != KT_PASS && r->status != KT_FAIL))
		return false;
	k = r->result->kind;
	if (k != KTSTR__SCENARIO_RESULT__KIND__COMPLETED &&
	    k != KTSTR__SCENARIO_RESULT__KIND__WATCHDOG &&
	    k != KTSTR__SCENARIO_RESULT__KIND__WORKER_DIED)
		return false;
	s = r->result->scheduler;
	if (k == KTSTR__SCENARIO_RESULT__KIND__WATCHDOG) {
		/* A hang is a failure, expected or not, whatever the agent
		 * knew of the scheduler; what it knew goes into the message. */
		char why[400];

		tail_line(r->message, why, sizeof(why));
		if (!s)
			set_status(r, KT_FAIL, "%s (the guest agent reported no state of "
				   "scheduler %s)", why, req->sched->name);
		else if (s->failure == KTSTR__SCHEDULER_STATE__FAILURE__NONE)
			set_status(r, KT_FAIL, "%s (scheduler %s %s)", why, req->sched->name,
				   s->enabled ? "still enabled" : "never enabled");
		else {
			sched_signature(s, sig, sizeof(sig));
			set_status(r, KT_FAIL, "%s (scheduler %s had failed: %s)", why,
				   req->sched->name, sig);
		}
		return true;
	}
	if (!s) {
		set_status(r, KT_INFRA, "guest agent reported no state of scheduler %s",
			   req->sched->name);
		return true;
	}
	/* A kernel whose config was unknown turned out to have no sched_ext
	 * (guest/scheduler.c says so in these words): not applicable. */
	if (s->failure == KTSTR__SCHEDULER_STATE__FAILURE__NOT_ENABLED && s->message &&
	    strstr(s->message, "no sched_ext in this kernel")) {
		set_status(r, KT_SKIP, "scheduler %s needs sched_ext; kernel %s has none "
			   "(no /sys/kernel/sched_ext in the guest)", req->sched->name,
			   r->hello && r->hello->kernel_release ? r->hello->kernel_release : "?");
		return true;
	}
	if (s->failure == KTSTR__SCHEDULER_STATE__FAILURE__NOT_ENABLED) {
		tail_line(s->message && s->message[0] ? s->message : s->output, out, sizeof(out));
		set_status(r, KT_FAIL, "scheduler %s was never enabled: %s", req->sched->name,
			   out[0] ? out : "no output");
		return true;
	}
	if (s->failure != KTSTR__SCHEDULER_STATE__FAILURE__NONE) {
		sched_signature(s, sig, sizeof(sig));
		if (req->sched->expect_err)
			set_status(r, KT_PASS, "scheduler %s failed as expected: %s",
				   req->sched->name, sig);
		else
			set_status(r, KT_FAIL, "scheduler %s failed: %s", req->sched->name, sig);
		return true;
	}
	if (req->sched->expect_err && r->status == KT_PASS) {
		set_status(r, KT_FAIL, "scheduler %s: a failure was expected (expect_err) but it "
			   "ran to the end", req->sched->name);
		return true;
	}
	return false;
}

/* The guest's speed against the host's: measured on both, never assumed. */
static void measure_speed(struct kt_entry_result *r)
{
	r->speed.guest_ns = r->hello ? r->hello->calib_ns : 0;
	r->speed.host_ns = r->speed.guest_ns ? kt_calib_host_ns() : 0;
	r->speed.factor = kt_calib_factor(r->speed.guest_ns, r->speed.host_ns);
}

void kt_entry_classify(const struct kt_entry_req *req, const Ktstr__EntrySpec *spec,
		       struct kt_entry_result *r)
{
	measure_speed(r);
	classify(req, r);
	if (sched_verdict(req, r))
		return;
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

/* The SchedulerSpec the guest gets for REQ->sched: pointers into REQ and
 * into this (heap) block, so nothing in it is freed on its own. */
struct sched_pb {
	Ktstr__SchedulerSpec spec;
	Ktstr__Sysctl sysctl[KT_SCHED_MAX_SYSCTLS];
	Ktstr__Sysctl *sysctl_p[KT_SCHED_MAX_SYSCTLS];
	char *keys[KT_SCHED_MAX_SYSCTLS];
	char *args[KT_SCHED_MAX_ARGS + 1];
	char path[PATH_MAX];
	char timeout_arg[32];
};

static void sched_pb_free(struct sched_pb *pb)
{
	if (!pb)
		return;
	for (size_t i = 0; i < pb->spec.n_sysctls; i++)
		free(pb->keys[i]);
	free(pb);
}

static bool has_prefix_arg(const char *const *args, const char *prefix)
{
	for (; args && *args; args++)
		if (strncmp(*args, prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

/* Build the guest's SchedulerSpec from SCHED; the errors are the request's
 * (status error). */
static int sched_pb_build(const struct kt_entry_sched *sched, enum kt_accel accel,
			  struct sched_pb **out, struct kt_err *err)
{
	struct sched_pb *pb = kt_xcalloc(1, sizeof(*pb));
	const char *base;
	size_t n = 0;

	*out = NULL;
	if (!sched->name || !sched->name[0] || !sched->binary || !sched->binary[0]) {
		free(pb);
		return kt_errf(err, "scheduler: a name and a binary are required");
	}
	base = strrchr(sched->binary, '/');
	base = base ? base + 1 : sched->binary;
	if (!base[0] || snprintf(pb->path, sizeof(pb->path), "/bin/%s", base) >= (int)sizeof(pb->path)) {
		free(pb);
		return kt_errf(err, "scheduler %s: binary path '%s' has no usable file name",
			       sched->name, sched->binary);
	}
	ktstr__scheduler_spec__init(&pb->spec);
	pb->spec.name = (char *)sched->name;
	pb->spec.path = pb->path;
	for (const char *const *a = sched->args; a && *a; a++) {
		if (n == KT_SCHED_MAX_ARGS)
			goto too_many;
		pb->args[n++] = (char *)*a;
	}
	/* The entry's sched_ext watchdog: the fixture takes it as an option;
	 * another scheduler sets its own. */
	if (strcmp(sched->name, KT_SCX_KTSTR) == 0 && !has_prefix_arg(sched->args, "--timeout-ms")) {
		if (n == KT_SCHED_MAX_ARGS)
			goto too_many;
		snprintf(pb->timeout_arg, sizeof(pb->timeout_arg), "--timeout-ms=%u",
			 KT_SCX_KTSTR_TIMEOUT_MS);
		pb->args[n++] = pb->timeout_arg;
	}
	pb->spec.n_args = n;
	pb->spec.args = pb->args;
	pb->spec.expect_err = sched->expect_err;
	pb->spec.enable_timeout_ms = accel == KT_ACCEL_KVM ? KT_SCHED_ENABLE_KVM_MS :
							      KT_SCHED_ENABLE_TCG_MS;
	pb->spec.sysctls = pb->sysctl_p;
	for (const char *const *kv = sched->sysctls; kv && *kv; kv++) {
		const char *eq = strchr(*kv, '=');
		size_t i = pb->spec.n_sysctls;

		if (i == KT_SCHED_MAX_SYSCTLS) {
			sched_pb_free(pb);
			return kt_errf(err, "scheduler %s: more than %d sysctls", sched->name,
				       KT_SCHED_MAX_SYSCTLS);
		}
		if (!eq || eq == *kv) {
			sched_pb_free(pb);
			return kt_errf(err, "scheduler %s: sysctl '%s' is not key=value", sched->name,
				       *kv);
		}
		pb->keys[i] = strndup(*kv, (size_t)(eq - *kv));
		if (!pb->keys[i])
			abort();
		ktstr__sysctl__init(&pb->sysctl[i]);
		pb->sysctl[i].key = pb->keys[i];
		pb->sysctl[i].value = (char *)eq + 1;
		pb->sysctl_p[i] = &pb->sysctl[i];
		pb->spec.n_sysctls++;
	}
	*out = pb;
	return 0;
too_many:
	sched_pb_free(pb);
	return kt_errf(err, "scheduler %s: more than %d arguments", sched->name, KT_SCHED_MAX_ARGS);
}

/* KERNEL_ARGS joined for the guest's command line, malloc'd ("" = none);
 * an argument with a space or a control character would split or break
 * the command line. */
static int kernel_args_join(const char *const *args, char **out, struct kt_err *err)
{
	struct kt_strv v;
	size_t len = 1, o = 0;
	char *s;

	*out = NULL;
	kt_strv_init(&v);
	for (; args && *args; args++) {
		for (const char *c = *args; *c; c++)
			if ((unsigned char)*c <= 0x20 || *c == 0x7f) {
				kt_strv_free(&v);
				return kt_errf(err, "kernel argument '%s': spaces and control "
					       "characters are not allowed", *args);
			}
		if (**args) {
			kt_strv_add(&v, *args);
			len += strlen(*args) + 1;
		}
	}
	if (len > 2048) {
		kt_strv_free(&v);
		return kt_errf(err, "kernel arguments: %zu bytes, at most 2048", len);
	}
	s = kt_xcalloc(1, len);
	for (size_t i = 0; i < v.n; i++)
		o += (size_t)sprintf(s + o, "%s%s", i ? " " : "", v.v[i]);
	kt_strv_free(&v);
	*out = s;
	return 0;
}

/* Where payload PATH (as its scenario names it) is on this host. */
static const char *payload_local(const struct kt_entry_req *req, const char *path)
{
	for (const struct kt_entry_payload *p = req->payloads; p && p->scenario_path; p++)
		if (!strcmp(p->scenario_path, path))
			return p->local_path;
	return path;
}

int kt_entry_run(const struct kt_entry_req *req, struct kt_entry_result *r, struct kt_err *err)
{
	char base[4096], initrd[4096];
	struct kt_vm_opts o = {0};
	Ktstr__EntrySpec *spec = NULL;
	struct sched_pb *sched = NULL;
	struct kt_strv extra = {NULL, 0, 0};
	uint8_t *packed = NULL, *final = NULL;
	size_t packed_len, final_len;
	char *append = NULL;
	uint32_t guest_wd;
	uint64_t contact_ms;
	struct kt_err e;

	memset(r, 0, sizeof(*r));
	r->speed.factor = 1;
	if (!req->cache_dir || !req->agent || !req->kernel || !req->scenario)
		return kt_errf(err, "entry: cache, agent, kernel and scenario are required");
	/* The scenario's own faults first: nothing boots for a wrong test. */
	if (kt_scenario_fits(req->scenario, &req->topo, &e)) {
		set_status(r, KT_ERROR, "%s", e.msg);
		return 0;
	}
	if (req->sched && req->kernel->has_sched_ext == 0) {
		set_status(r, KT_SKIP, "scheduler %s needs sched_ext; kernel %s has none "
			   "(CONFIG_SCHED_CLASS_EXT is not set)", req->sched->name,
			   req->kernel->version);
		return 0;
	}
	if (req->sched && kernel_args_join(req->sched->kernel_args, &append, &e)) {
		set_status(r, KT_ERROR, "scheduler %s: %s", req->sched->name, e.msg);
		return 0;
	}
	/* The guest's watchdog covers the planned holds with room for set-up
	 * (and a scheduler's start, stop and dumps); the host's adds boot time
	 * and is the backstop for a guest that cannot report at all. */
	guest_wd = (uint32_t)(2 * kt_scenario_planned_ms(req->scenario, req->duration_ms) + 20000);
	if (req->sched)
		guest_wd += KT_SCHED_ENABLE_TCG_MS + KT_SCHED_STOP_MS;
	if (kt_scenario_entry_spec(req->scenario, req->duration_ms, req->workers, guest_wd, &packed,
				   &packed_len, &e)) {
		set_status(r, KT_ERROR, "%s", e.msg);
		goto out;
	}
	spec = ktstr__entry_spec__unpack(NULL, packed_len, packed);
	if (!spec) {
		free(packed);
		free(append);
		return kt_errf(err, "entry: the packed entry spec does not unpack");
	}
	/* With its own measurement the guest scales wait_payload timeouts. */
	spec->host_calib_ns = kt_calib_host_ns();
	spec->spread_warmup_ms = (uint32_t)llround(req_checks(req)->spread_warmup_ms);
	for (const char *const *b = kt_scenario_payload_bins(req->scenario); *b; b++) {
		const char *l = payload_local(req, *b);

		if (access(l, X_OK)) {
			set_status(r, KT_ERROR, "payload binary %s%s%s: %s", *b,
				   l == *b ? "" : ", here ", l == *b ? "" : l, strerror(errno));
			goto out;
		}
	}
	/* The binaries the guest needs beside the agent: payloads, then the
	 * scheduler. */
	kt_strv_init(&extra);
	for (const char *const *b = kt_scenario_payload_bins(req->scenario); *b; b++)
		kt_strv_add(&extra, payload_local(req, *b));
	if (req->sched)
		kt_strv_add(&extra, req->sched->binary);
	if (kt_initramfs_base(req->cache_dir, req->agent, (const char *const *)extra.v, base,
			      sizeof(base), &e) ||
	    choose_accel(req, base, r, &e)) {
		set_status(r, KT_INFRA, "preparing the guest: %s", e.msg);
		goto out;
	}
	if (req->sched && sched_pb_build(req->sched, r->accel, &sched, &e)) {
		set_status(r, KT_ERROR, "%s", e.msg);
		goto out;
	}
	/* Under TCG the guest stretches its waits by the measured slowdown
	 * (clamped to its watchdog, guest/runner.h): room for a typical one. */
	if (r->accel != KT_ACCEL_KVM)
		guest_wd = kt_entry_tcg_watchdog(spec, guest_wd);
	spec->watchdog_ms = guest_wd;
	/* The spec with its scheduler: packed here because the wait for
	 * "enabled" depends on the accelerator just chosen. */
	spec->scheduler = sched ? &sched->spec : NULL;
	final_len = ktstr__entry_spec__get_packed_size(spec);
	final = kt_xcalloc(1, final_len + 1);
	ktstr__entry_spec__pack(spec, final);
	spec->scheduler = NULL;
	if (compose(req->cache_dir, base, final, final_len, initrd, sizeof(initrd), &e)) {
		set_status(r, KT_INFRA, "preparing the guest: %s", e.msg);
		goto out;
	}
	contact_ms = r->accel == KT_ACCEL_KVM ? KT_CONTACT_KVM_MS : KT_CONTACT_TCG_MS;
	o.qemu.kernel = req->kernel->image;
	o.qemu.initrd = initrd;
	o.qemu.topo = req->topo;
	o.qemu.mem_mb = req->mem_mb;
	o.qemu.accel = r->accel;
	o.qemu.append = append;
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
	if (spec)
		ktstr__entry_spec__free_unpacked(spec, NULL);
	sched_pb_free(sched);
	kt_strv_free(&extra);
	free(final);
	free(packed);
	free(append);
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
