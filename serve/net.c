/* zerg serve: listening addresses, socket activation, fd passing. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "monitor/zg_monitor.h"
#include "serve/sv_int.h"

/* A decimal number from 0 to max into *out: 0, or -EINVAL. */
static int dec_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!*s || strlen(s) > 19)
        return -EINVAL;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > max)
        return -EINVAL;
    *out = v;
    return 0;
}
#include "monitor/zg_monitor.h"

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

static int listen_unix(const char *path, unsigned mode, int backlog, struct sv_listener *l,
                       char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!*path || strlen(path) >= sizeof(sa.sun_path))
        return zg_errf(err, errlen, -ENAMETOOLONG, "unix socket path '%s' is empty or too long",
                       path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    /* A socket file left by a server that died is replaced; anything else is not. */
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode))
            return zg_errf(err, errlen, -EEXIST, "%s exists and is not a socket", path);
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(probe);
            return zg_errf(err, errlen, -EADDRINUSE, "%s: another server is listening there", path);
        }
        if (probe >= 0)
            close(probe);
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return zg_errf(err, errlen, -errno, "socket: %s", strerror(errno));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int rc = -errno;
        close(fd);
        return zg_errf(err, errlen, rc, "cannot bind %s: %s", path, strerror(-rc));
    }
    if (mode && chmod(path, mode) < 0) {
        int rc = -errno;
        close(fd);
        unlink(path);
        return zg_errf(err, errlen, rc, "cannot chmod %s: %s", path, strerror(-rc));
    }
    if (listen(fd, backlog) < 0) {
        int rc = -errno;
        close(fd);
        unlink(path);
        return zg_errf(err, errlen, rc, "cannot listen on %s: %s", path, strerror(-rc));
    }
    l->fd = fd;
    snprintf(l->unlink, sizeof(l->unlink), "%s", path);
    return 0;
}

static int listen_tcp(const char *addr, int backlog, struct sv_listener *l, char *err,
                      size_t errlen)
{
    char host[256];
    const char *port;
    if (addr[0] == '[') {
        const char *close_br = strchr(addr, ']');
        if (!close_br || close_br[1] != ':' || (size_t)(close_br - addr - 1) >= sizeof(host))
            return zg_errf(err, errlen, -EINVAL, "'%s': expected [ADDRESS]:PORT", addr);
        memcpy(host, addr + 1, (size_t)(close_br - addr - 1));
        host[close_br - addr - 1] = '\0';
        port = close_br + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (!colon || (size_t)(colon - addr) >= sizeof(host))
            return zg_errf(err, errlen, -EINVAL,
                           "'%s': expected HOST:PORT, :PORT, unix:/PATH or fd:N", addr);
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
        port = colon + 1;
    }
    uint64_t pn;
    if (dec_u64(port, 65535, &pn) < 0)
        return zg_errf(err, errlen, -EINVAL, "'%s': '%s' is not a port number", addr, port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    int g = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (g != 0)
        return zg_errf(err, errlen, -EINVAL, "'%s': %s", addr, gai_strerror(g));
    int rc = -EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0) {
            l->fd = fd;
            l->is_tcp = 1;
            freeaddrinfo(res);
            return 0;
        }
        rc = -errno;
        close(fd);
    }
    freeaddrinfo(res);
    return zg_errf(err, errlen, rc, "cannot listen on %s: %s", addr, strerror(-rc));
}

int sv_listen(const char *addr, unsigned mode, int backlog, struct sv_listener *l, char *err,
              size_t errlen)
{
    l->fd = -1;
    l->unlink[0] = '\0';
    l->is_tcp = 0;
    if (!strncmp(addr, "unix:", 5))
        return listen_unix(addr + 5, mode, backlog, l, err, errlen);
    if (!strncmp(addr, "fd:", 3)) {
        uint64_t n;
        int type = 0;
        socklen_t tl = sizeof(type);
        if (dec_u64(addr + 3, 65535, &n) < 0)
            return zg_errf(err, errlen, -EINVAL, "'%s': expected fd:NUMBER", addr);
        int acc = 0;
        socklen_t al = sizeof(acc);
        if (getsockopt((int)n, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM ||
            getsockopt((int)n, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) < 0 || !acc)
            return zg_errf(err, errlen, -ENOTSOCK, "%s is not a listening stream socket", addr);
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname((int)n, (struct sockaddr *)&ss, &sl) == 0 &&
            (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
            l->is_tcp = 1;
        l->fd = (int)n;
        fcntl(l->fd, F_SETFD, FD_CLOEXEC);
        return set_nonblock(l->fd);
    }
    return listen_tcp(addr, backlog, l, err, errlen);
}

int sv_systemd_fds(const char **names, int max)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    uint64_t p, n;
    if (!pid || !fds || dec_u64(pid, 0x7fffffff, &p) < 0 || (pid_t)p != getpid() ||
        dec_u64(fds, 1024, &n) < 0)
        return 0;
    if ((int)n > max)
        n = (uint64_t)max;
    static char copy[4096];
    const char *fdnames = getenv("LISTEN_FDNAMES");
    snprintf(copy, sizeof(copy), "%s", fdnames ? fdnames : "");
    char *save = NULL, *tok = fdnames ? strtok_r(copy, ":", &save) : NULL;
    for (int i = 0; i < (int)n; i++) {
        names[i] = tok;
        if (tok)
            tok = strtok_r(NULL, ":", &save);
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return (int)n;
}

int sv_send_job(int sock, const struct sv_job *job, int fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct iovec iov = {.iov_base = (void *)job, .iov_len = sizeof(*job)};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    if (fd >= 0) {
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    } else {
        m.msg_control = NULL, m.msg_controllen = 0;
    }
    for (;;) {
        ssize_t n = sendmsg(sock, &m, MSG_NOSIGNAL);
        if (n == (ssize_t)sizeof(*job))
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? -errno : -EIO;
    }
}

int sv_recv_job(int sock, struct sv_job *job, int *fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = job, .iov_len = sizeof(*job)};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    *fd = -1;
    ssize_t n;
    do
        n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return -EPIPE;
    if (n < 0)
        return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(fd, CMSG_DATA(c), sizeof(int));
    if (n != (ssize_t)sizeof(*job) || (m.msg_flags & MSG_TRUNC) ||
        (*fd >= 0 && (m.msg_flags & MSG_CTRUNC))) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return -EPROTO;
    }
    if (job->tmpl == SV_JOB_ACCEPT) { /* a grant: never with a descriptor */
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return job->reserved == 0 ? 0 : -EPROTO;
    }
    if (*fd < 0)
        return -EBADF; /* the job, without its connection */
    return 0;
}

void sv_reset_close(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

void sv_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || (path[0] != '/' && path[0] != '@'))
        return;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len >= sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, path, len);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    close(fd);
}
