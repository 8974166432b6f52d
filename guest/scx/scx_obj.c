#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "scx_obj.h"

/* Global data maps are small (a few KiB here); refuse anything that does
 * not fit rather than trusting a size from the object. */
#define SCX_OBJ_SEC_MAX (1u << 20)

/* Offset, size and BTF type of variable NAME inside the DATASEC named SEC
 * (TYPE may be NULL). */
static int var_find_type(struct bpf_object *obj, const char *sec,
			 const char *name, size_t *off, size_t *size,
			 uint32_t *type, struct kt_err *e)
{
	const struct btf_var_secinfo *vs;
	const struct btf_type *t;
	struct btf *btf = bpf_object__btf(obj);
	int id, i;

	if (!btf)
		return kt_errf(e, "BPF object has no BTF");
	id = btf__find_by_name_kind(btf, sec, BTF_KIND_DATASEC);
	if (id < 0)
		return kt_errf(e, "BPF object has no section %s", sec);
	t = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(t);
	for (i = 0; i < btf_vlen(t); i++, vs++) {
		const struct btf_type *v = btf__type_by_id(btf, vs->type);

		if (!v || strcmp(btf__name_by_offset(btf, v->name_off), name))
			continue;
		*off = vs->offset;
		*size = vs->size;
		if (type)
			*type = v->type;
		return 0;
	}
	return kt_errf(e, "no variable %s in section %s", name, sec);
}

static int var_find(struct bpf_object *obj, const char *sec, const char *name,
		    size_t *off, size_t *size, struct kt_err *e)
{
	return var_find_type(obj, sec, name, off, size, NULL, e);
}

static int var_check(size_t off, size_t vsize, size_t want, size_t secsize,
		     const char *name, struct kt_err *e)
{
	if (vsize != want)
		return kt_errf(e, "variable %s has %zu bytes, caller expects %zu",
			       name, vsize, want);
	if (off > secsize || vsize > secsize - off)
		return kt_errf(e, "variable %s (offset %zu, %zu bytes) outside its section (%zu bytes)",
			       name, off, vsize, secsize);
	return 0;
}

static struct bpf_map *sec_map(struct bpf_object *obj, const char *sec,
			       struct kt_err *e)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, sec);

	if (!m)
		kt_errf(e, "BPF object has no map for section %s", sec);
	return m;
}

int scx_obj_var_set(struct bpf_object *obj, const char *sec, const char *name,
		    const void *val, size_t size, struct kt_err *e)
{
	struct bpf_map *m = sec_map(obj, sec, e);
	size_t off, vsize, secsize = 0;
	char *img;

	if (!m || var_find(obj, sec, name, &off, &vsize, e))
		return -1;
	img = bpf_map__initial_value(m, &secsize);
	if (!img)
		return kt_errf(e, "section %s has no initial image", sec);
	if (var_check(off, vsize, size, secsize, name, e))
		return -1;
	memcpy(img + off, val, size);
	return 0;
}

int scx_obj_var_read(struct bpf_object *obj, const char *sec, const char *name,
		     void *out, size_t size, struct kt_err *e)
{
	struct bpf_map *m = sec_map(obj, sec, e);
	size_t off, vsize, secsize;
	uint32_t key = 0;
	char *img;
	int rc;

	if (!m || var_find(obj, sec, name, &off, &vsize, e))
		return -1;
	secsize = bpf_map__value_size(m);
	if (secsize == 0 || secsize > SCX_OBJ_SEC_MAX)
		return kt_errf(e, "section %s: map value size %zu out of range",
			       sec, secsize);
	if (var_check(off, vsize, size, secsize, name, e))
		return -1;
	img = malloc(secsize);
	if (!img)
		return kt_errf(e, "section %s: out of memory", sec);
	rc = bpf_map__lookup_elem(m, &key, sizeof(key), img, secsize, 0);
	if (rc) {
		free(img);
		return kt_errf(e, "section %s: map lookup: %s", sec, strerror(-rc));
	}
	memcpy(out, img + off, size);
	free(img);
	return 0;
}

int scx_obj_var_u64(struct bpf_object *obj, const char *sec, const char *name,
		    uint64_t *out, struct kt_err *e)
{
	size_t off, vsize;
	union {
		uint8_t u8;
		uint16_t u16;
		uint32_t u32;
		uint64_t u64;
	} v;

	if (var_find(obj, sec, name, &off, &vsize, e))
		return -1;
	if (vsize != 1 && vsize != 2 && vsize != 4 && vsize != 8)
		return kt_errf(e, "variable %s has %zu bytes, not an integer", name, vsize);
	if (scx_obj_var_read(obj, sec, name, &v, vsize, e))
		return -1;
	*out = vsize == 1 ? v.u8 : vsize == 2 ? v.u16 : vsize == 4 ? v.u32 : v.u64;
	return 0;
}

int scx_obj_ops_set_u32(struct bpf_object *obj, const char *map,
			const char *field, uint32_t val, struct kt_err *e)
{
	struct btf *btf = bpf_object__btf(obj);
	const struct btf_member *mb;
	const struct btf_type *t;
	struct bpf_map *m;
	size_t size = 0, off, voff, vsize;
	uint32_t type;
	char *img;
	int i;

	m = bpf_object__find_map_by_name(obj, map);
	if (!m || !btf || bpf_map__type(m) != BPF_MAP_TYPE_STRUCT_OPS)
		return kt_errf(e, "BPF object has no struct_ops map %s", map);
	/* The map's value is the variable of the same name in the
	 * struct_ops section; its BTF type is the ops struct. */
	if (var_find_type(obj, ".struct_ops.link", map, &voff, &vsize, &type, NULL) &&
	    var_find_type(obj, ".struct_ops", map, &voff, &vsize, &type, NULL))
		return kt_errf(e, "struct_ops map %s has no variable in the BTF", map);
	t = btf__type_by_id(btf, btf__resolve_type(btf, type));
	img = bpf_map__initial_value(m, &size);
	if (!t || !btf_is_struct(t) || !img)
		return kt_errf(e, "map %s: no struct value to set %s in", map, field);
	mb = btf_members(t);
	for (i = 0; i < btf_vlen(t); i++, mb++) {
		if (strcmp(btf__name_by_offset(btf, mb->name_off), field))
			continue;
		if (btf_member_bitfield_size(t, i) ||
		    btf__resolve_size(btf, mb->type) != sizeof(val))
			return kt_errf(e, "map %s: field %s is not a 4-byte integer",
				       map, field);
		off = btf_member_bit_offset(t, i) / 8;
		if (off > size || size - off < sizeof(val))
			return kt_errf(e, "map %s: field %s outside the value", map, field);
		memcpy(img + off, &val, sizeof(val));
		return 0;
	}
	return kt_errf(e, "map %s: no field %s", map, field);
}
