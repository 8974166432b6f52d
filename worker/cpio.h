/* cpio "newc" (magic 070701) archives: the format the kernel unpacks into
 * its initial rootfs.
 *
 * The writer streams into a FILE* so that large files (libraries, scheduler
 * binaries) are copied, never held in memory. Every header field that is
 * not content (mtime, uid, gid, device of the archive) is 0 and inode
 * numbers count up from 1, so the same inputs give the same bytes: archives
 * are content-addressed and cached.
 *
 * The reader walks a memory buffer and validates every header field before
 * it uses it; it accepts several archives concatenated (each ends with a
 * TRAILER!!! entry, zero padding between them), as the kernel does, since a
 * test entry's initramfs is a cached base archive followed by a small
 * per-entry one. */
#ifndef KTSTR_CPIO_H
#define KTSTR_CPIO_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "err.h"

/* Longest name (without the NUL) and symlink target either side accepts. */
#define KT_CPIO_NAME_MAX 4095

struct kt_cpio;

/* Start an archive written to F from its current position, which must be a
 * multiple of 4 bytes into the stream (the kernel requires every header to
 * be 4-byte aligned). F stays owned by the caller; LABEL names the output in
 * error messages. Returns NULL only when out of memory. */
struct kt_cpio *kt_cpio_new(FILE *f, const char *label);
/* Free the writer (does not close F; does not write the trailer). */
void kt_cpio_free(struct kt_cpio *c);

/* Add entries. NAME is a path inside the archive; a leading '/' is
 * dropped ("/init" is stored as "init"), and empty names, "." or ".."
 * components and names longer than KT_CPIO_NAME_MAX are rejected. MODE
 * holds the permission bits (07777); the file type comes from the call. */
int kt_cpio_dir(struct kt_cpio *c, const char *name, unsigned mode, struct kt_err *err);
int kt_cpio_file(struct kt_cpio *c, const char *name, unsigned mode, const void *data, size_t len,
		 struct kt_err *err);
/* Regular file whose content is the host file HOST_PATH, copied in chunks;
 * it must be a regular file and must not change size while copied. */
int kt_cpio_file_path(struct kt_cpio *c, const char *name, unsigned mode, const char *host_path,
		      struct kt_err *err);
int kt_cpio_symlink(struct kt_cpio *c, const char *name, const char *target, struct kt_err *err);
/* Character device node (the kernel needs /dev/console before devtmpfs). */
int kt_cpio_chardev(struct kt_cpio *c, const char *name, unsigned mode, unsigned major,
		    unsigned minor, struct kt_err *err);
/* Write TRAILER!!! and zero padding up to a multiple of 512 bytes (from the
 * start of this archive), then flush. No entry may be added afterwards. */
int kt_cpio_finish(struct kt_cpio *c, struct kt_err *err);

/* One entry as the reader sees it. NAME and DATA point into the buffer
 * given to kt_cpio_read (NAME is NUL-terminated); for a symlink DATA holds
 * the target, not NUL-terminated. */
struct kt_cpio_entry {
	const char *name;
	uint32_t mode, ino, uid, gid, nlink, mtime;
	uint32_t rdev_major, rdev_minor;
	const uint8_t *data;
	size_t size;
	size_t offset; /* of the header, from the start of the buffer */
};

/* Called once per entry (trailers excluded) in archive order; a non-zero
 * return stops the walk and is returned by kt_cpio_read, with ERR as the
 * callback left it. */
typedef int (*kt_cpio_cb)(const struct kt_cpio_entry *e, void *arg, struct kt_err *err);

/* Walk the archive(s) in BUF. A buffer that is empty, truncated (no final
 * TRAILER!!!, an entry running past the end) or corrupt (bad magic, a field
 * that is not 8 hex digits, a bad name size, misaligned next header) gives
 * -1 with an error naming the byte offset and the field. */
int kt_cpio_read(const void *buf, size_t len, kt_cpio_cb cb, void *arg, struct kt_err *err);

#endif
