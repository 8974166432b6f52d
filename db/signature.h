/* Failure signatures: a stable key per kind of failure, so the same bug
 * across 40 entries is one row with 40 occurrences. Built from what does
 * not vary between occurrences (no numbers from messages):
 *
 *   STATUS[/kind=SCENARIO_KIND][/scx=EXIT_KIND:REASON][/check=CHECK]
 *
 * e.g. "fail/check=not_starved.gap", "fail/kind=watchdog",
 * "error/kind=scenario_error", "infra". Passes and skips have none. */
#ifndef KTSTR_DB_SIGNATURE_H
#define KTSTR_DB_SIGNATURE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KT_SIGNATURE_MAX 256

/* The signature of a result into BUF (LEN bytes; truncated to fit).
 * SCENARIO_KIND ("watchdog"; NULL or "" or "completed" = none), SCX_KIND
 * (sched_ext exit kind) with SCX_REASON ("scx=1026:runnable task stall"),
 * or with SCX_KIND 0 a non-empty SCX_REASON alone: how a scheduler failed
 * when the kernel gave no exit kind ("scx=crash", "scx=verifier"), and
 * FAILED_CHECK (the first failed check's name, NULL = none). Returns false, BUF "", when
 * STATUS has no signature (pass, skip). */
bool kt_signature(const char *status, const char *scenario_kind, int64_t scx_kind,
		  const char *scx_reason, const char *failed_check, char *buf, size_t len);

/* Whether S is one of the result statuses: pass fail error infra skip. */
bool kt_status_valid(const char *s);

#endif
