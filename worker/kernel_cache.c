#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "apt_mirror.h"
#include "kernel_cache.h"
#include "sha256.h"
#include "util.h"

#define IMAGE_MAX (512ull << 20)  /* larger than any kernel image we expect */
#define CONFIG_MAX (16u << 20)     /* a .config is ~130 KiB */
#define VERSION_STR_MAX 256        /* bytes of the header's version string */
#define APT_MAX_AGE (6 * 3600)     /* refresh the package lists this often */
#define ETC_APT "/etc/apt"

/* ---- small file helpers ---- */

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Copy SRC (a regular file of at most MAX bytes) to DST, synced. */
static int copy_file(const char *src, const char *dst, uint64_t max, struct kt_err *err)
{
	int in, out, r = 0;
	uint64_t total = 0;
	char buf[65536];

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return kt_errf(err, "%s: %s", src, strerror(errno));
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		close(in);
		return kt_errf(err, "%s: %s", dst, strerror(errno));
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf)), w = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = kt_errf(err, "%s: read: %s", src, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > max) {
			r = kt_errf(err, "%s: larger than %" PRIu64 " bytes", src, max);
			break;
		}
		while (w < n) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				r = kt_errf(err, "%s: write: %s", dst, strerror(errno));
				goto out;
			}
			w += k;
		}
	}
out:
	if (r == 0 && fsync(out) < 0)
		r = kt_errf(err, "%s: fsync: %s", dst, strerror(errno));
	close(in);
	close(out);
	return r;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

static int rmtree(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

static bool is_hex(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* ---- the cache directory and its locks ---- */

int kt_kcache_dir(char *buf, size_t len, struct kt_err *err)
{
	const char *env = getenv("KTSTR_CACHE_DIR"), *suffix = "";
	char cwd[PATH_MAX] = "";
	int n;

	if (!env || !*env) {
		env = getenv("XDG_CACHE_HOME");
		suffix = "/ktstr";
		if (!env || env[0] != '/') { /* the XDG spec ignores relative paths */
			env = getenv("HOME");
			suffix = "/.cache/ktstr";
		}
	}
	if (!env || !*env)
		return kt_errf(err, "no kernel cache directory: set KTSTR_CACHE_DIR or HOME");
	if (env[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return kt_errf(err, "getcwd: %s", strerror(errno));
	n = snprintf(buf, len, "%s%s%s%s", cwd, cwd[0] ? "/" : "", env, suffix);
	if (n < 0 || (size_t)n >= len)
		return kt_errf(err, "kernel cache directory %s%s: path too long", env, suffix);
	return 0;
}

/* The cache-wide lock, held while entries appear or disappear and while
 * work directories are made or swept. Returns the fd or -1. */
static int cache_lock(const char *cache, struct kt_err *err)
{
	char path[PATH_MAX];
	int fd;

	if (kt_mkdir_p(cache, err) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/lock", cache);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return kt_errf(err, "%s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return kt_errf(err, "lock %s: %s", path, strerror(errno));
		}
	}
	return fd;
}

/* A work directory under tmp/, flocked by its owner for its lifetime, so a
 * later process can tell the debris of a crashed one (lock free, or no lock
 * file at all: both are made under the cache lock) from a live one. */
struct workdir {
	char path[PATH_MAX];
	int fd;
};

static void sweep(const char *cache)
{
	char dir[PATH_MAX], path[PATH_MAX + 300];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/tmp", cache);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/lock", dir, de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd); /* alive */
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		rmtree(path);
		if (fd >= 0)
			close(fd);
	}
	closedir(d);
}

static int work_create(const char *cache, struct workdir *w, struct kt_err *err)
{
	char path[PATH_MAX + 8];
	int lock, r = -1;

	w->fd = -1;
	lock = cache_lock(cache, err);
	if (lock < 0)
		return -1;
	sweep(cache);
	snprintf(w->path, sizeof(w->path), "%s/tmp", cache);
	if (kt_mkdir_p(w->path, err) < 0)
		goto out;
	snprintf(w->path, sizeof(w->path), "%s/tmp/XXXXXX", cache);
	if (!mkdtemp(w->path)) {
		kt_errf(err, "mkdtemp %s: %s", w->path, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/lock", w->path);
	w->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (w->fd < 0 || flock(w->fd, LOCK_EX | LOCK_NB) < 0) {
		kt_errf(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (r < 0 && w->fd >= 0) {
		rmtree(w->path);
		close(w->fd);
	}
	close(lock);
	return r;
}

static void work_destroy(struct workdir *w)
{
	rmtree(w->path);
	close(w->fd);
}

/* ---- the bzImage header ---- */

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int kt_bzimage_parse(const uint8_t *buf, size_t len, struct kt_bzimage *out, struct kt_err *err)
{
	size_t setup, off, lim, n;
	const uint8_t *nul;
	unsigned proto, kv;

	memset(out, 0, sizeof(*out));
	if (len < 0x260)
		return kt_errf(err, "%zu bytes: too short for an x86 boot header, not a bzImage", len);
	if (memcmp(buf + 0x202, "HdrS", 4))
		return kt_errf(err, "no \"HdrS\" magic at offset 0x202: not a bzImage");
	proto = le16(buf + 0x206);
	if (proto < 0x200)
		return kt_errf(err, "boot protocol %u.%02u is too old", proto >> 8, proto & 0xff);
	if (!(buf[0x211] & 1))
		return kt_errf(err, "a zImage (LOADED_HIGH not set), not a bzImage");
	setup = ((size_t)(buf[0x1f1] ? buf[0x1f1] : 4) + 1) * 512;
	out->min_size = setup + (uint64_t)le32(buf + 0x1f4) * 16;
	kv = le16(buf + 0x20e);
	if (kv == 0)
		return 0; /* no version string: the caller falls back */
	off = (size_t)kv + 0x200;
	lim = setup < len ? setup : len;
	if (off >= lim)
		return kt_errf(err, "kernel_version pointer 0x%x is outside the setup code (%zu bytes)",
			       kv, lim);
	if (lim - off > VERSION_STR_MAX)
		lim = off + VERSION_STR_MAX;
	nul = memchr(buf + off, 0, lim - off);
	if (!nul)
		return kt_errf(err, "version string at 0x%zx is not terminated within %zu bytes", off,
			       lim - off);
	for (const uint8_t *p = buf + off; p < nul; p++)
		if (*p < 0x20 || *p > 0x7e)
			return kt_errf(err, "version string at 0x%zx has a non-printable byte 0x%02x",
				       off, *p);
	n = strcspn((const char *)buf + off, " ");
	if (n == 0 || n >= sizeof(out->release))
		return kt_errf(err, "version string at 0x%zx: release of %zu bytes", off, n);
	memcpy(out->release, buf + off, n);
	out->release[n] = 0;
	return 0;
}

/* Check that PATH is a whole bzImage: header parses and the file is as long
 * as the header says (a truncated copy is not). */
static int image_check(const char *path, struct kt_bzimage *bz, uint64_t *size, struct kt_err *err)
{
	uint8_t *head;
	struct stat st;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kt_errf(err, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return kt_errf(err, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > IMAGE_MAX) {
		close(fd);
		return kt_errf(err, "%s: %jd bytes, larger than any kernel image", path,
			       (intmax_t)st.st_size);
	}
	head = kt_xcalloc(KT_BZIMAGE_HEAD, 1);
	n = pread(fd, head, KT_BZIMAGE_HEAD, 0);
	close(fd);
	r = n < 0 ? kt_errf(err, "read: %s", strerror(errno))
		  : kt_bzimage_parse(head, (size_t)n, bz, err);
	free(head);
	if (r < 0)
		return kt_err_prefix(err, "%s", path);
	if ((uint64_t)st.st_size < bz->min_size)
		return kt_errf(err, "%s: truncated bzImage: %jd bytes, the header says at least %" PRIu64,
			       path, (intmax_t)st.st_size, bz->min_size);
	*size = (uint64_t)st.st_size;
	return 0;
}

/* ---- kernel config ---- */

int kt_kconfig_parse(const char *text, size_t len, int *sched_ext, int *btf, struct kt_err *err)
{
	const char *p = text, *end = text + len;
	size_t configs = 0;

	*sched_ext = *btf = 0;
	if (memchr(text, 0, len))
		return kt_errf(err, "a NUL byte: not a kernel config");
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n;

		if (!eol)
			eol = end;
		n = (size_t)(eol - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n > 7 && !memcmp(p, "CONFIG_", 7))
			configs++;
		if (n == 24 && !memcmp(p, "CONFIG_SCHED_CLASS_EXT=y", 24))
			*sched_ext = 1;
		if (n == 23 && !memcmp(p, "CONFIG_DEBUG_INFO_BTF=y", 23))
			*btf = 1;
		p = eol < end ? eol + 1 : end;
	}
	if (!configs)
		return kt_errf(err, "no CONFIG_ line: not a kernel config");
	return 0;
}

static int config_check(const char *path, int *sched_ext, int *btf, struct kt_err *err)
{
	size_t len;
	char *text;
	int r;

	if (kt_read_file(path, CONFIG_MAX, &text, &len, err) < 0)
		return -1;
	r = kt_kconfig_parse(text, len, sched_ext, btf, err);
	free(text);
	return r < 0 ? kt_err_prefix(err, "%s", path) : 0;
}

/* ---- the meta file ---- */

enum { M_SHA, M_VERSION, M_SOURCE, M_SIZE, M_SCHED_EXT, M_BTF, M_FETCHED_AT, M_COUNT };
static const char *const meta_keys[M_COUNT] = {
	"sha256", "version", "source", "size", "has_sched_ext", "has_btf", "fetched_at",
};

static const char *flag_str(int v)
{
	return v < 0 ? "unknown" : v ? "1" : "0";
}

static bool sha_ok(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && !(*s >= 'a' && *s <= 'f'))
			return false;
	return true;
}

int kt_kmeta_format(const struct kt_kernel *k, char *buf, size_t len, struct kt_err *err)
{
	int n;

	if (!sha_ok(k->sha256))
		return kt_errf(err, "meta: sha256 \"%.70s\" is not 64 lower-case hex digits", k->sha256);
	if (!k->version[0] || !kt_printable(k->version) || !k->source[0] || !kt_printable(k->source))
		return kt_errf(err, "meta: version or source is empty or has a control character");
	if (k->has_sched_ext < -1 || k->has_sched_ext > 1 || k->has_btf < -1 || k->has_btf > 1 ||
	    k->fetched_at < 0)
		return kt_errf(err, "meta: flag or time out of range");
	n = snprintf(buf, len,
		     "sha256=%s\nversion=%s\nsource=%s\nsize=%" PRIu64
		     "\nhas_sched_ext=%s\nhas_btf=%s\nfetched_at=%" PRId64 "\n",
		     k->sha256, k->version, k->source, k->size, flag_str(k->has_sched_ext),
		     flag_str(k->has_btf), k->fetched_at);
	if (n < 0 || (size_t)n >= len)
		return kt_errf(err, "meta: more than %zu bytes", len);
	return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || strlen(s) > 20)
		return -1;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

static int parse_flag(const char *s, int *v)
{
	if (!strcmp(s, "1"))
		*v = 1;
	else if (!strcmp(s, "0"))
		*v = 0;
	else if (!strcmp(s, "unknown"))
		*v = -1;
	else
		return -1;
	return 0;
}

static int meta_value(struct kt_kernel *k, int key, const char *v)
{
	uint64_t u;

	switch (key) {
	case M_SHA:
		if (!sha_ok(v))
			return -1;
		memcpy(k->sha256, v, 65);
		return 0;
	case M_VERSION:
	case M_SOURCE: {
		char *dst = key == M_VERSION ? k->version : k->source;
		size_t cap = key == M_VERSION ? sizeof(k->version) : sizeof(k->source);

		if (!*v || strlen(v) >= cap || !kt_printable(v))
			return -1;
		strcpy(dst, v);
		return 0;
	}
	case M_SIZE:
		return parse_u64(v, &k->size);
	case M_SCHED_EXT:
		return parse_flag(v, &k->has_sched_ext);
	case M_BTF:
		return parse_flag(v, &k->has_btf);
	default:
		if (parse_u64(v, &u) < 0 || u > INT64_MAX)
			return -1;
		k->fetched_at = (int64_t)u;
		return 0;
	}
}

int kt_kmeta_parse(const char *buf, size_t len, struct kt_kernel *k, struct kt_err *err)
{
	bool seen[M_COUNT] = {0};
	const char *p = buf, *end = buf + len;
	char line[KT_KMETA_MAX];
	int lineno = 0;

	memset(k, 0, sizeof(*k));
	if (len > KT_KMETA_MAX)
		return kt_errf(err, "meta: %zu bytes, more than %d", len, KT_KMETA_MAX);
	if (memchr(buf, 0, len))
		return kt_errf(err, "meta: a NUL byte");
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		char *eq;
		int key = -1;

		lineno++;
		if (!eol)
			return kt_errf(err, "meta line %d: no final newline", lineno);
		memcpy(line, p, (size_t)(eol - p));
		line[eol - p] = 0;
		p = eol + 1;
		eq = strchr(line, '=');
		if (!eq)
			return kt_errf(err, "meta line %d: expected key=value", lineno);
		*eq = 0;
		for (int i = 0; i < M_COUNT; i++)
			if (!strcmp(line, meta_keys[i]))
				key = i;
		if (key < 0)
			return kt_errf(err, "meta line %d: unknown key \"%.40s\"", lineno, line);
		if (seen[key])
			return kt_errf(err, "meta line %d: %s given twice", lineno, line);
		seen[key] = true;
		if (meta_value(k, key, eq + 1) < 0)
			return kt_errf(err, "meta line %d: bad %s value \"%.80s\"", lineno, line, eq + 1);
	}
	for (int i = 0; i < M_COUNT; i++)
		if (!seen[i])
			return kt_errf(err, "meta: %s missing", meta_keys[i]);
	return 0;
}

/* ---- entries ---- */

static void entry_path(const char *cache, const char *sha, const char *file, char *buf, size_t len)
{
	snprintf(buf, len, "%s/kernels/%s%s%s", cache, sha, file ? "/" : "", file ? file : "");
}

/* Read entry SHA: its meta, checked against the directory name and the
 * image on disk. Returns 1 when the entry vanished (removed meanwhile). */
static int entry_read(const char *cache, const char *sha, struct kt_kernel *k, struct kt_err *err)
{
	char path[PATH_MAX], *text;
	struct stat st;
	size_t len;
	int r;

	entry_path(cache, sha, "meta", path, sizeof(path));
	if (kt_read_file(path, KT_KMETA_MAX, &text, &len, err) < 0) {
		entry_path(cache, sha, NULL, path, sizeof(path));
		if (access(path, F_OK) < 0 && errno == ENOENT)
			return 1;
		goto bad;
	}
	r = kt_kmeta_parse(text, len, k, err);
	free(text);
	if (r < 0)
		goto bad;
	if (strcmp(k->sha256, sha)) {
		kt_errf(err, "meta names sha256 %.12s", k->sha256);
		goto bad;
	}
	entry_path(cache, sha, "vmlinuz", k->image, sizeof(k->image));
	if (stat(k->image, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != k->size) {
		kt_errf(err, "image missing or not %" PRIu64 " bytes", k->size);
		goto bad;
	}
	entry_path(cache, sha, "config", k->config, sizeof(k->config));
	if (!is_file(k->config))
		k->config[0] = 0;
	return 0;
bad:
	return kt_err_prefix(err, "kernel cache entry %.12s (remove it with ktstr-kernel rm %.12s)",
			     sha, sha);
}

static int write_meta(const char *dir, const struct kt_kernel *k, struct kt_err *err)
{
	char text[KT_KMETA_MAX], tmp[PATH_MAX + 16], path[PATH_MAX + 16];

	if (kt_kmeta_format(k, text, sizeof(text), err) < 0)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s/meta.tmp", dir);
	snprintf(path, sizeof(path), "%s/meta", dir);
	if (kt_write_file(tmp, text, strlen(text), err) < 0)
		return -1;
	if (rename(tmp, path) < 0)
		return kt_errf(err, "rename %s: %s", tmp, strerror(errno));
	return 0;
}

static bool is_local(const char *source)
{
	return !strncmp(source, "local:", 6);
}

/* An entry for the same image exists: give it what the new one knows
 * better, a config it lacked, a package source instead of a local path.
 * Called with the cache lock held. */
static int entry_merge(const char *cache, const char *staged, const struct kt_kernel *nk,
		       struct kt_err *err)
{
	char dir[PATH_MAX], from[PATH_MAX + 16], to[PATH_MAX + 16];
	struct kt_kernel e;
	bool changed = false;
	int r;

	r = entry_read(cache, nk->sha256, &e, err);
	if (r != 0)
		return r < 0 ? -1 : kt_errf(err, "kernel cache entry %.12s vanished", nk->sha256);
	entry_path(cache, nk->sha256, NULL, dir, sizeof(dir));
	snprintf(from, sizeof(from), "%s/config", staged);
	if (!e.config[0] && is_file(from)) {
		snprintf(to, sizeof(to), "%s/config", dir);
		if (rename(from, to) < 0)
			return kt_errf(err, "rename %s: %s", from, strerror(errno));
		e.has_sched_ext = nk->has_sched_ext;
		e.has_btf = nk->has_btf;
		changed = true;
	}
	if (is_local(e.source) && !is_local(nk->source)) {
		memcpy(e.source, nk->source, sizeof(e.source));
		changed = true;
	}
	return changed ? write_meta(dir, &e, err) : 0;
}

/* Turn the staged directory STAGED (vmlinuz, maybe config) into an entry:
 * hash and describe it, write its meta, rename it into place (or merge it
 * into the entry that holds the same image already). */
static int entry_install(const char *cache, const char *staged, const char *source,
			 const char *fallback_version, struct kt_kernel *out, struct kt_err *err)
{
	char image[PATH_MAX + 16], config[PATH_MAX + 16], dst[PATH_MAX];
	struct kt_bzimage bz;
	struct kt_kernel k;
	int lock, r;

	memset(&k, 0, sizeof(k));
	snprintf(image, sizeof(image), "%s/vmlinuz", staged);
	snprintf(config, sizeof(config), "%s/config", staged);
	if (image_check(image, &bz, &k.size, err) < 0 || kt_sha256_file(image, k.sha256, err) < 0)
		return -1;
	k.has_sched_ext = k.has_btf = -1;
	if (is_file(config) && config_check(config, &k.has_sched_ext, &k.has_btf, err) < 0)
		return -1;
	snprintf(k.version, sizeof(k.version), "%s",
		 bz.release[0] ? bz.release : fallback_version ? fallback_version : "unknown");
	snprintf(k.source, sizeof(k.source), "%s", source);
	k.fetched_at = (int64_t)time(NULL);
	if (write_meta(staged, &k, err) < 0)
		return -1;
	lock = cache_lock(cache, err);
	if (lock < 0)
		return -1;
	entry_path(cache, "", NULL, dst, sizeof(dst));
	r = kt_mkdir_p(dst, err);
	entry_path(cache, k.sha256, NULL, dst, sizeof(dst));
	if (r == 0 && access(dst, F_OK) == 0)
		r = entry_merge(cache, staged, &k, err);
	else if (r == 0 && rename(staged, dst) < 0)
		r = kt_errf(err, "rename %s to %s: %s", staged, dst, strerror(errno));
	if (r == 0)
		r = entry_read(cache, k.sha256, out, err) ? -1 : 0;
	close(lock);
	return r;
}

/* The one entry whose sha256 starts with PREFIX (lower-cased), by name. */
static int match_prefix(const char *cache, const char *prefix, char sha[65], struct kt_err *err)
{
	char dir[PATH_MAX], low[65];
	struct dirent *de;
	size_t n = strlen(prefix), matches = 0;
	DIR *d;

	if (!is_hex(prefix, 1, 64))
		return kt_errf(err, "\"%s\": not a sha256 prefix (1 to 64 hex digits)", prefix);
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)prefix[i]);
	entry_path(cache, "", NULL, dir, sizeof(dir));
	d = opendir(dir);
	if (!d && errno != ENOENT)
		return kt_errf(err, "%s: %s", dir, strerror(errno));
	while (d && (de = readdir(d))) {
		if (sha_ok(de->d_name) && !strncmp(de->d_name, low, n)) {
			if (!matches++)
				memcpy(sha, de->d_name, 65);
		}
	}
	if (d)
		closedir(d);
	if (matches == 0)
		return kt_errf(err, "no cached kernel has a sha256 starting with %s", low);
	if (matches > 1)
		return kt_errf(err, "sha256 prefix %s is ambiguous: %zu cached kernels match", low,
			       matches);
	return 0;
}

static int by_age(const void *a, const void *b)
{
	const struct kt_kernel *x = a, *y = b;

	if (x->fetched_at != y->fetched_at)
		return x->fetched_at < y->fetched_at ? -1 : 1;
	return strcmp(x->sha256, y->sha256);
}

int kt_kcache_list(const char *cache, struct kt_kernel **out, size_t *n, struct kt_err *err)
{
	struct kt_kernel *v = NULL;
	size_t len = 0, cap = 0;
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	*out = NULL;
	*n = 0;
	entry_path(cache, "", NULL, dir, sizeof(dir));
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : kt_errf(err, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		int r;

		if (!sha_ok(de->d_name))
			continue;
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			v = kt_xrealloc(v, cap * sizeof(*v));
		}
		r = entry_read(cache, de->d_name, &v[len], err);
		if (r < 0) {
			closedir(d);
			free(v);
			return -1;
		}
		len += r == 0;
	}
	closedir(d);
	if (len)
		qsort(v, len, sizeof(*v), by_age);
	*out = v;
	*n = len;
	return 0;
}

int kt_kcache_rm(const char *cache, const char *sha_prefix, struct kt_err *err)
{
	char sha[65], src[PATH_MAX], dst[PATH_MAX + 8];
	struct workdir w;
	int lock, r;

	if (work_create(cache, &w, err) < 0)
		return -1;
	lock = cache_lock(cache, err);
	if (lock < 0) {
		work_destroy(&w);
		return -1;
	}
	r = match_prefix(cache, sha_prefix, sha, err);
	if (r == 0) {
		/* Out of kernels/ in one step; deleting the files can then
		 * take its time without anyone seeing half an entry. */
		entry_path(cache, sha, NULL, src, sizeof(src));
		snprintf(dst, sizeof(dst), "%s/entry", w.path);
		if (rename(src, dst) < 0)
			r = kt_errf(err, "rename %s: %s", src, strerror(errno));
	}
	close(lock);
	work_destroy(&w);
	return r;
}

/* ---- local images ---- */

/* "local:/abs/path", keeping the tail of a path too long to fit. */
static void local_source(const char *abs, char *buf, size_t len)
{
	size_t n = strlen(abs), room = len - 1 - strlen("local:");

	if (n <= room)
		snprintf(buf, len, "local:%s", abs);
	else
		snprintf(buf, len, "local:...%s", abs + n - (room - 3));
	for (char *p = buf; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
}

int kt_kcache_add(const char *cache, const char *path, const char *config, struct kt_kernel *out,
		  struct kt_err *err)
{
	char abs[PATH_MAX], sha[65], source[sizeof(out->source)], dst[PATH_MAX + 32];
	struct kt_bzimage bz;
	struct workdir w;
	uint64_t size;
	int sx, btf, r;

	if (!realpath(path, abs))
		return kt_errf(err, "%s: %s", path, strerror(errno));
	if (image_check(abs, &bz, &size, err) < 0)
		return -1;
	if (config && config_check(config, &sx, &btf, err) < 0)
		return -1;
	if (kt_sha256_file(abs, sha, err) < 0)
		return -1;
	entry_path(cache, sha, NULL, dst, sizeof(dst));
	if (access(dst, F_OK) == 0 && entry_read(cache, sha, out, err) == 0 &&
	    (!config || out->config[0]))
		return 0; /* cached already: no copy */
	local_source(abs, source, sizeof(source));
	if (work_create(cache, &w, err) < 0)
		return -1;
	snprintf(dst, sizeof(dst), "%s/entry", w.path);
	r = mkdir(dst, 0755) < 0 ? kt_errf(err, "mkdir %s: %s", dst, strerror(errno)) : 0;
	snprintf(dst, sizeof(dst), "%s/entry/vmlinuz", w.path);
	if (r == 0)
		r = copy_file(abs, dst, IMAGE_MAX, err);
	snprintf(dst, sizeof(dst), "%s/entry/config", w.path);
	if (r == 0 && config)
		r = copy_file(config, dst, CONFIG_MAX, err);
	snprintf(dst, sizeof(dst), "%s/entry", w.path);
	/* The copy is checked and hashed again: the original may change. */
	if (r == 0)
		r = entry_install(cache, dst, source, NULL, out, err);
	work_destroy(&w);
	return r;
}

/* ---- Debian packages ---- */

/* Which package is "the newest cloud kernel" of a suite. */
struct suite_rule {
	const char *suite, *prefix, *suffix;
};

static const struct suite_rule suite_rules[] = {
	{"sid", "linux-binary-", "-cloud-amd64"},
	{"trixie", "linux-image-", "-cloud-amd64-unsigned"},
	{"bookworm", "linux-image-", "-cloud-amd64-unsigned"},
};
#define N_SUITES (sizeof(suite_rules) / sizeof(suite_rules[0]))

/* The kernel release a kernel image package carries, from its name:
 * linux-image-<rel>[-unsigned] or linux-binary-<rel>; <rel> starts with a
 * digit. Anything else is not a kernel package we know. */
static int pkg_release(const char *pkg, char *rel, size_t len)
{
	const char *r;
	size_t n;

	if (!strncmp(pkg, "linux-image-", 12))
		r = pkg + 12;
	else if (!strncmp(pkg, "linux-binary-", 13))
		r = pkg + 13;
	else
		return -1;
	if (!isdigit((unsigned char)*r) || strlen(pkg) > 100)
		return -1;
	for (const char *p = r; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && !strchr("+-.~", *p))
			return -1;
	n = strlen(r);
	if (n > 9 && !strcmp(r + n - 9, "-unsigned"))
		n -= 9;
	if (n >= len)
		return -1;
	memcpy(rel, r, n);
	rel[n] = 0;
	return 0;
}

static const struct suite_rule *spec_rule(const char *spec)
{
	if (strncmp(spec, "debian:", 7))
		return NULL;
	for (size_t i = 0; i < N_SUITES; i++)
		if (!strcmp(spec + 7, suite_rules[i].suite))
			return &suite_rules[i];
	return NULL;
}

/* The newest kernel package of RULE's suite (caller holds the suite). */
static int newest_kernel(struct kt_apt *a, const struct suite_rule *rule, char *pkg, size_t plen,
			 char *ver, size_t vlen, struct kt_err *err)
{
	struct kt_strv all, ok;
	char rel[128];
	int r;

	kt_strv_init(&all);
	kt_strv_init(&ok);
	r = kt_apt_pkgnames(a, rule->prefix, &all, err);
	for (size_t i = 0; r == 0 && i < all.n; i++) {
		size_t n = strlen(all.v[i]), k = strlen(rule->suffix);

		if (n > k && !strcmp(all.v[i] + n - k, rule->suffix) &&
		    pkg_release(all.v[i], rel, sizeof(rel)) == 0)
			kt_strv_add(&ok, all.v[i]);
	}
	if (r == 0 && ok.n == 0)
		r = kt_errf(err, "no %s*%s package in %s", rule->prefix, rule->suffix, rule->suite);
	if (r == 0)
		r = kt_apt_newest(a, ok.v, ok.n, pkg, plen, ver, vlen, err);
	kt_strv_free(&all);
	kt_strv_free(&ok);
	return r;
}

/* An entry made from exactly SOURCE ("debian:<suite> <pkg> <ver>"). 1 and
 * OUT filled when there is one, 0 when not. */
static int find_source(const char *cache, const char *source, struct kt_kernel *out,
		       struct kt_err *err)
{
	struct kt_kernel *v;
	size_t n;
	int found = 0;

	if (kt_kcache_list(cache, &v, &n, err) < 0)
		return -1;
	for (size_t i = n; !found && i-- > 0;) {
		if (!strcmp(v[i].source, source)) {
			*out = v[i];
			found = 1;
		}
	}
	free(v);
	return found;
}

/* Move ROOT/A, else ROOT/B, to DST. 1 when moved, 0 when neither exists. */
static int take_file(const char *root, const char *a, const char *b, const char *dst,
		     struct kt_err *err)
{
	char path[PATH_MAX + 256];

	snprintf(path, sizeof(path), "%s/%s", root, a);
	if (!is_file(path))
		snprintf(path, sizeof(path), "%s/%s", root, b);
	if (!is_file(path))
		return 0;
	if (rename(path, dst) < 0)
		return kt_errf(err, "rename %s: %s", path, strerror(errno));
	return 1;
}

/* Put the image and config extracted under ROOT into ENTRY: in
 * boot/{vmlinuz,config}-<rel> (bookworm, trixie) or usr/lib/modules/<rel>/
 * (sid). A package without an image is an error; without a config, not. */
static int take_kernel(const char *root, const char *rel, const char *entry, const char *pkg,
		       struct kt_err *err)
{
	char a[PATH_MAX], b[PATH_MAX], dst[PATH_MAX + 16];
	int r;

	snprintf(a, sizeof(a), "boot/vmlinuz-%s", rel);
	snprintf(b, sizeof(b), "usr/lib/modules/%s/vmlinuz", rel);
	snprintf(dst, sizeof(dst), "%s/vmlinuz", entry);
	r = take_file(root, a, b, dst, err);
	if (r == 0)
		return kt_errf(err, "package %s has neither %s nor %s", pkg, a, b);
	if (r < 0)
		return -1;
	snprintf(a, sizeof(a), "boot/config-%s", rel);
	snprintf(b, sizeof(b), "usr/lib/modules/%s/config", rel);
	snprintf(dst, sizeof(dst), "%s/config", entry);
	return take_file(root, a, b, dst, err) < 0 ? -1 : 0;
}

/* Download PKG=VER (and, for a sid linux-binary package, the linux-base
 * package that holds its config), extract, and install the entry. The
 * caller holds the suite, so two processes never download the same
 * package at once: the second finds the first one's entry. */
static int fetch_package(const char *cache, struct kt_apt *a, const char *suite, const char *pkg,
			 const char *ver, struct kt_kernel *out, struct kt_err *err)
{
	char source[sizeof(out->source)], rel[128], dl[PATH_MAX + 8], root[PATH_MAX + 8];
	char entry[PATH_MAX + 8];
	struct workdir w;
	int r;

	if (pkg_release(pkg, rel, sizeof(rel)) < 0)
		return kt_errf(err, "%s: not a kernel image package", pkg);
	if (snprintf(source, sizeof(source), "debian:%s %s %s", suite, pkg, ver) >= (int)sizeof(source))
		return kt_errf(err, "%s %s: package name and version too long", pkg, ver);
	r = find_source(cache, source, out, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (work_create(cache, &w, err) < 0)
		return -1;
	snprintf(dl, sizeof(dl), "%s/dl", w.path);
	snprintf(root, sizeof(root), "%s/root", w.path);
	snprintf(entry, sizeof(entry), "%s/entry", w.path);
	if (mkdir(dl, 0755) < 0 || mkdir(root, 0755) < 0 || mkdir(entry, 0755) < 0)
		r = kt_errf(err, "mkdir in %s: %s", w.path, strerror(errno));
	if (r == 0)
		r = kt_apt_download(a, pkg, ver, dl, err);
	if (r == 0 && !strncmp(pkg, "linux-binary-", 13)) {
		char base[160], *names[1] = {base}, bpkg[160], bver[128];

		snprintf(base, sizeof(base), "linux-base-%s", rel);
		r = kt_apt_newest(a, names, 1, bpkg, sizeof(bpkg), bver, sizeof(bver), err);
		if (r == 0)
			r = kt_apt_download(a, bpkg, bver, dl, err);
	}
	if (r == 0)
		r = kt_deb_extract_all(dl, root, err);
	if (r == 0)
		r = take_kernel(root, rel, entry, pkg, err);
	if (r == 0)
		r = entry_install(cache, entry, source, rel, out, err);
	work_destroy(&w);
	return r;
}

/* Look SPEC up in one suite: the package to fetch, or 0 when the suite
 * does not have it (an exact package name). */
static int suite_lookup(struct kt_apt *a, const struct suite_rule *rule, const char *spec,
			char *pkg, size_t plen, char *ver, size_t vlen, struct kt_err *err)
{
	struct kt_strv names;
	bool have = false;
	int r;

	if (!strncmp(spec, "debian:", 7))
		return newest_kernel(a, rule, pkg, plen, ver, vlen, err) < 0 ? -1 : 1;
	kt_strv_init(&names);
	r = kt_apt_pkgnames(a, spec, &names, err);
	for (size_t i = 0; r == 0 && i < names.n; i++)
		have |= !strcmp(names.v[i], spec);
	kt_strv_free(&names);
	if (r < 0 || !have)
		return r;
	return kt_apt_newest(a, (char *const[]){(char *)spec}, 1, pkg, plen, ver, vlen, err) < 0
		       ? -1 : 1;
}

int kt_kcache_fetch(const char *cache, const char *spec, struct kt_kernel *out, struct kt_err *err)
{
	const struct suite_rule *rule = spec_rule(spec);
	char rel[128], aptdir[PATH_MAX], pkg[128], ver[128];
	struct kt_apt_mirror m;
	size_t first = 0, last = N_SUITES;

	if (rule) {
		first = (size_t)(rule - suite_rules);
		last = first + 1;
	} else if (pkg_release(spec, rel, sizeof(rel)) < 0) {
		return kt_errf(err, "kernel spec \"%s\": expected debian:sid, debian:trixie, "
				    "debian:bookworm or a kernel image package name", spec);
	}
	if (kt_apt_mirror_system(ETC_APT, &m, err) < 0)
		return -1;
	snprintf(aptdir, sizeof(aptdir), "%s/apt", cache);
	for (size_t i = first; i < last; i++) {
		struct kt_apt *a;
		int r;

		if (kt_apt_open(aptdir, suite_rules[i].suite, &m, &a, err) < 0)
			return -1;
		r = kt_apt_refresh(a, APT_MAX_AGE, err);
		if (r == 0)
			r = suite_lookup(a, &suite_rules[i], spec, pkg, sizeof(pkg), ver, sizeof(ver), err);
		if (r == 1)
			r = fetch_package(cache, a, suite_rules[i].suite, pkg, ver, out, err);
		else if (r == 0)
			r = 1; /* not in this suite: try the next */
		kt_apt_close(a);
		if (r <= 0)
			return r < 0 ? kt_err_prefix(err, "fetch %s", spec) : 0;
	}
	return kt_errf(err, "fetch %s: no such package in sid, trixie or bookworm (mirror %s)", spec,
		       m.uri);
}

/* ---- resolving a --kernel reference ---- */

/* Word number IDX (0-based) of SOURCE is WORD. */
static bool source_word(const char *source, int idx, const char *word)
{
	size_t n = strlen(word);

	for (; idx > 0; idx--) {
		source = strchr(source, ' ');
		if (!source)
			return false;
		source++;
	}
	return !strncmp(source, word, n) && (source[n] == ' ' || !source[n]);
}

/* The package version in a "debian:<suite> <pkg> <ver>" source. */
static const char *source_version(const char *source)
{
	const char *p = strchr(source, ' ');

	p = p ? strchr(p + 1, ' ') : NULL;
	return p ? p + 1 : "";
}

static int resolve_spec(const char *cache, const char *ref, struct kt_kernel *out,
			struct kt_err *err)
{
	struct kt_kernel *v, *best = NULL;
	bool dist = !strncmp(ref, "debian:", 7);
	size_t n;

	if (kt_kcache_list(cache, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *src = v[i].source;

		if (!strncmp(src, "debian:", 7) && (dist ? source_word(src, 0, ref)
							 : source_word(src, 1, ref)) &&
		    (!best || kt_deb_vercmp(source_version(src), source_version(best->source)) >= 0))
			best = &v[i];
	}
	if (best)
		*out = *best;
	free(v);
	return best ? 0 : kt_kcache_fetch(cache, ref, out, err);
}

/* A local image: its config is config-<release> or config beside it. */
static int resolve_path(const char *cache, const char *path, struct kt_kernel *out,
			struct kt_err *err)
{
	char dir[PATH_MAX], config[PATH_MAX + 160];
	struct kt_bzimage bz;
	const char *slash;
	uint64_t size;

	if (image_check(path, &bz, &size, err) < 0)
		return -1;
	slash = strrchr(path, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	snprintf(config, sizeof(config), "%s/config-%s", dir, bz.release);
	if (!bz.release[0] || !is_file(config))
		snprintf(config, sizeof(config), "%s/config", dir);
	return kt_kcache_add(cache, path, is_file(config) ? config : NULL, out, err);
}

int kt_kcache_resolve(const char *cache, const char *ref, struct kt_kernel *out, struct kt_err *err)
{
	char rel[128], sha[65];
	int r;

	if (!strncmp(ref, "debian:", 7) || pkg_release(ref, rel, sizeof(rel)) == 0)
		return resolve_spec(cache, ref, out, err);
	if (is_hex(ref, 6, 64)) {
		if (match_prefix(cache, ref, sha, err) < 0)
			return -1;
		r = entry_read(cache, sha, out, err);
		return r == 0 ? 0 : r < 0 ? -1 : kt_errf(err, "kernel %s was just removed", ref);
	}
	return resolve_path(cache, ref, out, err);
}
