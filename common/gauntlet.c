#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gauntlet.h"
#include "util.h"

const struct kt_gauntlet_preset kt_gauntlet_presets[] = {
	{ "tiny-1llc", "1n1l4c1t" },        /*   4 */
	{ "smt-1llc", "1n1l2c2t" },         /*   4 */
	{ "tiny-2llc", "1n2l2c1t" },        /*   4 */
	{ "numa2-2llc", "2n2l2c1t" },       /*   4 */
	{ "odd-3llc", "1n3l2c1t" },         /*   6 */
	{ "smt-2llc", "1n2l2c2t" },         /*   8 */
	{ "numa4-4llc", "4n4l2c1t" },       /*   8 */
	{ "odd-5llc", "1n5l2c1t" },         /*  10 */
	{ "smt-3llc", "1n3l2c2t" },         /*  12 */
	{ "odd-7llc", "1n7l2c1t" },         /*  14 */
	{ "medium-4llc", "1n4l4c1t" },      /*  16 */
	{ "numa2-4llc", "2n4l4c1t" },       /*  16 */
	{ "medium-4llc-smt", "1n4l4c2t" },  /*  32 */
	{ "medium-8llc", "1n8l4c1t" },      /*  32 */
	{ "numa4-8llc", "4n8l4c1t" },       /*  32 */
	{ "numa2-6llc-smt", "2n6l4c2t" },   /*  48 */
	{ "large-8llc", "1n8l8c1t" },       /*  64 */
	{ "numa4-8llc-smt", "4n8l6c2t" },   /*  96 */
	{ "large-9llc-smt", "1n9l8c2t" },   /* 144 */
	{ "numa2-12llc-smt", "2n12l8c2t" }, /* 192 */
	{ "max-cpu", "1n14l9c2t" },         /* 252 */
};
const size_t kt_gauntlet_n_presets = sizeof(kt_gauntlet_presets) / sizeof(kt_gauntlet_presets[0]);

const struct kt_gauntlet_preset *kt_gauntlet_preset_find(const char *name)
{
	for (size_t i = 0; i < kt_gauntlet_n_presets; i++)
		if (!strcmp(kt_gauntlet_presets[i].name, name))
			return &kt_gauntlet_presets[i];
	return NULL;
}

static bool in_range(unsigned v, unsigned min, unsigned max)
{
	return (!min || v >= min) && (!max || v <= max);
}

bool kt_topo_constraints_match(const struct kt_topo_constraints *k, const struct kt_topo *t)
{
	return in_range(t->llcs, k->min_llcs, k->max_llcs) &&
	       in_range(kt_topo_cpus(t), k->min_cpus, k->max_cpus) &&
	       in_range(t->nodes, k->min_nodes, k->max_nodes) && (!k->requires_smt || t->threads > 1);
}

uint32_t kt_gauntlet_topo_features(const struct kt_topo *t)
{
	unsigned cpus = kt_topo_cpus(t);
	uint32_t f = 0;

	f |= 1u << (t->llcs == 1 ? KT_GF_LLC_1 : t->llcs == 2 ? KT_GF_LLC_2 :
		    t->llcs <= 4 ? KT_GF_LLC_3_4 : t->llcs <= 8 ? KT_GF_LLC_5_8 : KT_GF_LLC_9UP);
	if (t->llcs > 1 && t->llcs % 2)
		f |= 1u << KT_GF_LLC_ODD;
	f |= 1u << (t->threads > 1 ? KT_GF_SMT : KT_GF_NO_SMT);
	f |= 1u << (t->nodes == 1 ? KT_GF_NUMA_1 : t->nodes == 2 ? KT_GF_NUMA_2 : KT_GF_NUMA_3UP);
	f |= 1u << (cpus <= 4 ? KT_GF_CPUS_4 : cpus <= 16 ? KT_GF_CPUS_16 :
		    cpus <= 64 ? KT_GF_CPUS_64 : KT_GF_CPUS_MORE);
	return f;
}

const char *kt_gauntlet_feature_name(enum kt_gauntlet_topo_feature f)
{
	static const char *const names[KT_GF_TOPO_N] = {
		"llc:1", "llc:2", "llc:3-4", "llc:5-8", "llc:9+", "llc:odd", "smt", "no-smt",
		"numa:1", "numa:2", "numa:3+", "cpus:<=4", "cpus:5-16", "cpus:17-64", "cpus:65+",
	};

	return (unsigned)f < KT_GF_TOPO_N ? names[f] : "?";
}

/* ---- costs ---- */

struct point {
	char topology[32];
	unsigned cpus;
	double n, total, run, dur; /* sums weighted by n */
};

/* The samples of ACCEL (NULL: all), pooled per topology. */
static size_t pool(const struct kt_cost_sample *s, size_t n, const char *accel, struct point *p)
{
	size_t np = 0;

	for (size_t i = 0; i < n; i++) {
		struct kt_topo t;
		struct kt_err e;
		size_t j;

		if (!s[i].n || (accel && strcmp(s[i].accel, accel)) ||
		    kt_topo_parse(s[i].topology, &t, &e) || !(s[i].total_ms > 0))
			continue;
		for (j = 0; j < np && strcmp(p[j].topology, s[i].topology); j++)
			;
		if (j == np) {
			memset(&p[np], 0, sizeof(p[np]));
			snprintf(p[np].topology, sizeof(p[np].topology), "%s", s[i].topology);
			p[np++].cpus = kt_topo_cpus(&t);
		}
		p[j].n += (double)s[i].n;
		p[j].total += (double)s[i].n * s[i].total_ms;
		p[j].run += (double)s[i].n * s[i].run_ms;
		p[j].dur += (double)s[i].n * s[i].duration_ms;
	}
	return np;
}

/* A measured topology's cost at DURATION_MS: the fixed part as measured,
 * the run part scaled. */
static double point_cost(const struct point *p, uint64_t duration_ms)
{
	double total = p->total / p->n, run = p->run / p->n, dur = p->dur / p->n;

	if (run < 0 || run > total)
		run = total;
	if (!(dur > 0))
		return total;
	return (total - run) + run * ((double)duration_ms / dur);
}

static double model_cost(unsigned cpus, uint64_t duration_ms)
{
	return (double)duration_ms + KT_GAUNTLET_MODEL_BOOT_MS +
	       KT_GAUNTLET_MODEL_BOOT_MS_PER_CPU * cpus;
}

/* Least squares y = a + b x over the points, b >= 0, at CPUS. */
static double fit(const struct point *p, size_t np, unsigned cpus, uint64_t duration_ms)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, a, b = 0, k = (double)np;

	for (size_t i = 0; i < np; i++) {
		double x = p[i].cpus, y = point_cost(&p[i], duration_ms);

		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
	}
	if (k * sxx - sx * sx > 0)
		b = (k * sxy - sx * sy) / (k * sxx - sx * sx);
	if (b < 0)
		b = 0;
	a = (sy - b * sx) / k;
	return a + b * cpus;
}

double kt_gauntlet_cost(const struct kt_cost_sample *s, size_t n, const struct kt_topo *t,
			const char *accel, uint64_t duration_ms, enum kt_cost_source *src)
{
	struct point *p = n ? kt_xcalloc(n, sizeof(*p)) : NULL;
	size_t np = pool(s, n, accel, p);
	char canon[32];
	double c;

	kt_topo_format(t, canon, sizeof(canon));
	*src = KT_COST_MODEL;
	c = model_cost(kt_topo_cpus(t), duration_ms);
	for (size_t i = 0; i < np; i++)
		if (!strcmp(p[i].topology, canon)) {
			*src = KT_COST_MEASURED;
			c = point_cost(&p[i], duration_ms);
		}
	if (np && *src != KT_COST_MEASURED) {
		*src = KT_COST_EXTRAPOLATED;
		c = fit(p, np, kt_topo_cpus(t), duration_ms);
		if (c < (double)duration_ms)
			c = (double)duration_ms;
	}
	free(p);
	return c > 1 ? c : 1;
}

/* ---- selection ---- */

/* The distinct (group, id) pairs of all items, sorted; each item's
 * features as indices into them. */
struct universe {
	uint64_t *keys;
	size_t n;
	uint32_t *idx; /* item i's features at idx[i * MAX ...] */
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t key_of(const struct kt_gauntlet_item *it, size_t f)
{
	return (uint64_t)it->group << 32 | it->features[f];
}

static size_t n_feat(const struct kt_gauntlet_item *it)
{
	return it->n_features < KT_GAUNTLET_MAX_ITEM_FEATURES ? it->n_features :
								KT_GAUNTLET_MAX_ITEM_FEATURES;
}

static void universe_build(const struct kt_gauntlet_item *items, size_t n, struct universe *u)
{
	size_t total = 0, k = 0;

	for (size_t i = 0; i < n; i++)
		total += n_feat(&items[i]);
	u->keys = kt_xcalloc(total + 1, sizeof(*u->keys));
	for (size_t i = 0; i < n; i++)
		for (size_t f = 0; f < n_feat(&items[i]); f++)
			u->keys[k++] = key_of(&items[i], f);
	qsort(u->keys, total, sizeof(*u->keys), cmp_u64);
	u->n = 0;
	for (size_t i = 0; i < total; i++)
		if (!u->n || u->keys[u->n - 1] != u->keys[i])
			u->keys[u->n++] = u->keys[i];
	u->idx = kt_xcalloc(n * KT_GAUNTLET_MAX_ITEM_FEATURES + 1, sizeof(*u->idx));
	for (size_t i = 0; i < n; i++)
		for (size_t f = 0; f < n_feat(&items[i]); f++) {
			uint64_t key = key_of(&items[i], f);
			uint64_t *hit = bsearch(&key, u->keys, u->n, sizeof(*u->keys), cmp_u64);

			u->idx[i * KT_GAUNTLET_MAX_ITEM_FEATURES + f] = (uint32_t)(hit - u->keys);
		}
}

/* Features of item I not yet covered (an item may list one twice). */
static size_t new_features(const struct universe *u, const struct kt_gauntlet_item *it, size_t i,
			   const bool *covered, bool *seen)
{
	const uint32_t *idx = &u->idx[i * KT_GAUNTLET_MAX_ITEM_FEATURES];
	size_t fresh = 0;

	for (size_t f = 0; f < n_feat(it); f++)
		if (!covered[idx[f]] && !seen[idx[f]]) {
			seen[idx[f]] = true;
			fresh++;
		}
	for (size_t f = 0; f < n_feat(it); f++)
		seen[idx[f]] = false;
	return fresh;
}

static int cmp_cost(const void *a, const void *b, void *ctx)
{
	const struct kt_gauntlet_item *items = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	if (items[x].cost_ms != items[y].cost_ms)
		return items[x].cost_ms < items[y].cost_ms ? -1 : 1;
	return x < y ? -1 : x > y;
}

void kt_gauntlet_select(const struct kt_gauntlet_item *items, size_t n, double budget_ms,
			bool *chosen, struct kt_gauntlet_choice *out)
{
	struct universe u;
	bool *covered, *seen;
	size_t *order;
	double left = budget_ms > 0 ? budget_ms : 0;
	struct kt_gauntlet_choice c = {0};

	universe_build(items, n, &u);
	covered = kt_xcalloc(u.n + 1, sizeof(*covered));
	seen = kt_xcalloc(u.n + 1, sizeof(*seen));
	for (size_t i = 0; i < n; i++)
		chosen[i] = false;
	for (;;) {
		size_t best = n, best_new = 0;

		for (size_t i = 0; i < n; i++) {
			size_t fresh;

			if (chosen[i] || items[i].cost_ms > left)
				continue;
			fresh = new_features(&u, &items[i], i, covered, seen);
			/* fresh/cost > best_new/best_cost, without division */
			if (fresh && (best == n || (double)fresh * items[best].cost_ms >
							   (double)best_new * items[i].cost_ms)) {
				best = i;
				best_new = fresh;
			}
		}
		if (best == n)
			break;
		chosen[best] = true;
		left -= items[best].cost_ms;
		for (size_t f = 0; f < n_feat(&items[best]); f++)
			covered[u.idx[best * KT_GAUNTLET_MAX_ITEM_FEATURES + f]] = true;
	}
	order = kt_xcalloc(n + 1, sizeof(*order));
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), cmp_cost, (void *)items);
	for (size_t k = 0; k < n && items[order[k]].cost_ms <= left; k++)
		if (!chosen[order[k]]) {
			chosen[order[k]] = true;
			left -= items[order[k]].cost_ms;
		}
	for (size_t i = 0; i < n; i++) {
		if (chosen[i]) {
			c.chosen++;
			c.cost_ms += items[i].cost_ms;
		}
	}
	c.left_out = n - c.chosen;
	c.features = u.n;
	for (size_t i = 0; i < u.n; i++)
		c.covered += covered[i];
	if (out)
		*out = c;
	free(order);
	free(covered);
	free(seen);
	free(u.keys);
	free(u.idx);
}
