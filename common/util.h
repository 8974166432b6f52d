/* Small helpers shared by the host tools and the guest agent: allocation
 * that cannot fail, sorted CPU-id arrays, printable text, the monotonic
 * clock, and files read or written whole. */
#ifndef KTSTR_UTIL_H
#define KTSTR_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "err.h"

/* calloc / realloc / strdup that print "out of memory" and abort: for
 * sizes already bounded by validated input, where no caller could recover.
 * A size of 0 still returns a unique pointer. */
void *kt_xcalloc(size_t n, size_t size);
void *kt_xrealloc(void *p, size_t size);
char *kt_xstrdup(const char *s);
/* A formatted string in a new allocation; abort on out of memory. */
char *kt_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* qsort / bsearch comparator for uint32_t. */
int kt_cmp_u32(const void *a, const void *b);

/* Sort V[N] ascending and drop duplicates in place; returns the new count. */
size_t kt_sort_uniq_u32(uint32_t *v, size_t n);

/* Whether every byte of S is printable ASCII (0x20..0x7e); "" is. */
bool kt_printable(const char *s);

/* Copy the N bytes at S (NULs allowed) into BUF (LEN bytes) for a message:
 * non-printable bytes become '?', and text that does not fit ends in
 * "...". Untrusted text never reaches a log or terminal raw. */
void kt_printable_copy(const char *s, size_t n, char *buf, size_t len);

/* CLOCK_MONOTONIC in ns and in ms. */
uint64_t kt_now_ns(void);
uint64_t kt_now_ms(void);

/* The time MS milliseconds from now on CLOCK, as an absolute timespec for
 * clock_nanosleep(TIMER_ABSTIME) or pthread_mutex_timedlock. */
struct timespec kt_deadline(clockid_t clock, uint64_t ms);

/* Sleep until the CLOCK_MONOTONIC time T, through signals. */
void kt_sleep_until(const struct timespec *t);

/* mkdir -p: PATH and its missing parents, mode 0755. */
int kt_mkdir_p(const char *path, struct kt_err *err);

/* Read the regular file PATH (sysfs and cgroupfs files count) whole into
 * a malloc'd, NUL-terminated *OUT of *LEN bytes. More than MAX bytes is an
 * error, so a hostile or runaway file cannot exhaust memory. */
int kt_read_file(const char *path, size_t max, char **out, size_t *len, struct kt_err *err);

/* Create or truncate PATH (mode 0644), write the LEN bytes of DATA (short
 * writes and EINTR retried) and fsync it. */
int kt_write_file(const char *path, const void *data, size_t len, struct kt_err *err);

#endif
