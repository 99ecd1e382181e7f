/* Test guest: the state at the template point survives capture and restore.
 * Before READY it writes a pattern over N pages (argument, default 256) and
 * loads known values into every callee-saved register and all 16 XMM
 * registers; it issues READY itself, so those registers are live across
 * the capture; afterwards it checks every register and every page and
 * answers "STATE OK restored=R" (or what differed) on the response stream. */
#include <zerg/zerg.h>

#define MAX_PAGES 8192

static uint8_t pages[MAX_PAGES][4096] __attribute__((aligned(4096)));

static uint8_t pattern(uint64_t page, uint64_t off)
{
    return (uint8_t)((page * 131 + off * 7) ^ (page >> 3));
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 0 ? strtoul(argv[0], NULL, 10) : 256;
    if (n > MAX_PAGES)
        n = MAX_PAGES;
    for (uint64_t p = 0; p < n; p++)
        for (uint64_t o = 0; o < 4096; o += 64)
            pages[p][o] = pattern(p, o);

    static struct zg_hc_ready r;
    static uint64_t gprs[6], xmm[16][2];
    /* The template point, with known values live in rbx, rbp, r12-r15 and
     * xmm0-15: on KVM an `out`; on Xen the runtime's mailbox call (no SSE
     * in it), reached with the stack aligned and rsi/rdi saved. */
#define SNAP_SETUP                                                                                 \
    "push %%rbp\n\t"                                                                               \
    "mov $0x1111111111111111, %%rbx\n\t"                                                           \
    "mov $0x2222222222222222, %%rbp\n\t"                                                           \
    "mov $0x3333333333333333, %%r12\n\t"                                                           \
    "mov $0x4444444444444444, %%r13\n\t"                                                           \
    "mov $0x5555555555555555, %%r14\n\t"                                                           \
    "mov $0x6666666666666666, %%r15\n\t"                                                           \
    "mov $0x0101010101010101, %%rax\n\t"                                                           \
    "movq %%rax, %%xmm0\n\t"                                                                       \
    "pshufd $0, %%xmm0, %%xmm0\n\t"                                                                \
    "movdqa %%xmm0, %%xmm1\n\tpaddb %%xmm0, %%xmm1\n\t"                                            \
    "movdqa %%xmm1, %%xmm2\n\tpaddb %%xmm0, %%xmm2\n\t"                                            \
    "movdqa %%xmm2, %%xmm3\n\tpaddb %%xmm0, %%xmm3\n\t"                                            \
    "movdqa %%xmm3, %%xmm4\n\tpaddb %%xmm0, %%xmm4\n\t"                                            \
    "movdqa %%xmm4, %%xmm5\n\tpaddb %%xmm0, %%xmm5\n\t"                                            \
    "movdqa %%xmm5, %%xmm6\n\tpaddb %%xmm0, %%xmm6\n\t"                                            \
    "movdqa %%xmm6, %%xmm7\n\tpaddb %%xmm0, %%xmm7\n\t"                                            \
    "movdqa %%xmm7, %%xmm8\n\tpaddb %%xmm0, %%xmm8\n\t"                                            \
    "movdqa %%xmm8, %%xmm9\n\tpaddb %%xmm0, %%xmm9\n\t"                                            \
    "movdqa %%xmm9, %%xmm10\n\tpaddb %%xmm0, %%xmm10\n\t"                                          \
    "movdqa %%xmm10, %%xmm11\n\tpaddb %%xmm0, %%xmm11\n\t"                                         \
    "movdqa %%xmm11, %%xmm12\n\tpaddb %%xmm0, %%xmm12\n\t"                                         \
    "movdqa %%xmm12, %%xmm13\n\tpaddb %%xmm0, %%xmm13\n\t"                                         \
    "movdqa %%xmm13, %%xmm14\n\tpaddb %%xmm0, %%xmm14\n\t"                                         \
    "movdqa %%xmm14, %%xmm15\n\tpaddb %%xmm0, %%xmm15\n\t"

#define SNAP_STORE                                                                                 \
    "mov %%rbx, 0(%[g])\n\tmov %%rbp, 8(%[g])\n\tmov %%r12, 16(%[g])\n\t"                          \
    "mov %%r13, 24(%[g])\n\tmov %%r14, 32(%[g])\n\tmov %%r15, 40(%[g])\n\t"                        \
    "movdqu %%xmm0, 0(%[x])\n\tmovdqu %%xmm1, 16(%[x])\n\t"                                        \
    "movdqu %%xmm2, 32(%[x])\n\tmovdqu %%xmm3, 48(%[x])\n\t"                                       \
    "movdqu %%xmm4, 64(%[x])\n\tmovdqu %%xmm5, 80(%[x])\n\t"                                       \
    "movdqu %%xmm6, 96(%[x])\n\tmovdqu %%xmm7, 112(%[x])\n\t"                                      \
    "movdqu %%xmm8, 128(%[x])\n\tmovdqu %%xmm9, 144(%[x])\n\t"                                     \
    "movdqu %%xmm10, 160(%[x])\n\tmovdqu %%xmm11, 176(%[x])\n\t"                                   \
    "movdqu %%xmm12, 192(%[x])\n\tmovdqu %%xmm13, 208(%[x])\n\t"                                   \
    "movdqu %%xmm14, 224(%[x])\n\tmovdqu %%xmm15, 240(%[x])\n\t"                                   \
    "pop %%rbp"

#define SNAP_OPERANDS                                                                              \
    : [r] "+d"(rarg)                                                                               \
    : [port] "i"((uint16_t)(ZG_HC_PORT_BASE + ZG_HC_READY)), [nr] "i"(ZG_HC_READY), [g] "S"(gprs), \
      [x] "D"(xmm)                                                                                 \
    : "rax", "rbx", "rcx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "xmm0", "xmm1",   \
      "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",    \
      "xmm13", "xmm14", "xmm15", "memory"
    uint64_t rarg = (uintptr_t)&r; /* in rdx: the setup leaves it alone */
    if (zg_boot_info()->flags & ZG_BOOT_XEN_PV)
        __asm__ volatile(SNAP_SETUP "push %%rsi\n\tpush %%rdi\n\t"
                                    "mov %%rsp, %%rax\n\tand $-16, %%rsp\n\t"
                                    "push %%rax\n\tpush %%rax\n\t"
                                    "mov %[nr], %%edi\n\tmov %%rdx, %%rsi\n\t"
                                    "call zg_hypercall\n\t"
                                    "pop %%rax\n\tpop %%rax\n\tmov %%rax, %%rsp\n\t"
                                    "pop %%rdi\n\tpop %%rsi\n\t" SNAP_STORE SNAP_OPERANDS);
    else
        __asm__ volatile(SNAP_SETUP "mov %%edx, %%eax\n\t"
                                    "mov %[port], %%dx\n\t"
                                    "outl %%eax, %%dx\n\t" SNAP_STORE SNAP_OPERANDS);

    char out[512];
    int bad = 0, len = 0;
    static const uint64_t want[6] = {0x1111111111111111ull, 0x2222222222222222ull,
                                     0x3333333333333333ull, 0x4444444444444444ull,
                                     0x5555555555555555ull, 0x6666666666666666ull};
    for (int i = 0; i < 6; i++)
        if (gprs[i] != want[i] && len < 400)
            bad++, len += snprintf(out + len, sizeof(out) - (size_t)len, "gpr%d=%llx ", i,
                                   (unsigned long long)gprs[i]);
    for (int i = 0; i < 16; i++) {
        uint64_t b = 0x0101010101010101ull * (uint64_t)(i + 1);
        if ((xmm[i][0] != b || xmm[i][1] != b) && len < 400)
            bad++, len += snprintf(out + len, sizeof(out) - (size_t)len, "xmm%d ", i);
    }
    for (uint64_t p = 0; p < n; p++)
        for (uint64_t o = 0; o < 4096; o++)
            if (pages[p][o] != ((o % 64) ? 0 : pattern(p, o))) {
                if (len < 400)
                    len += snprintf(out + len, sizeof(out) - (size_t)len, "page%llu+%llu ",
                                    (unsigned long long)p, (unsigned long long)o);
                bad++;
                o = 4096;
            }
    char line[600];
    int m = bad ? snprintf(line, sizeof(line), "STATE BAD restored=%u: %s\n", r.restored, out)
                : snprintf(line, sizeof(line), "STATE OK restored=%u pages=%llu\n", r.restored,
                           (unsigned long long)n);
    zg_send(line, (size_t)m);
    return bad ? 1 : 0;
}
