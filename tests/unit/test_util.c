#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "strv.h"
#include "util.h"

static char dir[] = "/tmp/ktstr-util-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void sort_uniq(void **state)
{
	uint32_t v[] = {3, 1, 3, 2, 1, 4000000000u}, key = 2;

	(void)state;
	assert_int_equal(kt_sort_uniq_u32(v, 6), 4);
	assert_int_equal(v[0], 1);
	assert_int_equal(v[1], 2);
	assert_int_equal(v[2], 3);
	assert_int_equal(v[3], 4000000000u);
	assert_ptr_equal(bsearch(&key, v, 4, sizeof(*v), kt_cmp_u32), &v[1]);
	assert_int_equal(kt_sort_uniq_u32(NULL, 0), 0);
}

static void printable(void **state)
{
	char buf[8];

	(void)state;
	assert_true(kt_printable(""));
	assert_true(kt_printable("a b~"));
	assert_false(kt_printable("a\tb"));
	assert_false(kt_printable("\x7f"));
	assert_false(kt_printable("\xc3\xa9"));
	kt_printable_copy("a\tb", 3, buf, sizeof(buf));
	assert_string_equal(buf, "a?b");
	kt_printable_copy("a\0b", 3, buf, sizeof(buf));
	assert_string_equal(buf, "a?b");
	kt_printable_copy("abcdefghij", 10, buf, sizeof(buf));
	assert_string_equal(buf, "abcd...");
	kt_printable_copy("abc", 3, buf, 2);
	assert_string_equal(buf, "");
	buf[0] = 'x';
	kt_printable_copy("abc", 3, buf, 0); /* no room: untouched */
	assert_int_equal(buf[0], 'x');
}

static void clock_helpers(void **state)
{
	struct timespec now, t;
	uint64_t a, b;

	(void)state;
	a = kt_now_ns();
	b = kt_now_ns();
	assert_true(b >= a);
	assert_true(kt_now_ms() >= a / 1000000);
	clock_gettime(CLOCK_MONOTONIC, &now);
	t = kt_deadline(CLOCK_MONOTONIC, 1999);
	assert_true(t.tv_nsec >= 0 && t.tv_nsec < 1000000000);
	assert_true(t.tv_sec >= now.tv_sec + 1 && t.tv_sec <= now.tv_sec + 3);
	/* Sleeping until a time just passed returns at once. */
	t = kt_deadline(CLOCK_MONOTONIC, 20);
	kt_sleep_until(&t);
	clock_gettime(CLOCK_MONOTONIC, &now);
	assert_true(now.tv_sec > t.tv_sec || (now.tv_sec == t.tv_sec && now.tv_nsec >= t.tv_nsec));
}

static void mkdir_p(void **state)
{
	char p[256], f[256];
	struct stat st;
	struct kt_err e = {{0}};

	(void)state;
	path_in(p, sizeof(p), "a/b//c/");
	assert_int_equal(kt_mkdir_p(p, &e), 0);
	path_in(p, sizeof(p), "a/b/c");
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(kt_mkdir_p(p, &e), 0); /* exists: fine */
	path_in(f, sizeof(f), "file");
	assert_int_equal(kt_write_file(f, "x", 1, &e), 0);
	path_in(p, sizeof(p), "file/sub");
	assert_int_equal(kt_mkdir_p(p, &e), -1);
	assert_non_null(strstr(e.msg, "file/sub: Not a directory"));
	assert_int_equal(kt_mkdir_p("", &e), -1);
	assert_string_equal(e.msg, "mkdir: empty path");
}

static void read_write(void **state)
{
	char p[256], *text;
	struct kt_err e = {{0}};
	size_t len;

	(void)state;
	path_in(p, sizeof(p), "data");
	assert_int_equal(kt_write_file(p, "hello, world", 12, &e), 0);
	assert_int_equal(kt_read_file(p, 12, &text, &len, &e), 0);
	assert_int_equal(len, 12);
	assert_string_equal(text, "hello, world");
	free(text);
	/* Truncated when rewritten shorter. */
	assert_int_equal(kt_write_file(p, "hi", 2, &e), 0);
	assert_int_equal(kt_read_file(p, 100, &text, &len, &e), 0);
	assert_int_equal(len, 2);
	assert_string_equal(text, "hi");
	free(text);
	assert_int_equal(kt_write_file(p, "", 0, &e), 0);
	assert_int_equal(kt_read_file(p, 0, &text, &len, &e), 0);
	assert_int_equal(len, 0);
	assert_string_equal(text, "");
	free(text);
	/* Bounds and kinds. */
	assert_int_equal(kt_write_file(p, "12345", 5, &e), 0);
	assert_int_equal(kt_read_file(p, 4, &text, &len, &e), -1);
	assert_non_null(strstr(e.msg, "data: larger than 4 bytes"));
	assert_int_equal(kt_read_file(dir, 100, &text, &len, &e), -1);
	assert_non_null(strstr(e.msg, ": not a regular file"));
	path_in(p, sizeof(p), "missing");
	assert_int_equal(kt_read_file(p, 100, &text, &len, &e), -1);
	assert_non_null(strstr(e.msg, "missing: No such file or directory"));
	path_in(p, sizeof(p), "no/such/dir/f");
	assert_int_equal(kt_write_file(p, "x", 1, &e), -1);
	assert_non_null(strstr(e.msg, "no/such/dir/f: No such file or directory"));
}

/* Pseudo files report a size of 0 (or a page): they are read to EOF, and
 * the bound still holds. */
static void read_pseudo(void **state)
{
	struct kt_err e = {{0}};
	size_t len;
	char *text;

	(void)state;
	assert_int_equal(kt_read_file("/proc/self/maps", 1 << 20, &text, &len, &e), 0);
	assert_true(len > 100);
	assert_int_equal(strlen(text), len);
	free(text);
	assert_int_equal(kt_read_file("/proc/self/maps", 10, &text, &len, &e), -1);
	assert_non_null(strstr(e.msg, "/proc/self/maps: larger than 10 bytes"));
}

static void strv_has(void **state)
{
	struct kt_strv v;

	(void)state;
	kt_strv_init(&v);
	assert_false(kt_strv_has(&v, "a"));
	kt_strv_add(&v, "a");
	kt_strv_add(&v, "bc");
	assert_true(kt_strv_has(&v, "bc"));
	assert_false(kt_strv_has(&v, "b"));
	kt_strv_free(&v);
}

static void alloc(void **state)
{
	char *s = kt_xstrdup("copy");
	uint64_t *z = kt_xcalloc(4, sizeof(*z));

	(void)state;
	assert_string_equal(s, "copy");
	assert_int_equal(z[3], 0);
	free(s);
	free(z);
	z = kt_xcalloc(0, sizeof(*z));
	assert_non_null(z);
	free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sort_uniq),
		cmocka_unit_test(printable),
		cmocka_unit_test(clock_helpers),
		cmocka_unit_test(mkdir_p),
		cmocka_unit_test(read_write),
		cmocka_unit_test(read_pseudo),
		cmocka_unit_test(strv_has),
		cmocka_unit_test(alloc),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
