/* zg_hv: the Xen backend, on libxenctrl, libxenforeignmemory and
 * libxenevtchn directly (no xenstore, no libxl on any path).
 *
 * A zerg guest on Xen is a 64-bit PV domain that zerg builds itself: Xen
 * populates its memory, the monitor loads the ELF and lays out the same
 * entry state as on KVM (identity map, boot info, stack) through the
 * foreign mapping, and this backend turns the monitor's canonical page
 * tables (guest frame numbers) into Xen's (machine frames) when it sets the
 * vCPU context. PV page tables must never be writable from anywhere but
 * Xen, so the page-table region is not part of the foreign mapping: the
 * host view of it is a private copy in canonical form, written to the real
 * frames (mapped only for that) just before Xen validates them.
 *
 * The guest calls the monitor through a mailbox page and an event channel
 * (abi.h, "The Xen PV transport"); run() waits on the channel and turns a
 * call into the same ZG_EXIT_IO the KVM backend reports for `out`, so the
 * monitor's hypercall code is shared. A guest fault crashes the domain
 * (there is no trap table); run() notices within XEN_STATE_POLL_MS.
 *
 * Not supported on Xen (yet): the dirty log (so no pooled reset and no
 * memory cap), re-setting the context of a domain that has run. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenctrl.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <zerg/abi.h>

#include "hypervisor/zg_hv.h"

/* How often run() looks at the domain's state while the guest is silent
 * (a crashed PV domain sends nothing). */
#define XEN_STATE_POLL_MS 5

#define PTE_P        0x1ull
#define PTE_A        0x20ull
#define PTE_D        0x40ull
#define PTE_G        0x100ull /* Xen sets it on some PV mappings */
#define PTE_FRAME    0x000ffffffffff000ull
/* L4 slots Xen keeps for itself in every 64-bit PV guest's top table. */
#define XEN_L4_FIRST 256
#define XEN_L4_LAST  271

/* shared_info: vcpu_info[0].evtchn_upcall_mask, evtchn_mask[] */
#define SHINFO_UPCALL_MASK 1
#define SHINFO_EVTCHN_MASK 2560

struct zg_hv_vm {
    xc_interface *xc;
    xenforeignmemory_handle *fmem;
    xenevtchn_handle *xce;
    uint32_t domid;
    int created;
    uint8_t *map; /* the host view: foreign mapping + the canonical page-table copy */
    uint64_t map_size;
    uint64_t pages;
    xen_pfn_t *frames; /* machine frame of each guest page (PV: not translated) */
    struct zg_hv_pv_layout lay;
    evtchn_port_t local_port; /* dom0's end of the guest's channel */
    int bound;
    int kick_fd; /* eventfd: kick() wakes run() */
    volatile sig_atomic_t kicked;
    uint8_t *shinfo; /* Xen's shared info page of the domain, mapped */
    unsigned long shinfo_mfn;
    int context_set; /* the vCPU has a context (its page tables are Xen's now) */
    int running;     /* unpaused */
    int answering;   /* the last exit was a call: the next run() answers it */
    uint32_t answer_seq;
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

static int neg_errno(void)
{
    return errno ? -errno : -EIO;
}

static void xen_vm_destroy(struct zg_hv_vm *vm)
{
    if (!vm)
        return;
    if (vm->map)
        munmap(vm->map, vm->map_size); /* the foreign pieces and the private copy */
    if (vm->shinfo)
        xenforeignmemory_unmap(vm->fmem, vm->shinfo, 1);
    if (vm->bound)
        xenevtchn_unbind(vm->xce, vm->local_port);
    if (vm->xce)
        xenevtchn_close(vm->xce);
    if (vm->created)
        xc_domain_destroy(vm->xc, vm->domid);
    if (vm->fmem)
        xenforeignmemory_close(vm->fmem);
    if (vm->xc)
        xc_interface_close(vm->xc);
    if (vm->kick_fd >= 0)
        close(vm->kick_fd);
    free(vm->frames);
    free(vm);
}

static int xen_vm_create(struct zg_hv_vm **out)
{
    struct zg_hv_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return -ENOMEM;
    int rc;
    vm->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (vm->kick_fd < 0) {
        rc = neg_errno();
        goto fail;
    }
    vm->xc = xc_interface_open(quiet_logger(), quiet_logger(), 0);
    vm->fmem = vm->xc ? xenforeignmemory_open(quiet_logger(), 0) : NULL;
    vm->xce = vm->fmem ? xenevtchn_open(quiet_logger(), 0) : NULL;
    if (!vm->xc || !vm->fmem || !vm->xce) {
        rc = neg_errno();
        goto fail;
    }
    /* A PV domain: one vCPU, no devices, default grant and event limits.
     * Xen creates it paused; run() unpauses it. */
    struct xen_domctl_createdomain cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_vcpus = 1;
    cfg.max_evtchn_port = 1023;
    cfg.max_grant_frames = -1;
    cfg.max_maptrack_frames = -1;
    cfg.grant_opts = XEN_DOMCTL_GRANT_version(1);
    vm->domid = 0; /* let Xen pick */
    if (xc_domain_create(vm->xc, &vm->domid, &cfg) < 0) {
        rc = neg_errno();
        goto fail;
    }
    vm->created = 1;
    /* Creating the domain sized it for one vCPU; this makes the vCPU. */
    if (xc_domain_max_vcpus(vm->xc, vm->domid, 1) < 0) {
        rc = neg_errno();
        goto fail;
    }
    *out = vm;
    return 0;
fail:
    xen_vm_destroy(vm);
    return rc;
}

/* Maps guest pages [first, first+n) at vm->map + first*4096 (fixed). */
static int map_range(struct zg_hv_vm *vm, uint64_t first, uint64_t n, int *errs)
{
    if (!n)
        return 0;
    void *want = vm->map + first * 4096;
    void *got = xenforeignmemory_map2(vm->fmem, vm->domid, want, PROT_READ | PROT_WRITE, MAP_FIXED,
                                      n, vm->frames + first, errs);
    if (got != want)
        return got ? -EFAULT : neg_errno();
    for (uint64_t i = 0; i < n; i++)
        if (errs[i])
            return errs[i] < 0 ? errs[i] : -EIO;
    return 0;
}

static int domain_info(struct zg_hv_vm *vm, xc_domaininfo_t *info)
{
    if (xc_domain_getinfolist(vm->xc, vm->domid, 1, info) != 1 || info->domain != vm->domid)
        return -ESRCH;
    return 0;
}

/* Xen owns the guest's memory: populate it, map it into this process (all
 * but the page-table region, whose host view is a private canonical copy),
 * map the domain's shared info, and open the guest's event channel. */
static int xen_mem_alloc(struct zg_hv_vm *vm, struct zg_hv_pv_layout *l, unsigned flags,
                         void **host)
{
    uint64_t size = l->mem_size;
    if (vm->map || !size || size % 4096 || l->pt_start % 4096 || l->pt_end % 4096 ||
        l->pt_start >= l->pt_end || l->pt_end > size || l->l4_gpa < l->pt_start ||
        l->l4_gpa >= l->pt_end || l->l4_gpa >= l->l3_gpa || l->l3_gpa >= l->l2_gpa ||
        l->l2_gpa >= l->l1_gpa || l->l1_gpa >= l->pt_end || l->shared_info_gpa >= size ||
        l->mailbox_gpa >= size)
        return -EINVAL;
    if (flags & ZG_MEM_DIRTY_LOG)
        return -ENOSYS; /* log-dirty mode for PV: not built */
    uint64_t pages = size / 4096;
    vm->frames = calloc(pages, sizeof(*vm->frames));
    int *errs = calloc(pages, sizeof(int));
    int rc = 0;
    if (!vm->frames || !errs) {
        rc = -ENOMEM;
        goto out;
    }
    /* The budget, with room for what Xen itself accounts to a PV domain. */
    if (xc_domain_setmaxmem(vm->xc, vm->domid, size / 1024 + 1024) < 0) {
        rc = neg_errno();
        goto out;
    }
    for (uint64_t i = 0; i < pages; i++)
        vm->frames[i] = i;
    /* PV is not translated: on return each entry holds the machine frame. */
    if (xc_domain_populate_physmap_exact(vm->xc, vm->domid, pages, 0, 0, vm->frames) < 0) {
        rc = neg_errno();
        goto out;
    }
    vm->map = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (vm->map == MAP_FAILED) {
        vm->map = NULL;
        rc = neg_errno();
        goto out;
    }
    vm->map_size = size;
    uint64_t pt0 = l->pt_start / 4096, pt1 = l->pt_end / 4096;
    rc = map_range(vm, 0, pt0, errs);
    if (rc == 0)
        rc = map_range(vm, pt1, pages - pt1, errs);
    if (rc == 0 && mmap(vm->map + l->pt_start, l->pt_end - l->pt_start, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
        rc = neg_errno();
    if (rc < 0)
        goto out;
    vm->pages = pages;

    xc_domaininfo_t info;
    rc = domain_info(vm, &info);
    if (rc < 0)
        goto out;
    vm->shinfo_mfn = info.shared_info_frame;
    xen_pfn_t f = vm->shinfo_mfn;
    int e = 0;
    vm->shinfo = xenforeignmemory_map(vm->fmem, vm->domid, PROT_READ | PROT_WRITE, 1, &f, &e);
    if (!vm->shinfo || e) {
        if (vm->shinfo)
            xenforeignmemory_unmap(vm->fmem, vm->shinfo, 1);
        vm->shinfo = NULL;
        rc = e ? (e < 0 ? e : -EIO) : neg_errno();
        goto out;
    }
    int port = xc_evtchn_alloc_unbound(vm->xc, vm->domid, 0);
    if (port < 0) {
        rc = neg_errno();
        goto out;
    }
    xenevtchn_port_or_error_t local = xenevtchn_bind_interdomain(vm->xce, vm->domid, port);
    if (local < 0) {
        rc = neg_errno();
        goto out;
    }
    vm->local_port = (evtchn_port_t)local;
    vm->bound = 1;
    l->port = (uint32_t)port;
    vm->lay = *l;
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

/* The machine frame a canonical entry's guest frame stands for, or 0 for a
 * frame outside guest memory. */
static uint64_t to_machine(const struct zg_hv_vm *vm, uint64_t pfn)
{
    if (pfn == vm->lay.shared_info_gpa / 4096)
        return vm->shinfo_mfn;
    return pfn < vm->pages ? vm->frames[pfn] : 0;
}

/* Entry e of a canonical table, translated; -1 if it names no guest frame. */
static int translate_entry(const struct zg_hv_vm *vm, uint64_t e, uint64_t *out)
{
    if (!(e & PTE_P)) {
        *out = 0;
        return 0;
    }
    uint64_t mfn = to_machine(vm, (e & PTE_FRAME) >> 12);
    if (!mfn)
        return -1;
    *out = (e & ~PTE_FRAME) | (mfn << 12);
    return 0;
}

static int is_xen_slot(const struct zg_hv_vm *vm, uint64_t page, unsigned i)
{
    return page * 4096 == vm->lay.l4_gpa && i >= XEN_L4_FIRST && i <= XEN_L4_LAST;
}

/* Maps the real frames of the page-table region (first page and count in
 * *first, *n); NULL with errno set if any frame cannot be mapped. */
static uint64_t *map_page_tables(struct zg_hv_vm *vm, int prot, uint64_t *first, uint64_t *n)
{
    *first = vm->lay.pt_start / 4096;
    *n = (vm->lay.pt_end - vm->lay.pt_start) / 4096;
    int *errs = calloc(*n, sizeof(int));
    if (!errs) {
        errno = ENOMEM;
        return NULL;
    }
    uint64_t *real = xenforeignmemory_map(vm->fmem, vm->domid, prot, *n, vm->frames + *first, errs);
    for (uint64_t i = 0; real && i < *n; i++)
        if (errs[i]) {
            xenforeignmemory_unmap(vm->fmem, real, *n);
            real = NULL;
            errno = errs[i] < 0 ? -errs[i] : EIO;
        }
    free(errs);
    return real;
}

/* Writes the canonical page-table region, translated, into the real frames.
 * Only before the vCPU has a context: afterwards the frames are Xen's. */
static int load_page_tables(struct zg_hv_vm *vm)
{
    uint64_t first, n;
    uint64_t *real = map_page_tables(vm, PROT_READ | PROT_WRITE, &first, &n);
    if (!real)
        return neg_errno();
    const uint64_t *canon = (const uint64_t *)(vm->map + vm->lay.pt_start);
    for (uint64_t pg = 0; pg < n; pg++)
        for (unsigned i = 0; i < 512; i++) {
            uint64_t v;
            if (is_xen_slot(vm, first + pg, i) || translate_entry(vm, canon[pg * 512 + i], &v) < 0)
                v = 0; /* Xen fills its own slots; a wild frame maps nothing */
            real[pg * 512 + i] = v;
        }
    xenforeignmemory_unmap(vm->fmem, real, n);
    return 0;
}

/* Has Xen validate and pin the tables, leaves first (as Xen's own domain
 * builder pins the top one before it sets the context). Pinned tables stay
 * page tables for the domain's life; vm_destroy releases them. */
static int pin_page_tables(struct zg_hv_vm *vm)
{
    const struct zg_hv_pv_layout *l = &vm->lay;
    uint64_t n = (l->pt_end - l->pt_start) / 4096;
    struct mmuext_op *ops = calloc(n, sizeof(*ops));
    if (!ops)
        return -ENOMEM;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t gpa = l->pt_end - (i + 1) * 4096; /* from the last page down */
        ops[i].cmd = gpa >= l->l1_gpa   ? MMUEXT_PIN_L1_TABLE
                     : gpa >= l->l2_gpa ? MMUEXT_PIN_L2_TABLE
                     : gpa >= l->l3_gpa ? MMUEXT_PIN_L3_TABLE
                                        : MMUEXT_PIN_L4_TABLE;
        ops[i].arg1.mfn = vm->frames[gpa / 4096];
    }
    int rc = xc_mmuext_op(vm->xc, ops, (unsigned)n, vm->domid) < 0 ? neg_errno() : 0;
    free(ops);
    return rc;
}

/* Checks the real tables still say what the canonical copy says (a PV
 * guest can change its tables with mmu_update; zerg's runtime never does,
 * and a template must not silently lose such a change). Accessed and dirty
 * bits, which the CPU sets, the global bit, which Xen manages, and Xen's own
 * slots are ignored. */
static int check_page_tables(struct zg_hv_vm *vm)
{
    uint64_t first, n;
    const uint64_t *real = map_page_tables(vm, PROT_READ, &first, &n);
    if (!real)
        return neg_errno();
    const uint64_t *canon = (const uint64_t *)(vm->map + vm->lay.pt_start);
    int rc = 0;
    for (uint64_t pg = 0; rc == 0 && pg < n; pg++)
        for (unsigned i = 0; i < 512; i++) {
            uint64_t want;
            if (is_xen_slot(vm, first + pg, i))
                continue;
            if (translate_entry(vm, canon[pg * 512 + i], &want) < 0)
                want = 0;
            uint64_t have = real[pg * 512 + i];
            if ((have & PTE_P) != (want & PTE_P) ||
                ((have & PTE_P) && ((have ^ want) & ~(PTE_A | PTE_D | PTE_G))))
                rc = -EPERM;
        }
    xenforeignmemory_unmap(vm->fmem, (void *)real, n);
    return rc;
}

static int pause_domain(struct zg_hv_vm *vm)
{
    if (!vm->running)
        return 0;
    if (xc_domain_pause(vm->xc, vm->domid) < 0)
        return neg_errno();
    vm->running = 0;
    return 0;
}

/* Marks the call the guest is waiting in as answered (the OUT fields are
 * already in its memory). */
static void answer_call(struct zg_hv_vm *vm, int notify)
{
    if (!vm->answering)
        return;
    volatile struct zg_xen_mailbox *mb = (volatile void *)(vm->map + vm->lay.mailbox_gpa);
    __atomic_store_n(&mb->done_seq, vm->answer_seq, __ATOMIC_RELEASE);
    vm->answering = 0;
    if (notify)
        xenevtchn_notify(vm->xce, vm->local_port);
}

static int xen_vcpu_get_state(struct zg_hv_vm *vm, struct zg_vcpu_state *st, unsigned what)
{
    if (!vm->context_set)
        return -EINVAL;
    int rc = pause_domain(vm);
    if (rc < 0)
        return rc;
    answer_call(vm, 0); /* as KVM completes the `out`: the state resumes after it */
    if (!what)
        return 0;
    vcpu_guest_context_any_t any;
    if (xc_vcpu_getcontext(vm->xc, vm->domid, 0, &any) < 0)
        return neg_errno();
    const vcpu_guest_context_x86_64_t *c = &any.x64;
    const struct cpu_user_regs_x86_64 *u = &c->user_regs;
    if (what & ZG_VCPU_REGS) {
        st->regs = (struct zg_regs){u->rax, u->rbx, u->rcx, u->rdx, u->rsi, u->rdi,
                                    u->rsp, u->rbp, u->r8,  u->r9,  u->r10, u->r11,
                                    u->r12, u->r13, u->r14, u->r15, u->rip, u->rflags};
    }
    if (what & ZG_VCPU_SREGS) {
        uint64_t l4 = vm->lay.l4_gpa / 4096;
        if (xen_cr3_to_pfn_x86_64(c->ctrlreg[3]) != vm->frames[l4])
            return -EPERM; /* the guest switched to tables of its own */
        rc = check_page_tables(vm);
        if (rc < 0)
            return rc;
        memset(&st->sregs, 0, sizeof(st->sregs));
        st->sregs.cs.selector = u->cs;
        st->sregs.ss.selector = u->ss;
        st->sregs.fs.base = c->fs_base;
        st->sregs.gs.base = c->gs_base_kernel;
        st->sregs.cr0 = c->ctrlreg[0];
        st->sregs.cr3 = vm->lay.l4_gpa; /* canonical */
        st->sregs.cr4 = c->ctrlreg[4];
        st->sregs.efer = 0x500; /* LME | LMA: a 64-bit PV guest is always in long mode */
    }
    if (what & ZG_VCPU_MSRS) {
        memset(st->msrs, 0, sizeof(st->msrs));
        st->msrs[ZG_MSR_KERNEL_GS_BASE] = c->gs_base_user;
    }
    if (what & ZG_VCPU_FPU) {
        memset(&st->fpu, 0, sizeof(st->fpu));
        _Static_assert(sizeof(c->fpu_ctxt) == 512, "FXSAVE image");
        memcpy(st->fpu.xsave, &c->fpu_ctxt, 512);
        st->fpu.xsave_valid = 0;
    }
    return 0;
}

static int xen_vcpu_set_state(struct zg_hv_vm *vm, const struct zg_vcpu_state *st, unsigned what)
{
    if (!vm->map)
        return -EINVAL;
    if (what == 0 || what == ZG_VCPU_FPU || what == ZG_VCPU_MSRS)
        return 0; /* nothing a PV vCPU takes on its own; set with the context */
    if ((what & (ZG_VCPU_REGS | ZG_VCPU_SREGS)) != (ZG_VCPU_REGS | ZG_VCPU_SREGS))
        return -EINVAL; /* the context is set whole */
    if (vm->context_set)
        return -EBUSY; /* its page tables are Xen's now: a new domain is needed */
    if (st->sregs.cr3 != vm->lay.l4_gpa)
        return -EINVAL;
    int rc = load_page_tables(vm);
    if (rc == 0)
        rc = pin_page_tables(vm);
    if (rc < 0)
        return rc;
    /* No event callbacks: the guest polls its one port, masked. */
    vm->shinfo[SHINFO_UPCALL_MASK] = 1;
    uint32_t p = vm->lay.port;
    __atomic_fetch_or((uint64_t *)(vm->shinfo + SHINFO_EVTCHN_MASK) + p / 64, 1ull << (p % 64),
                      __ATOMIC_SEQ_CST);

    vcpu_guest_context_any_t any;
    memset(&any, 0, sizeof(any));
    vcpu_guest_context_x86_64_t *c = &any.x64;
    struct cpu_user_regs_x86_64 *u = &c->user_regs;
    const struct zg_regs *r = &st->regs;
    u->rax = r->rax, u->rbx = r->rbx, u->rcx = r->rcx, u->rdx = r->rdx;
    u->rsi = r->rsi, u->rdi = r->rdi, u->rsp = r->rsp, u->rbp = r->rbp;
    u->r8 = r->r8, u->r9 = r->r9, u->r10 = r->r10, u->r11 = r->r11;
    u->r12 = r->r12, u->r13 = r->r13, u->r14 = r->r14, u->r15 = r->r15;
    u->rip = r->rip;
    u->rflags = r->rflags & ~0x3000ull; /* IOPL is Xen's business for PV */
    u->cs = FLAT_KERNEL_CS64;
    u->ss = FLAT_KERNEL_SS64;
    u->ds = u->es = u->fs = u->gs = FLAT_KERNEL_DS64;
    c->flags = VGCF_in_kernel | VGCF_online;
    c->kernel_ss = FLAT_KERNEL_SS64;
    c->kernel_sp = r->rsp;
    c->ctrlreg[3] = xen_pfn_to_cr3_x86_64(vm->frames[vm->lay.l4_gpa / 4096]);
    c->fs_base = st->sregs.fs.base;
    c->gs_base_kernel = st->sregs.gs.base;
    if (what & ZG_VCPU_MSRS)
        c->gs_base_user = st->msrs[ZG_MSR_KERNEL_GS_BASE];
    if (what & ZG_VCPU_FPU) {
        memcpy(&c->fpu_ctxt, st->fpu.xsave, 512);
        c->flags |= VGCF_i387_valid;
    }
    if (xc_vcpu_setcontext(vm->xc, vm->domid, 0, &any) < 0)
        return neg_errno();
    vm->context_set = 1;
    return 0;
}

/* The guest's pending call, if any, as an IO exit. */
static int take_call(struct zg_hv_vm *vm, struct zg_hv_exit *ex)
{
    volatile struct zg_xen_mailbox *mb = (volatile void *)(vm->map + vm->lay.mailbox_gpa);
    uint32_t seq = __atomic_load_n(&mb->req_seq, __ATOMIC_ACQUIRE);
    if (seq == mb->done_seq)
        return 0;
    uint32_t nr = mb->nr;
    uint64_t arg = mb->arg;
    ex->reason = ZG_EXIT_IO;
    /* A number that is no hypercall reaches the monitor as a port it refuses. */
    ex->port = nr <= ZG_HC_PORT_MAX - ZG_HC_PORT_BASE ? (uint16_t)(ZG_HC_PORT_BASE + nr) : 0;
    ex->value = arg > 0xffffffffull ? 0xffffffffu : (uint32_t)arg;
    vm->answering = 1;
    vm->answer_seq = seq;
    return 1;
}

/* Returns the guest's next call (ZG_EXIT_IO), its shutdown, or a kick. The
 * first run() unpauses the domain; the monitor's first_exit stamp
 * (zg_inst_times) is taken when this first returns something but a kick, so
 * on Xen it includes the unpause, the guest's work up to its first call and
 * dom0 noticing that call (the event channel's wake-up, or the next
 * XEN_STATE_POLL_MS look for a crash). */
static int xen_run(struct zg_hv_vm *vm, struct zg_hv_exit *ex)
{
    memset(ex, 0, sizeof(*ex));
    if (!vm->context_set)
        return -EINVAL;
    answer_call(vm, 1);
    if (!vm->running) {
        if (xc_domain_unpause(vm->xc, vm->domid) < 0)
            return neg_errno();
        vm->running = 1;
    }
    int efd = xenevtchn_fd(vm->xce);
    for (;;) {
        if (vm->kicked) {
            vm->kicked = 0;
            uint64_t v;
            while (read(vm->kick_fd, &v, sizeof(v)) > 0)
                ;
            ex->reason = ZG_EXIT_KICKED;
            return 0;
        }
        if (take_call(vm, ex))
            return 0;
        struct pollfd p[2] = {{.fd = efd, .events = POLLIN}, {.fd = vm->kick_fd, .events = POLLIN}};
        int n = poll(p, 2, XEN_STATE_POLL_MS);
        if (n < 0 && errno != EINTR)
            return neg_errno();
        if (n > 0 && (p[0].revents & POLLIN)) {
            xenevtchn_port_or_error_t port = xenevtchn_pending(vm->xce);
            if (port >= 0)
                xenevtchn_unmask(vm->xce, (evtchn_port_t)port);
            continue;
        }
        if (n == 0) {
            xc_domaininfo_t info;
            int rc = domain_info(vm, &info);
            if (rc < 0)
                return rc;
            if (info.flags & (XEN_DOMINF_shutdown | XEN_DOMINF_dying)) {
                unsigned why = (info.flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask;
                vm->running = 0; /* it runs no more */
                ex->reason = ZG_EXIT_SHUTDOWN;
                ex->exc_vector = -1;
                ex->exc_has_error = 0;
                snprintf(ex->detail, sizeof(ex->detail), "domain %u shut down (%s)",
                         (unsigned)vm->domid, why == SHUTDOWN_crash ? "crashed" : "by the guest");
                return 0;
            }
        }
    }
}

static void xen_kick(struct zg_hv_vm *vm)
{
    vm->kicked = 1;
    uint64_t one = 1;
    ssize_t w = write(vm->kick_fd, &one, sizeof(one)); /* async-signal-safe */
    (void)w;
}

static int xen_dirty_log(struct zg_hv_vm *vm, uint64_t *bitmap)
{
    (void)vm;
    (void)bitmap;
    return -ENOSYS;
}

static int xen_domid(const struct zg_hv_vm *vm)
{
    return vm->created ? (int)vm->domid : -1;
}

const struct zg_hv_ops zg_hv_xen_ops = {
    .name = "xen",
    .caps = ZG_HV_CAP_PARAVIRT,
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
