#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "schema.h"
#include "signature.h"

/* Written as comparisons, not IN (...): SQLite evaluates a constant IN
 * list of more than two values through a temporary b-tree, opened and
 * closed on every insert. */
#define STATE_OK(c) "(" c " = 'queued' OR " c " = 'running' OR " c " = 'done' OR " \
	c " = 'cancelled')"
#define STATUS_OK(c) "(" c " = 'pass' OR " c " = 'fail' OR " c " = 'error' OR " \
	c " = 'infra' OR " c " = 'skip')"

/* Timestamps are unix ms. Child tables of results are WITHOUT ROWID keyed
 * by (entry_id, attempt, idx): rows stay in the order they were reported
 * and a lookup by result needs no extra index. */
const char kt_schema_v1_sql[] =
	"CREATE TABLE runs ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" priority INTEGER NOT NULL DEFAULT 0,"
	" matrix_yaml TEXT NOT NULL,"
	" submitted_at INTEGER NOT NULL,"
	" finished_at INTEGER,"
	" state TEXT NOT NULL CHECK " STATE_OK("state") ");\n"
	"CREATE TABLE entries ("
	" id INTEGER PRIMARY KEY,"
	" run_id INTEGER NOT NULL REFERENCES runs(id),"
	" seq INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" test TEXT NOT NULL,"
	" scenario TEXT NOT NULL,"
	" topology TEXT NOT NULL,"
	" scheduler TEXT NOT NULL,"
	" profile TEXT NOT NULL,"
	" kernel_label TEXT NOT NULL,"
	" kernel_sha TEXT NOT NULL,"
	" priority INTEGER NOT NULL DEFAULT 0,"
	" vcpus INTEGER NOT NULL,"
	" memory_mb INTEGER NOT NULL,"
	" assignment BLOB NOT NULL,"
	" state TEXT NOT NULL CHECK " STATE_OK("state") ","
	" attempt INTEGER NOT NULL DEFAULT 0,"
	" infra_tries INTEGER NOT NULL DEFAULT 0,"
	" final_status TEXT CHECK (final_status IS NULL OR " STATUS_OK("final_status") "),"
	" final_message TEXT,"
	" finished_at INTEGER,"
	" finish_seq INTEGER,"
	" UNIQUE (run_id, seq));\n"
	"CREATE INDEX entries_name ON entries(name);\n"
	"CREATE INDEX entries_test ON entries(test, finished_at);\n"
	"CREATE TABLE attempts ("
	" entry_id INTEGER NOT NULL REFERENCES entries(id),"
	" attempt INTEGER NOT NULL,"
	" worker_id TEXT NOT NULL,"
	" assigned_at INTEGER NOT NULL,"
	" ended_at INTEGER,"
	" end_reason TEXT,"
	" PRIMARY KEY (entry_id, attempt)) WITHOUT ROWID;\n"
	"CREATE TABLE results ("
	" entry_id INTEGER NOT NULL REFERENCES entries(id),"
	" attempt INTEGER NOT NULL,"
	" worker_id TEXT,"
	" status TEXT NOT NULL CHECK " STATUS_OK("status") ","
	" message TEXT,"
	" accel TEXT,"
	" boot_ms INTEGER,"
	" run_ms INTEGER,"
	" total_ms INTEGER,"
	" guest_kernel TEXT,"
	" guest_topology TEXT,"
	" started_at INTEGER,"
	" ended_at INTEGER,"
	" stored_at INTEGER NOT NULL,"
	" PRIMARY KEY (entry_id, attempt)) WITHOUT ROWID;\n"
	"CREATE INDEX results_status ON results(status, stored_at);\n"
	"CREATE TABLE checks ("
	" entry_id INTEGER NOT NULL,"
	" attempt INTEGER NOT NULL,"
	" idx INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" passed INTEGER NOT NULL,"
	" value REAL,"
	" threshold REAL,"
	" message TEXT,"
	" PRIMARY KEY (entry_id, attempt, idx),"
	" FOREIGN KEY (entry_id, attempt) REFERENCES results(entry_id, attempt))"
	" WITHOUT ROWID;\n"
	"CREATE TABLE worker_stats ("
	" entry_id INTEGER NOT NULL,"
	" attempt INTEGER NOT NULL,"
	" idx INTEGER NOT NULL,"
	" cgroup TEXT NOT NULL,"
	" cgroup_cpus TEXT,"
	" step INTEGER NOT NULL,"
	" work_type TEXT NOT NULL,"
	" work_units INTEGER NOT NULL,"
	" cpu_ms REAL NOT NULL,"
	" wall_ms REAL NOT NULL,"
	" run_delay_ms REAL NOT NULL,"
	" max_gap_ms REAL NOT NULL,"
	" migrations INTEGER NOT NULL,"
	" timeslices INTEGER NOT NULL,"
	" cpus_seen TEXT,"
	" PRIMARY KEY (entry_id, attempt, idx),"
	" FOREIGN KEY (entry_id, attempt) REFERENCES results(entry_id, attempt))"
	" WITHOUT ROWID;\n"
	"CREATE TABLE consoles ("
	" entry_id INTEGER NOT NULL,"
	" attempt INTEGER NOT NULL,"
	" tail TEXT,"
	" logs TEXT,"
	" PRIMARY KEY (entry_id, attempt),"
	" FOREIGN KEY (entry_id, attempt) REFERENCES results(entry_id, attempt));\n"
	"CREATE TABLE workers ("
	" id TEXT PRIMARY KEY,"
	" hostname TEXT,"
	" cpus INTEGER,"
	" memory_mb INTEGER,"
	" accel TEXT,"
	" arch TEXT,"
	" vcpus INTEGER,"
	" tags TEXT,"
	" first_seen INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL);\n"
	"CREATE TABLE kernels ("
	" sha256 TEXT PRIMARY KEY,"
	" version TEXT,"
	" source TEXT,"
	" size INTEGER,"
	" has_sched_ext INTEGER,"
	" has_btf INTEGER);\n"
	"CREATE TABLE artifacts ("
	" sha256 TEXT PRIMARY KEY,"
	" kind TEXT NOT NULL,"
	" name TEXT,"
	" size INTEGER NOT NULL,"
	" path TEXT NOT NULL);\n";

static const char v2_sql[] =
	"ALTER TABLE results ADD COLUMN signature TEXT;\n"
	"ALTER TABLE results ADD COLUMN failed_check TEXT;\n"
	"ALTER TABLE results ADD COLUMN scenario_kind TEXT;\n"
	"ALTER TABLE results ADD COLUMN scx_exit_kind INTEGER;\n"
	"ALTER TABLE results ADD COLUMN scx_reason TEXT;\n"
	"CREATE INDEX results_signature ON results(signature) WHERE signature IS NOT NULL;\n"
	/* A run's entries in finish order, for watchers ("finished after
	 * seq N"); partial, so queued entries cost nothing. */
	"CREATE INDEX entries_finished ON entries(run_id, finish_seq)"
	" WHERE finish_seq IS NOT NULL;\n";

/* v3: what a sched_ext scheduler under test left. Text columns are
 * large, so these are rowid tables keyed by (entry, attempt). */
static const char v3_sql[] =
	"CREATE TABLE schedulers ("
	" entry_id INTEGER NOT NULL,"
	" attempt INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" enabled INTEGER NOT NULL,"
	" exited INTEGER NOT NULL DEFAULT 0,"
	" failure TEXT,"            /* stall error crash verifier not_enabled, NULL none */
	" exit_kind INTEGER,"       /* enum scx_exit_kind, NULL none */
	" reason TEXT,"
	" message TEXT,"
	" exit_status INTEGER,"
	" exit_signal INTEGER,"
	" exited_after_ms INTEGER,"
	" output TEXT,"
	" PRIMARY KEY (entry_id, attempt),"
	" FOREIGN KEY (entry_id, attempt) REFERENCES results(entry_id, attempt));\n"
	"CREATE TABLE dumps ("
	" entry_id INTEGER NOT NULL,"
	" attempt INTEGER NOT NULL,"
	" dump_json TEXT,"          /* guest/mapdump.h; NULL: none, or see note */
	" kernel_dump TEXT,"        /* the kernel's sched_ext state dump */
	" klog_tail TEXT,"
	" note TEXT,"               /* why dump_json is missing (over the bound) */
	" PRIMARY KEY (entry_id, attempt),"
	" FOREIGN KEY (entry_id, attempt) REFERENCES results(entry_id, attempt));\n"
	"CREATE TABLE snapshots ("
	" entry_id INTEGER NOT NULL,"
	" attempt INTEGER NOT NULL,"
	" idx INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" json TEXT,"
	" error TEXT,"
	" at_ms INTEGER,"
	" PRIMARY KEY (entry_id, attempt, idx),"
	" FOREIGN KEY (entry_id, attempt) REFERENCES results(entry_id, attempt));\n"
	/* v2 kept the exit kind and reason on results (when anyone set
	 * them): they become scheduler rows, named after the entry's. */
	"INSERT INTO schedulers (entry_id, attempt, name, enabled, exited, exit_kind, reason)"
	" SELECT r.entry_id, r.attempt, e.scheduler, 1, 1, r.scx_exit_kind, r.scx_reason"
	" FROM results r JOIN entries e ON e.id = r.entry_id"
	" WHERE r.scx_exit_kind IS NOT NULL AND r.scx_exit_kind != 0;\n";

static int sql_err(sqlite3 *db, const char *what, struct kt_err *err)
{
	return kt_errf(err, "%s: %s", what, sqlite3_errmsg(db));
}

static int exec(sqlite3 *db, const char *sql, const char *what, struct kt_err *err)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	kt_errf(err, "%s: %s", what, msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return -1;
}

int kt_schema_version(sqlite3 *db, int *version, struct kt_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return sql_err(db, "reading the schema version", err);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return sql_err(db, "reading the schema version", err);
	return 0;
}

static int v1(sqlite3 *db, struct kt_err *err)
{
	return exec(db, kt_schema_v1_sql, "creating the v1 schema", err);
}

/* Signatures for the results v1 stored: status + first failed check. */
static int v2_fill(sqlite3 *db, struct kt_err *err)
{
	static const char sel[] =
		"SELECT r.entry_id, r.attempt, r.status,"
		" (SELECT c.name FROM checks c WHERE c.entry_id = r.entry_id"
		"  AND c.attempt = r.attempt AND NOT c.passed ORDER BY c.idx LIMIT 1)"
		" FROM results r WHERE r.status NOT IN ('pass', 'skip')";
	static const char upd[] =
		"UPDATE results SET signature = ?1, failed_check = ?2"
		" WHERE entry_id = ?3 AND attempt = ?4";
	sqlite3_stmt *s = NULL, *u = NULL;
	char sig[KT_SIGNATURE_MAX];
	int rc = -1, step;

	if (sqlite3_prepare_v2(db, sel, -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, upd, -1, &u, NULL) != SQLITE_OK) {
		sql_err(db, "migrating to v2", err);
		goto out;
	}
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *status = (const char *)sqlite3_column_text(s, 2);
		const char *check = (const char *)sqlite3_column_text(s, 3);

		if (!kt_signature(status, NULL, 0, NULL, check, sig, sizeof(sig)))
			continue;
		sqlite3_bind_text(u, 1, sig, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(u, 2, check, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(u, 3, sqlite3_column_int64(s, 0));
		sqlite3_bind_int64(u, 4, sqlite3_column_int64(s, 1));
		if (sqlite3_step(u) != SQLITE_DONE) {
			sql_err(db, "migrating to v2: filling signatures", err);
			goto out;
		}
		sqlite3_reset(u);
	}
	if (step != SQLITE_DONE) {
		sql_err(db, "migrating to v2: reading results", err);
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(s);
	sqlite3_finalize(u);
	return rc;
}

static int v2(sqlite3 *db, struct kt_err *err)
{
	if (exec(db, v2_sql, "migrating to v2", err))
		return -1;
	return v2_fill(db, err);
}

static int v3(sqlite3 *db, struct kt_err *err)
{
	return exec(db, v3_sql, "migrating to v3", err);
}

/* steps[i] takes a database from version i to i + 1. */
static int (*const steps[KT_SCHEMA_VERSION])(sqlite3 *, struct kt_err *) = { v1, v2, v3 };

static int has_tables(sqlite3 *db, bool *yes, struct kt_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL))
		return sql_err(db, "reading the schema", err);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*yes = sqlite3_column_int(st, 0) > 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return sql_err(db, "reading the schema", err);
	return 0;
}

static int migrate_locked(sqlite3 *db, struct kt_err *err)
{
	char sql[64];
	bool tables = false;
	int v;

	if (kt_schema_version(db, &v, err))
		return -1;
	if (v > KT_SCHEMA_VERSION)
		return kt_errf(err, "schema version %d is newer than this build understands (%d)",
			       v, KT_SCHEMA_VERSION);
	if (v < 0)
		return kt_errf(err, "schema version %d is not valid", v);
	if (v == 0) {
		if (has_tables(db, &tables, err))
			return -1;
		if (tables)
			return kt_errf(err, "not a ktstr database (tables but no schema version)");
	}
	for (; v < KT_SCHEMA_VERSION; v++) {
		if (steps[v](db, err))
			return -1;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (exec(db, sql, "setting the schema version", err))
			return -1;
	}
	return 0;
}

int kt_schema_migrate(sqlite3 *db, struct kt_err *err)
{
	/* IMMEDIATE: a second writer waits (busy_timeout) rather than
	 * migrating the same database twice. */
	if (exec(db, "BEGIN IMMEDIATE", "starting the migration", err))
		return -1;
	if (migrate_locked(db, err)) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (exec(db, "COMMIT", "committing the migration", err)) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}
