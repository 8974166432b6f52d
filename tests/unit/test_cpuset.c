#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "cpuset.h"

#define FT_MAX 16

/* A synthetic GuestTopology on the stack. */
struct ftopo {
	Ktstr__GuestTopology t;
	Ktstr__CpuInfo ci[FT_MAX];
	Ktstr__CpuInfo *p[FT_MAX];
};

static void mk(struct ftopo *f, size_t n, const uint32_t *ids, const uint32_t *llc,
	       uint32_t llcs)
{
	ktstr__guest_topology__init(&f->t);
	for (size_t i = 0; i < n; i++) {
		ktstr__cpu_info__init(&f->ci[i]);
		f->ci[i].cpu = ids[i];
		f->ci[i].llc = llc[i];
		f->p[i] = &f->ci[i];
	}
	f->t.cpu = f->p;
	f->t.n_cpu = n;
	f->t.cpus = (uint32_t)n;
	f->t.llcs = llcs;
}

/* 1 LLC x 4 CPUs. */
static void one_llc(struct ftopo *f)
{
	static const uint32_t ids[] = {0, 1, 2, 3}, llc[] = {0, 0, 0, 0};

	mk(f, 4, ids, llc, 1);
}

/* 2 LLCs x 2 CPUs. */
static void two_llc(struct ftopo *f)
{
	static const uint32_t ids[] = {0, 1, 2, 3}, llc[] = {0, 0, 1, 1};

	mk(f, 4, ids, llc, 2);
}

/* 2 cores x 2 SMT threads, siblings numbered apart (0,2 and 1,3) and listed
 * out of order, in 2 LLCs by core. */
static void smt(struct ftopo *f)
{
	static const uint32_t ids[] = {3, 0, 2, 1}, llc[] = {1, 0, 0, 1};

	mk(f, 4, ids, llc, 2);
}

/* 5 CPUs with holes (an offline CPU 2), one LLC: remainder slices. */
static void five(struct ftopo *f)
{
	static const uint32_t ids[] = {0, 1, 3, 4, 5}, llc[] = {0, 0, 0, 0, 0};

	mk(f, 5, ids, llc, 1);
}

static Ktstr__CpusetSpec spec(Ktstr__CpusetKind kind, uint32_t index, uint32_t of)
{
	Ktstr__CpusetSpec s = KTSTR__CPUSET_SPEC__INIT;

	s.kind = kind;
	s.index = index;
	s.of = of;
	return s;
}

/* Resolve and compare with the cpulist WANT. */
static void expect(const Ktstr__CpusetSpec *s, const struct ftopo *f, const char *want)
{
	uint32_t cpus[FT_MAX];
	char buf[64];
	struct kt_err e;
	size_t n;

	if (kt_cpuset_resolve(s, &f->t, cpus, FT_MAX, &n, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(kt_cpulist_format(cpus, n, buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, want);
}

/* Resolution must fail with an error containing WANT1 and WANT2. */
static void expect_err(const Ktstr__CpusetSpec *s, const struct ftopo *f, const char *want1,
		       const char *want2)
{
	uint32_t cpus[FT_MAX];
	struct kt_err e = {{0}};
	size_t n;

	assert_int_equal(kt_cpuset_resolve(s, &f->t, cpus, FT_MAX, &n, &e), -1);
	if (!strstr(e.msg, want1) || (want2 && !strstr(e.msg, want2)))
		fail_msg("error '%s' lacks '%s' / '%s'", e.msg, want1, want2 ? want2 : "");
}

static void resolve_none(void **state)
{
	Ktstr__CpusetSpec s = spec(KTSTR__CPUSET_KIND__CPUSET_NONE, 0, 0);
	struct ftopo f;

	(void)state;
	one_llc(&f);
	expect(&s, &f, "0-3");
	expect(NULL, &f, "0-3");
	smt(&f);
	expect(&s, &f, "0-3");
	five(&f);
	expect(&s, &f, "0-1,3-5");
}

static void resolve_exact(void **state)
{
	Ktstr__CpusetSpec s = spec(KTSTR__CPUSET_KIND__CPUSET_EXACT, 0, 0);
	uint32_t list[] = {2, 0, 2}, bad[] = {0, 9}, hole[] = {2};
	struct ftopo f;

	(void)state;
	two_llc(&f);
	s.cpus = list;
	s.n_cpus = 3;
	expect(&s, &f, "0,2");
	s.cpus = bad;
	s.n_cpus = 2;
	expect_err(&s, &f, "exact(0,9): CPU 9 is not in", "guest topology of 4 CPUs (0-3)");
	s.n_cpus = 0;
	expect_err(&s, &f, "exact(): the CPU list is empty", NULL);
	five(&f);
	s.cpus = hole;
	s.n_cpus = 1;
	expect_err(&s, &f, "CPU 2 is not in", "5 CPUs (0-1,3-5)");
}

static void resolve_disjoint(void **state)
{
	Ktstr__CpusetSpec s;
	struct ftopo f;

	(void)state;
	one_llc(&f);
	s = spec(KTSTR__CPUSET_KIND__CPUSET_DISJOINT, 0, 2);
	expect(&s, &f, "0-1");
	s.index = 1;
	expect(&s, &f, "2-3");
	s = spec(KTSTR__CPUSET_KIND__CPUSET_DISJOINT, 0, 1);
	expect(&s, &f, "0-3");
	s = spec(KTSTR__CPUSET_KIND__CPUSET_DISJOINT, 3, 4);
	expect(&s, &f, "3");
	/* Unsorted topology input: slices follow CPU ids, not listing order. */
	smt(&f);
	s = spec(KTSTR__CPUSET_KIND__CPUSET_DISJOINT, 1, 2);
	expect(&s, &f, "2-3");
	/* 5 CPUs: remainders go to the last slices. */
	five(&f);
	s = spec(KTSTR__CPUSET_KIND__CPUSET_DISJOINT, 0, 2);
	expect(&s, &f, "0-1");
	s.index = 1;
	expect(&s, &f, "3-5");
	s = spec(KTSTR__CPUSET_KIND__CPUSET_DISJOINT, 0, 3);
	expect(&s, &f, "0");
	s.index = 1;
	expect(&s, &f, "1,3");
	s.index = 2;
	expect(&s, &f, "4-5");
	/* Errors. */
	s = spec(KTSTR__CPUSET_KIND__CPUSET_DISJOINT, 0, 0);
	expect_err(&s, &f, "disjoint(0 of 0): 'of' must be at least 1", NULL);
	s = spec(KTSTR__CPUSET_KIND__CPUSET_DISJOINT, 3, 3);
	expect_err(&s, &f, "disjoint(3 of 3): index must be below 'of'", NULL);
	s = spec(KTSTR__CPUSET_KIND__CPUSET_DISJOINT, 0, 6);
	expect_err(&s, &f, "6 slices of the guest topology of 5 CPUs", "empty");
}

static void resolve_llc(void **state)
{
	static const uint32_t ids[] = {0, 1}, llc0[] = {0, 0};
	Ktstr__CpusetSpec s = spec(KTSTR__CPUSET_KIND__CPUSET_LLC, 1, 0);
	struct ftopo f;

	(void)state;
	two_llc(&f);
	expect(&s, &f, "2-3");
	s.index = 0;
	expect(&s, &f, "0-1");
	smt(&f);
	s.index = 1;
	expect(&s, &f, "1,3");
	one_llc(&f);
	expect_err(&s, &f, "llc(1): LLC 1 is out of range", "in 1 LLCs");
	/* A topology that claims 2 LLCs but puts every CPU in LLC 0. */
	mk(&f, 2, ids, llc0, 2);
	expect_err(&s, &f, "no CPU of the guest topology", "LLC 1");
}

static void resolve_misc(void **state)
{
	Ktstr__CpusetSpec s = spec((Ktstr__CpusetKind)7, 0, 0);
	uint32_t cpus[2];
	struct kt_err e;
	struct ftopo f;
	size_t n;

	(void)state;
	one_llc(&f);
	expect_err(&s, &f, "unknown kind 7", NULL);
	/* Not enough room for the result. */
	s = spec(KTSTR__CPUSET_KIND__CPUSET_NONE, 0, 0);
	assert_int_equal(kt_cpuset_resolve(&s, &f.t, cpus, 2, &n, &e), -1);
	assert_non_null(strstr(e.msg, "4 CPUs do not fit in 2"));
	/* An empty topology. */
	f.t.n_cpu = 0;
	expect_err(&s, &f, "has no CPUs", NULL);
}

static void describe(void **state)
{
	Ktstr__CpusetSpec s = spec(KTSTR__CPUSET_KIND__CPUSET_EXACT, 0, 0);
	uint32_t list[] = {1, 22, 333};
	char buf[64], tiny[8];

	(void)state;
	s.cpus = list;
	s.n_cpus = 3;
	kt_cpuset_spec_describe(&s, buf, sizeof(buf));
	assert_string_equal(buf, "exact(1,22,333)");
	kt_cpuset_spec_describe(&s, tiny, sizeof(tiny));
	assert_int_equal(strlen(tiny), 7);
	kt_cpuset_spec_describe(NULL, buf, sizeof(buf));
	assert_string_equal(buf, "none");
	s = spec(KTSTR__CPUSET_KIND__CPUSET_DISJOINT, 1, 4);
	kt_cpuset_spec_describe(&s, buf, sizeof(buf));
	assert_string_equal(buf, "disjoint(1 of 4)");
	s = spec(KTSTR__CPUSET_KIND__CPUSET_LLC, 2, 0);
	kt_cpuset_spec_describe(&s, buf, sizeof(buf));
	assert_string_equal(buf, "llc(2)");
}

static void parse_valid(void **state)
{
	static const struct {
		const char *in, *out;
		size_t n;
	} cases[] = {
		{"0-3,6\n", "0-3,6", 5},
		{"0", "0", 1},
		{"", "", 0},
		{"\n", "", 0},
		{"5,1-2", "1-2,5", 3},
		{"3,3,2-3", "2-3", 2},
		{"0-1,3-5\n", "0-1,3-5", 5},
		{"8191", "8191", 1},
		{"7-7", "7", 1},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t cpus[64];
		char buf[64];
		struct kt_err e;
		size_t n;

		if (kt_cpulist_parse(cases[i].in, cpus, 64, &n, &e))
			fail_msg("'%s': %s", cases[i].in, e.msg);
		assert_int_equal(n, cases[i].n);
		assert_int_equal(kt_cpulist_format(cpus, n, buf, sizeof(buf), &e), 0);
		assert_string_equal(buf, cases[i].out);
	}
}

static void parse_invalid(void **state)
{
	static const char *const bad[] = {
		"1-", "-1", "1,,2", "3-1", "a", "1 2", "1,", ",1", "1\n\n", "+1", " 1", "8192",
		"99999999999999999999", "0-3\n5", "1-2-3", "0x1", "1\t", "\n\n", "0-8192",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t cpus[64];
		struct kt_err e = {{0}};
		size_t n;

		if (!kt_cpulist_parse(bad[i], cpus, 64, &n, &e))
			fail_msg("'%s' was accepted", bad[i]);
		assert_true(strlen(e.msg) > 0);
	}
}

static void parse_bounds(void **state)
{
	uint32_t cpus[4];
	struct kt_err e;
	size_t n;

	(void)state;
	assert_int_equal(kt_cpulist_parse("0-3", cpus, 4, &n, &e), 0);
	assert_int_equal(kt_cpulist_parse("0-4", cpus, 4, &n, &e), -1);
	assert_non_null(strstr(e.msg, "5 CPUs, more than the 4 allowed"));
	/* A huge range does not write past the array. */
	assert_int_equal(kt_cpulist_parse("0-8191", cpus, 4, &n, &e), -1);
	assert_int_equal(kt_cpulist_parse(NULL, cpus, 4, &n, &e), -1);
}

static void format(void **state)
{
	uint32_t a[] = {0, 1, 2, 3, 6}, b[] = {5}, c[] = {1, 2}, d[] = {1, 3, 5};
	char buf[64], small[4];
	struct kt_err e;

	(void)state;
	assert_int_equal(kt_cpulist_format(a, 5, buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, "0-3,6");
	assert_int_equal(kt_cpulist_format(a, 0, buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, "");
	assert_int_equal(kt_cpulist_format(b, 1, buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, "5");
	assert_int_equal(kt_cpulist_format(c, 2, buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, "1-2");
	assert_int_equal(kt_cpulist_format(d, 3, buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, "1,3,5");
	assert_int_equal(kt_cpulist_format(a, 5, small, sizeof(small), &e), -1);
	assert_string_equal(small, "");
	assert_int_equal(kt_cpulist_format(a, 5, buf, 0, &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(resolve_none),
		cmocka_unit_test(resolve_exact),
		cmocka_unit_test(resolve_disjoint),
		cmocka_unit_test(resolve_llc),
		cmocka_unit_test(resolve_misc),
		cmocka_unit_test(describe),
		cmocka_unit_test(parse_valid),
		cmocka_unit_test(parse_invalid),
		cmocka_unit_test(parse_bounds),
		cmocka_unit_test(format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
