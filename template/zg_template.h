/* zg_template: warm templates — the manifest format, owned here once.
 *
 * What it does
 *   A template is a guest captured at its ready point: the complete
 *   vCPU state, the guest address of the READY struct, and one page-cache key
 *   per 4 KiB page of guest memory (pages live in the shared page cache,
 *   pagecache/). The manifest is one file, <home>/templates/<name>.zgt,
 *   specified in docs/format.md ("Template manifest") and mirrored by the
 *   structs below. The manifest's page list is also registered as a page
 *   cache root of the same name, so GC keeps exactly the pages templates use.
 *
 * What it does not do
 *   Capture a running guest (snapshotter/zg_snapshot.h) or run instances
 *   from a template (restorer/): both use this format and nothing else of
 *   each other.
 *
 * Usage
 *     struct zg_tmpl *t;
 *     if (zg_tmpl_load(home, "web", &t, err, sizeof(err)) < 0) ...
 *     ... t->info.mem_size, t->state, t->keys[i] ...
 *     zg_tmpl_free(t);
 *
 * Errors: 0 or a negative errno, with a one-line message naming the template
 * (and file, record, offset) in the caller's err buffer. -ENOENT no such
 * template, -EBADMSG a damaged or truncated manifest, -ENOTSUP a newer major
 * version or an unknown mandatory record, -EEXIST a template of that name
 * exists already.
 *
 * Threads: no shared state; functions may be called from several threads
 * on different templates.
 */
#ifndef ZG_TEMPLATE_H
#define ZG_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include <zerg/abi.h>
#include "hypervisor/zg_hv.h"
#include "pagecache/zg_pagecache.h"

/* ---- On-disk format (docs/format.md, "Template manifest") -------------- */
#define ZG_TMPL_MAGIC         "ZGTMPL\r\n"
#define ZG_TMPL_VERSION_MAJOR 1
#define ZG_TMPL_VERSION_MINOR 1 /* 1: the PERSONA record */
#define ZG_TMPL_HASH_XXH3_128 1
#define ZG_TMPL_SUFFIX        ".zgt"
#define ZG_TMPL_NAME_MAX      64
#define ZG_TMPL_MAX_PAGES     (1u << 20) /* 4 GiB of guest memory */

struct zg_tmpl_header {
    uint8_t magic[8];       /* ZG_TMPL_MAGIC */
    uint16_t version_major; /* a reader refuses another major version */
    uint16_t version_minor; /* a newer minor only adds optional records */
    uint32_t header_size;   /* sizeof(struct zg_tmpl_header) */
    uint64_t file_size;     /* the whole file, trailer included */
    uint32_t page_size;     /* 4096 */
    uint16_t hash_id;       /* ZG_TMPL_HASH_XXH3_128 */
    uint16_t flags;         /* zero */
    uint32_t record_count;  /* records between header and trailer */
    uint32_t reserved0;     /* zero */
    uint8_t reserved[24];   /* zero */
};
_Static_assert(sizeof(struct zg_tmpl_header) == 64, "zg_tmpl_header layout");

#define ZG_TMPL_REC_INFO  1u /* struct zg_tmpl_info, mandatory */
#define ZG_TMPL_REC_VCPU  2u /* struct zg_vcpu_state, mandatory */
#define ZG_TMPL_REC_PAGES 3u /* struct zg_tmpl_pages + keys, mandatory */
#define ZG_TMPL_REC_PERSONA                                                                        \
    4u /* struct zg_tmpl_persona + state; mandatory where present (a guest of another              \
        * personality than zerg's own ABI) */

#define ZG_TMPL_REC_OPTIONAL 0x1u /* record flag: a reader may skip it if unknown */

struct zg_tmpl_record {
    uint32_t type;
    uint32_t flags;  /* ZG_TMPL_REC_OPTIONAL; other bits zero */
    uint64_t length; /* payload bytes; the payload is padded with zeros to 8 */
};
_Static_assert(sizeof(struct zg_tmpl_record) == 16, "zg_tmpl_record layout");

struct zg_tmpl_info {
    char name[ZG_TMPL_NAME_MAX]; /* NUL-padded */
    char backend[16];            /* "kvm", NUL-padded */
    char guest[128];             /* the guest ELF's file name (informational) */
    uint8_t guest_hash[16];      /* XXH3-128 of the guest ELF, canonical */
    uint64_t mem_size;           /* bytes of guest memory */
    uint64_t ready_gpa;          /* the READY struct the vCPU is stopped in */
    uint64_t created_wall_ns;    /* CLOCK_REALTIME when captured */
    uint64_t boot_ns;            /* cold boot: VM creation to READY */
    uint32_t abi_version;        /* the guest's ABI version */
    uint32_t cmdline_len;        /* bytes of cmdline used */
    uint8_t reserved[32];        /* zero */
    char cmdline[ZG_CMDLINE_MAX];
};
_Static_assert(sizeof(struct zg_tmpl_info) == 2344, "zg_tmpl_info layout");

struct zg_tmpl_pages {
    uint64_t npages;   /* = mem_size / 4096; npages keys of 16 bytes follow */
    uint64_t reserved; /* zero */
};
_Static_assert(sizeof(struct zg_tmpl_pages) == 16, "zg_tmpl_pages layout");

#define ZG_TMPL_PERSONA_MAX (16u << 20) /* bytes of personality state */

struct zg_tmpl_persona {
    char name[16];      /* the personality, NUL-terminated ("linux") */
    uint32_t version;   /* the personality's state version */
    uint32_t reserved;  /* zero */
    uint64_t state_len; /* bytes of state that follow */
};
_Static_assert(sizeof(struct zg_tmpl_persona) == 32, "zg_tmpl_persona layout");

/* The file ends with 8 bytes: XXH3-64 (seed 0) of every byte before it. */

/* ---- In memory ------------------------------------------------------------ */
struct zg_tmpl {
    struct zg_tmpl_info info;
    struct zg_vcpu_state state;
    struct zg_pc_key *keys; /* info.mem_size / 4096 of them */
    uint64_t npages;
    uint64_t file_size;
    struct zg_tmpl_persona persona; /* name[0] == 0: zerg's own ABI (no PERSONA record) */
    void *pstate;                   /* persona.state_len bytes, or NULL */
};

/* Parses a manifest held in memory (untrusted bytes). 0 and *out, or
 * -EBADMSG/-ENOTSUP/-ENOMEM with the reason in err. */
int zg_tmpl_parse(const void *buf, size_t len, struct zg_tmpl **out, char *err, size_t errlen);

/* Serializes t into a newly allocated buffer (*buf, *len; free()). */
int zg_tmpl_serialize(const struct zg_tmpl *t, void **buf, size_t *len);

/* <home>/templates/<name>.zgt into path. -EINVAL for a bad name (1..63 of
 * [A-Za-z0-9._-], not starting with '.'), -ENAMETOOLONG. */
int zg_tmpl_path(const char *home, const char *name, char *path, size_t len);

/* Reads and parses the template `name` under home. */
int zg_tmpl_load(const char *home, const char *name, struct zg_tmpl **out, char *err,
                 size_t errlen);

/* Writes t as the template t->info.name: temporary file, fsync, rename,
 * fsync of the directory. -EEXIST if it exists and !replace. */
int zg_tmpl_store(const char *home, const struct zg_tmpl *t, int replace, char *err, size_t errlen);

/* Writes manifest bytes buf[0..len) (already parsed by the caller, e.g. a
 * pulled manifest kept byte for byte) as template name, the same way. */
int zg_tmpl_store_bytes(const char *home, const char *name, const void *buf, size_t len,
                        int replace, char *err, size_t errlen);

void zg_tmpl_free(struct zg_tmpl *t);

/* Lists template names under home (sorted). Free with zg_tmpl_list_free. */
int zg_tmpl_list(const char *home, char ***names, size_t *n);
void zg_tmpl_list_free(char **names, size_t n);

/* Deletes the manifest and its page cache root (pages go at the next GC). */
int zg_tmpl_remove(const char *home, const char *name, char *err, size_t errlen);

#endif /* ZG_TEMPLATE_H */
