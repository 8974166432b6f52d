/* ktstr-run: one test entry in one real guest, no coordinator. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "catalog.h"
#include "checks_cfg.h"
#include "entry.h"
#include "json.h"
#include "report.h"
#include "strv.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ktstr-run [--kernel SPEC|SHA|PATH] [--topology NnNlNcNt] --scenario NAME|FILE\n"
		"                 [--duration 3s] [--workers N] [--json] [--console FILE]\n"
		"                 [--accel auto|kvm|tcg] [--memory MB] [--cache DIR]\n"
		"                 [--check KEY=VALUE ...]\n"
		"                 [--scheduler NAME|PATH [--sched-args \"ARGS\"] [--expect-err]]\n"
		"       ktstr-run --list [--json]\n"
		"\n"
		"  --kernel    debian:sid (default), debian:trixie, debian:bookworm, a Debian package\n"
		"              name, a cached kernel's sha256 prefix, or a bzImage path\n"
		"  --topology  NUMA nodes, LLCs, cores per LLC, threads per core (default 1n1l2c1t)\n"
		"  --duration  scenario length: 3s, 500ms, 1m (default 2s)\n"
		"  --workers   workers per cgroup where the scenario does not say (default 2)\n"
		"  --check     override a check of the scenario (repeatable), e.g.\n"
		"              max_gap_ms=3000, isolation=true, max_throughput_cv=0.5,\n"
		"              min_work_rate=off; keys as in a scenario's checks:\n"
		"  --scheduler the sched_ext scheduler under test: scx-ktstr (the built-in\n"
		"              fixture, next to ktstr-run) or a binary's path (default: the\n"
		"              kernel's own); a kernel without sched_ext gives skip\n"
		"  --sched-args its arguments, split on spaces (scx-ktstr gets --timeout-ms=4000\n"
		"              unless they set it)\n"
		"  --expect-err the scheduler is expected to fail: its failure is pass, its\n"
		"              survival fail\n"
		"  --list      the built-in catalog: name and one-line description each\n"
		"Exit status: 0 pass, 1 fail, 2 error or infra.\n");
}

/* "3s", "500ms", "1m", "2" (seconds) -> milliseconds; bounded to a day. */
static int parse_duration(const char *s, uint64_t *ms, struct kt_err *err)
{
	char *end;
	double v;
	double mul;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return kt_errf(err, "--duration '%s': expected a number with s, ms or m", s);
	if (!*end || strcmp(end, "s") == 0)
		mul = 1000;
	else if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "m") == 0)
		mul = 60000;
	else
		return kt_errf(err, "--duration '%s': unknown unit '%s' (s, ms or m)", s, end);
	if (v * mul > 86400000.0)
		return kt_errf(err, "--duration '%s': longer than a day", s);
	*ms = (uint64_t)(v * mul + 0.5);
	return 0;
}

static int parse_uint(const char *opt, const char *s, unsigned max, unsigned *out,
		      struct kt_err *err)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return kt_errf(err, "%s '%s': expected an integer from 0 to %u", opt, s, max);
	*out = (unsigned)v;
	return 0;
}

static int agent_path(char *buf, size_t len, struct kt_err *err)
{
	char self[PATH_MAX];
	ssize_t n;
	const char *env = getenv("KTSTR_GUEST");

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return kt_errf(err, "/proc/self/exe: %s", strerror(errno));
	self[n] = 0;
	snprintf(buf, len, "%s/ktstr-guest", dirname(self));
	if (access(buf, X_OK))
		return kt_errf(err, "guest agent %s: %s (set KTSTR_GUEST)", buf, strerror(errno));
	return 0;
}

/* The scheduler binary for --scheduler NAME|PATH: the built-in fixture
 * next to this binary, or an executable path. */
static int sched_path(const char *arg, char *buf, size_t len, struct kt_err *err)
{
	char self[PATH_MAX];
	ssize_t n;

	if (strcmp(arg, "scx-ktstr") == 0) {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n < 0)
			return kt_errf(err, "/proc/self/exe: %s", strerror(errno));
		self[n] = 0;
		snprintf(buf, len, "%s/scx-ktstr", dirname(self));
	} else if (strchr(arg, '/')) {
		snprintf(buf, len, "%s", arg);
	} else {
		return kt_errf(err, "--scheduler '%s': not scx-ktstr and not a path (use ./%s for a "
			       "file here)", arg, arg);
	}
	if (access(buf, X_OK))
		return kt_errf(err, "--scheduler '%s': %s: %s", arg, buf, strerror(errno));
	return 0;
}

/* ARGS split on spaces into V (empty words dropped). */
static void split_args(const char *args, struct kt_strv *v)
{
	const char *p = args, *q;

	while (p && *p) {
		while (*p == ' ')
			p++;
		q = p;
		while (*q && *q != ' ')
			q++;
		if (q > p)
			kt_strv_addf(v, "%.*s", (int)(q - p), p);
		p = q;
	}
}

/* The catalog as "NAME DESCRIPTION" lines, or with JSON a list of
 * {name, description}. An entry that does not parse is a build defect:
 * reported, exit 2. */
static int list_catalog(bool json)
{
	struct kt_json j;

	if (json) {
		kt_json_init(&j, stdout, true);
		kt_json_arr_begin(&j);
	}
	for (size_t i = 0; i < kt_catalog_len; i++) {
		struct kt_scenario *s;
		struct kt_err e;

		if (kt_scenario_parse(kt_catalog[i].yaml, strlen(kt_catalog[i].yaml),
				      kt_catalog[i].name, &s, &e)) {
			fprintf(stderr, "ktstr-run: catalog: %s\n", e.msg);
			return 2;
		}
		if (json) {
			kt_json_obj_begin(&j);
			kt_json_key(&j, "name");
			kt_json_str(&j, kt_catalog[i].name);
			kt_json_key(&j, "description");
			kt_json_str(&j, kt_scenario_description(s));
			kt_json_obj_end(&j);
		} else {
			printf("%-24s %s\n", kt_catalog[i].name, kt_scenario_description(s));
		}
		kt_scenario_free(s);
	}
	if (json) {
		kt_json_arr_end(&j);
		kt_json_end(&j);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"kernel", required_argument, NULL, 'k'},
		{"topology", required_argument, NULL, 't'},
		{"scenario", required_argument, NULL, 's'},
		{"duration", required_argument, NULL, 'd'},
		{"workers", required_argument, NULL, 'w'},
		{"json", no_argument, NULL, 'j'},
		{"console", required_argument, NULL, 'c'},
		{"accel", required_argument, NULL, 'a'},
		{"memory", required_argument, NULL, 'm'},
		{"cache", required_argument, NULL, 'C'},
		{"list", no_argument, NULL, 'l'},
		{"check", required_argument, NULL, 'K'},
		{"scheduler", required_argument, NULL, 'S'},
		{"sched-args", required_argument, NULL, 'A'},
		{"expect-err", no_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *kernel_ref = "debian:sid", *topo_s = "1n1l2c1t", *scenario_s = NULL;
	const char *sched_s = NULL, *sched_args = NULL;
	char cache[PATH_MAX] = "", agent[PATH_MAX], sched_bin[PATH_MAX];
	struct kt_entry_sched sched = {0};
	struct kt_strv sargs;
	struct kt_entry_req req = {.duration_ms = 2000, .workers = 2};
	struct kt_entry_result res;
	struct kt_scenario *sc = NULL;
	struct kt_checks_over over;
	struct kt_checks_cfg checks;
	struct kt_kernel kernel;
	struct kt_err err;
	enum kt_status fatal_status = KT_ERROR;
	bool json = false, list = false;
	int c, rc;

	memset(&over, 0, sizeof(over));
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': kernel_ref = optarg; break;
		case 't': topo_s = optarg; break;
		case 's': scenario_s = optarg; break;
		case 'd':
			if (parse_duration(optarg, &req.duration_ms, &err))
				goto usage_err;
			break;
		case 'w':
			if (parse_uint("--workers", optarg, 256, &req.workers, &err) || !req.workers) {
				kt_errf(&err, "--workers '%s': expected 1 to 256", optarg);
				goto usage_err;
			}
			break;
		case 'j': json = true; break;
		case 'c': req.console_path = optarg; break;
		case 'a':
			if (strcmp(optarg, "auto") == 0)
				req.accel = KT_ACCEL_AUTO;
			else if (strcmp(optarg, "kvm") == 0)
				req.accel = KT_ACCEL_ONLY_KVM;
			else if (strcmp(optarg, "tcg") == 0)
				req.accel = KT_ACCEL_ONLY_TCG;
			else {
				kt_errf(&err, "--accel '%s': expected auto, kvm or tcg", optarg);
				goto usage_err;
			}
			break;
		case 'm':
			if (parse_uint("--memory", optarg, 1 << 20, &req.mem_mb, &err))
				goto usage_err;
			break;
		case 'C': snprintf(cache, sizeof(cache), "%s", optarg); break;
		case 'K':
			if (kt_checks_over_kv(&over, optarg, &err))
				goto usage_err;
			break;
		case 'S': sched_s = optarg; break;
		case 'A': sched_args = optarg; break;
		case 'E': sched.expect_err = true; break;
		case 'l': list = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		kt_errf(&err, "unexpected argument '%s'", argv[optind]);
		goto usage_err;
	}
	if (list)
		return list_catalog(json);
	if (!scenario_s) {
		kt_errf(&err, "--scenario is required (see --list)");
		goto usage_err;
	}
	if (kt_topo_parse(topo_s, &req.topo, &err))
		goto usage_err;
	if (!sched_s && (sched_args || sched.expect_err)) {
		kt_errf(&err, "--sched-args and --expect-err need --scheduler");
		goto usage_err;
	}
	kt_strv_init(&sargs);
	if (sched_s) {
		const char *b;

		if (sched_path(sched_s, sched_bin, sizeof(sched_bin), &err)) {
			kt_strv_free(&sargs);
			goto usage_err;
		}
		b = strrchr(sched_bin, '/');
		sched.name = b ? b + 1 : sched_bin;
		sched.binary = sched_bin;
		split_args(sched_args, &sargs);
		sched.args = (const char *const *)sargs.v;
		req.sched = &sched;
	}
	if (kt_scenario_load(scenario_s, &sc, &err))
		goto fatal;
	/* --check stands where a matrix test's checks: would: over the scenario's. */
	checks = *kt_scenario_checks(sc);
	kt_checks_over_apply(&over, &checks);
	req.checks = &checks;
	/* From here on, what goes wrong is the host's or the kernel artifact's. */
	fatal_status = KT_INFRA;
	if (!cache[0] && kt_kcache_dir(cache, sizeof(cache), &err))
		goto fatal;
	if (mkdir(cache, 0755) && errno != EEXIST) {
		kt_errf(&err, "cache directory %s: %s", cache, strerror(errno));
		goto fatal;
	}
	if (agent_path(agent, sizeof(agent), &err))
		goto fatal;
	if (kt_kcache_resolve(cache, kernel_ref, &kernel, &err)) {
		kt_err_prefix(&err, "kernel '%s'", kernel_ref);
		goto fatal;
	}
	req.cache_dir = cache;
	req.agent = agent;
	req.kernel = &kernel;
	req.scenario = sc;
	if (kt_entry_run(&req, &res, &err))
		goto fatal;
	if (json)
		kt_report_json(stdout, &req, &res);
	else
		kt_report_human(stdout, &req, &res);
	rc = kt_status_exit_code(res.status);
	kt_entry_result_free(&res);
	kt_scenario_free(sc);
	kt_strv_free(&sargs);
	return rc;

usage_err:
	fprintf(stderr, "ktstr-run: %s\n", err.msg);
	usage(stderr);
	return 2;
fatal:
	/* The entry could not be attempted: the request was wrong (error) or
	 * the host or kernel artifact failed (infra). --json still answers. */
	fprintf(stderr, "ktstr-run: %s\n", err.msg);
	if (json)
		kt_report_json_early(stdout, fatal_status, err.msg, kernel_ref, topo_s,
				     sc ? kt_scenario_name(sc) : scenario_s);
	kt_scenario_free(sc);
	kt_strv_free(&sargs);
	return kt_status_exit_code(fatal_status);
}
