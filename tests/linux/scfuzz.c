/* Linux system-call fuzzer, run as a guest under zerg (tests/sys/linux.sh):
 * N random system calls with random arguments -- wild pointers, huge
 * lengths, bad descriptors, random flags -- then targeted checks that every
 * wild pointer given to a call that must read or write memory is EFAULT and
 * that no host file can be opened. The host process must survive it all
 * (under ASan+UBSan too). Calls that would end or wreck the program itself
 * (exit, TLS base, signal return, unmapping its own memory) or sleep for a
 * random time are not fuzzed. Under zerg it also scribbles on the state of
 * zerg's guest-side runtime, forges descriptors (wild positions, flags,
 * entries) in the guest's copy of the table, and sends the monitor frames
 * it made itself (wild calls, return addresses, `done`) with raw `out`s.
 *
 *     scfuzz [N] [SEED] [zerg]
 *                         first the targeted checks ("efault checks OK/ALL, opened 0"),
 *                         then N random calls ("progress K" every 10,000, "calls N");
 *                         exit 0 if the checks held. A wild write may wreck the
 *                         program itself (the guest faults): tests/sys/linux.sh runs
 *                         it with several seeds and adds up the progress lines. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <zerg/linux_abi.h>

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static char buf[65536];

/* Wild, odd or huge values of the kinds a buggy program passes. */
static uint64_t arg(void)
{
    static const uint64_t wild[] = {0,
                                    1,
                                    8,
                                    0xfff,
                                    0x1000,
                                    0x100000, /* the runtime area */
                                    0x101000, /* the call frame */
                                    0x7e0000000000ull,
                                    0x7fffffffffffull,
                                    0x800000000000ull,
                                    0xffff800000000000ull,
                                    0xffffffffffffffffull,
                                    (uint64_t)-4096,
                                    0x7fffffff,
                                    0x80000000,
                                    (uint64_t)INT64_MAX};
    switch (next() % 6) {
    case 0:
        return wild[next() % (sizeof(wild) / sizeof(wild[0]))];
    case 1:
        return (uint64_t)(uintptr_t)buf + next() % sizeof(buf); /* inside a real buffer */
    case 2:
        return next() % 64; /* a descriptor, a small length or flag */
    case 3:
        return next() % 4096;
    case 4:
        return 1ull << (next() % 64);
    default:
        return next();
    }
}

static int excluded(long nr)
{
    switch (nr) {
    case SYS_exit:
    case SYS_exit_group:
    case SYS_arch_prctl:   /* would move its own TLS */
    case SYS_rt_sigreturn: /* would jump anywhere */
    case SYS_munmap:       /* would unmap its own memory */
    case SYS_mremap:
    case SYS_madvise:
    case SYS_brk:
    case SYS_mmap:      /* MAP_FIXED would clobber its own memory */
    case SYS_nanosleep: /* random sleeps */
    case SYS_clock_nanosleep:
    case SYS_futex: /* a wait may sleep for a random timeout */
    case SYS_poll:
    case SYS_ppoll:
    case SYS_select:
    case SYS_pselect6:
    case SYS_epoll_wait: /* may wait on a registered socket that never becomes ready */
    case SYS_epoll_pwait:
    case SYS_epoll_pwait2:
    case SYS_pause:
    case SYS_set_tid_address:
    case SYS_clone: /* a thread on a wild stack, at this code */
    case SYS_clone3:
    case SYS_pipe:  /* a read of an empty pipe or eventfd waits for another thread: */
    case SYS_pipe2: /* there is none */
    case SYS_eventfd:
    case SYS_eventfd2:
    case SYS_accept: /* a second accept waits for the connection's end */
    case SYS_accept4:
        return 1;
    default:
        return 0;
    }
}

/* zerg's guest-side runtime keeps state the program can reach: the shared
 * page, the guest's copies of the descriptor and open-file tables, the
 * working directory, the threads' ids and signal masks (docs/abi.md). A program that scribbles on
 * them must hurt only itself: every so often, random bytes there, then the calls go on. */
static void scribble(void)
{
    static const struct {
        uint64_t at, len;
    } areas[] = {{0x108100, 0x700}, {0x109000, 0x1c00}, {0x10b000, 0x400}, {0x10d000, 0xa00}};
    unsigned a = (unsigned)(next() % 3);
    uint8_t *p = (uint8_t *)areas[a].at;
    for (int i = 0; i < 16; i++)
        p[next() % areas[a].len] = (uint8_t)next();
}

/* Open files the runtime could have made (a file or directory of the view,
 * a device), with wild positions, flags and entries, written into the
 * guest's copy of the open-file table (struct zg_linux_file), named by
 * descriptors (struct zg_linux_fd) now and then wild themselves, and
 * announced in the shared page's fds_changed: the monitor takes them back
 * at its next call, checked. The descriptors forged last, for forge_frame. */
static unsigned forged[4];

static void forge_fds(void)
{
    static const uint8_t kinds[] = {ZG_LINUX_FD_FILE, ZG_LINUX_FD_DIR, ZG_LINUX_FD_NULL,
                                    ZG_LINUX_FD_ZERO, ZG_LINUX_FD_RANDOM};
    static const uint64_t pos[] = {0x8000000000000000ull, 0xffffffffffffffffull,
                                   (uint64_t)INT64_MAX, (uint64_t)INT64_MAX - 1, 1ull << 62};
    struct zg_linux_fd *g = (struct zg_linux_fd *)ZG_LINUX_FDS_GPA;
    struct zg_linux_file *files = (struct zg_linux_file *)ZG_LINUX_FILES_GPA;
    for (int i = 0; i < 4; i++) {
        unsigned fd = 3 + (unsigned)(next() % 61); /* not 0, 1, 2: the report goes to 1 */
        unsigned fi = (unsigned)(next() % ZG_LINUX_NFILE);
        forged[i] = fd;
        files[fi].kind = kinds[next() % sizeof(kinds)];
        files[fi].ent = (uint32_t)(next() % 3 ? next() % 16 : arg());
        files[fi].flags = (uint32_t)(next() % 2 ? next() % 4 : arg());
        files[fi].pos = next() % 2 ? pos[next() % (sizeof(pos) / sizeof(pos[0]))] : arg();
        g[fd].file = (uint16_t)(next() % 8 ? fi + 1 : next());
        g[fd].cloexec = (uint8_t)next();
    }
    ((struct zg_linux_shared *)ZG_LINUX_SHARED_GPA)->fds_changed = next() % 8 ? 1 : next();
}

/* A frame made by hand and sent with one raw `out`, as the runtime's entry
 * would after a `syscall` trap or from a rewritten site: half the time a
 * call that uses a descriptor's position or flags on one just forged (the
 * monitor serves it, not the runtime), else any call; wild arguments, a
 * wild return address (a site the monitor might rewrite) and `done`. */
static void forge_frame(void)
{
    static const long uses[] = {SYS_read,  SYS_pread64,  SYS_readv,          SYS_preadv, SYS_lseek,
                                SYS_lseek, SYS_sendfile, SYS_getdents64,     SYS_fcntl,  SYS_fstat,
                                SYS_write, SYS_mmap,     SYS_copy_file_range};
    struct zg_linux_frame *f = (struct zg_linux_frame *)ZG_LINUX_FRAME_GPA;
    for (int i = 0; i < 6; i++)
        f->arg[i] = arg();
    long nr;
    if (next() % 2) {
        nr = uses[next() % (sizeof(uses) / sizeof(uses[0]))];
        f->arg[0] = forged[next() % 4];
        /* What it writes goes to buf (wild pointers are the other half's:
         * a file's bytes over the C library's locks would only hang it). */
        static struct iovec iov[2];
        iov[0] = (struct iovec){buf, next() % 4096};
        iov[1] = (struct iovec){buf + 8192, next() % 4096};
        f->arg[1] = nr == SYS_readv || nr == SYS_preadv ? (uint64_t)(uintptr_t)iov
                                                        : (uint64_t)(uintptr_t)buf;
        f->arg[2] = next() % 16384;
        if (nr == SYS_readv || nr == SYS_preadv)
            f->arg[2] = 1 + next() % 2;
        if (nr == SYS_copy_file_range)
            f->arg[1] = f->arg[3] = 0;
        if (nr == SYS_sendfile) /* to a forged one, from a forged one, at its position */
            f->arg[1] = forged[next() % 4], f->arg[2] = 0;
        if (nr == SYS_lseek)
            f->arg[2] = next() % 5,
            f->arg[1] = next() % 2 ? (uint64_t) - (int64_t)(next() % 9) : arg();
        if (nr == SYS_fcntl)
            f->arg[1] = next() % 2 ? 3 /* F_GETFL */ : 4 /* F_SETFL */;
        if (nr == SYS_mmap) /* a file's bytes at a wild offset, never over its own memory */
            f->arg[0] = 0, f->arg[3] = 2 /* MAP_PRIVATE */, f->arg[4] = forged[next() % 4];
    } else {
        do
            nr = (long)(next() % 460);
        while (excluded(nr) || nr == SYS_close || nr == SYS_dup2 || nr == SYS_dup3 ||
               nr == SYS_fcntl || nr == SYS_mprotect);
        if (f->arg[0] <= 2)
            f->arg[0] = 3 + next() % 61; /* keep 0, 1, 2 */
    }
    uint64_t wild = arg(); /* a number past the table, now and then */
    f->nr = next() % 16 || wild < 4096 ? (uint64_t)nr : wild;
    f->rip = next() % 2 ? arg() : (uint64_t)(uintptr_t)forge_frame + next() % 4096;
    f->done = next() % 4 ? 0 : arg();
    uint32_t how = next() % 2 ? ZG_LINUX_CALL_TRAP : ZG_LINUX_CALL_FAST;
    __asm__ volatile("outl %0, %w1" : : "a"(how), "Nd"(ZG_LINUX_PORT) : "memory");
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    /* Under zerg (the harness says so): its runtime's state is scribbled on. */
    int zerg = argc > 3 && !strcmp(argv[3], "zerg");
    if (argc > 2)
        rng ^= (uint64_t)atoll(argv[2]) * 0x9e3779b97f4a7c15ull;
    /* Wild pointers: each of these must be EFAULT, never a crash or data. */
    static const uint64_t wild[] = {0x10,
                                    0xff000,
                                    0x7e0000000000ull,
                                    0x7ffffffff000ull + 0x1000,
                                    0xffff800000000000ull,
                                    0x101000 - 4096 * 200,
                                    0x108100,  /* zerg's runtime: its shared page */
                                    0x120000}; /* and its response buffer */
    int ok = 0, all = 0;
    int fz = open("/dev/zero", O_RDONLY);
    for (size_t i = 0; i < sizeof(wild) / sizeof(wild[0]); i++) {
        void *p = (void *)wild[i];
        long r[] = {syscall(SYS_read, fz, p, 64), syscall(SYS_write, 1, p, 64),
                    syscall(SYS_uname, p), syscall(SYS_clock_gettime, 1, p),
                    syscall(SYS_getrandom, p, 16, 0), syscall(SYS_fstat, 1, p),
                    syscall(SYS_openat, AT_FDCWD, p, 0), syscall(SYS_gettimeofday, p, NULL),
                    syscall(SYS_sysinfo, p), syscall(SYS_prlimit64, 0, 7, NULL, p),
                    /* served inside the guest by zerg's runtime: */
                    syscall(SYS_rt_sigaction, 10, p, NULL, 8),
                    syscall(SYS_rt_sigaction, 10, NULL, p, 8),
                    syscall(SYS_rt_sigprocmask, 0, p, NULL, 8), syscall(SYS_sigaltstack, p, NULL),
                    syscall(SYS_writev, 1, p, 2), syscall(SYS_time, p),
                    syscall(SYS_futex, p, 1 /* FUTEX_WAKE, shared */, 1, NULL, NULL, 0)};
        for (size_t k = 0; k < sizeof(r) / sizeof(r[0]); k++) {
            all++;
            if (r[k] == -1 && errno == EFAULT)
                ok++;
            else
                printf("wild pointer %#lx: call %zu returned %ld (%s)\n", (unsigned long)wild[i], k,
                       r[k], strerror(errno));
        }
    }
    /* Host files: none can be opened, whatever the path. */
    /* (not /etc/passwd: zerg carries a copy into a dynamic program's view) */
    static const char *const host[] = {
        "/etc/shadow", "/etc/hostname",    "/proc/self/maps", "/proc/self/environ", "/tmp",
        "/bin/sh",     "../../etc/shadow", "/dev/kvm",        "/dev/mem",           "/sys/kernel"};
    int opened = 0;
    for (size_t i = 0; i < sizeof(host) / sizeof(host[0]); i++) {
        int fd = open(host[i], O_RDONLY);
        if (fd >= 0) {
            printf("opened host file %s\n", host[i]);
            opened++;
        }
    }
    printf("efault checks %d/%d, opened %d\n", ok, all, opened);
    fflush(stdout);
    /* Under zerg the line may wait in the runtime's buffer, which the
     * scribbling below may wreck: a call the monitor serves sends it first. */
    struct utsname u;
    uname(&u);
    long done = 0;
    while (done < n) {
        long nr = (long)(next() % 460);
        if (excluded(nr))
            continue;
        uint64_t a0 = arg(), a1 = arg();
        /* Keep standard output: the report goes there. */
        if ((nr == SYS_close || nr == SYS_dup2 || nr == SYS_dup3 || nr == SYS_fcntl) &&
            (a0 == 1 || a1 == 1))
            continue;
        syscall(nr, a0, a1, arg(), arg(), arg(), arg());
        if (zerg && done % 5000 == 4999)
            scribble();
        if (zerg && done % 200 == 100) { /* then the monitor serves calls on them */
            forge_fds();
            for (int i = 0; i < 8; i++)
                forge_frame();
        }
        if (++done % 10000 == 0) {
            /* Progress, in case a wild write wrecks the program itself (a
             * fault of the guest, not of zerg): the harness adds these up. */
            dprintf(1, "progress %ld\n", done);
        }
    }
    dprintf(1, "calls %ld\n", done);
    return ok == all && opened == 0 ? 0 : 1;
}
