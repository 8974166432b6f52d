/* The coordinator: one event loop over two ROUTER sockets (workers,
 * clients) that keeps the queue in memory and writes everything through to
 * the SQLite store, which is the truth after a restart.
 *
 *   client Submit -> matrix validated and expanded, kernels resolved into
 *                    the cache, scenario texts stored as artifacts, one
 *                    transaction inserts the run and its entries
 *   placement     -> kt_place() over queued entries and live workers;
 *                    each placement is an attempt (kt_retry_step ASSIGN)
 *   worker Outcome-> only from the worker its attempt went to (else acked
 *                    and dropped); stored idempotently by (entry, attempt)
 *                    under that worker's id, acked, then the attempt
 *                    state machine decides finish / requeue
 *   heartbeats    -> a worker silent for KT_FARM_LOST_BEATS intervals is
 *                    lost; its attempts are requeued. A heartbeat from a
 *                    worker it does not know asks for a hello; a hello's
 *                    running attempts that are no longer wanted are
 *                    cancelled. A worker that hands an assignment back
 *                    gets none for a heartbeat interval (no busy loop)
 *   restart       -> unfinished runs are loaded; entries that were running
 *                    wait one grace period for their worker to say hello
 *                    and claim them, else they are requeued
 *
 * Writes are batched: one transaction per loop iteration. What the loop
 * sends meanwhile (acks, assignments, hello acks) leaves after the commit,
 * so no peer acts on a state that a crash could still undo. */
#ifndef KTSTR_COORD_H
#define KTSTR_COORD_H
#include <signal.h>
#include "err.h"

struct kt_coord_opts {
	const char *db_path;
	const char *cache_dir;       /* kernels and artifacts it serves */
	const char *workers_ep;      /* ROUTER bind, e.g. tcp://127.0.0.1:7100 */
	const char *clients_ep;
	unsigned heartbeat_ms;       /* 0 = KT_FARM_HEARTBEAT_MS */
};

struct kt_coord;

int kt_coord_open(const struct kt_coord_opts *o, struct kt_coord **out, struct kt_err *err);
/* Serve until *STOP becomes nonzero (a signal handler sets it). */
int kt_coord_run(struct kt_coord *c, volatile sig_atomic_t *stop, struct kt_err *err);
void kt_coord_close(struct kt_coord *c);

#endif
