/* ktstr-query dump: a failure dump or a snapshot of one entry, read from
 * the store (schema v3: dumps, snapshots, schedulers) and printed readably:
 * the JSON of guest/mapdump.h walked through SQLite's json_tree, so a
 * malformed text from a guest is an error, never a crash. The path lookup
 * (--var) is common/dump.h's, on kt_qdump.json. */
#ifndef KTSTR_DB_QDUMP_H
#define KTSTR_DB_QDUMP_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "err.h"
#include "store.h"

/* dump ENTRY [--snapshot NAME]: the failure dump of ENTRY (an id or an
 * exact name, as show takes it) from its latest attempt that stored one,
 * or the snapshot NAME from its latest attempt that took one. */
struct kt_qdump {
	int64_t entry_id;
	uint32_t attempt;
	char *entry;         /* the entry's name */
	char *snapshot;      /* NULL: the failure dump */
	char *json;          /* the dump (or snapshot) JSON; NULL when not stored */
	char *note;          /* why json is NULL (over the bound, a failed capture) */
	uint64_t at_ms;      /* snapshots: when, since the scenario started */
	/* the scheduler's state on that attempt (NULL / 0 when none) */
	char *sched, *failure, *reason, *message;
	int64_t exit_kind;
	bool enabled;
	char *kernel_dump, *klog_tail; /* failure dumps only */
};

/* Returns 0 with *OUT set; 1 when the entry, a dump or the snapshot does
 * not exist (ERR names what was not found: for a snapshot, with the
 * names that do exist); -1 on error. */
int kt_query_dump(struct kt_store *s, const char *entry, const char *snapshot,
		  struct kt_qdump **out, struct kt_err *err);
void kt_qdump_free(struct kt_qdump *d);

/* D readably to F: a header (entry, attempt, scheduler state), then map by
 * map the typed value trees as indented "name = value" lines, errors the
 * dump recorded, the kernel's sched_ext dump and the log tail. Untrusted
 * text is printed with non-printable bytes as '?'. -1 (ERR) when the
 * JSON is not valid JSON. */
int kt_qdump_print(struct kt_store *s, const struct kt_qdump *d, FILE *f, struct kt_err *err);

#endif
