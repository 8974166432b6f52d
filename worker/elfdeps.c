#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elfdeps.h"
#include "strv.h"
#include "util.h"

#define LD_SO_CONF "/etc/ld.so.conf"
#define CONF_DEPTH_MAX 8   /* include nesting; a loop of includes stops here */
#define OBJS_MAX 4096      /* objects in one closure */

static const char *const default_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib",
	"/usr/lib", NULL,
};
/* Where glibc looks without ld.so.cache (Debian's build). */
static const char *const system_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib", NULL,
};

/* One loaded object of the closure; index 0 is the binary. */
struct obj {
	char *guest, *host, *origin;
	char *soname, *needed_as;  /* NULL when absent */
	char *rpath, *runpath;     /* raw dynamic strings, NULL when absent */
	struct kt_strv needed;
	bool nodeflib;
	bool cache_only;           /* see struct kt_elfdep */
	int loader;                /* index of the object that needed it, -1 */
};

struct ctx {
	const char *bin;
	int cls, data, machine;    /* of the binary; libraries must match */
	struct obj *o;
	size_t n, cap;
	struct kt_strv conf_dirs;
};

static char *xstrdup(const char *s)
{
	char *r = s ? strdup(s) : NULL;

	if (s && !r)
		abort();
	return r;
}

/* Fold "//", "." and ".." of the absolute path IN lexically into OUT. */
static int normalize(const char *in, char *out, size_t cap)
{
	size_t len = 0;
	const char *p = in, *s;

	if (*in != '/' || cap < 2)
		return -1;
	while (*p) {
		size_t n;

		while (*p == '/')
			p++;
		s = strchr(p, '/');
		n = s ? (size_t)(s - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (len > 0 && out[len] != '/')
				len--;
		} else {
			if (len + 1 + n + 1 > cap)
				return -1;
			out[len++] = '/';
			memcpy(out + len, p, n);
			len += n;
			out[len] = 0;
		}
		p += n;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = 0;
	return 0;
}

static char *dir_of(const char *path)
{
	char *d = xstrdup(path), *slash = strrchr(d, '/');

	if (slash == d)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	return d;
}

/* ---- ELF reading ---- */

struct elf_file {
	int fd;
	Elf *elf;
	GElf_Ehdr eh;
};

static int elf_open(const char *path, struct elf_file *ef, struct kt_err *err)
{
	ef->elf = NULL;
	ef->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ef->fd < 0)
		return kt_errf(err, "%s: cannot open: %s", path, strerror(errno));
	ef->elf = elf_begin(ef->fd, ELF_C_READ, NULL);
	if (!ef->elf || elf_kind(ef->elf) != ELF_K_ELF || !gelf_getehdr(ef->elf, &ef->eh)) {
		kt_errf(err, "%s: not an ELF file", path);
		goto fail;
	}
	return 0;
fail:
	elf_end(ef->elf);
	close(ef->fd);
	ef->elf = NULL;
	return -1;
}

static void elf_close(struct elf_file *ef)
{
	elf_end(ef->elf);
	close(ef->fd);
}

/* File offset of virtual address VADDR, through the PT_LOAD segments. */
static int vaddr_off(Elf *elf, size_t phnum, GElf_Addr vaddr, GElf_Off *off)
{
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz) {
			*off = ph.p_offset + (vaddr - ph.p_vaddr);
			return 0;
		}
	}
	return -1;
}

/* A copy of the string at index IDX of a string table of SIZE bytes. */
static int dyn_str(const char *tab, size_t size, GElf_Xword idx, const char *path, char **out,
		   struct kt_err *err)
{
	if (idx >= size || !memchr(tab + idx, 0, size - idx))
		return kt_errf(err, "%s: dynamic string %llu outside DT_STRTAB", path,
			       (unsigned long long)idx);
	*out = xstrdup(tab + idx);
	return 0;
}

#define NO_STR ((GElf_Xword)-1)

/* The PT_INTERP string: an absolute path, NUL-terminated in the segment. */
static int read_interp(Elf *elf, const GElf_Phdr *ph, const char *path, char **interp,
		       struct kt_err *err)
{
	Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)ph->p_offset, ph->p_filesz, ELF_T_BYTE);
	const char *s = d ? d->d_buf : NULL;

	if (!s || ph->p_filesz < 2 || s[ph->p_filesz - 1] || s[0] != '/' ||
	    strlen(s) != ph->p_filesz - 1)
		return kt_errf(err, "%s: malformed PT_INTERP", path);
	free(*interp);
	*interp = xstrdup(s);
	return 0;
}

/* DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH and -z nodeflib of the
 * PT_DYNAMIC segment DYNPH into O. */
static int read_dynamic(Elf *elf, size_t phnum, const GElf_Phdr *dynph, const char *path,
			struct obj *o, struct kt_err *err)
{
	size_t dynsz = gelf_fsize(elf, ELF_T_DYN, 1, EV_CURRENT), ndyn, strsz = 0;
	Elf_Data *dyn = elf_getdata_rawchunk(elf, (int64_t)dynph->p_offset, dynph->p_filesz,
					     ELF_T_DYN), *strd;
	GElf_Xword soname = NO_STR, rpath = NO_STR, runpath = NO_STR;
	GElf_Addr strtab = 0;
	GElf_Off stroff;
	GElf_Dyn d;
	const char *tab;
	char *need;

	if (!dyn || !dynsz)
		return kt_errf(err, "%s: PT_DYNAMIC outside the file", path);
	ndyn = dynph->p_filesz / dynsz;
	/* First pass: where the strings are; second: the needed names. */
	for (size_t i = 0; i < ndyn && gelf_getdyn(dyn, (int)i, &d) && d.d_tag != DT_NULL; i++) {
		switch (d.d_tag) {
		case DT_STRTAB: strtab = d.d_un.d_ptr; break;
		case DT_STRSZ: strsz = d.d_un.d_val; break;
		case DT_SONAME: soname = d.d_un.d_val; break;
		case DT_RPATH: rpath = d.d_un.d_val; break;
		case DT_RUNPATH: runpath = d.d_un.d_val; break;
		case DT_FLAGS_1: o->nodeflib = d.d_un.d_val & DF_1_NODEFLIB; break;
		}
	}
	if (!strtab)
		return 0; /* e.g. static-pie: dynamic, but nothing to load */
	if (vaddr_off(elf, phnum, strtab, &stroff) ||
	    !(strd = elf_getdata_rawchunk(elf, (int64_t)stroff, strsz, ELF_T_BYTE)))
		return kt_errf(err, "%s: DT_STRTAB/DT_STRSZ outside the file", path);
	tab = strd->d_buf;
	if ((soname != NO_STR && dyn_str(tab, strsz, soname, path, &o->soname, err)) ||
	    (rpath != NO_STR && dyn_str(tab, strsz, rpath, path, &o->rpath, err)) ||
	    (runpath != NO_STR && dyn_str(tab, strsz, runpath, path, &o->runpath, err)))
		return -1;
	for (size_t i = 0; i < ndyn && gelf_getdyn(dyn, (int)i, &d) && d.d_tag != DT_NULL; i++) {
		if (d.d_tag != DT_NEEDED)
			continue;
		if (dyn_str(tab, strsz, d.d_un.d_val, path, &need, err))
			return -1;
		kt_strv_add(&o->needed, need);
		free(need);
	}
	return 0;
}

/* Read the object the way ld.so sees it: through program headers, so
 * binaries without section headers work too. *INTERP (if INTERP is not
 * NULL) receives PT_INTERP, allocated, or NULL. */
static int elf_dynamic(struct elf_file *ef, const char *path, struct obj *o, char **interp,
		       struct kt_err *err)
{
	size_t phnum;
	bool dyn_seen = false;

	if (interp)
		*interp = NULL;
	if (elf_getphdrnum(ef->elf, &phnum))
		return kt_errf(err, "%s: unreadable program headers: %s", path, elf_errmsg(-1));
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(ef->elf, (int)i, &ph))
			return kt_errf(err, "%s: program header %zu unreadable", path, i);
		if (ph.p_type == PT_INTERP && interp && read_interp(ef->elf, &ph, path, interp, err))
			return -1;
		if (ph.p_type == PT_DYNAMIC && dyn_seen)
			return kt_errf(err, "%s: more than one PT_DYNAMIC", path);
		if (ph.p_type == PT_DYNAMIC && read_dynamic(ef->elf, phnum, &ph, path, o, err))
			return -1;
		dyn_seen |= ph.p_type == PT_DYNAMIC;
	}
	return 0;
}

/* Would ld.so accept PATH for a binary described by C? */
static bool compatible(const struct ctx *c, const char *path)
{
	struct elf_file ef;
	bool ok;

	if (elf_open(path, &ef, NULL))
		return false;
	ok = ef.eh.e_ident[EI_CLASS] == c->cls && ef.eh.e_ident[EI_DATA] == c->data &&
	     ef.eh.e_machine == c->machine && ef.eh.e_type == ET_DYN;
	elf_close(&ef);
	return ok;
}

/* ---- ld.so.conf ---- */

static void conf_line(char *line, struct kt_strv *dirs)
{
	for (char *tok = strtok(line, " \t:,="); tok; tok = strtok(NULL, " \t:,=")) {
		char norm[PATH_MAX];

		if (normalize(tok, norm, sizeof(norm)) == 0 && !kt_strv_has(dirs, norm))
			kt_strv_add(dirs, norm);
	}
}

static void read_conf(const char *path, struct kt_strv *dirs, int depth);

static void conf_include(const char *conf, const char *pat, struct kt_strv *dirs, int depth)
{
	char full[PATH_MAX];
	glob_t g;

	if (*pat == '/') {
		snprintf(full, sizeof(full), "%s", pat);
	} else {
		char *d = dir_of(conf);

		snprintf(full, sizeof(full), "%s/%s", d, pat);
		free(d);
	}
	if (glob(full, 0, NULL, &g) == 0)
		for (size_t i = 0; i < g.gl_pathc; i++)
			read_conf(g.gl_pathv[i], dirs, depth + 1);
	globfree(&g);
}

/* Directories listed in an ld.so.conf-style file; unreadable files and
 * lines that are no absolute directory are skipped, as ldconfig does. */
static void read_conf(const char *path, struct kt_strv *dirs, int depth)
{
	char line[PATH_MAX + 64];
	FILE *f;

	if (depth > CONF_DEPTH_MAX || !(f = fopen(path, "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *hash = strchr(line, '#');

		if (hash)
			*hash = 0;
		p += strspn(p, " \t");
		p[strcspn(p, "\r\n")] = 0;
		if (!strncmp(p, "include", 7) && (p[7] == ' ' || p[7] == '\t')) {
			char *pat = p + 8 + strspn(p + 8, " \t");

			pat[strcspn(pat, " \t")] = 0;
			if (*pat)
				conf_include(path, pat, dirs, depth);
		} else if (strncmp(p, "hwcap", 5) != 0) {
			conf_line(p, dirs);
		}
	}
	fclose(f);
}

/* ---- search ---- */

static void obj_free(struct obj *o)
{
	free(o->guest);
	free(o->host);
	free(o->origin);
	free(o->soname);
	free(o->needed_as);
	free(o->rpath);
	free(o->runpath);
	kt_strv_free(&o->needed);
}

/* Append the object at GUEST (already checked compatible) and read its
 * dynamic section. */
static int add_obj(struct ctx *c, const char *guest, const char *needed_as, int loader,
		   char **interp, struct kt_err *err)
{
	struct elf_file ef;
	struct obj *o;
	char host[PATH_MAX];
	int rc;

	if (c->n == OBJS_MAX)
		return kt_errf(err, "%s: more than %d objects in the closure", c->bin, OBJS_MAX);
	if (!realpath(guest, host))
		return kt_errf(err, "%s: cannot resolve %s: %s", c->bin, guest, strerror(errno));
	if (elf_open(host, &ef, err))
		return -1;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->o = kt_xrealloc(c->o, c->cap * sizeof(*c->o));
	}
	o = &c->o[c->n++];
	*o = (struct obj){ .guest = xstrdup(guest), .host = xstrdup(host),
			   .needed_as = xstrdup(needed_as), .loader = loader };
	kt_strv_init(&o->needed);
	/* ld.so takes the executable's origin from /proc/self/exe (its
	 * realpath), a library's from the path it was found at. */
	o->origin = dir_of(loader < 0 ? host : guest);
	rc = elf_dynamic(&ef, host, o, interp, err);
	elf_close(&ef);
	return rc;
}

static bool loaded(const struct ctx *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct obj *o = &c->o[i];

		if ((o->soname && !strcmp(o->soname, name)) ||
		    (o->needed_as && !strcmp(o->needed_as, name)) || !strcmp(o->guest, name))
			return true;
	}
	return false;
}

/* Add the directories of a DT_RPATH/DT_RUNPATH string to DIRS. */
static void add_path_list(const char *list, const char *origin, struct kt_strv *dirs)
{
	char *copy = xstrdup(list), *save = NULL;

	for (char *el = strtok_r(copy, ":", &save); el; el = strtok_r(NULL, ":", &save)) {
		char buf[PATH_MAX], norm[PATH_MAX];
		const char *rest = NULL;

		if (!strncmp(el, "$ORIGIN", 7))
			rest = el + 7;
		else if (!strncmp(el, "${ORIGIN}", 9))
			rest = el + 9;
		if (rest && (*rest == '/' || !*rest))
			snprintf(buf, sizeof(buf), "%s%s", origin, rest);
		else if (rest)
			continue; /* "$ORIGINfoo" is another token */
		else
			snprintf(buf, sizeof(buf), "%s", el);
		if (strchr(buf + (rest ? strlen(origin) : 0), '$'))
			continue; /* $LIB, $PLATFORM: not expanded here */
		if (normalize(buf, norm, sizeof(norm)) == 0)
			kt_strv_add(dirs, norm);
	}
	free(copy);
}

/* Fill DIRS with the search list for a name needed by object IDX; returns
 * the index of the first directory that stands in for ld.so.cache. */
static size_t search_dirs(const struct ctx *c, int idx, struct kt_strv *dirs)
{
	const struct obj *o = &c->o[idx];
	size_t cache_from;

	if (!o->runpath)
		for (int l = idx; l >= 0; l = c->o[l].loader)
			if (c->o[l].rpath)
				add_path_list(c->o[l].rpath, c->o[l].origin, dirs);
	if (o->runpath)
		add_path_list(o->runpath, o->origin, dirs);
	cache_from = dirs->n;
	if (o->nodeflib)
		return cache_from;
	for (size_t i = 0; i < c->conf_dirs.n; i++)
		kt_strv_add(dirs, c->conf_dirs.v[i]);
	for (int i = 0; default_dirs[i]; i++)
		kt_strv_add(dirs, default_dirs[i]);
	return cache_from;
}

static bool system_dir(const char *dir)
{
	for (int i = 0; system_dirs[i]; i++)
		if (!strcmp(system_dirs[i], dir))
			return true;
	return false;
}

static int resolve(struct ctx *c, int idx, const char *name, struct kt_err *err)
{
	struct kt_strv dirs;
	char cand[PATH_MAX], norm[PATH_MAX];
	size_t cache_from;
	int rc = 1;

	if (loaded(c, name))
		return 0;
	if (strchr(name, '/')) {
		if (normalize(name, norm, sizeof(norm)) || !compatible(c, norm))
			return kt_errf(err, "%s: library %s (needed by %s) not found or not"
				       " compatible", c->bin, name, c->o[idx].guest);
		return loaded(c, norm) ? 0 : add_obj(c, norm, name, idx, NULL, err);
	}
	kt_strv_init(&dirs);
	cache_from = search_dirs(c, idx, &dirs);
	for (size_t i = 0; i < dirs.n && rc > 0; i++) {
		if ((size_t)snprintf(cand, sizeof(cand), "%s/%s", dirs.v[i], name) >= sizeof(cand) ||
		    normalize(cand, norm, sizeof(norm)) || !compatible(c, norm))
			continue;
		rc = add_obj(c, norm, name, idx, NULL, err);
		if (rc == 0)
			c->o[c->n - 1].cache_only = i >= cache_from && !system_dir(dirs.v[i]);
	}
	kt_strv_free(&dirs);
	if (rc > 0)
		return kt_errf(err, "%s: library %s (needed by %s) not found", c->bin, name,
			       c->o[idx].guest);
	return rc;
}

/* ---- result set ---- */

void kt_elfdeps_init(struct kt_elfdeps *d)
{
	*d = (struct kt_elfdeps){0};
}

void kt_elfdeps_free(struct kt_elfdeps *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].guest);
		free(d->v[i].host);
	}
	free(d->v);
	kt_elfdeps_init(d);
}

static void deps_add(struct kt_elfdeps *d, const struct obj *o)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i].guest, o->guest))
			return;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 16;
		d->v = kt_xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	d->v[d->n] = (struct kt_elfdep){ .guest = xstrdup(o->guest), .host = xstrdup(o->host),
					 .cache_only = o->cache_only };
	d->n++;
}

static int walk(struct ctx *c, const char *path, struct kt_err *err)
{
	struct elf_file ef;
	char abs[PATH_MAX], *interp = NULL;
	int rc;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return kt_errf(err, "libelf: %s", elf_errmsg(-1));
	if (elf_open(path, &ef, err))
		return -1;
	c->cls = ef.eh.e_ident[EI_CLASS];
	c->data = ef.eh.e_ident[EI_DATA];
	c->machine = ef.eh.e_machine;
	rc = ef.eh.e_type == ET_EXEC || ef.eh.e_type == ET_DYN;
	elf_close(&ef);
	if (!rc)
		return kt_errf(err, "%s: ELF file is not an executable or shared object", path);
	if (!realpath(path, abs))
		return kt_errf(err, "%s: %s", path, strerror(errno));
	if (add_obj(c, abs, NULL, -1, &interp, err)) {
		free(interp);
		return -1;
	}
	if (interp) {
		char norm[PATH_MAX];

		rc = normalize(interp, norm, sizeof(norm)) == 0 && compatible(c, norm) ?
		     add_obj(c, norm, NULL, 0, NULL, err) :
		     kt_errf(err, "%s: interpreter %s not found or not compatible", path, interp);
		free(interp);
		if (rc)
			return -1;
	}
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < c->o[i].needed.n; j++)
			if (resolve(c, (int)i, c->o[i].needed.v[j], err))
				return -1;
	return 0;
}

int kt_elfdeps_closure(const char *path, struct kt_elfdeps *d, struct kt_err *err)
{
	struct ctx c = { .bin = path };
	int rc;

	kt_strv_init(&c.conf_dirs);
	read_conf(LD_SO_CONF, &c.conf_dirs, 0);
	rc = walk(&c, path, err);
	if (!rc)
		for (size_t i = 1; i < c.n; i++)
			deps_add(d, &c.o[i]);
	for (size_t i = 0; i < c.n; i++)
		obj_free(&c.o[i]);
	free(c.o);
	kt_strv_free(&c.conf_dirs);
	return rc;
}
