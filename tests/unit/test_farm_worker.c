/* The farm worker's parts (outbox, artifact assembler, admission, child
 * outcomes, hello) and its event loop against a fake coordinator: a
 * ROUTER socket in this test, the real daemon loop in a thread. Nothing
 * here boots a guest: the entries used end before QEMU (infra: scx-ktstr
 * missing, a scenario
 * that does not fit, a broken scenario, a failed fetch). */
#define _GNU_SOURCE
#include <dirent.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <zmq.h>
#include "artifact.h"
#include "farm_msg.h"
#include "farm_worker.h"
#include "kernel_cache.h"
#include "outbox.h"
#include "outcome.h"
#include "sha256.h"
#include "util.h"

/* ---- helpers ---- */

static char tmp[64];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static int setup_tmp(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/kt-fw-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	return 0;
}

static int teardown_tmp(void **state)
{
	(void)state;
	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void sha_hex(const void *p, size_t n, char out[65])
{
	struct kt_sha256 s;
	uint8_t d[32];

	kt_sha256_init(&s);
	kt_sha256_update(&s, p, n);
	kt_sha256_final(&s, d);
	kt_sha256_hex(d, out);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	struct kt_err e;

	assert_int_equal(kt_write_file(path, p, n, &e), 0);
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A synthetic bzImage the kernel cache accepts (as test_kernel_cache's). */
#define IMG_LEN 8192
#define SETUP_LEN 2560

static void make_image(uint8_t *img, const char *version)
{
	memset(img, 0, IMG_LEN);
	for (size_t i = SETUP_LEN; i < IMG_LEN; i++)
		img[i] = (uint8_t)(i * 7);
	img[0x1f1] = 4;
	img[0x1f4] = (uint8_t)((IMG_LEN - SETUP_LEN) / 16);
	img[0x1f5] = (uint8_t)(((IMG_LEN - SETUP_LEN) / 16) >> 8);
	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = 0x0f;
	img[0x207] = 0x02;
	img[0x20e] = 0x00;
	img[0x20f] = 0x03;
	img[0x211] = 1;
	strcpy((char *)img + 0x500, version);
}

static uint8_t *status_outcome(uint64_t id, uint32_t attempt, enum kt_status st,
			       uint64_t ended, size_t *len)
{
	struct kt_outcome_meta m = {id, attempt, "w1", ended - 1, ended};
	uint8_t *buf;
	struct kt_err e;

	assert_int_equal(kt_outcome_pack_status(&m, st, "msg", &buf, len, &e), 0);
	return buf;
}

static void add_outcome(struct kt_outbox *ob, uint64_t id, uint32_t attempt, enum kt_status st,
			uint64_t ended, int want)
{
	size_t len;
	uint8_t *b = status_outcome(id, attempt, st, ended, &len);
	struct kt_err e;

	assert_int_equal(kt_outbox_add(ob, b, len, NULL, &e), want);
	free(b);
}

/* ---- outbox ---- */

static void outbox_memory(void **state)
{
	struct kt_outbox *ob;
	Ktstr__EntryOutcome *o[16];
	const Ktstr__EntryOutcome *kept;
	size_t len1;
	uint8_t *b;
	struct kt_err e;

	(void)state;
	assert_int_equal(kt_outbox_open(NULL, &ob, NULL, &e), 0);
	add_outcome(ob, 1, 1, KT_PASS, 10, 0);
	add_outcome(ob, 2, 1, KT_FAIL, 20, 0);
	assert_int_equal(kt_outbox_count(ob), 2);
	assert_true(kt_outbox_has(ob, 1, 1));
	assert_false(kt_outbox_has(ob, 1, 2));
	/* both due now, oldest first; then not before NOW + RETRY */
	assert_int_equal(kt_outbox_pick(ob, true, 1000, 500, KT_OUTCOME_MAX, o, 16), 2);
	assert_int_equal(o[0]->ref->entry_id, 1);
	assert_int_equal(o[1]->ref->entry_id, 2);
	assert_int_equal(kt_outbox_pick(ob, true, 1200, 500, KT_OUTCOME_MAX, o, 16), 0);
	assert_int_equal(kt_outbox_pick(ob, true, 1500, 500, KT_OUTCOME_MAX, o, 16), 2);
	/* a hello takes them whether due or not, within its byte budget */
	assert_int_equal(kt_outbox_pick(ob, false, 1600, 500, KT_OUTCOME_MAX, o, 16), 2);
	b = status_outcome(1, 1, KT_PASS, 10, &len1);
	free(b);
	assert_int_equal(kt_outbox_pick(ob, false, 1600, 500, len1, o, 16), 1);
	assert_int_equal(kt_outbox_pick(ob, false, 1600, 500, len1 - 1, o, 16), 0);
	assert_int_equal(kt_outbox_pick(ob, false, 1600, 500, KT_OUTCOME_MAX, o, 1), 1);
	/* the same ref again replaces it */
	b = status_outcome(1, 1, KT_INFRA, 30, &len1);
	assert_int_equal(kt_outbox_add(ob, b, len1, &kept, &e), 0);
	free(b);
	assert_string_equal(kept->status, "infra");
	assert_int_equal(kt_outbox_count(ob), 2);
	assert_true(kt_outbox_ack(ob, 1, 1));
	assert_false(kt_outbox_ack(ob, 1, 1));
	assert_int_equal(kt_outbox_count(ob), 1);
	/* not an outcome: refused */
	assert_int_equal(kt_outbox_add(ob, (const uint8_t *)"\xff\xff", 2, NULL, &e), -1);
	assert_int_equal(kt_outbox_count(ob), 1);
	kt_outbox_free(ob);
}

static void outbox_disk(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], cmd[PATH_MAX + 16];
	struct kt_outbox *ob;
	Ktstr__EntryOutcome *o[4];
	size_t bad, len;
	uint8_t *b;
	struct kt_err e;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/outbox", tmp);
	assert_int_equal(kt_outbox_open(dir, &ob, &bad, &e), 0);
	assert_int_equal(bad, 0);
	add_outcome(ob, 3, 1, KT_PASS, 30, 0);
	add_outcome(ob, 1, 2, KT_FAIL, 10, 0);
	kt_outbox_free(ob);
	snprintf(path, sizeof(path), "%s/3-1.pb", dir);
	assert_int_equal(access(path, F_OK), 0);

	/* a restarted worker finds them, oldest first */
	assert_int_equal(kt_outbox_open(dir, &ob, &bad, &e), 0);
	assert_int_equal(kt_outbox_count(ob), 2);
	assert_int_equal(kt_outbox_pick(ob, false, 0, 1, KT_OUTCOME_MAX, o, 4), 2);
	assert_int_equal(o[0]->ref->entry_id, 1);
	assert_int_equal(o[0]->ref->attempt, 2);
	assert_string_equal(o[0]->status, "fail");
	assert_true(kt_outbox_ack(ob, 3, 1));
	assert_int_equal(access(path, F_OK), -1);
	kt_outbox_free(ob);

	/* garbage, and a file whose name is not its content: set aside */
	snprintf(path, sizeof(path), "%s/5-1.pb", dir);
	write_bytes(path, "garbage", 7);
	b = status_outcome(8, 1, KT_PASS, 5, &len);
	snprintf(path, sizeof(path), "%s/7-1.pb", dir);
	write_bytes(path, b, len);
	free(b);
	assert_int_equal(kt_outbox_open(dir, &ob, &bad, &e), 0);
	assert_int_equal(bad, 2);
	assert_int_equal(kt_outbox_count(ob), 1);
	snprintf(path, sizeof(path), "%s/7-1.pb.bad", dir);
	assert_int_equal(access(path, F_OK), 0);

	/* the disk goes away: kept in memory all the same, and said so */
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	b = status_outcome(9, 1, KT_PASS, 50, &len);
	assert_int_equal(kt_outbox_add(ob, b, len, NULL, &e), 1);
	free(b);
	assert_non_null(strstr(e.msg, "outbox"));
	assert_true(kt_outbox_has(ob, 9, 1));
	kt_outbox_free(ob);
}

/* ---- artifact assembler ---- */

static void chunk_init(Ktstr__ArtifactChunk *c, const char *sha, uint64_t off, uint64_t total,
		       const uint8_t *data, size_t n)
{
	ktstr__artifact_chunk__init(c);
	c->sha256 = (char *)sha;
	c->offset = off;
	c->has_total_size = 1;
	c->total_size = total;
	c->has_data = 1;
	c->data.data = (uint8_t *)data;
	c->data.len = n;
}

static void asm_chunks(void **state)
{
	const size_t n = 2 * KT_FARM_CHUNK + 1000;
	uint8_t *data = malloc(n);
	char sha[65], dir[PATH_MAX], path[PATH_MAX + 80], *got;
	Ktstr__ArtifactChunk c;
	struct kt_asm *a;
	uint64_t off;
	uint32_t len;
	size_t glen;
	struct kt_err e;

	(void)state;
	for (size_t i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 31 + (i >> 12));
	sha_hex(data, n, sha);
	snprintf(dir, sizeof(dir), "%s/artifacts", tmp);
	assert_int_equal(kt_asm_begin(dir, sha, n, 3 * KT_FARM_CHUNK, &a, &e), 0);
	kt_asm_next(a, &off, &len);
	assert_int_equal(off, 0);
	assert_int_equal(len, KT_FARM_CHUNK);
	chunk_init(&c, sha, 0, n, data, KT_FARM_CHUNK);
	assert_int_equal(kt_asm_feed(a, &c, &e), KT_ASM_MORE);
	assert_int_equal(kt_asm_feed(a, &c, &e), KT_ASM_STALE); /* a late duplicate */
	kt_asm_next(a, &off, &len);
	assert_int_equal(off, KT_FARM_CHUNK);
	chunk_init(&c, sha, off, n, data + off, len);
	assert_int_equal(kt_asm_feed(a, &c, &e), KT_ASM_MORE);
	kt_asm_next(a, &off, &len);
	assert_int_equal(off, 2 * KT_FARM_CHUNK);
	assert_int_equal(len, 1000);
	chunk_init(&c, sha, off, n, data + off, len);
	assert_int_equal(kt_asm_feed(a, &c, &e), KT_ASM_DONE);
	assert_int_equal(kt_asm_feed(a, &c, &e), KT_ASM_STALE);
	kt_asm_free(a);
	kt_artifact_path(tmp, sha, path, sizeof(path));
	assert_int_equal(kt_read_file(path, n, &got, &glen, &e), 0);
	assert_int_equal(glen, n);
	assert_memory_equal(got, data, n);
	free(got);
	assert_int_equal(count_entries(dir), 1); /* no .part left */

	/* size not announced: a full chunk is asked for, the answer says */
	sha_hex(data, 1000, sha);
	assert_int_equal(kt_asm_begin(dir, sha, 0, 4096, &a, &e), 0);
	kt_asm_next(a, &off, &len);
	assert_int_equal(len, KT_FARM_CHUNK);
	chunk_init(&c, sha, 0, 1000, data, 1000);
	assert_int_equal(kt_asm_feed(a, &c, &e), KT_ASM_DONE);
	kt_asm_free(a);

	/* an empty artifact */
	sha_hex("", 0, sha);
	assert_int_equal(kt_asm_begin(dir, sha, 0, 4096, &a, &e), 0);
	chunk_init(&c, sha, 0, 0, NULL, 0);
	c.has_data = 0;
	assert_int_equal(kt_asm_feed(a, &c, &e), KT_ASM_DONE);
	kt_asm_free(a);
	assert_int_equal(count_entries(dir), 3);
	free(data);
}

/* Feed FIRST (and then SECOND, if given) to a fresh assembly of DATA's
 * sha: the last feed fails with WHY and nothing is left on disk. */
static void asm_fails(const char *sha, uint64_t announced, uint64_t max,
		      const Ktstr__ArtifactChunk *first, const Ktstr__ArtifactChunk *second,
		      const char *why)
{
	char dir[PATH_MAX];
	struct kt_asm *a;
	struct kt_err e = {""};

	snprintf(dir, sizeof(dir), "%s/fail", tmp);
	assert_int_equal(kt_asm_begin(dir, sha, announced, max, &a, &e), 0);
	if (second)
		assert_int_equal(kt_asm_feed(a, first, &e), KT_ASM_MORE);
	assert_int_equal(kt_asm_feed(a, second ? second : first, &e), -1);
	if (!strstr(e.msg, why))
		fail_msg("'%s' does not say '%s'", e.msg, why);
	assert_non_null(strstr(e.msg, "artifact "));
	assert_int_equal(kt_asm_feed(a, first, &e), -1);
	assert_non_null(strstr(e.msg, "failed already"));
	assert_int_equal(count_entries(dir), 0);
	kt_asm_free(a);
}

static void asm_rejects(void **state)
{
	static uint8_t big[KT_FARM_CHUNK + 1];
	const uint8_t *hello = (const uint8_t *)"hello world";
	char sha[65], other[65], dir[PATH_MAX];
	Ktstr__ArtifactChunk c, d;
	struct kt_asm *a;
	struct kt_err e;

	(void)state;
	sha_hex(hello, 11, sha);
	sha_hex("hello worle", 11, other);
	chunk_init(&c, other, 0, 11, hello, 11);
	asm_fails(other, 11, 100, &c, NULL, "sha256 mismatch");
	chunk_init(&c, sha, 0, 11, hello, 11);
	asm_fails(sha, 0, 10, &c, NULL, "11 bytes, over the limit of 10");
	asm_fails(sha, 12, 100, &c, NULL, "11 bytes, but the assignment announced 12");
	chunk_init(&c, sha, 0, 10, hello, 11);
	asm_fails(sha, 0, 100, &c, NULL, "runs past the end");
	chunk_init(&c, sha, 0, sizeof(big), big, sizeof(big));
	asm_fails(sha, 0, 2 * sizeof(big), &c, NULL, "more than 1048576");
	chunk_init(&c, sha, 0, 11, hello, 5);
	chunk_init(&d, sha, 5, 12, hello + 5, 6);
	asm_fails(sha, 0, 100, &c, &d, "total size changed from 11 to 12");
	chunk_init(&d, sha, 5, 11, hello + 5, 0);
	asm_fails(sha, 0, 100, &c, &d, "empty chunk at 5 of 11");
	chunk_init(&c, sha, 0, 11, hello, 11);
	c.has_total_size = 0;
	asm_fails(sha, 0, 100, &c, NULL, "without total_size");
	ktstr__artifact_chunk__init(&c);
	c.sha256 = sha;
	c.error = "unknown artifact\n";
	asm_fails(sha, 0, 100, &c, NULL, "the coordinator says: unknown artifact?");

	snprintf(dir, sizeof(dir), "%s/fail", tmp);
	assert_int_equal(kt_asm_begin(dir, "ABC", 0, 100, &a, &e), -1);
	assert_non_null(strstr(e.msg, "not a sha256"));
	other[0] = 0;
	for (int i = 0; i < 64; i++)
		strcat(other, "A");
	assert_int_equal(kt_asm_begin(dir, other, 0, 100, &a, &e), -1);
	assert_int_equal(kt_asm_begin(dir, sha, 101, 100, &a, &e), -1);
	assert_non_null(strstr(e.msg, "announced size 101 is over the limit of 100"));
	assert_true(kt_artifact_sha_ok(sha));
	assert_false(kt_artifact_sha_ok(""));
	assert_false(kt_artifact_sha_ok(other));
}

/* ---- admission ---- */

struct asg {
	Ktstr__FarmMsg m;
	Ktstr__Assignment a;
	Ktstr__EntryRef ref;
	Ktstr__KernelRef k;
	Ktstr__ArtifactRef img, cfg, sc, bin;
	Ktstr__SchedulerRef sched;
	Ktstr__CheckOverrides checks;
};

static const char ZSHA[] = "00000000000000000000000000000000000000000000000000000000000000aa";

static void asg_init(struct asg *x, uint64_t id, const char *topo, const char *img,
		     const char *sc)
{
	memset(x, 0, sizeof(*x));
	ktstr__farm_msg__init(&x->m);
	ktstr__assignment__init(&x->a);
	ktstr__entry_ref__init(&x->ref);
	ktstr__kernel_ref__init(&x->k);
	ktstr__artifact_ref__init(&x->img);
	ktstr__artifact_ref__init(&x->cfg);
	ktstr__artifact_ref__init(&x->sc);
	ktstr__artifact_ref__init(&x->bin);
	ktstr__scheduler_ref__init(&x->sched);
	ktstr__check_overrides__init(&x->checks);
	x->ref.entry_id = id;
	x->ref.attempt = 1;
	x->img.sha256 = (char *)img;
	x->img.name = "vmlinuz-test";
	x->sc.sha256 = (char *)sc;
	x->sc.name = "test.yaml";
	x->k.image = &x->img;
	x->a.ref = &x->ref;
	x->a.name = "test/1n1l2c1t/eevdf/k";
	x->a.kernel = &x->k;
	x->a.topology = (char *)topo;
	x->a.scenario = &x->sc;
	x->m.body_case = KTSTR__FARM_MSG__BODY_ASSIGN;
	x->m.assign = &x->a;
}

static void expect_verdict(const struct kt_fw_capacity *cap, const Ktstr__Assignment *a,
			   enum kt_fw_verdict want, const char *why)
{
	struct kt_fw_need need;
	char buf[KT_ERR_MAX] = "";
	enum kt_fw_verdict v = kt_fw_admit(cap, a, &need, buf, sizeof(buf));

	if (v != want)
		fail_msg("verdict %d, expected %d (%s)", v, want, buf);
	if (why && !strstr(buf, why))
		fail_msg("'%s' does not say '%s'", buf, why);
}

static void admission(void **state)
{
	struct kt_fw_capacity cap = {8, 2, 4096, 1024, false, false};
	struct kt_fw_need need;
	struct asg x;
	char why[KT_ERR_MAX];

	(void)state;
	asg_init(&x, 1, "1n2l2c1t", ZSHA, ZSHA);
	assert_int_equal(kt_fw_admit(&cap, &x.a, &need, why, sizeof(why)), KT_FW_RUN);
	assert_int_equal(need.vcpus, 4);
	assert_int_equal(need.memory_mb, 256);
	assert_int_equal(need.topo.llcs, 2);
	x.a.has_memory_mb = 1;
	x.a.memory_mb = 3072;
	assert_int_equal(kt_fw_admit(&cap, &x.a, &need, why, sizeof(why)), KT_FW_RUN);
	assert_int_equal(need.memory_mb, 3072);
	/* budget: 6 vCPUs and 3072 MiB free */
	x.a.memory_mb = 3073;
	expect_verdict(&cap, &x.a, KT_FW_HANDBACK,
		       "over budget: needs 4 vCPUs and 3073 MiB; 6 of 8 vCPUs and 3072 of 4096 "
		       "MiB free");
	x.a.has_memory_mb = 0;
	x.a.topology = "1n1l7c1t";
	expect_verdict(&cap, &x.a, KT_FW_HANDBACK, "over budget");
	x.a.topology = "1n1l6c1t";
	expect_verdict(&cap, &x.a, KT_FW_RUN, NULL);
	/* draining comes first, even before a malformed assignment */
	cap.draining = true;
	x.a.topology = "nonsense";
	expect_verdict(&cap, &x.a, KT_FW_HANDBACK, "worker draining");
	cap.draining = false;
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "topology 'nonsense'");
	x.a.topology = "1n1l2c1t";
	x.a.has_vcpus = 1;
	x.a.vcpus = 4;
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "assignment says 4 vCPUs, topology 1n1l2c1t has 2");
	x.a.has_vcpus = 0;
	x.a.has_memory_mb = 1;
	x.a.memory_mb = 0;
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "memory_mb 0");
	x.a.has_memory_mb = 0;
	x.img.sha256 = "abc";
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "kernel: 'abc' is not a sha256");
	x.img.sha256 = (char *)ZSHA;
	x.k.config = &x.cfg;
	x.cfg.sha256 = "\x01";
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "kernel config: '?' is not a sha256");
	x.k.config = NULL;
	x.sc.has_size = 1;
	x.sc.size = KT_SCENARIO_MAX_BYTES + 1;
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "scenario: 1048577 bytes, over the limit");
	x.sc.has_size = 0;
	x.a.checks = &x.checks;
	x.checks.has_max_spread = 1;
	x.checks.max_spread = 101;
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "checks.max_spread 101");
	x.checks.max_spread = NAN;
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "checks.max_spread");
	x.checks.has_max_spread = 0;
	x.checks.has_max_gap_ms = 1;
	x.checks.max_gap_ms = -1;
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "checks.max_gap_ms -1");
	x.checks.has_max_gap_ms = 0;
	x.checks.has_max_wake_cv = 1;
	x.checks.max_wake_cv = 1000;
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "checks.max_wake_cv 1000: expected 0 to 100");
	x.checks.max_wake_cv = -1; /* off */
	expect_verdict(&cap, &x.a, KT_FW_RUN, NULL);
	x.checks.has_max_wake_cv = 0;
	x.a.has_workers = 1;
	x.a.workers = 257;
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "workers 257");
	x.a.has_workers = 0;
	x.a.has_duration_ms = 1;
	x.a.duration_ms = 86400001;
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "duration_ms");
	x.a.has_duration_ms = 0;
	/* schedulers: the kernel's own runs; any other needs a binary, but
	 * the built-in scx-ktstr, which a worker without it answers with infra */
	x.a.scheduler = &x.sched;
	x.sched.name = "eevdf";
	expect_verdict(&cap, &x.a, KT_FW_RUN, NULL);
	x.sched.name = "scx_rusty";
	expect_verdict(&cap, &x.a, KT_FW_ERROR,
		       "scheduler scx_rusty: no binary (only scx-ktstr is built in)");
	x.sched.binary = &x.bin;
	x.bin.sha256 = "xyz";
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "scheduler binary: 'xyz' is not a sha256");
	x.bin.sha256 = (char *)ZSHA;
	expect_verdict(&cap, &x.a, KT_FW_RUN, NULL);
	x.sched.name = "../rusty";
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "scheduler '../rusty': ");
	x.sched.name = "scx_rusty";
	{
		char *bad_kv[] = { "kernel.x=1", "novalue" }, *bad_arg[] = { "a b" },
		     *ok_kv[] = { "net.ipv4.ip_local_port_range=32768 60999" };

		x.a.sysctls = bad_kv;
		x.a.n_sysctls = 2;
		char *bad_key[] = { "../../etc/passwd=x" }, *sp_arg[] = { "--name=a b" };

		expect_verdict(&cap, &x.a, KT_FW_ERROR, "sysctls[1] 'novalue': expected KEY=VALUE");
		x.a.sysctls = bad_key;
		x.a.n_sysctls = 1;
		expect_verdict(&cap, &x.a, KT_FW_ERROR, "sysctls[0] '../../etc/passwd=x'");
		x.sched.args = sp_arg; /* argv elements may hold blanks */
		x.sched.n_args = 1;
		x.a.n_sysctls = 0;
		expect_verdict(&cap, &x.a, KT_FW_RUN, NULL);
		x.sched.n_args = 0;
		x.a.sysctls = ok_kv;
		x.a.n_sysctls = 1;
		expect_verdict(&cap, &x.a, KT_FW_RUN, NULL);
		x.a.kernel_args = bad_arg;
		x.a.n_kernel_args = 1;
		expect_verdict(&cap, &x.a, KT_FW_ERROR, "kernel_args[0] 'a b': expected");
		x.a.n_kernel_args = 0;
		x.a.n_sysctls = 0;
	}
	x.sched.binary = NULL;
	x.sched.name = "scx-ktstr";
	expect_verdict(&cap, &x.a, KT_FW_INFRA, "scheduler scx-ktstr: this worker was built "
		       "without it");
	/* refused before the budget is asked */
	x.a.topology = "1n1l8c1t";
	expect_verdict(&cap, &x.a, KT_FW_INFRA, NULL);
	cap.has_scx_ktstr = true;
	expect_verdict(&cap, &x.a, KT_FW_HANDBACK, "over budget");
	x.a.topology = "1n1l2c1t";
	expect_verdict(&cap, &x.a, KT_FW_RUN, NULL);
}

/* The scheduler of an assignment as kt_entry_run takes it: eevdf is none;
 * scx-ktstr is the worker's own; a binary is the fetched artifact, copied
 * executable under the scheduler's name, once. */
static void sched_of(void **state)
{
	static const char elf[] = "\177ELF fake scheduler";
	char cache[PATH_MAX + 16], art[PATH_MAX + 100], sha[65], want[PATH_MAX + 200], *back;
	char *args[] = { "--stall-after=1", "-v" }, *kv[] = { "kernel.x=1" }, *ka[] = { "nokaslr" };
	struct kt_fw_sched fs;
	struct kt_err e = { "" };
	struct stat stb;
	struct asg x;
	size_t n;

	(void)state;
	asg_init(&x, 1, "1n1l2c1t", ZSHA, ZSHA);
	assert_int_equal(kt_fw_sched_of(tmp, "/opt/scx-ktstr", &x.a, &fs, &e), 0);
	assert_false(fs.on); /* no scheduler: the kernel's own */
	kt_fw_sched_free(&fs);
	x.a.scheduler = &x.sched;
	x.sched.name = "eevdf";
	assert_int_equal(kt_fw_sched_of(tmp, "/opt/scx-ktstr", &x.a, &fs, &e), 0);
	assert_false(fs.on);
	kt_fw_sched_free(&fs);
	/* The built-in one, with everything the assignment says. */
	x.sched.name = "scx-ktstr";
	x.sched.args = args;
	x.sched.n_args = 2;
	x.a.has_expect_err = x.a.expect_err = 1;
	x.a.sysctls = kv;
	x.a.n_sysctls = 1;
	x.a.kernel_args = ka;
	x.a.n_kernel_args = 1;
	assert_int_equal(kt_fw_sched_of(tmp, "/opt/scx-ktstr", &x.a, &fs, &e), 0);
	assert_true(fs.on);
	assert_string_equal(fs.es.name, "scx-ktstr");
	assert_string_equal(fs.es.binary, "/opt/scx-ktstr");
	assert_string_equal(fs.es.args[0], "--stall-after=1");
	assert_string_equal(fs.es.args[1], "-v");
	assert_null(fs.es.args[2]);
	assert_true(fs.es.expect_err);
	assert_string_equal(fs.es.sysctls[0], "kernel.x=1");
	assert_null(fs.es.sysctls[1]);
	assert_string_equal(fs.es.kernel_args[0], "nokaslr");
	assert_null(fs.es.kernel_args[1]);
	kt_fw_sched_free(&fs);
	assert_int_equal(kt_fw_sched_of(tmp, NULL, &x.a, &fs, &e), -1);
	assert_non_null(strstr(e.msg, "scheduler scx-ktstr: no built-in binary"));
	kt_fw_sched_free(&fs);
	/* A binary: missing from the cache, then fetched. */
	snprintf(cache, sizeof(cache), "%s/schedcache", tmp);
	sha_hex(elf, sizeof(elf), sha);
	x.sched.name = "scx_mine";
	x.sched.binary = &x.bin;
	x.bin.sha256 = sha;
	x.sched.n_args = 0;
	x.a.expect_err = 0;
	assert_int_equal(kt_fw_sched_of(cache, NULL, &x.a, &fs, &e), -1);
	assert_non_null(strstr(e.msg, "scheduler binary scx_mine"));
	kt_fw_sched_free(&fs);
	kt_artifact_path(cache, sha, art, sizeof(art));
	assert_int_equal(kt_mkdir_p(dirname(strcpy(want, art)), &e), 0);
	write_bytes(art, elf, sizeof(elf));
	assert_int_equal(kt_fw_sched_of(cache, NULL, &x.a, &fs, &e), 0);
	snprintf(want, sizeof(want), "%s/artifacts/bin/%s/scx_mine", cache, sha);
	assert_string_equal(fs.es.binary, want);
	assert_string_equal(fs.es.name, "scx_mine");
	assert_null(fs.es.args);
	assert_false(fs.es.expect_err);
	assert_int_equal(stat(want, &stb), 0);
	assert_int_equal(stb.st_mode & 0777, 0755);
	assert_int_equal(kt_read_file(want, 1024, &back, &n, &e), 0);
	assert_int_equal(n, sizeof(elf));
	assert_memory_equal(back, elf, n);
	free(back);
	kt_fw_sched_free(&fs);
	/* Made once: a second entry finds it (even with the artifact gone). */
	unlink(art);
	assert_int_equal(kt_fw_sched_of(cache, NULL, &x.a, &fs, &e), 0);
	assert_string_equal(fs.es.binary, want);
	kt_fw_sched_free(&fs);
}

/* Payload binaries of an assignment: refs checked at admission (a sha256
 * named by an absolute path, at most a scenario's number); a scenario
 * payload the assignment lacks is named; each fetched one is installed
 * executable under its path's basename and mapped from that path for
 * kt_entry_run. */
static void payloads_of(void **state)
{
	static const char elf[] = "\177ELF fake payload";
	static const char scen[] =
		"name: pay\n"
		"steps:\n"
		"  - ops:\n"
		"      - {run_payload: {name: b, path: /opt/pay/bench}}\n"
		"      - {run_payload: {name: e, path: /usr/bin/echo, args: ['{}']}}\n"
		"    cgroups: [{name: cg_0}]\n";
	struct kt_fw_capacity cap = {8, 0, 4096, 0, false, true};
	char cache[PATH_MAX + 16], art[PATH_MAX + 100], sha[65], want[PATH_MAX + 200], *back;
	Ktstr__ArtifactRef pr[KT_SPEC_MAX_PAYLOADS + 1], *pp[KT_SPEC_MAX_PAYLOADS + 1];
	struct kt_fw_payloads fp;
	struct kt_scenario *sc;
	struct kt_err e = { "" };
	struct stat stb;
	struct asg x;
	size_t n;

	(void)state;
	sha_hex(elf, sizeof(elf), sha);
	for (size_t i = 0; i <= KT_SPEC_MAX_PAYLOADS; i++) {
		ktstr__artifact_ref__init(&pr[i]);
		pr[i].sha256 = sha;
		pr[i].name = "/opt/pay/bench";
		pp[i] = &pr[i];
	}
	asg_init(&x, 1, "1n1l2c1t", ZSHA, ZSHA);
	x.a.payloads = pp;
	x.a.n_payloads = 1;
	expect_verdict(&cap, &x.a, KT_FW_RUN, NULL);
	pr[0].sha256 = "nope";
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "payload binary: 'nope' is not a sha256");
	pr[0].sha256 = sha;
	pr[0].has_size = 1;
	pr[0].size = KT_FW_BINARY_MAX + 1;
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "payload binary:");
	pr[0].has_size = 0;
	pr[0].name = "bench";
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "payloads[0] 'bench': expected the absolute path");
	pr[0].name = "/opt/pay/..";
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "payloads[0] '/opt/pay/..'");
	pr[0].name = NULL;
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "payloads[0] ''");
	pr[0].name = "/opt/pay/bench";
	x.a.n_payloads = KT_SPEC_MAX_PAYLOADS + 1;
	expect_verdict(&cap, &x.a, KT_FW_ERROR, "payloads: 17, more than 16");
	x.a.n_payloads = 1;

	/* The scenario runs two payloads; the assignment carries one. */
	assert_int_equal(kt_scenario_parse(scen, strlen(scen), "pay.yaml", &sc, &e), 0);
	assert_string_equal(kt_fw_payload_missing(&x.a, sc), "/usr/bin/echo");
	pr[1].name = "/usr/bin/echo";
	x.a.n_payloads = 2;
	assert_null(kt_fw_payload_missing(&x.a, sc));
	x.a.n_payloads = 0;
	assert_string_equal(kt_fw_payload_missing(&x.a, sc), "/opt/pay/bench");
	kt_scenario_free(sc);

	/* Installed from the fetched artifact: missing first, then there. */
	snprintf(cache, sizeof(cache), "%s/paycache", tmp);
	x.a.n_payloads = 2;
	assert_int_equal(kt_fw_payloads_of(cache, &x.a, &fp, &e), -1);
	assert_non_null(strstr(e.msg, "payload binary bench"));
	kt_artifact_path(cache, sha, art, sizeof(art));
	assert_int_equal(kt_mkdir_p(dirname(strcpy(want, art)), &e), 0);
	write_bytes(art, elf, sizeof(elf));
	assert_int_equal(kt_fw_payloads_of(cache, &x.a, &fp, &e), 0);
	assert_string_equal(fp.map[0].scenario_path, "/opt/pay/bench");
	snprintf(want, sizeof(want), "%s/artifacts/bin/%s/bench", cache, sha);
	assert_string_equal(fp.map[0].local_path, want);
	assert_int_equal(stat(want, &stb), 0);
	assert_int_equal(stb.st_mode & 0777, 0755);
	assert_int_equal(kt_read_file(want, 1024, &back, &n, &e), 0);
	assert_int_equal(n, sizeof(elf));
	assert_memory_equal(back, elf, n);
	free(back);
	/* The same bytes under another path: its own basename. */
	assert_string_equal(fp.map[1].scenario_path, "/usr/bin/echo");
	snprintf(want, sizeof(want), "%s/artifacts/bin/%s/echo", cache, sha);
	assert_string_equal(fp.map[1].local_path, want);
	assert_int_equal(access(want, X_OK), 0);
	assert_null(fp.map[2].scenario_path);
	/* None: an empty map, kt_entry_run takes the scenario's paths. */
	x.a.n_payloads = 0;
	assert_int_equal(kt_fw_payloads_of(cache, &x.a, &fp, &e), 0);
	assert_null(fp.map[0].scenario_path);
}

static void check_overrides(void **state)
{
	Ktstr__CheckOverrides o = KTSTR__CHECK_OVERRIDES__INIT;
	struct kt_checks_cfg c;

	(void)state;
	kt_checks_cfg_default(&c);
	kt_fw_apply_checks(NULL, &c);
	kt_fw_apply_checks(&o, &c);
	assert_true(c.not_starved);
	assert_true(c.max_gap_ms == 2000 && c.max_spread == 15);
	assert_false(c.isolation);
	o.has_not_starved = o.has_isolation = o.has_max_gap_ms = 1;
	o.not_starved = 0;
	o.isolation = 1;
	o.max_gap_ms = 5000;
	kt_fw_apply_checks(&o, &c);
	assert_false(c.not_starved);
	assert_true(c.isolation);
	assert_true(c.max_gap_ms == 5000 && c.max_spread == 15);
	/* The optional checks: a value turns one on, a negative one off. */
	assert_true(c.max_p99_wake_us == KT_CHECK_OFF);
	o.has_max_p99_wake_us = o.has_max_migration_ratio = 1;
	o.max_p99_wake_us = 1500;
	o.max_migration_ratio = 0.5;
	kt_fw_apply_checks(&o, &c);
	assert_true(c.max_p99_wake_us == 1500 && c.max_migration_ratio == 0.5);
	o.max_p99_wake_us = -1;
	kt_fw_apply_checks(&o, &c);
	assert_true(c.max_p99_wake_us == KT_CHECK_OFF && c.max_migration_ratio == 0.5);
	/* Out of range (kt_fw_admit refuses such an assignment): nothing applied. */
	o.max_migration_ratio = 1e9;
	o.max_gap_ms = 7000;
	kt_fw_apply_checks(&o, &c);
	assert_true(c.max_gap_ms == 5000 && c.max_migration_ratio == 0.5);
}

/* ---- child outcomes ---- */

static void expect_child(const uint8_t *buf, size_t n, int wstatus, const char *status,
			 const char *msg)
{
	struct kt_outcome_meta m = {5, 2, "w1", 1, 2};
	Ktstr__EntryOutcome *o;
	uint8_t *out;
	size_t len;
	struct kt_err e;

	assert_int_equal(kt_fw_child_outcome(&m, buf, n, wstatus, &out, &len, &e), 0);
	assert_int_equal(kt_outcome_unpack(out, len, &o, &e), 0);
	assert_int_equal(o->ref->entry_id, 5);
	assert_int_equal(o->ref->attempt, 2);
	assert_string_equal(o->status, status);
	if (!strstr(o->message, msg))
		fail_msg("'%s' does not say '%s'", o->message, msg);
	ktstr__entry_outcome__free_unpacked(o, NULL);
	free(out);
}

static void child_outcomes(void **state)
{
	struct kt_outcome_meta m = {5, 2, "w1", 1, 2}, other = {5, 3, "w1", 1, 2};
	uint8_t *o, buf[4096];
	size_t len;
	struct kt_err e;

	(void)state;
	assert_int_equal(kt_outcome_pack_status(&m, KT_FAIL, "2 of 3 checks failed", &o, &len, &e),
			 0);
	buf[0] = (uint8_t)len;
	buf[1] = (uint8_t)(len >> 8);
	buf[2] = buf[3] = 0;
	memcpy(buf + 4, o, len);
	free(o);
	expect_child(buf, len + 4, W_EXITCODE(0, 0), "fail", "2 of 3 checks failed");
	/* whole and valid: it counts even if the child died afterwards */
	expect_child(buf, len + 4, W_EXITCODE(0, SIGKILL), "fail", "2 of 3 checks failed");
	expect_child(buf, 0, W_EXITCODE(0, SIGKILL), "infra",
		     "worker child died: signal 9, without an outcome");
	expect_child(buf, 0, W_EXITCODE(0, 0), "infra",
		     "worker child exited with status 0 without an outcome");
	expect_child(buf, len + 3, W_EXITCODE(1, 0), "infra",
		     "worker child exited with status 1 with a truncated or oversized outcome");
	expect_child(buf, 3, W_EXITCODE(0, SIGSEGV), "infra", "signal 11, with a truncated");
	buf[3] = 0x80; /* a length over KT_OUTCOME_MAX */
	expect_child(buf, len + 4, W_EXITCODE(0, 0), "infra", "truncated or oversized");
	buf[3] = 0;
	buf[10] ^= 0xff;
	expect_child(buf, len + 4, W_EXITCODE(0, 0), "infra", "with a bad outcome");
	assert_int_equal(kt_outcome_pack_status(&other, KT_PASS, "ok", &o, &len, &e), 0);
	buf[0] = (uint8_t)len;
	buf[1] = (uint8_t)(len >> 8);
	memcpy(buf + 4, o, len);
	free(o);
	expect_child(buf, len + 4, W_EXITCODE(0, 0), "infra", "the outcome of entry 5 attempt 3");
}

/* ---- hello ---- */

static void hello_contents(void **state)
{
	const char *tags[] = {"numa", "big"};
	struct kt_fw_opts o = {.coordinator = "ipc:///nonexistent", .agent = "/bin/true",
			       .tags = tags, .n_tags = 2, .accel = KT_ACCEL_ONLY_TCG};
	char cache[PATH_MAX], path[PATH_MAX + 256], host[256] = "";
	static uint8_t img[IMG_LEN];
	const Ktstr__WorkerHello *h;
	struct kt_outbox *ob;
	struct kt_kernel k;
	struct kt_fw *fw;
	struct utsname u;
	struct kt_err e;

	(void)state;
	snprintf(cache, sizeof(cache), "%s/cache", tmp);
	make_image(img, "6.1.0-farm");
	snprintf(path, sizeof(path), "%s/img", tmp);
	write_bytes(path, img, IMG_LEN);
	assert_int_equal(kt_kcache_add(cache, path, NULL, &k, &e), 0);
	gethostname(host, sizeof(host) - 1);
	/* The outbox of this worker id: the host name by default. */
	snprintf(path, sizeof(path), "%s/outbox/%.200s", cache, host);
	assert_int_equal(kt_outbox_open(path, &ob, NULL, &e), 0);
	add_outcome(ob, 9, 1, KT_PASS, 10, 0);
	kt_outbox_free(ob);

	o.cache_dir = cache;
	assert_int_equal(kt_fw_new(&o, &fw, &e), 0);
	h = kt_fw_hello(fw, 1000);
	uname(&u);
	assert_string_equal(h->worker_id, host); /* stable across restarts */
	assert_string_equal(kt_fw_id(fw), host);
	assert_string_equal(h->hostname, host);
	assert_int_equal(h->host_cpus, sysconf(_SC_NPROCESSORS_ONLN));
	assert_int_equal(h->vcpus, h->host_cpus);
	assert_int_equal(h->host_memory_mb,
			 (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) >> 20);
	assert_int_equal(h->memory_mb, h->host_memory_mb * 3 / 4);
	assert_string_equal(h->accel, "tcg");
	assert_string_equal(h->arch, u.machine);
	assert_int_equal(h->n_tags, 2);
	assert_string_equal(h->tags[1], "big");
	assert_int_equal(h->n_artifacts, 1);
	assert_string_equal(h->artifacts[0], k.sha256);
	assert_int_equal(h->n_running, 0);
	assert_int_equal(h->n_unacked, 1);
	assert_int_equal(h->unacked[0]->ref->entry_id, 9);
	assert_true(h->has_draining && !h->draining);
	assert_true(protobuf_c_message_check(&h->base));
	kt_fw_free(fw);

	o.id = "w-7";
	o.vcpus = 3;
	o.memory_mb = 1000;
	o.n_tags = 0;
	assert_int_equal(kt_fw_new(&o, &fw, &e), 0);
	h = kt_fw_hello(fw, 1000);
	assert_string_equal(h->worker_id, "w-7");
	assert_int_equal(h->vcpus, 3);
	assert_int_equal(h->memory_mb, 1000);
	assert_int_equal(h->n_tags, 0);
	kt_fw_free(fw);

	o.id = "bad id";
	assert_int_equal(kt_fw_new(&o, &fw, &e), -1);
	assert_non_null(strstr(e.msg, "worker id 'bad id'"));
	o.id = "";
	assert_int_equal(kt_fw_new(&o, &fw, &e), -1);
	o.id = NULL;
	o.tags = (const char *const[]){"ok", "not ok"};
	o.n_tags = 2;
	assert_int_equal(kt_fw_new(&o, &fw, &e), -1);
	assert_non_null(strstr(e.msg, "tag 'not ok'"));
	o.n_tags = 0;
	o.coordinator = NULL;
	assert_int_equal(kt_fw_new(&o, &fw, &e), -1);
}

/* ---- the event loop against a fake coordinator ---- */

#define HB_MS 100

struct blob {
	char sha[65];
	const void *data;
	size_t len;
};

struct fc {
	void *ctx, *router;
	char cache[PATH_MAX];
	char coord[16];
	bool beating;            /* send coordinator heartbeats */
	bool auto_ack;           /* answer hellos with a HelloAck */
	uint64_t last_beat;
	struct kt_farm_peer w;   /* the worker's identity once heard */
	struct blob blobs[8];    /* artifacts served */
	size_t n_blobs, requests;
	struct kt_fw *fw;
	pthread_t thr;
	int rc;
};

static void *worker_thread(void *arg)
{
	struct fc *c = arg;
	struct kt_err e;

	c->rc = kt_fw_run(c->fw, &e);
	return NULL;
}

static void fc_start(struct fc *c, unsigned vcpus)
{
	struct kt_fw_opts o = {.id = "w1", .agent = "/bin/true", .vcpus = vcpus,
			       .memory_mb = 4096, .heartbeat_ms = HB_MS,
			       .accel = KT_ACCEL_ONLY_TCG};
	char ep[PATH_MAX + 16];
	struct kt_err e;

	memset(c, 0, sizeof(*c));
	snprintf(c->coord, sizeof(c->coord), "c1");
	c->auto_ack = true;
	snprintf(c->cache, sizeof(c->cache), "%s/cache", tmp);
	snprintf(ep, sizeof(ep), "ipc://%s/coord.sock", tmp);
	c->ctx = zmq_ctx_new();
	c->router = kt_farm_socket(c->ctx, ZMQ_ROUTER, &e);
	assert_non_null(c->router);
	assert_int_equal(zmq_bind(c->router, ep), 0);
	o.coordinator = ep;
	o.cache_dir = c->cache;
	assert_int_equal(kt_fw_new(&o, &c->fw, &e), 0);
	assert_int_equal(pthread_create(&c->thr, NULL, worker_thread, c), 0);
}

static void fc_send(struct fc *c, Ktstr__FarmMsg *m)
{
	struct kt_err e;

	if (kt_farm_send(c->router, c->w.id, c->w.len, m, &e))
		fail_msg("fake coordinator: %s", e.msg);
}

static void fc_hello_ack(struct fc *c)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__HelloAck a = KTSTR__HELLO_ACK__INIT;

	a.coordinator_id = c->coord;
	m.body_case = KTSTR__FARM_MSG__BODY_HELLO_ACK;
	m.hello_ack = &a;
	fc_send(c, &m);
}

static void fc_ref_msg(struct fc *c, Ktstr__FarmMsg__BodyCase body, uint64_t id)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__EntryRef r = KTSTR__ENTRY_REF__INIT;
	Ktstr__OutcomeAck a = KTSTR__OUTCOME_ACK__INIT;
	Ktstr__CancelEntry x = KTSTR__CANCEL_ENTRY__INIT;

	r.entry_id = id;
	r.attempt = 1;
	a.ref = x.ref = &r;
	x.reason = "run cancelled";
	m.body_case = body;
	if (body == KTSTR__FARM_MSG__BODY_OUTCOME_ACK)
		m.outcome_ack = &a;
	else
		m.cancel_entry = &x;
	fc_send(c, &m);
}

static void fc_serve(struct fc *c, const Ktstr__ArtifactRequest *r)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__ArtifactChunk ch = KTSTR__ARTIFACT_CHUNK__INIT;

	ch.sha256 = r->sha256;
	ch.offset = r->offset;
	ch.error = "unknown artifact";
	for (size_t i = 0; i < c->n_blobs; i++) {
		const struct blob *b = &c->blobs[i];

		if (strcmp(b->sha, r->sha256) || r->offset > b->len)
			continue;
		ch.error = NULL;
		ch.has_total_size = ch.has_data = 1;
		ch.total_size = b->len;
		ch.data.data = (uint8_t *)b->data + r->offset;
		ch.data.len = b->len - r->offset < r->length ? b->len - r->offset : r->length;
	}
	c->requests++;
	m.body_case = KTSTR__FARM_MSG__BODY_ARTIFACT_CHUNK;
	m.artifact_chunk = &ch;
	fc_send(c, &m);
}

/* Serve BYTES as the artifact SHA (or, for a mismatch test, under a
 * sha256 that is not theirs). */
static void fc_blob(struct fc *c, const char *sha, const void *data, size_t len)
{
	struct blob *b;

	assert_true(c->n_blobs < sizeof(c->blobs) / sizeof(c->blobs[0]));
	b = &c->blobs[c->n_blobs++];

	snprintf(b->sha, sizeof(b->sha), "%s", sha);
	b->data = data;
	b->len = len;
}

/* Wait up to MS for a message with body WANT, meanwhile heartbeating,
 * acking hellos and serving artifacts as configured. */
static Ktstr__FarmMsg *fc_expect(struct fc *c, Ktstr__FarmMsg__BodyCase want, int ms)
{
	uint64_t end = kt_now_ms() + (uint64_t)ms;

	while (kt_now_ms() < end) {
		zmq_pollitem_t it = {c->router, 0, ZMQ_POLLIN, 0};
		struct kt_farm_peer peer;
		Ktstr__FarmMsg *m;
		struct kt_err e;

		if (c->beating && c->w.len && kt_now_ms() - c->last_beat >= HB_MS) {
			Ktstr__FarmMsg b = KTSTR__FARM_MSG__INIT;
			Ktstr__Heartbeat h = KTSTR__HEARTBEAT__INIT;

			h.coordinator_id = c->coord;
			b.body_case = KTSTR__FARM_MSG__BODY_HEARTBEAT;
			b.heartbeat = &h;
			fc_send(c, &b);
			c->last_beat = kt_now_ms();
		}
		if (zmq_poll(&it, 1, 20) <= 0)
			continue;
		if (kt_farm_recv(c->router, ZMQ_DONTWAIT, &peer, &m, &e) != 1)
			fail_msg("fake coordinator: bad message from the worker: %s", e.msg);
		c->w = peer;
		if (m->body_case == want)
			return m;
		if (m->body_case == KTSTR__FARM_MSG__BODY_HELLO && c->auto_ack)
			fc_hello_ack(c);
		if (m->body_case == KTSTR__FARM_MSG__BODY_ARTIFACT_REQ && c->n_blobs)
			fc_serve(c, m->artifact_req);
		kt_farm_msg_free(m);
	}
	fail_msg("no %s from the worker within %d ms", kt_farm_body_name(want), ms);
	return NULL;
}

/* Hello, HelloAck, heartbeats from now on. */
static void fc_register(struct fc *c)
{
	Ktstr__FarmMsg *m = fc_expect(c, KTSTR__FARM_MSG__BODY_HELLO, 3000);

	assert_string_equal(m->hello->worker_id, "w1");
	assert_int_equal(m->hello->vcpus, 4);
	assert_int_equal(m->hello->memory_mb, 4096);
	/* built without scx-ktstr beside it: it says so */
	assert_true(m->hello->has_has_scx_ktstr);
	assert_false(m->hello->has_scx_ktstr);
	kt_farm_msg_free(m);
	fc_hello_ack(c);
	c->beating = true;
}

/* A heartbeat from the worker with N_RUNNING entries (and DRAINING). */
static void fc_expect_beat(struct fc *c, size_t n_running, bool draining)
{
	uint64_t end = kt_now_ms() + 3000;

	while (kt_now_ms() < end) {
		Ktstr__FarmMsg *m = fc_expect(c, KTSTR__FARM_MSG__BODY_HEARTBEAT, 3000);
		bool ok = m->heartbeat->n_running == n_running && m->heartbeat->draining == draining;

		assert_string_equal(m->heartbeat->worker_id, "w1");
		kt_farm_msg_free(m);
		if (ok)
			return;
	}
	fail_msg("no heartbeat with %zu running, draining %d", n_running, draining);
}

static void fc_finish(struct fc *c, int want_rc)
{
	assert_int_equal(pthread_join(c->thr, NULL), 0);
	assert_int_equal(c->rc, want_rc);
	kt_fw_free(c->fw);
	zmq_close(c->router);
	zmq_ctx_term(c->ctx);
}

static Ktstr__EntryOutcome *expect_outcome(struct fc *c, uint64_t id, const char *status,
					   Ktstr__FarmMsg **m)
{
	*m = fc_expect(c, KTSTR__FARM_MSG__BODY_OUTCOME, 5000);
	assert_int_equal((*m)->outcome->ref->entry_id, id);
	if (strcmp((*m)->outcome->status, status))
		fail_msg("entry %llu: %s (%s), expected %s", (unsigned long long)id,
			 (*m)->outcome->status, (*m)->outcome->message, status);
	return (*m)->outcome;
}

static void loop_infra_resend_ack_drain(void **state)
{
	struct fc c;
	struct asg x;
	Ktstr__FarmMsg *m;
	Ktstr__EntryOutcome *o;
	uint64_t t0;
	char dir[PATH_MAX + 16];

	(void)state;
	fc_start(&c, 4);
	fc_register(&c);
	asg_init(&x, 1, "1n1l2c1t", ZSHA, ZSHA);
	x.a.scheduler = &x.sched;
	x.sched.name = "scx-ktstr";
	fc_send(&c, &x.m);
	o = expect_outcome(&c, 1, "infra", &m);
	assert_string_equal(o->message, "scheduler scx-ktstr: this worker was built without it "
			    "(no scx-ktstr beside ktstr-worker)");
	assert_string_equal(o->worker_id, "w1");
	kt_farm_msg_free(m);
	/* not acked: sent again, KT_FW_RESEND_BEATS heartbeats later */
	t0 = kt_now_ms();
	expect_outcome(&c, 1, "infra", &m);
	kt_farm_msg_free(m);
	assert_true(kt_now_ms() - t0 >= (KT_FW_RESEND_BEATS - 1) * HB_MS);
	fc_ref_msg(&c, KTSTR__FARM_MSG__BODY_OUTCOME_ACK, 1);
	/* drain: nothing runs, nothing is unacked: done */
	kt_fw_stop(c.fw);
	fc_expect_beat(&c, 0, true);
	fc_finish(&c, 0);
	snprintf(dir, sizeof(dir), "%s/outbox/w1", c.cache);
	assert_int_equal(count_entries(dir), 0);
}

static void loop_fetch_and_run(void **state)
{
	static uint8_t img[IMG_LEN];
	static const char nofit[] = "name: nofit\nsteps:\n  - cgroups:\n"
				    "      - {name: cg_0, cpuset: {exact: [5]}}\n";
	static const char broken[] = "name: [unclosed\n";
	static const char config[] = "CONFIG_SCHED_CLASS_EXT=y\nCONFIG_DEBUG_INFO_BTF=y\n";
	static const char sched_bin[] = "\177ELF a scheduler";
	static const char pay_bin[] = "\177ELF a payload";
	static const char paysc[] = "name: paysc\nsteps:\n  - ops:\n"
				    "      - {run_payload: {name: b, path: /opt/pay/bench}}\n";
	char ksha[65], csha[65], ssha[65], bsha[65], msha[65], xsha[65], path[PATH_MAX + 160];
	char psha[65], qsha[65];
	Ktstr__ArtifactRef pref, *prefs[1] = { &pref };
	Ktstr__EntryOutcome *o;
	Ktstr__FarmMsg *m;
	struct kt_kernel k;
	struct kt_err e;
	struct asg x;
	struct fc c;

	(void)state;
	make_image(img, "6.1.0-farm");
	sha_hex(img, IMG_LEN, ksha);
	sha_hex(config, strlen(config), csha);
	sha_hex(nofit, strlen(nofit), ssha);
	sha_hex(broken, strlen(broken), bsha);
	sha_hex("the real one", 12, msha);
	sha_hex(sched_bin, sizeof(sched_bin), xsha);
	sha_hex(pay_bin, sizeof(pay_bin), psha);
	sha_hex(paysc, strlen(paysc), qsha);
	fc_start(&c, 4);
	fc_blob(&c, ksha, img, IMG_LEN);
	fc_blob(&c, csha, config, strlen(config));
	fc_blob(&c, ssha, nofit, strlen(nofit));
	fc_blob(&c, bsha, broken, strlen(broken));
	fc_register(&c);

	/* everything fetched; the child runs the entry, which stops at the
	 * scenario check before any guest */
	asg_init(&x, 2, "1n1l2c1t", ksha, ssha);
	x.k.config = &x.cfg;
	x.cfg.sha256 = csha;
	x.img.has_size = 1;
	x.img.size = IMG_LEN;
	fc_send(&c, &x.m);
	m = fc_expect(&c, KTSTR__FARM_MSG__BODY_PROGRESS, 3000);
	assert_string_equal(m->progress->phase, "fetching");
	kt_farm_msg_free(m);
	m = fc_expect(&c, KTSTR__FARM_MSG__BODY_PROGRESS, 3000);
	assert_string_equal(m->progress->phase, "running");
	kt_farm_msg_free(m);
	o = expect_outcome(&c, 2, "error", &m);
	assert_non_null(strstr(o->message, "cg_0"));
	assert_true(o->started_at > 0 && o->ended_at >= o->started_at);
	kt_farm_msg_free(m);
	assert_int_equal(c.requests, 3);
	/* the kernel moved into the kernel cache with its config */
	assert_int_equal(kt_kcache_resolve(c.cache, ksha, &k, &e), 0);
	assert_int_equal(k.has_sched_ext, 1);
	kt_artifact_path(c.cache, ksha, path, sizeof(path));
	assert_int_equal(access(path, F_OK), -1);
	kt_artifact_path(c.cache, ssha, path, sizeof(path));
	assert_int_equal(access(path, F_OK), 0);

	/* cached now: only the broken scenario is fetched; it does not parse */
	asg_init(&x, 3, "1n1l2c1t", ksha, bsha);
	fc_send(&c, &x.m);
	o = expect_outcome(&c, 3, "error", &m);
	assert_non_null(strstr(o->message, "test.yaml"));
	kt_farm_msg_free(m);
	assert_int_equal(c.requests, 4);

	/* a scheduler binary is fetched with the rest and installed under the
	 * scheduler's name before the entry runs */
	fc_blob(&c, xsha, sched_bin, sizeof(sched_bin));
	asg_init(&x, 6, "1n1l2c1t", ksha, ssha);
	x.a.scheduler = &x.sched;
	x.sched.name = "scx_mine";
	x.sched.binary = &x.bin;
	x.bin.sha256 = xsha;
	fc_send(&c, &x.m);
	o = expect_outcome(&c, 6, "error", &m);
	assert_non_null(strstr(o->message, "cg_0"));
	kt_farm_msg_free(m);
	assert_int_equal(c.requests, 5);
	snprintf(path, sizeof(path), "%s/artifacts/bin/%s/scx_mine", c.cache, xsha);
	assert_int_equal(access(path, X_OK), 0);

	/* so is a payload binary, under its path's basename; a scenario
	 * payload the assignment does not carry makes the entry an error */
	fc_blob(&c, psha, pay_bin, sizeof(pay_bin));
	fc_blob(&c, qsha, paysc, strlen(paysc));
	asg_init(&x, 7, "1n1l2c1t", ksha, ssha);
	ktstr__artifact_ref__init(&pref);
	pref.sha256 = psha;
	pref.name = "/opt/pay/bench";
	x.a.payloads = prefs;
	x.a.n_payloads = 1;
	fc_send(&c, &x.m);
	o = expect_outcome(&c, 7, "error", &m);
	assert_non_null(strstr(o->message, "cg_0"));
	kt_farm_msg_free(m);
	assert_int_equal(c.requests, 6);
	snprintf(path, sizeof(path), "%s/artifacts/bin/%s/bench", c.cache, psha);
	assert_int_equal(access(path, X_OK), 0);
	asg_init(&x, 8, "1n1l2c1t", ksha, qsha);
	fc_send(&c, &x.m);
	o = expect_outcome(&c, 8, "error", &m);
	assert_non_null(strstr(o->message, "payload binary /opt/pay/bench did not come with the "
				 "assignment"));
	kt_farm_msg_free(m);
	assert_int_equal(c.requests, 7);

	/* bytes that do not hash to what was asked for */
	fc_blob(&c, msha, "an imposter", 11);
	asg_init(&x, 4, "1n1l2c1t", ksha, msha);
	fc_send(&c, &x.m);
	o = expect_outcome(&c, 4, "infra", &m);
	assert_non_null(strstr(o->message, "sha256 mismatch"));
	kt_farm_msg_free(m);
	kt_artifact_path(c.cache, msha, path, sizeof(path));
	assert_int_equal(access(path, F_OK), -1);

	/* an artifact the coordinator does not have */
	asg_init(&x, 5, "1n1l2c1t", ksha, ZSHA);
	fc_send(&c, &x.m);
	o = expect_outcome(&c, 5, "infra", &m);
	assert_non_null(strstr(o->message, "the coordinator says: unknown artifact"));
	kt_farm_msg_free(m);

	for (uint64_t id = 2; id <= 8; id++)
		fc_ref_msg(&c, KTSTR__FARM_MSG__BODY_OUTCOME_ACK, id);
	kt_fw_stop(c.fw);
	fc_finish(&c, 0);
}

static void loop_restart_and_lost(void **state)
{
	struct fc c;
	struct asg x;
	Ktstr__FarmMsg *m;
	uint64_t t0;

	(void)state;
	fc_start(&c, 4);
	fc_register(&c);
	asg_init(&x, 6, "1n1l2c1t", ZSHA, ZSHA);
	x.a.scheduler = &x.sched;
	x.sched.name = "scx-ktstr";
	fc_send(&c, &x.m);
	expect_outcome(&c, 6, "infra", &m);
	kt_farm_msg_free(m);

	/* the coordinator restarts: its heartbeats carry a new id */
	snprintf(c.coord, sizeof(c.coord), "c2");
	c.auto_ack = false;
	m = fc_expect(&c, KTSTR__FARM_MSG__BODY_HELLO, 3000);
	assert_int_equal(m->hello->n_unacked, 1); /* never acked: resent */
	assert_int_equal(m->hello->unacked[0]->ref->entry_id, 6);
	assert_int_equal(m->hello->n_running, 0);
	kt_farm_msg_free(m);
	fc_hello_ack(&c);
	fc_ref_msg(&c, KTSTR__FARM_MSG__BODY_OUTCOME_ACK, 6);
	fc_expect_beat(&c, 0, false);

	/* the coordinator goes silent: after KT_FARM_LOST_BEATS, hellos */
	c.beating = false;
	t0 = kt_now_ms();
	m = fc_expect(&c, KTSTR__FARM_MSG__BODY_HELLO, 3000);
	assert_true(kt_now_ms() - t0 >= (KT_FARM_LOST_BEATS - 1) * HB_MS);
	assert_int_equal(m->hello->n_unacked, 0);
	kt_farm_msg_free(m);
	fc_hello_ack(&c);
	c.beating = true;
	fc_expect_beat(&c, 0, false);
	kt_fw_stop(c.fw);
	fc_finish(&c, 0);
}

static void loop_handback_cancel_drain(void **state)
{
	struct fc c;
	struct asg x;
	Ktstr__FarmMsg *m;

	(void)state;
	fc_start(&c, 4);
	fc_register(&c);
	asg_init(&x, 7, "1n1l8c1t", ZSHA, ZSHA);
	fc_send(&c, &x.m);
	m = fc_expect(&c, KTSTR__FARM_MSG__BODY_HAND_BACK, 3000);
	assert_int_equal(m->hand_back->ref->entry_id, 7);
	assert_non_null(strstr(m->hand_back->reason, "over budget"));
	kt_farm_msg_free(m);

	/* accepted, waiting for an artifact nobody serves; then cancelled */
	asg_init(&x, 8, "1n1l2c1t", ZSHA, ZSHA);
	fc_send(&c, &x.m);
	m = fc_expect(&c, KTSTR__FARM_MSG__BODY_ARTIFACT_REQ, 3000);
	assert_string_equal(m->artifact_req->sha256, ZSHA);
	assert_int_equal(m->artifact_req->offset, 0);
	assert_int_equal(m->artifact_req->length, KT_FARM_CHUNK);
	kt_farm_msg_free(m);
	fc_expect_beat(&c, 1, false);
	/* unanswered: asked again */
	m = fc_expect(&c, KTSTR__FARM_MSG__BODY_ARTIFACT_REQ, 3000);
	kt_farm_msg_free(m);
	fc_ref_msg(&c, KTSTR__FARM_MSG__BODY_CANCEL_ENTRY, 8);
	fc_expect_beat(&c, 0, false);

	/* the same entry fetching again, then a drain hands it back */
	fc_send(&c, &x.m);
	fc_expect_beat(&c, 1, false);
	kt_fw_stop(c.fw);
	m = fc_expect(&c, KTSTR__FARM_MSG__BODY_HAND_BACK, 3000);
	assert_int_equal(m->hand_back->ref->entry_id, 8);
	assert_string_equal(m->hand_back->reason, "worker draining");
	kt_farm_msg_free(m);
	fc_finish(&c, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(outbox_memory),
		cmocka_unit_test_setup_teardown(outbox_disk, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(asm_chunks, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(asm_rejects, setup_tmp, teardown_tmp),
		cmocka_unit_test(admission),
		cmocka_unit_test(check_overrides),
		cmocka_unit_test(sched_of),
		cmocka_unit_test(payloads_of),
		cmocka_unit_test(child_outcomes),
		cmocka_unit_test_setup_teardown(hello_contents, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(loop_infra_resend_ack_drain, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(loop_fetch_and_run, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(loop_restart_and_lost, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(loop_handback_cancel_drain, setup_tmp, teardown_tmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
