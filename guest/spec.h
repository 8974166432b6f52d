/* The per-entry input, /ktstr/entry.pb: a packed ktstr.EntrySpec written by
 * the host. Reading and unpacking are kept apart from the rules
 * (kt_spec_validate, common/entry_spec.h) because their failures mean
 * different things: a file that is missing or not an EntrySpec is a broken
 * guest set-up, a spec that breaks the rules is the scenario's fault. */
#ifndef KTSTR_GUEST_SPEC_H
#define KTSTR_GUEST_SPEC_H
#include <stddef.h>
#include <stdint.h>
#include "entry_spec.h"
#include "err.h"
#include "ktstr.pb-c.h"

#define KT_SPEC_PATH "/ktstr/entry.pb"
#define KT_SPEC_MAX_BYTES (1u << 20)

/* Read (at most KT_SPEC_MAX_BYTES) and unpack PATH; not validated. Free
 * *OUT with ktstr__entry_spec__free_unpacked(*out, NULL). */
int kt_spec_load(const char *path, Ktstr__EntrySpec **out, struct kt_err *err);

/* Unpack LEN bytes; not validated. */
int kt_spec_unpack(const uint8_t *buf, size_t len, Ktstr__EntrySpec **out, struct kt_err *err);

#endif
