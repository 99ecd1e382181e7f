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

/* A sleep is a wait with a time and nothing else (lx_sched.c): the end is
 * worked out once, from the call's first time (c->started), on
 * CLOCK_MONOTONIC; an absolute time on another clock is moved onto it by
 * that clock's distance from it now. */
static int64_t do_sleep(struct lx_call *c, uint64_t clk, uint64_t flags, uint64_t req_va)
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
    uint64_t until;
    if (!(flags & TIMER_ABSTIME)) {
        until = c->started + ns;
    } else {
        struct timespec now;
        clock_gettime((clockid_t)clk, &now);
        uint64_t clk_now = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
        uint64_t mono = zg_now_ns();
        until = ns <= clk_now ? mono : mono + (ns - clk_now);
    }
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

/* futex, for one thread: nobody ever waits on a futex while another wakes
 * it. The wakes wake nobody (FUTEX_WAKE_OP still does its operation). A
 * wait finds another value at the address (EAGAIN), or could only end by
 * its timeout, which is slept (ETIMEDOUT); with none it would never return:
 * EINTR, logged once (glibc then looks again; the deadline ends a program
 * that insists). */
int64_t lx_sys_futex(struct lx_call *c)
{
    unsigned cmd = (unsigned)(c->a[1] & ~(uint64_t)(128 | 256)); /* PRIVATE, CLOCK_REALTIME */
    int private = (c->a[1] & 128) != 0;
    uint32_t val = (uint32_t)c->a[2];
    if (c->a[0] & 3)
        return -EINVAL; /* an unaligned futex word, as Linux */
    const uint32_t *word = lx_uptr(c->in, c->a[0], 4);
    switch (cmd) {
    case 1:  /* FUTEX_WAKE */
    case 10: /* FUTEX_WAKE_BITSET */
    case 3:  /* FUTEX_REQUEUE */
        /* a private futex's wake does not look at the word (Linux neither) */
        return word || private ? 0 : -EFAULT;
    case 4: /* FUTEX_CMP_REQUEUE */
        if (!word)
            return -EFAULT;
        return *word != (uint32_t)c->a[5] ? -EAGAIN : 0;
    case 5: { /* FUTEX_WAKE_OP: *uaddr2 = *uaddr2 OP oparg, then the (no) wakes */
        uint32_t *w2 = lx_uwptr(c->in, c->a[4], 4), v3 = (uint32_t)c->a[5];
        if (!word || !w2)
            return -EFAULT;
        uint32_t op = (v3 >> 28) & 7, arg = (v3 >> 12) & 0xfff;
        if ((v3 >> 31) & 1) /* FUTEX_OP_OPARG_SHIFT */
            arg = arg < 32 ? 1u << arg : 0;
        uint32_t old = *w2;
        switch (op) {
        case 0:
            *w2 = arg;
            break; /* SET */
        case 1:
            *w2 = old + arg;
            break; /* ADD */
        case 2:
            *w2 = old | arg;
            break; /* OR */
        case 3:
            *w2 = old & ~arg;
            break; /* ANDN */
        case 4:
            *w2 = old ^ arg;
            break; /* XOR */
        default:
            return -ENOSYS;
        }
        return 0;
    }
    case 0: /* FUTEX_WAIT: a relative timeout on CLOCK_MONOTONIC */
    case 9: /* FUTEX_WAIT_BITSET: an absolute one */
        break;
    default:
        return -ENOSYS;
    }
    if (!word)
        return -EFAULT;
    if (*word != val)
        return -EAGAIN;
    if (!c->a[3]) {
        if (lx_first_time(c->lx, c->nr))
            lx_log(c->in, "zerg: linux: futex wait that no other thread could end: EINTR");
        return -EINTR;
    }
    clockid_t clk = (cmd == 9 && (c->a[1] & 256)) ? CLOCK_REALTIME : CLOCK_MONOTONIC;
    int64_t rc = do_sleep(c, (uint64_t)clk, cmd == 9 ? TIMER_ABSTIME : 0, c->a[3]);
    return rc == 0 ? -ETIMEDOUT : rc;
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
