/* Page cache benchmark: ingest and materialize vs raw LZ4 and XXH3 on one synthetic image. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lz4.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "pagecache/pc_internal.h"

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* A page of "program text and data": words from a small vocabulary with
 * numbers and pointers mixed in, so it compresses like real heap pages. */
static void text_page(uint8_t *p, uint64_t *s)
{
    static const char *words[] = {
        "the ",    "runtime ",  "return ", "struct ",   "0x7ffd",   "null ",    "string ",
        "object ", "size_t ",   "error: ", "request ",  "handler ", "{\"id\":", "true,",
        "len=",    "function ", "zerg ",   "HTTP/1.1 ", "\n",       "    "};
    size_t n = 0;
    while (n < ZG_PC_PAGE_SIZE) {
        uint64_t r = rng_next(s);
        if ((r & 7) == 0 && n + 8 <= ZG_PC_PAGE_SIZE) { /* a pointer-like word */
            uint64_t ptr = 0x00007f0000000000ull | ((r >> 8) & 0xffffff8ull);
            memcpy(p + n, &ptr, 8);
            n += 8;
            continue;
        }
        const char *w = words[(r >> 3) % (sizeof(words) / sizeof(words[0]))];
        size_t l = strlen(w);
        if (l > ZG_PC_PAGE_SIZE - n)
            l = ZG_PC_PAGE_SIZE - n;
        memcpy(p + n, w, l);
        n += l;
    }
}

/* The image: 30% zero pages, 25% copies of a pool of 64 shared "runtime"
 * pages, 35% distinct text-like pages, 10% random (incompressible) pages. */
static void build_image(uint8_t *img, size_t npages, struct zg_pc_bench_result *res)
{
    uint64_t s = 0x5eed2e7a11ull;
    uint8_t pool[64][ZG_PC_PAGE_SIZE];
    for (int i = 0; i < 64; i++)
        text_page(pool[i], &s);
    for (size_t i = 0; i < npages; i++) {
        uint8_t *p = img + i * ZG_PC_PAGE_SIZE;
        unsigned c = (unsigned)(rng_next(&s) % 100);
        if (c < 30) {
            memset(p, 0, ZG_PC_PAGE_SIZE);
            res->zero_pages++;
        } else if (c < 55) {
            memcpy(p, pool[rng_next(&s) % 64], ZG_PC_PAGE_SIZE);
            res->dup_pages++;
        } else if (c < 90) {
            text_page(p, &s);
            res->text_pages++;
        } else {
            for (size_t j = 0; j < ZG_PC_PAGE_SIZE; j += 8) {
                uint64_t r = rng_next(&s);
                memcpy(p + j, &r, 8);
            }
            res->random_pages++;
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#define MAX_REPS 31

int zg_pc_bench(const struct zg_pc_bench_opts *o, struct zg_pc_bench_result *res)
{
    pc_err_clear();
    memset(res, 0, sizeof(*res));
    uint64_t mib = o->mib ? o->mib : 256;
    unsigned reps = o->reps ? o->reps : 5;
    if (reps > MAX_REPS)
        reps = MAX_REPS;
    if (!o->dir || mib > (1u << 20))
        return pc_err(-EINVAL, "bench: need a scratch directory and a sane size");
    size_t npages = (size_t)(mib << 20) / ZG_PC_PAGE_SIZE;
    size_t bytes = npages * ZG_PC_PAGE_SIZE;
    double mb = (double)bytes / 1e6;
    char cdir[4096];
    snprintf(cdir, sizeof(cdir), "%s/zg-bench-cache-%ld", o->dir, (long)getpid());
    uint8_t *img = malloc(bytes), *out = malloc(bytes);
    uint8_t *blocks = malloc(npages * (size_t)LZ4_COMPRESSBOUND(ZG_PC_PAGE_SIZE));
    int *blen = malloc(npages * sizeof(int));
    struct zg_pc_key *keys = malloc(npages * sizeof(*keys));
    double t_ing[MAX_REPS], t_mat[MAX_REPS], t_c[MAX_REPS], t_d[MAX_REPS], t_h[MAX_REPS];
    double q_ing[MAX_REPS], q_mat[MAX_REPS]; /* per-run ratios: each run against its own baseline */
    struct zg_pc *pc = NULL;
    int rc = 0;
    uint64_t step = 0;
    if (!img || !out || !blocks || !blen || !keys) {
        rc = pc_err(-ENOMEM, "bench: out of memory for a %llu MiB image", (unsigned long long)mib);
        goto out;
    }
    build_image(img, npages, res);
    memset(out, 0, bytes);
    res->pages = npages;
    res->reps = reps;
    res->cores_used = pc_nthreads(o->threads);
    const size_t bound = (size_t)LZ4_COMPRESSBOUND(ZG_PC_PAGE_SIZE);
    for (unsigned r = 0; r < reps; r++) {
        /* Raw baselines, one core, every page of the same image. */
        double t0 = pc_now();
        XXH128_hash_t acc = {0, 0};
        for (size_t i = 0; i < npages; i++) {
            XXH128_hash_t h = XXH3_128bits(img + i * ZG_PC_PAGE_SIZE, ZG_PC_PAGE_SIZE);
            acc.low64 ^= h.low64;
        }
        t_h[r] = pc_now() - t0;
        if (acc.low64 == 42)
            res->xxh3_mbps = 0; /* keeps the loop from being optimized away */
        t0 = pc_now();
        for (size_t i = 0; i < npages; i++)
            blen[i] = LZ4_compress_default((const char *)img + i * ZG_PC_PAGE_SIZE,
                                           (char *)blocks + i * bound, ZG_PC_PAGE_SIZE, (int)bound);
        t_c[r] = pc_now() - t0;
        t0 = pc_now();
        for (size_t i = 0; i < npages; i++)
            if (LZ4_decompress_safe((const char *)blocks + i * bound,
                                    (char *)out + i * ZG_PC_PAGE_SIZE, blen[i],
                                    ZG_PC_PAGE_SIZE) != (int)ZG_PC_PAGE_SIZE) {
                rc = pc_err(-EIO, "bench: raw LZ4 round trip failed");
                goto out;
            }
        t_d[r] = pc_now() - t0;

        /* Ingest into a fresh cache each time, so every distinct page is stored. */
        rm_rf(cdir);
        struct zg_pc_ingest_opts io = {.threads = o->threads};
        struct zg_pc_ingest_stats st;
        if ((rc = zg_pc_open(cdir, ZG_PC_CREATE | ZG_PC_WRITE, &pc)) < 0)
            goto out;
        t0 = pc_now();
        if ((rc = zg_pc_ingest(pc, img, npages, keys, &io, &st)) < 0)
            goto out;
        t_ing[r] = pc_now() - t0;
        res->distinct_pages = st.stored;
        res->stored_ratio = st.stored_bytes ? (double)bytes / (double)st.stored_bytes : 0;
        zg_pc_close(pc);
        pc = NULL;

        /* Materialize from a freshly opened (read-only) handle. */
        if ((rc = zg_pc_open(cdir, 0, &pc)) < 0)
            goto out;
        pc->threads = res->cores_used;
        memset(out, 0, bytes);
        t0 = pc_now();
        if ((rc = zg_pc_materialize(pc, keys, npages, out, 0)) < 0)
            goto out;
        t_mat[r] = pc_now() - t0;
        if (memcmp(out, img, bytes) != 0) {
            rc = pc_err(-EIO, "bench: materialized image differs from the original");
            goto out;
        }
        zg_pc_close(pc);
        pc = NULL;
        q_ing[r] = t_c[r] / (t_ing[r] * res->cores_used);
        q_mat[r] = t_d[r] / (t_mat[r] * res->cores_used);
        if (o->progress)
            o->progress(o->progress_arg, ++step, reps);
    }
    res->xxh3_mbps = mb / median(t_h, reps);
    res->lz4_compress_mbps = mb / median(t_c, reps);
    res->lz4_decompress_mbps = mb / median(t_d, reps);
    res->ingest_mbps = mb / median(t_ing, reps);
    res->materialize_mbps = mb / median(t_mat, reps);
    /* Paired: a noisy neighbour slowing one run slows its baseline too. */
    res->ingest_ratio = median(q_ing, reps);
    res->materialize_ratio = median(q_mat, reps);
out:
    zg_pc_close(pc);
    rm_rf(cdir);
    free(img);
    free(out);
    free(blocks);
    free(blen);
    free(keys);
    return rc;
}
