#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "farm_msg.h"
#include "util.h"

static int setopt(void *s, int opt, const void *v, size_t len, const char *name,
		  struct kt_err *err)
{
	if (zmq_setsockopt(s, opt, v, len))
		return kt_errf(err, "zmq_setsockopt %s: %s", name, zmq_strerror(errno));
	return 0;
}

void *kt_farm_socket(void *ctx, int type, struct kt_err *err)
{
	int64_t max = KT_FARM_MAX_MSG;
	int linger = 2000, one = 1;
	void *s;

	if (type != ZMQ_ROUTER && type != ZMQ_DEALER) {
		kt_errf(err, "farm socket: type %d is neither ROUTER nor DEALER", type);
		return NULL;
	}
	s = zmq_socket(ctx, type);
	if (!s) {
		kt_errf(err, "zmq_socket: %s", zmq_strerror(errno));
		return NULL;
	}
	if (setopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max), "MAXMSGSIZE", err) ||
	    setopt(s, ZMQ_LINGER, &linger, sizeof(linger), "LINGER", err) ||
	    (type == ZMQ_DEALER && setopt(s, ZMQ_IMMEDIATE, &one, sizeof(one), "IMMEDIATE", err)) ||
	    (type == ZMQ_ROUTER &&
	     (setopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof(one), "ROUTER_MANDATORY", err) ||
	      setopt(s, ZMQ_ROUTER_HANDOVER, &one, sizeof(one), "ROUTER_HANDOVER", err)))) {
		zmq_close(s);
		return NULL;
	}
	return s;
}

const char *kt_farm_body_name(Ktstr__FarmMsg__BodyCase body)
{
	const ProtobufCFieldDescriptor *f;

	if (body == KTSTR__FARM_MSG__BODY__NOT_SET)
		return "none";
	f = protobuf_c_message_descriptor_get_field(&ktstr__farm_msg__descriptor, (unsigned)body);
	return f ? f->name : "unknown";
}

void kt_farm_peer_name(const struct kt_farm_peer *peer, char *buf, size_t len)
{
	bool text = peer->len > 0;
	size_t o = 0;

	if (!len)
		return;
	for (size_t i = 0; i < peer->len; i++)
		text = text && peer->id[i] >= 0x20 && peer->id[i] < 0x7f;
	if (text) {
		kt_printable_copy((const char *)peer->id, peer->len, buf, len);
		return;
	}
	buf[0] = 0;
	if (peer->len == 0) {
		snprintf(buf, len, "(none)");
		return;
	}
	for (size_t i = 0; i < peer->len && o + 3 < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%02x", peer->id[i]);
}

int kt_farm_send(void *sock, const void *ident, size_t ident_len, const Ktstr__FarmMsg *m,
		 struct kt_err *err)
{
	uint8_t *buf;
	size_t len;
	int rc, saved;

	if (kt_farm_pack(m, &buf, &len, err))
		return -1;
	rc = kt_farm_send_packed(sock, ident, ident_len, buf, len, err);
	saved = errno; /* callers retry on EAGAIN */
	if (rc)
		kt_err_prefix(err, "send %s", kt_farm_body_name(m->body_case));
	free(buf);
	errno = saved;
	return rc;
}

/* protobuf-c packs fields in number order, so a FarmMsg from any version
 * starts with field 1 (version, varint): read it before the rest of the
 * message is interpreted, so a newer peer's message is reported as a
 * version mismatch rather than as garbage. 0 when P does not start so. */
static int peek_version(const uint8_t *p, size_t n, uint64_t *v)
{
	*v = 0;
	if (n < 2 || p[0] != 0x08)
		return 0;
	for (size_t i = 1; i < n && i < 11; i++) {
		*v |= (uint64_t)(p[i] & 0x7f) << (7 * (i - 1));
		if (!(p[i] & 0x80))
			return 1;
	}
	return 0;
}

static int decode(const uint8_t *p, size_t n, Ktstr__FarmMsg **out, struct kt_err *err)
{
	Ktstr__FarmMsg *m;
	uint64_t v;

	if (n == 0)
		return kt_errf(err, "empty message");
	if (n > KT_FARM_MAX_MSG)
		return kt_errf(err, "%zu-byte message, more than the %u-byte limit", n,
			       KT_FARM_MAX_MSG);
	if (peek_version(p, n, &v) && v != KT_FARM_VERSION)
		return kt_errf(err, "protocol version %llu, this side speaks %u",
			       (unsigned long long)v, KT_FARM_VERSION);
	m = ktstr__farm_msg__unpack(NULL, n, p);
	if (!m)
		return kt_errf(err, "%zu bytes that do not unpack as a FarmMsg (garbage, truncated, "
			       "or a required field missing)", n);
	if (m->version != KT_FARM_VERSION) {
		kt_errf(err, "protocol version %u, this side speaks %u", m->version,
			KT_FARM_VERSION);
		ktstr__farm_msg__free_unpacked(m, NULL);
		return -1;
	}
	if (m->body_case == KTSTR__FARM_MSG__BODY__NOT_SET) {
		ktstr__farm_msg__free_unpacked(m, NULL);
		return kt_errf(err, "message without a known body (a newer peer's kind?)");
	}
	*out = m;
	return 0;
}

int kt_farm_recv(void *sock, int flags, struct kt_farm_peer *peer, Ktstr__FarmMsg **out,
		 struct kt_err *err)
{
	zmq_msg_t part, payload;
	size_t nparts = 0, want, tlen;
	int type, more, rc;

	*out = NULL;
	peer->len = 0;
	tlen = sizeof(type);
	if (zmq_getsockopt(sock, ZMQ_TYPE, &type, &tlen))
		return kt_errf(err, "receive: %s", zmq_strerror(errno));
	want = type == ZMQ_ROUTER ? 2 : 1;
	zmq_msg_init(&payload);
	/* Read every frame of the message, whatever it holds. */
	do {
		int r;

		zmq_msg_init(&part);
		do /* later frames are there already: only a signal can interrupt */
			r = zmq_msg_recv(&part, sock, nparts ? 0 : flags);
		while (r < 0 && errno == EINTR && nparts);
		if (r < 0) {
			int e = errno;

			zmq_msg_close(&part);
			zmq_msg_close(&payload);
			if (!nparts && (e == EAGAIN || e == EINTR))
				return 0;
			return kt_errf(err, "receive: %s", zmq_strerror(e));
		}
		nparts++;
		more = zmq_msg_more(&part);
		if (nparts == 1 && want == 2) {
			peer->len = zmq_msg_size(&part) < KT_FARM_MAX_IDENT ? zmq_msg_size(&part)
									  : KT_FARM_MAX_IDENT;
			memcpy(peer->id, zmq_msg_data(&part), peer->len);
		}
		if (nparts == want)
			zmq_msg_move(&payload, &part);
		zmq_msg_close(&part);
	} while (more);
	if (nparts != want)
		rc = kt_errf(err, "%zu frames, expected %zu", nparts, want);
	else
		rc = decode(zmq_msg_data(&payload), zmq_msg_size(&payload), out, err);
	zmq_msg_close(&payload);
	return rc < 0 ? -1 : 1;
}

void kt_farm_msg_free(Ktstr__FarmMsg *m)
{
	if (m)
		ktstr__farm_msg__free_unpacked(m, NULL);
}

int kt_farm_pack(const Ktstr__FarmMsg *m, uint8_t **buf, size_t *len, struct kt_err *err)
{
	Ktstr__FarmMsg c = *m;
	const char *what = kt_farm_body_name(m->body_case);

	c.version = KT_FARM_VERSION;
	if (c.body_case == KTSTR__FARM_MSG__BODY__NOT_SET)
		return kt_errf(err, "send: message has no body");
	if (!protobuf_c_message_check(&c.base))
		return kt_errf(err, "send %s: a required field is missing", what);
	*len = ktstr__farm_msg__get_packed_size(&c);
	if (*len > KT_FARM_MAX_MSG)
		return kt_errf(err, "send %s: %zu bytes, more than the %u-byte limit", what, *len,
			       KT_FARM_MAX_MSG);
	*buf = malloc(*len ? *len : 1);
	if (!*buf)
		return kt_errf(err, "send %s: out of memory", what);
	ktstr__farm_msg__pack(&c, *buf);
	return 0;
}

int kt_farm_send_packed(void *sock, const void *ident, size_t ident_len, const uint8_t *buf,
			size_t len, struct kt_err *err)
{
	if (len > KT_FARM_MAX_MSG)
		return kt_errf(err, "%zu bytes, more than the %u-byte limit", len, KT_FARM_MAX_MSG);
	if (ident_len && zmq_send(sock, ident, ident_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return kt_errf(err, "%s", zmq_strerror(errno));
	if (zmq_send(sock, buf, len, ZMQ_DONTWAIT) < 0)
		return kt_errf(err, "%s", zmq_strerror(errno));
	return 0;
}
