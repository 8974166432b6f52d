#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gauntlet.h"
#include "matrix.h"
#include "util.h"
#include "yamlx.h"

#define MAX_ITEMS 64      /* kernels, schedulers, topologies, tests */
#define MAX_FLAGS 16
#define MAX_PROFILES 256  /* per scheduler */
#define MAX_ARGS 64       /* per argument list */
#define MAX_TAGS 16
#define MAX_SYSCTLS 32    /* per scheduler */
#define MAX_KARGS 32      /* kernel_args per scheduler */
#define SYSCTL_KEY_MAX 127
#define FLAG_NAME_MAX 31
#define LABEL_MAX 127
#define ARG_MAX 255
#define REF_MAX 255       /* kernel refs */
#define PATH_TEXT_MAX 4095
#define MAX_MEMORY_MB (1u << 20)
#define EEVDF "eevdf"
#define BUILTIN_SCX "scx-ktstr"

struct flag {
	char name[FLAG_NAME_MAX + 1];
	struct kt_strv args;
	uint32_t requires; /* mask of flags */
};

struct profile {
	char *name;
	uint32_t mask;
};

struct sched {
	char name[KT_SPEC_NAME_MAX + 1];
	char *binary; /* NULL: eevdf or the built-in scx-ktstr */
	struct kt_strv args;
	struct kt_strv sysctls;     /* "key=value", keys unique */
	struct kt_strv kernel_args;
	struct flag flags[MAX_FLAGS];
	size_t n_flags;
	struct profile *profiles;
	size_t n_profiles;
	struct kt_checks_over checks;
};

struct topo {
	char canon[32];
	struct kt_topo t;
	const char *preset; /* the gauntlet preset's name, or NULL */
};

struct test {
	char name[KT_SPEC_NAME_MAX + 1];
	char *scenario;
	bool is_file;
	unsigned long line; /* of scenario: */
	uint64_t duration_ms;
	uint32_t workers;
	uint32_t memory_mb; /* 0 = the topology's default */
	struct kt_topo_constraints cons;
	bool expect_err;
	struct kt_strv sched_args;
	struct kt_checks_over checks;
	struct kt_strv tags;
	char *accel;
	bool gauntlet;      /* topologies: the presets, not the matrix's */
	uint64_t budget_ms; /* 0 = the matrix's budget */
	unsigned long budget_line;
	struct topo *tl;    /* the topologies it runs on */
	size_t n_tl;
	uint64_t scheds; /* mask of the schedulers it runs with */
};

struct kt_matrix {
	char *file;
	char name[KT_SPEC_NAME_MAX + 1];
	int priority;
	struct kt_strv kernels;
	struct topo topos[MAX_ITEMS];
	size_t n_topos;
	struct sched *scheds;
	size_t n_scheds;
	struct test *tests;
	size_t n_tests;
	struct kt_strv files, binaries;
	struct kt_strv payloads; /* of the catalog scenarios */
	size_t n_entries;
	uint64_t budget_ms; /* 0 = none */
	unsigned long budget_line;
};

/* ---- lists and scalars ---- */

/* A list of MIN..MAX items. */
static int get_seq(struct kt_yx *c, const yaml_node_t *n, const char *path, size_t min, size_t max,
		   const char *what)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return kt_yx_expected(c, n, path, what);
	if (kt_yx_seq_len(n) < min || kt_yx_seq_len(n) > max)
		return kt_yx_err(c, n, path, "expected %zu to %zu items, got %zu", min, max,
				 kt_yx_seq_len(n));
	return 0;
}

/* An integer in -LIMIT..LIMIT. */
static int get_int(struct kt_yx *c, const yaml_node_t *n, const char *path, int limit, int *out)
{
	unsigned long v;
	bool neg = kt_yx_is_plain(n) && kt_yx_str(n)[0] == '-';
	yaml_node_t abs;

	if (!neg) {
		if (kt_yx_uint(c, n, path, 0, (unsigned long)limit, &v))
			return -1;
		*out = (int)v;
		return 0;
	}
	/* Parse the digits after '-' through kt_yx_uint, with N's line. */
	abs = *n;
	abs.data.scalar.value++;
	abs.data.scalar.length--;
	if (!kt_yx_str(&abs)[0] || kt_yx_uint(c, &abs, path, 0, (unsigned long)limit, &v)) {
		char d[64];

		return kt_yx_err(c, n, path, "%s is not an integer in -%d..%d",
				 kt_yx_describe(n, d, sizeof(d)), limit, limit);
	}
	*out = -(int)v;
	return 0;
}

/* A string of 1..MAX printable characters; with NOSPACE, no blanks. The
 * result points into the document. */
static int get_text(struct kt_yx *c, const yaml_node_t *n, const char *path, size_t max,
		    bool nospace, const char *what, const char **out)
{
	char d[64];
	size_t len;

	if (n->type != YAML_SCALAR_NODE || kt_yx_is_null(n))
		return kt_yx_expected(c, n, path, what);
	len = n->data.scalar.length;
	if (len > max)
		return kt_yx_err(c, n, path, "longer than %zu bytes", max);
	if (strlen(kt_yx_str(n)) != len || !kt_printable(kt_yx_str(n)) ||
	    (nospace && strchr(kt_yx_str(n), ' ')))
		return kt_yx_err(c, n, path, "%s: must be printable text%s",
				 kt_yx_describe(n, d, sizeof(d)), nospace ? " without spaces" : "");
	*out = kt_yx_str(n);
	return 0;
}

/* A name of kt_spec_name_problem's kind. */
static int get_name(struct kt_yx *c, const yaml_node_t *n, const char *path, char *out)
{
	const char *s, *why;
	char d[64];

	if (get_text(c, n, path, KT_SPEC_NAME_MAX, true, "a name", &s))
		return -1;
	why = kt_spec_name_problem(s, false);
	if (why)
		return kt_yx_err(c, n, path, "%s is not a valid name (%s)",
				 kt_yx_describe(n, d, sizeof(d)), why);
	strcpy(out, s);
	return 0;
}

/* A list of 0..MAX_ARGS arguments into V. */
static int get_args(struct kt_yx *c, const yaml_node_t *n, const char *path, struct kt_strv *v)
{
	char p[KT_YX_PATH_MAX];
	const char *s;

	if (get_seq(c, n, path, 0, MAX_ARGS, "a list of arguments"))
		return -1;
	for (size_t i = 0; i < kt_yx_seq_len(n); i++) {
		kt_yx_join_index(p, path, i);
		if (get_text(c, kt_yx_seq_item(c, n, i), p, ARG_MAX, false, "an argument", &s))
			return -1;
		kt_strv_add(v, s);
	}
	return 0;
}

/* "N ms", "N s" or "N m" without blanks: "500ms", "3s", "1m". */
static int get_duration(struct kt_yx *c, const yaml_node_t *n, const char *path, uint64_t *ms)
{
	static const struct {
		const char *unit;
		uint64_t mul;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 } };
	const char *s = kt_yx_is_plain(n) ? kt_yx_str(n) : "";
	size_t digits = strspn(s, "0123456789");
	uint64_t v = 0;

	for (size_t i = 0; i < digits && v <= KT_SPEC_MAX_DURATION_MS; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	for (size_t u = 0; digits && digits <= 12 && u < 3; u++) {
		if (strcmp(s + digits, units[u].unit))
			continue;
		if (v == 0 || v * units[u].mul > KT_SPEC_MAX_DURATION_MS)
			return kt_yx_err(c, n, path, "%s is out of range (1ms..24h)", s);
		*ms = v * units[u].mul;
		return 0;
	}
	return kt_yx_expected(c, n, path, "a duration such as 500ms, 3s or 1m");
}

/* ---- top level lists ---- */

static int kernels(struct kt_yx *c, const yaml_node_t *n, struct kt_matrix *m)
{
	char p[KT_YX_PATH_MAX];
	const char *s;

	if (get_seq(c, n, "kernels", 1, MAX_ITEMS, "a list of kernel refs (e.g. debian:sid)"))
		return -1;
	for (size_t i = 0; i < kt_yx_seq_len(n); i++) {
		const yaml_node_t *k = kt_yx_seq_item(c, n, i);

		kt_yx_join_index(p, "kernels", i);
		if (get_text(c, k, p, REF_MAX, true, "a kernel ref (e.g. debian:sid)", &s))
			return -1;
		for (size_t j = 0; j < m->kernels.n; j++)
			if (!strcmp(m->kernels.v[j], s))
				return kt_yx_err(c, k, p, "'%s' is already kernels[%zu]", s, j);
		kt_strv_add(&m->kernels, s);
	}
	return 0;
}

static int topologies(struct kt_yx *c, const yaml_node_t *n, struct kt_matrix *m)
{
	char p[KT_YX_PATH_MAX];
	struct kt_err e;
	const char *s;

	if (get_seq(c, n, "topologies", 1, MAX_ITEMS, "a list of topologies (e.g. 1n2l2c1t)"))
		return -1;
	for (size_t i = 0; i < kt_yx_seq_len(n); i++) {
		const yaml_node_t *t = kt_yx_seq_item(c, n, i);
		struct topo *tp = &m->topos[i];

		kt_yx_join_index(p, "topologies", i);
		if (get_text(c, t, p, 31, true, "a topology (e.g. 1n2l2c1t)", &s))
			return -1;
		if (kt_topo_parse(s, &tp->t, &e))
			return kt_yx_err(c, t, p, "%s", e.msg);
		kt_topo_format(&tp->t, tp->canon, sizeof(tp->canon));
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->topos[j].canon, tp->canon))
				return kt_yx_err(c, t, p, "%s is already topologies[%zu]",
						 tp->canon, j);
		m->n_topos++;
	}
	return 0;
}

static void add_once(struct kt_strv *v, const char *s)
{
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->v[i], s))
			return;
	kt_strv_add(v, s);
}

/* ---- schedulers, flags, profiles ---- */

static int flag_index(const struct sched *s, const char *name, size_t len)
{
	for (size_t i = 0; i < s->n_flags; i++)
		if (strlen(s->flags[i].name) == len && !strncmp(s->flags[i].name, name, len))
			return (int)i;
	return -1;
}

static int flag_name(struct kt_yx *c, const yaml_node_t *k, const char *path, struct sched *s,
		     struct flag *f)
{
	const char *name;
	char d[64];

	if (get_text(c, k, path, FLAG_NAME_MAX, true, "a flag name", &name))
		return -1;
	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
		    strlen(name) || !strcmp(name, "default"))
		return kt_yx_err(c, k, path, "%s is not a valid flag name (1 to %d of A-Z a-z 0-9 "
				 "_ -, not 'default')", kt_yx_describe(k, d, sizeof(d)),
				 FLAG_NAME_MAX);
	if (flag_index(s, name, strlen(name)) >= 0)
		return kt_yx_err(c, k, path, "flag '%s' is declared twice", name);
	strcpy(f->name, name);
	return 0;
}

/* flags.NAME: [ARGS] or {args: [ARGS], requires: [FLAGS]}; *REQ gets the
 * requires node, resolved once every flag is known. */
static int flag_value(struct kt_yx *c, const yaml_node_t *v, const char *path, struct flag *f,
		      const yaml_node_t **req)
{
	static const char *const keys[] = { "args", "requires" };
	yaml_node_t *fv[2];
	char p[KT_YX_PATH_MAX];

	*req = NULL;
	if (v->type == YAML_SEQUENCE_NODE) {
		if (!kt_yx_seq_len(v))
			return kt_yx_err(c, v, path, "a flag needs at least one argument");
		return get_args(c, v, path, &f->args);
	}
	if (v->type != YAML_MAPPING_NODE)
		return kt_yx_expected(c, v, path, "a list of arguments or {args, requires}");
	if (kt_yx_fields(c, v, path, keys, 2, fv))
		return -1;
	if (!fv[0])
		return kt_yx_missing(c, v, path, "args");
	kt_yx_join(p, path, "args");
	if (!kt_yx_seq_len(fv[0]) && fv[0]->type == YAML_SEQUENCE_NODE)
		return kt_yx_err(c, fv[0], p, "a flag needs at least one argument");
	if (get_args(c, fv[0], p, &f->args))
		return -1;
	*req = fv[1];
	return 0;
}

static int flag_requires(struct kt_yx *c, const yaml_node_t *n, const char *path, struct sched *s,
			 size_t fi)
{
	char p[KT_YX_PATH_MAX];
	const char *name;
	int j;

	if (get_seq(c, n, path, 1, MAX_FLAGS, "a list of flag names"))
		return -1;
	for (size_t i = 0; i < kt_yx_seq_len(n); i++) {
		const yaml_node_t *r = kt_yx_seq_item(c, n, i);

		kt_yx_join_index(p, path, i);
		if (get_text(c, r, p, FLAG_NAME_MAX, true, "a flag name", &name))
			return -1;
		j = flag_index(s, name, strlen(name));
		if (j < 0)
			return kt_yx_err(c, r, p, "'%s' is not a flag of %s", name, s->name);
		if ((size_t)j == fi)
			return kt_yx_err(c, r, p, "flag '%s' cannot require itself", name);
		s->flags[fi].requires |= 1u << j;
	}
	return 0;
}

static int flags(struct kt_yx *c, const yaml_node_t *n, const char *path, struct sched *s)
{
	const yaml_node_t *req[MAX_FLAGS];
	char p[KT_YX_PATH_MAX], rp[KT_YX_PATH_MAX];
	yaml_node_pair_t *pair;

	if (n->type != YAML_MAPPING_NODE)
		return kt_yx_expected(c, n, path, "a mapping of flags {NAME: [ARGS], ...}");
	if (n->data.mapping.pairs.top - n->data.mapping.pairs.start > MAX_FLAGS)
		return kt_yx_err(c, n, path, "more than %d flags", MAX_FLAGS);
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		const yaml_node_t *k = kt_yx_node(c, pair->key);
		struct flag *f = &s->flags[s->n_flags];

		if (flag_name(c, k, path, s, f))
			return -1;
		s->n_flags++;
		kt_yx_join(p, path, f->name);
		if (flag_value(c, kt_yx_node(c, pair->value), p, f, &req[s->n_flags - 1]))
			return -1;
	}
	for (size_t i = 0; i < s->n_flags; i++) {
		if (!req[i])
			continue;
		kt_yx_join(p, path, s->flags[i].name);
		kt_yx_join(rp, p, "requires");
		if (flag_requires(c, req[i], rp, s, i))
			return -1;
	}
	return 0;
}

/* The first flag of MASK whose requirements MASK lacks, or -1. */
static int unmet(const struct sched *s, uint32_t mask)
{
	for (size_t i = 0; i < s->n_flags; i++)
		if ((mask >> i & 1) && (s->flags[i].requires & ~mask))
			return (int)i;
	return -1;
}

static char *profile_name(const struct sched *s, uint32_t mask)
{
	char buf[MAX_FLAGS * (FLAG_NAME_MAX + 1) + 1] = "";

	if (!mask)
		return kt_xstrdup("default");
	for (size_t i = 0; i < s->n_flags; i++)
		if (mask >> i & 1)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
				 *buf ? "+" : "", s->flags[i].name);
	return kt_xstrdup(buf);
}

static void add_profile(struct sched *s, uint32_t mask)
{
	s->profiles[s->n_profiles].mask = mask;
	s->profiles[s->n_profiles++].name = profile_name(s, mask);
}

/* "default" or "a+b" over declared flags into *MASK. */
static int profile_mask(struct kt_yx *c, const yaml_node_t *n, const char *path,
			const struct sched *s, uint32_t *mask)
{
	const char *text, *p;
	int f;

	if (get_text(c, n, path, sizeof(((struct flag *)0)->name) * MAX_FLAGS, true,
		     "a profile (default or FLAG+FLAG)", &text))
		return -1;
	*mask = 0;
	if (!strcmp(text, "default"))
		return 0;
	for (p = text;; p++) {
		size_t len = strcspn(p, "+");

		f = flag_index(s, p, len);
		if (f < 0)
			return kt_yx_err(c, n, path, "'%.*s' is not a flag of %s (profiles are "
					 "default or declared flags joined by '+')", (int)len, p,
					 s->name);
		if (*mask >> f & 1)
			return kt_yx_err(c, n, path, "flag '%s' appears twice", s->flags[f].name);
		*mask |= 1u << f;
		p += len;
		if (!*p)
			break;
	}
	f = unmet(s, *mask);
	if (f >= 0) {
		uint32_t need = s->flags[f].requires & ~*mask;

		return kt_yx_err(c, n, path, "flag '%s' requires '%s' (flags.%s.requires)",
				 s->flags[f].name, s->flags[__builtin_ctz(need)].name,
				 s->flags[f].name);
	}
	return 0;
}

static int listed_profiles(struct kt_yx *c, const yaml_node_t *n, const char *path, struct sched *s)
{
	char p[KT_YX_PATH_MAX];
	uint32_t mask;

	if (get_seq(c, n, path, 1, MAX_PROFILES, "a list of profiles"))
		return -1;
	s->profiles = kt_xcalloc(kt_yx_seq_len(n), sizeof(*s->profiles));
	for (size_t i = 0; i < kt_yx_seq_len(n); i++) {
		const yaml_node_t *item = kt_yx_seq_item(c, n, i);

		kt_yx_join_index(p, path, i);
		if (profile_mask(c, item, p, s, &mask))
			return -1;
		for (size_t j = 0; j < s->n_profiles; j++)
			if (s->profiles[j].mask == mask)
				return kt_yx_err(c, item, p, "the same profile as profiles[%zu] "
						 "(%s)", j, s->profiles[j].name);
		add_profile(s, mask);
	}
	return 0;
}

static int cmp_mask(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	int ca = __builtin_popcount(a), cb = __builtin_popcount(b);

	if (ca != cb)
		return ca - cb;
	return a < b ? -1 : a > b;
}

/* The power set of the flags, filtered by requires: fewer flags first. */
static int all_profiles(struct kt_yx *c, const yaml_node_t *at, const char *path, struct sched *s)
{
	uint32_t *masks, n = 0, total = 1u << s->n_flags;

	masks = kt_xcalloc(total, sizeof(*masks));
	for (uint32_t m = 0; m < total; m++)
		if (unmet(s, m) < 0)
			masks[n++] = m;
	if (n > MAX_PROFILES) {
		free(masks);
		return kt_yx_err(c, at, path, "%zu flags make %u profiles, more than %d: list the "
				 "ones to run in profiles:", s->n_flags, n, MAX_PROFILES);
	}
	qsort(masks, n, sizeof(*masks), cmp_mask);
	s->profiles = kt_xcalloc(n, sizeof(*s->profiles));
	for (uint32_t i = 0; i < n; i++)
		add_profile(s, masks[i]);
	free(masks);
	return 0;
}

static int sched_binary(struct kt_yx *c, const yaml_node_t *v, const char *path, struct sched *s,
			struct kt_matrix *m)
{
	const char *bin;

	if (get_text(c, v, path, PATH_TEXT_MAX, false, "a path to the scheduler binary", &bin))
		return -1;
	s->binary = kt_xstrdup(bin);
	add_once(&m->binaries, bin);
	return 0;
}

/* sysctls: {KEY: VALUE}: KEY as under /proc/sys, dotted or slashed
 * (kernel.sched_rt_runtime_us), VALUE a scalar; stored "KEY=VALUE". */
static int sysctls(struct kt_yx *c, const yaml_node_t *n, const char *path, struct sched *s)
{
	char p[KT_YX_PATH_MAX], d[64];
	yaml_node_pair_t *pair;
	const char *key, *val;

	if (n->type != YAML_MAPPING_NODE)
		return kt_yx_expected(c, n, path, "a mapping of sysctls {KEY: VALUE, ...}");
	if (n->data.mapping.pairs.top - n->data.mapping.pairs.start > MAX_SYSCTLS)
		return kt_yx_err(c, n, path, "more than %d sysctls", MAX_SYSCTLS);
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		const yaml_node_t *k = kt_yx_node(c, pair->key);

		if (get_text(c, k, path, SYSCTL_KEY_MAX, true, "a sysctl name", &key))
			return -1;
		/* A key names a file under /proc/sys: no way out of it. */
		if (strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/") !=
			    strlen(key) || key[0] == '.' || key[0] == '/' || strstr(key, "..") ||
		    strstr(key, "//") || strstr(key, "/.") || strstr(key, "./"))
			return kt_yx_err(c, k, path, "%s is not a sysctl name (such as "
					 "kernel.sched_rt_runtime_us)", kt_yx_describe(k, d, sizeof(d)));
		kt_yx_join(p, path, key);
		for (size_t i = 0; i < s->sysctls.n; i++)
			if (!strncmp(s->sysctls.v[i], key, strlen(key)) &&
			    s->sysctls.v[i][strlen(key)] == '=')
				return kt_yx_err(c, k, p, "sysctl '%s' is given twice", key);
		if (get_text(c, kt_yx_node(c, pair->value), p, ARG_MAX, false, "a sysctl value",
			     &val))
			return -1;
		kt_strv_addf(&s->sysctls, "%s=%s", key, val);
	}
	return 0;
}

/* kernel_args: [ARGS]: words for the guest's command line. */
static int kernel_args(struct kt_yx *c, const yaml_node_t *n, const char *path, struct sched *s)
{
	char p[KT_YX_PATH_MAX], d[64];
	const char *a;

	if (get_seq(c, n, path, 0, MAX_KARGS, "a list of kernel arguments"))
		return -1;
	for (size_t i = 0; i < kt_yx_seq_len(n); i++) {
		const yaml_node_t *item = kt_yx_seq_item(c, n, i);

		kt_yx_join_index(p, path, i);
		if (get_text(c, item, p, ARG_MAX, true, "a kernel argument", &a))
			return -1;
		if (strchr(a, '"'))
			return kt_yx_err(c, item, p, "%s: a kernel argument cannot hold '\"'",
					 kt_yx_describe(item, d, sizeof(d)));
		kt_strv_add(&s->kernel_args, a);
	}
	return 0;
}

enum { S_NAME, S_BINARY, S_ARGS, S_FLAGS, S_PROFILES, S_CHECKS, S_SYSCTLS, S_KARGS, S_N };

static int scheduler(struct kt_yx *c, const yaml_node_t *n, const char *path, struct sched *s,
		     struct kt_matrix *m)
{
	static const char *const keys[S_N] = { "name", "binary", "args", "flags", "profiles",
					       "checks", "sysctls", "kernel_args" };
	yaml_node_t *v[S_N];
	char p[KT_YX_PATH_MAX];

	if (kt_yx_fields(c, n, path, keys, S_N, v))
		return -1;
	if (!v[S_NAME])
		return kt_yx_missing(c, n, path, "name");
	kt_yx_join(p, path, "name");
	if (get_name(c, v[S_NAME], p, s->name))
		return -1;
	kt_yx_join(p, path, "checks");
	if (v[S_CHECKS] && kt_checks_yaml(c, v[S_CHECKS], p, &s->checks))
		return -1;
	if (!strcmp(s->name, EEVDF)) {
		/* sysctls and kernel_args travel with the scheduler under
		 * test (kt_entry_sched), which eevdf is not. */
		for (size_t i = S_BINARY; i < S_N; i++) {
			kt_yx_join(p, path, keys[i]);
			if (v[i] && i != S_CHECKS)
				return kt_yx_err(c, v[i], p, "eevdf is the kernel's own scheduler: "
						 "it takes no binary, args, flags, profiles, sysctls "
						 "or kernel_args");
		}
		s->profiles = kt_xcalloc(1, sizeof(*s->profiles));
		add_profile(s, 0);
		return 0;
	}
	kt_yx_join(p, path, "sysctls");
	if (v[S_SYSCTLS] && sysctls(c, v[S_SYSCTLS], p, s))
		return -1;
	kt_yx_join(p, path, "kernel_args");
	if (v[S_KARGS] && kernel_args(c, v[S_KARGS], p, s))
		return -1;
	kt_yx_join(p, path, "binary");
	if (v[S_BINARY] && sched_binary(c, v[S_BINARY], p, s, m))
		return -1;
	if (!v[S_BINARY] && strcmp(s->name, BUILTIN_SCX))
		return kt_yx_err(c, n, p, "missing: a scheduler other than eevdf and the built-in "
				 BUILTIN_SCX " needs its binary");
	kt_yx_join(p, path, "args");
	if (v[S_ARGS] && get_args(c, v[S_ARGS], p, &s->args))
		return -1;
	kt_yx_join(p, path, "flags");
	if (v[S_FLAGS] && flags(c, v[S_FLAGS], p, s))
		return -1;
	if (v[S_PROFILES]) {
		kt_yx_join(p, path, "profiles");
		return listed_profiles(c, v[S_PROFILES], p, s);
	}
	return all_profiles(c, v[S_FLAGS] ? v[S_FLAGS] : n, p, s);
}

static int schedulers(struct kt_yx *c, const yaml_node_t *n, struct kt_matrix *m)
{
	char p[KT_YX_PATH_MAX], np[KT_YX_PATH_MAX];

	if (get_seq(c, n, "schedulers", 1, MAX_ITEMS, "a list of schedulers"))
		return -1;
	m->scheds = kt_xcalloc(kt_yx_seq_len(n), sizeof(*m->scheds));
	for (size_t i = 0; i < kt_yx_seq_len(n); i++) {
		const yaml_node_t *sn = kt_yx_seq_item(c, n, i);
		struct sched *s = &m->scheds[i];

		kt_yx_join_index(p, "schedulers", i);
		m->n_scheds++;
		if (scheduler(c, sn, p, s, m))
			return -1;
		kt_yx_join(np, p, "name");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->scheds[j].name, s->name))
				return kt_yx_err(c, sn, np, "'%s' is already schedulers[%zu]",
						 s->name, j);
	}
	return 0;
}

/* The default when schedulers: is absent: the kernel's own. */
static void default_schedulers(struct kt_matrix *m)
{
	m->scheds = kt_xcalloc(1, sizeof(*m->scheds));
	strcpy(m->scheds[0].name, EEVDF);
	m->scheds[0].profiles = kt_xcalloc(1, sizeof(*m->scheds[0].profiles));
	add_profile(&m->scheds[0], 0);
	m->n_scheds = 1;
}

/* ---- tests ---- */

static bool scenario_is_file(const char *s)
{
	size_t n = strlen(s);

	return strchr(s, '/') || (n > 5 && !strcmp(s + n - 5, ".yaml")) ||
	       (n > 4 && !strcmp(s + n - 4, ".yml"));
}

static int constraints(struct kt_yx *c, const yaml_node_t *n, const char *path,
		       struct kt_topo_constraints *k)
{
	static const char *const keys[] = { "min_llcs", "max_llcs", "min_cpus", "max_cpus",
					    "min_numa_nodes", "max_numa_nodes", "requires_smt" };
	uint32_t *vals[] = { &k->min_llcs, &k->max_llcs, &k->min_cpus, &k->max_cpus,
			     &k->min_nodes, &k->max_nodes };
	yaml_node_t *v[7];
	char p[KT_YX_PATH_MAX];

	if (kt_yx_fields(c, n, path, keys, 7, v))
		return -1;
	for (size_t i = 0; i < 6; i++) {
		kt_yx_join(p, path, keys[i]);
		if (v[i] && kt_yx_u32(c, v[i], p, 1, KT_TOPO_MAX_CPUS, vals[i]))
			return -1;
		/* max after min: a max below its min matches nothing. */
		if (i % 2 && *vals[i] && *vals[i] < *vals[i - 1])
			return kt_yx_err(c, v[i], p, "%u is below %s (%u)", *vals[i], keys[i - 1],
					 *vals[i - 1]);
	}
	kt_yx_join(p, path, "requires_smt");
	return v[6] ? kt_yx_bool(c, v[6], p, &k->requires_smt) : 0;
}

static int tags(struct kt_yx *c, const yaml_node_t *n, const char *path, struct kt_strv *v)
{
	char p[KT_YX_PATH_MAX], d[64];
	const char *s;

	if (get_seq(c, n, path, 1, MAX_TAGS, "a list of worker tags"))
		return -1;
	for (size_t i = 0; i < kt_yx_seq_len(n); i++) {
		const yaml_node_t *t = kt_yx_seq_item(c, n, i);

		kt_yx_join_index(p, path, i);
		if (get_text(c, t, p, KT_SPEC_NAME_MAX, true, "a tag", &s))
			return -1;
		if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") !=
		    strlen(s))
			return kt_yx_err(c, t, p, "%s is not a valid tag (A-Z a-z 0-9 _ . : -)",
					 kt_yx_describe(t, d, sizeof(d)));
		for (size_t j = 0; j < v->n; j++)
			if (!strcmp(v->v[j], s))
				return kt_yx_err(c, t, p, "'%s' is listed twice", s);
		kt_strv_add(v, s);
	}
	return 0;
}

/* The test's name when it gives none: the scenario's, or a file's base
 * name without .yaml/.yml. */
static int default_name(struct kt_yx *c, const yaml_node_t *sn, const char *path,
			const char *scenario, struct test *t)
{
	const char *base = strrchr(scenario, '/') ? strrchr(scenario, '/') + 1 : scenario;
	size_t len = strlen(base), ext = 0;
	char name[KT_SPEC_NAME_MAX + 8];
	const char *why;

	if (t->is_file)
		ext = len >= 5 && !strcmp(base + len - 5, ".yaml") ? 5 :
		      len >= 4 && !strcmp(base + len - 4, ".yml") ? 4 : 0;
	snprintf(name, sizeof(name), "%.*s", (int)(len - ext), base);
	why = len - ext > KT_SPEC_NAME_MAX ? "too long" : kt_spec_name_problem(name, false);
	if (why)
		return kt_yx_err(c, sn, path, "'%s' does not make a test name (%s): give the test "
				 "a name:", name, why);
	strcpy(t->name, name);
	return 0;
}

/* Whether scenario S can run as test T on each of its topologies. */
static int check_scenario(const struct test *t, const struct kt_scenario *s, struct kt_err *err)
{
	uint8_t *buf = NULL;
	size_t len;

	for (size_t i = 0; i < t->n_tl; i++)
		if (kt_scenario_fits(s, &t->tl[i].t, err)) {
			if (t->tl[i].preset)
				return kt_err_prefix(err, "test '%s', gauntlet preset %s (narrow its "
						     "constraints)", t->name, t->tl[i].preset);
			return kt_err_prefix(err, "test '%s' (narrow its constraints)", t->name);
		}
	if (kt_scenario_entry_spec(s, t->duration_ms, t->workers, 0, &buf, &len, err))
		return kt_err_prefix(err, "test '%s'", t->name);
	free(buf);
	return 0;
}

/* Record the scenario TEXT of test T. A catalog scenario (S, parsed) is
 * checked now and freed; a file waits for kt_matrix_check_file. */
static int test_scenario(struct kt_yx *c, const yaml_node_t *v, const char *path,
			 struct kt_matrix *m, struct test *t, const char *text,
			 struct kt_scenario *s)
{
	struct kt_err e;
	int rc;

	t->scenario = kt_xstrdup(text);
	t->line = kt_yx_line(v);
	if (t->is_file) {
		add_once(&m->files, text);
		return 0;
	}
	rc = check_scenario(t, s, &e);
	for (const char *const *b = kt_scenario_payload_bins(s); !rc && *b; b++)
		add_once(&m->payloads, *b);
	kt_scenario_free(s);
	return rc ? kt_yx_err(c, v, path, "%s", e.msg) : 0;
}

/* The gauntlet presets T's constraints allow, in preset order. */
static int gauntlet_topologies(struct kt_yx *c, const yaml_node_t *at, const char *path,
			       struct test *t)
{
	t->tl = kt_xcalloc(kt_gauntlet_n_presets, sizeof(*t->tl));
	for (size_t i = 0; i < kt_gauntlet_n_presets; i++) {
		struct topo *tp = &t->tl[t->n_tl];
		struct kt_err e;

		if (kt_topo_parse(kt_gauntlet_presets[i].topology, &tp->t, &e))
			return kt_yx_err(c, at, path, "gauntlet preset %s: %s",
					 kt_gauntlet_presets[i].name, e.msg);
		if (!kt_topo_constraints_match(&t->cons, &tp->t))
			continue;
		kt_topo_format(&tp->t, tp->canon, sizeof(tp->canon));
		tp->preset = kt_gauntlet_presets[i].name;
		t->n_tl++;
	}
	if (!t->n_tl)
		return kt_yx_err(c, at, path, "test '%s': its constraints allow none of the %zu "
				 "gauntlet presets (%s, %s ... %s)", t->name, kt_gauntlet_n_presets,
				 kt_gauntlet_presets[0].name, kt_gauntlet_presets[1].name,
				 kt_gauntlet_presets[kt_gauntlet_n_presets - 1].name);
	return 0;
}

/* The topologies test T runs on: the matrix's its constraints allow, or
 * with gauntlet: the presets. */
static int test_topologies(struct kt_yx *c, const yaml_node_t *at, const char *path,
			   struct kt_matrix *m, struct test *t)
{
	char list[MAX_ITEMS * 12] = "";

	if (t->gauntlet)
		return gauntlet_topologies(c, at, path, t);
	if (!m->n_topos)
		return kt_yx_err(c, at, path, "test '%s' runs on the matrix's topologies, and it "
				 "names none: add topologies: or give the test gauntlet: true",
				 t->name);
	t->tl = kt_xcalloc(m->n_topos, sizeof(*t->tl));
	for (size_t i = 0; i < m->n_topos; i++) {
		if (kt_topo_constraints_match(&t->cons, &m->topos[i].t))
			t->tl[t->n_tl++] = m->topos[i];
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 m->topos[i].canon);
	}
	if (!t->n_tl)
		return kt_yx_err(c, at, path, "test '%s' matches none of the topologies (%s)",
				 t->name, list);
	return 0;
}

/* schedulers: [NAMES] of a test: a subset of the matrix's. */
static int test_schedulers(struct kt_yx *c, const yaml_node_t *n, const char *path,
			   const struct kt_matrix *m, struct test *t)
{
	char p[KT_YX_PATH_MAX];
	const char *name;
	size_t j;

	if (get_seq(c, n, path, 1, MAX_ITEMS, "a list of scheduler names"))
		return -1;
	for (size_t i = 0; i < kt_yx_seq_len(n); i++) {
		const yaml_node_t *item = kt_yx_seq_item(c, n, i);

		kt_yx_join_index(p, path, i);
		if (get_text(c, item, p, KT_SPEC_NAME_MAX, true, "a scheduler name", &name))
			return -1;
		for (j = 0; j < m->n_scheds && strcmp(m->scheds[j].name, name); j++)
			;
		if (j == m->n_scheds)
			return kt_yx_err(c, item, p, "'%s' is not one of the matrix's schedulers",
					 name);
		if (t->scheds >> j & 1)
			return kt_yx_err(c, item, p, "'%s' is listed twice", name);
		t->scheds |= 1ull << j;
	}
	return 0;
}

/* expect_err flips a scheduler failure into a pass: eevdf has none. */
static int check_expect_err(struct kt_yx *c, const yaml_node_t *at, const char *path,
			    const struct kt_matrix *m, const struct test *t)
{
	for (size_t j = 0; t->expect_err && j < m->n_scheds; j++)
		if ((t->scheds >> j & 1) && !strcmp(m->scheds[j].name, EEVDF))
			return kt_yx_err(c, at, path, "expect_err needs a sched_ext scheduler, and "
					 "the test also runs with eevdf: limit it with "
					 "schedulers:");
	return 0;
}

enum { T_SCENARIO, T_NAME, T_DURATION, T_WORKERS, T_MEMORY, T_CONSTRAINTS, T_EXPECT_ERR,
       T_SCHED_ARGS, T_CHECKS, T_TAGS, T_ACCEL, T_SCHEDULERS, T_GAUNTLET, T_BUDGET, T_N };

static int test_options(struct kt_yx *c, yaml_node_t *v[], const char *path,
			const struct kt_matrix *m, struct test *t)
{
	static const char *const accels[] = { "kvm", "tcg" };
	char p[KT_YX_PATH_MAX];
	const char *a;

	kt_yx_join(p, path, "duration");
	if (v[T_DURATION] && get_duration(c, v[T_DURATION], p, &t->duration_ms))
		return -1;
	kt_yx_join(p, path, "gauntlet");
	if (v[T_GAUNTLET] && kt_yx_bool(c, v[T_GAUNTLET], p, &t->gauntlet))
		return -1;
	kt_yx_join(p, path, "budget");
	if (v[T_BUDGET] && get_duration(c, v[T_BUDGET], p, &t->budget_ms))
		return -1;
	t->budget_line = v[T_BUDGET] ? kt_yx_line(v[T_BUDGET]) : 0;
	kt_yx_join(p, path, "workers");
	if (v[T_WORKERS] && kt_yx_u32(c, v[T_WORKERS], p, 1, KT_SPEC_MAX_WORKERS, &t->workers))
		return -1;
	kt_yx_join(p, path, "memory_mb");
	if (v[T_MEMORY] && kt_yx_u32(c, v[T_MEMORY], p, 64, MAX_MEMORY_MB, &t->memory_mb))
		return -1;
	kt_yx_join(p, path, "constraints");
	if (v[T_CONSTRAINTS] && constraints(c, v[T_CONSTRAINTS], p, &t->cons))
		return -1;
	kt_yx_join(p, path, "schedulers");
	if (v[T_SCHEDULERS] && test_schedulers(c, v[T_SCHEDULERS], p, m, t))
		return -1;
	if (!v[T_SCHEDULERS])
		t->scheds = m->n_scheds == 64 ? ~0ull : (1ull << m->n_scheds) - 1;
	kt_yx_join(p, path, "expect_err");
	if (v[T_EXPECT_ERR] && (kt_yx_bool(c, v[T_EXPECT_ERR], p, &t->expect_err) ||
				check_expect_err(c, v[T_EXPECT_ERR], p, m, t)))
		return -1;
	kt_yx_join(p, path, "sched_args");
	if (v[T_SCHED_ARGS] && get_args(c, v[T_SCHED_ARGS], p, &t->sched_args))
		return -1;
	kt_yx_join(p, path, "checks");
	if (v[T_CHECKS] && kt_checks_yaml(c, v[T_CHECKS], p, &t->checks))
		return -1;
	kt_yx_join(p, path, "tags");
	if (v[T_TAGS] && tags(c, v[T_TAGS], p, &t->tags))
		return -1;
	if (!v[T_ACCEL])
		return 0;
	kt_yx_join(p, path, "accel");
	if (get_text(c, v[T_ACCEL], p, 8, true, "kvm or tcg", &a))
		return -1;
	if (strcmp(a, accels[0]) && strcmp(a, accels[1]))
		return kt_yx_expected(c, v[T_ACCEL], p, "kvm or tcg");
	t->accel = kt_xstrdup(a);
	return 0;
}

static int test(struct kt_yx *c, const yaml_node_t *n, const char *path, struct kt_matrix *m,
		struct test *t)
{
	static const char *const keys[T_N] = { "scenario", "name", "duration", "workers",
					       "memory_mb", "constraints", "expect_err",
					       "sched_args", "checks", "tags", "accel",
					       "schedulers", "gauntlet", "budget" };
	char p[KT_YX_PATH_MAX], np[KT_YX_PATH_MAX];
	struct kt_scenario *sc = NULL;
	const char *scenario;
	yaml_node_t *v[T_N];
	struct kt_err e;

	if (kt_yx_fields(c, n, path, keys, T_N, v))
		return -1;
	if (!v[T_SCENARIO])
		return kt_yx_missing(c, n, path, "scenario");
	t->duration_ms = KT_MATRIX_DEFAULT_DURATION_MS;
	t->workers = KT_MATRIX_DEFAULT_WORKERS;
	if (test_options(c, v, path, m, t))
		return -1;
	kt_yx_join(p, path, "scenario");
	if (get_text(c, v[T_SCENARIO], p, PATH_TEXT_MAX, false, "a scenario (catalog name or file)",
		     &scenario))
		return -1;
	t->is_file = scenario_is_file(scenario);
	if (!t->is_file && kt_scenario_load(scenario, &sc, &e))
		return kt_yx_err(c, v[T_SCENARIO], p, "%s", e.msg);
	kt_yx_join(np, path, "name");
	if (v[T_NAME] ? get_name(c, v[T_NAME], np, t->name) :
			default_name(c, v[T_SCENARIO], p, scenario, t))
		goto fail;
	kt_yx_join(np, path, "constraints");
	if (test_topologies(c, v[T_CONSTRAINTS] ? v[T_CONSTRAINTS] : n, np, m, t))
		goto fail;
	return test_scenario(c, v[T_SCENARIO], p, m, t, scenario, sc);
fail:
	kt_scenario_free(sc);
	return -1;
}

static int tests(struct kt_yx *c, const yaml_node_t *n, struct kt_matrix *m)
{
	char p[KT_YX_PATH_MAX], np[KT_YX_PATH_MAX];

	if (get_seq(c, n, "tests", 1, MAX_ITEMS, "a list of tests"))
		return -1;
	m->tests = kt_xcalloc(kt_yx_seq_len(n), sizeof(*m->tests));
	for (size_t i = 0; i < kt_yx_seq_len(n); i++) {
		const yaml_node_t *tn = kt_yx_seq_item(c, n, i);
		struct test *t = &m->tests[i];

		kt_yx_join_index(p, "tests", i);
		m->n_tests++;
		if (test(c, tn, p, m, t))
			return -1;
		kt_yx_join(np, p, "name");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->tests[j].name, t->name))
				return kt_yx_err(c, tn, np, "'%s' is already the name of "
						 "tests[%zu] (entry names must be unique: give one "
						 "a name:)", t->name, j);
	}
	return 0;
}

/* Entries = kernels x the tests' topologies x their schedulers' profiles,
 * before any budget leaves some out. */
static int count_entries(struct kt_yx *c, const yaml_node_t *at, struct kt_matrix *m)
{
	size_t combos = 0;

	for (size_t i = 0; i < m->n_tests; i++) {
		size_t profiles = 0;

		for (size_t j = 0; j < m->n_scheds; j++)
			if (m->tests[i].scheds >> j & 1)
				profiles += m->scheds[j].n_profiles;
		combos += m->tests[i].n_tl * profiles;
	}
	m->n_entries = m->kernels.n * combos;
	if (m->n_entries > KT_MATRIX_MAX_ENTRIES)
		return kt_yx_err(c, at, "tests", "the matrix expands to %zu entries (%zu kernels x "
				 "%zu test, topology and profile combinations), more than %d",
				 m->n_entries, m->kernels.n, combos, KT_MATRIX_MAX_ENTRIES);
	return 0;
}

static int root(struct kt_yx *c, const yaml_node_t *n, struct kt_matrix *m)
{
	static const char *const keys[] = { "name", "priority", "kernels", "schedulers",
					     "topologies", "tests", "budget" };
	yaml_node_t *v[7];

	if (kt_yx_fields(c, n, "", keys, 7, v))
		return -1;
	if (!v[0])
		return kt_yx_missing(c, n, "", "name");
	if (!v[2])
		return kt_yx_missing(c, n, "", "kernels");
	if (!v[5])
		return kt_yx_missing(c, n, "", "tests");
	if (get_name(c, v[0], "name", m->name) ||
	    (v[1] && get_int(c, v[1], "priority", 1000, &m->priority)) ||
	    kernels(c, v[2], m) || (v[4] && topologies(c, v[4], m)) ||
	    (v[6] && get_duration(c, v[6], "budget", &m->budget_ms)))
		return -1;
	m->budget_line = v[6] ? kt_yx_line(v[6]) : 0;
	if (v[3] ? schedulers(c, v[3], m) : (default_schedulers(m), 0))
		return -1;
	return tests(c, v[5], m) || count_entries(c, v[5], m) ? -1 : 0;
}

/* ---- entry points ---- */

void kt_matrix_free(struct kt_matrix *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_scheds; i++) {
		struct sched *s = &m->scheds[i];

		free(s->binary);
		kt_strv_free(&s->args);
		kt_strv_free(&s->sysctls);
		kt_strv_free(&s->kernel_args);
		for (size_t j = 0; j < s->n_flags; j++)
			kt_strv_free(&s->flags[j].args);
		for (size_t j = 0; j < s->n_profiles; j++)
			free(s->profiles[j].name);
		free(s->profiles);
	}
	for (size_t i = 0; i < m->n_tests; i++) {
		struct test *t = &m->tests[i];

		free(t->scenario);
		free(t->accel);
		free(t->tl);
		kt_strv_free(&t->sched_args);
		kt_strv_free(&t->tags);
	}
	free(m->scheds);
	free(m->tests);
	kt_strv_free(&m->kernels);
	kt_strv_free(&m->files);
	kt_strv_free(&m->binaries);
	kt_strv_free(&m->payloads);
	free(m->file);
	free(m);
}

int kt_matrix_parse(const char *yaml, size_t len, const char *filename, struct kt_matrix **out,
		    struct kt_err *err)
{
	static const struct kt_yx_kind kind = { "matrix", "name, kernels, topologies and tests",
						KT_MATRIX_MAX_BYTES };
	struct kt_matrix *m;
	struct kt_yx *c;

	*out = NULL;
	if (kt_yx_open(yaml, len, filename ? filename : "<matrix>", &kind, &c, err))
		return -1;
	m = kt_xcalloc(1, sizeof(*m));
	m->file = kt_xstrdup(kt_yx_file(c));
	if (root(c, kt_yx_root(c), m)) {
		kt_matrix_free(m);
		m = NULL;
	}
	kt_yx_close(c);
	*out = m;
	return m ? 0 : -1;
}

const char *kt_matrix_name(const struct kt_matrix *m)
{
	return m->name;
}

int kt_matrix_priority(const struct kt_matrix *m)
{
	return m->priority;
}

size_t kt_matrix_n_kernels(const struct kt_matrix *m)
{
	return m->kernels.n;
}

const char *kt_matrix_kernel(const struct kt_matrix *m, size_t i)
{
	return i < m->kernels.n ? m->kernels.v[i] : NULL;
}

size_t kt_matrix_n_files(const struct kt_matrix *m)
{
	return m->files.n;
}

const char *kt_matrix_file(const struct kt_matrix *m, size_t i)
{
	return i < m->files.n ? m->files.v[i] : NULL;
}

size_t kt_matrix_n_binaries(const struct kt_matrix *m)
{
	return m->binaries.n;
}

const char *kt_matrix_binary(const struct kt_matrix *m, size_t i)
{
	return i < m->binaries.n ? m->binaries.v[i] : NULL;
}

size_t kt_matrix_n_payloads(const struct kt_matrix *m)
{
	return m->payloads.n;
}

const char *kt_matrix_payload(const struct kt_matrix *m, size_t i)
{
	return i < m->payloads.n ? m->payloads.v[i] : NULL;
}

size_t kt_matrix_n_entries(const struct kt_matrix *m)
{
	return m->n_entries;
}

int kt_matrix_check_file(const struct kt_matrix *m, const char *file,
			 const struct kt_scenario *s, struct kt_err *err)
{
	bool named = false;

	for (size_t i = 0; i < m->n_tests; i++) {
		const struct test *t = &m->tests[i];

		if (!t->is_file || strcmp(t->scenario, file))
			continue;
		named = true;
		if (check_scenario(t, s, err))
			return kt_err_prefix(err, "%s:%lu: tests[%zu].scenario", m->file, t->line, i);
	}
	if (!named)
		return kt_errf(err, "%s: no test names the scenario file '%.200s'", m->file, file);
	return 0;
}

/* ---- expansion ---- */

static const char *label_of(const struct kt_matrix *m, const struct kt_matrix_kernel_info *ki,
			    size_t i)
{
	return ki && ki[i].label ? ki[i].label : m->kernels.v[i];
}

/* Labels go into entry names: one path component, printable, distinct. */
static int check_labels(const struct kt_matrix *m, const struct kt_matrix_kernel_info *ki,
			struct kt_err *err)
{
	for (size_t i = 0; i < m->kernels.n; i++) {
		const char *l = label_of(m, ki, i);
		size_t len = strlen(l);

		if (!len || len > LABEL_MAX || !kt_printable(l) || strchr(l, '/') || strchr(l, ' '))
			return kt_errf(err, "%s: kernels[%zu] '%.64s': label '%.200s' cannot go into "
				       "entry names (1 to %d printable characters, no '/' or space)",
				       m->file, i, m->kernels.v[i], l, LABEL_MAX);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(label_of(m, ki, j), l))
				return kt_errf(err, "%s: kernels[%zu] '%.64s' and kernels[%zu] '%.64s' "
					       "are the same kernel (%s): entry names would clash",
					       m->file, j, m->kernels.v[j], i, m->kernels.v[i], l);
	}
	return 0;
}

static void strv_copy(struct kt_strv *dst, const struct kt_strv *src)
{
	for (size_t i = 0; i < src->n; i++)
		kt_strv_add(dst, src->v[i]);
}

static void fill_entry(const struct kt_matrix *m, const struct kt_matrix_kernel_info *ki,
		       const struct test *t, const struct topo *tp, const struct sched *s,
		       const struct profile *pr, size_t k, struct kt_entry_def *d)
{
	const char *label = label_of(m, ki, k);
	bool scx = strcmp(s->name, EEVDF);

	d->name = kt_xasprintf("%s/%s/%s:%s/%s", t->name, tp->canon, s->name, pr->name, label);
	d->test = kt_xstrdup(t->name);
	d->scenario = kt_xstrdup(t->scenario);
	d->scenario_is_file = t->is_file;
	d->kernel_idx = k;
	d->topology = kt_xstrdup(tp->canon);
	d->topo = tp->t;
	d->preset = tp->preset;
	d->scheduler = kt_xstrdup(s->name);
	d->binary = s->binary ? kt_xstrdup(s->binary) : NULL;
	d->profile = kt_xstrdup(pr->name);
	strv_copy(&d->args, &s->args);
	for (size_t f = 0; f < s->n_flags; f++)
		if (pr->mask >> f & 1)
			strv_copy(&d->args, &s->flags[f].args);
	if (scx)
		strv_copy(&d->args, &t->sched_args);
	strv_copy(&d->sysctls, &s->sysctls);
	strv_copy(&d->kernel_args, &s->kernel_args);
	d->duration_ms = t->duration_ms;
	d->workers = t->workers;
	/* scenario < scheduler < test: the worker applies these to the scenario's. */
	d->checks = s->checks;
	kt_checks_over_merge(&d->checks, &t->checks);
	d->expect_err = t->expect_err;
	d->vcpus = kt_topo_cpus(&tp->t);
	d->memory_mb = t->memory_mb ? t->memory_mb : kt_topo_default_mem_mb(&tp->t);
	d->need_accel = t->accel ? kt_xstrdup(t->accel) : NULL;
	strv_copy(&d->tags, &t->tags);
	if (scx && ki && ki[k].has_sched_ext == 0)
		d->skip_reason = kt_xasprintf("%s needs sched_ext; kernel %s has none", s->name, label);
	else
		d->skip_reason = kt_xstrdup("");
}

/* One combination of a test: topology TOPO of its list, scheduler SCHED,
 * profile PROF; RUN once a budget kept it (or none applies). */
struct combo {
	size_t test, topo, sched, prof;
	bool run;
};

/* The combinations of M in entry-name order (kernels aside). */
static struct combo *combos_of(const struct kt_matrix *m, size_t *n)
{
	struct combo *cb = kt_xcalloc(m->n_entries / (m->kernels.n ? m->kernels.n : 1) + 1,
				      sizeof(*cb));
	size_t k = 0;

	for (size_t ti = 0; ti < m->n_tests; ti++) {
		const struct test *t = &m->tests[ti];

		for (size_t pi = 0; pi < t->n_tl; pi++)
			for (size_t si = 0; si < m->n_scheds; si++)
				for (size_t fi = 0; (t->scheds >> si & 1) &&
						    fi < m->scheds[si].n_profiles; fi++)
					cb[k++] = (struct combo){ ti, pi, si, fi, true };
	}
	*n = k;
	return cb;
}

/* Feature ids of a combination (kt_gauntlet_item): the topology's classes,
 * then per scheduler its presence, its default profile and each flag. */
enum { FEAT_SCHED = 32, FEAT_DEFAULT = 128, FEAT_FLAG = 256 };

static void add_feature(struct kt_gauntlet_item *it, uint32_t id)
{
	if (it->n_features < KT_GAUNTLET_MAX_ITEM_FEATURES)
		it->features[it->n_features++] = id;
}

/* The kernels an entry of scheduler S really runs on: a sched_ext
 * scheduler's entries on a kernel without it are recorded skip, unrun. */
static size_t runs_on(const struct kt_matrix *m, const struct kt_matrix_kernel_info *ki,
		      const struct sched *s)
{
	size_t n = 0;

	for (size_t k = 0; k < m->kernels.n; k++)
		n += !(strcmp(s->name, EEVDF) && ki && ki[k].has_sched_ext == 0);
	return n;
}

static void item_of(const struct kt_matrix *m, const struct kt_matrix_kernel_info *ki,
		    const struct combo *cb, const struct kt_cost_sample *s, size_t ns,
		    struct kt_gauntlet_item *it, struct kt_matrix_budget_report *rep)
{
	const struct test *t = &m->tests[cb->test];
	const struct kt_topo *tp = &t->tl[cb->topo].t;
	uint32_t mask = m->scheds[cb->sched].profiles[cb->prof].mask;
	uint32_t tf = kt_gauntlet_topo_features(tp);
	size_t kernels = runs_on(m, ki, &m->scheds[cb->sched]);
	enum kt_cost_source src;

	memset(it, 0, sizeof(*it));
	/* Skipped entries cost nothing to speak of (1 ms: costs are > 0). */
	it->cost_ms = kernels ? kt_gauntlet_cost(s, ns, tp, t->accel, t->duration_ms, &src) *
				(double)kernels : 1;
	if (!kernels)
		src = KT_COST_MODEL;
	rep->cost_sources[src]++;
	it->group = (uint32_t)cb->test;
	for (uint32_t f = 0; f < KT_GF_TOPO_N; f++)
		if (tf >> f & 1)
			add_feature(it, f);
	add_feature(it, FEAT_SCHED + (uint32_t)cb->sched);
	if (!mask)
		add_feature(it, FEAT_DEFAULT + (uint32_t)cb->sched);
	for (uint32_t f = 0; f < MAX_FLAGS; f++)
		if (mask >> f & 1)
			add_feature(it, FEAT_FLAG + (uint32_t)cb->sched * MAX_FLAGS + f);
}

/* Apply one budget to the combinations IDX[0..K) of CB. */
static void choose(const struct kt_matrix *m, const struct kt_matrix_kernel_info *ki,
		   struct combo *cb, const size_t *idx, size_t k, uint64_t budget_ms,
		   const struct kt_cost_sample *s, size_t ns, struct kt_matrix_budget_report *rep)
{
	struct kt_gauntlet_item *items = kt_xcalloc(k + 1, sizeof(*items));
	bool *chosen = kt_xcalloc(k + 1, sizeof(*chosen));
	struct kt_gauntlet_choice ch;

	for (size_t j = 0; j < k; j++)
		item_of(m, ki, &cb[idx[j]], s, ns, &items[j], rep);
	kt_gauntlet_select(items, k, (double)budget_ms, chosen, &ch);
	for (size_t j = 0; j < k; j++)
		cb[idx[j]].run = chosen[j];
	rep->planned_ms += ch.cost_ms;
	rep->features += ch.features;
	rep->covered += ch.covered;
	free(items);
	free(chosen);
}

/* A test a budget left without entries is an error: no run should drop
 * a test unseen. */
static int check_kept(const struct kt_matrix *m, const struct combo *cb, size_t nc,
		      struct kt_err *err)
{
	for (size_t ti = 0; ti < m->n_tests; ti++) {
		const struct test *t = &m->tests[ti];
		bool kept = false;

		for (size_t j = 0; j < nc && !kept; j++)
			kept = cb[j].test == ti && cb[j].run;
		if (kept)
			continue;
		if (t->budget_ms)
			return kt_errf(err, "%s:%lu: tests[%zu].budget: %llu ms is less than any "
				       "entry of test '%s' costs", m->file, t->budget_line, ti,
				       (unsigned long long)t->budget_ms, t->name);
		return kt_errf(err, "%s:%lu: budget: %llu ms leaves test '%s' without entries "
			       "(raise it, or give the test its own budget)", m->file,
			       m->budget_line, (unsigned long long)m->budget_ms, t->name);
	}
	return 0;
}

/* Budgets: each test's own alone, the matrix's over all other tests
 * together. */
static int apply_budgets(const struct kt_matrix *m, const struct kt_matrix_kernel_info *ki,
			 struct combo *cb, size_t nc, const struct kt_cost_sample *s, size_t ns,
			 struct kt_matrix_budget_report *rep, struct kt_err *err)
{
	size_t *idx = kt_xcalloc(nc + 1, sizeof(*idx)), k;

	for (size_t ti = 0; ti < m->n_tests; ti++) {
		if (!m->tests[ti].budget_ms)
			continue;
		k = 0;
		for (size_t j = 0; j < nc; j++)
			if (cb[j].test == ti)
				idx[k++] = j;
		choose(m, ki, cb, idx, k, m->tests[ti].budget_ms, s, ns, rep);
	}
	k = 0;
	for (size_t j = 0; m->budget_ms && j < nc; j++)
		if (!m->tests[cb[j].test].budget_ms)
			idx[k++] = j;
	if (k)
		choose(m, ki, cb, idx, k, m->budget_ms, s, ns, rep);
	free(idx);
	return check_kept(m, cb, nc, err);
}

bool kt_matrix_has_budget(const struct kt_matrix *m)
{
	for (size_t i = 0; i < m->n_tests; i++)
		if (m->tests[i].budget_ms)
			return true;
	return m->budget_ms != 0;
}

int kt_matrix_expand_budget(const struct kt_matrix *m, const struct kt_matrix_kernel_info *kinfo,
			    const struct kt_cost_sample *samples, size_t n_samples,
			    struct kt_matrix_budget_report *rep, struct kt_entry_def **out,
			    size_t *n, struct kt_err *err)
{
	struct kt_matrix_budget_report r = {0};
	struct kt_entry_def *d;
	struct combo *cb;
	size_t nc, i = 0;

	*out = NULL;
	*n = 0;
	if (check_labels(m, kinfo, err))
		return -1;
	cb = combos_of(m, &nc);
	if (kt_matrix_has_budget(m) &&
	    apply_budgets(m, kinfo, cb, nc, samples, n_samples, &r, err)) {
		free(cb);
		return -1;
	}
	d = kt_xcalloc(m->n_entries + 1, sizeof(*d));
	for (size_t j = 0; j < nc; j++) {
		const struct test *t = &m->tests[cb[j].test];
		const struct sched *s = &m->scheds[cb[j].sched];

		if (!cb[j].run)
			continue;
		for (size_t k = 0; k < m->kernels.n; k++)
			fill_entry(m, kinfo, t, &t->tl[cb[j].topo], s, &s->profiles[cb[j].prof], k,
				   &d[i++]);
	}
	free(cb);
	r.candidates = m->n_entries;
	r.entries = i;
	r.left_out = m->n_entries - i;
	if (rep)
		*rep = r;
	*out = d;
	*n = i;
	return 0;
}

int kt_matrix_expand(const struct kt_matrix *m, const struct kt_matrix_kernel_info *kinfo,
		     struct kt_entry_def **out, size_t *n, struct kt_err *err)
{
	return kt_matrix_expand_budget(m, kinfo, NULL, 0, NULL, out, n, err);
}

void kt_entry_defs_free(struct kt_entry_def *d, size_t n)
{
	for (size_t i = 0; d && i < n; i++) {
		free(d[i].name);
		free(d[i].test);
		free(d[i].scenario);
		free(d[i].topology);
		free(d[i].scheduler);
		free(d[i].binary);
		free(d[i].profile);
		kt_strv_free(&d[i].args);
		kt_strv_free(&d[i].sysctls);
		kt_strv_free(&d[i].kernel_args);
		free(d[i].need_accel);
		kt_strv_free(&d[i].tags);
		free(d[i].skip_reason);
	}
	free(d);
}
