/* The guest-side watchdog: if the scenario has not finished after a set
 * time, report ScenarioResult{ok=false, kind=WATCHDOG, "guest watchdog
 * expired after N ms", the scheduler's state when one is under test} and
 * power off. It runs in its own SCHED_FIFO thread
 * above the agent, so neither a stuck scenario nor a scheduler under test
 * (which never runs RT tasks) can keep it from firing. Exactly one final
 * result goes out: whoever of the watchdog and kt_watchdog_disarm() comes
 * first owns it. */
#ifndef KTSTR_WATCHDOG_H
#define KTSTR_WATCHDOG_H
#include <stdbool.h>
#include "channel.h"
#include "err.h"
#include "scheduler.h"

/* Arm: fire MS milliseconds from now, reporting over CHAN. */
int kt_watchdog_start(unsigned ms, struct kt_chan *chan, struct kt_err *err);

/* The scheduler under test (NULL: none any more) whose state the report
 * carries (kt_sched_state_now): a hang under a scheduler is its failure,
 * and the host should see what the agent knew of it. Setting NULL waits
 * until a report in progress is done with the old one, so the caller may
 * free it after. */
void kt_watchdog_sched(struct kt_sched *s);

/* Claim the final result for the caller. False when the watchdog has
 * already fired (it is powering the machine off): send nothing then. True
 * also when it was never armed. */
bool kt_watchdog_disarm(void);

#endif
