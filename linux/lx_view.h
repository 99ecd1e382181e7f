/* lx_view: the file view of a Linux program (its --ro trees, docs/abi.md)
 * as bytes, and the names in it: lookup, path resolution, stat.
 *
 * What it does
 *   The one implementation of how a path names something a Linux program
 *   can see, built twice: into the monitor (linux/fileview.c, sys_path.c,
 *   sys_fs.c) and into the guest-side runtime (linux/rt/rt.c), which serves
 *   opens and stats of the view with no exit. Both must give the same
 *   answer, so neither has its own copy. Pure code: no libc, no allocation,
 *   no errno; every offset read from the view is checked against its size
 *   (a template's view is untrusted input to the monitor).
 *
 * The view (built by lx_fv_build): a header, `nent` entries sorted by path,
 * their NUL-terminated absolute paths, then each file's bytes (and each
 * link's target) on pages of their own.
 *
 * Errors are negative Linux errno values (LXV_E*).
 */
#ifndef LX_VIEW_H
#define LX_VIEW_H

#include <stddef.h>
#include <stdint.h>

#define LX_FV_MAGIC 0x5646475au /* "ZGFV" */
struct lx_fv_hdr {
    uint32_t magic, version;
    uint32_t nent, reserved;
    uint64_t ent_off, str_off, str_len; /* entries, then their paths (NUL-terminated) */
    uint64_t size;                      /* the view's bytes */
};
struct lx_fv_ent {
    uint64_t path_off; /* into the strings: the full guest path */
    uint32_t path_len;
    uint32_t parent; /* the entry of the containing directory ("/": itself) */
    uint32_t mode;   /* st_mode: S_IFDIR, S_IFREG or S_IFLNK and permissions */
    uint32_t pad;
    uint64_t size;     /* file bytes, or the link target's length */
    uint64_t data_off; /* where they are, from the view's start (page aligned) */
    int64_t mtime_ns;
};
_Static_assert(sizeof(struct lx_fv_hdr) == 48 && sizeof(struct lx_fv_ent) == 48, "view layout");

#define LXV_MAX_ENTRIES 65536
#define LXV_PATH_MAX    4096 /* PATH_MAX */
#define LXV_MAX_LINKS   8

/* Linux's values. */
#define LXV_ENOENT       2
#define LXV_EIO          5
#define LXV_ENOTDIR      20
#define LXV_ENAMETOOLONG 36
#define LXV_ELOOP        40
#define LXV_S_IFMT       0170000u
#define LXV_S_IFDIR      0040000u
#define LXV_S_IFREG      0100000u
#define LXV_S_IFLNK      0120000u
#define LXV_S_IFCHR      0020000u
#define LXV_S_IFIFO      0010000u
#define LXV_S_IFSOCK     0140000u

/* A view: its bytes. */
struct lxv {
    const uint8_t *base;
    uint64_t size;
};

/* The header if it is sound, else NULL; entry i, its path, its bytes (NULL
 * when out of bounds); the entry of a normalized absolute path, or
 * -LXV_ENOENT (-LXV_EIO for a damaged view). */
const struct lx_fv_hdr *lxv_hdr(const struct lxv *v);
const struct lx_fv_ent *lxv_ent(const struct lxv *v, uint32_t i);
const char *lxv_path(const struct lxv *v, const struct lx_fv_ent *e);
const uint8_t *lxv_data(const struct lxv *v, const struct lx_fv_ent *e);
int lxv_find(const struct lxv *v, const char *path);

/* The synthetic files: /dev/null, zero, random, urandom. `kind` is the
 * descriptor kind an open of it makes (enum zg_linux_fd_kind). */
struct lxv_dev {
    const char *path;
    unsigned kind;
    unsigned minor;
};
#define LXV_NDEV 4
extern const struct lxv_dev lxv_devices[LXV_NDEV];

/* What a resolved path names. */
struct lxv_node {
    enum { LXV_N_DEV, LXV_N_ENT, LXV_N_ROOT, LXV_N_DEVDIR } kind;
    int idx; /* LXV_N_DEV: lxv_devices[idx]; LXV_N_ENT: the view entry */
};

/* The node a normalized absolute path names: 0 or -LXV_ENOENT. */
int lxv_lookup(const struct lxv *v, const char *path, struct lxv_node *n);
int lxv_is_dir(const struct lxv *v, const struct lxv_node *n);

/* Resolves `raw` against `base` (an absolute directory path) into out
 * (max bytes), following the view's symbolic links (the last component only
 * if `follow`). 0, -LXV_ENOENT, -LXV_ENOTDIR, -LXV_ELOOP, -LXV_ENAMETOOLONG,
 * -LXV_EIO. */
int lxv_resolve(const struct lxv *v, const char *base, const char *raw, int follow, char *out,
                size_t max);

/* struct stat as Linux x86-64 returns it (and glibc's is the same). */
struct lxv_stat {
    uint64_t dev, ino, nlink;
    uint32_t mode, uid, gid, pad0;
    uint64_t rdev;
    int64_t size, blksize, blocks;
    int64_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
    int64_t unused[3];
};
_Static_assert(sizeof(struct lxv_stat) == 144, "struct stat on x86-64");

/* The stat of a node. */
void lxv_stat_of(const struct lxv *v, const struct lxv_node *n, struct lxv_stat *st);

/* The stat of an open file (struct zg_linux_file) of any kind: a file or
 * directory of the view, a device, a stream (a pipe to the program), a
 * socket; uid and gid are the ids the program sees. */
struct zg_linux_file;
void lxv_stat_of_fd(const struct lxv *v, const struct zg_linux_file *f, uint32_t uid, uint32_t gid,
                    struct lxv_stat *st);

/* The device of a minor number (an index into lxv_devices), or -1. */
int lxv_dev_of_minor(unsigned minor);

#endif /* LX_VIEW_H */
