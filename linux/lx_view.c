/* lx_view: the file view's names (lx_view.h). Built into the monitor and
 * into the guest-side runtime: no libc here. */
#include "linux/lx_view.h"

#include <zerg/linux_abi.h>

/* ---- Strings, without libc ------------------------------------------------------ */
static size_t slen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static int scmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (int)(unsigned char)*a - (int)(unsigned char)*b;
}

static void bcopy_(char *dst, const char *src, size_t n) /* may overlap */
{
    if (dst < src)
        for (size_t i = 0; i < n; i++)
            dst[i] = src[i];
    else
        for (size_t i = n; i-- > 0;)
            dst[i] = src[i];
}

/* Sets out to "/". */
static void root(char *out)
{
    out[0] = '/', out[1] = '\0';
}

/* Cuts the last component off the absolute path out ("/a/b" -> "/a",
 * "/a" -> "/"). */
static void up(char *out)
{
    size_t n = slen(out);
    while (n > 0 && out[n - 1] != '/')
        n--;
    if (n <= 1)
        root(out);
    else
        out[n - 1] = '\0';
}

/* ---- The view's bytes ------------------------------------------------------------ */
const struct lx_fv_hdr *lxv_hdr(const struct lxv *v)
{
    uint64_t size = v->size;
    if (!v->base || size < sizeof(struct lx_fv_hdr))
        return 0;
    const struct lx_fv_hdr *h = (const void *)v->base;
    if (h->magic != LX_FV_MAGIC || h->size > size || h->ent_off > size || h->str_off > size ||
        h->nent > LXV_MAX_ENTRIES || (size - h->ent_off) / sizeof(struct lx_fv_ent) < h->nent ||
        h->str_len > size - h->str_off)
        return 0;
    return h;
}

const struct lx_fv_ent *lxv_ent(const struct lxv *v, uint32_t i)
{
    const struct lx_fv_hdr *h = lxv_hdr(v);
    if (!h || i >= h->nent)
        return 0;
    return (const void *)(v->base + h->ent_off + (uint64_t)i * sizeof(struct lx_fv_ent));
}

const char *lxv_path(const struct lxv *v, const struct lx_fv_ent *e)
{
    const struct lx_fv_hdr *h = lxv_hdr(v);
    if (!h || !e || e->path_off > h->str_len || e->path_len >= h->str_len - e->path_off)
        return 0;
    const char *p = (const char *)v->base + h->str_off + e->path_off;
    return p[e->path_len] == '\0' && p[0] == '/' ? p : 0; /* every path is absolute */
}

const uint8_t *lxv_data(const struct lxv *v, const struct lx_fv_ent *e)
{
    const struct lx_fv_hdr *h = lxv_hdr(v);
    if (!h || !e || e->data_off > h->size || e->size > h->size - e->data_off)
        return 0;
    return v->base + e->data_off;
}

int lxv_find(const struct lxv *v, const char *path)
{
    const struct lx_fv_hdr *h = lxv_hdr(v);
    if (!h)
        return -LXV_ENOENT;
    uint32_t lo = 0, hi = h->nent;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const char *p = lxv_path(v, lxv_ent(v, mid));
        if (!p)
            return -LXV_EIO;
        int c = scmp(p, path);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -LXV_ENOENT;
}

/* ---- Names ------------------------------------------------------------------------- */
const struct lxv_dev lxv_devices[LXV_NDEV] = {
    {"/dev/null", ZG_LINUX_FD_NULL, 3},
    {"/dev/zero", ZG_LINUX_FD_ZERO, 5},
    {"/dev/random", ZG_LINUX_FD_RANDOM, 8},
    {"/dev/urandom", ZG_LINUX_FD_RANDOM, 9},
};

int lxv_lookup(const struct lxv *v, const char *path, struct lxv_node *n)
{
    for (int i = 0; i < LXV_NDEV; i++)
        if (!scmp(path, lxv_devices[i].path)) {
            *n = (struct lxv_node){LXV_N_DEV, i};
            return 0;
        }
    int e = lxv_find(v, path);
    if (e >= 0) {
        *n = (struct lxv_node){LXV_N_ENT, e};
        return 0;
    }
    if (!scmp(path, "/")) {
        *n = (struct lxv_node){LXV_N_ROOT, 0};
        return 0;
    }
    if (!scmp(path, "/dev")) {
        *n = (struct lxv_node){LXV_N_DEVDIR, 0};
        return 0;
    }
    return -LXV_ENOENT;
}

int lxv_is_dir(const struct lxv *v, const struct lxv_node *n)
{
    if (n->kind == LXV_N_ROOT || n->kind == LXV_N_DEVDIR)
        return 1;
    const struct lx_fv_ent *e = n->kind == LXV_N_ENT ? lxv_ent(v, (uint32_t)n->idx) : 0;
    return e && (e->mode & LXV_S_IFMT) == LXV_S_IFDIR;
}

int lxv_resolve(const struct lxv *v, const char *base, const char *raw, int follow, char *out,
                size_t max)
{
    char todo[LXV_PATH_MAX * 2];
    size_t rl = slen(raw);
    if (rl >= sizeof(todo) || max < 2)
        return -LXV_ENAMETOOLONG;
    bcopy_(todo, raw, rl + 1);
    if (raw[0] == '/') {
        root(out);
    } else {
        size_t bl = slen(base);
        if (bl >= max)
            return -LXV_ENAMETOOLONG;
        bcopy_(out, base, bl + 1);
    }
    /* A trailing slash: the last component must be a directory, and a link
     * there is followed (as Linux reads "name/" as "name/."). */
    int slash = rl > 0 && raw[rl - 1] == '/';
    if (slash)
        follow = 1;
    int links = 0;
    char *p = todo;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t cl = 0;
        while (p[cl] && p[cl] != '/')
            cl++;
        char *end = p[cl] ? p + cl : 0;
        int last = 1;
        for (char *q = end; q && *q; q++)
            if (*q != '/') {
                last = 0;
                break;
            }
        /* The directory so far must be one, for ".", ".." and a name in it
         * alike ("file/.." is ENOTDIR on Linux, not the file's directory). */
        struct lxv_node dn;
        if (lxv_lookup(v, out, &dn) < 0)
            return -LXV_ENOENT;
        if (!lxv_is_dir(v, &dn))
            return -LXV_ENOTDIR;
        if (cl == 1 && p[0] == '.') {
            p += cl;
            continue;
        }
        if (cl == 2 && p[0] == '.' && p[1] == '.') {
            up(out);
            p += cl;
            continue;
        }
        size_t ol = slen(out);
        if (ol + 1 + cl + 1 > max)
            return -LXV_ENAMETOOLONG;
        if (ol > 1)
            out[ol++] = '/';
        bcopy_(out + ol, p, cl);
        out[ol + cl] = '\0';
        p += cl;
        struct lxv_node n;
        if (lxv_lookup(v, out, &n) == 0 && n.kind == LXV_N_ENT && (!last || follow)) {
            const struct lx_fv_ent *e = lxv_ent(v, (uint32_t)n.idx);
            if (e && (e->mode & LXV_S_IFMT) == LXV_S_IFLNK) {
                const uint8_t *t = lxv_data(v, e);
                if (!t || e->size >= LXV_PATH_MAX)
                    return -LXV_EIO;
                if (++links > LXV_MAX_LINKS)
                    return -LXV_ELOOP;
                /* todo becomes the target, "/", then what was left of it */
                size_t tl = (size_t)e->size, pl = slen(p);
                if (tl + 1 + pl >= sizeof(todo))
                    return -LXV_ENAMETOOLONG;
                bcopy_(todo + tl + 1, p, pl + 1);
                bcopy_(todo, (const char *)t, tl);
                todo[tl] = '/';
                p = todo;
                /* The link's directory is where a relative target starts. */
                up(out);
                if (todo[0] == '/')
                    root(out);
            }
        }
    }
    struct lxv_node n;
    if (slash && lxv_lookup(v, out, &n) == 0 && !lxv_is_dir(v, &n))
        return -LXV_ENOTDIR; /* "file/" (what does not exist is the caller's ENOENT) */
    return 0;
}

/* ---- stat ------------------------------------------------------------------------------ */
void lxv_stat_of(const struct lxv *v, const struct lxv_node *n, struct lxv_stat *st)
{
    *st = (struct lxv_stat){.blksize = 4096};
    switch (n->kind) {
    case LXV_N_ENT: {
        const struct lx_fv_ent *e = lxv_ent(v, (uint32_t)n->idx);
        if (!e)
            return;
        st->dev = 0x7a;
        st->ino = 100u + (uint64_t)n->idx;
        st->mode = e->mode;
        st->nlink = (e->mode & LXV_S_IFMT) == LXV_S_IFDIR ? 2 : 1;
        st->size = (int64_t)e->size;
        st->blocks = (int64_t)((e->size + 511) / 512);
        st->mtime = e->mtime_ns / 1000000000;
        st->mtime_ns = e->mtime_ns % 1000000000;
        st->atime = st->ctime = st->mtime;
        st->atime_ns = st->ctime_ns = st->mtime_ns;
        return;
    }
    case LXV_N_DEV: {
        unsigned minor = lxv_devices[n->idx].minor;
        st->mode = LXV_S_IFCHR | 0666;
        st->rdev = (1u << 8) | (minor & 0xff); /* makedev(1, minor) */
        st->dev = 0x05;
        st->ino = minor;
        st->nlink = 1;
        return;
    }
    default:
        st->mode = LXV_S_IFDIR | 0755;
        st->nlink = 2;
        st->ino = n->kind == LXV_N_ROOT ? 2 : 3;
        return;
    }
}

int lxv_dev_of_minor(unsigned minor)
{
    for (int i = 0; i < LXV_NDEV; i++)
        if (lxv_devices[i].minor == minor)
            return i;
    return -1;
}

void lxv_stat_of_fd(const struct lxv *v, const struct zg_linux_file *f, uint32_t uid, uint32_t gid,
                    struct lxv_stat *st)
{
    switch (f->kind) {
    case ZG_LINUX_FD_FILE:
    case ZG_LINUX_FD_DIR:
        lxv_stat_of(v, &(struct lxv_node){LXV_N_ENT, (int)f->ent}, st);
        return;
    case ZG_LINUX_FD_NULL:
    case ZG_LINUX_FD_ZERO:
    case ZG_LINUX_FD_RANDOM: {
        int d = lxv_dev_of_minor(f->ent);
        if (d >= 0) {
            lxv_stat_of(v, &(struct lxv_node){LXV_N_DEV, d}, st);
            return;
        }
        break;
    }
    default:
        break;
    }
    /* sockets, the streams (pipes to the program), anything else */
    *st = (struct lxv_stat){.nlink = 1, .uid = uid, .gid = gid, .blksize = 4096};
    int sock = f->kind == ZG_LINUX_FD_SOCK || f->kind == ZG_LINUX_FD_CONN;
    int stream = sock || f->kind == ZG_LINUX_FD_STDIN || f->kind == ZG_LINUX_FD_STDOUT ||
                 f->kind == ZG_LINUX_FD_CONSOLE || f->kind == ZG_LINUX_FD_PIPE_R ||
                 f->kind == ZG_LINUX_FD_PIPE_W;
    if (stream) {
        st->mode = sock ? LXV_S_IFSOCK | 0777 : LXV_S_IFIFO | 0600;
        st->dev = sock ? 0x08 : 0x0c;
        st->ino = f->kind;
    } else {
        st->mode = 0600; /* an epoll instance, an eventfd: an anonymous inode, as Linux's */
        st->dev = 0x0d;
        st->ino = f->kind;
    }
}
