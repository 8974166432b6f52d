#include <errno.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "payload_check.h"

/* A cursor over the document, and the path being looked for. */
struct jr {
	const char *s, *end, *start;
	struct kt_err *err;
};

static void ws(struct jr *j)
{
	while (j->s < j->end && (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r'))
		j->s++;
}

static int bad(struct jr *j, const char *what)
{
	return kt_errf(j->err, "payload output is not JSON: %s at byte %zu", what,
		       (size_t)(j->s - j->start));
}

/* A string at j->s; with OUT, its raw bytes (escapes kept) and length. */
static int str(struct jr *j, const char **out, size_t *n)
{
	const char *b;

	if (j->s >= j->end || *j->s != '"')
		return bad(j, "expected a string");
	b = ++j->s;
	while (j->s < j->end && *j->s != '"') {
		if ((unsigned char)*j->s < 0x20)
			return bad(j, "control character in a string");
		if (*j->s == '\\' && ++j->s >= j->end)
			break;
		j->s++;
	}
	if (j->s >= j->end)
		return bad(j, "unterminated string");
	if (out) {
		*out = b;
		*n = (size_t)(j->s - b);
	}
	j->s++;
	return 0;
}

static int number(struct jr *j, double *out)
{
	char buf[64], *e;
	size_t n = 0;

	while (j->s + n < j->end && n < sizeof(buf) - 1 && strchr("+-0123456789.eE", j->s[n]))
		n++;
	memcpy(buf, j->s, n);
	buf[n] = 0;
	errno = 0;
	*out = strtod(buf, &e);
	if (!n || *e || (buf[0] == '0' && isdigit((unsigned char)buf[1])))
		return bad(j, "bad number");
	j->s += n;
	return 0;
}

/* One value; when PATH is not NULL it is what is left of the path at this
 * value ("" = this one), and *HIT / *IS_NUM / *NUM report it. */
static int value(struct jr *j, int depth, const char *path, bool *hit, bool *is_num, double *num);

/* Whether the key K[N] (escapes kept) is the next part of PATH; *REST is
 * the path after it. */
static bool part(const char *path, const char *k, size_t n, const char **rest)
{
	size_t plen = strcspn(path, ".");

	if (plen != n || memcmp(path, k, n))
		return false;
	*rest = path[plen] ? path + plen + 1 : "";
	return true;
}

static int object(struct jr *j, int depth, const char *path, bool *hit, bool *is_num,
		  double *num)
{
	j->s++;
	ws(j);
	if (j->s < j->end && *j->s == '}') {
		j->s++;
		return 0;
	}
	for (;;) {
		const char *k, *rest = NULL;
		size_t n;

		ws(j);
		if (str(j, &k, &n))
			return -1;
		ws(j);
		if (j->s >= j->end || *j->s != ':')
			return bad(j, "expected ':'");
		j->s++;
		if (value(j, depth + 1, path && part(path, k, n, &rest) ? rest : NULL, hit, is_num,
			  num))
			return -1;
		ws(j);
		if (j->s < j->end && *j->s == ',') {
			j->s++;
			continue;
		}
		if (j->s < j->end && *j->s == '}') {
			j->s++;
			return 0;
		}
		return bad(j, "expected ',' or '}'");
	}
}

static int array(struct jr *j, int depth, const char *path, bool *hit, bool *is_num, double *num)
{
	size_t i = 0;

	j->s++;
	ws(j);
	if (j->s < j->end && *j->s == ']') {
		j->s++;
		return 0;
	}
	for (;; i++) {
		char idx[24];
		const char *rest = NULL;

		snprintf(idx, sizeof(idx), "%zu", i);
		if (value(j, depth + 1, path && part(path, idx, strlen(idx), &rest) ? rest : NULL,
			  hit, is_num, num))
			return -1;
		ws(j);
		if (j->s < j->end && *j->s == ',') {
			j->s++;
			continue;
		}
		if (j->s < j->end && *j->s == ']') {
			j->s++;
			return 0;
		}
		return bad(j, "expected ',' or ']'");
	}
}

static int literal(struct jr *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->s) < n || memcmp(j->s, word, n))
		return bad(j, "unexpected character");
	j->s += n;
	return 0;
}

static int value(struct jr *j, int depth, const char *path, bool *hit, bool *is_num, double *num)
{
	bool here = path && !*path;
	double d = 0;
	int rc;

	if (depth > KT_PAYLOAD_JSON_DEPTH)
		return bad(j, "nested too deep");
	ws(j);
	if (j->s >= j->end)
		return bad(j, "unexpected end");
	if (here) {
		*hit = true;
		*is_num = false;
		path = NULL;
	}
	switch (*j->s) {
	case '{':
		return object(j, depth, path, hit, is_num, num);
	case '[':
		return array(j, depth, path, hit, is_num, num);
	case '"':
		return str(j, NULL, NULL);
	case 't':
		return literal(j, "true");
	case 'f':
		return literal(j, "false");
	case 'n':
		return literal(j, "null");
	default:
		rc = number(j, &d);
		if (!rc && here) {
			*is_num = true;
			*num = d;
		}
		return rc;
	}
}

int kt_json_lookup(const char *text, size_t len, const char *path, bool *found, bool *is_num,
		   double *num, struct kt_err *err)
{
	struct jr j = { text, text + len, text, err };

	*found = *is_num = false;
	*num = 0;
	if (value(&j, 0, path, found, is_num, num))
		return -1;
	ws(&j);
	if (j.s != j.end)
		return bad(&j, "more than one value");
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

	for (size_t i = 0; i < spec->n_metrics; i++) {
		const Ktstr__MetricCheck *m = spec->metrics[i];
		bool bounded = m->has_min || m->has_max, found, is_num;
		struct kt_err e;
		double v;

		if (kt_json_lookup(out, strlen(out), m->path, &found, &is_num, &v, &e))
			return say(KT_PAYLOAD_ERROR, msg, len, "payload '%s': metric %s: %s",
				   spec->name, m->path, e.msg);
		if (!found)
			return say(bounded ? KT_PAYLOAD_ERROR : KT_PAYLOAD_FAIL, msg, len,
				   "payload '%s': metric %s is not in its output", spec->name,
				   m->path);
		if (!bounded)
			continue;
		if (!is_num)
			return say(KT_PAYLOAD_ERROR, msg, len, "payload '%s': metric %s is not a "
				   "number", spec->name, m->path);
		if ((m->has_min && v < m->min) || (m->has_max && v > m->max))
			return say(KT_PAYLOAD_FAIL, msg, len, "payload '%s': metric %s = %g is "
				   "outside [%g, %g]", spec->name, m->path, v,
				   m->has_min ? m->min : -INFINITY, m->has_max ? m->max : INFINITY);
	}
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
