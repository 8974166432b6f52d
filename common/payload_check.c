#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "dump.h"
#include "payload_check.h"

/* Whether PART (N bytes) is a decimal index as written for element I:
 * digits, no leading zero. */
static bool index_part(const char *part, size_t n, size_t *i)
{
	size_t v = 0;

	if (!n || n > 18 || (n > 1 && part[0] == '0'))
		return false;
	for (size_t k = 0; k < n; k++) {
		if (!isdigit((unsigned char)part[k]))
			return false;
		v = v * 10 + (size_t)(part[k] - '0');
	}
	*i = v;
	return true;
}

/* The value at dotted PATH under V ("" = V itself), NULL when none. */
static const struct kt_dval *at_path(const struct kt_dval *v, const char *path)
{
	if (!*path)
		return v;
	for (const char *p = path; v; p += strcspn(p, ".") + 1) {
		size_t n = strcspn(p, "."), i;
		const struct kt_dval *next = kt_dval_key(v, p, n);

		if (!next && index_part(p, n, &i))
			next = kt_dval_item(v, i);
		v = next;
		if (!p[n])
			return v;
	}
	return NULL;
}

static void lookup(const struct kt_dump *doc, const char *path, bool *found, bool *is_num,
		   double *num)
{
	const struct kt_dval *v = at_path(kt_dump_root(doc), path);

	*num = 0;
	*found = v != NULL;
	*is_num = v && kt_dval_number(v, num);
}

static int parse(const char *text, size_t len, struct kt_dump **doc, struct kt_err *err)
{
	if (!kt_dump_parse(text, len, doc, err))
		return 0;
	kt_err_prefix(err, "payload output is not JSON");
	return -1;
}

int kt_json_lookup(const char *text, size_t len, const char *path, bool *found, bool *is_num,
		   double *num, struct kt_err *err)
{
	struct kt_dump *doc;

	*found = *is_num = false;
	*num = 0;
	if (parse(text, len, &doc, err))
		return -1;
	lookup(doc, path, found, is_num, num);
	kt_dump_free(doc);
	return 0;
}

static enum kt_payload_verdict say(enum kt_payload_verdict v, char *msg, size_t len,
				   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum kt_payload_verdict say(enum kt_payload_verdict v, char *msg, size_t len,
				   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return v;
}

static enum kt_payload_verdict metrics(const Ktstr__PayloadSpec *spec,
				       const Ktstr__PayloadResult *res, char *msg, size_t len)
{
	const char *out = res->output ? res->output : "";
	enum kt_payload_verdict v = KT_PAYLOAD_PASS;
	struct kt_dump *doc;
	struct kt_err e;

	if (!spec->n_metrics)
		return say(KT_PAYLOAD_PASS, msg, len, "payload '%s': exit %d", spec->name,
			   res->exit_code);
	if (parse(out, strlen(out), &doc, &e))
		return say(KT_PAYLOAD_ERROR, msg, len, "payload '%s': metric %s: %s", spec->name,
			   spec->metrics[0]->path, e.msg);
	for (size_t i = 0; i < spec->n_metrics && v == KT_PAYLOAD_PASS; i++) {
		const Ktstr__MetricCheck *m = spec->metrics[i];
		bool bounded = m->has_min || m->has_max, found, is_num;
		double x;

		lookup(doc, m->path, &found, &is_num, &x);
		if (!found)
			v = say(bounded ? KT_PAYLOAD_ERROR : KT_PAYLOAD_FAIL, msg, len,
				"payload '%s': metric %s is not in its output", spec->name, m->path);
		else if (bounded && !is_num)
			v = say(KT_PAYLOAD_ERROR, msg, len, "payload '%s': metric %s is not a number",
				spec->name, m->path);
		else if (bounded && ((m->has_min && x < m->min) || (m->has_max && x > m->max)))
			v = say(KT_PAYLOAD_FAIL, msg, len, "payload '%s': metric %s = %g is outside "
				"[%g, %g]", spec->name, m->path, x, m->has_min ? m->min : -INFINITY,
				m->has_max ? m->max : INFINITY);
	}
	kt_dump_free(doc);
	if (v != KT_PAYLOAD_PASS)
		return v;
	return say(KT_PAYLOAD_PASS, msg, len, "payload '%s': exit %d, %zu metrics in range",
		   spec->name, res->exit_code, spec->n_metrics);
}

/* A wait_payload's timeout: the guest scaled it by the measured slowdown
 * (common/calib.h); clamped to end before its watchdog, it is no verdict
 * on the scheduler. */
static enum kt_payload_verdict timed_out(const Ktstr__PayloadSpec *spec,
					 const Ktstr__PayloadResult *res, char *msg, size_t len)
{
	unsigned long long used = res->scaled_timeout_ms ? res->scaled_timeout_ms : res->run_ms;

	if (res->clamped)
		return say(KT_PAYLOAD_ERROR, msg, len, "payload '%s' timed out after %llu ms, its "
			   "%u ms x %.1f measured slowdown cut short to end before the guest "
			   "watchdog: the run leaves no room to judge it", spec->name, used,
			   res->timeout_ms, res->slowdown);
	return say(KT_PAYLOAD_FAIL, msg, len, "payload '%s' timed out after %llu ms = %u ms x "
		   "%.1f measured slowdown and was killed", spec->name, used, res->timeout_ms,
		   res->slowdown);
}

enum kt_payload_verdict kt_payload_check(const Ktstr__PayloadSpec *spec,
					 const Ktstr__PayloadResult *res, char *msg, size_t len)
{
	if (!res)
		return say(KT_PAYLOAD_ERROR, msg, len, "payload '%s': no result reported",
			   spec->name);
	if (res->timed_out)
		return timed_out(spec, res, msg, len);
	if (res->signal == SIGKILL && res->killed_by_op)
		return spec->n_metrics ? metrics(spec, res, msg, len) :
		       say(KT_PAYLOAD_PASS, msg, len, "payload '%s': killed by kill_payload",
			   spec->name);
	if (res->signal == SIGKILL)
		return say(KT_PAYLOAD_FAIL, msg, len, "payload '%s' was still running at the end of "
			   "the scenario and was killed", spec->name);
	if (res->signal)
		return say(KT_PAYLOAD_FAIL, msg, len, "payload '%s' died of signal %d", spec->name,
			   res->signal);
	if (res->exit_code != spec->exit_code)
		return say(KT_PAYLOAD_FAIL, msg, len, "payload '%s' exited with %d, expected %d",
			   spec->name, res->exit_code, spec->exit_code);
	return metrics(spec, res, msg, len);
}
