/* Unit tests of the remote tier's deadline settings and size caps (remote/zg_remote.h,
 * "Deadlines"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "remote/rm_int.h"
#include "tests/zt.h"

ZT_TEST(timeout_syntax)
{
    double f = -1, c = -1;
    ZT_EQ(zg_remote_parse_timeout("30", &f, &c), 0);
    ZT_TRUE(f == 30 && c == 0);
    ZT_EQ(zg_remote_parse_timeout("0.5:2.5", &f, &c), 0);
    ZT_TRUE(f == 0.5 && c == 2.5);
    ZT_EQ(zg_remote_parse_timeout("2:2", &f, &c), 0);
    static const char *bad[] = {"",    "0",   "-1",  "x",   "3:2",   "2:", ":2",
                                "2:x", "1e9", "nan", "inf", "2:3:4", "2 "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (zg_remote_parse_timeout(bad[i], &f, &c) != -EINVAL)
            ZT_FAILF("'%s' accepted as a timeout", bad[i]);
}

ZT_TEST(rate_syntax)
{
    uint64_t r = 0;
    ZT_EQ(zg_remote_parse_rate("1", &r), 0);
    ZT_EQ(r, 1);
    ZT_EQ(zg_remote_parse_rate("16k", &r), 0);
    ZT_EQ(r, 16384);
    ZT_EQ(zg_remote_parse_rate("2M", &r), 0);
    ZT_EQ(r, 2u << 20);
    static const char *bad[] = {
        "", "0", "0k", "-1", "k", "1g", "1.5k", "1kb", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (zg_remote_parse_rate(bad[i], &r) != -EINVAL)
            ZT_FAILF("'%s' accepted as a rate", bad[i]);
}

/* Defaults, then the environment, then the options, each over the last. */
ZT_TEST(settings_precedence)
{
    struct rm r;
    char err[256];
    struct zg_remote_opts o = {.url = "http://127.0.0.1:9/store"};
    unsetenv("ZERG_REMOTE_TIMEOUT");
    unsetenv("ZERG_REMOTE_MIN_RATE");
    ZT_EQ(rm_open(&r, &o, err, sizeof(err)), 0);
    ZT_TRUE(r.floor == ZG_REMOTE_TIMEOUT_FLOOR && r.ceiling == ZG_REMOTE_TIMEOUT_CEILING);
    ZT_EQ(r.min_rate, ZG_REMOTE_MIN_RATE);
    rm_close(&r);

    setenv("ZERG_REMOTE_TIMEOUT", "3:9", 1);
    setenv("ZERG_REMOTE_MIN_RATE", "1k", 1);
    ZT_EQ(rm_open(&r, &o, err, sizeof(err)), 0);
    ZT_TRUE(r.floor == 3 && r.ceiling == 9);
    ZT_EQ(r.min_rate, 1024);
    rm_close(&r);

    o.timeout_floor = 5000; /* no ceiling given: the default, raised to the floor */
    o.min_rate = 7;
    ZT_EQ(rm_open(&r, &o, err, sizeof(err)), 0);
    ZT_TRUE(r.floor == 5000 && r.ceiling == 5000);
    ZT_EQ(r.min_rate, 7);
    rm_close(&r);

    setenv("ZERG_REMOTE_TIMEOUT", "9:3", 1);
    ZT_EQ(rm_open(&r, &o, err, sizeof(err)), -EINVAL);
    ZT_TRUE(strstr(err, "ZERG_REMOTE_TIMEOUT") != NULL);
    unsetenv("ZERG_REMOTE_TIMEOUT");
    setenv("ZERG_REMOTE_MIN_RATE", "fast", 1);
    ZT_EQ(rm_open(&r, &o, err, sizeof(err)), -EINVAL);
    ZT_TRUE(strstr(err, "ZERG_REMOTE_MIN_RATE") != NULL);
    unsetenv("ZERG_REMOTE_MIN_RATE");
}

/* The map's cap is the size of the largest map its manifest allows: one
 * pack per page. */
ZT_TEST(map_cap_is_the_largest_map)
{
    for (uint64_t n = 0; n < 5; n++) {
        struct rm_map m = {.npages = n, .npacks = (uint32_t)n};
        m.loc = calloc(n + 1, sizeof(*m.loc));
        m.packs = calloc(n + 1, sizeof(*m.packs));
        for (uint64_t i = 0; i < n; i++)
            m.loc[i] = (struct rm_loc){.pack = (uint32_t)i, .rec_len = 4000, .off = RM_PACK_HDR};
        uint8_t *buf = NULL;
        size_t len = 0;
        int rc = rm_map_encode(&m, &buf, &len);
        free(m.loc);
        free(m.packs);
        ZT_EQ(rc, 0);
        free(buf);
        ZT_EQ(len, RM_MAP_MAX(n));
    }
}

int main(void)
{
    ZT_RUN(timeout_syntax);
    ZT_RUN(rate_syntax);
    ZT_RUN(settings_precedence);
    ZT_RUN(map_cap_is_the_largest_map);
    ZT_MAIN_END;
}
