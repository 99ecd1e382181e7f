/* zerg Linux personality: the contract between the guest-side system-call
 * entry (linux/entry.S, copied into every Linux guest) and the monitor.
 *
 * A Linux program knows nothing of zerg: it executes `syscall`. The monitor
 * points MSR_LSTAR at the entry, which runs in the guest (at CPL3 on the PVM
 * flavour of KVM, see docs/abi.md "Linux programs"), saves the call into the
 * frame below, and calls the monitor with one `out` to ZG_LINUX_PORT; the
 * monitor serves the call, writes the result into the frame and resumes the
 * entry, which returns to the program with `jmp *%rcx`, RFLAGS from R11, as
 * `sysret` would. Everything in the frame is written by guest code and is
 * untrusted: the monitor checks it exactly like a hypercall's arguments.
 *
 * This header is included by C and by assembly (only #defines outside
 * __ASSEMBLER__).
 */
#ifndef ZERG_LINUX_ABI_H
#define ZERG_LINUX_ABI_H

/* The port of the Linux call (inside the range the zerg ABI claims). */
#define ZG_LINUX_PORT 0x508

/* ---- Guest physical and virtual layout --------------------------------
 * [0, 1 MiB)        the monitor's: page tables, GDT, TSS (as zerg guests)
 * [1 MiB, 2 MiB)    the runtime area, identity mapped, user-accessible:
 *                   the guest-side runtime's code (linux/rt/: the entry and
 *                   the calls served in the guest), the frame and the
 *                   shared page, the entry's private stack, the stubs of
 *                   rewritten call sites, the buffered response bytes
 * [2 MiB, brk_end)  identity mapped: the program at its link address (a
 *                   static PIE at ZG_LINUX_PIE_BASE), then the brk heap
 * then              the mmap area, mapped at ZG_LINUX_MMAP_VA
 * top 8 MiB         the stack, mapped just below ZG_LINUX_STACK_VA_END */
#define ZG_LINUX_RT_GPA       0x100000 /* the runtime's code, read-only to the program */
#define ZG_LINUX_RT_CODE_SIZE 0x8000
/* The runtime's entry points, at fixed offsets (linux/rt/entry.S). */
#define ZG_LINUX_ENTRY_USER   (ZG_LINUX_RT_GPA + 0)
#define ZG_LINUX_ENTRY_RING0  (ZG_LINUX_RT_GPA + 8)
#define ZG_LINUX_ENTRY_FAST   (ZG_LINUX_RT_GPA + 16)
#define ZG_LINUX_ENTRY_PROBE  (ZG_LINUX_RT_GPA + 24)
#define ZG_LINUX_FRAME_GPA    0x108000 /* struct zg_linux_frame */
#define ZG_LINUX_SHARED_GPA   0x108100 /* struct zg_linux_shared */
#define ZG_LINUX_FPU_GPA                                                                           \
    0x108c00                           /* the program's x87/SSE state, FXSAVEd by the              \
                                        * entry around each exit to the monitor: 512 */
#define ZG_LINUX_FDS_GPA      0x109000 /* the descriptor table: struct zg_linux_fd[256] */
#define ZG_LINUX_FILES_GPA    0x109400 /* the open files: struct zg_linux_file[256] */
#define ZG_LINUX_CWD_GPA      0x10b000 /* the working directory (a copy: the monitor's) */
#define ZG_LINUX_RND_GPA      0x10c000 /* fresh host randomness: its last rnd_avail bytes */
#define ZG_LINUX_RND_SIZE     4096     /* (Python's random.seed() takes 2,496 at once) */
#define ZG_LINUX_THREADS_GPA  0x10d000 /* each thread's id and signal state: the runtime's */
#define ZG_LINUX_CWD_SIZE     1024
#define ZG_LINUX_STUB_GPA     0x110000 /* the stubs of rewritten call sites */
#define ZG_LINUX_STUB_SIZE    0x10000
#define ZG_LINUX_STUB_BYTES   32
#define ZG_LINUX_RT_STACK_TOP 0x140000 /* the runtime's stack: [0x120000, 0x140000) */
#define ZG_LINUX_OUT_GPA      0x140000 /* response bytes the runtime buffered */
#define ZG_LINUX_OUT_SIZE     0xc0000
#define ZG_LINUX_VIEW_VA      0x600000000000ull /* the file view, read-only */
#define ZG_LINUX_RT_END       0x200000
#define ZG_LINUX_PIE_BASE     0x400000
#define ZG_LINUX_MMAP_VA      0x7f0000000000ull
#define ZG_LINUX_STACK_VA_END 0x800000000000ull
#define ZG_LINUX_STACK_TOP    0x7ffffffff000ull /* initial stack grows down from here */
#define ZG_LINUX_STACK_SIZE   (8ull << 20)

/* The explicit template point: a Linux program that opens this path (it
 * need not exist anywhere) is captured there, before the open returns; every
 * restored instance returns from that open, with a descriptor of /dev/null,
 * so the program can reseed its generators right after it. Without it the
 * template point is the program's first read of descriptor 0. */
#define ZG_LINUX_READY_PATH "/run/zerg/ready"

/* The `out` value of a call: the frame's address, plus one when the call
 * came through a call site the monitor rewrote (no `syscall`: docs/abi.md,
 * "Rewritten call sites"). */
#define ZG_LINUX_CALL_TRAP ZG_LINUX_FRAME_GPA
#define ZG_LINUX_CALL_FAST (ZG_LINUX_FRAME_GPA + 1)

/* Frame offsets, for the assembly entry. */
#define ZG_LINUX_F_NR     0
#define ZG_LINUX_F_ARG0   8
#define ZG_LINUX_F_RET    56
#define ZG_LINUX_F_RIP    64
#define ZG_LINUX_F_RFL    72
#define ZG_LINUX_F_RSP    80
#define ZG_LINUX_F_DONE   88
#define ZG_LINUX_F_CALLEE 96 /* RBX, RBP, R12-R15 around an exit */

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Descriptors and open files, as Linux has them: a descriptor (the table at
 * ZG_LINUX_FDS_GPA, 256 of them) names an open file (the table at
 * ZG_LINUX_FILES_GPA, 256), which holds the kind, the status flags and the
 * position; dup'd descriptors name one open file and share its position.
 * An open file is free when no descriptor names it. The monitor keeps the
 * master copy of both tables and writes them into the guest before each
 * resume; the runtime may open and close files and directories of the view
 * and devices in them and move their positions (and says so in the shared
 * page's fds_changed): the monitor then takes those entries back, checked,
 * and nothing else. */
enum zg_linux_fd_kind {
    ZG_LINUX_FD_FREE = 0,
    ZG_LINUX_FD_STDIN,   /* the request stream */
    ZG_LINUX_FD_STDOUT,  /* the response stream */
    ZG_LINUX_FD_CONSOLE, /* zerg's console (standard error) */
    ZG_LINUX_FD_NULL,    /* /dev/null */
    ZG_LINUX_FD_ZERO,    /* /dev/zero */
    ZG_LINUX_FD_RANDOM,  /* /dev/urandom, /dev/random */
    ZG_LINUX_FD_FILE,    /* a file of the view */
    ZG_LINUX_FD_DIR,     /* a directory of the view */
    ZG_LINUX_FD_SOCK,    /* a TCP socket the program made: bound, listening */
    ZG_LINUX_FD_CONN,    /* the instance's one connection, accepted */
    ZG_LINUX_FD_EPOLL,   /* an epoll instance */
    ZG_LINUX_FD_PIPE_R,  /* the read end of a pipe: ent is the pipe */
    ZG_LINUX_FD_PIPE_W,  /* its write end */
    ZG_LINUX_FD_EVENTFD, /* an eventfd: ent is its counter */
};
#define ZG_LINUX_FD_KIND_MAX ZG_LINUX_FD_EVENTFD
#define ZG_LINUX_NFD         256
#define ZG_LINUX_NFILE       256

struct zg_linux_fd {
    uint16_t file;   /* 0: free; else 1 + the index of its open file */
    uint8_t cloexec; /* FD_CLOEXEC: the descriptor's own */
    uint8_t pad;
};
_Static_assert(sizeof(struct zg_linux_fd) == 4, "zg_linux_fd layout");

struct zg_linux_file {
    uint8_t kind; /* enum zg_linux_fd_kind (FREE: unused) */
    uint8_t pad;
    uint16_t port;  /* SOCK: the port it was bound to (host order) */
    uint32_t flags; /* the O_* status flags (F_GETFL) */
    uint32_t ent;   /* FILE, DIR: the view entry; EPOLL: the instance; devices: minor */
    uint32_t sock;  /* SOCK: the monitor's flags */
    uint64_t pos;   /* the file offset (directories: the next entry to list) */
};
_Static_assert(sizeof(struct zg_linux_file) == 24, "zg_linux_file layout");
_Static_assert(ZG_LINUX_FDS_GPA + ZG_LINUX_NFD * sizeof(struct zg_linux_fd) <= ZG_LINUX_FILES_GPA &&
                   ZG_LINUX_FILES_GPA + ZG_LINUX_NFILE * sizeof(struct zg_linux_file) <=
                       ZG_LINUX_CWD_GPA,
               "descriptor and open-file tables");

/* The kinds the runtime may make, serve and free itself: the devices, and
 * files and directories of the view (the monitor takes back no others). */
static inline int zg_linux_fd_device(unsigned kind)
{
    return kind == ZG_LINUX_FD_NULL || kind == ZG_LINUX_FD_ZERO || kind == ZG_LINUX_FD_RANDOM;
}

static inline int zg_linux_fd_runtime(unsigned kind)
{
    return kind == ZG_LINUX_FD_FILE || kind == ZG_LINUX_FD_DIR || zg_linux_fd_device(kind);
}

/* A call site the monitor rewrites (linux/lx_patch.c): the seven bytes that
 * end at the return address of a `syscall` carrying number nr are
 * `mov $nr,%eax; syscall` (b8 NN NN NN NN 0f 05). */
static inline int zg_linux_site_rewritable(const uint8_t p[7], uint64_t nr)
{
    uint32_t imm =
        (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24;
    return p[0] == 0xb8 && p[5] == 0x0f && p[6] == 0x05 && imm == nr;
}

/* Threads an instance may have at once (docs/abi.md "Threads"); clone
 * beyond them is EAGAIN. */
#define ZG_LINUX_NTHREAD 64

/* The runtime's half of a thread's record (ZG_LINUX_THREADS_GPA, one per
 * thread slot): its id (the monitor writes it) and its signal state (the
 * runtime's: rt_sigprocmask, sigaltstack). */
struct zg_linux_sigthread {
    uint32_t tid; /* gettid (0: a free slot) */
    uint32_t pad;
    uint64_t sigmask;     /* rt_sigprocmask */
    uint64_t altstack[3]; /* sigaltstack: ss_sp, ss_flags, ss_size */
};
_Static_assert(sizeof(struct zg_linux_sigthread) == 40, "zg_linux_sigthread layout");
_Static_assert(ZG_LINUX_THREADS_GPA + ZG_LINUX_NTHREAD * sizeof(struct zg_linux_sigthread) <=
                   ZG_LINUX_STUB_GPA,
               "thread records");

/* The shared page, right after the frame: what the guest-side runtime
 * (linux/rt/) serves calls from without an exit. The monitor fills the
 * first part before every resume; the runtime owns the second (the monitor
 * reads what it needs of it as untrusted). */
struct zg_linux_shared {
    /* ---- written by the monitor before each resume ---- */
    uint64_t region[3][2]; /* where the program's pointers may point: [lo, hi)
                            * of image and heap, mmap area, stack (virtual) */
    uint64_t tsc_base;     /* the host's TSC when it resumed the guest, */
    uint64_t mono_base;    /* CLOCK_MONOTONIC then, */
    uint64_t real_base;    /* CLOCK_REALTIME then; */
    uint64_t tsc_mul;      /* ns = ((TSC - tsc_base) * tsc_mul) >> 32; 0: ask */
    uint32_t uid, gid;     /* the ids the program sees */
    uint32_t rewrite;      /* 1: the monitor rewrites call sites (lx_patch.c), so a
                            * call that trapped at one it can rewrite goes to it */
    uint64_t code[2][2];   /* where: [lo, hi) of the rip after a site (image, mmap area) */
    uint32_t epoll_used;   /* an epoll instance exists: closes go to the monitor */
    uint64_t view_size;    /* the file view's bytes, at ZG_LINUX_VIEW_VA (0: none) */
    uint32_t out_ok;       /* writes of the response stream may be buffered (it is
                            * neither shut down for writing nor gone) */
    uint32_t pad;
    uint64_t brk_start; /* the heap starts here ... */
    uint64_t brk_limit; /* ... and may grow up to here */
    /* ---- the runtime's ---- */
    uint64_t rnd_avail;     /* bytes at ZG_LINUX_RND_GPA not used yet (the monitor refills) */
    uint64_t out_len;       /* bytes buffered at ZG_LINUX_OUT_GPA */
    uint64_t fds_changed;   /* the runtime changed the descriptor table */
    uint64_t brk, brk_hwm;  /* the heap's end, the highest it has been (the monitor
                             * writes both before a resume and reads them back) */
    uint64_t served;        /* calls served in the guest (a statistic) */
    uint64_t tsc_seen;      /* the TSC when it last asked the monitor */
    uint64_t last_mono;     /* the latest CLOCK_MONOTONIC it returned */
    uint8_t sigact[64][32]; /* rt_sigaction: struct kernel_sigaction per signal */
    uint32_t cur;           /* the running thread: its slot at ZG_LINUX_THREADS_GPA (the
                             * monitor writes it before each resume) */
    uint32_t nthread;       /* threads alive (the monitor's): with more than one,
                             * sched_yield is the monitor's */
};

/* The frame: the call of the running thread (the monitor keeps the frames
 * of the others, and switches threads by switching frames). */
struct zg_linux_frame {
    uint64_t nr;        /* IN: the system-call number (RAX) */
    uint64_t arg[6];    /* IN: RDI, RSI, RDX, R10, R8, R9 */
    int64_t ret;        /* OUT: the result for RAX (-errno on error) */
    uint64_t rip;       /* IN: where the program continues (RCX) */
    uint64_t rflags;    /* IN: the program's RFLAGS (R11) */
    uint64_t rsp;       /* IN: the program's stack pointer */
    uint64_t done;      /* IN: 1 if the runtime served the call itself, and asks
                         * the monitor only to rewrite its site (lx_patch.c) */
    uint64_t callee[6]; /* IN/OUT: RBX, RBP, R12, R13, R14, R15: saved by the entry
                         * before it exits to the monitor and put back after, so
                         * the frame is the whole of a thread stopped in a call
                         * (the monitor switches threads by switching frames) */
};
_Static_assert(sizeof(struct zg_linux_frame) == 144, "zg_linux_frame layout");
_Static_assert(__builtin_offsetof(struct zg_linux_frame, ret) == ZG_LINUX_F_RET, "frame ret");
_Static_assert(__builtin_offsetof(struct zg_linux_frame, rip) == ZG_LINUX_F_RIP, "frame rip");
_Static_assert(__builtin_offsetof(struct zg_linux_frame, rsp) == ZG_LINUX_F_RSP, "frame rsp");
_Static_assert(__builtin_offsetof(struct zg_linux_frame, callee) == ZG_LINUX_F_CALLEE,
               "frame callee");
_Static_assert(ZG_LINUX_FRAME_GPA + sizeof(struct zg_linux_frame) <= ZG_LINUX_SHARED_GPA &&
                   ZG_LINUX_SHARED_GPA + sizeof(struct zg_linux_shared) <= ZG_LINUX_FPU_GPA &&
                   ZG_LINUX_FPU_GPA % 16 == 0 &&
                   ZG_LINUX_FPU_GPA + 512 <= ZG_LINUX_FRAME_GPA + 4096,
               "frame, shared struct and FPU image in one page");
#endif

#endif /* ZERG_LINUX_ABI_H */
