#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cpuset.h"
#include "entry_spec.h"
#include "util.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

/* "cgroup" and the cgroup v2 controllers (irq: irq.pressure). */
static const char *const control_prefixes[] = {
	"cgroup", "cpu", "cpuset", "io", "memory", "pids", "rdma", "hugetlb", "misc", "irq",
};
#define N_PREFIXES (sizeof(control_prefixes) / sizeof(control_prefixes[0]))

const char *kt_spec_name_problem(const char *s, bool cgroup)
{
	const char *dot = strchr(s, '.');
	size_t n = strlen(s);

	if (!n || n > KT_SPEC_NAME_MAX || strspn(s, NAME_CHARS) != n)
		return "1 to " STR(KT_SPEC_NAME_MAX) " of A-Z a-z 0-9 _ . -";
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return ". and .. are directory entries";
	for (size_t i = 0; cgroup && dot && i < N_PREFIXES; i++)
		if (strlen(control_prefixes[i]) == (size_t)(dot - s) &&
		    !strncmp(s, control_prefixes[i], (size_t)(dot - s)))
			return "cgroup.*, cpu.*, memory.* and the like are cgroupfs interface files";
	return NULL;
}

#define T(x) KTSTR__WORK_TYPE__WORK_##x

/* Indexed by WorkType. */
static const char *const work_names[KT_SPEC_WORK_TYPES] = {
	[T(CPU_SPIN)] = "cpu_spin",
	[T(YIELD_HEAVY)] = "yield_heavy",
	[T(MIXED)] = "mixed",
	[T(IO_SYNC)] = "io_sync",
	[T(BURSTY)] = "bursty",
	[T(PIPE_IO)] = "pipe_io",
	[T(FUTEX_PING_PONG)] = "futex_ping_pong",
	[T(FUTEX_FAN_OUT)] = "futex_fan_out",
	[T(CACHE_PRESSURE)] = "cache_pressure",
	[T(CACHE_YIELD)] = "cache_yield",
	[T(CACHE_PIPE)] = "cache_pipe",
	[T(FAN_OUT_COMPUTE)] = "fan_out_compute",
	[T(SEQUENCE)] = "sequence",
	[T(FORK_EXIT)] = "fork_exit",
	[T(NICE_SWEEP)] = "nice_sweep",
	[T(AFFINITY_CHURN)] = "affinity_churn",
	[T(POLICY_CHURN)] = "policy_churn",
	[T(PAGE_FAULT_CHURN)] = "page_fault_churn",
	[T(MUTEX_CONTENTION)] = "mutex_contention",
};

const char *kt_spec_work_name(Ktstr__WorkType t)
{
	return (unsigned)t < KT_SPEC_WORK_TYPES ? work_names[t] : NULL;
}

bool kt_spec_work_by_name(const char *name, Ktstr__WorkType *out)
{
	for (int i = 0; i < KT_SPEC_WORK_TYPES; i++) {
		if (!strcmp(name, work_names[i])) {
			*out = (Ktstr__WorkType)i;
			return true;
		}
	}
	return false;
}

bool kt_spec_phase_work_ok(Ktstr__WorkType t)
{
	switch (t) {
	case T(CPU_SPIN):
	case T(YIELD_HEAVY):
	case T(MIXED):
	case T(IO_SYNC):
	case T(CACHE_PRESSURE):
	case T(CACHE_YIELD):
	case T(FORK_EXIT):
	case T(PAGE_FAULT_CHURN):
		return true;
	default:
		return false;
	}
}

static uint32_t or_default(uint32_t v, uint32_t dflt)
{
	return v ? v : dflt;
}

unsigned kt_spec_work_group(const Ktstr__WorkSpec *work)
{
	switch (work ? work->type : T(CPU_SPIN)) {
	case T(PIPE_IO):
	case T(FUTEX_PING_PONG):
	case T(CACHE_PIPE):
		return 2;
	case T(FUTEX_FAN_OUT):
	case T(FAN_OUT_COMPUTE):
		/* Clamped: never 0, even for a spec the check would refuse. */
		return or_default(work->fan_out > KT_SPEC_MAX_FAN_OUT ? KT_SPEC_MAX_FAN_OUT :
				  work->fan_out, KT_SPEC_DEFAULT_FAN_OUT) + 1;
	case T(MUTEX_CONTENTION):
		return or_default(work->contenders, KT_SPEC_DEFAULT_CONTENDERS);
	default:
		return 1;
	}
}

/* V (0 = the default) in MIN..MAX. */
static int param(const char *type, const char *name, uint32_t v, uint32_t min, uint32_t max,
		 struct kt_err *err)
{
	if (v && (v < min || v > max))
		return kt_errf(err, "%s: %s %u is not in %u..%u", type, name, v, min, max);
	return 0;
}

static int check_bursty(const Ktstr__WorkSpec *w, struct kt_err *err)
{
	if (!w->burst_ms && !w->sleep_ms)
		return 0;
	if (w->burst_ms < 1 || w->burst_ms > KT_SPEC_MAX_BURST_MS ||
	    w->sleep_ms > KT_SPEC_MAX_BURST_MS)
		return kt_errf(err, "bursty: burst_ms %u must be in 1..%u and sleep_ms %u in 0..%u",
			       w->burst_ms, KT_SPEC_MAX_BURST_MS, w->sleep_ms,
			       KT_SPEC_MAX_BURST_MS);
	return 0;
}

static int check_cache(const Ktstr__WorkSpec *w, const char *name, struct kt_err *err)
{
	uint32_t kb = or_default(w->size_kb, KT_SPEC_DEFAULT_SIZE_KB);
	uint32_t stride = or_default(w->stride, KT_SPEC_DEFAULT_STRIDE);

	if (param(name, "size_kb", w->size_kb, 1, KT_SPEC_MAX_SIZE_KB, err) ||
	    param(name, "stride", w->stride, 1, KT_SPEC_MAX_STRIDE, err))
		return -1;
	if (stride > kb * 1024)
		return kt_errf(err, "%s: stride %u is larger than the buffer (%u KiB)", name, stride,
			       kb);
	return 0;
}

static int check_sequence(const Ktstr__WorkSpec *w, struct kt_err *err)
{
	bool work = false;

	if (w->n_phases < 1 || w->n_phases > KT_SPEC_MAX_PHASES)
		return kt_errf(err, "sequence: %zu phases, expected 1..%d", w->n_phases,
			       KT_SPEC_MAX_PHASES);
	for (size_t i = 0; i < w->n_phases; i++) {
		const Ktstr__Phase *p = w->phases[i];

		if (p->ms < 1 || p->ms > KT_SPEC_MAX_PHASE_MS)
			return kt_errf(err, "sequence: phase %zu: ms %u is not in 1..%u", i, p->ms,
				       KT_SPEC_MAX_PHASE_MS);
		if (!p->sleep && !kt_spec_phase_work_ok(p->work))
			return kt_errf(err, "sequence: phase %zu: %s cannot be a phase", i,
				       kt_spec_work_name(p->work) ? kt_spec_work_name(p->work)
								  : "an unknown work type");
		work |= !p->sleep;
	}
	if (!work)
		return kt_errf(err, "sequence: every phase sleeps, so it would do no work");
	return 0;
}

static int check_params(const Ktstr__WorkSpec *w, const char *name, struct kt_err *err)
{
	switch (w->type) {
	case T(BURSTY):
		return check_bursty(w, err);
	case T(FUTEX_FAN_OUT):
	case T(FAN_OUT_COMPUTE):
		return param(name, "fan_out", w->fan_out, 1, KT_SPEC_MAX_FAN_OUT, err);
	case T(CACHE_PRESSURE):
	case T(CACHE_YIELD):
	case T(CACHE_PIPE):
		return check_cache(w, name, err);
	case T(PAGE_FAULT_CHURN):
		return param(name, "region_kb", w->region_kb, KT_SPEC_MIN_REGION_KB,
			     KT_SPEC_MAX_REGION_KB, err);
	case T(MUTEX_CONTENTION):
		return param(name, "contenders", w->contenders, 2, KT_SPEC_MAX_CONTENDERS, err);
	case T(SEQUENCE):
		return check_sequence(w, err);
	default:
		return 0;
	}
}

static int group_err(const Ktstr__WorkSpec *w, const char *name, unsigned g, unsigned n,
		     struct kt_err *err)
{
	if (g == 2)
		return kt_errf(err, "%s needs an even number of workers, got %u (it works in "
			       "pairs)", name, n);
	if (w->type == T(MUTEX_CONTENTION))
		return kt_errf(err, "%s works in groups of contenders (%u) sharing a mutex: needs "
			       "a multiple of %u workers, got %u", name, g, g, n);
	return kt_errf(err, "%s works in groups of fan_out + 1 (%u: one waker, %u waiters): needs "
		       "a multiple of %u workers, got %u", name, g, g - 1, g, n);
}

int kt_spec_work_check(const Ktstr__WorkSpec *work, unsigned n, struct kt_err *err)
{
	Ktstr__WorkType type = work ? work->type : T(CPU_SPIN);
	const char *name = kt_spec_work_name(type);
	unsigned g;

	if (!name)
		return kt_errf(err, "unknown work type %d", (int)type);
	if (work && check_params(work, name, err))
		return -1;
	g = kt_spec_work_group(work);
	if (n % g)
		return group_err(work, name, g, n, err);
	return 0;
}

uint64_t kt_spec_hold_ms(const Ktstr__EntrySpec *spec, const Ktstr__StepSpec *step)
{
	const Ktstr__HoldSpec *h = step->hold;

	if (!h)
		return 0;
	if (h->kind == KTSTR__HOLD_SPEC__KIND__FIXED ||
	    (h->kind == KTSTR__HOLD_SPEC__KIND__LOOP && h->frac == 0))
		return h->ms;
	return (uint64_t)llround(h->frac * (double)spec->duration_ms);
}

static int check_hold(const Ktstr__EntrySpec *spec, const Ktstr__StepSpec *st, size_t si,
		      struct kt_err *err)
{
	const Ktstr__HoldSpec *h = st->hold;

	if (!h)
		return 0;
	if (h->kind != KTSTR__HOLD_SPEC__KIND__FRAC && h->kind != KTSTR__HOLD_SPEC__KIND__FIXED &&
	    h->kind != KTSTR__HOLD_SPEC__KIND__LOOP)
		return kt_errf(err, "step %zu: unknown hold kind %d", si, (int)h->kind);
	if (h->kind == KTSTR__HOLD_SPEC__KIND__LOOP &&
	    (h->interval_ms < 1 || h->interval_ms > KT_SPEC_MAX_HOLD_MS))
		return kt_errf(err, "step %zu: loop interval_ms %u is not in 1..%u", si,
			       h->interval_ms, KT_SPEC_MAX_HOLD_MS);
	if (h->kind != KTSTR__HOLD_SPEC__KIND__FIXED && !(isfinite(h->frac) && h->frac >= 0 &&
							  h->frac <= 1))
		return kt_errf(err, "step %zu: hold frac %g is not in [0, 1]", si, h->frac);
	if (kt_spec_hold_ms(spec, st) > KT_SPEC_MAX_HOLD_MS)
		return kt_errf(err, "step %zu: hold of %llu ms exceeds %u", si,
			       (unsigned long long)kt_spec_hold_ms(spec, st), KT_SPEC_MAX_HOLD_MS);
	return 0;
}

static int check_cpuset(const Ktstr__CpusetSpec *cs, struct kt_err *err)
{
	if (!cs)
		return 0;
	if (cs->kind < KTSTR__CPUSET_KIND__CPUSET_NONE ||
	    cs->kind > KTSTR__CPUSET_KIND__CPUSET_OVERLAP)
		return kt_errf(err, "unknown cpuset kind %d", (int)cs->kind);
	if (cs->n_cpus > KT_CPU_ID_MAX)
		return kt_errf(err, "cpuset lists %zu CPUs", cs->n_cpus);
	if (cs->kind == KTSTR__CPUSET_KIND__CPUSET_RANGE &&
	    !(isfinite(cs->start_frac) && isfinite(cs->end_frac) && cs->start_frac >= 0 &&
	      cs->start_frac < cs->end_frac && cs->end_frac <= 1))
		return kt_errf(err, "cpuset range [%g, %g) is not within [0, 1] with start < end",
			       cs->start_frac, cs->end_frac);
	if (cs->kind == KTSTR__CPUSET_KIND__CPUSET_OVERLAP &&
	    !(isfinite(cs->frac) && cs->frac >= 0 && cs->frac <= 1))
		return kt_errf(err, "cpuset overlap frac %g is not in [0, 1]", cs->frac);
	return 0;
}

static int check_affinity(const Ktstr__AffinitySpec *a, struct kt_err *err)
{
	if (!a)
		return 0;
	if (a->kind < KTSTR__AFFINITY_KIND__AFFINITY_INHERIT ||
	    a->kind > KTSTR__AFFINITY_KIND__AFFINITY_EXACT)
		return kt_errf(err, "unknown affinity kind %d", (int)a->kind);
	if (a->kind == KTSTR__AFFINITY_KIND__AFFINITY_RANDOM_SUBSET &&
	    (a->count < 1 || a->count > KT_CPU_ID_MAX))
		return kt_errf(err, "affinity random_subset count %u is not in 1..%d", a->count,
			       KT_CPU_ID_MAX);
	if (a->kind == KTSTR__AFFINITY_KIND__AFFINITY_EXACT &&
	    (!a->n_cpus || a->n_cpus > KT_CPU_ID_MAX))
		return kt_errf(err, "affinity exact lists %zu CPUs", a->n_cpus);
	for (size_t i = 0; i < a->n_cpus; i++)
		if (a->cpus[i] >= KT_CPU_ID_MAX)
			return kt_errf(err, "affinity CPU %u is not below %d", a->cpus[i],
				       KT_CPU_ID_MAX);
	if (a->kind == KTSTR__AFFINITY_KIND__AFFINITY_CROSS_CGROUP &&
	    kt_spec_name_problem(a->cgroup, true))
		return kt_errf(err, "affinity cross_cgroup names no valid cgroup");
	return 0;
}

static int check_policy(const Ktstr__PolicySpec *p, struct kt_err *err)
{
	bool rt;

	if (!p)
		return 0;
	if (p->kind < KTSTR__POLICY_KIND__POLICY_NORMAL || p->kind > KTSTR__POLICY_KIND__POLICY_RR)
		return kt_errf(err, "unknown policy kind %d", (int)p->kind);
	rt = p->kind == KTSTR__POLICY_KIND__POLICY_FIFO || p->kind == KTSTR__POLICY_KIND__POLICY_RR;
	if (rt ? p->priority < 1 || p->priority > KT_SPEC_MAX_PRIO : p->priority != 0)
		return kt_errf(err, "policy priority %u: fifo and rr take 1..%d, the others none",
			       p->priority, KT_SPEC_MAX_PRIO);
	if (p->nice < KT_SPEC_MIN_NICE || p->nice > KT_SPEC_MAX_NICE)
		return kt_errf(err, "nice %d is not in %d..%d", p->nice, KT_SPEC_MIN_NICE,
			       KT_SPEC_MAX_NICE);
	if (p->nice && p->kind != KTSTR__POLICY_KIND__POLICY_NORMAL &&
	    p->kind != KTSTR__POLICY_KIND__POLICY_BATCH)
		return kt_errf(err, "nice applies to the normal and batch policies only");
	return 0;
}

static bool text_ok(const char *s, size_t max)
{
	return s[0] && strlen(s) <= max && kt_printable(s);
}

static int check_payload(const Ktstr__PayloadSpec *p, struct kt_err *err)
{
	if (kt_spec_name_problem(p->name, false))
		return kt_errf(err, "payload name is not valid");
	if (p->path[0] != '/' || !text_ok(p->path, KT_SPEC_MAX_PATH_LEN))
		return kt_errf(err, "payload '%s': path must be absolute printable text of at most "
			       "%d bytes", p->name, KT_SPEC_MAX_PATH_LEN);
	if (p->n_args > KT_SPEC_MAX_ARGS)
		return kt_errf(err, "payload '%s': %zu args exceed %d", p->name, p->n_args,
			       KT_SPEC_MAX_ARGS);
	for (size_t i = 0; i < p->n_args; i++)
		if (strlen(p->args[i]) > KT_SPEC_MAX_ARG_LEN || !kt_printable(p->args[i]))
			return kt_errf(err, "payload '%s': arg %zu is not printable text of at most "
				       "%d bytes", p->name, i, KT_SPEC_MAX_ARG_LEN);
	if (p->exit_code < 0 || p->exit_code > 255)
		return kt_errf(err, "payload '%s': exit_code %d is not in 0..255", p->name,
			       p->exit_code);
	if (p->n_metrics > KT_SPEC_MAX_METRICS)
		return kt_errf(err, "payload '%s': %zu metrics exceed %d", p->name, p->n_metrics,
			       KT_SPEC_MAX_METRICS);
	for (size_t i = 0; i < p->n_metrics; i++) {
		const Ktstr__MetricCheck *m = p->metrics[i];

		if (!text_ok(m->path, KT_SPEC_MAX_METRIC_PATH))
			return kt_errf(err, "payload '%s': metric %zu has no valid path", p->name, i);
		if ((m->has_min && !isfinite(m->min)) || (m->has_max && !isfinite(m->max)) ||
		    (m->has_min && m->has_max && m->min > m->max))
			return kt_errf(err, "payload '%s': metric '%s': bounds are not finite with "
				       "min <= max", p->name, m->path);
	}
	if (p->cgroup[0] && kt_spec_name_problem(p->cgroup, true))
		return kt_errf(err, "payload '%s': cgroup name is not valid", p->name);
	return 0;
}

static int check_cgroup(const Ktstr__CgroupSpec *cg, size_t si, size_t ci, struct kt_err *err)
{
	const Ktstr__CpusetSpec *cs = cg->cpuset;
	const char *why = kt_spec_name_problem(cg->name, true);

	if (why) {
		char name[KT_SPEC_NAME_MAX + 5];

		kt_printable_copy(cg->name, strlen(cg->name), name, sizeof(name));
		return kt_errf(err, "step %zu cgroup %zu: name '%s' is not valid (%s)", si, ci, name,
			       why);
	}
	if (cg->workers > KT_SPEC_MAX_WORKERS)
		return kt_errf(err, "step %zu cgroup '%s': %u workers exceed %d", si, cg->name,
			       cg->workers, KT_SPEC_MAX_WORKERS);
	if (kt_spec_work_check(cg->work, cg->workers, err))
		return kt_err_prefix(err, "step %zu cgroup '%s'", si, cg->name);
	if (check_cpuset(cs, err) || check_affinity(cg->affinity, err) ||
	    check_policy(cg->policy, err))
		return kt_err_prefix(err, "step %zu cgroup '%s'", si, cg->name);
	if (cg->parent[0] && kt_spec_name_problem(cg->parent, true))
		return kt_errf(err, "step %zu cgroup '%s': parent name is not valid", si, cg->name);
	return 0;
}

static int check_op_fields(const Ktstr__Op *op, struct kt_err *err);

static int check_step(const Ktstr__EntrySpec *spec, size_t si, unsigned *total,
		      struct kt_err *err)
{
	const Ktstr__StepSpec *st = spec->steps[si];
	unsigned workers = 0;

	if (st->n_cgroups > KT_SPEC_MAX_CGROUPS)
		return kt_errf(err, "step %zu: %zu cgroups exceed %d", si, st->n_cgroups,
			       KT_SPEC_MAX_CGROUPS);
	for (size_t ci = 0; ci < st->n_cgroups; ci++) {
		const Ktstr__CgroupSpec *cg = st->cgroups[ci];

		if (check_cgroup(cg, si, ci, err))
			return -1;
		for (size_t k = 0; k < ci; k++)
			if (!strcmp(st->cgroups[k]->name, cg->name))
				return kt_errf(err, "step %zu: cgroup name '%s' appears twice", si,
					       cg->name);
		workers += cg->workers;
	}
	if (st->n_ops > KT_SPEC_MAX_OPS)
		return kt_errf(err, "step %zu: %zu ops exceed %d", si, st->n_ops, KT_SPEC_MAX_OPS);
	for (size_t oi = 0; oi < st->n_ops; oi++) {
		const Ktstr__Op *op = st->ops[oi];

		if (check_op_fields(op, err))
			return kt_err_prefix(err, "step %zu op %zu (%s)", si, oi, kt_spec_op_name(op));
		if (op->op_case == KTSTR__OP__OP_ADD_CGROUP)
			workers += op->add_cgroup->workers;
		else if (op->op_case == KTSTR__OP__OP_SPAWN)
			workers += op->spawn->workers;
		else if (op->op_case == KTSTR__OP__OP_SPAWN_HOST)
			workers += op->spawn_host->workers;
	}
	if (workers > KT_SPEC_MAX_STEP_WORKERS)
		return kt_errf(err, "step %zu: %u workers exceed %d per step", si, workers,
			       KT_SPEC_MAX_STEP_WORKERS);
	*total += workers;
	return check_hold(spec, st, si, err);
}

int kt_spec_validate(const Ktstr__EntrySpec *spec, struct kt_err *err)
{
	unsigned total = 0;

	if (spec->version != KT_SCENARIO_ENTRY_VERSION)
		return kt_errf(err, "EntrySpec version %u, this agent speaks %d", spec->version,
			       KT_SCENARIO_ENTRY_VERSION);
	if (strlen(spec->name) > KT_SPEC_NAME_MAX || !kt_printable(spec->name))
		return kt_errf(err, "scenario name is not printable ASCII of at most %d characters",
			       KT_SPEC_NAME_MAX);
	if (spec->duration_ms > KT_SPEC_MAX_DURATION_MS)
		return kt_errf(err, "duration_ms %llu exceeds %u",
			       (unsigned long long)spec->duration_ms, KT_SPEC_MAX_DURATION_MS);
	if (spec->n_steps > KT_SPEC_MAX_STEPS)
		return kt_errf(err, "%zu steps exceed %d", spec->n_steps, KT_SPEC_MAX_STEPS);
	if (spec->n_backdrop > KT_SPEC_MAX_CGROUPS)
		return kt_errf(err, "%zu backdrop cgroups exceed %d", spec->n_backdrop,
			       KT_SPEC_MAX_CGROUPS);
	for (size_t ci = 0; ci < spec->n_backdrop; ci++) {
		if (check_cgroup(spec->backdrop[ci], 0, ci, err))
			return kt_err_prefix(err, "scenario '%s': backdrop", spec->name);
		total += spec->backdrop[ci]->workers;
	}
	for (size_t si = 0; si < spec->n_steps; si++)
		if (check_step(spec, si, &total, err))
			return kt_err_prefix(err, "scenario '%s'", spec->name);
	if (total > KT_SPEC_MAX_TOTAL_WORKERS)
		return kt_errf(err, "scenario '%s': %u workers in all exceed %d", spec->name, total,
			       KT_SPEC_MAX_TOTAL_WORKERS);
	if (kt_spec_resolve(spec, NULL, NULL, err))
		return kt_err_prefix(err, "scenario '%s'", spec->name);
	return 0;
}

/* ---- ops and name resolution ---- */

static const char *const op_names[] = {
	[KTSTR__OP__OP_ADD_CGROUP] = "add_cgroup",
	[KTSTR__OP__OP_REMOVE_CGROUP] = "remove_cgroup",
	[KTSTR__OP__OP_SET_CPUSET] = "set_cpuset",
	[KTSTR__OP__OP_CLEAR_CPUSET] = "clear_cpuset",
	[KTSTR__OP__OP_SWAP_CPUSETS] = "swap_cpusets",
	[KTSTR__OP__OP_SPAWN] = "spawn",
	[KTSTR__OP__OP_STOP_CGROUP] = "stop_cgroup",
	[KTSTR__OP__OP_SET_AFFINITY] = "set_affinity",
	[KTSTR__OP__OP_SPAWN_HOST] = "spawn_host",
	[KTSTR__OP__OP_MOVE_ALL_TASKS] = "move_all_tasks",
	[KTSTR__OP__OP_RUN_PAYLOAD] = "run_payload",
	[KTSTR__OP__OP_WAIT_PAYLOAD] = "wait_payload",
	[KTSTR__OP__OP_KILL_PAYLOAD] = "kill_payload",
	[KTSTR__OP__OP_SNAPSHOT] = "snapshot",
	[KTSTR__OP__OP_WATCH_SNAPSHOT] = "watch_snapshot",
};
#define N_OPS (sizeof(op_names) / sizeof(op_names[0]))

const char *kt_spec_op_name(const Ktstr__Op *op)
{
	unsigned c = (unsigned)op->op_case;

	return c && c < N_OPS ? op_names[c] : "unknown op";
}

static int name_ok(const char *s, struct kt_err *err)
{
	if (kt_spec_name_problem(s, true))
		return kt_errf(err, "cgroup name is not valid");
	return 0;
}

static int check_spawn(const Ktstr__Spawn *sp, struct kt_err *err)
{
	if (name_ok(sp->cgroup, err))
		return -1;
	if (sp->workers < 1 || sp->workers > KT_SPEC_MAX_WORKERS)
		return kt_errf(err, "%u workers are not in 1..%d", sp->workers, KT_SPEC_MAX_WORKERS);
	if (kt_spec_work_check(sp->work, sp->workers, err))
		return -1;
	return check_affinity(sp->affinity, err) || check_policy(sp->policy, err) ? -1 : 0;
}

/* The fields of one op, before any name is resolved. */
static int check_op_fields(const Ktstr__Op *op, struct kt_err *err)
{
	switch (op->op_case) {
	case KTSTR__OP__OP_ADD_CGROUP:
		return check_cgroup(op->add_cgroup, 0, 0, err);
	case KTSTR__OP__OP_REMOVE_CGROUP:
		return name_ok(op->remove_cgroup, err);
	case KTSTR__OP__OP_SET_CPUSET:
		return name_ok(op->set_cpuset->cgroup, err) || check_cpuset(op->set_cpuset->cpuset, err);
	case KTSTR__OP__OP_CLEAR_CPUSET:
		return name_ok(op->clear_cpuset, err);
	case KTSTR__OP__OP_SWAP_CPUSETS:
		return name_ok(op->swap_cpusets->a, err) || name_ok(op->swap_cpusets->b, err);
	case KTSTR__OP__OP_SPAWN:
		return check_spawn(op->spawn, err);
	case KTSTR__OP__OP_SPAWN_HOST:
		return check_spawn(op->spawn_host, err);
	case KTSTR__OP__OP_STOP_CGROUP:
		return name_ok(op->stop_cgroup, err);
	case KTSTR__OP__OP_SET_AFFINITY:
		if (!op->set_affinity->affinity)
			return kt_errf(err, "no affinity given");
		return name_ok(op->set_affinity->cgroup, err) ||
		       check_affinity(op->set_affinity->affinity, err);
	case KTSTR__OP__OP_MOVE_ALL_TASKS:
		return name_ok(op->move_all_tasks->from, err) || name_ok(op->move_all_tasks->to, err);
	case KTSTR__OP__OP_RUN_PAYLOAD:
		return check_payload(op->run_payload, err);
	case KTSTR__OP__OP_WAIT_PAYLOAD:
		if (kt_spec_name_problem(op->wait_payload->name, false))
			return kt_errf(err, "payload name is not valid");
		if (op->wait_payload->timeout_ms < 1 ||
		    op->wait_payload->timeout_ms > KT_SPEC_MAX_HOLD_MS)
			return kt_errf(err, "timeout_ms %u is not in 1..%u",
				       op->wait_payload->timeout_ms, KT_SPEC_MAX_HOLD_MS);
		return 0;
	case KTSTR__OP__OP_KILL_PAYLOAD:
		if (kt_spec_name_problem(op->kill_payload, false))
			return kt_errf(err, "payload name is not valid");
		return 0;
	case KTSTR__OP__OP_SNAPSHOT:
		if (kt_spec_name_problem(op->snapshot, false))
			return kt_errf(err, "snapshot name is not valid");
		return 0;
	case KTSTR__OP__OP_WATCH_SNAPSHOT:
		if (!text_ok(op->watch_snapshot, KT_SPEC_MAX_SYMBOL) ||
		    strchr(op->watch_snapshot, ' '))
			return kt_errf(err, "symbol is not 1..%d printable characters without spaces",
				       KT_SPEC_MAX_SYMBOL);
		return 0;
	default:
		return kt_errf(err, "no op set");
	}
}

/* A cgroup that exists at a point of the walk. */
struct live {
	const char *name, *parent; /* parent "" = top */
	size_t plan;               /* index into the plan */
	bool op_made;              /* by add_cgroup: remove_cgroup may take it */
};

struct walk {
	struct live *live;
	size_t n_live;
	struct kt_spec_plan plan;
	const char **made;         /* names made in the current step */
	size_t n_made;
	const char **payloads;     /* every run_payload, in order */
	const char **pay_cg;       /* the cgroup each runs in now ("" = the agent's) */
	bool *running;
	size_t n_payloads;
	size_t root;               /* plan index of the root, or SIZE_MAX */
	uint32_t step;
};

static struct live *find_live(struct walk *w, const char *name)
{
	for (size_t i = 0; i < w->n_live; i++)
		if (!strcmp(w->live[i].name, name))
			return &w->live[i];
	return NULL;
}

static int need_live(struct walk *w, const char *name, struct live **out, struct kt_err *err)
{
	struct live *l = find_live(w, name);

	if (!l)
		return kt_errf(err, "cgroup '%s' does not exist at this point", name);
	if (out)
		*out = l;
	return 0;
}

static size_t plan_add(struct walk *w, const char *name, const Ktstr__CgroupSpec *cg)
{
	struct kt_spec_cg *p;

	w->plan.cg = kt_xrealloc(w->plan.cg, (w->plan.n + 1) * sizeof(*w->plan.cg));
	p = &w->plan.cg[w->plan.n];
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->step = w->step;
	p->spec = cg;
	p->workers = cg ? cg->workers : 0;
	return w->plan.n++;
}

/* Make CG live (a backdrop, op or step cgroup). */
static int make(struct walk *w, const Ktstr__CgroupSpec *cg, bool op_made,
		struct kt_err *err)
{
	if (find_live(w, cg->name))
		return kt_errf(err, "cgroup '%s' already exists at this point", cg->name);
	for (size_t i = 0; i < w->n_made; i++)
		if (!strcmp(w->made[i], cg->name))
			return kt_errf(err, "cgroup '%s' was already made in this step; one name, "
				       "one cgroup per step", cg->name);
	if (cg->parent[0] && need_live(w, cg->parent, NULL, err))
		return kt_err_prefix(err, "parent of '%s'", cg->name);
	w->made = kt_xrealloc(w->made, (w->n_made + 1) * sizeof(*w->made));
	w->made[w->n_made++] = cg->name;
	w->live = kt_xrealloc(w->live, (w->n_live + 1) * sizeof(*w->live));
	w->live[w->n_live].name = cg->name;
	w->live[w->n_live].parent = cg->parent;
	w->live[w->n_live].op_made = op_made;
	w->live[w->n_live].plan = plan_add(w, cg->name, cg);
	w->n_live++;
	return 0;
}

static void unlive(struct walk *w, struct live *l)
{
	*l = w->live[--w->n_live];
}

static int remove_op(struct walk *w, const char *name, struct kt_err *err)
{
	struct live *l;

	if (need_live(w, name, &l, err))
		return -1;
	/* Removing a cgroup kills what runs in it (cgroup.kill): a payload
	 * killed so would be judged as still running at the end. */
	for (size_t i = 0; i < w->n_payloads; i++)
		if (w->running[i] && !strcmp(w->pay_cg[i], name))
			return kt_errf(err, "cgroup '%s' holds payload '%s', still running: "
				       "wait_payload or kill_payload it first", name,
				       w->payloads[i]);
	if (!l->op_made)
		return kt_errf(err, "cgroup '%s' was not made by add_cgroup; only those can be "
			       "removed", name);
	for (size_t i = 0; i < w->n_live; i++)
		if (!strcmp(w->live[i].parent, name))
			return kt_errf(err, "cgroup '%s' still has the child cgroup '%s'", name,
				       w->live[i].name);
	unlive(w, l);
	return 0;
}

static int changed(struct walk *w, const char *name, struct kt_err *err)
{
	struct live *l;

	if (need_live(w, name, &l, err))
		return -1;
	w->plan.cg[l->plan].cpuset_changed = true;
	return 0;
}

static int spawn_op(struct walk *w, const Ktstr__Spawn *sp, bool host, struct kt_err *err)
{
	struct live *l;

	if (need_live(w, sp->cgroup, &l, err))
		return -1;
	if (host && !l->parent[0]) {
		if (w->root == SIZE_MAX)
			w->root = plan_add(w, KT_SPEC_ROOT_CGROUP, NULL);
		w->plan.cg[w->root].workers += sp->workers;
		return 0;
	}
	if (host && need_live(w, l->parent, &l, err))
		return -1;
	w->plan.cg[l->plan].workers += sp->workers;
	return 0;
}

static int find_payload(struct walk *w, const char *name)
{
	for (size_t i = 0; i < w->n_payloads; i++)
		if (!strcmp(w->payloads[i], name))
			return (int)i;
	return -1;
}

static int payload_op(struct walk *w, const Ktstr__Op *op, struct kt_err *err)
{
	const char *name;
	int i;

	if (op->op_case == KTSTR__OP__OP_RUN_PAYLOAD) {
		name = op->run_payload->name;
		if (find_payload(w, name) >= 0)
			return kt_errf(err, "payload '%s' already ran; names are unique", name);
		if (w->n_payloads >= KT_SPEC_MAX_PAYLOADS)
			return kt_errf(err, "more than %d payloads", KT_SPEC_MAX_PAYLOADS);
		if (op->run_payload->cgroup[0] && need_live(w, op->run_payload->cgroup, NULL, err))
			return -1;
		w->payloads = kt_xrealloc(w->payloads, (w->n_payloads + 1) * sizeof(*w->payloads));
		w->running = kt_xrealloc(w->running, (w->n_payloads + 1) * sizeof(*w->running));
		w->pay_cg = kt_xrealloc(w->pay_cg, (w->n_payloads + 1) * sizeof(*w->pay_cg));
		w->pay_cg[w->n_payloads] = op->run_payload->cgroup;
		w->payloads[w->n_payloads] = name;
		w->running[w->n_payloads++] = true;
		return 0;
	}
	name = op->op_case == KTSTR__OP__OP_WAIT_PAYLOAD ? op->wait_payload->name : op->kill_payload;
	i = find_payload(w, name);
	if (i < 0 || !w->running[i])
		return kt_errf(err, "payload '%s' is not running at this point", name);
	w->running[i] = false;
	return 0;
}

static int walk_op(struct walk *w, const Ktstr__Op *op, struct kt_err *err)
{
	switch (op->op_case) {
	case KTSTR__OP__OP_ADD_CGROUP:
		return make(w, op->add_cgroup, true, err);
	case KTSTR__OP__OP_REMOVE_CGROUP:
		return remove_op(w, op->remove_cgroup, err);
	case KTSTR__OP__OP_SET_CPUSET:
		return changed(w, op->set_cpuset->cgroup, err);
	case KTSTR__OP__OP_CLEAR_CPUSET:
		return changed(w, op->clear_cpuset, err);
	case KTSTR__OP__OP_SWAP_CPUSETS:
		if (!strcmp(op->swap_cpusets->a, op->swap_cpusets->b))
			return kt_errf(err, "swaps cgroup '%s' with itself", op->swap_cpusets->a);
		return changed(w, op->swap_cpusets->a, err) || changed(w, op->swap_cpusets->b, err);
	case KTSTR__OP__OP_SPAWN:
		return spawn_op(w, op->spawn, false, err);
	case KTSTR__OP__OP_SPAWN_HOST:
		return spawn_op(w, op->spawn_host, true, err);
	case KTSTR__OP__OP_STOP_CGROUP:
		return need_live(w, op->stop_cgroup, NULL, err);
	case KTSTR__OP__OP_SET_AFFINITY:
		if (op->set_affinity->affinity->kind == KTSTR__AFFINITY_KIND__AFFINITY_CROSS_CGROUP &&
		    need_live(w, op->set_affinity->affinity->cgroup, NULL, err))
			return kt_err_prefix(err, "cross_cgroup");
		return need_live(w, op->set_affinity->cgroup, NULL, err);
	case KTSTR__OP__OP_MOVE_ALL_TASKS:
		if (!strcmp(op->move_all_tasks->from, op->move_all_tasks->to))
			return kt_errf(err, "moves cgroup '%s' into itself", op->move_all_tasks->to);
		if (need_live(w, op->move_all_tasks->from, NULL, err) ||
		    need_live(w, op->move_all_tasks->to, NULL, err))
			return -1;
		/* The payloads running there move too. */
		for (size_t i = 0; i < w->n_payloads; i++)
			if (w->running[i] && !strcmp(w->pay_cg[i], op->move_all_tasks->from))
				w->pay_cg[i] = op->move_all_tasks->to;
		return 0;
	case KTSTR__OP__OP_RUN_PAYLOAD:
	case KTSTR__OP__OP_WAIT_PAYLOAD:
	case KTSTR__OP__OP_KILL_PAYLOAD:
		return payload_op(w, op, err);
	default:
		return 0;
	}
}

static bool loop_ok(const Ktstr__Op *op)
{
	switch (op->op_case) {
	case KTSTR__OP__OP_SET_CPUSET:
	case KTSTR__OP__OP_CLEAR_CPUSET:
	case KTSTR__OP__OP_SWAP_CPUSETS:
	case KTSTR__OP__OP_SET_AFFINITY:
	case KTSTR__OP__OP_MOVE_ALL_TASKS:
		return true;
	default:
		return false;
	}
}

/* A step cgroup's cross_cgroup affinity names a cgroup that exists. */
static int cross_ok(struct walk *w, const Ktstr__AffinitySpec *a, struct kt_err *err)
{
	if (a && a->kind == KTSTR__AFFINITY_KIND__AFFINITY_CROSS_CGROUP &&
	    need_live(w, a->cgroup, NULL, err))
		return kt_err_prefix(err, "cross_cgroup");
	return 0;
}

static int walk_step(struct walk *w, const Ktstr__StepSpec *st, size_t si,
		     struct kt_spec_where *where, struct kt_err *err)
{
	bool loop = st->hold && st->hold->kind == KTSTR__HOLD_SPEC__KIND__LOOP;
	size_t keep;

	where->step = si;
	where->at = KT_AT_OP;
	for (size_t i = 0; i < st->n_ops; i++) {
		where->index = i;
		if (loop && !loop_ok(st->ops[i]))
			return kt_errf(err, "%s cannot repeat in a loop hold (set_cpuset, "
				       "clear_cpuset, swap_cpusets, set_affinity and move_all_tasks "
				       "can)", kt_spec_op_name(st->ops[i]));
		if (walk_op(w, st->ops[i], err))
			return kt_err_prefix(err, "%s", kt_spec_op_name(st->ops[i]));
	}
	where->at = KT_AT_CGROUP;
	keep = w->n_live;
	for (size_t i = 0; i < st->n_cgroups; i++) {
		where->index = i;
		if (make(w, st->cgroups[i], false, err) ||
		    cross_ok(w, st->cgroups[i]->affinity, err))
			return -1;
	}
	/* The step's own cgroups end with it (they were appended last). */
	w->n_live = keep;
	return 0;
}

void kt_spec_plan_free(struct kt_spec_plan *plan)
{
	free(plan->cg);
	memset(plan, 0, sizeof(*plan));
}

int kt_spec_resolve(const Ktstr__EntrySpec *spec, struct kt_spec_plan *plan,
		    struct kt_spec_where *where, struct kt_err *err)
{
	struct kt_spec_where dummy;
	struct walk w;
	int rc = 0;

	memset(&w, 0, sizeof(w));
	w.root = SIZE_MAX;
	where = where ? where : &dummy;
	where->at = KT_AT_BACKDROP;
	where->step = 0;
	for (size_t i = 0; i < spec->n_backdrop && !rc; i++) {
		where->index = i;
		rc = make(&w, spec->backdrop[i], false, err);
		if (!rc)
			rc = cross_ok(&w, spec->backdrop[i]->affinity, err);
	}
	for (size_t si = 0; si < spec->n_steps && !rc; si++) {
		w.step = (uint32_t)si;
		if (si)
			w.n_made = 0;
		rc = walk_step(&w, spec->steps[si], si, where, err);
	}
	w.plan.n_payloads = w.n_payloads;
	if (!rc && plan)
		*plan = w.plan;
	else
		kt_spec_plan_free(&w.plan);
	free(w.live);
	free(w.made);
	free(w.payloads);
	free(w.pay_cg);
	free(w.running);
	return rc;
}
