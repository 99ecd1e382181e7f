/* Linux personality: memory. The heap (brk) grows in the identity-mapped
 * region after the program; anonymous mappings come from the mmap area,
 * handed out from its bottom up and reused first-fit from a sorted list of
 * free ranges. The area is address space far larger than the instance's
 * memory, backed 2 MiB at a time where it is first touched (lx_sparse.c);
 * every backed page is readable, writable and executable (mprotect changes
 * nothing); what Linux gives as zero pages, zerg zeroes when a range is
 * handed out again (or gives the frame back, to come back zeroed). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "linux/lx_int.h"

#define PAGE      ((uint64_t)ZG_PAGE_SIZE)
#define PAGEUP(x) (((x) + PAGE - 1) & ~(PAGE - 1))

static int in_area(const struct lx_state *lx, uint64_t va, uint64_t len);

/* Zeroes the program's [va, va+len) (host writes, recorded for the reset).
 * In the mmap area only what is backed needs it, and a region wholly inside
 * the range gives its frame back instead (lx_sparse.c). */
static int zero_range(struct zg_instance *in, uint64_t va, uint64_t len)
{
    if (!len)
        return 0;
    if (in_area(lx_of(in), va, len))
        return lx_sparse_release(in, va, len, 1);
    uint8_t *p = lx_uwptr(in, va, len);
    if (!p)
        return -EFAULT;
    memset(p, 0, len);
    return 0;
}

int64_t lx_sys_brk(struct lx_call *c)
{
    struct lx_state *lx = c->lx;
    uint64_t want = c->a[0];
    if (want < lx->brk_start || want > lx->l.ident_end)
        return (int64_t)lx->brk; /* Linux answers a refused brk with the current one */
    uint64_t old = lx->brk;
    if (want > old) {
        /* Memory above the old brk that an earlier, higher brk used. */
        uint64_t dirty_end = want < lx->brk_hwm ? want : lx->brk_hwm;
        if (dirty_end > old && zero_range(c->in, old, dirty_end - old) < 0)
            return (int64_t)lx->brk;
    }
    lx->brk = want;
    if (want > lx->brk_hwm)
        lx->brk_hwm = want;
    return (int64_t)want;
}

/* ---- The mmap area's free ranges --------------------------------------------- */
/* Moves mmap_top to `top`; memory below the high-water mark may hold bytes
 * of an earlier mapping given back, so what is handed out there is zeroed. */
static int set_top(struct zg_instance *in, struct lx_state *lx, uint64_t top)
{
    if (top > lx->mmap_top) {
        uint64_t lo = lx->mmap_top, hi = top < lx->mmap_hwm ? top : lx->mmap_hwm;
        if (hi > lo && zero_range(in, lo, hi - lo) < 0)
            return -EFAULT;
    }
    lx->mmap_top = top;
    if (top > lx->mmap_hwm)
        lx->mmap_hwm = top;
    return 0;
}

static void range_del_at(struct lx_state *lx, uint32_t i)
{
    memmove(&lx->free[i], &lx->free[i + 1], (lx->nfree - i - 1) * sizeof(lx->free[0]));
    lx->nfree--;
}

/* Takes [va, va+len) out of the free ranges (it may be partly free). */
static int range_take(struct lx_state *lx, uint64_t va, uint64_t len)
{
    uint64_t end = va + len;
    for (uint32_t i = 0; i < lx->nfree;) {
        struct lx_range *r = &lx->free[i];
        uint64_t rend = r->va + r->len;
        if (rend <= va || r->va >= end) {
            i++;
            continue;
        }
        if (r->va < va && rend > end) { /* split */
            if (lx->nfree == LX_NRANGES)
                return -ENOMEM;
            memmove(&lx->free[i + 1], &lx->free[i], (lx->nfree - i) * sizeof(lx->free[0]));
            lx->nfree++;
            lx->free[i].len = va - r->va;
            lx->free[i + 1].va = end;
            lx->free[i + 1].len = rend - end;
            return 0;
        }
        if (r->va < va) {
            r->len = va - r->va;
            i++;
        } else if (rend > end) {
            r->len = rend - end;
            r->va = end;
            i++;
        } else {
            range_del_at(lx, i);
        }
    }
    return 0;
}

/* Returns [va, va+len) to the free ranges, merging neighbours; the top
 * range gives its space back to mmap_top. */
static void range_give(struct zg_instance *in, struct lx_state *lx, uint64_t va, uint64_t len)
{
    if (range_take(lx, va, len) < 0)
        return; /* cannot split: the range is simply not reused */
    uint32_t i = 0;
    while (i < lx->nfree && lx->free[i].va < va)
        i++;
    if (i > 0 && lx->free[i - 1].va + lx->free[i - 1].len == va) {
        i--;
        lx->free[i].len += len;
    } else {
        if (lx->nfree == LX_NRANGES) {
            lx_log(in, "zerg: linux: more than %d free ranges in the mmap area; one is not reused",
                   LX_NRANGES);
            return;
        }
        memmove(&lx->free[i + 1], &lx->free[i], (lx->nfree - i) * sizeof(lx->free[0]));
        lx->nfree++;
        lx->free[i] = (struct lx_range){va, len};
    }
    if (i + 1 < lx->nfree && lx->free[i].va + lx->free[i].len == lx->free[i + 1].va) {
        lx->free[i].len += lx->free[i + 1].len;
        range_del_at(lx, i + 1);
    }
    if (lx->nfree && lx->free[lx->nfree - 1].va + lx->free[lx->nfree - 1].len == lx->mmap_top) {
        lx->mmap_top = lx->free[lx->nfree - 1].va;
        lx->nfree--;
    }
}

/* A new range of len bytes (page multiple): 0 if the area is full. */
static uint64_t range_alloc(struct zg_instance *in, struct lx_state *lx, uint64_t len)
{
    for (uint32_t i = 0; i < lx->nfree; i++) {
        struct lx_range *r = &lx->free[i];
        if (r->len < len)
            continue;
        uint64_t va = r->va;
        r->va += len;
        r->len -= len;
        if (!r->len)
            range_del_at(lx, i);
        if (zero_range(in, va, len) < 0)
            return 0;
        return va;
    }
    uint64_t end = ZG_LINUX_MMAP_VA + lx_area_size(&lx->l);
    if (len > end - lx->mmap_top)
        return 0;
    uint64_t va = lx->mmap_top;
    return set_top(in, lx, va + len) < 0 ? 0 : va;
}

static int in_area(const struct lx_state *lx, uint64_t va, uint64_t len)
{
    uint64_t size = lx_area_size(&lx->l);
    return va >= ZG_LINUX_MMAP_VA && va - ZG_LINUX_MMAP_VA <= size &&
           len <= size - (va - ZG_LINUX_MMAP_VA);
}

/* Copies n host bytes to the program's va, a 2 MiB region at a time
 * (regions of the mmap area are backed apart: lx_sparse.c). 0 or -EFAULT. */
static int copy_in(struct zg_instance *in, uint64_t va, const uint8_t *src, uint64_t n)
{
    while (n) {
        uint64_t step = (2ull << 20) - (va & ((2ull << 20) - 1));
        if (step > n)
            step = n;
        uint8_t *p = lx_uwptr(in, va, step);
        if (!p || !src)
            return -EFAULT;
        memcpy(p, src, step);
        va += step, src += step, n -= step;
    }
    return 0;
}

static int64_t map_anon(struct lx_call *c, uint64_t addr, uint64_t len, uint64_t flags);

int64_t lx_sys_mmap(struct lx_call *c)
{
    struct lx_state *lx = c->lx;
    uint64_t addr = c->a[0], len = c->a[1], flags = c->a[3];
    if (!len || len > (1ull << 46) || (addr & (PAGE - 1)))
        return -EINVAL;
    len = PAGEUP(len);
    const struct zg_linux_file *file = NULL;
    uint64_t off = c->a[5];
    if (!(flags & MAP_ANONYMOUS)) {
        file = lx_fd_get(lx, c->a[4]);
        if ((int64_t)c->a[4] < 0 || !file)
            return -EBADF;
        if (file->kind == ZG_LINUX_FD_ZERO)
            file = NULL; /* /dev/zero: anonymous memory */
        else if (file->kind != ZG_LINUX_FD_FILE)
            return -ENODEV;
        else if (off & (PAGE - 1))
            return -EINVAL;
        else if ((flags & MAP_SHARED) && (c->a[2] & PROT_WRITE))
            return -EACCES; /* the view is read-only */
    }
    int64_t va = map_anon(c, addr, len, flags);
    if (va >= 0) /* what was there is gone: no longer code (lx_patch.c) */
        lx_exec_forget(lx, (uint64_t)va, len);
    if (va >= 0 && (flags & MAP_POPULATE) && lx_sparse_populate(c->in, (uint64_t)va, len) < 0) {
        /* more than the instance's memory can back: undone, as Linux fails it */
        range_give(c->in, lx, (uint64_t)va, len);
        lx_sparse_release(c->in, (uint64_t)va, len, 0);
        return -ENOMEM;
    }
    if (va < 0 || !file)
        return va;
    /* A file of the view: its bytes, copied (the view is read-only, so a
     * private and a shared mapping look the same); past its end, zeros. */
    const struct lx_fv_ent *e = lx_fv_ent(c->in, file->ent);
    const uint8_t *data = e ? lx_fv_data(c->in, e) : NULL;
    if (!data)
        return -EIO;
    uint64_t n = off >= e->size ? 0 : (len < e->size - off ? len : e->size - off);
    if (copy_in(c->in, (uint64_t)va, data + off, n) < 0)
        return -EFAULT;
    if (c->a[2] & PROT_EXEC) /* a library's code: its call sites may be rewritten */
        lx_exec_add(lx, (uint64_t)va, n);
    return va;
}

/* The anonymous part of mmap: where the mapping goes, zeroed. */
static int64_t map_anon(struct lx_call *c, uint64_t addr, uint64_t len, uint64_t flags)
{
    struct lx_state *lx = c->lx;
    if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
        if (!in_area(lx, addr, len))
            return -ENOMEM;
        if ((flags & MAP_FIXED_NOREPLACE) && addr < lx->mmap_top) {
            /* Only where nothing is mapped: wholly inside one free range. */
            int free = 0;
            for (uint32_t i = 0; i < lx->nfree; i++)
                if (addr >= lx->free[i].va && addr + len <= lx->free[i].va + lx->free[i].len)
                    free = 1;
            if (!free)
                return -EEXIST;
        }
        if (range_take(lx, addr, len) < 0)
            return -ENOMEM;
        uint64_t old_top = lx->mmap_top;
        /* Below the old top: zeroed here; above it: by set_top. */
        uint64_t zero_end = addr + len < old_top ? addr + len : old_top;
        if (zero_end > addr && zero_range(c->in, addr, zero_end - addr) < 0)
            return -EFAULT;
        if (addr + len > old_top) {
            if (set_top(c->in, lx, addr + len) < 0)
                return -EFAULT;
            if (addr > old_top) /* the gap below becomes free */
                range_give(c->in, lx, old_top, addr - old_top);
        }
        return (int64_t)addr;
    }
    uint64_t va = range_alloc(c->in, lx, len);
    return va ? (int64_t)va : -ENOMEM;
}

int64_t lx_sys_munmap(struct lx_call *c)
{
    struct lx_state *lx = c->lx;
    uint64_t addr = c->a[0], len = c->a[1];
    if ((addr & (PAGE - 1)) || !len || len > (1ull << 46))
        return -EINVAL;
    len = PAGEUP(len);
    if (!in_area(lx, addr, len))
        return 0; /* nothing zerg mapped there (the heap and stack are not unmapped) */
    if (addr >= lx->mmap_top)
        return 0;
    if (addr + len > lx->mmap_top)
        len = lx->mmap_top - addr;
    lx_exec_forget(lx, addr, len);
    range_give(c->in, lx, addr, len);
    lx_sparse_release(c->in, addr, len, 0); /* frames with nothing mapped left go back */
    return 0;
}

int64_t lx_sys_mprotect(struct lx_call *c)
{
    if (c->a[0] & (PAGE - 1))
        return -EINVAL;
    return 0; /* every page stays readable, writable and executable */
}

int64_t lx_sys_mremap(struct lx_call *c)
{
    struct lx_state *lx = c->lx;
    uint64_t old = c->a[0], olen = PAGEUP(c->a[1]), nlen = PAGEUP(c->a[2]), flags = c->a[3];
    if ((old & (PAGE - 1)) || !nlen || (flags & ~3ull) || (flags & 2 /* FIXED */) ||
        c->a[1] > (1ull << 46) || c->a[2] > (1ull << 46))
        return -EINVAL;
    if (!in_area(lx, old, olen) || old + olen > lx->mmap_top)
        return -EFAULT;
    lx_exec_forget(lx, old, olen > nlen ? olen : nlen); /* moved or resized: not code */
    if (nlen <= olen) {
        if (nlen < olen) {
            range_give(c->in, lx, old + nlen, olen - nlen);
            lx_sparse_release(c->in, old + nlen, olen - nlen, 0);
        }
        return (int64_t)old;
    }
    uint64_t grow = nlen - olen, tail = old + olen;
    /* In place: the tail is the top of the area, or a free range. */
    if (tail == lx->mmap_top && in_area(lx, tail, grow))
        return set_top(c->in, lx, tail + grow) < 0 ? -EFAULT : (int64_t)old;
    for (uint32_t i = 0; i < lx->nfree; i++)
        if (lx->free[i].va == tail && lx->free[i].len >= grow) {
            if (range_take(lx, tail, grow) < 0 || zero_range(c->in, tail, grow) < 0)
                return -ENOMEM;
            return (int64_t)old;
        }
    if (!(flags & 1 /* MAYMOVE */))
        return -ENOMEM;
    uint64_t nva = range_alloc(c->in, lx, nlen);
    if (!nva)
        return -ENOMEM;
    /* Moved a piece at a time; pieces never backed stay so (zero anyway). */
    for (uint64_t done = 0; done < olen;) {
        uint64_t s = old + done, d = nva + done, m = 2ull << 20;
        uint64_t step = m - (s & (m - 1));
        if (m - (d & (m - 1)) < step)
            step = m - (d & (m - 1));
        if (step > olen - done)
            step = olen - done;
        if (lx_sparse_backed(c->in, s) && copy_in(c->in, d, lx_uptr(c->in, s, step), step))
            return -EFAULT;
        done += step;
    }
    range_give(c->in, lx, old, olen);
    lx_sparse_release(c->in, old, olen, 0);
    return (int64_t)nva;
}

int64_t lx_sys_madvise(struct lx_call *c)
{
    uint64_t addr = c->a[0], len = PAGEUP(c->a[1]);
    if (addr & (PAGE - 1))
        return -EINVAL;
    if (c->a[2] == MADV_DONTNEED && len) {
        if (in_area(c->lx, addr, len)) { /* backed regions wholly inside go back */
            lx_exec_forget(c->lx, addr, len);
            return lx_sparse_release(c->in, addr, len, 1) < 0 ? -ENOMEM : 0;
        }
        if (!lx_uptr(c->in, addr, len))
            return -ENOMEM;
        lx_exec_forget(c->lx, addr, len);
        return zero_range(c->in, addr, len) < 0 ? -ENOMEM : 0;
    }
    return 0; /* other advice changes nothing a program can see */
}
