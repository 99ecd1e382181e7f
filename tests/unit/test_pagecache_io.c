/* Page cache tests on real directories: round trips, recovery, damage, GC, concurrency. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pagecache/pc_internal.h"
#include "tests/zt.h"

#define PG ZG_PC_PAGE_SIZE

static char dir[256];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void fresh_dir(void)
{
    if (dir[0])
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    snprintf(dir, sizeof(dir), "/tmp/zg-test-pc-XXXXXX");
    if (!mkdtemp(dir))
        abort();
}

static uint64_t rng = 1;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* n pages: every 4th zero, every 5th a copy of page 1, some random, others text. */
static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint8_t *make_image(size_t n, uint64_t seed)
{
    uint8_t *m = calloc(n, PG);
    rng = seed;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = m + i * PG;
        if (i % 4 == 3)
            continue;
        if (i % 5 == 4 && i > 1) {
            memcpy(p, m + PG, PG);
        } else if (i % 7 == 0) {
            for (size_t j = 0; j < PG; j += 8) {
                uint64_t r = rnd();
                memcpy(p + j, &r, 8);
            }
        } else {
            for (size_t j = 0; j < PG; j++)
                p[j] = (uint8_t)("abcdefgh"[rnd() % 8] + (j % 64 == 0 ? i : 0));
        }
    }
    return m;
}

static char pack_path[300];
static const char *pack1(void)
{
    snprintf(pack_path, sizeof(pack_path), "%s/packs/pack-00000001.zpk", dir);
    return pack_path;
}

static off_t fsize(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? st.st_size : -1;
}

static void flip(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    uint8_t b;
    if (pread(fd, &b, 1, off) == 1) {
        b ^= 0x5a;
        if (pwrite(fd, &b, 1, off) != 1)
            abort();
    }
    close(fd);
}

struct vcount {
    int errors, warnings, named_key;
    struct zg_pc_key want;
};

static void count_problem(void *arg, const struct zg_pc_problem *p)
{
    struct vcount *c = arg;
    if (p->severity == ZG_PC_SEV_ERROR)
        c->errors++;
    else
        c->warnings++;
    if (p->has_key && pc_key_eq(&p->key, &c->want))
        c->named_key = 1;
}

static int verify_counts(struct vcount *c)
{
    struct zg_pc *pc;
    struct zg_pc_verify_report r;
    if (zg_pc_open(dir, 0, &pc) < 0)
        return -1;
    int rc = zg_pc_verify(pc, count_problem, c, &r, NULL, NULL);
    zg_pc_close(pc);
    return rc;
}

ZT_TEST(round_trip_memory_and_file)
{
    fresh_dir();
    size_t n = 300;
    uint8_t *img = make_image(n, 7), *out = calloc(n, PG);
    struct zg_pc_key *keys = calloc(n, sizeof(*keys));
    struct zg_pc *pc;
    struct zg_pc_ingest_stats st;
    ZT_EQ(zg_pc_open(dir, ZG_PC_CREATE | ZG_PC_WRITE, &pc), 0);
    ZT_EQ(zg_pc_ingest(pc, img, n, keys, NULL, &st), 0);
    ZT_EQ(st.pages, n);
    ZT_EQ(st.zero_pages, n / 4);
    ZT_TRUE(st.batch_dups > 0);
    ZT_EQ(st.stored + st.batch_dups + st.zero_pages + st.present, n);
    ZT_TRUE(st.compressed > 0 && st.compressed < st.stored);
    ZT_EQ(zg_pc_materialize(pc, keys, n, out, ZG_PC_VERIFY), 0);
    ZT_MEMEQ(out, img, n * PG);
    /* Into a file: content equal, zero pages left as holes. */
    char path[300];
    snprintf(path, sizeof(path), "%s/image", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    ZT_EQ(zg_pc_materialize_fd(pc, keys, n, fd, 0, 0), 0);
    memset(out, 0xee, n * PG);
    ZT_EQ(pread(fd, out, n * PG, 0), (ssize_t)(n * PG));
    ZT_MEMEQ(out, img, n * PG);
    ZT_EQ(lseek(fd, 3 * PG, SEEK_HOLE), 3 * PG);
    close(fd);
    /* Single reads, the zero key, a missing key. */
    uint8_t page[PG];
    ZT_EQ(zg_pc_get(pc, &keys[5], page, ZG_PC_VERIFY), 0);
    ZT_MEMEQ(page, img + 5 * PG, PG);
    ZT_EQ(zg_pc_get(pc, &ZG_PC_ZERO_KEY, page, 0), 0);
    ZT_TRUE(zg_pc_contains(pc, &keys[5]));
    struct zg_pc_key nope = {{1, 2, 3}};
    ZT_EQ(zg_pc_get(pc, &nope, page, 0), -ENOENT);
    ZT_TRUE(strstr(zg_pc_last_error(), "01020300") != NULL);
    zg_pc_close(pc);
    /* Reopened read-only: same pages, and ingest is refused. */
    ZT_EQ(zg_pc_open(dir, 0, &pc), 0);
    memset(out, 0, n * PG);
    ZT_EQ(zg_pc_materialize(pc, keys, n, out, 0), 0);
    ZT_MEMEQ(out, img, n * PG);
    ZT_EQ(zg_pc_ingest(pc, img, n, keys, NULL, &st), -EROFS);
    zg_pc_close(pc);
    /* Ingesting again stores nothing. */
    ZT_EQ(zg_pc_open(dir, ZG_PC_WRITE, &pc), 0);
    ZT_EQ(zg_pc_ingest(pc, img, n, keys, NULL, &st), 0);
    ZT_EQ(st.stored, 0);
    ZT_EQ(st.stored_bytes, 0);
    zg_pc_close(pc);
    free(img);
    free(out);
    free(keys);
}

/* Records copied from one cache to another (the remote tier's path): each
 * checked on the way out and in; a damaged or misplaced one refuses the whole
 * batch, storing nothing; what arrives is durable and reads back equal. */
ZT_TEST(records_move_between_caches)
{
    fresh_dir();
    size_t n = 64;
    uint8_t *img = make_image(n, 11), *out = calloc(n, PG);
    struct zg_pc_key *keys = calloc(n, sizeof(*keys));
    struct zg_pc *src, *dst;
    char dst_dir[300];
    ZT_EQ(zg_pc_open(dir, ZG_PC_CREATE | ZG_PC_WRITE, &src), 0);
    ZT_EQ(zg_pc_ingest(src, img, n, keys, NULL, NULL), 0);
    snprintf(dst_dir, sizeof(dst_dir), "%s/other", dir);
    ZT_EQ(zg_pc_open(dst_dir, ZG_PC_CREATE | ZG_PC_WRITE, &dst), 0);
    uint8_t *buf = malloc(n * ZG_PC_RECORD_MAX);
    const uint8_t **recs = calloc(n, sizeof(*recs));
    size_t *lens = calloc(n, sizeof(*lens)), m = 0, at = 0;
    struct zg_pc_key *want = calloc(n, sizeof(*want));
    for (size_t i = 0; i < n; i++) {
        if (zg_pc_key_is_zero(&keys[i])) {
            ZT_EQ(zg_pc_record_get(src, &keys[i], buf + at), -ENOENT);
            continue;
        }
        int rl = zg_pc_record_get(src, &keys[i], buf + at);
        ZT_TRUE(rl > 32 && rl <= (int)ZG_PC_RECORD_MAX);
        ZT_EQ(zg_pc_record_check(buf + at, (size_t)rl, &keys[i]), 0);
        recs[m] = buf + at;
        lens[m] = (size_t)rl;
        want[m++] = keys[i];
        at += (size_t)rl;
    }
    /* A flipped payload byte, a record under another page's key, a short one. */
    struct zg_pc_put_stats st;
    uint8_t *last = (uint8_t *)recs[m - 1];
    last[lens[m - 1] - 1] ^= 0x40;
    ZT_EQ(zg_pc_record_check(last, lens[m - 1], &want[m - 1]), -EBADMSG);
    ZT_EQ(zg_pc_put_records(dst, recs, lens, m, want, 0, &st), -EBADMSG);
    ZT_TRUE(strstr(zg_pc_last_error(), "checksum") != NULL);
    last[lens[m - 1] - 1] ^= 0x40;
    ZT_TRUE(!zg_pc_contains(dst, &want[0]));
    struct zg_pc_key swapped = want[1];
    want[1] = want[2];
    ZT_EQ(zg_pc_put_records(dst, recs, lens, m, want, 0, &st), -EBADMSG);
    ZT_TRUE(strstr(zg_pc_last_error(), "another page") != NULL);
    want[1] = swapped;
    lens[3]--;
    ZT_EQ(zg_pc_put_records(dst, recs, lens, m, want, ZG_PC_PUT_CHECKED, &st), -EBADMSG);
    lens[3]++;
    ZT_TRUE(!zg_pc_contains(dst, &want[0]));
    /* The whole batch, twice: the second time stores nothing. */
    ZT_EQ(zg_pc_put_records(dst, recs, lens, m, want, 0, &st), 0);
    ZT_TRUE(st.stored > 0 && st.stored < m); /* the image repeats pages */
    ZT_EQ(zg_pc_put_records(dst, recs, lens, m, want, 0, &st), 0);
    ZT_EQ(st.stored, 0);
    zg_pc_close(dst);
    ZT_EQ(zg_pc_open(dst_dir, 0, &dst), 0); /* durable: another handle reads it */
    ZT_EQ(zg_pc_materialize(dst, keys, n, out, ZG_PC_VERIFY), 0);
    ZT_MEMEQ(out, img, n * PG);
    zg_pc_close(dst);
    zg_pc_close(src);
    free(img);
    free(out);
    free(keys);
    free(buf);
    free(recs);
    free(lens);
    free(want);
}

ZT_TEST(open_missing_cache)
{
    struct zg_pc *pc;
    ZT_EQ(zg_pc_open("/nonexistent/zg-cache", 0, &pc), -ENOENT);
    ZT_TRUE(strstr(zg_pc_last_error(), "/nonexistent/zg-cache") != NULL);
}

ZT_TEST(reader_refresh_sees_new_pages)
{
    fresh_dir();
    size_t n = 40;
    uint8_t *img = make_image(n, 11);
    struct zg_pc_key keys[40];
    struct zg_pc *w, *r;
    uint8_t page[PG];
    ZT_EQ(zg_pc_open(dir, ZG_PC_CREATE | ZG_PC_WRITE, &w), 0);
    ZT_EQ(zg_pc_open(dir, 0, &r), 0);
    ZT_EQ(zg_pc_ingest(w, img, n, keys, NULL, NULL), 0);
    ZT_EQ(zg_pc_get(r, &keys[0], page, 0), -ENOENT);
    ZT_EQ(zg_pc_refresh(r), 0);
    ZT_EQ(zg_pc_get(r, &keys[0], page, ZG_PC_VERIFY), 0);
    ZT_MEMEQ(page, img, PG);
    zg_pc_close(w);
    zg_pc_close(r);
    free(img);
}

ZT_TEST(torn_tail_is_cut)
{
    fresh_dir();
    size_t n = 30;
    uint8_t *img = make_image(n, 3);
    struct zg_pc_key keys[30];
    struct zg_pc *pc;
    ZT_EQ(zg_pc_open(dir, ZG_PC_CREATE | ZG_PC_WRITE, &pc), 0);
    ZT_EQ(zg_pc_ingest(pc, img, n, keys, NULL, NULL), 0);
    zg_pc_close(pc);
    off_t good = fsize(pack1());
    /* A crash in the middle of an append: half a record. */
    uint8_t rec[PC_REC_MAX];
    struct zg_pc_key k = {{7}};
    size_t len = pc_rec_encode(img, &k, rec);
    int fd = open(pack1(), O_WRONLY | O_APPEND);
    ZT_EQ(write(fd, rec, len / 2), (ssize_t)(len / 2));
    close(fd);
    struct vcount c = {0};
    ZT_EQ(verify_counts(&c), 0);
    ZT_EQ(c.errors, 0);
    ZT_EQ(c.warnings, 1);
    ZT_EQ(zg_pc_open(dir, 0, &pc), 0); /* a reader leaves it */
    zg_pc_close(pc);
    ZT_EQ(fsize(pack1()), good + (off_t)(len / 2));
    ZT_EQ(zg_pc_open(dir, ZG_PC_WRITE, &pc), 0); /* a writer cuts it */
    ZT_EQ(fsize(pack1()), good);
    uint8_t *img2 = make_image(n, 99);
    struct zg_pc_key keys2[30];
    ZT_EQ(zg_pc_ingest(pc, img2, n, keys2, NULL, NULL), 0);
    zg_pc_close(pc);
    memset(&c, 0, sizeof(c));
    ZT_EQ(verify_counts(&c), 0);
    ZT_EQ(c.errors + c.warnings, 0);
    free(img);
    free(img2);
}

ZT_TEST(index_behind_is_extended_from_packs)
{
    fresh_dir();
    size_t n = 50;
    uint8_t *a = make_image(n, 21), *b = make_image(n, 22), *out = calloc(n, PG);
    struct zg_pc_key ka[50], kb[50];
    struct zg_pc *pc;
    char idx[300], saved[300];
    snprintf(idx, sizeof(idx), "%s/index", dir);
    snprintf(saved, sizeof(saved), "%s/index.old", dir);
    ZT_EQ(zg_pc_open(dir, ZG_PC_CREATE | ZG_PC_WRITE, &pc), 0);
    ZT_EQ(zg_pc_ingest(pc, a, n, ka, NULL, NULL), 0);
    ZT_EQ(link(idx, saved), 0);
    ZT_EQ(zg_pc_ingest(pc, b, n, kb, NULL, NULL), 0);
    zg_pc_close(pc);
    ZT_EQ(rename(saved, idx), 0); /* as if killed between pack fsync and index rename */
    ZT_EQ(zg_pc_open(dir, 0, &pc), 0);
    ZT_EQ(zg_pc_materialize(pc, kb, n, out, ZG_PC_VERIFY), 0);
    ZT_MEMEQ(out, b, n * PG);
    zg_pc_close(pc);
    struct vcount c = {0};
    ZT_EQ(verify_counts(&c), 0);
    ZT_EQ(c.errors, 0);
    /* No index at all: rebuilt from the packs. */
    ZT_EQ(unlink(idx), 0);
    ZT_EQ(zg_pc_open(dir, ZG_PC_WRITE, &pc), 0);
    memset(out, 0, n * PG);
    ZT_EQ(zg_pc_materialize(pc, ka, n, out, ZG_PC_VERIFY), 0);
    ZT_MEMEQ(out, a, n * PG);
    zg_pc_close(pc);
    ZT_TRUE(fsize(idx) > 0);
    free(a);
    free(b);
    free(out);
}

ZT_TEST(damaged_page_is_an_error_never_wrong_data)
{
    fresh_dir();
    size_t n = 20;
    uint8_t *img = make_image(n, 5), page[PG];
    struct zg_pc_key keys[20];
    struct zg_pc *pc;
    ZT_EQ(zg_pc_open(dir, ZG_PC_CREATE | ZG_PC_WRITE, &pc), 0);
    ZT_EQ(zg_pc_ingest(pc, img, n, keys, NULL, NULL), 0);
    const struct pc_ent *e = pc_table_find(&pc->tab, &keys[2]);
    ZT_TRUE(e != NULL);
    uint64_t off = e->off;
    zg_pc_close(pc);
    flip(pack1(), (off_t)(off + 32 + 5)); /* inside page 2's payload */
    ZT_EQ(zg_pc_open(dir, 0, &pc), 0);
    ZT_EQ(zg_pc_get(pc, &keys[2], page, 0), -EIO);
    char hex[33], where[64];
    zg_pc_key_hex(&keys[2], hex);
    snprintf(where, sizeof(where), "offset %llu", (unsigned long long)off);
    ZT_TRUE(strstr(zg_pc_last_error(), hex) != NULL);
    ZT_TRUE(strstr(zg_pc_last_error(), where) != NULL);
    ZT_TRUE(strstr(zg_pc_last_error(), "pack-00000001.zpk") != NULL);
    uint8_t *out = calloc(n, PG);
    ZT_EQ(zg_pc_materialize(pc, keys, n, out, 0), -EIO);
    ZT_EQ(zg_pc_get(pc, &keys[0], page, ZG_PC_VERIFY), 0); /* others still fine */
    zg_pc_close(pc);
    struct vcount c = {.want = keys[2]};
    ZT_EQ(verify_counts(&c), 0);
    ZT_TRUE(c.errors >= 1);
    ZT_EQ(c.named_key, 1);
    /* Truncation inside the indexed region: later pages fail, verify names them. */
    ZT_EQ(truncate(pack1(), (off_t)off + 10), 0);
    ZT_EQ(zg_pc_open(dir, 0, &pc), 0);
    ZT_EQ(zg_pc_get(pc, &keys[n - 2], page, 0), -EIO);
    zg_pc_close(pc);
    memset(&c, 0, sizeof(c));
    c.want = keys[n - 2];
    ZT_EQ(verify_counts(&c), 0);
    ZT_TRUE(c.errors >= 2);
    ZT_EQ(c.named_key, 1);
    free(img);
    free(out);
}

ZT_TEST(damaged_index_is_reported_and_rebuilt)
{
    fresh_dir();
    size_t n = 20;
    uint8_t *img = make_image(n, 6), page[PG];
    struct zg_pc_key keys[20];
    struct zg_pc *pc;
    char idx[300];
    snprintf(idx, sizeof(idx), "%s/index", dir);
    ZT_EQ(zg_pc_open(dir, ZG_PC_CREATE | ZG_PC_WRITE, &pc), 0);
    ZT_EQ(zg_pc_ingest(pc, img, n, keys, NULL, NULL), 0);
    zg_pc_close(pc);
    /* Flip a byte of the first entry's offset. */
    flip(idx, 64 + 16 + 16 + 1);
    struct vcount c = {0};
    ZT_EQ(verify_counts(&c), 0);
    ZT_TRUE(c.errors >= 2); /* checksum, and the entry that now points nowhere */
    ZT_EQ(zg_pc_open(dir, 0, &pc), 0);
    for (size_t i = 0; i < n; i++)
        ZT_EQ(zg_pc_get(pc, &keys[i], page, ZG_PC_VERIFY), 0);
    zg_pc_close(pc);
    ZT_EQ(zg_pc_open(dir, ZG_PC_WRITE, &pc), 0); /* a writer rewrites it */
    zg_pc_close(pc);
    memset(&c, 0, sizeof(c));
    ZT_EQ(verify_counts(&c), 0);
    ZT_EQ(c.errors, 0);
    free(img);
}

ZT_TEST(roots_and_gc)
{
    fresh_dir();
    size_t n = 64;
    uint8_t *a = make_image(n, 31), *b = make_image(n, 31), *out = calloc(n, PG);
    /* b shares a's first half and has its own second half. */
    uint8_t *b2 = make_image(n, 32);
    memcpy(b + n / 2 * PG, b2 + n / 2 * PG, n / 2 * PG);
    struct zg_pc_key ka[64], kb[64];
    struct zg_pc *pc, *old;
    struct zg_pc_ingest_opts oa = {.root = "app-a"}, ob = {.root = "app-b"};
    ZT_EQ(zg_pc_open(dir, ZG_PC_CREATE | ZG_PC_WRITE, &pc), 0);
    ZT_EQ(zg_pc_ingest(pc, a, n, ka, &oa, NULL), 0);
    ZT_EQ(zg_pc_ingest(pc, b, n, kb, &ob, NULL), 0);
    struct zg_pc_key junk[3];
    uint8_t *j = make_image(3, 77);
    ZT_EQ(zg_pc_ingest(pc, j, 3, junk, NULL, NULL), 0); /* no root: garbage */
    char **names;
    size_t nn;
    ZT_EQ(zg_pc_root_list(pc, &names, &nn), 0);
    ZT_EQ(nn, 2);
    ZT_STREQ(names[0], "app-a");
    zg_pc_root_list_free(names, nn);
    struct zg_pc_stats st;
    struct zg_pc_root_stats *rs;
    size_t nr;
    ZT_EQ(zg_pc_stats(pc, &st, &rs, &nr), 0);
    ZT_EQ(nr, 2);
    ZT_EQ(st.all.refs, 2 * n);
    ZT_TRUE(st.unreferenced > 0);
    ZT_TRUE(st.dedupe_ratio > 1.0);
    ZT_TRUE(rs[0].u.unique > 0 && rs[0].u.unique < rs[0].u.distinct);
    uint64_t a_unique = rs[0].u.unique, unref = st.unreferenced;
    free(rs);
    ZT_EQ(zg_pc_open(dir, 0, &old), 0); /* opened before the GC */
    ZT_EQ(zg_pc_root_del(pc, "app-a"), 0);
    ZT_EQ(zg_pc_root_del(pc, "app-a"), -ENOENT);
    struct zg_pc_gc_stats g;
    ZT_EQ(zg_pc_gc(pc, &g, NULL, NULL), 0);
    ZT_EQ(g.dead_pages, a_unique + unref);
    ZT_EQ(g.damaged_pages, 0);
    ZT_TRUE(g.bytes_after < g.bytes_before);
    ZT_EQ(zg_pc_materialize(pc, kb, n, out, ZG_PC_VERIFY), 0);
    ZT_MEMEQ(out, b, n * PG);
    uint8_t page[PG];
    ZT_EQ(zg_pc_get(pc, &ka[n - 2], page, 0), -ENOENT);
    /* The old handle still reads through its mappings, and after a refresh. */
    memset(out, 0, n * PG);
    ZT_EQ(zg_pc_materialize(old, kb, n, out, ZG_PC_VERIFY), 0);
    ZT_EQ(zg_pc_refresh(old), 0);
    memset(out, 0, n * PG);
    ZT_EQ(zg_pc_materialize(old, kb, n, out, ZG_PC_VERIFY), 0);
    ZT_MEMEQ(out, b, n * PG);
    zg_pc_close(old);
    /* A second GC has nothing to do; ingest after GC works. */
    ZT_EQ(zg_pc_gc(pc, &g, NULL, NULL), 0);
    ZT_EQ(g.dead_pages, 0);
    ZT_EQ(g.packs_rewritten, 0);
    ZT_EQ(zg_pc_ingest(pc, a, n, ka, &oa, NULL), 0);
    zg_pc_close(pc);
    struct vcount c = {0};
    ZT_EQ(verify_counts(&c), 0);
    ZT_EQ(c.errors + c.warnings, 0);
    free(a);
    free(b);
    free(b2);
    free(j);
    free(out);
}

ZT_TEST(root_rules)
{
    fresh_dir();
    struct zg_pc *pc;
    struct zg_pc_key k[2] = {{{0}}, {{5, 5}}};
    ZT_EQ(zg_pc_open(dir, ZG_PC_CREATE | ZG_PC_WRITE, &pc), 0);
    ZT_EQ(zg_pc_root_put(pc, "r", k, 1), 0); /* only the zero page */
    ZT_EQ(zg_pc_root_put(pc, "r", k, 2), -ENOENT);
    ZT_EQ(zg_pc_root_put(pc, "../x", k, 1), -EINVAL);
    struct zg_pc_key *got;
    size_t n;
    ZT_EQ(zg_pc_root_get(pc, "r", &got, &n), 0);
    ZT_EQ(n, 1);
    ZT_TRUE(zg_pc_key_is_zero(&got[0]));
    free(got);
    ZT_EQ(zg_pc_root_get(pc, "none", &got, &n), -ENOENT);
    zg_pc_close(pc);
}

ZT_TEST(leftover_gc_pack_is_ignored_then_deleted)
{
    fresh_dir();
    size_t n = 10;
    uint8_t *img = make_image(n, 41);
    struct zg_pc_key keys[10];
    struct zg_pc *pc;
    struct zg_pc_ingest_opts o = {.root = "keep"};
    ZT_EQ(zg_pc_open(dir, ZG_PC_CREATE | ZG_PC_WRITE, &pc), 0);
    ZT_EQ(zg_pc_ingest(pc, img, n, keys, &o, NULL), 0);
    ZT_EQ(zg_pc_root_del(pc, "keep"), 0);
    char p2[300];
    snprintf(p2, sizeof(p2), "%s/packs/pack-00000002.zpk", dir);
    /* Keep a copy of pack 1 as it was: after the GC it is a leftover. */
    ZT_EQ(link(pack1(), p2), 0);
    ZT_EQ(zg_pc_gc(pc, NULL, NULL, NULL), 0);
    zg_pc_close(pc);
    ZT_EQ(rename(p2, pack1()), 0); /* as if the GC died before unlinking it */
    ZT_EQ(zg_pc_open(dir, 0, &pc), 0);
    ZT_EQ(zg_pc_contains(pc, &keys[0]), 0);
    zg_pc_close(pc);
    ZT_EQ(zg_pc_open(dir, ZG_PC_WRITE, &pc), 0);
    zg_pc_close(pc);
    ZT_EQ(fsize(pack1()), -1);
    free(img);
}

ZT_TEST(newer_minor_is_read_but_not_written)
{
    fresh_dir();
    size_t n = 8;
    uint8_t *img = make_image(n, 51), page[PG];
    struct zg_pc_key keys[8];
    struct zg_pc *pc;
    ZT_EQ(zg_pc_open(dir, ZG_PC_CREATE | ZG_PC_WRITE, &pc), 0);
    ZT_EQ(zg_pc_ingest(pc, img, n, keys, NULL, NULL), 0);
    zg_pc_close(pc);
    char idx[300];
    snprintf(idx, sizeof(idx), "%s/index", dir);
    int fd = open(idx, O_RDWR);
    size_t len = (size_t)fsize(idx);
    uint8_t *buf = malloc(len);
    ZT_EQ(pread(fd, buf, len, 0), (ssize_t)len);
    struct zg_pc_index_hdr h;
    memcpy(&h, buf, sizeof(h));
    h.minor = 9;
    h.hdr_checksum = pc_xxh64(&h, 56);
    memcpy(buf, &h, sizeof(h));
    uint64_t sum = pc_xxh64(buf, len - 16);
    memcpy(buf + len - 8, &sum, 8);
    ZT_EQ(pwrite(fd, buf, len, 0), (ssize_t)len);
    close(fd);
    free(buf);
    ZT_EQ(zg_pc_open(dir, 0, &pc), 0);
    ZT_EQ(zg_pc_get(pc, &keys[0], page, ZG_PC_VERIFY), 0);
    zg_pc_close(pc);
    ZT_EQ(zg_pc_open(dir, ZG_PC_WRITE, &pc), -ENOTSUP);
    free(img);
}

ZT_TEST(two_processes_write_at_once)
{
    fresh_dir();
    struct zg_pc *pc;
    ZT_EQ(zg_pc_open(dir, ZG_PC_CREATE | ZG_PC_WRITE, &pc), 0);
    zg_pc_close(pc);
    /* When each writer's open..close spans ran, in shared memory; both start
     * at once (a pipe the parent closes), so that they really overlap. */
    enum { ROUNDS = 6 };
    struct span {
        uint64_t start, end;
    }(*spans)[ROUNDS] =
        mmap(NULL, 2 * sizeof(*spans), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ZT_TRUE(spans != MAP_FAILED);
    int go[2];
    ZT_EQ(pipe(go), 0);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        if ((kids[k] = fork()) == 0) {
            int bad = 0;
            char c1;
            close(go[1]);
            bad |= read(go[0], &c1, 1) != 0; /* wait for the start */
            for (int round = 0; round < ROUNDS; round++) {
                size_t n = 40;
                uint8_t *img = make_image(n, 1000 + (uint64_t)k * 100 + (uint64_t)round);
                struct zg_pc_key keys[40];
                struct zg_pc *c;
                spans[k][round].start = now_ns();
                bad |= zg_pc_open(dir, ZG_PC_WRITE, &c) < 0;
                if (!bad)
                    bad |= zg_pc_ingest(c, img, n, keys, NULL, NULL) < 0;
                if (!bad)
                    zg_pc_close(c);
                spans[k][round].end = now_ns();
                free(img);
            }
            _exit(bad);
        }
    }
    close(go[0]);
    close(go[1]); /* go */
    for (int k = 0; k < 2; k++) {
        int status;
        waitpid(kids[k], &status, 0);
        ZT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    /* The writers overlapped: some session of one ran while one of the other
     * was open (else this would test two writers one after the other). */
    int overlaps = 0;
    for (int a = 0; a < ROUNDS; a++)
        for (int b = 0; b < ROUNDS; b++)
            overlaps += spans[0][a].start < spans[1][b].end && spans[1][b].start < spans[0][a].end;
    munmap(spans, 2 * sizeof(*spans));
    printf("# two writers: %d pairs of their open-ingest-close sessions overlapped in time\n",
           overlaps);
    ZT_TRUE(overlaps > 0);
    ZT_EQ(zg_pc_open(dir, 0, &pc), 0);
    for (int k = 0; k < 2; k++)
        for (int round = 0; round < 6; round++) {
            size_t n = 40;
            uint8_t *img = make_image(n, 1000 + (uint64_t)k * 100 + (uint64_t)round);
            uint8_t *out = calloc(n, PG);
            struct zg_pc_key keys[40];
            for (size_t i = 0; i < n; i++)
                zg_pc_page_key(img + i * PG, &keys[i]);
            int rc = zg_pc_materialize(pc, keys, n, out, ZG_PC_VERIFY);
            int same = memcmp(out, img, n * PG) == 0;
            free(img);
            free(out);
            ZT_EQ(rc, 0);
            ZT_TRUE(same);
        }
    zg_pc_close(pc);
    struct vcount c = {0};
    ZT_EQ(verify_counts(&c), 0);
    ZT_EQ(c.errors + c.warnings, 0);
}

int main(void)
{
    ZT_RUN(round_trip_memory_and_file);
    ZT_RUN(open_missing_cache);
    ZT_RUN(reader_refresh_sees_new_pages);
    ZT_RUN(torn_tail_is_cut);
    ZT_RUN(index_behind_is_extended_from_packs);
    ZT_RUN(damaged_page_is_an_error_never_wrong_data);
    ZT_RUN(damaged_index_is_reported_and_rebuilt);
    ZT_RUN(roots_and_gc);
    ZT_RUN(root_rules);
    ZT_RUN(leftover_gc_pack_is_ignored_then_deleted);
    ZT_RUN(newer_minor_is_read_but_not_written);
    ZT_RUN(two_processes_write_at_once);
    ZT_RUN(records_move_between_caches);
    if (dir[0])
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    ZT_MAIN_END;
}
