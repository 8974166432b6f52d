#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "json.h"
#include "query.h"
#include "util.h"

#define MAX_SECTIONS 8
#define CELL_WIDTH 60       /* table cells are cut to this, the last column */
#define LAST_CELL_WIDTH 160 /* (a message, mostly) to this */
#define RECENT 20           /* history: statuses shown as letters */

enum sec_kind { SEC_TABLE, SEC_RECORD, SEC_TEXT };

struct cell {
	int type;  /* SQLITE_NULL, SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT */
	int64_t i;
	double d;
	char *s;   /* the text of every non-NULL cell */
};

struct section {
	char *name;
	enum sec_kind kind;
	size_t ncols;
	char **cols;
	size_t nrows, cap;
	struct cell *cells; /* nrows * ncols */
};

struct kt_qreport {
	size_t n;
	struct section sec[MAX_SECTIONS];
};

/* Positional parameters shared by every query's SQL. */
enum { P_SINCE = 1, P_KERNEL, P_SCHED, P_TEST, P_TOPO, P_LIMIT, P_ARG };

/* Which filters a query applies. */
enum {
	F_KERNEL = 1 << 0,
	F_SCHED = 1 << 1,
	F_TEST = 1 << 2,
	F_TOPO = 1 << 3,
};

/* ---- reports ---- */

static struct section *sec_add(struct kt_qreport *r, const char *name, enum sec_kind kind,
			       size_t ncols, const char *const *cols)
{
	struct section *sec = &r->sec[r->n++];

	sec->name = kt_xstrdup(name);
	sec->kind = kind;
	sec->ncols = ncols;
	sec->cols = kt_xcalloc(ncols, sizeof(char *));
	for (size_t i = 0; i < ncols; i++)
		sec->cols[i] = kt_xstrdup(cols[i]);
	return sec;
}

/* A new row of NULL cells. */
static struct cell *sec_row(struct section *sec)
{
	if (sec->nrows == sec->cap) {
		size_t cap = sec->cap ? sec->cap * 2 : 16;
		struct cell *c = reallocarray(sec->cells, cap * sec->ncols, sizeof(*c));

		if (!c) {
			fprintf(stderr, "out of memory\n");
			abort();
		}
		sec->cells = c;
		sec->cap = cap;
	}
	memset(&sec->cells[sec->nrows * sec->ncols], 0, sec->ncols * sizeof(struct cell));
	return &sec->cells[sec->nrows++ * sec->ncols];
}

static void cell_int(struct cell *c, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	c->type = SQLITE_INTEGER;
	c->i = v;
	c->s = kt_xstrdup(buf);
}

static void cell_text(struct cell *c, const char *s)
{
	c->type = SQLITE_TEXT;
	c->s = kt_xstrdup(s);
}

static void cell_from(struct cell *c, sqlite3_stmt *st, int i)
{
	const unsigned char *t;
	int n;

	c->type = sqlite3_column_type(st, i);
	if (c->type == SQLITE_NULL)
		return;
	if (c->type == SQLITE_BLOB)
		c->type = SQLITE_TEXT;
	c->i = sqlite3_column_int64(st, i);
	c->d = sqlite3_column_double(st, i);
	t = sqlite3_column_text(st, i);
	n = sqlite3_column_bytes(st, i);
	c->s = kt_xcalloc((size_t)n + 1, 1);
	if (t)
		memcpy(c->s, t, (size_t)n);
}

static void sec_free(struct section *sec)
{
	for (size_t i = 0; i < sec->nrows * sec->ncols; i++)
		free(sec->cells[i].s);
	for (size_t i = 0; i < sec->ncols; i++)
		free(sec->cols[i]);
	free(sec->cells);
	free(sec->cols);
	free(sec->name);
}

void kt_qreport_free(struct kt_qreport *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		sec_free(&r->sec[i]);
	free(r);
}

static const struct section *sec_find(const struct kt_qreport *r, const char *name)
{
	for (size_t i = 0; r && i < r->n; i++)
		if (!name || !strcmp(r->sec[i].name, name))
			return &r->sec[i];
	return NULL;
}

size_t kt_qreport_rows(const struct kt_qreport *r, const char *section)
{
	const struct section *sec = sec_find(r, section);

	return sec ? sec->nrows : 0;
}

const char *kt_qreport_cell(const struct kt_qreport *r, const char *section, size_t row,
			    const char *col)
{
	const struct section *sec = sec_find(r, section);

	if (!sec || row >= sec->nrows)
		return NULL;
	for (size_t i = 0; i < sec->ncols; i++)
		if (!strcmp(sec->cols[i], col))
			return sec->cells[row * sec->ncols + i].s;
	return NULL;
}

/* ---- SQL ---- */

static int db_err(struct kt_store *s, const char *what, struct kt_err *err)
{
	return kt_errf(err, "%s: %s", what, sqlite3_errmsg(kt_store_db(s)));
}

/* Append the WHERE terms of the filters in MASK that F sets. */
static void filter_sql(char *sql, size_t len, const struct kt_qfilter *f, unsigned mask)
{
	size_t off = strlen(sql);

	if ((mask & F_KERNEL) && f->kernel)
		off += snprintf(sql + off, len - off, " AND (e.kernel_label = ?%d OR"
				" substr(e.kernel_sha, 1, length(?%d)) = ?%d)",
				P_KERNEL, P_KERNEL, P_KERNEL);
	if ((mask & F_SCHED) && f->scheduler && off < len)
		off += snprintf(sql + off, len - off, " AND (e.scheduler = ?%d OR"
				" e.scheduler || ':' || e.profile = ?%d)", P_SCHED, P_SCHED);
	if ((mask & F_TEST) && f->test && off < len)
		off += snprintf(sql + off, len - off, " AND e.test = ?%d", P_TEST);
	if ((mask & F_TOPO) && f->topology && off < len)
		snprintf(sql + off, len - off, " AND e.topology = ?%d", P_TOPO);
}

/* Bind S to ?I when set and when the statement has that parameter. */
static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
	if (s && i <= sqlite3_bind_parameter_count(st))
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Prepare SQL and bind the filter parameters it uses, and ARG as ?7. */
static sqlite3_stmt *prepare(struct kt_store *s, const char *sql, const struct kt_qfilter *f,
			     const char *arg, struct kt_err *err)
{
	sqlite3_stmt *st;
	int n;

	if (sqlite3_prepare_v2(kt_store_db(s), sql, -1, &st, NULL) != SQLITE_OK) {
		db_err(s, "preparing a query", err);
		return NULL;
	}
	n = sqlite3_bind_parameter_count(st);
	if (f && n >= P_SINCE)
		sqlite3_bind_int64(st, P_SINCE, f->since > INT64_MAX ? INT64_MAX : (int64_t)f->since);
	if (f) {
		bind_opt(st, P_KERNEL, f->kernel);
		bind_opt(st, P_SCHED, f->scheduler);
		bind_opt(st, P_TEST, f->test);
		bind_opt(st, P_TOPO, f->topology);
	}
	if (f && n >= P_LIMIT)
		sqlite3_bind_int64(st, P_LIMIT, f->limit ? (int64_t)f->limit : -1);
	bind_opt(st, P_ARG, arg);
	return st;
}

/* Run ST (finalized here) into a new section NAME of R, columns named by
 * the SQL. */
static int add_rows(struct kt_store *s, struct kt_qreport *r, const char *name,
		    enum sec_kind kind, sqlite3_stmt *st, struct kt_err *err)
{
	int ncols = sqlite3_column_count(st), rc;
	const char *cols[64];
	struct section *sec;

	for (int i = 0; i < ncols && i < 64; i++)
		cols[i] = sqlite3_column_name(st, i);
	sec = sec_add(r, name, kind, ncols < 64 ? (size_t)ncols : 64, cols);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct cell *c = sec_row(sec);

		for (size_t i = 0; i < sec->ncols; i++)
			cell_from(&c[i], st, (int)i);
	}
	if (rc != SQLITE_DONE)
		db_err(s, name, err);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int add_query(struct kt_store *s, struct kt_qreport *r, const char *name,
		     enum sec_kind kind, const char *sql, const struct kt_qfilter *f,
		     const char *arg, struct kt_err *err)
{
	sqlite3_stmt *st = prepare(s, sql, f, arg, err);

	return st ? add_rows(s, r, name, kind, st, err) : -1;
}

/* A report of one table from SQL; the common case. */
static int one_table(struct kt_store *s, const char *name, const char *sql,
		     const struct kt_qfilter *f, const char *arg, struct kt_qreport **out,
		     struct kt_err *err)
{
	struct kt_qreport *r = kt_xcalloc(1, sizeof(*r));

	if (add_query(s, r, name, SEC_TABLE, sql, f, arg, err)) {
		kt_qreport_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

/* ---- queries ---- */

int kt_query_runs(struct kt_store *s, const struct kt_qfilter *f, struct kt_qreport **out,
		  struct kt_err *err)
{
	char sql[2048];

	*out = NULL;
	snprintf(sql, sizeof(sql),
		 "SELECT r.id, r.name, r.state, r.priority, r.submitted_at, r.finished_at,"
		 " count(e.id) AS entries,"
		 " coalesce(sum(e.final_status = 'pass'), 0) AS pass,"
		 " coalesce(sum(e.final_status = 'fail'), 0) AS fail,"
		 " coalesce(sum(e.final_status = 'error'), 0) AS error,"
		 " coalesce(sum(e.final_status = 'infra'), 0) AS infra,"
		 " coalesce(sum(e.final_status = 'skip'), 0) AS skip,"
		 " coalesce(sum(e.state IN ('queued', 'running')), 0) AS pending,"
		 " coalesce(sum(e.state = 'cancelled'), 0) AS cancelled"
		 " FROM runs r LEFT JOIN entries e ON e.run_id = r.id"
		 " WHERE %s GROUP BY r.id ORDER BY r.id DESC LIMIT ?%d",
		 f->since ? "r.submitted_at >= ?1" : "1", P_LIMIT);
	return one_table(s, "runs", sql, f, NULL, out, err);
}

int kt_query_failures(struct kt_store *s, const struct kt_qfilter *f, struct kt_qreport **out,
		      struct kt_err *err)
{
	char sql[2048];

	*out = NULL;
	snprintf(sql, sizeof(sql),
		 "SELECT r.stored_at, e.id AS entry, e.run_id AS run, e.name, e.test,"
		 " e.kernel_label AS kernel, e.scheduler || ':' || e.profile AS scheduler,"
		 " e.topology, r.attempt, r.status, r.signature, r.message"
		 " FROM results r JOIN entries e ON e.id = r.entry_id"
		 " WHERE r.status IN ('fail', 'error')%s",
		 f->since ? " AND r.stored_at >= ?1" : "");
	filter_sql(sql, sizeof(sql), f, F_KERNEL | F_SCHED | F_TEST | F_TOPO);
	snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql),
		 " ORDER BY r.stored_at DESC, e.id DESC LIMIT ?%d", P_LIMIT);
	return one_table(s, "failures", sql, f, NULL, out, err);
}

int kt_query_failure_groups(struct kt_store *s, const struct kt_qfilter *f,
			    struct kt_qreport **out, struct kt_err *err)
{
	char sql[2048];

	*out = NULL;
	/* The bare e.name comes from the row with max(r.stored_at): the
	 * latest example of each signature. */
	snprintf(sql, sizeof(sql),
		 "SELECT r.signature, count(*) AS occurrences,"
		 " count(DISTINCT e.id) AS entries, count(DISTINCT e.test) AS tests,"
		 " count(DISTINCT e.kernel_label) AS kernels,"
		 " count(DISTINCT e.scheduler || ':' || e.profile) AS schedulers,"
		 " min(r.stored_at) AS first_at, max(r.stored_at) AS last_at, e.name AS latest"
		 " FROM results r JOIN entries e ON e.id = r.entry_id"
		 " WHERE r.status IN ('fail', 'error') AND r.signature IS NOT NULL%s",
		 f->since ? " AND r.stored_at >= ?1" : "");
	filter_sql(sql, sizeof(sql), f, F_KERNEL | F_SCHED | F_TEST | F_TOPO);
	snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql),
		 " GROUP BY r.signature ORDER BY 2 DESC, 1 LIMIT ?%d", P_LIMIT);
	return one_table(s, "failure_groups", sql, f, NULL, out, err);
}

static char status_letter(const char *s)
{
	if (!s)
		return '?';
	if (!strcmp(s, "pass"))
		return 'P';
	if (!strcmp(s, "fail"))
		return 'F';
	if (!strcmp(s, "error"))
		return 'E';
	if (!strcmp(s, "infra"))
		return 'I';
	if (!strcmp(s, "skip"))
		return 'S';
	return '?';
}

static bool same_text(sqlite3_stmt *st, int i, const struct cell *c)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	return t && c->s && !strcmp(t, c->s);
}

enum { H_KERNEL, H_SCHED, H_TOPO, H_RUNS, H_PASS, H_FAIL, H_ERROR, H_INFRA, H_SKIP,
       H_RECENT, H_LAST, H_COLS };

/* Fold one finished entry (kernel, scheduler, topology, status, time) into
 * the history row it belongs to; rows arrive grouped and in time order. */
static void history_add(struct section *sec, sqlite3_stmt *st, char *recent, size_t *nrecent)
{
	struct cell *c = sec->nrows ? &sec->cells[(sec->nrows - 1) * sec->ncols] : NULL;
	char letter = status_letter((const char *)sqlite3_column_text(st, 3));
	const char *p;

	if (!c || !same_text(st, 0, &c[H_KERNEL]) || !same_text(st, 1, &c[H_SCHED]) ||
	    !same_text(st, 2, &c[H_TOPO])) {
		c = sec_row(sec);
		for (int i = 0; i < 3; i++)
			cell_from(&c[i], st, i);
		for (int i = H_RUNS; i <= H_SKIP; i++)
			cell_int(&c[i], 0);
		*nrecent = 0;
	}
	c[H_RUNS].i++;
	p = strchr("PFEIS", letter);
	if (p)
		c[H_PASS + (p - "PFEIS")].i++;
	if (*nrecent == RECENT) {
		memmove(recent, recent + 1, RECENT - 1);
		(*nrecent)--;
	}
	recent[(*nrecent)++] = letter;
	recent[*nrecent] = 0;
	free(c[H_RECENT].s);
	cell_text(&c[H_RECENT], recent);
	free(c[H_LAST].s);
	cell_from(&c[H_LAST], st, 4);
}

/* The counters were bumped in .i; their text follows. */
static void history_finish(struct section *sec)
{
	for (size_t r = 0; r < sec->nrows; r++) {
		struct cell *c = &sec->cells[r * sec->ncols];

		for (int i = H_RUNS; i <= H_SKIP; i++) {
			int64_t v = c[i].i;

			free(c[i].s);
			cell_int(&c[i], v);
		}
	}
}

int kt_query_history(struct kt_store *s, const char *test, const struct kt_qfilter *f,
		     struct kt_qreport **out, struct kt_err *err)
{
	static const char *const cols[H_COLS] = { "kernel", "scheduler", "topology", "runs",
		"pass", "fail", "error", "infra", "skip", "recent", "last_at" };
	char sql[2048], recent[RECENT + 1] = "";
	size_t nrecent = 0;
	struct kt_qreport *r;
	struct section *sec;
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	snprintf(sql, sizeof(sql),
		 "SELECT e.kernel_label, e.scheduler || ':' || e.profile, e.topology,"
		 " e.final_status, e.finished_at FROM entries e"
		 " WHERE e.test = ?%d AND e.state = 'done' AND e.final_status IS NOT NULL%s",
		 P_ARG, f->since ? " AND e.finished_at >= ?1" : "");
	filter_sql(sql, sizeof(sql), f, F_KERNEL | F_SCHED | F_TOPO);
	snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql),
		 " ORDER BY 1, 2, 3, e.finished_at, e.id");
	if (!(st = prepare(s, sql, f, test, err)))
		return -1;
	r = kt_xcalloc(1, sizeof(*r));
	sec = sec_add(r, "history", SEC_TABLE, H_COLS, cols);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		history_add(sec, st, recent, &nrecent);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		kt_qreport_free(r);
		return db_err(s, "history", err);
	}
	if (!sec->nrows) {
		kt_qreport_free(r);
		kt_errf(err, "test \"%s\": no finished entries", test);
		return 1;
	}
	history_finish(sec);
	*out = r;
	return 0;
}

int kt_query_entry_id(struct kt_store *s, const char *entry, int64_t *id, struct kt_err *err)
{
	const char *sql = "SELECT id FROM entries WHERE name = ?7 ORDER BY id DESC LIMIT 1";
	bool digits = *entry != 0;
	sqlite3_stmt *st;
	int rc;

	for (const char *p = entry; *p; p++)
		digits &= isdigit((unsigned char)*p) != 0;
	if (digits && strlen(entry) < 19)
		sql = "SELECT id FROM entries WHERE id = CAST(?7 AS INTEGER)";
	if (!(st = prepare(s, sql, NULL, entry, err)))
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE) {
		kt_errf(err, "entry \"%s\": no such entry (an id or an exact name)", entry);
		return 1;
	}
	return rc == SQLITE_ROW ? 0 : db_err(s, "looking up the entry", err);
}

int kt_query_show(struct kt_store *s, const char *entry, struct kt_qreport **out,
		  struct kt_err *err)
{
	/* ?7: the entry id; the result shown is its latest attempt's. */
	static const char head[] =
		"SELECT e.id, e.run_id AS run, e.name, e.test, e.scenario, e.topology,"
		" e.scheduler, e.profile, e.kernel_label AS kernel, e.kernel_sha, e.vcpus,"
		" e.memory_mb, e.state, e.final_status, e.final_message, e.attempt AS attempts,"
		" e.infra_tries, e.finished_at, r.attempt, r.worker_id AS worker, r.status,"
		" r.signature, r.message, r.accel, r.boot_ms, r.run_ms, r.total_ms,"
		" r.guest_kernel, r.guest_topology, r.started_at, r.ended_at, r.stored_at"
		" FROM entries e LEFT JOIN results r ON r.entry_id = e.id AND r.attempt ="
		" (SELECT max(attempt) FROM results WHERE entry_id = e.id)"
		" WHERE e.id = ?7";
	static const char attempts[] =
		"SELECT a.attempt, a.worker_id AS worker, a.assigned_at, a.ended_at,"
		" a.end_reason, r.status, r.signature FROM attempts a LEFT JOIN results r"
		" ON r.entry_id = a.entry_id AND r.attempt = a.attempt"
		" WHERE a.entry_id = ?7 ORDER BY a.attempt";
	static const char latest[] =
		"(SELECT max(attempt) FROM results WHERE entry_id = ?7)";
	char checks[512], workers[512], console[256], logs[256], sched[512], snaps[512], id[24];
	struct kt_qreport *r;
	int64_t eid = 0;
	int rc;

	*out = NULL;
	if ((rc = kt_query_entry_id(s, entry, &eid, err)))
		return rc;
	snprintf(id, sizeof(id), "%" PRId64, eid);
	snprintf(checks, sizeof(checks),
		 "SELECT name, CASE WHEN passed THEN 'pass' ELSE 'fail' END AS result,"
		 " value, threshold, message FROM checks"
		 " WHERE entry_id = ?7 AND attempt = %s ORDER BY idx", latest);
	snprintf(workers, sizeof(workers),
		 "SELECT cgroup, cgroup_cpus, step, work_type, work_units, cpu_ms, wall_ms,"
		 " run_delay_ms, max_gap_ms, migrations, timeslices, cpus_seen FROM worker_stats"
		 " WHERE entry_id = ?7 AND attempt = %s ORDER BY idx", latest);
	snprintf(sched, sizeof(sched),
		 "SELECT name, enabled, exited, failure, exit_kind, reason, message, exit_status,"
		 " exit_signal, exited_after_ms,"
		 " (SELECT dump_json IS NOT NULL FROM dumps d WHERE d.entry_id = s.entry_id"
		 "  AND d.attempt = s.attempt) AS has_dump"
		 " FROM schedulers s WHERE entry_id = ?7 AND attempt = %s", latest);
	snprintf(snaps, sizeof(snaps),
		 "SELECT name, at_ms, CASE WHEN json IS NULL THEN 'failed' ELSE 'captured' END"
		 " AS capture, length(json) AS bytes, error FROM snapshots"
		 " WHERE entry_id = ?7 AND attempt = %s ORDER BY idx", latest);
	snprintf(console, sizeof(console),
		 "SELECT tail FROM consoles WHERE entry_id = ?7 AND attempt = %s", latest);
	snprintf(logs, sizeof(logs),
		 "SELECT logs FROM consoles WHERE entry_id = ?7 AND attempt = %s", latest);
	r = kt_xcalloc(1, sizeof(*r));
	if (add_query(s, r, "entry", SEC_RECORD, head, NULL, id, err) ||
	    add_query(s, r, "attempts", SEC_TABLE, attempts, NULL, id, err) ||
	    add_query(s, r, "checks", SEC_TABLE, checks, NULL, id, err) ||
	    add_query(s, r, "workers", SEC_TABLE, workers, NULL, id, err) ||
	    add_query(s, r, "scheduler", SEC_RECORD, sched, NULL, id, err) ||
	    add_query(s, r, "snapshots", SEC_TABLE, snaps, NULL, id, err) ||
	    add_query(s, r, "console", SEC_TEXT, console, NULL, id, err) ||
	    add_query(s, r, "logs", SEC_TEXT, logs, NULL, id, err)) {
		kt_qreport_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

int kt_query_stats(struct kt_store *s, const struct kt_qfilter *f, struct kt_qreport **out,
		   struct kt_err *err)
{
	static const char totals[] =
		"SELECT (SELECT count(*) FROM runs) AS runs,"
		" (SELECT count(*) FROM runs WHERE state IN ('queued', 'running')) AS active_runs,"
		" (SELECT count(*) FROM entries) AS entries,"
		" (SELECT count(*) FROM results) AS results,"
		" (SELECT count(*) FROM workers) AS workers,"
		" (SELECT count(*) FROM kernels) AS kernels,"
		" (SELECT count(*) FROM artifacts) AS artifacts,"
		" (SELECT user_version FROM pragma_user_version) AS schema";
	static const char entries[] =
		"SELECT coalesce(final_status, state) AS status, count(*) AS entries"
		" FROM entries GROUP BY 1 ORDER BY 2 DESC, 1";
	static const char results[] =
		"SELECT status, count(*) AS results FROM results WHERE stored_at >= ?1"
		" GROUP BY status ORDER BY 2 DESC, 1";
	static const char workers[] =
		"SELECT id, hostname, cpus, memory_mb, accel, arch, vcpus, tags, first_seen,"
		" last_seen FROM workers ORDER BY id";
	static const char kernels[] =
		"SELECT sha256, version, source, size, has_sched_ext, has_btf FROM kernels"
		" ORDER BY version, sha256";
	/* The bare e.name comes from the row with max(stored_at): the latest
	 * example of each signature. */
	static const char sigs[] =
		"SELECT r.signature, count(*) AS occurrences, count(DISTINCT e.test) AS tests,"
		" max(r.stored_at) AS last_at, e.name AS latest"
		" FROM results r JOIN entries e ON e.id = r.entry_id"
		" WHERE r.signature IS NOT NULL AND r.stored_at >= ?1"
		" GROUP BY r.signature ORDER BY 2 DESC, 1";
	struct kt_qreport *r = kt_xcalloc(1, sizeof(*r));

	*out = NULL;
	if (add_query(s, r, "totals", SEC_RECORD, totals, f, NULL, err) ||
	    add_query(s, r, "entries", SEC_TABLE, entries, f, NULL, err) ||
	    add_query(s, r, "results", SEC_TABLE, results, f, NULL, err) ||
	    add_query(s, r, "workers", SEC_TABLE, workers, f, NULL, err) ||
	    add_query(s, r, "kernels", SEC_TABLE, kernels, f, NULL, err) ||
	    add_query(s, r, "signatures", SEC_TABLE, sigs, f, NULL, err)) {
		kt_qreport_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

int kt_query_flaky(struct kt_store *s, const struct kt_qfilter *f, struct kt_qreport **out,
		   struct kt_err *err)
{
	char sql[2048];

	*out = NULL;
	snprintf(sql, sizeof(sql),
		 "SELECT e.name, e.test, count(*) AS runs,"
		 " sum(e.final_status = 'pass') AS pass, sum(e.final_status = 'fail') AS fail,"
		 " sum(e.final_status = 'error') AS error, max(e.finished_at) AS last_at"
		 " FROM entries e WHERE e.state = 'done'"
		 " AND e.final_status IN ('pass', 'fail', 'error')%s",
		 f->since ? " AND e.finished_at >= ?1" : "");
	filter_sql(sql, sizeof(sql), f, F_KERNEL | F_SCHED | F_TEST | F_TOPO);
	snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql),
		 " GROUP BY e.name HAVING sum(e.final_status = 'pass') > 0"
		 " AND sum(e.final_status != 'pass') > 0"
		 " ORDER BY sum(e.final_status != 'pass') DESC, e.name LIMIT ?%d", P_LIMIT);
	return one_table(s, "flaky", sql, f, NULL, out, err);
}

int kt_since_parse(const char *s, uint64_t *ms, struct kt_err *err)
{
	static const struct { char unit; uint64_t ms; } units[] = {
		{ 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 },
		{ 'w', 604800000 },
	};
	const uint64_t max = 10ull * 366 * 86400000;
	uint64_t n = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9' && n <= max; p++)
		n = n * 10 + (uint64_t)(*p - '0');
	if (p == s || !*p || p[1])
		return kt_errf(err, "duration \"%.32s\": expected a number and a unit s m h d w "
			       "(e.g. 7d)", s);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (units[i].unit != *p)
			continue;
		if (!n || n > max / units[i].ms)
			return kt_errf(err, "duration \"%s\": must be above 0 and at most ten years",
				       s);
		*ms = n * units[i].ms;
		return 0;
	}
	return kt_errf(err, "duration \"%.32s\": unknown unit '%c' (s m h d w)", s, *p);
}

/* ---- output ---- */

static bool is_time(const char *col)
{
	size_t n = strlen(col);

	return n >= 3 && !strcmp(col + n - 3, "_at");
}

/* The table form of a cell into BUF (LEN bytes, cut to fit). */
static const char *cell_show(const struct cell *c, const char *col, char *buf, size_t len)
{
	struct tm tm;
	time_t t;

	switch (c->type) {
	case SQLITE_NULL:
		return "-";
	case SQLITE_INTEGER:
		t = (time_t)(c->i / 1000);
		if (is_time(col) && c->i >= 0 && gmtime_r(&t, &tm) &&
		    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
			return buf;
		break;
	case SQLITE_FLOAT:
		if (c->d > -1 && c->d < 1)
			snprintf(buf, len, "%.3g", c->d);
		else
			snprintf(buf, len, "%.1f", c->d);
		return buf;
	}
	kt_printable_copy(c->s, strlen(c->s), buf, len);
	return buf;
}

static size_t col_cap(const struct section *sec, size_t i)
{
	return i + 1 == sec->ncols ? LAST_CELL_WIDTH : CELL_WIDTH;
}

static void print_table(const struct section *sec, FILE *f)
{
	size_t *w = kt_xcalloc(sec->ncols, sizeof(*w));
	char buf[LAST_CELL_WIDTH + 1];

	if (!sec->nrows) {
		fprintf(f, "(none)\n");
		free(w);
		return;
	}
	for (size_t i = 0; i < sec->ncols; i++)
		w[i] = strlen(sec->cols[i]);
	for (size_t r = 0; r < sec->nrows; r++)
		for (size_t i = 0; i < sec->ncols; i++) {
			size_t n = strlen(cell_show(&sec->cells[r * sec->ncols + i], sec->cols[i],
						    buf, col_cap(sec, i) + 1));

			w[i] = n > w[i] ? n : w[i];
		}
	for (size_t i = 0; i < sec->ncols; i++)
		fprintf(f, "%-*s%s", i + 1 < sec->ncols ? (int)w[i] : 0, sec->cols[i],
			i + 1 < sec->ncols ? "  " : "\n");
	for (size_t r = 0; r < sec->nrows; r++)
		for (size_t i = 0; i < sec->ncols; i++) {
			const struct cell *c = &sec->cells[r * sec->ncols + i];
			bool num = c->type == SQLITE_INTEGER || c->type == SQLITE_FLOAT;
			bool last = i + 1 == sec->ncols;
			const char *v = cell_show(c, sec->cols[i], buf, col_cap(sec, i) + 1);

			if (is_time(sec->cols[i]))
				num = false;
			fprintf(f, num ? "%*s%s" : "%-*s%s", last && !num ? 0 : (int)w[i], v,
				last ? "\n" : "  ");
		}
	free(w);
}

static void print_record(const struct section *sec, FILE *f)
{
	char buf[KT_STORE_MAX_MESSAGE + 1];
	size_t w = 0;

	if (!sec->nrows) {
		fprintf(f, "(none)\n");
		return;
	}
	for (size_t i = 0; i < sec->ncols; i++)
		w = strlen(sec->cols[i]) > w ? strlen(sec->cols[i]) : w;
	for (size_t i = 0; i < sec->ncols; i++)
		fprintf(f, "%-*s  %s\n", (int)w, sec->cols[i],
			cell_show(&sec->cells[i], sec->cols[i], buf, sizeof(buf)));
}

/* Untrusted text as a block: printable ASCII, newlines and tabs pass. */
static void print_text(const struct section *sec, FILE *f)
{
	const char *s = sec->nrows && sec->ncols ? sec->cells[0].s : NULL;
	size_t n;

	if (!s || !*s) {
		fprintf(f, "(none)\n");
		return;
	}
	for (n = 0; s[n]; n++)
		fputc((s[n] >= 0x20 && s[n] < 0x7f) || s[n] == '\n' || s[n] == '\t' ? s[n] : '?',
		      f);
	if (s[n - 1] != '\n')
		fputc('\n', f);
}

static void print_human(const struct kt_qreport *r, FILE *f)
{
	bool titles = r->n > 1;

	for (size_t i = 0; i < r->n; i++) {
		const struct section *sec = &r->sec[i];

		if (titles)
			fprintf(f, "%s== %s ==\n", i ? "\n" : "", sec->name);
		if (sec->kind == SEC_TABLE)
			print_table(sec, f);
		else if (sec->kind == SEC_RECORD)
			print_record(sec, f);
		else
			print_text(sec, f);
	}
}

static void json_text(struct kt_json *j, const char *s)
{
	size_t n = strlen(s);
	char *clean = kt_xcalloc(n + 1, 1);

	for (size_t i = 0; i < n;) {
		size_t l = kt_utf8_len((const unsigned char *)s + i, n - i);

		if (!l) {
			clean[i++] = '?';
			continue;
		}
		memcpy(clean + i, s + i, l);
		i += l;
	}
	kt_json_strn(j, clean, n);
	free(clean);
}

static void json_cell(struct kt_json *j, const struct cell *c)
{
	switch (c->type) {
	case SQLITE_NULL:
		kt_json_null(j);
		break;
	case SQLITE_INTEGER:
		kt_json_i64(j, c->i);
		break;
	case SQLITE_FLOAT:
		kt_json_double(j, c->d);
		break;
	default:
		json_text(j, c->s);
	}
}

static void json_row(struct kt_json *j, const struct section *sec, size_t r)
{
	kt_json_obj_begin(j);
	for (size_t i = 0; i < sec->ncols; i++) {
		kt_json_key(j, sec->cols[i]);
		json_cell(j, &sec->cells[r * sec->ncols + i]);
	}
	kt_json_obj_end(j);
}

static void json_section(struct kt_json *j, const struct section *sec)
{
	if (sec->kind == SEC_TABLE) {
		kt_json_arr_begin(j);
		for (size_t r = 0; r < sec->nrows; r++)
			json_row(j, sec, r);
		kt_json_arr_end(j);
	} else if (!sec->nrows) {
		kt_json_null(j);
	} else if (sec->kind == SEC_RECORD) {
		json_row(j, sec, 0);
	} else {
		json_cell(j, &sec->cells[0]);
	}
}

static void print_json(const struct kt_qreport *r, FILE *f)
{
	struct kt_json j;

	kt_json_init(&j, f, true);
	if (r->n == 1 && r->sec[0].kind == SEC_TABLE) {
		json_section(&j, &r->sec[0]);
	} else {
		kt_json_obj_begin(&j);
		for (size_t i = 0; i < r->n; i++) {
			kt_json_key(&j, r->sec[i].name);
			json_section(&j, &r->sec[i]);
		}
		kt_json_obj_end(&j);
	}
	kt_json_end(&j);
}

/* One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF. */
static void csv_field(const char *s, FILE *f)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void csv_cell(const struct cell *c, FILE *f)
{
	char buf[32];

	if (c->type == SQLITE_NULL)
		return;
	if (c->type == SQLITE_FLOAT) {
		snprintf(buf, sizeof(buf), "%.17g", c->d);
		fputs(buf, f);
		return;
	}
	csv_field(c->s, f);
}

static void print_csv(const struct kt_qreport *r, FILE *f)
{
	for (size_t s = 0; s < r->n; s++) {
		const struct section *sec = &r->sec[s];

		if (s)
			fputs("\r\n", f);
		for (size_t i = 0; i < sec->ncols; i++) {
			csv_field(sec->kind == SEC_TEXT ? sec->name : sec->cols[i], f);
			fputs(i + 1 < sec->ncols ? "," : "\r\n", f);
		}
		for (size_t row = 0; row < sec->nrows; row++)
			for (size_t i = 0; i < sec->ncols; i++) {
				csv_cell(&sec->cells[row * sec->ncols + i], f);
				fputs(i + 1 < sec->ncols ? "," : "\r\n", f);
			}
	}
}

void kt_qreport_print(const struct kt_qreport *r, enum kt_qfmt fmt, FILE *f)
{
	if (fmt == KT_QFMT_JSON)
		print_json(r, f);
	else if (fmt == KT_QFMT_CSV)
		print_csv(r, f);
	else
		print_human(r, f);
}
