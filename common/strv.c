#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "strv.h"

void kt_strv_init(struct kt_strv *s)
{
	s->v = NULL;
	s->n = s->cap = 0;
}

void kt_strv_free(struct kt_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	kt_strv_init(s);
}

static void push(struct kt_strv *s, char *owned)
{
	if (!owned)
		abort();
	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = realloc(s->v, s->cap * sizeof(char *));
		if (!s->v)
			abort();
	}
	s->v[s->n++] = owned;
	s->v[s->n] = NULL;
}

void kt_strv_add(struct kt_strv *s, const char *str)
{
	push(s, strdup(str));
}

void kt_strv_addf(struct kt_strv *s, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		p = NULL;
	va_end(ap);
	push(s, p);
}

bool kt_strv_has(const struct kt_strv *s, const char *str)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], str))
			return true;
	return false;
}
