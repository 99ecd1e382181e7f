/* Linux personality: names. A path is resolved against the working
 * directory (or a directory descriptor) into a normalized absolute path,
 * following the view's symbolic links; it names a /dev file, a file or
 * directory of the view, or the root. Nothing else exists: no host file is
 * reachable. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "linux/lx_int.h"

/* Names are lx_view's (shared with the guest-side runtime): these adapt
 * them to the instance's view. */
static int lookup(struct zg_instance *in, const char *path, struct lxv_node *n)
{
    struct lxv v = lx_view_of(in);
    return lxv_lookup(&v, path, n);
}

static int is_dir(struct zg_instance *in, const struct lxv_node *n)
{
    struct lxv v = lx_view_of(in);
    return lxv_is_dir(&v, n);
}

_Static_assert(LXV_ENOENT == ENOENT && LXV_EIO == EIO && LXV_ENOTDIR == ENOTDIR &&
                   LXV_ENAMETOOLONG == ENAMETOOLONG && LXV_ELOOP == ELOOP,
               "lx_view's errno values");
/* (glibc's O_LARGEFILE is 0 on x86-64; the kernel's, 0100000, is what a program passes) */
_Static_assert(LX_O_KEPT == (O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_ASYNC | O_DIRECT |
                             0100000 | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_SYNC | O_PATH),
               "the O_* flags a descriptor keeps");
_Static_assert(sizeof(struct stat) == sizeof(struct lxv_stat) &&
                   offsetof(struct stat, st_mode) == offsetof(struct lxv_stat, mode) &&
                   offsetof(struct stat, st_rdev) == offsetof(struct lxv_stat, rdev) &&
                   offsetof(struct stat, st_size) == offsetof(struct lxv_stat, size) &&
                   offsetof(struct stat, st_mtim) == offsetof(struct lxv_stat, mtime),
               "struct stat is the kernel's");

static void stat_of_node(struct zg_instance *in, const struct lxv_node *n, struct stat *st)
{
    struct lxv v = lx_view_of(in);
    struct lxv_stat s;
    lxv_stat_of(&v, n, &s);
    memcpy(st, &s, sizeof(*st));
}

/* The program's path at va relative to dirfd (AT_FDCWD: the working
 * directory), resolved into out. */
int lx_resolve(struct lx_call *c, int64_t dirfd, uint64_t va, int follow, char *out, size_t max)
{
    char raw[PATH_MAX];
    int rc = lx_ustr(c->in, va, raw, sizeof(raw));
    if (rc < 0)
        return rc;
    if (!raw[0])
        return -ENOENT;
    const char *base = c->lx->cwd;
    char dirpath[PATH_MAX];
    if (raw[0] != '/' && dirfd != AT_FDCWD) {
        struct zg_linux_file *f = lx_fd_get(c->lx, (uint64_t)dirfd);
        if (!f)
            return -EBADF;
        if (f->kind != ZG_LINUX_FD_DIR)
            return -ENOTDIR;
        const char *p = lx_fv_path(c->in, lx_fv_ent(c->in, f->ent));
        if (!p)
            return -EIO;
        snprintf(dirpath, sizeof(dirpath), "%s", p);
        base = dirpath;
    }
    struct lxv v = lx_view_of(c->in);
    return lxv_resolve(&v, base, raw, follow, out, max);
}

/* ---- stat ---------------------------------------------------------------------- */
void lx_stat_of_ent(struct zg_instance *in, uint32_t i, struct stat *st)
{
    stat_of_node(in, &(struct lxv_node){LXV_N_ENT, (int)i}, st);
}

void lx_stat_of_dev(unsigned minor, struct stat *st)
{
    for (int i = 0; i < LXV_NDEV; i++)
        if (lxv_devices[i].minor == minor) {
            struct lxv_stat s;
            lxv_stat_of(&(struct lxv){0, 0}, &(struct lxv_node){LXV_N_DEV, i}, &s);
            memcpy(st, &s, sizeof(*st));
            return;
        }
    memset(st, 0, sizeof(*st));
}

/* The stat of (dirfd, path at va, flags), for the stat family. */
static int stat_at(struct lx_call *c, int64_t dirfd, uint64_t va, uint64_t flags, struct stat *st)
{
    const char *p0 = lx_uptr(c->in, va, 1);
    if (!p0)
        return -EFAULT;
    if (!*p0) {
        if (!(flags & AT_EMPTY_PATH))
            return -ENOENT;
        struct zg_linux_file *f = dirfd == AT_FDCWD ? NULL : lx_fd_get(c->lx, (uint64_t)dirfd);
        if (dirfd == AT_FDCWD) {
            struct lxv_node n;
            if (lookup(c->in, c->lx->cwd, &n) < 0)
                return -ENOENT;
            stat_of_node(c->in, &n, st);
            return 0;
        }
        if (!f)
            return -EBADF;
        lx_stat_of_fd(c->in, f, st);
        return 0;
    }
    char path[PATH_MAX];
    int rc = lx_resolve(c, dirfd, va, !(flags & AT_SYMLINK_NOFOLLOW), path, sizeof(path));
    if (rc < 0)
        return rc;
    struct lxv_node n;
    rc = lookup(c->in, path, &n);
    if (rc < 0)
        return rc;
    stat_of_node(c->in, &n, st);
    return 0;
}

static int64_t put_stat(struct lx_call *c, uint64_t va, const struct stat *st)
{
    struct stat *out = lx_uwptr(c->in, va, sizeof(*st));
    if (!out)
        return -EFAULT;
    memcpy(out, st, sizeof(*st));
    return 0;
}

int64_t lx_sys_stat(struct lx_call *c)
{
    struct stat st;
    int rc = stat_at(c, AT_FDCWD, c->a[0], 0, &st);
    return rc < 0 ? rc : put_stat(c, c->a[1], &st);
}

int64_t lx_sys_lstat(struct lx_call *c)
{
    struct stat st;
    int rc = stat_at(c, AT_FDCWD, c->a[0], AT_SYMLINK_NOFOLLOW, &st);
    return rc < 0 ? rc : put_stat(c, c->a[1], &st);
}

int64_t lx_sys_newfstatat(struct lx_call *c)
{
    struct stat st;
    int rc = stat_at(c, (int64_t)(int)c->a[0], c->a[1], c->a[3], &st);
    return rc < 0 ? rc : put_stat(c, c->a[2], &st);
}

int64_t lx_sys_statx(struct lx_call *c)
{
    struct stat st;
    int rc = stat_at(c, (int64_t)(int)c->a[0], c->a[1], c->a[2], &st);
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
    sx.stx_mtime.tv_sec = st.st_mtim.tv_sec;
    sx.stx_mtime.tv_nsec = (uint32_t)st.st_mtim.tv_nsec;
    sx.stx_atime = sx.stx_ctime = sx.stx_mtime;
    sx.stx_rdev_major = major(st.st_rdev);
    sx.stx_rdev_minor = minor(st.st_rdev);
    sx.stx_dev_major = major(st.st_dev);
    sx.stx_dev_minor = minor(st.st_dev);
    memcpy(out, &sx, sizeof(sx));
    return 0;
}

/* ---- open ----------------------------------------------------------------------- */
/* Is this call an open of ZG_LINUX_READY_PATH? */
int lx_is_ready_open(const struct lx_call *c)
{
    uint64_t va = c->nr == __NR_open ? c->a[0] : c->nr == __NR_openat ? c->a[1] : 0;
    char p[sizeof(ZG_LINUX_READY_PATH)];
    return va && lx_ustr(c->in, va, p, sizeof(p)) == 0 && !strcmp(p, ZG_LINUX_READY_PATH);
}

static int64_t do_open(struct lx_call *c, int64_t dirfd, uint64_t va, uint64_t flags)
{
    char path[PATH_MAX];
    if (lx_is_ready_open(c)) { /* the template point is behind it: a /dev/null */
        struct zg_linux_file f = {.kind = ZG_LINUX_FD_NULL, .flags = O_RDONLY, .ent = 3};
        return lx_fd_install(c->lx, &f, (flags & O_CLOEXEC) != 0);
    }
    int rc = lx_resolve(c, dirfd, va, !(flags & O_NOFOLLOW), path, sizeof(path));
    if (rc < 0)
        return rc == -ENOENT && (flags & O_CREAT) ? -EROFS : rc;
    struct lxv_node n;
    rc = lookup(c->in, path, &n);
    if (rc < 0)
        return (flags & O_CREAT) ? -EROFS : rc;
    if ((flags & O_CREAT) && (flags & O_EXCL))
        return -EEXIST;
    int dir = is_dir(c->in, &n);
    if ((flags & O_DIRECTORY) && !dir)
        return -ENOTDIR;
    struct zg_linux_file f = {.flags = (uint32_t)(flags & LX_O_KEPT)}; /* as Linux keeps them */
    if (n.kind == LXV_N_DEV) {
        f.kind = (uint8_t)lxv_devices[n.idx].kind;
        f.ent = lxv_devices[n.idx].minor;
    } else {
        if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
            return dir ? -EISDIR : -EROFS;
        if (n.kind != LXV_N_ENT)
            return -ENOENT; /* "/" and "/dev" without a view cannot be listed */
        const struct lx_fv_ent *e = lx_fv_ent(c->in, (uint32_t)n.idx);
        if (!e)
            return -EIO;
        if (S_ISLNK(e->mode))
            return -ELOOP; /* O_NOFOLLOW on a link */
        f.kind = dir ? ZG_LINUX_FD_DIR : ZG_LINUX_FD_FILE;
        f.ent = (uint32_t)n.idx;
    }
    return lx_fd_install(c->lx, &f, (flags & O_CLOEXEC) != 0);
}

int64_t lx_sys_open(struct lx_call *c)
{
    return do_open(c, AT_FDCWD, c->a[0], c->a[1]);
}

int64_t lx_sys_openat(struct lx_call *c)
{
    return do_open(c, (int64_t)(int)c->a[0], c->a[1], c->a[2]);
}

/* ---- links, access, the working directory --------------------------------------- */
static int64_t do_readlink(struct lx_call *c, int64_t dirfd, uint64_t va, uint64_t buf,
                           uint64_t size)
{
    if ((int64_t)size <= 0)
        return -EINVAL;
    char raw[PATH_MAX];
    int rc = lx_ustr(c->in, va, raw, sizeof(raw));
    if (rc < 0)
        return rc;
    const char *target;
    size_t n;
    if (!strcmp(raw, "/proc/self/exe")) {
        target = c->lx->exe;
        n = strlen(target);
    } else {
        char path[PATH_MAX];
        rc = lx_resolve(c, dirfd, va, 0, path, sizeof(path));
        if (rc < 0)
            return rc;
        struct lxv_node nd;
        rc = lookup(c->in, path, &nd);
        if (rc < 0)
            return rc;
        const struct lx_fv_ent *e =
            nd.kind == LXV_N_ENT ? lx_fv_ent(c->in, (uint32_t)nd.idx) : NULL;
        if (!e || !S_ISLNK(e->mode))
            return -EINVAL;
        target = (const char *)lx_fv_data(c->in, e);
        if (!target)
            return -EIO;
        n = e->size;
    }
    if (n > size)
        n = size;
    char *out = lx_uwptr(c->in, buf, n);
    if (!out)
        return -EFAULT;
    memcpy(out, target, n);
    return (int64_t)n;
}

int64_t lx_sys_readlink(struct lx_call *c)
{
    return do_readlink(c, AT_FDCWD, c->a[0], c->a[1], c->a[2]);
}

int64_t lx_sys_readlinkat(struct lx_call *c)
{
    return do_readlink(c, (int64_t)(int)c->a[0], c->a[1], c->a[2], c->a[3]);
}

static int64_t do_access(struct lx_call *c, int64_t dirfd, uint64_t va, uint64_t mode)
{
    if (mode & ~7ull)
        return -EINVAL;
    struct stat st;
    int rc = stat_at(c, dirfd, va, 0, &st);
    if (rc < 0)
        return rc;
    if (mode & W_OK)
        return S_ISCHR(st.st_mode) ? 0 : -EROFS;
    if ((mode & X_OK) && !(st.st_mode & 0111))
        return -EACCES;
    return 0;
}

int64_t lx_sys_access(struct lx_call *c)
{
    return do_access(c, AT_FDCWD, c->a[0], c->a[1]);
}

int64_t lx_sys_faccessat(struct lx_call *c)
{
    return do_access(c, (int64_t)(int)c->a[0], c->a[1], c->a[2]);
}

int64_t lx_sys_getcwd(struct lx_call *c)
{
    size_t n = strlen(c->lx->cwd) + 1;
    if (c->a[1] < n)
        return -ERANGE;
    char *out = lx_uwptr(c->in, c->a[0], n);
    if (!out)
        return -EFAULT;
    memcpy(out, c->lx->cwd, n);
    return (int64_t)n;
}

static int64_t set_cwd(struct lx_call *c, const char *path)
{
    struct lxv_node n;
    int rc = lookup(c->in, path, &n);
    if (rc < 0)
        return rc;
    if (!is_dir(c->in, &n))
        return -ENOTDIR;
    if (strlen(path) >= sizeof(c->lx->cwd))
        return -ENAMETOOLONG;
    snprintf(c->lx->cwd, sizeof(c->lx->cwd), "%s", path);
    return 0;
}

int64_t lx_sys_chdir(struct lx_call *c)
{
    char path[PATH_MAX];
    int rc = lx_resolve(c, AT_FDCWD, c->a[0], 1, path, sizeof(path));
    return rc < 0 ? rc : set_cwd(c, path);
}

int64_t lx_sys_fchdir(struct lx_call *c)
{
    struct zg_linux_file *f = lx_fd_get(c->lx, c->a[0]);
    if (!f)
        return -EBADF;
    if (f->kind != ZG_LINUX_FD_DIR)
        return -ENOTDIR;
    const char *p = lx_fv_path(c->in, lx_fv_ent(c->in, f->ent));
    return p ? set_cwd(c, p) : -EIO;
}
