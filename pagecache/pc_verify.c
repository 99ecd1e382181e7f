/* Page cache verify: an independent check of index, packs and roots against the format. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pagecache/pc_internal.h"

struct vpack {
    uint32_t id;
    int listed;
    uint64_t covered;
    uint8_t *map;
    uint64_t size;
    int hdr_ok;
};

struct vidx { /* index entries sorted by (pack, offset) */
    uint32_t pack;
    uint64_t off;
    uint64_t i;
};

struct vctx {
    struct zg_pc *pc;
    zg_pc_problem_fn fn;
    void *arg;
    struct zg_pc_verify_report *rep;
    struct vidx *ix;
    size_t nix;
    struct vidx *bad; /* where the pack scans found a damaged record start */
    size_t nbad, badcap;
};

static void problem(struct vctx *v, int sev, const char *object, uint64_t off,
                    const struct zg_pc_key *key, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void problem(struct vctx *v, int sev, const char *object, uint64_t off,
                    const struct zg_pc_key *key, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (sev == ZG_PC_SEV_ERROR)
        v->rep->errors++;
    else
        v->rep->warnings++;
    if (!v->fn)
        return;
    struct zg_pc_problem p = {
        .severity = sev, .object = object, .offset = off, .has_key = key != NULL, .what = what};
    if (key)
        p.key = *key;
    v->fn(v->arg, &p);
}

static int cmp_vidx(const void *a, const void *b)
{
    const struct vidx *x = a, *y = b;
    if (x->pack != y->pack)
        return x->pack < y->pack ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int indexed_at(const struct vctx *v, uint32_t pack, uint64_t off)
{
    struct vidx k = {.pack = pack, .off = off};
    return v->nix && bsearch(&k, v->ix, v->nix, sizeof(k), cmp_vidx) != NULL;
}

/* 1 if a pack scan found a damaged record starting at (pack, off). */
static int damaged_at(const struct vctx *v, uint32_t pack, uint64_t off)
{
    struct vidx k = {.pack = pack, .off = off};
    return v->nbad && bsearch(&k, v->bad, v->nbad, sizeof(k), cmp_vidx) != NULL;
}

static int note_damaged(struct vctx *v, uint32_t pack, uint64_t off)
{
    if (v->nbad == v->badcap) {
        size_t cap = v->badcap ? 2 * v->badcap : 64;
        struct vidx *n = realloc(v->bad, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        v->bad = n;
        v->badcap = cap;
    }
    v->bad[v->nbad++] = (struct vidx){.pack = pack, .off = off};
    return 0;
}

/* Scans every record of one pack; valid keys go to present. */
static int scan_pack(struct vctx *v, struct vpack *p, struct pc_keyset *present, uint8_t *page)
{
    char obj[64];
    snprintf(obj, sizeof(obj), "packs/pack-%08x.zpk", p->id);
    if (p->size < p->covered)
        problem(v, ZG_PC_SEV_ERROR, obj, p->size, NULL,
                "pack truncated: %llu bytes, but the index covers %llu",
                (unsigned long long)p->size, (unsigned long long)p->covered);
    uint64_t off = sizeof(struct zg_pc_pack_hdr);
    while (off < p->size) {
        struct pc_rec r;
        const char *why;
        int rc = pc_rec_parse(p->map, p->size, off, &r, &why);
        if (rc == 0 && (rc = pc_rec_decode(&r, page, 1, &why)) == 0) {
            v->rep->records++;
            if (pc_keyset_add(present, &r.key, NULL) < 0)
                return -ENOMEM;
            off += sizeof(struct zg_pc_rec_hdr) + r.len;
            continue;
        }
        struct zg_pc_key hk;
        int key_known = rc == 0; /* checksum passed: the header's key is trustworthy */
        if (key_known)
            hk = r.key;
        uint64_t next = pc_rec_resync(p->map, p->size, off);
        if (next == UINT64_MAX && off >= p->covered && rc != 0) {
            problem(v, ZG_PC_SEV_WARNING, obj, off, NULL,
                    "torn tail: %llu bytes after the last complete record (an interrupted "
                    "write; the next writer cuts it)",
                    (unsigned long long)(p->size - off));
            break;
        }
        if (note_damaged(v, p->id, off) < 0)
            return -ENOMEM;
        if (!indexed_at(v, p->id, off) || key_known) /* else the index check names its key */
            problem(v, ZG_PC_SEV_ERROR, obj, off, key_known ? &hk : NULL, "damaged record: %s",
                    why);
        if (next == UINT64_MAX) {
            if (p->size - off > sizeof(struct zg_pc_rec_hdr) + ZG_PC_PAGE_SIZE)
                problem(v, ZG_PC_SEV_ERROR, obj, off, NULL,
                        "no complete record in the last %llu bytes",
                        (unsigned long long)(p->size - off));
            break;
        }
        off = next;
    }
    return 0;
}

/* Where entry i lies in the index file: after the header and the pack table. */
static uint64_t entry_off(const struct pc_index_view *iv, uint64_t i)
{
    return sizeof(iv->hdr) + (uint64_t)iv->hdr.npacks * sizeof(struct zg_pc_index_pack) +
           i * sizeof(struct zg_pc_index_entry);
}

/* 1 if the index's pack table lists pack id. */
static int in_pack_table(const struct pc_index_view *iv, uint32_t id)
{
    for (uint32_t j = 0; j < iv->hdr.npacks; j++) {
        struct zg_pc_index_pack ip;
        pc_index_pack_at(iv, j, &ip);
        if (ip.pack_id == id)
            return 1;
    }
    return 0;
}

/* present: every key a pack scan found in an intact record. The pack is
 * blamed for an entry's page only where the pack itself is damaged: the
 * record starting at the entry's offset fails its checks, or the pack ends
 * before what the index covers. An entry that disagrees with an intact
 * record (its checksum good), names a pack outside the pack table, or
 * points where no record starts is the index's fault: the entry is named. */
static void check_entries(struct vctx *v, const struct pc_index_view *iv, struct vpack *packs,
                          size_t np, const struct pc_keyset *present)
{
    struct pc_keyset seen = {0};
    if (v->nbad)
        qsort(v->bad, v->nbad, sizeof(*v->bad), cmp_vidx);
    for (uint64_t i = 0; i < iv->hdr.nentries; i++) {
        struct zg_pc_index_entry e;
        struct zg_pc_key k;
        const char *why = NULL;
        unsigned long long ei = (unsigned long long)i;
        pc_index_entry_at(iv, i, &e);
        memcpy(k.b, e.key, 16);
        v->rep->index_entries++;
        if (pc_index_entry_check(&e, &why) < 0) {
            problem(v, ZG_PC_SEV_ERROR, "index", entry_off(iv, i), &k, "entry %llu: %s", ei, why);
            continue;
        }
        if (pc_keyset_add(&seen, &k, NULL) == 0)
            problem(v, ZG_PC_SEV_WARNING, "index", entry_off(iv, i), &k,
                    "entry %llu: duplicate key", ei);
        struct vpack *p = NULL;
        for (size_t j = 0; j < np; j++)
            if (packs[j].id == e.pack_id)
                p = &packs[j];
        char obj[64];
        snprintf(obj, sizeof(obj), "packs/pack-%08x.zpk", e.pack_id);
        if (!in_pack_table(iv, e.pack_id)) {
            problem(v, ZG_PC_SEV_ERROR, "index", entry_off(iv, i), &k,
                    "entry %llu is damaged: its pack %08x is not in the index's pack table", ei,
                    e.pack_id);
            continue;
        }
        if (!p) {
            problem(v, ZG_PC_SEV_ERROR, obj, e.offset, &k,
                    "index entry %llu: the pack file is missing", ei);
            continue;
        }
        if (!p->hdr_ok) {
            problem(v, ZG_PC_SEV_ERROR, obj, e.offset, &k, "page in a pack whose header is bad");
            continue;
        }
        struct pc_rec r;
        if (pc_rec_parse(p->map, p->size, e.offset, &r, &why) == 0) {
            const char *field = !pc_key_eq(&r.key, &k) ? "key"
                                : r.len != e.len       ? "length"
                                : r.enc != e.enc       ? "encoding"
                                                       : NULL;
            if (!field)
                continue; /* the pack scan decoded and hashed it */
            char rk[33];
            zg_pc_key_hex(&r.key, rk);
            problem(v, ZG_PC_SEV_ERROR, "index", entry_off(iv, i), &k,
                    "entry %llu is damaged: its %s disagrees with the intact record at offset "
                    "%llu of %s (page %s, %u bytes)",
                    ei, field, (unsigned long long)e.offset, obj, rk, (unsigned)r.len);
            continue;
        }
        if (e.offset >= p->size && e.offset < p->covered) {
            problem(v, ZG_PC_SEV_ERROR, obj, e.offset, &k,
                    "damaged page: the pack ends at %llu, before its record",
                    (unsigned long long)p->size);
            continue;
        }
        if (pc_keyset_get(present, &k)) {
            problem(v, ZG_PC_SEV_ERROR, "index", entry_off(iv, i), &k,
                    "entry %llu is damaged: it points at offset %llu of %s (%s), but the "
                    "page is intact elsewhere in the packs",
                    ei, (unsigned long long)e.offset, obj, why);
            continue;
        }
        if (!damaged_at(v, e.pack_id, e.offset)) {
            problem(v, ZG_PC_SEV_ERROR, "index", entry_off(iv, i), &k,
                    "entry %llu is damaged: it points at offset %llu of %s, where no record "
                    "starts (%s)",
                    ei, (unsigned long long)e.offset, obj, why);
            continue;
        }
        problem(v, ZG_PC_SEV_ERROR, obj, e.offset, &k, "damaged page: %s", why);
    }
    pc_keyset_free(&seen);
}

static void check_roots(struct vctx *v, const struct pc_keyset *present)
{
    char **names = NULL;
    size_t nn = 0;
    if (zg_pc_root_list(v->pc, &names, &nn) < 0) {
        problem(v, ZG_PC_SEV_ERROR, "roots", UINT64_MAX, NULL, "%s", zg_pc_last_error());
        return;
    }
    for (size_t r = 0; r < nn; r++) {
        char obj[ZG_PC_ROOT_NAME_MAX + 8];
        snprintf(obj, sizeof(obj), "roots/%s", names[r]);
        struct zg_pc_key *keys = NULL;
        size_t n = 0, missing = 0;
        v->rep->roots++;
        if (pc_root_read(v->pc->rootsfd, names[r], &keys, &n) < 0) {
            problem(v, ZG_PC_SEV_ERROR, obj, UINT64_MAX, NULL, "%s", zg_pc_last_error());
            continue;
        }
        v->rep->root_refs += n;
        for (size_t i = 0; i < n; i++) {
            if (zg_pc_key_is_zero(&keys[i]) || pc_keyset_get(present, &keys[i]))
                continue;
            if (++missing <= 20)
                problem(v, ZG_PC_SEV_ERROR, obj, sizeof(struct zg_pc_root_hdr) + i * 16, &keys[i],
                        "page %zu of the root is missing or damaged", i);
        }
        if (missing > 20)
            problem(v, ZG_PC_SEV_ERROR, obj, UINT64_MAX, NULL,
                    "%zu more pages of the root are missing or damaged", missing - 20);
        free(keys);
    }
    zg_pc_root_list_free(names, nn);
}

int zg_pc_verify(struct zg_pc *pc, zg_pc_problem_fn fn, void *arg, struct zg_pc_verify_report *rep,
                 zg_pc_progress_fn progress, void *progress_arg)
{
    pc_err_clear();
    struct zg_pc_verify_report local;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof(*rep));
    struct vctx v = {.pc = pc, .fn = fn, .arg = arg, .rep = rep};
    uint8_t *ibuf = NULL, *page = malloc(ZG_PC_PAGE_SIZE);
    size_t ilen = 0, np = 0;
    struct vpack *packs = NULL;
    struct pc_keyset present = {0};
    struct pc_index_view iv;
    int have_index = 0, rc = 0;
    const char *why;
    if (!page)
        return pc_err(-ENOMEM, "out of memory");
    if ((rc = pc_lock(pc->gc_lock_fd, LOCK_SH, pc->dir)) < 0)
        goto out_unlocked;

    rc = pc_read_file(pc->dirfd, "index", 64ull << 30, &ibuf, &ilen);
    if (rc == -ENOENT) {
        problem(&v, ZG_PC_SEV_WARNING, "index", UINT64_MAX, NULL,
                "no index: it is rebuilt from the packs at the next open for writing");
    } else if (rc < 0) {
        problem(&v, ZG_PC_SEV_ERROR, "index", UINT64_MAX, NULL, "unreadable: %s", strerror(-rc));
    } else if ((rc = pc_index_parse(ibuf, ilen, 1, &iv, &why)) < 0) {
        problem(&v, ZG_PC_SEV_ERROR, "index", UINT64_MAX, NULL, "%s", why);
    } else {
        have_index = 1;
        if (iv.bad_checksum)
            problem(&v, ZG_PC_SEV_ERROR, "index", ilen - 8, NULL,
                    "index checksum mismatch (entries are checked one by one)");
        if (iv.newer_minor)
            problem(&v, ZG_PC_SEV_WARNING, "index", 8, NULL,
                    "newer minor format %u.%u: fields this version does not know are not checked",
                    iv.hdr.major, iv.hdr.minor);
    }
    if (have_index) {
        if (!(v.ix = malloc((iv.hdr.nentries + 1) * sizeof(*v.ix)))) {
            rc = pc_err(-ENOMEM, "out of memory");
            goto out;
        }
        for (uint64_t i = 0; i < iv.hdr.nentries; i++) {
            struct zg_pc_index_entry e;
            pc_index_entry_at(&iv, i, &e);
            v.ix[v.nix++] = (struct vidx){.pack = e.pack_id, .off = e.offset, .i = i};
        }
        if (v.nix)
            qsort(v.ix, v.nix, sizeof(*v.ix), cmp_vidx);
    }

    /* Packs: every file in packs/, in id order. */
    DIR *d = NULL;
    int dfd = dup(pc->packsfd);
    if (dfd < 0 || !(d = fdopendir(dfd))) {
        if (dfd >= 0)
            close(dfd);
        rc = pc_err(-errno, "%s/packs: %s", pc->dir, strerror(errno));
        goto out;
    }
    rewinddir(d);
    struct dirent *de;
    size_t cap = 0;
    uint64_t total = 0, done = 0;
    while ((de = readdir(d))) {
        unsigned id;
        char tail[8];
        if (de->d_name[0] == '.')
            continue;
        if (strlen(de->d_name) != 17 || sscanf(de->d_name, "pack-%8x%7s", &id, tail) != 2 ||
            strcmp(tail, ".zpk")) {
            char obj[300];
            snprintf(obj, sizeof(obj), "packs/%s", de->d_name);
            problem(&v, ZG_PC_SEV_WARNING, obj, UINT64_MAX, NULL, "unknown file");
            continue;
        }
        if (np == cap) {
            cap = cap ? 2 * cap : 16;
            struct vpack *n2 = realloc(packs, cap * sizeof(*packs));
            if (!n2) {
                closedir(d);
                rc = pc_err(-ENOMEM, "out of memory");
                goto out;
            }
            packs = n2;
        }
        struct vpack *p = &packs[np++];
        memset(p, 0, sizeof(*p));
        p->id = id;
        p->covered = sizeof(struct zg_pc_pack_hdr);
        for (uint32_t j = 0; have_index && j < iv.hdr.npacks; j++) {
            struct zg_pc_index_pack ip;
            pc_index_pack_at(&iv, j, &ip);
            if (ip.pack_id == id) {
                p->listed = 1;
                p->covered = ip.covered;
            }
        }
        int fd = openat(pc->packsfd, de->d_name, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0) {
            p->size = (uint64_t)st.st_size;
            p->map = mmap(NULL, p->size, PROT_READ, MAP_SHARED, fd, 0);
            if (p->map == MAP_FAILED)
                p->map = NULL, p->size = 0;
            total += p->size;
        }
        if (fd >= 0)
            close(fd);
    }
    closedir(d);
    for (size_t i = 0; i < np; i++) {
        struct vpack *p = &packs[i];
        char obj[64];
        int newer;
        snprintf(obj, sizeof(obj), "packs/pack-%08x.zpk", p->id);
        rep->packs++;
        if (have_index && !p->listed && p->id <= iv.hdr.max_pack_id) {
            problem(&v, ZG_PC_SEV_WARNING, obj, UINT64_MAX, NULL,
                    "left over by an interrupted GC; deleted at the next open for writing");
            continue;
        }
        p->listed = 1; /* newer than the index: its records count as stored */
        if (pc_pack_hdr_check(p->map, p->size, p->id, &newer, &why) < 0) {
            problem(&v, ZG_PC_SEV_ERROR, obj, 0, NULL, "%s", why);
            continue;
        }
        p->hdr_ok = 1;
        if ((rc = scan_pack(&v, p, &present, page)) < 0) {
            rc = pc_err(rc, "out of memory");
            goto out;
        }
        done += p->size;
        if (progress)
            progress(progress_arg, done, total);
    }
    if (have_index) {
        /* An index pack-table entry without a file loses its pages. */
        for (uint32_t j = 0; j < iv.hdr.npacks; j++) {
            struct zg_pc_index_pack ip;
            pc_index_pack_at(&iv, j, &ip);
            int found = 0;
            for (size_t i = 0; i < np; i++)
                found |= packs[i].id == ip.pack_id;
            if (!found)
                problem(&v, ZG_PC_SEV_ERROR, "index", UINT64_MAX, NULL,
                        "pack %08x is indexed but its file is missing", ip.pack_id);
        }
        check_entries(&v, &iv, packs, np, &present);
    }
    check_roots(&v, &present);
    rc = 0;
out:
    pc_unlock(pc->gc_lock_fd);
out_unlocked:
    for (size_t i = 0; i < np; i++)
        if (packs[i].map)
            munmap(packs[i].map, packs[i].size);
    free(packs);
    free(v.ix);
    free(v.bad);
    free(ibuf);
    free(page);
    pc_keyset_free(&present);
    return rc;
}
