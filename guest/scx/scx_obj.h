/* Named access to a loaded-or-loading BPF object's global variables
 * (.rodata, .bss, .data) and to a struct_ops map's fields, found through
 * the object's BTF. This replaces a bpftool skeleton, whose generated code
 * does not compile against the libbpf 1.4 headers we build with. */
#ifndef SCX_OBJ_H
#define SCX_OBJ_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"

struct bpf_object;

/* Before load: set variable NAME of section SEC (".rodata", ".data",
 * ".bss") to the SIZE bytes at VAL; SIZE must be the variable's size. */
int scx_obj_var_set(struct bpf_object *obj, const char *sec, const char *name,
		    const void *val, size_t size, struct kt_err *e);

/* After load: copy the current value of variable NAME (exactly SIZE
 * bytes) out of the kernel's map for SEC into OUT. */
int scx_obj_var_read(struct bpf_object *obj, const char *sec, const char *name,
		     void *out, size_t size, struct kt_err *e);

/* After load: an unsigned integer variable (1, 2, 4 or 8 bytes). */
int scx_obj_var_u64(struct bpf_object *obj, const char *sec, const char *name,
		    uint64_t *out, struct kt_err *e);

/* Before load: set the 4-byte member FIELD of the struct_ops map MAP
 * (e.g. "ktstr_ops", "timeout_ms") in the value the loader will attach. */
int scx_obj_ops_set_u32(struct bpf_object *obj, const char *map,
			const char *field, uint32_t val, struct kt_err *e);

#endif
