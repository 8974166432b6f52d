/* Render raw BPF map bytes as a JSON typed tree, driven by BTF.
 *
 * A failure dump must show a scheduler's state as its author declared it,
 * not as a hexdump. Every node is an object with a "kind":
 *
 *   {"kind":"uint","bits":32,"value":1}            also "int"; bitfields too
 *   {"kind":"uint","bits":128,"value":"0x..."}      ints wider than 64 bits
 *   {"kind":"bool","value":true}
 *   {"kind":"char","value":65}                      a single char, as a number
 *   {"kind":"enum","bits":32,"value":"NAME","raw":2} unknown value: "value":2
 *   {"kind":"float","bits":64,"value":1.5}
 *   {"kind":"ptr","value":"0xffff8880..."}          also "func_ptr"
 *   {"kind":"string","len":16,"value":"abc"}        char arrays, up to the NUL;
 *                                                   other bytes < 0x20 or >= 0x7f
 *                                                   as \xNN, '\' as \\
 *   {"kind":"array","len":N,"elements":[TREE...],"truncated":K}
 *   {"kind":"struct","type_name":"foo","members":[{"name":"a","value":TREE},
 *        {"name":"b","bit_offset":3,"bitfield_size":5,"value":TREE}, ...]}
 *                                                   also "union"; anonymous
 *                                                   members have "name":""
 *
 * A DATASEC (.bss, .data, .rodata) is a "struct" whose type_name is the
 * section name and whose members are its variables. A typedef keeps its
 * name as "type_name" on the node of the type it resolves to.
 *
 * The BTF and the bytes are both untrusted: LEN must equal the type's size,
 * no member may lie outside its parent, type loops and missing ids are
 * errors. Nesting, elements per array and nodes in all are bounded. The
 * whole value is checked before anything is written, so on error J is
 * untouched. */
#ifndef KTSTR_BTF_RENDER_H
#define KTSTR_BTF_RENDER_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "json.h"

#define KT_BTF_RENDER_MAX_DEPTH 32   /* struct/union/array nesting */
#define KT_BTF_RENDER_MAX_ELEMS 256  /* elements shown per array */
#define KT_BTF_RENDER_MAX_NODES 8192 /* nodes per rendered value */

struct btf;

/* Write the tree of the LEN bytes at DATA, a value of type TYPE_ID in BTF,
 * as one JSON value into J. */
int kt_btf_render(struct kt_json *j, const struct btf *btf, uint32_t type_id, const void *data,
		  size_t len, struct kt_err *err);

/* Bytes with no type: one JSON string of lowercase hex, in memory order. */
void kt_btf_render_hex(struct kt_json *j, const void *data, size_t len);

#endif
