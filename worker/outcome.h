/* One attempt's outcome as the farm carries it: a packed ktstr.EntryOutcome
 * (proto/farm.proto). The worker's entry child packs it and writes it to the
 * parent; the parent keeps it until the coordinator acknowledges it. Packed
 * bytes are the unit because they cross a process boundary and a disk.
 *
 * Status names come from kt_status_name() (entry.h) alone. */
#ifndef KTSTR_OUTCOME_H
#define KTSTR_OUTCOME_H
#include <stddef.h>
#include <stdint.h>
#include "entry.h"
#include "err.h"
#include "farm.pb-c.h"

/* Largest packed outcome. A result larger than this (thousands of workers
 * with long CPU lists) is sent without its per-worker telemetry, saying so
 * in its logs, so that it fits a FarmMsg with room to spare. */
#define KT_OUTCOME_MAX (4u << 20)

/* Who ran which attempt, and when (unix ms, worker clock). */
struct kt_outcome_meta {
	uint64_t entry_id;
	uint32_t attempt;
	const char *worker_id;
	uint64_t started_at, ended_at;
};

/* The outcome of a finished kt_entry_run() R, packed into a malloc'd *BUF
 * of *LEN bytes (at most KT_OUTCOME_MAX). */
int kt_outcome_pack_result(const struct kt_outcome_meta *m, const struct kt_entry_result *r,
			   uint8_t **buf, size_t *len, struct kt_err *err);

/* An outcome that carries only a status and MESSAGE: entries the worker
 * decided without a guest (skip, a missing artifact, a dead child). */
int kt_outcome_pack_status(const struct kt_outcome_meta *m, enum kt_status s,
			   const char *message, uint8_t **buf, size_t *len, struct kt_err *err);

/* Unpack and validate LEN bytes: at most KT_OUTCOME_MAX, a known status,
 * and the required fields. Free with ktstr__entry_outcome__free_unpacked. */
int kt_outcome_unpack(const uint8_t *buf, size_t len, Ktstr__EntryOutcome **out,
		      struct kt_err *err);

/* NAME ("pass", ...) to a status; -1 for a name kt_status_name never gives. */
int kt_outcome_status_parse(const char *name, enum kt_status *out);

#endif
