/* Worker processes and their telemetry.
 *
 * A workset is a group of forked workers that start together and stop
 * together (one scenario step). Each worker writes its numbers into its own
 * MAP_SHARED page as it goes, so a worker that had to be killed still
 * leaves what it measured. Nothing here touches cgroups: the caller moves
 * the pids where it wants between spawn and start.
 *
 * Work units (a spin unit is 1000 rounds of a 64-bit LCG, the result kept;
 * a cache pass touches every STRIDE-th byte of a SIZE_KB buffer; a group
 * is formed by consecutive workers of one spawn call, see
 * kt_spec_work_group):
 *   cpu_spin          one spin unit;
 *   yield_heavy       one sched_yield();
 *   mixed             one spin unit, with a sched_yield() after every 64th;
 *   io_sync           a 64 KiB pwrite to an unlinked file in /tmp +
 *                     fdatasync, then a 100 us sleep;
 *   bursty            one spin unit; spin for burst_ms, then sleep sleep_ms
 *                     (0 = the defaults 50 and 100);
 *   pipe_io           one round trip of an 8-byte clock stamp over two pipes
 *                     between the two workers of a pair; when one side
 *                     stops, the other reads EOF and stops too;
 *   futex_ping_pong   one round trip of a turn word between a pair, handed
 *                     over with FUTEX_WAKE;
 *   futex_fan_out     one round of a group of fan_out + 1: the waker bumps
 *                     a generation word and wakes all fan_out waiters with
 *                     one FUTEX_WAKE, each waiter acknowledges, the last one
 *                     wakes the waker;
 *   fan_out_compute   the same round, each waiter doing 64 spin units
 *                     between its wakeup and its acknowledgement (fork-join);
 *   cache_pressure    one cache pass;
 *   cache_yield       one cache pass, then a sched_yield();
 *   cache_pipe        one cache pass, then a pipe_io round trip;
 *   sequence          the units of its phases, run in turn for their ms
 *                     each and cycled (a sleep phase waits, no units);
 *   fork_exit         fork a child that exits at once, and reap it;
 *   nice_sweep        set its own nice to the next of 0, 1, ..., 19, 18,
 *                     ..., 1 (cycled), then one spin unit;
 *   affinity_churn    pin itself to the next CPU of its allowed set (round
 *                     robin; the set is re-read from the kernel at each
 *                     wrap, so a changed cpuset is followed), then one spin
 *                     unit;
 *   policy_churn      switch its own policy to the next of SCHED_OTHER,
 *                     SCHED_BATCH, SCHED_IDLE, then one spin unit;
 *   page_fault_churn  write one byte to every page of a region_kb private
 *                     mapping (a fault each), then madvise(MADV_DONTNEED) it;
 *   mutex_contention  lock the process-shared mutex of its group of
 *                     contenders, one spin unit holding it, unlock, one spin
 *                     unit outside. The mutex is robust: a holder that dies
 *                     does not wedge the others.
 *
 * Progress checks and the gap. At a check the worker records the time,
 * sched_getcpu() (migrations, CPUs seen) and its unit count. max_gap is the
 * largest CLOCK_MONOTONIC interval between consecutive checks that the
 * worker spent wanting to run, so the time it chose to wait is taken out:
 *   cpu_spin     a check every 1024 units;
 *   cache_pressure  a check about every 512 Ki touches (every 1024 passes at
 *                the defaults);
 *   mixed        a check at every yield (every 64 units): a yield is the
 *                worker asking to run again, so the wait it causes counts;
 *   yield_heavy, cache_yield  a check every unit, for the same reason;
 *   bursty       a check every 64 units within a burst; the sleep is not a
 *                gap, but anything past its planned end is (late wakeup);
 *   io_sync      a check every unit; the 100 us sleep is taken out the same
 *                way (late wakeup counts, the write and fdatasync count);
 *   pipe_io, cache_pipe, futex_ping_pong, futex_fan_out, fan_out_compute,
 *   mutex_contention
 *                a check every unit, and the whole round (or the wait for
 *                the mutex) counts: it only needs the partners to run, each
 *                briefly, so a long round means one of them was runnable
 *                and did not run;
 *   fork_exit    a check every unit; the wait for the child counts, for the
 *                same reason;
 *   nice_sweep, affinity_churn, policy_churn, page_fault_churn
 *                a check every unit (what the change costs counts);
 *   sequence     each phase by its type's rule; a sleep phase like bursty's
 *                sleep.
 * CPU time and /proc/self/schedstat are refreshed every 100 ms at a check,
 * at the settle sample and once more at the end (they cost system calls).
 *
 * Wake latency (the wake-based types: pipe_io, cache_pipe, futex_ping_pong,
 * futex_fan_out, fan_out_compute, mutex_contention): the waker stamps
 * CLOCK_MONOTONIC just before it wakes (the pipe write carries the stamp;
 * a futex group keeps it next to the futex word; a mutex holder stamps just
 * before it unlocks), and the wakee takes the difference once it runs
 * again. Samples: every pipe read and every futex handoff; for a mutex, an
 * acquisition that had to wait. Per worker, count, max and mean are exact;
 * p50 and p99 come from a uniform reservoir (Algorithm R) of
 * KT_WORK_WAKE_KEEP samples in the worker's shared pages.
 *
 * Stopping. Every blocking wait ends on a stop: sleeps wait on the stop
 * word, futex and mutex waits run in 50 ms slices that look at it, and a
 * worker leaving a futex group wakes the rest of the group so that they
 * leave too. fork_exit reaps each child before its next unit. */
#ifndef KTSTR_WORKLOAD_H
#define KTSTR_WORKLOAD_H
#include <sys/types.h>
#include "err.h"
#include "ktstr.pb-c.h"

#define KT_WORKSET_MAX 4096   /* workers in one set */
#define KT_WORK_CPUS_SEEN 256 /* CPUs tracked in cpus_seen */

/* Wake latency samples kept per worker (8 bytes each, 32 KiB). The design
 * allows up to 100,000, but at 800 KB a worker a step of 1024 wake-based
 * workers would need 800 MB of a guest that may have 256 MiB. A uniform
 * reservoir of 4096 puts the p99 estimate within about p98.7..p99.3 (the
 * rank's standard error is sqrt(4096 * 0.01 * 0.99) = 6.4 samples), good
 * enough for a threshold; count, mean and max are kept exactly. Pages are
 * only allocated when touched, so other work types cost nothing. */
#define KT_WORK_WAKE_KEEP 4096

struct kt_workset;

/* A set with room for MAX workers (1..KT_WORKSET_MAX). */
int kt_workset_new(unsigned max, struct kt_workset **out, struct kt_err *err);

/* Fork N workers doing WORK; they wait for kt_workset_start(). *FIRST is
 * the index of the first new worker (kt_workset_pid(ws, *FIRST + i)). On
 * failure the workers forked so far stay in the set (free kills them).
 * Errors: what kt_spec_work_check (entry_spec.h) refuses, no room, fork or
 * pipe failures. */
int kt_workset_spawn(struct kt_workset *ws, const Ktstr__WorkSpec *work, unsigned n,
		     unsigned *first, struct kt_err *err);

/* The pid of worker I, -1 when there is no such worker. */
pid_t kt_workset_pid(const struct kt_workset *ws, unsigned i);

/* Have each worker sample its wall time and run delay at its first
 * progress check MS after its release (WorkerStats.settle_*); 0, the
 * default, takes no sample. Call before kt_workset_start. */
void kt_workset_settle(struct kt_workset *ws, uint32_t ms);

/* Release every worker at once. */
void kt_workset_start(struct kt_workset *ws);

/* Ask every worker to stop, give them GRACE_MS to exit, then SIGKILL the
 * rest; reaps all of them. Returns how many had to be killed. Idempotent. */
unsigned kt_workset_stop(struct kt_workset *ws, unsigned grace_ms);

/* The telemetry of worker I into OUT (initialised by the caller; cpus_seen
 * and, for the wake-based types, wake_latency are malloc'd, so
 * protobuf_c_message_free_unpacked(OUT, NULL) can free them).
 * Fails, still filling OUT, when the worker reported a fault of its own
 * (e.g. io_sync could not create its file), exited with an error status or
 * died of a signal the set did not send; ERR says what. */
int kt_workset_stats(const struct kt_workset *ws, unsigned i, Ktstr__WorkerStats *out,
		     struct kt_err *err);

/* The signal that killed worker I when the set did not send it (a crash,
 * the OOM killer, a stray kill), else 0. Such a death is a finding about
 * the run, where a fault (kt_workset_stats) is one of the set-up. */
int kt_workset_death_signal(const struct kt_workset *ws, unsigned i);

/* Segments: the CPUs a worker ran on since a point in time, for workers
 * whose cgroup or cpuset changes (WorkerStats.segments). Worker I starts
 * segment 0 when spawned; kt_workset_segment_next asks it to start the
 * next one, which it does at its next progress check (the CPUs it sees
 * from then on are the new segment's). Call it only after the change
 * took effect: a cpuset.cpus or cgroup.procs write returns once the
 * kernel moved the task off CPUs it may no longer use, and the worker
 * reads the request before it samples its CPU, so an old CPU never lands
 * in the new segment. kt_workset_segment_seen writes the CPUs of the
 * current segment into OUT (room for KT_WORK_CPUS_SEEN) and returns their
 * count: none while the worker has not yet taken up the request. */
void kt_workset_segment_next(struct kt_workset *ws, unsigned i);
size_t kt_workset_segment_seen(const struct kt_workset *ws, unsigned i, uint32_t *out);

/* Kill (without grace) and reap any worker still running, free the set. */
void kt_workset_free(struct kt_workset *ws);

#endif
