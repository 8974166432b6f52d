/* The rules of a ktstr.EntrySpec: the one scenario run the host hands the
 * guest agent (/ktstr/entry.pb). Both sides check the same rules: the host
 * when it builds the spec (kt_scenario_entry_spec), the agent before it
 * acts on one. So a spec the agent would refuse never boots a guest, and
 * the agent can still rely on sane names and bounded counts when the file
 * it reads is not what the host wrote. */
#ifndef KTSTR_ENTRY_SPEC_H
#define KTSTR_ENTRY_SPEC_H
#include <stdbool.h>
#include <stdint.h>
#include "err.h"
#include "ktstr.pb-c.h"

#define KT_SCENARIO_ENTRY_VERSION 1 /* EntrySpec.version */

#define KT_SPEC_MAX_STEPS 64
#define KT_SPEC_MAX_CGROUPS 64          /* per step */
#define KT_SPEC_MAX_WORKERS 256         /* per cgroup */
#define KT_SPEC_MAX_STEP_WORKERS 1024   /* per step */
#define KT_SPEC_MAX_TOTAL_WORKERS 4096  /* per scenario: bounds the result frame */
#define KT_SPEC_NAME_MAX 63             /* cgroup and scenario names */
#define KT_SPEC_MAX_DURATION_MS 86400000u
#define KT_SPEC_MAX_HOLD_MS 3600000u    /* one step's hold, fixed or frac */
#define KT_SPEC_MAX_BURST_MS 60000u     /* bursty burst_ms and sleep_ms */

/* Why S is not a valid name, or NULL when it is. A name is
 * 1..KT_SPEC_NAME_MAX of [A-Za-z0-9_.-], not "." or "..". A cgroup name
 * (CGROUP) also is not "PREFIX.anything" for PREFIX "cgroup" or a cgroup v2
 * controller (cpu, cpuset, io, memory, pids, ...): those are cgroupfs
 * interface files (cgroup.procs, cpu.max, memory.pressure), and mkdir would
 * clash with one. The reason is a short phrase for a message. */
const char *kt_spec_name_problem(const char *s, bool cgroup);

/* Whether N workers of WORK (NULL = cpu_spin) can run: a known type, an
 * even count for pipe_io, bursty burst_ms 1..KT_SPEC_MAX_BURST_MS and
 * sleep_ms 0..KT_SPEC_MAX_BURST_MS (both 0 = the defaults). */
int kt_spec_work_check(const Ktstr__WorkSpec *work, unsigned n, struct kt_err *err);

/* The rules: version KT_SCENARIO_ENTRY_VERSION; the scenario name printable
 * ASCII, at most KT_SPEC_NAME_MAX; duration_ms <= KT_SPEC_MAX_DURATION_MS;
 * counts within the limits above; cgroup names kt_spec_cgroup_name_ok and
 * unique in their step; kt_spec_work_check; hold frac finite in [0, 1],
 * hold time <= KT_SPEC_MAX_HOLD_MS; known cpuset kinds. Errors name the
 * scenario, the step and the cgroup. watchdog_ms 0 means no guest
 * watchdog. */
int kt_spec_validate(const Ktstr__EntrySpec *spec, struct kt_err *err);

/* The hold time of STEP in ms (FRAC of duration_ms, rounded, or FIXED). */
uint64_t kt_spec_hold_ms(const Ktstr__EntrySpec *spec, const Ktstr__StepSpec *step);

#endif
