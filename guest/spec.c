#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cpuset.h"
#include "scenario.h"
#include "spec.h"
#include "workload.h"

static int safe_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > KT_SPEC_NAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-", s[i]))
			return 0;
	return 1;
}

static int printable(const char *s)
{
	size_t n = strlen(s);

	if (n > KT_SPEC_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
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

	if (!safe_name(cg->name))
		return kt_errf(err, "step %zu cgroup %zu: name '%.64s' is not 1..%d of [A-Za-z0-9_.-]",
			       si, ci, cg->name, KT_SPEC_NAME_MAX);
	if (cg->workers > KT_SPEC_MAX_WORKERS)
		return kt_errf(err, "step %zu cgroup '%s': %u workers exceed %d", si, cg->name,
			       cg->workers, KT_SPEC_MAX_WORKERS);
	if (kt_work_check(cg->work, cg->workers, err))
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
	if (!printable(spec->name))
		return kt_errf(err, "scenario name is not printable ASCII of at most %d characters",
			       KT_SPEC_NAME_MAX);
	if (spec->duration_ms > KT_SPEC_MAX_DURATION_MS)
		return kt_errf(err, "duration_ms %llu exceeds %u",
			       (unsigned long long)spec->duration_ms, KT_SPEC_MAX_DURATION_MS);
	if (spec->n_steps > KT_SPEC_MAX_STEPS)
		return kt_errf(err, "%zu steps exceed %d", spec->n_steps,
			       KT_SPEC_MAX_STEPS);
	for (size_t si = 0; si < spec->n_steps; si++)
		if (check_step(spec, si, &total, err))
			return kt_err_prefix(err, "scenario '%s'", spec->name);
	if (total > KT_SPEC_MAX_TOTAL_WORKERS)
		return kt_errf(err, "scenario '%s': %u workers in all exceed %d", spec->name, total,
			       KT_SPEC_MAX_TOTAL_WORKERS);
	return 0;
}

int kt_spec_unpack(const uint8_t *buf, size_t len, Ktstr__EntrySpec **out, struct kt_err *err)
{
	Ktstr__EntrySpec *spec = ktstr__entry_spec__unpack(NULL, len, buf);

	if (!spec)
		return kt_errf(err, "%zu bytes are not a valid ktstr.EntrySpec", len);
	if (kt_spec_validate(spec, err)) {
		ktstr__entry_spec__free_unpacked(spec, NULL);
		return -1;
	}
	*out = spec;
	return 0;
}

int kt_spec_load(const char *path, Ktstr__EntrySpec **out, struct kt_err *err)
{
	uint8_t *buf = malloc(KT_SPEC_MAX_BYTES + 1);
	size_t len = 0;
	ssize_t r = 0;
	int fd, rc;

	if (!buf)
		return kt_errf(err, "%s: out of memory", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		kt_errf(err, "%s: %s", path, strerror(errno));
		free(buf);
		return -1;
	}
	while (len <= KT_SPEC_MAX_BYTES && (r = read(fd, buf + len, KT_SPEC_MAX_BYTES + 1 - len))) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			kt_errf(err, "%s: %s", path, strerror(errno));
			break;
		}
		len += (size_t)r;
	}
	close(fd);
	if (len > KT_SPEC_MAX_BYTES)
		rc = kt_errf(err, "%s: larger than %u bytes", path, KT_SPEC_MAX_BYTES);
	else if (r < 0)
		rc = -1;
	else
		rc = kt_spec_unpack(buf, len, out, err) ? kt_err_prefix(err, "%s", path) : 0;
	free(buf);
	return rc;
}
