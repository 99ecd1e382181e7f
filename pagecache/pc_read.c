/* Page cache reads: one page, and the batch materialize into memory or a file. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagecache/pc_internal.h"

/* Reads key's page through the in-memory index. The record must be where the
 * index says, carry the same key, length and encoding, pass its checksum and
 * decode to exactly one page (and hash to its key when verify). */
int pc_read_page(const struct zg_pc *pc, const struct zg_pc_key *key, void *page, int verify)
{
    char hex[33];
    const struct pc_ent *e = pc_table_find(&pc->tab, key);
    if (!e) {
        zg_pc_key_hex(key, hex);
        return pc_err(-ENOENT, "page %s is not in the cache %s", hex, pc->dir);
    }
    const struct pc_pack *p = &pc->packs[e->pack];
    const char *why;
    struct pc_rec r;
    int rc;
    if (p->damaged == 2) {
        why = "pack header is damaged";
        goto bad;
    }
    if ((rc = pc_rec_parse(p->map, p->map_len, e->off, &r, &why)) < 0)
        goto bad;
    if (!pc_key_eq(&r.key, key) || r.len != e->len || r.enc != e->enc) {
        why = "record there holds a different page";
        goto bad;
    }
    if ((rc = pc_rec_decode(&r, page, verify, &why)) < 0)
        goto bad;
    return 0;
bad:
    zg_pc_key_hex(key, hex);
    return pc_err(-EIO, "%s/packs/pack-%08x.zpk offset %llu: page %s: %s", pc->dir, p->id,
                  (unsigned long long)e->off, hex, why);
}

int zg_pc_record_get(struct zg_pc *pc, const struct zg_pc_key *key, void *rec)
{
    uint8_t page[ZG_PC_PAGE_SIZE];
    pc_err_clear();
    if (zg_pc_key_is_zero(key))
        return pc_err(-ENOENT, "the zero page has no record");
    pthread_rwlock_rdlock(&pc->rw);
    int rc = pc_read_page(pc, key, page, 1);
    if (rc == 0) {
        const struct pc_ent *e = pc_table_find(&pc->tab, key);
        rc = (int)sizeof(struct zg_pc_rec_hdr) + e->len;
        memcpy(rec, pc->packs[e->pack].map + e->off, (size_t)rc);
    }
    pthread_rwlock_unlock(&pc->rw);
    return rc;
}

int zg_pc_contains(struct zg_pc *pc, const struct zg_pc_key *key)
{
    if (zg_pc_key_is_zero(key))
        return 1;
    pthread_rwlock_rdlock(&pc->rw);
    int found = pc_table_find(&pc->tab, key) != NULL;
    pthread_rwlock_unlock(&pc->rw);
    return found;
}

int zg_pc_get(struct zg_pc *pc, const struct zg_pc_key *key, void *page, unsigned flags)
{
    pc_err_clear();
    if (zg_pc_key_is_zero(key)) {
        memset(page, 0, ZG_PC_PAGE_SIZE);
        return 0;
    }
    pthread_rwlock_rdlock(&pc->rw);
    int rc = pc_read_page(pc, key, page, (flags & ZG_PC_VERIFY) != 0);
    pthread_rwlock_unlock(&pc->rw);
    return rc;
}

/* ---- batch materialize --------------------------------------------------------- */

#define MAT_CHUNK 256 /* pages a worker claims at a time */

struct mat_job {
    struct zg_pc *pc;
    const struct zg_pc_key *keys;
    size_t n;
    uint8_t *dst; /* memory target, or NULL for fd */
    int fd;
    uint64_t off;
    unsigned flags;
    atomic_size_t next;
    atomic_int failed;
    pthread_mutex_t err_lock;
    int err;
    char msg[512];
};

static void mat_fail(struct mat_job *j, int rc)
{
    pthread_mutex_lock(&j->err_lock);
    if (!j->err) {
        j->err = rc;
        snprintf(j->msg, sizeof(j->msg), "%s", zg_pc_last_error());
    }
    pthread_mutex_unlock(&j->err_lock);
    atomic_store(&j->failed, 1);
}

/* Writes pages [first, first+count) of a chunk buffer, skipping zero pages. */
static int mat_flush(struct mat_job *j, const uint8_t *buf, size_t first, size_t count)
{
    size_t i = 0;
    while (i < count) {
        if (zg_pc_key_is_zero(&j->keys[first + i])) {
            i++;
            continue;
        }
        size_t s = i;
        while (i < count && !zg_pc_key_is_zero(&j->keys[first + i]))
            i++;
        uint64_t at = j->off + (uint64_t)(first + s) * ZG_PC_PAGE_SIZE;
        int rc = pc_pwrite_all(j->fd, buf + s * ZG_PC_PAGE_SIZE, (i - s) * ZG_PC_PAGE_SIZE, at);
        if (rc < 0)
            return pc_err(rc, "cannot write the materialized image at offset %llu: %s",
                          (unsigned long long)at, strerror(-rc));
    }
    return 0;
}

static void *mat_worker(void *arg)
{
    struct mat_job *j = arg;
    int verify = (j->flags & ZG_PC_VERIFY) != 0;
    int fill = (j->flags & ZG_PC_FILL_ZEROS) != 0;
    uint8_t *buf = NULL;
    if (!j->dst && !(buf = malloc((size_t)MAT_CHUNK * ZG_PC_PAGE_SIZE))) {
        mat_fail(j, pc_err(-ENOMEM, "out of memory"));
        return NULL;
    }
    for (;;) {
        size_t first = atomic_fetch_add(&j->next, MAT_CHUNK);
        if (first >= j->n || atomic_load(&j->failed))
            break;
        size_t count = j->n - first < MAT_CHUNK ? j->n - first : MAT_CHUNK;
        uint8_t *out = j->dst ? j->dst + first * ZG_PC_PAGE_SIZE : buf;
        int rc = 0;
        for (size_t i = 0; i < count && rc == 0; i++) {
            const struct zg_pc_key *k = &j->keys[first + i];
            if (zg_pc_key_is_zero(k)) {
                if (fill && j->dst)
                    memset(out + i * ZG_PC_PAGE_SIZE, 0, ZG_PC_PAGE_SIZE);
                continue;
            }
            rc = pc_read_page(j->pc, k, out + i * ZG_PC_PAGE_SIZE, verify);
        }
        if (rc == 0 && !j->dst)
            rc = mat_flush(j, buf, first, count);
        if (rc < 0) {
            mat_fail(j, rc);
            break;
        }
    }
    free(buf);
    return NULL;
}

static int materialize(struct zg_pc *pc, const struct zg_pc_key *keys, size_t n, void *dst, int fd,
                       uint64_t off, unsigned flags)
{
    pc_err_clear();
    struct mat_job j = {
        .pc = pc, .keys = keys, .n = n, .dst = dst, .fd = fd, .off = off, .flags = flags};
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);
    pthread_mutex_init(&j.err_lock, NULL);
    unsigned nt = pc->threads;
    size_t chunks = (n + MAT_CHUNK - 1) / MAT_CHUNK;
    if (nt > chunks)
        nt = chunks ? (unsigned)chunks : 1;
    pthread_t tids[ZG_PC_MAX_THREADS];
    unsigned started = 0;
    pthread_rwlock_rdlock(&pc->rw);
    for (unsigned i = 1; i < nt; i++) {
        if (pthread_create(&tids[i], NULL, mat_worker, &j) != 0)
            break;
        started++;
    }
    mat_worker(&j);
    for (unsigned i = 0; i < started; i++)
        pthread_join(tids[i + 1], NULL);
    pthread_rwlock_unlock(&pc->rw);
    pthread_mutex_destroy(&j.err_lock);
    if (j.err)
        pc_err_set_msg(j.msg);
    return j.err;
}

int zg_pc_materialize(struct zg_pc *pc, const struct zg_pc_key *keys, size_t n, void *dst,
                      unsigned flags)
{
    return materialize(pc, keys, n, dst, -1, 0, flags);
}

int zg_pc_materialize_fd(struct zg_pc *pc, const struct zg_pc_key *keys, size_t n, int fd,
                         uint64_t off, unsigned flags)
{
    pc_err_clear();
    if (n > (UINT64_MAX - off) / ZG_PC_PAGE_SIZE)
        return pc_err(-EINVAL, "materialize: image size overflows");
    uint64_t end = off + (uint64_t)n * ZG_PC_PAGE_SIZE;
    off_t cur = lseek(fd, 0, SEEK_END);
    if (cur < 0)
        return pc_err(-errno, "materialize: cannot size the target file: %s", strerror(errno));
    if ((uint64_t)cur < end && ftruncate(fd, (off_t)end) < 0)
        return pc_err(-errno, "materialize: cannot extend the target file to %llu bytes: %s",
                      (unsigned long long)end, strerror(errno));
    return materialize(pc, keys, n, NULL, fd, off, flags & ~ZG_PC_FILL_ZEROS);
}
