/* The remote tier's objects: record lists, maps, references (docs/format.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "remote/rm_int.h"

#define ZPX_HDR 32 /* magic, count, pack name */
#define ZPX_ENT 32 /* key, offset, record length, reserved */
#define MAP_HDR 48 /* magic, manifest name, pages, packs, reserved */
#define MAP_ENT 16 /* pack, record length, offset */

void rm_name(const void *buf, size_t len, struct zg_pc_key *name)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(buf, len));
    memcpy(name->b, c.digest, 16);
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static int rec_len_ok(uint32_t len)
{
    return len > ZG_PC_RECORD_MAX - ZG_PC_PAGE_SIZE && len <= ZG_PC_RECORD_MAX;
}

/* Checks magic and trailer of an object of hdr-byte header. */
static int framed(const uint8_t *buf, size_t len, const char *magic, size_t hdr, const char **why)
{
    if (len < hdr + 8) {
        *why = "shorter than its header";
        return -EBADMSG;
    }
    if (memcmp(buf, magic, 8) != 0) {
        *why = "bad magic (not this kind of object, or another format version)";
        return -EBADMSG;
    }
    if (XXH3_64bits(buf, len - 8) != get64(buf + len - 8)) {
        *why = "checksum mismatch";
        return -EBADMSG;
    }
    return 0;
}

int rm_zpx_encode(const struct rm_zpx *x, uint8_t **out, size_t *outlen)
{
    size_t len = ZPX_HDR + x->n * ZPX_ENT + 8;
    uint8_t *b = calloc(1, len);
    if (!b)
        return -ENOMEM;
    memcpy(b, RM_ZPX_MAGIC, 8);
    put64(b + 8, x->n);
    memcpy(b + 16, x->pack.b, 16);
    for (uint64_t i = 0; i < x->n; i++) {
        uint8_t *e = b + ZPX_HDR + i * ZPX_ENT;
        memcpy(e, x->keys[i].b, 16);
        put64(e + 16, x->off[i]);
        put32(e + 24, x->len[i]);
    }
    put64(b + len - 8, XXH3_64bits(b, len - 8));
    *out = b;
    *outlen = len;
    return 0;
}

int rm_zpx_parse(const uint8_t *buf, size_t len, struct rm_zpx *x, const char **why)
{
    memset(x, 0, sizeof(*x));
    if (framed(buf, len, RM_ZPX_MAGIC, ZPX_HDR, why) < 0)
        return -EBADMSG;
    uint64_t n = get64(buf + 8);
    if (n != (len - ZPX_HDR - 8) / ZPX_ENT || (len - ZPX_HDR - 8) % ZPX_ENT) {
        *why = "record count disagrees with the size";
        return -EBADMSG;
    }
    memcpy(x->pack.b, buf + 16, 16);
    x->n = n;
    x->keys = malloc((n ? n : 1) * sizeof(*x->keys));
    x->off = malloc((n ? n : 1) * sizeof(*x->off));
    x->len = malloc((n ? n : 1) * sizeof(*x->len));
    if (!x->keys || !x->off || !x->len) {
        rm_zpx_free(x);
        *why = "out of memory";
        return -ENOMEM;
    }
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *e = buf + ZPX_HDR + i * ZPX_ENT;
        memcpy(x->keys[i].b, e, 16);
        x->off[i] = get64(e + 16);
        x->len[i] = get32(e + 24);
        if (zg_pc_key_is_zero(&x->keys[i]) || !rec_len_ok(x->len[i]) || x->off[i] < RM_PACK_HDR) {
            rm_zpx_free(x);
            *why = "an entry has the zero key, a bad length or offset";
            return -EBADMSG;
        }
    }
    return 0;
}

void rm_zpx_free(struct rm_zpx *x)
{
    free(x->keys);
    free(x->off);
    free(x->len);
    x->keys = NULL;
    x->off = NULL;
    x->len = NULL;
}

int rm_map_encode(const struct rm_map *m, uint8_t **out, size_t *outlen)
{
    size_t len = MAP_HDR + m->npages * MAP_ENT + (size_t)m->npacks * 16 + 8;
    uint8_t *b = calloc(1, len);
    if (!b)
        return -ENOMEM;
    memcpy(b, RM_MAP_MAGIC, 8);
    memcpy(b + 8, m->manifest.b, 16);
    put64(b + 24, m->npages);
    put32(b + 32, m->npacks);
    for (uint64_t i = 0; i < m->npages; i++) {
        uint8_t *e = b + MAP_HDR + i * MAP_ENT;
        put32(e, m->loc[i].pack);
        put32(e + 4, m->loc[i].rec_len);
        put64(e + 8, m->loc[i].off);
    }
    uint8_t *t = b + MAP_HDR + m->npages * MAP_ENT;
    for (uint32_t i = 0; i < m->npacks; i++)
        memcpy(t + (size_t)i * 16, m->packs[i].b, 16);
    put64(b + len - 8, XXH3_64bits(b, len - 8));
    *out = b;
    *outlen = len;
    return 0;
}

int rm_map_parse(const uint8_t *buf, size_t len, struct rm_map *m, const char **why)
{
    memset(m, 0, sizeof(*m));
    if (framed(buf, len, RM_MAP_MAGIC, MAP_HDR, why) < 0)
        return -EBADMSG;
    uint64_t npages = get64(buf + 24);
    uint32_t npacks = get32(buf + 32);
    if (npages > (len - MAP_HDR - 8) / MAP_ENT ||
        (len - MAP_HDR - 8) - npages * MAP_ENT != (uint64_t)npacks * 16) {
        *why = "page and pack counts disagree with the size";
        return -EBADMSG;
    }
    memcpy(m->manifest.b, buf + 8, 16);
    m->npages = npages;
    m->npacks = npacks;
    m->loc = malloc((npages ? npages : 1) * sizeof(*m->loc));
    m->packs = malloc((npacks ? npacks : 1) * sizeof(*m->packs));
    if (!m->loc || !m->packs) {
        rm_map_free(m);
        *why = "out of memory";
        return -ENOMEM;
    }
    for (uint64_t i = 0; i < npages; i++) {
        const uint8_t *e = buf + MAP_HDR + i * MAP_ENT;
        struct rm_loc *l = &m->loc[i];
        l->pack = get32(e);
        l->rec_len = get32(e + 4);
        l->off = get64(e + 8);
        int ok = l->pack == RM_ZERO_PACK
                     ? (l->rec_len == 0 && l->off == 0)
                     : (l->pack < npacks && rec_len_ok(l->rec_len) && l->off >= RM_PACK_HDR &&
                        l->off <= UINT64_MAX - l->rec_len);
        if (!ok) {
            rm_map_free(m);
            *why = "a page's location is out of range";
            return -EBADMSG;
        }
    }
    memcpy(m->packs, buf + MAP_HDR + npages * MAP_ENT, (size_t)npacks * 16);
    return 0;
}

void rm_map_free(struct rm_map *m)
{
    free(m->loc);
    free(m->packs);
    m->loc = NULL;
    m->packs = NULL;
}

static int hex32(const uint8_t *p)
{
    for (int i = 0; i < 32; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
    return 1;
}

int rm_ref_parse(const uint8_t *buf, size_t len, char manifest[33], char map[33])
{
    static const char v[] = RM_PREFIX " ";
    size_t vl = sizeof(v) - 1;
    size_t d = 4; /* "zerg<major> ...": another major version is refused, not damaged */
    while (d < len && d < 12 && buf[d] >= '0' && buf[d] <= '9')
        d++;
    if (len > 4 && !memcmp(buf, "zerg", 4) && d > 4 && d < len && buf[d] == ' ' &&
        (d != vl - 1 || memcmp(buf, v, vl) != 0))
        return -ENOTSUP;
    if (len != vl + 32 + 1 + 32 + 1 || memcmp(buf, v, vl) != 0 || !hex32(buf + vl) ||
        buf[vl + 32] != ' ' || !hex32(buf + vl + 33) || buf[len - 1] != '\n')
        return -EBADMSG;
    memcpy(manifest, buf + vl, 32);
    manifest[32] = '\0';
    memcpy(map, buf + vl + 33, 32);
    map[32] = '\0';
    return 0;
}

/* ---- a small key map ----------------------------------------------------------- */

static size_t slot_of(const struct zg_pc_key *k, size_t cap)
{
    uint64_t h;
    memcpy(&h, k->b, 8); /* keys are hashes already */
    return (size_t)h & (cap - 1);
}

static int keymap_grow(struct rm_keymap *km)
{
    size_t cap = km->cap ? km->cap * 2 : 1024;
    struct zg_pc_key *keys = calloc(cap, sizeof(*keys));
    size_t *vals = calloc(cap, sizeof(*vals));
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -ENOMEM;
    }
    for (size_t i = 0; i < km->cap; i++) {
        if (zg_pc_key_is_zero(&km->keys[i]))
            continue;
        size_t s = slot_of(&km->keys[i], cap);
        while (!zg_pc_key_is_zero(&keys[s]))
            s = (s + 1) & (cap - 1);
        keys[s] = km->keys[i];
        vals[s] = km->vals[i];
    }
    free(km->keys);
    free(km->vals);
    km->keys = keys;
    km->vals = vals;
    km->cap = cap;
    return 0;
}

int rm_keymap_add(struct rm_keymap *km, const struct zg_pc_key *key, size_t val)
{
    if ((km->n + 1) * 2 > km->cap && keymap_grow(km) < 0)
        return -ENOMEM;
    size_t s = slot_of(key, km->cap);
    while (!zg_pc_key_is_zero(&km->keys[s])) {
        if (!memcmp(km->keys[s].b, key->b, 16))
            return 0;
        s = (s + 1) & (km->cap - 1);
    }
    km->keys[s] = *key;
    km->vals[s] = val;
    km->n++;
    return 1;
}

size_t rm_keymap_get(const struct rm_keymap *km, const struct zg_pc_key *key)
{
    if (!km->cap)
        return SIZE_MAX;
    size_t s = slot_of(key, km->cap);
    while (!zg_pc_key_is_zero(&km->keys[s])) {
        if (!memcmp(km->keys[s].b, key->b, 16))
            return km->vals[s];
        s = (s + 1) & (km->cap - 1);
    }
    return SIZE_MAX;
}

void rm_keymap_free(struct rm_keymap *km)
{
    free(km->keys);
    free(km->vals);
    memset(km, 0, sizeof(*km));
}

int rm_get_named(struct rm *r, const char *obj, const char *hex, uint64_t max, uint8_t **buf,
                 size_t *len)
{
    int rc = rm_get(r, obj, max, buf, len);
    if (rc < 0)
        return rc;
    struct zg_pc_key got;
    char h[33];
    rm_name(*buf, *len, &got);
    zg_pc_key_hex(&got, h);
    if (strcmp(h, hex) != 0) {
        free(*buf);
        *buf = NULL;
        return rm_errf(r, -EBADMSG,
                       "damaged remote object %s/%s: its bytes do not hash to its name", r->base,
                       obj);
    }
    return 0;
}
