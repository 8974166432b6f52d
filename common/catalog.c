#include <string.h>
#include "catalog.h"

const struct kt_catalog_entry *kt_catalog_find(const char *name)
{
	for (size_t i = 0; i < kt_catalog_len; i++)
		if (strcmp(kt_catalog[i].name, name) == 0)
			return &kt_catalog[i];
	return NULL;
}
