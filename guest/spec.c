#include <stdlib.h>
#include "spec.h"
#include "util.h"

int kt_spec_unpack(const uint8_t *buf, size_t len, Ktstr__EntrySpec **out, struct kt_err *err)
{
	Ktstr__EntrySpec *spec = ktstr__entry_spec__unpack(NULL, len, buf);

	if (!spec)
		return kt_errf(err, "%zu bytes are not a valid ktstr.EntrySpec", len);
	*out = spec;
	return 0;
}

int kt_spec_load(const char *path, Ktstr__EntrySpec **out, struct kt_err *err)
{
	char *buf;
	size_t len;
	int rc;

	if (kt_read_file(path, KT_SPEC_MAX_BYTES, &buf, &len, err))
		return -1;
	rc = kt_spec_unpack((const uint8_t *)buf, len, out, err);
	if (rc)
		kt_err_prefix(err, "%s", path);
	free(buf);
	return rc;
}
