#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "cpio.h"
#include "initramfs.h"

static const char *const extras[] = { "/bin/ls", NULL };

static char *tmpdir(void)
{
	char *d = strdup("/tmp/kt-initramfs-XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

static void rm_rf(char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(dir);
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

struct list {
	size_t n;
	struct kt_cpio_entry e[256];
};

static int collect(const struct kt_cpio_entry *e, void *arg, struct kt_err *err)
{
	struct list *l = arg;

	(void)err;
	assert_true(l->n < 256);
	l->e[l->n++] = *e;
	return 0;
}

static const struct kt_cpio_entry *lookup(const struct list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->e[i].name, name))
			return &l->e[i];
	fail_msg("no entry %s", name);
	return NULL;
}

static void same_content(const struct kt_cpio_entry *e, const char *host)
{
	size_t len;
	uint8_t *want = read_all(host, &len);

	assert_int_equal(e->size, len);
	assert_memory_equal(e->data, want, len);
	free(want);
}

static void build(const char *cache, const char *const *bins, char *out, size_t len)
{
	struct kt_err e;

	if (kt_initramfs_base(cache, "/bin/true", bins, out, len, &e))
		fail_msg("%s", e.msg);
}

/* Only finished archives in the cache: no temporary files left behind. */
static size_t count_cpio(const char *cache)
{
	char dir[PATH_MAX];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/initramfs", cache);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		assert_int_equal(strlen(de->d_name), 64 + 5);
		assert_string_equal(de->d_name + 64, ".cpio");
		n++;
	}
	closedir(d);
	return n;
}

static void base_is_reused_and_reproducible(void **state)
{
	char *c1 = tmpdir(), *c2 = tmpdir(), p1[PATH_MAX], again[PATH_MAX], p2[PATH_MAX],
	     p3[PATH_MAX];
	struct stat s1, s2;
	uint8_t *a, *b;
	size_t la, lb;

	(void)state;
	build(c1, extras, p1, sizeof(p1));
	assert_int_equal(strncmp(p1, c1, strlen(c1)), 0);
	assert_int_equal(stat(p1, &s1), 0);
	assert_int_equal(s1.st_size % 512, 0);
	build(c1, extras, again, sizeof(again));
	assert_string_equal(p1, again);
	assert_int_equal(stat(again, &s2), 0);
	/* Not rewritten: a rename would have given a new inode. */
	assert_int_equal(s1.st_ino, s2.st_ino);
	assert_int_equal(s1.st_mtim.tv_sec, s2.st_mtim.tv_sec);
	assert_int_equal(s1.st_mtim.tv_nsec, s2.st_mtim.tv_nsec);

	/* Built from scratch elsewhere: same name, same bytes. */
	build(c2, extras, p2, sizeof(p2));
	assert_string_equal(strrchr(p1, '/'), strrchr(p2, '/'));
	a = read_all(p1, &la);
	b = read_all(p2, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);

	/* Other inputs, other key. */
	build(c1, NULL, p3, sizeof(p3));
	assert_string_not_equal(p1, p3);
	assert_int_equal(count_cpio(c1), 2);
	rm_rf(c1);
	rm_rf(c2);
}

static void base_contents(void **state)
{
	char *cache = tmpdir(), path[PATH_MAX], cmd[PATH_MAX + 64], line[PATH_MAX];
	struct list l = { 0 };
	const struct kt_cpio_entry *e;
	struct kt_err err;
	size_t len, listed = 0;
	uint8_t *buf;
	FILE *p;

	(void)state;
	build(cache, extras, path, sizeof(path));
	buf = read_all(path, &len);
	if (kt_cpio_read(buf, len, collect, &l, &err))
		fail_msg("%s", err.msg);

	e = lookup(&l, "init");
	assert_int_equal(e->mode, S_IFREG | 0755);
	same_content(e, "/bin/true");
	e = lookup(&l, "bin/ls");
	assert_int_equal(e->mode, S_IFREG | 0755);
	same_content(e, "/bin/ls");
	e = lookup(&l, "dev/console");
	assert_int_equal(e->mode, S_IFCHR | 0600);
	assert_int_equal(e->rdev_major, 5);
	assert_int_equal(e->rdev_minor, 1);
	e = lookup(&l, "dev/null");
	assert_int_equal(e->mode, S_IFCHR | 0666);
	assert_int_equal(e->rdev_major, 1);
	assert_int_equal(e->rdev_minor, 3);
	assert_int_equal(lookup(&l, "tmp")->mode, S_IFDIR | 01777);
	assert_int_equal(lookup(&l, "sys/fs/cgroup")->mode, S_IFDIR | 0755);
	lookup(&l, "proc");
	lookup(&l, "run");
	lookup(&l, "ktstr");
	e = lookup(&l, "lib64/ld-linux-x86-64.so.2");
	assert_int_equal(e->mode, S_IFREG | 0755);
	same_content(e, "/lib64/ld-linux-x86-64.so.2");
	same_content(lookup(&l, "lib/x86_64-linux-gnu/libc.so.6"), "/lib/x86_64-linux-gnu/libc.so.6");
	lookup(&l, "lib/x86_64-linux-gnu/libselinux.so.1");

	/* Every entry's parent directory comes before it. */
	for (size_t i = 0; i < l.n; i++) {
		char parent[PATH_MAX], *slash;
		size_t j;

		snprintf(parent, sizeof(parent), "%s", l.e[i].name);
		if (!(slash = strrchr(parent, '/')))
			continue;
		*slash = 0;
		for (j = 0; j < i; j++)
			if (!strcmp(l.e[j].name, parent) && S_ISDIR(l.e[j].mode))
				break;
		if (j == i)
			fail_msg("%s comes before its directory", l.e[i].name);
	}

	/* GNU cpio reads it too. */
	snprintf(cmd, sizeof(cmd), "cpio -t --quiet < '%s'", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = 0;
		assert_true(listed < l.n);
		assert_string_equal(line, l.e[listed].name);
		listed++;
	}
	assert_int_equal(pclose(p), 0);
	assert_int_equal(listed, l.n);
	free(buf);
	rm_rf(cache);
}

static void compose_appends_entry_archive(void **state)
{
	char *cache = tmpdir(), base[PATH_MAX], out[PATH_MAX];
	static const uint8_t pb[] = { 0x08, 0x01, 0x12, 0x03, 'a', 'b', 'c' };
	const struct kt_initramfs_file files[] = {
		{ "/ktstr/entry.pb", pb, sizeof(pb), 0644 },
		{ "/ktstr/scheds/conf.json", "{}\n", 3, 0600 },
		{ "ktstr/empty", NULL, 0, 0644 },
	};
	const char *want[] = { "ktstr/entry.pb", "ktstr/scheds", "ktstr/scheds/conf.json",
			       "ktstr/empty" };
	struct list lb = { 0 }, lo = { 0 };
	struct kt_err err;
	size_t blen, olen;
	uint8_t *b, *o;

	(void)state;
	build(cache, NULL, base, sizeof(base));
	snprintf(out, sizeof(out), "%s/entry.cpio", cache);
	if (kt_initramfs_compose(base, files, 3, out, &err))
		fail_msg("%s", err.msg);
	b = read_all(base, &blen);
	o = read_all(out, &olen);
	assert_true(olen > blen);
	assert_int_equal((olen - blen) % 512, 0);
	assert_memory_equal(o, b, blen);
	assert_int_equal(kt_cpio_read(b, blen, collect, &lb, &err), 0);
	if (kt_cpio_read(o, olen, collect, &lo, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(lo.n, lb.n + 4);
	for (size_t i = 0; i < lb.n; i++) {
		assert_string_equal(lo.e[i].name, lb.e[i].name);
		assert_int_equal(lo.e[i].offset, lb.e[i].offset);
	}
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(lo.e[lb.n + i].name, want[i]);
	assert_int_equal(lo.e[lb.n].offset, blen);
	assert_int_equal(lo.e[lb.n].mode, S_IFREG | 0644);
	assert_int_equal(lo.e[lb.n].size, sizeof(pb));
	assert_memory_equal(lo.e[lb.n].data, pb, sizeof(pb));
	assert_int_equal(lo.e[lb.n + 1].mode, S_IFDIR | 0755);
	assert_int_equal(lo.e[lb.n + 2].mode, S_IFREG | 0600);
	assert_int_equal(lo.e[lb.n + 3].size, 0);
	free(b);
	free(o);
	rm_rf(cache);
}

static void compose_rejects_bad_input(void **state)
{
	char *cache = tmpdir(), base[PATH_MAX], out[PATH_MAX], odd[PATH_MAX];
	struct kt_initramfs_file f = { "/ktstr/entry.pb", "x", 1, 0644 };
	struct kt_err err;
	struct stat st;
	FILE *x;

	(void)state;
	build(cache, NULL, base, sizeof(base));
	snprintf(out, sizeof(out), "%s/entry.cpio", cache);
	assert_int_equal(kt_initramfs_compose("/nonexistent/base.cpio", &f, 1, out, &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/base.cpio"));
	snprintf(odd, sizeof(odd), "%s/odd", cache);
	x = fopen(odd, "wb");
	assert_non_null(x);
	fputs("070701 but not a whole archive", x); /* 30 bytes */
	fclose(x);
	assert_int_equal(kt_initramfs_compose(odd, &f, 1, out, &err), -1);
	assert_non_null(strstr(err.msg, "multiple of 4"));
	assert_int_equal(kt_initramfs_compose("/bin/true", &f, 1, out, &err), -1);
	assert_non_null(strstr(err.msg, "/bin/true"));
	f.mode = S_IFREG | 0644;
	assert_int_equal(kt_initramfs_compose(base, &f, 1, out, &err), -1);
	assert_non_null(strstr(err.msg, "not permission bits"));
	f.mode = 0644;
	f.path = "/ktstr/../etc/passwd";
	assert_int_equal(kt_initramfs_compose(base, &f, 1, out, &err), -1);
	assert_non_null(strstr(err.msg, "'..'"));
	assert_int_equal(stat(out, &st), -1); /* no partial output left */

	assert_int_equal(kt_initramfs_base(cache, "/nonexistent/agent", NULL, base, sizeof(base),
					   &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/agent"));
	rm_rf(cache);
}

/* Two processes building the same key at once both succeed. */
static void concurrent_builders(void **state)
{
	char *cache = tmpdir(), path[PATH_MAX];
	pid_t pid[2];
	int status;

	(void)state;
	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			struct kt_err err;
			char p[PATH_MAX];

			_exit(kt_initramfs_base(cache, "/bin/true", extras, p, sizeof(p), &err) ? 1 : 0);
		}
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(count_cpio(cache), 1);
	build(cache, extras, path, sizeof(path));
	assert_int_equal(count_cpio(cache), 1);
	rm_rf(cache);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(base_is_reused_and_reproducible),
		cmocka_unit_test(base_contents),
		cmocka_unit_test(compose_appends_entry_archive),
		cmocka_unit_test(compose_rejects_bad_input),
		cmocka_unit_test(concurrent_builders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
