/* ktstr-run's output for one entry: a JSON object (the contract scripts
 * rely on) or a human summary. */
#ifndef KTSTR_REPORT_H
#define KTSTR_REPORT_H
#include <stdio.h>
#include "entry.h"

void kt_report_json(FILE *f, const struct kt_entry_req *req, const struct kt_entry_result *r);
void kt_report_human(FILE *f, const struct kt_entry_req *req, const struct kt_entry_result *r);
/* The JSON object of an entry that could not be attempted at all: the same
 * keys as kt_report_json(), with what is known filled in. */
void kt_report_json_early(FILE *f, enum kt_status status, const char *message,
			  const char *kernel_ref, const char *topology, const char *scenario);
/* "cpu_spin" for KTSTR__WORK_TYPE__WORK_CPU_SPIN, into BUF. */
const char *kt_work_type_name(int type, char *buf, size_t len);

#endif
