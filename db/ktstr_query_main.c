/* ktstr-query: answers from the farm's history, read-only, while the
 * coordinator writes. Contract: ktstr-query --db PATH VERB [ARG] [options]. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dump.h"
#include "qdump.h"
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
	O_GROUP = 1 << 6,
	O_SNAPSHOT = 1 << 7,
	O_VAR = 1 << 8,
	O_CSV = 1 << 9,   /* the output formats, as options a verb may refuse */
	O_LAST = O_CSV,
};

/* What dump was asked for, beside the entry. */
struct dump_opts {
	const char *snapshot;
	const char *var;
};

struct verb {
	const char *name;
	int nargs;      /* positional arguments after the verb */
	unsigned opts;
};

static const struct verb verbs[] = {
	{ "runs", 0, O_SINCE | O_LIMIT },
	{ "failures", 0, O_SINCE | O_KERNEL | O_SCHED | O_TEST | O_TOPO | O_LIMIT | O_GROUP |
			 O_CSV },
	{ "history", 1, O_SINCE | O_KERNEL | O_SCHED | O_TOPO | O_CSV },
	{ "show", 1, O_CSV },
	{ "stats", 0, O_SINCE | O_CSV },
	{ "flaky", 0, O_SINCE | O_KERNEL | O_SCHED | O_TEST | O_TOPO | O_LIMIT | O_CSV },
	{ "dump", 1, O_SNAPSHOT | O_VAR },
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
		"  dump ENTRY                the failure dump of an entry (id or exact name; its\n"
		"                            latest attempt with one): scheduler state, BPF maps\n"
		"                            as typed trees, the kernel's sched_ext dump, log tail;\n"
		"                            --json: the dump's JSON as stored\n"
		"\n"
		"  --group                   failures: one row per failure signature, with counts\n"
		"  --snapshot NAME           dump: the snapshot NAME instead of the failure dump\n"
		"  --var PATH                dump: the value at PATH (stall, bss.nr_enqueued,\n"
		"                            scx_ktst.bss.stall, map[3].field)\n"
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

/* The value at PATH in D's JSON: a number, a string, or (a struct, an
 * array) its JSON; with --json always its JSON. 1 when not found. */
static int print_var(const struct kt_qdump *d, const char *path, enum kt_qfmt fmt,
		     struct kt_err *err)
{
	const struct kt_dval *v;
	struct kt_dump *dp;
	struct kt_err e2;
	const char *str;
	uint64_t u;
	int64_t i;
	int rc = 0;

	if (kt_dump_parse(d->json, strlen(d->json), &dp, err))
		return kt_err_prefix(err, "entry \"%s\" attempt %u: the dump", d->entry, d->attempt);
	if (kt_dump_var(dp, path, &v, err)) {
		kt_err_prefix(err, "entry \"%s\" attempt %u: --var %s", d->entry, d->attempt, path);
		rc = 1;
	} else if (fmt == KT_QFMT_JSON) {
		kt_dval_print(v, stdout);
		fputc('\n', stdout);
	} else if (kt_dval_u64(v, &u, &e2) == 0) {
		printf("%" PRIu64 "\n", u);
	} else if (kt_dval_i64(v, &i, &e2) == 0) {
		printf("%" PRId64 "\n", i);
	} else if (kt_dval_str(v, &str, &e2) == 0) {
		for (; *str; str++)
			putchar(*str >= 0x20 && *str < 0x7f ? *str : '?');
		putchar('\n');
	} else {
		kt_dval_print(v, stdout);
		fputc('\n', stdout);
	}
	kt_dump_free(dp);
	return rc;
}

/* dump: readable, or the stored JSON with --json; --var: one value. */
static int run_dump(struct kt_store *s, const char *entry, const struct dump_opts *o,
		    enum kt_qfmt fmt, struct kt_err *err)
{
	struct kt_qdump *d;
	int rc = kt_query_dump(s, entry, o->snapshot, &d, err);

	if (rc)
		return rc;
	if (fmt == KT_QFMT_JSON || o->var) {
		if (!d->json) {
			kt_errf(err, "entry \"%s\" attempt %u: %s%s%s: no JSON stored%s%s", d->entry,
				d->attempt, d->snapshot ? "snapshot \"" : "failure dump",
				d->snapshot ? d->snapshot : "", d->snapshot ? "\"" : "",
				d->note ? ": " : "", d->note ? d->note : "");
			rc = 1;
		} else if (o->var) {
			rc = print_var(d, o->var, fmt, err);
		} else {
			fputs(d->json, stdout);
			if (!*d->json || d->json[strlen(d->json) - 1] != '\n')
				fputc('\n', stdout);
		}
	} else {
		rc = kt_qdump_print(s, d, stdout, err);
	}
	kt_qdump_free(d);
	return rc;
}

static int run_verb(struct kt_store *s, const struct verb *v, char **args,
		    const struct kt_qfilter *f, unsigned given, struct kt_qreport **r,
		    struct kt_err *err)
{
	if (!strcmp(v->name, "runs"))
		return kt_query_runs(s, f, r, err);
	if (!strcmp(v->name, "failures"))
		return given & O_GROUP ? kt_query_failure_groups(s, f, r, err) :
					 kt_query_failures(s, f, r, err);
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
	case O_GROUP: return "--group";
	case O_SNAPSHOT: return "--snapshot";
	case O_VAR: return "--var";
	case O_CSV: return "--csv";
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
		{ "group", no_argument, NULL, 'g' },
		{ "snapshot", required_argument, NULL, 'n' },
		{ "var", required_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kt_qfilter f = { 0 };
	struct dump_opts dopts = { 0 };
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
		case 'c': fmt = KT_QFMT_CSV; given |= O_CSV; break;
		case 'g': given |= O_GROUP; break;
		case 'n': dopts.snapshot = optarg; given |= O_SNAPSHOT; break;
		case 'V': dopts.var = optarg; given |= O_VAR; break;
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
	for (unsigned bit = 1; bit <= O_LAST; bit <<= 1)
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
	if (!strcmp(v->name, "dump")) {
		rc = run_dump(s, argv[optind + 1], &dopts, fmt, &err);
	} else {
		rc = run_verb(s, v, argv + optind + 1, &f, given, &r, &err);
		if (rc == 0)
			kt_qreport_print(r, fmt, stdout);
	}
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
