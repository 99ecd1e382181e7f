/* Page cache format code: build and check pack headers, records, index and roots.
 * Every parser here takes untrusted bytes and is fuzzed (tests/fuzz/fuzz_pc_*). */
#include <errno.h>
#include <string.h>

#include <lz4.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "pagecache/pc_internal.h"

uint64_t pc_xxh64(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

/* Version rule shared by every file: the major must be ours; a newer minor is
 * read (its additions live in fields we ignore) and flagged. */
static int check_version(uint16_t major, uint16_t minor, int *newer_minor, const char **why)
{
    if (major != ZG_PC_FMT_MAJOR) {
        *why = "unsupported major format version";
        return -ENOTSUP;
    }
    *newer_minor = minor > ZG_PC_FMT_MINOR;
    return 0;
}

/* ---- pack header ------------------------------------------------------------- */

void pc_pack_hdr_init(struct zg_pc_pack_hdr *h, uint32_t pack_id)
{
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, ZG_PC_PACK_MAGIC, 8);
    h->major = ZG_PC_FMT_MAJOR;
    h->minor = ZG_PC_FMT_MINOR;
    h->hdr_size = sizeof(*h);
    h->page_size = ZG_PC_PAGE_SIZE;
    h->hash_id = ZG_PC_HASH_XXH3_128;
    h->comp_id = ZG_PC_COMP_LZ4;
    h->pack_id = pack_id;
    h->checksum = pc_xxh64(h, offsetof(struct zg_pc_pack_hdr, checksum));
}

int pc_pack_hdr_check(const uint8_t *buf, size_t len, uint32_t expect_id, int *newer_minor,
                      const char **why)
{
    struct zg_pc_pack_hdr h;
    *newer_minor = 0;
    if (len < sizeof(h)) {
        *why = "shorter than a pack header";
        return -EBADMSG;
    }
    memcpy(&h, buf, sizeof(h));
    if (memcmp(h.magic, ZG_PC_PACK_MAGIC, 8) != 0) {
        *why = "not a pack file (bad magic)";
        return -EBADMSG;
    }
    if (h.checksum != pc_xxh64(buf, offsetof(struct zg_pc_pack_hdr, checksum))) {
        *why = "pack header checksum mismatch";
        return -EBADMSG;
    }
    int rc = check_version(h.major, h.minor, newer_minor, why);
    if (rc < 0)
        return rc;
    if (h.hdr_size != sizeof(h) || h.page_size != ZG_PC_PAGE_SIZE) {
        *why = "unsupported header or page size";
        return -ENOTSUP;
    }
    if (h.hash_id != ZG_PC_HASH_XXH3_128 || h.comp_id != ZG_PC_COMP_LZ4) {
        *why = "unsupported hash or compression id";
        return -ENOTSUP;
    }
    if (expect_id != UINT32_MAX && h.pack_id != expect_id) {
        *why = "pack id does not match the file name";
        return -EBADMSG;
    }
    return 0;
}

/* ---- records ------------------------------------------------------------------ */

static uint32_t rec_sum(const uint8_t *rec, uint16_t len)
{
    return (uint32_t)XXH3_64bits(rec + 8, sizeof(struct zg_pc_rec_hdr) - 8 + len);
}

int pc_rec_parse(const uint8_t *base, uint64_t size, uint64_t off, struct pc_rec *r,
                 const char **why)
{
    if (off < sizeof(struct zg_pc_pack_hdr)) {
        *why = "record header beyond the end of the pack";
        return -EBADMSG;
    }
    return pc_rec_parse_buf(base, size, off, r, why);
}

int pc_rec_parse_buf(const uint8_t *base, uint64_t size, uint64_t off, struct pc_rec *r,
                     const char **why)
{
    struct zg_pc_rec_hdr h;
    if (off > size || size - off < sizeof(h)) {
        *why = "record header beyond the end of the pack";
        return -EBADMSG;
    }
    memcpy(&h, base + off, sizeof(h));
    if (memcmp(h.magic, ZG_PC_REC_MAGIC, 4) != 0) {
        *why = "bad record magic";
        return -EBADMSG;
    }
    if (!((h.enc == ZG_PC_ENC_LZ4 && h.len >= 1 && h.len < ZG_PC_PAGE_SIZE) ||
          (h.enc == ZG_PC_ENC_RAW && h.len == ZG_PC_PAGE_SIZE))) {
        *why = "bad record encoding or length";
        return -EBADMSG;
    }
    if (size - off - sizeof(h) < h.len) {
        *why = "record payload beyond the end of the pack";
        return -EBADMSG;
    }
    memcpy(r->key.b, h.key, 16);
    if (zg_pc_key_is_zero(&r->key)) {
        *why = "record has the reserved zero key";
        return -EBADMSG;
    }
    if (rec_sum(base + off, h.len) != h.checksum) {
        *why = "record checksum mismatch";
        return -EBADMSG;
    }
    r->off = off;
    r->len = h.len;
    r->enc = h.enc;
    r->payload = base + off + sizeof(h);
    return 0;
}

int pc_rec_decode(const struct pc_rec *r, void *page, int verify, const char **why)
{
    if (r->enc == ZG_PC_ENC_RAW) {
        memcpy(page, r->payload, ZG_PC_PAGE_SIZE);
    } else {
        int n = LZ4_decompress_safe((const char *)r->payload, page, r->len, ZG_PC_PAGE_SIZE);
        if (n != (int)ZG_PC_PAGE_SIZE) {
            *why = n < 0 ? "LZ4 block does not decode" : "LZ4 block decodes to the wrong size";
            return -EBADMSG;
        }
    }
    if (verify) {
        struct zg_pc_key k;
        zg_pc_page_key(page, &k);
        if (!pc_key_eq(&k, &r->key)) {
            *why = "page content does not hash to its key";
            return -EBADMSG;
        }
    }
    return 0;
}

size_t pc_rec_encode(const void *page, const struct zg_pc_key *key, uint8_t *out)
{
    struct zg_pc_rec_hdr h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, ZG_PC_REC_MAGIC, 4);
    memcpy(h.key, key->b, 16);
    int n =
        LZ4_compress_default(page, (char *)out + sizeof(h), ZG_PC_PAGE_SIZE, ZG_PC_PAGE_SIZE - 1);
    if (n > 0) {
        h.enc = ZG_PC_ENC_LZ4;
        h.len = (uint16_t)n;
    } else {
        h.enc = ZG_PC_ENC_RAW;
        h.len = ZG_PC_PAGE_SIZE;
        memcpy(out + sizeof(h), page, ZG_PC_PAGE_SIZE);
    }
    memcpy(out, &h, sizeof(h));
    h.checksum = rec_sum(out, h.len);
    memcpy(out + offsetof(struct zg_pc_rec_hdr, checksum), &h.checksum, 4);
    return sizeof(h) + h.len;
}

uint64_t pc_rec_resync(const uint8_t *base, uint64_t size, uint64_t from)
{
    uint64_t off = from + 1;
    while (off < size) {
        const uint8_t *p = memmem(base + off, size - off, ZG_PC_REC_MAGIC, 4);
        if (!p)
            break;
        off = (uint64_t)(p - base);
        struct pc_rec r;
        const char *why;
        if (pc_rec_parse(base, size, off, &r, &why) == 0)
            return off;
        off++;
    }
    return UINT64_MAX;
}

/* ---- index -------------------------------------------------------------------- */

int pc_index_parse(const uint8_t *buf, size_t len, int lenient, struct pc_index_view *v,
                   const char **why)
{
    memset(v, 0, sizeof(*v));
    struct zg_pc_index_hdr *h = &v->hdr;
    if (len < sizeof(*h) + sizeof(struct zg_pc_index_trailer)) {
        *why = "index shorter than header and trailer";
        return -EBADMSG;
    }
    memcpy(h, buf, sizeof(*h));
    if (memcmp(h->magic, ZG_PC_INDEX_MAGIC, 8) != 0) {
        *why = "not an index file (bad magic)";
        return -EBADMSG;
    }
    if (h->hdr_checksum != pc_xxh64(buf, offsetof(struct zg_pc_index_hdr, hdr_checksum))) {
        *why = "index header checksum mismatch";
        return -EBADMSG;
    }
    int rc = check_version(h->major, h->minor, &v->newer_minor, why);
    if (rc < 0)
        return rc;
    if (h->hdr_size != sizeof(*h) || h->page_size != ZG_PC_PAGE_SIZE ||
        h->hash_id != ZG_PC_HASH_XXH3_128 || h->comp_id != ZG_PC_COMP_LZ4) {
        *why = "unsupported header size, page size, hash or compression id";
        return -ENOTSUP;
    }
    if (h->npacks > ZG_PC_MAX_PACKS || h->nentries > ZG_PC_MAX_ENTRIES) {
        *why = "index counts exceed the limits";
        return -EBADMSG;
    }
    /* Both counts are capped, so this cannot overflow 64 bits. */
    uint64_t want = sizeof(*h) + (uint64_t)h->npacks * sizeof(struct zg_pc_index_pack) +
                    h->nentries * sizeof(struct zg_pc_index_entry) +
                    sizeof(struct zg_pc_index_trailer);
    if (want != len) {
        *why = "index size does not match its counts";
        return -EBADMSG;
    }
    struct zg_pc_index_trailer t;
    memcpy(&t, buf + len - sizeof(t), sizeof(t));
    if (memcmp(t.magic, ZG_PC_INDEX_END, 8) != 0) {
        *why = "bad index trailer magic";
        return -EBADMSG;
    }
    if (t.checksum != pc_xxh64(buf, len - sizeof(t))) {
        if (!lenient) {
            *why = "index checksum mismatch";
            return -EBADMSG;
        }
        v->bad_checksum = 1;
    }
    v->packs = buf + sizeof(*h);
    v->ents = v->packs + (size_t)h->npacks * sizeof(struct zg_pc_index_pack);
    return 0;
}

void pc_index_pack_at(const struct pc_index_view *v, uint32_t i, struct zg_pc_index_pack *p)
{
    memcpy(p, v->packs + (size_t)i * sizeof(*p), sizeof(*p));
}

void pc_index_entry_at(const struct pc_index_view *v, uint64_t i, struct zg_pc_index_entry *e)
{
    memcpy(e, v->ents + (size_t)i * sizeof(*e), sizeof(*e));
}

int pc_index_entry_check(const struct zg_pc_index_entry *e, const char **why)
{
    struct zg_pc_key k;
    memcpy(k.b, e->key, 16);
    if (zg_pc_key_is_zero(&k)) {
        *why = "entry has the reserved zero key";
        return -EBADMSG;
    }
    if (!((e->enc == ZG_PC_ENC_LZ4 && e->len >= 1 && e->len < ZG_PC_PAGE_SIZE) ||
          (e->enc == ZG_PC_ENC_RAW && e->len == ZG_PC_PAGE_SIZE))) {
        *why = "entry has a bad encoding or length";
        return -EBADMSG;
    }
    if (e->offset < sizeof(struct zg_pc_pack_hdr) ||
        e->offset > UINT64_MAX - sizeof(struct zg_pc_rec_hdr) - e->len) {
        *why = "entry offset out of range";
        return -EBADMSG;
    }
    return 0;
}

/* ---- roots --------------------------------------------------------------------- */

int pc_root_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > ZG_PC_ROOT_NAME_MAX || name[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._+@:-", c)))
            return 0;
    }
    return 1;
}

int pc_root_parse(const uint8_t *buf, size_t len, const uint8_t **keys, uint64_t *nkeys,
                  int *newer_minor, const char **why)
{
    struct zg_pc_root_hdr h;
    *newer_minor = 0;
    if (len < sizeof(h) + 8) {
        *why = "root shorter than header and checksum";
        return -EBADMSG;
    }
    memcpy(&h, buf, sizeof(h));
    if (memcmp(h.magic, ZG_PC_ROOT_MAGIC, 8) != 0) {
        *why = "not a root file (bad magic)";
        return -EBADMSG;
    }
    int rc = check_version(h.major, h.minor, newer_minor, why);
    if (rc < 0)
        return rc;
    if (h.hash_id != ZG_PC_HASH_XXH3_128) {
        *why = "unsupported hash id";
        return -ENOTSUP;
    }
    if (h.nkeys > ZG_PC_MAX_ROOT_KEYS || sizeof(h) + h.nkeys * 16 + 8 != len) {
        *why = "root size does not match its key count";
        return -EBADMSG;
    }
    uint64_t sum;
    memcpy(&sum, buf + len - 8, 8);
    if (sum != pc_xxh64(buf, len - 8)) {
        *why = "root checksum mismatch";
        return -EBADMSG;
    }
    *keys = buf + sizeof(h);
    *nkeys = h.nkeys;
    return 0;
}
