#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "topology.h"

/* One "<number><suffix>" field. */
static int field(const char **p, char suffix, unsigned *out, const char *s, struct kt_err *err)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)**p))
		return kt_errf(err, "topology '%s': expected a number before '%c'", s, suffix);
	errno = 0;
	v = strtoul(*p, &end, 10);
	if (errno || v > KT_TOPO_MAX_CPUS)
		return kt_errf(err, "topology '%s': count before '%c' is out of range", s, suffix);
	if (*end != suffix)
		return kt_errf(err, "topology '%s': expected '%c' after %lu (form NnNlNcNt)", s, suffix, v);
	if (v == 0)
		return kt_errf(err, "topology '%s': count before '%c' must be at least 1", s, suffix);
	*out = (unsigned)v;
	*p = end + 1;
	return 0;
}

int kt_topo_parse(const char *s, struct kt_topo *t, struct kt_err *err)
{
	const char *p = s;
	struct kt_topo r;

	if (!s || !*s)
		return kt_errf(err, "topology: empty string (form NnNlNcNt, e.g. 1n1l2c1t)");
	if (field(&p, 'n', &r.nodes, s, err) || field(&p, 'l', &r.llcs, s, err) ||
	    field(&p, 'c', &r.cores_per_llc, s, err) || field(&p, 't', &r.threads, s, err))
		return -1;
	if (*p)
		return kt_errf(err, "topology '%s': trailing characters '%s'", s, p);
	if (r.llcs % r.nodes)
		return kt_errf(err, "topology '%s': %u LLCs do not divide evenly over %u NUMA nodes",
			       s, r.llcs, r.nodes);
	if ((unsigned long)r.llcs * r.cores_per_llc * r.threads > KT_TOPO_MAX_CPUS)
		return kt_errf(err, "topology '%s': %lu CPUs exceed the maximum of %d", s,
			       (unsigned long)r.llcs * r.cores_per_llc * r.threads, KT_TOPO_MAX_CPUS);
	*t = r;
	return 0;
}

unsigned kt_topo_cpus(const struct kt_topo *t)
{
	return t->llcs * t->cores_per_llc * t->threads;
}

void kt_topo_format(const struct kt_topo *t, char *buf, unsigned len)
{
	snprintf(buf, len, "%un%ul%uc%ut", t->nodes, t->llcs, t->cores_per_llc, t->threads);
}

unsigned kt_topo_default_mem_mb(const struct kt_topo *t)
{
	unsigned mb = 64 * kt_topo_cpus(t);

	return mb < 256 ? 256 : mb;
}
