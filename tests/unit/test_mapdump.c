/* guest/mapdump.c against real BPF maps of this process: BTF loaded into
 * the kernel, array/hash/per-CPU/global-data maps created and filled,
 * then held, rendered, parsed back with common/dump.c and checked. Needs
 * CAP_BPF/CAP_SYS_ADMIN (root); without it the tests skip, saying why. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "dump.h"
#include "mapdump.h"

struct val {
	uint32_t a;
	uint32_t pad;
	uint64_t b;
	char name[8];
};

struct fixture {
	struct btf *btf;
	int arr, hash, pcpu, bss, big, raw;
	int ncpus;
};

static struct fixture fx;
static const char *skip_reason;

static int create(const char *name, enum bpf_map_type type, uint32_t ksz, uint32_t vsz,
		  uint32_t n, uint32_t key_id, uint32_t val_id, uint32_t flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
	int fd;

	if (val_id) {
		o.btf_fd = btf__fd(fx.btf);
		o.btf_key_type_id = key_id;
		o.btf_value_type_id = val_id;
	}
	fd = bpf_map_create(type, name, ksz, vsz, n, &o);
	if (fd < 0)
		fprintf(stderr, "bpf_map_create %s: %s\n", name, strerror(errno));
	return fd;
}

static int setup(void **state)
{
	struct btf *b = btf__new_empty();
	int u32, u64, chr, name8, val, stall, nr, sec;

	(void)state;
	fx.arr = fx.hash = fx.pcpu = fx.bss = fx.big = fx.raw = -1;
	if (geteuid() != 0) {
		skip_reason = "not root: BPF map creation is not permitted";
		return 0;
	}
	u32 = btf__add_int(b, "unsigned int", 4, 0);
	u64 = btf__add_int(b, "long long unsigned int", 8, 0);
	chr = btf__add_int(b, "char", 1, BTF_INT_SIGNED);
	name8 = btf__add_array(b, u32, chr, 8);
	val = btf__add_struct(b, "val", sizeof(struct val));
	btf__add_field(b, "a", u32, 0, 0);
	btf__add_field(b, "pad", u32, 32, 0);
	btf__add_field(b, "b", u64, 64, 0);
	btf__add_field(b, "name", name8, 128, 0);
	stall = btf__add_var(b, "stall", BTF_VAR_GLOBAL_ALLOCATED, u32);
	nr = btf__add_var(b, "nr_enqueued", BTF_VAR_GLOBAL_ALLOCATED, u64);
	sec = btf__add_datasec(b, ".bss", 16);
	btf__add_datasec_var_info(b, stall, 0, 4);
	btf__add_datasec_var_info(b, nr, 8, 8);
	fx.btf = b;
	if (btf__load_into_kernel(b)) {
		skip_reason = "BTF load into the kernel refused (no BPF permission?)";
		return 0;
	}
	fx.arr = create("kt_arr", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct val), 4, u32, val, 0);
	fx.hash = create("kt_hash", BPF_MAP_TYPE_HASH, 4, 8, 16, u32, u64, 0);
	fx.pcpu = create("kt_pcpu", BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 2, u32, u32, 0);
	fx.bss = create("kt_test.bss", BPF_MAP_TYPE_ARRAY, 4, 16, 1, 0, sec, BPF_F_MMAPABLE);
	fx.big = create("kt_big", BPF_MAP_TYPE_ARRAY, 4, 8, 1000, u32, u64, 0);
	fx.raw = create("kt_raw", BPF_MAP_TYPE_HASH, 4, 2, 4, 0, 0, 0);
	fx.ncpus = libbpf_num_possible_cpus();
	assert_true(fx.arr >= 0 && fx.hash >= 0 && fx.pcpu >= 0 && fx.bss >= 0 && fx.big >= 0 &&
		    fx.raw >= 0);
	assert_true(fx.ncpus > 0);
	return 0;
}

static int teardown(void **state)
{
	int fds[] = { fx.arr, fx.hash, fx.pcpu, fx.bss, fx.big, fx.raw };

	(void)state;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	btf__free(fx.btf);
	return 0;
}

static void need_bpf(void)
{
	if (skip_reason) {
		fprintf(stderr, "SKIP: %s\n", skip_reason);
		skip();
	}
}

static void fill(void)
{
	struct val v = { .a = 11, .b = 1ull << 40 };
	uint32_t k;
	uint64_t h;
	uint64_t *pc = calloc(fx.ncpus, 8);
	uint8_t bss[16] = { 0 };
	uint16_t raw = 0x2a;

	strcpy(v.name, "two");
	k = 2;
	assert_int_equal(bpf_map_update_elem(fx.arr, &k, &v, 0), 0);
	for (k = 1; k <= 3; k++) {
		h = k * 100;
		assert_int_equal(bpf_map_update_elem(fx.hash, &k, &h, 0), 0);
	}
	for (int c = 0; c < fx.ncpus; c++)
		pc[c] = 1000 + c; /* each CPU's u32 sits in an 8-byte slot */
	k = 1;
	assert_int_equal(bpf_map_update_elem(fx.pcpu, &k, pc, 0), 0);
	free(pc);
	bss[0] = 1; /* stall */
	bss[8] = 77; /* nr_enqueued */
	k = 0;
	assert_int_equal(bpf_map_update_elem(fx.bss, &k, bss, 0), 0);
	k = 5;
	assert_int_equal(bpf_map_update_elem(fx.raw, &k, &raw, 0), 0);
}

static struct kt_dump *dump_self(size_t max_bytes, char **json)
{
	struct kt_mapdump *md;
	struct kt_dump *d;
	struct kt_err e;
	char *s;

	if (kt_mapdump_hold(getpid(), &md, &e))
		fail_msg("%s", e.msg);
	assert_true(kt_mapdump_n_maps(md) >= 6);
	if (kt_mapdump_render(md, max_bytes, &s, &e))
		fail_msg("%s", e.msg);
	kt_mapdump_free(md);
	assert_true(strlen(s) <= (max_bytes ? max_bytes : KT_MAPDUMP_MAX_BYTES));
	if (getenv("KT_MAPDUMP_PRINT")) /* for debugging: the rendered dump */
		fputs(s, stderr);
	if (kt_dump_parse(s, strlen(s), &d, &e))
		fail_msg("%s: %s", e.msg, s);
	if (json)
		*json = s;
	else
		free(s);
	return d;
}

static uint64_t u64_at(const struct kt_dump *d, const char *path)
{
	const struct kt_dval *v;
	struct kt_err e;
	uint64_t u;

	if (kt_dump_var(d, path, &v, &e) || kt_dval_u64(v, &u, &e))
		fail_msg("%s: %s", path, e.msg);
	return u;
}

static void render_real_maps(void **state)
{
	struct kt_dump *d;
	const struct kt_dval *map, *v, *k;
	struct kt_err e;
	const char *s;
	uint64_t seen = 0, key, val;

	(void)state;
	need_bpf();
	fill();
	d = dump_self(0, NULL);
	/* array with BTF: struct members and a char array */
	assert_int_equal(u64_at(d, "kt_arr[2].a"), 11);
	assert_int_equal(u64_at(d, "kt_arr[2].b"), 1ull << 40);
	assert_int_equal(u64_at(d, "kt_arr[0].a"), 0);
	assert_int_equal(kt_dump_var(d, "kt_arr[2].name", &v, &e), 0);
	assert_int_equal(kt_dval_str(v, &s, &e), 0);
	assert_string_equal(s, "two");
	/* hash: every key with its value */
	assert_int_equal(kt_dump_map(d, "kt_hash", &map, &e), 0);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(kt_dump_key(map, i, &k, &e), 0);
		assert_int_equal(kt_dval_u64(k, &key, &e), 0);
		assert_int_equal(kt_dump_at(map, i, &v, &e), 0);
		assert_int_equal(kt_dval_u64(v, &val, &e), 0);
		assert_int_equal(val, key * 100);
		seen |= 1u << key;
	}
	assert_int_equal(seen, 0xe);
	assert_int_equal(kt_dump_at(map, 3, &v, &e), -1);
	/* per-CPU: one value per possible CPU */
	for (int c = 0; c < fx.ncpus && c < 4; c++) {
		char path[32];

		snprintf(path, sizeof(path), "kt_pcpu[1][%d]", c);
		assert_int_equal(u64_at(d, path), 1000 + c);
	}
	/* a global in a DATASEC, by bare name, section suffix and map name */
	assert_int_equal(u64_at(d, "stall"), 1);
	assert_int_equal(u64_at(d, "bss.nr_enqueued"), 77);
	assert_int_equal(u64_at(d, "kt_test.bss.nr_enqueued"), 77);
	/* no BTF: hex bytes in memory order */
	assert_int_equal(kt_dump_map(d, "kt_raw", &map, &e), 0);
	assert_int_equal(kt_dump_at(map, 0, &v, &e), 0);
	assert_int_equal(kt_dval_str(v, &s, &e), 0);
	assert_string_equal(s, "2a00");
	/* the big array: 256 entries shown, the rest counted */
	assert_int_equal(kt_dump_map(d, "kt_big", &map, &e), 0);
	assert_int_equal(kt_dump_get(map, "x", &v, &e), -1);
	assert_int_equal(kt_dump_at(map, 255, &v, &e), 0);
	assert_int_equal(kt_dump_at(map, 256, &v, &e), -1);
	assert_non_null(strstr(e.msg, "some left out"));
	kt_dump_free(d);
}

static void render_small_budget(void **state)
{
	struct kt_dump *d;
	const struct kt_dval *map, *v;
	struct kt_err e;
	char *json;
	uint64_t dropped;

	(void)state;
	need_bpf();
	d = dump_self(8192, &json);
	assert_true(strlen(json) <= 8192);
	assert_int_equal(kt_dump_map(d, "kt_big", &map, &e), 0);
	assert_int_equal(kt_dump_get(map, "x", &v, &e), -1);
	/* entries_dropped sits on the map object: read it as a raw member */
	assert_non_null(strstr(json, "\"entries_dropped\":"));
	assert_int_equal(kt_dump_at(map, 0, &v, &e) == 0 || strstr(e.msg, "no entry 0"), 1);
	dropped = 0;
	{
		const char *p = strstr(json, "\"name\":\"kt_big\"");
		const char *q = p ? strstr(p, "\"entries_dropped\":") : NULL;

		assert_non_null(q);
		dropped = strtoull(q + strlen("\"entries_dropped\":"), NULL, 10);
	}
	assert_true(dropped > 744); /* more than the 256 cap alone leaves out */
	free(json);
	kt_dump_free(d);
	/* a limit below the minimum is refused, not overrun */
	{
		struct kt_mapdump *md;
		char *s;

		assert_int_equal(kt_mapdump_hold(getpid(), &md, &e), 0);
		assert_int_equal(kt_mapdump_render(md, 100, &s, &e), -1);
		assert_non_null(strstr(e.msg, "below"));
		kt_mapdump_free(md);
	}
}

static void find_var_mmap(void **state)
{
	struct kt_mapdump *md;
	struct kt_err e;
	const void *mem;
	size_t off, size, mem_len;
	uint8_t bss[16] = { 0 };
	uint32_t k = 0;
	int fd;

	(void)state;
	need_bpf();
	bss[0] = 3;
	bss[8] = 9;
	assert_int_equal(bpf_map_update_elem(fx.bss, &k, bss, 0), 0);
	assert_int_equal(kt_mapdump_hold(getpid(), &md, &e), 0);
	assert_int_equal(kt_mapdump_find_var(md, "stall", &fd, &off, &size, &mem, &mem_len, &e),
			 0);
	assert_int_equal(off, 0);
	assert_int_equal(size, 4);
	assert_non_null(mem);
	assert_int_equal(*(const uint32_t *)((const char *)mem + off), 3);
	/* the mapping follows later writes */
	bss[0] = 4;
	assert_int_equal(bpf_map_update_elem(fx.bss, &k, bss, 0), 0);
	assert_int_equal(*(const volatile uint32_t *)((const char *)mem + off), 4);
	munmap((void *)mem, mem_len);
	assert_int_equal(kt_mapdump_find_var(md, "bss.nr_enqueued", &fd, &off, &size, &mem,
					     &mem_len, &e), 0);
	assert_int_equal(off, 8);
	assert_int_equal(size, 8);
	munmap((void *)mem, mem_len);
	assert_int_equal(kt_mapdump_find_var(md, "kt_test.bss.stall", &fd, &off, &size, &mem,
					     &mem_len, &e), 0);
	assert_int_equal(off, 0);
	munmap((void *)mem, mem_len);
	assert_int_equal(kt_mapdump_find_var(md, "nope", &fd, &off, &size, &mem, &mem_len, &e),
			 -1);
	assert_non_null(strstr(e.msg, "did not resolve"));
	assert_int_equal(kt_mapdump_find_var(md, "data.stall", &fd, &off, &size, &mem, &mem_len,
					     &e), -1);
	assert_non_null(strstr(e.msg, "did not resolve"));
	kt_mapdump_free(md);
}

/* A struct_ops map's value is typed by the kernel's BTF. A fresh one (never
 * registered) reads as zeros; the dump renders it or says why not. */
static void struct_ops_map(void **state)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	struct btf *vml = btf__load_vmlinux_btf();
	const struct kt_dval *map, *v;
	struct kt_dump *d;
	struct kt_err e;
	char *json;
	int id, fd;

	(void)state;
	need_bpf();
	if (!vml) {
		fprintf(stderr, "SKIP: no kernel BTF\n");
		skip();
	}
	id = btf__find_by_name_kind(vml, "bpf_struct_ops_tcp_congestion_ops", BTF_KIND_STRUCT);
	if (id <= 0) {
		btf__free(vml);
		fprintf(stderr, "SKIP: kernel BTF has no bpf_struct_ops_tcp_congestion_ops\n");
		skip();
	}
	o.btf_vmlinux_value_type_id = id;
	fd = bpf_map_create(BPF_MAP_TYPE_STRUCT_OPS, "kt_ops", 4,
			    (uint32_t)btf__resolve_size(vml, id), 1, &o);
	btf__free(vml);
	if (fd < 0 && (errno == EINVAL || errno == ENOTSUP || errno == 524 /* ENOTSUPP */)) {
		fprintf(stderr, "SKIP: this kernel refuses struct_ops map creation: %s\n",
			strerror(errno));
		skip();
	}
	if (fd < 0)
		fail_msg("struct_ops map: %s", strerror(errno));
	d = dump_self(0, &json);
	assert_int_equal(kt_dump_map(d, "kt_ops", &map, &e), 0);
	if (kt_dump_at(map, 0, &v, &e)) {
		/* a refusing kernel: the reason is in "errors" */
		assert_non_null(strstr(json, "map kt_ops"));
	} else {
		/* typed by the kernel's value struct: {refcnt/state, data} */
		assert_int_equal(kt_dump_var(d, "kt_ops[0].data", &v, &e), 0);
		assert_int_equal(kt_dump_at(map, 0, &v, &e), 0);
		assert_non_null(strstr(json, "\"type_name\":\"bpf_struct_ops_tcp_congestion_ops\""));
	}
	free(json);
	kt_dump_free(d);
	close(fd);
}

static void hold_errors(void **state)
{
	struct kt_mapdump *md;
	struct kt_err e;

	(void)state;
	need_bpf();
	/* a process with no maps, and one that does not exist */
	assert_int_equal(kt_mapdump_hold(1, &md, &e) == 0 || strstr(e.msg, "no BPF maps") != NULL,
			 1);
	if (!strstr(e.msg, "no BPF maps"))
		kt_mapdump_free(md);
	assert_int_equal(kt_mapdump_hold(999999999, &md, &e), -1);
	assert_non_null(strstr(e.msg, "/proc/999999999/fd"));
	/* every map in the system includes ours */
	assert_int_equal(kt_mapdump_hold(0, &md, &e), 0);
	assert_true(kt_mapdump_n_maps(md) >= 6);
	kt_mapdump_free(md);
}

/* No held maps (no scheduler, or holding failed) is an error, not a crash. */
static void render_null(void **state)
{
	struct kt_err e;
	char *json = NULL;

	(void)state;
	assert_int_equal(kt_mapdump_render(NULL, 0, &json, &e), -1);
	assert_null(json);
	assert_non_null(strstr(e.msg, "no held maps"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(render_real_maps),
		cmocka_unit_test(render_small_budget),
		cmocka_unit_test(find_var_mmap),
		cmocka_unit_test(struct_ops_map),
		cmocka_unit_test(hold_errors),
		cmocka_unit_test(render_null),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
