/* Linux personality: the calls on descriptors (read, write and their
 * variants, close, dup, fcntl, lseek, sendfile, getdents64, fstat), through
 * the open files' kinds (lx_file.c). fd 0 reads the request stream, fd 1
 * writes the response, fd 2 is zerg's console; sys_path.c opens /dev files
 * and the view's files and directories, sys_net.c sockets, sys_poll.c
 * epoll instances. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "linux/lx_int.h"

#define IOV_MAX_LX 1024

/* Records the program's [va, va+len) as written by the host. */
static void umark(struct zg_instance *in, uint64_t va, uint64_t len)
{
    if (len)
        (void)lx_uwptr(in, va, len);
}

/* A read or write that found nothing to do yet: the caller's answer is
 * EAGAIN for an O_NONBLOCK file, else it blocks on what the kind watches. */
static int64_t would_block(struct lx_call *c, const struct lx_fops *ops,
                           const struct zg_linux_file *f)
{
    if (f->flags & O_NONBLOCK)
        return -EAGAIN;
    short ev = 0;
    int fd = ops->watch ? ops->watch(c, f, &ev) : -1;
    if (fd < 0 && !(ops->flags & LX_FOP_LOCAL))
        return -EAGAIN; /* nothing could ever change it: never block forever */
    c->wait.host_fd = fd;
    c->wait.events = ev;
    return LX_BLOCK; /* LX_FOP_LOCAL: another thread's call changes it */
}

/* ---- Reading and writing ------------------------------------------------------ */
int64_t lx_read(struct lx_call *c, struct zg_linux_file *f, uint64_t va, uint64_t len, uint64_t off)
{
    const struct lx_fops *ops = lx_fops_of(f->kind);
    if (!ops || (f->flags & O_ACCMODE) == O_WRONLY)
        return -EBADF;
    if (!ops->read)
        return -EINVAL;
    if (!len)
        return 0;
    if (len > ZG_IO_MAX)
        len = ZG_IO_MAX; /* a short read, as Linux may give */
    uint8_t *buf = lx_uptr(c->in, va, len);
    if (!buf)
        return -EFAULT;
    uint64_t at = off == UINT64_MAX ? f->pos : off;
    int64_t n = ops->read(c, f, buf, len, &at);
    if (n == -EAGAIN)
        return would_block(c, ops, f);
    if (n > 0)
        umark(c->in, va, (uint64_t)n);
    if (n >= 0 && off == UINT64_MAX && (ops->flags & LX_FOP_SEEK))
        f->pos = at;
    return n;
}

int64_t lx_write(struct lx_call *c, struct zg_linux_file *f, uint64_t va, uint64_t len)
{
    const struct lx_fops *ops = lx_fops_of(f->kind);
    if (!ops || (f->flags & O_ACCMODE) == O_RDONLY)
        return -EBADF;
    if (!ops->write)
        return -EINVAL;
    if (!len)
        return 0;
    if (len > ZG_IO_MAX)
        len = ZG_IO_MAX;
    const uint8_t *buf = lx_uptr(c->in, va, len);
    if (!buf)
        return -EFAULT;
    int64_t n = ops->write(c, f, buf, len);
    return n == -EAGAIN ? would_block(c, ops, f) : n;
}

int64_t lx_sys_read(struct lx_call *c)
{
    struct zg_linux_file *f = lx_fd_get(c->lx, c->a[0]);
    return f ? lx_read(c, f, c->a[1], c->a[2], UINT64_MAX) : -EBADF;
}

int64_t lx_sys_write(struct lx_call *c)
{
    struct zg_linux_file *f = lx_fd_get(c->lx, c->a[0]);
    return f ? lx_write(c, f, c->a[1], c->a[2]) : -EBADF;
}

static int seekable(const struct zg_linux_file *f)
{
    const struct lx_fops *ops = lx_fops_of(f->kind);
    return ops && (ops->flags & LX_FOP_SEEK);
}

int64_t lx_sys_pread64(struct lx_call *c)
{
    struct zg_linux_file *f = lx_fd_get(c->lx, c->a[0]);
    if (!f)
        return -EBADF;
    if (!seekable(f))
        return -ESPIPE;
    return (int64_t)c->a[3] < 0 ? -EINVAL : lx_read(c, f, c->a[1], c->a[2], c->a[3]);
}

int64_t lx_sys_pwrite64(struct lx_call *c)
{
    struct zg_linux_file *f = lx_fd_get(c->lx, c->a[0]);
    if (!f)
        return -EBADF;
    if (!seekable(f))
        return -ESPIPE;
    return (int64_t)c->a[3] < 0 ? -EINVAL : lx_write(c, f, c->a[1], c->a[2]);
}

/* readv/writev: one iovec at a time; a short transfer ends the call. */
int64_t lx_vec(struct lx_call *c, uint64_t fd, uint64_t iov_va, uint64_t cnt, int writing)
{
    struct zg_linux_file *f = lx_fd_get(c->lx, fd);
    if (!f)
        return -EBADF;
    if (cnt > IOV_MAX_LX)
        return -EINVAL;
    if (!cnt)
        return 0;
    const uint64_t *iov = lx_uptr(c->in, iov_va, cnt * 16);
    if (!iov)
        return -EFAULT;
    int64_t total = 0;
    for (uint64_t i = 0; i < cnt; i++) {
        uint64_t base, len;
        memcpy(&base, &iov[2 * i], 8);
        memcpy(&len, &iov[2 * i + 1], 8);
        if ((int64_t)len < 0)
            return total ? total : -EINVAL;
        int64_t n = writing ? lx_write(c, f, base, len) : lx_read(c, f, base, len, UINT64_MAX);
        if (n < 0)
            return total ? total : n;
        total += n;
        if ((uint64_t)n < len)
            break;
        /* From a stream, what is there: the next iovec would wait for more. */
        if (!writing && n > 0 && !seekable(f))
            break;
    }
    return total;
}

int64_t lx_sys_readv(struct lx_call *c)
{
    return lx_vec(c, c->a[0], c->a[1], c->a[2], 0);
}

int64_t lx_sys_writev(struct lx_call *c)
{
    return lx_vec(c, c->a[0], c->a[1], c->a[2], 1);
}

int64_t lx_sys_close(struct lx_call *c)
{
    return lx_fd_close(c->lx, c->a[0]);
}

int64_t lx_sys_dup(struct lx_call *c)
{
    if (!lx_fd_get(c->lx, c->a[0]))
        return -EBADF;
    int fd = lx_fd_alloc(c->lx, 0);
    return fd < 0 ? fd : lx_fd_dup(c->lx, c->a[0], (uint64_t)fd, 0);
}

int64_t lx_sys_dup2(struct lx_call *c)
{
    if (!lx_fd_get(c->lx, c->a[0]))
        return -EBADF;
    if (c->a[0] == c->a[1])
        return (int64_t)c->a[1];
    return lx_fd_dup(c->lx, c->a[0], c->a[1], 0);
}

int64_t lx_sys_dup3(struct lx_call *c)
{
    if (c->a[2] & ~(uint64_t)O_CLOEXEC)
        return -EINVAL;
    if (c->a[0] == c->a[1])
        return -EINVAL;
    return lx_fd_dup(c->lx, c->a[0], c->a[1], (c->a[2] & O_CLOEXEC) ? 1 : 0);
}

int64_t lx_sys_fcntl(struct lx_call *c)
{
    struct zg_linux_file *f = lx_fd_get(c->lx, c->a[0]);
    if (!f)
        return -EBADF;
    struct zg_linux_fd *d = &c->lx->fd[c->a[0]];
    switch (c->a[1]) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
        int fd = lx_fd_alloc(c->lx, c->a[2]);
        return fd < 0 ? (c->a[2] >= LX_NFD ? -EINVAL : fd)
                      : lx_fd_dup(c->lx, c->a[0], (uint64_t)fd, c->a[1] == F_DUPFD_CLOEXEC);
    }
    case F_GETFD:
        return d->cloexec ? FD_CLOEXEC : 0;
    case F_SETFD:
        d->cloexec = (c->a[2] & FD_CLOEXEC) ? 1 : 0;
        return 0;
    case F_GETPIPE_SZ:
        return f->kind == ZG_LINUX_FD_PIPE_R || f->kind == ZG_LINUX_FD_PIPE_W ? LX_PIPE_BUF
                                                                              : -EBADF;
    case F_GETFL:
        return f->flags;
    case F_SETFL: /* only these may change, as on Linux */
        f->flags = (uint32_t)((f->flags & ~(uint64_t)(O_APPEND | O_NONBLOCK | O_ASYNC)) |
                              (c->a[2] & (O_APPEND | O_NONBLOCK | O_ASYNC)));
        return 0;
    default:
        return -EINVAL;
    }
}

/* ioctl: the requests any descriptor takes (FIONBIO, FIOCLEX, FIONCLEX,
 * FIONREAD of a pipe); anything else is a terminal's or a device's, and no
 * descriptor here is one: ENOTTY. */
int64_t lx_sys_ioctl(struct lx_call *c)
{
    struct zg_linux_file *f = lx_fd_get(c->lx, c->a[0]);
    if (!f)
        return -EBADF;
    switch (c->a[1]) {
    case FIONBIO: {
        const void *p = lx_uptr(c->in, c->a[2], 4);
        if (!p)
            return -EFAULT;
        int32_t on;
        memcpy(&on, p, 4);
        f->flags = on ? f->flags | O_NONBLOCK : f->flags & ~(uint32_t)O_NONBLOCK;
        return 0;
    }
    case FIOCLEX:
    case FIONCLEX:
        c->lx->fd[c->a[0]].cloexec = c->a[1] == FIOCLEX;
        return 0;
    case FIONREAD: {
        if (f->kind != ZG_LINUX_FD_PIPE_R)
            return -ENOTTY;
        void *p = lx_uwptr(c->in, c->a[2], 4);
        if (!p)
            return -EFAULT;
        int32_t n = f->ent < LX_NPIPE ? (int32_t)c->lx->pipe[f->ent].len : 0;
        memcpy(p, &n, 4);
        return 0;
    }
    default:
        return -ENOTTY;
    }
}

int64_t lx_sys_lseek(struct lx_call *c)
{
    struct zg_linux_file *f = lx_fd_get(c->lx, c->a[0]);
    if (!f)
        return -EBADF;
    if (c->a[2] > 4)
        return -EINVAL;
    const struct lx_fops *ops = lx_fops_of(f->kind);
    if (!seekable(f) || !ops->size)
        return -ESPIPE;
    int64_t size = ops->size(c, f);
    if (size < 0)
        return size;
    if (size == 0 && zg_linux_fd_device(f->kind))
        return 0; /* /dev files: always at 0 */
    int64_t off = (int64_t)c->a[1], base, to;
    switch (c->a[2]) {
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        if (f->pos > (uint64_t)INT64_MAX)
            return -EINVAL; /* cannot be (the kinds' checks bound it): never computed with */
        base = (int64_t)f->pos;
        break;
    case SEEK_END:
        base = size;
        break;
    case SEEK_DATA:
    case SEEK_HOLE:
        if (off < 0 || off >= size)
            return -ENXIO;
        return c->a[2] == SEEK_DATA ? off : size;
    default:
        return -EINVAL;
    }
    if (__builtin_add_overflow(base, off, &to) || to < 0)
        return -EINVAL;
    if (f->kind == ZG_LINUX_FD_DIR && to != 0)
        return -EINVAL; /* directories only rewind */
    f->pos = (uint64_t)to;
    return (int64_t)f->pos;
}

int64_t lx_sys_sendfile(struct lx_call *c)
{
    struct zg_linux_file *out = lx_fd_get(c->lx, c->a[0]), *in = lx_fd_get(c->lx, c->a[1]);
    if (!out || !in)
        return -EBADF;
    if (in->kind != ZG_LINUX_FD_FILE && in->kind != ZG_LINUX_FD_ZERO &&
        in->kind != ZG_LINUX_FD_NULL)
        return -EINVAL;
    uint64_t off = UINT64_MAX;
    uint64_t *offp = NULL;
    if (c->a[2]) {
        if (!(offp = lx_uwptr(c->in, c->a[2], 8)))
            return -EFAULT;
        memcpy(&off, offp, 8);
        if ((int64_t)off < 0)
            return -EINVAL;
    }
    uint64_t count = c->a[3] > ZG_IO_MAX ? ZG_IO_MAX : c->a[3];
    if (!count || in->kind == ZG_LINUX_FD_NULL)
        return 0;
    const uint8_t *src;
    uint64_t n;
    static const uint8_t zeros[4096];
    if (in->kind == ZG_LINUX_FD_ZERO) {
        src = zeros;
        n = count < sizeof(zeros) ? count : sizeof(zeros);
    } else {
        const struct lx_fv_ent *e = lx_fv_ent(c->in, in->ent);
        const uint8_t *data = e ? lx_fv_data(c->in, e) : NULL;
        if (!data)
            return -EIO;
        uint64_t pos = offp ? off : in->pos;
        if (pos >= e->size)
            return 0;
        src = data + pos;
        n = count < e->size - pos ? count : e->size - pos;
    }
    const struct lx_fops *ops = lx_fops_of(out->kind);
    if (!ops || !ops->write || (out->flags & O_ACCMODE) == O_RDONLY)
        return -EBADF; /* not open for writing (Linux: EBADF) */
    int64_t w = ops->write(c, out, src, n);
    if (w <= 0)
        return w;
    if (in->kind == ZG_LINUX_FD_FILE) {
        if (offp) {
            off += (uint64_t)w;
            memcpy(offp, &off, 8);
        } else {
            in->pos += (uint64_t)w;
        }
    }
    return w;
}

/* getdents64: the directory's entries after "." and "..", one per call slot. */
int64_t lx_sys_getdents64(struct lx_call *c)
{
    struct zg_linux_file *f = lx_fd_get(c->lx, c->a[0]);
    if (!f)
        return -EBADF;
    if (f->kind != ZG_LINUX_FD_DIR)
        return -ENOTDIR;
    const struct lx_fv_hdr *h = lx_fv(c->in);
    if (!h)
        return -EIO;
    uint64_t cap = c->a[2] > 65536 ? 65536 : c->a[2];
    uint8_t *out = cap ? lx_uwptr(c->in, c->a[1], cap) : NULL;
    if (!out)
        return cap ? -EFAULT : -EINVAL;
    uint64_t used = 0;
    /* pos: 0 ".", 1 "..", then 2 + the index of the next entry to look at. */
    while (f->pos < 2ull + h->nent) {
        const char *name;
        uint32_t ino;
        unsigned char type;
        if (f->pos < 2) {
            const struct lx_fv_ent *self = lx_fv_ent(c->in, f->ent);
            if (!self)
                return -EIO;
            name = f->pos ? ".." : ".";
            ino = f->pos ? self->parent : f->ent;
            type = 4; /* DT_DIR */
        } else {
            uint32_t i = (uint32_t)(f->pos - 2);
            const struct lx_fv_ent *e = lx_fv_ent(c->in, i);
            const char *path = e ? lx_fv_path(c->in, e) : NULL;
            if (!path)
                return -EIO;
            if (e->parent != f->ent || i == f->ent) {
                f->pos++;
                continue;
            }
            name = strrchr(path, '/') + 1; /* lx_fv_path: every path starts with '/' */
            ino = i;
            type = S_ISDIR(e->mode) ? 4 : S_ISLNK(e->mode) ? 10 : 8;
        }
        size_t nl = strlen(name);
        uint64_t reclen = (19 + nl + 1 + 7) & ~7ull;
        if (used + reclen > cap)
            break;
        uint64_t d_ino = 100u + ino, d_off = f->pos + 1;
        uint16_t rl = (uint16_t)reclen;
        memset(out + used, 0, reclen);
        memcpy(out + used, &d_ino, 8);
        memcpy(out + used + 8, &d_off, 8);
        memcpy(out + used + 16, &rl, 2);
        out[used + 18] = type;
        memcpy(out + used + 19, name, nl);
        used += reclen;
        f->pos++;
    }
    if (!used && f->pos < 2ull + h->nent)
        return -EINVAL; /* the buffer cannot hold one entry */
    return (int64_t)used;
}

/* ---- stat ------------------------------------------------------------------- */
void lx_stat_of_fd(struct zg_instance *in, const struct zg_linux_file *f, struct stat *st)
{
    struct lxv v = lx_view_of(in); /* lx_view's: the guest-side runtime gives the same */
    struct lxv_stat s;
    lxv_stat_of_fd(&v, f, (uint32_t)getuid(), (uint32_t)getgid(), &s);
    memcpy(st, &s, sizeof(*st));
}

int64_t lx_sys_fstat(struct lx_call *c)
{
    struct zg_linux_file *f = lx_fd_get(c->lx, c->a[0]);
    if (!f)
        return -EBADF;
    struct stat st, *out = lx_uwptr(c->in, c->a[1], sizeof(st));
    if (!out)
        return -EFAULT;
    lx_stat_of_fd(c->in, f, &st);
    memcpy(out, &st, sizeof(st));
    return 0;
}
