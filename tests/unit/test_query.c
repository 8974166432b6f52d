#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <cmocka.h>
#include "query.h"
#include "store.h"
#include "store_fixture.h"

#define HOUR 3600000ull
#define DAY (24 * HOUR)

static char db_path[256];
static uint64_t now;
/* Entry ids: [run][test t_a, t_b][kernel sid, bookworm]. */
static uint64_t ids[2][2][2];

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Store attempt ATTEMPT of ID with STATUS at time T and, when FINAL,
 * finish the entry with it. */
static void outcome(struct kt_store *s, uint64_t id, uint32_t attempt, const char *status,
		    const char *check, const char *message, uint64_t t, bool final)
{
	struct kt_store_progress p = { KT_STATE_DONE, attempt, 0, status, message, id, 0 };
	struct kt_err err = { "" };
	struct ofx f;

	ofx_init(&f, id, attempt, status, check);
	f.o.message = (char *)message;
	f.o.worker_id = attempt == 1 ? "w1" : "w2";
	if (kt_store_attempt_begin(s, id, attempt, f.o.worker_id, t - 5000, &err) ||
	    kt_store_outcome(s, &f.o, t, &err) != 1 ||
	    kt_store_attempt_end(s, id, attempt, "outcome", t, &err))
		fail_msg("%s", err.msg);
	if (final && kt_store_entry_update(s, id, &p, t, &err))
		fail_msg("%s", err.msg);
}

/* Two runs of tests t_a and t_b on kernels sid and bookworm:
 *   run 1 (10 days ago): t_a/sid pass, t_a/bookworm fail (gap),
 *                        t_b/sid infra then pass, t_b/bookworm error
 *   run 2 (an hour ago): t_a/sid fail (gap), t_a/bookworm fail (gap),
 *                        t_b/sid pass, t_b/bookworm pass */
static int populate(void **state)
{
	static const char *const tests[] = { "t_a", "t_b" };
	static const char *const kernels[] = { "sid", "bookworm" };
	struct kt_err err = { "" };
	struct kt_store *s;
	char name[128];

	(void)state;
	now = wall_ms();
	fx_tmp_db(db_path, sizeof(db_path));
	if (kt_store_open(db_path, false, &s, &err))
		fail_msg("%s", err.msg);
	for (int r = 0; r < 2; r++) {
		uint64_t t = r ? now - HOUR : now - 10 * DAY, run;

		assert_int_equal(kt_store_run_create(s, r ? "run-2" : "run-1", 0, "m", t, &run,
						     &err), 0);
		for (int i = 0; i < 2; i++)
			for (int k = 0; k < 2; k++) {
				struct kt_store_entry e = fx_entry(run, (uint32_t)(i * 2 + k),
								   tests[i], kernels[k], name);

				assert_int_equal(kt_store_entry_add(s, &e, &ids[r][i][k], &err), 0);
			}
		assert_int_equal(kt_store_run_state(s, run, KT_STATE_DONE, t + 60000, &err), 0);
	}
	uint64_t t1 = now - 10 * DAY, t2 = now - HOUR;

	outcome(s, ids[0][0][0], 1, "pass", NULL, "ok", t1 + 1000, true);
	outcome(s, ids[0][0][1], 1, "fail", "not_starved.gap", "gap, \"big\"\nline 2", t1 + 2000,
		true);
	outcome(s, ids[0][1][0], 1, "infra", NULL, "no contact", t1 + 3000, false);
	outcome(s, ids[0][1][0], 2, "pass", NULL, "ok", t1 + 4000, true);
	outcome(s, ids[0][1][1], 1, "error", NULL, "bad scenario", t1 + 5000, true);
	outcome(s, ids[1][0][0], 1, "fail", "not_starved.gap", "gap", t2 + 1000, true);
	outcome(s, ids[1][0][1], 1, "fail", "not_starved.gap", "gap", t2 + 2000, true);
	outcome(s, ids[1][1][0], 1, "pass", NULL, "ok", t2 + 3000, true);
	outcome(s, ids[1][1][1], 1, "pass", NULL, "ok", t2 + 4000, true);
	kt_store_close(s);
	return 0;
}

static int cleanup(void **state)
{
	(void)state;
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

/* REPORT printed in FMT into a malloc'd string. */
static char *print(const struct kt_qreport *r, enum kt_qfmt fmt)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	kt_qreport_print(r, fmt, f);
	fclose(f);
	return buf;
}

static void test_runs(void **state)
{
	struct kt_qfilter f = { 0 };
	struct kt_err err = { "" };
	struct kt_store *s = open_ro();
	struct kt_qreport *r;
	char *txt;

	(void)state;
	assert_int_equal(kt_query_runs(s, &f, &r, &err), 0);
	assert_int_equal(kt_qreport_rows(r, NULL), 2);
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "name"), "run-2");
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "fail"), "2");
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "pass"), "2");
	assert_string_equal(kt_qreport_cell(r, NULL, 1, "name"), "run-1");
	assert_string_equal(kt_qreport_cell(r, NULL, 1, "error"), "1");
	assert_string_equal(kt_qreport_cell(r, NULL, 1, "entries"), "4");
	assert_string_equal(kt_qreport_cell(r, NULL, 1, "state"), "done");
	txt = print(r, KT_QFMT_TABLE);
	assert_non_null(strstr(txt, "run-2"));
	assert_non_null(strstr(txt, "submitted_at"));
	free(txt);
	kt_qreport_free(r);
	f.since = now - 7 * DAY;
	assert_int_equal(kt_query_runs(s, &f, &r, &err), 0);
	assert_int_equal(kt_qreport_rows(r, NULL), 1);
	kt_qreport_free(r);
	kt_store_close(s);
}

static size_t failures(struct kt_store *s, const struct kt_qfilter *f)
{
	struct kt_err err = { "" };
	struct kt_qreport *r;
	size_t n;

	assert_int_equal(kt_query_failures(s, f, &r, &err), 0);
	n = kt_qreport_rows(r, NULL);
	kt_qreport_free(r);
	return n;
}

static void test_failures(void **state)
{
	struct kt_qfilter f = { 0 };
	struct kt_err err = { "" };
	struct kt_store *s = open_ro();
	struct kt_qreport *r;

	(void)state;
	assert_int_equal(kt_query_failures(s, &f, &r, &err), 0);
	assert_int_equal(kt_qreport_rows(r, NULL), 4);
	/* Newest first; infra is never a failure. */
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "name"),
			    "t_a/1n1l2c1t/scx_ktstr:default/bookworm");
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "signature"), "fail/check=not_starved.gap");
	assert_string_equal(kt_qreport_cell(r, NULL, 3, "status"), "fail");
	assert_string_equal(kt_qreport_cell(r, NULL, 2, "signature"), "error");
	assert_string_equal(kt_qreport_cell(r, NULL, 2, "scheduler"), "scx_ktstr:default");
	kt_qreport_free(r);
	f.since = now - 7 * DAY;
	assert_int_equal(failures(s, &f), 2);
	f.since = 0;
	f.kernel = "bookworm";
	assert_int_equal(failures(s, &f), 3);
	f.kernel = "aaaa00"; /* sha256 prefix of sid */
	assert_int_equal(failures(s, &f), 1);
	f.kernel = NULL;
	f.test = "t_b";
	assert_int_equal(failures(s, &f), 1);
	f.test = NULL;
	f.scheduler = "scx_ktstr:default";
	assert_int_equal(failures(s, &f), 4);
	f.scheduler = "scx_ktstr";
	assert_int_equal(failures(s, &f), 4);
	f.scheduler = "scx_ktstr:llc";
	assert_int_equal(failures(s, &f), 0);
	f.scheduler = NULL;
	f.topology = "2n2l2c1t";
	assert_int_equal(failures(s, &f), 0);
	f.topology = "1n1l2c1t";
	f.limit = 3;
	assert_int_equal(failures(s, &f), 3);
	kt_store_close(s);
}

static void test_history(void **state)
{
	struct kt_qfilter f = { 0 };
	struct kt_err err = { "" };
	struct kt_store *s = open_ro();
	struct kt_qreport *r;

	(void)state;
	assert_int_equal(kt_query_history(s, "t_a", &f, &r, &err), 0);
	assert_int_equal(kt_qreport_rows(r, NULL), 2);
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "kernel"), "bookworm");
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "recent"), "FF");
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "fail"), "2");
	assert_string_equal(kt_qreport_cell(r, NULL, 1, "kernel"), "sid");
	assert_string_equal(kt_qreport_cell(r, NULL, 1, "recent"), "PF");
	assert_string_equal(kt_qreport_cell(r, NULL, 1, "pass"), "1");
	assert_string_equal(kt_qreport_cell(r, NULL, 1, "runs"), "2");
	assert_string_equal(kt_qreport_cell(r, NULL, 1, "scheduler"), "scx_ktstr:default");
	kt_qreport_free(r);
	assert_int_equal(kt_query_history(s, "t_b", &f, &r, &err), 0);
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "recent"), "EP");
	assert_string_equal(kt_qreport_cell(r, NULL, 1, "recent"), "PP");
	kt_qreport_free(r);
	f.kernel = "sid";
	f.since = now - 7 * DAY;
	assert_int_equal(kt_query_history(s, "t_a", &f, &r, &err), 0);
	assert_int_equal(kt_qreport_rows(r, NULL), 1);
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "recent"), "F");
	kt_qreport_free(r);
	assert_int_equal(kt_query_history(s, "t_zzz", &f, &r, &err), 1);
	assert_null(r);
	assert_non_null(strstr(err.msg, "t_zzz"));
	kt_store_close(s);
}

static void test_show(void **state)
{
	struct kt_err err = { "" };
	struct kt_store *s = open_ro();
	struct kt_qreport *r;
	char id[24], *json;

	(void)state;
	snprintf(id, sizeof(id), "%llu", (unsigned long long)ids[0][1][0]);
	assert_int_equal(kt_query_show(s, id, &r, &err), 0);
	assert_string_equal(kt_qreport_cell(r, "entry", 0, "status"), "pass");
	assert_string_equal(kt_qreport_cell(r, "entry", 0, "attempt"), "2");
	assert_string_equal(kt_qreport_cell(r, "entry", 0, "worker"), "w2");
	assert_string_equal(kt_qreport_cell(r, "entry", 0, "guest_topology"), "1n1l2c1t");
	assert_int_equal(kt_qreport_rows(r, "attempts"), 2);
	assert_string_equal(kt_qreport_cell(r, "attempts", 0, "status"), "infra");
	assert_string_equal(kt_qreport_cell(r, "attempts", 0, "signature"), "infra");
	assert_int_equal(kt_qreport_rows(r, "checks"), 2);
	assert_int_equal(kt_qreport_rows(r, "workers"), 2);
	assert_string_equal(kt_qreport_cell(r, "workers", 1, "work_units"), "1001");
	assert_non_null(strstr(kt_qreport_cell(r, "console", 0, "tail"), "ktstr-guest: done"));
	json = print(r, KT_QFMT_JSON);
	assert_non_null(strstr(json, "\"entry\": {"));
	assert_non_null(strstr(json, "\"console\": \"[    0.000000] Linux version 7.2\\n"));
	assert_non_null(strstr(json, "\"work_type\": \"yield_heavy\""));
	free(json);
	kt_qreport_free(r);

	/* By name: the latest entry of that name (run 2's). */
	assert_int_equal(kt_query_show(s, "t_a/1n1l2c1t/scx_ktstr:default/sid", &r, &err), 0);
	snprintf(id, sizeof(id), "%llu", (unsigned long long)ids[1][0][0]);
	assert_string_equal(kt_qreport_cell(r, "entry", 0, "id"), id);
	assert_string_equal(kt_qreport_cell(r, "checks", 1, "result"), "fail");
	assert_string_equal(kt_qreport_cell(r, "checks", 1, "name"), "not_starved.gap");
	kt_qreport_free(r);
	assert_int_equal(kt_query_show(s, "no/such/entry", &r, &err), 1);
	assert_int_equal(kt_query_show(s, "999999", &r, &err), 1);
	kt_store_close(s);
}

static void test_stats_flaky(void **state)
{
	struct kt_qfilter f = { 0 };
	struct kt_err err = { "" };
	struct kt_store *s = open_ro();
	struct kt_qreport *r;

	(void)state;
	assert_int_equal(kt_query_stats(s, &f, &r, &err), 0);
	assert_string_equal(kt_qreport_cell(r, "totals", 0, "runs"), "2");
	assert_string_equal(kt_qreport_cell(r, "totals", 0, "results"), "9");
	assert_string_equal(kt_qreport_cell(r, "totals", 0, "schema"), "3");
	assert_string_equal(kt_qreport_cell(r, "entries", 0, "status"), "pass");
	assert_string_equal(kt_qreport_cell(r, "entries", 0, "entries"), "4");
	assert_string_equal(kt_qreport_cell(r, "signatures", 0, "signature"),
			    "fail/check=not_starved.gap");
	assert_string_equal(kt_qreport_cell(r, "signatures", 0, "occurrences"), "3");
	assert_string_equal(kt_qreport_cell(r, "signatures", 0, "latest"),
			    "t_a/1n1l2c1t/scx_ktstr:default/bookworm");
	assert_int_equal(kt_qreport_rows(r, "signatures"), 3); /* + error, infra */
	kt_qreport_free(r);

	assert_int_equal(kt_query_flaky(s, &f, &r, &err), 0);
	assert_int_equal(kt_qreport_rows(r, NULL), 2);
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "name"),
			    "t_a/1n1l2c1t/scx_ktstr:default/sid");
	assert_string_equal(kt_qreport_cell(r, NULL, 1, "name"),
			    "t_b/1n1l2c1t/scx_ktstr:default/bookworm");
	kt_qreport_free(r);
	kt_store_close(s);
}

static void test_csv_quoting(void **state)
{
	static const char hdr[] = "stored_at,entry,run,name,test,kernel,scheduler,topology,"
				  "attempt,status,signature,message\r\n";
	struct kt_qfilter f = { .kernel = "bookworm", .test = "t_a" };
	struct kt_err err = { "" };
	struct kt_store *s = open_ro();
	struct kt_qreport *r;
	char *csv;

	(void)state;
	f.since = now - 30 * DAY;
	assert_int_equal(kt_query_failures(s, &f, &r, &err), 0);
	csv = print(r, KT_QFMT_CSV);
	assert_true(!strncmp(csv, hdr, strlen(hdr)));
	/* Commas, quotes and newlines quoted, quotes doubled. */
	assert_non_null(strstr(csv, ",fail,fail/check=not_starved.gap,"
			       "\"gap, \"\"big\"\"\nline 2\"\r\n"));
	assert_non_null(strstr(csv, ",fail,fail/check=not_starved.gap,gap\r\n"));
	free(csv);
	kt_qreport_free(r);
	kt_store_close(s);
}

static void test_since_parse(void **state)
{
	struct kt_err err = { "" };
	uint64_t ms;

	(void)state;
	assert_int_equal(kt_since_parse("7d", &ms, &err), 0);
	assert_int_equal(ms, 7 * DAY);
	assert_int_equal(kt_since_parse("12h", &ms, &err), 0);
	assert_int_equal(ms, 12 * HOUR);
	assert_int_equal(kt_since_parse("30m", &ms, &err), 0);
	assert_int_equal(ms, 30 * 60000);
	assert_int_equal(kt_since_parse("2w", &ms, &err), 0);
	assert_int_equal(ms, 14 * DAY);
	assert_int_equal(kt_since_parse("0d", &ms, &err), -1);
	assert_int_equal(kt_since_parse("d", &ms, &err), -1);
	assert_int_equal(kt_since_parse("7", &ms, &err), -1);
	assert_int_equal(kt_since_parse("7dd", &ms, &err), -1);
	assert_int_equal(kt_since_parse("7y", &ms, &err), -1);
	assert_non_null(strstr(err.msg, "unknown unit"));
	assert_int_equal(kt_since_parse("99999999999999999999999d", &ms, &err), -1);
	assert_int_equal(kt_since_parse("4000d", &ms, &err), -1);
}

/* Run ktstr-query with ARGS; its stdout into a malloc'd *OUT; exit code. */
static int cli(const char *args, char **out)
{
	char cmd[1024], *buf = NULL;
	size_t len = 0, n;
	char chunk[4096];
	FILE *p, *m = open_memstream(&buf, &len);
	int st;

	snprintf(cmd, sizeof(cmd), "%s/ktstr-query %s 2>/dev/null", KTSTR_BIN_DIR, args);
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
	snprintf(args, sizeof(args), "--db %s --json failures --since 7d", db_path);
	assert_int_equal(cli(args, &out), 0);
	assert_true(out[0] == '[');
	assert_non_null(strstr(out, "\"name\": \"t_a/1n1l2c1t/scx_ktstr:default/sid\""));
	assert_non_null(strstr(out, "\"signature\": \"fail/check=not_starved.gap\""));
	assert_null(strstr(out, "\"error\""));  /* run 1's error is older than 7d */
	free(out);
	snprintf(args, sizeof(args), "--db %s history t_a --kernel sid --json", db_path);
	assert_int_equal(cli(args, &out), 0);
	assert_non_null(strstr(out, "\"recent\": \"PF\""));
	free(out);
	snprintf(args, sizeof(args), "--db %s --csv stats", db_path);
	assert_int_equal(cli(args, &out), 0);
	assert_non_null(strstr(out, "fail/check=not_starved.gap,3,1,"));
	free(out);
	snprintf(args, sizeof(args), "--db %s show t_b/1n1l2c1t/scx_ktstr:default/sid", db_path);
	assert_int_equal(cli(args, &out), 0);
	assert_non_null(strstr(out, "== checks =="));
	assert_non_null(strstr(out, "ktstr-guest: done"));
	free(out);
	/* Not found, bad usage, bad database. */
	snprintf(args, sizeof(args), "--db %s show nope", db_path);
	assert_int_equal(cli(args, &out), 1);
	free(out);
	snprintf(args, sizeof(args), "--db %s frobnicate", db_path);
	assert_int_equal(cli(args, &out), 2);
	free(out);
	snprintf(args, sizeof(args), "--db %s runs --kernel sid", db_path);
	assert_int_equal(cli(args, &out), 2);
	free(out);
	snprintf(args, sizeof(args), "--db %s failures --since 7x", db_path);
	assert_int_equal(cli(args, &out), 2);
	free(out);
	assert_int_equal(cli("--db /nonexistent/x.db runs", &out), 2);
	free(out);
}

/* A reader while the coordinator holds a write transaction: it sees the
 * last committed state, and the next query sees the commit. */
static void test_read_while_writing(void **state)
{
	static const char *const tests[] = { "t_new" };
	struct kt_qfilter f = { 0 };
	struct kt_err err = { "" };
	struct kt_store *w, *s;
	struct kt_qreport *r;
	char name[128], args[512], *out;
	uint64_t run, id;

	(void)state;
	if (kt_store_open(db_path, false, &w, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(kt_store_begin(w, &err), 0);
	assert_int_equal(kt_store_run_create(w, "run-3", 0, "m", now, &run, &err), 0);
	struct kt_store_entry e = fx_entry(run, 0, tests[0], "sid", name);
	assert_int_equal(kt_store_entry_add(w, &e, &id, &err), 0);

	s = open_ro();
	assert_int_equal(kt_query_runs(s, &f, &r, &err), 0);
	assert_int_equal(kt_qreport_rows(r, NULL), 2);
	kt_qreport_free(r);
	snprintf(args, sizeof(args), "--db %s --json runs", db_path);
	assert_int_equal(cli(args, &out), 0);
	assert_null(strstr(out, "run-3"));
	free(out);

	assert_int_equal(kt_store_commit(w, &err), 0);
	assert_int_equal(kt_query_runs(s, &f, &r, &err), 0);
	assert_int_equal(kt_qreport_rows(r, NULL), 3);
	assert_string_equal(kt_qreport_cell(r, NULL, 0, "state"), "queued");
	kt_qreport_free(r);
	assert_int_equal(cli(args, &out), 0);
	assert_non_null(strstr(out, "run-3"));
	free(out);
	kt_store_close(s);
	kt_store_close(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_since_parse),
		cmocka_unit_test(test_runs),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_show),
		cmocka_unit_test(test_stats_flaky),
		cmocka_unit_test(test_csv_quoting),
		cmocka_unit_test(test_cli),
		/* Last: it adds a run. */
		cmocka_unit_test(test_read_while_writing),
	};

	return cmocka_run_group_tests(tests, populate, cleanup);
}
