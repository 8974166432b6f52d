#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cpuset.h"
#include "util.h"

#define WORD_BITS 64
#define MAP_WORDS (KT_CPU_ID_MAX / WORD_BITS)

struct cpumap {
	uint64_t w[MAP_WORDS];
};

static void map_set(struct cpumap *m, uint32_t cpu)
{
	m->w[cpu / WORD_BITS] |= 1ull << (cpu % WORD_BITS);
}

static int map_test(const struct cpumap *m, uint32_t cpu)
{
	return cpu < KT_CPU_ID_MAX && (m->w[cpu / WORD_BITS] >> (cpu % WORD_BITS)) & 1;
}

static size_t map_count(const struct cpumap *m)
{
	size_t n = 0;

	for (size_t i = 0; i < MAP_WORDS; i++)
		n += (size_t)__builtin_popcountll(m->w[i]);
	return n;
}

/* Write the set ids of M into CPUS, ascending; the caller checked room. */
static size_t map_list(const struct cpumap *m, uint32_t *cpus)
{
	size_t n = 0;

	for (uint32_t i = 0; i < MAP_WORDS; i++)
		for (uint64_t w = m->w[i]; w; w &= w - 1)
			cpus[n++] = i * WORD_BITS + (uint32_t)__builtin_ctzll(w);
	return n;
}

/* One decimal CPU id at *P, advancing *P. */
static int parse_id(const char **p, uint32_t *out, const char *s, struct kt_err *err)
{
	uint32_t v = 0;
	const char *q = *p;

	if (*q < '0' || *q > '9')
		return kt_errf(err, "cpulist '%.64s': expected a CPU number at offset %zu", s,
			       (size_t)(q - s));
	for (; *q >= '0' && *q <= '9'; q++) {
		v = v * 10 + (uint32_t)(*q - '0');
		if (v >= KT_CPU_ID_MAX)
			return kt_errf(err, "cpulist '%.64s': CPU number at offset %zu is not below %d",
				       s, (size_t)(*p - s), KT_CPU_ID_MAX);
	}
	*out = v;
	*p = q;
	return 0;
}

int kt_cpulist_parse(const char *s, uint32_t *cpus, size_t max, size_t *n, struct kt_err *err)
{
	struct cpumap m;
	const char *p = s;
	size_t len, count;

	if (!s)
		return kt_errf(err, "cpulist: missing");
	len = strlen(s);
	if (len && s[len - 1] == '\n')
		len--;
	memset(&m, 0, sizeof(m));
	while ((size_t)(p - s) < len) {
		uint32_t a, b;

		if (parse_id(&p, &a, s, err))
			return -1;
		b = a;
		if (*p == '-') {
			p++;
			if (parse_id(&p, &b, s, err))
				return -1;
			if (b < a)
				return kt_errf(err, "cpulist '%.64s': range %u-%u runs backwards", s, a, b);
		}
		for (uint32_t c = a; c <= b; c++)
			map_set(&m, c);
		if ((size_t)(p - s) == len)
			break;
		if (*p != ',' || (size_t)(p + 1 - s) == len)
			return kt_errf(err, "cpulist '%.64s': unexpected character at offset %zu", s,
				       (size_t)(p - s));
		p++;
	}
	count = map_count(&m);
	if (count > max)
		return kt_errf(err, "cpulist '%.64s': %zu CPUs, more than the %zu allowed", s, count,
			       max);
	*n = map_list(&m, cpus);
	return 0;
}

int kt_cpulist_format(const uint32_t *cpus, size_t n, char *buf, size_t len, struct kt_err *err)
{
	size_t off = 0;

	if (!len)
		return kt_errf(err, "cpulist format: no room");
	buf[0] = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		int w;

		while (j + 1 < n && cpus[j + 1] == cpus[j] + 1)
			j++;
		if (j > i)
			w = snprintf(buf + off, len - off, "%s%u-%u", off ? "," : "", cpus[i], cpus[j]);
		else
			w = snprintf(buf + off, len - off, "%s%u", off ? "," : "", cpus[i]);
		if (w < 0 || (size_t)w >= len - off) {
			buf[0] = 0;
			return kt_errf(err, "cpulist format: %zu CPUs do not fit in %zu bytes", n, len);
		}
		off += (size_t)w;
		i = j + 1;
	}
	return 0;
}

void kt_cpuset_spec_describe(const Ktstr__CpusetSpec *spec, char *buf, size_t len)
{
	size_t off;
	int w;

	if (!len)
		return;
	if (!spec || spec->kind == KTSTR__CPUSET_KIND__CPUSET_NONE) {
		snprintf(buf, len, "none");
		return;
	}
	switch (spec->kind) {
	case KTSTR__CPUSET_KIND__CPUSET_DISJOINT:
		snprintf(buf, len, "disjoint(%u of %u)", spec->index, spec->of);
		return;
	case KTSTR__CPUSET_KIND__CPUSET_LLC:
		snprintf(buf, len, "llc(%u)", spec->index);
		return;
	case KTSTR__CPUSET_KIND__CPUSET_NUMA:
		snprintf(buf, len, "numa(%u)", spec->index);
		return;
	case KTSTR__CPUSET_KIND__CPUSET_RANGE:
		snprintf(buf, len, "range(%g to %g)", spec->start_frac, spec->end_frac);
		return;
	case KTSTR__CPUSET_KIND__CPUSET_OVERLAP:
		snprintf(buf, len, "overlap(%u of %u, frac %g)", spec->index, spec->of, spec->frac);
		return;
	case KTSTR__CPUSET_KIND__CPUSET_EXACT:
		break;
	default:
		snprintf(buf, len, "unknown kind %d", (int)spec->kind);
		return;
	}
	w = snprintf(buf, len, "exact(");
	off = w > 0 && (size_t)w < len ? (size_t)w : len - 1;
	for (size_t i = 0; i < spec->n_cpus && off < len - 1; i++) {
		w = snprintf(buf + off, len - off, "%s%u", i ? "," : "", spec->cpus[i]);
		off = w > 0 && (size_t)w < len - off ? off + (size_t)w : len - 1;
	}
	if (off < len - 1)
		snprintf(buf + off, len - off, ")");
}

/* "guest topology of 4 CPUs (0-3) in 2 LLCs", for error messages. */
static void topo_describe(const Ktstr__GuestTopology *t, const struct cpumap *m, char *buf,
			  size_t len)
{
	uint32_t ids[64];
	size_t n = 0;
	char list[128];

	for (uint32_t i = 0; i < KT_CPU_ID_MAX && n < 64; i++)
		if (map_test(m, i))
			ids[n++] = i;
	if (kt_cpulist_format(ids, n, list, sizeof(list), NULL))
		snprintf(list, sizeof(list), "...");
	snprintf(buf, len, "guest topology of %zu CPUs (%s%s) in %u LLCs", t->n_cpu, list,
		 n < map_count(m) ? ",..." : "", t->llcs);
}

static int resolve_exact(const Ktstr__CpusetSpec *spec, const struct cpumap *all,
			 struct cpumap *out, const char *what, const char *topo, struct kt_err *err)
{
	if (!spec->n_cpus)
		return kt_errf(err, "cpuset %s: the CPU list is empty", what);
	for (size_t i = 0; i < spec->n_cpus; i++) {
		if (!map_test(all, spec->cpus[i]))
			return kt_errf(err, "cpuset %s: CPU %u is not in the %s", what,
				       spec->cpus[i], topo);
		map_set(out, spec->cpus[i]);
	}
	return 0;
}

static void set_positions(const struct cpumap *all, size_t lo, size_t hi, struct cpumap *out);
static void slice_of(size_t cpus, uint32_t i, uint32_t of, size_t *lo, size_t *hi);
static int slice_args(const Ktstr__CpusetSpec *spec, size_t cpus, const char *what,
		      const char *topo, struct kt_err *err);

static int resolve_disjoint(const Ktstr__CpusetSpec *spec, const struct cpumap *all,
			    struct cpumap *out, const char *what, const char *topo,
			    struct kt_err *err)
{
	size_t lo, hi;

	if (slice_args(spec, map_count(all), what, topo, err))
		return -1;
	slice_of(map_count(all), spec->index, spec->of, &lo, &hi);
	set_positions(all, lo, hi, out);
	return 0;
}

static int resolve_llc(const Ktstr__CpusetSpec *spec, const Ktstr__GuestTopology *t,
		       struct cpumap *out, const char *what, const char *topo, struct kt_err *err)
{
	if (spec->index >= t->llcs)
		return kt_errf(err, "cpuset %s: LLC %u is out of range in the %s", what, spec->index,
			       topo);
	for (size_t i = 0; i < t->n_cpu; i++)
		if (t->cpu[i]->llc == spec->index)
			map_set(out, t->cpu[i]->cpu);
	if (!map_count(out))
		return kt_errf(err, "cpuset %s: no CPU of the %s is in LLC %u", what, topo,
			       spec->index);
	return 0;
}

/* Set the CPUs of ALL at sorted positions [LO, HI) in OUT. */
static void set_positions(const struct cpumap *all, size_t lo, size_t hi, struct cpumap *out)
{
	size_t k = 0;

	for (uint32_t c = 0; c < KT_CPU_ID_MAX && k < hi; c++) {
		if (!map_test(all, c))
			continue;
		if (k >= lo)
			map_set(out, c);
		k++;
	}
}

/* Slice I of OF over CPUS (the disjoint rule) as positions [*LO, *HI). */
static void slice_of(size_t cpus, uint32_t i, uint32_t of, size_t *lo, size_t *hi)
{
	size_t base = cpus / of, rem = cpus % of, small = of - rem;

	if (i < small) {
		*lo = i * base;
		*hi = *lo + base;
	} else {
		*lo = small * base + (i - small) * (base + 1);
		*hi = *lo + base + 1;
	}
}

static int slice_args(const Ktstr__CpusetSpec *spec, size_t cpus, const char *what,
		      const char *topo, struct kt_err *err)
{
	if (spec->of == 0)
		return kt_errf(err, "cpuset %s: 'of' must be at least 1", what);
	if (spec->index >= spec->of)
		return kt_errf(err, "cpuset %s: index must be below 'of'", what);
	if (spec->of > cpus)
		return kt_errf(err, "cpuset %s: %u slices of the %s would leave some empty", what,
			       spec->of, topo);
	return 0;
}

static int resolve_overlap(const Ktstr__CpusetSpec *spec, const struct cpumap *all,
			   struct cpumap *out, const char *what, const char *topo,
			   struct kt_err *err)
{
	size_t cpus = map_count(all), lo, hi, ext;

	if (slice_args(spec, cpus, what, topo, err))
		return -1;
	if (!isfinite(spec->frac) || spec->frac < 0 || spec->frac > 1)
		return kt_errf(err, "cpuset %s: frac must be in [0, 1]", what);
	slice_of(cpus, spec->index, spec->of, &lo, &hi);
	ext = (size_t)llround(spec->frac * (double)(hi - lo));
	lo = lo > ext ? lo - ext : 0;
	hi = hi + ext < cpus ? hi + ext : cpus;
	set_positions(all, lo, hi, out);
	return 0;
}

static int resolve_range(const Ktstr__CpusetSpec *spec, const struct cpumap *all,
			 struct cpumap *out, const char *what, const char *topo,
			 struct kt_err *err)
{
	size_t cpus = map_count(all);
	double a = spec->start_frac, b = spec->end_frac, lo, hi;

	if (!isfinite(a) || !isfinite(b) || a < 0 || b > 1 || a >= b)
		return kt_errf(err, "cpuset %s: needs 0 <= start < end <= 1", what);
	/* The tolerance keeps 0.5 of 4 CPUs at 2 despite binary fractions. */
	lo = floor(a * (double)cpus + 1e-9);
	hi = ceil(b * (double)cpus - 1e-9);
	if (hi > (double)cpus)
		hi = (double)cpus;
	if (lo >= hi)
		return kt_errf(err, "cpuset %s: selects no CPU of the %s", what, topo);
	set_positions(all, (size_t)lo, (size_t)hi, out);
	return 0;
}

static int resolve_numa(const Ktstr__CpusetSpec *spec, const Ktstr__GuestTopology *t,
			struct cpumap *out, const char *what, const char *topo, struct kt_err *err)
{
	if (spec->index >= (t->numa_nodes ? t->numa_nodes : 1))
		return kt_errf(err, "cpuset %s: NUMA node %u is out of range in the %s (%u nodes)",
			       what, spec->index, topo, t->numa_nodes ? t->numa_nodes : 1);
	for (size_t i = 0; i < t->n_cpu; i++)
		if (t->cpu[i]->node == spec->index)
			map_set(out, t->cpu[i]->cpu);
	if (!map_count(out))
		return kt_errf(err, "cpuset %s: no CPU of the %s is on NUMA node %u", what, topo,
			       spec->index);
	return 0;
}

int kt_cpuset_resolve(const Ktstr__CpusetSpec *spec, const Ktstr__GuestTopology *topo,
		      uint32_t *cpus, size_t max, size_t *n, struct kt_err *err)
{
	struct cpumap all, out;
	char what[96], tdesc[256];
	int rc;

	kt_cpuset_spec_describe(spec, what, sizeof(what));
	if (!topo || !topo->n_cpu)
		return kt_errf(err, "cpuset %s: the guest topology has no CPUs", what);
	memset(&all, 0, sizeof(all));
	memset(&out, 0, sizeof(out));
	for (size_t i = 0; i < topo->n_cpu; i++) {
		if (!topo->cpu[i] || topo->cpu[i]->cpu >= KT_CPU_ID_MAX)
			return kt_errf(err, "cpuset %s: guest topology entry %zu has a bad CPU id",
				       what, i);
		map_set(&all, topo->cpu[i]->cpu);
	}
	topo_describe(topo, &all, tdesc, sizeof(tdesc));
	switch (spec ? spec->kind : KTSTR__CPUSET_KIND__CPUSET_NONE) {
	case KTSTR__CPUSET_KIND__CPUSET_NONE:
		out = all;
		rc = 0;
		break;
	case KTSTR__CPUSET_KIND__CPUSET_EXACT:
		rc = resolve_exact(spec, &all, &out, what, tdesc, err);
		break;
	case KTSTR__CPUSET_KIND__CPUSET_DISJOINT:
		rc = resolve_disjoint(spec, &all, &out, what, tdesc, err);
		break;
	case KTSTR__CPUSET_KIND__CPUSET_LLC:
		rc = resolve_llc(spec, topo, &out, what, tdesc, err);
		break;
	case KTSTR__CPUSET_KIND__CPUSET_NUMA:
		rc = resolve_numa(spec, topo, &out, what, tdesc, err);
		break;
	case KTSTR__CPUSET_KIND__CPUSET_RANGE:
		rc = resolve_range(spec, &all, &out, what, tdesc, err);
		break;
	case KTSTR__CPUSET_KIND__CPUSET_OVERLAP:
		rc = resolve_overlap(spec, &all, &out, what, tdesc, err);
		break;
	default:
		return kt_errf(err, "cpuset: unknown kind %d", (int)spec->kind);
	}
	if (rc)
		return -1;
	if (map_count(&out) > max)
		return kt_errf(err, "cpuset %s: %zu CPUs do not fit in %zu", what, map_count(&out),
			       max);
	*n = map_list(&out, cpus);
	return 0;
}

Ktstr__GuestTopology *kt_cpuset_topo_model(const struct kt_topo *t)
{
	Ktstr__GuestTopology *g = kt_xcalloc(1, sizeof(*g));
	unsigned cpus = kt_topo_cpus(t), per_llc = t->cores_per_llc * t->threads;
	unsigned llcs_per_node = t->llcs / t->nodes;

	ktstr__guest_topology__init(g);
	g->cpus = cpus;
	g->llcs = t->llcs;
	g->cores = t->llcs * t->cores_per_llc;
	g->threads_per_core = t->threads;
	g->numa_nodes = t->nodes;
	g->cpu = kt_xcalloc(cpus, sizeof(*g->cpu));
	for (unsigned i = 0; i < cpus; i++) {
		Ktstr__CpuInfo *c = kt_xcalloc(1, sizeof(*c));
		unsigned core = i / t->threads;

		ktstr__cpu_info__init(c);
		c->cpu = i;
		c->llc = i / per_llc;
		c->node = c->llc / llcs_per_node;
		c->core = core;
		c->siblings = kt_xcalloc(t->threads, sizeof(uint32_t));
		for (unsigned k = 0; k < t->threads; k++)
			c->siblings[c->n_siblings++] = core * t->threads + k;
		g->cpu[g->n_cpu++] = c;
	}
	return g;
}

/* ---- affinity ---- */

static int in_list(const uint32_t *v, size_t n, uint32_t x)
{
	return bsearch(&x, v, n, sizeof(*v), kt_cmp_u32) != NULL;
}

size_t kt_cpus_outside(const uint32_t *set, size_t n, const uint32_t *within, size_t nw,
		       uint32_t *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (!in_list(within, nw, set[i]))
			out[k++] = set[i];
	return k;
}

/* A reproducible subset: the same worker index picks the same CPUs on host
 * and guest (splitmix64 of the index drives a partial Fisher-Yates). */
static void random_subset(const uint32_t *cg, size_t n, unsigned count, unsigned worker,
			  uint32_t *out)
{
	uint32_t *v = kt_xcalloc(n, sizeof(*v));
	uint64_t x = 0x9e3779b97f4a7c15ull * (worker + 1ull);

	memcpy(v, cg, n * sizeof(*v));
	for (unsigned i = 0; i < count; i++) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ull);
		size_t j;
		uint32_t t;

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		j = i + (size_t)(z % (n - i));
		t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
	memcpy(out, v, count * sizeof(*v));
	free(v);
}

static int llc_of(const Ktstr__GuestTopology *t, uint32_t cpu, uint32_t *llc)
{
	for (size_t i = 0; i < t->n_cpu; i++)
		if (t->cpu[i]->cpu == cpu) {
			*llc = t->cpu[i]->llc;
			return 0;
		}
	return -1;
}

static size_t llc_aligned(const uint32_t *cg, size_t n, const Ktstr__GuestTopology *t,
			  unsigned worker, uint32_t *out)
{
	uint32_t *llcs = kt_xcalloc(n, sizeof(*llcs)), want;
	size_t k = 0, m;

	for (size_t i = 0; i < n; i++)
		if (!llc_of(t, cg[i], &llcs[k]))
			k++;
	k = kt_sort_uniq_u32(llcs, k);
	if (!k) {
		free(llcs);
		return 0;
	}
	want = llcs[worker % k];
	free(llcs);
	m = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t l;

		if (!llc_of(t, cg[i], &l) && l == want)
			out[m++] = cg[i];
	}
	return m;
}

int kt_affinity_resolve(const Ktstr__AffinitySpec *a, const uint32_t *cg, size_t n_cg,
			const uint32_t *cross, size_t n_cross, const Ktstr__GuestTopology *topo,
			unsigned worker, uint32_t *out, size_t max, size_t *n, struct kt_err *err)
{
	Ktstr__AffinityKind kind = a ? a->kind : KTSTR__AFFINITY_KIND__AFFINITY_INHERIT;
	size_t k = 0;

	if (!n_cg)
		return kt_errf(err, "affinity: the cgroup has no CPUs");
	switch (kind) {
	case KTSTR__AFFINITY_KIND__AFFINITY_INHERIT:
		if (n_cg > max)
			break;
		memcpy(out, cg, n_cg * sizeof(*out));
		k = n_cg;
		break;
	case KTSTR__AFFINITY_KIND__AFFINITY_RANDOM_SUBSET:
		if (a->count < 1 || a->count > n_cg)
			return kt_errf(err, "affinity random_subset of %u CPUs from a cpuset of %zu",
				       a->count, n_cg);
		if (a->count > max)
			break;
		random_subset(cg, n_cg, a->count, worker, out);
		k = a->count;
		break;
	case KTSTR__AFFINITY_KIND__AFFINITY_LLC_ALIGNED:
		if (n_cg > max)
			break;
		k = llc_aligned(cg, n_cg, topo, worker, out);
		if (!k)
			return kt_errf(err, "affinity llc_aligned: no CPU of the cpuset is in the "
				       "topology");
		break;
	case KTSTR__AFFINITY_KIND__AFFINITY_CROSS_CGROUP:
		if (n_cg + n_cross > max)
			break;
		memcpy(out, cg, n_cg * sizeof(*out));
		if (n_cross)
			memcpy(out + n_cg, cross, n_cross * sizeof(*out));
		k = n_cg + n_cross;
		break;
	case KTSTR__AFFINITY_KIND__AFFINITY_SINGLE_CPU:
		out[0] = cg[worker % n_cg];
		k = 1;
		break;
	case KTSTR__AFFINITY_KIND__AFFINITY_EXACT:
		if (!a->n_cpus)
			return kt_errf(err, "affinity exact: the CPU list is empty");
		if (a->n_cpus > max)
			break;
		for (size_t i = 0; i < a->n_cpus; i++) {
			uint32_t l;

			if (llc_of(topo, a->cpus[i], &l))
				return kt_errf(err, "affinity exact: CPU %u is not in the guest "
					       "topology", a->cpus[i]);
			out[k++] = a->cpus[i];
		}
		break;
	default:
		return kt_errf(err, "affinity: unknown kind %d", (int)kind);
	}
	if (!k)
		return kt_errf(err, "affinity: more CPUs than the %zu allowed", max);
	qsort(out, k, sizeof(*out), kt_cmp_u32);
	*n = kt_sort_uniq_u32(out, k);
	return 0;
}
