/* The Linux personality's guest-side runtime (linux/rt/: the system-call
 * entry and the calls served inside the guest), as the flat image the
 * Makefile links at ZG_LINUX_RT_GPA; lx_load.c copies these bytes into every
 * Linux guest. Data to the host: nothing here runs on it. */
    .section .rodata.zg_linux_rt, "a"
    .globl zg_linux_rt_image, zg_linux_rt_image_end
    .balign 64
zg_linux_rt_image:
    .incbin "build/lxrt/rt.bin"
zg_linux_rt_image_end:
    .section .note.GNU-stack, "", @progbits
