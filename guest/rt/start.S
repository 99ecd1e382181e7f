/* zerg guest runtime: the entry stub. The monitor enters here at CPL3 with
 * RSP = stack top (16-byte aligned) and RDI = &boot_info (see abi.h). */
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
        .section .note.GNU-stack, "", @progbits
