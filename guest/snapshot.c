#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "boot.h"
#include "glog.h"
#include "snapshot.h"
#include "util.h"

#define WATCH_BYTES 64          /* of a BPF global compared per poll */
#define LOOKUP_MAX (1u << 20)   /* value bytes of a non-mmapable map */
#define MAX_CPUS 1024
#define SYMBOL_MAX 127

struct watch {
	char symbol[SYMBOL_MAX + 1];
	bool kernel;
	bool fired;
	/* BPF global */
	int fd;
	size_t off, size;
	const void *mem;
	size_t mem_len;
	uint8_t *val;       /* lookup buffer (not mmapable) */
	uint32_t val_size;
	uint8_t last[WATCH_BYTES];
	/* kernel symbol: one breakpoint per CPU */
	int *pfd;
	size_t n_pfd;
	uint64_t addr;
};

struct kt_snap {
	struct kt_mapdump *maps;
	size_t budget, used;
	uint64_t t0_ms;
	pthread_mutex_t lock;   /* caps, captures, renders */
	Ktstr__Snapshot **caps;
	size_t n_caps;
	struct watch w[KT_SNAP_MAX_WATCHES];
	size_t n_w;
	pthread_t poller;
	bool poller_started;
	volatile bool quit;
	/* measured poll period */
	uint64_t polls, period_sum_ns, period_max_ns;
};

struct kt_snap *kt_snap_new(struct kt_mapdump *maps, size_t budget)
{
	struct kt_snap *s = kt_xcalloc(1, sizeof(*s));

	s->maps = maps;
	s->budget = budget ? budget : KT_SNAP_BUDGET;
	s->t0_ms = kt_now_ms();
	pthread_mutex_init(&s->lock, NULL);
	s->caps = kt_xcalloc(KT_SNAP_MAX, sizeof(*s->caps));
	return s;
}

/* Render the maps and store the capture NAME; errors are stored with it.
 * Call with the lock held. */
static void capture_locked(struct kt_snap *s, const char *name)
{
	Ktstr__Snapshot *c;
	size_t left = s->budget > s->used ? s->budget - s->used : 0;
	struct kt_err e = {{0}};
	char *json = NULL;
	uint64_t t0;

	if (s->n_caps == KT_SNAP_MAX) {
		kt_glog("snapshot %s: dropped, %d captures already taken", name, KT_SNAP_MAX);
		return;
	}
	c = kt_xcalloc(1, sizeof(*c));
	ktstr__snapshot__init(c);
	c->name = kt_xstrdup(name);
	c->at_ms = kt_now_ms() - s->t0_ms;
	t0 = kt_now_ms();
	if (!s->maps)
		/* a kernel-symbol watch fired with no scheduler under test */
		kt_errf(&e, "snapshot %s: no scheduler maps held, nothing to capture", name);
	else if (left < KT_SNAP_MIN_BYTES)
		kt_errf(&e, "snapshot %s: the budget of %zu bytes for all captures is used up", name,
			s->budget);
	else if (kt_mapdump_render(s->maps, left < KT_MAPDUMP_MAX_BYTES ? left : 0, &json, &e))
		kt_err_prefix(&e, "snapshot %s", name);
	if (json) {
		c->json = json;
		s->used += strlen(json);
		kt_glog("snapshot %s: %zu bytes at %" PRIu64 " ms, rendered in %" PRIu64 " ms", name,
			strlen(json), c->at_ms, kt_now_ms() - t0);
	} else {
		c->error = kt_xstrdup(e.msg);
		kt_glog("%s (the scenario goes on)", e.msg);
	}
	s->caps[s->n_caps++] = c;
}

void kt_snap_take(struct kt_snap *s, const char *name)
{
	char clean[KT_SNAP_NAME_MAX + 1];

	kt_printable_copy(name ? name : "", name ? strlen(name) : 0, clean, sizeof(clean));
	if (!s->maps) {
		kt_glog("snapshot %s: no scheduler under test, nothing to capture", clean);
		return;
	}
	pthread_mutex_lock(&s->lock);
	capture_locked(s, clean);
	pthread_mutex_unlock(&s->lock);
}

/* ---- watches ---- */

static long bpf_sys(int cmd, union bpf_attr *a)
{
	return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

/* The current bytes of W's variable into BUF (W->size, at most
 * WATCH_BYTES); false when they cannot be read. */
static bool watch_read(struct watch *w, uint8_t *buf)
{
	size_t n = w->size < WATCH_BYTES ? w->size : WATCH_BYTES;
	union bpf_attr a;
	uint32_t key = 0;

	if (w->mem) {
		/* volatile: the BPF side writes behind the compiler's back */
		const volatile uint8_t *p = (const volatile uint8_t *)w->mem + w->off;

		for (size_t i = 0; i < n; i++)
			buf[i] = p[i];
		return true;
	}
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)w->fd;
	a.key = (uint64_t)(uintptr_t)&key;
	a.value = (uint64_t)(uintptr_t)w->val;
	if (bpf_sys(BPF_MAP_LOOKUP_ELEM, &a))
		return false;
	memcpy(buf, w->val + w->off, n);
	return true;
}

static bool watch_hit(struct watch *w)
{
	uint8_t now[WATCH_BYTES];
	uint64_t count;

	if (!w->kernel)
		return watch_read(w, now) &&
		       memcmp(now, w->last, w->size < WATCH_BYTES ? w->size : WATCH_BYTES);
	for (size_t i = 0; i < w->n_pfd; i++)
		if (read(w->pfd[i], &count, sizeof(count)) == sizeof(count) && count)
			return true;
	return false;
}

static void close_breakpoints(struct watch *w)
{
	for (size_t j = 0; j < w->n_pfd; j++)
		close(w->pfd[j]);
	free(w->pfd);
	w->pfd = NULL;
	w->n_pfd = 0;
}

static void *poll_main(void *arg)
{
	struct kt_snap *s = arg;
	struct timespec next;
	uint64_t prev = kt_now_ns(), now;
	char name[SYMBOL_MAX + 8];

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!s->quit) {
		next.tv_nsec += KT_SNAP_POLL_US * 1000L;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		kt_sleep_until(&next);
		now = kt_now_ns();
		s->polls++;
		s->period_sum_ns += now - prev;
		if (now - prev > s->period_max_ns)
			s->period_max_ns = now - prev;
		prev = now;
		pthread_mutex_lock(&s->lock);
		for (size_t i = 0; i < s->n_w; i++) {
			struct watch *w = &s->w[i];

			if (w->fired || !watch_hit(w))
				continue;
			w->fired = true;
			/* Every further hit traps on every CPU (and under TCG
			 * costs whole milliseconds): disarm first. */
			close_breakpoints(w);
			snprintf(name, sizeof(name), "watch:%s", w->symbol);
			capture_locked(s, name);
			/* the render is not part of the poll period */
			prev = kt_now_ns();
		}
		pthread_mutex_unlock(&s->lock);
		/* A late wake-up is not made up for with a burst of polls. */
		if (kt_now_ns() > prev + 10ull * KT_SNAP_POLL_US * 1000) {
			clock_gettime(CLOCK_MONOTONIC, &next);
		}
	}
	return NULL;
}

static int bpf_watch(struct kt_snap *s, struct watch *w, struct kt_err *err)
{
	if (kt_mapdump_find_var(s->maps, w->symbol, &w->fd, &w->off, &w->size, &w->mem,
				&w->mem_len, err))
		return -1;
	if (!w->mem) {
		struct bpf_map_info info;
		union bpf_attr a;

		memset(&info, 0, sizeof(info));
		memset(&a, 0, sizeof(a));
		a.info.bpf_fd = (uint32_t)w->fd;
		a.info.info_len = sizeof(info);
		a.info.info = (uint64_t)(uintptr_t)&info;
		if (bpf_sys(BPF_OBJ_GET_INFO_BY_FD, &a))
			return kt_errf(err, "watch_snapshot %s: map info: %s", w->symbol,
				       strerror(errno));
		if (!info.value_size || info.value_size > LOOKUP_MAX ||
		    w->off + w->size > info.value_size)
			return kt_errf(err, "watch_snapshot %s: value of %u bytes cannot hold the "
				       "variable at %zu+%zu", w->symbol, info.value_size, w->off,
				       w->size);
		w->val = kt_xcalloc(1, info.value_size);
		w->val_size = info.value_size;
	}
	if (!w->size || !watch_read(w, w->last)) {
		free(w->val);
		w->val = NULL;
		if (w->mem)
			munmap((void *)w->mem, w->mem_len);
		w->mem = NULL;
		return kt_errf(err, "watch_snapshot %s: its value cannot be read", w->symbol);
	}
	return 0;
}

/* SYMBOL's address from /proc/kallsyms: 1 found, 0 not there, -1 hidden. */
static int kallsyms(const char *symbol, uint64_t *addr)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char line[512], name[256], type;
	unsigned long long a;
	int rc = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %255s", &a, &type, name) == 3 &&
		    strcmp(name, symbol) == 0) {
			*addr = a;
			rc = a ? 1 : -1;
			break;
		}
	fclose(f);
	return rc;
}

static int kernel_watch(struct watch *w, struct kt_err *err)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	struct perf_event_attr pa;
	int saved = 0;

	if (ncpu < 1 || ncpu > MAX_CPUS)
		ncpu = ncpu < 1 ? 1 : MAX_CPUS;
	memset(&pa, 0, sizeof(pa));
	pa.type = PERF_TYPE_BREAKPOINT;
	pa.size = sizeof(pa);
	pa.bp_type = HW_BREAKPOINT_W;
	pa.bp_addr = w->addr;
	/* The length must suit the address's alignment. */
	pa.bp_len = !(w->addr & 7) ? HW_BREAKPOINT_LEN_8 : !(w->addr & 3) ? HW_BREAKPOINT_LEN_4 :
		    !(w->addr & 1) ? HW_BREAKPOINT_LEN_2 : HW_BREAKPOINT_LEN_1;
	w->pfd = kt_xcalloc((size_t)ncpu, sizeof(int));
	for (long c = 0; c < ncpu; c++) {
		int fd = (int)syscall(SYS_perf_event_open, &pa, -1, (int)c, -1,
				      PERF_FLAG_FD_CLOEXEC);

		if (fd >= 0)
			w->pfd[w->n_pfd++] = fd;
		else if (errno != ENODEV) /* an offline CPU */
			saved = errno;
		if (fd < 0 && saved)
			break;
	}
	if (saved || !w->n_pfd) {
		for (size_t i = 0; i < w->n_pfd; i++)
			close(w->pfd[i]);
		free(w->pfd);
		w->pfd = NULL;
		w->n_pfd = 0;
		return kt_errf(err, "watch_snapshot %s: kernel symbol at 0x%" PRIx64 ": the hardware "
			       "breakpoint cannot be armed: %s", w->symbol, w->addr,
			       strerror(saved ? saved : ENODEV));
	}
	return 0;
}

int kt_snap_watch(struct kt_snap *s, const char *symbol, struct kt_err *err)
{
	struct watch w;
	struct kt_err bpf_err = {{0}};
	char clean[SYMBOL_MAX + 1];
	int k;

	memset(&w, 0, sizeof(w));
	kt_printable_copy(symbol ? symbol : "", symbol ? strlen(symbol) : 0, clean, sizeof(clean));
	if (s->n_w == KT_SNAP_MAX_WATCHES)
		return kt_errf(err, "watch_snapshot %s: cap exceeded: at most %d watches per "
			       "scenario", clean, KT_SNAP_MAX_WATCHES);
	if (!symbol || !symbol[0] || strlen(symbol) > SYMBOL_MAX || !kt_printable(symbol))
		return kt_errf(err, "watch_snapshot %s: did not resolve (not a symbol name)", clean);
	snprintf(w.symbol, sizeof(w.symbol), "%s", symbol);
	w.fd = -1;
	if (s->maps && bpf_watch(s, &w, &bpf_err) == 0) {
		w.kernel = false;
	} else if (s->maps && !strstr(bpf_err.msg, "did not resolve")) {
		/* It is the scheduler's variable, but it cannot be watched. */
		*err = bpf_err;
		return -1;
	} else if (!strchr(symbol, '.') && (k = kallsyms(symbol, &w.addr)) != 0) {
		if (k < 0)
			return kt_errf(err, "watch_snapshot %s: did not resolve: /proc/kallsyms hides "
				       "kernel addresses", clean);
		w.kernel = true;
		if (kernel_watch(&w, err))
			return -1;
	} else {
		return kt_errf(err, "watch_snapshot %s: did not resolve: %s", clean,
			       s->maps ? "not a BPF global of the scheduler nor a kernel symbol" :
					 "no scheduler under test and not a kernel symbol");
	}
	pthread_mutex_lock(&s->lock);
	s->w[s->n_w++] = w;
	pthread_mutex_unlock(&s->lock);
	kt_glog("watch_snapshot %s: armed (%s)", clean,
		w.kernel ? "hardware write breakpoint" : "BPF global, polled");
	if (!s->poller_started) {
		if (kt_boot_rt_thread(&s->poller, poll_main, s, KT_BOOT_RT_PRIO))
			kt_glog("watch_snapshot %s: no poll thread: the watch never fires", clean);
		else
			s->poller_started = true;
	}
	return 0;
}

size_t kt_snap_n_watches(const struct kt_snap *s)
{
	return s->n_w;
}

const char *kt_snap_watch_symbol(const struct kt_snap *s, size_t i)
{
	return i < s->n_w ? s->w[i].symbol : NULL;
}

bool kt_snap_watch_is_kernel(const struct kt_snap *s, size_t i)
{
	return i < s->n_w && s->w[i].kernel;
}

size_t kt_snap_n_captures(struct kt_snap *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->n_caps;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void stop_watches(struct kt_snap *s)
{
	if (s->poller_started) {
		s->quit = true;
		pthread_join(s->poller, NULL);
		s->poller_started = false;
		if (s->polls)
			kt_glog("watch poll: %" PRIu64 " polls, period mean %" PRIu64 " us, max %"
				PRIu64 " us (asked %d us)", s->polls,
				s->period_sum_ns / s->polls / 1000, s->period_max_ns / 1000,
				KT_SNAP_POLL_US);
	}
	for (size_t i = 0; i < s->n_w; i++) {
		struct watch *w = &s->w[i];

		close_breakpoints(w);
		if (w->mem)
			munmap((void *)w->mem, w->mem_len);
		w->mem = NULL;
		free(w->val);
		w->val = NULL;
	}
}

void kt_snap_collect(struct kt_snap *s, Ktstr__ScenarioResult *res)
{
	size_t n;

	stop_watches(s);
	pthread_mutex_lock(&s->lock);
	n = res->n_snapshots;
	res->snapshots = kt_xrealloc(res->snapshots, (n + s->n_caps) * sizeof(*res->snapshots));
	for (size_t i = 0; i < s->n_caps; i++)
		res->snapshots[n + i] = s->caps[i];
	res->n_snapshots = n + s->n_caps;
	s->n_caps = 0;
	pthread_mutex_unlock(&s->lock);
}

void kt_snap_free(struct kt_snap *s)
{
	if (!s)
		return;
	stop_watches(s);
	for (size_t i = 0; i < s->n_caps; i++)
		ktstr__snapshot__free_unpacked(s->caps[i], NULL);
	free(s->caps);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
