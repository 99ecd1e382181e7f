/* Linux personality: the open-file table and the kinds of open file.
 *
 * A descriptor names an open file (linux_abi.h): dup'd descriptors share
 * one, with its position and status flags, as on Linux. Each kind of open
 * file is one ops table here (struct lx_fops, lx_int.h): the calls reach a
 * kind only through it, so a new kind is a new table, not a case in every
 * call. The request and response streams, the console, the devices, the
 * view's files and directories, sockets and epoll instances are the kinds
 * so far. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>

#include "linux/lx_int.h"

/* ---- The table ------------------------------------------------------------------ */
struct zg_linux_file *lx_fd_get(struct lx_state *lx, uint64_t fd)
{
    if (fd >= LX_NFD || !lx->fd[fd].file || lx->fd[fd].file > LX_NFILE)
        return NULL;
    struct zg_linux_file *f = &lx->file[lx->fd[fd].file - 1];
    return f->kind != ZG_LINUX_FD_FREE ? f : NULL;
}

int lx_fd_alloc(struct lx_state *lx, uint64_t from)
{
    for (uint64_t i = from; i < LX_NFD; i++)
        if (!lx->fd[i].file)
            return (int)i;
    return -EMFILE;
}

unsigned lx_file_refs(const struct lx_state *lx, unsigned i)
{
    unsigned n = 0;
    for (unsigned d = 0; d < LX_NFD; d++)
        n += lx->fd[d].file == i + 1;
    return n;
}

int64_t lx_fd_install(struct lx_state *lx, const struct zg_linux_file *f, int cloexec)
{
    int fd = lx_fd_alloc(lx, 0);
    if (fd < 0)
        return fd;
    for (unsigned i = 0; i < LX_NFILE; i++) {
        if (lx->file[i].kind != ZG_LINUX_FD_FREE)
            continue;
        lx->file[i] = *f;
        lx->fd[fd] = (struct zg_linux_fd){.file = (uint16_t)(i + 1), .cloexec = cloexec != 0};
        return fd;
    }
    return -ENFILE; /* cannot be while there are as many files as descriptors */
}

int lx_fd_close(struct lx_state *lx, uint64_t fd)
{
    if (!lx_fd_get(lx, fd))
        return -EBADF;
    unsigned i = lx->fd[fd].file - 1u;
    lx->fd[fd] = (struct zg_linux_fd){0};
    lx_epoll_forget(lx, (int)fd);
    if (!lx_file_refs(lx, i)) {
        const struct lx_fops *ops = lx_fops_of(lx->file[i].kind);
        if (ops && ops->release)
            ops->release(lx, &lx->file[i]);
        lx->file[i] = (struct zg_linux_file){0};
    }
    return 0;
}

int64_t lx_fd_dup(struct lx_state *lx, uint64_t from, uint64_t to, int cloexec)
{
    if (!lx_fd_get(lx, from) || to >= LX_NFD)
        return -EBADF;
    uint16_t file = lx->fd[from].file;
    if (to != from && lx->fd[to].file) {
        /* the file stays named by `from` while `to`'s old one is closed */
        (void)lx_fd_close(lx, to);
    }
    lx->fd[to] = (struct zg_linux_fd){.file = file, .cloexec = cloexec != 0};
    return (int64_t)to;
}

int lx_file_sound(const struct lx_state *lx, const struct zg_linux_file *f, const struct lxv *v)
{
    const struct lx_fops *ops = lx_fops_of(f->kind);
    return ops && !(f->flags & ~LX_O_KEPT) && (f->flags & O_ACCMODE) != 3u && !f->pad &&
           (!ops->check || ops->check(lx, f, v));
}

int lx_files_ok(const struct lx_state *lx, const struct lxv *v, const char **why)
{
    for (unsigned d = 0; d < LX_NFD; d++) {
        unsigned i = lx->fd[d].file;
        if (i && (i > LX_NFILE || lx->file[i - 1].kind == ZG_LINUX_FD_FREE)) {
            *why = "descriptor table";
            return 0;
        }
        if (lx->fd[d].cloexec > 1 || lx->fd[d].pad) {
            *why = "descriptor table";
            return 0;
        }
    }
    for (unsigned i = 0; i < LX_NFILE; i++) {
        const struct zg_linux_file *f = &lx->file[i];
        if (f->kind == ZG_LINUX_FD_FREE) {
            static const struct zg_linux_file none;
            if (memcmp(f, &none, sizeof(*f))) {
                *why = "open-file table";
                return 0;
            }
            continue;
        }
        if (!lx_file_sound(lx, f, v) || !lx_file_refs(lx, i)) {
            *why = "open-file table";
            return 0;
        }
    }
    return 1;
}

/* ---- The request and response streams, the console ------------------------------- */
static int64_t stream_read(struct lx_call *c, struct zg_linux_file *f, uint8_t *buf, uint64_t len,
                           uint64_t *pos)
{
    (void)f, (void)pos;
    return zg_io_recv_now(c->in, buf, len);
}

static int64_t stream_write(struct lx_call *c, struct zg_linux_file *f, const uint8_t *buf,
                            uint64_t len)
{
    (void)f;
    return zg_io_send(c->in, buf, len);
}

static unsigned stream_ready(struct lx_call *c, const struct zg_linux_file *f)
{
    if (f->kind == ZG_LINUX_FD_STDOUT)
        return POLLOUT;
    unsigned out = f->kind == ZG_LINUX_FD_CONN ? POLLOUT : 0;
    if (c->in->cfg.in_fd < 0)
        return out | POLLIN; /* no stream: end of file at once */
    struct pollfd p = {.fd = c->in->cfg.in_fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0)
        return out;
    return out | ((p.revents & (POLLIN | POLLHUP | POLLERR)) ? POLLIN : 0);
}

static int stream_watch(struct lx_call *c, const struct zg_linux_file *f, short *events)
{
    (void)f;
    *events = POLLIN;
    return c->in->cfg.in_fd;
}

static int64_t console_write(struct lx_call *c, struct zg_linux_file *f, const uint8_t *buf,
                             uint64_t len)
{
    (void)f;
    return zg_console_write(c->in, buf, len);
}

static unsigned out_ready(struct lx_call *c, const struct zg_linux_file *f)
{
    (void)c, (void)f;
    return POLLOUT;
}

/* The streams have no position, entry or socket state. */
static int stream_check(const struct lx_state *lx, const struct zg_linux_file *f,
                        const struct lxv *v)
{
    (void)lx, (void)v;
    return !f->pos && !f->ent && !f->port && !f->sock;
}

static const struct lx_fops stdin_ops = {
    .name = "request stream",
    .read = stream_read,
    .ready = stream_ready,
    .watch = stream_watch,
    .check = stream_check,
};
static const struct lx_fops stdout_ops = {
    .name = "response stream",
    .write = stream_write,
    .ready = stream_ready,
    .check = stream_check,
};
static const struct lx_fops console_ops = {
    .name = "console",
    .write = console_write,
    .ready = out_ready,
    .check = stream_check,
};

/* ---- The devices: /dev/null, /dev/zero, /dev/(u)random ---------------------------- */
static int64_t null_read(struct lx_call *c, struct zg_linux_file *f, uint8_t *buf, uint64_t len,
                         uint64_t *pos)
{
    (void)c, (void)f, (void)buf, (void)len, (void)pos;
    return 0;
}

static int64_t zero_read(struct lx_call *c, struct zg_linux_file *f, uint8_t *buf, uint64_t len,
                         uint64_t *pos)
{
    (void)c, (void)f, (void)pos;
    memset(buf, 0, len);
    return (int64_t)len;
}

static int64_t random_read(struct lx_call *c, struct zg_linux_file *f, uint8_t *buf, uint64_t len,
                           uint64_t *pos)
{
    (void)c, (void)f, (void)pos;
    return zg_fill_random(buf, len) < 0 ? -EIO : (int64_t)len;
}

static int64_t sink_write(struct lx_call *c, struct zg_linux_file *f, const uint8_t *buf,
                          uint64_t len)
{
    (void)c, (void)f, (void)buf;
    return (int64_t)len; /* the bytes are never looked at */
}

static int64_t dev_size(struct lx_call *c, const struct zg_linux_file *f)
{
    (void)c, (void)f;
    return 0; /* /dev files: always at 0 */
}

static int dev_check(const struct lx_state *lx, const struct zg_linux_file *f, const struct lxv *v)
{
    (void)lx, (void)v;
    int d = lxv_dev_of_minor(f->ent);
    return d >= 0 && lxv_devices[d].kind == f->kind && f->pos == 0 && !f->port && !f->sock;
}

#define DEVICE(nm, rd)                                                                             \
    {                                                                                              \
        .name = nm, .flags = LX_FOP_SEEK, .read = rd, .write = sink_write, .size = dev_size,       \
        .check = dev_check,                                                                        \
    }
static const struct lx_fops null_ops = DEVICE("/dev/null", null_read);
static const struct lx_fops zero_ops = DEVICE("/dev/zero", zero_read);
static const struct lx_fops random_ops = DEVICE("/dev/urandom", random_read);

/* ---- Files and directories of the view ------------------------------------------------ */
static int64_t file_read(struct lx_call *c, struct zg_linux_file *f, uint8_t *buf, uint64_t len,
                         uint64_t *pos)
{
    const struct lx_fv_ent *e = lx_fv_ent(c->in, f->ent);
    const uint8_t *data = e ? lx_fv_data(c->in, e) : NULL;
    if (!data)
        return -EIO;
    uint64_t n = *pos >= e->size ? 0 : (len < e->size - *pos ? len : e->size - *pos);
    memcpy(buf, data + *pos, (size_t)n);
    *pos += n;
    return (int64_t)n;
}

static int64_t dir_read(struct lx_call *c, struct zg_linux_file *f, uint8_t *buf, uint64_t len,
                        uint64_t *pos)
{
    (void)c, (void)f, (void)buf, (void)len, (void)pos;
    return -EISDIR;
}

static int64_t view_size(struct lx_call *c, const struct zg_linux_file *f)
{
    const struct lx_fv_ent *e = lx_fv_ent(c->in, f->ent);
    return e ? (int64_t)e->size : -EIO;
}

/* A file of the view: an entry of that type; read-only; a position lseek
 * can make (at most INT64_MAX, Linux's loff_t). A directory's position is
 * at most its last entry plus "." and ".." (getdents64's count). */
static int view_check(const struct lx_state *lx, const struct zg_linux_file *f, const struct lxv *v)
{
    (void)lx;
    const struct lx_fv_ent *e = lxv_ent(v, f->ent);
    unsigned want = f->kind == ZG_LINUX_FD_FILE ? LXV_S_IFREG : LXV_S_IFDIR;
    if (!e || (e->mode & LXV_S_IFMT) != want || (f->flags & O_ACCMODE) != O_RDONLY || f->port ||
        f->sock)
        return 0;
    if (f->kind == ZG_LINUX_FD_FILE)
        return f->pos <= (uint64_t)INT64_MAX;
    const struct lx_fv_hdr *h = lxv_hdr(v);
    return h && f->pos <= 2ull + h->nent;
}

static const struct lx_fops file_ops = {
    .name = "file",
    .flags = LX_FOP_SEEK | LX_FOP_NOPOLL,
    .read = file_read,
    .size = view_size,
    .check = view_check,
};
static const struct lx_fops dir_ops = {
    .name = "directory",
    .flags = LX_FOP_SEEK | LX_FOP_NOPOLL,
    .read = dir_read,
    .size = view_size,
    .check = view_check,
};

/* ---- Sockets (sys_net.c serves their calls) ----------------------------------------- */
static int64_t sock_read(struct lx_call *c, struct zg_linux_file *f, uint8_t *buf, uint64_t len,
                         uint64_t *pos)
{
    (void)c, (void)f, (void)buf, (void)len, (void)pos;
    return -ENOTCONN;
}

static int64_t sock_write(struct lx_call *c, struct zg_linux_file *f, const uint8_t *buf,
                          uint64_t len)
{
    (void)c, (void)f, (void)buf, (void)len;
    return -ENOTCONN;
}

/* Listening: readable while its one connection waits to be accepted. */
static unsigned sock_ready(struct lx_call *c, const struct zg_linux_file *f)
{
    return (f->sock & LX_SOCK_LISTENING) && !c->lx->accepted && c->in->cfg.in_fd >= 0 ? POLLIN : 0;
}

static int sock_check(const struct lx_state *lx, const struct zg_linux_file *f, const struct lxv *v)
{
    (void)lx, (void)v;
    return !(f->sock & ~(LX_SOCK_BOUND | LX_SOCK_LISTENING | LX_SOCK_INET6)) && !f->pos && !f->ent;
}

static int conn_check(const struct lx_state *lx, const struct zg_linux_file *f, const struct lxv *v)
{
    (void)v;
    return lx->accepted && !(f->sock & ~LX_SOCK_INET6) && !f->pos && !f->ent;
}

static const struct lx_fops sock_ops = {
    .name = "socket",
    .read = sock_read,
    .write = sock_write,
    .ready = sock_ready,
    .check = sock_check,
};
static const struct lx_fops conn_ops = {
    .name = "connection",
    .read = stream_read,
    .write = stream_write,
    .ready = stream_ready,
    .watch = stream_watch,
    .check = conn_check,
};

/* ---- epoll instances (sys_poll.c serves their calls) -------------------------------- */
static unsigned epoll_ready(struct lx_call *c, const struct zg_linux_file *f)
{
    (void)c, (void)f;
    return 0; /* an epoll descriptor in a poll set: not modelled, never ready */
}

static void epoll_release(struct lx_state *lx, struct zg_linux_file *f)
{
    if (f->ent < LX_NEPOLL)
        lx->epoll[f->ent].used = 0;
}

static int epoll_check(const struct lx_state *lx, const struct zg_linux_file *f,
                       const struct lxv *v)
{
    (void)v;
    if (f->ent >= LX_NEPOLL || !lx->epoll[f->ent].used || f->pos || f->port || f->sock)
        return 0;
    for (unsigned i = 0; i < LX_NFILE; i++) /* one open file per instance */
        if (&lx->file[i] != f && lx->file[i].kind == ZG_LINUX_FD_EPOLL && lx->file[i].ent == f->ent)
            return 0;
    return 1;
}

static const struct lx_fops epoll_ops = {
    .name = "epoll",
    .ready = epoll_ready,
    .release = epoll_release,
    .check = epoll_check,
};

static const struct lx_fops *const kinds[ZG_LINUX_FD_KIND_MAX + 1] = {
    [ZG_LINUX_FD_STDIN] = &stdin_ops,      [ZG_LINUX_FD_STDOUT] = &stdout_ops,
    [ZG_LINUX_FD_CONSOLE] = &console_ops,  [ZG_LINUX_FD_NULL] = &null_ops,
    [ZG_LINUX_FD_ZERO] = &zero_ops,        [ZG_LINUX_FD_RANDOM] = &random_ops,
    [ZG_LINUX_FD_FILE] = &file_ops,        [ZG_LINUX_FD_DIR] = &dir_ops,
    [ZG_LINUX_FD_SOCK] = &sock_ops,        [ZG_LINUX_FD_CONN] = &conn_ops,
    [ZG_LINUX_FD_EPOLL] = &epoll_ops,      [ZG_LINUX_FD_PIPE_R] = &lx_pipe_r_ops,
    [ZG_LINUX_FD_PIPE_W] = &lx_pipe_w_ops, [ZG_LINUX_FD_EVENTFD] = &lx_eventfd_ops,
};

const struct lx_fops *lx_fops_of(unsigned kind)
{
    return kind <= ZG_LINUX_FD_KIND_MAX ? kinds[kind] : NULL;
}
