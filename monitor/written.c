/* Which guest pages an instance wrote, and putting them back (pooled reset,
 * the memory cap).
 *
 * Two ways. KVM's dirty log works for any memory, but it write-protects
 * every page it reports, so each first write after a read of the log is a
 * fault, and on this nested host (PVM) a fault costs ~25 us (measured with
 * tests/linux/pages.c writing 500 pages per pooled request against none:
 * 26.4 us a page this way, 1.0 us the way below). A pooled Python request
 * writes ~100 pages: 3 ms of faults per request.
 *
 * When guest memory is a private mapping of the template's image (every
 * restored instance), the host's page table knows without write
 * protection: a page the guest or the monitor wrote is an anonymous copy,
 * a page nobody wrote is still the file's. PAGEMAP_SCAN (Linux 6.7) lists
 * the copies. A reset compares each copy with the image and copies back
 * those that differ; the copies stay mapped, writable, in KVM's page table,
 * so the next request writes the same pages without a fault. A copy equal
 * to the image is kept too: a page written and written back (a reference
 * count up and down again) equals it at every reset, yet a request writes it
 * every time -- dropping it would cost a fault each time. What a reset
 * compares is bounded instead: past ZG_KEEP_MAX copies, the equal copies
 * that have been equal for the most resets in a row are dropped until
 * ZG_KEEP_MAX / 2 are left (MADV_DONTNEED puts the file's page back; KVM
 * hears of it through its MMU notifier).
 * Equal pages need nothing: the instance is then exactly the image. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "monitor/zg_monitor_int.h"

#ifndef PAGEMAP_SCAN
#define PAGE_IS_FILE    (1u << 2)
#define PAGE_IS_PRESENT (1u << 3)
#define PAGE_IS_SWAPPED (1u << 4)
#define PAGE_IS_PFNZERO (1u << 5)
struct page_region {
    uint64_t start, end, categories;
};
struct pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

/* Past this many copies (8 MiB), a reset drops the longest-equal copies
 * down to half of it. */
#define ZG_KEEP_MAX 2048u

/* in->idle[page]: 0 not a kept copy (or a copy made since the last reset);
 * 1 kept, it differed from the image at the last reset; k >= 2 kept, it
 * equalled the image at the last k - 1 resets (at most 255). */

static inline uint64_t pages_of(const struct zg_instance *in)
{
    return in->mem_size / ZG_PAGE_SIZE;
}

/* Calls fn(in, first_page, pages, arg) for each run of the instance's
 * private pages (present or swapped, neither the file's nor the zero page)
 * and counts them into *n. 0 or -errno (fn's, or the scan's). */
static int scan_copies(struct zg_instance *in,
                       int (*fn)(struct zg_instance *, uint64_t, uint64_t, void *), void *arg,
                       uint64_t *n)
{
    /* zeroed: valgrind does not know that PAGEMAP_SCAN fills it */
    struct page_region vec[256] = {{0, 0, 0}};
    uint64_t start = (uintptr_t)in->mem, end = start + in->mem_size, count = 0;
    while (start < end) {
        struct pm_scan_arg a = {
            .size = sizeof(a),
            .start = start,
            .end = end,
            .vec = (uintptr_t)vec,
            .vec_len = sizeof(vec) / sizeof(vec[0]),
            .category_inverted = PAGE_IS_FILE | PAGE_IS_PFNZERO,
            .category_mask = PAGE_IS_FILE | PAGE_IS_PFNZERO,
            .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
            .return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
        };
        long got = ioctl(in->pagemap_fd, PAGEMAP_SCAN, &a);
        if (got < 0)
            return -errno;
        for (long i = 0; i < got; i++) {
            if (vec[i].start < (uintptr_t)in->mem || vec[i].end > end || vec[i].end <= vec[i].start)
                return -EIO;
            uint64_t pg = (vec[i].start - (uintptr_t)in->mem) / ZG_PAGE_SIZE;
            uint64_t pages = (vec[i].end - vec[i].start) / ZG_PAGE_SIZE;
            count += pages;
            if (fn) {
                int rc = fn(in, pg, pages, arg);
                if (rc < 0)
                    return rc;
            }
        }
        if (a.walk_end <= start || a.walk_end > end)
            return -EIO; /* no progress: never loop */
        start = a.walk_end;
    }
    *n = count;
    return 0;
}

/* This process's /proc/self/pagemap, opened once and shared by its
 * instances (so a sandboxed process need not open files): a descriptor
 * inherited across a fork reads the parent's page table, so a child opens
 * its own (and closes the inherited one). -1 if it cannot be opened. */
static pthread_mutex_t pm_mu = PTHREAD_MUTEX_INITIALIZER;
static int pm_fd = -1;
static pid_t pm_pid;

int zg_written_pagemap(void)
{
    pthread_mutex_lock(&pm_mu);
    pid_t me = getpid();
    if (pm_fd >= 0 && pm_pid != me) {
        close(pm_fd);
        pm_fd = -1;
    }
    if (pm_fd < 0) {
        pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        pm_pid = me;
    }
    int fd = pm_fd;
    pthread_mutex_unlock(&pm_mu);
    return fd;
}

int zg_written_init(struct zg_instance *in)
{
    in->pagemap_fd = -1;
    if (!(in->cfg.flags & ZG_INST_TRACK_DIRTY))
        return 0;
    const char *force = getenv("ZERG_DIRTY_LOG");
    int want_kvm = force && strcmp(force, "kvm") == 0;
    if (in->cfg.image_fd >= 0 && !want_kvm) {
        in->pagemap_fd = zg_written_pagemap();
        uint64_t n;
        if (in->pagemap_fd >= 0 && scan_copies(in, NULL, NULL, &n) < 0)
            in->pagemap_fd = -1; /* older kernel: no PAGEMAP_SCAN */
        if (in->pagemap_fd >= 0) {
            in->idle = calloc(pages_of(in), 1);
            if (!in->idle)
                return -ENOMEM;
            return 0;
        }
    }
    size_t words = (pages_of(in) + 63) / 64;
    in->host_dirty = calloc(words, sizeof(uint64_t));
    in->log_scratch = calloc(words, sizeof(uint64_t));
    if (!in->host_dirty || !in->log_scratch)
        return -ENOMEM;
    return 0;
}

unsigned zg_written_mem_flags(const struct zg_instance *in)
{
    return in->log_scratch ? ZG_MEM_DIRTY_LOG : 0;
}

const char *zg_written_method(const struct zg_instance *in)
{
    return in->pagemap_fd >= 0 ? "pagemap" : in->log_scratch ? "kvm-dirty-log" : "none";
}

void zg_written_free(struct zg_instance *in)
{
    free(in->host_dirty);
    free(in->log_scratch);
    free(in->idle);
    in->host_dirty = in->log_scratch = NULL;
    in->idle = NULL;
    in->pagemap_fd = -1; /* the process's, shared: not closed */
}

/* Folds KVM's dirty log (which the read clears) into host_dirty, which then
 * holds every page written since the instance was created or reset. */
static int fold_dirty_log(struct zg_instance *in, uint64_t *n)
{
    size_t words = (pages_of(in) + 63) / 64;
    int rc = in->hv->dirty_log(in->vm, in->log_scratch);
    if (rc < 0)
        return rc;
    uint64_t c = 0;
    for (size_t w = 0; w < words; w++) {
        in->host_dirty[w] |= in->log_scratch[w];
        c += (uint64_t)__builtin_popcountll(in->host_dirty[w]);
    }
    *n = c;
    return 0;
}

/* The memory cap's count: with copies kept from earlier requests, a copy
 * counts only if it is new since the reset (idle 0) or differs from the
 * image -- which is compared only when the plain count is over the cap. */
struct count_arg {
    const uint8_t *image;
    uint64_t n;
};

static int count_changed(struct zg_instance *in, uint64_t pg, uint64_t pages, void *arg)
{
    struct count_arg *c = arg;
    for (uint64_t p = pg; p < pg + pages; p++)
        if (!in->idle[p] ||
            memcmp(in->mem + p * ZG_PAGE_SIZE, c->image + p * ZG_PAGE_SIZE, ZG_PAGE_SIZE) != 0)
            c->n++;
    return 0;
}

int zg_written_count(struct zg_instance *in, uint64_t limit)
{
    uint64_t n = 0;
    int rc;
    if (in->pagemap_fd >= 0) {
        rc = scan_copies(in, NULL, NULL, &n);
        if (rc == 0 && n > limit && in->image && in->kept) {
            struct count_arg c = {in->image, 0};
            rc = scan_copies(in, count_changed, &c, &n);
            n = c.n;
        }
    } else if (in->log_scratch) {
        rc = fold_dirty_log(in, &n);
    } else {
        return -EINVAL;
    }
    if (rc < 0)
        return rc;
    in->private_pages = n;
    return 0;
}

/* One reset's work on the copies: first every copy compared (those that
 * differ get the image's bytes), then, only when there are too many, the
 * longest-equal ones dropped. */
struct put_back {
    const uint8_t *image;
    uint64_t copied, total, dropped;
    uint64_t equal_for[256];      /* equal copies by in->idle value */
    unsigned drop_at;             /* pass 2: drop equal copies with idle >= this */
    uint64_t drop_from, drop_len; /* a run of pages to drop, not yet dropped */
};

static int flush_drop(struct zg_instance *in, struct put_back *b)
{
    if (!b->drop_len)
        return 0;
    int rc =
        madvise(in->mem + b->drop_from * ZG_PAGE_SIZE, b->drop_len * ZG_PAGE_SIZE, MADV_DONTNEED);
    b->dropped += b->drop_len;
    b->drop_len = 0;
    return rc < 0 ? -errno : 0;
}

static int put_back_run(struct zg_instance *in, uint64_t pg, uint64_t pages, void *arg)
{
    struct put_back *b = arg;
    for (uint64_t p = pg; p < pg + pages; p++) {
        uint8_t *m = in->mem + p * ZG_PAGE_SIZE;
        const uint8_t *img = b->image + p * ZG_PAGE_SIZE;
        if (memcmp(m, img, ZG_PAGE_SIZE) != 0) {
            memcpy(m, img, ZG_PAGE_SIZE);
            b->copied++;
            in->idle[p] = 1;
            continue;
        }
        in->idle[p] = in->idle[p] < 2 ? 2 : in->idle[p] == 255 ? 255 : in->idle[p] + 1;
        b->equal_for[in->idle[p]]++;
    }
    return 0;
}

static int drop_run(struct zg_instance *in, uint64_t pg, uint64_t pages, void *arg)
{
    struct put_back *b = arg;
    for (uint64_t p = pg; p < pg + pages; p++) {
        if (in->idle[p] < b->drop_at)
            continue;
        in->idle[p] = 0;
        if (b->drop_len && b->drop_from + b->drop_len == p) {
            b->drop_len++;
            continue;
        }
        int rc = flush_drop(in, b);
        if (rc < 0)
            return rc;
        b->drop_from = p;
        b->drop_len = 1;
    }
    return 0;
}

int zg_written_put_back(struct zg_instance *in, const uint8_t *image, uint64_t *copied)
{
    uint64_t n = 0;
    if (in->pagemap_fd >= 0) {
        struct put_back b = {.image = image};
        int rc = scan_copies(in, put_back_run, &b, &b.total);
        if (rc == 0 && b.total > ZG_KEEP_MAX) {
            /* the longest-equal first, down to half the bound */
            uint64_t need = b.total - ZG_KEEP_MAX / 2, have = 0;
            unsigned at = 256;
            while (at > 2 && have < need)
                have += b.equal_for[--at];
            b.drop_at = at;
            uint64_t seen;
            if (have)
                rc = scan_copies(in, drop_run, &b, &seen);
            if (rc == 0)
                rc = flush_drop(in, &b);
        }
        if (rc < 0)
            return rc;
        in->image = image;
        in->kept = b.total - b.dropped;
        *copied = b.copied;
        return 0;
    }
    if (!in->log_scratch)
        return -EINVAL;
    int rc = fold_dirty_log(in, &n);
    if (rc < 0)
        return rc;
    size_t words = (pages_of(in) + 63) / 64;
    n = 0;
    for (size_t w = 0; w < words; w++) {
        uint64_t bits = in->host_dirty[w];
        in->host_dirty[w] = 0;
        while (bits) {
            uint64_t pg = w * 64 + (uint64_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            memcpy(in->mem + pg * ZG_PAGE_SIZE, image + pg * ZG_PAGE_SIZE, ZG_PAGE_SIZE);
            n++;
        }
    }
    *copied = n;
    return 0;
}

int zg_inst_forget_mappings(struct zg_instance *in)
{
    if (zg_paravirt(in) || !in->mem)
        return -ENOTSUP;
    if (in->log_scratch && in->pagemap_fd < 0) {
        /* the slot's dirty log goes with it: what it holds is kept first */
        uint64_t n;
        int rc = fold_dirty_log(in, &n);
        if (rc < 0)
            return rc;
    }
    return in->hv->mem_map(in->vm, in->mem, in->mem_size, zg_written_mem_flags(in));
}
