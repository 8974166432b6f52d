#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util.h"

#define NSEC 1000000000ull

static void __attribute__((noreturn)) out_of_memory(void)
{
	fputs("out of memory\n", stderr);
	abort();
}

void *kt_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		out_of_memory();
	return p;
}

void *kt_xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		out_of_memory();
	return p;
}

char *kt_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		p = NULL;
	va_end(ap);
	if (!p)
		abort();
	return p;
}

char *kt_xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		out_of_memory();
	return p;
}

int kt_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

size_t kt_sort_uniq_u32(uint32_t *v, size_t n)
{
	size_t k = 0;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), kt_cmp_u32);
	for (size_t i = 0; i < n; i++)
		if (!k || v[k - 1] != v[i])
			v[k++] = v[i];
	return k;
}

bool kt_printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

void kt_printable_copy(const char *s, size_t n, char *buf, size_t len)
{
	size_t i, o = 0, max = len > 4 ? len - 4 : 0;

	if (!len)
		return;
	for (i = 0; i < n && o < max; i++)
		buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < n && len >= 4) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = 0;
}

uint64_t kt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

uint64_t kt_now_ms(void)
{
	return kt_now_ns() / 1000000;
}

struct timespec kt_deadline(clockid_t clock, uint64_t ms)
{
	struct timespec t;

	clock_gettime(clock, &t);
	t.tv_sec += (time_t)(ms / 1000);
	t.tv_nsec += (long)(ms % 1000) * 1000000;
	if (t.tv_nsec >= (long)NSEC) {
		t.tv_sec++;
		t.tv_nsec -= (long)NSEC;
	}
	return t;
}

void kt_sleep_until(const struct timespec *t)
{
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) == EINTR)
		;
}

int kt_mkdir_p(const char *path, struct kt_err *err)
{
	char buf[PATH_MAX];

	if (!*path)
		return kt_errf(err, "mkdir: empty path");
	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		return kt_errf(err, "%.64s...: path too long", path);
	for (char *p = buf + 1;; p++) {
		if (*p && *p != '/')
			continue;
		if (*p)
			*p = 0;
		else
			p = NULL;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return kt_errf(err, "mkdir %s: %s", buf, strerror(errno));
		if (!p)
			return 0;
		*p = '/';
	}
}

int kt_read_file(const char *path, size_t max, char **out, size_t *len, struct kt_err *err)
{
	struct stat st;
	size_t cap, got = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return kt_errf(err, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return kt_errf(err, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return kt_errf(err, "%s: larger than %zu bytes", path, max);
	}
	/* st_size is a hint only: pseudo files report 0 or a page. */
	cap = (size_t)st.st_size + 1;
	buf = kt_xcalloc(cap, 1);
	for (;;) {
		ssize_t r;

		if (got == cap - 1) {
			if (got > max)
				break;
			cap = cap > (max + 2) / 2 ? max + 2 : 2 * cap;
			buf = kt_xrealloc(buf, cap);
		}
		r = read(fd, buf + got, cap - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			kt_errf(err, "%s: %s", path, strerror(errno));
			close(fd);
			free(buf);
			return -1;
		}
		if (!r)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got > max) {
		free(buf);
		return kt_errf(err, "%s: larger than %zu bytes", path, max);
	}
	buf[got] = 0;
	*out = buf;
	*len = got;
	return 0;
}

int kt_write_file(const char *path, const void *data, size_t len, struct kt_err *err)
{
	const char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return kt_errf(err, "%s: %s", path, strerror(errno));
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			kt_errf(err, "%s: write: %s", path, w < 0 ? strerror(errno) : "no progress");
			close(fd);
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd)) {
		kt_errf(err, "%s: fsync: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd))
		return kt_errf(err, "%s: close: %s", path, strerror(errno));
	return 0;
}
