/* ktstr-query: answers from the farm's history, read-only, while the
 * coordinator writes. Contract: ktstr-query --db PATH VERB [ARG] [options]. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "query.h"

enum { EXIT_NOT_FOUND = 1, EXIT_USAGE = 2 };

/* Options, as bits: which verbs take which. */
enum {
	O_SINCE = 1 << 0,
	O_KERNEL = 1 << 1,
	O_SCHED = 1 << 2,
	O_TEST = 1 << 3,
	O_TOPO = 1 << 4,
	O_LIMIT = 1 << 5,
};

struct verb {
	const char *name;
	int nargs;      /* positional arguments after the verb */
	unsigned opts;
};

static const struct verb verbs[] = {
	{ "runs", 0, O_SINCE | O_LIMIT },
	{ "failures", 0, O_SINCE | O_KERNEL | O_SCHED | O_TEST | O_TOPO | O_LIMIT },
	{ "history", 1, O_SINCE | O_KERNEL | O_SCHED | O_TOPO },
	{ "show", 1, 0 },
	{ "stats", 0, O_SINCE },
	{ "flaky", 0, O_SINCE | O_KERNEL | O_SCHED | O_TEST | O_TOPO | O_LIMIT },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ktstr-query --db PATH [--json|--csv] VERB [ARG] [options]\n"
		"\n"
		"  runs                      runs, newest first, with counts by outcome\n"
		"  failures                  fail/error results, newest first, with signatures\n"
		"  history TEST              per kernel, scheduler:profile, topology: counts and\n"
		"                            the last 20 outcomes (P pass F fail E error I infra S skip)\n"
		"  show ENTRY                an entry (id or exact name): result, attempts, checks,\n"
		"                            per-worker stats, console tail\n"
		"  stats                     totals, outcomes, workers, kernels, failure signatures\n"
		"  flaky                     entry names that both passed and failed\n"
		"\n"
		"  --since 7d|12h|30m        only what happened this recently\n"
		"  --kernel K                kernel label or sha256 prefix\n"
		"  --scheduler S[:PROFILE]   scheduler (any profile) or scheduler:profile\n"
		"  --test T, --topology T    exact test name, topology (NnNlNcNt)\n"
		"  --limit N                 at most N rows\n"
		"  --db PATH                 the database (default: $KTSTR_DB)\n"
		"Output: an aligned table; --json or --csv (RFC 4180). Times: UTC in tables,\n"
		"unix ms in JSON and CSV.\n"
		"Exit status: 0 ok, 1 not found, 2 usage or database error.\n");
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int parse_limit(const char *s, uint32_t *out, struct kt_err *err)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v == 0 || v > 1000000000)
		return kt_errf(err, "--limit '%s': expected an integer from 1 to 1000000000", s);
	*out = (uint32_t)v;
	return 0;
}

static const struct verb *find_verb(const char *name)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(verbs[i].name, name))
			return &verbs[i];
	return NULL;
}

static int run_verb(struct kt_store *s, const struct verb *v, char **args,
		    const struct kt_qfilter *f, struct kt_qreport **r, struct kt_err *err)
{
	if (!strcmp(v->name, "runs"))
		return kt_query_runs(s, f, r, err);
	if (!strcmp(v->name, "failures"))
		return kt_query_failures(s, f, r, err);
	if (!strcmp(v->name, "history"))
		return kt_query_history(s, args[0], f, r, err);
	if (!strcmp(v->name, "show"))
		return kt_query_show(s, args[0], r, err);
	if (!strcmp(v->name, "stats"))
		return kt_query_stats(s, f, r, err);
	return kt_query_flaky(s, f, r, err);
}

static const char *opt_name(unsigned bit)
{
	switch (bit) {
	case O_SINCE: return "--since";
	case O_KERNEL: return "--kernel";
	case O_SCHED: return "--scheduler";
	case O_TEST: return "--test";
	case O_TOPO: return "--topology";
	default: return "--limit";
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'c' },
		{ "since", required_argument, NULL, 's' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "scheduler", required_argument, NULL, 'S' },
		{ "test", required_argument, NULL, 't' },
		{ "topology", required_argument, NULL, 'T' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kt_qfilter f = { 0 };
	enum kt_qfmt fmt = KT_QFMT_TABLE;
	const char *db = getenv("KTSTR_DB");
	const struct verb *v;
	struct kt_qreport *r = NULL;
	struct kt_store *s;
	struct kt_err err = { "" };
	unsigned given = 0;
	uint64_t since;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'j': fmt = KT_QFMT_JSON; break;
		case 'c': fmt = KT_QFMT_CSV; break;
		case 's':
			if (kt_since_parse(optarg, &since, &err))
				goto usage_err;
			f.since = now_ms() - since;
			given |= O_SINCE;
			break;
		case 'k': f.kernel = optarg; given |= O_KERNEL; break;
		case 'S': f.scheduler = optarg; given |= O_SCHED; break;
		case 't': f.test = optarg; given |= O_TEST; break;
		case 'T': f.topology = optarg; given |= O_TOPO; break;
		case 'l':
			if (parse_limit(optarg, &f.limit, &err))
				goto usage_err;
			given |= O_LIMIT;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!(v = find_verb(argv[optind]))) {
		kt_errf(&err, "unknown verb '%s'", argv[optind]);
		goto usage_err;
	}
	if (argc - optind - 1 != v->nargs) {
		kt_errf(&err, "%s takes %d argument%s", v->name, v->nargs, v->nargs == 1 ? "" : "s");
		goto usage_err;
	}
	for (unsigned bit = 1; bit <= O_LIMIT; bit <<= 1)
		if ((given & bit) && !(v->opts & bit)) {
			kt_errf(&err, "%s does not apply to %s", opt_name(bit), v->name);
			goto usage_err;
		}
	if (!db || !*db) {
		kt_errf(&err, "no database: pass --db PATH or set KTSTR_DB");
		goto usage_err;
	}
	if (kt_store_open(db, true, &s, &err)) {
		fprintf(stderr, "ktstr-query: %s\n", err.msg);
		return EXIT_USAGE;
	}
	rc = run_verb(s, v, argv + optind + 1, &f, &r, &err);
	if (rc == 0)
		kt_qreport_print(r, fmt, stdout);
	kt_qreport_free(r);
	kt_store_close(s);
	if (rc) {
		fprintf(stderr, "ktstr-query: %s\n", err.msg);
		return rc > 0 ? EXIT_NOT_FOUND : EXIT_USAGE;
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "ktstr-query: writing the output: %s\n", strerror(errno));
		return EXIT_USAGE;
	}
	return 0;

usage_err:
	fprintf(stderr, "ktstr-query: %s\n", err.msg);
	return EXIT_USAGE;
}
