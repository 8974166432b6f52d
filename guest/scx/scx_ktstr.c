/* scx-ktstr: loader of the fixture sched_ext scheduler (scx_ktstr.bpf.c).
 *
 * Opens the BPF object embedded in this binary, sets the knobs, loads and
 * attaches it, says "scx-ktstr: enabled" once the kernel reports the
 * scheduler enabled, then waits for SIGINT/SIGTERM or for the kernel to
 * end the scheduler. At the end it prints (and with --exit-file writes)
 *   scx-ktstr: exit kind=N reason=TEXT msg=TEXT
 *   scx-ktstr: bss stall=N nr_enqueued=N ... nr_cpus_init=N
 * Exit status: 0 detached on a signal; 1 setup failed (usage, open, load,
 * attach); 2 the kernel ended the scheduler (stall, scx_bpf_error, ...);
 * 3 the verifier rejected a program (its log, shortened, is printed). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <bpf/libbpf.h>
#include "err.h"
#include "scx_obj.h"
#include "scx_ktstr_uei.h"

#define P "scx-ktstr: "
#define STATE_PATH "/sys/kernel/sched_ext/state"
#define OPS_MAP "ktstr_ops"
#define ENABLE_WAIT_MS 10000
#define POLL_MS 50
#define LOG_TAIL_LINES 20
#define LOG_LINE_MAX 200
#define VERIFIER_LOG_SIZE (1u << 20)

enum { EXIT_CLEAN = 0, EXIT_SETUP = 1, EXIT_KICKED = 2, EXIT_VERIFIER = 3 };

/* The BPF object, placed in .rodata by scx_ktstr_obj.c. */
extern const char scx_ktstr_bpf_obj[], scx_ktstr_bpf_obj_end[];

struct opts {
	unsigned stall_after_s, crash_after_s, timeout_ms;
	bool slow, scattershot, degrade, fail_verify, verbose;
	const char *exit_file;
};

static bool verbose;
static char load_prog[64];	/* program libbpf last failed to load */
static char first_warn[256];	/* libbpf's first warning: the cause of a load error */
static char verifier_log[VERIFIER_LOG_SIZE];

/* libbpf messages go to stderr (debug ones with --verbose only); the name
 * of a program that failed to load and the first warning are kept for the
 * load-failure reports. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];
	const char *s, *q;

	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (level == LIBBPF_WARN && !first_warn[0]) {
		s = strncmp(line, "libbpf: ", 8) ? line : line + 8;
		snprintf(first_warn, sizeof(first_warn), "%.*s",
			 (int)sizeof(first_warn) - 1, s);
		first_warn[strcspn(first_warn, "\n")] = 0;
	}
	s = strstr(line, "prog '");
	if (level == LIBBPF_WARN && s && strstr(line, "failed")) {
		s += 6;
		q = strchr(s, '\'');
		if (q && (size_t)(q - s) < sizeof(load_prog))
			snprintf(load_prog, sizeof(load_prog), "%.*s", (int)(q - s), s);
	}
	return fputs(line, stderr);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: scx-ktstr [--stall-after=N] [--slow] [--scattershot] [--degrade]\n"
		"                 [--crash-after=N] [--fail-verify] [--timeout-ms=N]\n"
		"                 [--exit-file PATH] [--verbose]\n"
		"  --stall-after=N  stop dispatching N s after init (watchdog exit 1026)\n"
		"  --slow           skip 3 of 4 dispatch rounds\n"
		"  --scattershot    put tasks on random CPUs' local DSQs\n"
		"  --degrade        skip more dispatch rounds as time goes on\n"
		"  --crash-after=N  scx_bpf_error() N s after init\n"
		"  --fail-verify    load a program the verifier rejects\n"
		"  --timeout-ms=N   sched_ext watchdog timeout (1..30000; 0 = kernel default)\n"
		"  --exit-file PATH also write the exit line to PATH\n");
}

static int parse_uint(const char *opt, const char *s, unsigned max, unsigned *out,
		      struct kt_err *e)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return kt_errf(e, "--%s: '%s' is not a number in 0..%u", opt, s, max);
	*out = (unsigned)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o, struct kt_err *e)
{
	static const struct option lo[] = {
		{ "stall-after", required_argument, NULL, 's' },
		{ "slow", no_argument, NULL, 'S' },
		{ "scattershot", no_argument, NULL, 'x' },
		{ "degrade", no_argument, NULL, 'd' },
		{ "crash-after", required_argument, NULL, 'c' },
		{ "fail-verify", no_argument, NULL, 'f' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "exit-file", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c, idx;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "", lo, &idx)) != -1) {
		switch (c) {
		case 's':
			if (parse_uint("stall-after", optarg, 86400, &o->stall_after_s, e))
				return -1;
			break;
		case 'c':
			if (parse_uint("crash-after", optarg, 86400, &o->crash_after_s, e))
				return -1;
			break;
		case 't':
			/* The kernel refuses more than 30 s with E2BIG. */
			if (parse_uint("timeout-ms", optarg, 30000, &o->timeout_ms, e))
				return -1;
			break;
		case 'S': o->slow = true; break;
		case 'x': o->scattershot = true; break;
		case 'd': o->degrade = true; break;
		case 'f': o->fail_verify = true; break;
		case 'v': o->verbose = true; break;
		case 'o': o->exit_file = optarg; break;
		case 'h':
			usage(stdout);
			exit(EXIT_CLEAN);
		default:
			return kt_errf(e, "unknown option (see --help)");
		}
	}
	if (optind < argc)
		return kt_errf(e, "unexpected argument '%s'", argv[optind]);
	return 0;
}

static int set_knobs(struct bpf_object *obj, const struct opts *o, struct kt_err *e)
{
	__u32 stall = o->stall_after_s, crash = o->crash_after_s;
	bool b[4] = { o->slow, o->scattershot, o->degrade, o->fail_verify };
	static const char *bn[4] = { "slow", "scattershot", "degrade", "fail_verify" };
	int i;

	if (scx_obj_var_set(obj, ".rodata", "stall_after_s", &stall, sizeof(stall), e) ||
	    scx_obj_var_set(obj, ".rodata", "crash_after_s", &crash, sizeof(crash), e))
		return -1;
	for (i = 0; i < 4; i++)
		if (scx_obj_var_set(obj, ".rodata", bn[i], &b[i], sizeof(b[i]), e))
			return -1;
	if (o->timeout_ms &&
	    scx_obj_ops_set_u32(obj, OPS_MAP, "timeout_ms", o->timeout_ms, e))
		return -1;
	return 0;
}

static unsigned count_lines(const char *from, const char *to)
{
	unsigned n = from < to;

	for (; from < to; from++)
		n += *from == '\n';
	return n;
}

/* Print the last LOG_TAIL_LINES lines of the verifier log, each cut to
 * LOG_LINE_MAX characters: the rejection reason is at the end. */
static void print_verifier_log(int err)
{
	const char *end, *p, *nl;
	unsigned newlines = 0;
	size_t n;

	verifier_log[sizeof(verifier_log) - 1] = 0;
	end = verifier_log + strlen(verifier_log);
	while (end > verifier_log && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	/* Back from the end to the start of the LOG_TAIL_LINES-th last line. */
	for (p = end; p > verifier_log; p--)
		if (p[-1] == '\n' && ++newlines == LOG_TAIL_LINES)
			break;
	printf(P "verifier rejected prog=%s err=%d (log: %u lines, last %u shown)\n",
	       load_prog[0] ? load_prog : "?", err, count_lines(verifier_log, end),
	       count_lines(p, end));
	for (; p < end; p += n + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		printf(P "verifier: %.*s\n", (int)(n < LOG_LINE_MAX ? n : LOG_LINE_MAX), p);
	}
}

/* The first line of /sys/kernel/sched_ext/state, or "" if unreadable. */
static void read_state(char *buf, size_t cap)
{
	FILE *f = fopen(STATE_PATH, "r");

	buf[0] = 0;
	if (!f)
		return;
	if (!fgets(buf, (int)cap, f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
}

/* uei.kind: nonzero once ops.exit has run. */
static __s32 exit_kind(struct bpf_object *obj)
{
	struct ktstr_uei uei;

	if (scx_obj_var_read(obj, ".data", "uei", &uei, sizeof(uei), NULL))
		return 0;
	return uei.kind;
}

/* Wait up to MS for a signal in SET; returns the signal or 0. */
static int wait_signal(const sigset_t *set, unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	int sig = sigtimedwait(set, NULL, &ts);

	return sig > 0 ? sig : 0;
}

/* Replace control characters so that TEXT stays on one line. */
static void one_line(char *text)
{
	for (; *text; text++)
		if ((unsigned char)*text < 0x20 || *text == 0x7f)
			*text = ' ';
}

static void report_exit(struct bpf_object *obj, const char *exit_file)
{
	static const char *vars[] = { "stall", "nr_enqueued", "nr_dispatched",
		"nr_cpus_init", "nr_cpu_ids_init", "nr_direct", "nr_scattered",
		"nr_skipped", "exit_after_ms" };
	struct ktstr_uei uei;
	struct kt_err e;
	char line[2048];
	uint64_t v;
	size_t i;

	if (scx_obj_var_read(obj, ".data", "uei", &uei, sizeof(uei), &e)) {
		printf(P "exit info unreadable: %s\n", e.msg);
		return;
	}
	uei.reason[sizeof(uei.reason) - 1] = 0;
	uei.msg[sizeof(uei.msg) - 1] = 0;
	one_line(uei.reason);
	one_line(uei.msg);
	snprintf(line, sizeof(line), P "exit kind=%d reason=%s msg=%s",
		 uei.kind, uei.reason, uei.msg);
	printf("%s\n", line);
	if (exit_file) {
		FILE *f = fopen(exit_file, "w");

		if (!f || fprintf(f, "%s\n", line) < 0 || fclose(f))
			printf(P "cannot write %s: %s\n", exit_file, strerror(errno));
	}
	printf(P "bss");
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if (scx_obj_var_u64(obj, ".bss", vars[i], &v, &e))
			printf(" %s=?", vars[i]);
		else
			printf(" %s=%llu", vars[i], (unsigned long long)v);
	}
	printf("\n");
}

/* Attached: report "enabled", then wait for a signal or the kernel's end
 * of the scheduler. Returns the process exit status. */
static int run(struct bpf_object *obj, struct bpf_link *link, const sigset_t *set,
	       const char *exit_file)
{
	char state[64] = "";
	unsigned waited = 0;
	int sig = 0, status;

	while (waited < ENABLE_WAIT_MS && !exit_kind(obj)) {
		read_state(state, sizeof(state));
		if (!strcmp(state, "enabled"))
			break;
		if ((sig = wait_signal(set, POLL_MS)))
			break;
		waited += POLL_MS;
	}
	if (!strcmp(state, "enabled"))
		printf(P "enabled\n");
	else
		printf(P "not enabled after %u ms: state=%s\n", waited,
		       state[0] ? state : "(unreadable)");
	fflush(stdout);
	while (!sig && !exit_kind(obj))
		sig = wait_signal(set, 100);
	/* Detaching runs ops.exit synchronously, so the exit info is
	 * complete once this returns (kind SCX_EXIT_UNREG on a signal). */
	status = sig ? EXIT_CLEAN : EXIT_KICKED;
	bpf_link__destroy(link);
	report_exit(obj, exit_file);
	return status;
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "scx_ktstr",
		    .kernel_log_buf = verifier_log,
		    .kernel_log_size = sizeof(verifier_log));
	struct bpf_object *obj;
	struct bpf_link *link;
	struct kt_err e;
	struct opts o;
	sigset_t set;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_args(argc, argv, &o, &e)) {
		fprintf(stderr, P "%s\n", e.msg);
		usage(stderr);
		return EXIT_SETUP;
	}
	verbose = o.verbose;
	libbpf_set_print(libbpf_print);
	/* Signals are taken synchronously by sigtimedwait in run(). */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);

	obj = bpf_object__open_mem(scx_ktstr_bpf_obj,
				   (size_t)(scx_ktstr_bpf_obj_end - scx_ktstr_bpf_obj), &oo);
	if (!obj) {
		printf(P "cannot open the embedded BPF object: %s\n", strerror(errno));
		return EXIT_SETUP;
	}
	if (set_knobs(obj, &o, &e)) {
		printf(P "%s\n", e.msg);
		bpf_object__close(obj);
		return EXIT_SETUP;
	}
	rc = bpf_object__load(obj);
	if (rc) {
		if (verifier_log[0]) {
			print_verifier_log(rc);
			rc = EXIT_VERIFIER;
		} else {
			printf(P "load failed: %s (libbpf: %s)\n", strerror(-rc),
			       first_warn[0] ? first_warn : "no message");
			rc = EXIT_SETUP;
		}
		bpf_object__close(obj);
		return rc;
	}
	link = bpf_map__attach_struct_ops(bpf_object__find_map_by_name(obj, OPS_MAP));
	if (!link) {
		/* EBUSY: another scheduler is attached; E2BIG: timeout. */
		printf(P "attach failed: %s\n", strerror(errno));
		bpf_object__close(obj);
		return EXIT_SETUP;
	}
	rc = run(obj, link, &set, o.exit_file);
	bpf_object__close(obj);
	return rc;
}
