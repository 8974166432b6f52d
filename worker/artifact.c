#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "artifact.h"
#include "farm_msg.h"
#include "sha256.h"
#include "util.h"

struct kt_asm {
	char sha[65];
	char part[PATH_MAX], final[PATH_MAX];
	int fd;            /* -1 once done or failed */
	bool done, failed;
	uint64_t off;      /* bytes written and hashed */
	uint64_t total;    /* valid when known */
	bool known;
	uint64_t announced, max;
	struct kt_sha256 h;
};

bool kt_artifact_sha_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

void kt_artifact_dir(const char *cache, char *buf, size_t len)
{
	snprintf(buf, len, "%s/artifacts", cache);
}

void kt_artifact_path(const char *cache, const char *sha, char *buf, size_t len)
{
	snprintf(buf, len, "%s/artifacts/%s", cache, sha);
}

int kt_asm_begin(const char *dir, const char *sha, uint64_t size, uint64_t max,
		 struct kt_asm **out, struct kt_err *err)
{
	struct kt_asm *a;

	*out = NULL;
	if (!kt_artifact_sha_ok(sha))
		return kt_errf(err, "artifact: '%.80s' is not a sha256 (64 lower-case hex digits)",
			       sha);
	if (size > max)
		return kt_errf(err, "artifact %.12s: announced size %llu is over the limit of %llu",
			       sha, (unsigned long long)size, (unsigned long long)max);
	if (kt_mkdir_p(dir, err))
		return -1;
	a = kt_xcalloc(1, sizeof(*a));
	memcpy(a->sha, sha, sizeof(a->sha));
	snprintf(a->final, sizeof(a->final), "%s/%s", dir, sha);
	/* Unique: two workers sharing a cache may fetch the same artifact. */
	snprintf(a->part, sizeof(a->part), "%s/%s.part-XXXXXX", dir, sha);
	a->fd = mkostemp(a->part, O_CLOEXEC);
	if (a->fd < 0 || fchmod(a->fd, 0644)) {
		kt_errf(err, "artifact %.12s: %s: %s", sha, a->part, strerror(errno));
		if (a->fd >= 0) {
			close(a->fd);
			unlink(a->part);
		}
		free(a);
		return -1;
	}
	a->announced = size;
	a->max = max;
	kt_sha256_init(&a->h);
	*out = a;
	return 0;
}

void kt_asm_next(const struct kt_asm *a, uint64_t *offset, uint32_t *length)
{
	uint64_t left = a->known ? a->total - a->off : KT_FARM_CHUNK;

	*offset = a->off;
	*length = left < KT_FARM_CHUNK ? (uint32_t)left : KT_FARM_CHUNK;
}

const char *kt_asm_sha(const struct kt_asm *a)
{
	return a->sha;
}

static int fail(struct kt_asm *a, struct kt_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct kt_asm *a, struct kt_err *err, const char *fmt, ...)
{
	char msg[KT_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (a->fd >= 0) {
		close(a->fd);
		unlink(a->part);
		a->fd = -1;
	}
	a->failed = true;
	return kt_errf(err, "artifact %.12s: %s", a->sha, msg);
}

static int write_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* The size the chunk states, against the limit and what was said before. */
static int check_total(struct kt_asm *a, const Ktstr__ArtifactChunk *c, struct kt_err *err)
{
	if (!c->has_total_size)
		return fail(a, err, "chunk at %llu without total_size",
			    (unsigned long long)c->offset);
	if (a->known) {
		if (c->total_size != a->total)
			return fail(a, err, "total size changed from %llu to %llu",
				    (unsigned long long)a->total,
				    (unsigned long long)c->total_size);
		return 0;
	}
	if (c->total_size > a->max)
		return fail(a, err, "%llu bytes, over the limit of %llu",
			    (unsigned long long)c->total_size, (unsigned long long)a->max);
	if (a->announced && c->total_size != a->announced)
		return fail(a, err, "%llu bytes, but the assignment announced %llu",
			    (unsigned long long)c->total_size, (unsigned long long)a->announced);
	a->total = c->total_size;
	a->known = true;
	return 0;
}

static int finish(struct kt_asm *a, struct kt_err *err)
{
	uint8_t d[32];
	char hex[65];

	kt_sha256_final(&a->h, d);
	kt_sha256_hex(d, hex);
	if (strcmp(hex, a->sha) != 0)
		return fail(a, err, "sha256 mismatch: the %llu bytes received hash to %s",
			    (unsigned long long)a->total, hex);
	if (fsync(a->fd) || rename(a->part, a->final))
		return fail(a, err, "%s: %s", a->final, strerror(errno));
	close(a->fd);
	a->fd = -1;
	a->done = true;
	return KT_ASM_DONE;
}

int kt_asm_feed(struct kt_asm *a, const Ktstr__ArtifactChunk *c, struct kt_err *err)
{
	size_t n = c->has_data ? c->data.len : 0;
	char msg[256];

	if (a->failed)
		return kt_errf(err, "artifact %.12s: failed already", a->sha);
	if (strcmp(c->sha256, a->sha) != 0)
		return kt_errf(err, "artifact %.12s: fed a chunk of another artifact", a->sha);
	if (a->done || c->offset != a->off)
		return KT_ASM_STALE;
	if (c->error) {
		kt_printable_copy(c->error, strlen(c->error), msg, sizeof(msg));
		return fail(a, err, "the coordinator says: %s", msg);
	}
	if (check_total(a, c, err))
		return -1;
	if (n > KT_FARM_CHUNK)
		return fail(a, err, "chunk of %zu bytes, more than %u", n, KT_FARM_CHUNK);
	if (n > a->total - a->off)
		return fail(a, err, "chunk at %llu of %zu bytes runs past the end (%llu bytes)",
			    (unsigned long long)a->off, n, (unsigned long long)a->total);
	if (n == 0 && a->off < a->total)
		return fail(a, err, "empty chunk at %llu of %llu", (unsigned long long)a->off,
			    (unsigned long long)a->total);
	if (n && write_all(a->fd, c->data.data, n, a->off))
		return fail(a, err, "%s: %s", a->part, strerror(errno));
	if (n)
		kt_sha256_update(&a->h, c->data.data, n);
	a->off += n;
	return a->off == a->total ? finish(a, err) : KT_ASM_MORE;
}

void kt_asm_free(struct kt_asm *a)
{
	if (!a)
		return;
	if (a->fd >= 0) {
		close(a->fd);
		unlink(a->part);
	}
	free(a);
}
