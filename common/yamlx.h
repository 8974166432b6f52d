/* Strict reading of one user-written YAML document: the scenario and matrix
 * parsers share it so that both bound hostile input the same way and word
 * their errors the same way, "FILE:LINE: FIELD.PATH: what is wrong".
 *
 * kt_yx_open loads TEXT after a cheap event pass that bounds what makes
 * libyaml slow (nesting depth, anchors) and allows one document. The
 * context it returns owns the document and a copy of the file name; every
 * helper that can fail writes its message into the kt_err given to
 * kt_yx_open and returns -1. Numbers and booleans must be plain (unquoted)
 * scalars; a mapping's keys must be known and appear once. */
#ifndef KTSTR_YAMLX_H
#define KTSTR_YAMLX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>
#include "err.h"

/* Size of a field path buffer; a longer path ends in "..." (the schemas'
 * depth is fixed and user keys are cut to 47 bytes, so it never should). */
#define KT_YX_PATH_MAX 160

/* The most keys one kt_yx_fields call takes. */
#define KT_YX_MAX_FIELDS 16

/* What kind of file a document is, for the loader's own errors. */
struct kt_yx_kind {
	const char *what;   /* "scenario": "... a scenario file holds one" */
	const char *expect; /* "name and steps": "empty file (expected a mapping with ...)" */
	size_t max_bytes;   /* larger TEXT is refused before parsing */
};

struct kt_yx;

/* Load the single document of TEXT (LEN bytes, NULs allowed) named FILE in
 * messages. An empty or null document is an error. ERR also receives every
 * later error of the context. */
int kt_yx_open(const char *text, size_t len, const char *file, const struct kt_yx_kind *kind,
	       struct kt_yx **out, struct kt_err *err);
void kt_yx_close(struct kt_yx *c);

const char *kt_yx_file(const struct kt_yx *c);
yaml_node_t *kt_yx_root(struct kt_yx *c);
yaml_node_t *kt_yx_node(struct kt_yx *c, int id);
size_t kt_yx_seq_len(const yaml_node_t *n);
yaml_node_t *kt_yx_seq_item(struct kt_yx *c, const yaml_node_t *n, size_t i);

/* N's line, counted from 1. */
unsigned long kt_yx_line(const yaml_node_t *n);

/* A scalar's text (it may hold NULs: compare strlen with its length). */
const char *kt_yx_str(const yaml_node_t *n);
bool kt_yx_is_plain(const yaml_node_t *n);

/* A plain "", "~" or "null" (any case the YAML core schema allows). */
bool kt_yx_is_null(const yaml_node_t *n);

/* What N is, for "expected X, got Y": "a list", "'3'", "the quoted string
 * '3'", ...; printable and at most 47 bytes of the value. BUF: 64 bytes. */
const char *kt_yx_describe(const yaml_node_t *n, char *buf, size_t len);

/* Errors at N; each returns -1. PATH "" is the document's top. */
int kt_yx_err(struct kt_yx *c, const yaml_node_t *n, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* "PATH: expected WHAT, got <describe(N)>" */
int kt_yx_expected(struct kt_yx *c, const yaml_node_t *n, const char *path, const char *what);
/* "PATH.KEY: missing (required)" at PARENT, the mapping that lacks it. */
int kt_yx_missing(struct kt_yx *c, const yaml_node_t *parent, const char *path, const char *key);

/* BUF (KT_YX_PATH_MAX bytes) = PATH.KEY, or PATH[I]. */
void kt_yx_join(char *buf, const char *path, const char *key);
void kt_yx_join_index(char *buf, const char *path, size_t i);

/* Split mapping N into the values of KEYS (VALS[i] NULL when absent).
 * Keys must be scalars, among KEYS (NKEYS <= KT_YX_MAX_FIELDS; 0 for a
 * mapping that must be empty), and appear once. */
int kt_yx_fields(struct kt_yx *c, const yaml_node_t *n, const char *path,
		 const char *const keys[], size_t nkeys, yaml_node_t *vals[]);

/* A plain decimal integer in MIN..MAX ("-0" is 0). */
int kt_yx_uint(struct kt_yx *c, const yaml_node_t *n, const char *path, unsigned long min,
	       unsigned long max, unsigned long *out);

/* kt_yx_uint for 32-bit fields. */
int kt_yx_u32(struct kt_yx *c, const yaml_node_t *n, const char *path, uint32_t min, uint32_t max,
	      uint32_t *out);

/* true/True/TRUE or false/False/FALSE. */
int kt_yx_bool(struct kt_yx *c, const yaml_node_t *n, const char *path, bool *out);

/* The text of a plain scalar made only of the characters of a decimal
 * number (digits . e E + -), for the caller's strtod and range: parsers
 * differ in which ranges are open and how they word them. */
int kt_yx_numeral(struct kt_yx *c, const yaml_node_t *n, const char *path, const char **out);

#endif
