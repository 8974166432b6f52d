#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "frame.h"
#include "ktstr.pb-c.h"

static uint8_t *hello_frame(size_t *len)
{
	Ktstr__Hello h = KTSTR__HELLO__INIT;
	uint8_t buf[128], *f;
	struct kt_err e;

	h.version = 1;
	h.kernel_release = "7.2.13";
	h.uptime_ms = 1234;
	assert_int_equal(kt_frame_encode(KT_FRAME_HELLO, buf, ktstr__hello__pack(&h, buf), &f, len, &e), 0);
	return f;
}

static void crc_vector(void **state)
{
	(void)state;
	assert_int_equal(kt_crc32(0, "123456789", 9), 0xCBF43926u);
}

static void roundtrip_with_noise_and_split(void **state)
{
	struct kt_frame_dec *d = kt_frame_dec_new();
	const char noise[] = "[    1.234] serial8250: ttyS1 at I/O 0x2f8\r\nKT";
	size_t len;
	uint8_t *f = hello_frame(&len);
	const uint8_t *p;
	unsigned type;
	size_t plen;
	struct kt_err e;
	Ktstr__Hello *h;

	(void)state;
	assert_int_equal(kt_frame_dec_feed(d, noise, sizeof(noise) - 1, &e), 0);
	/* Byte by byte: never a frame before the last byte. */
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(kt_frame_dec_feed(d, f + i, 1, &e), 0);
		if (i + 1 < len)
			assert_int_equal(kt_frame_dec_next(d, &type, &p, &plen, &e), 0);
	}
	assert_int_equal(kt_frame_dec_next(d, &type, &p, &plen, &e), 1);
	assert_int_equal(type, KT_FRAME_HELLO);
	h = ktstr__hello__unpack(NULL, plen, p);
	assert_non_null(h);
	assert_string_equal(h->kernel_release, "7.2.13");
	assert_int_equal(h->uptime_ms, 1234);
	ktstr__hello__free_unpacked(h, NULL);
	assert_int_equal(kt_frame_dec_next(d, &type, &p, &plen, &e), 0);
	assert_int_equal(kt_frame_dec_pending(d), 0);
	assert_int_equal(kt_frame_dec_rejected(d), 0);
	free(f);
	kt_frame_dec_free(d);
}

/* Feed BAD then a good frame: BAD is rejected with MSG, the good one survives. */
static void reject_then_recover(const uint8_t *bad, size_t bad_len, const char *msg)
{
	struct kt_frame_dec *d = kt_frame_dec_new();
	size_t len, plen;
	uint8_t *good = hello_frame(&len);
	const uint8_t *p;
	unsigned type;
	struct kt_err e = {{0}};
	int r, rejected = 0, frames = 0;

	assert_int_equal(kt_frame_dec_feed(d, bad, bad_len, &e), 0);
	assert_int_equal(kt_frame_dec_feed(d, good, len, &e), 0);
	while ((r = kt_frame_dec_next(d, &type, &p, &plen, &e)) != 0) {
		if (r < 0) {
			if (!strstr(e.msg, msg))
				fail_msg("message '%s' lacks '%s'", e.msg, msg);
			rejected++;
		} else {
			assert_int_equal(type, KT_FRAME_HELLO);
			frames++;
		}
	}
	assert_int_equal(rejected, 1);
	assert_int_equal(frames, 1);
	assert_int_equal(kt_frame_dec_rejected(d), 1);
	free(good);
	kt_frame_dec_free(d);
}

static void corrupted(void **state)
{
	size_t len;
	uint8_t *f = hello_frame(&len);

	(void)state;
	f[len - 1] ^= 0x40; /* payload bit flip */
	reject_then_recover(f, len, "CRC mismatch");
	free(f);
}

static void oversized(void **state)
{
	size_t len;
	uint8_t *f = hello_frame(&len);

	(void)state;
	f[8] = 0xff, f[9] = 0xff, f[10] = 0xff, f[11] = 0x7f;
	reject_then_recover(f, len, "exceeds");
	free(f);
}

static void unknown_type_and_version(void **state)
{
	size_t len;
	uint8_t *f = hello_frame(&len);
	uint32_t crc;

	(void)state;
	/* A well-formed frame of an unknown type, CRC recomputed. */
	f[5] = 99;
	crc = kt_crc32(kt_crc32(0, f, 12), f + KT_FRAME_HDR, len - KT_FRAME_HDR);
	f[12] = crc, f[13] = crc >> 8, f[14] = crc >> 16, f[15] = crc >> 24;
	reject_then_recover(f, len, "unknown type 99");
	f[5] = KT_FRAME_HELLO;
	f[4] = 7;
	reject_then_recover(f, len, "unsupported version 7");
	free(f);
}

static void truncated(void **state)
{
	struct kt_frame_dec *d = kt_frame_dec_new();
	size_t len, plen;
	uint8_t *f = hello_frame(&len);
	const uint8_t *p;
	unsigned type;
	struct kt_err e;

	(void)state;
	assert_int_equal(kt_frame_dec_feed(d, f, len - 3, &e), 0);
	assert_int_equal(kt_frame_dec_next(d, &type, &p, &plen, &e), 0);
	assert_int_equal(kt_frame_dec_pending(d), len - 3);
	free(f);
	kt_frame_dec_free(d);
}

/* A corrupted length that promises more than ever comes stalls the stream;
 * at its end the decoder skips it and finds the frame behind it. */
static void stalled_then_skipped(void **state)
{
	struct kt_frame_dec *d = kt_frame_dec_new();
	size_t len, plen;
	uint8_t *f = hello_frame(&len), bad[KT_FRAME_HDR];
	const uint8_t *p;
	unsigned type;
	struct kt_err e;

	(void)state;
	memcpy(bad, f, KT_FRAME_HDR);
	bad[10] = 0x20; /* length now ~2 MiB */
	assert_int_equal(kt_frame_dec_feed(d, bad, sizeof(bad), &e), 0);
	assert_int_equal(kt_frame_dec_feed(d, f, len, &e), 0);
	assert_int_equal(kt_frame_dec_next(d, &type, &p, &plen, &e), 0);
	assert_int_equal(kt_frame_dec_skip(d), 1);
	assert_int_equal(kt_frame_dec_next(d, &type, &p, &plen, &e), 1);
	assert_int_equal(type, KT_FRAME_HELLO);
	assert_int_equal(kt_frame_dec_skip(d), 0);
	assert_int_equal(kt_frame_dec_rejected(d), 1);
	free(f);
	kt_frame_dec_free(d);
}

static void encode_rejects(void **state)
{
	uint8_t *f;
	size_t len;
	struct kt_err e;

	(void)state;
	assert_int_equal(kt_frame_encode(0, "", 0, &f, &len, &e), -1);
	assert_int_equal(kt_frame_encode(KT_FRAME_TYPE_MAX + 1, "", 0, &f, &len, &e), -1);
	assert_int_equal(kt_frame_encode(KT_FRAME_LOG, "", KT_FRAME_MAX_PAYLOAD + 1, &f, &len, &e), -1);
	assert_non_null(strstr(e.msg, "exceeds"));
}

/* Random bytes with magics sprinkled in: no crash, no false frame. */
static void random_garbage(void **state)
{
	struct kt_frame_dec *d = kt_frame_dec_new();
	uint8_t buf[4096];
	const uint8_t *p;
	unsigned type, seed = 12345;
	size_t plen;
	struct kt_err e;
	int r, frames = 0;

	(void)state;
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			seed = seed * 1103515245 + 12345;
			buf[i] = seed >> 16;
		}
		for (size_t i = 0; i + 16 < sizeof(buf); i += 97) {
			memcpy(buf + i, "KTSF\x01\x01\0\0", 8);
		}
		assert_int_equal(kt_frame_dec_feed(d, buf, sizeof(buf), &e), 0);
		while ((r = kt_frame_dec_next(d, &type, &p, &plen, &e)) != 0)
			frames += r > 0;
	}
	/* A random frame passing the CRC is a 1 in 2^32 event. */
	assert_int_equal(frames, 0);
	assert_true(kt_frame_dec_rejected(d) > 0);
	kt_frame_dec_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc_vector),
		cmocka_unit_test(roundtrip_with_noise_and_split),
		cmocka_unit_test(corrupted),
		cmocka_unit_test(oversized),
		cmocka_unit_test(unknown_type_and_version),
		cmocka_unit_test(truncated),
		cmocka_unit_test(stalled_then_skipped),
		cmocka_unit_test(encode_rejects),
		cmocka_unit_test(random_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
