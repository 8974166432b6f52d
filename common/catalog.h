/* The built-in scenario catalog: YAML texts embedded at build time from
 * common/catalog/NAME.yaml (see embed_catalog.cmake). */
#ifndef KTSTR_CATALOG_H
#define KTSTR_CATALOG_H
#include <stddef.h>

struct kt_catalog_entry {
	const char *name; /* file name without .yaml */
	const char *yaml; /* NUL-terminated YAML text */
};

extern const struct kt_catalog_entry kt_catalog[];
extern const size_t kt_catalog_len;

/* The entry called NAME, or NULL. */
const struct kt_catalog_entry *kt_catalog_find(const char *name);

#endif
