/* The guest-side watchdog: if the scenario has not finished after a set
 * time, report ScenarioResult{ok=false, kind=WATCHDOG, "guest watchdog
 * expired after N ms"} and power off. It runs in its own SCHED_FIFO thread
 * above the agent, so neither a stuck scenario nor a scheduler under test
 * (which never runs RT tasks) can keep it from firing. Exactly one final
 * result goes out: whoever of the watchdog and kt_watchdog_disarm() comes
 * first owns it. */
#ifndef KTSTR_WATCHDOG_H
#define KTSTR_WATCHDOG_H
#include <stdbool.h>
#include "channel.h"
#include "err.h"

/* Arm: fire MS milliseconds from now, reporting over CHAN. */
int kt_watchdog_start(unsigned ms, struct kt_chan *chan, struct kt_err *err);

/* Claim the final result for the caller. False when the watchdog has
 * already fired (it is powering the machine off): send nothing then. True
 * also when it was never armed. */
bool kt_watchdog_disarm(void);

#endif
