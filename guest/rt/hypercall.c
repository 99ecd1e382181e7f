/* zerg guest runtime: hypercall wrappers and the C entry point. */
#include <zerg/zerg.h>

#include "xen_pv.h"

static const struct zg_boot_info *boot_info;
static uint64_t prng_state = 0x9e3779b97f4a7c15ull;

/* ---- Xen PV: the mailbox transport (abi.h, "The Xen PV transport") ------- */
static volatile struct zg_xen_mailbox *xen_mb; /* NULL: not on Xen */
static uint32_t xen_port;
static volatile uint64_t *xen_pending;

/* The standalone platform (xen.c), when Xen's own builder booted us. */
extern int zg_xen_standalone;
void zg_xen_call(unsigned nr, void *arg);

/* No SSE in the call path: a guest may keep XMM state live across a call
 * (tests/guests/snapcheck does, across READY). */
#define GPR_ONLY __attribute__((target("general-regs-only")))

static GPR_ONLY void xen_call(unsigned nr, void *arg)
{
    volatile struct zg_xen_mailbox *mb = xen_mb;
    uint32_t seq = mb->req_seq + 1;
    mb->nr = nr;
    mb->arg = (uintptr_t)arg;
    __atomic_store_n(&mb->req_seq, seq, __ATOMIC_RELEASE);
    uint32_t send_port = xen_port;
    zg_xen_hypercall(XEN_HC_EVTCHN_OP, XEN_EVTCHNOP_SEND, (uintptr_t)&send_port, 0, 0);
    volatile uint64_t *word = &xen_pending[xen_port / 64];
    uint64_t bit = 1ull << (xen_port % 64);
    while (__atomic_load_n(&mb->done_seq, __ATOMIC_ACQUIRE) != seq) {
        /* Clear first, then look again: a notification that lands between
         * the two is seen by the poll, never lost. */
        __atomic_fetch_and(word, ~bit, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&mb->done_seq, __ATOMIC_ACQUIRE) == seq)
            break;
        zg_xen_poll(send_port);
    }
}

GPR_ONLY void zg_hypercall(unsigned nr, void *arg)
{
    if (xen_mb) {
        xen_call(nr, arg);
        return;
    }
    if (zg_xen_standalone) {
        zg_xen_call(nr, arg);
        return;
    }
    /* The argument struct lives in identity-mapped memory below 4 GiB, so its
     * virtual address is its guest-physical address and fits in EAX. */
    __asm__ volatile("outl %0, %1"
                     :
                     : "a"((uint32_t)(uintptr_t)arg), "Nd"((uint16_t)(ZG_HC_PORT_BASE + nr))
                     : "memory");
}

long zg_console(const void *buf, size_t len)
{
    long total = 0;
    const char *p = buf;
    while (len > 0) {
        size_t n = len > ZG_CONSOLE_MAX ? ZG_CONSOLE_MAX : len;
        struct zg_hc_console a = {.buf = (uintptr_t)p, .len = n};
        zg_hypercall(ZG_HC_CONSOLE, &a);
        if (a.ret < 0)
            return a.ret;
        total += a.ret;
        p += n;
        len -= n;
    }
    return total;
}

uint64_t zg_time_monotonic(void)
{
    struct zg_hc_time t;
    zg_hypercall(ZG_HC_TIME, &t);
    return t.monotonic_ns;
}

uint64_t zg_time_wall(void)
{
    struct zg_hc_time t;
    zg_hypercall(ZG_HC_TIME, &t);
    return t.wall_ns;
}

long zg_random(void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        size_t n = len > ZG_RANDOM_MAX ? ZG_RANDOM_MAX : len;
        struct zg_hc_random a = {.buf = (uintptr_t)p, .len = n};
        zg_hypercall(ZG_HC_RANDOM, &a);
        if (a.ret < 0)
            return a.ret;
        p += n;
        len -= n;
    }
    return 0;
}

/* The request's first bytes, handed over with READY (READY_RECV): zg_recv
 * gives these out before it asks the monitor for more. */
static char early[8192];
static size_t early_len, early_off;

/* The x87/SSE state at READY, put back by the guest itself when READY
 * returns (ZG_READY_SELF_FPU): a pooled reset then skips setting the FPU, an
 * ioctl that costs ~15 us on nested hosts. */
static uint8_t ready_fpu[512] __attribute__((aligned(16)));

void zg_ready(struct zg_hc_ready *out)
{
    struct zg_hc_ready_recv r;
    memset(&r, 0, sizeof(r));
    r.buf = (uintptr_t)early;
    r.len = sizeof(early);
    r.ready.flags = ZG_READY_SELF_FPU;
    __asm__ volatile("fxsave64 %0" : "=m"(ready_fpu) : : "memory");
    zg_hypercall(ZG_HC_READY_RECV, &r);
    __asm__ volatile("fxrstor64 %0" : : "m"(ready_fpu) : "memory");
    early_off = 0;
    early_len = r.ret > 0 && (uint64_t)r.ret <= sizeof(early) ? (size_t)r.ret : 0;
    uint64_t seed = 0;
    for (unsigned i = 0; i < ZG_ENTROPY_LEN; i++)
        seed = (seed << 8 | seed >> 56) ^ r.ready.entropy[i];
    zg_srand(seed ^ r.ready.instance_id);
    if (out)
        *out = r.ready;
}

long zg_recv(void *buf, size_t len)
{
    if (early_off < early_len && len > 0) {
        size_t n = early_len - early_off < len ? early_len - early_off : len;
        memcpy(buf, early + early_off, n);
        early_off += n;
        return (long)n;
    }
    if (len > ZG_IO_MAX)
        len = ZG_IO_MAX;
    struct zg_hc_recv a = {.buf = (uintptr_t)buf, .len = len};
    zg_hypercall(ZG_HC_RECV, &a);
    return a.ret;
}

size_t zg_recv_head(char *buf, size_t cap)
{
    size_t got = 0;
    buf[0] = '\0';
    while (got < cap) {
        long n = zg_recv(buf + got, cap - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            break;
    }
    return got;
}

long zg_send(const void *buf, size_t len)
{
    const char *p = buf;
    size_t left = len;
    while (left > 0) {
        size_t n = left > ZG_IO_MAX ? ZG_IO_MAX : left;
        struct zg_hc_send a = {.buf = (uintptr_t)p, .len = n};
        zg_hypercall(ZG_HC_SEND, &a);
        if (a.ret < 0)
            return a.ret;
        p += n;
        left -= n;
    }
    return (long)len;
}

_Noreturn void zg_exit(int status)
{
    struct zg_hc_exit a = {.status = status};
    for (;;)
        zg_hypercall(ZG_HC_EXIT, &a);
}

_Noreturn void zg_send_exit(const void *buf, size_t len, int status)
{
    const char *p = buf;
    while (len > ZG_IO_MAX) { /* all but the last ZG_IO_MAX bytes */
        size_t n = len - ZG_IO_MAX < ZG_IO_MAX ? len - ZG_IO_MAX : ZG_IO_MAX;
        if (zg_send(p, n) < 0)
            zg_exit(status); /* the peer is gone: nothing more to send */
        p += n;
        len -= n;
    }
    struct zg_hc_send_exit a = {.buf = (uintptr_t)p, .len = len, .status = status};
    for (;;)
        zg_hypercall(ZG_HC_SEND_EXIT, &a);
}

const struct zg_boot_info *zg_boot_info(void)
{
    return boot_info;
}

void zg_srand(uint64_t seed)
{
    prng_state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

uint64_t zg_rand64(void)
{
    /* xorshift64* */
    uint64_t x = prng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    prng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

int main(int argc, char **argv);

#define ZG_MAX_ARGS 64

_Noreturn void zg_rt_start(const struct zg_boot_info *bi);

_Noreturn void zg_rt_start(const struct zg_boot_info *bi)
{
    static char cmdline[ZG_CMDLINE_MAX];
    static char *argv[ZG_MAX_ARGS + 1];
    int argc = 0;

    boot_info = bi;
    if (bi->flags & ZG_BOOT_XEN_PV) {
        volatile struct xen_shared_info *si =
            (volatile struct xen_shared_info *)(uintptr_t)bi->xen_shared_info;
        si->vcpu_info[0].evtchn_upcall_mask = 1; /* no event callbacks: the mailbox polls */
        xen_pending = si->evtchn_pending;
        xen_port = bi->xen_port;
        xen_mb = (volatile struct zg_xen_mailbox *)(uintptr_t)bi->xen_mailbox;
    }
    zg_rt_heap_init(bi->heap_start, bi->heap_end);

    /* Copy the command line out of the read-only boot page and split it. */
    size_t n = bi->cmdline_len < sizeof(cmdline) - 1 ? bi->cmdline_len : sizeof(cmdline) - 1;
    memcpy(cmdline, (const char *)(uintptr_t)bi->cmdline, n);
    cmdline[n] = '\0';
    char *p = cmdline;
    while (*p && argc < ZG_MAX_ARGS) {
        while (*p == ' ')
            *p++ = '\0';
        if (!*p)
            break;
        argv[argc++] = p;
        while (*p && *p != ' ')
            p++;
    }
    argv[argc] = NULL;
    zg_exit(main(argc, argv));
}
