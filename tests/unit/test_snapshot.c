/* The snapshot registry (guest/snapshot.h) over real BPF maps: the test
 * process (root) creates a global-data array map with BTF, as a scheduler's
 * .bss, holds it with kt_mapdump_hold and captures it. Skipped where BPF
 * maps cannot be created (not root, no bpf syscall). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "dump.h"
#include "glog.h"
#include "mapdump.h"
#include "snapshot.h"

#define MAP_NAME "snap_t.bss"

struct bss {
	uint32_t stall;
	uint32_t nr_cpus;
};

struct fix {
	struct btf *btf;
	int map_fd;
	volatile struct bss *bss; /* the map's value 0, mmap'd read-write */
	struct kt_mapdump *maps;
};

/* A .bss-like map: DATASEC ".bss" { u32 stall; u32 nr_cpus; }. */
static int setup(void **state)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE);
	struct fix *f = calloc(1, sizeof(*f));
	struct kt_err e;
	int u32, v1, v2, sec;

	*state = f;
	f->map_fd = -1;
	if (geteuid() != 0)
		return 0;
	f->btf = btf__new_empty();
	assert_non_null(f->btf);
	u32 = btf__add_int(f->btf, "unsigned int", 4, 0);
	v1 = btf__add_var(f->btf, "stall", BTF_VAR_GLOBAL_ALLOCATED, u32);
	v2 = btf__add_var(f->btf, "nr_cpus", BTF_VAR_GLOBAL_ALLOCATED, u32);
	sec = btf__add_datasec(f->btf, ".bss", sizeof(struct bss));
	assert_true(u32 > 0 && v1 > 0 && v2 > 0 && sec > 0);
	assert_int_equal(btf__add_datasec_var_info(f->btf, v1, 0, 4), 0);
	assert_int_equal(btf__add_datasec_var_info(f->btf, v2, 4, 4), 0);
	if (btf__load_into_kernel(f->btf))
		return 0; /* no BPF here: the tests skip */
	o.btf_fd = btf__fd(f->btf);
	o.btf_value_type_id = sec;
	f->map_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, MAP_NAME, 4, sizeof(struct bss), 1, &o);
	if (f->map_fd < 0)
		return 0;
	f->bss = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f->map_fd, 0);
	assert_true(f->bss != MAP_FAILED);
	f->bss->nr_cpus = 2;
	assert_int_equal(kt_mapdump_hold(getpid(), &f->maps, &e), 0);
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	if (f->maps)
		kt_mapdump_free(f->maps);
	if (f->bss && f->bss != MAP_FAILED)
		munmap((void *)f->bss, 4096);
	if (f->map_fd >= 0)
		close(f->map_fd);
	btf__free(f->btf);
	free(f);
	return 0;
}

static struct fix *need_maps(void **state)
{
	struct fix *f = *state;

	if (!f->maps)
		skip();
	return f;
}

static Ktstr__ScenarioResult *collect(struct kt_snap *s)
{
	Ktstr__ScenarioResult *r = calloc(1, sizeof(*r));

	ktstr__scenario_result__init(r);
	kt_snap_collect(s, r);
	return r;
}

static const Ktstr__Snapshot *find(const Ktstr__ScenarioResult *r, const char *name)
{
	for (size_t i = 0; i < r->n_snapshots; i++)
		if (strcmp(r->snapshots[i]->name, name) == 0)
			return r->snapshots[i];
	return NULL;
}

/* The u64 at PATH in capture C's JSON. */
static uint64_t var_of(const Ktstr__Snapshot *c, const char *path)
{
	const struct kt_dval *v;
	struct kt_dump *d;
	struct kt_err e;
	uint64_t u;

	if (kt_dump_parse(c->json, strlen(c->json), &d, &e))
		fail_msg("capture %s: %s", c->name, e.msg);
	if (kt_dump_var(d, path, &v, &e) || kt_dval_u64(v, &u, &e))
		fail_msg("capture %s: %s", c->name, e.msg);
	kt_dump_free(d);
	return u;
}

static void two_snapshots(void **state)
{
	struct fix *f = need_maps(state);
	struct kt_snap *s = kt_snap_new(f->maps, 0);
	const Ktstr__Snapshot *a, *b;
	Ktstr__ScenarioResult *r;

	f->bss->stall = 0;
	kt_snap_take(s, "before");
	f->bss->stall = 7;
	kt_snap_take(s, "after");
	r = collect(s);
	assert_int_equal(r->n_snapshots, 2);
	a = find(r, "before");
	b = find(r, "after");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a->error == NULL || !a->error[0]);
	assert_non_null(strstr(a->json, MAP_NAME));
	assert_non_null(strstr(a->json, "\"stall\""));
	/* each capture is the state at its own moment */
	assert_string_not_equal(a->json, b->json);
	assert_int_equal(var_of(a, "bss.stall"), 0);
	assert_int_equal(var_of(b, "bss.stall"), 7);
	assert_int_equal(var_of(b, MAP_NAME ".stall"), 7);
	ktstr__scenario_result__free_unpacked(r, NULL);
	kt_snap_free(s);
}

static void no_scheduler_is_noop(void **state)
{
	struct kt_snap *s = kt_snap_new(NULL, 0);
	Ktstr__ScenarioResult *r;

	(void)state;
	kt_snap_take(s, "mid");
	assert_int_equal(kt_snap_n_captures(s), 0);
	r = collect(s);
	assert_int_equal(r->n_snapshots, 0);
	ktstr__scenario_result__free_unpacked(r, NULL);
	kt_snap_free(s);
}

/* A budget that holds one capture: the second fails, is recorded with its
 * error, and the registry goes on (a third op and a watch still work). */
static void failing_capture_does_not_abort(void **state)
{
	struct fix *f = need_maps(state);
	struct kt_snap *probe = kt_snap_new(f->maps, 0), *s;
	Ktstr__ScenarioResult *r;
	const Ktstr__Snapshot *c;
	struct kt_err e;
	size_t one;

	kt_snap_take(probe, "probe");
	r = collect(probe);
	assert_int_equal(r->n_snapshots, 1);
	one = strlen(r->snapshots[0]->json);
	ktstr__scenario_result__free_unpacked(r, NULL);
	kt_snap_free(probe);

	s = kt_snap_new(f->maps, one + KT_SNAP_MIN_BYTES - 1);
	kt_snap_take(s, "first");
	kt_snap_take(s, "second");
	kt_snap_take(s, "third");
	assert_int_equal(kt_snap_watch(s, "bss.stall", &e), 0);
	r = collect(s);
	assert_int_equal(r->n_snapshots, 3);
	c = find(r, "first");
	assert_true(c && c->json && c->json[0]);
	c = find(r, "second");
	assert_non_null(c);
	assert_true(!c->json || !c->json[0]);
	assert_non_null(strstr(c->error, "budget"));
	assert_non_null(find(r, "third"));
	ktstr__scenario_result__free_unpacked(r, NULL);
	kt_snap_free(s);
}

/* A watch is recorded, and fires once on the first write. */
static void watch_recorded_and_fires(void **state)
{
	struct fix *f = need_maps(state);
	struct kt_snap *s = kt_snap_new(f->maps, 0);
	struct timespec ten_ms = {0, 10 * 1000 * 1000};
	Ktstr__ScenarioResult *r;
	const Ktstr__Snapshot *c;
	struct kt_err e;

	f->bss->stall = 0;
	assert_int_equal(kt_snap_watch(s, "bss.stall", &e), 0);
	assert_int_equal(kt_snap_n_watches(s), 1);
	assert_string_equal(kt_snap_watch_symbol(s, 0), "bss.stall");
	assert_false(kt_snap_watch_is_kernel(s, 0));
	assert_int_equal(kt_snap_n_captures(s), 0);
	f->bss->stall = 1;
	/* bounded wait for the poll thread: not a timing assertion */
	for (int i = 0; i < 1000 && kt_snap_n_captures(s) == 0; i++)
		nanosleep(&ten_ms, NULL);
	f->bss->stall = 2; /* only the first change is captured */
	for (int i = 0; i < 20; i++)
		nanosleep(&ten_ms, NULL);
	r = collect(s);
	assert_int_equal(r->n_snapshots, 1);
	c = find(r, "watch:bss.stall");
	assert_non_null(c);
	assert_int_equal(var_of(c, "stall"), 1); /* rendered before it became 2 */
	ktstr__scenario_result__free_unpacked(r, NULL);
	kt_snap_free(s);
}

static void fourth_watch_cap_exceeded(void **state)
{
	struct fix *f = need_maps(state);
	struct kt_snap *s = kt_snap_new(f->maps, 0);
	struct kt_err e;

	assert_int_equal(kt_snap_watch(s, "stall", &e), 0);
	assert_int_equal(kt_snap_watch(s, "bss.nr_cpus", &e), 0);
	assert_int_equal(kt_snap_watch(s, MAP_NAME ".stall", &e), 0);
	assert_int_equal(kt_snap_watch(s, "nr_cpus", &e), -1);
	assert_non_null(strstr(e.msg, "cap exceeded"));
	assert_int_equal(kt_snap_n_watches(s), 3);
	kt_snap_free(s);
}

static void unresolvable_symbol(void **state)
{
	struct fix *f = *state;
	struct kt_snap *s = kt_snap_new(f->maps, 0), *none = kt_snap_new(NULL, 0);
	struct kt_err e;

	assert_int_equal(kt_snap_watch(s, "no_such_symbol_ktstr", &e), -1);
	assert_non_null(strstr(e.msg, "did not resolve"));
	assert_int_equal(kt_snap_watch(s, "bss.no_such_var", &e), -1);
	assert_non_null(strstr(e.msg, "did not resolve"));
	assert_int_equal(kt_snap_watch(none, "bss.stall", &e), -1);
	assert_non_null(strstr(e.msg, "did not resolve"));
	assert_int_equal(kt_snap_watch(none, "", &e), -1);
	assert_non_null(strstr(e.msg, "did not resolve"));
	assert_int_equal(kt_snap_n_watches(s), 0);
	assert_int_equal(kt_snap_n_watches(none), 0);
	kt_snap_free(s);
	kt_snap_free(none);
}

/* A kernel-symbol watch with no scheduler maps: when it fires, the capture
 * is stored with an error (it used to render NULL maps and crash PID 1). */
static void kernel_watch_without_maps(void **state)
{
	struct kt_snap *s = kt_snap_new(NULL, 0);
	struct timespec ten_ms = {0, 10 * 1000 * 1000};
	Ktstr__ScenarioResult *r;
	struct kt_err e;

	(void)state;
	if (kt_snap_watch(s, "jiffies", &e)) {
		kt_snap_free(s);
		fprintf(stderr, "SKIP: %s\n", e.msg);
		skip();
	}
	assert_true(kt_snap_watch_is_kernel(s, 0));
	/* bounded wait for the next tick: not a timing assertion */
	for (int i = 0; i < 500 && kt_snap_n_captures(s) == 0; i++)
		nanosleep(&ten_ms, NULL);
	r = collect(s);
	assert_int_equal(r->n_snapshots, 1);
	assert_true(!r->snapshots[0]->json || !r->snapshots[0]->json[0]);
	assert_non_null(strstr(r->snapshots[0]->error, "no scheduler maps"));
	ktstr__scenario_result__free_unpacked(r, NULL);
	kt_snap_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_snapshots),
		cmocka_unit_test(no_scheduler_is_noop),
		cmocka_unit_test(failing_capture_does_not_abort),
		cmocka_unit_test(watch_recorded_and_fires),
		cmocka_unit_test(fourth_watch_cap_exceeded),
		cmocka_unit_test(unresolvable_symbol),
		cmocka_unit_test(kernel_watch_without_maps),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
