#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "apt_mirror.h"
#include "kernel_cache.h"
#include "sha256.h"

/* ---- a synthetic bzImage ---- */

#define IMG_LEN 8192
#define SETUP_LEN 2560 /* setup_sects 4 */

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* A minimal image: boot header, version string at 0x500, payload filled
 * from SEED so images can differ. */
static void make_image(uint8_t *img, const char *version, unsigned seed)
{
	memset(img, 0, IMG_LEN);
	for (size_t i = SETUP_LEN; i < IMG_LEN; i++)
		img[i] = (uint8_t)(i * 7 + seed);
	img[0x1f1] = 4;
	put16(img + 0x1f4, (IMG_LEN - SETUP_LEN) / 16);
	memcpy(img + 0x202, "HdrS", 4);
	put16(img + 0x206, 0x20f);
	put16(img + 0x20e, 0x300);
	img[0x211] = 1;
	strcpy((char *)img + 0x500, version);
}

static void bz_valid(void **state)
{
	static uint8_t img[IMG_LEN];
	struct kt_bzimage bz;
	struct kt_err err;

	(void)state;
	make_image(img, "6.1.0-test-amd64 (me@here) #1 SMP", 0);
	assert_int_equal(kt_bzimage_parse(img, IMG_LEN, &bz, &err), 0);
	assert_string_equal(bz.release, "6.1.0-test-amd64");
	assert_int_equal(bz.min_size, IMG_LEN);
	/* No version pointer: valid, release unknown. */
	put16(img + 0x20e, 0);
	assert_int_equal(kt_bzimage_parse(img, IMG_LEN, &bz, &err), 0);
	assert_string_equal(bz.release, "");
}

static void bz_invalid(void **state)
{
	static uint8_t img[IMG_LEN];
	struct kt_bzimage bz;
	struct kt_err err;

	(void)state;
	make_image(img, "6.1.0", 0);
	assert_int_equal(kt_bzimage_parse(img, 0x100, &bz, &err), -1);
	assert_non_null(strstr(err.msg, "too short"));

	img[0x202] = 'X';
	assert_int_equal(kt_bzimage_parse(img, IMG_LEN, &bz, &err), -1);
	assert_non_null(strstr(err.msg, "HdrS"));

	make_image(img, "6.1.0", 0);
	img[0x211] = 0;
	assert_int_equal(kt_bzimage_parse(img, IMG_LEN, &bz, &err), -1);
	assert_non_null(strstr(err.msg, "zImage"));

	/* Pointer past the setup code (0x900 + 0x200 >= 2560). */
	make_image(img, "6.1.0", 0);
	put16(img + 0x20e, 0x900);
	assert_int_equal(kt_bzimage_parse(img, IMG_LEN, &bz, &err), -1);
	assert_non_null(strstr(err.msg, "outside"));
	/* ... and past the bytes we were given. */
	put16(img + 0x20e, 0x300);
	assert_int_equal(kt_bzimage_parse(img, 0x400, &bz, &err), -1);
	assert_non_null(strstr(err.msg, "outside"));

	/* A string that runs to the end of the setup code. */
	make_image(img, "", 0);
	memset(img + 0x500, 'A', SETUP_LEN - 0x500);
	assert_int_equal(kt_bzimage_parse(img, IMG_LEN, &bz, &err), -1);
	assert_non_null(strstr(err.msg, "not terminated"));

	make_image(img, "6.1\x01", 0);
	assert_int_equal(kt_bzimage_parse(img, IMG_LEN, &bz, &err), -1);
	assert_non_null(strstr(err.msg, "non-printable"));

	make_image(img, " 6.1", 0);
	assert_int_equal(kt_bzimage_parse(img, IMG_LEN, &bz, &err), -1);
}

/* ---- kernel config flags ---- */

static void kconfig_flags(void **state)
{
	const char *both = "#\n# comment\nCONFIG_X=y\nCONFIG_SCHED_CLASS_EXT=y\nCONFIG_DEBUG_INFO_BTF=y";
	const char *off = "CONFIG_A=m\n# CONFIG_SCHED_CLASS_EXT is not set\nCONFIG_DEBUG_INFO_BTF=n\n"
			  "CONFIG_SCHED_CLASS_EXT=yes\nCONFIG_DEBUG_INFO_BTF_MODULES=y\n";
	const char *crlf = "CONFIG_SCHED_CLASS_EXT=y\r\nCONFIG_DEBUG_INFO_BTF=y\r\n";
	struct kt_err err;
	int sx, btf;

	(void)state;
	assert_int_equal(kt_kconfig_parse(both, strlen(both), &sx, &btf, &err), 0);
	assert_int_equal(sx, 1);
	assert_int_equal(btf, 1);
	assert_int_equal(kt_kconfig_parse(off, strlen(off), &sx, &btf, &err), 0);
	assert_int_equal(sx, 0);
	assert_int_equal(btf, 0);
	assert_int_equal(kt_kconfig_parse(crlf, strlen(crlf), &sx, &btf, &err), 0);
	assert_int_equal(sx + btf, 2);
	assert_int_equal(kt_kconfig_parse("hello\nworld\n", 12, &sx, &btf, &err), -1);
	assert_non_null(strstr(err.msg, "not a kernel config"));
	assert_int_equal(kt_kconfig_parse("CONFIG_A=y\0", 11, &sx, &btf, &err), -1);
}

/* ---- meta ---- */

static void sample_kernel(struct kt_kernel *k)
{
	memset(k, 0, sizeof(*k));
	memset(k->sha256, 'a', 64);
	memcpy(k->sha256, "0123456789", 10);
	strcpy(k->version, "7.2.13+deb14-cloud-amd64");
	strcpy(k->source, "debian:sid linux-binary-7.2.13+deb14-cloud-amd64 7.2.13-1");
	k->size = 14026688;
	k->has_sched_ext = 1;
	k->has_btf = -1;
	k->fetched_at = 1795634546;
}

static void meta_roundtrip(void **state)
{
	struct kt_kernel k, back;
	char buf[KT_KMETA_MAX];
	struct kt_err err;

	(void)state;
	sample_kernel(&k);
	assert_int_equal(kt_kmeta_format(&k, buf, sizeof(buf), &err), 0);
	assert_non_null(strstr(buf, "has_btf=unknown\n"));
	assert_int_equal(kt_kmeta_parse(buf, strlen(buf), &back, &err), 0);
	assert_string_equal(back.sha256, k.sha256);
	assert_string_equal(back.version, k.version);
	assert_string_equal(back.source, k.source);
	assert_int_equal(back.size, k.size);
	assert_int_equal(back.has_sched_ext, 1);
	assert_int_equal(back.has_btf, -1);
	assert_int_equal(back.fetched_at, k.fetched_at);

	/* Values that could not be read back are refused. */
	strcpy(k.version, "7.2\nsize=1");
	assert_int_equal(kt_kmeta_format(&k, buf, sizeof(buf), &err), -1);
	sample_kernel(&k);
	k.sha256[0] = 'A';
	assert_int_equal(kt_kmeta_format(&k, buf, sizeof(buf), &err), -1);
	sample_kernel(&k);
	assert_int_equal(kt_kmeta_format(&k, buf, 100, &err), -1);
}

/* Replace the line starting with KEY in BUF by LINE (NULL: drop it). */
static void edit(char *buf, const char *key, const char *line)
{
	char out[KT_KMETA_MAX * 2] = "", *p = buf;

	while (*p) {
		char *eol = strchr(p, '\n');
		size_t n = (size_t)(eol - p) + 1;

		if (!strncmp(p, key, strlen(key))) {
			if (line)
				strcat(out, line);
		} else {
			strncat(out, p, n);
		}
		p += n;
	}
	strcpy(buf, out);
}

static void meta_rejects(void **state)
{
	static const struct {
		const char *key, *line, *why;
	} bad[] = {
		{"size=", "size=-1\n", "bad size"},
		{"size=", "size= 12\n", "bad size"},
		{"size=", "size=99999999999999999999\n", "bad size"},
		{"size=", NULL, "size missing"},
		{"has_btf=", "has_btf=yes\n", "bad has_btf"},
		{"sha256=", "sha256=ABC\n", "bad sha256"},
		{"version=", "version=\n", "bad version"},
		{"version=", "version=a\tb\n", "bad version"},
		{"fetched_at=", "fetched_at=1\nfetched_at=2\n", "twice"},
		{"fetched_at=", "fetched_at=1\ncolor=blue\n", "unknown key"},
		{"fetched_at=", "fetched_at\n", "key=value"},
		{"fetched_at=", "fetched_at=1", "final newline"},
	};
	char buf[KT_KMETA_MAX * 2];
	struct kt_kernel k;
	struct kt_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sample_kernel(&k);
		assert_int_equal(kt_kmeta_format(&k, buf, sizeof(buf), &err), 0);
		edit(buf, bad[i].key, bad[i].line);
		assert_int_equal(kt_kmeta_parse(buf, strlen(buf), &k, &err), -1);
		if (!strstr(err.msg, bad[i].why))
			fail_msg("case %zu: \"%s\" does not mention \"%s\"", i, err.msg, bad[i].why);
	}
	memset(buf, 'x', KT_KMETA_MAX + 1);
	assert_int_equal(kt_kmeta_parse(buf, KT_KMETA_MAX + 1, &k, &err), -1);
	assert_int_equal(kt_kmeta_parse("sha256=\0\n", 9, &k, &err), -1);
}

/* ---- temp files ---- */

static char tmpdir[64];

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)f;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static int setup_tmp(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/ktstr-kcache-test.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_at(const char *rel, const void *data, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_text(const char *rel, const char *text)
{
	write_at(rel, text, strlen(text));
}

static int scan(const char *rel, struct kt_apt_mirror *m)
{
	char path[256];
	struct kt_err err;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	memset(m, 0, sizeof(*m));
	return kt_apt_mirror_scan(path, m, &err);
}

/* ---- mirror discovery ---- */

static void mirror_deb822(void **state)
{
	struct kt_apt_mirror m;

	(void)state;
	write_text("a.sources",
		   "# security first: skipped\n"
		   "Types: deb\nURIs: http://deb.debian.org/debian-security\n"
		   "Suites: bookworm-security\nComponents: main\n\n"
		   "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n"
		   "Components: main\n\n"
		   "Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\n"
		   "Components: main\n\n"
		   "types: deb\n# a comment inside\nuris: https://mirror.example/debian\n"
		   "suites: bookworm bookworm-updates\ncomponents: main contrib\n"
		   "signed-by: /etc/keys/archive.gpg\n");
	assert_int_equal(scan("a.sources", &m), 1);
	assert_string_equal(m.uri, "https://mirror.example/debian");
	assert_string_equal(m.keyring, "/etc/keys/archive.gpg");

	/* Third-party repositories: not Debian suites, or no main. */
	write_text("b.sources",
		   "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n"
		   "Components: main\n\n"
		   "Types: deb\nURIs: https://download.docker.com/linux/debian\nSuites: bookworm\n"
		   "Components: stable\n");
	assert_int_equal(scan("b.sources", &m), 0);

	/* An inline key is no path: the default keyring. */
	write_text("c.sources",
		   "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: sid\nComponents: main\n"
		   "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBF\n"
		   " -----END PGP PUBLIC KEY BLOCK-----\n");
	assert_int_equal(scan("c.sources", &m), 1);
	assert_string_equal(m.uri, "http://deb.debian.org/debian");
	assert_string_equal(m.keyring, KT_APT_DEFAULT_KEYRING);

	write_text("d.sources", "Types: deb\nthis line has no colon\n");
	assert_int_equal(scan("d.sources", &m), -1);
}

static void mirror_oneline(void **state)
{
	struct kt_apt_mirror m;

	(void)state;
	write_text("a.list",
		   "# deb http://commented.example/debian bookworm main\n"
		   "deb-src http://src.example/debian bookworm main\n"
		   "deb http://security.debian.org/debian-security bookworm-security main\n"
		   "deb http://security.debian.org/ buster/updates main\n"
		   "deb [arch=amd64] https://download.docker.com/linux/debian bookworm stable\n"
		   "deb [ arch=amd64 signed-by=/k/one.gpg,/k/two.gpg ] http://ftp.example/debian/ "
		   "trixie main non-free # trailing comment\n");
	assert_int_equal(scan("a.list", &m), 1);
	assert_string_equal(m.uri, "http://ftp.example/debian/");
	assert_string_equal(m.keyring, "/k/one.gpg");

	write_text("b.list", "deb [signed-by=/k/k.gpg] http://x.example/debian stable main\n");
	assert_int_equal(scan("b.list", &m), 1);
	assert_string_equal(m.keyring, "/k/k.gpg");

	write_text("c.list", "deb cdrom:[Debian 12]/ bookworm main\ndeb [broken http://x/ sid main\n");
	assert_int_equal(scan("c.list", &m), 0);
}

static void mirror_system(void **state)
{
	struct kt_apt_mirror m;
	struct kt_err err;
	char etc[128];

	(void)state;
	snprintf(etc, sizeof(etc), "%s/etc", tmpdir);
	assert_int_equal(mkdir(etc, 0755), 0);
	assert_int_equal(kt_apt_mirror_system(etc, &m, &err), -1);
	assert_non_null(strstr(err.msg, "no Debian archive mirror"));
	assert_int_equal(mkdir(strcat(etc, "/sources.list.d"), 0755), 0);
	write_text("etc/sources.list.d/b.sources",
		   "Types: deb\nURIs: http://b.example/debian\nSuites: bookworm\nComponents: main\n");
	write_text("etc/sources.list.d/a.list", "deb http://a.example/debian sid main\n");
	write_text("etc/sources.list.d/0.sources.disabled", "Types: deb\nURIs: http://no/\n");
	snprintf(etc, sizeof(etc), "%s/etc", tmpdir);
	assert_int_equal(kt_apt_mirror_system(etc, &m, &err), 0);
	assert_string_equal(m.uri, "http://a.example/debian"); /* sorted by name */
	write_text("etc/sources.list", "deb http://main.example/debian bookworm main\n");
	assert_int_equal(kt_apt_mirror_system(etc, &m, &err), 0);
	assert_string_equal(m.uri, "http://main.example/debian"); /* sources.list first */
}

static void vercmp(void **state)
{
	(void)state;
	assert_true(kt_deb_vercmp("6.1.176-1", "6.1.170-3") > 0);
	assert_true(kt_deb_vercmp("6.1.76-1", "6.1.170-3") < 0);
	assert_true(kt_deb_vercmp("7.2.13-1", "7.2.9-1") > 0);
	assert_true(kt_deb_vercmp("1.0~rc1-1", "1.0-1") < 0);
	assert_true(kt_deb_vercmp("1:0.1", "2.0") > 0);
	assert_true(kt_deb_vercmp("6.12.117-1", "6.12.117-1+b1") < 0);
	assert_true(kt_deb_vercmp("1.0a", "1.0+") < 0);
	assert_int_equal(kt_deb_vercmp("6.1.0-01", "6.1.0-1"), 0);
}

/* ---- the cache itself ---- */

static void cache_path(char *buf, size_t len)
{
	snprintf(buf, len, "%s/cache", tmpdir);
}

static void cache_dir_env(void **state)
{
	char buf[256], cwd[200], *home = getenv("HOME");
	struct kt_err err;

	(void)state;
	home = home ? strdup(home) : NULL;
	setenv("KTSTR_CACHE_DIR", "/c/k", 1);
	setenv("XDG_CACHE_HOME", "/x", 1);
	setenv("HOME", "/h", 1);
	assert_int_equal(kt_kcache_dir(buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "/c/k");
	unsetenv("KTSTR_CACHE_DIR");
	assert_int_equal(kt_kcache_dir(buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "/x/ktstr");
	setenv("XDG_CACHE_HOME", "relative", 1);
	assert_int_equal(kt_kcache_dir(buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "/h/.cache/ktstr");
	unsetenv("HOME");
	unsetenv("XDG_CACHE_HOME");
	assert_int_equal(kt_kcache_dir(buf, sizeof(buf), &err), -1);
	setenv("KTSTR_CACHE_DIR", "rel/cache", 1);
	assert_int_equal(kt_kcache_dir(buf, sizeof(buf), &err), 0);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(strncmp(buf, cwd, strlen(cwd)), 0);
	assert_string_equal(buf + strlen(cwd), "/rel/cache");
	unsetenv("KTSTR_CACHE_DIR");
	if (home)
		setenv("HOME", home, 1);
	free(home);
}

static void image_sha(const uint8_t *img, char hex[65])
{
	struct kt_sha256 s;
	uint8_t d[32];

	kt_sha256_init(&s);
	kt_sha256_update(&s, img, IMG_LEN);
	kt_sha256_final(&s, d);
	kt_sha256_hex(d, hex);
}

static void add_list_rm(void **state)
{
	static uint8_t img[IMG_LEN];
	char cache[200], path[256], config[256], sha1[65], sha2[65];
	struct kt_kernel k, *v;
	struct kt_err err;
	unsigned seed;
	size_t n;

	(void)state;
	cache_path(cache, sizeof(cache));
	make_image(img, "6.1.0-one (x) #1", 0);
	write_at("one", img, IMG_LEN);
	image_sha(img, sha1);
	/* A second image whose sha256 shares the first hex digit. */
	for (seed = 1;; seed++) {
		make_image(img, "6.2.0-two (x) #1", seed);
		image_sha(img, sha2);
		if (sha2[0] == sha1[0])
			break;
	}
	write_at("two", img, IMG_LEN);
	write_text("config-6.2.0-two", "CONFIG_SCHED_CLASS_EXT=y\nCONFIG_DEBUG_INFO_BTF=y\n");

	assert_int_equal(kt_kcache_list(cache, &v, &n, &err), 0); /* no cache yet */
	assert_int_equal(n, 0);
	free(v);

	snprintf(path, sizeof(path), "%s/one", tmpdir);
	assert_int_equal(kt_kcache_add(cache, path, NULL, &k, &err), 0);
	assert_string_equal(k.sha256, sha1);
	assert_string_equal(k.version, "6.1.0-one");
	assert_int_equal(k.size, IMG_LEN);
	assert_int_equal(k.has_sched_ext, -1);
	assert_string_equal(k.config, "");
	assert_int_equal(strncmp(k.source, "local:/", 7), 0);
	assert_non_null(strstr(k.source, "/one"));

	/* resolve of a path finds config-<release> beside it. */
	snprintf(path, sizeof(path), "%s/two", tmpdir);
	assert_int_equal(kt_kcache_resolve(cache, path, &k, &err), 0);
	assert_string_equal(k.sha256, sha2);
	assert_int_equal(k.has_sched_ext, 1);
	assert_int_equal(k.has_btf, 1);
	assert_true(k.config[0]);

	/* Adding again: the same entry, now with a config. */
	snprintf(path, sizeof(path), "%s/one", tmpdir);
	snprintf(config, sizeof(config), "%s/config-6.2.0-two", tmpdir);
	assert_int_equal(kt_kcache_add(cache, path, config, &k, &err), 0);
	assert_string_equal(k.sha256, sha1);
	assert_int_equal(k.has_sched_ext, 1);

	assert_int_equal(kt_kcache_list(cache, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	free(v);

	assert_int_equal(kt_kcache_resolve(cache, (char[]){sha2[0], sha2[1], sha2[2], sha2[3],
							   sha2[4], sha2[5], 0}, &k, &err), 0);
	assert_string_equal(k.sha256, sha2);

	assert_int_equal(kt_kcache_rm(cache, (char[]){sha1[0], 0}, &err), -1);
	assert_non_null(strstr(err.msg, "ambiguous"));
	assert_int_equal(kt_kcache_rm(cache, "xyz", &err), -1);
	assert_int_equal(kt_kcache_rm(cache, sha2, &err), 0);
	assert_int_equal(kt_kcache_rm(cache, sha2, &err), -1);
	assert_non_null(strstr(err.msg, "no cached kernel"));
	assert_int_equal(kt_kcache_list(cache, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].sha256, sha1);
	free(v);
	/* The work directories are gone. */
	snprintf(path, sizeof(path), "%s/tmp", cache);
	assert_int_equal(rmdir(path), 0);
}

static void add_rejects(void **state)
{
	static uint8_t img[IMG_LEN];
	char cache[200], path[256], config[256];
	struct kt_kernel k, *v;
	struct kt_err err;
	size_t n;

	(void)state;
	cache_path(cache, sizeof(cache));
	make_image(img, "6.1.0-one (x) #1", 0);
	write_at("trunc", img, IMG_LEN - 100);
	snprintf(path, sizeof(path), "%s/trunc", tmpdir);
	assert_int_equal(kt_kcache_add(cache, path, NULL, &k, &err), -1);
	assert_non_null(strstr(err.msg, "truncated"));
	write_text("garbage", "this is not a kernel\n");
	snprintf(path, sizeof(path), "%s/garbage", tmpdir);
	assert_int_equal(kt_kcache_add(cache, path, NULL, &k, &err), -1);
	assert_non_null(strstr(err.msg, "garbage"));
	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	assert_int_equal(kt_kcache_add(cache, path, NULL, &k, &err), -1);
	write_at("good", img, IMG_LEN);
	snprintf(path, sizeof(path), "%s/good", tmpdir);
	snprintf(config, sizeof(config), "%s/garbage", tmpdir);
	assert_int_equal(kt_kcache_add(cache, path, config, &k, &err), -1);
	assert_non_null(strstr(err.msg, "not a kernel config"));
	assert_int_equal(kt_kcache_list(cache, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	free(v);
}

static void damaged_entry(void **state)
{
	static uint8_t img[IMG_LEN];
	char cache[200], path[400];
	struct kt_kernel k, *v;
	struct kt_err err;
	size_t n;

	(void)state;
	cache_path(cache, sizeof(cache));
	make_image(img, "6.1.0-one (x) #1", 0);
	write_at("img", img, IMG_LEN);
	snprintf(path, sizeof(path), "%s/img", tmpdir);
	assert_int_equal(kt_kcache_add(cache, path, NULL, &k, &err), 0);
	snprintf(path, sizeof(path), "%s/kernels/%s/meta", cache, k.sha256);
	write_text(path + strlen(tmpdir) + 1, "sha256=bogus\n");
	assert_int_equal(kt_kcache_list(cache, &v, &n, &err), -1);
	assert_non_null(strstr(err.msg, "kernel cache entry"));
	assert_non_null(strstr(err.msg, "rm"));
	assert_int_equal(kt_kcache_rm(cache, k.sha256, &err), 0);
	assert_int_equal(kt_kcache_list(cache, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	free(v);
}

/* Two processes add the same image at once: one entry, both succeed. */
static void concurrent_add(void **state)
{
	static uint8_t img[IMG_LEN];
	char cache[200], path[256];
	struct kt_kernel *v;
	struct kt_err err;
	pid_t pid[4];
	size_t n;

	(void)state;
	cache_path(cache, sizeof(cache));
	make_image(img, "6.1.0-one (x) #1", 0);
	write_at("img", img, IMG_LEN);
	snprintf(path, sizeof(path), "%s/img", tmpdir);
	for (int i = 0; i < 4; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			struct kt_kernel k;

			_exit(kt_kcache_add(cache, path, NULL, &k, &err) == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < 4; i++) {
		int st;

		assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(kt_kcache_list(cache, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	free(v);
}

static void fetch_rejects_spec(void **state)
{
	char cache[200];
	struct kt_kernel k;
	struct kt_err err;

	(void)state;
	cache_path(cache, sizeof(cache));
	assert_int_equal(kt_kcache_fetch(cache, "debian:buster", &k, &err), -1);
	assert_non_null(strstr(err.msg, "debian:buster"));
	assert_int_equal(kt_kcache_fetch(cache, "-oDebug=1", &k, &err), -1);
	assert_int_equal(kt_kcache_fetch(cache, "linux-binary-unsigned-7.2-cloud-amd64", &k, &err), -1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_tmp, teardown_tmp)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bz_valid),
		cmocka_unit_test(bz_invalid),
		cmocka_unit_test(kconfig_flags),
		cmocka_unit_test(meta_roundtrip),
		cmocka_unit_test(meta_rejects),
		cmocka_unit_test(vercmp),
		cmocka_unit_test(cache_dir_env),
		T(mirror_deb822),
		T(mirror_oneline),
		T(mirror_system),
		T(add_list_rm),
		T(add_rejects),
		T(damaged_entry),
		T(concurrent_add),
		T(fetch_rejects_spec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
