/* The attempt state machine of one test entry, as a pure function: the
 * coordinator feeds it every event about an entry and does what it answers.
 * Keeping the rules here, away from sockets and SQL, makes them testable
 * one transition at a time.
 *
 *   QUEUED --ASSIGN--> RUNNING (attempt + 1)
 *   RUNNING --OUTCOME pass/fail/error/skip--> DONE (never retried: a failure
 *            is the scheduler's or the test's, and retrying would hide it)
 *   RUNNING --OUTCOME infra / WORKER_LOST--> QUEUED, infra_tries + 1; the
 *            KT_RETRY_MAX_INFRA-th such try ends in DONE infra instead
 *   RUNNING --HAND_BACK--> QUEUED (a draining worker gave it back; not the
 *            entry's fault, so it does not count as an infra try)
 *   QUEUED or RUNNING --CANCEL--> CANCELLED
 *
 * An OUTCOME, WORKER_LOST or HAND_BACK that names another attempt than the
 * running one is stale (a lost worker came back, an outcome was resent
 * because its ack was lost) and changes nothing. Events on DONE and
 * CANCELLED entries change nothing either. */
#ifndef KTSTR_RETRY_H
#define KTSTR_RETRY_H
#include "entry.h" /* enum kt_status: the status ladder pass .. skip */

/* Infra outcomes and worker losses an entry gets before it is recorded
 * `infra` for good. */
#define KT_RETRY_MAX_INFRA 3

enum kt_entry_state {
	KT_ENTRY_QUEUED,
	KT_ENTRY_RUNNING,
	KT_ENTRY_DONE,
	KT_ENTRY_CANCELLED,
};

/* One entry's state; all zero = queued, never assigned. */
struct kt_retry {
	enum kt_entry_state state;
	unsigned attempt;     /* the current (RUNNING) or last attempt; 0 = never assigned */
	unsigned infra_tries; /* infra outcomes + worker losses so far */
	enum kt_status status; /* the final status, when DONE */
};

enum kt_retry_ev {
	KT_EV_ASSIGN,      /* placement gave it to a worker */
	KT_EV_OUTCOME,     /* a worker reported attempt's status */
	KT_EV_WORKER_LOST, /* attempt's worker missed its heartbeats */
	KT_EV_HAND_BACK,   /* attempt's draining worker gave it back */
	KT_EV_CANCEL,      /* the run was cancelled */
};

struct kt_retry_event {
	enum kt_retry_ev kind;
	unsigned attempt;      /* OUTCOME, WORKER_LOST, HAND_BACK */
	enum kt_status status; /* OUTCOME */
};

/* What the caller must do after an event. */
enum kt_retry_do {
	KT_DO_NOTHING, /* ignore it (an event that does not apply, see below) */
	KT_DO_ASSIGN,  /* send attempt R->attempt to the worker */
	KT_DO_FINISH,  /* store the attempt's outcome; the entry is DONE with
			* R->status (for a loss: infra "worker lost") */
	KT_DO_REQUEUE, /* store the attempt's end (infra outcome; for a loss
			* infra "worker lost"; for a hand back nothing counted)
			* and put the entry back in the queue */
	KT_DO_STALE,   /* an outcome of an attempt that no longer runs (or a
			* resent one): store it by (entry, attempt), which is
			* idempotent, and change nothing else */
	KT_DO_DEQUEUE, /* cancelled while queued: take it out of the queue */
	KT_DO_CANCEL,  /* cancelled while running: tell the worker running
			* attempt R->attempt to stop it */
};

/* Apply EV to R and say what to do. KT_DO_NOTHING answers: ASSIGN when not
 * QUEUED, CANCEL when DONE or CANCELLED, a stale WORKER_LOST or HAND_BACK,
 * any event naming attempt 0 or an attempt never assigned (attempt >
 * R->attempt: a confused or hostile worker), and an OUTCOME whose status is
 * not one of enum kt_status. An OUTCOME with a valid attempt that does not
 * apply answers KT_DO_STALE, whatever the state. The caller acknowledges
 * every outcome it received, whatever the answer, so that a worker stops
 * resending it. */
enum kt_retry_do kt_retry_step(struct kt_retry *r, const struct kt_retry_event *ev);

/* "queued", "running", "done", "cancelled" (for storage and messages). */
const char *kt_entry_state_name(enum kt_entry_state s);

#endif
