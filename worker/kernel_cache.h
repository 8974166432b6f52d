/* The kernel cache: real kernels, content-addressed by the sha256 of the
 * image, so a worker fetches each kernel once and every result can name
 * exactly the kernel it ran on.
 *
 * Layout under the cache directory:
 *   kernels/<sha256>/vmlinuz   the bzImage
 *   kernels/<sha256>/config    its .config, when known
 *   kernels/<sha256>/meta      key=value lines (see kt_kmeta_format)
 *   apt/<suite>/               private apt state (apt_mirror.h)
 *   tmp/                       work directories of running fetches/adds
 *   lock                       flock held while an entry is installed or removed
 * An entry is built in tmp/ and renamed into kernels/ whole, so a reader
 * never sees half an entry and needs no lock. */
#ifndef KTSTR_KERNEL_CACHE_H
#define KTSTR_KERNEL_CACHE_H
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"

struct kt_kernel {
	char sha256[65];
	char version[128]; /* kernel release, as `uname -r` prints it */
	char source[256];  /* "debian:sid <package> <version>" or "local:/abs/path" */
	uint64_t size;     /* bytes of the image */
	int has_sched_ext, has_btf; /* 1, 0, or -1 unknown (no config) */
	char image[PATH_MAX];
	char config[PATH_MAX]; /* "" when unknown */
	int64_t fetched_at;    /* unix time the entry was made */
};

/* $KTSTR_CACHE_DIR, else $XDG_CACHE_HOME/ktstr, else $HOME/.cache/ktstr;
 * made absolute. The directory is created on first use, not here. */
int kt_kcache_dir(char *buf, size_t len, struct kt_err *err);

/* Fetch a kernel from the Debian archive. SPEC is "debian:sid" (the newest
 * sid cloud kernel, which has sched_ext), "debian:trixie", "debian:bookworm",
 * or an exact package name (linux-image-..., linux-binary-...) looked up in
 * sid, trixie and bookworm in that order. An entry already cached from the
 * same package and version is returned without downloading. */
int kt_kcache_fetch(const char *cache, const char *spec, struct kt_kernel *out, struct kt_err *err);

/* Register a local bzImage PATH (copied into the cache) with an optional
 * CONFIG (NULL = none). Adding an image that is cached already returns
 * that entry (and gives it CONFIG if it had none). */
int kt_kcache_add(const char *cache, const char *path, const char *config, struct kt_kernel *out,
		  struct kt_err *err);

/* Every entry, oldest first; *OUT is malloc'd (free it). A damaged entry
 * is an error that names it (remove it with kt_kcache_rm). */
int kt_kcache_list(const char *cache, struct kt_kernel **out, size_t *n, struct kt_err *err);

/* Remove the one entry whose sha256 starts with SHA_PREFIX; no match or
 * more than one match is an error. */
int kt_kcache_rm(const char *cache, const char *sha_prefix, struct kt_err *err);

/* What ktstr-run --kernel REF means: "debian:*" or a kernel package name ->
 * the newest cached entry from that spec, fetched when none is cached; a
 * hex string of at least 6 characters -> the entry with that sha256
 * prefix; anything else -> a path, registered with kt_kcache_add (its
 * config found beside it as config-<release> or config). */
int kt_kcache_resolve(const char *cache, const char *ref, struct kt_kernel *out, struct kt_err *err);

/* ---- the pieces below are exposed for the unit tests ---- */

/* What the x86 boot header of a bzImage says. */
#define KT_BZIMAGE_HEAD 0x10400
struct kt_bzimage {
	char release[128]; /* first word of the version string; "" when absent */
	uint64_t min_size; /* the file must be at least this long */
};

/* Parse the first LEN bytes of a kernel image (the first KT_BZIMAGE_HEAD
 * bytes cover every place the header can point to). Fails unless it is a bzImage (HdrS
 * magic at 0x202, LOADED_HIGH) with a sane, terminated, printable version
 * string inside the setup code. */
int kt_bzimage_parse(const uint8_t *buf, size_t len, struct kt_bzimage *out, struct kt_err *err);

/* Scan a kernel .config for CONFIG_SCHED_CLASS_EXT=y and
 * CONFIG_DEBUG_INFO_BTF=y (1 or 0). Fails when TEXT has no CONFIG_ line. */
int kt_kconfig_parse(const char *text, size_t len, int *sched_ext, int *btf, struct kt_err *err);

/* The meta file: sha256, version, source, size, has_sched_ext and has_btf
 * (1, 0 or unknown), fetched_at; one key=value per line. Format fails on
 * values that cannot round-trip (control characters, too long). Parse is
 * strict: known keys once each, all present, values validated; it fills
 * every field but image and config. */
#define KT_KMETA_MAX 2048
int kt_kmeta_format(const struct kt_kernel *k, char *buf, size_t len, struct kt_err *err);
int kt_kmeta_parse(const char *buf, size_t len, struct kt_kernel *k, struct kt_err *err);

#endif
