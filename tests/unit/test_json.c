/* The JSON writer's strings: always valid UTF-8, whatever bytes come in. */
#include <locale.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dump.h"
#include "json.h"

/* S (N bytes) written as one JSON string; the caller frees it. */
static char *write_str(const char *s, size_t n)
{
	struct kt_json j;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	kt_json_init(&j, f, false);
	kt_json_strn(&j, s, n);
	fclose(f);
	return buf;
}

static void expect(const char *in, size_t n, const char *want)
{
	char *got = write_str(in, n);

	if (strcmp(got, want))
		fail_msg("wrote %s, expected %s", got, want);
	free(got);
}

static void valid_utf8_passes(void **state)
{
	(void)state;
	expect("plain", 5, "\"plain\"");
	expect("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"");                  /* 2 bytes */
	expect("\xe2\x82\xac", 3, "\"\xe2\x82\xac\"");                /* euro, 3 */
	expect("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");        /* emoji, 4 */
	expect("\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\"");        /* U+10FFFF */
	expect("a\"b\\c\n\x01\x7f", 8, "\"a\\\"b\\\\c\\n\\u0001\\u007f\"");
}

static void invalid_bytes_replaced(void **state)
{
	(void)state;
	expect("\xff", 1, "\"\\ufffd\"");
	expect("a\x80z", 3, "\"a\\ufffdz\"");                         /* lone continuation */
	expect("\xc3", 1, "\"\\ufffd\"");                             /* truncated at the end */
	expect("\xc3(", 2, "\"\\ufffd(\"");                           /* bad continuation */
	expect("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");                  /* overlong */
	expect("\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\"");       /* overlong, 3 */
	expect("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");       /* a surrogate */
	expect("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* past U+10FFFF */
	expect("\xe2\x82", 2, "\"\\ufffd\\ufffd\"");                  /* cut short */
	/* a valid sequence right after an invalid byte survives */
	expect("\xe2\xc3\xa9", 3, "\"\\ufffd\xc3\xa9\"");
}

/* Any bytes in, valid UTF-8 out (glibc's UTF-8 decoder is the judge), and
 * the host's dump parser reads it. */
static void every_byte_pair_is_valid(void **state)
{
	(void)state;
	if (!setlocale(LC_CTYPE, "C.UTF-8")) {
		fprintf(stderr, "SKIP: no C.UTF-8 locale\n");
		skip();
	}
	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = 0; b < 256; b++) {
			char in[3] = {(char)a, (char)b, (char)0xe2}, doc[64];
			char *out = write_str(in, 3);
			struct kt_dump *d;
			struct kt_err e;

			if (mbstowcs(NULL, out, 0) == (size_t)-1)
				fail_msg("bytes %02x %02x e2: %s is not UTF-8", a, b, out);
			snprintf(doc, sizeof(doc), "{\"s\":%s}", out);
			if (a && b && kt_dump_parse(doc, strlen(doc), &d, &e))
				fail_msg("bytes %02x %02x e2: %s does not parse: %s", a, b, out, e.msg);
			if (a && b)
				kt_dump_free(d);
			free(out);
		}
}

/* A parsed dump printed again (ktstr-run --json's path for dumps): bytes
 * that are not UTF-8 in the parsed text do not come out raw. */
static void dump_reprint_is_valid(void **state)
{
	const char doc[] = "{\"s\":\"a\xffz \xc3\xa9\"}";
	struct kt_dump *d;
	struct kt_err e;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(kt_dump_parse(doc, strlen(doc), &d, &e), 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	kt_dval_print(kt_dump_root(d), f);
	fclose(f);
	assert_string_equal(buf, "{\"s\":\"a\\ufffdz \xc3\xa9\"}");
	free(buf);
	kt_dump_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_utf8_passes),
		cmocka_unit_test(invalid_bytes_replaced),
		cmocka_unit_test(every_byte_pair_is_valid),
		cmocka_unit_test(dump_reprint_is_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
