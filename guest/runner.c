#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>
#include "cgroup.h"
#include "cpuset.h"
#include "glog.h"
#include "runner.h"
#include "spec.h"
#include "util.h"
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

#define SCENARIO_ERROR KTSTR__SCENARIO_RESULT__KIND__SCENARIO_ERROR
#define GUEST_SETUP KTSTR__SCENARIO_RESULT__KIND__GUEST_SETUP
#define WORKER_DIED KTSTR__SCENARIO_RESULT__KIND__WORKER_DIED

static void hold(uint64_t ms)
{
	struct timespec until = kt_deadline(CLOCK_MONOTONIC, ms);

	kt_sleep_until(&until);
}

/* BASE's memory nodes as a cpulist, for every scenario cgroup. */
static int read_mems(const char *base, char *buf, size_t len, struct kt_err *err)
{
	uint32_t *ids = kt_xcalloc(MEMS_MAX, sizeof(uint32_t));
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

/* Check C's work and cpuset, then create its cgroup; on failure *KIND says
 * whose fault it is. */
static int make_cgroup(struct scg *c, const char *base, const Ktstr__GuestTopology *topo,
		       const char *mems, Ktstr__ScenarioResult__Kind *kind, struct kt_err *err)
{
	uint32_t *cpus = kt_xcalloc(topo->n_cpu, sizeof(uint32_t));
	size_t n, tlen = topo->n_cpu * 12 + 16;
	char *text = kt_xcalloc(tlen, 1);
	int w = snprintf(c->path, sizeof(c->path), "%s/%s", base, c->spec->name), rc = -1;

	/* What the scenario can get wrong is checked before anything is made. */
	*kind = SCENARIO_ERROR;
	if (w < 0 || (size_t)w >= sizeof(c->path)) {
		kt_errf(err, "cgroup path under %s is too long", base);
	} else if (!kt_spec_work_check(c->spec->work, c->spec->workers, err) &&
		   !kt_cpuset_resolve(c->spec->cpuset, topo, cpus, topo->n_cpu, &n, err) &&
		   !kt_cpulist_format(cpus, n, text, tlen, err)) {
		*kind = GUEST_SETUP;
		rc = kt_cgroup_create(c->path, text, mems, err);
	}
	c->created = !rc;
	free(cpus);
	free(text);
	return rc;
}

/* Fork C's workers (checked by make_cgroup) into its cgroup. */
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
	res->cgroups = kt_xrealloc(res->cgroups, (res->n_cgroups + 1) * sizeof(*res->cgroups));
	res->cgroups[res->n_cgroups++] = cs;
}

/* Move the telemetry of C into RES; fails on the first worker fault, with
 * *KIND WORKER_DIED for a worker killed by a signal the agent did not send
 * and GUEST_SETUP for one that reported a fault of its own. The numbers of
 * all workers go into RES either way. */
static int collect(struct kt_workset *ws, struct scg *c, size_t si, Ktstr__ScenarioResult *res,
		   Ktstr__ScenarioResult__Kind *kind, struct kt_err *err)
{
	Ktstr__CgroupStats *cs = kt_xcalloc(1, sizeof(*cs));
	int rc = 0;

	ktstr__cgroup_stats__init(cs);
	cs->name = kt_xstrdup(c->spec->name);
	cs->step = (uint32_t)si;
	cs->cpus = c->eff;
	cs->n_cpus = c->n_eff;
	c->eff = NULL;
	cs->workers = kt_xcalloc(c->spec->workers, sizeof(*cs->workers));
	for (unsigned i = 0; i < c->spec->workers; i++) {
		Ktstr__WorkerStats *w = kt_xcalloc(1, sizeof(*w));

		ktstr__worker_stats__init(w);
		cs->workers[cs->n_workers++] = w;
		if (kt_workset_stats(ws, c->first + i, w, rc ? NULL : err) && !rc) {
			rc = -1;
			*kind = kt_workset_death_signal(ws, c->first + i) ? WORKER_DIED
									  : GUEST_SETUP;
		}
	}
	add_stats(res, cs);
	return rc;
}

/* Apply the ops of ST in order. */
static int apply_ops(const Ktstr__StepSpec *st, size_t si, const struct kt_runner_hooks *hooks,
		     Ktstr__ScenarioResult__Kind *kind, struct kt_err *err)
{
	for (size_t i = 0; i < st->n_ops; i++) {
		const Ktstr__Op *op = st->ops[i];

		*kind = SCENARIO_ERROR;
		switch (op->op_case) {
		case KTSTR__OP__OP_SNAPSHOT:
			if (hooks && hooks->snapshot)
				hooks->snapshot(hooks->ctx, op->snapshot);
			else
				kt_glog("step %zu: snapshot '%s': no scheduler, nothing to capture", si,
					op->snapshot);
			break;
		case KTSTR__OP__OP_WATCH_SNAPSHOT:
			if (hooks && hooks->watch) {
				if (hooks->watch(hooks->ctx, op->watch_snapshot, err))
					return kt_err_prefix(err, "step %zu ops[%zu] watch_snapshot '%s'",
							     si, i, op->watch_snapshot);
			} else {
				kt_glog("step %zu: watch_snapshot '%s': no scheduler, nothing to watch",
					si, op->watch_snapshot);
			}
			break;
		default:
			return kt_errf(err, "step %zu ops[%zu]: %s is not carried out by this agent yet",
				       si, i, kt_spec_op_name(op));
		}
	}
	return 0;
}

/* Run step SI; on failure *KIND says whose fault the first error is. */
static int run_step(const Ktstr__EntrySpec *spec, size_t si, const Ktstr__GuestTopology *topo,
		    const char *base, const char *mems, const struct kt_runner_hooks *hooks,
		    Ktstr__ScenarioResult *res, Ktstr__ScenarioResult__Kind *kind, struct kt_err *err)
{
	const Ktstr__StepSpec *st = spec->steps[si];
	struct scg *cg = kt_xcalloc(st->n_cgroups, sizeof(*cg));
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
	if (apply_ops(st, si, hooks, kind, err))
		goto out;
	if (total && kt_workset_new(total, &ws, err)) {
		*kind = GUEST_SETUP;
		kt_err_prefix(err, "step %zu", si);
		goto out;
	}
	for (ci = 0; ci < st->n_cgroups; ci++) {
		if (make_cgroup(&cg[ci], base, topo, mems, kind, err))
			goto fail_cg;
		if (spawn(ws, &cg[ci], err)) {
			*kind = GUEST_SETUP;
			goto fail_cg;
		}
	}
	t0 = kt_now_ms();
	if (ws)
		kt_workset_start(ws);
	hold(ms);
	for (ci = 0; ci < st->n_cgroups; ci++) {
		cg[ci].eff = kt_xcalloc(topo->n_cpu, sizeof(uint32_t));
		if (kt_cgroup_read_list(cg[ci].path, "cpuset.cpus.effective", cg[ci].eff,
					topo->n_cpu, &cg[ci].n_eff, err)) {
			*kind = GUEST_SETUP;
			goto fail_cg;
		}
	}
	killed = ws ? kt_workset_stop(ws, KT_RUNNER_GRACE_MS) : 0;
	if (killed)
		kt_glog("step %zu: %u workers did not stop within %d ms and were killed", si, killed,
			KT_RUNNER_GRACE_MS);
	rc = 0;
	for (ci = 0; ci < st->n_cgroups; ci++) {
		Ktstr__ScenarioResult__Kind k = GUEST_SETUP;

		if (collect(ws, &cg[ci], si, res, &k, rc ? NULL : err) && !rc) {
			*kind = k;
			rc = kt_err_prefix(err, "step %zu cgroup '%s'", si, cg[ci].spec->name);
		}
	}
	kt_glog("step %zu: done after %llu ms", si, (unsigned long long)(kt_now_ms() - t0));
	goto out;
fail_cg:
	kt_err_prefix(err, "step %zu cgroup '%s'", si, cg[ci].spec->name);
out:
	kt_workset_free(ws);
	/* As PID 1 we inherit every orphan (say a fork_exit child whose
	 * worker was killed mid-fork): reap them, or they stay zombies. */
	if (getpid() == 1)
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	for (ci = st->n_cgroups; ci-- > 0;) {
		struct kt_err rerr;

		free(cg[ci].eff);
		if (!cg[ci].created)
			continue;
		if (kt_cgroup_remove(cg[ci].path, &rerr)) {
			kt_glog("step %zu cgroup '%s': %s", si, cg[ci].spec->name, rerr.msg);
			if (!rc) {
				*kind = GUEST_SETUP;
				rc = kt_errf(err, "step %zu cgroup '%s': %s", si, cg[ci].spec->name,
					     rerr.msg);
			}
		}
	}
	free(cg);
	return rc;
}

Ktstr__ScenarioResult *kt_runner_run(const Ktstr__EntrySpec *spec,
				     const Ktstr__GuestTopology *topo, const char *base,
				     const struct kt_runner_hooks *hooks)
{
	Ktstr__ScenarioResult *res = kt_xcalloc(1, sizeof(*res));
	uint64_t t0 = kt_now_ms();
	Ktstr__ScenarioResult__Kind kind = GUEST_SETUP;
	struct kt_err err = {{0}};
	char mems[256];
	int rc = 0;

	ktstr__scenario_result__init(res);
	if (spec->n_steps && read_mems(base, mems, sizeof(mems), &err))
		rc = -1;
	for (size_t si = 0; !rc && si < spec->n_steps; si++)
		rc = run_step(spec, si, topo, base, mems, hooks, res, &kind, &err);
	res->ok = !rc;
	res->kind = rc ? kind : KTSTR__SCENARIO_RESULT__KIND__COMPLETED;
	if (rc)
		res->error = kt_xstrdup(err.msg);
	res->run_ms = kt_now_ms() - t0;
	return res;
}
