/* dispatch_sim: the coordinator's dispatch throughput, without QEMU.
 *
 * One process plays N workers (one DEALER socket each, as ktstr-worker
 * connects) and one client. Every worker says hello with a vCPU and memory
 * budget, heartbeats every KT_FARM_HEARTBEAT_MS, and answers each
 * Assignment at once with a passing EntryOutcome that carries what a real
 * one does for the store: two checks and one cgroup result of two workers.
 * The client submits a matrix and asks for the run's status until it is
 * done. What is measured, on this side of the sockets:
 *
 *   submit      SubmitRequest sent -> SubmitReply (validation, expansion,
 *               one transaction inserting every entry)
 *   first       SubmitReply -> first Assignment received
 *   placed      SubmitReply -> last Assignment received
 *   stored      SubmitReply -> last OutcomeAck received (the coordinator
 *               acks an outcome after storing it)
 *   end to end  SubmitRequest sent -> StatusReply saying "done"
 *
 * usage: dispatch_sim --workers-ep EP --clients-ep EP --matrix FILE
 *                     [--workers N] [--vcpus N] [--memory-mb N] [--timeout S]
 * Exit: 0 when the run is done with every entry finished, 1 when it is not
 * (refused, timed out, entries left unfinished), 2 on a usage error. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include "farm_msg.h"
#include "util.h"

#define MS 1000000ull /* ns */
#define CONNECT_TIMEOUT_MS 10000
#define STATUS_EVERY_MS 1000 /* while outcomes are still missing */
#define STATUS_RETRY_MS 100  /* once every outcome is acked */

struct ref {
	uint64_t entry_id;
	uint32_t attempt;
};

struct sworker {
	void *sock;
	char id[32];
	bool hello_acked;
	struct ref *pending; /* outcomes the socket could not take yet */
	size_t n_pending, cap_pending;
};

struct sim {
	/* options */
	const char *workers_ep, *clients_ep, *matrix;
	size_t n;
	unsigned vcpus;
	uint64_t memory_mb;
	unsigned timeout_s;
	/* sockets */
	void *ctx, *client;
	struct sworker *w;
	zmq_pollitem_t *items; /* client, then the workers */
	/* the run */
	uint64_t run_id;
	unsigned entries;
	bool replied, status_out, done, failed;
	char state[32];
	uint32_t pass, fail, error, infra, skip, cancelled, total;
	/* counters */
	uint64_t assigned, acked, cancels, resends, hb_dropped;
	/* times, ns on the monotonic clock */
	uint64_t t_submit, t_reply, t_first_assign, t_last_assign, t_last_ack, t_done;
};

static void die(const char *what, const struct kt_err *err)
{
	fprintf(stderr, "dispatch_sim: %s: %s\n", what, err->msg);
	exit(1);
}

/* Send M, retrying while the connection comes up (ZMQ_IMMEDIATE answers
 * EAGAIN until then). */
static void send_blocking(void *sock, const Ktstr__FarmMsg *m, const char *what)
{
	uint64_t deadline = kt_now_ms() + CONNECT_TIMEOUT_MS;
	struct kt_err err;

	while (kt_farm_send(sock, NULL, 0, m, &err)) {
		if (errno != EAGAIN || kt_now_ms() >= deadline)
			die(what, &err);
		usleep(2000);
	}
}

static void send_hello(struct sim *s, struct sworker *w)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__WorkerHello h = KTSTR__WORKER_HELLO__INIT;

	h.worker_id = w->id;
	h.hostname = w->id;
	h.has_host_cpus = 1;
	h.host_cpus = s->vcpus;
	h.has_host_memory_mb = 1;
	h.host_memory_mb = s->memory_mb;
	h.accel = "tcg";
	h.arch = "x86_64";
	h.has_vcpus = 1;
	h.vcpus = s->vcpus;
	h.has_memory_mb = 1;
	h.memory_mb = s->memory_mb;
	m.body_case = KTSTR__FARM_MSG__BODY_HELLO;
	m.hello = &h;
	send_blocking(w->sock, &m, "hello");
}

static void send_heartbeat(struct sim *s, struct sworker *w)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__Heartbeat hb = KTSTR__HEARTBEAT__INIT;
	struct kt_err err;

	hb.worker_id = w->id;
	m.body_case = KTSTR__FARM_MSG__BODY_HEARTBEAT;
	m.heartbeat = &hb;
	if (kt_farm_send(w->sock, NULL, 0, &m, &err))
		s->hb_dropped++;
}

/* A passing outcome of REF with what a real one stores: two checks, one
 * cgroup of two cpu_spin workers. 0 sent, -1 the socket cannot take it. */
static int send_outcome(const struct sworker *w, const struct ref *ref)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__EntryOutcome o = KTSTR__ENTRY_OUTCOME__INIT;
	Ktstr__EntryRef r = KTSTR__ENTRY_REF__INIT;
	Ktstr__CheckResult ck[2], *ckp[2] = {&ck[0], &ck[1]};
	Ktstr__ScenarioResult res = KTSTR__SCENARIO_RESULT__INIT;
	Ktstr__CgroupStats cg = KTSTR__CGROUP_STATS__INIT, *cgp = &cg;
	Ktstr__WorkerStats ws[2], *wsp[2] = {&ws[0], &ws[1]};
	uint32_t cpus[2] = {0, 1};
	uint64_t now = (uint64_t)time(NULL) * 1000;
	struct kt_err err;

	r.entry_id = ref->entry_id;
	r.attempt = ref->attempt;
	for (int i = 0; i < 2; i++) {
		ktstr__check_result__init(&ck[i]);
		ck[i].passed = 1;
		ck[i].has_value = ck[i].has_threshold = 1;
		ktstr__worker_stats__init(&ws[i]);
		ws[i].work_type = KTSTR__WORK_TYPE__WORK_CPU_SPIN;
		ws[i].pid = 100 + i;
		ws[i].work_units = 1000000;
		ws[i].cpu_ns = ws[i].wall_ns = ws[i].run_ns = 1900 * MS;
		ws[i].run_delay_ns = 100 * MS;
		ws[i].timeslices = 500;
		ws[i].max_gap_ns = 4 * MS;
		ws[i].migrations = 3;
		ws[i].cpus_seen = cpus;
		ws[i].n_cpus_seen = 2;
	}
	ck[0].name = "not_starved.gap";
	ck[0].value = 4;
	ck[0].threshold = 2000;
	ck[1].name = "isolation";
	ck[1].value = 0;
	ck[1].threshold = 0;
	cg.name = "cg_0";
	cg.cpus = cpus;
	cg.n_cpus = 2;
	cg.workers = wsp;
	cg.n_workers = 2;
	res.ok = 1;
	res.run_ms = 2000;
	res.cgroups = &cgp;
	res.n_cgroups = 1;
	o.ref = &r;
	o.worker_id = (char *)w->id;
	o.status = "pass";
	o.accel = "tcg";
	o.has_boot_ms = o.has_run_ms = o.has_total_ms = 1;
	o.boot_ms = 2100;
	o.run_ms = 2000;
	o.total_ms = 4300;
	o.guest_kernel = "sim";
	o.result = &res;
	o.checks = ckp;
	o.n_checks = 2;
	o.has_started_at = o.has_ended_at = 1;
	o.started_at = now;
	o.ended_at = now;
	m.body_case = KTSTR__FARM_MSG__BODY_OUTCOME;
	m.outcome = &o;
	if (kt_farm_send(w->sock, NULL, 0, &m, &err)) {
		if (errno == EAGAIN)
			return -1;
		die("outcome", &err);
	}
	return 0;
}

static void queue_outcome(struct sworker *w, const struct ref *ref)
{
	if (w->n_pending == w->cap_pending) {
		w->cap_pending = w->cap_pending ? 2 * w->cap_pending : 64;
		w->pending = kt_xrealloc(w->pending, w->cap_pending * sizeof(*w->pending));
	}
	w->pending[w->n_pending++] = *ref;
}

/* Outcomes that waited for room, in order. */
static void flush_pending(struct sim *s, struct sworker *w)
{
	size_t i = 0;

	while (i < w->n_pending && send_outcome(w, &w->pending[i]) == 0)
		i++;
	s->resends += i;
	memmove(w->pending, w->pending + i, (w->n_pending - i) * sizeof(*w->pending));
	w->n_pending -= i;
}

static void on_worker_msg(struct sim *s, struct sworker *w, const Ktstr__FarmMsg *m)
{
	uint64_t now = kt_now_ns();

	switch (m->body_case) {
	case KTSTR__FARM_MSG__BODY_HELLO_ACK:
		w->hello_acked = true;
		break;
	case KTSTR__FARM_MSG__BODY_ASSIGN: {
		struct ref r = {m->assign->ref->entry_id, m->assign->ref->attempt};

		if (!s->assigned++)
			s->t_first_assign = now;
		s->t_last_assign = now;
		if (w->n_pending || send_outcome(w, &r))
			queue_outcome(w, &r);
		break;
	}
	case KTSTR__FARM_MSG__BODY_OUTCOME_ACK:
		s->acked++;
		s->t_last_ack = now;
		break;
	case KTSTR__FARM_MSG__BODY_CANCEL_ENTRY:
		s->cancels++;
		break;
	case KTSTR__FARM_MSG__BODY_HEARTBEAT:
		break;
	default:
		fprintf(stderr, "dispatch_sim: %s: unexpected %s\n", w->id,
			kt_farm_body_name(m->body_case));
	}
}

static void on_client_msg(struct sim *s, const Ktstr__FarmMsg *m)
{
	switch (m->body_case) {
	case KTSTR__FARM_MSG__BODY_SUBMIT_REPLY:
		s->t_reply = kt_now_ns();
		s->replied = true;
		if (!m->submit_reply->ok) {
			fprintf(stderr, "dispatch_sim: submit refused: %s\n",
				m->submit_reply->error ? m->submit_reply->error : "(no reason)");
			s->failed = true;
			return;
		}
		s->run_id = m->submit_reply->run_id;
		s->entries = m->submit_reply->entries;
		break;
	case KTSTR__FARM_MSG__BODY_STATUS_REPLY: {
		const Ktstr__StatusReply *r = m->status_reply;

		s->status_out = false;
		snprintf(s->state, sizeof(s->state), "%s", r->state ? r->state : "?");
		s->total = r->total;
		s->pass = r->pass;
		s->fail = r->fail;
		s->error = r->error;
		s->infra = r->infra;
		s->skip = r->skip;
		s->cancelled = r->cancelled;
		if (!strcmp(s->state, "done") || !strcmp(s->state, "cancelled")) {
			s->t_done = kt_now_ns();
			s->done = true;
		}
		break;
	}
	case KTSTR__FARM_MSG__BODY_ERROR:
		fprintf(stderr, "dispatch_sim: coordinator: %s\n", m->error->message);
		s->failed = true;
		break;
	default:
		fprintf(stderr, "dispatch_sim: client: unexpected %s\n",
			kt_farm_body_name(m->body_case));
	}
}

/* Handle everything waiting on SOCK. */
static void drain(struct sim *s, void *sock, struct sworker *w)
{
	for (;;) {
		struct kt_farm_peer p;
		Ktstr__FarmMsg *m;
		struct kt_err err;
		int r = kt_farm_recv(sock, ZMQ_DONTWAIT, &p, &m, &err);

		if (r == 0)
			return;
		if (r < 0) {
			fprintf(stderr, "dispatch_sim: dropped: %s\n", err.msg);
			continue;
		}
		if (w)
			on_worker_msg(s, w, m);
		else
			on_client_msg(s, m);
		kt_farm_msg_free(m);
	}
}

/* One poll over every socket, at most TIMEOUT_MS. */
static void pump(struct sim *s, long timeout_ms)
{
	if (zmq_poll(s->items, (int)s->n + 1, timeout_ms) < 0 && errno != EINTR) {
		fprintf(stderr, "dispatch_sim: zmq_poll: %s\n", zmq_strerror(errno));
		exit(1);
	}
	if (s->items[0].revents & ZMQ_POLLIN)
		drain(s, s->client, NULL);
	for (size_t i = 0; i < s->n; i++) {
		if (s->items[i + 1].revents & ZMQ_POLLIN)
			drain(s, s->w[i].sock, &s->w[i]);
		if (s->w[i].n_pending)
			flush_pending(s, &s->w[i]);
	}
}

static void open_sockets(struct sim *s)
{
	struct kt_err err;

	s->ctx = zmq_ctx_new();
	if (!s->ctx) {
		fprintf(stderr, "dispatch_sim: zmq_ctx_new: %s\n", zmq_strerror(errno));
		exit(1);
	}
	zmq_ctx_set(s->ctx, ZMQ_MAX_SOCKETS, (int)s->n + 16);
	s->w = kt_xcalloc(s->n, sizeof(*s->w));
	s->items = kt_xcalloc(s->n + 1, sizeof(*s->items));
	s->client = kt_farm_socket(s->ctx, ZMQ_DEALER, &err);
	if (!s->client)
		die("client socket", &err);
	if (zmq_connect(s->client, s->clients_ep)) {
		fprintf(stderr, "dispatch_sim: connect %s: %s\n", s->clients_ep, zmq_strerror(errno));
		exit(1);
	}
	s->items[0] = (zmq_pollitem_t){s->client, 0, ZMQ_POLLIN, 0};
	for (size_t i = 0; i < s->n; i++) {
		struct sworker *w = &s->w[i];

		snprintf(w->id, sizeof(w->id), "sim-%04zu", i);
		w->sock = kt_farm_socket(s->ctx, ZMQ_DEALER, &err);
		if (!w->sock)
			die("worker socket", &err);
		/* As ktstr-worker: the routing id is the worker id. */
		if (zmq_setsockopt(w->sock, ZMQ_ROUTING_ID, w->id, strlen(w->id)) ||
		    zmq_connect(w->sock, s->workers_ep)) {
			fprintf(stderr, "dispatch_sim: %s: %s\n", s->workers_ep, zmq_strerror(errno));
			exit(1);
		}
		s->items[i + 1] = (zmq_pollitem_t){w->sock, 0, ZMQ_POLLIN, 0};
	}
}

/* Every worker says hello and hears back before the matrix goes in, so
 * the figures measure dispatch, not connection setup. */
static void hello_all(struct sim *s)
{
	uint64_t deadline = kt_now_ms() + CONNECT_TIMEOUT_MS;
	size_t acked = 0;

	for (size_t i = 0; i < s->n; i++)
		send_hello(s, &s->w[i]);
	while (acked < s->n) {
		if (kt_now_ms() >= deadline) {
			fprintf(stderr, "dispatch_sim: %zu of %zu workers got no HelloAck within %d s\n",
				s->n - acked, s->n, CONNECT_TIMEOUT_MS / 1000);
			exit(1);
		}
		pump(s, 100);
		acked = 0;
		for (size_t i = 0; i < s->n; i++)
			acked += s->w[i].hello_acked;
	}
}

static void submit(struct sim *s)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__SubmitRequest rq = KTSTR__SUBMIT_REQUEST__INIT;
	struct kt_err err;
	char *yaml;
	size_t len;

	if (kt_read_file(s->matrix, 1u << 20, &yaml, &len, &err))
		die("matrix", &err);
	rq.matrix_yaml = yaml;
	rq.filename = (char *)s->matrix;
	m.body_case = KTSTR__FARM_MSG__BODY_SUBMIT;
	m.submit = &rq;
	s->t_submit = kt_now_ns();
	send_blocking(s->client, &m, "submit");
	free(yaml);
}

static void ask_status(struct sim *s)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__StatusRequest rq = KTSTR__STATUS_REQUEST__INIT;

	rq.run_id = s->run_id;
	m.body_case = KTSTR__FARM_MSG__BODY_STATUS;
	m.status = &rq;
	send_blocking(s->client, &m, "status");
	s->status_out = true;
}

/* Serve the workers until the run is done or the time is up. */
static void run(struct sim *s)
{
	uint64_t now = kt_now_ms(), deadline = now + (uint64_t)s->timeout_s * 1000;
	uint64_t next_hb = now + KT_FARM_HEARTBEAT_MS, next_status = now + STATUS_EVERY_MS;
	bool all_acked = false;

	while (!s->done && !s->failed && (now = kt_now_ms()) < deadline) {
		uint64_t wake = next_hb;

		/* Ask as soon as every outcome is acked (the coordinator acks
		 * after storing), and now and then meanwhile: skipped entries
		 * are never assigned. */
		if (s->replied && !all_acked && s->acked >= s->entries) {
			all_acked = true;
			next_status = now;
		}
		if (s->replied && !s->status_out && now >= next_status) {
			ask_status(s);
			next_status = now + (all_acked ? STATUS_RETRY_MS : STATUS_EVERY_MS);
		}
		if (s->replied && !s->status_out && next_status < wake)
			wake = next_status;
		pump(s, wake > now ? (long)(wake - now) : 0);
		if (kt_now_ms() >= next_hb) {
			for (size_t i = 0; i < s->n; i++)
				send_heartbeat(s, &s->w[i]);
			next_hb += KT_FARM_HEARTBEAT_MS;
		}
	}
}

static void close_sockets(struct sim *s)
{
	int zero = 0;

	for (size_t i = 0; i < s->n; i++) {
		zmq_setsockopt(s->w[i].sock, ZMQ_LINGER, &zero, sizeof(zero));
		zmq_close(s->w[i].sock);
		free(s->w[i].pending);
	}
	zmq_setsockopt(s->client, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_close(s->client);
	zmq_ctx_term(s->ctx);
	free(s->w);
	free(s->items);
}

static double sec(uint64_t from, uint64_t to)
{
	return to > from ? (double)(to - from) / 1e9 : 0;
}

static double rate(uint64_t n, double s)
{
	return s > 0 ? (double)n / s : 0;
}

static void report(const struct sim *s)
{
	double t;

	printf("workers: %zu simulated, %u vCPUs and %" PRIu64 " MiB each\n", s->n, s->vcpus,
	       s->memory_mb);
	if (!s->replied) {
		printf("submit: no reply within %u s\n", s->timeout_s);
		return;
	}
	t = sec(s->t_submit, s->t_reply);
	printf("submit: %u entries in %.2f s (%.0f/s)\n", s->entries, t, rate(s->entries, t));
	if (!s->assigned) {
		printf("placed: nothing\n");
	} else {
		printf("first assignment: %.0f ms after the submit reply\n",
		       s->t_first_assign > s->t_reply ? sec(s->t_reply, s->t_first_assign) * 1e3 : 0);
		t = sec(s->t_reply, s->t_last_assign);
		printf("placed: %" PRIu64 " in %.2f s after the submit reply (%.0f/s)\n", s->assigned,
		       t, rate(s->assigned, t));
		t = sec(s->t_reply, s->t_last_ack);
		printf("stored: %" PRIu64 " outcomes acked in %.2f s after the submit reply (%.0f/s)\n",
		       s->acked, t, rate(s->acked, t));
	}
	if (s->resends || s->hb_dropped || s->cancels)
		printf("note: %" PRIu64 " outcomes waited for socket room, %" PRIu64
		       " heartbeats dropped, %" PRIu64 " cancels\n",
		       s->resends, s->hb_dropped, s->cancels);
	if (!s->done) {
		printf("run %" PRIu64 ": not done within %u s (state %s, %u of %u finished)\n",
		       s->run_id, s->timeout_s, s->state[0] ? s->state : "unknown",
		       s->pass + s->fail + s->error + s->infra + s->skip + s->cancelled, s->entries);
		return;
	}
	printf("run %" PRIu64 ": %s, %u entries: %u pass, %u fail, %u error, %u infra, %u skip, "
	       "%u cancelled\n", s->run_id, s->state, s->total, s->pass, s->fail, s->error,
	       s->infra, s->skip, s->cancelled);
	t = sec(s->t_submit, s->t_done);
	printf("end to end: %u entries in %.2f s from submit to done (%.0f entries/s, "
	       "target >= 5000)\n", s->entries, t, rate(s->entries, t));
}

static void usage(FILE *f)
{
	fprintf(f, "usage: dispatch_sim --workers-ep EP --clients-ep EP --matrix FILE\n"
		   "                    [--workers N] [--vcpus N] [--memory-mb N] [--timeout S]\n");
}

static unsigned long num(const char *opt, const char *v, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi) {
		fprintf(stderr, "dispatch_sim: --%s '%s': expected %lu to %lu\n", opt, v, lo, hi);
		exit(2);
	}
	return n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"workers-ep", required_argument, NULL, 'w'},
		{"clients-ep", required_argument, NULL, 'c'},
		{"matrix", required_argument, NULL, 'm'},
		{"workers", required_argument, NULL, 'n'},
		{"vcpus", required_argument, NULL, 'v'},
		{"memory-mb", required_argument, NULL, 'M'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct sim s = {.n = 200, .vcpus = 64, .memory_mb = 65536, .timeout_s = 300};
	bool ok;
	int ch;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'w': s.workers_ep = optarg; break;
		case 'c': s.clients_ep = optarg; break;
		case 'm': s.matrix = optarg; break;
		case 'n': s.n = num("workers", optarg, 1, 1000); break;
		case 'v': s.vcpus = (unsigned)num("vcpus", optarg, 1, 1u << 20); break;
		case 'M': s.memory_mb = num("memory-mb", optarg, 1, 1ul << 40); break;
		case 't': s.timeout_s = (unsigned)num("timeout", optarg, 1, 86400); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!s.workers_ep || !s.clients_ep || !s.matrix || optind != argc) {
		usage(stderr);
		return 2;
	}
	open_sockets(&s);
	hello_all(&s);
	submit(&s);
	run(&s);
	report(&s);
	ok = s.done && !strcmp(s.state, "done") &&
	     s.pass + s.fail + s.error + s.infra + s.skip == s.entries;
	close_sockets(&s);
	return ok ? 0 : 1;
}
