/* zt: zerg's tiny unit-test harness (header only).
 *
 * A test file defines cases with ZT_TEST(name) and lists them in main with
 * ZT_RUN(name); ZT_MAIN_END prints the tally and returns the exit status.
 * Each case prints one line that tests/run.sh counts:
 *     PASS: file/case
 *     FAIL: file/case: file.c:42: expected ...
 *     SKIP: file/case: why
 * Assertions stop the current case (they return from it) and mark it failed.
 *
 *     ZT_TEST(adds) { ZT_EQ(1 + 1, 2); }
 *     int main(void) { ZT_RUN(adds); ZT_MAIN_END; }
 */
#ifndef ZT_H
#define ZT_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int zt_passed, zt_failed, zt_skipped;
static int zt_case_failed, zt_case_skipped;
static char zt_case_msg[512];

#define ZT_TEST(name) static void zt_case_##name(void)

#define ZT_FAILF(...)                                                                              \
    do {                                                                                           \
        int zt_n_ = snprintf(zt_case_msg, sizeof(zt_case_msg), "%s:%d: ", __FILE__, __LINE__);     \
        snprintf(zt_case_msg + zt_n_, sizeof(zt_case_msg) - (size_t)zt_n_, __VA_ARGS__);           \
        zt_case_failed = 1;                                                                        \
        return;                                                                                    \
    } while (0)

#define ZT_SKIP(...)                                                                               \
    do {                                                                                           \
        snprintf(zt_case_msg, sizeof(zt_case_msg), __VA_ARGS__);                                   \
        zt_case_skipped = 1;                                                                       \
        return;                                                                                    \
    } while (0)

#define ZT_TRUE(c)                                                                                 \
    do {                                                                                           \
        if (!(c))                                                                                  \
            ZT_FAILF("expected %s", #c);                                                           \
    } while (0)

#define ZT_EQ(a, b)                                                                                \
    do {                                                                                           \
        long long zt_a_ = (long long)(a), zt_b_ = (long long)(b);                                  \
        if (zt_a_ != zt_b_)                                                                        \
            ZT_FAILF("expected %s == %s (%lld != %lld)", #a, #b, zt_a_, zt_b_);                    \
    } while (0)

#define ZT_STREQ(a, b)                                                                             \
    do {                                                                                           \
        const char *zt_a_ = (a), *zt_b_ = (b);                                                     \
        if (strcmp(zt_a_, zt_b_) != 0)                                                             \
            ZT_FAILF("expected %s == %s (\"%s\" != \"%s\")", #a, #b, zt_a_, zt_b_);                \
    } while (0)

#define ZT_MEMEQ(a, b, n)                                                                          \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0)                                                            \
            ZT_FAILF("expected %zu bytes of %s and %s equal", (size_t)(n), #a, #b);                \
    } while (0)

#define ZT_RUN(name)                                                                               \
    do {                                                                                           \
        zt_case_failed = zt_case_skipped = 0;                                                      \
        zt_case_msg[0] = '\0';                                                                     \
        zt_case_##name();                                                                          \
        const char *zt_f_ = strrchr(__FILE__, '/');                                                \
        zt_f_ = zt_f_ ? zt_f_ + 1 : __FILE__;                                                      \
        if (zt_case_failed) {                                                                      \
            printf("FAIL: %.*s/%s: %s\n", (int)(strlen(zt_f_) - 2), zt_f_, #name, zt_case_msg);    \
            zt_failed++;                                                                           \
        } else if (zt_case_skipped) {                                                              \
            printf("SKIP: %.*s/%s: %s\n", (int)(strlen(zt_f_) - 2), zt_f_, #name, zt_case_msg);    \
            zt_skipped++;                                                                          \
        } else {                                                                                   \
            printf("PASS: %.*s/%s\n", (int)(strlen(zt_f_) - 2), zt_f_, #name);                     \
            zt_passed++;                                                                           \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

#define ZT_MAIN_END return zt_failed ? 1 : 0

#endif /* ZT_H */
