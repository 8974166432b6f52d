/* The registry behind the runner's snapshot and watch hooks: captures of
 * the scheduler's BPF maps (the JSON of guest/mapdump.h) taken during a
 * scenario, returned as ScenarioResult.snapshots.
 *
 * `snapshot: NAME` renders the held maps now and stores them under NAME.
 * Without a scheduler (no maps) it is a logged no-op; a capture that fails
 * (render error, budget used up, too many) is stored with its error and
 * never fails the step.
 *
 * `watch_snapshot: SYMBOL` arms a watch that captures "watch:SYMBOL" once,
 * the first time SYMBOL is written; at most KT_SNAP_MAX_WATCHES per
 * scenario (another: "cap exceeded"). SYMBOL is, in this order:
 *  - a BPF global of the scheduler (kt_mapdump_find_var: "stall",
 *    "bss.stall", "scx_ktst.bss.stall"). BPF programs write globals with
 *    plain stores, which nothing can trap cheaply, so a poll thread
 *    compares the variable's bytes (through the map's read-only mmap, or a
 *    map lookup when the map is not mmapable) with the last seen every
 *    KT_SNAP_POLL_US and captures on the first change. The thread runs
 *    SCHED_FIFO (set explicitly: threads do not inherit it under
 *    SCHED_RESET_ON_FORK), so the scheduler under test cannot delay it.
 *    Latency: the change is seen within one poll period; the capture then
 *    shows the maps as they are when rendered, which under TCG is later
 *    still. A value that changes and changes back within one period is
 *    missed. Measured in a sid guest under TCG (2 vCPUs, scx-ktstr
 *    --stall-after=1, watch on bss.stall; the agent logs "watch poll: N
 *    polls, period mean/max" and each capture's render time): poll period
 *    mean 0.8-1.3 ms, with single gaps up to ~0.35 s while the kernel
 *    tears a failed scheduler down (its dump goes to the serial console);
 *    rendering a ~7 KB capture took ~0.43 s.
 *  - a kernel symbol from /proc/kallsyms: a hardware write breakpoint
 *    (perf_event_open PERF_TYPE_BREAKPOINT, HW_BREAKPOINT_W) on its
 *    address on every CPU; the poll thread reads the hit counts and
 *    captures after the first hit (latency: one poll period; the write
 *    itself is trapped exactly), then disarms: every hit traps on every
 *    CPU, which under TCG slowed a guest watching jiffies by seconds.
 *    Resolving the symbol reads all of /proc/kallsyms (~0.8 s under TCG).
 *    A breakpoint that cannot be armed fails the step with the kernel's
 *    reason.
 *    Without a scheduler (no maps) a kernel watch that fires stores its
 *    capture with the error "no scheduler maps held".
 *  - anything else fails the step with "did not resolve".
 * Captures go to ScenarioResult.snapshots with at_ms since kt_snap_new. */
#ifndef KTSTR_SNAPSHOT_H
#define KTSTR_SNAPSHOT_H
#include <stdbool.h>
#include <stddef.h>
#include "err.h"
#include "ktstr.pb-c.h"
#include "mapdump.h"

#define KT_SNAP_MAX_WATCHES 3
#define KT_SNAP_MAX 32                 /* captures kept per scenario */
#define KT_SNAP_BUDGET (768u * 1024u)  /* JSON bytes of all captures: COM2 */
#define KT_SNAP_MIN_BYTES 1024         /* a capture gets at least this (mapdump's floor) */
#define KT_SNAP_POLL_US 1000
#define KT_SNAP_NAME_MAX 63

struct kt_snap;

/* A registry for one scenario over MAPS (NULL: no scheduler; borrowed, it
 * must outlive the registry), with BUDGET bytes for all captures (0 =
 * KT_SNAP_BUDGET). */
struct kt_snap *kt_snap_new(struct kt_mapdump *maps, size_t budget);

/* The snapshot op: capture now under NAME. */
void kt_snap_take(struct kt_snap *s, const char *name);

/* The watch_snapshot op: -1 with ERR when SYMBOL cannot be watched. */
int kt_snap_watch(struct kt_snap *s, const char *symbol, struct kt_err *err);

/* The watches registered so far: their symbols and what they watch. */
size_t kt_snap_n_watches(const struct kt_snap *s);
const char *kt_snap_watch_symbol(const struct kt_snap *s, size_t i);
bool kt_snap_watch_is_kernel(const struct kt_snap *s, size_t i);

/* Captures stored so far (kept until kt_snap_collect). */
size_t kt_snap_n_captures(struct kt_snap *s);

/* Stop the watches and move every capture into RES->snapshots. */
void kt_snap_collect(struct kt_snap *s, Ktstr__ScenarioResult *res);

void kt_snap_free(struct kt_snap *s);

#endif
