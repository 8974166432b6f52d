/* db/costs.c: per (topology, accel) means from stored results. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include "costs.h"
#include "store_fixture.h"

#define NOW 1700000000000ull

/* A packed Assignment as the coordinator makes it, with DURATION_MS. */
static uint8_t *assignment(uint64_t duration_ms, size_t *len)
{
	Ktstr__Assignment a = KTSTR__ASSIGNMENT__INIT;
	Ktstr__EntryRef ref = KTSTR__ENTRY_REF__INIT;
	Ktstr__KernelRef kr = KTSTR__KERNEL_REF__INIT;
	Ktstr__ArtifactRef img = KTSTR__ARTIFACT_REF__INIT, scn = KTSTR__ARTIFACT_REF__INIT;
	uint8_t *buf;

	a.ref = &ref;
	img.sha256 = "aaaa";
	kr.image = &img;
	a.kernel = &kr;
	a.topology = "1n1l2c1t";
	scn.sha256 = "bbbb";
	a.scenario = &scn;
	a.has_duration_ms = 1;
	a.duration_ms = duration_ms;
	*len = ktstr__assignment__get_packed_size(&a);
	buf = malloc(*len);
	ktstr__assignment__pack(&a, buf);
	return buf;
}

/* One entry on TOPO with one outcome. */
static void add(struct kt_store *s, uint64_t run, uint32_t seq, const char *topo,
		uint64_t duration_ms, const char *status, const char *accel, uint64_t total,
		uint64_t run_ms)
{
	struct kt_err err = { "" };
	struct ofx f;
	char name[128];
	struct kt_store_entry e = fx_entry(run, seq, "t", "sid", name);
	uint64_t id;
	size_t len;
	uint8_t *blob = duration_ms ? assignment(duration_ms, &len) : NULL;

	snprintf(name, sizeof(name), "t%u/%s/eevdf:default/sid", seq, topo);
	e.topology = topo;
	if (blob) {
		e.assignment = blob;
		e.assignment_len = len;
	}
	if (kt_store_entry_add(s, &e, &id, &err))
		fail_msg("%s", err.msg);
	ofx_init(&f, id, 1, status, !strcmp(status, "fail") ? "not_starved.gap" : NULL);
	f.o.accel = (char *)accel;
	f.o.total_ms = total;
	f.o.run_ms = run_ms;
	assert_int_equal(kt_store_attempt_begin(s, id, 1, "w1", NOW, &err), 0);
	if (kt_store_outcome(s, &f.o, NOW + seq, &err) != 1)
		fail_msg("%s", err.msg);
	free(blob);
}

static const struct kt_cost_sample *find(const struct kt_cost_sample *v, size_t n,
					 const char *topo, const char *accel)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].topology, topo) && !strcmp(v[i].accel, accel))
			return &v[i];
	return NULL;
}

static void test_cost_samples(void **state)
{
	char path[256];
	struct kt_err err = { "" };
	struct kt_store *s;
	struct kt_cost_sample *v;
	const struct kt_cost_sample *c;
	uint64_t run;
	size_t n;

	(void)state;
	fx_tmp_db(path, sizeof(path));
	assert_int_equal(kt_store_open(path, false, &s, &err), 0);
	assert_int_equal(kt_store_cost_samples(s, 0, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	assert_int_equal(kt_store_run_create(s, "r", 0, "x", NOW, &run, &err), 0);
	add(s, run, 0, "1n1l2c1t", 2000, "pass", "tcg", 5000, 2100);
	add(s, run, 1, "1n1l2c1t", 4000, "pass", "tcg", 7000, 4100);
	add(s, run, 2, "1n1l2c1t", 2000, "pass", "kvm", 3000, 2000);
	add(s, run, 3, "1n2l2c1t", 2000, "pass", "tcg", 9000, 2000);
	/* Left out: a failure, an infra, no duration in the Assignment. */
	add(s, run, 4, "1n2l2c1t", 2000, "fail", "tcg", 90000, 2000);
	add(s, run, 5, "1n2l2c1t", 2000, "infra", "tcg", 100, 0);
	add(s, run, 6, "1n2l2c1t", 0, "pass", "tcg", 100, 0);
	assert_int_equal(kt_store_cost_samples(s, 0, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	c = find(v, n, "1n1l2c1t", "tcg");
	assert_non_null(c);
	assert_int_equal(c->n, 2);
	assert_float_equal(c->total_ms, 6000, 1e-9);
	assert_float_equal(c->run_ms, 3100, 1e-9);
	assert_float_equal(c->duration_ms, 3000, 1e-9);
	c = find(v, n, "1n1l2c1t", "kvm");
	assert_non_null(c);
	assert_float_equal(c->total_ms, 3000, 1e-9);
	c = find(v, n, "1n2l2c1t", "tcg");
	assert_non_null(c);
	assert_int_equal(c->n, 1);
	assert_float_equal(c->total_ms, 9000, 1e-9);
	free(v);
	/* since: only what was stored from then on. */
	assert_int_equal(kt_store_cost_samples(s, NOW + 3, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].topology, "1n2l2c1t");
	free(v);
	kt_store_close(s);
	fx_rm_db(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cost_samples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
