/* zerg guest runtime: the entry stubs and Xen's ELF notes. */

/* Entered by zerg's monitor at CPL3 with RSP = stack top (16-byte aligned)
 * and RDI = &boot_info (see abi.h). */
        .section .text.start, "ax"
        .globl _start
        .type _start, @function
_start:
        xorl    %ebp, %ebp
        andq    $-16, %rsp
        call    zg_rt_start
        /* zg_rt_start never returns; if it did, fault loudly. */
        ud2
        .size _start, . - _start

/* Entered by Xen's standard PV builder (xl create; the notes below name this
 * entry) with RSI = &start_info and RSP = the top of a one-page boot stack,
 * which is also the end of the builder's bootstrap elements. xen.c maps the
 * rest of memory and builds a boot info; then the same C entry as above runs
 * on the same stack as under zerg (the top MiB). */
        .globl _start_xen
        .type _start_xen, @function
_start_xen:
        cld
        movq    %rsi, %rdi
        movq    %rsp, %rsi
        andq    $-16, %rsp
        call    zg_xen_start
        movq    %rax, %rdi
        movq    32(%rax), %rsp          /* boot_info.stack_top */
        xorl    %ebp, %ebp
        call    zg_rt_start
        ud2
        .size _start_xen, . - _start_xen

/* Xen's ELF notes (xen/include/public/elfnote.h): a "generic" image loaded
 * at its link addresses (virtual = pseudo-physical), entered at _start_xen,
 * able to resume after a cancelled suspend. */
        .macro note_begin type          /* a note owned by "Xen" */
        .pushsection .note.Xen, "a", @note
        .p2align 2
        .long   4, 2f - 1f, \type         /* namesz, descsz, type */
        .asciz  "Xen"
        .p2align 2
1:
        .endm
        .macro note_end
2:      .p2align 2
        .popsection
        .endm

        note_begin 6                    /* GUEST_OS */
        .asciz  "zerg"
        note_end
        note_begin 5                    /* XEN_VERSION */
        .asciz  "xen-3.0"
        note_end
        note_begin 8                    /* LOADER */
        .asciz  "generic"
        note_end
        note_begin 3                    /* VIRT_BASE */
        .quad   0
        note_end
        note_begin 4                    /* PADDR_OFFSET */
        .quad   0
        note_end
        note_begin 1                    /* ENTRY */
        .quad   _start_xen
        note_end
        note_begin 14                   /* SUSPEND_CANCEL */
        .long   1
        note_end

        .section .note.GNU-stack, "", @progbits
