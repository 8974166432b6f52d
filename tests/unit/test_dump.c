/* common/dump.c: the bounded JSON parser and the dump accessor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dump.h"

static struct kt_dump *parse_ok(const char *s)
{
	struct kt_dump *d = NULL;
	struct kt_err e = { "" };

	if (kt_dump_parse(s, strlen(s), &d, &e))
		fail_msg("\"%s\" rejected: %s", s, e.msg);
	return d;
}

static char *printed(const struct kt_dval *v)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	kt_dval_print(v, f);
	fclose(f);
	return buf;
}

static void accepts_and_prints(void **state)
{
	static const char *const ok[][2] = {
		{ "{}", "{}" },
		{ " [ 1 , -2 , 3.5 , true , false , null ] ", "[1,-2,3.5,true,false,null]" },
		{ "18446744073709551615", "18446744073709551615" },
		{ "-9223372036854775808", "-9223372036854775808" },
		{ "-0", "0" },
		{ "1e3", "1000" },
		{ "\"a\\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00\"", "\"a\\\"b\\\\c/d\\n\xc3\xa9\xf0\x9f\x98\x80\"" },
		{ "{\"a\":{\"b\":[[],{}]}}", "{\"a\":{\"b\":[[],{}]}}" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct kt_dump *d = parse_ok(ok[i][0]);
		char *s = printed(kt_dump_root(d));

		assert_string_equal(s, ok[i][1]);
		free(s);
		kt_dump_free(d);
	}
}

static void numbers_exact(void **state)
{
	struct kt_dump *d = parse_ok("[18446744073709551615, -9223372036854775808, 9223372036854775807, 1.5, 18446744073709551616]");
	const struct kt_dval *v;
	struct kt_err e;
	uint64_t u;
	int64_t i;

	(void)state;
	assert_int_equal(kt_dval_index(kt_dump_root(d), 0, &v, &e), 0);
	assert_int_equal(kt_dval_u64(v, &u, &e), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(kt_dval_i64(v, &i, &e), -1);
	assert_non_null(strstr(e.msg, "does not fit i64"));
	assert_int_equal(kt_dval_index(kt_dump_root(d), 1, &v, &e), 0);
	assert_int_equal(kt_dval_i64(v, &i, &e), 0);
	assert_true(i == INT64_MIN);
	assert_int_equal(kt_dval_u64(v, &u, &e), -1);
	assert_non_null(strstr(e.msg, "negative"));
	assert_int_equal(kt_dval_index(kt_dump_root(d), 2, &v, &e), 0);
	assert_int_equal(kt_dval_i64(v, &i, &e), 0);
	assert_true(i == INT64_MAX);
	assert_int_equal(kt_dval_index(kt_dump_root(d), 3, &v, &e), 0);
	assert_int_equal(kt_dval_u64(v, &u, &e), -1);
	assert_non_null(strstr(e.msg, "wrong type"));
	assert_int_equal(kt_dval_index(kt_dump_root(d), 5, &v, &e), -1);
	assert_non_null(strstr(e.msg, "out of range"));
	kt_dump_free(d);
}

/* Lone surrogate escapes read as U+FFFD; a pair as its code point. */
static void surrogates(void **state)
{
	const char *json = "\"\\udc80\\ud800\\u0041\\ud83d\\ude00\\ud800\"";
	const char *s;
	struct kt_dump *d;
	struct kt_err e;

	(void)state;
	assert_int_equal(kt_dump_parse(json, strlen(json), &d, &e), 0);
	assert_int_equal(kt_dval_str(kt_dump_root(d), &s, &e), 0);
	assert_string_equal(s, "\xef\xbf\xbd\xef\xbf\xbd" "A\xf0\x9f\x98\x80\xef\xbf\xbd");
	kt_dump_free(d);
}

static void rejects(void **state)
{
	static const char *const bad[] = {
		"", " ", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1 2", "-", "1.",
		"1e", "+1", ".5", "tru", "nul", "\"abc", "\"\\u0000\"", "\"\\ud800\\u12\"",
		"\"\\x41\"", "\"\\u12g4\"", "\"a\tb\"", "[1]]", "{}x", "NaN", "[\"a\"\"b\"]",
	};
	struct kt_dump *d;
	struct kt_err e;
	char deep[400], withnul[] = "[1,\0 2]";
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!kt_dump_parse(bad[i], strlen(bad[i]), &d, &e))
			fail_msg("\"%s\" accepted", bad[i]);
	assert_int_equal(kt_dump_parse(withnul, sizeof(withnul) - 1, &d, &e), -1);
	assert_non_null(strstr(e.msg, "NUL"));
	for (int i = 0; i < 150; i++)
		deep[n++] = '[';
	for (int i = 0; i < 150; i++)
		deep[n++] = ']';
	assert_int_equal(kt_dump_parse(deep, n, &d, &e), -1);
	assert_non_null(strstr(e.msg, "deep"));
	/* the size check comes before any byte is read */
	assert_int_equal(kt_dump_parse("x", (size_t)KT_DUMP_MAX_BYTES + 1, &d, &e), -1);
	assert_non_null(strstr(e.msg, "exceeds"));
	/* too many values, though well under the byte limit */
	{
		size_t cnt = (1u << 20) + 1, len = 0;
		char *big = malloc(cnt * 2 + 2);

		big[len++] = '[';
		for (size_t i = 0; i < cnt; i++) {
			big[len++] = '0';
			big[len++] = ',';
		}
		big[len - 1] = ']';
		assert_int_equal(kt_dump_parse(big, len, &d, &e), -1);
		assert_non_null(strstr(e.msg, "values"));
		free(big);
	}
	/* truncations of a valid document all fail cleanly */
	{
		const char *doc = "{\"a\":[1,{\"b\":\"c\\u00e9\"},-2.5e3],\"d\":true}";

		for (size_t len = 0; len < strlen(doc); len++)
			assert_int_equal(kt_dump_parse(doc, len, &d, &e), -1);
		d = parse_ok(doc);
		kt_dump_free(d);
	}
}

/* A dump shaped like guest/mapdump.c output. */
static const char *const DUMP =
	"{\"schema\":\"ktstr-dump-1\",\"maps\":["
	"{\"name\":\"scx_ktst.bss\",\"map_type\":\"array\",\"entries\":[{\"key\":0,\"value\":"
	"{\"kind\":\"struct\",\"type_name\":\".bss\",\"members\":["
	"{\"name\":\"stall\",\"value\":{\"kind\":\"uint\",\"bits\":32,\"value\":1}},"
	"{\"name\":\"nr_enqueued\",\"value\":{\"kind\":\"uint\",\"bits\":64,\"value\":1234}},"
	"{\"name\":\"delta\",\"value\":{\"kind\":\"int\",\"bits\":32,\"value\":-7}},"
	"{\"name\":\"st\",\"value\":{\"kind\":\"struct\",\"type_name\":\"stats\",\"members\":["
	"{\"name\":\"\",\"value\":{\"kind\":\"union\",\"members\":[{\"name\":\"raw\",\"value\":"
	"{\"kind\":\"uint\",\"bits\":32,\"value\":9}}]}},"
	"{\"name\":\"cpus\",\"value\":{\"kind\":\"array\",\"len\":2,\"elements\":["
	"{\"kind\":\"uint\",\"bits\":8,\"value\":3},{\"kind\":\"uint\",\"bits\":8,\"value\":4}]}},"
	"{\"name\":\"comm\",\"value\":{\"kind\":\"string\",\"len\":16,\"value\":\"ktstr\"}},"
	"{\"name\":\"mode\",\"value\":{\"kind\":\"enum\",\"type_name\":\"m\",\"bits\":32,"
	"\"value\":\"FIFO\",\"raw\":2}},"
	"{\"name\":\"p\",\"value\":{\"kind\":\"ptr\",\"value\":\"0xffff0001\"}}"
	"]}}]}}],\"truncated\":false},"
	"{\"name\":\"scx_ktst.data\",\"map_type\":\"array\",\"entries\":[{\"key\":0,\"value\":"
	"{\"kind\":\"struct\",\"type_name\":\".data\",\"members\":["
	"{\"name\":\"nr_cpus\",\"value\":{\"kind\":\"uint\",\"bits\":32,\"value\":4}}]}}]},"
	"{\"name\":\"task_ctx\",\"map_type\":\"array\",\"entries\":["
	"{\"key\":0,\"value\":{\"kind\":\"struct\",\"type_name\":\"tctx\",\"members\":[{\"name\":\"slice\",\"value\":{\"kind\":\"uint\",\"bits\":64,\"value\":10}}]}},"
	"{\"key\":1,\"value\":{\"kind\":\"struct\",\"type_name\":\"tctx\",\"members\":[{\"name\":\"slice\",\"value\":{\"kind\":\"uint\",\"bits\":64,\"value\":20}}]}}"
	"],\"truncated\":true,\"entries_dropped\":3},"
	"{\"name\":\"pcpu\",\"map_type\":\"percpu_array\",\"entries\":[{\"key\":0,\"percpu\":["
	"{\"kind\":\"uint\",\"bits\":64,\"value\":5},{\"kind\":\"uint\",\"bits\":64,\"value\":6}]}]},"
	"{\"name\":\"nobtf\",\"map_type\":\"hash\",\"entries\":[{\"key\":\"01000000\",\"value\":\"2a00\"}]}"
	"],\"errors\":[]}";

static uint64_t u64_at(const struct kt_dump *d, const char *path)
{
	const struct kt_dval *v;
	struct kt_err e;
	uint64_t u;

	if (kt_dump_var(d, path, &v, &e) || kt_dval_u64(v, &u, &e))
		fail_msg("%s: %s", path, e.msg);
	return u;
}

static void accessor_found(void **state)
{
	struct kt_dump *d = parse_ok(DUMP);
	const struct kt_dval *map, *v;
	struct kt_err e;
	const char *s;
	int64_t i;
	char *p;

	(void)state;
	assert_int_equal(u64_at(d, "stall"), 1);
	assert_int_equal(u64_at(d, "bss.nr_enqueued"), 1234);
	assert_int_equal(u64_at(d, "scx_ktst.bss.nr_enqueued"), 1234);
	/* the object's own name: libbpf kept 8 chars of it in the map's name */
	assert_int_equal(u64_at(d, "scx_ktstr.bss.nr_enqueued"), 1234);
	assert_int_equal(u64_at(d, "scx_ktstr.data.nr_cpus"), 4);
	assert_int_equal(u64_at(d, "nr_cpus"), 4);
	assert_int_equal(u64_at(d, "data.nr_cpus"), 4);
	assert_int_equal(u64_at(d, "st.raw"), 9);	    /* through an anonymous union */
	assert_int_equal(u64_at(d, "st.cpus[1]"), 4);
	assert_int_equal(u64_at(d, "bss.st.cpus[0]"), 3);
	assert_int_equal(u64_at(d, "st.mode"), 2);	    /* an enum's raw value */
	assert_int_equal(u64_at(d, "st.p"), 0xffff0001); /* a pointer */
	assert_int_equal(u64_at(d, "task_ctx[1].slice"), 20);
	assert_int_equal(u64_at(d, "task_ctx.slice"), 10); /* entry 0 by default */
	assert_int_equal(u64_at(d, "pcpu[0][1]"), 6);
	assert_int_equal(kt_dump_var(d, "delta", &v, &e), 0);
	assert_int_equal(kt_dval_i64(v, &i, &e), 0);
	assert_int_equal(i, -7);
	assert_int_equal(kt_dump_var(d, "st.comm", &v, &e), 0);
	assert_int_equal(kt_dval_str(v, &s, &e), 0);
	assert_string_equal(s, "ktstr");
	assert_int_equal(kt_dump_var(d, "st.mode", &v, &e), 0);
	assert_int_equal(kt_dval_str(v, &s, &e), 0);
	assert_string_equal(s, "FIFO");

	assert_int_equal(kt_dump_map(d, "task_ctx", &map, &e), 0);
	assert_int_equal(kt_dump_at(map, 0, &v, &e), 0);
	assert_int_equal(kt_dump_get(v, "slice", &v, &e), 0);
	p = printed(v);
	assert_string_equal(p, "{\"kind\":\"uint\",\"bits\":64,\"value\":10}");
	free(p);
	assert_int_equal(kt_dump_map(d, "nobtf", &map, &e), 0);
	assert_int_equal(kt_dump_at(map, 0, &v, &e), 0);
	assert_int_equal(kt_dval_str(v, &s, &e), 0);
	assert_string_equal(s, "2a00");
	assert_int_equal(kt_dump_key(map, 0, &v, &e), 0);
	assert_int_equal(kt_dval_str(v, &s, &e), 0);
	assert_string_equal(s, "01000000");
	kt_dump_free(d);
}

static void expect_var_err(const struct kt_dump *d, const char *path, const char *part1,
			   const char *part2)
{
	const struct kt_dval *v;
	struct kt_err e = { "" };

	if (!kt_dump_var(d, path, &v, &e))
		fail_msg("%s resolved", path);
	if (!strstr(e.msg, part1) || (part2 && !strstr(e.msg, part2)))
		fail_msg("%s: error \"%s\" lacks \"%s\" / \"%s\"", path, e.msg, part1,
			 part2 ? part2 : "");
}

static void accessor_not_found(void **state)
{
	struct kt_dump *d = parse_ok(DUMP);
	const struct kt_dval *map, *v;
	struct kt_err e;

	(void)state;
	expect_var_err(d, "nope", "no map or global named \"nope\"", "scx_ktst.bss");
	expect_var_err(d, "bss.nope", "no member \"nope\"", "nr_enqueued");
	expect_var_err(d, "other_obj.bss.nr_enqueued", "no map or global named \"other_obj\"",
		       NULL);
	expect_var_err(d, "st.nope", "no member \"nope\" in a struct stats", "raw, cpus");
	expect_var_err(d, "task_ctx[7].slice", "no entry 7", "some left out");
	expect_var_err(d, "st.cpus[2]", "out of range", "st.cpus[2]");
	expect_var_err(d, "bad..path", "empty part", NULL);
	expect_var_err(d, "x[", "bad index", NULL);
	expect_var_err(d, "", "empty", NULL);
	assert_int_equal(kt_dump_map(d, "missing", &map, &e), -1);
	assert_non_null(strstr(e.msg, "no map \"missing\""));
	assert_non_null(strstr(e.msg, "task_ctx"));
	assert_int_equal(kt_dump_map(d, "bss", &map, &e), 0);
	assert_int_equal(kt_dump_at(map, 0, &v, &e), 0);
	assert_int_equal(kt_dump_get(v, "stal", &v, &e), -1);
	assert_non_null(strstr(e.msg, "no member \"stal\" in a struct .bss"));
	kt_dump_free(d);
}

static void accessor_wrong_type(void **state)
{
	struct kt_dump *d = parse_ok(DUMP);
	const struct kt_dval *v;
	struct kt_err e;
	uint64_t u;
	const char *s;

	(void)state;
	assert_int_equal(kt_dump_var(d, "st", &v, &e), 0);
	assert_int_equal(kt_dval_u64(v, &u, &e), -1);
	assert_non_null(strstr(e.msg, "wrong type: a struct stats read as u64"));
	assert_int_equal(kt_dump_var(d, "stall", &v, &e), 0);
	assert_int_equal(kt_dval_str(v, &s, &e), -1);
	assert_non_null(strstr(e.msg, "wrong type: a uint read as a string"));
	assert_int_equal(kt_dump_get(v, "x", &v, &e), -1);
	assert_non_null(strstr(e.msg, "wrong type: a uint has no members"));
	expect_var_err(d, "stall.x", "wrong type", "uint");
	expect_var_err(d, "stall[0]", "cannot be indexed", "uint");
	assert_int_equal(kt_dump_var(d, "st.cpus", &v, &e), 0);
	assert_int_equal(kt_dval_i64(v, (int64_t *)&u, &e), -1);
	assert_non_null(strstr(e.msg, "an array"));
	assert_int_equal(kt_dump_at(v, 0, &v, &e), -1);
	assert_non_null(strstr(e.msg, "not a map"));
	kt_dump_free(d);
}

/* Mutations of a valid dump: each parses or is rejected, never crashes;
 * what parses prints back to JSON that parses again. */
static void mutations(void **state)
{
	const size_t n = strlen(DUMP);
	char *buf = malloc(n + 1);
	unsigned seed = 3;
	static const char alphabet[] = "{}[]\":,\\u0123456789-+.eE tfn\x01\xff";

	(void)state;
	for (int it = 0; it < 3000; it++) {
		struct kt_dump *d, *d2;
		const struct kt_dval *v;
		struct kt_err e;
		char *p;
		size_t len = n;

		memcpy(buf, DUMP, n);
		for (int k = 1 + rand_r(&seed) % 4; k > 0; k--)
			buf[rand_r(&seed) % n] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		if (rand_r(&seed) % 4 == 0)
			len = rand_r(&seed) % n;
		if (kt_dump_parse(buf, len, &d, &e))
			continue;
		(void)kt_dump_var(d, "st.cpus[1]", &v, &e);
		(void)kt_dump_var(d, "task_ctx[1].slice", &v, &e);
		p = printed(kt_dump_root(d));
		if (kt_dump_parse(p, strlen(p), &d2, &e))
			fail_msg("reprint does not parse: %s", e.msg);
		kt_dump_free(d2);
		free(p);
		kt_dump_free(d);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepts_and_prints),
		cmocka_unit_test(numbers_exact),
		cmocka_unit_test(rejects),
		cmocka_unit_test(surrogates),
		cmocka_unit_test(accessor_found),
		cmocka_unit_test(accessor_not_found),
		cmocka_unit_test(accessor_wrong_type),
		cmocka_unit_test(mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
