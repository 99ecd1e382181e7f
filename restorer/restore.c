/* zg_restore: the shared memory image of a template, and instances from it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "monitor/zg_persona.h"
#include "restorer/zg_restore.h"

static const char *image_dir(void)
{
    const char *d = getenv("ZERG_IMAGE_DIR");
    return d && *d ? d : "/dev/shm";
}

/* The image's identity: the template's name and a hash of its page list and
 * memory size, so a re-created template never reuses a stale image. */
static uint64_t image_tag(const struct zg_tmpl *t)
{
    XXH3_state_t *s = XXH3_createState();
    XXH3_64bits_reset(s);
    XXH3_64bits_update(s, &t->info.mem_size, sizeof(t->info.mem_size));
    XXH3_64bits_update(s, t->keys, t->npages * sizeof(struct zg_pc_key));
    uint64_t h = XXH3_64bits_digest(s);
    XXH3_freeState(s);
    return h;
}

/* An existing image file is used only if it is ours, regular and whole. */
static int open_existing(const char *path, uint64_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_uid != getuid() ||
        (uint64_t)sb.st_size != size) {
        close(fd);
        return -ESTALE;
    }
    return fd;
}

static int materialize(const struct zg_tmpl *t, const char *home, const char *path, char *err,
                       size_t errlen)
{
    char dir[4096], tmp[600];
    int n = snprintf(dir, sizeof(dir), "%s/cache", home);
    if (n < 0 || (size_t)n >= sizeof(dir))
        return zg_errf(err, errlen, -ENAMETOOLONG, "home path too long");
    struct zg_pc *pc;
    int rc = zg_pc_open(dir, 0, &pc);
    if (rc < 0) /* the template exists: a cache it cannot use is damage (-EIO), not absence */
        return zg_errf(err, errlen, rc == -ENOENT ? -EIO : rc,
                       "template '%s': cannot open the page cache: %s", t->info.name,
                       zg_pc_last_error());
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    /* Read-only once published: nothing should ever write it again (a
     * process that opens it checks it all the same: image_matches). */
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0400);
    if (fd < 0) {
        rc = -errno;
        zg_pc_close(pc);
        return zg_errf(err, errlen, rc, "cannot create %s: %s", tmp, strerror(-rc));
    }
    /* Every page is checked against its key: a damaged cache refuses here. */
    rc = zg_pc_materialize_fd(pc, t->keys, t->npages, fd, 0, ZG_PC_VERIFY);
    if (rc == -ENOENT || rc == -EBADMSG)
        rc = -EIO; /* a page missing or damaged: the template is damaged */
    if (rc < 0)
        zg_errf(err, errlen, rc, "template '%s' cannot be restored: %s", t->info.name,
                zg_pc_last_error());
    else if (ftruncate(fd, (off_t)t->info.mem_size) < 0)
        rc = zg_errf(err, errlen, -errno, "cannot size %s: %s", tmp, strerror(errno));
    else if (rename(tmp, path) < 0)
        rc = zg_errf(err, errlen, -errno, "cannot publish %s: %s", path, strerror(errno));
    close(fd);
    if (rc < 0)
        unlink(tmp);
    zg_pc_close(pc);
    return rc;
}

static int page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)p;
    uint64_t acc = 0;
    for (size_t i = 0; i < ZG_PAGE_SIZE / 8; i++)
        acc |= w[i];
    return acc == 0;
}

static int page_matches(const struct zg_pc_key *key, const uint8_t *pg)
{
    if (zg_pc_key_is_zero(key))
        return page_is_zero(pg);
    struct zg_pc_key k;
    zg_pc_page_key(pg, &k);
    return memcmp(&k, key, sizeof(k)) == 0;
}

/* Whether every page of an image equals the template's key for it (a zero
 * key: all zero bytes). 0, or -EBADMSG with *bad the first page that does
 * not (or another negative errno). An image file found in the shared
 * directory was written by some process of this user, and any of them could
 * have changed it since. Holes in the file (materialize writes no zero
 * page) read as zeros without being read: only pages with data are hashed. */
static int image_matches(const struct zg_tmpl *t, int fd, const uint8_t *map, uint64_t *bad)
{
    const uint64_t size = t->npages * ZG_PAGE_SIZE;
    uint64_t pos = 0;
    while (pos < size) {
        off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
        uint64_t data = d < 0 ? size : (uint64_t)d; /* ENXIO: no data after pos */
        if (d < 0 && errno != ENXIO)
            return -errno;
        if (data > size)
            data = size;
        for (uint64_t p = pos / ZG_PAGE_SIZE; p < data / ZG_PAGE_SIZE; p++)
            if (!zg_pc_key_is_zero(&t->keys[p])) { /* a hole where data belongs */
                *bad = p;
                return -EBADMSG;
            }
        if (data >= size)
            break;
        off_t h = lseek(fd, (off_t)data, SEEK_HOLE);
        uint64_t hole = h < 0 || (uint64_t)h > size ? size : (uint64_t)h;
        uint64_t end = (hole + ZG_PAGE_SIZE - 1) / ZG_PAGE_SIZE;
        for (uint64_t p = data / ZG_PAGE_SIZE; p < end && p < t->npages; p++)
            if (!page_matches(&t->keys[p], map + p * ZG_PAGE_SIZE)) {
                *bad = p;
                return -EBADMSG;
            }
        pos = end * ZG_PAGE_SIZE;
    }
    return 0;
}

static int map_image(struct zg_image *img, char *err, size_t errlen)
{
    img->map = mmap(NULL, img->tmpl->info.mem_size, PROT_READ, MAP_SHARED, img->fd, 0);
    if (img->map == MAP_FAILED) {
        img->map = NULL;
        return zg_errf(err, errlen, -errno, "cannot map %s: %s", img->path, strerror(errno));
    }
    return 0;
}

int zg_image_open(const char *home, const char *name, unsigned flags, struct zg_image **out,
                  char *err, size_t errlen)
{
    uint64_t t0 = zg_now_ns();
    struct zg_image *img = calloc(1, sizeof(*img));
    if (!img)
        return zg_errf(err, errlen, -ENOMEM, "out of memory");
    img->fd = -1;
    int rc = zg_tmpl_load(home, name, &img->tmpl, err, errlen);
    if (rc < 0)
        goto fail;
    snprintf(img->path, sizeof(img->path), "%s/zerg-%u-%s-%016llx.img", image_dir(),
             (unsigned)getuid(), name, (unsigned long long)image_tag(img->tmpl));
    if (!(flags & ZG_IMAGE_FRESH)) {
        img->fd = open_existing(img->path, img->tmpl->info.mem_size);
        if (img->fd >= 0) {
            /* Found, not made here: proven page by page before any use. */
            rc = map_image(img, err, errlen);
            if (rc < 0)
                goto fail;
            uint64_t v0 = zg_now_ns(), bad = 0;
            rc = image_matches(img->tmpl, img->fd, img->map, &bad);
            img->verify_ns = zg_now_ns() - v0;
            if (rc == 0)
                goto done;
            if (rc != -EBADMSG) {
                zg_errf(err, errlen, rc, "cannot check %s: %s", img->path, strerror(-rc));
                goto fail;
            }
            snprintf(img->note, sizeof(img->note),
                     "the memory image %s did not match template '%s' (page %llu differs): "
                     "rebuilt from the page cache",
                     img->path, name, (unsigned long long)bad);
            munmap((void *)img->map, img->tmpl->info.mem_size);
            img->map = NULL;
            close(img->fd);
            img->fd = -1;
        }
    }
    /* Every page is checked against its key as it comes out of the cache. */
    rc = materialize(img->tmpl, home, img->path, err, errlen);
    if (rc < 0)
        goto fail;
    img->created = 1;
    img->fd = open_existing(img->path, img->tmpl->info.mem_size);
    if (img->fd < 0) {
        rc = zg_errf(err, errlen, img->fd, "cannot open %s: %s", img->path, strerror(-img->fd));
        goto fail;
    }
    rc = map_image(img, err, errlen);
    if (rc < 0)
        goto fail;
done:
    img->open_ns = zg_now_ns() - t0;
    *out = img;
    return 0;
fail:
    zg_image_close(img);
    return rc;
}

void zg_image_close(struct zg_image *img)
{
    if (!img)
        return;
    if (img->map)
        munmap((void *)img->map, img->tmpl->info.mem_size);
    if (img->fd >= 0)
        close(img->fd);
    zg_tmpl_free(img->tmpl);
    free(img);
}

void zg_image_unlink_all(const char *name)
{
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "zerg-%u-%s-", (unsigned)getuid(), name);
    size_t pl = strlen(prefix);
    DIR *d = opendir(image_dir());
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        /* prefix, 16 hex digits, ".img" */
        if (l == pl + 16 + 4 && strncmp(e->d_name, prefix, pl) == 0 &&
            strcmp(e->d_name + l - 4, ".img") == 0)
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

int zg_image_check_backend(const struct zg_image *img, const struct zg_hv_ops *hv, char *err,
                           size_t errlen)
{
    const struct zg_tmpl *t = img->tmpl;
    const char *backend = hv ? hv->name : "kvm";
    if (strcmp(t->info.backend, backend) != 0)
        return zg_errf(err, errlen, -ENOTSUP,
                       "template '%s' was captured on %s, not %s (use --backend %s)", t->info.name,
                       t->info.backend, backend, t->info.backend);
    return 0;
}

/* A template of another personality: the state its PERSONA record carries. */
static int load_persona(const struct zg_tmpl *t, struct zg_instance *in)
{
    if (!t->persona.name[0])
        return 0;
    return zg_inst_persona_load(in, t->persona.name, t->persona.version, t->pstate,
                                t->persona.state_len);
}

int zg_restore(const struct zg_image *img, const struct zg_inst_config *cfg,
               struct zg_instance **out, char *err, size_t errlen)
{
    const struct zg_tmpl *t = img->tmpl;
    struct zg_inst_config c = *cfg;
    int rc = zg_image_check_backend(img, c.hv, err, errlen);
    if (rc < 0)
        return rc;
    int copy = c.hv && (c.hv->caps & ZG_HV_CAP_PARAVIRT); /* the hypervisor owns guest memory */
    c.mem_size = t->info.mem_size;
    c.image_fd = copy ? -1 : img->fd;
    c.flags &= ~ZG_INST_STOP_AT_READY;
    struct zg_instance *in = NULL;
    rc = zg_inst_create(&c, &in);
    if (rc < 0) {
        zg_errf(err, errlen, rc, "restoring '%s': %s", t->info.name,
                in ? zg_inst_error(in) : strerror(-rc));
        goto fail;
    }
    if (copy) {
        /* Fresh memory from the hypervisor is zeroed: only the pages whose
         * key is not the zero page's are copied. */
        uint8_t *mem = zg_inst_mem(in, NULL);
        for (uint64_t i = 0; i < t->npages; i++)
            if (!zg_pc_key_is_zero(&t->keys[i]))
                memcpy(mem + i * ZG_PAGE_SIZE, img->map + i * ZG_PAGE_SIZE, ZG_PAGE_SIZE);
    }
    rc = zg_inst_resume(in, &t->state, t->info.ready_gpa);
    if (rc == 0)
        rc = load_persona(t, in);
    if (rc == 0 && !(c.flags & ZG_INST_ANSWER_LATER))
        rc = zg_inst_complete_ready(in, 1);
    if (rc < 0) {
        zg_errf(err, errlen, rc, "restoring '%s': %s", t->info.name, zg_inst_error(in));
        goto fail;
    }
    *out = in;
    return 0;
fail:
    zg_inst_destroy(in);
    return rc;
}

int zg_restore_reset(const struct zg_image *img, struct zg_instance *in, uint64_t *copied,
                     char *err, size_t errlen)
{
    const struct zg_tmpl *t = img->tmpl;
    int rc = zg_inst_reset(in, img->map, &t->state, t->info.ready_gpa, copied);
    if (rc == 0)
        rc = load_persona(t, in); /* its host-side state is put back too */
    if (rc == 0 && !(zg_inst_flags(in) & ZG_INST_ANSWER_LATER))
        rc = zg_inst_complete_ready(in, 1);
    if (rc < 0)
        return zg_errf(err, errlen, rc, "resetting an instance of '%s': %s", t->info.name,
                       zg_inst_error(in));
    return 0;
}
