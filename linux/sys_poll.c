/* Linux personality: waiting for descriptors (poll, ppoll, select, pselect6,
 * epoll). Each open file's kind says what it is ready for (lx_file.c) and
 * what the host must watch for that to change; a wait with nothing ready
 * says "would block" and the scheduler (lx_sched.c) waits, bounded by the
 * call's timeout and the instance's deadline. A listening socket is readable
 * until its one connection is accepted; waiting on it once that connection
 * is closed ends the instance (there will be no other). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <string.h>
#include <time.h>

#include "linux/lx_int.h"

#define LX_POLL_MAX 1024

int lx_conn_open(struct lx_state *lx)
{
    for (unsigned i = 0; i < LX_NFD; i++) {
        const struct zg_linux_file *f = lx_fd_get(lx, i);
        if (f && f->kind == ZG_LINUX_FD_CONN)
            return 1;
    }
    return 0;
}

/* The core of all four calls and of epoll_wait: n (fd, events) pairs in,
 * revents out, never waiting. Nothing ready and time left: LX_BLOCK, with
 * what the not-ready descriptors' kinds watch and the call's end in c->wait
 * (lx_sched.c serves the call again when either comes). */
static int64_t do_poll(struct lx_call *c, const int *fds, const short *ev, short *rev, uint64_t n,
                       int64_t timeout_ms)
{
    if (timeout_ms > 86400000ll * 365)
        timeout_ms = -1; /* a year or more: forever (the deadline still bounds it) */
    int64_t ready = 0;
    for (uint64_t i = 0; i < n; i++) {
        rev[i] = 0;
        if (fds[i] < 0)
            continue;
        const struct zg_linux_file *f = lx_fd_get(c->lx, (uint64_t)fds[i]);
        if (!f) {
            rev[i] = POLLNVAL;
            ready++;
            continue;
        }
        if (f->kind == ZG_LINUX_FD_SOCK && (f->sock & LX_SOCK_LISTENING) && c->lx->accepted &&
            !lx_conn_open(c->lx) && lx_conn_over(c))
            return 0; /* waiting for a second connection: the instance is over */
        const struct lx_fops *ops = lx_fops_of(f->kind);
        unsigned r = ops->ready ? ops->ready(c, f) : POLLIN | POLLOUT;
        r &= (unsigned)(uint16_t)ev[i] | POLLHUP | POLLERR;
        rev[i] = (short)r;
        ready += r != 0;
        short wev = 0;
        int hfd = !r && ops->watch ? ops->watch(c, f, &wev) : -1;
        if (hfd >= 0)
            c->wait.host_fd = hfd, c->wait.events = wev;
    }
    if (ready || timeout_ms == 0)
        return ready;
    if (timeout_ms > 0) {
        c->wait.until = c->started + (uint64_t)timeout_ms * 1000000ull;
        if (zg_now_ns() >= c->wait.until)
            return 0;
    }
    return LX_BLOCK;
}

static int64_t poll_common(struct lx_call *c, uint64_t va, uint64_t n, int64_t timeout_ms)
{
    if (n > LX_POLL_MAX)
        return -EINVAL;
    if (!n) {
        short dummy;
        return do_poll(c, NULL, NULL, &dummy, 0, timeout_ms);
    }
    struct pollfd *p = lx_uwptr(c->in, va, n * sizeof(*p));
    if (!p)
        return -EFAULT;
    int fds[LX_POLL_MAX] = {0};
    short ev[LX_POLL_MAX] = {0}, rev[LX_POLL_MAX];
    for (uint64_t i = 0; i < n; i++)
        fds[i] = p[i].fd, ev[i] = p[i].events;
    int64_t r = do_poll(c, fds, ev, rev, n, timeout_ms);
    if (r >= 0)
        for (uint64_t i = 0; i < n; i++)
            p[i].revents = rev[i];
    return r;
}

int64_t lx_sys_poll(struct lx_call *c)
{
    return poll_common(c, c->a[0], c->a[1], (int64_t)(int)c->a[2]);
}

/* A struct timespec timeout (NULL: none) as milliseconds, -1 for none. */
static int64_t ts_ms(struct lx_call *c, uint64_t va, int64_t *ms)
{
    *ms = -1;
    if (!va)
        return 0;
    const struct timespec *ts = lx_uptr(c->in, va, sizeof(*ts));
    if (!ts)
        return -EFAULT;
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L)
        return -EINVAL;
    *ms = ts->tv_sec > INT64_MAX / 2000 ? INT64_MAX / 2
                                        : ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000;
    return 0;
}

int64_t lx_sys_ppoll(struct lx_call *c)
{
    int64_t ms, rc = ts_ms(c, c->a[2], &ms);
    return rc < 0 ? rc : poll_common(c, c->a[0], c->a[1], ms);
}

/* select/pselect6: fd_set bitmaps of nfds bits. */
static int64_t select_common(struct lx_call *c, uint64_t nfds, uint64_t rd, uint64_t wr,
                             uint64_t ex, int64_t timeout_ms)
{
    if ((int64_t)nfds < 0 || nfds > LX_NFD)
        return -EINVAL;
    size_t bytes = (nfds + 63) / 64 * 8;
    uint8_t *sets[3] = {NULL, NULL, NULL};
    uint64_t vas[3] = {rd, wr, ex};
    for (int s = 0; s < 3; s++)
        if (vas[s] && bytes && !(sets[s] = lx_uwptr(c->in, vas[s], bytes)))
            return -EFAULT;
    int fds[LX_NFD] = {0};
    short ev[LX_NFD] = {0}, rev[LX_NFD];
    uint64_t n = 0;
    for (uint64_t fd = 0; fd < nfds; fd++) {
        short e = 0;
        if (sets[0] && (sets[0][fd / 8] & (1u << (fd % 8))))
            e |= POLLIN;
        if (sets[1] && (sets[1][fd / 8] & (1u << (fd % 8))))
            e |= POLLOUT;
        if (!e)
            continue;
        if (!lx_fd_get(c->lx, fd))
            return -EBADF;
        fds[n] = (int)fd, ev[n] = e, n++;
    }
    int64_t r = do_poll(c, fds, ev, rev, n, timeout_ms);
    if (r < 0)
        return r;
    for (int s = 0; s < 3; s++)
        if (sets[s])
            memset(sets[s], 0, bytes);
    int64_t bits = 0;
    for (uint64_t i = 0; i < n; i++) {
        int fd = fds[i];
        if (sets[0] && (rev[i] & POLLIN))
            sets[0][fd / 8] |= (uint8_t)(1u << (fd % 8)), bits++;
        if (sets[1] && (rev[i] & POLLOUT))
            sets[1][fd / 8] |= (uint8_t)(1u << (fd % 8)), bits++;
    }
    return bits;
}

int64_t lx_sys_select(struct lx_call *c)
{
    int64_t ms = -1;
    if (c->a[4]) {
        const int64_t *tv = lx_uptr(c->in, c->a[4], 16);
        if (!tv)
            return -EFAULT;
        if (tv[0] < 0 || tv[1] < 0 || tv[1] >= 1000000)
            return -EINVAL;
        ms = tv[0] > INT64_MAX / 2000 ? INT64_MAX / 2 : tv[0] * 1000 + (tv[1] + 999) / 1000;
    }
    return select_common(c, c->a[0], c->a[1], c->a[2], c->a[3], ms);
}

int64_t lx_sys_pselect6(struct lx_call *c)
{
    int64_t ms, rc = ts_ms(c, c->a[4], &ms);
    return rc < 0 ? rc : select_common(c, c->a[0], c->a[1], c->a[2], c->a[3], ms);
}

/* ---- epoll: registrations kept in the state, waits through do_poll ---------- */
void lx_epoll_forget(struct lx_state *lx, int fd)
{
    for (unsigned e = 0; e < LX_NEPOLL; e++)
        for (unsigned i = 0; i < LX_NEPOLLFD; i++)
            if (lx->epoll[e].used && lx->epoll[e].reg[i].fd == fd)
                lx->epoll[e].reg[i].fd = -1;
}

int64_t lx_sys_epoll_create1(struct lx_call *c)
{
    if (c->a[0] & ~(uint64_t)O_CLOEXEC)
        return -EINVAL;
    unsigned e;
    for (e = 0; e < LX_NEPOLL && c->lx->epoll[e].used; e++)
        ;
    if (e == LX_NEPOLL)
        return -EMFILE;
    struct zg_linux_file f = {.kind = ZG_LINUX_FD_EPOLL, .flags = O_RDWR, .ent = e};
    int64_t fd = lx_fd_install(c->lx, &f, (c->a[0] & O_CLOEXEC) != 0);
    if (fd < 0)
        return fd;
    struct lx_epoll *ep = &c->lx->epoll[e];
    memset(ep, 0, sizeof(*ep));
    ep->used = 1;
    for (unsigned i = 0; i < LX_NEPOLLFD; i++)
        ep->reg[i].fd = -1;
    return fd;
}

int64_t lx_sys_epoll_create(struct lx_call *c)
{
    if ((int64_t)(int)c->a[0] <= 0)
        return -EINVAL;
    struct lx_call c1 = *c;
    c1.a[0] = 0;
    return lx_sys_epoll_create1(&c1);
}

static struct lx_epoll *epoll_of(struct lx_call *c, uint64_t fd, int64_t *err)
{
    struct zg_linux_file *f = lx_fd_get(c->lx, fd);
    *err = !f ? -EBADF : (f->kind != ZG_LINUX_FD_EPOLL || f->ent >= LX_NEPOLL) ? -EINVAL : 0;
    return *err ? NULL : &c->lx->epoll[f->ent];
}

int64_t lx_sys_epoll_ctl(struct lx_call *c)
{
    int64_t err;
    struct lx_epoll *ep = epoll_of(c, c->a[0], &err);
    if (!ep)
        return err;
    uint64_t op = c->a[1], fd = c->a[2];
    struct zg_linux_file *t = lx_fd_get(c->lx, fd);
    if (!t)
        return -EBADF;
    if (fd == c->a[0] || (lx_fops_of(t->kind)->flags & LX_FOP_NOPOLL))
        return -EPERM; /* as Linux: regular files and directories cannot be polled */
    uint32_t events = 0;
    uint64_t data = 0;
    if (op != EPOLL_CTL_DEL) {
        const uint8_t *ev = lx_uptr(c->in, c->a[3], 12); /* struct epoll_event, packed */
        if (!ev)
            return -EFAULT;
        memcpy(&events, ev, 4);
        memcpy(&data, ev + 4, 8);
    }
    int at = -1, free_at = -1;
    for (int i = 0; i < LX_NEPOLLFD; i++) {
        if (ep->reg[i].fd == (int32_t)fd)
            at = i;
        else if (ep->reg[i].fd < 0 && free_at < 0)
            free_at = i;
    }
    switch (op) {
    case EPOLL_CTL_ADD:
        if (at >= 0)
            return -EEXIST;
        if (free_at < 0)
            return -ENOSPC;
        ep->reg[free_at] = (struct lx_epreg){(int32_t)fd, events, data};
        return 0;
    case EPOLL_CTL_MOD:
        if (at < 0)
            return -ENOENT;
        ep->reg[at].events = events;
        ep->reg[at].data = data;
        return 0;
    case EPOLL_CTL_DEL:
        if (at < 0)
            return -ENOENT;
        ep->reg[at].fd = -1;
        return 0;
    default:
        return -EINVAL;
    }
}

static int64_t epoll_wait_common(struct lx_call *c, int64_t timeout_ms)
{
    int64_t err;
    struct lx_epoll *ep = epoll_of(c, c->a[0], &err);
    if (!ep)
        return err;
    int64_t max = (int64_t)(int)c->a[2];
    if (max <= 0 || max > INT32_MAX / 12) /* Linux's EP_MAX_EVENTS */
        return -EINVAL;
    /* No more events than registrations can come back: the program's array
     * is checked (and written) that far, not for all of max. */
    uint64_t room = (uint64_t)(max < LX_NEPOLLFD ? max : LX_NEPOLLFD);
    uint8_t *out = lx_uwptr(c->in, c->a[1], room * 12);
    if (!out)
        return -EFAULT;
    int fds[LX_NEPOLLFD] = {0}, idx[LX_NEPOLLFD] = {0};
    short ev[LX_NEPOLLFD] = {0}, rev[LX_NEPOLLFD];
    uint64_t n = 0;
    for (int i = 0; i < LX_NEPOLLFD; i++) {
        const struct lx_epreg *r = &ep->reg[i];
        if (r->fd < 0 || !(r->events & (EPOLLIN | EPOLLOUT)))
            continue; /* free, or a one-shot already reported */
        fds[n] = r->fd;
        ev[n] = (short)(r->events & (EPOLLIN | EPOLLOUT));
        idx[n++] = i;
    }
    int64_t ready = do_poll(c, fds, ev, rev, n, timeout_ms);
    if (ready <= 0 || c->stop)
        return ready;
    int64_t k = 0;
    for (uint64_t j = 0; j < n && (uint64_t)k < room; j++) {
        if (!rev[j])
            continue;
        struct lx_epreg *r = &ep->reg[idx[j]];
        uint32_t e = (uint32_t)(uint16_t)rev[j];
        memcpy(out + k * 12, &e, 4);
        memcpy(out + k * 12 + 4, &r->data, 8);
        if (r->events & EPOLLONESHOT)
            r->events &= ~(uint32_t)(EPOLLIN | EPOLLOUT);
        k++;
    }
    return k;
}

int64_t lx_sys_epoll_wait(struct lx_call *c)
{
    return epoll_wait_common(c, (int64_t)(int)c->a[3]);
}

int64_t lx_sys_epoll_pwait(struct lx_call *c)
{
    return epoll_wait_common(c, (int64_t)(int)c->a[3]); /* the signal mask: no signals */
}
