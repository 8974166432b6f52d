/* A growable NULL-terminated vector of owned strings (argv building). */
#ifndef KTSTR_STRV_H
#define KTSTR_STRV_H
#include <stdbool.h>
#include <stddef.h>

struct kt_strv {
	char **v; /* NULL-terminated */
	size_t n, cap;
};

void kt_strv_init(struct kt_strv *s);
void kt_strv_free(struct kt_strv *s);
/* Append a copy of STR / a formatted string; abort on out of memory. */
void kt_strv_add(struct kt_strv *s, const char *str);
void kt_strv_addf(struct kt_strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether S holds STR (a linear scan: for short vectors). */
bool kt_strv_has(const struct kt_strv *s, const char *str);

#endif
