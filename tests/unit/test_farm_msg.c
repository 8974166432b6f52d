/* The farm wire (worker/farm_msg.h) over inproc ROUTER/DEALER pairs: every
 * body kind round-trips both ways, and every kind of bad message is
 * dropped with a reason while the next good one still arrives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <zmq.h>
#include "farm_msg.h"

struct pair {
	void *ctx, *router, *dealer;
};

static int setup(void **state)
{
	static int n;
	struct pair *p = calloc(1, sizeof(*p));
	struct kt_err e;
	char ep[64];

	snprintf(ep, sizeof(ep), "inproc://farm-%d", n++);
	p->ctx = zmq_ctx_new();
	p->router = kt_farm_socket(p->ctx, ZMQ_ROUTER, &e);
	p->dealer = kt_farm_socket(p->ctx, ZMQ_DEALER, &e);
	assert_non_null(p->router);
	assert_non_null(p->dealer);
	assert_int_equal(zmq_setsockopt(p->dealer, ZMQ_ROUTING_ID, "w1", 2), 0);
	assert_int_equal(zmq_bind(p->router, ep), 0);
	assert_int_equal(zmq_connect(p->dealer, ep), 0);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	zmq_close(p->router);
	zmq_close(p->dealer);
	zmq_ctx_term(p->ctx);
	free(p);
	return 0;
}

/* Receive on S, waiting up to a second: 1, 0 or -1 as kt_farm_recv. */
static int recv_wait(void *s, struct kt_farm_peer *peer, Ktstr__FarmMsg **m, struct kt_err *e)
{
	zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};

	if (zmq_poll(&it, 1, 1000) <= 0)
		return 0;
	return kt_farm_recv(s, ZMQ_DONTWAIT, peer, m, e);
}

/* Storage for one message of every kind. */
struct all {
	Ktstr__EntryRef ref, *refs[1];
	Ktstr__WorkerHello hello;
	Ktstr__HelloAck hello_ack;
	Ktstr__Heartbeat heartbeat;
	Ktstr__ArtifactRef img, cfg, sc;
	Ktstr__KernelRef kernel;
	Ktstr__CheckOverrides checks;
	Ktstr__SchedulerRef sched;
	Ktstr__Assignment assign;
	Ktstr__Progress progress;
	Ktstr__CheckResult check, *checkp[1];
	Ktstr__EntryOutcome outcome, *outcomes[1];
	Ktstr__OutcomeAck outcome_ack;
	Ktstr__ArtifactRequest artifact_req;
	Ktstr__ArtifactChunk artifact_chunk;
	Ktstr__CancelEntry cancel_entry;
	Ktstr__HandBack hand_back;
	Ktstr__NamedFile file, *files[1];
	Ktstr__SubmitRequest submit;
	Ktstr__SubmitReply submit_reply;
	Ktstr__StatusRequest status;
	Ktstr__EntryBrief brief, *briefs[1];
	Ktstr__StatusReply status_reply;
	Ktstr__CancelRun cancel_run;
	Ktstr__WatchRequest watch;
	Ktstr__ErrorReply error;
	char *tags[2];
	uint8_t data[3];
};

static const char SHA[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void fill_all(struct all *a)
{
	Ktstr__EntryRef ref = KTSTR__ENTRY_REF__INIT;

	ref.entry_id = 42;
	ref.attempt = 2;
	a->ref = ref;
	a->refs[0] = &a->ref;
	a->tags[0] = "numa";
	a->tags[1] = "big";
	ktstr__worker_hello__init(&a->hello);
	a->hello.worker_id = "w1";
	a->hello.has_vcpus = 1;
	a->hello.vcpus = 8;
	a->hello.n_tags = 2;
	a->hello.tags = a->tags;
	a->hello.n_running = 1;
	a->hello.running = a->refs;
	ktstr__hello_ack__init(&a->hello_ack);
	a->hello_ack.coordinator_id = "c-1";
	ktstr__heartbeat__init(&a->heartbeat);
	a->heartbeat.worker_id = "w1";
	a->heartbeat.n_running = 1;
	a->heartbeat.running = a->refs;
	ktstr__artifact_ref__init(&a->img);
	a->img.sha256 = (char *)SHA;
	a->img.has_size = 1;
	a->img.size = 12345678;
	ktstr__artifact_ref__init(&a->cfg);
	a->cfg.sha256 = (char *)SHA;
	ktstr__artifact_ref__init(&a->sc);
	a->sc.sha256 = (char *)SHA;
	a->sc.name = "steady.yaml";
	ktstr__kernel_ref__init(&a->kernel);
	a->kernel.image = &a->img;
	a->kernel.config = &a->cfg;
	ktstr__check_overrides__init(&a->checks);
	a->checks.has_max_gap_ms = 1;
	a->checks.max_gap_ms = 3000;
	ktstr__scheduler_ref__init(&a->sched);
	a->sched.name = "eevdf";
	ktstr__assignment__init(&a->assign);
	a->assign.ref = &a->ref;
	a->assign.kernel = &a->kernel;
	a->assign.topology = "1n2l2c1t";
	a->assign.scenario = &a->sc;
	a->assign.checks = &a->checks;
	a->assign.scheduler = &a->sched;
	ktstr__progress__init(&a->progress);
	a->progress.ref = &a->ref;
	a->progress.phase = "booting";
	ktstr__check_result__init(&a->check);
	a->check.name = "not_starved.gap";
	a->check.passed = 1;
	a->checkp[0] = &a->check;
	ktstr__entry_outcome__init(&a->outcome);
	a->outcome.ref = &a->ref;
	a->outcome.status = "pass";
	a->outcome.n_checks = 1;
	a->outcome.checks = a->checkp;
	a->outcomes[0] = &a->outcome;
	a->hello.n_unacked = 1;
	a->hello.unacked = a->outcomes;
	ktstr__outcome_ack__init(&a->outcome_ack);
	a->outcome_ack.ref = &a->ref;
	ktstr__artifact_request__init(&a->artifact_req);
	a->artifact_req.sha256 = (char *)SHA;
	a->artifact_req.offset = 1 << 20;
	a->artifact_req.length = 4096;
	memcpy(a->data, "\x00\x01\xff", 3);
	ktstr__artifact_chunk__init(&a->artifact_chunk);
	a->artifact_chunk.sha256 = (char *)SHA;
	a->artifact_chunk.has_data = 1;
	a->artifact_chunk.data.data = a->data;
	a->artifact_chunk.data.len = 3;
	ktstr__cancel_entry__init(&a->cancel_entry);
	a->cancel_entry.ref = &a->ref;
	ktstr__hand_back__init(&a->hand_back);
	a->hand_back.ref = &a->ref;
	a->hand_back.reason = "draining";
	ktstr__named_file__init(&a->file);
	a->file.name = "s.yaml";
	a->file.data.data = a->data;
	a->file.data.len = 3;
	a->files[0] = &a->file;
	ktstr__submit_request__init(&a->submit);
	a->submit.matrix_yaml = "tests: []";
	a->submit.n_files = 1;
	a->submit.files = a->files;
	ktstr__submit_reply__init(&a->submit_reply);
	a->submit_reply.ok = 1;
	ktstr__status_request__init(&a->status);
	a->status.run_id = 7;
	ktstr__entry_brief__init(&a->brief);
	a->brief.entry_id = 42;
	a->brief.name = "t/1n1l2c1t/eevdf/sid";
	a->brief.status = "fail";
	a->briefs[0] = &a->brief;
	ktstr__status_reply__init(&a->status_reply);
	a->status_reply.run_id = 7;
	a->status_reply.n_finished = 1;
	a->status_reply.finished = a->briefs;
	ktstr__cancel_run__init(&a->cancel_run);
	a->cancel_run.run_id = 7;
	ktstr__watch_request__init(&a->watch);
	a->watch.run_id = 7;
	ktstr__error_reply__init(&a->error);
	a->error.message = "no such run";
}

/* M with body KIND from A. */
static void set_body(Ktstr__FarmMsg *m, struct all *a, Ktstr__FarmMsg__BodyCase kind)
{
	ktstr__farm_msg__init(m);
	m->body_case = kind;
	switch (kind) {
	case KTSTR__FARM_MSG__BODY_HELLO: m->hello = &a->hello; break;
	case KTSTR__FARM_MSG__BODY_HELLO_ACK: m->hello_ack = &a->hello_ack; break;
	case KTSTR__FARM_MSG__BODY_HEARTBEAT: m->heartbeat = &a->heartbeat; break;
	case KTSTR__FARM_MSG__BODY_ASSIGN: m->assign = &a->assign; break;
	case KTSTR__FARM_MSG__BODY_PROGRESS: m->progress = &a->progress; break;
	case KTSTR__FARM_MSG__BODY_OUTCOME: m->outcome = &a->outcome; break;
	case KTSTR__FARM_MSG__BODY_OUTCOME_ACK: m->outcome_ack = &a->outcome_ack; break;
	case KTSTR__FARM_MSG__BODY_ARTIFACT_REQ: m->artifact_req = &a->artifact_req; break;
	case KTSTR__FARM_MSG__BODY_ARTIFACT_CHUNK: m->artifact_chunk = &a->artifact_chunk; break;
	case KTSTR__FARM_MSG__BODY_CANCEL_ENTRY: m->cancel_entry = &a->cancel_entry; break;
	case KTSTR__FARM_MSG__BODY_HAND_BACK: m->hand_back = &a->hand_back; break;
	case KTSTR__FARM_MSG__BODY_SUBMIT: m->submit = &a->submit; break;
	case KTSTR__FARM_MSG__BODY_SUBMIT_REPLY: m->submit_reply = &a->submit_reply; break;
	case KTSTR__FARM_MSG__BODY_STATUS: m->status = &a->status; break;
	case KTSTR__FARM_MSG__BODY_STATUS_REPLY: m->status_reply = &a->status_reply; break;
	case KTSTR__FARM_MSG__BODY_CANCEL_RUN: m->cancel_run = &a->cancel_run; break;
	case KTSTR__FARM_MSG__BODY_WATCH: m->watch = &a->watch; break;
	case KTSTR__FARM_MSG__BODY_ERROR: m->error = &a->error; break;
	default: fail();
	}
}

static const Ktstr__FarmMsg__BodyCase kinds[] = {
	KTSTR__FARM_MSG__BODY_HELLO,          KTSTR__FARM_MSG__BODY_HELLO_ACK,
	KTSTR__FARM_MSG__BODY_HEARTBEAT,      KTSTR__FARM_MSG__BODY_ASSIGN,
	KTSTR__FARM_MSG__BODY_PROGRESS,       KTSTR__FARM_MSG__BODY_OUTCOME,
	KTSTR__FARM_MSG__BODY_OUTCOME_ACK,    KTSTR__FARM_MSG__BODY_ARTIFACT_REQ,
	KTSTR__FARM_MSG__BODY_ARTIFACT_CHUNK, KTSTR__FARM_MSG__BODY_CANCEL_ENTRY,
	KTSTR__FARM_MSG__BODY_HAND_BACK,      KTSTR__FARM_MSG__BODY_SUBMIT,
	KTSTR__FARM_MSG__BODY_SUBMIT_REPLY,   KTSTR__FARM_MSG__BODY_STATUS,
	KTSTR__FARM_MSG__BODY_STATUS_REPLY,   KTSTR__FARM_MSG__BODY_CANCEL_RUN,
	KTSTR__FARM_MSG__BODY_WATCH,          KTSTR__FARM_MSG__BODY_ERROR,
};

/* The received message packs to exactly the bytes of the sent one. */
static void assert_same(const Ktstr__FarmMsg *sent, const Ktstr__FarmMsg *got)
{
	Ktstr__FarmMsg s = *sent;
	size_t n;
	uint8_t *a, *b;

	s.version = KT_FARM_VERSION;
	n = ktstr__farm_msg__get_packed_size(&s);
	assert_int_equal(ktstr__farm_msg__get_packed_size(got), n);
	a = malloc(n);
	b = malloc(n);
	ktstr__farm_msg__pack(&s, a);
	ktstr__farm_msg__pack(got, b);
	assert_memory_equal(a, b, n);
	free(a);
	free(b);
}

static void roundtrip_every_kind(void **state)
{
	struct pair *p = *state;
	struct all a;
	struct kt_farm_peer peer;
	struct kt_err e;

	fill_all(&a);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		Ktstr__FarmMsg m, *got;

		set_body(&m, &a, kinds[i]);
		m.version = 99; /* kt_farm_send sets the version */
		assert_int_equal(kt_farm_send(p->dealer, NULL, 0, &m, &e), 0);
		assert_int_equal(recv_wait(p->router, &peer, &got, &e), 1);
		assert_int_equal(peer.len, 2);
		assert_memory_equal(peer.id, "w1", 2);
		assert_int_equal(got->body_case, kinds[i]);
		assert_same(&m, got);
		kt_farm_msg_free(got);
		/* and back, addressed by the identity just received */
		assert_int_equal(kt_farm_send(p->router, peer.id, peer.len, &m, &e), 0);
		assert_int_equal(recv_wait(p->dealer, &peer, &got, &e), 1);
		assert_int_equal(peer.len, 0);
		assert_same(&m, got);
		kt_farm_msg_free(got);
	}
	assert_string_equal(kt_farm_body_name(KTSTR__FARM_MSG__BODY_ASSIGN), "assign");
	assert_string_equal(kt_farm_body_name(KTSTR__FARM_MSG__BODY_ARTIFACT_CHUNK),
			    "artifact_chunk");
	assert_string_equal(kt_farm_body_name(KTSTR__FARM_MSG__BODY__NOT_SET), "none");
}

/* A good heartbeat right after: the bad message left nothing behind. */
static void assert_next_good(struct pair *p)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT, *got;
	Ktstr__Heartbeat h = KTSTR__HEARTBEAT__INIT;
	struct kt_farm_peer peer;
	struct kt_err e;

	h.worker_id = "w1";
	m.body_case = KTSTR__FARM_MSG__BODY_HEARTBEAT;
	m.heartbeat = &h;
	/* ZMQ_IMMEDIATE: a send fails until the connection is up */
	for (int i = 0; kt_farm_send(p->dealer, NULL, 0, &m, &e); i++) {
		assert_true(i < 200);
		usleep(5000);
	}
	assert_int_equal(recv_wait(p->router, &peer, &got, &e), 1);
	assert_int_equal(got->body_case, KTSTR__FARM_MSG__BODY_HEARTBEAT);
	assert_string_equal(got->heartbeat->worker_id, "w1");
	kt_farm_msg_free(got);
}

static void assert_dropped(struct pair *p, const char *why)
{
	Ktstr__FarmMsg *got = (Ktstr__FarmMsg *)1;
	struct kt_farm_peer peer;
	struct kt_err e = {""};

	int r = recv_wait(p->router, &peer, &got, &e);

	if (r != -1)
		fail_msg("expected a drop for '%s', got %d", why, r);
	assert_null(got);
	assert_int_equal(peer.len, 2); /* the sender is still named */
	if (!strstr(e.msg, why))
		fail_msg("error '%s' does not say '%s'", e.msg, why);
	assert_next_good(p);
}

static size_t pack_raw(const Ktstr__FarmMsg *m, uint8_t *buf)
{
	assert_true(ktstr__farm_msg__get_packed_size(m) <= 4096);
	return ktstr__farm_msg__pack(m, buf);
}

static void bad_messages_dropped(void **state)
{
	struct pair *p = *state;
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__WorkerHello h = KTSTR__WORKER_HELLO__INIT;
	uint8_t buf[4096], *big;
	size_t n;

	/* nothing waiting */
	{
		Ktstr__FarmMsg *got;
		struct kt_farm_peer peer;
		struct kt_err e;

		assert_int_equal(kt_farm_recv(p->router, ZMQ_DONTWAIT, &peer, &got, &e), 0);
	}
	assert_int_equal(zmq_send(p->dealer, "\xff\xff\xff\xff\x0f", 5, 0), 5);
	assert_dropped(p, "do not unpack");

	h.worker_id = "w1";
	h.hostname = "a-rather-long-host-name-so-that-truncation-bites";
	m.body_case = KTSTR__FARM_MSG__BODY_HELLO;
	m.hello = &h;
	m.version = 2;
	n = pack_raw(&m, buf);
	assert_int_equal(zmq_send(p->dealer, buf, n, 0), (int)n);
	assert_dropped(p, "protocol version 2, this side speaks 1");

	m.version = KT_FARM_VERSION;
	n = pack_raw(&m, buf);
	assert_int_equal(zmq_send(p->dealer, buf, n / 2, 0), (int)(n / 2));
	assert_dropped(p, "do not unpack");

	assert_int_equal(zmq_send(p->dealer, "", 0, 0), 0);
	assert_dropped(p, "empty message");

	n = pack_raw(&m, buf);
	assert_int_equal(zmq_send(p->dealer, buf, n, ZMQ_SNDMORE), (int)n);
	assert_int_equal(zmq_send(p->dealer, buf, n, 0), (int)n);
	assert_dropped(p, "3 frames, expected 2");

	/* a FarmMsg with no body: version only */
	assert_int_equal(zmq_send(p->dealer, "\x08\x01", 2, 0), 2);
	assert_dropped(p, "without a known body");

	/* version 1, hello {hostname "x"}: no worker_id, which is required
	 * (protobuf-c's packer writes a NULL string as "", so by hand) */
	assert_int_equal(zmq_send(p->dealer, "\x08\x01\x52\x03\x12\x01x", 7, 0), 7);
	assert_dropped(p, "required field missing");

	/* inproc bypasses ZMQ_MAXMSGSIZE: the receive check holds */
	big = calloc(1, KT_FARM_MAX_MSG + 1);
	big[0] = 0x08;
	big[1] = 0x01;
	assert_int_equal(zmq_send(p->dealer, big, KT_FARM_MAX_MSG + 1, 0), KT_FARM_MAX_MSG + 1);
	free(big);
	assert_dropped(p, "more than the 8388608-byte limit");
}

static void dealer_side_checks_frames(void **state)
{
	struct pair *p = *state;
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT, *got;
	Ktstr__HelloAck a = KTSTR__HELLO_ACK__INIT;
	struct kt_farm_peer peer;
	struct kt_err e;
	uint8_t buf[256];
	size_t n;

	/* the router learns the dealer's identity first */
	assert_next_good(p);
	a.coordinator_id = "c-1";
	m.version = KT_FARM_VERSION;
	m.body_case = KTSTR__FARM_MSG__BODY_HELLO_ACK;
	m.hello_ack = &a;
	n = ktstr__farm_msg__pack(&m, buf);
	assert_int_equal(zmq_send(p->router, "w1", 2, ZMQ_SNDMORE), 2);
	assert_int_equal(zmq_send(p->router, "", 0, ZMQ_SNDMORE), 0);
	assert_int_equal(zmq_send(p->router, buf, n, 0), (int)n);
	assert_int_equal(recv_wait(p->dealer, &peer, &got, &e), -1);
	assert_non_null(strstr(e.msg, "2 frames, expected 1"));
	assert_int_equal(kt_farm_send(p->router, "w1", 2, &m, &e), 0);
	assert_int_equal(recv_wait(p->dealer, &peer, &got, &e), 1);
	assert_string_equal(got->hello_ack->coordinator_id, "c-1");
	kt_farm_msg_free(got);
	/* an unknown peer is an error, not a silent loss */
	assert_int_equal(kt_farm_send(p->router, "nobody", 6, &m, &e), -1);
	assert_non_null(strstr(e.msg, "hello_ack"));
}

static void send_refuses_bad_messages(void **state)
{
	struct pair *p = *state;
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__WorkerHello h = KTSTR__WORKER_HELLO__INIT;
	Ktstr__SubmitRequest s = KTSTR__SUBMIT_REQUEST__INIT;
	struct kt_err e;
	char *yaml;

	assert_int_equal(kt_farm_send(p->dealer, NULL, 0, &m, &e), -1);
	assert_non_null(strstr(e.msg, "no body"));
	m.body_case = KTSTR__FARM_MSG__BODY_HELLO;
	m.hello = &h;
	assert_int_equal(kt_farm_send(p->dealer, NULL, 0, &m, &e), -1);
	assert_non_null(strstr(e.msg, "send hello: a required field is missing"));
	yaml = malloc(KT_FARM_MAX_MSG + 1);
	memset(yaml, 'x', KT_FARM_MAX_MSG);
	yaml[KT_FARM_MAX_MSG] = 0;
	s.matrix_yaml = yaml;
	m.body_case = KTSTR__FARM_MSG__BODY_SUBMIT;
	m.submit = &s;
	assert_int_equal(kt_farm_send(p->dealer, NULL, 0, &m, &e), -1);
	assert_non_null(strstr(e.msg, "more than the 8388608-byte limit"));
	free(yaml);
	assert_next_good(p);
}

/* Over TCP, ZMQ_MAXMSGSIZE drops an oversized frame's sender before we
 * see it; another peer is unaffected. */
static void tcp_maxmsgsize(void **state)
{
	void *ctx = zmq_ctx_new(), *router, *raw;
	struct pair good = {0};
	char ep[128];
	size_t len = sizeof(ep);
	int64_t max = 0;
	size_t ml = sizeof(max);
	uint8_t *big = calloc(1, KT_FARM_MAX_MSG + 16);
	Ktstr__FarmMsg *got;
	struct kt_farm_peer peer;
	struct kt_err e;

	(void)state;
	router = kt_farm_socket(ctx, ZMQ_ROUTER, &e);
	assert_int_equal(zmq_getsockopt(router, ZMQ_MAXMSGSIZE, &max, &ml), 0);
	assert_int_equal(max, KT_FARM_MAX_MSG);
	assert_int_equal(zmq_bind(router, "tcp://127.0.0.1:*"), 0);
	assert_int_equal(zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &len), 0);
	raw = zmq_socket(ctx, ZMQ_DEALER); /* no limits of its own */
	assert_int_equal(zmq_connect(raw, ep), 0);
	assert_int_equal(zmq_send(raw, big, KT_FARM_MAX_MSG + 16, 0), KT_FARM_MAX_MSG + 16);
	assert_int_equal(recv_wait(router, &peer, &got, &e), 0);
	good.router = router;
	good.dealer = kt_farm_socket(ctx, ZMQ_DEALER, &e);
	assert_int_equal(zmq_connect(good.dealer, ep), 0);
	assert_next_good(&good);
	free(big);
	zmq_close(raw);
	zmq_close(good.dealer);
	zmq_close(router);
	zmq_ctx_term(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(roundtrip_every_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_messages_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(dealer_side_checks_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(send_refuses_bad_messages, setup, teardown),
		cmocka_unit_test(tcp_maxmsgsize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
