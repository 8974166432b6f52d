#include <stdarg.h>
#include <stdio.h>
#include "frame.h"
#include "glog.h"
#include "ktstr.pb-c.h"

static struct kt_chan *chan;

void kt_glog_set_chan(struct kt_chan *c)
{
	chan = c;
}

void kt_glog(const char *fmt, ...)
{
	char text[1024];
	Ktstr__Log msg = KTSTR__LOG__INIT;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	fprintf(stderr, KT_GLOG_PREFIX "%s\n", text);
	if (chan) {
		msg.text = text;
		kt_chan_send(chan, KT_FRAME_LOG, &msg.base, NULL);
	}
}
