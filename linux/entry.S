/* The guest-side system-call entry of the Linux personality: code bytes the
 * loader copies to ZG_LINUX_RT_GPA in every Linux guest (they are data to
 * the monitor; nothing here runs on the host). MSR_LSTAR points at one of
 * two variants, chosen when the first Linux VM is set up (lx_load.c):
 *
 *   user: `syscall` stays at CPL3 (the PVM flavour of KVM): return with
 *         RFLAGS from R11 and `jmp *%rcx`;
 *   ring0: `syscall` enters CPL0 (VT-x/AMD-V): return with `sysretq`.
 *
 * Both save the call into struct zg_linux_frame, switch to the runtime's
 * own stack (the program's red zone below RSP is left alone), call the
 * monitor with one `out`, and return RAX = frame.ret. Only RAX, RCX and R11
 * change, as with Linux. linux_abi.h is the contract. */
#include <zerg/linux_abi.h>

#define F(off) (ZG_LINUX_FRAME_GPA + (off))

    .section .rodata.zg_linux_entry, "a"
    .globl zg_linux_entry_code, zg_linux_entry_code_end
    .globl zg_linux_entry_user, zg_linux_entry_ring0, zg_linux_entry_fast, zg_linux_probe
    .code64
    .balign 64
zg_linux_entry_code:

.macro SAVE_AND_CALL
    mov %rsp, F(ZG_LINUX_F_RSP)
    mov $ZG_LINUX_RT_STACK_TOP, %esp
    mov %rax, F(ZG_LINUX_F_NR)
    mov %rdi, F(ZG_LINUX_F_ARG0)
    mov %rsi, F(ZG_LINUX_F_ARG0 + 8)
    mov %rdx, F(ZG_LINUX_F_ARG0 + 16)
    mov %r10, F(ZG_LINUX_F_ARG0 + 24)
    mov %r8, F(ZG_LINUX_F_ARG0 + 32)
    mov %r9, F(ZG_LINUX_F_ARG0 + 40)
    mov %rcx, F(ZG_LINUX_F_RIP)
    mov %r11, F(ZG_LINUX_F_RFL)
    mov $ZG_LINUX_FRAME_GPA, %eax
    mov $ZG_LINUX_PORT, %edx
    outl %eax, %dx
    mov F(ZG_LINUX_F_ARG0 + 16), %rdx
    mov F(ZG_LINUX_F_RET), %rax
    mov F(ZG_LINUX_F_RIP), %rcx
    mov F(ZG_LINUX_F_RFL), %r11
.endm

zg_linux_entry_user:
    SAVE_AND_CALL
    push %r11
    popfq
    mov F(ZG_LINUX_F_RSP), %rsp
    jmp *%rcx

    .balign 64
zg_linux_entry_ring0:
    SAVE_AND_CALL
    mov F(ZG_LINUX_F_RSP), %rsp
    sysretq

    /* The fast entry (user variant only, lx_patch.c): a call site the monitor
     * rewrote from `mov $NR,%eax; syscall` into `mov $STUB,%ecx; jmp *%rcx`
     * reaches its stub, which sets EAX = NR and RCX = the return address and
     * jumps here, with no `syscall` and so no trap into the PVM host. R11 gets
     * RFLAGS, as `syscall` would leave it; nothing here changes the flags, so
     * they need no restoring. The `out` value tells the monitor the call came
     * through a rewritten site. */
    .balign 64
zg_linux_entry_fast:
    mov %rsp, F(ZG_LINUX_F_RSP)
    mov $ZG_LINUX_RT_STACK_TOP, %esp
    pushfq
    pop %r11
    mov %rax, F(ZG_LINUX_F_NR)
    mov %rdi, F(ZG_LINUX_F_ARG0)
    mov %rsi, F(ZG_LINUX_F_ARG0 + 8)
    mov %rdx, F(ZG_LINUX_F_ARG0 + 16)
    mov %r10, F(ZG_LINUX_F_ARG0 + 24)
    mov %r8, F(ZG_LINUX_F_ARG0 + 32)
    mov %r9, F(ZG_LINUX_F_ARG0 + 40)
    mov %rcx, F(ZG_LINUX_F_RIP)
    mov %r11, F(ZG_LINUX_F_RFL)
    mov $ZG_LINUX_CALL_FAST, %eax
    mov $ZG_LINUX_PORT, %edx
    outl %eax, %dx
    mov F(ZG_LINUX_F_ARG0 + 16), %rdx
    mov F(ZG_LINUX_F_RET), %rax
    mov F(ZG_LINUX_F_RIP), %rcx
    mov F(ZG_LINUX_F_RFL), %r11
    mov F(ZG_LINUX_F_RSP), %rsp
    jmp *%rcx

    /* The probe (lx_load.c): what CPL does `syscall` land at? It reports CS. */
    .balign 64
zg_linux_probe:
    mov %cs, %eax
    mov $ZG_LINUX_PORT, %edx
    outl %eax, %dx
    hlt

    .balign 64
zg_linux_entry_code_end:
    .section .note.GNU-stack, "", @progbits
