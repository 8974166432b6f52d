#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include "accel.h"
#include "artifact.h"
#include "calib.h"
#include "checks_cfg.h"
#include "farm_msg.h"
#include "farm_worker.h"
#include "kernel_cache.h"
#include "outbox.h"
#include "outcome.h"
#include "util.h"

#define DEFAULT_DURATION_MS 2000
#define DEFAULT_WORKERS 2
#define REAP_POLL_MS 10   /* a child closed its pipe: how soon to look for its exit */
#define MAX_POLL_MS 250
#define HELLO_RETRY_MS 100 /* a hello that found no connection */

enum slot_state { SLOT_FETCHING, SLOT_RUNNING };

/* One accepted assignment, from acceptance until its outcome is kept. */
struct slot {
	struct slot *next;
	Ktstr__FarmMsg *msg; /* owns the assignment */
	const Ktstr__Assignment *a;
	uint64_t id;
	uint32_t attempt;
	char name[192];      /* for logs: "entry 12/1 (name)" */
	struct kt_fw_need need;
	enum slot_state state;
	bool fetch_told;     /* Progress "fetching" sent */
	bool cancelled;      /* stopped for a CancelEntry: no outcome, no budget */
	uint64_t term_ms;    /* when it was asked to stop (SIGTERM); 0 = not */
	pid_t pid;
	int fd;              /* read end of the child's pipe; -1 at EOF */
	uint8_t *buf;        /* what the child wrote */
	size_t n, cap;
	bool reaped;
	int wstatus;
	uint64_t started_at; /* unix ms */
};

/* One artifact being fetched; the slots that need it wait for it. */
struct fetch {
	struct fetch *next;
	struct kt_asm *as;
	char what[128];      /* "kernel NAME (sha12)" */
	uint64_t sent_ms;    /* last ArtifactRequest */
	unsigned tries;      /* resends without progress */
};

struct kt_fw {
	char id[KT_FW_MAX_ID + 1], hostname[256], arch[65];
	char cache[PATH_MAX], agent[PATH_MAX], endpoint[512], outbox_dir[PATH_MAX];
	char scx_ktstr[PATH_MAX]; /* the built-in scheduler; "" = none */
	char **tags;
	size_t n_tags;
	unsigned host_cpus, vcpus, hb_ms;
	uint64_t host_mem_mb, memory_mb;
	enum kt_accel_mode accel;
	struct kt_outbox *ob;
	void *ctx, *sock;
	int wake[2];            /* kt_fw_stop -> loop */
	atomic_int stops;
	int stops_seen;
	bool draining;
	uint64_t drain_idle_ms; /* draining with nothing running since; 0 = not yet */
	char coord[128];        /* the coordinator id last acked; "" none */
	bool registered;
	uint64_t coord_seen_ms, beat_ms;
	struct slot *slots;
	struct fetch *fetches;
	char last_send_err[KT_ERR_MAX], last_list_err[KT_ERR_MAX];
	/* what the last kt_fw_hello() points to */
	Ktstr__WorkerHello hello;
	Ktstr__EntryRef *h_refs, **h_refp;
	Ktstr__EntryOutcome **h_unacked;
	struct kt_kernel *h_kernels;
	char **h_arts;
};

/* ---- small helpers ---- */

static void fw_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fw_log(const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char t[32];
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	flockfile(stderr);
	fprintf(stderr, "%s.%03ldZ ktstr-worker: ", t, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

/* Log MSG unless it repeats the last one kept in LAST ("" resets). */
static void log_once(char *last, const char *msg)
{
	if (strcmp(last, msg) != 0) {
		fw_log("%s", msg);
		snprintf(last, KT_ERR_MAX, "%s", msg);
	}
}

static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Text from the coordinator, for a log line. */
static const char *clean(const char *s, char *buf, size_t len)
{
	if (!s)
		return "";
	kt_printable_copy(s, strlen(s), buf, len);
	return buf;
}

static bool id_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

const char *kt_fw_id(const struct kt_fw *fw)
{
	return fw->id;
}

/* ---- decisions ---- */

void kt_fw_apply_checks(const Ktstr__CheckOverrides *o, struct kt_checks_cfg *c)
{
	struct kt_checks_over over;

	/* kt_fw_admit refused an assignment whose overrides are out of range. */
	if (!kt_checks_over_from_pb(o, &over, NULL))
		kt_checks_over_apply(&over, c);
}

static bool ref_bad(const Ktstr__ArtifactRef *r, const char *what, uint64_t max, char *why,
		    size_t len)
{
	if (!kt_artifact_sha_ok(r->sha256)) {
		char s[80];

		snprintf(why, len, "%s: '%s' is not a sha256", what,
			 clean(r->sha256, s, sizeof(s)));
		return true;
	}
	if (r->has_size && r->size > max) {
		snprintf(why, len, "%s: %" PRIu64 " bytes, over the limit of %" PRIu64, what,
			 r->size, max);
		return true;
	}
	return false;
}

/* How a word from the coordinator goes into the guest. */
enum word_kind {
	W_ARG,    /* an argv element: printable */
	W_KARG,   /* a kernel command line word: no blanks or quotes */
	W_SYSCTL, /* KEY=VALUE, KEY a name under /proc/sys (as the matrix has it) */
};

static bool word_ok(const char *w, enum word_kind k)
{
	static const char key_chars[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/";
	size_t klen;

	if (!*w || strlen(w) > 255 || !kt_printable(w))
		return false;
	if (k == W_KARG)
		return !strpbrk(w, " \"");
	if (k == W_ARG)
		return true;
	/* A key that cannot leave /proc/sys; a value may hold blanks
	 * ("32768 60999"), not quotes. */
	klen = strcspn(w, "=");
	return w[klen] == '=' && klen && strspn(w, key_chars) >= klen && w[0] != '.' &&
	       w[0] != '/' && !memmem(w, klen, "..", 2) && !memmem(w, klen, "//", 2) &&
	       !memmem(w, klen, "/.", 2) && !memmem(w, klen, "./", 2) && !strchr(w, '"');
}

/* N words V of KIND, at most KT_FW_MAX_WORDS. */
static bool words_bad(char **v, size_t n, const char *what, enum word_kind kind, char *why,
		      size_t len)
{
	static const char *const expect[] = {
		[W_ARG] = "1 to 255 printable characters",
		[W_KARG] = "1 to 255 printable characters, no blanks or quotes",
		[W_SYSCTL] = "KEY=VALUE, KEY a sysctl name (kernel.sched_rt_runtime_us)",
	};
	char t[80];

	if (n > KT_FW_MAX_WORDS) {
		snprintf(why, len, "%s: %zu, more than %d", what, n, KT_FW_MAX_WORDS);
		return true;
	}
	for (size_t i = 0; i < n; i++)
		if (!word_ok(v[i] ? v[i] : "", kind)) {
			snprintf(why, len, "%s[%zu] '%s': expected %s", what, i,
				 clean(v[i], t, sizeof(t)), expect[kind]);
			return true;
		}
	return false;
}

/* The scheduler part of A: a name that can be a file name in the guest,
 * a binary for any but eevdf and the built-in scx-ktstr. */
static bool sched_bad(const Ktstr__Assignment *a, char *why, size_t len)
{
	const Ktstr__SchedulerRef *r = a->scheduler;
	const char *p;
	char t[80];

	if (words_bad(a->sysctls, a->n_sysctls, "sysctls", W_SYSCTL, why, len) ||
	    words_bad(a->kernel_args, a->n_kernel_args, "kernel_args", W_KARG, why, len))
		return true;
	if (!r || !strcmp(r->name, KT_FW_EEVDF))
		return false;
	if ((p = kt_spec_name_problem(r->name, false))) {
		snprintf(why, len, "scheduler '%s': %s", clean(r->name, t, sizeof(t)), p);
		return true;
	}
	if (words_bad(r->args, r->n_args, "scheduler args", W_ARG, why, len))
		return true;
	if (r->binary)
		return ref_bad(r->binary, "scheduler binary", KT_FW_BINARY_MAX, why, len);
	if (strcmp(r->name, KT_FW_SCX_KTSTR)) {
		snprintf(why, len, "scheduler %s: no binary (only %s is built in)", r->name,
			 KT_FW_SCX_KTSTR);
		return true;
	}
	return false;
}

/* The basename of payload path P, NULL when P is not an absolute path of
 * a file that can be /bin/<basename> in the guest. */
static const char *payload_base(const char *p)
{
	const char *b;

	if (!p || p[0] != '/' || strlen(p) > KT_SPEC_MAX_PATH_LEN || !kt_printable(p))
		return NULL;
	b = strrchr(p, '/') + 1;
	return *b && strcmp(b, ".") && strcmp(b, "..") ? b : NULL;
}

/* Payload binaries: at most a scenario's number, each a sha256 named by
 * the absolute host path its scenario gives. */
static bool payloads_bad(const Ktstr__Assignment *a, char *why, size_t len)
{
	char t[80];

	if (a->n_payloads > KT_SPEC_MAX_PAYLOADS) {
		snprintf(why, len, "payloads: %zu, more than %d", a->n_payloads,
			 KT_SPEC_MAX_PAYLOADS);
		return true;
	}
	for (size_t i = 0; i < a->n_payloads; i++) {
		if (ref_bad(a->payloads[i], "payload binary", KT_FW_BINARY_MAX, why, len))
			return true;
		if (!payload_base(a->payloads[i]->name)) {
			snprintf(why, len, "payloads[%zu] '%s': expected the absolute path of a file",
				 i, clean(a->payloads[i]->name, t, sizeof(t)));
			return true;
		}
	}
	return false;
}

/* Malformed: what no worker could run. Fills NEED otherwise. */
static bool malformed(const Ktstr__Assignment *a, struct kt_fw_need *need, char *why, size_t len)
{
	const Ktstr__CheckOverrides *c = a->checks;
	struct kt_checks_over over;
	struct kt_err e;
	char t[80];

	if (ref_bad(a->kernel->image, "kernel", KT_FW_KERNEL_MAX, why, len) ||
	    (a->kernel->config &&
	     ref_bad(a->kernel->config, "kernel config", KT_FW_CONFIG_MAX, why, len)) ||
	    ref_bad(a->scenario, "scenario", KT_SCENARIO_MAX_BYTES, why, len))
		return true;
	if (kt_topo_parse(a->topology, &need->topo, &e)) {
		snprintf(why, len, "topology '%s': %s", clean(a->topology, t, sizeof(t)), e.msg);
		return true;
	}
	need->vcpus = kt_topo_cpus(&need->topo);
	need->memory_mb = a->has_memory_mb ? a->memory_mb : kt_topo_default_mem_mb(&need->topo);
	if (a->has_vcpus && a->vcpus != need->vcpus) {
		snprintf(why, len, "assignment says %u vCPUs, topology %s has %u", a->vcpus,
			 clean(a->topology, t, sizeof(t)), need->vcpus);
		return true;
	}
	if (need->memory_mb == 0 || need->memory_mb > (1u << 20)) {
		snprintf(why, len, "memory_mb %" PRIu64 ": expected 1 to %u", need->memory_mb,
			 1u << 20);
		return true;
	}
	if (a->has_duration_ms && a->duration_ms > 86400000) {
		snprintf(why, len, "duration_ms %" PRIu64 ": longer than a day", a->duration_ms);
		return true;
	}
	if (a->has_workers && a->workers > 256) {
		snprintf(why, len, "workers %u: expected 0 (default) to 256", a->workers);
		return true;
	}
	if (kt_checks_over_from_pb(c, &over, &e)) {
		snprintf(why, len, "%s", e.msg);
		return true;
	}
	return sched_bad(a, why, len) || payloads_bad(a, why, len);
}

enum kt_fw_verdict kt_fw_admit(const struct kt_fw_capacity *cap, const Ktstr__Assignment *a,
			       struct kt_fw_need *need, char *why, size_t len)
{
	char s[80];

	memset(need, 0, sizeof(*need));
	if (cap->draining) {
		snprintf(why, len, "worker draining");
		return KT_FW_HANDBACK;
	}
	if (malformed(a, need, why, len))
		return KT_FW_ERROR;
	if (a->scheduler && !a->scheduler->binary &&
	    !strcmp(a->scheduler->name, KT_FW_SCX_KTSTR) && !cap->has_scx_ktstr) {
		snprintf(why, len, "scheduler %s: this worker was built without it (no %s beside "
			 "ktstr-worker)", clean(a->scheduler->name, s, sizeof(s)), KT_FW_SCX_KTSTR);
		return KT_FW_INFRA;
	}
	if (need->vcpus > cap->vcpus - cap->used_vcpus ||
	    need->memory_mb > cap->memory_mb - cap->used_memory_mb) {
		snprintf(why, len,
			 "over budget: needs %u vCPUs and %" PRIu64 " MiB; %u of %u vCPUs and %" PRIu64
			 " of %" PRIu64 " MiB free",
			 need->vcpus, need->memory_mb, cap->vcpus - cap->used_vcpus, cap->vcpus,
			 cap->memory_mb - cap->used_memory_mb, cap->memory_mb);
		return KT_FW_HANDBACK;
	}
	return KT_FW_RUN;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Why N bytes from a child are not its outcome; "" when they are. */
static void child_output(const struct kt_outcome_meta *m, const uint8_t *buf, size_t n,
			 char *why, size_t len)
{
	Ktstr__EntryOutcome *o;
	struct kt_err e;
	uint32_t want;

	why[0] = 0;
	if (n == 0) {
		snprintf(why, len, "without an outcome");
		return;
	}
	want = n >= 4 ? get_le32(buf) : 0;
	if (n < 4 || want > KT_OUTCOME_MAX || n - 4 != want) {
		snprintf(why, len, "with a truncated or oversized outcome (%zu bytes)", n);
		return;
	}
	if (kt_outcome_unpack(buf + 4, want, &o, &e)) {
		snprintf(why, len, "with a bad outcome: %.400s", e.msg);
		return;
	}
	if (o->ref->entry_id != m->entry_id || o->ref->attempt != m->attempt)
		snprintf(why, len, "with the outcome of entry %" PRIu64 " attempt %u",
			 o->ref->entry_id, o->ref->attempt);
	ktstr__entry_outcome__free_unpacked(o, NULL);
}

int kt_fw_child_outcome(const struct kt_outcome_meta *m, const uint8_t *buf, size_t n,
			int wstatus, uint8_t **out, size_t *out_len, struct kt_err *err)
{
	char why[KT_ERR_MAX], msg[KT_ERR_MAX + 64];

	child_output(m, buf, n, why, sizeof(why));
	if (!why[0]) {
		/* A whole, valid outcome counts however the child ended. */
		*out = kt_xcalloc(n - 4, 1);
		memcpy(*out, buf + 4, n - 4);
		*out_len = n - 4;
		return 0;
	}
	if (WIFSIGNALED(wstatus))
		snprintf(msg, sizeof(msg), "worker child died: signal %d, %s", WTERMSIG(wstatus),
			 why);
	else
		snprintf(msg, sizeof(msg), "worker child exited with status %d %s",
			 WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1, why);
	return kt_outcome_pack_status(m, KT_INFRA, msg, out, out_len, err);
}

/* ---- sending ---- */

/* False when M could not be sent (no connection: see kt_farm_socket). */
static bool fw_send(struct kt_fw *fw, Ktstr__FarmMsg *m)
{
	struct kt_err e;

	if (kt_farm_send(fw->sock, NULL, 0, m, &e) == 0) {
		fw->last_send_err[0] = 0;
		return true;
	}
	log_once(fw->last_send_err, e.msg);
	return false;
}

static void send_handback(struct kt_fw *fw, uint64_t id, uint32_t attempt, const char *reason)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__HandBack h = KTSTR__HAND_BACK__INIT;
	Ktstr__EntryRef r = KTSTR__ENTRY_REF__INIT;

	r.entry_id = id;
	r.attempt = attempt;
	h.ref = &r;
	h.reason = (char *)reason;
	m.body_case = KTSTR__FARM_MSG__BODY_HAND_BACK;
	m.hand_back = &h;
	fw_send(fw, &m);
}

static void send_progress(struct kt_fw *fw, const struct slot *s, const char *phase)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__Progress p = KTSTR__PROGRESS__INIT;
	Ktstr__EntryRef r = KTSTR__ENTRY_REF__INIT;

	r.entry_id = s->id;
	r.attempt = s->attempt;
	p.ref = &r;
	p.phase = (char *)phase;
	m.body_case = KTSTR__FARM_MSG__BODY_PROGRESS;
	m.progress = &p;
	fw_send(fw, &m);
}

static void send_outcomes(struct kt_fw *fw, uint64_t now)
{
	Ktstr__EntryOutcome *due[16];
	size_t n;

	if (!fw->registered)
		return; /* they travel in the hellos */
	n = kt_outbox_pick(fw->ob, true, now, (uint64_t)KT_FW_RESEND_BEATS * fw->hb_ms,
			   KT_OUTCOME_MAX, due, 16);
	for (size_t i = 0; i < n; i++) {
		Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;

		m.body_case = KTSTR__FARM_MSG__BODY_OUTCOME;
		m.outcome = due[i];
		fw_send(fw, &m);
	}
}

static size_t running_refs(struct kt_fw *fw, Ktstr__EntryRef ***out)
{
	size_t n = 0, k = 0;

	for (struct slot *s = fw->slots; s; s = s->next)
		n += !s->cancelled;
	free(fw->h_refs);
	free(fw->h_refp);
	fw->h_refs = kt_xcalloc(n, sizeof(*fw->h_refs));
	fw->h_refp = kt_xcalloc(n, sizeof(*fw->h_refp));
	for (struct slot *s = fw->slots; s; s = s->next) {
		if (s->cancelled)
			continue;
		ktstr__entry_ref__init(&fw->h_refs[k]);
		fw->h_refs[k].entry_id = s->id;
		fw->h_refs[k].attempt = s->attempt;
		fw->h_refp[k] = &fw->h_refs[k];
		k++;
	}
	*out = fw->h_refp;
	return n;
}

static void send_heartbeat(struct kt_fw *fw)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__Heartbeat h = KTSTR__HEARTBEAT__INIT;

	h.worker_id = fw->id;
	h.coordinator_id = fw->coord[0] ? fw->coord : NULL;
	h.n_running = running_refs(fw, &h.running);
	h.has_draining = 1;
	h.draining = fw->draining;
	m.body_case = KTSTR__FARM_MSG__BODY_HEARTBEAT;
	m.heartbeat = &h;
	fw_send(fw, &m);
}

static const char *accel_known(const struct kt_fw *fw)
{
	enum kt_accel a;
	char why[256];

	if (fw->accel == KT_ACCEL_ONLY_TCG)
		return "tcg";
	if (fw->accel == KT_ACCEL_ONLY_KVM)
		return "kvm";
	return kt_accel_known(fw->cache, &a, why, sizeof(why)) == 0 ? kt_accel_name(a) : "unknown";
}

const Ktstr__WorkerHello *kt_fw_hello(struct kt_fw *fw, uint64_t now)
{
	Ktstr__WorkerHello *h = &fw->hello;
	size_t nk = 0, nu = kt_outbox_count(fw->ob);
	struct kt_err e;

	ktstr__worker_hello__init(h);
	h->worker_id = fw->id;
	h->hostname = fw->hostname;
	h->has_host_cpus = h->has_host_memory_mb = h->has_vcpus = h->has_memory_mb = 1;
	h->host_cpus = fw->host_cpus;
	h->host_memory_mb = fw->host_mem_mb;
	h->vcpus = fw->vcpus;
	h->memory_mb = fw->memory_mb;
	h->accel = (char *)accel_known(fw);
	h->arch = fw->arch;
	h->n_tags = fw->n_tags;
	h->tags = fw->tags;
	free(fw->h_kernels);
	free(fw->h_arts);
	fw->h_arts = NULL;
	if (kt_kcache_list(fw->cache, &fw->h_kernels, &nk, &e)) {
		kt_err_prefix(&e, "hello: cached kernels not announced");
		log_once(fw->last_list_err, e.msg);
	} else {
		fw->last_list_err[0] = 0;
	}
	fw->h_arts = kt_xcalloc(nk, sizeof(*fw->h_arts));
	for (size_t i = 0; i < nk; i++)
		fw->h_arts[i] = fw->h_kernels[i].sha256;
	h->n_artifacts = nk;
	h->artifacts = fw->h_arts;
	h->n_running = running_refs(fw, &h->running);
	free(fw->h_unacked);
	fw->h_unacked = kt_xcalloc(nu, sizeof(*fw->h_unacked));
	h->n_unacked = kt_outbox_pick(fw->ob, false, now, (uint64_t)KT_FW_RESEND_BEATS * fw->hb_ms,
				      KT_OUTCOME_MAX, fw->h_unacked, nu);
	h->unacked = fw->h_unacked;
	h->has_draining = 1;
	h->draining = fw->draining;
	h->has_has_scx_ktstr = 1;
	h->has_scx_ktstr = fw->scx_ktstr[0] != 0;
	return h;
}

static bool send_hello(struct kt_fw *fw, uint64_t now)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;

	m.body_case = KTSTR__FARM_MSG__BODY_HELLO;
	m.hello = (Ktstr__WorkerHello *)kt_fw_hello(fw, now);
	return fw_send(fw, &m);
}

static void send_request(struct kt_fw *fw, struct fetch *f, uint64_t now)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__ArtifactRequest r = KTSTR__ARTIFACT_REQUEST__INIT;

	r.sha256 = (char *)kt_asm_sha(f->as);
	kt_asm_next(f->as, &r.offset, &r.length);
	m.body_case = KTSTR__FARM_MSG__BODY_ARTIFACT_REQ;
	m.artifact_req = &r;
	f->sent_ms = now;
	fw_send(fw, &m);
}

/* ---- outcomes ---- */

static struct kt_outcome_meta slot_meta(const struct kt_fw *fw, const struct slot *s)
{
	return (struct kt_outcome_meta){s->id, s->attempt, fw->id,
					s->started_at ? s->started_at : unix_ms(), unix_ms()};
}

/* Keep the packed outcome BUF (freed here) of slot NAME and send it. */
static void record(struct kt_fw *fw, const char *name, uint8_t *buf, size_t len)
{
	const Ktstr__EntryOutcome *o;
	struct kt_err e;
	char msg[256];
	int r = kt_outbox_add(fw->ob, buf, len, &o, &e);

	free(buf);
	if (r < 0) {
		fw_log("%s: BUG: outcome not kept: %s", name, e.msg);
		return;
	}
	fw_log("%s: %s: %s", name, o->status, clean(o->message, msg, sizeof(msg)));
	if (r > 0)
		fw_log("%s: outcome kept in memory only: %s", name, e.msg);
	send_outcomes(fw, kt_now_ms());
}

static void record_status(struct kt_fw *fw, const struct slot *s, enum kt_status st,
			  const char *message)
{
	struct kt_outcome_meta m = slot_meta(fw, s);
	uint8_t *buf;
	size_t len;
	struct kt_err e;

	if (kt_outcome_pack_status(&m, st, message, &buf, &len, &e)) {
		fw_log("%s: BUG: %s", s->name, e.msg);
		return;
	}
	record(fw, s->name, buf, len);
}

/* ---- slots and fetches ---- */

static struct slot *slot_find(struct kt_fw *fw, uint64_t id, uint32_t attempt)
{
	for (struct slot *s = fw->slots; s; s = s->next)
		if (s->id == id && s->attempt == attempt)
			return s;
	return NULL;
}

static void slot_remove(struct kt_fw *fw, struct slot *s)
{
	for (struct slot **p = &fw->slots; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	if (s->fd >= 0)
		close(s->fd);
	kt_farm_msg_free(s->msg);
	free(s->buf);
	free(s);
}

static bool slot_needs(const struct slot *s, const char *sha)
{
	const Ktstr__KernelRef *k = s->a->kernel;

	const Ktstr__SchedulerRef *r = s->a->scheduler;

	if (s->state != SLOT_FETCHING)
		return false;
	for (size_t i = 0; i < s->a->n_payloads; i++)
		if (!strcmp(s->a->payloads[i]->sha256, sha))
			return true;
	return !strcmp(k->image->sha256, sha) || (k->config && !strcmp(k->config->sha256, sha)) ||
	       !strcmp(s->a->scenario->sha256, sha) ||
	       (r && r->binary && !strcmp(r->binary->sha256, sha));
}

static struct fetch *fetch_find(struct kt_fw *fw, const char *sha)
{
	for (struct fetch *f = fw->fetches; f; f = f->next)
		if (!strcmp(kt_asm_sha(f->as), sha))
			return f;
	return NULL;
}

static void fetch_remove(struct kt_fw *fw, struct fetch *f)
{
	for (struct fetch **p = &fw->fetches; *p; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			break;
		}
	kt_asm_free(f->as);
	free(f);
}

/* Drop the fetches no waiting slot needs any more. */
static void prune_fetches(struct kt_fw *fw)
{
	struct fetch *f = fw->fetches, *next;

	for (; f; f = next) {
		bool needed = false;

		next = f->next;
		for (struct slot *s = fw->slots; s && !needed; s = s->next)
			needed = slot_needs(s, kt_asm_sha(f->as));
		if (!needed)
			fetch_remove(fw, f);
	}
}

static int fetch_start(struct kt_fw *fw, const Ktstr__ArtifactRef *ref, const char *kind,
		       uint64_t max, struct kt_err *err)
{
	char dir[PATH_MAX], name[64];
	struct fetch *f;
	struct kt_asm *as;

	if (fetch_find(fw, ref->sha256))
		return 0;
	kt_artifact_dir(fw->cache, dir, sizeof(dir));
	if (kt_asm_begin(dir, ref->sha256, ref->has_size ? ref->size : 0, max, &as, err))
		return -1;
	f = kt_xcalloc(1, sizeof(*f));
	f->as = as;
	if (ref->name)
		snprintf(f->what, sizeof(f->what), "%s %s (%.12s)", kind,
			 clean(ref->name, name, sizeof(name)), ref->sha256);
	else
		snprintf(f->what, sizeof(f->what), "%s %.12s", kind, ref->sha256);
	f->next = fw->fetches;
	fw->fetches = f;
	fw_log("fetching %s", f->what);
	send_request(fw, f, kt_now_ms());
	return 0;
}

static bool kernel_cached(const struct kt_fw *fw, const char *sha)
{
	struct kt_kernel k;
	struct kt_err e;

	return kt_kcache_resolve(fw->cache, sha, &k, &e) == 0 && strcmp(k.sha256, sha) == 0;
}

/* The fetched image (and config) into the kernel cache. */
static int install_kernel(struct kt_fw *fw, const Ktstr__KernelRef *k, const char *img,
			  const char *cfg, struct kt_err *err)
{
	struct kt_kernel out;
	int r = kt_kcache_add(fw->cache, img, k->config ? cfg : NULL, &out, err);

	if (r == 0 && strcmp(out.sha256, k->image->sha256) != 0)
		r = kt_errf(err, "the kernel cache hashed %.12s as %.12s", k->image->sha256,
			    out.sha256);
	/* Installed or unusable: either way the loose copy is not needed. */
	unlink(img);
	if (r == 0)
		fw_log("kernel %.12s installed in the kernel cache (%s)", out.sha256, out.version);
	return r;
}

/* Whether slot S can start: 1 yes, 0 waiting for fetches, -1 failed
 * (ERR says why). */
static int prepare(struct kt_fw *fw, struct slot *s, struct kt_err *err)
{
	const Ktstr__KernelRef *k = s->a->kernel;
	char img[PATH_MAX], cfg[PATH_MAX], sc[PATH_MAX];
	bool wait = false;

	if (!kernel_cached(fw, k->image->sha256)) {
		kt_artifact_path(fw->cache, k->image->sha256, img, sizeof(img));
		if (access(img, F_OK)) {
			if (fetch_start(fw, k->image, "kernel", KT_FW_KERNEL_MAX, err))
				return -1;
			wait = true;
		}
		if (k->config) {
			kt_artifact_path(fw->cache, k->config->sha256, cfg, sizeof(cfg));
			if (access(cfg, F_OK)) {
				if (fetch_start(fw, k->config, "kernel-config", KT_FW_CONFIG_MAX, err))
					return -1;
				wait = true;
			}
		}
		if (!wait && install_kernel(fw, k, img, cfg, err))
			return kt_err_prefix(err, "kernel %.12s", k->image->sha256);
	}
	kt_artifact_path(fw->cache, s->a->scenario->sha256, sc, sizeof(sc));
	if (access(sc, F_OK)) {
		if (fetch_start(fw, s->a->scenario, "scenario", KT_SCENARIO_MAX_BYTES, err))
			return -1;
		wait = true;
	}
	if (s->a->scheduler && s->a->scheduler->binary) {
		kt_artifact_path(fw->cache, s->a->scheduler->binary->sha256, sc, sizeof(sc));
		if (access(sc, F_OK)) {
			if (fetch_start(fw, s->a->scheduler->binary, "binary", KT_FW_BINARY_MAX,
					err))
				return -1;
			wait = true;
		}
	}
	for (size_t i = 0; i < s->a->n_payloads; i++) {
		kt_artifact_path(fw->cache, s->a->payloads[i]->sha256, sc, sizeof(sc));
		if (access(sc, F_OK)) {
			if (fetch_start(fw, s->a->payloads[i], "payload", KT_FW_BINARY_MAX, err))
				return -1;
			wait = true;
		}
	}
	return wait ? 0 : 1;
}

/* ---- the entry child ---- */

/* The fetched binary SHA (WHAT: "scheduler binary", "payload binary") as
 * an executable file called NAME (the guest runs it as /bin/NAME):
 * <cache>/artifacts/bin/<sha>/<name>, made once, atomically (two entries
 * may race to make it). Its path into PATH. */
static int install_binary(const char *cache, const char *what, const char *sha,
			  const char *name, char *path, size_t len, struct kt_err *err)
{
	char src[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX + 32], *data = NULL;
	size_t n;
	int rc = -1;

	kt_artifact_dir(cache, dir, sizeof(dir));
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/bin/%s", sha);
	snprintf(path, len, "%s/%s", dir, name);
	if (access(path, X_OK) == 0)
		return 0;
	kt_artifact_path(cache, sha, src, sizeof(src));
	if (kt_mkdir_p(dir, err) || kt_read_file(src, KT_FW_BINARY_MAX, &data, &n, err))
		return kt_err_prefix(err, "%s %s", what, name);
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	if (kt_write_file(tmp, data, n, err))
		goto out;
	if (chmod(tmp, 0755) || rename(tmp, path)) {
		kt_errf(err, "%s %s: %s: %s", what, name, tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(data);
	return rc;
}

/* NULL-terminated copies of N strings V into SV (empty: SV->v stays NULL). */
static const char *const *strv_of(struct kt_strv *sv, char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kt_strv_add(sv, v[i]);
	return (const char *const *)sv->v;
}

int kt_fw_sched_of(const char *cache, const char *scx_ktstr, const Ktstr__Assignment *a,
		   struct kt_fw_sched *s, struct kt_err *err)
{
	const Ktstr__SchedulerRef *r = a->scheduler;

	memset(s, 0, sizeof(*s));
	s->on = r && strcmp(r->name, KT_FW_EEVDF);
	if (!s->on)
		return 0;
	s->es.sysctls = strv_of(&s->sysctls, a->sysctls, a->n_sysctls);
	s->es.kernel_args = strv_of(&s->kernel_args, a->kernel_args, a->n_kernel_args);
	if (r->binary) {
		if (install_binary(cache, "scheduler binary", r->binary->sha256, r->name, s->bin,
				   sizeof(s->bin), err))
			return -1;
	} else {
		if (!scx_ktstr || !*scx_ktstr)
			return kt_errf(err, "scheduler %s: no built-in binary", r->name);
		snprintf(s->bin, sizeof(s->bin), "%s", scx_ktstr);
	}
	s->es.name = r->name;
	s->es.binary = s->bin;
	s->es.args = strv_of(&s->args, r->args, r->n_args);
	s->es.expect_err = a->has_expect_err && a->expect_err;
	return 0;
}

void kt_fw_sched_free(struct kt_fw_sched *s)
{
	kt_strv_free(&s->args);
	kt_strv_free(&s->sysctls);
	kt_strv_free(&s->kernel_args);
}

const char *kt_fw_payload_missing(const Ktstr__Assignment *a, const struct kt_scenario *sc)
{
	for (const char *const *b = kt_scenario_payload_bins(sc); *b; b++) {
		size_t i = 0;

		while (i < a->n_payloads && strcmp(a->payloads[i]->name, *b))
			i++;
		if (i == a->n_payloads)
			return *b;
	}
	return NULL;
}

int kt_fw_payloads_of(const char *cache, const Ktstr__Assignment *a, struct kt_fw_payloads *p,
		      struct kt_err *err)
{
	memset(p, 0, sizeof(*p));
	if (a->n_payloads > KT_SPEC_MAX_PAYLOADS)
		return kt_errf(err, "payloads: %zu, more than %d", a->n_payloads,
			       KT_SPEC_MAX_PAYLOADS);
	for (size_t i = 0; i < a->n_payloads; i++) {
		const Ktstr__ArtifactRef *r = a->payloads[i];
		const char *base = payload_base(r->name);
		char t[80];

		if (!base || !kt_artifact_sha_ok(r->sha256))
			return kt_errf(err, "payloads[%zu] '%s': not an absolute path and a sha256",
				       i, clean(r->name, t, sizeof(t)));
		if (install_binary(cache, "payload binary", r->sha256, base, p->local[i],
				   sizeof(p->local[i]), err))
			return -1;
		p->map[i].scenario_path = r->name;
		p->map[i].local_path = p->local[i];
	}
	return 0;
}

/* In the child: run the entry, pack its outcome into *BUF. */
static void run_entry(const struct kt_fw *fw, const struct slot *s, uint8_t **buf, size_t *len)
{
	const Ktstr__Assignment *a = s->a;
	struct kt_outcome_meta m = slot_meta(fw, s);
	struct kt_entry_req req = {0};
	struct kt_entry_result res;
	struct kt_checks_cfg checks;
	struct kt_scenario *sc = NULL;
	struct kt_kernel k;
	struct kt_fw_sched fs = {0};
	struct kt_fw_payloads fp;
	enum kt_status st = KT_INFRA;
	const char *miss;
	char path[PATH_MAX], label[96], *text = NULL;
	size_t tlen;
	struct kt_err e, e2;

	kt_artifact_path(fw->cache, a->scenario->sha256, path, sizeof(path));
	if (kt_read_file(path, KT_SCENARIO_MAX_BYTES, &text, &tlen, &e))
		goto status;
	if (a->scenario->name && a->scenario->name[0])
		clean(a->scenario->name, label, sizeof(label));
	else
		snprintf(label, sizeof(label), "scenario %.12s", a->scenario->sha256);
	if (kt_scenario_parse(text, tlen, label, &sc, &e)) {
		st = KT_ERROR;
		goto status;
	}
	if (kt_kcache_resolve(fw->cache, a->kernel->image->sha256, &k, &e)) {
		kt_err_prefix(&e, "kernel");
		goto status;
	}
	if ((miss = kt_fw_payload_missing(a, sc))) {
		kt_errf(&e, "%s: payload binary %s did not come with the assignment", label,
			miss);
		st = KT_ERROR;
		goto status;
	}
	if (kt_fw_sched_of(fw->cache, fw->scx_ktstr, a, &fs, &e) ||
	    kt_fw_payloads_of(fw->cache, a, &fp, &e))
		goto status;
	checks = *kt_scenario_checks(sc);
	kt_fw_apply_checks(a->checks, &checks);
	req.cache_dir = fw->cache;
	req.agent = fw->agent;
	req.kernel = &k;
	req.topo = s->need.topo;
	req.scenario = sc;
	req.duration_ms = a->has_duration_ms ? a->duration_ms : DEFAULT_DURATION_MS;
	req.workers = a->has_workers && a->workers ? a->workers : DEFAULT_WORKERS;
	req.mem_mb = (unsigned)s->need.memory_mb;
	req.accel = fw->accel;
	req.checks = &checks;
	if (fs.on)
		req.sched = &fs.es;
	req.payloads = fp.map;
	if (kt_entry_run(&req, &res, &e)) {
		st = KT_ERROR;
		goto status;
	}
	m.ended_at = unix_ms();
	if (kt_outcome_pack_result(&m, &res, buf, len, &e) == 0) {
		kt_entry_result_free(&res);
		goto out;
	}
	kt_entry_result_free(&res);
status:
	m.ended_at = unix_ms();
	if (kt_outcome_pack_status(&m, st, e.msg, buf, len, &e2)) {
		*buf = NULL;
		*len = 0;
	}
out:
	free(text);
	kt_scenario_free(sc);
	kt_fw_sched_free(&fs);
}

/* The child outlives a SIGTERM to its process group, which QEMU dies of
 * (exec resets this handler for QEMU), so kt_entry_run() returns and
 * removes its files. */
static void on_term(int sig)
{
	(void)sig;
}

static void __attribute__((noreturn)) child_main(const struct kt_fw *fw, const struct slot *s,
						 int fd, pid_t parent)
{
	struct sigaction sa = {.sa_handler = on_term, .sa_flags = SA_RESTART};
	uint8_t *buf = NULL, hdr[4];
	size_t len = 0;
	sigset_t none;

	/* Its own process group, which QEMU joins: a cancel reaches both. */
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	run_entry(fw, s, &buf, &len);
	hdr[0] = (uint8_t)len;
	hdr[1] = (uint8_t)(len >> 8);
	hdr[2] = (uint8_t)(len >> 16);
	hdr[3] = (uint8_t)(len >> 24);
	if (!buf || write_all(fd, hdr, 4) || write_all(fd, buf, len))
		_exit(1);
	_exit(0);
}

static int start_child(struct kt_fw *fw, struct slot *s, struct kt_err *err)
{
	pid_t parent = getpid(), pid;
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return kt_errf(err, "pipe: %s", strerror(errno));
	s->started_at = unix_ms();
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return kt_errf(err, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(p[0]);
		child_main(fw, s, p[1], parent);
	}
	setpgid(pid, pid); /* also here: no window where a cancel misses it */
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	s->pid = pid;
	s->fd = p[0];
	s->state = SLOT_RUNNING;
	fw_log("%s: started (pid %d, %u vCPUs, %" PRIu64 " MiB)", s->name, (int)pid, s->need.vcpus,
	       s->need.memory_mb);
	send_progress(fw, s, "running");
	return 0;
}

/* Move every waiting slot on as far as its artifacts allow. */
static void advance(struct kt_fw *fw)
{
	struct slot *s, *next;
	struct kt_err e;

	for (s = fw->slots; s; s = next) {
		int r;

		next = s->next;
		if (s->state != SLOT_FETCHING)
			continue;
		r = prepare(fw, s, &e);
		if (r == 1 && start_child(fw, s, &e) == 0)
			continue;
		if (r == 0) {
			if (!s->fetch_told)
				send_progress(fw, s, "fetching");
			s->fetch_told = true;
			continue;
		}
		record_status(fw, s, KT_INFRA, e.msg);
		slot_remove(fw, s);
	}
	prune_fetches(fw);
}

/* Artifact SHA failed: so does every slot waiting for it. */
static void fetch_failed(struct kt_fw *fw, const char *sha, const char *what, const char *why)
{
	struct slot *s, *next;
	char msg[KT_ERR_MAX + 160];

	snprintf(msg, sizeof(msg), "fetching %s: %s", what, why);
	fw_log("%s", msg);
	for (s = fw->slots; s; s = next) {
		next = s->next;
		if (slot_needs(s, sha)) {
			record_status(fw, s, KT_INFRA, msg);
			slot_remove(fw, s);
		}
	}
	prune_fetches(fw);
}

/* ---- children ---- */

/* Ask slot S's process group to stop: SIGTERM now (QEMU exits, the child
 * cleans up and exits), SIGKILL after KT_FW_KILL_GRACE_MS (child_timers). */
static void child_stop(struct slot *s)
{
	if (s->term_ms)
		return;
	kill(-s->pid, SIGTERM);
	s->term_ms = kt_now_ms();
}

static void child_timers(struct kt_fw *fw, uint64_t now)
{
	for (struct slot *s = fw->slots; s; s = s->next)
		if (s->term_ms && now - s->term_ms >= KT_FW_KILL_GRACE_MS && !s->reaped) {
			fw_log("%s: still there %u ms after SIGTERM: killed", s->name,
			       KT_FW_KILL_GRACE_MS);
			kill(-s->pid, SIGKILL);
			s->term_ms = now; /* once per grace period at most */
		}
}

static void child_read(struct slot *s)
{
	const size_t max = 4 + (size_t)KT_OUTCOME_MAX + 1;

	while (s->fd >= 0) {
		ssize_t r;

		if (s->n == s->cap) {
			if (s->cap == max) { /* more than any outcome: not one */
				kill(-s->pid, SIGKILL);
				close(s->fd);
				s->fd = -1;
				return;
			}
			s->cap = s->cap ? (2 * s->cap < max ? 2 * s->cap : max) : 65536;
			s->buf = kt_xrealloc(s->buf, s->cap);
		}
		r = read(s->fd, s->buf + s->n, s->cap - s->n);
		if (r > 0) {
			s->n += (size_t)r;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else if (r < 0 && errno == EAGAIN) {
			return;
		} else {
			close(s->fd);
			s->fd = -1;
		}
	}
}

static void child_done(struct kt_fw *fw, struct slot *s)
{
	struct kt_outcome_meta m = slot_meta(fw, s);
	uint8_t *buf;
	size_t len;
	struct kt_err e;

	child_read(s); /* whatever it wrote before it exited */
	if (s->cancelled) {
		fw_log("%s: cancelled entry's child is gone", s->name);
	} else if (kt_fw_child_outcome(&m, s->buf, s->n, s->wstatus, &buf, &len, &e) == 0) {
		record(fw, s->name, buf, len);
	} else {
		fw_log("%s: BUG: %s", s->name, e.msg);
	}
	slot_remove(fw, s);
}

static void reap(struct kt_fw *fw)
{
	struct slot *s, *next;

	for (s = fw->slots; s; s = next) {
		next = s->next;
		if (s->state == SLOT_RUNNING && waitpid(s->pid, &s->wstatus, WNOHANG) == s->pid) {
			s->reaped = true;
			child_done(fw, s);
		}
	}
}

/* ---- messages ---- */

static void on_hello_ack(struct kt_fw *fw, const Ktstr__HelloAck *a, uint64_t now)
{
	char c[128];

	if (!id_ok(a->coordinator_id, sizeof(fw->coord) - 1)) {
		fw_log("HelloAck with coordinator id '%s': not a usable id, dropped",
		       clean(a->coordinator_id, c, sizeof(c)));
		return;
	}
	/* Only the answer to our hello registers us. A coordinator that does
	 * not know us (it restarted, or declared us lost), or a new one we
	 * never greeted, gets a hello first: until then it drops what we send. */
	if ((a->has_hello_needed && a->hello_needed) ||
	    (fw->registered && strcmp(fw->coord, a->coordinator_id))) {
		fw_log("coordinator %s does not know this worker: saying hello",
		       clean(a->coordinator_id, c, sizeof(c)));
		fw->registered = false;
		fw->beat_ms = 0; /* hello at once */
		return;
	}
	if (!fw->registered)
		fw_log("registered with coordinator %s", a->coordinator_id);
	snprintf(fw->coord, sizeof(fw->coord), "%s", a->coordinator_id);
	fw->registered = true;
	if (a->has_heartbeat_ms && a->heartbeat_ms >= 50 && a->heartbeat_ms <= 60000 &&
	    a->heartbeat_ms != fw->hb_ms) {
		fw_log("heartbeat interval %u ms, as the coordinator asks", a->heartbeat_ms);
		fw->hb_ms = a->heartbeat_ms;
	}
	send_outcomes(fw, now); /* the ones the hello had no room for */
}

static void on_heartbeat(struct kt_fw *fw, const Ktstr__Heartbeat *h)
{
	char c[128];

	if (!fw->registered || !h->coordinator_id || !strcmp(h->coordinator_id, fw->coord))
		return;
	fw_log("coordinator changed from %s to %s: saying hello", fw->coord,
	       clean(h->coordinator_id, c, sizeof(c)));
	fw->registered = false;
	fw->beat_ms = 0; /* hello at once */
}

static void on_assign(struct kt_fw *fw, Ktstr__FarmMsg *m)
{
	const Ktstr__Assignment *a = m->assign;
	struct kt_fw_capacity cap = {fw->vcpus, 0, fw->memory_mb, 0, fw->draining,
				     fw->scx_ktstr[0] != 0};
	struct kt_fw_need need;
	struct slot *s;
	char why[KT_ERR_MAX], name[96];

	for (s = fw->slots; s; s = s->next)
		if (!s->cancelled) {
			cap.used_vcpus += s->need.vcpus;
			cap.used_memory_mb += s->need.memory_mb;
		}
	s = kt_xcalloc(1, sizeof(*s));
	s->msg = m;
	s->a = a;
	s->id = a->ref->entry_id;
	s->attempt = a->ref->attempt;
	s->fd = -1;
	snprintf(s->name, sizeof(s->name), "entry %" PRIu64 "/%u (%s)", s->id, s->attempt,
		 clean(a->name, name, sizeof(name)));
	if (slot_find(fw, s->id, s->attempt) || kt_outbox_has(fw->ob, s->id, s->attempt)) {
		fw_log("%s: assigned again: already %s, ignored", s->name,
		       slot_find(fw, s->id, s->attempt) ? "running" : "finished");
		slot_remove(fw, s);
		return;
	}
	switch (kt_fw_admit(&cap, a, &need, why, sizeof(why))) {
	case KT_FW_HANDBACK:
		fw_log("%s: handed back: %s", s->name, why);
		send_handback(fw, s->id, s->attempt, why);
		slot_remove(fw, s);
		return;
	case KT_FW_INFRA:
		/* placed here by a coordinator that did not know: requeued */
		record_status(fw, s, KT_INFRA, why);
		slot_remove(fw, s);
		return;
	case KT_FW_ERROR:
		record_status(fw, s, KT_ERROR, why);
		slot_remove(fw, s);
		return;
	case KT_FW_RUN:
		break;
	}
	s->need = need;
	s->state = SLOT_FETCHING;
	s->next = fw->slots;
	fw->slots = s;
	fw_log("%s: accepted: %s, kernel %.12s, scenario %.12s", s->name, a->topology,
	       a->kernel->image->sha256, a->scenario->sha256);
	advance(fw);
}

static void on_chunk(struct kt_fw *fw, const Ktstr__ArtifactChunk *c, uint64_t now)
{
	struct fetch *f = fetch_find(fw, c->sha256);
	char what[sizeof(f->what)], s[80];
	struct kt_err e;
	uint64_t off;
	uint32_t len;

	if (!f) {
		fw_log("chunk of artifact %.12s, which is not being fetched: dropped",
		       clean(c->sha256, s, sizeof(s)));
		return;
	}
	switch (kt_asm_feed(f->as, c, &e)) {
	case KT_ASM_MORE:
		f->tries = 0;
		send_request(fw, f, now);
		return;
	case KT_ASM_STALE:
		return;
	case KT_ASM_DONE:
		kt_asm_next(f->as, &off, &len);
		fw_log("fetched %s: %" PRIu64 " bytes, sha256 verified", f->what, off);
		fetch_remove(fw, f);
		advance(fw);
		return;
	default:
		memcpy(what, f->what, sizeof(what));
		fetch_remove(fw, f);
		fetch_failed(fw, c->sha256, what, e.msg);
	}
}

static void on_cancel(struct kt_fw *fw, const Ktstr__CancelEntry *c)
{
	struct slot *s = slot_find(fw, c->ref->entry_id, c->ref->attempt);
	char r[160];

	if (kt_outbox_ack(fw->ob, c->ref->entry_id, c->ref->attempt))
		fw_log("entry %" PRIu64 "/%u cancelled: its unacknowledged outcome is dropped",
		       c->ref->entry_id, c->ref->attempt);
	if (!s || s->cancelled)
		return;
	fw_log("%s: cancelled (%s)", s->name, clean(c->reason, r, sizeof(r)));
	if (s->state == SLOT_FETCHING) {
		slot_remove(fw, s);
		prune_fetches(fw);
		return;
	}
	child_stop(s);
	s->cancelled = true;
}

static void on_msg(struct kt_fw *fw, Ktstr__FarmMsg *m, uint64_t now)
{
	fw->coord_seen_ms = now;
	switch (m->body_case) {
	case KTSTR__FARM_MSG__BODY_HELLO_ACK:
		on_hello_ack(fw, m->hello_ack, now);
		break;
	case KTSTR__FARM_MSG__BODY_HEARTBEAT:
		on_heartbeat(fw, m->heartbeat);
		break;
	case KTSTR__FARM_MSG__BODY_ASSIGN:
		on_assign(fw, m);
		return; /* the slot owns M, or freed it */
	case KTSTR__FARM_MSG__BODY_OUTCOME_ACK:
		if (kt_outbox_ack(fw->ob, m->outcome_ack->ref->entry_id,
				  m->outcome_ack->ref->attempt))
			fw_log("entry %" PRIu64 "/%u: outcome acknowledged",
			       m->outcome_ack->ref->entry_id, m->outcome_ack->ref->attempt);
		break;
	case KTSTR__FARM_MSG__BODY_ARTIFACT_CHUNK:
		on_chunk(fw, m->artifact_chunk, now);
		break;
	case KTSTR__FARM_MSG__BODY_CANCEL_ENTRY:
		on_cancel(fw, m->cancel_entry);
		break;
	default:
		fw_log("unexpected %s message from the coordinator: dropped",
		       kt_farm_body_name(m->body_case));
	}
	kt_farm_msg_free(m);
}

/* ---- timers, drain, stop ---- */

static void begin_drain(struct kt_fw *fw)
{
	struct slot *s, *next;
	size_t n = 0;

	fw->draining = true;
	for (s = fw->slots; s; s = next) {
		next = s->next;
		if (s->state == SLOT_FETCHING) {
			send_handback(fw, s->id, s->attempt, "worker draining");
			fw_log("%s: handed back: worker draining", s->name);
			slot_remove(fw, s);
		} else {
			n += !s->cancelled;
		}
	}
	prune_fetches(fw);
	fw_log("draining: %zu running entr%s finish%s, new assignments are handed back", n,
	       n == 1 ? "y" : "ies", n == 1 ? "es" : "");
	fw->beat_ms = 0; /* tell the coordinator now */
}

/* Stop every child: SIGTERM, then SIGKILL for those still there after
 * KT_FW_KILL_GRACE_MS; hand their entries back. */
static int force_stop(struct kt_fw *fw)
{
	uint64_t end = kt_now_ms() + KT_FW_KILL_GRACE_MS;
	struct slot *s;

	fw_log("stopping: running entries are stopped and handed back");
	for (s = fw->slots; s; s = s->next)
		if (s->state == SLOT_RUNNING)
			child_stop(s);
	for (;;) {
		bool left = false;

		for (s = fw->slots; s; s = s->next) {
			if (s->state == SLOT_RUNNING && !s->reaped &&
			    waitpid(s->pid, &s->wstatus, kt_now_ms() < end ? WNOHANG : 0) == s->pid)
				s->reaped = true;
			if (s->state == SLOT_RUNNING && !s->reaped) {
				left = true;
				if (kt_now_ms() >= end)
					kill(-s->pid, SIGKILL);
			}
		}
		if (!left)
			break;
		usleep(20000);
	}
	while ((s = fw->slots)) {
		if (!s->cancelled) {
			send_handback(fw, s->id, s->attempt, "worker stopped");
			fw_log("%s: handed back: worker stopped", s->name);
		}
		slot_remove(fw, s);
	}
	return 1;
}

static void fetch_timers(struct kt_fw *fw, uint64_t now)
{
	uint64_t retry = (uint64_t)KT_FW_FETCH_RETRY_BEATS * fw->hb_ms;
	struct fetch *f, *next;

	for (f = fw->fetches; f; f = next) {
		char sha[65], what[sizeof(f->what)];

		next = f->next;
		if (now - f->sent_ms < retry)
			continue;
		if (++f->tries <= KT_FW_FETCH_TRIES) {
			send_request(fw, f, now);
			continue;
		}
		snprintf(sha, sizeof(sha), "%s", kt_asm_sha(f->as));
		memcpy(what, f->what, sizeof(what));
		fetch_remove(fw, f);
		fetch_failed(fw, sha, what, "no answer from the coordinator");
		next = fw->fetches; /* the list may have changed */
	}
}

/* Returns -1 to go on, else the exit code. */
static int tick(struct kt_fw *fw, uint64_t now)
{
	int stops = atomic_load(&fw->stops);

	if (stops > fw->stops_seen) {
		fw->stops_seen = stops;
		if (stops >= 2)
			return force_stop(fw);
		begin_drain(fw);
	}
	if (fw->registered && now - fw->coord_seen_ms > (uint64_t)KT_FARM_LOST_BEATS * fw->hb_ms) {
		fw_log("coordinator %s silent for %" PRIu64 " ms: entries keep running, saying hello "
		       "until it answers", fw->coord, now - fw->coord_seen_ms);
		fw->registered = false;
		fw->beat_ms = 0;
	}
	if (!fw->beat_ms || now - fw->beat_ms >= fw->hb_ms) {
		fw->beat_ms = now;
		if (fw->registered)
			send_heartbeat(fw);
		else if (!send_hello(fw, now) && fw->hb_ms > HELLO_RETRY_MS)
			/* not even sent (no connection yet): try again soon */
			fw->beat_ms = now - fw->hb_ms + HELLO_RETRY_MS;
	}
	send_outcomes(fw, now);
	fetch_timers(fw, now);
	child_timers(fw, now);
	if (!fw->draining || fw->slots)
		return -1;
	if (!kt_outbox_count(fw->ob)) {
		fw_log("drained: every outcome acknowledged");
		return 0;
	}
	if (!fw->drain_idle_ms)
		fw->drain_idle_ms = now;
	if (now - fw->drain_idle_ms < KT_FW_DRAIN_ACK_MS)
		return -1;
	fw_log("drained: %zu outcome(s) unacknowledged after %u ms, kept in %s for the next start",
	       kt_outbox_count(fw->ob), KT_FW_DRAIN_ACK_MS, fw->outbox_dir);
	return 0;
}

void kt_fw_stop(struct kt_fw *fw)
{
	int saved = errno;

	atomic_fetch_add(&fw->stops, 1);
	if (write(fw->wake[1], "s", 1) < 0) {
		/* full pipe: a wake-up is pending anyway */
	}
	errno = saved;
}

static int poll_once(struct kt_fw *fw, uint64_t now)
{
	size_t n = 2, k = 2;
	zmq_pollitem_t *it;
	long timeout = MAX_POLL_MS;
	int r;

	for (struct slot *s = fw->slots; s; s = s->next) {
		n += s->fd >= 0;
		if (s->state == SLOT_RUNNING && s->fd < 0)
			timeout = REAP_POLL_MS; /* closed its pipe, exit is near */
	}
	if (fw->beat_ms + fw->hb_ms > now && fw->beat_ms + fw->hb_ms - now < (uint64_t)timeout)
		timeout = (long)(fw->beat_ms + fw->hb_ms - now);
	it = kt_xcalloc(n, sizeof(*it));
	it[0] = (zmq_pollitem_t){fw->sock, 0, ZMQ_POLLIN, 0};
	it[1] = (zmq_pollitem_t){NULL, fw->wake[0], ZMQ_POLLIN, 0};
	for (struct slot *s = fw->slots; s; s = s->next)
		if (s->fd >= 0)
			it[k++] = (zmq_pollitem_t){NULL, s->fd, ZMQ_POLLIN, 0};
	r = zmq_poll(it, (int)n, timeout);
	if (r < 0 && errno != EINTR) {
		fw_log("zmq_poll: %s", zmq_strerror(errno));
		free(it);
		return -1;
	}
	if (r > 0 && (it[1].revents & ZMQ_POLLIN)) {
		char b[64];

		while (read(fw->wake[0], b, sizeof(b)) > 0)
			;
	}
	k = 2;
	for (struct slot *s = fw->slots; s; s = s->next)
		if (s->fd >= 0 && k < n && it[k++].revents)
			child_read(s);
	free(it);
	return 0;
}

static void receive_all(struct kt_fw *fw)
{
	struct kt_farm_peer peer;
	Ktstr__FarmMsg *m;
	struct kt_err e;
	int r;

	while ((r = kt_farm_recv(fw->sock, ZMQ_DONTWAIT, &peer, &m, &e)) != 0) {
		if (r < 0)
			fw_log("message from the coordinator dropped: %s", e.msg);
		else
			on_msg(fw, m, kt_now_ms());
	}
}

static int connect_sock(struct kt_fw *fw, struct kt_err *err)
{
	fw->ctx = zmq_ctx_new();
	if (!fw->ctx)
		return kt_errf(err, "zmq_ctx_new: %s", zmq_strerror(errno));
	fw->sock = kt_farm_socket(fw->ctx, ZMQ_DEALER, err);
	if (!fw->sock)
		return -1;
	if (zmq_setsockopt(fw->sock, ZMQ_ROUTING_ID, fw->id, strlen(fw->id)))
		return kt_errf(err, "worker id '%s' as routing id: %s", fw->id,
			       zmq_strerror(errno));
	if (zmq_connect(fw->sock, fw->endpoint))
		return kt_errf(err, "coordinator endpoint '%s': %s", fw->endpoint,
			       zmq_strerror(errno));
	return 0;
}

static void disconnect_sock(struct kt_fw *fw)
{
	if (fw->sock)
		zmq_close(fw->sock); /* lingers up to 2 s for what is queued */
	if (fw->ctx)
		zmq_ctx_term(fw->ctx);
	fw->sock = fw->ctx = NULL;
}

int kt_fw_run(struct kt_fw *fw, struct kt_err *err)
{
	int rc = -1;

	if (connect_sock(fw, err)) {
		disconnect_sock(fw);
		return -1;
	}
	fw_log("worker %s: coordinator %s, budget %u vCPUs and %" PRIu64 " MiB, accel %s, "
	       "%zu unacknowledged outcome(s)", fw->id, fw->endpoint, fw->vcpus, fw->memory_mb,
	       accel_known(fw), kt_outbox_count(fw->ob));
	while (rc < 0) {
		rc = tick(fw, kt_now_ms());
		if (rc >= 0)
			break;
		if (poll_once(fw, kt_now_ms()))
			rc = force_stop(fw);
		reap(fw);
		receive_all(fw);
	}
	disconnect_sock(fw);
	return rc;
}

/* ---- set-up ---- */

static int host_info(struct kt_fw *fw, struct kt_err *err)
{
	struct utsname u;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN), pages = sysconf(_SC_PHYS_PAGES);
	long psize = sysconf(_SC_PAGESIZE);

	if (cpus < 1 || pages < 1 || psize < 1)
		return kt_errf(err, "sysconf: cannot tell the host's CPUs and memory");
	fw->host_cpus = (unsigned)cpus;
	fw->host_mem_mb = (uint64_t)pages * (uint64_t)psize >> 20;
	if (gethostname(fw->hostname, sizeof(fw->hostname) - 1))
		return kt_errf(err, "gethostname: %s", strerror(errno));
	if (uname(&u))
		return kt_errf(err, "uname: %s", strerror(errno));
	snprintf(fw->arch, sizeof(fw->arch), "%s", u.machine);
	return 0;
}

static int copy_opts(struct kt_fw *fw, const struct kt_fw_opts *o, struct kt_err *err)
{
	const char *id = o->id ? o->id : fw->hostname;

	if (!o->coordinator || !*o->coordinator || strlen(o->coordinator) >= sizeof(fw->endpoint))
		return kt_errf(err, "coordinator endpoint: missing or too long");
	if (!o->cache_dir || !*o->cache_dir || strlen(o->cache_dir) >= sizeof(fw->cache) - 80)
		return kt_errf(err, "cache directory: missing or too long");
	if (!o->agent || strlen(o->agent) >= sizeof(fw->agent))
		return kt_errf(err, "guest agent path: missing or too long");
	if (!id_ok(id, KT_FW_MAX_ID))
		return kt_errf(err, "worker id '%.140s': expected 1 to %d printable characters, "
			       "no spaces", id, KT_FW_MAX_ID);
	snprintf(fw->id, sizeof(fw->id), "%.*s", KT_FW_MAX_ID, id);
	snprintf(fw->endpoint, sizeof(fw->endpoint), "%s", o->coordinator);
	snprintf(fw->cache, sizeof(fw->cache), "%s", o->cache_dir);
	snprintf(fw->agent, sizeof(fw->agent), "%s", o->agent);
	if (o->scx_ktstr && strlen(o->scx_ktstr) >= sizeof(fw->scx_ktstr))
		return kt_errf(err, "scx-ktstr path: too long");
	snprintf(fw->scx_ktstr, sizeof(fw->scx_ktstr), "%s", o->scx_ktstr ? o->scx_ktstr : "");
	/* One outbox per worker id: workers sharing a cache must not send
	 * each other's outcomes. The id is a path component here. */
	{
		char safe[KT_FW_MAX_ID + 1];
		size_t k;

		for (k = 0; fw->id[k] && k < KT_FW_MAX_ID; k++)
			safe[k] = fw->id[k] == '/' || (k == 0 && fw->id[k] == '.') ? '_' : fw->id[k];
		safe[k] = 0;
		snprintf(fw->outbox_dir, sizeof(fw->outbox_dir), "%s/outbox/%s", o->cache_dir, safe);
	}
	fw->tags = kt_xcalloc(o->n_tags, sizeof(*fw->tags));
	for (size_t i = 0; i < o->n_tags; i++) {
		if (!id_ok(o->tags[i], 64))
			return kt_errf(err, "tag '%.80s': expected 1 to 64 printable characters, "
				       "no spaces", o->tags[i]);
		fw->tags[fw->n_tags++] = kt_xstrdup(o->tags[i]);
	}
	fw->vcpus = o->vcpus ? o->vcpus : fw->host_cpus;
	fw->memory_mb = o->memory_mb ? o->memory_mb : fw->host_mem_mb * 3 / 4;
	fw->hb_ms = o->heartbeat_ms ? o->heartbeat_ms : KT_FARM_HEARTBEAT_MS;
	fw->accel = o->accel;
	return 0;
}

int kt_fw_new(const struct kt_fw_opts *o, struct kt_fw **out, struct kt_err *err)
{
	struct kt_fw *fw = kt_xcalloc(1, sizeof(*fw));
	size_t bad;

	*out = NULL;
	fw->wake[0] = fw->wake[1] = -1;
	atomic_init(&fw->stops, 0);
	if (host_info(fw, err) || copy_opts(fw, o, err))
		goto fail;
	/* Calibrate before any guest competes for the CPU; forked entry
	 * children inherit the measurement (common/calib.h). */
	kt_calib_host_ns();
	if (pipe2(fw->wake, O_CLOEXEC | O_NONBLOCK)) {
		kt_errf(err, "pipe: %s", strerror(errno));
		goto fail;
	}
	if (kt_outbox_open(fw->outbox_dir, &fw->ob, &bad, err))
		goto fail;
	if (bad)
		fw_log("outbox %s: %zu unreadable outcome file(s) set aside as *.bad",
		       fw->outbox_dir, bad);
	*out = fw;
	return 0;
fail:
	kt_fw_free(fw);
	return -1;
}

void kt_fw_free(struct kt_fw *fw)
{
	if (!fw)
		return;
	while (fw->slots) {
		struct slot *s = fw->slots;

		if (s->state == SLOT_RUNNING && !s->reaped) {
			kill(-s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
		}
		slot_remove(fw, s);
	}
	while (fw->fetches)
		fetch_remove(fw, fw->fetches);
	disconnect_sock(fw);
	kt_outbox_free(fw->ob);
	for (size_t i = 0; i < fw->n_tags; i++)
		free(fw->tags[i]);
	free(fw->tags);
	free(fw->h_refs);
	free(fw->h_refp);
	free(fw->h_unacked);
	free(fw->h_kernels);
	free(fw->h_arts);
	if (fw->wake[0] >= 0)
		close(fw->wake[0]);
	if (fw->wake[1] >= 0)
		close(fw->wake[1]);
	free(fw);
}
