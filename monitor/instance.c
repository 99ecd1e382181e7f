/* zg_monitor: instance lifecycle, the run loop and the deadline. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "monitor/zg_elf.h"
#include "monitor/zg_monitor_int.h"

#define ZG_DEADLINE_SIGNAL (SIGRTMIN + 1)

uint64_t zg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int zg_inst_fail(struct zg_instance *in, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(in->err, sizeof(in->err), fmt, ap);
    va_end(ap);
    return 0;
}
#define fail zg_inst_fail

struct zg_inst_config zg_inst_config_default(void)
{
    return (struct zg_inst_config){
        .hv = NULL,
        .mem_size = ZG_DEFAULT_MEM,
        .deadline_ms = ZG_DEFAULT_DEADLINE_MS,
        .cmdline = "",
        .in_fd = -1,
        .out_fd = -1,
        .console_fd = 2,
        .image_fd = -1,
        .flags = 0,
    };
}

/* ---- The deadline: one POSIX timer per thread, aimed at that thread ----- */

static _Thread_local struct zg_instance *volatile tl_running;
static _Thread_local timer_t tl_timer;
static _Thread_local int tl_timer_ok;
static pthread_once_t sig_once = PTHREAD_ONCE_INIT;

static void deadline_handler(int sig)
{
    (void)sig;
    struct zg_instance *in = tl_running;
    if (in) {
        if (in->deadline_at && zg_now_ns() >= in->deadline_at)
            in->expired = 1;
        in->tick = 1;
        in->hv->kick(in->vm);
    }
}

/* POSIX timers are not inherited across fork(): a child must make its own. */
static void forget_timer_in_child(void)
{
    tl_timer_ok = 0;
    tl_running = NULL;
}

static void install_handler(void)
{
    pthread_atfork(NULL, NULL, forget_timer_in_child);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = deadline_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking calls return EINTR */
    sigaction(ZG_DEADLINE_SIGNAL, &sa, NULL);
    /* A guest's peer closing its pipe or socket is an error for SEND, not a
     * reason to kill the monitor. */
    signal(SIGPIPE, SIG_IGN);
}

int zg_monitor_presandbox(const struct zg_hv_ops *hv)
{
    char detail[160];
    if (hv && hv->probe && hv->probe(detail, sizeof(detail)) < 0)
        return -ENODEV;
    pthread_once(&sig_once, install_handler); /* sigaction */
    zg_written_pagemap(); /* may be -1 on old kernels: instances then use KVM's log */
    return 0;
}

static int arm_deadline(struct zg_instance *in)
{
    if (!tl_timer_ok) {
        struct sigevent sev;
        memset(&sev, 0, sizeof(sev));
        sev.sigev_notify = SIGEV_THREAD_ID;
        sev.sigev_signo = ZG_DEADLINE_SIGNAL;
        sev._sigev_un._tid = gettid(); /* glibc 2.36 names no macro for it */
        if (timer_create(CLOCK_MONOTONIC, &sev, &tl_timer) < 0)
            return -errno;
        tl_timer_ok = 1;
    }
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    if (in->cfg.mem_cap) {
        /* Ticks from now on: each counts the private pages and checks the deadline. */
        its.it_value.tv_nsec = ZG_MEMCAP_TICK_MS * 1000000L;
        its.it_interval.tv_nsec = ZG_MEMCAP_TICK_MS * 1000000L;
        if (timer_settime(tl_timer, 0, &its, NULL) < 0)
            return -errno;
        return 0;
    }
    if (in->deadline_at) {
        its.it_value.tv_sec = (time_t)(in->deadline_at / 1000000000ull);
        its.it_value.tv_nsec = (long)(in->deadline_at % 1000000000ull);
        /* Re-fire every 10 ms in case a kick landed between two KVM_RUNs. */
        its.it_interval.tv_nsec = 10 * 1000000L;
    }
    if (timer_settime(tl_timer, TIMER_ABSTIME, &its, NULL) < 0)
        return -errno;
    return 0;
}

static void disarm_deadline(void)
{
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    if (tl_timer_ok)
        timer_settime(tl_timer, 0, &its, NULL);
}

/* ---- Lifecycle ------------------------------------------------------------ */

static uint64_t next_instance_id(void)
{
    static uint64_t counter;
    uint64_t n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    return ((uint64_t)getpid() << 32) | (n & 0xffffffffu);
}

/* The rest of zg_inst_create for a backend that owns guest memory (Xen PV):
 * the VM first, then memory from the hypervisor, laid out paravirtually. */
static int create_paravirt(struct zg_instance *in)
{
    const struct zg_inst_config *cfg = &in->cfg;
    if (cfg->image_fd >= 0 || cfg->mem_cap || (cfg->flags & ZG_INST_TRACK_DIRTY)) {
        fail(in, "%s backend: %s", in->hv->name,
             cfg->image_fd >= 0 ? "guest memory cannot be a mapped image (copy the pages in)"
                                : "no dirty log: pooled reset and the memory cap need KVM");
        return -ENOTSUP;
    }
    int rc = in->hv->vm_create(&in->vm);
    if (rc < 0) {
        in->vm = NULL;
        fail(in, "%s: cannot create a VM: %s", in->hv->name, strerror(-rc));
        return rc;
    }
    zg_layout_pv_plan(in->mem_size, &in->pv);
    void *mem = NULL;
    rc = in->hv->mem_alloc(in->vm, &in->pv, 0, &mem);
    if (rc < 0) {
        fail(in, "%s: cannot allocate %llu bytes of guest memory: %s", in->hv->name,
             (unsigned long long)in->mem_size, strerror(-rc));
        return rc;
    }
    in->mem = mem;
    in->t.created = zg_now_ns();
    return 0;
}

int zg_inst_create(const struct zg_inst_config *cfg, struct zg_instance **out)
{
    pthread_once(&sig_once, install_handler);
    struct zg_instance *in = calloc(1, sizeof(*in));
    if (!in)
        return -ENOMEM;
    *out = in;
    in->pagemap_fd = -1;
    in->cfg = *cfg;
    in->hv = cfg->hv ? cfg->hv : zg_hv_lookup("kvm");
    in->id = next_instance_id();
    in->last_hc = -1;
    if (!in->hv) {
        fail(in, "no hypervisor backend built in");
        return -ENODEV;
    }
    if (cfg->mem_size < ZG_MEM_MIN || cfg->mem_size > ZG_MEM_MAX || cfg->mem_size % ZG_MEM_ALIGN) {
        fail(in, "guest memory of %llu bytes: must be a multiple of 2 MiB from 4 MiB to 4 GiB",
             (unsigned long long)cfg->mem_size);
        return -EINVAL;
    }
    char detail[128] = "";
    int rc = in->hv->probe(detail, sizeof(detail));
    if (rc < 0) {
        fail(in, "%s backend unavailable: %s", in->hv->name, detail);
        return rc;
    }
    in->mem_size = cfg->mem_size;
    if (zg_paravirt(in))
        return create_paravirt(in);
    if (cfg->image_fd >= 0)
        in->mem = mmap(NULL, in->mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE,
                       cfg->image_fd, 0);
    else
        in->mem = mmap(NULL, in->mem_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (in->mem == MAP_FAILED) {
        in->mem = NULL;
        rc = -errno;
        fail(in, "cannot map %llu bytes of guest memory: %s", (unsigned long long)in->mem_size,
             strerror(-rc));
        return rc;
    }
    rc = in->hv->vm_create(&in->vm);
    if (rc < 0) {
        in->vm = NULL;
        fail(in, "%s: cannot create a VM: %s", in->hv->name, strerror(-rc));
        return rc;
    }
    if (cfg->mem_cap)
        in->cfg.flags |= ZG_INST_TRACK_DIRTY;
    if (zg_written_init(in) < 0) {
        fail(in, "out of memory for the written-page record");
        return -ENOMEM;
    }
    rc = in->hv->mem_map(in->vm, in->mem, in->mem_size, zg_written_mem_flags(in));
    if (rc < 0) {
        fail(in, "%s: cannot map guest memory: %s", in->hv->name, strerror(-rc));
        return rc;
    }
    in->t.created = zg_now_ns();
    return 0;
}

static int layout_failed(struct zg_instance *in, int rc)
{
    fail(in, "cannot lay out the guest: %s",
         rc == -E2BIG    ? "command line too long"
         : rc == -ENOSPC ? "image leaves no room for heap"
                         : strerror(-rc));
    return rc;
}

int zg_inst_boot_elf(struct zg_instance *in, const void *image, size_t size)
{
    /* Not an x86-64 ELF at all: zerg's own loader says exactly why. */
    const struct zg_persona_ops *p = zg_persona_for_image(image, size);
    in->persona = p ? p : zg_persona_lookup("zerg");
    return in->persona->boot(in, image, size);
}

int zg_zerg_boot(struct zg_instance *in, const void *image, size_t size)
{
    struct zg_elf_info info;
    char why[200];
    uint64_t limit = zg_paravirt(in) ? in->pv.pt_start : in->mem_size - ZG_STACK_SIZE;
    int rc = zg_elf_load(image, size, in->mem, in->mem_size, limit, &info, why, sizeof(why));
    if (rc < 0) {
        fail(in, "guest image refused: %s", why);
        return rc;
    }
    struct zg_vcpu_state st;
    memset(&st, 0, sizeof(st));
    if (zg_paravirt(in)) {
        rc = zg_layout_build_pv(in->mem, &in->pv, info.hi, info.entry, in->cfg.cmdline, &st);
        if (rc < 0)
            return layout_failed(in, rc);
        goto set;
    }
    /* Start from the vCPU's own reset values for what the ABI leaves alone
     * (APIC base, FPU defaults, MSRs). */
    rc = in->hv->vcpu_get_state(in->vm, &st, ZG_VCPU_SREGS);
    if (rc < 0) {
        fail(in, "%s: cannot read the vCPU state: %s", in->hv->name, strerror(-rc));
        return rc;
    }
    uint64_t apic_base = st.sregs.apic_base;
    rc = zg_layout_build(in->mem, in->mem_size, info.hi, info.entry, in->cfg.cmdline, &st);
    if (rc < 0)
        return layout_failed(in, rc);
    st.sregs.apic_base = apic_base;
set:
    rc = in->hv->vcpu_set_state(in->vm, &st, ZG_VCPU_REGS | ZG_VCPU_SREGS);
    if (rc < 0) {
        fail(in, "%s: cannot set the entry state: %s", in->hv->name, strerror(-rc));
        return rc;
    }
    in->t.loaded = zg_now_ns();
    return 0;
}

/* zg_inst_resume, setting the parts `what` of the vCPU state. */
static int resume_state(struct zg_instance *in, const struct zg_vcpu_state *st, uint64_t ready_gpa,
                        unsigned what)
{
    if ((ready_gpa & 7) || !zg_guest_ptr(in, ready_gpa, sizeof(struct zg_hc_ready))) {
        fail(in, "READY struct at 0x%llx is outside guest memory or misaligned",
             (unsigned long long)ready_gpa);
        return -EFAULT;
    }
    if (zg_paravirt(in)) {
        /* The captured guest calls through the port and mailbox its boot info
         * names; this domain's must be the same. */
        struct zg_boot_info bi;
        memcpy(&bi, in->mem + ZG_BOOT_INFO_GPA, sizeof(bi));
        if (!(bi.flags & ZG_BOOT_XEN_PV) || bi.xen_port != in->pv.port ||
            bi.xen_mailbox != in->pv.mailbox_gpa || bi.xen_shared_info != in->pv.shared_info_gpa ||
            bi.mem_size != in->mem_size) {
            fail(in, "the captured guest is not laid out for this %s domain (port %u, here %u)",
                 in->hv->name, bi.xen_port, in->pv.port);
            return -EPROTO;
        }
    }
    /* Which call the guest is stopped in (zerg ABI): the port of its `out`
     * (in DX), or on Xen the mailbox's call number; READY unless it is
     * READY_RECV with its whole struct in guest memory. */
    unsigned nr = ZG_HC_READY;
    if (zg_paravirt(in)) {
        struct zg_xen_mailbox mb;
        if (in->pv.mailbox_gpa && in->pv.mailbox_gpa <= in->mem_size - sizeof(mb)) {
            memcpy(&mb, in->mem + in->pv.mailbox_gpa, sizeof(mb));
            nr = mb.nr;
        }
    } else if ((st->regs.rdx & 0xffff) >= ZG_HC_PORT_BASE) {
        nr = (unsigned)(st->regs.rdx & 0xffff) - ZG_HC_PORT_BASE;
    }
    if (nr != ZG_HC_READY_RECV || !zg_guest_ptr(in, ready_gpa, sizeof(struct zg_hc_ready_recv)))
        nr = ZG_HC_READY;
    int rc = in->hv->vcpu_set_state(in->vm, st, what);
    if (rc < 0) {
        fail(in, "%s: cannot set the captured vCPU state: %s", in->hv->name, strerror(-rc));
        return rc;
    }
    in->ready_gpa = ready_gpa;
    in->ready_nr = nr;
    in->last_hc = (int)nr; /* it is inside that call */
    in->stopped_at_ready = 1;
    in->t.loaded = zg_now_ns();
    return 0;
}

int zg_inst_resume(struct zg_instance *in, const struct zg_vcpu_state *st, uint64_t ready_gpa)
{
    return resume_state(in, st, ready_gpa, ZG_VCPU_ALL);
}

int zg_inst_reset(struct zg_instance *in, const uint8_t *image, const struct zg_vcpu_state *st,
                  uint64_t ready_gpa, uint64_t *copied)
{
    if (!(in->cfg.flags & ZG_INST_TRACK_DIRTY) || zg_paravirt(in))
        return -EINVAL;
    /* The run ended in an `out` (a hypercall) or a fault: completing an
     * `out` writes no guest memory, only moves RIP, which the state set
     * below replaces (the backend completes it where it must: hv_kvm.c). */
    uint64_t n = 0;
    int rc = zg_written_put_back(in, image, &n);
    if (rc < 0) {
        fail(in, "%s: cannot put the written pages back (%s): %s", in->hv->name,
             zg_written_method(in), strerror(-rc));
        return rc;
    }
    if (copied)
        *copied = n;
    in->dead = 0;
    in->expired = 0;
    in->tick = 0;
    in->private_pages = 0;
    in->deadline_at = 0;
    in->stopped_at_ready = 0;
    in->bytes_in = in->bytes_out = in->console_bytes = in->runs = 0;
    memset(&in->t, 0, sizeof(in->t));
    in->t.created = zg_now_ns();
    in->id = next_instance_id();
    in->last_hc = -1;
    /* The MSRs and XCR0 are as the restore set them: neither the guest at
     * CPL3 nor the monitor after boot can change them. The FPU too when the
     * guest puts it back itself (ZG_READY_SELF_FPU, read from the struct
     * just put back: the template's, not what the request left). */
    unsigned what = ZG_VCPU_RESET;
    const struct zg_persona_ops *p = zg_inst_persona(in);
    if (p->guest_restores_fpu && p->guest_restores_fpu(in))
        what &= ~ZG_VCPU_FPU;
    return resume_state(in, st, ready_gpa, what);
}

void zg_inst_set_io(struct zg_instance *in, int in_fd, int out_fd)
{
    in->cfg.in_fd = in_fd;
    in->cfg.out_fd = out_fd;
}

int zg_inst_get_state(struct zg_instance *in, struct zg_vcpu_state *st)
{
    memset(st, 0, sizeof(*st));
    int rc = in->hv->vcpu_get_state(in->vm, st, ZG_VCPU_ALL);
    if (rc < 0)
        fail(in, "%s: cannot read the vCPU state: %s", in->hv->name, strerror(-rc));
    return rc;
}

int zg_inst_complete_ready(struct zg_instance *in, int restored)
{
    if (!in->stopped_at_ready)
        return -EINVAL;
    int rc = zg_inst_persona(in)->complete_ready(in, restored);
    if (rc < 0)
        return rc;
    in->stopped_at_ready = 0;
    if (!in->t.ready)
        in->t.ready = zg_now_ns();
    return 0;
}

uint64_t zg_inst_ready_gpa(const struct zg_instance *in)
{
    return in->stopped_at_ready ? in->ready_gpa : 0;
}

void zg_inst_destroy(struct zg_instance *in)
{
    if (!in)
        return;
    if (in->persona && in->persona->detach)
        in->persona->detach(in);
    if (in->vm)
        in->hv->vm_destroy(in->vm); /* paravirt: frees the memory too */
    if (in->mem && !zg_paravirt(in))
        munmap(in->mem, in->mem_size);
    zg_written_free(in);
    free(in);
}

/* ---- The run loop ----------------------------------------------------------- */

/* An exception the guest could not take (it has no IDT: every exception is
 * a triple fault), in words: which, its error code, a page fault's address
 * and access. */
static void describe_exception(const struct zg_hv_exit *ex, char *buf, size_t len)
{
    static const char *const names[32] = {"divide error (#DE)",
                                          "debug exception (#DB)",
                                          "NMI",
                                          "breakpoint (#BP)",
                                          "overflow (#OF)",
                                          "bound range exceeded (#BR)",
                                          "invalid opcode (#UD)",
                                          "device not available (#NM)",
                                          "double fault (#DF)",
                                          "coprocessor segment overrun",
                                          "invalid TSS (#TS)",
                                          "segment not present (#NP)",
                                          "stack-segment fault (#SS)",
                                          "general protection fault (#GP)",
                                          "page fault (#PF)",
                                          NULL,
                                          "x87 floating-point error (#MF)",
                                          "alignment check (#AC)",
                                          "machine check (#MC)",
                                          "SIMD floating-point exception (#XM)",
                                          "virtualization exception (#VE)",
                                          "control protection exception (#CP)"};
    if (ex->exc_vector < 0 || ex->exc_vector > 31) {
        snprintf(buf, len, "unhandled exception (%s)", ex->detail[0] ? ex->detail : "triple fault");
        return;
    }
    int v = ex->exc_vector;
    size_t n = (size_t)snprintf(buf, len, "%s, vector %d", names[v] ? names[v] : "exception", v);
    if (n < len && v == 14 && ex->exc_has_error) {
        uint32_t e = ex->exc_error;
        n += (size_t)snprintf(buf + n, len - n, ", at address 0x%llx (%s, %s, %s mode)",
                              (unsigned long long)ex->exc_cr2,
                              e & 0x10 ? "instruction fetch"
                              : e & 2  ? "write"
                                       : "read",
                              e & 1 ? "protection violation" : "page not present",
                              e & 4 ? "user" : "supervisor");
    }
    if (n < len && ex->exc_has_error)
        n += (size_t)snprintf(buf + n, len - n, ", error code 0x%x", ex->exc_error);
    if (n < len)
        snprintf(buf + n, len - n, "; not delivered (no exception handler: triple fault)");
}

void zg_format_regs(const struct zg_regs *r, char *buf, size_t len)
{
    snprintf(buf, len,
             "rip=0x%llx rsp=0x%llx rbp=0x%llx rflags=0x%llx rax=0x%llx rbx=0x%llx rcx=0x%llx "
             "rdx=0x%llx rsi=0x%llx rdi=0x%llx r8=0x%llx r9=0x%llx r10=0x%llx r11=0x%llx "
             "r12=0x%llx r13=0x%llx r14=0x%llx r15=0x%llx",
             (unsigned long long)r->rip, (unsigned long long)r->rsp, (unsigned long long)r->rbp,
             (unsigned long long)r->rflags, (unsigned long long)r->rax, (unsigned long long)r->rbx,
             (unsigned long long)r->rcx, (unsigned long long)r->rdx, (unsigned long long)r->rsi,
             (unsigned long long)r->rdi, (unsigned long long)r->r8, (unsigned long long)r->r9,
             (unsigned long long)r->r10, (unsigned long long)r->r11, (unsigned long long)r->r12,
             (unsigned long long)r->r13, (unsigned long long)r->r14, (unsigned long long)r->r15);
}

const char *zg_end_name(enum zg_end end)
{
    switch (end) {
    case ZG_END_EXIT:
        return "exit";
    case ZG_END_READY:
        return "ready";
    case ZG_END_DEADLINE:
        return "deadline";
    case ZG_END_FAULT:
        return "fault";
    case ZG_END_HOST:
        return "host";
    case ZG_END_MEMORY:
        return "memory";
    }
    return "unknown";
}

/* Ends the run with `end`, capturing the registers for the report. */
__attribute__((format(printf, 4, 5))) static void
end_run(struct zg_instance *in, struct zg_run_result *res, enum zg_end end, const char *fmt, ...)
{
    res->end = end;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->why, sizeof(res->why), fmt, ap);
    va_end(ap);
    struct zg_vcpu_state st;
    if (end != ZG_END_HOST && in->hv->vcpu_get_state(in->vm, &st, ZG_VCPU_REGS) == 0) {
        res->regs = st.regs;
        res->regs_valid = 1;
    }
}

int zg_inst_run(struct zg_instance *in, struct zg_run_result *res)
{
    memset(res, 0, sizeof(*res));
    if (in->dead || !in->t.loaded)
        return -EINVAL;
    if (in->stopped_at_ready)
        return -EBUSY; /* zg_inst_complete_ready first */
    if (!in->t.first_run)
        in->t.first_run = zg_now_ns();
    if (!in->deadline_at && in->cfg.deadline_ms)
        in->deadline_at = in->t.first_run + in->cfg.deadline_ms * 1000000ull;

    tl_running = in;
    int rc = arm_deadline(in);
    if (rc < 0) {
        tl_running = NULL;
        end_run(in, res, ZG_END_HOST, "cannot arm the deadline timer: %s", strerror(-rc));
        in->dead = 1;
        return 0;
    }
    const struct zg_persona_ops *persona = zg_inst_persona(in);
    if (persona->before_run && persona->before_run(in, res) == ZG_HC_STOP)
        goto stopped;
    for (;;) {
        if (in->expired) {
            end_run(in, res, ZG_END_DEADLINE, "killed at its deadline of %llu ms",
                    (unsigned long long)in->cfg.deadline_ms);
            break;
        }
        struct zg_hv_exit ex;
        in->runs++;
        rc = in->hv->run(in->vm, &ex);
        if (rc < 0) {
            end_run(in, res, ZG_END_HOST, "%s: run failed: %s", in->hv->name, strerror(-rc));
            break;
        }
        /* A kick may return before the guest ran at all: not a guest exit. */
        if (!in->t.first_exit && ex.reason != ZG_EXIT_KICKED)
            in->t.first_exit = zg_now_ns();
        if (ex.reason == ZG_EXIT_KICKED) {
            if (in->tick && in->cfg.mem_cap) {
                in->tick = 0;
                rc = zg_written_count(in, in->cfg.mem_cap / ZG_PAGE_SIZE);
                if (rc < 0) {
                    end_run(in, res, ZG_END_HOST, "%s: cannot count the written pages (%s): %s",
                            in->hv->name, zg_written_method(in), strerror(-rc));
                    break;
                }
                if (in->private_pages * ZG_PAGE_SIZE > in->cfg.mem_cap) {
                    end_run(in, res, ZG_END_MEMORY,
                            "killed: wrote %llu KiB of memory, over its cap of %llu KiB",
                            (unsigned long long)(in->private_pages * ZG_PAGE_SIZE >> 10),
                            (unsigned long long)(in->cfg.mem_cap >> 10));
                    break;
                }
            }
            continue; /* the loop head sees `expired` */
        }
        if (ex.reason == ZG_EXIT_IO) {
            if (ex.port < ZG_HC_PORT_BASE || ex.port > ZG_HC_PORT_MAX) {
                end_run(in, res, ZG_END_FAULT, "out to port 0x%x, which is not a hypercall",
                        ex.port);
                break;
            }
            if (persona->io(in, ex.port, ex.value, res) == ZG_HC_STOP) {
            stopped:
                if (res->end == ZG_END_FAULT) {
                    char why[sizeof(res->why)];
                    memcpy(why, res->why, sizeof(why));
                    end_run(in, res, ZG_END_FAULT, "%s", why);
                }
                break;
            }
            continue;
        }
        switch (ex.reason) {
        case ZG_EXIT_SHUTDOWN: {
            int f = persona->fault ? persona->fault(in, ex.exc_vector, ex.exc_cr2, res) : 0;
            if (f > 0)
                continue; /* handled (a page backed): run the instruction again */
            if (f < 0) {
                char why[sizeof(res->why)];
                memcpy(why, res->why, sizeof(why));
                end_run(in, res, res->end, "%s", why);
                break;
            }
            char what[200], last[120] = "";
            describe_exception(&ex, what, sizeof(what));
            if (persona->last_call)
                persona->last_call(in, last, sizeof(last));
            end_run(in, res, ZG_END_FAULT, "guest fault: %s%s%s", what, last[0] ? "; " : "", last);
            break;
        }
        case ZG_EXIT_HALT:
            end_run(in, res, ZG_END_FAULT, "guest halted");
            break;
        case ZG_EXIT_MMIO:
            end_run(in, res, ZG_END_FAULT, "guest touched memory outside its RAM: %s", ex.detail);
            break;
        default:
            end_run(in, res, ZG_END_FAULT, "%s: %s", in->hv->name, ex.detail);
            break;
        }
        break;
    }
    if (res->end != ZG_END_READY && persona->end)
        persona->end(in);
    disarm_deadline();
    tl_running = NULL;
    if (res->end == ZG_END_READY) {
        in->stopped_at_ready = 1;
    } else {
        in->dead = 1;
        in->t.exited = zg_now_ns();
    }
    return 0;
}

const char *zg_inst_written_method(const struct zg_instance *in)
{
    return zg_written_method(in);
}

const char *zg_inst_backend(const struct zg_instance *in)
{
    return in->hv->name;
}

unsigned zg_inst_flags(const struct zg_instance *in)
{
    return in->cfg.flags;
}

uint64_t zg_inst_private_bytes(const struct zg_instance *in)
{
    return in->private_pages * ZG_PAGE_SIZE;
}

const char *zg_inst_error(const struct zg_instance *in)
{
    return in->err[0] ? in->err : "no error";
}

const struct zg_inst_times *zg_inst_times(const struct zg_instance *in)
{
    return &in->t;
}

uint64_t zg_inst_id(const struct zg_instance *in)
{
    return in->id;
}

uint8_t *zg_inst_mem(const struct zg_instance *in, uint64_t *size)
{
    if (size)
        *size = in->mem_size;
    return in->mem;
}

struct zg_hv_vm *zg_inst_vm(const struct zg_instance *in)
{
    return in->vm;
}

uint64_t zg_inst_bytes_in(const struct zg_instance *in)
{
    return in->bytes_in;
}

uint64_t zg_inst_bytes_out(const struct zg_instance *in)
{
    return in->bytes_out;
}

uint64_t zg_inst_kvm_runs(const struct zg_instance *in)
{
    return in->vm && in->hv->entries ? in->hv->entries(in->vm) : 0;
}

uint64_t zg_inst_runs(const struct zg_instance *in)
{
    return in->runs;
}
