#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "entry_spec.h"
#include "spec.h"

/* One step of two cgroups, all owned by the struct. */
struct fspec {
	Ktstr__EntrySpec e;
	Ktstr__StepSpec st;
	Ktstr__StepSpec *stp[1];
	Ktstr__HoldSpec hold;
	Ktstr__CgroupSpec cg[2];
	Ktstr__CgroupSpec *cgp[2];
	Ktstr__WorkSpec work[2];
	Ktstr__CpusetSpec cs[2];
};

static void mk(struct fspec *f)
{
	memset(f, 0, sizeof(*f));
	ktstr__entry_spec__init(&f->e);
	ktstr__step_spec__init(&f->st);
	ktstr__hold_spec__init(&f->hold);
	f->e.version = KT_SCENARIO_ENTRY_VERSION;
	f->e.name = "two-cgroups";
	f->e.duration_ms = 2000;
	f->e.watchdog_ms = 60000;
	f->e.steps = f->stp;
	f->e.n_steps = 1;
	f->stp[0] = &f->st;
	f->st.hold = &f->hold;
	f->hold.frac = 0.5;
	f->st.cgroups = f->cgp;
	f->st.n_cgroups = 2;
	for (int i = 0; i < 2; i++) {
		ktstr__cgroup_spec__init(&f->cg[i]);
		ktstr__work_spec__init(&f->work[i]);
		ktstr__cpuset_spec__init(&f->cs[i]);
		f->cgp[i] = &f->cg[i];
		f->cg[i].name = i ? "cg_1" : "cg_0";
		f->cg[i].workers = 2;
		f->cg[i].work = &f->work[i];
		f->cg[i].cpuset = &f->cs[i];
	}
}

static void expect_err(const struct fspec *f, const char *want)
{
	struct kt_err e = {{0}};

	assert_int_equal(kt_spec_validate(&f->e, &e), -1);
	if (!strstr(e.msg, want))
		fail_msg("error '%s' lacks '%s'", e.msg, want);
}

static void valid(void **state)
{
	struct fspec f;
	struct kt_err e;

	(void)state;
	mk(&f);
	if (kt_spec_validate(&f.e, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(kt_spec_hold_ms(&f.e, &f.st), 1000);
	f.hold.kind = KTSTR__HOLD_SPEC__KIND__FIXED;
	f.hold.ms = 1234;
	assert_int_equal(kt_spec_hold_ms(&f.e, &f.st), 1234);
	f.st.hold = NULL;
	assert_int_equal(kt_spec_hold_ms(&f.e, &f.st), 0);
	/* Names that only look like cgroupfs files are fine. */
	f.cg[0].name = "cgroup";
	f.cg[1].name = "cpu_hog.1";
	assert_int_equal(kt_spec_validate(&f.e, &e), 0);
	f.cg[0].name = "a.cpu";
	f.cg[1].name = "...";
	assert_int_equal(kt_spec_validate(&f.e, &e), 0);
	/* Zero-length scenarios are valid. */
	f.e.n_steps = 0;
	f.e.duration_ms = 0;
	assert_int_equal(kt_spec_validate(&f.e, &e), 0);
}

static void invalid(void **state)
{
	static const char *const bad_names[] = {"", ".", "..", "a/b", "a b", "x\n",
		"0123456789012345678901234567890123456789012345678901234567890123",
		"cgroup.procs", "cpu.max", "cpuset.cpus", "memory.pressure", "io.x", "pids."};
	struct fspec f;

	(void)state;
	mk(&f);
	f.e.version = 99;
	expect_err(&f, "EntrySpec version 99, this agent speaks 2");
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		mk(&f);
		f.cg[1].name = (char *)bad_names[i];
		expect_err(&f, "step 0 cgroup 1: name");
	}
	mk(&f);
	f.cg[1].name = "cgroup.procs";
	expect_err(&f, "name 'cgroup.procs' is not valid (cgroup.*, cpu.*, memory.* and the like "
		   "are cgroupfs interface files)");
	f.cg[1].name = "..";
	expect_err(&f, "name '..' is not valid (. and .. are directory entries)");
	f.cg[1].name = "x\ty";
	expect_err(&f, "name 'x?y' is not valid (1 to 63 of A-Z a-z 0-9 _ . -)");
	mk(&f);
	f.cg[1].name = "cg_0";
	expect_err(&f, "step 0: cgroup name 'cg_0' appears twice");
	mk(&f);
	f.cg[0].workers = 257;
	expect_err(&f, "step 0 cgroup 'cg_0': 257 workers exceed 256");
	mk(&f);
	f.work[1].type = KTSTR__WORK_TYPE__WORK_PIPE_IO;
	f.cg[1].workers = 3;
	expect_err(&f, "scenario 'two-cgroups': step 0 cgroup 'cg_1': pipe_io needs an even");
	mk(&f);
	f.work[0].type = (Ktstr__WorkType)99;
	expect_err(&f, "unknown work type 99");
	mk(&f);
	f.cs[0].kind = (Ktstr__CpusetKind)9;
	expect_err(&f, "unknown cpuset kind 9");
	mk(&f);
	f.hold.frac = 1.5;
	expect_err(&f, "hold frac 1.5 is not in [0, 1]");
	f.hold.frac = NAN;
	expect_err(&f, "hold frac");
	mk(&f);
	f.hold.kind = KTSTR__HOLD_SPEC__KIND__FIXED;
	f.hold.ms = KT_SPEC_MAX_HOLD_MS + 1;
	expect_err(&f, "hold of 3600001 ms exceeds");
	mk(&f);
	f.e.duration_ms = KT_SPEC_MAX_DURATION_MS + 1ull;
	expect_err(&f, "duration_ms");
	mk(&f);
	f.e.name = "bad\tname";
	expect_err(&f, "scenario name is not printable");
	mk(&f);
	f.e.n_steps = KT_SPEC_MAX_STEPS + 1;
	expect_err(&f, "65 steps exceed 64");
	mk(&f);
	f.st.n_cgroups = KT_SPEC_MAX_CGROUPS + 1;
	expect_err(&f, "65 cgroups exceed 64");
}

static void step_worker_limit(void **state)
{
	Ktstr__CgroupSpec cg[5], *cgp[5];
	char names[5][8];
	struct fspec f;

	(void)state;
	mk(&f);
	for (int i = 0; i < 5; i++) {
		cg[i] = f.cg[0];
		cg[i].workers = 256;
		snprintf(names[i], sizeof(names[i]), "c%d", i);
		cg[i].name = names[i];
		cgp[i] = &cg[i];
	}
	f.st.cgroups = cgp;
	f.st.n_cgroups = 5;
	expect_err(&f, "1280 workers exceed 1024 per step");
}

static void unpack_and_load(void **state)
{
	char path[] = "/tmp/ktstr-spec-XXXXXX";
	Ktstr__EntrySpec *out;
	struct fspec f;
	struct kt_err e;
	uint8_t buf[512], *big;
	size_t len;
	FILE *fp;
	int fd;

	(void)state;
	mk(&f);
	len = ktstr__entry_spec__pack(&f.e, buf);
	assert_int_equal(kt_spec_unpack(buf, len, &out, &e), 0);
	assert_string_equal(out->name, "two-cgroups");
	assert_int_equal(out->steps[0]->n_cgroups, 2);
	ktstr__entry_spec__free_unpacked(out, NULL);
	/* Unpacking does not judge: that is kt_spec_validate's job. */
	f.cg[1].name = "..";
	len = ktstr__entry_spec__pack(&f.e, buf);
	assert_int_equal(kt_spec_unpack(buf, len, &out, &e), 0);
	assert_int_equal(kt_spec_validate(out, &e), -1);
	ktstr__entry_spec__free_unpacked(out, NULL);
	f.cg[1].name = "cg_1";
	len = ktstr__entry_spec__pack(&f.e, buf);
	assert_int_equal(kt_spec_unpack((const uint8_t *)"\xff\xff\xff", 3, &out, &e), -1);
	assert_non_null(strstr(e.msg, "3 bytes are not a valid ktstr.EntrySpec"));

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	assert_int_equal(kt_spec_load(path, &out, &e), 0);
	ktstr__entry_spec__free_unpacked(out, NULL);
	/* Oversized. */
	big = calloc(1, KT_SPEC_MAX_BYTES + 10);
	assert_non_null(big);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	fwrite(big, 1, KT_SPEC_MAX_BYTES + 10, fp);
	fclose(fp);
	free(big);
	assert_int_equal(kt_spec_load(path, &out, &e), -1);
	assert_non_null(strstr(e.msg, "larger than 1048576 bytes"));
	unlink(path);
	assert_int_equal(kt_spec_load(path, &out, &e), -1);
	assert_non_null(strstr(e.msg, "No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid),
		cmocka_unit_test(invalid),
		cmocka_unit_test(step_worker_limit),
		cmocka_unit_test(unpack_and_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
