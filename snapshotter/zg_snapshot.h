/* zg_snapshot: a running guest becomes a warm template.
 *
 * What it does
 *   zg_tmpl_create cold-boots a guest, stops it at its ready point (a zerg
 *   guest's READY, a Linux program's first wait for its request), reads its
 *   vCPU state and its personality's state, puts its memory pages into the
 *   page cache and writes the manifest (template/zg_template.h owns the
 *   format).
 *
 * Errors: 0 or a negative errno, with a one-line message in err.
 * Threads: no shared state between calls on different templates.
 */
#ifndef ZG_SNAPSHOT_H
#define ZG_SNAPSHOT_H

#include "template/zg_template.h"

/* ---- Capturing ------------------------------------------------------------ */
struct zg_tmpl_create_opts {
    const char *home;           /* zerg home (zg_home_dir) */
    const char *name;           /* template name */
    const char *guest_path;     /* the guest ELF */
    const struct zg_hv_ops *hv; /* the backend (NULL: kvm); the template records it */
    uint64_t mem_size;          /* guest memory */
    const char *cmdline;        /* guest arguments */
    const char *linux_ro;       /* a Linux program's --ro trees ("HOST[=GUEST]" lines) */
    const char *linux_env;      /* its --env ("K=V" lines) */
    uint64_t deadline_ms;       /* cold boot to READY must finish within this */
    int console_fd;             /* the guest's console during boot; -1 discards */
    int replace;                /* overwrite an existing template */
    zg_pc_progress_fn progress; /* ingest progress, may be NULL */
    void *progress_arg;
};

struct zg_tmpl_create_stats {
    uint64_t boot_ns;    /* VM creation to READY */
    uint64_t capture_ns; /* state + pages into the cache + manifest */
    struct zg_pc_ingest_stats pages;
};

/* Cold-boots the guest, stops it inside READY, captures it. */
int zg_tmpl_create(const struct zg_tmpl_create_opts *o, struct zg_tmpl_create_stats *st, char *err,
                   size_t errlen);

#endif /* ZG_SNAPSHOT_H */
