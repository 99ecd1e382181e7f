/* Unit tests of the Xen backend on real Xen (a dom0): probe, PV domain
 * creation and destruction, guest memory populated by Xen and mapped into
 * the monitor. Skipped outside a dom0; the QEMU rig (tests/xen/) runs them
 * inside one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xenctrl.h>

#include "hypervisor/zg_hv.h"
#include "monitor/zg_monitor_int.h"
#include "tests/zt.h"

#define MEM (8ull << 20)

static const struct zg_hv_ops *hv;
static char why[160];

/* The domain's state as Xen reports it: 1 found (pages filled), 0 gone. */
static int domain_pages(uint32_t domid, uint64_t *pages)
{
    xc_interface *xc = xc_interface_open(NULL, NULL, 0);
    if (!xc)
        return -1;
    xc_domaininfo_t info;
    int n = xc_domain_getinfolist(xc, domid, 1, &info);
    xc_interface_close(xc);
    if (n == 1 && info.domain == domid && !(info.flags & XEN_DOMINF_dying)) {
        *pages = info.tot_pages;
        return 1;
    }
    return 0;
}

ZT_TEST(create_populate_map_destroy)
{
    struct zg_hv_vm *vm;
    int rc = hv->vm_create(&vm);
    if (rc < 0)
        ZT_FAILF("vm_create: %s", strerror(-rc));
    int domid = hv->domain_id(vm);
    ZT_TRUE(domid > 0);
    void *mem = NULL;
    struct zg_hv_pv_layout lay;
    zg_layout_pv_plan(MEM, &lay);
    rc = hv->mem_alloc(vm, &lay, 0, &mem);
    if (rc < 0) {
        hv->vm_destroy(vm);
        ZT_FAILF("mem_alloc: %s", strerror(-rc));
    }
    uint64_t pages = 0;
    ZT_EQ(domain_pages((uint32_t)domid, &pages), 1);
    ZT_TRUE(pages >= MEM / 4096);
    ZT_TRUE(lay.port > 0);
    /* Fresh memory from Xen is zero (the restorer copies only non-zero
     * pages), and every page is the guest's own: write a pattern, read it
     * back. */
    uint8_t *p = mem;
    uint64_t nonzero = 0;
    for (uint64_t i = 0; i < MEM; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        nonzero += v != 0;
    }
    ZT_EQ(nonzero, 0);
    for (uint64_t pg = 0; pg < MEM / 4096; pg++)
        memset(p + pg * 4096, (int)(pg & 0xff) | 1, 4096);
    uint64_t bad = 0;
    for (uint64_t pg = 0; pg < MEM / 4096; pg++)
        bad += p[pg * 4096 + 4095] != ((pg & 0xff) | 1);
    ZT_EQ(bad, 0);
    /* No vCPU context yet: nothing to read or run; no dirty log on Xen. */
    struct zg_vcpu_state st;
    struct zg_hv_exit ex;
    ZT_EQ(hv->vcpu_get_state(vm, &st, ZG_VCPU_REGS), -EINVAL);
    ZT_EQ(hv->run(vm, &ex), -EINVAL);
    uint64_t bitmap[64];
    ZT_EQ(hv->dirty_log(vm, bitmap), -ENOSYS);
    hv->vm_destroy(vm);
    ZT_EQ(domain_pages((uint32_t)domid, &pages), 0);
}

ZT_TEST(many_domains_come_and_go)
{
    for (int i = 0; i < 20; i++) {
        struct zg_hv_vm *vm;
        void *mem;
        if (hv->vm_create(&vm) < 0)
            ZT_FAILF("vm_create #%d failed", i);
        struct zg_hv_pv_layout lay;
        zg_layout_pv_plan(4ull << 20, &lay);
        int rc = hv->mem_alloc(vm, &lay, 0, &mem);
        int domid = hv->domain_id(vm);
        uint64_t dirty = 0;
        if (rc == 0) {
            /* Pages the previous domain filled come back zeroed (scrubbed). */
            uint8_t *p = mem;
            for (uint64_t j = 0; j < (4ull << 20); j += 64)
                dirty += p[j] != 0;
            memset(p, 0xa5, lay.pt_start);
        }
        hv->vm_destroy(vm);
        if (rc < 0)
            ZT_FAILF("mem_alloc #%d: %s", i, strerror(-rc));
        if (dirty)
            ZT_FAILF("domain #%d got %llu non-zero bytes in fresh memory", i,
                     (unsigned long long)dirty);
        uint64_t pages;
        if (domain_pages((uint32_t)domid, &pages) != 0)
            ZT_FAILF("domain %d still there after vm_destroy", domid);
    }
}

/* For the rig's scripts: prints how many domains exist (dom0 included). */
static int count_domains(void)
{
    xc_interface *xc = xc_interface_open(NULL, NULL, 0);
    if (!xc)
        return 1;
    xc_domaininfo_t info[64];
    int n = xc_domain_getinfolist(xc, 0, 64, info), live = 0;
    for (int i = 0; i < n; i++)
        live += !(info[i].flags & XEN_DOMINF_dying);
    xc_interface_close(xc);
    printf("%d\n", live);
    return n < 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--count-domains") == 0)
        return count_domains();
    hv = zg_hv_lookup("xen");
    if (!hv || hv->probe(why, sizeof(why)) < 0) {
        printf("SKIP: test_xen: Xen unavailable: %s\n", hv ? why : "not built in");
        return 0;
    }
    ZT_RUN(create_populate_map_destroy);
    ZT_RUN(many_domains_come_and_go);
    ZT_MAIN_END;
}
