/* The farm's history in one SQLite file (WAL): runs, entries, attempts,
 * results with their checks, per-worker telemetry and console tails,
 * workers, kernels and artifacts. Schema and migrations: schema.h.
 *
 * One writer, the coordinator: it keeps its queue in memory and writes
 * every change through, batching an event-loop iteration's writes between
 * kt_store_begin() and kt_store_commit() (without them every call is its
 * own transaction). Results are keyed by (entry, attempt) and stored once:
 * a worker that resends an outcome after a coordinator restart changes
 * nothing. On restart kt_store_load_unfinished() hands back every run that
 * was not finished, with all its entries.
 *
 * Readers (ktstr-query) open the file read-only and see a consistent
 * snapshot while the coordinator writes.
 *
 * Conventions: functions return 0 (or a count / a found flag where stated)
 * and -1 with ERR filled; timestamps are unix ms passed in by the caller
 * (NOW), so tests control time; a struct kt_store is used by one thread.
 * Text from workers is untrusted: bounded (longer text is cut, a console
 * keeps its tail) and validated (statuses) before it is stored. */
#ifndef KTSTR_DB_STORE_H
#define KTSTR_DB_STORE_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "farm.pb-c.h"

/* Bounds for text from outside; longer text is cut to this many bytes. */
#define KT_STORE_MAX_MESSAGE (4 << 10)
#define KT_STORE_MAX_CONSOLE (64 << 10)  /* console tail: the last bytes */
#define KT_STORE_MAX_LOGS (64 << 10)     /* log lines joined, the first bytes */
#define KT_STORE_MAX_NAME 256            /* ids, names, labels */
#define KT_STORE_MAX_CHECKS 256          /* checks per outcome, rest dropped */
#define KT_STORE_MAX_WORKERS 4096        /* worker stats rows per outcome */
#define KT_STORE_MAX_DUMP (4u << 20)     /* a dump's or snapshot's JSON: stored
					  * whole or not at all (a note says why) */
#define KT_STORE_MAX_KDUMP (256 << 10)   /* the kernel's sched_ext dump, first bytes */
#define KT_STORE_MAX_SNAPSHOTS 64        /* snapshots per outcome, rest dropped */
/* Bounds for what the coordinator itself passes in; more is an error. */
#define KT_STORE_MAX_YAML (16 << 20)
#define KT_STORE_MAX_BLOB (1 << 20)      /* a packed Assignment */

/* The state of a run or an entry. */
enum kt_state { KT_STATE_QUEUED, KT_STATE_RUNNING, KT_STATE_DONE, KT_STATE_CANCELLED };

const char *kt_state_name(enum kt_state s);

struct kt_store;

/* Open PATH. Read-write creates the file if needed, turns on WAL (kept on
 * close, so readers without write access to the directory can open it),
 * synchronous=FULL (a commit survives power loss: the coordinator acks an
 * outcome after its commit, and the worker then forgets it), foreign keys
 * and a busy timeout, and migrates to the current schema. Read-only never
 * writes: the file must exist and carry exactly the current schema
 * version, else a message says which way it is off. */
int kt_store_open(const char *path, bool readonly, struct kt_store **out, struct kt_err *err);
void kt_store_close(struct kt_store *s);

/* The connection, for read queries (query.h) and tests. */
sqlite3 *kt_store_db(struct kt_store *s);

/* One transaction around many writes (BEGIN IMMEDIATE ... COMMIT). Not
 * nested. After a failed write inside it, roll back: the coordinator's
 * in-memory state and the store must not drift apart. */
int kt_store_begin(struct kt_store *s, struct kt_err *err);
int kt_store_commit(struct kt_store *s, struct kt_err *err);
int kt_store_rollback(struct kt_store *s, struct kt_err *err);

/* ---- runs ---- */

struct kt_store_run {
	uint64_t id;
	const char *name;
	int32_t priority;
	const char *matrix_yaml;
	uint64_t submitted_at;
	uint64_t finished_at;       /* 0 while not finished */
	enum kt_state state;
	uint64_t last_finish_seq;   /* loads: largest finish_seq of its entries */
};

/* A new run, state queued, into *RUN_ID. */
int kt_store_run_create(struct kt_store *s, const char *name, int32_t priority,
			const char *matrix_yaml, uint64_t now, uint64_t *run_id,
			struct kt_err *err);

/* Set a run's state; done and cancelled stamp finished_at with NOW. */
int kt_store_run_state(struct kt_store *s, uint64_t run_id, enum kt_state state, uint64_t now,
		       struct kt_err *err);

/* ---- entries and attempts ---- */

/* What changes over an entry's life; kt_store_entry_update() writes it. */
struct kt_store_progress {
	enum kt_state state;
	uint32_t attempt;           /* last attempt handed out, 0 = none yet */
	uint32_t infra_tries;       /* attempts that ended infra */
	const char *final_status;   /* once done: pass fail error infra skip */
	const char *final_message;  /* may be NULL */
	uint64_t finish_seq;        /* the coordinator's finish order, 0 = none */
	uint64_t finished_at;       /* loads only: when it became done/cancelled */
};

struct kt_store_entry {
	uint64_t id;                /* loads; kt_store_entry_add() ignores it */
	uint64_t run_id;
	uint32_t seq;               /* position in the run, unique per run */
	const char *name;           /* test/topology/scheduler:profile/kernel */
	const char *test;
	const char *scenario;
	const char *topology;
	const char *scheduler;
	const char *profile;
	const char *kernel_label;
	const char *kernel_sha;
	int32_t priority;
	uint32_t vcpus;
	uint64_t memory_mb;
	const void *assignment;     /* the packed ktstr.Assignment template */
	size_t assignment_len;
	struct kt_store_progress p; /* loads; kt_store_entry_add() stores queued */
	const char *attempt_worker; /* loads: worker of the open attempt or NULL */
};

/* Add E (state queued, attempt 0) to its run; its id into *ENTRY_ID. All
 * text fields are required and at most KT_STORE_MAX_NAME bytes. */
int kt_store_entry_add(struct kt_store *s, const struct kt_store_entry *e, uint64_t *entry_id,
		       struct kt_err *err);

/* Write P for entry ENTRY_ID; a done entry needs a final status. finished_at
 * becomes NOW when P->state is done or cancelled, NULL otherwise (an entry
 * put back in the queue). */
int kt_store_entry_update(struct kt_store *s, uint64_t entry_id, const struct kt_store_progress *p,
			  uint64_t now, struct kt_err *err);

/* Attempt ATTEMPT of ENTRY_ID went to WORKER_ID at NOW. */
int kt_store_attempt_begin(struct kt_store *s, uint64_t entry_id, uint32_t attempt,
			   const char *worker_id, uint64_t now, struct kt_err *err);
/* It ended at NOW: "outcome", "worker lost", "cancelled", "handed back". */
int kt_store_attempt_end(struct kt_store *s, uint64_t entry_id, uint32_t attempt,
			 const char *reason, uint64_t now, struct kt_err *err);

/* ---- results ---- */

/* Store the outcome O of one attempt, atomically: the result row with its
 * failure signature (signature.h; the scheduler's exit kind and reason,
 * or its failure when the kernel gave no exit kind), checks, one row per
 * worker of O->result, console tail and logs, and from O->result the
 * scheduler state, the failure dump (with the kernel's sched_ext dump and
 * log tail) and the snapshots. Returns 1 when stored, 0 when that
 * (entry, attempt) was stored before (nothing changes: outcomes are
 * idempotent), -1 on error (bad status, unknown entry, SQLite). */
int kt_store_outcome(struct kt_store *s, const Ktstr__EntryOutcome *o, uint64_t now,
		     struct kt_err *err);

/* ---- workers, kernels, artifacts ---- */

/* Record a worker's hello: inserted on first sight, refreshed after. */
int kt_store_worker_seen(struct kt_store *s, const Ktstr__WorkerHello *h, uint64_t now,
			 struct kt_err *err);

/* A kernel image by content; has_sched_ext / has_btf: 1, 0, -1 unknown. */
int kt_store_kernel_put(struct kt_store *s, const char *sha256, const char *version,
			const char *source, uint64_t size, int has_sched_ext, int has_btf,
			struct kt_err *err);

/* An artifact by content and where the coordinator keeps its bytes; a
 * second put of the same sha256 updates kind, name, size and path. */
int kt_store_artifact_put(struct kt_store *s, const char *sha256, const char *kind,
			  const char *name, uint64_t size, const char *path, struct kt_err *err);
/* Its path into PATH (LEN bytes) and size into *SIZE. Returns 1 when
 * known, 0 when not, -1 on error (also when the path does not fit). */
int kt_store_artifact_get(struct kt_store *s, const char *sha256, char *path, size_t len,
			  uint64_t *size, struct kt_err *err);

/* ---- the coordinator's restart ---- */

/* Callbacks of kt_store_load_unfinished(). Pointers in the structs are
 * valid during the call only. A callback returning -1 (ERR filled) stops
 * the load. Callbacks must not write to the store. */
struct kt_store_loader {
	int (*run)(void *ctx, const struct kt_store_run *r, struct kt_err *err);
	int (*entry)(void *ctx, const struct kt_store_entry *e, struct kt_err *err);
	void *ctx;
};

/* Every run that is queued or running, in id order, each followed by all
 * its entries (whatever their state) in seq order. */
int kt_store_load_unfinished(struct kt_store *s, const struct kt_store_loader *l,
			     struct kt_err *err);

struct kt_store_run_status {
	uint64_t id;
	char name[KT_STORE_MAX_NAME + 1];
	enum kt_state state;
	uint64_t submitted_at;
	uint64_t finished_at;       /* 0 while not finished */
	uint32_t total, queued, running, cancelled;
	uint32_t pass, fail, error, infra, skip; /* done entries by final status */
};

/* The counts of run RUN_ID into *OUT. Returns 1 when the run exists, 0
 * when not, -1 on error. */
int kt_store_run_status(struct kt_store *s, uint64_t run_id, struct kt_store_run_status *out,
			struct kt_err *err);

#endif
