/* ktstr-worker: the farm's worker daemon (farm_worker.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "farm_msg.h"
#include "farm_worker.h"
#include "kernel_cache.h"

#define MAX_TAGS 64

static struct kt_fw *the_fw;

static void on_signal(int sig)
{
	(void)sig;
	kt_fw_stop(the_fw);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ktstr-worker [--coordinator EP] [--id ID] [--vcpus N] [--memory-mb N]\n"
		"                    [--cache DIR] [--tag T]... [--accel auto|kvm|tcg]\n"
		"\n"
		"  --coordinator  ZeroMQ endpoint of the coordinator (default " KT_FARM_WORKERS_EP ")\n"
		"  --id           worker id, unique in the farm (default: the host name)\n"
		"  --vcpus        budget: vCPUs of all running guests together (default: host CPUs)\n"
		"  --memory-mb    budget: memory of all running guests (default: 75%% of host memory)\n"
		"  --cache        kernel and artifact cache (default: $KTSTR_CACHE_DIR, else\n"
		"                 $XDG_CACHE_HOME/ktstr, else ~/.cache/ktstr)\n"
		"  --tag          a capability tag the coordinator can match on (repeatable)\n"
		"SIGTERM or SIGINT drains (running entries finish and are reported); a second one\n"
		"kills them and hands them back. Exit status: 0 drained, 1 stopped, 2 error.\n");
}

static int parse_u64(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < 1 || v > max) {
		fprintf(stderr, "ktstr-worker: %s '%s': expected an integer from 1 to %" PRIu64 "\n",
			opt, s, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* ktstr-guest: $KTSTR_GUEST, else beside this binary. */
static int agent_path(char *buf, size_t len)
{
	char self[PATH_MAX];
	const char *env = getenv("KTSTR_GUEST");
	ssize_t n;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		fprintf(stderr, "ktstr-worker: /proc/self/exe: %s\n", strerror(errno));
		return -1;
	}
	self[n] = 0;
	snprintf(buf, len, "%s/ktstr-guest", dirname(self));
	if (access(buf, X_OK)) {
		fprintf(stderr, "ktstr-worker: guest agent %s: %s (set KTSTR_GUEST)\n", buf,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* The built-in scx-ktstr: beside this binary, or "" when it was not built
 * (entries that need it are then skipped). */
static void scx_ktstr_path(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	buf[0] = 0;
	if (n < 0)
		return;
	self[n] = 0;
	snprintf(buf, len, "%s/scx-ktstr", dirname(self));
	if (access(buf, X_OK)) {
		fprintf(stderr, "ktstr-worker: no %s: entries under scx-ktstr will be skipped\n",
			buf);
		buf[0] = 0;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"coordinator", required_argument, NULL, 'c'},
		{"id", required_argument, NULL, 'i'},
		{"vcpus", required_argument, NULL, 'v'},
		{"memory-mb", required_argument, NULL, 'm'},
		{"cache", required_argument, NULL, 'C'},
		{"tag", required_argument, NULL, 't'},
		{"accel", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *tags[MAX_TAGS];
	struct kt_fw_opts o = {.coordinator = KT_FARM_WORKERS_EP, .tags = tags};
	char cache[PATH_MAX] = "", agent[PATH_MAX], scx[PATH_MAX];
	struct sigaction sa = {.sa_handler = on_signal};
	struct kt_err err;
	uint64_t v;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o.coordinator = optarg; break;
		case 'i': o.id = optarg; break;
		case 'v':
			if (parse_u64("--vcpus", optarg, 1u << 16, &v))
				return 2;
			o.vcpus = (unsigned)v;
			break;
		case 'm':
			if (parse_u64("--memory-mb", optarg, 1ull << 40, &o.memory_mb))
				return 2;
			break;
		case 'C': snprintf(cache, sizeof(cache), "%s", optarg); break;
		case 't':
			if (o.n_tags == MAX_TAGS) {
				fprintf(stderr, "ktstr-worker: more than %d tags\n", MAX_TAGS);
				return 2;
			}
			tags[o.n_tags++] = optarg;
			break;
		case 'a':
			if (strcmp(optarg, "auto") == 0) {
				o.accel = KT_ACCEL_AUTO;
			} else if (strcmp(optarg, "kvm") == 0) {
				o.accel = KT_ACCEL_ONLY_KVM;
			} else if (strcmp(optarg, "tcg") == 0) {
				o.accel = KT_ACCEL_ONLY_TCG;
			} else {
				fprintf(stderr, "ktstr-worker: --accel '%s': expected auto, kvm or tcg\n",
					optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ktstr-worker: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!cache[0] && kt_kcache_dir(cache, sizeof(cache), &err)) {
		fprintf(stderr, "ktstr-worker: %s\n", err.msg);
		return 2;
	}
	if (agent_path(agent, sizeof(agent)))
		return 2;
	o.cache_dir = cache;
	o.agent = agent;
	scx_ktstr_path(scx, sizeof(scx));
	o.scx_ktstr = scx[0] ? scx : NULL;
	if (kt_fw_new(&o, &the_fw, &err)) {
		fprintf(stderr, "ktstr-worker: %s\n", err.msg);
		return 2;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = kt_fw_run(the_fw, &err);
	if (rc < 0)
		fprintf(stderr, "ktstr-worker: %s\n", err.msg);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	kt_fw_free(the_fw);
	return rc < 0 ? 2 : rc;
}
