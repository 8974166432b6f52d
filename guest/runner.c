#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cgroup.h"
#include "cpuset.h"
#include "glog.h"
#include "runner.h"
#include "spec.h"
#include "workload.h"

#define MEMS_MAX 1024

/* One cgroup of the running step. */
struct scg {
	const Ktstr__CgroupSpec *spec;
	char path[PATH_MAX];
	int created;
	unsigned first;
	uint32_t *eff; /* cpuset.cpus.effective while the workers ran */
	size_t n_eff;
};

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		fputs(KT_GLOG_PREFIX "out of memory\n", stderr);
		abort();
	}
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = xcalloc(strlen(s) + 1, 1);

	return memcpy(p, s, strlen(s) + 1);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void hold(uint64_t ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
}

/* BASE's memory nodes as a cpulist, for every scenario cgroup. */
static int read_mems(const char *base, char *buf, size_t len, struct kt_err *err)
{
	uint32_t *ids = xcalloc(MEMS_MAX, sizeof(uint32_t));
	size_t n;
	int rc;

	rc = kt_cgroup_read_list(base, "cpuset.mems.effective", ids, MEMS_MAX, &n, err);
	if (!rc && !n)
		rc = kt_errf(err, "%s/cpuset.mems.effective: no memory node", base);
	if (!rc)
		rc = kt_cpulist_format(ids, n, buf, len, err);
	free(ids);
	return rc;
}

static int make_cgroup(struct scg *c, const char *base, const Ktstr__GuestTopology *topo,
		       const char *mems, struct kt_err *err)
{
	uint32_t *cpus = xcalloc(topo->n_cpu, sizeof(uint32_t));
	size_t n, tlen = topo->n_cpu * 12 + 16;
	char *text = xcalloc(tlen, 1);
	int w, rc = -1;

	w = snprintf(c->path, sizeof(c->path), "%s/%s", base, c->spec->name);
	if (w < 0 || (size_t)w >= sizeof(c->path))
		kt_errf(err, "cgroup path under %s is too long", base);
	else if (!kt_cpuset_resolve(c->spec->cpuset, topo, cpus, topo->n_cpu, &n, err) &&
		 !kt_cpulist_format(cpus, n, text, tlen, err) &&
		 !kt_cgroup_create(c->path, text, mems, err))
		rc = 0;
	c->created = !rc;
	free(cpus);
	free(text);
	return rc;
}

static int spawn(struct kt_workset *ws, struct scg *c, struct kt_err *err)
{
	unsigned n = c->spec->workers;

	if (!n)
		return 0;
	if (kt_workset_spawn(ws, c->spec->work, n, &c->first, err))
		return -1;
	for (unsigned i = 0; i < n; i++)
		if (kt_cgroup_attach(c->path, kt_workset_pid(ws, c->first + i), err))
			return -1;
	return 0;
}

static void add_stats(Ktstr__ScenarioResult *res, Ktstr__CgroupStats *cs)
{
	Ktstr__CgroupStats **v = realloc(res->cgroups, (res->n_cgroups + 1) * sizeof(*v));

	if (!v) {
		fputs(KT_GLOG_PREFIX "out of memory\n", stderr);
		abort();
	}
	res->cgroups = v;
	res->cgroups[res->n_cgroups++] = cs;
}

/* Move the telemetry of C into RES; fails on the first worker fault. */
static int collect(struct kt_workset *ws, struct scg *c, size_t si, Ktstr__ScenarioResult *res,
		   struct kt_err *err)
{
	Ktstr__CgroupStats *cs = xcalloc(1, sizeof(*cs));
	int rc = 0;

	ktstr__cgroup_stats__init(cs);
	cs->name = xstrdup(c->spec->name);
	cs->step = (uint32_t)si;
	cs->cpus = c->eff;
	cs->n_cpus = c->n_eff;
	c->eff = NULL;
	cs->workers = xcalloc(c->spec->workers, sizeof(*cs->workers));
	for (unsigned i = 0; i < c->spec->workers; i++) {
		Ktstr__WorkerStats *w = xcalloc(1, sizeof(*w));

		ktstr__worker_stats__init(w);
		cs->workers[cs->n_workers++] = w;
		if (kt_workset_stats(ws, c->first + i, w, rc ? NULL : err) && !rc)
			rc = -1;
	}
	add_stats(res, cs);
	return rc;
}

static int run_step(const Ktstr__EntrySpec *spec, size_t si, const Ktstr__GuestTopology *topo,
		    const char *base, const char *mems, Ktstr__ScenarioResult *res,
		    struct kt_err *err)
{
	const Ktstr__StepSpec *st = spec->steps[si];
	struct scg *cg = xcalloc(st->n_cgroups, sizeof(*cg));
	struct kt_workset *ws = NULL;
	uint64_t ms = kt_spec_hold_ms(spec, st), t0;
	unsigned total = 0, killed;
	size_t ci;
	int rc = -1;

	for (ci = 0; ci < st->n_cgroups; ci++) {
		cg[ci].spec = st->cgroups[ci];
		total += st->cgroups[ci]->workers;
	}
	kt_glog("step %zu: %zu cgroups, %u workers, hold %llu ms", si, st->n_cgroups, total,
		(unsigned long long)ms);
	if (total && kt_workset_new(total, &ws, err)) {
		kt_err_prefix(err, "step %zu", si);
		goto out;
	}
	for (ci = 0; ci < st->n_cgroups; ci++)
		if (make_cgroup(&cg[ci], base, topo, mems, err) || spawn(ws, &cg[ci], err))
			goto fail_cg;
	t0 = mono_ms();
	if (ws)
		kt_workset_start(ws);
	hold(ms);
	for (ci = 0; ci < st->n_cgroups; ci++) {
		cg[ci].eff = xcalloc(topo->n_cpu, sizeof(uint32_t));
		if (kt_cgroup_read_list(cg[ci].path, "cpuset.cpus.effective", cg[ci].eff,
					topo->n_cpu, &cg[ci].n_eff, err))
			goto fail_cg;
	}
	killed = ws ? kt_workset_stop(ws, KT_RUNNER_GRACE_MS) : 0;
	if (killed)
		kt_glog("step %zu: %u workers did not stop within %d ms and were killed", si, killed,
			KT_RUNNER_GRACE_MS);
	rc = 0;
	for (ci = 0; ci < st->n_cgroups; ci++)
		if (collect(ws, &cg[ci], si, res, rc ? NULL : err) && !rc)
			rc = kt_err_prefix(err, "step %zu cgroup '%s'", si, cg[ci].spec->name);
	kt_glog("step %zu: done after %llu ms", si, (unsigned long long)(mono_ms() - t0));
	goto out;
fail_cg:
	kt_err_prefix(err, "step %zu cgroup '%s'", si, cg[ci].spec->name);
out:
	kt_workset_free(ws);
	for (ci = st->n_cgroups; ci-- > 0;) {
		struct kt_err rerr;

		free(cg[ci].eff);
		if (!cg[ci].created)
			continue;
		if (kt_cgroup_remove(cg[ci].path, &rerr)) {
			kt_glog("step %zu cgroup '%s': %s", si, cg[ci].spec->name, rerr.msg);
			if (!rc)
				rc = kt_errf(err, "step %zu cgroup '%s': %s", si, cg[ci].spec->name,
					     rerr.msg);
		}
	}
	free(cg);
	return rc;
}

Ktstr__ScenarioResult *kt_runner_run(const Ktstr__EntrySpec *spec,
				     const Ktstr__GuestTopology *topo, const char *base)
{
	Ktstr__ScenarioResult *res = xcalloc(1, sizeof(*res));
	uint64_t t0 = mono_ms();
	struct kt_err err = {{0}};
	char mems[256];
	int rc = 0;

	ktstr__scenario_result__init(res);
	if (spec->n_steps && read_mems(base, mems, sizeof(mems), &err))
		rc = -1;
	for (size_t si = 0; !rc && si < spec->n_steps; si++)
		rc = run_step(spec, si, topo, base, mems, res, &err);
	res->ok = !rc;
	if (rc)
		res->error = xstrdup(err.msg);
	res->run_ms = mono_ms() - t0;
	return res;
}
