/* Held BPF maps of a scheduler, rendered into the failure-dump JSON. */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "btf_render.h"
#include "json.h"
#include "mapdump.h"

#define MAX_CPUS 4096		/* per-CPU values rendered per entry */
#define MAX_ERRORS 32		/* "errors" kept; the rest counted */
#define MAP_HDR_MAX 512		/* bytes a map object takes without entries */
#define TAIL_MAX 256		/* closing a map's entries and the document */
#define MAX_BTFS 16		/* distinct BTF objects per render */

struct held_map {
	int fd;
	struct bpf_map_info info;
};

struct kt_mapdump {
	struct held_map maps[KT_MAPDUMP_MAX_MAPS];
	size_t n;
	size_t dropped; /* maps beyond KT_MAPDUMP_MAX_MAPS */
};

/* ---- holding ---- */

static int add_map_id(struct kt_mapdump *d, uint32_t id, struct kt_err *err)
{
	struct held_map *m;
	uint32_t len;
	int fd;

	for (size_t i = 0; i < d->n; i++)
		if (d->maps[i].info.id == id)
			return 0;
	if (d->n == KT_MAPDUMP_MAX_MAPS) {
		d->dropped++;
		return 0;
	}
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return kt_errf(err, "bpf map id %u: get fd: %s", id, strerror(errno));
	m = &d->maps[d->n];
	memset(&m->info, 0, sizeof(m->info));
	len = sizeof(m->info);
	if (bpf_map_get_info_by_fd(fd, &m->info, &len)) {
		kt_errf(err, "bpf map id %u: info: %s", id, strerror(errno));
		close(fd);
		return -1;
	}
	m->fd = fd;
	d->n++;
	return 0;
}

/* The map id an fd of PID refers to, from its fdinfo; 0 if not a map. */
static uint32_t fd_map_id(pid_t pid, const char *fdname)
{
	char path[320], link[64], buf[4096];
	const char *p;
	ssize_t n;
	unsigned id;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid, fdname);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return 0;
	link[n] = 0;
	if (strcmp(link, "anon_inode:bpf-map"))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int)pid, fdname);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strstr(buf, "\nmap_id:");
	if (!p || sscanf(p + 8, "%u", &id) != 1)
		return 0;
	return id;
}

static int hold_pid(struct kt_mapdump *d, pid_t pid, struct kt_err *err)
{
	char path[64];
	struct dirent *e;
	struct kt_err one;
	bool failed = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return kt_errf(err, "%s: %s", path, strerror(errno));
	while ((e = readdir(dir))) {
		uint32_t id = e->d_name[0] != '.' ? fd_map_id(pid, e->d_name) : 0;

		/* A map freed under us is not an error; keep the reason. */
		if (id && add_map_id(d, id, &one)) {
			failed = true;
			if (err)
				*err = one;
		}
	}
	closedir(dir);
	if (!d->n && !d->dropped)
		return failed ? -1 : kt_errf(err, "process %d holds no BPF maps", (int)pid);
	return 0;
}

static int hold_all(struct kt_mapdump *d, struct kt_err *err)
{
	uint32_t id = 0;
	struct kt_err one = { "" };

	while (!bpf_map_get_next_id(id, &id))
		if (add_map_id(d, id, &one) && err)
			*err = one;
	if (!d->n && !d->dropped)
		return kt_errf(err, "no BPF maps in the system (%s)", one.msg[0] ? one.msg : "none");
	return 0;
}

int kt_mapdump_hold(pid_t pid, struct kt_mapdump **out, struct kt_err *err)
{
	struct kt_mapdump *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return kt_errf(err, "out of memory");
	r = pid ? hold_pid(d, pid, err) : hold_all(d, err);
	if (r) {
		kt_mapdump_free(d);
		return kt_err_prefix(err, "holding BPF maps of %s%d", pid ? "pid " : "all ",
				     (int)pid);
	}
	*out = d;
	return 0;
}

size_t kt_mapdump_n_maps(const struct kt_mapdump *d)
{
	return d ? d->n : 0;
}

void kt_mapdump_free(struct kt_mapdump *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		close(d->maps[i].fd);
	free(d);
}

/* ---- rendering ---- */

struct btf_cache {
	uint32_t id[MAX_BTFS];
	struct btf *btf[MAX_BTFS];
	size_t n;
	struct btf *vmlinux;
	bool vmlinux_tried;
};

static struct btf *btf_get(struct btf_cache *bc, uint32_t id, struct kt_err *err)
{
	struct btf *b;

	for (size_t i = 0; i < bc->n; i++)
		if (bc->id[i] == id)
			return bc->btf[i];
	b = btf__load_from_kernel_by_id(id);
	if (!b) {
		kt_errf(err, "BTF id %u: %s", id, strerror(errno));
		return NULL;
	}
	if (bc->n == MAX_BTFS) {
		/* Rare: more distinct objects than slots; recycle the last. */
		btf__free(bc->btf[MAX_BTFS - 1]);
		bc->n--;
	}
	bc->id[bc->n] = id;
	bc->btf[bc->n++] = b;
	return b;
}

static struct btf *btf_vmlinux(struct btf_cache *bc, struct kt_err *err)
{
	if (!bc->vmlinux_tried) {
		bc->vmlinux_tried = true;
		bc->vmlinux = btf__load_vmlinux_btf();
		if (!bc->vmlinux)
			kt_errf(err, "kernel BTF: %s", strerror(errno));
	} else if (!bc->vmlinux) {
		kt_errf(err, "kernel BTF not available");
	}
	return bc->vmlinux;
}

static void btf_cache_free(struct btf_cache *bc)
{
	for (size_t i = 0; i < bc->n; i++)
		btf__free(bc->btf[i]);
	btf__free(bc->vmlinux);
}

struct errlist {
	char *msg[MAX_ERRORS];
	size_t n, dropped;
};

static void add_error(struct errlist *el, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void add_error(struct errlist *el, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (el->n == MAX_ERRORS) {
		el->dropped++;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		el->dropped++;
	else
		el->msg[el->n++] = s;
	va_end(ap);
}

/* How a map's entries are read and rendered. */
struct mapview {
	const struct held_map *m;
	const struct btf *btf;   /* NULL: values as hex */
	uint32_t key_type, value_type;
	const struct btf *key_btf;
	bool percpu, by_index;
	size_t ncpus, stride;    /* per-CPU: values and their spacing */
};

static void render_value(struct kt_json *j, const struct btf *btf, uint32_t type,
			 const void *p, size_t len)
{
	struct kt_err e;

	if (btf && type && !kt_btf_render(j, btf, type, p, len, &e))
		return;
	kt_btf_render_hex(j, p, len);
	if (btf && type) {
		kt_json_key(j, "error");
		kt_json_str(j, e.msg);
	}
}

/* One entry object: {"key":..., "value":TREE} or {"key":..., "percpu":[...]}. */
static void render_entry(struct kt_json *j, const struct mapview *v, uint64_t index,
			 const void *key, const uint8_t *val)
{
	size_t vs = v->m->info.value_size;

	kt_json_obj_begin(j);
	kt_json_key(j, "key");
	if (v->by_index)
		kt_json_u64(j, index);
	else
		render_value(j, v->key_btf, v->key_type, key, v->m->info.key_size);
	if (v->percpu) {
		kt_json_key(j, "percpu");
		kt_json_arr_begin(j);
		for (size_t c = 0; c < v->ncpus; c++)
			render_value(j, v->btf, v->value_type, val + c * v->stride, vs);
		kt_json_arr_end(j);
	} else {
		kt_json_key(j, "value");
		render_value(j, v->btf, v->value_type, val, vs);
	}
	kt_json_obj_end(j);
}

static ssize_t count_write(void *cookie, const char *buf, size_t n)
{
	(void)buf;
	*(size_t *)cookie += n;
	return (ssize_t)n;
}

/* The compact size of an entry, rendered to nowhere. */
static size_t entry_size(const struct mapview *v, uint64_t index, const void *key,
			 const uint8_t *val)
{
	cookie_io_functions_t io = { .write = count_write };
	struct kt_json j;
	size_t n = 0;
	FILE *f = fopencookie(&n, "w", io);

	if (!f)
		return SIZE_MAX;
	kt_json_init(&j, f, false);
	render_entry(&j, v, index, key, val);
	fclose(f);
	return n;
}

struct out {
	struct kt_json j;
	FILE *f;
	size_t max;
	size_t reserve; /* bytes kept for what must still be written */
};

static bool fits(struct out *o, size_t n)
{
	long pos = ftell(o->f);

	return pos >= 0 && n < o->max && (size_t)pos + n + o->reserve <= o->max;
}

static bool lookup_ok(const struct held_map *m, const void *key, void *val,
		      struct errlist *el, bool *stop)
{
	if (!bpf_map_lookup_elem(m->fd, key, val))
		return true;
	if (errno != ENOENT) {
		add_error(el, "map %s (id %u): lookup: %s", m->info.name, m->info.id,
			  strerror(errno));
		*stop = true;
	}
	return false;
}

/* The entries array of one map; returns how many were left out. */
static uint64_t render_entries(struct out *o, const struct mapview *v, uint8_t *key,
			       uint8_t *val, struct errlist *el)
{
	const struct held_map *m = v->m;
	uint64_t shown = 0, left = 0, iter = 0, limit = (uint64_t)m->info.max_entries * 2 + 2;
	bool stop = false, first = true, full = false;
	uint8_t *next = key + m->info.key_size;

	kt_json_key(&o->j, "entries");
	kt_json_arr_begin(&o->j);
	if (v->by_index) {
		for (uint64_t i = 0; i < m->info.max_entries && !stop; i++) {
			uint32_t k = (uint32_t)i;

			if (full || shown == KT_MAPDUMP_MAX_ENTRIES) {
				left = m->info.max_entries - i;
				break;
			}
			if (!lookup_ok(m, &k, val, el, &stop))
				continue;
			if (!fits(o, entry_size(v, i, &k, val) + 1)) {
				full = true;
				left = m->info.max_entries - i;
				break;
			}
			render_entry(&o->j, v, i, &k, val);
			shown++;
		}
	} else {
		/* Hash-like: walk the keys; a concurrent delete can restart the
		 * walk, so it is bounded by twice max_entries. */
		while (!stop && iter++ < limit &&
		       !bpf_map_get_next_key(m->fd, first ? NULL : key, next)) {
			first = false;
			memcpy(key, next, m->info.key_size);
			if (full || shown == KT_MAPDUMP_MAX_ENTRIES) {
				left++;
				continue;
			}
			if (!lookup_ok(m, key, val, el, &stop))
				continue;
			if (!fits(o, entry_size(v, 0, key, val) + 1)) {
				full = true;
				left++;
				continue;
			}
			render_entry(&o->j, v, 0, key, val);
			shown++;
		}
	}
	kt_json_arr_end(&o->j);
	return left;
}

static bool readable(enum bpf_map_type t, bool *by_index, bool *percpu)
{
	*percpu = t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH ||
		  t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	switch (t) {
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_ARRAY_OF_MAPS:
	case BPF_MAP_TYPE_STRUCT_OPS:
		*by_index = true;
		return true;
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_HASH_OF_MAPS:
	case BPF_MAP_TYPE_LPM_TRIE:
		*by_index = false;
		return true;
	default:
		return false;
	}
}

/* Fill V's BTF side; a map whose BTF cannot be had is shown as hex. */
static void view_btf(struct mapview *v, struct btf_cache *bc, struct errlist *el)
{
	const struct bpf_map_info *in = &v->m->info;
	struct kt_err e;

	if (in->type == BPF_MAP_TYPE_STRUCT_OPS && in->btf_vmlinux_value_type_id) {
		v->btf = btf_vmlinux(bc, &e);
		v->value_type = in->btf_vmlinux_value_type_id;
	} else if (in->btf_id && in->btf_value_type_id) {
		v->btf = btf_get(bc, in->btf_id, &e);
		v->value_type = in->btf_value_type_id;
	}
	if ((in->btf_vmlinux_value_type_id || in->btf_value_type_id) && !v->btf)
		add_error(el, "map %s (id %u): %s", in->name, in->id, e.msg);
	if (in->btf_id && in->btf_key_type_id) {
		v->key_btf = btf_get(bc, in->btf_id, &e);
		v->key_type = in->btf_key_type_id;
	}
}

static void render_map(struct out *o, const struct held_map *m, struct btf_cache *bc,
		       struct errlist *el)
{
	const struct bpf_map_info *in = &m->info;
	struct mapview v = { .m = m };
	const char *type = libbpf_bpf_map_type_str(in->type);
	uint8_t *key = NULL, *val = NULL;
	uint64_t left = 0;
	bool ok = readable(in->type, &v.by_index, &v.percpu);
	int ncpus;

	kt_json_obj_begin(&o->j);
	kt_json_key(&o->j, "name");
	kt_json_str(&o->j, in->name);
	kt_json_key(&o->j, "id");
	kt_json_u64(&o->j, in->id);
	kt_json_key(&o->j, "map_type");
	kt_json_str(&o->j, type ? type : "unknown");
	kt_json_key(&o->j, "key_size");
	kt_json_u64(&o->j, in->key_size);
	kt_json_key(&o->j, "value_size");
	kt_json_u64(&o->j, in->value_size);
	kt_json_key(&o->j, "max_entries");
	kt_json_u64(&o->j, in->max_entries);
	kt_json_key(&o->j, "map_flags");
	kt_json_u64(&o->j, in->map_flags);
	kt_json_key(&o->j, "btf_id");
	kt_json_u64(&o->j, in->btf_id);
	if (ok && v.by_index && in->key_size != 4)
		ok = false;
	if (ok && v.percpu) {
		ncpus = libbpf_num_possible_cpus();
		if (ncpus <= 0 || ncpus > MAX_CPUS) {
			add_error(el, "map %s (id %u): %d possible CPUs", in->name, in->id, ncpus);
			ok = false;
		} else {
			v.ncpus = (size_t)ncpus;
			v.stride = (in->value_size + 7) & ~7u;
		}
	}
	if (ok) {
		view_btf(&v, bc, el);
		key = calloc(2, in->key_size ? in->key_size : 1);
		val = calloc(v.percpu ? v.ncpus : 1, v.percpu ? v.stride : in->value_size + 8);
		if (!key || !val) {
			add_error(el, "map %s (id %u): out of memory", in->name, in->id);
			ok = false;
		}
	}
	if (ok) {
		left = render_entries(o, &v, key, val, el);
	} else {
		kt_json_key(&o->j, "skipped");
		kt_json_str(&o->j, "contents not readable by lookup");
		kt_json_key(&o->j, "entries");
		kt_json_arr_begin(&o->j);
		kt_json_arr_end(&o->j);
	}
	kt_json_key(&o->j, "truncated");
	kt_json_bool(&o->j, left > 0);
	if (left) {
		kt_json_key(&o->j, "entries_dropped");
		kt_json_u64(&o->j, left);
	}
	kt_json_obj_end(&o->j);
	free(key);
	free(val);
}

static void render_errors(struct out *o, struct errlist *el)
{
	size_t dropped = el->dropped;

	o->reserve = TAIL_MAX;
	kt_json_key(&o->j, "errors");
	kt_json_arr_begin(&o->j);
	for (size_t i = 0; i < el->n; i++) {
		/* Escaping can take six bytes a byte. */
		if (fits(o, strlen(el->msg[i]) * 6 + 3))
			kt_json_str(&o->j, el->msg[i]);
		else
			dropped++;
	}
	kt_json_arr_end(&o->j);
	if (dropped) {
		kt_json_key(&o->j, "errors_dropped");
		kt_json_u64(&o->j, dropped);
	}
}

int kt_mapdump_render(const struct kt_mapdump *d, size_t max_bytes, char **out,
		      struct kt_err *err)
{
	struct btf_cache bc = { 0 };
	struct errlist el = { 0 };
	struct out o = { .max = max_bytes ? max_bytes : KT_MAPDUMP_MAX_BYTES };
	size_t size = 0, maps_dropped;
	char *buf = NULL;

	if (!d)
		return kt_errf(err, "map dump: no held maps");
	maps_dropped = d->dropped;
	if (o.max < 1024)
		return kt_errf(err, "map dump limit of %zu bytes is below 1024", o.max);
	o.f = open_memstream(&buf, &size);
	if (!o.f)
		return kt_errf(err, "map dump: %s", strerror(errno));
	kt_json_init(&o.j, o.f, false);
	kt_json_obj_begin(&o.j);
	kt_json_key(&o.j, "schema");
	kt_json_str(&o.j, KT_MAPDUMP_SCHEMA);
	kt_json_key(&o.j, "maps");
	kt_json_arr_begin(&o.j);
	for (size_t i = 0; i < d->n; i++) {
		/* Every map still to come keeps room for its header. */
		o.reserve = TAIL_MAX + (d->n - i) * MAP_HDR_MAX;
		if (!fits(&o, 0)) {
			maps_dropped += d->n - i;
			break;
		}
		o.reserve -= MAP_HDR_MAX;
		render_map(&o, &d->maps[i], &bc, &el);
	}
	kt_json_arr_end(&o.j);
	if (maps_dropped) {
		kt_json_key(&o.j, "maps_dropped");
		kt_json_u64(&o.j, maps_dropped);
	}
	render_errors(&o, &el);
	kt_json_obj_end(&o.j);
	kt_json_end(&o.j);
	btf_cache_free(&bc);
	for (size_t i = 0; i < el.n; i++)
		free(el.msg[i]);
	if (fclose(o.f) || !buf) {
		free(buf);
		return kt_errf(err, "map dump: writing failed");
	}
	if (size > o.max) {
		free(buf);
		return kt_errf(err, "map dump of %zu bytes over its limit of %zu", size, o.max);
	}
	*out = buf;
	return 0;
}

/* ---- find_var ---- */

/* Does selector SEL (N bytes) name map M: its name, its suffix after a
 * '.', or its DATASEC's name with or without the leading '.'? */
static bool sel_matches(const struct held_map *m, const char *sel, size_t n, const char *sec)
{
	const char *name = m->info.name;
	size_t len = strlen(name);

	if (len == n && !memcmp(name, sel, n))
		return true;
	if (len > n && name[len - n - 1] == '.' && !memcmp(name + len - n, sel, n))
		return true;
	if (sec[0] == '.')
		sec++;
	return strlen(sec) == n && !memcmp(sec, sel, n);
}

/* Member NAME (N bytes) of struct/union ID, searching anonymous members;
 * adds its byte offset to *OFF and sets *ID to its type. */
static int find_member(const struct btf *btf, uint32_t *id, const char *name, size_t n,
		       size_t *off, int depth)
{
	const struct btf_type *t = btf__type_by_id(btf, *id);
	int hops = 0;

	while (t && (btf_is_mod(t) || btf_is_typedef(t)) && hops++ < 32) {
		*id = t->type;
		t = btf__type_by_id(btf, *id);
	}
	if (!t || !btf_is_composite(t) || depth > KT_BTF_RENDER_MAX_DEPTH)
		return -1;
	for (uint16_t i = 0; i < btf_vlen(t); i++) {
		const struct btf_member *m = btf_members(t) + i;
		const char *mn = btf__name_by_offset(btf, m->name_off);
		uint32_t boff = btf_member_bit_offset(t, i), mid = m->type;
		size_t moff = boff / 8;

		if (btf_member_bitfield_size(t, i) || boff % 8)
			continue;
		if (mn && !*mn && !find_member(btf, &mid, name, n, &moff, depth + 1)) {
			*off += moff;
			*id = mid;
			return 0;
		}
		if (mn && strlen(mn) == n && !memcmp(mn, name, n)) {
			*off += moff;
			*id = m->type;
			return 0;
		}
	}
	return -1;
}

/* Resolve var COMP[0] and members COMP[1..] of path P in map M. */
static int var_in_map(const struct held_map *m, const struct btf *btf, const char *path,
		      size_t *off, size_t *size)
{
	const struct btf_type *sec = btf__type_by_id(btf, m->info.btf_value_type_id);
	const char *end = strchr(path, '.');
	size_t n = end ? (size_t)(end - path) : strlen(path);
	const struct btf_var_secinfo *vs;
	uint32_t id = 0;
	__s64 sz;

	if (!sec || !btf_is_datasec(sec))
		return -1;
	vs = btf_var_secinfos(sec);
	for (uint16_t i = 0; i < btf_vlen(sec) && !id; i++) {
		const struct btf_type *vt = btf__type_by_id(btf, vs[i].type);
		const char *vn = vt ? btf__name_by_offset(btf, vt->name_off) : NULL;

		if (vt && btf_is_var(vt) && vn && strlen(vn) == n && !memcmp(vn, path, n)) {
			id = vt->type;
			*off = vs[i].offset;
		}
	}
	while (id && end) {
		path = end + 1;
		end = strchr(path, '.');
		n = end ? (size_t)(end - path) : strlen(path);
		if (find_member(btf, &id, path, n, off, 0))
			return -1;
	}
	if (!id)
		return -1;
	sz = btf__resolve_size(btf, id);
	if (sz <= 0 || *off > m->info.value_size || (size_t)sz > m->info.value_size - *off)
		return -1;
	*size = (size_t)sz;
	return 0;
}

static void map_value0(const struct held_map *m, const void **mem, size_t *mem_len)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = ((size_t)m->info.value_size + page - 1) / page * page;
	void *p;

	*mem = NULL;
	*mem_len = 0;
	if (!(m->info.map_flags & BPF_F_MMAPABLE) || !len)
		return;
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, m->fd, 0);
	if (p == MAP_FAILED)
		return;
	*mem = p;
	*mem_len = len;
}

/* Find var path REST (after DOT, or all of SYMBOL) in the maps that the
 * selector before DOT names (all global-data maps if DOT is NULL). */
static int try_split(const struct kt_mapdump *d, const char *symbol, const char *dot, int *fd,
		     size_t *off, size_t *size, const void **mem, size_t *mem_len)
{
	const char *rest = dot ? dot + 1 : symbol;
	size_t seln = dot ? (size_t)(dot - symbol) : 0;

	for (size_t i = 0; i < d->n; i++) {
		const struct held_map *m = &d->maps[i];
		const struct btf_type *sec;
		const char *secname;
		struct btf *btf;
		int r = -1;

		if (!m->info.btf_id || !m->info.btf_value_type_id ||
		    m->info.type != BPF_MAP_TYPE_ARRAY)
			continue;
		btf = btf__load_from_kernel_by_id(m->info.btf_id);
		if (!btf)
			continue;
		sec = btf__type_by_id(btf, m->info.btf_value_type_id);
		secname = sec ? btf__name_by_offset(btf, sec->name_off) : NULL;
		if (sec && btf_is_datasec(sec) && secname &&
		    (!dot || sel_matches(m, symbol, seln, secname)))
			r = var_in_map(m, btf, rest, off, size);
		btf__free(btf);
		if (!r) {
			*fd = m->fd;
			map_value0(m, mem, mem_len);
			return 0;
		}
	}
	return -1;
}

int kt_mapdump_find_var(const struct kt_mapdump *d, const char *symbol, int *fd, size_t *off,
			size_t *size, const void **mem, size_t *mem_len, struct kt_err *err)
{
	size_t slen = symbol ? strlen(symbol) : 0;

	if (!slen || slen > 256)
		return kt_errf(err, "symbol \"%s\" did not resolve: empty or too long",
			       symbol ? symbol : "");
	/* Each split in turn: no selector (a global in any data map), then
	 * the selector up to each '.'. */
	for (const char *dot = NULL;;) {
		if (!try_split(d, symbol, dot, fd, off, size, mem, mem_len))
			return 0;
		dot = strchr(dot ? dot + 1 : symbol, '.');
		if (!dot)
			break;
	}
	return kt_errf(err, "symbol \"%s\" did not resolve to a BPF global in %zu held maps",
		       symbol, d->n);
}
