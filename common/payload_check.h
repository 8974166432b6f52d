/* The host's verdict on a payload (ScenarioResult.payloads) against its
 * PayloadSpec: how it ended, its exit code, and its metrics read from the
 * JSON it printed on stdout.
 *
 *   fail   it timed out at wait_payload (the timeout as written times
 *          the measured guest/host slowdown, see guest/runner.h), was
 *          still running at the end of the scenario (killed; the guest's
 *          record that a kill_payload op killed it, killed_by_op, makes
 *          that kill fine), died of a signal, exited with another code
 *          than exit_code, a metric is out of its [min, max], or an
 *          `exists` metric is missing;
 *   error  its result is missing, a metric with bounds cannot be read
 *          (the output is not JSON, the path is missing or not a number),
 *          or it timed out on a wait the guest had to clamp to end before
 *          its watchdog (shorter than the scaled timeout): the test cannot
 *          be judged as written.
 *
 * Metric paths are dotted: object keys, and decimal indices for arrays
 * ("summary.ops_per_sec", "runs.0.ms"); a key given twice means its last
 * value. The output is read by common/dump.h's parser: bounded depth and
 * size, strict JSON (numbers as JSON writes them: no "+1", ".5" or "1.";
 * escapes decoded before keys are matched). */
#ifndef KTSTR_PAYLOAD_CHECK_H
#define KTSTR_PAYLOAD_CHECK_H
#include <stdbool.h>
#include <stddef.h>
#include "err.h"
#include "ktstr.pb-c.h"

enum kt_payload_verdict { KT_PAYLOAD_PASS, KT_PAYLOAD_FAIL, KT_PAYLOAD_ERROR };

/* The value at dotted PATH of the JSON document TEXT[LEN]: *FOUND says
 * whether it exists; when it does, *IS_NUM whether it is a number, which
 * goes to *NUM. -1 when TEXT is not one JSON value (ERR says where). */
int kt_json_lookup(const char *text, size_t len, const char *path, bool *found, bool *is_num,
		   double *num, struct kt_err *err);

/* Judge payload SPEC by its result RES (NULL = none reported). MSG (LEN
 * bytes) says why; a timeout names the scaled timeout and its parts
 * ("timed out after 25000 ms = 5000 ms x 5.0 measured slowdown"). */
enum kt_payload_verdict kt_payload_check(const Ktstr__PayloadSpec *spec,
					 const Ktstr__PayloadResult *res, char *msg, size_t len);

#endif
