/* Linux personality: descriptors and files. fd 0 reads the request stream,
 * fd 1 writes the response, fd 2 is zerg's console; /dev/null, /dev/zero and
 * /dev/urandom can be opened. No host file is reachable. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "linux/lx_int.h"

#define IOV_MAX_LX 1024

static struct lx_fd *fd_get(struct lx_state *lx, uint64_t fd)
{
    return fd < LX_NFD && lx->fd[fd].kind != LX_FD_FREE ? &lx->fd[fd] : NULL;
}

static int fd_alloc(struct lx_state *lx, uint64_t from)
{
    for (uint64_t i = from; i < LX_NFD; i++)
        if (lx->fd[i].kind == LX_FD_FREE)
            return (int)i;
    return -EMFILE;
}

/* Records the program's [va, va+len) as written by the host. */
static void umark(struct zg_instance *in, uint64_t va, uint64_t len)
{
    if (len)
        (void)lx_uwptr(in, va, len);
}

/* ---- Reading and writing ------------------------------------------------------ */
static int64_t do_read(struct lx_call *c, struct lx_fd *f, uint64_t va, uint64_t len)
{
    if (!len)
        return 0;
    if (len > ZG_IO_MAX)
        len = ZG_IO_MAX; /* a short read, as Linux may give */
    uint8_t *buf = lx_uptr(c->in, va, len);
    if (!buf)
        return -EFAULT;
    int64_t n;
    switch (f->kind) {
    case LX_FD_STDIN:
        n = zg_io_recv(c->in, buf, len);
        break;
    case LX_FD_NULL:
        return 0;
    case LX_FD_ZERO:
        memset(buf, 0, len);
        n = (int64_t)len;
        break;
    case LX_FD_RANDOM:
        n = zg_fill_random(buf, len) < 0 ? -EIO : (int64_t)len;
        break;
    default:
        return -EBADF; /* opened for writing */
    }
    if (n > 0)
        umark(c->in, va, (uint64_t)n);
    return n;
}

static int64_t do_write(struct lx_call *c, struct lx_fd *f, uint64_t va, uint64_t len)
{
    if (!len)
        return 0;
    if (f->kind == LX_FD_NULL || f->kind == LX_FD_ZERO || f->kind == LX_FD_RANDOM)
        return (int64_t)len; /* as Linux: the bytes are never looked at */
    if (len > ZG_IO_MAX)
        len = ZG_IO_MAX;
    const uint8_t *buf = lx_uptr(c->in, va, len);
    if (!buf)
        return -EFAULT;
    struct zg_instance *in = c->in;
    switch (f->kind) {
    case LX_FD_STDOUT:
        return zg_io_send(in, buf, len);
    case LX_FD_CONSOLE:
        if (in->cfg.console_fd >= 0 && in->console_bytes < ZG_CONSOLE_CAP) {
            uint64_t n = len;
            if (n > ZG_CONSOLE_CAP - in->console_bytes)
                n = ZG_CONSOLE_CAP - in->console_bytes;
            ssize_t w = write(in->cfg.console_fd, buf, n);
            (void)w; /* the console is best effort */
        }
        in->console_bytes += len;
        return (int64_t)len;
    default:
        return -EBADF; /* opened for reading */
    }
}

int64_t lx_sys_read(struct lx_call *c)
{
    struct lx_fd *f = fd_get(c->lx, c->a[0]);
    return f ? do_read(c, f, c->a[1], c->a[2]) : -EBADF;
}

int64_t lx_sys_write(struct lx_call *c)
{
    struct lx_fd *f = fd_get(c->lx, c->a[0]);
    return f ? do_write(c, f, c->a[1], c->a[2]) : -EBADF;
}

static int is_stream(const struct lx_fd *f)
{
    return f->kind == LX_FD_STDIN || f->kind == LX_FD_STDOUT || f->kind == LX_FD_CONSOLE;
}

int64_t lx_sys_pread64(struct lx_call *c)
{
    struct lx_fd *f = fd_get(c->lx, c->a[0]);
    if (!f)
        return -EBADF;
    if (is_stream(f))
        return -ESPIPE;
    return (int64_t)c->a[3] < 0 ? -EINVAL : do_read(c, f, c->a[1], c->a[2]);
}

int64_t lx_sys_pwrite64(struct lx_call *c)
{
    struct lx_fd *f = fd_get(c->lx, c->a[0]);
    if (!f)
        return -EBADF;
    if (is_stream(f))
        return -ESPIPE;
    return (int64_t)c->a[3] < 0 ? -EINVAL : do_write(c, f, c->a[1], c->a[2]);
}

/* readv/writev: one iovec at a time; a short transfer ends the call. */
static int64_t do_vec(struct lx_call *c, int writing)
{
    struct lx_fd *f = fd_get(c->lx, c->a[0]);
    if (!f)
        return -EBADF;
    uint64_t cnt = c->a[2];
    if (cnt > IOV_MAX_LX)
        return -EINVAL;
    if (!cnt)
        return 0;
    const uint64_t *iov = lx_uptr(c->in, c->a[1], cnt * 16);
    if (!iov)
        return -EFAULT;
    int64_t total = 0;
    for (uint64_t i = 0; i < cnt; i++) {
        uint64_t base, len;
        memcpy(&base, &iov[2 * i], 8);
        memcpy(&len, &iov[2 * i + 1], 8);
        if ((int64_t)len < 0)
            return total ? total : -EINVAL;
        int64_t n = writing ? do_write(c, f, base, len) : do_read(c, f, base, len);
        if (n < 0)
            return total ? total : n;
        total += n;
        if ((uint64_t)n < len)
            break;
    }
    return total;
}

int64_t lx_sys_readv(struct lx_call *c)
{
    return do_vec(c, 0);
}

int64_t lx_sys_writev(struct lx_call *c)
{
    return do_vec(c, 1);
}

/* ---- Names ------------------------------------------------------------------ */
static const struct {
    const char *path;
    enum lx_fd_kind kind;
    unsigned minor;
} devices[] = {
    {"/dev/null", LX_FD_NULL, 3},
    {"/dev/zero", LX_FD_ZERO, 5},
    {"/dev/random", LX_FD_RANDOM, 8},
    {"/dev/urandom", LX_FD_RANDOM, 9},
};

/* The program's path at va, relative paths against "/" (the only cwd). */
static int get_path(struct lx_call *c, uint64_t va, char *out, size_t max)
{
    char raw[PATH_MAX];
    int rc = lx_ustr(c->in, va, raw, sizeof(raw));
    if (rc < 0)
        return rc;
    if (!raw[0])
        return -ENOENT;
    const char *p = raw;
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    if ((size_t)snprintf(out, max, "%s%s", p[0] == '/' ? "" : "/", p) >= max)
        return -ENAMETOOLONG;
    return 0;
}

static int device_of(const char *path)
{
    for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
        if (strcmp(path, devices[i].path) == 0)
            return (int)i;
    return -1;
}

static int64_t do_open(struct lx_call *c, uint64_t path_va, uint64_t flags)
{
    char path[PATH_MAX];
    int rc = get_path(c, path_va, path, sizeof(path));
    if (rc < 0)
        return rc;
    int d = device_of(path);
    if (d < 0) {
        if (strcmp(path, "/") == 0 || strcmp(path, "/dev") == 0)
            return (flags & O_ACCMODE) != O_RDONLY ? -EISDIR : -ENOTDIR; /* no listing yet */
        return (flags & O_CREAT) ? -EROFS : -ENOENT;
    }
    int fd = fd_alloc(c->lx, 0);
    if (fd < 0)
        return fd;
    c->lx->fd[fd] = (struct lx_fd){.kind = (uint8_t)devices[d].kind,
                                   .cloexec = (flags & O_CLOEXEC) ? 1 : 0,
                                   .flags = (uint32_t)(flags & ~(uint64_t)O_CLOEXEC)};
    return fd;
}

int64_t lx_sys_open(struct lx_call *c)
{
    return do_open(c, c->a[0], c->a[1]);
}

int64_t lx_sys_openat(struct lx_call *c)
{
    return do_open(c, c->a[1], c->a[2]);
}

int64_t lx_sys_close(struct lx_call *c)
{
    struct lx_fd *f = fd_get(c->lx, c->a[0]);
    if (!f)
        return -EBADF;
    memset(f, 0, sizeof(*f));
    return 0;
}

static int64_t dup_to(struct lx_state *lx, uint64_t old, uint64_t new, int cloexec)
{
    struct lx_fd *f = fd_get(lx, old);
    if (!f)
        return -EBADF;
    if (new >= LX_NFD)
        return -EBADF;
    lx->fd[new] = *f;
    lx->fd[new].cloexec = (uint8_t)cloexec;
    return (int64_t) new;
}

int64_t lx_sys_dup(struct lx_call *c)
{
    if (!fd_get(c->lx, c->a[0]))
        return -EBADF;
    int fd = fd_alloc(c->lx, 0);
    return fd < 0 ? fd : dup_to(c->lx, c->a[0], (uint64_t)fd, 0);
}

int64_t lx_sys_dup2(struct lx_call *c)
{
    if (!fd_get(c->lx, c->a[0]))
        return -EBADF;
    if (c->a[0] == c->a[1])
        return (int64_t)c->a[1];
    return dup_to(c->lx, c->a[0], c->a[1], 0);
}

int64_t lx_sys_dup3(struct lx_call *c)
{
    if (c->a[2] & ~(uint64_t)O_CLOEXEC)
        return -EINVAL;
    if (c->a[0] == c->a[1])
        return -EINVAL;
    return dup_to(c->lx, c->a[0], c->a[1], (c->a[2] & O_CLOEXEC) ? 1 : 0);
}

int64_t lx_sys_fcntl(struct lx_call *c)
{
    struct lx_fd *f = fd_get(c->lx, c->a[0]);
    if (!f)
        return -EBADF;
    switch (c->a[1]) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
        int fd = fd_alloc(c->lx, c->a[2]);
        return fd < 0 ? (c->a[2] >= LX_NFD ? -EINVAL : fd)
                      : dup_to(c->lx, c->a[0], (uint64_t)fd, c->a[1] == F_DUPFD_CLOEXEC);
    }
    case F_GETFD:
        return f->cloexec ? FD_CLOEXEC : 0;
    case F_SETFD:
        f->cloexec = (c->a[2] & FD_CLOEXEC) ? 1 : 0;
        return 0;
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

int64_t lx_sys_ioctl(struct lx_call *c)
{
    return fd_get(c->lx, c->a[0]) ? -ENOTTY : -EBADF; /* no terminal anywhere */
}

int64_t lx_sys_lseek(struct lx_call *c)
{
    struct lx_fd *f = fd_get(c->lx, c->a[0]);
    if (!f)
        return -EBADF;
    if (c->a[2] > 4)
        return -EINVAL;
    return is_stream(f) ? -ESPIPE : 0;
}

/* ---- stat ------------------------------------------------------------------- */
static void stat_of_fd(const struct lx_fd *f, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_nlink = 1;
    st->st_uid = getuid();
    st->st_gid = getgid();
    st->st_blksize = 4096;
    if (is_stream(f)) {
        st->st_mode = S_IFIFO | 0600;
        st->st_dev = 0x0c;
        st->st_ino = (ino_t)f->kind;
        return;
    }
    unsigned minor = f->kind == LX_FD_NULL ? 3 : f->kind == LX_FD_ZERO ? 5 : 9;
    st->st_mode = S_IFCHR | 0666;
    st->st_rdev = makedev(1, minor);
    st->st_dev = 0x05;
    st->st_ino = minor;
    st->st_uid = st->st_gid = 0;
}

static int stat_of_path(const char *path, struct stat *st)
{
    int d = device_of(path);
    if (d >= 0) {
        struct lx_fd f = {.kind = (uint8_t)devices[d].kind};
        stat_of_fd(&f, st);
        st->st_rdev = makedev(1, devices[d].minor);
        return 0;
    }
    if (strcmp(path, "/") == 0 || strcmp(path, "/dev") == 0) {
        memset(st, 0, sizeof(*st));
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        st->st_blksize = 4096;
        st->st_ino = path[1] ? 3 : 2;
        return 0;
    }
    return -ENOENT;
}

int64_t lx_sys_fstat(struct lx_call *c)
{
    struct lx_fd *f = fd_get(c->lx, c->a[0]);
    if (!f)
        return -EBADF;
    struct stat st, *out = lx_uwptr(c->in, c->a[1], sizeof(st));
    if (!out)
        return -EFAULT;
    stat_of_fd(f, &st);
    memcpy(out, &st, sizeof(st));
    return 0;
}

/* The stat of (dirfd, path, flags), for newfstatat and statx. */
static int stat_at(struct lx_call *c, uint64_t dirfd, uint64_t path_va, uint64_t flags,
                   struct stat *st)
{
    char raw[2];
    const char *p0 = lx_uptr(c->in, path_va, 1);
    if (!p0)
        return -EFAULT;
    if (!*p0) {
        (void)raw;
        if (!(flags & AT_EMPTY_PATH))
            return -ENOENT;
        struct lx_fd *f = fd_get(c->lx, dirfd);
        if (!f)
            return -EBADF;
        stat_of_fd(f, st);
        return 0;
    }
    char path[PATH_MAX];
    int rc = get_path(c, path_va, path, sizeof(path));
    return rc < 0 ? rc : stat_of_path(path, st);
}

int64_t lx_sys_newfstatat(struct lx_call *c)
{
    struct stat st;
    int rc = stat_at(c, c->a[0], c->a[1], c->a[3], &st);
    if (rc < 0)
        return rc;
    struct stat *out = lx_uwptr(c->in, c->a[2], sizeof(st));
    if (!out)
        return -EFAULT;
    memcpy(out, &st, sizeof(st));
    return 0;
}

int64_t lx_sys_statx(struct lx_call *c)
{
    struct stat st;
    int rc = stat_at(c, c->a[0], c->a[1], c->a[2], &st);
    if (rc < 0)
        return rc;
    struct statx sx, *out = lx_uwptr(c->in, c->a[4], sizeof(sx));
    if (!out)
        return -EFAULT;
    memset(&sx, 0, sizeof(sx));
    sx.stx_mask = STATX_BASIC_STATS;
    sx.stx_blksize = (uint32_t)st.st_blksize;
    sx.stx_nlink = (uint32_t)st.st_nlink;
    sx.stx_uid = st.st_uid;
    sx.stx_gid = st.st_gid;
    sx.stx_mode = (uint16_t)st.st_mode;
    sx.stx_ino = st.st_ino;
    sx.stx_size = (uint64_t)st.st_size;
    sx.stx_blocks = (uint64_t)st.st_blocks;
    sx.stx_rdev_major = major(st.st_rdev);
    sx.stx_rdev_minor = minor(st.st_rdev);
    sx.stx_dev_major = major(st.st_dev);
    sx.stx_dev_minor = minor(st.st_dev);
    memcpy(out, &sx, sizeof(sx));
    return 0;
}

static int64_t do_readlink(struct lx_call *c, uint64_t path_va, uint64_t buf, uint64_t size)
{
    char path[PATH_MAX];
    int rc = get_path(c, path_va, path, sizeof(path));
    if (rc < 0)
        return rc;
    if ((int64_t)size <= 0)
        return -EINVAL;
    if (strcmp(path, "/proc/self/exe") != 0)
        return stat_of_path(path, &(struct stat){0}) == 0 ? -EINVAL : -ENOENT;
    size_t n = strlen(c->lx->exe);
    if (n > size)
        n = size;
    char *out = lx_uwptr(c->in, buf, n);
    if (!out)
        return -EFAULT;
    memcpy(out, c->lx->exe, n);
    return (int64_t)n;
}

int64_t lx_sys_readlink(struct lx_call *c)
{
    return do_readlink(c, c->a[0], c->a[1], c->a[2]);
}

int64_t lx_sys_readlinkat(struct lx_call *c)
{
    return do_readlink(c, c->a[1], c->a[2], c->a[3]);
}

static int64_t do_access(struct lx_call *c, uint64_t path_va, uint64_t mode)
{
    char path[PATH_MAX];
    int rc = get_path(c, path_va, path, sizeof(path));
    if (rc < 0)
        return rc;
    if (mode & ~7ull)
        return -EINVAL;
    struct stat st;
    rc = stat_of_path(path, &st);
    if (rc < 0)
        return rc;
    return ((mode & 2) && S_ISDIR(st.st_mode)) ? -EROFS : 0;
}

int64_t lx_sys_access(struct lx_call *c)
{
    return do_access(c, c->a[0], c->a[1]);
}

int64_t lx_sys_faccessat(struct lx_call *c)
{
    return do_access(c, c->a[1], c->a[2]);
}

int64_t lx_sys_getcwd(struct lx_call *c)
{
    if (c->a[1] < 2)
        return -ERANGE;
    char *out = lx_uwptr(c->in, c->a[0], 2);
    if (!out)
        return -EFAULT;
    memcpy(out, "/", 2);
    return 2;
}

int64_t lx_sys_chdir(struct lx_call *c)
{
    char path[PATH_MAX];
    int rc = get_path(c, c->a[0], path, sizeof(path));
    if (rc < 0)
        return rc;
    struct stat st;
    rc = stat_of_path(path, &st);
    if (rc < 0)
        return rc;
    return S_ISDIR(st.st_mode) && strcmp(path, "/") == 0 ? 0 : -ENOTDIR;
}

int64_t lx_sys_stat(struct lx_call *c)
{
    char path[PATH_MAX];
    int rc = get_path(c, c->a[0], path, sizeof(path));
    if (rc < 0)
        return rc;
    struct stat st;
    rc = stat_of_path(path, &st);
    if (rc < 0)
        return rc;
    struct stat *out = lx_uwptr(c->in, c->a[1], sizeof(st));
    if (!out)
        return -EFAULT;
    memcpy(out, &st, sizeof(st));
    return 0;
}
