#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "catalog.h"
#include "checks_cfg.h"
#include "cpuset.h"
#include "ktstr.pb-c.h"
#include "scenario.h"
#include "util.h"
#include "yamlx.h"

#define DESC_MAX 256

struct kt_scenario {
	char name[KT_SPEC_NAME_MAX + 1];
	char description[DESC_MAX + 1];
	struct kt_checks_cfg checks;
	/* The run's EntrySpec but for the run's parameters: workers 0 = the
	 * run's default, payload paths are host paths. A malloc'd tree. */
	Ktstr__EntrySpec *spec;
	const char **bins; /* payload host paths, NULL-terminated */
};

/* Where each backdrop cgroup, op and step cgroup was, for the errors of
 * name resolution (kt_spec_resolve). */
struct at {
	const yaml_node_t *node;
	char path[KT_YX_PATH_MAX];
};

struct parse {
	struct kt_yx *c;
	struct at *backdrop;
	struct at **ops, **cgroups; /* per step */
	size_t n_steps;
};

/* A CPU list being parsed. */
struct cpus {
	uint32_t *cpus;
	size_t n_cpus;
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
static int cpu_items(struct kt_yx *c, const yaml_node_t *n, const char *path, struct cpus *cg)
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
static int cpu_text(struct kt_yx *c, const yaml_node_t *n, const char *path, struct cpus *cg)
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

static int cpulist(struct kt_yx *c, const yaml_node_t *n, const char *path, struct cpus *cg)
{
	if (n->type == YAML_SEQUENCE_NODE ? cpu_items(c, n, path, cg) : cpu_text(c, n, path, cg))
		return -1;
	if (!cg->n_cpus)
		return kt_yx_err(c, n, path, "the CPU list is empty");
	return 0;
}

/* {index: I, of: N} into SPEC, at PATH. */
static int slice(struct kt_yx *c, const yaml_node_t *n, const char *path, Ktstr__CpusetSpec *cs,
		 bool frac)
{
	static const char *const keys[] = { "index", "of", "frac" };
	yaml_node_t *v[3];
	char p[KT_YX_PATH_MAX];

	if (kt_yx_fields(c, n, path, keys, frac ? 3 : 2, v))
		return -1;
	if (!v[0] || !v[1] || (frac && !v[2]))
		return kt_yx_missing(c, n, path, !v[0] ? "index" : !v[1] ? "of" : "frac");
	kt_yx_join(p, path, "of");
	if (kt_yx_u32(c, v[1], p, 1, KT_TOPO_MAX_CPUS, &cs->of))
		return -1;
	kt_yx_join(p, path, "index");
	if (kt_yx_u32(c, v[0], p, 0, KT_TOPO_MAX_CPUS, &cs->index))
		return -1;
	if (cs->index >= cs->of)
		return kt_yx_err(c, v[0], p, "%u must be less than of (%u)", cs->index, cs->of);
	kt_yx_join(p, path, "frac");
	return frac ? get_double(c, v[2], p, 0, false, 1, &cs->frac) : 0;
}

static int range(struct kt_yx *c, const yaml_node_t *n, const char *path, Ktstr__CpusetSpec *cs)
{
	static const char *const keys[] = { "start", "end" };
	yaml_node_t *v[2];
	char p[KT_YX_PATH_MAX];

	if (kt_yx_fields(c, n, path, keys, 2, v))
		return -1;
	if (!v[0] || !v[1])
		return kt_yx_missing(c, n, path, v[0] ? "end" : "start");
	kt_yx_join(p, path, "start");
	if (get_double(c, v[0], p, 0, false, 1, &cs->start_frac))
		return -1;
	kt_yx_join(p, path, "end");
	if (get_double(c, v[1], p, 0, true, 1, &cs->end_frac))
		return -1;
	if (cs->end_frac <= cs->start_frac)
		return kt_yx_err(c, v[1], p, "%g must be greater than start (%g)", cs->end_frac,
				 cs->start_frac);
	return 0;
}

/* A cpuset spec into a new *OUT. */
static int cpuset(struct kt_yx *c, const yaml_node_t *n, const char *path,
		  Ktstr__CpusetSpec **out)
{
	static const char *const keys[] = { "exact", "disjoint", "llc", "numa", "range",
					    "overlap" };
	Ktstr__CpusetSpec *cs = kt_xcalloc(1, sizeof(*cs));
	yaml_node_t *v[6];
	char p[KT_YX_PATH_MAX];
	struct cpus l = { NULL, 0 };
	int which, rc;

	ktstr__cpuset_spec__init(cs);
	*out = cs;
	if (kt_yx_fields(c, n, path, keys, 6, v) || (which = one_of(c, n, path, keys, 6, v)) < 0)
		return -1;
	kt_yx_join(p, path, keys[which]);
	switch (which) {
	case 0:
		cs->kind = KTSTR__CPUSET_KIND__CPUSET_EXACT;
		rc = cpulist(c, v[0], p, &l);
		cs->cpus = l.cpus;
		cs->n_cpus = l.n_cpus;
		return rc;
	case 1:
		cs->kind = KTSTR__CPUSET_KIND__CPUSET_DISJOINT;
		return slice(c, v[1], p, cs, false);
	case 2:
		cs->kind = KTSTR__CPUSET_KIND__CPUSET_LLC;
		return kt_yx_u32(c, v[2], p, 0, KT_TOPO_MAX_CPUS - 1, &cs->index);
	case 3:
		cs->kind = KTSTR__CPUSET_KIND__CPUSET_NUMA;
		return kt_yx_u32(c, v[3], p, 0, KT_TOPO_MAX_CPUS - 1, &cs->index);
	case 4:
		cs->kind = KTSTR__CPUSET_KIND__CPUSET_RANGE;
		return range(c, v[4], p, cs);
	default:
		cs->kind = KTSTR__CPUSET_KIND__CPUSET_OVERLAP;
		return slice(c, v[5], p, cs, true);
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
static int sequence(struct kt_yx *c, const yaml_node_t *n, const char *path, Ktstr__WorkSpec *w)
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
	w->phases = kt_xcalloc(cnt, sizeof(*w->phases));
	for (size_t i = 0; i < cnt; i++) {
		Ktstr__Phase *ph = kt_xcalloc(1, sizeof(*ph));

		ktstr__phase__init(ph);
		w->phases[w->n_phases++] = ph;
		kt_yx_join_index(ip, p, i);
		if (phase(c, kt_yx_seq_item(c, v[0], i), ip, ph))
			return -1;
		work |= !ph->sleep;
	}
	if (!work)
		return kt_yx_err(c, v[0], p, "every phase is a sleep: the workers would do no work");
	return 0;
}

/* The numeric parameters of cg->work.type from mapping N at PATH. */
static int params(struct kt_yx *c, const yaml_node_t *n, const char *path, Ktstr__WorkSpec *w)
{
	size_t np;
	const struct wparam *wp = params_of(w->type, &np);
	const char *keys[MAX_WPARAMS];
	yaml_node_t *v[MAX_WPARAMS];
	char p[KT_YX_PATH_MAX];

	for (size_t i = 0; i < np; i++)
		keys[i] = wp[i].key;
	if (kt_yx_fields(c, n, path, keys, np, v))
		return -1;
	for (size_t i = 0; i < np; i++) {
		kt_yx_join(p, path, wp[i].key);
		if (v[i] && kt_yx_u32(c, v[i], p, wp[i].min, wp[i].max, field(w, &wp[i])))
			return -1;
	}
	/* cache_*: a stride past the buffer would touch it once, at 0. */
	if (np && wp == cache_params && w->stride > w->size_kb * 1024) {
		kt_yx_join(p, path, "stride");
		return kt_yx_err(c, v[1] ? v[1] : n, p, "%u is larger than the buffer (size_kb %u "
				 "= %u bytes)", w->stride, w->size_kb, w->size_kb * 1024);
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

static int work(struct kt_yx *c, const yaml_node_t *n, const char *path, Ktstr__WorkSpec *w)
{
	yaml_node_t *key, *pars;
	char p[KT_YX_PATH_MAX];
	bool sleep;

	if (n->type == YAML_SCALAR_NODE) {
		if (work_name(c, n, path, false, &w->type, &sleep))
			return -1;
		param_defaults(w);
		if (w->type == KTSTR__WORK_TYPE__WORK_SEQUENCE)
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
	if (work_name(c, key, path, false, &w->type, &sleep))
		return -1;
	param_defaults(w);
	kt_yx_join(p, path, kt_yx_str(key));
	if (w->type == KTSTR__WORK_TYPE__WORK_SEQUENCE)
		return sequence(c, pars, p, w);
	return params(c, pars, p, w);
}

/* A one-key mapping {KEY: VALUE}: *KEY and *VAL, or NULL *KEY for a
 * scalar (the caller decides whether a scalar is allowed). */
static int one_key(struct kt_yx *c, const yaml_node_t *n, const char *path, const char *what,
		   const yaml_node_t **key, yaml_node_t **val)
{
	*key = NULL;
	*val = NULL;
	if (n->type == YAML_SCALAR_NODE && !kt_yx_is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE ||
	    n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1)
		return kt_yx_err(c, n, path, "expected %s", what);
	*key = kt_yx_node(c, n->data.mapping.pairs.start->key);
	*val = kt_yx_node(c, n->data.mapping.pairs.start->value);
	if ((*key)->type != YAML_SCALAR_NODE)
		return kt_yx_err(c, n, path, "expected %s", what);
	return 0;
}

/* Which of NAMES the plain scalar N is, or -1 with an error. */
static int pick(struct kt_yx *c, const yaml_node_t *n, const char *path, const char *what,
		const char *const names[], size_t count)
{
	char d[64], list[160] = "";

	for (size_t i = 0; i < count; i++) {
		if (n->type == YAML_SCALAR_NODE && kt_yx_is_plain(n) &&
		    !strcmp(kt_yx_str(n), names[i]) &&
		    strlen(kt_yx_str(n)) == n->data.scalar.length)
			return (int)i;
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 names[i]);
	}
	return kt_yx_err(c, n, path, "unknown %s %s (expected %s)", what,
			 kt_yx_describe(n, d, sizeof(d)), list);
}

/* inherit | llc_aligned | single_cpu | {random_subset: {count: N}} |
 * {cross_cgroup: NAME} | {exact: CPUS} into a new *OUT. */
static int affinity(struct kt_yx *c, const yaml_node_t *n, const char *path,
		    Ktstr__AffinitySpec **out)
{
	static const char *const scalars[] = { "inherit", "llc_aligned", "single_cpu" };
	static const Ktstr__AffinityKind skinds[] = { KTSTR__AFFINITY_KIND__AFFINITY_INHERIT,
		KTSTR__AFFINITY_KIND__AFFINITY_LLC_ALIGNED, KTSTR__AFFINITY_KIND__AFFINITY_SINGLE_CPU };
	static const char *const maps[] = { "random_subset", "cross_cgroup", "exact" };
	static const char *const ckeys[] = { "count" };
	Ktstr__AffinitySpec *a = kt_xcalloc(1, sizeof(*a));
	const yaml_node_t *key;
	yaml_node_t *val, *cv[1];
	char p[KT_YX_PATH_MAX], cp[KT_YX_PATH_MAX], name[KT_SPEC_NAME_MAX + 1];
	struct cpus l = { NULL, 0 };
	int which, rc;

	ktstr__affinity_spec__init(a);
	*out = a;
	if (one_key(c, n, path, "an affinity: inherit, llc_aligned, single_cpu, {random_subset: "
		    "{count: N}}, {cross_cgroup: NAME} or {exact: CPUS}", &key, &val))
		return -1;
	if (!key) {
		if ((which = pick(c, n, path, "affinity", scalars, 3)) < 0)
			return -1;
		a->kind = skinds[which];
		return 0;
	}
	if ((which = pick(c, key, path, "affinity", maps, 3)) < 0)
		return -1;
	kt_yx_join(p, path, maps[which]);
	switch (which) {
	case 0:
		a->kind = KTSTR__AFFINITY_KIND__AFFINITY_RANDOM_SUBSET;
		if (kt_yx_fields(c, val, p, ckeys, 1, cv))
			return -1;
		if (!cv[0])
			return kt_yx_missing(c, val, p, "count");
		kt_yx_join(cp, p, "count");
		return kt_yx_u32(c, cv[0], cp, 1, KT_TOPO_MAX_CPUS, &a->count);
	case 1:
		a->kind = KTSTR__AFFINITY_KIND__AFFINITY_CROSS_CGROUP;
		if (get_name(c, val, p, true, name))
			return -1;
		a->cgroup = kt_xstrdup(name);
		return 0;
	default:
		a->kind = KTSTR__AFFINITY_KIND__AFFINITY_EXACT;
		rc = cpulist(c, val, p, &l);
		a->cpus = l.cpus;
		a->n_cpus = l.n_cpus;
		return rc;
	}
}

/* normal | batch | idle | {fifo: PRIO} | {rr: PRIO} into POL. */
static int policy(struct kt_yx *c, const yaml_node_t *n, const char *path, Ktstr__PolicySpec *pol)
{
	static const char *const scalars[] = { "normal", "batch", "idle" };
	static const char *const maps[] = { "fifo", "rr" };
	const yaml_node_t *key;
	yaml_node_t *val;
	char p[KT_YX_PATH_MAX];
	int which;

	if (one_key(c, n, path, "a policy: normal, batch, idle, {fifo: PRIO} or {rr: PRIO}",
		    &key, &val))
		return -1;
	if (!key) {
		if ((which = pick(c, n, path, "policy", scalars, 3)) < 0)
			return -1;
		pol->kind = (Ktstr__PolicyKind)(KTSTR__POLICY_KIND__POLICY_NORMAL + which);
		return 0;
	}
	if ((which = pick(c, key, path, "policy", maps, 2)) < 0)
		return -1;
	pol->kind = which ? KTSTR__POLICY_KIND__POLICY_RR : KTSTR__POLICY_KIND__POLICY_FIFO;
	kt_yx_join(p, path, maps[which]);
	return kt_yx_u32(c, val, p, 1, KT_SPEC_MAX_PRIO, &pol->priority);
}

/* A plain integer in MIN..MAX that may be negative. */
static int get_int(struct kt_yx *c, const yaml_node_t *n, const char *path, long min, long max,
		   int32_t *out)
{
	const char *s;
	char *end;
	long v;

	if (kt_yx_numeral(c, n, path, &s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end || errno)
		return kt_yx_expected(c, n, path, "an integer");
	if (v < min || v > max)
		return kt_yx_err(c, n, path, "%ld is out of range %ld..%ld", v, min, max);
	*out = (int32_t)v;
	return 0;
}

/* policy: and nice: of a cgroup or spawn into a new *OUT (NULL when
 * neither is given). */
static int policy_nice(struct kt_yx *c, const yaml_node_t *pn, const yaml_node_t *nn,
		       const yaml_node_t *parent, const char *path, Ktstr__PolicySpec **out)
{
	Ktstr__PolicySpec *pol;
	char p[KT_YX_PATH_MAX];

	*out = NULL;
	if (!pn && !nn)
		return 0;
	pol = kt_xcalloc(1, sizeof(*pol));
	ktstr__policy_spec__init(pol);
	*out = pol;
	kt_yx_join(p, path, "policy");
	if (pn && policy(c, pn, p, pol))
		return -1;
	kt_yx_join(p, path, "nice");
	if (nn && get_int(c, nn, p, KT_SPEC_MIN_NICE, KT_SPEC_MAX_NICE, &pol->nice))
		return -1;
	if (pol->nice && pol->kind != KTSTR__POLICY_KIND__POLICY_NORMAL &&
	    pol->kind != KTSTR__POLICY_KIND__POLICY_BATCH)
		return kt_yx_err(c, nn ? nn : parent, p, "nice applies to the normal and batch "
				 "policies only");
	return 0;
}

static Ktstr__WorkSpec *new_work(void)
{
	Ktstr__WorkSpec *w = kt_xcalloc(1, sizeof(*w));

	ktstr__work_spec__init(w);
	w->type = KTSTR__WORK_TYPE__WORK_CPU_SPIN;
	return w;
}

/* A cgroup of a step, the backdrop or add_cgroup into a new *OUT.
 * *NAME_NODE: where the name is, for "name used twice" errors. */
static int cgroup(struct kt_yx *c, const yaml_node_t *n, const char *path,
		  Ktstr__CgroupSpec **out, const yaml_node_t **name_node)
{
	static const char *const keys[] = { "name", "cpuset", "workers", "work", "parent",
					    "affinity", "policy", "nice" };
	Ktstr__CgroupSpec *cg = kt_xcalloc(1, sizeof(*cg));
	yaml_node_t *v[8];
	char p[KT_YX_PATH_MAX], name[KT_SPEC_NAME_MAX + 1];
	unsigned long w = 0;
	struct kt_err e;

	ktstr__cgroup_spec__init(cg);
	*out = cg;
	cg->work = new_work();
	if (kt_yx_fields(c, n, path, keys, 8, v))
		return -1;
	if (!v[0])
		return kt_yx_missing(c, n, path, "name");
	*name_node = v[0];
	kt_yx_join(p, path, "name");
	if (get_name(c, v[0], p, true, name))
		return -1;
	cg->name = kt_xstrdup(name);
	kt_yx_join(p, path, "parent");
	if (v[4]) {
		if (get_name(c, v[4], p, true, name))
			return -1;
		if (!strcmp(name, cg->name))
			return kt_yx_err(c, v[4], p, "a cgroup cannot be its own parent");
		cg->parent = kt_xstrdup(name);
	}
	kt_yx_join(p, path, "cpuset");
	if (v[1] && cpuset(c, v[1], p, &cg->cpuset))
		return -1;
	if (!cg->cpuset) {
		cg->cpuset = kt_xcalloc(1, sizeof(*cg->cpuset));
		ktstr__cpuset_spec__init(cg->cpuset);
	}
	kt_yx_join(p, path, "work");
	if (v[3] && work(c, v[3], p, cg->work))
		return -1;
	kt_yx_join(p, path, "affinity");
	if (v[5] && affinity(c, v[5], p, &cg->affinity))
		return -1;
	if (policy_nice(c, v[6], v[7], n, path, &cg->policy))
		return -1;
	kt_yx_join(p, path, "workers");
	if (v[2] && kt_yx_uint(c, v[2], p, 0, KT_SPEC_MAX_WORKERS, &w))
		return -1;
	cg->workers = (unsigned)w;
	/* The params are in range by now: only the grouping rule is left. */
	if (kt_spec_work_check(cg->work, cg->workers, &e))
		return kt_yx_err(c, v[2] ? v[2] : n, p, "%s", e.msg);
	return 0;
}

/* A list of 1..KT_SPEC_MAX_CGROUPS cgroups with unique names into *OUT;
 * AT (when not NULL) receives where each one is. */
static int cgroup_list(struct kt_yx *c, const yaml_node_t *n, const char *path,
		       Ktstr__CgroupSpec ***out, size_t *count, struct at **at)
{
	char cp[KT_YX_PATH_MAX];
	size_t cnt;

	if (n->type != YAML_SEQUENCE_NODE)
		return kt_yx_expected(c, n, path, "a list of cgroups");
	cnt = kt_yx_seq_len(n);
	if (!cnt || cnt > KT_SPEC_MAX_CGROUPS)
		return kt_yx_err(c, n, path, "expected 1 to %d cgroups, got %zu",
				 KT_SPEC_MAX_CGROUPS, cnt);
	*out = kt_xcalloc(cnt, sizeof(**out));
	*at = kt_xcalloc(cnt, sizeof(**at));
	for (size_t i = 0; i < cnt; i++) {
		const yaml_node_t *name = NULL;
		Ktstr__CgroupSpec **cgs = *out;

		kt_yx_join_index(cp, path, i);
		(*at)[i].node = kt_yx_seq_item(c, n, i);
		snprintf((*at)[i].path, sizeof((*at)[i].path), "%s", cp);
		(*count)++;
		if (cgroup(c, kt_yx_seq_item(c, n, i), cp, &cgs[i], &name))
			return -1;
		for (size_t j = 0; j < i; j++) {
			char np[KT_YX_PATH_MAX];

			if (strcmp(cgs[j]->name, cgs[i]->name))
				continue;
			kt_yx_join(np, cp, "name");
			return kt_yx_err(c, name, np, "'%s' is already the name of cgroups[%zu]",
					 cgs[i]->name, j);
		}
	}
	return 0;
}

/* ---- ops ---- */

/* The mapping N with exactly KEYS (REQUIRED of them must be there). */
static int op_fields(struct kt_yx *c, const yaml_node_t *n, const char *path,
		     const char *const keys[], size_t nkeys, size_t required, yaml_node_t *v[])
{
	if (kt_yx_fields(c, n, path, keys, nkeys, v))
		return -1;
	for (size_t i = 0; i < required; i++)
		if (!v[i])
			return kt_yx_missing(c, n, path, keys[i]);
	return 0;
}

/* A cgroup name at PATH.KEY into a new string. */
static int name_at(struct kt_yx *c, const yaml_node_t *n, const char *path, const char *key,
		   bool cgroup, char **out)
{
	char p[KT_YX_PATH_MAX], name[KT_SPEC_NAME_MAX + 1];

	if (key)
		kt_yx_join(p, path, key);
	else
		snprintf(p, sizeof(p), "%s", path);
	if (get_name(c, n, p, cgroup, name))
		return -1;
	*out = kt_xstrdup(name);
	return 0;
}

static int spawn_op(struct kt_yx *c, const yaml_node_t *n, const char *path, Ktstr__Spawn **out)
{
	static const char *const keys[] = { "cgroup", "workers", "work", "affinity", "policy",
					    "nice" };
	Ktstr__Spawn *sp = kt_xcalloc(1, sizeof(*sp));
	yaml_node_t *v[6];
	char p[KT_YX_PATH_MAX];
	struct kt_err e;

	ktstr__spawn__init(sp);
	*out = sp;
	sp->work = new_work();
	if (op_fields(c, n, path, keys, 6, 1, v) || name_at(c, v[0], path, "cgroup", true,
							    &sp->cgroup))
		return -1;
	kt_yx_join(p, path, "work");
	if (v[2] && work(c, v[2], p, sp->work))
		return -1;
	kt_yx_join(p, path, "affinity");
	if (v[3] && affinity(c, v[3], p, &sp->affinity))
		return -1;
	if (policy_nice(c, v[4], v[5], n, path, &sp->policy))
		return -1;
	kt_yx_join(p, path, "workers");
	if (v[1] && kt_yx_u32(c, v[1], p, 1, KT_SPEC_MAX_WORKERS, &sp->workers))
		return -1;
	if (kt_spec_work_check(sp->work, sp->workers, &e))
		return kt_yx_err(c, v[1] ? v[1] : n, p, "%s", e.msg);
	return 0;
}

/* A printable scalar without spaces of 1..MAX bytes into a new string. */
static int word(struct kt_yx *c, const yaml_node_t *n, const char *path, const char *what,
		size_t max, char **out)
{
	char d[64];

	if (n->type != YAML_SCALAR_NODE || kt_yx_is_null(n))
		return kt_yx_expected(c, n, path, what);
	if (!n->data.scalar.length || n->data.scalar.length > max ||
	    strlen(kt_yx_str(n)) != n->data.scalar.length || !kt_printable(kt_yx_str(n)) ||
	    strchr(kt_yx_str(n), ' '))
		return kt_yx_err(c, n, path, "%s is not %s (1 to %zu printable characters, no "
				 "spaces)", kt_yx_describe(n, d, sizeof(d)), what, max);
	*out = kt_xstrdup(kt_yx_str(n));
	return 0;
}

static int metric(struct kt_yx *c, const yaml_node_t *n, const char *path, Ktstr__MetricCheck *m)
{
	static const char *const keys[] = { "path", "min", "max" };
	yaml_node_t *v[3];
	char p[KT_YX_PATH_MAX];

	if (op_fields(c, n, path, keys, 3, 1, v))
		return -1;
	kt_yx_join(p, path, "path");
	if (word(c, v[0], p, "a dotted JSON path", KT_SPEC_MAX_METRIC_PATH, &m->path))
		return -1;
	if (m->path[0] == '.' || m->path[strlen(m->path) - 1] == '.' || strstr(m->path, ".."))
		return kt_yx_err(c, v[0], p, "'%s' has an empty part", m->path);
	kt_yx_join(p, path, "min");
	if (v[1] && get_double(c, v[1], p, -HUGE_VAL, false, HUGE_VAL, &m->min))
		return -1;
	kt_yx_join(p, path, "max");
	if (v[2] && get_double(c, v[2], p, -HUGE_VAL, false, HUGE_VAL, &m->max))
		return -1;
	m->has_min = v[1] != NULL;
	m->has_max = v[2] != NULL;
	if (m->has_min && m->has_max && m->min > m->max)
		return kt_yx_err(c, v[2], p, "%g is below min (%g)", m->max, m->min);
	return 0;
}

static int payload(struct kt_yx *c, const yaml_node_t *n, const char *path,
		   Ktstr__PayloadSpec **out)
{
	static const char *const keys[] = { "name", "path", "args", "exit_code", "cgroup",
					    "metrics" };
	Ktstr__PayloadSpec *pl = kt_xcalloc(1, sizeof(*pl));
	yaml_node_t *v[6];
	char p[KT_YX_PATH_MAX], ip[KT_YX_PATH_MAX];
	int32_t code = 0;

	ktstr__payload_spec__init(pl);
	*out = pl;
	if (op_fields(c, n, path, keys, 6, 2, v) || name_at(c, v[0], path, "name", false,
							    &pl->name))
		return -1;
	kt_yx_join(p, path, "path");
	if (word(c, v[1], p, "an absolute path on the host", KT_SPEC_MAX_PATH_LEN, &pl->path))
		return -1;
	if (pl->path[0] != '/' || pl->path[strlen(pl->path) - 1] == '/')
		return kt_yx_err(c, v[1], p, "'%s' is not an absolute path of a file", pl->path);
	kt_yx_join(p, path, "args");
	if (v[2]) {
		size_t cnt = kt_yx_seq_len(v[2]);

		if (v[2]->type != YAML_SEQUENCE_NODE)
			return kt_yx_expected(c, v[2], p, "a list of arguments");
		if (cnt > KT_SPEC_MAX_ARGS)
			return kt_yx_err(c, v[2], p, "%zu arguments, at most %d", cnt,
					 KT_SPEC_MAX_ARGS);
		pl->args = kt_xcalloc(cnt, sizeof(*pl->args));
		for (size_t i = 0; i < cnt; i++) {
			yaml_node_t *a = kt_yx_seq_item(c, v[2], i);

			kt_yx_join_index(ip, p, i);
			if (a->type != YAML_SCALAR_NODE)
				return kt_yx_expected(c, a, ip, "an argument");
			pl->args[i] = kt_xcalloc(KT_SPEC_MAX_ARG_LEN + 1, 1);
			pl->n_args++;
			if (get_line(c, a, ip, pl->args[i], KT_SPEC_MAX_ARG_LEN))
				return -1;
		}
	}
	kt_yx_join(p, path, "exit_code");
	if (v[3] && get_int(c, v[3], p, 0, 255, &code))
		return -1;
	pl->exit_code = code;
	if (v[4] && name_at(c, v[4], path, "cgroup", true, &pl->cgroup))
		return -1;
	kt_yx_join(p, path, "metrics");
	if (v[5]) {
		size_t cnt = kt_yx_seq_len(v[5]);

		if (v[5]->type != YAML_SEQUENCE_NODE)
			return kt_yx_expected(c, v[5], p, "a list of metric checks");
		if (!cnt || cnt > KT_SPEC_MAX_METRICS)
			return kt_yx_err(c, v[5], p, "expected 1 to %d metric checks, got %zu",
					 KT_SPEC_MAX_METRICS, cnt);
		pl->metrics = kt_xcalloc(cnt, sizeof(*pl->metrics));
		for (size_t i = 0; i < cnt; i++) {
			Ktstr__MetricCheck *m = kt_xcalloc(1, sizeof(*m));

			ktstr__metric_check__init(m);
			pl->metrics[pl->n_metrics++] = m;
			kt_yx_join_index(ip, p, i);
			if (metric(c, kt_yx_seq_item(c, v[5], i), ip, m))
				return -1;
		}
	}
	return 0;
}

static const char *const op_keys[] = {
	"add_cgroup", "remove_cgroup", "set_cpuset", "clear_cpuset", "swap_cpusets", "spawn",
	"stop_cgroup", "set_affinity", "spawn_host", "move_all_tasks", "run_payload",
	"wait_payload", "kill_payload", "snapshot", "watch_snapshot",
};

/* The value V of op KEY (an index into op_keys = Op case - 1) into OP. */
static int op_value(struct kt_yx *c, const yaml_node_t *v, const char *p, int key, Ktstr__Op *op)
{
	static const char *const pair_keys[] = { "cgroup", "cpuset" };
	static const char *const swap_keys[] = { "a", "b" };
	static const char *const aff_keys[] = { "cgroup", "kind" };
	static const char *const move_keys[] = { "from", "to" };
	static const char *const wait_keys[] = { "name", "timeout_ms" };
	const yaml_node_t *dummy;
	yaml_node_t *f[2];
	char fp[KT_YX_PATH_MAX];

	op->op_case = (Ktstr__Op__OpCase)(key + 1);
	switch (op->op_case) {
	case KTSTR__OP__OP_ADD_CGROUP:
		return cgroup(c, v, p, &op->add_cgroup, &dummy);
	case KTSTR__OP__OP_REMOVE_CGROUP:
		return name_at(c, v, p, NULL, true, &op->remove_cgroup);
	case KTSTR__OP__OP_CLEAR_CPUSET:
		return name_at(c, v, p, NULL, true, &op->clear_cpuset);
	case KTSTR__OP__OP_STOP_CGROUP:
		return name_at(c, v, p, NULL, true, &op->stop_cgroup);
	case KTSTR__OP__OP_KILL_PAYLOAD:
		return name_at(c, v, p, NULL, false, &op->kill_payload);
	case KTSTR__OP__OP_SNAPSHOT:
		return name_at(c, v, p, NULL, false, &op->snapshot);
	case KTSTR__OP__OP_WATCH_SNAPSHOT:
		return word(c, v, p, "a symbol (var, section.var, map.var or a kernel symbol)",
			    KT_SPEC_MAX_SYMBOL, &op->watch_snapshot);
	case KTSTR__OP__OP_SET_CPUSET:
		op->set_cpuset = kt_xcalloc(1, sizeof(*op->set_cpuset));
		ktstr__set_cpuset__init(op->set_cpuset);
		kt_yx_join(fp, p, "cpuset");
		return op_fields(c, v, p, pair_keys, 2, 2, f) ||
		       name_at(c, f[0], p, "cgroup", true, &op->set_cpuset->cgroup) ||
		       cpuset(c, f[1], fp, &op->set_cpuset->cpuset) ? -1 : 0;
	case KTSTR__OP__OP_SWAP_CPUSETS:
		op->swap_cpusets = kt_xcalloc(1, sizeof(*op->swap_cpusets));
		ktstr__swap_cpusets__init(op->swap_cpusets);
		return op_fields(c, v, p, swap_keys, 2, 2, f) ||
		       name_at(c, f[0], p, "a", true, &op->swap_cpusets->a) ||
		       name_at(c, f[1], p, "b", true, &op->swap_cpusets->b) ? -1 : 0;
	case KTSTR__OP__OP_SPAWN:
		return spawn_op(c, v, p, &op->spawn);
	case KTSTR__OP__OP_SPAWN_HOST:
		return spawn_op(c, v, p, &op->spawn_host);
	case KTSTR__OP__OP_SET_AFFINITY:
		op->set_affinity = kt_xcalloc(1, sizeof(*op->set_affinity));
		ktstr__set_affinity__init(op->set_affinity);
		kt_yx_join(fp, p, "kind");
		return op_fields(c, v, p, aff_keys, 2, 2, f) ||
		       name_at(c, f[0], p, "cgroup", true, &op->set_affinity->cgroup) ||
		       affinity(c, f[1], fp, &op->set_affinity->affinity) ? -1 : 0;
	case KTSTR__OP__OP_MOVE_ALL_TASKS:
		op->move_all_tasks = kt_xcalloc(1, sizeof(*op->move_all_tasks));
		ktstr__move_all_tasks__init(op->move_all_tasks);
		return op_fields(c, v, p, move_keys, 2, 2, f) ||
		       name_at(c, f[0], p, "from", true, &op->move_all_tasks->from) ||
		       name_at(c, f[1], p, "to", true, &op->move_all_tasks->to) ? -1 : 0;
	case KTSTR__OP__OP_RUN_PAYLOAD:
		return payload(c, v, p, &op->run_payload);
	case KTSTR__OP__OP_WAIT_PAYLOAD:
		op->wait_payload = kt_xcalloc(1, sizeof(*op->wait_payload));
		ktstr__wait_payload__init(op->wait_payload);
		kt_yx_join(fp, p, "timeout_ms");
		return op_fields(c, v, p, wait_keys, 2, 2, f) ||
		       name_at(c, f[0], p, "name", false, &op->wait_payload->name) ||
		       kt_yx_u32(c, f[1], fp, 1, KT_SPEC_MAX_HOLD_MS,
				 &op->wait_payload->timeout_ms) ? -1 : 0;
	default:
		return -1;
	}
}

/* One op, a one-key mapping {OP: VALUE}, into a new *OUT. */
static int op(struct kt_yx *c, const yaml_node_t *n, const char *path, Ktstr__Op **out)
{
	char list[320] = "", p[KT_YX_PATH_MAX];
	const size_t nkeys = sizeof(op_keys) / sizeof(op_keys[0]);
	const yaml_node_t *key;
	yaml_node_t *val;
	int which;

	*out = kt_xcalloc(1, sizeof(**out));
	ktstr__op__init(*out);
	for (size_t i = 0; i < nkeys; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 op_keys[i]);
	if (n->type != YAML_MAPPING_NODE || one_key(c, n, path, "an op", &key, &val))
		return kt_yx_err(c, n, path, "expected an op: a one-key mapping {OP: ...}, OP one "
				 "of %s", list);
	if ((which = pick(c, key, path, "op", op_keys, nkeys)) < 0)
		return -1;
	kt_yx_join(p, path, op_keys[which]);
	return op_value(c, val, p, which, *out);
}

static int ops(struct kt_yx *c, const yaml_node_t *n, const char *path, Ktstr__StepSpec *st,
	       struct at **at)
{
	char ip[KT_YX_PATH_MAX];
	size_t cnt;

	if (n->type != YAML_SEQUENCE_NODE)
		return kt_yx_expected(c, n, path, "a list of ops");
	cnt = kt_yx_seq_len(n);
	if (!cnt || cnt > KT_SPEC_MAX_OPS)
		return kt_yx_err(c, n, path, "expected 1 to %d ops, got %zu", KT_SPEC_MAX_OPS, cnt);
	st->ops = kt_xcalloc(cnt, sizeof(*st->ops));
	*at = kt_xcalloc(cnt, sizeof(**at));
	for (size_t i = 0; i < cnt; i++) {
		const yaml_node_t *item = kt_yx_seq_item(c, n, i);

		kt_yx_join_index(ip, path, i);
		(*at)[i].node = item;
		st->n_ops++;
		if (op(c, item, ip, &st->ops[i]))
			return -1;
		kt_yx_join((*at)[i].path, ip, kt_spec_op_name(st->ops[i]));
	}
	return 0;
}

/* ---- holds and steps ---- */

/* {frac: F} or {fixed_ms: N} into H (LOOP: the part before interval_ms). */
static int hold_time(struct kt_yx *c, yaml_node_t *v[2], const yaml_node_t *n, const char *path,
		     Ktstr__HoldSpec *h)
{
	static const char *const keys[] = { "frac", "fixed_ms" };
	char p[KT_YX_PATH_MAX];
	int which;

	if ((which = one_of(c, n, path, keys, 2, v)) < 0)
		return -1;
	kt_yx_join(p, path, keys[which]);
	if (which == 1)
		return kt_yx_u32(c, v[1], p, 1, KT_SPEC_MAX_HOLD_MS, &h->ms);
	return get_double(c, v[0], p, 0, true, 1, &h->frac);
}

static int hold(struct kt_yx *c, const yaml_node_t *n, const char *path, Ktstr__HoldSpec *h)
{
	static const char *const keys[] = { "frac", "fixed_ms", "loop" };
	static const char *const lkeys[] = { "frac", "fixed_ms", "interval_ms" };
	yaml_node_t *v[3], *lv[3];
	char p[KT_YX_PATH_MAX], ip[KT_YX_PATH_MAX];

	if (kt_yx_fields(c, n, path, keys, 3, v) || one_of(c, n, path, keys, 3, v) < 0)
		return -1;
	if (!v[2]) {
		h->kind = v[1] ? KTSTR__HOLD_SPEC__KIND__FIXED : KTSTR__HOLD_SPEC__KIND__FRAC;
		return hold_time(c, v, n, path, h);
	}
	h->kind = KTSTR__HOLD_SPEC__KIND__LOOP;
	kt_yx_join(p, path, "loop");
	if (kt_yx_fields(c, v[2], p, lkeys, 3, lv))
		return -1;
	if (!lv[2])
		return kt_yx_missing(c, v[2], p, "interval_ms");
	if (hold_time(c, lv, v[2], p, h))
		return -1;
	kt_yx_join(ip, p, "interval_ms");
	return kt_yx_u32(c, lv[2], ip, 1, KT_SPEC_MAX_HOLD_MS, &h->interval_ms);
}

static int step(struct parse *ps, const yaml_node_t *n, const char *path, Ktstr__StepSpec *st,
		size_t si)
{
	static const char *const keys[] = { "cgroups", "hold", "ops" };
	struct kt_yx *c = ps->c;
	yaml_node_t *v[3];
	char p[KT_YX_PATH_MAX];

	if (kt_yx_fields(c, n, path, keys, 3, v))
		return -1;
	if (!v[0] && !v[2])
		return kt_yx_missing(c, n, path, "cgroups");
	kt_yx_join(p, path, "ops");
	if (v[2] && ops(c, v[2], p, st, &ps->ops[si]))
		return -1;
	kt_yx_join(p, path, "cgroups");
	if (v[0] && cgroup_list(c, v[0], p, &st->cgroups, &st->n_cgroups, &ps->cgroups[si]))
		return -1;
	kt_yx_join(p, path, "hold");
	return v[1] ? hold(c, v[1], p, st->hold) : 0;
}

static int steps(struct parse *ps, const yaml_node_t *n, struct kt_scenario *s)
{
	struct kt_yx *c = ps->c;
	Ktstr__EntrySpec *es = s->spec;
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
	es->steps = kt_xcalloc(cnt, sizeof(*es->steps));
	ps->ops = kt_xcalloc(cnt, sizeof(*ps->ops));
	ps->cgroups = kt_xcalloc(cnt, sizeof(*ps->cgroups));
	ps->n_steps = cnt;
	for (size_t i = 0; i < cnt; i++) {
		const yaml_node_t *sn = kt_yx_seq_item(c, n, i);
		Ktstr__StepSpec *st = kt_xcalloc(1, sizeof(*st));

		ktstr__step_spec__init(st);
		st->hold = kt_xcalloc(1, sizeof(*st->hold));
		ktstr__hold_spec__init(st->hold);
		st->hold->frac = -1;
		es->steps[es->n_steps++] = st;
		kt_yx_join_index(p, "steps", i);
		if (step(ps, sn, p, st, i))
			return -1;
		if (st->hold->frac < 0)
			st->hold->frac = st->hold->kind == KTSTR__HOLD_SPEC__KIND__FRAC ?
					 1.0 / (double)cnt : 0;
		sum += st->hold->frac;
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

/* Names through the steps (kt_spec_resolve), errors at their line. */
static int resolve(struct parse *ps, const struct kt_scenario *s)
{
	struct kt_spec_where w;
	const struct at *at;
	struct kt_err e;

	if (!kt_spec_resolve(s->spec, NULL, &w, &e))
		return 0;
	if (w.at == KT_AT_BACKDROP)
		at = &ps->backdrop[w.index];
	else if (w.at == KT_AT_OP)
		at = &ps->ops[w.step][w.index];
	else
		at = &ps->cgroups[w.step][w.index];
	return kt_yx_err(ps->c, at->node, at->path, "%s", e.msg);
}

static const char *base_name(const char *path)
{
	return strrchr(path, '/') + 1;
}

/* Payload binaries land at /bin/<basename>: two host files cannot share
 * one. Collects s->bins. */
static int payload_bins(struct parse *ps, struct kt_scenario *s)
{
	size_t n = 0;

	s->bins = kt_xcalloc(KT_SPEC_MAX_PAYLOADS + 1, sizeof(*s->bins));
	for (size_t si = 0; si < s->spec->n_steps; si++) {
		const Ktstr__StepSpec *st = s->spec->steps[si];

		for (size_t oi = 0; oi < st->n_ops; oi++) {
			const char *path;
			bool dup = false;

			if (st->ops[oi]->op_case != KTSTR__OP__OP_RUN_PAYLOAD)
				continue;
			path = st->ops[oi]->run_payload->path;
			for (size_t k = 0; k < n && !dup; k++) {
				if (!strcmp(s->bins[k], path))
					dup = true;
				else if (!strcmp(base_name(s->bins[k]), base_name(path)))
					return kt_yx_err(ps->c, ps->ops[si][oi].node,
							 ps->ops[si][oi].path, "%s and %s would both "
							 "be /bin/%s in the guest", s->bins[k],
							 path, base_name(path));
			}
			if (!dup && n < KT_SPEC_MAX_PAYLOADS)
				s->bins[n++] = path;
		}
	}
	return 0;
}

static bool has_cpuset(const Ktstr__CgroupSpec *const *cgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cgs[i]->cpuset && cgs[i]->cpuset->kind != KTSTR__CPUSET_KIND__CPUSET_NONE)
			return true;
	return false;
}

/* Any cpuset anywhere: a cgroup's, an add_cgroup's or a set_cpuset. */
static bool any_cpuset(const struct kt_scenario *s)
{
	const Ktstr__EntrySpec *es = s->spec;

	if (has_cpuset((const Ktstr__CgroupSpec *const *)es->backdrop, es->n_backdrop))
		return true;
	for (size_t i = 0; i < es->n_steps; i++) {
		const Ktstr__StepSpec *st = es->steps[i];

		if (has_cpuset((const Ktstr__CgroupSpec *const *)st->cgroups, st->n_cgroups))
			return true;
		for (size_t k = 0; k < st->n_ops; k++)
			if (st->ops[k]->op_case == KTSTR__OP__OP_SET_CPUSET ||
			    (st->ops[k]->op_case == KTSTR__OP__OP_ADD_CGROUP &&
			     has_cpuset((const Ktstr__CgroupSpec *const *)&st->ops[k]->add_cgroup, 1)))
				return true;
	}
	return false;
}

static int root(struct parse *ps, const yaml_node_t *n, struct kt_scenario *s)
{
	static const char *const keys[] = { "name", "description", "checks", "steps", "backdrop" };
	struct kt_yx *c = ps->c;
	yaml_node_t *v[5];

	if (kt_yx_fields(c, n, "", keys, 5, v))
		return -1;
	if (!v[0])
		return kt_yx_missing(c, n, "", "name");
	if (!v[3])
		return kt_yx_missing(c, n, "", "steps");
	if (get_name(c, v[0], "name", false, s->name) ||
	    (v[1] && get_line(c, v[1], "description", s->description, DESC_MAX)) ||
	    (v[4] && cgroup_list(c, v[4], "backdrop", &s->spec->backdrop, &s->spec->n_backdrop,
				 &ps->backdrop)) ||
	    steps(ps, v[3], s) || resolve(ps, s) || payload_bins(ps, s))
		return -1;
	s->spec->name = kt_xstrdup(s->name);
	kt_checks_cfg_default(&s->checks);
	/* A cpuset is there to be isolated; an explicit isolation: wins. */
	s->checks.isolation = any_cpuset(s);
	return v[2] ? kt_checks_yaml_cfg(c, v[2], "checks", &s->checks) : 0;
}

/* ---- entry points ---- */

void kt_scenario_free(struct kt_scenario *s)
{
	if (!s)
		return;
	ktstr__entry_spec__free_unpacked(s->spec, NULL);
	free(s->bins);
	free(s);
}

static void parse_free(struct parse *ps)
{
	free(ps->backdrop);
	for (size_t i = 0; i < ps->n_steps; i++) {
		free(ps->ops[i]);
		free(ps->cgroups[i]);
	}
	free(ps->ops);
	free(ps->cgroups);
}

int kt_scenario_parse(const char *text, size_t len, const char *filename,
		      struct kt_scenario **out, struct kt_err *err)
{
	static const struct kt_yx_kind kind = { "scenario", "name and steps",
						KT_SCENARIO_MAX_BYTES };
	struct kt_scenario *s;
	struct parse ps;

	*out = NULL;
	memset(&ps, 0, sizeof(ps));
	if (kt_yx_open(text, len, filename ? filename : "<scenario>", &kind, &ps.c, err))
		return -1;
	s = kt_xcalloc(1, sizeof(*s));
	s->spec = kt_xcalloc(1, sizeof(*s->spec));
	ktstr__entry_spec__init(s->spec);
	if (root(&ps, kt_yx_root(ps.c), s)) {
		kt_scenario_free(s);
		s = NULL;
	}
	parse_free(&ps);
	kt_yx_close(ps.c);
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

const char *const *kt_scenario_payload_bins(const struct kt_scenario *s)
{
	return s->bins;
}

struct fit {
	const struct kt_scenario *s;
	const struct kt_topo *t;
	Ktstr__GuestTopology *g; /* the model of T */
	char topo[32];
};

/* CS (and A, with the cgroup's CPUs) resolve on the model topology; the
 * error names WHERE and WHAT (a cgroup or op). */
static int fits_one(const struct fit *f, const Ktstr__CpusetSpec *cs, const Ktstr__AffinitySpec *a,
		    const char *where, const char *what, struct kt_err *err)
{
	uint32_t cpus[KT_TOPO_MAX_CPUS], aff[2 * KT_TOPO_MAX_CPUS];
	struct kt_err e;
	size_t n, na;

	if (!kt_cpuset_resolve(cs, f->g, cpus, KT_TOPO_MAX_CPUS, &n, &e) &&
	    (!a || !kt_affinity_resolve(a, cpus, n, NULL, 0, f->g, 0, aff, 2 * KT_TOPO_MAX_CPUS,
					&na, &e)))
		return 0;
	return kt_errf(err, "scenario '%s': %s %s: %s does not fit topology %s (%u CPUs, %u LLCs): "
		       "%s", f->s->name, where, what, a && cs ? "cpuset or affinity" : a ?
		       "affinity" : "cpuset", f->topo, kt_topo_cpus(f->t), f->t->llcs, e.msg);
}

static int fits_cgroups(const struct fit *f, Ktstr__CgroupSpec *const *cgs, size_t n,
			const char *where, struct kt_err *err)
{
	for (size_t i = 0; i < n; i++) {
		char what[KT_SPEC_NAME_MAX + 16];

		snprintf(what, sizeof(what), "cgroup '%s'", cgs[i]->name);
		if (fits_one(f, cgs[i]->cpuset, NULL, where, what, err) ||
		    (cgs[i]->affinity && fits_one(f, cgs[i]->cpuset, cgs[i]->affinity, where, what,
						   err)))
			return -1;
	}
	return 0;
}

static int fits_ops(const struct fit *f, const Ktstr__StepSpec *st, const char *where,
		    struct kt_err *err)
{
	for (size_t k = 0; k < st->n_ops; k++) {
		const Ktstr__Op *op = st->ops[k];
		const Ktstr__AffinitySpec *a = NULL;
		char what[64];

		snprintf(what, sizeof(what), "ops[%zu] (%s)", k, kt_spec_op_name(op));
		if (op->op_case == KTSTR__OP__OP_ADD_CGROUP &&
		    fits_cgroups(f, &op->add_cgroup, 1, where, err))
			return -1;
		if (op->op_case == KTSTR__OP__OP_SET_CPUSET &&
		    fits_one(f, op->set_cpuset->cpuset, NULL, where, what, err))
			return -1;
		if (op->op_case == KTSTR__OP__OP_SET_AFFINITY)
			a = op->set_affinity->affinity;
		else if (op->op_case == KTSTR__OP__OP_SPAWN)
			a = op->spawn->affinity;
		else if (op->op_case == KTSTR__OP__OP_SPAWN_HOST)
			a = op->spawn_host->affinity;
		/* The cgroup's CPUs depend on the run; exact CPUs must exist. */
		if (a && a->kind == KTSTR__AFFINITY_KIND__AFFINITY_EXACT &&
		    fits_one(f, NULL, a, where, what, err))
			return -1;
	}
	return 0;
}

int kt_scenario_fits(const struct kt_scenario *s, const struct kt_topo *t, struct kt_err *err)
{
	struct fit f = { s, t, kt_cpuset_topo_model(t), "" };
	const Ktstr__EntrySpec *es = s->spec;
	char where[32];
	int rc;

	kt_topo_format(t, f.topo, sizeof(f.topo));
	rc = fits_cgroups(&f, es->backdrop, es->n_backdrop, "backdrop", err);
	for (size_t i = 0; i < es->n_steps && !rc; i++) {
		snprintf(where, sizeof(where), "steps[%zu]", i);
		rc = fits_ops(&f, es->steps[i], where, err) ||
		     fits_cgroups(&f, es->steps[i]->cgroups, es->steps[i]->n_cgroups, where, err);
	}
	ktstr__guest_topology__free_unpacked(f.g, NULL);
	return rc ? -1 : 0;
}

/* Planned hold time of all steps, in ms. */
double kt_scenario_planned_ms(const struct kt_scenario *s, uint64_t duration_ms)
{
	double ms = 0;

	for (size_t i = 0; i < s->spec->n_steps; i++) {
		const Ktstr__HoldSpec *h = s->spec->steps[i]->hold;

		ms += h->frac > 0 ? h->frac * (double)duration_ms : h->ms;
		/* A wait_payload may hold the step up to its timeout. */
		for (size_t k = 0; k < s->spec->steps[i]->n_ops; k++)
			if (s->spec->steps[i]->ops[k]->op_case == KTSTR__OP__OP_WAIT_PAYLOAD)
				ms += s->spec->steps[i]->ops[k]->wait_payload->timeout_ms;
	}
	return ms;
}

static int check_run(const struct kt_scenario *s, uint64_t duration_ms, unsigned default_workers,
		     uint32_t watchdog_ms, struct kt_err *err)
{
	double plan = kt_scenario_planned_ms(s, duration_ms);

	if (duration_ms > KT_SPEC_MAX_DURATION_MS)
		return kt_errf(err, "scenario '%s': duration %llu ms is out of range (0..%u)", s->name,
			       (unsigned long long)duration_ms, KT_SPEC_MAX_DURATION_MS);
	for (size_t i = 0; duration_ms == 0 && i < s->spec->n_steps; i++)
		if (s->spec->steps[i]->hold->frac > 0)
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

/* The run's default count into *WORKERS when it is 0; it must suit WORK. */
static int fill_workers(const struct kt_scenario *s, const char *where, const char *name,
			const Ktstr__WorkSpec *work, uint32_t *workers, unsigned dflt,
			struct kt_err *err)
{
	struct kt_err why;

	if (*workers)
		return 0; /* a count set in the scenario was checked by the parser */
	*workers = dflt;
	if (kt_spec_work_check(work, dflt, &why))
		return kt_errf(err, "scenario '%s': %s cgroup '%s': %s with the run's default "
			       "count; give the cgroup its own workers:", s->name, where, name,
			       why.msg);
	return 0;
}

static int fill_cgroups(const struct kt_scenario *s, const char *where, Ktstr__CgroupSpec **cgs,
			size_t n, unsigned dflt, struct kt_err *err)
{
	for (size_t i = 0; i < n; i++)
		if (fill_workers(s, where, cgs[i]->name, cgs[i]->work, &cgs[i]->workers, dflt, err))
			return -1;
	return 0;
}

/* The run's parameters into ES, a copy of the template. */
static int fill_run(const struct kt_scenario *s, Ktstr__EntrySpec *es, unsigned dflt,
		    struct kt_err *err)
{
	char where[32];

	if (fill_cgroups(s, "backdrop", es->backdrop, es->n_backdrop, dflt, err))
		return -1;
	for (size_t i = 0; i < es->n_steps; i++) {
		Ktstr__StepSpec *st = es->steps[i];

		snprintf(where, sizeof(where), "steps[%zu]", i);
		if (fill_cgroups(s, where, st->cgroups, st->n_cgroups, dflt, err))
			return -1;
		for (size_t k = 0; k < st->n_ops; k++) {
			Ktstr__Op *op = st->ops[k];
			Ktstr__Spawn *sp = op->op_case == KTSTR__OP__OP_SPAWN ? op->spawn :
					   op->op_case == KTSTR__OP__OP_SPAWN_HOST ? op->spawn_host :
					   NULL;
			int rc = 0;

			if (op->op_case == KTSTR__OP__OP_ADD_CGROUP)
				rc = fill_cgroups(s, where, &op->add_cgroup, 1, dflt, err);
			else if (sp)
				rc = fill_workers(s, where, sp->cgroup, sp->work, &sp->workers, dflt,
						  err);
			else if (op->op_case == KTSTR__OP__OP_RUN_PAYLOAD) {
				Ktstr__PayloadSpec *pl = op->run_payload;
				char *guest = kt_xasprintf("/bin/%s", base_name(pl->path));

				free(pl->path);
				pl->path = guest;
			}
			if (rc)
				return -1;
		}
	}
	return 0;
}

int kt_scenario_entry_spec(const struct kt_scenario *s, uint64_t duration_ms,
			   unsigned default_workers, uint32_t watchdog_ms, uint8_t **buf,
			   size_t *len, struct kt_err *err)
{
	Ktstr__EntrySpec *es;
	uint8_t *tmp;
	size_t tlen;
	int rc;

	if (check_run(s, duration_ms, default_workers, watchdog_ms, err))
		return -1;
	/* A deep copy of the template, through its own wire format. */
	tlen = ktstr__entry_spec__get_packed_size(s->spec);
	tmp = kt_xcalloc(tlen, 1);
	ktstr__entry_spec__pack(s->spec, tmp);
	es = ktstr__entry_spec__unpack(NULL, tlen, tmp);
	free(tmp);
	if (!es)
		return kt_errf(err, "scenario '%s': out of memory", s->name);
	rc = fill_run(s, es, default_workers, err);
	if (!rc) {
		es->version = KT_SCENARIO_ENTRY_VERSION;
		es->duration_ms = duration_ms;
		es->watchdog_ms = watchdog_ms;
		/* The guest's own rules: what it would refuse must not boot it. */
		if (kt_spec_validate(es, err))
			rc = kt_err_prefix(err, "guest rules");
	}
	if (!rc) {
		*len = ktstr__entry_spec__get_packed_size(es);
		*buf = kt_xcalloc(*len, 1);
		ktstr__entry_spec__pack(es, *buf);
	}
	ktstr__entry_spec__free_unpacked(es, NULL);
	return rc;
}
