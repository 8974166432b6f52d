/* The scheduler lifecycle (guest/scheduler.h) with real processes that are
 * not sched_ext schedulers: they never make sched_ext "enabled" (the host
 * kernel may not even have it), so these cover the start, the output
 * ring, the minder's exit status, the not-enabled and verifier verdicts
 * and the stop (SIGINT, then SIGKILL). The kernel-side verdicts (stall,
 * error) are covered by the integration tests in a guest. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "scheduler.h"

static void kinds_of_reasons(void **state)
{
	(void)state;
	assert_int_equal(kt_sched_kind_of_reason("runnable task stall"), 1026);
	assert_int_equal(kt_sched_kind_of_reason("scx_bpf_error"), 1025);
	assert_int_equal(kt_sched_kind_of_reason("runtime error"), 1024);
	assert_int_equal(kt_sched_kind_of_reason("unregistered from user space"), 64);
	assert_int_equal(kt_sched_kind_of_reason("something new"), 0);
	assert_int_equal(kt_sched_kind_of_reason(NULL), 0);
}

/* Run "sh -c SCRIPT" as the scheduler and finish it: the state. */
static Ktstr__ScenarioResult *run_sh(const char *script, unsigned enable_ms)
{
	char *args[2] = {"-c", (char *)script};
	Ktstr__SchedulerSpec spec = KTSTR__SCHEDULER_SPEC__INIT;
	Ktstr__ScenarioResult *res = calloc(1, sizeof(*res));
	struct kt_sched *s;
	struct kt_err e;

	ktstr__scenario_result__init(res);
	spec.name = "sh";
	spec.path = "/bin/sh";
	spec.args = args;
	spec.n_args = 2;
	spec.enable_timeout_ms = enable_ms;
	assert_int_equal(kt_sched_start(&spec, &s, &e), 0);
	assert_false(kt_sched_enabled(s));
	assert_false(kt_sched_failed(s)); /* never enabled: nothing to fail */
	assert_null(kt_sched_maps(s));
	kt_sched_finish(s, res);
	kt_sched_free(s);
	assert_non_null(res->scheduler);
	return res;
}

static void exits_before_enabled(void **state)
{
	Ktstr__ScenarioResult *r;

	(void)state;
	r = run_sh("echo hello; echo oops >&2; exit 3", 5000);
	assert_int_equal(r->scheduler->failure, KTSTR__SCHEDULER_STATE__FAILURE__NOT_ENABLED);
	assert_false(r->scheduler->enabled);
	assert_non_null(strstr(r->scheduler->message, "exited with status 3 before it was enabled"));
	assert_non_null(strstr(r->scheduler->output, "hello\n"));
	assert_non_null(strstr(r->scheduler->output, "oops\n"));
	assert_int_equal(r->scheduler->exit_status, 3);
	assert_string_equal(r->scheduler->name, "sh");
	assert_true(!r->dump_json || !r->dump_json[0]);
	ktstr__scenario_result__free_unpacked(r, NULL);
}

static void killed_before_enabled(void **state)
{
	Ktstr__ScenarioResult *r;

	(void)state;
	r = run_sh("kill -9 $$", 5000);
	assert_int_equal(r->scheduler->failure, KTSTR__SCHEDULER_STATE__FAILURE__NOT_ENABLED);
	assert_non_null(strstr(r->scheduler->message, "killed by signal 9"));
	assert_int_equal(r->scheduler->exit_signal, 9);
	ktstr__scenario_result__free_unpacked(r, NULL);
}

static void verifier_rejection(void **state)
{
	Ktstr__ScenarioResult *r;

	(void)state;
	r = run_sh("echo 'x: verifier rejected prog=enqueue err=-13'; i=0; "
		   "while [ $i -lt 40 ]; do echo \"x: verifier: line $i\"; i=$((i+1)); done; "
		   "echo 'x: verifier: R1 invalid mem access'; exit 3", 5000);
	assert_int_equal(r->scheduler->failure, KTSTR__SCHEDULER_STATE__FAILURE__VERIFIER);
	/* the log shortened to its last lines, where the reason is */
	assert_non_null(strstr(r->scheduler->message, "R1 invalid mem access"));
	assert_null(strstr(r->scheduler->message, "line 5\n"));
	assert_non_null(strstr(r->scheduler->output, "line 5\n"));
	ktstr__scenario_result__free_unpacked(r, NULL);
}

/* Never enabled and never exits: the wait ends, SIGINT stops it. */
static void enable_timeout(void **state)
{
	Ktstr__ScenarioResult *r;

	(void)state;
	r = run_sh("echo waiting; exec sleep 30", 300);
	assert_int_equal(r->scheduler->failure, KTSTR__SCHEDULER_STATE__FAILURE__NOT_ENABLED);
	assert_non_null(strstr(r->scheduler->message, "not enabled within 300 ms"));
	/* a host without sched_ext says so, for the host's skip */
	if (access(KT_SCHED_STATE_PATH, F_OK))
		assert_non_null(strstr(r->scheduler->message, "no sched_ext in this kernel"));
	assert_int_equal(r->scheduler->exit_signal, 2); /* SIGINT */
	assert_non_null(strstr(r->scheduler->output, "waiting"));
	ktstr__scenario_result__free_unpacked(r, NULL);
}

/* Whether PID is gone (or a zombie nobody reaped yet). */
static bool gone(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	return !p || p[2] == 'Z';
}

/* A child the scheduler leaves behind, writing to its output for ever:
 * stop() kills the scheduler's process group, so the reader ends (it used
 * to wait for the pipe's EOF for ever) and nothing is left running. */
static void child_left_writing(void **state)
{
	char script[512], file[] = "/tmp/kt-sched-child.XXXXXX";
	Ktstr__ScenarioResult *r;
	FILE *f;
	int fd, pid = 0;

	(void)state;
	fd = mkstemp(file);
	assert_true(fd >= 0);
	close(fd);
	/* deaf to SIGPIPE: only a kill ends it */
	snprintf(script, sizeof(script), "(trap '' PIPE; while :; do echo spam; done) & "
		 "echo $! >%s; echo waiting; exec sleep 30", file);
	r = run_sh(script, 300);
	assert_int_equal(r->scheduler->failure, KTSTR__SCHEDULER_STATE__FAILURE__NOT_ENABLED);
	assert_non_null(strstr(r->scheduler->output, "spam"));
	f = fopen(file, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &pid), 1);
	fclose(f);
	unlink(file);
	assert_true(pid > 0);
	/* bounded wait for the kill to land: not a timing assertion */
	for (int i = 0; i < 100 && !gone(pid); i++)
		usleep(10000);
	assert_true(gone(pid));
	ktstr__scenario_result__free_unpacked(r, NULL);
}

/* The kernel's words on an enabled scheduler's end, as the sid kernel
 * prints them, and the failure class they make. */
static void kmsg_disabled_lines(void **state)
{
	struct kt_sched_kmsg k;

	(void)state;
	memset(&k, 0, sizeof(k));
	assert_false(kt_sched_kmsg_line(&k, "sched_ext: \"ktstr\" does not implement cgroup cpu.weight"));
	assert_false(kt_sched_kmsg_line(&k, "sched_ext: ktstr: not the message yet"));
	assert_false(k.disabled);
	assert_true(kt_sched_kmsg_line(&k, "sched_ext: BPF scheduler \"ktstr\" disabled "
					   "(scx_bpf_error)"));
	assert_string_equal(k.name, "ktstr");
	assert_string_equal(k.reason, "scx_bpf_error");
	assert_true(k.want_msg);
	/* another scheduler's line is not its message */
	assert_false(kt_sched_kmsg_line(&k, "sched_ext: other: not ours"));
	assert_false(kt_sched_kmsg_line(&k, "sched_ext: ktstr: scx-ktstr: crash_after_s=1 reached"));
	assert_string_equal(k.msg, "scx-ktstr: crash_after_s=1 reached");
	assert_false(k.want_msg);
	/* only the first exit counts; later lines change nothing */
	assert_false(kt_sched_kmsg_line(&k, "sched_ext: BPF scheduler \"ktstr\" disabled "
					    "(runnable task stall)"));
	assert_false(kt_sched_kmsg_line(&k, "sched_ext: ktstr: later"));
	assert_string_equal(k.reason, "scx_bpf_error");
	assert_string_equal(k.msg, "scx-ktstr: crash_after_s=1 reached");
	assert_int_equal(kt_sched_failure_of(kt_sched_kind_of_reason(k.reason), false),
			 KTSTR__SCHEDULER_STATE__FAILURE__ERROR);

	/* a stall; a reason with parentheses inside; a cut line */
	memset(&k, 0, sizeof(k));
	assert_true(kt_sched_kmsg_line(&k, "sched_ext: BPF scheduler \"ktstr\" disabled "
					   "(runnable task stall)"));
	assert_int_equal(kt_sched_failure_of(kt_sched_kind_of_reason(k.reason), false),
			 KTSTR__SCHEDULER_STATE__FAILURE__STALL);
	memset(&k, 0, sizeof(k));
	assert_true(kt_sched_kmsg_line(&k, "sched_ext: BPF scheduler \"a (b)\" disabled (x (y))"));
	assert_string_equal(k.name, "a (b)");
	assert_string_equal(k.reason, "x (y)");
	memset(&k, 0, sizeof(k));
	assert_false(kt_sched_kmsg_line(&k, "sched_ext: BPF scheduler \"ktstr\" disabled (no end"));
	assert_false(k.disabled);

	/* the classes: kernel kinds first, then how the process ended */
	assert_int_equal(kt_sched_failure_of(1026, true), KTSTR__SCHEDULER_STATE__FAILURE__STALL);
	assert_int_equal(kt_sched_failure_of(1025, true), KTSTR__SCHEDULER_STATE__FAILURE__ERROR);
	assert_int_equal(kt_sched_failure_of(1024, false), KTSTR__SCHEDULER_STATE__FAILURE__ERROR);
	assert_int_equal(kt_sched_failure_of(64, true), KTSTR__SCHEDULER_STATE__FAILURE__CRASH);
	assert_int_equal(kt_sched_failure_of(0, true), KTSTR__SCHEDULER_STATE__FAILURE__CRASH);
	assert_int_equal(kt_sched_failure_of(64, false), KTSTR__SCHEDULER_STATE__FAILURE__ERROR);
}

static void bad_specs(void **state)
{
	Ktstr__SchedulerSpec spec = KTSTR__SCHEDULER_SPEC__INIT;
	Ktstr__Sysctl sc = KTSTR__SYSCTL__INIT, *scp = &sc;
	struct kt_sched *s;
	struct kt_err e;

	(void)state;
	spec.name = "x";
	spec.path = "relative/x";
	assert_int_equal(kt_sched_start(&spec, &s, &e), -1);
	assert_non_null(strstr(e.msg, "not an absolute path"));
	assert_null(s);
	spec.path = "/bin/true";
	spec.n_args = KT_SCHED_MAX_ARGS + 1;
	assert_int_equal(kt_sched_start(&spec, &s, &e), -1);
	assert_non_null(strstr(e.msg, "arguments"));
	spec.n_args = 0;
	sc.key = "../../etc/passwd";
	sc.value = "x";
	spec.sysctls = &scp;
	spec.n_sysctls = 1;
	assert_int_equal(kt_sched_start(&spec, &s, &e), -1);
	assert_non_null(strstr(e.msg, "not a sysctl name"));
	sc.key = "kernel.no_such_sysctl_ktstr";
	assert_int_equal(kt_sched_start(&spec, &s, &e), -1);
	assert_non_null(strstr(e.msg, "kernel.no_such_sysctl_ktstr"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kinds_of_reasons),
		cmocka_unit_test(exits_before_enabled),
		cmocka_unit_test(killed_before_enabled),
		cmocka_unit_test(verifier_rejection),
		cmocka_unit_test(enable_timeout),
		cmocka_unit_test(child_left_writing),
		cmocka_unit_test(kmsg_disabled_lines),
		cmocka_unit_test(bad_specs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
