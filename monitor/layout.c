/* zg_monitor: the ABI entry state, built into guest memory and vCPU registers. */
#include <errno.h>
#include <string.h>

#include "monitor/zg_monitor_int.h"

#define PTE_P  0x1ull
#define PTE_W  0x2ull
#define PTE_U  0x4ull
#define PTE_PS 0x80ull

#define CR0_PE          0x1ull
#define CR0_MP          0x2ull
#define CR0_ET          0x10ull
#define CR0_NE          0x20ull
#define CR0_WP          0x10000ull
#define CR0_PG          0x80000000ull
#define CR4_PAE         0x20ull
#define CR4_OSFXSR      0x200ull
#define CR4_OSXMMEXCPT  0x400ull
#define EFER_LME        0x100ull
#define EFER_LMA        0x400ull
#define RFLAGS_RESERVED 0x2ull
#define RFLAGS_IOPL3    0x3000ull

static void put64(uint8_t *mem, uint64_t gpa, uint64_t v)
{
    memcpy(mem + gpa, &v, 8);
}

/* A 64-bit code or data descriptor with the given DPL. */
static uint64_t seg_desc(int code, int dpl)
{
    uint64_t d = 0;
    d |= 0xffffull;                          /* limit 15:0 */
    d |= (uint64_t)(code ? 0xb : 0x3) << 40; /* type: exec/read accessed, or read/write accessed */
    d |= 1ull << 44;                         /* S: code/data */
    d |= (uint64_t)dpl << 45;
    d |= 1ull << 47;                     /* present */
    d |= 0xfull << 48;                   /* limit 19:16 */
    d |= (uint64_t)(code ? 1 : 0) << 53; /* L: 64-bit code */
    d |= (uint64_t)(code ? 0 : 1) << 54; /* D/B for data */
    d |= 1ull << 55;                     /* G */
    return d;
}

static struct zg_segment seg(uint16_t sel, int code)
{
    struct zg_segment s = {0};
    s.base = 0;
    s.limit = 0xffffffff;
    s.selector = sel;
    s.type = code ? 0xb : 0x3;
    s.present = 1;
    s.dpl = 3;
    s.db = code ? 0 : 1;
    s.s = 1;
    s.l = code ? 1 : 0;
    s.g = 1;
    return s;
}

/* GiB of guest memory, rounded up: one page-directory (L2) table each. */
static uint64_t gib_of(uint64_t mem_size)
{
    return (mem_size + (1ull << 30) - 1) >> 30;
}

/* Boot info and command line into their page. */
static void put_boot_info(uint8_t *mem, const struct zg_boot_info *bi, const char *cmdline,
                          size_t cl)
{
    _Static_assert(sizeof(struct zg_boot_info) <= 256, "boot info fits before the cmdline");
    _Static_assert(256 + ZG_CMDLINE_MAX <= ZG_PAGE_SIZE, "cmdline fits in the boot page");
    memcpy(mem + ZG_BOOT_INFO_GPA, bi, sizeof(*bi));
    memcpy(mem + ZG_BOOT_INFO_GPA + 256, cmdline ? cmdline : "", cl + 1);
}

/* The checks both layouts share: memory size, command line, and a heap
 * from the image's end to heap_end. 0 with *cl and *heap_start, or -errno. */
static int check_layout(uint64_t mem_size, const char *cmdline, uint64_t image_end,
                        uint64_t heap_end, size_t *cl, uint64_t *heap_start)
{
    if (mem_size < ZG_MEM_MIN || mem_size > ZG_MEM_MAX || mem_size % ZG_MEM_ALIGN)
        return -EINVAL;
    *cl = cmdline ? strlen(cmdline) : 0;
    if (*cl + 1 > ZG_CMDLINE_MAX)
        return -E2BIG;
    *heap_start = (image_end + ZG_PAGE_SIZE - 1) & ~(uint64_t)(ZG_PAGE_SIZE - 1);
    return *heap_start > heap_end ? -ENOSPC : 0;
}

int zg_layout_build(uint8_t *mem, uint64_t mem_size, uint64_t image_end, uint64_t entry,
                    const char *cmdline, struct zg_vcpu_state *st)
{
    uint64_t stack_top = mem_size;
    uint64_t heap_end = mem_size - ZG_STACK_SIZE, heap_start;
    size_t cl;
    int rc = check_layout(mem_size, cmdline, image_end, heap_end, &cl, &heap_start);
    if (rc < 0)
        return rc;

    /* Page tables: one PML4 entry, one PDPT entry per GiB, 2 MiB pages except
     * the first 2 MiB, which PT0 maps with 4 KiB pages so that page 0 stays
     * unmapped and the monitor's pages stay supervisor-only. */
    memset(mem, 0, 0x10000);
    put64(mem, ZG_LAYOUT_PML4, ZG_LAYOUT_PDPT | PTE_P | PTE_W | PTE_U);
    uint64_t gib = gib_of(mem_size);
    for (uint64_t g = 0; g < gib; g++)
        put64(mem, ZG_LAYOUT_PDPT + g * 8, (ZG_LAYOUT_PD + g * 4096) | PTE_P | PTE_W | PTE_U);
    for (uint64_t a = 0; a < mem_size; a += ZG_MEM_ALIGN) {
        uint64_t pde = ZG_LAYOUT_PD + (a >> 21) * 8;
        if (a == 0)
            put64(mem, pde, ZG_LAYOUT_PT0 | PTE_P | PTE_W | PTE_U);
        else
            put64(mem, pde, a | PTE_P | PTE_W | PTE_U | PTE_PS);
    }
    for (uint64_t a = ZG_PAGE_SIZE; a < ZG_MEM_ALIGN; a += ZG_PAGE_SIZE) {
        uint64_t flags = PTE_P | PTE_W;
        if (a == ZG_BOOT_INFO_GPA)
            flags = PTE_P | PTE_U; /* read-only to the guest */
        else if (a >= ZG_GUEST_LOAD_MIN)
            flags |= PTE_U;
        put64(mem, ZG_LAYOUT_PT0 + (a >> 12) * 8, a | flags);
    }

    /* GDT: null, kernel code, kernel data, user data, user code, TSS (2 slots). */
    put64(mem, ZG_LAYOUT_GDT + 0x08, seg_desc(1, 0));
    put64(mem, ZG_LAYOUT_GDT + 0x10, seg_desc(0, 0));
    put64(mem, ZG_LAYOUT_GDT + 0x18, seg_desc(0, 3));
    put64(mem, ZG_LAYOUT_GDT + 0x20, seg_desc(1, 3));
    /* TSS with an I/O permission bitmap that allows exactly the hypercall
     * ports (for 4-byte accesses). With IOPL=3 hardware never consults it, but a software
     * hypervisor (kvm_pvm) that cannot run the guest with IOPL=3 emulates
     * `out` and checks this bitmap, as the architecture says for IOPL < CPL. */
    uint64_t tss = ZG_LAYOUT_TSS;
    uint16_t iomap = 104;
    /* A 4-byte `out` to port p is checked against the bits of p..p+3. */
    uint32_t last_port = ZG_HC_PORT_MAX + 3;
    uint32_t map_bytes = last_port / 8 + 1;
    uint64_t tss_limit = iomap + map_bytes; /* includes the trailing 0xff byte */
    memcpy(mem + tss + 102, &iomap, 2);
    memset(mem + tss + iomap, 0xff, map_bytes + 1);
    for (uint32_t port = ZG_HC_PORT_BASE; port <= last_port; port++)
        mem[tss + iomap + port / 8] &= (uint8_t) ~(1u << (port % 8));
    uint64_t tss_lo = (tss_limit & 0xffff) | ((tss & 0xffffff) << 16) | (0x9ull << 40) |
                      (1ull << 47) | (((tss >> 24) & 0xff) << 56);
    put64(mem, ZG_LAYOUT_GDT + 0x28, tss_lo);
    put64(mem, ZG_LAYOUT_GDT + 0x30, tss >> 32);

    /* Boot info and command line. */
    struct zg_boot_info bi = {
        .abi_version = ZG_ABI_VERSION,
        .mem_size = mem_size,
        .heap_start = heap_start,
        .heap_end = heap_end,
        .stack_top = stack_top,
        .cmdline = ZG_BOOT_INFO_GPA + 256,
        .cmdline_len = (uint32_t)cl,
    };
    put_boot_info(mem, &bi, cmdline, cl);

    /* vCPU: long mode at CPL3, everything else zero. */
    memset(&st->regs, 0, sizeof(st->regs));
    st->regs.rip = entry;
    st->regs.rsp = stack_top;
    st->regs.rdi = ZG_BOOT_INFO_GPA;
    st->regs.rflags = RFLAGS_RESERVED | RFLAGS_IOPL3;

    struct zg_sregs *s = &st->sregs;
    memset(s, 0, sizeof(*s));
    s->cs = seg(ZG_SEL_CODE, 1);
    s->ss = seg(ZG_SEL_DATA, 0);
    /* Null selectors for the data segments (64-bit mode ignores them); a
     * software hypervisor loads these selectors into the host's GDT. */
    s->ds = s->es = s->fs = s->gs = seg(0, 0);
    s->tr = (struct zg_segment){.base = tss,
                                .limit = (uint32_t)tss_limit,
                                .selector = ZG_SEL_TSS,
                                .type = 0xb,
                                .present = 1};
    s->ldt = (struct zg_segment){.type = 0x2, .unusable = 1};
    s->gdt.base = ZG_LAYOUT_GDT;
    s->gdt.limit = 0x37;
    s->idt.base = 0;
    s->idt.limit = 0;
    s->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    s->cr3 = ZG_LAYOUT_PML4;
    s->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    s->efer = EFER_LME | EFER_LMA;
    return 0;
}

/* ---- Paravirtual (Xen PV) ---------------------------------------------------
 * Xen validates a PV guest's page tables: 4 KiB pages only, and no page that
 * is a page table may be mapped writable. So the tables live in a region of
 * their own at the top of the heap, which the guest does not map at all, and
 * every entry holds a guest frame number (the canonical form, which is also
 * what templates store); the backend translates to machine frames. */
#define PTE_A 0x20ull
#define PTE_D 0x40ull

void zg_layout_pv_plan(uint64_t mem_size, struct zg_hv_pv_layout *l)
{
    uint64_t l1 = mem_size / ZG_MEM_ALIGN; /* one L1 table per 2 MiB */
    uint64_t pt_pages = 1 + 1 + gib_of(mem_size) + l1;
    memset(l, 0, sizeof(*l));
    l->mem_size = mem_size;
    l->pt_end = mem_size - ZG_STACK_SIZE;
    l->pt_start = l->pt_end - pt_pages * ZG_PAGE_SIZE;
    l->l4_gpa = l->pt_start;
    l->l3_gpa = l->l4_gpa + ZG_PAGE_SIZE;
    l->l2_gpa = l->l3_gpa + ZG_PAGE_SIZE;
    l->l1_gpa = l->pt_end - l1 * ZG_PAGE_SIZE;
    l->shared_info_gpa = ZG_LAYOUT_XEN_SHINFO;
    l->mailbox_gpa = ZG_LAYOUT_XEN_MAILBOX;
}

int zg_layout_build_pv(uint8_t *mem, const struct zg_hv_pv_layout *l, uint64_t image_end,
                       uint64_t entry, const char *cmdline, struct zg_vcpu_state *st)
{
    uint64_t mem_size = l->mem_size, heap_start;
    size_t cl;
    int rc = check_layout(mem_size, cmdline, image_end, l->pt_start, &cl, &heap_start);
    if (rc < 0)
        return rc;

    const uint64_t up = PTE_P | PTE_W | PTE_U | PTE_A;
    uint64_t gib = gib_of(mem_size), l3 = l->l3_gpa, l2 = l->l2_gpa, l1 = l->l1_gpa;
    memset(mem + l->pt_start, 0, l->pt_end - l->pt_start);
    memset(mem, 0, 0x10000);
    put64(mem, l->l4_gpa, l3 | up);
    for (uint64_t g = 0; g < gib; g++)
        put64(mem, l3 + g * 8, (l2 + g * ZG_PAGE_SIZE) | up);
    for (uint64_t a = 0; a < mem_size; a += ZG_MEM_ALIGN)
        put64(mem, l2 + (a >> 21) * 8, (l1 + (a >> 21) * ZG_PAGE_SIZE) | up);
    for (uint64_t a = ZG_PAGE_SIZE; a < mem_size; a += ZG_PAGE_SIZE) {
        uint64_t flags = PTE_P | PTE_W | PTE_U | PTE_A | PTE_D;
        if (a == ZG_BOOT_INFO_GPA)
            flags = PTE_P | PTE_U | PTE_A; /* read-only to the guest */
        else if (a < ZG_GUEST_LOAD_MIN && a != l->mailbox_gpa && a != l->shared_info_gpa)
            continue; /* the monitor's */
        else if (a >= l->pt_start && a < l->pt_end)
            continue; /* page tables are never mapped */
        put64(mem, l1 + (a >> 12) * 8, a | flags);
    }

    struct zg_boot_info bi = {
        .abi_version = ZG_ABI_VERSION,
        .flags = ZG_BOOT_XEN_PV,
        .mem_size = mem_size,
        .heap_start = heap_start,
        .heap_end = l->pt_start,
        .stack_top = mem_size,
        .cmdline = ZG_BOOT_INFO_GPA + 256,
        .cmdline_len = (uint32_t)cl,
        .xen_port = l->port,
        .xen_mailbox = l->mailbox_gpa,
        .xen_shared_info = l->shared_info_gpa,
    };
    put_boot_info(mem, &bi, cmdline, cl);

    memset(st, 0, sizeof(*st));
    st->regs.rip = entry;
    st->regs.rsp = mem_size;
    st->regs.rdi = ZG_BOOT_INFO_GPA;
    st->regs.rflags = RFLAGS_RESERVED;
    st->sregs.cr3 = l->l4_gpa;
    st->sregs.efer = EFER_LME | EFER_LMA;
    return 0;
}
