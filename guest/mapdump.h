/* Failure dumps and snapshots of a sched_ext scheduler's BPF maps.
 *
 * Once the scheduler is enabled the agent takes its own fd of every BPF map
 * the scheduler process holds (/proc/PID/fdinfo "map_id:", then
 * bpf_map_get_fd_by_id), so the maps outlive a crashed loader. A dump
 * renders every held map through its BTF (guest/btf_render.h) into JSON:
 *
 *   {"schema": "ktstr-dump-1",
 *    "maps": [{"name": "scx_ktst.bss", "map_type": "array", "key_size": 4,
 *              "value_size": 24, "max_entries": 1, "map_flags": 1024,
 *              "entries": [{"key": 0, "value": {TREE}}], "truncated": false},
 *             ...],
 *    "errors": ["..."]}
 *
 * TREE as in btf_render.h; per-CPU maps give "value" per CPU as
 * "percpu": [{TREE}, ...]; hash maps give each entry's rendered key. A map
 * without BTF gives keys and values as hex strings; a value its BTF cannot
 * render gives the hex string plus an "error". Each map also carries "id"
 * and "btf_id"; maps whose contents lookups cannot read (ring buffers,
 * prog arrays, ...) carry "skipped" and no entries. Sizes are bounded
 * (KT_MAPDUMP_MAX_ENTRIES per map, max_bytes in all): what is left out is
 * counted, never silently dropped: "entries_dropped" per map,
 * "maps_dropped" and "errors_dropped" at the top. */
#ifndef KTSTR_MAPDUMP_H
#define KTSTR_MAPDUMP_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "err.h"

#define KT_MAPDUMP_SCHEMA "ktstr-dump-1"
#define KT_MAPDUMP_MAX_MAPS 64
#define KT_MAPDUMP_MAX_ENTRIES 256
#define KT_MAPDUMP_MAX_BYTES (256u * 1024u)

struct kt_mapdump; /* the held map fds */

/* Take an fd of every BPF map process PID holds. PID 0: every map in the
 * system (bpf_map_get_next_id). A process holding none is an error. */
int kt_mapdump_hold(pid_t pid, struct kt_mapdump **out, struct kt_err *err);

size_t kt_mapdump_n_maps(const struct kt_mapdump *d);

/* Render every held map into a malloc'd NUL-terminated JSON text *OUT of at
 * most MAX_BYTES (0 = KT_MAPDUMP_MAX_BYTES). */
int kt_mapdump_render(const struct kt_mapdump *d, size_t max_bytes, char **out,
		      struct kt_err *err);

/* Where the global variable SYMBOL lives: "stall", "bss.stall" or
 * "scx_ktst.bss.stall" (map name or its section suffix, then the variable;
 * a bare name is searched in every global-data map). On success *FD is
 * the held map's fd, *OFF and *SIZE the variable's place in value 0, and
 * *MEM, when the map is mmapable, a read-only mapping of value 0 (munmap
 * it with *MEM_LEN), else NULL. Errors say "did not resolve". */
int kt_mapdump_find_var(const struct kt_mapdump *d, const char *symbol, int *fd, size_t *off,
			size_t *size, const void **mem, size_t *mem_len, struct kt_err *err);

void kt_mapdump_free(struct kt_mapdump *d);

#endif
