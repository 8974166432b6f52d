/* Agent log lines: printed on the console (stderr, i.e. ttyS0 in the VM)
 * with the "ktstr-guest: " prefix, and once a control channel is set also
 * sent to the host as ktstr.Log frames, so they reach the host even when
 * the console is noisy or lost. */
#ifndef KTSTR_GLOG_H
#define KTSTR_GLOG_H
#include "channel.h"

#define KT_GLOG_PREFIX "ktstr-guest: "

/* Send later lines over C as well (NULL: console only). */
void kt_glog_set_chan(struct kt_chan *c);

void kt_glog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
