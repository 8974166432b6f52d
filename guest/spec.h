/* The per-entry input, /ktstr/entry.pb: a packed ktstr.EntrySpec written by
 * the host. It is untrusted like any input: size-bounded, and validated
 * before anything acts on it, so that the scenario code can rely on sane
 * names and bounded counts. */
#ifndef KTSTR_GUEST_SPEC_H
#define KTSTR_GUEST_SPEC_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "ktstr.pb-c.h"

#define KT_SPEC_PATH "/ktstr/entry.pb"
#define KT_SPEC_MAX_BYTES (1u << 20)
#define KT_SPEC_MAX_STEPS 64
#define KT_SPEC_MAX_CGROUPS 64          /* per step */
#define KT_SPEC_MAX_WORKERS 256         /* per cgroup */
#define KT_SPEC_MAX_STEP_WORKERS 1024   /* per step */
#define KT_SPEC_MAX_TOTAL_WORKERS 4096  /* per scenario: bounds the result frame */
#define KT_SPEC_NAME_MAX 63             /* cgroup and scenario names */
#define KT_SPEC_MAX_DURATION_MS 86400000u
#define KT_SPEC_MAX_HOLD_MS 3600000u

/* Read (at most KT_SPEC_MAX_BYTES), unpack and validate PATH. Free *OUT
 * with ktstr__entry_spec__free_unpacked(*out, NULL). */
int kt_spec_load(const char *path, Ktstr__EntrySpec **out, struct kt_err *err);

/* Unpack and validate LEN bytes. */
int kt_spec_unpack(const uint8_t *buf, size_t len, Ktstr__EntrySpec **out, struct kt_err *err);

/* The rules: version KT_SCENARIO_ENTRY_VERSION; the scenario name printable
 * ASCII, at most KT_SPEC_NAME_MAX; duration_ms <= KT_SPEC_MAX_DURATION_MS;
 * counts within the limits above; cgroup names [A-Za-z0-9_.-]{1,63}, not
 * "." or "..", unique in their step; known work types; pipe_io counts
 * even; bursty timings 1..60000 / 0..60000 ms (both 0 = the defaults);
 * hold frac finite in [0, 1], hold time <= KT_SPEC_MAX_HOLD_MS; known
 * cpuset kinds. Errors name the step and cgroup. watchdog_ms 0 means no
 * guest watchdog. */
int kt_spec_validate(const Ktstr__EntrySpec *spec, struct kt_err *err);

/* The hold time of STEP in ms (FRAC of duration_ms, rounded, or FIXED). */
uint64_t kt_spec_hold_ms(const Ktstr__EntrySpec *spec, const Ktstr__StepSpec *step);

#endif
