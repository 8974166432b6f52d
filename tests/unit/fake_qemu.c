/* A stand-in for qemu-system-x86_64 in the launcher tests: it serves the
 * control socket named on its command line like QEMU does (server, waits
 * for the host), prints a console, and plays the guest side of one outcome
 * chosen by FAKE_QEMU_MODE. Only the launcher's view is faked; the code
 * under test (worker/vm.c) is the real one. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "frame.h"
#include "ktstr.pb-c.h"

static void send_frame(int fd, unsigned type, const void *p, size_t len)
{
	uint8_t *f;
	size_t n;
	struct kt_err e;

	if (kt_frame_encode(type, p, len, &f, &n, &e) == 0) {
		if (write(fd, f, n) != (ssize_t)n)
			exit(3);
		free(f);
	}
}

static void hello(int fd)
{
	Ktstr__Hello h = KTSTR__HELLO__INIT;
	uint8_t buf[64];

	h.version = 1;
	h.kernel_release = "fake";
	send_frame(fd, KT_FRAME_HELLO, buf, ktstr__hello__pack(&h, buf));
}

static void result(int fd)
{
	Ktstr__ScenarioResult r = KTSTR__SCENARIO_RESULT__INIT;
	uint8_t buf[64];

	r.ok = 1;
	r.run_ms = 5;
	send_frame(fd, KT_FRAME_RESULT, buf, ktstr__scenario_result__pack(&r, buf));
}

int main(int argc, char **argv)
{
	const char *mode = getenv("FAKE_QEMU_MODE");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int ls, fd;

	if (!mode)
		mode = "";
	if (strcmp(mode, "exit-early") == 0) {
		fprintf(stderr, "fake-qemu: error: cannot start\n");
		return 1;
	}
	for (int i = 1; i + 1 < argc; i++) {
		const char *p = strstr(argv[i + 1], "socket,id=ctl,path=");

		if (strcmp(argv[i], "-chardev") == 0 && p) {
			snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p + 19);
			sa.sun_path[strcspn(sa.sun_path, ",")] = 0;
		}
	}
	ls = socket(AF_UNIX, SOCK_STREAM, 0);
	if (!sa.sun_path[0] || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 1))
		return 2;
	fd = accept(ls, NULL, NULL);
	if (fd < 0)
		return 2;
	printf("Linux version 0.0-fake\n");
	fflush(stdout);
	if (strcmp(mode, "pass") == 0) {
		/* Noise, a good Hello, a corrupted frame, then the result. */
		if (write(fd, "noise", 5) != 5)
			return 3;
		hello(fd);
		send_frame(fd, KT_FRAME_LOG, "\x0a\x02hi", 4);
		if (write(fd, "KTSF\x01\x03\0\0\x04\0\0\0\0\0\0\0abcd", 20) != 20)
			return 3;
		result(fd);
		sleep(60); /* the launcher stops us once the guest is done */
	} else if (strcmp(mode, "hang-silent") == 0) {
		sleep(60);
	} else if (strcmp(mode, "hang-after-hello") == 0) {
		hello(fd);
		sleep(60);
	} else if (strcmp(mode, "halt") == 0) {
		printf("ZSTD-compressed data is corrupt\n\n -- System halted");
		fflush(stdout);
		sleep(60);
	} else if (strcmp(mode, "panic") == 0) {
		printf("Kernel panic - not syncing: VFS: Unable to mount root fs\n");
	} else if (strcmp(mode, "stalled-frame") == 0) {
		/* A header whose length promises more than ever comes, then a
		 * Hello: salvaged at the end of the stream. */
		if (write(fd, "KTSF\x01\x03\0\0\x00\x00\x10\x00\0\0\0\0", 16) != 16)
			return 3;
		hello(fd);
	}
	return 0;
}
