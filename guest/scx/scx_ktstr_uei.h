/* Exit info of the scx-ktstr scheduler, shared by the BPF object and its
 * loader. ops.exit copies the kernel's struct scx_exit_info into the global
 * `uei` (.data) because the kernel frees its copy once the scheduler is
 * gone; the loader reads it back through the map after the exit.
 * Only __u32/__s64-style types: they exist both in vmlinux.h (BPF side)
 * and in <linux/types.h> (loader side), so the layout is the same. */
#ifndef SCX_KTSTR_UEI_H
#define SCX_KTSTR_UEI_H

#define KTSTR_UEI_REASON_LEN 128
#define KTSTR_UEI_MSG_LEN 1024	/* SCX_EXIT_MSG_LEN in the kernel */

struct ktstr_uei {
	__s32 kind;		/* enum scx_exit_kind; 0 = not exited yet, written last */
	__u32 pad;
	__s64 exit_code;
	char reason[KTSTR_UEI_REASON_LEN];
	char msg[KTSTR_UEI_MSG_LEN];
};

#endif
