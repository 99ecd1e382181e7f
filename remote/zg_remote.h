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
 * Errors: 0 or a negative errno with a one-line message in err: -ENOENT no
 * such template (locally for push, on the store for pull), -EBADMSG a
 * damaged remote object (named), -ENOTSUP another format version,
 * -ECOMM the store could not be reached or answered an error (the HTTP
 * status and URL named), -EINVAL a bad URL or name, I/O errors.
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

#define ZG_REMOTE_RANGE_MAX (4u << 20) /* bytes one ranged GET asks for, at most */
#define ZG_REMOTE_JOBS      4          /* ranged GETs in flight by default */

struct zg_remote_opts {
    const char *url;            /* the store's base URL (see above) */
    unsigned jobs;              /* pull: ranged GETs in flight (0: ZG_REMOTE_JOBS) */
    uint64_t range_max;         /* pull: bytes per ranged GET (0: ZG_REMOTE_RANGE_MAX) */
    int full;                   /* push: upload every page, whatever the store has (a store
                                   whose pack was damaged is repaired this way) */
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
