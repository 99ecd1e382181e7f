/* The guest runtime's copy of Xen's PV interface (guest/rt/xen_pv.h),
 * checked field by field against Xen's own public headers. */
#define __XEN_INTERFACE_VERSION__ 0x00040e00 /* the current calls, not the compat ones */
#include <stddef.h>
#include <stdint.h>
#include <xen/event_channel.h>
#include <xen/io/console.h>
#include <xen/io/xs_wire.h>
#include <xen/sched.h>
#include <xen/xen.h>

#include "guest/rt/xen_pv.h"
#include "tests/zt.h"

#define SAME_FIELD(ours, theirs, f_ours, f_theirs)                                                 \
    do {                                                                                           \
        ZT_EQ(offsetof(ours, f_ours), offsetof(theirs, f_theirs));                                 \
        ZT_EQ(sizeof(((ours *)0)->f_ours), sizeof(((theirs *)0)->f_theirs));                       \
    } while (0)

ZT_TEST(hypercall_numbers)
{
    ZT_EQ(XEN_HC_MMU_UPDATE, __HYPERVISOR_mmu_update);
    ZT_EQ(XEN_HC_UPDATE_VA_MAPPING, __HYPERVISOR_update_va_mapping);
    ZT_EQ(XEN_HC_SCHED_OP, __HYPERVISOR_sched_op);
    ZT_EQ(XEN_HC_EVTCHN_OP, __HYPERVISOR_event_channel_op);
    ZT_EQ(XEN_SCHEDOP_SHUTDOWN, SCHEDOP_shutdown);
    ZT_EQ(XEN_SCHEDOP_POLL, SCHEDOP_poll);
    ZT_EQ(XEN_SHUTDOWN_POWEROFF, SHUTDOWN_poweroff);
    ZT_EQ(XEN_SHUTDOWN_REBOOT, SHUTDOWN_reboot);
    ZT_EQ(XEN_SHUTDOWN_SUSPEND, SHUTDOWN_suspend);
    ZT_EQ(XEN_SHUTDOWN_CRASH, SHUTDOWN_crash);
    ZT_EQ(XEN_EVTCHNOP_SEND, EVTCHNOP_send);
    ZT_EQ(XEN_MMU_NORMAL_PT_UPDATE, MMU_NORMAL_PT_UPDATE);
    ZT_EQ(XEN_UVMF_INVLPG, UVMF_INVLPG);
    ZT_EQ(XEN_DOMID_SELF, DOMID_SELF);
    ZT_EQ(XEN_M2P_VIRT_START, MACH2PHYS_VIRT_START);
    ZT_EQ(sizeof(struct xen_mmu_update), sizeof(mmu_update_t));
    ZT_EQ(sizeof(uint32_t), sizeof(struct sched_shutdown));
    ZT_EQ(sizeof(struct xen_sched_poll), sizeof(struct sched_poll));
    SAME_FIELD(struct xen_sched_poll, struct sched_poll, nr_ports, nr_ports);
    SAME_FIELD(struct xen_sched_poll, struct sched_poll, timeout, timeout);
}

ZT_TEST(shared_info)
{
    typedef struct xen_shared_info O;
    typedef struct shared_info T;
    ZT_EQ(sizeof(O), sizeof(T));
    SAME_FIELD(O, T, vcpu_info, vcpu_info);
    SAME_FIELD(O, T, evtchn_pending, evtchn_pending);
    SAME_FIELD(O, T, evtchn_mask, evtchn_mask);
    SAME_FIELD(O, T, wc_version, wc_version);
    SAME_FIELD(O, T, wc_sec, wc_sec);
    SAME_FIELD(O, T, wc_nsec, wc_nsec);
    SAME_FIELD(O, T, wc_sec_hi, wc_sec_hi);
    SAME_FIELD(O, T, max_pfn, arch.max_pfn);
    SAME_FIELD(O, T, pfn_to_mfn_frame_list_list, arch.pfn_to_mfn_frame_list_list);
    SAME_FIELD(O, T, p2m_cr3, arch.p2m_cr3);
    SAME_FIELD(O, T, p2m_generation, arch.p2m_generation);
}

ZT_TEST(vcpu_info_and_time)
{
    ZT_EQ(sizeof(struct xen_vcpu_info), sizeof(struct vcpu_info));
    SAME_FIELD(struct xen_vcpu_info, struct vcpu_info, evtchn_upcall_pending,
               evtchn_upcall_pending);
    SAME_FIELD(struct xen_vcpu_info, struct vcpu_info, evtchn_upcall_mask, evtchn_upcall_mask);
    SAME_FIELD(struct xen_vcpu_info, struct vcpu_info, evtchn_pending_sel, evtchn_pending_sel);
    SAME_FIELD(struct xen_vcpu_info, struct vcpu_info, time, time);
    typedef struct xen_vcpu_time O;
    typedef struct vcpu_time_info T;
    ZT_EQ(sizeof(O), sizeof(T));
    SAME_FIELD(O, T, version, version);
    SAME_FIELD(O, T, tsc_timestamp, tsc_timestamp);
    SAME_FIELD(O, T, system_time, system_time);
    SAME_FIELD(O, T, tsc_to_system_mul, tsc_to_system_mul);
    SAME_FIELD(O, T, tsc_shift, tsc_shift);
}

ZT_TEST(start_info)
{
    typedef struct xen_start_info O;
    typedef start_info_t T;
    ZT_EQ(sizeof(O), sizeof(T));
    SAME_FIELD(O, T, magic, magic);
    SAME_FIELD(O, T, nr_pages, nr_pages);
    SAME_FIELD(O, T, shared_info, shared_info);
    SAME_FIELD(O, T, flags, flags);
    SAME_FIELD(O, T, store_mfn, store_mfn);
    SAME_FIELD(O, T, store_evtchn, store_evtchn);
    SAME_FIELD(O, T, console_mfn, console.domU.mfn);
    SAME_FIELD(O, T, console_evtchn, console.domU.evtchn);
    SAME_FIELD(O, T, pt_base, pt_base);
    SAME_FIELD(O, T, nr_pt_frames, nr_pt_frames);
    SAME_FIELD(O, T, mfn_list, mfn_list);
    SAME_FIELD(O, T, mod_start, mod_start);
    SAME_FIELD(O, T, mod_len, mod_len);
    SAME_FIELD(O, T, cmd_line, cmd_line);
    SAME_FIELD(O, T, first_p2m_pfn, first_p2m_pfn);
    SAME_FIELD(O, T, nr_p2m_frames, nr_p2m_frames);
}

ZT_TEST(rings)
{
    typedef struct xen_console_ring C;
    typedef struct xencons_interface XC;
    ZT_EQ(sizeof(C), sizeof(XC));
    SAME_FIELD(C, XC, in, in);
    SAME_FIELD(C, XC, out, out);
    SAME_FIELD(C, XC, in_cons, in_cons);
    SAME_FIELD(C, XC, in_prod, in_prod);
    SAME_FIELD(C, XC, out_cons, out_cons);
    SAME_FIELD(C, XC, out_prod, out_prod);
    typedef struct xen_store_ring S;
    typedef struct xenstore_domain_interface XS;
    ZT_EQ(sizeof(S), sizeof(XS));
    SAME_FIELD(S, XS, req, req);
    SAME_FIELD(S, XS, rsp, rsp);
    SAME_FIELD(S, XS, req_cons, req_cons);
    SAME_FIELD(S, XS, req_prod, req_prod);
    SAME_FIELD(S, XS, rsp_cons, rsp_cons);
    SAME_FIELD(S, XS, rsp_prod, rsp_prod);
    ZT_EQ(sizeof(struct xen_store_msg), sizeof(struct xsd_sockmsg));
    SAME_FIELD(struct xen_store_msg, struct xsd_sockmsg, len, len);
    ZT_EQ(XEN_XS_READ, XS_READ);
    ZT_EQ(XEN_XS_WATCH, XS_WATCH);
    ZT_EQ(XEN_XS_WRITE, XS_WRITE);
    ZT_EQ(XEN_XS_WATCH_EVENT, XS_WATCH_EVENT);
    ZT_EQ(XEN_XS_ERROR, XS_ERROR);
    ZT_EQ(XEN_XS_PAYLOAD_MAX, XENSTORE_PAYLOAD_MAX);
}

int main(void)
{
    ZT_RUN(hypercall_numbers);
    ZT_RUN(shared_info);
    ZT_RUN(vcpu_info_and_time);
    ZT_RUN(start_info);
    ZT_RUN(rings);
    ZT_MAIN_END;
}
