/* zerg guest runtime: hypercall wrappers and the C entry point. */
#include <zerg/zerg.h>

static const struct zg_boot_info *boot_info;
static uint64_t prng_state = 0x9e3779b97f4a7c15ull;

void zg_hypercall(unsigned nr, void *arg)
{
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

void zg_ready(struct zg_hc_ready *out)
{
    struct zg_hc_ready r;
    memset(&r, 0, sizeof(r));
    zg_hypercall(ZG_HC_READY, &r);
    uint64_t seed = 0;
    for (unsigned i = 0; i < ZG_ENTROPY_LEN; i++)
        seed = (seed << 8 | seed >> 56) ^ r.entropy[i];
    zg_srand(seed ^ r.instance_id);
    if (out)
        *out = r;
}

long zg_recv(void *buf, size_t len)
{
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
