/* zerg template pull: fetch what the local cache lacks, check it, then the manifest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/rm_int.h"
#include "template/zg_template.h"

struct want {
    struct zg_pc_key key;
    struct rm_loc loc;
};

struct puller {
    struct rm r;
    struct zg_pc *pc;
    const struct zg_remote_opts *o;
    struct zg_remote_stats *st;
    struct want *w; /* the records to fetch, sorted by pack and offset */
    size_t nw;
    size_t *first; /* per range: its first want */
    size_t *count; /* per range: how many */
    struct rm_range *rg;
    char (*objs)[64]; /* per pack of the map: "packs/<name>.zpk" */
    uint64_t done;
    uint8_t *batch; /* checked ranges waiting for a commit (flush) */
    size_t bused, bcap;
    size_t *boff, *blen; /* per record waiting: offset in batch, length */
    struct zg_pc_key *bkey;
    size_t bn, ncap, ncap2, ncap3;
    double flushed_at;
};

static int cmp_want(const void *a, const void *b)
{
    const struct want *x = a, *y = b;
    if (x->loc.pack != y->loc.pack)
        return x->loc.pack < y->loc.pack ? -1 : 1;
    return x->loc.off < y->loc.off ? -1 : x->loc.off > y->loc.off;
}

/* Records checked and waiting to be stored: one durable commit (pack and
 * index fsynced) per RM_BATCH bytes or RM_BATCH_S seconds, not per range:
 * a pull that is interrupted keeps what arrived up to a moment before. */
#define RM_BATCH   (32u << 20)
#define RM_BATCH_S 0.5

static int flush(struct puller *P)
{
    if (!P->bn)
        return 0;
    const uint8_t **recs = malloc(P->bn * sizeof(*recs));
    int rc = 0;
    if (!recs)
        return rm_errf(&P->r, -ENOMEM, "out of memory");
    for (size_t j = 0; j < P->bn; j++)
        recs[j] = P->batch + P->boff[j];
    struct zg_pc_put_stats ps;
    rc = zg_pc_put_records(P->pc, recs, P->blen, P->bn, P->bkey, ZG_PC_PUT_CHECKED, &ps);
    free(recs);
    if (rc < 0)
        return rm_errf(&P->r, rc, "storing pulled pages: %s", zg_pc_last_error());
    P->st->records += ps.stored;
    P->st->record_bytes += ps.stored_bytes;
    P->done += P->bn;
    P->bn = 0;
    P->bused = 0;
    P->flushed_at = rm_now();
    if (P->o->progress)
        P->o->progress(P->o->progress_arg, P->done, P->nw);
    return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

/* One range arrived: each record is checked now (a damaged one names its
 * object and range), then queued for the next commit. */
static int on_range(void *arg, size_t i, const uint8_t *data)
{
    struct puller *P = arg;
    const struct rm_range *g = &P->rg[i];
    size_t n = P->count[i];
    for (size_t j = 0; j < n; j++) {
        const struct want *w = &P->w[P->first[i] + j];
        if (zg_pc_record_check(data + (w->loc.off - g->off), w->loc.rec_len, &w->key) < 0)
            return rm_errf(&P->r, -EBADMSG,
                           "damaged remote object %s/%s (bytes %llu-%llu): record at %llu: %s "
                           "(a 'zerg template push --full' of the template uploads every page "
                           "again)",
                           P->r.base, g->obj, (unsigned long long)g->off,
                           (unsigned long long)(g->off + g->len - 1),
                           (unsigned long long)w->loc.off, zg_pc_last_error());
    }
    if (grow((void **)&P->batch, &P->bcap, P->bused + g->len, 1) < 0 ||
        grow((void **)&P->boff, &P->ncap, P->bn + n, sizeof(*P->boff)) < 0 ||
        grow((void **)&P->blen, &P->ncap2, P->bn + n, sizeof(*P->blen)) < 0 ||
        grow((void **)&P->bkey, &P->ncap3, P->bn + n, sizeof(*P->bkey)) < 0)
        return rm_errf(&P->r, -ENOMEM, "out of memory");
    memcpy(P->batch + P->bused, data, g->len);
    for (size_t j = 0; j < n; j++) {
        const struct want *w = &P->w[P->first[i] + j];
        P->boff[P->bn] = P->bused + (w->loc.off - g->off);
        P->blen[P->bn] = w->loc.rec_len;
        P->bkey[P->bn] = w->key;
        P->bn++;
    }
    P->bused += g->len;
    return P->bused >= RM_BATCH || rm_now() - P->flushed_at >= RM_BATCH_S ? flush(P) : 0;
}

/* An object a reference or map names: missing is damage too. */
static int get_checked(struct rm *r, const char *obj, const char *hex, uint64_t max, uint8_t **buf,
                       size_t *len)
{
    int rc = rm_get_named(r, obj, hex, max, buf, len);
    if (rc == -ENOENT)
        return rm_errf(r, -EBADMSG,
                       "damaged remote store: %s/%s is missing, but a reference names it", r->base,
                       obj);
    return rc;
}

/* 1 if home has template name at exactly this manifest with every page cached. */
static int have_already(const char *home, const char *name, struct zg_pc *pc, const char *hex,
                        struct zg_tmpl **tout, uint64_t *distinct)
{
    uint8_t *buf;
    size_t len;
    struct zg_tmpl *t;
    char e[256], h[33];
    if (rm_manifest_read(home, name, &buf, &len, &t, e, sizeof(e)) < 0)
        return 0;
    struct zg_pc_key got;
    rm_name(buf, len, &got);
    free(buf);
    zg_pc_key_hex(&got, h);
    int ok = !strcmp(h, hex);
    struct rm_keymap seen = {0};
    for (uint64_t i = 0; ok && i < t->npages; i++) {
        ok = zg_pc_contains(pc, &t->keys[i]);
        if (ok && !zg_pc_key_is_zero(&t->keys[i]) && rm_keymap_add(&seen, &t->keys[i], 0) < 0)
            ok = 0;
    }
    *distinct = seen.n;
    rm_keymap_free(&seen);
    if (ok)
        *tout = t;
    else
        zg_tmpl_free(t);
    return ok;
}

/* Groups the wanted records into ranged GETs: consecutive records of one
 * pack, at most range_max bytes each. */
static int plan_ranges(struct puller *P, const struct rm_map *map, size_t *nrg)
{
    uint64_t rmax = P->o->range_max ? P->o->range_max : ZG_REMOTE_RANGE_MAX;
    size_t n = 0;
    P->rg = malloc((P->nw ? P->nw : 1) * sizeof(*P->rg));
    P->first = malloc((P->nw ? P->nw : 1) * sizeof(*P->first));
    P->count = malloc((P->nw ? P->nw : 1) * sizeof(*P->count));
    P->objs = malloc((map->npacks ? map->npacks : 1) * sizeof(*P->objs));
    if (!P->rg || !P->first || !P->count || !P->objs)
        return rm_errf(&P->r, -ENOMEM, "out of memory");
    for (uint32_t i = 0; i < map->npacks; i++) {
        char hex[33];
        zg_pc_key_hex(&map->packs[i], hex);
        snprintf(P->objs[i], sizeof(P->objs[i]), "packs/%s.zpk", hex);
    }
    for (size_t i = 0; i < P->nw; i++) {
        const struct rm_loc *l = &P->w[i].loc;
        struct rm_range *g = n ? &P->rg[n - 1] : NULL;
        if (g && g->obj == P->objs[l->pack] && g->off + g->len == l->off &&
            g->len + l->rec_len <= rmax) {
            g->len += l->rec_len;
            P->count[n - 1]++;
            continue;
        }
        if (g && g->obj == P->objs[l->pack] && l->off < g->off + g->len)
            return rm_errf(&P->r, -EBADMSG, "damaged remote map: records overlap in %s",
                           P->objs[l->pack]);
        P->rg[n] = (struct rm_range){.obj = P->objs[l->pack], .off = l->off, .len = l->rec_len};
        P->first[n] = i;
        P->count[n] = 1;
        n++;
    }
    *nrg = n;
    return 0;
}

int zg_remote_pull(const char *home, const char *name, const struct zg_remote_opts *o,
                   struct zg_remote_stats *st, char *err, size_t errlen)
{
    struct zg_remote_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof(*st));
    double t0 = rm_now();
    struct puller P = {.o = o, .st = st};
    struct zg_tmpl *t = NULL;
    struct rm_map map = {0};
    struct rm_keymap seen = {0};
    uint8_t *ref = NULL, *man = NULL, *mapbuf = NULL;
    size_t reflen, manlen, maplen;
    char obj[200], mapn[33], tpath[4096];
    int rc = rm_open(&P.r, o, err, errlen);
    if (rc < 0)
        return rc;
    if (zg_tmpl_path(home, name, tpath, sizeof(tpath)) < 0) {
        rc = rm_errf(&P.r, -EINVAL,
                     "'%s' is not a valid template name (1-63 of A-Z a-z 0-9 . _ -, not "
                     "starting with '.')",
                     name);
        goto out;
    }
    snprintf(obj, sizeof(obj), "refs/%s", name);
    if ((rc = rm_get(&P.r, obj, RM_REF_MAX, &ref, &reflen)) < 0) {
        if (rc == -ENOENT)
            rm_errf(&P.r, rc, "no template '%s' at %s (%s/%s not found)", name, o->url, P.r.base,
                    obj);
        goto out;
    }
    rc = rm_ref_parse(ref, reflen, st->manifest, mapn);
    if (rc == -ENOTSUP) {
        rc = rm_errf(&P.r, rc, "%s/%s: a reference of another format version than %s", P.r.base,
                     obj, RM_PREFIX);
        goto out;
    }
    if (rc < 0) {
        rc = rm_errf(&P.r, rc, "damaged remote object %s/%s: not a reference line", P.r.base, obj);
        goto out;
    }
    memcpy(st->map, mapn, sizeof(mapn));
    if ((rc = rm_cache_open(home, ZG_PC_CREATE | ZG_PC_WRITE, &P.pc, err, errlen)) < 0)
        goto out;
    if (have_already(home, name, P.pc, st->manifest, &t, &st->distinct)) {
        st->pages = t->npages;
        st->up_to_date = 1;
        rc = zg_pc_root_put(P.pc, name, t->keys, t->npages);
        if (rc < 0)
            rm_errf(&P.r, rc, "page cache root '%s': %s", name, zg_pc_last_error());
        goto out;
    }

    snprintf(obj, sizeof(obj), "manifests/%s.zgt", st->manifest);
    if ((rc = get_checked(&P.r, obj, st->manifest, RM_MANIFEST_MAX, &man, &manlen)) < 0)
        goto out;
    char perr[256];
    if ((rc = zg_tmpl_parse(man, manlen, &t, perr, sizeof(perr))) < 0) {
        rc = rm_errf(&P.r, rc, "remote manifest %s/%s: %s", P.r.base, obj, perr);
        goto out;
    }
    if (strncmp(t->info.name, name, sizeof(t->info.name)) != 0) {
        rc = rm_errf(&P.r, -EBADMSG, "%s/refs/%s names a manifest of template '%.*s'", P.r.base,
                     name, (int)sizeof(t->info.name), t->info.name);
        goto out;
    }
    snprintf(obj, sizeof(obj), "maps/%s.zmap", mapn);
    /* The manifest bounds the map: never more than its pages allow. */
    if ((rc = get_checked(&P.r, obj, mapn, RM_MAP_MAX((uint64_t)t->npages), &mapbuf, &maplen)) < 0)
        goto out;
    const char *why;
    if ((rc = rm_map_parse(mapbuf, maplen, &map, &why)) < 0) {
        rc = rm_errf(&P.r, rc, "damaged remote object %s/%s: %s", P.r.base, obj, why);
        goto out;
    }
    char mh[33];
    zg_pc_key_hex(&map.manifest, mh);
    if (map.npages != t->npages || strcmp(mh, st->manifest) != 0) {
        rc = rm_errf(&P.r, -EBADMSG,
                     "damaged remote object %s/%s: it is the map of another "
                     "manifest",
                     P.r.base, obj);
        goto out;
    }
    st->pages = t->npages;

    /* What the local cache lacks, each distinct page once. */
    if (!(P.w = malloc((t->npages ? t->npages : 1) * sizeof(*P.w)))) {
        rc = rm_errf(&P.r, -ENOMEM, "out of memory");
        goto out;
    }
    for (uint64_t i = 0; i < t->npages; i++) {
        const struct zg_pc_key *k = &t->keys[i];
        if (zg_pc_key_is_zero(k))
            continue;
        int added = rm_keymap_add(&seen, k, i);
        if (added < 0) {
            rc = rm_errf(&P.r, -ENOMEM, "out of memory");
            goto out;
        }
        if (!added)
            continue;
        st->distinct++;
        if (zg_pc_contains(P.pc, k))
            continue;
        if (map.loc[i].pack == RM_ZERO_PACK) {
            rc = rm_errf(&P.r, -EBADMSG,
                         "damaged remote object %s/%s: page %llu is not zero "
                         "but has no record",
                         P.r.base, obj, (unsigned long long)i);
            goto out;
        }
        P.w[P.nw++] = (struct want){.key = *k, .loc = map.loc[i]};
    }
    qsort(P.w, P.nw, sizeof(*P.w), cmp_want);
    size_t nrg = 0;
    if ((rc = plan_ranges(&P, &map, &nrg)) < 0)
        goto out;
    st->ranges = nrg;
    P.flushed_at = rm_now();
    rc = rm_get_ranges(&P.r, P.rg, nrg, o->jobs, on_range, &P);
    if (rc == 0) {
        rc = flush(&P);
    } else if (P.bn) { /* what arrived checked before the failure is kept; its error stays */
        char *keep = strdup(err);
        flush(&P);
        if (keep)
            snprintf(err, errlen, "%s", keep);
        free(keep);
    }
    if (rc < 0)
        goto out;

    /* Every page is here: the root, then the manifest makes it a template. */
    if ((rc = zg_pc_root_put(P.pc, name, t->keys, t->npages)) < 0) {
        rm_errf(&P.r, rc, "page cache root '%s': %s", name, zg_pc_last_error());
        goto out;
    }
    rc = zg_tmpl_store_bytes(home, name, man, manlen, 1, err, errlen);
out:
    st->requests = P.r.requests;
    st->bytes = P.r.bytes;
    st->seconds = rm_now() - t0;
    rm_close(&P.r);
    rm_keymap_free(&seen);
    rm_map_free(&map);
    free(P.w);
    free(P.rg);
    free(P.first);
    free(P.count);
    free(P.objs);
    free(P.batch);
    free(P.boff);
    free(P.blen);
    free(P.bkey);
    free(ref);
    free(man);
    free(mapbuf);
    zg_tmpl_free(t);
    zg_pc_close(P.pc);
    return rc;
}
