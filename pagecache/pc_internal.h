/* pc_internal: what the page cache's source files share (not a public API). */
#ifndef ZG_PC_INTERNAL_H
#define ZG_PC_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "pagecache/zg_pagecache.h"
#include "pagecache/zg_pc_format.h"

#define PC_REC_MAX    (sizeof(struct zg_pc_rec_hdr) + ZG_PC_PAGE_SIZE)
#define PC_PACK_LIMIT (256ull << 20) /* start a new pack beyond this size */

/* ---- errors (pc_util.c) ---------------------------------------------------- */

/* Sets this thread's message and returns err (a negative errno). */
int pc_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pc_err_clear(void);
void pc_err_set_msg(const char *msg);

/* ---- in-memory index: open addressing on the key's first 8 bytes ------------ */

struct pc_ent {
    struct zg_pc_key key;
    uint64_t off;  /* record offset in its pack */
    uint32_t pack; /* index into zg_pc.packs */
    uint16_t len;  /* payload length */
    uint8_t enc;   /* ZG_PC_ENC_*; 0 marks an empty slot */
    uint8_t pad;
};
_Static_assert(sizeof(struct pc_ent) == 32, "pc_ent is 32 bytes");

struct pc_table {
    struct pc_ent *slots;
    size_t cap; /* power of two or 0 */
    size_t n;
};

struct pc_ent *pc_table_find(const struct pc_table *t, const struct zg_pc_key *key);
/* 0 inserted, 1 already present (unchanged), -ENOMEM. */
int pc_table_insert(struct pc_table *t, const struct pc_ent *e);
int pc_table_reserve(struct pc_table *t, size_t n);
void pc_table_free(struct pc_table *t);

/* A set of keys (for GC marks, stats, verify). */
struct pc_keyset {
    struct zg_pc_key *keys; /* zero key = empty */
    uint32_t *vals;
    size_t cap, n;
};
/* Adds key (never the zero key); *val_out points at its value (0 when new).
 * 1 added, 0 present, -ENOMEM. */
int pc_keyset_add(struct pc_keyset *s, const struct zg_pc_key *key, uint32_t **val_out);
uint32_t *pc_keyset_get(const struct pc_keyset *s, const struct zg_pc_key *key);
void pc_keyset_free(struct pc_keyset *s);

/* ---- format helpers (pc_format.c) ------------------------------------------ */

uint64_t pc_xxh64(const void *p, size_t n);
int pc_key_eq(const struct zg_pc_key *a, const struct zg_pc_key *b);

void pc_pack_hdr_init(struct zg_pc_pack_hdr *h, uint32_t pack_id);
/* 0, -EBADMSG (*why), -ENOTSUP (*why); *newer_minor set. expect_id UINT32_MAX: any. */
int pc_pack_hdr_check(const uint8_t *buf, size_t len, uint32_t expect_id, int *newer_minor,
                      const char **why);

struct pc_rec {
    uint64_t off;
    uint16_t len;
    uint8_t enc;
    struct zg_pc_key key;
    const uint8_t *payload;
};
/* Parses the record at base[off..size): bounds, magic, encoding, length,
 * key, checksum. Never reads outside [0, size). 0 or -EBADMSG (*why). */
int pc_rec_parse(const uint8_t *base, uint64_t size, uint64_t off, struct pc_rec *r,
                 const char **why);
/* The same for records in any buffer (no pack header before them). */
int pc_rec_parse_buf(const uint8_t *base, uint64_t size, uint64_t off, struct pc_rec *r,
                     const char **why);
/* Decodes a parsed record into page[4096]; verify: compare XXH3-128 with its
 * key. 0 or -EBADMSG (*why). */
int pc_rec_decode(const struct pc_rec *r, void *page, int verify, const char **why);
/* Encodes page (with its key) as a record into out[PC_REC_MAX]; returns the
 * record's size. */
size_t pc_rec_encode(const void *page, const struct zg_pc_key *key, uint8_t *out);
/* Next offset > from where a valid record starts, or UINT64_MAX. */
uint64_t pc_rec_resync(const uint8_t *base, uint64_t size, uint64_t from);

struct pc_index_view {
    struct zg_pc_index_hdr hdr;
    const uint8_t *packs; /* hdr.npacks x struct zg_pc_index_pack, unaligned */
    const uint8_t *ents;  /* hdr.nentries x struct zg_pc_index_entry, unaligned */
    int newer_minor;
    int bad_checksum; /* only when lenient */
};
/* Validates an index file image. lenient: a whole-file checksum mismatch is
 * reported in v->bad_checksum instead of failing (verify uses it to name the
 * damaged entries). 0, -EBADMSG (*why), -ENOTSUP (*why). */
int pc_index_parse(const uint8_t *buf, size_t len, int lenient, struct pc_index_view *v,
                   const char **why);
void pc_index_pack_at(const struct pc_index_view *v, uint32_t i, struct zg_pc_index_pack *p);
void pc_index_entry_at(const struct pc_index_view *v, uint64_t i, struct zg_pc_index_entry *e);
/* Field checks of one entry (not its pack). 0 or -EBADMSG (*why). */
int pc_index_entry_check(const struct zg_pc_index_entry *e, const char **why);

/* Validates a root file image; *keys points into buf (unaligned). */
int pc_root_parse(const uint8_t *buf, size_t len, const uint8_t **keys, uint64_t *nkeys,
                  int *newer_minor, const char **why);
int pc_root_name_ok(const char *name);

/* ---- files (pc_util.c) ------------------------------------------------------ */

int pc_write_all(int fd, const void *buf, size_t len);
int pc_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* Writes dirfd/name atomically: tmp file, fsync, rename, fsync dir. */
int pc_atomic_write(int dirfd, const char *name, const void *buf, size_t len);
/* Reads a whole file (at most cap bytes, else -EFBIG). *buf: free(). */
int pc_read_file(int dirfd, const char *name, uint64_t cap, uint8_t **buf, size_t *len);
unsigned pc_nthreads(unsigned requested);
double pc_now(void);

/* ---- the handle (pc_open.c) ------------------------------------------------- */

struct pc_pack {
    uint32_t id;
    int fd;
    uint8_t *map;
    uint64_t map_len;
    uint64_t end;     /* end of the valid records scanned so far */
    uint64_t covered; /* length the on-disk index covers */
    int damaged;      /* never append (truncated or damaged inside) */
    int newer_minor;
};

struct zg_pc {
    char *dir;
    int dirfd, packsfd, rootsfd;
    unsigned flags;
    int gc_lock_fd, wr_lock_fd;
    pthread_rwlock_t rw;
    struct pc_pack *packs;
    size_t npacks, cap_packs;
    struct pc_table tab;
    uint64_t generation, gc_generation;
    uint32_t max_pack_id;
    int index_dirty;
    unsigned threads;
};

/* Lock helpers: flock on the cache's lock files, waiting. */
int pc_lock(int fd, int op, const char *what);
void pc_unlock(int fd);

/* Incremental refresh; caller holds rw exclusively. writer: also holds the
 * write lock, so torn tails may be cut. */
int pc_refresh_locked(struct zg_pc *pc, int writer);
/* Drops the in-memory state and loads it again from disk. */
int pc_reload(struct zg_pc *pc, int writer);
/* Writes the index from memory; caller holds the write lock. */
int pc_index_write(struct zg_pc *pc);
/* Creates pack id (tmp + rename) and adds it to pc->packs; returns its slot. */
int pc_pack_create(struct zg_pc *pc, uint32_t id);
/* (Re)maps a pack to its current file size. */
int pc_pack_remap(struct pc_pack *p);
void pc_pack_name(uint32_t id, char out[32]);
/* Reads one page through the table; fills the error message on failure. */
int pc_read_page(const struct zg_pc *pc, const struct zg_pc_key *key, void *page, int verify);
/* Writes roots/<name>; caller holds the write lock. */
int pc_root_write(struct zg_pc *pc, const char *name, const struct zg_pc_key *keys, size_t n);
/* Reads roots/<name> into a key array (free()). */
int pc_root_read(int rootsfd, const char *name, struct zg_pc_key **keys, size_t *n);

#endif /* ZG_PC_INTERNAL_H */
