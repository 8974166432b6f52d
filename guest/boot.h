/* What PID 1 does for itself: the pseudo file systems, a console, a
 * real-time place to run from, and the way out (power off). */
#ifndef KTSTR_BOOT_H
#define KTSTR_BOOT_H
#include <pthread.h>
#include <stdint.h>
#include "err.h"

/* The agent's real-time priority: sched_ext never schedules RT tasks, so a
 * scheduler under test cannot starve the agent (children are reset to
 * SCHED_OTHER on fork). The watchdog thread runs above it. */
#define KT_BOOT_RT_PRIO 50
#define KT_BOOT_WATCHDOG_PRIO 90

/* Mount proc (/proc), sysfs (/sys), devtmpfs (/dev), cgroup2
 * (/sys/fs/cgroup), tmpfs (/tmp, /run), creating the mount points; one
 * already mounted is fine. Tries them all; the error names the first that
 * failed. */
int kt_boot_mounts(struct kt_err *err);

/* Make sure fds 0-2 are open (on /dev/console, else /dev/null): the kernel
 * starts init without them when the initramfs has no /dev/console. */
void kt_boot_console(void);

/* SCHED_FIFO at PRIO with SCHED_RESET_ON_FORK for the calling process. */
int kt_boot_realtime(int prio, struct kt_err *err);

/* A joinable thread running FN(ARG) at SCHED_FIFO PRIO, set explicitly: a
 * thread does not inherit SCHED_FIFO under SCHED_RESET_ON_FORK, and a
 * SCHED_OTHER thread would be scheduled by the scheduler under test. When
 * FIFO is refused (EPERM outside the VM) the thread runs with the default
 * policy. Returns pthread_create's error, 0 on success. */
int kt_boot_rt_thread(pthread_t *t, void *(*fn)(void *), void *arg, int prio);

/* Seconds since boot from /proc/uptime, in ms (0 when unreadable). */
uint64_t kt_boot_uptime_ms(void);

/* sync, then power off (reboot(RB_POWER_OFF)); never returns. */
void kt_boot_poweroff(void) __attribute__((noreturn));

#endif
