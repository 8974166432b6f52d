#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include "cpio.h"
#include "elfdeps.h"
#include "initramfs.h"
#include "sha256.h"
#include "strv.h"
#include "util.h"

/* Directories of every base archive (mount points and file homes), names
 * as stored: without the leading '/'. */
static const char *const layout_dirs[] = {
	"dev", "proc", "sys", "sys/fs", "sys/fs/cgroup", "tmp", "run", "ktstr", "bin", "lib",
	"lib64", "usr", "usr/lib", NULL,
};
/* Where the guest's ld.so (no ld.so.cache) finds cache-only libraries. */
#define GUEST_LIBDIR "lib/x86_64-linux-gnu"

/* One file or symlink of the base archive. */
struct item {
	char *guest;     /* stored name, no leading '/' */
	char *host;      /* realpath of the content (for a link: of its target) */
	bool link;       /* symlink to TARGET instead of a copy of HOST */
	char *target;    /* absolute guest path */
	char sha[65];    /* of HOST's content, files only */
};

struct plan {
	struct item *v;
	size_t n, cap;
	struct kt_strv dirs; /* stored names */
};

static unsigned dir_mode(const char *name)
{
	return strcmp(name, "tmp") ? 0755 : 01777;
}

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].guest);
		free(p->v[i].host);
		free(p->v[i].target);
	}
	free(p->v);
	kt_strv_free(&p->dirs);
}

/* Add every parent directory of the stored name NAME to DIRS. */
static void add_parents(struct kt_strv *dirs, const char *name)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", name);
	for (char *s = strchr(buf, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (!kt_strv_has(dirs, buf))
			kt_strv_add(dirs, buf);
		*s = '/';
	}
}

static struct item *find(struct plan *p, const char *guest)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].guest, guest))
			return &p->v[i];
	return NULL;
}

static struct item *push(struct plan *p, const char *guest, const char *host)
{
	struct item *it;

	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 32;
		p->v = kt_xrealloc(p->v, p->cap * sizeof(*p->v));
	}
	it = &p->v[p->n++];
	*it = (struct item){ .guest = kt_xstrdup(guest), .host = kt_xstrdup(host) };
	add_parents(&p->dirs, guest);
	return it;
}

static char *guest_abs(const char *stored)
{
	char *s;

	if (asprintf(&s, "/%s", stored) < 0)
		abort();
	return s;
}

/* Place the host file HOST at GUEST (absolute). A second guest path for
 * content already placed becomes a symlink to the first. */
static int add_file(struct plan *p, const char *guest, const char *host, struct kt_err *err)
{
	char real[PATH_MAX];
	struct item *it;

	if (!realpath(host, real))
		return kt_errf(err, "%s: %s", host, strerror(errno));
	while (*guest == '/')
		guest++;
	if ((it = find(p, guest))) {
		if (strcmp(it->host, real))
			return kt_errf(err, "initramfs: /%s would hold both %s and %s", guest,
				       it->host, real);
		return 0;
	}
	for (size_t i = 0; i < p->n; i++) {
		if (!p->v[i].link && !strcmp(p->v[i].host, real)) {
			char *target = guest_abs(p->v[i].guest);

			it = push(p, guest, real);
			it->link = true;
			it->target = target;
			return 0;
		}
	}
	push(p, guest, real);
	return 0;
}

/* A link at /lib/x86_64-linux-gnu/<name> for a library the guest's ld.so
 * would not otherwise find. */
static int add_cache_link(struct plan *p, const struct kt_elfdep *d, struct kt_err *err)
{
	const char *base = strrchr(d->guest, '/') + 1;
	char name[PATH_MAX];
	struct item *it;

	snprintf(name, sizeof(name), GUEST_LIBDIR "/%s", base);
	if ((it = find(p, name))) {
		if (strcmp(it->host, d->host))
			return kt_errf(err, "initramfs: /%s would hold both %s and %s", name,
				       it->host, d->host);
		return 0;
	}
	it = push(p, name, d->host);
	it->link = true;
	it->target = kt_xstrdup(d->guest);
	return 0;
}

static int add_closure(struct plan *p, const char *bin, struct kt_err *err)
{
	struct kt_elfdeps deps;
	int rc = 0;

	kt_elfdeps_init(&deps);
	if (kt_elfdeps_closure(bin, &deps, err))
		rc = -1;
	for (size_t i = 0; i < deps.n && !rc; i++)
		rc = add_file(p, deps.v[i].guest, deps.v[i].host, err);
	for (size_t i = 0; i < deps.n && !rc; i++)
		if (deps.v[i].cache_only)
			rc = add_cache_link(p, &deps.v[i], err);
	kt_elfdeps_free(&deps);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int build_plan(struct plan *p, const char *agent, const char *const *extra,
		      struct kt_err *err)
{
	for (int i = 0; layout_dirs[i]; i++)
		kt_strv_add(&p->dirs, layout_dirs[i]);
	if (add_file(p, "/init", agent, err))
		return -1;
	for (size_t i = 0; extra && extra[i]; i++) {
		const char *slash = strrchr(extra[i], '/'), *base = slash ? slash + 1 : extra[i];
		char guest[PATH_MAX];

		if (!*base)
			return kt_errf(err, "initramfs: extra binary '%s' has no file name", extra[i]);
		snprintf(guest, sizeof(guest), "/bin/%s", base);
		if (find(p, guest + 1))
			return kt_errf(err, "initramfs: two extra binaries named %s", base);
		if (add_file(p, guest, extra[i], err))
			return -1;
	}
	if (add_closure(p, agent, err))
		return -1;
	for (size_t i = 0; extra && extra[i]; i++)
		if (add_closure(p, extra[i], err))
			return -1;
	/* A parent sorts before its children: it is their prefix. */
	qsort(p->dirs.v, p->dirs.n, sizeof(*p->dirs.v), cmp_str);
	for (size_t i = 0; i < p->n; i++)
		if (!p->v[i].link && kt_sha256_file(p->v[i].host, p->v[i].sha, err))
			return -1;
	return 0;
}

/* The content key: one line per entry, exactly what will be written. */
static void plan_key(const struct plan *p, char hex[65])
{
	struct kt_sha256 s;
	uint8_t d[32];
	char line[2 * PATH_MAX + 128];

	kt_sha256_init(&s);
	kt_sha256_update(&s, KT_INITRAMFS_LAYOUT "\n", strlen(KT_INITRAMFS_LAYOUT) + 1);
	for (size_t i = 0; i < p->dirs.n; i++) {
		int n = snprintf(line, sizeof(line), "dir %s %o\n", p->dirs.v[i],
				 dir_mode(p->dirs.v[i]));

		kt_sha256_update(&s, line, (size_t)n);
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct item *it = &p->v[i];
		int n = it->link ? snprintf(line, sizeof(line), "link %s %s\n", it->guest, it->target)
				 : snprintf(line, sizeof(line), "file %s 755 %s\n", it->guest, it->sha);

		kt_sha256_update(&s, line, (size_t)n);
	}
	kt_sha256_final(&s, d);
	kt_sha256_hex(d, hex);
}

static int write_plan(const struct plan *p, FILE *f, const char *label, struct kt_err *err)
{
	struct kt_cpio *c = kt_cpio_new(f, label);
	int rc = 0;

	if (!c)
		return kt_errf(err, "%s: out of memory", label);
	for (size_t i = 0; i < p->dirs.n && !rc; i++)
		rc = kt_cpio_dir(c, p->dirs.v[i], dir_mode(p->dirs.v[i]), err);
	if (!rc)
		rc = kt_cpio_chardev(c, "dev/console", 0600, 5, 1, err);
	if (!rc)
		rc = kt_cpio_chardev(c, "dev/null", 0666, 1, 3, err);
	for (size_t i = 0; i < p->n && !rc; i++) {
		const struct item *it = &p->v[i];

		rc = it->link ? kt_cpio_symlink(c, it->guest, it->target, err)
			      : kt_cpio_file_path(c, it->guest, 0755, it->host, err);
	}
	if (!rc)
		rc = kt_cpio_finish(c, err);
	kt_cpio_free(c);
	return rc;
}

/* Write the archive to a temporary file in DIR and rename it to PATH. */
static int write_atomic(const struct plan *p, const char *dir, const char *path,
			struct kt_err *err)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.tmp.XXXXXX", dir) >= sizeof(tmp))
		return kt_errf(err, "%s: path too long", dir);
	fd = mkstemp(tmp);
	if (fd < 0)
		return kt_errf(err, "%s: cannot create a temporary file: %s", dir, strerror(errno));
	if (fchmod(fd, 0644) || !(f = fdopen(fd, "w"))) {
		rc = kt_errf(err, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return rc;
	}
	rc = write_plan(p, f, tmp, err);
	if (!rc && fsync(fd))
		rc = kt_errf(err, "%s: fsync: %s", tmp, strerror(errno));
	if (fclose(f) && !rc)
		rc = kt_errf(err, "%s: close: %s", tmp, strerror(errno));
	if (!rc && rename(tmp, path))
		rc = kt_errf(err, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
	if (rc)
		unlink(tmp);
	return rc;
}

int kt_initramfs_base(const char *cache_dir, const char *agent_path,
		      const char *const *extra_bins, char *out_path, size_t out_len,
		      struct kt_err *err)
{
	struct plan p = {0};
	char dir[PATH_MAX], key[65];
	struct stat st;
	int rc = -1;

	if (!cache_dir || !agent_path)
		return kt_errf(err, "initramfs: cache directory and agent are required");
	kt_strv_init(&p.dirs);
	if (build_plan(&p, agent_path, extra_bins, err))
		goto out;
	plan_key(&p, key);
	if ((size_t)snprintf(dir, sizeof(dir), "%s/initramfs", cache_dir) >= sizeof(dir) ||
	    (size_t)snprintf(out_path, out_len, "%s/%s.cpio", dir, key) >= out_len) {
		kt_errf(err, "%s: cache path too long", cache_dir);
		goto out;
	}
	if (stat(out_path, &st) == 0 && S_ISREG(st.st_mode)) {
		rc = 0; /* built before: the name is the content */
		goto out;
	}
	if (kt_mkdir_p(dir, err) == 0)
		rc = write_atomic(&p, dir, out_path, err);
out:
	plan_free(&p);
	if (rc)
		kt_err_prefix(err, "initramfs for %s", agent_path);
	return rc;
}

/* ---- per-entry archive ---- */

static bool layout_dir(const char *name)
{
	for (int i = 0; layout_dirs[i]; i++)
		if (!strcmp(layout_dirs[i], name))
			return true;
	return false;
}

static int copy_base(FILE *in, const char *base_path, FILE *out, const char *out_path,
		     struct kt_err *err)
{
	char buf[65536], magic[6];
	struct stat st;
	off_t done = 0;
	size_t n;

	if (fstat(fileno(in), &st) || !S_ISREG(st.st_mode))
		return kt_errf(err, "%s: not a regular file", base_path);
	if (st.st_size < 6 || st.st_size % 4)
		return kt_errf(err, "%s: size %lld is no whole newc archive (needs a multiple of 4)",
			       base_path, (long long)st.st_size);
	if (fread(magic, 1, 6, in) != 6 || memcmp(magic, "070701", 6))
		return kt_errf(err, "%s: not a newc cpio archive", base_path);
	rewind(in);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		if (fwrite(buf, 1, n, out) != n)
			return kt_errf(err, "%s: write error: %s", out_path, strerror(errno));
		done += (off_t)n;
	}
	if (ferror(in) || done != st.st_size)
		return kt_errf(err, "%s: read error or size changed while copying", base_path);
	return 0;
}

static int write_entry_files(FILE *out, const char *out_path, const struct kt_initramfs_file *files,
			     size_t n, struct kt_err *err)
{
	struct kt_cpio *c = kt_cpio_new(out, out_path);
	struct kt_strv dirs;
	int rc = 0;

	if (!c)
		return kt_errf(err, "%s: out of memory", out_path);
	kt_strv_init(&dirs);
	for (size_t i = 0; i < n && !rc; i++) {
		const struct kt_initramfs_file *f = &files[i];
		const char *name = f->path ? f->path : "";
		struct kt_strv parents;

		if (f->mode & ~07777u) {
			rc = kt_errf(err, "%s: mode %#o of %s is not permission bits", out_path,
				     f->mode, name);
			break;
		}
		while (*name == '/')
			name++;
		kt_strv_init(&parents);
		add_parents(&parents, name);
		for (size_t j = 0; j < parents.n && !rc; j++) {
			if (layout_dir(parents.v[j]) || kt_strv_has(&dirs, parents.v[j]))
				continue;
			kt_strv_add(&dirs, parents.v[j]);
			rc = kt_cpio_dir(c, parents.v[j], 0755, err);
		}
		kt_strv_free(&parents);
		if (!rc)
			rc = kt_cpio_file(c, name, f->mode, f->data, f->len, err);
	}
	if (!rc)
		rc = kt_cpio_finish(c, err);
	kt_strv_free(&dirs);
	kt_cpio_free(c);
	return rc;
}

int kt_initramfs_compose(const char *base_path, const struct kt_initramfs_file *files, size_t n,
			 const char *out_path, struct kt_err *err)
{
	FILE *in, *out;
	int rc;

	if (!(in = fopen(base_path, "rbe")))
		return kt_errf(err, "%s: cannot open: %s", base_path, strerror(errno));
	if (!(out = fopen(out_path, "wbe"))) {
		fclose(in);
		return kt_errf(err, "%s: cannot create: %s", out_path, strerror(errno));
	}
	rc = copy_base(in, base_path, out, out_path, err);
	fclose(in);
	if (!rc)
		rc = write_entry_files(out, out_path, files, n, err);
	if (fclose(out) && !rc)
		rc = kt_errf(err, "%s: close: %s", out_path, strerror(errno));
	if (rc)
		unlink(out_path);
	return rc;
}
