#include <stdio.h>
#include <string.h>
#include "cpuset.h"

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

static int resolve_disjoint(const Ktstr__CpusetSpec *spec, const struct cpumap *all,
			    struct cpumap *out, const char *what, const char *topo,
			    struct kt_err *err)
{
	size_t cpus = map_count(all), base, rem, small, start, size, k = 0;

	if (spec->of == 0)
		return kt_errf(err, "cpuset %s: 'of' must be at least 1", what);
	if (spec->index >= spec->of)
		return kt_errf(err, "cpuset %s: index must be below 'of'", what);
	if (spec->of > cpus)
		return kt_errf(err, "cpuset %s: %u slices of the %s would leave some empty", what,
			       spec->of, topo);
	base = cpus / spec->of;
	rem = cpus % spec->of;
	small = spec->of - rem; /* slices 0..small-1 get base CPUs, the rest base+1 */
	if (spec->index < small) {
		start = spec->index * base;
		size = base;
	} else {
		start = small * base + (spec->index - small) * (base + 1);
		size = base + 1;
	}
	for (uint32_t c = 0; c < KT_CPU_ID_MAX && k < start + size; c++) {
		if (!map_test(all, c))
			continue;
		if (k >= start)
			map_set(out, c);
		k++;
	}
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
