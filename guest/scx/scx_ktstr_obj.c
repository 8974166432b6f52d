/* The scx-ktstr BPF object, embedded so that the guest needs one file.
 * SCX_KTSTR_BPF_OBJ is the object's path, set by CMake, which also makes
 * this file depend on it. Aligned: libbpf parses it in place as ELF. */
__asm__(".section .rodata\n"
	".balign 8\n"
	".global scx_ktstr_bpf_obj\n"
	"scx_ktstr_bpf_obj:\n"
	".incbin \"" SCX_KTSTR_BPF_OBJ "\"\n"
	".global scx_ktstr_bpf_obj_end\n"
	"scx_ktstr_bpf_obj_end:\n"
	".previous\n");
