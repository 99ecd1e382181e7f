/* The Linux personality's guest-side entry: the first code of the runtime
 * (linux/rt/), linked at ZG_LINUX_RT_GPA and copied into every Linux guest
 * (bytes to the monitor; nothing here runs on the host). linux_abi.h is the
 * contract.
 *
 * The runtime's first bytes are a table of entry points at fixed offsets
 * (ZG_LINUX_ENTRY_*), so MSR_LSTAR and the stubs of rewritten call sites
 * (lx_patch.c) point at the same places in every build, and a template,
 * which carries the runtime it was made with in its memory, keeps working:
 *
 *   user:  `syscall` stays at CPL3 (the PVM flavour of KVM): returns with
 *          RFLAGS from R11 and `jmp *%rcx`;
 *   ring0: `syscall` enters CPL0 (VT-x/AMD-V): returns with `sysretq`;
 *   fast:  a rewritten call site's stub (user variant only): RCX = the
 *          return address, EAX = the number, no `syscall` and so no trap;
 *   probe: what CPL does `syscall` land at? It reports CS (lx_load.c).
 *
 * Each saves the call into struct zg_linux_frame, switches to the runtime's
 * own stack (the program's red zone below RSP is left alone), and asks the
 * runtime (zg_rt_call, rt.c) to serve it inside the guest; only if it cannot
 * does the entry exit to the monitor with one `out` (of the frame's
 * address, +1 for the fast entry). It returns RAX = frame.ret, RFLAGS and
 * every other register as they were: only RAX, RCX and R11 change, as with
 * Linux. */
#include <zerg/linux_abi.h>

#define F(off) (ZG_LINUX_FRAME_GPA + (off))

    .section .text.entry, "ax"
    .code64
    .globl zg_linux_entries
zg_linux_entries:
    jmp zg_linux_entry_user   /* ZG_LINUX_ENTRY_USER */
    .balign 8
    jmp zg_linux_entry_ring0  /* ZG_LINUX_ENTRY_RING0 */
    .balign 8
    jmp zg_linux_entry_fast   /* ZG_LINUX_ENTRY_FAST */
    .balign 8
    jmp zg_linux_probe        /* ZG_LINUX_ENTRY_PROBE */
    .balign 8

.macro SAVE
    mov %rax, F(ZG_LINUX_F_NR)
    mov %rdi, F(ZG_LINUX_F_ARG0)
    mov %rsi, F(ZG_LINUX_F_ARG0 + 8)
    mov %rdx, F(ZG_LINUX_F_ARG0 + 16)
    mov %r10, F(ZG_LINUX_F_ARG0 + 24)
    mov %r8, F(ZG_LINUX_F_ARG0 + 32)
    mov %r9, F(ZG_LINUX_F_ARG0 + 40)
    mov %rcx, F(ZG_LINUX_F_RIP)
    mov %r11, F(ZG_LINUX_F_RFL)
.endm

/* The runtime serves the call, or the monitor does (one `out` of \value);
 * then the registers the C code may have changed are put back. Around the
 * `out` the frame also holds RBX, RBP and R12-R15, and they are loaded back
 * from it: with the FPU image, the frame is all of a thread stopped in a
 * call, so the monitor resumes another thread by writing its frame and
 * image here (and its FS base), with no register ioctl. Around the
 * `out` the program's x87/SSE state is saved and put back by the runtime
 * itself: an instance reset in place resumes at the template point's `out`
 * with the FPU as the last request left it (the monitor does not set it:
 * one KVM_SET_XSAVE less per reset), and the FXRSTOR puts the template's
 * back from its page, which the reset restored first. */
.macro SERVE value, trapped
    cld
    mov $ZG_LINUX_FRAME_GPA, %edi
    mov $\trapped, %esi
    call zg_rt_call
    test %eax, %eax
    jnz 1f
    fxsave64 ZG_LINUX_FPU_GPA
    mov %rbx, F(ZG_LINUX_F_CALLEE)
    mov %rbp, F(ZG_LINUX_F_CALLEE + 8)
    mov %r12, F(ZG_LINUX_F_CALLEE + 16)
    mov %r13, F(ZG_LINUX_F_CALLEE + 24)
    mov %r14, F(ZG_LINUX_F_CALLEE + 32)
    mov %r15, F(ZG_LINUX_F_CALLEE + 40)
    mov $\value, %eax
    mov $ZG_LINUX_PORT, %edx
    outl %eax, %dx
    fxrstor64 ZG_LINUX_FPU_GPA
    mov F(ZG_LINUX_F_CALLEE), %rbx
    mov F(ZG_LINUX_F_CALLEE + 8), %rbp
    mov F(ZG_LINUX_F_CALLEE + 16), %r12
    mov F(ZG_LINUX_F_CALLEE + 24), %r13
    mov F(ZG_LINUX_F_CALLEE + 32), %r14
    mov F(ZG_LINUX_F_CALLEE + 40), %r15
1:
    mov F(ZG_LINUX_F_ARG0), %rdi
    mov F(ZG_LINUX_F_ARG0 + 8), %rsi
    mov F(ZG_LINUX_F_ARG0 + 16), %rdx
    mov F(ZG_LINUX_F_ARG0 + 24), %r10
    mov F(ZG_LINUX_F_ARG0 + 32), %r8
    mov F(ZG_LINUX_F_ARG0 + 40), %r9
    mov F(ZG_LINUX_F_RET), %rax
    mov F(ZG_LINUX_F_RIP), %rcx
    mov F(ZG_LINUX_F_RFL), %r11
.endm

    .text
zg_linux_entry_user:
    mov %rsp, F(ZG_LINUX_F_RSP)
    mov $ZG_LINUX_RT_STACK_TOP, %esp
    SAVE
    SERVE ZG_LINUX_CALL_TRAP, 1
    push %r11
    popfq
    mov F(ZG_LINUX_F_RSP), %rsp
    jmp *%rcx

zg_linux_entry_fast:
    mov %rsp, F(ZG_LINUX_F_RSP)
    mov $ZG_LINUX_RT_STACK_TOP, %esp
    pushfq
    pop %r11 /* RFLAGS in R11, as `syscall` leaves it */
    SAVE
    SERVE ZG_LINUX_CALL_FAST, 0
    push %r11
    popfq
    mov F(ZG_LINUX_F_RSP), %rsp
    jmp *%rcx

zg_linux_entry_ring0:
    mov %rsp, F(ZG_LINUX_F_RSP)
    mov $ZG_LINUX_RT_STACK_TOP, %esp
    SAVE
    SERVE ZG_LINUX_CALL_TRAP, 1
    mov F(ZG_LINUX_F_RSP), %rsp
    sysretq

zg_linux_probe:
    mov %cs, %eax
    mov $ZG_LINUX_PORT, %edx
    outl %eax, %dx
    hlt

    .section .note.GNU-stack, "", @progbits
