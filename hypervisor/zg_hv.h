/* zg_hv: the hypervisor ops table every backend (KVM, Xen) implements.
 *
 * What it does
 *   A backend creates a one-vCPU virtual machine over guest memory the
 *   caller owns, gets and sets the vCPU's complete architectural state in a
 *   backend-independent form, runs the vCPU until something needs the
 *   monitor, and destroys the VM.
 *
 * What it does not do
 *   Load ELF files, build page tables, dispatch hypercalls or keep time:
 *   that is monitor/ and is the same for every backend. snapshotter/ and
 *   restorer/ use this header only, never a backend's.
 *
 * Usage
 *     const struct zg_hv_ops *hv = zg_hv_lookup("kvm");
 *     struct zg_hv_vm *vm;
 *     if ((rc = hv->vm_create(&vm)) < 0) ...
 *     hv->mem_map(vm, mem, size, 0);
 *     hv->vcpu_set_state(vm, &state, ZG_VCPU_ALL);
 *     for (;;) { hv->run(vm, &exit); ... }
 *     hv->vm_destroy(vm);
 *
 * Errors: every hook returns 0 or a negative errno. vm_create that fails
 * creates nothing; any other hook that fails may have changed part of the
 * VM (vcpu_set_state sets registers group by group; mem_map removes the old
 * memory before adding the new), so the caller destroys a VM whose hook
 * failed instead of running it. Messages are the caller's job.
 *
 * Threads: a VM is driven by one thread at a time. kick() is the one hook
 * that may be called from another context (a signal handler on the running
 * thread): it must be async-signal-safe.
 */
#ifndef ZG_HV_H
#define ZG_HV_H

#include <stddef.h>
#include <stdint.h>

/* ---- Backend-independent vCPU state --------------------------------------
 * Fixed-width fields only: this struct is what templates store (see
 * docs/format.md), so its layout is asserted. */

struct zg_regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags;
};
_Static_assert(sizeof(struct zg_regs) == 144, "zg_regs layout");

struct zg_segment {
    uint64_t base;
    uint32_t limit;
    uint16_t selector;
    uint8_t type, present, dpl, db, s, l, g, avl, unusable;
    uint8_t pad[9];
};
_Static_assert(sizeof(struct zg_segment) == 32, "zg_segment layout");

struct zg_dtable {
    uint64_t base;
    uint16_t limit;
    uint16_t pad[3];
};
_Static_assert(sizeof(struct zg_dtable) == 16, "zg_dtable layout");

struct zg_sregs {
    struct zg_segment cs, ds, es, fs, gs, ss, tr, ldt;
    struct zg_dtable gdt, idt;
    uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base;
};
_Static_assert(sizeof(struct zg_sregs) == 344, "zg_sregs layout");

/* The model-specific registers a 64-bit CPL3 guest can observe or that the
 * entry state depends on, in a fixed order. */
enum zg_msr_index {
    ZG_MSR_STAR,
    ZG_MSR_LSTAR,
    ZG_MSR_CSTAR,
    ZG_MSR_SFMASK,
    ZG_MSR_KERNEL_GS_BASE,
    ZG_MSR_TSC_AUX,
    ZG_MSR_PAT,
    ZG_MSR_COUNT
};

#define ZG_XSAVE_SIZE 4096u

struct zg_fpu {
    uint8_t xsave[ZG_XSAVE_SIZE]; /* the XSAVE area (legacy FXSAVE image first) */
    uint64_t xcr0;
    uint32_t xsave_valid; /* 1: xsave holds an XSAVE image; 0: only the FXSAVE part */
    uint32_t pad;
};
_Static_assert(sizeof(struct zg_fpu) == 4112, "zg_fpu layout");

struct zg_vcpu_state {
    struct zg_regs regs;
    struct zg_sregs sregs;
    uint64_t msrs[ZG_MSR_COUNT];
    struct zg_fpu fpu;
};
_Static_assert(sizeof(struct zg_vcpu_state) == 4656, "zg_vcpu_state layout");

/* Which parts vcpu_get_state/vcpu_set_state move. FPU is the x87/SSE/AVX
 * state (XSAVE) and, read, XCR0 too; XCRS sets XCR0 (fpu.xcr0). A guest at
 * CPL3 can change neither the MSRS nor XCR0, so a pooled reset leaves them
 * as the restore set them (ZG_VCPU_RESET). */
#define ZG_VCPU_REGS  0x1u
#define ZG_VCPU_SREGS 0x2u
#define ZG_VCPU_MSRS  0x4u
#define ZG_VCPU_FPU   0x8u
#define ZG_VCPU_XCRS  0x10u
#define ZG_VCPU_ALL   0x1fu
#define ZG_VCPU_RESET (ZG_VCPU_REGS | ZG_VCPU_SREGS | ZG_VCPU_FPU)

/* ---- Exits -------------------------------------------------------------- */
enum zg_exit_reason {
    ZG_EXIT_IO,       /* an `out` to port `port` with 32-bit value `value` */
    ZG_EXIT_HALT,     /* `hlt` */
    ZG_EXIT_SHUTDOWN, /* triple fault: an exception the guest cannot handle */
    ZG_EXIT_KICKED,   /* kick() was called; the vCPU is stopped at an instruction boundary */
    ZG_EXIT_MMIO,     /* an access to guest-physical `addr` outside guest memory */
    ZG_EXIT_ERROR,    /* anything else the backend cannot continue from; see `detail` */
};

struct zg_hv_exit {
    enum zg_exit_reason reason;
    uint16_t port;
    uint32_t value;
    uint64_t addr;
    char detail[96]; /* for ZG_EXIT_ERROR/MMIO: what the backend saw */
    /* ZG_EXIT_SHUTDOWN: the exception that could not be delivered, as far as
     * the backend can tell (KVM: the vCPU's last exception and CR2). */
    int exc_vector;     /* 0..31, or -1 unknown */
    int exc_has_error;  /* exc_error is valid */
    uint32_t exc_error; /* the exception's error code */
    uint64_t exc_cr2;   /* CR2: the faulting address of a #PF */
};

/* ---- Paravirtual memory layout (Xen PV) ----------------------------------
 * Where the monitor puts what a paravirtualised backend must know about:
 * the page-table region (never mapped into the guest; canonical tables in
 * the host view), the page whose canonical mapping stands for the
 * hypervisor's shared info, and the mailbox the guest calls through (see
 * abi.h, "The Xen PV transport"). */
struct zg_hv_pv_layout {
    uint64_t mem_size;
    uint64_t pt_start, pt_end; /* page aligned, inside [ZG_GUEST_LOAD_MIN, mem_size) */
    uint64_t l4_gpa;           /* the top-level table, inside the region, then */
    uint64_t l3_gpa;           /* the one L3 table, */
    uint64_t l2_gpa;           /* one L2 table per GiB, */
    uint64_t l1_gpa;           /* one L1 table per 2 MiB, up to pt_end */
    uint64_t shared_info_gpa;  /* a page below 1 MiB */
    uint64_t mailbox_gpa;      /* a page below 1 MiB */
    uint32_t port;             /* OUT of mem_alloc: the guest's event channel port */
    uint32_t pad;
};

/* ---- The ops table ------------------------------------------------------- */
struct zg_hv_vm; /* opaque, owned by the backend */

/* What a backend can do (zg_hv_ops.caps), so callers ask instead of
 * guessing from which hooks are set. */
#define ZG_HV_CAP_DIRTY_LOG 0x1u /* mem_map takes ZG_MEM_DIRTY_LOG: pooled reset, memory cap */
#define ZG_HV_CAP_PARAVIRT                                                                         \
    0x2u /* the hypervisor owns guest memory and validates page tables (mem_alloc, the PV          \
          * layout); the caller cannot map an image file as guest memory */
#define ZG_HV_CAP_LINUX 0x4u /* runs the Linux personality's programs (its entry, its layout) */

struct zg_hv_ops {
    /* Short name: "kvm", "xen". */
    const char *name;

    /* ZG_HV_CAP_* */
    unsigned caps;

    /* Checks the backend can run here (device present, API version, needed
     * capabilities). 0, or a negative errno (-ENOENT: no device, -EACCES:
     * no permission, -ENOTSUP: missing capability) with why in detail. */
    int (*probe)(char *detail, size_t detail_len);

    /* Creates a VM with one vCPU and no memory. */
    int (*vm_create)(struct zg_hv_vm **out);

    /* Makes [host, host+size) the guest's physical memory from GPA 0.
     * size and host are page aligned; the caller keeps the mapping alive
     * until vm_destroy. flags: ZG_MEM_DIRTY_LOG to track written pages.
     * May be called again to replace the memory. */
    int (*mem_map)(struct zg_hv_vm *vm, void *host, uint64_t size, unsigned flags);

    /* Set exactly when caps has ZG_HV_CAP_PARAVIRT (NULL for KVM, where the
     * caller owns guest memory and the guest's page tables are ordinary
     * memory): a paravirtualised backend (Xen PV) whose hypervisor owns
     * guest memory and validates the guest's page tables. Allocates l->mem_size bytes of guest
     * memory from GPA 0, maps it into this process at *host (valid until vm_destroy) and opens the
     * event channel the guest calls through (l->port, OUT). The pages in [l->pt_start, l->pt_end)
     * are the page-table region: the host view of it is the tables in canonical form (entries hold
     * guest frame numbers, as the monitor writes them); vcpu_set_state translates them into the
     * hypervisor's frames. Called at most once per VM. */
    int (*mem_alloc)(struct zg_hv_vm *vm, struct zg_hv_pv_layout *l, unsigned flags, void **host);

    /* Copies the parts named by `what` (ZG_VCPU_*) out of / into the vCPU.
     * get_state after an IO exit first completes the `out` instruction (Xen:
     * marks the mailbox call answered), so the state saved resumes after it.
     * KVM hands REGS and SREGS over through the run page (KVM_CAP_SYNC_REGS)
     * where it can: set_state then costs no ioctl for them, they take effect
     * at the next run, get_state reads back what was set; SREGS equal to
     * what the vCPU holds are not set again.
     * A paravirtualised backend sets REGS and SREGS together (sregs.cr3 is
     * then the GPA of the canonical top-level table) and refuses to get
     * SREGS if the guest changed its page tables behind the monitor. */
    int (*vcpu_get_state)(struct zg_hv_vm *vm, struct zg_vcpu_state *st, unsigned what);
    int (*vcpu_set_state)(struct zg_hv_vm *vm, const struct zg_vcpu_state *st, unsigned what);

    /* Runs the vCPU until an exit the monitor must handle. 0 with *exit
     * filled, or a negative errno when the backend itself failed. */
    int (*run)(struct zg_hv_vm *vm, struct zg_hv_exit *exit);

    /* How many times the vCPU was entered (KVM_RUN calls: run()'s, and those
     * that only complete an `out` before a state change); NULL where the
     * backend has no such count (Xen). */
    uint64_t (*entries)(const struct zg_hv_vm *vm);

    /* Makes the current or next run() return ZG_EXIT_KICKED promptly.
     * Async-signal-safe. */
    void (*kick)(struct zg_hv_vm *vm);

    /* Fills bitmap (one bit per 4 KiB page, size/4096 bits rounded up to
     * 64) with the pages written since the last call, and clears the log.
     * Needs ZG_MEM_DIRTY_LOG. */
    int (*dirty_log)(struct zg_hv_vm *vm, uint64_t *bitmap);

    /* Frees everything vm_create and later hooks made. Never fails. */
    void (*vm_destroy)(struct zg_hv_vm *vm);

    /* Optional: the hypervisor's own id of the VM (Xen: the domain id), or
     * -1; for messages and tests. */
    int (*domain_id)(const struct zg_hv_vm *vm);
};

#define ZG_MEM_DIRTY_LOG 0x1u

/* The backends built into this binary (the Makefile picks them). */
extern const struct zg_hv_ops zg_hv_kvm_ops;
extern const struct zg_hv_ops zg_hv_xen_ops;

/* The backend called `name`, or NULL when it is not built in. */
const struct zg_hv_ops *zg_hv_lookup(const char *name);

/* Names of the built-in backends, NULL-terminated. */
const char *const *zg_hv_names(void);

#endif /* ZG_HV_H */
