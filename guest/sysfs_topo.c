#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cpuset.h"
#include "sysfs_topo.h"
#include "util.h"

#define TEXT_MAX (16u << 10) /* largest sysfs file we accept */
#define MAX_NODE_ENTRIES 4096  /* directory entries scanned under node/ */

struct cpu_raw {
	uint32_t cpu, package, core, node, llc_key;
	int has_cache;
	uint32_t *siblings;
	size_t n_siblings;
};

struct reader {
	const char *root;
	char *text;      /* TEXT_MAX scratch */
	uint32_t *ids;   /* KT_SYSFS_MAX_CPUS scratch */
	struct cpu_raw *cpus;
	size_t n;
};

/* Read PATH into R->text. Returns 0, 1 when the file does not exist, or -1. */
static int read_text(struct reader *r, const char *path, struct kt_err *err)
{
	ssize_t got;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		return kt_errf(err, "%s: %s", path, strerror(errno));
	}
	while (len < TEXT_MAX && (got = read(fd, r->text + len, TEXT_MAX - len)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			kt_errf(err, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		len += (size_t)got;
	}
	close(fd);
	if (len == TEXT_MAX)
		return kt_errf(err, "%s: longer than %u bytes", path, TEXT_MAX);
	r->text[len] = 0;
	if (strlen(r->text) != len)
		return kt_errf(err, "%s: contains a NUL byte", path);
	return 0;
}

static int fmt_path(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fmt_path(char *buf, const char *fmt, ...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	return w < 0 || w >= PATH_MAX ? -1 : 0;
}

/* A small integer file: "-1\n" or "<digits>\n". -1 (unknown) reads as 0.
 * Returns 0, 1 when missing, -1 on error. */
static int read_id(struct reader *r, const char *path, uint32_t *out, struct kt_err *err)
{
	char *end;
	long long v;
	int rc = read_text(r, path, err);

	if (rc)
		return rc;
	errno = 0;
	v = strtoll(r->text, &end, 10);
	if (end == r->text || errno || (*end && strcmp(end, "\n")) || v < -1 || v > UINT32_MAX ||
	    (r->text[0] != '-' && (r->text[0] < '0' || r->text[0] > '9')))
		return kt_errf(err, "%s: expected a number, got '%.32s'", path, r->text);
	*out = v < 0 ? 0 : (uint32_t)v;
	return 0;
}

/* A cpulist file into R->ids. Returns 0, 1 when missing, -1 on error. */
static int read_list(struct reader *r, const char *path, size_t *n, struct kt_err *err)
{
	int rc = read_text(r, path, err);

	if (rc)
		return rc;
	if (kt_cpulist_parse(r->text, r->ids, KT_SYSFS_MAX_CPUS, n, err))
		return kt_err_prefix(err, "%s", path);
	return 0;
}

static int too_long(const char *what, struct kt_err *err)
{
	return kt_errf(err, "sysfs path for %s is too long", what);
}

static int read_online(struct reader *r, struct kt_err *err)
{
	char path[PATH_MAX];
	size_t n;
	int rc;

	if (fmt_path(path, "%s/devices/system/cpu/online", r->root))
		return too_long("cpu/online", err);
	rc = read_list(r, path, &n, err);
	if (rc > 0)
		return kt_errf(err, "%s: missing", path);
	if (rc)
		return -1;
	if (!n)
		return kt_errf(err, "%s: no online CPU", path);
	r->cpus = calloc(n, sizeof(*r->cpus));
	if (!r->cpus)
		return kt_errf(err, "out of memory for %zu CPUs", n);
	for (size_t i = 0; i < n; i++)
		r->cpus[i].cpu = r->ids[i];
	r->n = n;
	return 0;
}

static int read_cpu_topology(struct reader *r, struct cpu_raw *c, struct kt_err *err)
{
	char path[PATH_MAX];
	const char *base = "%s/devices/system/cpu/cpu%u/topology/%s";
	size_t n;
	int rc;

	if (fmt_path(path, base, r->root, c->cpu, "physical_package_id"))
		return too_long("physical_package_id", err);
	if (read_id(r, path, &c->package, err) < 0)
		return -1;
	if (fmt_path(path, base, r->root, c->cpu, "core_id"))
		return too_long("core_id", err);
	if (read_id(r, path, &c->core, err) < 0)
		return -1;
	if (fmt_path(path, base, r->root, c->cpu, "thread_siblings_list"))
		return too_long("thread_siblings_list", err);
	rc = read_list(r, path, &n, err);
	if (rc < 0)
		return -1;
	if (rc > 0 || n == 0) {
		r->ids[0] = c->cpu;
		n = 1;
	}
	c->siblings = malloc(n * sizeof(uint32_t));
	if (!c->siblings)
		return kt_errf(err, "out of memory for the siblings of CPU %u", c->cpu);
	memcpy(c->siblings, r->ids, n * sizeof(uint32_t));
	c->n_siblings = n;
	return 0;
}

/* The highest-level cache index's sharing set; its lowest CPU is the key. */
static int read_cpu_cache(struct reader *r, struct cpu_raw *c, struct kt_err *err)
{
	char path[PATH_MAX];
	const char *base = "%s/devices/system/cpu/cpu%u/cache/index%u/%s";
	uint32_t level, best_level = 0;
	int best = -1, rc;
	size_t n;

	for (unsigned k = 0; k < KT_SYSFS_MAX_CACHE_INDEX; k++) {
		if (fmt_path(path, base, r->root, c->cpu, k, "level"))
			return too_long("cache level", err);
		rc = read_id(r, path, &level, err);
		if (rc < 0)
			return -1;
		if (rc > 0)
			break;
		if (best < 0 || level > best_level) {
			best = (int)k;
			best_level = level;
		}
	}
	if (best < 0)
		return 0;
	if (fmt_path(path, base, r->root, c->cpu, (unsigned)best, "shared_cpu_list"))
		return too_long("shared_cpu_list", err);
	rc = read_list(r, path, &n, err);
	if (rc < 0)
		return -1;
	if (rc > 0)
		return kt_errf(err, "%s: missing", path);
	c->llc_key = n ? r->ids[0] : c->cpu;
	c->has_cache = 1;
	return 0;
}

static struct cpu_raw *find_cpu(struct reader *r, uint32_t cpu)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (r->cpus[mid].cpu == cpu)
			return &r->cpus[mid];
		if (r->cpus[mid].cpu < cpu)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* "node<digits>" -> id. */
static int node_id(const char *name, uint32_t *id)
{
	char *end;
	unsigned long v;

	if (strncmp(name, "node", 4) || name[4] < '0' || name[4] > '9')
		return -1;
	v = strtoul(name + 4, &end, 10);
	if (*end || v >= KT_CPU_ID_MAX)
		return -1;
	*id = (uint32_t)v;
	return 0;
}

static int read_nodes(struct reader *r, struct kt_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	unsigned seen = 0;
	int rc = 0;
	DIR *d;

	if (fmt_path(dir, "%s/devices/system/node", r->root))
		return too_long("node", err);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : kt_errf(err, "%s: %s", dir, strerror(errno));
	while (!rc && (de = readdir(d))) {
		uint32_t id;
		size_t n;

		if (++seen > MAX_NODE_ENTRIES) {
			rc = kt_errf(err, "%s: more than %d entries", dir, MAX_NODE_ENTRIES);
			break;
		}
		if (node_id(de->d_name, &id))
			continue;
		if (fmt_path(path, "%s/%s/cpulist", dir, de->d_name)) {
			rc = too_long("node cpulist", err);
			break;
		}
		rc = read_list(r, path, &n, err);
		if (rc > 0) {
			rc = 0;
			continue;
		}
		for (size_t i = 0; !rc && i < n; i++) {
			struct cpu_raw *c = find_cpu(r, r->ids[i]);

			if (c)
				c->node = id;
		}
	}
	closedir(d);
	return rc;
}

static uint32_t rank(const uint32_t *v, size_t n, uint32_t key)
{
	const uint32_t *p = bsearch(&key, v, n, sizeof(*v), kt_cmp_u32);

	return p ? (uint32_t)(p - v) : 0;
}

static int cmp_pair(const void *a, const void *b)
{
	const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Fill the totals and the dense LLC index of T from R. */
static int summarise(struct reader *r, Ktstr__GuestTopology *t, struct kt_err *err)
{
	uint32_t *keys = malloc(r->n * sizeof(uint32_t)), *nodes = malloc(r->n * sizeof(uint32_t));
	uint64_t *pairs = malloc(r->n * sizeof(uint64_t));
	size_t nkeys, nnodes, npairs = 0;
	int all_cache = 1;

	if (!keys || !nodes || !pairs) {
		free(keys);
		free(nodes);
		free(pairs);
		return kt_errf(err, "out of memory for %zu CPUs", r->n);
	}
	for (size_t i = 0; i < r->n; i++)
		all_cache &= r->cpus[i].has_cache;
	for (size_t i = 0; i < r->n; i++) {
		struct cpu_raw *c = &r->cpus[i];

		if (!all_cache)
			c->llc_key = c->package;
		keys[i] = c->llc_key;
		nodes[i] = c->node;
		pairs[npairs++] = (uint64_t)c->package << 32 | c->core;
		if (c->n_siblings > t->threads_per_core)
			t->threads_per_core = (uint32_t)c->n_siblings;
	}
	/* Keys are lowest CPUs (or package ids): their order is the LLC order. */
	nkeys = kt_sort_uniq_u32(keys, r->n);
	nnodes = kt_sort_uniq_u32(nodes, r->n);
	qsort(pairs, npairs, sizeof(*pairs), cmp_pair);
	t->cores = 0;
	for (size_t i = 0; i < npairs; i++)
		if (!i || pairs[i] != pairs[i - 1])
			t->cores++;
	for (size_t i = 0; i < r->n; i++)
		t->cpu[i]->llc = rank(keys, nkeys, r->cpus[i].llc_key);
	t->cpus = (uint32_t)r->n;
	t->llcs = (uint32_t)nkeys;
	t->numa_nodes = (uint32_t)nnodes;
	free(keys);
	free(nodes);
	free(pairs);
	return 0;
}

static int build(struct reader *r, Ktstr__GuestTopology **out, struct kt_err *err)
{
	Ktstr__GuestTopology *t = malloc(sizeof(*t));

	if (!t)
		return kt_errf(err, "out of memory for the topology");
	ktstr__guest_topology__init(t);
	t->cpu = calloc(r->n, sizeof(*t->cpu));
	if (!t->cpu) {
		free(t);
		return kt_errf(err, "out of memory for the topology");
	}
	for (size_t i = 0; i < r->n; i++) {
		Ktstr__CpuInfo *ci = malloc(sizeof(*ci));

		if (!ci) {
			ktstr__guest_topology__free_unpacked(t, NULL);
			return kt_errf(err, "out of memory for the topology");
		}
		ktstr__cpu_info__init(ci);
		t->cpu[t->n_cpu++] = ci;
		ci->cpu = r->cpus[i].cpu;
		ci->package = r->cpus[i].package;
		ci->core = r->cpus[i].core;
		ci->node = r->cpus[i].node;
		ci->siblings = r->cpus[i].siblings; /* ownership moves */
		ci->n_siblings = r->cpus[i].n_siblings;
		r->cpus[i].siblings = NULL;
	}
	if (summarise(r, t, err)) {
		ktstr__guest_topology__free_unpacked(t, NULL);
		return -1;
	}
	*out = t;
	return 0;
}

int kt_sysfs_topo_read(const char *root, Ktstr__GuestTopology **out, struct kt_err *err)
{
	struct reader r = {.root = root};
	int rc = -1;

	r.text = malloc(TEXT_MAX + 1);
	r.ids = malloc(KT_SYSFS_MAX_CPUS * sizeof(uint32_t));
	if (!r.text || !r.ids) {
		kt_errf(err, "out of memory reading the topology");
		goto out;
	}
	if (read_online(&r, err))
		goto out;
	for (size_t i = 0; i < r.n; i++)
		if (read_cpu_topology(&r, &r.cpus[i], err) || read_cpu_cache(&r, &r.cpus[i], err))
			goto out;
	if (read_nodes(&r, err))
		goto out;
	rc = build(&r, out, err);
out:
	for (size_t i = 0; i < r.n; i++)
		free(r.cpus[i].siblings);
	free(r.cpus);
	free(r.text);
	free(r.ids);
	return rc;
}
