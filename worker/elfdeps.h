/* The shared objects a dynamically linked binary needs at run time, found
 * the way the dynamic loader (glibc ld.so) finds them, so that the guest's
 * initramfs can carry them.
 *
 * For a binary: its PT_INTERP interpreter, then its DT_NEEDED entries and
 * theirs, breadth first. A needed name containing '/' is a path; any other
 * is looked up in: the DT_RPATH of the object that needs it and of the
 * objects that loaded that one up to the binary (only when the object has
 * no DT_RUNPATH), its DT_RUNPATH, the directories of /etc/ld.so.conf (with
 * its include globs; standing in for ld.so.cache, which lists their
 * contents), and the default directories, unless the object is linked with
 * -z nodeflib. $ORIGIN and ${ORIGIN} expand to the object's directory;
 * entries with other tokens and relative entries are skipped. A name that
 * matches the soname or needed name of an object already loaded is not
 * loaded again (as in ld.so: libc's "ld-linux-x86-64.so.2" is the
 * interpreter already mapped). A candidate counts only when it is an ELF
 * shared object of the binary's class, byte order and machine (ld.so skips
 * "incompatible" files the same way). LD_LIBRARY_PATH is ignored: the
 * host's environment is not the guest's.
 *
 * Each result pairs the guest path (the path as found, with "." and ".."
 * folded lexically, e.g. /lib/x86_64-linux-gnu/libc.so.6) with the host's
 * realpath of it (the content to copy). glibc-hwcaps subdirectories are
 * not searched: the baseline library found instead runs on any CPU.
 * $ORIGIN is expanded on the host,
 * so a binary that finds its libraries relative to itself must be placed
 * in the guest where it is on the host. */
#ifndef KTSTR_ELFDEPS_H
#define KTSTR_ELFDEPS_H
#include <stddef.h>
#include "err.h"

struct kt_elfdep {
	char *guest;     /* absolute path inside the guest */
	char *host;      /* realpath on the host */
	/* Found through ld.so.conf or /lib64, /usr/lib64: directories the
	 * host's ld.so reaches through ld.so.cache, but a guest without a cache
	 * does not search (its system path: /lib/x86_64-linux-gnu,
	 * /usr/lib/x86_64-linux-gnu, /lib, /usr/lib). The guest needs a link
	 * to it from one of those. */
	int cache_only;
};

/* A set of dependencies, unique by guest path, in discovery order. */
struct kt_elfdeps {
	struct kt_elfdep *v;
	size_t n, cap;
};

void kt_elfdeps_init(struct kt_elfdeps *d);
void kt_elfdeps_free(struct kt_elfdeps *d);

/* Add the interpreter and the transitive DT_NEEDED closure of the binary
 * PATH to D (entries already in D are not repeated, so calling this for
 * several binaries gives the union). A statically linked binary adds
 * nothing. Errors: PATH missing or not ELF, a malformed dynamic section, a
 * library not found (the message names the binary, the library and the
 * object that needs it). On error D keeps what was added before. */
int kt_elfdeps_closure(const char *path, struct kt_elfdeps *d, struct kt_err *err);

#endif
