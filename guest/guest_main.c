/* ktstr-guest: PID 1 of the test VM.
 *
 * Boot (mounts, console, SCHED_FIFO), read /ktstr/entry.pb, open the
 * control channel on COM2 and say Hello; a probe entry powers off right
 * there. Otherwise report the GuestTopology from sysfs, prepare the
 * cgroup tree, arm the watchdog, run the scenario, send the
 * ScenarioResult and power off. Whatever fails on the way is printed on
 * the console and, when the channel is open, sent as ScenarioResult
 * {ok=false} with its kind: GUEST_SETUP for the machine (mounts, spec
 * file, channel, topology, cgroups), SCENARIO_ERROR for a spec that breaks
 * the rules, and whatever the runner says. The machine always powers off.
 *
 * With a scheduler under test (guest/scheduler.h): it starts after the
 * cgroup tree is ready and before the scenario; one that never comes up
 * skips the scenario (its state is the verdict); the runner's hooks take
 * snapshots (guest/snapshot.h) and end the scenario early when the
 * scheduler fails; then the captures, the scheduler's state and on a
 * failure its dumps go into the ScenarioResult. */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "boot.h"
#include "calib.h"
#include "cgroup.h"
#include "channel.h"
#include "frame.h"
#include "glog.h"
#include "ktstr.pb-c.h"
#include "runner.h"
#include "scheduler.h"
#include "snapshot.h"
#include "spec.h"
#include "sysfs_topo.h"
#include "util.h"
#include "watchdog.h"

/* A scheduler's stop and dumps after the scenario (worker/entry.c gives
 * them 25 s of the watchdog): the runner's waits leave them this. */
#define SCHED_FINISH_MS 20000

static struct kt_chan *chan;

/* Send the final RES (when the watchdog has not claimed it) and power off. */
static void __attribute__((noreturn)) finish(Ktstr__ScenarioResult *res)
{
	struct kt_err err;

	if (!kt_watchdog_disarm())
		for (;;)
			pause(); /* the watchdog is reporting and powering off */
	if (!res->ok)
		kt_glog("scenario failed: %s", res->error);
	else
		kt_glog("scenario done in %llu ms", (unsigned long long)res->run_ms);
	if (chan && kt_chan_send(chan, KT_FRAME_RESULT, &res->base, &err)) {
		Ktstr__ScenarioResult small = KTSTR__SCENARIO_RESULT__INIT;

		fprintf(stderr, KT_GLOG_PREFIX "%s\n", err.msg);
		small.ok = false;
		small.kind = KTSTR__SCENARIO_RESULT__KIND__GUEST_SETUP;
		small.error = err.msg;
		small.run_ms = res->run_ms;
		kt_chan_send(chan, KT_FRAME_RESULT, &small.base, NULL);
	}
	kt_boot_poweroff();
}

static void __attribute__((noreturn)) fail(Ktstr__ScenarioResult__Kind kind, const char *what,
					   const char *msg)
{
	Ktstr__ScenarioResult res = KTSTR__SCENARIO_RESULT__INIT;
	char text[KT_ERR_MAX + 64];

	snprintf(text, sizeof(text), "%s: %s", what, msg);
	res.ok = false;
	res.kind = kind;
	res.error = text;
	finish(&res);
}

/* A failure of the guest's own set-up (infra, not the scenario). */
static void __attribute__((noreturn)) fail_setup(const char *what, const char *msg)
{
	fail(KTSTR__SCENARIO_RESULT__KIND__GUEST_SETUP, what, msg);
}

/* CALIBRATE: time common/calib.h's loop for the host's time thresholds
 * and the runner's wait_payload timeouts (a probe entry powers off at
 * once and needs no measurement). Returns the measurement (0 = none). */
static uint64_t hello(uint64_t uptime_ms, bool calibrate)
{
	Ktstr__Hello h = KTSTR__HELLO__INIT;
	struct utsname u;
	struct kt_err err;

	h.version = KT_SCENARIO_ENTRY_VERSION;
	h.kernel_release = uname(&u) ? "" : u.release;
	h.uptime_ms = uptime_ms;
	h.calib_ns = calibrate ? kt_calib_measure(KT_CALIB_GUEST_REPS) : 0;
	if (kt_chan_send(chan, KT_FRAME_HELLO, &h.base, &err))
		fprintf(stderr, KT_GLOG_PREFIX "%s\n", err.msg);
	kt_glog("kernel %s, agent up at %llu ms, calibration loop %llu us", h.kernel_release,
		(unsigned long long)uptime_ms, (unsigned long long)h.calib_ns / 1000);
	return h.calib_ns;
}

/* The runner's hooks: snapshots and watches, and the scheduler's health. */
struct agent_hooks {
	struct kt_snap *snap;
	struct kt_sched *sched;
};

static void hook_snapshot(void *ctx, const char *name)
{
	kt_snap_take(((struct agent_hooks *)ctx)->snap, name);
}

static int hook_watch(void *ctx, const char *symbol, struct kt_err *err)
{
	return kt_snap_watch(((struct agent_hooks *)ctx)->snap, symbol, err);
}

static bool hook_sched_failed(void *ctx)
{
	return kt_sched_failed(((struct agent_hooks *)ctx)->sched);
}

/* The scenario, with the scheduler under test around it when there is one. */
static Ktstr__ScenarioResult *run(const Ktstr__EntrySpec *spec, const Ktstr__GuestTopology *topo,
				   const struct kt_runner_time *time)
{
	struct agent_hooks ah = {NULL, NULL};
	struct kt_runner_hooks hooks = {&ah, hook_snapshot, hook_watch, hook_sched_failed};
	Ktstr__ScenarioResult *res;
	struct kt_err err;

	if (spec->scheduler && kt_sched_start(spec->scheduler, &ah.sched, &err))
		fail(KTSTR__SCENARIO_RESULT__KIND__SCENARIO_ERROR, "scheduler", err.msg);
	kt_watchdog_sched(ah.sched);
	ah.snap = kt_snap_new(kt_sched_maps(ah.sched), 0);
	if (ah.sched && !kt_sched_enabled(ah.sched)) {
		/* Never came up: no scenario to run, the scheduler's state says why. */
		res = kt_xcalloc(1, sizeof(*res));
		ktstr__scenario_result__init(res);
		res->ok = true;
		res->kind = KTSTR__SCENARIO_RESULT__KIND__COMPLETED;
	} else {
		res = kt_runner_run(spec, topo, KT_CGROUP_BASE, &hooks, time);
	}
	/* the watches run on while an expected failure comes */
	kt_sched_await_failure(ah.sched);
	kt_snap_collect(ah.snap, res);
	kt_snap_free(ah.snap);
	if (ah.sched) {
		kt_sched_finish(ah.sched, res);
		kt_watchdog_sched(NULL);
		kt_sched_free(ah.sched);
	}
	return res;
}

int main(void)
{
	struct kt_err mount_err = {{0}}, spec_err, err;
	Ktstr__GuestTopology *topo;
	Ktstr__EntrySpec *spec = NULL;
	struct kt_runner_time time = {0, 0};
	uint64_t uptime_ms;
	int mounts_ok, cpu_ok;

	if (getpid() != 1) {
		fprintf(stderr, KT_GLOG_PREFIX "must run as PID 1 inside the test VM\n");
		return 2;
	}
	mounts_ok = !kt_boot_mounts(&mount_err);
	kt_boot_console();
	uptime_ms = kt_boot_uptime_ms();
	if (!mounts_ok)
		kt_glog("%s", mount_err.msg);
	if (kt_boot_realtime(KT_BOOT_RT_PRIO, &err))
		kt_glog("%s (continuing without)", err.msg);
	if (kt_spec_load(KT_SPEC_PATH, &spec, &spec_err))
		spec = NULL;
	if (kt_chan_open(KT_CHANNEL_PATH, &chan, &err)) {
		chan = NULL;
		fail_setup("control channel", err.msg);
	}
	kt_glog_set_chan(chan);
	time.calib_ns = hello(uptime_ms, !spec || !spec->probe);
	if (!spec)
		fail_setup("entry", spec_err.msg);
	/* Another version is a stale initramfs, not the scenario's fault. */
	if (kt_spec_validate(spec, &err))
		fail(spec->version == KT_SCENARIO_ENTRY_VERSION ?
		     KTSTR__SCENARIO_RESULT__KIND__SCENARIO_ERROR :
		     KTSTR__SCENARIO_RESULT__KIND__GUEST_SETUP, "entry", err.msg);
	if (spec->probe) {
		kt_glog("probe entry: powering off");
		kt_boot_poweroff();
	}
	if (!mounts_ok)
		fail_setup("boot", mount_err.msg);
	if (spec->watchdog_ms && kt_watchdog_start(spec->watchdog_ms, chan, &err))
		fail_setup("boot", err.msg);
	/* The runner's waits end before the watchdog, leaving a scheduler
	 * the time it needs to stop and be dumped. */
	if (spec->watchdog_ms)
		time.deadline_ms = kt_now_ms() + spec->watchdog_ms;
	if (time.deadline_ms && spec->scheduler)
		time.deadline_ms -= spec->watchdog_ms > SCHED_FINISH_MS ? SCHED_FINISH_MS :
									   spec->watchdog_ms;
	if (kt_sysfs_topo_read("/sys", &topo, &err))
		fail_setup("topology", err.msg);
	if (kt_chan_send(chan, KT_FRAME_TOPOLOGY, &topo->base, &err))
		fail_setup("topology", err.msg);
	if (kt_cgroup_prepare(KT_CGROUP_ROOT, KT_CGROUP_BASE, &cpu_ok, &err))
		fail_setup("cgroups", err.msg);
	if (!cpu_ok)
		kt_glog("the cpu controller could not be enabled; continuing with cpuset only");
	kt_glog("scenario '%s': %zu steps, duration %llu ms, watchdog %u ms", spec->name,
		spec->n_steps, (unsigned long long)spec->duration_ms, spec->watchdog_ms);
	finish(run(spec, topo, &time));
}
