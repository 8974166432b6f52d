#include <math.h>
#include <inttypes.h>
#include <string.h>
#include "json.h"

void kt_json_init(struct kt_json *j, FILE *f, bool pretty)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->pretty = pretty;
}

static void indent(struct kt_json *j)
{
	if (!j->pretty)
		return;
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/* Separator before a value (or key) at the current depth. */
static void pre_value(struct kt_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth > 0) {
		if (j->need_comma[j->depth])
			fputc(',', j->f);
		indent(j);
	}
	j->need_comma[j->depth] = true;
}

static void open(struct kt_json *j, char c)
{
	pre_value(j);
	fputc(c, j->f);
	if (j->depth < KT_JSON_DEPTH - 1)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void close_(struct kt_json *j, char c)
{
	bool had = j->need_comma[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (had)
		indent(j);
	fputc(c, j->f);
}

void kt_json_raw(struct kt_json *j, const char *text)
{
	pre_value(j);
	fputs(text, j->f);
}

void kt_json_obj_begin(struct kt_json *j) { open(j, '{'); }
void kt_json_obj_end(struct kt_json *j) { close_(j, '}'); }
void kt_json_arr_begin(struct kt_json *j) { open(j, '['); }
void kt_json_arr_end(struct kt_json *j) { close_(j, ']'); }

size_t kt_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

void kt_json_strn(struct kt_json *j, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	pre_value(j);
	fputc('"', j->f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = u[i];
		size_t len;

		switch (c) {
		case '"': fputs("\\\"", j->f); break;
		case '\\': fputs("\\\\", j->f); break;
		case '\n': fputs("\\n", j->f); break;
		case '\r': fputs("\\r", j->f); break;
		case '\t': fputs("\\t", j->f); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				fprintf(j->f, "\\u%04x", c);
			} else if (c < 0x80) {
				fputc(c, j->f);
			} else if ((len = kt_utf8_len(u + i, n - i)) != 0) {
				fwrite(u + i, 1, len, j->f);
				i += len - 1;
			} else {
				/* not UTF-8 (guest output, BPF bytes): one
				 * replacement character per byte */
				fputs("\\ufffd", j->f);
			}
		}
	}
	fputc('"', j->f);
}

void kt_json_str(struct kt_json *j, const char *s)
{
	if (!s)
		kt_json_null(j);
	else
		kt_json_strn(j, s, strlen(s));
}

void kt_json_key(struct kt_json *j, const char *key)
{
	kt_json_str(j, key);
	fputs(j->pretty ? ": " : ":", j->f);
	j->after_key = true;
}

void kt_json_u64(struct kt_json *j, uint64_t v)
{
	pre_value(j);
	fprintf(j->f, "%" PRIu64, v);
}

void kt_json_i64(struct kt_json *j, int64_t v)
{
	pre_value(j);
	fprintf(j->f, "%" PRId64, v);
}

void kt_json_double(struct kt_json *j, double v)
{
	if (!isfinite(v)) {
		kt_json_null(j);
		return;
	}
	pre_value(j);
	fprintf(j->f, "%.17g", v);
}

void kt_json_bool(struct kt_json *j, bool v)
{
	pre_value(j);
	fputs(v ? "true" : "false", j->f);
}

void kt_json_null(struct kt_json *j)
{
	pre_value(j);
	fputs("null", j->f);
}

void kt_json_end(struct kt_json *j)
{
	fputc('\n', j->f);
}
