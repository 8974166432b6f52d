#define _GNU_SOURCE /* qsort_r */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checks.h"
#include "cpuset.h"
#include "entry_spec.h"
#include "util.h"

/* A message being built: appends past the end are cut and marked "...". */
struct msg {
	char *buf;
	size_t cap, len;
	bool cut;
};

static void msg_init(struct msg *m, char *buf, size_t cap)
{
	m->buf = buf;
	m->cap = cap;
	m->len = 0;
	m->cut = false;
	buf[0] = 0;
}

static void __attribute__((format(printf, 2, 3))) msg_add(struct msg *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (m->cut)
		return;
	va_start(ap, fmt);
	n = vsnprintf(m->buf + m->len, m->cap - m->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= m->cap - m->len) {
		m->cut = true;
		m->len = m->cap - 1;
		memcpy(m->buf + m->cap - 4, "...", 4);
		return;
	}
	m->len += (size_t)n;
}

static const char *cg_name(const Ktstr__CgroupStats *cg)
{
	return cg->name && *cg->name ? cg->name : "(unnamed)";
}

/* "0-3,6" for sorted unique CPUS. */
static void add_cpus(struct msg *m, const uint32_t *cpus, size_t n)
{
	size_t len = n * 24 + 1; /* "4294967295-4294967295," per run at most */
	char *text = kt_xcalloc(len, 1);

	kt_cpulist_format(cpus, n, text, len, NULL);
	msg_add(m, "%s", text);
	free(text);
}

static void set(struct kt_check *c, const char *name, double value, double threshold)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->value = value;
	c->threshold = threshold;
	c->passed = value <= threshold;
}

/* A check that passes at or above its threshold. */
static void set_min(struct kt_check *c, const char *name, double value, double threshold)
{
	set(c, name, value, threshold);
	c->passed = value >= threshold;
}

/* The factor time thresholds are scaled by: >= 1, whatever CFG holds. */
static double slowdown(const struct kt_checks_cfg *cfg)
{
	return cfg->slowdown >= 1 && cfg->slowdown <= 1e6 ? cfg->slowdown : 1;
}

/* "23600.0 ms (2000 ms x 11.8 measured slowdown)", or "2000.0 ms" unscaled:
 * a scaled threshold says what it was scaled from and by how much. */
static void add_threshold(struct msg *m, double base, double eff, double factor, const char *unit)
{
	msg_add(m, "%.1f %s", eff, unit);
	if (factor > 1)
		msg_add(m, " (%g %s %s %.1f measured slowdown)", base, unit,
			eff < base ? "/" : "x", factor);
}

static const char *type_name(const Ktstr__WorkerStats *w)
{
	const char *n = kt_spec_work_name(w->work_type);

	return n ? n : "unknown type";
}

/* ---- validation: is there anything to judge? ---- */

/* A worker's segments (the stretches it spent in one cgroup with one
 * cpuset): present and consistent, each with cpus when isolation is judged
 * against them. */
static int validate_segments(const Ktstr__CgroupStats *cg, size_t w, bool need_cpus,
			     struct kt_err *err)
{
	const Ktstr__WorkerStats *ws = cg->workers[w];

	if (ws->n_segments && !ws->segments)
		return kt_errf(err, "result: cgroup '%s' worker %zu: inconsistent arrays",
			       cg_name(cg), w);
	for (size_t i = 0; i < ws->n_segments; i++) {
		const Ktstr__Segment *s = ws->segments[i];

		if (!s || (s->n_cpus && !s->cpus) || (s->n_cpus_seen && !s->cpus_seen))
			return kt_errf(err, "result: cgroup '%s' worker %zu segment %zu: missing or "
				       "inconsistent", cg_name(cg), w, i);
		if (need_cpus && !s->n_cpus)
			return kt_errf(err, "result: cgroup '%s' worker %zu segment %zu reported no "
				       "cpus, so isolation cannot be checked", cg_name(cg), w, i);
	}
	return 0;
}

static int validate_cgroup(const Ktstr__CgroupStats *cg, size_t i, bool need_cpus,
			   struct kt_err *err)
{
	if (!cg)
		return kt_errf(err, "result: cgroup %zu is missing", i);
	if (!cg->n_workers)
		return kt_errf(err, "result: cgroup '%s' reported no workers", cg_name(cg));
	if (!cg->workers || (cg->n_cpus && !cg->cpus))
		return kt_errf(err, "result: cgroup '%s': inconsistent arrays", cg_name(cg));
	for (size_t w = 0; w < cg->n_workers; w++) {
		if (!cg->workers[w])
			return kt_errf(err, "result: cgroup '%s' worker %zu is missing", cg_name(cg), w);
		if (cg->workers[w]->n_cpus_seen && !cg->workers[w]->cpus_seen)
			return kt_errf(err, "result: cgroup '%s' worker %zu: inconsistent arrays",
				       cg_name(cg), w);
		if (validate_segments(cg, w, need_cpus, err))
			return -1;
		/* Without segments, the worker is judged against its cgroup's cpus. */
		if (need_cpus && !cg->workers[w]->n_segments && !cg->n_cpus)
			return kt_errf(err, "result: cgroup '%s' reported no cpus, so isolation "
				       "cannot be checked", cg_name(cg));
	}
	return 0;
}

static int validate(const struct kt_checks_cfg *cfg, const Ktstr__ScenarioResult *res,
		    struct kt_err *err)
{
	if (!cfg || !res)
		return kt_errf(err, "checks: no result to evaluate");
	if (!res->ok)
		return kt_errf(err, "result: the scenario did not run: %.300s",
			       res->error && *res->error ? res->error : "(no reason given)");
	if (!res->n_cgroups)
		return kt_errf(err, "result: no cgroups reported, nothing to check");
	if (!res->cgroups)
		return kt_errf(err, "result: inconsistent cgroup array");
	for (size_t i = 0; i < res->n_cgroups; i++)
		if (validate_cgroup(res->cgroups[i], i, cfg->isolation, err))
			return -1;
	return 0;
}

static size_t count_workers(const Ktstr__ScenarioResult *res)
{
	size_t n = 0;

	for (size_t i = 0; i < res->n_cgroups; i++)
		n += res->cgroups[i]->n_workers;
	return n;
}

/* ---- not_starved ---- */

#define LIST_MAX 4 /* offenders named in a message */

static void check_work(const Ktstr__ScenarioResult *res, struct kt_check *c)
{
	const Ktstr__CgroupStats *least_cg = NULL;
	size_t zero = 0, least_w = 0;
	uint64_t least = UINT64_MAX;
	char who[sizeof(c->message)];
	struct msg m;

	msg_init(&m, who, sizeof(who));
	for (size_t i = 0; i < res->n_cgroups; i++) {
		const Ktstr__CgroupStats *cg = res->cgroups[i];

		for (size_t w = 0; w < cg->n_workers; w++) {
			uint64_t u = cg->workers[w]->work_units;

			if (u < least) {
				least = u;
				least_cg = cg;
				least_w = w;
			}
			if (u)
				continue;
			if (zero < LIST_MAX)
				msg_add(&m, "%s%s worker %zu", zero ? ", " : "", cg_name(cg), w);
			else if (zero == LIST_MAX)
				msg_add(&m, ", ...");
			zero++;
		}
	}
	set(c, "not_starved.work", (double)zero, 0);
	msg_init(&m, c->message, sizeof(c->message));
	if (zero)
		msg_add(&m, "%zu of %zu workers did no work (threshold 0): %s", zero,
			count_workers(res), who);
	else
		msg_add(&m, "%zu workers in %zu cgroups all did work, fewest %llu units "
			"(%s worker %zu)", count_workers(res), res->n_cgroups,
			(unsigned long long)least, cg_name(least_cg), least_w);
}

/* Whether W's settle sample can be used: taken, no later than half its
 * run, and not above its totals (the guest's numbers are not trusted). */
static bool settled(const Ktstr__WorkerStats *w)
{
	return w->settle_wall_ns && w->settle_wall_ns <= w->wall_ns / 2 &&
	       w->settle_run_delay_ns <= w->run_delay_ns;
}

/* Share of wall time spent runnable but not running (schedstat run delay):
 * the off-CPU time a worker did not choose. For CPU-bound work it equals
 * wall - cpu; for blocking work (pipes, sleeps) it leaves out the waiting
 * the work asked for, which differs between workers by design. With
 * AFTER, over the stretch after the settle sample (the scheduler's first
 * placements and balancing of new tasks left out). */
static double wait_pct(const Ktstr__WorkerStats *w, bool after)
{
	uint64_t wall = w->wall_ns, delay = w->run_delay_ns;

	if (after) {
		wall -= w->settle_wall_ns;
		delay -= w->settle_run_delay_ns;
	}
	return fmin(100.0, (double)delay * 100.0 / (double)wall);
}

/* The spread of one cgroup's measured workers; *MEASURED their count.
 * Like is compared with like: after the warm-up when every measured
 * worker has a usable sample (*AFTER), else all over their whole run (a
 * worker spawned late, or too short, keeps its own start). */
static double cg_spread(const Ktstr__CgroupStats *cg, size_t *hi, size_t *lo, double *hi_pct,
			double *lo_pct, size_t *measured, bool *after)
{
	*measured = 0;
	*after = true;
	for (size_t w = 0; w < cg->n_workers; w++)
		if (cg->workers[w]->wall_ns && !settled(cg->workers[w]))
			*after = false;
	for (size_t w = 0; w < cg->n_workers; w++) {
		double pct;

		if (!cg->workers[w]->wall_ns)
			continue;
		pct = wait_pct(cg->workers[w], *after);
		if (!(*measured)++ || pct > *hi_pct) {
			*hi = w;
			*hi_pct = pct;
		}
		if (*measured == 1 || pct <= *lo_pct) { /* a tie names two workers */
			*lo = w;
			*lo_pct = pct;
		}
	}
	return *measured >= 2 ? *hi_pct - *lo_pct : 0;
}

static void add_unmeasured(const Ktstr__ScenarioResult *res, struct msg *m)
{
	size_t n = 0;

	for (size_t i = 0; i < res->n_cgroups; i++) {
		const Ktstr__CgroupStats *cg = res->cgroups[i];

		for (size_t w = 0; w < cg->n_workers; w++) {
			if (cg->workers[w]->wall_ns)
				continue;
			if (n < LIST_MAX)
				msg_add(m, "%s%s worker %zu", n ? ", " : "; not measured (wall time 0): ",
					cg_name(cg), w);
			else if (n == LIST_MAX)
				msg_add(m, ", ...");
			n++;
		}
	}
}

static void check_spread(const struct kt_checks_cfg *cfg, const Ktstr__ScenarioResult *res,
			 struct kt_check *c)
{
	const Ktstr__CgroupStats *worst = NULL;
	size_t compared = 0, whi = 0, wlo = 0, whole = 0;
	double spread = 0, whi_pct = 0, wlo_pct = 0;
	struct msg m;

	for (size_t i = 0; i < res->n_cgroups; i++) {
		size_t hi = 0, lo = 0, measured;
		double hi_pct = 0, lo_pct = 0;
		bool after;
		double s = cg_spread(res->cgroups[i], &hi, &lo, &hi_pct, &lo_pct, &measured, &after);

		if (measured < 2)
			continue;
		whole += !after;
		if (!compared++ || s > spread) {
			worst = res->cgroups[i];
			spread = s;
			whi = hi;
			wlo = lo;
			whi_pct = hi_pct;
			wlo_pct = lo_pct;
		}
	}
	set(c, "not_starved.spread", spread, cfg->max_spread);
	msg_init(&m, c->message, sizeof(c->message));
	if (!worst) {
		msg_add(&m, "no cgroup has 2 measured workers, nothing to compare");
	} else {
		msg_add(&m, "run-queue wait spread %.1f pp in %s (worker %zu %.1f%%, worker %zu %.1f%%) "
			"%s %.1f pp; %zu cgroups compared", spread, cg_name(worst), whi, whi_pct, wlo,
			wlo_pct, c->passed ? "within" : "exceeds", cfg->max_spread, compared);
		if (whole < compared)
			msg_add(&m, "; %zu of %zu cgroups judged after a %.0f ms warm-up",
				compared - whole, compared, cfg->spread_warmup_ms);
		if (whole)
			msg_add(&m, "; %zu of %zu cgroups judged over the whole run (a worker without "
				"a warm-up sample, or with a run under twice the warm-up)", whole,
				compared);
	}
	add_unmeasured(res, &m);
}

static void check_gap(const struct kt_checks_cfg *cfg, const Ktstr__ScenarioResult *res,
		      struct kt_check *c)
{
	const Ktstr__CgroupStats *worst = res->cgroups[0];
	double f = slowdown(cfg), limit = cfg->max_gap_ms * f;
	size_t worst_w = 0, over = 0;
	uint64_t gap = 0;
	struct msg m;

	for (size_t i = 0; i < res->n_cgroups; i++) {
		const Ktstr__CgroupStats *cg = res->cgroups[i];

		for (size_t w = 0; w < cg->n_workers; w++) {
			uint64_t g = cg->workers[w]->max_gap_ns;

			over += (double)g / 1e6 > limit;
			if (g > gap) {
				gap = g;
				worst = cg;
				worst_w = w;
			}
		}
	}
	set(c, "not_starved.gap", (double)gap / 1e6, limit);
	msg_init(&m, c->message, sizeof(c->message));
	if (c->passed)
		msg_add(&m, "%zu workers in %zu cgroups, worst gap %.1f ms (%s worker %zu), "
			"threshold ", count_workers(res), res->n_cgroups, c->value, cg_name(worst),
			worst_w);
	else
		msg_add(&m, "worst gap %.1f ms (%s worker %zu) exceeds ", c->value, cg_name(worst),
			worst_w);
	add_threshold(&m, cfg->max_gap_ms, limit, f, "ms");
	if (!c->passed)
		msg_add(&m, "; %zu of %zu workers over", over, count_workers(res));
}

/* ---- isolation ---- */

/* Sorted unique copy of the N CPUS into *OUT (malloc'd); returns the count. */
static size_t sorted_cpus(const uint32_t *cpus, size_t n, uint32_t **out)
{
	uint32_t *v = kt_xcalloc(n ? n : 1, sizeof(*v));

	if (n)
		memcpy(v, cpus, n * sizeof(*v));
	*out = v;
	return kt_sort_uniq_u32(v, n);
}

/* The CPUs of SEEN outside ALLOWED, as a list into BUF; returns their count. */
static size_t outside_cpus(const uint32_t *seen, size_t n_seen, const uint32_t *allowed, size_t n,
			   char *buf, size_t cap)
{
	struct msg m;
	size_t bad = 0;

	msg_init(&m, buf, cap);
	for (size_t i = 0; i < n_seen; i++) {
		if (bsearch(&seen[i], allowed, n, sizeof(*allowed), kt_cmp_u32))
			continue;
		msg_add(&m, "%s%u", bad++ ? "," : "", seen[i]);
	}
	return bad;
}

/* Judge SEEN against the N_CPUS of CPUS; an offence goes into M as
 * "cg worker W[ in cgroup X (segment S)] on CPU a,b (allowed 0-1)". */
static bool judge_cpus(struct msg *m, size_t *outside, const Ktstr__CgroupStats *cg, size_t w,
		       const Ktstr__Segment *seg, size_t si, const uint32_t *seen, size_t n_seen,
		       const uint32_t *cpus, size_t n_cpus)
{
	uint32_t *allowed;
	size_t n = sorted_cpus(cpus, n_cpus, &allowed);
	char bad[64];

	if (!outside_cpus(seen, n_seen, allowed, n, bad, sizeof(bad))) {
		free(allowed);
		return false;
	}
	msg_add(m, "%s%s worker %zu", (*outside)++ ? "; " : "", cg_name(cg), w);
	if (seg)
		msg_add(m, " in cgroup %s (segment %zu)", seg->cgroup && *seg->cgroup ?
			seg->cgroup : "(unnamed)", si);
	msg_add(m, " on CPU %s (allowed ", bad);
	add_cpus(m, allowed, n);
	msg_add(m, ")");
	free(allowed);
	return true;
}

/* A worker with segments is judged segment by segment, each against the
 * cpus of the cgroup it was in then (it may have moved, or its cpuset
 * changed); one without, against its cgroup's cpus. */
static void check_isolation(const Ktstr__ScenarioResult *res, struct kt_check *c)
{
	char detail[sizeof(c->message)];
	size_t outside = 0, bad_workers = 0;
	struct msg m;

	msg_init(&m, detail, sizeof(detail));
	for (size_t i = 0; i < res->n_cgroups; i++) {
		const Ktstr__CgroupStats *cg = res->cgroups[i];

		for (size_t w = 0; w < cg->n_workers; w++) {
			const Ktstr__WorkerStats *ws = cg->workers[w];
			bool bad = false;

			if (!ws->n_segments)
				bad = judge_cpus(&m, &outside, cg, w, NULL, 0, ws->cpus_seen,
						 ws->n_cpus_seen, cg->cpus, cg->n_cpus);
			for (size_t s = 0; s < ws->n_segments; s++) {
				const Ktstr__Segment *seg = ws->segments[s];

				bad |= judge_cpus(&m, &outside, cg, w, seg, s, seg->cpus_seen,
						  seg->n_cpus_seen, seg->cpus, seg->n_cpus);
			}
			bad_workers += bad;
		}
	}
	set(c, "isolation", (double)bad_workers, 0);
	msg_init(&m, c->message, sizeof(c->message));
	if (bad_workers)
		msg_add(&m, "%zu of %zu workers ran outside their cgroup's CPUs: %s", bad_workers,
			count_workers(res), detail);
	else
		msg_add(&m, "%zu workers in %zu cgroups stayed on their cgroup's CPUs",
			count_workers(res), res->n_cgroups);
}

/* ---- optional checks ---- */

/* The workers of one cgroup, ordered by work type so that each type's
 * workers form a run: the groups the CV checks compare within. */
struct group_ix {
	const Ktstr__CgroupStats *cg;
	size_t *ix, n;
};

static int by_type(const void *a, const void *b, void *arg)
{
	const Ktstr__CgroupStats *cg = arg;
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	int ta = cg->workers[ia]->work_type, tb = cg->workers[ib]->work_type;

	if (ta != tb)
		return ta < tb ? -1 : 1;
	return ia < ib ? -1 : ia > ib;
}

static void group_init(struct group_ix *g, const Ktstr__CgroupStats *cg)
{
	g->cg = cg;
	g->n = cg->n_workers;
	g->ix = kt_xcalloc(g->n, sizeof(*g->ix));
	for (size_t i = 0; i < g->n; i++)
		g->ix[i] = i;
	qsort_r(g->ix, g->n, sizeof(*g->ix), by_type, (void *)cg);
}

/* A per-worker quantity for a CV check; false = not measured. */
typedef bool (*metric_fn)(const Ktstr__WorkerStats *w, double *v);

/* Work units per wall-second: a worker held off the CPU falls behind its
 * peers, whatever the work type does per unit. */
static bool wall_rate(const Ktstr__WorkerStats *w, double *v)
{
	if (!w->wall_ns)
		return false;
	*v = (double)w->work_units * 1e9 / (double)w->wall_ns;
	return true;
}

/* Mean wake-to-run latency, us (the reservoir holds only percentiles). */
static bool wake_mean(const Ktstr__WorkerStats *w, double *v)
{
	if (!w->wake_latency || !w->wake_latency->count)
		return false;
	*v = (double)w->wake_latency->mean_ns / 1e3;
	return true;
}

/* The worst CV of one check over all groups. */
struct cv_worst {
	const Ktstr__CgroupStats *cg;
	const char *type;
	double cv, lo, hi;
	size_t n, lo_w, hi_w, groups;
};

/* CV (population standard deviation / mean) of the measured workers
 * IX[0..N) of CG; 0 when the mean is 0 (no variation to speak of). */
static void group_cv(const Ktstr__CgroupStats *cg, const size_t *ix, size_t n, metric_fn fn,
		     struct cv_worst *worst)
{
	double sum = 0, var = 0, mean, cv, v, lo = 0, hi = 0;
	size_t k = 0, lo_w = 0, hi_w = 0;

	for (size_t i = 0; i < n; i++) {
		if (!fn(cg->workers[ix[i]], &v))
			continue;
		if (!k || v < lo)
			lo = v, lo_w = ix[i];
		if (!k || v > hi)
			hi = v, hi_w = ix[i];
		sum += v;
		k++;
	}
	if (k < 2)
		return;
	mean = sum / (double)k;
	for (size_t i = 0; i < n; i++)
		if (fn(cg->workers[ix[i]], &v))
			var += (v - mean) * (v - mean);
	cv = mean > 0 ? sqrt(var / (double)k) / mean : 0;
	if (!worst->groups++ || cv > worst->cv)
		*worst = (struct cv_worst){ cg, type_name(cg->workers[ix[0]]), cv, lo, hi, k,
					    lo_w, hi_w, worst->groups };
}

static void check_cv(const Ktstr__ScenarioResult *res, struct kt_check *c, const char *name,
		     double threshold, metric_fn fn, const char *what, const char *unit)
{
	struct cv_worst worst = { 0 };
	struct msg m;

	for (size_t i = 0; i < res->n_cgroups; i++) {
		struct group_ix g;

		group_init(&g, res->cgroups[i]);
		for (size_t a = 0, b; a < g.n; a = b) {
			Ktstr__WorkType t = g.cg->workers[g.ix[a]]->work_type;

			for (b = a; b < g.n && g.cg->workers[g.ix[b]]->work_type == t; b++)
				;
			group_cv(g.cg, g.ix + a, b - a, fn, &worst);
		}
		free(g.ix);
	}
	set(c, name, worst.cv, threshold);
	msg_init(&m, c->message, sizeof(c->message));
	if (!worst.groups) {
		msg_add(&m, "no cgroup has 2 workers of one type with %s measured, nothing to "
			"compare", what);
		return;
	}
	msg_add(&m, "%s CV %.3f in %s (%zu %s workers: worker %zu %.1f %s, worker %zu %.1f %s) "
		"%s %.3f; %zu groups compared", what, worst.cv, cg_name(worst.cg), worst.n,
		worst.type, worst.lo_w, worst.lo, unit, worst.hi_w, worst.hi, unit,
		c->passed ? "within" : "exceeds", threshold, worst.groups);
}

/* Per-worker checks: the worst worker against a threshold. */
struct worst {
	const Ktstr__CgroupStats *cg;
	size_t w, measured, over;
	double v;
};

/* Visit every worker: FN gives its value (false = not measured); MIN says
 * that lower is worse. */
static void scan(const Ktstr__ScenarioResult *res, metric_fn fn, bool min, double limit,
		 struct worst *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < res->n_cgroups; i++) {
		const Ktstr__CgroupStats *cg = res->cgroups[i];

		for (size_t w = 0; w < cg->n_workers; w++) {
			double v;

			if (!fn(cg->workers[w], &v))
				continue;
			out->over += min ? v < limit : v > limit;
			if (!out->measured++ || (min ? v < out->v : v > out->v)) {
				out->v = v;
				out->cg = cg;
				out->w = w;
			}
		}
	}
}

/* Work units per CPU-second: how much a worker got done with the CPU time
 * it had. A worker with no CPU time rates 0. */
static bool cpu_rate(const Ktstr__WorkerStats *w, double *v)
{
	*v = w->cpu_ns ? (double)w->work_units * 1e9 / (double)w->cpu_ns : 0;
	return true;
}

static void check_work_rate(const struct kt_checks_cfg *cfg, const Ktstr__ScenarioResult *res,
			    struct kt_check *c)
{
	double f = slowdown(cfg), limit = cfg->min_work_rate / f;
	struct worst w;
	struct msg m;

	scan(res, cpu_rate, true, limit, &w);
	set_min(c, "work_rate", w.v, limit);
	msg_init(&m, c->message, sizeof(c->message));
	msg_add(&m, "lowest work rate %.1f units per CPU-second (%s worker %zu, %s) %s ", w.v,
		cg_name(w.cg), w.w, type_name(w.cg->workers[w.w]),
		c->passed ? "meets" : "is below");
	add_threshold(&m, cfg->min_work_rate, limit, f, "units/CPU-s");
	if (!c->passed)
		msg_add(&m, "; %zu of %zu workers below", w.over, w.measured);
}

static bool p99_us(const Ktstr__WorkerStats *w, double *v)
{
	if (!w->wake_latency || !w->wake_latency->count)
		return false;
	*v = (double)w->wake_latency->p99_ns / 1e3;
	return true;
}

static void check_p99_wake(const struct kt_checks_cfg *cfg, const Ktstr__ScenarioResult *res,
			   struct kt_check *c)
{
	double f = slowdown(cfg), limit = cfg->max_p99_wake_us * f;
	struct worst w;
	struct msg m;

	scan(res, p99_us, false, limit, &w);
	set(c, "wake_latency.p99", w.v, limit);
	msg_init(&m, c->message, sizeof(c->message));
	if (!w.measured) {
		msg_add(&m, "no worker measured wake latency (no wake-based work), nothing to "
			"judge");
		return;
	}
	msg_add(&m, "worst p99 wake latency %.1f us (%s worker %zu, %s) %s ", w.v, cg_name(w.cg),
		w.w, type_name(w.cg->workers[w.w]), c->passed ? "within" : "exceeds");
	add_threshold(&m, cfg->max_p99_wake_us, limit, f, "us");
	msg_add(&m, "; %zu of %zu measured workers over", w.over, w.measured);
}

/* Migrations (CPU changes seen) per timeslice (schedstat): how often a
 * worker came back on another CPU. Without timeslices, not measured. */
static bool migration_ratio(const Ktstr__WorkerStats *w, double *v)
{
	if (!w->timeslices)
		return false;
	*v = (double)w->migrations / (double)w->timeslices;
	return true;
}

static void check_migrations(const struct kt_checks_cfg *cfg, const Ktstr__ScenarioResult *res,
			     struct kt_check *c)
{
	struct worst w;
	struct msg m;

	scan(res, migration_ratio, false, cfg->max_migration_ratio, &w);
	set(c, "migration_ratio", w.v, cfg->max_migration_ratio);
	msg_init(&m, c->message, sizeof(c->message));
	if (!w.measured) {
		msg_add(&m, "no worker reported timeslices (schedstat), nothing to judge");
		return;
	}
	msg_add(&m, "worst migration ratio %.3f per timeslice (%s worker %zu: %llu migrations in "
		"%llu timeslices) %s %.3f; %zu of %zu measured workers over", w.v, cg_name(w.cg),
		w.w, (unsigned long long)w.cg->workers[w.w]->migrations,
		(unsigned long long)w.cg->workers[w.w]->timeslices,
		c->passed ? "within" : "exceeds", cfg->max_migration_ratio, w.over, w.measured);
}

static bool on(double threshold)
{
	return threshold >= 0;
}

int kt_checks_eval(const struct kt_checks_cfg *cfg, const Ktstr__ScenarioResult *res,
		   struct kt_check **out, size_t *n, struct kt_err *err)
{
	struct kt_check *c;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (validate(cfg, res, err))
		return -1;
	c = calloc(KT_CHECKS_MAX, sizeof(*c));
	if (!c)
		return kt_errf(err, "checks: out of memory");
	if (cfg->not_starved) {
		check_work(res, &c[k++]);
		check_spread(cfg, res, &c[k++]);
		check_gap(cfg, res, &c[k++]);
	}
	if (cfg->isolation)
		check_isolation(res, &c[k++]);
	if (on(cfg->max_throughput_cv))
		check_cv(res, &c[k++], "throughput_cv", cfg->max_throughput_cv, wall_rate,
			 "throughput", "units/s");
	if (on(cfg->min_work_rate))
		check_work_rate(cfg, res, &c[k++]);
	if (on(cfg->max_p99_wake_us))
		check_p99_wake(cfg, res, &c[k++]);
	if (on(cfg->max_wake_cv))
		check_cv(res, &c[k++], "wake_latency.cv", cfg->max_wake_cv, wake_mean,
			 "mean wake latency", "us");
	if (on(cfg->max_migration_ratio))
		check_migrations(cfg, res, &c[k++]);
	*out = c;
	*n = k;
	return 0;
}

bool kt_checks_passed(const struct kt_check *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!c[i].passed)
			return false;
	return true;
}
