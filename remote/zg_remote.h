/* zg_remote: templates shared by many hosts through an object store.
 *
 * What it does
 *   Pushes a local template to, and pulls it from, a remote page tier on an
 *   existing object store: plain HTTP (GET, ranged GET, PUT; nginx's WebDAV
 *   module is the reference) or an S3-compatible API (AWS SigV4: S3, MinIO,
 *   Ceph RGW), through libcurl, one code path for both. The store holds
 *   immutable objects named by the XXH3-128 of their bytes (packs of page
 *   records, their record lists, maps, manifests) and one small mutable
 *   reference per template name, written last (docs/format.md, "Remote page
 *   tier"). A push uploads only the records the store lacks; a pull fetches
 *   only the records the local cache lacks, in ranged GETs of consecutive
 *   records (up to 4 MiB each, several in flight), checks every record
 *   (checksum, decoding, hash, key) before the local cache takes it, and
 *   writes the manifest last, so a template is complete or absent.
 *
 * What it does not do
 *   Run a server, delete anything on the store (no remote GC yet: a push
 *   that died leaves unreferenced immutable objects), or authenticate a
 *   store: XXH3 detects damage, not malice (use TLS and the store's
 *   credentials).
 *
 * URLs
 *   http://HOST[:PORT]/PATH, https://...          plain GET/PUT
 *   s3://BUCKET/PREFIX                             S3, path-style, endpoint
 *       $AWS_ENDPOINT_URL or https://s3.$AWS_REGION.amazonaws.com
 *   s3+http://HOST/BUCKET/PREFIX, s3+https://...   S3 at that endpoint
 *   S3 credentials: $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY and, when set,
 *   $AWS_SESSION_TOKEN; region $AWS_REGION (else $AWS_DEFAULT_REGION, else
 *   us-east-1).
 *
 * Deadlines
 *   Every transfer (each GET, ranged GET and PUT) has a size it may not
 *   exceed, known before it starts: a reference 4 KiB, a manifest 64 MiB
 *   (the format's bound), a map 56 bytes + 32 per page of its manifest, a
 *   ranged GET exactly its range, a PUT its body. A server that announces or
 *   sends more is cut there (nothing beyond the cap is buffered). Each
 *   transfer must also end by its deadline, clamp(floor + size / min_rate,
 *   floor, ceiling), and past the floor it must have moved at least
 *   (elapsed - floor) * min_rate bytes, checked about once a second: a store
 *   that stalls or trickles fails soon after the floor, whatever length it
 *   announced. Defaults: floor 30 s, ceiling 3600 s, min_rate 16 KiB/s;
 *   set per call (opts) or by $ZERG_REMOTE_TIMEOUT=FLOOR[:CEILING] (seconds)
 *   and $ZERG_REMOTE_MIN_RATE=BYTES[k|m] (per second), opts first.
 *
 * Errors: 0 or a negative errno with a one-line message in err: -ENOENT no
 * such template (locally for push, on the store for pull), -EBADMSG a
 * damaged remote object (named), -ENOTSUP another format version,
 * -ECOMM the store could not be reached or answered an error (the HTTP
 * status and URL named), -ETIMEDOUT a transfer below the minimum rate or
 * past its deadline (the object, the deadline and the bytes moved named),
 * -EFBIG an object larger than its cap, -EINVAL a bad URL, name or
 * deadline setting, I/O errors. After any error the local cache verifies:
 * only records checked whole were stored.
 *
 * Threads: one push or pull per call, no shared state; libcurl is
 * initialised by the first call (curl_global_init is not thread-safe in
 * older libcurl: call zg_remote_init() first in a threaded program).
 */
#ifndef ZG_REMOTE_H
#define ZG_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "pagecache/zg_pagecache.h"

#define ZG_REMOTE_RANGE_MAX       (4u << 20)  /* bytes one ranged GET asks for, at most */
#define ZG_REMOTE_JOBS            4           /* ranged GETs in flight by default */
#define ZG_REMOTE_TIMEOUT_FLOOR   30.0        /* s: any transfer may take this long */
#define ZG_REMOTE_TIMEOUT_CEILING 3600.0      /* s: no transfer takes longer */
#define ZG_REMOTE_MIN_RATE        (16u << 10) /* bytes/s past the floor, per transfer */

struct zg_remote_opts {
    const char *url;            /* the store's base URL (see above) */
    unsigned jobs;              /* pull: ranged GETs in flight (0: ZG_REMOTE_JOBS) */
    uint64_t range_max;         /* pull: bytes per ranged GET (0: ZG_REMOTE_RANGE_MAX) */
    int full;                   /* push: upload every page, whatever the store has (a store
                                   whose pack was damaged is repaired this way) */
    double timeout_floor;       /* s (0: $ZERG_REMOTE_TIMEOUT, else the default) */
    double timeout_ceiling;     /* s, >= the floor (0: likewise) */
    uint64_t min_rate;          /* bytes/s (0: $ZERG_REMOTE_MIN_RATE, else the default) */
    zg_pc_progress_fn progress; /* optional: records moved of those to move */
    void *progress_arg;
};

struct zg_remote_stats {
    uint64_t pages;        /* pages of the template, zero pages included */
    uint64_t distinct;     /* distinct non-zero pages */
    uint64_t records;      /* page records moved (uploaded, or fetched and stored) */
    uint64_t record_bytes; /* their bytes (record headers included) */
    uint64_t bytes;        /* every body byte moved, objects included */
    uint64_t requests;     /* HTTP requests made */
    uint64_t ranges;       /* pull: ranged GETs (counted in requests too) */
    uint64_t known;        /* push: records the store had already */
    double seconds;        /* wall time of the whole operation */
    int up_to_date;        /* pull: the local template was this version already */
    char manifest[33];     /* the version: the manifest object's name */
    char map[33];          /* the map object's name */
};

/* Parses "FLOOR[:CEILING]" seconds (0 < FLOOR <= CEILING; decimals allowed;
 * no CEILING: *ceiling_s = 0, the default). 0 or -EINVAL. */
int zg_remote_parse_timeout(const char *s, double *floor_s, double *ceiling_s);
/* Parses a rate in bytes/s: BYTES, BYTESk (KiB/s) or BYTESm (MiB/s), at
 * least 1. 0 or -EINVAL. */
int zg_remote_parse_rate(const char *s, uint64_t *rate);

/* Optional: initialises libcurl (see Threads). 0 or -ENOMEM. */
int zg_remote_init(void);

/* Uploads template name from home to the store: the records it lacks (one
 * new pack and its record list), the map, the manifest, the catalog, then
 * the reference. st may be NULL. */
int zg_remote_push(const char *home, const char *name, const struct zg_remote_opts *o,
                   struct zg_remote_stats *st, char *err, size_t errlen);

/* Makes the store's current version of template name usable under home:
 * fetches the reference, and unless the local template is that version
 * with every page cached, the manifest, the map and the records the local
 * cache lacks; then registers the page-cache root and writes the manifest
 * (replacing an older local version). st may be NULL. */
int zg_remote_pull(const char *home, const char *name, const struct zg_remote_opts *o,
                   struct zg_remote_stats *st, char *err, size_t errlen);

#endif /* ZG_REMOTE_H */
