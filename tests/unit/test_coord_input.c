/* The real ktstr-coordinator (KTSTR_BIN_DIR) against bad input on both of
 * its sockets, over TCP on free loopback ports with a temporary database:
 * garbage bytes, wrong frame counts, a wrong protocol version, oversized
 * frames, messages from workers that never said hello, messages on the
 * wrong socket, invalid hellos and invalid matrices. After each, it must
 * still serve (a status request for an unknown run gets an ErrorReply
 * naming the run; a proper hello gets a HelloAck), store nothing, and
 * finally exit cleanly on SIGTERM. Then one real run on a synthetic
 * kernel image with two fake workers: only the worker an attempt went to
 * can report it. No guests: runs in a few seconds. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <zmq.h>
#include "farm_msg.h"
#include "sha256.h"
#include "util.h"

#define REPLY_MS 5000 /* a reply that should come */
#define QUIET_MS 400  /* how long "no reply" is watched for */

struct coord {
	char dir[64], db[128], log[128], cache[128];
	char wep[64], cep[64];
	pid_t pid;
	void *ctx;
	unsigned probes;
};

static struct coord co;

/* Sockets still open: a failed test leaves its own, and zmq_ctx_term
 * would wait for them forever. */
static void *open_socks[64];
static size_t n_open;

static void sock_close(void *s)
{
	for (size_t i = 0; i < n_open; i++)
		if (open_socks[i] == s) {
			open_socks[i] = open_socks[--n_open];
			break;
		}
	zmq_close(s);
}

/* A free loopback TCP port (the kernel's choice, released at once). */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	assert_true(s >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(s);
	return port;
}

static bool coord_alive(void)
{
	int st;

	return co.pid > 0 && waitpid(co.pid, &st, WNOHANG) == 0;
}

/* A DEALER on EP without the farm's options (so it can send anything);
 * IDENT, when set, is its routing id. */
static void *dealer(const char *ep, const char *ident)
{
	void *s = zmq_socket(co.ctx, ZMQ_DEALER);
	int linger = 0, ms = REPLY_MS;

	assert_non_null(s);
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_SNDTIMEO, &ms, sizeof(ms));
	if (ident)
		assert_int_equal(zmq_setsockopt(s, ZMQ_ROUTING_ID, ident, strlen(ident)), 0);
	assert_int_equal(zmq_connect(s, ep), 0);
	assert_true(n_open < sizeof(open_socks) / sizeof(open_socks[0]));
	open_socks[n_open++] = s;
	return s;
}

static void send_bytes(void *s, const void *buf, size_t len)
{
	assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
}

/* M packed as it is (its version field included). */
static void send_packed(void *s, const Ktstr__FarmMsg *m)
{
	size_t n = ktstr__farm_msg__get_packed_size(m);
	uint8_t *buf = malloc(n ? n : 1);

	assert_non_null(buf);
	ktstr__farm_msg__pack(m, buf);
	send_bytes(s, buf, n);
	free(buf);
}

static void send_msg(void *s, Ktstr__FarmMsg *m)
{
	m->version = KT_FARM_VERSION;
	send_packed(s, m);
}

/* The next well-formed message on S within MS, or NULL. */
static Ktstr__FarmMsg *recv_msg(void *s, int ms)
{
	uint64_t deadline = kt_now_ms() + (uint64_t)ms;

	for (;;) {
		zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
		uint64_t now = kt_now_ms();
		struct kt_farm_peer p;
		Ktstr__FarmMsg *m;
		struct kt_err e;

		if (now >= deadline || zmq_poll(&it, 1, (long)(deadline - now)) <= 0)
			return NULL;
		if (kt_farm_recv(s, ZMQ_DONTWAIT, &p, &m, &e) == 1)
			return m;
	}
}

/* Nothing comes back on S for QUIET_MS. */
static void assert_quiet(void *s)
{
	Ktstr__FarmMsg *m = recv_msg(s, QUIET_MS);

	if (m)
		fail_msg("unexpected %s", kt_farm_body_name(m->body_case));
}

static void hello_msg(Ktstr__FarmMsg *m, Ktstr__WorkerHello *h, const char *id)
{
	ktstr__farm_msg__init(m);
	ktstr__worker_hello__init(h);
	h->worker_id = (char *)id;
	h->has_vcpus = 1;
	h->vcpus = 2;
	h->accel = "tcg";
	/* Takes no work, so that only the fake workers get the run's entry. */
	h->has_draining = 1;
	h->draining = 1;
	m->body_case = KTSTR__FARM_MSG__BODY_HELLO;
	m->hello = h;
}

static void status_msg(Ktstr__FarmMsg *m, Ktstr__StatusRequest *sr, uint64_t run)
{
	ktstr__farm_msg__init(m);
	ktstr__status_request__init(sr);
	sr->run_id = run;
	m->body_case = KTSTR__FARM_MSG__BODY_STATUS;
	m->status = sr;
}

/* A status request for unknown run RUN gets an ErrorReply naming it. */
static void assert_status_error(void *client, uint64_t run)
{
	Ktstr__FarmMsg m, *r;
	Ktstr__StatusRequest sr;
	char want[64];

	status_msg(&m, &sr, run);
	send_msg(client, &m);
	r = recv_msg(client, REPLY_MS);
	assert_non_null(r);
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_ERROR);
	snprintf(want, sizeof(want), "run %llu: no such run", (unsigned long long)run);
	if (!strstr(r->error->message, want))
		fail_msg("error '%s' does not say '%s'", r->error->message, want);
	kt_farm_msg_free(r);
}

/* The coordinator is alive and serves both sockets, with new
 * connections: a status request for an unknown run, a worker hello. */
static void assert_serves(void)
{
	void *client = dealer(co.cep, NULL), *w;
	Ktstr__FarmMsg m, *r;
	Ktstr__WorkerHello h;
	char id[32];

	assert_true(coord_alive());
	assert_status_error(client, 900000 + ++co.probes);
	sock_close(client);
	snprintf(id, sizeof(id), "probe-%u", co.probes);
	w = dealer(co.wep, id);
	hello_msg(&m, &h, id);
	send_msg(w, &m);
	r = recv_msg(w, REPLY_MS);
	assert_non_null(r);
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_HELLO_ACK);
	assert_true(r->hello_ack->coordinator_id && *r->hello_ack->coordinator_id);
	assert_false(r->hello_ack->has_hello_needed && r->hello_ack->hello_needed);
	kt_farm_msg_free(r);
	sock_close(w);
}

static long long db_count(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long n;

	assert_int_equal(sqlite3_open_v2(co.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static bool log_has(const char *needle)
{
	char *text;
	size_t len;
	struct kt_err e;
	bool found;

	if (kt_read_file(co.log, 16u << 20, &text, &len, &e))
		return false;
	found = strstr(text, needle) != NULL;
	free(text);
	return found;
}

static int start(void **state)
{
	char wport[16], cport[16], bin[PATH_MAX];
	const char *dir = getenv("KTSTR_BIN_DIR"); /* another build's binaries */
	int fd;

	(void)state;
	snprintf(bin, sizeof(bin), "%s/ktstr-coordinator", dir && *dir ? dir : KTSTR_BIN_DIR);
	snprintf(co.dir, sizeof(co.dir), "/tmp/ktstr-coord-input.XXXXXX");
	if (!mkdtemp(co.dir))
		return -1;
	snprintf(co.db, sizeof(co.db), "%s/farm.db", co.dir);
	snprintf(co.log, sizeof(co.log), "%s/coord.log", co.dir);
	snprintf(co.cache, sizeof(co.cache), "%s/cache", co.dir);
	snprintf(wport, sizeof(wport), "%d", free_port());
	snprintf(cport, sizeof(cport), "%d", free_port());
	snprintf(co.wep, sizeof(co.wep), "tcp://127.0.0.1:%s", wport);
	snprintf(co.cep, sizeof(co.cep), "tcp://127.0.0.1:%s", cport);
	fd = open(co.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	co.pid = fork();
	if (co.pid == 0) {
		/* Dies with the test, whatever ends it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin, "ktstr-coordinator", "--db", co.db, "--listen-workers", co.wep,
		      "--listen-clients", co.cep, "--cache", co.cache, (char *)NULL);
		_exit(127);
	}
	close(fd);
	if (co.pid < 0)
		return -1;
	co.ctx = zmq_ctx_new();
	/* Up once it answers; until then a request may go unheard. */
	for (int i = 0; i < 100; i++) {
		void *client = dealer(co.cep, NULL);
		Ktstr__FarmMsg m, *r;
		Ktstr__StatusRequest sr;

		status_msg(&m, &sr, 1);
		send_msg(client, &m);
		r = recv_msg(client, 200);
		sock_close(client);
		if (r) {
			kt_farm_msg_free(r);
			return 0;
		}
		if (!coord_alive())
			break;
	}
	fprintf(stderr, "ktstr-coordinator did not come up; see %s\n", co.log);
	return -1;
}

/* Alive to the end; SIGTERM stops it cleanly (status 0). */
static int stop(void **state)
{
	int st = -1, rc = 0;
	bool alive = coord_alive();

	(void)state;
	while (n_open)
		sock_close(open_socks[0]);
	if (co.ctx)
		zmq_ctx_term(co.ctx);
	if (co.pid > 0 && alive) {
		pid_t w = 0;

		kill(co.pid, SIGTERM);
		for (int i = 0; i < 100 && (w = waitpid(co.pid, &st, WNOHANG)) == 0; i++)
			usleep(100000);
		if (w == 0) {
			fprintf(stderr, "ktstr-coordinator ignored SIGTERM for 10 s\n");
			kill(co.pid, SIGKILL);
			waitpid(co.pid, &st, 0);
			rc = -1;
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "ktstr-coordinator ended with status %#x on SIGTERM\n", st);
			rc = -1;
		}
	} else if (co.pid > 0) {
		fprintf(stderr, "ktstr-coordinator died during the tests\n");
		rc = -1;
	}
	if (rc == 0 && !getenv("KTSTR_KEEP_TMP")) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", co.dir);
		if (system(cmd) != 0)
			rc = -1;
	} else {
		fprintf(stderr, "its log: %s\n", co.log);
	}
	return rc;
}

/* ---- the tests ---- */

static void test_serves(void **state)
{
	(void)state;
	assert_serves();
}

static void test_garbage(void **state)
{
	static const uint8_t junk[] = {0xff, 0x00, 0x13, 0x37, 0x08, 0x01, 0x52, 0xfe, 0x99};
	const char *eps[2] = {co.wep, co.cep};

	(void)state;
	for (int i = 0; i < 2; i++) {
		void *s = dealer(eps[i], i ? NULL : "garbage-worker");

		send_bytes(s, junk, sizeof(junk));
		send_bytes(s, "", 0);
		/* Three frames where one is expected. */
		assert_int_equal(zmq_send(s, "a", 1, ZMQ_SNDMORE), 1);
		assert_int_equal(zmq_send(s, "b", 1, ZMQ_SNDMORE), 1);
		send_bytes(s, junk, sizeof(junk));
		assert_quiet(s);
		sock_close(s);
	}
	assert_serves();
	assert_true(log_has("do not unpack"));
	assert_true(log_has("empty message"));
	assert_true(log_has("frames, expected 2"));
}

static void test_wrong_version(void **state)
{
	Ktstr__FarmMsg m;
	Ktstr__WorkerHello h;
	Ktstr__StatusRequest sr;
	void *w = dealer(co.wep, "w-version"), *c = dealer(co.cep, NULL);

	(void)state;
	hello_msg(&m, &h, "w-version");
	m.version = KT_FARM_VERSION + 1;
	send_packed(w, &m);
	assert_quiet(w);
	status_msg(&m, &sr, 5);
	m.version = 0;
	send_packed(c, &m);
	assert_quiet(c);
	sock_close(w);
	sock_close(c);
	assert_serves();
	assert_true(log_has("protocol version 2, this side speaks 1"));
	assert_int_equal(db_count("SELECT count(*) FROM workers WHERE id = 'w-version'"), 0);
}

static void test_oversized(void **state)
{
	size_t n = KT_FARM_MAX_MSG + 4096;
	uint8_t *big = malloc(n);
	const char *eps[2] = {co.wep, co.cep};

	(void)state;
	assert_non_null(big);
	/* A status request's prefix, then bytes up to the size. */
	memset(big, 0x41, n);
	big[0] = 0x08;
	big[1] = KT_FARM_VERSION;
	for (int i = 0; i < 2; i++) {
		void *s = dealer(eps[i], NULL);

		send_bytes(s, big, n);
		assert_quiet(s);
		sock_close(s);
	}
	free(big);
	assert_serves();
}

static void test_unknown_worker(void **state)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT, *r;
	Ktstr__Heartbeat hb = KTSTR__HEARTBEAT__INIT;
	Ktstr__EntryOutcome o = KTSTR__ENTRY_OUTCOME__INIT;
	Ktstr__EntryRef ref = KTSTR__ENTRY_REF__INIT;
	Ktstr__ArtifactRequest ar = KTSTR__ARTIFACT_REQUEST__INIT;
	Ktstr__HandBack hbk = KTSTR__HAND_BACK__INIT;
	void *g = dealer(co.wep, "ghost");

	(void)state;
	ref.entry_id = 1;
	ref.attempt = 1;
	o.ref = &ref;
	o.worker_id = "ghost";
	o.status = "pass";
	m.body_case = KTSTR__FARM_MSG__BODY_OUTCOME;
	m.outcome = &o;
	send_msg(g, &m);
	assert_quiet(g); /* no OutcomeAck for a stranger */
	ar.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
	ar.length = 4096;
	m.body_case = KTSTR__FARM_MSG__BODY_ARTIFACT_REQ;
	m.artifact_req = &ar;
	send_msg(g, &m);
	assert_quiet(g);
	hbk.ref = &ref;
	m.body_case = KTSTR__FARM_MSG__BODY_HAND_BACK;
	m.hand_back = &hbk;
	send_msg(g, &m);
	assert_quiet(g);
	/* A heartbeat from a stranger: a HelloAck that asks for a hello (as
	 * after a coordinator restart, or once a worker was declared lost). */
	hb.worker_id = "ghost";
	m.body_case = KTSTR__FARM_MSG__BODY_HEARTBEAT;
	m.heartbeat = &hb;
	send_msg(g, &m);
	r = recv_msg(g, REPLY_MS);
	assert_non_null(r);
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_HELLO_ACK);
	assert_true(r->hello_ack->has_hello_needed && r->hello_ack->hello_needed);
	kt_farm_msg_free(r);
	sock_close(g);
	assert_serves();
	assert_true(log_has("outcome from unknown worker ghost dropped"));
	assert_int_equal(db_count("SELECT count(*) FROM results"), 0);
	assert_int_equal(db_count("SELECT count(*) FROM workers WHERE id = 'ghost'"), 0);
}

/* A worker that did say hello, with outcomes nobody asked it for. */
static void test_known_worker_bad_outcomes(void **state)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT, *r;
	Ktstr__WorkerHello h;
	Ktstr__EntryOutcome o = KTSTR__ENTRY_OUTCOME__INIT;
	Ktstr__EntryRef ref = KTSTR__ENTRY_REF__INIT;
	Ktstr__SubmitRequest sub = KTSTR__SUBMIT_REQUEST__INIT;
	void *w = dealer(co.wep, "w-known");

	(void)state;
	hello_msg(&m, &h, "w-known");
	send_msg(w, &m);
	r = recv_msg(w, REPLY_MS);
	assert_non_null(r);
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_HELLO_ACK);
	kt_farm_msg_free(r);
	/* No such entry: acked, so that the worker forgets it; not stored. */
	ktstr__farm_msg__init(&m);
	ref.entry_id = 777;
	ref.attempt = 3;
	o.ref = &ref;
	o.status = "pass";
	m.body_case = KTSTR__FARM_MSG__BODY_OUTCOME;
	m.outcome = &o;
	send_msg(w, &m);
	for (;;) {
		r = recv_msg(w, REPLY_MS);
		assert_non_null(r);
		if (r->body_case != KTSTR__FARM_MSG__BODY_HEARTBEAT)
			break;
		kt_farm_msg_free(r);
	}
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_OUTCOME_ACK);
	assert_int_equal(r->outcome_ack->ref->entry_id, 777);
	assert_int_equal(r->outcome_ack->ref->attempt, 3);
	kt_farm_msg_free(r);
	/* A status outside the ladder: dropped. */
	o.status = "splendid";
	send_msg(w, &m);
	/* A client's request on the worker socket: dropped. */
	sub.matrix_yaml = "name: x\n";
	m.body_case = KTSTR__FARM_MSG__BODY_SUBMIT;
	m.submit = &sub;
	send_msg(w, &m);
	for (uint64_t end = kt_now_ms() + QUIET_MS; kt_now_ms() < end;) {
		r = recv_msg(w, QUIET_MS);
		if (r && r->body_case != KTSTR__FARM_MSG__BODY_HEARTBEAT)
			fail_msg("unexpected %s", kt_farm_body_name(r->body_case));
		if (r)
			kt_farm_msg_free(r);
	}
	sock_close(w);
	assert_serves();
	assert_true(log_has("outcome without a valid ref or status dropped"));
	assert_true(log_has("unexpected submit dropped"));
	assert_int_equal(db_count("SELECT count(*) FROM results"), 0);
	assert_int_equal(db_count("SELECT count(*) FROM runs"), 0);
}

static void test_bad_hellos(void **state)
{
	static const char *const ids[] = {"", "tab\tbed", "bell\a"};
	char longid[400];
	Ktstr__FarmMsg m;
	Ktstr__WorkerHello h;

	(void)state;
	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = 0;
	for (size_t i = 0; i <= sizeof(ids) / sizeof(ids[0]); i++) {
		void *w = dealer(co.wep, NULL);

		hello_msg(&m, &h, i < sizeof(ids) / sizeof(ids[0]) ? ids[i] : longid);
		send_msg(w, &m);
		assert_quiet(w);
		sock_close(w);
	}
	assert_serves();
	assert_true(log_has("hello with an invalid worker id dropped"));
	assert_int_equal(db_count("SELECT count(*) FROM workers WHERE id NOT LIKE 'probe-%' "
				  "AND id != 'w-known'"),
			 0);
}

static void test_wrong_socket(void **state)
{
	Ktstr__FarmMsg m, *r;
	Ktstr__WorkerHello h;
	Ktstr__StatusRequest sr;
	void *c = dealer(co.cep, NULL), *w = dealer(co.wep, NULL);

	(void)state;
	/* A worker's hello on the client socket: an error reply. */
	hello_msg(&m, &h, "w-lost");
	send_msg(c, &m);
	r = recv_msg(c, REPLY_MS);
	assert_non_null(r);
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_ERROR);
	assert_non_null(strstr(r->error->message, "unexpected message"));
	kt_farm_msg_free(r);
	/* A client's request on the worker socket, never said hello: dropped. */
	status_msg(&m, &sr, 3);
	send_msg(w, &m);
	assert_quiet(w);
	sock_close(c);
	sock_close(w);
	assert_serves();
	assert_int_equal(db_count("SELECT count(*) FROM workers WHERE id = 'w-lost'"), 0);
}

/* SubmitRequest for YAML (named FILE): refused with an error containing
 * WANT; nothing is stored. */
static void submit_refused(const char *yaml, const char *file, const char *want)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT, *r;
	Ktstr__SubmitRequest sub = KTSTR__SUBMIT_REQUEST__INIT;
	void *c = dealer(co.cep, NULL);

	sub.matrix_yaml = (char *)yaml;
	sub.filename = (char *)file;
	m.body_case = KTSTR__FARM_MSG__BODY_SUBMIT;
	m.submit = &sub;
	send_msg(c, &m);
	r = recv_msg(c, REPLY_MS);
	assert_non_null(r);
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_SUBMIT_REPLY);
	assert_false(r->submit_reply->ok);
	assert_false(r->submit_reply->has_run_id);
	assert_non_null(r->submit_reply->error);
	if (!strstr(r->submit_reply->error, want))
		fail_msg("submit error '%s' does not contain '%s'", r->submit_reply->error, want);
	kt_farm_msg_free(r);
	sock_close(c);
}

/* A minimal bzImage (boot header, version string), as kt_bzimage_parse
 * wants it: enough for the coordinator to register and hash it. */
static void write_fake_kernel(const char *path)
{
	static uint8_t img[8192];
	struct kt_err e;

	for (size_t i = 2560; i < sizeof(img); i++)
		img[i] = (uint8_t)(i * 7);
	img[0x1f1] = 4; /* setup sectors: 2560 bytes of setup */
	img[0x1f4] = (uint8_t)((sizeof(img) - 2560) / 16);
	img[0x1f5] = (uint8_t)(((sizeof(img) - 2560) / 16) >> 8);
	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = 0x0f; /* boot protocol 2.15 */
	img[0x207] = 0x02;
	img[0x20e] = 0x00; /* version string at 0x200 + 0x300 */
	img[0x20f] = 0x03;
	img[0x211] = 1;    /* LOADED_HIGH */
	strcpy((char *)img + 0x500, "6.1.0-fake (test@coord-input) #1 SMP");
	assert_int_equal(kt_write_file(path, img, sizeof(img), &e), 0);
}

/* The next message on S that is not a heartbeat, within REPLY_MS. */
static Ktstr__FarmMsg *recv_not_hb(void *s)
{
	for (;;) {
		Ktstr__FarmMsg *r = recv_msg(s, REPLY_MS);

		if (!r || r->body_case != KTSTR__FARM_MSG__BODY_HEARTBEAT)
			return r;
		kt_farm_msg_free(r);
	}
}

/* Worker W reports attempt ATTEMPT of entry ENTRY with STATUS and must get
 * the OutcomeAck (whether the outcome counts or not). */
static void report(void *w, uint64_t entry, uint32_t attempt, const char *status)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT, *r;
	Ktstr__EntryOutcome o = KTSTR__ENTRY_OUTCOME__INIT;
	Ktstr__EntryRef ref = KTSTR__ENTRY_REF__INIT;

	ref.entry_id = entry;
	ref.attempt = attempt;
	o.ref = &ref;
	o.worker_id = "fake-a"; /* what it claims does not matter */
	o.status = (char *)status;
	o.message = "from a fake worker";
	m.body_case = KTSTR__FARM_MSG__BODY_OUTCOME;
	m.outcome = &o;
	send_msg(w, &m);
	r = recv_not_hb(w);
	assert_non_null(r);
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_OUTCOME_ACK);
	assert_int_equal(r->outcome_ack->ref->entry_id, entry);
	assert_int_equal(r->outcome_ack->ref->attempt, attempt);
	kt_farm_msg_free(r);
}

static void *fake_worker(const char *id, unsigned vcpus)
{
	Ktstr__FarmMsg m, *r;
	Ktstr__WorkerHello h;
	void *w = dealer(co.wep, id);

	hello_msg(&m, &h, id);
	h.vcpus = vcpus;
	h.draining = 0;
	h.has_memory_mb = 1;
	h.memory_mb = 4096;
	send_msg(w, &m);
	r = recv_not_hb(w);
	assert_non_null(r);
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_HELLO_ACK);
	kt_farm_msg_free(r);
	return w;
}

/* W takes no more work (a draining heartbeat), then goes. */
static void retire(void *w)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__Heartbeat hb = KTSTR__HEARTBEAT__INIT;

	hb.has_draining = 1;
	hb.draining = 1;
	m.body_case = KTSTR__FARM_MSG__BODY_HEARTBEAT;
	m.heartbeat = &hb;
	send_msg(w, &m);
	usleep(100000); /* delivered before the socket closes (linger 0) */
	sock_close(w);
}

/* Submit a one-entry matrix NAME on the synthetic kernel; its run id. */
static uint64_t submit_one(const char *name)
{
	char kernel[192], yaml[512];
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT, *r;
	Ktstr__SubmitRequest sub = KTSTR__SUBMIT_REQUEST__INIT;
	void *c = dealer(co.cep, NULL);
	uint64_t run;

	snprintf(kernel, sizeof(kernel), "%s/vmlinuz-fake", co.dir);
	if (access(kernel, F_OK))
		write_fake_kernel(kernel);
	snprintf(yaml, sizeof(yaml),
		 "name: %s\nkernels: [%s]\ntopologies: [1n1l2c1t]\n"
		 "tests:\n  - {scenario: steady, duration: 1s}\n", name, kernel);
	sub.matrix_yaml = yaml;
	sub.filename = "fake.yaml";
	m.body_case = KTSTR__FARM_MSG__BODY_SUBMIT;
	m.submit = &sub;
	send_msg(c, &m);
	r = recv_msg(c, REPLY_MS);
	assert_non_null(r);
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_SUBMIT_REPLY);
	if (!r->submit_reply->ok)
		fail_msg("submit refused: %s", r->submit_reply->error);
	assert_int_equal(r->submit_reply->entries, 1);
	run = r->submit_reply->run_id;
	kt_farm_msg_free(r);
	sock_close(c);
	return run;
}

static void test_fake_workers(void **state)
{
	char q[128];
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT, *r;
	Ktstr__StatusRequest sr;
	void *c = dealer(co.cep, NULL), *a, *b;
	uint64_t run, entry;

	(void)state;
	run = submit_one("fake");
	/* A takes the entry; B has no room for it. */
	a = fake_worker("fake-a", 2);
	r = recv_not_hb(a);
	assert_non_null(r);
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_ASSIGN);
	assert_int_equal(r->assign->ref->attempt, 1);
	assert_string_equal(r->assign->topology, "1n1l2c1t");
	entry = r->assign->ref->entry_id;
	kt_farm_msg_free(r);
	b = fake_worker("fake-b", 1);
	/* B reports A's attempt; A an attempt never handed out: acked, not
	 * stored, the entry still runs. */
	report(b, entry, 1, "fail");
	report(a, entry, 2, "fail");
	report(a, entry, 0, "fail");
	assert_int_equal(db_count("SELECT count(*) FROM results"), 0);
	snprintf(q, sizeof(q), "SELECT count(*) FROM entries WHERE id = %llu AND state = 'running'",
		 (unsigned long long)entry);
	assert_int_equal(db_count(q), 1);
	/* A's own outcome counts, once, under A's name; resends and B's
	 * late copy change nothing. */
	report(a, entry, 1, "pass");
	report(a, entry, 1, "pass");
	report(b, entry, 1, "fail");
	assert_int_equal(db_count("SELECT count(*) FROM results WHERE worker_id = 'fake-a' "
				  "AND status = 'pass' AND attempt = 1"),
			 1);
	assert_int_equal(db_count("SELECT count(*) FROM results"), 1);
	snprintf(q, sizeof(q), "SELECT count(*) FROM entries WHERE id = %llu AND state = 'done' "
		 "AND final_status = 'pass'", (unsigned long long)entry);
	assert_int_equal(db_count(q), 1);
	status_msg(&m, &sr, run);
	send_msg(c, &m);
	r = recv_msg(c, REPLY_MS);
	assert_non_null(r);
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_STATUS_REPLY);
	assert_string_equal(r->status_reply->state, "done");
	assert_int_equal(r->status_reply->pass, 1);
	assert_int_equal(r->status_reply->total, 1);
	kt_farm_msg_free(r);
	assert_true(log_has("worker fake-b: outcome of entry"));
	retire(a);
	retire(b);
	sock_close(c);
	assert_serves();
}

/* A worker that hands an assignment back (no room, whatever the
 * coordinator counted) is not given it again at once, in a loop. */
static void test_hand_back(void **state)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT, *r;
	Ktstr__HandBack hb = KTSTR__HAND_BACK__INIT;
	Ktstr__EntryRef ref = KTSTR__ENTRY_REF__INIT;
	void *w;
	uint64_t t0, entry;

	(void)state;
	submit_one("handback");
	w = fake_worker("fake-c", 2);
	r = recv_not_hb(w);
	assert_non_null(r);
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_ASSIGN);
	entry = r->assign->ref->entry_id;
	ref.entry_id = entry;
	ref.attempt = r->assign->ref->attempt;
	kt_farm_msg_free(r);
	hb.ref = &ref;
	hb.reason = "does not fit";
	m.body_case = KTSTR__FARM_MSG__BODY_HAND_BACK;
	m.hand_back = &hb;
	send_msg(w, &m);
	t0 = kt_now_ms();
	r = recv_not_hb(w);
	assert_non_null(r);
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_ASSIGN);
	assert_int_equal(r->assign->ref->entry_id, entry);
	assert_int_equal(r->assign->ref->attempt, ref.attempt + 1);
	if (kt_now_ms() - t0 < 500)
		fail_msg("assigned again %llu ms after the hand back",
			 (unsigned long long)(kt_now_ms() - t0));
	report(w, entry, r->assign->ref->attempt, "pass");
	kt_farm_msg_free(r);
	retire(w);
	assert_serves();
}

/* A heartbeat from W listing nothing as running. */
static void beat_empty(void *w)
{
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__Heartbeat hb = KTSTR__HEARTBEAT__INIT;

	m.body_case = KTSTR__FARM_MSG__BODY_HEARTBEAT;
	m.heartbeat = &hb;
	send_msg(w, &m);
}

/* An Assignment lost on the way: the worker's heartbeats do not list the
 * attempt, so the coordinator sends it again (same attempt, no new one). */
static void test_lost_assignment(void **state)
{
	Ktstr__FarmMsg *r;
	uint64_t entry, deadline;
	void *w;
	bool again = false;

	(void)state;
	submit_one("lost-assign");
	w = fake_worker("lost-a", 2);
	r = recv_not_hb(w);
	assert_non_null(r);
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_ASSIGN);
	entry = r->assign->ref->entry_id;
	kt_farm_msg_free(r);
	deadline = kt_now_ms() + 4 * KT_FARM_LOST_BEATS * KT_FARM_HEARTBEAT_MS;
	while (!again && kt_now_ms() < deadline) {
		beat_empty(w);
		r = recv_msg(w, KT_FARM_HEARTBEAT_MS / 2);
		if (!r)
			continue;
		if (r->body_case == KTSTR__FARM_MSG__BODY_ASSIGN) {
			assert_int_equal(r->assign->ref->entry_id, entry);
			assert_int_equal(r->assign->ref->attempt, 1);
			again = true;
		}
		kt_farm_msg_free(r);
	}
	assert_true(again);
	assert_true(log_has("assignment sent again"));
	report(w, entry, 1, "pass");
	retire(w);
	assert_serves();
}

/* An entry no connected worker could ever take (2 vCPUs, the only
 * worker's budget is 1) ends infra with the reason, not queued forever. */
static void test_unplaceable(void **state)
{
	char q[256];
	uint64_t run, deadline;
	void *w;

	(void)state;
	w = fake_worker("too-small", 1);
	run = submit_one("unplaceable");
	snprintf(q, sizeof(q), "SELECT count(*) FROM entries WHERE run_id = %llu AND state = 'done' "
		 "AND final_status = 'infra' AND final_message LIKE 'no connected worker can run it%%'",
		 (unsigned long long)run);
	deadline = kt_now_ms() + 4 * (KT_FARM_LOST_BEATS + 2) * KT_FARM_HEARTBEAT_MS;
	while (db_count(q) != 1 && kt_now_ms() < deadline) {
		beat_empty(w);
		usleep(200000);
	}
	assert_int_equal(db_count(q), 1);
	retire(w);
	assert_serves();
}

/* A scheduler given by binary: the bytes travel with the submission and
 * become an artifact; the Assignment carries it with the args, expect_err,
 * sysctls and kernel args. A binary that was not sent, or is not ELF, is
 * refused. */
static void test_scheduler_assignment(void **state)
{
	static const uint8_t elf[] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 'x', 'y' };
	char kernel[192], yaml[1024], want[65];
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT, *r;
	Ktstr__SubmitRequest sub = KTSTR__SUBMIT_REQUEST__INIT;
	Ktstr__NamedFile nf = KTSTR__NAMED_FILE__INIT, *files[1] = { &nf };
	const Ktstr__Assignment *a;
	struct kt_sha256 h;
	uint8_t d[32];
	void *c = dealer(co.cep, NULL), *w;

	(void)state;
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz-fake", co.dir);
	if (access(kernel, F_OK))
		write_fake_kernel(kernel);
	snprintf(yaml, sizeof(yaml),
		 "name: schedbin\nkernels: [%s]\ntopologies: [1n1l2c1t]\n"
		 "schedulers:\n"
		 "  - name: scx_mine\n"
		 "    binary: bin/scx_mine\n"
		 "    args: [--fast]\n"
		 "    sysctls: {kernel.sched_rt_runtime_us: 950000}\n"
		 "    kernel_args: [nokaslr]\n"
		 "tests:\n  - {scenario: steady, duration: 1s, expect_err: true}\n", kernel);
	submit_refused(yaml, "s.yaml", "s.yaml: scheduler binary 'bin/scx_mine' was not sent");
	nf.name = "bin/scx_mine";
	nf.data.data = (uint8_t *)"#!/bin/sh\n";
	nf.data.len = 10;
	sub.matrix_yaml = yaml;
	sub.filename = "s.yaml";
	sub.files = files;
	sub.n_files = 1;
	m.body_case = KTSTR__FARM_MSG__BODY_SUBMIT;
	m.submit = &sub;
	send_msg(c, &m);
	r = recv_msg(c, REPLY_MS);
	assert_non_null(r);
	assert_false(r->submit_reply->ok);
	assert_non_null(strstr(r->submit_reply->error, "'bin/scx_mine' is not an ELF file"));
	kt_farm_msg_free(r);
	nf.data.data = (uint8_t *)elf;
	nf.data.len = sizeof(elf);
	send_msg(c, &m);
	r = recv_msg(c, REPLY_MS);
	assert_non_null(r);
	if (!r->submit_reply->ok)
		fail_msg("submit refused: %s", r->submit_reply->error);
	kt_farm_msg_free(r);
	w = fake_worker("fake-s", 2);
	r = recv_not_hb(w);
	assert_non_null(r);
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_ASSIGN);
	a = r->assign;
	assert_non_null(strstr(a->name, "/scx_mine:default/"));
	assert_non_null(a->scheduler);
	assert_string_equal(a->scheduler->name, "scx_mine");
	assert_int_equal(a->scheduler->n_args, 1);
	assert_string_equal(a->scheduler->args[0], "--fast");
	assert_non_null(a->scheduler->binary);
	kt_sha256_init(&h);
	kt_sha256_update(&h, elf, sizeof(elf));
	kt_sha256_final(&h, d);
	kt_sha256_hex(d, want);
	assert_string_equal(a->scheduler->binary->sha256, want);
	assert_int_equal(a->scheduler->binary->size, sizeof(elf));
	assert_string_equal(a->scheduler->binary->kind, "binary");
	assert_true(a->has_expect_err && a->expect_err);
	assert_int_equal(a->n_sysctls, 1);
	assert_string_equal(a->sysctls[0], "kernel.sched_rt_runtime_us=950000");
	assert_int_equal(a->n_kernel_args, 1);
	assert_string_equal(a->kernel_args[0], "nokaslr");
	report(w, a->ref->entry_id, a->ref->attempt, "pass");
	kt_farm_msg_free(r);
	snprintf(yaml, sizeof(yaml), "SELECT count(*) FROM artifacts WHERE kind = 'binary' AND "
		 "sha256 = '%s' AND size = %zu", want, sizeof(elf));
	assert_int_equal(db_count(yaml), 1);
	retire(w);
	sock_close(c);
	assert_serves();
}

/* SubmitRequest M (its reply checked): accepted, or refused with WANT. */
static void submit_expect(void *c, Ktstr__FarmMsg *m, const char *want)
{
	Ktstr__FarmMsg *r;

	send_msg(c, m);
	r = recv_msg(c, REPLY_MS);
	assert_non_null(r);
	assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_SUBMIT_REPLY);
	if (!want && !r->submit_reply->ok)
		fail_msg("submit refused: %s", r->submit_reply->error);
	if (want && (r->submit_reply->ok || !strstr(r->submit_reply->error, want)))
		fail_msg("submit %s, expected refused with '%s'",
			 r->submit_reply->ok ? "accepted" : r->submit_reply->error, want);
	kt_farm_msg_free(r);
}

/* Payload binaries: a scenario file's run_payload path travels as a file
 * named by that path; the coordinator stores it as a binary artifact and
 * every entry of that scenario carries it in Assignment.payloads (name =
 * the path as written), an entry of a scenario without payloads none. A
 * payload that was not sent, or is not ELF, is refused naming the
 * scenario and the path. */
static void test_payload_assignment(void **state)
{
	static const uint8_t elf[] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 'p', 'l' };
	static const char scen[] =
		"name: pay\n"
		"steps:\n"
		"  - ops:\n"
		"      - {run_payload: {name: b, path: /opt/pay/bench, args: [-q],\n"
		"                       metrics: [{path: ops, min: 1}]}}\n"
		"      - {wait_payload: {name: b, timeout_ms: 1000}}\n"
		"    cgroups: [{name: cg_0, workers: 2}]\n";
	char kernel[192], yaml[1024], want[65], q[256];
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__SubmitRequest sub = KTSTR__SUBMIT_REQUEST__INIT;
	Ktstr__NamedFile sf = KTSTR__NAMED_FILE__INIT, pf = KTSTR__NAMED_FILE__INIT;
	Ktstr__NamedFile *files[2] = { &sf, &pf };
	struct kt_sha256 h;
	uint8_t d[32];
	bool seen_pay = false, seen_steady = false;
	void *c = dealer(co.cep, NULL), *w;

	(void)state;
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz-fake", co.dir);
	if (access(kernel, F_OK))
		write_fake_kernel(kernel);
	snprintf(yaml, sizeof(yaml),
		 "name: payloads\nkernels: [%s]\ntopologies: [1n1l2c1t]\n"
		 "tests:\n  - {scenario: sc/pay.yaml, duration: 1s}\n"
		 "  - {scenario: steady, duration: 1s}\n", kernel);
	sf.name = "sc/pay.yaml";
	sf.data.data = (uint8_t *)scen;
	sf.data.len = strlen(scen);
	pf.name = "/opt/pay/bench";
	pf.data.data = (uint8_t *)"#!/bin/sh\n";
	pf.data.len = 10;
	sub.matrix_yaml = yaml;
	sub.filename = "p.yaml";
	sub.files = files;
	sub.n_files = 1;
	m.body_case = KTSTR__FARM_MSG__BODY_SUBMIT;
	m.submit = &sub;
	submit_expect(c, &m, "p.yaml: scenario 'sc/pay.yaml' runs payload '/opt/pay/bench', "
		      "which was not sent with the matrix");
	sub.n_files = 2;
	submit_expect(c, &m, "p.yaml: scenario 'sc/pay.yaml': payload '/opt/pay/bench' is not an "
		      "ELF file");
	assert_int_equal(db_count("SELECT count(*) FROM runs WHERE name = 'payloads'"), 0);
	pf.data.data = (uint8_t *)elf;
	pf.data.len = sizeof(elf);
	submit_expect(c, &m, NULL);
	kt_sha256_init(&h);
	kt_sha256_update(&h, elf, sizeof(elf));
	kt_sha256_final(&h, d);
	kt_sha256_hex(d, want);
	snprintf(q, sizeof(q), "SELECT count(*) FROM artifacts WHERE kind = 'binary' AND "
		 "sha256 = '%s' AND size = %zu AND name = '/opt/pay/bench'", want, sizeof(elf));
	assert_int_equal(db_count(q), 1);
	/* One 2-vCPU worker: the two entries one after the other. */
	w = fake_worker("fake-p", 2);
	for (int i = 0; i < 2; i++) {
		Ktstr__FarmMsg *r = recv_not_hb(w);
		const Ktstr__Assignment *a;

		assert_non_null(r);
		assert_int_equal(r->body_case, KTSTR__FARM_MSG__BODY_ASSIGN);
		a = r->assign;
		if (!strcmp(a->scenario->name, "sc/pay.yaml")) {
			assert_int_equal(a->n_payloads, 1);
			assert_string_equal(a->payloads[0]->name, "/opt/pay/bench");
			assert_string_equal(a->payloads[0]->sha256, want);
			assert_true(a->payloads[0]->has_size);
			assert_int_equal(a->payloads[0]->size, sizeof(elf));
			assert_string_equal(a->payloads[0]->kind, "binary");
			seen_pay = true;
		} else {
			assert_string_equal(a->scenario->name, "steady");
			assert_int_equal(a->n_payloads, 0);
			seen_steady = true;
		}
		report(w, a->ref->entry_id, a->ref->attempt, "pass");
		kt_farm_msg_free(r);
	}
	assert_true(seen_pay && seen_steady);
	retire(w);
	sock_close(c);
	assert_serves();
}

static void test_invalid_matrix(void **state)
{
	size_t big = (1u << 20) + 1024;
	char *huge = malloc(big + 1);

	(void)state;
	assert_non_null(huge);
	submit_refused("name: bad\n"
		       "kernels: [debian:sid]\n"
		       "topologies: [1n1l2c9x]\n"
		       "tests:\n"
		       "  - {scenario: steady}\n",
		       "matrix.yaml", "matrix.yaml:3:");
	/* No filename: the coordinator names it matrix.yaml. */
	submit_refused("name: bad\n"
		       "kernels: [debian:sid]\n"
		       "topologies: [1n1l2c1t]\n"
		       "tests:\n"
		       "  - {scenario: steady, colour: blue}\n",
		       NULL, "matrix.yaml:5:");
	submit_refused("name: bad\nkernels: [debian:sid\n", "nightly.yaml", "nightly.yaml:");
	/* Valid, but names a scenario file that did not come with it. */
	submit_refused("name: files\n"
		       "kernels: [debian:sid]\n"
		       "topologies: [1n1l2c1t]\n"
		       "tests:\n"
		       "  - {scenario: ./mine.yaml}\n",
		       "m.yaml", "m.yaml: scenario file './mine.yaml' was not sent");
	/* More text than a matrix may have. */
	memcpy(huge, "name: big\n", 10);
	memset(huge + 10, '#', big - 10);
	huge[big] = 0;
	for (size_t i = 100; i < big; i += 100)
		huge[i] = '\n';
	submit_refused(huge, "big.yaml", "big.yaml");
	free(huge);
	assert_serves();
	assert_int_equal(db_count("SELECT count(*) FROM runs"), 0);
	assert_int_equal(db_count("SELECT count(*) FROM entries"), 0);
	assert_int_equal(db_count("SELECT count(*) FROM attempts"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serves),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_wrong_version),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_unknown_worker),
		cmocka_unit_test(test_known_worker_bad_outcomes),
		cmocka_unit_test(test_bad_hellos),
		cmocka_unit_test(test_wrong_socket),
		cmocka_unit_test(test_invalid_matrix),
		cmocka_unit_test(test_fake_workers),
		cmocka_unit_test(test_hand_back),
		cmocka_unit_test(test_lost_assignment),
		cmocka_unit_test(test_unplaceable),
		cmocka_unit_test(test_scheduler_assignment),
		cmocka_unit_test(test_payload_assignment),
		cmocka_unit_test(test_serves),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, start, stop);
}
