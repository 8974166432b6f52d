#include <math.h>
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
	if (h->kind == KTSTR__HOLD_SPEC__KIND__FIXED)
		return h->ms;
	return (uint64_t)llround(h->frac * (double)spec->duration_ms);
}

static int check_hold(const Ktstr__EntrySpec *spec, const Ktstr__StepSpec *st, size_t si,
		      struct kt_err *err)
{
	const Ktstr__HoldSpec *h = st->hold;

	if (!h)
		return 0;
	if (h->kind != KTSTR__HOLD_SPEC__KIND__FRAC && h->kind != KTSTR__HOLD_SPEC__KIND__FIXED)
		return kt_errf(err, "step %zu: unknown hold kind %d", si, (int)h->kind);
	if (h->kind == KTSTR__HOLD_SPEC__KIND__FRAC && !(isfinite(h->frac) && h->frac >= 0 &&
							 h->frac <= 1))
		return kt_errf(err, "step %zu: hold frac %g is not in [0, 1]", si, h->frac);
	if (kt_spec_hold_ms(spec, st) > KT_SPEC_MAX_HOLD_MS)
		return kt_errf(err, "step %zu: hold of %llu ms exceeds %u", si,
			       (unsigned long long)kt_spec_hold_ms(spec, st), KT_SPEC_MAX_HOLD_MS);
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
	if (cs && (cs->kind < KTSTR__CPUSET_KIND__CPUSET_NONE ||
		   cs->kind > KTSTR__CPUSET_KIND__CPUSET_LLC))
		return kt_errf(err, "step %zu cgroup '%s': unknown cpuset kind %d", si, cg->name,
			       (int)cs->kind);
	if (cs && cs->n_cpus > KT_CPU_ID_MAX)
		return kt_errf(err, "step %zu cgroup '%s': cpuset lists %zu CPUs", si, cg->name,
			       cs->n_cpus);
	return 0;
}

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
	for (size_t si = 0; si < spec->n_steps; si++)
		if (check_step(spec, si, &total, err))
			return kt_err_prefix(err, "scenario '%s'", spec->name);
	if (total > KT_SPEC_MAX_TOTAL_WORKERS)
		return kt_errf(err, "scenario '%s': %u workers in all exceed %d", spec->name, total,
			       KT_SPEC_MAX_TOTAL_WORKERS);
	return 0;
}
