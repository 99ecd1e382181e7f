/* zg_hv KVM backend: one-vCPU VMs on raw /dev/kvm ioctls. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hypervisor/zg_hv.h"

#define KVM_API_EXPECTED  12
#define CPUID_MAX_ENTRIES 256

/* Process-wide: the /dev/kvm handle and what it told us once. */
static struct {
    pthread_once_t once;
    int err; /* negative errno from the one-time probe, or 0 */
    char detail[128];
    int fd;
    int run_size;
    int has_xsave, has_xcrs;
    int sync_regs; /* KVM_CAP_SYNC_REGS has both KVM_SYNC_X86_REGS and _SREGS */
    struct kvm_cpuid2 *cpuid;
} kvm = {.once = PTHREAD_ONCE_INIT, .fd = -1};

struct zg_hv_vm {
    int vm_fd;
    int vcpu_fd;
    struct kvm_run *run;
    uint64_t mem_size;
    int mem_mapped;
    int io_pending; /* the last exit was an `out` not yet completed */
    uint64_t runs;  /* KVM_RUN calls */
    int ran;        /* a KVM_RUN returned: run->s.regs holds the vCPU's registers */
};

static const uint32_t msr_numbers[ZG_MSR_COUNT] = {
    [ZG_MSR_STAR] = 0xc0000081,
    [ZG_MSR_LSTAR] = 0xc0000082,
    [ZG_MSR_CSTAR] = 0xc0000083,
    [ZG_MSR_SFMASK] = 0xc0000084,
    [ZG_MSR_KERNEL_GS_BASE] = 0xc0000102,
    [ZG_MSR_TSC_AUX] = 0xc0000103,
    [ZG_MSR_PAT] = 0x277,
};

static void kvm_init_once(void)
{
    kvm.fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm.fd < 0) {
        kvm.err = -errno;
        snprintf(kvm.detail, sizeof(kvm.detail), "cannot open /dev/kvm: %s", strerror(errno));
        return;
    }
    int v = ioctl(kvm.fd, KVM_GET_API_VERSION, 0);
    if (v != KVM_API_EXPECTED) {
        kvm.err = -ENOTSUP;
        snprintf(kvm.detail, sizeof(kvm.detail), "/dev/kvm API version %d, need %d", v,
                 KVM_API_EXPECTED);
        return;
    }
    static const struct {
        int cap;
        const char *name;
    } needed[] = {
        {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
        {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
        {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    };
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        if (ioctl(kvm.fd, KVM_CHECK_EXTENSION, needed[i].cap) <= 0) {
            kvm.err = -ENOTSUP;
            snprintf(kvm.detail, sizeof(kvm.detail), "/dev/kvm lacks %s", needed[i].name);
            return;
        }
    }
    kvm.has_xsave = ioctl(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0;
    kvm.has_xcrs = ioctl(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
    int sync = ioctl(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
    unsigned both = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
    kvm.sync_regs = sync > 0 && ((unsigned)sync & both) == both;
    kvm.run_size = ioctl(kvm.fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (kvm.run_size < (int)sizeof(struct kvm_run)) {
        kvm.err = -ENOTSUP;
        snprintf(kvm.detail, sizeof(kvm.detail), "KVM_GET_VCPU_MMAP_SIZE gave %d", kvm.run_size);
        return;
    }
    kvm.cpuid = calloc(1, sizeof(*kvm.cpuid) + CPUID_MAX_ENTRIES * sizeof(kvm.cpuid->entries[0]));
    if (!kvm.cpuid) {
        kvm.err = -ENOMEM;
        snprintf(kvm.detail, sizeof(kvm.detail), "out of memory");
        return;
    }
    kvm.cpuid->nent = CPUID_MAX_ENTRIES;
    if (ioctl(kvm.fd, KVM_GET_SUPPORTED_CPUID, kvm.cpuid) < 0) {
        kvm.err = -errno;
        snprintf(kvm.detail, sizeof(kvm.detail), "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
        return;
    }
}

static int kvm_ready(void)
{
    pthread_once(&kvm.once, kvm_init_once);
    return kvm.err;
}

static int kvm_probe(char *detail, size_t detail_len)
{
    int rc = kvm_ready();
    if (rc < 0 && detail && detail_len)
        snprintf(detail, detail_len, "%s", kvm.detail);
    return rc;
}

static void kvm_vm_destroy(struct zg_hv_vm *vm)
{
    if (!vm)
        return;
    if (vm->run)
        munmap(vm->run, (size_t)kvm.run_size);
    if (vm->vcpu_fd >= 0)
        close(vm->vcpu_fd);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    free(vm);
}

static int kvm_vm_create(struct zg_hv_vm **out)
{
    int rc = kvm_ready();
    if (rc < 0)
        return rc;
    struct zg_hv_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return -ENOMEM;
    vm->vm_fd = vm->vcpu_fd = -1;

    vm->vm_fd = ioctl(kvm.fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        rc = -errno;
        goto fail;
    }
    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0) {
        rc = -errno;
        goto fail;
    }
    vm->run = mmap(NULL, (size_t)kvm.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED) {
        vm->run = NULL;
        rc = -errno;
        goto fail;
    }
    if (ioctl(vm->vcpu_fd, KVM_SET_CPUID2, kvm.cpuid) < 0) {
        rc = -errno;
        goto fail;
    }
    if (kvm.sync_regs) /* REGS and SREGS go through run->s.regs */
        vm->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
    *out = vm;
    return 0;
fail:
    kvm_vm_destroy(vm);
    return rc;
}

static int kvm_mem_map(struct zg_hv_vm *vm, void *host, uint64_t size, unsigned flags)
{
    struct kvm_userspace_memory_region r = {.slot = 0};
    if (((uintptr_t)host | size) & 4095)
        return -EINVAL;
    if (vm->mem_mapped) {
        /* KVM cannot move a slot: delete it, then add the new one. */
        if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
            return -errno;
        vm->mem_mapped = 0;
    }
    r.flags = (flags & ZG_MEM_DIRTY_LOG) ? KVM_MEM_LOG_DIRTY_PAGES : 0;
    r.guest_phys_addr = 0;
    r.memory_size = size;
    r.userspace_addr = (uintptr_t)host;
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
        return -errno;
    vm->mem_mapped = 1;
    vm->mem_size = size;
    return 0;
}

/* After an IO exit the `out` is complete only once KVM_RUN runs again;
 * run with immediate_exit so it completes and returns at once. */
static int kvm_flush_io(struct zg_hv_vm *vm)
{
    if (!vm->io_pending)
        return 0;
    vm->run->immediate_exit = 1;
    vm->runs++;
    int r = ioctl(vm->vcpu_fd, KVM_RUN, 0);
    int e = errno;
    vm->run->immediate_exit = 0;
    vm->io_pending = 0;
    vm->ran = 1;
    if (r < 0 && e != EINTR)
        return -e;
    return 0;
}

static void seg_from_kvm(struct zg_segment *z, const struct kvm_segment *k)
{
    memset(z, 0, sizeof(*z));
    z->base = k->base;
    z->limit = k->limit;
    z->selector = k->selector;
    z->type = k->type;
    z->present = k->present;
    z->dpl = k->dpl;
    z->db = k->db;
    z->s = k->s;
    z->l = k->l;
    z->g = k->g;
    z->avl = k->avl;
    z->unusable = k->unusable;
}

static void seg_to_kvm(struct kvm_segment *k, const struct zg_segment *z)
{
    memset(k, 0, sizeof(*k));
    k->base = z->base;
    k->limit = z->limit;
    k->selector = z->selector;
    k->type = z->type;
    k->present = z->present;
    k->dpl = z->dpl;
    k->db = z->db;
    k->s = z->s;
    k->l = z->l;
    k->g = z->g;
    k->avl = z->avl;
    k->unusable = z->unusable;
}

static void regs_from_kvm(struct zg_regs *z, const struct kvm_regs *k)
{
    *z =
        (struct zg_regs){k->rax, k->rbx, k->rcx, k->rdx, k->rsi, k->rdi, k->rsp, k->rbp, k->r8,
                         k->r9,  k->r10, k->r11, k->r12, k->r13, k->r14, k->r15, k->rip, k->rflags};
}

static void regs_to_kvm(struct kvm_regs *k, const struct zg_regs *z)
{
    *k = (struct kvm_regs){.rax = z->rax,
                           .rbx = z->rbx,
                           .rcx = z->rcx,
                           .rdx = z->rdx,
                           .rsi = z->rsi,
                           .rdi = z->rdi,
                           .rsp = z->rsp,
                           .rbp = z->rbp,
                           .r8 = z->r8,
                           .r9 = z->r9,
                           .r10 = z->r10,
                           .r11 = z->r11,
                           .r12 = z->r12,
                           .r13 = z->r13,
                           .r14 = z->r14,
                           .r15 = z->r15,
                           .rip = z->rip,
                           .rflags = z->rflags};
}

static void sregs_from_kvm(struct zg_sregs *z, const struct kvm_sregs *k)
{
    memset(z, 0, sizeof(*z));
    seg_from_kvm(&z->cs, &k->cs);
    seg_from_kvm(&z->ds, &k->ds);
    seg_from_kvm(&z->es, &k->es);
    seg_from_kvm(&z->fs, &k->fs);
    seg_from_kvm(&z->gs, &k->gs);
    seg_from_kvm(&z->ss, &k->ss);
    seg_from_kvm(&z->tr, &k->tr);
    seg_from_kvm(&z->ldt, &k->ldt);
    z->gdt.base = k->gdt.base;
    z->gdt.limit = k->gdt.limit;
    z->idt.base = k->idt.base;
    z->idt.limit = k->idt.limit;
    z->cr0 = k->cr0;
    z->cr2 = k->cr2;
    z->cr3 = k->cr3;
    z->cr4 = k->cr4;
    z->cr8 = k->cr8;
    z->efer = k->efer;
    z->apic_base = k->apic_base;
}

static void sregs_to_kvm(struct kvm_sregs *k, const struct zg_sregs *z)
{
    memset(k, 0, sizeof(*k));
    seg_to_kvm(&k->cs, &z->cs);
    seg_to_kvm(&k->ds, &z->ds);
    seg_to_kvm(&k->es, &z->es);
    seg_to_kvm(&k->fs, &z->fs);
    seg_to_kvm(&k->gs, &z->gs);
    seg_to_kvm(&k->ss, &z->ss);
    seg_to_kvm(&k->tr, &z->tr);
    seg_to_kvm(&k->ldt, &z->ldt);
    k->gdt.base = z->gdt.base;
    k->gdt.limit = z->gdt.limit;
    k->idt.base = z->idt.base;
    k->idt.limit = z->idt.limit;
    k->cr0 = z->cr0;
    k->cr2 = z->cr2;
    k->cr3 = z->cr3;
    k->cr4 = z->cr4;
    k->cr8 = z->cr8;
    k->efer = z->efer;
    k->apic_base = z->apic_base;
}

static int seg_equal(const struct zg_segment *a, const struct zg_segment *b)
{
    return a->base == b->base && a->limit == b->limit && a->selector == b->selector &&
           a->type == b->type && a->present == b->present && a->dpl == b->dpl && a->db == b->db &&
           a->s == b->s && a->l == b->l && a->g == b->g && a->avl == b->avl &&
           a->unusable == b->unusable;
}

/* Whether two sets of segment and control registers are the same. */
static int sregs_equal(const struct zg_sregs *a, const struct zg_sregs *b)
{
    return seg_equal(&a->cs, &b->cs) && seg_equal(&a->ds, &b->ds) && seg_equal(&a->es, &b->es) &&
           seg_equal(&a->fs, &b->fs) && seg_equal(&a->gs, &b->gs) && seg_equal(&a->ss, &b->ss) &&
           seg_equal(&a->tr, &b->tr) && seg_equal(&a->ldt, &b->ldt) && a->gdt.base == b->gdt.base &&
           a->gdt.limit == b->gdt.limit && a->idt.base == b->idt.base &&
           a->idt.limit == b->idt.limit && a->cr0 == b->cr0 && a->cr2 == b->cr2 &&
           a->cr3 == b->cr3 && a->cr4 == b->cr4 && a->cr8 == b->cr8 && a->efer == b->efer &&
           a->apic_base == b->apic_base;
}

/* struct kvm_fpu <-> the FXSAVE image at the start of zg_fpu.xsave. */
static void fpu_from_kvm(struct zg_fpu *z, const struct kvm_fpu *k)
{
    uint8_t *x = z->xsave;
    memset(x, 0, 512);
    memcpy(x + 0, &k->fcw, 2);
    memcpy(x + 2, &k->fsw, 2);
    x[4] = k->ftwx;
    memcpy(x + 6, &k->last_opcode, 2);
    memcpy(x + 8, &k->last_ip, 8);
    memcpy(x + 16, &k->last_dp, 8);
    memcpy(x + 24, &k->mxcsr, 4);
    for (int i = 0; i < 8; i++)
        memcpy(x + 32 + i * 16, k->fpr[i], 16);
    for (int i = 0; i < 16; i++)
        memcpy(x + 160 + i * 16, k->xmm[i], 16);
}

static void fpu_to_kvm(struct kvm_fpu *k, const struct zg_fpu *z)
{
    const uint8_t *x = z->xsave;
    memset(k, 0, sizeof(*k));
    memcpy(&k->fcw, x + 0, 2);
    memcpy(&k->fsw, x + 2, 2);
    k->ftwx = x[4];
    memcpy(&k->last_opcode, x + 6, 2);
    memcpy(&k->last_ip, x + 8, 8);
    memcpy(&k->last_dp, x + 16, 8);
    memcpy(&k->mxcsr, x + 24, 4);
    for (int i = 0; i < 8; i++)
        memcpy(k->fpr[i], x + 32 + i * 16, 16);
    for (int i = 0; i < 16; i++)
        memcpy(k->xmm[i], x + 160 + i * 16, 16);
}

/* struct kvm_msrs followed by its entries (a flexible array member cannot
 * be embedded in a struct in ISO C, so the buffer is laid out by hand). */
struct msr_buf {
    union {
        struct kvm_msrs hdr;
        uint8_t raw[sizeof(struct kvm_msrs) + ZG_MSR_COUNT * sizeof(struct kvm_msr_entry)];
    };
};

static struct kvm_msr_entry *msr_entries(struct msr_buf *m)
{
    return m->hdr.entries;
}

static int kvm_get_fpu(struct zg_hv_vm *vm, struct zg_fpu *f)
{
    memset(f, 0, sizeof(*f));
    if (kvm.has_xsave) {
        struct kvm_xsave xs;
        if (ioctl(vm->vcpu_fd, KVM_GET_XSAVE, &xs) < 0)
            return -errno;
        _Static_assert(sizeof(xs.region) == ZG_XSAVE_SIZE, "kvm_xsave region size");
        memcpy(f->xsave, xs.region, ZG_XSAVE_SIZE);
        f->xsave_valid = 1;
    } else {
        struct kvm_fpu kf;
        if (ioctl(vm->vcpu_fd, KVM_GET_FPU, &kf) < 0)
            return -errno;
        fpu_from_kvm(f, &kf);
    }
    if (kvm.has_xcrs) {
        struct kvm_xcrs xcrs;
        if (ioctl(vm->vcpu_fd, KVM_GET_XCRS, &xcrs) < 0)
            return -errno;
        for (uint32_t i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++)
            if (xcrs.xcrs[i].xcr == 0)
                f->xcr0 = xcrs.xcrs[i].value;
    }
    return 0;
}

static int kvm_set_fpu(struct zg_hv_vm *vm, const struct zg_fpu *f, unsigned what)
{
    if ((what & ZG_VCPU_XCRS) && kvm.has_xcrs && f->xcr0) {
        struct kvm_xcrs xcrs = {.nr_xcrs = 1};
        xcrs.xcrs[0].xcr = 0;
        xcrs.xcrs[0].value = f->xcr0;
        if (ioctl(vm->vcpu_fd, KVM_SET_XCRS, &xcrs) < 0)
            return -errno;
    }
    if (!(what & ZG_VCPU_FPU))
        return 0;
    if (kvm.has_xsave && f->xsave_valid) {
        struct kvm_xsave xs;
        memcpy(xs.region, f->xsave, ZG_XSAVE_SIZE);
        if (ioctl(vm->vcpu_fd, KVM_SET_XSAVE, &xs) < 0)
            return -errno;
    } else {
        struct kvm_fpu kf;
        fpu_to_kvm(&kf, f);
        if (ioctl(vm->vcpu_fd, KVM_SET_FPU, &kf) < 0)
            return -errno;
    }
    return 0;
}

static int kvm_vcpu_get_state(struct zg_hv_vm *vm, struct zg_vcpu_state *st, unsigned what)
{
    int rc = kvm_flush_io(vm);
    if (rc < 0)
        return rc;
    /* Registers set but not yet run: what was set is what the vCPU holds. */
    uint64_t pending = vm->run->kvm_dirty_regs;
    if (what & ZG_VCPU_REGS) {
        struct kvm_regs r;
        if (pending & KVM_SYNC_X86_REGS)
            r = vm->run->s.regs.regs;
        else if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0)
            return -errno;
        regs_from_kvm(&st->regs, &r);
    }
    if (what & ZG_VCPU_SREGS) {
        struct kvm_sregs s;
        if (pending & KVM_SYNC_X86_SREGS)
            s = vm->run->s.regs.sregs;
        else if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
            return -errno;
        sregs_from_kvm(&st->sregs, &s);
    }
    if (what & ZG_VCPU_MSRS) {
        struct msr_buf m;
        memset(&m, 0, sizeof(m));
        m.hdr.nmsrs = ZG_MSR_COUNT;
        struct kvm_msr_entry *e = msr_entries(&m);
        for (int i = 0; i < ZG_MSR_COUNT; i++)
            e[i].index = msr_numbers[i];
        int n = ioctl(vm->vcpu_fd, KVM_GET_MSRS, &m);
        if (n < 0)
            return -errno;
        if (n != ZG_MSR_COUNT)
            return -EIO; /* MSR msr_numbers[n] not readable on this host */
        for (int i = 0; i < ZG_MSR_COUNT; i++)
            st->msrs[i] = e[i].data;
    }
    if (what & ZG_VCPU_FPU) {
        rc = kvm_get_fpu(vm, &st->fpu);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int kvm_vcpu_set_state(struct zg_hv_vm *vm, const struct zg_vcpu_state *st, unsigned what)
{
    int rc = 0;
    if (kvm.sync_regs && (what & ZG_VCPU_REGS)) {
        /* A pending `out` is completed by the next KVM_RUN instead of one
         * of its own now: KVM applies the registers set here (through the
         * run page) and then completes the `out`, which skips the
         * instruction only if RIP is still at it -- it is not, RIP is the
         * new state's (were the order the other way, the skip would happen
         * first and the new RIP replace it). One KVM_RUN saved per reset. */
        vm->io_pending = 0;
    } else {
        rc = kvm_flush_io(vm);
        if (rc < 0)
            return rc;
    }
    if (what & ZG_VCPU_SREGS) {
        struct kvm_sregs s;
        sregs_to_kvm(&s, &st->sregs);
        if (kvm.sync_regs) {
            /* Setting SREGS resets KVM's MMU context: not when nothing
             * changed since the last exit (a guest at CPL3 can load segment
             * registers, so this is looked at, not assumed). */
            struct zg_sregs now;
            sregs_from_kvm(&now, &vm->run->s.regs.sregs);
            if (!vm->ran || (vm->run->kvm_dirty_regs & KVM_SYNC_X86_SREGS) ||
                !sregs_equal(&now, &st->sregs)) {
                vm->run->s.regs.sregs = s;
                vm->run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
            }
        } else if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0) {
            return -errno;
        }
    }
    if (what & ZG_VCPU_MSRS) {
        struct msr_buf m;
        memset(&m, 0, sizeof(m));
        m.hdr.nmsrs = ZG_MSR_COUNT;
        struct kvm_msr_entry *e = msr_entries(&m);
        for (int i = 0; i < ZG_MSR_COUNT; i++) {
            e[i].index = msr_numbers[i];
            e[i].data = st->msrs[i];
        }
        int n = ioctl(vm->vcpu_fd, KVM_SET_MSRS, &m);
        if (n < 0)
            return -errno;
        if (n != ZG_MSR_COUNT)
            return -EIO;
    }
    if (what & (ZG_VCPU_FPU | ZG_VCPU_XCRS)) {
        rc = kvm_set_fpu(vm, &st->fpu, what);
        if (rc < 0)
            return rc;
    }
    if (what & ZG_VCPU_REGS) {
        struct kvm_regs r;
        regs_to_kvm(&r, &st->regs);
        if (kvm.sync_regs) {
            vm->run->s.regs.regs = r;
            vm->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
        } else if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0) {
            return -errno;
        }
    }
    return 0;
}

static int kvm_run(struct zg_hv_vm *vm, struct zg_hv_exit *ex)
{
    struct kvm_run *run = vm->run;
    memset(ex, 0, sizeof(*ex));
    vm->io_pending = 0;
    vm->runs++;
    int r = ioctl(vm->vcpu_fd, KVM_RUN, 0);
    vm->ran = 1;
    if (r < 0) {
        int e = errno;
        if (e == EINTR || e == EAGAIN) {
            run->immediate_exit = 0;
            ex->reason = ZG_EXIT_KICKED;
            return 0;
        }
        return -e;
    }
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        if (run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 4 && run->io.count == 1) {
            ex->reason = ZG_EXIT_IO;
            ex->port = run->io.port;
            memcpy(&ex->value, (const uint8_t *)run + run->io.data_offset, 4);
            vm->io_pending = 1;
        } else {
            ex->reason = ZG_EXIT_ERROR;
            snprintf(ex->detail, sizeof(ex->detail), "%s of size %u x%u on port 0x%x",
                     run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in", run->io.size,
                     run->io.count, run->io.port);
        }
        break;
    case KVM_EXIT_HLT:
        ex->reason = ZG_EXIT_HALT;
        break;
    case KVM_EXIT_SHUTDOWN: {
        /* A triple fault: an exception the guest (no IDT) could not take.
         * The vCPU's events still name the last exception, and CR2 the
         * address of the last page fault (these hosts: checked with the
         * fault test guest's #UD, write through NULL and wild read). */
        ex->reason = ZG_EXIT_SHUTDOWN;
        ex->exc_vector = -1;
        ex->exc_has_error = 0;
        ex->exc_error = 0;
        ex->exc_cr2 = 0;
        struct kvm_vcpu_events ev;
        struct kvm_sregs sr;
        memset(&ev, 0, sizeof(ev));
        if (ioctl(vm->vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) == 0 && ev.exception.nr < 32) {
            ex->exc_vector = ev.exception.nr;
            ex->exc_has_error = ev.exception.has_error_code != 0;
            ex->exc_error = ev.exception.error_code;
        }
        if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sr) == 0)
            ex->exc_cr2 = sr.cr2;
        break;
    }
    case KVM_EXIT_INTR:
        run->immediate_exit = 0;
        ex->reason = ZG_EXIT_KICKED;
        break;
    case KVM_EXIT_MMIO:
        ex->reason = ZG_EXIT_MMIO;
        ex->addr = run->mmio.phys_addr;
        snprintf(ex->detail, sizeof(ex->detail), "%s of %u bytes at 0x%llx",
                 run->mmio.is_write ? "write" : "read", run->mmio.len,
                 (unsigned long long)run->mmio.phys_addr);
        break;
    case KVM_EXIT_FAIL_ENTRY:
        ex->reason = ZG_EXIT_ERROR;
        snprintf(ex->detail, sizeof(ex->detail), "VM entry failed, hardware reason 0x%llx",
                 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        break;
    case KVM_EXIT_INTERNAL_ERROR:
        ex->reason = ZG_EXIT_ERROR;
        snprintf(ex->detail, sizeof(ex->detail), "KVM internal error, suberror %u",
                 run->internal.suberror);
        break;
    default:
        ex->reason = ZG_EXIT_ERROR;
        snprintf(ex->detail, sizeof(ex->detail), "unhandled KVM exit reason %u", run->exit_reason);
        break;
    }
    return 0;
}

static void kvm_kick(struct zg_hv_vm *vm)
{
    if (vm && vm->run)
        __atomic_store_n(&vm->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

static uint64_t kvm_entries(const struct zg_hv_vm *vm)
{
    return vm ? vm->runs : 0;
}

static int kvm_dirty_log(struct zg_hv_vm *vm, uint64_t *bitmap)
{
    struct kvm_dirty_log d = {.slot = 0};
    d.dirty_bitmap = bitmap;
    if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &d) < 0)
        return -errno;
    return 0;
}

const struct zg_hv_ops zg_hv_kvm_ops = {
    .name = "kvm",
    .caps = ZG_HV_CAP_DIRTY_LOG | ZG_HV_CAP_LINUX,
    .probe = kvm_probe,
    .vm_create = kvm_vm_create,
    .mem_map = kvm_mem_map,
    .vcpu_get_state = kvm_vcpu_get_state,
    .vcpu_set_state = kvm_vcpu_set_state,
    .run = kvm_run,
    .kick = kvm_kick,
    .dirty_log = kvm_dirty_log,
    .entries = kvm_entries,
    .vm_destroy = kvm_vm_destroy,
};
