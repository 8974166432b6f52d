#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "channel.h"
#include "frame.h"
#include "util.h"

struct kt_chan {
	int fd;
	int tty;
	pthread_mutex_t lock;
};

int kt_chan_open(const char *path, struct kt_chan **out, struct kt_err *err)
{
	struct termios t;
	struct kt_chan *c;
	int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return kt_errf(err, "control channel %s: %s", path, strerror(errno));
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return kt_errf(err, "control channel %s: out of memory", path);
	}
	c->fd = fd;
	if (isatty(fd)) {
		if (tcgetattr(fd, &t)) {
			kt_errf(err, "control channel %s: tcgetattr: %s", path, strerror(errno));
			goto fail;
		}
		cfmakeraw(&t);
		t.c_cflag |= CLOCAL;
		cfsetospeed(&t, B115200);
		cfsetispeed(&t, B115200);
		if (tcsetattr(fd, TCSANOW, &t)) {
			kt_errf(err, "control channel %s: tcsetattr: %s", path, strerror(errno));
			goto fail;
		}
		c->tty = 1;
	}
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
fail:
	close(fd);
	free(c);
	return -1;
}

static int write_all(struct kt_chan *c, const uint8_t *p, size_t len, struct kt_err *err)
{
	while (len) {
		ssize_t w = write(c->fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return kt_errf(err, "control channel: write: %s",
				       w < 0 ? strerror(errno) : "no progress");
		p += w;
		len -= (size_t)w;
	}
	if (c->tty) {
		while (tcdrain(c->fd)) {
			if (errno != EINTR)
				return kt_errf(err, "control channel: tcdrain: %s", strerror(errno));
		}
	}
	return 0;
}

/* Pack MSG into a frame (*F, *LEN). */
static int encode(unsigned type, const ProtobufCMessage *msg, uint8_t **f, size_t *len,
		  struct kt_err *err)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf;
	int rc;

	if (n > KT_FRAME_MAX_PAYLOAD)
		return kt_errf(err, "control channel: %s of %zu bytes exceeds the frame limit %u",
			       msg->descriptor->name, n, KT_FRAME_MAX_PAYLOAD);
	buf = malloc(n ? n : 1);
	if (!buf)
		return kt_errf(err, "control channel: out of memory for %zu bytes", n);
	protobuf_c_message_pack(msg, buf);
	rc = kt_frame_encode(type, buf, n, f, len, err);
	free(buf);
	return rc;
}

int kt_chan_send(struct kt_chan *c, unsigned type, const ProtobufCMessage *msg,
		 struct kt_err *err)
{
	uint8_t *f;
	size_t len;
	int rc;

	if (encode(type, msg, &f, &len, err))
		return -1;
	pthread_mutex_lock(&c->lock);
	rc = write_all(c, f, len, err);
	pthread_mutex_unlock(&c->lock);
	free(f);
	return rc;
}

int kt_chan_send_urgent(struct kt_chan *c, unsigned type, const ProtobufCMessage *msg,
			unsigned timeout_ms, struct kt_err *err)
{
	struct timespec dl = kt_deadline(CLOCK_REALTIME, timeout_ms);
	uint8_t *f;
	size_t len;
	int rc;

	if (encode(type, msg, &f, &len, err))
		return -1;
	/* Without the lock nothing is written: another thread may be in the
	 * middle of a frame, and bytes of ours inside it would corrupt both.
	 * A sender that holds the lock this long is stuck on the port itself,
	 * so writing past it would not get through either; the host's own
	 * watchdog reports the run then. */
	rc = pthread_mutex_timedlock(&c->lock, &dl);
	if (rc) {
		kt_errf(err, "control channel: another send did not finish within %u ms: %s; "
			"frame dropped", timeout_ms, strerror(rc));
	} else {
		rc = write_all(c, f, len, err);
		pthread_mutex_unlock(&c->lock);
	}
	free(f);
	return rc ? -1 : 0;
}

void kt_chan_close(struct kt_chan *c)
{
	if (!c)
		return;
	close(c->fd);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
