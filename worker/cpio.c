#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cpio.h"

#define HDR_LEN 110 /* "070701" + 13 fields of 8 hex digits */
#define MAGIC "070701"
#define TRAILER "TRAILER!!!"
#define BLOCK 512

struct kt_cpio {
	FILE *f;
	char *label;
	uint64_t off;      /* bytes written since kt_cpio_new */
	uint32_t next_ino;
	bool finished;
};

struct kt_cpio *kt_cpio_new(FILE *f, const char *label)
{
	struct kt_cpio *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->label = strdup(label ? label : "cpio");
	if (!c->label) {
		free(c);
		return NULL;
	}
	c->f = f;
	c->next_ino = 1;
	return c;
}

void kt_cpio_free(struct kt_cpio *c)
{
	if (!c)
		return;
	free(c->label);
	free(c);
}

static int put(struct kt_cpio *c, const void *p, size_t n, struct kt_err *err)
{
	if (n && fwrite(p, 1, n, c->f) != n)
		return kt_errf(err, "%s: write error: %s", c->label, strerror(errno));
	c->off += n;
	return 0;
}

static int pad(struct kt_cpio *c, unsigned align, struct kt_err *err)
{
	static const char zeros[BLOCK];
	size_t n = (align - c->off % align) % align;

	return put(c, zeros, n, err);
}

/* Drop leading slashes and reject names the kernel or cpio(1) would
 * resolve outside the archive root or refuse. Returns the stored name. */
static const char *check_name(struct kt_cpio *c, const char *name, struct kt_err *err)
{
	const char *p, *s;

	while (*name == '/')
		name++;
	if (!*name) {
		kt_errf(err, "%s: empty entry name", c->label);
		return NULL;
	}
	if (strlen(name) > KT_CPIO_NAME_MAX) {
		kt_errf(err, "%s: entry name '%.40s...' longer than %d bytes", c->label, name,
			KT_CPIO_NAME_MAX);
		return NULL;
	}
	for (p = name;; p = s + 1) {
		size_t n;

		s = strchr(p, '/');
		if (!s)
			s = p + strlen(p);
		n = (size_t)(s - p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
			kt_errf(err, "%s: entry name '%s' has an empty, '.' or '..' component",
				c->label, name);
			return NULL;
		}
		if (!*s)
			break;
	}
	return name;
}

static int header(struct kt_cpio *c, const char *name, uint32_t mode, uint32_t nlink,
		  uint64_t size, unsigned rmaj, unsigned rmin, struct kt_err *err)
{
	char h[HDR_LEN + 1];
	size_t nlen = strlen(name) + 1;

	if (c->finished)
		return kt_errf(err, "%s: entry '%s' added after the trailer", c->label, name);
	if (c->off % 4)
		return kt_errf(err, "%s: header of '%s' not 4-byte aligned", c->label, name);
	if (size > UINT32_MAX)
		return kt_errf(err, "%s: '%s' is %llu bytes, more than newc's 4 GiB limit", c->label,
			       name, (unsigned long long)size);
	/* ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
	 * rdevmajor, rdevminor, namesize, check */
	snprintf(h, sizeof(h), MAGIC "%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 c->next_ino++, mode, 0u, 0u, nlink, 0u, (uint32_t)size, 0u, 0u, rmaj, rmin, (uint32_t)nlen, 0u);
	if (put(c, h, HDR_LEN, err) || put(c, name, nlen, err))
		return -1;
	return pad(c, 4, err);
}

int kt_cpio_dir(struct kt_cpio *c, const char *name, unsigned mode, struct kt_err *err)
{
	if (!(name = check_name(c, name, err)))
		return -1;
	return header(c, name, S_IFDIR | (mode & 07777), 2, 0, 0, 0, err);
}

int kt_cpio_file(struct kt_cpio *c, const char *name, unsigned mode, const void *data, size_t len,
		 struct kt_err *err)
{
	if (!(name = check_name(c, name, err)))
		return -1;
	if (header(c, name, S_IFREG | (mode & 07777), 1, len, 0, 0, err) || put(c, data, len, err))
		return -1;
	return pad(c, 4, err);
}

static int copy_fd(struct kt_cpio *c, int fd, const char *host_path, uint64_t size,
		   struct kt_err *err)
{
	char buf[65536];
	uint64_t done = 0;
	ssize_t n;

	while (done < size) {
		size_t want = size - done < sizeof(buf) ? (size_t)(size - done) : sizeof(buf);

		n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kt_errf(err, "%s: read error: %s", host_path, strerror(errno));
		if (n == 0)
			return kt_errf(err, "%s: shrank while being copied into %s", host_path,
				       c->label);
		if (put(c, buf, (size_t)n, err))
			return -1;
		done += (uint64_t)n;
	}
	do
		n = read(fd, buf, 1);
	while (n < 0 && errno == EINTR);
	if (n != 0)
		return kt_errf(err, "%s: grew while being copied into %s", host_path, c->label);
	return 0;
}

int kt_cpio_file_path(struct kt_cpio *c, const char *name, unsigned mode, const char *host_path,
		      struct kt_err *err)
{
	struct stat st;
	int fd, rc;

	if (!(name = check_name(c, name, err)))
		return -1;
	fd = open(host_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kt_errf(err, "%s: cannot open: %s", host_path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return kt_errf(err, "%s: not a regular file", host_path);
	}
	rc = header(c, name, S_IFREG | (mode & 07777), 1, (uint64_t)st.st_size, 0, 0, err);
	if (!rc)
		rc = copy_fd(c, fd, host_path, (uint64_t)st.st_size, err);
	close(fd);
	return rc ? rc : pad(c, 4, err);
}

int kt_cpio_symlink(struct kt_cpio *c, const char *name, const char *target, struct kt_err *err)
{
	size_t len = strlen(target);

	if (!(name = check_name(c, name, err)))
		return -1;
	if (len == 0 || len > KT_CPIO_NAME_MAX)
		return kt_errf(err, "%s: symlink '%s' has an empty or overlong target", c->label,
			       name);
	if (header(c, name, S_IFLNK | 0777, 1, len, 0, 0, err) || put(c, target, len, err))
		return -1;
	return pad(c, 4, err);
}

int kt_cpio_chardev(struct kt_cpio *c, const char *name, unsigned mode, unsigned major,
		    unsigned minor, struct kt_err *err)
{
	if (!(name = check_name(c, name, err)))
		return -1;
	return header(c, name, S_IFCHR | (mode & 07777), 1, 0, major, minor, err);
}

int kt_cpio_finish(struct kt_cpio *c, struct kt_err *err)
{
	if (header(c, TRAILER, 0, 1, 0, 0, 0, err) || pad(c, BLOCK, err))
		return -1;
	c->finished = true;
	if (fflush(c->f))
		return kt_errf(err, "%s: write error: %s", c->label, strerror(errno));
	return 0;
}

/* ---- reader ---- */

static const char *const field_names[13] = {
	"c_ino", "c_mode", "c_uid", "c_gid", "c_nlink", "c_mtime", "c_filesize",
	"c_devmajor", "c_devminor", "c_rdevmajor", "c_rdevminor", "c_namesize", "c_check",
};
enum { F_INO, F_MODE, F_UID, F_GID, F_NLINK, F_MTIME, F_SIZE, F_DEVMAJ, F_DEVMIN, F_RMAJ, F_RMIN,
       F_NAMESIZE, F_CHECK };

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int parse_fields(const uint8_t *h, size_t off, uint32_t v[13], struct kt_err *err)
{
	if (memcmp(h, MAGIC, 6))
		return kt_errf(err, "cpio: offset %zu: bad magic '%.6s' (want " MAGIC ")", off,
			       (const char *)h);
	for (int i = 0; i < 13; i++) {
		const uint8_t *p = h + 6 + 8 * i;

		v[i] = 0;
		for (int j = 0; j < 8; j++) {
			int d = hexval((char)p[j]);

			if (d < 0)
				return kt_errf(err, "cpio: offset %zu: field %s is not 8 hex digits",
					       off + 6 + 8 * (size_t)i, field_names[i]);
			v[i] = v[i] << 4 | (uint32_t)d;
		}
	}
	return 0;
}

static bool has_body(uint32_t mode)
{
	return S_ISREG(mode) || S_ISLNK(mode);
}

static int check_entry(const uint32_t v[13], size_t off, struct kt_err *err)
{
	uint32_t t = v[F_MODE] & S_IFMT;

	if (t != S_IFREG && t != S_IFDIR && t != S_IFLNK && t != S_IFCHR && t != S_IFBLK &&
	    t != S_IFIFO && t != S_IFSOCK)
		return kt_errf(err, "cpio: offset %zu: field c_mode %#o has no valid file type",
			       off, v[F_MODE]);
	if (!has_body(v[F_MODE]) && v[F_SIZE] != 0)
		return kt_errf(err, "cpio: offset %zu: field c_filesize is %u for a mode %#o entry",
			       off, v[F_SIZE], v[F_MODE]);
	if (S_ISLNK(v[F_MODE]) && (v[F_SIZE] == 0 || v[F_SIZE] > KT_CPIO_NAME_MAX))
		return kt_errf(err, "cpio: offset %zu: field c_filesize %u is no valid symlink target"
			       " length", off, v[F_SIZE]);
	return 0;
}

/* Skip the zero padding after a trailer; 0 = at a 4-aligned next archive
 * or at the end. */
static int next_archive(const uint8_t *b, size_t len, size_t *pos, struct kt_err *err)
{
	while (*pos < len && b[*pos] == 0)
		(*pos)++;
	if (*pos < len && *pos % 4)
		return kt_errf(err, "cpio: offset %zu: next archive not 4-byte aligned", *pos);
	return 0;
}

int kt_cpio_read(const void *buf, size_t len, kt_cpio_cb cb, void *arg, struct kt_err *err)
{
	const uint8_t *b = buf;
	size_t pos = 0;

	if (len == 0)
		return kt_errf(err, "cpio: empty buffer, no archive");
	while (pos < len) {
		struct kt_cpio_entry e;
		uint32_t v[13];
		size_t dpos, next, nsz;
		const char *name;
		int rc;

		if (len - pos < HDR_LEN)
			return kt_errf(err, "cpio: offset %zu: truncated header (%zu bytes left)", pos,
				       len - pos);
		if (parse_fields(b + pos, pos, v, err))
			return -1;
		nsz = v[F_NAMESIZE];
		if (nsz < 2 || nsz > KT_CPIO_NAME_MAX + 1)
			return kt_errf(err, "cpio: offset %zu: field c_namesize %zu out of range", pos,
				       nsz);
		if (nsz > len - pos - HDR_LEN)
			return kt_errf(err, "cpio: offset %zu: field c_namesize %zu runs past the end"
				       " of the buffer", pos, nsz);
		name = (const char *)b + pos + HDR_LEN;
		if (name[nsz - 1] != 0 || memchr(name, 0, nsz - 1))
			return kt_errf(err, "cpio: offset %zu: field c_namesize %zu does not match the"
				       " NUL-terminated name", pos, nsz);
		dpos = (pos + HDR_LEN + nsz + 3) & ~(size_t)3;
		if (dpos > len)
			return kt_errf(err, "cpio: offset %zu: name padding of '%s' truncated", pos,
				       name);
		if (v[F_SIZE] > len - dpos)
			return kt_errf(err, "cpio: offset %zu: field c_filesize %u of '%s' runs past"
				       " the end of the buffer (%zu bytes left)", pos, v[F_SIZE],
				       name, len - dpos);
		next = (dpos + v[F_SIZE] + 3) & ~(size_t)3;
		if (next > len)
			return kt_errf(err, "cpio: offset %zu: data padding of '%s' truncated", pos,
				       name);
		if (!strcmp(name, TRAILER)) {
			pos = next;
			if (next_archive(b, len, &pos, err))
				return -1;
			if (pos == len)
				return 0;
			continue;
		}
		if (check_entry(v, pos, err))
			return -1;
		e = (struct kt_cpio_entry){
			.name = name, .mode = v[F_MODE], .ino = v[F_INO], .uid = v[F_UID],
			.gid = v[F_GID], .nlink = v[F_NLINK], .mtime = v[F_MTIME],
			.rdev_major = v[F_RMAJ], .rdev_minor = v[F_RMIN], .data = b + dpos,
			.size = v[F_SIZE], .offset = pos,
		};
		rc = cb(&e, arg, err);
		if (rc)
			return rc;
		pos = next;
	}
	return kt_errf(err, "cpio: offset %zu: archive ends without " TRAILER, pos);
}
