#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"
#include "yamlx.h"

#define MAX_DEPTH 16 /* the scenario schema needs 7, the matrix's 6 */
#define MAX_ANCHORS 64

struct kt_yx {
	char *file;
	yaml_document_t doc;
	struct kt_err *err;
};

/* ---- nodes ---- */

const char *kt_yx_file(const struct kt_yx *c)
{
	return c->file;
}

yaml_node_t *kt_yx_root(struct kt_yx *c)
{
	return yaml_document_get_root_node(&c->doc);
}

yaml_node_t *kt_yx_node(struct kt_yx *c, int id)
{
	return yaml_document_get_node(&c->doc, id);
}

size_t kt_yx_seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

yaml_node_t *kt_yx_seq_item(struct kt_yx *c, const yaml_node_t *n, size_t i)
{
	return kt_yx_node(c, n->data.sequence.items.start[i]);
}

unsigned long kt_yx_line(const yaml_node_t *n)
{
	return (unsigned long)n->start_mark.line + 1;
}

const char *kt_yx_str(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

bool kt_yx_is_plain(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

bool kt_yx_is_null(const yaml_node_t *n)
{
	const char *v;

	if (!kt_yx_is_plain(n))
		return false;
	v = kt_yx_str(n);
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

const char *kt_yx_describe(const yaml_node_t *n, char *buf, size_t len)
{
	char v[48];

	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (kt_yx_is_null(n))
		return "nothing (null)";
	kt_printable_copy(kt_yx_str(n), n->data.scalar.length, v, sizeof(v));
	snprintf(buf, len, kt_yx_is_plain(n) ? "'%s'" : "the quoted string '%s'", v);
	return buf;
}

/* ---- errors and paths ---- */

int kt_yx_err(struct kt_yx *c, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
	char msg[KT_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kt_errf(c->err, "%s:%lu: %s%s%s", c->file, kt_yx_line(n), path, *path ? ": " : "",
		       msg);
}

int kt_yx_expected(struct kt_yx *c, const yaml_node_t *n, const char *path, const char *what)
{
	char d[64];

	return kt_yx_err(c, n, path, "expected %s, got %s", what, kt_yx_describe(n, d, sizeof(d)));
}

static void cut(char *buf, int n)
{
	if (n >= KT_YX_PATH_MAX)
		memcpy(buf + KT_YX_PATH_MAX - 4, "...", 4);
}

void kt_yx_join(char *buf, const char *path, const char *key)
{
	cut(buf, snprintf(buf, KT_YX_PATH_MAX, "%s%s%s", path, *path ? "." : "", key));
}

void kt_yx_join_index(char *buf, const char *path, size_t i)
{
	cut(buf, snprintf(buf, KT_YX_PATH_MAX, "%s[%zu]", path, i));
}

int kt_yx_missing(struct kt_yx *c, const yaml_node_t *parent, const char *path, const char *key)
{
	char p[KT_YX_PATH_MAX];

	kt_yx_join(p, path, key);
	return kt_yx_err(c, parent, p, "missing (required)");
}

/* ---- mappings and scalars ---- */

static int unknown_key(struct kt_yx *c, const yaml_node_t *key, const char *keypath,
		       const char *path, size_t nkeys, const char *list)
{
	const char *last = strrchr(path, '.');

	if (!nkeys)
		return kt_yx_err(c, key, keypath, "unknown key (%s takes no parameters)",
				 last ? last + 1 : path);
	return kt_yx_err(c, key, keypath, "unknown key (expected %s)", list);
}

int kt_yx_fields(struct kt_yx *c, const yaml_node_t *n, const char *path,
		 const char *const keys[], size_t nkeys, yaml_node_t *vals[])
{
	yaml_node_t *seen[KT_YX_MAX_FIELDS] = { 0 };
	char p[KT_YX_PATH_MAX], list[256] = "", k[48];
	yaml_node_pair_t *pair;
	size_t i;

	if (n->type != YAML_MAPPING_NODE)
		return kt_yx_expected(c, n, path, "a mapping");
	for (i = 0; i < nkeys; i++) {
		vals[i] = NULL;
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 keys[i]);
	}
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = kt_yx_node(c, pair->key);

		if (key->type != YAML_SCALAR_NODE)
			return kt_yx_err(c, key, path, "keys must be plain names, got %s",
					 key->type == YAML_MAPPING_NODE ? "a mapping" : "a list");
		for (i = 0; i < nkeys; i++)
			if (!strcmp(kt_yx_str(key), keys[i]) &&
			    strlen(keys[i]) == key->data.scalar.length)
				break;
		kt_printable_copy(kt_yx_str(key), key->data.scalar.length, k, sizeof(k));
		kt_yx_join(p, path, k);
		if (i == nkeys)
			return unknown_key(c, key, p, path, nkeys, list);
		if (seen[i])
			return kt_yx_err(c, key, p, "duplicate key (first at line %lu)",
					 kt_yx_line(seen[i]));
		seen[i] = key;
		vals[i] = kt_yx_node(c, pair->value);
	}
	return 0;
}

int kt_yx_uint(struct kt_yx *c, const yaml_node_t *n, const char *path, unsigned long min,
	       unsigned long max, unsigned long *out)
{
	const char *s;
	unsigned long v = 0;
	bool neg;

	if (!kt_yx_is_plain(n) || kt_yx_is_null(n))
		return kt_yx_expected(c, n, path, "an integer");
	s = kt_yx_str(n);
	neg = *s == '-';
	s += neg;
	if (!*s || strspn(s, "0123456789") != strlen(s))
		return kt_yx_expected(c, n, path, "an integer");
	for (; *s; s++)
		if (v <= max) /* past max it stays past max, without overflow */
			v = v * 10 + (unsigned long)(*s - '0');
	if ((neg && v) || v < min || v > max) {
		char d[64];

		return kt_yx_err(c, n, path, "%s is out of range (%lu..%lu)",
				 kt_yx_describe(n, d, sizeof(d)), min, max);
	}
	*out = v;
	return 0;
}

int kt_yx_u32(struct kt_yx *c, const yaml_node_t *n, const char *path, uint32_t min, uint32_t max,
	      uint32_t *out)
{
	unsigned long v;

	if (kt_yx_uint(c, n, path, min, max, &v))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int kt_yx_bool(struct kt_yx *c, const yaml_node_t *n, const char *path, bool *out)
{
	static const char *const t[] = { "true", "True", "TRUE" };
	static const char *const f[] = { "false", "False", "FALSE" };

	for (size_t i = 0; kt_yx_is_plain(n) && i < 3; i++) {
		if (!strcmp(kt_yx_str(n), t[i]) || !strcmp(kt_yx_str(n), f[i])) {
			*out = !strcmp(kt_yx_str(n), t[i]);
			return 0;
		}
	}
	return kt_yx_expected(c, n, path, "true or false");
}

int kt_yx_numeral(struct kt_yx *c, const yaml_node_t *n, const char *path, const char **out)
{
	if (!kt_yx_is_plain(n) || kt_yx_is_null(n) ||
	    strspn(kt_yx_str(n), "0123456789.eE+-") != strlen(kt_yx_str(n)))
		return kt_yx_expected(c, n, path, "a number");
	*out = kt_yx_str(n);
	return 0;
}

/* ---- loading ---- */

/* libyaml's reader errors carry a byte offset, not a mark. */
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
		offset_line(text, len, ps->problem_offset) :
		(unsigned long)ps->problem_mark.line + 1;

	if (ps->error == YAML_MEMORY_ERROR)
		return kt_errf(err, "%s: out of memory while parsing", file);
	if (ps->context)
		return kt_errf(err, "%s:%lu: YAML syntax error: %s (%s at line %lu)", file, line,
			       ps->problem ? ps->problem : "invalid", ps->context,
			       (unsigned long)ps->context_mark.line + 1);
	return kt_errf(err, "%s:%lu: YAML syntax error: %s", file, line,
		       ps->problem ? ps->problem : "invalid");
}

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

struct bounds {
	int depth, anchors, docs;
};

/* One event's contribution to the bounds; returns -1 when one is broken. */
static int bound_event(const yaml_event_t *ev, struct bounds *b, const char *file,
		       const struct kt_yx_kind *kind, struct kt_err *err)
{
	unsigned long line = (unsigned long)ev->start_mark.line + 1;

	if (event_anchor(ev) && ++b->anchors > MAX_ANCHORS)
		return kt_errf(err, "%s:%lu: more than %d anchors", file, line, MAX_ANCHORS);
	switch (ev->type) {
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (++b->depth > MAX_DEPTH)
			return kt_errf(err, "%s:%lu: nested deeper than %d levels", file, line,
				       MAX_DEPTH);
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		b->depth--;
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (++b->docs > 1)
			return kt_errf(err, "%s:%lu: a second YAML document: a %s file holds one",
				       file, line, kind->what);
		return 0;
	default:
		return 0;
	}
}

/* libyaml's scanner is quadratic in the nesting depth and its alias lookup
 * in the number of anchors, so a small hostile file could keep it busy for
 * minutes. A cheap event pass that stops early bounds both, and allows one
 * document, before the document is loaded. */
static int prescan(const char *text, size_t len, const char *file,
		   const struct kt_yx_kind *kind, struct kt_err *err)
{
	struct bounds b = { 0, 0, 0 };
	bool end = false;
	yaml_parser_t ps;
	yaml_event_t ev;
	int rc = 0;

	if (!yaml_parser_initialize(&ps))
		return kt_errf(err, "%s: out of memory", file);
	yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
	while (!end && !rc) {
		if (!yaml_parser_parse(&ps, &ev)) {
			rc = syntax_error(&ps, text, len, file, err);
			break;
		}
		end = ev.type == YAML_STREAM_END_EVENT;
		rc = bound_event(&ev, &b, file, kind, err);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&ps);
	return rc;
}

/* Load the single, non-empty document of TEXT into DOC. */
static int load(const char *text, size_t len, const char *file, const struct kt_yx_kind *kind,
		yaml_document_t *doc, struct kt_err *err)
{
	yaml_parser_t ps;
	int rc = 0;

	if (prescan(text, len, file, kind, err))
		return -1;
	if (!yaml_parser_initialize(&ps))
		return kt_errf(err, "%s: out of memory", file);
	yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
	if (!yaml_parser_load(&ps, doc)) {
		rc = syntax_error(&ps, text, len, file, err);
	} else if (!yaml_document_get_root_node(doc) ||
		   kt_yx_is_null(yaml_document_get_root_node(doc))) {
		yaml_document_delete(doc);
		rc = kt_errf(err, "%s:1: empty file (expected a mapping with %s)", file,
			     kind->expect);
	}
	yaml_parser_delete(&ps);
	return rc;
}

int kt_yx_open(const char *text, size_t len, const char *file, const struct kt_yx_kind *kind,
	       struct kt_yx **out, struct kt_err *err)
{
	struct kt_yx *c;

	*out = NULL;
	if (len > kind->max_bytes)
		return kt_errf(err, "%s: %zu bytes is more than the limit of %zu", file, len,
			       kind->max_bytes);
	c = kt_xcalloc(1, sizeof(*c));
	if (load(text, len, file, kind, &c->doc, err)) {
		free(c);
		return -1;
	}
	c->file = kt_xstrdup(file);
	c->err = err;
	*out = c;
	return 0;
}

void kt_yx_close(struct kt_yx *c)
{
	if (!c)
		return;
	yaml_document_delete(&c->doc);
	free(c->file);
	free(c);
}
