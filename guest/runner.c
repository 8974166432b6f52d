#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>
#include "calib.h"
#include "cgroup.h"
#include "cpuset.h"
#include "glog.h"
#include "runner.h"
#include "spec.h"
#include "util.h"
#include "workload.h"

#define MEMS_MAX 1024
#define POLL_MS 20          /* holds look at payloads and the scheduler this often */
#define PROCS_MAX 65536     /* tasks one move_all_tasks moves */

#define SCENARIO_ERROR KTSTR__SCENARIO_RESULT__KIND__SCENARIO_ERROR
#define GUEST_SETUP KTSTR__SCENARIO_RESULT__KIND__GUEST_SETUP
#define WORKER_DIED KTSTR__SCENARIO_RESULT__KIND__WORKER_DIED

/* A cgroup of the run: the backdrop's, an op's, a step's, or the root
 * (BASE itself, for spawn_host on a top cgroup). */
struct rcg {
	const Ktstr__CgroupSpec *spec;  /* NULL for the root */
	const char *name;
	char path[PATH_MAX];
	struct rcg *parent;             /* NULL: directly under BASE */
	bool step_local, created, gone;
	const Ktstr__CpusetSpec *cpuset; /* as last written; NULL = none */
	uint32_t *cpus;                 /* what the kernel makes of it, see own_cpus */
	size_t n_cpus;
	Ktstr__CgroupStats *stats;      /* in the result */
};

/* The workers of one spawn: one workset, one cgroup at a time. */
struct batch {
	struct kt_workset *ws;
	unsigned n;
	struct rcg *home;      /* whose CgroupStats hold its telemetry */
	struct rcg *cur;       /* where its tasks are now */
	size_t slot;           /* its first worker in home->stats->workers */
	bool started, done;
	/* The open segment: its cgroup and that cgroup's effective CPUs. */
	char *seg_cg;
	uint32_t *seg_cpus;
	size_t n_seg_cpus;
};

struct rpay {
	const Ktstr__PayloadSpec *spec;
	pid_t pid;
	int fd;                /* its stdout, -1 once at EOF */
	char *out;
	size_t len;
	uint64_t t0;
	bool done;
	Ktstr__PayloadResult *res;
};

struct run {
	const Ktstr__EntrySpec *spec;
	const Ktstr__GuestTopology *topo;
	const struct kt_runner_hooks *hooks;
	const char *base;
	char mems[256];
	struct rcg **cg;       /* every cgroup made, in order */
	size_t n_cg;
	struct rcg *root;
	struct batch **b;
	size_t n_b;
	struct rpay **pay;
	size_t n_pay;
	bool segmented;        /* some op moves tasks or changes a cpuset */
	bool sched_failed;
	double slowdown;       /* wait_payload timeouts are scaled by it (>= 1) */
	uint64_t deadline_ms;  /* the guest watchdog's, 0 = none */
	uint64_t t0;
	Ktstr__ScenarioResult *res;
	Ktstr__ScenarioResult__Kind kind; /* of the first error */
	struct kt_err err;
	int failed;
};

/* Record the first error (ERR, whose fault KIND); returns -1. */
static int failure(struct run *r, Ktstr__ScenarioResult__Kind kind, const struct kt_err *err)
{
	if (!r->failed) {
		r->failed = 1;
		r->kind = kind;
		r->err = *err;
	} else {
		kt_glog("also: %s", err->msg);
	}
	return -1;
}

static int fail_fmt(struct run *r, Ktstr__ScenarioResult__Kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_fmt(struct run *r, Ktstr__ScenarioResult__Kind kind, const char *fmt, ...)
{
	struct kt_err e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	return failure(r, kind, &e);
}

/* ---- cgroups ---- */

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

static struct rcg *find_cg(struct run *r, const char *name)
{
	for (size_t i = r->n_cg; i-- > 0;)
		if (!r->cg[i]->gone && r->cg[i]->spec && !strcmp(r->cg[i]->name, name))
			return r->cg[i];
	return NULL;
}

static char *cpus_text(const uint32_t *cpus, size_t n)
{
	size_t len = n * 12 + 16;
	char *t = kt_xcalloc(len, 1);

	kt_cpulist_format(cpus, n, t, len, NULL);
	return t;
}

/* The CPUs CS gives a cgroup under PARENT: its own set within the
 * parent's, or the parent's when that leaves none (the kernel's rule for
 * cpuset.cpus.effective). Into *OUT (malloc'd). */
static int own_cpus(struct run *r, const Ktstr__CpusetSpec *cs, const struct rcg *parent,
		    uint32_t **out, size_t *n, struct kt_err *err)
{
	uint32_t *c = kt_xcalloc(r->topo->n_cpu + 1, sizeof(*c));
	size_t k = 0, m;

	if (kt_cpuset_resolve(cs, r->topo, c, r->topo->n_cpu, &m, err)) {
		free(c);
		return -1;
	}
	if (parent && parent->spec) {
		for (size_t i = 0; i < m; i++)
			if (bsearch(&c[i], parent->cpus, parent->n_cpus, sizeof(*c), kt_cmp_u32))
				c[k++] = c[i];
		if (!k) {
			memcpy(c, parent->cpus, parent->n_cpus * sizeof(*c));
			k = parent->n_cpus;
		}
		m = k;
	}
	*out = c;
	*n = m;
	return 0;
}

static Ktstr__CgroupStats *new_stats(struct run *r, const char *name, uint32_t step)
{
	Ktstr__CgroupStats *cs = kt_xcalloc(1, sizeof(*cs));

	ktstr__cgroup_stats__init(cs);
	cs->name = kt_xstrdup(name);
	cs->step = step;
	r->res->cgroups = kt_xrealloc(r->res->cgroups,
				      (r->res->n_cgroups + 1) * sizeof(*r->res->cgroups));
	r->res->cgroups[r->res->n_cgroups++] = cs;
	return cs;
}

static void add_cg(struct run *r, struct rcg *c)
{
	r->cg = kt_xrealloc(r->cg, (r->n_cg + 1) * sizeof(*r->cg));
	r->cg[r->n_cg++] = c;
}

static bool names_parent(const Ktstr__CgroupSpec *const *cgs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(cgs[i]->parent, name))
			return true;
	return false;
}

/* Whether some cgroup of the spec is nested under one called NAME. */
static bool is_parent(const Ktstr__EntrySpec *spec, const char *name)
{
	if (names_parent((const Ktstr__CgroupSpec *const *)spec->backdrop, spec->n_backdrop, name))
		return true;
	for (size_t i = 0; i < spec->n_steps; i++) {
		const Ktstr__StepSpec *st = spec->steps[i];

		if (names_parent((const Ktstr__CgroupSpec *const *)st->cgroups, st->n_cgroups, name))
			return true;
		for (size_t k = 0; k < st->n_ops; k++)
			if (st->ops[k]->op_case == KTSTR__OP__OP_ADD_CGROUP &&
			    !strcmp(st->ops[k]->add_cgroup->parent, name))
				return true;
	}
	return false;
}

/* Create SPEC's cgroup (its parent must exist, which the host checked);
 * STEP_LOCAL ones end with the step. */
static struct rcg *make_cgroup(struct run *r, const Ktstr__CgroupSpec *spec, uint32_t step,
			       bool step_local, const char *what)
{
	struct rcg *c = kt_xcalloc(1, sizeof(*c)), *parent = NULL;
	struct kt_err e;
	char *text = NULL;
	int w;

	c->spec = spec;
	c->name = spec->name;
	c->step_local = step_local;
	c->cpuset = spec->cpuset;
	add_cg(r, c);
	if (spec->parent[0] && !(parent = find_cg(r, spec->parent))) {
		fail_fmt(r, SCENARIO_ERROR, "%s cgroup '%s': parent '%s' does not exist", what,
			 spec->name, spec->parent);
		return NULL;
	}
	c->parent = parent;
	w = snprintf(c->path, sizeof(c->path), "%s/%s", parent ? parent->path : r->base,
		     spec->name);
	/* What the scenario can get wrong is checked before anything is made. */
	if (w < 0 || (size_t)w >= sizeof(c->path)) {
		kt_errf(&e, "cgroup path under %s is too long", r->base);
	} else if (kt_spec_work_check(spec->work, spec->workers, &e) ||
		   own_cpus(r, spec->cpuset, parent, &c->cpus, &c->n_cpus, &e)) {
		;
	} else {
		text = cpus_text(c->cpus, c->n_cpus);
		/* A parent gets its controllers before any task joins it: the
		 * kernel refuses to enable them in a cgroup with tasks. */
		if (kt_cgroup_create(c->path, text, r->mems, &e) ||
		    (parent && kt_cgroup_set_threaded(c->path, &e)) ||
		    (is_parent(r->spec, spec->name) && kt_cgroup_enable(c->path, &e))) {
			if (!access(c->path, F_OK))
				rmdir(c->path);
			free(text);
			kt_err_prefix(&e, "%s cgroup '%s'", what, spec->name);
			failure(r, GUEST_SETUP, &e);
			return NULL;
		}
		free(text);
		c->created = true;
		c->stats = new_stats(r, spec->name, step);
		return c;
	}
	kt_err_prefix(&e, "%s cgroup '%s'", what, spec->name);
	failure(r, SCENARIO_ERROR, &e);
	return NULL;
}

/* The root pseudo-cgroup, made at its first spawn_host on a top cgroup:
 * BASE's parent, the cgroup root (BASE has cpuset enabled for its
 * children, so cgroup v2 lets no task of its own in; the root may). */
static struct rcg *root_cg(struct run *r, uint32_t step)
{
	struct rcg *c;

	if (r->root)
		return r->root;
	c = kt_xcalloc(1, sizeof(*c));
	c->name = KT_SPEC_ROOT_CGROUP;
	snprintf(c->path, sizeof(c->path), "%s", r->base);
	if (strrchr(c->path, '/') && strrchr(c->path, '/') != c->path)
		*strrchr(c->path, '/') = 0;
	c->cpus = kt_xcalloc(r->topo->n_cpu + 1, sizeof(*c->cpus));
	kt_cpuset_resolve(NULL, r->topo, c->cpus, r->topo->n_cpu, &c->n_cpus, NULL);
	c->stats = new_stats(r, KT_SPEC_ROOT_CGROUP, step);
	add_cg(r, c);
	r->root = c;
	return c;
}

/* cpuset.cpus.effective of C into its stats (once). */
static int record_cpus(struct run *r, struct rcg *c)
{
	struct kt_err e;
	uint32_t *eff;
	size_t n;

	if (!c->stats || c->stats->n_cpus)
		return 0;
	eff = kt_xcalloc(r->topo->n_cpu + 1, sizeof(*eff));
	if (kt_cgroup_read_list(c->path, "cpuset.cpus.effective", eff, r->topo->n_cpu, &n, &e)) {
		free(eff);
		kt_err_prefix(&e, "cgroup '%s'", c->name);
		return failure(r, GUEST_SETUP, &e);
	}
	c->stats->cpus = eff;
	c->stats->n_cpus = n;
	return 0;
}

static void remove_dir(struct run *r, struct rcg *c)
{
	struct kt_err e;

	c->gone = true;
	if (!c->created)
		return;
	c->created = false;
	if (kt_cgroup_remove(c->path, &e)) {
		kt_err_prefix(&e, "cgroup '%s'", c->name);
		failure(r, GUEST_SETUP, &e);
	}
}

/* ---- workers ---- */

/* Whether C is BELOW or BELOW itself. */
static bool within(const struct rcg *c, const struct rcg *below)
{
	for (; c; c = c->parent)
		if (c == below)
			return true;
	return false;
}

/* W's segment for cgroup CG on CPUS[N], if it has one: a loop hold that
 * sets the same cpuset again, or swaps two back and forth, adds to the
 * segments it has instead of growing the result without bound. */
static Ktstr__Segment *seg_find(Ktstr__WorkerStats *w, const char *cg, const uint32_t *cpus,
				size_t n)
{
	for (size_t i = 0; i < w->n_segments; i++) {
		Ktstr__Segment *s = w->segments[i];

		if (!strcmp(s->cgroup, cg) && s->n_cpus == n &&
		    !memcmp(s->cpus, cpus, n * sizeof(*cpus)))
			return s;
	}
	return NULL;
}

/* Add SEEN[N] to segment S. */
static void seg_merge(Ktstr__Segment *s, const uint32_t *seen, size_t n)
{
	s->cpus_seen = kt_xrealloc(s->cpus_seen, (s->n_cpus_seen + n + 1) * sizeof(uint32_t));
	memcpy(s->cpus_seen + s->n_cpus_seen, seen, n * sizeof(uint32_t));
	s->n_cpus_seen = kt_sort_uniq_u32(s->cpus_seen, s->n_cpus_seen + n);
}

/* Close B's open segment into each worker's WorkerStats. */
static void seg_close(struct run *r, struct batch *b)
{
	uint32_t seen[KT_WORK_CPUS_SEEN];

	if (!r->segmented || !b->seg_cg)
		return;
	for (unsigned i = 0; i < b->n; i++) {
		Ktstr__WorkerStats *w = b->home->stats->workers[b->slot + i];
		size_t n = kt_workset_segment_seen(b->ws, i, seen);
		Ktstr__Segment *s = seg_find(w, b->seg_cg, b->seg_cpus, b->n_seg_cpus);

		if (s) {
			seg_merge(s, seen, n);
			continue;
		}
		if (w->n_segments >= KT_RUNNER_MAX_SEGMENTS) {
			/* Dropped, not misfiled: what it saw is not judged. */
			kt_glog("cgroup '%s' worker %zu: more than %d segments, the rest dropped",
				b->home->name, b->slot + i, KT_RUNNER_MAX_SEGMENTS);
			continue;
		}
		s = kt_xcalloc(1, sizeof(*s));
		ktstr__segment__init(s);
		s->cgroup = kt_xstrdup(b->seg_cg);
		s->cpus = kt_xcalloc(b->n_seg_cpus + 1, sizeof(uint32_t));
		memcpy(s->cpus, b->seg_cpus, b->n_seg_cpus * sizeof(uint32_t));
		s->n_cpus = b->n_seg_cpus;
		s->cpus_seen = kt_xcalloc(n + 1, sizeof(uint32_t));
		memcpy(s->cpus_seen, seen, n * sizeof(uint32_t));
		s->n_cpus_seen = n;
		w->segments = kt_xrealloc(w->segments, (w->n_segments + 1) * sizeof(*w->segments));
		w->segments[w->n_segments++] = s;
	}
	free(b->seg_cg);
	free(b->seg_cpus);
	b->seg_cg = NULL;
	b->seg_cpus = NULL;
}

/* Open a segment for B in its current cgroup; with NEXT, ask its workers
 * to start it (the change that ends the last one has taken effect). */
static int seg_open(struct run *r, struct batch *b, bool next)
{
	struct kt_err e;

	if (!r->segmented)
		return 0;
	b->seg_cpus = kt_xcalloc(r->topo->n_cpu + 1, sizeof(uint32_t));
	if (kt_cgroup_read_list(b->cur->path, "cpuset.cpus.effective", b->seg_cpus,
				r->topo->n_cpu, &b->n_seg_cpus, &e)) {
		kt_err_prefix(&e, "cgroup '%s'", b->cur->name);
		return failure(r, GUEST_SETUP, &e);
	}
	b->seg_cg = kt_xstrdup(b->cur->name);
	for (unsigned i = 0; next && i < b->n; i++)
		kt_workset_segment_next(b->ws, i);
	return 0;
}

static int set_policy(pid_t pid, const Ktstr__PolicySpec *p, struct kt_err *err)
{
	static const int policies[] = { SCHED_OTHER, SCHED_BATCH, SCHED_IDLE, SCHED_FIFO, SCHED_RR };
	struct sched_param sp = { .sched_priority = (int)p->priority };

	if (sched_setscheduler(pid, policies[p->kind], &sp))
		return kt_errf(err, "sched_setscheduler(%d, policy %d, priority %u): %s", (int)pid,
			       (int)p->kind, p->priority, strerror(errno));
	if (p->nice && setpriority(PRIO_PROCESS, (id_t)pid, p->nice))
		return kt_errf(err, "setpriority(%d, %d): %s", (int)pid, p->nice, strerror(errno));
	return 0;
}

/* The CPUs of the cgroup a cross_cgroup affinity names (none if gone). */
static void cross_cpus(struct run *r, const Ktstr__AffinitySpec *a, const uint32_t **cpus,
		       size_t *n)
{
	struct rcg *c = a && a->kind == KTSTR__AFFINITY_KIND__AFFINITY_CROSS_CGROUP ?
			find_cg(r, a->cgroup) : NULL;

	*cpus = c ? c->cpus : NULL;
	*n = c ? c->n_cpus : 0;
}

/* Pin PID (worker INDEX of cgroup C) by A. CPUs outside C's cpuset are
 * the scenario's error (cross_cgroup spans the boundary by design). */
static int pin(struct run *r, struct rcg *c, const Ktstr__AffinitySpec *a, pid_t pid,
	       unsigned index, const char *what, struct kt_err *err)
{
	size_t max = 2 * r->topo->n_cpu + 2, n, nc, no;
	uint32_t *cpus = kt_xcalloc(max, sizeof(*cpus)), *out = kt_xcalloc(max, sizeof(*out));
	const uint32_t *cross;
	cpu_set_t *set = NULL;
	size_t setsize;
	int rc = -1;

	cross_cpus(r, a, &cross, &nc);
	if (kt_affinity_resolve(a, c->cpus, c->n_cpus, cross, nc, r->topo, index, cpus, max, &n,
				err)) {
		kt_err_prefix(err, "%s cgroup '%s'", what, c->name);
		goto out;
	}
	no = kt_cpus_outside(cpus, n, c->cpus, c->n_cpus, out);
	if (no && a->kind != KTSTR__AFFINITY_KIND__AFFINITY_CROSS_CGROUP) {
		char *o = cpus_text(out, no), *in = cpus_text(c->cpus, c->n_cpus);

		kt_errf(err, "%s cgroup '%s': CPUs %s are outside its cpuset (%s)", what, c->name,
			o, in);
		free(o);
		free(in);
		goto out;
	}
	setsize = CPU_ALLOC_SIZE(KT_CPU_ID_MAX);
	set = CPU_ALLOC(KT_CPU_ID_MAX);
	CPU_ZERO_S(setsize, set);
	for (size_t i = 0; i < n; i++)
		CPU_SET_S(cpus[i], setsize, set);
	/* A worker that has already exited (ESRCH) has nothing to pin. */
	if (sched_setaffinity(pid, setsize, set) && errno != ESRCH) {
		kt_errf(err, "%s cgroup '%s': sched_setaffinity(%d): %s", what, c->name, (int)pid,
			strerror(errno));
		rc = -2;
		goto out;
	}
	rc = 0;
out:
	if (set)
		CPU_FREE(set);
	free(cpus);
	free(out);
	return rc;
}

/* After a failed write to cgroup.procs: the kernel refusing the layout
 * (a task into a domain cgroup whose children have tasks, across thread
 * subtrees) is the scenario's doing; anything else the guest's. */
static Ktstr__ScenarioResult__Kind attach_fault(int en, struct kt_err *e)
{
	if (en != EBUSY && en != EOPNOTSUPP)
		return GUEST_SETUP;
	kt_err_prefix(e, "cgroup v2 refuses this layout (nested cgroups are threaded: tasks "
		      "move only within their subtree)");
	return SCENARIO_ERROR;
}

static void start(struct batch *b)
{
	if (!b->started && b->ws)
		kt_workset_start(b->ws);
	b->started = true;
}

/* Fork N workers of WORK into C (telemetry in HOME's stats), with
 * affinity A and policy P; START now or with the step. */
static struct batch *spawn(struct run *r, struct rcg *c, struct rcg *home, unsigned n,
			   const Ktstr__WorkSpec *work, const Ktstr__AffinitySpec *a,
			   const Ktstr__PolicySpec *p, bool now, const char *what)
{
	struct batch *b = kt_xcalloc(1, sizeof(*b));
	Ktstr__CgroupStats *cs = home->stats;
	unsigned first, index0 = (unsigned)cs->n_workers;
	struct kt_err e;
	int rc;

	b->home = home;
	b->cur = c;
	b->n = n;
	r->b = kt_xrealloc(r->b, (r->n_b + 1) * sizeof(*r->b));
	r->b[r->n_b++] = b;
	if (kt_workset_new(n, &b->ws, &e) || kt_workset_spawn(b->ws, work, n, &first, &e)) {
		b->done = true;
		kt_err_prefix(&e, "%s cgroup '%s'", what, c->name);
		/* A work spec the guest cannot run got past the host: the scenario. */
		failure(r, kt_spec_work_check(work, n, NULL) ? SCENARIO_ERROR : GUEST_SETUP, &e);
		return NULL;
	}
	kt_workset_settle(b->ws, r->spec->spread_warmup_ms);
	b->slot = cs->n_workers;
	cs->workers = kt_xrealloc(cs->workers, (cs->n_workers + n) * sizeof(*cs->workers));
	for (unsigned i = 0; i < n; i++) {
		Ktstr__WorkerStats *w = kt_xcalloc(1, sizeof(*w));

		ktstr__worker_stats__init(w);
		cs->workers[cs->n_workers++] = w;
	}
	for (unsigned i = 0; i < n; i++) {
		pid_t pid = kt_workset_pid(b->ws, first + i);
		cpu_set_t set;

		if (kt_cgroup_attach(c->path, pid, &e)) {
			Ktstr__ScenarioResult__Kind k = attach_fault(errno, &e);

			kt_err_prefix(&e, "%s cgroup '%s'", what, c->name);
			return failure(r, k, &e), NULL;
		}
		if (a && a->kind != KTSTR__AFFINITY_KIND__AFFINITY_INHERIT &&
		    (rc = pin(r, c, a, pid, index0 + i, what, &e)))
			return failure(r, rc == -1 ? SCENARIO_ERROR : GUEST_SETUP, &e), NULL;
		if (p && set_policy(pid, p, &e)) {
			kt_err_prefix(&e, "%s cgroup '%s'", what, c->name);
			return failure(r, GUEST_SETUP, &e), NULL;
		}
		if (!sched_getaffinity(pid, sizeof(set), &set))
			cs->workers[b->slot + i]->cpus_allowed_n = (uint32_t)CPU_COUNT(&set);
	}
	if (seg_open(r, b, false))
		return NULL;
	if (now)
		start(b);
	return b;
}

/* Stop B's workers and collect their telemetry into its home's stats. */
static void collect(struct run *r, struct batch *b)
{
	unsigned killed;

	if (b->done)
		return;
	b->done = true;
	killed = kt_workset_stop(b->ws, KT_RUNNER_GRACE_MS);
	if (killed)
		kt_glog("cgroup '%s': %u workers did not stop within %d ms and were killed",
			b->home->name, killed, KT_RUNNER_GRACE_MS);
	seg_close(r, b);
	for (unsigned i = 0; i < b->n; i++) {
		struct kt_err e;

		/* It fills the telemetry fields; segments and the mask are ours. */
		if (kt_workset_stats(b->ws, i, b->home->stats->workers[b->slot + i], &e)) {
			kt_err_prefix(&e, "cgroup '%s'", b->home->name);
			failure(r, kt_workset_death_signal(b->ws, i) ? WORKER_DIED : GUEST_SETUP, &e);
		}
	}
	kt_workset_free(b->ws);
	b->ws = NULL;
}

/* Stop the workers whose tasks are in C. */
static void stop_in(struct run *r, const struct rcg *c)
{
	for (size_t i = 0; i < r->n_b; i++)
		if (!r->b[i]->done && r->b[i]->cur == c)
			collect(r, r->b[i]);
}

/* ---- ops ---- */

/* A change to the cpuset of C (and so of the cgroups below it) or to
 * where tasks are: close the segments it ends before, open new ones
 * after. */
static void affected(struct run *r, const struct rcg *c, bool *mark)
{
	for (size_t i = 0; i < r->n_b; i++)
		if (!r->b[i]->done && within(r->b[i]->cur, c)) {
			mark[i] = true;
			seg_close(r, r->b[i]);
		}
}

static int reopen(struct run *r, const bool *mark)
{
	for (size_t i = 0; i < r->n_b; i++)
		if (mark[i] && seg_open(r, r->b[i], true))
			return -1;
	return 0;
}

/* Write C's cpuset CS (NULL = clear) and recompute what it and the
 * cgroups below it get. */
static int write_cpuset(struct run *r, struct rcg *c, const Ktstr__CpusetSpec *cs,
			const char *what)
{
	uint32_t *cpus;
	size_t n;
	struct kt_err e;
	char *text;

	if (own_cpus(r, cs, c->parent, &cpus, &n, &e)) {
		kt_err_prefix(&e, "%s cgroup '%s'", what, c->name);
		return failure(r, SCENARIO_ERROR, &e);
	}
	text = cs && cs->kind != KTSTR__CPUSET_KIND__CPUSET_NONE ? cpus_text(cpus, n) :
								   kt_xstrdup("");
	if (kt_cgroup_set_cpus(c->path, text, &e)) {
		free(text);
		free(cpus);
		kt_err_prefix(&e, "%s cgroup '%s'", what, c->name);
		return failure(r, GUEST_SETUP, &e);
	}
	free(text);
	free(c->cpus);
	c->cpus = cpus;
	c->n_cpus = n;
	c->cpuset = cs;
	/* The cgroups below see their parent's new set. */
	for (size_t i = 0; i < r->n_cg; i++) {
		struct rcg *d = r->cg[i];

		if (d != c && !d->gone && d->spec && within(d, c)) {
			free(d->cpus);
			d->cpus = NULL;
			d->n_cpus = 0;
			if (own_cpus(r, d->cpuset, d->parent, &d->cpus, &d->n_cpus, &e))
				return failure(r, SCENARIO_ERROR, &e);
		}
	}
	return 0;
}

static struct rcg *need(struct run *r, const char *name, const char *what)
{
	struct rcg *c = find_cg(r, name);

	if (!c)
		fail_fmt(r, SCENARIO_ERROR, "%s: cgroup '%s' does not exist", what, name);
	return c;
}

static int op_cpuset(struct run *r, const char *name, const char *name_b,
		     const Ktstr__CpusetSpec *cs, const char *what)
{
	struct rcg *a = need(r, name, what), *b = name_b ? need(r, name_b, what) : NULL;
	bool *mark = kt_xcalloc(r->n_b + 1, sizeof(*mark));
	const Ktstr__CpusetSpec *ca;
	int rc = -1;

	if (!a || (name_b && !b))
		goto out;
	affected(r, a, mark);
	if (b)
		affected(r, b, mark);
	ca = a->cpuset;
	if (b) {
		if (write_cpuset(r, a, b->cpuset, what) || write_cpuset(r, b, ca, what))
			goto out;
	} else if (write_cpuset(r, a, cs, what)) {
		goto out;
	}
	rc = reopen(r, mark);
out:
	free(mark);
	return rc;
}

static int op_move(struct run *r, const Ktstr__MoveAllTasks *m, const char *what)
{
	struct rcg *from = need(r, m->from, what), *to = need(r, m->to, what);
	pid_t *pids = NULL;
	bool *mark = NULL;
	size_t n = 0;
	struct kt_err e;
	int rc = -1;

	if (!from || !to)
		return -1;
	mark = kt_xcalloc(r->n_b + 1, sizeof(*mark));
	pids = kt_xcalloc(PROCS_MAX, sizeof(*pids));
	for (size_t i = 0; i < r->n_b; i++)
		if (!r->b[i]->done && r->b[i]->cur == from) {
			mark[i] = true;
			seg_close(r, r->b[i]);
		}
	/* cgroup.threads: a threaded cgroup cannot list its processes; a
	 * thread id written to cgroup.procs moves its whole process. */
	if (kt_cgroup_read_procs(from->path, "cgroup.threads", pids, PROCS_MAX, &n, &e)) {
		failure(r, GUEST_SETUP, &e);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		/* A task may exit in between (a fork_exit child): not an error. */
		if (kt_cgroup_attach(to->path, pids[i], &e)) {
			int en = errno;
			Ktstr__ScenarioResult__Kind k;

			if (kill(pids[i], 0))
				continue;
			k = attach_fault(en, &e);
			kt_err_prefix(&e, "%s: from '%s' to '%s'", what, from->name, to->name);
			failure(r, k, &e);
			goto out;
		}
	}
	for (size_t i = 0; i < r->n_b; i++)
		if (mark[i])
			r->b[i]->cur = to;
	rc = reopen(r, mark);
out:
	free(pids);
	free(mark);
	return rc;
}

static int op_affinity(struct run *r, const Ktstr__SetAffinity *sa, const char *what)
{
	struct rcg *c = need(r, sa->cgroup, what);
	unsigned index = 0;
	struct kt_err e;
	int rc;

	if (!c)
		return -1;
	for (size_t i = 0; i < r->n_b; i++) {
		struct batch *b = r->b[i];

		if (b->done || b->cur != c)
			continue;
		for (unsigned k = 0; k < b->n; k++, index++)
			if ((rc = pin(r, c, sa->affinity, kt_workset_pid(b->ws, k), index, what, &e)))
				return failure(r, rc == -1 ? SCENARIO_ERROR : GUEST_SETUP, &e);
	}
	return 0;
}

static int op_spawn(struct run *r, const Ktstr__Spawn *sp, bool host, uint32_t step,
		    const char *what)
{
	struct rcg *c = need(r, sp->cgroup, what);

	if (!c)
		return -1;
	if (host)
		c = c->parent ? c->parent : root_cg(r, step);
	return spawn(r, c, c, sp->workers, sp->work, sp->affinity, sp->policy, true, what) ? 0 : -1;
}

static int op_add(struct run *r, const Ktstr__CgroupSpec *spec, uint32_t step,
		  const char *what)
{
	struct rcg *c = make_cgroup(r, spec, step, false, what);

	if (!c)
		return -1;
	return spawn(r, c, c, spec->workers, spec->work, spec->affinity, spec->policy, true,
		     what) ? 0 : -1;
}

static int op_remove(struct run *r, const char *name, const char *what)
{
	struct rcg *c = need(r, name, what);

	if (!c)
		return -1;
	stop_in(r, c);
	if (record_cpus(r, c))
		return -1;
	remove_dir(r, c);
	return r->failed ? -1 : 0;
}

/* ---- payloads ---- */

#define PAYLOAD_OUT_MAX (64u << 10)

static struct rpay *find_pay(struct run *r, const char *name)
{
	for (size_t i = 0; i < r->n_pay; i++)
		if (!strcmp(r->pay[i]->spec->name, name))
			return r->pay[i];
	return NULL;
}

/* Read what P wrote so far; past PAYLOAD_OUT_MAX it is read and dropped. */
static void drain(struct rpay *p)
{
	char buf[4096];
	ssize_t got;

	while (p->fd >= 0) {
		got = read(p->fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno == EAGAIN)
			return;
		if (got <= 0) {
			close(p->fd);
			p->fd = -1;
			return;
		}
		if (p->len < PAYLOAD_OUT_MAX) {
			size_t take = (size_t)got < PAYLOAD_OUT_MAX - p->len ? (size_t)got :
									       PAYLOAD_OUT_MAX - p->len;

			memcpy(p->out + p->len, buf, take);
			p->len += take;
		}
	}
}

/* Reap what is left of process group PGID among our children: as PID 1
 * the agent adopts the orphans of a payload. Every one was sent SIGKILL,
 * so the wait ends; an orphan not yet ours is reaped at the end. */
static void reap_group(pid_t pgid)
{
	pid_t got;

	do
		got = waitpid(-pgid, NULL, 0);
	while (got > 0 || (got < 0 && errno == EINTR));
}

/* Reap P if it exited (BLOCK: wait for it) and fill its result. Its
 * process group is killed first, while the unreaped leader keeps the
 * group's id from being reused: a payload's children end with it. */
static void reap_pay(struct rpay *p, bool block)
{
	siginfo_t si;
	int st = 0, rc;
	pid_t got;

	if (p->done)
		return;
	memset(&si, 0, sizeof(si));
	do
		rc = waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOWAIT | (block ? 0 : WNOHANG));
	while (rc < 0 && errno == EINTR);
	if (!rc && !si.si_pid)
		return;
	got = -1;
	if (!rc) {
		kill(-p->pid, SIGKILL);
		do
			got = waitpid(p->pid, &st, 0);
		while (got < 0 && errno == EINTR);
		reap_group(p->pid);
	}
	drain(p);
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	p->done = true;
	p->res->run_ms = kt_now_ms() - p->t0;
	p->res->exit_code = got == p->pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	p->res->signal = got == p->pid && WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	p->out[p->len] = 0;
	p->res->output = kt_xstrdup(p->out);
	kt_glog("payload '%s': exit %d signal %d after %llu ms, %zu bytes of output",
		p->spec->name, p->res->exit_code, p->res->signal,
		(unsigned long long)p->res->run_ms, p->len);
}

/* Kill P and its process group; BY_OP: a kill_payload op did. */
static void kill_pay(struct rpay *p, bool by_op)
{
	if (p->done)
		return;
	kill(-p->pid, SIGKILL);
	kill(p->pid, SIGKILL);
	p->res->killed_by_op = by_op;
	reap_pay(p, true);
}

static void __attribute__((noreturn)) payload_child(const Ktstr__PayloadSpec *ps, const char *cg,
						     int out, int errfd)
{
	char **argv = kt_xcalloc(ps->n_args + 2, sizeof(*argv));
	int null = open("/dev/null", O_RDONLY);
	char msg[256];
	int w;

	setpgid(0, 0);
	if (null >= 0)
		dup2(null, 0);
	dup2(out, 1);
	if (cg) {
		struct kt_err e;

		if (kt_cgroup_attach(cg, 0, &e)) {
			w = snprintf(msg, sizeof(msg), "joining its cgroup: %s", e.msg);
			if (write(errfd, msg, (size_t)w) < 0)
				_exit(126);
			_exit(126);
		}
	}
	argv[0] = ps->path;
	for (size_t i = 0; i < ps->n_args; i++)
		argv[i + 1] = ps->args[i];
	execv(ps->path, argv);
	w = snprintf(msg, sizeof(msg), "exec %s: %s", ps->path, strerror(errno));
	if (write(errfd, msg, (size_t)w) < 0)
		_exit(127);
	_exit(127);
}

static int op_run_payload(struct run *r, const Ktstr__PayloadSpec *ps, const char *what)
{
	struct rcg *c = ps->cgroup[0] ? need(r, ps->cgroup, what) : NULL;
	struct rpay *p;
	int out[2], ep[2];
	char msg[320];
	ssize_t got;

	if (ps->cgroup[0] && !c)
		return -1;
	if (pipe2(out, O_CLOEXEC) || pipe2(ep, O_CLOEXEC))
		return fail_fmt(r, GUEST_SETUP, "%s '%s': pipe: %s", what, ps->name,
				strerror(errno));
	p = kt_xcalloc(1, sizeof(*p));
	p->spec = ps;
	p->out = kt_xcalloc(PAYLOAD_OUT_MAX + 1, 1);
	p->res = kt_xcalloc(1, sizeof(*p->res));
	ktstr__payload_result__init(p->res);
	p->res->name = kt_xstrdup(ps->name);
	p->res->exit_code = -1;
	p->t0 = kt_now_ms();
	p->pid = fork();
	if (p->pid == 0)
		payload_child(ps, c ? c->path : NULL, out[1], ep[1]);
	/* Both sides set the group, so that no kill of it can come first. */
	if (p->pid > 0)
		setpgid(p->pid, p->pid);
	close(out[1]);
	close(ep[1]);
	p->fd = out[0];
	r->pay = kt_xrealloc(r->pay, (r->n_pay + 1) * sizeof(*r->pay));
	r->pay[r->n_pay++] = p;
	if (p->pid < 0) {
		p->done = true;
		close(ep[0]);
		return fail_fmt(r, GUEST_SETUP, "%s '%s': fork: %s", what, ps->name,
				strerror(errno));
	}
	fcntl(p->fd, F_SETFL, O_NONBLOCK);
	/* The error pipe closes at exec: anything on it is why exec failed. */
	do
		got = read(ep[0], msg, sizeof(msg) - 1);
	while (got < 0 && errno == EINTR);
	close(ep[0]);
	if (got > 0) {
		msg[got] = 0;
		reap_pay(p, true);
		return fail_fmt(r, SCENARIO_ERROR, "%s '%s': %s", what, ps->name, msg);
	}
	kt_glog("payload '%s': %s started (pid %d)", ps->name, ps->path, (int)p->pid);
	return 0;
}

/* Look after payloads for up to MS: read their output, reap them. */
static void tend(struct run *r, uint64_t ms)
{
	struct pollfd fds[KT_SPEC_MAX_PAYLOADS + 1];
	nfds_t n = 0;

	for (size_t i = 0; i < r->n_pay && n < KT_SPEC_MAX_PAYLOADS; i++)
		if (r->pay[i]->fd >= 0) {
			fds[n].fd = r->pay[i]->fd;
			fds[n++].events = POLLIN;
		}
	if (n)
		poll(fds, n, (int)ms);
	else if (ms) {
		struct timespec until = kt_deadline(CLOCK_MONOTONIC, ms);

		kt_sleep_until(&until);
	}
	for (size_t i = 0; i < r->n_pay; i++) {
		drain(r->pay[i]);
		reap_pay(r->pay[i], false);
	}
}

/* The unscaled planned time of the scenario after op OI of step SI: the
 * holds still ahead (a step's ops come before its hold) and the timeouts
 * of the waits after it. */
static uint64_t rest_ms(struct run *r, size_t si, size_t oi)
{
	uint64_t ms = 0;

	for (size_t i = si; i < r->spec->n_steps; i++) {
		const Ktstr__StepSpec *st = r->spec->steps[i];

		ms += kt_spec_hold_ms(r->spec, st);
		for (size_t k = i == si ? oi + 1 : 0; k < st->n_ops; k++)
			if (st->ops[k]->op_case == KTSTR__OP__OP_WAIT_PAYLOAD)
				ms += st->ops[k]->wait_payload->timeout_ms;
	}
	return ms;
}

/* How long to wait for W: its timeout times the measured slowdown, but
 * ending before the watchdog leaves the rest of the scenario its time;
 * never less than the timeout as written. */
static uint64_t wait_ms(struct run *r, const Ktstr__WaitPayload *w, size_t si, size_t oi,
			bool *clamped)
{
	uint64_t want = (uint64_t)((double)w->timeout_ms * r->slowdown + 0.5), use = want;

	if (r->deadline_ms) {
		uint64_t now = kt_now_ms(), rest = rest_ms(r, si, oi) + KT_RUNNER_END_RESERVE_MS;
		uint64_t room = r->deadline_ms > now + rest ? r->deadline_ms - now - rest : 0;

		if (use > room)
			use = room > w->timeout_ms ? room : w->timeout_ms;
	}
	*clamped = use < want;
	return use;
}

static int op_wait_payload(struct run *r, const Ktstr__WaitPayload *w, size_t si, size_t oi,
			   const char *what)
{
	struct rpay *p = find_pay(r, w->name);
	uint64_t ms, until;
	bool clamped;

	if (!p)
		return fail_fmt(r, SCENARIO_ERROR, "%s: payload '%s' was not started", what,
				w->name);
	ms = wait_ms(r, w, si, oi, &clamped);
	until = kt_now_ms() + ms;
	p->res->timeout_ms = w->timeout_ms;
	p->res->scaled_timeout_ms = ms;
	p->res->slowdown = r->slowdown;
	p->res->clamped = clamped;
	while (!p->done && kt_now_ms() < until)
		tend(r, POLL_MS);
	if (!p->done) {
		kt_glog("payload '%s': still running after %llu ms (%u ms x %.1f slowdown%s): "
			"killed", w->name, (unsigned long long)ms, w->timeout_ms, r->slowdown,
			clamped ? ", clamped before the watchdog" : "");
		kill_pay(p, false);
		p->res->timed_out = true;
	}
	return 0;
}

/* ---- steps ---- */

static int apply_op(struct run *r, const Ktstr__Op *op, size_t si, size_t oi)
{
	char what[64];
	struct kt_err e;

	snprintf(what, sizeof(what), "step %zu ops[%zu] %s", si, oi, kt_spec_op_name(op));
	switch (op->op_case) {
	case KTSTR__OP__OP_ADD_CGROUP:
		return op_add(r, op->add_cgroup, (uint32_t)si, what);
	case KTSTR__OP__OP_REMOVE_CGROUP:
		return op_remove(r, op->remove_cgroup, what);
	case KTSTR__OP__OP_SET_CPUSET:
		return op_cpuset(r, op->set_cpuset->cgroup, NULL, op->set_cpuset->cpuset, what);
	case KTSTR__OP__OP_CLEAR_CPUSET:
		return op_cpuset(r, op->clear_cpuset, NULL, NULL, what);
	case KTSTR__OP__OP_SWAP_CPUSETS:
		return op_cpuset(r, op->swap_cpusets->a, op->swap_cpusets->b, NULL, what);
	case KTSTR__OP__OP_SPAWN:
		return op_spawn(r, op->spawn, false, (uint32_t)si, what);
	case KTSTR__OP__OP_SPAWN_HOST:
		return op_spawn(r, op->spawn_host, true, (uint32_t)si, what);
	case KTSTR__OP__OP_STOP_CGROUP: {
		struct rcg *c = need(r, op->stop_cgroup, what);

		if (c)
			stop_in(r, c);
		return r->failed ? -1 : 0;
	}
	case KTSTR__OP__OP_SET_AFFINITY:
		return op_affinity(r, op->set_affinity, what);
	case KTSTR__OP__OP_MOVE_ALL_TASKS:
		return op_move(r, op->move_all_tasks, what);
	case KTSTR__OP__OP_RUN_PAYLOAD:
		return op_run_payload(r, op->run_payload, what);
	case KTSTR__OP__OP_WAIT_PAYLOAD:
		return op_wait_payload(r, op->wait_payload, si, oi, what);
	case KTSTR__OP__OP_KILL_PAYLOAD: {
		struct rpay *p = find_pay(r, op->kill_payload);

		if (!p)
			return fail_fmt(r, SCENARIO_ERROR, "%s: payload '%s' was not started", what,
					op->kill_payload);
		kill_pay(p, true);
		return 0;
	}
	case KTSTR__OP__OP_SNAPSHOT:
		if (r->hooks && r->hooks->snapshot)
			r->hooks->snapshot(r->hooks->ctx, op->snapshot);
		else
			kt_glog("%s '%s': no scheduler, nothing to capture", what, op->snapshot);
		return 0;
	case KTSTR__OP__OP_WATCH_SNAPSHOT:
		if (!r->hooks || !r->hooks->watch) {
			kt_glog("%s '%s': no scheduler, nothing to watch", what, op->watch_snapshot);
			return 0;
		}
		if (r->hooks->watch(r->hooks->ctx, op->watch_snapshot, &e)) {
			kt_err_prefix(&e, "%s '%s'", what, op->watch_snapshot);
			return failure(r, SCENARIO_ERROR, &e);
		}
		return 0;
	default:
		return fail_fmt(r, SCENARIO_ERROR, "%s: unknown op", what);
	}
}

static int apply_ops(struct run *r, const Ktstr__StepSpec *st, size_t si)
{
	for (size_t i = 0; i < st->n_ops; i++)
		if (apply_op(r, st->ops[i], si, i))
			return -1;
	return 0;
}

static bool sched_failed(struct run *r)
{
	if (!r->sched_failed && r->hooks && r->hooks->sched_failed &&
	    r->hooks->sched_failed(r->hooks->ctx)) {
		kt_glog("the scheduler under test failed: ending the scenario");
		r->sched_failed = true;
	}
	return r->sched_failed;
}

/* Hold for MS; a LOOP hold re-applies the step's ops every interval. */
static int hold(struct run *r, const Ktstr__StepSpec *st, size_t si, uint64_t ms)
{
	uint64_t now = kt_now_ms(), end = now + ms, next = UINT64_MAX;
	bool loop = st->hold && st->hold->kind == KTSTR__HOLD_SPEC__KIND__LOOP;

	if (loop)
		next = now + st->hold->interval_ms;
	while (now < end && !sched_failed(r)) {
		uint64_t until = end < next ? end : next;

		tend(r, until - now < POLL_MS ? until - now : POLL_MS);
		now = kt_now_ms();
		if (loop && now >= next && now < end) {
			if (apply_ops(r, st, si))
				return -1;
			next += st->hold->interval_ms;
		}
	}
	return 0;
}

static int run_step(struct run *r, size_t si)
{
	const Ktstr__StepSpec *st = r->spec->steps[si];
	size_t first_cg, first_b;
	int rc = -1;

	kt_glog("step %zu: %zu ops, %zu cgroups, hold %llu ms", si, st->n_ops, st->n_cgroups,
		(unsigned long long)kt_spec_hold_ms(r->spec, st));
	if (apply_ops(r, st, si))
		return -1;
	first_cg = r->n_cg;
	first_b = r->n_b;
	for (size_t ci = 0; ci < st->n_cgroups; ci++) {
		const Ktstr__CgroupSpec *cs = st->cgroups[ci];
		char what[32];
		struct rcg *c;

		snprintf(what, sizeof(what), "step %zu", si);
		c = make_cgroup(r, cs, (uint32_t)si, true, what);
		if (!c || (cs->workers && !spawn(r, c, c, cs->workers, cs->work, cs->affinity,
						 cs->policy, false, what)))
			goto out;
	}
	for (size_t i = first_b; i < r->n_b; i++)
		start(r->b[i]);
	if (hold(r, st, si, kt_spec_hold_ms(r->spec, st)))
		goto out;
	for (size_t i = first_cg; i < r->n_cg; i++)
		if (r->cg[i]->step_local && record_cpus(r, r->cg[i]))
			goto out;
	rc = 0;
out:
	/* The step's cgroups end with it: their workers first, then the
	 * directories, children before parents. */
	for (size_t i = first_b; i < r->n_b; i++)
		if (r->b[i]->home->step_local)
			collect(r, r->b[i]);
	for (size_t i = r->n_cg; i-- > first_cg;)
		if (r->cg[i]->step_local)
			remove_dir(r, r->cg[i]);
	return rc || r->failed ? -1 : 0;
}

/* Whether the spec moves tasks or changes a cpuset: then every worker
 * reports segments. */
static bool needs_segments(const Ktstr__EntrySpec *spec)
{
	for (size_t i = 0; i < spec->n_steps; i++)
		for (size_t k = 0; k < spec->steps[i]->n_ops; k++)
			switch (spec->steps[i]->ops[k]->op_case) {
			case KTSTR__OP__OP_SET_CPUSET:
			case KTSTR__OP__OP_CLEAR_CPUSET:
			case KTSTR__OP__OP_SWAP_CPUSETS:
			case KTSTR__OP__OP_MOVE_ALL_TASKS:
				return true;
			default:
				break;
			}
	return false;
}

/* Stop and collect everything left, remove what is left. */
static void finish(struct run *r)
{
	for (size_t i = 0; i < r->n_pay; i++) {
		if (!r->pay[i]->done)
			kt_glog("payload '%s': still running at the end: killed",
				r->pay[i]->spec->name);
		kill_pay(r->pay[i], false);
	}
	for (size_t i = 0; i < r->n_b; i++)
		collect(r, r->b[i]);
	for (size_t i = r->n_cg; i-- > 0;) {
		struct rcg *c = r->cg[i];

		if (c->created && !c->gone && !r->failed)
			record_cpus(r, c);
		if (c->spec)
			remove_dir(r, c);
		else if (!c->stats->n_cpus) /* the root: BASE's CPUs */
			record_cpus(r, c);
	}
	/* As PID 1 we inherit every orphan (say a fork_exit child whose
	 * worker was killed mid-fork): reap them, or they stay zombies. Only
	 * now: our own workers and payloads are all reaped. */
	if (getpid() == 1)
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
}

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->n_b; i++) {
		kt_workset_free(r->b[i]->ws);
		free(r->b[i]->seg_cg);
		free(r->b[i]->seg_cpus);
		free(r->b[i]);
	}
	for (size_t i = 0; i < r->n_cg; i++) {
		free(r->cg[i]->cpus);
		free(r->cg[i]);
	}
	for (size_t i = 0; i < r->n_pay; i++) {
		free(r->pay[i]->out);
		free(r->pay[i]);
	}
	free(r->b);
	free(r->cg);
	free(r->pay);
}

Ktstr__ScenarioResult *kt_runner_run(const Ktstr__EntrySpec *spec,
				     const Ktstr__GuestTopology *topo, const char *base,
				     const struct kt_runner_hooks *hooks,
				     const struct kt_runner_time *time)
{
	struct run r;
	struct kt_err e;

	memset(&r, 0, sizeof(r));
	r.spec = spec;
	r.topo = topo;
	r.hooks = hooks;
	r.base = base;
	r.slowdown = kt_calib_factor(time ? time->calib_ns : 0, spec->host_calib_ns);
	r.deadline_ms = time ? time->deadline_ms : 0;
	if (r.slowdown > 1)
		kt_glog("measured slowdown %.1f: wait_payload timeouts are scaled by it",
			r.slowdown);
	r.segmented = needs_segments(spec);
	r.res = kt_xcalloc(1, sizeof(*r.res));
	ktstr__scenario_result__init(r.res);
	r.t0 = kt_now_ms();
	if ((spec->n_steps || spec->n_backdrop) && read_mems(base, r.mems, sizeof(r.mems), &e))
		failure(&r, GUEST_SETUP, &e);
	for (size_t i = 0; i < spec->n_backdrop && !r.failed; i++) {
		const Ktstr__CgroupSpec *cs = spec->backdrop[i];
		struct rcg *c = make_cgroup(&r, cs, 0, false, "backdrop");

		if (c && cs->workers)
			spawn(&r, c, c, cs->workers, cs->work, cs->affinity, cs->policy, true,
			      "backdrop");
	}
	for (size_t si = 0; si < spec->n_steps && !r.failed && !r.sched_failed; si++)
		if (run_step(&r, si) && !r.failed)
			fail_fmt(&r, GUEST_SETUP, "step %zu failed", si);
	finish(&r);
	r.res->payloads = kt_xcalloc(r.n_pay + 1, sizeof(*r.res->payloads));
	for (size_t i = 0; i < r.n_pay; i++)
		r.res->payloads[r.res->n_payloads++] = r.pay[i]->res;
	r.res->ok = !r.failed;
	r.res->kind = r.failed ? r.kind : KTSTR__SCENARIO_RESULT__KIND__COMPLETED;
	if (r.failed)
		r.res->error = kt_xstrdup(r.err.msg);
	r.res->run_ms = kt_now_ms() - r.t0;
	run_free(&r);
	return r.res;
}
