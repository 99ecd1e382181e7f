/* Linux personality: rewritten call sites (docs/abi.md, "Rewritten call
 * sites").
 *
 * On the PVM flavour of KVM the `syscall` instruction itself traps into the
 * host (~24 µs) before the guest-side entry runs, and then the entry exits to
 * the monitor. A call site of the usual shape
 *
 *     b8 NN NN NN NN   mov $NR, %eax
 *     0f 05            syscall
 *
 * is rewritten, the first time it traps, into the same seven bytes
 *
 *     b9 SS SS SS SS   mov $STUB, %ecx     (RCX: clobbered by `syscall` too)
 *     ff e1            jmp *%rcx
 *
 * where STUB is a stub of this site in the runtime area that sets EAX = NR
 * and RCX = the site's return address and jumps to the fast entry
 * (linux/rt/entry.S, at a fixed offset of the runtime): the call then costs one exit and no trap.
 * Nothing is pushed on the program's stack (its red zone stays untouched) and only RAX, RCX and R11
 * change, as with `syscall`.
 *
 * Where: only in executable code the loader mapped (lx_state.exec): the
 * executable PT_LOAD segments of the program and its interpreter, and the
 * executable mappings of the view's files in the mmap area (the shared
 * libraries of a dynamic program). Never in data (.data, .rodata, the heap,
 * the stack, anonymous memory), whatever bytes it holds: a program that
 * executes data shaped like a site, or that names one in a frame it made
 * itself, gets its call served and its bytes left as they are.
 *
 * Why this is safe enough to do: the site just executed a `syscall` that ended
 * at RIP, and the five bytes before it are `mov $imm32, %eax` with imm32
 * equal to the number the call carried in RAX. The one case it would break
 * is a jump into the middle of the pair (to the `syscall` with another EAX);
 * compilers put the number right before the instruction, and a site of
 * another shape (`xor %eax,%eax; syscall`, `mov %edx,%eax; syscall`) is left
 * as it is and keeps trapping. What the monitor cannot verify: that a
 * `syscall` was executed at all. The guest-side entry runs at the program's
 * own privilege (CPL3), so the frame and its RIP are the program's word: a
 * program can name any seven bytes of that shape in its own executable code,
 * even inside another instruction, and have them rewritten, as if it had
 * jumped there.
 *
 * Stubs live in a table of ZG_LINUX_STUB_SIZE / ZG_LINUX_STUB_BYTES slots
 * indexed by a hash of the site, so finding a site's stub needs no state
 * outside guest memory. The program can write the table (it shares the
 * entry's privilege): the monitor only ever writes it, within its bounds,
 * and a program that scribbles on it only breaks its own calls.
 *
 * A pooled VM keeps what it learned, in the template's code only: a reset
 * copies the template's pages back (the rewritten code pages among them,
 * since writing them made them the VM's own; the stubs too) and puts the
 * template's state back, lx->exec with it; the state load that follows
 * (lx_load) rewrites again the sites the VM learned after its template point
 * (the list the monitor kept in host memory, lx_state.learned) that lie in
 * the template's own executable code and read `mov $nr,%eax; syscall` in the
 * template's bytes there. After a reset a pooled VM is its template byte for
 * byte but for those sites and their stubs: the rewrite a fresh VM makes of
 * the same code the first time it runs it (docs/security.md). Sites in code
 * mapped after the template point (a library loaded by a request) are not
 * rewritten again; a fresh restore starts from the template and learns its
 * sites again.
 */
#include <string.h>

#include "linux/lx_int.h"

#define NSLOTS (ZG_LINUX_STUB_SIZE / ZG_LINUX_STUB_BYTES)

static unsigned slot_of(uint64_t site)
{
    return (unsigned)((site * 0x9e3779b97f4a7c15ull) >> 40) % NSLOTS;
}

/* The return address a stub encodes (see write_stub), or 0 for a free slot. */
static uint64_t stub_ret(const uint8_t *s)
{
    if (s[0] != 0xb8 || s[5] != 0x48 || s[6] != 0xb9)
        return 0;
    uint64_t ret;
    memcpy(&ret, s + 7, 8);
    return ret;
}

static void write_stub(uint8_t *s, uint64_t stub_gpa, uint32_t nr, uint64_t ret)
{
    int32_t rel = (int32_t)(int64_t)(ZG_LINUX_ENTRY_FAST - (stub_gpa + 20));
    memset(s, 0xcc, ZG_LINUX_STUB_BYTES); /* int3 after the jump */
    s[0] = 0xb8;                          /* mov $nr, %eax */
    memcpy(s + 1, &nr, 4);
    s[5] = 0x48, s[6] = 0xb9; /* movabs $ret, %rcx */
    memcpy(s + 7, &ret, 8);
    s[15] = 0xe9; /* jmp fast */
    memcpy(s + 16, &rel, 4);
}

static int patch(struct zg_instance *in, struct lx_state *lx, uint64_t rip, uint64_t nr)
{
    if (!lx->rewrite || nr >= LX_NSYSCALL || !lx_code_site(lx, rip))
        return 0;
    uint64_t site = rip - 7;
    const uint8_t *p = lx_uptr(in, site, 7);
    if (!p || !zg_linux_site_rewritable(p, nr))
        return 0;
    uint32_t imm = (uint32_t)nr;
    unsigned first = slot_of(site);
    for (unsigned k = 0; k < NSLOTS; k++) {
        unsigned i = (first + k) % NSLOTS;
        uint64_t gpa = ZG_LINUX_STUB_GPA + (uint64_t)i * ZG_LINUX_STUB_BYTES;
        uint8_t *s = zg_guest_wptr(in, gpa, ZG_LINUX_STUB_BYTES);
        if (!s)
            return 0;
        uint64_t r = stub_ret(s);
        if (r && r != rip)
            continue; /* another site's */
        if (!r) {
            if (s[0] != 0)
                continue; /* neither free nor a stub: left alone */
            write_stub(s, gpa, imm, rip);
        } else if (memcmp(s + 1, &imm, 4) != 0) {
            continue;
        }
        uint32_t target = (uint32_t)gpa;
        uint8_t *w = lx_uwptr(in, site, 7); /* the same bytes as p, recorded as written */
        w[0] = 0xb9;                        /* mov $stub, %ecx */
        memcpy(w + 1, &target, 4);
        w[5] = 0xff, w[6] = 0xe1; /* jmp *%rcx */
        return 1;
    }
    return 0; /* the table is full: the site keeps trapping */
}

void lx_code_ranges(const struct lx_state *lx, uint64_t r[2][2])
{
    const struct lx_layout *l = &lx->l;
    r[0][0] = l->image_lo + 7, r[0][1] = l->image_hi + 1;
    r[1][0] = ZG_LINUX_MMAP_VA + 7, r[1][1] = ZG_LINUX_MMAP_VA + lx_area_size(l) + 1;
}

int lx_code_site(const struct lx_state *lx, uint64_t rip)
{
    for (uint32_t i = 0; i < lx->nexec && i < LX_NEXEC; i++) {
        const struct lx_range *r = &lx->exec[i];
        if (rip >= r->va + 7 && rip - r->va <= r->len)
            return 1;
    }
    return 0;
}

void lx_exec_forget(struct lx_state *lx, uint64_t va, uint64_t len)
{
    uint64_t end = va + len < va ? UINT64_MAX : va + len;
    uint32_t n = lx->nexec < LX_NEXEC ? lx->nexec : LX_NEXEC;
    for (uint32_t i = 0; i < n;) {
        struct lx_range *r = &lx->exec[i];
        uint64_t rend = r->va + r->len;
        if (rend <= va || r->va >= end) {
            i++;
            continue;
        }
        if (r->va < va && rend > end && n < LX_NEXEC) { /* split */
            lx->exec[n++] = (struct lx_range){end, rend - end};
            r->len = va - r->va;
            i++;
        } else if (r->va < va && rend <= end) {
            r->len = va - r->va;
            i++;
        } else if (r->va >= va && rend > end) {
            r->len = rend - end;
            r->va = end;
            i++;
        } else { /* wholly inside, or cannot be split: forgotten */
            lx->exec[i] = lx->exec[--n];
        }
    }
    lx->nexec = n;
}

void lx_exec_add(struct lx_state *lx, uint64_t va, uint64_t len)
{
    if (len < 7 || va + len < va)
        return;
    lx_exec_forget(lx, va, len);
    if (lx->nexec < LX_NEXEC)
        lx->exec[lx->nexec++] = (struct lx_range){va, len};
}

int lx_patch_site(struct zg_instance *in, struct lx_state *lx, uint64_t rip, uint64_t nr)
{
    if (!patch(in, lx, rip, nr))
        return 0;
    lx->rewritten++;
    if (lx->nlearned < LX_NLEARNED)
        lx->learned[lx->nlearned++] = (struct lx_site){.rip = rip, .nr = (uint32_t)nr};
    return 1;
}

void lx_patch_again(struct zg_instance *in, struct lx_state *lx)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < lx->nlearned && i < LX_NLEARNED; i++)
        if (patch(in, lx, lx->learned[i].rip, lx->learned[i].nr))
            lx->learned[n++] = lx->learned[i];
    lx->nlearned = n;
}
