/* scx-ktstr: the farm's fixture sched_ext scheduler.
 *
 * Policy: one shared custom DSQ, FIFO. select_cpu picks a CPU with the
 * kernel's default idle search and inserts straight into that CPU's local
 * DSQ when it is idle; every other task goes to the shared DSQ, from which
 * each CPU's dispatch pulls into its local DSQ.
 *
 * Knobs (read-only, set by the loader before load) make it misbehave in
 * known ways so that tests have a known answer:
 *   stall_after_s  after N s dispatch stops (and `stall` = 1): the
 *                  watchdog ends it with SCX_EXIT_ERROR_STALL; a custom DSQ
 *                  is what makes the stall stick (tasks wait in it).
 *   slow           3 of 4 dispatch rounds do nothing.
 *   degrade        dispatch rounds skipped grow with time: s of every 16
 *                  after s seconds, up to 15 of 16.
 *   scattershot    enqueue puts tasks on random CPUs' local DSQs.
 *   crash_after_s  scx_bpf_error() after N s.
 *   fail_verify    init takes a path the verifier rejects. The knob is
 *                  .rodata, so with it off the verifier prunes that path as
 *                  dead code and the same object loads.
 * The counters in .bss let a test check values it knows (nr_cpus_init is
 * the number of online CPUs at init). */
#include "vmlinux.h"
#include "scx_ktstr_bpf.h"
#include "scx_ktstr_uei.h"

char _license[] SEC("license") = "GPL";

#define KTSTR_DSQ 0ULL	/* the shared DSQ: any id without SCX_DSQ_FLAG_BUILTIN */
#define NSEC_PER_SEC 1000000000ULL

const volatile u32 stall_after_s;
const volatile u32 crash_after_s;
const volatile bool slow;
const volatile bool scattershot;
const volatile bool degrade;
const volatile bool fail_verify;

u32 stall;		/* 1 once stall_after_s has passed and dispatch stopped */
u32 nr_cpus_init;	/* online CPUs seen by ops.init */
u32 nr_cpu_ids_init;	/* scx_bpf_nr_cpu_ids() at init */
u64 nr_enqueued;	/* ops.enqueue calls */
u64 nr_dispatched;	/* tasks moved from the shared DSQ to a local DSQ */
u64 nr_direct;		/* tasks inserted into an idle CPU's local DSQ by select_cpu */
u64 nr_scattered;	/* tasks put on a random CPU by scattershot */
u64 nr_skipped;		/* dispatch rounds skipped by slow/degrade */
u64 nr_dispatch_calls;
u64 start_ns;		/* bpf_ktime_get_ns() at init */
u64 exit_after_ms;	/* ms from init to ops.exit */
u32 verify_bait[4];	/* indexed without a bound when fail_verify is set */

struct ktstr_uei uei SEC(".data");

static u64 elapsed_ns(void)
{
	return bpf_ktime_get_ns() - start_ns;
}

static bool stalled(void)
{
	if (!stall_after_s)
		return false;
	if (stall)
		return true;
	if (elapsed_ns() < stall_after_s * NSEC_PER_SEC)
		return false;
	stall = 1;
	return true;
}

static void maybe_crash(void)
{
	if (crash_after_s && elapsed_ns() >= crash_after_s * NSEC_PER_SEC)
		ktstr_error1("scx-ktstr: crash_after_s=%llu reached", crash_after_s);
}

static void insert(struct task_struct *p, u64 dsq_id, u64 enq_flags)
{
	scx_bpf_dsq_insert(p, dsq_id, SCX_SLICE_DFL, enq_flags);
}

/* Put P on a random CPU's local DSQ. Only tasks that may run there and
 * can migrate: the kernel ends a scheduler that moves a migration-disabled
 * task to another CPU. */
static bool scatter(struct task_struct *p, u64 enq_flags)
{
	u32 n = scx_bpf_nr_cpu_ids();
	u32 cpu;

	if (!n || p->nr_cpus_allowed < 2 || p->migration_disabled)
		return false;
	cpu = bpf_get_prandom_u32() % n;
	if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
		return false;
	insert(p, SCX_DSQ_LOCAL_ON | cpu, enq_flags);
	scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	__sync_fetch_and_add(&nr_scattered, 1);
	return true;
}

/* Whether dispatch round N does nothing (slow, degrade). */
static bool skip_round(u64 n)
{
	u64 secs, limit;

	if (slow && (n & 3) != 0)
		return true;
	if (!degrade)
		return false;
	secs = elapsed_ns() / NSEC_PER_SEC;
	limit = secs < 15 ? secs : 15;
	return (n & 15) < limit;
}

s32 BPF_STRUCT_OPS(ktstr_select_cpu, struct task_struct *p, s32 prev_cpu,
		   u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle && !scattershot && !stalled()) {
		insert(p, SCX_DSQ_LOCAL, 0);
		__sync_fetch_and_add(&nr_direct, 1);
	}
	return cpu;
}

void BPF_STRUCT_OPS(ktstr_enqueue, struct task_struct *p, u64 enq_flags)
{
	__sync_fetch_and_add(&nr_enqueued, 1);
	if (scattershot && !stalled() && scatter(p, enq_flags))
		return;
	insert(p, KTSTR_DSQ, enq_flags);
}

void BPF_STRUCT_OPS(ktstr_dispatch, s32 cpu, struct task_struct *prev)
{
	u64 n;

	maybe_crash();
	if (stalled() || scx_bpf_dsq_nr_queued(KTSTR_DSQ) <= 0)
		return;
	n = __sync_fetch_and_add(&nr_dispatch_calls, 1);
	if (skip_round(n)) {
		/* Come back soon: an idle CPU that skips would otherwise
		 * sleep with tasks waiting and turn slow into a stall. */
		__sync_fetch_and_add(&nr_skipped, 1);
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		return;
	}
	if (scx_bpf_dsq_move_to_local(KTSTR_DSQ))
		__sync_fetch_and_add(&nr_dispatched, 1);
}

void BPF_STRUCT_OPS(ktstr_tick, struct task_struct *p)
{
	maybe_crash();
}

s32 BPF_STRUCT_OPS_SLEEPABLE(ktstr_init)
{
	const struct cpumask *online;

	if (fail_verify) {
		u32 i = bpf_get_prandom_u32();

		/* No bound on i: the verifier rejects this access. */
		return verify_bait[i];
	}
	start_ns = bpf_ktime_get_ns();
	online = scx_bpf_get_online_cpumask();
	nr_cpus_init = bpf_cpumask_weight(online);
	scx_bpf_put_cpumask(online);
	nr_cpu_ids_init = scx_bpf_nr_cpu_ids();
	return scx_bpf_create_dsq(KTSTR_DSQ, -1);
}

void BPF_STRUCT_OPS(ktstr_exit, struct scx_exit_info *ei)
{
	exit_after_ms = elapsed_ns() / 1000000;
	bpf_probe_read_kernel_str(uei.reason, sizeof(uei.reason), ei->reason);
	bpf_probe_read_kernel_str(uei.msg, sizeof(uei.msg), ei->msg);
	uei.exit_code = ei->exit_code;
	/* kind last: the loader treats kind != 0 as "the rest is written". */
	barrier();
	uei.kind = ei->kind;
}

SCX_OPS_DEFINE(ktstr_ops,
	       .select_cpu = (void *)ktstr_select_cpu,
	       .enqueue = (void *)ktstr_enqueue,
	       .dispatch = (void *)ktstr_dispatch,
	       .tick = (void *)ktstr_tick,
	       .init = (void *)ktstr_init,
	       .exit = (void *)ktstr_exit,
	       .name = "ktstr");
