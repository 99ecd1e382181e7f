/* Unit tests: the entry layout (page tables, GDT, TSS I/O bitmap, boot info). */
#include <errno.h>
#include <stdlib.h>

#include "monitor/zg_monitor_int.h"
#include "tests/zt.h"

#define MEM (64ull << 20)

static uint8_t *mem;
static struct zg_vcpu_state st;

static uint64_t rd64(uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, mem + gpa, 8);
    return v;
}

/* Walks the 4-level tables like the CPU; returns the physical address, or
 * UINT64_MAX if not present. *user / *write: the effective U/S and R/W. */
static uint64_t walk(uint64_t va, int *user, int *write)
{
    uint64_t table = st.sregs.cr3 & ~0xfffull;
    *user = *write = 1;
    for (int level = 3; level >= 0; level--) {
        uint64_t e = rd64(table + ((va >> (12 + 9 * level)) & 511) * 8);
        if (!(e & 1))
            return UINT64_MAX;
        *user &= (e >> 2) & 1;
        *write &= (e >> 1) & 1;
        uint64_t frame = e & 0x000ffffffffff000ull;
        if (level == 1 && (e & 0x80))
            return (frame & ~0x1fffffull) | (va & 0x1fffff);
        if (level == 0)
            return frame | (va & 0xfff);
        table = frame;
    }
    return UINT64_MAX;
}

ZT_TEST(identity_map_and_protections)
{
    memset(mem, 0xee, MEM);
    ZT_EQ(zg_layout_build(mem, MEM, 0x180000, 0x100000, "a b", &st), 0);
    int u, w;
    ZT_EQ(walk(0, &u, &w), UINT64_MAX); /* NULL page unmapped */
    ZT_EQ(walk(0xfff, &u, &w), UINT64_MAX);
    uint64_t addrs[] = {0x100000, 0x1fffff, 0x200000, 0x123456, 0x2345678, MEM - 1};
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        ZT_EQ(walk(addrs[i], &u, &w), addrs[i]);
        ZT_TRUE(u && w);
    }
    ZT_EQ(walk(MEM, &u, &w), UINT64_MAX); /* nothing past guest memory */
    ZT_EQ(walk(ZG_LAYOUT_PML4, &u, &w), ZG_LAYOUT_PML4);
    ZT_TRUE(!u); /* page tables are supervisor-only */
    ZT_EQ(walk(ZG_LAYOUT_GDT, &u, &w), ZG_LAYOUT_GDT);
    ZT_TRUE(!u);
    ZT_EQ(walk(ZG_BOOT_INFO_GPA, &u, &w), ZG_BOOT_INFO_GPA);
    ZT_TRUE(u && !w); /* boot info: user read-only */
    ZT_EQ(walk(0xa000, &u, &w), 0xa000);
    ZT_TRUE(!u);
}

ZT_TEST(entry_state)
{
    ZT_EQ(zg_layout_build(mem, MEM, 0x180000, 0x100123, "a b", &st), 0);
    ZT_EQ(st.regs.rip, 0x100123);
    ZT_EQ(st.regs.rsp, MEM);
    ZT_EQ(st.regs.rdi, ZG_BOOT_INFO_GPA);
    ZT_EQ((st.regs.rflags >> 12) & 3, 3); /* IOPL 3 */
    ZT_EQ(st.regs.rflags & 0x200, 0);     /* interrupts off */
    ZT_EQ(st.sregs.cs.dpl, 3);
    ZT_EQ(st.sregs.cs.l, 1);
    ZT_EQ(st.sregs.cs.selector & 3, 3);
    ZT_EQ(st.sregs.ss.dpl, 3);
    ZT_EQ(st.sregs.efer & 0x500, 0x500);
    ZT_TRUE(st.sregs.cr0 & 0x80000000ull);
    ZT_TRUE(st.sregs.cr4 & 0x200); /* OSFXSR: SSE usable */
    /* The GDT descriptors behind CS and SS say DPL 3, present, 64-bit code. */
    uint64_t cs = rd64(ZG_LAYOUT_GDT + (st.sregs.cs.selector & ~7u));
    uint64_t ss = rd64(ZG_LAYOUT_GDT + (st.sregs.ss.selector & ~7u));
    ZT_EQ((cs >> 45) & 3, 3);
    ZT_EQ((cs >> 47) & 1, 1);
    ZT_EQ((cs >> 53) & 1, 1);
    ZT_EQ((ss >> 45) & 3, 3);
}

static int port_allowed(uint32_t port)
{
    uint16_t iomap;
    memcpy(&iomap, mem + st.sregs.tr.base + 102, 2);
    if (iomap + port / 8 > st.sregs.tr.limit)
        return 0;
    return !((mem[st.sregs.tr.base + iomap + port / 8] >> (port % 8)) & 1);
}

ZT_TEST(tss_io_bitmap_allows_only_hypercall_ports)
{
    ZT_EQ(zg_layout_build(mem, MEM, 0x180000, 0x100000, "", &st), 0);
    for (uint32_t p = 0; p < 0x10000; p++) {
        int want = p >= ZG_HC_PORT_BASE && p <= ZG_HC_PORT_MAX + 3; /* outl at MAX */
        if (port_allowed(p) != want)
            ZT_FAILF("port 0x%x allowed=%d", p, port_allowed(p));
    }
}

ZT_TEST(boot_info)
{
    ZT_EQ(zg_layout_build(mem, MEM, 0x180001, 0x100000, "--dataset-mib 4", &st), 0);
    struct zg_boot_info bi;
    memcpy(&bi, mem + ZG_BOOT_INFO_GPA, sizeof(bi));
    ZT_EQ(bi.abi_version, ZG_ABI_VERSION);
    ZT_EQ(bi.mem_size, MEM);
    ZT_EQ(bi.heap_start, 0x181000); /* page aligned up */
    ZT_EQ(bi.heap_end, MEM - ZG_STACK_SIZE);
    ZT_EQ(bi.stack_top, MEM);
    ZT_EQ(bi.cmdline_len, 15);
    ZT_STREQ((const char *)mem + bi.cmdline, "--dataset-mib 4");
}

ZT_TEST(refuses_bad_sizes)
{
    ZT_EQ(zg_layout_build(mem, 3ull << 20, 0x180000, 0x100000, "", &st), -EINVAL);
    ZT_EQ(zg_layout_build(mem, MEM + 4096, 0x180000, 0x100000, "", &st), -EINVAL);
    ZT_EQ(zg_layout_build(mem, MEM, MEM, 0x100000, "", &st), -ENOSPC);
    char *big = malloc(ZG_CMDLINE_MAX + 1);
    memset(big, 'x', ZG_CMDLINE_MAX);
    big[ZG_CMDLINE_MAX] = '\0';
    ZT_EQ(zg_layout_build(mem, MEM, 0x180000, 0x100000, big, &st), -E2BIG);
    big[ZG_CMDLINE_MAX - 1] = '\0';
    ZT_EQ(zg_layout_build(mem, MEM, 0x180000, 0x100000, big, &st), 0);
    free(big);
}

/* The Xen PV layout: the canonical tables (4 KiB pages only) map every
 * guest page identically except page 0, the monitor's low pages (boot info
 * read-only, mailbox and shared info writable) and the page-table region,
 * which nothing maps; no table page is reachable as data. */
ZT_TEST(paravirt_layout)
{
    struct zg_hv_pv_layout l;
    zg_layout_pv_plan(MEM, &l);
    l.port = 7;
    ZT_EQ(l.pt_end, MEM - ZG_STACK_SIZE);
    ZT_EQ((l.pt_end - l.pt_start) / ZG_PAGE_SIZE, 2 + 1 + MEM / ZG_MEM_ALIGN);
    memset(mem, 0x5a, MEM);
    ZT_EQ(zg_layout_build_pv(mem, &l, 0x105000, 0x100000, "a b", &st), 0);
    ZT_EQ(st.sregs.cr3, l.l4_gpa);
    ZT_EQ(st.regs.rip, 0x100000);
    ZT_EQ(st.regs.rsp, MEM);
    int user, write, bad = 0;
    for (uint64_t a = 0; a < MEM; a += ZG_PAGE_SIZE) {
        uint64_t pa = walk(a, &user, &write);
        int want_mapped = a >= ZG_GUEST_LOAD_MIN ? !(a >= l.pt_start && a < l.pt_end)
                                                 : (a == ZG_BOOT_INFO_GPA || a == l.mailbox_gpa ||
                                                    a == l.shared_info_gpa);
        if (want_mapped != (pa != UINT64_MAX) || (want_mapped && pa != a) ||
            (want_mapped && write != (a != ZG_BOOT_INFO_GPA)))
            bad++;
    }
    ZT_EQ(bad, 0);
    /* No 2 MiB pages anywhere (Xen PV refuses them). */
    int ps = 0;
    for (uint64_t a = l.pt_start; a < l.pt_end; a += 8)
        ps += (rd64(a) & 0x81) == 0x81 && a < l.pt_start + (2 + 1) * ZG_PAGE_SIZE;
    ZT_EQ(ps, 0);
    struct zg_boot_info bi;
    memcpy(&bi, mem + ZG_BOOT_INFO_GPA, sizeof(bi));
    ZT_EQ(bi.flags, ZG_BOOT_XEN_PV);
    ZT_EQ(bi.xen_port, 7);
    ZT_EQ(bi.xen_mailbox, l.mailbox_gpa);
    ZT_EQ(bi.xen_shared_info, l.shared_info_gpa);
    ZT_EQ(bi.heap_start, 0x105000);
    ZT_EQ(bi.heap_end, l.pt_start);
    ZT_EQ(bi.stack_top, MEM);
    /* An image that reaches into the table region leaves no heap. */
    ZT_EQ(zg_layout_build_pv(mem, &l, l.pt_start + 1, 0x100000, "", &st), -ENOSPC);
}

int main(void)
{
    mem = malloc(MEM);
    ZT_RUN(identity_map_and_protections);
    ZT_RUN(entry_state);
    ZT_RUN(tss_io_bitmap_allows_only_hypercall_ports);
    ZT_RUN(boot_info);
    ZT_RUN(refuses_bad_sizes);
    ZT_RUN(paravirt_layout);
    free(mem);
    ZT_MAIN_END;
}
