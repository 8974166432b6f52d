#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "topology.h"

static void valid(void **state)
{
	static const struct {
		const char *s;
		unsigned n, l, c, t, cpus;
	} cases[] = {
		{"1n1l2c1t", 1, 1, 2, 1, 2},
		{"1n2l4c1t", 1, 2, 4, 1, 8},
		{"2n4l2c2t", 2, 4, 2, 2, 16},
		{"4n4l1c1t", 4, 4, 1, 1, 4},
		{"1n14l9c2t", 1, 14, 9, 2, 252},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kt_topo t;
		struct kt_err e;
		char buf[32];

		assert_int_equal(kt_topo_parse(cases[i].s, &t, &e), 0);
		assert_int_equal(t.nodes, cases[i].n);
		assert_int_equal(t.llcs, cases[i].l);
		assert_int_equal(t.cores_per_llc, cases[i].c);
		assert_int_equal(t.threads, cases[i].t);
		assert_int_equal(kt_topo_cpus(&t), cases[i].cpus);
		kt_topo_format(&t, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].s);
	}
}

static void invalid(void **state)
{
	static const struct {
		const char *s, *msg;
	} cases[] = {
		{"", "empty"},
		{"1n1l2c", "expected a number before 't'"},
		{"1n1l2c1t ", "trailing"},
		{"0n1l1c1t", "at least 1"},
		{"1n0l1c1t", "at least 1"},
		{"2n3l1c1t", "do not divide evenly"},
		{"1n16l16c2t", "exceed the maximum"},
		{"n1l1c1t", "expected a number before 'n'"},
		{"1x1l1c1t", "expected 'n'"},
		{"-1n1l1c1t", "expected a number"},
		{"1n1l99999999999999999999c1t", "out of range"},
		{"1n1l2c1t1", "trailing"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kt_topo t;
		struct kt_err e = {{0}};

		assert_int_equal(kt_topo_parse(cases[i].s, &t, &e), -1);
		if (!strstr(e.msg, cases[i].msg))
			fail_msg("'%s': message '%s' lacks '%s'", cases[i].s, e.msg, cases[i].msg);
	}
	assert_int_equal(kt_topo_parse(NULL, NULL, NULL), -1);
}

static void memory(void **state)
{
	struct kt_topo t = {1, 1, 2, 1}, big = {1, 2, 4, 1};

	(void)state;
	assert_int_equal(kt_topo_default_mem_mb(&t), 256);
	assert_int_equal(kt_topo_default_mem_mb(&big), 512);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid),
		cmocka_unit_test(invalid),
		cmocka_unit_test(memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
