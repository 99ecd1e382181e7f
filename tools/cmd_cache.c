/* zerg cache: stats, verify, gc and bench for the shared page cache (plus debugging verbs). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pagecache/zg_pagecache.h"
#include "tools/zg_tool.h"

struct copts {
    const char *dir;
    const char *root;
    const char *out;
    const char *tmp;
    int json, help, verify, verbose;
    uint64_t mib, reps, threads;
    char *pos[4];
    int npos;
};

static const char *const usage_text =
    "usage: zerg cache <verb> [options]\n"
    "\n"
    "The shared page cache: every distinct 4 KiB page of every template, stored once,\n"
    "LZ4-compressed, keyed by its XXH3-128 hash. Location: --dir DIR, else\n"
    "$ZERG_HOME/cache (default home: /var/lib/zerg for root, ~/.local/share/zerg).\n"
    "\n"
    "verbs:\n"
    "  stats [--json]        pages referenced, unique pages stored, zero pages, bytes raw\n"
    "                        vs stored, dedupe and compression ratios; overall and per\n"
    "                        template (root)\n"
    "  verify [--json] [-v]  read every index entry, pack record and root; name each\n"
    "                        problem with its file, offset and key (the first 20, then\n"
    "                        how many more of each file; -v or --json: every one); exit\n"
    "                        1 on any error\n"
    "  gc                    delete the pages no template (root) references\n"
    "  bench [--json] [--mib N] [--reps N] [--threads N] [--tmp DIR]\n"
    "                        measure ingest and materialize against raw LZ4 and XXH3\n"
    "                        (not like for like: the raw figures run on every page;\n"
    "                        ingest compresses only distinct non-zero pages, materialize\n"
    "                        skips zero pages; all MB/s are of guest memory)\n"
    "\n"
    "debugging verbs:\n"
    "  ingest-file FILE [--root NAME]   store FILE's pages (zero-padded to 4 KiB); once\n"
    "                        they are durable, print one line per page: INDEX KEY\n"
    "  materialize --root NAME -o FILE  write a root's pages to FILE (zero pages as holes)\n"
    "  get KEY [-o FILE]     write one page (verified) to FILE or stdout\n"
    "  check-keys [FILE]     read keys (last word of each line) from FILE or stdin, read\n"
    "                        and verify each page; exit 1 naming any that fail\n"
    "  roots                 list roots with their page counts\n"
    "  rm-root NAME          delete a root (its pages go at the next gc)\n"
    "\n"
    "common options: --dir DIR  --help\n"
    "exit status: 0 ok, 1 the operation failed, 2 bad command line, 3 (get) no such page,\n"
    "4 damage found (verify, check-keys; get: the page is damaged)\n";

static int parse_opts(int argc, char **argv, struct copts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        int needs = !strcmp(a, "--dir") || !strcmp(a, "--root") || !strcmp(a, "-o") ||
                    !strcmp(a, "--mib") || !strcmp(a, "--reps") || !strcmp(a, "--threads") ||
                    !strcmp(a, "--tmp");
        if (needs && !next) {
            zg_err("cache: %s needs a value", a);
            return -1;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            o->help = 1;
        else if (!strcmp(a, "--json"))
            o->json = 1;
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
            o->verbose = 1;
        else if (!strcmp(a, "--dir"))
            o->dir = argv[++i];
        else if (!strcmp(a, "--root"))
            o->root = argv[++i];
        else if (!strcmp(a, "-o"))
            o->out = argv[++i];
        else if (!strcmp(a, "--tmp"))
            o->tmp = argv[++i];
        else if (!strcmp(a, "--mib") || !strcmp(a, "--reps") || !strcmp(a, "--threads")) {
            uint64_t *dst = a[2] == 'm' ? &o->mib : a[2] == 'r' ? &o->reps : &o->threads;
            if (zg_parse_u64(argv[++i], a[2] == 'm' ? 65536 : 64, dst) < 0 || !*dst) {
                zg_err("cache: bad %s value '%s'", a, argv[i]);
                return -1;
            }
        } else if (a[0] == '-' && a[1]) {
            zg_err("cache: unknown option '%s'", a);
            return -1;
        } else if (o->npos < 4) {
            o->pos[o->npos++] = argv[i];
        } else {
            zg_err("cache: too many arguments");
            return -1;
        }
    }
    return 0;
}

static int open_cache(const struct copts *o, unsigned flags, struct zg_pc **pc)
{
    char dir[4096];
    const char *d = o->dir;
    if (!d) {
        int rc = zg_pc_default_dir(dir, sizeof(dir));
        if (rc < 0) {
            zg_err("cache: cannot determine the cache directory: %s", strerror(-rc));
            return -1;
        }
        d = dir;
    }
    if (zg_pc_open(d, flags, pc) < 0) {
        zg_err("cache: %s", zg_pc_last_error());
        return -1;
    }
    return 0;
}

static int progress_cb(void *arg, uint64_t done, uint64_t total)
{
    fprintf(stderr, "\r%s: %3u%%", (const char *)arg,
            total ? (unsigned)(done * 100 / total) : 100u);
    if (done >= total)
        fprintf(stderr, "\r\033[K");
    return 0;
}

static zg_pc_progress_fn progress_if_tty(void)
{
    return isatty(STDERR_FILENO) ? progress_cb : NULL;
}

static void put_usage_json(const char *indent, const struct zg_pc_usage *u)
{
    printf("%s\"pages\": %llu, \"zero_pages\": %llu, \"distinct_pages\": %llu, "
           "\"unique_pages\": %llu, \"missing_pages\": %llu, \"raw_bytes\": %llu, "
           "\"stored_bytes\": %llu",
           indent, (unsigned long long)u->refs, (unsigned long long)u->zero_refs,
           (unsigned long long)u->distinct, (unsigned long long)u->unique,
           (unsigned long long)u->missing, (unsigned long long)u->refs * ZG_PC_PAGE_SIZE,
           (unsigned long long)u->stored_bytes);
}

static int cmd_stats(const struct copts *o)
{
    struct zg_pc *pc;
    struct zg_pc_stats st;
    struct zg_pc_root_stats *rs = NULL;
    size_t nr = 0;
    if (open_cache(o, 0, &pc) < 0)
        return 1;
    if (zg_pc_stats(pc, &st, &rs, &nr) < 0) {
        zg_err("cache stats: %s", zg_pc_last_error());
        zg_pc_close(pc);
        return 1;
    }
    if (o->json) {
        printf("{\"dir\": \"%s\", \"packs\": %llu, \"pack_bytes\": %llu, \"pages_stored\": %llu, "
               "\"stored_bytes\": %llu, \"lz4_pages\": %llu, \"unreferenced_pages\": %llu, "
               "\"templates\": %llu,\n ",
               zg_pc_dir(pc), (unsigned long long)st.packs, (unsigned long long)st.pack_bytes,
               (unsigned long long)st.pages_stored, (unsigned long long)st.stored_bytes,
               (unsigned long long)st.lz4_pages, (unsigned long long)st.unreferenced,
               (unsigned long long)st.roots);
        put_usage_json("", &st.all);
        printf(",\n \"dedupe_ratio\": %.3f, \"compression_ratio\": %.3f, \"per_template\": [",
               st.dedupe_ratio, st.compression_ratio);
        for (size_t i = 0; i < nr; i++) {
            const struct zg_pc_usage *u = &rs[i].u;
            uint64_t nz = u->refs - u->zero_refs;
            printf("%s\n  {\"name\": \"%s\", ", i ? "," : "", rs[i].name);
            put_usage_json("", u);
            printf(", \"dedupe_ratio\": %.3f, \"compression_ratio\": %.3f}",
                   u->distinct ? (double)nz / (double)u->distinct : 1.0,
                   u->stored_bytes ? (double)(u->distinct - u->missing) * ZG_PC_PAGE_SIZE /
                                         (double)u->stored_bytes
                                   : 1.0);
        }
        printf("]}\n");
    } else {
        printf("cache %s\n", zg_pc_dir(pc));
        printf("  stored:     %llu unique pages in %llu packs, %.1f MiB payload, %.1f MiB on "
               "disk (%llu LZ4, %llu raw)\n",
               (unsigned long long)st.pages_stored, (unsigned long long)st.packs,
               (double)st.stored_bytes / 1048576.0, (double)st.pack_bytes / 1048576.0,
               (unsigned long long)st.lz4_pages,
               (unsigned long long)(st.pages_stored - st.lz4_pages));
        printf("  referenced: %llu pages by %llu templates: %llu zero, %llu distinct (%llu "
               "missing); %llu unreferenced pages\n",
               (unsigned long long)st.all.refs, (unsigned long long)st.roots,
               (unsigned long long)st.all.zero_refs, (unsigned long long)st.all.distinct,
               (unsigned long long)st.all.missing, (unsigned long long)st.unreferenced);
        printf("  bytes:      %.1f MiB raw -> %.1f MiB stored (dedupe %.2fx, compression "
               "%.2fx)\n",
               (double)st.all.refs * ZG_PC_PAGE_SIZE / 1048576.0,
               (double)st.all.stored_bytes / 1048576.0, st.dedupe_ratio, st.compression_ratio);
        if (nr)
            printf("\n  %-24s %10s %8s %10s %8s %10s %8s\n", "template", "pages", "zero",
                   "distinct", "unique", "stored", "missing");
        for (size_t i = 0; i < nr; i++) {
            const struct zg_pc_usage *u = &rs[i].u;
            printf("  %-24s %10llu %8llu %10llu %8llu %9.1fM %8llu\n", rs[i].name,
                   (unsigned long long)u->refs, (unsigned long long)u->zero_refs,
                   (unsigned long long)u->distinct, (unsigned long long)u->unique,
                   (double)u->stored_bytes / 1048576.0, (unsigned long long)u->missing);
        }
    }
    free(rs);
    zg_pc_close(pc);
    return 0;
}

#define VERIFY_SHOWN 20 /* problems named in text mode before summarising */

#define VERIFY_SHOWN   20 /* problems named one by one in text mode, then summarised */
#define VERIFY_OBJECTS 32 /* files the summary counts apart */

struct vstate {
    int json, verbose, n;
    uint64_t hidden; /* problems not printed */
    struct {
        char object[96];
        uint64_t errors, warnings;
    } by[VERIFY_OBJECTS];
    int nby;
    uint64_t other; /* hidden problems of files beyond VERIFY_OBJECTS */
};

/* A problem not printed, counted by its file for the summary. */
static void hide_problem(struct vstate *vs, const struct zg_pc_problem *p)
{
    vs->hidden++;
    int i = 0;
    while (i < vs->nby && strcmp(vs->by[i].object, p->object) != 0)
        i++;
    if (i == vs->nby) {
        if (vs->nby == VERIFY_OBJECTS) {
            vs->other++;
            return;
        }
        snprintf(vs->by[i].object, sizeof(vs->by[i].object), "%s", p->object);
        vs->nby++;
    }
    if (p->severity == ZG_PC_SEV_ERROR)
        vs->by[i].errors++;
    else
        vs->by[i].warnings++;
}

static void on_problem(void *arg, const struct zg_pc_problem *p)
{
    struct vstate *vs = arg;
    char hex[33] = "";
    if (p->has_key)
        zg_pc_key_hex(&p->key, hex);
    const char *sev = p->severity == ZG_PC_SEV_ERROR ? "error" : "warning";
    if (vs->json) {
        printf("%s\n  {\"severity\": \"%s\", \"object\": \"%s\", ", vs->n++ ? "," : "", sev,
               p->object);
        if (p->offset != UINT64_MAX)
            printf("\"offset\": %llu, ", (unsigned long long)p->offset);
        if (p->has_key)
            printf("\"key\": \"%s\", ", hex);
        printf("\"what\": \"");
        for (const char *c = p->what; *c; c++)
            printf(*c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
        printf("\"}");
    } else if (!vs->verbose && vs->n >= VERIFY_SHOWN) {
        hide_problem(vs, p);
    } else {
        vs->n++;
        printf("%s: %s", sev, p->object);
        if (p->offset != UINT64_MAX)
            printf(" offset %llu", (unsigned long long)p->offset);
        if (p->has_key)
            printf(" key %s", hex);
        printf(": %s\n", p->what);
    }
}

static int cmd_verify(const struct copts *o)
{
    struct zg_pc *pc;
    struct zg_pc_verify_report r;
    static struct vstate vs;
    vs = (struct vstate){.json = o->json, .verbose = o->verbose};
    if (open_cache(o, 0, &pc) < 0)
        return 1;
    if (o->json)
        printf("{\"dir\": \"%s\", \"problems\": [", zg_pc_dir(pc));
    int rc = zg_pc_verify(pc, on_problem, &vs, &r, progress_if_tty(), "verify");
    if (rc < 0) {
        if (o->json)
            printf("]}\n");
        zg_err("cache verify: %s", zg_pc_last_error());
        zg_pc_close(pc);
        return 1;
    }
    if (o->json)
        printf("],\n \"packs\": %llu, \"records\": %llu, \"index_entries\": %llu, \"roots\": "
               "%llu, \"root_refs\": %llu, \"errors\": %llu, \"warnings\": %llu, \"ok\": %s}\n",
               (unsigned long long)r.packs, (unsigned long long)r.records,
               (unsigned long long)r.index_entries, (unsigned long long)r.roots,
               (unsigned long long)r.root_refs, (unsigned long long)r.errors,
               (unsigned long long)r.warnings, r.errors ? "false" : "true");
    else if (vs.hidden) {
        printf("... and %llu more problems (-v names every one):\n", (unsigned long long)vs.hidden);
        for (int i = 0; i < vs.nby; i++)
            printf("  %s: %llu errors, %llu warnings more\n", vs.by[i].object,
                   (unsigned long long)vs.by[i].errors, (unsigned long long)vs.by[i].warnings);
        if (vs.other)
            printf("  %llu more in other files\n", (unsigned long long)vs.other);
    }
    if (!o->json)
        printf("%s: %llu packs, %llu records, %llu index entries, %llu roots: %llu errors, "
               "%llu warnings\n",
               r.errors ? "DAMAGED" : "OK", (unsigned long long)r.packs,
               (unsigned long long)r.records, (unsigned long long)r.index_entries,
               (unsigned long long)r.roots, (unsigned long long)r.errors,
               (unsigned long long)r.warnings);
    zg_pc_close(pc);
    return r.errors ? ZG_EXIT_DAMAGED : 0;
}

static int cmd_gc(const struct copts *o)
{
    struct zg_pc *pc;
    struct zg_pc_gc_stats g;
    if (open_cache(o, ZG_PC_WRITE, &pc) < 0)
        return 1;
    int rc = zg_pc_gc(pc, &g, progress_if_tty(), "gc");
    if (rc < 0)
        zg_err("cache gc: %s", zg_pc_last_error());
    else
        printf("gc: %llu roots, %llu live pages kept, %llu pages freed, %llu damaged dropped, "
               "%llu packs rewritten, %.1f MiB -> %.1f MiB\n",
               (unsigned long long)g.roots, (unsigned long long)g.live_pages,
               (unsigned long long)g.dead_pages, (unsigned long long)g.damaged_pages,
               (unsigned long long)g.packs_rewritten, (double)g.bytes_before / 1048576.0,
               (double)g.bytes_after / 1048576.0);
    zg_pc_close(pc);
    return rc < 0 ? 1 : 0;
}

static int cmd_bench(const struct copts *o)
{
    char tmpl[4096];
    const char *base = o->tmp ? o->tmp : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpl, sizeof(tmpl), "%s/zerg-bench-XXXXXX", base);
    if (!mkdtemp(tmpl)) {
        zg_err("cache bench: cannot create a scratch directory in %s: %s", base, strerror(errno));
        return 1;
    }
    struct zg_pc_bench_opts bo = {.dir = tmpl,
                                  .mib = o->mib,
                                  .reps = (unsigned)o->reps,
                                  .threads = (unsigned)o->threads,
                                  .progress = progress_if_tty(),
                                  .progress_arg = "bench"};
    struct zg_pc_bench_result r;
    int rc = zg_pc_bench(&bo, &r);
    rmdir(tmpl);
    if (rc < 0) {
        zg_err("cache bench: %s", zg_pc_last_error());
        return 1;
    }
    double mib = (double)r.pages * ZG_PC_PAGE_SIZE / 1048576.0;
    if (o->json) {
        printf("{\"image_mib\": %.0f, \"pages\": %llu, \"zero_pages\": %llu, \"dup_pages\": "
               "%llu, \"text_pages\": %llu, \"random_pages\": %llu, \"distinct_pages\": %llu, "
               "\"reps\": %u, \"cores_used\": %u,\n \"ingest_mbps\": %.1f, \"materialize_mbps\": "
               "%.1f, \"lz4_compress_mbps\": %.1f, \"lz4_decompress_mbps\": %.1f, "
               "\"xxh3_mbps\": %.1f,\n \"ingest_ratio\": %.3f, \"materialize_ratio\": %.3f, "
               "\"stored_ratio\": %.3f}\n",
               mib, (unsigned long long)r.pages, (unsigned long long)r.zero_pages,
               (unsigned long long)r.dup_pages, (unsigned long long)r.text_pages,
               (unsigned long long)r.random_pages, (unsigned long long)r.distinct_pages, r.reps,
               r.cores_used, r.ingest_mbps, r.materialize_mbps, r.lz4_compress_mbps,
               r.lz4_decompress_mbps, r.xxh3_mbps, r.ingest_ratio, r.materialize_ratio,
               r.stored_ratio);
        return 0;
    }
    printf("page cache bench: %.0f MiB image (%llu pages: %llu zero, %llu duplicate, %llu "
           "text, %llu random; %llu distinct stored, %.2fx smaller), median of %u runs, %u "
           "cores\n",
           mib, (unsigned long long)r.pages, (unsigned long long)r.zero_pages,
           (unsigned long long)r.dup_pages, (unsigned long long)r.text_pages,
           (unsigned long long)r.random_pages, (unsigned long long)r.distinct_pages, r.stored_ratio,
           r.reps, r.cores_used);
    printf("  %-34s %10s   %s\n", "measure (MB = 10^6 B of guest memory)", "MB/s",
           "vs raw per core");
    printf("  %-34s %10.1f   %.2f of LZ4 compress x %u cores\n", "ingest (hash+dedupe+lz4+fsync)",
           r.ingest_mbps, r.ingest_ratio, r.cores_used);
    printf("  %-34s %10.1f   %.2f of LZ4 decompress x %u cores\n", "materialize (into memory)",
           r.materialize_mbps, r.materialize_ratio, r.cores_used);
    printf("  %-34s %10.1f\n", "raw LZ4_compress_default, 1 core", r.lz4_compress_mbps);
    printf("  %-34s %10.1f\n", "raw LZ4_decompress_safe, 1 core", r.lz4_decompress_mbps);
    printf("  %-34s %10.1f\n", "raw XXH3-128, 1 core", r.xxh3_mbps);
    printf("  (not like for like: the raw figures run on all %llu pages; ingest hashes them all "
           "but LZ4-compresses only the %llu distinct non-zero ones, materialize skips the %llu "
           "zero pages and copies, not decompresses, the incompressible ones stored raw)\n",
           (unsigned long long)r.pages, (unsigned long long)r.distinct_pages,
           (unsigned long long)r.zero_pages);
    return 0;
}

static int cmd_ingest_file(const struct copts *o)
{
    if (o->npos != 1) {
        zg_err("cache ingest-file: need exactly one FILE");
        return ZG_EXIT_USAGE;
    }
    int rc = 1, fd = open(o->pos[0], O_RDONLY | O_CLOEXEC);
    struct stat st;
    uint8_t *buf = NULL;
    struct zg_pc_key *keys = NULL;
    struct zg_pc *pc = NULL;
    if (fd < 0 || fstat(fd, &st) < 0) {
        zg_err("cache ingest-file: %s: %s", o->pos[0], strerror(errno));
        goto out;
    }
    size_t npages = ((size_t)st.st_size + ZG_PC_PAGE_SIZE - 1) / ZG_PC_PAGE_SIZE;
    buf = calloc(npages ? npages : 1, ZG_PC_PAGE_SIZE);
    keys = calloc(npages ? npages : 1, sizeof(*keys));
    if (!buf || !keys) {
        zg_err("cache ingest-file: out of memory");
        goto out;
    }
    for (size_t got = 0; got < (size_t)st.st_size;) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r <= 0) {
            zg_err("cache ingest-file: %s: read failed", o->pos[0]);
            goto out;
        }
        got += (size_t)r;
    }
    if (open_cache(o, ZG_PC_CREATE | ZG_PC_WRITE, &pc) < 0)
        goto out;
    struct zg_pc_ingest_opts io = {
        .root = o->root, .progress = progress_if_tty(), .progress_arg = "ingest"};
    struct zg_pc_ingest_stats is;
    if (zg_pc_ingest(pc, buf, npages, keys, &io, &is) < 0) {
        zg_err("cache ingest-file: %s", zg_pc_last_error());
        goto out;
    }
    for (size_t i = 0; i < npages; i++) {
        char hex[33];
        zg_pc_key_hex(&keys[i], hex);
        printf("%zu %s\n", i, hex);
    }
    fflush(stdout);
    fprintf(stderr,
            "ingested %llu pages: %llu zero, %llu already stored, %llu duplicate, %llu new "
            "(%llu bytes appended)\n",
            (unsigned long long)is.pages, (unsigned long long)is.zero_pages,
            (unsigned long long)is.present, (unsigned long long)is.batch_dups,
            (unsigned long long)is.stored, (unsigned long long)is.stored_bytes);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    zg_pc_close(pc);
    free(buf);
    free(keys);
    return rc;
}

static int cmd_materialize(const struct copts *o)
{
    if (!o->root || !o->out) {
        zg_err("cache materialize: need --root NAME and -o FILE");
        return ZG_EXIT_USAGE;
    }
    struct zg_pc *pc;
    struct zg_pc_key *keys = NULL;
    size_t n = 0;
    int rc = 1;
    if (open_cache(o, 0, &pc) < 0)
        return 1;
    int fd = open(o->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        zg_err("cache materialize: %s: %s", o->out, strerror(errno));
    else if (zg_pc_root_get(pc, o->root, &keys, &n) < 0 ||
             zg_pc_materialize_fd(pc, keys, n, fd, 0, ZG_PC_VERIFY) < 0)
        zg_err("cache materialize: %s", zg_pc_last_error());
    else
        rc = 0;
    if (fd >= 0 && close(fd) < 0 && rc == 0) {
        zg_err("cache materialize: %s: %s", o->out, strerror(errno));
        rc = 1;
    }
    free(keys);
    zg_pc_close(pc);
    return rc;
}

static int cmd_get(const struct copts *o)
{
    struct zg_pc_key k;
    if (o->npos != 1 || zg_pc_key_parse(o->pos[0], &k) < 0) {
        zg_err("cache get: need one KEY of 32 hex digits");
        return ZG_EXIT_USAGE;
    }
    struct zg_pc *pc;
    uint8_t page[ZG_PC_PAGE_SIZE];
    if (open_cache(o, 0, &pc) < 0)
        return 1;
    int rc = zg_pc_get(pc, &k, page, ZG_PC_VERIFY);
    if (rc < 0)
        zg_err("cache get: %s", zg_pc_last_error());
    zg_pc_close(pc);
    if (rc < 0) /* not there, or damaged */
        return rc == -ENOENT ? ZG_EXIT_NOTFOUND : rc == -EIO ? ZG_EXIT_DAMAGED : ZG_EXIT_FAILED;
    FILE *f = o->out ? fopen(o->out, "wb") : stdout;
    if (!f || fwrite(page, 1, sizeof(page), f) != sizeof(page) || (o->out && fclose(f) != 0)) {
        zg_err("cache get: cannot write the page: %s", strerror(errno));
        return 1;
    }
    return 0;
}

static int cmd_check_keys(const struct copts *o)
{
    FILE *in = o->npos ? fopen(o->pos[0], "r") : stdin;
    if (!in) {
        zg_err("cache check-keys: %s: %s", o->pos[0], strerror(errno));
        return 1;
    }
    struct zg_pc *pc;
    if (open_cache(o, 0, &pc) < 0) {
        if (in != stdin)
            fclose(in);
        return 1;
    }
    char line[512];
    uint8_t page[ZG_PC_PAGE_SIZE];
    unsigned long ok = 0, bad = 0;
    while (fgets(line, sizeof(line), in)) {
        char *w = line, *last = NULL, *save = NULL;
        for (char *t = strtok_r(w, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save))
            last = t;
        struct zg_pc_key k;
        if (!last)
            continue;
        if (zg_pc_key_parse(last, &k) < 0) {
            printf("bad key: %s\n", last);
            bad++;
        } else if (zg_pc_get(pc, &k, page, ZG_PC_VERIFY) < 0) {
            printf("unreadable: %s\n", zg_pc_last_error());
            bad++;
        } else {
            ok++;
        }
    }
    if (in != stdin)
        fclose(in);
    zg_pc_close(pc);
    printf("%lu keys readable and verified, %lu failed\n", ok, bad);
    return bad ? ZG_EXIT_DAMAGED : 0;
}

static int cmd_roots(const struct copts *o, int del)
{
    struct zg_pc *pc;
    if (del && o->npos != 1) {
        zg_err("cache rm-root: need one NAME");
        return ZG_EXIT_USAGE;
    }
    if (open_cache(o, del ? ZG_PC_WRITE : 0, &pc) < 0)
        return 1;
    int rc = 0;
    if (del) {
        if (zg_pc_root_del(pc, o->pos[0]) < 0) {
            zg_err("cache rm-root: %s", zg_pc_last_error());
            rc = 1;
        }
    } else {
        char **names;
        size_t n;
        if (zg_pc_root_list(pc, &names, &n) < 0) {
            zg_err("cache roots: %s", zg_pc_last_error());
            rc = 1;
        } else {
            for (size_t i = 0; i < n; i++) {
                struct zg_pc_key *keys;
                size_t nk;
                if (zg_pc_root_get(pc, names[i], &keys, &nk) < 0) {
                    printf("%s: %s\n", names[i], zg_pc_last_error());
                    rc = 1;
                    continue;
                }
                printf("%s %zu\n", names[i], nk);
                free(keys);
            }
            zg_pc_root_list_free(names, n);
        }
    }
    zg_pc_close(pc);
    return rc;
}

int zg_cmd_cache(int argc, char **argv)
{
    struct copts o;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? ZG_EXIT_USAGE : 0;
    }
    if (parse_opts(argc, argv, &o) < 0)
        return ZG_EXIT_USAGE;
    if (o.help) {
        fputs(usage_text, stdout);
        return 0;
    }
    const char *v = argv[1];
    int no_pos = strcmp(v, "ingest-file") && strcmp(v, "get") && strcmp(v, "check-keys") &&
                 strcmp(v, "rm-root");
    if (no_pos && o.npos) {
        zg_err("cache %s: unexpected argument '%s'", v, o.pos[0]);
        return ZG_EXIT_USAGE;
    }
    if (!strcmp(v, "stats"))
        return cmd_stats(&o);
    if (!strcmp(v, "verify"))
        return cmd_verify(&o);
    if (!strcmp(v, "gc"))
        return cmd_gc(&o);
    if (!strcmp(v, "bench"))
        return cmd_bench(&o);
    if (!strcmp(v, "ingest-file"))
        return cmd_ingest_file(&o);
    if (!strcmp(v, "materialize"))
        return cmd_materialize(&o);
    if (!strcmp(v, "get"))
        return cmd_get(&o);
    if (!strcmp(v, "check-keys"))
        return cmd_check_keys(&o);
    if (!strcmp(v, "roots"))
        return cmd_roots(&o, 0);
    if (!strcmp(v, "rm-root"))
        return cmd_roots(&o, 1);
    zg_err("cache: unknown verb '%s' (see 'zerg cache --help')", v);
    return ZG_EXIT_USAGE;
}
