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

int kt_spec_work_check(const Ktstr__WorkSpec *work, unsigned n, struct kt_err *err)
{
	Ktstr__WorkType type = work ? work->type : KTSTR__WORK_TYPE__WORK_CPU_SPIN;

	switch (type) {
	case KTSTR__WORK_TYPE__WORK_CPU_SPIN:
	case KTSTR__WORK_TYPE__WORK_YIELD_HEAVY:
	case KTSTR__WORK_TYPE__WORK_MIXED:
	case KTSTR__WORK_TYPE__WORK_IO_SYNC:
		return 0;
	case KTSTR__WORK_TYPE__WORK_PIPE_IO:
		if (n % 2)
			return kt_errf(err, "pipe_io needs an even number of workers, got %u", n);
		return 0;
	case KTSTR__WORK_TYPE__WORK_BURSTY:
		if (!work->burst_ms && !work->sleep_ms)
			return 0;
		if (work->burst_ms < 1 || work->burst_ms > KT_SPEC_MAX_BURST_MS ||
		    work->sleep_ms > KT_SPEC_MAX_BURST_MS)
			return kt_errf(err, "bursty: burst_ms %u must be in 1..%u and sleep_ms %u "
				       "in 0..%u", work->burst_ms, KT_SPEC_MAX_BURST_MS,
				       work->sleep_ms, KT_SPEC_MAX_BURST_MS);
		return 0;
	default:
		return kt_errf(err, "unknown work type %d", (int)type);
	}
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
