#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "entry_spec.h"
#include "util.h"
#include "workload.h"

#define PAGE 4096
#define SPIN_ROUNDS 1000
#define SPIN_CHECK_EVERY 1024
#define MIXED_YIELD_EVERY 64
#define BURSTY_CHECK_EVERY 64
#define IO_BYTES (64u << 10)
#define IO_SLEEP_NS 100000ull
#define SLOW_REFRESH_NS 100000000ull
#define NSEC 1000000000ull

/* Page 0: the flags every worker of the set watches (futex words). */
struct ctl {
	uint32_t start;
	uint32_t stop;
};

/* One page per worker, written by the worker only. */
struct wpage {
	uint64_t work_units, cpu_ns, wall_ns, max_gap_ns, migrations;
	uint64_t run_ns, run_delay_ns, timeslices;
	uint64_t cpus_seen[KT_WORK_CPUS_SEEN / 64];
	uint64_t sink; /* keeps the spin result alive */
	char fault[256];
};

struct worker {
	pid_t pid;
	Ktstr__WorkType type;
	int reaped, killed, status;
};

_Static_assert(sizeof(struct wpage) <= PAGE, "a worker page holds its telemetry");

struct kt_workset {
	uint8_t *map;
	size_t map_len;
	struct ctl *ctl;
	struct worker *w;
	unsigned max, n;
};

/* What one worker process runs with (child side only). */
struct wctx {
	struct wpage *pg;
	const struct ctl *ctl;
	Ktstr__WorkType type;
	uint32_t burst_ms, sleep_ms;
	int rfd, wfd;   /* pipe_io */
	int spare[2];   /* pipe_io: the partner's ends, closed in the child */
	int leader;     /* pipe_io: the side that writes first */
	int cpu;        /* last CPU seen, -1 before the first check */
	int schedstat;  /* fd of /proc/self/schedstat or -1 */
	uint64_t t0, last, last_slow, excused, units, x;
};

#define PUT(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

static long futex(uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

static uint64_t spin_unit(uint64_t x)
{
	for (int i = 0; i < SPIN_ROUNDS; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

static int stop_requested(const struct wctx *c)
{
	return __atomic_load_n(&c->ctl->stop, __ATOMIC_ACQUIRE) != 0;
}

static void refresh_slow(struct wctx *c, uint64_t now)
{
	struct timespec ts;
	unsigned long long run, delay, slices;
	char buf[128];
	ssize_t got;

	c->last_slow = now;
	if (!clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		PUT(c->pg->cpu_ns, (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec);
	if (c->schedstat < 0)
		return;
	got = pread(c->schedstat, buf, sizeof(buf) - 1, 0);
	if (got <= 0)
		return;
	buf[got] = 0;
	if (sscanf(buf, "%llu %llu %llu", &run, &delay, &slices) == 3) {
		PUT(c->pg->run_ns, run);
		PUT(c->pg->run_delay_ns, delay);
		PUT(c->pg->timeslices, slices);
	}
}

/* A progress check; returns non-zero when the worker should stop. */
static int check(struct wctx *c)
{
	uint64_t now = kt_now_ns(), span = now - c->last;
	uint64_t gap = span > c->excused ? span - c->excused : 0;
	int cpu = sched_getcpu();

	if (gap > c->pg->max_gap_ns)
		PUT(c->pg->max_gap_ns, gap);
	c->last = now;
	c->excused = 0;
	if (cpu >= 0) {
		if (c->cpu >= 0 && cpu != c->cpu)
			PUT(c->pg->migrations, c->pg->migrations + 1);
		c->cpu = cpu;
		if (cpu < KT_WORK_CPUS_SEEN)
			PUT(c->pg->cpus_seen[cpu / 64], c->pg->cpus_seen[cpu / 64] | 1ull << (cpu % 64));
	}
	PUT(c->pg->work_units, c->units);
	PUT(c->pg->wall_ns, now - c->t0);
	PUT(c->pg->sink, c->x);
	if (now - c->last_slow >= SLOW_REFRESH_NS)
		refresh_slow(c, now);
	return stop_requested(c);
}

/* Account a planned wait of PLANNED ns that started at BEFORE: the part up
 * to its planned end is not a gap. */
static void excuse(struct wctx *c, uint64_t before, uint64_t planned)
{
	uint64_t took = kt_now_ns() - before;

	c->excused += took < planned ? took : planned;
}

static void run_spin(struct wctx *c)
{
	for (;;) {
		c->x = spin_unit(c->x);
		if (++c->units % SPIN_CHECK_EVERY == 0 && check(c))
			return;
	}
}

static void run_yield(struct wctx *c)
{
	do {
		sched_yield();
		c->units++;
	} while (!check(c));
}

static void run_mixed(struct wctx *c)
{
	for (;;) {
		c->x = spin_unit(c->x);
		if (++c->units % MIXED_YIELD_EVERY == 0) {
			sched_yield();
			if (check(c))
				return;
		}
	}
}

static void run_bursty(struct wctx *c)
{
	uint64_t sleep_ns = (uint64_t)c->sleep_ms * 1000000;

	for (;;) {
		uint64_t end = kt_now_ns() + (uint64_t)c->burst_ms * 1000000, before;
		struct timespec ts = {.tv_sec = (time_t)(sleep_ns / NSEC),
				      .tv_nsec = (long)(sleep_ns % NSEC)};

		for (;;) {
			c->x = spin_unit(c->x);
			if (++c->units % BURSTY_CHECK_EVERY)
				continue;
			if (check(c))
				return;
			if (c->last >= end)
				break;
		}
		before = kt_now_ns();
		/* Sleep on the stop word so that a stop ends the sleep at once. */
		if (sleep_ns)
			futex((uint32_t *)&c->ctl->stop, FUTEX_WAIT, 0, &ts);
		excuse(c, before, sleep_ns);
		if (check(c))
			return;
	}
}

static void fault(struct wctx *c, const char *what)
{
	snprintf(c->pg->fault, sizeof(c->pg->fault), "%s: %s", what, strerror(errno));
	_exit(2);
}

static void run_io(struct wctx *c)
{
	char path[64];
	uint8_t *buf;
	int fd;

	buf = mmap(NULL, IO_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		fault(c, "io_sync: mmap of the write buffer");
	memset(buf, 0x5a, IO_BYTES);
	snprintf(path, sizeof(path), "/tmp/ktstr-io.%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		fault(c, "io_sync: cannot create /tmp/ktstr-io.PID");
	unlink(path);
	do {
		struct timespec ts = {0, (long)IO_SLEEP_NS};
		uint64_t before;

		if (pwrite(fd, buf, IO_BYTES, 0) != (ssize_t)IO_BYTES)
			fault(c, "io_sync: write");
		if (fdatasync(fd))
			fault(c, "io_sync: fdatasync");
		before = kt_now_ns();
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		excuse(c, before, IO_SLEEP_NS);
		c->units++;
	} while (!check(c));
	close(fd);
}

/* One byte over FD, retrying EINTR; 0 when the partner has gone. */
static int xfer(int fd, int do_write)
{
	char b = 'k';

	for (;;) {
		ssize_t r = do_write ? write(fd, &b, 1) : read(fd, &b, 1);

		if (r == 1)
			return 1;
		if (r < 0 && errno == EINTR)
			continue;
		return 0;
	}
}

static void run_pipe(struct wctx *c)
{
	do {
		if (c->leader) {
			if (!xfer(c->wfd, 1) || !xfer(c->rfd, 0))
				return;
		} else {
			if (!xfer(c->rfd, 0) || !xfer(c->wfd, 1))
				return;
		}
		c->units++;
	} while (!check(c));
}

static void wait_start(const struct ctl *ctl)
{
	for (;;) {
		uint32_t s = __atomic_load_n(&ctl->start, __ATOMIC_ACQUIRE);

		if (s || __atomic_load_n(&ctl->stop, __ATOMIC_ACQUIRE))
			return;
		futex((uint32_t *)&ctl->start, FUTEX_WAIT, 0, NULL);
	}
}

static void __attribute__((noreturn)) worker_main(struct wctx *c, pid_t parent)
{
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	wait_start(c->ctl);
	if (stop_requested(c))
		_exit(0);
	c->schedstat = open("/proc/self/schedstat", O_RDONLY | O_CLOEXEC);
	c->cpu = -1;
	c->x = (uint64_t)getpid();
	c->t0 = c->last = c->last_slow = kt_now_ns();
	switch (c->type) {
	case KTSTR__WORK_TYPE__WORK_CPU_SPIN:
		run_spin(c);
		break;
	case KTSTR__WORK_TYPE__WORK_YIELD_HEAVY:
		run_yield(c);
		break;
	case KTSTR__WORK_TYPE__WORK_MIXED:
		run_mixed(c);
		break;
	case KTSTR__WORK_TYPE__WORK_IO_SYNC:
		run_io(c);
		break;
	case KTSTR__WORK_TYPE__WORK_BURSTY:
		run_bursty(c);
		break;
	case KTSTR__WORK_TYPE__WORK_PIPE_IO:
		run_pipe(c);
		break;
	default:
		break;
	}
	check(c);
	refresh_slow(c, kt_now_ns());
	_exit(0);
}

int kt_workset_new(unsigned max, struct kt_workset **out, struct kt_err *err)
{
	struct kt_workset *ws;

	if (max == 0 || max > KT_WORKSET_MAX)
		return kt_errf(err, "workset: %u workers is not in 1..%d", max, KT_WORKSET_MAX);
	ws = calloc(1, sizeof(*ws));
	if (!ws || !(ws->w = calloc(max, sizeof(*ws->w)))) {
		free(ws);
		return kt_errf(err, "workset: out of memory for %u workers", max);
	}
	ws->max = max;
	ws->map_len = (size_t)(max + 1) * PAGE;
	ws->map = mmap(NULL, ws->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);
	if (ws->map == MAP_FAILED) {
		kt_errf(err, "workset: shared telemetry for %u workers: %s", max, strerror(errno));
		free(ws->w);
		free(ws);
		return -1;
	}
	ws->ctl = (struct ctl *)ws->map;
	*out = ws;
	return 0;
}

static struct wpage *page_of(const struct kt_workset *ws, unsigned i)
{
	return (struct wpage *)(ws->map + (size_t)(i + 1) * PAGE);
}

/* Fork worker number ws->n running C. */
static int fork_one(struct kt_workset *ws, struct wctx *c, struct kt_err *err)
{
	pid_t parent = getpid(), pid;

	c->pg = page_of(ws, ws->n);
	c->ctl = ws->ctl;
	pid = fork();
	if (pid < 0)
		return kt_errf(err, "fork of worker %u: %s", ws->n, strerror(errno));
	if (pid == 0) {
		/* Only this worker's pipe ends stay open, so that EOF works. */
		for (int i = 0; i < 2; i++)
			if (c->spare[i] >= 0)
				close(c->spare[i]);
		worker_main(c, parent);
	}
	ws->w[ws->n].pid = pid;
	ws->w[ws->n].type = c->type;
	ws->n++;
	return 0;
}

/* Validate WORK for N workers and fill the child context PROTO. */
static int prepare(const Ktstr__WorkSpec *work, unsigned n, struct wctx *proto,
		   struct kt_err *err)
{
	if (kt_spec_work_check(work, n, err))
		return -1;
	memset(proto, 0, sizeof(*proto));
	proto->type = work ? work->type : KTSTR__WORK_TYPE__WORK_CPU_SPIN;
	proto->rfd = proto->wfd = proto->spare[0] = proto->spare[1] = -1;
	if (proto->type == KTSTR__WORK_TYPE__WORK_BURSTY) {
		proto->burst_ms = work->burst_ms;
		proto->sleep_ms = work->sleep_ms;
		if (!proto->burst_ms && !proto->sleep_ms) {
			proto->burst_ms = 50;
			proto->sleep_ms = 100;
		}
	}
	return 0;
}

static void close_fds(int *fd, int n)
{
	for (int i = 0; i < n; i++)
		if (fd[i] >= 0)
			close(fd[i]);
}

/* Fork the pipe_io pair ws->n, ws->n + 1: the leader writes a->b first. */
static int fork_pair(struct kt_workset *ws, const struct wctx *proto, struct kt_err *err)
{
	int ab[2] = {-1, -1}, ba[2] = {-1, -1};
	struct wctx lead = *proto, follow = *proto;
	int rc;

	if (pipe2(ab, O_CLOEXEC) || pipe2(ba, O_CLOEXEC)) {
		rc = kt_errf(err, "pipe_io: pipe for worker %u: %s", ws->n, strerror(errno));
	} else {
		lead.leader = 1;
		lead.wfd = ab[1];
		lead.rfd = ba[0];
		lead.spare[0] = ab[0];
		lead.spare[1] = ba[1];
		follow.wfd = ba[1];
		follow.rfd = ab[0];
		follow.spare[0] = ba[0];
		follow.spare[1] = ab[1];
		rc = fork_one(ws, &lead, err);
		if (!rc)
			rc = fork_one(ws, &follow, err);
	}
	close_fds(ab, 2);
	close_fds(ba, 2);
	return rc;
}

int kt_workset_spawn(struct kt_workset *ws, const Ktstr__WorkSpec *work, unsigned n,
		     unsigned *first, struct kt_err *err)
{
	struct wctx proto;

	if (prepare(work, n, &proto, err))
		return -1;
	if (n > ws->max - ws->n)
		return kt_errf(err, "%u more workers do not fit (%u of %u used)", n, ws->n, ws->max);
	*first = ws->n;
	for (unsigned i = 0; i < n; i++) {
		if (proto.type == KTSTR__WORK_TYPE__WORK_PIPE_IO) {
			if (fork_pair(ws, &proto, err))
				return -1;
			i++;
		} else if (fork_one(ws, &proto, err)) {
			return -1;
		}
	}
	return 0;
}

pid_t kt_workset_pid(const struct kt_workset *ws, unsigned i)
{
	return i < ws->n ? ws->w[i].pid : -1;
}

void kt_workset_start(struct kt_workset *ws)
{
	__atomic_store_n(&ws->ctl->start, 1, __ATOMIC_RELEASE);
	futex(&ws->ctl->start, FUTEX_WAKE, INT_MAX, NULL);
}

/* Reap worker W if it has exited; with BLOCK, wait for it. */
static void reap(struct worker *w, int block)
{
	int st;
	pid_t r;

	if (w->reaped)
		return;
	do
		r = waitpid(w->pid, &st, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == w->pid) {
		w->status = st;
		w->reaped = 1;
	} else if (r < 0) {
		w->reaped = 1; /* not our child any more (ECHILD): nothing to wait for */
		w->status = 0;
	}
}

static unsigned unreaped(struct kt_workset *ws)
{
	unsigned left = 0;

	for (unsigned i = 0; i < ws->n; i++) {
		reap(&ws->w[i], 0);
		left += !ws->w[i].reaped;
	}
	return left;
}

unsigned kt_workset_stop(struct kt_workset *ws, unsigned grace_ms)
{
	uint64_t deadline = kt_now_ns() + (uint64_t)grace_ms * 1000000;
	unsigned killed = 0;

	__atomic_store_n(&ws->ctl->stop, 1, __ATOMIC_RELEASE);
	futex(&ws->ctl->stop, FUTEX_WAKE, INT_MAX, NULL);
	futex(&ws->ctl->start, FUTEX_WAKE, INT_MAX, NULL);
	while (unreaped(ws) && kt_now_ns() < deadline) {
		struct timespec ts = {0, 1000000};

		nanosleep(&ts, NULL);
	}
	for (unsigned i = 0; i < ws->n; i++) {
		struct worker *w = &ws->w[i];

		if (w->reaped)
			continue;
		kill(w->pid, SIGKILL);
		w->killed = 1;
		killed++;
		reap(w, 1);
	}
	return killed;
}

static const char *type_name(Ktstr__WorkType t)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
		&ktstr__work_type__descriptor, (int)t);

	return v ? v->name : "?";
}

int kt_workset_stats(const struct kt_workset *ws, unsigned i, Ktstr__WorkerStats *out,
		     struct kt_err *err)
{
	const struct wpage *pg;
	const struct worker *w;
	size_t n = 0;

	if (i >= ws->n)
		return kt_errf(err, "workset: no worker %u (%u spawned)", i, ws->n);
	pg = page_of(ws, i);
	w = &ws->w[i];
	out->work_type = w->type;
	out->pid = (uint32_t)w->pid;
	out->work_units = pg->work_units;
	out->cpu_ns = pg->cpu_ns;
	out->wall_ns = pg->wall_ns;
	out->run_ns = pg->run_ns;
	out->run_delay_ns = pg->run_delay_ns;
	out->timeslices = pg->timeslices;
	out->max_gap_ns = pg->max_gap_ns;
	out->migrations = pg->migrations;
	out->cpus_seen = malloc(KT_WORK_CPUS_SEEN * sizeof(uint32_t));
	if (!out->cpus_seen)
		return kt_errf(err, "workset: out of memory");
	for (uint32_t c = 0; c < KT_WORK_CPUS_SEEN; c++)
		if (pg->cpus_seen[c / 64] >> (c % 64) & 1)
			out->cpus_seen[n++] = c;
	out->n_cpus_seen = n;
	if (pg->fault[0])
		return kt_errf(err, "worker %u (%s, pid %d): %.*s", i, type_name(w->type), (int)w->pid,
			       (int)sizeof(pg->fault), pg->fault);
	if (kt_workset_death_signal(ws, i))
		return kt_errf(err, "worker %u (%s, pid %d) died of signal %d", i, type_name(w->type),
			       (int)w->pid, kt_workset_death_signal(ws, i));
	if (w->reaped && WIFEXITED(w->status) && WEXITSTATUS(w->status))
		return kt_errf(err, "worker %u (%s, pid %d) exited with status %d", i,
			       type_name(w->type), (int)w->pid, WEXITSTATUS(w->status));
	return 0;
}

int kt_workset_death_signal(const struct kt_workset *ws, unsigned i)
{
	const struct worker *w = i < ws->n ? &ws->w[i] : NULL;

	if (!w || !w->reaped || w->killed || !WIFSIGNALED(w->status))
		return 0;
	return WTERMSIG(w->status);
}

void kt_workset_free(struct kt_workset *ws)
{
	if (!ws)
		return;
	kt_workset_stop(ws, 0);
	munmap(ws->map, ws->map_len);
	free(ws->w);
	free(ws);
}
