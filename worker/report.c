#define _GNU_SOURCE
#include <ctype.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>
#include "cpuset.h"
#include "dump.h"
#include "json.h"
#include "report.h"

const char *kt_work_type_name(int type, char *buf, size_t len)
{
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value(&ktstr__work_type__descriptor, type);
	const char *n = v ? v->name : "unknown";
	size_t i;

	if (strncmp(n, "WORK_", 5) == 0)
		n += 5;
	for (i = 0; n[i] && i + 1 < len; i++)
		buf[i] = tolower((unsigned char)n[i]);
	buf[i] = 0;
	return buf;
}

static double ms(uint64_t ns)
{
	return ns / 1e6;
}

static void json_cpus(struct kt_json *j, const uint32_t *cpus, size_t n)
{
	kt_json_arr_begin(j);
	for (size_t i = 0; i < n; i++)
		kt_json_u64(j, cpus[i]);
	kt_json_arr_end(j);
}

static void json_wake(struct kt_json *j, const Ktstr__WakeLatency *wl)
{
	kt_json_key(j, "wake_latency");
	kt_json_obj_begin(j);
	kt_json_key(j, "count");
	kt_json_u64(j, wl->count);
	kt_json_key(j, "p50_us");
	kt_json_double(j, wl->p50_ns / 1e3);
	kt_json_key(j, "p99_us");
	kt_json_double(j, wl->p99_ns / 1e3);
	kt_json_key(j, "max_us");
	kt_json_double(j, wl->max_ns / 1e3);
	kt_json_key(j, "mean_us");
	kt_json_double(j, wl->mean_ns / 1e3);
	kt_json_obj_end(j);
}

/* A worker's stretches of time per cgroup and cpuset (moves, changes). */
static void json_segments(struct kt_json *j, const Ktstr__WorkerStats *s)
{
	kt_json_key(j, "segments");
	kt_json_arr_begin(j);
	for (size_t i = 0; i < s->n_segments; i++) {
		kt_json_obj_begin(j);
		kt_json_key(j, "cgroup");
		kt_json_str(j, s->segments[i]->cgroup);
		kt_json_key(j, "cpus");
		json_cpus(j, s->segments[i]->cpus, s->segments[i]->n_cpus);
		kt_json_key(j, "cpus_seen");
		json_cpus(j, s->segments[i]->cpus_seen, s->segments[i]->n_cpus_seen);
		kt_json_obj_end(j);
	}
	kt_json_arr_end(j);
}

static void json_cgroups(struct kt_json *j, const Ktstr__ScenarioResult *res)
{
	char wt[32];

	kt_json_arr_begin(j);
	for (size_t c = 0; res && c < res->n_cgroups; c++) {
		const Ktstr__CgroupStats *cg = res->cgroups[c];

		kt_json_obj_begin(j);
		kt_json_key(j, "name");
		kt_json_str(j, cg->name);
		kt_json_key(j, "step");
		kt_json_u64(j, cg->step);
		kt_json_key(j, "cpus");
		json_cpus(j, cg->cpus, cg->n_cpus);
		kt_json_key(j, "workers");
		kt_json_arr_begin(j);
		for (size_t w = 0; w < cg->n_workers; w++) {
			const Ktstr__WorkerStats *s = cg->workers[w];

			kt_json_obj_begin(j);
			kt_json_key(j, "work_type");
			kt_json_str(j, kt_work_type_name(s->work_type, wt, sizeof(wt)));
			kt_json_key(j, "work_units");
			kt_json_u64(j, s->work_units);
			kt_json_key(j, "cpu_ms");
			kt_json_double(j, ms(s->cpu_ns));
			kt_json_key(j, "wall_ms");
			kt_json_double(j, ms(s->wall_ns));
			kt_json_key(j, "run_delay_ms");
			kt_json_double(j, ms(s->run_delay_ns));
			kt_json_key(j, "timeslices");
			kt_json_u64(j, s->timeslices);
			if (s->settle_wall_ns) {
				kt_json_key(j, "settle_wall_ms");
				kt_json_double(j, ms(s->settle_wall_ns));
				kt_json_key(j, "settle_run_delay_ms");
				kt_json_double(j, ms(s->settle_run_delay_ns));
			}
			kt_json_key(j, "max_gap_ms");
			kt_json_double(j, ms(s->max_gap_ns));
			kt_json_key(j, "migrations");
			kt_json_u64(j, s->migrations);
			kt_json_key(j, "cpus_seen");
			json_cpus(j, s->cpus_seen, s->n_cpus_seen);
			if (s->wake_latency)
				json_wake(j, s->wake_latency);
			if (s->n_segments)
				json_segments(j, s);
			kt_json_obj_end(j);
		}
		kt_json_arr_end(j);
		kt_json_obj_end(j);
	}
	kt_json_arr_end(j);
}

static const char *sched_failure_name(Ktstr__SchedulerState__Failure f)
{
	static const char *const names[] = {"none", "stall", "error", "crash", "verifier",
					    "not_enabled"};

	return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "unknown";
}

/* `scheduler`: null for the kernel's own; what the guest saw of it; the
 * requested name when the guest never said. */
static void json_sched(struct kt_json *j, const struct kt_entry_req *req,
		       const struct kt_entry_result *r)
{
	const Ktstr__SchedulerState *s = r->result ? r->result->scheduler : NULL;

	kt_json_key(j, "scheduler");
	if (!req->sched) {
		kt_json_null(j);
		return;
	}
	kt_json_obj_begin(j);
	kt_json_key(j, "name");
	kt_json_str(j, req->sched->name);
	kt_json_key(j, "expect_err");
	kt_json_bool(j, req->sched->expect_err);
	kt_json_key(j, "enabled");
	kt_json_bool(j, s && s->enabled);
	kt_json_key(j, "failure");
	kt_json_str(j, s ? sched_failure_name(s->failure) : NULL);
	kt_json_key(j, "exit");
	if (s && (s->exited || s->exit_kind)) {
		kt_json_obj_begin(j);
		kt_json_key(j, "kind");
		kt_json_u64(j, s->exit_kind);
		kt_json_key(j, "reason");
		kt_json_str(j, s->reason);
		kt_json_key(j, "message");
		kt_json_str(j, s->message);
		kt_json_key(j, "after_ms");
		kt_json_u64(j, s->exited_after_ms);
		kt_json_obj_end(j);
	} else {
		kt_json_null(j);
	}
	kt_json_key(j, "exit_status");
	if (s)
		kt_json_i64(j, s->exit_status);
	else
		kt_json_null(j);
	kt_json_key(j, "exit_signal");
	kt_json_i64(j, s ? s->exit_signal : 0);
	kt_json_key(j, "output");
	kt_json_str(j, s ? s->output : NULL);
	kt_json_key(j, "kernel_dump");
	kt_json_str(j, s ? s->kernel_dump : NULL);
	kt_json_key(j, "klog_tail");
	kt_json_str(j, s ? s->klog_tail : NULL);
	kt_json_obj_end(j);
}

/* A dump or snapshot from the guest, re-printed through the dump parser
 * (common/dump.h): text that does not parse becomes {"error": ...}, so
 * guest bytes never reach the report raw. */
static void json_dump(struct kt_json *j, const char *text)
{
	struct kt_dump *d;
	struct kt_err e;
	char *buf = NULL;
	size_t len = 0;
	FILE *m;

	if (kt_dump_parse(text, strlen(text), &d, &e)) {
		kt_json_obj_begin(j);
		kt_json_key(j, "error");
		kt_json_str(j, e.msg);
		kt_json_obj_end(j);
		return;
	}
	m = open_memstream(&buf, &len);
	if (!m)
		abort();
	kt_dval_print(kt_dump_root(d), m);
	fclose(m);
	kt_json_raw(j, buf);
	free(buf);
	kt_dump_free(d);
}

/* `dump`: the failure dump or null; `snapshots`: {NAME: dump or {error}},
 * a repeated name as NAME#2, NAME#3, ... */
static void json_dumps(struct kt_json *j, const Ktstr__ScenarioResult *res)
{
	kt_json_key(j, "dump");
	if (res && res->dump_json && res->dump_json[0])
		json_dump(j, res->dump_json);
	else
		kt_json_null(j);
	kt_json_key(j, "snapshots");
	kt_json_obj_begin(j);
	for (size_t i = 0; res && i < res->n_snapshots; i++) {
		const Ktstr__Snapshot *s = res->snapshots[i];
		unsigned same = 1;
		char key[160];

		for (size_t k = 0; k < i; k++)
			same += strcmp(res->snapshots[k]->name, s->name) == 0;
		if (same > 1)
			snprintf(key, sizeof(key), "%.140s#%u", s->name, same);
		else
			snprintf(key, sizeof(key), "%.140s", s->name);
		kt_json_key(j, key);
		if (s->json && s->json[0]) {
			json_dump(j, s->json);
		} else {
			kt_json_obj_begin(j);
			kt_json_key(j, "error");
			kt_json_str(j, s->error);
			kt_json_key(j, "at_ms");
			kt_json_u64(j, s->at_ms);
			kt_json_obj_end(j);
		}
	}
	kt_json_obj_end(j);
}

/* Where the guest's payloads ended; output is untrusted guest text. */
static void json_payloads(struct kt_json *j, const Ktstr__ScenarioResult *res)
{
	kt_json_arr_begin(j);
	for (size_t i = 0; res && i < res->n_payloads; i++) {
		const Ktstr__PayloadResult *p = res->payloads[i];

		kt_json_obj_begin(j);
		kt_json_key(j, "name");
		kt_json_str(j, p->name);
		kt_json_key(j, "exit_code");
		kt_json_i64(j, p->exit_code);
		kt_json_key(j, "signal");
		kt_json_i64(j, p->signal);
		kt_json_key(j, "timed_out");
		kt_json_bool(j, p->timed_out);
		kt_json_key(j, "killed_by_op");
		kt_json_bool(j, p->killed_by_op);
		/* The wait's timeout as written, and as used (scaled, clamped). */
		kt_json_key(j, "timeout_ms");
		kt_json_u64(j, p->timeout_ms);
		kt_json_key(j, "scaled_timeout_ms");
		kt_json_u64(j, p->scaled_timeout_ms);
		kt_json_key(j, "slowdown");
		kt_json_double(j, p->slowdown);
		kt_json_key(j, "clamped");
		kt_json_bool(j, p->clamped);
		kt_json_key(j, "run_ms");
		kt_json_u64(j, p->run_ms);
		kt_json_key(j, "output");
		kt_json_strn(j, p->output, strnlen(p->output, 4096));
		kt_json_obj_end(j);
	}
	kt_json_arr_end(j);
}

void kt_report_json(FILE *f, const struct kt_entry_req *req, const struct kt_entry_result *r)
{
	struct kt_json j;
	char topo[32];

	kt_topo_format(&req->topo, topo, sizeof(topo));
	kt_json_init(&j, f, false);
	kt_json_obj_begin(&j);
	kt_json_key(&j, "status");
	kt_json_str(&j, kt_status_name(r->status));
	kt_json_key(&j, "message");
	kt_json_str(&j, r->message);
	kt_json_key(&j, "scenario");
	kt_json_str(&j, kt_scenario_name(req->scenario));
	kt_json_key(&j, "duration_ms");
	kt_json_u64(&j, req->duration_ms);
	kt_json_key(&j, "kernel");
	kt_json_obj_begin(&j);
	kt_json_key(&j, "version");
	kt_json_str(&j, req->kernel->version);
	kt_json_key(&j, "sha256");
	kt_json_str(&j, req->kernel->sha256);
	kt_json_key(&j, "source");
	kt_json_str(&j, req->kernel->source);
	kt_json_obj_end(&j);
	kt_json_key(&j, "topology");
	kt_json_str(&j, topo);
	kt_json_key(&j, "guest_topology");
	if (r->gtopo) {
		kt_json_obj_begin(&j);
		kt_json_key(&j, "cpus");
		kt_json_u64(&j, r->gtopo->cpus);
		kt_json_key(&j, "llcs");
		kt_json_u64(&j, r->gtopo->llcs);
		kt_json_key(&j, "cores");
		kt_json_u64(&j, r->gtopo->cores);
		kt_json_key(&j, "threads_per_core");
		kt_json_u64(&j, r->gtopo->threads_per_core);
		kt_json_key(&j, "numa_nodes");
		kt_json_u64(&j, r->gtopo->numa_nodes);
		kt_json_key(&j, "matches");
		kt_json_bool(&j, r->topo_match);
		kt_json_obj_end(&j);
	} else {
		kt_json_null(&j);
	}
	kt_json_key(&j, "accel");
	kt_json_str(&j, kt_accel_name(r->accel));
	kt_json_key(&j, "accel_reason");
	kt_json_str(&j, r->accel_why);
	kt_json_key(&j, "boot_ms");
	kt_json_u64(&j, r->boot_ms);
	kt_json_key(&j, "run_ms");
	kt_json_u64(&j, r->run_ms);
	kt_json_key(&j, "total_ms");
	kt_json_u64(&j, r->total_ms);
	kt_json_key(&j, "guest_kernel");
	kt_json_str(&j, r->hello ? r->hello->kernel_release : NULL);
	kt_json_key(&j, "speed");
	kt_json_obj_begin(&j);
	kt_json_key(&j, "guest_ns");
	kt_json_u64(&j, r->speed.guest_ns);
	kt_json_key(&j, "host_ns");
	kt_json_u64(&j, r->speed.host_ns);
	kt_json_key(&j, "factor");
	kt_json_double(&j, r->speed.factor);
	kt_json_obj_end(&j);
	json_sched(&j, req, r);
	json_dumps(&j, r->result);
	kt_json_key(&j, "cgroups");
	json_cgroups(&j, r->result);
	kt_json_key(&j, "payloads");
	json_payloads(&j, r->result);
	kt_json_key(&j, "checks");
	kt_json_arr_begin(&j);
	for (size_t i = 0; i < r->n_checks; i++) {
		const struct kt_check *c = &r->checks[i];

		kt_json_obj_begin(&j);
		kt_json_key(&j, "name");
		kt_json_str(&j, c->name);
		kt_json_key(&j, "passed");
		kt_json_bool(&j, c->passed);
		kt_json_key(&j, "value");
		kt_json_double(&j, c->value);
		kt_json_key(&j, "threshold");
		kt_json_double(&j, c->threshold);
		kt_json_key(&j, "message");
		kt_json_str(&j, c->message);
		kt_json_obj_end(&j);
	}
	kt_json_arr_end(&j);
	kt_json_key(&j, "logs");
	kt_json_arr_begin(&j);
	for (size_t i = 0; i < r->n_logs; i++)
		kt_json_str(&j, r->logs[i]);
	kt_json_arr_end(&j);
	kt_json_key(&j, "frames_rejected");
	kt_json_u64(&j, r->vm.frames_rejected);
	kt_json_key(&j, "console_tail");
	kt_json_str(&j, r->vm.console_tail);
	kt_json_obj_end(&j);
	kt_json_end(&j);
}

void kt_report_json_early(FILE *f, enum kt_status status, const char *message,
			  const char *kernel_ref, const char *topology, const char *scenario)
{
	struct kt_json j;

	kt_json_init(&j, f, false);
	kt_json_obj_begin(&j);
	kt_json_key(&j, "status");
	kt_json_str(&j, kt_status_name(status));
	kt_json_key(&j, "message");
	kt_json_str(&j, message);
	kt_json_key(&j, "scenario");
	kt_json_str(&j, scenario);
	kt_json_key(&j, "kernel");
	kt_json_obj_begin(&j);
	kt_json_key(&j, "ref");
	kt_json_str(&j, kernel_ref);
	kt_json_key(&j, "version");
	kt_json_null(&j);
	kt_json_key(&j, "sha256");
	kt_json_null(&j);
	kt_json_obj_end(&j);
	kt_json_key(&j, "topology");
	kt_json_str(&j, topology);
	kt_json_key(&j, "guest_topology");
	kt_json_null(&j);
	kt_json_key(&j, "accel");
	kt_json_null(&j);
	kt_json_key(&j, "scheduler");
	kt_json_null(&j);
	kt_json_key(&j, "dump");
	kt_json_null(&j);
	kt_json_key(&j, "snapshots");
	kt_json_obj_begin(&j);
	kt_json_obj_end(&j);
	kt_json_key(&j, "boot_ms");
	kt_json_u64(&j, 0);
	kt_json_key(&j, "run_ms");
	kt_json_u64(&j, 0);
	kt_json_key(&j, "speed");
	kt_json_null(&j);
	kt_json_key(&j, "cgroups");
	kt_json_arr_begin(&j);
	kt_json_arr_end(&j);
	kt_json_key(&j, "checks");
	kt_json_arr_begin(&j);
	kt_json_arr_end(&j);
	kt_json_key(&j, "console_tail");
	kt_json_str(&j, "");
	kt_json_obj_end(&j);
	kt_json_end(&j);
}

void kt_report_human(FILE *f, const struct kt_entry_req *req, const struct kt_entry_result *r)
{
	char topo[32], wt[32], cpus[2048];
	const Ktstr__ScenarioResult *res = r->result;

	kt_topo_format(&req->topo, topo, sizeof(topo));
	fprintf(f, "%s  %s on %s, kernel %s (%.12s), %s\n", kt_status_name(r->status),
		kt_scenario_name(req->scenario), topo, req->kernel->version, req->kernel->sha256,
		kt_accel_name(r->accel));
	fprintf(f, "  %s\n", r->message);
	fprintf(f, "  boot %" PRIu64 " ms, run %" PRIu64 " ms, total %" PRIu64 " ms\n", r->boot_ms,
		r->run_ms, r->total_ms);
	if (r->speed.guest_ns)
		fprintf(f, "  speed: calibration loop %.1f ms in the guest, %.1f ms on the host: "
			"time thresholds x %.2f\n", ms(r->speed.guest_ns), ms(r->speed.host_ns),
			r->speed.factor);
	for (size_t c = 0; res && c < res->n_cgroups; c++) {
		const Ktstr__CgroupStats *cg = res->cgroups[c];

		kt_cpulist_format(cg->cpus, cg->n_cpus, cpus, sizeof(cpus), NULL);
		fprintf(f, "  cgroup %s (step %u) cpus %s\n", cg->name, cg->step, cpus);
		for (size_t w = 0; w < cg->n_workers; w++) {
			const Ktstr__WorkerStats *s = cg->workers[w];

			kt_cpulist_format(s->cpus_seen, s->n_cpus_seen, cpus, sizeof(cpus), NULL);
			fprintf(f,
				"    %-2zu %-12s units %-10" PRIu64 " cpu %7.1f ms  delay %7.1f ms  "
				"gap %6.1f ms  migr %-4" PRIu64 " cpus %s\n",
				w, kt_work_type_name(s->work_type, wt, sizeof(wt)), s->work_units,
				ms(s->cpu_ns), ms(s->run_delay_ns), ms(s->max_gap_ns), s->migrations,
				cpus);
		}
	}
	if (req->sched)
		fprintf(f, "  scheduler %s: %s, failure %s\n", req->sched->name,
			res && res->scheduler && res->scheduler->enabled ? "enabled" : "not enabled",
			res && res->scheduler ? sched_failure_name(res->scheduler->failure) : "?");
	for (size_t i = 0; i < r->n_checks; i++)
		fprintf(f, "  [%s] %-20s %s\n", r->checks[i].passed ? " ok " : "FAIL",
			r->checks[i].name, r->checks[i].message);
	for (size_t i = 0; i < r->n_logs; i++)
		fprintf(f, "  guest: %s\n", r->logs[i]);
	if (r->vm.frames_rejected)
		fprintf(f, "  %u control frame(s) rejected; last: %s\n", r->vm.frames_rejected,
			r->vm.frame_error);
	if (r->status != KT_PASS && r->vm.console_tail[0])
		fprintf(f, "  --- console tail ---\n%s\n  ---\n", r->vm.console_tail);
}
