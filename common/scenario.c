#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "catalog.h"
#include "cpuset.h"
#include "ktstr.pb-c.h"
#include "scenario.h"
#include "util.h"
#include "yamlx.h"

#define DESC_MAX 256
#define MAX_GAP_MS 3600000.0

struct cgroup {
	char name[KT_SPEC_NAME_MAX + 1];
	Ktstr__CpusetKind cpuset;
	uint32_t *cpus; /* CPUSET_EXACT: sorted, unique */
	size_t n_cpus;
	uint32_t index, of; /* DISJOINT: index, of; LLC: index */
	unsigned workers;   /* 0: the run's default */
	Ktstr__WorkSpec work; /* its params explicit; phases point into PHASES */
	Ktstr__Phase *phases, **phase_ptrs;
};

struct step {
	struct cgroup *cgroups;
	size_t n_cgroups;
	bool fixed; /* hold fixed ms, else frac */
	double frac;
	uint32_t ms;
};

struct kt_scenario {
	char name[KT_SPEC_NAME_MAX + 1];
	char description[DESC_MAX + 1];
	struct kt_checks_cfg checks;
	struct step *steps;
	size_t n_steps;
};

/* A numeric parameter of a work type: its key, range and WorkSpec field. */
struct wparam {
	const char *key;
	uint32_t min, max, dflt;
	size_t off;
};

#define WP(key, min, max, dflt) { #key, min, max, dflt, offsetof(Ktstr__WorkSpec, key) }
static const struct wparam bursty_params[] = {
	WP(burst_ms, 1, KT_SPEC_MAX_BURST_MS, KT_SPEC_DEFAULT_BURST_MS),
	WP(sleep_ms, 0, KT_SPEC_MAX_BURST_MS, KT_SPEC_DEFAULT_SLEEP_MS),
};
static const struct wparam fan_params[] = {
	WP(fan_out, 1, KT_SPEC_MAX_FAN_OUT, KT_SPEC_DEFAULT_FAN_OUT),
};
static const struct wparam cache_params[] = {
	WP(size_kb, 1, KT_SPEC_MAX_SIZE_KB, KT_SPEC_DEFAULT_SIZE_KB),
	WP(stride, 1, KT_SPEC_MAX_STRIDE, KT_SPEC_DEFAULT_STRIDE),
};
static const struct wparam region_params[] = {
	WP(region_kb, KT_SPEC_MIN_REGION_KB, KT_SPEC_MAX_REGION_KB, KT_SPEC_DEFAULT_REGION_KB),
};
static const struct wparam mutex_params[] = {
	WP(contenders, 2, KT_SPEC_MAX_CONTENDERS, KT_SPEC_DEFAULT_CONTENDERS),
};
#define MAX_WPARAMS 2

/* The numeric parameters of TYPE (sequence has its own parser). */
static const struct wparam *params_of(Ktstr__WorkType type, size_t *n)
{
#define RET(a) return (*n = sizeof(a) / sizeof(a[0]), a)
	switch (type) {
	case KTSTR__WORK_TYPE__WORK_BURSTY:
		RET(bursty_params);
	case KTSTR__WORK_TYPE__WORK_FUTEX_FAN_OUT:
	case KTSTR__WORK_TYPE__WORK_FAN_OUT_COMPUTE:
		RET(fan_params);
	case KTSTR__WORK_TYPE__WORK_CACHE_PRESSURE:
	case KTSTR__WORK_TYPE__WORK_CACHE_YIELD:
	case KTSTR__WORK_TYPE__WORK_CACHE_PIPE:
		RET(cache_params);
	case KTSTR__WORK_TYPE__WORK_PAGE_FAULT_CHURN:
		RET(region_params);
	case KTSTR__WORK_TYPE__WORK_MUTEX_CONTENTION:
		RET(mutex_params);
	default:
		*n = 0;
		return NULL;
	}
#undef RET
}

static uint32_t *field(Ktstr__WorkSpec *w, const struct wparam *p)
{
	return (uint32_t *)((char *)w + p->off);
}

/* BUF = "cpu_spin, yield_heavy, ..." (every type) or, with PHASES, what a
 * sequence phase can be. LEN: TYPE_LIST_MAX. */
#define TYPE_LIST_MAX 320
static const char *type_list(bool phases, char *buf, size_t len)
{
	snprintf(buf, len, "%s", phases ? "sleep" : "");
	for (int i = 0; i < KT_SPEC_WORK_TYPES; i++)
		if (!phases || kt_spec_phase_work_ok((Ktstr__WorkType)i))
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? ", " : "",
				 kt_spec_work_name((Ktstr__WorkType)i));
	return buf;
}

void kt_checks_cfg_default(struct kt_checks_cfg *c)
{
	c->not_starved = true;
	c->max_gap_ms = 2000;
	c->max_spread = 15;
	c->isolation = false;
}

/* ---- mappings ---- */

/* Exactly one of KEYS is set in VALS; returns its index, or -1. */
static int one_of(struct kt_yx *c, const yaml_node_t *n, const char *path, const char *const keys[],
		  size_t nkeys, yaml_node_t *vals[])
{
	int found = -1;
	char list[128] = "";

	for (size_t i = 0; i < nkeys; i++) {
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 keys[i]);
		if (!vals[i])
			continue;
		if (found >= 0)
			return kt_yx_err(c, n, path, "give only one of %s", list);
		found = (int)i;
	}
	if (found < 0)
		return kt_yx_err(c, n, path, "expected one of %s", list);
	return found;
}

/* ---- scalars ---- */

/* A finite number within [MIN, MAX], or (MIN, MAX] when MIN_OPEN. */
static int get_double(struct kt_yx *c, const yaml_node_t *n, const char *path, double min,
		      bool min_open, double max, double *out)
{
	const char *s;
	char *end;
	double v;

	if (kt_yx_numeral(c, n, path, &s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno || !isfinite(v))
		return kt_yx_expected(c, n, path, "a number");
	if (v < min || (min_open && v == min) || v > max)
		return kt_yx_err(c, n, path, "%.40s is out of range %c%g, %g]", s,
				 min_open ? '(' : '[', min, max);
	*out = v;
	return 0;
}

/* A scenario name, or with CGROUP a cgroup name (kt_spec_name_problem). */
static int get_name(struct kt_yx *c, const yaml_node_t *n, const char *path, bool cgroup,
		    char *out)
{
	const char *why;
	char d[64];

	if (n->type != YAML_SCALAR_NODE || kt_yx_is_null(n))
		return kt_yx_expected(c, n, path, "a name");
	why = strlen(kt_yx_str(n)) != n->data.scalar.length ? "it holds a NUL byte" :
	      kt_spec_name_problem(kt_yx_str(n), cgroup);
	if (why)
		return kt_yx_err(c, n, path, "%s is not a valid name (%s)",
				 kt_yx_describe(n, d, sizeof(d)), why);
	memcpy(out, kt_yx_str(n), n->data.scalar.length + 1);
	return 0;
}

static int get_line(struct kt_yx *c, const yaml_node_t *n, const char *path, char *out, size_t max)
{
	const char *s;
	size_t len;

	if (n->type != YAML_SCALAR_NODE)
		return kt_yx_expected(c, n, path, "one line of text");
	s = kt_yx_str(n);
	len = n->data.scalar.length;
	if (len > max)
		return kt_yx_err(c, n, path, "longer than %zu bytes", max);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return kt_yx_err(c, n, path,
					 "must be one line of text without control characters");
	memcpy(out, s, len + 1);
	return 0;
}

/* ---- cpusets ---- */

/* The list form [0, 2]: CPU numbers, each once. More than KT_TOPO_MAX_CPUS
 * items cannot all be distinct and in range. */
static int cpu_items(struct kt_yx *c, const yaml_node_t *n, const char *path, struct cgroup *cg)
{
	size_t cnt = kt_yx_seq_len(n);
	char p[KT_YX_PATH_MAX];

	if (cnt > KT_TOPO_MAX_CPUS)
		return kt_yx_err(c, n, path, "%zu CPUs listed, more than there can be (%d)", cnt,
				 KT_TOPO_MAX_CPUS);
	cg->cpus = kt_xcalloc(cnt, sizeof(*cg->cpus));
	for (size_t i = 0; i < cnt; i++) {
		const yaml_node_t *item = kt_yx_seq_item(c, n, i);
		unsigned long cpu;

		kt_yx_join_index(p, path, i);
		if (kt_yx_uint(c, item, p, 0, KT_TOPO_MAX_CPUS - 1, &cpu))
			return -1;
		for (size_t k = 0; k < cg->n_cpus; k++)
			if (cg->cpus[k] == cpu)
				return kt_yx_err(c, item, p, "cpu %lu is listed twice", cpu);
		cg->cpus[cg->n_cpus++] = (uint32_t)cpu;
	}
	cg->n_cpus = kt_sort_uniq_u32(cg->cpus, cg->n_cpus);
	return 0;
}

/* The kernel's text form "0-1,3" (kt_cpulist_parse). */
static int cpu_text(struct kt_yx *c, const yaml_node_t *n, const char *path, struct cgroup *cg)
{
	uint32_t *ids;
	struct kt_err e;
	size_t cnt = 0;
	char d[64];
	int rc = 0;

	if (n->type != YAML_SCALAR_NODE || kt_yx_is_null(n))
		return kt_yx_expected(c, n, path, "a CPU list (e.g. [0, 2] or \"0-1,3\")");
	if (strlen(kt_yx_str(n)) != n->data.scalar.length)
		return kt_yx_err(c, n, path, "%s: holds a NUL byte",
				 kt_yx_describe(n, d, sizeof(d)));
	ids = kt_xcalloc(KT_CPU_ID_MAX, sizeof(*ids));
	if (kt_cpulist_parse(kt_yx_str(n), ids, KT_CPU_ID_MAX, &cnt, &e))
		rc = kt_yx_err(c, n, path, "%s", e.msg);
	else if (cnt && ids[cnt - 1] >= KT_TOPO_MAX_CPUS)
		rc = kt_yx_err(c, n, path, "%s: CPU numbers must be below %d",
			       kt_yx_describe(n, d, sizeof(d)), KT_TOPO_MAX_CPUS);
	if (!rc) {
		cg->cpus = kt_xcalloc(cnt, sizeof(*cg->cpus));
		memcpy(cg->cpus, ids, cnt * sizeof(*ids));
		cg->n_cpus = cnt;
	}
	free(ids);
	return rc;
}

static int cpulist(struct kt_yx *c, const yaml_node_t *n, const char *path, struct cgroup *cg)
{
	if (n->type == YAML_SEQUENCE_NODE ? cpu_items(c, n, path, cg) : cpu_text(c, n, path, cg))
		return -1;
	if (!cg->n_cpus)
		return kt_yx_err(c, n, path, "the CPU list is empty");
	return 0;
}

static int cpuset(struct kt_yx *c, const yaml_node_t *n, const char *path, struct cgroup *cg)
{
	static const char *const keys[] = { "exact", "disjoint", "llc" };
	static const char *const dkeys[] = { "index", "of" };
	yaml_node_t *v[3], *dv[2];
	char p[KT_YX_PATH_MAX], dp[KT_YX_PATH_MAX];
	int which;

	if (kt_yx_fields(c, n, path, keys, 3, v) || (which = one_of(c, n, path, keys, 3, v)) < 0)
		return -1;
	kt_yx_join(p, path, keys[which]);
	switch (which) {
	case 0:
		cg->cpuset = KTSTR__CPUSET_KIND__CPUSET_EXACT;
		return cpulist(c, v[0], p, cg);
	case 1:
		cg->cpuset = KTSTR__CPUSET_KIND__CPUSET_DISJOINT;
		if (kt_yx_fields(c, v[1], p, dkeys, 2, dv))
			return -1;
		if (!dv[0] || !dv[1])
			return kt_yx_missing(c, v[1], p, dv[0] ? "of" : "index");
		kt_yx_join(dp, p, "of");
		if (kt_yx_u32(c, dv[1], dp, 1, KT_TOPO_MAX_CPUS, &cg->of))
			return -1;
		kt_yx_join(dp, p, "index");
		if (kt_yx_u32(c, dv[0], dp, 0, KT_TOPO_MAX_CPUS, &cg->index))
			return -1;
		if (cg->index >= cg->of)
			return kt_yx_err(c, dv[0], dp, "%u must be less than of (%u)", cg->index,
					 cg->of);
		return 0;
	default:
		cg->cpuset = KTSTR__CPUSET_KIND__CPUSET_LLC;
		return kt_yx_u32(c, v[2], p, 0, KT_TOPO_MAX_CPUS - 1, &cg->index);
	}
}

/* ---- work, cgroups, steps ---- */

/* A plain scalar naming a work type (or "sleep" when SLEEP_OK) into *OUT;
 * *SLEEP says which. */
static int work_name(struct kt_yx *c, const yaml_node_t *key, const char *path, bool sleep_ok,
		     Ktstr__WorkType *out, bool *sleep)
{
	char d[64], list[TYPE_LIST_MAX];
	const char *what = sleep_ok ? "a phase" : "a work type";

	if (key->type != YAML_SCALAR_NODE || kt_yx_is_null(key))
		return kt_yx_err(c, key, path, "expected %s (%s), got %s", what,
				 type_list(sleep_ok, list, sizeof(list)),
				 kt_yx_describe(key, d, sizeof(d)));
	*sleep = false;
	if (kt_yx_is_plain(key) && strlen(kt_yx_str(key)) == key->data.scalar.length) {
		if (sleep_ok && !strcmp(kt_yx_str(key), "sleep")) {
			*sleep = true;
			return 0;
		}
		if (kt_spec_work_by_name(kt_yx_str(key), out)) {
			if (sleep_ok && !kt_spec_phase_work_ok(*out))
				return kt_yx_err(c, key, path, "%s cannot be a sequence phase (expected "
						 "%s)", kt_yx_str(key), type_list(true, list,
										  sizeof(list)));
			return 0;
		}
	}
	return kt_yx_err(c, key, path, "unknown %s %s (expected %s)", sleep_ok ? "phase" :
			 "work type", kt_yx_describe(key, d, sizeof(d)),
			 type_list(sleep_ok, list, sizeof(list)));
}

/* One phase {work: NAME | sleep, ms: N} into P. */
static int phase(struct kt_yx *c, const yaml_node_t *n, const char *path, Ktstr__Phase *p)
{
	static const char *const keys[] = { "work", "ms" };
	yaml_node_t *v[2];
	char pp[KT_YX_PATH_MAX];
	bool sleep;

	if (kt_yx_fields(c, n, path, keys, 2, v))
		return -1;
	if (!v[0] || !v[1])
		return kt_yx_missing(c, n, path, v[0] ? "ms" : "work");
	kt_yx_join(pp, path, "work");
	if (work_name(c, v[0], pp, true, &p->work, &sleep))
		return -1;
	p->sleep = sleep;
	kt_yx_join(pp, path, "ms");
	return kt_yx_u32(c, v[1], pp, 1, KT_SPEC_MAX_PHASE_MS, &p->ms);
}

/* sequence: {phases: [...]}, at PATH (...work.sequence). */
static int sequence(struct kt_yx *c, const yaml_node_t *n, const char *path, struct cgroup *cg)
{
	static const char *const keys[] = { "phases" };
	yaml_node_t *v[1];
	char p[KT_YX_PATH_MAX], ip[KT_YX_PATH_MAX];
	bool work = false;
	size_t cnt;

	if (kt_yx_fields(c, n, path, keys, 1, v))
		return -1;
	if (!v[0])
		return kt_yx_missing(c, n, path, "phases");
	kt_yx_join(p, path, "phases");
	if (v[0]->type != YAML_SEQUENCE_NODE)
		return kt_yx_expected(c, v[0], p, "a list of phases");
	cnt = kt_yx_seq_len(v[0]);
	if (!cnt || cnt > KT_SPEC_MAX_PHASES)
		return kt_yx_err(c, v[0], p, "expected 1 to %d phases, got %zu", KT_SPEC_MAX_PHASES,
				 cnt);
	cg->phases = kt_xcalloc(cnt, sizeof(*cg->phases));
	cg->phase_ptrs = kt_xcalloc(cnt, sizeof(*cg->phase_ptrs));
	for (size_t i = 0; i < cnt; i++) {
		ktstr__phase__init(&cg->phases[i]);
		cg->phase_ptrs[i] = &cg->phases[i];
		kt_yx_join_index(ip, p, i);
		if (phase(c, kt_yx_seq_item(c, v[0], i), ip, &cg->phases[i]))
			return -1;
		work |= !cg->phases[i].sleep;
	}
	if (!work)
		return kt_yx_err(c, v[0], p, "every phase is a sleep: the workers would do no work");
	cg->work.phases = cg->phase_ptrs;
	cg->work.n_phases = cnt;
	return 0;
}

/* The numeric parameters of cg->work.type from mapping N at PATH. */
static int params(struct kt_yx *c, const yaml_node_t *n, const char *path, struct cgroup *cg)
{
	size_t np;
	const struct wparam *wp = params_of(cg->work.type, &np);
	const char *keys[MAX_WPARAMS];
	yaml_node_t *v[MAX_WPARAMS];
	char p[KT_YX_PATH_MAX];

	for (size_t i = 0; i < np; i++)
		keys[i] = wp[i].key;
	if (kt_yx_fields(c, n, path, keys, np, v))
		return -1;
	for (size_t i = 0; i < np; i++) {
		kt_yx_join(p, path, wp[i].key);
		if (v[i] && kt_yx_u32(c, v[i], p, wp[i].min, wp[i].max, field(&cg->work, &wp[i])))
			return -1;
	}
	/* cache_*: a stride past the buffer would touch it once, at 0. */
	if (np && wp == cache_params && cg->work.stride > cg->work.size_kb * 1024) {
		kt_yx_join(p, path, "stride");
		return kt_yx_err(c, v[1] ? v[1] : n, p, "%u is larger than the buffer (size_kb %u "
				 "= %u bytes)", cg->work.stride, cg->work.size_kb,
				 cg->work.size_kb * 1024);
	}
	return 0;
}

/* The type's parameters at their defaults (only its own: others stay 0). */
static void param_defaults(Ktstr__WorkSpec *w)
{
	size_t np;
	const struct wparam *wp = params_of(w->type, &np);

	for (size_t i = 0; i < np; i++)
		*field(w, &wp[i]) = wp[i].dflt;
}

static int work(struct kt_yx *c, const yaml_node_t *n, const char *path, struct cgroup *cg)
{
	yaml_node_t *key, *pars;
	char p[KT_YX_PATH_MAX];
	bool sleep;

	if (n->type == YAML_SCALAR_NODE) {
		if (work_name(c, n, path, false, &cg->work.type, &sleep))
			return -1;
		param_defaults(&cg->work);
		if (cg->work.type == KTSTR__WORK_TYPE__WORK_SEQUENCE)
			return kt_yx_err(c, n, path, "sequence needs its phases: {sequence: {phases: "
					 "[{work: cpu_spin, ms: 50}, {work: sleep, ms: 50}]}}");
		return 0;
	}
	if (n->type != YAML_MAPPING_NODE ||
	    n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1)
		return kt_yx_err(c, n, path, "expected a work type or a one-key mapping {TYPE: "
				 "{params}}");
	key = kt_yx_node(c, n->data.mapping.pairs.start->key);
	pars = kt_yx_node(c, n->data.mapping.pairs.start->value);
	if (work_name(c, key, path, false, &cg->work.type, &sleep))
		return -1;
	param_defaults(&cg->work);
	kt_yx_join(p, path, kt_yx_str(key));
	if (cg->work.type == KTSTR__WORK_TYPE__WORK_SEQUENCE)
		return sequence(c, pars, p, cg);
	return params(c, pars, p, cg);
}

/* *NAME_NODE: where the name is, for "name used twice" errors. */
static int cgroup(struct kt_yx *c, const yaml_node_t *n, const char *path, struct cgroup *cg,
		  const yaml_node_t **name_node)
{
	static const char *const keys[] = { "name", "cpuset", "workers", "work" };
	yaml_node_t *v[4];
	char p[KT_YX_PATH_MAX];
	unsigned long w = 0;
	struct kt_err e;

	if (kt_yx_fields(c, n, path, keys, 4, v))
		return -1;
	if (!v[0])
		return kt_yx_missing(c, n, path, "name");
	*name_node = v[0];
	kt_yx_join(p, path, "name");
	if (get_name(c, v[0], p, true, cg->name))
		return -1;
	cg->cpuset = KTSTR__CPUSET_KIND__CPUSET_NONE;
	kt_yx_join(p, path, "cpuset");
	if (v[1] && cpuset(c, v[1], p, cg))
		return -1;
	ktstr__work_spec__init(&cg->work);
	cg->work.type = KTSTR__WORK_TYPE__WORK_CPU_SPIN;
	kt_yx_join(p, path, "work");
	if (v[3] && work(c, v[3], p, cg))
		return -1;
	kt_yx_join(p, path, "workers");
	if (v[2] && kt_yx_uint(c, v[2], p, 0, KT_SPEC_MAX_WORKERS, &w))
		return -1;
	cg->workers = (unsigned)w;
	/* The params are in range by now: only the grouping rule is left. */
	if (kt_spec_work_check(&cg->work, cg->workers, &e))
		return kt_yx_err(c, v[2] ? v[2] : n, p, "%s", e.msg);
	return 0;
}

static int hold(struct kt_yx *c, const yaml_node_t *n, const char *path, struct step *st)
{
	static const char *const keys[] = { "frac", "fixed_ms" };
	yaml_node_t *v[2];
	char p[KT_YX_PATH_MAX];
	int which;

	if (kt_yx_fields(c, n, path, keys, 2, v) || (which = one_of(c, n, path, keys, 2, v)) < 0)
		return -1;
	kt_yx_join(p, path, keys[which]);
	st->fixed = which == 1;
	if (st->fixed)
		return kt_yx_u32(c, v[1], p, 1, KT_SPEC_MAX_HOLD_MS, &st->ms);
	return get_double(c, v[0], p, 0, true, 1, &st->frac);
}

static int step(struct kt_yx *c, const yaml_node_t *n, const char *path, struct step *st)
{
	static const char *const keys[] = { "cgroups", "hold" };
	yaml_node_t *v[2], *cgs;
	char p[KT_YX_PATH_MAX], cp[KT_YX_PATH_MAX];
	size_t cnt;

	if (kt_yx_fields(c, n, path, keys, 2, v))
		return -1;
	if (!v[0])
		return kt_yx_missing(c, n, path, "cgroups");
	cgs = v[0];
	kt_yx_join(p, path, "cgroups");
	if (cgs->type != YAML_SEQUENCE_NODE)
		return kt_yx_expected(c, cgs, p, "a list of cgroups");
	cnt = kt_yx_seq_len(cgs);
	if (!cnt || cnt > KT_SPEC_MAX_CGROUPS)
		return kt_yx_err(c, cgs, p, "expected 1 to %d cgroups, got %zu",
				 KT_SPEC_MAX_CGROUPS, cnt);
	st->cgroups = kt_xcalloc(cnt, sizeof(*st->cgroups));
	for (size_t i = 0; i < cnt; i++) {
		const yaml_node_t *name = NULL;

		kt_yx_join_index(cp, p, i);
		st->n_cgroups++;
		if (cgroup(c, kt_yx_seq_item(c, cgs, i), cp, &st->cgroups[i], &name))
			return -1;
		for (size_t j = 0; j < i; j++) {
			char np[KT_YX_PATH_MAX];

			if (strcmp(st->cgroups[j].name, st->cgroups[i].name))
				continue;
			kt_yx_join(np, cp, "name");
			return kt_yx_err(c, name, np, "'%s' is already the name of cgroups[%zu]",
					 st->cgroups[i].name, j);
		}
	}
	kt_yx_join(p, path, "hold");
	return v[1] ? hold(c, v[1], p, st) : 0;
}

static int steps(struct kt_yx *c, const yaml_node_t *n, struct kt_scenario *s)
{
	char p[KT_YX_PATH_MAX];
	double sum = 0;
	size_t cnt;

	if (n->type != YAML_SEQUENCE_NODE)
		return kt_yx_expected(c, n, "steps", "a list of steps");
	cnt = kt_yx_seq_len(n);
	/* No steps is a zero-length scenario: boot, report, power off. */
	if (cnt > KT_SPEC_MAX_STEPS)
		return kt_yx_err(c, n, "steps", "expected at most %d steps, got %zu",
				 KT_SPEC_MAX_STEPS, cnt);
	s->steps = kt_xcalloc(cnt, sizeof(*s->steps));
	for (size_t i = 0; i < cnt; i++) {
		const yaml_node_t *sn = kt_yx_seq_item(c, n, i);
		struct step *st = &s->steps[i];

		kt_yx_join_index(p, "steps", i);
		st->frac = -1;
		s->n_steps++;
		if (step(c, sn, p, st))
			return -1;
		if (st->frac < 0 && !st->fixed)
			st->frac = 1.0 / (double)cnt;
		sum += st->fixed ? 0 : st->frac;
		/* Slack for 1/3 + 1/3 + 1/3 in binary. */
		if (sum > 1 + 1e-9) {
			char hp[KT_YX_PATH_MAX];

			kt_yx_join(hp, p, "hold");
			return kt_yx_err(c, sn, hp, "the hold fractions up to here add up to %g, "
					 "more than the whole duration (1)", sum);
		}
	}
	return 0;
}

static int checks(struct kt_yx *c, const yaml_node_t *n, struct kt_checks_cfg *ck)
{
	static const char *const keys[] = { "not_starved", "max_gap_ms", "max_spread", "isolation" };
	yaml_node_t *v[4];
	char p[KT_YX_PATH_MAX];

	if (kt_yx_fields(c, n, "checks", keys, 4, v))
		return -1;
	kt_yx_join(p, "checks", "not_starved");
	if (v[0] && kt_yx_bool(c, v[0], p, &ck->not_starved))
		return -1;
	kt_yx_join(p, "checks", "max_gap_ms");
	if (v[1] && get_double(c, v[1], p, 0, false, MAX_GAP_MS, &ck->max_gap_ms))
		return -1;
	kt_yx_join(p, "checks", "max_spread");
	if (v[2] && get_double(c, v[2], p, 0, false, 100, &ck->max_spread))
		return -1;
	kt_yx_join(p, "checks", "isolation");
	return v[3] ? kt_yx_bool(c, v[3], p, &ck->isolation) : 0;
}

static bool any_cpuset(const struct kt_scenario *s)
{
	for (size_t i = 0; i < s->n_steps; i++)
		for (size_t j = 0; j < s->steps[i].n_cgroups; j++)
			if (s->steps[i].cgroups[j].cpuset != KTSTR__CPUSET_KIND__CPUSET_NONE)
				return true;
	return false;
}

static int root(struct kt_yx *c, const yaml_node_t *n, struct kt_scenario *s)
{
	static const char *const keys[] = { "name", "description", "checks", "steps" };
	yaml_node_t *v[4];

	if (kt_yx_fields(c, n, "", keys, 4, v))
		return -1;
	if (!v[0])
		return kt_yx_missing(c, n, "", "name");
	if (!v[3])
		return kt_yx_missing(c, n, "", "steps");
	if (get_name(c, v[0], "name", false, s->name) ||
	    (v[1] && get_line(c, v[1], "description", s->description, DESC_MAX)) ||
	    steps(c, v[3], s))
		return -1;
	kt_checks_cfg_default(&s->checks);
	/* A cpuset is there to be isolated; an explicit isolation: wins. */
	s->checks.isolation = any_cpuset(s);
	return v[2] ? checks(c, v[2], &s->checks) : 0;
}

/* ---- entry points ---- */

void kt_scenario_free(struct kt_scenario *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_steps; i++) {
		for (size_t j = 0; j < s->steps[i].n_cgroups; j++) {
			free(s->steps[i].cgroups[j].cpus);
			free(s->steps[i].cgroups[j].phases);
			free(s->steps[i].cgroups[j].phase_ptrs);
		}
		free(s->steps[i].cgroups);
	}
	free(s->steps);
	free(s);
}

int kt_scenario_parse(const char *text, size_t len, const char *filename,
		      struct kt_scenario **out, struct kt_err *err)
{
	static const struct kt_yx_kind kind = { "scenario", "name and steps",
						KT_SCENARIO_MAX_BYTES };
	struct kt_scenario *s;
	struct kt_yx *c;

	*out = NULL;
	if (kt_yx_open(text, len, filename ? filename : "<scenario>", &kind, &c, err))
		return -1;
	s = kt_xcalloc(1, sizeof(*s));
	if (root(c, kt_yx_root(c), s)) {
		kt_scenario_free(s);
		s = NULL;
	}
	kt_yx_close(c);
	*out = s;
	return s ? 0 : -1;
}

static bool is_file(const char *s)
{
	size_t n = strlen(s);

	return strchr(s, '/') || (n > 5 && !strcmp(s + n - 5, ".yaml")) ||
	       (n > 4 && !strcmp(s + n - 4, ".yml"));
}

static int load_catalog(const char *name, struct kt_scenario **out, struct kt_err *err)
{
	const struct kt_catalog_entry *e = kt_catalog_find(name);
	char label[KT_SPEC_NAME_MAX + 16];

	/* The catalog is too long to list in one message: point at --list. */
	if (!e)
		return kt_errf(err, "scenario '%.64s': not in the catalog (ktstr-run --list shows "
			       "its %zu scenarios), and not a path (a path has a '/' or ends in "
			       ".yaml)", name, kt_catalog_len);
	snprintf(label, sizeof(label), "catalog/%.64s.yaml", name);
	return kt_scenario_parse(e->yaml, strlen(e->yaml), label, out, err);
}

int kt_scenario_load(const char *name_or_path, struct kt_scenario **out, struct kt_err *err)
{
	const char *path = name_or_path;
	char *buf;
	size_t len;
	FILE *f;
	int rc;

	if (!is_file(path))
		return load_catalog(path, out, err);
	f = fopen(path, "rb");
	if (!f)
		return kt_errf(err, "scenario file '%s': %s", path, strerror(errno));
	buf = kt_xcalloc(KT_SCENARIO_MAX_BYTES + 1, 1);
	len = fread(buf, 1, KT_SCENARIO_MAX_BYTES + 1, f);
	if (ferror(f))
		rc = kt_errf(err, "scenario file '%s': read error", path);
	else if (len > KT_SCENARIO_MAX_BYTES)
		rc = kt_errf(err, "scenario file '%s': larger than the limit of %u bytes", path,
			     KT_SCENARIO_MAX_BYTES);
	else
		rc = kt_scenario_parse(buf, len, path, out, err);
	fclose(f);
	free(buf);
	return rc;
}

const char *kt_scenario_name(const struct kt_scenario *s)
{
	return s->name;
}

const char *kt_scenario_description(const struct kt_scenario *s)
{
	return s->description;
}

const struct kt_checks_cfg *kt_scenario_checks(const struct kt_scenario *s)
{
	return &s->checks;
}

int kt_scenario_fits(const struct kt_scenario *s, const struct kt_topo *t, struct kt_err *err)
{
	unsigned cpus = kt_topo_cpus(t);
	char topo[32];

	kt_topo_format(t, topo, sizeof(topo));
	for (size_t i = 0; i < s->n_steps; i++) {
		for (size_t j = 0; j < s->steps[i].n_cgroups; j++) {
			const struct cgroup *cg = &s->steps[i].cgroups[j];
			const char *why = NULL;

			if (cg->cpuset == KTSTR__CPUSET_KIND__CPUSET_DISJOINT && cg->of > cpus)
				why = "more disjoint slices than CPUs";
			else if (cg->cpuset == KTSTR__CPUSET_KIND__CPUSET_LLC && cg->index >= t->llcs)
				why = "no such LLC";
			else if (cg->cpuset == KTSTR__CPUSET_KIND__CPUSET_EXACT &&
				 cg->cpus[cg->n_cpus - 1] >= cpus)
				why = "no such CPU";
			if (why)
				return kt_errf(err, "scenario '%s': steps[%zu] cgroup '%s': cpuset does "
					       "not fit topology %s (%u CPUs, %u LLCs): %s", s->name, i,
					       cg->name, topo, cpus, t->llcs, why);
		}
	}
	return 0;
}

/* The protobuf view of one cgroup; pointers borrow from the scenario. */
struct cg_pb {
	Ktstr__CgroupSpec cg;
	Ktstr__CpusetSpec cs;
	Ktstr__WorkSpec w;
};

static int fill_cgroup(const struct kt_scenario *s, size_t si, const struct cgroup *cg,
		       unsigned default_workers, struct cg_pb *pb, struct kt_err *err)
{
	unsigned workers = cg->workers ? cg->workers : default_workers;
	struct kt_err why;

	/* A count set in the scenario was checked by the parser. */
	if (kt_spec_work_check(&cg->work, workers, &why))
		return kt_errf(err, "scenario '%s': steps[%zu] cgroup '%s': %s with the run's "
			       "default count; give the cgroup its own workers:", s->name, si,
			       cg->name, why.msg);
	ktstr__cgroup_spec__init(&pb->cg);
	ktstr__cpuset_spec__init(&pb->cs);
	pb->cs.kind = cg->cpuset;
	pb->cs.cpus = cg->cpus;
	pb->cs.n_cpus = cg->n_cpus;
	pb->cs.index = cg->index;
	pb->cs.of = cg->of;
	pb->w = cg->work; /* borrows the phases */
	pb->cg.name = (char *)cg->name;
	pb->cg.workers = workers;
	pb->cg.cpuset = &pb->cs;
	pb->cg.work = &pb->w;
	return 0;
}

/* Planned hold time of all steps, in ms. */
double kt_scenario_planned_ms(const struct kt_scenario *s, uint64_t duration_ms)
{
	double ms = 0;

	for (size_t i = 0; i < s->n_steps; i++)
		ms += s->steps[i].fixed ? s->steps[i].ms : s->steps[i].frac * (double)duration_ms;
	return ms;
}

static int check_run(const struct kt_scenario *s, uint64_t duration_ms, unsigned default_workers,
		     uint32_t watchdog_ms, struct kt_err *err)
{
	double plan = kt_scenario_planned_ms(s, duration_ms);

	if (duration_ms > KT_SPEC_MAX_DURATION_MS)
		return kt_errf(err, "scenario '%s': duration %llu ms is out of range (0..%u)", s->name,
			       (unsigned long long)duration_ms, KT_SPEC_MAX_DURATION_MS);
	for (size_t i = 0; duration_ms == 0 && i < s->n_steps; i++)
		if (!s->steps[i].fixed)
			return kt_errf(err, "scenario '%s': duration 0 ms leaves steps[%zu], which "
				       "holds for a fraction of it, empty", s->name, i);
	if (default_workers < 1 || default_workers > KT_SPEC_MAX_WORKERS)
		return kt_errf(err, "scenario '%s': default worker count %u is out of range (1..%d)",
			       s->name, default_workers, KT_SPEC_MAX_WORKERS);
	if (watchdog_ms && plan >= watchdog_ms)
		return kt_errf(err, "scenario '%s': its steps hold for %.0f ms, which does not end "
			       "before the guest watchdog (%u ms)", s->name, plan, watchdog_ms);
	return 0;
}

int kt_scenario_entry_spec(const struct kt_scenario *s, uint64_t duration_ms,
			   unsigned default_workers, uint32_t watchdog_ms, uint8_t **buf,
			   size_t *len, struct kt_err *err)
{
	Ktstr__EntrySpec es = KTSTR__ENTRY_SPEC__INIT;
	Ktstr__StepSpec *steps, **step_ptrs;
	Ktstr__HoldSpec *holds;
	Ktstr__CgroupSpec **cg_ptrs;
	struct cg_pb *cgs;
	size_t total = 0, k = 0;
	int rc = 0;

	if (check_run(s, duration_ms, default_workers, watchdog_ms, err))
		return -1;
	for (size_t i = 0; i < s->n_steps; i++)
		total += s->steps[i].n_cgroups;
	steps = kt_xcalloc(s->n_steps, sizeof(*steps));
	step_ptrs = kt_xcalloc(s->n_steps, sizeof(*step_ptrs));
	holds = kt_xcalloc(s->n_steps, sizeof(*holds));
	cgs = kt_xcalloc(total, sizeof(*cgs));
	cg_ptrs = kt_xcalloc(total, sizeof(*cg_ptrs));
	for (size_t i = 0; i < s->n_steps && !rc; i++) {
		const struct step *st = &s->steps[i];

		ktstr__step_spec__init(&steps[i]);
		ktstr__hold_spec__init(&holds[i]);
		holds[i].kind = st->fixed ? KTSTR__HOLD_SPEC__KIND__FIXED : KTSTR__HOLD_SPEC__KIND__FRAC;
		holds[i].frac = st->fixed ? 0 : st->frac;
		holds[i].ms = st->fixed ? st->ms : 0;
		steps[i].hold = &holds[i];
		steps[i].cgroups = &cg_ptrs[k];
		steps[i].n_cgroups = st->n_cgroups;
		step_ptrs[i] = &steps[i];
		for (size_t j = 0; j < st->n_cgroups && !rc; j++, k++) {
			rc = fill_cgroup(s, i, &st->cgroups[j], default_workers, &cgs[k], err);
			cg_ptrs[k] = &cgs[k].cg;
		}
	}
	es.version = KT_SCENARIO_ENTRY_VERSION;
	es.name = (char *)s->name;
	es.duration_ms = duration_ms;
	es.watchdog_ms = watchdog_ms;
	es.steps = step_ptrs;
	es.n_steps = s->n_steps;
	/* The guest's own rules: what it would refuse must not boot it. */
	if (!rc && kt_spec_validate(&es, err))
		rc = kt_err_prefix(err, "guest rules");
	if (!rc) {
		*len = ktstr__entry_spec__get_packed_size(&es);
		*buf = kt_xcalloc(*len, 1);
		ktstr__entry_spec__pack(&es, *buf);
	}
	free(cg_ptrs);
	free(cgs);
	free(holds);
	free(step_ptrs);
	free(steps);
	return rc;
}
