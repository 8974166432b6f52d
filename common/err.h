/* Error reporting convention for every module: a function that can fail
 * returns 0 on success and -1 on failure, and fills a struct kt_err whose
 * message names the input and what is wrong with it. */
#ifndef KTSTR_ERR_H
#define KTSTR_ERR_H

#define KT_ERR_MAX 512

struct kt_err {
	char msg[KT_ERR_MAX];
};

/* Format MSG into E (if E is not NULL); always returns -1. */
int kt_errf(struct kt_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the existing message in E with a formatted context; returns -1. */
int kt_err_prefix(struct kt_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
