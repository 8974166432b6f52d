/* ktstr-run's JSON report (worker/report.c) for a scheduler under test:
 * `scheduler`, `dump` and `snapshots`; guest dump text is re-printed only
 * when it parses, and the whole report stays one valid JSON value. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dump.h"
#include "entry.h"
#include "report.h"

#define DUMP "{\"schema\":\"ktstr-dump-1\",\"maps\":[{\"name\":\"scx_ktst.bss\",\"entries\":" \
	     "[{\"key\":0,\"value\":{\"kind\":\"struct\",\"type_name\":\".bss\",\"members\":" \
	     "[{\"name\":\"stall\",\"value\":{\"kind\":\"uint\",\"bits\":32,\"value\":1}}]}}]}]}"

static char *report(const struct kt_entry_req *req, const struct kt_entry_result *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct kt_dump *d;
	struct kt_err e;

	assert_non_null(f);
	kt_report_json(f, req, r);
	fclose(f);
	/* one valid JSON value, whatever the guest sent */
	if (kt_dump_parse(buf, strlen(buf) - 1, &d, &e))
		fail_msg("report is not JSON: %s\n%s", e.msg, buf);
	kt_dump_free(d);
	return buf;
}

static void has(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("'%s' not in %s", needle, text);
}

static void scheduler_dump_snapshots(void **state)
{
	static const char yaml[] = "name: t\nsteps:\n  - cgroups:\n"
				   "      - {name: cg_0, workers: 2}\n";
	struct kt_scenario *sc;
	struct kt_kernel kernel = {0};
	struct kt_entry_sched sched = {.name = "scx-ktstr", .binary = "/x/scx-ktstr",
				       .expect_err = true};
	struct kt_entry_req req = {.kernel = &kernel, .topo = {1, 1, 2, 1}, .duration_ms = 1000};
	struct kt_entry_result r;
	Ktstr__ScenarioResult res = KTSTR__SCENARIO_RESULT__INIT;
	Ktstr__SchedulerState st = KTSTR__SCHEDULER_STATE__INIT;
	Ktstr__Snapshot s1 = KTSTR__SNAPSHOT__INIT, s2 = KTSTR__SNAPSHOT__INIT,
			s3 = KTSTR__SNAPSHOT__INIT, s4 = KTSTR__SNAPSHOT__INIT;
	Ktstr__Snapshot *snaps[] = {&s1, &s2, &s3, &s4};
	struct kt_err e;
	char *out;

	(void)state;
	assert_int_equal(kt_scenario_parse(yaml, strlen(yaml), "t.yaml", &sc, &e), 0);
	req.scenario = sc;
	req.sched = &sched;
	memset(&r, 0, sizeof(r));
	r.status = KT_PASS;
	r.result = &res;
	st.name = "scx-ktstr";
	st.enabled = true;
	st.exited = true;
	st.exit_kind = 1026;
	st.reason = "runnable task stall";
	st.message = "watchdog failed to check in for 1.004s";
	st.failure = KTSTR__SCHEDULER_STATE__FAILURE__STALL;
	st.exit_status = 2;
	st.output = "scx-ktstr: enabled\n\"quoted\"\n";
	res.scheduler = &st;
	res.dump_json = DUMP;
	s1.name = "mid";
	s1.json = DUMP;
	s2.name = "mid"; /* the same name twice */
	s2.json = DUMP;
	s3.name = "late";
	s3.error = "snapshot late: the budget of 786432 bytes for all captures is used up";
	s3.at_ms = 1500;
	s4.name = "broken";
	s4.json = "{\"maps\": [1, 2"; /* truncated guest text */
	res.snapshots = snaps;
	res.n_snapshots = 4;

	out = report(&req, &r);
	has(out, "\"scheduler\":{\"name\":\"scx-ktstr\",\"expect_err\":true,\"enabled\":true,"
		 "\"failure\":\"stall\",\"exit\":{\"kind\":1026,\"reason\":\"runnable task stall\"");
	has(out, "\"exit_status\":2");
	has(out, "\"dump\":{\"schema\":\"ktstr-dump-1\"");
	has(out, "\"snapshots\":{\"mid\":{\"schema\"");
	has(out, "\"mid#2\":{\"schema\"");
	has(out, "\"late\":{\"error\":\"snapshot late: the budget");
	has(out, "\"broken\":{\"error\":");
	free(out);

	/* a dump that does not parse is reported as such, never copied */
	res.dump_json = "{\"schema\": \"ktstr-dump-1\", \"maps\": [}";
	res.n_snapshots = 0;
	out = report(&req, &r);
	has(out, "\"dump\":{\"error\":");
	has(out, "\"snapshots\":{}");
	free(out);

	/* the kernel's own scheduler: scheduler and dump are null */
	req.sched = NULL;
	res.dump_json = "";
	res.scheduler = NULL;
	out = report(&req, &r);
	has(out, "\"scheduler\":null");
	has(out, "\"dump\":null");
	free(out);
	kt_scenario_free(sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scheduler_dump_snapshots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
