/* The dump reader: a bounded JSON parser into an arena, plain accessors
 * for any document, and an accessor over the typed trees of
 * guest/btf_render.h. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "dump.h"
#include "json.h"

#define MAX_DEPTH 120		/* JSON nesting; a 32-deep BTF tree needs ~105 */
#define MAX_NUMBER 512		/* characters in one number */
#define MAX_PATH 512		/* characters in a dotted path */
#define MAX_COMPS 32		/* components in a path */
#define MAX_INDEX 8		/* [i] per component */
#define MAX_VALUES (1u << 20)	/* values in one document */
#define CHUNK (64u * 1024u)

enum dv_type { DV_NULL, DV_BOOL, DV_INT, DV_UINT, DV_DOUBLE, DV_STRING, DV_ARRAY, DV_OBJECT };

struct kt_dval {
	enum dv_type type;
	size_t n;		/* string bytes, array items, object members */
	union {
		bool b;
		int64_t i;	/* DV_INT: negative integers only */
		uint64_t u;
		double d;
		const char *s;
		struct kt_dval *items;
	};
	const char **keys;	/* DV_OBJECT */
};

struct chunk {
	struct chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct kt_dump {
	struct chunk *chunks;
	struct kt_dval root;
};

static void *arena_alloc(struct kt_dump *d, size_t n)
{
	struct chunk *c = d->chunks;
	size_t sz;

	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (!c || c->size - c->used < n) {
		sz = n > CHUNK ? n : CHUNK;
		c = malloc(sizeof(*c) + sz);
		if (!c)
			return NULL;
		c->size = sz;
		c->used = 0;
		c->next = d->chunks;
		d->chunks = c;
	}
	c->used += n;
	return (char *)c->data + c->used - n;
}

/* ---- parser ---- */

struct parser {
	const char *start, *p, *end;
	struct kt_dump *d;
	struct kt_err *err;
	int depth;
	size_t values;
};

static int perr(struct parser *ps, const char *what)
{
	return kt_errf(ps->err, "JSON at byte %zu: %s", (size_t)(ps->p - ps->start), what);
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int hex4(struct parser *ps, unsigned *out)
{
	unsigned v = 0;

	if (ps->end - ps->p < 4)
		return perr(ps, "short \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = *ps->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return perr(ps, "bad \\u escape");
	}
	*out = v;
	return 0;
}

static size_t utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int parse_escape(struct parser *ps, char *o, size_t *n)
{
	unsigned cp, lo;
	char c;

	if (ps->p == ps->end)
		return perr(ps, "unterminated string");
	c = *ps->p++;
	switch (c) {
	case '"': case '\\': case '/':
		o[0] = c;
		*n = 1;
		return 0;
	case 'b': o[0] = '\b'; *n = 1; return 0;
	case 'f': o[0] = '\f'; *n = 1; return 0;
	case 'n': o[0] = '\n'; *n = 1; return 0;
	case 'r': o[0] = '\r'; *n = 1; return 0;
	case 't': o[0] = '\t'; *n = 1; return 0;
	case 'u':
		if (hex4(ps, &cp))
			return -1;
		if (cp == 0)
			return perr(ps, "\\u0000 in a string");
		/* A lone surrogate (Python writes them for bytes it could not
		 * decode) reads as U+FFFD, as common/json.c writes bad UTF-8. */
		if (cp >= 0xdc00 && cp <= 0xdfff) {
			cp = 0xfffd;
		} else if (cp >= 0xd800 && cp <= 0xdbff) {
			const char *next = ps->p;
			unsigned hi = cp;

			cp = 0xfffd;
			if (ps->end - ps->p >= 2 && ps->p[0] == '\\' && ps->p[1] == 'u') {
				ps->p += 2;
				if (hex4(ps, &lo))
					return -1;
				if (lo >= 0xdc00 && lo <= 0xdfff)
					cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
				else
					ps->p = next; /* the next escape stands alone */
			}
		}
		*n = utf8(o, cp);
		return 0;
	default:
		return perr(ps, "bad escape");
	}
}

/* A string at ps->p (after the quote); decoded never grows. */
static int parse_string(struct parser *ps, const char **out, size_t *len)
{
	const char *q = ps->p;
	char *buf, *o;
	size_t n = 0;

	while (q < ps->end && *q != '"')
		q += *q == '\\' && q + 1 < ps->end ? 2 : 1;
	if (q >= ps->end)
		return perr(ps, "unterminated string");
	buf = arena_alloc(ps->d, (size_t)(q - ps->p) + 1);
	if (!buf)
		return perr(ps, "out of memory");
	o = buf;
	while (*ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p;

		if (c < 0x20)
			return perr(ps, "control character in a string");
		ps->p++;
		if (c != '\\') {
			*o++ = (char)c;
			continue;
		}
		if (parse_escape(ps, o, &n))
			return -1;
		o += n;
		if (ps->p > ps->end)
			return perr(ps, "unterminated string");
	}
	ps->p++;
	*o = 0;
	*out = buf;
	*len = (size_t)(o - buf);
	return 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int parse_number(struct parser *ps, struct kt_dval *v)
{
	const char *s = ps->p;
	bool neg = false, frac = false;
	uint64_t u = 0;
	bool over = false;
	char buf[MAX_NUMBER + 1];

	if (*ps->p == '-') {
		neg = true;
		ps->p++;
	}
	if (ps->p == ps->end || !is_digit(*ps->p))
		return perr(ps, "bad number");
	if (*ps->p == '0' && ps->p + 1 < ps->end && is_digit(ps->p[1]))
		return perr(ps, "number with a leading zero");
	while (ps->p < ps->end && is_digit(*ps->p)) {
		unsigned dgt = (unsigned)(*ps->p++ - '0');

		if (u > (UINT64_MAX - dgt) / 10)
			over = true;
		else
			u = u * 10 + dgt;
	}
	if (ps->p < ps->end && *ps->p == '.') {
		frac = true;
		ps->p++;
		if (ps->p == ps->end || !is_digit(*ps->p))
			return perr(ps, "bad fraction");
		while (ps->p < ps->end && is_digit(*ps->p))
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		frac = true;
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p == ps->end || !is_digit(*ps->p))
			return perr(ps, "bad exponent");
		while (ps->p < ps->end && is_digit(*ps->p))
			ps->p++;
	}
	if (!frac && !over && !neg) {
		v->type = DV_UINT;
		v->u = u;
		return 0;
	}
	if (!frac && !over && u <= (uint64_t)INT64_MAX + 1) {
		v->type = u ? DV_INT : DV_UINT;
		v->i = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
		if (!u)
			v->u = 0;
		return 0;
	}
	if (ps->p - s > MAX_NUMBER)
		return perr(ps, "number too long");
	memcpy(buf, s, (size_t)(ps->p - s));
	buf[ps->p - s] = 0;
	v->type = DV_DOUBLE;
	v->d = strtod(buf, NULL);
	return 0;
}

static int parse_value(struct parser *ps, struct kt_dval *v);

/* Items (or members) are gathered in a growing buffer, then moved into
 * the arena once their count is known. */
static int parse_aggregate(struct parser *ps, struct kt_dval *v, bool obj)
{
	struct kt_dval *items = NULL, *ni;
	const char **keys = NULL, **nk;
	size_t n = 0, cap = 0, klen;
	int r = -1;

	v->type = obj ? DV_OBJECT : DV_ARRAY;
	if (++ps->depth > MAX_DEPTH)
		return perr(ps, "nested too deep");
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == (obj ? '}' : ']')) {
		ps->p++;
		ps->depth--;
		return 0;
	}
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			ni = realloc(items, cap * sizeof(*items));
			nk = obj ? realloc(keys, cap * sizeof(*keys)) : keys;
			if (ni)
				items = ni;
			if (nk)
				keys = nk;
			if (!ni || (obj && !nk)) {
				perr(ps, "out of memory");
				goto out;
			}
		}
		skip_ws(ps);
		if (obj) {
			if (ps->p == ps->end || *ps->p != '"') {
				perr(ps, "expected a member name");
				goto out;
			}
			ps->p++;
			if (parse_string(ps, &keys[n], &klen))
				goto out;
			skip_ws(ps);
			if (ps->p == ps->end || *ps->p != ':') {
				perr(ps, "expected ':'");
				goto out;
			}
			ps->p++;
		}
		if (parse_value(ps, &items[n]))
			goto out;
		n++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == (obj ? '}' : ']')) {
			ps->p++;
			break;
		}
		perr(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		goto out;
	}
	v->n = n;
	v->items = arena_alloc(ps->d, n * sizeof(*items));
	v->keys = obj ? arena_alloc(ps->d, n * sizeof(*keys)) : NULL;
	if (!v->items || (obj && !v->keys)) {
		perr(ps, "out of memory");
		goto out;
	}
	memcpy(v->items, items, n * sizeof(*items));
	if (obj)
		memcpy(v->keys, keys, n * sizeof(*keys));
	ps->depth--;
	r = 0;
out:
	free(items);
	free(keys);
	return r;
}

static bool word(struct parser *ps, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n))
		return false;
	ps->p += n;
	return true;
}

static int parse_value(struct parser *ps, struct kt_dval *v)
{
	memset(v, 0, sizeof(*v));
	if (++ps->values > MAX_VALUES)
		return perr(ps, "more than 1048576 values");
	skip_ws(ps);
	if (ps->p == ps->end)
		return perr(ps, "unexpected end");
	switch (*ps->p) {
	case '{':
		ps->p++;
		return parse_aggregate(ps, v, true);
	case '[':
		ps->p++;
		return parse_aggregate(ps, v, false);
	case '"':
		ps->p++;
		v->type = DV_STRING;
		return parse_string(ps, &v->s, &v->n);
	case 't':
	case 'f':
	case 'n':
		if (word(ps, "true") || word(ps, "false")) {
			v->type = DV_BOOL;
			v->b = ps->p[-1] == 'e' && ps->p[-2] == 'u';
			return 0;
		}
		if (word(ps, "null"))
			return 0;
		return perr(ps, "bad literal");
	default:
		if (*ps->p == '-' || is_digit(*ps->p))
			return parse_number(ps, v);
		return perr(ps, "unexpected character");
	}
}

void kt_dump_free(struct kt_dump *d)
{
	if (!d)
		return;
	while (d->chunks) {
		struct chunk *c = d->chunks;

		d->chunks = c->next;
		free(c);
	}
	free(d);
}

int kt_dump_parse(const char *json, size_t len, struct kt_dump **out, struct kt_err *err)
{
	struct kt_dump *d;
	struct parser ps;

	if (!json)
		return kt_errf(err, "JSON: none");
	if (len > KT_DUMP_MAX_BYTES)
		return kt_errf(err, "JSON of %zu bytes exceeds %u", len, KT_DUMP_MAX_BYTES);
	if (memchr(json, 0, len))
		return kt_errf(err, "JSON: NUL byte at %zu",
			       (size_t)((const char *)memchr(json, 0, len) - json));
	d = calloc(1, sizeof(*d));
	if (!d)
		return kt_errf(err, "out of memory");
	ps = (struct parser){ .start = json, .p = json, .end = json + len, .d = d, .err = err };
	if (parse_value(&ps, &d->root))
		goto fail;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		perr(&ps, "trailing bytes after the value");
		goto fail;
	}
	*out = d;
	return 0;
fail:
	kt_dump_free(d);
	return -1;
}

/* ---- accessor ---- */

static const struct kt_dval *obj_get(const struct kt_dval *v, const char *key)
{
	if (!v || v->type != DV_OBJECT)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->keys[i], key))
			return &v->items[i];
	return NULL;
}

static const char *obj_str(const struct kt_dval *v, const char *key)
{
	const struct kt_dval *s = obj_get(v, key);

	return s && s->type == DV_STRING ? s->s : NULL;
}

/* What V is, for messages: its tree kind, else its JSON type. */
static const char *kind_of(const struct kt_dval *v)
{
	static const char *const names[] = { "null", "bool", "number", "number", "number",
					     "string", "array", "object" };
	const char *k = obj_str(v, "kind");

	if (k)
		return k;
	if (obj_get(v, "entries"))
		return "map";
	return names[v->type];
}

/* "a struct foo" / "an array" for messages. */
static void describe(const struct kt_dval *v, char *buf, size_t n)
{
	const char *k = kind_of(v), *tn = obj_str(v, "type_name");

	snprintf(buf, n, "%s %s%s%s", strchr("aeio", k[0]) ? "an" : "a", k, tn ? " " : "",
		 tn ? tn : "");
}

/* Append S to a ", "-separated list in BUF, bounded. */
static void list_add(char *buf, size_t n, const char *s)
{
	size_t len = strlen(buf);

	if (len + 8 >= n)
		return;
	snprintf(buf + len, n - len, "%s%s", len ? ", " : "", s);
	if (strlen(buf) + 5 >= n)
		snprintf(buf + n - 5, 5, "...");
}

static const struct kt_dval *maps_of(const struct kt_dump *d)
{
	const struct kt_dval *m = obj_get(&d->root, "maps");

	return m && m->type == DV_ARRAY ? m : NULL;
}

static bool name_matches(const char *name, const char *want, size_t n)
{
	size_t len = strlen(name);

	if (len == n && !memcmp(name, want, n))
		return true;
	return len > n && name[len - n - 1] == '.' && !memcmp(name + len - n, want, n);
}

/* The kernel's name (BPF_OBJ_NAME_LEN - 1 = 15 chars) of the global data
 * map libbpf makes for OBJECT.SECTION, WANT (N bytes) being "OBJECT.SECTION"
 * with SECTION one of .bss/.data/.rodata/.kconfig (no dot inside): libbpf's
 * internal_map_name() keeps the section whole, reserving at least 7 chars
 * for it, and the object name's first 15 - max(7, len(SECTION)) chars
 * (8 for .bss, "scx_ktstr.bss" -> "scx_ktst.bss"). OLD_RULE: libbpf
 * before 0.7 used "%.8s%.7s" always. False when WANT is no such name. */
static bool libbpf_data_name(const char *want, size_t n, bool old_rule, char *buf, size_t len)
{
	const char *dot = memchr(want, '.', n);
	size_t pfx, sfx;

	if (!dot || dot == want || memchr(dot + 1, '.', n - (size_t)(dot + 1 - want)) ||
	    dot + 1 == want + n)
		return false;
	pfx = (size_t)(dot - want);
	sfx = n - pfx;
	if (old_rule) {
		pfx = pfx < 8 ? pfx : 8;
		sfx = sfx < 7 ? sfx : 7;
	} else {
		size_t keep = 15 - (sfx > 7 ? (sfx < 15 ? sfx : 15) : 7);

		sfx = sfx < 15 ? sfx : 15;
		pfx = pfx < keep ? pfx : keep;
	}
	snprintf(buf, len, "%.*s%.*s", (int)pfx, want, (int)sfx, dot);
	return true;
}

/* The map named WANT (N bytes): exact names first, then suffixes, then
 * the name libbpf truncated WANT to (a global data map). */
static const struct kt_dval *find_map(const struct kt_dump *d, const char *want, size_t n)
{
	const struct kt_dval *maps = maps_of(d);
	char trunc[2][16];
	bool has[2];

	if (!maps)
		return NULL;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < maps->n; i++) {
			const char *name = obj_str(&maps->items[i], "name");

			if (!name)
				continue;
			if (pass == 0 ? strlen(name) == n && !memcmp(name, want, n)
				      : name_matches(name, want, n))
				return &maps->items[i];
		}
	has[0] = libbpf_data_name(want, n, false, trunc[0], sizeof(trunc[0]));
	has[1] = libbpf_data_name(want, n, true, trunc[1], sizeof(trunc[1]));
	for (int r = 0; r < 2; r++)
		for (size_t i = 0; has[r] && i < maps->n; i++) {
			const char *name = obj_str(&maps->items[i], "name");

			if (name && strcmp(name, trunc[r]) == 0)
				return &maps->items[i];
		}
	return NULL;
}

static void map_names(const struct kt_dump *d, char *buf, size_t n)
{
	const struct kt_dval *maps = maps_of(d);

	buf[0] = 0;
	for (size_t i = 0; maps && i < maps->n; i++) {
		const char *name = obj_str(&maps->items[i], "name");

		if (name)
			list_add(buf, n, name);
	}
	if (!buf[0])
		snprintf(buf, n, "none");
}

int kt_dump_map(const struct kt_dump *d, const char *name, const struct kt_dval **map,
		struct kt_err *err)
{
	char names[256];

	*map = find_map(d, name, strlen(name));
	if (*map)
		return 0;
	map_names(d, names, sizeof(names));
	return kt_errf(err, "no map \"%s\" in the dump (maps: %s)", name, names);
}

int kt_dump_at(const struct kt_dval *map, size_t i, const struct kt_dval **val,
	       struct kt_err *err)
{
	const struct kt_dval *e = obj_get(map, "entries"), *v;
	const char *name = obj_str(map, "name");
	char what[128];

	if (!e || e->type != DV_ARRAY) {
		describe(map, what, sizeof(what));
		return kt_errf(err, "wrong type: %s is not a map with entries", what);
	}
	if (i >= e->n)
		return kt_errf(err, "map %s has %zu entries in the dump, no entry %zu%s",
			       name ? name : "?", e->n, i,
			       obj_get(map, "entries_dropped") ? " (some left out)" : "");
	v = obj_get(&e->items[i], "value");
	if (!v)
		v = obj_get(&e->items[i], "percpu");
	if (!v)
		return kt_errf(err, "map %s entry %zu has no value", name ? name : "?", i);
	*val = v;
	return 0;
}

/* Member NAME (N bytes) of V, looking into anonymous members. */
static const struct kt_dval *member(const struct kt_dval *v, const char *name, size_t n,
				    int depth)
{
	const struct kt_dval *ms = obj_get(v, "members");

	if (!ms || ms->type != DV_ARRAY || depth > MAX_DEPTH)
		return NULL;
	for (size_t i = 0; i < ms->n; i++) {
		const char *mn = obj_str(&ms->items[i], "name");
		const struct kt_dval *mv = obj_get(&ms->items[i], "value");

		if (!mn || !mv)
			continue;
		if (strlen(mn) == n && !memcmp(mn, name, n))
			return mv;
		if (!*mn && (mv = member(mv, name, n, depth + 1)))
			return mv;
	}
	return NULL;
}

static void member_names(const struct kt_dval *v, char *buf, size_t n, int depth)
{
	const struct kt_dval *ms = obj_get(v, "members");

	for (size_t i = 0; ms && ms->type == DV_ARRAY && i < ms->n && depth < 4; i++) {
		const char *mn = obj_str(&ms->items[i], "name");

		if (mn && *mn)
			list_add(buf, n, mn);
		else if (mn)
			member_names(obj_get(&ms->items[i], "value"), buf, n, depth + 1);
	}
}

static int get_n(const struct kt_dval *v, const char *name, size_t n, const struct kt_dval **out,
		 struct kt_err *err)
{
	char what[128], names[256] = "";

	describe(v, what, sizeof(what));
	if (!obj_get(v, "members"))
		return kt_errf(err, "wrong type: %s has no members (looking for \"%.*s\")", what,
			       (int)n, name);
	*out = member(v, name, n, 0);
	if (*out)
		return 0;
	member_names(v, names, sizeof(names), 0);
	return kt_errf(err, "no member \"%.*s\" in %s (members: %s)", (int)n, name, what,
		       names[0] ? names : "none");
}

int kt_dump_get(const struct kt_dval *v, const char *name, const struct kt_dval **out,
		struct kt_err *err)
{
	return get_n(v, name, strlen(name), out, err);
}

/* Element I of an array node, a per-CPU list or a map. */
static int index_of(const struct kt_dval *v, uint64_t i, const struct kt_dval **out,
		    struct kt_err *err)
{
	const struct kt_dval *el = obj_get(v, "elements");
	char what[128];

	if (obj_get(v, "entries"))
		return kt_dump_at(v, (size_t)i, out, err);
	if (v->type == DV_ARRAY)
		el = v;
	if (!el || el->type != DV_ARRAY) {
		describe(v, what, sizeof(what));
		return kt_errf(err, "wrong type: %s cannot be indexed", what);
	}
	if (i >= el->n)
		return kt_errf(err, "index %" PRIu64 " out of range: %zu elements%s", i, el->n,
			       obj_get(v, "truncated") ? " shown (array truncated)" : "");
	*out = &el->items[i];
	return 0;
}

const struct kt_dval *kt_dump_root(const struct kt_dump *d)
{
	return &d->root;
}

int kt_dump_key(const struct kt_dval *map, size_t i, const struct kt_dval **key,
		struct kt_err *err)
{
	const struct kt_dval *e = obj_get(map, "entries"), *v;

	if (kt_dump_at(map, i, &v, err))
		return -1;
	*key = obj_get(&e->items[i], "key");
	if (!*key)
		return kt_errf(err, "map entry %zu has no key", i);
	return 0;
}

int kt_dval_index(const struct kt_dval *v, size_t i, const struct kt_dval **out,
		  struct kt_err *err)
{
	return index_of(v, i, out, err);
}

struct comp {
	const char *name;
	size_t n, nidx;
	uint64_t idx[MAX_INDEX];
};

static int parse_path(const char *path, struct comp *c, size_t *nc, struct kt_err *err)
{
	const char *p = path;

	*nc = 0;
	if (!*p || strlen(path) > MAX_PATH)
		return kt_errf(err, "path \"%s\": empty or too long", path);
	for (;;) {
		struct comp *k = &c[*nc];

		if (*nc == MAX_COMPS)
			return kt_errf(err, "path \"%s\": more than %d parts", path, MAX_COMPS);
		k->name = p;
		while (*p && *p != '.' && *p != '[')
			p++;
		k->n = (size_t)(p - k->name);
		k->nidx = 0;
		if (!k->n)
			return kt_errf(err, "path \"%s\": empty part at %zu", path,
				       (size_t)(p - path));
		while (*p == '[') {
			char *e;

			if (k->nidx == MAX_INDEX || !is_digit(p[1]))
				return kt_errf(err, "path \"%s\": bad index at %zu", path,
					       (size_t)(p - path));
			errno = 0;
			k->idx[k->nidx++] = strtoull(p + 1, &e, 10);
			if (*e != ']' || errno)
				return kt_errf(err, "path \"%s\": bad index at %zu", path,
					       (size_t)(p - path));
			p = e + 1;
		}
		(*nc)++;
		if (!*p)
			return 0;
		if (*p != '.' || !p[1])
			return kt_errf(err, "path \"%s\": unexpected '%c' at %zu", path, *p,
				       (size_t)(p - path));
		p++;
	}
}

/* Apply C's indices, then walk members C[1..NC-1] with their indices. */
static int walk(const struct kt_dval *v, const struct comp *c, size_t nc, size_t skip_idx,
		const struct kt_dval **out, struct kt_err *err)
{
	for (size_t k = 0; k < nc; k++) {
		if (k > 0 && get_n(v, c[k].name, c[k].n, &v, err))
			return -1;
		for (size_t x = k ? 0 : skip_idx; x < c[k].nidx; x++)
			if (index_of(v, c[k].idx[x], &v, err))
				return kt_err_prefix(err, "%.*s[%" PRIu64 "]", (int)c[k].n,
						     c[k].name, c[k].idx[x]);
	}
	*out = v;
	return 0;
}

/* Is MAP global data: its first value a section (".bss", ...)? */
static const struct kt_dval *data_section(const struct kt_dval *map)
{
	const struct kt_dval *v;
	const char *tn;

	if (kt_dump_at(map, 0, &v, NULL))
		return NULL;
	tn = obj_str(v, "type_name");
	return tn && tn[0] == '.' && obj_get(v, "members") ? v : NULL;
}

int kt_dump_var(const struct kt_dump *d, const char *path, const struct kt_dval **out,
		struct kt_err *err)
{
	struct comp c[MAX_COMPS];
	const struct kt_dval *maps = maps_of(d), *map, *v;
	char sel[MAX_PATH + 1], names[256];
	size_t nc, sn;

	if (parse_path(path, c, &nc, err))
		return -1;
	/* A map selector: the longest leading run of parts naming a map. */
	for (size_t k = nc; k > 0; k--) {
		bool idx_inside = false;

		sn = 0;
		for (size_t x = 0; x < k; x++) {
			idx_inside |= x + 1 < k && c[x].nidx;
			sn += (size_t)snprintf(sel + sn, sizeof(sel) - sn, "%s%.*s", x ? "." : "",
					       (int)c[x].n, c[x].name);
		}
		if (idx_inside || !(map = find_map(d, sel, sn)))
			continue;
		if (kt_dump_at(map, c[k - 1].nidx ? c[k - 1].idx[0] : 0, &v, err) ||
		    walk(v, c + k - 1, nc - k + 1, 1, out, err))
			return kt_err_prefix(err, "%s", path);
		return 0;
	}
	/* A global: the first part is a variable of some data section. */
	for (size_t i = 0; maps && i < maps->n; i++) {
		const struct kt_dval *sec = data_section(&maps->items[i]);

		if (!sec || !(v = member(sec, c[0].name, c[0].n, 0)))
			continue;
		if (walk(v, c, nc, 0, out, err))
			return kt_err_prefix(err, "%s", path);
		return 0;
	}
	map_names(d, names, sizeof(names));
	return kt_errf(err, "%s: no map or global named \"%.*s\" in the dump (maps: %s)", path,
		       (int)c[0].n, c[0].name, names);
}

/* ---- getters ---- */

static int wrong(const struct kt_dval *v, const char *as, struct kt_err *err)
{
	char what[128];

	describe(v, what, sizeof(what));
	return kt_errf(err, "wrong type: %s read as %s", what, as);
}

/* The scalar inside V: a tree node's "value" (an enum's "raw"), else V. */
static const struct kt_dval *scalar(const struct kt_dval *v)
{
	const char *k = obj_str(v, "kind");

	if (!k)
		return v;
	if (!strcmp(k, "enum"))
		return obj_get(v, "raw");
	if (!strcmp(k, "struct") || !strcmp(k, "union") || !strcmp(k, "array") ||
	    !strcmp(k, "string"))
		return NULL;
	return obj_get(v, "value");
}

/* A number as (negative?, magnitude); pointers come as "0x..." strings. */
static int number(const struct kt_dval *v, const char *as, bool *neg, uint64_t *mag,
		  struct kt_err *err)
{
	const struct kt_dval *s = scalar(v);
	const char *k = obj_str(v, "kind");
	char *e;

	if (!s)
		return wrong(v, as, err);
	*neg = false;
	switch (s->type) {
	case DV_UINT:
		*mag = s->u;
		return 0;
	case DV_INT:
		*neg = true;
		*mag = s->i == INT64_MIN ? (uint64_t)INT64_MAX + 1 : (uint64_t)-s->i;
		return 0;
	case DV_BOOL:
		*mag = s->b;
		return 0;
	case DV_STRING:
		if (k && (!strcmp(k, "ptr") || !strcmp(k, "func_ptr") || !strcmp(k, "int") ||
			  !strcmp(k, "uint")) && !strncmp(s->s, "0x", 2) && s->s[2]) {
			errno = 0;
			*mag = strtoull(s->s + 2, &e, 16);
			if (!*e && !errno)
				return 0;
			return kt_errf(err, "value %s does not fit 64 bits", s->s);
		}
		return wrong(v, as, err);
	default:
		return wrong(v, as, err);
	}
}

int kt_dval_u64(const struct kt_dval *v, uint64_t *out, struct kt_err *err)
{
	uint64_t mag;
	bool neg;

	if (number(v, "u64", &neg, &mag, err))
		return -1;
	if (neg)
		return kt_errf(err, "value -%" PRIu64 " is negative, read as u64", mag);
	*out = mag;
	return 0;
}

int kt_dval_i64(const struct kt_dval *v, int64_t *out, struct kt_err *err)
{
	uint64_t mag;
	bool neg;

	if (number(v, "i64", &neg, &mag, err))
		return -1;
	if (neg) {
		*out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
		return 0;
	}
	if (mag > INT64_MAX)
		return kt_errf(err, "value %" PRIu64 " does not fit i64", mag);
	*out = (int64_t)mag;
	return 0;
}

int kt_dval_str(const struct kt_dval *v, const char **out, struct kt_err *err)
{
	const char *k = obj_str(v, "kind");
	const struct kt_dval *s = k ? obj_get(v, "value") : v;

	if (k && strcmp(k, "string") && strcmp(k, "enum"))
		return wrong(v, "a string", err);
	if (!s || s->type != DV_STRING)
		return wrong(v, "a string", err);
	*out = s->s;
	return 0;
}

/* ---- plain JSON ---- */

const struct kt_dval *kt_dval_key(const struct kt_dval *v, const char *key, size_t n)
{
	if (!v || v->type != DV_OBJECT)
		return NULL;
	/* A key given twice: the last one, as jq and Python read it. */
	for (size_t i = v->n; i-- > 0;)
		if (strlen(v->keys[i]) == n && !memcmp(v->keys[i], key, n))
			return &v->items[i];
	return NULL;
}

const struct kt_dval *kt_dval_item(const struct kt_dval *v, size_t i)
{
	return v && v->type == DV_ARRAY && i < v->n ? &v->items[i] : NULL;
}

bool kt_dval_number(const struct kt_dval *v, double *out)
{
	switch (v ? v->type : DV_NULL) {
	case DV_INT:
		*out = (double)v->i;
		return true;
	case DV_UINT:
		*out = (double)v->u;
		return true;
	case DV_DOUBLE:
		*out = v->d;
		return true;
	default:
		return false;
	}
}

/* Through the JSON writer: the text parsed may hold bytes that are not
 * UTF-8, which must not reach a report raw. */
static void print_str(const char *s, size_t n, FILE *f)
{
	struct kt_json j;

	kt_json_init(&j, f, false);
	kt_json_strn(&j, s, n);
}

void kt_dval_print(const struct kt_dval *v, FILE *f)
{
	switch (v->type) {
	case DV_NULL:
		fputs("null", f);
		break;
	case DV_BOOL:
		fputs(v->b ? "true" : "false", f);
		break;
	case DV_INT:
		fprintf(f, "%" PRId64, v->i);
		break;
	case DV_UINT:
		fprintf(f, "%" PRIu64, v->u);
		break;
	case DV_DOUBLE:
		if (isfinite(v->d))
			fprintf(f, "%.17g", v->d);
		else
			fputs("null", f);
		break;
	case DV_STRING:
		print_str(v->s, v->n, f);
		break;
	case DV_ARRAY:
	case DV_OBJECT:
		fputc(v->type == DV_ARRAY ? '[' : '{', f);
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				fputc(',', f);
			if (v->type == DV_OBJECT) {
				print_str(v->keys[i], strlen(v->keys[i]), f);
				fputc(':', f);
			}
			kt_dval_print(&v->items[i], f);
		}
		fputc(v->type == DV_ARRAY ? ']' : '}', f);
		break;
	}
}
