#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "schema.h"
#include "signature.h"
#include "store.h"
#include "store_fixture.h"
#include "util.h"

#define NOW 1700000000000ull

static int64_t q_int(struct kt_store *s, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(kt_store_db(s), sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The first column of the first row of SQL as text into BUF ("" for NULL,
 * "<none>" for no row). */
static const char *q_text(struct kt_store *s, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(kt_store_db(s), sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(buf, len, "%s", sqlite3_column_text(st, 0) ?
			 (const char *)sqlite3_column_text(st, 0) : "");
	else
		snprintf(buf, len, "<none>");
	sqlite3_finalize(st);
	return buf;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

static struct kt_store *open_rw(const char *path)
{
	struct kt_err err = { "" };
	struct kt_store *s;

	if (kt_store_open(path, false, &s, &err))
		fail_msg("open %s: %s", path, err.msg);
	return s;
}

/* A run with one entry per test name in TESTS (kernel sid); ids out. */
static uint64_t add_run(struct kt_store *s, const char *const *tests, size_t n, uint64_t *ids)
{
	struct kt_err err = { "" };
	uint64_t run;
	char name[128];

	assert_int_equal(kt_store_run_create(s, "nightly", 5, "entries: []\n", NOW, &run, &err), 0);
	for (size_t i = 0; i < n; i++) {
		struct kt_store_entry e = fx_entry(run, (uint32_t)i, tests[i], "sid", name);

		if (kt_store_entry_add(s, &e, &ids[i], &err))
			fail_msg("%s", err.msg);
	}
	return run;
}

static void test_signature(void **state)
{
	char b[KT_SIGNATURE_MAX], small[8];

	(void)state;
	assert_false(kt_signature("pass", NULL, 0, NULL, "x", b, sizeof(b)));
	assert_string_equal(b, "");
	assert_false(kt_signature("skip", NULL, 0, NULL, NULL, b, sizeof(b)));
	assert_false(kt_signature("bogus", NULL, 0, NULL, NULL, b, sizeof(b)));
	assert_true(kt_signature("infra", NULL, 0, NULL, NULL, b, sizeof(b)));
	assert_string_equal(b, "infra");
	assert_true(kt_signature("fail", "completed", 0, NULL, "not_starved.gap", b, sizeof(b)));
	assert_string_equal(b, "fail/check=not_starved.gap");
	assert_true(kt_signature("fail", "watchdog", 1026, "runnable task stall", "isolation", b,
				 sizeof(b)));
	assert_string_equal(b, "fail/kind=watchdog/scx=1026:runnable task stall/check=isolation");
	assert_true(kt_signature("fail", NULL, 0, "verifier", NULL, b, sizeof(b)));
	assert_string_equal(b, "fail/scx=verifier");
	assert_true(kt_signature("fail", NULL, 0, "", NULL, b, sizeof(b)));
	assert_string_equal(b, "fail");
	assert_true(kt_signature("error", "scenario_error", 0, NULL, NULL, small, sizeof(small)));
	assert_string_equal(small, "error/k");
	assert_true(kt_status_valid("error"));
	assert_false(kt_status_valid("Error"));
	assert_false(kt_status_valid(NULL));
}

static void test_open_empty(void **state)
{
	char path[256], buf[64];
	struct kt_store *s;

	(void)state;
	fx_tmp_db(path, sizeof(path));
	s = open_rw(path);
	assert_int_equal(q_int(s, "PRAGMA user_version"), KT_SCHEMA_VERSION);
	assert_string_equal(q_text(s, "PRAGMA journal_mode", buf, sizeof(buf)), "wal");
	assert_int_equal(q_int(s, "PRAGMA foreign_keys"), 1);
	assert_int_equal(q_int(s, "SELECT count(*) FROM pragma_table_info('results')"
			       " WHERE name IN ('signature', 'failed_check', 'scx_reason')"), 3);
	assert_int_equal(q_int(s, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"), 13);
	kt_store_close(s);
	/* Reopening an up-to-date database changes nothing. */
	s = open_rw(path);
	assert_int_equal(q_int(s, "PRAGMA user_version"), KT_SCHEMA_VERSION);
	kt_store_close(s);
	fx_rm_db(path);
}

/* A database as v1 left it: rows in every result table. */
static void make_v1(const char *path)
{
	raw_exec(path, kt_schema_v1_sql);
	raw_exec(path,
		 "PRAGMA user_version = 1;"
		 "INSERT INTO runs VALUES (1, 'old', 0, 'm: 1', 100, NULL, 'running');"
		 "INSERT INTO entries (id, run_id, seq, name, test, scenario, topology, scheduler,"
		 " profile, kernel_label, kernel_sha, vcpus, memory_mb, assignment, state,"
		 " attempt, final_status, finished_at)"
		 " VALUES (1, 1, 0, 'a/x', 'a', 's', '1n1l2c1t', 'eevdf', 'default', 'sid',"
		 " 'ab', 2, 256, x'0102', 'done', 1, 'fail', 200),"
		 " (2, 1, 1, 'b/x', 'b', 's', '1n1l2c1t', 'eevdf', 'default', 'sid', 'ab', 2,"
		 " 256, x'0102', 'done', 1, 'pass', 210),"
		 " (3, 1, 2, 'c/x', 'c', 's', '1n1l2c1t', 'eevdf', 'default', 'sid', 'ab', 2,"
		 " 256, x'0102', 'running', 1, NULL, NULL);"
		 "INSERT INTO results (entry_id, attempt, status, message, stored_at) VALUES"
		 " (1, 1, 'fail', 'gap too large', 150), (2, 1, 'pass', NULL, 160),"
		 " (3, 1, 'infra', 'no contact', 170);"
		 "INSERT INTO checks VALUES (1, 1, 0, 'not_starved.work', 1, 0, 0, NULL),"
		 " (1, 1, 1, 'not_starved.gap', 0, 2500, 2000, 'gap'),"
		 " (1, 1, 2, 'isolation', 0, 1, 0, 'cpu 3'),"
		 " (2, 1, 0, 'not_starved.work', 1, 0, 0, NULL);"
		 "INSERT INTO consoles VALUES (1, 1, 'boot log', NULL);");
}

static void test_migrate_v1(void **state)
{
	char path[256], buf[128];
	struct kt_store *s;

	(void)state;
	fx_tmp_db(path, sizeof(path));
	make_v1(path);
	s = open_rw(path);
	assert_int_equal(q_int(s, "PRAGMA user_version"), KT_SCHEMA_VERSION);
	assert_string_equal(q_text(s, "SELECT signature FROM results WHERE entry_id = 1", buf,
				   sizeof(buf)), "fail/check=not_starved.gap");
	assert_string_equal(q_text(s, "SELECT failed_check FROM results WHERE entry_id = 1", buf,
				   sizeof(buf)), "not_starved.gap");
	assert_string_equal(q_text(s, "SELECT signature FROM results WHERE entry_id = 2", buf,
				   sizeof(buf)), "");
	assert_string_equal(q_text(s, "SELECT signature FROM results WHERE entry_id = 3", buf,
				   sizeof(buf)), "infra");
	/* Everything v1 held is still there. */
	assert_int_equal(q_int(s, "SELECT count(*) FROM results"), 3);
	assert_int_equal(q_int(s, "SELECT count(*) FROM checks"), 4);
	assert_string_equal(q_text(s, "SELECT tail FROM consoles", buf, sizeof(buf)), "boot log");
	assert_string_equal(q_text(s, "SELECT message FROM results WHERE entry_id = 3", buf,
				   sizeof(buf)), "no contact");
	assert_int_equal(q_int(s, "SELECT count(*) FROM results WHERE signature IS NOT NULL"), 2);
	assert_int_equal(q_int(s, "PRAGMA foreign_key_check"), -1); /* no violations */
	kt_store_close(s);
	fx_rm_db(path);
}

/* A database as v2 left it: v1 plus the v2 columns, one result with a
 * sched_ext exit kind set, one without. The v2 DDL is replayed by hand
 * here, as v2 wrote it, so that the test does not depend on schema.c. */
static void make_v2(const char *path)
{
	make_v1(path);
	raw_exec(path,
		 "ALTER TABLE results ADD COLUMN signature TEXT;"
		 "ALTER TABLE results ADD COLUMN failed_check TEXT;"
		 "ALTER TABLE results ADD COLUMN scenario_kind TEXT;"
		 "ALTER TABLE results ADD COLUMN scx_exit_kind INTEGER;"
		 "ALTER TABLE results ADD COLUMN scx_reason TEXT;"
		 "CREATE INDEX results_signature ON results(signature)"
		 " WHERE signature IS NOT NULL;"
		 "CREATE INDEX entries_finished ON entries(run_id, finish_seq)"
		 " WHERE finish_seq IS NOT NULL;"
		 "UPDATE entries SET scheduler = 'scx-ktstr' WHERE id = 1;"
		 "UPDATE results SET signature = 'fail/scx=1026:runnable task stall',"
		 " scx_exit_kind = 1026, scx_reason = 'runnable task stall' WHERE entry_id = 1;"
		 "UPDATE results SET signature = 'infra' WHERE entry_id = 3;"
		 "PRAGMA user_version = 2;");
}

static void test_migrate_v2(void **state)
{
	char path[256], buf[128];
	struct kt_store *s;

	(void)state;
	fx_tmp_db(path, sizeof(path));
	make_v2(path);
	s = open_rw(path);
	assert_int_equal(q_int(s, "PRAGMA user_version"), 3);
	/* The new tables are there; v2's exit kind became a scheduler row. */
	assert_int_equal(q_int(s, "SELECT count(*) FROM dumps"), 0);
	assert_int_equal(q_int(s, "SELECT count(*) FROM snapshots"), 0);
	assert_int_equal(q_int(s, "SELECT count(*) FROM schedulers"), 1);
	assert_string_equal(q_text(s, "SELECT name || ' ' || exit_kind || ' ' || reason || ' ' ||"
				   " enabled FROM schedulers WHERE entry_id = 1 AND attempt = 1",
				   buf, sizeof(buf)), "scx-ktstr 1026 runnable task stall 1");
	/* Nothing v2 held changed. */
	assert_string_equal(q_text(s, "SELECT signature FROM results WHERE entry_id = 1", buf,
				   sizeof(buf)), "fail/scx=1026:runnable task stall");
	assert_string_equal(q_text(s, "SELECT signature FROM results WHERE entry_id = 3", buf,
				   sizeof(buf)), "infra");
	assert_int_equal(q_int(s, "SELECT count(*) FROM results"), 3);
	assert_int_equal(q_int(s, "SELECT count(*) FROM checks"), 4);
	assert_int_equal(q_int(s, "PRAGMA foreign_key_check"), -1);
	kt_store_close(s);
	/* Opened again: nothing to do, nothing doubled. */
	s = open_rw(path);
	assert_int_equal(q_int(s, "SELECT count(*) FROM schedulers"), 1);
	kt_store_close(s);
	fx_rm_db(path);
}

static void test_refuse_newer(void **state)
{
	struct kt_err err = { "" };
	struct kt_store *s = NULL;
	char path[256];

	(void)state;
	fx_tmp_db(path, sizeof(path));
	raw_exec(path, "CREATE TABLE runs (id INTEGER); PRAGMA user_version = 99;");
	assert_int_equal(kt_store_open(path, false, &s, &err), -1);
	assert_null(s);
	assert_non_null(strstr(err.msg, "schema version 99 is newer"));
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(kt_store_open(path, true, &s, &err), -1);
	assert_non_null(strstr(err.msg, "schema version 99 is newer"));
	fx_rm_db(path);
}

static void test_refuse_foreign(void **state)
{
	struct kt_err err = { "" };
	struct kt_store *s = NULL;
	char path[256];

	(void)state;
	fx_tmp_db(path, sizeof(path));
	raw_exec(path, "CREATE TABLE mine (x);");
	assert_int_equal(kt_store_open(path, false, &s, &err), -1);
	assert_non_null(strstr(err.msg, "not a ktstr database"));
	fx_rm_db(path);
	/* Not a database at all. */
	assert_int_equal(kt_write_file(path, "hello, world, not sqlite at all", 31, &err), 0);
	assert_int_equal(kt_store_open(path, false, &s, &err), -1);
	assert_non_null(strstr(err.msg, path));
	fx_rm_db(path);
}

static void test_readonly(void **state)
{
	struct kt_err err = { "" };
	struct kt_store *s = NULL;
	char path[256];

	(void)state;
	fx_tmp_db(path, sizeof(path));
	/* Missing: an error, and no file is created. */
	assert_int_equal(kt_store_open(path, true, &s, &err), -1);
	assert_non_null(strstr(err.msg, "read-only"));
	assert_int_not_equal(access(path, F_OK), 0);
	/* Older: refused and left as it is. */
	make_v1(path);
	assert_int_equal(kt_store_open(path, true, &s, &err), -1);
	assert_non_null(strstr(err.msg, "older"));
	s = open_rw(path);
	kt_store_close(s);
	/* Current: opens, and writes fail. */
	assert_int_equal(kt_store_open(path, true, &s, &err), 0);
	assert_int_equal(q_int(s, "SELECT count(*) FROM results"), 3);
	assert_int_equal(kt_store_run_state(s, 1, KT_STATE_DONE, NOW, &err), -1);
	kt_store_close(s);
	fx_rm_db(path);
}

static void test_outcome_idempotent(void **state)
{
	static const char *const tests[] = { "t_a" };
	struct kt_err err = { "" };
	struct kt_store *s;
	struct ofx f;
	char path[256], buf[256];
	uint64_t id;

	(void)state;
	fx_tmp_db(path, sizeof(path));
	s = open_rw(path);
	add_run(s, tests, 1, &id);
	assert_int_equal(kt_store_attempt_begin(s, id, 1, "w1", NOW + 1, &err), 0);
	ofx_init(&f, id, 1, "fail", "not_starved.gap");
	assert_int_equal(kt_store_outcome(s, &f.o, NOW + 2, &err), 1);
	assert_int_equal(kt_store_attempt_end(s, id, 1, "outcome", NOW + 3, &err), 0);
	/* The resend after a restart: nothing changes, even if it differs. */
	f.o.status = "pass";
	assert_int_equal(kt_store_outcome(s, &f.o, NOW + 4, &err), 0);
	assert_int_equal(q_int(s, "SELECT count(*) FROM results"), 1);
	assert_int_equal(q_int(s, "SELECT count(*) FROM checks"), 2);
	assert_int_equal(q_int(s, "SELECT count(*) FROM worker_stats"), 2);
	assert_int_equal(q_int(s, "SELECT count(*) FROM consoles"), 1);
	assert_string_equal(q_text(s, "SELECT status || ' ' || signature || ' ' || stored_at"
				   " FROM results", buf, sizeof(buf)),
			    "fail fail/check=not_starved.gap 1700000000002");
	assert_string_equal(q_text(s, "SELECT guest_topology FROM results", buf, sizeof(buf)),
			    "1n1l2c1t");
	assert_string_equal(q_text(s, "SELECT work_type || ' ' || cpus_seen || ' ' || cgroup_cpus"
				   " || ' ' || cpu_ms FROM worker_stats WHERE idx = 1", buf,
				   sizeof(buf)), "yield_heavy 0-1 0-1 900.0");
	assert_string_equal(q_text(s, "SELECT logs FROM consoles", buf, sizeof(buf)),
			    "agent: scenario done");
	assert_string_equal(q_text(s, "SELECT end_reason FROM attempts", buf, sizeof(buf)),
			    "outcome");
	/* A second attempt is its own result. */
	ofx_init(&f, id, 2, "pass", NULL);
	f.o.result = NULL;
	f.o.console_tail = NULL;
	f.o.n_logs = 0;
	assert_int_equal(kt_store_outcome(s, &f.o, NOW + 5, &err), 1);
	assert_int_equal(q_int(s, "SELECT count(*) FROM results"), 2);
	assert_int_equal(q_int(s, "SELECT count(*) FROM results WHERE attempt = 2"
			       " AND signature IS NULL"), 1);
	/* Bad status, unknown entry: errors, nothing stored. */
	ofx_init(&f, id, 3, "maybe", NULL);
	assert_int_equal(kt_store_outcome(s, &f.o, NOW, &err), -1);
	assert_non_null(strstr(err.msg, "\"maybe\""));
	ofx_init(&f, id + 100, 1, "pass", NULL);
	assert_int_equal(kt_store_outcome(s, &f.o, NOW, &err), -1);
	assert_non_null(strstr(err.msg, "FOREIGN KEY"));
	assert_int_equal(q_int(s, "SELECT count(*) FROM results"), 2);
	assert_int_equal(q_int(s, "SELECT count(*) FROM checks"), 4);
	kt_store_close(s);
	fx_rm_db(path);
}

/* A scenario that did not complete: the kind goes into the signature. */
static void test_outcome_kind(void **state)
{
	static const char *const tests[] = { "t_a" };
	struct kt_err err = { "" };
	struct kt_store *s;
	struct ofx f;
	char path[256], buf[256];
	uint64_t id;

	(void)state;
	fx_tmp_db(path, sizeof(path));
	s = open_rw(path);
	add_run(s, tests, 1, &id);
	ofx_init(&f, id, 1, "fail", NULL);
	f.res.ok = false;
	f.res.kind = KTSTR__SCENARIO_RESULT__KIND__WATCHDOG;
	f.o.n_checks = 0;
	assert_int_equal(kt_store_outcome(s, &f.o, NOW, &err), 1);
	assert_string_equal(q_text(s, "SELECT signature || ' ' || scenario_kind FROM results",
				   buf, sizeof(buf)), "fail/kind=watchdog watchdog");
	kt_store_close(s);
	fx_rm_db(path);
}

/* A scheduler failure: its state, the dump, the kernel dump and log tail
 * and the snapshots are stored; the signature is exit kind + reason, the
 * same for two entries that failed alike, and a crash without an exit
 * kind is named by how it failed. A pass under expect_err keeps the state
 * and the dump but has no signature. */
static void test_outcome_scheduler(void **state)
{
	static const char *const tests[] = { "t_a", "t_b", "t_c", "t_d" };
	struct kt_err err = { "" };
	struct kt_store *s;
	struct ofx f;
	char path[256], buf[512];
	uint64_t id[4];

	(void)state;
	fx_tmp_db(path, sizeof(path));
	s = open_rw(path);
	add_run(s, tests, 4, id);
	for (int i = 0; i < 2; i++) {
		ofx_init(&f, id[i], 1, "fail", NULL);
		ofx_sched(&f, KTSTR__SCHEDULER_STATE__FAILURE__STALL, 1026, "runnable task stall",
			  FX_DUMP_JSON);
		assert_int_equal(kt_store_outcome(s, &f.o, NOW + (uint64_t)i, &err), 1);
	}
	assert_int_equal(q_int(s, "SELECT count(DISTINCT signature) FROM results"), 1);
	assert_string_equal(q_text(s, "SELECT signature || '|' || scx_exit_kind || '|' || scx_reason"
				   " FROM results LIMIT 1", buf, sizeof(buf)),
			    "fail/scx=1026:runnable task stall|1026|runnable task stall");
	assert_string_equal(q_text(s, "SELECT name || '|' || enabled || '|' || exited || '|' ||"
				   " failure || '|' || exit_kind || '|' || reason || '|' || message ||"
				   " '|' || exit_status || '|' || exited_after_ms FROM schedulers"
				   " ORDER BY entry_id LIMIT 1", buf, sizeof(buf)),
			    "scx-ktstr|1|1|stall|1026|runnable task stall|scx_ktstr[120] failed to "
			    "run for 3.100s|2|3100");
	assert_int_equal(q_int(s, "SELECT count(*) FROM dumps WHERE dump_json IS NOT NULL AND"
			       " kernel_dump LIKE 'sched_ext: BPF scheduler%' AND"
			       " klog_tail LIKE '%runnable task stall%' AND note IS NULL"), 2);
	assert_int_equal(q_int(s, "SELECT json_extract(dump_json, '$.maps[0].entries[0].value"
			       ".members[0].value.value') FROM dumps LIMIT 1"), 1);
	assert_string_equal(q_text(s, "SELECT group_concat(name || ':' || coalesce(error, 'ok') ||"
				   " ':' || at_ms || ':' || (json IS NOT NULL), ',') FROM"
				   " (SELECT * FROM snapshots WHERE entry_id = (SELECT min(entry_id)"
				   " FROM snapshots) ORDER BY idx)", buf, sizeof(buf)),
			    "mid:ok:900:1,late:scheduler gone:1900:0");
	/* A crash: no exit kind from the kernel, the failure names it. */
	ofx_init(&f, id[2], 1, "fail", NULL);
	ofx_sched(&f, KTSTR__SCHEDULER_STATE__FAILURE__CRASH, 0, NULL, NULL);
	f.o.n_checks = 1;
	assert_int_equal(kt_store_outcome(s, &f.o, NOW, &err), 1);
	snprintf(buf, sizeof(buf), "SELECT signature FROM results WHERE entry_id = %llu",
		 (unsigned long long)id[2]);
	assert_string_equal(q_text(s, buf, buf, sizeof(buf)), "fail/scx=crash");
	assert_int_equal(q_int(s, "SELECT count(*) FROM schedulers WHERE failure = 'crash'"
			       " AND exit_kind IS NULL"), 1);
	/* expect_err: a pass with the dump kept. */
	ofx_init(&f, id[3], 1, "pass", NULL);
	ofx_sched(&f, KTSTR__SCHEDULER_STATE__FAILURE__STALL, 1026, "runnable task stall",
		  FX_DUMP_JSON);
	assert_int_equal(kt_store_outcome(s, &f.o, NOW, &err), 1);
	snprintf(buf, sizeof(buf), "SELECT count(*) FROM results r JOIN dumps d USING"
		 " (entry_id, attempt) WHERE r.entry_id = %llu AND r.signature IS NULL",
		 (unsigned long long)id[3]);
	assert_int_equal(q_int(s, buf), 1);
	/* Resent: nothing doubles. */
	assert_int_equal(kt_store_outcome(s, &f.o, NOW, &err), 0);
	assert_int_equal(q_int(s, "SELECT count(*) FROM snapshots"), 8);
	assert_int_equal(q_int(s, "PRAGMA foreign_key_check"), -1);
	kt_store_close(s);
	fx_rm_db(path);
}

/* A dump over the bound is not stored cut: a note says why. */
static void test_outcome_dump_bound(void **state)
{
	static const char *const tests[] = { "t_a" };
	struct kt_err err = { "" };
	size_t big = KT_STORE_MAX_DUMP + 10;
	char *json = malloc(big + 1), path[256], buf[256];
	struct kt_store *s;
	struct ofx f;
	uint64_t id;

	(void)state;
	assert_non_null(json);
	memset(json, ' ', big);
	json[0] = '{';
	json[big - 1] = '}';
	json[big] = 0;
	fx_tmp_db(path, sizeof(path));
	s = open_rw(path);
	add_run(s, tests, 1, &id);
	ofx_init(&f, id, 1, "fail", NULL);
	ofx_sched(&f, KTSTR__SCHEDULER_STATE__FAILURE__STALL, 1026, "runnable task stall", json);
	f.snap[0].json = json;
	assert_int_equal(kt_store_outcome(s, &f.o, NOW, &err), 1);
	assert_int_equal(q_int(s, "SELECT count(*) FROM dumps WHERE dump_json IS NULL"), 1);
	assert_non_null(strstr(q_text(s, "SELECT note FROM dumps", buf, sizeof(buf)),
			       "over the 4194304-byte bound"));
	assert_non_null(strstr(q_text(s, "SELECT error FROM snapshots WHERE name = 'mid'", buf,
				      sizeof(buf)), "over the 4194304-byte bound"));
	kt_store_close(s);
	free(json);
	fx_rm_db(path);
}

/* A dump or snapshot that is not JSON is not stored: a note says why. */
static void test_outcome_dump_invalid(void **state)
{
	static const char *const tests[] = { "t_a" };
	struct kt_err err = { "" };
	char path[256], buf[256];
	struct kt_store *s;
	struct ofx f;
	uint64_t id;

	(void)state;
	fx_tmp_db(path, sizeof(path));
	s = open_rw(path);
	add_run(s, tests, 1, &id);
	ofx_init(&f, id, 1, "fail", NULL);
	ofx_sched(&f, KTSTR__SCHEDULER_STATE__FAILURE__STALL, 1026, "runnable task stall",
		  "{\"maps\":[{\"name\":\"x\"");
	f.snap[0].json = "{\"maps\":[]} trailing";
	assert_int_equal(kt_store_outcome(s, &f.o, NOW, &err), 1);
	assert_int_equal(q_int(s, "SELECT count(*) FROM dumps WHERE dump_json IS NULL"), 1);
	assert_non_null(strstr(q_text(s, "SELECT note FROM dumps", buf, sizeof(buf)),
			       "invalid JSON, not stored"));
	assert_non_null(strstr(q_text(s, "SELECT error FROM snapshots WHERE name = 'mid'", buf,
				      sizeof(buf)), "invalid JSON, not stored: "));
	assert_int_equal(q_int(s, "SELECT count(*) FROM snapshots WHERE json IS NULL AND "
			       "name = 'mid'"), 1);
	kt_store_close(s);
	fx_rm_db(path);
}

static void test_outcome_bounds(void **state)
{
	static const char *const tests[] = { "t_a" };
	struct kt_err err = { "" };
	size_t big = KT_STORE_MAX_CONSOLE + 1000;
	char *console = malloc(big + 1), *msg = malloc(10000);
	struct kt_store *s;
	struct ofx f;
	char path[256];
	uint64_t id;

	(void)state;
	fx_tmp_db(path, sizeof(path));
	s = open_rw(path);
	add_run(s, tests, 1, &id);
	memset(console, 'a', big);
	memcpy(console + big - 4, "END\n", 4);
	console[big] = 0;
	/* A message of 'x' then a 3-byte UTF-8 character across the bound. */
	memset(msg, 'x', 9999);
	msg[9999] = 0;
	memcpy(msg + KT_STORE_MAX_MESSAGE - 1, "\xe2\x82\xac", 3);
	ofx_init(&f, id, 1, "pass", NULL);
	f.o.console_tail = console;
	f.o.message = msg;
	assert_int_equal(kt_store_outcome(s, &f.o, NOW, &err), 1);
	assert_int_equal(q_int(s, "SELECT length(CAST(tail AS BLOB)) FROM consoles"),
			 KT_STORE_MAX_CONSOLE);
	assert_int_equal(q_int(s, "SELECT substr(tail, -4) = 'END' || char(10) FROM consoles"), 1);
	assert_int_equal(q_int(s, "SELECT length(CAST(message AS BLOB)) FROM results"),
			 KT_STORE_MAX_MESSAGE - 1);
	kt_store_close(s);
	free(console);
	free(msg);
	fx_rm_db(path);
}

static void test_batch_rollback(void **state)
{
	static const char *const tests[] = { "t_a" };
	struct kt_err err = { "" };
	struct kt_store *s;
	char path[256];
	uint64_t id;

	(void)state;
	fx_tmp_db(path, sizeof(path));
	s = open_rw(path);
	assert_int_equal(kt_store_begin(s, &err), 0);
	assert_int_equal(kt_store_begin(s, &err), -1); /* not nested */
	add_run(s, tests, 1, &id);
	assert_int_equal(kt_store_rollback(s, &err), 0);
	assert_int_equal(q_int(s, "SELECT count(*) FROM entries"), 0);
	assert_int_equal(kt_store_begin(s, &err), 0);
	add_run(s, tests, 1, &id);
	assert_int_equal(kt_store_commit(s, &err), 0);
	assert_int_equal(q_int(s, "SELECT count(*) FROM entries"), 1);
	kt_store_close(s);
	fx_rm_db(path);
}

static void test_entry_validation(void **state)
{
	struct kt_err err = { "" };
	struct kt_store_progress p = { .state = KT_STATE_DONE, .final_status = "passed" };
	struct kt_store_entry e;
	struct kt_store *s;
	char path[256], name[128], longname[400];
	uint64_t run, id;

	(void)state;
	fx_tmp_db(path, sizeof(path));
	s = open_rw(path);
	assert_int_equal(kt_store_run_create(s, "r", 0, "", NOW, &run, &err), 0);
	e = fx_entry(run, 0, "t", "sid", name);
	e.topology = NULL;
	assert_int_equal(kt_store_entry_add(s, &e, &id, &err), -1);
	assert_non_null(strstr(err.msg, "topology is missing"));
	e = fx_entry(run, 0, "t", "sid", name);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	e.test = longname;
	assert_int_equal(kt_store_entry_add(s, &e, &id, &err), -1);
	assert_non_null(strstr(err.msg, "test is longer"));
	e = fx_entry(run + 7, 0, "t", "sid", name);
	assert_int_equal(kt_store_entry_add(s, &e, &id, &err), -1); /* unknown run */
	e = fx_entry(run, 0, "t", "sid", name);
	assert_int_equal(kt_store_entry_add(s, &e, &id, &err), 0);
	assert_int_equal(kt_store_entry_add(s, &e, &id, &err), -1); /* same seq */
	assert_int_equal(kt_store_entry_update(s, id, &p, NOW, &err), -1);
	assert_non_null(strstr(err.msg, "\"passed\""));
	p.final_status = NULL;
	assert_int_equal(kt_store_entry_update(s, id, &p, NOW, &err), -1);
	p.final_status = "pass";
	assert_int_equal(kt_store_entry_update(s, id + 1, &p, NOW, &err), -1);
	assert_non_null(strstr(err.msg, "unknown"));
	assert_int_equal(kt_store_entry_update(s, id, &p, NOW, &err), 0);
	assert_int_equal(kt_store_attempt_end(s, id, 9, "x", NOW, &err), -1);
	assert_int_equal(kt_store_run_state(s, run + 1, KT_STATE_DONE, NOW, &err), -1);
	assert_int_equal(kt_store_run_create(s, "", 0, "", NOW, &run, &err), -1);
	kt_store_close(s);
	fx_rm_db(path);
}

struct loaded {
	int runs, entries;
	uint64_t run_id, last_seq;
	char states[16];
	char worker[32];
	size_t blob_len;
	unsigned char blob0;
	uint32_t attempt, infra_tries;
};

static int on_run(void *ctx, const struct kt_store_run *r, struct kt_err *err)
{
	struct loaded *l = ctx;

	(void)err;
	l->runs++;
	l->run_id = r->id;
	l->last_seq = r->last_finish_seq;
	assert_string_equal(r->name, "nightly");
	assert_string_equal(r->matrix_yaml, "entries: []\n");
	assert_int_equal(r->priority, 5);
	assert_int_equal(r->state, KT_STATE_RUNNING);
	return 0;
}

static int on_entry(void *ctx, const struct kt_store_entry *e, struct kt_err *err)
{
	struct loaded *l = ctx;

	(void)err;
	assert_int_equal(e->run_id, l->run_id);
	assert_int_equal(e->seq, (uint32_t)l->entries);
	l->states[l->entries++] = kt_state_name(e->p.state)[0];
	if (e->p.state == KT_STATE_RUNNING) {
		snprintf(l->worker, sizeof(l->worker), "%s", e->attempt_worker ?
			 e->attempt_worker : "(none)");
		l->attempt = e->p.attempt;
		l->infra_tries = e->p.infra_tries;
		l->blob_len = e->assignment_len;
		l->blob0 = ((const unsigned char *)e->assignment)[0];
	}
	return 0;
}

static void test_load_unfinished(void **state)
{
	static const char *const tests[] = { "t_a", "t_b", "t_c", "t_d" };
	struct kt_err err = { "" };
	struct kt_store_loader ld;
	struct kt_store_run_status st;
	struct kt_store_progress p = { 0 };
	struct loaded l = { 0 };
	struct kt_store *s;
	struct ofx f;
	char path[256];
	uint64_t done_run, run, ids[4], dids[4];

	(void)state;
	fx_tmp_db(path, sizeof(path));
	s = open_rw(path);
	done_run = add_run(s, tests, 4, dids);
	assert_int_equal(kt_store_run_state(s, done_run, KT_STATE_DONE, NOW + 9, &err), 0);
	run = add_run(s, tests, 4, ids);
	assert_int_equal(kt_store_run_state(s, run, KT_STATE_RUNNING, NOW, &err), 0);
	/* t_a: done (pass). t_b: running attempt 2 on w2 after an infra try.
	 * t_c: cancelled. t_d: queued. */
	ofx_init(&f, ids[0], 1, "pass", NULL);
	assert_int_equal(kt_store_outcome(s, &f.o, NOW, &err), 1);
	p = (struct kt_store_progress){ KT_STATE_DONE, 1, 0, "pass", "ok", 7, 0 };
	assert_int_equal(kt_store_entry_update(s, ids[0], &p, NOW, &err), 0);
	assert_int_equal(kt_store_attempt_begin(s, ids[1], 1, "w1", NOW, &err), 0);
	assert_int_equal(kt_store_attempt_end(s, ids[1], 1, "worker lost", NOW, &err), 0);
	assert_int_equal(kt_store_attempt_begin(s, ids[1], 2, "w2", NOW, &err), 0);
	p = (struct kt_store_progress){ KT_STATE_RUNNING, 2, 1, NULL, NULL, 0, 0 };
	assert_int_equal(kt_store_entry_update(s, ids[1], &p, NOW, &err), 0);
	p = (struct kt_store_progress){ KT_STATE_CANCELLED, 0, 0, NULL, "cancelled", 8, 0 };
	assert_int_equal(kt_store_entry_update(s, ids[2], &p, NOW, &err), 0);
	kt_store_close(s);

	/* The coordinator restarts. */
	s = open_rw(path);
	ld = (struct kt_store_loader){ on_run, on_entry, &l };
	assert_int_equal(kt_store_load_unfinished(s, &ld, &err), 0);
	assert_int_equal(l.runs, 1);
	assert_int_equal(l.run_id, run);
	assert_int_equal(l.entries, 4);
	assert_string_equal(l.states, "drcq");
	assert_string_equal(l.worker, "w2");
	assert_int_equal(l.attempt, 2);
	assert_int_equal(l.infra_tries, 1);
	assert_int_equal(l.blob_len, 6);
	assert_int_equal(l.blob0, 0x0a);
	assert_int_equal(l.last_seq, 8);

	assert_int_equal(kt_store_run_status(s, run, &st, &err), 1);
	assert_string_equal(st.name, "nightly");
	assert_int_equal(st.state, KT_STATE_RUNNING);
	assert_int_equal(st.total, 4);
	assert_int_equal(st.pass, 1);
	assert_int_equal(st.running, 1);
	assert_int_equal(st.queued, 1);
	assert_int_equal(st.cancelled, 1);
	assert_int_equal(st.fail, 0);
	assert_int_equal(kt_store_run_status(s, done_run, &st, &err), 1);
	assert_int_equal(st.state, KT_STATE_DONE);
	assert_int_equal(st.finished_at, NOW + 9);
	assert_int_equal(st.queued, 4);
	assert_int_equal(kt_store_run_status(s, 999, &st, &err), 0);
	kt_store_close(s);
	fx_rm_db(path);
}

static void test_workers_kernels_artifacts(void **state)
{
	static const char sha[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct kt_err err = { "" };
	Ktstr__WorkerHello h = KTSTR__WORKER_HELLO__INIT;
	char *tags[] = { "kvm-less", "big" };
	struct kt_store *s;
	char path[256], buf[256];
	uint64_t size = 0;

	(void)state;
	fx_tmp_db(path, sizeof(path));
	s = open_rw(path);
	h.worker_id = "host-1";
	h.hostname = "host-1.lab";
	h.has_host_cpus = true;
	h.host_cpus = 2;
	h.accel = "tcg";
	h.tags = tags;
	h.n_tags = 2;
	assert_int_equal(kt_store_worker_seen(s, &h, NOW, &err), 0);
	h.accel = "kvm";
	assert_int_equal(kt_store_worker_seen(s, &h, NOW + 50, &err), 0);
	assert_string_equal(q_text(s, "SELECT accel || ' ' || tags || ' ' || first_seen || ' ' ||"
				   " last_seen FROM workers", buf, sizeof(buf)),
			    "kvm kvm-less,big 1700000000000 1700000000050");
	h.worker_id = "";
	assert_int_equal(kt_store_worker_seen(s, &h, NOW, &err), -1);

	assert_int_equal(kt_store_kernel_put(s, sha, "7.2.0", "debian:sid", 12345, 1, -1, &err), 0);
	assert_string_equal(q_text(s, "SELECT version || ' ' || has_sched_ext || ' ' ||"
				   " coalesce(has_btf, 'unknown') FROM kernels", buf, sizeof(buf)),
			    "7.2.0 1 unknown");
	assert_int_equal(kt_store_kernel_put(s, "XYZ", "7.2.0", NULL, 1, 1, 1, &err), -1);
	assert_non_null(strstr(err.msg, "XYZ"));

	assert_int_equal(kt_store_artifact_get(s, sha, buf, sizeof(buf), &size, &err), 0);
	assert_int_equal(kt_store_artifact_put(s, sha, "kernel", "vmlinuz", 12345, "/var/a", &err),
			 0);
	assert_int_equal(kt_store_artifact_put(s, sha, "kernel", "vmlinuz", 12345, "/var/b", &err),
			 0);
	assert_int_equal(kt_store_artifact_get(s, sha, buf, sizeof(buf), &size, &err), 1);
	assert_string_equal(buf, "/var/b");
	assert_int_equal(size, 12345);
	assert_int_equal(kt_store_artifact_get(s, sha, buf, 4, &size, &err), -1);
	kt_store_close(s);
	fx_rm_db(path);
}

/* Volume: 20,000 entries and their results, written as the coordinator does
 * (batched), all stored and counted. Speed is measured by tests/bench/dispatch,
 * not asserted here. */
static void test_volume(void **state)
{
	enum { N = 20000, BATCH = 200 };
	struct kt_err err = { "" };
	struct kt_store *s;
	char path[256], name[128];
	uint64_t run, id;

	(void)state;
	fx_tmp_db(path, sizeof(path));
	s = open_rw(path);
	assert_int_equal(kt_store_run_create(s, "bench", 0, "m", NOW, &run, &err), 0);
	for (int i = 0; i < N; i += BATCH) {
		assert_int_equal(kt_store_begin(s, &err), 0);
		for (int j = i; j < i + BATCH; j++) {
			struct kt_store_entry e = fx_entry(run, (uint32_t)j,
							   j % 3 ? "t_steady" : "t_mixed",
							   j % 2 ? "sid" : "bookworm", name);
			struct kt_store_progress p = { KT_STATE_DONE, 1, 0, "pass", NULL, 0, 0 };
			struct ofx f;

			snprintf(name + strlen(name), 16, "#%d", j);
			if (kt_store_entry_add(s, &e, &id, &err) ||
			    kt_store_attempt_begin(s, id, 1, "w1", NOW, &err))
				fail_msg("%s", err.msg);
			ofx_init(&f, id, 1, j % 10 ? "pass" : "fail",
				 j % 10 ? NULL : "not_starved.gap");
			p.final_status = f.o.status;
			p.finish_seq = (uint64_t)j + 1;
			if (kt_store_outcome(s, &f.o, NOW, &err) != 1 ||
			    kt_store_attempt_end(s, id, 1, "outcome", NOW, &err) ||
			    kt_store_entry_update(s, id, &p, NOW, &err))
				fail_msg("%s", err.msg);
		}
		assert_int_equal(kt_store_commit(s, &err), 0);
	}
	assert_int_equal(q_int(s, "SELECT count(*) FROM results"), N);
	assert_int_equal(q_int(s, "SELECT count(*) FROM worker_stats"), 2 * N);
	assert_int_equal(q_int(s, "SELECT count(*) FROM results WHERE signature ="
			       " 'fail/check=not_starved.gap'"), N / 10);
	kt_store_close(s);
	fx_rm_db(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_open_empty),
		cmocka_unit_test(test_migrate_v1),
		cmocka_unit_test(test_migrate_v2),
		cmocka_unit_test(test_refuse_newer),
		cmocka_unit_test(test_refuse_foreign),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_outcome_idempotent),
		cmocka_unit_test(test_outcome_kind),
		cmocka_unit_test(test_outcome_scheduler),
		cmocka_unit_test(test_outcome_dump_bound),
		cmocka_unit_test(test_outcome_dump_invalid),
		cmocka_unit_test(test_outcome_bounds),
		cmocka_unit_test(test_batch_rollback),
		cmocka_unit_test(test_entry_validation),
		cmocka_unit_test(test_load_unfinished),
		cmocka_unit_test(test_workers_kernels_artifacts),
		cmocka_unit_test(test_volume),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
