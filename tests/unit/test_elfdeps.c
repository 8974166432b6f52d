#define _GNU_SOURCE
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "elfdeps.h"

static char *tmpdir(void)
{
	char *d = strdup("/tmp/kt-elf-XXXXXX"), *real;

	assert_non_null(mkdtemp(d));
	real = realpath(d, NULL);
	free(d);
	return real;
}

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static const struct kt_elfdep *find_suffix(const struct kt_elfdeps *d, const char *suffix,
					   int *count)
{
	const struct kt_elfdep *hit = NULL;

	*count = 0;
	for (size_t i = 0; i < d->n; i++) {
		size_t g = strlen(d->v[i].guest), s = strlen(suffix);

		if (g >= s && !strcmp(d->v[i].guest + g - s, suffix)) {
			hit = &d->v[i];
			(*count)++;
		}
	}
	return hit;
}

static void check_sane(const struct kt_elfdeps *d)
{
	for (size_t i = 0; i < d->n; i++) {
		char real[PATH_MAX];

		assert_int_equal(d->v[i].guest[0], '/');
		assert_null(strstr(d->v[i].guest, "//"));
		assert_null(strstr(d->v[i].guest, "/./"));
		assert_null(strstr(d->v[i].guest, "/../"));
		assert_non_null(realpath(d->v[i].host, real));
		assert_string_equal(real, d->v[i].host);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(d->v[i].guest, d->v[j].guest);
	}
}

static void ls_closure(void **state)
{
	struct kt_elfdeps d;
	struct kt_err e;
	const struct kt_elfdep *x;
	int count;
	size_t n;

	(void)state;
	kt_elfdeps_init(&d);
	if (kt_elfdeps_closure("/bin/ls", &d, &e))
		fail_msg("%s", e.msg);
	check_sane(&d);
	x = find_suffix(&d, "/ld-linux-x86-64.so.2", &count);
	assert_int_equal(count, 1); /* libc's DT_NEEDED is the interpreter */
	assert_string_equal(x->guest, "/lib64/ld-linux-x86-64.so.2");
	x = find_suffix(&d, "/libc.so.6", &count);
	assert_int_equal(count, 1);
	assert_string_equal(x->guest, "/lib/x86_64-linux-gnu/libc.so.6");
	assert_int_equal(x->cache_only, 0);
	assert_non_null(find_suffix(&d, "/libselinux.so.1", &count));
	/* Transitive: libselinux needs libpcre2-8. */
	assert_non_null(find_suffix(&d, "/libpcre2-8.so.0", &count));
	assert_int_equal(d.n, 4);

	/* The union with /bin/true (libc only) adds nothing. */
	n = d.n;
	assert_int_equal(kt_elfdeps_closure("/bin/true", &d, &e), 0);
	assert_int_equal(d.n, n);
	check_sane(&d);
	kt_elfdeps_free(&d);
}

static void static_binaries_have_no_closure(void **state)
{
	char *dir = tmpdir(), prog[PATH_MAX];
	struct kt_elfdeps d;
	struct kt_err e;

	(void)state;
	kt_elfdeps_init(&d);
	/* static-pie: PT_DYNAMIC without anything to load */
	assert_int_equal(kt_elfdeps_closure("/usr/sbin/ldconfig", &d, &e), 0);
	assert_int_equal(d.n, 0);
	snprintf(prog, sizeof(prog), "%s/static", dir);
	sh("echo 'int main(void){return 0;}' | cc -static -x c -o %s -", prog);
	assert_int_equal(kt_elfdeps_closure(prog, &d, &e), 0);
	assert_int_equal(d.n, 0);
	kt_elfdeps_free(&d);
	sh("rm -rf %s", dir);
	free(dir);
}

static void bad_inputs_name_the_file(void **state)
{
	char *dir = tmpdir(), path[PATH_MAX];
	struct kt_elfdeps d;
	struct kt_err e;

	(void)state;
	kt_elfdeps_init(&d);
	snprintf(path, sizeof(path), "%s/script.sh", dir);
	sh("printf '#!/bin/sh\\necho hi\\n' > %s", path);
	assert_int_equal(kt_elfdeps_closure(path, &d, &e), -1);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "not an ELF file"));
	assert_int_equal(kt_elfdeps_closure("/nonexistent/ktstr-agent", &d, &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/ktstr-agent"));
	/* A relocatable object is ELF but nothing to run. */
	snprintf(path, sizeof(path), "%s/x.o", dir);
	sh("echo 'int x;' | cc -c -x c -o %s -", path);
	assert_int_equal(kt_elfdeps_closure(path, &d, &e), -1);
	assert_non_null(strstr(e.msg, "not an executable"));
	assert_int_equal(d.n, 0);
	kt_elfdeps_free(&d);
	sh("rm -rf %s", dir);
	free(dir);
}

/* A program linked against lib/libktfoo.so found through $ORIGIN, with a
 * decoy of the wrong machine (or not ELF at all) earlier in the path. */
static void origin_paths_and_incompatible_candidates(void **state)
{
	char *dir = tmpdir(), prog[PATH_MAX], want[PATH_MAX];
	const char *tags[] = { "--disable-new-dtags", "--enable-new-dtags" }; /* RPATH, RUNPATH */
	struct kt_elfdeps d;
	struct kt_err e;
	int count;

	(void)state;
	sh("cd %s && mkdir lib bad bin && echo 'int ktfoo(void){return 0;}' > foo.c && "
	   "cc -shared -fPIC -Wl,-soname,libktfoo.so -o lib/libktfoo.so foo.c && "
	   "echo 'int ktfoo(void); int main(void){return ktfoo();}' > main.c", dir);
	snprintf(want, sizeof(want), "%s/lib/libktfoo.so", dir);
	for (int i = 0; i < 2; i++) {
		snprintf(prog, sizeof(prog), "%s/bin/prog%d", dir, i);
		sh("cd %s && cc -o %s main.c -Llib -lktfoo -Wl,%s "
		   "-Wl,-rpath,'$ORIGIN/../bad:$ORIGIN/../lib'", dir, prog, tags[i]);
		if (i == 0) /* same file, machine patched to AArch64 (183) */
			sh("cd %s && cp lib/libktfoo.so bad/ && printf '\\267\\000' | "
			   "dd of=bad/libktfoo.so bs=1 seek=18 conv=notrunc status=none", dir);
		else
			sh("cd %s && echo 'not elf' > bad/libktfoo.so", dir);
		kt_elfdeps_init(&d);
		if (kt_elfdeps_closure(prog, &d, &e))
			fail_msg("%s", e.msg);
		check_sane(&d);
		assert_string_equal(find_suffix(&d, "/libktfoo.so", &count)->guest, want);
		assert_int_equal(count, 1);
		assert_non_null(find_suffix(&d, "/libc.so.6", &count));
		kt_elfdeps_free(&d);
	}
	/* Without the library: an error naming the binary and the library. */
	sh("rm %s/lib/libktfoo.so", dir);
	kt_elfdeps_init(&d);
	assert_int_equal(kt_elfdeps_closure(prog, &d, &e), -1);
	assert_non_null(strstr(e.msg, prog));
	assert_non_null(strstr(e.msg, "libktfoo.so"));
	assert_non_null(strstr(e.msg, "not found"));
	kt_elfdeps_free(&d);
	sh("rm -rf %s", dir);
	free(dir);
}

/* Damaged copies of /bin/ls (headers, program headers, dynamic section,
 * anywhere): an answer or an error, never a crash (ASan watches). */
static void damaged_elf_never_crashes(void **state)
{
	char *dir = tmpdir(), path[PATH_MAX];
	uint8_t *img;
	size_t len;
	long n;
	FILE *f = fopen("/bin/ls", "rb");
	struct kt_err e;
	int errors = 0;

	(void)state;
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	len = (size_t)n;
	img = malloc(len);
	assert_int_equal(fread(img, 1, len, f), len);
	fclose(f);
	snprintf(path, sizeof(path), "%s/ls", dir);
	srand(7);
	for (int i = 0; i < 300; i++) {
		uint8_t *b = malloc(len);
		struct kt_elfdeps d;

		memcpy(b, img, len);
		for (int k = 0; k < 4; k++) {
			/* Mostly the first 16 KiB: headers and the dynamic data. */
			size_t at = (size_t)rand() % (k < 3 ? 16384 : len);

			b[at] = (uint8_t)rand();
		}
		f = fopen(path, "wb");
		assert_int_equal(fwrite(b, 1, len, f), len);
		fclose(f);
		kt_elfdeps_init(&d);
		errors += kt_elfdeps_closure(path, &d, &e) != 0;
		kt_elfdeps_free(&d);
		free(b);
	}
	assert_true(errors > 0);
	free(img);
	sh("rm -rf %s", dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ls_closure),
		cmocka_unit_test(static_binaries_have_no_closure),
		cmocka_unit_test(bad_inputs_name_the_file),
		cmocka_unit_test(origin_paths_and_incompatible_candidates),
		cmocka_unit_test(damaged_elf_never_crashes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
