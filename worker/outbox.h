/* The worker's outbox: finished outcomes the coordinator has not yet
 * acknowledged (OutcomeAck). A result must never be lost, so an outcome
 * stays here, and on disk, until it is acked: across coordinator restarts
 * (resent in WorkerHello.unacked and periodically) and across worker
 * restarts (reloaded at start from DIR/<entry_id>-<attempt>.pb). */
#ifndef KTSTR_OUTBOX_H
#define KTSTR_OUTBOX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "farm.pb-c.h"

struct kt_outbox;

/* Open the outbox kept in DIR (created when missing; NULL = memory only)
 * and load what an earlier run left there. A file that does not hold a
 * valid outcome is renamed to *.bad and counted in *BAD (may be NULL). */
int kt_outbox_open(const char *dir, struct kt_outbox **out, size_t *bad, struct kt_err *err);
void kt_outbox_free(struct kt_outbox *ob);

/* Keep the packed outcome BUF (LEN bytes) after kt_outcome_unpack has
 * validated it; *KEPT (may be NULL) points to it. It replaces an outcome
 * kept for the same ref and is due for sending at once. Returns 0 when it
 * is also on disk; 1 when it is kept in memory only (the write failed, ERR
 * says why: it survives coordinator restarts, not a worker restart); -1
 * when it is not valid (not kept). */
int kt_outbox_add(struct kt_outbox *ob, const uint8_t *buf, size_t len,
		  const Ktstr__EntryOutcome **kept, struct kt_err *err);

/* Forget the outcome of ENTRY_ID/ATTEMPT (acked, or its entry cancelled);
 * false when none was kept. */
bool kt_outbox_ack(struct kt_outbox *ob, uint64_t entry_id, uint32_t attempt);
bool kt_outbox_has(const struct kt_outbox *ob, uint64_t entry_id, uint32_t attempt);
size_t kt_outbox_count(const struct kt_outbox *ob);

/* Pick outcomes to send now, oldest first: up to MAX into OUT whose packed
 * sizes add up to at most BUDGET bytes (a single outcome is at most
 * KT_OUTCOME_MAX, so a budget of that always takes one). With DUE_ONLY,
 * only those whose resend time NOW has reached; without, any (for a
 * WorkerHello). Each picked one is due again at NOW + RETRY_MS. The
 * pointers stay valid until the outcome is acked or the outbox freed. */
size_t kt_outbox_pick(struct kt_outbox *ob, bool due_only, uint64_t now, uint64_t retry_ms,
		      size_t budget, Ktstr__EntryOutcome **out, size_t max);

#endif
