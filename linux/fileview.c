/* Linux personality: the file view -- the read-only trees `--ro HOST[=GUEST]`
 * names, copied at boot into a region of guest memory the program cannot map
 * (docs/abi.md "Files"). Because the view is guest memory, a template carries
 * it like any other page (content-addressed in the page cache: the same bytes
 * are stored once), every restored instance sees the tree as it was at
 * template creation, and nothing on the host is read after boot. The monitor
 * reads the view to serve open/stat/read/getdents; the view is checked like
 * any other guest data before use. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linux/lx_int.h"

#define FV_MAX_ENTRIES LXV_MAX_ENTRIES
#define FV_MAX_PATH    1024

/* ---- Building (host side, at boot) ---------------------------------------- */
struct fv_item {
    char *path;   /* guest path */
    uint64_t seq; /* order of adding: of two items of one path, the later wins */
    struct stat st;
    char *data; /* file contents or link target (malloc), NULL for directories */
    uint64_t len;
};

struct fv_build {
    struct fv_item *items;
    size_t n, cap;
    uint64_t data_bytes;
    char err[200];
};

static int add_item(struct fv_build *b, const char *path, const struct stat *st, char *data,
                    uint64_t len)
{
    if (b->n == 4 * FV_MAX_ENTRIES) {
        snprintf(b->err, sizeof(b->err), "more than %d files", FV_MAX_ENTRIES);
        free(data);
        return -E2BIG;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct fv_item *ni = realloc(b->items, cap * sizeof(*ni));
        if (!ni) {
            free(data);
            return -ENOMEM;
        }
        b->items = ni;
        b->cap = cap;
    }
    char *p = strdup(path);
    if (!p) {
        free(data);
        return -ENOMEM;
    }
    b->items[b->n] = (struct fv_item){.path = p, .seq = b->n, .st = *st, .data = data, .len = len};
    b->n++;
    return 0;
}

/* The directories above a guest path (mode 0755), added first so that a
 * tree given for one of them wins. */
static int add_parents(struct fv_build *b, const char *path)
{
    char p[FV_MAX_PATH];
    snprintf(p, sizeof(p), "%s", path);
    struct stat st = {.st_mode = S_IFDIR | 0755};
    for (char *s = p + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        if (add_item(b, p, &st, NULL, 0) < 0)
            return -ENOMEM;
        *s = '/';
    }
    return 0;
}

static int add_tree(struct fv_build *b, const char *host, const char *guest, int depth)
{
    struct stat st;
    if (lstat(host, &st) < 0) {
        snprintf(b->err, sizeof(b->err), "--ro %.120s: %s", host, strerror(errno));
        return -errno;
    }
    if (strlen(guest) >= FV_MAX_PATH - 1) {
        snprintf(b->err, sizeof(b->err), "--ro: guest path %.60s... too long", guest);
        return -ENAMETOOLONG;
    }
    if (depth > 64) {
        snprintf(b->err, sizeof(b->err), "--ro %.120s: nested more than 64 deep", host);
        return -ELOOP;
    }
    char *data = NULL;
    uint64_t len = 0;
    if (S_ISREG(st.st_mode)) {
        void *buf = NULL;
        size_t got = 0;
        int rc = zg_file_read(host, 1ull << 30, &buf, &got);
        if (rc < 0) {
            snprintf(b->err, sizeof(b->err), "--ro %.120s: %s", host, strerror(-rc));
            return rc;
        }
        data = buf, len = got;
        st.st_size = (off_t)got;
    } else if (S_ISLNK(st.st_mode)) {
        char t[FV_MAX_PATH];
        ssize_t n = readlink(host, t, sizeof(t) - 1);
        if (n < 0 || !(data = malloc((size_t)n + 1)))
            return -errno;
        memcpy(data, t, (size_t)n);
        data[n] = '\0';
        len = (uint64_t)n;
        st.st_size = n;
    } else if (!S_ISDIR(st.st_mode)) {
        return 0; /* sockets, devices, fifos: not carried */
    }
    int rc = add_item(b, guest, &st, data, len);
    if (rc < 0 || !S_ISDIR(st.st_mode))
        return rc;
    DIR *d = opendir(host);
    if (!d) {
        snprintf(b->err, sizeof(b->err), "--ro %.120s: %s", host, strerror(errno));
        return -errno;
    }
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char hp[4096], gp[FV_MAX_PATH + 256];
        snprintf(hp, sizeof(hp), "%s/%s", host, e->d_name);
        snprintf(gp, sizeof(gp), "%s/%s", strcmp(guest, "/") ? guest : "", e->d_name);
        rc = add_tree(b, hp, gp, depth + 1);
    }
    closedir(d);
    return rc;
}

static int by_path(const void *a, const void *b)
{
    const struct fv_item *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* The index of `path` among the sorted, unique items, or -1. */
static long find_item(const struct fv_build *b, const char *path)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(b->items[mid].path, path);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void free_build(struct fv_build *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->items[i].path);
        free(b->items[i].data);
    }
    free(b->items);
}

int lx_fv_build(struct zg_instance *in, const char *specs, void **out, uint64_t *size)
{
    struct fv_build b = {0};
    struct stat root = {.st_mode = S_IFDIR | 0755};
    int rc = add_item(&b, "/", &root, NULL, 0);
    /* specs: "HOST[=GUEST]" lines */
    const char *s = specs;
    while (rc == 0 && s && *s) {
        const char *nl = strchr(s, '\n');
        size_t l = nl ? (size_t)(nl - s) : strlen(s);
        char spec[4096];
        if (l >= sizeof(spec)) {
            snprintf(b.err, sizeof(b.err), "--ro: argument too long");
            rc = -ENAMETOOLONG;
            break;
        }
        memcpy(spec, s, l);
        spec[l] = '\0';
        s = nl ? nl + 1 : s + l;
        if (!spec[0])
            continue;
        char *eq = strchr(spec, '=');
        const char *guest = eq ? eq + 1 : spec;
        if (eq)
            *eq = '\0';
        char host[4096];
        if (!realpath(spec, host)) {
            snprintf(b.err, sizeof(b.err), "--ro %.120s: %s", spec, strerror(errno));
            rc = -errno;
            break;
        }
        char g[FV_MAX_PATH];
        const char *gsrc = eq ? guest : host;
        if (strlen(gsrc) >= sizeof(g)) {
            snprintf(b.err, sizeof(b.err), "--ro %.60s...: the guest path is too long", spec);
            rc = -ENAMETOOLONG;
            break;
        }
        memcpy(g, gsrc, strlen(gsrc) + 1);
        size_t gl = strlen(g);
        while (gl > 1 && g[gl - 1] == '/')
            g[--gl] = '\0';
        if (g[0] != '/' || strstr(g, "/../") || strstr(g, "/./") ||
            (gl >= 2 && !strcmp(g + gl - 2, "/.")) || (gl >= 3 && !strcmp(g + gl - 3, "/.."))) {
            snprintf(b.err, sizeof(b.err), "--ro %.120s: the guest path must be absolute and plain",
                     spec);
            rc = -EINVAL;
            break;
        }
        rc = add_parents(&b, g);
        if (rc == 0)
            rc = add_tree(&b, host, g, 0);
    }
    if (rc < 0) {
        zg_inst_fail(in, "%s", b.err[0] ? b.err : strerror(-rc));
        free_build(&b);
        return rc;
    }
    qsort(b.items, b.n, sizeof(b.items[0]), by_path);
    /* One item per path: the one added last. */
    size_t u = 0;
    for (size_t i = 0; i < b.n; i++) {
        if (i + 1 < b.n && !strcmp(b.items[i].path, b.items[i + 1].path)) {
            free(b.items[i].path);
            free(b.items[i].data);
            continue;
        }
        b.items[u++] = b.items[i];
    }
    b.n = u;
    if (b.n > FV_MAX_ENTRIES) {
        zg_inst_fail(in, "--ro: more than %d files", FV_MAX_ENTRIES);
        free_build(&b);
        return -E2BIG;
    }
    for (size_t i = 0; i < b.n; i++)
        b.data_bytes += (b.items[i].len + ZG_PAGE_SIZE - 1) & ~(uint64_t)(ZG_PAGE_SIZE - 1);
    /* Layout: header, entries, path strings, then each file's data on pages. */
    uint64_t str_len = 0;
    for (size_t i = 0; i < b.n; i++)
        str_len += strlen(b.items[i].path) + 1;
    uint64_t ent_off = sizeof(struct lx_fv_hdr);
    uint64_t str_off = ent_off + b.n * sizeof(struct lx_fv_ent);
    uint64_t data_off = (str_off + str_len + ZG_PAGE_SIZE - 1) & ~(uint64_t)(ZG_PAGE_SIZE - 1);
    uint64_t total = data_off + b.data_bytes;
    uint8_t *v = calloc(1, total);
    if (!v) {
        zg_inst_fail(in, "out of memory for a %llu-byte file view", (unsigned long long)total);
        free_build(&b);
        return -ENOMEM;
    }
    struct lx_fv_hdr h = {.magic = LX_FV_MAGIC,
                          .version = 1,
                          .nent = (uint32_t)b.n,
                          .ent_off = ent_off,
                          .str_off = str_off,
                          .str_len = str_len,
                          .size = total};
    memcpy(v, &h, sizeof(h));
    uint64_t so = 0, dof = data_off;
    for (size_t i = 0; i < b.n; i++) {
        const struct fv_item *it = &b.items[i];
        struct lx_fv_ent e = {.path_off = so,
                              .path_len = (uint32_t)strlen(it->path),
                              .parent = 0,
                              .mode = (uint32_t)it->st.st_mode,
                              /* directories: their size on the host (ext4's 4096) */
                              .size = it->data         ? it->len
                                      : it->st.st_size ? (uint64_t)it->st.st_size
                                                       : 4096,
                              .data_off = it->data ? dof : 0,
                              .mtime_ns = (int64_t)it->st.st_mtim.tv_sec * 1000000000 +
                                          it->st.st_mtim.tv_nsec};
        /* The parent: the entry named by the path up to its last '/'. */
        char pp[FV_MAX_PATH];
        const char *slash = strrchr(it->path, '/');
        size_t pl = slash && slash != it->path ? (size_t)(slash - it->path) : 1;
        memcpy(pp, it->path, pl);
        pp[pl] = '\0';
        long par = find_item(&b, pp);
        e.parent = par >= 0 ? (uint32_t)par : 0;
        memcpy(v + ent_off + i * sizeof(e), &e, sizeof(e));
        memcpy(v + str_off + so, it->path, e.path_len + 1);
        so += e.path_len + 1;
        if (it->data) {
            memcpy(v + dof, it->data, it->len);
            dof += (it->len + ZG_PAGE_SIZE - 1) & ~(uint64_t)(ZG_PAGE_SIZE - 1);
        }
    }
    free_build(&b);
    *out = v;
    *size = total;
    return 0;
}

/* ---- Reading (the view in guest memory; checked, since it is guest data) -- */
/* The instance's view as lx_view sees it. */
struct lxv lx_view_of(struct zg_instance *in)
{
    const struct lx_state *lx = lx_of(in);
    const struct lx_layout *l = &lx->l;
    if (!l->fv_size || l->fv_gpa > in->mem_size || l->fv_size > in->mem_size - l->fv_gpa)
        return (struct lxv){0, 0};
    return (struct lxv){in->mem + l->fv_gpa, l->fv_size};
}

const struct lx_fv_hdr *lx_fv(struct zg_instance *in)
{
    struct lxv v = lx_view_of(in);
    return lxv_hdr(&v);
}

const struct lx_fv_ent *lx_fv_ent(struct zg_instance *in, uint32_t i)
{
    struct lxv v = lx_view_of(in);
    return lxv_ent(&v, i);
}

const char *lx_fv_path(struct zg_instance *in, const struct lx_fv_ent *e)
{
    struct lxv v = lx_view_of(in);
    return lxv_path(&v, e);
}

const uint8_t *lx_fv_data(struct zg_instance *in, const struct lx_fv_ent *e)
{
    struct lxv v = lx_view_of(in);
    return lxv_data(&v, e);
}

int lx_fv_find(struct zg_instance *in, const char *path)
{
    struct lxv v = lx_view_of(in);
    return lxv_find(&v, path);
}
