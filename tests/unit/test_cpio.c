#define _GNU_SOURCE
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "cpio.h"

#define BIG_LEN 70001 /* more than one copy chunk, not a multiple of 4 */

struct expect {
	const char *name;
	unsigned mode;
	const char *data; /* NULL: BIG pattern */
	size_t size;
};

static char big[BIG_LEN];

static const struct expect sample[] = {
	{ "d", S_IFDIR | 0755, "", 0 },
	{ "d/sub", S_IFDIR | 0700, "", 0 },
	{ "d/a.txt", S_IFREG | 0644, "hello world", 11 },
	{ "d/empty", S_IFREG | 0600, "", 0 },
	{ "d/sub/four", S_IFREG | 0755, "abcd", 4 },
	{ "d/big", S_IFREG | 0644, NULL, BIG_LEN },
	{ "d/link", S_IFLNK | 0777, "a.txt", 5 },
};
#define NSAMPLE (sizeof(sample) / sizeof(sample[0]))

static char *tmpdir(void)
{
	char *d = strdup("/tmp/kt-cpio-XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

static void rm_rf(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Write the sample archive (leading '/' on some names on purpose);
 * without d/big when SMALL (for tests that loop over every byte). */
static void write_sample(FILE *f, const char *dir, bool small)
{
	char host[512];
	struct kt_err e;
	struct kt_cpio *c = kt_cpio_new(f, "sample");
	FILE *h;

	for (size_t i = 0; i < BIG_LEN; i++)
		big[i] = (char)(i * 7 + i / 251);
	snprintf(host, sizeof(host), "%s/big.host", dir);
	h = fopen(host, "wb");
	assert_non_null(h);
	assert_int_equal(fwrite(big, 1, BIG_LEN, h), BIG_LEN);
	fclose(h);

	assert_non_null(c);
	assert_int_equal(kt_cpio_dir(c, "/d", 0755, &e), 0);
	assert_int_equal(kt_cpio_dir(c, "d/sub", 0700, &e), 0);
	assert_int_equal(kt_cpio_file(c, "/d/a.txt", 0644, "hello world", 11, &e), 0);
	assert_int_equal(kt_cpio_file(c, "d/empty", 0600, NULL, 0, &e), 0);
	assert_int_equal(kt_cpio_file(c, "d/sub/four", 0755, "abcd", 4, &e), 0);
	if (!small)
		assert_int_equal(kt_cpio_file_path(c, "d/big", 0644, host, &e), 0);
	assert_int_equal(kt_cpio_symlink(c, "d/link", "a.txt", &e), 0);
	assert_int_equal(kt_cpio_finish(c, &e), 0);
	kt_cpio_free(c);
	unlink(host);
}

static char *sample_file(const char *dir)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/sample.cpio", dir) > 0);
	f = fopen(path, "wb");
	assert_non_null(f);
	write_sample(f, dir, false);
	fclose(f);
	return path;
}

static uint8_t *sample_mem(size_t *len, bool small)
{
	char *dir = tmpdir(), *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	write_sample(f, dir, small);
	fclose(f);
	rm_rf(dir);
	free(dir);
	return (uint8_t *)buf;
}

struct seen {
	size_t n;
	struct kt_cpio_entry e[64];
	int stop_at; /* callback fails at this entry, -1 never */
};

static int collect(const struct kt_cpio_entry *e, void *arg, struct kt_err *err)
{
	struct seen *s = arg;

	if ((int)s->n == s->stop_at)
		return kt_errf(err, "stop at %s", e->name);
	assert_true(s->n < 64);
	s->e[s->n++] = *e;
	return 0;
}

static void check_sample_entries(const struct seen *s, size_t first)
{
	for (size_t i = 0; i < NSAMPLE; i++) {
		const struct kt_cpio_entry *e = &s->e[first + i];
		const struct expect *x = &sample[i];

		assert_string_equal(e->name, x->name);
		assert_int_equal(e->mode, x->mode);
		assert_int_equal(e->size, x->size);
		if (x->size)
			assert_memory_equal(e->data, x->data ? x->data : big, x->size);
		assert_int_equal(e->mtime, 0);
		assert_int_equal(e->offset % 4, 0);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(e->ino, s->e[first + j].ino);
	}
}

static void system_cpio_lists_and_extracts(void **state)
{
	char *dir = tmpdir(), *arch = sample_file(dir), cmd[1024], line[256], path[512];
	size_t n = 0, len;
	FILE *p;

	(void)state;
	snprintf(cmd, sizeof(cmd), "cpio -t --quiet < '%s'", arch);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = 0;
		assert_true(n < NSAMPLE);
		assert_string_equal(line, sample[n].name);
		n++;
	}
	assert_int_equal(pclose(p), 0);
	assert_int_equal(n, NSAMPLE);

	snprintf(cmd, sizeof(cmd), "mkdir '%s/x' && cd '%s/x' && cpio -idm --quiet < '%s'", dir,
		 dir, arch);
	assert_int_equal(system(cmd), 0);
	for (size_t i = 0; i < NSAMPLE; i++) {
		const struct expect *x = &sample[i];
		struct stat st;

		snprintf(path, sizeof(path), "%s/x/%s", dir, x->name);
		assert_int_equal(lstat(path, &st), 0);
		assert_int_equal(st.st_mode, x->mode);
		if (S_ISREG(x->mode)) {
			uint8_t *got = read_all(path, &len);

			assert_int_equal(len, x->size);
			if (x->size)
				assert_memory_equal(got, x->data ? x->data : big, x->size);
			free(got);
		} else if (S_ISLNK(x->mode)) {
			char target[64] = "";

			assert_int_equal(readlink(path, target, sizeof(target) - 1), x->size);
			assert_string_equal(target, x->data);
		}
	}
	rm_rf(dir);
	free(arch);
	free(dir);
}

static void reader_roundtrip_and_reproducible(void **state)
{
	size_t len, len2;
	uint8_t *a = sample_mem(&len, false), *b = sample_mem(&len2, false);
	struct seen s = { .stop_at = -1 };
	struct kt_err e;

	(void)state;
	assert_int_equal(len % 512, 0);
	assert_int_equal(len, len2);
	assert_memory_equal(a, b, len);
	assert_int_equal(kt_cpio_read(a, len, collect, &s, &e), 0);
	assert_int_equal(s.n, NSAMPLE);
	check_sample_entries(&s, 0);

	/* A callback error stops the walk and comes back unchanged. */
	s = (struct seen){ .stop_at = 2 };
	assert_int_equal(kt_cpio_read(a, len, collect, &s, &e), -1);
	assert_string_equal(e.msg, "stop at d/a.txt");
	free(a);
	free(b);
}

static void reader_concatenated(void **state)
{
	size_t len;
	uint8_t *a = sample_mem(&len, false), *two = malloc(2 * len + 5);
	struct seen s = { .stop_at = -1 };
	struct kt_err e;

	(void)state;
	memcpy(two, a, len);
	memcpy(two + len, a, len);
	assert_int_equal(kt_cpio_read(two, 2 * len, collect, &s, &e), 0);
	assert_int_equal(s.n, 2 * NSAMPLE);
	check_sample_entries(&s, 0);
	check_sample_entries(&s, NSAMPLE);
	assert_int_equal(s.e[NSAMPLE].offset, len);

	/* Extra zero padding between archives is skipped ... */
	memset(two + len, 0, 4);
	memcpy(two + len + 4, a, len);
	s = (struct seen){ .stop_at = -1 };
	assert_int_equal(kt_cpio_read(two, 2 * len + 4, collect, &s, &e), 0);
	assert_int_equal(s.n, 2 * NSAMPLE);
	/* ... but the next header must be 4-byte aligned. */
	memset(two + len, 0, 5);
	memcpy(two + len + 5, a, len);
	assert_int_equal(kt_cpio_read(two, 2 * len + 5, collect, &s, &e), -1);
	assert_non_null(strstr(e.msg, "not 4-byte aligned"));
	free(a);
	free(two);
}

/* Read a copy of exactly LEN bytes (so ASan catches any overread). */
static int read_copy(const uint8_t *buf, size_t len, struct kt_err *e)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct seen s = { .stop_at = -1 };
	int rc;

	memcpy(copy, buf, len);
	rc = kt_cpio_read(copy, len, collect, &s, e);
	free(copy);
	return rc;
}

/* Overwrite BYTES at AT in a copy of A and expect an error containing
 * WANT. */
static void expect_corrupt(const uint8_t *a, size_t len, size_t at, const char *bytes,
			   const char *want)
{
	uint8_t *b = malloc(len);
	struct kt_err e;

	memcpy(b, a, len);
	memcpy(b + at, bytes, strlen(bytes));
	assert_int_equal(read_copy(b, len, &e), -1);
	if (!strstr(e.msg, want))
		fail_msg("error '%s' lacks '%s'", e.msg, want);
	free(b);
}

static void reader_rejects_corrupt(void **state)
{
	size_t len, trailer_end;
	uint8_t *a = sample_mem(&len, true);
	const uint8_t *t = memmem(a, len, "TRAILER!!!", 11);
	struct kt_err e;
	size_t second, third;

	(void)state;
	assert_non_null(t);
	trailer_end = ((size_t)(t - a) + 11 + 3) & ~(size_t)3;
	/* Every prefix that cuts the archive before its trailer ends fails. */
	for (size_t n = 0; n < len; n++) {
		int rc = read_copy(a, n, &e);

		if (n < trailer_end) {
			assert_int_equal(rc, -1);
			assert_true(n == 0 || strstr(e.msg, "offset") != NULL);
		} else {
			assert_int_equal(rc, 0);
		}
	}
	expect_corrupt(a, len, 0, "070707", "offset 0: bad magic");
	expect_corrupt(a, len, 6 + 8 * 6, "0000000G", "offset 54: field c_filesize is not 8 hex");
	expect_corrupt(a, len, 6 + 8 * 1, "-", "field c_mode is not 8 hex");
	/* The first entry "d": name size, then a file size past the end. */
	expect_corrupt(a, len, 6 + 8 * 11, "00000FFF", "field c_namesize 4095 runs past the end");
	expect_corrupt(a, len, 6 + 8 * 11, "00000000", "field c_namesize 0 out of range");
	expect_corrupt(a, len, 6 + 8 * 11, "00000003", "does not match the NUL-terminated name");
	second = 112; /* "d": 110 + 2 bytes of name, aligned */
	expect_corrupt(a, len, second + 6 + 8 * 6, "00000001", "c_filesize is 1 for a mode");
	third = second + 116; /* "d/sub": 110 + 6 */
	expect_corrupt(a, len, third + 6 + 8 * 6, "FFFFFF00",
		       "field c_filesize 4294967040 of 'd/a.txt' runs past the end");
	expect_corrupt(a, len, third + 6 + 8 * 1, "00000000", "no valid file type");
	assert_int_equal(read_copy(a, 0, &e), -1);
	assert_non_null(strstr(e.msg, "empty"));

	/* Random damage: any result, never a crash (ASan watches). */
	srand(1);
	for (int i = 0; i < 3000; i++) {
		uint8_t *b = malloc(len);
		size_t at = (size_t)rand() % trailer_end;

		memcpy(b, a, len);
		b[at] = (uint8_t)rand();
		if (i % 2)
			b[(size_t)rand() % len] = "0123456789ABCDEF"[rand() % 16];
		(void)read_copy(b, (size_t)rand() % (len + 1), &e);
		free(b);
	}
	free(a);
}

static void writer_rejects_bad_names(void **state)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	struct kt_cpio *c = kt_cpio_new(f, "bad");
	struct kt_err e;
	const char *bad[] = { "", "/", "a//b", "./a", "a/..", "../etc/passwd", "a/" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(kt_cpio_dir(c, bad[i], 0755, &e), -1);
		assert_non_null(strstr(e.msg, "bad: "));
	}
	assert_int_equal(kt_cpio_file_path(c, "x", 0644, "/nonexistent/kt", &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/kt: cannot open"));
	assert_int_equal(kt_cpio_file_path(c, "x", 0644, "/tmp", &e), -1);
	assert_non_null(strstr(e.msg, "/tmp: not a regular file"));
	assert_int_equal(kt_cpio_symlink(c, "l", "", &e), -1);
	assert_int_equal(kt_cpio_chardev(c, "dev/null", 0666, 1, 3, &e), 0);
	assert_int_equal(kt_cpio_finish(c, &e), 0);
	assert_int_equal(kt_cpio_dir(c, "late", 0755, &e), -1);
	assert_non_null(strstr(e.msg, "after the trailer"));
	kt_cpio_free(c);
	fclose(f);
	/* Nothing but the device node and the trailer went out. */
	{
		struct seen s = { .stop_at = -1 };

		assert_int_equal(kt_cpio_read(buf, len, collect, &s, &e), 0);
		assert_int_equal(s.n, 1);
		assert_string_equal(s.e[0].name, "dev/null");
		assert_int_equal(s.e[0].mode, S_IFCHR | 0666);
		assert_int_equal(s.e[0].rdev_major, 1);
		assert_int_equal(s.e[0].rdev_minor, 3);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(system_cpio_lists_and_extracts),
		cmocka_unit_test(reader_roundtrip_and_reproducible),
		cmocka_unit_test(reader_concatenated),
		cmocka_unit_test(reader_rejects_corrupt),
		cmocka_unit_test(writer_rejects_bad_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
