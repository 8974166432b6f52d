#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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
#define CACHE_CHECK_TOUCHES (512u << 10)
#define FAN_COMPUTE_UNITS 64
#define WAIT_SLICE_NS 50000000L /* futex and mutex waits look at stop this often */
#define NICE_TOP 19

/* Per worker: its telemetry page, its group page, its wake samples. */
#define WAKE_PAGES ((KT_WORK_WAKE_KEEP * sizeof(uint64_t) + PAGE - 1) / PAGE)
#define SLOT_PAGES (2 + WAKE_PAGES)

/* Page 0: the flags every worker of the set watches (futex words). */
struct ctl {
	uint32_t start;
	uint32_t stop;
	uint64_t settle_ns; /* the settle sample's time after release, 0 = none */
};

/* One page per worker, written by the worker only, but for seg_req (the
 * parent's: the segment it asks the worker to start). */
struct wpage {
	uint64_t work_units, cpu_ns, wall_ns, max_gap_ns, migrations;
	uint64_t run_ns, run_delay_ns, timeslices;
	uint64_t cpus_seen[KT_WORK_CPUS_SEEN / 64];
	uint64_t seg_seen[KT_WORK_CPUS_SEEN / 64]; /* since segment seg_ack began */
	uint32_t seg_req, seg_ack;
	uint64_t sink; /* keeps the spin result alive */
	uint64_t wake_count, wake_sum_ns, wake_max_ns;
	uint64_t settle_wall_ns, settle_delay_ns;
	char fault[256];
};

/* What the workers of one group share: the group page of its first
 * worker. Futex words are 32-bit; stamps are CLOCK_MONOTONIC ns. */
struct group {
	uint32_t turn;      /* futex_ping_pong: whose turn, rank 0 or 1 */
	uint32_t gen;       /* fan-out: the round, bumped by the waker */
	uint32_t acks;      /* fan-out: waiters done with this round */
	uint32_t done;      /* fan-out: = gen once every waiter is done */
	uint32_t gone;      /* members that have left: the rest leave too */
	uint64_t stamp;     /* the waker's clock just before its last wake */
	uint64_t ack_stamp; /* fan-out: the last waiter's, before waking the waker */
	uint64_t released;  /* mutex: the last holder's, just before unlocking */
	pthread_mutex_t mutex;
};

struct worker {
	pid_t pid;
	Ktstr__WorkType type;
	int reaped, killed, status;
};

_Static_assert(sizeof(struct wpage) <= PAGE, "a worker page holds its telemetry");
_Static_assert(sizeof(struct group) <= PAGE, "a group page holds the group");

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
	uint64_t *wake;          /* KT_WORK_WAKE_KEEP samples */
	const struct ctl *ctl;
	struct group *grp;       /* futex and mutex groups, else NULL */
	unsigned rank;           /* place in the group, 0 = waker / first */
	Ktstr__WorkType type;
	uint32_t burst_ms, sleep_ms, fan_out, size_kb, stride, region_kb;
	Ktstr__Phase phases[KT_SPEC_MAX_PHASES];
	size_t n_phases;
	int rfd, wfd;   /* pipe_io, cache_pipe */
	int spare[2];   /* the partner's pipe ends, closed in the child */
	int leader;     /* pipes: the side that writes first */
	int cpu;        /* last CPU seen, -1 before the first check */
	int schedstat;  /* fd of /proc/self/schedstat or -1 */
	uint8_t *buf;   /* cache_*: the buffer */
	uint64_t t0, last, last_slow, excused, units, x, rng;
	uint64_t until; /* sequence: the end of the current phase, else 0 */
	uint32_t seg;   /* the segment seg_seen belongs to */
	int settled;    /* the settle sample is taken */
};

#define PUT(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define LOAD(field) __atomic_load_n(&(field), __ATOMIC_ACQUIRE)

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

/* A progress check; returns non-zero when the worker should stop, or a
 * sequence phase is over. */
static int check(struct wctx *c)
{
	uint64_t now = kt_now_ns(), span = now - c->last;
	uint64_t gap = span > c->excused ? span - c->excused : 0;
	/* The request is read before the CPU: a CPU sampled after a new
	 * segment's request was made is one the worker ran on since. */
	uint32_t req = LOAD(c->pg->seg_req);
	int cpu = sched_getcpu();

	if (req != c->seg) {
		for (size_t i = 0; i < KT_WORK_CPUS_SEEN / 64; i++)
			PUT(c->pg->seg_seen[i], 0);
		c->seg = req;
		__atomic_store_n(&c->pg->seg_ack, req, __ATOMIC_RELEASE);
	}

	if (gap > c->pg->max_gap_ns)
		PUT(c->pg->max_gap_ns, gap);
	c->last = now;
	c->excused = 0;
	if (cpu >= 0) {
		if (c->cpu >= 0 && cpu != c->cpu)
			PUT(c->pg->migrations, c->pg->migrations + 1);
		c->cpu = cpu;
		if (cpu < KT_WORK_CPUS_SEEN) {
			PUT(c->pg->cpus_seen[cpu / 64], c->pg->cpus_seen[cpu / 64] | 1ull << (cpu % 64));
			PUT(c->pg->seg_seen[cpu / 64], c->pg->seg_seen[cpu / 64] | 1ull << (cpu % 64));
		}
	}
	PUT(c->pg->work_units, c->units);
	PUT(c->pg->wall_ns, now - c->t0);
	PUT(c->pg->sink, c->x);
	if (!c->settled && c->ctl->settle_ns && now - c->t0 >= c->ctl->settle_ns) {
		/* Fresh numbers for the sample, whatever the refresh period. */
		refresh_slow(c, now);
		PUT(c->pg->settle_delay_ns, c->pg->run_delay_ns);
		PUT(c->pg->settle_wall_ns, now - c->t0);
		c->settled = 1;
	} else if (now - c->last_slow >= SLOW_REFRESH_NS) {
		refresh_slow(c, now);
	}
	return stop_requested(c) || (c->until && now >= c->until);
}

/* Account a planned wait of PLANNED ns that started at BEFORE: the part up
 * to its planned end is not a gap. */
static void excuse(struct wctx *c, uint64_t before, uint64_t planned)
{
	uint64_t took = kt_now_ns() - before;

	c->excused += took < planned ? took : planned;
}

/* A planned sleep of NS on the stop word, so that a stop ends it at once. */
static void nap(struct wctx *c, uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / NSEC), .tv_nsec = (long)(ns % NSEC)};
	uint64_t before = kt_now_ns();

	if (ns)
		futex((uint32_t *)&c->ctl->stop, FUTEX_WAIT, 0, &ts);
	excuse(c, before, ns);
}

static void __attribute__((noreturn)) fault(struct wctx *c, const char *what)
{
	snprintf(c->pg->fault, sizeof(c->pg->fault), "%s: %s", what, strerror(errno));
	_exit(2);
}

static uint64_t rnd(struct wctx *c)
{
	uint64_t x = c->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* A wake latency sample: now minus the waker's STAMP (0: no wake yet). */
static void wake_sample(struct wctx *c, uint64_t stamp)
{
	uint64_t now = kt_now_ns(), v = now > stamp ? now - stamp : 0, n = c->pg->wake_count;

	if (!stamp)
		return;
	if (n < KT_WORK_WAKE_KEEP) {
		c->wake[n] = v;
	} else {
		uint64_t j = rnd(c) % (n + 1); /* Algorithm R: keep it with p = KEEP/(n+1) */

		if (j < KT_WORK_WAKE_KEEP)
			c->wake[j] = v;
	}
	PUT(c->pg->wake_sum_ns, c->pg->wake_sum_ns + v);
	if (v > c->pg->wake_max_ns)
		PUT(c->pg->wake_max_ns, v);
	PUT(c->pg->wake_count, n + 1);
}

/* ---- the work types ---- */

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
	for (;;) {
		uint64_t end = kt_now_ns() + (uint64_t)c->burst_ms * 1000000;

		for (;;) {
			c->x = spin_unit(c->x);
			if (++c->units % BURSTY_CHECK_EVERY)
				continue;
			if (check(c))
				return;
			if (c->last >= end)
				break;
		}
		nap(c, (uint64_t)c->sleep_ms * 1000000);
		if (check(c))
			return;
	}
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
	munmap(buf, IO_BYTES);
}

static size_t cache_len(const struct wctx *c)
{
	return (size_t)c->size_kb * 1024;
}

static void cache_map(struct wctx *c, const char *what)
{
	c->buf = mmap(NULL, cache_len(c), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	if (c->buf == MAP_FAILED)
		fault(c, what);
	memset(c->buf, 1, cache_len(c));
}

static void cache_unmap(struct wctx *c)
{
	munmap(c->buf, cache_len(c));
	c->buf = NULL;
}

/* One pass over the buffer: a read-modify-write every stride bytes. */
static void cache_pass(struct wctx *c)
{
	size_t len = cache_len(c);

	for (size_t i = 0; i < len; i += c->stride)
		c->x += ++c->buf[i];
}

static void run_cache(struct wctx *c)
{
	uint64_t touches = (cache_len(c) + c->stride - 1) / c->stride;
	uint64_t every = touches >= CACHE_CHECK_TOUCHES ? 1 : CACHE_CHECK_TOUCHES / touches;

	cache_map(c, "cache_pressure: mmap of the buffer");
	for (;;) {
		cache_pass(c);
		if (++c->units % every == 0 && check(c))
			break;
	}
	cache_unmap(c);
}

static void run_cache_yield(struct wctx *c)
{
	cache_map(c, "cache_yield: mmap of the buffer");
	do {
		cache_pass(c);
		sched_yield();
		c->units++;
	} while (!check(c));
	cache_unmap(c);
}

/* Send the clock over FD; 0 when the partner has gone. */
static int send_stamp(int fd)
{
	uint64_t now = kt_now_ns();

	for (;;) {
		ssize_t r = write(fd, &now, sizeof(now));

		if (r == (ssize_t)sizeof(now))
			return 1; /* a pipe write of <= PIPE_BUF bytes is atomic */
		if (r < 0 && errno == EINTR)
			continue;
		return 0;
	}
}

/* Receive a stamp from FD and take a wake sample; 0 when the partner has
 * gone (EOF). */
static int recv_stamp(struct wctx *c, int fd)
{
	uint64_t stamp;
	size_t got = 0;

	while (got < sizeof(stamp)) {
		ssize_t r = read(fd, (char *)&stamp + got, sizeof(stamp) - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		got += (size_t)r;
	}
	wake_sample(c, stamp);
	return 1;
}

static void run_pipe(struct wctx *c)
{
	int cache = c->type == KTSTR__WORK_TYPE__WORK_CACHE_PIPE;

	if (cache)
		cache_map(c, "cache_pipe: mmap of the buffer");
	do {
		if (cache)
			cache_pass(c);
		if (c->leader) {
			if (!send_stamp(c->wfd) || !recv_stamp(c, c->rfd))
				break;
		} else {
			if (!recv_stamp(c, c->rfd) || !send_stamp(c->wfd))
				break;
		}
		c->units++;
	} while (!check(c));
	if (cache)
		cache_unmap(c);
}

/* Wait while *WORD is VAL, in slices; non-zero when the worker should
 * leave instead (a stop, or a member of its group left). */
static int gwait(struct wctx *c, uint32_t *word, uint32_t val)
{
	struct timespec ts = {0, WAIT_SLICE_NS};

	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == val) {
		if (stop_requested(c) || LOAD(c->grp->gone))
			return 1;
		futex(word, FUTEX_WAIT, val, &ts);
	}
	return 0;
}

/* Stamp, then store VAL into *WORD and wake N waiters of it. */
static void handoff(struct wctx *c, uint32_t *word, uint32_t val, int n)
{
	__atomic_store_n(&c->grp->stamp, kt_now_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(word, val, __ATOMIC_RELEASE);
	futex(word, FUTEX_WAKE, (uint32_t)n, NULL);
}

static void run_ping_pong(struct wctx *c)
{
	struct group *g = c->grp;
	uint32_t other = c->rank ^ 1;

	for (;;) {
		if (gwait(c, &g->turn, other))
			return;
		wake_sample(c, LOAD(g->stamp)); /* 0 before the first handoff */
		c->units++;
		if (check(c))
			return;
		handoff(c, &g->turn, other, 1);
	}
}

static void run_fan_waker(struct wctx *c)
{
	struct group *g = c->grp;

	for (uint32_t gen = 1;; gen++) {
		__atomic_store_n(&g->acks, 0, __ATOMIC_RELAXED);
		handoff(c, &g->gen, gen, INT_MAX);
		if (gwait(c, &g->done, gen - 1))
			return;
		wake_sample(c, LOAD(g->ack_stamp));
		c->units++;
		if (check(c))
			return;
	}
}

static void run_fan_waiter(struct wctx *c)
{
	struct group *g = c->grp;
	uint32_t seen = 0;

	for (;;) {
		if (gwait(c, &g->gen, seen))
			return;
		seen = LOAD(g->gen);
		wake_sample(c, LOAD(g->stamp));
		if (c->type == KTSTR__WORK_TYPE__WORK_FAN_OUT_COMPUTE)
			for (int i = 0; i < FAN_COMPUTE_UNITS; i++)
				c->x = spin_unit(c->x);
		/* The last of the round wakes the waker. */
		if (__atomic_add_fetch(&g->acks, 1, __ATOMIC_ACQ_REL) == c->fan_out) {
			__atomic_store_n(&g->ack_stamp, kt_now_ns(), __ATOMIC_RELAXED);
			__atomic_store_n(&g->done, seen, __ATOMIC_RELEASE);
			futex(&g->done, FUTEX_WAKE, 1, NULL);
		}
		c->units++;
		if (check(c))
			return;
	}
}

/* Lock the group's mutex; *WAITED when it was held. Non-zero on a stop. */
static int mutex_lock(struct wctx *c, int *waited)
{
	pthread_mutex_t *m = &c->grp->mutex;
	int r = pthread_mutex_trylock(m);

	*waited = 0;
	while (r == EBUSY || r == ETIMEDOUT) {
		struct timespec dl;

		if (stop_requested(c))
			return 1;
		*waited = 1;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_nsec += WAIT_SLICE_NS;
		if (dl.tv_nsec >= (long)NSEC) {
			dl.tv_sec++;
			dl.tv_nsec -= (long)NSEC;
		}
		r = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &dl);
	}
	/* A holder died holding it (robust): the section is ours again. */
	if (r == EOWNERDEAD)
		r = pthread_mutex_consistent(m);
	if (r) {
		errno = r;
		fault(c, "mutex_contention: lock");
	}
	return 0;
}

static void run_mutex(struct wctx *c)
{
	struct group *g = c->grp;
	int waited;

	do {
		if (mutex_lock(c, &waited))
			return;
		if (waited)
			wake_sample(c, LOAD(g->released));
		c->x = spin_unit(c->x);
		__atomic_store_n(&g->released, kt_now_ns(), __ATOMIC_RELAXED);
		pthread_mutex_unlock(&g->mutex);
		c->x = spin_unit(c->x);
		c->units++;
	} while (!check(c));
}

static void run_fork(struct wctx *c)
{
	do {
		pid_t pid = fork();
		int st;

		if (pid < 0)
			fault(c, "fork_exit: fork");
		if (pid == 0)
			_exit(0);
		while (waitpid(pid, &st, 0) < 0)
			if (errno != EINTR)
				fault(c, "fork_exit: waitpid");
		c->units++;
	} while (!check(c));
}

static void run_nice(struct wctx *c)
{
	unsigned step = 0;

	do {
		int nice = step <= NICE_TOP ? (int)step : 2 * NICE_TOP - (int)step;
		char what[80];

		step = (step + 1) % (2 * NICE_TOP);
		if (setpriority(PRIO_PROCESS, 0, nice)) {
			snprintf(what, sizeof(what), "nice_sweep: setpriority to nice %d%s", nice,
				 errno == EACCES || errno == EPERM ? " (lowering needs CAP_SYS_NICE)"
								    : "");
			fault(c, what);
		}
		c->x = spin_unit(c->x);
		c->units++;
	} while (!check(c));
}

/* *ALLOWED = the CPUs the kernel lets this worker run on now: ask for all
 * of them (the kernel keeps the cpuset's), then read back. */
static void allowed_cpus(struct wctx *c, cpu_set_t *allowed)
{
	memset(allowed, 0xff, sizeof(*allowed));
	if (sched_setaffinity(0, sizeof(*allowed), allowed) ||
	    sched_getaffinity(0, sizeof(*allowed), allowed))
		fault(c, "affinity_churn: reading the allowed CPUs");
}

static void run_affinity(struct wctx *c)
{
	cpu_set_t allowed, one;
	int cpu = -1;

	allowed_cpus(c, &allowed);
	do {
		do
			cpu++;
		while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &allowed));
		if (cpu == CPU_SETSIZE) {
			/* A wrap: follow a cpuset that may have changed. */
			allowed_cpus(c, &allowed);
			cpu = -1;
			continue;
		}
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one)) {
			if (errno != EINVAL)
				fault(c, "affinity_churn: sched_setaffinity");
			allowed_cpus(c, &allowed); /* the CPU left the cpuset */
			cpu = -1;
		}
		c->x = spin_unit(c->x);
		c->units++;
	} while (!check(c));
}

static void run_policy(struct wctx *c)
{
	static const int policies[] = { SCHED_OTHER, SCHED_BATCH, SCHED_IDLE };
	unsigned i = 0;

	do {
		struct sched_param sp = {0};

		if (sched_setscheduler(0, policies[i], &sp))
			fault(c, "policy_churn: sched_setscheduler");
		i = (i + 1) % 3;
		c->x = spin_unit(c->x);
		c->units++;
	} while (!check(c));
}

static void run_page_faults(struct wctx *c)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = (size_t)c->region_kb * 1024;
	volatile uint8_t *r;

	len = (len + page - 1) / page * page;
	r = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		fault(c, "page_fault_churn: mmap of the region");
	do {
		for (size_t off = 0; off < len; off += page)
			r[off] = (uint8_t)c->units;
		if (madvise((void *)r, len, MADV_DONTNEED))
			fault(c, "page_fault_churn: madvise");
		c->units++;
	} while (!check(c));
	munmap((void *)r, len);
}

static void run_type(struct wctx *c, Ktstr__WorkType type);

static void run_sequence(struct wctx *c)
{
	for (size_t i = 0;; i = (i + 1) % c->n_phases) {
		const Ktstr__Phase *p = &c->phases[i];
		uint64_t ns = (uint64_t)p->ms * 1000000;

		c->until = kt_now_ns() + ns;
		if (p->sleep) {
			nap(c, ns);
			check(c);
		} else {
			run_type(c, p->work);
		}
		if (stop_requested(c))
			return;
	}
}

static void run_type(struct wctx *c, Ktstr__WorkType type)
{
	switch (type) {
	case KTSTR__WORK_TYPE__WORK_CPU_SPIN:
		return run_spin(c);
	case KTSTR__WORK_TYPE__WORK_YIELD_HEAVY:
		return run_yield(c);
	case KTSTR__WORK_TYPE__WORK_MIXED:
		return run_mixed(c);
	case KTSTR__WORK_TYPE__WORK_IO_SYNC:
		return run_io(c);
	case KTSTR__WORK_TYPE__WORK_BURSTY:
		return run_bursty(c);
	case KTSTR__WORK_TYPE__WORK_PIPE_IO:
	case KTSTR__WORK_TYPE__WORK_CACHE_PIPE:
		return run_pipe(c);
	case KTSTR__WORK_TYPE__WORK_FUTEX_PING_PONG:
		return run_ping_pong(c);
	case KTSTR__WORK_TYPE__WORK_FUTEX_FAN_OUT:
	case KTSTR__WORK_TYPE__WORK_FAN_OUT_COMPUTE:
		return c->rank ? run_fan_waiter(c) : run_fan_waker(c);
	case KTSTR__WORK_TYPE__WORK_CACHE_PRESSURE:
		return run_cache(c);
	case KTSTR__WORK_TYPE__WORK_CACHE_YIELD:
		return run_cache_yield(c);
	case KTSTR__WORK_TYPE__WORK_SEQUENCE:
		return run_sequence(c);
	case KTSTR__WORK_TYPE__WORK_FORK_EXIT:
		return run_fork(c);
	case KTSTR__WORK_TYPE__WORK_NICE_SWEEP:
		return run_nice(c);
	case KTSTR__WORK_TYPE__WORK_AFFINITY_CHURN:
		return run_affinity(c);
	case KTSTR__WORK_TYPE__WORK_POLICY_CHURN:
		return run_policy(c);
	case KTSTR__WORK_TYPE__WORK_PAGE_FAULT_CHURN:
		return run_page_faults(c);
	case KTSTR__WORK_TYPE__WORK_MUTEX_CONTENTION:
		return run_mutex(c);
	default:
		return;
	}
}

/* Leave the group: the others see it at their next wait and leave too. */
static void leave(struct wctx *c)
{
	struct group *g = c->grp;

	__atomic_add_fetch(&g->gone, 1, __ATOMIC_RELEASE);
	futex(&g->turn, FUTEX_WAKE, INT_MAX, NULL);
	futex(&g->gen, FUTEX_WAKE, INT_MAX, NULL);
	futex(&g->done, FUTEX_WAKE, INT_MAX, NULL);
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
	c->rng = c->x * 0x9e3779b97f4a7c15ull | 1;
	c->t0 = c->last = c->last_slow = kt_now_ns();
	run_type(c, c->type);
	if (c->grp)
		leave(c);
	c->until = 0;
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
	ws->map_len = (1 + (size_t)max * SLOT_PAGES) * PAGE;
	/* Pages are allocated when touched: reserve nothing up front. */
	ws->map = mmap(NULL, ws->map_len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
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

/* Worker I's slot: telemetry page, group page, wake samples. */
static uint8_t *slot_of(const struct kt_workset *ws, unsigned i)
{
	return ws->map + (1 + (size_t)i * SLOT_PAGES) * PAGE;
}

static struct wpage *page_of(const struct kt_workset *ws, unsigned i)
{
	return (struct wpage *)slot_of(ws, i);
}

static struct group *group_of(const struct kt_workset *ws, unsigned i)
{
	return (struct group *)(slot_of(ws, i) + PAGE);
}

static uint64_t *wake_of(const struct kt_workset *ws, unsigned i)
{
	return (uint64_t *)(slot_of(ws, i) + 2 * PAGE);
}

/* Fork worker number ws->n running C. */
static int fork_one(struct kt_workset *ws, struct wctx *c, struct kt_err *err)
{
	pid_t parent = getpid(), pid;

	c->pg = page_of(ws, ws->n);
	c->wake = wake_of(ws, ws->n);
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

static uint32_t or_default(uint32_t v, uint32_t dflt)
{
	return v ? v : dflt;
}

/* Validate WORK for N workers and fill the child context PROTO, with the
 * defaults for parameters of 0. */
static int prepare(const Ktstr__WorkSpec *work, unsigned n, struct wctx *proto,
		   struct kt_err *err)
{
	if (kt_spec_work_check(work, n, err))
		return -1;
	memset(proto, 0, sizeof(*proto));
	proto->type = work ? work->type : KTSTR__WORK_TYPE__WORK_CPU_SPIN;
	proto->rfd = proto->wfd = proto->spare[0] = proto->spare[1] = -1;
	if (!work)
		return 0;
	proto->burst_ms = work->burst_ms;
	proto->sleep_ms = work->sleep_ms;
	if (!proto->burst_ms && !proto->sleep_ms) {
		proto->burst_ms = KT_SPEC_DEFAULT_BURST_MS;
		proto->sleep_ms = KT_SPEC_DEFAULT_SLEEP_MS;
	}
	proto->fan_out = or_default(work->fan_out, KT_SPEC_DEFAULT_FAN_OUT);
	proto->size_kb = or_default(work->size_kb, KT_SPEC_DEFAULT_SIZE_KB);
	proto->stride = or_default(work->stride, KT_SPEC_DEFAULT_STRIDE);
	proto->region_kb = or_default(work->region_kb, KT_SPEC_DEFAULT_REGION_KB);
	if (proto->type == KTSTR__WORK_TYPE__WORK_SEQUENCE) {
		/* Phases run their types at the defaults. */
		proto->size_kb = KT_SPEC_DEFAULT_SIZE_KB;
		proto->stride = KT_SPEC_DEFAULT_STRIDE;
		proto->region_kb = KT_SPEC_DEFAULT_REGION_KB;
		proto->n_phases = work->n_phases; /* 1..KT_SPEC_MAX_PHASES: checked */
		for (size_t i = 0; i < work->n_phases; i++)
			proto->phases[i] = *work->phases[i];
	}
	return 0;
}

static void close_fds(int *fd, int n)
{
	for (int i = 0; i < n; i++)
		if (fd[i] >= 0)
			close(fd[i]);
}

/* Fork the pipe pair ws->n, ws->n + 1: the leader writes a->b first. */
static int fork_pair(struct kt_workset *ws, const struct wctx *proto, struct kt_err *err)
{
	int ab[2] = {-1, -1}, ba[2] = {-1, -1};
	struct wctx lead = *proto, follow = *proto;
	int rc;

	if (pipe2(ab, O_CLOEXEC) || pipe2(ba, O_CLOEXEC)) {
		rc = kt_errf(err, "pipe for worker %u: %s", ws->n, strerror(errno));
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

/* A process-shared, robust mutex in G: a contender that dies holding it
 * hands it on (EOWNERDEAD) instead of blocking the group. */
static int init_mutex(struct group *g, struct kt_err *err)
{
	pthread_mutexattr_t a;
	int r = pthread_mutexattr_init(&a);

	if (!r)
		r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!r)
		r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!r)
		r = pthread_mutex_init(&g->mutex, &a);
	pthread_mutexattr_destroy(&a);
	if (r)
		return kt_errf(err, "mutex_contention: shared mutex: %s", strerror(r));
	return 0;
}

/* Fork one group of SIZE workers from ws->n on, sharing ws->n's group page. */
static int fork_group(struct kt_workset *ws, const struct wctx *proto, unsigned size,
		      struct kt_err *err)
{
	struct group *g = group_of(ws, ws->n);
	struct wctx c = *proto;

	if (size == 1)
		return fork_one(ws, &c, err);
	if (proto->type == KTSTR__WORK_TYPE__WORK_PIPE_IO ||
	    proto->type == KTSTR__WORK_TYPE__WORK_CACHE_PIPE)
		return fork_pair(ws, proto, err);
	if (proto->type == KTSTR__WORK_TYPE__WORK_MUTEX_CONTENTION && init_mutex(g, err))
		return -1;
	c.grp = g;
	for (c.rank = 0; c.rank < size; c.rank++)
		if (fork_one(ws, &c, err))
			return -1;
	return 0;
}

int kt_workset_spawn(struct kt_workset *ws, const Ktstr__WorkSpec *work, unsigned n,
		     unsigned *first, struct kt_err *err)
{
	struct wctx proto;
	unsigned size;

	if (prepare(work, n, &proto, err))
		return -1;
	if (n > ws->max - ws->n)
		return kt_errf(err, "%u more workers do not fit (%u of %u used)", n, ws->n, ws->max);
	*first = ws->n;
	size = kt_spec_work_group(work);
	for (unsigned i = 0; i < n; i += size)
		if (fork_group(ws, &proto, size, err))
			return -1;
	return 0;
}

pid_t kt_workset_pid(const struct kt_workset *ws, unsigned i)
{
	return i < ws->n ? ws->w[i].pid : -1;
}

void kt_workset_settle(struct kt_workset *ws, uint32_t ms)
{
	ws->ctl->settle_ns = (uint64_t)ms * 1000000ull;
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

static bool wake_based(Ktstr__WorkType t)
{
	switch (t) {
	case KTSTR__WORK_TYPE__WORK_PIPE_IO:
	case KTSTR__WORK_TYPE__WORK_CACHE_PIPE:
	case KTSTR__WORK_TYPE__WORK_FUTEX_PING_PONG:
	case KTSTR__WORK_TYPE__WORK_FUTEX_FAN_OUT:
	case KTSTR__WORK_TYPE__WORK_FAN_OUT_COMPUTE:
	case KTSTR__WORK_TYPE__WORK_MUTEX_CONTENTION:
		return true;
	default:
		return false;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank PCT percentile of the N sorted values V (N > 0). */
static uint64_t percentile(const uint64_t *v, size_t n, unsigned pct)
{
	size_t rank = (n * pct + 99) / 100;

	return v[rank ? rank - 1 : 0];
}

/* Worker I's wake latency summary into *OUT (malloc'd). */
static int wake_stats(const struct kt_workset *ws, unsigned i, Ktstr__WakeLatency **out,
		      struct kt_err *err)
{
	const struct wpage *pg = page_of(ws, i);
	Ktstr__WakeLatency *wl = malloc(sizeof(*wl));
	size_t n = pg->wake_count < KT_WORK_WAKE_KEEP ? pg->wake_count : KT_WORK_WAKE_KEEP;
	uint64_t *v = malloc((n ? n : 1) * sizeof(*v));

	if (!wl || !v) {
		free(wl);
		free(v);
		return kt_errf(err, "workset: out of memory");
	}
	ktstr__wake_latency__init(wl);
	wl->count = pg->wake_count;
	wl->max_ns = pg->wake_max_ns;
	wl->mean_ns = pg->wake_count ? pg->wake_sum_ns / pg->wake_count : 0;
	wl->samples = (uint32_t)n;
	if (n) {
		memcpy(v, wake_of(ws, i), n * sizeof(*v));
		qsort(v, n, sizeof(*v), cmp_u64);
		wl->p50_ns = percentile(v, n, 50);
		wl->p99_ns = percentile(v, n, 99);
	}
	free(v);
	*out = wl;
	return 0;
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
	out->settle_wall_ns = pg->settle_wall_ns;
	out->settle_run_delay_ns = pg->settle_delay_ns;
	out->cpus_seen = malloc(KT_WORK_CPUS_SEEN * sizeof(uint32_t));
	if (!out->cpus_seen)
		return kt_errf(err, "workset: out of memory");
	for (uint32_t c = 0; c < KT_WORK_CPUS_SEEN; c++)
		if (pg->cpus_seen[c / 64] >> (c % 64) & 1)
			out->cpus_seen[n++] = c;
	out->n_cpus_seen = n;
	if (wake_based(w->type) && wake_stats(ws, i, &out->wake_latency, err))
		return -1;
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

void kt_workset_segment_next(struct kt_workset *ws, unsigned i)
{
	struct wpage *pg;

	if (i >= ws->n)
		return;
	pg = page_of(ws, i);
	__atomic_store_n(&pg->seg_req, pg->seg_req + 1, __ATOMIC_RELEASE);
}

size_t kt_workset_segment_seen(const struct kt_workset *ws, unsigned i, uint32_t *out)
{
	const struct wpage *pg;
	size_t n = 0;

	if (i >= ws->n)
		return 0;
	pg = page_of(ws, i);
	/* Until the worker took up the current segment, its bits are the
	 * last one's: none of them belong here. */
	if (__atomic_load_n(&pg->seg_ack, __ATOMIC_ACQUIRE) != pg->seg_req)
		return 0;
	for (uint32_t c = 0; c < KT_WORK_CPUS_SEEN; c++)
		if (__atomic_load_n(&pg->seg_seen[c / 64], __ATOMIC_RELAXED) >> (c % 64) & 1)
			out[n++] = c;
	return n;
}
