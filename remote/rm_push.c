/* zerg template push: upload what the store lacks, then the reference. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/rm_int.h"
#include "template/zg_template.h"

#define PACK_LIMIT (256ull << 20) /* a new remote pack holds at most this many bytes */

/* What the store holds: every record of every pack the catalog lists. */
struct known {
    struct rm_keymap where; /* key -> index into loc */
    struct rm_loc *loc;     /* pack = index into packs */
    size_t nloc, cap_loc;
    struct zg_pc_key *packs; /* pack names */
    struct zg_pc_key *lists; /* their .zpx names, as the catalog lists them */
    size_t npacks, cap_packs;
};

static int known_pack(struct known *k, const struct zg_pc_key *pack, const struct zg_pc_key *list)
{
    if (k->npacks == k->cap_packs) {
        size_t cap = k->cap_packs ? 2 * k->cap_packs : 16;
        struct zg_pc_key *p = realloc(k->packs, cap * sizeof(*p));
        if (p)
            k->packs = p;
        struct zg_pc_key *l = realloc(k->lists, cap * sizeof(*l));
        if (l)
            k->lists = l;
        if (!p || !l)
            return -ENOMEM;
        k->cap_packs = cap;
    }
    k->packs[k->npacks] = *pack;
    k->lists[k->npacks] = *list;
    return (int)k->npacks++;
}

static int known_rec(struct known *k, const struct zg_pc_key *key, struct rm_loc loc)
{
    if (k->nloc == k->cap_loc) {
        size_t cap = k->cap_loc ? 2 * k->cap_loc : 4096;
        struct rm_loc *l = realloc(k->loc, cap * sizeof(*l));
        if (!l)
            return -ENOMEM;
        k->loc = l;
        k->cap_loc = cap;
    }
    int added = rm_keymap_add(&k->where, key, k->nloc);
    if (added > 0)
        k->loc[k->nloc++] = loc;
    return added < 0 ? -ENOMEM : 0;
}

static void known_free(struct known *k)
{
    rm_keymap_free(&k->where);
    free(k->loc);
    free(k->packs);
    free(k->lists);
}

/* The catalog's .zpx names. A missing catalog is an empty store. */
static int catalog_get(struct rm *r, struct zg_pc_key **names, size_t *n)
{
    uint8_t *buf;
    size_t len;
    *names = NULL;
    *n = 0;
    int rc = rm_get(r, "catalog", RM_OBJECT_MAX, &buf, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    size_t cap = len / 33 + 1;
    struct zg_pc_key *v = malloc(cap * sizeof(*v));
    if (!v) {
        free(buf);
        return rm_errf(r, -ENOMEM, "out of memory");
    }
    size_t cnt = 0;
    for (size_t i = 0; i + 33 <= len; i += 33) {
        char hex[33];
        memcpy(hex, buf + i, 32);
        hex[32] = '\0';
        if (buf[i + 32] != '\n' || zg_pc_key_parse(hex, &v[cnt]) < 0) {
            free(buf);
            free(v);
            return rm_errf(r, -EBADMSG, "damaged remote object %s/catalog: line %zu", r->base,
                           i / 33 + 1);
        }
        cnt++;
    }
    free(buf);
    *names = v;
    *n = cnt;
    return 0;
}

/* Learns what the store holds. A damaged or missing record list is skipped
 * (its pages are uploaded again): dedupe is a saving, not a correctness
 * property. */
static int learn(struct rm *r, struct known *k, uint64_t *skipped)
{
    struct zg_pc_key *lists;
    size_t nl;
    int rc = catalog_get(r, &lists, &nl);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < nl && rc == 0; i++) {
        uint8_t *buf;
        size_t len;
        struct rm_zpx x;
        const char *why;
        char obj[64], hex[33];
        zg_pc_key_hex(&lists[i], hex);
        snprintf(obj, sizeof(obj), "packs/%s.zpx", hex);
        rc = rm_get_named(r, obj, hex, RM_OBJECT_MAX, &buf, &len);
        if (rc == -ENOENT || rc == -EBADMSG) {
            (*skipped)++;
            rc = 0;
            continue;
        }
        if (rc < 0)
            break;
        rc = rm_zpx_parse(buf, len, &x, &why);
        free(buf);
        if (rc < 0) {
            (*skipped)++;
            rc = 0;
            continue;
        }
        int p = known_pack(k, &x.pack, &lists[i]);
        for (uint64_t j = 0; p >= 0 && j < x.n; j++)
            if (known_rec(
                    k, &x.keys[j],
                    (struct rm_loc){.pack = (uint32_t)p, .rec_len = x.len[j], .off = x.off[j]}) < 0)
                p = -ENOMEM;
        rm_zpx_free(&x);
        if (p < 0)
            rc = rm_errf(r, -ENOMEM, "out of memory");
    }
    free(lists);
    return rc;
}

static int put_named(struct rm *r, const char *dir, const uint8_t *buf, size_t len,
                     const char *suffix, struct zg_pc_key *name)
{
    char obj[128], hex[33];
    rm_name(buf, len, name);
    zg_pc_key_hex(name, hex);
    snprintf(obj, sizeof(obj), "%s/%s%s", dir, hex, suffix);
    return rm_put(r, obj, buf, len);
}

struct pusher {
    struct rm r;
    struct zg_pc *pc;
    struct known k;
    const struct zg_remote_opts *o;
    struct zg_remote_stats *st;
    uint64_t total, done;        /* records to upload, uploaded */
    struct zg_pc_key *new_lists; /* .zpx names this push added */
    size_t nnew;
};

/* Uploads the records of keys[0..n) the store lacks as packs of at most
 * PACK_LIMIT bytes, each followed by its record list. */
static int upload_records(struct pusher *P, const struct zg_pc_key *keys, size_t n)
{
    struct rm *r = &P->r;
    struct rm_keymap todo = {0};
    struct zg_pc_key *want = malloc((n ? n : 1) * sizeof(*want));
    size_t nwant = 0;
    int rc = 0;
    if (!want)
        return rm_errf(r, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (zg_pc_key_is_zero(&keys[i]) || rm_keymap_get(&P->k.where, &keys[i]) != SIZE_MAX)
            continue;
        int added = rm_keymap_add(&todo, &keys[i], nwant);
        if (added < 0) {
            rc = rm_errf(r, -ENOMEM, "out of memory");
            goto out;
        }
        if (added)
            want[nwant++] = keys[i];
    }
    P->st->known = P->st->distinct - nwant;
    P->total = nwant;
    size_t at = 0;
    uint8_t *pack = NULL;
    size_t cap = 0;
    while (at < nwant && rc == 0) {
        size_t first = at, len = RM_PACK_HDR;
        struct rm_zpx x = {0};
        x.keys = want + first;
        if (!(x.off = malloc((nwant - first) * sizeof(*x.off))) ||
            !(x.len = malloc((nwant - first) * sizeof(*x.len)))) {
            free(x.off);
            rc = rm_errf(r, -ENOMEM, "out of memory");
            break;
        }
        for (; at < nwant && len + ZG_PC_RECORD_MAX <= PACK_LIMIT; at++) {
            if (cap < len + ZG_PC_RECORD_MAX) {
                size_t ncap = cap ? cap * 2 : (1u << 20);
                uint8_t *nb = realloc(pack, ncap);
                if (!nb) {
                    rc = rm_errf(r, -ENOMEM, "out of memory");
                    break;
                }
                pack = nb;
                cap = ncap;
            }
            int rl = zg_pc_record_get(P->pc, &want[at], pack + len);
            if (rl < 0) {
                rc = rm_errf(r, rl == -ENOENT ? -EBADMSG : rl,
                             "template page missing or damaged in the local cache (run zerg "
                             "cache verify): %s",
                             zg_pc_last_error());
                break;
            }
            x.off[at - first] = len;
            x.len[at - first] = (uint32_t)rl;
            len += (size_t)rl;
        }
        if (rc == 0) {
            memset(pack, 0, RM_PACK_HDR);
            memcpy(pack, RM_PACK_MAGIC, 8);
            uint64_t cnt = at - first;
            memcpy(pack + 8, &cnt, 8);
            x.n = cnt;
            rc = put_named(r, "packs", pack, len, ".zpk", &x.pack);
        }
        uint8_t *zpx = NULL;
        size_t zlen = 0;
        struct zg_pc_key lname;
        if (rc == 0 && (rc = rm_zpx_encode(&x, &zpx, &zlen)) < 0)
            rc = rm_errf(r, rc, "out of memory");
        if (rc == 0)
            rc = put_named(r, "packs", zpx, zlen, ".zpx", &lname);
        free(zpx);
        if (rc == 0) {
            int p = known_pack(&P->k, &x.pack, &lname);
            for (uint64_t j = 0; p >= 0 && j < x.n; j++)
                if (known_rec(&P->k, &x.keys[j],
                              (struct rm_loc){
                                  .pack = (uint32_t)p, .rec_len = x.len[j], .off = x.off[j]}) < 0)
                    p = -ENOMEM;
            struct zg_pc_key *nl = realloc(P->new_lists, (P->nnew + 1) * sizeof(*nl));
            if (p < 0 || !nl)
                rc = rm_errf(r, -ENOMEM, "out of memory");
            else {
                P->new_lists = nl;
                nl[P->nnew++] = lname;
            }
            P->st->records += x.n;
            P->st->record_bytes += len - RM_PACK_HDR;
            P->done += x.n;
            if (P->o->progress)
                P->o->progress(P->o->progress_arg, P->done, P->total);
        }
        free(x.off);
        free(x.len);
    }
    free(pack);
out:
    free(want);
    rm_keymap_free(&todo);
    return rc;
}

/* Adds this push's record lists to the catalog (read again just before). */
static int catalog_add(struct pusher *P)
{
    struct rm *r = &P->r;
    struct zg_pc_key *names;
    size_t n;
    int rc = catalog_get(r, &names, &n);
    if (rc < 0)
        return rc;
    char *out = malloc((n + P->nnew) * 33 + 1);
    size_t len = 0;
    if (!out) {
        free(names);
        return rm_errf(r, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n + P->nnew; i++) {
        const struct zg_pc_key *k = i < n ? &names[i] : &P->new_lists[i - n];
        int dup = 0;
        for (size_t j = 0; j < n && i >= n && !dup; j++)
            dup = !memcmp(names[j].b, k->b, 16);
        if (dup)
            continue;
        zg_pc_key_hex(k, out + len);
        out[len + 32] = '\n';
        len += 33;
    }
    rc = rm_put(r, "catalog", out, len);
    free(out);
    free(names);
    return rc;
}

int zg_remote_push(const char *home, const char *name, const struct zg_remote_opts *o,
                   struct zg_remote_stats *st, char *err, size_t errlen)
{
    struct zg_remote_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof(*st));
    double t0 = rm_now();
    struct pusher P = {.o = o, .st = st};
    uint8_t *man = NULL, *mapbuf = NULL;
    size_t manlen = 0, maplen = 0;
    struct zg_tmpl *t = NULL;
    struct rm_map map = {0};
    uint32_t *remap = NULL;
    int rc = rm_open(&P.r, o, err, errlen);
    if (rc < 0)
        return rc;
    if ((rc = rm_manifest_read(home, name, &man, &manlen, &t, err, errlen)) < 0)
        goto out;
    if ((rc = rm_cache_open(home, 0, &P.pc, err, errlen)) < 0)
        goto out;
    st->pages = t->npages;
    {
        struct rm_keymap d = {0};
        for (uint64_t i = 0; i < t->npages && rc == 0; i++)
            if (!zg_pc_key_is_zero(&t->keys[i]) && rm_keymap_add(&d, &t->keys[i], 0) < 0)
                rc = rm_errf(&P.r, -ENOMEM, "out of memory");
        st->distinct = d.n;
        rm_keymap_free(&d);
        if (rc < 0)
            goto out;
    }
    uint64_t skipped = 0;
    if (!o->full && (rc = learn(&P.r, &P.k, &skipped)) < 0)
        goto out;
    if ((rc = upload_records(&P, t->keys, t->npages)) < 0)
        goto out;

    /* The map: where each page lies, naming only the packs it uses. */
    map.npages = t->npages;
    rm_name(man, manlen, &map.manifest);
    map.loc = calloc(t->npages ? t->npages : 1, sizeof(*map.loc));
    remap = malloc((P.k.npacks ? P.k.npacks : 1) * sizeof(*remap));
    map.packs = malloc((P.k.npacks ? P.k.npacks : 1) * sizeof(*map.packs));
    if (!map.loc || !remap || !map.packs) {
        rc = rm_errf(&P.r, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < P.k.npacks; i++)
        remap[i] = RM_ZERO_PACK;
    for (uint64_t i = 0; i < t->npages; i++) {
        if (zg_pc_key_is_zero(&t->keys[i])) {
            map.loc[i] = (struct rm_loc){.pack = RM_ZERO_PACK};
            continue;
        }
        size_t w = rm_keymap_get(&P.k.where, &t->keys[i]);
        if (w == SIZE_MAX) { /* upload_records stored every page */
            rc = rm_errf(&P.r, -EIO, "internal error: page %llu has no remote record",
                         (unsigned long long)i);
            goto out;
        }
        struct rm_loc l = P.k.loc[w];
        if (remap[l.pack] == RM_ZERO_PACK) {
            remap[l.pack] = map.npacks;
            map.packs[map.npacks++] = P.k.packs[l.pack];
        }
        l.pack = remap[l.pack];
        map.loc[i] = l;
    }
    struct zg_pc_key mapname, manname;
    if ((rc = rm_map_encode(&map, &mapbuf, &maplen)) < 0) {
        rc = rm_errf(&P.r, rc, "out of memory");
        goto out;
    }
    if ((rc = put_named(&P.r, "manifests", man, manlen, ".zgt", &manname)) < 0 ||
        (rc = put_named(&P.r, "maps", mapbuf, maplen, ".zmap", &mapname)) < 0)
        goto out;
    if (P.nnew && (rc = catalog_add(&P)) < 0)
        goto out;
    zg_pc_key_hex(&manname, st->manifest);
    zg_pc_key_hex(&mapname, st->map);
    char ref[128], obj[128];
    snprintf(ref, sizeof(ref), RM_PREFIX " %s %s\n", st->manifest, st->map);
    snprintf(obj, sizeof(obj), "refs/%s", name);
    rc = rm_put(&P.r, obj, ref, strlen(ref)); /* last: the template now exists remotely */
out:
    st->requests = P.r.requests;
    st->bytes = P.r.bytes;
    st->seconds = rm_now() - t0;
    rm_close(&P.r);
    free(P.new_lists);
    known_free(&P.k);
    rm_map_free(&map);
    free(remap);
    free(mapbuf);
    free(man);
    zg_tmpl_free(t);
    zg_pc_close(P.pc);
    return rc;
}
