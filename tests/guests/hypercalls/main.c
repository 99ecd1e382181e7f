/* Test guest: every hypercall once, checked from inside.
 * Echoes the request stream back as the response, framed by a line with the
 * byte count and a checksum, so the host side can check RECV/SEND too. */
#include <zerg/zerg.h>

static int failures;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            zg_printf("CHECK FAILED: %s (line %d)\n", #c, __LINE__);                               \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    /* CONSOLE */
    CHECK(zg_console("console ok\n", 11) == 11);

    /* TIME: monotonic advances, wall clock is after 2020-01-01. */
    uint64_t m1 = zg_time_monotonic();
    uint64_t m2 = zg_time_monotonic();
    CHECK(m1 > 0 && m2 >= m1);
    CHECK(zg_time_wall() > 1577836800ull * 1000000000ull);

    /* RANDOM: two draws differ and are not all zero; a large draw works. */
    uint8_t a[64], b[64];
    CHECK(zg_random(a, sizeof(a)) == 0);
    CHECK(zg_random(b, sizeof(b)) == 0);
    CHECK(!all_zero(a, sizeof(a)) && memcmp(a, b, sizeof(a)) != 0);
    static uint8_t big[100000];
    CHECK(zg_random(big, sizeof(big)) == 0);
    CHECK(!all_zero(big + 90000, 10000));
    struct zg_hc_random too_big = {.buf = (uintptr_t)big, .len = ZG_RANDOM_MAX + 1};
    zg_hypercall(ZG_HC_RANDOM, &too_big);
    CHECK(too_big.ret == -ZG_EINVAL);

    /* READY: a cold boot, with a fresh identity and entropy. */
    struct zg_hc_ready r;
    zg_ready(&r);
    CHECK(r.restored == 0);
    CHECK(r.instance_id != 0);
    CHECK(!all_zero(r.entropy, sizeof(r.entropy)));
    CHECK(r.wall_ns > 1577836800ull * 1000000000ull);

    /* RECV everything, then SEND it back framed. */
    size_t cap = 4u << 20, got = 0;
    uint8_t *in = malloc(cap);
    CHECK(in != NULL);
    for (;;) {
        long n = zg_recv(in + got, cap - got);
        CHECK(n >= 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == cap)
            break;
    }
    CHECK(zg_recv(in, 16) == 0); /* still at the end of the stream */
    uint64_t sum = 14695981039346656037ull;
    for (size_t i = 0; i < got; i++)
        sum = (sum ^ in[i]) * 1099511628211ull;
    char line[96];
    int n = snprintf(line, sizeof(line), "ECHO %zu %016llx\n", got, (unsigned long long)sum);
    CHECK(zg_send(line, (size_t)n) == n);
    CHECK(zg_send(in, got) == (long)got);

    zg_printf("instance %llx\n", (unsigned long long)r.instance_id);
    if (failures) {
        zg_printf("FAILED: %d checks\n", failures);
        return 1;
    }
    zg_printf("SUCCESS\n");
    /* EXIT with a distinctive status the test checks. */
    zg_exit(42);
}
