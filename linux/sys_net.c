/* Linux personality: sockets. The server model: a program makes a TCP
 * listening socket on whatever port it likes (socket/bind/listen: nothing
 * happens on the host); its first accept returns the instance's one
 * connection -- the request stream to read, the response stream to write --
 * and when it waits for another (accept, or poll on the listening socket),
 * the instance is over. In the stdio model the streams are not sockets to
 * the program (ENOTSOCK, as under inetd with pipes). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "linux/lx_int.h"

#define PEER_PORT 40000 /* the connection's peer, as the program sees it */

static struct zg_linux_file *sock_of(struct lx_call *c, uint64_t fd, int64_t *err)
{
    struct zg_linux_file *f = lx_fd_get(c->lx, fd);
    *err = !f                                                             ? -EBADF
           : (f->kind != ZG_LINUX_FD_SOCK && f->kind != ZG_LINUX_FD_CONN) ? -ENOTSOCK
                                                                          : 0;
    return *err ? NULL : f;
}

int64_t lx_sys_socket(struct lx_call *c)
{
    uint64_t domain = c->a[0], type = c->a[1] & 0xf, flags = c->a[1] & ~0xfull;
    if (domain != AF_INET && domain != AF_INET6)
        return -EAFNOSUPPORT; /* no unix or netlink sockets to be had */
    if (type != SOCK_STREAM)
        return -EPROTONOSUPPORT; /* TCP only: the connection is a stream */
    if (flags & ~(uint64_t)(SOCK_CLOEXEC | SOCK_NONBLOCK))
        return -EINVAL;
    if (c->a[2] != 0 && c->a[2] != IPPROTO_TCP)
        return -EPROTONOSUPPORT;
    struct zg_linux_file f = {.kind = ZG_LINUX_FD_SOCK,
                              .flags = O_RDWR | ((flags & SOCK_NONBLOCK) ? O_NONBLOCK : 0),
                              .sock = domain == AF_INET6 ? LX_SOCK_INET6 : 0};
    return lx_fd_install(c->lx, &f, (flags & SOCK_CLOEXEC) != 0);
}

int64_t lx_sys_bind(struct lx_call *c)
{
    int64_t err;
    struct zg_linux_file *f = sock_of(c, c->a[0], &err);
    if (!f)
        return err;
    if (f->kind != ZG_LINUX_FD_SOCK || (f->sock & LX_SOCK_BOUND))
        return -EINVAL;
    uint64_t need = (f->sock & LX_SOCK_INET6) ? 24 : 16;
    if (c->a[2] < need)
        return -EINVAL;
    const uint8_t *a = lx_uptr(c->in, c->a[1], need);
    if (!a)
        return -EFAULT;
    uint16_t family;
    memcpy(&family, a, 2);
    if (family != ((f->sock & LX_SOCK_INET6) ? AF_INET6 : AF_INET))
        return -EAFNOSUPPORT;
    f->port = (uint16_t)(a[2] << 8 | a[3]);
    if (!f->port)
        f->port = 8080; /* "any port": one is as good as another */
    f->sock |= LX_SOCK_BOUND;
    return 0;
}

int64_t lx_sys_listen(struct lx_call *c)
{
    int64_t err;
    struct zg_linux_file *f = sock_of(c, c->a[0], &err);
    if (!f)
        return err;
    if (f->kind != ZG_LINUX_FD_SOCK)
        return -EINVAL;
    if (!(f->sock & LX_SOCK_BOUND))
        f->port = 8080, f->sock |= LX_SOCK_BOUND; /* Linux binds an ephemeral port */
    f->sock |= LX_SOCK_LISTENING;
    return 0;
}

/* Writes a sockaddr_in(6) of 127.0.0.1 (::1) : port into (va, lenp). */
static int64_t put_addr(struct lx_call *c, int inet6, uint16_t port, uint64_t va, uint64_t lenp_va)
{
    if (!va)
        return 0;
    uint32_t *lenp = lx_uwptr(c->in, lenp_va, 4);
    if (!lenp)
        return -EFAULT;
    uint8_t sa[28] = {0};
    uint32_t full = inet6 ? 28 : 16;
    uint16_t fam = inet6 ? AF_INET6 : AF_INET;
    memcpy(sa, &fam, 2);
    sa[2] = (uint8_t)(port >> 8), sa[3] = (uint8_t)port;
    if (inet6)
        sa[23] = 1; /* ::1 */
    else
        sa[4] = 127, sa[7] = 1;
    uint32_t n = *lenp < full ? *lenp : full;
    if ((int32_t)*lenp < 0)
        return -EINVAL;
    if (n) {
        uint8_t *out = lx_uwptr(c->in, va, n);
        if (!out)
            return -EFAULT;
        memcpy(out, sa, n);
    }
    *lenp = full;
    return 0;
}

int lx_conn_over(struct lx_call *c)
{
    if (!c->lx->accepted)
        return 0;
    c->res->end = ZG_END_EXIT;
    c->res->status = 0;
    c->stop = 1;
    return 1;
}

int lx_is_first_wait(struct lx_call *c)
{
    if (c->lx->accepted)
        return 0;
    if (c->nr == __NR_accept || c->nr == __NR_accept4) {
        const struct zg_linux_file *f = lx_fd_get(c->lx, c->a[0]);
        return f && f->kind == ZG_LINUX_FD_SOCK && (f->sock & LX_SOCK_LISTENING);
    }
    const struct zg_linux_file *e = lx_fd_get(c->lx, c->a[0]);
    if ((c->nr == __NR_epoll_wait || c->nr == __NR_epoll_pwait) && e &&
        e->kind == ZG_LINUX_FD_EPOLL && e->ent < LX_NEPOLL) {
        const struct lx_epoll *ep = &c->lx->epoll[e->ent];
        for (unsigned i = 0; i < LX_NEPOLLFD; i++) {
            const struct zg_linux_file *f =
                ep->reg[i].fd >= 0 ? lx_fd_get(c->lx, (uint64_t)ep->reg[i].fd) : NULL;
            if (f && f->kind == ZG_LINUX_FD_SOCK && (f->sock & LX_SOCK_LISTENING))
                return 1;
        }
    }
    if (c->nr == __NR_poll || c->nr == __NR_ppoll) {
        uint64_t n = c->a[1];
        const struct pollfd *p = n && n <= 64 ? lx_uptr(c->in, c->a[0], n * sizeof(*p)) : NULL;
        for (uint64_t i = 0; p && i < n; i++) {
            const struct zg_linux_file *f =
                p[i].fd >= 0 ? lx_fd_get(c->lx, (uint64_t)p[i].fd) : NULL;
            if (f && f->kind == ZG_LINUX_FD_SOCK && (f->sock & LX_SOCK_LISTENING))
                return 1;
        }
    }
    return 0;
}

static int64_t do_accept(struct lx_call *c, uint64_t flags)
{
    int64_t err;
    struct zg_linux_file *f = sock_of(c, c->a[0], &err);
    if (!f)
        return err;
    if (f->kind != ZG_LINUX_FD_SOCK || !(f->sock & LX_SOCK_LISTENING))
        return -EINVAL;
    if (flags & ~(uint64_t)(SOCK_CLOEXEC | SOCK_NONBLOCK))
        return -EINVAL;
    if (c->lx->accepted && lx_conn_open(c->lx)) {
        /* A second accept while the connection is being served (a server
         * that accepts again at once, as Go's): none is there yet; the
         * call waits for the connection to be closed, then ends the
         * instance, as one in poll does. */
        if (f->flags & O_NONBLOCK)
            return -EAGAIN;
        return LX_BLOCK; /* served again when no thread can run */
    }
    if (lx_conn_over(c))
        return 0; /* a second connection: there is none, the instance ends */
    int fd = lx_fd_alloc(c->lx, 0);
    if (fd < 0)
        return fd;
    int64_t rc = put_addr(c, (f->sock & LX_SOCK_INET6) != 0, PEER_PORT, c->a[1], c->a[2]);
    if (rc < 0)
        return rc;
    c->lx->accepted = 1;
    struct zg_linux_file conn = {.kind = ZG_LINUX_FD_CONN,
                                 .flags = O_RDWR | ((flags & SOCK_NONBLOCK) ? O_NONBLOCK : 0),
                                 .port = f->port,
                                 .sock = f->sock & LX_SOCK_INET6};
    return lx_fd_install(c->lx, &conn, (flags & SOCK_CLOEXEC) != 0);
}

int64_t lx_sys_accept(struct lx_call *c)
{
    return do_accept(c, 0);
}

int64_t lx_sys_accept4(struct lx_call *c)
{
    return do_accept(c, c->a[3]);
}

int64_t lx_sys_connect(struct lx_call *c)
{
    int64_t err;
    return sock_of(c, c->a[0], &err) ? -ECONNREFUSED : err; /* no network out of an instance */
}

int64_t lx_sys_getsockname(struct lx_call *c)
{
    int64_t err;
    struct zg_linux_file *f = sock_of(c, c->a[0], &err);
    return f ? put_addr(c, (f->sock & LX_SOCK_INET6) != 0, f->port, c->a[1], c->a[2]) : err;
}

int64_t lx_sys_getpeername(struct lx_call *c)
{
    int64_t err;
    struct zg_linux_file *f = sock_of(c, c->a[0], &err);
    if (!f)
        return err;
    if (f->kind != ZG_LINUX_FD_CONN)
        return -ENOTCONN;
    return put_addr(c, (f->sock & LX_SOCK_INET6) != 0, PEER_PORT, c->a[1], c->a[2]);
}

int64_t lx_sys_shutdown(struct lx_call *c)
{
    int64_t err;
    struct zg_linux_file *f = sock_of(c, c->a[0], &err);
    if (!f)
        return err;
    if (c->a[1] > SHUT_RDWR)
        return -EINVAL;
    if (f->kind != ZG_LINUX_FD_CONN)
        return -ENOTCONN;
    if (c->a[1] == SHUT_WR || c->a[1] == SHUT_RDWR) {
        c->lx->out_shut = 1; /* later writes reach the monitor, and fail */
        if (c->in->cfg.out_fd >= 0)
            shutdown(c->in->cfg.out_fd, SHUT_WR); /* the client sees the end (a pipe: no-op) */
    }
    return 0;
}

int64_t lx_sys_setsockopt(struct lx_call *c)
{
    int64_t err;
    if (!sock_of(c, c->a[0], &err))
        return err;
    if (c->a[4] && !lx_uptr(c->in, c->a[3], c->a[4] > 256 ? 256 : c->a[4]))
        return -EFAULT;
    return 0; /* options change nothing an instance can observe */
}

int64_t lx_sys_getsockopt(struct lx_call *c)
{
    int64_t err;
    if (!sock_of(c, c->a[0], &err))
        return err;
    uint32_t *lenp = lx_uwptr(c->in, c->a[4], 4);
    if (!lenp)
        return -EFAULT;
    if (*lenp < 4)
        return -EINVAL;
    int32_t *v = lx_uwptr(c->in, c->a[3], 4);
    if (!v)
        return -EFAULT;
    *v = (c->a[1] == SOL_SOCKET && c->a[2] == SO_TYPE) ? SOCK_STREAM : 0; /* SO_ERROR: none */
    *lenp = 4;
    return 0;
}

int64_t lx_sys_recvfrom(struct lx_call *c)
{
    int64_t err;
    struct zg_linux_file *f = sock_of(c, c->a[0], &err);
    if (!f)
        return err;
    if (c->a[3] & MSG_PEEK)
        return -EOPNOTSUPP;
    int64_t n = lx_read(c, f, c->a[1], c->a[2], UINT64_MAX);
    if (n >= 0 && c->a[4] && f->kind == ZG_LINUX_FD_CONN) {
        int64_t rc = put_addr(c, (f->sock & LX_SOCK_INET6) != 0, PEER_PORT, c->a[4], c->a[5]);
        if (rc < 0)
            return rc;
    }
    return n;
}

int64_t lx_sys_sendto(struct lx_call *c)
{
    int64_t err;
    struct zg_linux_file *f = sock_of(c, c->a[0], &err);
    if (!f)
        return err;
    return lx_write(c, f, c->a[1], c->a[2]); /* the address, if any, is the connection's own */
}

/* recvmsg/sendmsg: the iovec of a struct msghdr; no names, no control data. */
static int64_t do_msg(struct lx_call *c, int writing)
{
    int64_t err;
    if (!sock_of(c, c->a[0], &err))
        return err;
    const uint64_t *m = lx_uptr(c->in, c->a[1], 56);
    if (!m)
        return -EFAULT;
    uint64_t iov = m[2], iovlen = m[3];
    int64_t n = lx_vec(c, c->a[0], iov, iovlen, writing);
    if (n >= 0 && !writing) {
        uint64_t *mw = lx_uwptr(c->in, c->a[1], 56);
        if (!mw)
            return -EFAULT;
        mw[1] &= ~0xffffffffull; /* msg_namelen = 0 */
        mw[5] = 0;               /* msg_controllen */
        mw[6] &= ~0xffffffffull; /* msg_flags */
    }
    return n;
}

int64_t lx_sys_recvmsg(struct lx_call *c)
{
    return do_msg(c, 0);
}

int64_t lx_sys_sendmsg(struct lx_call *c)
{
    return do_msg(c, 1);
}
