/* ktstr-query's answers: read-only SQL over the store, returned as a report
 * of named sections that prints as an aligned table, JSON or CSV.
 *
 * A section is a table (rows of named columns), a record (one row: a JSON
 * object, "key: value" lines in a table) or a text block (a console tail).
 * A report of one table prints in JSON as a bare array of objects; a report
 * of several sections as an object keyed by section name.
 *
 * Columns named *_at are unix-ms timestamps: integers in JSON and CSV, UTC
 * "YYYY-MM-DD HH:MM:SS" in tables. Tables print text from workers and
 * guests with non-printable bytes as '?' and long cells cut; JSON and CSV
 * carry it whole (invalid UTF-8 becomes '?' so the JSON stays valid). */
#ifndef KTSTR_DB_QUERY_H
#define KTSTR_DB_QUERY_H
#include <stdint.h>
#include <stdio.h>
#include "err.h"
#include "store.h"

enum kt_qfmt { KT_QFMT_TABLE, KT_QFMT_JSON, KT_QFMT_CSV };

/* Filters; NULL / 0 = not filtered. Each query documents which apply;
 * the queries that take a filter need one (all zero = everything). */
struct kt_qfilter {
	uint64_t since;          /* unix ms: leave out what happened before */
	const char *kernel;      /* a kernel label, or a prefix of its sha256 */
	const char *scheduler;   /* "scx_x" (any profile) or "scx_x:profile" */
	const char *test;
	const char *topology;
	uint32_t limit;          /* at most this many rows */
};

struct kt_qreport;

/* The queries return 0 with *OUT set, 1 when the thing asked about does
 * not exist (*OUT NULL; ERR says what), -1 on error. */

/* runs: newest first, with entry counts by outcome. since (submitted),
 * limit. */
int kt_query_runs(struct kt_store *s, const struct kt_qfilter *f, struct kt_qreport **out,
		  struct kt_err *err);

/* failures: results with status fail or error, newest first, with their
 * signature. All filters; since applies to when the result was stored. */
int kt_query_failures(struct kt_store *s, const struct kt_qfilter *f, struct kt_qreport **out,
		      struct kt_err *err);

/* failures --group: the same failures grouped by signature (exit kind +
 * reason + failing check, signature.h), most frequent first: occurrences,
 * distinct entries, tests, kernels and schedulers, first and last time,
 * and the latest entry's name. The filters of failures. */
int kt_query_failure_groups(struct kt_store *s, const struct kt_qfilter *f,
			    struct kt_qreport **out, struct kt_err *err);

/* history TEST: per kernel, scheduler:profile and topology, counts by final
 * status and the last 20 statuses in time order as letters ("PPFP": pass
 * fail error infra skip = P F E I S). since (finished), kernel, scheduler,
 * topology. 1 when TEST has no finished entries. */
int kt_query_history(struct kt_store *s, const char *test, const struct kt_qfilter *f,
		     struct kt_qreport **out, struct kt_err *err);

/* show ENTRY: by id, or by exact name (the latest entry of that name).
 * Sections: entry (with its latest stored result), attempts, checks,
 * workers (per-worker stats), scheduler (its state, whether a dump was
 * stored), snapshots, console (tail), logs. 1 when unknown. */
int kt_query_show(struct kt_store *s, const char *entry, struct kt_qreport **out,
		  struct kt_err *err);

/* stats: totals, entries by status, results by status, workers, kernels,
 * failure signatures with occurrence counts. since applies to results and
 * signatures. */
int kt_query_stats(struct kt_store *s, const struct kt_qfilter *f, struct kt_qreport **out,
		   struct kt_err *err);

/* flaky: entry names whose finished entries disagree across runs (pass
 * and fail/error). since (finished), kernel, scheduler, test, topology,
 * limit. */
int kt_query_flaky(struct kt_store *s, const struct kt_qfilter *f, struct kt_qreport **out,
		   struct kt_err *err);

/* ENTRY as an id (all digits) or an exact name (the latest entry of that
 * name) into *ID; 1 when unknown (ERR says so). */
int kt_query_entry_id(struct kt_store *s, const char *entry, int64_t *id, struct kt_err *err);

void kt_qreport_print(const struct kt_qreport *r, enum kt_qfmt fmt, FILE *f);
void kt_qreport_free(struct kt_qreport *r);

/* For tests and callers that inspect a report: the row count of SECTION
 * (NULL = the first), and the text of a cell (NULL for a SQL NULL, an
 * unknown section, row or column). */
size_t kt_qreport_rows(const struct kt_qreport *r, const char *section);
const char *kt_qreport_cell(const struct kt_qreport *r, const char *section, size_t row,
			    const char *col);

/* A duration "7d", "12h", "30m", "45s" or "2w" into *MS; positive, at
 * most ten years. */
int kt_since_parse(const char *s, uint64_t *ms, struct kt_err *err);

#endif
