/* Unit tests of the Xen backend on real Xen (a dom0): probe, PV domain
 * creation and destruction, guest memory populated by Xen and mapped into
 * the monitor. Skipped outside a dom0; the QEMU rig (tests/xen/) runs them
 * inside one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xenctrl.h>

#include "hypervisor/zg_hv.h"
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
    rc = hv->mem_alloc(vm, MEM, 0, &mem);
    if (rc < 0) {
        hv->vm_destroy(vm);
        ZT_FAILF("mem_alloc: %s", strerror(-rc));
    }
    uint64_t pages = 0;
    ZT_EQ(domain_pages((uint32_t)domid, &pages), 1);
    ZT_TRUE(pages >= MEM / 4096);
    /* Every page is the guest's own: write a pattern, read it back. */
    uint8_t *p = mem;
    for (uint64_t pg = 0; pg < MEM / 4096; pg++)
        memcpy(p + pg * 4096, &pg, sizeof(pg));
    uint64_t bad = 0;
    for (uint64_t pg = 0; pg < MEM / 4096; pg++) {
        uint64_t v;
        memcpy(&v, p + pg * 4096, sizeof(v));
        bad += v != pg;
    }
    ZT_EQ(bad, 0);
    /* What is not built yet says so rather than pretending. */
    struct zg_vcpu_state st;
    ZT_EQ(hv->vcpu_get_state(vm, &st, ZG_VCPU_REGS), -ENOSYS);
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
        int rc = hv->mem_alloc(vm, 4ull << 20, 0, &mem);
        int domid = hv->domain_id(vm);
        hv->vm_destroy(vm);
        if (rc < 0)
            ZT_FAILF("mem_alloc #%d: %s", i, strerror(-rc));
        uint64_t pages;
        if (domain_pages((uint32_t)domid, &pages) != 0)
            ZT_FAILF("domain %d still there after vm_destroy", domid);
    }
}

int main(void)
{
    hv = zg_hv_lookup("xen");
    if (!hv || hv->probe(why, sizeof(why)) < 0) {
        printf("SKIP: test_xen: Xen unavailable: %s\n", hv ? why : "not built in");
        return 0;
    }
    ZT_RUN(create_populate_map_destroy);
    ZT_RUN(many_domains_come_and_go);
    ZT_MAIN_END;
}
