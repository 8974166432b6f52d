/* ktstr-coordinator: the farm's queue, placement and history. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "coord.h"
#include "farm_msg.h"
#include "kernel_cache.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ktstr-coordinator --db PATH [--listen-workers EP] [--listen-clients EP]\n"
		   "                         [--cache DIR] [--heartbeat-ms N] [--config FILE]\n"
		   "  defaults: workers %s, clients %s (loopback only unless asked)\n"
		   "  config file: lines 'key = value' with the long option names as keys\n",
		KT_FARM_WORKERS_EP, KT_FARM_CLIENTS_EP);
}

struct settings {
	char db[PATH_MAX], workers[256], clients[256], cache[PATH_MAX];
	unsigned heartbeat_ms;
};

static int set(struct settings *s, const char *key, const char *val, struct kt_err *err)
{
	char *end;

	if (strcmp(key, "db") == 0)
		snprintf(s->db, sizeof(s->db), "%s", val);
	else if (strcmp(key, "listen-workers") == 0)
		snprintf(s->workers, sizeof(s->workers), "%s", val);
	else if (strcmp(key, "listen-clients") == 0)
		snprintf(s->clients, sizeof(s->clients), "%s", val);
	else if (strcmp(key, "cache") == 0)
		snprintf(s->cache, sizeof(s->cache), "%s", val);
	else if (strcmp(key, "heartbeat-ms") == 0) {
		unsigned long v = strtoul(val, &end, 10);

		if (*end || v < 50 || v > 60000)
			return kt_errf(err, "heartbeat-ms '%s': expected 50 to 60000", val);
		s->heartbeat_ms = (unsigned)v;
	} else
		return kt_errf(err, "unknown setting '%s'", key);
	return 0;
}

/* "key = value" lines; '#' starts a comment. */
static int read_config(struct settings *s, const char *path, struct kt_err *err)
{
	char line[1024];
	unsigned n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return kt_errf(err, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *k = line, *v, *e;

		n++;
		line[strcspn(line, "#\n")] = 0;
		while (*k == ' ' || *k == '\t')
			k++;
		if (!*k)
			continue;
		v = strchr(k, '=');
		if (!v) {
			fclose(f);
			return kt_errf(err, "%s:%u: expected 'key = value'", path, n);
		}
		*v++ = 0;
		for (e = v - 2; e >= k && (*e == ' ' || *e == '\t'); e--)
			*e = 0;
		while (*v == ' ' || *v == '\t')
			v++;
		for (e = v + strlen(v) - 1; e >= v && (*e == ' ' || *e == '\t'); e--)
			*e = 0;
		if (set(s, k, v, err)) {
			fclose(f);
			return kt_err_prefix(err, "%s:%u", path, n);
		}
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},
		{"listen-workers", required_argument, NULL, 'w'},
		{"listen-clients", required_argument, NULL, 'c'},
		{"cache", required_argument, NULL, 'C'},
		{"heartbeat-ms", required_argument, NULL, 'H'},
		{"config", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct settings s = {0};
	struct kt_coord_opts o = {0};
	struct kt_coord *c;
	struct sigaction sa = {0};
	struct kt_err err;
	int ch, rc;

	snprintf(s.workers, sizeof(s.workers), "%s", KT_FARM_WORKERS_EP);
	snprintf(s.clients, sizeof(s.clients), "%s", KT_FARM_CLIENTS_EP);
	/* A config file first, so the command line can override it. */
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--config") == 0 && read_config(&s, argv[i + 1], &err))
			goto fatal;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char *key = NULL;

		switch (ch) {
		case 'd': key = "db"; break;
		case 'w': key = "listen-workers"; break;
		case 'c': key = "listen-clients"; break;
		case 'C': key = "cache"; break;
		case 'H': key = "heartbeat-ms"; break;
		case 'f': break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (key && set(&s, key, optarg, &err))
			goto fatal;
	}
	if (!s.db[0]) {
		fprintf(stderr, "ktstr-coordinator: --db is required\n");
		usage(stderr);
		return 2;
	}
	if (!s.cache[0] && kt_kcache_dir(s.cache, sizeof(s.cache), &err))
		goto fatal;
	o.db_path = s.db;
	o.cache_dir = s.cache;
	o.workers_ep = s.workers;
	o.clients_ep = s.clients;
	o.heartbeat_ms = s.heartbeat_ms;
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (kt_coord_open(&o, &c, &err))
		goto fatal;
	rc = kt_coord_run(c, &stop, &err);
	kt_coord_close(c);
	if (rc)
		goto fatal;
	return 0;
fatal:
	fprintf(stderr, "ktstr-coordinator: %s\n", err.msg);
	return 1;
}
