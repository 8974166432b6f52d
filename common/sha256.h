/* SHA-256 (FIPS 180-4): content addresses for kernels, initramfs archives
 * and, later, every artifact the farm moves between hosts. */
#ifndef KTSTR_SHA256_H
#define KTSTR_SHA256_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"

struct kt_sha256 {
	uint32_t h[8];
	uint64_t len;     /* bytes hashed so far */
	uint8_t buf[64];
	size_t fill;
};

void kt_sha256_init(struct kt_sha256 *s);
void kt_sha256_update(struct kt_sha256 *s, const void *data, size_t len);
void kt_sha256_final(struct kt_sha256 *s, uint8_t out[32]);
/* Lower-case hex of a digest; OUT holds 65 bytes. */
void kt_sha256_hex(const uint8_t digest[32], char out[65]);
/* Hex digest of a whole file. */
int kt_sha256_file(const char *path, char out[65], struct kt_err *err);

#endif
