#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "signature.h"

bool kt_status_valid(const char *s)
{
	static const char *const ok[] = { "pass", "fail", "error", "infra", "skip" };

	for (size_t i = 0; s && i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(s, ok[i]) == 0)
			return true;
	return false;
}

/* Append to BUF at *OFF; output that does not fit is cut, never overrun. */
__attribute__((format(printf, 4, 5)))
static void put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off + 1 >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n < len - *off ? (size_t)n : len - *off - 1;
}

bool kt_signature(const char *status, const char *scenario_kind, int64_t scx_kind,
		  const char *scx_reason, const char *failed_check, char *buf, size_t len)
{
	size_t off = 0;

	if (!len)
		return false;
	buf[0] = 0;
	if (!kt_status_valid(status) || !strcmp(status, "pass") || !strcmp(status, "skip"))
		return false;
	put(buf, len, &off, "%s", status);
	if (scenario_kind && *scenario_kind && strcmp(scenario_kind, "completed"))
		put(buf, len, &off, "/kind=%s", scenario_kind);
	if (scx_kind)
		put(buf, len, &off, "/scx=%" PRId64 ":%s", scx_kind, scx_reason ? scx_reason : "");
	else if (scx_reason && *scx_reason)
		put(buf, len, &off, "/scx=%s", scx_reason);
	if (failed_check && *failed_check)
		put(buf, len, &off, "/check=%s", failed_check);
	return true;
}
