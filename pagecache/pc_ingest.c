/* Page cache ingest: hash, dedupe, compress and append a whole guest image. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "pagecache/pc_internal.h"

#define HASH_CHUNK  1024 /* pages a worker hashes at a time */
#define STORE_CHUNK 64   /* new pages a worker compresses before appending */

/* Phase A hashes every page (parallel). Phase B classifies them against the
 * index and the image itself (serial, cheap). Phase C compresses the new
 * pages (parallel) and appends each worker's chunk under a mutex. */
struct ing_job {
    struct zg_pc *pc;
    const uint8_t *mem;
    size_t npages;
    struct zg_pc_key *keys;
    uint8_t *damaged; /* per page: the cache has its key, but its copy is damaged */
    size_t *store;    /* page indices to store, in image order */
    size_t nstore;
    struct pc_ent *ents; /* where store[i] went */
    int phase;
    atomic_size_t next;
    atomic_size_t done;
    atomic_int failed;
    pthread_mutex_t mu; /* appends, pack creation, errors */
    int cur;            /* slot of the pack being appended, -1 none */
    uint64_t compressed, bytes;
    int err;
    char msg[512];
    zg_pc_progress_fn progress;
    void *progress_arg;
    pthread_t main;
};

static void job_fail(struct ing_job *j, int rc)
{
    pthread_mutex_lock(&j->mu);
    if (!j->err) {
        j->err = rc;
        snprintf(j->msg, sizeof(j->msg), "%s", zg_pc_last_error());
    }
    pthread_mutex_unlock(&j->mu);
    atomic_store(&j->failed, 1);
}

/* Hashes pages; a page the cache already has is read back and checked
 * against its key (the index and packs are not changed in this phase). */
static int hash_chunk(struct ing_job *j, size_t first, size_t count)
{
    uint8_t back[ZG_PC_PAGE_SIZE];
    for (size_t i = first; i < first + count; i++) {
        const uint8_t *page = j->mem + i * ZG_PC_PAGE_SIZE;
        zg_pc_page_key(page, &j->keys[i]);
        if (zg_pc_key_is_zero(&j->keys[i])) {
            static const uint8_t zero[ZG_PC_PAGE_SIZE];
            if (memcmp(page, zero, ZG_PC_PAGE_SIZE) != 0)
                return pc_err(-ERANGE, "page %zu hashes to the reserved zero key", i);
        } else if (pc_table_find(&j->pc->tab, &j->keys[i]) &&
                   pc_read_page(j->pc, &j->keys[i], back, 1) < 0) {
            j->damaged[i] = 1;
            pc_err_clear();
        }
    }
    return 0;
}

/* Picks the pack to append len bytes to, creating one when needed. Under mu. */
static int active_pack(struct ing_job *j, size_t len)
{
    struct zg_pc *pc = j->pc;
    if (j->cur < 0 && pc->npacks) {
        struct pc_pack *last = &pc->packs[pc->npacks - 1];
        if (!last->damaged && !last->newer_minor && last->end == last->map_len)
            j->cur = (int)pc->npacks - 1;
    }
    if (j->cur >= 0) {
        struct pc_pack *p = &pc->packs[j->cur];
        if (p->end + len <= PC_PACK_LIMIT || p->end == sizeof(struct zg_pc_pack_hdr))
            return j->cur;
        if (fsync(p->fd) < 0)
            return pc_err(-errno, "%s/packs/pack-%08x.zpk: fsync: %s", pc->dir, p->id,
                          strerror(errno));
    }
    if (pc->max_pack_id == UINT32_MAX)
        return pc_err(-ENOSPC, "%s: pack ids exhausted", pc->dir);
    int rc = pc_pack_create(pc, pc->max_pack_id + 1);
    if (rc >= 0)
        j->cur = rc;
    return rc;
}

static int store_chunk(struct ing_job *j, size_t first, size_t count, uint8_t *buf)
{
    size_t len = 0;
    uint64_t lz4 = 0;
    for (size_t i = first; i < first + count; i++) {
        size_t pi = j->store[i];
        size_t n = pc_rec_encode(j->mem + pi * ZG_PC_PAGE_SIZE, &j->keys[pi], buf + len);
        struct zg_pc_rec_hdr h;
        memcpy(&h, buf + len, sizeof(h));
        j->ents[i] = (struct pc_ent){.key = j->keys[pi], .off = len, .len = h.len, .enc = h.enc};
        lz4 += h.enc == ZG_PC_ENC_LZ4;
        len += n;
    }
    pthread_mutex_lock(&j->mu);
    int rc = active_pack(j, len);
    if (rc >= 0) {
        struct pc_pack *p = &j->pc->packs[rc];
        rc = pc_pwrite_all(p->fd, buf, len, p->end);
        if (rc < 0) {
            pc_err(rc, "%s/packs/pack-%08x.zpk: append at %llu: %s", j->pc->dir, p->id,
                   (unsigned long long)p->end, strerror(-rc));
        } else {
            for (size_t i = first; i < first + count; i++) {
                j->ents[i].off += p->end;
                j->ents[i].pack = (uint32_t)j->cur;
            }
            p->end += len;
            j->bytes += len;
            j->compressed += lz4;
        }
    }
    pthread_mutex_unlock(&j->mu);
    return rc < 0 ? rc : 0;
}

static void *ing_worker(void *arg)
{
    struct ing_job *j = arg;
    int reporter = j->progress && pthread_equal(pthread_self(), j->main);
    uint8_t *buf = NULL;
    if (j->phase == 1 && !(buf = malloc(STORE_CHUNK * PC_REC_MAX))) {
        job_fail(j, pc_err(-ENOMEM, "out of memory"));
        return NULL;
    }
    size_t total = j->phase == 0 ? j->npages : j->nstore;
    size_t step = j->phase == 0 ? HASH_CHUNK : STORE_CHUNK;
    for (;;) {
        size_t first = atomic_fetch_add(&j->next, step);
        if (first >= total || atomic_load(&j->failed))
            break;
        size_t count = total - first < step ? total - first : step;
        int rc = j->phase == 0 ? hash_chunk(j, first, count) : store_chunk(j, first, count, buf);
        if (rc < 0) {
            job_fail(j, rc);
            break;
        }
        size_t done = atomic_fetch_add(&j->done, count) + count;
        if (reporter) {
            uint64_t at = j->phase == 0 ? done : j->npages + (uint64_t)done * j->npages / total;
            if (j->progress(j->progress_arg, at, 2 * (uint64_t)j->npages) != 0) {
                job_fail(j, pc_err(-ECANCELED, "ingest cancelled"));
                break;
            }
        }
    }
    free(buf);
    return NULL;
}

/* Runs one parallel phase; the calling thread works too and reports progress. */
static int run_phase(struct ing_job *j, int phase, unsigned nt)
{
    j->phase = phase;
    atomic_store(&j->next, 0);
    atomic_store(&j->done, 0);
    pthread_t tids[ZG_PC_MAX_THREADS];
    unsigned started = 0;
    for (unsigned i = 1; i < nt; i++) {
        if (pthread_create(&tids[started], NULL, ing_worker, j) != 0)
            break;
        started++;
    }
    ing_worker(j); /* the calling thread works too, and reports progress */
    for (unsigned i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    return atomic_load(&j->failed) ? -1 : 0;
}

/* Serial dedupe: which non-zero pages are new, first occurrence only. A
 * page whose stored copy hash_chunk found damaged is stored again, and the
 * index pointed at the new copy (a re-created template repairs the cache). */
static int classify(struct ing_job *j, struct zg_pc_ingest_stats *st)
{
    struct pc_keyset seen = {0};
    int rc = 0;
    if (!(j->store = malloc((j->npages ? j->npages : 1) * sizeof(*j->store))))
        return pc_err(-ENOMEM, "out of memory");
    for (size_t i = 0; i < j->npages; i++) {
        const struct zg_pc_key *k = &j->keys[i];
        int damaged = j->damaged[i];
        int present = !damaged && !zg_pc_key_is_zero(k) && pc_table_find(&j->pc->tab, k);
        if (zg_pc_key_is_zero(k)) {
            st->zero_pages++;
        } else if (present) {
            st->present++;
        } else {
            int added = pc_keyset_add(&seen, k, NULL);
            if (added < 0) {
                rc = pc_err(-ENOMEM, "out of memory");
                break;
            }
            if (added) {
                j->store[j->nstore++] = i;
                st->repaired += (uint64_t)damaged;
            } else
                st->batch_dups++;
        }
    }
    pc_keyset_free(&seen);
    return rc;
}

/* Makes appended records durable and findable: fsyncs every pack written
 * past what the index covers, maps the new bytes, points the table at the n
 * new entries (replacing a damaged copy's) and writes the index. Caller holds
 * the write lock and rw exclusively. */
static int commit_entries(struct zg_pc *pc, const struct pc_ent *ents, size_t n)
{
    int rc;
    /* Durability: pack data first, then the index that names it. */
    for (size_t i = 0; i < pc->npacks; i++) {
        struct pc_pack *p = &pc->packs[i];
        if (p->end > p->covered && p->damaged != 2 && fsync(p->fd) < 0)
            return pc_err(-errno, "%s/packs/pack-%08x.zpk: fsync: %s", pc->dir, p->id,
                          strerror(errno));
        if (p->end > p->map_len && (rc = pc_pack_remap(p)) < 0)
            return pc_err(rc, "%s/packs/pack-%08x.zpk: cannot map: %s", pc->dir, p->id,
                          strerror(-rc));
    }
    if ((rc = pc_table_reserve(&pc->tab, pc->tab.n + n)) < 0)
        return pc_err(rc, "out of memory for the page index");
    for (size_t i = 0; i < n; i++) {
        struct pc_ent *old = pc_table_find(&pc->tab, &ents[i].key);
        if (old) { /* a damaged copy: the index now names the new one */
            *old = ents[i];
            pc->index_dirty = 1;
        } else {
            pc_table_insert(&pc->tab, &ents[i]);
        }
    }
    if (n || pc->index_dirty)
        return pc_index_write(pc);
    return 0;
}

int zg_pc_ingest(struct zg_pc *pc, const void *mem, size_t npages, struct zg_pc_key *keys_out,
                 const struct zg_pc_ingest_opts *opts, struct zg_pc_ingest_stats *st)
{
    pc_err_clear();
    struct zg_pc_ingest_stats local;
    struct zg_pc_ingest_opts noopts = {0};
    if (!st)
        st = &local;
    if (!opts)
        opts = &noopts;
    memset(st, 0, sizeof(*st));
    if (!(pc->flags & ZG_PC_WRITE))
        return pc_err(-EROFS, "%s: opened read-only", pc->dir);
    if (opts->root && !pc_root_name_ok(opts->root))
        return pc_err(-EINVAL, "bad root name '%s'", opts->root);
    if (npages > SIZE_MAX / ZG_PC_PAGE_SIZE / 2)
        return pc_err(-EINVAL, "image too large");
    struct ing_job j = {.pc = pc,
                        .mem = mem,
                        .npages = npages,
                        .keys = keys_out,
                        .cur = -1,
                        .progress = opts->progress,
                        .progress_arg = opts->progress_arg,
                        .main = pthread_self()};
    atomic_init(&j.next, 0);
    atomic_init(&j.done, 0);
    atomic_init(&j.failed, 0);
    pthread_mutex_init(&j.mu, NULL);
    unsigned nt = pc_nthreads(opts->threads ? opts->threads : pc->threads);
    int rc;

    pthread_rwlock_wrlock(&pc->rw);
    if ((rc = pc_lock(pc->wr_lock_fd, LOCK_EX, pc->dir)) < 0)
        goto out_unlocked;
    if ((rc = pc_refresh_locked(pc, 1)) < 0)
        goto out;
    if (!(j.damaged = calloc(npages ? npages : 1, 1))) {
        rc = pc_err(-ENOMEM, "out of memory");
        goto out;
    }
    if (run_phase(&j, 0, nt) < 0)
        goto failed;
    if ((rc = classify(&j, st)) < 0)
        goto out;
    if (j.nstore && !(j.ents = calloc(j.nstore, sizeof(*j.ents)))) {
        rc = pc_err(-ENOMEM, "out of memory");
        goto out;
    }
    if (j.nstore && run_phase(&j, 1, nt) < 0)
        goto failed;
    if ((rc = commit_entries(pc, j.ents, j.nstore)) < 0)
        goto out;
    if (opts->root && (rc = pc_root_write(pc, opts->root, keys_out, npages)) < 0)
        goto out;
    st->pages = npages;
    st->stored = j.nstore;
    st->compressed = j.compressed;
    st->raw_bytes = (uint64_t)npages * ZG_PC_PAGE_SIZE;
    st->stored_bytes = j.bytes;
    rc = 0;
    goto out;
failed:
    rc = j.err;
    pc_err_set_msg(j.msg);
out:
    pc_unlock(pc->wr_lock_fd);
out_unlocked:
    pthread_rwlock_unlock(&pc->rw);
    pthread_mutex_destroy(&j.mu);
    free(j.store);
    free(j.ents);
    free(j.damaged);
    return rc;
}

/* ---- records received from elsewhere (the remote page tier) ----------------- */

/* Checks record i; full: also decode it and compare its hash with its key. */
static int check_record(const uint8_t *rec, size_t len, size_t i, const struct zg_pc_key *expect,
                        int full)
{
    uint8_t page[ZG_PC_PAGE_SIZE];
    struct pc_rec r;
    const char *why = NULL;
    char hex[33];
    if (pc_rec_parse_buf(rec, len, 0, &r, &why) < 0) {
        /* the key is named only once the header is known to be intact */
    } else if (sizeof(struct zg_pc_rec_hdr) + r.len != len) {
        why = "record length disagrees with the bytes given";
    } else if (expect && !pc_key_eq(&r.key, expect)) {
        why = "record holds another page than expected";
    } else if (!full || pc_rec_decode(&r, page, 1, &why) == 0) {
        return 0;
    }
    zg_pc_key_hex(expect ? expect : &r.key, hex);
    return pc_err(-EBADMSG, "record %zu (page %s): %s", i, hex, why);
}

int zg_pc_record_check(const uint8_t *rec, size_t len, const struct zg_pc_key *expect)
{
    pc_err_clear();
    return check_record(rec, len, 0, expect, 1);
}

int zg_pc_put_records(struct zg_pc *pc, const uint8_t *const *rec, const size_t *len, size_t n,
                      const struct zg_pc_key *expect, unsigned flags, struct zg_pc_put_stats *st)
{
    struct zg_pc_put_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof(*st));
    pc_err_clear();
    if (!(pc->flags & ZG_PC_WRITE))
        return pc_err(-EROFS, "%s: opened read-only", pc->dir);
    st->records = n;
    for (size_t i = 0; i < n; i++) /* every record, before any is written */
        if (check_record(rec[i], len[i], i, expect ? &expect[i] : NULL,
                         !(flags & ZG_PC_PUT_CHECKED)) < 0)
            return -EBADMSG;

    struct ing_job j = {.pc = pc, .cur = -1};
    struct pc_keyset seen = {0};
    struct pc_ent *ents = calloc(n ? n : 1, sizeof(*ents));
    size_t *pick = calloc(n ? n : 1, sizeof(*pick));
    uint8_t *buf = NULL;
    size_t nnew = 0, blen = 0;
    int rc = 0;
    if (!ents || !pick) {
        free(ents);
        free(pick);
        return pc_err(-ENOMEM, "out of memory");
    }
    pthread_rwlock_wrlock(&pc->rw);
    if ((rc = pc_lock(pc->wr_lock_fd, LOCK_EX, pc->dir)) < 0)
        goto out_unlocked;
    if ((rc = pc_refresh_locked(pc, 1)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        struct zg_pc_key k;
        memcpy(k.b, rec[i] + offsetof(struct zg_pc_rec_hdr, key), 16);
        if (pc_table_find(&pc->tab, &k))
            continue;
        int added = pc_keyset_add(&seen, &k, NULL);
        if (added < 0) {
            rc = pc_err(-ENOMEM, "out of memory");
            goto out;
        }
        if (!added)
            continue;
        struct zg_pc_rec_hdr h;
        memcpy(&h, rec[i], sizeof(h));
        ents[nnew] = (struct pc_ent){.key = k, .off = blen, .len = h.len, .enc = h.enc};
        pick[nnew++] = i;
        blen += len[i];
    }
    if (nnew) {
        if (!(buf = malloc(blen))) {
            rc = pc_err(-ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < nnew; i++)
            memcpy(buf + ents[i].off, rec[pick[i]], len[pick[i]]);
        if ((rc = active_pack(&j, blen)) < 0)
            goto out;
        struct pc_pack *p = &pc->packs[rc];
        if ((rc = pc_pwrite_all(p->fd, buf, blen, p->end)) < 0) {
            rc = pc_err(rc, "%s/packs/pack-%08x.zpk: append at %llu: %s", pc->dir, p->id,
                        (unsigned long long)p->end, strerror(-rc));
            goto out;
        }
        for (size_t i = 0; i < nnew; i++) {
            ents[i].off += p->end;
            ents[i].pack = (uint32_t)j.cur;
        }
        p->end += blen;
    }
    if ((rc = commit_entries(pc, ents, nnew)) < 0)
        goto out;
    st->stored = nnew;
    st->stored_bytes = blen;
out:
    pc_unlock(pc->wr_lock_fd);
out_unlocked:
    pthread_rwlock_unlock(&pc->rw);
    pc_keyset_free(&seen);
    free(ents);
    free(pick);
    free(buf);
    return rc < 0 ? rc : 0;
}
