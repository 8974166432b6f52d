#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cpuset.h"
#include "dump.h"
#include "schema.h"
#include "signature.h"
#include "store.h"
#include "util.h"

#define BUSY_TIMEOUT_MS 10000

/* Every statement the store runs, prepared once on first use. */
enum stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_RUN_CREATE,
	ST_RUN_STATE,
	ST_ENTRY_ADD,
	ST_ENTRY_UPDATE,
	ST_ATTEMPT_BEGIN,
	ST_ATTEMPT_END,
	ST_RESULT,
	ST_CHECK,
	ST_WSTAT,
	ST_CONSOLE,
	ST_SCHED,
	ST_DUMP,
	ST_SNAPSHOT,
	ST_WORKER,
	ST_KERNEL,
	ST_ARTIFACT_PUT,
	ST_ARTIFACT_GET,
	ST_RUNS_UNFINISHED,
	ST_RUN_ENTRIES,
	ST_RUN_STATUS,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT outcome",
	[ST_RELEASE] = "RELEASE outcome",
	[ST_ROLLBACK_TO] = "ROLLBACK TO outcome",
	[ST_RUN_CREATE] =
		"INSERT INTO runs (name, priority, matrix_yaml, submitted_at, state)"
		" VALUES (?1, ?2, ?3, ?4, 'queued')",
	[ST_RUN_STATE] = "UPDATE runs SET state = ?2, finished_at = ?3 WHERE id = ?1",
	[ST_ENTRY_ADD] =
		"INSERT INTO entries (run_id, seq, name, test, scenario, topology, scheduler,"
		" profile, kernel_label, kernel_sha, priority, vcpus, memory_mb, assignment, state)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 'queued')",
	[ST_ENTRY_UPDATE] =
		"UPDATE entries SET state = ?2, attempt = ?3, infra_tries = ?4, final_status = ?5,"
		" final_message = ?6, finish_seq = ?7, finished_at = ?8 WHERE id = ?1",
	[ST_ATTEMPT_BEGIN] =
		"INSERT INTO attempts (entry_id, attempt, worker_id, assigned_at)"
		" VALUES (?1, ?2, ?3, ?4)",
	[ST_ATTEMPT_END] =
		"UPDATE attempts SET ended_at = ?3, end_reason = ?4"
		" WHERE entry_id = ?1 AND attempt = ?2",
	[ST_RESULT] =
		"INSERT INTO results (entry_id, attempt, worker_id, status, message, accel,"
		" boot_ms, run_ms, total_ms, guest_kernel, guest_topology, started_at, ended_at,"
		" stored_at, signature, failed_check, scenario_kind, scx_exit_kind, scx_reason)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
		" ?18, ?19)"
		" ON CONFLICT (entry_id, attempt) DO NOTHING",
	[ST_CHECK] =
		"INSERT INTO checks (entry_id, attempt, idx, name, passed, value, threshold, message)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_WSTAT] =
		"INSERT INTO worker_stats (entry_id, attempt, idx, cgroup, cgroup_cpus, step,"
		" work_type, work_units, cpu_ms, wall_ms, run_delay_ms, max_gap_ms, migrations,"
		" timeslices, cpus_seen)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	[ST_CONSOLE] =
		"INSERT INTO consoles (entry_id, attempt, tail, logs) VALUES (?1, ?2, ?3, ?4)",
	[ST_SCHED] =
		"INSERT INTO schedulers (entry_id, attempt, name, enabled, exited, failure,"
		" exit_kind, reason, message, exit_status, exit_signal, exited_after_ms, output)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[ST_DUMP] =
		"INSERT INTO dumps (entry_id, attempt, dump_json, kernel_dump, klog_tail, note)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_SNAPSHOT] =
		"INSERT INTO snapshots (entry_id, attempt, idx, name, json, error, at_ms)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_WORKER] =
		"INSERT INTO workers (id, hostname, cpus, memory_mb, accel, arch, vcpus, tags,"
		" first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)"
		" ON CONFLICT (id) DO UPDATE SET hostname = ?2, cpus = ?3, memory_mb = ?4,"
		" accel = ?5, arch = ?6, vcpus = ?7, tags = ?8, last_seen = ?9",
	[ST_KERNEL] =
		"INSERT INTO kernels (sha256, version, source, size, has_sched_ext, has_btf)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
		" ON CONFLICT (sha256) DO UPDATE SET version = ?2, source = ?3, size = ?4,"
		" has_sched_ext = ?5, has_btf = ?6",
	[ST_ARTIFACT_PUT] =
		"INSERT INTO artifacts (sha256, kind, name, size, path) VALUES (?1, ?2, ?3, ?4, ?5)"
		" ON CONFLICT (sha256) DO UPDATE SET kind = ?2, name = ?3, size = ?4, path = ?5",
	[ST_ARTIFACT_GET] = "SELECT path, size FROM artifacts WHERE sha256 = ?1",
	[ST_RUNS_UNFINISHED] =
		"SELECT r.id, r.name, r.priority, r.matrix_yaml, r.submitted_at, r.finished_at,"
		" r.state, (SELECT max(finish_seq) FROM entries WHERE run_id = r.id)"
		" FROM runs r WHERE r.state IN ('queued', 'running') ORDER BY r.id",
	[ST_RUN_ENTRIES] =
		"SELECT e.id, e.seq, e.name, e.test, e.scenario, e.topology, e.scheduler,"
		" e.profile, e.kernel_label, e.kernel_sha, e.priority, e.vcpus, e.memory_mb,"
		" e.assignment, e.state, e.attempt, e.infra_tries, e.final_status,"
		" e.final_message, e.finish_seq, e.finished_at, a.worker_id"
		" FROM entries e LEFT JOIN attempts a ON a.entry_id = e.id"
		" AND a.attempt = e.attempt AND a.ended_at IS NULL"
		" WHERE e.run_id = ?1 ORDER BY e.seq",
	[ST_RUN_STATUS] =
		"SELECT r.name, r.state, r.submitted_at, r.finished_at, count(e.id),"
		" sum(e.state = 'queued'), sum(e.state = 'running'), sum(e.state = 'cancelled'),"
		" sum(e.state = 'done' AND e.final_status = 'pass'),"
		" sum(e.state = 'done' AND e.final_status = 'fail'),"
		" sum(e.state = 'done' AND e.final_status = 'error'),"
		" sum(e.state = 'done' AND e.final_status = 'infra'),"
		" sum(e.state = 'done' AND e.final_status = 'skip')"
		" FROM runs r LEFT JOIN entries e ON e.run_id = r.id WHERE r.id = ?1 GROUP BY r.id",
};

struct kt_store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST_COUNT];
};

static const char *const state_names[] = { "queued", "running", "done", "cancelled" };

const char *kt_state_name(enum kt_state s)
{
	return (unsigned)s < 4 ? state_names[s] : "?";
}

static int state_parse(const char *s, enum kt_state *out)
{
	for (unsigned i = 0; s && i < 4; i++)
		if (!strcmp(s, state_names[i])) {
			*out = i;
			return 0;
		}
	return -1;
}

static bool state_valid(enum kt_state s)
{
	return (unsigned)s < 4;
}

sqlite3 *kt_store_db(struct kt_store *s)
{
	return s->db;
}

static int db_err(struct kt_store *s, const char *what, struct kt_err *err)
{
	return kt_errf(err, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* The cached statement ID, reset and unbound, ready for binding. */
static sqlite3_stmt *stmt(struct kt_store *s, enum stmt id, struct kt_err *err)
{
	if (!s->st[id] && sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					     &s->st[id], NULL) != SQLITE_OK) {
		db_err(s, "preparing a statement", err);
		return NULL;
	}
	return s->st[id];
}

/* Forget a statement's run and bindings; text bound SQLITE_STATIC must not
 * stay referenced past the caller's buffers. */
static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Run a bound write statement to completion. */
static int run(struct kt_store *s, sqlite3_stmt *st, const char *what, struct kt_err *err)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE) {
		db_err(s, what, err);
		done(st);
		return -1;
	}
	done(st);
	return 0;
}

static int run_simple(struct kt_store *s, enum stmt id, const char *what, struct kt_err *err)
{
	sqlite3_stmt *st = stmt(s, id, err);

	return st ? run(s, st, what, err) : -1;
}

static int64_t i64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* The length of S cut to at most MAX bytes, not inside a UTF-8 sequence. */
static size_t cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s, size_t max)
{
	if (s)
		sqlite3_bind_text(st, i, s, (int)cut(s, max), SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* The last MAX bytes of S (a log's tail), not starting inside a UTF-8
 * sequence; NULL or "" binds NULL. */
static void bind_tail(sqlite3_stmt *st, int i, const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0, skip = n > max ? n - max : 0;

	if (!n) {
		sqlite3_bind_null(st, i);
		return;
	}
	while (skip < n && ((unsigned char)s[skip] & 0xc0) == 0x80)
		skip++;
	sqlite3_bind_text(st, i, s + skip, (int)(n - skip), SQLITE_STATIC);
}

/* NULL for 0: "not set" for timestamps and sequence numbers. */
static void bind_u64_or_null(sqlite3_stmt *st, int i, uint64_t v)
{
	if (v)
		sqlite3_bind_int64(st, i, i64(v));
	else
		sqlite3_bind_null(st, i);
}

static uint64_t col_u64(sqlite3_stmt *st, int i)
{
	int64_t v = sqlite3_column_int64(st, i);

	return v < 0 ? 0 : (uint64_t)v;
}

/* ---- open / close / transactions ---- */

static int pragma(struct kt_store *s, const char *sql, const char *want, struct kt_err *err)
{
	sqlite3_stmt *st;
	const char *got;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(s, sql, err);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_err(s, sql, err);
		sqlite3_finalize(st);
		return -1;
	}
	got = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	if (want && (!got || strcmp(got, want))) {
		kt_errf(err, "%s: %s gave \"%s\", not \"%s\"", s->path, sql, got ? got : "", want);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

static int check_version(struct kt_store *s, struct kt_err *err)
{
	int v;

	if (kt_schema_version(s->db, &v, err))
		return kt_err_prefix(err, "%s", s->path);
	if (v == 0)
		return kt_errf(err, "%s: not a ktstr database (no schema)", s->path);
	if (v > KT_SCHEMA_VERSION)
		return kt_errf(err, "%s: schema version %d is newer than this build understands "
			       "(%d); use a newer ktstr", s->path, v, KT_SCHEMA_VERSION);
	if (v < KT_SCHEMA_VERSION)
		return kt_errf(err, "%s: schema version %d is older than this build's (%d); "
			       "open it read-write once (start the coordinator) to migrate it",
			       s->path, v, KT_SCHEMA_VERSION);
	return 0;
}

static int setup(struct kt_store *s, bool readonly, struct kt_err *err)
{
	int one = 1;

	if (sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS) != SQLITE_OK)
		return db_err(s, "setting the busy timeout", err);
	if (readonly)
		return pragma(s, "PRAGMA query_only = 1", NULL, err) || check_version(s, err) ? -1 : 0;
	/* Keep -wal and -shm when the writer closes: a reader that cannot
	 * create them (another user, a read-only directory) can still open
	 * the database read-only. */
	if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &one) != SQLITE_OK)
		return db_err(s, "keeping the WAL", err);
	if (pragma(s, "PRAGMA journal_mode = WAL", "wal", err) ||
	    pragma(s, "PRAGMA synchronous = FULL", NULL, err) ||
	    pragma(s, "PRAGMA journal_size_limit = 67108864", NULL, err) ||
	    pragma(s, "PRAGMA foreign_keys = ON", NULL, err))
		return -1;
	if (kt_schema_migrate(s->db, err))
		return kt_err_prefix(err, "%s", s->path);
	return 0;
}

int kt_store_open(const char *path, bool readonly, struct kt_store **out, struct kt_err *err)
{
	int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	struct kt_store *s = kt_xcalloc(1, sizeof(*s));

	*out = NULL;
	s->path = kt_xstrdup(path);
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		if (!s->db)
			kt_errf(err, "%s: cannot open: out of memory", path);
		else
			kt_errf(err, "%s: cannot open%s: %s", path, readonly ? " read-only" : "",
				sqlite3_errmsg(s->db));
		kt_store_close(s);
		return -1;
	}
	sqlite3_extended_result_codes(s->db, 1);
	if (setup(s, readonly, err)) {
		kt_store_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

void kt_store_close(struct kt_store *s)
{
	if (!s)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

int kt_store_begin(struct kt_store *s, struct kt_err *err)
{
	return run_simple(s, ST_BEGIN, "begin", err);
}

int kt_store_commit(struct kt_store *s, struct kt_err *err)
{
	return run_simple(s, ST_COMMIT, "commit", err);
}

int kt_store_rollback(struct kt_store *s, struct kt_err *err)
{
	return run_simple(s, ST_ROLLBACK, "rollback", err);
}

/* ---- runs ---- */

int kt_store_run_create(struct kt_store *s, const char *name, int32_t priority,
			const char *matrix_yaml, uint64_t now, uint64_t *run_id,
			struct kt_err *err)
{
	sqlite3_stmt *st;

	if (!name || !*name || strlen(name) > KT_STORE_MAX_NAME)
		return kt_errf(err, "run name: empty or longer than %d bytes", KT_STORE_MAX_NAME);
	if (!matrix_yaml || strlen(matrix_yaml) > KT_STORE_MAX_YAML)
		return kt_errf(err, "run %s: matrix missing or larger than %d bytes", name,
			       KT_STORE_MAX_YAML);
	if (!(st = stmt(s, ST_RUN_CREATE, err)))
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, priority);
	sqlite3_bind_text(st, 3, matrix_yaml, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, i64(now));
	if (run(s, st, "creating a run", err))
		return -1;
	*run_id = (uint64_t)sqlite3_last_insert_rowid(s->db);
	return 0;
}

/* A write that must hit exactly one row, else WHAT ID is unknown. */
static int run_one(struct kt_store *s, sqlite3_stmt *st, const char *what, uint64_t id,
		   struct kt_err *err)
{
	if (run(s, st, what, err))
		return -1;
	if (sqlite3_changes(s->db) != 1)
		return kt_errf(err, "%s: %s %" PRIu64 " is unknown", s->path, what, id);
	return 0;
}

int kt_store_run_state(struct kt_store *s, uint64_t run_id, enum kt_state state, uint64_t now,
		       struct kt_err *err)
{
	sqlite3_stmt *st;

	if (!state_valid(state))
		return kt_errf(err, "run %" PRIu64 ": state %d is not valid", run_id, (int)state);
	if (!(st = stmt(s, ST_RUN_STATE, err)))
		return -1;
	sqlite3_bind_int64(st, 1, i64(run_id));
	sqlite3_bind_text(st, 2, kt_state_name(state), -1, SQLITE_STATIC);
	if (state == KT_STATE_DONE || state == KT_STATE_CANCELLED)
		sqlite3_bind_int64(st, 3, i64(now));
	return run_one(s, st, "run", run_id, err);
}

/* ---- entries and attempts ---- */

static int check_name(const char *field, const char *v, const char *entry, struct kt_err *err)
{
	if (!v || !*v)
		return kt_errf(err, "entry %s: %s is missing", entry, field);
	if (strlen(v) > KT_STORE_MAX_NAME)
		return kt_errf(err, "entry %s: %s is longer than %d bytes", entry, field,
			       KT_STORE_MAX_NAME);
	return 0;
}

static int entry_valid(const struct kt_store_entry *e, struct kt_err *err)
{
	const char *n = e->name && strlen(e->name) <= KT_STORE_MAX_NAME ? e->name : "?";

	if (check_name("name", e->name, n, err) || check_name("test", e->test, n, err) ||
	    check_name("scenario", e->scenario, n, err) ||
	    check_name("topology", e->topology, n, err) ||
	    check_name("scheduler", e->scheduler, n, err) ||
	    check_name("profile", e->profile, n, err) ||
	    check_name("kernel label", e->kernel_label, n, err) ||
	    check_name("kernel sha256", e->kernel_sha, n, err))
		return -1;
	if (!e->assignment || !e->assignment_len || e->assignment_len > KT_STORE_MAX_BLOB)
		return kt_errf(err, "entry %s: assignment missing or larger than %d bytes", n,
			       KT_STORE_MAX_BLOB);
	return 0;
}

int kt_store_entry_add(struct kt_store *s, const struct kt_store_entry *e, uint64_t *entry_id,
		       struct kt_err *err)
{
	sqlite3_stmt *st;

	if (entry_valid(e, err))
		return -1;
	if (!(st = stmt(s, ST_ENTRY_ADD, err)))
		return -1;
	sqlite3_bind_int64(st, 1, i64(e->run_id));
	sqlite3_bind_int64(st, 2, e->seq);
	sqlite3_bind_text(st, 3, e->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, e->test, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, e->scenario, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, e->topology, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, e->scheduler, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, e->profile, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, e->kernel_label, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, e->kernel_sha, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 11, e->priority);
	sqlite3_bind_int64(st, 12, e->vcpus);
	sqlite3_bind_int64(st, 13, i64(e->memory_mb));
	sqlite3_bind_blob(st, 14, e->assignment, (int)e->assignment_len, SQLITE_STATIC);
	if (run(s, st, "adding an entry", err))
		return kt_err_prefix(err, "entry %s of run %" PRIu64, e->name, e->run_id);
	*entry_id = (uint64_t)sqlite3_last_insert_rowid(s->db);
	return 0;
}

int kt_store_entry_update(struct kt_store *s, uint64_t entry_id, const struct kt_store_progress *p,
			  uint64_t now, struct kt_err *err)
{
	bool finished = p->state == KT_STATE_DONE || p->state == KT_STATE_CANCELLED;
	sqlite3_stmt *st;

	if (!state_valid(p->state))
		return kt_errf(err, "entry %" PRIu64 ": state %d is not valid", entry_id,
			       (int)p->state);
	if ((p->final_status || p->state == KT_STATE_DONE) && !kt_status_valid(p->final_status))
		return kt_errf(err, "entry %" PRIu64 ": final status \"%.32s\" is not one of "
			       "pass fail error infra skip", entry_id,
			       p->final_status ? p->final_status : "");
	if (!(st = stmt(s, ST_ENTRY_UPDATE, err)))
		return -1;
	sqlite3_bind_int64(st, 1, i64(entry_id));
	sqlite3_bind_text(st, 2, kt_state_name(p->state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, p->attempt);
	sqlite3_bind_int64(st, 4, p->infra_tries);
	bind_text(st, 5, p->final_status, KT_STORE_MAX_NAME);
	bind_text(st, 6, p->final_message, KT_STORE_MAX_MESSAGE);
	bind_u64_or_null(st, 7, p->finish_seq);
	if (finished)
		sqlite3_bind_int64(st, 8, i64(now));
	return run_one(s, st, "entry", entry_id, err);
}

int kt_store_attempt_begin(struct kt_store *s, uint64_t entry_id, uint32_t attempt,
			   const char *worker_id, uint64_t now, struct kt_err *err)
{
	sqlite3_stmt *st;

	if (!worker_id || !*worker_id)
		return kt_errf(err, "entry %" PRIu64 " attempt %u: no worker", entry_id, attempt);
	if (!(st = stmt(s, ST_ATTEMPT_BEGIN, err)))
		return -1;
	sqlite3_bind_int64(st, 1, i64(entry_id));
	sqlite3_bind_int64(st, 2, attempt);
	bind_text(st, 3, worker_id, KT_STORE_MAX_NAME);
	sqlite3_bind_int64(st, 4, i64(now));
	if (run(s, st, "recording an attempt", err))
		return kt_err_prefix(err, "entry %" PRIu64 " attempt %u", entry_id, attempt);
	return 0;
}

int kt_store_attempt_end(struct kt_store *s, uint64_t entry_id, uint32_t attempt,
			 const char *reason, uint64_t now, struct kt_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_ATTEMPT_END, err);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, i64(entry_id));
	sqlite3_bind_int64(st, 2, attempt);
	sqlite3_bind_int64(st, 3, i64(now));
	bind_text(st, 4, reason, KT_STORE_MAX_MESSAGE);
	if (run(s, st, "ending an attempt", err))
		return -1;
	if (sqlite3_changes(s->db) != 1)
		return kt_errf(err, "%s: entry %" PRIu64 " attempt %u is unknown", s->path,
			       entry_id, attempt);
	return 0;
}

/* ---- results ---- */

/* "watchdog" for KTSTR__SCENARIO_RESULT__KIND__WATCHDOG, into BUF. */
static const char *enum_name(const ProtobufCEnumDescriptor *d, int v, const char *prefix,
			     char *buf, size_t len)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
	const char *n = ev ? ev->name : "unknown";
	size_t i, pl = strlen(prefix);

	if (!strncmp(n, prefix, pl))
		n += pl;
	for (i = 0; n[i] && i + 1 < len; i++)
		buf[i] = (char)tolower((unsigned char)n[i]);
	buf[i] = 0;
	return buf;
}

/* The guest's topology as "NnNlNcNt" when it has that shape, else counts. */
static void topo_text(const Ktstr__GuestTopology *t, char *buf, size_t len)
{
	if (t->llcs && t->numa_nodes && t->threads_per_core && t->cores % t->llcs == 0 &&
	    t->cpus == t->cores * t->threads_per_core)
		snprintf(buf, len, "%un%ul%uc%ut", t->numa_nodes, t->llcs, t->cores / t->llcs,
			 t->threads_per_core);
	else
		snprintf(buf, len, "cpus=%u llcs=%u cores=%u threads=%u nodes=%u", t->cpus,
			 t->llcs, t->cores, t->threads_per_core, t->numa_nodes);
}

/* CPU ids from a guest (unsorted, duplicates) as a cpulist into BUF. */
static void cpus_text(const uint32_t *cpus, size_t n, char *buf, size_t len)
{
	uint32_t *v;

	if (n > KT_CPU_ID_MAX) {
		snprintf(buf, len, "(%zu ids)", n);
		return;
	}
	v = kt_xcalloc(n, sizeof(*v));
	memcpy(v, cpus, n * sizeof(*v));
	n = kt_sort_uniq_u32(v, n);
	if (kt_cpulist_format(v, n, buf, len, NULL))
		snprintf(buf, len, "(%zu cpus)", n);
	free(v);
}

/* The first failed check's name, NULL when all passed. */
static const char *first_failed(const Ktstr__EntryOutcome *o)
{
	for (size_t i = 0; i < o->n_checks && i < KT_STORE_MAX_CHECKS; i++)
		if (o->checks[i] && !o->checks[i]->passed)
			return o->checks[i]->name;
	return NULL;
}

static void bind_opt_u64(sqlite3_stmt *st, int i, bool has, uint64_t v)
{
	if (has)
		sqlite3_bind_int64(st, i, i64(v));
	else
		sqlite3_bind_null(st, i);
}

/* Insert the result row; 1 stored, 0 already there. */
static int put_result(struct kt_store *s, const Ktstr__EntryOutcome *o, uint64_t now,
		      struct kt_err *err)
{
	const Ktstr__ScenarioResult *r = o->result;
	const Ktstr__SchedulerState *sc = r ? r->scheduler : NULL;
	const char *check = first_failed(o), *reason = NULL;
	char topo[128], kind[32], sig[KT_SIGNATURE_MAX], failure[32];
	sqlite3_stmt *st = stmt(s, ST_RESULT, err);
	uint32_t xk = 0;

	if (!st)
		return -1;
	if (r && !r->ok && r->kind != KTSTR__SCENARIO_RESULT__KIND__COMPLETED)
		enum_name(&ktstr__scenario_result__kind__descriptor, r->kind, "", kind,
			  sizeof(kind));
	else
		kind[0] = 0;
	sqlite3_bind_int64(st, 1, i64(o->ref->entry_id));
	sqlite3_bind_int64(st, 2, o->ref->attempt);
	bind_text(st, 3, o->worker_id, KT_STORE_MAX_NAME);
	sqlite3_bind_text(st, 4, o->status, -1, SQLITE_STATIC);
	bind_text(st, 5, o->message, KT_STORE_MAX_MESSAGE);
	bind_text(st, 6, o->accel, KT_STORE_MAX_NAME);
	bind_opt_u64(st, 7, o->has_boot_ms, o->boot_ms);
	bind_opt_u64(st, 8, o->has_run_ms, o->run_ms);
	bind_opt_u64(st, 9, o->has_total_ms, o->total_ms);
	bind_text(st, 10, o->guest_kernel, KT_STORE_MAX_NAME);
	if (o->guest_topology) {
		topo_text(o->guest_topology, topo, sizeof(topo));
		sqlite3_bind_text(st, 11, topo, -1, SQLITE_STATIC);
	}
	bind_opt_u64(st, 12, o->has_started_at, o->started_at);
	bind_opt_u64(st, 13, o->has_ended_at, o->ended_at);
	sqlite3_bind_int64(st, 14, i64(now));
	/* The scheduler's failure: the kernel's exit kind and reason, or,
	 * when the kernel gave none (a crash, a verifier rejection), how it
	 * failed (kt_signature bounds the key). */
	if (sc && sc->exit_kind) {
		xk = sc->exit_kind;
		reason = sc->reason && *sc->reason ? sc->reason : "";
	} else if (sc && sc->failure != KTSTR__SCHEDULER_STATE__FAILURE__NONE) {
		reason = enum_name(&ktstr__scheduler_state__failure__descriptor, sc->failure, "",
				   failure, sizeof(failure));
	}
	if (xk) {
		sqlite3_bind_int64(st, 18, xk);
		bind_text(st, 19, reason, KT_STORE_MAX_NAME);
	}
	if (kt_signature(o->status, kind, xk, reason, check, sig, sizeof(sig)))
		sqlite3_bind_text(st, 15, sig, -1, SQLITE_STATIC);
	bind_text(st, 16, check, KT_STORE_MAX_NAME);
	if (kind[0])
		sqlite3_bind_text(st, 17, kind, -1, SQLITE_STATIC);
	if (run(s, st, "storing a result", err))
		return -1;
	return sqlite3_changes(s->db) == 1;
}

static void bind_opt_double(sqlite3_stmt *st, int i, bool has, double v)
{
	if (has)
		sqlite3_bind_double(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static int put_checks(struct kt_store *s, const Ktstr__EntryOutcome *o, struct kt_err *err)
{
	int idx = 0;

	for (size_t i = 0; i < o->n_checks && i < KT_STORE_MAX_CHECKS; i++) {
		const Ktstr__CheckResult *c = o->checks[i];
		sqlite3_stmt *st;

		if (!c)
			continue;
		if (!(st = stmt(s, ST_CHECK, err)))
			return -1;
		sqlite3_bind_int64(st, 1, i64(o->ref->entry_id));
		sqlite3_bind_int64(st, 2, o->ref->attempt);
		sqlite3_bind_int(st, 3, idx++);
		bind_text(st, 4, c->name ? c->name : "", KT_STORE_MAX_NAME);
		sqlite3_bind_int(st, 5, c->passed);
		bind_opt_double(st, 6, c->has_value, c->value);
		bind_opt_double(st, 7, c->has_threshold, c->threshold);
		bind_text(st, 8, c->message, KT_STORE_MAX_MESSAGE);
		if (run(s, st, "storing a check", err))
			return -1;
	}
	return 0;
}

static int put_worker(struct kt_store *s, const Ktstr__EntryOutcome *o,
		      const Ktstr__CgroupStats *cg, const char *cg_cpus,
		      const Ktstr__WorkerStats *w, int idx, struct kt_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_WSTAT, err);
	char wt[32], seen[1024];

	if (!st)
		return -1;
	cpus_text(w->cpus_seen, w->n_cpus_seen, seen, sizeof(seen));
	sqlite3_bind_int64(st, 1, i64(o->ref->entry_id));
	sqlite3_bind_int64(st, 2, o->ref->attempt);
	sqlite3_bind_int(st, 3, idx);
	bind_text(st, 4, cg->name ? cg->name : "", KT_STORE_MAX_NAME);
	sqlite3_bind_text(st, 5, cg_cpus, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, cg->step);
	sqlite3_bind_text(st, 7, enum_name(&ktstr__work_type__descriptor, w->work_type, "WORK_",
					   wt, sizeof(wt)), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, i64(w->work_units));
	sqlite3_bind_double(st, 9, w->cpu_ns / 1e6);
	sqlite3_bind_double(st, 10, w->wall_ns / 1e6);
	sqlite3_bind_double(st, 11, w->run_delay_ns / 1e6);
	sqlite3_bind_double(st, 12, w->max_gap_ns / 1e6);
	sqlite3_bind_int64(st, 13, i64(w->migrations));
	sqlite3_bind_int64(st, 14, i64(w->timeslices));
	sqlite3_bind_text(st, 15, seen, -1, SQLITE_STATIC);
	return run(s, st, "storing worker stats", err);
}

static int put_workers(struct kt_store *s, const Ktstr__EntryOutcome *o, struct kt_err *err)
{
	const Ktstr__ScenarioResult *r = o->result;
	char cpus[1024];
	int idx = 0;

	for (size_t c = 0; r && c < r->n_cgroups; c++) {
		const Ktstr__CgroupStats *cg = r->cgroups[c];

		if (!cg)
			continue;
		cpus_text(cg->cpus, cg->n_cpus, cpus, sizeof(cpus));
		for (size_t w = 0; w < cg->n_workers; w++) {
			if (idx >= KT_STORE_MAX_WORKERS)
				return 0;
			if (cg->workers[w] &&
			    put_worker(s, o, cg, cpus, cg->workers[w], idx++, err))
				return -1;
		}
	}
	return 0;
}

/* The log lines joined by newlines, at most KT_STORE_MAX_LOGS bytes, into
 * a malloc'd string; NULL when there are none. */
static char *join_logs(const Ktstr__EntryOutcome *o)
{
	size_t off = 0, cap = 0;
	char *buf;

	if (!o->n_logs)
		return NULL;
	for (size_t i = 0; i < o->n_logs && cap < KT_STORE_MAX_LOGS; i++)
		cap += (o->logs[i] ? strlen(o->logs[i]) : 0) + 1;
	cap = cap < KT_STORE_MAX_LOGS ? cap : KT_STORE_MAX_LOGS;
	buf = kt_xcalloc(cap + 1, 1);
	for (size_t i = 0; i < o->n_logs && off < cap; i++) {
		const char *l = o->logs[i] ? o->logs[i] : "";
		size_t n = cut(l, cap - off - (off ? 1 : 0));

		if (off)
			buf[off++] = '\n';
		memcpy(buf + off, l, n);
		off += n;
	}
	buf[off] = 0;
	return buf;
}

static int put_console(struct kt_store *s, const Ktstr__EntryOutcome *o, struct kt_err *err)
{
	const char *tail = o->console_tail;
	sqlite3_stmt *st;
	char *logs;
	int rc;

	if (!tail && !o->n_logs)
		return 0;
	if (!(st = stmt(s, ST_CONSOLE, err)))
		return -1;
	logs = join_logs(o);
	sqlite3_bind_int64(st, 1, i64(o->ref->entry_id));
	sqlite3_bind_int64(st, 2, o->ref->attempt);
	if (tail) {
		size_t n = strlen(tail), skip = n > KT_STORE_MAX_CONSOLE ? n - KT_STORE_MAX_CONSOLE : 0;

		while (skip < n && ((unsigned char)tail[skip] & 0xc0) == 0x80)
			skip++;
		sqlite3_bind_text(st, 3, tail + skip, (int)(n - skip), SQLITE_STATIC);
	}
	if (logs)
		sqlite3_bind_text(st, 4, logs, -1, SQLITE_STATIC);
	rc = run(s, st, "storing the console", err);
	free(logs);
	return rc;
}

/* The scheduler under test's state, when the result has one. */
static int put_sched(struct kt_store *s, const Ktstr__EntryOutcome *o, struct kt_err *err)
{
	const Ktstr__SchedulerState *sc = o->result ? o->result->scheduler : NULL;
	char failure[32];
	sqlite3_stmt *st;

	if (!sc || !sc->name || !*sc->name)
		return 0;
	if (!(st = stmt(s, ST_SCHED, err)))
		return -1;
	sqlite3_bind_int64(st, 1, i64(o->ref->entry_id));
	sqlite3_bind_int64(st, 2, o->ref->attempt);
	bind_text(st, 3, sc->name, KT_STORE_MAX_NAME);
	sqlite3_bind_int(st, 4, sc->enabled);
	sqlite3_bind_int(st, 5, sc->exited);
	if (sc->failure != KTSTR__SCHEDULER_STATE__FAILURE__NONE)
		sqlite3_bind_text(st, 6, enum_name(&ktstr__scheduler_state__failure__descriptor,
						   sc->failure, "", failure, sizeof(failure)),
				  -1, SQLITE_STATIC);
	if (sc->exit_kind)
		sqlite3_bind_int64(st, 7, sc->exit_kind);
	bind_text(st, 8, sc->reason && *sc->reason ? sc->reason : NULL, KT_STORE_MAX_NAME);
	bind_text(st, 9, sc->message && *sc->message ? sc->message : NULL, KT_STORE_MAX_MESSAGE);
	sqlite3_bind_int(st, 10, sc->exit_status);
	sqlite3_bind_int(st, 11, sc->exit_signal);
	bind_u64_or_null(st, 12, sc->exited_after_ms);
	bind_tail(st, 13, sc->output, KT_STORE_MAX_CONSOLE);
	return run(s, st, "storing the scheduler state", err);
}

/* JSON text from the guest, whole or not at all: a cut JSON text is no
 * JSON, and what ktstr-query reads back must parse (kt_dump_parse).
 * Returns false (NOTE says why) when it exceeds the bound or is invalid. */
static bool json_ok(const char *json, char *note, size_t len)
{
	size_t n = json ? strlen(json) : 0;
	struct kt_dump *d;
	struct kt_err e;

	if (n > KT_STORE_MAX_DUMP) {
		snprintf(note, len, "%zu bytes of JSON, over the %u-byte bound: not stored", n,
			 KT_STORE_MAX_DUMP);
		return false;
	}
	if (kt_dump_parse(json ? json : "", n, &d, &e)) {
		snprintf(note, len, "invalid JSON, not stored: %.200s", e.msg);
		return false;
	}
	kt_dump_free(d);
	return true;
}

/* The failure dump, the kernel's sched_ext dump and the kernel log tail. */
static int put_dump(struct kt_store *s, const Ktstr__EntryOutcome *o, struct kt_err *err)
{
	const Ktstr__ScenarioResult *r = o->result;
	const Ktstr__SchedulerState *sc = r ? r->scheduler : NULL;
	const char *json = r && r->dump_json && *r->dump_json ? r->dump_json : NULL;
	const char *kdump = sc && sc->kernel_dump && *sc->kernel_dump ? sc->kernel_dump : NULL;
	const char *klog = sc && sc->klog_tail && *sc->klog_tail ? sc->klog_tail : NULL;
	char note[256] = "";
	sqlite3_stmt *st;

	if (!json && !kdump && !klog)
		return 0;
	if (!(st = stmt(s, ST_DUMP, err)))
		return -1;
	sqlite3_bind_int64(st, 1, i64(o->ref->entry_id));
	sqlite3_bind_int64(st, 2, o->ref->attempt);
	if (json && json_ok(json, note, sizeof(note)))
		sqlite3_bind_text(st, 3, json, -1, SQLITE_STATIC);
	bind_text(st, 4, kdump, KT_STORE_MAX_KDUMP);
	bind_tail(st, 5, klog, KT_STORE_MAX_CONSOLE);
	if (note[0])
		sqlite3_bind_text(st, 6, note, -1, SQLITE_STATIC);
	return run(s, st, "storing the failure dump", err);
}

static int put_snapshots(struct kt_store *s, const Ktstr__EntryOutcome *o, struct kt_err *err)
{
	const Ktstr__ScenarioResult *r = o->result;
	int idx = 0;

	for (size_t i = 0; r && i < r->n_snapshots && idx < KT_STORE_MAX_SNAPSHOTS; i++) {
		const Ktstr__Snapshot *sn = r->snapshots[i];
		char note[256] = "";
		sqlite3_stmt *st;

		if (!sn)
			continue;
		if (!(st = stmt(s, ST_SNAPSHOT, err)))
			return -1;
		sqlite3_bind_int64(st, 1, i64(o->ref->entry_id));
		sqlite3_bind_int64(st, 2, o->ref->attempt);
		sqlite3_bind_int(st, 3, idx++);
		bind_text(st, 4, sn->name ? sn->name : "", KT_STORE_MAX_NAME);
		if (sn->json && *sn->json && json_ok(sn->json, note, sizeof(note)))
			sqlite3_bind_text(st, 5, sn->json, -1, SQLITE_STATIC);
		if (note[0])
			sqlite3_bind_text(st, 6, note, -1, SQLITE_STATIC);
		else
			bind_text(st, 6, sn->error && *sn->error ? sn->error : NULL,
				  KT_STORE_MAX_MESSAGE);
		sqlite3_bind_int64(st, 7, i64(sn->at_ms));
		if (run(s, st, "storing a snapshot", err))
			return -1;
	}
	return 0;
}

static int outcome_valid(const Ktstr__EntryOutcome *o, struct kt_err *err)
{
	if (!o->ref)
		return kt_errf(err, "outcome without an entry reference");
	if (!kt_status_valid(o->status))
		return kt_errf(err, "entry %" PRIu64 " attempt %u: status \"%.32s\" is not one of "
			       "pass fail error infra skip", o->ref->entry_id, o->ref->attempt,
			       o->status ? o->status : "");
	return 0;
}

static int outcome_locked(struct kt_store *s, const Ktstr__EntryOutcome *o, uint64_t now,
			  struct kt_err *err)
{
	int stored = put_result(s, o, now, err);

	if (stored <= 0)
		return stored;
	if (put_checks(s, o, err) || put_workers(s, o, err) || put_console(s, o, err) ||
	    put_sched(s, o, err) || put_dump(s, o, err) || put_snapshots(s, o, err))
		return -1;
	return 1;
}

int kt_store_outcome(struct kt_store *s, const Ktstr__EntryOutcome *o, uint64_t now,
		     struct kt_err *err)
{
	int rc;

	if (outcome_valid(o, err))
		return -1;
	/* A savepoint makes the rows one unit inside or outside a batch. */
	if (run_simple(s, ST_SAVEPOINT, "savepoint", err))
		return -1;
	rc = outcome_locked(s, o, now, err);
	if (rc < 0) {
		kt_err_prefix(err, "entry %" PRIu64 " attempt %u", o->ref->entry_id,
			      o->ref->attempt);
		run_simple(s, ST_ROLLBACK_TO, "rollback to savepoint", NULL);
		run_simple(s, ST_RELEASE, "release savepoint", NULL);
		return -1;
	}
	if (run_simple(s, ST_RELEASE, "release savepoint", err))
		return -1;
	return rc;
}

/* ---- workers, kernels, artifacts ---- */

/* The tags joined by commas into BUF (cut to fit). */
static void join_tags(const Ktstr__WorkerHello *h, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < h->n_tags && off + 1 < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", off ? "," : "",
				 h->tags[i] ? h->tags[i] : "");

		if (n < 0 || (size_t)n >= len - off) {
			buf[off] = 0;
			break;
		}
		off += (size_t)n;
	}
}

int kt_store_worker_seen(struct kt_store *s, const Ktstr__WorkerHello *h, uint64_t now,
			 struct kt_err *err)
{
	char tags[1024];
	sqlite3_stmt *st;

	if (!h->worker_id || !*h->worker_id || strlen(h->worker_id) > KT_STORE_MAX_NAME)
		return kt_errf(err, "worker hello: worker id empty or longer than %d bytes",
			       KT_STORE_MAX_NAME);
	if (!(st = stmt(s, ST_WORKER, err)))
		return -1;
	join_tags(h, tags, sizeof(tags));
	sqlite3_bind_text(st, 1, h->worker_id, -1, SQLITE_STATIC);
	bind_text(st, 2, h->hostname, KT_STORE_MAX_NAME);
	bind_opt_u64(st, 3, h->has_host_cpus, h->host_cpus);
	bind_opt_u64(st, 4, h->has_host_memory_mb, h->host_memory_mb);
	bind_text(st, 5, h->accel, KT_STORE_MAX_NAME);
	bind_text(st, 6, h->arch, KT_STORE_MAX_NAME);
	bind_opt_u64(st, 7, h->has_vcpus, h->vcpus);
	sqlite3_bind_text(st, 8, tags, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, i64(now));
	if (run(s, st, "recording a worker", err))
		return kt_err_prefix(err, "worker %s", h->worker_id);
	return 0;
}

static int sha_valid(const char *sha, struct kt_err *err)
{
	size_t n = sha ? strlen(sha) : 0;

	if (n != 64)
		return kt_errf(err, "sha256 \"%.80s\": not 64 hex digits", sha ? sha : "");
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)sha[i]) || isupper((unsigned char)sha[i]))
			return kt_errf(err, "sha256 \"%s\": not 64 lower-case hex digits", sha);
	return 0;
}

static void bind_tristate(sqlite3_stmt *st, int i, int v)
{
	if (v == 0 || v == 1)
		sqlite3_bind_int(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

int kt_store_kernel_put(struct kt_store *s, const char *sha256, const char *version,
			const char *source, uint64_t size, int has_sched_ext, int has_btf,
			struct kt_err *err)
{
	sqlite3_stmt *st;

	if (sha_valid(sha256, err))
		return kt_err_prefix(err, "kernel");
	if (!(st = stmt(s, ST_KERNEL, err)))
		return -1;
	sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
	bind_text(st, 2, version, KT_STORE_MAX_NAME);
	bind_text(st, 3, source, KT_STORE_MAX_NAME);
	sqlite3_bind_int64(st, 4, i64(size));
	bind_tristate(st, 5, has_sched_ext);
	bind_tristate(st, 6, has_btf);
	return run(s, st, "recording a kernel", err);
}

int kt_store_artifact_put(struct kt_store *s, const char *sha256, const char *kind,
			  const char *name, uint64_t size, const char *path, struct kt_err *err)
{
	sqlite3_stmt *st;

	if (sha_valid(sha256, err))
		return kt_err_prefix(err, "artifact");
	if (!kind || !*kind || !path || !*path)
		return kt_errf(err, "artifact %s: kind or path missing", sha256);
	if (strlen(path) >= 4096)
		return kt_errf(err, "artifact %s: path longer than 4095 bytes", sha256);
	if (!(st = stmt(s, ST_ARTIFACT_PUT, err)))
		return -1;
	sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
	bind_text(st, 2, kind, KT_STORE_MAX_NAME);
	bind_text(st, 3, name, KT_STORE_MAX_NAME);
	sqlite3_bind_int64(st, 4, i64(size));
	sqlite3_bind_text(st, 5, path, -1, SQLITE_STATIC);
	return run(s, st, "recording an artifact", err);
}

int kt_store_artifact_get(struct kt_store *s, const char *sha256, char *path, size_t len,
			  uint64_t *size, struct kt_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_ARTIFACT_GET, err);
	const char *p;
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, sha256 ? sha256 : "", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		done(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		db_err(s, "looking up an artifact", err);
		done(st);
		return -1;
	}
	p = (const char *)sqlite3_column_text(st, 0);
	*size = col_u64(st, 1);
	if (!p || strlen(p) >= len) {
		done(st);
		return kt_errf(err, "artifact %s: path does not fit in %zu bytes", sha256, len);
	}
	strcpy(path, p);
	done(st);
	return 1;
}

/* ---- restart ---- */

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static int load_entries(struct kt_store *s, uint64_t run_id, const struct kt_store_loader *l,
			struct kt_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_RUN_ENTRIES, err);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, i64(run_id));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct kt_store_entry e = {
			.id = col_u64(st, 0),
			.run_id = run_id,
			.seq = (uint32_t)sqlite3_column_int64(st, 1),
			.name = col_text(st, 2),
			.test = col_text(st, 3),
			.scenario = col_text(st, 4),
			.topology = col_text(st, 5),
			.scheduler = col_text(st, 6),
			.profile = col_text(st, 7),
			.kernel_label = col_text(st, 8),
			.kernel_sha = col_text(st, 9),
			.priority = sqlite3_column_int(st, 10),
			.vcpus = (uint32_t)sqlite3_column_int64(st, 11),
			.memory_mb = col_u64(st, 12),
			.assignment = sqlite3_column_blob(st, 13),
			.assignment_len = (size_t)sqlite3_column_bytes(st, 13),
			.p = {
				.attempt = (uint32_t)sqlite3_column_int64(st, 15),
				.infra_tries = (uint32_t)sqlite3_column_int64(st, 16),
				.final_status = col_text(st, 17),
				.final_message = col_text(st, 18),
				.finish_seq = col_u64(st, 19),
				.finished_at = col_u64(st, 20),
			},
			.attempt_worker = col_text(st, 21),
		};

		if (state_parse(col_text(st, 14), &e.p.state)) {
			done(st);
			return kt_errf(err, "%s: entry %" PRIu64 ": unknown state", s->path, e.id);
		}
		if (l->entry(l->ctx, &e, err)) {
			done(st);
			return -1;
		}
	}
	if (rc != SQLITE_DONE)
		db_err(s, "loading entries", err);
	done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int kt_store_load_unfinished(struct kt_store *s, const struct kt_store_loader *l,
			     struct kt_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_RUNS_UNFINISHED, err);
	int rc;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct kt_store_run r = {
			.id = col_u64(st, 0),
			.name = col_text(st, 1),
			.priority = sqlite3_column_int(st, 2),
			.matrix_yaml = col_text(st, 3),
			.submitted_at = col_u64(st, 4),
			.finished_at = col_u64(st, 5),
			.last_finish_seq = col_u64(st, 7),
		};

		if (state_parse(col_text(st, 6), &r.state)) {
			done(st);
			return kt_errf(err, "%s: run %" PRIu64 ": unknown state", s->path, r.id);
		}
		if (l->run(l->ctx, &r, err) || load_entries(s, r.id, l, err)) {
			done(st);
			return -1;
		}
	}
	if (rc != SQLITE_DONE)
		db_err(s, "loading runs", err);
	done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int kt_store_run_status(struct kt_store *s, uint64_t run_id, struct kt_store_run_status *out,
			struct kt_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_RUN_STATUS, err);
	int rc;

	if (!st)
		return -1;
	memset(out, 0, sizeof(*out));
	sqlite3_bind_int64(st, 1, i64(run_id));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->id = run_id;
		snprintf(out->name, sizeof(out->name), "%s", col_text(st, 0) ? col_text(st, 0) : "");
		if (state_parse(col_text(st, 1), &out->state)) {
			done(st);
			return kt_errf(err, "%s: run %" PRIu64 ": unknown state", s->path, run_id);
		}
		out->submitted_at = col_u64(st, 2);
		out->finished_at = col_u64(st, 3);
		out->total = (uint32_t)sqlite3_column_int64(st, 4);
		out->queued = (uint32_t)sqlite3_column_int64(st, 5);
		out->running = (uint32_t)sqlite3_column_int64(st, 6);
		out->cancelled = (uint32_t)sqlite3_column_int64(st, 7);
		out->pass = (uint32_t)sqlite3_column_int64(st, 8);
		out->fail = (uint32_t)sqlite3_column_int64(st, 9);
		out->error = (uint32_t)sqlite3_column_int64(st, 10);
		out->infra = (uint32_t)sqlite3_column_int64(st, 11);
		out->skip = (uint32_t)sqlite3_column_int64(st, 12);
		done(st);
		return 1;
	}
	if (rc != SQLITE_DONE)
		db_err(s, "reading a run's status", err);
	done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}
