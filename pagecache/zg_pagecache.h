/* zg_pagecache: zerg's shared, content-addressed, deduplicated page cache.
 *
 * What it does
 *   Stores 4 KiB guest memory pages once per host. A page's key is the
 *   XXH3-128 hash of its 4096 bytes in xxHash's canonical (big-endian) form;
 *   its value is an LZ4 block (LZ4_compress_default) or, when the page does
 *   not compress, the raw page. Values live in append-only pack files under
 *   one cache directory, found through an index that is loaded into an O(1)
 *   in-memory hash table at open. Named roots (one per template) list the
 *   keys something still needs; garbage collection is mark-and-sweep from
 *   the roots. The on-disk format is docs/format.md ("Page cache"), mirrored
 *   by pagecache/zg_pc_format.h.
 *
 * What it does not do
 *   Store zero pages (they are the reserved all-zero key ZG_PC_ZERO_KEY in key
 *   lists and holes when materialized), know about templates, VMs or
 *   hypervisors, or evict pages that a root still references.
 *
 * Guarantees
 *   - Reads never return wrong data: every record carries a checksum that is
 *     checked on every read, decompression uses LZ4_decompress_safe and must
 *     yield exactly 4096 bytes, and ZG_PC_VERIFY also compares the page's
 *     XXH3-128 against its key. Damage is an error naming pack, offset, key.
 *   - Crash safety: a SIGKILL or power cut at any instant leaves a cache that
 *     opens and verifies and keeps every page that zg_pc_ingest() reported
 *     stored (pack data is fsynced before the index names it; torn pack tails
 *     are detected by their record checksums and cut by the next writer; an
 *     index that is behind is extended from the packs at open).
 *   - Several processes may use one cache: writers serialize on an exclusive
 *     file lock; readers never wait for writers, only briefly for GC.
 *
 * Usage
 *     struct zg_pc *pc;
 *     int rc = zg_pc_open("/var/lib/zerg/cache", ZG_PC_CREATE | ZG_PC_WRITE, &pc);
 *     if (rc < 0) { fprintf(stderr, "%s\n", zg_pc_last_error()); ... }
 *
 *     struct zg_pc_key *keys = malloc(npages * sizeof(*keys));
 *     struct zg_pc_ingest_opts o = {.root = "web-1.2"};     // GC will keep them
 *     rc = zg_pc_ingest(pc, guest_mem, npages, keys, &o, NULL);
 *
 *     void *img = mmap(NULL, npages * 4096, ..., MAP_ANONYMOUS, ...);  // zeroed
 *     rc = zg_pc_materialize(pc, keys, npages, img, 0);
 *     zg_pc_close(pc);
 *
 * Errors
 *   Every function that can fail returns 0 (or a documented non-negative
 *   value) or a negative errno, and then zg_pc_last_error() holds a message
 *   naming the object (cache directory, pack file and offset, key in hex).
 *   Common codes: -ENOENT missing cache/key/root, -EBADMSG damaged or foreign
 *   file data, -EIO a damaged page was read, -ENOTSUP an unknown format
 *   version or hash/compression id, -EROFS a write on a read-only handle,
 *   -ENOMEM, and errors of the underlying system calls.
 *
 * Threads
 *   A handle may be shared by threads: reads (get, materialize, stats, roots)
 *   run concurrently; ingest, root_put/del, gc and refresh are exclusive.
 *   zg_pc_ingest and zg_pc_materialize use up to ZG_PC_MAX_THREADS threads of
 *   their own. zg_pc_last_error() is per thread.
 */
#ifndef ZG_PAGECACHE_H
#define ZG_PAGECACHE_H

#include <stddef.h>
#include <stdint.h>

#define ZG_PC_PAGE_SIZE   4096u
#define ZG_PC_MAX_THREADS 8u

/* ======================================================================
 * Simple: keys, homes, errors
 * ====================================================================== */

/* A page's key: XXH3-128 of its 4096 bytes, canonical (big-endian) form. */
struct zg_pc_key {
    uint8_t b[16];
};

/* The reserved key of the zero page. Zero pages are never stored; key lists
 * use this key for them and materialize leaves holes. A non-zero page whose
 * XXH3-128 is all zero (probability 2^-128) cannot be represented: ingest
 * refuses it with -ERANGE rather than silently turning it into zeros. */
extern const struct zg_pc_key ZG_PC_ZERO_KEY;

/* 1 if key is ZG_PC_ZERO_KEY, else 0. */
int zg_pc_key_is_zero(const struct zg_pc_key *key);

/* The key of one 4096-byte page: ZG_PC_ZERO_KEY when all bytes are zero,
 * else its canonical XXH3-128. Pure function, thread-safe. */
void zg_pc_page_key(const void *page, struct zg_pc_key *key);

/* Writes 32 lowercase hex digits and a NUL into hex. */
void zg_pc_key_hex(const struct zg_pc_key *key, char hex[33]);

/* Parses exactly 32 hex digits. 0 or -EINVAL. */
int zg_pc_key_parse(const char *hex, struct zg_pc_key *key);

/* zerg's home directory: $ZERG_HOME when set and non-empty, else
 * /var/lib/zerg for root, else $XDG_DATA_HOME/zerg (when absolute), else
 * $HOME/.local/share/zerg (HOME from the password database when unset).
 * The cache lives at <home>/cache, templates at <home>/templates.
 * Writes a NUL-terminated path into buf. 0, -ENAMETOOLONG (buf too small) or
 * -ENOENT (no home directory can be determined). Does not create anything. */
int zg_home_dir(char *buf, size_t len);

/* <home>/cache, same contract as zg_home_dir(). */
int zg_pc_default_dir(char *buf, size_t len);

/* The message of this thread's last failing zg_pc_* call ("" if none). The
 * string stays valid until this thread's next zg_pc_* call. */
const char *zg_pc_last_error(void);

/* ======================================================================
 * Opening a cache
 * ====================================================================== */

#define ZG_PC_CREATE 0x1u /* create the directory (and parents) if missing */
#define ZG_PC_WRITE  0x2u /* allow ingest, roots, gc; recover a crashed writer */

struct zg_pc;

/* Opens the cache in directory dir (see zg_pc_default_dir()). Loads the index
 * into memory, extends it with pack records it does not cover yet and maps
 * the packs. With ZG_PC_WRITE, also takes the writer lock briefly to recover
 * from a crashed writer: cuts torn pack tails, deletes packs left over by an
 * interrupted GC and rewrites an index that is behind or damaged.
 * A damaged index is not fatal: the in-memory index is rebuilt from packs.
 * Returns 0 and *out (free with zg_pc_close), or -ENOENT (no cache and no
 * ZG_PC_CREATE), -ENOTSUP (unknown major version, or a newer minor with
 * ZG_PC_WRITE), -EBADMSG, -ENOMEM, I/O errors. */
int zg_pc_open(const char *dir, unsigned flags, struct zg_pc **out);

/* Unmaps and closes everything. NULL is a no-op. No call may be running. */
void zg_pc_close(struct zg_pc *pc);

/* Picks up pages that other processes stored since open (or since the last
 * refresh), and a GC's rewritten packs. 0 or negative errno. */
int zg_pc_refresh(struct zg_pc *pc);

/* The cache directory the handle was opened on. */
const char *zg_pc_dir(const struct zg_pc *pc);

/* ======================================================================
 * Reading pages
 * ====================================================================== */

#define ZG_PC_VERIFY     0x1u /* also check XXH3-128(page) == key */
#define ZG_PC_FILL_ZEROS 0x2u /* write zeros for zero keys (default: skip) */

/* 1 if key is stored (or is the zero key), 0 if not. Never fails. */
int zg_pc_contains(struct zg_pc *pc, const struct zg_pc_key *key);

/* Reads one page into page[4096]. flags: ZG_PC_VERIFY. The zero key yields a
 * zero page. 0, -ENOENT (not stored), -EIO (damaged: checksum, size,
 * decompression or, with ZG_PC_VERIFY, hash mismatch; page content is then
 * unspecified and must not be used). */
int zg_pc_get(struct zg_pc *pc, const struct zg_pc_key *key, void *page, unsigned flags);

/* Materializes the n pages keys[0..n) into dst[0 .. n*4096): page i goes to
 * dst + i*4096. Zero keys are skipped (dst must be pre-zeroed, e.g. fresh
 * anonymous memory) unless ZG_PC_FILL_ZEROS. Uses up to ZG_PC_MAX_THREADS
 * threads on disjoint page ranges. flags: ZG_PC_VERIFY, ZG_PC_FILL_ZEROS.
 * 0, or the first error (-ENOENT, -EIO as zg_pc_get); dst is then partly
 * written. */
int zg_pc_materialize(struct zg_pc *pc, const struct zg_pc_key *keys, size_t n, void *dst,
                      unsigned flags);

/* Same into a file: page i goes to byte offset off + i*4096 of fd (a regular
 * file opened for writing). The file is extended to off + n*4096 and zero
 * pages are left as holes, so the region must read as zeros beforehand (a new
 * or truncated file). Does not fsync. Errors as zg_pc_materialize, plus
 * write errors. */
int zg_pc_materialize_fd(struct zg_pc *pc, const struct zg_pc_key *keys, size_t n, int fd,
                         uint64_t off, unsigned flags);

/* ======================================================================
 * Storing pages
 * ====================================================================== */

struct zg_pc_ingest_stats {
    uint64_t pages;        /* pages in the image */
    uint64_t zero_pages;   /* all-zero pages (never stored) */
    uint64_t present;      /* non-zero pages already in the cache */
    uint64_t batch_dups;   /* non-zero pages equal to an earlier page of this image */
    uint64_t stored;       /* pages newly stored */
    uint64_t compressed;   /* of those, stored as LZ4 (the rest raw) */
    uint64_t raw_bytes;    /* pages * 4096 */
    uint64_t stored_bytes; /* bytes appended to packs (record headers included) */
    uint64_t repaired;     /* of the stored pages, ones the cache had but damaged (stored
                              again, and the index points at the new copy) */
};

/* Called from the calling thread during long operations; non-zero cancels
 * the operation (which then returns -ECANCELED). */
typedef int (*zg_pc_progress_fn)(void *arg, uint64_t done, uint64_t total);

struct zg_pc_ingest_opts {
    const char *root;           /* if set, atomically register the keys as this root */
    unsigned threads;           /* 0: one per online CPU, at most ZG_PC_MAX_THREADS */
    zg_pc_progress_fn progress; /* optional, counts pages */
    void *progress_arg;
};

/* The hot path of template creation. Hashes the npages pages at mem (page i
 * at mem + i*4096; mem need not be aligned), skips zero pages, deduplicates
 * against the cache and within the image, compresses the new pages and
 * appends them to the current pack, using several threads. On success the
 * new pages and index are durable (fsynced) and keys_out[i] holds page i's
 * key (ZG_PC_ZERO_KEY for zero pages). With opts->root, the root is written
 * under the same lock, so no GC can collect the pages in between.
 * opts and st may be NULL. Requires ZG_PC_WRITE (else -EROFS).
 * 0, -ERANGE (a non-zero page hashed to the zero key), -ECANCELED, -ENOSPC
 * and other I/O errors; on error no page reported by an earlier successful
 * call is affected and pages appended by this call may or may not be kept. */
int zg_pc_ingest(struct zg_pc *pc, const void *mem, size_t npages, struct zg_pc_key *keys_out,
                 const struct zg_pc_ingest_opts *opts, struct zg_pc_ingest_stats *st);

/* ======================================================================
 * Records: moving stored pages between caches (remote/, the page tier)
 * ====================================================================== */

/* A record as a pack holds it: a 32-byte header (checksum, encoding, key)
 * and its payload (docs/format.md, "Record"). At most this many bytes. */
#define ZG_PC_RECORD_MAX (32u + ZG_PC_PAGE_SIZE)

/* Copies key's stored record into rec[ZG_PC_RECORD_MAX], after checking it
 * as zg_pc_get(ZG_PC_VERIFY) does (checksum, decoding, hash against key),
 * so a damaged page is never copied elsewhere. Returns the record's size,
 * -ENOENT (not stored, or the zero key), -EIO (damaged). */
int zg_pc_record_get(struct zg_pc *pc, const struct zg_pc_key *key, void *rec);

struct zg_pc_put_stats {
    uint64_t records;      /* records given */
    uint64_t stored;       /* of those, newly stored (the rest were present) */
    uint64_t stored_bytes; /* bytes appended to packs */
};

/* Checks one record received from elsewhere (untrusted bytes): its header,
 * checksum, payload decoding to exactly one page, the page hashing to its
 * key and, when expect is not NULL, the key being *expect. Pure, thread-safe.
 * 0 or -EBADMSG (the reason in zg_pc_last_error(), naming the key). */
int zg_pc_record_check(const uint8_t *rec, size_t len, const struct zg_pc_key *expect);

#define ZG_PC_PUT_CHECKED 0x1u /* every record passed zg_pc_record_check already */

/* Stores n records received from elsewhere: rec[i] points at record i
 * (header and payload, len[i] bytes). Every record is checked as
 * zg_pc_record_check does (with expect[i] when expect is not NULL) before
 * anything is written; with ZG_PC_PUT_CHECKED the caller has done that, and
 * only headers and lengths are checked again. One bad record refuses the
 * whole call (-EBADMSG, naming its index and key; nothing is stored).
 * Records already stored are skipped. On success the new records and the
 * index are durable (pack fsynced, then the index), as after zg_pc_ingest:
 * one fsync of each per call, so callers batch. Requires ZG_PC_WRITE. st
 * may be NULL. 0, -EBADMSG, -ENOSPC and other I/O errors. */
int zg_pc_put_records(struct zg_pc *pc, const uint8_t *const *rec, const size_t *len, size_t n,
                      const struct zg_pc_key *expect, unsigned flags, struct zg_pc_put_stats *st);

/* ======================================================================
 * Roots and garbage collection
 * ====================================================================== */

/* Root names: 1..128 bytes of [A-Za-z0-9._+@:-], not starting with '.'. */
#define ZG_PC_ROOT_NAME_MAX 128

/* Atomically creates or replaces root name with keys[0..n) (zero keys
 * allowed). Every non-zero key must be stored (else -ENOENT naming it).
 * Requires ZG_PC_WRITE. 0, -EINVAL (bad name), -ENOENT, I/O errors. */
int zg_pc_root_put(struct zg_pc *pc, const char *name, const struct zg_pc_key *keys, size_t n);

/* Reads root name: *keys (free() it) and *n. 0, -ENOENT, -EBADMSG. */
int zg_pc_root_get(struct zg_pc *pc, const char *name, struct zg_pc_key **keys, size_t *n);

/* Deletes root name; its pages are collected by the next zg_pc_gc() unless
 * another root references them. Requires ZG_PC_WRITE. 0, -ENOENT. */
int zg_pc_root_del(struct zg_pc *pc, const char *name);

/* Sorted root names: *names is an array of *n strings; free with
 * zg_pc_root_list_free(*names, *n). 0 or -ENOMEM / I/O errors. */
int zg_pc_root_list(struct zg_pc *pc, char ***names, size_t *n);
void zg_pc_root_list_free(char **names, size_t n);

struct zg_pc_gc_stats {
    uint64_t roots;           /* roots marked from */
    uint64_t live_pages;      /* pages kept */
    uint64_t dead_pages;      /* pages collected */
    uint64_t damaged_pages;   /* live pages that could not be copied (damaged) */
    uint64_t packs_rewritten; /* packs compacted into new packs */
    uint64_t bytes_before;    /* pack bytes before */
    uint64_t bytes_after;     /* pack bytes after */
};

/* Mark-and-sweep: marks every key of every root, then rewrites each pack that
 * holds unmarked pages into a new pack with only the marked ones, writes the
 * new index and only then deletes the old packs. Crash-safe at every step.
 * Holds the writer lock, and the GC lock (which makes opens wait) while it
 * swaps files. If any root cannot be read nothing is collected (-EBADMSG).
 * Requires ZG_PC_WRITE. st and progress may be NULL. */
int zg_pc_gc(struct zg_pc *pc, struct zg_pc_gc_stats *st, zg_pc_progress_fn progress,
             void *progress_arg);

/* ======================================================================
 * Statistics and verification
 * ====================================================================== */

struct zg_pc_usage {
    uint64_t refs;         /* keys listed (pages of the template), zero pages included */
    uint64_t zero_refs;    /* of those, zero pages */
    uint64_t distinct;     /* distinct non-zero keys */
    uint64_t missing;      /* distinct non-zero keys not in the cache */
    uint64_t unique;       /* distinct keys no other root references */
    uint64_t stored_bytes; /* stored payload bytes of the distinct keys */
};

struct zg_pc_root_stats {
    char name[ZG_PC_ROOT_NAME_MAX + 1];
    struct zg_pc_usage u;
};

struct zg_pc_stats {
    uint64_t packs;           /* pack files */
    uint64_t pack_bytes;      /* their total size */
    uint64_t pages_stored;    /* unique pages stored */
    uint64_t stored_bytes;    /* their payload bytes (compressed size) */
    uint64_t lz4_pages;       /* stored pages that are LZ4 blocks (the rest raw) */
    uint64_t roots;           /* roots (templates) */
    uint64_t unreferenced;    /* stored pages no root references (GC would free) */
    struct zg_pc_usage all;   /* over all roots together */
    double dedupe_ratio;      /* non-zero refs / distinct referenced pages (1 if none) */
    double compression_ratio; /* distinct referenced * 4096 / their stored bytes */
};

/* Fills *st; with roots != NULL also returns per-root stats (*roots, free()
 * it, *nroots entries sorted by name). 0, -EBADMSG (a root is damaged),
 * -ENOMEM. */
int zg_pc_stats(struct zg_pc *pc, struct zg_pc_stats *st, struct zg_pc_root_stats **roots,
                size_t *nroots);

#define ZG_PC_SEV_WARNING 1 /* harmless or self-healing (a torn tail after a crash) */
#define ZG_PC_SEV_ERROR   2 /* data damaged or lost */

struct zg_pc_problem {
    int severity;       /* ZG_PC_SEV_* */
    const char *object; /* file relative to the cache dir: "index", "packs/...", "roots/..." */
    uint64_t offset;    /* byte offset in object, or UINT64_MAX if none */
    int has_key;        /* 1 if key names the damaged page */
    struct zg_pc_key key;
    const char *what; /* one-line description */
};

typedef void (*zg_pc_problem_fn)(void *arg, const struct zg_pc_problem *p);

struct zg_pc_verify_report {
    uint64_t packs, records, index_entries, roots, root_refs;
    uint64_t errors, warnings;
};

/* Independent check of every file through the format rules, not through the
 * handle's memory: the index (header, checksum, every entry against its
 * pack record), every pack (header; every record's checksum, decompression
 * to 4096 bytes and XXH3-128 against its key; resynchronizes after damage),
 * and every root (format; every key stored). Calls fn (may be NULL) for each
 * problem and fills *rep (may be NULL); progress (may be NULL) counts pack
 * bytes checked, and its return value is ignored. Takes the GC lock shared,
 * so a GC waits until verify is done; writers may append meanwhile (their
 * unfinished tail then shows as a warning).
 * Returns 0 when it could run (the verdict is rep->errors == 0), or a
 * negative errno (-ENOMEM, cache directory unreadable). */
int zg_pc_verify(struct zg_pc *pc, zg_pc_problem_fn fn, void *arg, struct zg_pc_verify_report *rep,
                 zg_pc_progress_fn progress, void *progress_arg);

/* ======================================================================
 * Advanced: benchmark
 * ====================================================================== */

struct zg_pc_bench_opts {
    const char *dir;            /* scratch directory for the temporary cache (required) */
    uint64_t mib;               /* synthetic image size in MiB (0: 256) */
    unsigned reps;              /* repetitions, median reported (0: 5) */
    unsigned threads;           /* 0: as zg_pc_ingest */
    zg_pc_progress_fn progress; /* optional, counts finished measurements */
    void *progress_arg;
};

struct zg_pc_bench_result {
    uint64_t pages, zero_pages, dup_pages, text_pages, random_pages, distinct_pages;
    unsigned cores_used, reps;
    double ingest_mbps;         /* guest MB/s: hash, dedupe, compress, append, fsync */
    double materialize_mbps;    /* guest MB/s: lookup, check, decompress into memory */
    double lz4_compress_mbps;   /* one core, LZ4_compress_default on every page */
    double lz4_decompress_mbps; /* one core, LZ4_decompress_safe on every page */
    double xxh3_mbps;           /* one core, XXH3-128 on every page */
    /* Not like for like: the raw baselines run on every page; ingest hashes
     * every page but compresses only distinct non-zero ones, materialize
     * skips zero pages and copies the pages stored raw. Both are MB/s of
     * guest memory. */
    double ingest_ratio;      /* median over runs of ingest / (lz4_compress * cores_used) */
    double materialize_ratio; /* median over runs of materialize / (lz4_decompress * cores) */
    double stored_ratio;      /* image bytes / stored bytes (dedupe + compression) */
};

/* Builds a synthetic guest image (see docs/benchmarks.md), ingests it into a
 * fresh cache under opts->dir (removed afterwards) and materializes it, reps
 * times each, and measures raw LZ4 and XXH3 on the same pages in the same run.
 * MB = 10^6 bytes of guest memory. 0 or negative errno. */
int zg_pc_bench(const struct zg_pc_bench_opts *opts, struct zg_pc_bench_result *res);

#endif /* ZG_PAGECACHE_H */
