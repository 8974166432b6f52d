#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "gauntlet.h"

static struct kt_topo topo(const char *s)
{
	struct kt_topo t;
	struct kt_err e;

	if (kt_topo_parse(s, &t, &e))
		fail_msg("%s", e.msg);
	return t;
}

/* ---- presets ---- */

static void test_presets_valid_and_distinct(void **state)
{
	unsigned prev_cpus = 0;

	(void)state;
	assert_true(kt_gauntlet_n_presets >= 16);
	for (size_t i = 0; i < kt_gauntlet_n_presets; i++) {
		const struct kt_gauntlet_preset *p = &kt_gauntlet_presets[i];
		struct kt_topo t = topo(p->topology);
		char canon[32];

		kt_topo_format(&t, canon, sizeof(canon));
		assert_string_equal(canon, p->topology); /* canonical, so names join history */
		assert_true(kt_topo_cpus(&t) >= prev_cpus);
		prev_cpus = kt_topo_cpus(&t);
		assert_ptr_equal(kt_gauntlet_preset_find(p->name), p);
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(kt_gauntlet_presets[j].name, p->name);
			assert_string_not_equal(kt_gauntlet_presets[j].topology, p->topology);
		}
	}
	assert_null(kt_gauntlet_preset_find("no-such"));
}

static void test_presets_span(void **state)
{
	const struct kt_gauntlet_preset *tiny = kt_gauntlet_preset_find("tiny-1llc");
	const struct kt_gauntlet_preset *max = kt_gauntlet_preset_find("max-cpu");
	struct kt_topo t;
	bool odd = false, smt = false, numa2 = false, numa4 = false;
	uint32_t all = 0;

	(void)state;
	assert_non_null(tiny);
	assert_non_null(max);
	t = topo(tiny->topology);
	assert_int_equal(kt_topo_cpus(&t), 4);
	assert_int_equal(t.llcs, 1);
	t = topo(max->topology);
	assert_int_equal(kt_topo_cpus(&t), 252);
	assert_int_equal(t.llcs, 14);
	assert_ptr_equal(tiny, &kt_gauntlet_presets[0]);
	assert_ptr_equal(max, &kt_gauntlet_presets[kt_gauntlet_n_presets - 1]);
	for (size_t i = 0; i < kt_gauntlet_n_presets; i++) {
		t = topo(kt_gauntlet_presets[i].topology);
		odd |= t.llcs > 1 && t.llcs % 2;
		smt |= t.threads > 1;
		numa2 |= t.nodes == 2;
		numa4 |= t.nodes == 4;
		all |= kt_gauntlet_topo_features(&t);
	}
	assert_true(odd && smt && numa2 && numa4);
	/* Every feature class has a preset: a budget can cover them all. */
	assert_int_equal(all, (1u << KT_GF_TOPO_N) - 1);
}

static void test_features(void **state)
{
	struct kt_topo t = topo("1n1l4c1t");

	(void)state;
	assert_int_equal(kt_gauntlet_topo_features(&t), 1u << KT_GF_LLC_1 | 1u << KT_GF_NO_SMT |
				 1u << KT_GF_NUMA_1 | 1u << KT_GF_CPUS_4);
	t = topo("2n6l4c2t"); /* 48 */
	assert_int_equal(kt_gauntlet_topo_features(&t), 1u << KT_GF_LLC_5_8 | 1u << KT_GF_SMT |
				 1u << KT_GF_NUMA_2 | 1u << KT_GF_CPUS_64);
	t = topo("1n7l2c1t");
	assert_true(kt_gauntlet_topo_features(&t) & 1u << KT_GF_LLC_ODD);
	t = topo("4n12l1c1t");
	assert_int_equal(kt_gauntlet_topo_features(&t), 1u << KT_GF_LLC_9UP | 1u << KT_GF_NO_SMT |
				 1u << KT_GF_NUMA_3UP | 1u << KT_GF_CPUS_16);
	assert_string_equal(kt_gauntlet_feature_name(KT_GF_LLC_ODD), "llc:odd");
	assert_string_equal(kt_gauntlet_feature_name(KT_GF_TOPO_N), "?");
}

/* Names of the presets K allows, joined by spaces. */
static const char *allowed(const struct kt_topo_constraints *k)
{
	static char buf[1024];

	buf[0] = 0;
	for (size_t i = 0; i < kt_gauntlet_n_presets; i++) {
		struct kt_topo t = topo(kt_gauntlet_presets[i].topology);

		if (kt_topo_constraints_match(k, &t))
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
				 buf[0] ? " " : "", kt_gauntlet_presets[i].name);
	}
	return buf;
}

static void test_constraints(void **state)
{
	struct kt_topo_constraints k = {0};

	(void)state;
	k.max_cpus = 4;
	assert_string_equal(allowed(&k), "tiny-1llc smt-1llc tiny-2llc numa2-2llc");
	k.min_llcs = 2;
	assert_string_equal(allowed(&k), "tiny-2llc numa2-2llc");
	k = (struct kt_topo_constraints){ .requires_smt = true, .max_cpus = 12 };
	assert_string_equal(allowed(&k), "smt-1llc smt-2llc smt-3llc");
	k = (struct kt_topo_constraints){ .min_nodes = 4 };
	assert_string_equal(allowed(&k), "numa4-4llc numa4-8llc numa4-8llc-smt");
	k = (struct kt_topo_constraints){ .min_nodes = 2, .max_nodes = 2, .min_cpus = 100 };
	assert_string_equal(allowed(&k), "numa2-12llc-smt");
	k = (struct kt_topo_constraints){ .min_llcs = 14, .max_llcs = 14 };
	assert_string_equal(allowed(&k), "max-cpu");
	k = (struct kt_topo_constraints){ .min_cpus = 253 };
	assert_string_equal(allowed(&k), "");
	k = (struct kt_topo_constraints){0};
	assert_int_equal(strlen(allowed(&k)) > 0, 1);
}

/* ---- costs ---- */

static struct kt_cost_sample sample(const char *topo_s, const char *accel, uint64_t n,
				    double total, double run, double dur)
{
	struct kt_cost_sample s = { .n = n, .total_ms = total, .run_ms = run, .duration_ms = dur };

	snprintf(s.topology, sizeof(s.topology), "%s", topo_s);
	snprintf(s.accel, sizeof(s.accel), "%s", accel);
	return s;
}

static void test_cost_measured(void **state)
{
	struct kt_cost_sample s[] = {
		sample("1n1l2c1t", "tcg", 4, 6000, 2100, 2000),
		sample("1n1l2c1t", "kvm", 4, 3000, 2000, 2000),
		sample("1n2l2c1t", "tcg", 1, 9000, 2000, 2000),
	};
	struct kt_topo t = topo("1n1l2c1t");
	enum kt_cost_source src;

	(void)state;
	/* fixed 3900 + run 2100 scaled to 4 s */
	assert_float_equal(kt_gauntlet_cost(s, 3, &t, "tcg", 4000, &src), 3900 + 4200, 1e-6);
	assert_int_equal(src, KT_COST_MEASURED);
	assert_float_equal(kt_gauntlet_cost(s, 3, &t, "kvm", 2000, &src), 3000, 1e-6);
	/* any accel: pooled by count, means 4500 total and 2050 run */
	assert_float_equal(kt_gauntlet_cost(s, 3, &t, NULL, 2000, &src), 2450 + 2050, 1e-6);
	assert_int_equal(src, KT_COST_MEASURED);
}

static void test_cost_extrapolated(void **state)
{
	/* At 2 s: 2 vCPUs cost 4000, 8 vCPUs 7000: 3000 + 500 per vCPU. */
	struct kt_cost_sample s[] = {
		sample("1n1l2c1t", "tcg", 2, 4000, 2000, 2000),
		sample("1n2l4c1t", "tcg", 2, 7000, 2000, 2000),
		sample("1n1l2c1t", "kvm", 9, 2500, 2000, 2000),
	};
	struct kt_cost_sample down[] = {
		sample("1n1l2c1t", "tcg", 1, 9000, 2000, 2000),
		sample("1n2l4c1t", "tcg", 1, 5000, 2000, 2000),
	};
	struct kt_topo t = topo("1n2l2c1t"), big = topo("1n14l9c2t");
	enum kt_cost_source src;

	(void)state;
	assert_float_equal(kt_gauntlet_cost(s, 3, &t, "tcg", 2000, &src), 3000 + 500 * 4, 1e-6);
	assert_int_equal(src, KT_COST_EXTRAPOLATED);
	/* One topology of kvm: the flat line through it. */
	assert_float_equal(kt_gauntlet_cost(s, 3, &big, "kvm", 2000, &src), 2500, 1e-6);
	assert_int_equal(src, KT_COST_EXTRAPOLATED);
	/* A falling line is held flat at the mean: bigger is never cheaper. */
	assert_float_equal(kt_gauntlet_cost(down, 2, &big, "tcg", 2000, &src), 7000, 1e-6);
	/* Never below the duration itself. */
	assert_true(kt_gauntlet_cost(down, 2, &big, "tcg", 60000, &src) >= 60000);
}

static void test_cost_model_and_garbage(void **state)
{
	struct kt_cost_sample bad[] = {
		sample("bogus", "tcg", 3, 4000, 2000, 2000),
		sample("1n1l2c1t", "tcg", 0, 4000, 2000, 2000), /* no results */
		sample("1n1l2c1t", "tcg", 3, -5, 2000, 2000),    /* nonsense total */
		sample("1n1l2c1t", "kvm", 3, 4000, 2000, 2000),  /* other accel */
	};
	struct kt_topo t = topo("1n1l4c1t");
	enum kt_cost_source src;

	(void)state;
	assert_float_equal(kt_gauntlet_cost(NULL, 0, &t, NULL, 2000, &src),
			   2000 + KT_GAUNTLET_MODEL_BOOT_MS + 4 * KT_GAUNTLET_MODEL_BOOT_MS_PER_CPU,
			   1e-6);
	assert_int_equal(src, KT_COST_MODEL);
	assert_float_equal(kt_gauntlet_cost(bad, 4, &t, "tcg", 2000, &src),
			   2000 + KT_GAUNTLET_MODEL_BOOT_MS + 4 * KT_GAUNTLET_MODEL_BOOT_MS_PER_CPU,
			   1e-6);
	assert_int_equal(src, KT_COST_MODEL);
}

/* ---- selection ---- */

static struct kt_gauntlet_item item(double cost, uint32_t group, const char *feats)
{
	struct kt_gauntlet_item it = { .cost_ms = cost, .group = group };

	for (const char *f = feats; *f; f++)
		it.features[it.n_features++] = (uint32_t)(*f - 'a');
	return it;
}

static double chosen_cost(const struct kt_gauntlet_item *it, const bool *ch, size_t n)
{
	double c = 0;

	for (size_t i = 0; i < n; i++)
		c += ch[i] ? it[i].cost_ms : 0;
	return c;
}

static void test_select_covers_within_budget(void **state)
{
	/* abc for 10, or a, b and c apart for 4 each: the cover for 10 is
	 * the better buy; then d alone for 3, the cheapest fill last. */
	struct kt_gauntlet_item it[] = {
		item(4, 0, "a"), item(10, 0, "abc"), item(4, 0, "b"), item(4, 0, "c"),
		item(3, 0, "d"), item(1, 0, "a"),
	};
	bool ch[6];
	struct kt_gauntlet_choice c;

	(void)state;
	kt_gauntlet_select(it, 6, 14, ch, &c);
	/* a for 1 first (1 feature per ms beats abc, 3 per 10), then d */
	assert_true(ch[4] && ch[5]);
	assert_int_equal(c.covered, c.features); /* all four features */
	assert_true(c.cost_ms <= 14);
	assert_float_equal(c.cost_ms, chosen_cost(it, ch, 6), 1e-9);
	assert_int_equal(c.chosen + c.left_out, 6);
	/* a:1, d:3, then b and c for 4 each = 12 (abc no longer fits); the
	 * rest does not fit the 2 left. */
	assert_true(!ch[1] && ch[2] && ch[3] && !ch[0]);
	assert_int_equal(c.chosen, 4);
}

static void test_select_respects_budget(void **state)
{
	struct kt_gauntlet_item it[64];
	bool ch[64], ch2[64];
	struct kt_gauntlet_choice c, c2;
	unsigned seed = 12345;

	(void)state;
	for (size_t i = 0; i < 64; i++) {
		char f[6] = "";

		for (size_t k = 0; k < 5; k++) {
			seed = seed * 1103515245 + 12345;
			f[k] = (char)('a' + (seed >> 16) % 20);
		}
		seed = seed * 1103515245 + 12345;
		it[i] = item(1 + (seed >> 16) % 1000, (uint32_t)(i % 3), f);
	}
	for (double budget = 0; budget < 40000; budget += 997) {
		kt_gauntlet_select(it, 64, budget, ch, &c);
		assert_true(chosen_cost(it, ch, 64) <= budget);
		assert_float_equal(c.cost_ms, chosen_cost(it, ch, 64), 1e-6);
		/* Greedy's promise: nothing that still fits adds a feature. */
		for (size_t i = 0; i < 64; i++) {
			if (ch[i] || it[i].cost_ms > budget - c.cost_ms)
				continue;
			for (size_t f = 0; f < it[i].n_features; f++) {
				bool have = false;

				for (size_t j = 0; j < 64 && !have; j++)
					for (size_t g = 0; ch[j] && g < it[j].n_features; g++)
						have |= it[j].group == it[i].group &&
							it[j].features[g] == it[i].features[f];
				assert_true(have);
			}
		}
		/* Deterministic. */
		kt_gauntlet_select(it, 64, budget, ch2, &c2);
		assert_memory_equal(ch, ch2, sizeof(ch));
	}
	kt_gauntlet_select(it, 64, 1e9, ch, &c);
	assert_int_equal(c.chosen, 64);
	assert_int_equal(c.covered, c.features);
	kt_gauntlet_select(it, 64, 0, ch, &c);
	assert_int_equal(c.chosen, 0);
	assert_int_equal(c.left_out, 64);
}

static void test_select_groups(void **state)
{
	/* The same feature id in two groups is two features. */
	struct kt_gauntlet_item it[] = { item(5, 0, "a"), item(5, 1, "a"), item(1, 0, "a") };
	bool ch[3];
	struct kt_gauntlet_choice c;

	(void)state;
	kt_gauntlet_select(it, 3, 6, ch, &c);
	assert_int_equal(c.features, 2);
	assert_true(ch[1] && ch[2] && !ch[0]);
	assert_int_equal(c.covered, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_presets_valid_and_distinct),
		cmocka_unit_test(test_presets_span),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_constraints),
		cmocka_unit_test(test_cost_measured),
		cmocka_unit_test(test_cost_extrapolated),
		cmocka_unit_test(test_cost_model_and_garbage),
		cmocka_unit_test(test_select_covers_within_budget),
		cmocka_unit_test(test_select_respects_budget),
		cmocka_unit_test(test_select_groups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
