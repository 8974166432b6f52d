/* Content-addressed artifacts on a worker: scenario files, kernel configs
 * and kernel images fetched from the coordinator by sha256, in chunks of
 * at most KT_FARM_CHUNK (ArtifactRequest -> ArtifactChunk), verified, then
 * kept as <cache>/artifacts/<sha256>. (Kernel images move on into the
 * kernel cache, kernel_cache.h.) A file there is complete and verified: it
 * is assembled as <sha256>.part and renamed only after its hash matched. */
#ifndef KTSTR_ARTIFACT_H
#define KTSTR_ARTIFACT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "farm.pb-c.h"

/* Whether S is a sha256 as the farm writes it: 64 lower-case hex digits. */
bool kt_artifact_sha_ok(const char *s);

/* <cache>/artifacts into BUF, and the path of artifact SHA in it. */
void kt_artifact_dir(const char *cache, char *buf, size_t len);
void kt_artifact_path(const char *cache, const char *sha, char *buf, size_t len);

/* One artifact being assembled. */
struct kt_asm;

enum kt_asm_state {
	KT_ASM_MORE = 0,  /* accepted; request the next chunk */
	KT_ASM_DONE = 1,  /* complete, verified, renamed into place */
	KT_ASM_STALE = 2, /* not the chunk asked for (a late duplicate): ignored */
};

/* Start assembling SHA in DIR (created when missing). SIZE is the size the
 * assignment announced (0 = not announced); MAX bounds what is accepted for
 * this kind of artifact. */
int kt_asm_begin(const char *dir, const char *sha, uint64_t size, uint64_t max,
		 struct kt_asm **out, struct kt_err *err);

/* The request to send next: the offset reached and how much to ask for
 * (at most KT_FARM_CHUNK; a full chunk while the size is unknown). */
void kt_asm_next(const struct kt_asm *a, uint64_t *offset, uint32_t *length);
const char *kt_asm_sha(const struct kt_asm *a);

/* Feed chunk C (its sha256 must be this artifact's). -1 means the artifact
 * failed for good (the coordinator's error, a size that changes, exceeds
 * MAX or the announced size, more data than asked, a sha256 mismatch, a
 * write error): ERR says which, and the partial file is gone. */
int kt_asm_feed(struct kt_asm *a, const Ktstr__ArtifactChunk *c, struct kt_err *err);

/* Stop; a partial file is removed. */
void kt_asm_free(struct kt_asm *a);

#endif
