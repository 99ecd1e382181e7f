/* Page cache utilities: per-thread error messages, keys, hash tables, file I/O. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "pagecache/pc_internal.h"

const struct zg_pc_key ZG_PC_ZERO_KEY;

static _Thread_local char pc_errbuf[512];

int pc_err(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pc_errbuf, sizeof(pc_errbuf), fmt, ap);
    va_end(ap);
    return err;
}

void pc_err_clear(void)
{
    pc_errbuf[0] = '\0';
}

void pc_err_set_msg(const char *msg)
{
    snprintf(pc_errbuf, sizeof(pc_errbuf), "%s", msg);
}

const char *zg_pc_last_error(void)
{
    return pc_errbuf;
}

/* ---- keys ---------------------------------------------------------------- */

int zg_pc_key_is_zero(const struct zg_pc_key *key)
{
    uint64_t a, b;
    memcpy(&a, key->b, 8);
    memcpy(&b, key->b + 8, 8);
    return (a | b) == 0;
}

int pc_key_eq(const struct zg_pc_key *a, const struct zg_pc_key *b)
{
    return memcmp(a->b, b->b, 16) == 0;
}

static int page_is_zero(const void *page)
{
    const uint8_t *p = page;
    for (size_t i = 0; i < ZG_PC_PAGE_SIZE; i += 64) {
        uint64_t w[8], acc = 0;
        memcpy(w, p + i, 64);
        for (int j = 0; j < 8; j++)
            acc |= w[j];
        if (acc)
            return 0;
    }
    return 1;
}

void zg_pc_page_key(const void *page, struct zg_pc_key *key)
{
    if (page_is_zero(page)) {
        memset(key, 0, sizeof(*key));
        return;
    }
    XXH128_hash_t h = XXH3_128bits(page, ZG_PC_PAGE_SIZE);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    memcpy(key->b, c.digest, 16);
}

void zg_pc_key_hex(const struct zg_pc_key *key, char hex[33])
{
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = d[key->b[i] >> 4];
        hex[2 * i + 1] = d[key->b[i] & 15];
    }
    hex[32] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int zg_pc_key_parse(const char *hex, struct zg_pc_key *key)
{
    if (!hex || strlen(hex) != 32)
        return -EINVAL;
    for (int i = 0; i < 16; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        key->b[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* ---- the in-memory index ----------------------------------------------------- */

static inline size_t key_slot(const struct zg_pc_key *k, size_t mask)
{
    uint64_t h;
    memcpy(&h, k->b, 8); /* the key is a hash already: its bytes are uniform */
    return (size_t)h & mask;
}

struct pc_ent *pc_table_find(const struct pc_table *t, const struct zg_pc_key *key)
{
    if (!t->cap)
        return NULL;
    size_t mask = t->cap - 1;
    for (size_t i = key_slot(key, mask);; i = (i + 1) & mask) {
        struct pc_ent *e = &t->slots[i];
        if (!e->enc)
            return NULL;
        if (pc_key_eq(&e->key, key))
            return e;
    }
}

static void table_put(struct pc_ent *slots, size_t mask, const struct pc_ent *e)
{
    size_t i = key_slot(&e->key, mask);
    while (slots[i].enc)
        i = (i + 1) & mask;
    slots[i] = *e;
}

int pc_table_reserve(struct pc_table *t, size_t n)
{
    if (n <= t->cap / 2)
        return 0;
    size_t cap = 1024;
    while (cap / 2 < n) {
        if (cap > SIZE_MAX / 4 / sizeof(struct pc_ent))
            return -ENOMEM;
        cap *= 2;
    }
    struct pc_ent *s = calloc(cap, sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].enc)
            table_put(s, cap - 1, &t->slots[i]);
    free(t->slots);
    t->slots = s;
    t->cap = cap;
    return 0;
}

int pc_table_insert(struct pc_table *t, const struct pc_ent *e)
{
    if (pc_table_find(t, &e->key))
        return 1;
    int rc = pc_table_reserve(t, t->n + 1);
    if (rc < 0)
        return rc;
    table_put(t->slots, t->cap - 1, e);
    t->n++;
    return 0;
}

void pc_table_free(struct pc_table *t)
{
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

uint32_t *pc_keyset_get(const struct pc_keyset *s, const struct zg_pc_key *key)
{
    if (!s->cap)
        return NULL;
    size_t mask = s->cap - 1;
    for (size_t i = key_slot(key, mask);; i = (i + 1) & mask) {
        if (zg_pc_key_is_zero(&s->keys[i]))
            return NULL;
        if (pc_key_eq(&s->keys[i], key))
            return &s->vals[i];
    }
}

static int keyset_grow(struct pc_keyset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    struct zg_pc_key *k = calloc(cap, sizeof(*k));
    uint32_t *v = calloc(cap, sizeof(*v));
    if (!k || !v) {
        free(k);
        free(v);
        return -ENOMEM;
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (zg_pc_key_is_zero(&s->keys[i]))
            continue;
        size_t j = key_slot(&s->keys[i], cap - 1);
        while (!zg_pc_key_is_zero(&k[j]))
            j = (j + 1) & (cap - 1);
        k[j] = s->keys[i];
        v[j] = s->vals[i];
    }
    free(s->keys);
    free(s->vals);
    s->keys = k;
    s->vals = v;
    s->cap = cap;
    return 0;
}

int pc_keyset_add(struct pc_keyset *s, const struct zg_pc_key *key, uint32_t **val_out)
{
    if ((s->n + 1) * 2 > s->cap && keyset_grow(s) < 0)
        return -ENOMEM;
    size_t mask = s->cap - 1;
    size_t i = key_slot(key, mask);
    for (; !zg_pc_key_is_zero(&s->keys[i]); i = (i + 1) & mask) {
        if (pc_key_eq(&s->keys[i], key)) {
            if (val_out)
                *val_out = &s->vals[i];
            return 0;
        }
    }
    s->keys[i] = *key;
    s->vals[i] = 0;
    s->n++;
    if (val_out)
        *val_out = &s->vals[i];
    return 1;
}

void pc_keyset_free(struct pc_keyset *s)
{
    free(s->keys);
    free(s->vals);
    memset(s, 0, sizeof(*s));
}

/* ---- files ------------------------------------------------------------------ */

int pc_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int pc_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t w = pwrite(fd, p, len, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        p += w;
        len -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

int pc_atomic_write(int dirfd, const char *name, const void *buf, size_t len)
{
    char tmp[300];
    snprintf(tmp, sizeof(tmp), ".tmp-%s-%ld", name, (long)getpid());
    int rc, fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return pc_err(-errno, "cannot create %s: %s", tmp, strerror(errno));
    if ((rc = pc_write_all(fd, buf, len)) < 0 || (fsync(fd) < 0 && (rc = -errno))) {
        pc_err(rc, "cannot write %s: %s", tmp, strerror(-rc));
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        rc = pc_err(-errno, "cannot write %s: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        rc = pc_err(-errno, "cannot rename %s to %s: %s", tmp, name, strerror(errno));
        goto fail;
    }
    if (fsync(dirfd) < 0)
        return pc_err(-errno, "cannot fsync the directory of %s: %s", name, strerror(errno));
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    unlinkat(dirfd, tmp, 0);
    return rc;
}

int pc_read_file(int dirfd, const char *name, uint64_t cap, uint8_t **buf, size_t *len)
{
    int rc = 0;
    uint8_t *b = NULL;
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0) {
        rc = -errno;
        goto out;
    }
    if ((uint64_t)size > cap || (uint64_t)size > SIZE_MAX - 1) {
        rc = -EFBIG;
        goto out;
    }
    b = malloc((size_t)size + 1);
    if (!b) {
        rc = -ENOMEM;
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)size) {
        ssize_t r = pread(fd, b + got, (size_t)size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            goto out;
        }
        if (r == 0)
            break; /* shrank meanwhile: take what is there */
        got += (size_t)r;
    }
    *buf = b;
    *len = got;
    b = NULL;
out:
    free(b);
    close(fd);
    return rc;
}

unsigned pc_nthreads(unsigned requested)
{
    if (requested)
        return requested > ZG_PC_MAX_THREADS ? ZG_PC_MAX_THREADS : requested;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > (long)ZG_PC_MAX_THREADS ? ZG_PC_MAX_THREADS : (unsigned)n;
}

double pc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
