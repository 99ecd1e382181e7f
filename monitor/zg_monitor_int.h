/* zg_monitor internals shared by instance.c, layout.c and hypercall.c. */
#ifndef ZG_MONITOR_INT_H
#define ZG_MONITOR_INT_H

#include <signal.h>

#include "monitor/zg_monitor.h"
#include "monitor/zg_persona.h"

struct zg_instance {
    struct zg_inst_config cfg;
    const struct zg_hv_ops *hv;
    struct zg_hv_vm *vm;
    uint8_t *mem;
    uint64_t mem_size;
    uint64_t id;
    struct zg_hv_pv_layout pv; /* paravirt: the layout, incl. the guest's port; else zero
                                * (so its page-table region is empty) */
    uint64_t deadline_at;      /* absolute ns; 0 until the first run */
    volatile sig_atomic_t expired;
    volatile sig_atomic_t tick; /* the timer fired: time to count private pages */
    /* Which pages were written (monitor/written.c), with ZG_INST_TRACK_DIRTY:
     * by the host's page table (pagemap_fd >= 0), or by KVM's dirty log
     * (log_scratch, host_dirty). */
    int pagemap_fd;         /* this process's /proc/self/pagemap */
    uint8_t *idle;          /* per page: 0 not a kept copy, else resets it has been kept */
    uint64_t kept;          /* copies kept at the last reset */
    const uint8_t *image;   /* the image the last reset compared with */
    uint64_t *log_scratch;  /* KVM's log: one dirty-log read */
    uint64_t private_pages; /* as last counted */
    uint64_t ready_gpa;     /* the READY struct the guest is stopped in; 0 if none */
    unsigned ready_nr;      /* zerg ABI: which call it is, ZG_HC_READY or ZG_HC_READY_RECV */
    int last_hc;            /* zerg ABI: the last hypercall's number, -1 none yet */
    int stopped_at_ready;
    int dead; /* the run ended for good */
    uint64_t bytes_in, bytes_out, console_bytes;
    uint64_t runs;        /* backend run() calls (KVM_RUN round trips) since created or reset */
    uint64_t *host_dirty; /* KVM's log: pages the monitor wrote, and the guest's writes
                           * read from the log so far */
    struct zg_inst_times t;
    const struct zg_persona_ops *persona; /* NULL until booted or resumed: zerg */
    void *pdata;                          /* the personality's state of this instance */
    char err[256];
};

/* zerg's own personality (monitor/persona.c): its boot and template point. */
int zg_zerg_boot(struct zg_instance *in, const void *image, size_t size);

/* Sets the instance's error message (zg_inst_error); returns 0. */
int zg_inst_fail(struct zg_instance *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int zg_zerg_complete_ready(struct zg_instance *in, int restored);
/* The zerg ABI's guest_restores_fpu: READY's ZG_READY_SELF_FPU, as the
 * guest's memory (put back by a reset) holds it. */
int zg_zerg_guest_restores_fpu(const struct zg_instance *in);
/* The zerg ABI's last_call: the last hypercall's name. */
void zg_zerg_last_call(const struct zg_instance *in, char *buf, size_t len);

/* The request stream (cfg.in_fd) and response stream (cfg.out_fd), for every
 * personality: zg_io_recv reads at most len bytes (0 at the end of the
 * stream), waiting while the stream is empty; zg_io_send writes all len
 * bytes. Both honour the deadline and count bytes_in/bytes_out; errors are
 * -ZG_EIO, or -ZG_EPIPE when the peer of the response went away. */
int64_t zg_io_recv(struct zg_instance *in, uint8_t *buf, uint64_t len);
/* The request's bytes that are there now, at most len (> 0), never
 * waiting: the number read, 0 at the end of the stream (or with none),
 * -EAGAIN if none has come yet, -ZG_EIO. */
int64_t zg_io_recv_now(struct zg_instance *in, uint8_t *buf, uint64_t len);
int64_t zg_io_send(struct zg_instance *in, const uint8_t *buf, uint64_t len);

/* Writes to the instance's console (cfg.console_fd), at most ZG_CONSOLE_CAP
 * bytes over the instance's life; best effort. Returns len. */
int64_t zg_console_write(struct zg_instance *in, const uint8_t *buf, uint64_t len);

/* Fills buf with len bytes from the host's random pool. 0 or -errno. */
int zg_fill_random(void *buf, size_t len);

/* CLOCK_REALTIME in nanoseconds. */
uint64_t zg_wall_ns(void);

/* What a hypercall asks of the run loop. */
enum zg_hc_action {
    ZG_HC_CONTINUE, /* resume the guest */
    ZG_HC_STOP,     /* res is filled: the run is over (or stopped at READY) */
};

/* Dispatches hypercall `nr` with argument struct at guest address `gpa`. */
enum zg_hc_action zg_hc_dispatch(struct zg_instance *in, unsigned nr, uint64_t gpa,
                                 struct zg_run_result *res);

/* This process's /proc/self/pagemap, opened on first use (again in a
 * forked child) and shared by its instances; -1 if it cannot be opened. */
int zg_written_pagemap(void);

/* Which guest pages were written (monitor/written.c). zg_written_init
 * chooses the way for an instance with ZG_INST_TRACK_DIRTY (the host's page
 * table when memory maps an image and PAGEMAP_SCAN works, unless
 * ZERG_DIRTY_LOG=kvm; else KVM's dirty log) and allocates; -ENOMEM.
 * zg_written_mem_flags gives the flags for mem_map. zg_written_count sets
 * private_pages (pages written since the reset; exact only when over limit).
 * zg_written_put_back makes guest memory equal image again and counts the
 * pages it copied. Both 0 or -errno. */
int zg_written_init(struct zg_instance *in);
unsigned zg_written_mem_flags(const struct zg_instance *in);
const char *zg_written_method(const struct zg_instance *in);
int zg_written_count(struct zg_instance *in, uint64_t limit);
int zg_written_put_back(struct zg_instance *in, const uint8_t *image, uint64_t *copied);
void zg_written_free(struct zg_instance *in);

/* Makes the hypervisor forget every translation it holds of the guest's
 * memory (KVM: the memory slot is deleted and added again, which drops its
 * shadow or nested page tables; ~0.2 ms here, then the guest's next touches
 * build them again), keeping what the dirty log had recorded. For a monitor
 * that changed a guest page-table entry from present to absent or to
 * another frame, which kvm_pvm's shadow MMU does not see. 0 or -errno;
 * -ENOTSUP for a paravirtual backend. */
int zg_inst_forget_mappings(struct zg_instance *in);

/* The backend owns guest memory and validates page tables (Xen PV). */
static inline int zg_paravirt(const struct zg_instance *in)
{
    return (in->hv->caps & ZG_HV_CAP_PARAVIRT) != 0;
}

/* Host pointer to guest range [gpa, gpa+len) if it lies wholly inside the
 * guest-accessible memory [ZG_GUEST_LOAD_MIN, mem_size); NULL otherwise. */
static inline void *zg_guest_ptr(const struct zg_instance *in, uint64_t gpa, uint64_t len)
{
    if (gpa < ZG_GUEST_LOAD_MIN || gpa > in->mem_size || len > in->mem_size - gpa)
        return NULL;
    if (gpa < in->pv.pt_end && gpa + len > in->pv.pt_start)
        return NULL; /* the PV page tables are not the guest's to name */
    return in->mem + gpa;
}

/* zg_guest_ptr for memory the monitor will write: with ZG_INST_TRACK_DIRTY
 * the pages are recorded, since KVM's dirty log sees only guest writes
 * (zg_guest_mark records a range already checked, e.g. the bytes a read
 * actually filled). */
static inline void zg_guest_mark(struct zg_instance *in, uint64_t gpa, uint64_t len)
{
    if (in->host_dirty && len)
        for (uint64_t pg = gpa / ZG_PAGE_SIZE; pg <= (gpa + len - 1) / ZG_PAGE_SIZE; pg++)
            in->host_dirty[pg / 64] |= 1ull << (pg % 64);
}

static inline void *zg_guest_wptr(struct zg_instance *in, uint64_t gpa, uint64_t len)
{
    uint8_t *p = zg_guest_ptr(in, gpa, len);
    if (p)
        zg_guest_mark(in, gpa, len);
    return p;
}

/* Writes page tables, GDT, TSS and boot info into memory, and fills *st with
 * the ABI entry state (RIP = entry, RDI = boot info, RSP = stack top). */
int zg_layout_build(uint8_t *mem, uint64_t mem_size, uint64_t image_end, uint64_t entry,
                    const char *cmdline, struct zg_vcpu_state *st);

/* The paravirtual (Xen PV) layout of mem_size bytes: page-table region at
 * the top of the heap, below the stack. */
void zg_layout_pv_plan(uint64_t mem_size, struct zg_hv_pv_layout *l);

/* As zg_layout_build, for a paravirtual backend: canonical PV page tables
 * (4 KiB pages only, the table region itself unmapped), no GDT or TSS, and
 * the Xen fields of the boot info. */
int zg_layout_build_pv(uint8_t *mem, const struct zg_hv_pv_layout *l, uint64_t image_end,
                       uint64_t entry, const char *cmdline, struct zg_vcpu_state *st);

#endif /* ZG_MONITOR_INT_H */
