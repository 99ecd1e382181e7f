/* The sandbox a process that runs instances enters before its guests run
 * (docs/security.md): zerg serve's workers, zerg run, zerg boot. Its threads
 * handle guest exits, and with Linux programs as guests they parse system
 * calls from untrusted code: so once it has what it needs open, the process
 * leaves the host's network and mounts (namespaces of its own), gives up
 * root (nobody), and runs under a seccomp filter that allows only the system
 * calls running instances makes; any other kills the whole process (SIGSYS). */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

/* ZERG_SECCOMP_TRAP=1 (diagnosis): a call outside the filter names itself
 * on standard error before the worker exits, instead of a silent SIGSYS. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    char msg[96];
    int n = snprintf(msg, sizeof(msg), "zerg: system call %d is outside the sandbox's filter\n",
                     si->si_syscall);
    if (n > 0 && write(2, msg, (size_t)n) < 0)
        n = 0;
    _exit(128 + SIGSYS);
}

int zg_sandbox_enter(const struct zg_hv_ops *hv, char *why, size_t len)
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
    int trap = getenv("ZERG_SECCOMP_TRAP") != NULL;
    if (trap) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_sigsys;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSYS, &sa, NULL);
    }
    scmp_filter_ctx ctx = seccomp_init(trap ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
    if (!ctx) {
        snprintf(why, len, "seccomp_init failed");
        return -ENOMEM;
    }
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1); /* every thread of the worker */
    for (size_t i = 0; rc == 0 && i < sizeof(allowed) / sizeof(allowed[0]); i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc < 0) {
        snprintf(why, len, "cannot load the seccomp filter: %s", strerror(-rc));
        return rc;
    }
    return 0;
}
