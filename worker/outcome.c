#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "outcome.h"
#include "util.h"

int kt_outcome_status_parse(const char *name, enum kt_status *out)
{
	for (enum kt_status s = KT_PASS; s <= KT_SKIP; s++)
		if (strcmp(kt_status_name(s), name) == 0) {
			*out = s;
			return 0;
		}
	return -1;
}

static void set_meta(Ktstr__EntryOutcome *o, Ktstr__EntryRef *ref, const struct kt_outcome_meta *m)
{
	ref->entry_id = m->entry_id;
	ref->attempt = m->attempt;
	o->ref = ref;
	o->worker_id = (char *)m->worker_id;
	o->has_started_at = m->started_at != 0;
	o->started_at = m->started_at;
	o->has_ended_at = m->ended_at != 0;
	o->ended_at = m->ended_at;
}

static int pack(const Ktstr__EntryOutcome *o, uint8_t **buf, size_t *len, struct kt_err *err)
{
	size_t n = ktstr__entry_outcome__get_packed_size(o);

	if (n > KT_OUTCOME_MAX)
		return kt_errf(err, "outcome of entry %llu attempt %u: %zu bytes, more than %u",
			       (unsigned long long)o->ref->entry_id, o->ref->attempt, n,
			       KT_OUTCOME_MAX);
	*buf = kt_xcalloc(n, 1);
	*len = ktstr__entry_outcome__pack(o, *buf);
	return 0;
}

int kt_outcome_pack_status(const struct kt_outcome_meta *m, enum kt_status s,
			   const char *message, uint8_t **buf, size_t *len, struct kt_err *err)
{
	Ktstr__EntryOutcome o = KTSTR__ENTRY_OUTCOME__INIT;
	Ktstr__EntryRef ref = KTSTR__ENTRY_REF__INIT;

	set_meta(&o, &ref, m);
	o.status = (char *)kt_status_name(s);
	o.message = (char *)message;
	return pack(&o, buf, len, err);
}

int kt_outcome_pack_result(const struct kt_outcome_meta *m, const struct kt_entry_result *r,
			   uint8_t **buf, size_t *len, struct kt_err *err)
{
	Ktstr__EntryOutcome o = KTSTR__ENTRY_OUTCOME__INIT;
	Ktstr__EntryRef ref = KTSTR__ENTRY_REF__INIT;
	Ktstr__CheckResult *cr = kt_xcalloc(r->n_checks, sizeof(*cr));
	Ktstr__CheckResult **crp = kt_xcalloc(r->n_checks, sizeof(*crp));
	char *logs[KT_ENTRY_MAX_LOGS + 1], note[128];
	int rc;

	set_meta(&o, &ref, m);
	o.status = (char *)kt_status_name(r->status);
	o.message = (char *)r->message;
	if (r->accel_why[0]) /* an accelerator was chosen: the guest was tried */
		o.accel = (char *)kt_accel_name(r->accel);
	o.has_boot_ms = o.has_run_ms = o.has_total_ms = 1;
	o.boot_ms = r->boot_ms;
	o.run_ms = r->run_ms;
	o.total_ms = r->total_ms;
	o.guest_kernel = r->hello ? r->hello->kernel_release : NULL;
	o.guest_topology = r->gtopo;
	o.result = r->result;
	for (size_t i = 0; i < r->n_checks; i++) {
		ktstr__check_result__init(&cr[i]);
		cr[i].name = (char *)r->checks[i].name;
		cr[i].passed = r->checks[i].passed;
		cr[i].has_value = cr[i].has_threshold = 1;
		cr[i].value = r->checks[i].value;
		cr[i].threshold = r->checks[i].threshold;
		cr[i].message = (char *)r->checks[i].message;
		crp[i] = &cr[i];
	}
	o.n_checks = r->n_checks;
	o.checks = crp;
	o.console_tail = (char *)r->vm.console_tail;
	memcpy(logs, r->logs, r->n_logs * sizeof(logs[0]));
	o.n_logs = r->n_logs;
	o.logs = logs;
	if (ktstr__entry_outcome__get_packed_size(&o) > KT_OUTCOME_MAX) {
		/* The verdict and checks matter more than raw telemetry. */
		snprintf(note, sizeof(note), "outcome over %u bytes: per-worker telemetry dropped",
			 KT_OUTCOME_MAX);
		o.result = NULL;
		logs[o.n_logs++] = note;
	}
	rc = pack(&o, buf, len, err);
	free(crp);
	free(cr);
	return rc;
}

int kt_outcome_unpack(const uint8_t *buf, size_t len, Ktstr__EntryOutcome **out,
		      struct kt_err *err)
{
	Ktstr__EntryOutcome *o;
	enum kt_status s;
	char name[32];

	*out = NULL;
	if (len > KT_OUTCOME_MAX)
		return kt_errf(err, "outcome: %zu bytes, more than %u", len, KT_OUTCOME_MAX);
	o = ktstr__entry_outcome__unpack(NULL, len, buf);
	if (!o)
		return kt_errf(err, "outcome: %zu bytes that do not unpack as an EntryOutcome", len);
	if (kt_outcome_status_parse(o->status, &s)) {
		kt_printable_copy(o->status, strlen(o->status), name, sizeof(name));
		kt_errf(err, "outcome of entry %llu attempt %u: unknown status '%s'",
			(unsigned long long)o->ref->entry_id, o->ref->attempt, name);
		ktstr__entry_outcome__free_unpacked(o, NULL);
		return -1;
	}
	*out = o;
	return 0;
}
