/* Page cache handle: open, load the index, scan pack tails, recover, refresh, close. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pagecache/pc_internal.h"

void pc_pack_name(uint32_t id, char out[32])
{
    snprintf(out, 32, "pack-%08x.zpk", id);
}

static int parse_pack_name(const char *s, uint32_t *id)
{
    unsigned v;
    char tail[8];
    if (strlen(s) != 17 || sscanf(s, "pack-%8x%7s", &v, tail) != 2 || strcmp(tail, ".zpk"))
        return -1;
    *id = v;
    return 0;
}

int pc_lock(int fd, int op, const char *what)
{
    if (fd < 0)
        return 0;
    while (flock(fd, op) < 0) {
        if (errno != EINTR)
            return pc_err(-errno, "cannot lock %s: %s", what, strerror(errno));
    }
    return 0;
}

void pc_unlock(int fd)
{
    if (fd >= 0)
        flock(fd, LOCK_UN);
}

int pc_pack_remap(struct pc_pack *p)
{
    struct stat st;
    if (fstat(p->fd, &st) < 0)
        return -errno;
    uint64_t size = (uint64_t)st.st_size;
    if (size == p->map_len)
        return 0;
    if (p->map)
        munmap(p->map, p->map_len);
    p->map = NULL;
    p->map_len = 0;
    if (size == 0)
        return 0;
    void *m = mmap(NULL, size, PROT_READ, MAP_SHARED, p->fd, 0);
    if (m == MAP_FAILED)
        return -errno;
    p->map = m;
    p->map_len = size;
    return 0;
}

/* Opens pack id and appends it to pc->packs (packs stay sorted by id as ids
 * only grow). A damaged header keeps the pack listed but unreadable. */
static int pack_open(struct zg_pc *pc, uint32_t id, uint64_t covered)
{
    char name[32];
    pc_pack_name(id, name);
    if (pc->npacks == pc->cap_packs) {
        size_t cap = pc->cap_packs ? pc->cap_packs * 2 : 16;
        struct pc_pack *np = realloc(pc->packs, cap * sizeof(*np));
        if (!np)
            return -ENOMEM;
        pc->packs = np;
        pc->cap_packs = cap;
    }
    int wr = (pc->flags & ZG_PC_WRITE) != 0;
    int fd = openat(pc->packsfd, name, (wr ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return pc_err(-errno, "%s/packs/%s: %s", pc->dir, name, strerror(errno));
    struct pc_pack *p = &pc->packs[pc->npacks];
    memset(p, 0, sizeof(*p));
    p->id = id;
    p->fd = fd;
    int rc = pc_pack_remap(p);
    if (rc < 0) {
        close(fd);
        return pc_err(rc, "%s/packs/%s: cannot map: %s", pc->dir, name, strerror(-rc));
    }
    const char *why;
    if (pc_pack_hdr_check(p->map, p->map_len, id, &p->newer_minor, &why) < 0)
        p->damaged = 2; /* header unusable: entries stay listed, reads fail */
    p->covered = covered < sizeof(struct zg_pc_pack_hdr) ? sizeof(struct zg_pc_pack_hdr) : covered;
    p->end = p->covered;
    if (id > pc->max_pack_id)
        pc->max_pack_id = id;
    return (int)pc->npacks++;
}

/* Scans a pack from p->end: adds complete records to the table, skips damage
 * that valid records follow, and stops at a torn tail, which a writer cuts. */
static int scan_tail(struct zg_pc *pc, uint32_t slot, int writer)
{
    struct pc_pack *p = &pc->packs[slot];
    if (p->damaged == 2)
        return 0;
    if (p->map_len < p->end) {
        p->damaged = 1; /* truncated below what the index covers */
        return 0;
    }
    uint64_t off = p->end;
    while (off < p->map_len) {
        struct pc_rec r;
        const char *why;
        if (pc_rec_parse(p->map, p->map_len, off, &r, &why) == 0) {
            struct pc_ent e = {.key = r.key, .off = off, .pack = slot, .len = r.len, .enc = r.enc};
            int rc = pc_table_insert(&pc->tab, &e);
            if (rc < 0)
                return pc_err(rc, "out of memory for the page index");
            off += sizeof(struct zg_pc_rec_hdr) + r.len;
            p->end = off;
            pc->index_dirty = 1;
            continue;
        }
        uint64_t next = pc_rec_resync(p->map, p->map_len, off);
        if (next != UINT64_MAX) {
            p->damaged = 1; /* a damaged record with complete ones after it: keep them */
            off = next;
            p->end = off;
            continue;
        }
        if (writer) { /* torn tail of an interrupted append: cut it */
            char name[32];
            pc_pack_name(p->id, name);
            if (ftruncate(p->fd, (off_t)off) < 0 || fsync(p->fd) < 0)
                return pc_err(-errno, "%s/packs/%s: cannot cut the torn tail at %llu: %s", pc->dir,
                              name, (unsigned long long)off, strerror(errno));
            int rc = pc_pack_remap(p);
            if (rc < 0)
                return pc_err(rc, "%s/packs/%s: cannot map: %s", pc->dir, name, strerror(-rc));
        }
        break;
    }
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorted ids of the pack files in packs/. Removes leftover tmp files if writer. */
static int list_packs(struct zg_pc *pc, int writer, uint32_t **ids, size_t *n)
{
    int fd = dup(pc->packsfd);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    rewinddir(d);
    uint32_t *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        uint32_t id;
        if (writer && !strncmp(de->d_name, ".tmp-", 5)) {
            unlinkat(pc->packsfd, de->d_name, 0);
            continue;
        }
        if (parse_pack_name(de->d_name, &id) < 0)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            uint32_t *nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                rc = -ENOMEM;
                goto out;
            }
            v = nv;
        }
        v[cnt++] = id;
    }
    if (cnt)
        qsort(v, cnt, sizeof(*v), cmp_u32);
    *ids = v;
    *n = cnt;
    v = NULL;
out:
    free(v);
    closedir(d);
    return rc;
}

/* Deletes .tmp-* files a crashed writer left in dirfd (we hold the write lock,
 * and every tmp file is written under it, so none is in progress). */
static void remove_tmp_files(int dirfd)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    rewinddir(d);
    struct dirent *de;
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, ".tmp-", 5))
            unlinkat(dirfd, de->d_name, 0);
    closedir(d);
}

static int pack_slot(const struct zg_pc *pc, uint32_t id)
{
    size_t lo = 0, hi = pc->npacks;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (pc->packs[mid].id == id)
            return (int)mid;
        if (pc->packs[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void unload(struct zg_pc *pc)
{
    for (size_t i = 0; i < pc->npacks; i++) {
        if (pc->packs[i].map)
            munmap(pc->packs[i].map, pc->packs[i].map_len);
        close(pc->packs[i].fd);
    }
    pc->npacks = 0;
    pc_table_free(&pc->tab);
    pc->max_pack_id = 0;
    pc->index_dirty = 0;
}

/* Loads everything from disk. The caller holds the GC lock shared (reader)
 * or the write lock (writer: recovery allowed). */
static int load(struct zg_pc *pc, int writer)
{
    uint8_t *ibuf = NULL;
    size_t ilen = 0;
    uint32_t *ids = NULL;
    size_t nids = 0;
    struct pc_index_view v;
    int have_index = 0;
    const char *why = "";
    int rc = pc_read_file(pc->dirfd, "index", 64ull << 30, &ibuf, &ilen);
    if (rc == 0) {
        rc = pc_index_parse(ibuf, ilen, 0, &v, &why);
        if (rc == -ENOTSUP) {
            rc = pc_err(rc, "%s/index: %s (version %u.%u)", pc->dir, why, v.hdr.major, v.hdr.minor);
            goto out;
        }
        have_index = rc == 0;
        if (have_index && v.newer_minor && writer) {
            rc = pc_err(-ENOTSUP, "%s/index: format %u.%u is newer than %u.%u; not writing",
                        pc->dir, v.hdr.major, v.hdr.minor, ZG_PC_FMT_MAJOR, ZG_PC_FMT_MINOR);
            goto out;
        }
    } else if (rc != -ENOENT && rc != -EFBIG) {
        rc = pc_err(rc, "%s/index: %s", pc->dir, strerror(-rc));
        goto out;
    }
    if (!have_index)
        pc->index_dirty = 1; /* missing or damaged: rebuilt from the packs */
    pc->generation = have_index ? v.hdr.generation : 0;
    pc->gc_generation = have_index ? v.hdr.gc_generation : 0;
    uint32_t idx_max = have_index ? v.hdr.max_pack_id : 0;
    if (writer) {
        remove_tmp_files(pc->dirfd);
        remove_tmp_files(pc->rootsfd);
    }

    if ((rc = list_packs(pc, writer, &ids, &nids)) < 0) {
        rc = pc_err(rc, "%s/packs: cannot list: %s", pc->dir, strerror(-rc));
        goto out;
    }
    for (size_t i = 0; i < nids; i++) {
        uint64_t covered = 0;
        int listed = 0;
        for (uint32_t j = 0; have_index && j < v.hdr.npacks; j++) {
            struct zg_pc_index_pack ip;
            pc_index_pack_at(&v, j, &ip);
            if (ip.pack_id == ids[i]) {
                covered = ip.covered;
                listed = 1;
                break;
            }
        }
        if (!listed && have_index && ids[i] <= idx_max) {
            /* Left over by a GC interrupted after its index swap. */
            if (writer) {
                char name[32];
                pc_pack_name(ids[i], name);
                unlinkat(pc->packsfd, name, 0);
            }
            continue;
        }
        if ((rc = pack_open(pc, ids[i], covered)) < 0)
            goto out;
        if (pc->packs[rc].newer_minor && writer) {
            rc = pc_err(-ENOTSUP, "%s/packs: pack %08x has a newer minor format; not writing",
                        pc->dir, ids[i]);
            goto out;
        }
    }
    if (idx_max > pc->max_pack_id)
        pc->max_pack_id = idx_max;
    if (have_index) {
        if ((rc = pc_table_reserve(&pc->tab, (size_t)v.hdr.nentries)) < 0) {
            rc = pc_err(rc, "out of memory for %llu index entries",
                        (unsigned long long)v.hdr.nentries);
            goto out;
        }
        for (uint64_t i = 0; i < v.hdr.nentries; i++) {
            struct zg_pc_index_entry e;
            pc_index_entry_at(&v, i, &e);
            int slot = pack_slot(pc, e.pack_id);
            if (slot < 0 || pc_index_entry_check(&e, &why) < 0 ||
                e.offset + sizeof(struct zg_pc_rec_hdr) + e.len > pc->packs[slot].covered) {
                pc->index_dirty = 1;
                continue;
            }
            struct pc_ent te = {
                .off = e.offset, .pack = (uint32_t)slot, .len = e.len, .enc = e.enc};
            memcpy(te.key.b, e.key, 16);
            if ((rc = pc_table_insert(&pc->tab, &te)) < 0)
                goto out;
        }
    }
    for (size_t i = 0; i < pc->npacks; i++)
        if ((rc = scan_tail(pc, (uint32_t)i, writer)) < 0)
            goto out;
    rc = 0;
    if (writer && pc->index_dirty)
        rc = pc_index_write(pc);
out:
    free(ibuf);
    free(ids);
    return rc;
}

int pc_reload(struct zg_pc *pc, int writer)
{
    unload(pc);
    return load(pc, writer);
}

int pc_refresh_locked(struct zg_pc *pc, int writer)
{
    struct zg_pc_index_hdr h;
    int fd = openat(pc->dirfd, "index", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t r = pread(fd, &h, sizeof(h), 0);
        close(fd);
        if (r == (ssize_t)sizeof(h) && !memcmp(h.magic, ZG_PC_INDEX_MAGIC, 8) &&
            h.hdr_checksum == pc_xxh64(&h, offsetof(struct zg_pc_index_hdr, hdr_checksum)) &&
            h.gc_generation != pc->gc_generation) {
            unload(pc); /* a GC rewrote packs: start over */
            return load(pc, writer);
        }
    }
    for (size_t i = 0; i < pc->npacks; i++) {
        struct pc_pack *p = &pc->packs[i];
        if (p->damaged == 2)
            continue;
        int rc = pc_pack_remap(p);
        if (rc < 0)
            return pc_err(rc, "%s/packs/pack-%08x.zpk: cannot map: %s", pc->dir, p->id,
                          strerror(-rc));
        if ((rc = scan_tail(pc, (uint32_t)i, writer)) < 0)
            return rc;
    }
    uint32_t *ids = NULL;
    size_t n = 0;
    int rc = list_packs(pc, 0, &ids, &n);
    if (rc < 0)
        return pc_err(rc, "%s/packs: cannot list: %s", pc->dir, strerror(-rc));
    for (size_t i = 0; i < n && rc >= 0; i++) {
        if (ids[i] <= pc->max_pack_id)
            continue;
        rc = pack_open(pc, ids[i], 0);
        if (rc >= 0)
            rc = scan_tail(pc, (uint32_t)rc, writer);
    }
    free(ids);
    return rc < 0 ? rc : 0;
}

int pc_index_write(struct zg_pc *pc)
{
    size_t np = pc->npacks, ne = pc->tab.n;
    size_t len = sizeof(struct zg_pc_index_hdr) + np * sizeof(struct zg_pc_index_pack) +
                 ne * sizeof(struct zg_pc_index_entry) + sizeof(struct zg_pc_index_trailer);
    uint8_t *buf = malloc(len);
    if (!buf)
        return pc_err(-ENOMEM, "out of memory writing %s/index", pc->dir);
    struct zg_pc_index_hdr h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, ZG_PC_INDEX_MAGIC, 8);
    h.major = ZG_PC_FMT_MAJOR;
    h.minor = ZG_PC_FMT_MINOR;
    h.hdr_size = sizeof(h);
    h.page_size = ZG_PC_PAGE_SIZE;
    h.hash_id = ZG_PC_HASH_XXH3_128;
    h.comp_id = ZG_PC_COMP_LZ4;
    h.npacks = (uint32_t)np;
    h.max_pack_id = pc->max_pack_id;
    h.nentries = ne;
    h.generation = pc->generation + 1;
    h.gc_generation = pc->gc_generation;
    h.hdr_checksum = pc_xxh64(&h, offsetof(struct zg_pc_index_hdr, hdr_checksum));
    memcpy(buf, &h, sizeof(h));
    uint8_t *w = buf + sizeof(h);
    for (size_t i = 0; i < np; i++) {
        const struct pc_pack *p = &pc->packs[i];
        struct zg_pc_index_pack ip = {.pack_id = p->id,
                                      .covered = p->end > p->covered ? p->end : p->covered};
        memcpy(w, &ip, sizeof(ip));
        w += sizeof(ip);
    }
    for (size_t i = 0; i < pc->tab.cap; i++) {
        const struct pc_ent *e = &pc->tab.slots[i];
        if (!e->enc)
            continue;
        struct zg_pc_index_entry ie = {
            .offset = e->off, .pack_id = pc->packs[e->pack].id, .len = e->len, .enc = e->enc};
        memcpy(ie.key, e->key.b, 16);
        memcpy(w, &ie, sizeof(ie));
        w += sizeof(ie);
    }
    struct zg_pc_index_trailer t;
    memcpy(t.magic, ZG_PC_INDEX_END, 8);
    t.checksum = pc_xxh64(buf, (size_t)(w - buf));
    memcpy(w, &t, sizeof(t));
    int rc = pc_atomic_write(pc->dirfd, "index", buf, len);
    free(buf);
    if (rc < 0)
        return pc_err(rc, "%s/index: %s", pc->dir, zg_pc_last_error());
    pc->generation++;
    for (size_t i = 0; i < np; i++)
        if (pc->packs[i].end > pc->packs[i].covered)
            pc->packs[i].covered = pc->packs[i].end;
    pc->index_dirty = 0;
    return 0;
}

int pc_pack_create(struct zg_pc *pc, uint32_t id)
{
    char name[32], tmp[48];
    pc_pack_name(id, name);
    snprintf(tmp, sizeof(tmp), ".tmp-%s", name);
    struct zg_pc_pack_hdr h;
    pc_pack_hdr_init(&h, id);
    int rc, fd = openat(pc->packsfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return pc_err(-errno, "%s/packs/%s: %s", pc->dir, tmp, strerror(errno));
    rc = pc_write_all(fd, &h, sizeof(h));
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && renameat(pc->packsfd, tmp, pc->packsfd, name) < 0)
        rc = -errno;
    if (rc == 0 && fsync(pc->packsfd) < 0)
        rc = -errno;
    if (rc < 0) {
        unlinkat(pc->packsfd, tmp, 0);
        return pc_err(rc, "%s/packs/%s: cannot create: %s", pc->dir, name, strerror(-rc));
    }
    return pack_open(pc, id, 0);
}

static int mkdir_p(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return -ENAMETOOLONG;
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int open_sub(struct zg_pc *pc, const char *sub, int create)
{
    if (create && mkdirat(pc->dirfd, sub, 0755) < 0 && errno != EEXIST)
        return pc_err(-errno, "%s/%s: cannot create: %s", pc->dir, sub, strerror(errno));
    int fd = openat(pc->dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return pc_err(-errno, "%s: not a page cache (%s/: %s)", pc->dir, sub, strerror(errno));
    return fd;
}

static int open_lock(struct zg_pc *pc, const char *name)
{
    int fd = openat(pc->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        fd = openat(pc->dirfd, name, O_RDONLY | O_CLOEXEC);
    return fd; /* -1: a read-only cache we cannot lock; readers go on unlocked */
}

int zg_pc_open(const char *dir, unsigned flags, struct zg_pc **out)
{
    pc_err_clear();
    int rc;
    int writer = (flags & ZG_PC_WRITE) != 0;
    struct zg_pc *pc = calloc(1, sizeof(*pc));
    if (!pc)
        return pc_err(-ENOMEM, "out of memory");
    pc->dirfd = pc->packsfd = pc->rootsfd = pc->gc_lock_fd = pc->wr_lock_fd = -1;
    pc->flags = flags;
    pc->threads = pc_nthreads(0);
    pthread_rwlock_init(&pc->rw, NULL);
    if (!(pc->dir = strdup(dir))) {
        rc = pc_err(-ENOMEM, "out of memory");
        goto fail;
    }
    if ((flags & ZG_PC_CREATE) && (rc = mkdir_p(dir)) < 0) {
        rc = pc_err(rc, "%s: cannot create: %s", dir, strerror(-rc));
        goto fail;
    }
    if ((pc->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = pc_err(-errno, "no page cache at %s: %s", dir, strerror(errno));
        goto fail;
    }
    int create = (flags & ZG_PC_CREATE) || writer;
    if ((rc = pc->packsfd = open_sub(pc, "packs", create)) < 0 ||
        (rc = pc->rootsfd = open_sub(pc, "roots", create)) < 0)
        goto fail;
    pc->gc_lock_fd = open_lock(pc, "gc.lock");
    pc->wr_lock_fd = open_lock(pc, "write.lock");
    if (writer && (pc->gc_lock_fd < 0 || pc->wr_lock_fd < 0)) {
        rc = pc_err(-EACCES, "%s: cannot open the lock files for writing", dir);
        goto fail;
    }
    int lfd = writer ? pc->wr_lock_fd : pc->gc_lock_fd;
    if ((rc = pc_lock(lfd, writer ? LOCK_EX : LOCK_SH, dir)) < 0)
        goto fail;
    rc = load(pc, writer);
    pc_unlock(lfd);
    if (rc < 0)
        goto fail;
    *out = pc;
    return 0;
fail:
    zg_pc_close(pc);
    return rc;
}

void zg_pc_close(struct zg_pc *pc)
{
    if (!pc)
        return;
    unload(pc);
    free(pc->packs);
    int fds[] = {pc->dirfd, pc->packsfd, pc->rootsfd, pc->gc_lock_fd, pc->wr_lock_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    pthread_rwlock_destroy(&pc->rw);
    free(pc->dir);
    free(pc);
}

int zg_pc_refresh(struct zg_pc *pc)
{
    pc_err_clear();
    pthread_rwlock_wrlock(&pc->rw);
    int rc = pc_lock(pc->gc_lock_fd, LOCK_SH, pc->dir);
    if (rc == 0) {
        rc = pc_refresh_locked(pc, 0);
        pc_unlock(pc->gc_lock_fd);
    }
    pthread_rwlock_unlock(&pc->rw);
    return rc;
}

const char *zg_pc_dir(const struct zg_pc *pc)
{
    return pc->dir;
}
