/* ktstr-query dump and failures --group over stored scheduler failures:
 * two entries failed alike (stall, exit kind 1026), one crashed, one
 * passed under expect_err; dumps, snapshots and scheduler state as a
 * worker reports them (store_fixture.h's FX_DUMP_JSON). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "qdump.h"
#include "query.h"
#include "store.h"
#include "store_fixture.h"

#define NOW 1700000000000ull

static char db_path[256];
/* t_stall_a, t_stall_b (fail, stall), t_crash (fail, crash), t_expect
 * (pass: expect_err, second attempt), t_plain (pass, no scheduler). */
static uint64_t ids[5];

static void outcome(struct kt_store *s, uint64_t id, uint32_t attempt, const char *status,
		    Ktstr__SchedulerState__Failure failure, uint32_t kind, const char *reason,
		    const char *dump, uint64_t t)
{
	struct kt_store_progress p = { KT_STATE_DONE, attempt, 0, status, "m", id, 0 };
	struct kt_err err = { "" };
	struct ofx f;

	ofx_init(&f, id, attempt, status, NULL);
	f.o.n_checks = 1;
	if (failure != KTSTR__SCHEDULER_STATE__FAILURE__NONE || dump) {
		ofx_sched(&f, failure, kind, reason, dump);
	} else if (id == ids[4]) {
		/* ran fine: only the kernel log tail, which is no dump */
		ofx_sched(&f, failure, 0, NULL, NULL);
		f.sched.kernel_dump = "";
		f.res.n_snapshots = 0;
	}
	if (kt_store_attempt_begin(s, id, attempt, "w1", t - 5000, &err) ||
	    kt_store_outcome(s, &f.o, t, &err) != 1 ||
	    kt_store_attempt_end(s, id, attempt, "outcome", t, &err) ||
	    kt_store_entry_update(s, id, &p, t, &err))
		fail_msg("%s", err.msg);
}

static int populate(void **state)
{
	static const char *const tests[] = { "t_stall_a", "t_stall_b", "t_crash", "t_expect",
					     "t_plain" };
	struct kt_err err = { "" };
	struct kt_store *s;
	char name[128];
	uint64_t run;

	(void)state;
	fx_tmp_db(db_path, sizeof(db_path));
	if (kt_store_open(db_path, false, &s, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(kt_store_run_create(s, "scx", 0, "m", NOW, &run, &err), 0);
	for (int i = 0; i < 5; i++) {
		struct kt_store_entry e = fx_entry(run, (uint32_t)i, tests[i], "sid", name);

		assert_int_equal(kt_store_entry_add(s, &e, &ids[i], &err), 0);
	}
	outcome(s, ids[0], 1, "fail", KTSTR__SCHEDULER_STATE__FAILURE__STALL, 1026,
		"runnable task stall", FX_DUMP_JSON, NOW + 1000);
	outcome(s, ids[1], 1, "fail", KTSTR__SCHEDULER_STATE__FAILURE__STALL, 1026,
		"runnable task stall", FX_DUMP_JSON, NOW + 2000);
	outcome(s, ids[2], 1, "fail", KTSTR__SCHEDULER_STATE__FAILURE__CRASH, 0, NULL, NULL,
		NOW + 3000);
	outcome(s, ids[3], 1, "infra", KTSTR__SCHEDULER_STATE__FAILURE__NONE, 0, NULL, NULL,
		NOW + 4000);
	outcome(s, ids[3], 2, "pass", KTSTR__SCHEDULER_STATE__FAILURE__STALL, 1026,
		"runnable task stall", FX_DUMP_JSON, NOW + 5000);
	outcome(s, ids[4], 1, "pass", KTSTR__SCHEDULER_STATE__FAILURE__NONE, 0, NULL, NULL,
		NOW + 6000);
	kt_store_close(s);
	return 0;
}

static int cleanup(void **state)
{
	(void)state;
	if (!getenv("KEEP_DB"))
		fx_rm_db(db_path);
	return 0;
}

static struct kt_store *open_ro(void)
{
	struct kt_err err = { "" };
	struct kt_store *s;

	if (kt_store_open(db_path, true, &s, &err))
		fail_msg("%s", err.msg);
	return s;
}

static void must_have(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("missing \"%s\" in:\n%s", needle, text);
}

/* The same scheduler failure on two entries is one group of two. */
static void test_failure_groups(void **state)
{
	struct kt_qfilter f = { 0 };
	struct kt_err err = { "" };
	struct kt_store *s = open_ro();
	struct kt_qreport *r;

	(void)state;
	assert_int_equal(kt_query_failure_groups(s, &f, &r, &err), 0);
	assert_int_equal(kt_qreport_rows(r, NULL), 2);
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "signature"),
			    "fail/scx=1026:runnable task stall");
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "occurrences"), "2");
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "entries"), "2");
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "tests"), "2");
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "latest"),
			    "t_stall_b/1n1l2c1t/scx_ktstr:default/sid");
	assert_string_equal(kt_qreport_cell(r, NULL, 1, "signature"), "fail/scx=crash");
	kt_qreport_free(r);
	f.test = "t_crash";
	assert_int_equal(kt_query_failure_groups(s, &f, &r, &err), 0);
	assert_int_equal(kt_qreport_rows(r, NULL), 1);
	kt_qreport_free(r);
	kt_store_close(s);
}

static char *printed(struct kt_store *s, const struct kt_qdump *d)
{
	struct kt_err err = { "" };
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (kt_qdump_print(s, d, m, &err))
		fail_msg("%s", err.msg);
	fclose(m);
	return buf;
}

/* Found by name: the dump map by map, typed trees as name = value. */
static void test_dump_found(void **state)
{
	struct kt_err err = { "" };
	struct kt_store *s = open_ro();
	struct kt_qdump *d;
	char *out;

	(void)state;
	assert_int_equal(kt_query_dump(s, "t_stall_a/1n1l2c1t/scx_ktstr:default/sid", NULL, &d,
				       &err), 0);
	assert_int_equal(d->entry_id, (int64_t)ids[0]);
	assert_int_equal(d->attempt, 1);
	assert_string_equal(d->json, FX_DUMP_JSON);
	assert_string_equal(d->sched, "scx-ktstr");
	assert_int_equal(d->exit_kind, 1026);
	out = printed(s, d);
	must_have(out, "scheduler scx-ktstr: enabled, failed: stall, exit kind 1026 (runnable "
		  "task stall): scx_ktstr[120] failed to run for 3.100s\n");
	must_have(out, "map scx_ktst.bss (array, key 4 B, value 24 B, max_entries 1, "
		  "flags 0x400)\n  [0] (.bss):\n    stall = 1\n    nr_enqueued = 4711\n");
	must_have(out, "    nr_cpus = 2\n    (anonymous) (union):\n      raw = 9\n"
		  "    seen:\n      [0] = 3\n      [1] = 4\n      (2 more not shown)\n");
	must_have(out, "map events (ringbuf, key 0 B, value 0 B, max_entries 4096, flags 0x0)\n"
		  "  (skipped: not readable by lookup)\n");
	must_have(out, "errors:\n  \"map 7: no BTF\"\n");
	must_have(out, "    mode = MODE_STALL (2)\n");
	must_have(out, "map task_ctx (hash,");
	must_have(out, "  [42] (task_ctx):\n    comm = \"worker-0\"\n    last_cpu = -1\n");
	must_have(out, "  [0]:\n    cpu 0 = 10\n    cpu 1 = 20\n");
	must_have(out, "== sched_ext dump ==\nsched_ext: BPF scheduler \"ktstr\" errored");
	must_have(out, "== kernel log tail ==\n[    5.1] sched_ext: runnable task stall\n");
	free(out);
	kt_qdump_free(d);
	/* By id; the latest attempt with a dump (2), not the infra one. */
	{
		char id[24];

		snprintf(id, sizeof(id), "%llu", (unsigned long long)ids[3]);
		assert_int_equal(kt_query_dump(s, id, NULL, &d, &err), 0);
		assert_int_equal(d->attempt, 2);
		kt_qdump_free(d);
	}
	kt_store_close(s);
}

static int q_dumps_rows(struct kt_store *s, uint64_t id)
{
	sqlite3_stmt *st;
	int n = -1;

	assert_int_equal(sqlite3_prepare_v2(kt_store_db(s), "SELECT count(*) FROM dumps WHERE"
					    " entry_id = ?1 AND klog_tail IS NOT NULL", -1, &st,
					    NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void test_dump_not_found(void **state)
{
	struct kt_err err = { "" };
	struct kt_store *s = open_ro();
	struct kt_qdump *d = (struct kt_qdump *)&d;

	(void)state;
	assert_int_equal(kt_query_dump(s, "nope", NULL, &d, &err), 1);
	assert_null(d);
	must_have(err.msg, "entry \"nope\": no such entry");
	if (kt_query_dump(s, "t_plain/1n1l2c1t/scx_ktstr:default/sid", NULL, &d, &err) != 1)
		fail_msg("found: entry %lld attempt %u json %s", (long long)d->entry_id, d->attempt, d->json);
	must_have(err.msg, "t_plain/1n1l2c1t/scx_ktstr:default/sid\" (id ");
	must_have(err.msg, "no failure dump stored");
	assert_int_equal(kt_query_dump(s, "t_stall_a/1n1l2c1t/scx_ktstr:default/sid", "early", &d,
				       &err), 1);
	must_have(err.msg, "no snapshot \"early\" (it has: late, mid)");
	assert_int_equal(kt_query_dump(s, "t_plain/1n1l2c1t/scx_ktstr:default/sid", "mid", &d,
				       &err), 1);
	must_have(err.msg, "no snapshot \"mid\" (it has none)");
	assert_int_equal(q_dumps_rows(s, ids[4]), 1); /* the log tail is kept */
	kt_store_close(s);
}

static void test_snapshot(void **state)
{
	struct kt_err err = { "" };
	struct kt_store *s = open_ro();
	struct kt_qdump *d;
	char *out;

	(void)state;
	assert_int_equal(kt_query_dump(s, "t_stall_b/1n1l2c1t/scx_ktstr:default/sid", "mid", &d,
				       &err), 0);
	assert_string_equal(d->snapshot, "mid");
	assert_int_equal(d->at_ms, 900);
	out = printed(s, d);
	must_have(out, "snapshot mid at 900 ms\n");
	must_have(out, "    stall = 1\n");
	assert_null(strstr(out, "== sched_ext dump =="));
	free(out);
	kt_qdump_free(d);
	/* A failed capture: found, with why, and no JSON. */
	assert_int_equal(kt_query_dump(s, "t_stall_b/1n1l2c1t/scx_ktstr:default/sid", "late", &d,
				       &err), 0);
	assert_null(d->json);
	assert_string_equal(d->note, "scheduler gone");
	out = printed(s, d);
	must_have(out, "capture failed: scheduler gone\n\n(no map dump stored)\n");
	free(out);
	kt_qdump_free(d);
	kt_store_close(s);
}

/* JSON a guest got wrong is an error naming it, never a crash. */
static void test_bad_json(void **state)
{
	struct kt_qdump d = { .entry = "x", .json = "{\"maps\": [{\"name\": " };
	struct kt_err err = { "" };
	struct kt_store *s = open_ro();
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	(void)state;
	assert_int_equal(kt_qdump_print(s, &d, m, &err), -1);
	must_have(err.msg, "the dump is not valid JSON");
	fclose(m);
	free(buf);
	/* Valid JSON of another shape prints as a tree. */
	d.json = "{\"a\": [1, \"t\\u0001\"], \"b\": {\"kind\": \"uint\", \"value\": 7}}";
	buf = NULL;
	m = open_memstream(&buf, &len);
	assert_int_equal(kt_qdump_print(s, &d, m, &err), 0);
	fclose(m);
	must_have(buf, "dump:\n  a:\n    [0] = 1\n    [1] = \"t?\"\n  b = 7\n");
	free(buf);
	kt_store_close(s);
}

/* Run ktstr-query with ARGS; its stdout (and stderr with ERR) into *OUT. */
static int cli(const char *args, bool err, char **out)
{
	char cmd[1024], *buf = NULL, chunk[4096];
	size_t len = 0, n;
	FILE *p, *m = open_memstream(&buf, &len);
	int st;

	snprintf(cmd, sizeof(cmd), "%s/ktstr-query %s %s", KTSTR_BIN_DIR, args,
		 err ? "2>&1" : "2>/dev/null");
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		fwrite(chunk, 1, n, m);
	st = pclose(p);
	fclose(m);
	*out = buf;
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_cli(void **state)
{
	char args[512], *out;

	(void)state;
	snprintf(args, sizeof(args), "--db %s --json failures --group", db_path);
	assert_int_equal(cli(args, false, &out), 0);
	must_have(out, "\"signature\": \"fail/scx=1026:runnable task stall\",\n"
		  "    \"occurrences\": 2,");
	free(out);
	snprintf(args, sizeof(args), "--db %s dump t_stall_a/1n1l2c1t/scx_ktstr:default/sid",
		 db_path);
	assert_int_equal(cli(args, false, &out), 0);
	must_have(out, "    stall = 1\n");
	free(out);
	snprintf(args, sizeof(args), "--db %s --json dump %llu --snapshot mid", db_path,
		 (unsigned long long)ids[0]);
	assert_int_equal(cli(args, false, &out), 0);
	assert_string_equal(out, FX_DUMP_JSON);
	free(out);
	snprintf(args, sizeof(args), "--db %s --json show %llu", db_path,
		 (unsigned long long)ids[0]);
	assert_int_equal(cli(args, false, &out), 0);
	must_have(out, "\"failure\": \"stall\",\n    \"exit_kind\": 1026,");
	must_have(out, "\"has_dump\": 1");
	must_have(out, "\"name\": \"late\",\n      \"at_ms\": 1900,\n      \"capture\": "
		  "\"failed\"");
	free(out);
	/* --var: a value by path, through common/dump.h. */
	{
		static const char *const vars[][2] = {
			{ "stall", "1\n" },
			{ "bss.nr_enqueued", "4711\n" },
			{ "scx_ktst.bss.raw", "9\n" },
			/* the issue's own example: the object's name, which
			 * libbpf cut to 8 characters in the map's */
			{ "scx_ktstr.bss.nr_enqueued", "4711\n" },
			{ "seen[1]", "4\n" },
			{ "mode", "2\n" },
			{ "task_ctx.comm", "worker-0\n" },
			{ "task_ctx.last_cpu", "-1\n" },
			{ "pcpu_stats[0][1]", "20\n" },
		};

		for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
			snprintf(args, sizeof(args), "--db %s dump %llu --var %s", db_path,
				 (unsigned long long)ids[0], vars[i][0]);
			assert_int_equal(cli(args, false, &out), 0);
			if (strcmp(out, vars[i][1]))
				fail_msg("--var %s: '%s'", vars[i][0], out);
			free(out);
		}
	}
	snprintf(args, sizeof(args), "--db %s dump %llu --snapshot mid --var stall", db_path,
		 (unsigned long long)ids[1]);
	assert_int_equal(cli(args, false, &out), 0);
	assert_string_equal(out, "1\n");
	free(out);
	snprintf(args, sizeof(args), "--db %s --json dump %llu --var task_ctx", db_path,
		 (unsigned long long)ids[0]);
	assert_int_equal(cli(args, false, &out), 0);
	must_have(out, "{\"kind\":\"struct\",\"type_name\":\"task_ctx\"");
	free(out);
	snprintf(args, sizeof(args), "--db %s dump %llu --var nope", db_path,
		 (unsigned long long)ids[0]);
	assert_int_equal(cli(args, true, &out), 1);
	must_have(out, "--var nope: ");
	must_have(out, "no map or global named \"nope\"");
	free(out);
	snprintf(args, sizeof(args), "--db %s dump %llu --var bss.nope", db_path,
		 (unsigned long long)ids[0]);
	assert_int_equal(cli(args, true, &out), 1);
	must_have(out, "no member \"nope\"");
	free(out);
	snprintf(args, sizeof(args), "--db %s dump %llu --snapshot late --var stall", db_path,
		 (unsigned long long)ids[1]);
	assert_int_equal(cli(args, true, &out), 1);
	must_have(out, "snapshot \"late\": no JSON stored: scheduler gone");
	free(out);
	snprintf(args, sizeof(args), "--db %s dump nope", db_path);
	assert_int_equal(cli(args, true, &out), 1);
	must_have(out, "no such entry");
	free(out);
	snprintf(args, sizeof(args), "--db %s --csv dump %llu", db_path,
		 (unsigned long long)ids[0]);
	assert_int_equal(cli(args, true, &out), 2);
	must_have(out, "--csv does not apply to dump");
	free(out);
	snprintf(args, sizeof(args), "--db %s runs --group", db_path);
	assert_int_equal(cli(args, true, &out), 2);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failure_groups),
		cmocka_unit_test(test_dump_found),
		cmocka_unit_test(test_dump_not_found),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_cli),
	};

	return cmocka_run_group_tests(tests, populate, cleanup);
}
