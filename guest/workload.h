/* Worker processes and their telemetry.
 *
 * A workset is a group of forked workers that start together and stop
 * together (one scenario step). Each worker writes its numbers into its own
 * MAP_SHARED page as it goes, so a worker that had to be killed still
 * leaves what it measured. Nothing here touches cgroups: the caller moves
 * the pids where it wants between spawn and start.
 *
 * Work units:
 *   cpu_spin     1000 rounds of a 64-bit LCG (the result is kept);
 *   yield_heavy  one sched_yield();
 *   mixed        one spin unit, with a sched_yield() after every 64th;
 *   io_sync      a 64 KiB pwrite to an unlinked file in /tmp + fdatasync,
 *                then a 100 us sleep;
 *   bursty       one spin unit; spin for burst_ms, then sleep sleep_ms
 *                (0 = the defaults 50 and 100);
 *   pipe_io      one round trip of one byte over two pipes between the
 *                workers 2k and 2k+1 of one spawn call (an even count);
 *                when one side stops, the other reads EOF and stops too.
 *
 * Progress checks and the gap. At a check the worker records the time,
 * sched_getcpu() (migrations, CPUs seen) and its unit count. max_gap is the
 * largest CLOCK_MONOTONIC interval between consecutive checks that the
 * worker spent wanting to run, so the time it chose to wait is taken out:
 *   cpu_spin     a check every 1024 units;
 *   mixed        a check at every yield (every 64 units): a yield is the
 *                worker asking to run again, so the wait it causes counts;
 *   yield_heavy  a check every unit, for the same reason;
 *   bursty       a check every 64 units within a burst; the sleep is not a
 *                gap, but anything past its planned end is (late wakeup);
 *   io_sync      a check every unit; the 100 us sleep is taken out the same
 *                way (late wakeup counts, the write and fdatasync count);
 *   pipe_io      a check every unit, and the whole round trip counts: it
 *                only needs the two partners to run, each for a few
 *                microseconds, so a long trip means one of them was
 *                runnable and did not run.
 * CPU time and /proc/self/schedstat are refreshed every 100 ms at a check
 * and once more at the end (they cost system calls). */
#ifndef KTSTR_WORKLOAD_H
#define KTSTR_WORKLOAD_H
#include <sys/types.h>
#include "err.h"
#include "ktstr.pb-c.h"

#define KT_WORKSET_MAX 4096   /* workers in one set */
#define KT_WORK_CPUS_SEEN 256 /* CPUs tracked in cpus_seen */

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

/* Release every worker at once. */
void kt_workset_start(struct kt_workset *ws);

/* Ask every worker to stop, give them GRACE_MS to exit, then SIGKILL the
 * rest; reaps all of them. Returns how many had to be killed. Idempotent. */
unsigned kt_workset_stop(struct kt_workset *ws, unsigned grace_ms);

/* The telemetry of worker I into OUT (initialised by the caller; cpus_seen
 * is malloc'd, so protobuf_c_message_free_unpacked(OUT, NULL) can free it).
 * Fails, still filling OUT, when the worker reported a fault of its own
 * (e.g. io_sync could not create its file), exited with an error status or
 * died of a signal the set did not send; ERR says what. */
int kt_workset_stats(const struct kt_workset *ws, unsigned i, Ktstr__WorkerStats *out,
		     struct kt_err *err);

/* The signal that killed worker I when the set did not send it (a crash,
 * the OOM killer, a stray kill), else 0. Such a death is a finding about
 * the run, where a fault (kt_workset_stats) is one of the set-up. */
int kt_workset_death_signal(const struct kt_workset *ws, unsigned i);

/* Kill (without grace) and reap any worker still running, free the set. */
void kt_workset_free(struct kt_workset *ws);

#endif
