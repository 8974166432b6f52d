#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "accel.h"
#include "frame.h"
#include "vm.h"

/* "<boot_id> <qemu path> <qemu mtime>": what the cached answer depends on. */
static int host_key(char *buf, size_t len)
{
	char boot_id[64] = "", qemu[4096] = "";
	struct stat st = {0};
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	FILE *w;

	if (f) {
		if (!fgets(boot_id, sizeof(boot_id), f))
			boot_id[0] = 0;
		fclose(f);
		boot_id[strcspn(boot_id, "\n")] = 0;
	}
	w = popen("command -v qemu-system-x86_64", "r");
	if (w) {
		if (!fgets(qemu, sizeof(qemu), w))
			qemu[0] = 0;
		pclose(w);
		qemu[strcspn(qemu, "\n")] = 0;
	}
	if (!boot_id[0] || !qemu[0] || stat(qemu, &st))
		return -1;
	snprintf(buf, len, "%s %s %lld", boot_id, qemu, (long long)st.st_mtime);
	return 0;
}

static int read_cache(const char *path, const char *key, enum kt_accel *out)
{
	char line[4500], want[4500];
	FILE *f = fopen(path, "r");
	int rc = -1;

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "%s\n", key);
	if (fgets(line, sizeof(line), f) && strcmp(line, want) == 0 &&
	    fgets(line, sizeof(line), f)) {
		if (strcmp(line, "kvm\n") == 0) {
			*out = KT_ACCEL_KVM;
			rc = 0;
		} else if (strcmp(line, "tcg\n") == 0) {
			*out = KT_ACCEL_TCG;
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

static void write_cache(const char *path, const char *key, enum kt_accel a)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%s\n%s\n", key, kt_accel_name(a));
	if (fclose(f) == 0)
		rename(tmp, path);
	else
		unlink(tmp);
}

/* The first line of QEMU's stderr that is not an "info:" note, cut at its
 * end (TEXT is modified). */
static const char *first_complaint(char *text)
{
	for (char *line = text; *line;) {
		size_t len = strcspn(line, "\n");
		char *next = line[len] ? line + len + 1 : line + len;

		line[len] = 0;
		if (!strstr(line, ": info: "))
			return line;
		line = next;
	}
	return "no message";
}

static int hello_seen(void *ctx, unsigned type, const uint8_t *payload, size_t len)
{
	(void)ctx;
	(void)payload;
	(void)len;
	return type == KT_FRAME_HELLO;
}

int kt_accel_known(const char *cache_dir, enum kt_accel *out, char *why, size_t why_len)
{
	char path[4096], key[4400];
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, why_len, "/dev/kvm: %s", strerror(errno));
		*out = KT_ACCEL_TCG;
		return 0;
	}
	close(fd);
	snprintf(path, sizeof(path), "%s/accel.state", cache_dir);
	if (host_key(key, sizeof(key)) == 0 && read_cache(path, key, out) == 0) {
		snprintf(why, why_len, "%s (cached probe result for this host boot)",
			 *out == KT_ACCEL_KVM ? "KVM probe boot reached the guest agent"
					      : "KVM probe boot got no guest agent contact");
		return 0;
	}
	return -1;
}

int kt_accel_detect(const char *cache_dir, const char *kernel, const char *probe_initrd,
		    enum kt_accel *out, char *why, size_t why_len, struct kt_err *err)
{
	char path[4096], key[4400];
	struct kt_vm_opts o = {0};
	struct kt_vm_outcome res;
	bool have_key, cacheable;

	if (kt_accel_known(cache_dir, out, why, why_len) == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/accel.state", cache_dir);
	have_key = host_key(key, sizeof(key)) == 0;
	o.qemu.kernel = kernel;
	o.qemu.initrd = probe_initrd;
	o.qemu.topo = (struct kt_topo){1, 1, 1, 1};
	o.qemu.accel = KT_ACCEL_KVM;
	o.budget_ms = KT_ACCEL_PROBE_MS;
	o.on_frame = hello_seen;
	if (kt_vm_run(&o, &res, err))
		return kt_err_prefix(err, "KVM probe boot");
	/* Only a verdict about KVM itself is cached: contact, QEMU refusing
	 * KVM, or a guest that never reached the kernel (firmware hang, e.g.
	 * at "Booting from ROM"). A kernel that started and then failed says
	 * nothing about KVM: TCG for now, and the next run probes again. */
	cacheable = res.contact || !res.kernel_seen;
	if (res.contact) {
		*out = KT_ACCEL_KVM;
		snprintf(why, why_len, "KVM probe boot reached the guest agent in %llu ms",
			 (unsigned long long)res.contact_ms);
	} else if (res.kernel_seen) {
		*out = KT_ACCEL_TCG;
		snprintf(why, why_len, "KVM probe boot: the kernel started but the guest agent did "
			 "not answer; not cached");
	} else if (res.watchdog || res.contact_timeout) {
		*out = KT_ACCEL_TCG;
		snprintf(why, why_len, "KVM probe boot got no guest agent contact within %d ms",
			 KT_ACCEL_PROBE_MS);
	} else {
		/* QEMU gave up on KVM by itself; its first complaint says why. */
		*out = KT_ACCEL_TCG;
		snprintf(why, why_len, "KVM probe boot: QEMU exited before guest agent contact: %.160s",
			 first_complaint(res.qemu_stderr));
	}
	if (have_key && cacheable)
		write_cache(path, key, *out);
	return 0;
}
