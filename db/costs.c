#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "costs.h"
#include "util.h"

static const char sql[] =
	"SELECT e.topology, r.accel, r.total_ms, r.run_ms, e.assignment"
	" FROM results r JOIN entries e ON e.id = r.entry_id"
	" WHERE r.status = 'pass' AND r.total_ms > 0 AND r.accel IS NOT NULL"
	" AND r.stored_at >= ?1"
	" ORDER BY r.stored_at DESC LIMIT ?2";

/* The planned duration in the packed Assignment A, or 0. */
static double planned_ms(const void *a, int len)
{
	Ktstr__Assignment *as;
	double d = 0;

	if (!a || len <= 0)
		return 0;
	as = ktstr__assignment__unpack(NULL, (size_t)len, a);
	if (!as)
		return 0;
	if (as->has_duration_ms)
		d = (double)as->duration_ms;
	ktstr__assignment__free_unpacked(as, NULL);
	return d;
}

/* The sample of (TOPO, ACCEL) in *V, added when new. */
static struct kt_cost_sample *sample(struct kt_cost_sample **v, size_t *n, size_t *cap,
				     const char *topo, const char *accel)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].topology, topo) && !strcmp((*v)[i].accel, accel))
			return &(*v)[i];
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = kt_xrealloc(*v, *cap * sizeof(**v));
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	snprintf((*v)[*n].topology, sizeof((*v)[*n].topology), "%s", topo);
	snprintf((*v)[*n].accel, sizeof((*v)[*n].accel), "%s", accel);
	return &(*v)[(*n)++];
}

int kt_store_cost_samples(struct kt_store *s, uint64_t since, struct kt_cost_sample **out,
			  size_t *n, struct kt_err *err)
{
	sqlite3 *db = kt_store_db(s);
	struct kt_cost_sample *v = NULL;
	size_t nv = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return kt_errf(err, "cost samples: %s", sqlite3_errmsg(db));
	sqlite3_bind_int64(st, 1, (sqlite3_int64)since);
	sqlite3_bind_int(st, 2, KT_COSTS_MAX_RESULTS);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *topo = (const char *)sqlite3_column_text(st, 0);
		const char *accel = (const char *)sqlite3_column_text(st, 1);
		double total = (double)sqlite3_column_int64(st, 2);
		double run = (double)sqlite3_column_int64(st, 3);
		double dur = planned_ms(sqlite3_column_blob(st, 4), sqlite3_column_bytes(st, 4));
		struct kt_cost_sample *c;

		/* Stored text is bounded but not trusted to fit our fields. */
		if (!topo || !accel || strlen(topo) >= sizeof(c->topology) ||
		    strlen(accel) >= sizeof(c->accel) || !(dur > 0) || run < 0)
			continue;
		c = sample(&v, &nv, &cap, topo, accel);
		/* running means */
		c->n++;
		c->total_ms += (total - c->total_ms) / (double)c->n;
		c->run_ms += (run - c->run_ms) / (double)c->n;
		c->duration_ms += (dur - c->duration_ms) / (double)c->n;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return kt_errf(err, "cost samples: %s", sqlite3_errmsg(db));
	}
	*out = v;
	*n = nv;
	return 0;
}
