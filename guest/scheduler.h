/* guest/scheduler.h (not sched.h: that name is the C library's).
 * The sched_ext scheduler under test (EntrySpec.scheduler), from start to
 * verdict, inside the guest agent.
 *
 * Start: write the spec's sysctls (/proc/sys), enable the tracefs event
 * sched_ext/sched_ext_dump (mounting tracefs if needed), start the binary
 * with its args, stdout+stderr going into a bounded ring that a reader
 * thread fills, and wait (enable_timeout_ms, KT_SCHED_ENABLE_MS when 0)
 * for /sys/kernel/sched_ext/state = "enabled". Then take our own fds of
 * its BPF maps (kt_mapdump_hold), so a crashed loader's maps can still be
 * dumped.
 *
 * The binary runs under a small "minder" process (SCHED_FIFO, so a
 * stalling scheduler cannot starve it) that waits for it and passes its
 * pid and exit status up a pipe: the agent, as PID 1, reaps orphans with
 * waitpid(-1) between steps, which would otherwise swallow the status.
 *
 * Watching: kt_sched_failed (the runner's sched_failed hook) reads new
 * /dev/kmsg records, the state file and the minder's pipe. Many
 * schedulers exit 0 after the kernel kicked them out, so the verdict is
 * the kernel's: the kmsg line
 *   sched_ext: BPF scheduler "NAME" disabled (REASON)
 * and the "sched_ext: NAME: MESSAGE" line after it, the exit kind from
 * the loader's "exit kind=N" line when it prints one (scx-ktstr does),
 * else from REASON. Failure classes: STALL (kind 1026), ERROR (another
 * kind >= 1024, e.g. scx_bpf_error, or the kernel unregistering a live
 * process), CRASH (the process went away on its own: a signal, any exit
 * status), VERIFIER (not enabled and the output shows a verifier
 * rejection; message = its last lines), NOT_ENABLED (the rest).
 *
 * Finish: with expect_err and no failure yet, wait up to
 * KT_SCHED_EXPECT_WAIT_MS for it. The verdict, and on a failure the
 * kernel's dump (the sched_ext_dump trace lines, when there are none:
 * SysRq-D and the kmsg lines it printed), are taken before we stop it
 * (SIGINT, then SIGKILL; then SIGKILL to the minder's process group,
 * which also ends a scheduler whose pid never came and children it left
 * behind), so our own unregistering never counts; on a failure the held
 * maps are rendered into ScenarioResult.dump_json, and the kernel log
 * since the start becomes klog_tail. The output reader stops at EOF, or
 * at most 500 ms after the stop. */
#ifndef KTSTR_SCHED_H
#define KTSTR_SCHED_H
#include <stdbool.h>
#include "err.h"
#include "ktstr.pb-c.h"
#include "mapdump.h"

#define KT_SCHED_ENABLE_MS 30000   /* default wait for "enabled" (TCG-sized) */
#define KT_SCHED_STOP_MS 3000      /* SIGINT to SIGKILL */
#define KT_SCHED_EXPECT_WAIT_MS 10000 /* expect_err: wait this long after the
					* scenario for the failure to come */
#define KT_SCHED_OUTPUT_MAX 65536  /* ring of its stdout+stderr */
#define KT_SCHED_OUTPUT_TAIL 8192  /* of it in SchedulerState.output */
#define KT_SCHED_KLOG_MAX 32768    /* kernel log kept since the start */
#define KT_SCHED_KLOG_TAIL 8192    /* of it in klog_tail */
#define KT_SCHED_KDUMP_MAX 65536   /* kernel_dump */
#define KT_SCHED_MAX_ARGS 64
#define KT_SCHED_STATE_PATH "/sys/kernel/sched_ext/state"

struct kt_sched;

/* Start SPEC's scheduler and wait until it is enabled or cannot be. -1
 * (ERR) only when it could not be tried: a bad spec, a sysctl that cannot
 * be written, no pipe or fork. Otherwise *OUT, enabled or not
 * (kt_sched_enabled); a scheduler that never came up is a verdict, not an
 * error. */
int kt_sched_start(const Ktstr__SchedulerSpec *spec, struct kt_sched **out, struct kt_err *err);

bool kt_sched_enabled(const struct kt_sched *s);

/* True once the scheduler has failed (kernel ended it, process gone);
 * cheap enough to poll every few tens of ms. */
bool kt_sched_failed(struct kt_sched *s);

/* The held BPF maps, NULL when there are none (not enabled, hold failed). */
struct kt_mapdump *kt_sched_maps(struct kt_sched *s);

/* What the kernel's log says of a sched_ext scheduler's end, built up line
 * by line (kt_sched_kmsg_line; zeroed to start). */
struct kt_sched_kmsg {
	bool disabled;        /* `sched_ext: BPF scheduler "NAME" disabled (REASON)` */
	bool want_msg;        /* its "sched_ext: NAME: MESSAGE" line is still to come */
	char name[64], reason[128], msg[512];
};

/* Feed one kernel log line's TEXT (without the kmsg prefix): true when it
 * is the "disabled" line (the first only; later ones are ignored). */
bool kt_sched_kmsg_line(struct kt_sched_kmsg *k, const char *text);

/* The failure class of an enabled scheduler that ended with exit KIND
 * (0 = unknown) and whose process had DIED on its own: STALL for 1026,
 * ERROR for another kernel error kind (>= 1024) or an unregistering while
 * it lived on, else CRASH. */
Ktstr__SchedulerState__Failure kt_sched_failure_of(unsigned kind, bool died);

/* What is known of the scheduler now, into ST (strings malloc'd), for the
 * guest watchdog's report of a hang: name, enabled, and when the kernel
 * has already ended it, its failure class, reason and message, plus the
 * output tail. Stops nothing and waits for nothing: safe from another
 * thread while the agent is stuck (fields are copied bounded). */
void kt_sched_state_now(struct kt_sched *s, Ktstr__SchedulerState *st);

/* With expect_err and no failure yet, wait up to KT_SCHED_EXPECT_WAIT_MS
 * for it (once: kt_sched_finish waits only when this was not called);
 * true once it has failed. The agent calls it before it stops the
 * watches, so a watch that fires with the expected failure captures it. */
bool kt_sched_await_failure(struct kt_sched *s);

/* Classify, stop, and fill RES->scheduler (and on a failure dump_json);
 * after this only kt_sched_free. */
void kt_sched_finish(struct kt_sched *s, Ktstr__ScenarioResult *res);

void kt_sched_free(struct kt_sched *s);

/* What the kernel calls exit REASON (scx_exit_reason()): its exit kind,
 * 0 when unknown. Exposed for the tests. */
unsigned kt_sched_kind_of_reason(const char *reason);

#endif
