/* What entries cost, from the history: the coordinator's budgets
 * (coordinator/matrix.h) weigh topologies by what their entries really
 * took on this farm. */
#ifndef KTSTR_DB_COSTS_H
#define KTSTR_DB_COSTS_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "gauntlet.h"
#include "store.h"

/* Results considered: the newest this many passes. */
#define KT_COSTS_MAX_RESULTS 20000

/* One kt_cost_sample per (topology, accel) over the newest passed results
 * stored at or after SINCE (unix ms; 0 = all), at most
 * KT_COSTS_MAX_RESULTS: means of total_ms, run_ms and the entry's planned
 * duration (from its Assignment). Only passes: an infra, error or skip
 * ended early, and a failure may have ended early or late, so neither
 * says what a run as planned takes. Rows with an unknown accel, no
 * total_ms, or an Assignment that does not unpack are left out. *OUT
 * (malloc'd, NULL when *N is 0) is the caller's to free. */
int kt_store_cost_samples(struct kt_store *s, uint64_t since, struct kt_cost_sample **out,
			  size_t *n, struct kt_err *err);

#endif
