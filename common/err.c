#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "err.h"

int kt_errf(struct kt_err *e, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int kt_err_prefix(struct kt_err *e, const char *fmt, ...)
{
	char prefix[KT_ERR_MAX], old[KT_ERR_MAX];
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* Truncation is acceptable: the message stays NUL-terminated. */
	if (snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, old) < 0)
		e->msg[0] = 0;
	return -1;
}
