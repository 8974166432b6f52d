/* guest/btf_render.c on synthetic BTF built with libbpf's btf__add_* API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <bpf/btf.h>
#include "btf_render.h"
#include "dump.h"

/* The kernel's encoding of an int's bits, not in the uapi header. */
#define INT_ENC(enc, off, bits) (((enc) << 24) | ((off) << 16) | (bits))

/* Render into a string; NULL on error (E filled). Output must be empty
 * when rendering fails. */
static char *render(const struct btf *btf, uint32_t id, const void *p, size_t len,
		    struct kt_err *e)
{
	struct kt_json j;
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	int r;

	assert_non_null(f);
	kt_json_init(&j, f, false);
	r = kt_btf_render(&j, btf, id, p, len, e);
	fclose(f);
	if (r) {
		assert_int_equal(n, 0);
		free(buf);
		return NULL;
	}
	return buf;
}

static void expect(const struct btf *btf, uint32_t id, const void *p, size_t len,
		   const char *want)
{
	struct kt_err e = { "" };
	char *got = render(btf, id, p, len, &e);

	if (!got)
		fail_msg("render failed: %s", e.msg);
	assert_string_equal(got, want);
	free(got);
}

static void expect_err(const struct btf *btf, uint32_t id, const void *p, size_t len,
		       const char *part)
{
	struct kt_err e = { "" };
	char *got = render(btf, id, p, len, &e);

	if (got)
		fail_msg("rendered, expected an error with \"%s\": %s", part, got);
	if (!strstr(e.msg, part))
		fail_msg("error \"%s\" lacks \"%s\"", e.msg, part);
}

/* Parse rendered JSON so the dump accessor can walk it. */
static struct kt_dump *parsed(const struct btf *btf, uint32_t id, const void *p, size_t len)
{
	struct kt_err e = { "" };
	struct kt_dump *d;
	char *got = render(btf, id, p, len, &e);

	if (!got)
		fail_msg("render failed: %s", e.msg);
	if (kt_dump_parse(got, strlen(got), &d, &e))
		fail_msg("rendered JSON does not parse: %s: %s", e.msg, got);
	free(got);
	return d;
}

static void scalars(void **state)
{
	struct btf *btf = btf__new_empty();
	int u32 = btf__add_int(btf, "unsigned int", 4, 0);
	int s16 = btf__add_int(btf, "short", 2, BTF_INT_SIGNED);
	int chr = btf__add_int(btf, "char", 1, BTF_INT_SIGNED);
	int b = btf__add_int(btf, "_Bool", 1, BTF_INT_BOOL);
	int u128 = btf__add_int(btf, "unsigned __int128", 16, 0);
	int dbl = btf__add_float(btf, "double", 8);
	int flt = btf__add_float(btf, "float", 4);
	int td = btf__add_typedef(btf, "u32", u32);
	int cv = btf__add_const(btf, td);
	int vol = btf__add_volatile(btf, cv);
	uint32_t v32 = 7;
	int16_t v16 = -3;
	char c = 'A';
	uint8_t one = 1;
	uint64_t wide[2] = { 1, 2 };
	double d = 1.5;
	float f = -0.25f;

	(void)state;
	expect(btf, u32, &v32, 4, "{\"kind\":\"uint\",\"bits\":32,\"value\":7}");
	expect(btf, s16, &v16, 2, "{\"kind\":\"int\",\"bits\":16,\"value\":-3}");
	expect(btf, chr, &c, 1, "{\"kind\":\"char\",\"value\":65}");
	expect(btf, b, &one, 1, "{\"kind\":\"bool\",\"value\":true}");
	expect(btf, u128, wide, 16,
	       "{\"kind\":\"uint\",\"bits\":128,\"value\":\"0x20000000000000001\"}");
	expect(btf, dbl, &d, 8, "{\"kind\":\"float\",\"bits\":64,\"value\":1.5}");
	expect(btf, flt, &f, 4, "{\"kind\":\"float\",\"bits\":32,\"value\":-0.25}");
	/* typedef keeps its name through const and volatile */
	expect(btf, vol, &v32, 4,
	       "{\"kind\":\"uint\",\"type_name\":\"u32\",\"bits\":32,\"value\":7}");
	btf__free(btf);
}

static void nested_structs_and_anonymous(void **state)
{
	struct btf *btf = btf__new_empty();
	int u32 = btf__add_int(btf, "unsigned int", 4, 0);
	int u64 = btf__add_int(btf, "unsigned long long", 8, 0);
	int inner, anon_u, outer, td;
	struct {
		uint32_t a;
		uint32_t pad;
		struct { uint64_t x; uint32_t y; uint32_t z; } in;
		union { uint32_t u; uint32_t v; };
		uint32_t tail;
	} val = { 1, 0, { 2, 3, 4 }, { 5 }, 6 };
	const struct kt_dval *v;
	struct kt_dump *d;
	uint64_t n;
	struct kt_err e;

	(void)state;
	inner = btf__add_struct(btf, "inner", 16);
	btf__add_field(btf, "x", u64, 0, 0);
	btf__add_field(btf, "y", u32, 64, 0);
	btf__add_field(btf, "z", u32, 96, 0);
	anon_u = btf__add_union(btf, NULL, 4);
	btf__add_field(btf, "u", u32, 0, 0);
	btf__add_field(btf, "v", u32, 0, 0);
	outer = btf__add_struct(btf, "outer", sizeof(val));
	btf__add_field(btf, "a", u32, 0, 0);
	btf__add_field(btf, "in", inner, 64, 0);
	btf__add_field(btf, NULL, anon_u, 192, 0);
	btf__add_field(btf, "tail", u32, 224, 0);
	td = btf__add_typedef(btf, "outer_t", outer);
	assert_int_equal(sizeof(val), 32);

	d = parsed(btf, td, &val, sizeof(val));
	v = kt_dump_root(d);
	assert_int_equal(kt_dump_get(v, "in", &v, &e), 0);
	assert_int_equal(kt_dump_get(v, "y", &v, &e), 0);
	assert_int_equal(kt_dval_u64(v, &n, &e), 0);
	assert_int_equal(n, 3);
	/* members of an anonymous union are reached through it */
	assert_int_equal(kt_dump_get(kt_dump_root(d), "v", &v, &e), 0);
	assert_int_equal(kt_dval_u64(v, &n, &e), 0);
	assert_int_equal(n, 5);
	assert_int_equal(kt_dump_get(kt_dump_root(d), "tail", &v, &e), 0);
	assert_int_equal(kt_dval_u64(v, &n, &e), 0);
	assert_int_equal(n, 6);
	kt_dump_free(d);

	expect(btf, anon_u, &val.u, 4,
	       "{\"kind\":\"union\",\"members\":[{\"name\":\"u\",\"value\":{\"kind\":\"uint\","
	       "\"bits\":32,\"value\":5}},{\"name\":\"v\",\"value\":{\"kind\":\"uint\","
	       "\"bits\":32,\"value\":5}}]}");
	btf__free(btf);
}

static void bitfields(void **state)
{
	struct btf *btf = btf__new_empty();
	int u32 = btf__add_int(btf, "unsigned int", 4, 0);
	int s32 = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	int en, bf, old_int, old;
	/* x:3 = 5, y:5 = -2 (signed), z:20 = 0xabcde, e:4 = 2 (enum) */
	uint32_t w = 5u | (0x1eu << 3) | (0xabcdeu << 8) | (2u << 28);
	uint32_t ow = 0x5a << 4;
	struct kt_dump *d;
	const struct kt_dval *v;
	int64_t i;
	uint64_t u;
	const char *s;
	struct kt_err e;

	(void)state;
	en = btf__add_enum(btf, "color", 4);
	btf__add_enum_value(btf, "RED", 1);
	btf__add_enum_value(btf, "BLUE", 2);
	bf = btf__add_struct(btf, "bf", 4);
	btf__add_field(btf, "x", u32, 0, 3);
	btf__add_field(btf, "y", s32, 3, 5);
	btf__add_field(btf, "z", u32, 8, 20);
	btf__add_field(btf, "e", en, 28, 4);

	d = parsed(btf, bf, &w, 4);
	assert_int_equal(kt_dump_get(kt_dump_root(d), "x", &v, &e), 0);
	assert_int_equal(kt_dval_u64(v, &u, &e), 0);
	assert_int_equal(u, 5);
	assert_int_equal(kt_dump_get(kt_dump_root(d), "y", &v, &e), 0);
	assert_int_equal(kt_dval_i64(v, &i, &e), 0);
	assert_int_equal(i, -2);
	assert_int_equal(kt_dump_get(kt_dump_root(d), "z", &v, &e), 0);
	assert_int_equal(kt_dval_u64(v, &u, &e), 0);
	assert_int_equal(u, 0xabcde);
	assert_int_equal(kt_dump_get(kt_dump_root(d), "e", &v, &e), 0);
	assert_int_equal(kt_dval_str(v, &s, &e), 0);
	assert_string_equal(s, "BLUE");
	kt_dump_free(d);
	expect(btf, bf, &w, 4,
	       "{\"kind\":\"struct\",\"type_name\":\"bf\",\"members\":["
	       "{\"name\":\"x\",\"bit_offset\":0,\"bitfield_size\":3,\"value\":{\"kind\":\"uint\",\"bits\":3,\"value\":5}},"
	       "{\"name\":\"y\",\"bit_offset\":3,\"bitfield_size\":5,\"value\":{\"kind\":\"int\",\"bits\":5,\"value\":-2}},"
	       "{\"name\":\"z\",\"bit_offset\":8,\"bitfield_size\":20,\"value\":{\"kind\":\"uint\",\"bits\":20,\"value\":703710}},"
	       "{\"name\":\"e\",\"bit_offset\":28,\"bitfield_size\":4,\"value\":{\"kind\":\"enum\",\"type_name\":\"color\",\"bits\":4,\"value\":\"BLUE\",\"raw\":2}}]}");

	/* Old style: the bitfield lives in the int's encoding (offset 4, 8 bits). */
	old_int = btf__add_int(btf, "unsigned int", 4, 0);
	assert_true(old_int > 0);
	{
		/* patch the int encoding: libbpf has no API for offset/bits */
		struct btf_type *t = (struct btf_type *)btf__type_by_id(btf, old_int);

		*(uint32_t *)(t + 1) = INT_ENC(0, 4, 8);
	}
	old = btf__add_struct(btf, "old", 4);
	btf__add_field(btf, "f", old_int, 0, 0);
	expect(btf, old, &ow, 4,
	       "{\"kind\":\"struct\",\"type_name\":\"old\",\"members\":[{\"name\":\"f\",\"bit_offset\":4,"
	       "\"bitfield_size\":8,\"value\":{\"kind\":\"uint\",\"bits\":8,\"value\":90}}]}");
	btf__free(btf);
}

static void enums(void **state)
{
	struct btf *btf = btf__new_empty();
	int en = btf__add_enum(btf, "state", 4);
	int en64, sen, s1, s2, u1;
	int8_t neg8 = -1, three8 = 3;
	int16_t neg16 = -300;
	uint32_t v = 5, unknown = 7;
	uint64_t big = 0x100000000ull;
	int32_t neg = -1;

	(void)state;
	btf__add_enum_value(btf, "IDLE", 0);
	btf__add_enum_value(btf, "BUSY", 5);
	en64 = btf__add_enum64(btf, "wide", 8, false);
	btf__add_enum64_value(btf, "HUGE", 0x100000000ull);
	sen = btf__add_enum(btf, "sgn", 4);
	btf__add_enum_value(btf, "MINUS", -1);
	expect(btf, en, &v, 4,
	       "{\"kind\":\"enum\",\"type_name\":\"state\",\"bits\":32,\"value\":\"BUSY\",\"raw\":5}");
	expect(btf, en, &unknown, 4,
	       "{\"kind\":\"enum\",\"type_name\":\"state\",\"bits\":32,\"value\":7,\"raw\":7}");
	expect(btf, en64, &big, 8,
	       "{\"kind\":\"enum\",\"type_name\":\"wide\",\"bits\":64,\"value\":\"HUGE\","
	       "\"raw\":4294967296}");
	expect(btf, sen, &neg, 4,
	       "{\"kind\":\"enum\",\"type_name\":\"sgn\",\"bits\":32,\"value\":\"MINUS\",\"raw\":-1}");
	/* small signed enums: the value read is sign-extended before the
	 * names are compared (libbpf marks an enum with a negative value
	 * signed) */
	s1 = btf__add_enum(btf, "s1", 1);
	btf__add_enum_value(btf, "NEG1", -1);
	btf__add_enum_value(btf, "POS1", 3);
	s2 = btf__add_enum(btf, "s2", 2);
	btf__add_enum_value(btf, "NEG2", -300);
	expect(btf, s1, &neg8, 1,
	       "{\"kind\":\"enum\",\"type_name\":\"s1\",\"bits\":8,\"value\":\"NEG1\",\"raw\":-1}");
	expect(btf, s1, &three8, 1,
	       "{\"kind\":\"enum\",\"type_name\":\"s1\",\"bits\":8,\"value\":\"POS1\",\"raw\":3}");
	expect(btf, s2, &neg16, 2,
	       "{\"kind\":\"enum\",\"type_name\":\"s2\",\"bits\":16,\"value\":\"NEG2\","
	       "\"raw\":-300}");
	/* an unsigned small enum: 0xff is 255, not -1 */
	u1 = btf__add_enum(btf, "u1", 1);
	btf__add_enum_value(btf, "MAX", 255);
	expect(btf, u1, &neg8, 1,
	       "{\"kind\":\"enum\",\"type_name\":\"u1\",\"bits\":8,\"value\":\"MAX\",\"raw\":255}");
	btf__free(btf);
}

static void arrays_and_strings(void **state)
{
	struct btf *btf = btf__new_empty();
	int u32 = btf__add_int(btf, "unsigned int", 4, 0);
	int chr = btf__add_int(btf, "char", 1, BTF_INT_SIGNED);
	int u8 = btf__add_int(btf, "unsigned char", 1, 0);
	int u8t = btf__add_typedef(btf, "u8", u8);
	int a3 = btf__add_array(btf, u32, u32, 3);
	int a300 = btf__add_array(btf, u32, u32, 300);
	int s8 = btf__add_array(btf, u32, chr, 8);
	int b2 = btf__add_array(btf, u32, u8t, 2);
	int a2x2 = btf__add_array(btf, u32, btf__add_array(btf, u32, u32, 2), 2);
	uint32_t v3[3] = { 1, 2, 3 }, v300[300] = { 0 }, v2x2[4] = { 1, 2, 3, 4 };
	char str[8] = { 'h', 'i', '\\', 1, (char)0xff, 0, 'x', 'y' };
	uint8_t bytes[2] = { 7, 8 };
	struct kt_dump *d;
	const struct kt_dval *v;
	uint64_t n;
	struct kt_err e;

	(void)state;
	expect(btf, a3, v3, sizeof(v3),
	       "{\"kind\":\"array\",\"len\":3,\"elements\":[{\"kind\":\"uint\",\"bits\":32,\"value\":1},"
	       "{\"kind\":\"uint\",\"bits\":32,\"value\":2},{\"kind\":\"uint\",\"bits\":32,\"value\":3}]}");
	expect(btf, s8, str, 8, "{\"kind\":\"string\",\"len\":8,\"value\":\"hi\\\\\\\\\\\\x01\\\\xff\"}");
	/* u8 arrays are bytes, not text */
	expect(btf, b2, bytes, 2,
	       "{\"kind\":\"array\",\"len\":2,\"elements\":[{\"kind\":\"uint\",\"type_name\":\"u8\","
	       "\"bits\":8,\"value\":7},{\"kind\":\"uint\",\"type_name\":\"u8\",\"bits\":8,\"value\":8}]}");

	v300[299] = 9;
	v300[255] = 4;
	d = parsed(btf, a300, v300, sizeof(v300));
	v = kt_dump_root(d);
	assert_int_equal(kt_dump_get(v, "x", &v, &e), -1);
	assert_non_null(strstr(e.msg, "wrong type: an array"));
	assert_int_equal(kt_dval_index(kt_dump_root(d), 255, &v, &e), 0);
	assert_int_equal(kt_dval_u64(v, &n, &e), 0);
	assert_int_equal(n, 4);
	/* beyond the 256 shown: counted as truncated */
	assert_int_equal(kt_dval_index(kt_dump_root(d), 256, &v, &e), -1);
	assert_non_null(strstr(e.msg, "truncated"));
	kt_dump_free(d);
	{
		struct kt_err e2;
		char *s = render(btf, a300, v300, sizeof(v300), &e2);

		assert_non_null(s);
		assert_non_null(strstr(s, "],\"truncated\":44}"));
		free(s);
	}
	d = parsed(btf, a2x2, v2x2, sizeof(v2x2));
	assert_int_equal(kt_dval_index(kt_dump_root(d), 1, &v, &e), 0);
	assert_int_equal(kt_dval_index(v, 0, &v, &e), 0);
	assert_int_equal(kt_dval_u64(v, &n, &e), 0);
	assert_int_equal(n, 3);
	kt_dump_free(d);
	btf__free(btf);
}

static void pointers_and_datasec(void **state)
{
	struct btf *btf = btf__new_empty();
	int u32 = btf__add_int(btf, "unsigned int", 4, 0);
	int u64 = btf__add_int(btf, "unsigned long", 8, 0);
	int p = btf__add_ptr(btf, u32);
	int proto = btf__add_func_proto(btf, u32);
	int param = btf__add_func_param(btf, "x", u32);
	int fp = btf__add_ptr(btf, proto);
	int stall, nr, sec;
	uint64_t ptr = 0xffff888012345678ull;
	uint64_t bss[2] = { 1, 42 };
	struct kt_dump *d;
	const struct kt_dval *v;
	uint64_t n;
	struct kt_err e;

	(void)state;
	assert_int_equal(param, 0);
	stall = btf__add_var(btf, "stall", BTF_VAR_GLOBAL_ALLOCATED, u32);
	nr = btf__add_var(btf, "nr_enqueued", BTF_VAR_GLOBAL_ALLOCATED, u64);
	sec = btf__add_datasec(btf, ".bss", 16);
	btf__add_datasec_var_info(btf, stall, 0, 4);
	btf__add_datasec_var_info(btf, nr, 8, 8);
	expect(btf, p, &ptr, 8, "{\"kind\":\"ptr\",\"value\":\"0xffff888012345678\"}");
	expect(btf, fp, &ptr, 8, "{\"kind\":\"func_ptr\",\"value\":\"0xffff888012345678\"}");
	d = parsed(btf, sec, bss, 16);
	v = kt_dump_root(d);
	assert_int_equal(kt_dump_get(v, "nr_enqueued", &v, &e), 0);
	assert_int_equal(kt_dval_u64(v, &n, &e), 0);
	assert_int_equal(n, 42);
	kt_dump_free(d);
	expect(btf, sec, bss, 16,
	       "{\"kind\":\"struct\",\"type_name\":\".bss\",\"members\":[{\"name\":\"stall\",\"value\":"
	       "{\"kind\":\"uint\",\"bits\":32,\"value\":1}},{\"name\":\"nr_enqueued\",\"value\":"
	       "{\"kind\":\"uint\",\"bits\":64,\"value\":42}}]}");
	btf__free(btf);
}

static void wrong_sizes_rejected(void **state)
{
	struct btf *btf = btf__new_empty();
	int u32 = btf__add_int(btf, "unsigned int", 4, 0);
	int st = btf__add_struct(btf, "s", 8);
	int big;
	uint8_t buf[64] = { 0 };

	(void)state;
	btf__add_field(btf, "a", u32, 0, 0);
	btf__add_field(btf, "b", u32, 32, 0);
	/* truncated and oversized value bytes */
	expect_err(btf, st, buf, 7, "7 bytes for BTF type id");
	expect_err(btf, st, buf, 9, "of 8 bytes");
	expect_err(btf, u32, buf, 0, "0 bytes");
	expect_err(btf, st, NULL, 8, "no bytes");
	/* a member placed past its struct's end */
	big = btf__add_struct(btf, "bad", 4);
	btf__add_field(btf, "a", u32, 0, 0);
	btf__add_field(btf, "out", u32, 32, 0);
	expect_err(btf, big, buf, 4, "outside 4 bytes");
	expect_err(NULL, 1, buf, 4, "no BTF");
	btf__free(btf);
}

static void malformed_btf(void **state)
{
	struct btf *btf = btf__new_empty();
	int u32 = btf__add_int(btf, "unsigned int", 4, 0);
	int loop, missing, self, proto, arr, deep;
	uint8_t buf[8] = { 0 };
	static uint32_t huge[256 * 256];

	(void)state;
	/* a typedef naming itself */
	loop = btf__type_cnt(btf);
	assert_int_equal(btf__add_typedef(btf, "loop", loop), loop);
	expect_err(btf, loop, buf, 4, "hops");
	missing = btf__add_typedef(btf, "missing", 999);
	expect_err(btf, missing, buf, 4, "999 does not exist");
	expect_err(btf, 12345, buf, 4, "12345 does not exist");
	expect_err(btf, 0, buf, 4, "void");
	/* a struct containing itself */
	self = btf__add_struct(btf, "self", 4);
	btf__add_field(btf, "me", self, 0, 0);
	expect_err(btf, self, buf, 4, "deeper than 32");
	/* an array of itself */
	arr = btf__type_cnt(btf);
	assert_int_equal(btf__add_array(btf, u32, arr, 2), arr);
	expect_err(btf, arr, buf, 8, "deeper than 32");
	/* a function prototype has no value */
	proto = btf__add_func_proto(btf, u32);
	expect_err(btf, proto, buf, 4, "func_proto");
	/* too many nodes: 256 x 256 ints */
	deep = btf__add_array(btf, u32, btf__add_array(btf, u32, u32, 256), 256);
	expect_err(btf, deep, huge, sizeof(huge), "nodes");
	btf__free(btf);
}

/* Random bytes through every type never crash and render valid JSON. */
static void random_bytes(void **state)
{
	struct btf *btf = btf__new_empty();
	int u32 = btf__add_int(btf, "unsigned int", 4, 0);
	int chr = btf__add_int(btf, "char", 1, BTF_INT_SIGNED);
	int en = btf__add_enum(btf, "e", 4);
	int st;
	uint8_t buf[64];
	unsigned seed = 1;

	(void)state;
	btf__add_enum_value(btf, "A", 0);
	int s16 = btf__add_array(btf, u32, chr, 16);
	st = btf__add_struct(btf, "r", 32);
	btf__add_field(btf, "a", u32, 0, 7);
	btf__add_field(btf, "b", en, 7, 25);
	btf__add_field(btf, "s", s16, 32, 0);
	btf__add_field(btf, "c", u32, 160, 0);
	for (int it = 0; it < 500; it++) {
		struct kt_dump *d;
		struct kt_err e;
		char *s;

		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)(rand_r(&seed) >> 8);
		s = render(btf, st, buf, 32, &e);
		if (!s)
			fail_msg("%s", e.msg);
		if (kt_dump_parse(s, strlen(s), &d, &e))
			fail_msg("%s: %s", e.msg, s);
		kt_dump_free(d);
		free(s);
	}
	btf__free(btf);
}

/* Random type graphs: kinds pointing at random ids, including ones not
 * yet defined, missing or their own. Every render either succeeds with
 * valid JSON or fails cleanly; ASan builds check for stray reads. */
static void random_btf(void **state)
{
	unsigned seed = 7;

	(void)state;
	for (int round = 0; round < 200; round++) {
		struct btf *btf = btf__new_empty();
		int n = 12;
		uint8_t buf[256];

		btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
		for (int i = 0; i < n; i++) {
			int ref = rand_r(&seed) % (n + 4);
			unsigned sz = 1 + rand_r(&seed) % 16;

			switch (rand_r(&seed) % 8) {
			case 0: btf__add_typedef(btf, "t", ref); break;
			case 1: btf__add_const(btf, ref); break;
			case 2: btf__add_ptr(btf, ref); break;
			case 3: btf__add_array(btf, 1, ref, rand_r(&seed) % 5); break;
			case 4:
				btf__add_struct(btf, "s", sz);
				btf__add_field(btf, "a", ref, 0, 0);
				btf__add_field(btf, "b", 1 + rand_r(&seed) % (n + 1),
					       8 * (rand_r(&seed) % 8), rand_r(&seed) % 3 ? 0 : 3);
				break;
			case 5:
				btf__add_enum(btf, "e", 4);
				btf__add_enum_value(btf, "X", 1);
				break;
			case 6: btf__add_volatile(btf, ref); break;
			default: btf__add_int(btf, "u", 1 << rand_r(&seed) % 4, 0); break;
			}
		}
		for (uint32_t id = 0; id < (uint32_t)n + 6; id++) {
			size_t len = rand_r(&seed) % 3 ? (size_t)btf__resolve_size(btf, id) : 0;
			struct kt_dump *d;
			struct kt_err e;
			char *s;

			if (len > sizeof(buf))
				len = rand_r(&seed) % sizeof(buf);
			for (size_t i = 0; i < sizeof(buf); i++)
				buf[i] = (uint8_t)rand_r(&seed);
			s = render(btf, id, buf, len, &e);
			if (!s)
				continue;
			if (kt_dump_parse(s, strlen(s), &d, &e))
				fail_msg("%s: %s", e.msg, s);
			kt_dump_free(d);
			free(s);
		}
		btf__free(btf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scalars),
		cmocka_unit_test(nested_structs_and_anonymous),
		cmocka_unit_test(bitfields),
		cmocka_unit_test(enums),
		cmocka_unit_test(arrays_and_strings),
		cmocka_unit_test(pointers_and_datasec),
		cmocka_unit_test(wrong_sizes_rejected),
		cmocka_unit_test(malformed_btf),
		cmocka_unit_test(random_bytes),
		cmocka_unit_test(random_btf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
