#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "qemu.h"

/* The value following option OPT, or NULL; N-th occurrence (0-based). */
static const char *arg_after(const struct kt_strv *v, const char *opt, int nth)
{
	for (size_t i = 0; i + 1 < v->n; i++)
		if (strcmp(v->v[i], opt) == 0 && nth-- == 0)
			return v->v[i + 1];
	return NULL;
}

static int count(const struct kt_strv *v, const char *opt)
{
	int n = 0;

	for (size_t i = 0; i < v->n; i++)
		n += strcmp(v->v[i], opt) == 0;
	return n;
}

static struct kt_qemu_cfg base(const char *topo)
{
	struct kt_qemu_cfg c = {.kernel = "/k/vmlinuz", .initrd = "/k/initrd",
				.ctl_socket = "/tmp/x/ctl.sock"};
	struct kt_err e;

	assert_int_equal(kt_topo_parse(topo, &c.topo, &e), 0);
	return c;
}

static void two_cpus_tcg(void **state)
{
	struct kt_qemu_cfg c = base("1n1l2c1t");
	struct kt_strv v;
	struct kt_err e;

	(void)state;
	kt_strv_init(&v);
	assert_int_equal(kt_qemu_argv(&c, &v, &e), 0);
	assert_string_equal(v.v[0], "qemu-system-x86_64");
	assert_null(v.v[v.n]);
	assert_string_equal(arg_after(&v, "-accel", 0), "tcg,thread=single");
	assert_string_equal(arg_after(&v, "-cpu", 0), "max");
	assert_string_equal(arg_after(&v, "-smp", 0), "cpus=2,sockets=1,dies=1,cores=2,threads=1");
	assert_string_equal(arg_after(&v, "-m", 0), "256");
	assert_string_equal(arg_after(&v, "-kernel", 0), "/k/vmlinuz");
	assert_string_equal(arg_after(&v, "-initrd", 0), "/k/initrd");
	assert_string_equal(arg_after(&v, "-append", 0), KT_KERNEL_CMDLINE);
	/* COM1 console on stdio, COM2 the control socket, in that order. */
	assert_int_equal(count(&v, "-serial"), 2);
	assert_string_equal(arg_after(&v, "-serial", 0), "chardev:con");
	assert_string_equal(arg_after(&v, "-serial", 1), "chardev:ctl");
	assert_string_equal(arg_after(&v, "-chardev", 1),
			    "socket,id=ctl,path=/tmp/x/ctl.sock,server=on,wait=on");
	assert_int_equal(count(&v, "-numa"), 0);
	assert_int_equal(count(&v, "-nodefaults"), 1);
	assert_int_equal(count(&v, "-no-reboot"), 1);
	kt_strv_free(&v);
}

static void many_cpus_single_thread_tcg(void **state)
{
	struct kt_qemu_cfg c = base("1n2l2c1t");
	struct kt_strv v;
	struct kt_err e;

	(void)state;
	kt_strv_init(&v);
	assert_int_equal(kt_qemu_argv(&c, &v, &e), 0);
	assert_string_equal(arg_after(&v, "-accel", 0), "tcg,thread=single");
	assert_string_equal(arg_after(&v, "-smp", 0), "cpus=4,sockets=2,dies=1,cores=2,threads=1");
	kt_strv_free(&v);
}

static void kvm_numa_smt(void **state)
{
	struct kt_qemu_cfg c = base("2n4l2c2t");
	struct kt_strv v;
	struct kt_err e;

	(void)state;
	c.accel = KT_ACCEL_KVM;
	c.mem_mb = 1001; /* rounded up to split evenly */
	c.append = "quiet";
	kt_strv_init(&v);
	assert_int_equal(kt_qemu_argv(&c, &v, &e), 0);
	assert_string_equal(arg_after(&v, "-accel", 0), "kvm");
	assert_string_equal(arg_after(&v, "-cpu", 0), "host");
	assert_string_equal(arg_after(&v, "-m", 0), "1002");
	assert_string_equal(arg_after(&v, "-smp", 0), "cpus=16,sockets=4,dies=1,cores=2,threads=2");
	assert_int_equal(count(&v, "-numa"), 2);
	assert_string_equal(arg_after(&v, "-numa", 0), "node,nodeid=0,cpus=0-7,memdev=mem0");
	assert_string_equal(arg_after(&v, "-numa", 1), "node,nodeid=1,cpus=8-15,memdev=mem1");
	assert_string_equal(arg_after(&v, "-object", 1), "memory-backend-ram,id=mem1,size=501M");
	assert_string_equal(arg_after(&v, "-append", 0), KT_KERNEL_CMDLINE " quiet");
	kt_strv_free(&v);
}

static void rejects(void **state)
{
	struct kt_qemu_cfg c = base("1n1l2c1t");
	struct kt_strv v;
	struct kt_err e;

	(void)state;
	kt_strv_init(&v);
	c.ctl_socket = "/tmp/a,b";
	assert_int_equal(kt_qemu_argv(&c, &v, &e), -1);
	assert_non_null(strstr(e.msg, "comma"));
	c.ctl_socket = "/tmp/ok";
	c.kernel = NULL;
	assert_int_equal(kt_qemu_argv(&c, &v, &e), -1);
	c = base("1n1l2c1t");
	c.topo.nodes = 0;
	assert_int_equal(kt_qemu_argv(&c, &v, &e), -1);
	assert_non_null(strstr(e.msg, "topology"));
	kt_strv_free(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_cpus_tcg),
		cmocka_unit_test(many_cpus_single_thread_tcg),
		cmocka_unit_test(kvm_numa_smt),
		cmocka_unit_test(rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
