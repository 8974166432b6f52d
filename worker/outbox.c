#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "outbox.h"
#include "outcome.h"
#include "util.h"

struct item {
	Ktstr__EntryOutcome *o;
	size_t len;      /* packed bytes */
	uint64_t due_ms; /* next (re)send, monotonic */
};

struct kt_outbox {
	char *dir; /* NULL: memory only */
	struct item *v;
	size_t n, cap;
};

static void file_name(uint64_t id, uint32_t attempt, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRIu64 "-%" PRIu32 ".pb", id, attempt);
}

static ssize_t find(const struct kt_outbox *ob, uint64_t id, uint32_t attempt)
{
	for (size_t i = 0; i < ob->n; i++)
		if (ob->v[i].o->ref->entry_id == id && ob->v[i].o->ref->attempt == attempt)
			return (ssize_t)i;
	return -1;
}

static void push(struct kt_outbox *ob, Ktstr__EntryOutcome *o, size_t len)
{
	if (ob->n == ob->cap) {
		ob->cap = ob->cap ? 2 * ob->cap : 16;
		ob->v = kt_xrealloc(ob->v, ob->cap * sizeof(*ob->v));
	}
	ob->v[ob->n++] = (struct item){o, len, 0};
}

static void drop(struct kt_outbox *ob, size_t i)
{
	ktstr__entry_outcome__free_unpacked(ob->v[i].o, NULL);
	memmove(&ob->v[i], &ob->v[i + 1], (ob->n - i - 1) * sizeof(*ob->v));
	ob->n--;
}

static int sync_dir(const char *dir, struct kt_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd)) {
		kt_errf(err, "outbox %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Write-then-rename: a crash leaves the old file or the new one whole. */
static int persist(const struct kt_outbox *ob, const Ktstr__EntryOutcome *o, const uint8_t *buf,
		   size_t len, struct kt_err *err)
{
	char name[64], path[PATH_MAX], tmp[PATH_MAX];

	file_name(o->ref->entry_id, o->ref->attempt, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", ob->dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", ob->dir, name);
	if (kt_write_file(tmp, buf, len, err))
		return kt_err_prefix(err, "outbox");
	if (rename(tmp, path)) {
		kt_errf(err, "outbox: rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return sync_dir(ob->dir, err);
}

static int by_end(const void *a, const void *b)
{
	const Ktstr__EntryOutcome *x = ((const struct item *)a)->o, *y = ((const struct item *)b)->o;

	return (x->ended_at > y->ended_at) - (x->ended_at < y->ended_at);
}

/* One file of an earlier run: its name must match the outcome it holds. */
static int load_one(struct kt_outbox *ob, const char *name, struct kt_err *err)
{
	char path[PATH_MAX], want[64], *buf;
	Ktstr__EntryOutcome *o;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", ob->dir, name);
	if (kt_read_file(path, KT_OUTCOME_MAX, &buf, &len, err))
		return -1;
	if (kt_outcome_unpack((uint8_t *)buf, len, &o, err)) {
		free(buf);
		return kt_err_prefix(err, "%s", path);
	}
	free(buf);
	file_name(o->ref->entry_id, o->ref->attempt, want, sizeof(want));
	if (strcmp(want, name) != 0 || find(ob, o->ref->entry_id, o->ref->attempt) >= 0) {
		ktstr__entry_outcome__free_unpacked(o, NULL);
		return kt_errf(err, "%s: holds the outcome of %s", path, want);
	}
	push(ob, o, len);
	return 0;
}

static int load(struct kt_outbox *ob, size_t *bad, struct kt_err *err)
{
	DIR *d = opendir(ob->dir);
	struct dirent *de;
	struct kt_err e;

	if (!d)
		return kt_errf(err, "outbox %s: %s", ob->dir, strerror(errno));
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char from[PATH_MAX], to[PATH_MAX + 8];

		if (de->d_name[0] == '.' || n < 4 || strcmp(de->d_name + n - 3, ".pb") != 0)
			continue;
		if (load_one(ob, de->d_name, &e) == 0)
			continue;
		snprintf(from, sizeof(from), "%s/%s", ob->dir, de->d_name);
		snprintf(to, sizeof(to), "%s.bad", from);
		if (rename(from, to)) {
			kt_errf(err, "outbox: rename %s: %s", from, strerror(errno));
			closedir(d);
			return -1;
		}
		if (bad)
			(*bad)++;
	}
	closedir(d);
	if (ob->n > 1)
		qsort(ob->v, ob->n, sizeof(*ob->v), by_end);
	return 0;
}

int kt_outbox_open(const char *dir, struct kt_outbox **out, size_t *bad, struct kt_err *err)
{
	struct kt_outbox *ob = kt_xcalloc(1, sizeof(*ob));

	*out = NULL;
	if (bad)
		*bad = 0;
	if (dir) {
		ob->dir = kt_xstrdup(dir);
		if (kt_mkdir_p(dir, err) || load(ob, bad, err)) {
			kt_outbox_free(ob);
			return -1;
		}
	}
	*out = ob;
	return 0;
}

void kt_outbox_free(struct kt_outbox *ob)
{
	if (!ob)
		return;
	while (ob->n)
		drop(ob, ob->n - 1);
	free(ob->v);
	free(ob->dir);
	free(ob);
}

int kt_outbox_add(struct kt_outbox *ob, const uint8_t *buf, size_t len,
		  const Ktstr__EntryOutcome **kept, struct kt_err *err)
{
	Ktstr__EntryOutcome *o;
	ssize_t i;

	if (kt_outcome_unpack(buf, len, &o, err))
		return -1;
	i = find(ob, o->ref->entry_id, o->ref->attempt);
	if (i >= 0)
		drop(ob, (size_t)i);
	push(ob, o, len);
	if (kept)
		*kept = o;
	return ob->dir && persist(ob, o, buf, len, err) ? 1 : 0;
}

bool kt_outbox_ack(struct kt_outbox *ob, uint64_t entry_id, uint32_t attempt)
{
	ssize_t i = find(ob, entry_id, attempt);
	char name[64], path[PATH_MAX];

	if (i < 0)
		return false;
	drop(ob, (size_t)i);
	if (ob->dir) {
		/* A file that stays (unlink failed) only means one more resend
		 * after a restart; the coordinator ignores a repeated outcome. */
		file_name(entry_id, attempt, name, sizeof(name));
		snprintf(path, sizeof(path), "%s/%s", ob->dir, name);
		unlink(path);
	}
	return true;
}

bool kt_outbox_has(const struct kt_outbox *ob, uint64_t entry_id, uint32_t attempt)
{
	return find(ob, entry_id, attempt) >= 0;
}

size_t kt_outbox_count(const struct kt_outbox *ob)
{
	return ob->n;
}

size_t kt_outbox_pick(struct kt_outbox *ob, bool due_only, uint64_t now, uint64_t retry_ms,
		      size_t budget, Ktstr__EntryOutcome **out, size_t max)
{
	size_t k = 0, used = 0;

	for (size_t i = 0; i < ob->n && k < max; i++) {
		struct item *it = &ob->v[i];

		if (due_only && it->due_ms > now)
			continue;
		if (used + it->len > budget)
			break;
		used += it->len;
		it->due_ms = now + retry_ms;
		out[k++] = it->o;
	}
	return k;
}
