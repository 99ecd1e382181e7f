/* zg_monitor: a running guest instance, independent of the hypervisor backend.
 *
 * What it does
 *   Owns an instance's guest memory, lays out the entry state the ABI
 *   promises (page tables, GDT, boot info, registers), loads a guest ELF,
 *   runs the vCPU through a backend's zg_hv_ops, answers the guest's
 *   hypercalls, enforces the instance's deadline, and tears everything down.
 *
 * What it does not do
 *   Templates (snapshotter/), restoring from them (restorer/), or networking
 *   (tools/): those drive instances through this header.
 *
 * Usage (a cold boot)
 *     struct zg_inst_config cfg = zg_inst_config_default();
 *     cfg.in_fd = 0; cfg.out_fd = 1;
 *     struct zg_instance *in;
 *     if (zg_inst_create(&cfg, &in) < 0) ... zg_inst_error(in) says why ...
 *     if (zg_inst_boot_elf(in, image, size) < 0) ...
 *     struct zg_run_result r;
 *     zg_inst_run(in, &r);            // r.end == ZG_END_EXIT, r.status ...
 *     zg_inst_destroy(in);
 *
 * Errors: functions return 0 or a negative errno; the instance keeps a
 * one-line message naming what failed (zg_inst_error). zg_inst_create sets
 * *out even on failure (so the message can be read), except when the
 * instance itself cannot be allocated (then *out is untouched and the
 * return is -ENOMEM); zg_inst_destroy accepts any instance in any state.
 *
 * Threads: an instance is driven by one thread at a time. Many instances may
 * run at once on different threads. The deadline uses a POSIX timer per
 * thread and the signal ZG_DEADLINE_SIGNAL (SIGRTMIN+1); a process using
 * this module must not use that signal for anything else.
 */
#ifndef ZG_MONITOR_H
#define ZG_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include <zerg/abi.h>
#include "hypervisor/zg_hv.h"

/* ---- Memory layout (monitor-private; the guest sees only abi.h) --------- */
#define ZG_LAYOUT_PML4        0x1000u
#define ZG_LAYOUT_PDPT        0x2000u
#define ZG_LAYOUT_PD          0x3000u /* 4 pages: one per GiB */
#define ZG_LAYOUT_PT0         0x7000u /* 4 KiB mappings of the first 2 MiB */
#define ZG_LAYOUT_GDT         0x8000u
#define ZG_LAYOUT_TSS         0x8100u /* 104 bytes + I/O bitmap up to the hypercall ports */
#define ZG_LAYOUT_XEN_MAILBOX 0xa000u /* Xen PV: the zg_xen_mailbox page */
#define ZG_LAYOUT_XEN_SHINFO  0xb000u /* Xen PV: where Xen's shared info is mapped */
#define ZG_MEM_MIN            (4ull << 20)
#define ZG_MEM_MAX            (4ull << 30)
#define ZG_MEM_ALIGN          (2ull << 20)
#define ZG_STACK_SIZE         (1ull << 20)

#define ZG_SEL_CODE 0x23 /* GDT entry 4, RPL 3 */
#define ZG_SEL_DATA 0x1b /* GDT entry 3, RPL 3 */
#define ZG_SEL_TSS  0x28 /* GDT entries 5-6 */

#define ZG_DEFAULT_MEM         (64ull << 20)
#define ZG_DEFAULT_DEADLINE_MS 5000u
#define ZG_CONSOLE_CAP         (1u << 20) /* console bytes kept per instance */

/* ---- Configuration ------------------------------------------------------- */
#define ZG_INST_STOP_AT_READY 0x1u /* run() returns ZG_END_READY inside READY */
#define ZG_INST_TRACK_DIRTY   0x2u /* log written pages, for zg_inst_reset() */
#define ZG_INST_ANSWER_LATER                                                                       \
    0x4u /* zg_restore()/zg_restore_reset() leave READY unanswered:                                \
          * the caller answers with zg_inst_complete_ready() when                                  \
          * the instance is handed its request (fresh time, id) */

/* How often an instance with a memory cap has its private pages counted. */
#define ZG_MEMCAP_TICK_MS 10u

struct zg_inst_config {
    const struct zg_hv_ops *hv; /* NULL: the "kvm" backend */
    uint64_t mem_size;          /* bytes, ZG_MEM_ALIGN multiple in [ZG_MEM_MIN, ZG_MEM_MAX] */
    uint64_t deadline_ms;       /* wall time from the first run() to the kill; 0: none */
    const char *cmdline;        /* the guest's command line ("" if NULL) */
    const char *argv0;          /* a Linux program's argv[0] and, resolved, what
                                 * /proc/self/exe names (NULL: "/proc/self/exe") */
    const char *linux_ro;       /* a Linux program's read-only trees: lines of
                                 * "HOST[=GUEST]" (NULL: none) */
    const char *linux_env;      /* a Linux program's extra environment: lines of "K=V"
                                 * (added to, or replacing, the defaults; NULL: none) */
    int in_fd;                  /* the request stream RECV reads; -1: empty */
    int out_fd;                 /* where SEND writes; -1: discarded */
    int console_fd;             /* where CONSOLE writes; -1: discarded */
    int image_fd;               /* >= 0: guest memory is a private (copy-on-write) mapping
                                 * of this file's first mem_size bytes; -1: zeroed memory */
    uint64_t mem_cap;           /* bytes of guest memory the instance may write after it is
                                 * created or reset (its private pages, counted every
                                 * ZG_MEMCAP_TICK_MS as zg_inst_reset knows them, so a
                                 * burst may overshoot by one tick's writes); 0: no cap. Implies
                                 * ZG_INST_TRACK_DIRTY. */
    unsigned flags;             /* ZG_INST_* */
};

struct zg_inst_config zg_inst_config_default(void);

/* ---- How a run ended ----------------------------------------------------- */
enum zg_end {
    ZG_END_EXIT,     /* the guest called EXIT; status holds its status */
    ZG_END_READY,    /* stopped inside READY (ZG_INST_STOP_AT_READY) */
    ZG_END_DEADLINE, /* killed at its deadline */
    ZG_END_FAULT,    /* killed: an exception, a halt, a bad hypercall */
    ZG_END_HOST,     /* the host side failed; the guest did nothing wrong */
    ZG_END_MEMORY,   /* killed: it wrote more memory than cfg.mem_cap */
};

/* "exit", "ready", "deadline", "fault", "host", "memory". */
const char *zg_end_name(enum zg_end end);

struct zg_run_result {
    enum zg_end end;
    int status;          /* ZG_END_EXIT: the guest's status */
    struct zg_regs regs; /* ZG_END_FAULT/DEADLINE: registers when it was stopped */
    int regs_valid;
    char why[256]; /* one line for anything but a clean exit */
};

/* Nanosecond timestamps (CLOCK_MONOTONIC) of an instance's milestones; 0 if
 * not reached.
 *
 * first_run and first_exit bracket the guest's first instruction: first_run
 * is taken before the backend is first asked to run the vCPU (so it
 * includes none of the entry's cost), first_exit when the backend first
 * reports something the guest did (on KVM: KVM_RUN returned with any exit
 * but an interruption by the monitor's own timer, which does not show the
 * guest ran; on Xen: run() saw the guest's first call in the mailbox, or
 * the domain shut down). The first instruction ran in between. A restored
 * guest resumes inside READY and its next exit is its next hypercall, so
 * first_exit bounds its first instruction from above by a few instructions
 * of guest work plus one exit; on KVM that exit is the ~25 us one of this
 * host's PVM (docs), on Xen it includes unpausing the domain and dom0
 * noticing the event channel. A cold-booted guest's first exit comes after
 * whatever its entry code does before its first hypercall. */
struct zg_inst_times {
    uint64_t created;    /* zg_inst_create returned */
    uint64_t loaded;     /* memory and vCPU state in place */
    uint64_t first_run;  /* first run(), before the backend entered the guest */
    uint64_t first_exit; /* the backend's first exit caused by the guest (see above) */
    uint64_t ready;      /* the guest called READY */
    uint64_t first_recv; /* the guest's first RECV */
    uint64_t first_send; /* the guest's first SEND */
    uint64_t exited;     /* run() ended for good */
};

struct zg_instance;

/* Creates an instance: a VM from cfg->hv with fresh, zeroed guest memory.
 * -EINVAL for a bad config, -ENODEV/-EACCES when the backend cannot run,
 * other negative errnos from the backend (e.g. -ENOENT: no /dev/kvm). */
int zg_inst_create(const struct zg_inst_config *cfg, struct zg_instance **out);

/* Opens now what this process's instances on backend hv will need from the
 * file system (the backend's device, /proc/self/pagemap), so that a sandbox
 * can then forbid opening files (serve's workers: serve/sandbox.c).
 * 0, or -ENODEV if the backend cannot be used. */
int zg_monitor_presandbox(const struct zg_hv_ops *hv);

/* Where a sandboxed process notes the system call its filter stopped, for a
 * parent that reports the death (serve's master: memory shared across
 * fork, read once the process is dead). */
struct zg_sandbox_note {
    int32_t seen;  /* 1 once a call was stopped (nr and arch valid) */
    int32_t nr;    /* the call's number (zg_syscall_name) */
    uint32_t arch; /* AUDIT_ARCH_* of the call */
    uint32_t reserved;
};

/* Enters the sandbox (monitor/sandbox.c, docs/security.md) for the rest of
 * this process's life: zg_monitor_presandbox, malloc's arena limit settled,
 * then as root its own network and mount namespaces and user nobody, then a
 * seccomp filter (every thread) of the calls running instances make; any
 * other call ends the process by SIGSYS, noted in *note (when not NULL) or
 * named on standard error. Call it once the process has opened everything
 * (images, sockets, the guest) and, with threads, once each has made its
 * first allocation. 0, or a negative errno with why. */
int zg_sandbox_enter(const struct zg_hv_ops *hv, struct zg_sandbox_note *note, char *why,
                     size_t len);

/* A Linux x86-64 system call's name ("?" for a number with none), from
 * the host's <asm/unistd_64.h>. */
#define ZG_NSYSCALL 512
const char *zg_syscall_name(unsigned nr);

/* Loads a guest ELF (untrusted bytes) and sets the ABI entry state.
 * -ENOEXEC: not a loadable guest; -EPROTO: another ABI version. */
int zg_inst_boot_elf(struct zg_instance *in, const void *image, size_t size);

/* Makes the instance resume a captured guest: sets the whole vCPU state and
 * marks it stopped inside the READY call whose struct is at ready_gpa (the
 * memory, from cfg->image_fd, already holds the guest as it was there).
 * Then zg_inst_complete_ready(in, 1) and zg_inst_run(). -EFAULT if
 * ready_gpa is not a READY struct inside guest memory. */
int zg_inst_resume(struct zg_instance *in, const struct zg_vcpu_state *st, uint64_t ready_gpa);

/* Puts an instance created with ZG_INST_TRACK_DIRTY back to the captured
 * guest, in place: every page written since the last reset (by the guest or
 * by the monitor) gets `image`'s bytes again (the template's memory,
 * mem_size bytes, the file cfg.image_fd maps), then as zg_inst_resume().
 * The VM, its memory slot and the pages nobody wrote are kept; so are the
 * instance's own copies of recently written pages, mapped and writable,
 * so that the next request writes them without a fault (monitor/written.c).
 * The instance gets a new id; counters and times start over. *copied (may
 * be NULL) gets the number of pages whose bytes were put back. Works after
 * any ending, good or bad. */
int zg_inst_reset(struct zg_instance *in, const uint8_t *image, const struct zg_vcpu_state *st,
                  uint64_t ready_gpa, uint64_t *copied);

/* How the instance's written pages are known, for zg_inst_reset and the
 * memory cap: "pagemap" (the host's page table: the instance's own copies of
 * the image's pages; Linux 6.7+, image-backed memory), "kvm-dirty-log", or
 * "none" (no ZG_INST_TRACK_DIRTY). ZERG_DIRTY_LOG=kvm in the environment
 * chooses KVM's log. */
const char *zg_inst_written_method(const struct zg_instance *in);

/* The backend's name ("kvm", "xen"). */
const char *zg_inst_backend(const struct zg_instance *in);

/* The instance's ZG_INST_* flags (as configured). */
unsigned zg_inst_flags(const struct zg_instance *in);

/* Bytes of guest memory written since the instance was created or reset,
 * as last counted (instances with ZG_INST_TRACK_DIRTY; 0 otherwise). */
uint64_t zg_inst_private_bytes(const struct zg_instance *in);

/* Rewires the request stream (e.g. a pooled instance's next connection). */
void zg_inst_set_io(struct zg_instance *in, int in_fd, int out_fd);

/* Copies the whole vCPU state out (after ZG_END_READY: the state that
 * resumes inside READY). */
int zg_inst_get_state(struct zg_instance *in, struct zg_vcpu_state *st);

/* The guest address of the READY struct the instance is stopped in, or 0. */
uint64_t zg_inst_ready_gpa(const struct zg_instance *in);

/* Runs until the instance ends or stops at READY. Returns 0 with *res
 * filled (the guest's behaviour, good or bad, is in res->end), or a negative
 * errno only for misuse. An instance whose VM hook failed ends ZG_END_HOST
 * and must be destroyed. After ZG_END_READY, zg_inst_complete_ready() fills
 * the READY call's answer and run() continues the guest. */
int zg_inst_run(struct zg_instance *in, struct zg_run_result *res);

/* Answers the READY call the instance is stopped in: restored flag, fresh
 * instance id, entropy and time. */
int zg_inst_complete_ready(struct zg_instance *in, int restored);

/* Frees the VM and memory. NULL is fine. */
void zg_inst_destroy(struct zg_instance *in);

/* Accessors. */
const char *zg_inst_error(const struct zg_instance *in);
const struct zg_inst_times *zg_inst_times(const struct zg_instance *in);
uint64_t zg_inst_id(const struct zg_instance *in);
uint8_t *zg_inst_mem(const struct zg_instance *in, uint64_t *size);
struct zg_hv_vm *zg_inst_vm(const struct zg_instance *in);
uint64_t zg_inst_bytes_in(const struct zg_instance *in);
uint64_t zg_inst_bytes_out(const struct zg_instance *in);
/* Round trips into the guest (backend run() calls: KVM_RUN) since the
 * instance was created or reset; each is an exit to the monitor. */
uint64_t zg_inst_runs(const struct zg_instance *in);

/* KVM_RUN calls on the instance's vCPU since it was created: run()'s and
 * those that only complete an `out` before its state is changed (a reset's);
 * 0 on a backend that does not count them (Xen). */
uint64_t zg_inst_kvm_runs(const struct zg_instance *in);
/* One line on what the instance's personality did since it was created or
 * reset (Linux: calls served, how they arrived, call sites rewritten) into
 * buf; 0 if it has nothing to say (zerg guests), else 1. */
int zg_inst_summary(const struct zg_instance *in, char *buf, size_t len);

/* Formats a one-line message into err (if err and errlen) and returns rc:
 *     return zg_errf(err, errlen, -ENOENT, "no template '%s'", name); */
int zg_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reads a whole regular file of at most max bytes into a new buffer (*out,
 * free() it). 0, -EINVAL (not a regular file), -EFBIG, or -errno. */
int zg_file_read(const char *path, size_t max, void **out, size_t *len);

/* Monotonic nanoseconds. */
uint64_t zg_now_ns(void);

/* Writes "rip=... rsp=... rax=..." for regs into buf. */
void zg_format_regs(const struct zg_regs *r, char *buf, size_t len);

#endif /* ZG_MONITOR_H */
