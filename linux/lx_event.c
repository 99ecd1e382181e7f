/* Linux personality: pipes and eventfds, two kinds of open file made and
 * used inside the instance (Go's netpoller wakes itself through a pipe,
 * libuv through an eventfd; threads hand work to each other with both).
 *
 * Their bytes and counters are the instance's state (lx_state.pipe, .efd),
 * so a template carries them and a pooled reset puts them back. A read of
 * an empty pipe or of a zero counter, or a write to a full one, would block:
 * nothing on the host can change that, only another thread of the instance
 * (LX_FOP_LOCAL), so the scheduler serves the call again when no thread can
 * run (lx_thread.c). A pipe holds LX_PIPE_BUF bytes (Linux: 64 KiB); writes
 * of up to that many are atomic, as PIPE_BUF's are. A write with no reader
 * left is EPIPE (SIGPIPE is not delivered: docs/abi.md). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>

#include "linux/lx_int.h"

/* Open files of pipe p's ends of kind k (both ends: k = 0), but `except`. */
static unsigned ends(const struct lx_state *lx, unsigned k, uint32_t p,
                     const struct zg_linux_file *except)
{
    unsigned n = 0;
    for (unsigned i = 0; i < LX_NFILE; i++) {
        const struct zg_linux_file *f = &lx->file[i];
        if (f != except && f->ent == p &&
            (k ? f->kind == k : f->kind == ZG_LINUX_FD_PIPE_R || f->kind == ZG_LINUX_FD_PIPE_W))
            n++;
    }
    return n;
}

static struct lx_pipe *pipe_of(struct lx_state *lx, const struct zg_linux_file *f)
{
    return f->ent < LX_NPIPE && lx->pipe[f->ent].used ? &lx->pipe[f->ent] : NULL;
}

/* ---- Pipes -------------------------------------------------------------------- */
static int64_t pipe_read(struct lx_call *c, struct zg_linux_file *f, uint8_t *buf, uint64_t len,
                         uint64_t *pos)
{
    (void)pos;
    struct lx_pipe *p = pipe_of(c->lx, f);
    if (!p)
        return -EIO;
    if (!p->len) /* empty: EOF once no writer is left */
        return ends(c->lx, ZG_LINUX_FD_PIPE_W, f->ent, NULL) ? -EAGAIN : 0;
    uint32_t n = len < p->len ? (uint32_t)len : p->len;
    uint32_t first = LX_PIPE_BUF - p->head < n ? LX_PIPE_BUF - p->head : n;
    memcpy(buf, p->buf + p->head, first);
    memcpy(buf + first, p->buf, n - first);
    p->head = (p->head + n) % LX_PIPE_BUF;
    p->len -= n;
    if (!p->len)
        p->head = 0;
    return n;
}

static int64_t pipe_write(struct lx_call *c, struct zg_linux_file *f, const uint8_t *buf,
                          uint64_t len)
{
    struct lx_pipe *p = pipe_of(c->lx, f);
    if (!p)
        return -EIO;
    if (!ends(c->lx, ZG_LINUX_FD_PIPE_R, f->ent, NULL))
        return -EPIPE;
    uint32_t space = LX_PIPE_BUF - p->len;
    if (!space || (len <= LX_PIPE_BUF && len > space))
        return -EAGAIN; /* full, or a write that must be atomic does not fit yet */
    uint32_t n = len < space ? (uint32_t)len : space;
    uint32_t tail = (p->head + p->len) % LX_PIPE_BUF;
    uint32_t first = LX_PIPE_BUF - tail < n ? LX_PIPE_BUF - tail : n;
    memcpy(p->buf + tail, buf, first);
    memcpy(p->buf, buf + first, n - first);
    p->len += n;
    return n;
}

static unsigned pipe_ready(struct lx_call *c, const struct zg_linux_file *f)
{
    struct lx_pipe *p = pipe_of(c->lx, f);
    if (!p)
        return POLLERR;
    if (f->kind == ZG_LINUX_FD_PIPE_R)
        return (p->len ? POLLIN : 0) |
               (ends(c->lx, ZG_LINUX_FD_PIPE_W, f->ent, NULL) ? 0 : POLLHUP);
    return (p->len < LX_PIPE_BUF ? POLLOUT : 0) |
           (ends(c->lx, ZG_LINUX_FD_PIPE_R, f->ent, NULL) ? 0 : POLLERR);
}

static void pipe_release(struct lx_state *lx, struct zg_linux_file *f)
{
    if (f->ent < LX_NPIPE && !ends(lx, 0, f->ent, f))
        memset(&lx->pipe[f->ent], 0, sizeof(lx->pipe[f->ent])); /* both ends gone */
}

static int pipe_check(const struct lx_state *lx, const struct zg_linux_file *f, const struct lxv *v)
{
    (void)v;
    unsigned mode = f->kind == ZG_LINUX_FD_PIPE_R ? O_RDONLY : O_WRONLY;
    return f->ent < LX_NPIPE && lx->pipe[f->ent].used && (f->flags & O_ACCMODE) == mode &&
           !f->pos && !f->port && !f->sock;
}

const struct lx_fops lx_pipe_r_ops = {
    .name = "pipe",
    .flags = LX_FOP_LOCAL,
    .read = pipe_read,
    .ready = pipe_ready,
    .release = pipe_release,
    .check = pipe_check,
};
const struct lx_fops lx_pipe_w_ops = {
    .name = "pipe",
    .flags = LX_FOP_LOCAL,
    .write = pipe_write,
    .ready = pipe_ready,
    .release = pipe_release,
    .check = pipe_check,
};

static int64_t make_pipe(struct lx_call *c, uint64_t va, uint64_t flags)
{
    if (flags & ~(uint64_t)(O_CLOEXEC | O_NONBLOCK))
        return -EINVAL; /* O_DIRECT (packets) among them */
    void *out = lx_uwptr(c->in, va, 8);
    if (!out)
        return -EFAULT;
    struct lx_state *lx = c->lx;
    uint32_t p;
    for (p = 0; p < LX_NPIPE && lx->pipe[p].used; p++)
        ;
    if (p == LX_NPIPE)
        return -ENFILE;
    uint32_t nb = (flags & O_NONBLOCK) ? O_NONBLOCK : 0;
    int cloexec = (flags & O_CLOEXEC) != 0;
    struct zg_linux_file r = {.kind = ZG_LINUX_FD_PIPE_R, .flags = O_RDONLY | nb, .ent = p};
    struct zg_linux_file w = {.kind = ZG_LINUX_FD_PIPE_W, .flags = O_WRONLY | nb, .ent = p};
    memset(&lx->pipe[p], 0, sizeof(lx->pipe[p]));
    lx->pipe[p].used = 1;
    int64_t fr = lx_fd_install(lx, &r, cloexec);
    if (fr < 0) {
        lx->pipe[p].used = 0;
        return fr;
    }
    int64_t fw = lx_fd_install(lx, &w, cloexec);
    if (fw < 0) {
        (void)lx_fd_close(lx, (uint64_t)fr); /* frees the pipe with its last end */
        return fw;
    }
    int32_t fds[2] = {(int32_t)fr, (int32_t)fw};
    memcpy(out, fds, sizeof(fds));
    return 0;
}

int64_t lx_sys_pipe(struct lx_call *c)
{
    return make_pipe(c, c->a[0], 0);
}

int64_t lx_sys_pipe2(struct lx_call *c)
{
    return make_pipe(c, c->a[0], c->a[1]);
}

/* ---- eventfd ------------------------------------------------------------------- */
static struct lx_eventfd *efd_of(struct lx_state *lx, const struct zg_linux_file *f)
{
    return f->ent < LX_NEVENTFD && lx->efd[f->ent].used ? &lx->efd[f->ent] : NULL;
}

static int64_t efd_read(struct lx_call *c, struct zg_linux_file *f, uint8_t *buf, uint64_t len,
                        uint64_t *pos)
{
    (void)pos;
    struct lx_eventfd *e = efd_of(c->lx, f);
    if (!e)
        return -EIO;
    if (len < 8)
        return -EINVAL;
    if (!e->count)
        return -EAGAIN;
    uint64_t v = e->semaphore ? 1 : e->count;
    e->count -= v;
    memcpy(buf, &v, 8);
    return 8;
}

static int64_t efd_write(struct lx_call *c, struct zg_linux_file *f, const uint8_t *buf,
                         uint64_t len)
{
    struct lx_eventfd *e = efd_of(c->lx, f);
    if (!e)
        return -EIO;
    if (len < 8)
        return -EINVAL;
    uint64_t v;
    memcpy(&v, buf, 8);
    if (v == UINT64_MAX)
        return -EINVAL;
    if (UINT64_MAX - 1 - e->count < v)
        return -EAGAIN; /* it would pass 2^64 - 2: waits for a read */
    e->count += v;
    return 8;
}

static unsigned efd_ready(struct lx_call *c, const struct zg_linux_file *f)
{
    struct lx_eventfd *e = efd_of(c->lx, f);
    if (!e)
        return POLLERR;
    return (e->count ? POLLIN : 0) | (e->count < UINT64_MAX - 1 ? POLLOUT : 0);
}

static void efd_release(struct lx_state *lx, struct zg_linux_file *f)
{
    for (unsigned i = 0; i < LX_NFILE; i++)
        if (&lx->file[i] != f && lx->file[i].kind == ZG_LINUX_FD_EVENTFD &&
            lx->file[i].ent == f->ent)
            return;
    if (f->ent < LX_NEVENTFD)
        lx->efd[f->ent] = (struct lx_eventfd){0};
}

static int efd_check(const struct lx_state *lx, const struct zg_linux_file *f, const struct lxv *v)
{
    (void)v;
    return f->ent < LX_NEVENTFD && lx->efd[f->ent].used && (f->flags & O_ACCMODE) == O_RDWR &&
           !f->pos && !f->port && !f->sock;
}

const struct lx_fops lx_eventfd_ops = {
    .name = "eventfd",
    .flags = LX_FOP_LOCAL,
    .read = efd_read,
    .write = efd_write,
    .ready = efd_ready,
    .release = efd_release,
    .check = efd_check,
};

int64_t lx_sys_eventfd2(struct lx_call *c)
{
    uint64_t flags = c->a[1];
    if (flags & ~(uint64_t)(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE))
        return -EINVAL;
    struct lx_state *lx = c->lx;
    uint32_t e;
    for (e = 0; e < LX_NEVENTFD && lx->efd[e].used; e++)
        ;
    if (e == LX_NEVENTFD)
        return -ENFILE;
    struct zg_linux_file f = {.kind = ZG_LINUX_FD_EVENTFD,
                              .flags = O_RDWR | ((flags & EFD_NONBLOCK) ? O_NONBLOCK : 0),
                              .ent = e};
    int64_t fd = lx_fd_install(lx, &f, (flags & EFD_CLOEXEC) != 0);
    if (fd >= 0)
        lx->efd[e] = (struct lx_eventfd){
            .used = 1, .semaphore = (flags & EFD_SEMAPHORE) != 0, .count = (uint32_t)c->a[0]};
    return fd;
}

int64_t lx_sys_eventfd(struct lx_call *c)
{
    struct lx_call c2 = *c;
    c2.a[1] = 0;
    return lx_sys_eventfd2(&c2);
}

int lx_events_ok(const struct lx_state *lx)
{
    for (uint32_t p = 0; p < LX_NPIPE; p++) {
        const struct lx_pipe *q = &lx->pipe[p];
        if (q->used > 1 || q->head >= LX_PIPE_BUF || q->len > LX_PIPE_BUF ||
            (q->used && !ends(lx, 0, p, NULL)) || (!q->used && (q->len || q->head)))
            return 0;
    }
    for (uint32_t e = 0; e < LX_NEVENTFD; e++) {
        const struct lx_eventfd *q = &lx->efd[e];
        unsigned named = 0;
        for (unsigned i = 0; i < LX_NFILE; i++)
            named += lx->file[i].kind == ZG_LINUX_FD_EVENTFD && lx->file[i].ent == e;
        if (q->used > 1 || q->semaphore > 1 || q->count == UINT64_MAX || (q->used && !named) ||
            (!q->used && (q->count || q->semaphore)))
            return 0;
    }
    return 1;
}
