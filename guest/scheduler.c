#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "boot.h"
#include "glog.h"
#include "scheduler.h"
#include "util.h"

#define TRACEFS "/sys/kernel/tracing"
#define DUMP_EVENT TRACEFS "/events/sched_ext/sched_ext_dump/enable"
#define POLL_MS 20
#define PID_WAIT_MS 5000
#define SYSRQ_WAIT_MS 300
#define READER_QUIT_MS 500  /* a child that keeps writing cannot hold us */
#define MSG_MAX 4096 /* SchedulerState.message */
#define VERIFIER_LINES 20
#define LINE_MAX_SHOWN 200

/* Bounded text that keeps its newest bytes: when full, the oldest half
 * goes. */
struct tail {
	char *buf;
	size_t len, cap;
	size_t dropped;
};

struct kt_sched {
	const Ktstr__SchedulerSpec *spec;
	pid_t minder, pid;
	int st_fd;       /* minder's status pipe (read end, nonblocking) */
	int out_fd;      /* the scheduler's stdout+stderr (read end) */
	int kmsg_fd;
	pthread_t reader;
	bool reader_started;
	volatile bool reader_quit; /* drain what is there, then end */
	pthread_mutex_t lock; /* out */
	struct tail out, klog;
	bool enabled, failed, stopping, have_status, awaited;
	int status;
	uint64_t enabled_at_ms, failed_at_ms;
	/* the kernel's word on the exit, from kmsg, before we stopped it */
	struct kt_sched_kmsg k;
	uint64_t k_at_ms;
	char why[512];   /* not enabled: why */
	struct kt_mapdump *maps;
	char hold_err[KT_ERR_MAX];
};

static void tail_add(struct tail *t, const char *p, size_t n)
{
	if (!t->buf) {
		t->buf = kt_xcalloc(1, t->cap + 1);
		t->len = 0;
	}
	if (n > t->cap) {
		t->dropped += n - t->cap;
		p += n - t->cap;
		n = t->cap;
	}
	if (t->len + n > t->cap) {
		size_t drop = t->len + n - t->cap;

		if (drop < t->cap / 2)
			drop = t->cap / 2 < t->len ? t->cap / 2 : t->len;
		memmove(t->buf, t->buf + drop, t->len - drop);
		t->len -= drop;
		t->dropped += drop;
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
	t->buf[t->len] = 0;
}

/* The last MAX bytes of T (from a line start when one is near), printable,
 * malloc'd. */
static char *tail_copy(const struct tail *t, size_t max)
{
	const char *p = t->buf ? t->buf : "";
	size_t n = t->buf ? t->len : 0, i;
	char *s;

	if (n > max) {
		const char *nl = memchr(p + n - max, '\n', max);

		p = nl && nl + 1 < p + n ? nl + 1 : p + n - max;
		n = (size_t)(t->buf + t->len - p);
	}
	s = kt_xcalloc(1, n + 1);
	for (i = 0; i < n; i++)
		s[i] = (p[i] == '\n' || p[i] == '\t' || ((unsigned char)p[i] >= 0x20 && p[i] != 0x7f))
			       ? p[i] : '?';
	return s;
}

unsigned kt_sched_kind_of_reason(const char *reason)
{
	static const struct { const char *r; unsigned kind; } kinds[] = {
		{"disabled", 1},                           /* SCX_EXIT_DONE */
		{"unregistered from user space", 64},      /* SCX_EXIT_UNREG */
		{"unregistered from BPF", 65},             /* SCX_EXIT_UNREG_BPF */
		{"unregistered from the main kernel", 66}, /* SCX_EXIT_UNREG_KERN */
		{"disabled by sysrq-S", 67},               /* SCX_EXIT_SYSRQ */
		{"runtime error", 1024},                   /* SCX_EXIT_ERROR */
		{"scx_bpf_error", 1025},                   /* SCX_EXIT_ERROR_BPF */
		{"runnable task stall", 1026},             /* SCX_EXIT_ERROR_STALL */
	};

	for (size_t i = 0; reason && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(reason, kinds[i].r) == 0)
			return kinds[i].kind;
	return 0;
}

/* ---- files ---- */

static int write_text(const char *path, const char *text, struct kt_err *err)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t n = strlen(text);
	ssize_t w;

	if (fd < 0)
		return kt_errf(err, "%s: %s", path, strerror(errno));
	do
		w = write(fd, text, n);
	while (w < 0 && errno == EINTR);
	if (w < 0 || (size_t)w != n) {
		int e = w < 0 ? errno : EIO;

		close(fd);
		return kt_errf(err, "%s: writing '%s': %s", path, text, strerror(e));
	}
	close(fd);
	return 0;
}

/* The first line of the state file; "" when there is none (no sched_ext). */
static void read_state(char *buf, size_t len)
{
	int fd = open(KT_SCHED_STATE_PATH, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

static bool state_enabled(void)
{
	char st[32];

	read_state(st, sizeof(st));
	return strcmp(st, "enabled") == 0;
}

/* sysctl KEY ("kernel.foo", "vm/bar") as /proc/sys/kernel/foo. */
static int write_sysctl(const Ktstr__Sysctl *sc, struct kt_err *err)
{
	char path[PATH_MAX], val[1024];
	size_t n;
	int w;

	if (!sc->key || !sc->key[0] || strlen(sc->key) > 200 || strstr(sc->key, ".."))
		return kt_errf(err, "sysctl '%s': not a sysctl name", sc->key ? sc->key : "");
	for (const char *c = sc->key; *c; c++)
		if (!(*c == '.' || *c == '/' || *c == '_' || *c == '-' ||
		      (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
			return kt_errf(err, "sysctl '%s': not a sysctl name", sc->key);
	w = snprintf(path, sizeof(path), "/proc/sys/%s", sc->key);
	for (char *c = path + 10; w > 0 && *c; c++)
		if (*c == '.')
			*c = '/';
	n = sc->value ? strlen(sc->value) : 0;
	if (n + 2 > sizeof(val) || !kt_printable(sc->value ? sc->value : ""))
		return kt_errf(err, "sysctl '%s': value too long or not printable", sc->key);
	snprintf(val, sizeof(val), "%s\n", sc->value ? sc->value : "");
	if (write_text(path, val, err))
		return kt_err_prefix(err, "sysctl '%s'", sc->key);
	return 0;
}

/* The sched_ext_dump tracepoint: every line of the kernel's debug dump on
 * an error exit, whichever scheduler runs. Best effort. */
static void enable_dump_event(void)
{
	struct stat st;
	struct kt_err e;

	if (stat(TRACEFS "/events", &st) &&
	    mount("tracefs", TRACEFS, "tracefs", 0, NULL) && errno != EBUSY) {
		kt_glog("scheduler: tracefs at %s: %s (no kernel dump lines)", TRACEFS,
			strerror(errno));
		return;
	}
	if (write_text(DUMP_EVENT, "1", &e))
		kt_glog("scheduler: %s (no kernel dump lines)", e.msg);
}

/* ---- kmsg ---- */

/* One kmsg record "PRI,SEQ,USEC,FLAGS;TEXT\n[ KEY=VAL\n...]". */
static void kmsg_record(struct kt_sched *s, char *rec, size_t n)
{
	unsigned long long usec = 0;
	char *semi, *text, line[1200];
	int k;

	rec[n] = 0;
	semi = strchr(rec, ';');
	if (!semi)
		return;
	sscanf(rec, "%*u,%*u,%llu", &usec);
	text = semi + 1;
	text[strcspn(text, "\n")] = 0;
	k = snprintf(line, sizeof(line), "[%5llu.%06llu] %s\n", usec / 1000000, usec % 1000000,
		     text);
	tail_add(&s->klog, line, k < (int)sizeof(line) ? (size_t)k : sizeof(line) - 1);
	if (s->stopping)
		return; /* our own stop: only the tail */
	if (kt_sched_kmsg_line(&s->k, text))
		s->k_at_ms = usec / 1000;
}

bool kt_sched_kmsg_line(struct kt_sched_kmsg *k, const char *text)
{
	const char *p, *q, *r;
	size_t n;

	if (!k->disabled && (p = strstr(text, "sched_ext: BPF scheduler \""))) {
		q = strstr(p, "\" disabled (");
		r = q ? strrchr(q, ')') : NULL;
		if (!q || !r)
			return false;
		p += strlen("sched_ext: BPF scheduler \"");
		snprintf(k->name, sizeof(k->name), "%.*s", (int)(q - p), p);
		q += strlen("\" disabled (");
		snprintf(k->reason, sizeof(k->reason), "%.*s", (int)(r - q), q);
		k->disabled = k->want_msg = true;
		return true;
	}
	/* The next "sched_ext: NAME: MESSAGE" line is the exit message. */
	n = strlen(k->name);
	if (k->want_msg && strncmp(text, "sched_ext: ", 11) == 0 &&
	    strncmp(text + 11, k->name, n) == 0 && strncmp(text + 11 + n, ": ", 2) == 0) {
		snprintf(k->msg, sizeof(k->msg), "%s", text + 13 + n);
		k->want_msg = false;
	}
	return false;
}

Ktstr__SchedulerState__Failure kt_sched_failure_of(unsigned kind, bool died)
{
	/* The kernel's error kinds first: many loaders exit after them. */
	if (kind == 1026)
		return KTSTR__SCHEDULER_STATE__FAILURE__STALL;
	if (kind >= 1024)
		return KTSTR__SCHEDULER_STATE__FAILURE__ERROR;
	if (died)
		return KTSTR__SCHEDULER_STATE__FAILURE__CRASH;
	return KTSTR__SCHEDULER_STATE__FAILURE__ERROR; /* unregistered while it lived on */
}

static void kmsg_drain(struct kt_sched *s)
{
	char rec[8192];
	ssize_t n;

	if (s->kmsg_fd < 0)
		return;
	for (;;) {
		n = read(s->kmsg_fd, rec, sizeof(rec) - 1);
		if (n > 0) {
			kmsg_record(s, rec, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EPIPE || errno == EINTR))
			continue; /* records overwritten before we read them */
		break;
	}
}

/* ---- the process ---- */

/* Fills the output ring until EOF, or until told to quit and nothing is
 * left to read (a child of the scheduler may keep the pipe open), or
 * READER_QUIT_MS after that (one may keep writing). */
static void *reader_main(void *arg)
{
	struct kt_sched *s = arg;
	struct pollfd p = {s->out_fd, POLLIN, 0};
	uint64_t quit_at = 0;
	char buf[4096];
	ssize_t n;
	int r;

	for (;;) {
		if (s->reader_quit && !quit_at)
			quit_at = kt_now_ms();
		if (quit_at && kt_now_ms() - quit_at > READER_QUIT_MS)
			break;
		r = poll(&p, 1, s->reader_quit ? 0 : 100);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 && s->reader_quit)
			break;
		if (r <= 0)
			continue;
		n = read(s->out_fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		pthread_mutex_lock(&s->lock);
		tail_add(&s->out, buf, (size_t)n);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

/* The minder: real-time, forks the scheduler, reports its pid and then
 * its wait status on ST. Never returns. It leads its own process group,
 * which the scheduler and its children inherit: stop() kills the group,
 * also when the pid word never came. */
static void __attribute__((noreturn)) minder(const Ktstr__SchedulerSpec *spec, int out, int st)
{
	char *argv[KT_SCHED_MAX_ARGS + 2];
	struct kt_err e;
	sigset_t none;
	int32_t v;
	pid_t pid;
	int status, null;

	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	if (kt_boot_realtime(KT_BOOT_RT_PRIO, &e))
		dprintf(out, "ktstr-guest: scheduler minder: %s\n", e.msg);
	pid = fork();
	if (pid == 0) {
		null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		dup2(out, 1);
		dup2(out, 2);
		argv[0] = spec->path;
		for (size_t i = 0; i < spec->n_args; i++)
			argv[i + 1] = spec->args[i];
		argv[spec->n_args + 1] = NULL;
		execv(spec->path, argv);
		dprintf(1, "ktstr-guest: exec %s: %s\n", spec->path, strerror(errno));
		_exit(127);
	}
	close(out);
	v = pid;
	if (write(st, &v, sizeof(v)) != sizeof(v) || pid < 0)
		_exit(1);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	v = status;
	if (write(st, &v, sizeof(v)) != sizeof(v))
		_exit(1);
	_exit(0);
}

/* Read the minder's next word within MS (0 = do not wait). */
static bool read_word(struct kt_sched *s, int32_t *v, unsigned ms)
{
	struct pollfd p = {s->st_fd, POLLIN, 0};
	ssize_t n;

	if (s->st_fd < 0 || poll(&p, 1, (int)ms) <= 0)
		return false;
	n = read(s->st_fd, v, sizeof(*v));
	if (n == (ssize_t)sizeof(*v))
		return true;
	if (n == 0) { /* the minder is gone without a word: close, stop asking */
		close(s->st_fd);
		s->st_fd = -1;
	}
	return false;
}

static void poll_status(struct kt_sched *s, unsigned ms)
{
	int32_t v;

	if (!s->have_status && s->pid > 0 && read_word(s, &v, ms)) {
		s->status = v;
		s->have_status = true;
	}
}

static int spawn(struct kt_sched *s, struct kt_err *err)
{
	int out[2], st[2];
	int32_t v;

	if (pipe2(out, O_CLOEXEC))
		return kt_errf(err, "scheduler: pipe: %s", strerror(errno));
	if (pipe2(st, O_CLOEXEC)) {
		close(out[0]);
		close(out[1]);
		return kt_errf(err, "scheduler: pipe: %s", strerror(errno));
	}
	s->minder = fork();
	if (s->minder < 0) {
		close(out[0]), close(out[1]), close(st[0]), close(st[1]);
		return kt_errf(err, "scheduler: fork: %s", strerror(errno));
	}
	if (s->minder == 0) {
		close(out[0]);
		close(st[0]);
		minder(s->spec, out[1], st[1]);
	}
	setpgid(s->minder, s->minder); /* either side may come first */
	close(out[1]);
	close(st[1]);
	s->out_fd = out[0];
	s->st_fd = st[0];
	if (kt_boot_rt_thread(&s->reader, reader_main, s, KT_BOOT_RT_PRIO) == 0)
		s->reader_started = true;
	else
		kt_glog("scheduler: no output reader thread (its output is lost)");
	if (!read_word(s, &v, PID_WAIT_MS) || v <= 0)
		return kt_errf(err, "scheduler: the minder process did not start %s", s->spec->path);
	s->pid = v;
	return 0;
}

static bool output_has(struct kt_sched *s, const char *needle)
{
	bool has;

	pthread_mutex_lock(&s->lock);
	has = s->out.buf && strstr(s->out.buf, needle);
	pthread_mutex_unlock(&s->lock);
	return has;
}

static bool verifier_rejected(struct kt_sched *s)
{
	return output_has(s, "verifier rejected") || output_has(s, "BEGIN PROG LOAD LOG") ||
	       output_has(s, "END PROG LOAD LOG");
}

/* Without sched_ext in the kernel nothing can become enabled: wait only
 * this long for the binary to say why (a loader fails fast there). */
#define NO_SCX_WAIT_MS 5000

static void wait_enabled(struct kt_sched *s)
{
	unsigned ms = s->spec->enable_timeout_ms ? s->spec->enable_timeout_ms : KT_SCHED_ENABLE_MS;
	uint64_t t0 = kt_now_ms();
	bool no_scx = false;
	char st[32] = "";
	int n;

	while (kt_now_ms() - t0 < ms) {
		read_state(st, sizeof(st));
		if (strcmp(st, "enabled") == 0) {
			s->enabled = true;
			s->enabled_at_ms = kt_now_ms();
			kt_glog("scheduler %s enabled after %llu ms", s->spec->name,
				(unsigned long long)(s->enabled_at_ms - t0));
			return;
		}
		if (!st[0] && !no_scx && access(KT_SCHED_STATE_PATH, F_OK)) {
			no_scx = true;
			ms = ms < NO_SCX_WAIT_MS ? ms : NO_SCX_WAIT_MS;
		}
		poll_status(s, POLL_MS);
		if (s->have_status)
			break;
	}
	if (s->have_status && WIFSIGNALED(s->status))
		n = snprintf(s->why, sizeof(s->why), "killed by signal %d before it was enabled",
			     WTERMSIG(s->status));
	else if (s->have_status)
		n = snprintf(s->why, sizeof(s->why), "exited with status %d before it was enabled",
			     WEXITSTATUS(s->status));
	else
		n = snprintf(s->why, sizeof(s->why), "not enabled within %u ms (state: %s)", ms,
			     st[0] ? st : "unreadable");
	/* The host reads these words as "not applicable" (skip). */
	if (no_scx && n > 0 && (size_t)n < sizeof(s->why))
		snprintf(s->why + n, sizeof(s->why) - (size_t)n,
			 "; no " KT_SCHED_STATE_PATH ": no sched_ext in this kernel");
	kt_glog("scheduler %s: %s", s->spec->name, s->why);
}

static int check_spec(const Ktstr__SchedulerSpec *spec, struct kt_err *err)
{
	if (!spec->path || spec->path[0] != '/' || strlen(spec->path) >= PATH_MAX)
		return kt_errf(err, "scheduler: path '%s' is not an absolute path",
			       spec->path ? spec->path : "");
	if (!spec->name || !spec->name[0] || strlen(spec->name) > 64 || !kt_printable(spec->name))
		return kt_errf(err, "scheduler: name must be 1..64 printable characters");
	if (spec->n_args > KT_SCHED_MAX_ARGS)
		return kt_errf(err, "scheduler %s: %zu arguments, at most %d", spec->name,
			       spec->n_args, KT_SCHED_MAX_ARGS);
	for (size_t i = 0; i < spec->n_args; i++)
		if (strlen(spec->args[i]) > 4096)
			return kt_errf(err, "scheduler %s: argument %zu longer than 4096", spec->name,
				       i);
	return 0;
}

int kt_sched_start(const Ktstr__SchedulerSpec *spec, struct kt_sched **out, struct kt_err *err)
{
	struct kt_sched *s;
	struct kt_err e;

	*out = NULL;
	if (check_spec(spec, err))
		return -1;
	for (size_t i = 0; i < spec->n_sysctls; i++)
		if (write_sysctl(spec->sysctls[i], err))
			return kt_err_prefix(err, "scheduler %s", spec->name);
	s = kt_xcalloc(1, sizeof(*s));
	s->spec = spec;
	s->st_fd = s->out_fd = -1;
	s->out.cap = KT_SCHED_OUTPUT_MAX;
	s->klog.cap = KT_SCHED_KLOG_MAX;
	pthread_mutex_init(&s->lock, NULL);
	/* Outside the VM (the unit tests) the host's tracing is left alone. */
	if (getpid() == 1)
		enable_dump_event();
	/* Only what the kernel says from now on. */
	s->kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (s->kmsg_fd >= 0)
		lseek(s->kmsg_fd, 0, SEEK_END);
	else
		kt_glog("scheduler: /dev/kmsg: %s (exit reasons from its output only)",
			strerror(errno));
	kt_glog("scheduler %s: starting %s with %zu args", spec->name, spec->path, spec->n_args);
	if (spawn(s, err)) {
		kt_sched_free(s);
		return -1;
	}
	wait_enabled(s);
	kmsg_drain(s);
	if (s->enabled) {
		if (kt_mapdump_hold(s->pid, &s->maps, &e)) {
			s->maps = NULL;
			snprintf(s->hold_err, sizeof(s->hold_err), "%s", e.msg);
			kt_glog("scheduler %s: its BPF maps cannot be held: %s", spec->name, e.msg);
		} else {
			kt_glog("scheduler %s: holding %zu BPF maps", spec->name,
				kt_mapdump_n_maps(s->maps));
		}
	}
	*out = s;
	return 0;
}

bool kt_sched_enabled(const struct kt_sched *s)
{
	return s && s->enabled;
}

struct kt_mapdump *kt_sched_maps(struct kt_sched *s)
{
	return s ? s->maps : NULL;
}

bool kt_sched_failed(struct kt_sched *s)
{
	if (!s || !s->enabled || s->stopping)
		return false;
	if (s->failed)
		return true;
	kmsg_drain(s);
	poll_status(s, 0);
	if (s->k.disabled || s->have_status || !state_enabled()) {
		s->failed = true;
		s->failed_at_ms = kt_now_ms();
		kt_glog("scheduler %s: ended during the scenario after %llu ms%s%s%s",
			s->spec->name, (unsigned long long)(s->failed_at_ms - s->enabled_at_ms),
			s->k.disabled ? " (" : "", s->k.reason, s->k.disabled ? ")" : "");
	}
	return s->failed;
}

bool kt_sched_await_failure(struct kt_sched *s)
{
	bool failed = kt_sched_failed(s);

	if (!s || s->awaited)
		return failed;
	s->awaited = true;
	for (uint64_t t0 = kt_now_ms(); s->spec->expect_err && s->enabled && !failed &&
	     kt_now_ms() - t0 < KT_SCHED_EXPECT_WAIT_MS;) {
		usleep(50 * 1000);
		failed = kt_sched_failed(s);
	}
	return failed;
}

/* ---- the verdict ---- */

/* The loader's own "exit kind=N reason=R msg=M" line (scx-ktstr prints
 * one; other loaders may): *KIND, and REASON/MSG when asked. */
static bool loader_exit(struct kt_sched *s, unsigned *kind, char *reason, size_t rlen, char *msg,
			size_t mlen)
{
	const char *p, *last = NULL, *r, *m, *end;
	bool found = false;

	pthread_mutex_lock(&s->lock);
	for (p = s->out.buf; p && (p = strstr(p, "exit kind=")); p++)
		last = p;
	if (last && sscanf(last, "exit kind=%u", kind) == 1) {
		found = true;
		end = last + strcspn(last, "\n");
		r = strstr(last, " reason=");
		m = strstr(last, " msg=");
		if (r && r < end && m && m < end && r < m) {
			snprintf(reason, rlen, "%.*s", (int)(m - r - 8), r + 8);
			snprintf(msg, mlen, "%.*s", (int)(end - m - 5), m + 5);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}

/* The last VERIFIER_LINES lines of the output, each cut to LINE_MAX_SHOWN. */
static char *verifier_log(struct kt_sched *s)
{
	char *all, *p, *res;
	size_t o = 0, cap = VERIFIER_LINES * (LINE_MAX_SHOWN + 1) + 1;
	int lines = 0;

	pthread_mutex_lock(&s->lock);
	all = tail_copy(&s->out, s->out.cap);
	pthread_mutex_unlock(&s->lock);
	p = all + strlen(all);
	while (p > all && (p[-1] == '\n' || p[-1] == ' '))
		*--p = 0;
	for (; p > all; p--)
		if (p[-1] == '\n' && ++lines == VERIFIER_LINES)
			break;
	res = kt_xcalloc(1, cap);
	while (*p && o + 1 < cap) {
		size_t n = strcspn(p, "\n"), k = n < LINE_MAX_SHOWN ? n : LINE_MAX_SHOWN;

		if (o + k + 2 > cap)
			break;
		memcpy(res + o, p, k);
		o += k;
		res[o++] = '\n';
		p += n + (p[n] == '\n');
	}
	res[o] = 0;
	free(all);
	return res;
}

static void set_str(char **field, const char *text)
{
	*field = kt_xstrdup(text ? text : "");
}

/* What failed, from what was seen before we stopped it. */
/* FAILED and DIED (its process had ended on its own) as seen before we
 * stopped it. */
static void classify(struct kt_sched *s, bool failed, bool died, Ktstr__SchedulerState *st)
{
	char reason[128] = "", msg[MSG_MAX] = "";
	unsigned kind = 0;

	if (!s->enabled) {
		/* The process is stopped and its output read by now. */
		if (verifier_rejected(s)) {
			st->failure = KTSTR__SCHEDULER_STATE__FAILURE__VERIFIER;
			st->message = verifier_log(s);
		} else {
			st->failure = KTSTR__SCHEDULER_STATE__FAILURE__NOT_ENABLED;
			set_str(&st->message, s->why);
		}
		return;
	}
	if (!failed)
		return;
	st->exited = true;
	if (!loader_exit(s, &kind, reason, sizeof(reason), msg, sizeof(msg)) || !kind) {
		kind = kt_sched_kind_of_reason(s->k.reason);
		reason[0] = msg[0] = 0;
	}
	if (s->k.reason[0])
		snprintf(reason, sizeof(reason), "%s", s->k.reason);
	if (!msg[0])
		snprintf(msg, sizeof(msg), "%s", s->k.msg);
	st->exit_kind = kind;
	set_str(&st->reason, reason);
	st->failure = kt_sched_failure_of(kind, died);
	if (!msg[0] && st->failure == KTSTR__SCHEDULER_STATE__FAILURE__CRASH) {
		if (WIFSIGNALED(s->status))
			snprintf(msg, sizeof(msg), "the scheduler process was killed by signal %d",
				 WTERMSIG(s->status));
		else
			snprintf(msg, sizeof(msg), "the scheduler process exited with status %d",
				 WEXITSTATUS(s->status));
	} else if (!msg[0] && !s->k.disabled) {
		char state[32];

		read_state(state, sizeof(state));
		snprintf(msg, sizeof(msg), "sched_ext state became '%s'", state);
	}
	set_str(&st->message, msg);
	st->exited_after_ms = s->k_at_ms > s->enabled_at_ms ? s->k_at_ms - s->enabled_at_ms :
			      s->failed_at_ms - s->enabled_at_ms;
}

void kt_sched_state_now(struct kt_sched *s, Ktstr__SchedulerState *st)
{
	char buf[sizeof(s->k.msg)];
	bool disabled = s->k.disabled;

	set_str(&st->name, s->spec->name);
	st->enabled = s->enabled;
	if (s->enabled && disabled) {
		snprintf(buf, sizeof(buf), "%.*s", (int)sizeof(s->k.reason) - 1, s->k.reason);
		st->exited = true;
		st->exit_kind = kt_sched_kind_of_reason(buf);
		st->failure = kt_sched_failure_of(st->exit_kind, s->have_status);
		set_str(&st->reason, buf);
		snprintf(buf, sizeof(buf), "%.*s", (int)sizeof(s->k.msg) - 1, s->k.msg);
		set_str(&st->message, buf);
	} else {
		set_str(&st->message, s->enabled ? "still enabled when the guest watchdog expired"
						 : "never enabled");
	}
	if (pthread_mutex_trylock(&s->lock) == 0) {
		st->output = tail_copy(&s->out, KT_SCHED_OUTPUT_TAIL);
		pthread_mutex_unlock(&s->lock);
	}
	st->exit_status = -1;
}

static void stop(struct kt_sched *s)
{
	uint64_t t0;

	kmsg_drain(s);
	s->stopping = true;
	poll_status(s, 0);
	if (!s->have_status && s->pid > 0) {
		kill(s->pid, SIGINT);
		t0 = kt_now_ms();
		while (!s->have_status && s->st_fd >= 0 && kt_now_ms() - t0 < KT_SCHED_STOP_MS)
			poll_status(s, POLL_MS);
		if (!s->have_status) {
			kt_glog("scheduler %s: still running %d ms after SIGINT: SIGKILL",
				s->spec->name, KT_SCHED_STOP_MS);
			kill(s->pid, SIGKILL);
			poll_status(s, KT_SCHED_STOP_MS);
		}
	}
	/* What is left of its group (the scheduler when its pid never came,
	 * children it left behind): killed before we reap the minder, the
	 * group's leader, so the group id is still its own. */
	if (s->minder > 0) {
		if (s->pid <= 0)
			kt_glog("scheduler %s: its pid is unknown: killing its process group",
				s->spec->name);
		kill(-s->minder, SIGKILL);
	}
	/* ECHILD when the runner reaped it already: fine. */
	for (t0 = kt_now_ms(); s->minder > 0 && kt_now_ms() - t0 < KT_SCHED_STOP_MS;) {
		pid_t w = waitpid(s->minder, NULL, WNOHANG);

		if (w == s->minder || (w < 0 && errno != EINTR))
			break;
		usleep(POLL_MS * 1000);
	}
	s->minder = 0;
	if (s->reader_started) {
		s->reader_quit = true;
		pthread_join(s->reader, NULL);
		s->reader_started = false;
	}
}

/* The kernel's sched_ext debug dump: the tracepoint's lines, else the
 * kernel log lines that SysRq-D printed. */
static char *kernel_dump(struct kt_sched *s)
{
	struct tail t = {.cap = KT_SCHED_KDUMP_MAX};
	char *trace = NULL, *p, *line, *res;
	size_t len, before, added;
	struct kt_err e;

	if (!kt_read_file(TRACEFS "/trace", 16u << 20, &trace, &len, &e)) {
		for (line = trace; line && *line; line = p) {
			p = strchr(line, '\n');
			if (p)
				*p++ = 0;
			char *d = strstr(line, "sched_ext_dump: ");

			if (d) {
				tail_add(&t, d + 16, strlen(d + 16));
				tail_add(&t, "\n", 1);
			}
		}
		free(trace);
	}
	if (t.len) {
		res = tail_copy(&t, t.cap);
		free(t.buf);
		return res;
	}
	/* SysRq-D: the same dump on demand, printed to the kernel log. The
	 * ring may drop old text meanwhile: count the bytes added since. */
	kmsg_drain(s);
	before = s->klog.dropped + s->klog.len;
	if (write_text("/proc/sysrq-trigger", "D", &e)) {
		kt_glog("scheduler: %s", e.msg);
		return kt_xstrdup("");
	}
	usleep(SYSRQ_WAIT_MS * 1000);
	kmsg_drain(s);
	added = s->klog.dropped + s->klog.len - before;
	if (added > s->klog.len) /* more than the ring holds: its newest part */
		added = s->klog.len;
	res = kt_xstrdup(s->klog.buf ? s->klog.buf + s->klog.len - added : "");
	return res;
}

void kt_sched_finish(struct kt_sched *s, Ktstr__ScenarioResult *res)
{
	Ktstr__SchedulerState *st = kt_xcalloc(1, sizeof(*st));
	struct kt_err e;
	char *kdump = NULL;
	bool failed, died;

	ktstr__scheduler_state__init(st);
	set_str(&st->name, s->spec->name);
	st->enabled = s->enabled;
	/* Whether it failed is decided before we stop it; the details (the
	 * loader's exit line) are read once it has ended. An expected failure
	 * may come a little after the scenario: wait for it, bounded. */
	failed = kt_sched_await_failure(s);
	died = s->have_status;
	/* The kernel's dump before our own stop: SysRq-D shows the state of
	 * the failure, not of the unregistering we cause. */
	if (failed && s->enabled)
		kdump = kernel_dump(s);
	stop(s);
	classify(s, failed, died, st);
	failed = st->failure != KTSTR__SCHEDULER_STATE__FAILURE__NONE;
	st->exit_status = !s->have_status ? -1 : WIFEXITED(s->status) ? WEXITSTATUS(s->status) : -1;
	st->exit_signal = s->have_status && WIFSIGNALED(s->status) ? WTERMSIG(s->status) : 0;
	pthread_mutex_lock(&s->lock);
	st->output = tail_copy(&s->out, KT_SCHED_OUTPUT_TAIL);
	pthread_mutex_unlock(&s->lock);
	if (failed && s->enabled) {
		char *json = NULL;

		if (s->maps && !kt_mapdump_render(s->maps, 0, &json, &e)) {
			/* "" after init is protobuf-c's static empty string */
			if (res->dump_json && res->dump_json != protobuf_c_empty_string)
				free(res->dump_json);
			res->dump_json = json;
		} else {
			kt_glog("scheduler %s: no failure dump: %s", s->spec->name,
				s->maps ? e.msg : s->hold_err);
		}
		st->kernel_dump = kdump ? kdump : kt_xstrdup("");
		kdump = NULL;
	}
	free(kdump);
	kmsg_drain(s);
	st->klog_tail = tail_copy(&s->klog, KT_SCHED_KLOG_TAIL);
	kt_glog("scheduler %s: %s, failure %d, exit kind %u (%s), status %d", s->spec->name,
		s->enabled ? "was enabled" : "never enabled", (int)st->failure, st->exit_kind,
		st->reason, st->exit_status);
	if (res->scheduler)
		ktstr__scheduler_state__free_unpacked(res->scheduler, NULL);
	res->scheduler = st;
}

void kt_sched_free(struct kt_sched *s)
{
	if (!s)
		return;
	if (!s->stopping)
		stop(s);
	if (s->maps)
		kt_mapdump_free(s->maps);
	if (s->kmsg_fd >= 0)
		close(s->kmsg_fd);
	if (s->st_fd >= 0)
		close(s->st_fd);
	if (s->out_fd >= 0)
		close(s->out_fd);
	pthread_mutex_destroy(&s->lock);
	free(s->out.buf);
	free(s->klog.buf);
	free(s);
}
