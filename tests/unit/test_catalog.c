/* The built-in catalog: every entry parses, says in one line what it does,
 * can run at CI size, and ktstr-run --list shows it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "catalog.h"
#include "scenario.h"
#include "topology.h"

/* CI size: 2 vCPUs. test_catalog.sh and the false-failure benchmark run
 * 1n1l2c1t, or 1n2l1c1t for a scenario that needs two LLCs; every entry
 * must fit the latter (every cpuset kind has both CPUs and both LLCs). */
#define CI_TOPOLOGY "1n2l1c1t"

static void test_entries_valid(void **state)
{
	struct kt_topo ci;
	struct kt_err e;

	(void)state;
	assert_true(kt_catalog_len >= 30);
	assert_int_equal(kt_topo_parse(CI_TOPOLOGY, &ci, &e), 0);
	for (size_t i = 0; i < kt_catalog_len; i++) {
		const struct kt_catalog_entry *ce = &kt_catalog[i];
		struct kt_scenario *s;
		const char *d;
		uint8_t *buf;
		size_t len;

		if (kt_scenario_parse(ce->yaml, strlen(ce->yaml), ce->name, &s, &e))
			fail_msg("%s", e.msg);
		/* The file name is the scenario's name: --scenario NAME finds it. */
		assert_string_equal(kt_scenario_name(s), ce->name);
		assert_ptr_equal(kt_catalog_find(ce->name), ce);
		d = kt_scenario_description(s);
		if (!*d || strchr(d, '\n') || strlen(d) > 120)
			fail_msg("%s: description must be one line of 1..120 bytes", ce->name);
		if (kt_scenario_fits(s, &ci, &e))
			fail_msg("%s does not fit %s: %s", ce->name, CI_TOPOLOGY, e.msg);
		/* Each holds for exactly its duration: the false-failure
		 * benchmark's planned time, and no step cut short by a sum of
		 * fractions below 1. */
		if (kt_scenario_planned_ms(s, 2000) != 2000.0)
			fail_msg("%s holds %.0f ms of a 2000 ms run", ce->name,
				 kt_scenario_planned_ms(s, 2000));
		/* CI size: 1 s, the default 2 workers per cgroup. */
		if (kt_scenario_entry_spec(s, 1000, 2, 0, &buf, &len, &e))
			fail_msg("%s at 1 s: %s", ce->name, e.msg);
		free(buf);
		kt_scenario_free(s);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(kt_catalog[j].name, ce->name);
	}
	assert_null(kt_catalog_find("no-such-scenario"));
}

/* The output of CMD (at most 64 KiB). */
static char *run(const char *cmd)
{
	static char buf[64 << 10];
	size_t n;
	FILE *f = popen(cmd, "r");

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	assert_int_equal(pclose(f), 0);
	return buf;
}

static void test_list_covers_catalog(void **state)
{
	char *out;

	(void)state;
	out = run(KTSTR_BIN_DIR "/ktstr-run --list");
	for (size_t i = 0; i < kt_catalog_len; i++) {
		struct kt_scenario *s;
		struct kt_err e;
		char line[512];

		assert_int_equal(kt_scenario_parse(kt_catalog[i].yaml, strlen(kt_catalog[i].yaml),
						   kt_catalog[i].name, &s, &e), 0);
		snprintf(line, sizeof(line), "%-24s %s\n", kt_catalog[i].name,
			 kt_scenario_description(s));
		if (!strstr(out, line))
			fail_msg("--list lacks \"%s\"", line);
		kt_scenario_free(s);
	}
	out = run(KTSTR_BIN_DIR "/ktstr-run --list --json");
	for (size_t i = 0; i < kt_catalog_len; i++) {
		char key[128];

		snprintf(key, sizeof(key), "\"name\": \"%s\"", kt_catalog[i].name);
		if (!strstr(out, key))
			fail_msg("--list --json lacks %s", key);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entries_valid),
		cmocka_unit_test(test_list_covers_catalog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
