#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "entry_spec.h"
#include "workload.h"

#define RUN_MS 300
#define MS 1000000ull

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static Ktstr__WorkSpec work(Ktstr__WorkType type)
{
	Ktstr__WorkSpec w = KTSTR__WORK_SPEC__INIT;

	w.type = type;
	return w;
}

/* Run 2 workers of W for MS; OUT gets their stats (free with free_stats). */
static void run2(const Ktstr__WorkSpec *w, unsigned ms, Ktstr__WorkerStats out[2])
{
	struct kt_workset *ws;
	struct kt_err e;
	unsigned first;

	assert_int_equal(kt_workset_new(2, &ws, &e), 0);
	if (kt_workset_spawn(ws, w, 2, &first, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(first, 0);
	assert_true(kt_workset_pid(ws, 0) > 0 && kt_workset_pid(ws, 1) > 0);
	assert_int_equal(kt_workset_pid(ws, 2), -1);
	kt_workset_start(ws);
	sleep_ms(ms);
	assert_int_equal(kt_workset_stop(ws, 2000), 0);
	for (unsigned i = 0; i < 2; i++) {
		ktstr__worker_stats__init(&out[i]);
		if (kt_workset_stats(ws, i, &out[i], &e))
			fail_msg("%s", e.msg);
		assert_int_equal(out[i].pid, kt_workset_pid(ws, i));
	}
	kt_workset_free(ws);
}

static void free_stats(Ktstr__WorkerStats s[2])
{
	free(s[0].cpus_seen);
	free(s[1].cpus_seen);
}

static void check_sane(const Ktstr__WorkerStats *s, Ktstr__WorkType type)
{
	print_message("  type %d pid %u: units %llu cpu %llu us wall %llu us gap %llu us "
		      "migr %llu run %llu us delay %llu us slices %llu cpus %zu\n", (int)type,
		      s->pid, (unsigned long long)s->work_units,
		      (unsigned long long)s->cpu_ns / 1000, (unsigned long long)s->wall_ns / 1000,
		      (unsigned long long)s->max_gap_ns / 1000,
		      (unsigned long long)s->migrations, (unsigned long long)s->run_ns / 1000,
		      (unsigned long long)s->run_delay_ns / 1000,
		      (unsigned long long)s->timeslices, s->n_cpus_seen);
	assert_int_equal(s->work_type, type);
	assert_true(s->work_units > 0);
	assert_true(s->cpu_ns > 0);
	/* A worker released late on a busy host runs for less than RUN_MS. */
	assert_true(s->wall_ns >= RUN_MS * MS / 2);
	assert_true(s->wall_ns <= RUN_MS * MS + 1000 * MS);
	assert_true(s->n_cpus_seen > 0);
	assert_true(s->max_gap_ns <= s->wall_ns);
	assert_true(s->run_ns > 0); /* schedstat */
	assert_true(s->timeslices > 0);
}

static void each_type(Ktstr__WorkType type)
{
	Ktstr__WorkSpec w = work(type);
	Ktstr__WorkerStats s[2];

	run2(&w, RUN_MS, s);
	check_sane(&s[0], type);
	check_sane(&s[1], type);
	free_stats(s);
}

static void cpu_spin(void **state)
{
	(void)state;
	each_type(KTSTR__WORK_TYPE__WORK_CPU_SPIN);
}

static void yield_heavy(void **state)
{
	(void)state;
	each_type(KTSTR__WORK_TYPE__WORK_YIELD_HEAVY);
}

static void mixed(void **state)
{
	(void)state;
	each_type(KTSTR__WORK_TYPE__WORK_MIXED);
}

static void io_sync(void **state)
{
	(void)state;
	each_type(KTSTR__WORK_TYPE__WORK_IO_SYNC);
}

static void bursty(void **state)
{
	(void)state;
	each_type(KTSTR__WORK_TYPE__WORK_BURSTY);
}

/* Both sides of a pair progress in lock step: a unit is a round trip. */
static void pipe_io(void **state)
{
	Ktstr__WorkSpec w = work(KTSTR__WORK_TYPE__WORK_PIPE_IO);
	Ktstr__WorkerStats s[2];
	uint64_t a, b;

	(void)state;
	run2(&w, RUN_MS, s);
	check_sane(&s[0], KTSTR__WORK_TYPE__WORK_PIPE_IO);
	check_sane(&s[1], KTSTR__WORK_TYPE__WORK_PIPE_IO);
	a = s[0].work_units;
	b = s[1].work_units;
	assert_true(a > 10 && b > 10);
	assert_true(a > b ? a - b <= 1 : b - a <= 1);
	free_stats(s);
}

/* The bursty sleep is not a gap: after a 20 ms burst and a 400 ms sleep
 * the largest gap stays well below 400 ms. */
static void bursty_gap(void **state)
{
	Ktstr__WorkSpec w = work(KTSTR__WORK_TYPE__WORK_BURSTY);
	Ktstr__WorkerStats s[2];

	(void)state;
	w.burst_ms = 20;
	w.sleep_ms = 400;
	run2(&w, 700, s);
	for (int i = 0; i < 2; i++) {
		assert_true(s[i].work_units > 0);
		assert_true(s[i].wall_ns >= 420 * MS);
		assert_true(s[i].max_gap_ns < 300 * MS);
	}
	free_stats(s);
}

/* A worker killed after the grace period still leaves its numbers. */
static void killed_keep_numbers(void **state)
{
	Ktstr__WorkSpec w = work(KTSTR__WORK_TYPE__WORK_CPU_SPIN);
	struct kt_workset *ws;
	struct kt_err e;
	unsigned first, killed;

	(void)state;
	assert_int_equal(kt_workset_new(2, &ws, &e), 0);
	assert_int_equal(kt_workset_spawn(ws, &w, 2, &first, &e), 0);
	kt_workset_start(ws);
	sleep_ms(200);
	killed = kt_workset_stop(ws, 0);
	assert_true(killed <= 2);
	assert_int_equal(kt_workset_stop(ws, 0), 0); /* idempotent */
	for (unsigned i = 0; i < 2; i++) {
		Ktstr__WorkerStats s = KTSTR__WORKER_STATS__INIT;

		assert_int_equal(kt_workset_stats(ws, i, &s, &e), 0);
		assert_true(s.work_units > 0);
		assert_true(s.wall_ns >= 100 * MS);
		free(s.cpus_seen);
	}
	kt_workset_free(ws);
}

/* A worker killed by a signal the set did not send fails its stats with
 * the signal named, and still leaves its numbers; its partner is fine. */
static void died_of_signal(void **state)
{
	Ktstr__WorkSpec w = work(KTSTR__WORK_TYPE__WORK_CPU_SPIN);
	Ktstr__WorkerStats s[2] = {KTSTR__WORKER_STATS__INIT, KTSTR__WORKER_STATS__INIT};
	struct kt_workset *ws;
	struct kt_err e = {{0}};
	unsigned first;

	(void)state;
	assert_int_equal(kt_workset_new(2, &ws, &e), 0);
	assert_int_equal(kt_workset_spawn(ws, &w, 2, &first, &e), 0);
	kt_workset_start(ws);
	sleep_ms(200);
	assert_int_equal(kill(kt_workset_pid(ws, 1), SIGTERM), 0);
	sleep_ms(50);
	assert_int_equal(kt_workset_stop(ws, 2000), 0);
	assert_int_equal(kt_workset_death_signal(ws, 0), 0);
	assert_int_equal(kt_workset_death_signal(ws, 1), SIGTERM);
	assert_int_equal(kt_workset_death_signal(ws, 2), 0); /* no such worker */
	assert_int_equal(kt_workset_stats(ws, 0, &s[0], &e), 0);
	assert_int_equal(kt_workset_stats(ws, 1, &s[1], &e), -1);
	if (!strstr(e.msg, "worker 1 (WORK_CPU_SPIN") || !strstr(e.msg, "died of signal 15"))
		fail_msg("unexpected error '%s'", e.msg);
	assert_true(s[0].work_units > 0 && s[1].work_units > 0);
	free_stats(s);
	kt_workset_free(ws);
}

/* Workers the set had to kill after the grace period did not "die". */
static void killed_is_not_death(void **state)
{
	Ktstr__WorkSpec w = work(KTSTR__WORK_TYPE__WORK_CPU_SPIN);
	struct kt_workset *ws;
	struct kt_err e;
	unsigned first;

	(void)state;
	assert_int_equal(kt_workset_new(1, &ws, &e), 0);
	assert_int_equal(kt_workset_spawn(ws, &w, 1, &first, &e), 0);
	kt_workset_start(ws);
	sleep_ms(50);
	kt_workset_stop(ws, 0);
	assert_int_equal(kt_workset_death_signal(ws, 0), 0);
	kt_workset_free(ws);
}

/* Spawned but never started: free ends them without a hang. */
static void never_started(void **state)
{
	Ktstr__WorkSpec w = work(KTSTR__WORK_TYPE__WORK_PIPE_IO);
	struct kt_workset *ws;
	struct kt_err e;
	unsigned first;
	pid_t pids[4];

	(void)state;
	assert_int_equal(kt_workset_new(4, &ws, &e), 0);
	assert_int_equal(kt_workset_spawn(ws, &w, 4, &first, &e), 0);
	for (unsigned i = 0; i < 4; i++)
		pids[i] = kt_workset_pid(ws, i);
	assert_int_equal(kt_workset_stop(ws, 2000), 0); /* they exit on their own */
	kt_workset_free(ws);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(kill(pids[i], 0), -1);
}

static void expect_err(const Ktstr__WorkSpec *w, unsigned n, const char *want)
{
	struct kt_workset *ws;
	struct kt_err e = {{0}};
	unsigned first;

	assert_int_equal(kt_workset_new(4, &ws, &e), 0);
	assert_int_equal(kt_workset_spawn(ws, w, n, &first, &e), -1);
	if (!strstr(e.msg, want))
		fail_msg("error '%s' lacks '%s'", e.msg, want);
	assert_int_equal(kt_workset_pid(ws, 0), -1); /* none forked */
	kt_workset_free(ws);
}

static void bad_specs(void **state)
{
	Ktstr__WorkSpec w = work(KTSTR__WORK_TYPE__WORK_PIPE_IO);
	struct kt_workset *ws;
	struct kt_err e;

	(void)state;
	expect_err(&w, 3, "pipe_io needs an even number of workers, got 3");
	w = work(KTSTR__WORK_TYPE__WORK_BURSTY);
	w.sleep_ms = 10;
	expect_err(&w, 1, "burst_ms 0 must be in 1..60000");
	w.burst_ms = 10;
	w.sleep_ms = 60001;
	expect_err(&w, 1, "sleep_ms 60001");
	w = work((Ktstr__WorkType)42);
	expect_err(&w, 1, "unknown work type 42");
	w = work(KTSTR__WORK_TYPE__WORK_CPU_SPIN);
	expect_err(&w, 5, "5 more workers do not fit");
	assert_int_equal(kt_spec_work_check(&w, 1, &e), 0);
	assert_int_equal(kt_workset_new(0, &ws, &e), -1);
	assert_int_equal(kt_workset_new(KT_WORKSET_MAX + 1, &ws, &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cpu_spin),
		cmocka_unit_test(yield_heavy),
		cmocka_unit_test(mixed),
		cmocka_unit_test(io_sync),
		cmocka_unit_test(bursty),
		cmocka_unit_test(pipe_io),
		cmocka_unit_test(bursty_gap),
		cmocka_unit_test(killed_keep_numbers),
		cmocka_unit_test(died_of_signal),
		cmocka_unit_test(killed_is_not_death),
		cmocka_unit_test(never_started),
		cmocka_unit_test(bad_specs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
