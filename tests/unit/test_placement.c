#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "placement.h"

static struct kt_place_worker worker(unsigned vcpus, uint64_t mem)
{
	return (struct kt_place_worker){ .vcpus_budget = vcpus, .mem_budget_mb = mem,
					 .accel = "tcg", .arch = "x86_64", .accepting = true };
}

static struct kt_place_entry entry(uint64_t run, int prio, uint64_t seq, unsigned vcpus)
{
	return (struct kt_place_entry){ .run_id = run, .priority = prio, .seq = seq,
					.vcpus = vcpus, .mem_mb = 256 };
}

/* Place and return the count; OUT gets the placements. No worker that
 * took an entry ends up beyond its budget. */
static size_t place(struct kt_place_entry *e, size_t ne, struct kt_place_worker *w, size_t nw,
		    struct kt_place_run *r, size_t nr, struct kt_placement *out)
{
	unsigned before[8];
	size_t n;

	assert_true(nw <= 8);
	for (size_t i = 0; i < nw; i++)
		before[i] = w[i].vcpus_used;
	n = kt_place(e, ne, w, nw, r, nr, out);
	assert_true(n <= ne);
	for (size_t i = 0; i < nw; i++) {
		if (w[i].vcpus_used == before[i])
			continue;
		assert_true(w[i].vcpus_used <= w[i].vcpus_budget);
		assert_true(w[i].mem_used_mb <= w[i].mem_budget_mb);
	}
	return n;
}

static void test_capacity(void **state)
{
	struct kt_place_worker w[] = { worker(4, 1024) };
	struct kt_place_entry e[] = { entry(1, 0, 0, 2), entry(1, 0, 1, 2), entry(1, 0, 2, 2) };
	struct kt_placement out[3];

	(void)state;
	assert_int_equal(place(e, 3, w, 1, NULL, 0, out), 2);
	assert_int_equal(out[0].entry, 0);
	assert_int_equal(out[1].entry, 1);
	assert_int_equal(w[0].vcpus_used, 4);
	assert_int_equal(w[0].mem_used_mb, 512);
	/* Full: nothing more, and a second round places nothing. */
	assert_int_equal(place(&e[2], 1, w, 1, NULL, 0, out), 0);

	/* Memory limits too: 3 x 256 MiB do not fit 600 MiB. */
	w[0] = worker(16, 600);
	assert_int_equal(place(e, 3, w, 1, NULL, 0, out), 2);
	assert_int_equal(w[0].mem_used_mb, 512);
	assert_int_equal(w[0].vcpus_used, 4);

	/* Used beyond the budget (the budget shrank): no room, no underflow. */
	w[0] = worker(4, 4096);
	w[0].vcpus_used = 6;
	assert_int_equal(place(e, 3, w, 1, NULL, 0, out), 0);
	assert_int_equal(w[0].vcpus_used, 6);
	w[0] = worker(8, 100);
	w[0].mem_used_mb = 200;
	assert_int_equal(place(e, 3, w, 1, NULL, 0, out), 0);
}

static void test_capabilities(void **state)
{
	static const char *const gpu[] = { "gpu" }, *const gpu_big[] = { "big", "gpu" };
	static const char *const big[] = { "big" };
	struct kt_place_worker w[4] = { worker(8, 8192), worker(8, 8192), worker(8, 8192),
					worker(64, 65536) };
	struct kt_place_entry e[5];
	struct kt_placement out[5];

	(void)state;
	w[1].accel = "kvm";
	w[2].arch = "aarch64";
	w[2].tags = gpu_big;
	w[2].n_tags = 2;
	w[3].accepting = false; /* draining: takes nothing, however big */
	for (size_t i = 0; i < 5; i++)
		e[i] = entry(1, 0, i, 2);
	e[0].need_accel = "kvm";
	e[1].arch = "aarch64";
	e[2].tags = gpu;
	e[2].n_tags = 1;
	e[3].tags = big;
	e[3].n_tags = 1;
	e[3].arch = "x86_64"; /* big only on the aarch64 worker: fits nowhere */
	e[4].need_accel = "hvf";
	assert_int_equal(place(e, 5, w, 4, NULL, 0, out), 3);
	assert_int_equal(out[0].entry, 0);
	assert_int_equal(out[0].worker, 1);
	assert_int_equal(out[1].entry, 1);
	assert_int_equal(out[1].worker, 2);
	assert_int_equal(out[2].entry, 2);
	assert_int_equal(out[2].worker, 2);
	assert_int_equal(w[3].vcpus_used, 0);

	/* A worker that does not know its accel or arch only takes entries
	 * that do not ask. */
	w[0] = worker(8, 8192);
	w[0].accel = NULL;
	w[0].arch = NULL;
	assert_int_equal(place(e, 2, w, 1, NULL, 0, out), 0);
	e[0].need_accel = NULL;
	e[0].arch = NULL;
	assert_int_equal(place(e, 1, w, 1, NULL, 0, out), 1);
}

/* An entry running the built-in scx-ktstr goes only to a worker that has
 * it; one that needs it fails no entry that does not. */
static void test_scx_ktstr(void **state)
{
	struct kt_place_worker w[2] = { worker(16, 8192), worker(4, 8192) };
	struct kt_place_entry e[3];
	struct kt_placement out[3];

	(void)state;
	w[1].has_scx_ktstr = true;
	for (size_t i = 0; i < 3; i++)
		e[i] = entry(1, 0, i, 2);
	e[0].needs_scx_ktstr = true;
	e[1].needs_scx_ktstr = true;
	assert_int_equal(place(e, 3, w, 2, NULL, 0, out), 3);
	assert_int_equal(out[0].worker, 1); /* not the one with more free vCPUs */
	assert_int_equal(out[1].worker, 1);
	assert_int_equal(out[2].worker, 0);
	/* only workers without it: never placed, never possible */
	w[0] = worker(16, 8192);
	assert_int_equal(place(e, 3, w, 1, NULL, 0, out), 1);
	assert_int_equal(out[0].entry, 2);
	assert_false(kt_place_possible(&e[0], w, 1));
	assert_true(kt_place_possible(&e[2], w, 1));
	assert_true(kt_place_possible(&e[0], w, 2));
}

/* Equal needs that failed are passed over; different needs are still tried. */
static void test_failed_needs_are_exact(void **state)
{
	static const char *const a[] = { "a" }, *const b[] = { "b" };
	struct kt_place_worker w[] = { worker(8, 8192) };
	struct kt_place_entry e[4];
	struct kt_placement out[4];

	(void)state;
	w[0].tags = b;
	w[0].n_tags = 1;
	for (size_t i = 0; i < 4; i++)
		e[i] = entry(1, 0, i, 2);
	e[0].tags = a;
	e[0].n_tags = 1;
	e[1].tags = a;
	e[1].n_tags = 1;
	e[2].tags = b;
	e[2].n_tags = 1;
	e[3].mem_mb = 512; /* no tags, other memory */
	assert_int_equal(place(e, 4, w, 1, NULL, 0, out), 2);
	assert_int_equal(out[0].entry, 2);
	assert_int_equal(out[1].entry, 3);
}

static void test_priority_first(void **state)
{
	struct kt_place_worker w[] = { worker(2, 4096) };
	struct kt_place_entry e[] = { entry(1, 0, 0, 2), entry(2, 10, 0, 2), entry(3, 5, 0, 2) };
	struct kt_placement out[3];

	(void)state;
	assert_int_equal(place(e, 3, w, 1, NULL, 0, out), 1);
	assert_int_equal(out[0].entry, 1);
	w[0] = worker(4, 4096);
	assert_int_equal(place(e, 3, w, 1, NULL, 0, out), 2);
	assert_int_equal(out[0].entry, 1);
	assert_int_equal(out[1].entry, 2);
	/* Negative priorities go after 0. */
	e[1].priority = -1;
	e[2].priority = -2;
	w[0] = worker(2, 4096);
	assert_int_equal(place(e, 3, w, 1, NULL, 0, out), 1);
	assert_int_equal(out[0].entry, 0);
}

/* The run with the fewest running entries goes next; this round counts. */
static void test_fair_share(void **state)
{
	struct kt_place_worker w[] = { worker(6, 65536) };
	struct kt_place_run runs[] = { { 7, 3 }, { 9, 0 } };
	struct kt_place_entry e[8];
	struct kt_placement out[8];

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		e[i] = entry(7, 0, i, 1);
		e[4 + i] = entry(9, 0, i, 1);
	}
	/* Run 7 has 3 running: run 9 gets three first, then they alternate,
	 * the lower run_id winning ties. */
	assert_int_equal(place(e, 8, w, 1, runs, 2, out), 6);
	assert_int_equal(out[0].entry, 4);
	assert_int_equal(out[1].entry, 5);
	assert_int_equal(out[2].entry, 6);
	assert_int_equal(out[3].entry, 0);
	assert_int_equal(out[4].entry, 7);
	assert_int_equal(out[5].entry, 1);
	/* The counts given are updated. */
	assert_int_equal(runs[0].running, 5);
	assert_int_equal(runs[1].running, 4);
}

/* Ties go to the lower run_id, and a run missing from RUNS counts 0. */
static void test_fair_share_ties_and_unknown_runs(void **state)
{
	struct kt_place_worker w[] = { worker(4, 65536) };
	struct kt_place_run runs[] = { { 5, 1 } };
	struct kt_place_entry e[6];
	struct kt_placement out[6];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		e[i] = entry(5, 0, i, 1);
		e[3 + i] = entry(3, 0, i, 1); /* earlier run, not listed */
	}
	assert_int_equal(place(e, 6, w, 1, runs, 1, out), 4);
	/* Run 3 (0 running) first; then both have 1: run 3 (lower id); then
	 * run 5 (1 < 2); then both have 2: run 3. */
	assert_int_equal(out[0].entry, 3);
	assert_int_equal(out[1].entry, 4);
	assert_int_equal(out[2].entry, 0);
	assert_int_equal(out[3].entry, 5);
	assert_int_equal(runs[0].running, 2);
}

/* Within a run: by seq, whatever order the entries come in. */
static void test_seq_order(void **state)
{
	struct kt_place_worker w[] = { worker(3, 65536) };
	struct kt_place_entry e[] = { entry(1, 0, 30, 1), entry(1, 0, 10, 1), entry(1, 0, 40, 1),
				      entry(1, 0, 20, 1) };
	struct kt_placement out[4];

	(void)state;
	assert_int_equal(place(e, 4, w, 1, NULL, 0, out), 3);
	assert_int_equal(out[0].entry, 1);
	assert_int_equal(out[1].entry, 3);
	assert_int_equal(out[2].entry, 0);
}

/* An entry too big for now does not block the smaller ones behind it. */
static void test_pass_over(void **state)
{
	struct kt_place_worker w[] = { worker(4, 65536) };
	struct kt_place_entry e[] = { entry(1, 10, 0, 8), entry(1, 10, 1, 2), entry(2, 0, 0, 2),
				      entry(2, 0, 1, 2) };
	struct kt_placement out[4];

	(void)state;
	assert_int_equal(place(e, 4, w, 1, NULL, 0, out), 2);
	assert_int_equal(out[0].entry, 1);
	assert_int_equal(out[1].entry, 2);
}

/* The worker with the most free vCPUs takes it; ties: the lower index. */
static void test_spread(void **state)
{
	struct kt_place_worker w[] = { worker(8, 65536), worker(16, 65536), worker(16, 65536) };
	struct kt_place_entry e[4];
	struct kt_placement out[4];

	(void)state;
	w[0].vcpus_used = 2;  /* 6 free */
	w[1].vcpus_used = 10; /* 6 free */
	w[2].vcpus_used = 8;  /* 8 free */
	for (size_t i = 0; i < 4; i++)
		e[i] = entry(1, 0, i, 2);
	assert_int_equal(place(e, 4, w, 3, NULL, 0, out), 4);
	assert_int_equal(out[0].worker, 2); /* 8 free -> 6 */
	assert_int_equal(out[1].worker, 0); /* tie at 6: lowest index */
	assert_int_equal(out[2].worker, 1);
	assert_int_equal(out[3].worker, 2);
	assert_int_equal(w[0].vcpus_used, 4);
	assert_int_equal(w[1].vcpus_used, 12);
	assert_int_equal(w[2].vcpus_used, 12);
	/* The most free vCPUs among those that fit: memory rules one out. */
	w[0] = worker(32, 100);
	w[1] = worker(4, 65536);
	assert_int_equal(place(e, 1, w, 2, NULL, 0, out), 1);
	assert_int_equal(out[0].worker, 1);
}

static void test_possible(void **state)
{
	static const char *const t[] = { "big" };
	struct kt_place_worker w[] = { worker(8, 2048), worker(64, 65536) };
	struct kt_place_entry e = entry(1, 0, 0, 16);

	(void)state;
	w[0].vcpus_used = 8; /* busy now, but could later */
	assert_true(kt_place_possible(&e, w, 2));
	e.vcpus = 8;
	assert_true(kt_place_possible(&e, w, 1));
	e.mem_mb = 4096;
	assert_false(kt_place_possible(&e, w, 1));
	assert_true(kt_place_possible(&e, w, 2));
	w[1].accepting = false;
	assert_false(kt_place_possible(&e, w, 2));
	w[1].accepting = true;
	e.tags = t;
	e.n_tags = 1;
	assert_false(kt_place_possible(&e, w, 2));
	w[1].tags = t;
	w[1].n_tags = 1;
	assert_true(kt_place_possible(&e, w, 2));
	e.need_accel = "kvm";
	assert_false(kt_place_possible(&e, w, 2));
	assert_false(kt_place_possible(&e, w, 0));
}

static void test_empty(void **state)
{
	struct kt_place_worker w[] = { worker(4, 4096) };
	struct kt_place_entry e[] = { entry(1, 0, 0, 1) };
	struct kt_placement out[1];

	(void)state;
	assert_int_equal(place(e, 0, w, 1, NULL, 0, out), 0);
	assert_int_equal(place(e, 1, w, 0, NULL, 0, out), 0);
	e[0].vcpus = 0; /* counts as one */
	assert_int_equal(place(e, 1, w, 1, NULL, 0, out), 1);
	assert_int_equal(w[0].vcpus_used, 1);
}

/* ---- a naive reference of the rules, for random comparisons ---- */

static bool ref_capable(const struct kt_place_worker *w, const struct kt_place_entry *e)
{
	if (!w->accepting || (e->need_accel && (!w->accel || strcmp(w->accel, e->need_accel))) ||
	    (e->arch && (!w->arch || strcmp(w->arch, e->arch))) ||
	    (e->needs_scx_ktstr && !w->has_scx_ktstr))
		return false;
	for (size_t i = 0; i < e->n_tags; i++) {
		bool found = false;

		for (size_t j = 0; j < w->n_tags; j++)
			found |= !strcmp(w->tags[j], e->tags[i]);
		if (!found)
			return false;
	}
	return true;
}

static size_t ref_place(const struct kt_place_entry *e, size_t ne, struct kt_place_worker *w,
			size_t nw, struct kt_place_run *runs, size_t nr, struct kt_placement *out)
{
	bool tried[64] = { 0 };
	unsigned ghost[64] = { 0 }; /* running counts of runs not in RUNS, by entry */
	size_t n = 0;

	for (;;) {
		long best = -1, wbest = -1;
		unsigned brun = 0, bfree = 0;

		/* The untried entry of the highest priority, fewest running
		 * run, lowest run id, lowest seq. */
		for (size_t i = 0; i < ne; i++) {
			unsigned run = 0;
			bool listed = false;

			if (tried[i])
				continue;
			for (size_t k = 0; k < nr; k++) {
				if (runs[k].run_id == e[i].run_id) {
					run = runs[k].running;
					listed = true;
				}
			}
			for (size_t k = 0; !listed && k < ne; k++)
				if (e[k].run_id == e[i].run_id)
					run += ghost[k];
			if (best < 0 || e[i].priority > e[best].priority ||
			    (e[i].priority == e[best].priority &&
			     (run < brun || (run == brun && (e[i].run_id < e[best].run_id ||
			      (e[i].run_id == e[best].run_id && e[i].seq < e[best].seq)))))) {
				best = (long)i;
				brun = run;
			}
		}
		if (best < 0)
			return n;
		tried[best] = true;
		for (size_t j = 0; j < nw; j++) {
			unsigned f = w[j].vcpus_budget - w[j].vcpus_used;

			if (ref_capable(&w[j], &e[best]) && f >= e[best].vcpus && f > bfree &&
			    w[j].mem_budget_mb - w[j].mem_used_mb >= e[best].mem_mb) {
				wbest = (long)j;
				bfree = f;
			}
		}
		if (wbest < 0)
			continue;
		w[wbest].vcpus_used += e[best].vcpus;
		w[wbest].mem_used_mb += e[best].mem_mb;
		ghost[best] = 1;
		for (size_t k = 0; k < nr; k++)
			if (runs[k].run_id == e[best].run_id)
				runs[k].running++;
		out[n++] = (struct kt_placement){ (size_t)best, (size_t)wbest };
	}
}

/* Random farms: kt_place decides exactly as the reference does, whatever
 * the order the entries come in. */
static void test_matches_reference(void **state)
{
	static const char *const tagset[] = { "a", "b" }, *const accels[] = { "kvm", "tcg" };
	unsigned seed = 12345;

	(void)state;
	for (int round = 0; round < 2000; round++) {
		struct kt_place_worker w[6], w2[6];
		struct kt_place_entry e[64];
		struct kt_place_run runs[4], runs2[4];
		struct kt_placement out[64], ref[64];
		size_t nw = 1 + (size_t)rand_r(&seed) % 6, ne = (size_t)rand_r(&seed) % 64, n, nref;

		for (size_t j = 0; j < nw; j++) {
			w[j] = worker(1 + (unsigned)rand_r(&seed) % 12, 256u * (1 + rand_r(&seed) % 12));
			w[j].vcpus_used = (unsigned)rand_r(&seed) % (w[j].vcpus_budget + 1);
			w[j].accel = accels[rand_r(&seed) % 2];
			w[j].accepting = rand_r(&seed) % 8 != 0;
			w[j].tags = &tagset[rand_r(&seed) % 2];
			w[j].n_tags = (size_t)rand_r(&seed) % 2;
		}
		for (size_t k = 0; k < 4; k++)
			runs[k] = (struct kt_place_run){ 10 + k, (unsigned)rand_r(&seed) % 3 };
		for (size_t i = 0; i < ne; i++) {
			/* Unique seqs; run 14 is not in RUNS. */
			e[i] = entry(10 + (unsigned)rand_r(&seed) % 5, rand_r(&seed) % 3 - 1,
				     (uint64_t)rand_r(&seed) % 1000 * 64 + i, 1 + (unsigned)rand_r(&seed) % 4);
			e[i].mem_mb = 256u * (1 + rand_r(&seed) % 3);
			if (rand_r(&seed) % 4 == 0)
				e[i].need_accel = accels[rand_r(&seed) % 2];
			if (rand_r(&seed) % 4 == 0) {
				e[i].tags = &tagset[rand_r(&seed) % 2];
				e[i].n_tags = 1;
			}
		}
		memcpy(w2, w, sizeof(w));
		memcpy(runs2, runs, sizeof(runs));
		n = kt_place(e, ne, w, nw, runs, 4, out);
		nref = ref_place(e, ne, w2, nw, runs2, 4, ref);
		assert_int_equal(n, nref);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(out[i].entry, ref[i].entry);
			assert_int_equal(out[i].worker, ref[i].worker);
		}
		assert_memory_equal(w, w2, sizeof(w[0]) * nw);
		assert_memory_equal(runs, runs2, sizeof(runs));
	}
}

/* The farm's scale: 200 workers and 20,000 queued entries of 4 runs.
 * Rounds place until all is done; each finished round frees a few slots.
 * Checks budgets, fair share and that every entry is placed exactly once. */
static void test_scale(void **state)
{
	enum { NW = 200, NE = 20000, NR = 4 };
	struct kt_place_worker *w = calloc(NW, sizeof(*w));
	struct kt_place_entry *e = calloc(NE, sizeof(*e)), *q = calloc(NE, sizeof(*q));
	struct kt_placement *out = calloc(NE, sizeof(*out));
	size_t *qid = calloc(NE, sizeof(*qid)), *qid2 = calloc(NE, sizeof(*qid2));
	unsigned char *placed = calloc(NE, 1);
	struct kt_place_run runs[NR];
	size_t nq = NE, total = 0, rounds = 0;

	(void)state;
	for (size_t i = 0; i < NW; i++)
		w[i] = worker(8 + (unsigned)(i % 3) * 8, 65536);
	for (size_t i = 0; i < NR; i++)
		runs[i] = (struct kt_place_run){ i + 1, 0 };
	for (size_t i = 0; i < NE; i++) {
		e[i] = entry(i % NR + 1, 0, i, 1u << (i % 3));
		q[i] = e[i];
		qid[i] = i;
	}
	while (nq) {
		size_t n = kt_place(q, nq, w, NW, runs, NR, out), m = 0;

		assert_true(n > 0);
		rounds++;
		for (size_t i = 0; i < n; i++) {
			assert_false(placed[qid[out[i].entry]]);
			placed[qid[out[i].entry]] = 1;
		}
		total += n;
		/* Fair share: the runs' counts stay within one of each other
		 * while all four still have entries queued. */
		if (rounds == 1) {
			for (size_t i = 1; i < NR; i++)
				assert_true(runs[i].running + 1 >= runs[0].running &&
					    runs[0].running + 1 >= runs[i].running);
		}
		/* Compact the queue (kept in order), then free every worker. */
		for (size_t i = 0; i < nq; i++) {
			if (placed[qid[i]])
				continue;
			q[m] = q[i];
			qid2[m++] = qid[i];
		}
		memcpy(qid, qid2, m * sizeof(*qid));
		nq = m;
		for (size_t i = 0; i < NW; i++)
			w[i].vcpus_used = w[i].mem_used_mb = 0;
		for (size_t i = 0; i < NR; i++)
			runs[i].running = 0;
	}
	assert_int_equal(total, NE);
	free(placed);
	free(qid2);
	free(qid);
	free(out);
	free(q);
	free(e);
	free(w);
}

/* A farm with one free vCPU per worker and 20,000 entries that need two or
 * a capability nobody has: nothing is placed, round after round. (Its cost
 * is measured by tests/bench/dispatch, not asserted here.) */
static void test_full_farm_places_nothing(void **state)
{
	enum { NW = 200, NE = 20000 };
	static const char *const t[] = { "never" };
	struct kt_place_worker *w = calloc(NW, sizeof(*w));
	struct kt_place_entry *e = calloc(NE, sizeof(*e));
	struct kt_placement *out = calloc(NE, sizeof(*out));

	(void)state;
	for (size_t i = 0; i < NW; i++) {
		w[i] = worker(16, 65536);
		w[i].vcpus_used = 15; /* one free vCPU each */
	}
	for (size_t i = 0; i < NE; i++) {
		e[i] = entry(i % 7, 0, i, i % 2 ? 2 : 1);
		if (i % 2 == 0) {
			e[i].tags = t; /* fits nowhere: a capability no worker has */
			e[i].n_tags = 1;
		}
	}
	for (int r = 0; r < 20; r++)
		assert_int_equal(kt_place(e, NE, w, NW, NULL, 0, out), 0);
	free(out);
	free(e);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_scx_ktstr),
		cmocka_unit_test(test_failed_needs_are_exact),
		cmocka_unit_test(test_priority_first),
		cmocka_unit_test(test_fair_share),
		cmocka_unit_test(test_fair_share_ties_and_unknown_runs),
		cmocka_unit_test(test_seq_order),
		cmocka_unit_test(test_pass_over),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_possible),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_matches_reference),
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_full_farm_places_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
