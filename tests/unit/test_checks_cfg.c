#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "calib.h"
#include "checks_cfg.h"

static void kv_ok(struct kt_checks_over *o, const char *kv)
{
	struct kt_err err = { "" };

	if (kt_checks_over_kv(o, kv, &err))
		fail_msg("%s: %s", kv, err.msg);
}

static void kv_err(const char *kv, const char *want)
{
	struct kt_checks_over o;
	struct kt_err err = { "" };

	memset(&o, 0, sizeof(o));
	assert_int_equal(kt_checks_over_kv(&o, kv, &err), -1);
	if (strcmp(err.msg, want))
		fail_msg("%s: error \"%s\"\n  wanted \"%s\"", kv, err.msg, want);
	for (int k = 0; k < KT_CK_N; k++)
		assert_false(o.has[k]);
}

static void test_keys(void **state)
{
	(void)state;
	assert_string_equal(kt_checks_key_name(KT_CK_NOT_STARVED), "not_starved");
	assert_string_equal(kt_checks_key_name(KT_CK_MAX_MIGRATION_RATIO), "max_migration_ratio");
	assert_null(kt_checks_key_name(KT_CK_N));
}

static void test_kv(void **state)
{
	struct kt_checks_over o;

	(void)state;
	memset(&o, 0, sizeof(o));
	kv_ok(&o, "max_gap_ms=3000");
	kv_ok(&o, "isolation=true");
	kv_ok(&o, "not_starved=false");
	kv_ok(&o, "max_throughput_cv=0.5");
	kv_ok(&o, "min_work_rate=off");
	kv_ok(&o, "max_p99_wake_us=1e4");
	kv_ok(&o, "spread_warmup_ms=0");
	assert_true(o.has[KT_CK_SPREAD_WARMUP_MS] && o.v.spread_warmup_ms == 0);
	assert_true(o.has[KT_CK_MAX_GAP_MS] && o.v.max_gap_ms == 3000);
	assert_true(o.has[KT_CK_ISOLATION] && o.v.isolation);
	assert_true(o.has[KT_CK_NOT_STARVED] && !o.v.not_starved);
	assert_true(o.has[KT_CK_MAX_THROUGHPUT_CV] && o.v.max_throughput_cv == 0.5);
	assert_true(o.has[KT_CK_MIN_WORK_RATE] && o.v.min_work_rate == KT_CHECK_OFF);
	assert_true(o.has[KT_CK_MAX_P99_WAKE_US] && o.v.max_p99_wake_us == 1e4);
	assert_false(o.has[KT_CK_MAX_SPREAD] || o.has[KT_CK_MAX_WAKE_CV] ||
		     o.has[KT_CK_MAX_MIGRATION_RATIO]);
	/* The last one given wins. */
	kv_ok(&o, "max_gap_ms=0");
	assert_true(o.v.max_gap_ms == 0);

	kv_err("max_gap=5", "--check 'max_gap=5': unknown key 'max_gap' (one of not_starved, "
	       "max_gap_ms, max_spread, spread_warmup_ms, isolation, max_throughput_cv, min_work_rate, "
	       "max_p99_wake_us, max_wake_cv, max_migration_ratio)");
	kv_err("max_gap_ms", "--check 'max_gap_ms': expected KEY=VALUE");
	kv_err("max_gap_ms=", "--check 'max_gap_ms=': expected a number in [0, 3600000]");
	kv_err("max_gap_ms=off", "--check 'max_gap_ms=off': expected a number in [0, 3600000]");
	kv_err("max_gap_ms=-1", "--check 'max_gap_ms=-1': expected a number in [0, 3600000]");
	kv_err("max_gap_ms=nan", "--check 'max_gap_ms=nan': expected a number in [0, 3600000]");
	kv_err("max_gap_ms=0x10", "--check 'max_gap_ms=0x10': expected a number in [0, 3600000]");
	kv_err("max_spread=100.5", "--check 'max_spread=100.5': expected a number in [0, 100]");
	kv_err("max_wake_cv=1e999", "--check 'max_wake_cv=1e999': expected a number in [0, 100] "
	       "or off");
	kv_err("isolation=yes", "--check 'isolation=yes': expected true or false");
	kv_err("=1", "--check '=1': unknown key '' (one of not_starved, max_gap_ms, max_spread, "
	       "spread_warmup_ms, isolation, max_throughput_cv, min_work_rate, max_p99_wake_us, max_wake_cv, "
	       "max_migration_ratio)");
}

/* scenario < scheduler < test, key by key. */
static void test_precedence(void **state)
{
	struct kt_checks_over sched, test;
	struct kt_checks_cfg cfg;

	(void)state;
	kt_checks_cfg_default(&cfg); /* the scenario's */
	cfg.isolation = true;
	cfg.max_spread = 30;
	memset(&sched, 0, sizeof(sched));
	memset(&test, 0, sizeof(test));
	kv_ok(&sched, "max_gap_ms=5000");
	kv_ok(&sched, "max_p99_wake_us=800");
	kv_ok(&sched, "max_wake_cv=0.3");
	kv_ok(&test, "max_gap_ms=7000");
	kv_ok(&test, "max_wake_cv=off");
	kv_ok(&test, "isolation=false");
	kt_checks_over_merge(&sched, &test);
	kt_checks_over_apply(&sched, &cfg);
	assert_true(cfg.max_gap_ms == 7000);         /* test over scheduler */
	assert_true(cfg.max_p99_wake_us == 800);     /* scheduler over scenario */
	assert_true(cfg.max_wake_cv == KT_CHECK_OFF); /* a test turns a scheduler's check off */
	assert_false(cfg.isolation);                 /* test over scenario */
	assert_true(cfg.max_spread == 30);           /* the scenario's, untouched */
	assert_true(cfg.not_starved && cfg.min_work_rate == KT_CHECK_OFF && cfg.slowdown == 1);
	/* Applying nothing changes nothing. */
	kt_checks_over_apply(NULL, &cfg);
	assert_true(cfg.max_gap_ms == 7000);
}

static void test_pb(void **state)
{
	Ktstr__CheckOverrides pb = KTSTR__CHECK_OVERRIDES__INIT;
	struct kt_checks_over o, back;
	struct kt_err err = { "" };
	uint8_t buf[256];
	Ktstr__CheckOverrides *up;
	size_t len;

	(void)state;
	memset(&o, 0, sizeof(o));
	kv_ok(&o, "not_starved=false");
	kv_ok(&o, "max_spread=12.5");
	kv_ok(&o, "max_throughput_cv=0.4");
	kv_ok(&o, "min_work_rate=off");
	kv_ok(&o, "max_migration_ratio=0");
	kt_checks_over_to_pb(&o, &pb);
	assert_true(pb.has_not_starved && !pb.not_starved);
	assert_true(pb.has_max_spread && pb.max_spread == 12.5);
	assert_true(pb.has_min_work_rate && pb.min_work_rate < 0);
	assert_false(pb.has_max_gap_ms || pb.has_isolation || pb.has_max_p99_wake_us ||
		     pb.has_max_wake_cv);
	/* Over the wire and back. */
	len = ktstr__check_overrides__get_packed_size(&pb);
	assert_true(len <= sizeof(buf));
	ktstr__check_overrides__pack(&pb, buf);
	up = ktstr__check_overrides__unpack(NULL, len, buf);
	assert_non_null(up);
	assert_int_equal(kt_checks_over_from_pb(up, &back, &err), 0);
	ktstr__check_overrides__free_unpacked(up, NULL);
	for (int k = 0; k < KT_CK_N; k++)
		assert_int_equal(back.has[k], o.has[k]);
	assert_false(back.v.not_starved);
	assert_true(back.v.max_spread == 12.5 && back.v.max_throughput_cv == 0.4);
	assert_true(back.v.min_work_rate == KT_CHECK_OFF && back.v.max_migration_ratio == 0);

	/* NULL is nothing given. */
	assert_int_equal(kt_checks_over_from_pb(NULL, &back, &err), 0);
	for (int k = 0; k < KT_CK_N; k++)
		assert_false(back.has[k]);

	/* Out of range: refused, naming the field. */
	pb.max_spread = 101;
	assert_int_equal(kt_checks_over_from_pb(&pb, &back, &err), -1);
	assert_string_equal(err.msg, "checks.max_spread 101: expected 0 to 100");
	pb.max_spread = NAN;
	assert_int_equal(kt_checks_over_from_pb(&pb, &back, &err), -1);
	pb.max_spread = 1;
	pb.max_throughput_cv = 1e9;
	assert_int_equal(kt_checks_over_from_pb(&pb, &back, &err), -1);
	assert_string_equal(err.msg, "checks.max_throughput_cv 1e+09: expected 0 to 100, or "
			    "negative (off)");
	pb.max_throughput_cv = NAN;
	assert_int_equal(kt_checks_over_from_pb(&pb, &back, &err), -1);
	pb.max_throughput_cv = -7; /* any negative: off */
	assert_int_equal(kt_checks_over_from_pb(&pb, &back, &err), 0);
	assert_true(back.v.max_throughput_cv == KT_CHECK_OFF);
	pb.has_max_gap_ms = 1;
	pb.max_gap_ms = -1;
	assert_int_equal(kt_checks_over_from_pb(&pb, &back, &err), -1);
	assert_string_equal(err.msg, "checks.max_gap_ms -1: expected 0 to 3600000");
}

static void test_calib_factor(void **state)
{
	uint64_t a, b;

	(void)state;
	assert_true(kt_calib_factor(11800, 1000) == 11.8);
	assert_true(kt_calib_factor(1000, 1000) == 1);
	assert_true(kt_calib_factor(500, 1000) == 1);       /* never stricter than the host */
	assert_true(kt_calib_factor(0, 1000) == 1);         /* an agent that did not measure */
	assert_true(kt_calib_factor(1000, 0) == 1);
	assert_true(kt_calib_factor(UINT64_MAX, 1) == KT_CALIB_MAX_FACTOR); /* not believed */
	/* The loop runs and the host's measurement is taken once. */
	assert_true(kt_calib_measure(1) > 0);
	a = kt_calib_host_ns();
	b = kt_calib_host_ns();
	assert_true(a > 0 && a == b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_kv),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_pb),
		cmocka_unit_test(test_calib_factor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
