/* Linux personality: the mmap area as sparse address space. Its virtual
 * extent (up to 1023 GiB below the stack) is far larger than the instance's
 * memory; a 2 MiB region of it is backed by a 2 MiB frame of guest-physical
 * memory when it is first touched (by the program: a #PF the monitor sees as
 * a shutdown; by the monitor: lx_uptr), and its frame is free again when the
 * program unmaps all of the region.
 *
 * The tables. Every GiB of the area has its page directory at a fixed place
 * (lx_sparse_plan), linked from the PDPT when the program is loaded and never
 * unlinked: only directory entries (2 MiB leaves) ever change.
 *
 * One frame, one region, until KVM forgets. kvm_pvm's shadow MMU sees a
 * monitor's change of a directory entry from absent to present at once, but
 * not from present to absent or to another frame (/tmp/probe24/q5_remap.c),
 * and a pooled reset puts entries back to absent by copying the tables'
 * pages. Dropping the frame's host pages (madvise, mprotect) is not enough
 * here either: the host backs a 2 MiB guest page with 4 KiB pages, so the
 * shadow keeps a table of its own per frame, linked from the old region's
 * entry and shared by the next region given that frame (measured: a region
 * touched after a reset read the bytes the next region wrote). So a frame,
 * once it backed a region in a VM, backs only that region (frame_owner; a
 * reset keeps the VM's own record, lx_load): what the shadow still holds
 * maps the region to its own frame. A free frame holds zeros (given back:
 * zeroed; at a reset: the template's bytes, zero where it is free), so a
 * region the shadow still maps while the monitor counts it unbacked reads
 * what a new mapping reads, and backing it again keeps what it wrote. When
 * a region needs a frame and only frames of other regions are free, KVM is
 * made to forget all it maps (zg_inst_forget_mappings, ~0.2 ms) and those
 * frames are free for any region (forget).
 *
 * The frames' state (which are used, whose they are) is part of lx_state,
 * so a template carries it and a pooled reset puts it back with the memory. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "linux/lx_int.h"

#define MIB2    (2ull << 20)
#define GIB     (1ull << 30)
#define PTE_P   0x1ull
#define PTE_W   0x2ull
#define PTE_U   0x4ull
#define PTE_PS  0x80ull
#define PTE_GPA 0x000fffffffe00000ull /* a 2 MiB leaf's frame */

void lx_sparse_plan(const struct lx_layout *l, struct lx_sparse *sp)
{
    /* The directories take at most an eighth of the area's memory. */
    uint64_t gib = l->mmap_size / 8 / ZG_PAGE_SIZE;
    if (gib > LX_AREA_GIB)
        gib = LX_AREA_GIB;
    if (!gib)
        gib = 1;
    uint64_t tables = (gib * ZG_PAGE_SIZE + MIB2 - 1) & ~(MIB2 - 1);
    sp->gib = (uint32_t)gib;
    sp->tables_gpa = l->mmap_gpa;
    sp->frames_gpa = l->mmap_gpa + tables;
    uint64_t n = l->mmap_size > tables ? (l->mmap_size - tables) / MIB2 : 0;
    sp->nframes = (uint32_t)(n > LX_NFRAMES ? LX_NFRAMES : n);
}

uint64_t lx_area_size(const struct lx_layout *l)
{
    struct lx_sparse sp;
    lx_sparse_plan(l, &sp);
    return (uint64_t)sp.gib * GIB;
}

int lx_sparse_link(uint8_t *mem, const struct lx_layout *l, uint64_t pdpt_lo, uint64_t pdpt_hi)
{
    struct lx_sparse sp;
    lx_sparse_plan(l, &sp);
    for (uint64_t g = 0; g < sp.gib; g++) {
        uint64_t va = ZG_LINUX_MMAP_VA + g * GIB;
        /* the area spans the last two PML4 entries: 0xfe and 0xff */
        uint64_t pdpt = ((va >> 39) & 511) == ((ZG_LINUX_MMAP_VA >> 39) & 511) ? pdpt_lo : pdpt_hi;
        if (!pdpt)
            return -ENOSPC;
        uint64_t e = (sp.tables_gpa + g * ZG_PAGE_SIZE) | PTE_P | PTE_W | PTE_U;
        memcpy(mem + pdpt + ((va >> 30) & 511) * 8, &e, 8);
    }
    /* Every entry absent: the instance's memory is fresh, all zeros (not
     * written here: 4 MiB of host pages and ~3 ms per boot). */
    return 0;
}

/* ---- Frames ---------------------------------------------------------------- */
static int used(const struct lx_state *lx, uint32_t f)
{
    return (lx->frame_used[f / 64] >> (f % 64)) & 1;
}

static void set_used(struct lx_state *lx, uint32_t f, int on)
{
    if (on) {
        lx->frame_used[f / 64] |= 1ull << (f % 64);
        lx->frames_used++;
    } else {
        lx->frame_used[f / 64] &= ~(1ull << (f % 64));
        lx->frames_used--;
    }
}

/* The directory entry of the area's region r (an index from
 * ZG_LINUX_MMAP_VA, in 2 MiB), as a host pointer. */
static uint64_t *entry_of(struct zg_instance *in, const struct lx_sparse *sp, uint64_t r)
{
    return (uint64_t *)(in->mem + sp->tables_gpa + r * 8);
}

/* The frame backing region r, or -1: none (or an entry that names no frame,
 * which only a damaged template has: it is never trusted as one). */
static int64_t frame_of(struct zg_instance *in, const struct lx_sparse *sp, uint64_t r)
{
    uint64_t e = *entry_of(in, sp, r);
    if (!(e & PTE_P))
        return -1;
    uint64_t gpa = e & PTE_GPA;
    if (!(e & PTE_PS) || gpa < sp->frames_gpa || gpa >= sp->frames_gpa + sp->nframes * MIB2)
        return -2;
    return (int64_t)((gpa - sp->frames_gpa) / MIB2);
}

/* The frame for region r: its own if it had one in this VM, else a free
 * one no region had, next to a neighbour's frame if it can be (a buffer
 * across the two is then one host range: lx_uptr), else the lowest. -1: none
 * left; *held: free frames are left, but held for other regions. */
static int64_t pick(struct zg_instance *in, struct lx_state *lx, const struct lx_sparse *sp,
                    uint64_t r, int *held)
{
    uint64_t nreg = (uint64_t)sp->gib * 512;
    int64_t f, lowest = -1;
    *held = 0;
    for (uint32_t i = 0; i < sp->nframes; i++) {
        if (lx->frame_owner[i] == r + 1)
            return used(lx, i) ? -1 : (int64_t)i;
        if (!used(lx, i)) {
            if (!lx->frame_owner[i] && lowest < 0)
                lowest = i;
            else
                *held = 1;
        }
    }
    if (r > 0 && (f = frame_of(in, sp, r - 1)) >= 0 && f + 1 < sp->nframes && !used(lx, f + 1) &&
        !lx->frame_owner[f + 1])
        return f + 1;
    if (r + 1 < nreg && (f = frame_of(in, sp, r + 1)) > 0 && !used(lx, f - 1) &&
        !lx->frame_owner[f - 1])
        return f - 1;
    return lowest;
}

int lx_sparse_backed(struct zg_instance *in, uint64_t va)
{
    struct lx_sparse sp;
    lx_sparse_plan(&lx_of(in)->l, &sp);
    if (va < ZG_LINUX_MMAP_VA || va - ZG_LINUX_MMAP_VA >= (uint64_t)sp.gib * GIB)
        return 0;
    return frame_of(in, &sp, (va - ZG_LINUX_MMAP_VA) / MIB2) >= 0;
}

/* Is any page of [va, va+len) mapped (below mmap_top, outside the free
 * ranges)? */
static int any_mapped(const struct lx_state *lx, uint64_t va, uint64_t len)
{
    uint64_t end = va + len < lx->mmap_top ? va + len : lx->mmap_top;
    for (uint32_t i = 0; i < lx->nfree && va < end; i++) {
        const struct lx_range *f = &lx->free[i];
        if (f->va + f->len <= va)
            continue;
        if (f->va > va)
            return 1;
        va = f->va + f->len;
    }
    return va < end;
}

static int all_zero(const uint8_t *p, uint64_t n)
{
    static const uint8_t zero[4096];
    for (uint64_t o = 0; o < n; o += sizeof(zero))
        if (memcmp(p + o, zero, sizeof(zero)))
            return 0;
    return 1;
}

/* Frees the free frames of their owners when no region can have one
 * otherwise: KVM forgets all it maps (zg_inst_forget_mappings), so no old
 * mapping of a frame is left anywhere. A free frame the shadow still maps
 * at its region may hold what the program wrote there through that mapping
 * since the last reset (the monitor counts the region unbacked): if it is
 * not zero, the region, still mapped, is backed by it now and keeps it (or,
 * unmapped, the frame is zeroed). The frames that backed a region at the
 * template point keep their owners: a pooled reset maps them there again.
 * 0 or -errno. */
static int forget(struct zg_instance *in, struct lx_state *lx, const struct lx_sparse *sp)
{
    for (uint32_t f = 0; f < sp->nframes; f++) {
        if (used(lx, f) || !lx->frame_owner[f] || ((lx->frame_tmpl[f / 64] >> (f % 64)) & 1))
            continue;
        uint64_t gpa = sp->frames_gpa + (uint64_t)f * MIB2, r = lx->frame_owner[f] - 1;
        if (all_zero(in->mem + gpa, MIB2))
            continue;
        if (frame_of(in, sp, r) == -1 && any_mapped(lx, ZG_LINUX_MMAP_VA + r * MIB2, MIB2)) {
            set_used(lx, f, 1); /* written through the old mapping: the region's */
            *entry_of(in, sp, r) = gpa | PTE_P | PTE_W | PTE_U | PTE_PS;
            zg_guest_mark(in, sp->tables_gpa + r * 8, 8);
        } else {
            memset(zg_guest_wptr(in, gpa, MIB2), 0, MIB2);
        }
    }
    int rc = zg_inst_forget_mappings(in);
    if (rc < 0)
        return rc; /* owners kept: KVM may still map their regions */
    for (uint32_t f = 0; f < sp->nframes; f++)
        if (!used(lx, f) && !((lx->frame_tmpl[f / 64] >> (f % 64)) & 1))
            lx->frame_owner[f] = 0;
    lx->forgot++;
    return 0;
}

/* Region r is backed by free frame f, which becomes its own. */
static void map_frame(struct zg_instance *in, struct lx_state *lx, const struct lx_sparse *sp,
                      uint64_t r, uint32_t f)
{
    uint64_t gpa = sp->frames_gpa + (uint64_t)f * MIB2;
    set_used(lx, f, 1);
    lx->frame_owner[f] = (uint32_t)r + 1;
    *entry_of(in, sp, r) = gpa | PTE_P | PTE_W | PTE_U | PTE_PS;
    zg_guest_mark(in, sp->tables_gpa + r * 8, 8);
    lx->backed++;
}

/* Backs region r with a frame. 0, or -ENOMEM: no frame left (*held: free
 * ones are, for other regions, and KVM could not be made to forget). */
static int back(struct zg_instance *in, struct lx_state *lx, const struct lx_sparse *sp, uint64_t r,
                int *held)
{
    int64_t f = pick(in, lx, sp, r, held);
    if (f < 0 && *held && forget(in, lx, sp) == 0)
        f = pick(in, lx, sp, r, held);
    if (f < 0)
        return -ENOMEM;
    map_frame(in, lx, sp, r, (uint32_t)f);
    return 0;
}

/* A buffer over regions r0..r1 (more than one), none backed, none with a
 * frame of its own, all mapped: backed by adjacent free frames no region
 * had, if there are, so that it is one host range. 1 if done. */
static int back_run(struct zg_instance *in, struct lx_state *lx, const struct lx_sparse *sp,
                    uint64_t va, uint64_t len, uint64_t r0, uint64_t r1)
{
    uint64_t n = r1 - r0 + 1;
    for (uint64_t r = r0; r <= r1; r++) {
        uint64_t lo = r == r0 ? va : ZG_LINUX_MMAP_VA + r * MIB2;
        uint64_t hi = r == r1 ? va + len : ZG_LINUX_MMAP_VA + (r + 1) * MIB2;
        if (frame_of(in, sp, r) != -1 || !any_mapped(lx, lo, hi - lo))
            return 0;
    }
    for (uint32_t f = 0; f < sp->nframes; f++)
        if (lx->frame_owner[f] > r0 && lx->frame_owner[f] <= r1 + 1)
            return 0;
    uint64_t run = 0;
    for (uint32_t f = 0; f < sp->nframes; f++) {
        run = used(lx, f) || lx->frame_owner[f] ? 0 : run + 1;
        if (run == n) {
            for (uint64_t i = 0; i < n; i++)
                map_frame(in, lx, sp, r0 + i, (uint32_t)(f + 1 - n + i));
            return 1;
        }
    }
    return 0;
}

int lx_sparse_fault(struct zg_instance *in, uint64_t addr, struct zg_run_result *res)
{
    struct lx_state *lx = lx_of(in);
    struct lx_sparse sp;
    lx_sparse_plan(&lx->l, &sp);
    if (addr < ZG_LINUX_MMAP_VA || addr - ZG_LINUX_MMAP_VA >= (uint64_t)sp.gib * GIB)
        return 0;
    uint64_t r = (addr - ZG_LINUX_MMAP_VA) / MIB2;
    if (frame_of(in, &sp, r) != -1 || !any_mapped(lx, addr & ~(ZG_PAGE_SIZE - 1), ZG_PAGE_SIZE))
        return 0; /* backed already, or nothing mapped there: a fault of the program's */
    int held;
    if (back(in, lx, &sp, r, &held) == 0)
        return 1;
    res->end = ZG_END_MEMORY;
    snprintf(res->why, sizeof(res->why),
             "out of memory: the program touched 0x%llx, and all %u MiB its --mem gives "
             "mappings are in use%s",
             (unsigned long long)addr, (unsigned)(sp.nframes * 2),
             held ? " (or held for the regions it had at the template point)" : "");
    return -1;
}

uint8_t *lx_sparse_ptr(struct zg_instance *in, uint64_t va, uint64_t len)
{
    struct lx_state *lx = lx_of(in);
    struct lx_sparse sp;
    lx_sparse_plan(&lx->l, &sp);
    uint64_t off = va - ZG_LINUX_MMAP_VA, size = (uint64_t)sp.gib * GIB;
    if (va < ZG_LINUX_MMAP_VA || off > size || len > size - off || !len)
        return NULL;
    uint64_t r0 = off / MIB2, r1 = (off + len - 1) / MIB2;
    if (r1 - r0 >= sp.nframes)
        return NULL; /* more than --mem could ever back */
    if (r1 > r0)
        back_run(in, lx, &sp, va, len, r0, r1);
    int64_t first = -1;
    for (uint64_t r = r0; r <= r1; r++) {
        int64_t f = frame_of(in, &sp, r);
        if (f == -1) { /* not backed yet: backed now if the program mapped it */
            uint64_t lo = r == r0 ? va : ZG_LINUX_MMAP_VA + r * MIB2;
            uint64_t hi = r == r1 ? va + len : ZG_LINUX_MMAP_VA + (r + 1) * MIB2;
            int held;
            if (!any_mapped(lx, lo, hi - lo) || back(in, lx, &sp, r, &held) < 0)
                return NULL;
            f = frame_of(in, &sp, r);
        }
        if (f < 0 || (r > r0 && f != first + (int64_t)(r - r0))) {
            if (f >= 0)
                lx_log(in,
                       "zerg: linux: a buffer at 0x%llx (%llu bytes) spans 2 MiB regions "
                       "backed by frames apart; refused (EFAULT)",
                       (unsigned long long)va, (unsigned long long)len);
            return NULL;
        }
        if (r == r0)
            first = f;
    }
    return in->mem + sp.frames_gpa + (uint64_t)first * MIB2 + off % MIB2;
}

/* Gives region r's frame back (the program unmapped all of the region):
 * zeroed, as free frames are; a fresh VM's memory (anonymous) gives the
 * host its pages back, a restored one's are the template's file again only
 * at a reset. The frame stays the region's (frame_owner). */
static void unback(struct zg_instance *in, struct lx_state *lx, const struct lx_sparse *sp,
                   uint64_t r)
{
    int64_t f = frame_of(in, sp, r);
    if (f < 0)
        return;
    *entry_of(in, sp, r) = 0;
    zg_guest_mark(in, sp->tables_gpa + r * 8, 8);
    uint64_t gpa = sp->frames_gpa + (uint64_t)f * MIB2;
    if (in->cfg.image_fd < 0)
        madvise(in->mem + gpa, MIB2, MADV_DONTNEED);
    else
        memset(zg_guest_wptr(in, gpa, MIB2), 0, MIB2);
    set_used(lx, (uint32_t)f, 0);
    lx->unbacked++;
}

/* lx_sparse_release's work on region r, which [va, va+len) overlaps. */
static void release_region(struct zg_instance *in, struct lx_state *lx, const struct lx_sparse *sp,
                           uint64_t r, uint64_t va, uint64_t len, int zero)
{
    int64_t f = frame_of(in, sp, r);
    if (f < 0)
        return; /* nothing there to zero or give back */
    uint64_t rlo = ZG_LINUX_MMAP_VA + r * MIB2, rhi = rlo + MIB2;
    uint64_t lo = va > rlo ? va : rlo, hi = va + len < rhi ? va + len : rhi;
    if ((lo == rlo && hi == rhi) || !any_mapped(lx, rlo, MIB2)) {
        unback(in, lx, sp, r); /* nothing of it kept: the frame goes back */
        return;
    }
    if (zero)
        memset(zg_guest_wptr(in, sp->frames_gpa + (uint64_t)f * MIB2 + (lo - rlo), hi - lo), 0,
               hi - lo);
}

int lx_sparse_release(struct zg_instance *in, uint64_t va, uint64_t len, int zero)
{
    struct lx_state *lx = lx_of(in);
    struct lx_sparse sp;
    lx_sparse_plan(&lx->l, &sp);
    uint64_t size = (uint64_t)sp.gib * GIB;
    if (!len || va < ZG_LINUX_MMAP_VA || va - ZG_LINUX_MMAP_VA > size ||
        len > size - (va - ZG_LINUX_MMAP_VA))
        return -EFAULT;
    uint64_t off = va - ZG_LINUX_MMAP_VA, r0 = off / MIB2, r1 = (off + len - 1) / MIB2;
    if (r1 - r0 < sp.nframes) {
        for (uint64_t r = r0; r <= r1; r++)
            release_region(in, lx, &sp, r, va, len, zero);
        return 0;
    }
    /* A range larger than the frames: the backed regions are those of the
     * frames in use (a reservation of 1 TiB is not walked 2 MiB at a time). */
    for (uint32_t f = 0; f < sp.nframes; f++)
        if (used(lx, f) && lx->frame_owner[f] > r0 && lx->frame_owner[f] <= r1 + 1)
            release_region(in, lx, &sp, lx->frame_owner[f] - 1, va, len, zero);
    return 0;
}

int lx_sparse_populate(struct zg_instance *in, uint64_t va, uint64_t len)
{
    struct lx_state *lx = lx_of(in);
    struct lx_sparse sp;
    lx_sparse_plan(&lx->l, &sp);
    uint64_t off = va - ZG_LINUX_MMAP_VA, need = 0, have = 0;
    uint64_t r0 = off / MIB2, r1 = (off + len - 1) / MIB2;
    if (r1 - r0 >= sp.nframes)
        return -ENOMEM; /* more than --mem could ever back */
    /* Regions without a frame of their own need one no region had. */
    for (uint64_t r = r0; r <= r1; r++) {
        if (frame_of(in, &sp, r) != -1)
            continue;
        int own = 0;
        for (uint32_t i = 0; i < sp.nframes && !own; i++)
            own = lx->frame_owner[i] == r + 1;
        need += !own;
    }
    /* Frames held for regions unmapped since are free once KVM forgets. */
    for (uint32_t i = 0; i < sp.nframes; i++)
        have += !used(lx, i) && !((lx->frame_tmpl[i / 64] >> (i % 64)) & 1);
    if (need > have)
        return -ENOMEM;
    int held;
    for (uint64_t r = r0; r <= r1; r++)
        if (frame_of(in, &sp, r) == -1 && back(in, lx, &sp, r, &held) < 0)
            return -ENOMEM;
    return 0;
}

void lx_sparse_keep_owners(struct lx_state *s, const struct lx_state *old)
{
    for (uint32_t f = 0; f < LX_NFRAMES; f++)
        if (!used(s, f))
            s->frame_owner[f] = old->frame_owner[f];
}

/* ---- Templates ------------------------------------------------------------------ */
const char *lx_sparse_check(const struct lx_state *s)
{
    struct lx_sparse sp;
    lx_sparse_plan(&s->l, &sp);
    uint32_t n = 0;
    for (uint32_t f = 0; f < LX_NFRAMES; f++) {
        if (f >= sp.nframes ? s->frame_owner[f] != 0 : s->frame_owner[f] > (uint64_t)sp.gib * 512)
            return "mmap frames";
        if (!used(s, f))
            continue;
        if (f >= sp.nframes || !s->frame_owner[f])
            return "mmap frames";
        n++;
    }
    if (n != s->frames_used)
        return "mmap frames";
    for (unsigned i = 0; i < LX_NFRAMES / 64; i++)
        if (s->frame_tmpl[i] != s->frame_used[i])
            return "mmap frames"; /* lx_save: the frames in use at the template point */
    return NULL;
}
