#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "qdump.h"
#include "query.h"
#include "util.h"

#define MAX_DEPTH 48        /* deeper trees print "..." (BTF nests far less) */
#define MAX_LINE_TEXT 400   /* a string value on one line, cut to this */

/* ---- fetching ---- */

static int db_err(struct kt_store *s, const char *what, struct kt_err *err)
{
	return kt_errf(err, "%s: %s", what, sqlite3_errmsg(kt_store_db(s)));
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? kt_xstrdup((const char *)t) : NULL;
}

/* Run SQL with ?1 = ID, ?2 = the attempt or TEXT; ROW (if any) handled by
 * FN. 1 when there was a row, 0 when none, -1 on error. */
static int one_row(struct kt_store *s, const char *sql, int64_t id, const char *text,
		   int64_t attempt, void (*fn)(sqlite3_stmt *, struct kt_qdump *),
		   struct kt_qdump *d, struct kt_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(kt_store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "preparing the dump query", err);
	sqlite3_bind_int64(st, 1, id);
	if (text)
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 2, attempt);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		fn(st, d);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(s, "reading the dump", err);
	return rc == SQLITE_ROW;
}

static void got_name(sqlite3_stmt *st, struct kt_qdump *d)
{
	d->entry = col_dup(st, 0);
}

static void got_dump(sqlite3_stmt *st, struct kt_qdump *d)
{
	d->attempt = (uint32_t)sqlite3_column_int64(st, 0);
	d->json = col_dup(st, 1);
	d->note = col_dup(st, 2);
	d->kernel_dump = col_dup(st, 3);
	d->klog_tail = col_dup(st, 4);
}

static void got_snapshot(sqlite3_stmt *st, struct kt_qdump *d)
{
	int64_t at = sqlite3_column_int64(st, 3);

	d->attempt = (uint32_t)sqlite3_column_int64(st, 0);
	d->json = col_dup(st, 1);
	d->note = col_dup(st, 2);
	d->at_ms = at > 0 ? (uint64_t)at : 0;
}

static void got_sched(sqlite3_stmt *st, struct kt_qdump *d)
{
	d->sched = col_dup(st, 0);
	d->enabled = sqlite3_column_int(st, 1) != 0;
	d->failure = col_dup(st, 2);
	d->exit_kind = sqlite3_column_int64(st, 3);
	d->reason = col_dup(st, 4);
	d->message = col_dup(st, 5);
}

static void got_names(sqlite3_stmt *st, struct kt_qdump *d)
{
	d->note = col_dup(st, 0); /* borrowed slot: the snapshot names */
}

/* Not found: the snapshot NAME, with the names the entry has. */
static int no_snapshot(struct kt_store *s, struct kt_qdump *d, const char *name,
		       struct kt_err *err)
{
	static const char names[] =
		"SELECT group_concat(name, ', ') FROM (SELECT DISTINCT name FROM snapshots"
		" WHERE entry_id = ?1 AND ?2 = ?2 ORDER BY name)";
	int r = one_row(s, names, d->entry_id, NULL, 0, got_names, d, err);

	if (r < 0)
		return -1;
	kt_errf(err, "entry \"%s\" (id %" PRId64 "): no snapshot \"%s\" (%s%s)", d->entry,
		d->entry_id, name, d->note ? "it has: " : "it has none",
		d->note ? d->note : "");
	return 1;
}

int kt_query_dump(struct kt_store *s, const char *entry, const char *snapshot,
		  struct kt_qdump **out, struct kt_err *err)
{
	/* The latest attempt with the JSON, else the latest with a kernel
	 * dump or a note; a log tail alone (a scheduler that ran fine) is
	 * no failure dump. */
	static const char dump_sql[] =
		"SELECT attempt, dump_json, note, kernel_dump, klog_tail FROM dumps"
		" WHERE entry_id = ?1 AND ?2 = ?2 AND (dump_json IS NOT NULL OR"
		" kernel_dump IS NOT NULL OR note IS NOT NULL)"
		" ORDER BY dump_json IS NOT NULL DESC, attempt DESC LIMIT 1";
	static const char snap_sql[] =
		"SELECT attempt, json, error, at_ms FROM snapshots WHERE entry_id = ?1 AND name = ?2"
		" ORDER BY json IS NOT NULL DESC, attempt DESC, idx DESC LIMIT 1";
	static const char sched_sql[] =
		"SELECT name, enabled, failure, exit_kind, reason, message FROM schedulers"
		" WHERE entry_id = ?1 AND attempt = ?2";
	struct kt_qdump *d = kt_xcalloc(1, sizeof(*d));
	int rc, found;

	*out = NULL;
	if ((rc = kt_query_entry_id(s, entry, &d->entry_id, err)))
		goto fail;
	rc = -1;
	if (one_row(s, "SELECT name FROM entries WHERE id = ?1 AND ?2 = ?2", d->entry_id, NULL, 0,
		    got_name, d, err) <= 0)
		goto fail;
	if (snapshot) {
		d->snapshot = kt_xstrdup(snapshot);
		found = one_row(s, snap_sql, d->entry_id, snapshot, 0, got_snapshot, d, err);
		if (found == 0) {
			rc = no_snapshot(s, d, snapshot, err);
			goto fail;
		}
	} else {
		found = one_row(s, dump_sql, d->entry_id, NULL, 0, got_dump, d, err);
		if (found == 0) {
			kt_errf(err, "entry \"%s\" (id %" PRId64 "): no failure dump stored (none of "
				"its attempts had a scheduler failure to dump)", d->entry,
				d->entry_id);
			rc = 1;
			goto fail;
		}
	}
	if (found < 0)
		goto fail;
	if (one_row(s, sched_sql, d->entry_id, NULL, d->attempt, got_sched, d, err) < 0) {
		rc = -1;
		goto fail;
	}
	*out = d;
	return 0;
fail:
	kt_qdump_free(d);
	return rc;
}

void kt_qdump_free(struct kt_qdump *d)
{
	if (!d)
		return;
	free(d->entry);
	free(d->snapshot);
	free(d->json);
	free(d->note);
	free(d->sched);
	free(d->failure);
	free(d->reason);
	free(d->message);
	free(d->kernel_dump);
	free(d->klog_tail);
	free(d);
}

/* ---- the JSON as a tree (from json_tree, in document order) ---- */

enum jtype { J_NULL, J_TRUE, J_FALSE, J_INT, J_REAL, J_TEXT, J_ARRAY, J_OBJECT };

struct jnode {
	int64_t id;
	enum jtype type;
	char *key;       /* member name, or array index as text */
	char *atom;      /* a primitive's value as text */
	size_t child;    /* first child's index + 1; 0 = none */
	size_t next;     /* next sibling's index + 1; 0 = none */
	size_t last;     /* (while building) last child's index + 1 */
};

struct jtree {
	struct jnode *n;
	size_t len;
};

static enum jtype jtype_of(const char *t)
{
	static const char *const names[] = { "null", "true", "false", "integer", "real",
					     "text", "array", "object" };

	for (size_t i = 0; t && i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(t, names[i]))
			return (enum jtype)i;
	return J_NULL;
}

/* The index of node ID; rows come in increasing id order. */
static size_t find_id(const struct jtree *t, int64_t id)
{
	size_t lo = 0, hi = t->len;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t->n[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void tree_free(struct jtree *t)
{
	for (size_t i = 0; i < t->len; i++) {
		free(t->n[i].key);
		free(t->n[i].atom);
	}
	free(t->n);
}

static int tree_load(struct kt_store *s, const char *json, struct jtree *t, struct kt_err *err)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;

	memset(t, 0, sizeof(*t));
	if (sqlite3_prepare_v2(kt_store_db(s),
			       "SELECT id, parent, key, type, atom FROM json_tree(?1) ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "preparing json_tree", err);
	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct jnode *n;

		if (t->len == cap) {
			cap = cap ? cap * 2 : 256;
			t->n = kt_xrealloc(t->n, cap * sizeof(*t->n));
		}
		n = &t->n[t->len];
		memset(n, 0, sizeof(*n));
		n->id = sqlite3_column_int64(st, 0);
		n->type = jtype_of((const char *)sqlite3_column_text(st, 3));
		n->key = col_dup(st, 2);
		if (n->type < J_ARRAY)
			n->atom = col_dup(st, 4);
		if (t->len && sqlite3_column_type(st, 1) != SQLITE_NULL) {
			size_t p = find_id(t, sqlite3_column_int64(st, 1));

			if (p < t->len) {
				if (t->n[p].last)
					t->n[t->n[p].last - 1].next = t->len + 1;
				else
					t->n[p].child = t->len + 1;
				t->n[p].last = t->len + 1;
			}
		}
		t->len++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		tree_free(t);
		return kt_errf(err, "the dump is not valid JSON (%s)",
			       sqlite3_errmsg(kt_store_db(s)));
	}
	if (!t->len) {
		tree_free(t);
		return kt_errf(err, "the dump is empty");
	}
	return 0;
}

static const struct jnode *first(const struct jtree *t, const struct jnode *n)
{
	return n && n->child ? &t->n[n->child - 1] : NULL;
}

static const struct jnode *next(const struct jtree *t, const struct jnode *n)
{
	return n->next ? &t->n[n->next - 1] : NULL;
}

/* Member KEY of object N, or NULL. */
static const struct jnode *member(const struct jtree *t, const struct jnode *n, const char *key)
{
	if (!n || n->type != J_OBJECT)
		return NULL;
	for (const struct jnode *c = first(t, n); c; c = next(t, c))
		if (c->key && !strcmp(c->key, key))
			return c;
	return NULL;
}

static const char *text_of(const struct jtree *t, const struct jnode *n, const char *key)
{
	const struct jnode *m = member(t, n, key);

	return m && m->type == J_TEXT && m->atom ? m->atom : NULL;
}

static bool primitive(const struct jnode *n)
{
	return n && n->type < J_ARRAY;
}

/* ---- printing ---- */

/* Untrusted text, printable ASCII only, cut to MAX bytes. */
static void put_clean(FILE *f, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s && s[i] && i < max; i++)
		fputc(s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?', f);
	if (s && s[i])
		fputs("...", f);
}

/* A primitive as a value: strings quoted (unless BARE), others as is. */
static void put_atom(FILE *f, const struct jnode *n, bool bare)
{
	switch (n->type) {
	case J_NULL: fputs("null", f); break;
	case J_TRUE: fputs("true", f); break;
	case J_FALSE: fputs("false", f); break;
	case J_TEXT:
		if (!bare)
			fputc('"', f);
		put_clean(f, n->atom, MAX_LINE_TEXT);
		if (!bare)
			fputc('"', f);
		break;
	default:
		put_clean(f, n->atom, 64);
	}
}

/* Whether N prints on one line: a primitive, or a typed scalar
 * {kind, value[, name]}. */
static bool is_scalar(const struct jtree *t, const struct jnode *n)
{
	return primitive(n) || (primitive(member(t, n, "value")) && !member(t, n, "members"));
}

/* Whether KIND's text values are numbers or names (0x... of wide ints and
 * pointers, enumerators): printed bare. Strings are quoted. */
static bool bare_kind(const char *kind)
{
	static const char *const bare[] = { "uint", "int", "ptr", "func_ptr", "enum", "float",
					     "char", "bool" };

	for (size_t i = 0; kind && i < sizeof(bare) / sizeof(bare[0]); i++)
		if (!strcmp(kind, bare[i]))
			return true;
	return false;
}

/* Scalar N as one value (btf_render.h's leaves). An enum shows its
 * enumerator and its raw value: "FIFO (2)". */
static void put_scalar(FILE *f, const struct jtree *t, const struct jnode *n)
{
	const struct jnode *v, *raw;
	const char *kind;

	if (primitive(n)) {
		put_atom(f, n, false);
		return;
	}
	v = member(t, n, "value");
	kind = text_of(t, n, "kind");
	put_atom(f, v, bare_kind(kind));
	raw = member(t, n, "raw");
	if (kind && !strcmp(kind, "enum") && primitive(raw) && v->type == J_TEXT) {
		fputs(" (", f);
		put_atom(f, raw, true);
		fputc(')', f);
	}
}

static void indent(FILE *f, int depth)
{
	for (int i = 0; i < depth; i++)
		fputs("  ", f);
}

/* The children of a typed array (a node with a "kind"): its first array
 * member that is not "members" (elems, elements, items, values ...). */
static const struct jnode *elems_of(const struct jtree *t, const struct jnode *n)
{
	if (!member(t, n, "kind"))
		return NULL;
	for (const struct jnode *c = first(t, n); c; c = next(t, c))
		if (c->type == J_ARRAY && c->key && strcmp(c->key, "members"))
			return c;
	return NULL;
}

static void put_tree(FILE *f, const struct jtree *t, const struct jnode *n, const char *label,
		     int depth);

/* "LABEL (TYPE_NAME):" and the children of container N at DEPTH + 1. */
static void put_children(FILE *f, const struct jtree *t, const struct jnode *n,
			 const struct jnode *kids, const char *label, int depth)
{
	const char *tn = text_of(t, n, "type_name"), *kind = text_of(t, n, "kind");
	const struct jnode *tr;
	char idx[32];
	size_t i = 0;

	if ((!tn || !*tn) && kind && !strcmp(kind, "union"))
		tn = "union"; /* an anonymous union says what it is */
	indent(f, depth);
	put_clean(f, label, 128);
	if (tn && *tn) {
		fputs(" (", f);
		put_clean(f, tn, 128);
		fputc(')', f);
	}
	fputs(":\n", f);
	if (!first(t, kids)) {
		indent(f, depth + 1);
		fputs("(empty)\n", f);
	}
	for (const struct jnode *c = first(t, kids); c; c = next(t, c), i++) {
		const struct jnode *v = member(t, c, "value");
		const char *name = text_of(t, c, "name");

		if (kids->type == J_OBJECT) {
			put_tree(f, t, c, c->key ? c->key : "?", depth + 1);
		} else if (name && v && member(t, n, "members") == kids) {
			/* a struct member; an anonymous one has "name": "" */
			put_tree(f, t, v, *name ? name : "(anonymous)", depth + 1);
		} else {
			snprintf(idx, sizeof(idx), "[%zu]", i);
			put_tree(f, t, c, idx, depth + 1);
		}
	}
	tr = member(t, n, "truncated");
	if (tr && tr->type == J_INT && tr->atom && strcmp(tr->atom, "0")) {
		indent(f, depth + 1);
		fprintf(f, "(%s more not shown)\n", tr->atom);
	}
}

/* Value N as "LABEL = value" or a block of indented children. */
static void put_tree(FILE *f, const struct jtree *t, const struct jnode *n, const char *label,
		     int depth)
{
	const struct jnode *kids;

	if (depth > MAX_DEPTH) {
		indent(f, depth);
		fputs("...\n", f);
		return;
	}
	if (is_scalar(t, n)) {
		indent(f, depth);
		put_clean(f, label, 128);
		fputs(" = ", f);
		put_scalar(f, t, n);
		fputc('\n', f);
		return;
	}
	if (n->type == J_ARRAY) {
		put_children(f, t, n, n, label, depth);
		return;
	}
	if ((kids = member(t, n, "members")) || (kids = elems_of(t, n))) {
		put_children(f, t, n, kids, label, depth);
		return;
	}
	if ((kids = member(t, n, "value")) && !primitive(kids)) {
		put_tree(f, t, kids, label, depth);
		return;
	}
	put_children(f, t, n, n, label, depth); /* any other object: key by key */
}

/* A map's key as a label: "[0]", "[42]", or "[?]" for a compound key
 * (printed in full below it). */
static void key_label(const struct jtree *t, const struct jnode *k, char *buf, size_t len)
{
	const struct jnode *v = primitive(k) ? k : member(t, k, "value");

	if (primitive(v) && v->atom && strlen(v->atom) < 64)
		snprintf(buf, len, "[%s]", v->atom);
	else
		snprintf(buf, len, "[?]");
}

static void put_num(FILE *f, const struct jtree *t, const struct jnode *map, const char *key,
		    const char *fmt_before, const char *fmt_after)
{
	const struct jnode *v = member(t, map, key);

	if (!primitive(v))
		return;
	fputs(fmt_before, f);
	put_atom(f, v, true);
	fputs(fmt_after, f);
}

/* One map: a header line, then entry by entry its value tree. */
static void put_map(FILE *f, const struct jtree *t, const struct jnode *map)
{
	const struct jnode *entries = member(t, map, "entries"), *tr = member(t, map, "truncated");
	const char *name = text_of(t, map, "name"), *type = text_of(t, map, "map_type");
	const struct jnode *flags = member(t, map, "map_flags");
	char label[96];

	fputs("map ", f);
	put_clean(f, name ? name : "?", 128);
	fputs(" (", f);
	put_clean(f, type ? type : "?", 64);
	put_num(f, t, map, "id", ", id ", "");
	put_num(f, t, map, "key_size", ", key ", " B");
	put_num(f, t, map, "value_size", ", value ", " B");
	put_num(f, t, map, "max_entries", ", max_entries ", "");
	if (flags && flags->type == J_INT && flags->atom)
		fprintf(f, ", flags 0x%" PRIx64, (uint64_t)strtoll(flags->atom, NULL, 10));
	fputs(")\n", f);
	if (text_of(t, map, "skipped")) {
		fputs("  (skipped: ", f);
		put_clean(f, text_of(t, map, "skipped"), 256);
		fputs(")\n", f);
	} else if (!entries || entries->type != J_ARRAY || !first(t, entries)) {
		fputs("  (no entries)\n", f);
	}
	for (const struct jnode *e = entries ? first(t, entries) : NULL; e; e = next(t, e)) {
		const struct jnode *k = member(t, e, "key"), *v = member(t, e, "value"),
				  *pc = member(t, e, "percpu");

		key_label(t, k, label, sizeof(label));
		if (k && !primitive(k) && !is_scalar(t, k))
			put_tree(f, t, k, "key", 1);
		if (pc && pc->type == J_ARRAY) {
			size_t cpu = 0;

			fprintf(f, "  %s:\n", label);
			for (const struct jnode *c = first(t, pc); c; c = next(t, c), cpu++) {
				char cl[32];

				snprintf(cl, sizeof(cl), "cpu %zu", cpu);
				put_tree(f, t, c, cl, 2);
			}
		} else if (v) {
			put_tree(f, t, v, label, 1);
		} else {
			put_tree(f, t, e, label, 1);
		}
		if (text_of(t, e, "error")) {
			fputs("    (could not render: ", f);
			put_clean(f, text_of(t, e, "error"), 256);
			fputs(")\n", f);
		}
	}
	put_num(f, t, map, "entries_dropped", "  (entries dropped: ", ")\n");
	if (tr && tr->type == J_TRUE)
		fputs("  (truncated: the map held more than the dump shows)\n", f);
	else if (tr && tr->type == J_INT)
		fprintf(f, "  (truncated: %s more entries)\n", tr->atom ? tr->atom : "?");
}

/* A dump of guest/mapdump.h's shape map by map; anything else as a tree. */
static void put_dump(FILE *f, const struct jtree *t)
{
	const struct jnode *root = &t->n[0], *maps = member(t, root, "maps"),
			  *errs = member(t, root, "errors");

	if (!maps || maps->type != J_ARRAY) {
		put_tree(f, t, root, "dump", 0);
		return;
	}
	if (text_of(t, root, "schema")) {
		fputs("schema ", f);
		put_clean(f, text_of(t, root, "schema"), 64);
		fputc('\n', f);
	}
	if (!first(t, maps))
		fputs("(no maps)\n", f);
	for (const struct jnode *m = first(t, maps); m; m = next(t, m))
		put_map(f, t, m);
	for (const struct jnode *c = first(t, root); c; c = next(t, c)) {
		if (!c->key || !strcmp(c->key, "schema") || !strcmp(c->key, "maps") ||
		    !strcmp(c->key, "errors"))
			continue;
		put_tree(f, t, c, c->key, 0);
	}
	if (errs && errs->type == J_ARRAY && first(t, errs)) {
		fputs("errors:\n", f);
		for (const struct jnode *e = first(t, errs); e; e = next(t, e)) {
			fputs("  ", f);
			put_scalar(f, t, e);
			fputc('\n', f);
		}
	}
}

/* Untrusted multi-line text as a block. */
static void put_block(FILE *f, const char *title, const char *s)
{
	size_t n;

	if (!s || !*s)
		return;
	fprintf(f, "\n== %s ==\n", title);
	for (n = 0; s[n]; n++)
		fputc((s[n] >= 0x20 && s[n] < 0x7f) || s[n] == '\n' || s[n] == '\t' ? s[n] : '?', f);
	if (s[n - 1] != '\n')
		fputc('\n', f);
}

static void put_header(FILE *f, const struct kt_qdump *d)
{
	fprintf(f, "entry %" PRId64 " ", d->entry_id);
	put_clean(f, d->entry, 512);
	fprintf(f, ", attempt %u\n", d->attempt);
	if (d->sched) {
		fputs("scheduler ", f);
		put_clean(f, d->sched, 128);
		fputs(d->enabled ? ": enabled" : ": never enabled", f);
		if (d->failure) {
			fputs(", failed: ", f);
			put_clean(f, d->failure, 64);
		}
		if (d->exit_kind) {
			fprintf(f, ", exit kind %" PRId64 " (", d->exit_kind);
			put_clean(f, d->reason ? d->reason : "", 256);
			fputc(')', f);
		}
		if (d->message && *d->message) {
			fputs(": ", f);
			put_clean(f, d->message, 1024);
		}
		fputc('\n', f);
	}
	if (d->snapshot) {
		fputs("snapshot ", f);
		put_clean(f, d->snapshot, 256);
		fprintf(f, " at %" PRIu64 " ms\n", d->at_ms);
	} else {
		fputs("failure dump\n", f);
	}
	if (d->note) {
		fputs(d->snapshot ? "capture failed: " : "note: ", f);
		put_clean(f, d->note, 1024);
		fputc('\n', f);
	}
	fputc('\n', f);
}

int kt_qdump_print(struct kt_store *s, const struct kt_qdump *d, FILE *f, struct kt_err *err)
{
	struct jtree t;

	put_header(f, d);
	if (d->json) {
		if (tree_load(s, d->json, &t, err))
			return -1;
		put_dump(f, &t);
		tree_free(&t);
	} else {
		fputs("(no map dump stored)\n", f);
	}
	put_block(f, "sched_ext dump", d->kernel_dump);
	put_block(f, "kernel log tail", d->klog_tail);
	return 0;
}
