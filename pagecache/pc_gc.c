/* Page cache garbage collection: mark from the roots, compact packs with dead pages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pagecache/pc_internal.h"

#define COPY_BUF (1u << 20)

/* Marks every non-zero key of every root. Any unreadable root aborts: a GC
 * that cannot see all roots must not collect anything. */
static int mark(struct zg_pc *pc, struct pc_keyset *live, uint64_t *nroots)
{
    char **names = NULL;
    size_t nn = 0;
    int rc = zg_pc_root_list(pc, &names, &nn);
    if (rc < 0)
        return rc;
    for (size_t r = 0; r < nn && rc >= 0; r++) {
        struct zg_pc_key *keys = NULL;
        size_t n = 0;
        if ((rc = pc_root_read(pc->rootsfd, names[r], &keys, &n)) < 0) {
            rc = pc_err(-EBADMSG, "%s/roots: %s; nothing collected", pc->dir, zg_pc_last_error());
            break;
        }
        for (size_t i = 0; i < n && rc >= 0; i++)
            if (!zg_pc_key_is_zero(&keys[i]) && pc_keyset_add(live, &keys[i], NULL) < 0)
                rc = pc_err(-ENOMEM, "out of memory marking roots");
        free(keys);
    }
    *nroots = nn;
    zg_pc_root_list_free(names, nn);
    return rc < 0 ? rc : 0;
}

struct copier {
    struct zg_pc *pc;
    int slot; /* new pack being filled, -1 none */
    uint8_t *buf;
    size_t used;
    uint64_t at; /* file offset of buf[0] */
};

static int copier_flush(struct copier *c)
{
    if (!c->used)
        return 0;
    struct pc_pack *p = &c->pc->packs[c->slot];
    int rc = pc_pwrite_all(p->fd, c->buf, c->used, c->at);
    if (rc < 0)
        return pc_err(rc, "%s/packs/pack-%08x.zpk: write: %s", c->pc->dir, p->id, strerror(-rc));
    c->at += c->used;
    c->used = 0;
    return 0;
}

/* Copies one record; returns its new offset in *off (pack slot in c->slot). */
static int copier_put(struct copier *c, const uint8_t *rec, size_t len, uint64_t *off)
{
    struct zg_pc *pc = c->pc;
    if (c->slot < 0 || c->at + c->used + len > PC_PACK_LIMIT) {
        int rc;
        if (c->slot >= 0) {
            if ((rc = copier_flush(c)) < 0)
                return rc;
            pc->packs[c->slot].end = c->at;
        }
        if ((rc = pc_pack_create(pc, pc->max_pack_id + 1)) < 0)
            return rc;
        c->slot = rc;
        c->at = sizeof(struct zg_pc_pack_hdr);
    }
    if (c->used + len > COPY_BUF) {
        int rc = copier_flush(c);
        if (rc < 0)
            return rc;
    }
    memcpy(c->buf + c->used, rec, len);
    *off = c->at + c->used;
    c->used += len;
    return 0;
}

int zg_pc_gc(struct zg_pc *pc, struct zg_pc_gc_stats *st, zg_pc_progress_fn progress,
             void *progress_arg)
{
    pc_err_clear();
    struct zg_pc_gc_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof(*st));
    if (!(pc->flags & ZG_PC_WRITE))
        return pc_err(-EROFS, "%s: opened read-only", pc->dir);
    struct pc_keyset live = {0};
    struct pc_table nt = {0};
    struct copier c = {.pc = pc, .slot = -1};
    uint8_t *rewrite = NULL;
    uint64_t *live_bytes = NULL;
    size_t old_np = 0;
    int gc_locked = 0, rc;

    pthread_rwlock_wrlock(&pc->rw);
    if ((rc = pc_lock(pc->wr_lock_fd, LOCK_EX, pc->dir)) < 0)
        goto out_unlocked;
    if ((rc = pc_refresh_locked(pc, 1)) < 0 || (rc = mark(pc, &live, &st->roots)) < 0)
        goto out;
    old_np = pc->npacks;
    rewrite = calloc(old_np + 1, 1);
    live_bytes = calloc(old_np + 1, sizeof(*live_bytes));
    if (!rewrite || !live_bytes || !(c.buf = malloc(COPY_BUF))) {
        rc = pc_err(-ENOMEM, "out of memory");
        goto out;
    }
    /* Sweep plan: a pack is rewritten if it holds anything but live pages. */
    for (size_t i = 0; i < pc->tab.cap; i++) {
        const struct pc_ent *e = &pc->tab.slots[i];
        if (!e->enc)
            continue;
        if (pc_keyset_get(&live, &e->key)) {
            st->live_pages++;
            live_bytes[e->pack] += sizeof(struct zg_pc_rec_hdr) + e->len;
        } else {
            st->dead_pages++;
        }
    }
    for (size_t i = 0; i < old_np; i++) {
        const struct pc_pack *p = &pc->packs[i];
        st->bytes_before += p->map_len;
        rewrite[i] = p->damaged != 2 && live_bytes[i] + sizeof(struct zg_pc_pack_hdr) < p->end;
        st->packs_rewritten += rewrite[i];
    }
    if (!st->packs_rewritten) {
        st->bytes_after = st->bytes_before;
        rc = 0;
        goto out;
    }
    if ((rc = pc_table_reserve(&nt, (size_t)st->live_pages)) < 0) {
        rc = pc_err(rc, "out of memory");
        goto out;
    }
    /* Copy the live pages of the packs being rewritten into new packs. */
    uint64_t copied = 0;
    for (size_t i = 0; i < pc->tab.cap; i++) {
        struct pc_ent e = pc->tab.slots[i];
        if (!e.enc || !pc_keyset_get(&live, &e.key))
            continue;
        if (rewrite[e.pack]) {
            const struct pc_pack *p = &pc->packs[e.pack];
            struct pc_rec r;
            const char *why;
            if (pc_rec_parse(p->map, p->map_len, e.off, &r, &why) < 0 ||
                !pc_key_eq(&r.key, &e.key) || r.len != e.len || r.enc != e.enc) {
                st->damaged_pages++; /* cannot be copied: dropped, verify names it */
                continue;
            }
            if ((rc = copier_put(&c, p->map + e.off, sizeof(struct zg_pc_rec_hdr) + e.len,
                                 &e.off)) < 0)
                goto undo;
            e.pack = (uint32_t)c.slot;
            if (progress && (++copied & 1023) == 0 &&
                progress(progress_arg, copied, st->live_pages) != 0) {
                rc = pc_err(-ECANCELED, "gc cancelled");
                goto undo;
            }
        }
        pc_table_insert(&nt, &e);
    }
    if (c.slot >= 0) {
        if ((rc = copier_flush(&c)) < 0)
            goto undo;
        pc->packs[c.slot].end = c.at;
    }
    for (size_t i = old_np; i < pc->npacks; i++) {
        if (fsync(pc->packs[i].fd) < 0 || (rc = pc_pack_remap(&pc->packs[i])) < 0) {
            rc = pc_err(rc < 0 ? rc : -errno, "%s/packs: cannot write the new packs", pc->dir);
            goto undo;
        }
    }
    /* Swap: drop the rewritten packs from memory, renumber slots. */
    uint32_t *slot_map = calloc(pc->npacks, sizeof(*slot_map));
    struct pc_pack *gone = calloc(old_np, sizeof(*gone));
    if (!slot_map || !gone) {
        free(slot_map);
        free(gone);
        rc = pc_err(-ENOMEM, "out of memory");
        goto undo;
    }
    size_t keep = 0, ngone = 0;
    for (size_t i = 0; i < pc->npacks; i++) {
        if (i < old_np && rewrite[i]) {
            gone[ngone++] = pc->packs[i];
            continue;
        }
        slot_map[i] = (uint32_t)keep;
        pc->packs[keep++] = pc->packs[i];
    }
    pc->npacks = keep;
    for (size_t i = 0; i < nt.cap; i++)
        if (nt.slots[i].enc)
            nt.slots[i].pack = slot_map[nt.slots[i].pack];
    free(slot_map);
    pc_table_free(&pc->tab);
    pc->tab = nt;
    memset(&nt, 0, sizeof(nt));
    pc->gc_generation++;
    for (size_t i = 0; i < pc->npacks; i++)
        pc->packs[i].covered = pc->packs[i].end;
    /* Opens wait while the index names the new packs and the old ones go. */
    if ((rc = pc_lock(pc->gc_lock_fd, LOCK_EX, pc->dir)) == 0) {
        gc_locked = 1;
        rc = pc_index_write(pc);
    }
    for (size_t i = 0; i < ngone; i++) {
        char name[32];
        pc_pack_name(gone[i].id, name);
        if (rc == 0)
            unlinkat(pc->packsfd, name, 0);
        if (gone[i].map)
            munmap(gone[i].map, gone[i].map_len);
        close(gone[i].fd);
    }
    free(gone);
    if (rc == 0)
        fsync(pc->packsfd);
    if (rc != 0) { /* the old index still stands: load it again */
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", zg_pc_last_error());
        pc_reload(pc, 1);
        pc_err_set_msg(msg);
    }
    for (size_t i = 0; i < pc->npacks; i++)
        st->bytes_after += pc->packs[i].map_len;
    goto out;
undo:
    /* Nothing names the new packs yet: delete them and reload from disk. */
    for (size_t i = old_np; i < pc->npacks; i++) {
        char name[32];
        pc_pack_name(pc->packs[i].id, name);
        unlinkat(pc->packsfd, name, 0);
    }
    {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", zg_pc_last_error());
        pc_reload(pc, 1);
        pc_err_set_msg(msg);
    }
out:
    if (gc_locked)
        pc_unlock(pc->gc_lock_fd);
    pc_unlock(pc->wr_lock_fd);
out_unlocked:
    pthread_rwlock_unlock(&pc->rw);
    pc_keyset_free(&live);
    pc_table_free(&nt);
    free(c.buf);
    free(rewrite);
    free(live_bytes);
    return rc;
}
