#include <string.h>
#include "qemu.h"

const char *kt_accel_name(enum kt_accel a)
{
	return a == KT_ACCEL_KVM ? "kvm" : "tcg";
}

int kt_qemu_argv(const struct kt_qemu_cfg *cfg, struct kt_strv *argv, struct kt_err *err)
{
	const struct kt_topo *t = &cfg->topo;
	unsigned cpus = kt_topo_cpus(t), mem = cfg->mem_mb ? cfg->mem_mb : kt_topo_default_mem_mb(t);

	if (!cfg->kernel || !cfg->initrd || !cfg->ctl_socket)
		return kt_errf(err, "qemu: kernel, initrd and control socket are required");
	if (cpus == 0 || t->nodes == 0 || t->llcs % t->nodes)
		return kt_errf(err, "qemu: invalid topology (%u CPUs, %u nodes, %u LLCs)", cpus,
			       t->nodes, t->llcs);
	if (strchr(cfg->ctl_socket, ','))
		return kt_errf(err, "qemu: control socket path '%s' contains a comma", cfg->ctl_socket);
	if (mem % t->nodes)
		mem += t->nodes - mem % t->nodes;

	kt_strv_add(argv, cfg->qemu ? cfg->qemu : "qemu-system-x86_64");
	kt_strv_add(argv, "-nodefaults");
	kt_strv_add(argv, "-no-user-config");
	kt_strv_add(argv, "-no-reboot");
	kt_strv_add(argv, "-display");
	kt_strv_add(argv, "none");
	kt_strv_add(argv, "-M");
	kt_strv_add(argv, "pc");
	kt_strv_add(argv, "-accel");
	if (cfg->accel == KT_ACCEL_KVM)
		kt_strv_add(argv, "kvm");
	else /* MTTCG panics guests: 4+ vCPUs on 2 host cores (design §5), and
	      * 2-vCPU guests too when two run at once (3 in ~125 boots). */
		kt_strv_add(argv, cpus > 1 ? "tcg,thread=single" : "tcg");
	kt_strv_add(argv, "-cpu");
	kt_strv_add(argv, cfg->accel == KT_ACCEL_KVM ? "host" : "max");
	kt_strv_add(argv, "-m");
	kt_strv_addf(argv, "%u", mem);
	kt_strv_add(argv, "-smp");
	kt_strv_addf(argv, "cpus=%u,sockets=%u,dies=1,cores=%u,threads=%u", cpus, t->llcs,
		     t->cores_per_llc, t->threads);
	if (t->nodes > 1) {
		unsigned per = cpus / t->nodes;

		for (unsigned n = 0; n < t->nodes; n++) {
			kt_strv_add(argv, "-object");
			kt_strv_addf(argv, "memory-backend-ram,id=mem%u,size=%uM", n, mem / t->nodes);
			kt_strv_add(argv, "-numa");
			kt_strv_addf(argv, "node,nodeid=%u,cpus=%u-%u,memdev=mem%u", n, n * per,
				     n * per + per - 1, n);
		}
	}
	kt_strv_add(argv, "-kernel");
	kt_strv_add(argv, cfg->kernel);
	kt_strv_add(argv, "-initrd");
	kt_strv_add(argv, cfg->initrd);
	kt_strv_add(argv, "-append");
	if (cfg->append && *cfg->append)
		kt_strv_addf(argv, "%s %s", KT_KERNEL_CMDLINE, cfg->append);
	else
		kt_strv_add(argv, KT_KERNEL_CMDLINE);
	kt_strv_add(argv, "-chardev");
	kt_strv_add(argv, "stdio,id=con,signal=off");
	kt_strv_add(argv, "-serial");
	kt_strv_add(argv, "chardev:con");
	kt_strv_add(argv, "-chardev");
	kt_strv_addf(argv, "socket,id=ctl,path=%s,server=on,wait=on", cfg->ctl_socket);
	kt_strv_add(argv, "-serial");
	kt_strv_add(argv, "chardev:ctl");
	return 0;
}
