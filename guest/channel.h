/* The control channel: frames (common/frame.h) from the guest agent to the
 * host over the second serial port. The port is put in raw mode so that no
 * byte is translated, and every send completes (partial writes and EINTR
 * are retried) and drains before it returns, so a frame is on the wire
 * before the agent powers the machine off. Sends are serialised, so the
 * watchdog thread may send while the main thread is sending. */
#ifndef KTSTR_CHANNEL_H
#define KTSTR_CHANNEL_H
#include <protobuf-c/protobuf-c.h>
#include "err.h"

#define KT_CHANNEL_PATH "/dev/ttyS1"

struct kt_chan;

/* Open PATH for writing; a tty is switched to raw mode, anything else (a
 * file, a pipe) is written as is. */
int kt_chan_open(const char *path, struct kt_chan **out, struct kt_err *err);

/* Pack MSG and send it as one frame of TYPE (enum kt_frame_type). */
int kt_chan_send(struct kt_chan *c, unsigned type, const ProtobufCMessage *msg,
		 struct kt_err *err);

/* Like kt_chan_send, but waits at most TIMEOUT_MS for a send in progress
 * in another thread: for last words that must not hang. When that send
 * does not finish in time, nothing is written (a frame is never torn) and
 * the call fails. */
int kt_chan_send_urgent(struct kt_chan *c, unsigned type, const ProtobufCMessage *msg,
			unsigned timeout_ms, struct kt_err *err);

/* Close the port and free C (the agent never does: it powers off). */
void kt_chan_close(struct kt_chan *c);

#endif
