#include <stdbool.h>
#include "retry.h"

const char *kt_entry_state_name(enum kt_entry_state s)
{
	switch (s) {
	case KT_ENTRY_QUEUED:
		return "queued";
	case KT_ENTRY_RUNNING:
		return "running";
	case KT_ENTRY_DONE:
		return "done";
	case KT_ENTRY_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

/* The attempt running now ended in infra (an infra outcome or a lost
 * worker): requeue it, or give up after KT_RETRY_MAX_INFRA tries. */
static enum kt_retry_do infra_try(struct kt_retry *r)
{
	if (++r->infra_tries >= KT_RETRY_MAX_INFRA) {
		r->state = KT_ENTRY_DONE;
		r->status = KT_INFRA;
		return KT_DO_FINISH;
	}
	r->state = KT_ENTRY_QUEUED;
	return KT_DO_REQUEUE;
}

static enum kt_retry_do outcome(struct kt_retry *r, enum kt_status status)
{
	if (status == KT_INFRA)
		return infra_try(r);
	r->state = KT_ENTRY_DONE;
	r->status = status;
	return KT_DO_FINISH;
}

static enum kt_retry_do cancel(struct kt_retry *r)
{
	enum kt_entry_state was = r->state;

	if (was != KT_ENTRY_QUEUED && was != KT_ENTRY_RUNNING)
		return KT_DO_NOTHING;
	r->state = KT_ENTRY_CANCELLED;
	return was == KT_ENTRY_RUNNING ? KT_DO_CANCEL : KT_DO_DEQUEUE;
}

enum kt_retry_do kt_retry_step(struct kt_retry *r, const struct kt_retry_event *ev)
{
	bool current;

	if (ev->kind == KT_EV_ASSIGN) {
		if (r->state != KT_ENTRY_QUEUED)
			return KT_DO_NOTHING;
		r->attempt++;
		r->state = KT_ENTRY_RUNNING;
		return KT_DO_ASSIGN;
	}
	if (ev->kind == KT_EV_CANCEL)
		return cancel(r);
	/* An attempt never handed out: nothing to store it under. */
	if (ev->attempt == 0 || ev->attempt > r->attempt)
		return KT_DO_NOTHING;
	current = r->state == KT_ENTRY_RUNNING && ev->attempt == r->attempt;
	switch (ev->kind) {
	case KT_EV_OUTCOME:
		if ((unsigned)ev->status > KT_SKIP)
			return KT_DO_NOTHING;
		return current ? outcome(r, ev->status) : KT_DO_STALE;
	case KT_EV_WORKER_LOST:
		return current ? infra_try(r) : KT_DO_NOTHING;
	case KT_EV_HAND_BACK:
		if (!current)
			return KT_DO_NOTHING;
		r->state = KT_ENTRY_QUEUED;
		return KT_DO_REQUEUE;
	default:
		return KT_DO_NOTHING;
	}
}
