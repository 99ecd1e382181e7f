/* Unit tests: the guest runtime's libc subset (printf, string, malloc), built
 * for the host under other names and compared with the host's libc. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- The guest sources, renamed so they do not replace the host's ------- */
#define vsnprintf zgt_vsnprintf
#define snprintf  zgt_snprintf
#define zg_printf zgt_printf
#define memcpy    zgt_memcpy
#define memmove   zgt_memmove
#define memset    zgt_memset
#define memcmp    zgt_memcmp
#define strlen    zgt_strlen
#define strnlen   zgt_strnlen
#define strcmp    zgt_strcmp
#define strncmp   zgt_strncmp
#define strchr    zgt_strchr
#define strrchr   zgt_strrchr
#define strstr    zgt_strstr
#define strtoul   zgt_strtoul
#define atoi      zgt_atoi
#define malloc    zgt_malloc
#define calloc    zgt_calloc
#define realloc   zgt_realloc
#define free      zgt_free
#include "guest/rt/malloc.c"
#include "guest/rt/printf.c"
#include "guest/rt/string.c"
#undef vsnprintf
#undef snprintf
#undef zg_printf
#undef memcpy
#undef memmove
#undef memset
#undef memcmp
#undef strlen
#undef strnlen
#undef strcmp
#undef strncmp
#undef strchr
#undef strrchr
#undef strstr
#undef strtoul
#undef atoi
#undef malloc
#undef calloc
#undef realloc
#undef free

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/zt.h"

/* The runtime's hypercall wrappers that these files call. */
static char console[4096];
static size_t console_len;
long zg_console(const void *buf, size_t len)
{
    size_t n = len < sizeof(console) - console_len ? len : sizeof(console) - console_len;
    memcpy(console + console_len, buf, n);
    console_len += n;
    return (long)len;
}
_Noreturn void zg_exit(int status)
{
    fprintf(stderr, "guest zg_exit(%d) called\n", status);
    abort();
}

#define SAME(...)                                                                                  \
    do {                                                                                           \
        char a_[256], b_[256];                                                                     \
        int na_ = zgt_snprintf(a_, sizeof(a_), __VA_ARGS__);                                       \
        int nb_ = snprintf(b_, sizeof(b_), __VA_ARGS__);                                           \
        if (na_ != nb_ || strcmp(a_, b_) != 0)                                                     \
            ZT_FAILF("format %.60s: guest \"%.60s\" (%d), host \"%.60s\" (%d)", #__VA_ARGS__, a_,  \
                     na_, b_, nb_);                                                                \
    } while (0)

ZT_TEST(printf_matches_host)
{
    SAME("plain");
    SAME("%d %i %u", 0, -1, 4000000000u);
    SAME("%d", -2147483647 - 1);
    SAME("%lld %llu", -9223372036854775807ll - 1, 18446744073709551615ull);
    SAME("%ld %lu %zu", -5l, 5ul, (size_t)123456789);
    SAME("%x %X %lx %llX", 0xdeadbeefu, 0xabcu, 0x123456789abul, 0xfedcba9876543210ull);
    SAME("[%5d] [%-5d] [%05d] [%.3d] [%8.3d]", 42, 42, 42, 7, -7);
    SAME("[%016llx] [%-8x|]", 0xabcull, 0x1fu);
    SAME("[%s] [%10s] [%-10s] [%.3s] [%*s] [%.*s]", "abc", "abc", "abc", "abcdef", 6, "ab", 2,
         "xyz");
    SAME("[%c] [%3c] [%-3c]", 'z', 'y', 'x');
    SAME("100%% [%.0d]", 0);
    SAME("%p", (void *)0x1234);
    SAME("%hd %hhu", (short)-3, (unsigned char)200);
}

ZT_TEST(printf_truncates_like_c99)
{
    char buf[8];
    memset(buf, 'X', sizeof(buf));
    ZT_EQ(zgt_snprintf(buf, 5, "%s", "abcdefgh"), 8);
    ZT_STREQ(buf, "abcd");
    ZT_EQ(buf[5], 'X');
    ZT_EQ(zgt_snprintf(NULL, 0, "%d", 12345), 5);
    ZT_EQ(zgt_snprintf(buf, 1, "abc"), 3);
    ZT_EQ(buf[0], '\0');
    const char *volatile null_str = NULL;
    ZT_EQ(zgt_snprintf(buf, sizeof(buf), "%s", null_str), 6);
    ZT_STREQ(buf, "(null)");
}

ZT_TEST(console_printf)
{
    console_len = 0;
    zgt_printf("x=%d y=%s\n", 3, "ok");
    ZT_EQ(console_len, 9);
    ZT_MEMEQ(console, "x=3 y=ok\n", 9);
}

ZT_TEST(string_functions)
{
    char a[64], b[64];
    for (int i = 0; i < 64; i++)
        a[i] = (char)i;
    zgt_memcpy(b, a, 64);
    ZT_MEMEQ(a, b, 64);
    zgt_memmove(b + 1, b, 40); /* overlapping, forward */
    ZT_EQ(b[1], 0);
    ZT_EQ(b[40], 39);
    zgt_memmove(b, b + 1, 40); /* overlapping, backward */
    ZT_MEMEQ(b, a, 40);
    zgt_memset(b, 0x7f, 10);
    ZT_EQ(b[9], 0x7f);
    ZT_EQ(b[10], 10);
    ZT_TRUE(zgt_memcmp("abc", "abd", 3) < 0);
    ZT_EQ(zgt_memcmp("abc", "abc", 3), 0);
    ZT_EQ(zgt_strlen("hello"), 5);
    ZT_EQ(zgt_strnlen("hello", 3), 3);
    ZT_TRUE(zgt_strcmp("a", "b") < 0);
    ZT_TRUE(zgt_strcmp("b", "a") > 0);
    ZT_EQ(zgt_strncmp("abcx", "abcy", 3), 0);
    ZT_STREQ(zgt_strchr("a/b/c", '/'), "/b/c");
    ZT_STREQ(zgt_strrchr("a/b/c", '/'), "/c");
    ZT_TRUE(zgt_strchr("abc", 'z') == NULL);
    ZT_STREQ(zgt_strstr("GET / HTTP/1.1\r\n\r\n", "\r\n\r\n"), "\r\n\r\n");
    ZT_TRUE(zgt_strstr("abc", "abd") == NULL);
    char *end;
    ZT_EQ(zgt_strtoul("  1234xyz", &end, 10), 1234);
    ZT_STREQ(end, "xyz");
    ZT_EQ(zgt_strtoul("0x1F", NULL, 0), 31);
    ZT_EQ(zgt_strtoul("ff", NULL, 16), 255);
    ZT_EQ(zgt_atoi("-42"), -42);
}

ZT_TEST(malloc_free_reuse)
{
    static _Alignas(16) uint8_t heap[1 << 20];
    zg_rt_heap_init((uintptr_t)heap, (uintptr_t)heap + sizeof(heap));
    void *p[100];
    for (int i = 0; i < 100; i++) {
        p[i] = zgt_malloc((size_t)i * 37 + 1);
        ZT_TRUE(p[i] != NULL);
        ZT_EQ((uintptr_t)p[i] % 16, 0);
        zgt_memset(p[i], i, (size_t)i * 37 + 1);
    }
    for (int i = 0; i < 100; i++) {
        uint8_t *q = p[i];
        for (size_t j = 0; j < (size_t)i * 37 + 1; j++)
            if (q[j] != (uint8_t)i)
                ZT_FAILF("block %d byte %zu overwritten", i, j);
    }
    size_t used = zg_heap_used();
    for (int i = 0; i < 100; i++)
        zgt_free(p[i]);
    for (int i = 0; i < 100; i++)
        p[i] = zgt_malloc((size_t)i * 37 + 1);
    ZT_EQ(zg_heap_used(), used); /* everything came from the free lists */
    void *blk = zgt_malloc(100000);
    ZT_TRUE(blk != NULL);
    zgt_free(blk);
    ZT_TRUE(zgt_malloc(100000) == blk);
    ZT_TRUE(zgt_malloc(sizeof(heap)) == NULL); /* exhaustion is NULL, not a crash */
    uint8_t *z = zgt_calloc(100, 10);
    ZT_TRUE(z != NULL);
    for (int i = 0; i < 1000; i++)
        ZT_EQ(z[i], 0);
    ZT_TRUE(zgt_calloc(SIZE_MAX / 2, 4) == NULL);
    char *r = zgt_malloc(10);
    zgt_memcpy(r, "123456789", 10);
    r = zgt_realloc(r, 5000);
    ZT_STREQ(r, "123456789");
}

int main(void)
{
    ZT_RUN(printf_matches_host);
    ZT_RUN(printf_truncates_like_c99);
    ZT_RUN(console_printf);
    ZT_RUN(string_functions);
    ZT_RUN(malloc_free_reuse);
    ZT_MAIN_END;
}
