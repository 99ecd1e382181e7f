/* The Linux personality's internals, shared by its files (linux/). */
#ifndef LX_INT_H
#define LX_INT_H

#include <stdint.h>

#include <zerg/linux_abi.h>
#include "linux/lx_view.h"
#include "monitor/zg_monitor_int.h"

/* ---- The guest's address space (lx_load.c builds it) -------------------- */
struct lx_layout {
    uint64_t image_lo, image_hi;  /* the program's segments (virtual == physical) */
    uint64_t ident_end;           /* [ZG_LINUX_RT_GPA, ident_end) is identity mapped */
    uint64_t mmap_gpa, mmap_size; /* the mmap area, at ZG_LINUX_MMAP_VA */
    uint64_t stack_gpa;           /* the stack: ZG_LINUX_STACK_SIZE bytes ending at
                                   * ZG_LINUX_STACK_VA_END */
    uint64_t fv_gpa, fv_size;     /* the file view, below the stack, not mapped */
};

/* ---- The file view (fileview.c, lx_view.h): the --ro trees, in guest memory ---- */
/* Builds the view of the "HOST[=GUEST]" lines in specs into a new buffer. */
int lx_fv_build(struct zg_instance *in, const char *specs, void **out, uint64_t *size);
/* The instance's view (NULL: none or damaged), entry i, its path, its data;
 * lx_fv_find: the entry of a normalized absolute path, or -ENOENT. */
struct lxv lx_view_of(struct zg_instance *in);
const struct lx_fv_hdr *lx_fv(struct zg_instance *in);
const struct lx_fv_ent *lx_fv_ent(struct zg_instance *in, uint32_t i);
const char *lx_fv_path(struct zg_instance *in, const struct lx_fv_ent *e);
const uint8_t *lx_fv_data(struct zg_instance *in, const struct lx_fv_ent *e);
int lx_fv_find(struct zg_instance *in, const char *path);

/* ---- Descriptors and open files: struct zg_linux_fd, zg_linux_file (linux_abi.h) ---- */
/* zg_linux_file.sock for ZG_LINUX_FD_SOCK */
#define LX_SOCK_BOUND     0x1u
#define LX_SOCK_LISTENING 0x2u
#define LX_SOCK_INET6     0x4u

#define LX_NFD      ZG_LINUX_NFD
#define LX_NFILE    ZG_LINUX_NFILE
#define LX_NTHREAD  ZG_LINUX_NTHREAD
#define LX_NCPU     8   /* CPUID words a template records: see lx_cpu_read */
#define LX_NRANGES  128 /* free ranges of the mmap area */
#define LX_NSYSCALL 512 /* system-call numbers the table covers */
#define LX_NEPOLL   4   /* epoll instances */
#define LX_NEPOLLFD 64  /* descriptors registered in each */

#define LX_AREA_GIB 1023 /* the mmap area's virtual extent at most, in GiB */
#define LX_NFRAMES  1024 /* its 2 MiB frames at most (ZG_MEM_MAX: 4 GiB) */

struct lx_epreg {
    int32_t fd;      /* -1: a free slot */
    uint32_t events; /* EPOLL* asked for (EPOLLONESHOT: disabled once reported) */
    uint64_t data;   /* handed back with each event */
};

struct lx_epoll {
    uint32_t used; /* an epoll descriptor refers to it */
    uint32_t pad;
    struct lx_epreg reg[LX_NEPOLLFD];
};

struct lx_range {
    uint64_t va, len;
};

/* Pipes and eventfds (lx_event.c): their bytes and counters are the
 * instance's state, so a template carries them. */
#define LX_NPIPE    16
#define LX_PIPE_BUF 4096 /* a pipe's capacity (F_GETPIPE_SZ), and PIPE_BUF */
struct lx_pipe {
    uint32_t used; /* an open file names one of its ends */
    uint32_t head; /* the first byte not read yet, in buf */
    uint32_t len;  /* bytes in buf (from head, wrapping) */
    uint32_t pad;
    uint8_t buf[LX_PIPE_BUF];
};
#define LX_NEVENTFD 16
struct lx_eventfd {
    uint32_t used, semaphore; /* EFD_SEMAPHORE */
    uint64_t count;
};

/* A call site rewritten after the template point (lx_patch.c). */
struct lx_site {
    uint64_t rip; /* the return address of its `syscall` */
    uint32_t nr, pad;
};
#define LX_NLEARNED 128
#define LX_NEXEC    32 /* ranges of executable code the loader mapped (lx_patch.c) */

/* What a call that would block waits for (lx_sched.c): a host descriptor
 * to become readable or writable, a time, or (futex) another thread's wake.
 * The scheduler runs another thread, or waits for the first of them or the
 * instance's deadline, then serves the call again (futex waits are not
 * served again: a wake or the time ends them). */
struct lx_wait {
    int32_t host_fd; /* -1: none */
    int16_t events;  /* POLLIN, POLLOUT */
    int16_t pad;
    uint64_t until;  /* CLOCK_MONOTONIC ns at which the wait ends (0: none) */
    uint64_t futex;  /* a futex wait: the word's address (0: not one) */
    uint32_t bitset; /* its FUTEX_WAIT_BITSET mask */
    uint32_t pad2;
};

/* A thread of the instance (docs/abi.md "Threads"): the monitor's half of
 * its record; the runtime's half (its id and signal state) is at
 * ZG_LINUX_THREADS_GPA, slot for slot. All threads run on the instance's one
 * vCPU; the one running (lx_state.cur) has its call frame and FPU image in
 * guest memory, the others in their records, so a switch is two copies (and
 * the FS base when it differs; linux/lx_thread.c). */
enum lx_tstate {
    LX_T_FREE = 0, /* a free slot */
    LX_T_RUN,      /* running or runnable: resumes with frame.ret */
    LX_T_WAIT,     /* its call would block: served again when what it waits for comes */
    LX_T_FUTEX,    /* in a futex wait: woken by another thread, or its time */
};
struct lx_thread {
    uint32_t tid;   /* gettid: the main thread's is 1 */
    uint32_t state; /* enum lx_tstate */
    uint32_t redo;  /* RUN: its call was not served yet (the template point let the
                     * other threads run first): served when it next runs */
    uint32_t pad;
    uint64_t fs_base, gs_base;
    uint64_t clear_tid;          /* set_tid_address, CLONE_CHILD_CLEARTID */
    uint64_t robust;             /* set_robust_list (recorded) */
    uint64_t started;            /* WAIT: when its call was first served */
    struct lx_wait wait;         /* WAIT, FUTEX */
    struct zg_linux_frame frame; /* not running: its call */
    uint8_t fpu[512];            /* not running: its x87/SSE image (FXSAVE) */
};

/* The O_* status flags a descriptor keeps, as Linux does (F_GETFL shows
 * them): the access mode, O_APPEND, O_NONBLOCK, O_DSYNC, O_ASYNC, O_DIRECT,
 * O_LARGEFILE, O_DIRECTORY, O_NOFOLLOW, O_NOATIME, O_SYNC, O_PATH (x86-64
 * values; sys_path.c checks them against <fcntl.h>). */
#define LX_O_KEPT 015776003u

/* The personality's state of one instance: plain data (no pointers), so a
 * template can carry it as it is. */
struct lx_state {
    struct lx_layout l;
    uint64_t brk_start, brk; /* the heap: [brk_start, brk), at most l.ident_end */
    uint64_t brk_hwm;        /* the highest brk so far: above the current brk,
                              * memory up to it may hold old bytes */
    uint64_t mmap_top;       /* mmap hands out [mmap_top, ...) first, then free ranges */
    uint64_t mmap_hwm;       /* the highest mmap_top so far: below it, old bytes */
    uint32_t nfree;
    uint32_t redo;     /* the call the program was stopped in at the template point */
    uint32_t accepted; /* the server model: the connection was handed to the program */
    uint32_t pad;
    struct lx_range free[LX_NRANGES];
    struct zg_linux_fd fd[LX_NFD];       /* descriptors, naming ... */
    struct zg_linux_file file[LX_NFILE]; /* ... open files (lx_file.c) */
    uint32_t cur, nthread;               /* the running thread; threads alive */
    uint32_t next_tid, pad4;             /* the id the next thread gets */
    struct lx_thread thread[LX_NTHREAD];
    struct lx_epoll epoll[LX_NEPOLL];   /* epoll instances (sys_poll.c) */
    struct lx_pipe pipe[LX_NPIPE];      /* pipes (lx_event.c) */
    struct lx_eventfd efd[LX_NEVENTFD]; /* eventfd counters (lx_event.c) */
    uint64_t logged[LX_NSYSCALL / 64];  /* unknown calls already logged */
    uint64_t calls;                     /* system calls served */
    uint64_t trapped;        /* exits after a `syscall` trap (served here or in the guest) */
    uint64_t fast;           /* exits from rewritten call sites */
    uint32_t out_shut;       /* the response stream was shut down for writing */
    uint32_t out_lost;       /* buffered response bytes could not be sent */
    uint32_t tsc_bad;        /* the guest's TSC is not the host's: no clocks in the guest */
    uint32_t rnd_fresh;      /* the shared page's randomness was filled in this run */
    uint64_t served0;        /* the runtime's count of calls it served, when this run began */
    uint32_t rewrite;        /* call sites may be rewritten (lx_patch.c) */
    uint32_t rewritten;      /* call sites rewritten in this run */
    int64_t last_nr;         /* the last call the monitor served (a fault's report); -1 none */
    uint32_t nlearned, pad2; /* call sites a pooled VM rewrites again after */
    struct lx_site learned[LX_NLEARNED]; /* each reset (never from a template) */
    uint32_t nexec, pad3;                /* where call sites may be rewritten: the */
    struct lx_range exec[LX_NEXEC];      /* executable segments the loader mapped, and
                                          * executable mappings of the view's files */
    char exe[256];                       /* what /proc/self/exe names */
    char argv0[256];                     /* argv[0] */
    char cwd[ZG_LINUX_CWD_SIZE];         /* the working directory */
    uint32_t cpu[LX_NCPU];               /* the CPU features the program saw (lx_cpu_read) */
    /* The mmap area's 2 MiB frames (lx_sparse.c): */
    uint32_t frames_used, pad5;           /* frames backing a region now */
    uint64_t frame_used[LX_NFRAMES / 64]; /* which (a free frame holds zeros) */
    uint32_t frame_owner[LX_NFRAMES];     /* the one region (index + 1) a frame may ever
                                           * back in this VM; 0: none yet. A pooled reset
                                           * keeps the VM's own, not the template's */
    uint64_t backed, unbacked;            /* regions backed, given back (statistics) */
    uint64_t frame_tmpl[LX_NFRAMES / 64]; /* frames backing a region at the template
                                           * point: their owners stay (lx_sparse.c) */
    uint64_t forgot;                      /* times KVM was made to forget its mappings */
};

static inline struct lx_state *lx_of(struct zg_instance *in)
{
    return in->pdata;
}

/* ---- The mmap area: sparse (lx_sparse.c) ----------------------------------
 * Its virtual extent is gib GiB at ZG_LINUX_MMAP_VA; its guest-physical
 * memory, [l.mmap_gpa, +l.mmap_size), holds one page directory per GiB at
 * tables_gpa, then nframes 2 MiB frames at frames_gpa, which back the
 * area's 2 MiB regions as they are first touched. */
struct lx_sparse {
    uint32_t gib, nframes;
    uint64_t tables_gpa, frames_gpa;
};
void lx_sparse_plan(const struct lx_layout *l, struct lx_sparse *sp);
uint64_t lx_area_size(const struct lx_layout *l); /* gib GiB, in bytes */
/* At load, in fresh (zero) memory: links every GiB's directory (all
 * entries absent) from the PDPT pages (guest-physical) of PML4 entries 0xfe
 * and 0xff. 0 or -ENOSPC. */
int lx_sparse_link(uint8_t *mem, const struct lx_layout *l, uint64_t pdpt_lo, uint64_t pdpt_hi);
/* A #PF at addr the program could not take: 1 if it was a touch of a mapped
 * page of the area not backed yet, now backed (resume); 0 if not such a
 * touch (a fault of the program's); -1 if no frame is left (res filled: the
 * instance is out of memory). */
int lx_sparse_fault(struct zg_instance *in, uint64_t addr, struct zg_run_result *res);
/* The host pointer to the area's [va, va+len) (len > 0), backing the
 * regions it covers that the program mapped; NULL if part is not mapped, no
 * frame is left, or the regions' frames are not adjacent (logged). */
uint8_t *lx_sparse_ptr(struct zg_instance *in, uint64_t va, uint64_t len);
/* [va, va+len) of the area is unmapped (zero = 0) or dropped with
 * MADV_DONTNEED (zero = 1): regions with nothing mapped left, or wholly
 * inside the range, give their frame back; what stays backed is zeroed if
 * zero. 0 or -EFAULT (outside the area). */
int lx_sparse_release(struct zg_instance *in, uint64_t va, uint64_t len, int zero);
/* Is the area's 2 MiB region holding va backed? */
int lx_sparse_backed(struct zg_instance *in, uint64_t va);
/* MAP_POPULATE: backs every region of [va, va+len), or -ENOMEM (with
 * nothing backed) if there are not frames enough for them. */
int lx_sparse_populate(struct zg_instance *in, uint64_t va, uint64_t len);
/* A template's frame state, checked: NULL, or what is wrong. */
const char *lx_sparse_check(const struct lx_state *s);
/* A pooled reset, s the template's state, old the VM's before it: the
 * frames free in s keep the regions old gave them (the shadow MMU may still
 * map them there); those s uses keep s's. */
void lx_sparse_keep_owners(struct lx_state *s, const struct lx_state *old);

/* ---- Guest memory, as the program names it -------------------------------
 * Host pointer to the program's range [va, va+len) if it lies wholly inside
 * one region of its address space (program and heap, mmap area, stack);
 * NULL otherwise (the call returns -EFAULT). lx_uwptr also records the pages
 * as written by the host (pooled reset, memory cap). len must be > 0. */
void *lx_uptr(struct zg_instance *in, uint64_t va, uint64_t len);

/* The regions a program's pointers may name: image and heap (identity
 * mapped), the mmap area, the stack; [lo, hi) virtual, from gpa physical.
 * lx_uptr's test, and what the runtime gets for its own (lx_publish). */
#define LX_NREGIONS 3
struct lx_region {
    uint64_t lo, hi, gpa;
};
void lx_regions(const struct lx_state *lx, struct lx_region r[LX_NREGIONS]);
void *lx_uwptr(struct zg_instance *in, uint64_t va, uint64_t len);

/* Copies the NUL-terminated string at va into buf (size max). 0, -EFAULT,
 * or -ENAMETOOLONG. */
int lx_ustr(struct zg_instance *in, uint64_t va, char *buf, size_t max);

/* ---- System calls ----------------------------------------------------------
 * A handler gets the six arguments and returns the result for RAX (-errno on
 * error). To end the instance it fills res and sets *stop. */
struct lx_call {
    unsigned nr;
    struct zg_instance *in;
    struct lx_state *lx;
    uint64_t a[6];
    struct zg_run_result *res;
    int stop;
    uint64_t started;    /* CLOCK_MONOTONIC ns when the call was first served: a call
                          * served again after a wait keeps its first time, so its
                          * timeouts count from it */
    struct lx_wait wait; /* what a call that returns LX_BLOCK waits for */
    int sched;           /* the thread yields (LX_YIELD) or is gone (LX_GONE): the
                          * scheduler runs the next one */
};
#define LX_YIELD 1
#define LX_GONE  2

/* A handler's "would block" (never a Linux errno: those are -1..-4095):
 * c->wait says what for; the scheduler (lx_sched.c) waits, then serves the
 * call again from the start, unless the file is O_NONBLOCK (then -EAGAIN is
 * the handler's own answer). */
#define LX_BLOCK (-100000)

/* Waits for w or the instance's deadline: 1, or 0 if the deadline passed
 * (in->expired set; lx_sched.c). */
int lx_sched_wait(struct zg_instance *in, const struct lx_wait *w);
/* The end of a wait with a time: CLOCK_MONOTONIC ns for the struct timespec
 * at req_va on clock clk, absolute with TIMER_ABSTIME in flags, else from
 * c->started. 0, -EFAULT or -EINVAL (sys_time.c). */
int lx_until(struct lx_call *c, uint64_t clk, uint64_t flags, uint64_t req_va, uint64_t *until);

/* ---- Threads (lx_thread.c) ----------------------------------------------- */
/* The running thread's record. */
static inline struct lx_thread *lx_self(struct lx_state *lx)
{
    return &lx->thread[lx->cur < LX_NTHREAD ? lx->cur : 0];
}
/* After the running thread's call blocked (LX_BLOCK: its wait in c), yielded
 * or ended (c->sched): runs the next runnable thread (round robin), or waits
 * until one can run, serving the waiting threads' calls again. ZG_HC_STOP if
 * a call ended the instance; ZG_HC_CONTINUE with a thread loaded (or the
 * deadline passed: in->expired). *redo: the loaded thread's call is yet to
 * be served (its frame is in guest memory). */
enum zg_hc_action lx_schedule(struct lx_call *c, int64_t ret, int *redo);
/* Is a thread other than the running one runnable? */
int lx_others_runnable(const struct lx_state *lx);
/* The running thread's call is not served now: it runs again later with
 * its call to be served (the template point waits for the others). */
enum zg_hc_action lx_postpone(struct lx_call *c, int *redo);
/* Wakes up to n threads waiting on the futex at uaddr whose bitset meets
 * `bitset`: how many. */
int lx_futex_wake(struct lx_state *lx, uint64_t uaddr, uint32_t n, uint32_t bitset);
/* The threads' part of a template's state is sound (lx_load). */
int lx_threads_ok(const struct lx_state *lx);
/* After a restore: waits in progress count from now (their times and host
 * descriptors were the template's process's). */
void lx_threads_restored(struct lx_state *lx);

typedef int64_t (*lx_handler)(struct lx_call *c);

enum lx_support {
    LX_FULL,    /* as Linux does it, for what a guest can reach */
    LX_PARTIAL, /* the common cases; the note says what is missing */
    LX_REFUSED, /* a clear error every time, logged */
};

/* A row of the table, made from an entry of lx_calls.h (which says what
 * each field holds). */
struct lx_row {
    unsigned nr;
    const char *name;
    lx_handler fn;
    enum lx_support support;
    const char *guest; /* "": served by the monitor only; "always"; or the cases */
    const char *note;
};

/* The table (lx_table.c): one row per entry of lx_calls.h, in its order,
 * and the name of any number ("?" if unknown). */
extern const struct lx_row lx_rows[];
extern const unsigned lx_nrows;
/* The row of call number nr, or NULL (lx_persona.c). */
const struct lx_row *lx_row_of(uint64_t nr);
const char *lx_name(unsigned nr);
/* The table as Markdown (the persona's describe hook). */
void lx_describe(int fd);

/* ---- The open-file table and the kinds (lx_file.c) ------------------------------
 * Every kind of open file has one ops table: what it does for read, write,
 * readiness, what the host must watch while a call waits for it, seek,
 * release (its last descriptor closed) and the check of a template's entry.
 * A missing op means the kind's default, said at each field. */
struct stat;
struct lxv;
struct lx_fops {
    const char *name;
    unsigned flags;
#define LX_FOP_SEEK   0x1u /* has a position: pread, lseek (else ESPIPE) */
#define LX_FOP_NOPOLL 0x2u /* epoll refuses it (EPERM), as regular files and directories */
#define LX_FOP_LOCAL                                                                               \
    0x4u /* made ready by the instance's own threads (pipes, eventfds):                            \
          * a call waits with nothing on the host to watch */
    /* read: len > 0 bytes into buf from *pos (the file's position, or
     * pread's), moving *pos; -EAGAIN when nothing is there yet (the caller
     * blocks, or answers EAGAIN for O_NONBLOCK). NULL: -EINVAL. */
    int64_t (*read)(struct lx_call *c, struct zg_linux_file *f, uint8_t *buf, uint64_t len,
                    uint64_t *pos);
    /* write: len > 0 bytes. NULL: -EINVAL. */
    int64_t (*write)(struct lx_call *c, struct zg_linux_file *f, const uint8_t *buf, uint64_t len);
    /* ready: which of POLLIN, POLLOUT, POLLHUP hold now, never waiting.
     * NULL: POLLIN | POLLOUT (never anything to wait for). */
    unsigned (*ready)(struct lx_call *c, const struct zg_linux_file *f);
    /* watch: the host descriptor and events whose change may change
     * ready(); -1: none. NULL: none. */
    int (*watch)(struct lx_call *c, const struct zg_linux_file *f, short *events);
    /* size: the end a SEEK_END counts from (LX_FOP_SEEK kinds); -errno */
    int64_t (*size)(struct lx_call *c, const struct zg_linux_file *f);
    /* release: the last descriptor of the file is gone. NULL: nothing. */
    void (*release)(struct lx_state *lx, struct zg_linux_file *f);
    /* check: a template's (or the runtime's) entry of this kind is one zerg
     * can have made (fields in bounds, references valid). NULL: any. */
    int (*check)(const struct lx_state *lx, const struct zg_linux_file *f, const struct lxv *v);
};
/* The ops of kind k (k <= ZG_LINUX_FD_KIND_MAX; FREE has none: NULL). */
const struct lx_fops *lx_fops_of(unsigned kind);
/* The kinds of lx_event.c: pipe ends and eventfds. */
extern const struct lx_fops lx_pipe_r_ops, lx_pipe_w_ops, lx_eventfd_ops;
/* The pipes' and eventfds' part of a template's state is sound (lx_load). */
int lx_events_ok(const struct lx_state *lx);

/* The open file of descriptor fd, or NULL if fd is not open. */
struct zg_linux_file *lx_fd_get(struct lx_state *lx, uint64_t fd);
/* The lowest free descriptor from `from` on, or -EMFILE. */
int lx_fd_alloc(struct lx_state *lx, uint64_t from);
/* A new open file (a copy of *f) behind a new descriptor (the lowest free
 * one): the descriptor, or -EMFILE / -ENFILE. */
int64_t lx_fd_install(struct lx_state *lx, const struct zg_linux_file *f, int cloexec);
/* Descriptor `to` names the open file of `from` (to's old file closed
 * first, as dup2 does). `to` or -EBADF. */
int64_t lx_fd_dup(struct lx_state *lx, uint64_t from, uint64_t to, int cloexec);
/* The one close: the descriptor is freed, its epoll registrations go, and
 * its open file is released when no other descriptor names it. 0 or -EBADF. */
int lx_fd_close(struct lx_state *lx, uint64_t fd);
/* Descriptors naming open file i. */
unsigned lx_file_refs(const struct lx_state *lx, unsigned i);
/* Is open file f one zerg can have made: a kind, status flags Linux keeps
 * (LX_O_KEPT) with a real access mode, and its kind's check? */
int lx_file_sound(const struct lx_state *lx, const struct zg_linux_file *f, const struct lxv *v);
/* The tables are sound: every descriptor names a file that is in use and
 * passes its kind's check, every file in use is named. 1 or 0, and `why`. */
int lx_files_ok(const struct lx_state *lx, const struct lxv *v, const char **why);

/* Reads and writes through the kinds' ops, with the access-mode checks,
 * guest-pointer checks and blocking (LX_BLOCK) done once (sys_fs.c). off:
 * pread's offset, or UINT64_MAX for the file's position. */
int64_t lx_read(struct lx_call *c, struct zg_linux_file *f, uint64_t va, uint64_t len,
                uint64_t off);
int64_t lx_write(struct lx_call *c, struct zg_linux_file *f, uint64_t va, uint64_t len);

/* Names (sys_path.c). */
void lx_stat_of_fd(struct zg_instance *in, const struct zg_linux_file *f, struct stat *st);
void lx_stat_of_ent(struct zg_instance *in, uint32_t i, struct stat *st);
void lx_stat_of_dev(unsigned minor, struct stat *st); /* /dev/null, zero, (u)random */
int lx_resolve(struct lx_call *c, int64_t dirfd, uint64_t va, int follow, char *out, size_t max);
int lx_is_ready_open(const struct lx_call *c);

/* The handlers, one file per subject (sys_*.c): their prototypes come from
 * the list of calls (lx_calls.h), one per entry. */
#define CALL(name, handler, support, guest, note) int64_t handler(struct lx_call *c);
#include "linux/lx_calls.h"
#undef CALL
/* Descriptor fd is gone: its epoll registrations go with it (as Linux does
 * when the last reference to a file is closed; sys_poll.c). */
void lx_epoll_forget(struct lx_state *lx, int fd);
/* The server model's end: the program waits for a second connection after
 * its one (in accept or poll): the instance is over (sys_net.c). */
int lx_conn_over(struct lx_call *c);
/* Is the instance's connection still open in some descriptor (sys_poll.c)? */
int lx_conn_open(struct lx_state *lx);
/* Is this call where a server program first waits for its connection
 * (accept or poll on a listening socket)? The template point. */
int lx_is_first_wait(struct lx_call *c);
/* readv/writev of a descriptor from an iovec array in the program (sys_fs.c). */
int64_t lx_vec(struct lx_call *c, uint64_t fd, uint64_t iov_va, uint64_t cnt, int writing);

/* Rewritten call sites (lx_patch.c): the call that just trapped ended at rip
 * and carried number nr; if its site is `mov $nr,%eax; syscall` inside
 * executable code the loader mapped (lx->exec), rewrite it to jump to a stub
 * of its own. 1 if rewritten. */
int lx_patch_site(struct zg_instance *in, struct lx_state *lx, uint64_t rip, uint64_t nr);
/* Is the call site ending at rip (its 7 bytes) wholly inside one range of
 * lx->exec, where sites may be rewritten? */
int lx_code_site(const struct lx_state *lx, uint64_t rip);
/* Where the runtime asks the monitor about sites, [lo, hi) of rip: the
 * image, the mmap area (a superset of lx->exec: the monitor decides). */
void lx_code_ranges(const struct lx_state *lx, uint64_t r[2][2]);
/* lx->exec: [va, va+len) becomes executable code a site may be rewritten in
 * (an executable segment the loader mapped, an executable mapping of a file
 * of the view); [va, va+len) is no longer (unmapped, mapped again, zeroed).
 * A range that does not fit is not added (its sites keep trapping); one that
 * cannot be split is forgotten whole. */
void lx_exec_add(struct lx_state *lx, uint64_t va, uint64_t len);
void lx_exec_forget(struct lx_state *lx, uint64_t va, uint64_t len);
/* After a pooled VM's reset (the template's bytes and state are back):
 * rewrites again those sites of lx->learned that lie in the template's own
 * executable code (lx->exec is the template's) and still read
 * `mov $nr,%eax; syscall` there; drops the others. */
void lx_patch_again(struct zg_instance *in, struct lx_state *lx);

/* The guest-side runtime (lx_persona.c): lx_publish fills the monitor's
 * half of the shared page before the guest resumes; lx_flush sends the
 * response bytes the runtime buffered (before any call the monitor serves,
 * and when a run ends). */
void lx_publish(struct zg_instance *in);
void lx_flush(struct zg_instance *in);
/* A call the runtime serves inside the guest reached the monitor anyway (a
 * program that wrote over the runtime): ENOSYS, logged once. */
int64_t lx_sys_in_guest(struct lx_call *c);

/* 1 the first time it is asked about call nr (a number past the table:
 * every time), then 0: what is logged about a call, is logged once. */
int lx_first_time(struct lx_state *lx, unsigned nr);

/* Writes a line to the instance's console (zerg's log), best effort. */
void lx_log(struct zg_instance *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- Loading (lx_load.c) ---------------------------------------------------- */
/* The shared libraries a dynamic program (its ELF image) needs, and those
 * the shared objects of its --ro trees need, and the host's /etc files its C
 * library reads at start (ld.so.cache, localtime, passwd, group,
 * nsswitch.conf: those the host has), as "HOST=GUEST" lines for the view
 * (lx_libs.c); *out NULL if none. 0, or -ENOENT (a library the program
 * needs is not on the host: zg_inst_fail says which), -ENOMEM, -E2BIG. */
int lx_libs(struct zg_instance *in, const void *img, size_t size, const char *prog,
            const char *ro_specs, char **out);

int lx_boot(struct zg_instance *in, const void *image, size_t size);

/* The address space of mem_size bytes with fv_size bytes of file view
 * (linux_abi.h). 0, or -ENOSPC if the view leaves too little. */
int lx_plan_layout(uint64_t mem_size, uint64_t fv_size, struct lx_layout *l);

/* The state as a template carries it (PERSONA record), and back: lx_load
 * checks every field against the instance's memory (untrusted input). */
/* The state's version, and with it the guest-side runtime's contract (the
 * shared page, linux_abi.h): a template carries the runtime it was made with
 * in its memory, so a change to either bumps this. */
#define LX_STATE_VERSION                                                                           \
    8 /* 8: open files apart from descriptors; thread records; the sparse mmap                     \
       * area (lx_state.frame_*, lx_sparse.c) */
int lx_save(struct zg_instance *in, void **buf, size_t *len);
int lx_load(struct zg_instance *in, const void *buf, size_t len);

/* The CPU features a program sees through CPUID at its CPL3 (glibc picks its
 * string functions by them at start-up): leaf 1 ECX and EDX, leaf 7 EBX, ECX
 * and EDX, leaf 0x80000001 ECX and EDX, and XCR0's low word. lx_cpu_missing
 * names, in why, the first word where `need` has a bit `have` lacks: 1 then,
 * else 0. */
void lx_cpu_read(uint32_t cpu[LX_NCPU]);
int lx_cpu_missing(const uint32_t need[LX_NCPU], const uint32_t have[LX_NCPU], char *why,
                   size_t len);

#endif /* LX_INT_H */
