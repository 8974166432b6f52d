#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "entry_spec.h"
#include "workload.h"

#define RUN_MS 300
#define MS 1000000ull
#define MAXW 8
#define W(x) KTSTR__WORK_TYPE__WORK_##x

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

/* Run N workers of W for MS; OUT gets their stats (free with free_stats).
 * Every worker must stop on its own within the grace period. */
/* Wait (at most 10 s) until each of the N workers from FIRST has passed a
 * progress check: on a loaded host a released worker may wait long for a
 * CPU, and what it did in a fixed time is the host's load, not the
 * workload's behaviour. */
static void wait_running(const struct kt_workset *ws, unsigned first, unsigned n)
{
	uint32_t seen[KT_WORK_CPUS_SEEN];

	for (unsigned i = 0, tries = 0; i < n && tries < 2000; tries++) {
		if (kt_workset_segment_seen(ws, first + i, seen))
			i++;
		else
			sleep_ms(5);
	}
}

/* kt_workset_settle's argument for the sets run_n makes (0 = none). */
static uint32_t settle_ms;

static void run_n(const Ktstr__WorkSpec *w, unsigned n, unsigned ms, Ktstr__WorkerStats *out)
{
	struct kt_workset *ws;
	struct kt_err e;
	unsigned first;

	assert_int_equal(kt_workset_new(n, &ws, &e), 0);
	if (kt_workset_spawn(ws, w, n, &first, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(first, 0);
	for (unsigned i = 0; i < n; i++)
		assert_true(kt_workset_pid(ws, i) > 0);
	assert_int_equal(kt_workset_pid(ws, n), -1);
	kt_workset_settle(ws, settle_ms);
	kt_workset_start(ws);
	wait_running(ws, 0, n);
	sleep_ms(ms);
	assert_int_equal(kt_workset_stop(ws, 2000), 0);
	for (unsigned i = 0; i < n; i++) {
		ktstr__worker_stats__init(&out[i]);
		if (kt_workset_stats(ws, i, &out[i], &e))
			fail_msg("%s", e.msg);
		assert_int_equal(out[i].pid, kt_workset_pid(ws, i));
	}
	kt_workset_free(ws);
}

static void run2(const Ktstr__WorkSpec *w, unsigned ms, Ktstr__WorkerStats out[2])
{
	run_n(w, 2, ms, out);
}

static void free_n(Ktstr__WorkerStats *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		free(s[i].cpus_seen);
		free(s[i].wake_latency);
	}
}

static void free_stats(Ktstr__WorkerStats s[2])
{
	free_n(s, 2);
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
	/* run_n waited until it ran before timing RUN_MS; how much longer it
	 * took to stop is the host's load. */
	assert_true(s->wall_ns >= RUN_MS * MS / 2);
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
	assert_null(s[0].wake_latency);
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

/* A wake-based worker has samples, and its summary is consistent. */
static void check_wake(const Ktstr__WorkerStats *s)
{
	const Ktstr__WakeLatency *wl = s->wake_latency;

	assert_non_null(wl);
	print_message("  pid %u: wake count %llu p50 %llu us p99 %llu us max %llu us mean %llu us\n",
		      s->pid, (unsigned long long)wl->count, (unsigned long long)wl->p50_ns / 1000,
		      (unsigned long long)wl->p99_ns / 1000, (unsigned long long)wl->max_ns / 1000,
		      (unsigned long long)wl->mean_ns / 1000);
	assert_true(wl->count > 0);
	assert_int_equal(wl->samples, wl->count < KT_WORK_WAKE_KEEP ? wl->count : KT_WORK_WAKE_KEEP);
	assert_true(wl->p50_ns > 0);
	assert_true(wl->p50_ns <= wl->p99_ns);
	assert_true(wl->p99_ns <= wl->max_ns);
	assert_true(wl->mean_ns <= wl->max_ns);
	assert_true(wl->max_ns < s->wall_ns);
}

/* N workers of W, all sane; with WAKES, all with wake samples. */
static void each_n(const Ktstr__WorkSpec *w, unsigned n, bool wakes)
{
	Ktstr__WorkerStats s[MAXW];

	assert_true(n <= MAXW);
	run_n(w, n, RUN_MS, s);
	for (unsigned i = 0; i < n; i++) {
		check_sane(&s[i], w->type);
		if (wakes)
			check_wake(&s[i]);
		else
			assert_null(s[i].wake_latency);
	}
	free_n(s, n);
}

static void cache_pressure(void **state)
{
	Ktstr__WorkSpec w = work(W(CACHE_PRESSURE));

	(void)state;
	each_n(&w, 2, false);
	w.size_kb = 256;
	w.stride = 4096;
	each_n(&w, 1, false);
}

static void cache_yield(void **state)
{
	Ktstr__WorkSpec w = work(W(CACHE_YIELD));

	(void)state;
	each_n(&w, 2, false);
}

static void fork_exit(void **state)
{
	Ktstr__WorkSpec w = work(W(FORK_EXIT));

	(void)state;
	each_n(&w, 2, false);
}

static void nice_sweep(void **state)
{
	Ktstr__WorkSpec w = work(W(NICE_SWEEP));

	(void)state;
	if (geteuid()) /* lowering nice again needs CAP_SYS_NICE */
		skip();
	each_n(&w, 2, false);
}

/* The churn is visible: the workers move between the CPUs they may use. */
static void affinity_churn(void **state)
{
	Ktstr__WorkSpec w = work(W(AFFINITY_CHURN));
	Ktstr__WorkerStats s[2];
	cpu_set_t mine;

	(void)state;
	assert_int_equal(sched_getaffinity(0, sizeof(mine), &mine), 0);
	run2(&w, RUN_MS, s);
	for (int i = 0; i < 2; i++) {
		check_sane(&s[i], W(AFFINITY_CHURN));
		for (size_t k = 0; k < s[i].n_cpus_seen; k++)
			assert_true(CPU_ISSET(s[i].cpus_seen[k], &mine));
		if (CPU_COUNT(&mine) > 1) {
			assert_true(s[i].n_cpus_seen > 1);
			assert_true(s[i].migrations > 0);
		}
	}
	free_stats(s);
}

static void policy_churn(void **state)
{
	Ktstr__WorkSpec w = work(W(POLICY_CHURN));

	(void)state;
	if (geteuid()) /* leaving SCHED_IDLE needs CAP_SYS_NICE */
		skip();
	each_n(&w, 2, false);
}

static void page_fault_churn(void **state)
{
	Ktstr__WorkSpec w = work(W(PAGE_FAULT_CHURN));

	(void)state;
	each_n(&w, 2, false);
	w.region_kb = 4;
	each_n(&w, 1, false);
}

static Ktstr__Phase phase(Ktstr__WorkType t, uint32_t ms, bool sleep)
{
	Ktstr__Phase p = KTSTR__PHASE__INIT;

	p.work = t;
	p.ms = ms;
	p.sleep = sleep;
	return p;
}

/* Every type a phase can be, cycled. */
static void sequence(void **state)
{
	Ktstr__Phase ph[] = {
		phase(W(CPU_SPIN), 20, false), phase(0, 10, true), phase(W(YIELD_HEAVY), 10, false),
		phase(W(MIXED), 10, false), phase(W(IO_SYNC), 10, false),
		phase(W(CACHE_PRESSURE), 10, false), phase(W(CACHE_YIELD), 10, false),
		phase(W(FORK_EXIT), 10, false), phase(W(PAGE_FAULT_CHURN), 10, false),
	};
	Ktstr__Phase *pp[sizeof(ph) / sizeof(ph[0])];
	Ktstr__WorkSpec w = work(W(SEQUENCE));

	(void)state;
	for (size_t i = 0; i < sizeof(ph) / sizeof(ph[0]); i++)
		pp[i] = &ph[i];
	w.phases = pp;
	w.n_phases = sizeof(ph) / sizeof(ph[0]);
	each_n(&w, 2, false);
}

/* A sleep phase is not a gap, as bursty's sleep is not. */
static void sequence_gap(void **state)
{
	Ktstr__Phase ph[] = { phase(W(CPU_SPIN), 20, false), phase(0, 1500, true) };
	Ktstr__Phase *pp[] = { &ph[0], &ph[1] };
	Ktstr__WorkSpec w = work(W(SEQUENCE));
	Ktstr__WorkerStats s[2];

	(void)state;
	w.phases = pp;
	w.n_phases = 2;
	run2(&w, 1700, s);
	for (int i = 0; i < 2; i++) {
		assert_true(s[i].work_units > 0);
		assert_true(s[i].wall_ns >= 1520 * MS);
		assert_true(s[i].max_gap_ns < 1000 * MS);
	}
	free_stats(s);
}

/* The two of a pair progress in lock step: a unit is a round trip. */
static void lock_step(const Ktstr__WorkerStats *s, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		uint64_t a = s[0].work_units, b = s[i].work_units;

		assert_true(a > 10 && b > 10);
		assert_true(a > b ? a - b <= 1 : b - a <= 1);
	}
}

static void futex_ping_pong(void **state)
{
	Ktstr__WorkSpec w = work(W(FUTEX_PING_PONG));
	Ktstr__WorkerStats s[4];

	(void)state;
	run_n(&w, 4, RUN_MS, s);
	for (unsigned i = 0; i < 4; i++) {
		check_sane(&s[i], W(FUTEX_PING_PONG));
		check_wake(&s[i]);
	}
	lock_step(s, 2);
	lock_step(s + 2, 2);
	free_n(s, 4);
}

static void cache_pipe(void **state)
{
	Ktstr__WorkSpec w = work(W(CACHE_PIPE));
	Ktstr__WorkerStats s[2];

	(void)state;
	run2(&w, RUN_MS, s);
	for (unsigned i = 0; i < 2; i++) {
		check_sane(&s[i], W(CACHE_PIPE));
		check_wake(&s[i]);
	}
	lock_step(s, 2);
	free_stats(s);
}

/* One waker and its waiters move round by round. */
static void fan_out(Ktstr__WorkType t, uint32_t fan_out, unsigned n)
{
	Ktstr__WorkSpec w = work(t);
	Ktstr__WorkerStats s[MAXW];

	w.fan_out = fan_out;
	run_n(&w, n, RUN_MS, s);
	for (unsigned i = 0; i < n; i++) {
		check_sane(&s[i], t);
		check_wake(&s[i]);
	}
	for (unsigned g = 0; g < n; g += fan_out + 1)
		lock_step(s + g, fan_out + 1);
	free_n(s, n);
}

static void futex_fan_out(void **state)
{
	(void)state;
	fan_out(W(FUTEX_FAN_OUT), 0, 5); /* the default: 4 waiters */
	fan_out(W(FUTEX_FAN_OUT), 1, 4);
}

static void fan_out_compute(void **state)
{
	(void)state;
	fan_out(W(FAN_OUT_COMPUTE), 2, 6);
}

static void mutex_contention(void **state)
{
	Ktstr__WorkSpec w = work(W(MUTEX_CONTENTION));

	(void)state;
	each_n(&w, 4, true);
	w.contenders = 2;
	each_n(&w, 2, true);
}

/* A child of a fork_exit worker never outlives it: with this process as
 * the subreaper of everything below it, nothing is left to reap after a
 * stop, a kill of a worker mid-fork, and free. */
static void fork_exit_reaps(void **state)
{
	Ktstr__WorkSpec w = work(W(FORK_EXIT));
	struct kt_workset *ws;
	struct kt_err e;
	unsigned first;
	int st;

	(void)state;
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(kt_workset_new(3, &ws, &e), 0);
	assert_int_equal(kt_workset_spawn(ws, &w, 3, &first, &e), 0);
	kt_workset_start(ws);
	sleep_ms(200);
	assert_int_equal(kt_workset_stop(ws, 2000), 0);
	for (unsigned i = 0; i < 3; i++) {
		Ktstr__WorkerStats s = KTSTR__WORKER_STATS__INIT;

		assert_int_equal(kt_workset_stats(ws, i, &s, &e), 0);
		assert_true(s.work_units > 10);
		free(s.cpus_seen);
	}
	kt_workset_free(ws);
	errno = 0;
	assert_int_equal(waitpid(-1, &st, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

/* A group member that dies does not hang the rest: they stop on their own
 * at the stop, within the grace period, and the death is reported. A
 * mutex holder that dies hands the (robust) mutex on. */
static void group_member_dies(Ktstr__WorkType t, unsigned n, unsigned victim)
{
	Ktstr__WorkSpec w = work(t);
	struct kt_workset *ws;
	struct kt_err e;
	unsigned first;

	assert_int_equal(kt_workset_new(n, &ws, &e), 0);
	assert_int_equal(kt_workset_spawn(ws, &w, n, &first, &e), 0);
	kt_workset_start(ws);
	wait_running(ws, first, n);
	sleep_ms(100);
	assert_int_equal(kill(kt_workset_pid(ws, victim), SIGKILL), 0);
	sleep_ms(150);
	assert_int_equal(kt_workset_stop(ws, 2000), 0);
	for (unsigned i = 0; i < n; i++) {
		Ktstr__WorkerStats s = KTSTR__WORKER_STATS__INIT;

		assert_int_equal(kt_workset_death_signal(ws, i), i == victim ? SIGKILL : 0);
		assert_int_equal(kt_workset_stats(ws, i, &s, &e), i == victim ? -1 : 0);
		assert_true(s.work_units > 0);
		free(s.cpus_seen);
		free(s.wake_latency);
	}
	kt_workset_free(ws);
}

static void group_deaths(void **state)
{
	(void)state;
	group_member_dies(W(FUTEX_PING_PONG), 2, 1);
	group_member_dies(W(FUTEX_FAN_OUT), 5, 0);
	group_member_dies(W(FUTEX_FAN_OUT), 5, 3);
	group_member_dies(W(FAN_OUT_COMPUTE), 5, 2);
	group_member_dies(W(CACHE_PIPE), 2, 0);
	for (int i = 0; i < 3; i++)
		group_member_dies(W(MUTEX_CONTENTION), 4, (unsigned)i);
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
	check_wake(&s[0]);
	check_wake(&s[1]);
	a = s[0].work_units;
	b = s[1].work_units;
	assert_true(a > 10 && b > 10);
	assert_true(a > b ? a - b <= 1 : b - a <= 1);
	free_stats(s);
}

/* The settle sample: taken at the first check past the warm-up, within
 * the run, with the run delay of that moment; none without a warm-up. */
static void settle_sample(void **state)
{
	Ktstr__WorkSpec w = work(KTSTR__WORK_TYPE__WORK_CPU_SPIN);
	Ktstr__WorkerStats s[3];

	(void)state;
	settle_ms = 200;
	run_n(&w, 3, 700, s);
	settle_ms = 0;
	for (int i = 0; i < 3; i++) {
		assert_true(s[i].settle_wall_ns >= 200 * MS);
		assert_true(s[i].settle_wall_ns < s[i].wall_ns);
		assert_true(s[i].settle_run_delay_ns <= s[i].run_delay_ns);
	}
	free_n(s, 3);
	run_n(&w, 3, 300, s);
	for (int i = 0; i < 3; i++)
		assert_true(s[i].settle_wall_ns == 0 && s[i].settle_run_delay_ns == 0);
	free_n(s, 3);
}

/* The bursty sleep is not a gap: after a 20 ms burst and a 1.5 s sleep the
 * largest gap stays below 1 s (long, so that a loaded host's preemption
 * cannot pass for a counted sleep). */
static void bursty_gap(void **state)
{
	Ktstr__WorkSpec w = work(KTSTR__WORK_TYPE__WORK_BURSTY);
	Ktstr__WorkerStats s[2];

	(void)state;
	w.burst_ms = 20;
	w.sleep_ms = 1500;
	run2(&w, 1700, s);
	for (int i = 0; i < 2; i++) {
		assert_true(s[i].work_units > 0);
		assert_true(s[i].wall_ns >= 1520 * MS);
		assert_true(s[i].max_gap_ns < 1000 * MS);
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
	wait_running(ws, first, 2);
	sleep_ms(200);
	killed = kt_workset_stop(ws, 0);
	assert_true(killed <= 2);
	assert_int_equal(kt_workset_stop(ws, 0), 0); /* idempotent */
	for (unsigned i = 0; i < 2; i++) {
		Ktstr__WorkerStats s = KTSTR__WORKER_STATS__INIT;

		assert_int_equal(kt_workset_stats(ws, i, &s, &e), 0);
		assert_true(s.work_units > 0);
		assert_true(s.wall_ns > 0); /* how long it ran depends on the host's load */
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
	static const Ktstr__WorkType types[] = { W(PIPE_IO), W(FUTEX_PING_PONG),
						 W(MUTEX_CONTENTION), W(FAN_OUT_COMPUTE) };
	struct kt_workset *ws;
	struct kt_err e;
	unsigned first;
	pid_t pids[4];

	(void)state;
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		Ktstr__WorkSpec w = work(types[t]);

		w.fan_out = 3;
		assert_int_equal(kt_workset_new(4, &ws, &e), 0);
		assert_int_equal(kt_workset_spawn(ws, &w, 4, &first, &e), 0);
		for (unsigned i = 0; i < 4; i++)
			pids[i] = kt_workset_pid(ws, i);
		assert_int_equal(kt_workset_stop(ws, 2000), 0); /* they exit on their own */
		kt_workset_free(ws);
		for (unsigned i = 0; i < 4; i++)
			assert_int_equal(kill(pids[i], 0), -1);
	}
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
	w = work(W(FUTEX_PING_PONG));
	expect_err(&w, 1, "futex_ping_pong needs an even number of workers, got 1");
	w = work(W(CACHE_PIPE));
	expect_err(&w, 3, "cache_pipe needs an even number of workers, got 3");
	w = work(W(FUTEX_FAN_OUT));
	expect_err(&w, 4, "futex_fan_out works in groups of fan_out + 1 (5: one waker, 4 waiters): "
		   "needs a multiple of 5 workers, got 4");
	w.fan_out = 256;
	expect_err(&w, 1, "futex_fan_out: fan_out 256 is not in 1..255");
	w = work(W(FAN_OUT_COMPUTE));
	w.fan_out = 2;
	expect_err(&w, 4, "fan_out_compute works in groups of fan_out + 1 (3:");
	w = work(W(MUTEX_CONTENTION));
	expect_err(&w, 2, "mutex_contention works in groups of contenders (4) sharing a mutex: "
		   "needs a multiple of 4 workers, got 2");
	w.contenders = 1;
	expect_err(&w, 1, "mutex_contention: contenders 1 is not in 2..256");
	w = work(W(CACHE_PRESSURE));
	w.size_kb = 65537;
	expect_err(&w, 1, "cache_pressure: size_kb 65537 is not in 1..65536");
	w = work(W(CACHE_YIELD));
	w.size_kb = 1;
	w.stride = 1025;
	expect_err(&w, 1, "cache_yield: stride 1025 is larger than the buffer (1 KiB)");
	w.size_kb = 0;
	w.stride = 32769; /* past the default 32 KiB */
	expect_err(&w, 1, "cache_yield: stride 32769 is larger than the buffer (32 KiB)");
	w = work(W(PAGE_FAULT_CHURN));
	w.region_kb = 2;
	expect_err(&w, 1, "page_fault_churn: region_kb 2 is not in 4..262144");
	w = work(W(SEQUENCE));
	expect_err(&w, 1, "sequence: 0 phases, expected 1..16");
	assert_int_equal(kt_spec_work_group(NULL), 1);
	assert_int_equal(kt_spec_work_group(&w), 1);
	w = work(W(FUTEX_FAN_OUT));
	assert_int_equal(kt_spec_work_group(&w), 5);
	w.fan_out = UINT32_MAX; /* refused by the check, and still no division by 0 */
	assert_int_equal(kt_spec_work_group(&w), KT_SPEC_MAX_FAN_OUT + 1);
	w = work(W(MUTEX_CONTENTION));
	w.contenders = 7;
	assert_int_equal(kt_spec_work_group(&w), 7);
	w = work(W(CACHE_PIPE));
	assert_int_equal(kt_spec_work_group(&w), 2);
	w = work(W(SEQUENCE));
	{
		Ktstr__Phase p0 = phase(W(PIPE_IO), 10, false), p1 = phase(0, 10, true);
		Ktstr__Phase p2 = phase(W(CPU_SPIN), 0, false), p3 = phase((Ktstr__WorkType)77, 5, false);
		Ktstr__Phase *pp[KT_SPEC_MAX_PHASES + 1];

		for (int i = 0; i <= KT_SPEC_MAX_PHASES; i++)
			pp[i] = &p1;
		w.phases = pp;
		w.n_phases = 1;
		expect_err(&w, 1, "sequence: every phase sleeps, so it would do no work");
		w.n_phases = KT_SPEC_MAX_PHASES + 1;
		expect_err(&w, 1, "sequence: 17 phases, expected 1..16");
		pp[0] = &p0;
		w.n_phases = 2;
		expect_err(&w, 1, "sequence: phase 0: pipe_io cannot be a phase");
		pp[0] = &p3;
		expect_err(&w, 1, "sequence: phase 0: an unknown work type cannot be a phase");
		pp[1] = &p2;
		pp[0] = &p1;
		expect_err(&w, 1, "sequence: phase 1: ms 0 is not in 1..60000");
	}
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
		cmocka_unit_test(cache_pressure),
		cmocka_unit_test(cache_yield),
		cmocka_unit_test(fork_exit),
		cmocka_unit_test(nice_sweep),
		cmocka_unit_test(affinity_churn),
		cmocka_unit_test(policy_churn),
		cmocka_unit_test(page_fault_churn),
		cmocka_unit_test(sequence),
		cmocka_unit_test(sequence_gap),
		cmocka_unit_test(futex_ping_pong),
		cmocka_unit_test(cache_pipe),
		cmocka_unit_test(futex_fan_out),
		cmocka_unit_test(fan_out_compute),
		cmocka_unit_test(mutex_contention),
		cmocka_unit_test(fork_exit_reaps),
		cmocka_unit_test(group_deaths),
		cmocka_unit_test(bursty_gap),
		cmocka_unit_test(settle_sample),
		cmocka_unit_test(killed_keep_numbers),
		cmocka_unit_test(died_of_signal),
		cmocka_unit_test(killed_is_not_death),
		cmocka_unit_test(never_started),
		cmocka_unit_test(bad_specs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
