#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "retry.h"

static enum kt_retry_do ev(struct kt_retry *r, enum kt_retry_ev kind, unsigned attempt,
			   enum kt_status status)
{
	struct kt_retry_event e = { kind, attempt, status };

	return kt_retry_step(r, &e);
}

static enum kt_retry_do assign(struct kt_retry *r)
{
	return ev(r, KT_EV_ASSIGN, 0, KT_PASS);
}

static void expect_state(const struct kt_retry *r, enum kt_entry_state st, unsigned attempt,
			 unsigned infra)
{
	assert_string_equal(kt_entry_state_name(r->state), kt_entry_state_name(st));
	assert_int_equal(r->attempt, attempt);
	assert_int_equal(r->infra_tries, infra);
}

static void test_assign(void **state)
{
	struct kt_retry r = { 0 };

	(void)state;
	expect_state(&r, KT_ENTRY_QUEUED, 0, 0);
	assert_int_equal(assign(&r), KT_DO_ASSIGN);
	expect_state(&r, KT_ENTRY_RUNNING, 1, 0);
	/* A second assignment of a running entry is a caller bug: ignored. */
	assert_int_equal(assign(&r), KT_DO_NOTHING);
	expect_state(&r, KT_ENTRY_RUNNING, 1, 0);
}

/* pass, fail, error and skip end the entry at once: never retried. */
static void test_final_outcomes(void **state)
{
	static const enum kt_status final[] = { KT_PASS, KT_FAIL, KT_ERROR, KT_SKIP };

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		struct kt_retry r = { 0 };

		assign(&r);
		assert_int_equal(ev(&r, KT_EV_OUTCOME, 1, final[i]), KT_DO_FINISH);
		expect_state(&r, KT_ENTRY_DONE, 1, 0);
		assert_int_equal(r.status, final[i]);
		/* Nothing moves a finished entry. */
		assert_int_equal(assign(&r), KT_DO_NOTHING);
		assert_int_equal(ev(&r, KT_EV_WORKER_LOST, 1, KT_PASS), KT_DO_NOTHING);
		assert_int_equal(ev(&r, KT_EV_HAND_BACK, 1, KT_PASS), KT_DO_NOTHING);
		assert_int_equal(ev(&r, KT_EV_CANCEL, 0, KT_PASS), KT_DO_NOTHING);
		expect_state(&r, KT_ENTRY_DONE, 1, 0);
		assert_int_equal(r.status, final[i]);
	}
}

static void test_infra_retried_then_recorded(void **state)
{
	struct kt_retry r = { 0 };

	(void)state;
	assign(&r);
	assert_int_equal(ev(&r, KT_EV_OUTCOME, 1, KT_INFRA), KT_DO_REQUEUE);
	expect_state(&r, KT_ENTRY_QUEUED, 1, 1);
	assign(&r);
	assert_int_equal(ev(&r, KT_EV_OUTCOME, 2, KT_INFRA), KT_DO_REQUEUE);
	expect_state(&r, KT_ENTRY_QUEUED, 2, 2);
	assign(&r);
	assert_int_equal(ev(&r, KT_EV_OUTCOME, 3, KT_INFRA), KT_DO_FINISH);
	expect_state(&r, KT_ENTRY_DONE, 3, 3);
	assert_int_equal(r.status, KT_INFRA);
}

static void test_infra_then_pass(void **state)
{
	struct kt_retry r = { 0 };

	(void)state;
	assign(&r);
	ev(&r, KT_EV_OUTCOME, 1, KT_INFRA);
	assign(&r);
	assert_int_equal(ev(&r, KT_EV_OUTCOME, 2, KT_PASS), KT_DO_FINISH);
	expect_state(&r, KT_ENTRY_DONE, 2, 1);
	assert_int_equal(r.status, KT_PASS);
}

/* A lost worker counts like an infra outcome, and shares its budget. */
static void test_worker_lost(void **state)
{
	struct kt_retry r = { 0 };

	(void)state;
	assign(&r);
	assert_int_equal(ev(&r, KT_EV_WORKER_LOST, 1, KT_PASS), KT_DO_REQUEUE);
	expect_state(&r, KT_ENTRY_QUEUED, 1, 1);
	assign(&r);
	ev(&r, KT_EV_OUTCOME, 2, KT_INFRA);
	assign(&r);
	assert_int_equal(ev(&r, KT_EV_WORKER_LOST, 3, KT_PASS), KT_DO_FINISH);
	expect_state(&r, KT_ENTRY_DONE, 3, 3);
	assert_int_equal(r.status, KT_INFRA);
}

/* A hand back requeues without spending an infra try. */
static void test_hand_back(void **state)
{
	struct kt_retry r = { 0 };

	(void)state;
	for (unsigned i = 1; i <= 5; i++) {
		assign(&r);
		assert_int_equal(ev(&r, KT_EV_HAND_BACK, i, KT_PASS), KT_DO_REQUEUE);
		expect_state(&r, KT_ENTRY_QUEUED, i, 0);
	}
	assign(&r);
	assert_int_equal(ev(&r, KT_EV_OUTCOME, 6, KT_FAIL), KT_DO_FINISH);
	expect_state(&r, KT_ENTRY_DONE, 6, 0);
	assert_int_equal(r.status, KT_FAIL);
}

/* The lost worker comes back and reports attempt 1 while attempt 2 runs:
 * stored, nothing changes; its loss or hand back of attempt 1 is ignored. */
static void test_stale_events(void **state)
{
	struct kt_retry r = { 0 };

	(void)state;
	assign(&r);
	ev(&r, KT_EV_WORKER_LOST, 1, KT_PASS);
	/* Requeued, not yet reassigned: attempt 1 is no longer running. */
	assert_int_equal(ev(&r, KT_EV_OUTCOME, 1, KT_PASS), KT_DO_STALE);
	expect_state(&r, KT_ENTRY_QUEUED, 1, 1);
	assign(&r);
	assert_int_equal(ev(&r, KT_EV_OUTCOME, 1, KT_FAIL), KT_DO_STALE);
	assert_int_equal(ev(&r, KT_EV_OUTCOME, 1, KT_INFRA), KT_DO_STALE);
	assert_int_equal(ev(&r, KT_EV_WORKER_LOST, 1, KT_PASS), KT_DO_NOTHING);
	assert_int_equal(ev(&r, KT_EV_HAND_BACK, 1, KT_PASS), KT_DO_NOTHING);
	expect_state(&r, KT_ENTRY_RUNNING, 2, 1);
	/* The current attempt still decides. */
	assert_int_equal(ev(&r, KT_EV_OUTCOME, 2, KT_PASS), KT_DO_FINISH);
	/* A resent outcome of the final attempt: stored again (idempotent). */
	assert_int_equal(ev(&r, KT_EV_OUTCOME, 2, KT_PASS), KT_DO_STALE);
	expect_state(&r, KT_ENTRY_DONE, 2, 1);
	assert_int_equal(r.status, KT_PASS);
}

/* Attempts never handed out are not stored anywhere. */
static void test_unknown_attempts(void **state)
{
	struct kt_retry r = { 0 };

	(void)state;
	assert_int_equal(ev(&r, KT_EV_OUTCOME, 0, KT_PASS), KT_DO_NOTHING);
	assert_int_equal(ev(&r, KT_EV_OUTCOME, 1, KT_PASS), KT_DO_NOTHING);
	assert_int_equal(ev(&r, KT_EV_WORKER_LOST, 1, KT_PASS), KT_DO_NOTHING);
	expect_state(&r, KT_ENTRY_QUEUED, 0, 0);
	assign(&r);
	assert_int_equal(ev(&r, KT_EV_OUTCOME, 2, KT_PASS), KT_DO_NOTHING);
	assert_int_equal(ev(&r, KT_EV_HAND_BACK, 2, KT_PASS), KT_DO_NOTHING);
	assert_int_equal(ev(&r, KT_EV_OUTCOME, 0, KT_PASS), KT_DO_NOTHING);
	assert_int_equal(ev(&r, KT_EV_OUTCOME, 1, (enum kt_status)99), KT_DO_NOTHING);
	expect_state(&r, KT_ENTRY_RUNNING, 1, 0);
}

static void test_cancel(void **state)
{
	struct kt_retry q = { 0 }, run = { 0 };

	(void)state;
	assert_int_equal(ev(&q, KT_EV_CANCEL, 0, KT_PASS), KT_DO_DEQUEUE);
	expect_state(&q, KT_ENTRY_CANCELLED, 0, 0);
	assert_int_equal(assign(&q), KT_DO_NOTHING);
	assert_int_equal(ev(&q, KT_EV_CANCEL, 0, KT_PASS), KT_DO_NOTHING);

	assign(&run);
	assert_int_equal(ev(&run, KT_EV_CANCEL, 0, KT_PASS), KT_DO_CANCEL);
	expect_state(&run, KT_ENTRY_CANCELLED, 1, 0);
	/* The stopped attempt still reports: kept as a record, state stays. */
	assert_int_equal(ev(&run, KT_EV_OUTCOME, 1, KT_INFRA), KT_DO_STALE);
	assert_int_equal(ev(&run, KT_EV_WORKER_LOST, 1, KT_PASS), KT_DO_NOTHING);
	assert_int_equal(ev(&run, KT_EV_HAND_BACK, 1, KT_PASS), KT_DO_NOTHING);
	assert_int_equal(assign(&run), KT_DO_NOTHING);
	expect_state(&run, KT_ENTRY_CANCELLED, 1, 0);
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(kt_entry_state_name(KT_ENTRY_QUEUED), "queued");
	assert_string_equal(kt_entry_state_name(KT_ENTRY_RUNNING), "running");
	assert_string_equal(kt_entry_state_name(KT_ENTRY_DONE), "done");
	assert_string_equal(kt_entry_state_name(KT_ENTRY_CANCELLED), "cancelled");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assign),
		cmocka_unit_test(test_final_outcomes),
		cmocka_unit_test(test_infra_retried_then_recorded),
		cmocka_unit_test(test_infra_then_pass),
		cmocka_unit_test(test_worker_lost),
		cmocka_unit_test(test_hand_back),
		cmocka_unit_test(test_stale_events),
		cmocka_unit_test(test_unknown_attempts),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
