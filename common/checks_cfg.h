/* Check settings as users write them: the `checks:` mapping of a scenario,
 * of a matrix's scheduler and of a matrix's test, ktstr-run's
 * --check KEY=VALUE, and the farm's CheckOverrides (proto/farm.proto). One
 * table of keys, ranges and fields serves them all, so a key means the
 * same thing everywhere and is refused the same way.
 *
 *   key                  value                      default
 *   not_starved          true | false               true
 *   max_gap_ms           0..3600000                 2000
 *   max_spread           0..100                     15
 *   spread_warmup_ms     0..3600000                 500
 *   isolation            true | false               on when a cgroup has a cpuset
 *   max_throughput_cv    0..100 | off               off
 *   min_work_rate        0..1e15 | off              off
 *   max_p99_wake_us      0..3600000000 | off        off
 *   max_wake_cv          0..100 | off               off
 *   max_migration_ratio  0..1000 | off              off
 *
 * What each measures is in checks.h. `off` turns an optional check off
 * again (a test can undo what its scheduler set); in a CheckOverrides it is
 * any negative value. Precedence: the scenario's own settings, then the
 * matrix scheduler's `checks:`, then the test's (ktstr-run's --check stands
 * where a test's would): a later one wins key by key. */
#ifndef KTSTR_CHECKS_CFG_H
#define KTSTR_CHECKS_CFG_H
#include <stdbool.h>
#include "err.h"
#include "farm.pb-c.h"
#include "scenario.h"
#include "yamlx.h"

enum kt_check_key {
	KT_CK_NOT_STARVED,
	KT_CK_MAX_GAP_MS,
	KT_CK_MAX_SPREAD,
	KT_CK_SPREAD_WARMUP_MS,
	KT_CK_ISOLATION,
	KT_CK_MAX_THROUGHPUT_CV,
	KT_CK_MIN_WORK_RATE,
	KT_CK_MAX_P99_WAKE_US,
	KT_CK_MAX_WAKE_CV,
	KT_CK_MAX_MIGRATION_RATIO,
	KT_CK_N
};

/* The keys given at one level; has[k] says whether key k was given, and
 * its value sits in the field of v it names (other fields are unused). */
struct kt_checks_over {
	bool has[KT_CK_N];
	struct kt_checks_cfg v;
};

/* "max_gap_ms" for KT_CK_MAX_GAP_MS; NULL out of range. */
const char *kt_checks_key_name(enum kt_check_key k);

/* Parse the `checks:` mapping N at PATH into O (cleared first). Errors go
 * through C: "FILE:LINE: PATH.KEY: what is wrong". */
int kt_checks_yaml(struct kt_yx *c, const yaml_node_t *n, const char *path,
		   struct kt_checks_over *o);

/* kt_checks_yaml, then kt_checks_over_apply onto CFG. */
int kt_checks_yaml_cfg(struct kt_yx *c, const yaml_node_t *n, const char *path,
		       struct kt_checks_cfg *cfg);

/* One "KEY=VALUE" (ktstr-run --check) added to O; values as in YAML. */
int kt_checks_over_kv(struct kt_checks_over *o, const char *kv, struct kt_err *err);

/* Copy the keys O has into C. */
void kt_checks_over_apply(const struct kt_checks_over *o, struct kt_checks_cfg *c);

/* Add the keys SRC has to DST, SRC's winning: merge(scheduler, test). */
void kt_checks_over_merge(struct kt_checks_over *dst, const struct kt_checks_over *src);

/* Set PB's fields (PB initialised by the caller) from O. */
void kt_checks_over_to_pb(const struct kt_checks_over *o, Ktstr__CheckOverrides *pb);

/* O from PB (NULL: nothing given), refusing values out of range, e.g.
 * "checks.max_spread 101: expected 0 to 100": a CheckOverrides comes over
 * the network. */
int kt_checks_over_from_pb(const Ktstr__CheckOverrides *pb, struct kt_checks_over *o,
			   struct kt_err *err);

#endif
