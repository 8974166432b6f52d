/* Host speed calibration: how much slower a guest runs than its host, so
 * that thresholds measured in time (a worker's largest gap, wake latency)
 * mean the same under TCG, which runs guest code many times slower than
 * KVM, as on bare metal. Measured, never guessed: both sides time the same
 * fixed, deterministic CPU loop (the same object code: guest agent and host
 * tools link this file from one build) with CLOCK_MONOTONIC, and the ratio
 * of their fastest runs is the slowdown.
 *
 * The guest agent runs kt_calib_measure(KT_CALIB_GUEST_REPS) once at boot
 * and reports it as Hello.calib_ns; the host takes kt_calib_host_ns() (its
 * own minimum over KT_CALIB_HOST_REPS runs, measured once per process) and
 * kt_calib_factor() turns the pair into the multiplier for time thresholds.
 * The minimum is the run least disturbed by other load on either side. */
#ifndef KTSTR_CALIB_H
#define KTSTR_CALIB_H
#include <stdint.h>

#define KT_CALIB_ITERS (1u << 21) /* about 5 ms natively: short enough for every boot */
#define KT_CALIB_GUEST_REPS 2     /* under TCG one run takes 30-70 ms */
#define KT_CALIB_HOST_REPS 5
/* A guest's claim beyond this is not believed: a hostile or broken guest
 * must not turn every time threshold off by reporting a huge number. */
#define KT_CALIB_MAX_FACTOR 200.0

/* The fastest of REPS (>= 1) timed runs of the fixed loop, in ns (>= 1). */
uint64_t kt_calib_measure(unsigned reps);

/* kt_calib_measure(KT_CALIB_HOST_REPS), measured on the first call and
 * remembered for the life of the process (not thread-safe: call it once
 * before starting threads, or from one thread). A process that forks after
 * calling it hands the measurement to its children. */
uint64_t kt_calib_host_ns(void);

/* GUEST_NS / HOST_NS clamped to [1, KT_CALIB_MAX_FACTOR]: a guest is never
 * held to stricter thresholds than the host's own. 1 when either is 0 (an
 * agent that did not measure, or no host measurement). */
double kt_calib_factor(uint64_t guest_ns, uint64_t host_ns);

#endif
