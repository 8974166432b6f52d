#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cgroup.h"
#include "cpuset.h"
#include "util.h"

#define LIST_TEXT_MAX 4096
#define RMDIR_TRIES 100 /* 10 ms apart */

static int join(char *buf, const char *dir, const char *file, struct kt_err *err)
{
	int w = snprintf(buf, PATH_MAX, "%s/%s", dir, file);

	if (w < 0 || w >= PATH_MAX)
		return kt_errf(err, "cgroup path %s/%s is too long", dir, file);
	return 0;
}

/* Write the value S to DIR/FILE (cgroup files take one value per write). */
static int write_file(const char *dir, const char *file, const char *s, struct kt_err *err)
{
	char path[PATH_MAX];

	if (join(path, dir, file, err))
		return -1;
	if (kt_write_file(path, s, strlen(s), err))
		return kt_err_prefix(err, "writing '%s'", s);
	return 0;
}

static int enable(const char *dir, int *cpu_ok, struct kt_err *err)
{
	if (write_file(dir, "cgroup.subtree_control", "+cpuset", err))
		return -1;
	*cpu_ok = !write_file(dir, "cgroup.subtree_control", "+cpu", NULL);
	return 0;
}

int kt_cgroup_prepare(const char *root, const char *base, int *cpu_ok, struct kt_err *err)
{
	int root_cpu;

	if (enable(root, &root_cpu, err))
		return -1;
	if (mkdir(base, 0755) && errno != EEXIST)
		return kt_errf(err, "mkdir %s: %s", base, strerror(errno));
	if (enable(base, cpu_ok, err))
		return -1;
	*cpu_ok &= root_cpu;
	return 0;
}

int kt_cgroup_create(const char *dir, const char *cpus, const char *mems, struct kt_err *err)
{
	if (mkdir(dir, 0755))
		return kt_errf(err, "mkdir %s: %s", dir, strerror(errno));
	if (write_file(dir, "cpuset.cpus", cpus, err) || write_file(dir, "cpuset.mems", mems, err)) {
		rmdir(dir);
		return -1;
	}
	return 0;
}

int kt_cgroup_attach(const char *dir, pid_t pid, struct kt_err *err)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	return write_file(dir, "cgroup.procs", buf, err);
}

int kt_cgroup_set_cpus(const char *dir, const char *cpus, struct kt_err *err)
{
	/* An empty write may never reach the kernel; a lone newline does. */
	return write_file(dir, "cpuset.cpus", cpus[0] ? cpus : "\n", err);
}

int kt_cgroup_enable(const char *dir, struct kt_err *err)
{
	int cpu_ok;

	return enable(dir, &cpu_ok, err);
}

int kt_cgroup_set_threaded(const char *dir, struct kt_err *err)
{
	return write_file(dir, "cgroup.type", "threaded", err);
}

int kt_cgroup_read_procs(const char *dir, const char *file, pid_t *pids, size_t max, size_t *n,
			 struct kt_err *err)
{
	char path[PATH_MAX], *text, *p, *end;
	size_t len;

	*n = 0;
	if (join(path, dir, file, err) ||
	    kt_read_file(path, max * 12 + 64, &text, &len, err))
		return -1;
	for (p = text; *p; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p || v <= 0 || (*end && *end != '\n')) {
			free(text);
			return kt_errf(err, "%s: not a list of pids", path);
		}
		if (*n == max) {
			free(text);
			return kt_errf(err, "%s: more than %zu pids", path, max);
		}
		pids[(*n)++] = (pid_t)v;
		while (*end == '\n')
			end++;
	}
	free(text);
	return 0;
}

int kt_cgroup_read_list(const char *dir, const char *file, uint32_t *ids, size_t max,
			size_t *n, struct kt_err *err)
{
	char path[PATH_MAX], *text;
	size_t len;
	int rc;

	if (join(path, dir, file, err) || kt_read_file(path, LIST_TEXT_MAX, &text, &len, err))
		return -1;
	rc = kt_cpulist_parse(text, ids, max, n, err);
	free(text);
	return rc ? kt_err_prefix(err, "%s", path) : 0;
}

int kt_cgroup_remove(const char *dir, struct kt_err *err)
{
	struct timespec ts = {0, 10000000};

	write_file(dir, "cgroup.kill", "1", NULL); /* absent before 5.14 */
	for (int i = 0; i < RMDIR_TRIES; i++) {
		if (!rmdir(dir) || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			break;
		nanosleep(&ts, NULL);
	}
	return kt_errf(err, "rmdir %s: %s", dir, strerror(errno));
}
