#include <stdlib.h>
#include <string.h>
#include "frame.h"

static const uint8_t magic[4] = {'K', 'T', 'S', 'F'};

uint32_t kt_crc32(uint32_t crc, const void *buf, size_t len)
{
	static uint32_t table[256];
	static int ready;
	const uint8_t *p = buf;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		ready = 1;
	}
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int kt_frame_encode(unsigned type, const void *payload, size_t len, uint8_t **out,
		    size_t *out_len, struct kt_err *err)
{
	uint8_t *f;
	uint32_t crc;

	if (type == 0 || type > KT_FRAME_TYPE_MAX)
		return kt_errf(err, "frame: unknown type %u", type);
	if (len > KT_FRAME_MAX_PAYLOAD)
		return kt_errf(err, "frame: payload of %zu bytes exceeds %u", len, KT_FRAME_MAX_PAYLOAD);
	f = malloc(KT_FRAME_HDR + len);
	if (!f)
		return kt_errf(err, "frame: out of memory for %zu bytes", len);
	memcpy(f, magic, 4);
	f[4] = KT_FRAME_VERSION;
	f[5] = type;
	f[6] = f[7] = 0;
	put32(f + 8, len);
	if (len)
		memcpy(f + KT_FRAME_HDR, payload, len);
	crc = kt_crc32(0, f, 12);
	crc = kt_crc32(crc, f + KT_FRAME_HDR, len);
	put32(f + 12, crc);
	*out = f;
	*out_len = KT_FRAME_HDR + len;
	return 0;
}

struct kt_frame_dec {
	uint8_t *buf;
	size_t len, cap;
	size_t consumed; /* bytes of buf already handed out or skipped */
	unsigned rejected;
};

struct kt_frame_dec *kt_frame_dec_new(void)
{
	return calloc(1, sizeof(struct kt_frame_dec));
}

void kt_frame_dec_free(struct kt_frame_dec *d)
{
	if (d) {
		free(d->buf);
		free(d);
	}
}

int kt_frame_dec_feed(struct kt_frame_dec *d, const void *buf, size_t len, struct kt_err *err)
{
	/* Drop what was consumed before growing. */
	if (d->consumed) {
		memmove(d->buf, d->buf + d->consumed, d->len - d->consumed);
		d->len -= d->consumed;
		d->consumed = 0;
	}
	/* Callers drain frames between feeds; a backlog beyond two maximal
	 * frames means they do not, and memory must stay bounded. */
	if (d->len + len > 2 * (KT_FRAME_HDR + (size_t)KT_FRAME_MAX_PAYLOAD))
		return kt_errf(err, "frame decoder: backlog of %zu bytes exceeds the bound",
			       d->len + len);
	if (d->len + len > d->cap) {
		size_t cap = d->cap ? d->cap : 4096;
		uint8_t *nb;

		while (cap < d->len + len)
			cap *= 2;
		nb = realloc(d->buf, cap);
		if (!nb)
			return kt_errf(err, "frame decoder: out of memory for %zu bytes", cap);
		d->buf = nb;
		d->cap = cap;
	}
	if (len)
		memcpy(d->buf + d->len, buf, len);
	d->len += len;
	return 0;
}

/* Skip to the next possible magic after position consumed+1. */
static void resync(struct kt_frame_dec *d)
{
	size_t i = d->consumed + 1;

	while (i < d->len && d->buf[i] != magic[0])
		i++;
	d->consumed = i;
}

int kt_frame_dec_next(struct kt_frame_dec *d, unsigned *type, const uint8_t **payload,
		      size_t *len, struct kt_err *err)
{
	for (;;) {
		const uint8_t *h;
		size_t avail = d->len - d->consumed, plen;
		uint32_t crc;

		/* Find a magic; bytes before it are console noise. */
		while (avail > 0 && d->buf[d->consumed] != magic[0]) {
			d->consumed++;
			avail--;
		}
		if (avail < KT_FRAME_HDR) {
			/* A partial magic may still complete. */
			if (avail >= 4 && memcmp(d->buf + d->consumed, magic, 4) != 0) {
				resync(d);
				continue;
			}
			return 0;
		}
		h = d->buf + d->consumed;
		if (memcmp(h, magic, 4) != 0) {
			resync(d);
			continue;
		}
		plen = get32(h + 8);
		if (h[4] != KT_FRAME_VERSION) {
			d->rejected++;
			resync(d);
			return kt_errf(err, "frame: unsupported version %u (expected %u)", h[4],
				       KT_FRAME_VERSION);
		}
		if (plen > KT_FRAME_MAX_PAYLOAD) {
			d->rejected++;
			resync(d);
			return kt_errf(err, "frame: declared payload of %zu bytes exceeds %u", plen,
				       KT_FRAME_MAX_PAYLOAD);
		}
		if (avail < KT_FRAME_HDR + plen)
			return 0;
		crc = kt_crc32(0, h, 12);
		crc = kt_crc32(crc, h + KT_FRAME_HDR, plen);
		if (crc != get32(h + 12)) {
			d->rejected++;
			resync(d);
			return kt_errf(err, "frame: CRC mismatch on a type %u frame of %zu bytes", h[5],
				       plen);
		}
		if (h[5] == 0 || h[5] > KT_FRAME_TYPE_MAX) {
			d->rejected++;
			d->consumed += KT_FRAME_HDR + plen;
			return kt_errf(err, "frame: unknown type %u (%zu bytes) dropped", h[5], plen);
		}
		*type = h[5];
		*payload = h + KT_FRAME_HDR;
		*len = plen;
		d->consumed += KT_FRAME_HDR + plen;
		return 1;
	}
}

int kt_frame_dec_skip(struct kt_frame_dec *d)
{
	if (d->len == d->consumed)
		return 0;
	d->rejected++;
	resync(d);
	return 1;
}

size_t kt_frame_dec_pending(const struct kt_frame_dec *d)
{
	return d->len - d->consumed;
}

unsigned kt_frame_dec_rejected(const struct kt_frame_dec *d)
{
	return d->rejected;
}
