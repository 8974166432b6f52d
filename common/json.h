/* A small streaming JSON writer: objects and arrays nest, commas and string
 * escaping are handled here. Output goes to a FILE and is always valid
 * UTF-8: strings pass well-formed UTF-8 sequences through, escape control
 * characters (\uXXXX), and write each byte that is not part of one (guest
 * output, BPF bytes) as \ufffd, the replacement character. */
#ifndef KTSTR_JSON_H
#define KTSTR_JSON_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define KT_JSON_DEPTH 128 /* BTF trees of guest/btf_render.h nest ~3 levels a type */

struct kt_json {
	FILE *f;
	int depth;
	bool need_comma[KT_JSON_DEPTH];
	bool after_key;
	bool pretty;
};

void kt_json_init(struct kt_json *j, FILE *f, bool pretty);
void kt_json_obj_begin(struct kt_json *j);
void kt_json_obj_end(struct kt_json *j);
void kt_json_arr_begin(struct kt_json *j);
void kt_json_arr_end(struct kt_json *j);
void kt_json_key(struct kt_json *j, const char *key);
void kt_json_str(struct kt_json *j, const char *s); /* NULL -> null */
void kt_json_strn(struct kt_json *j, const char *s, size_t n);
void kt_json_u64(struct kt_json *j, uint64_t v);
void kt_json_i64(struct kt_json *j, int64_t v);
void kt_json_double(struct kt_json *j, double v); /* non-finite -> null */
void kt_json_bool(struct kt_json *j, bool v);
void kt_json_null(struct kt_json *j);
/* TEXT verbatim as one value: it must be valid JSON (the caller made or
 * re-printed it, never a copy of untrusted text). */
void kt_json_raw(struct kt_json *j, const char *text);
/* The length of the well-formed UTF-8 sequence at S (N >= 1 bytes left):
 * 1 for ASCII, 0 when there is none (RFC 3629: no overlongs, surrogates or
 * code points past U+10FFFF). */
size_t kt_utf8_len(const unsigned char *s, size_t n);
/* Finish: a newline after the top-level value. */
void kt_json_end(struct kt_json *j);

#endif
