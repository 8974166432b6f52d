/* A private view of the Debian archive, for fetching kernel packages.
 *
 * The mirror is discovered at run time from the system's apt sources (never
 * hard-coded), but everything apt needs to look at it lives in a directory
 * we own: its own sources list, lists, package cache and status file, one
 * set per suite. The system's apt configuration of sources is never
 * modified, and apt-get/apt-cache run by fork+exec with `-o` options. The
 * archive signature is still checked, with the keyring the system's source
 * names (Signed-By), so what we download is authenticated. */
#ifndef KTSTR_APT_MIRROR_H
#define KTSTR_APT_MIRROR_H
#include <limits.h>
#include <stddef.h>
#include "err.h"
#include "strv.h"

/* The keyring used when a source names none. */
#define KT_APT_DEFAULT_KEYRING "/usr/share/keyrings/debian-archive-keyring.gpg"

struct kt_apt_mirror {
	char uri[512];          /* e.g. http://deb.debian.org/debian */
	char keyring[PATH_MAX]; /* absolute path of the archive keyring */
};

/* Scan one apt sources file for a Debian archive mirror: deb822 format when
 * PATH ends in ".sources", one-line format otherwise. A source counts when
 * it is enabled, of type deb, has component main, a Debian suite name
 * (bookworm, sid, stable, ...), and no -security suite. Returns 1 and fills
 * M for the first such source, 0 when there is none, -1 when the file cannot
 * be read or is malformed. */
int kt_apt_mirror_scan(const char *path, struct kt_apt_mirror *m, struct kt_err *err);

/* The system's mirror, in apt's own reading order: ETC_APT/sources.list,
 * then ETC_APT/sources.list.d/{*.list,*.sources} sorted by name. ETC_APT is
 * "/etc/apt" outside tests. Finding no mirror is an error. */
int kt_apt_mirror_system(const char *etc_apt, struct kt_apt_mirror *m, struct kt_err *err);

/* Debian version ordering (as dpkg --compare-versions): <0, 0 or >0. */
int kt_deb_vercmp(const char *a, const char *b);

/* One suite of the mirror, seen through private apt state under
 * DIR/SUITE/. Open takes an exclusive lock on that directory (waiting for
 * other processes), so the lists and downloads of one suite are never
 * touched by two processes at once; close releases it. */
struct kt_apt;

int kt_apt_open(const char *dir, const char *suite, const struct kt_apt_mirror *m,
		struct kt_apt **out, struct kt_err *err);
void kt_apt_close(struct kt_apt *a);

/* Run `apt-get update` when the private lists are missing, older than
 * MAX_AGE_S seconds, or were made for another mirror. */
int kt_apt_refresh(struct kt_apt *a, long max_age_s, struct kt_err *err);

/* Append to OUT every package name that starts with PREFIX. */
int kt_apt_pkgnames(struct kt_apt *a, const char *prefix, struct kt_strv *out, struct kt_err *err);

/* Among the packages NAMES[0..n), the one with the highest version:
 * copied to NAME and its version to VER. Fails when none is known. */
int kt_apt_newest(struct kt_apt *a, char *const *names, size_t n, char *name, size_t nlen,
		  char *ver, size_t vlen, struct kt_err *err);

/* Download package PKG at version VER (checked against the signed lists)
 * into the existing directory DIR. */
int kt_apt_download(struct kt_apt *a, const char *pkg, const char *ver, const char *dir,
		    struct kt_err *err);

/* Extract every *.deb in DIR into ROOT (dpkg-deb -x). */
int kt_deb_extract_all(const char *dir, const char *root, struct kt_err *err);

#endif
