/* ktstr-kernel: manage the kernel cache (kernel_cache.h) from the shell. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "kernel_cache.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ktstr-kernel [--cache DIR] COMMAND\n"
		"  fetch SPEC [--json]       download a Debian kernel: debian:sid, debian:trixie,\n"
		"                            debian:bookworm, or a package name\n"
		"  add PATH [--config CONFIG] [--json]\n"
		"                            register a local bzImage\n"
		"  list [--json]             show the cached kernels\n"
		"  rm SHA_PREFIX             remove one cached kernel\n"
		"  resolve REF [--json]      what ktstr-run --kernel REF would boot\n"
		"The cache is $KTSTR_CACHE_DIR, else $XDG_CACHE_HOME/ktstr, else ~/.cache/ktstr.\n");
}

static const char *flag_word(int v)
{
	return v < 0 ? "?" : v ? "yes" : "no";
}

static void json_flag(struct kt_json *j, const char *key, int v)
{
	kt_json_key(j, key);
	if (v < 0)
		kt_json_null(j);
	else
		kt_json_bool(j, v);
}

static void json_kernel(struct kt_json *j, const struct kt_kernel *k)
{
	kt_json_obj_begin(j);
	kt_json_key(j, "sha256");
	kt_json_str(j, k->sha256);
	kt_json_key(j, "version");
	kt_json_str(j, k->version);
	kt_json_key(j, "source");
	kt_json_str(j, k->source);
	kt_json_key(j, "size");
	kt_json_u64(j, k->size);
	json_flag(j, "has_sched_ext", k->has_sched_ext);
	json_flag(j, "has_btf", k->has_btf);
	kt_json_key(j, "image");
	kt_json_str(j, k->image);
	kt_json_key(j, "config");
	kt_json_str(j, k->config[0] ? k->config : NULL);
	kt_json_key(j, "fetched_at");
	kt_json_i64(j, k->fetched_at);
	kt_json_obj_end(j);
}

static void print_table(const struct kt_kernel *v, size_t n)
{
	int vw = 7, sw = 6;

	for (size_t i = 0; i < n; i++) {
		vw = (int)strlen(v[i].version) > vw ? (int)strlen(v[i].version) : vw;
		sw = (int)strlen(v[i].source) > sw ? (int)strlen(v[i].source) : sw;
	}
	printf("%-12s  %-*s  %-*s  %7s  %-9s  %s\n", "SHA256", vw, "VERSION", sw, "SOURCE", "SIZE",
	       "SCHED_EXT", "BTF");
	for (size_t i = 0; i < n; i++)
		printf("%.12s  %-*s  %-*s  %6.1fM  %-9s  %s\n", v[i].sha256, vw, v[i].version, sw,
		       v[i].source, (double)v[i].size / (1 << 20), flag_word(v[i].has_sched_ext),
		       flag_word(v[i].has_btf));
}

static void print_kernel(const struct kt_kernel *k, bool json)
{
	struct kt_json j;

	if (!json) {
		printf("%s %s %s\n%s\n", k->sha256, k->version, k->source, k->image);
		return;
	}
	kt_json_init(&j, stdout, true);
	json_kernel(&j, k);
	kt_json_end(&j);
}

static int cmd_list(const char *cache, bool json, struct kt_err *err)
{
	struct kt_kernel *v;
	struct kt_json j;
	size_t n;

	if (kt_kcache_list(cache, &v, &n, err) < 0)
		return -1;
	if (json) {
		kt_json_init(&j, stdout, true);
		kt_json_arr_begin(&j);
		for (size_t i = 0; i < n; i++)
			json_kernel(&j, &v[i]);
		kt_json_arr_end(&j);
		kt_json_end(&j);
	} else {
		print_table(v, n);
	}
	free(v);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"cache", required_argument, NULL, 'C'},
		{"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *config = NULL, *cmd, *arg = NULL;
	char cache[PATH_MAX];
	struct kt_kernel k;
	struct kt_err err = {""};
	bool json = false;
	int c, r;

	/* Options may come before or after the command and its argument. */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'C')
			setenv("KTSTR_CACHE_DIR", optarg, 1); /* kt_kcache_dir makes it absolute */
		else if (c == 'c')
			config = optarg;
		else if (c == 'j')
			json = true;
		else {
			usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind++];
	if (optind < argc)
		arg = argv[optind++];
	if (optind < argc || (!strcmp(cmd, "list") ? arg != NULL : arg == NULL) ||
	    (config && strcmp(cmd, "add"))) {
		usage(stderr);
		return 2;
	}
	if (kt_kcache_dir(cache, sizeof(cache), &err) < 0) {
		fprintf(stderr, "ktstr-kernel: %s\n", err.msg);
		return 1;
	}
	if (!strcmp(cmd, "list"))
		r = cmd_list(cache, json, &err);
	else if (!strcmp(cmd, "rm"))
		r = kt_kcache_rm(cache, arg, &err);
	else if (!strcmp(cmd, "fetch"))
		r = kt_kcache_fetch(cache, arg, &k, &err);
	else if (!strcmp(cmd, "add"))
		r = kt_kcache_add(cache, arg, config, &k, &err);
	else if (!strcmp(cmd, "resolve"))
		r = kt_kcache_resolve(cache, arg, &k, &err);
	else {
		fprintf(stderr, "ktstr-kernel: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return 2;
	}
	if (r < 0) {
		fprintf(stderr, "ktstr-kernel %s: %s\n", cmd, err.msg);
		return 1;
	}
	if (strcmp(cmd, "list") && strcmp(cmd, "rm"))
		print_kernel(&k, json);
	return 0;
}
