#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "matrix.h"
#include "util.h"

#define MAX_ITEMS 64      /* kernels, schedulers, topologies, tests */
#define MAX_FLAGS 16
#define MAX_PROFILES 256  /* per scheduler */
#define MAX_ARGS 64       /* per argument list */
#define MAX_TAGS 16
#define FLAG_NAME_MAX 31
#define LABEL_MAX 127
#define ARG_MAX 255
#define REF_MAX 255       /* kernel refs */
#define PATH_TEXT_MAX 4095
#define PATH_MAX_LEN 160
#define MAX_FIELDS 16
#define MAX_GAP_MS 3600000.0
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
	struct flag flags[MAX_FLAGS];
	size_t n_flags;
	struct profile *profiles;
	size_t n_profiles;
};

struct topo {
	char canon[32];
	struct kt_topo t;
};

struct constraints {
	unsigned min_llcs, max_llcs, min_cpus, max_cpus, min_nodes, max_nodes; /* 0 = none */
	bool requires_smt;
};

struct test {
	char name[KT_SPEC_NAME_MAX + 1];
	char *scenario;
	bool is_file;
	unsigned long line; /* of scenario: */
	uint64_t duration_ms;
	unsigned workers;
	unsigned memory_mb; /* 0 = the topology's default */
	struct constraints cons;
	bool expect_err;
	struct kt_strv sched_args;
	struct kt_check_overrides checks;
	struct kt_strv tags;
	char *accel;
	uint64_t topos; /* mask of the topologies it runs on */
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
	size_t n_entries;
};

/* ---- parse context and error helpers (the style of common/scenario.c) ---- */

struct pctx {
	const char *file;
	yaml_document_t *doc;
	struct kt_err *err;
};

static unsigned long line_of(const yaml_node_t *n)
{
	return (unsigned long)n->start_mark.line + 1;
}

/* "FILE:LINE: PATH: message" */
static int __attribute__((format(printf, 4, 5)))
perr(struct pctx *c, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
	char msg[KT_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kt_errf(c->err, "%s:%lu: %s%s%s", c->file, line_of(n), path, *path ? ": " : "", msg);
}

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_plain(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (!is_plain(n))
		return false;
	v = sval(n);
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

static const char *describe(const yaml_node_t *n, char *buf, size_t len)
{
	char v[48];

	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (is_null(n))
		return "nothing (null)";
	kt_printable_copy(sval(n), n->data.scalar.length, v, sizeof(v));
	snprintf(buf, len, is_plain(n) ? "'%s'" : "the quoted string '%s'", v);
	return buf;
}

static int expected(struct pctx *c, const yaml_node_t *n, const char *path, const char *what)
{
	char d[64];

	return perr(c, n, path, "expected %s, got %s", what, describe(n, d, sizeof(d)));
}

static void cut(char *buf, int n)
{
	if (n >= PATH_MAX_LEN)
		memcpy(buf + PATH_MAX_LEN - 4, "...", 4);
}

static void join(char *buf, const char *path, const char *key)
{
	cut(buf, snprintf(buf, PATH_MAX_LEN, "%s%s%s", path, *path ? "." : "", key));
}

static void join_index(char *buf, const char *path, size_t i)
{
	cut(buf, snprintf(buf, PATH_MAX_LEN, "%s[%zu]", path, i));
}

static yaml_node_t *node(struct pctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

static size_t seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *seq_item(struct pctx *c, const yaml_node_t *n, size_t i)
{
	return node(c, n->data.sequence.items.start[i]);
}

/* Split mapping N into the values of KEYS (VALS[i] NULL when absent).
 * Keys must be scalars, known, and appear once. */
static int fields(struct pctx *c, const yaml_node_t *n, const char *path, const char *const keys[],
		  size_t nkeys, yaml_node_t *vals[])
{
	yaml_node_t *seen[MAX_FIELDS] = { 0 };
	char p[PATH_MAX_LEN], list[256] = "", k[48];
	yaml_node_pair_t *pair;
	size_t i;

	if (n->type != YAML_MAPPING_NODE)
		return expected(c, n, path, "a mapping");
	for (i = 0; i < nkeys; i++) {
		vals[i] = NULL;
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 keys[i]);
	}
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = node(c, pair->key);

		if (key->type != YAML_SCALAR_NODE)
			return perr(c, key, path, "keys must be plain names, got %s",
				    key->type == YAML_MAPPING_NODE ? "a mapping" : "a list");
		for (i = 0; i < nkeys; i++)
			if (!strcmp(sval(key), keys[i]) && strlen(keys[i]) == key->data.scalar.length)
				break;
		kt_printable_copy(sval(key), key->data.scalar.length, k, sizeof(k));
		join(p, path, k);
		if (i == nkeys)
			return perr(c, key, p, "unknown key (expected %s)", list);
		if (seen[i])
			return perr(c, key, p, "duplicate key (first at line %lu)", line_of(seen[i]));
		seen[i] = key;
		vals[i] = node(c, pair->value);
	}
	return 0;
}

static int missing(struct pctx *c, const yaml_node_t *parent, const char *path, const char *key)
{
	char p[PATH_MAX_LEN];

	join(p, path, key);
	return perr(c, parent, p, "missing (required)");
}

/* A list of MIN..MAX items. */
static int get_seq(struct pctx *c, const yaml_node_t *n, const char *path, size_t min, size_t max,
		   const char *what)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return expected(c, n, path, what);
	if (seq_len(n) < min || seq_len(n) > max)
		return perr(c, n, path, "expected %zu to %zu items, got %zu", min, max, seq_len(n));
	return 0;
}

/* ---- scalars ---- */

static int get_uint(struct pctx *c, const yaml_node_t *n, const char *path, unsigned long min,
		    unsigned long max, unsigned long *out)
{
	const char *s;
	unsigned long v = 0;
	bool neg;

	if (!is_plain(n) || is_null(n))
		return expected(c, n, path, "an integer");
	s = sval(n);
	neg = *s == '-';
	s += neg;
	if (!*s || strspn(s, "0123456789") != strlen(s))
		return expected(c, n, path, "an integer");
	for (; *s; s++)
		if (v <= max) /* past max it stays past max, without overflow */
			v = v * 10 + (unsigned long)(*s - '0');
	if ((neg && v) || v < min || v > max) {
		char d[64];

		return perr(c, n, path, "%s is out of range (%lu..%lu)", describe(n, d, sizeof(d)),
			    min, max);
	}
	*out = v;
	return 0;
}

static int get_unsigned(struct pctx *c, const yaml_node_t *n, const char *path, unsigned min,
			unsigned max, unsigned *out)
{
	unsigned long v;

	if (get_uint(c, n, path, min, max, &v))
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* An integer in -LIMIT..LIMIT. */
static int get_int(struct pctx *c, const yaml_node_t *n, const char *path, int limit, int *out)
{
	unsigned long v;
	bool neg = is_plain(n) && sval(n)[0] == '-';
	yaml_node_t abs;

	if (!neg)
		return get_unsigned(c, n, path, 0, (unsigned)limit, (unsigned *)out);
	/* Parse the digits after '-' through get_uint, with N's line. */
	abs = *n;
	abs.data.scalar.value++;
	abs.data.scalar.length--;
	if (!sval(&abs)[0] || get_uint(c, &abs, path, 0, (unsigned long)limit, &v)) {
		char d[64];

		return perr(c, n, path, "%s is not an integer in -%d..%d",
			    describe(n, d, sizeof(d)), limit, limit);
	}
	*out = -(int)v;
	return 0;
}

static int get_double(struct pctx *c, const yaml_node_t *n, const char *path, double min,
		      double max, double *out)
{
	const char *s;
	char *end;
	double v;

	if (!is_plain(n) || is_null(n))
		return expected(c, n, path, "a number");
	s = sval(n);
	if (strspn(s, "0123456789.eE+-") != strlen(s))
		return expected(c, n, path, "a number");
	v = strtod(s, &end);
	if (*end || end == s || !(v >= min && v <= max)) /* also rejects NaN */
		return perr(c, n, path, "%.40s is not a number in [%g, %g]", s, min, max);
	*out = v;
	return 0;
}

static int get_bool(struct pctx *c, const yaml_node_t *n, const char *path, bool *out)
{
	static const char *const t[] = { "true", "True", "TRUE" };
	static const char *const f[] = { "false", "False", "FALSE" };

	for (size_t i = 0; is_plain(n) && i < 3; i++) {
		if (!strcmp(sval(n), t[i]) || !strcmp(sval(n), f[i])) {
			*out = !strcmp(sval(n), t[i]);
			return 0;
		}
	}
	return expected(c, n, path, "true or false");
}

/* A string of 1..MAX printable characters; with NOSPACE, no blanks. The
 * result points into the document. */
static int get_text(struct pctx *c, const yaml_node_t *n, const char *path, size_t max,
		    bool nospace, const char *what, const char **out)
{
	char d[64];
	size_t len;

	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return expected(c, n, path, what);
	len = n->data.scalar.length;
	if (len > max)
		return perr(c, n, path, "longer than %zu bytes", max);
	if (strlen(sval(n)) != len || !kt_printable(sval(n)) ||
	    (nospace && strchr(sval(n), ' ')))
		return perr(c, n, path, "%s: must be printable text%s", describe(n, d, sizeof(d)),
			    nospace ? " without spaces" : "");
	*out = sval(n);
	return 0;
}

/* A name of kt_spec_name_problem's kind. */
static int get_name(struct pctx *c, const yaml_node_t *n, const char *path, char *out)
{
	const char *s, *why;
	char d[64];

	if (get_text(c, n, path, KT_SPEC_NAME_MAX, true, "a name", &s))
		return -1;
	why = kt_spec_name_problem(s, false);
	if (why)
		return perr(c, n, path, "%s is not a valid name (%s)", describe(n, d, sizeof(d)), why);
	strcpy(out, s);
	return 0;
}

/* A list of 0..MAX_ARGS arguments into V. */
static int get_args(struct pctx *c, const yaml_node_t *n, const char *path, struct kt_strv *v)
{
	char p[PATH_MAX_LEN];
	const char *s;

	if (get_seq(c, n, path, 0, MAX_ARGS, "a list of arguments"))
		return -1;
	for (size_t i = 0; i < seq_len(n); i++) {
		join_index(p, path, i);
		if (get_text(c, seq_item(c, n, i), p, ARG_MAX, false, "an argument", &s))
			return -1;
		kt_strv_add(v, s);
	}
	return 0;
}

/* "N ms", "N s" or "N m" without blanks: "500ms", "3s", "1m". */
static int get_duration(struct pctx *c, const yaml_node_t *n, const char *path, uint64_t *ms)
{
	static const struct {
		const char *unit;
		uint64_t mul;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 } };
	const char *s = is_plain(n) ? sval(n) : "";
	size_t digits = strspn(s, "0123456789");
	uint64_t v = 0;

	for (size_t i = 0; i < digits && v <= KT_SPEC_MAX_DURATION_MS; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	for (size_t u = 0; digits && digits <= 12 && u < 3; u++) {
		if (strcmp(s + digits, units[u].unit))
			continue;
		if (v == 0 || v * units[u].mul > KT_SPEC_MAX_DURATION_MS)
			return perr(c, n, path, "%s is out of range (1ms..24h)", s);
		*ms = v * units[u].mul;
		return 0;
	}
	return expected(c, n, path, "a duration such as 500ms, 3s or 1m");
}

/* ---- top level lists ---- */

static int kernels(struct pctx *c, const yaml_node_t *n, struct kt_matrix *m)
{
	char p[PATH_MAX_LEN];
	const char *s;

	if (get_seq(c, n, "kernels", 1, MAX_ITEMS, "a list of kernel refs (e.g. debian:sid)"))
		return -1;
	for (size_t i = 0; i < seq_len(n); i++) {
		const yaml_node_t *k = seq_item(c, n, i);

		join_index(p, "kernels", i);
		if (get_text(c, k, p, REF_MAX, true, "a kernel ref (e.g. debian:sid)", &s))
			return -1;
		for (size_t j = 0; j < m->kernels.n; j++)
			if (!strcmp(m->kernels.v[j], s))
				return perr(c, k, p, "'%s' is already kernels[%zu]", s, j);
		kt_strv_add(&m->kernels, s);
	}
	return 0;
}

static int topologies(struct pctx *c, const yaml_node_t *n, struct kt_matrix *m)
{
	char p[PATH_MAX_LEN];
	struct kt_err e;
	const char *s;

	if (get_seq(c, n, "topologies", 1, MAX_ITEMS, "a list of topologies (e.g. 1n2l2c1t)"))
		return -1;
	for (size_t i = 0; i < seq_len(n); i++) {
		const yaml_node_t *t = seq_item(c, n, i);
		struct topo *tp = &m->topos[i];

		join_index(p, "topologies", i);
		if (get_text(c, t, p, 31, true, "a topology (e.g. 1n2l2c1t)", &s))
			return -1;
		if (kt_topo_parse(s, &tp->t, &e))
			return perr(c, t, p, "%s", e.msg);
		kt_topo_format(&tp->t, tp->canon, sizeof(tp->canon));
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->topos[j].canon, tp->canon))
				return perr(c, t, p, "%s is already topologies[%zu]", tp->canon, j);
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

static int flag_name(struct pctx *c, const yaml_node_t *k, const char *path, struct sched *s,
		     struct flag *f)
{
	const char *name;
	char d[64];

	if (get_text(c, k, path, FLAG_NAME_MAX, true, "a flag name", &name))
		return -1;
	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
		    strlen(name) || !strcmp(name, "default"))
		return perr(c, k, path, "%s is not a valid flag name (1 to %d of A-Z a-z 0-9 _ -, "
			    "not 'default')", describe(k, d, sizeof(d)), FLAG_NAME_MAX);
	if (flag_index(s, name, strlen(name)) >= 0)
		return perr(c, k, path, "flag '%s' is declared twice", name);
	strcpy(f->name, name);
	return 0;
}

/* flags.NAME: [ARGS] or {args: [ARGS], requires: [FLAGS]}; *REQ gets the
 * requires node, resolved once every flag is known. */
static int flag_value(struct pctx *c, const yaml_node_t *v, const char *path, struct flag *f,
		      const yaml_node_t **req)
{
	static const char *const keys[] = { "args", "requires" };
	yaml_node_t *fv[2];
	char p[PATH_MAX_LEN];

	*req = NULL;
	if (v->type == YAML_SEQUENCE_NODE) {
		if (!seq_len(v))
			return perr(c, v, path, "a flag needs at least one argument");
		return get_args(c, v, path, &f->args);
	}
	if (v->type != YAML_MAPPING_NODE)
		return expected(c, v, path, "a list of arguments or {args, requires}");
	if (fields(c, v, path, keys, 2, fv))
		return -1;
	if (!fv[0])
		return missing(c, v, path, "args");
	join(p, path, "args");
	if (!seq_len(fv[0]) && fv[0]->type == YAML_SEQUENCE_NODE)
		return perr(c, fv[0], p, "a flag needs at least one argument");
	if (get_args(c, fv[0], p, &f->args))
		return -1;
	*req = fv[1];
	return 0;
}

static int flag_requires(struct pctx *c, const yaml_node_t *n, const char *path, struct sched *s,
			 size_t fi)
{
	char p[PATH_MAX_LEN];
	const char *name;
	int j;

	if (get_seq(c, n, path, 1, MAX_FLAGS, "a list of flag names"))
		return -1;
	for (size_t i = 0; i < seq_len(n); i++) {
		const yaml_node_t *r = seq_item(c, n, i);

		join_index(p, path, i);
		if (get_text(c, r, p, FLAG_NAME_MAX, true, "a flag name", &name))
			return -1;
		j = flag_index(s, name, strlen(name));
		if (j < 0)
			return perr(c, r, p, "'%s' is not a flag of %s", name, s->name);
		if ((size_t)j == fi)
			return perr(c, r, p, "flag '%s' cannot require itself", name);
		s->flags[fi].requires |= 1u << j;
	}
	return 0;
}

static int flags(struct pctx *c, const yaml_node_t *n, const char *path, struct sched *s)
{
	const yaml_node_t *req[MAX_FLAGS];
	char p[PATH_MAX_LEN], rp[PATH_MAX_LEN];
	yaml_node_pair_t *pair;

	if (n->type != YAML_MAPPING_NODE)
		return expected(c, n, path, "a mapping of flags {NAME: [ARGS], ...}");
	if (n->data.mapping.pairs.top - n->data.mapping.pairs.start > MAX_FLAGS)
		return perr(c, n, path, "more than %d flags", MAX_FLAGS);
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		const yaml_node_t *k = node(c, pair->key);
		struct flag *f = &s->flags[s->n_flags];

		if (flag_name(c, k, path, s, f))
			return -1;
		s->n_flags++;
		join(p, path, f->name);
		if (flag_value(c, node(c, pair->value), p, f, &req[s->n_flags - 1]))
			return -1;
	}
	for (size_t i = 0; i < s->n_flags; i++) {
		if (!req[i])
			continue;
		join(p, path, s->flags[i].name);
		join(rp, p, "requires");
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
static int profile_mask(struct pctx *c, const yaml_node_t *n, const char *path,
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
			return perr(c, n, path, "'%.*s' is not a flag of %s (profiles are default or "
				    "declared flags joined by '+')", (int)len, p, s->name);
		if (*mask >> f & 1)
			return perr(c, n, path, "flag '%s' appears twice", s->flags[f].name);
		*mask |= 1u << f;
		p += len;
		if (!*p)
			break;
	}
	f = unmet(s, *mask);
	if (f >= 0) {
		uint32_t need = s->flags[f].requires & ~*mask;

		return perr(c, n, path, "flag '%s' requires '%s' (flags.%s.requires)",
			    s->flags[f].name, s->flags[__builtin_ctz(need)].name, s->flags[f].name);
	}
	return 0;
}

static int listed_profiles(struct pctx *c, const yaml_node_t *n, const char *path, struct sched *s)
{
	char p[PATH_MAX_LEN];
	uint32_t mask;

	if (get_seq(c, n, path, 1, MAX_PROFILES, "a list of profiles"))
		return -1;
	s->profiles = kt_xcalloc(seq_len(n), sizeof(*s->profiles));
	for (size_t i = 0; i < seq_len(n); i++) {
		const yaml_node_t *item = seq_item(c, n, i);

		join_index(p, path, i);
		if (profile_mask(c, item, p, s, &mask))
			return -1;
		for (size_t j = 0; j < s->n_profiles; j++)
			if (s->profiles[j].mask == mask)
				return perr(c, item, p, "the same profile as profiles[%zu] (%s)", j,
					    s->profiles[j].name);
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
static int all_profiles(struct pctx *c, const yaml_node_t *at, const char *path, struct sched *s)
{
	uint32_t *masks, n = 0, total = 1u << s->n_flags;

	masks = kt_xcalloc(total, sizeof(*masks));
	for (uint32_t m = 0; m < total; m++)
		if (unmet(s, m) < 0)
			masks[n++] = m;
	if (n > MAX_PROFILES) {
		free(masks);
		return perr(c, at, path, "%zu flags make %u profiles, more than %d: list the ones "
			    "to run in profiles:", s->n_flags, n, MAX_PROFILES);
	}
	qsort(masks, n, sizeof(*masks), cmp_mask);
	s->profiles = kt_xcalloc(n, sizeof(*s->profiles));
	for (uint32_t i = 0; i < n; i++)
		add_profile(s, masks[i]);
	free(masks);
	return 0;
}

static int sched_binary(struct pctx *c, const yaml_node_t *v, const char *path, struct sched *s,
			struct kt_matrix *m)
{
	const char *bin;

	if (get_text(c, v, path, PATH_TEXT_MAX, false, "a path to the scheduler binary", &bin))
		return -1;
	s->binary = kt_xstrdup(bin);
	add_once(&m->binaries, bin);
	return 0;
}

static int scheduler(struct pctx *c, const yaml_node_t *n, const char *path, struct sched *s,
		     struct kt_matrix *m)
{
	static const char *const keys[] = { "name", "binary", "args", "flags", "profiles" };
	yaml_node_t *v[5];
	char p[PATH_MAX_LEN];

	if (fields(c, n, path, keys, 5, v))
		return -1;
	if (!v[0])
		return missing(c, n, path, "name");
	join(p, path, "name");
	if (get_name(c, v[0], p, s->name))
		return -1;
	if (!strcmp(s->name, EEVDF)) {
		for (size_t i = 1; i < 5; i++) {
			join(p, path, keys[i]);
			if (v[i])
				return perr(c, v[i], p, "eevdf is the kernel's own scheduler: it takes "
					    "no binary, args, flags or profiles");
		}
		s->profiles = kt_xcalloc(1, sizeof(*s->profiles));
		add_profile(s, 0);
		return 0;
	}
	join(p, path, "binary");
	if (v[1] && sched_binary(c, v[1], p, s, m))
		return -1;
	if (!v[1] && strcmp(s->name, BUILTIN_SCX))
		return perr(c, n, p, "missing: a scheduler other than eevdf and the built-in "
			    BUILTIN_SCX " needs its binary");
	join(p, path, "args");
	if (v[2] && get_args(c, v[2], p, &s->args))
		return -1;
	join(p, path, "flags");
	if (v[3] && flags(c, v[3], p, s))
		return -1;
	if (v[4]) {
		join(p, path, "profiles");
		return listed_profiles(c, v[4], p, s);
	}
	return all_profiles(c, v[3] ? v[3] : n, p, s);
}

static int schedulers(struct pctx *c, const yaml_node_t *n, struct kt_matrix *m)
{
	char p[PATH_MAX_LEN], np[PATH_MAX_LEN];

	if (get_seq(c, n, "schedulers", 1, MAX_ITEMS, "a list of schedulers"))
		return -1;
	m->scheds = kt_xcalloc(seq_len(n), sizeof(*m->scheds));
	for (size_t i = 0; i < seq_len(n); i++) {
		const yaml_node_t *sn = seq_item(c, n, i);
		struct sched *s = &m->scheds[i];

		join_index(p, "schedulers", i);
		m->n_scheds++;
		if (scheduler(c, sn, p, s, m))
			return -1;
		join(np, p, "name");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->scheds[j].name, s->name))
				return perr(c, sn, np, "'%s' is already schedulers[%zu]", s->name, j);
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

static int constraints(struct pctx *c, const yaml_node_t *n, const char *path,
		       struct constraints *k)
{
	static const char *const keys[] = { "min_llcs", "max_llcs", "min_cpus", "max_cpus",
					    "min_numa_nodes", "max_numa_nodes", "requires_smt" };
	unsigned *vals[] = { &k->min_llcs, &k->max_llcs, &k->min_cpus, &k->max_cpus,
			     &k->min_nodes, &k->max_nodes };
	yaml_node_t *v[7];
	char p[PATH_MAX_LEN];

	if (fields(c, n, path, keys, 7, v))
		return -1;
	for (size_t i = 0; i < 6; i++) {
		join(p, path, keys[i]);
		if (v[i] && get_unsigned(c, v[i], p, 1, KT_TOPO_MAX_CPUS, vals[i]))
			return -1;
		/* max after min: a max below its min matches nothing. */
		if (i % 2 && *vals[i] && *vals[i] < *vals[i - 1])
			return perr(c, v[i], p, "%u is below %s (%u)", *vals[i], keys[i - 1],
				    *vals[i - 1]);
	}
	join(p, path, "requires_smt");
	return v[6] ? get_bool(c, v[6], p, &k->requires_smt) : 0;
}

static bool in_range(unsigned v, unsigned min, unsigned max)
{
	return (!min || v >= min) && (!max || v <= max);
}

static bool matches(const struct constraints *k, const struct kt_topo *t)
{
	return in_range(t->llcs, k->min_llcs, k->max_llcs) &&
	       in_range(kt_topo_cpus(t), k->min_cpus, k->max_cpus) &&
	       in_range(t->nodes, k->min_nodes, k->max_nodes) && (!k->requires_smt || t->threads > 1);
}

static int checks(struct pctx *c, const yaml_node_t *n, const char *path,
		  struct kt_check_overrides *o)
{
	static const char *const keys[] = { "not_starved", "max_gap_ms", "max_spread", "isolation" };
	yaml_node_t *v[4];
	char p[PATH_MAX_LEN];

	if (fields(c, n, path, keys, 4, v))
		return -1;
	o->has_not_starved = v[0];
	o->has_max_gap_ms = v[1];
	o->has_max_spread = v[2];
	o->has_isolation = v[3];
	join(p, path, "not_starved");
	if (v[0] && get_bool(c, v[0], p, &o->not_starved))
		return -1;
	join(p, path, "max_gap_ms");
	if (v[1] && get_double(c, v[1], p, 0, MAX_GAP_MS, &o->max_gap_ms))
		return -1;
	join(p, path, "max_spread");
	if (v[2] && get_double(c, v[2], p, 0, 100, &o->max_spread))
		return -1;
	join(p, path, "isolation");
	return v[3] ? get_bool(c, v[3], p, &o->isolation) : 0;
}

static int tags(struct pctx *c, const yaml_node_t *n, const char *path, struct kt_strv *v)
{
	char p[PATH_MAX_LEN], d[64];
	const char *s;

	if (get_seq(c, n, path, 1, MAX_TAGS, "a list of worker tags"))
		return -1;
	for (size_t i = 0; i < seq_len(n); i++) {
		const yaml_node_t *t = seq_item(c, n, i);

		join_index(p, path, i);
		if (get_text(c, t, p, KT_SPEC_NAME_MAX, true, "a tag", &s))
			return -1;
		if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") !=
		    strlen(s))
			return perr(c, t, p, "%s is not a valid tag (A-Z a-z 0-9 _ . : -)",
				    describe(t, d, sizeof(d)));
		for (size_t j = 0; j < v->n; j++)
			if (!strcmp(v->v[j], s))
				return perr(c, t, p, "'%s' is listed twice", s);
		kt_strv_add(v, s);
	}
	return 0;
}

/* The test's name when it gives none: the scenario's, or a file's base
 * name without .yaml/.yml. */
static int default_name(struct pctx *c, const yaml_node_t *sn, const char *path,
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
		return perr(c, sn, path, "'%s' does not make a test name (%s): give the test a name:",
			    name, why);
	strcpy(t->name, name);
	return 0;
}

/* Whether scenario S can run as test T of M on each of its topologies. */
static int check_scenario(const struct kt_matrix *m, const struct test *t,
			  const struct kt_scenario *s, struct kt_err *err)
{
	uint8_t *buf = NULL;
	size_t len;

	for (size_t i = 0; i < m->n_topos; i++)
		if ((t->topos >> i & 1) && kt_scenario_fits(s, &m->topos[i].t, err))
			return kt_err_prefix(err, "test '%s' (narrow its constraints)", t->name);
	if (kt_scenario_entry_spec(s, t->duration_ms, t->workers, 0, &buf, &len, err))
		return kt_err_prefix(err, "test '%s'", t->name);
	free(buf);
	return 0;
}

/* Record the scenario TEXT of test T. A catalog scenario (S, parsed) is
 * checked now and freed; a file waits for kt_matrix_check_file. */
static int test_scenario(struct pctx *c, const yaml_node_t *v, const char *path,
			 struct kt_matrix *m, struct test *t, const char *text,
			 struct kt_scenario *s)
{
	struct kt_err e;
	int rc;

	t->scenario = kt_xstrdup(text);
	t->line = line_of(v);
	if (t->is_file) {
		add_once(&m->files, text);
		return 0;
	}
	rc = check_scenario(m, t, s, &e);
	kt_scenario_free(s);
	return rc ? perr(c, v, path, "%s", e.msg) : 0;
}

static int test_topologies(struct pctx *c, const yaml_node_t *at, const char *path,
			   struct kt_matrix *m, struct test *t)
{
	char list[MAX_ITEMS * 12] = "";

	for (size_t i = 0; i < m->n_topos; i++) {
		if (matches(&t->cons, &m->topos[i].t))
			t->topos |= 1ull << i;
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 m->topos[i].canon);
	}
	if (!t->topos)
		return perr(c, at, path, "test '%s' matches none of the topologies (%s)", t->name,
			    list);
	return 0;
}

/* schedulers: [NAMES] of a test: a subset of the matrix's. */
static int test_schedulers(struct pctx *c, const yaml_node_t *n, const char *path,
			   const struct kt_matrix *m, struct test *t)
{
	char p[PATH_MAX_LEN];
	const char *name;
	size_t j;

	if (get_seq(c, n, path, 1, MAX_ITEMS, "a list of scheduler names"))
		return -1;
	for (size_t i = 0; i < seq_len(n); i++) {
		const yaml_node_t *item = seq_item(c, n, i);

		join_index(p, path, i);
		if (get_text(c, item, p, KT_SPEC_NAME_MAX, true, "a scheduler name", &name))
			return -1;
		for (j = 0; j < m->n_scheds && strcmp(m->scheds[j].name, name); j++)
			;
		if (j == m->n_scheds)
			return perr(c, item, p, "'%s' is not one of the matrix's schedulers", name);
		if (t->scheds >> j & 1)
			return perr(c, item, p, "'%s' is listed twice", name);
		t->scheds |= 1ull << j;
	}
	return 0;
}

/* expect_err flips a scheduler failure into a pass: eevdf has none. */
static int check_expect_err(struct pctx *c, const yaml_node_t *at, const char *path,
			    const struct kt_matrix *m, const struct test *t)
{
	for (size_t j = 0; t->expect_err && j < m->n_scheds; j++)
		if ((t->scheds >> j & 1) && !strcmp(m->scheds[j].name, EEVDF))
			return perr(c, at, path, "expect_err needs a sched_ext scheduler, and the "
				    "test also runs with eevdf: limit it with schedulers:");
	return 0;
}

enum { T_SCENARIO, T_NAME, T_DURATION, T_WORKERS, T_MEMORY, T_CONSTRAINTS, T_EXPECT_ERR,
       T_SCHED_ARGS, T_CHECKS, T_TAGS, T_ACCEL, T_SCHEDULERS, T_N };

static int test_options(struct pctx *c, yaml_node_t *v[], const char *path,
			const struct kt_matrix *m, struct test *t)
{
	static const char *const accels[] = { "kvm", "tcg" };
	char p[PATH_MAX_LEN];
	const char *a;

	join(p, path, "duration");
	if (v[T_DURATION] && get_duration(c, v[T_DURATION], p, &t->duration_ms))
		return -1;
	join(p, path, "workers");
	if (v[T_WORKERS] && get_unsigned(c, v[T_WORKERS], p, 1, KT_SPEC_MAX_WORKERS, &t->workers))
		return -1;
	join(p, path, "memory_mb");
	if (v[T_MEMORY] && get_unsigned(c, v[T_MEMORY], p, 64, MAX_MEMORY_MB, &t->memory_mb))
		return -1;
	join(p, path, "constraints");
	if (v[T_CONSTRAINTS] && constraints(c, v[T_CONSTRAINTS], p, &t->cons))
		return -1;
	join(p, path, "schedulers");
	if (v[T_SCHEDULERS] && test_schedulers(c, v[T_SCHEDULERS], p, m, t))
		return -1;
	if (!v[T_SCHEDULERS])
		t->scheds = m->n_scheds == 64 ? ~0ull : (1ull << m->n_scheds) - 1;
	join(p, path, "expect_err");
	if (v[T_EXPECT_ERR] && (get_bool(c, v[T_EXPECT_ERR], p, &t->expect_err) ||
				check_expect_err(c, v[T_EXPECT_ERR], p, m, t)))
		return -1;
	join(p, path, "sched_args");
	if (v[T_SCHED_ARGS] && get_args(c, v[T_SCHED_ARGS], p, &t->sched_args))
		return -1;
	join(p, path, "checks");
	if (v[T_CHECKS] && checks(c, v[T_CHECKS], p, &t->checks))
		return -1;
	join(p, path, "tags");
	if (v[T_TAGS] && tags(c, v[T_TAGS], p, &t->tags))
		return -1;
	if (!v[T_ACCEL])
		return 0;
	join(p, path, "accel");
	if (get_text(c, v[T_ACCEL], p, 8, true, "kvm or tcg", &a))
		return -1;
	if (strcmp(a, accels[0]) && strcmp(a, accels[1]))
		return expected(c, v[T_ACCEL], p, "kvm or tcg");
	t->accel = kt_xstrdup(a);
	return 0;
}

static int test(struct pctx *c, const yaml_node_t *n, const char *path, struct kt_matrix *m,
		struct test *t)
{
	static const char *const keys[T_N] = { "scenario", "name", "duration", "workers",
					       "memory_mb", "constraints", "expect_err",
					       "sched_args", "checks", "tags", "accel",
					       "schedulers" };
	char p[PATH_MAX_LEN], np[PATH_MAX_LEN];
	struct kt_scenario *sc = NULL;
	const char *scenario;
	yaml_node_t *v[T_N];
	struct kt_err e;

	if (fields(c, n, path, keys, T_N, v))
		return -1;
	if (!v[T_SCENARIO])
		return missing(c, n, path, "scenario");
	t->duration_ms = KT_MATRIX_DEFAULT_DURATION_MS;
	t->workers = KT_MATRIX_DEFAULT_WORKERS;
	if (test_options(c, v, path, m, t))
		return -1;
	join(p, path, "scenario");
	if (get_text(c, v[T_SCENARIO], p, PATH_TEXT_MAX, false, "a scenario (catalog name or file)",
		     &scenario))
		return -1;
	t->is_file = scenario_is_file(scenario);
	if (!t->is_file && kt_scenario_load(scenario, &sc, &e))
		return perr(c, v[T_SCENARIO], p, "%s", e.msg);
	join(np, path, "name");
	if (v[T_NAME] ? get_name(c, v[T_NAME], np, t->name) :
			default_name(c, v[T_SCENARIO], p, scenario, t))
		goto fail;
	join(np, path, "constraints");
	if (test_topologies(c, v[T_CONSTRAINTS] ? v[T_CONSTRAINTS] : n, np, m, t))
		goto fail;
	return test_scenario(c, v[T_SCENARIO], p, m, t, scenario, sc);
fail:
	kt_scenario_free(sc);
	return -1;
}

static int tests(struct pctx *c, const yaml_node_t *n, struct kt_matrix *m)
{
	char p[PATH_MAX_LEN], np[PATH_MAX_LEN];

	if (get_seq(c, n, "tests", 1, MAX_ITEMS, "a list of tests"))
		return -1;
	m->tests = kt_xcalloc(seq_len(n), sizeof(*m->tests));
	for (size_t i = 0; i < seq_len(n); i++) {
		const yaml_node_t *tn = seq_item(c, n, i);
		struct test *t = &m->tests[i];

		join_index(p, "tests", i);
		m->n_tests++;
		if (test(c, tn, p, m, t))
			return -1;
		join(np, p, "name");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->tests[j].name, t->name))
				return perr(c, tn, np, "'%s' is already the name of tests[%zu] (entry "
					    "names must be unique: give one a name:)", t->name, j);
	}
	return 0;
}

/* Entries = kernels x the tests' topologies x their schedulers' profiles. */
static int count_entries(struct pctx *c, const yaml_node_t *at, struct kt_matrix *m)
{
	size_t combos = 0;

	for (size_t i = 0; i < m->n_tests; i++) {
		size_t profiles = 0;

		for (size_t j = 0; j < m->n_scheds; j++)
			if (m->tests[i].scheds >> j & 1)
				profiles += m->scheds[j].n_profiles;
		combos += (size_t)__builtin_popcountll(m->tests[i].topos) * profiles;
	}
	m->n_entries = m->kernels.n * combos;
	if (m->n_entries > KT_MATRIX_MAX_ENTRIES)
		return perr(c, at, "tests", "the matrix expands to %zu entries (%zu kernels x %zu "
			    "test, topology and profile combinations), more than %d", m->n_entries,
			    m->kernels.n, combos, KT_MATRIX_MAX_ENTRIES);
	return 0;
}

static int root(struct pctx *c, const yaml_node_t *n, struct kt_matrix *m)
{
	static const char *const keys[] = { "name", "priority", "kernels", "schedulers",
					     "topologies", "tests" };
	yaml_node_t *v[6];

	if (fields(c, n, "", keys, 6, v))
		return -1;
	if (!v[0])
		return missing(c, n, "", "name");
	for (size_t i = 2; i < 6; i++)
		if (i != 3 && !v[i])
			return missing(c, n, "", keys[i]);
	if (get_name(c, v[0], "name", m->name) ||
	    (v[1] && get_int(c, v[1], "priority", 1000, &m->priority)) ||
	    kernels(c, v[2], m) || topologies(c, v[4], m))
		return -1;
	if (v[3] ? schedulers(c, v[3], m) : (default_schedulers(m), 0))
		return -1;
	return tests(c, v[5], m) || count_entries(c, v[5], m) ? -1 : 0;
}

/* ---- loading (bounded like common/scenario.c) ---- */

static unsigned long offset_line(const char *text, size_t len, size_t off)
{
	unsigned long line = 1;

	for (size_t i = 0; i < off && i < len; i++)
		line += text[i] == '\n';
	return line;
}

static int syntax_error(const yaml_parser_t *ps, const char *text, size_t len, const char *file,
			struct kt_err *err)
{
	unsigned long line = ps->error == YAML_READER_ERROR ?
		offset_line(text, len, ps->problem_offset) : (unsigned long)ps->problem_mark.line + 1;

	if (ps->error == YAML_MEMORY_ERROR)
		return kt_errf(err, "%s: out of memory while parsing", file);
	return kt_errf(err, "%s:%lu: YAML syntax error: %s", file, line,
		       ps->problem ? ps->problem : "invalid");
}

#define MAX_DEPTH 16   /* the schema needs 6 */
#define MAX_ANCHORS 64

static const char *event_anchor(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return (const char *)ev->data.scalar.anchor;
	case YAML_SEQUENCE_START_EVENT:
		return (const char *)ev->data.sequence_start.anchor;
	case YAML_MAPPING_START_EVENT:
		return (const char *)ev->data.mapping_start.anchor;
	default:
		return NULL;
	}
}

/* libyaml's scanner is quadratic in the nesting depth and its alias lookup
 * in the number of anchors; a cheap event pass bounds both (and allows one
 * document) before the document is loaded. */
static int prescan(const char *text, size_t len, const char *file, struct kt_err *err)
{
	int depth = 0, anchors = 0, docs = 0, rc = 0;
	yaml_parser_t ps;
	yaml_event_t ev;
	bool end = false;

	if (!yaml_parser_initialize(&ps))
		return kt_errf(err, "%s: out of memory", file);
	yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
	while (!end && !rc) {
		unsigned long line;

		if (!yaml_parser_parse(&ps, &ev)) {
			rc = syntax_error(&ps, text, len, file, err);
			break;
		}
		line = (unsigned long)ev.start_mark.line + 1;
		end = ev.type == YAML_STREAM_END_EVENT;
		if (event_anchor(&ev) && ++anchors > MAX_ANCHORS)
			rc = kt_errf(err, "%s:%lu: more than %d anchors", file, line, MAX_ANCHORS);
		else if ((ev.type == YAML_SEQUENCE_START_EVENT ||
			  ev.type == YAML_MAPPING_START_EVENT) && ++depth > MAX_DEPTH)
			rc = kt_errf(err, "%s:%lu: nested deeper than %d levels", file, line,
				     MAX_DEPTH);
		else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
			depth--;
		else if (ev.type == YAML_DOCUMENT_START_EVENT && ++docs > 1)
			rc = kt_errf(err, "%s:%lu: a second YAML document: a matrix file holds one",
				     file, line);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&ps);
	return rc;
}

static int load(const char *text, size_t len, const char *file, yaml_document_t *doc,
		struct kt_err *err)
{
	yaml_parser_t ps;
	int rc = 0;

	if (prescan(text, len, file, err))
		return -1;
	if (!yaml_parser_initialize(&ps))
		return kt_errf(err, "%s: out of memory", file);
	yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
	if (!yaml_parser_load(&ps, doc)) {
		rc = syntax_error(&ps, text, len, file, err);
	} else if (!yaml_document_get_root_node(doc) ||
		   is_null(yaml_document_get_root_node(doc))) {
		yaml_document_delete(doc);
		rc = kt_errf(err, "%s:1: empty file (expected a mapping with name, kernels, "
			     "topologies and tests)", file);
	}
	yaml_parser_delete(&ps);
	return rc;
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
		kt_strv_free(&t->sched_args);
		kt_strv_free(&t->tags);
	}
	free(m->scheds);
	free(m->tests);
	kt_strv_free(&m->kernels);
	kt_strv_free(&m->files);
	kt_strv_free(&m->binaries);
	free(m->file);
	free(m);
}

int kt_matrix_parse(const char *yaml, size_t len, const char *filename, struct kt_matrix **out,
		    struct kt_err *err)
{
	struct kt_matrix *m;
	yaml_document_t doc;
	struct pctx c = { filename ? filename : "<matrix>", &doc, err };

	*out = NULL;
	if (len > KT_MATRIX_MAX_BYTES)
		return kt_errf(err, "%s: %zu bytes is more than the limit of %u", c.file, len,
			       KT_MATRIX_MAX_BYTES);
	if (load(yaml, len, c.file, &doc, err))
		return -1;
	m = kt_xcalloc(1, sizeof(*m));
	m->file = kt_xstrdup(c.file);
	if (root(&c, yaml_document_get_root_node(&doc), m)) {
		kt_matrix_free(m);
		m = NULL;
	}
	yaml_document_delete(&doc);
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
		if (check_scenario(m, t, s, err))
			return kt_err_prefix(err, "%s:%lu: tests[%zu].scenario", m->file, t->line, i);
	}
	if (!named)
		return kt_errf(err, "%s: no test names the scenario file '%.200s'", m->file, file);
	return 0;
}

/* ---- expansion ---- */

static char *__attribute__((format(printf, 1, 2))) xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		p = NULL;
	va_end(ap);
	if (!p)
		abort(); /* out of memory, as kt_xcalloc */
	return p;
}

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

	d->name = xasprintf("%s/%s/%s:%s/%s", t->name, tp->canon, s->name, pr->name, label);
	d->test = kt_xstrdup(t->name);
	d->scenario = kt_xstrdup(t->scenario);
	d->scenario_is_file = t->is_file;
	d->kernel_idx = k;
	d->topology = kt_xstrdup(tp->canon);
	d->topo = tp->t;
	d->scheduler = kt_xstrdup(s->name);
	d->binary = s->binary ? kt_xstrdup(s->binary) : NULL;
	d->profile = kt_xstrdup(pr->name);
	strv_copy(&d->args, &s->args);
	for (size_t f = 0; f < s->n_flags; f++)
		if (pr->mask >> f & 1)
			strv_copy(&d->args, &s->flags[f].args);
	if (scx)
		strv_copy(&d->args, &t->sched_args);
	d->duration_ms = t->duration_ms;
	d->workers = t->workers;
	d->checks = t->checks;
	d->expect_err = t->expect_err;
	d->vcpus = kt_topo_cpus(&tp->t);
	d->memory_mb = t->memory_mb ? t->memory_mb : kt_topo_default_mem_mb(&tp->t);
	d->need_accel = t->accel ? kt_xstrdup(t->accel) : NULL;
	strv_copy(&d->tags, &t->tags);
	if (scx && ki && ki[k].has_sched_ext == 0)
		d->skip_reason = xasprintf("%s needs sched_ext; kernel %s has none", s->name, label);
	else
		d->skip_reason = kt_xstrdup("");
}

int kt_matrix_expand(const struct kt_matrix *m, const struct kt_matrix_kernel_info *kinfo,
		     struct kt_entry_def **out, size_t *n, struct kt_err *err)
{
	struct kt_entry_def *d;
	size_t i = 0;

	*out = NULL;
	*n = 0;
	if (check_labels(m, kinfo, err))
		return -1;
	d = kt_xcalloc(m->n_entries, sizeof(*d));
	for (size_t ti = 0; ti < m->n_tests; ti++) {
		const struct test *t = &m->tests[ti];

		for (size_t pi = 0; pi < m->n_topos; pi++) {
			for (size_t si = 0; (t->topos >> pi & 1) && si < m->n_scheds; si++) {
				const struct sched *s = &m->scheds[si];

				for (size_t fi = 0; (t->scheds >> si & 1) && fi < s->n_profiles; fi++)
					for (size_t k = 0; k < m->kernels.n; k++)
						fill_entry(m, kinfo, t, &m->topos[pi], s,
							   &s->profiles[fi], k, &d[i++]);
			}
		}
	}
	*out = d;
	*n = i;
	return 0;
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
		free(d[i].need_accel);
		kt_strv_free(&d[i].tags);
		free(d[i].skip_reason);
	}
	free(d);
}
