/* zg_template: the manifest file — parse (untrusted), serialize, store, list. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "monitor/zg_monitor.h"
#include "template/zg_template.h"

#define ZG_TMPL_MAX_FILE (64u << 20)

static size_t pad8(uint64_t n)
{
    return (size_t)((n + 7) & ~7ull);
}

int zg_tmpl_path(const char *home, const char *name, char *path, size_t len)
{
    size_t n = strlen(name);
    if (n == 0 || n >= ZG_TMPL_NAME_MAX || name[0] == '.')
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return -EINVAL;
    }
    int w = snprintf(path, len, "%s/templates/%s%s", home, name, ZG_TMPL_SUFFIX);
    if (w < 0 || (size_t)w >= len)
        return -ENAMETOOLONG;
    return 0;
}

void zg_tmpl_free(struct zg_tmpl *t)
{
    if (!t)
        return;
    free(t->keys);
    free(t->pstate);
    free(t);
}

/* A NUL must end each fixed-size string field. */
static int str_ok(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

int zg_tmpl_parse(const void *buf, size_t len, struct zg_tmpl **out, char *err, size_t errlen)
{
    const uint8_t *p = buf;
    struct zg_tmpl_header h;
    if (len < sizeof(h) + 8)
        return zg_errf(err, errlen, -EBADMSG, "manifest truncated: %zu bytes", len);
    memcpy(&h, p, sizeof(h));
    if (memcmp(h.magic, ZG_TMPL_MAGIC, 8) != 0)
        return zg_errf(err, errlen, -EBADMSG, "not a zerg template manifest (bad magic)");
    if (h.version_major != ZG_TMPL_VERSION_MAJOR)
        return zg_errf(err, errlen, -ENOTSUP, "manifest version %u.%u; this zerg reads %u.x",
                       h.version_major, h.version_minor, ZG_TMPL_VERSION_MAJOR);
    if (h.header_size < sizeof(h) || h.header_size > len - 8)
        return zg_errf(err, errlen, -EBADMSG, "header size %u is out of range", h.header_size);
    if (h.file_size != len)
        return zg_errf(err, errlen, -EBADMSG, "manifest is %zu bytes, its header says %llu", len,
                       (unsigned long long)h.file_size);
    uint64_t sum;
    memcpy(&sum, p + len - 8, 8);
    if (XXH3_64bits(p, len - 8) != sum)
        return zg_errf(err, errlen, -EBADMSG, "manifest checksum mismatch (damaged file)");
    if (h.page_size != ZG_PAGE_SIZE || h.hash_id != ZG_TMPL_HASH_XXH3_128)
        return zg_errf(err, errlen, -ENOTSUP, "page size %u / hash id %u not supported",
                       h.page_size, h.hash_id);

    struct zg_tmpl *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    int have_info = 0, have_vcpu = 0, have_pages = 0, rc;
    uint64_t off = h.header_size, end = len - 8;
    for (uint32_t i = 0; i < h.record_count; i++) {
        struct zg_tmpl_record r;
        if (end - off < sizeof(r)) {
            rc = zg_errf(err, errlen, -EBADMSG, "record %u header runs past the end", i);
            goto fail;
        }
        memcpy(&r, p + off, sizeof(r));
        off += sizeof(r);
        if (r.length > end - off || pad8(r.length) > end - off) {
            rc = zg_errf(err, errlen, -EBADMSG,
                         "record %u (type %u) of %llu bytes runs past the end", i, r.type,
                         (unsigned long long)r.length);
            goto fail;
        }
        const uint8_t *pl = p + off;
        switch (r.type) {
        case ZG_TMPL_REC_INFO:
            if (have_info || r.length != sizeof(t->info)) {
                rc = zg_errf(err, errlen, -EBADMSG, "record %u: bad or repeated INFO", i);
                goto fail;
            }
            memcpy(&t->info, pl, sizeof(t->info));
            have_info = 1;
            break;
        case ZG_TMPL_REC_VCPU:
            if (have_vcpu || r.length != sizeof(t->state)) {
                rc = zg_errf(err, errlen, -EBADMSG, "record %u: bad or repeated VCPU", i);
                goto fail;
            }
            memcpy(&t->state, pl, sizeof(t->state));
            have_vcpu = 1;
            break;
        case ZG_TMPL_REC_PAGES: {
            struct zg_tmpl_pages pg;
            if (have_pages || r.length < sizeof(pg)) {
                rc = zg_errf(err, errlen, -EBADMSG, "record %u: bad or repeated PAGES", i);
                goto fail;
            }
            memcpy(&pg, pl, sizeof(pg));
            if (pg.npages == 0 || pg.npages > ZG_TMPL_MAX_PAGES ||
                r.length != sizeof(pg) + pg.npages * sizeof(struct zg_pc_key)) {
                rc = zg_errf(err, errlen, -EBADMSG,
                             "record %u: PAGES length does not match %llu pages", i,
                             (unsigned long long)pg.npages);
                goto fail;
            }
            t->keys = malloc(pg.npages * sizeof(struct zg_pc_key));
            if (!t->keys) {
                rc = -ENOMEM;
                goto fail;
            }
            memcpy(t->keys, pl + sizeof(pg), pg.npages * sizeof(struct zg_pc_key));
            t->npages = pg.npages;
            have_pages = 1;
            break;
        }
        case ZG_TMPL_REC_PERSONA: {
            struct zg_tmpl_persona pr;
            if (t->persona.name[0] || r.length < sizeof(pr)) {
                rc = zg_errf(err, errlen, -EBADMSG, "record %u: bad or repeated PERSONA", i);
                goto fail;
            }
            memcpy(&pr, pl, sizeof(pr));
            if (!pr.name[0] || !str_ok(pr.name, sizeof(pr.name)) ||
                pr.state_len > ZG_TMPL_PERSONA_MAX || r.length != sizeof(pr) + pr.state_len) {
                rc = zg_errf(err, errlen, -EBADMSG,
                             "record %u: PERSONA name or state length is damaged", i);
                goto fail;
            }
            t->pstate = malloc(pr.state_len ? pr.state_len : 1);
            if (!t->pstate) {
                rc = -ENOMEM;
                goto fail;
            }
            memcpy(t->pstate, pl + sizeof(pr), pr.state_len);
            t->persona = pr;
            break;
        }
        default:
            if (!(r.flags & ZG_TMPL_REC_OPTIONAL)) {
                rc = zg_errf(err, errlen, -ENOTSUP, "record %u: unknown mandatory record type %u",
                             i, r.type);
                goto fail;
            }
            break; /* an optional record from a newer minor version */
        }
        off += pad8(r.length);
    }
    if (off != end) {
        rc = zg_errf(err, errlen, -EBADMSG, "%llu stray bytes after the last record",
                     (unsigned long long)(end - off));
        goto fail;
    }
    if (!have_info || !have_vcpu || !have_pages) {
        rc = zg_errf(err, errlen, -EBADMSG, "missing a mandatory record (%s%s%s)",
                     have_info ? "" : "INFO ", have_vcpu ? "" : "VCPU ", have_pages ? "" : "PAGES");
        goto fail;
    }
    /* Cross-checks of the INFO fields against each other and the page list. */
    struct zg_tmpl_info *in = &t->info;
    if (!str_ok(in->name, sizeof(in->name)) || !str_ok(in->backend, sizeof(in->backend)) ||
        !str_ok(in->guest, sizeof(in->guest)) || !str_ok(in->cmdline, sizeof(in->cmdline)) ||
        in->cmdline_len != strlen(in->cmdline)) {
        rc = zg_errf(err, errlen, -EBADMSG, "INFO: a string field is not terminated");
        goto fail;
    }
    if (in->mem_size % ZG_PAGE_SIZE || in->mem_size / ZG_PAGE_SIZE != t->npages) {
        rc = zg_errf(err, errlen, -EBADMSG, "INFO: memory size %llu does not match %llu pages",
                     (unsigned long long)in->mem_size, (unsigned long long)t->npages);
        goto fail;
    }
    if (in->ready_gpa < ZG_GUEST_LOAD_MIN || (in->ready_gpa & 7) ||
        in->ready_gpa > in->mem_size - sizeof(struct zg_hc_ready)) {
        rc = zg_errf(err, errlen, -EBADMSG, "INFO: READY address 0x%llx is outside guest memory",
                     (unsigned long long)in->ready_gpa);
        goto fail;
    }
    if (in->abi_version < ZG_ABI_VERSION_MIN || in->abi_version > ZG_ABI_VERSION) {
        rc = zg_errf(err, errlen, -ENOTSUP, "template guest speaks ABI v%u, this zerg v%u to v%u",
                     in->abi_version, ZG_ABI_VERSION_MIN, ZG_ABI_VERSION);
        goto fail;
    }
    t->file_size = len;
    *out = t;
    return 0;
fail:
    zg_tmpl_free(t);
    return rc;
}

int zg_tmpl_serialize(const struct zg_tmpl *t, void **bufp, size_t *lenp)
{
    struct zg_tmpl_pages pg = {.npages = t->npages};
    uint64_t keys_len = t->npages * sizeof(struct zg_pc_key);
    int has_persona = t->persona.name[0] != 0;
    uint64_t plen = has_persona ? sizeof(t->persona) + t->persona.state_len : 0;
    size_t len = sizeof(struct zg_tmpl_header) +
                 (3u + (unsigned)has_persona) * sizeof(struct zg_tmpl_record) +
                 pad8(sizeof(t->info)) + pad8(sizeof(t->state)) + pad8(sizeof(pg) + keys_len) +
                 pad8(plen) + 8;
    uint8_t *buf = calloc(1, len);
    if (!buf)
        return -ENOMEM;
    struct zg_tmpl_header h = {
        .version_major = ZG_TMPL_VERSION_MAJOR,
        .version_minor = ZG_TMPL_VERSION_MINOR,
        .header_size = sizeof(h),
        .file_size = len,
        .page_size = ZG_PAGE_SIZE,
        .hash_id = ZG_TMPL_HASH_XXH3_128,
        .record_count = 3u + (unsigned)has_persona,
    };
    memcpy(h.magic, ZG_TMPL_MAGIC, 8);
    memcpy(buf, &h, sizeof(h));
    size_t off = sizeof(h);
    struct zg_tmpl_record r = {.type = ZG_TMPL_REC_INFO, .length = sizeof(t->info)};
    memcpy(buf + off, &r, sizeof(r));
    memcpy(buf + off + sizeof(r), &t->info, sizeof(t->info));
    off += sizeof(r) + pad8(sizeof(t->info));
    r = (struct zg_tmpl_record){.type = ZG_TMPL_REC_VCPU, .length = sizeof(t->state)};
    memcpy(buf + off, &r, sizeof(r));
    memcpy(buf + off + sizeof(r), &t->state, sizeof(t->state));
    off += sizeof(r) + pad8(sizeof(t->state));
    r = (struct zg_tmpl_record){.type = ZG_TMPL_REC_PAGES, .length = sizeof(pg) + keys_len};
    memcpy(buf + off, &r, sizeof(r));
    memcpy(buf + off + sizeof(r), &pg, sizeof(pg));
    memcpy(buf + off + sizeof(r) + sizeof(pg), t->keys, keys_len);
    off += sizeof(r) + pad8(sizeof(pg) + keys_len);
    if (has_persona) {
        r = (struct zg_tmpl_record){.type = ZG_TMPL_REC_PERSONA, .length = plen};
        memcpy(buf + off, &r, sizeof(r));
        memcpy(buf + off + sizeof(r), &t->persona, sizeof(t->persona));
        if (t->persona.state_len)
            memcpy(buf + off + sizeof(r) + sizeof(t->persona), t->pstate, t->persona.state_len);
        off += sizeof(r) + pad8(plen);
    }
    uint64_t sum = XXH3_64bits(buf, off);
    memcpy(buf + off, &sum, 8);
    *bufp = buf;
    *lenp = len;
    return 0;
}

int zg_tmpl_load(const char *home, const char *name, struct zg_tmpl **out, char *err, size_t errlen)
{
    char path[4096];
    int rc = zg_tmpl_path(home, name, path, sizeof(path));
    if (rc < 0)
        return zg_errf(err, errlen, rc, "'%s' is not a valid template name", name);
    void *buf;
    size_t len;
    rc = zg_file_read(path, ZG_TMPL_MAX_FILE, &buf, &len);
    if (rc == -ENOENT)
        return zg_errf(err, errlen, rc, "no template '%s' (%s)", name, path);
    if (rc < 0)
        return zg_errf(err, errlen, rc, "template '%s': cannot read %s: %s", name, path,
                       rc == -EFBIG ? "larger than 64 MiB" : strerror(-rc));
    char why[256];
    rc = zg_tmpl_parse(buf, len, out, why, sizeof(why));
    free(buf);
    if (rc < 0)
        return zg_errf(err, errlen, rc, "template '%s' (%s): %s", name, path, why);
    if (strcmp((*out)->info.name, name) != 0) {
        zg_tmpl_free(*out);
        return zg_errf(err, errlen, -EBADMSG, "template '%s' (%s) names itself '%.64s'", name, path,
                       (*out)->info.name);
    }
    return 0;
}

static int mkdir_p(const char *dir)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s", dir);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -ENAMETOOLONG;
    for (char *s = tmp + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int zg_tmpl_store(const char *home, const struct zg_tmpl *t, int replace, char *err, size_t errlen)
{
    void *buf;
    size_t len;
    int rc = zg_tmpl_serialize(t, &buf, &len);
    if (rc < 0)
        return zg_errf(err, errlen, rc, "template '%s': out of memory", t->info.name);
    rc = zg_tmpl_store_bytes(home, t->info.name, buf, len, replace, err, errlen);
    free(buf);
    return rc;
}

int zg_tmpl_store_bytes(const char *home, const char *name, const void *buf, size_t len,
                        int replace, char *err, size_t errlen)
{
    char path[4096], dir[4096], tmp[4200];
    int rc = zg_tmpl_path(home, name, path, sizeof(path));
    if (rc < 0)
        return zg_errf(err, errlen, rc, "'%s' is not a valid template name", name);
    snprintf(dir, sizeof(dir), "%s/templates", home);
    rc = mkdir_p(dir);
    if (rc < 0)
        return zg_errf(err, errlen, rc, "cannot create %s: %s", dir, strerror(-rc));
    if (!replace && access(path, F_OK) == 0)
        return zg_errf(err, errlen, -EEXIST, "template '%s' exists (%s)", name, path);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        return zg_errf(err, errlen, rc, "cannot create %s: %s", tmp, strerror(-rc));
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, (const uint8_t *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : -EIO;
            break;
        }
        done += (size_t)n;
    }
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        return zg_errf(err, errlen, rc, "cannot write template '%s' (%s): %s", name, path,
                       strerror(-rc));
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int zg_tmpl_list(const char *home, char ***names, size_t *n)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/templates", home);
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    size_t sl = strlen(ZG_TMPL_SUFFIX);
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= sl || strcmp(e->d_name + l - sl, ZG_TMPL_SUFFIX) != 0 || e->d_name[0] == '.')
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
        }
        v[cnt] = strndup(e->d_name, l - sl);
        if (!v[cnt]) {
            rc = -ENOMEM;
            break;
        }
        cnt++;
    }
    closedir(d);
    if (rc < 0) {
        zg_tmpl_list_free(v, cnt);
        return rc;
    }
    qsort(v, cnt, sizeof(*v), cmp_str);
    *names = v;
    *n = cnt;
    return 0;
}

void zg_tmpl_list_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}
