#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include "catalog.h"
#include "coord.h"
#include "farm_msg.h"
#include "kernel_cache.h"
#include "costs.h"
#include "matrix.h"
#include "outcome.h"
#include "placement.h"
#include "retry.h"
#include "scenario.h"
#include "sha256.h"
#include "store.h"
#include "util.h"

#define MAX_MSGS_PER_ROUND 4096 /* bounded work per loop iteration */
#define WATCH_MAX_BRIEFS 512
#define BUILTIN_SCX "scx-ktstr" /* the workers' own scheduler (matrix.c, farm_worker.h) */

/* A worker that said hello. */
struct cworker {
	struct kt_farm_peer peer;
	char id[KT_STORE_MAX_NAME + 1];
	char accel[16], arch[32];
	struct kt_strv tags;
	unsigned vcpus_budget, vcpus_used;
	uint64_t mem_budget, mem_used;
	uint64_t last_seen;
	uint64_t hold_until;    /* no placement before: it just handed one back */
	bool alive, accepting;
	bool has_scx_ktstr;     /* Hello's; true when it did not say */
};

/* An entry of an unfinished run. */
struct centry {
	uint64_t id, run_id;
	uint32_t seq;
	int32_t priority;
	unsigned vcpus;
	uint64_t mem_mb;
	char *name;
	struct kt_retry r;
	int worker;             /* index while running, -1 otherwise */
	char *claim;            /* after a restart: the worker that ran it */
	uint8_t *tmpl;          /* packed Assignment (ref set per attempt) */
	size_t tmpl_len;
	char *need_accel;
	struct kt_strv tags;
	bool needs_scx_ktstr;   /* the built-in scheduler, no binary */
	uint64_t finish_seq;
	uint64_t sent_at;       /* monotonic ms of the last Assignment sent */
	uint64_t stuck_since;   /* monotonic ms since no live worker could take it */
};

static void send_assignment(struct kt_coord *c, struct centry *e, int wi);

/* A message to send once the transaction open when it was made commits. */
struct pending {
	void *sock;
	struct kt_farm_peer peer;
	uint8_t *buf;           /* the packed FarmMsg */
	size_t len;
	bool ack;               /* an OutcomeAck: never sent for an undone write */
};

struct crun {
	uint64_t id;
	char *name;
	uint64_t submitted_at, started_at;
	unsigned total, open, running;
	bool cancelled;
};

struct kt_coord {
	struct kt_coord_opts o;
	struct kt_store *store;
	void *zctx, *wsock, *csock;
	char coord_id[40];
	unsigned hb_ms;
	struct cworker *workers;
	size_t n_workers;
	struct centry *entries; /* ascending id */
	size_t n_entries, cap_entries;
	struct crun *runs;
	size_t n_runs;
	uint64_t finish_seq;
	uint64_t grace_until;   /* restart: claims are honoured until then */
	bool in_tx, place_dirty;
	bool fatal;             /* a commit failed: memory and SQLite disagree */
	struct kt_err txerr;
	/* What the loop sends while a transaction is open waits here: no
	 * peer hears of a state (an acked outcome, an assigned attempt)
	 * before it is durable. */
	struct pending *pend;
	size_t n_pend, cap_pend;
};

static void coord_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void coord_log(const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "ktstr-coordinator %02d:%02d:%02d.%03ld ", tm.tm_hour, tm.tm_min,
		tm.tm_sec, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes of one loop iteration share a transaction. */
static void tx(struct kt_coord *c)
{
	if (c->in_tx)
		return;
	if (kt_store_begin(c->store, &c->txerr) == 0)
		c->in_tx = true;
	else
		coord_log("store: %s", c->txerr.msg);
}

static void send_now(void *sock, const struct kt_farm_peer *p, const Ktstr__FarmMsg *m)
{
	struct kt_err e;

	if (kt_farm_send(sock, p->id, p->len, m, &e)) {
		char name[64];

		kt_farm_peer_name(p, name, sizeof(name));
		coord_log("send %s to %s: %s", kt_farm_body_name(m->body_case), name, e.msg);
	}
}

/* The transaction is over: send what waited for it. After a failed
 * commit (or a rollback) the acks stay unsent: the worker resends the
 * outcome, which is then stored again. */
static void flush_pending(struct kt_coord *c, bool committed)
{
	struct kt_err e;

	for (size_t i = 0; i < c->n_pend; i++) {
		struct pending *q = &c->pend[i];

		if ((committed || !q->ack) &&
		    kt_farm_send_packed(q->sock, q->peer.id, q->peer.len, q->buf, q->len, &e)) {
			char name[64];

			kt_farm_peer_name(&q->peer, name, sizeof(name));
			coord_log("send to %s: %s", name, e.msg);
		}
		free(q->buf);
	}
	c->n_pend = 0;
}

static void tx_end(struct kt_coord *c)
{
	bool committed = true;

	if (c->in_tx) {
		if (kt_store_commit(c->store, &c->txerr)) {
			/* Memory now says what SQLite does not: stop, and let
			 * the restart reload the truth from the database. */
			coord_log("store: commit: %s: stopping", c->txerr.msg);
			committed = false;
			c->fatal = true;
		}
		c->in_tx = false;
	}
	flush_pending(c, committed);
}

/* ---- lookups ---- */

static struct centry *entry_by_id(struct kt_coord *c, uint64_t id)
{
	size_t lo = 0, hi = c->n_entries;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->entries[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->n_entries && c->entries[lo].id == id ? &c->entries[lo] : NULL;
}

static struct crun *run_by_id(struct kt_coord *c, uint64_t id)
{
	for (size_t i = 0; i < c->n_runs; i++)
		if (c->runs[i].id == id)
			return &c->runs[i];
	return NULL;
}

static int worker_by_peer(struct kt_coord *c, const struct kt_farm_peer *p)
{
	for (size_t i = 0; i < c->n_workers; i++)
		if (c->workers[i].alive && c->workers[i].peer.len == p->len &&
		    memcmp(c->workers[i].peer.id, p->id, p->len) == 0)
			return (int)i;
	return -1;
}

static int worker_by_id(struct kt_coord *c, const char *id)
{
	for (size_t i = 0; i < c->n_workers; i++)
		if (strcmp(c->workers[i].id, id) == 0)
			return (int)i;
	return -1;
}

static struct centry *add_entry(struct kt_coord *c)
{
	struct centry *e;

	if (c->n_entries == c->cap_entries) {
		c->cap_entries = c->cap_entries ? 2 * c->cap_entries : 1024;
		c->entries = kt_xrealloc(c->entries, c->cap_entries * sizeof(*c->entries));
	}
	e = &c->entries[c->n_entries++];
	memset(e, 0, sizeof(*e));
	e->worker = -1;
	kt_strv_init(&e->tags);
	return e;
}

static void entry_release(struct centry *e)
{
	free(e->name);
	free(e->claim);
	free(e->tmpl);
	free(e->need_accel);
	kt_strv_free(&e->tags);
	e->name = e->claim = e->need_accel = NULL;
	e->tmpl = NULL;
}

/* ---- sending ---- */

/* Send M to P now, or after the open transaction commits. */
static void send_to(struct kt_coord *c, void *sock, const struct kt_farm_peer *p,
		    Ktstr__FarmMsg *m)
{
	struct pending *q;
	struct kt_err e;
	uint8_t *buf;
	size_t len;

	if (!c->in_tx) {
		send_now(sock, p, m);
		return;
	}
	if (kt_farm_pack(m, &buf, &len, &e)) {
		coord_log("%s", e.msg);
		return;
	}
	if (c->n_pend == c->cap_pend) {
		c->cap_pend = c->cap_pend ? 2 * c->cap_pend : 64;
		c->pend = kt_xrealloc(c->pend, c->cap_pend * sizeof(*c->pend));
	}
	q = &c->pend[c->n_pend++];
	q->sock = sock;
	q->peer = *p;
	q->buf = buf;
	q->len = len;
	q->ack = m->body_case == KTSTR__FARM_MSG__BODY_OUTCOME_ACK;
}

static void send_error(struct kt_coord *c, const struct kt_farm_peer *p, const char *msg)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__ErrorReply er = KTSTR__ERROR_REPLY__INIT;

	er.message = (char *)msg;
	m.body_case = KTSTR__FARM_MSG__BODY_ERROR;
	m.error = &er;
	send_to(c, c->csock, p, &m);
}

/* NEEDED: not an answer to a hello but a request for one. */
static void send_hello_ack(struct kt_coord *c, const struct kt_farm_peer *p, bool needed)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__HelloAck a = KTSTR__HELLO_ACK__INIT;

	a.coordinator_id = c->coord_id;
	a.has_heartbeat_ms = 1;
	a.heartbeat_ms = c->hb_ms;
	a.has_hello_needed = needed;
	a.hello_needed = needed;
	m.body_case = KTSTR__FARM_MSG__BODY_HELLO_ACK;
	m.hello_ack = &a;
	send_to(c, c->wsock, p, &m);
}

static void send_cancel(struct kt_coord *c, int wi, uint64_t entry_id, uint32_t attempt,
			const char *why)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__CancelEntry ce = KTSTR__CANCEL_ENTRY__INIT;
	Ktstr__EntryRef ref = KTSTR__ENTRY_REF__INIT;

	ref.entry_id = entry_id;
	ref.attempt = attempt;
	ce.ref = &ref;
	ce.reason = (char *)why;
	m.body_case = KTSTR__FARM_MSG__BODY_CANCEL_ENTRY;
	m.cancel_entry = &ce;
	send_to(c, c->wsock, &c->workers[wi].peer, &m);
}

/* ---- entry life ---- */

static void store_progress(struct kt_coord *c, struct centry *e, const char *message)
{
	struct kt_store_progress p = {0};
	struct kt_err err;

	switch (e->r.state) {
	case KT_ENTRY_QUEUED: p.state = KT_STATE_QUEUED; break;
	case KT_ENTRY_RUNNING: p.state = KT_STATE_RUNNING; break;
	case KT_ENTRY_DONE: p.state = KT_STATE_DONE; break;
	case KT_ENTRY_CANCELLED: p.state = KT_STATE_CANCELLED; break;
	}
	p.attempt = e->r.attempt;
	p.infra_tries = e->r.infra_tries;
	if (e->r.state == KT_ENTRY_DONE)
		p.final_status = kt_status_name(e->r.status);
	p.final_message = message;
	p.finish_seq = e->finish_seq;
	tx(c);
	if (kt_store_entry_update(c->store, e->id, &p, wall_ms(), &err))
		coord_log("store: entry %llu: %s", (unsigned long long)e->id, err.msg);
}

static void run_maybe_finished(struct kt_coord *c, struct crun *run)
{
	struct kt_err err;

	if (run->open > 0)
		return;
	tx(c);
	if (kt_store_run_state(c->store, run->id, run->cancelled ? KT_STATE_CANCELLED : KT_STATE_DONE,
			       wall_ms(), &err))
		coord_log("store: run %llu: %s", (unsigned long long)run->id, err.msg);
	coord_log("run %llu (%s) %s", (unsigned long long)run->id, run->name,
	     run->cancelled ? "cancelled" : "done");
}

/* The attempt of E no longer runs on its worker: give the capacity back. */
static void detach(struct kt_coord *c, struct centry *e)
{
	struct crun *run = run_by_id(c, e->run_id);

	if (e->worker >= 0) {
		struct cworker *w = &c->workers[e->worker];

		w->vcpus_used -= e->vcpus <= w->vcpus_used ? e->vcpus : w->vcpus_used;
		w->mem_used -= e->mem_mb <= w->mem_used ? e->mem_mb : w->mem_used;
		e->worker = -1;
		c->place_dirty = true;
		if (run && run->running)
			run->running--;
	}
	free(e->claim);
	e->claim = NULL;
}

/* E left RUNNING or QUEUED for good (done or cancelled). */
static void finished(struct kt_coord *c, struct centry *e, const char *message)
{
	struct crun *run = run_by_id(c, e->run_id);

	e->finish_seq = ++c->finish_seq;
	store_progress(c, e, message);
	free(e->tmpl);
	e->tmpl = NULL;
	if (run) {
		run->open--;
		run_maybe_finished(c, run);
	}
}

/* Apply EV to E and do what the state machine says. */
static void step(struct kt_coord *c, struct centry *e, const struct kt_retry_event *ev,
		 const char *message)
{
	unsigned attempt = e->r.attempt;
	enum kt_retry_do d = kt_retry_step(&e->r, ev);
	struct kt_err err;

	switch (d) {
	case KT_DO_FINISH:
		tx(c);
		kt_store_attempt_end(c->store, e->id, attempt,
				     ev->kind == KT_EV_WORKER_LOST ? "worker lost" : "outcome",
				     wall_ms(), &err);
		detach(c, e);
		coord_log("entry %llu %s: %s (attempt %u)%s%s", (unsigned long long)e->id, e->name,
		     kt_status_name(e->r.status), attempt, message ? ": " : "", message ? message : "");
		finished(c, e, message);
		break;
	case KT_DO_REQUEUE:
		tx(c);
		kt_store_attempt_end(c->store, e->id, attempt,
				     ev->kind == KT_EV_WORKER_LOST ? "worker lost"
				     : ev->kind == KT_EV_HAND_BACK ? "handed back" : "outcome",
				     wall_ms(), &err);
		detach(c, e);
		store_progress(c, e, message);
		c->place_dirty = true;
		coord_log("entry %llu %s: requeued after attempt %u (%s)", (unsigned long long)e->id,
		     e->name, attempt, message ? message : "");
		break;
	case KT_DO_DEQUEUE:
		finished(c, e, "cancelled");
		break;
	case KT_DO_CANCEL:
		if (e->worker >= 0)
			send_cancel(c, e->worker, e->id, e->r.attempt, "run cancelled");
		tx(c);
		kt_store_attempt_end(c->store, e->id, attempt, "cancelled", wall_ms(), &err);
		detach(c, e);
		finished(c, e, "cancelled");
		break;
	case KT_DO_ASSIGN:
	case KT_DO_STALE:
	case KT_DO_NOTHING:
		break;
	}
}

/* ---- workers ---- */

static void worker_lost(struct kt_coord *c, int wi, const char *why)
{
	struct cworker *w = &c->workers[wi];
	struct kt_retry_event ev = {.kind = KT_EV_WORKER_LOST};

	coord_log("worker %s lost: %s", w->id, why);
	for (size_t i = 0; i < c->n_entries; i++) {
		struct centry *e = &c->entries[i];

		if (e->worker == wi && e->r.state == KT_ENTRY_RUNNING) {
			ev.attempt = e->r.attempt;
			step(c, e, &ev, "worker lost");
		}
	}
	w->alive = false;
	w->vcpus_used = 0;
	w->mem_used = 0;
}

/* A running entry the worker no longer has, or a claim nobody made. */
static void lose_attempt(struct kt_coord *c, struct centry *e, const char *why)
{
	struct kt_retry_event ev = {.kind = KT_EV_WORKER_LOST, .attempt = e->r.attempt};

	step(c, e, &ev, why);
}

static void attach(struct kt_coord *c, struct centry *e, int wi)
{
	struct cworker *w = &c->workers[wi];
	struct crun *run = run_by_id(c, e->run_id);

	e->worker = wi;
	w->vcpus_used += e->vcpus;
	w->mem_used += e->mem_mb;
	free(e->claim);
	e->claim = NULL;
	if (run)
		run->running++;
}

static void on_outcome(struct kt_coord *c, int wi, Ktstr__EntryOutcome *o);

static void on_hello(struct kt_coord *c, const struct kt_farm_peer *p, Ktstr__WorkerHello *h)
{
	struct kt_err err;
	struct cworker *w;
	int wi;

	if (!h->worker_id || !*h->worker_id || strlen(h->worker_id) > KT_STORE_MAX_NAME ||
	    !kt_printable(h->worker_id)) {
		coord_log("hello with an invalid worker id dropped");
		return;
	}
	wi = worker_by_id(c, h->worker_id);
	if (wi >= 0 && c->workers[wi].alive) {
		/* The same worker again (it restarted or saw us restart):
		 * attempts it no longer lists are gone. */
		for (size_t i = 0; i < c->n_entries; i++) {
			struct centry *e = &c->entries[i];
			bool listed = false;

			if (e->worker != wi || e->r.state != KT_ENTRY_RUNNING)
				continue;
			for (size_t k = 0; k < h->n_running; k++)
				listed |= h->running[k]->entry_id == e->id &&
					  h->running[k]->attempt == e->r.attempt;
			/* Finished while we did not hear: its outcome is in
			 * the hello, handled below; not a loss. */
			for (size_t k = 0; k < h->n_unacked; k++)
				listed |= h->unacked[k]->ref &&
					  h->unacked[k]->ref->entry_id == e->id &&
					  h->unacked[k]->ref->attempt == e->r.attempt;
			if (!listed)
				lose_attempt(c, e, "worker no longer runs it");
		}
	} else if (wi < 0) {
		c->workers = kt_xrealloc(c->workers, (c->n_workers + 1) * sizeof(*c->workers));
		wi = (int)c->n_workers++;
		memset(&c->workers[wi], 0, sizeof(c->workers[wi]));
		kt_strv_init(&c->workers[wi].tags);
	}
	w = &c->workers[wi];
	if (!w->alive) {
		w->vcpus_used = 0;
		w->mem_used = 0;
	}
	w->peer = *p;
	snprintf(w->id, sizeof(w->id), "%s", h->worker_id);
	snprintf(w->accel, sizeof(w->accel), "%s", h->accel ? h->accel : "");
	snprintf(w->arch, sizeof(w->arch), "%s", h->arch ? h->arch : "");
	kt_strv_free(&w->tags);
	for (size_t i = 0; i < h->n_tags && i < 64; i++)
		kt_strv_add(&w->tags, h->tags[i]);
	w->vcpus_budget = h->has_vcpus ? h->vcpus : 1;
	w->mem_budget = h->has_memory_mb ? h->memory_mb : 1024;
	w->last_seen = kt_now_ms();
	w->hold_until = 0;
	w->alive = true;
	w->accepting = !(h->has_draining && h->draining);
	w->has_scx_ktstr = !h->has_has_scx_ktstr || h->has_scx_ktstr;
	tx(c);
	if (kt_store_worker_seen(c->store, h, wall_ms(), &err))
		coord_log("store: worker %s: %s", w->id, err.msg);
	/* Claims after a restart, and what it runs that we know of. */
	for (size_t k = 0; k < h->n_running; k++) {
		struct centry *e = entry_by_id(c, h->running[k]->entry_id);

		/* Only the worker the attempt went to may claim it. */
		if (e && e->r.state == KT_ENTRY_RUNNING && e->r.attempt == h->running[k]->attempt &&
		    e->worker < 0 && (!e->claim || !*e->claim || strcmp(e->claim, w->id) == 0))
			attach(c, e, wi);
	}
	coord_log("worker %s: hello (%u vCPUs, %llu MiB, accel %s, %zu running, %zu unacked)", w->id,
	     w->vcpus_budget, (unsigned long long)w->mem_budget, w->accel, h->n_running,
	     h->n_unacked);
	send_hello_ack(c, p, false);
	/* What it runs that is not (any more) ours to wait for: an attempt
	 * given up on while it was silent, an entry since finished. Stopped,
	 * or its vCPUs stay taken while placement counts them free (and it
	 * hands back every assignment). */
	for (size_t k = 0; k < h->n_running; k++) {
		const Ktstr__EntryRef *r = h->running[k];
		struct centry *e = entry_by_id(c, r->entry_id);

		if (!e || e->r.state != KT_ENTRY_RUNNING || e->r.attempt != r->attempt ||
		    e->worker != wi) {
			coord_log("worker %s: entry %llu attempt %u is no longer wanted: cancelled",
				  w->id, (unsigned long long)r->entry_id, r->attempt);
			send_cancel(c, wi, r->entry_id, r->attempt, "attempt no longer wanted");
		}
	}
	for (size_t k = 0; k < h->n_unacked; k++)
		on_outcome(c, wi, h->unacked[k]);
	c->place_dirty = true;
}

static void send_ack(struct kt_coord *c, int wi, const Ktstr__EntryRef *ref)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__OutcomeAck a = KTSTR__OUTCOME_ACK__INIT;
	Ktstr__EntryRef r = *ref;

	a.ref = &r;
	m.body_case = KTSTR__FARM_MSG__BODY_OUTCOME_ACK;
	m.outcome_ack = &a;
	send_to(c, c->wsock, &c->workers[wi].peer, &m);
}

/* Was attempt A of entry ID (E when in memory) given to worker WI? The
 * running attempt: from memory (its worker, or after a restart the claim
 * on it); any other: from the attempts table. 1 yes, 0 no, -1 when the
 * store cannot say. */
static int given_to(struct kt_coord *c, const struct centry *e, uint64_t id, unsigned a, int wi)
{
	const char *wid = c->workers[wi].id;
	sqlite3_stmt *q;
	int r;

	if (a == 0 || (e && a > e->r.attempt))
		return 0;
	if (e && a == e->r.attempt && e->r.state == KT_ENTRY_RUNNING)
		return e->worker == wi || (e->worker < 0 && e->claim && strcmp(e->claim, wid) == 0);
	if (sqlite3_prepare_v2(kt_store_db(c->store),
			       "SELECT count(*) FROM attempts WHERE entry_id = ? AND attempt = ? "
			       "AND worker_id = ?",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(q, 2, a);
	sqlite3_bind_text(q, 3, wid, -1, SQLITE_STATIC);
	r = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) > 0 : -1;
	sqlite3_finalize(q);
	return r;
}

static void on_outcome(struct kt_coord *c, int wi, Ktstr__EntryOutcome *o)
{
	struct kt_retry_event ev = {.kind = KT_EV_OUTCOME};
	struct centry *e;
	struct kt_err err;
	char *claimed;
	int stored, given;

	if (!o->ref || !o->status || kt_outcome_status_parse(o->status, &ev.status)) {
		coord_log("worker %s: outcome without a valid ref or status dropped", c->workers[wi].id);
		return;
	}
	e = entry_by_id(c, o->ref->entry_id);
	/* Only the worker an attempt went to reports it: storing anything
	 * else (a confused, stale or hostile worker) would give an entry a
	 * result nobody ran. Acked all the same, so that it is not resent. */
	given = given_to(c, e, o->ref->entry_id, o->ref->attempt, wi);
	if (given <= 0) {
		coord_log("worker %s: outcome of entry %llu attempt %u %s", c->workers[wi].id,
			  (unsigned long long)o->ref->entry_id, o->ref->attempt,
			  given ? "not checked (store error): kept for a resend"
				: "that was not given to it: dropped");
		if (given == 0)
			send_ack(c, wi, o->ref);
		return;
	}
	tx(c);
	/* Stored under the sender's id, whatever the message claims. */
	claimed = o->worker_id;
	o->worker_id = c->workers[wi].id;
	stored = kt_store_outcome(c->store, o, wall_ms(), &err);
	o->worker_id = claimed;
	if (!e) {
		/* A finished entry (no longer in memory) or none at all: the
		 * outcome is history if the store knows the entry; either way
		 * the worker may forget it. */
		send_ack(c, wi, o->ref);
		return;
	}
	if (stored < 0) {
		/* Not acked: the worker sends it again. */
		coord_log("store: outcome of entry %llu attempt %u: %s", (unsigned long long)e->id,
		     o->ref->attempt, err.msg);
		return;
	}
	send_ack(c, wi, o->ref);
	if (stored == 0)
		return; /* a resend of what we have */
	ev.attempt = o->ref->attempt;
	step(c, e, &ev, o->message);
}

static void on_artifact_req(struct kt_coord *c, int wi, const Ktstr__ArtifactRequest *rq)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__ArtifactChunk ch = KTSTR__ARTIFACT_CHUNK__INIT;
	char path[4096];
	uint64_t size = 0;
	uint8_t *buf = NULL;
	struct kt_err err;
	int fd = -1;

	ch.sha256 = rq->sha256;
	ch.offset = rq->offset;
	m.body_case = KTSTR__FARM_MSG__BODY_ARTIFACT_CHUNK;
	m.artifact_chunk = &ch;
	if (kt_store_artifact_get(c->store, rq->sha256, path, sizeof(path), &size, &err) != 1) {
		ch.error = "unknown artifact";
	} else if (rq->offset > size || rq->length > KT_FARM_CHUNK) {
		ch.error = "request out of range";
	} else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		ch.error = "artifact unreadable on the coordinator";
	} else {
		size_t want = rq->length;
		ssize_t n;

		if (want > size - rq->offset)
			want = size - rq->offset;
		buf = malloc(want ? want : 1);
		n = buf ? pread(fd, buf, want, (off_t)rq->offset) : -1;
		if (n != (ssize_t)want) {
			ch.error = "artifact read error on the coordinator";
		} else {
			ch.has_data = 1;
			ch.data.data = buf;
			ch.data.len = want;
			ch.has_total_size = 1;
			ch.total_size = size;
		}
	}
	if (fd >= 0)
		close(fd);
	if (ch.error)
		coord_log("worker %s: artifact %.16s: %s", c->workers[wi].id, rq->sha256, ch.error);
	send_to(c, c->wsock, &c->workers[wi].peer, &m);
	free(buf);
}

/* A worker's heartbeat lists what it runs. An attempt we gave it long
 * enough ago that it does not list (the Assignment was lost on the way:
 * a reconnect, a full queue) is sent again, at most once per that long;
 * one it finished is in its outbox and ignored by it. */
static void resend_unlisted(struct kt_coord *c, int wi, const Ktstr__Heartbeat *hb)
{
	uint64_t now = kt_now_ms(), wait = (uint64_t)KT_FARM_LOST_BEATS * c->hb_ms;

	for (size_t i = 0; i < c->n_entries; i++) {
		struct centry *e = &c->entries[i];
		bool listed = false;

		if (e->worker != wi || e->r.state != KT_ENTRY_RUNNING || now - e->sent_at < wait)
			continue;
		for (size_t k = 0; k < hb->n_running && !listed; k++)
			listed = hb->running[k]->entry_id == e->id &&
				 hb->running[k]->attempt == e->r.attempt;
		if (!listed) {
			coord_log("worker %s does not list entry %llu attempt %u: assignment sent again",
				  c->workers[wi].id, (unsigned long long)e->id, e->r.attempt);
			send_assignment(c, e, wi);
		}
	}
}

static void on_worker_msg(struct kt_coord *c, const struct kt_farm_peer *p, Ktstr__FarmMsg *m)
{
	int wi;

	if (m->body_case == KTSTR__FARM_MSG__BODY_HELLO) {
		on_hello(c, p, m->hello);
		return;
	}
	wi = worker_by_peer(c, p);
	if (wi < 0) {
		char name[64];

		kt_farm_peer_name(p, name, sizeof(name));
		coord_log("%s from unknown worker %s dropped", kt_farm_body_name(m->body_case), name);
		/* A worker we do not know (we restarted, or declared it lost):
		 * ask it to say hello again, with what it runs and holds. */
		if (m->body_case == KTSTR__FARM_MSG__BODY_HEARTBEAT)
			send_hello_ack(c, p, true);
		return;
	}
	c->workers[wi].last_seen = kt_now_ms();
	switch (m->body_case) {
	case KTSTR__FARM_MSG__BODY_HEARTBEAT:
		if (m->heartbeat->has_draining && m->heartbeat->draining &&
		    c->workers[wi].accepting) {
			coord_log("worker %s: draining", c->workers[wi].id);
			c->workers[wi].accepting = false;
		}
		resend_unlisted(c, wi, m->heartbeat);
		break;
	case KTSTR__FARM_MSG__BODY_OUTCOME:
		on_outcome(c, wi, m->outcome);
		break;
	case KTSTR__FARM_MSG__BODY_ARTIFACT_REQ:
		on_artifact_req(c, wi, m->artifact_req);
		break;
	case KTSTR__FARM_MSG__BODY_HAND_BACK: {
		struct centry *e = m->hand_back->ref ? entry_by_id(c, m->hand_back->ref->entry_id) : NULL;
		struct kt_retry_event ev = {.kind = KT_EV_HAND_BACK};

		if (e && e->worker == wi) {
			ev.attempt = m->hand_back->ref->attempt;
			step(c, e, &ev, m->hand_back->reason ? m->hand_back->reason : "handed back");
			/* It had no room, whatever we counted: give it a
			 * heartbeat before the next try, not a busy loop. */
			c->workers[wi].hold_until = kt_now_ms() + c->hb_ms;
		}
		break;
	}
	case KTSTR__FARM_MSG__BODY_PROGRESS:
		break;
	default:
		coord_log("worker %s: unexpected %s dropped", c->workers[wi].id,
		     kt_farm_body_name(m->body_case));
	}
}

/* ---- submit ---- */

/* TEXT as an artifact of KIND under <cache>/artifacts/<sha256>; SHA out. */
static int put_text_artifact(struct kt_coord *c, const char *kind, const char *name,
			     const void *text, size_t len, char sha[65], struct kt_err *err)
{
	struct kt_sha256 h;
	uint8_t d[32];
	char dir[4096], path[4200], tmp[4300];

	kt_sha256_init(&h);
	kt_sha256_update(&h, text, len);
	kt_sha256_final(&h, d);
	kt_sha256_hex(d, sha);
	snprintf(dir, sizeof(dir), "%s/artifacts", c->o.cache_dir);
	if (kt_mkdir_p(dir, err))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, sha);
	if (access(path, F_OK) != 0) {
		snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
		if (kt_write_file(tmp, text, len, err))
			return -1;
		if (rename(tmp, path)) {
			unlink(tmp);
			return kt_errf(err, "%s: %s", path, strerror(errno));
		}
	}
	return kt_store_artifact_put(c->store, sha, kind, name, len, path, err);
}

struct submit_ctx {
	struct kt_kernel *kernels;
	struct kt_matrix_kernel_info *kinfo;
	char (*config_sha)[65];
	size_t n_kernels;
	char (*scenario_sha)[65]; /* per entry */
	char (*binary_sha)[65];   /* per kt_matrix_binary */
	uint64_t *binary_size;
};

/* The scenario text of entry D: the catalog's, or the file the client sent. */
static const char *scenario_text(const struct kt_entry_def *d, const Ktstr__SubmitRequest *rq,
				 size_t *len)
{
	if (!d->scenario_is_file) {
		const struct kt_catalog_entry *ce = kt_catalog_find(d->scenario);

		if (!ce)
			return NULL;
		*len = strlen(ce->yaml);
		return ce->yaml;
	}
	for (size_t i = 0; i < rq->n_files; i++)
		if (strcmp(rq->files[i]->name, d->scenario) == 0) {
			*len = rq->files[i]->data.len;
			return (const char *)rq->files[i]->data.data;
		}
	return NULL;
}

/* Every scenario file the matrix (named FILE) names was sent and is a valid
 * scenario. */
static int check_files(const struct kt_matrix *mx, const Ktstr__SubmitRequest *rq,
		       const char *file, struct kt_err *err)
{
	for (size_t i = 0; i < kt_matrix_n_files(mx); i++) {
		const char *f = kt_matrix_file(mx, i);
		const Ktstr__NamedFile *nf = NULL;
		struct kt_scenario *s;
		int rc;

		for (size_t k = 0; k < rq->n_files; k++)
			if (strcmp(rq->files[k]->name, f) == 0)
				nf = rq->files[k];
		if (!nf)
			return kt_errf(err, "%s: scenario file '%s' was not sent with the matrix", file,
				       f);
		if (kt_scenario_parse((const char *)nf->data.data, nf->data.len, f, &s, err))
			return -1;
		rc = kt_matrix_check_file(mx, f, s, err);
		kt_scenario_free(s);
		if (rc)
			return -1;
	}
	return 0;
}

/* Every scheduler binary the matrix names was sent: each becomes an
 * artifact the workers fetch by sha256. */
static int put_binaries(struct kt_coord *c, const struct kt_matrix *mx,
			const Ktstr__SubmitRequest *rq, const char *file, struct submit_ctx *sx,
			struct kt_err *err)
{
	size_t n = kt_matrix_n_binaries(mx);

	sx->binary_sha = kt_xcalloc(n ? n : 1, sizeof(*sx->binary_sha));
	sx->binary_size = kt_xcalloc(n ? n : 1, sizeof(*sx->binary_size));
	for (size_t i = 0; i < n; i++) {
		const char *b = kt_matrix_binary(mx, i);
		const Ktstr__NamedFile *nf = NULL;

		for (size_t k = 0; k < rq->n_files; k++)
			if (strcmp(rq->files[k]->name, b) == 0)
				nf = rq->files[k];
		if (!nf)
			return kt_errf(err, "%s: scheduler binary '%s' was not sent with the matrix",
				       file, b);
		if (nf->data.len < 4 || memcmp(nf->data.data, "\177ELF", 4) != 0)
			return kt_errf(err, "%s: scheduler binary '%s' is not an ELF file", file, b);
		if (put_text_artifact(c, "binary", b, (const char *)nf->data.data, nf->data.len,
				      sx->binary_sha[i], err))
			return -1;
		sx->binary_size[i] = nf->data.len;
	}
	return 0;
}

/* The payload binaries of one scenario, as its entries' Assignment.payloads. */
struct payrefs {
	Ktstr__ArtifactRef ref[KT_SPEC_MAX_PAYLOADS];
	Ktstr__ArtifactRef *p[KT_SPEC_MAX_PAYLOADS];
	char sha[KT_SPEC_MAX_PAYLOADS][65];
	size_t n;
};

/* Every payload binary that scenario NAME (TEXT, LEN bytes) runs was sent
 * as a file named by its host path: each becomes a "binary" artifact the
 * workers fetch by sha256, referred to in PR under that path. */
static int put_payloads(struct kt_coord *c, const Ktstr__SubmitRequest *rq, const char *file,
			const char *name, const char *text, size_t len, struct payrefs *pr,
			struct kt_err *err)
{
	struct kt_scenario *s;
	const char *const *b;
	int rc = -1;

	pr->n = 0;
	if (kt_scenario_parse(text, len, name, &s, err))
		return -1;
	for (b = kt_scenario_payload_bins(s); *b && pr->n < KT_SPEC_MAX_PAYLOADS; b++) {
		const Ktstr__NamedFile *nf = NULL;
		Ktstr__ArtifactRef *r = &pr->ref[pr->n];

		for (size_t k = 0; k < rq->n_files; k++)
			if (strcmp(rq->files[k]->name, *b) == 0)
				nf = rq->files[k];
		if (!nf) {
			kt_errf(err, "%s: scenario '%s' runs payload '%s', which was not sent with "
				"the matrix", file, name, *b);
			goto out;
		}
		if (nf->data.len < 4 || memcmp(nf->data.data, "\177ELF", 4) != 0) {
			kt_errf(err, "%s: scenario '%s': payload '%s' is not an ELF file", file, name,
				*b);
			goto out;
		}
		if (put_text_artifact(c, "binary", nf->name, (const char *)nf->data.data,
				      nf->data.len, pr->sha[pr->n], err))
			goto out;
		ktstr__artifact_ref__init(r);
		r->sha256 = pr->sha[pr->n];
		r->has_size = 1;
		r->size = nf->data.len;
		r->name = nf->name; /* as written: the worker maps it to its copy */
		r->kind = "binary";
		pr->p[pr->n++] = r;
	}
	rc = 0;
out:
	kt_scenario_free(s);
	return rc;
}

static int resolve_kernels(struct kt_coord *c, const struct kt_matrix *mx, struct submit_ctx *sx,
			   struct kt_err *err)
{
	sx->n_kernels = kt_matrix_n_kernels(mx);
	sx->kernels = kt_xcalloc(sx->n_kernels, sizeof(*sx->kernels));
	sx->kinfo = kt_xcalloc(sx->n_kernels, sizeof(*sx->kinfo));
	sx->config_sha = kt_xcalloc(sx->n_kernels, sizeof(*sx->config_sha));
	for (size_t i = 0; i < sx->n_kernels; i++) {
		struct kt_kernel *k = &sx->kernels[i];
		const char *ref = kt_matrix_kernel(mx, i);

		/* May download: the loop stalls meanwhile, but heartbeats
		 * queue up in ZeroMQ and are read before any loss check. */
		if (kt_kcache_resolve(c->o.cache_dir, ref, k, err))
			return kt_err_prefix(err, "kernel '%s'", ref);
		if (kt_store_kernel_put(c->store, k->sha256, k->version, k->source, k->size,
					k->has_sched_ext, k->has_btf, err) ||
		    kt_store_artifact_put(c->store, k->sha256, "kernel", k->version, k->size,
					  k->image, err))
			return -1;
		if (k->config[0]) {
			char *text;
			size_t len;

			if (kt_read_file(k->config, 16u << 20, &text, &len, err))
				return -1;
			if (put_text_artifact(c, "kernel-config", k->version, text, len,
					      sx->config_sha[i], err)) {
				free(text);
				return -1;
			}
			free(text);
		}
		sx->kinfo[i].label = k->version;
		sx->kinfo[i].has_sched_ext = k->has_sched_ext;
	}
	return 0;
}

/* The Assignment template of entry D: everything but the attempt. */
static int pack_template(const struct kt_matrix *mx, const struct kt_entry_def *d,
			 const struct submit_ctx *sx, const char *scenario_sha,
			 size_t scenario_len, const struct payrefs *pr, uint64_t run_id,
			 uint8_t **out, size_t *out_len)
{
	const struct kt_kernel *k = &sx->kernels[d->kernel_idx];
	Ktstr__Assignment a = KTSTR__ASSIGNMENT__INIT;
	Ktstr__EntryRef ref = KTSTR__ENTRY_REF__INIT;
	Ktstr__KernelRef kr = KTSTR__KERNEL_REF__INIT;
	Ktstr__ArtifactRef img = KTSTR__ARTIFACT_REF__INIT, cfg = KTSTR__ARTIFACT_REF__INIT,
			   scn = KTSTR__ARTIFACT_REF__INIT;
	Ktstr__CheckOverrides ck = KTSTR__CHECK_OVERRIDES__INIT;
	Ktstr__SchedulerRef sr = KTSTR__SCHEDULER_REF__INIT;
	Ktstr__ArtifactRef bin = KTSTR__ARTIFACT_REF__INIT;

	a.ref = &ref;
	a.has_run_id = 1;
	a.run_id = run_id;
	a.name = d->name;
	img.sha256 = (char *)k->sha256;
	img.has_size = 1;
	img.size = k->size;
	img.name = (char *)k->version;
	img.kind = "kernel";
	kr.image = &img;
	if (sx->config_sha[d->kernel_idx][0]) {
		cfg.sha256 = (char *)sx->config_sha[d->kernel_idx];
		cfg.kind = "kernel-config";
		kr.config = &cfg;
	}
	kr.version = (char *)k->version;
	kr.source = (char *)k->source;
	kr.has_has_sched_ext = kr.has_has_btf = 1;
	kr.has_sched_ext = k->has_sched_ext;
	kr.has_btf = k->has_btf;
	a.kernel = &kr;
	a.topology = d->topology;
	scn.sha256 = (char *)scenario_sha;
	scn.has_size = 1;
	scn.size = scenario_len;
	scn.name = d->scenario;
	scn.kind = "scenario";
	a.scenario = &scn;
	a.has_duration_ms = 1;
	a.duration_ms = d->duration_ms;
	a.has_workers = 1;
	a.workers = d->workers;
	kt_checks_over_to_pb(&d->checks, &ck);
	a.checks = &ck;
	sr.name = d->scheduler;
	sr.profile = d->profile;
	sr.args = d->args.v;
	sr.n_args = d->args.n;
	for (size_t i = 0; d->binary && i < kt_matrix_n_binaries(mx); i++)
		if (!strcmp(kt_matrix_binary(mx, i), d->binary)) {
			bin.sha256 = (char *)sx->binary_sha[i];
			bin.has_size = 1;
			bin.size = sx->binary_size[i];
			bin.name = d->scheduler;
			bin.kind = "binary";
			sr.binary = &bin;
		}
	a.scheduler = &sr;
	a.has_expect_err = d->expect_err;
	a.expect_err = d->expect_err;
	a.sysctls = d->sysctls.v;
	a.n_sysctls = d->sysctls.n;
	a.kernel_args = d->kernel_args.v;
	a.n_kernel_args = d->kernel_args.n;
	a.payloads = (Ktstr__ArtifactRef **)pr->p;
	a.n_payloads = pr->n;
	a.has_vcpus = 1;
	a.vcpus = d->vcpus;
	a.has_memory_mb = 1;
	a.memory_mb = d->memory_mb;
	*out_len = ktstr__assignment__get_packed_size(&a);
	*out = kt_xcalloc(*out_len ? *out_len : 1, 1);
	ktstr__assignment__pack(&a, *out);
	return 0;
}

static void submit_ctx_free(struct submit_ctx *sx)
{
	free(sx->kernels);
	free(sx->kinfo);
	free(sx->config_sha);
	free(sx->binary_sha);
	free(sx->binary_size);
}

/* How far back budgets look for entry costs: hosts and kernels change. */
#define COST_HISTORY_MS (30ull * 24 * 3600 * 1000)

/* Expand MX; with budgets, costs come from the stored results. */
static int expand(struct kt_coord *c, const struct kt_matrix *mx, const struct submit_ctx *sx,
		  uint64_t now, struct kt_matrix_budget_report *rep, struct kt_entry_def **defs,
		  size_t *n, struct kt_err *err)
{
	struct kt_cost_sample *samples = NULL;
	size_t ns = 0;
	int rc;

	if (kt_matrix_has_budget(mx) &&
	    kt_store_cost_samples(c->store, now > COST_HISTORY_MS ? now - COST_HISTORY_MS : 0,
				  &samples, &ns, err))
		return -1;
	rc = kt_matrix_expand_budget(mx, sx->kinfo, samples, ns, rep, defs, n, err);
	free(samples);
	return rc;
}

/* Validate, expand and persist one matrix; the run id into *RUN_ID. */
static int submit(struct kt_coord *c, const Ktstr__SubmitRequest *rq, uint64_t *run_id,
		  size_t *n_entries, struct kt_matrix_budget_report *rep, struct kt_err *err)
{
	const char *file = rq->filename && *rq->filename ? rq->filename : "matrix.yaml";
	struct kt_matrix *mx = NULL;
	struct kt_entry_def *defs = NULL;
	struct submit_ctx sx = {0};
	struct crun run = {0};
	const struct kt_entry_def *stored = NULL; /* whose scenario is in SHA, LEN, PR */
	struct payrefs pr = {0};
	char sha[65];
	size_t n = 0, first = c->n_entries, len = 0;
	uint64_t now = wall_ms();
	int rc = -1;

	if (kt_matrix_parse(rq->matrix_yaml, strlen(rq->matrix_yaml), file, &mx, err) ||
	    check_files(mx, rq, file, err))
		goto out;
	/* Everything the run needs is settled before anything is stored:
	 * an invalid matrix queues nothing. Its own transaction, so that
	 * undoing it never undoes outcomes stored (and acked) before. */
	tx_end(c);
	tx(c);
	if (put_binaries(c, mx, rq, file, &sx, err) || resolve_kernels(c, mx, &sx, err) ||
	    expand(c, mx, &sx, now, rep, &defs, &n, err))
		goto undo;
	if (kt_store_run_create(c->store, kt_matrix_name(mx), kt_matrix_priority(mx),
				rq->matrix_yaml, now, &run.id, err))
		goto undo;
	for (size_t i = 0; i < n; i++) {
		const struct kt_entry_def *d = &defs[i];
		struct kt_store_entry se = {0};
		struct centry *e;

		/* Entries come ordered by test, so consecutive entries share
		 * a scenario (the same name is the same text): store it when
		 * the name changes, not once per entry (20,000 hashes, mkdirs
		 * and upserts of one row for a big matrix). */
		if (!stored || stored->scenario_is_file != d->scenario_is_file ||
		    strcmp(stored->scenario, d->scenario) != 0) {
			const char *text = scenario_text(d, rq, &len);

			if (!text) {
				kt_errf(err, "%s: scenario '%s' not found", d->name, d->scenario);
				goto undo;
			}
			if (put_text_artifact(c, "scenario", d->scenario, text, len, sha, err) ||
			    put_payloads(c, rq, file, d->scenario, text, len, &pr, err))
				goto undo;
			stored = d;
		}
		e = add_entry(c);
		e->run_id = run.id;
		e->seq = (uint32_t)i;
		e->priority = kt_matrix_priority(mx);
		e->vcpus = d->vcpus;
		e->mem_mb = d->memory_mb;
		e->name = kt_xstrdup(d->name);
		e->need_accel = d->need_accel ? kt_xstrdup(d->need_accel) : NULL;
		for (size_t t = 0; t < d->tags.n; t++)
			kt_strv_add(&e->tags, d->tags.v[t]);
		e->needs_scx_ktstr = !d->binary && d->scheduler && !strcmp(d->scheduler, BUILTIN_SCX);
		pack_template(mx, d, &sx, sha, len, &pr, run.id, &e->tmpl, &e->tmpl_len);
		se.run_id = run.id;
		se.seq = e->seq;
		se.name = d->name;
		se.test = d->test;
		se.scenario = d->scenario;
		se.topology = d->topology;
		se.scheduler = d->scheduler;
		se.profile = d->profile;
		se.kernel_label = sx.kinfo[d->kernel_idx].label;
		se.kernel_sha = sx.kernels[d->kernel_idx].sha256;
		se.priority = e->priority;
		se.vcpus = e->vcpus;
		se.memory_mb = e->mem_mb;
		se.assignment = e->tmpl;
		se.assignment_len = e->tmpl_len;
		if (kt_store_entry_add(c->store, &se, &e->id, err))
			goto undo;
		run.total++;
		run.open++;
	}
	run.name = kt_xstrdup(kt_matrix_name(mx));
	run.submitted_at = now;
	c->runs = kt_xrealloc(c->runs, (c->n_runs + 1) * sizeof(*c->runs));
	c->runs[c->n_runs++] = run;
	/* Entries that cannot run here are recorded skip, unrun. */
	for (size_t i = 0; i < n; i++)
		if (defs[i].skip_reason && *defs[i].skip_reason) {
			struct centry *e = &c->entries[first + i];

			e->r.state = KT_ENTRY_DONE;
			e->r.status = KT_SKIP;
			finished(c, e, defs[i].skip_reason);
		}
	*run_id = run.id;
	*n_entries = n;
	c->place_dirty = true;
	rc = 0;
	goto out;
undo:
	/* Nothing of this run may stay: drop the transaction's writes. */
	for (size_t i = first; i < c->n_entries; i++)
		entry_release(&c->entries[i]);
	c->n_entries = first;
	if (c->in_tx) {
		struct kt_err e2;

		kt_store_rollback(c->store, &e2);
		c->in_tx = false;
		flush_pending(c, false);
	}
out:
	if (defs)
		kt_entry_defs_free(defs, n);
	kt_matrix_free(mx);
	submit_ctx_free(&sx);
	return rc;
}

/* ---- client verbs ---- */

static void fill_status(struct kt_coord *c, uint64_t run_id, Ktstr__StatusReply *sr,
			struct kt_store_run_status *st)
{
	struct crun *run = run_by_id(c, run_id);
	uint64_t now = wall_ms(), done;

	sr->run_id = run_id;
	sr->name = st->name;
	sr->state = (char *)kt_state_name(st->state);
#define SET(f, v) (sr->has_##f = 1, sr->f = (v))
	SET(total, st->total);
	SET(queued, st->queued);
	SET(running, st->running);
	SET(pass, st->pass);
	SET(fail, st->fail);
	SET(error, st->error);
	SET(infra, st->infra);
	SET(skip, st->skip);
	SET(cancelled, st->cancelled);
	SET(elapsed_ms, (st->finished_at ? st->finished_at : now) - st->submitted_at);
	done = st->pass + st->fail + st->error + st->infra + st->skip + st->cancelled;
	/* ETA from this run's own measured rate since its first assignment. */
	if (run && run->started_at && done > 0 && done < st->total) {
		uint64_t spent = now - run->started_at;

		SET(eta_ms, spent * (st->total - done) / done);
	}
#undef SET
}

static void on_status(struct kt_coord *c, const struct kt_farm_peer *p, uint64_t run_id,
		      uint64_t after_seq, bool with_briefs)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__StatusReply sr = KTSTR__STATUS_REPLY__INIT;
	Ktstr__EntryBrief *briefs = NULL, **bp = NULL;
	struct kt_store_run_status st;
	struct kt_err err;
	size_t nb = 0;
	sqlite3_stmt *q = NULL;
	int r;

	tx_end(c); /* the reply reflects everything stored so far */
	r = kt_store_run_status(c->store, run_id, &st, &err);
	if (r <= 0) {
		char msg[KT_ERR_MAX + 64];

		snprintf(msg, sizeof(msg), "run %llu: %s", (unsigned long long)run_id,
			 r == 0 ? "no such run" : err.msg);
		send_error(c, p, msg);
		return;
	}
	fill_status(c, run_id, &sr, &st);
	if (with_briefs &&
	    sqlite3_prepare_v2(kt_store_db(c->store),
			       "SELECT id, name, final_status, final_message, attempt, finish_seq "
			       "FROM entries WHERE run_id = ? AND finish_seq > ? "
			       "ORDER BY finish_seq LIMIT ?",
			       -1, &q, NULL) == SQLITE_OK) {
		briefs = kt_xcalloc(WATCH_MAX_BRIEFS, sizeof(*briefs));
		bp = kt_xcalloc(WATCH_MAX_BRIEFS, sizeof(*bp));
		sqlite3_bind_int64(q, 1, (sqlite3_int64)run_id);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)after_seq);
		sqlite3_bind_int(q, 3, WATCH_MAX_BRIEFS);
		while (nb < WATCH_MAX_BRIEFS && sqlite3_step(q) == SQLITE_ROW) {
			Ktstr__EntryBrief *b = &briefs[nb];
			const char *s;

			ktstr__entry_brief__init(b);
			b->entry_id = (uint64_t)sqlite3_column_int64(q, 0);
			b->name = kt_xstrdup((const char *)sqlite3_column_text(q, 1));
			s = (const char *)sqlite3_column_text(q, 2);
			b->status = kt_xstrdup(s ? s : "cancelled");
			s = (const char *)sqlite3_column_text(q, 3);
			b->message = s ? kt_xstrdup(s) : NULL;
			b->has_attempts = 1;
			b->attempts = (uint32_t)sqlite3_column_int(q, 4);
			b->has_seq = 1;
			b->seq = (uint64_t)sqlite3_column_int64(q, 5);
			bp[nb++] = b;
		}
		sqlite3_finalize(q);
		sr.finished = bp;
		sr.n_finished = nb;
	}
	m.body_case = KTSTR__FARM_MSG__BODY_STATUS_REPLY;
	m.status_reply = &sr;
	send_to(c, c->csock, p, &m);
	for (size_t i = 0; i < nb; i++) {
		free(briefs[i].name);
		free(briefs[i].status);
		free(briefs[i].message);
	}
	free(briefs);
	free(bp);
}

static void on_cancel_run(struct kt_coord *c, const struct kt_farm_peer *p, uint64_t run_id)
{
	struct crun *run = run_by_id(c, run_id);
	struct kt_retry_event ev = {.kind = KT_EV_CANCEL};

	if (run && run->open > 0) {
		run->cancelled = true;
		for (size_t i = 0; i < c->n_entries; i++) {
			struct centry *e = &c->entries[i];

			if (e->run_id == run_id &&
			    (e->r.state == KT_ENTRY_QUEUED || e->r.state == KT_ENTRY_RUNNING))
				step(c, e, &ev, "cancelled");
		}
		coord_log("run %llu cancelled", (unsigned long long)run_id);
	}
	on_status(c, p, run_id, 0, false);
}

static void on_client_msg(struct kt_coord *c, const struct kt_farm_peer *p, Ktstr__FarmMsg *m)
{
	switch (m->body_case) {
	case KTSTR__FARM_MSG__BODY_SUBMIT: {
		Ktstr__FarmMsg r = KTSTR__FARM_MSG__INIT;
		Ktstr__SubmitReply sr = KTSTR__SUBMIT_REPLY__INIT;
		struct kt_matrix_budget_report br = {0};
		struct kt_err err;
		uint64_t run_id = 0;
		size_t n = 0;

		if (submit(c, m->submit, &run_id, &n, &br, &err)) {
			coord_log("submit refused: %s", err.msg);
			sr.error = err.msg;
		} else {
			coord_log("run %llu submitted: %zu entries", (unsigned long long)run_id, n);
			if (br.features) /* a budget applied */
				coord_log("run %llu budget: %zu of %zu entries chosen, %zu left out, "
					  "about %.0f s planned, %zu of %zu features covered; costs "
					  "%zu measured, %zu extrapolated, %zu modelled",
					  (unsigned long long)run_id, br.entries, br.candidates,
					  br.left_out, br.planned_ms / 1000, br.covered, br.features,
					  br.cost_sources[KT_COST_MEASURED],
					  br.cost_sources[KT_COST_EXTRAPOLATED],
					  br.cost_sources[KT_COST_MODEL]);
			sr.ok = 1;
			sr.has_run_id = sr.has_entries = 1;
			sr.run_id = run_id;
			sr.entries = (uint32_t)n;
		}
		tx_end(c); /* the run is durable before the client hears of it */
		r.body_case = KTSTR__FARM_MSG__BODY_SUBMIT_REPLY;
		r.submit_reply = &sr;
		send_to(c, c->csock, p, &r);
		break;
	}
	case KTSTR__FARM_MSG__BODY_STATUS:
		on_status(c, p, m->status->run_id, 0, false);
		break;
	case KTSTR__FARM_MSG__BODY_WATCH:
		on_status(c, p, m->watch->run_id, m->watch->has_after_seq ? m->watch->after_seq : 0,
			  true);
		break;
	case KTSTR__FARM_MSG__BODY_CANCEL_RUN:
		on_cancel_run(c, p, m->cancel_run->run_id);
		break;
	default:
		send_error(c, p, "unexpected message on the client socket");
	}
}

/* ---- placement ---- */

/* The Assignment of E's current attempt to worker WI (again, if need be:
 * a worker ignores one it already runs or finished). */
static void send_assignment(struct kt_coord *c, struct centry *e, int wi)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__Assignment *a = ktstr__assignment__unpack(NULL, e->tmpl_len, e->tmpl);

	if (!a || !a->ref) {
		if (a)
			ktstr__assignment__free_unpacked(a, NULL);
		return;
	}
	a->ref->entry_id = e->id;
	a->ref->attempt = e->r.attempt;
	m.body_case = KTSTR__FARM_MSG__BODY_ASSIGN;
	m.assign = a;
	send_to(c, c->wsock, &c->workers[wi].peer, &m);
	ktstr__assignment__free_unpacked(a, NULL);
	e->sent_at = kt_now_ms();
}

static void assign(struct kt_coord *c, struct centry *e, int wi)
{
	struct kt_retry_event ev = {.kind = KT_EV_ASSIGN};
	Ktstr__Assignment *a;
	struct crun *run = run_by_id(c, e->run_id);
	struct kt_err err;

	if (kt_retry_step(&e->r, &ev) != KT_DO_ASSIGN)
		return;
	a = ktstr__assignment__unpack(NULL, e->tmpl_len, e->tmpl);
	if (!a || !a->ref) {
		/* Our own template: cannot happen unless the store was edited. */
		struct kt_retry_event lost = {.kind = KT_EV_WORKER_LOST, .attempt = e->r.attempt};

		coord_log("entry %llu: assignment template does not unpack", (unsigned long long)e->id);
		if (a)
			ktstr__assignment__free_unpacked(a, NULL);
		kt_retry_step(&e->r, &lost);
		return;
	}
	ktstr__assignment__free_unpacked(a, NULL);
	attach(c, e, wi);
	tx(c);
	if (run && !run->started_at) {
		/* The run's first attempt: it is running from now on. */
		run->started_at = wall_ms();
		if (kt_store_run_state(c->store, run->id, KT_STATE_RUNNING, run->started_at, &err))
			coord_log("store: run %llu: %s", (unsigned long long)run->id, err.msg);
	}
	if (kt_store_attempt_begin(c->store, e->id, e->r.attempt, c->workers[wi].id, wall_ms(),
				   &err))
		coord_log("store: attempt: %s", err.msg);
	store_progress(c, e, NULL);
	send_assignment(c, e, wi);
}

static void place(struct kt_coord *c)
{
	struct kt_place_entry *pe;
	struct kt_place_worker *pw;
	struct kt_place_run *pr;
	struct kt_placement *out;
	size_t *idx, ne = 0, np, nw = 0;
	uint64_t now;
	int *widx;

	c->place_dirty = false;
	for (size_t i = 0; i < c->n_workers; i++)
		nw += c->workers[i].alive;
	if (!nw)
		return;
	pe = kt_xcalloc(c->n_entries + 1, sizeof(*pe));
	idx = kt_xcalloc(c->n_entries + 1, sizeof(*idx));
	for (size_t i = 0; i < c->n_entries; i++) {
		struct centry *e = &c->entries[i];

		if (e->r.state != KT_ENTRY_QUEUED)
			continue;
		pe[ne] = (struct kt_place_entry){
			.run_id = e->run_id, .priority = e->priority, .seq = e->seq,
			.vcpus = e->vcpus, .mem_mb = e->mem_mb, .need_accel = e->need_accel,
			.tags = (const char *const *)e->tags.v, .n_tags = e->tags.n,
			.needs_scx_ktstr = e->needs_scx_ktstr};
		idx[ne++] = i;
	}
	if (!ne) {
		free(pe);
		free(idx);
		return;
	}
	pw = kt_xcalloc(nw, sizeof(*pw));
	widx = kt_xcalloc(nw, sizeof(*widx));
	nw = 0;
	now = kt_now_ms();
	for (size_t i = 0; i < c->n_workers; i++) {
		struct cworker *w = &c->workers[i];

		if (!w->alive)
			continue;
		pw[nw] = (struct kt_place_worker){
			.vcpus_budget = w->vcpus_budget, .vcpus_used = w->vcpus_used,
			.mem_budget_mb = w->mem_budget, .mem_used_mb = w->mem_used,
			.accel = w->accel[0] ? w->accel : NULL, .arch = w->arch[0] ? w->arch : NULL,
			.tags = (const char *const *)w->tags.v, .n_tags = w->tags.n,
			.accepting = w->accepting && now >= w->hold_until,
			.has_scx_ktstr = w->has_scx_ktstr};
		widx[nw++] = (int)i;
	}
	pr = kt_xcalloc(c->n_runs + 1, sizeof(*pr));
	for (size_t i = 0; i < c->n_runs; i++)
		pr[i] = (struct kt_place_run){.run_id = c->runs[i].id, .running = c->runs[i].running};
	out = kt_xcalloc(ne, sizeof(*out));
	np = kt_place(pe, ne, pw, nw, pr, c->n_runs, out);
	for (size_t i = 0; i < np; i++)
		assign(c, &c->entries[idx[out[i].entry]], widx[out[i].worker]);
	free(out);
	free(pr);
	free(widx);
	free(pw);
	free(idx);
	free(pe);
}

/* ---- timers ---- */

/* Heartbeats a queued entry may wait while no live, accepting worker could
 * ever take it (too big for every budget, a capability nobody offers). */
#define STUCK_BEATS (KT_FARM_LOST_BEATS + 2)

/* Such entries end `infra` with the reason instead of waiting forever;
 * with no accepting worker at all, everything simply waits. */
static void give_up_unplaceable(struct kt_coord *c)
{
	struct kt_place_worker *pw = kt_xcalloc(c->n_workers + 1, sizeof(*pw));
	uint64_t now = kt_now_ms();
	size_t nw = 0;

	for (size_t i = 0; i < c->n_workers; i++) {
		struct cworker *w = &c->workers[i];

		if (!w->alive || !w->accepting)
			continue;
		pw[nw++] = (struct kt_place_worker){
			.vcpus_budget = w->vcpus_budget, .mem_budget_mb = w->mem_budget,
			.accel = w->accel[0] ? w->accel : NULL, .arch = w->arch[0] ? w->arch : NULL,
			.tags = (const char *const *)w->tags.v, .n_tags = w->tags.n,
			.accepting = true, .has_scx_ktstr = w->has_scx_ktstr};
	}
	for (size_t i = 0; nw && i < c->n_entries; i++) {
		struct centry *e = &c->entries[i];
		struct kt_place_entry pe = {
			.run_id = e->run_id, .priority = e->priority, .seq = e->seq,
			.vcpus = e->vcpus, .mem_mb = e->mem_mb, .need_accel = e->need_accel,
			.tags = (const char *const *)e->tags.v, .n_tags = e->tags.n,
			.needs_scx_ktstr = e->needs_scx_ktstr};
		char msg[256];

		if (e->r.state != KT_ENTRY_QUEUED || kt_place_possible(&pe, pw, nw)) {
			e->stuck_since = 0;
			continue;
		}
		if (!e->stuck_since) {
			e->stuck_since = now;
			continue;
		}
		if (now - e->stuck_since < (uint64_t)STUCK_BEATS * c->hb_ms)
			continue;
		snprintf(msg, sizeof(msg), "no connected worker can run it (it needs %u vCPUs, "
			 "%llu MiB%s%s%s%s)", e->vcpus, (unsigned long long)e->mem_mb,
			 e->need_accel ? ", accel " : "", e->need_accel ? e->need_accel : "",
			 e->tags.n ? ", tags" : "",
			 e->needs_scx_ktstr ? ", a worker built with " BUILTIN_SCX : "");
		e->r.state = KT_ENTRY_DONE;
		e->r.status = KT_INFRA;
		coord_log("entry %llu %s: infra: %s", (unsigned long long)e->id, e->name, msg);
		finished(c, e, msg);
	}
	free(pw);
}

/* Finished entries live on in SQLite only: drop them from memory once they
 * are the majority, keeping the array sorted by id. */
static void compact(struct kt_coord *c)
{
	size_t done = 0, k = 0;

	for (size_t i = 0; i < c->n_entries; i++)
		done += c->entries[i].r.state == KT_ENTRY_DONE ||
			c->entries[i].r.state == KT_ENTRY_CANCELLED;
	if (done < 1024 || done * 2 < c->n_entries)
		return;
	for (size_t i = 0; i < c->n_entries; i++) {
		struct centry *e = &c->entries[i];

		if (e->r.state == KT_ENTRY_DONE || e->r.state == KT_ENTRY_CANCELLED)
			entry_release(e);
		else
			c->entries[k++] = *e;
	}
	c->n_entries = k;
}

static void tick(struct kt_coord *c)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__Heartbeat hb = KTSTR__HEARTBEAT__INIT;
	uint64_t now = kt_now_ms();

	give_up_unplaceable(c);
	compact(c);
	hb.coordinator_id = c->coord_id;
	m.body_case = KTSTR__FARM_MSG__BODY_HEARTBEAT;
	m.heartbeat = &hb;
	for (size_t i = 0; i < c->n_workers; i++) {
		struct cworker *w = &c->workers[i];

		if (!w->alive)
			continue;
		if (now - w->last_seen > (uint64_t)KT_FARM_LOST_BEATS * c->hb_ms) {
			worker_lost(c, (int)i, "missed heartbeats");
			continue;
		}
		send_to(c, c->wsock, &w->peer, &m);
	}
	/* After a restart, attempts whose worker never came back. */
	if (c->grace_until && now >= c->grace_until) {
		c->grace_until = 0;
		for (size_t i = 0; i < c->n_entries; i++) {
			struct centry *e = &c->entries[i];

			if (e->r.state == KT_ENTRY_RUNNING && e->worker < 0)
				lose_attempt(c, e, "its worker did not return after a restart");
		}
	}
}

/* ---- start, loop, stop ---- */

static int load_run(void *ctx, const struct kt_store_run *r, struct kt_err *err)
{
	struct kt_coord *c = ctx;
	struct crun run = {0};

	(void)err;
	run.id = r->id;
	run.name = kt_xstrdup(r->name ? r->name : "");
	run.submitted_at = r->submitted_at;
	c->runs = kt_xrealloc(c->runs, (c->n_runs + 1) * sizeof(*c->runs));
	c->runs[c->n_runs++] = run;
	if (r->last_finish_seq > c->finish_seq)
		c->finish_seq = r->last_finish_seq;
	return 0;
}

static int load_entry(void *ctx, const struct kt_store_entry *se, struct kt_err *err)
{
	struct kt_coord *c = ctx;
	struct crun *run = run_by_id(c, se->run_id);
	Ktstr__Assignment *a;
	struct centry *e;

	if (c->n_entries && c->entries[c->n_entries - 1].id >= se->id)
		return kt_errf(err, "entries not loaded in id order (%llu)",
			       (unsigned long long)se->id);
	if (se->p.finish_seq > c->finish_seq)
		c->finish_seq = se->p.finish_seq;
	if (!run)
		return 0;
	run->total++;
	if (se->p.state == KT_STATE_DONE || se->p.state == KT_STATE_CANCELLED)
		return 0;
	a = ktstr__assignment__unpack(NULL, se->assignment_len, se->assignment);
	if (!a)
		return kt_errf(err, "entry %llu: stored assignment does not unpack",
			       (unsigned long long)se->id);
	e = add_entry(c);
	e->id = se->id;
	e->run_id = se->run_id;
	e->seq = se->seq;
	e->priority = se->priority;
	e->vcpus = se->vcpus;
	e->mem_mb = se->memory_mb;
	e->name = kt_xstrdup(se->name);
	e->tmpl = kt_xcalloc(se->assignment_len ? se->assignment_len : 1, 1);
	memcpy(e->tmpl, se->assignment, se->assignment_len);
	e->tmpl_len = se->assignment_len;
	e->needs_scx_ktstr = a->scheduler && !a->scheduler->binary && a->scheduler->name &&
			     !strcmp(a->scheduler->name, BUILTIN_SCX);
	ktstr__assignment__free_unpacked(a, NULL);
	e->r.attempt = se->p.attempt;
	e->r.infra_tries = se->p.infra_tries;
	if (se->p.state == KT_STATE_RUNNING) {
		e->r.state = KT_ENTRY_RUNNING;
		e->claim = kt_xstrdup(se->attempt_worker ? se->attempt_worker : "");
	} else {
		e->r.state = KT_ENTRY_QUEUED;
	}
	run->open++;
	return 0;
}

static void random_id(char *buf, size_t len)
{
	unsigned char b[8] = {0};
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
			memset(b, 0, sizeof(b));
		close(fd);
	}
	snprintf(buf, len, "%llx-%02x%02x%02x%02x%02x%02x%02x%02x",
		 (unsigned long long)wall_ms(), b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
}

int kt_coord_open(const struct kt_coord_opts *o, struct kt_coord **out, struct kt_err *err)
{
	struct kt_coord *c = kt_xcalloc(1, sizeof(*c));
	struct kt_store_loader l = {load_run, load_entry, c};
	size_t running = 0, queued = 0;

	c->o = *o;
	c->hb_ms = o->heartbeat_ms ? o->heartbeat_ms : KT_FARM_HEARTBEAT_MS;
	random_id(c->coord_id, sizeof(c->coord_id));
	if (kt_mkdir_p(o->cache_dir, err) || kt_store_open(o->db_path, false, &c->store, err) ||
	    kt_store_load_unfinished(c->store, &l, err))
		goto fail;
	for (size_t i = 0; i < c->n_entries; i++) {
		running += c->entries[i].r.state == KT_ENTRY_RUNNING;
		queued += c->entries[i].r.state == KT_ENTRY_QUEUED;
	}
	if (running)
		c->grace_until = kt_now_ms() + (uint64_t)(KT_FARM_LOST_BEATS + 2) * c->hb_ms;
	c->zctx = zmq_ctx_new();
	if (!c->zctx) {
		kt_errf(err, "zmq_ctx_new: %s", zmq_strerror(errno));
		goto fail;
	}
	c->wsock = kt_farm_socket(c->zctx, ZMQ_ROUTER, err);
	if (!c->wsock)
		goto fail;
	c->csock = kt_farm_socket(c->zctx, ZMQ_ROUTER, err);
	if (!c->csock)
		goto fail;
	if (zmq_bind(c->wsock, o->workers_ep)) {
		kt_errf(err, "bind %s: %s", o->workers_ep, zmq_strerror(errno));
		goto fail;
	}
	if (zmq_bind(c->csock, o->clients_ep)) {
		kt_errf(err, "bind %s: %s", o->clients_ep, zmq_strerror(errno));
		goto fail;
	}
	coord_log("coordinator %s: workers on %s, clients on %s, db %s; resumed %zu runs "
	     "(%zu entries queued, %zu running)", c->coord_id, o->workers_ep, o->clients_ep,
	     o->db_path, c->n_runs, queued, running);
	c->place_dirty = true;
	*out = c;
	return 0;
fail:
	kt_coord_close(c);
	return -1;
}

/* Read what one socket has, up to a bound; bad frames are logged, dropped. */
static void drain(struct kt_coord *c, void *sock, bool workers)
{
	for (int i = 0; i < MAX_MSGS_PER_ROUND; i++) {
		struct kt_farm_peer p;
		Ktstr__FarmMsg *m;
		struct kt_err err;
		int r = kt_farm_recv(sock, ZMQ_DONTWAIT, &p, &m, &err);

		if (r == 0)
			return;
		if (r < 0) {
			coord_log("%s socket: dropped: %s", workers ? "worker" : "client", err.msg);
			continue;
		}
		if (workers)
			on_worker_msg(c, &p, m);
		else
			on_client_msg(c, &p, m);
		kt_farm_msg_free(m);
	}
}

int kt_coord_run(struct kt_coord *c, volatile sig_atomic_t *stop, struct kt_err *err)
{
	uint64_t next_tick = kt_now_ms();

	while (!*stop) {
		zmq_pollitem_t items[2] = {{c->wsock, 0, ZMQ_POLLIN, 0}, {c->csock, 0, ZMQ_POLLIN, 0}};
		uint64_t now = kt_now_ms();
		long timeout = next_tick > now ? (long)(next_tick - now) : 0;

		if (zmq_poll(items, 2, timeout) < 0 && errno != EINTR)
			return kt_errf(err, "zmq_poll: %s", zmq_strerror(errno));
		/* Messages first: a stalled loop must not make live workers
		 * look lost because their heartbeats wait unread. */
		drain(c, c->wsock, true);
		drain(c, c->csock, false);
		if (kt_now_ms() >= next_tick) {
			tick(c);
			next_tick = kt_now_ms() + c->hb_ms;
			c->place_dirty = true;
		}
		if (c->place_dirty)
			place(c);
		tx_end(c);
		if (c->fatal)
			return kt_errf(err, "store: %s (unfinished runs resume on restart)",
				       c->txerr.msg);
	}
	tx_end(c);
	coord_log("stopping");
	return 0;
}

void kt_coord_close(struct kt_coord *c)
{
	if (!c)
		return;
	if (c->wsock)
		zmq_close(c->wsock);
	if (c->csock)
		zmq_close(c->csock);
	if (c->zctx)
		zmq_ctx_term(c->zctx);
	if (c->store)
		kt_store_close(c->store);
	for (size_t i = 0; i < c->n_entries; i++)
		entry_release(&c->entries[i]);
	free(c->entries);
	for (size_t i = 0; i < c->n_workers; i++)
		kt_strv_free(&c->workers[i].tags);
	free(c->workers);
	for (size_t i = 0; i < c->n_runs; i++)
		free(c->runs[i].name);
	free(c->runs);
	for (size_t i = 0; i < c->n_pend; i++)
		free(c->pend[i].buf);
	free(c->pend);
	free(c);
}
