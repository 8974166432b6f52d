/* Reading JSON on the host: failure dumps and snapshots (the JSON of
 * guest/mapdump.h) for ktstr-query dump and tests, and payloads' metrics
 * (common/payload_check.h). A small bounded JSON parser, strict about
 * RFC 8259's grammar (one value, JSON numbers only, valid escapes, no NUL;
 * at most 120 levels and 2^20 values; a lone surrogate escape reads as
 * U+FFFD, raw bytes are kept as they come, duplicate keys too); plain
 * accessors for any
 * document; and an accessor that walks a dump's typed tree:
 *
 *   kt_dump_var(d, "stall", ...)                   a global in any data map
 *   kt_dump_var(d, "bss.nr_enqueued", ...)         section suffix + member
 *   kt_dump_var(d, "scx_ktst.bss.nr_enqueued", ...) map name + member
 *   kt_dump_var(d, "scx_ktstr.bss.nr_enqueued", ...) object.section: the
 *     map libbpf named from it (object name cut to 8 chars for .bss/.data/
 *     .rodata, 15 - len(section) for longer sections; old libbpf "%.8s%.7s")
 *   kt_dump_var(d, "my_map[3].field.sub", ...)     entry at index, members
 *
 * Errors name the part of the path that was not found, or the kind found
 * when a value is read as the wrong type. */
#ifndef KTSTR_DUMP_H
#define KTSTR_DUMP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "err.h"

#define KT_DUMP_MAX_BYTES (16u << 20)

struct kt_dump;  /* a parsed dump */
struct kt_dval;  /* one node of it */

int kt_dump_parse(const char *json, size_t len, struct kt_dump **out, struct kt_err *err);
void kt_dump_free(struct kt_dump *d);

/* The map called NAME (full name, its suffix after the last '.', or the
 * name libbpf cut OBJECT.SECTION to, as above). */
int kt_dump_map(const struct kt_dump *d, const char *name, const struct kt_dval **map,
		struct kt_err *err);
/* Entry I of MAP: its value tree. */
int kt_dump_at(const struct kt_dval *map, size_t i, const struct kt_dval **val,
	       struct kt_err *err);
/* Member NAME of struct/union value V. */
int kt_dump_get(const struct kt_dval *v, const char *name, const struct kt_dval **out,
		struct kt_err *err);
/* Walk a dotted PATH as above. */
int kt_dump_var(const struct kt_dump *d, const char *path, const struct kt_dval **out,
		struct kt_err *err);

/* The whole parsed value (for a dump, its top-level object). */
const struct kt_dval *kt_dump_root(const struct kt_dump *d);
/* Entry I's rendered key (a number for arrays, a tree for hash maps). */
int kt_dump_key(const struct kt_dval *map, size_t i, const struct kt_dval **key,
		struct kt_err *err);
/* Element I of an array value, a per-CPU value list or a map (its entries). */
int kt_dval_index(const struct kt_dval *v, size_t i, const struct kt_dval **out,
		  struct kt_err *err);

int kt_dval_u64(const struct kt_dval *v, uint64_t *out, struct kt_err *err);
int kt_dval_i64(const struct kt_dval *v, int64_t *out, struct kt_err *err);
/* A char array or string value; the pointer lives as long as the dump. */
int kt_dval_str(const struct kt_dval *v, const char **out, struct kt_err *err);
/* Plain JSON: member KEY (N bytes) of object V (the last of duplicates),
 * element I of array V; NULL when V is not an object / array or has no
 * such member / element. */
const struct kt_dval *kt_dval_key(const struct kt_dval *v, const char *key, size_t n);
const struct kt_dval *kt_dval_item(const struct kt_dval *v, size_t i);
/* Whether V is a JSON number; if so its value (integers beyond 2^53 lose
 * precision) goes to *OUT. */
bool kt_dval_number(const struct kt_dval *v, double *out);

/* Print V as JSON (compact) to F. */
void kt_dval_print(const struct kt_dval *v, FILE *f);

#endif
