/* Linux test program: address space far beyond the instance's memory, as
 * Go's arenas, BEAM's super carrier and V8's cage reserve it.
 *   sparse           reserves 64 GiB PROT_NONE (and 64 GiB more), makes
 *                    scattered pieces of it read-write and touches them, reads
 *                    the request into a piece never touched (across a 2 MiB
 *                    boundary), unmaps and maps pieces again, drops one with
 *                    MADV_DONTNEED: what it sees is printed (the same natively
 *                    and under zerg);
 *   sparse touch N   reserves 64 GiB and writes one byte every 2 MiB of its
 *                    first N MiB (under zerg with a small --mem: out of
 *                    memory, the instance ends; natively it prints "touched");
 *   sparse populate  mmap of 4 GiB with MAP_POPULATE: more than zerg's --mem
 *                    can back is ENOMEM (under zerg only: natively it would
 *                    take 4 GiB);
 *   sparse serve     see serve() below: templates and pooled resets. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define GIB (1ull << 30)
#define MIB (1ull << 20)

static uint64_t sum(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* sparse serve: an HTTP/1.0 handler for a template and a pooled VM. Before
 * the template point (its read of the request) it touches two pieces of a
 * 64 GiB reservation; after it, it checks they hold what they held, gives
 * one back, and touches two sets of eight regions never touched before, in
 * the order the request names ("GET /a": first to last, "GET /b": last to
 * first; a digit after it names the first set, 0-5, the second is the next),
 * each of which must read zero at first and then hold its own byte. A
 * pooled reset that left KVM a mapping of the last request's regions to a
 * frame this request gives another region shows as BAD. */
#define NX 8
static int serve(void)
{
    unsigned char *a =
        mmap(NULL, 64 * GIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (a == MAP_FAILED)
        return 1;
    unsigned char *t[2] = {a, a + 2 * GIB};
    for (int i = 0; i < 2; i++) {
        mprotect(t[i], 2 * MIB, PROT_READ | PROT_WRITE);
        memset(t[i], 0x5a, 4096);
    }
    char req[512];
    ssize_t n = read(0, req, sizeof(req) - 1);
    req[n > 0 ? n : 0] = '\0';
    int rev = !strncmp(req, "GET /b", 6);
    int set = n > 6 && req[6] >= '0' && req[6] <= '5' ? req[6] - '0' : 0;
    char bad[200] = "";
    for (int i = 0; i < 2; i++)
        if (t[i][0] != 0x5a || t[i][4095] != 0x5a)
            snprintf(bad, sizeof(bad), "template piece %d holds %02x", i, t[i][0]);
    munmap(t[1], 2 * MIB);
    /* Set `set`, then the next one: a region the last request had and one
     * it did not are both live in this one. */
    for (int pass = 0; pass < 2; pass++) {
        int sn = (set + pass) % 6;
        unsigned char *x[NX];
        for (int i = 0; i < NX; i++) {
            x[i] = a + 10 * GIB + (uint64_t)sn * 8 * GIB + (uint64_t)i * GIB + 6 * MIB;
            mprotect(x[i], 4096, PROT_READ | PROT_WRITE);
        }
        for (int k = 0; k < NX; k++) {
            int i = rev ? NX - 1 - k : k;
            if (x[i][0] && !bad[0])
                snprintf(bad, sizeof(bad), "set %d region %d read %02x at its first touch", sn, i,
                         x[i][0]);
            x[i][0] = (unsigned char)(0x10 * (pass + 1) + i);
        }
        for (int i = 0; i < NX; i++)
            if (x[i][0] != 0x10 * (pass + 1) + i && !bad[0])
                snprintf(bad, sizeof(bad), "set %d region %d holds %02x", sn, i, x[i][0]);
    }
    printf("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n");
    printf("sparse %s%s\n", bad[0] ? "BAD " : "ok", bad);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "serve"))
        return serve();
    if (argc > 1 && !strcmp(argv[1], "populate")) {
        void *p = mmap(NULL, 4 * GIB, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        printf("populate 4 GiB: %s\n", p == MAP_FAILED ? strerror(errno) : "mapped");
        /* what could be backed still can be */
        unsigned char *q = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (q == MAP_FAILED)
            return 1;
        q[0] = 1, q[4 * MIB - 1] = 2;
        printf("populate 4 MiB: mapped, %d %d\n", q[0], q[4 * MIB - 1]);
        return 0;
    }
    unsigned char *a =
        mmap(NULL, 64 * GIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (a == MAP_FAILED) {
        printf("reserve 64 GiB: %s\n", strerror(errno));
        return 1;
    }
    printf("reserved 64 GiB\n");
    if (argc > 2 && !strcmp(argv[1], "touch")) {
        uint64_t mib = strtoull(argv[2], NULL, 10);
        if (mprotect(a, mib * MIB, PROT_READ | PROT_WRITE) < 0)
            return 2;
        for (uint64_t off = 0; off < mib * MIB; off += 2 * MIB)
            a[off] = 1;
        printf("touched %llu MiB, one byte every 2 MiB\n", (unsigned long long)mib);
        return 0;
    }
    unsigned char *b =
        mmap(NULL, 64 * GIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    printf("reserved 64 GiB more: %s\n", b == MAP_FAILED ? strerror(errno) : "ok");

    /* Scattered pieces, some across a 2 MiB boundary of the reservation. */
    static const uint64_t at[] = {0, 3 * GIB + 5 * MIB + 4096, 17 * GIB - 8192, 40 * GIB + 2 * MIB,
                                  64 * GIB - MIB};
    const size_t n = sizeof(at) / sizeof(at[0]);
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = a + at[i];
        if (mprotect(p, MIB, PROT_READ | PROT_WRITE) < 0) {
            printf("mprotect piece %zu: %s\n", i, strerror(errno));
            return 1;
        }
        if (!all_zero(p, MIB))
            printf("piece %zu: not zero at first\n", i);
        for (size_t k = 0; k < MIB; k += 4096)
            p[k] = (unsigned char)(i * 7 + k / 4096);
        p[MIB - 1] = (unsigned char)i;
    }
    for (size_t i = 0; i < n; i++)
        printf("piece %zu at +0x%llx: sum %016llx\n", i, (unsigned long long)at[i],
               (unsigned long long)sum(a + at[i], MIB));

    /* The kernel writes into memory never touched, across a 2 MiB boundary. */
    unsigned char *r = a + 30 * GIB + 2 * MIB - 100;
    mprotect(r - 4096 + 100, 3 * 4096, PROT_READ | PROT_WRITE);
    ssize_t got = read(0, r, 200);
    printf("read %zd bytes into untouched memory: %.*s|\n", got, got > 0 ? (int)got : 0, (char *)r);

    /* Unmapped and mapped again: zero; a piece dropped with MADV_DONTNEED: zero. */
    unsigned char *p1 = a + at[1];
    if (munmap(p1, MIB) < 0)
        return 3;
    unsigned char *p2 =
        mmap(p1, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("mapped again at the same place: %s, %s\n", p2 == p1 ? "same" : "moved",
           p2 != MAP_FAILED && all_zero(p2, MIB) ? "zero" : "NOT zero");
    madvise(a + at[3], MIB, MADV_DONTNEED);
    printf("after MADV_DONTNEED: %s\n", all_zero(a + at[3], MIB) ? "zero" : "NOT zero");
    a[at[3]] = 9;
    printf("written again: %d\n", a[at[3]]);

    /* Everything given back, then a second round of pieces. */
    munmap(a, 64 * GIB);
    if (b != MAP_FAILED) {
        for (uint64_t off = 0; off < 64 * GIB; off += 8 * GIB + 6 * MIB) {
            mprotect(b + off, 4096, PROT_READ | PROT_WRITE);
            b[off] = (unsigned char)(off >> 30);
        }
        uint64_t s = 0;
        for (uint64_t off = 0; off < 64 * GIB; off += 8 * GIB + 6 * MIB)
            s += b[off];
        printf("second reservation: %llu\n", (unsigned long long)s);
        munmap(b, 64 * GIB);
    }
    return 0;
}
