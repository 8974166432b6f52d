/* BTF-driven rendering of map values. Two passes over the same walk: the
 * first (c->j == NULL) validates everything and counts nodes, the second
 * writes; so a malformed value never leaves half a tree in the output. */
#include <bpf/btf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include "btf_render.h"

#define MAX_HOPS 32		/* typedef/qualifier chain length */
#define MAX_STRING 1024		/* char array bytes shown */

typedef unsigned __int128 u128;

struct rctx {
	const struct btf *btf;
	struct kt_json *j; /* NULL: checking pass */
	size_t nodes;
	struct kt_err *err;
};

static const char *name_of(const struct btf *btf, const struct btf_type *t)
{
	const char *s = btf__name_by_offset(btf, t->name_off);

	return s ? s : "";
}

static const char *kind_str(const struct btf_type *t)
{
	static const char *const names[] = {
		[BTF_KIND_UNKN] = "void", [BTF_KIND_INT] = "int", [BTF_KIND_PTR] = "ptr",
		[BTF_KIND_ARRAY] = "array", [BTF_KIND_STRUCT] = "struct",
		[BTF_KIND_UNION] = "union", [BTF_KIND_ENUM] = "enum", [BTF_KIND_FWD] = "fwd",
		[BTF_KIND_TYPEDEF] = "typedef", [BTF_KIND_VOLATILE] = "volatile",
		[BTF_KIND_CONST] = "const", [BTF_KIND_RESTRICT] = "restrict",
		[BTF_KIND_FUNC] = "func", [BTF_KIND_FUNC_PROTO] = "func_proto",
		[BTF_KIND_VAR] = "var", [BTF_KIND_DATASEC] = "datasec", [BTF_KIND_FLOAT] = "float",
		[BTF_KIND_DECL_TAG] = "decl_tag", [BTF_KIND_TYPE_TAG] = "type_tag",
		[BTF_KIND_ENUM64] = "enum64",
	};
	unsigned k = btf_kind(t);

	return k < sizeof(names) / sizeof(names[0]) && names[k] ? names[k] : "unknown";
}

/* Follow typedefs, qualifiers and vars to a concrete type; *TD (if not
 * NULL) gets the first typedef name met. */
static int resolve(struct rctx *c, uint32_t id, uint32_t *out_id, const struct btf_type **out,
		   const char **td)
{
	uint32_t start = id;

	for (int hop = 0; hop <= MAX_HOPS; hop++) {
		const struct btf_type *t = btf__type_by_id(c->btf, id);

		if (!t)
			return kt_errf(c->err, "BTF type id %u does not exist", id);
		switch (btf_kind(t)) {
		case BTF_KIND_TYPEDEF:
			if (td && !*td)
				*td = name_of(c->btf, t);
			/* fallthrough */
		case BTF_KIND_CONST:
		case BTF_KIND_VOLATILE:
		case BTF_KIND_RESTRICT:
		case BTF_KIND_TYPE_TAG:
		case BTF_KIND_VAR:
			id = t->type;
			continue;
		default:
			*out_id = id;
			*out = t;
			return 0;
		}
	}
	return kt_errf(c->err, "BTF type id %u: more than %d typedef/qualifier hops (a loop)",
		       start, MAX_HOPS);
}

static size_t ptr_size(const struct btf *btf)
{
	size_t n = btf__pointer_size(btf);

	return n == 4 || n == 8 ? n : 8;
}

/* The byte size of type ID; arrays nest at most MAX_DEPTH deep. */
static int size_of(struct rctx *c, uint32_t id, int depth, size_t *out)
{
	const struct btf_type *t;
	const struct btf_array *a;
	size_t esz;

	if (depth > KT_BTF_RENDER_MAX_DEPTH)
		return kt_errf(c->err, "BTF type id %u: nested deeper than %d", id,
			       KT_BTF_RENDER_MAX_DEPTH);
	if (resolve(c, id, &id, &t, NULL))
		return -1;
	switch (btf_kind(t)) {
	case BTF_KIND_INT:
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
	case BTF_KIND_DATASEC:
	case BTF_KIND_FLOAT:
		*out = t->size;
		return 0;
	case BTF_KIND_PTR:
		*out = ptr_size(c->btf);
		return 0;
	case BTF_KIND_ARRAY:
		a = btf_array(t);
		if (size_of(c, a->type, depth + 1, &esz))
			return -1;
		if (esz && a->nelems > SIZE_MAX / esz)
			return kt_errf(c->err, "BTF array id %u: size overflows", id);
		*out = esz * a->nelems;
		return 0;
	default:
		return kt_errf(c->err, "BTF type id %u (%s) has no size", id, kind_str(t));
	}
}

/* NBITS bits at bit BIT_OFF of P, in the host's bitfield layout. */
static u128 extract(const uint8_t *p, uint32_t bit_off, uint32_t nbits)
{
	size_t nbytes = (bit_off % 8 + nbits + 7) / 8;
	u128 v = 0;

	p += bit_off / 8;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (size_t i = nbytes; i-- > 0;)
		v = v << 8 | p[i];
	v >>= bit_off % 8;
#else
	for (size_t i = 0; i < nbytes; i++)
		v = v << 8 | p[i];
	v >>= nbytes * 8 - bit_off % 8 - nbits;
#endif
	if (nbits < 128)
		v &= ((u128)1 << nbits) - 1;
	return v;
}

static int64_t sign_extend(u128 v, uint32_t nbits)
{
	uint64_t u = (uint64_t)v;

	if (nbits >= 64)
		return (int64_t)u;
	if (u & (1ull << (nbits - 1)))
		u |= ~0ull << nbits;
	return (int64_t)u;
}

static void hex128(char *buf, size_t n, u128 v)
{
	uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;

	if (hi)
		snprintf(buf, n, "0x%" PRIx64 "%016" PRIx64, hi, lo);
	else
		snprintf(buf, n, "0x%" PRIx64, lo);
}

static void begin(struct rctx *c, const char *kind, const char *type_name)
{
	kt_json_obj_begin(c->j);
	kt_json_key(c->j, "kind");
	kt_json_str(c->j, kind);
	if (type_name && *type_name) {
		kt_json_key(c->j, "type_name");
		kt_json_str(c->j, type_name);
	}
}

static bool is_char(const struct btf *btf, const struct btf_type *t)
{
	const char *n = name_of(btf, t);

	return btf_is_int(t) && t->size == 1 &&
	       ((btf_int_encoding(t) & BTF_INT_CHAR) || !strcmp(n, "char") ||
		!strcmp(n, "signed char") || !strcmp(n, "unsigned char"));
}

/* An integer of type T (already extracted: NBITS wide). */
static void emit_int(struct rctx *c, const struct btf_type *t, const char *td, u128 v,
		     uint32_t nbits)
{
	bool sign = btf_int_encoding(t) & BTF_INT_SIGNED;
	char buf[40];

	if (!c->j)
		return;
	if (btf_int_encoding(t) & BTF_INT_BOOL) {
		begin(c, "bool", td);
		kt_json_key(c->j, "value");
		kt_json_bool(c->j, v != 0);
	} else if (!td && is_char(c->btf, t) && nbits == 8) {
		begin(c, "char", td);
		kt_json_key(c->j, "value");
		if (sign)
			kt_json_i64(c->j, sign_extend(v, 8));
		else
			kt_json_u64(c->j, (uint64_t)v);
	} else {
		begin(c, sign ? "int" : "uint", td);
		kt_json_key(c->j, "bits");
		kt_json_u64(c->j, nbits);
		kt_json_key(c->j, "value");
		if (nbits > 64) {
			hex128(buf, sizeof(buf), v);
			kt_json_str(c->j, buf);
		} else if (sign) {
			kt_json_i64(c->j, sign_extend(v, nbits));
		} else {
			kt_json_u64(c->j, (uint64_t)v);
		}
	}
	kt_json_obj_end(c->j);
}

/* An enum of type T holding V (NBITS wide). */
static void emit_enum(struct rctx *c, const struct btf_type *t, const char *td, u128 v,
		      uint32_t nbits)
{
	bool sign = btf_kflag(t);
	int64_t sv = sign_extend(v, nbits);
	uint64_t uv = (uint64_t)v, mask = nbits >= 64 ? ~0ull : (1ull << nbits) - 1;
	const char *found = NULL;
	uint16_t n = btf_vlen(t);

	if (!c->j)
		return;
	/* Compare in the enum's own domain: a signed value read from fewer
	 * than 64 bits is sign-extended; an unsigned one (or one from BTF
	 * that does not say) is compared in its low NBITS. */
	for (uint16_t i = 0; i < n && !found; i++) {
		bool eq;

		if (btf_is_enum(t)) {
			const struct btf_enum *e = btf_enum(t) + i;

			eq = sign ? (int64_t)e->val == sv
				  : ((uint64_t)(uint32_t)e->val & mask) == (uv & mask);
			if (eq)
				found = btf__name_by_offset(c->btf, e->name_off);
		} else {
			const struct btf_enum64 *e = btf_enum64(t) + i;

			eq = sign ? (int64_t)btf_enum64_value(e) == sv
				  : (btf_enum64_value(e) & mask) == (uv & mask);
			if (eq)
				found = btf__name_by_offset(c->btf, e->name_off);
		}
	}
	begin(c, "enum", td ? td : name_of(c->btf, t));
	kt_json_key(c->j, "bits");
	kt_json_u64(c->j, nbits);
	kt_json_key(c->j, "value");
	if (found)
		kt_json_str(c->j, found);
	else if (sign)
		kt_json_i64(c->j, sv);
	else
		kt_json_u64(c->j, uv);
	kt_json_key(c->j, "raw");
	if (sign)
		kt_json_i64(c->j, sv);
	else
		kt_json_u64(c->j, uv);
	kt_json_obj_end(c->j);
}

static int node(struct rctx *c)
{
	if (++c->nodes > KT_BTF_RENDER_MAX_NODES)
		return kt_errf(c->err, "value has more than %d nodes", KT_BTF_RENDER_MAX_NODES);
	return 0;
}

/* A bitfield: NBITS at bit BIT_OFF of P (LEN bytes) of int or enum ID. */
static int render_bits(struct rctx *c, uint32_t id, const uint8_t *p, size_t len,
		       uint32_t bit_off, uint32_t nbits)
{
	const struct btf_type *t;
	const char *td = NULL;

	if (node(c) || resolve(c, id, &id, &t, &td))
		return -1;
	if (!btf_is_int(t) && !btf_is_any_enum(t))
		return kt_errf(c->err, "bitfield of BTF type id %u (%s): not an int or enum", id,
			       kind_str(t));
	if (nbits == 0 || nbits > 64 || ((size_t)bit_off + nbits + 7) / 8 > len)
		return kt_errf(c->err, "bitfield of %u bits at bit %u does not fit %zu bytes",
			       nbits, bit_off, len);
	if (btf_is_int(t))
		emit_int(c, t, td, extract(p, bit_off, nbits), nbits);
	else
		emit_enum(c, t, td, extract(p, bit_off, nbits), nbits);
	return 0;
}

static int render(struct rctx *c, uint32_t id, const uint8_t *p, size_t len, int depth);

static int render_int(struct rctx *c, uint32_t id, const struct btf_type *t, const char *td,
		      const uint8_t *p)
{
	uint32_t off = btf_int_offset(t), bits = btf_int_bits(t);

	if (t->size == 0 || t->size > 16 || bits == 0 || off + bits > t->size * 8u)
		return kt_errf(c->err, "BTF int id %u: bad encoding (size %u, offset %u, bits %u)",
			       id, t->size, off, bits);
	if (off % 8 + bits > 128)
		return kt_errf(c->err, "BTF int id %u: %u bits at offset %u", id, bits, off);
	emit_int(c, t, td, extract(p, off, bits), bits);
	return 0;
}

static int render_float(struct rctx *c, const struct btf_type *t, const char *td,
			const uint8_t *p)
{
	char buf[40];
	u128 raw = 0;

	if (!c->j)
		return 0;
	begin(c, "float", td);
	kt_json_key(c->j, "bits");
	kt_json_u64(c->j, t->size * 8u);
	kt_json_key(c->j, "value");
	if (t->size == 4) {
		float f;

		memcpy(&f, p, 4);
		kt_json_double(c->j, f);
	} else if (t->size == 8) {
		double d;

		memcpy(&d, p, 8);
		kt_json_double(c->j, d);
	} else {
		/* long double and friends: the raw bits */
		memcpy(&raw, p, t->size < 16 ? t->size : 16);
		hex128(buf, sizeof(buf), raw);
		kt_json_str(c->j, buf);
	}
	kt_json_obj_end(c->j);
	return 0;
}

static int render_ptr(struct rctx *c, const struct btf_type *t, const char *td, const uint8_t *p)
{
	const struct btf_type *target;
	uint32_t tid;
	uint64_t v = 0;
	char buf[24];

	if (resolve(c, t->type, &tid, &target, NULL))
		return -1;
	if (!c->j)
		return 0;
	if (ptr_size(c->btf) == 4) {
		uint32_t v32;

		memcpy(&v32, p, 4);
		v = v32;
	} else {
		memcpy(&v, p, 8);
	}
	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	begin(c, btf_is_func_proto(target) ? "func_ptr" : "ptr", td);
	kt_json_key(c->j, "value");
	kt_json_str(c->j, buf);
	kt_json_obj_end(c->j);
	return 0;
}

/* A char array: the bytes up to the NUL, C-escaped where not printable. */
static void emit_string(struct rctx *c, const char *td, const uint8_t *p, size_t n)
{
	char buf[MAX_STRING * 4 + 1];
	size_t len = 0, o = 0;

	while (len < n && p[len])
		len++;
	for (size_t i = 0; i < len && i < MAX_STRING; i++) {
		uint8_t b = p[i];

		if (b == '\\') {
			buf[o++] = '\\';
			buf[o++] = '\\';
		} else if (b < 0x20 || b >= 0x7f) {
			o += snprintf(buf + o, sizeof(buf) - o, "\\x%02x", b);
		} else {
			buf[o++] = (char)b;
		}
	}
	begin(c, "string", td);
	kt_json_key(c->j, "len");
	kt_json_u64(c->j, n);
	kt_json_key(c->j, "value");
	kt_json_strn(c->j, buf, o);
	if (len > MAX_STRING) {
		kt_json_key(c->j, "truncated");
		kt_json_u64(c->j, len - MAX_STRING);
	}
	kt_json_obj_end(c->j);
}

static int render_array(struct rctx *c, const struct btf_type *t, const char *td,
			const uint8_t *p, size_t len, int depth)
{
	const struct btf_array *a = btf_array(t);
	const struct btf_type *et;
	const char *etd = NULL;
	uint32_t eid, shown;
	size_t esz;

	if (resolve(c, a->type, &eid, &et, &etd) || size_of(c, eid, depth + 1, &esz))
		return -1;
	if (esz * a->nelems != len) /* size_of checked the product */
		return kt_errf(c->err, "array of %u x %zu bytes in %zu bytes", a->nelems, esz, len);
	if (!etd && is_char(c->btf, et)) {
		if (c->j)
			emit_string(c, td, p, len);
		return 0;
	}
	shown = a->nelems < KT_BTF_RENDER_MAX_ELEMS ? a->nelems : KT_BTF_RENDER_MAX_ELEMS;
	if (c->j) {
		begin(c, "array", td);
		kt_json_key(c->j, "len");
		kt_json_u64(c->j, a->nelems);
		kt_json_key(c->j, "elements");
		kt_json_arr_begin(c->j);
	}
	for (uint32_t i = 0; i < shown; i++)
		if (render(c, a->type, p + i * esz, esz, depth + 1))
			return kt_err_prefix(c->err, "element %u", i);
	if (c->j) {
		kt_json_arr_end(c->j);
		if (shown < a->nelems) {
			kt_json_key(c->j, "truncated");
			kt_json_u64(c->j, a->nelems - shown);
		}
		kt_json_obj_end(c->j);
	}
	return 0;
}

static void member_begin(struct rctx *c, const char *name)
{
	if (!c->j)
		return;
	kt_json_obj_begin(c->j);
	kt_json_key(c->j, "name");
	kt_json_str(c->j, name);
}

/* Member I of struct/union T, in the LEN bytes at P. */
static int render_member(struct rctx *c, const struct btf_type *t, uint16_t i,
			 const uint8_t *p, size_t len, int depth)
{
	const struct btf_member *m = btf_members(t) + i;
	const char *name = btf__name_by_offset(c->btf, m->name_off);
	uint32_t boff = btf_member_bit_offset(t, i), bsz = btf_member_bitfield_size(t, i);
	const struct btf_type *mt;
	uint32_t mid;
	size_t msz;

	if (!name)
		name = "";
	if (resolve(c, m->type, &mid, &mt, NULL))
		return -1;
	/* Without kflag a bitfield hides in the int encoding. */
	if (!bsz && btf_is_int(mt) &&
	    (btf_int_offset(mt) || btf_int_bits(mt) != mt->size * 8u)) {
		boff += btf_int_offset(mt);
		bsz = btf_int_bits(mt);
	}
	if (!bsz && boff % 8)
		return kt_errf(c->err, "member %s at bit %u is not byte aligned", name, boff);
	member_begin(c, name);
	if (bsz) {
		if (c->j) {
			kt_json_key(c->j, "bit_offset");
			kt_json_u64(c->j, boff);
			kt_json_key(c->j, "bitfield_size");
			kt_json_u64(c->j, bsz);
			kt_json_key(c->j, "value");
		}
		if (render_bits(c, m->type, p, len, boff, bsz))
			return kt_err_prefix(c->err, "member %s", name);
	} else {
		if (size_of(c, m->type, depth + 1, &msz))
			return kt_err_prefix(c->err, "member %s", name);
		if (boff / 8 > len || msz > len - boff / 8)
			return kt_errf(c->err, "member %s: %zu bytes at offset %u outside %zu bytes",
				       name, msz, boff / 8, len);
		if (c->j)
			kt_json_key(c->j, "value");
		if (render(c, m->type, p + boff / 8, msz, depth + 1))
			return kt_err_prefix(c->err, "member %s", name);
	}
	if (c->j)
		kt_json_obj_end(c->j);
	return 0;
}

static int render_datasec_var(struct rctx *c, const struct btf_var_secinfo *v,
			      const uint8_t *p, size_t len, int depth)
{
	const struct btf_type *vt = btf__type_by_id(c->btf, v->type);
	const char *name;
	size_t sz;

	if (!vt || !btf_is_var(vt))
		return kt_errf(c->err, "datasec entry type id %u is not a var", v->type);
	name = name_of(c->btf, vt);
	if (size_of(c, vt->type, depth + 1, &sz))
		return kt_err_prefix(c->err, "var %s", name);
	if (v->offset > len || sz > len - v->offset)
		return kt_errf(c->err, "var %s: %zu bytes at offset %u outside %zu bytes", name, sz,
			       v->offset, len);
	member_begin(c, name);
	if (c->j)
		kt_json_key(c->j, "value");
	if (render(c, vt->type, p + v->offset, sz, depth + 1))
		return kt_err_prefix(c->err, "var %s", name);
	if (c->j)
		kt_json_obj_end(c->j);
	return 0;
}

static int render_members(struct rctx *c, const struct btf_type *t, const char *td,
			  const uint8_t *p, size_t len, int depth)
{
	uint16_t n = btf_vlen(t);

	if (c->j) {
		begin(c, btf_is_union(t) ? "union" : "struct", td ? td : name_of(c->btf, t));
		kt_json_key(c->j, "members");
		kt_json_arr_begin(c->j);
	}
	for (uint16_t i = 0; i < n; i++) {
		int r = btf_is_datasec(t)
				? render_datasec_var(c, btf_var_secinfos(t) + i, p, len, depth)
				: render_member(c, t, i, p, len, depth);
		if (r)
			return -1;
	}
	if (c->j) {
		kt_json_arr_end(c->j);
		kt_json_obj_end(c->j);
	}
	return 0;
}

/* Type ID's value in exactly the LEN bytes at P. */
static int render(struct rctx *c, uint32_t id, const uint8_t *p, size_t len, int depth)
{
	const struct btf_type *t;
	const char *td = NULL;
	uint32_t rid;
	size_t sz;

	if (depth > KT_BTF_RENDER_MAX_DEPTH)
		return kt_errf(c->err, "value nested deeper than %d", KT_BTF_RENDER_MAX_DEPTH);
	if (node(c) || resolve(c, id, &rid, &t, &td) || size_of(c, rid, depth, &sz))
		return -1;
	if (sz != len)
		return kt_errf(c->err, "%zu bytes for BTF type id %u (%s %s) of %zu bytes", len, id,
			       kind_str(t), name_of(c->btf, t), sz);
	switch (btf_kind(t)) {
	case BTF_KIND_INT:
		return render_int(c, rid, t, td, p);
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		if (t->size != 1 && t->size != 2 && t->size != 4 && t->size != 8)
			return kt_errf(c->err, "BTF enum id %u of %u bytes", rid, t->size);
		emit_enum(c, t, td, extract(p, 0, t->size * 8), t->size * 8);
		return 0;
	case BTF_KIND_FLOAT:
		return render_float(c, t, td, p);
	case BTF_KIND_PTR:
		return render_ptr(c, t, td, p);
	case BTF_KIND_ARRAY:
		return render_array(c, t, td, p, len, depth);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
	case BTF_KIND_DATASEC:
		return render_members(c, t, td, p, len, depth);
	default:
		return kt_errf(c->err, "BTF type id %u (%s) has no value", rid, kind_str(t));
	}
}

int kt_btf_render(struct kt_json *j, const struct btf *btf, uint32_t type_id, const void *data,
		  size_t len, struct kt_err *err)
{
	static const uint8_t none;
	struct rctx c = { .btf = btf, .err = err };

	if (!btf)
		return kt_errf(err, "no BTF to render type id %u", type_id);
	if (!data) {
		if (len)
			return kt_errf(err, "no bytes for a value of %zu bytes", len);
		data = &none;
	}
	if (render(&c, type_id, data, len, 0))
		return -1;
	c.j = j;
	c.nodes = 0;
	return render(&c, type_id, data, len, 0);
}

void kt_btf_render_hex(struct kt_json *j, const void *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = data;
	char buf[512] = {0};
	size_t o = 0;

	/* One string, written in pieces would need a raw writer: build it. */
	char *s = len <= sizeof(buf) / 2 ? buf : malloc(len * 2);

	if (!s) {
		kt_json_null(j);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		s[o++] = hex[p[i] >> 4];
		s[o++] = hex[p[i] & 15];
	}
	kt_json_strn(j, s, o);
	if (s != buf)
		free(s);
}
