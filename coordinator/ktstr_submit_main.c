/* ktstr-submit: hand a matrix to the coordinator, follow it, report it. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include "farm_msg.h"
#include "matrix.h"
#include "scenario.h"
#include "strv.h"
#include "util.h"

#define SUBMIT_TIMEOUT_MS 600000 /* the coordinator may download kernels first */
#define REQUEST_TIMEOUT_MS 15000
#define WATCH_TIMEOUT_MS 5000    /* a watch is answered at once; silence: resend */
#define WATCH_INTERVAL_MS 500
#define RECONNECT_DEFAULT_S 300  /* --wait outlives a coordinator restart this long */

struct client {
	void *ctx, *sock;
	const char *ep;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ktstr-submit [--coordinator EP] MATRIX [--wait] [--junit FILE]\n"
		   "                    [--reconnect-timeout S]\n"
		   "       ktstr-submit [--coordinator EP] status RUN\n"
		   "       ktstr-submit [--coordinator EP] cancel RUN\n"
		   "  EP defaults to %s. The run id is printed first.\n"
		   "  --wait follows the run to its end; when the coordinator stops answering\n"
		   "  (a restart) it keeps asking for up to S seconds (default %d, 0: give up).\n"
		   "  Exit: 0 all passed (or skipped), 1 a failure, 2 an error, infra or cancel.\n",
		   KT_FARM_CLIENTS_EP, RECONNECT_DEFAULT_S);
}

/* Replies that arrived after their request gave up: not the next one's. */
static void drop_late_replies(struct client *cl)
{
	struct kt_farm_peer p;
	Ktstr__FarmMsg *r;
	struct kt_err err;

	while (kt_farm_recv(cl->sock, ZMQ_DONTWAIT, &p, &r, &err) != 0)
		if (r)
			kt_farm_msg_free(r);
}

/* Send M and wait for the answer into *REPLY (NULL on error). *LOST (may
 * be NULL) tells a coordinator that did not take the request or did not
 * answer in time (gone, restarting) from one that answered an error. */
static int request(struct client *cl, Ktstr__FarmMsg *m, int timeout_ms, Ktstr__FarmMsg **reply,
		   bool *lost, struct kt_err *err)
{
	zmq_pollitem_t it = {cl->sock, 0, ZMQ_POLLIN, 0};
	uint64_t deadline = kt_now_ms() + (uint64_t)timeout_ms;
	bool dummy;

	*reply = NULL;
	if (!lost)
		lost = &dummy;
	*lost = true;
	drop_late_replies(cl);
	/* ZMQ_IMMEDIATE: no peer yet means EAGAIN; the connection may still
	 * be coming up, so retry until the deadline. */
	while (kt_farm_send(cl->sock, NULL, 0, m, err)) {
		if (errno != EAGAIN || kt_now_ms() >= deadline)
			return kt_err_prefix(err, "coordinator at %s", cl->ep);
		usleep(20000);
	}
	for (;;) {
		uint64_t now = kt_now_ms();
		struct kt_farm_peer p;
		int r;

		if (now >= deadline)
			return kt_errf(err, "no answer from the coordinator at %s within %d s", cl->ep,
				       timeout_ms / 1000);
		if (zmq_poll(&it, 1, (long)(deadline - now)) < 0 && errno != EINTR)
			return kt_errf(err, "zmq_poll: %s", zmq_strerror(errno));
		if (!(it.revents & ZMQ_POLLIN))
			continue;
		r = kt_farm_recv(cl->sock, ZMQ_DONTWAIT, &p, reply, err);
		if (r == 0)
			continue;
		*lost = false;
		if (r < 0)
			return kt_err_prefix(err, "reply from %s", cl->ep);
		if ((*reply)->body_case == KTSTR__FARM_MSG__BODY_ERROR) {
			kt_errf(err, "coordinator: %s", (*reply)->error->message);
			kt_farm_msg_free(*reply);
			*reply = NULL;
			return -1;
		}
		return 0;
	}
}

/* What one submission may carry in scheduler and payload binaries: the
 * farm's message limit less room for the matrix and scenario files. */
#define MAX_BINARIES_BYTES (KT_FARM_MAX_MSG - (2u << 20))

/* File NAME as written in the matrix at PATH (relative = to DIR) into NF. */
static int read_named(const char *dir, const char *name, size_t max, Ktstr__NamedFile *nf,
		      struct kt_err *err)
{
	char fpath[PATH_MAX * 2];
	char *data;
	size_t dlen;

	snprintf(fpath, sizeof(fpath), "%s%s%s", name[0] == '/' ? "" : dir,
		 name[0] == '/' ? "" : "/", name);
	if (kt_read_file(fpath, max, &data, &dlen, err))
		return -1;
	nf->name = kt_xstrdup(name);
	nf->data.data = (uint8_t *)data;
	nf->data.len = dlen;
	return 0;
}

/* The payload binaries of scenario file NF into PAY (OWNER: which
 * scenario runs each), each once and none that is already sent as
 * something else (SENT). */
static int file_payloads(const Ktstr__NamedFile *nf, const struct kt_strv *sent,
			 struct kt_strv *pay, struct kt_strv *owner, struct kt_err *err)
{
	struct kt_scenario *sc;

	if (kt_scenario_parse((const char *)nf->data.data, nf->data.len, nf->name, &sc, err))
		return -1;
	for (const char *const *b = kt_scenario_payload_bins(sc); *b; b++)
		if (!kt_strv_has(sent, *b) && !kt_strv_has(pay, *b)) {
			kt_strv_add(pay, *b);
			kt_strv_addf(owner, "scenario '%s'", nf->name);
		}
	kt_scenario_free(sc);
	return 0;
}

/* The matrix, every scenario file and scheduler binary it names (relative
 * to its directory), and every payload binary those scenarios and its
 * catalog scenarios run (absolute host paths, as the scenarios write
 * them). */
static int build_submit(const char *path, Ktstr__SubmitRequest *rq, Ktstr__NamedFile ***files,
			struct kt_err *err)
{
	char *yaml, dir[PATH_MAX], copy[PATH_MAX];
	size_t len, nsc, bin_bytes = 0;
	struct kt_matrix *mx;
	struct kt_strv names, pay, owner;
	int rc = -1;

	if (kt_read_file(path, KT_MATRIX_MAX_BYTES, &yaml, &len, err))
		return -1;
	/* Local validation gives the line-numbered error without a round trip. */
	if (kt_matrix_parse(yaml, len, path, &mx, err)) {
		free(yaml);
		return -1;
	}
	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(dir, sizeof(dir), "%s", dirname(copy));
	rq->matrix_yaml = yaml;
	rq->filename = (char *)path;
	kt_strv_init(&names);
	kt_strv_init(&pay);
	kt_strv_init(&owner);
	nsc = kt_matrix_n_files(mx);
	for (size_t i = 0; i < nsc; i++)
		kt_strv_add(&names, kt_matrix_file(mx, i));
	for (size_t i = 0; i < kt_matrix_n_binaries(mx); i++)
		if (!kt_strv_has(&names, kt_matrix_binary(mx, i)))
			kt_strv_add(&names, kt_matrix_binary(mx, i));
	for (size_t i = 0; i < kt_matrix_n_payloads(mx); i++)
		if (!kt_strv_has(&names, kt_matrix_payload(mx, i))) {
			kt_strv_add(&pay, kt_matrix_payload(mx, i));
			kt_strv_add(&owner, "a catalog scenario");
		}
	/* Room for every payload a scenario may run. */
	*files = kt_xcalloc(names.n + pay.n + nsc * KT_SPEC_MAX_PAYLOADS + 1, sizeof(**files));
	rq->files = *files;
	for (size_t i = 0; i < names.n + pay.n; i++) {
		bool scn = i < nsc;
		const char *name = i < names.n ? names.v[i] : pay.v[i - names.n];
		Ktstr__NamedFile *nf = kt_xcalloc(1, sizeof(*nf));

		ktstr__named_file__init(nf);
		(*files)[i] = nf;
		rq->n_files = i + 1;
		if (read_named(dir, name, scn ? 1u << 20 : MAX_BINARIES_BYTES, nf, err)) {
			if (i < names.n)
				kt_err_prefix(err, "%s of %s", scn ? "scenario file" :
					      "scheduler binary", path);
			else
				kt_err_prefix(err, "%s: payload binary of %s", path,
					      owner.v[i - names.n]);
			goto out;
		}
		/* A scenario file's payloads follow the catalog's in PAY. */
		if (scn && file_payloads(nf, &names, &pay, &owner, err))
			goto out;
		if (!scn && (bin_bytes += nf->data.len) > MAX_BINARIES_BYTES) {
			kt_errf(err, "%s: the scheduler and payload binaries come to more than %u "
				"bytes, more than one submission carries", path, MAX_BINARIES_BYTES);
			goto out;
		}
	}
	rc = 0;
out:
	kt_strv_free(&names);
	kt_strv_free(&pay);
	kt_strv_free(&owner);
	kt_matrix_free(mx);
	return rc;
}

static void free_submit(Ktstr__SubmitRequest *rq, Ktstr__NamedFile **files)
{
	for (size_t i = 0; i < rq->n_files; i++)
		if (files[i]) {
			free(files[i]->name);
			free(files[i]->data.data);
			free(files[i]);
		}
	free(files);
	free(rq->matrix_yaml);
}

/* ---- following a run ---- */

struct brief {
	char *name, *status, *message;
	unsigned attempts;
};

struct follow {
	struct brief *b;
	size_t n;
	uint64_t seq;
	bool tty;
};

static void fmt_ms(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;

	snprintf(buf, len, "%llu:%02llu", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
}

static unsigned done_of(const Ktstr__StatusReply *s)
{
	return s->pass + s->fail + s->error + s->infra + s->skip + s->cancelled;
}

static void progress(const struct follow *f, const Ktstr__StatusReply *s)
{
	char el[32], eta[32] = "?";
	unsigned done = done_of(s), width = 30, fill = s->total ? done * width / s->total : width;

	fmt_ms(s->elapsed_ms, el, sizeof(el));
	if (s->has_eta_ms)
		fmt_ms(s->eta_ms, eta, sizeof(eta));
	if (f->tty) {
		char bar[64];

		for (unsigned i = 0; i < width; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[width] = 0;
		fprintf(stderr, "\r[%s] %u/%u  pass %u fail %u error %u infra %u  running %u  %s ETA %s ",
			bar, done, s->total, s->pass, s->fail, s->error, s->infra, s->running, el, eta);
	} else {
		fprintf(stderr, "progress %u/%u pass %u fail %u error %u infra %u skip %u running %u "
				"elapsed %s eta %s\n",
			done, s->total, s->pass, s->fail, s->error, s->infra, s->skip, s->running, el,
			eta);
	}
}

static void take_briefs(struct follow *f, const Ktstr__StatusReply *s)
{
	for (size_t i = 0; i < s->n_finished; i++) {
		const Ktstr__EntryBrief *e = s->finished[i];
		struct brief *b;

		/* A late reply to a resent watch repeats what we have. */
		if (e->has_seq && e->seq <= f->seq)
			continue;
		if (e->has_seq)
			f->seq = e->seq;
		f->b = kt_xrealloc(f->b, (f->n + 1) * sizeof(*f->b));
		b = &f->b[f->n++];
		b->name = kt_xstrdup(e->name);
		b->status = kt_xstrdup(e->status);
		b->message = kt_xstrdup(e->message ? e->message : "");
		b->attempts = e->attempts;
		if (f->tty)
			fputs("\r\033[K", stderr);
		printf("%-5s %s%s%s\n", b->status, b->name, *b->message ? "  " : "", b->message);
		fflush(stdout);
	}
}

/* N bytes of S (up to a NUL) as XML text. */
static void xml_escaped_n(FILE *o, const char *s, size_t n)
{
	for (; n-- && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		switch (ch) {
		case '<': fputs("&lt;", o); break;
		case '>': fputs("&gt;", o); break;
		case '&': fputs("&amp;", o); break;
		case '"': fputs("&quot;", o); break;
		default:
			/* XML 1.0 has no way to carry other control characters. */
			if (ch < 0x20 && ch != '\n' && ch != '\t')
				fputc('?', o);
			else
				fputc(ch, o);
		}
	}
}

static void xml_escaped(FILE *o, const char *s)
{
	xml_escaped_n(o, s, (size_t)-1);
}

/* JUnit XML: one testcase per entry; classname = test/topology. */
static int write_junit(const char *path, const struct follow *f, const Ktstr__StatusReply *s,
		       struct kt_err *err)
{
	FILE *o = fopen(path, "w");

	if (!o)
		return kt_errf(err, "%s: %s", path, strerror(errno));
	fprintf(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
	fprintf(o, "  <testsuite name=\"");
	xml_escaped(o, s->name ? s->name : "ktstr");
	fprintf(o, "\" tests=\"%zu\" failures=\"%u\" errors=\"%u\" skipped=\"%u\" time=\"%.3f\">\n",
		f->n, s->fail, s->error + s->infra + s->cancelled, s->skip, s->elapsed_ms / 1000.0);
	for (size_t i = 0; i < f->n; i++) {
		const struct brief *b = &f->b[i];
		const char *slash = strchr(b->name, '/');
		const char *second = slash ? strchr(slash + 1, '/') : NULL;
		size_t cls = second ? (size_t)(second - b->name) : strlen(b->name);

		fprintf(o, "    <testcase classname=\"");
		xml_escaped_n(o, b->name, cls);
		fprintf(o, "\" name=\"");
		xml_escaped(o, second ? second + 1 : b->name);
		fprintf(o, "\">");
		if (strcmp(b->status, "pass") != 0) {
			const char *tag = strcmp(b->status, "fail") == 0   ? "failure"
					  : strcmp(b->status, "skip") == 0 ? "skipped"
									   : "error";

			fprintf(o, "\n      <%s type=\"%s\" message=\"", tag, b->status);
			xml_escaped(o, b->message);
			fprintf(o, "\">");
			xml_escaped(o, b->status);
			fprintf(o, ": ");
			xml_escaped(o, b->message);
			fprintf(o, " (attempts: %u)</%s>\n    ", b->attempts, tag);
		}
		fprintf(o, "</testcase>\n");
	}
	fprintf(o, "  </testsuite>\n</testsuites>\n");
	if (fclose(o))
		return kt_errf(err, "%s: write error", path);
	return 0;
}

static int exit_code(const Ktstr__StatusReply *s)
{
	if (s->error || s->infra || s->cancelled)
		return 2;
	return s->fail ? 1 : 0;
}

/* Watch run RUN_ID to its end. A coordinator that stops answering is
 * asked again until RECONNECT_S seconds have passed since its last answer:
 * a restarted one resumes the run from its database, and the watch, keyed
 * by finish sequence, picks up where it was. */
static int follow_run(struct client *cl, uint64_t run_id, const char *junit, unsigned reconnect_s,
		      struct kt_err *err)
{
	struct follow f = {.tty = isatty(2)};
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT;
	Ktstr__WatchRequest w = KTSTR__WATCH_REQUEST__INIT;
	unsigned last_done = ~0u;
	uint64_t last_answer = kt_now_ms();
	bool silent = false;
	int rc = -1;

	m.body_case = KTSTR__FARM_MSG__BODY_WATCH;
	m.watch = &w;
	w.run_id = run_id;
	w.has_after_seq = 1;
	for (;;) {
		Ktstr__FarmMsg *r;
		Ktstr__StatusReply *s;
		bool over, lost, idle;

		w.after_seq = f.seq;
		if (request(cl, &m, WATCH_TIMEOUT_MS, &r, &lost, err)) {
			uint64_t quiet = kt_now_ms() - last_answer;

			if (!lost)
				break;
			if (quiet >= (uint64_t)reconnect_s * 1000) {
				kt_errf(err, "coordinator at %s: no answer for %llu s, giving up", cl->ep,
					(unsigned long long)(quiet / 1000));
				break;
			}
			if (!silent) {
				if (f.tty)
					fputc('\n', stderr);
				fprintf(stderr, "ktstr-submit: %s; asking again for up to %u s\n", err->msg,
					reconnect_s);
				silent = true;
			}
			usleep(WATCH_INTERVAL_MS * 1000);
			continue;
		}
		if (silent)
			fprintf(stderr, "ktstr-submit: the coordinator at %s answers again\n", cl->ep);
		silent = false;
		last_answer = kt_now_ms();
		if (r->body_case != KTSTR__FARM_MSG__BODY_STATUS_REPLY) {
			kt_errf(err, "unexpected %s from the coordinator", kt_farm_body_name(r->body_case));
			kt_farm_msg_free(r);
			break;
		}
		s = r->status_reply;
		take_briefs(&f, s);
		over = s->state && (strcmp(s->state, "done") == 0 || strcmp(s->state, "cancelled") == 0);
		if (f.tty || done_of(s) != last_done || over)
			progress(&f, s);
		last_done = done_of(s);
		/* More briefs may be waiting behind a full reply. */
		if (over && s->n_finished == 0) {
			if (f.tty)
				fputc('\n', stderr);
			printf("run %llu %s: %u entries, pass %u, fail %u, error %u, infra %u, skip %u, "
			       "cancelled %u\n",
			       (unsigned long long)run_id, s->state, s->total, s->pass, s->fail, s->error,
			       s->infra, s->skip, s->cancelled);
			rc = junit && write_junit(junit, &f, s, err) ? -1 : exit_code(s);
			kt_farm_msg_free(r);
			break;
		}
		idle = !over && s->n_finished == 0;
		kt_farm_msg_free(r); /* S with it */
		if (idle)
			usleep(WATCH_INTERVAL_MS * 1000);
	}
	for (size_t i = 0; i < f.n; i++) {
		free(f.b[i].name);
		free(f.b[i].status);
		free(f.b[i].message);
	}
	free(f.b);
	return rc;
}

static int parse_run(const char *s, uint64_t *id, struct kt_err *err)
{
	char *end;

	errno = 0;
	*id = strtoull(s, &end, 10);
	if (errno || end == s || *end || *id == 0)
		return kt_errf(err, "run id '%s': expected a positive integer", s);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"coordinator", required_argument, NULL, 'c'},
		{"wait", no_argument, NULL, 'w'},
		{"junit", required_argument, NULL, 'j'},
		{"reconnect-timeout", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct client cl = {.ep = KT_FARM_CLIENTS_EP};
	const char *junit = NULL;
	bool wait = false;
	unsigned reconnect_s = RECONNECT_DEFAULT_S;
	struct kt_err err;
	Ktstr__FarmMsg m = KTSTR__FARM_MSG__INIT, *r = NULL;
	int ch, rc = 2;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': cl.ep = optarg; break;
		case 'w': wait = true; break;
		case 'j': junit = optarg; wait = true; break;
		case 'r': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || v > 86400) {
				fprintf(stderr, "ktstr-submit: --reconnect-timeout '%s': expected 0 to "
						"86400 seconds\n", optarg);
				return 2;
			}
			reconnect_s = (unsigned)v;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cl.ctx = zmq_ctx_new();
	cl.sock = kt_farm_socket(cl.ctx, ZMQ_DEALER, &err);
	if (!cl.sock)
		goto fatal;
	if (zmq_connect(cl.sock, cl.ep)) {
		kt_errf(&err, "connect %s: %s", cl.ep, zmq_strerror(errno));
		goto fatal;
	}
	if (strcmp(argv[optind], "status") == 0 || strcmp(argv[optind], "cancel") == 0) {
		bool cancel = argv[optind][0] == 'c';
		Ktstr__StatusRequest sq = KTSTR__STATUS_REQUEST__INIT;
		Ktstr__CancelRun cr = KTSTR__CANCEL_RUN__INIT;
		uint64_t id;

		if (optind + 2 != argc) {
			usage(stderr);
			goto out;
		}
		if (parse_run(argv[optind + 1], &id, &err))
			goto fatal;
		if (cancel) {
			cr.run_id = id;
			m.body_case = KTSTR__FARM_MSG__BODY_CANCEL_RUN;
			m.cancel_run = &cr;
		} else {
			sq.run_id = id;
			m.body_case = KTSTR__FARM_MSG__BODY_STATUS;
			m.status = &sq;
		}
		if (request(&cl, &m, REQUEST_TIMEOUT_MS, &r, NULL, &err))
			goto fatal;
		if (r->body_case == KTSTR__FARM_MSG__BODY_STATUS_REPLY) {
			Ktstr__StatusReply *s = r->status_reply;
			char el[32];

			fmt_ms(s->elapsed_ms, el, sizeof(el));
			printf("run %llu (%s) %s: %u entries; queued %u running %u pass %u fail %u "
			       "error %u infra %u skip %u cancelled %u; elapsed %s\n",
			       (unsigned long long)s->run_id, s->name ? s->name : "", s->state,
			       s->total, s->queued, s->running, s->pass, s->fail, s->error, s->infra,
			       s->skip, s->cancelled, el);
			rc = strcmp(s->state, "done") == 0 ? exit_code(s) : 0;
		}
		goto out;
	}
	if (optind + 1 != argc) {
		usage(stderr);
		goto out;
	}
	{
		Ktstr__SubmitRequest rq = KTSTR__SUBMIT_REQUEST__INIT;
		Ktstr__NamedFile **files = NULL;
		uint64_t run_id;

		if (build_submit(argv[optind], &rq, &files, &err)) {
			free_submit(&rq, files);
			goto fatal;
		}
		m.body_case = KTSTR__FARM_MSG__BODY_SUBMIT;
		m.submit = &rq;
		rc = request(&cl, &m, SUBMIT_TIMEOUT_MS, &r, NULL, &err);
		free_submit(&rq, files);
		if (rc)
			goto fatal;
		if (r->body_case != KTSTR__FARM_MSG__BODY_SUBMIT_REPLY || !r->submit_reply->ok) {
			kt_errf(&err, "%s", r->body_case == KTSTR__FARM_MSG__BODY_SUBMIT_REPLY &&
						    r->submit_reply->error
					    ? r->submit_reply->error
					    : "unexpected reply");
			goto fatal;
		}
		run_id = r->submit_reply->run_id;
		printf("%llu\n", (unsigned long long)run_id);
		fprintf(stderr, "run %llu: %u entries queued\n", (unsigned long long)run_id,
			r->submit_reply->entries);
		fflush(stdout);
		rc = 0;
		if (wait) {
			rc = follow_run(&cl, run_id, junit, reconnect_s, &err);
			if (rc < 0)
				goto fatal;
		}
	}
out:
	if (r)
		kt_farm_msg_free(r);
	if (cl.sock)
		zmq_close(cl.sock);
	if (cl.ctx)
		zmq_ctx_term(cl.ctx);
	return rc;
fatal:
	fprintf(stderr, "ktstr-submit: %s\n", err.msg);
	rc = 2;
	goto out;
}
