/* Unit tests of the page cache's keys, format code and parsers, with fixed vectors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lz4.h>

#include <xxhash.h>

#include "pagecache/pc_internal.h"
#include "tests/zt.h"

static uint8_t page[ZG_PC_PAGE_SIZE];

static void fill7(void)
{
    for (int i = 0; i < (int)ZG_PC_PAGE_SIZE; i++)
        page[i] = (uint8_t)(i * 7 + 3);
}

/* Vectors computed with libxxhash 0.8.1; the canonical form is also checked
 * against a hand-made big-endian encoding of XXH3_128bits. */
ZT_TEST(key_vectors)
{
    struct zg_pc_key k, want;
    char hex[33];
    fill7();
    zg_pc_page_key(page, &k);
    zg_pc_key_hex(&k, hex);
    ZT_STREQ(hex, "1546867423105cd5d7428746842be37e");
    XXH128_hash_t h = XXH3_128bits(page, sizeof(page));
    for (int i = 0; i < 8; i++) {
        want.b[i] = (uint8_t)(h.high64 >> (56 - 8 * i));
        want.b[8 + i] = (uint8_t)(h.low64 >> (56 - 8 * i));
    }
    ZT_MEMEQ(k.b, want.b, 16);
    memset(page, 0, sizeof(page));
    page[4095] = 1;
    zg_pc_page_key(page, &k);
    zg_pc_key_hex(&k, hex);
    ZT_STREQ(hex, "cf10dcb9be08dc28ae1b0b159552488e");
}

ZT_TEST(zero_page_is_zero_key)
{
    struct zg_pc_key k;
    memset(page, 0, sizeof(page));
    memset(&k, 0xff, sizeof(k));
    zg_pc_page_key(page, &k);
    ZT_TRUE(zg_pc_key_is_zero(&k));
    ZT_TRUE(zg_pc_key_is_zero(&ZG_PC_ZERO_KEY));
}

ZT_TEST(key_hex_round_trip)
{
    struct zg_pc_key k, k2;
    char hex[33];
    for (int i = 0; i < 16; i++)
        k.b[i] = (uint8_t)(i * 17 + 1);
    zg_pc_key_hex(&k, hex);
    ZT_EQ(zg_pc_key_parse(hex, &k2), 0);
    ZT_MEMEQ(k.b, k2.b, 16);
    ZT_EQ(zg_pc_key_parse("ABCDEF0123456789abcdef0123456789", &k2), 0);
    ZT_EQ(k2.b[0], 0xab);
    ZT_EQ(zg_pc_key_parse("abc", &k2), -EINVAL);
    ZT_EQ(zg_pc_key_parse("zz2345678901234567890123456789012", &k2), -EINVAL);
    ZT_EQ(zg_pc_key_parse("g0000000000000000000000000000000", &k2), -EINVAL);
}

ZT_TEST(pack_header_vector)
{
    struct zg_pc_pack_hdr h;
    int newer;
    const char *why;
    pc_pack_hdr_init(&h, 1);
    static const uint8_t head[24] = {'Z', 'G', 'P', 'C', 'P', 'A', 'C', 'K', 1, 0, 0, 0,
                                     64,  0,   0,   0,   0,   16,  0,   0,   1, 1, 0, 0};
    ZT_MEMEQ(&h, head, sizeof(head));
    ZT_EQ(h.checksum, 0x546f7f01b4804f07ull);
    ZT_EQ(pc_pack_hdr_check((uint8_t *)&h, sizeof(h), 1, &newer, &why), 0);
    ZT_EQ(newer, 0);
    ZT_EQ(pc_pack_hdr_check((uint8_t *)&h, sizeof(h), 2, &newer, &why), -EBADMSG);
    ZT_EQ(pc_pack_hdr_check((uint8_t *)&h, 63, 1, &newer, &why), -EBADMSG);
    /* A newer minor is accepted and flagged; another major is refused. */
    h.minor = 7;
    h.checksum = pc_xxh64(&h, 56);
    ZT_EQ(pc_pack_hdr_check((uint8_t *)&h, sizeof(h), 1, &newer, &why), 0);
    ZT_EQ(newer, 1);
    h.major = 2;
    h.checksum = pc_xxh64(&h, 56);
    ZT_EQ(pc_pack_hdr_check((uint8_t *)&h, sizeof(h), 1, &newer, &why), -ENOTSUP);
    h.major = 1;
    h.hash_id = 9;
    h.checksum = pc_xxh64(&h, 56);
    ZT_EQ(pc_pack_hdr_check((uint8_t *)&h, sizeof(h), 1, &newer, &why), -ENOTSUP);
}

/* A pack image in memory: header + records. */
static size_t build_pack(uint8_t *buf, const uint8_t *pages, size_t n)
{
    struct zg_pc_pack_hdr h;
    pc_pack_hdr_init(&h, 1);
    memcpy(buf, &h, sizeof(h));
    size_t off = sizeof(h);
    for (size_t i = 0; i < n; i++) {
        struct zg_pc_key k;
        zg_pc_page_key(pages + i * ZG_PC_PAGE_SIZE, &k);
        off += pc_rec_encode(pages + i * ZG_PC_PAGE_SIZE, &k, buf + off);
    }
    return off;
}

ZT_TEST(record_vector)
{
    static const char want[] = "5a5052437ec6df021a00010000000000e594ed23b869217688a30670e919"
                               "701e1f610100fffffffffffffffffffffffffffffff6506161616161";
    uint8_t rec[PC_REC_MAX];
    struct zg_pc_key k;
    memset(page, 'a', sizeof(page));
    zg_pc_page_key(page, &k);
    size_t n = pc_rec_encode(page, &k, rec);
    ZT_EQ(n, 58);
    char hex[2 * 58 + 1];
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", rec[i]);
    ZT_STREQ(hex, want);
}

ZT_TEST(record_round_trip_and_damage)
{
    static uint8_t pages[3 * ZG_PC_PAGE_SIZE], buf[64 + 3 * PC_REC_MAX], out[ZG_PC_PAGE_SIZE];
    fill7();
    memcpy(pages, page, ZG_PC_PAGE_SIZE);        /* compressible */
    for (size_t i = 0; i < ZG_PC_PAGE_SIZE; i++) /* incompressible */
        pages[ZG_PC_PAGE_SIZE + i] = (uint8_t)((i * 2654435761u) >> 13);
    srand(1);
    for (size_t i = 0; i < ZG_PC_PAGE_SIZE; i++)
        pages[2 * ZG_PC_PAGE_SIZE + i] = (uint8_t)rand();
    size_t len = build_pack(buf, pages, 3);
    uint64_t off = 64;
    int raw = 0;
    for (int i = 0; i < 3; i++) {
        struct pc_rec r;
        const char *why;
        ZT_EQ(pc_rec_parse(buf, len, off, &r, &why), 0);
        ZT_EQ(pc_rec_decode(&r, out, 1, &why), 0);
        ZT_MEMEQ(out, pages + i * ZG_PC_PAGE_SIZE, ZG_PC_PAGE_SIZE);
        raw += r.enc == ZG_PC_ENC_RAW;
        off += 32 + r.len;
    }
    ZT_EQ(off, len);
    ZT_EQ(raw, 1);
    /* Every single-byte flip in the first record is caught by parse or decode. */
    struct pc_rec r0;
    const char *why;
    ZT_EQ(pc_rec_parse(buf, len, 64, &r0, &why), 0);
    for (size_t i = 64; i < 64 + 32 + (size_t)r0.len; i++) {
        buf[i] ^= 0x40;
        struct pc_rec r;
        int rc = pc_rec_parse(buf, len, 64, &r, &why);
        if (rc == 0)
            rc = pc_rec_decode(&r, out, 1, &why);
        buf[i] ^= 0x40;
        if (rc != -EBADMSG)
            ZT_FAILF("flip at %zu not detected", i);
    }
    /* Truncation anywhere inside a record is caught. */
    for (size_t cut = 64; cut < 64 + 32 + (size_t)r0.len; cut++) {
        struct pc_rec r;
        ZT_EQ(pc_rec_parse(buf, cut, 64, &r, &why), -EBADMSG);
    }
    /* Resync skips a damaged record to the next complete one. */
    buf[64 + 40] ^= 1;
    ZT_EQ(pc_rec_resync(buf, len, 64), 64 + 32 + r0.len);
    ZT_EQ(pc_rec_resync(buf, 64 + 32 + r0.len + 10, 64), UINT64_MAX);
}

ZT_TEST(record_rejects_bad_lengths)
{
    uint8_t buf[64 + PC_REC_MAX];
    memset(page, 'b', sizeof(page));
    size_t len = build_pack(buf, page, 1);
    struct zg_pc_rec_hdr h;
    memcpy(&h, buf + 64, sizeof(h));
    struct pc_rec r;
    const char *why;
    uint16_t bad[] = {0, 4096, 5000, 65535};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct zg_pc_rec_hdr b = h;
        b.len = bad[i];
        memcpy(buf + 64, &b, sizeof(b));
        ZT_EQ(pc_rec_parse(buf, len, 64, &r, &why), -EBADMSG);
    }
    memcpy(buf + 64, &h, sizeof(h));
    ZT_EQ(pc_rec_parse(buf, len, 64, &r, &why), 0);
    ZT_EQ(pc_rec_parse(buf, len, UINT64_MAX - 8, &r, &why), -EBADMSG);
    ZT_EQ(pc_rec_parse(buf, len, 3, &r, &why), -EBADMSG);
}

ZT_TEST(lz4_block_must_decode_to_one_page)
{
    /* A block that is valid LZ4 but decodes to 100 bytes is refused. */
    uint8_t small[100], blk[200];
    memset(small, 'x', sizeof(small));
    int n = LZ4_compress_default((char *)small, (char *)blk, 100, 200);
    ZT_TRUE(n > 0);
    struct pc_rec r = {.len = (uint16_t)n, .enc = ZG_PC_ENC_LZ4, .payload = blk};
    const char *why;
    uint8_t out[ZG_PC_PAGE_SIZE];
    ZT_EQ(pc_rec_decode(&r, out, 0, &why), -EBADMSG);
}

ZT_TEST(index_parse_rules)
{
    /* Header + one pack + no entries + trailer, built by hand. */
    uint8_t buf[64 + 16 + 16];
    struct zg_pc_index_hdr h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, ZG_PC_INDEX_MAGIC, 8);
    h.major = 1;
    h.hdr_size = 64;
    h.page_size = 4096;
    h.hash_id = h.comp_id = 1;
    h.npacks = 1;
    h.max_pack_id = 1;
    h.hdr_checksum = pc_xxh64(&h, 56);
    memcpy(buf, &h, 64);
    struct zg_pc_index_pack p = {.pack_id = 1, .covered = 64};
    memcpy(buf + 64, &p, 16);
    memcpy(buf + 80, ZG_PC_INDEX_END, 8);
    uint64_t sum = pc_xxh64(buf, 80);
    memcpy(buf + 88, &sum, 8);
    struct pc_index_view v;
    const char *why;
    ZT_EQ(pc_index_parse(buf, sizeof(buf), 0, &v, &why), 0);
    ZT_EQ(v.hdr.npacks, 1);
    ZT_EQ(pc_index_parse(buf, sizeof(buf) - 1, 0, &v, &why), -EBADMSG);
    buf[70] ^= 1; /* a pack-table byte: whole-file checksum */
    ZT_EQ(pc_index_parse(buf, sizeof(buf), 0, &v, &why), -EBADMSG);
    ZT_EQ(pc_index_parse(buf, sizeof(buf), 1, &v, &why), 0);
    ZT_EQ(v.bad_checksum, 1);
    buf[70] ^= 1;
    buf[33] ^= 1; /* a header byte: header checksum, even when lenient */
    ZT_EQ(pc_index_parse(buf, sizeof(buf), 1, &v, &why), -EBADMSG);
    buf[33] ^= 1;
    /* Counts that do not match the size are refused before any use. */
    h.nentries = 1ull << 40;
    h.hdr_checksum = pc_xxh64(&h, 56);
    memcpy(buf, &h, 64);
    ZT_EQ(pc_index_parse(buf, sizeof(buf), 1, &v, &why), -EBADMSG);
    h.nentries = 0;
    h.major = 2;
    h.hdr_checksum = pc_xxh64(&h, 56);
    memcpy(buf, &h, 64);
    ZT_EQ(pc_index_parse(buf, sizeof(buf), 1, &v, &why), -ENOTSUP);
}

ZT_TEST(index_entry_rules)
{
    struct zg_pc_index_entry e = {.offset = 64, .pack_id = 1, .len = 10, .enc = ZG_PC_ENC_LZ4};
    const char *why;
    ZT_EQ(pc_index_entry_check(&e, &why), -EBADMSG); /* zero key */
    e.key[3] = 1;
    ZT_EQ(pc_index_entry_check(&e, &why), 0);
    e.offset = UINT64_MAX - 20;
    ZT_EQ(pc_index_entry_check(&e, &why), -EBADMSG);
    e.offset = 64;
    e.enc = ZG_PC_ENC_RAW;
    ZT_EQ(pc_index_entry_check(&e, &why), -EBADMSG);
    e.len = 4096;
    ZT_EQ(pc_index_entry_check(&e, &why), 0);
}

ZT_TEST(root_parse_rules)
{
    uint8_t buf[32 + 32 + 8];
    struct zg_pc_root_hdr h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, ZG_PC_ROOT_MAGIC, 8);
    h.major = 1;
    h.hash_id = 1;
    h.nkeys = 2;
    memcpy(buf, &h, 32);
    memset(buf + 32, 0xab, 16);
    memset(buf + 48, 0, 16);
    uint64_t sum = pc_xxh64(buf, 64);
    memcpy(buf + 64, &sum, 8);
    const uint8_t *keys;
    uint64_t n;
    int newer;
    const char *why;
    ZT_EQ(pc_root_parse(buf, sizeof(buf), &keys, &n, &newer, &why), 0);
    ZT_EQ(n, 2);
    ZT_EQ(keys[0], 0xab);
    buf[40] ^= 1;
    ZT_EQ(pc_root_parse(buf, sizeof(buf), &keys, &n, &newer, &why), -EBADMSG);
    buf[40] ^= 1;
    ZT_EQ(pc_root_parse(buf, sizeof(buf) - 16, &keys, &n, &newer, &why), -EBADMSG);
    ZT_TRUE(pc_root_name_ok("web-1.2_x@y+z:1"));
    ZT_TRUE(!pc_root_name_ok(".hidden"));
    ZT_TRUE(!pc_root_name_ok("a/b"));
    ZT_TRUE(!pc_root_name_ok(""));
}

ZT_TEST(table_and_keyset)
{
    struct pc_table t = {0};
    struct pc_keyset s = {0};
    for (uint32_t i = 1; i <= 5000; i++) {
        struct pc_ent e = {.off = i, .enc = 1};
        uint32_t x = i * 2654435761u;
        memcpy(e.key.b, &x, 4);
        memcpy(e.key.b + 12, &i, 4);
        ZT_EQ(pc_table_insert(&t, &e), 0);
        ZT_EQ(pc_table_insert(&t, &e), 1);
        ZT_EQ(pc_keyset_add(&s, &e.key, NULL), 1);
    }
    ZT_EQ(t.n, 5000);
    ZT_EQ(s.n, 5000);
    for (uint32_t i = 1; i <= 5000; i++) {
        struct zg_pc_key k = {{0}};
        uint32_t x = i * 2654435761u;
        memcpy(k.b, &x, 4);
        memcpy(k.b + 12, &i, 4);
        struct pc_ent *e = pc_table_find(&t, &k);
        ZT_TRUE(e && e->off == i);
        ZT_TRUE(pc_keyset_get(&s, &k) != NULL);
    }
    struct zg_pc_key miss = {{9, 9, 9}};
    ZT_TRUE(pc_table_find(&t, &miss) == NULL);
    pc_table_free(&t);
    pc_keyset_free(&s);
}

ZT_TEST(home_dir_rules)
{
    char buf[512];
    setenv("ZERG_HOME", "/srv/zerg", 1);
    ZT_EQ(zg_home_dir(buf, sizeof(buf)), 0);
    ZT_TRUE(strcmp(buf, "/srv/zerg") == 0);
    ZT_EQ(zg_pc_default_dir(buf, sizeof(buf)), 0);
    ZT_TRUE(strcmp(buf, "/srv/zerg/cache") == 0);
    ZT_EQ(zg_home_dir(buf, 5), -ENAMETOOLONG);
    unsetenv("ZERG_HOME");
    setenv("XDG_DATA_HOME", "/xdg", 1);
    setenv("HOME", "/home/u", 1);
    ZT_EQ(zg_home_dir(buf, sizeof(buf)), 0);
    if (geteuid() == 0) {
        ZT_TRUE(strcmp(buf, "/var/lib/zerg") == 0);
    } else {
        ZT_TRUE(strcmp(buf, "/xdg/zerg") == 0);
        unsetenv("XDG_DATA_HOME");
        ZT_EQ(zg_home_dir(buf, sizeof(buf)), 0);
        ZT_TRUE(strcmp(buf, "/home/u/.local/share/zerg") == 0);
    }
}

int main(void)
{
    ZT_RUN(key_vectors);
    ZT_RUN(zero_page_is_zero_key);
    ZT_RUN(key_hex_round_trip);
    ZT_RUN(pack_header_vector);
    ZT_RUN(record_vector);
    ZT_RUN(record_round_trip_and_damage);
    ZT_RUN(record_rejects_bad_lengths);
    ZT_RUN(lz4_block_must_decode_to_one_page);
    ZT_RUN(index_parse_rules);
    ZT_RUN(index_entry_rules);
    ZT_RUN(root_parse_rules);
    ZT_RUN(table_and_keyset);
    ZT_RUN(home_dir_rules);
    ZT_MAIN_END;
}
