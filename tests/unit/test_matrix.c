#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "matrix.h"
#include "util.h"

static struct kt_matrix *parse_ok(const char *yaml)
{
	struct kt_matrix *m = NULL;
	struct kt_err err = { "" };

	if (kt_matrix_parse(yaml, strlen(yaml), "m.yaml", &m, &err))
		fail_msg("unexpected error: %s\n--- input:\n%s", err.msg, yaml);
	assert_non_null(m);
	return m;
}

/* The error for YAML must start with WANT. */
static void parse_err(const char *yaml, const char *want)
{
	struct kt_matrix *m = (struct kt_matrix *)&m; /* must be overwritten */
	struct kt_err err = { "" };

	if (!kt_matrix_parse(yaml, strlen(yaml), "m.yaml", &m, &err)) {
		kt_matrix_free(m);
		fail_msg("expected an error starting with \"%s\"\n--- input:\n%s", want, yaml);
	}
	assert_null(m);
	if (strncmp(err.msg, want, strlen(want)))
		fail_msg("error \"%s\"\n  does not start with \"%s\"", err.msg, want);
}

static struct kt_entry_def *expand_ok(const struct kt_matrix *m,
				      const struct kt_matrix_kernel_info *ki, size_t *n)
{
	struct kt_entry_def *d = NULL;
	struct kt_err err = { "" };

	if (kt_matrix_expand(m, ki, &d, n, &err))
		fail_msg("expand: %s", err.msg);
	assert_int_equal(*n, kt_matrix_n_entries(m));
	return d;
}

static const struct kt_entry_def *find(const struct kt_entry_def *d, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(d[i].name, name))
			return &d[i];
	fail_msg("no entry named %s", name);
	return NULL;
}

static void expect_args(const struct kt_entry_def *d, const char *const *want, size_t n)
{
	assert_int_equal(d->args.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(d->args.v[i], want[i]);
}

#define HEAD "name: t\nkernels: [debian:sid]\ntopologies: [1n1l2c1t]\n"

/* The issue's example, verbatim. */
static const char nightly[] =
	"name: nightly\n"
	"priority: 10\n"
	"kernels: [debian:sid, debian:trixie, debian:bookworm]\n"
	"schedulers:\n"
	"  - {name: eevdf}                       # the kernel's own scheduler\n"
	"  - name: scx-ktstr\n"
	"    flags: {slow: [--slow], scatter: [--scattershot]}\n"
	"    profiles: [default, slow, slow+scatter]\n"
	"topologies: [1n1l2c1t, 1n2l2c1t]\n"
	"tests:\n"
	"  - {scenario: steady, duration: 3s}\n"
	"  - {scenario: cpuset-disjoint, duration: 3s, constraints: {min_llcs: 2}}\n";

static void test_issue_example(void **state)
{
	static const char *const slow_scatter[] = { "--slow", "--scattershot" };
	struct kt_matrix *m = parse_ok(nightly);
	const struct kt_entry_def *e;
	struct kt_entry_def *d;
	size_t n;

	(void)state;
	assert_string_equal(kt_matrix_name(m), "nightly");
	assert_int_equal(kt_matrix_priority(m), 10);
	assert_int_equal(kt_matrix_n_kernels(m), 3);
	assert_string_equal(kt_matrix_kernel(m, 2), "debian:bookworm");
	assert_null(kt_matrix_kernel(m, 3));
	assert_int_equal(kt_matrix_n_files(m), 0);
	assert_int_equal(kt_matrix_n_binaries(m), 0);
	/* (steady x 2 topologies + cpuset-disjoint x 1) x (1 + 3 profiles) x 3 kernels */
	assert_int_equal(kt_matrix_n_entries(m), 36);
	d = expand_ok(m, NULL, &n);
	/* The order is the name's: test, topology, scheduler, profile, kernel. */
	assert_string_equal(d[0].name, "steady/1n1l2c1t/eevdf:default/debian:sid");
	assert_string_equal(d[1].name, "steady/1n1l2c1t/eevdf:default/debian:trixie");
	assert_string_equal(d[3].name, "steady/1n1l2c1t/scx-ktstr:default/debian:sid");
	assert_string_equal(d[35].name,
			    "cpuset-disjoint/1n2l2c1t/scx-ktstr:slow+scatter/debian:bookworm");
	e = find(d, n, "steady/1n2l2c1t/scx-ktstr:slow+scatter/debian:trixie");
	assert_string_equal(e->test, "steady");
	assert_string_equal(e->scenario, "steady");
	assert_false(e->scenario_is_file);
	assert_int_equal(e->kernel_idx, 1);
	assert_string_equal(e->topology, "1n2l2c1t");
	assert_int_equal(e->topo.llcs, 2);
	assert_string_equal(e->scheduler, "scx-ktstr");
	assert_null(e->binary);
	assert_string_equal(e->profile, "slow+scatter");
	expect_args(e, slow_scatter, 2);
	assert_int_equal(e->duration_ms, 3000);
	assert_int_equal(e->workers, KT_MATRIX_DEFAULT_WORKERS);
	assert_int_equal(e->vcpus, 4);
	assert_int_equal(e->memory_mb, 256);
	assert_false(e->expect_err);
	for (int k = 0; k < KT_CK_N; k++)
		assert_false(e->checks.has[k]);
	assert_null(e->need_accel);
	assert_int_equal(e->tags.n, 0);
	assert_string_equal(e->skip_reason, "");
	e = find(d, n, "steady/1n1l2c1t/eevdf:default/debian:bookworm");
	assert_int_equal(e->args.n, 0);
	assert_null(e->binary);
	/* Constraints: cpuset-disjoint only on the 2-LLC topology. */
	for (size_t i = 0; i < n; i++)
		assert_false(strstr(d[i].name, "cpuset-disjoint/1n1l2c1t"));
	/* Names are unique. */
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(d[i].name, d[j].name);
	kt_entry_defs_free(d, n);
	kt_matrix_free(m);
}

static void test_defaults(void **state)
{
	struct kt_matrix *m = parse_ok(HEAD "tests: [{scenario: steady}]\n");
	struct kt_entry_def *d;
	size_t n;

	(void)state;
	assert_int_equal(kt_matrix_priority(m), 0);
	d = expand_ok(m, NULL, &n);
	assert_int_equal(n, 1);
	assert_string_equal(d[0].name, "steady/1n1l2c1t/eevdf:default/debian:sid");
	assert_int_equal(d[0].duration_ms, 2000);
	assert_int_equal(d[0].workers, 2);
	kt_entry_defs_free(d, n);
	kt_matrix_free(m);
}

static size_t profile_names(const struct kt_entry_def *d, size_t n, const char *sched,
			    const char **out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(d[i].scheduler, sched) && !strcmp(d[i].topology, "1n1l2c1t"))
			out[k++] = d[i].profile;
	return k;
}

/* Without profiles: the power set filtered by requires, fewest flags
 * first, flags in declaration order. */
static void test_power_set(void **state)
{
	static const char *const want[] = { "default", "slow", "llc", "steal",
					    "slow+llc", "slow+steal", "llc+steal",
					    "slow+llc+steal" };
	struct kt_matrix *m = parse_ok(
		HEAD
		"schedulers:\n"
		"  - name: scx-ktstr\n"
		"    args: [--base]\n"
		"    flags:\n"
		"      slow: [--slow]\n"
		"      llc: {args: [--llc, --llc2], requires: [steal]}\n"
		"      steal: {args: [--steal]}\n"
		"tests: [{scenario: steady, sched_args: [--extra]}]\n");
	static const char *const args[] = { "--base", "--slow", "--llc", "--llc2", "--steal",
					    "--extra" };
	const char *names[16];
	struct kt_entry_def *d;
	size_t n, k;

	(void)state;
	d = expand_ok(m, NULL, &n);
	k = profile_names(d, n, "scx-ktstr", names);
	/* llc alone and slow+llc violate llc's requires. */
	assert_int_equal(k, 6);
	assert_string_equal(names[0], want[0]);
	assert_string_equal(names[1], want[1]);
	assert_string_equal(names[2], want[3]);
	assert_string_equal(names[3], want[5]);
	assert_string_equal(names[4], want[6]);
	assert_string_equal(names[5], want[7]);
	expect_args(find(d, n, "steady/1n1l2c1t/scx-ktstr:slow+llc+steal/debian:sid"), args, 6);
	kt_entry_defs_free(d, n);
	kt_matrix_free(m);
}

static void test_listed_profiles(void **state)
{
	struct kt_matrix *m = parse_ok(
		HEAD
		"schedulers:\n"
		"  - name: scx-ktstr\n"
		"    flags: {slow: [--slow], scatter: [--scattershot]}\n"
		"    profiles: [scatter+slow, default]\n"
		"tests: [{scenario: steady}]\n");
	static const char *const args[] = { "--slow", "--scattershot" };
	const char *names[4];
	struct kt_entry_def *d;
	size_t n;

	(void)state;
	d = expand_ok(m, NULL, &n);
	assert_int_equal(profile_names(d, n, "scx-ktstr", names), 2);
	/* Written order kept, the name canonical (declaration order). */
	assert_string_equal(names[0], "slow+scatter");
	assert_string_equal(names[1], "default");
	expect_args(&d[0], args, 2);
	kt_entry_defs_free(d, n);
	kt_matrix_free(m);
}

#define SCX "schedulers:\n  - name: scx-ktstr\n    flags: {slow: [--slow], llc: {args: [--llc], requires: [slow]}}\n"

static void test_profile_errors(void **state)
{
	(void)state;
	parse_err(HEAD SCX "    profiles: [default, llc+slow, slow+llc]\ntests: [{scenario: steady}]\n",
		  "m.yaml:7: schedulers[0].profiles[2]: the same profile as profiles[1] (slow+llc)");
	parse_err(HEAD SCX "    profiles: [llc]\ntests: [{scenario: steady}]\n",
		  "m.yaml:7: schedulers[0].profiles[0]: flag 'llc' requires 'slow'");
	parse_err(HEAD SCX "    profiles: [fast]\ntests: [{scenario: steady}]\n",
		  "m.yaml:7: schedulers[0].profiles[0]: 'fast' is not a flag of scx-ktstr");
	parse_err(HEAD SCX "    profiles: [slow+]\ntests: [{scenario: steady}]\n",
		  "m.yaml:7: schedulers[0].profiles[0]: '' is not a flag");
	parse_err(HEAD SCX "    profiles: [slow+slow]\ntests: [{scenario: steady}]\n",
		  "m.yaml:7: schedulers[0].profiles[0]: flag 'slow' appears twice");
	parse_err(HEAD SCX "    profiles: []\ntests: [{scenario: steady}]\n",
		  "m.yaml:7: schedulers[0].profiles: expected 1 to 256 items, got 0");
	parse_err(HEAD "schedulers: [{name: scx-ktstr, flags: {a: [--a], b: {args: [--b], "
		  "requires: [c]}}}]\ntests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].flags.b.requires[0]: 'c' is not a flag of scx-ktstr");
	parse_err(HEAD "schedulers: [{name: scx-ktstr, flags: {a: {args: [--a], requires: [a]}}}]\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].flags.a.requires[0]: flag 'a' cannot require itself");
	parse_err(HEAD "schedulers: [{name: scx-ktstr, flags: {a: [--a], a: [--b]}}]\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].flags: flag 'a' is declared twice");
	parse_err(HEAD "schedulers: [{name: scx-ktstr, flags: {default: [--a]}}]\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].flags: 'default' is not a valid flag name");
	parse_err(HEAD "schedulers: [{name: scx-ktstr, flags: {a+b: [--a]}}]\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].flags: 'a+b' is not a valid flag name");
	parse_err(HEAD "schedulers: [{name: scx-ktstr, flags: {a: []}}]\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].flags.a: a flag needs at least one argument");
	parse_err(HEAD "schedulers: [{name: scx-ktstr, flags: {a: {requires: [b]}}}]\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].flags.a.args: missing (required)");
	parse_err(HEAD "schedulers: [{name: scx-ktstr, flags: {a: --a}}]\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].flags.a: expected a list of arguments or {args, requires}");
	/* 9 free flags make 512 profiles. */
	parse_err(HEAD "schedulers: [{name: scx-ktstr, flags: {a: [-a], b: [-b], c: [-c], d: [-d], "
		  "e: [-e], f: [-f], g: [-g], h: [-h], i: [-i]}}]\ntests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].flags: 9 flags make 512 profiles, more than 256");
}

static void test_scheduler_errors(void **state)
{
	(void)state;
	parse_err(HEAD "schedulers: [{name: eevdf, flags: {a: [--a]}}]\ntests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].flags: eevdf is the kernel's own scheduler");
	parse_err(HEAD "schedulers: [{name: eevdf, binary: /bin/x}]\ntests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].binary: eevdf is the kernel's own scheduler");
	parse_err(HEAD "schedulers: [{name: scx_rusty}]\ntests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].binary: missing: a scheduler other than eevdf");
	parse_err(HEAD "schedulers: [{name: eevdf}, {name: eevdf}]\ntests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[1].name: 'eevdf' is already schedulers[0]");
	parse_err(HEAD "schedulers: [{name: a/b, binary: /x}]\ntests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].name: 'a/b' is not a valid name");
	parse_err(HEAD "schedulers: [{binary: /x}]\ntests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].name: missing (required)");
	parse_err(HEAD "schedulers: [{name: x, binary: /x, args: [\"a\\tb\"]}]\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].args[0]: the quoted string 'a?b': must be printable text");
	parse_err(HEAD "schedulers: []\ntests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers: expected 1 to 64 items, got 0");
}

/* A scheduler with a binary: listed once, carried in the entries; the
 * sched_ext skip applies to every scheduler but eevdf. */
static void test_binary_and_skip(void **state)
{
	struct kt_matrix *m = parse_ok(
		"name: t\nkernels: [debian:sid, debian:bookworm]\ntopologies: [1n1l2c1t]\n"
		"schedulers:\n"
		"  - {name: eevdf}\n"
		"  - {name: rusty, binary: /usr/bin/scx_rusty, args: [--fast]}\n"
		"  - {name: rusty2, binary: /usr/bin/scx_rusty}\n"
		"tests: [{scenario: steady, sched_args: [-v]}]\n");
	struct kt_matrix_kernel_info ki[] = { { "7.2.0-1-cloud-amd64", 1 },
					      { "6.1.0-50-cloud-amd64", 0 } };
	static const char *const args[] = { "--fast", "-v" };
	const struct kt_entry_def *e;
	struct kt_entry_def *d;
	size_t n;

	(void)state;
	assert_int_equal(kt_matrix_n_binaries(m), 1);
	assert_string_equal(kt_matrix_binary(m, 0), "/usr/bin/scx_rusty");
	assert_null(kt_matrix_binary(m, 1));
	d = expand_ok(m, ki, &n);
	assert_int_equal(n, 6);
	e = find(d, n, "steady/1n1l2c1t/rusty:default/6.1.0-50-cloud-amd64");
	assert_string_equal(e->binary, "/usr/bin/scx_rusty");
	expect_args(e, args, 2);
	assert_string_equal(e->skip_reason,
			    "rusty needs sched_ext; kernel 6.1.0-50-cloud-amd64 has none");
	e = find(d, n, "steady/1n1l2c1t/rusty:default/7.2.0-1-cloud-amd64");
	assert_string_equal(e->skip_reason, "");
	e = find(d, n, "steady/1n1l2c1t/eevdf:default/6.1.0-50-cloud-amd64");
	assert_string_equal(e->skip_reason, "");
	assert_int_equal(e->args.n, 0);
	kt_entry_defs_free(d, n);
	/* Unknown sched_ext support: no skip, the run will tell. */
	ki[1].has_sched_ext = -1;
	d = expand_ok(m, ki, &n);
	assert_string_equal(find(d, n, "steady/1n1l2c1t/rusty:default/6.1.0-50-cloud-amd64")
			    ->skip_reason, "");
	kt_entry_defs_free(d, n);
	kt_matrix_free(m);
}

/* sysctls and kernel_args: per scheduler, carried into each of its
 * entries as "key=value" and words; eevdf may take them too. */
static void test_sysctls_kernel_args(void **state)
{
	struct kt_matrix *m = parse_ok(
		"name: t\nkernels: [debian:sid]\ntopologies: [1n1l2c1t]\n"
		"schedulers:\n"
		"  - {name: eevdf}\n"
		"  - name: scx-ktstr\n"
		"    sysctls: {kernel.sched_rt_runtime_us: 950000, kernel/sched_autogroup_enabled: 0}\n"
		"    kernel_args: [sched_ext.slice_bypass_us=1000, nokaslr]\n"
		"    flags: {slow: [--slow]}\n"
		"tests: [{scenario: steady}]\n");
	const struct kt_entry_def *e;
	struct kt_entry_def *d;
	size_t n;

	(void)state;
	d = expand_ok(m, NULL, &n);
	assert_int_equal(n, 3);
	e = find(d, n, "steady/1n1l2c1t/scx-ktstr:slow/debian:sid");
	assert_int_equal(e->sysctls.n, 2);
	assert_string_equal(e->sysctls.v[0], "kernel.sched_rt_runtime_us=950000");
	assert_string_equal(e->sysctls.v[1], "kernel/sched_autogroup_enabled=0");
	assert_int_equal(e->kernel_args.n, 2);
	assert_string_equal(e->kernel_args.v[0], "sched_ext.slice_bypass_us=1000");
	assert_string_equal(e->kernel_args.v[1], "nokaslr");
	assert_null(e->binary); /* the built-in one */
	assert_true(find(d, n, "steady/1n1l2c1t/scx-ktstr:default/debian:sid")->sysctls.n == 2);
	e = find(d, n, "steady/1n1l2c1t/eevdf:default/debian:sid");
	assert_int_equal(e->sysctls.n, 0);
	assert_null(e->sysctls.v);
	assert_int_equal(e->kernel_args.n, 0);
	kt_entry_defs_free(d, n);
	kt_matrix_free(m);

	parse_err(HEAD "schedulers: [{name: eevdf, kernel_args: [nosmt]}]\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].kernel_args: eevdf is the kernel's own scheduler");
	parse_err(HEAD "schedulers: [{name: scx-ktstr, sysctls: [a]}]\ntests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].sysctls: expected a mapping of sysctls");
	parse_err(HEAD "schedulers: [{name: scx-ktstr, sysctls: {../x: 1}}]\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].sysctls: '../x' is not a sysctl name");
	parse_err(HEAD "schedulers: [{name: scx-ktstr, sysctls: {/etc/x: 1}}]\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].sysctls: '/etc/x' is not a sysctl name");
	parse_err(HEAD "schedulers: [{name: scx-ktstr, sysctls: {a.b: 1, a.b: 2}}]\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:4: ");
	parse_err(HEAD "schedulers: [{name: scx-ktstr, sysctls: {a.b: ~}}]\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].sysctls.a.b: expected a sysctl value");
	parse_err(HEAD "schedulers: [{name: scx-ktstr, kernel_args: [\"a b\"]}]\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].kernel_args[0]: the quoted string 'a b': must be "
		  "printable text without spaces");
	parse_err(HEAD "schedulers: [{name: scx-ktstr, kernel_args: ['a=\"b']}]\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].kernel_args[0]: ");
	parse_err(HEAD "schedulers: [{name: scx-ktstr, kernel_args: nosmt}]\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].kernel_args: expected a list of kernel arguments");
}

static void expand_err(const struct kt_matrix *m, const struct kt_matrix_kernel_info *ki,
		       const char *want)
{
	struct kt_entry_def *d = (struct kt_entry_def *)&d;
	struct kt_err err = { "" };
	size_t n = 7;

	assert_int_equal(kt_matrix_expand(m, ki, &d, &n, &err), -1);
	assert_null(d);
	assert_int_equal(n, 0);
	if (strncmp(err.msg, want, strlen(want)))
		fail_msg("error \"%s\"\n  does not start with \"%s\"", err.msg, want);
}

static void test_labels(void **state)
{
	struct kt_matrix *m = parse_ok("name: t\nkernels: [debian:sid, /boot/vmlinuz]\n"
				       "topologies: [1n1l2c1t]\ntests: [{scenario: steady}]\n");
	struct kt_matrix_kernel_info ki[] = { { "7.2", 1 }, { NULL, 1 } };
	struct kt_entry_def *d;
	size_t n;

	(void)state;
	/* A path ref cannot be a name component: it needs a label. */
	expand_err(m, NULL, "m.yaml: kernels[1] '/boot/vmlinuz': label '/boot/vmlinuz' cannot go");
	expand_err(m, ki, "m.yaml: kernels[1] '/boot/vmlinuz': label '/boot/vmlinuz' cannot go");
	ki[1].label = "7.2";
	expand_err(m, ki, "m.yaml: kernels[0] 'debian:sid' and kernels[1] '/boot/vmlinuz' are the "
		   "same kernel (7.2)");
	ki[1].label = "";
	expand_err(m, ki, "m.yaml: kernels[1] '/boot/vmlinuz': label '' cannot go");
	ki[1].label = "6.1 x";
	expand_err(m, ki, "m.yaml: kernels[1] '/boot/vmlinuz': label '6.1 x' cannot go");
	ki[1].label = "6.1";
	d = expand_ok(m, ki, &n);
	assert_string_equal(d[1].name, "steady/1n1l2c1t/eevdf:default/6.1");
	assert_int_equal(d[1].kernel_idx, 1);
	kt_entry_defs_free(d, n);
	kt_matrix_free(m);
}

static void test_constraints(void **state)
{
	struct kt_matrix *m = parse_ok(
		"name: t\nkernels: [k]\n"
		"topologies: [1n1l2c1t, 1n2l1c1t, 2n4l2c2t, 1n1l1c2t, 1n4l4c1t]\n"
		"tests:\n"
		"  - {scenario: steady, name: a, constraints: {min_llcs: 2, max_llcs: 2}}\n"
		"  - {scenario: steady, name: b, constraints: {requires_smt: true}}\n"
		"  - {scenario: steady, name: c, constraints: {min_numa_nodes: 2}}\n"
		"  - {scenario: steady, name: d, constraints: {max_numa_nodes: 1, min_cpus: 3, "
		"max_cpus: 16}}\n"
		"  - {scenario: steady, name: e, constraints: {max_cpus: 2}}\n");
	static const char *const want[] = {
		"a/1n2l1c1t/eevdf:default/k",
		"b/2n4l2c2t/eevdf:default/k", "b/1n1l1c2t/eevdf:default/k",
		"c/2n4l2c2t/eevdf:default/k",
		"d/1n4l4c1t/eevdf:default/k",
		"e/1n1l2c1t/eevdf:default/k", "e/1n2l1c1t/eevdf:default/k", "e/1n1l1c2t/eevdf:default/k",
	};
	struct kt_entry_def *d;
	size_t n;

	(void)state;
	d = expand_ok(m, NULL, &n);
	assert_int_equal(n, 8);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(d[i].name, want[i]);
	assert_int_equal(d[1].vcpus, 16);
	assert_int_equal(d[1].memory_mb, 1024);
	kt_entry_defs_free(d, n);
	kt_matrix_free(m);

	parse_err(HEAD "tests: [{scenario: steady, constraints: {min_llcs: 2}}]\n",
		  "m.yaml:4: tests[0].constraints: test 'steady' matches none of the topologies "
		  "(1n1l2c1t)");
	parse_err(HEAD "tests: [{scenario: steady, constraints: {min_cpus: 4, max_cpus: 2}}]\n",
		  "m.yaml:4: tests[0].constraints.max_cpus: 2 is below min_cpus (4)");
	parse_err(HEAD "tests: [{scenario: steady, constraints: {min_llc: 2}}]\n",
		  "m.yaml:4: tests[0].constraints.min_llc: unknown key (expected min_llcs, max_llcs, "
		  "min_cpus, max_cpus, min_numa_nodes, max_numa_nodes, requires_smt)");
	parse_err(HEAD "tests: [{scenario: steady, constraints: {min_llcs: 0}}]\n",
		  "m.yaml:4: tests[0].constraints.min_llcs: '0' is out of range (1..256)");
	parse_err(HEAD "tests: [{scenario: steady, constraints: {requires_smt: yes}}]\n",
		  "m.yaml:4: tests[0].constraints.requires_smt: expected true or false, got 'yes'");
}

static void test_test_fields(void **state)
{
	struct kt_matrix *m = parse_ok(
		HEAD
		"schedulers: [{name: eevdf}, {name: scx-ktstr}]\n"
		"tests:\n"
		"  - scenario: steady\n"
		"    name: steady-long\n"
		"    schedulers: [scx-ktstr]\n"
		"    duration: 1m\n"
		"    workers: 4\n"
		"    memory_mb: 1024\n"
		"    expect_err: true\n"
		"    sched_args: [--crash]\n"
		"    checks: {not_starved: false, max_gap_ms: 3000, max_spread: 20.5, isolation: true}\n"
		"    tags: [big, \"x86:v3\"]\n"
		"    accel: kvm\n"
		"  - {scenario: steady, duration: 500ms, sched_args: [-v]}\n");
	static const char *const crash[] = { "--crash" }, *const v[] = { "-v" };
	const struct kt_entry_def *e;
	struct kt_entry_def *d;
	size_t n;

	(void)state;
	d = expand_ok(m, NULL, &n);
	assert_int_equal(n, 3);
	e = find(d, n, "steady-long/1n1l2c1t/scx-ktstr:default/debian:sid");
	assert_string_equal(e->test, "steady-long");
	assert_string_equal(e->scenario, "steady");
	assert_int_equal(e->duration_ms, 60000);
	assert_int_equal(e->workers, 4);
	assert_int_equal(e->memory_mb, 1024);
	assert_int_equal(e->vcpus, 2);
	assert_true(e->expect_err);
	expect_args(e, crash, 1);
	assert_true(e->checks.has[KT_CK_NOT_STARVED] && !e->checks.v.not_starved);
	assert_true(e->checks.has[KT_CK_MAX_GAP_MS] && e->checks.v.max_gap_ms == 3000);
	assert_true(e->checks.has[KT_CK_MAX_SPREAD] && e->checks.v.max_spread == 20.5);
	assert_true(e->checks.has[KT_CK_ISOLATION] && e->checks.v.isolation);
	assert_int_equal(e->tags.n, 2);
	assert_string_equal(e->tags.v[1], "x86:v3");
	assert_string_equal(e->need_accel, "kvm");
	/* eevdf takes no scheduler arguments. */
	expect_args(find(d, n, "steady/1n1l2c1t/scx-ktstr:default/debian:sid"), v, 1);
	e = find(d, n, "steady/1n1l2c1t/eevdf:default/debian:sid");
	assert_int_equal(e->args.n, 0);
	assert_int_equal(e->duration_ms, 500);
	assert_false(e->checks.has[KT_CK_NOT_STARVED] || e->checks.has[KT_CK_ISOLATION]);
	kt_entry_defs_free(d, n);
	kt_matrix_free(m);
}

static void test_test_errors(void **state)
{
	(void)state;
	parse_err(HEAD "tests: [{scenario: steady}, {scenario: steady, duration: 3s}]\n",
		  "m.yaml:4: tests[1].name: 'steady' is already the name of tests[0]");
	parse_err(HEAD "tests: [{scenario: steady, name: x}, {scenario: mixed-load, name: x}]\n",
		  "m.yaml:4: tests[1].name: 'x' is already the name of tests[0]");
	parse_err(HEAD "tests: [{name: x}]\n", "m.yaml:4: tests[0].scenario: missing (required)");
	parse_err(HEAD "tests: [{scenario: nosuch}]\n",
		  "m.yaml:4: tests[0].scenario: scenario 'nosuch': not in the catalog");
	parse_err(HEAD "tests: [{scenario: \"a b\", name: x}]\n",
		  "m.yaml:4: tests[0].scenario: scenario 'a b': not in the catalog");
	parse_err(HEAD "tests: [{scenario: \"a b\"}]\n",
		  "m.yaml:4: tests[0].scenario: scenario 'a b': not in the catalog");
	parse_err(HEAD "tests: [{scenario: steady, duration: 3}]\n",
		  "m.yaml:4: tests[0].duration: expected a duration such as 500ms, 3s or 1m, got '3'");
	parse_err(HEAD "tests: [{scenario: steady, duration: 1.5s}]\n",
		  "m.yaml:4: tests[0].duration: expected a duration");
	parse_err(HEAD "tests: [{scenario: steady, duration: 0s}]\n",
		  "m.yaml:4: tests[0].duration: 0s is out of range (1ms..24h)");
	parse_err(HEAD "tests: [{scenario: steady, duration: 1441m}]\n",
		  "m.yaml:4: tests[0].duration: 1441m is out of range");
	parse_err(HEAD "tests: [{scenario: steady, duration: 99999999999999999999s}]\n",
		  "m.yaml:4: tests[0].duration: expected a duration");
	parse_err(HEAD "tests: [{scenario: steady, workers: 0}]\n",
		  "m.yaml:4: tests[0].workers: '0' is out of range (1..256)");
	parse_err(HEAD "tests: [{scenario: steady, memory_mb: 10}]\n",
		  "m.yaml:4: tests[0].memory_mb: '10' is out of range");
	parse_err(HEAD "tests: [{scenario: steady, accel: hvf}]\n",
		  "m.yaml:4: tests[0].accel: expected kvm or tcg, got 'hvf'");
	parse_err(HEAD "tests: [{scenario: steady, tags: [a, a]}]\n",
		  "m.yaml:4: tests[0].tags[1]: 'a' is listed twice");
	parse_err(HEAD "tests: [{scenario: steady, tags: [\"a b\"]}]\n",
		  "m.yaml:4: tests[0].tags[0]: the quoted string 'a b': must be printable text "
		  "without spaces");
	parse_err(HEAD "tests: [{scenario: steady, checks: {max_spread: 101}}]\n",
		  "m.yaml:4: tests[0].checks.max_spread: 101 is not a number in [0, 100]");
	parse_err(HEAD "tests: [{scenario: steady, checks: {max_gap_ms: nan}}]\n",
		  "m.yaml:4: tests[0].checks.max_gap_ms: expected a number, got 'nan'");
	parse_err(HEAD "tests: [{scenario: steady, name: \"a:b\"}]\n",
		  "m.yaml:4: tests[0].name: the quoted string 'a:b' is not a valid name");
	parse_err(HEAD "tests: [{scenario: steady, expect_err: 1}]\n",
		  "m.yaml:4: tests[0].expect_err: expected true or false, got '1'");
	parse_err(HEAD "tests: [{scenario: steady, sched_args: --x}]\n",
		  "m.yaml:4: tests[0].sched_args: expected a list of arguments, got '--x'");
	parse_err(HEAD "tests: []\n", "m.yaml:4: tests: expected 1 to 64 items, got 0");
	parse_err(HEAD "tests: [{scenario: steady, typo: 1}]\n",
		  "m.yaml:4: tests[0].typo: unknown key (expected scenario, name, duration, workers, "
		  "memory_mb, constraints, expect_err, sched_args, checks, tags, accel, "
		  "schedulers, gauntlet, budget)");
	parse_err(HEAD "tests: [{scenario: steady, expect_err: true}]\n",
		  "m.yaml:4: tests[0].expect_err: expect_err needs a sched_ext scheduler, and the "
		  "test also runs with eevdf: limit it with schedulers:");
	parse_err(HEAD "schedulers: [{name: eevdf}, {name: scx-ktstr}]\n"
		  "tests: [{scenario: steady, expect_err: true, schedulers: [eevdf, scx-ktstr]}]\n",
		  "m.yaml:5: tests[0].expect_err: expect_err needs a sched_ext scheduler");
	parse_err(HEAD "tests: [{scenario: steady, schedulers: [scx-ktstr]}]\n",
		  "m.yaml:4: tests[0].schedulers[0]: 'scx-ktstr' is not one of the matrix's "
		  "schedulers");
	parse_err(HEAD "tests: [{scenario: steady, schedulers: [eevdf, eevdf]}]\n",
		  "m.yaml:4: tests[0].schedulers[1]: 'eevdf' is listed twice");
	parse_err(HEAD "tests: [{scenario: steady, schedulers: []}]\n",
		  "m.yaml:4: tests[0].schedulers: expected 1 to 64 items, got 0");
}

/* A catalog scenario is checked against each topology and the run's
 * parameters at parse time. */
/* A scheduler's checks: apply to its entries; a test's win key by key
 * (scenario < scheduler < test; the worker applies them to the scenario's). */
static void test_scheduler_checks(void **state)
{
	struct kt_matrix *m = parse_ok(
		HEAD
		"schedulers:\n"
		"  - {name: eevdf, checks: {max_gap_ms: 2500}}\n"
		"  - name: scx-ktstr\n"
		"    checks: {max_gap_ms: 4000, max_p99_wake_us: 900, max_wake_cv: 0.3}\n"
		"tests:\n"
		"  - {scenario: steady}\n"
		"  - scenario: wake-chains\n"
		"    checks: {max_gap_ms: 6000, max_wake_cv: off, isolation: true}\n");
	const struct kt_entry_def *e;
	struct kt_entry_def *d;
	struct kt_checks_cfg cfg;
	size_t n;

	(void)state;
	d = expand_ok(m, NULL, &n);
	assert_int_equal(n, 4);
	e = find(d, n, "steady/1n1l2c1t/eevdf:default/debian:sid");
	assert_true(e->checks.has[KT_CK_MAX_GAP_MS] && e->checks.v.max_gap_ms == 2500);
	assert_false(e->checks.has[KT_CK_MAX_P99_WAKE_US] || e->checks.has[KT_CK_ISOLATION]);
	e = find(d, n, "steady/1n1l2c1t/scx-ktstr:default/debian:sid");
	assert_true(e->checks.v.max_gap_ms == 4000 && e->checks.v.max_p99_wake_us == 900);
	assert_true(e->checks.has[KT_CK_MAX_WAKE_CV] && e->checks.v.max_wake_cv == 0.3);
	e = find(d, n, "wake-chains/1n1l2c1t/eevdf:default/debian:sid");
	assert_true(e->checks.v.max_gap_ms == 6000 && e->checks.v.isolation);
	assert_true(e->checks.has[KT_CK_MAX_WAKE_CV] && e->checks.v.max_wake_cv == KT_CHECK_OFF);
	assert_false(e->checks.has[KT_CK_MAX_P99_WAKE_US]);
	e = find(d, n, "wake-chains/1n1l2c1t/scx-ktstr:default/debian:sid");
	assert_true(e->checks.v.max_gap_ms == 6000);         /* test over scheduler */
	assert_true(e->checks.v.max_p99_wake_us == 900);     /* the scheduler's */
	assert_true(e->checks.v.max_wake_cv == KT_CHECK_OFF); /* the test turned it off */
	/* On top of the scenario's own (wake-chains sets max_spread 50). */
	{
		struct kt_scenario *sc;
		struct kt_err err;

		assert_int_equal(kt_scenario_load("wake-chains", &sc, &err), 0);
		cfg = *kt_scenario_checks(sc);
		kt_checks_over_apply(&e->checks, &cfg);
		assert_true(cfg.max_spread == kt_scenario_checks(sc)->max_spread);
		assert_true(cfg.max_gap_ms == 6000 && cfg.max_p99_wake_us == 900);
		assert_true(cfg.isolation && cfg.max_wake_cv == KT_CHECK_OFF);
		kt_scenario_free(sc);
	}
	kt_entry_defs_free(d, n);
	kt_matrix_free(m);

	parse_err(HEAD "schedulers:\n  - name: scx-ktstr\n    checks: {max_gap: 1}\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:6: schedulers[0].checks.max_gap: unknown key (expected not_starved, "
		  "max_gap_ms, max_spread, spread_warmup_ms, isolation, max_throughput_cv, min_work_rate, "
		  "max_p99_wake_us, max_wake_cv, max_migration_ratio)");
	parse_err(HEAD "schedulers:\n  - name: eevdf\n    checks:\n      max_wake_cv: 101\n"
		  "tests: [{scenario: steady}]\n",
		  "m.yaml:7: schedulers[0].checks.max_wake_cv: 101 is not a number in [0, 100] or off");
	parse_err(HEAD "schedulers: [{name: eevdf, checks: [1]}]\ntests: [{scenario: steady}]\n",
		  "m.yaml:4: schedulers[0].checks: expected a mapping, got a list");
	parse_err(HEAD "tests: [{scenario: steady, checks: {min_work_rate: -1}}]\n",
		  "m.yaml:4: tests[0].checks.min_work_rate: -1 is not a number in [0, 1e+15] or off");
	parse_err(HEAD "tests:\n  - scenario: steady\n    checks:\n      isolation: off\n",
		  "m.yaml:7: tests[0].checks.isolation: expected true or false, got 'off'");
}

static void test_scenario_checked(void **state)
{
	(void)state;
	parse_err("name: t\nkernels: [k]\ntopologies: [1n1l1c1t]\n"
		  "tests: [{scenario: cpuset-disjoint}]\n",
		  "m.yaml:4: tests[0].scenario: test 'cpuset-disjoint' (narrow its constraints): "
		  "scenario 'cpuset-disjoint': steps[0] cgroup 'cg_0': cpuset does not fit topology "
		  "1n1l1c1t");
	/* pipe-pairs sets its own even counts: any workers are fine. */
	kt_matrix_free(parse_ok(HEAD "tests: [{scenario: pipe-pairs, workers: 3}]\n"));
}

static void test_files(void **state)
{
	struct kt_matrix *m = parse_ok(
		"name: t\nkernels: [k]\ntopologies: [1n1l2c1t, 1n1l1c1t]\n"
		"tests:\n"
		"  - {scenario: scen/two-halves.yaml, workers: 3}\n"
		"  - {scenario: scen/two-halves.yaml, name: halves-big, constraints: {min_cpus: 2}}\n"
		"  - {scenario: ./x.yml}\n"
		"  - {scenario: steady}\n");
	static const char halves[] =
		"name: two-halves\nsteps:\n  - cgroups:\n"
		"      - {name: a, cpuset: {disjoint: {index: 0, of: 2}}, work: pipe_io}\n"
		"      - {name: b, cpuset: {disjoint: {index: 1, of: 2}}}\n";
	struct kt_scenario *s;
	struct kt_entry_def *d;
	struct kt_err err;
	size_t n;

	(void)state;
	assert_int_equal(kt_matrix_n_files(m), 2);
	assert_string_equal(kt_matrix_file(m, 0), "scen/two-halves.yaml");
	assert_string_equal(kt_matrix_file(m, 1), "./x.yml");
	assert_null(kt_matrix_file(m, 2));
	/* Payloads come from the catalog scenarios only (steady runs none);
	 * a file's are in its text, which the matrix has not seen. */
	assert_int_equal(kt_matrix_n_payloads(m), 0);
	assert_null(kt_matrix_payload(m, 0));
	d = expand_ok(m, NULL, &n);
	assert_int_equal(n, 7);
	assert_string_equal(d[0].name, "two-halves/1n1l2c1t/eevdf:default/k");
	assert_string_equal(d[0].scenario, "scen/two-halves.yaml");
	assert_true(d[0].scenario_is_file);
	assert_string_equal(d[2].name, "halves-big/1n1l2c1t/eevdf:default/k");
	assert_string_equal(d[3].name, "x/1n1l2c1t/eevdf:default/k");
	kt_entry_defs_free(d, n);

	assert_int_equal(kt_scenario_parse(halves, strlen(halves), "h.yaml", &s, &err), 0);
	/* tests[0] runs it on 1n1l1c1t (one CPU, two halves) with 3 workers. */
	assert_int_equal(kt_matrix_check_file(m, "scen/two-halves.yaml", s, &err), -1);
	if (strncmp(err.msg, "m.yaml:5: tests[0].scenario: test 'two-halves' (narrow its "
		    "constraints): scenario 'two-halves': steps[0] cgroup 'a': cpuset does not fit "
		    "topology 1n1l1c1t", 130))
		fail_msg("%s", err.msg);
	assert_int_equal(kt_matrix_check_file(m, "nope.yaml", s, &err), -1);
	assert_string_equal(err.msg, "m.yaml: no test names the scenario file 'nope.yaml'");
	kt_matrix_free(m);

	m = parse_ok("name: t\nkernels: [k]\ntopologies: [1n1l2c1t]\n"
		     "tests: [{scenario: scen/two-halves.yaml, workers: 3}]\n");
	/* Fits now, but pipe_io with the test's 3 workers cannot pair. */
	assert_int_equal(kt_matrix_check_file(m, "scen/two-halves.yaml", s, &err), -1);
	if (!strstr(err.msg, "m.yaml:4: tests[0].scenario: test 'two-halves': ") ||
	    !strstr(err.msg, "pipe_io"))
		fail_msg("%s", err.msg);
	kt_matrix_free(m);
	m = parse_ok("name: t\nkernels: [k]\ntopologies: [1n1l2c1t]\n"
		     "tests: [{scenario: scen/two-halves.yaml}]\n");
	assert_int_equal(kt_matrix_check_file(m, "scen/two-halves.yaml", s, &err), 0);
	kt_matrix_free(m);
	kt_scenario_free(s);

	parse_err(HEAD "tests: [{scenario: dir/.yaml}]\n",
		  "m.yaml:4: tests[0].scenario: '' does not make a test name");
	parse_err(HEAD "tests: [{scenario: dir/a:b.yaml}]\n",
		  "m.yaml:4: tests[0].scenario: 'a:b' does not make a test name");
}

static void test_top_level_errors(void **state)
{
	(void)state;
	parse_err("", "m.yaml:1: empty file");
	parse_err("name: [\n", "m.yaml:2: YAML syntax error");
	parse_err("- a\n", "m.yaml:1: expected a mapping, got a list");
	parse_err("kernels: [k]\n", "m.yaml:1: name: missing (required)");
	parse_err("name: t\ntopologies: [1n1l1c1t]\ntests: [{scenario: steady}]\n",
		  "m.yaml:1: kernels: missing (required)");
	parse_err("name: t\nkernels: [k]\ntests: [{scenario: steady}]\n",
		  "m.yaml:3: tests[0].constraints: test 'steady' runs on the matrix's topologies, "
		  "and it names none: add topologies: or give the test gauntlet: true");
	parse_err("name: t\nkernels: [k]\ntopologies: [1n1l1c1t]\n", "m.yaml:1: tests: missing");
	parse_err(HEAD "tests: [{scenario: steady}]\nname: u\n",
		  "m.yaml:5: name: duplicate key (first at line 1)");
	parse_err(HEAD "tests: [{scenario: steady}]\nkernel: [x]\n",
		  "m.yaml:5: kernel: unknown key (expected name, priority, kernels, schedulers, "
		  "topologies, tests, budget)");
#define TAIL "tests: [{scenario: steady}]\n"
	parse_err(HEAD "priority: 1001\n" TAIL,
		  "m.yaml:4: priority: '1001' is out of range (0..1000)");
	parse_err(HEAD "priority: -1001\n" TAIL,
		  "m.yaml:4: priority: '-1001' is not an integer in -1000..1000");
	parse_err(HEAD "priority: -x\n" TAIL,
		  "m.yaml:4: priority: '-x' is not an integer in -1000..1000");
	parse_err(HEAD "priority: 1.5\n" TAIL, "m.yaml:4: priority: expected an integer, got '1.5'");
	parse_err("name: t\nkernels: [k, k]\ntopologies: [1n1l1c1t]\n" TAIL,
		  "m.yaml:2: kernels[1]: 'k' is already kernels[0]");
	parse_err("name: t\nkernels: []\ntopologies: [1n1l1c1t]\n" TAIL,
		  "m.yaml:2: kernels: expected 1 to 64 items, got 0");
	parse_err("name: t\nkernels: [\"a b\"]\ntopologies: [1n1l1c1t]\n" TAIL,
		  "m.yaml:2: kernels[0]: the quoted string 'a b'");
	parse_err("name: t\nkernels: [k]\ntopologies: [1n1l2c1t, 01n1l2c1t]\n" TAIL,
		  "m.yaml:3: topologies[1]: 1n1l2c1t is already topologies[0]");
	parse_err("name: t\nkernels: [k]\ntopologies: [1n3l1c1t, 2n3l1c1t]\n" TAIL,
		  "m.yaml:3: topologies[1]: topology '2n3l1c1t': 3 LLCs do not divide evenly");
	parse_err("name: t\nkernels: [k]\ntopologies: [{a: 1}]\n" TAIL,
		  "m.yaml:3: topologies[0]: expected a topology (e.g. 1n2l2c1t), got a mapping");
	parse_err("name: 'a b'\nkernels: [k]\ntopologies: [1n1l1c1t]\n" TAIL,
		  "m.yaml:1: name: the quoted string 'a b': must be printable text without spaces");
	parse_err("name: t\n---\nname: u\n", "m.yaml:2: a second YAML document");
	parse_err("name: t\nkernels: [[[[[[[[[[[[[[[[[[k]]]]]]]]]]]]]]]]]]\n",
		  "m.yaml:2: nested deeper than 16 levels");
}

static void test_priority(void **state)
{
	struct kt_matrix *m = parse_ok("name: t\npriority: -5\nkernels: [k]\ntopologies: [1n1l1c1t]\n"
				       "tests: [{scenario: steady}]\n");

	(void)state;
	assert_int_equal(kt_matrix_priority(m), -5);
	kt_matrix_free(m);
}

/* 64 kernels x 4 topologies x 80 profiles = 20,480 entries: too many. */
static void test_entry_limit(void **state)
{
	char *yaml = kt_xcalloc(8192, 1);
	size_t len = 0;

	(void)state;
	len += (size_t)sprintf(yaml + len, "name: t\nkernels: [");
	for (int i = 0; i < 64; i++)
		len += (size_t)sprintf(yaml + len, "%sk%d", i ? ", " : "", i);
	len += (size_t)sprintf(yaml + len, "]\ntopologies: [1n1l1c1t, 1n1l2c1t, 1n2l1c1t, "
			       "1n2l2c1t]\nschedulers:\n  - name: scx-ktstr\n    flags: {");
	/* 6 flags: 64 profiles; plus 16 on a second scheduler = 80. */
	for (int i = 0; i < 6; i++)
		len += (size_t)sprintf(yaml + len, "%sf%d: [-%d]", i ? ", " : "", i, i);
	len += (size_t)sprintf(yaml + len, "}\n  - name: b\n    binary: /b\n    flags: {");
	for (int i = 0; i < 4; i++)
		len += (size_t)sprintf(yaml + len, "%sf%d: [-%d]", i ? ", " : "", i, i);
	sprintf(yaml + len, "}\ntests: [{scenario: steady}]\n");
	parse_err(yaml, "m.yaml:");
	{
		struct kt_matrix *m = NULL;
		struct kt_err err;

		assert_int_equal(kt_matrix_parse(yaml, strlen(yaml), "m.yaml", &m, &err), -1);
		if (!strstr(err.msg, "tests: the matrix expands to 20480 entries (64 kernels x 320 "
			     "test, topology and profile combinations), more than 20000"))
			fail_msg("%s", err.msg);
	}
	/* Three topologies: 15,360 entries, within bounds and expanded. */
	{
		char *p = strstr(yaml, ", 1n2l2c1t]");
		struct kt_matrix *m;
		struct kt_entry_def *d;
		size_t n;

		memmove(p, p + 10, strlen(p + 10) + 1);
		m = parse_ok(yaml);
		d = expand_ok(m, NULL, &n);
		assert_int_equal(n, 15360);
		kt_entry_defs_free(d, n);
		kt_matrix_free(m);
	}
	free(yaml);
}

static void test_size_limit(void **state)
{
	size_t len = KT_MATRIX_MAX_BYTES + 1;
	char *big = kt_xcalloc(len + 1, 1);
	struct kt_matrix *m;
	struct kt_err err;

	(void)state;
	memset(big, '#', len);
	assert_int_equal(kt_matrix_parse(big, len, "big.yaml", &m, &err), -1);
	assert_null(m);
	assert_string_equal(err.msg, "big.yaml: 1048577 bytes is more than the limit of 1048576");
	free(big);
}

static struct kt_matrix *parse_file(const char *rel)
{
	char path[512];
	struct kt_matrix *m = NULL;
	struct kt_err err;
	size_t len;
	char *text;

	snprintf(path, sizeof(path), "%s/%s", KTSTR_SRC_DIR, rel);
	if (kt_read_file(path, KT_MATRIX_MAX_BYTES, &text, &len, &err))
		fail_msg("%s", err.msg);
	if (kt_matrix_parse(text, len, rel, &m, &err))
		fail_msg("%s", err.msg);
	free(text);
	return m;
}

static void test_example_files(void **state)
{
	struct kt_matrix *m = parse_file("deploy/example-matrix.yaml");
	struct kt_entry_def *d;
	size_t n;

	(void)state;
	/* steady under eevdf and scx-ktstr, mixed-load and pipe-pairs under
	 * eevdf, on 2 topologies; cpuset-disjoint on 1; the stall test under
	 * scx-ktstr on 2; 2 kernels. */
	assert_int_equal(kt_matrix_n_kernels(m), 2);
	assert_int_equal(kt_matrix_n_entries(m), 22);
	d = expand_ok(m, NULL, &n);
	find(d, n, "cpuset-disjoint/1n2l1c1t/eevdf:default/debian:bookworm");
	find(d, n, "steady/1n1l2c1t/scx-ktstr:default/debian:sid");
	assert_true(find(d, n, "scx-stall/1n2l1c1t/scx-ktstr:default/debian:sid")->expect_err);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(d[i].duration_ms, strncmp(d[i].name, "scx-stall/", 10) ? 2000 : 3000);
	kt_entry_defs_free(d, n);
	kt_matrix_free(m);

	m = parse_file("deploy/fleet-matrix.yaml");
	d = expand_ok(m, NULL, &n);
	assert_true(n > 100);
	find(d, n, "steady/1n2l2c1t/scx-ktstr:slow+scatter/debian:trixie");
	kt_entry_defs_free(d, n);
	kt_matrix_free(m);
}


/* ---- gauntlet and budgets ---- */

#define GHEAD "name: g\nkernels: [debian:sid]\n"

static size_t count_presets(const struct kt_topo_constraints *k)
{
	size_t n = 0;

	for (size_t i = 0; i < kt_gauntlet_n_presets; i++) {
		struct kt_topo t;
		struct kt_err e;

		assert_int_equal(kt_topo_parse(kt_gauntlet_presets[i].topology, &t, &e), 0);
		n += kt_topo_constraints_match(k, &t);
	}
	return n;
}

static void test_gauntlet_expands_presets(void **state)
{
	struct kt_topo_constraints all = {0}, k = { .min_llcs = 2, .max_cpus = 16 };
	struct kt_matrix *m;
	struct kt_entry_def *d;
	const struct kt_entry_def *e;
	size_t n;

	(void)state;
	/* No matrix topologies needed when every test is a gauntlet. */
	m = parse_ok(GHEAD "schedulers:\n  - {name: eevdf}\n"
		     "  - {name: scx-ktstr, flags: {slow: [--slow]}}\n"
		     "tests:\n  - {scenario: steady, gauntlet: true}\n");
	/* every preset x (eevdf:default, scx-ktstr:default, scx-ktstr:slow) */
	assert_int_equal(kt_matrix_n_entries(m), count_presets(&all) * 3);
	d = expand_ok(m, NULL, &n);
	e = find(d, n, "steady/1n14l9c2t/scx-ktstr:slow/debian:sid");
	assert_string_equal(e->preset, "max-cpu");
	assert_int_equal(e->vcpus, 252);
	e = find(d, n, "steady/1n1l4c1t/eevdf:default/debian:sid");
	assert_string_equal(e->preset, "tiny-1llc");
	/* Preset order, then schedulers and profiles. */
	assert_string_equal(d[0].name, "steady/1n1l4c1t/eevdf:default/debian:sid");
	assert_string_equal(d[1].name, "steady/1n1l4c1t/scx-ktstr:default/debian:sid");
	kt_entry_defs_free(d, n);
	kt_matrix_free(m);

	/* Constraints filter the presets; the matrix's topologies are not used
	 * by a gauntlet test but still by the others. */
	m = parse_ok(GHEAD "topologies: [1n1l2c1t]\ntests:\n"
		     "  - {scenario: steady, gauntlet: true,\n"
		     "     constraints: {min_llcs: 2, max_cpus: 16}}\n"
		     "  - {scenario: steady, name: plain}\n");
	assert_int_equal(kt_matrix_n_entries(m), count_presets(&k) + 1);
	d = expand_ok(m, NULL, &n);
	for (size_t i = 0; i + 1 < n; i++) {
		assert_non_null(d[i].preset);
		assert_true(d[i].topo.llcs >= 2 && d[i].vcpus <= 16);
	}
	assert_string_equal(d[n - 1].name, "plain/1n1l2c1t/eevdf:default/debian:sid");
	assert_null(d[n - 1].preset);
	kt_entry_defs_free(d, n);
	kt_matrix_free(m);
}

static void test_gauntlet_errors(void **state)
{
	(void)state;
	parse_err(GHEAD "tests:\n  - {scenario: steady, gauntlet: yes}\n",
		  "m.yaml:4: tests[0].gauntlet: expected true or false");
	parse_err(GHEAD "tests:\n  - scenario: steady\n    gauntlet: true\n"
		  "    constraints: {min_cpus: 257}\n",
		  "m.yaml:6: tests[0].constraints.min_cpus: '257' is out of range");
	parse_err(GHEAD "tests:\n  - scenario: steady\n    gauntlet: true\n"
		  "    constraints: {min_numa_nodes: 3, max_numa_nodes: 3}\n",
		  "m.yaml:6: tests[0].constraints: test 'steady': its constraints allow none of "
		  "the 21 gauntlet presets (tiny-1llc, smt-1llc ... max-cpu)");
	parse_err(GHEAD "topologies: [1n1l2c1t]\ntests:\n  - {scenario: steady}\n"
		  "  - {scenario: steady, name: b, gauntlet: false}\n"
		  "  - {scenario: steady, name: c, gauntlet: true}\n"
		  "  - {scenario: steady, name: d, budget: 0s}\n",
		  "m.yaml:8: tests[3].budget: 0s is out of range (1ms..24h)");
	parse_err(GHEAD "tests:\n  - {scenario: steady, budget: 30 minutes}\n",
		  "m.yaml:4: tests[0].budget: expected a duration such as 500ms, 3s or 1m");
	parse_err(GHEAD "budget: 1441m\ntests:\n  - {scenario: steady, gauntlet: true}\n",
		  "m.yaml:3: budget: 1441m is out of range (1ms..24h)");
	parse_err(GHEAD "tests:\n  - {scenario: steady}\n",
		  "m.yaml:4: tests[0].constraints: test 'steady' runs on the matrix's topologies, "
		  "and it names none");
}

/* A gauntlet test whose scenario cannot be built on some preset is
 * refused, naming the preset. */
static void test_gauntlet_scenario_fit(void **state)
{
	static const char sc[] = "name: five\nsteps:\n  - cgroups:\n"
				 "      - {name: a, cpuset: {exact: [5]}, workers: 1}\n";
	struct kt_matrix *m;
	struct kt_scenario *s;
	struct kt_err err;

	(void)state;
	m = parse_ok(GHEAD "tests:\n  - {scenario: five.yaml, gauntlet: true}\n");
	assert_int_equal(kt_scenario_parse(sc, strlen(sc), "five.yaml", &s, &err), 0);
	assert_int_equal(kt_matrix_check_file(m, "five.yaml", s, &err), -1);
	assert_non_null(strstr(err.msg, "m.yaml:4: tests[0].scenario: test 'five', gauntlet "
				  "preset tiny-1llc (narrow its constraints)"));
	kt_matrix_free(m);
	m = parse_ok(GHEAD "tests:\n  - {scenario: five.yaml, gauntlet: true,\n"
		     "     constraints: {min_cpus: 6}}\n");
	if (kt_matrix_check_file(m, "five.yaml", s, &err))
		fail_msg("%s", err.msg);
	kt_matrix_free(m);
	kt_scenario_free(s);
}

static struct kt_cost_sample cs(const char *topo, double total)
{
	struct kt_cost_sample c = { .n = 5, .total_ms = total, .run_ms = 2000,
				    .duration_ms = 2000 };

	snprintf(c.topology, sizeof(c.topology), "%s", topo);
	snprintf(c.accel, sizeof(c.accel), "tcg");
	return c;
}

static double planned(const struct kt_entry_def *d, size_t n, const struct kt_cost_sample *s,
		      size_t ns)
{
	double sum = 0;
	enum kt_cost_source src;

	for (size_t i = 0; i < n; i++)
		sum += kt_gauntlet_cost(s, ns, &d[i].topo, NULL, d[i].duration_ms, &src);
	return sum;
}

static void test_budget_selects(void **state)
{
	/* Measured: 4 vCPUs 5 s, 8 vCPUs 7 s; others extrapolated (+0.5 s per
	 * vCPU). */
	struct kt_cost_sample s[] = { cs("1n1l4c1t", 5000), cs("1n2l2c2t", 7000) };
	struct kt_matrix_budget_report r;
	struct kt_matrix *m;
	struct kt_entry_def *d, *d2;
	struct kt_err err;
	size_t n, n2;
	uint32_t feats = 0;

	(void)state;
	m = parse_ok(GHEAD "schedulers:\n  - {name: scx-ktstr, flags: {slow: [--slow], "
		     "scatter: [--scattershot]}}\n"
		     "tests:\n  - {scenario: steady, gauntlet: true, budget: 2m}\n");
	assert_true(kt_matrix_has_budget(m));
	if (kt_matrix_expand_budget(m, NULL, s, 2, &r, &d, &n, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(r.candidates, kt_matrix_n_entries(m));
	assert_int_equal(r.entries, n);
	assert_int_equal(r.left_out + n, kt_matrix_n_entries(m));
	assert_true(n > 0 && r.left_out > 0);
	assert_true(planned(d, n, s, 2) <= 120000 + 1e-6);
	assert_float_equal(planned(d, n, s, 2), r.planned_ms, 1e-6);
	assert_int_equal(r.cost_sources[KT_COST_MEASURED] + r.cost_sources[KT_COST_EXTRAPOLATED],
			 kt_matrix_n_entries(m));
	/* Within 2 minutes every topology class and every flag is covered. */
	assert_int_equal(r.covered, r.features);
	for (size_t i = 0; i < n; i++)
		feats |= kt_gauntlet_topo_features(&d[i].topo);
	assert_int_equal(feats, (1u << KT_GF_TOPO_N) - 1);
	/* Deterministic. */
	if (kt_matrix_expand_budget(m, NULL, s, 2, NULL, &d2, &n2, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(n, n2);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(d[i].name, d2[i].name);
	kt_entry_defs_free(d, n);
	kt_entry_defs_free(d2, n2);
	kt_matrix_free(m);
}

static void test_budget_matrix_and_errors(void **state)
{
	struct kt_cost_sample s[] = { cs("1n1l2c1t", 4000) };
	struct kt_matrix *m;
	struct kt_entry_def *d;
	struct kt_err err;
	size_t n;

	(void)state;
	/* The matrix budget (30 s, 4 s an entry, 2 kernels) is shared by both
	 * tests; both keep entries. */
	m = parse_ok("name: g\nkernels: [debian:sid, debian:bookworm]\n"
		     "topologies: [1n1l2c1t, 1n2l1c1t, 1n1l4c1t]\nbudget: 30s\ntests:\n"
		     "  - {scenario: steady}\n  - {scenario: steady, name: b}\n");
	if (kt_matrix_expand_budget(m, NULL, s, 1, NULL, &d, &n, &err))
		fail_msg("%s", err.msg);
	assert_true(n > 0 && n < kt_matrix_n_entries(m));
	assert_true(planned(d, n, s, 1) <= 30000);
	assert_string_equal(d[0].test, "steady");
	assert_string_equal(d[n - 1].test, "b");
	kt_entry_defs_free(d, n);
	kt_matrix_free(m);
	/* Too small for any entry: an error with the budget's line. */
	m = parse_ok(GHEAD "topologies: [1n1l2c1t]\ntests:\n"
		     "  - {scenario: steady}\n"
		     "  - {scenario: steady, name: b,\n     budget: 3s}\n");
	assert_int_equal(kt_matrix_expand_budget(m, NULL, s, 1, NULL, &d, &n, &err), -1);
	assert_string_equal(err.msg, "m.yaml:7: tests[1].budget: 3000 ms is less than any "
			    "entry of test 'b' costs");
	kt_matrix_free(m);
	m = parse_ok(GHEAD "topologies: [1n1l2c1t]\n\nbudget: 1s\ntests:\n"
		     "  - {scenario: steady}\n");
	assert_int_equal(kt_matrix_expand_budget(m, NULL, NULL, 0, NULL, &d, &n, &err), -1);
	assert_string_equal(err.msg, "m.yaml:5: budget: 1000 ms leaves test 'steady' without "
			    "entries (raise it, or give the test its own budget)");
	kt_matrix_free(m);
	/* Entries recorded skip (no sched_ext on the kernel) cost nothing:
	 * 4 presets at 2 s cost 4.57 s each by the boot model on the one
	 * kernel that runs them, so all fit 19 s (at two kernels, two would). */
	m = parse_ok("name: g\nkernels: [a, b]\nschedulers: [{name: scx-ktstr}]\n"
		     "tests:\n  - {scenario: steady, gauntlet: true, budget: 19s,\n"
		     "     constraints: {max_cpus: 4}}\n");
	{
		struct kt_matrix_kernel_info ki[2] = { { "a", 1 }, { "b", 0 } };

		if (kt_matrix_expand_budget(m, ki, NULL, 0, NULL, &d, &n, &err))
			fail_msg("%s", err.msg);
		assert_int_equal(n, 8);
		assert_string_equal(d[1].skip_reason, "scx-ktstr needs sched_ext; kernel b has none");
		kt_entry_defs_free(d, n);
		if (kt_matrix_expand_budget(m, NULL, NULL, 0, NULL, &d, &n, &err))
			fail_msg("%s", err.msg);
		assert_int_equal(n, 4);
		kt_entry_defs_free(d, n);
	}
	kt_matrix_free(m);
	/* Without a budget everything runs, whatever the costs. */
	m = parse_ok(GHEAD "tests:\n  - {scenario: steady, gauntlet: true}\n");
	assert_false(kt_matrix_has_budget(m));
	if (kt_matrix_expand_budget(m, NULL, s, 1, NULL, &d, &n, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(n, kt_matrix_n_entries(m));
	kt_entry_defs_free(d, n);
	kt_matrix_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue_example),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_power_set),
		cmocka_unit_test(test_listed_profiles),
		cmocka_unit_test(test_profile_errors),
		cmocka_unit_test(test_scheduler_errors),
		cmocka_unit_test(test_binary_and_skip),
		cmocka_unit_test(test_sysctls_kernel_args),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_constraints),
		cmocka_unit_test(test_test_fields),
		cmocka_unit_test(test_test_errors),
		cmocka_unit_test(test_scheduler_checks),
		cmocka_unit_test(test_scenario_checked),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_top_level_errors),
		cmocka_unit_test(test_priority),
		cmocka_unit_test(test_entry_limit),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_example_files),
		cmocka_unit_test(test_gauntlet_expands_presets),
		cmocka_unit_test(test_gauntlet_errors),
		cmocka_unit_test(test_gauntlet_scenario_fit),
		cmocka_unit_test(test_budget_selects),
		cmocka_unit_test(test_budget_matrix_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
