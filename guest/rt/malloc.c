/* zerg guest runtime: malloc/free over the heap the monitor hands the guest.
 *
 * Small blocks (<= 2 KiB) come from power-of-two size classes with a free
 * list each; larger ones are page-rounded and kept on one first-fit list.
 * New memory is taken from a bump pointer. Every block has a 16-byte header
 * holding its usable size, so free() and realloc() need no lookup. */
#include <zerg/zerg.h>

#define HDR       16u
#define MIN_SHIFT 4u  /* 16 bytes */
#define MAX_SHIFT 11u /* 2048 bytes */
#define NCLASSES  (MAX_SHIFT - MIN_SHIFT + 1)
#define BIG_ROUND 4096u
#define HDR_MAGIC 0x7a67686561707a67ull

struct hdr {
    uint64_t size;  /* usable bytes after the header */
    uint64_t magic; /* HDR_MAGIC ^ size, to catch bad frees */
};

struct free_node {
    struct free_node *next;
};

static uintptr_t bump, heap_end, heap_base;
static struct free_node *classes[NCLASSES];
static struct free_node *big; /* first-fit list of large blocks */

void zg_rt_heap_init(uint64_t start, uint64_t end)
{
    heap_base = (uintptr_t)(start + 15) & ~(uintptr_t)15;
    bump = heap_base;
    heap_end = (uintptr_t)end;
    for (unsigned i = 0; i < NCLASSES; i++)
        classes[i] = NULL;
    big = NULL;
}

size_t zg_heap_used(void)
{
    return bump - heap_base;
}

static unsigned class_of(size_t n)
{
    unsigned s = MIN_SHIFT;
    while (((size_t)1 << s) < n)
        s++;
    return s - MIN_SHIFT;
}

static void *carve(size_t usable)
{
    if (usable > heap_end - bump || HDR > heap_end - bump - usable)
        return NULL;
    struct hdr *h = (struct hdr *)bump;
    bump += HDR + usable;
    h->size = usable;
    h->magic = HDR_MAGIC ^ usable;
    return h + 1;
}

void *malloc(size_t n)
{
    if (n == 0)
        n = 1;
    if (n <= ((size_t)1 << MAX_SHIFT)) {
        unsigned c = class_of(n);
        struct free_node *f = classes[c];
        if (f) {
            classes[c] = f->next;
            return f;
        }
        return carve((size_t)1 << (c + MIN_SHIFT));
    }
    if (n > heap_end - heap_base)
        return NULL;
    size_t want = (n + HDR + BIG_ROUND - 1) / BIG_ROUND * BIG_ROUND - HDR;
    for (struct free_node **pp = &big; *pp; pp = &(*pp)->next) {
        struct hdr *h = (struct hdr *)*pp - 1;
        if (h->size >= want) {
            void *p = *pp;
            *pp = (*pp)->next;
            return p;
        }
    }
    return carve(want);
}

void free(void *p)
{
    if (!p)
        return;
    struct hdr *h = (struct hdr *)p - 1;
    if ((uintptr_t)h < heap_base || (uintptr_t)p >= bump || h->magic != (HDR_MAGIC ^ h->size)) {
        zg_console("free: bad pointer\n", 18);
        zg_exit(134);
    }
    struct free_node *f = p;
    if (h->size <= ((size_t)1 << MAX_SHIFT)) {
        unsigned c = class_of(h->size);
        f->next = classes[c];
        classes[c] = f;
    } else {
        f->next = big;
        big = f;
    }
}

void *calloc(size_t n, size_t size)
{
    if (size && n > (size_t)-1 / size)
        return NULL;
    void *p = malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    struct hdr *h = (struct hdr *)p - 1;
    if (n <= h->size)
        return p;
    void *q = malloc(n);
    if (!q)
        return NULL;
    memcpy(q, p, h->size);
    free(p);
    return q;
}
