/* Worker segments (kt_workset_segment_next / _seen): a new segment starts
 * empty until the worker takes it up, then holds only what the worker saw
 * since. Real forked workers; waits are bounded polls, not timings. */
#define _GNU_SOURCE
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "util.h"
#include "workload.h"

/* Poll until worker I's current segment has seen a CPU (up to 10 s). */
static size_t wait_seen(struct kt_workset *ws, unsigned i, uint32_t *out)
{
	size_t n = 0;

	for (int k = 0; k < 1000 && !(n = kt_workset_segment_seen(ws, i, out)); k++) {
		struct timespec ts = {0, 10000000};

		nanosleep(&ts, NULL);
	}
	return n;
}

static void test_segments(void **state)
{
	Ktstr__WorkSpec w = KTSTR__WORK_SPEC__INIT;
	struct kt_workset *ws;
	uint32_t seen[KT_WORK_CPUS_SEEN];
	unsigned first;
	struct kt_err e;
	cpu_set_t one;
	size_t n;

	(void)state;
	w.type = KTSTR__WORK_TYPE__WORK_YIELD_HEAVY;
	assert_int_equal(kt_workset_new(1, &ws, &e), 0);
	assert_int_equal(kt_workset_spawn(ws, &w, 1, &first, &e), 0);
	/* Segment 0 from the start: nothing seen before the worker runs. */
	assert_int_equal(kt_workset_segment_seen(ws, 0, seen), 0);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	assert_int_equal(sched_setaffinity(kt_workset_pid(ws, 0), sizeof(one), &one), 0);
	kt_workset_start(ws);
	n = wait_seen(ws, 0, seen);
	assert_int_equal(n, 1);
	assert_int_equal(seen[0], 0);
	/* Moved to CPU 1 (the change first, then the request): the new
	 * segment never shows CPU 0. */
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
		CPU_ZERO(&one);
		CPU_SET(1, &one);
		assert_int_equal(sched_setaffinity(kt_workset_pid(ws, 0), sizeof(one), &one), 0);
		kt_workset_segment_next(ws, 0);
		n = wait_seen(ws, 0, seen);
		assert_int_equal(n, 1);
		assert_int_equal(seen[0], 1);
	}
	/* Right after a request, until the worker takes it up: nothing. */
	kt_workset_stop(ws, 2000);
	kt_workset_segment_next(ws, 0);
	assert_int_equal(kt_workset_segment_seen(ws, 0, seen), 0);
	/* Out of range: nothing, no crash. */
	kt_workset_segment_next(ws, 7);
	assert_int_equal(kt_workset_segment_seen(ws, 7, seen), 0);
	kt_workset_free(ws);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_segments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
