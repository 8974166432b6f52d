#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>
#include "boot.h"

struct mnt {
	const char *source, *target, *type;
	unsigned long flags;
};

static const struct mnt mounts[] = {
	{"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC},
	{"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC},
	{"devtmpfs", "/dev", "devtmpfs", MS_NOSUID},
	{"cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC},
	{"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV},
	{"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV},
};

int kt_boot_mounts(struct kt_err *err)
{
	int rc = 0;

	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		const struct mnt *m = &mounts[i];

		if (mkdir(m->target, 0755) && errno != EEXIST) {
			if (!rc)
				rc = kt_errf(err, "mkdir %s: %s", m->target, strerror(errno));
			continue;
		}
		if (mount(m->source, m->target, m->type, m->flags, NULL) && errno != EBUSY && !rc)
			rc = kt_errf(err, "mount %s on %s: %s", m->type, m->target, strerror(errno));
	}
	return rc;
}

void kt_boot_console(void)
{
	int fd;

	if (fcntl(2, F_GETFD) >= 0)
		return;
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		return;
	for (int i = 0; i < 3; i++)
		if (fcntl(i, F_GETFD) < 0)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

int kt_boot_realtime(int prio, struct kt_err *err)
{
	struct sched_param sp = {.sched_priority = prio};

	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp))
		return kt_errf(err, "SCHED_FIFO priority %d: %s", prio, strerror(errno));
	return 0;
}

int kt_boot_rt_thread(pthread_t *t, void *(*fn)(void *), void *arg, int prio)
{
	struct sched_param sp = {.sched_priority = prio};
	pthread_attr_t attr;
	int rc;

	pthread_attr_init(&attr);
	pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
	pthread_attr_setschedparam(&attr, &sp);
	rc = pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (rc == EPERM)
		rc = pthread_create(t, NULL, fn, arg);
	return rc;
}

uint64_t kt_boot_uptime_ms(void)
{
	unsigned long long sec, cs;
	FILE *f = fopen("/proc/uptime", "re");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%llu.%2llu", &sec, &cs);
	fclose(f);
	return n == 2 ? sec * 1000 + cs * 10 : 0;
}

void kt_boot_poweroff(void)
{
	sync();
	reboot(RB_POWER_OFF);
	/* Only reached if the kernel refused: exiting PID 1 panics, and the
	 * host's panic=-1 / -no-reboot ends the VM all the same. */
	_exit(1);
}
