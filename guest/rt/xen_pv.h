/* zerg guest runtime: the parts of Xen's public PV interface (x86_64) the
 * runtime uses, written out so a guest builds without Xen's headers.
 * tests/unit/test_xen_pv_abi.c checks every offset and number here against
 * Xen's own headers (<xen/xen.h> and friends, from libxen-dev).
 *
 * Two users: hypercall.c (the mailbox transport, when zerg's monitor built
 * the domain) and xen.c (the standalone platform, when Xen's standard PV
 * builder did: `xl create`). */
#ifndef ZERG_RT_XEN_PV_H
#define ZERG_RT_XEN_PV_H

#include <stdint.h>

/* Hypercall numbers. A 64-bit PV guest kernel calls Xen with `syscall`:
 * RAX = number, arguments in RDI, RSI, RDX, R10; RCX and R11 clobbered. */
#define XEN_HC_MMU_UPDATE        1
#define XEN_HC_UPDATE_VA_MAPPING 14
#define XEN_HC_SCHED_OP          29
#define XEN_HC_EVTCHN_OP         32

#define XEN_SCHEDOP_SHUTDOWN  2
#define XEN_SCHEDOP_POLL      3
#define XEN_SHUTDOWN_POWEROFF 0
#define XEN_SHUTDOWN_REBOOT   1
#define XEN_SHUTDOWN_SUSPEND  2
#define XEN_SHUTDOWN_CRASH    3
#define XEN_EVTCHNOP_SEND     4

#define XEN_MMU_NORMAL_PT_UPDATE 0
#define XEN_UVMF_INVLPG          2
#define XEN_DOMID_SELF           0x7ff0u
/* The machine-to-physical table, readable by every 64-bit PV guest. */
#define XEN_M2P_VIRT_START       0xffff800000000000ull

/* Page-table entry bits. */
#define XEN_PTE_P    0x001ull
#define XEN_PTE_RW   0x002ull
#define XEN_PTE_US   0x004ull
#define XEN_PTE_A    0x020ull
#define XEN_PTE_D    0x040ull
#define XEN_PTE_PSE  0x080ull
#define XEN_PTE_ADDR 0x000ffffffffff000ull

struct xen_mmu_update {
    uint64_t ptr; /* machine address of the entry | XEN_MMU_* */
    uint64_t val;
};

struct xen_vcpu_time {
    uint32_t version; /* odd while Xen updates the record */
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time; /* ns since the domain's clock started, at tsc_timestamp */
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags;
    uint8_t pad1[2];
};

struct xen_vcpu_info {
    uint8_t evtchn_upcall_pending;
    uint8_t evtchn_upcall_mask;
    uint8_t pad[6];
    uint64_t evtchn_pending_sel;
    uint64_t cr2;
    uint64_t pad2;
    struct xen_vcpu_time time;
};

struct xen_shared_info {
    struct xen_vcpu_info vcpu_info[32];
    uint64_t evtchn_pending[64];
    uint64_t evtchn_mask[64];
    uint32_t wc_version; /* odd while Xen updates the wall clock */
    uint32_t wc_sec;
    uint32_t wc_nsec;
    uint32_t wc_sec_hi;
    /* arch_shared_info: how the toolstack finds the guest's P2M table */
    uint64_t max_pfn; /* number of entries in the P2M */
    uint64_t pfn_to_mfn_frame_list_list;
    uint64_t nmi_reason;
    uint64_t p2m_cr3;
    uint64_t p2m_vaddr;
    uint64_t p2m_generation;
};

struct xen_start_info {
    char magic[32]; /* "xen-3.0-x86_64" */
    uint64_t nr_pages;
    uint64_t shared_info; /* machine address of the shared info page */
    uint32_t flags;
    uint32_t pad0;
    uint64_t store_mfn;
    uint32_t store_evtchn;
    uint32_t pad1;
    uint64_t console_mfn;
    uint32_t console_evtchn;
    uint32_t pad2;
    uint64_t pt_base; /* virtual address of the bootstrap L4 */
    uint64_t nr_pt_frames;
    uint64_t mfn_list; /* virtual address of the P2M (nr_pages entries) */
    uint64_t mod_start;
    uint64_t mod_len;
    char cmd_line[1024];
    uint64_t first_p2m_pfn;
    uint64_t nr_p2m_frames;
};

struct xen_console_ring {
    char in[1024];
    char out[2048];
    uint32_t in_cons, in_prod;
    uint32_t out_cons, out_prod;
};

struct xen_store_ring {
    char req[1024];
    char rsp[1024];
    uint32_t req_cons, req_prod;
    uint32_t rsp_cons, rsp_prod;
    uint32_t server_features;
    uint32_t connection;
    uint32_t error;
};

struct xen_store_msg {
    uint32_t type;
    uint32_t req_id;
    uint32_t tx_id;
    uint32_t len; /* bytes of payload that follow */
};

#define XEN_XS_READ        2
#define XEN_XS_WATCH       4
#define XEN_XS_WRITE       11
#define XEN_XS_WATCH_EVENT 15
#define XEN_XS_ERROR       16
#define XEN_XS_PAYLOAD_MAX 4096

struct xen_sched_poll {
    uint32_t *ports;
    uint32_t nr_ports;
    uint32_t pad;
    uint64_t timeout; /* 0: none */
};

static inline long zg_xen_hypercall(unsigned long nr, unsigned long a1, unsigned long a2,
                                    unsigned long a3, unsigned long a4)
{
    long ret;
    register unsigned long r10 __asm__("r10") = a4;
    __asm__ volatile("syscall"
                     : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10)
                     : "a"(nr)
                     : "rcx", "r11", "memory");
    return ret;
}

/* Blocks until the port is pending (events stay masked: no upcall). */
static inline void zg_xen_poll(uint32_t port)
{
    struct xen_sched_poll poll = {&port, 1, 0, 0};
    zg_xen_hypercall(XEN_HC_SCHED_OP, XEN_SCHEDOP_POLL, (uintptr_t)&poll, 0, 0);
}

#endif
