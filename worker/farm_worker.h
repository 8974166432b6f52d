/* The farm worker daemon (ktstr-worker): registers with the coordinator,
 * runs assigned entries through the single-entry core, and reports their
 * outcomes until they are acknowledged.
 *
 * One process, one event loop (zmq_poll on the DEALER socket, one pipe per
 * running entry, a wake-up pipe for signals, timers); one forked child per
 * running entry. The child puts itself in its own process group (QEMU
 * joins it and dies with the child through PR_SET_PDEATHSIG; the child
 * dies with the worker the same way), calls kt_entry_run() and writes the
 * packed EntryOutcome to its pipe as a 4-byte little-endian length and the
 * bytes, then exits. The loop never blocks on a child: a child that exits
 * or dies without a whole outcome becomes an `infra` outcome.
 *
 * Protocol behaviour (farm_msg.h, proto/farm.proto):
 * - identity: the worker id (--id, default the host name: stable across
 *   restarts, so a restarted worker's outbox is resent under the same
 *   name) is also the DEALER's ZeroMQ routing id, so the coordinator sees
 *   one identity across reconnects. Ids must be unique in a farm.
 * - a WorkerHello (capabilities, running entries, unacknowledged
 *   outcomes) every heartbeat until a HelloAck arrives; then a Heartbeat
 *   every heartbeat (the HelloAck's heartbeat_ms, if it gives one). A
 *   HelloAck or Heartbeat with a coordinator_id other than the last one
 *   seen (a restarted coordinator) means hello again. No coordinator
 *   message for KT_FARM_LOST_BEATS heartbeats: the coordinator is lost;
 *   entries keep running, outcomes are kept, hellos resume.
 * - Assignment: refused with a HandBack while draining or when it does not
 *   fit the free vCPU/memory budget; answered with an outcome at once when
 *   it is malformed (`error`: also a scheduler other than eevdf and
 *   scx-ktstr without a binary) or names the built-in scx-ktstr on a worker
 *   built without it (`infra`, so the coordinator requeues it; its Hello
 *   says has_scx_ktstr = false and placement sends such entries only to
 *   workers that have it); otherwise its kernel, kernel config,
 *   scenario, scheduler binary and payload binaries are fetched by sha256
 *   when not cached (one chunk in flight per artifact), then the child
 *   starts. Progress
 *   "fetching" / "running" is reported.
 * - the scheduler under test goes to kt_entry_run as a kt_entry_sched:
 *   scx-ktstr is the worker's own (opts.scx_ktstr), any other the fetched
 *   binary, copied executable to <cache>/artifacts/bin/<sha256>/<name> so
 *   that the guest runs it as /bin/<name>; with args, expect_err, sysctls
 *   and kernel args from the Assignment. Payload binaries likewise, as
 *   <cache>/artifacts/bin/<sha256>/<basename of the scenario's path>,
 *   mapped for kt_entry_run (kt_entry_req.payloads).
 * - outcomes are kept (on disk, <cache>/outbox) until an OutcomeAck, and
 *   resent every KT_FW_RESEND_BEATS heartbeats and in every hello.
 * - CancelEntry: the entry's process group gets SIGTERM (QEMU exits, the
 *   child cleans up its files and exits; SIGKILL after KT_FW_KILL_GRACE_MS)
 *   and no outcome is sent for it (the coordinator has already counted it
 *   cancelled); an
 *   outcome of it still waiting for an ack is forgotten too. An outcome
 *   that crossed the cancel on the wire may still arrive: the coordinator
 *   acks and ignores it.
 * - the first kt_fw_stop() (SIGTERM/SIGINT) drains: no new entries (hand
 *   back those not started yet), running ones finish and are reported,
 *   then up to KT_FW_DRAIN_ACK_MS for their acks (what is still unacked
 *   stays in the outbox for the next start), return 0. The second stop
 *   stops the running entries as a cancel does, hands them back, returns
 *   1. */
#ifndef KTSTR_FARM_WORKER_H
#define KTSTR_FARM_WORKER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "entry.h"
#include "err.h"
#include "farm.pb-c.h"
#include "outcome.h"
#include "scenario.h"
#include "strv.h"
#include "topology.h"

#define KT_FW_RESEND_BEATS 5       /* unacked outcomes are resent this often */
#define KT_FW_DRAIN_ACK_MS 10000   /* draining: how long to wait for acks */
#define KT_FW_FETCH_RETRY_BEATS 5  /* an unanswered ArtifactRequest is resent */
#define KT_FW_FETCH_TRIES 12       /* resends without progress before giving up */
#define KT_FW_KILL_GRACE_MS 5000   /* SIGTERM to SIGKILL for a stopped entry */
#define KT_FW_KERNEL_MAX (512ull << 20)
#define KT_FW_CONFIG_MAX (16ull << 20)
#define KT_FW_MAX_ID 128
#define KT_FW_BINARY_MAX (256ull << 20) /* a scheduler or payload binary */
#define KT_FW_MAX_WORDS 64          /* sysctls, kernel args, scheduler args */
#define KT_FW_EEVDF "eevdf"         /* the kernel's own scheduler */
#define KT_FW_SCX_KTSTR "scx-ktstr" /* the built-in one, beside ktstr-worker */

struct kt_fw_opts {
	const char *coordinator;       /* ZeroMQ endpoint */
	const char *id;                /* NULL = the host name */
	const char *cache_dir;         /* kernel cache; also artifacts/ and outbox/ */
	const char *agent;             /* ktstr-guest binary */
	const char *scx_ktstr;         /* the built-in scx-ktstr binary; NULL = none */
	unsigned vcpus;                /* budget; 0 = host CPUs */
	uint64_t memory_mb;            /* budget; 0 = 75% of host memory */
	const char *const *tags;
	size_t n_tags;
	enum kt_accel_mode accel;
	unsigned heartbeat_ms;         /* 0 = KT_FARM_HEARTBEAT_MS */
};

struct kt_fw;

/* Validate the options, work out the budgets and id, open the outbox
 * (loading what an earlier run left). No network yet. */
int kt_fw_new(const struct kt_fw_opts *o, struct kt_fw **out, struct kt_err *err);
void kt_fw_free(struct kt_fw *fw);

/* Connect and serve until drained (0) or stopped (1); -1 when the socket
 * cannot be set up. */
int kt_fw_run(struct kt_fw *fw, struct kt_err *err);

/* Drain on the first call, stop on the second. Async-signal-safe and
 * thread-safe: meant for a signal handler. */
void kt_fw_stop(struct kt_fw *fw);

/* ---- decisions, exposed for the unit tests ---- */

const char *kt_fw_id(const struct kt_fw *fw);

/* The hello FW would send now: capabilities, the running entries, and the
 * oldest unacknowledged outcomes up to KT_OUTCOME_MAX bytes (marked as
 * sent at NOW_MS). Valid until the next call or kt_fw_free. */
const Ktstr__WorkerHello *kt_fw_hello(struct kt_fw *fw, uint64_t now_ms);

struct kt_fw_capacity {
	unsigned vcpus, used_vcpus;
	uint64_t memory_mb, used_memory_mb;
	bool draining;
	bool has_scx_ktstr;            /* the built-in scheduler is there */
};

/* What an assignment needs, once validated. */
struct kt_fw_need {
	struct kt_topo topo;
	unsigned vcpus;
	uint64_t memory_mb;
};

enum kt_fw_verdict {
	KT_FW_RUN,      /* accept: fetch what is missing, then run */
	KT_FW_HANDBACK, /* refuse with a HandBack (draining, over budget) */
	KT_FW_INFRA,    /* answer with an `infra` outcome (requeued): this worker
			 * lacks what the entry needs (the built-in scx-ktstr) */
	KT_FW_ERROR,    /* answer with an `error` outcome: malformed */
};

/* Judge assignment A against CAP; WHY (LEN bytes) says why for anything
 * but KT_FW_RUN. Order: draining, malformed, scx-ktstr missing, budget. */
enum kt_fw_verdict kt_fw_admit(const struct kt_fw_capacity *cap, const Ktstr__Assignment *a,
			       struct kt_fw_need *need, char *why, size_t len);

/* The scheduler under test of an assignment, for kt_entry_req.sched. */
struct kt_fw_sched {
	bool on;                   /* false: the kernel's own (es unused) */
	struct kt_entry_sched es;  /* points into the fields below and A */
	struct kt_strv args, sysctls, kernel_args;
	char bin[4096];
};

/* Fill S from assignment A (valid for as long as A): scx-ktstr without a
 * binary is SCX_KTSTR (the worker's own); a binary is the fetched artifact
 * in CACHE, copied once as an executable named after the scheduler
 * (<cache>/artifacts/bin/<sha256>/<name>: the guest runs /bin/<name>).
 * -1 when that copy fails or the built-in one is missing. Free with
 * kt_fw_sched_free. */
int kt_fw_sched_of(const char *cache, const char *scx_ktstr, const Ktstr__Assignment *a,
		   struct kt_fw_sched *s, struct kt_err *err);
void kt_fw_sched_free(struct kt_fw_sched *s);

/* The payload binaries of an assignment (Assignment.payloads, each named
 * by the host path its scenario gives in run_payload), for
 * kt_entry_req.payloads: MAP is ended by a NULL scenario_path. */
struct kt_fw_payloads {
	struct kt_entry_payload map[KT_SPEC_MAX_PAYLOADS + 1];
	char local[KT_SPEC_MAX_PAYLOADS][4096];
};

/* The first payload path of scenario SC that assignment A does not carry
 * (a coordinator that did not send it: the entry is `error`), or NULL. */
const char *kt_fw_payload_missing(const Ktstr__Assignment *a, const struct kt_scenario *sc);

/* Fill P from assignment A (P->map points into A: valid for as long as A):
 * every fetched payload in CACHE copied once as an executable with its
 * path's basename (<cache>/artifacts/bin/<sha256>/<basename>: the guest
 * runs /bin/<basename>). -1 when a copy fails. */
int kt_fw_payloads_of(const char *cache, const Ktstr__Assignment *a, struct kt_fw_payloads *p,
		      struct kt_err *err);

/* Apply the assignment's check overrides O (may be NULL) to C. */
void kt_fw_apply_checks(const Ktstr__CheckOverrides *o, struct kt_checks_cfg *c);

/* The outcome to keep for a finished child: its own when the N bytes it
 * wrote are one whole, valid outcome for META's entry and attempt; else an
 * `infra` outcome saying how the child ended (WSTATUS from waitpid) and
 * what was wrong with its output. Packed into a malloc'd *OUT. */
int kt_fw_child_outcome(const struct kt_outcome_meta *meta, const uint8_t *buf, size_t n,
			int wstatus, uint8_t **out, size_t *out_len, struct kt_err *err);

#endif
