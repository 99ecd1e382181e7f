/* zg_hv: the Xen backend, on libxenctrl and libxenforeignmemory directly (no
 * xenstore, no libxl on any path).
 *
 * State of this backend (issue #6, first increment): probe, PV domain
 * creation and destruction, and guest memory (populated by Xen, mapped into
 * the monitor by foreign mapping through mem_alloc) work and are tested in
 * the QEMU rig (tests/xen/). Running a vCPU needs the PV platform layer of
 * the guest runtime (start_info, hypercall page, event channel), which is
 * not written yet: vcpu_get_state, vcpu_set_state, run, kick and dirty_log
 * return -ENOSYS, so zerg refuses to run a guest on Xen with a clear error
 * instead of pretending. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenctrl.h>
#include <xenforeignmemory.h>

#include "hypervisor/zg_hv.h"

struct zg_hv_vm {
    xc_interface *xc;
    xenforeignmemory_handle *fmem;
    uint32_t domid;
    int created;
    void *map; /* the guest's memory, mapped by foreign mapping */
    uint64_t pages;
    xen_pfn_t *frames; /* machine frame of each guest page (PV: not translated) */
};

/* Where the privileged command interface lives in a Linux dom0. */
static const char *privcmd_path(void)
{
    if (access("/dev/xen/privcmd", R_OK | W_OK) == 0)
        return "/dev/xen/privcmd";
    if (access("/proc/xen/privcmd", R_OK | W_OK) == 0)
        return "/proc/xen/privcmd";
    return NULL;
}

/* libxenctrl logs every failure to stderr by default: zerg reports errors
 * itself, so only critical messages get through. */
static xentoollog_logger *quiet_logger(void)
{
    static xentoollog_logger_stdiostream *lg;
    if (!lg)
        lg = xtl_createlogger_stdiostream(stderr, XTL_CRITICAL, 0);
    return (xentoollog_logger *)lg;
}

static int xen_probe(char *detail, size_t detail_len)
{
    if (!privcmd_path()) {
        snprintf(detail, detail_len,
                 "not a Xen dom0: no /dev/xen/privcmd (load xen-privcmd, mount xenfs)");
        return access("/dev/xen/privcmd", F_OK) == 0 ? -EACCES : -ENOENT;
    }
    xc_interface *xc = xc_interface_open(quiet_logger(), quiet_logger(), 0);
    if (!xc) {
        snprintf(detail, detail_len, "xc_interface_open failed: %s", strerror(errno));
        return -errno ? -errno : -EIO;
    }
    xen_capabilities_info_t caps;
    int rc = 0;
    memset(caps, 0, sizeof(caps));
    if (xc_version(xc, XENVER_capabilities, &caps) < 0) {
        rc = -EIO;
        snprintf(detail, detail_len, "xc_version failed: %s", strerror(errno));
    } else if (!strstr(caps, "xen-3.0-x86_64")) {
        rc = -ENOTSUP;
        snprintf(detail, detail_len, "Xen cannot run 64-bit PV guests here (capabilities: %s)",
                 caps);
    }
    xc_interface_close(xc);
    return rc;
}

static void xen_vm_destroy(struct zg_hv_vm *vm)
{
    if (!vm)
        return;
    if (vm->map)
        xenforeignmemory_unmap(vm->fmem, vm->map, vm->pages);
    if (vm->created)
        xc_domain_destroy(vm->xc, vm->domid);
    if (vm->fmem)
        xenforeignmemory_close(vm->fmem);
    if (vm->xc)
        xc_interface_close(vm->xc);
    free(vm->frames);
    free(vm);
}

static int xen_vm_create(struct zg_hv_vm **out)
{
    struct zg_hv_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return -ENOMEM;
    int rc;
    vm->xc = xc_interface_open(quiet_logger(), quiet_logger(), 0);
    vm->fmem = vm->xc ? xenforeignmemory_open(quiet_logger(), 0) : NULL;
    if (!vm->xc || !vm->fmem) {
        rc = errno ? -errno : -EIO;
        goto fail;
    }
    /* A PV domain: one vCPU, no devices, default grant and event limits. */
    struct xen_domctl_createdomain cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_vcpus = 1;
    cfg.max_evtchn_port = 1023;
    cfg.max_grant_frames = -1;
    cfg.max_maptrack_frames = -1;
    cfg.grant_opts = XEN_DOMCTL_GRANT_version(1);
    vm->domid = 0; /* let Xen pick */
    if (xc_domain_create(vm->xc, &vm->domid, &cfg) < 0) {
        rc = errno ? -errno : -EIO;
        goto fail;
    }
    vm->created = 1;
    *out = vm;
    return 0;
fail:
    xen_vm_destroy(vm);
    return rc;
}

/* Xen owns the guest's memory: populate size bytes of it and map it into
 * this process. Called once per VM. */
static int xen_mem_alloc(struct zg_hv_vm *vm, uint64_t size, unsigned flags, void **host)
{
    if (vm->map || !size || size % 4096)
        return -EINVAL;
    if (flags & ZG_MEM_DIRTY_LOG)
        return -ENOSYS; /* log-dirty mode for PV: not built yet */
    uint64_t pages = size / 4096;
    vm->frames = calloc(pages, sizeof(*vm->frames));
    int *errs = calloc(pages, sizeof(int));
    int rc = 0;
    if (!vm->frames || !errs) {
        rc = -ENOMEM;
        goto out;
    }
    /* The budget, with room for the pages Xen itself accounts to a PV
     * domain (p2m, start info) on top. */
    if (xc_domain_setmaxmem(vm->xc, vm->domid, size / 1024 + 1024) < 0) {
        rc = errno ? -errno : -EIO;
        goto out;
    }
    for (uint64_t i = 0; i < pages; i++)
        vm->frames[i] = i;
    /* PV is not translated: on return each entry holds the machine frame. */
    if (xc_domain_populate_physmap_exact(vm->xc, vm->domid, pages, 0, 0, vm->frames) < 0) {
        rc = errno ? -errno : -ENOMEM;
        goto out;
    }
    vm->map =
        xenforeignmemory_map(vm->fmem, vm->domid, PROT_READ | PROT_WRITE, pages, vm->frames, errs);
    if (!vm->map) {
        rc = errno ? -errno : -EIO;
        goto out;
    }
    for (uint64_t i = 0; i < pages; i++)
        if (errs[i]) {
            rc = errs[i] < 0 ? errs[i] : -EIO;
            xenforeignmemory_unmap(vm->fmem, vm->map, pages);
            vm->map = NULL;
            goto out;
        }
    vm->pages = pages;
    *host = vm->map;
out:
    free(errs);
    return rc;
}

static int xen_mem_map(struct zg_hv_vm *vm, void *host, uint64_t size, unsigned flags)
{
    (void)vm;
    (void)host;
    (void)size;
    (void)flags;
    return -ENOTSUP; /* Xen guest memory comes from Xen: mem_alloc */
}

static int xen_not_yet(void)
{
    return -ENOSYS;
}

static int xen_vcpu_get_state(struct zg_hv_vm *vm, struct zg_vcpu_state *st, unsigned what)
{
    (void)vm;
    (void)st;
    (void)what;
    return xen_not_yet();
}

static int xen_vcpu_set_state(struct zg_hv_vm *vm, const struct zg_vcpu_state *st, unsigned what)
{
    (void)vm;
    (void)st;
    (void)what;
    return xen_not_yet();
}

static int xen_run(struct zg_hv_vm *vm, struct zg_hv_exit *ex)
{
    (void)vm;
    memset(ex, 0, sizeof(*ex));
    return xen_not_yet();
}

static void xen_kick(struct zg_hv_vm *vm)
{
    (void)vm;
}

static int xen_dirty_log(struct zg_hv_vm *vm, uint64_t *bitmap)
{
    (void)vm;
    (void)bitmap;
    return xen_not_yet();
}

static int xen_domid(const struct zg_hv_vm *vm)
{
    return vm->created ? (int)vm->domid : -1;
}

const struct zg_hv_ops zg_hv_xen_ops = {
    .name = "xen",
    .probe = xen_probe,
    .vm_create = xen_vm_create,
    .mem_map = xen_mem_map,
    .mem_alloc = xen_mem_alloc,
    .vcpu_get_state = xen_vcpu_get_state,
    .vcpu_set_state = xen_vcpu_set_state,
    .run = xen_run,
    .kick = xen_kick,
    .dirty_log = xen_dirty_log,
    .vm_destroy = xen_vm_destroy,
    .domain_id = xen_domid,
};
