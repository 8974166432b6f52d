/* The parts of the sched_ext BPF interface that scx-ktstr uses, declared
 * here because the kernel's tools/sched_ext headers are not packaged.
 * Compile with -DBPF_NO_KFUNC_PROTOTYPES so that the prototypes bpftool
 * puts into vmlinux.h do not clash with these: the build then does not
 * depend on the bpftool version that generated vmlinux.h.
 * scx_bpf_dsq_insert and scx_bpf_dsq_move_to_local are the names since
 * 6.13 (6.12 had scx_bpf_dispatch and scx_bpf_consume; no Debian 6.12
 * kernel enables sched_ext, so 6.12 is not supported). The kfuncs are not
 * __weak: on a kernel that lacks one, libbpf fails the load naming it. */
#ifndef SCX_KTSTR_BPF_H
#define SCX_KTSTR_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* A struct_ops callback: SEC names the callback, BPF_PROG unpacks the
 * u64 context array into typed arguments. */
#define BPF_STRUCT_OPS(name, args...) \
	SEC("struct_ops/" #name) BPF_PROG(name, ##args)
#define BPF_STRUCT_OPS_SLEEPABLE(name, args...) \
	SEC("struct_ops.s/" #name) BPF_PROG(name, ##args)

/* The scheduler itself: a struct_ops map attached through a BPF link, so
 * it goes away when the loader exits or closes the link. */
#define SCX_OPS_DEFINE(name, ...) \
	SEC(".struct_ops.link") struct sched_ext_ops name = { __VA_ARGS__ }

#define barrier() asm volatile("" ::: "memory")

s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym;
s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu, u64 wake_flags,
			   bool *is_idle) __ksym;
void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice,
			u64 enq_flags) __ksym;
bool scx_bpf_dsq_move_to_local(u64 dsq_id) __ksym;
s32 scx_bpf_dsq_nr_queued(u64 dsq_id) __ksym;
void scx_bpf_kick_cpu(s32 cpu, u64 flags) __ksym;
u32 scx_bpf_nr_cpu_ids(void) __ksym;
const struct cpumask *scx_bpf_get_online_cpumask(void) __ksym;
void scx_bpf_put_cpumask(const struct cpumask *cpumask) __ksym;
void scx_bpf_error_bstr(char *fmt, unsigned long long *data,
			u32 data__sz) __ksym;
bool bpf_cpumask_test_cpu(u32 cpu, const struct cpumask *cpumask) __ksym;
u32 bpf_cpumask_weight(const struct cpumask *cpumask) __ksym;

/* scx_bpf_error() with one u64 argument: the kernel formats FMT (kept in
 * writable .data, as the kfunc takes a char *) and ends the scheduler with
 * SCX_EXIT_ERROR_BPF and that message. */
#define ktstr_error1(fmt, arg)						\
	({								\
		static char ___fmt[] = fmt;				\
		unsigned long long ___arg[1] = { (arg) };		\
		scx_bpf_error_bstr(___fmt, ___arg, sizeof(___arg));	\
	})

#endif
