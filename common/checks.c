#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checks.h"
#include "cpuset.h"
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

/* ---- validation: is there anything to judge? ---- */

static int validate_cgroup(const Ktstr__CgroupStats *cg, size_t i, bool need_cpus,
			   struct kt_err *err)
{
	if (!cg)
		return kt_errf(err, "result: cgroup %zu is missing", i);
	if (!cg->n_workers)
		return kt_errf(err, "result: cgroup '%s' reported no workers", cg_name(cg));
	if (!cg->workers || (cg->n_cpus && !cg->cpus))
		return kt_errf(err, "result: cgroup '%s': inconsistent arrays", cg_name(cg));
	if (need_cpus && !cg->n_cpus)
		return kt_errf(err, "result: cgroup '%s' reported no cpus, so isolation cannot be "
			       "checked", cg_name(cg));
	for (size_t w = 0; w < cg->n_workers; w++) {
		if (!cg->workers[w])
			return kt_errf(err, "result: cgroup '%s' worker %zu is missing", cg_name(cg), w);
		if (cg->workers[w]->n_cpus_seen && !cg->workers[w]->cpus_seen)
			return kt_errf(err, "result: cgroup '%s' worker %zu: inconsistent arrays",
				       cg_name(cg), w);
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

/* Share of wall time spent runnable but not running (schedstat run delay):
 * the off-CPU time a worker did not choose. For CPU-bound work it equals
 * wall - cpu; for blocking work (pipes, sleeps) it leaves out the waiting
 * the work asked for, which differs between workers by design. */
static double wait_pct(const Ktstr__WorkerStats *w)
{
	return fmin(100.0, (double)w->run_delay_ns * 100.0 / (double)w->wall_ns);
}

/* The spread of one cgroup's measured workers; *MEASURED their count. */
static double cg_spread(const Ktstr__CgroupStats *cg, size_t *hi, size_t *lo, double *hi_pct,
			double *lo_pct, size_t *measured)
{
	*measured = 0;
	for (size_t w = 0; w < cg->n_workers; w++) {
		double pct;

		if (!cg->workers[w]->wall_ns)
			continue;
		pct = wait_pct(cg->workers[w]);
		if (!(*measured)++ || pct > *hi_pct) {
			*hi = w;
			*hi_pct = pct;
		}
		if (*measured == 1 || pct < *lo_pct) {
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
	size_t compared = 0, whi = 0, wlo = 0;
	double spread = 0, whi_pct = 0, wlo_pct = 0;
	struct msg m;

	for (size_t i = 0; i < res->n_cgroups; i++) {
		size_t hi = 0, lo = 0, measured;
		double hi_pct = 0, lo_pct = 0;
		double s = cg_spread(res->cgroups[i], &hi, &lo, &hi_pct, &lo_pct, &measured);

		if (measured < 2)
			continue;
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
	if (!worst)
		msg_add(&m, "no cgroup has 2 measured workers, nothing to compare");
	else
		msg_add(&m, "run-queue wait spread %.1f pp in %s (worker %zu %.1f%%, worker %zu %.1f%%) "
			"%s %.1f pp; %zu cgroups compared", spread, cg_name(worst), whi, whi_pct, wlo,
			wlo_pct, c->passed ? "within" : "exceeds", cfg->max_spread, compared);
	add_unmeasured(res, &m);
}

static void check_gap(const struct kt_checks_cfg *cfg, const Ktstr__ScenarioResult *res,
		      struct kt_check *c)
{
	const Ktstr__CgroupStats *worst = res->cgroups[0];
	size_t worst_w = 0, over = 0;
	uint64_t gap = 0;

	for (size_t i = 0; i < res->n_cgroups; i++) {
		const Ktstr__CgroupStats *cg = res->cgroups[i];

		for (size_t w = 0; w < cg->n_workers; w++) {
			uint64_t g = cg->workers[w]->max_gap_ns;

			over += (double)g / 1e6 > cfg->max_gap_ms;
			if (g > gap) {
				gap = g;
				worst = cg;
				worst_w = w;
			}
		}
	}
	set(c, "not_starved.gap", (double)gap / 1e6, cfg->max_gap_ms);
	if (c->passed)
		snprintf(c->message, sizeof(c->message), "%zu workers in %zu cgroups, worst gap "
			 "%.1f ms (%s worker %zu), threshold %.1f ms", count_workers(res),
			 res->n_cgroups, c->value, cg_name(worst), worst_w, cfg->max_gap_ms);
	else
		snprintf(c->message, sizeof(c->message), "worst gap %.1f ms (%s worker %zu) exceeds "
			 "%.1f ms; %zu of %zu workers over", c->value, cg_name(worst), worst_w,
			 cfg->max_gap_ms, over, count_workers(res));
}

/* ---- isolation ---- */

/* Sorted unique copy of CG's cpus into *OUT (malloc'd); returns the count. */
static size_t sorted_cpus(const Ktstr__CgroupStats *cg, uint32_t **out)
{
	uint32_t *v = kt_xcalloc(cg->n_cpus, sizeof(*v));

	if (cg->n_cpus)
		memcpy(v, cg->cpus, cg->n_cpus * sizeof(*v));
	*out = v;
	return kt_sort_uniq_u32(v, cg->n_cpus);
}

/* W's CPUs outside ALLOWED, as a list into BUF; returns their count. */
static size_t outside_cpus(const Ktstr__WorkerStats *w, const uint32_t *allowed, size_t n,
			   char *buf, size_t cap)
{
	struct msg m;
	size_t bad = 0;

	msg_init(&m, buf, cap);
	for (size_t i = 0; i < w->n_cpus_seen; i++) {
		if (bsearch(&w->cpus_seen[i], allowed, n, sizeof(*allowed), kt_cmp_u32))
			continue;
		msg_add(&m, "%s%u", bad++ ? "," : "", w->cpus_seen[i]);
	}
	return bad;
}

static void check_isolation(const Ktstr__ScenarioResult *res, struct kt_check *c)
{
	char detail[sizeof(c->message)];
	size_t outside = 0;
	struct msg m;

	msg_init(&m, detail, sizeof(detail));
	for (size_t i = 0; i < res->n_cgroups; i++) {
		const Ktstr__CgroupStats *cg = res->cgroups[i];
		uint32_t *allowed;
		size_t n = sorted_cpus(cg, &allowed);

		for (size_t w = 0; w < cg->n_workers; w++) {
			char cpus[64];

			if (!outside_cpus(cg->workers[w], allowed, n, cpus, sizeof(cpus)))
				continue;
			msg_add(&m, "%s%s worker %zu on CPU %s (allowed ", outside++ ? "; " : "",
				cg_name(cg), w, cpus);
			add_cpus(&m, allowed, n);
			msg_add(&m, ")");
		}
		free(allowed);
	}
	set(c, "isolation", (double)outside, 0);
	msg_init(&m, c->message, sizeof(c->message));
	if (outside)
		msg_add(&m, "%zu of %zu workers ran outside their cgroup's CPUs: %s", outside,
			count_workers(res), detail);
	else
		msg_add(&m, "%zu workers in %zu cgroups stayed on their cgroup's CPUs",
			count_workers(res), res->n_cgroups);
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
