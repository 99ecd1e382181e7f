/* Page cache roots (what templates keep alive) and the statistics built on them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "pagecache/pc_internal.h"

int pc_root_write(struct zg_pc *pc, const char *name, const struct zg_pc_key *keys, size_t n)
{
    if (n > ZG_PC_MAX_ROOT_KEYS)
        return pc_err(-EINVAL, "root %s: too many keys", name);
    size_t len = sizeof(struct zg_pc_root_hdr) + n * 16 + 8;
    uint8_t *buf = malloc(len);
    if (!buf)
        return pc_err(-ENOMEM, "out of memory writing root %s", name);
    struct zg_pc_root_hdr h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, ZG_PC_ROOT_MAGIC, 8);
    h.major = ZG_PC_FMT_MAJOR;
    h.minor = ZG_PC_FMT_MINOR;
    h.hash_id = ZG_PC_HASH_XXH3_128;
    h.nkeys = n;
    memcpy(buf, &h, sizeof(h));
    if (n)
        memcpy(buf + sizeof(h), keys, n * 16);
    uint64_t sum = pc_xxh64(buf, len - 8);
    memcpy(buf + len - 8, &sum, 8);
    int rc = pc_atomic_write(pc->rootsfd, name, buf, len);
    free(buf);
    if (rc < 0)
        return pc_err(rc, "%s/roots/%s: %s", pc->dir, name, zg_pc_last_error());
    return 0;
}

int pc_root_read(int rootsfd, const char *name, struct zg_pc_key **keys, size_t *n)
{
    uint8_t *buf = NULL;
    size_t len;
    const uint8_t *kp;
    uint64_t nk;
    int newer;
    const char *why;
    if (!pc_root_name_ok(name))
        return pc_err(-EINVAL, "bad root name '%s'", name);
    int rc = pc_read_file(rootsfd, name,
                          sizeof(struct zg_pc_root_hdr) + 16 * ZG_PC_MAX_ROOT_KEYS + 8, &buf, &len);
    if (rc < 0)
        return pc_err(rc, "root %s: %s", name, strerror(-rc));
    if ((rc = pc_root_parse(buf, len, &kp, &nk, &newer, &why)) < 0) {
        free(buf);
        return pc_err(rc, "root %s: %s", name, why);
    }
    /* The keys are moved to the front of the same allocation. */
    memmove(buf, kp, nk * 16);
    *keys = (struct zg_pc_key *)buf;
    *n = (size_t)nk;
    return 0;
}

int zg_pc_root_put(struct zg_pc *pc, const char *name, const struct zg_pc_key *keys, size_t n)
{
    pc_err_clear();
    if (!(pc->flags & ZG_PC_WRITE))
        return pc_err(-EROFS, "%s: opened read-only", pc->dir);
    if (!pc_root_name_ok(name))
        return pc_err(-EINVAL, "bad root name '%s'", name);
    pthread_rwlock_wrlock(&pc->rw);
    int rc = pc_lock(pc->wr_lock_fd, LOCK_EX, pc->dir);
    if (rc < 0)
        goto out_unlocked;
    if ((rc = pc_refresh_locked(pc, 1)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (!zg_pc_key_is_zero(&keys[i]) && !pc_table_find(&pc->tab, &keys[i])) {
            char hex[33];
            zg_pc_key_hex(&keys[i], hex);
            rc = pc_err(-ENOENT, "root %s: page %s (index %zu) is not in the cache", name, hex, i);
            goto out;
        }
    }
    rc = pc_root_write(pc, name, keys, n);
out:
    pc_unlock(pc->wr_lock_fd);
out_unlocked:
    pthread_rwlock_unlock(&pc->rw);
    return rc;
}

int zg_pc_root_get(struct zg_pc *pc, const char *name, struct zg_pc_key **keys, size_t *n)
{
    pc_err_clear();
    return pc_root_read(pc->rootsfd, name, keys, n);
}

int zg_pc_root_del(struct zg_pc *pc, const char *name)
{
    pc_err_clear();
    if (!(pc->flags & ZG_PC_WRITE))
        return pc_err(-EROFS, "%s: opened read-only", pc->dir);
    if (!pc_root_name_ok(name))
        return pc_err(-EINVAL, "bad root name '%s'", name);
    int rc = pc_lock(pc->wr_lock_fd, LOCK_EX, pc->dir);
    if (rc < 0)
        return rc;
    if (unlinkat(pc->rootsfd, name, 0) < 0)
        rc = pc_err(-errno, "root %s: %s", name, strerror(errno));
    else if (fsync(pc->rootsfd) < 0)
        rc = pc_err(-errno, "%s/roots: fsync: %s", pc->dir, strerror(errno));
    pc_unlock(pc->wr_lock_fd);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int zg_pc_root_list(struct zg_pc *pc, char ***names, size_t *n)
{
    pc_err_clear();
    int fd = dup(pc->rootsfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return pc_err(-errno, "%s/roots: %s", pc->dir, strerror(errno));
    }
    rewinddir(d);
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!pc_root_name_ok(de->d_name))
            continue; /* ".", "..", ".tmp-*" */
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
        }
        if (!(v[cnt] = strdup(de->d_name))) {
            rc = -ENOMEM;
            break;
        }
        cnt++;
    }
    closedir(d);
    if (rc < 0) {
        zg_pc_root_list_free(v, cnt);
        return pc_err(rc, "out of memory listing roots");
    }
    if (cnt)
        qsort(v, cnt, sizeof(*v), cmp_str);
    *names = v;
    *n = cnt;
    return 0;
}

void zg_pc_root_list_free(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- statistics ------------------------------------------------------------------ */

/* Per key: bit 31 = referenced by more than one root; low bits = 1 + index of
 * the first root that referenced it. */
#define MULTI 0x80000000u

int zg_pc_stats(struct zg_pc *pc, struct zg_pc_stats *st, struct zg_pc_root_stats **roots,
                size_t *nroots)
{
    pc_err_clear();
    char **names = NULL;
    size_t nn = 0;
    struct pc_keyset all = {0};
    struct zg_pc_root_stats *rs = NULL;
    int rc;
    memset(st, 0, sizeof(*st));
    pthread_rwlock_rdlock(&pc->rw);
    if ((rc = zg_pc_root_list(pc, &names, &nn)) < 0)
        goto out;
    if (nn >= MULTI - 1) {
        rc = pc_err(-E2BIG, "too many roots");
        goto out;
    }
    if (!(rs = calloc(nn ? nn : 1, sizeof(*rs)))) {
        rc = pc_err(-ENOMEM, "out of memory");
        goto out;
    }
    st->packs = pc->npacks;
    for (size_t i = 0; i < pc->npacks; i++)
        st->pack_bytes += pc->packs[i].map_len;
    for (size_t i = 0; i < pc->tab.cap; i++) {
        const struct pc_ent *e = &pc->tab.slots[i];
        if (e->enc) {
            st->pages_stored++;
            st->stored_bytes += e->len;
            st->lz4_pages += e->enc == ZG_PC_ENC_LZ4;
        }
    }
    st->roots = nn;
    /* Pass 1: per root counts and the global first-root / multi-root marks. */
    for (size_t r = 0; r < nn; r++) {
        struct zg_pc_key *keys = NULL;
        size_t n = 0;
        struct pc_keyset mine = {0};
        snprintf(rs[r].name, sizeof(rs[r].name), "%s", names[r]);
        if ((rc = pc_root_read(pc->rootsfd, names[r], &keys, &n)) < 0)
            goto out;
        struct zg_pc_usage *u = &rs[r].u;
        u->refs = n;
        for (size_t i = 0; i < n && rc >= 0; i++) {
            if (zg_pc_key_is_zero(&keys[i])) {
                u->zero_refs++;
                continue;
            }
            if ((rc = pc_keyset_add(&mine, &keys[i], NULL)) <= 0)
                continue;
            u->distinct++;
            const struct pc_ent *e = pc_table_find(&pc->tab, &keys[i]);
            if (e)
                u->stored_bytes += e->len;
            else
                u->missing++;
            uint32_t *v;
            if ((rc = pc_keyset_add(&all, &keys[i], &v)) < 0)
                break;
            if (rc == 1) {
                *v = (uint32_t)r + 1;
                st->all.distinct++;
                st->all.stored_bytes += e ? e->len : 0;
                st->all.missing += !e;
            } else {
                *v |= MULTI;
            }
        }
        st->all.refs += u->refs;
        st->all.zero_refs += u->zero_refs;
        pc_keyset_free(&mine);
        free(keys);
        if (rc < 0) {
            rc = pc_err(-ENOMEM, "out of memory");
            goto out;
        }
    }
    /* Pass 2: keys referenced by exactly one root are that root's unique pages. */
    for (size_t i = 0; i < all.cap; i++) {
        if (zg_pc_key_is_zero(&all.keys[i]))
            continue;
        if (!(all.vals[i] & MULTI))
            rs[all.vals[i] - 1].u.unique++;
    }
    st->all.unique = st->all.distinct;
    for (size_t i = 0; i < pc->tab.cap; i++)
        if (pc->tab.slots[i].enc && !pc_keyset_get(&all, &pc->tab.slots[i].key))
            st->unreferenced++;
    uint64_t nz = st->all.refs - st->all.zero_refs;
    st->dedupe_ratio = st->all.distinct ? (double)nz / (double)st->all.distinct : 1.0;
    st->compression_ratio = st->all.stored_bytes
                                ? (double)(st->all.distinct - st->all.missing) * ZG_PC_PAGE_SIZE /
                                      (double)st->all.stored_bytes
                                : 1.0;
    if (roots) {
        *roots = rs;
        *nroots = nn;
        rs = NULL;
    }
    rc = 0;
out:
    pthread_rwlock_unlock(&pc->rw);
    zg_pc_root_list_free(names, nn);
    pc_keyset_free(&all);
    free(rs);
    return rc;
}
