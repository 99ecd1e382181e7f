/* Linux personality: clocks, sleeping and randomness, from the host. Every
 * instance sees the host's clocks (a restored one too: CLOCK_MONOTONIC never
 * goes back) and draws fresh random bytes. Sleeps end early when the
 * instance's deadline passes (the run loop then kills it). */
#include <errno.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "linux/lx_int.h"

static int clock_ok(uint64_t clk)
{
    return clk <= CLOCK_BOOTTIME && clk != 8 /* CLOCK_REALTIME_ALARM */;
}

int64_t lx_sys_clock_gettime(struct lx_call *c)
{
    if (!clock_ok(c->a[0]))
        return -EINVAL;
    struct timespec ts, *out = lx_uwptr(c->in, c->a[1], sizeof(ts));
    if (!out)
        return -EFAULT;
    clock_gettime((clockid_t)c->a[0], &ts);
    if (c->a[0] == CLOCK_MONOTONIC || c->a[0] == CLOCK_MONOTONIC_COARSE) {
        /* the guest-side runtime may have told the program a later time */
        struct zg_linux_shared *sh =
            zg_guest_wptr(c->in, ZG_LINUX_SHARED_GPA, sizeof(struct zg_linux_shared));
        uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        if (sh && sh->last_mono > ns && sh->last_mono - ns < 1000000000ull) {
            ns = sh->last_mono;
            ts.tv_sec = (time_t)(ns / 1000000000ull);
            ts.tv_nsec = (long)(ns % 1000000000ull);
        }
        if (sh)
            sh->last_mono = ns;
    }
    memcpy(out, &ts, sizeof(ts));
    return 0;
}

int64_t lx_sys_clock_getres(struct lx_call *c)
{
    if (!clock_ok(c->a[0]))
        return -EINVAL;
    if (!c->a[1])
        return 0;
    struct timespec ts, *out = lx_uwptr(c->in, c->a[1], sizeof(ts));
    if (!out)
        return -EFAULT;
    clock_getres((clockid_t)c->a[0], &ts);
    memcpy(out, &ts, sizeof(ts));
    return 0;
}

int64_t lx_sys_gettimeofday(struct lx_call *c)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (c->a[0]) {
        struct timeval *out = lx_uwptr(c->in, c->a[0], sizeof(tv));
        if (!out)
            return -EFAULT;
        memcpy(out, &tv, sizeof(tv));
    }
    if (c->a[1]) {
        uint32_t *tz = lx_uwptr(c->in, c->a[1], 8);
        if (!tz)
            return -EFAULT;
        memset(tz, 0, 8); /* UTC */
    }
    return 0;
}

int64_t lx_sys_time(struct lx_call *c)
{
    int64_t now = (int64_t)(zg_wall_ns() / 1000000000ull);
    if (c->a[0]) {
        int64_t *out = lx_uwptr(c->in, c->a[0], 8);
        if (!out)
            return -EFAULT;
        memcpy(out, &now, 8);
    }
    return now;
}

int lx_until(struct lx_call *c, uint64_t clk, uint64_t flags, uint64_t req_va, uint64_t *until)
{
    const struct timespec *req = lx_uptr(c->in, req_va, sizeof(*req));
    if (!req)
        return -EFAULT;
    struct timespec r = *req;
    if (r.tv_sec < 0 || r.tv_nsec < 0 || r.tv_nsec >= 1000000000L)
        return -EINVAL;
    if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC && clk != CLOCK_BOOTTIME)
        return -EINVAL;
    uint64_t ns = r.tv_sec > (int64_t)(UINT64_MAX / 4000000000ull)
                      ? UINT64_MAX / 4
                      : (uint64_t)r.tv_sec * 1000000000ull + (uint64_t)r.tv_nsec;
    if (!(flags & TIMER_ABSTIME)) {
        *until = c->started + ns;
        return 0;
    }
    /* an absolute time on another clock: moved onto CLOCK_MONOTONIC by that
     * clock's distance from it now */
    struct timespec now;
    clock_gettime((clockid_t)clk, &now);
    uint64_t clk_now = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
    uint64_t mono = zg_now_ns();
    *until = ns <= clk_now ? mono : mono + (ns - clk_now);
    return 0;
}

/* A sleep is a wait with a time and nothing else (lx_thread.c). */
static int64_t do_sleep(struct lx_call *c, uint64_t clk, uint64_t flags, uint64_t req_va)
{
    uint64_t until;
    int rc = lx_until(c, clk, flags, req_va, &until);
    if (rc < 0)
        return rc;
    if (zg_now_ns() >= until)
        return 0;
    c->wait.until = until;
    return LX_BLOCK;
}

int64_t lx_sys_nanosleep(struct lx_call *c)
{
    return do_sleep(c, CLOCK_MONOTONIC, 0, c->a[0]);
}

int64_t lx_sys_clock_nanosleep(struct lx_call *c)
{
    return do_sleep(c, c->a[0], c->a[1], c->a[2]);
}

int64_t lx_sys_getrandom(struct lx_call *c)
{
    uint64_t len = c->a[1];
    if (c->a[2] & ~7ull) /* GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE */
        return -EINVAL;
    if (!len)
        return 0;
    if (len > 33554431)
        len = 33554431;
    uint8_t *p = lx_uwptr(c->in, c->a[0], len);
    if (!p)
        return -EFAULT;
    return zg_fill_random(p, len) < 0 ? -EIO : (int64_t)len;
}
