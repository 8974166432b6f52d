#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "accel.h"
#include "entry.h"
#include "frame.h"
#include "initramfs.h"

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

static bool topo_matches(const struct kt_topo *t, const Ktstr__GuestTopology *g)
{
	return g->cpus == kt_topo_cpus(t) && g->llcs == t->llcs &&
	       g->cores == t->llcs * t->cores_per_llc && g->threads_per_core == t->threads &&
	       g->numa_nodes == t->nodes;
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
		if (vm->panic)
			set_status(r, KT_FAIL, "kernel panic during the scenario");
		else if (vm->watchdog)
			set_status(r, KT_INFRA, "host watchdog killed the guest with no result");
		else if (vm->frame_error[0])
			set_status(r, KT_INFRA, "guest ended with no result (last frame error: %s)",
				   vm->frame_error);
		else
			set_status(r, KT_INFRA, "guest ended with no result");
		return;
	}
	if (!r->gtopo) {
		set_status(r, KT_INFRA, "guest agent reported no topology");
		return;
	}
	if (!r->result->ok) {
		if (strncmp(r->result->error, "guest watchdog", 14) == 0)
			set_status(r, KT_FAIL, "%s", r->result->error);
		else
			set_status(r, KT_ERROR, "scenario error: %s", r->result->error);
		return;
	}
	r->run_ms = r->result->run_ms;
	set_status(r, KT_PASS, "scenario completed");
}

/* Cgroups the spec asks for over all steps: what the result must account for. */
static size_t expected_cgroups(const uint8_t *spec, size_t len)
{
	Ktstr__EntrySpec *s = ktstr__entry_spec__unpack(NULL, len, spec);
	size_t n = 0;

	for (size_t i = 0; s && i < s->n_steps; i++)
		n += s->steps[i]->n_cgroups;
	if (s)
		ktstr__entry_spec__free_unpacked(s, NULL);
	return n;
}

/* The checks' verdict on a scenario that ran to completion. */
static void judge(const struct kt_entry_req *req, struct kt_entry_result *r, size_t want)
{
	struct kt_err e;
	size_t failed = 0;

	if (r->result->n_cgroups != want) {
		set_status(r, KT_INFRA, "guest agent reported %zu cgroups, the scenario has %zu",
			   r->result->n_cgroups, want);
		return;
	}
	if (want == 0) {
		set_status(r, KT_PASS, "zero-length scenario: booted, reported, powered off");
		return;
	}
	if (kt_checks_eval(kt_scenario_checks(req->scenario), r->result, &r->checks, &r->n_checks,
			   &e)) {
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
}

/* A per-entry initramfs: the cached base plus SPEC as /ktstr/entry.pb. */
static int compose(const char *cache, const char *base, const uint8_t *spec, size_t len,
		   char *path, size_t path_len, struct kt_err *err)
{
	struct kt_initramfs_file f = {"/ktstr/entry.pb", spec, len, 0644};
	int fd;

	snprintf(path, path_len, "%s/tmp/entry-XXXXXX", cache);
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
	probe.version = 1;
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
	char base[4096], initrd[4096], dir[4096];
	struct kt_vm_opts o = {0};
	uint8_t *spec = NULL;
	size_t spec_len;
	uint32_t guest_wd;
	uint64_t contact_ms;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	snprintf(dir, sizeof(dir), "%s/tmp", req->cache_dir);
	if (mkdir(dir, 0755) && errno != EEXIST)
		return kt_errf(err, "%s: %s", dir, strerror(errno));
	if (kt_initramfs_base(req->cache_dir, req->agent, NULL, base, sizeof(base), err))
		return kt_err_prefix(err, "base initramfs");
	if (choose_accel(req, base, r, err))
		return -1;
	contact_ms = r->accel == KT_ACCEL_KVM ? KT_CONTACT_KVM_MS : KT_CONTACT_TCG_MS;
	/* The guest's own watchdog fires first and still reports; the host's
	 * is the backstop for a guest that cannot report at all. */
	guest_wd = (uint32_t)(2 * req->duration_ms + 20000);
	if (kt_scenario_entry_spec(req->scenario, req->duration_ms, req->workers, guest_wd, &spec,
				   &spec_len, err))
		return -1;
	if (compose(req->cache_dir, base, spec, spec_len, initrd, sizeof(initrd), err))
		goto out;
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
	rc = kt_vm_run(&o, &r->vm, err);
	unlink(initrd);
	if (rc) {
		/* QEMU could not even be started: that is the host's problem. */
		set_status(r, KT_INFRA, "%s", err->msg);
		rc = 0;
		goto out;
	}
	r->boot_ms = r->vm.contact_ms;
	r->total_ms = r->vm.total_ms;
	classify(req, r);
	if (r->status == KT_PASS)
		judge(req, r, expected_cgroups(spec, spec_len));
out:
	free(spec);
	return rc;
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
