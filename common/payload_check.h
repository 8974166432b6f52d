/* The host's verdict on a payload (ScenarioResult.payloads) against its
 * PayloadSpec: how it ended, its exit code, and its metrics read from the
 * JSON it printed on stdout.
 *
 *   fail   it timed out at wait_payload, was still running at the end of
 *          the scenario (killed; a kill_payload op's kill is fine), died of
 *          a signal, exited with another code than exit_code, a metric is
 *          out of its [min, max], or an `exists` metric is missing;
 *   error  its result is missing, or a metric with bounds cannot be read
 *          (the output is not JSON, the path is missing or not a number):
 *          the test cannot be judged as written.
 *
 * Metric paths are dotted: object keys, and decimal indices for arrays
 * ("summary.ops_per_sec", "runs.0.ms"). The JSON reader is our own small
 * one (common/dump.h reads integers of the typed dump tree; metrics are
 * plain JSON with fractions): bounded depth and size, strict syntax. */
#ifndef KTSTR_PAYLOAD_CHECK_H
#define KTSTR_PAYLOAD_CHECK_H
#include <stdbool.h>
#include <stddef.h>
#include "err.h"
#include "ktstr.pb-c.h"

enum kt_payload_verdict { KT_PAYLOAD_PASS, KT_PAYLOAD_FAIL, KT_PAYLOAD_ERROR };

#define KT_PAYLOAD_JSON_DEPTH 64

/* The value at dotted PATH of the JSON document TEXT[LEN]: *FOUND says
 * whether it exists; when it does, *IS_NUM whether it is a number, which
 * goes to *NUM. -1 when TEXT is not one JSON value (ERR says where). */
int kt_json_lookup(const char *text, size_t len, const char *path, bool *found, bool *is_num,
		   double *num, struct kt_err *err);

/* Judge payload SPEC by its result RES (NULL = none reported); KILLED_BY_OP
 * says the scenario has a kill_payload for it. MSG (LEN bytes) says why. */
enum kt_payload_verdict kt_payload_check(const Ktstr__PayloadSpec *spec,
					 const Ktstr__PayloadResult *res, bool killed_by_op,
					 char *msg, size_t len);

#endif
