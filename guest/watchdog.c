#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "boot.h"
#include "frame.h"
#include "glog.h"
#include "ktstr.pb-c.h"
#include "util.h"
#include "watchdog.h"

enum { IDLE, ARMED, DISARMED, FIRED };

static int state = IDLE;
static unsigned wd_ms;
static struct kt_chan *wd_chan;
static struct timespec deadline;
static pthread_mutex_t sched_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kt_sched *sched;

void kt_watchdog_sched(struct kt_sched *s)
{
	pthread_mutex_lock(&sched_lock);
	sched = s;
	pthread_mutex_unlock(&sched_lock);
}

static void *watch(void *arg)
{
	Ktstr__ScenarioResult res = KTSTR__SCENARIO_RESULT__INIT;
	Ktstr__SchedulerState st = KTSTR__SCHEDULER_STATE__INIT;
	struct kt_err err;
	char msg[96];
	int expect = ARMED;

	(void)arg;
	kt_sleep_until(&deadline);
	if (!__atomic_compare_exchange_n(&state, &expect, FIRED, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return NULL;
	snprintf(msg, sizeof(msg), "guest watchdog expired after %u ms", wd_ms);
	fprintf(stderr, KT_GLOG_PREFIX "%s, powering off\n", msg);
	res.ok = false;
	res.kind = KTSTR__SCENARIO_RESULT__KIND__WATCHDOG;
	res.error = msg;
	res.run_ms = wd_ms;
	pthread_mutex_lock(&sched_lock);
	if (sched) {
		kt_sched_state_now(sched, &st);
		res.scheduler = &st;
	}
	pthread_mutex_unlock(&sched_lock);
	if (kt_chan_send_urgent(wd_chan, KT_FRAME_RESULT, &res.base, 2000, &err))
		fprintf(stderr, KT_GLOG_PREFIX "%s\n", err.msg);
	kt_boot_poweroff();
}

int kt_watchdog_start(unsigned ms, struct kt_chan *chan, struct kt_err *err)
{
	struct sched_param sp = {.sched_priority = KT_BOOT_WATCHDOG_PRIO};
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (state != IDLE)
		return kt_errf(err, "watchdog: already armed");
	wd_ms = ms;
	wd_chan = chan;
	deadline = kt_deadline(CLOCK_MONOTONIC, ms);
	state = ARMED;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Explicit: a thread does not inherit SCHED_FIFO under RESET_ON_FORK. */
	pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
	pthread_attr_setschedparam(&attr, &sp);
	rc = pthread_create(&t, &attr, watch, NULL);
	pthread_attr_destroy(&attr);
	if (rc) {
		state = IDLE;
		return kt_errf(err, "watchdog thread (SCHED_FIFO %d): %s", KT_BOOT_WATCHDOG_PRIO,
			       strerror(rc));
	}
	return 0;
}

bool kt_watchdog_disarm(void)
{
	int expect = ARMED;

	if (__atomic_compare_exchange_n(&state, &expect, DISARMED, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return true;
	return expect != FIRED;
}
