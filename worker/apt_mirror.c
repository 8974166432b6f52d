#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "apt_mirror.h"
#include "util.h"

#define SOURCES_MAX (1 << 20) /* bytes of one sources file we read */
#define FIELD_MAX 1024        /* bytes of one deb822 field value */
#define APT_OUT_MAX (8 << 20) /* bytes of apt-cache output we keep */
#define NAME_MAX_LEN 128      /* package names and versions we accept */

/* ---- what counts as a Debian archive source ---- */

static const char *const debian_suites[] = {
	"sid", "duke", "forky", "trixie", "bookworm", "bullseye", "buster", "stretch", "jessie",
	"stable", "testing", "unstable", "oldstable", "oldoldstable", "experimental", NULL,
};

/* SUITE (e.g. "bookworm-updates") is a Debian suite that is not security. */
static bool suite_is_debian(const char *s, size_t n)
{
	size_t base = 0;

	while (base < n && s[base] != '-' && s[base] != '/')
		base++;
	for (const char *const *d = debian_suites; *d; d++)
		if (strlen(*d) == base && !memcmp(*d, s, base))
			return true;
	return false;
}

static bool suite_is_security(const char *s, size_t n)
{
	return (n >= 9 && !memcmp(s + n - 9, "-security", 9)) || memmem(s, n, "/updates", 8);
}

static bool word_safe(const char *s, size_t n, size_t max)
{
	if (n == 0 || n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '[' || s[i] == ']' || s[i] == '"' || s[i] == ';')
			return false;
	return true;
}

static bool uri_ok(const char *s, size_t n)
{
	return word_safe(s, n, sizeof(((struct kt_apt_mirror *)0)->uri)) &&
	       ((n > 7 && !strncmp(s, "http://", 7)) || (n > 8 && !strncmp(s, "https://", 8)));
}

/* Words of a whitespace-separated list, one at a time. */
static bool next_word(const char **p, const char *end, const char **w, size_t *n)
{
	const char *s = *p;

	while (s < end && isspace((unsigned char)*s))
		s++;
	if (s == end)
		return false;
	*w = s;
	while (s < end && !isspace((unsigned char)*s))
		s++;
	*n = (size_t)(s - *w);
	*p = s;
	return true;
}

/* A candidate source, gathered from either format. */
struct source {
	bool deb, main, debian, security;
	const char *uri, *keyring;
	size_t urin, keyn;
};

static void source_suites(struct source *src, const char *p, const char *end)
{
	const char *w;
	size_t n;

	while (next_word(&p, end, &w, &n)) {
		src->debian |= suite_is_debian(w, n);
		src->security |= suite_is_security(w, n);
	}
}

static void source_components(struct source *src, const char *p, const char *end)
{
	const char *w;
	size_t n;

	while (next_word(&p, end, &w, &n))
		src->main |= n == 4 && !memcmp(w, "main", 4);
}

static int source_take(const struct source *src, struct kt_apt_mirror *m)
{
	if (!src->deb || !src->main || !src->debian || src->security || !src->uri ||
	    !uri_ok(src->uri, src->urin))
		return 0;
	memcpy(m->uri, src->uri, src->urin);
	m->uri[src->urin] = 0;
	/* Only a keyring named by absolute path is usable in our own
	 * sources line; inline keys and fingerprints get the default. */
	if (src->keyring && src->keyn && src->keyring[0] == '/' &&
	    word_safe(src->keyring, src->keyn, sizeof(m->keyring))) {
		memcpy(m->keyring, src->keyring, src->keyn);
		m->keyring[src->keyn] = 0;
	} else {
		snprintf(m->keyring, sizeof(m->keyring), "%s", KT_APT_DEFAULT_KEYRING);
	}
	return 1;
}

/* ---- one-line format: deb [opt=val ...] uri suite component... ---- */

static int scan_line(const char *p, const char *end, struct kt_apt_mirror *m)
{
	struct source src = {0};
	const char *w;
	size_t n;

	if (!next_word(&p, end, &w, &n) || n != 3 || memcmp(w, "deb", 3))
		return 0;
	src.deb = true;
	if (!next_word(&p, end, &w, &n))
		return 0;
	if (w[0] == '[') {
		bool last;

		w++, n--;
		do {
			last = n && w[n - 1] == ']';
			if (last)
				n--;
			if (n > 10 && !memcmp(w, "signed-by=", 10)) {
				src.keyring = w + 10;
				src.keyn = 0; /* up to a ',' (a list of keyrings) */
				while (src.keyn < n - 10 && src.keyring[src.keyn] != ',')
					src.keyn++;
			}
		} while (!last && next_word(&p, end, &w, &n));
		if (!last || !next_word(&p, end, &w, &n))
			return 0;
	}
	src.uri = w;
	src.urin = n;
	if (!next_word(&p, end, &w, &n))
		return 0;
	source_suites(&src, w, w + n);
	source_components(&src, p, end);
	return source_take(&src, m);
}

/* ---- deb822 format: stanzas of "Field: value" lines ---- */

enum { F_TYPES, F_URIS, F_SUITES, F_COMPONENTS, F_SIGNED_BY, F_ENABLED, F_COUNT };
static const char *const field_names[F_COUNT] = {
	"Types", "URIs", "Suites", "Components", "Signed-By", "Enabled",
};

struct stanza {
	char val[F_COUNT][FIELD_MAX];
	bool seen[F_COUNT];
	int cur; /* field a continuation line belongs to, -1 = none we keep */
};

static int stanza_take(struct stanza *st, struct kt_apt_mirror *m)
{
	struct source src = {0};
	const char *p, *end, *w;
	size_t n;
	int found = 0;

	if (st->seen[F_ENABLED] && !strcasecmp(st->val[F_ENABLED], "no"))
		goto out;
	p = st->val[F_TYPES];
	end = p + strlen(p);
	while (next_word(&p, end, &w, &n))
		src.deb |= n == 3 && !memcmp(w, "deb", 3);
	source_suites(&src, st->val[F_SUITES], st->val[F_SUITES] + strlen(st->val[F_SUITES]));
	source_components(&src, st->val[F_COMPONENTS],
			  st->val[F_COMPONENTS] + strlen(st->val[F_COMPONENTS]));
	p = st->val[F_SIGNED_BY];
	if (next_word(&p, p + strlen(p), &w, &n)) {
		src.keyring = w;
		src.keyn = n;
	}
	p = st->val[F_URIS];
	end = p + strlen(p);
	while (!found && next_word(&p, end, &w, &n)) {
		src.uri = w;
		src.urin = n;
		found = source_take(&src, m);
	}
out:
	memset(st, 0, sizeof(*st));
	st->cur = -1;
	return found;
}

static int stanza_append(struct stanza *st, int f, const char *v, const char *end,
			 const char *path, int lineno, struct kt_err *err)
{
	size_t have = strlen(st->val[f]), n;

	while (v < end && isspace((unsigned char)*v))
		v++;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	n = (size_t)(end - v);
	if (have + n + 2 > FIELD_MAX) {
		if (f == F_SIGNED_BY) { /* an inline key: not a path we can use */
			st->val[f][0] = 0;
			st->cur = -1;
			return 0;
		}
		return kt_errf(err, "%s:%d: field %s is longer than %d bytes", path, lineno,
			       field_names[f], FIELD_MAX);
	}
	if (have)
		st->val[f][have++] = ' ';
	memcpy(st->val[f] + have, v, n);
	st->val[f][have + n] = 0;
	return 0;
}

static int scan_deb822(const char *buf, size_t len, const char *path, struct kt_apt_mirror *m,
		       struct kt_err *err)
{
	const char *p = buf, *end = buf + len;
	struct stanza *st = kt_xcalloc(1, sizeof(*st));
	int lineno = 0, found = 0;

	st->cur = -1;
	while (!found && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *colon, *q;

		if (!eol)
			eol = end;
		lineno++;
		for (q = p; q < eol && isspace((unsigned char)*q); q++)
			;
		if (q == eol) { /* blank line: end of stanza */
			found = stanza_take(st, m);
		} else if (*p == '#') {
			/* comment */
		} else if (*p == ' ' || *p == '\t') {
			if (st->cur >= 0 && stanza_append(st, st->cur, p, eol, path, lineno, err) < 0)
				goto fail;
		} else {
			colon = memchr(p, ':', (size_t)(eol - p));
			if (!colon) {
				kt_errf(err, "%s:%d: expected \"Field: value\"", path, lineno);
				goto fail;
			}
			st->cur = -1;
			for (int f = 0; f < F_COUNT; f++)
				if (strlen(field_names[f]) == (size_t)(colon - p) &&
				    !strncasecmp(field_names[f], p, (size_t)(colon - p)))
					st->cur = f;
			if (st->cur >= 0) {
				st->seen[st->cur] = true;
				if (stanza_append(st, st->cur, colon + 1, eol, path, lineno, err) < 0)
					goto fail;
			}
		}
		p = eol < end ? eol + 1 : end;
	}
	if (!found)
		found = stanza_take(st, m);
	free(st);
	return found;
fail:
	free(st);
	return -1;
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);

	return n >= k && !strcmp(s + n - k, suf);
}

int kt_apt_mirror_scan(const char *path, struct kt_apt_mirror *m, struct kt_err *err)
{
	size_t len;
	char *buf;
	int found = 0;

	if (kt_read_file(path, SOURCES_MAX, &buf, &len, err) < 0)
		return -1;
	if (memchr(buf, 0, len)) {
		free(buf);
		return kt_errf(err, "%s: contains a NUL byte, not an apt sources file", path);
	}
	if (has_suffix(path, ".sources")) {
		found = scan_deb822(buf, len, path, m, err);
	} else {
		for (const char *p = buf, *end = buf + len; !found && p < end;) {
			const char *eol = memchr(p, '\n', (size_t)(end - p));

			if (!eol)
				eol = end;
			found = scan_line(p, memchr(p, '#', (size_t)(eol - p)) ?: eol, m);
			p = eol < end ? eol + 1 : end;
		}
	}
	free(buf);
	return found;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int kt_apt_mirror_system(const char *etc_apt, struct kt_apt_mirror *m, struct kt_err *err)
{
	struct kt_strv files;
	struct dirent *de;
	char path[PATH_MAX];
	int found = 0;
	DIR *d;

	kt_strv_init(&files);
	snprintf(path, sizeof(path), "%s/sources.list", etc_apt);
	if (access(path, F_OK) == 0)
		kt_strv_add(&files, path);
	snprintf(path, sizeof(path), "%s/sources.list.d", etc_apt);
	d = opendir(path);
	if (d) {
		size_t first = files.n;

		while ((de = readdir(d)))
			if (de->d_name[0] != '.' &&
			    (has_suffix(de->d_name, ".list") || has_suffix(de->d_name, ".sources")))
				kt_strv_addf(&files, "%s/%s", path, de->d_name);
		closedir(d);
		qsort(files.v + first, files.n - first, sizeof(char *), name_cmp);
	}
	for (size_t i = 0; !found && i < files.n; i++)
		found = kt_apt_mirror_scan(files.v[i], m, err);
	kt_strv_free(&files);
	if (found < 0)
		return kt_err_prefix(err, "apt sources");
	if (!found)
		return kt_errf(err, "no Debian archive mirror (type deb, component main, a Debian "
				    "suite, not -security) in %s/sources.list or %s/sources.list.d",
			       etc_apt, etc_apt);
	return 0;
}

/* ---- Debian version ordering, as dpkg's verrevcmp ---- */

static int order(int c)
{
	if (isdigit(c))
		return 0;
	if (isalpha(c))
		return c;
	if (c == '~')
		return -1;
	if (c)
		return c + 256;
	return 0;
}

static int verrevcmp(const char *a, const char *ae, const char *b, const char *be)
{
	while (a < ae || b < be) {
		int first_diff = 0;

		while ((a < ae && !isdigit((unsigned char)*a)) || (b < be && !isdigit((unsigned char)*b))) {
			int ac = a < ae ? order((unsigned char)*a) : 0;
			int bc = b < be ? order((unsigned char)*b) : 0;

			if (ac != bc)
				return ac - bc;
			a++, b++;
		}
		while (a < ae && *a == '0')
			a++;
		while (b < be && *b == '0')
			b++;
		while (a < ae && b < be && isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			if (!first_diff)
				first_diff = *a - *b;
			a++, b++;
		}
		if (a < ae && isdigit((unsigned char)*a))
			return 1;
		if (b < be && isdigit((unsigned char)*b))
			return -1;
		if (first_diff)
			return first_diff;
	}
	return 0;
}

struct debver {
	unsigned long epoch;
	const char *up, *up_end, *rev, *rev_end;
};

static void debver_split(const char *v, struct debver *d)
{
	const char *colon = strchr(v, ':'), *end = v + strlen(v), *dash;

	d->epoch = 0;
	if (colon) {
		d->epoch = strtoul(v, NULL, 10);
		v = colon + 1;
	}
	dash = strrchr(v, '-');
	d->up = v;
	d->up_end = dash ? dash : end;
	d->rev = dash ? dash + 1 : end;
	d->rev_end = end;
}

int kt_deb_vercmp(const char *a, const char *b)
{
	struct debver x, y;
	int r;

	debver_split(a, &x);
	debver_split(b, &y);
	if (x.epoch != y.epoch)
		return x.epoch < y.epoch ? -1 : 1;
	r = verrevcmp(x.up, x.up_end, y.up, y.up_end);
	if (r)
		return r;
	return verrevcmp(x.rev, x.rev_end, y.rev, y.rev_end);
}

/* ---- running apt ---- */

struct kt_apt {
	char root[PATH_MAX]; /* DIR/SUITE */
	char suite[32];
	int lock_fd;
};

/* Run ARGV (fork+exec, PATH lookup) in CWD (NULL = ours). With OUT, the
 * child's stdout is collected (at most APT_OUT_MAX bytes, more is an
 * error); without, it goes to our stderr so it never mixes into our own
 * output. stderr is inherited so apt's messages reach the user. */
static int run(char *const argv[], const char *cwd, char **out, size_t *outlen, struct kt_err *err)
{
	int pfd[2] = {-1, -1}, status;
	size_t len = 0, cap = 0;
	bool overflow = false;
	char *buf = NULL;
	pid_t pid;

	if (out && pipe2(pfd, O_CLOEXEC) < 0)
		return kt_errf(err, "%s: pipe: %s", argv[0], strerror(errno));
	pid = fork();
	if (pid < 0) {
		if (out)
			close(pfd[0]), close(pfd[1]);
		return kt_errf(err, "%s: fork: %s", argv[0], strerror(errno));
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		if (nul < 0 || dup2(nul, 0) < 0 || dup2(out ? pfd[1] : 2, 1) < 0 ||
		    (cwd && chdir(cwd) < 0))
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (out) {
		close(pfd[1]);
		for (;;) {
			ssize_t r;

			if (len == cap && cap < APT_OUT_MAX) {
				cap = cap ? cap * 2 : 65536;
				buf = kt_xrealloc(buf, cap + 1);
			}
			if (len == cap) { /* over the limit: drain and discard */
				char sink[4096];

				r = read(pfd[0], sink, sizeof(sink));
				overflow |= r > 0;
			} else {
				r = read(pfd[0], buf + len, cap - len);
				if (r > 0)
					len += (size_t)r;
			}
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
		}
		close(pfd[0]);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			free(buf);
			return kt_errf(err, "%s: waitpid: %s", argv[0], strerror(errno));
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || overflow) {
		free(buf);
		if (overflow)
			return kt_errf(err, "%s: more than %d bytes of output", argv[0], APT_OUT_MAX);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			return kt_errf(err, "%s: could not be run (exit 127)", argv[0]);
		if (WIFEXITED(status))
			return kt_errf(err, "%s failed with exit status %d", argv[0], WEXITSTATUS(status));
		return kt_errf(err, "%s killed by signal %d", argv[0], WTERMSIG(status));
	}
	if (out) {
		buf[len] = 0;
		*out = buf;
		*outlen = len;
	}
	return 0;
}

/* Replace PATH with TEXT unless it already holds exactly that. Returns 1
 * when it changed, 0 when not, -1 on error. */
static int write_if_changed(const char *path, const char *text, struct kt_err *err)
{
	char tmp[PATH_MAX + 8], *old = NULL;
	size_t oldlen, n = strlen(text);
	FILE *f;

	if (kt_read_file(path, 65536, &old, &oldlen, NULL) == 0) {
		bool same = oldlen == n && !memcmp(old, text, n);

		free(old);
		if (same)
			return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return kt_errf(err, "%s: %s", tmp, strerror(errno));
	if (fwrite(text, 1, n, f) != n || fclose(f) != 0)
		return kt_errf(err, "%s: write failed", tmp);
	if (rename(tmp, path) < 0)
		return kt_errf(err, "rename %s: %s", tmp, strerror(errno));
	return 1;
}

static bool token_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("+-.~:", s[i]))
			return false;
	return true;
}

/* The private configuration: every directory apt would use points into
 * ROOT, and the system's update hooks (which act on the system's caches)
 * are cleared. The sources list names one suite of the mirror, Packages
 * indexes only. */
static int apt_setup(struct kt_apt *a, const struct kt_apt_mirror *m, bool *changed,
		     struct kt_err *err)
{
	static const char *const dirs[] = {"empty", "state/lists/partial", "cache/archives/partial"};
	char path[PATH_MAX + 32], *text;
	int r;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", a->root, dirs[i]);
		if (kt_mkdir_p(path, err) < 0)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/state/status", a->root);
	r = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (r < 0)
		return kt_errf(err, "%s: %s", path, strerror(errno));
	close(r);
	if (asprintf(&text, "deb [signed-by=%s arch=amd64 target=Packages] %s %s main\n",
		     m->keyring, m->uri, a->suite) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/sources.list", a->root);
	r = write_if_changed(path, text, err);
	free(text);
	if (r < 0)
		return -1;
	*changed = r == 1;
	if (asprintf(&text,
		     "#clear APT::Update::Pre-Invoke;\n"
		     "#clear APT::Update::Post-Invoke;\n"
		     "#clear APT::Update::Post-Invoke-Success;\n"
		     "#clear DPkg::Pre-Invoke;\n"
		     "#clear DPkg::Post-Invoke;\n"
		     "Dir::Etc::SourceList \"%1$s/sources.list\";\n"
		     "Dir::Etc::SourceParts \"%1$s/empty\";\n"
		     "Dir::Etc::Preferences \"/dev/null\";\n"
		     "Dir::Etc::PreferencesParts \"%1$s/empty\";\n"
		     "Dir::State \"%1$s/state\";\n"
		     "Dir::State::status \"%1$s/state/status\";\n"
		     "Dir::Cache \"%1$s/cache\";\n"
		     "Dir::Cache::pkgcache \"%1$s/cache/pkgcache.bin\";\n"
		     "Debug::NoLocking \"1\";\n"
		     "APT::Sandbox::User \"root\";\n"
		     "APT::Architecture \"amd64\";\n"
		     "Acquire::Languages \"none\";\n",
		     a->root) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/apt.conf", a->root);
	r = write_if_changed(path, text, err);
	free(text);
	return r < 0 ? -1 : 0;
}

int kt_apt_open(const char *dir, const char *suite, const struct kt_apt_mirror *m,
		struct kt_apt **out, struct kt_err *err)
{
	struct kt_apt *a;
	char path[PATH_MAX + 8];
	bool changed = false;

	if (!token_ok(suite, sizeof(a->suite)) || strchr(suite, ':'))
		return kt_errf(err, "suite \"%s\": not a suite name", suite);
	if (strchr(dir, '"') || strchr(dir, '\n'))
		return kt_errf(err, "%s: a quote or newline in the cache path", dir);
	a = kt_xcalloc(1, sizeof(*a));
	snprintf(a->suite, sizeof(a->suite), "%s", suite);
	if (snprintf(a->root, sizeof(a->root), "%s/%s", dir, suite) >= (int)sizeof(a->root)) {
		free(a);
		return kt_errf(err, "%s: path too long", dir);
	}
	a->lock_fd = -1;
	if (kt_mkdir_p(a->root, err) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/lock", a->root);
	a->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (a->lock_fd < 0) {
		kt_errf(err, "%s: %s", path, strerror(errno));
		goto fail;
	}
	while (flock(a->lock_fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			kt_errf(err, "lock %s: %s", path, strerror(errno));
			goto fail;
		}
	}
	if (apt_setup(a, m, &changed, err) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/updated", a->root);
	if (changed)
		unlink(path); /* another mirror: the lists are stale */
	*out = a;
	return 0;
fail:
	kt_apt_close(a);
	return kt_err_prefix(err, "apt state for suite %s", suite);
}

void kt_apt_close(struct kt_apt *a)
{
	if (!a)
		return;
	if (a->lock_fd >= 0)
		close(a->lock_fd); /* releases the flock */
	free(a);
}

static void apt_argv(struct kt_apt *a, struct kt_strv *v, const char *prog)
{
	kt_strv_init(v);
	kt_strv_add(v, prog);
	kt_strv_add(v, "-c");
	kt_strv_addf(v, "%s/apt.conf", a->root);
}

int kt_apt_refresh(struct kt_apt *a, long max_age_s, struct kt_err *err)
{
	char stamp[PATH_MAX + 8];
	struct kt_strv v;
	struct stat st;
	int fd, r;

	snprintf(stamp, sizeof(stamp), "%s/updated", a->root);
	if (stat(stamp, &st) == 0 && st.st_mtime <= time(NULL) &&
	    time(NULL) - st.st_mtime < max_age_s)
		return 0;
	apt_argv(a, &v, "apt-get");
	kt_strv_add(&v, "-qq");
	kt_strv_add(&v, "--error-on=any");
	kt_strv_add(&v, "update");
	r = run(v.v, NULL, NULL, NULL, err);
	kt_strv_free(&v);
	if (r < 0)
		return kt_err_prefix(err, "apt-get update for suite %s", a->suite);
	fd = open(stamp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return kt_errf(err, "%s: %s", stamp, strerror(errno));
	close(fd);
	return 0;
}

int kt_apt_pkgnames(struct kt_apt *a, const char *prefix, struct kt_strv *out, struct kt_err *err)
{
	struct kt_strv v;
	size_t len;
	char *buf;
	int r;

	if (!token_ok(prefix, NAME_MAX_LEN))
		return kt_errf(err, "\"%s\": not a package name prefix", prefix);
	apt_argv(a, &v, "apt-cache");
	kt_strv_add(&v, "pkgnames");
	kt_strv_add(&v, prefix);
	r = run(v.v, NULL, &buf, &len, err);
	kt_strv_free(&v);
	if (r < 0)
		return kt_err_prefix(err, "apt-cache pkgnames %s (suite %s)", prefix, a->suite);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		if (token_ok(line, NAME_MAX_LEN) && !strncmp(line, prefix, strlen(prefix)))
			kt_strv_add(out, line);
	free(buf);
	return 0;
}

/* In `apt-cache show` output, the value of FIELD on line LINE, if any. */
static const char *field(const char *line, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(line, name, n) || line[n] != ':')
		return NULL;
	line += n + 1;
	while (*line == ' ')
		line++;
	return line;
}

int kt_apt_newest(struct kt_apt *a, char *const *names, size_t n, char *name, size_t nlen,
		  char *ver, size_t vlen, struct kt_err *err)
{
	char pkg[NAME_MAX_LEN] = "", best[NAME_MAX_LEN] = "", bestver[NAME_MAX_LEN] = "";
	struct kt_strv v;
	size_t len;
	char *buf;
	int r;

	if (n == 0)
		return kt_errf(err, "no package to choose from (suite %s)", a->suite);
	apt_argv(a, &v, "apt-cache");
	kt_strv_add(&v, "show");
	for (size_t i = 0; i < n; i++) {
		if (!token_ok(names[i], NAME_MAX_LEN)) {
			kt_strv_free(&v);
			return kt_errf(err, "\"%s\": not a package name", names[i]);
		}
		kt_strv_add(&v, names[i]);
	}
	r = run(v.v, NULL, &buf, &len, err);
	kt_strv_free(&v);
	if (r < 0)
		return kt_err_prefix(err, "apt-cache show (suite %s)", a->suite);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		const char *val;

		if ((val = field(line, "Package"))) {
			snprintf(pkg, sizeof(pkg), "%s", token_ok(val, sizeof(pkg)) ? val : "");
		} else if ((val = field(line, "Version")) && pkg[0] && token_ok(val, sizeof(bestver))) {
			if (!best[0] || kt_deb_vercmp(val, bestver) > 0) {
				snprintf(best, sizeof(best), "%s", pkg);
				snprintf(bestver, sizeof(bestver), "%s", val);
			}
			pkg[0] = 0;
		}
	}
	free(buf);
	if (!best[0])
		return kt_errf(err, "apt-cache show %s: no package with a version (suite %s)",
			       names[0], a->suite);
	if (snprintf(name, nlen, "%s", best) >= (int)nlen ||
	    snprintf(ver, vlen, "%s", bestver) >= (int)vlen)
		return kt_errf(err, "%s %s: name or version too long", best, bestver);
	return 0;
}

int kt_apt_download(struct kt_apt *a, const char *pkg, const char *ver, const char *dir,
		    struct kt_err *err)
{
	struct kt_strv v;
	int r;

	if (!token_ok(pkg, NAME_MAX_LEN) || !token_ok(ver, NAME_MAX_LEN))
		return kt_errf(err, "\"%s\" \"%s\": not a package name and version", pkg, ver);
	apt_argv(a, &v, "apt-get");
	kt_strv_add(&v, "-qq");
	kt_strv_add(&v, "download");
	kt_strv_addf(&v, "%s=%s", pkg, ver);
	r = run(v.v, dir, NULL, NULL, err);
	kt_strv_free(&v);
	if (r < 0)
		return kt_err_prefix(err, "apt-get download %s=%s (suite %s)", pkg, ver, a->suite);
	return 0;
}

int kt_deb_extract_all(const char *dir, const char *root, struct kt_err *err)
{
	struct kt_strv debs;
	struct dirent *de;
	int r = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return kt_errf(err, "%s: %s", dir, strerror(errno));
	kt_strv_init(&debs);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && has_suffix(de->d_name, ".deb"))
			kt_strv_addf(&debs, "%s/%s", dir, de->d_name);
	closedir(d);
	if (debs.n == 0)
		r = kt_errf(err, "%s: no .deb file to extract", dir);
	for (size_t i = 0; r == 0 && i < debs.n; i++) {
		char *argv[] = {"dpkg-deb", "-x", debs.v[i], (char *)root, NULL};

		if (run(argv, NULL, NULL, NULL, err) < 0)
			r = kt_err_prefix(err, "extracting %s", debs.v[i]);
	}
	kt_strv_free(&debs);
	return r;
}
