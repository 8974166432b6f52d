/* Control-channel frames (guest -> host over COM2).
 *
 *   0  magic "KTSF"
 *   4  u8  version (KT_FRAME_VERSION)
 *   5  u8  type (enum kt_frame_type)
 *   6  u16 reserved, 0
 *   8  u32 payload length, little endian, <= KT_FRAME_MAX_PAYLOAD
 *  12  u32 CRC-32 (IEEE) of bytes 0..11 and the payload, little endian
 *  16  payload: one protobuf message of the type's kind
 *
 * The decoder is a byte stream parser: it skips noise before a magic,
 * rejects (and reports) corrupted, oversized, unknown and truncated frames,
 * and resynchronises on the next magic. Nothing it is fed can crash it. */
#ifndef KTSTR_FRAME_H
#define KTSTR_FRAME_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define KT_FRAME_VERSION 1
#define KT_FRAME_HDR 16
#define KT_FRAME_MAX_PAYLOAD (4u << 20)

enum kt_frame_type {
	KT_FRAME_HELLO = 1,    /* ktstr.Hello */
	KT_FRAME_TOPOLOGY = 2, /* ktstr.GuestTopology */
	KT_FRAME_LOG = 3,      /* ktstr.Log */
	KT_FRAME_RESULT = 4,   /* ktstr.ScenarioResult */
	KT_FRAME_TYPE_MAX = 4,
};

uint32_t kt_crc32(uint32_t crc, const void *buf, size_t len);

/* Encode one frame into a malloc'd buffer (*out, *out_len). */
int kt_frame_encode(unsigned type, const void *payload, size_t len, uint8_t **out,
		    size_t *out_len, struct kt_err *err);

struct kt_frame_dec;

struct kt_frame_dec *kt_frame_dec_new(void);
void kt_frame_dec_free(struct kt_frame_dec *d);
/* Append received bytes. */
int kt_frame_dec_feed(struct kt_frame_dec *d, const void *buf, size_t len, struct kt_err *err);
/* Take the next complete frame. Returns 1 with type, payload and len set (the
 * payload stays valid until the next call), 0 when more bytes are needed, and
 * -1 when a frame was rejected: ERR says why; call again to continue. */
int kt_frame_dec_next(struct kt_frame_dec *d, unsigned *type, const uint8_t **payload,
		      size_t *len, struct kt_err *err);
/* At the end of the stream: give up on the incomplete frame at the front
 * (say a corrupted length that promised more bytes than ever came), count it
 * rejected, and resynchronise after its magic so frames behind it can still
 * be taken. Returns 1 if bytes were pending, else 0. */
int kt_frame_dec_skip(struct kt_frame_dec *d);
/* Bytes held that do not form a complete frame yet (for "truncated at EOF"). */
size_t kt_frame_dec_pending(const struct kt_frame_dec *d);
/* Number of frames rejected so far. */
unsigned kt_frame_dec_rejected(const struct kt_frame_dec *d);

#endif
