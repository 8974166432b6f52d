#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "frame.h"
#include "util.h"
#include "vm.h"

/* After the guest said it is done, QEMU gets this long to power off. */
#define KT_VM_EXIT_GRACE_MS 5000
/* QEMU gets this long to create its control socket. */
#define KT_VM_SOCKET_WAIT_MS 10000

struct vm {
	const struct kt_vm_opts *o;
	struct kt_vm_outcome *out;
	pid_t pid;
	int con, errfd, ctl;
	FILE *log;
	size_t tail_len, err_len;
	struct kt_frame_dec *dec;
	uint64_t t0;
	bool exited;
};

static void tail_append(struct vm *vm, const char *buf, size_t n)
{
	char *t = vm->out->console_tail;
	const size_t cap = KT_CONSOLE_TAIL - 1;

	if (n >= cap) {
		buf += n - cap;
		n = cap;
	}
	if (vm->tail_len + n > cap) {
		size_t drop = vm->tail_len + n - cap;

		memmove(t, t + drop, vm->tail_len - drop);
		vm->tail_len -= drop;
	}
	for (size_t i = 0; i < n; i++) /* keep it a C string */
		t[vm->tail_len + i] = buf[i] ? buf[i] : '.';
	vm->tail_len += n;
	t[vm->tail_len] = 0;
	if (!vm->out->kernel_seen && strstr(t, "Linux version "))
		vm->out->kernel_seen = true;
	if (!vm->out->panic && strstr(t, "Kernel panic"))
		vm->out->panic = true;
	/* The decompressor's last words; it spins forever after them. */
	if (!vm->out->halted && strstr(t, "-- System halted"))
		vm->out->halted = true;
}

static void on_console(struct vm *vm)
{
	char buf[4096];
	ssize_t n = read(vm->con, buf, sizeof(buf));

	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			close(vm->con);
			vm->con = -1;
		}
		return;
	}
	if (vm->log)
		fwrite(buf, 1, n, vm->log);
	tail_append(vm, buf, n);
}

static void on_stderr(struct vm *vm)
{
	char buf[1024];
	ssize_t n = read(vm->errfd, buf, sizeof(buf));
	size_t room = sizeof(vm->out->qemu_stderr) - 1 - vm->err_len;

	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			close(vm->errfd);
			vm->errfd = -1;
		}
		return;
	}
	if ((size_t)n > room)
		n = room;
	memcpy(vm->out->qemu_stderr + vm->err_len, buf, n);
	vm->err_len += n;
	vm->out->qemu_stderr[vm->err_len] = 0;
}

/* Hand every complete frame to the caller; note every rejected one. */
static void take_frames(struct vm *vm)
{
	const uint8_t *payload;
	struct kt_err e;
	unsigned type;
	size_t len;
	int r;

	while ((r = kt_frame_dec_next(vm->dec, &type, &payload, &len, &e)) != 0) {
		if (r < 0) {
			snprintf(vm->out->frame_error, sizeof(vm->out->frame_error), "%s", e.msg);
			vm->out->frames_rejected++;
			continue;
		}
		if (type == KT_FRAME_HELLO && !vm->out->contact) {
			vm->out->contact = true;
			vm->out->contact_ms = kt_now_ms() - vm->t0;
		}
		if (vm->o->on_frame && vm->o->on_frame(vm->o->ctx, type, payload, len))
			vm->out->done = true;
	}
}

static void on_ctl(struct vm *vm)
{
	uint8_t buf[65536];
	ssize_t n = read(vm->ctl, buf, sizeof(buf));
	struct kt_err e;

	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			close(vm->ctl);
			vm->ctl = -1;
		}
		return;
	}
	if (kt_frame_dec_feed(vm->dec, buf, n, &e)) {
		/* A backlog this large is garbage: start over. */
		snprintf(vm->out->frame_error, sizeof(vm->out->frame_error), "%s", e.msg);
		kt_frame_dec_free(vm->dec);
		vm->dec = kt_frame_dec_new();
		vm->out->frames_rejected++;
		return;
	}
	take_frames(vm);
}

static void close_pair(int p[2])
{
	close(p[0]);
	close(p[1]);
}

static int spawn(struct vm *vm, char **argv, struct kt_err *err)
{
	int outp[2], errp[2], devnull;
	pid_t parent = getpid();

	if (pipe2(outp, O_CLOEXEC))
		return kt_errf(err, "qemu: pipe: %s", strerror(errno));
	if (pipe2(errp, O_CLOEXEC)) {
		close_pair(outp);
		return kt_errf(err, "qemu: pipe: %s", strerror(errno));
	}
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	vm->pid = devnull < 0 ? -1 : fork();
	if (vm->pid < 0) {
		kt_errf(err, "qemu: %s: %s", devnull < 0 ? "/dev/null" : "fork", strerror(errno));
		close_pair(outp);
		close_pair(errp);
		if (devnull >= 0)
			close(devnull);
		return -1;
	}
	if (vm->pid == 0) {
		/* QEMU must not outlive us, whatever kills us; if we are
		 * already gone, the death signal was missed: leave now. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(devnull, 0);
		dup2(outp[1], 1);
		dup2(errp[1], 2);
		execvp(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(devnull);
	close(outp[1]);
	close(errp[1]);
	vm->con = outp[0];
	vm->errfd = errp[0];
	return 0;
}

static bool reap(struct vm *vm, int flags)
{
	int st;

	if (vm->exited)
		return true;
	if (waitpid(vm->pid, &st, flags) == vm->pid) {
		vm->exited = true;
		vm->out->exit_status = st;
		vm->out->total_ms = kt_now_ms() - vm->t0;
	}
	return vm->exited;
}

static void kill_guest(struct vm *vm)
{
	if (!vm->exited) {
		kill(vm->pid, SIGKILL);
		reap(vm, 0);
	}
}

/* QEMU serves the socket and waits for us before it starts the guest. */
static int connect_ctl(struct vm *vm, const char *path, struct kt_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t deadline = kt_now_ms() + KT_VM_SOCKET_WAIT_MS;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return kt_errf(err, "qemu: socket: %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			vm->ctl = fd;
			return 0;
		}
		close(fd);
		if (reap(vm, WNOHANG))
			return kt_errf(err, "qemu exited before it opened the control socket %s", path);
		if (kt_now_ms() > deadline)
			return kt_errf(err, "qemu did not open the control socket %s within %d ms", path,
				       KT_VM_SOCKET_WAIT_MS);
		usleep(5000);
	}
}

static void drain_stderr(struct vm *vm)
{
	while (vm->errfd >= 0)
		on_stderr(vm);
}

int kt_vm_run(const struct kt_vm_opts *o, struct kt_vm_outcome *out, struct kt_err *err)
{
	char dir[] = "/tmp/ktstr-vm-XXXXXX", sock[64];
	struct kt_qemu_cfg cfg = o->qemu;
	struct kt_strv argv;
	struct vm vm = {.o = o, .out = out, .con = -1, .errfd = -1, .ctl = -1};
	uint64_t budget, contact, done_at = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!mkdtemp(dir))
		return kt_errf(err, "qemu: mkdtemp %s: %s", dir, strerror(errno));
	snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
	cfg.ctl_socket = sock;
	kt_strv_init(&argv);
	if (kt_qemu_argv(&cfg, &argv, err))
		goto out_dir;
	if (o->console_path) {
		vm.log = fopen(o->console_path, "w");
		if (!vm.log) {
			kt_errf(err, "console log %s: %s", o->console_path, strerror(errno));
			goto out_argv;
		}
	}
	vm.dec = kt_frame_dec_new();
	vm.t0 = kt_now_ms();
	if (spawn(&vm, argv.v, err))
		goto out_close;
	if (connect_ctl(&vm, sock, err)) {
		kill_guest(&vm);
		drain_stderr(&vm);
		if (out->qemu_stderr[0])
			kt_err_prefix(err, "%s", out->qemu_stderr);
		goto out_close;
	}
	budget = vm.t0 + o->budget_ms;
	contact = vm.t0 + (o->contact_timeout_ms ? o->contact_timeout_ms : o->budget_ms);

	while (!reap(&vm, WNOHANG) || vm.con >= 0 || vm.errfd >= 0 || vm.ctl >= 0) {
		struct pollfd p[3] = {{vm.con, POLLIN, 0}, {vm.errfd, POLLIN, 0}, {vm.ctl, POLLIN, 0}};
		uint64_t now = kt_now_ms();

		if (vm.exited && now > vm.t0 + out->total_ms + 1000)
			break; /* a stray descriptor holder; QEMU itself is gone */
		if (!vm.exited) {
			if (now >= budget) {
				out->watchdog = true;
				kill_guest(&vm);
			} else if (!out->contact && now >= contact) {
				out->contact_timeout = true;
				kill_guest(&vm);
			} else if (out->halted) {
				kill_guest(&vm);
			} else if (out->done) {
				if (!done_at)
					done_at = now;
				else if (now > done_at + KT_VM_EXIT_GRACE_MS)
					kill_guest(&vm);
			}
		}
		if (poll(p, 3, 100) < 0 && errno != EINTR) {
			kt_errf(err, "qemu: poll: %s", strerror(errno));
			kill_guest(&vm);
			goto out_close;
		}
		if (p[0].revents)
			on_console(&vm);
		if (p[1].revents)
			on_stderr(&vm);
		if (p[2].revents)
			on_ctl(&vm);
	}
	if (!vm.exited)
		kill_guest(&vm);
	/* The stream ended inside a frame: skip it and salvage what follows. */
	while (!out->done && kt_frame_dec_skip(vm.dec)) {
		snprintf(out->frame_error, sizeof(out->frame_error),
			 "control channel ended inside a frame");
		out->frames_rejected++;
		take_frames(&vm);
	}
	rc = 0;
out_close:
	if (vm.con >= 0)
		close(vm.con);
	if (vm.errfd >= 0)
		close(vm.errfd);
	if (vm.ctl >= 0)
		close(vm.ctl);
	if (vm.log)
		fclose(vm.log);
	kt_frame_dec_free(vm.dec);
out_argv:
	kt_strv_free(&argv);
out_dir:
	unlink(sock);
	rmdir(dir);
	return rc;
}
