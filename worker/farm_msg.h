/* The farm's wire: one ktstr.FarmMsg (proto/farm.proto) per ZeroMQ
 * message, between workers/clients (DEALER) and the coordinator (ROUTER).
 *
 *   DEALER side: exactly 1 frame:  [FarmMsg]
 *   ROUTER side: exactly 2 frames: [peer identity][FarmMsg]
 * No empty delimiter frame: every peer is a DEALER (a REQ socket would add
 * one; it is refused as a wrong frame count).
 *
 * Every received message is untrusted: it is read whole (no frame is ever
 * left behind, so one bad message cannot shift the next), its frame count
 * and sizes are checked, then the version, the protobuf encoding (with its
 * required fields) and the body. A bad message is reported to the caller
 * as a dropped message with a reason, never as a fatal error. */
#ifndef KTSTR_FARM_MSG_H
#define KTSTR_FARM_MSG_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "farm.pb-c.h"

#define KT_FARM_VERSION 1
#define KT_FARM_MAX_MSG (8u << 20)   /* one packed FarmMsg, bytes */
#define KT_FARM_CHUNK (1u << 20)     /* ArtifactChunk data, bytes */
#define KT_FARM_WORKERS_EP "tcp://127.0.0.1:7100"
#define KT_FARM_CLIENTS_EP "tcp://127.0.0.1:7101"
#define KT_FARM_HEARTBEAT_MS 1000
#define KT_FARM_LOST_BEATS 3         /* missed heartbeats that mean "lost" */
#define KT_FARM_MAX_IDENT 255        /* ZeroMQ's limit on a routing id */

/* Who sent a message to a ROUTER socket: pass it back to kt_farm_send to
 * answer. len is 0 on a DEALER socket. */
struct kt_farm_peer {
	uint8_t id[KT_FARM_MAX_IDENT];
	size_t len;
};

/* A socket of TYPE (ZMQ_ROUTER or ZMQ_DEALER) with the farm's options:
 * ZMQ_MAXMSGSIZE = KT_FARM_MAX_MSG, so an oversized frame drops the TCP
 * peer in libzmq before it is buffered (inproc is not covered; the size
 * check in kt_farm_recv is); a 2 s linger, so queued messages still leave
 * at close but a dead peer cannot hang shutdown. DEALER: ZMQ_IMMEDIATE, so
 * nothing queues while the coordinator is away (a send then fails with
 * EAGAIN and the caller retries later, with fresh state). ROUTER:
 * ZMQ_ROUTER_MANDATORY (a send to an unknown peer fails instead of
 * vanishing) and ZMQ_ROUTER_HANDOVER (a reconnecting worker with the same
 * routing id takes its identity over). NULL on error. */
void *kt_farm_socket(void *ctx, int type, struct kt_err *err);

/* Pack M (its version set to KT_FARM_VERSION) and send it without
 * blocking. IDENT/IDENT_LEN address the peer on a ROUTER socket; pass
 * NULL/0 on a DEALER. Fails (nothing sent) when M misses a required field,
 * packs to more than KT_FARM_MAX_MSG, or the socket cannot take it now
 * (EAGAIN: no peer, queue full; EHOSTUNREACH: unknown peer). */
/* The same in two steps, for a sender that must hold a message back (the
 * coordinator sends only after its transaction commits): kt_farm_pack()
 * checks and packs M into a malloc'd BUF; kt_farm_send_packed() sends it. */
int kt_farm_pack(const Ktstr__FarmMsg *m, uint8_t **buf, size_t *len, struct kt_err *err);
int kt_farm_send_packed(void *sock, const void *ident, size_t ident_len, const uint8_t *buf,
			size_t len, struct kt_err *err);

int kt_farm_send(void *sock, const void *ident, size_t ident_len, const Ktstr__FarmMsg *m,
		 struct kt_err *err);

/* Receive one message. FLAGS is 0 (wait) or ZMQ_DONTWAIT. Returns 1 with
 * *OUT set (free it with kt_farm_msg_free) and PEER filled; 0 when nothing
 * is waiting (ZMQ_DONTWAIT) or the wait was interrupted (EINTR); -1 when a
 * message arrived and was dropped, ERR saying why (wrong frame count,
 * empty or oversized frame, wrong version, does not unpack, no body) and
 * PEER naming the sender when known. The next message is unaffected. */
int kt_farm_recv(void *sock, int flags, struct kt_farm_peer *peer, Ktstr__FarmMsg **out,
		 struct kt_err *err);

void kt_farm_msg_free(Ktstr__FarmMsg *m);

/* "hello", "assign", ... for logs; "none" for an unset body. */
const char *kt_farm_body_name(Ktstr__FarmMsg__BodyCase body);

/* PEER's identity as printable text (hex when it is not), for logs. */
void kt_farm_peer_name(const struct kt_farm_peer *peer, char *buf, size_t len);

#endif
