#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "channel.h"
#include "frame.h"
#include "ktstr.pb-c.h"

#define BIG_TEXT (256u << 10) /* far more than a pipe holds */

/* A channel writing into a FIFO that the test reads. */
struct rig {
	char path[64];
	int rfd;
	struct kt_chan *chan;
	uint8_t *got;
	size_t len;
};

static void rig_open(struct rig *r)
{
	struct kt_err e;
	int fl;

	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "/tmp/ktstr-chan.%d", (int)getpid());
	unlink(r->path);
	assert_int_equal(mkfifo(r->path, 0600), 0);
	r->rfd = open(r->path, O_RDONLY | O_NONBLOCK);
	assert_true(r->rfd >= 0);
	if (kt_chan_open(r->path, &r->chan, &e))
		fail_msg("%s", e.msg);
	fl = fcntl(r->rfd, F_GETFL);
	assert_int_equal(fcntl(r->rfd, F_SETFL, fl & ~O_NONBLOCK), 0);
}

/* Read everything until the channel is closed (EOF). */
static void *drain(void *arg)
{
	struct rig *r = arg;
	size_t cap = 0;

	for (;;) {
		ssize_t n;

		if (r->len + 65536 > cap) {
			cap = cap ? 2 * cap : 1 << 20;
			r->got = realloc(r->got, cap);
			if (!r->got)
				abort();
		}
		n = read(r->rfd, r->got + r->len, cap - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		r->len += (size_t)n;
	}
}

/* The frames read, in order: their types into TYPES; fails on any
 * rejected or leftover byte. Returns the count. */
static size_t frames(const struct rig *r, unsigned *types, size_t max)
{
	struct kt_frame_dec *d = kt_frame_dec_new();
	const uint8_t *payload;
	struct kt_err e;
	size_t n = 0, plen;
	unsigned type;
	int rc;

	assert_non_null(d);
	assert_int_equal(kt_frame_dec_feed(d, r->got, r->len, &e), 0);
	while ((rc = kt_frame_dec_next(d, &type, &payload, &plen, &e)) != 0) {
		if (rc < 0)
			fail_msg("frame rejected: %s", e.msg);
		assert_true(n < max);
		types[n++] = type;
	}
	assert_int_equal(kt_frame_dec_pending(d), 0);
	assert_int_equal(kt_frame_dec_rejected(d), 0);
	kt_frame_dec_free(d);
	return n;
}

static void rig_close(struct rig *r)
{
	close(r->rfd);
	unlink(r->path);
	free(r->got);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Wait (at most 10 s) until the pipe behind FD is full. */
static void wait_full(int fd)
{
	int cap = fcntl(fd, F_GETPIPE_SZ), avail = 0;

	assert_true(cap > 0);
	for (int i = 0; i < 1000 && avail < cap; i++) {
		sleep_ms(10);
		assert_int_equal(ioctl(fd, FIONREAD, &avail), 0);
	}
	assert_int_equal(avail, cap);
}

struct big_send {
	struct kt_chan *chan;
	int rc;
};

static void *send_big(void *arg)
{
	struct big_send *b = arg;
	Ktstr__Log msg = KTSTR__LOG__INIT;
	char *text = malloc(BIG_TEXT + 1);

	if (!text)
		abort();
	memset(text, 'x', BIG_TEXT);
	text[BIG_TEXT] = 0;
	msg.text = text;
	b->rc = kt_chan_send(b->chan, KT_FRAME_LOG, &msg.base, NULL);
	free(text);
	return NULL;
}

/* An urgent send never writes into a frame another thread is writing: it
 * gives up after its timeout, and the stream stays whole. */
static void urgent_never_tears(void **state)
{
	Ktstr__ScenarioResult res = KTSTR__SCENARIO_RESULT__INIT;
	struct big_send big;
	pthread_t sender, reader;
	struct kt_err e = {{0}};
	unsigned types[4];
	struct rig r;

	(void)state;
	rig_open(&r);
	big.chan = r.chan;
	assert_int_equal(pthread_create(&sender, NULL, send_big, &big), 0);
	wait_full(r.rfd); /* the sender is stuck on the full pipe, holding the lock */
	res.ok = false;
	res.kind = KTSTR__SCENARIO_RESULT__KIND__WATCHDOG;
	res.error = "guest watchdog expired";
	assert_int_equal(kt_chan_send_urgent(r.chan, KT_FRAME_RESULT, &res.base, 100, &e), -1);
	assert_non_null(strstr(e.msg, "another send did not finish within 100 ms"));
	assert_int_equal(pthread_create(&reader, NULL, drain, &r), 0);
	assert_int_equal(pthread_join(sender, NULL), 0);
	assert_int_equal(big.rc, 0);
	/* Uncontended, the urgent send goes out. */
	assert_int_equal(kt_chan_send_urgent(r.chan, KT_FRAME_RESULT, &res.base, 100, &e), 0);
	kt_chan_close(r.chan);
	assert_int_equal(pthread_join(reader, NULL), 0);
	assert_int_equal(frames(&r, types, 4), 2);
	assert_int_equal(types[0], KT_FRAME_LOG);
	assert_int_equal(types[1], KT_FRAME_RESULT);
	rig_close(&r);
}

static void send_roundtrip(void **state)
{
	Ktstr__Hello h = KTSTR__HELLO__INIT;
	struct kt_err e = {{0}};
	unsigned types[4];
	pthread_t reader;
	struct rig r;

	(void)state;
	rig_open(&r);
	assert_int_equal(pthread_create(&reader, NULL, drain, &r), 0);
	h.version = 1;
	h.kernel_release = "7.2";
	assert_int_equal(kt_chan_send(r.chan, KT_FRAME_HELLO, &h.base, &e), 0);
	kt_chan_close(r.chan);
	assert_int_equal(pthread_join(reader, NULL), 0);
	assert_int_equal(frames(&r, types, 4), 1);
	assert_int_equal(types[0], KT_FRAME_HELLO);
	rig_close(&r);
	assert_int_equal(kt_chan_open("/nonexistent/ttyS1", &r.chan, &e), -1);
	assert_non_null(strstr(e.msg, "control channel /nonexistent/ttyS1: No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(send_roundtrip),
		cmocka_unit_test(urgent_never_tears),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
