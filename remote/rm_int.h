/* rm_int: what remote/'s files share (not a public API). */
#ifndef RM_INT_H
#define RM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "remote/zg_remote.h"

#define RM_PREFIX "zerg1" /* the format's major version, in every path */

/* ---- transport (rm_http.c) ---------------------------------------------------- */

struct rm {
    char *base;            /* the store URL up to and including "/zerg1" */
    char sigv4[96];        /* CURLOPT_AWS_SIGV4, "" for plain HTTP */
    char *userpwd;         /* S3 "key:secret" */
    void *hdrs;            /* struct curl_slist *: headers every request carries */
    void *easy;            /* CURL *: serial requests, one kept-alive connection */
    double floor, ceiling; /* s: every transfer's deadline lies between */
    uint64_t min_rate;     /* bytes/s a transfer must keep up past the floor */
    uint64_t requests, bytes;
    char *err;
    size_t errlen;
};

/* Parses o->url (zg_remote.h) and the deadline settings (o's, else the
 * environment's, else the defaults) and prepares the handle; messages go to
 * err. 0, -EINVAL, -ENOMEM. */
int rm_open(struct rm *r, const struct zg_remote_opts *o, char *err, size_t errlen);
void rm_close(struct rm *r);

/* GET base/obj whole (at most max bytes, else -EFBIG: cut at max, never
 * buffered beyond), by the deadline for max bytes (else -ETIMEDOUT).
 * 0 and *buf (free()), -ENOENT (404), -ECOMM. */
int rm_get(struct rm *r, const char *obj, uint64_t max, uint8_t **buf, size_t *len);

/* PUT base/obj with len bytes, by the deadline for len bytes. 0, -ECOMM,
 * -ETIMEDOUT. */
int rm_put(struct rm *r, const char *obj, const void *buf, size_t len);

struct rm_range {
    const char *obj;
    uint64_t off, len;
};

/* Called as each range arrives (data: its len bytes); non-zero stops. */
typedef int (*rm_range_fn)(void *arg, size_t i, const uint8_t *data);

/* Ranged GETs of the n ranges, up to jobs in flight on their own
 * connections. A server that answers with other bytes than asked for
 * (no 206, a short or long body) is an error; each range has the deadline
 * for its length. 0, the callback's value, -EBADMSG, -ECOMM, -ETIMEDOUT. */
int rm_get_ranges(struct rm *r, const struct rm_range *rg, size_t n, unsigned jobs, rm_range_fn fn,
                  void *arg);

/* Sets r->err (keeps the first message when keep and one is set) and returns rc. */
int rm_errf(struct rm *r, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- objects (rm_obj.c, docs/format.md "Remote page tier") ---------------------- */

/* XXH3-128 of the bytes, canonical: an immutable object's name (zg_pc_key_hex). */
void rm_name(const void *buf, size_t len, struct zg_pc_key *name);

#define RM_PACK_MAGIC "ZGRPACK1"
#define RM_PACK_HDR   64
#define RM_ZPX_MAGIC  "ZGRPX001"
#define RM_MAP_MAGIC  "ZGRMAP01"
#define RM_ZERO_PACK  UINT32_MAX

struct rm_loc {
    uint32_t pack;    /* index into the map's (or catalog's) pack table; RM_ZERO_PACK */
    uint32_t rec_len; /* record bytes, header included */
    uint64_t off;     /* the record's offset in the pack */
};

/* A pack's record list. */
struct rm_zpx {
    struct zg_pc_key pack; /* the pack's name */
    uint64_t n;
    struct zg_pc_key *keys;
    uint64_t *off;
    uint32_t *len;
};
int rm_zpx_encode(const struct rm_zpx *x, uint8_t **buf, size_t *len);
/* Checks and parses (untrusted). 0 or -EBADMSG (*why). */
int rm_zpx_parse(const uint8_t *buf, size_t len, struct rm_zpx *x, const char **why);
void rm_zpx_free(struct rm_zpx *x);

struct rm_map {
    struct zg_pc_key manifest; /* the manifest's name */
    uint64_t npages;
    struct rm_loc *loc; /* npages */
    uint32_t npacks;
    struct zg_pc_key *packs; /* their names */
};
int rm_map_encode(const struct rm_map *m, uint8_t **buf, size_t *len);
/* Checks and parses: every location names a pack of the table. */
int rm_map_parse(const uint8_t *buf, size_t len, struct rm_map *m, const char **why);
void rm_map_free(struct rm_map *m);

/* "zerg1 <manifest> <map>\n". 0, -ENOTSUP (another major version), -EBADMSG. */
int rm_ref_parse(const uint8_t *buf, size_t len, char manifest[33], char map[33]);

double rm_now(void);

/* key -> value (an index into the caller's arrays); open addressing. */
struct rm_keymap {
    struct zg_pc_key *keys; /* the zero key marks an empty slot */
    size_t *vals;
    size_t cap, n;
};
/* Adds key (never the zero key) with val unless present. 1 added, 0 present, -ENOMEM. */
int rm_keymap_add(struct rm_keymap *km, const struct zg_pc_key *key, size_t val);
/* The value of key, or SIZE_MAX. */
size_t rm_keymap_get(const struct rm_keymap *km, const struct zg_pc_key *key);
void rm_keymap_free(struct rm_keymap *km);

/* GET an immutable object whole (obj: "DIR/<hex>.SUFFIX") and check that
 * its bytes hash to its name hex: 0, -ENOENT, -EBADMSG (named), -ECOMM. */
int rm_get_named(struct rm *r, const char *obj, const char *hex, uint64_t max, uint8_t **buf,
                 size_t *len);

/* Reads a local template's manifest whole: bytes and parsed. */
struct zg_tmpl;
int rm_manifest_read(const char *home, const char *name, uint8_t **buf, size_t *len,
                     struct zg_tmpl **t, char *err, size_t errlen);
/* Opens home's page cache. */
int rm_cache_open(const char *home, unsigned flags, struct zg_pc **pc, char *err, size_t errlen);

#define RM_MANIFEST_MAX    (64ull << 20) /* bytes a manifest may have */
#define RM_OBJECT_MAX      (1ull << 30)  /* bytes any other whole object may have */
#define RM_REF_MAX         4096          /* bytes a reference may have */
/* Bytes the map of an npages-page manifest may have: its header, an entry
 * per page, at most one pack per page, the checksum. */
#define RM_MAP_MAX(npages) (48 + (npages)*32 + 8)

#endif /* RM_INT_H */
