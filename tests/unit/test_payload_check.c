/* Payload verdicts: how a payload ended, its exit code, and metrics read
 * from its JSON output by dotted path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <cmocka.h>
#include "payload_check.h"

static void lookup(const char *json, const char *path, bool found, bool is_num, double num)
{
	bool f, n;
	double v;
	struct kt_err e;

	if (kt_json_lookup(json, strlen(json), path, &f, &n, &v, &e))
		fail_msg("%s: %s", json, e.msg);
	assert_int_equal(f, found);
	assert_int_equal(n, is_num);
	if (is_num)
		assert_true(v == num);
}

static void bad_json(const char *json, const char *want)
{
	bool f, n;
	double v;
	struct kt_err e;

	assert_int_equal(kt_json_lookup(json, strlen(json), "a", &f, &n, &v, &e), -1);
	if (!strstr(e.msg, want))
		fail_msg("'%s' lacks '%s'", e.msg, want);
}

static void test_lookup(void **state)
{
	char deep[262];
	const char *j = "{\"a\": {\"b\": [1, 2.5e3, {\"c\": -4}]}, \"s\": \"x\\\"y\", "
			"\"t\": true, \"n\": null, \"a.b\": 9}";

	(void)state;
	lookup(j, "a.b.1", true, true, 2500);
	lookup(j, "a.b.2.c", true, true, -4);
	lookup(j, "a.b", true, false, 0);
	lookup(j, "s", true, false, 0);
	lookup(j, "t", true, false, 0);
	lookup(j, "a.b.3", false, false, 0);
	lookup(j, "a.x", false, false, 0);
	lookup(j, "a.b.c", false, false, 0);
	lookup(j, "a.b.01", false, false, 0);
	lookup("{\"a\": 1, \"a\": 2}", "a", true, true, 2);
	lookup("{\"\\u0061\": 3}", "a", true, true, 3);
	lookup("  7\n", "", true, true, 7);
	bad_json("", "payload output is not JSON: JSON at byte 0: unexpected end");
	bad_json("{\"a\": 1,}", "expected a member name");
	bad_json("{\"a\": 01}", "leading zero");
	bad_json("{\"a\": 1} 2", "trailing bytes");
	bad_json("{\"a\": \"x", "unterminated string");
	bad_json("tru", "bad literal");
	/* Lone surrogates (Python's for undecodable bytes) read as U+FFFD. */
	lookup("{\"a\": \"\\ud800\", \"b\": \"\\udc80\\ud800\\u0041\", \"c\": 1}", "c", true,
	       true, 1);
	bad_json("{\"a\": \"\\ud800\\u12\"}", "escape");
	/* 130 levels: past the parser's 120. */
	memset(deep, '[', 130);
	deep[130] = '1';
	memset(deep + 131, ']', 130);
	deep[261] = 0;
	bad_json(deep, "nested too deep");
}

struct fix {
	Ktstr__PayloadSpec spec;
	Ktstr__PayloadResult res;
	Ktstr__MetricCheck m[2], *mp[2];
};

static void mk(struct fix *f, const char *out)
{
	ktstr__payload_spec__init(&f->spec);
	ktstr__payload_result__init(&f->res);
	f->spec.name = "p";
	f->res.name = "p";
	f->res.output = (char *)out;
	for (int i = 0; i < 2; i++) {
		ktstr__metric_check__init(&f->m[i]);
		f->mp[i] = &f->m[i];
	}
	f->m[0].path = "ops";
	f->m[0].has_min = true;
	f->m[0].min = 100;
	f->m[1].path = "lat.p99";
	f->spec.metrics = f->mp;
	f->spec.n_metrics = 2;
}

static void verdict(struct fix *f, bool killed, enum kt_payload_verdict want, const char *msg)
{
	char buf[256];

	f->res.killed_by_op = killed;
	assert_int_equal(kt_payload_check(&f->spec, &f->res, buf, sizeof(buf)), want);
	if (!strstr(buf, msg))
		fail_msg("'%s' lacks '%s'", buf, msg);
}

static void test_verdicts(void **state)
{
	struct fix f;
	char buf[64];

	(void)state;
	mk(&f, "{\"ops\": 150, \"lat\": {\"p99\": 3}}");
	verdict(&f, false, KT_PAYLOAD_PASS, "2 metrics in range");
	f.m[0].min = 200;
	verdict(&f, false, KT_PAYLOAD_FAIL, "metric ops = 150 is outside [200, inf]");
	f.m[0].min = 100;
	f.res.exit_code = 3;
	verdict(&f, false, KT_PAYLOAD_FAIL, "exited with 3, expected 0");
	f.spec.exit_code = 3;
	verdict(&f, false, KT_PAYLOAD_PASS, "in range");
	f.res.timed_out = true;
	f.res.timeout_ms = 5000;
	f.res.scaled_timeout_ms = 25000;
	f.res.slowdown = 5.0;
	verdict(&f, false, KT_PAYLOAD_FAIL, "timed out after 25000 ms = 5000 ms x 5.0 measured "
		"slowdown");
	/* Cut short before the guest watchdog: the slow host's, not a fail. */
	f.res.scaled_timeout_ms = 9000;
	f.res.clamped = true;
	verdict(&f, false, KT_PAYLOAD_ERROR, "timed out after 9000 ms, its 5000 ms x 5.0 "
		"measured slowdown cut short");
	f.res.timed_out = false;
	f.res.signal = SIGSEGV;
	verdict(&f, false, KT_PAYLOAD_FAIL, "died of signal 11");
	f.res.signal = SIGKILL;
	verdict(&f, false, KT_PAYLOAD_FAIL, "still running at the end");
	/* Only the guest's record of its own kill makes a SIGKILL fine. */
	verdict(&f, true, KT_PAYLOAD_PASS, "in range");
	f.res.signal = 0;
	/* exists: missing fails; a bounded metric that cannot be read errs. */
	f.res.output = "{\"ops\": 150}";
	verdict(&f, false, KT_PAYLOAD_FAIL, "metric lat.p99 is not in its output");
	f.res.output = "{\"lat\": {\"p99\": 3}}";
	verdict(&f, false, KT_PAYLOAD_ERROR, "metric ops is not in its output");
	f.res.output = "{\"ops\": \"many\", \"lat\": {\"p99\": 3}}";
	verdict(&f, false, KT_PAYLOAD_ERROR, "metric ops is not a number");
	f.res.output = "ops=150";
	verdict(&f, false, KT_PAYLOAD_ERROR, "payload output is not JSON: JSON at byte 0");
	assert_int_equal(kt_payload_check(&f.spec, NULL, buf, sizeof(buf)),
			 KT_PAYLOAD_ERROR);
	/* Without metrics the output does not matter. */
	f.spec.n_metrics = 0;
	verdict(&f, false, KT_PAYLOAD_PASS, "payload 'p': exit 3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_verdicts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
