#include <stdlib.h>
#include <string.h>
#include "placement.h"
#include "util.h"

typedef const struct kt_place_entry *entry_p;

/* The entries of one run at one priority: positions cur..end-1 of the
 * placement order (see at()) are still to try. */
struct seg {
	size_t cur, end;
	size_t run; /* index into round.runs */
};

struct run_state {
	uint64_t id;
	unsigned running;
	struct kt_place_run *caller; /* NULL when the caller did not list it */
};

struct round {
	const struct kt_place_entry *base;
	entry_p *order; /* NULL when BASE is in order already */
	struct kt_place_worker *w;
	size_t nw;
	struct run_state *runs;
	size_t n_runs;
	unsigned max_free_vcpus; /* over accepting workers: a quick "fits nowhere" */
	uint64_t max_free_mem;
	entry_p *failed; /* open-addressing set of needs that fit nowhere */
	size_t failed_cap, n_failed;
};

static unsigned need_vcpus(entry_p e)
{
	return e->vcpus ? e->vcpus : 1;
}

static unsigned free_vcpus(const struct kt_place_worker *w)
{
	return w->vcpus_used < w->vcpus_budget ? w->vcpus_budget - w->vcpus_used : 0;
}

static uint64_t free_mem(const struct kt_place_worker *w)
{
	return w->mem_used_mb < w->mem_budget_mb ? w->mem_budget_mb - w->mem_used_mb : 0;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool has_tag(const struct kt_place_worker *w, const char *tag)
{
	for (size_t i = 0; i < w->n_tags; i++)
		if (w->tags[i] && !strcmp(w->tags[i], tag))
			return true;
	return false;
}

/* Capabilities only, not capacity. */
static bool capable(const struct kt_place_worker *w, entry_p e)
{
	if (!w->accepting)
		return false;
	if (e->need_accel && !same_str(e->need_accel, w->accel))
		return false;
	if (e->arch && !same_str(e->arch, w->arch))
		return false;
	if (e->needs_scx_ktstr && !w->has_scx_ktstr)
		return false;
	for (size_t i = 0; i < e->n_tags; i++)
		if (!e->tags[i] || !has_tag(w, e->tags[i]))
			return false;
	return true;
}

bool kt_place_possible(const struct kt_place_entry *e, const struct kt_place_worker *workers,
		       size_t n_workers)
{
	for (size_t i = 0; i < n_workers; i++)
		if (capable(&workers[i], e) && need_vcpus(e) <= workers[i].vcpus_budget &&
		    e->mem_mb <= workers[i].mem_budget_mb)
			return true;
	return false;
}

/* ---- ordering ---- */

static int cmp_entry(const void *pa, const void *pb)
{
	entry_p a = *(const entry_p *)pa, b = *(const entry_p *)pb;

	if (a->priority != b->priority)
		return a->priority > b->priority ? -1 : 1;
	if (a->run_id != b->run_id)
		return a->run_id < b->run_id ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* The I-th entry in placement order. */
static entry_p at(const struct round *r, size_t i)
{
	return r->order ? r->order[i] : &r->base[i];
}

/* Sort the entries by priority desc, run_id, seq into R->order. */
static void sort_entries(struct round *r, size_t n)
{
	r->order = kt_xcalloc(n, sizeof(*r->order));
	for (size_t i = 0; i < n; i++)
		r->order[i] = &r->base[i];
	qsort(r->order, n, sizeof(*r->order), cmp_entry);
}

static int cmp_u64(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;

	return a < b ? -1 : a > b;
}

static size_t run_index(const struct round *r, uint64_t id)
{
	size_t lo = 0, hi = r->n_runs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->runs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo; /* present by construction */
}

/* Split the entries in placement order into per-(priority, run) segments
 * (*SEGS, malloc'd). Entries that come in that order already (a
 * coordinator that keeps its queue ordered) are used as they are: one pass,
 * no copy, no sort. */
static size_t split(struct round *r, size_t n, struct seg **segs_out)
{
	size_t n_segs = 0, cap = 16;
	struct seg *segs = kt_xcalloc(cap, sizeof(*segs));

	for (size_t i = 0; i < n; i++) {
		entry_p e = at(r, i), prev = i ? at(r, i - 1) : NULL;
		int c = prev ? cmp_entry(&prev, &e) : -1;

		if (c > 0) { /* out of order: sort, start again */
			free(segs);
			sort_entries(r, n);
			return split(r, n, segs_out);
		}
		if (prev && prev->priority == e->priority && prev->run_id == e->run_id) {
			segs[n_segs - 1].end = i + 1;
			continue;
		}
		if (n_segs == cap) {
			struct seg *bigger = kt_xcalloc(cap * 2, sizeof(*segs));

			memcpy(bigger, segs, cap * sizeof(*segs));
			free(segs);
			segs = bigger;
			cap *= 2;
		}
		segs[n_segs++] = (struct seg){ .cur = i, .end = i + 1 };
	}
	*segs_out = segs;
	return n_segs;
}

/* The run table: every run id of the segments and of RUNS, once, sorted,
 * with the running counts of RUNS; and each segment's index into it. */
static void make_runs(struct round *r, struct seg *segs, size_t n_segs,
		      struct kt_place_run *runs, size_t n_runs)
{
	uint64_t *ids = kt_xcalloc(n_segs + n_runs, sizeof(*ids));
	size_t n_ids = 0;

	for (size_t i = 0; i < n_segs; i++)
		ids[n_ids++] = at(r, segs[i].cur)->run_id;
	for (size_t i = 0; i < n_runs; i++)
		ids[n_ids++] = runs[i].run_id;
	qsort(ids, n_ids, sizeof(*ids), cmp_u64);
	r->runs = kt_xcalloc(n_ids, sizeof(*r->runs));
	for (size_t i = 0; i < n_ids; i++)
		if (!i || ids[i] != ids[i - 1])
			r->runs[r->n_runs++].id = ids[i];
	free(ids);
	for (size_t i = 0; i < n_runs; i++) {
		struct run_state *rs = &r->runs[run_index(r, runs[i].run_id)];

		rs->running = runs[i].running;
		rs->caller = &runs[i];
	}
	for (size_t i = 0; i < n_segs; i++)
		segs[i].run = run_index(r, at(r, segs[i].cur)->run_id);
}

/* ---- the fair-share heap: segments of one priority, fewest running first ---- */

static bool before(const struct round *r, const struct seg *a, const struct seg *b)
{
	const struct run_state *x = &r->runs[a->run], *y = &r->runs[b->run];

	return x->running != y->running ? x->running < y->running : x->id < y->id;
}

static void sift_down(const struct round *r, struct seg **h, size_t n, size_t i)
{
	for (;;) {
		size_t m = i, l = 2 * i + 1;

		if (l < n && before(r, h[l], h[m]))
			m = l;
		if (l + 1 < n && before(r, h[l + 1], h[m]))
			m = l + 1;
		if (m == i)
			return;
		struct seg *t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* ---- capacity ---- */

static void update_max_free(struct round *r)
{
	r->max_free_vcpus = 0;
	r->max_free_mem = 0;
	for (size_t i = 0; i < r->nw; i++) {
		if (!r->w[i].accepting)
			continue;
		if (free_vcpus(&r->w[i]) > r->max_free_vcpus)
			r->max_free_vcpus = free_vcpus(&r->w[i]);
		if (free_mem(&r->w[i]) > r->max_free_mem)
			r->max_free_mem = free_mem(&r->w[i]);
	}
}

/* ---- needs that fit nowhere this round ---- */

static uint64_t hash_str(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return (h ^ (s ? 0xff : 0xfe)) * 0x100000001b3ull;
}

static uint64_t hash_needs(entry_p e)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = (h ^ need_vcpus(e)) * 0x100000001b3ull;
	h = (h ^ e->mem_mb) * 0x100000001b3ull;
	h = hash_str(h, e->need_accel);
	h = hash_str(h, e->arch);
	h = (h ^ e->needs_scx_ktstr) * 0x100000001b3ull;
	for (size_t i = 0; i < e->n_tags; i++)
		h = hash_str(h, e->tags[i]);
	return h;
}

static bool same_needs(entry_p a, entry_p b)
{
	if (need_vcpus(a) != need_vcpus(b) || a->mem_mb != b->mem_mb ||
	    !same_str(a->need_accel, b->need_accel) || !same_str(a->arch, b->arch) ||
	    a->needs_scx_ktstr != b->needs_scx_ktstr || a->n_tags != b->n_tags)
		return false;
	for (size_t i = 0; i < a->n_tags; i++)
		if (!same_str(a->tags[i], b->tags[i]))
			return false;
	return true;
}

static void failed_insert(entry_p *table, size_t cap, entry_p e)
{
	size_t i;

	for (i = hash_needs(e) & (cap - 1); table[i]; i = (i + 1) & (cap - 1))
		;
	table[i] = e;
}

/* Whether needs like E's already failed this round. */
static bool failed_find(const struct round *r, entry_p e)
{
	for (size_t i = r->failed_cap ? hash_needs(e) & (r->failed_cap - 1) : 0;
	     r->failed_cap && r->failed[i]; i = (i + 1) & (r->failed_cap - 1))
		if (same_needs(r->failed[i], e))
			return true;
	return false;
}

/* Remember E's needs as failed; the table stays at most half full. */
static void failed_add(struct round *r, entry_p e)
{
	if (2 * (r->n_failed + 1) > r->failed_cap) {
		size_t cap = r->failed_cap ? 2 * r->failed_cap : 64;
		entry_p *t = kt_xcalloc(cap, sizeof(*t));

		for (size_t i = 0; i < r->failed_cap; i++)
			if (r->failed[i])
				failed_insert(t, cap, r->failed[i]);
		free(r->failed);
		r->failed = t;
		r->failed_cap = cap;
	}
	failed_insert(r->failed, r->failed_cap, e);
	r->n_failed++;
}

/* ---- one decision ---- */

/* Place E on the fitting worker with the most free vCPUs; its index, or
 * -1 when none fits now. */
static long place_one(struct round *r, entry_p e)
{
	unsigned v = need_vcpus(e), best_free = 0;
	long best = -1;

	if (v > r->max_free_vcpus || e->mem_mb > r->max_free_mem || failed_find(r, e))
		return -1;
	for (size_t i = 0; i < r->nw; i++) {
		const struct kt_place_worker *w = &r->w[i];
		unsigned f = free_vcpus(w);

		if (f >= v && f > best_free && free_mem(w) >= e->mem_mb && capable(w, e)) {
			best = (long)i;
			best_free = f;
		}
	}
	if (best < 0) {
		failed_add(r, e);
		return -1;
	}
	r->w[best].vcpus_used += v;
	r->w[best].mem_used_mb += e->mem_mb;
	update_max_free(r);
	return best;
}

/* Fair share over the segments [S, S + N) of one priority. Returns false
 * when no worker has a free vCPU left (the round is over). */
static bool place_level(struct round *r, struct seg *s, size_t n, struct seg **heap,
			struct kt_placement *out, size_t *n_out)
{
	size_t hn = n;

	for (size_t i = 0; i < n; i++)
		heap[i] = &s[i];
	for (size_t i = n / 2; i-- > 0;)
		sift_down(r, heap, hn, i);
	while (hn) {
		struct seg *top = heap[0];

		if (!r->max_free_vcpus)
			return false;
		while (top->cur < top->end) {
			entry_p e = at(r, top->cur++);
			long w = place_one(r, e);
			struct run_state *rs;

			if (w < 0)
				continue;
			out[(*n_out)++] = (struct kt_placement){ (size_t)(e - r->base), (size_t)w };
			rs = &r->runs[top->run];
			rs->running++;
			if (rs->caller)
				rs->caller->running = rs->running;
			break;
		}
		if (top->cur == top->end)
			heap[0] = heap[--hn];
		sift_down(r, heap, hn, 0);
	}
	return true;
}

size_t kt_place(const struct kt_place_entry *entries, size_t n_entries,
		struct kt_place_worker *workers, size_t n_workers,
		struct kt_place_run *runs, size_t n_runs, struct kt_placement *out)
{
	struct round r = { .base = entries, .w = workers, .nw = n_workers };
	struct seg *segs, **heap;
	size_t n_segs, n_out = 0;

	update_max_free(&r);
	if (!n_entries || !r.max_free_vcpus)
		return 0;
	n_segs = split(&r, n_entries, &segs);
	make_runs(&r, segs, n_segs, runs, n_runs);
	heap = kt_xcalloc(n_segs, sizeof(*heap));
	for (size_t a = 0, b; a < n_segs; a = b) {
		for (b = a + 1; b < n_segs && at(&r, segs[b].cur)->priority ==
					      at(&r, segs[a].cur)->priority; b++)
			;
		if (!place_level(&r, &segs[a], b - a, heap, out, &n_out))
			break;
	}
	free(heap);
	free(segs);
	free(r.runs);
	free(r.failed);
	free(r.order);
	return n_out;
}
