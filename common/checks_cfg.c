#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checks_cfg.h"

enum kind { BOOL, NUM, OPT /* a number or off */ };

/* One key: its range [0, max] and where it lives in a kt_checks_cfg and in
 * a CheckOverrides (value and has_ flag). */
struct key {
	const char *name;
	enum kind kind;
	double max;
	size_t cfg, pb, pb_has;
};

#define KEY(name, kind, max)                                                                 \
	{ #name, kind, max, offsetof(struct kt_checks_cfg, name),                            \
	  offsetof(Ktstr__CheckOverrides, name), offsetof(Ktstr__CheckOverrides, has_##name) }
static const struct key keys[KT_CK_N] = {
	[KT_CK_NOT_STARVED] = KEY(not_starved, BOOL, 1),
	[KT_CK_MAX_GAP_MS] = KEY(max_gap_ms, NUM, 3600000),
	[KT_CK_MAX_SPREAD] = KEY(max_spread, NUM, 100),
	[KT_CK_SPREAD_WARMUP_MS] = KEY(spread_warmup_ms, NUM, 3600000),
	[KT_CK_ISOLATION] = KEY(isolation, BOOL, 1),
	[KT_CK_MAX_THROUGHPUT_CV] = KEY(max_throughput_cv, OPT, 100),
	[KT_CK_MIN_WORK_RATE] = KEY(min_work_rate, OPT, 1e15),
	[KT_CK_MAX_P99_WAKE_US] = KEY(max_p99_wake_us, OPT, 3600000000.0),
	[KT_CK_MAX_WAKE_CV] = KEY(max_wake_cv, OPT, 100),
	[KT_CK_MAX_MIGRATION_RATIO] = KEY(max_migration_ratio, OPT, 1000),
};
#undef KEY

void kt_checks_cfg_default(struct kt_checks_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->not_starved = true;
	c->max_gap_ms = 2000;
	c->max_spread = 15;
	c->spread_warmup_ms = 500;
	c->isolation = false;
	c->max_throughput_cv = KT_CHECK_OFF;
	c->min_work_rate = KT_CHECK_OFF;
	c->max_p99_wake_us = KT_CHECK_OFF;
	c->max_wake_cv = KT_CHECK_OFF;
	c->max_migration_ratio = KT_CHECK_OFF;
	c->slowdown = 1;
}

const char *kt_checks_key_name(enum kt_check_key k)
{
	return (unsigned)k < KT_CK_N ? keys[k].name : NULL;
}

/* ---- values in a kt_checks_cfg ---- */

static double get_cfg(const struct key *k, const struct kt_checks_cfg *c)
{
	const char *p = (const char *)c + k->cfg;

	return k->kind == BOOL ? *(const bool *)p : *(const double *)p;
}

static void set_cfg(const struct key *k, struct kt_checks_cfg *c, double v)
{
	char *p = (char *)c + k->cfg;

	if (k->kind == BOOL)
		*(bool *)p = v != 0;
	else
		*(double *)p = v;
}

static void add(struct kt_checks_over *o, enum kt_check_key i, double v)
{
	o->has[i] = true;
	set_cfg(&keys[i], &o->v, v);
}

/* A number of K's range, or off for an optional one, from text S. */
static int parse_num(const struct key *k, const char *s, double *out)
{
	char *end;
	double v;

	if (k->kind == OPT && !strcmp(s, "off")) {
		*out = KT_CHECK_OFF;
		return 0;
	}
	if (!*s || strspn(s, "0123456789.eE+-") != strlen(s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !(v >= 0 && v <= k->max)) /* also rejects NaN */
		return -1;
	*out = v;
	return 0;
}

static const char *range_text(const struct key *k, char *buf, size_t len)
{
	if (k->kind == BOOL)
		snprintf(buf, len, "true or false");
	else
		snprintf(buf, len, "a number in [0, %.15g]%s", k->max, k->kind == OPT ? " or off" : "");
	return buf;
}

/* ---- YAML ---- */

static int yaml_value(struct kt_yx *c, const yaml_node_t *n, const char *path, enum kt_check_key i,
		      struct kt_checks_over *o)
{
	const struct key *k = &keys[i];
	const char *s;
	char r[64];
	double v;
	bool b;

	if (k->kind == BOOL) {
		if (kt_yx_bool(c, n, path, &b))
			return -1;
		add(o, i, b);
		return 0;
	}
	if (k->kind == OPT && n->type == YAML_SCALAR_NODE && kt_yx_is_plain(n) &&
	    !strcmp(kt_yx_str(n), "off")) {
		add(o, i, KT_CHECK_OFF);
		return 0;
	}
	if (kt_yx_numeral(c, n, path, &s))
		return -1;
	if (parse_num(k, s, &v))
		return kt_yx_err(c, n, path, "%.40s is not %s", s, range_text(k, r, sizeof(r)));
	add(o, i, v);
	return 0;
}

int kt_checks_yaml(struct kt_yx *c, const yaml_node_t *n, const char *path,
		   struct kt_checks_over *o)
{
	const char *names[KT_CK_N];
	yaml_node_t *v[KT_CK_N];
	char p[KT_YX_PATH_MAX];

	memset(o, 0, sizeof(*o));
	kt_checks_cfg_default(&o->v);
	for (int i = 0; i < KT_CK_N; i++)
		names[i] = keys[i].name;
	if (kt_yx_fields(c, n, path, names, KT_CK_N, v))
		return -1;
	for (int i = 0; i < KT_CK_N; i++) {
		if (!v[i])
			continue;
		kt_yx_join(p, path, names[i]);
		if (yaml_value(c, v[i], p, (enum kt_check_key)i, o))
			return -1;
	}
	return 0;
}

int kt_checks_yaml_cfg(struct kt_yx *c, const yaml_node_t *n, const char *path,
		       struct kt_checks_cfg *cfg)
{
	struct kt_checks_over o;

	if (kt_checks_yaml(c, n, path, &o))
		return -1;
	kt_checks_over_apply(&o, cfg);
	return 0;
}

/* ---- KEY=VALUE ---- */

static void key_list(char *buf, size_t len)
{
	buf[0] = 0;
	for (int i = 0; i < KT_CK_N; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? ", " : "", keys[i].name);
}

int kt_checks_over_kv(struct kt_checks_over *o, const char *kv, struct kt_err *err)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
	char list[256], r[64];
	double v;
	int i;

	for (i = 0; i < KT_CK_N; i++)
		if (strlen(keys[i].name) == klen && !strncmp(keys[i].name, kv, klen))
			break;
	if (i == KT_CK_N) {
		key_list(list, sizeof(list));
		return kt_errf(err, "--check '%.64s': unknown key '%.*s' (one of %s)", kv,
			       (int)(klen > 64 ? 64 : klen), kv, list);
	}
	if (!eq)
		return kt_errf(err, "--check '%.64s': expected KEY=VALUE", kv);
	if (keys[i].kind == BOOL) {
		if (strcmp(eq + 1, "true") && strcmp(eq + 1, "false"))
			return kt_errf(err, "--check '%.64s': expected true or false", kv);
		v = !strcmp(eq + 1, "true");
	} else if (parse_num(&keys[i], eq + 1, &v)) {
		return kt_errf(err, "--check '%.64s': expected %s", kv,
			       range_text(&keys[i], r, sizeof(r)));
	}
	add(o, (enum kt_check_key)i, v);
	return 0;
}

/* ---- levels ---- */

void kt_checks_over_apply(const struct kt_checks_over *o, struct kt_checks_cfg *c)
{
	for (int i = 0; o && i < KT_CK_N; i++)
		if (o->has[i])
			set_cfg(&keys[i], c, get_cfg(&keys[i], &o->v));
}

void kt_checks_over_merge(struct kt_checks_over *dst, const struct kt_checks_over *src)
{
	for (int i = 0; i < KT_CK_N; i++)
		if (src->has[i])
			add(dst, (enum kt_check_key)i, get_cfg(&keys[i], &src->v));
}

/* ---- CheckOverrides ---- */

void kt_checks_over_to_pb(const struct kt_checks_over *o, Ktstr__CheckOverrides *pb)
{
	for (int i = 0; i < KT_CK_N; i++) {
		const struct key *k = &keys[i];
		char *p = (char *)pb;

		*(protobuf_c_boolean *)(p + k->pb_has) = o->has[i];
		if (!o->has[i])
			continue;
		if (k->kind == BOOL)
			*(protobuf_c_boolean *)(p + k->pb) = get_cfg(k, &o->v) != 0;
		else
			*(double *)(p + k->pb) = get_cfg(k, &o->v);
	}
}

int kt_checks_over_from_pb(const Ktstr__CheckOverrides *pb, struct kt_checks_over *o,
			   struct kt_err *err)
{
	memset(o, 0, sizeof(*o));
	kt_checks_cfg_default(&o->v);
	for (int i = 0; pb && i < KT_CK_N; i++) {
		const struct key *k = &keys[i];
		const char *p = (const char *)pb;
		double v;

		if (!*(const protobuf_c_boolean *)(p + k->pb_has))
			continue;
		if (k->kind == BOOL) {
			add(o, (enum kt_check_key)i, *(const protobuf_c_boolean *)(p + k->pb) != 0);
			continue;
		}
		v = *(const double *)(p + k->pb);
		if (k->kind == OPT && v < 0)
			v = KT_CHECK_OFF;
		else if (!(v >= 0 && v <= k->max))
			return kt_errf(err, "checks.%s %g: expected 0 to %.15g%s", k->name, v, k->max,
				       k->kind == OPT ? ", or negative (off)" : "");
		add(o, (enum kt_check_key)i, v);
	}
	return 0;
}
