/* The sandbox a process that runs instances enters before its guests run
 * (docs/security.md): zerg serve's workers, zerg run. Its threads handle
 * guest exits, and with Linux programs as guests they parse system calls
 * from untrusted code: so once it has what it needs open, the process leaves
 * the host's network and mounts (namespaces of its own), gives up root
 * (nobody), and runs under a seccomp filter that allows only the system
 * calls running instances make; any other kills the whole process (SIGSYS),
 * after its number has been noted for whoever reports the death.
 *
 * What the C library would otherwise do lazily, on a thread's own, after
 * the filter (and so be killed for) is done or settled before it: malloc's
 * arena limit (glibc asks for the CPU count, opening
 * /sys/devices/system/cpu/online, once a process has more than 8 threads
 * with arenas), the deadline's signal handler, the pagemap descriptor.
 * Callers with threads let each do its first allocation before the filter
 * too (serve/worker.c). */
#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <sys/mount.h>

#include "monitor/zg_monitor.h"

#define NOBODY 65534u

/* What the threads call once instances run (seen with strace -f under
 * pooled, fresh, zerg-ABI and Linux guests, and the memory cap): memory
 * (guest mappings, resets), KVM ioctls, the connection (accept, I/O, poll,
 * shutdown, close), reports to the master, the deadline timer, time and
 * randomness, threads' own bookkeeping. No open, no exec, no fork or clone,
 * no socket, no signal handler changes. */
static const int allowed[] = {
    SCMP_SYS(read),
    SCMP_SYS(write),
    SCMP_SYS(readv),
    SCMP_SYS(writev),
    SCMP_SYS(pread64),
    SCMP_SYS(pwrite64),
    SCMP_SYS(close),
    SCMP_SYS(lseek),
    SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(fcntl),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(mprotect),
    SCMP_SYS(madvise),
    SCMP_SYS(mremap),
    SCMP_SYS(brk),
    SCMP_SYS(ioctl),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(epoll_create1),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(accept4),
    SCMP_SYS(recvfrom),
    SCMP_SYS(recvmsg),
    SCMP_SYS(sendto),
    SCMP_SYS(sendmsg),
    SCMP_SYS(shutdown),
    SCMP_SYS(setsockopt),
    SCMP_SYS(getsockopt),
    SCMP_SYS(futex),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(nanosleep),
    SCMP_SYS(gettimeofday),
    SCMP_SYS(getrandom),
    SCMP_SYS(getpid),
    SCMP_SYS(gettid),
    SCMP_SYS(getppid),
    SCMP_SYS(getuid),
    SCMP_SYS(getgid),
    SCMP_SYS(geteuid),
    SCMP_SYS(getegid),
    SCMP_SYS(uname),
    SCMP_SYS(clock_getres),
    SCMP_SYS(timer_create),
    SCMP_SYS(timer_settime),
    SCMP_SYS(timer_gettime),
    SCMP_SYS(timer_delete),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(sched_yield),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(rseq),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
};

static const char *const names[ZG_NSYSCALL] = {
#include "build/gen/lx_names.h"
};

const char *zg_syscall_name(unsigned nr)
{
    return nr < ZG_NSYSCALL && names[nr] ? names[nr] : "?";
}

static struct zg_sandbox_note *note_to; /* where the handler notes the call (or NULL) */

/* Decimal digits of v at p (no stdio in a signal handler); their count. */
static size_t put_u(char *p, unsigned v)
{
    char t[12];
    size_t n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < sizeof(t));
    for (size_t i = 0; i < n; i++)
        p[i] = t[n - 1 - i];
    return n;
}

static size_t put_s(char *p, const char *s)
{
    size_t n = 0;
    while (s[n])
        p[n] = s[n], n++;
    return n;
}

/* A call outside the filter (SECCOMP_RET_TRAP): the call is noted (shared
 * memory the parent reads once this process is dead: serve's master) or,
 * without a note, named on standard error (zerg run); then the process dies
 * by SIGSYS as with SECCOMP_RET_KILL_PROCESS. The denied call never ran. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    unsigned nr = (unsigned)si->si_syscall;
    if (note_to) {
        note_to->arch = si->si_arch;
        note_to->nr = (int32_t)nr;
        __atomic_store_n(&note_to->seen, 1, __ATOMIC_RELEASE);
    } else {
        char msg[160];
        size_t n = put_s(msg, "zerg: the sandbox stopped system call ");
        n += put_u(msg + n, nr);
        n += put_s(msg + n, " (");
        n += put_s(msg + n, zg_syscall_name(nr));
        n += put_s(msg + n, "): a call running instances never make; the process ends\n");
        if (write(2, msg, n) < 0)
            n = 0;
    }
    /* SIGSYS is blocked while this runs: a second call outside the filter
     * makes the kernel force its default action (death by SIGSYS, as the
     * parent expects). 1023 is no call at all. */
    syscall(1023);
    _exit(128 + SIGSYS);
}

int zg_sandbox_enter(const struct zg_hv_ops *hv, struct zg_sandbox_note *note, char *why,
                     size_t len)
{
    if (zg_monitor_presandbox(hv) < 0) {
        snprintf(why, len, "the backend cannot be opened");
        return -ENODEV;
    }
    /* Root: network and mount namespaces of its own (the sockets it has
     * keep working: a socket stays in the namespace it was made in; its
     * mounts are copies, private, so nothing it does reaches the host's),
     * then nobody. Where the host does not allow namespaces, without. */
    if (geteuid() == 0) {
        if (unshare(CLONE_NEWNET | CLONE_NEWNS) == 0)
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
        else if (errno != EPERM && errno != EINVAL) {
            snprintf(why, len, "unshare: %s", strerror(errno));
            return -errno;
        }
        if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
            setresuid(NOBODY, NOBODY, NOBODY) < 0) {
            snprintf(why, len, "cannot become nobody: %s", strerror(errno));
            return -errno;
        }
    }
#if defined(__SANITIZE_ADDRESS__)
    /* The sanitizer build: LeakSanitizer checks at exit from a thread it
     * clones and ptrace()s, which the filter would kill; the namespaces and
     * the user above still apply. The normal build is the one tested. */
    return 0;
#endif
    /* malloc's arena limit, settled now: glibc's default (8 per CPU), so
     * that no thread's first allocation asks for the CPU count later. */
    int cpus = get_nprocs();
    mallopt(M_ARENA_MAX, 8 * (cpus > 0 ? cpus : 1));
    note_to = note;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0) {
        snprintf(why, len, "sigaction: %s", strerror(errno));
        return -errno;
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    if (!ctx) {
        snprintf(why, len, "seccomp_init failed");
        return -ENOMEM;
    }
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1); /* every thread of the worker */
    for (size_t i = 0; rc == 0 && i < sizeof(allowed) / sizeof(allowed[0]); i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
    /* abort() (a failed assertion) raises SIGABRT at itself: allowed, so
     * such a death says SIGABRT, not SIGSYS. No other signal, no other
     * process. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 2,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()),
                              SCMP_A2(SCMP_CMP_EQ, (scmp_datum_t)SIGABRT));
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc < 0) {
        snprintf(why, len, "cannot load the seccomp filter: %s", strerror(-rc));
        return rc;
    }
    return 0;
}
