/* The farm database's schema and its migrations. PRAGMA user_version holds
 * the schema version; version N is reached from N-1 by one migration step,
 * so every database, empty or old, walks the same path:
 *
 *   v1  base: runs, entries, attempts, results, checks, worker_stats,
 *       consoles, workers, kernels, artifacts
 *   v2  failure signatures: results gain signature, failed_check,
 *       scenario_kind, scx_exit_kind, scx_reason (+ an index on signature);
 *       signatures of existing rows are computed from status and the
 *       first failed check (v1 did not keep the scenario kind); an index
 *       of each run's entries in finish order
 *   v3  schedulers under test: schedulers (per result: name, enabled,
 *       failure, exit kind, reason, message, exit status, output), dumps
 *       (failure dump JSON, the kernel's sched_ext dump, kernel log
 *       tail), snapshots (name, JSON or error, at_ms); results that v2
 *       stored with an exit kind get a scheduler row
 *
 * A new version appends one step here; earlier steps never change. */
#ifndef KTSTR_DB_SCHEMA_H
#define KTSTR_DB_SCHEMA_H
#include <sqlite3.h>
#include "err.h"

#define KT_SCHEMA_VERSION 3

/* The v1 DDL, exactly as the v1 step creates it: tests build a "previous
 * version" database from it. */
extern const char kt_schema_v1_sql[];

/* The database's user_version into *VERSION. */
int kt_schema_version(sqlite3 *db, int *version, struct kt_err *err);

/* Bring DB to KT_SCHEMA_VERSION inside one BEGIN IMMEDIATE transaction:
 * nothing changes unless every step succeeds. Refuses a database that is
 * newer than this build, or that has tables but no version (not ours). */
int kt_schema_migrate(sqlite3 *db, struct kt_err *err);

#endif
