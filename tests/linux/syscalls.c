/* Linux conformance program: exercises the system calls zerg's Linux
 * personality serves and prints what a program can observe of each, in a
 * form that is the same on the host kernel and under zerg (no pids, no
 * times, no host paths). tests/sys/linux.sh runs it both ways and diffs.
 * Reads its request on stdin and answers on stdout (the stdio model). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int checks;

#define SHOW(name, expr)                                                                           \
    do {                                                                                           \
        long r_ = (long)(expr);                                                                    \
        printf("%-28s %s\n", name, r_ < 0 ? strerror(errno) : "ok");                               \
        checks++;                                                                                  \
    } while (0)

#define RAW(name, ...)                                                                             \
    do {                                                                                           \
        long r_ = syscall(__VA_ARGS__);                                                            \
        printf("%-28s %ld %s\n", name, r_ < 0 ? -1L : r_, r_ < 0 ? strerror(errno) : "");          \
        checks++;                                                                                  \
    } while (0)

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    printf("argc %d, argv[1] %s\n", argc, argc > 1 ? argv[1] : "-");

    /* The request: read it all (read, on fd 0). */
    char req[8192];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(req) - 1 && (n = read(0, req + got, sizeof(req) - 1 - got)) > 0)
        got += (size_t)n;
    req[got] = '\0';
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < got; i++)
        h = (h ^ (uint8_t)req[i]) * 16777619u;
    printf("request %zu bytes, fnv %08x\n", got, h);
    RAW("read at eof", SYS_read, 0, req, 10);

    /* Identity and system. */
    struct utsname u;
    SHOW("uname", uname(&u));
    printf("sysname %s, machine %s\n", u.sysname, u.machine);
    printf("uid==euid %d, gid==egid %d\n", getuid() == geteuid(), getgid() == getegid());
    printf("tid is pid %d\n", (int)syscall(SYS_gettid) == (int)syscall(SYS_getpid));
    SHOW("chdir /", chdir("/"));
    char cwd[256];
    printf("getcwd %s\n", getcwd(cwd, sizeof(cwd)) ? cwd : strerror(errno));
    char exe[512];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (el > 0)
        exe[el] = 0;
    const char *base = el > 0 ? strrchr(exe, '/') : NULL;
    printf("readlink exe %s\n", base ? base + 1 : strerror(errno));
    RAW("readlink /dev/null", SYS_readlink, "/dev/null", exe, sizeof(exe));
    cpu_set_t cs;
    CPU_ZERO(&cs);
    SHOW("sched_getaffinity", sched_getaffinity(0, sizeof(cs), &cs));
    printf("cpus >= 1 %d\n", CPU_COUNT(&cs) >= 1);
    RAW("sched_yield", SYS_sched_yield);
    struct rlimit rl;
    SHOW("getrlimit stack", getrlimit(RLIMIT_STACK, &rl));
    SHOW("prlimit64 nofile", prlimit(0, RLIMIT_NOFILE, NULL, &rl));
    printf("nofile >= 64 %d\n", rl.rlim_cur >= 64);

    /* Memory. */
    /* brk, raw (musl's brk() wrapper always fails, by design). */
    char *b0 = (char *)syscall(SYS_brk, 0);
    char *b1 = (char *)syscall(SYS_brk, b0 + (1 << 20));
    printf("brk grow %d\n", b1 == b0 + (1 << 20));
    if (b1 == b0 + (1 << 20))
        memset(b0, 0x5a, 1 << 20);
    printf("brk shrink %d\n", (char *)syscall(SYS_brk, b0 + 4096) == b0 + 4096);
    printf("brk regrow %d\n", (char *)syscall(SYS_brk, b0 + (1 << 20)) == b0 + (1 << 20));
    printf("regrown heap is zero %d\n", b0[8192] == 0 && b0[(1 << 20) - 1] == 0);
    printf("brk below start refused %d\n", (char *)syscall(SYS_brk, b0 - 4096) == b0 + (1 << 20));
    char *m = mmap(NULL, 3 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    SHOW("mmap anon", m == MAP_FAILED ? -1 : 0);
    memset(m, 1, 3 << 20);
    SHOW("mprotect", mprotect(m, 4096, PROT_READ | PROT_WRITE));
    SHOW("madvise dontneed", madvise(m, 8192, MADV_DONTNEED));
    printf("dontneed zeroes %d\n", m[0] == 0 && m[8191] == 0 && m[8192] == 1);
    char *m2 = mremap(m, 3 << 20, 5 << 20, MREMAP_MAYMOVE);
    SHOW("mremap grow", m2 == MAP_FAILED ? -1 : 0);
    printf("mremap keeps data %d, new tail zero %d\n", m2[9000] == 1, m2[(4 << 20) + 5] == 0);
    SHOW("munmap", munmap(m2, 5 << 20));
    char *m3 = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap after munmap zero %d\n",
           m3 != MAP_FAILED && m3[100] == 0 && m3[(1 << 20) - 1] == 0);
    munmap(m3, 1 << 20);
    SHOW("mmap len 0",
         mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
    SHOW("munmap unaligned", munmap((char *)b0 + 1, 4096));

    /* Descriptors and the files there are. */
    int fz = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    char buf[64];
    memset(buf, 9, sizeof(buf));
    RAW("read /dev/zero", SYS_read, fz, buf, sizeof(buf));
    printf("zeroes %d\n", buf[0] == 0 && buf[63] == 0);
    printf("cloexec %d\n", fcntl(fz, F_GETFD) == FD_CLOEXEC);
    SHOW("fcntl setfd", fcntl(fz, F_SETFD, 0));
    printf("cloexec now %d\n", fcntl(fz, F_GETFD));
    int fn = openat(AT_FDCWD, "/dev/null", O_RDWR);
    RAW("write /dev/null", SYS_write, fn, "abc", 3);
    RAW("read /dev/null", SYS_read, fn, buf, 8);
    printf("getfl rdwr %d\n", (fcntl(fn, F_GETFL) & O_ACCMODE) == O_RDWR);
    SHOW("setfl nonblock", fcntl(fn, F_SETFL, O_NONBLOCK));
    printf("getfl nonblock %d\n", (fcntl(fn, F_GETFL) & O_NONBLOCK) != 0);
    int fr = open("/dev/urandom", O_RDONLY);
    RAW("read /dev/urandom", SYS_read, fr, buf, 32);
    RAW("getrandom", SYS_getrandom, buf, 48, 0);
    RAW("getrandom bad flags", SYS_getrandom, buf, 8, 0x100);
    int d = dup(fn);
    printf("dup is lowest free %d\n", d > fn);
    RAW("dup2", SYS_dup2, fn, 40);
    RAW("dup3 cloexec", SYS_dup3, fn, 41, O_CLOEXEC);
    printf("dup3 flag %d\n", fcntl(41, F_GETFD));
    RAW("dup3 same fd", SYS_dup3, 41, 41, 0);
    RAW("fcntl dupfd 50", SYS_fcntl, fn, F_DUPFD, 50);
    RAW("close", SYS_close, 40);
    RAW("close again", SYS_close, 40);
    RAW("close bad", SYS_close, 9999);
    RAW("read bad fd", SYS_read, 77, buf, 1);
    RAW("write bad ptr", SYS_write, fn, (void *)8, 10);
    RAW("read into bad ptr", SYS_read, fz, (void *)8, 10);
    RAW("open missing", SYS_openat, AT_FDCWD, "/nonexistent-zerg/x", O_RDONLY);
    RAW("open bad ptr", SYS_openat, AT_FDCWD, (void *)16, O_RDONLY);
    RAW("ioctl tcgets", SYS_ioctl, 1, 0x5401, buf);
    RAW("lseek pipe", SYS_lseek, 0, 0, SEEK_CUR);
    RAW("lseek /dev/null", SYS_lseek, fn, 0, SEEK_SET);
    RAW("pread /dev/zero", SYS_pread64, fz, buf, 16, 0);
    RAW("pread pipe", SYS_pread64, 0, buf, 16, 0);
    struct iovec iov[2] = {{buf, 10}, {buf + 10, 20}};
    RAW("readv /dev/zero", SYS_readv, fz, iov, 2);
    RAW("writev /dev/null", SYS_writev, fn, iov, 2);
    struct stat st;
    SHOW("fstat /dev/null", fstat(fn, &st));
    printf("chr %d rdev %u:%u\n", S_ISCHR(st.st_mode), major(st.st_rdev), minor(st.st_rdev));
    SHOW("stat /dev/zero", stat("/dev/zero", &st));
    printf("chr %d rdev %u:%u\n", S_ISCHR(st.st_mode), major(st.st_rdev), minor(st.st_rdev));
    RAW("newfstatat missing", SYS_newfstatat, AT_FDCWD, "/nonexistent-zerg", &st, 0);
    uint8_t sx[256]; /* struct statx (musl has no declaration): stx_mode at 28 */
    RAW("statx /dev/urandom", SYS_statx, AT_FDCWD, "/dev/urandom", 0, 0x7ff, sx);
    uint16_t sx_mode;
    memcpy(&sx_mode, sx + 28, 2);
    printf("statx chr %d\n", S_ISCHR(sx_mode));
    SHOW("access /dev/null", access("/dev/null", R_OK | W_OK));
    RAW("faccessat missing", SYS_faccessat, AT_FDCWD, "/nonexistent-zerg", F_OK);

    /* Waiting. */
    struct pollfd pf[2] = {{.fd = fn, .events = POLLIN | POLLOUT}, {.fd = 9999, .events = POLLIN}};
    RAW("poll /dev/null + bad fd", SYS_poll, pf, 2, 0);
    printf("revents %x %x\n", pf[0].revents, pf[1].revents);
    RAW("poll nothing 5ms", SYS_poll, NULL, 0, 5);
    struct timeval tv0 = {0, 2000};
    RAW("select timeout", SYS_select, 0, NULL, NULL, NULL, &tv0);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(fz, &rs);
    RAW("select /dev/zero", SYS_select, fz + 1, &rs, NULL, NULL, NULL);
    printf("zero readable %d\n", FD_ISSET(fz, &rs) != 0);
    struct timespec ts0 = {0, 1000000};
    RAW("ppoll 1ms", SYS_ppoll, NULL, 0, &ts0, NULL, 8);

    /* Time. */
    struct timespec t1, t2, res;
    SHOW("clock_gettime mono", clock_gettime(CLOCK_MONOTONIC, &t1));
    struct timespec nap = {0, 2000000};
    SHOW("nanosleep 2ms", nanosleep(&nap, NULL));
    SHOW("clock_nanosleep 1ms",
         clock_nanosleep(CLOCK_MONOTONIC, 0, &(struct timespec){0, 1000000}, NULL));
    clock_gettime(CLOCK_MONOTONIC, &t2);
    long slept = (t2.tv_sec - t1.tv_sec) * 1000000000L + (t2.tv_nsec - t1.tv_nsec);
    printf("slept >= 3ms %d\n", slept >= 3000000);
    SHOW("clock_getres", clock_getres(CLOCK_REALTIME, &res));
    RAW("clock_gettime bad clock", SYS_clock_gettime, 99, &t1);
    struct timeval tv;
    SHOW("gettimeofday", gettimeofday(&tv, NULL));
    long now = (long)syscall(SYS_time, NULL);
    printf("time agrees %d\n", labs(now - tv.tv_sec) <= 2);

    /* (Linux's numbers: musl has no <linux/futex.h>.) */
    enum { F_WAIT = 0, F_WAKE = 1, F_WAKE_OP = 5, F_PRIVATE = 128, F_OP_ADD = 1 };
    /* futex, one thread: a wake wakes nobody, a wait finds another value or
     * times out; FUTEX_WAKE_OP still does its operation. */
    uint32_t word = 5, word2 = 1;
    RAW("futex wake", SYS_futex, &word, F_WAKE | F_PRIVATE, 1, NULL, NULL, 0);
    RAW("futex wait, other value", SYS_futex, &word, F_WAIT | F_PRIVATE, 4, NULL, NULL, 0);
    RAW("futex wait 1ms", SYS_futex, &word, F_WAIT | F_PRIVATE, 5, &(struct timespec){0, 1000000},
        NULL, 0);
    RAW("futex wake_op add 2", SYS_futex, &word, F_WAKE_OP | F_PRIVATE, 1, (void *)1, &word2,
        F_OP_ADD << 28 | 2 << 12 /* FUTEX_OP(ADD, 2, CMP_EQ, 0) */);
    printf("wake_op word %u\n", word2);
    RAW("futex wake, bad address", SYS_futex, (void *)16, F_WAKE, 1, NULL, NULL, 0);
    RAW("futex wake, unaligned", SYS_futex, (char *)&word + 1, F_WAKE | F_PRIVATE, 1, NULL, NULL,
        0);

    /* Signals: recorded, not delivered. */
    struct sigaction sa = {0}, old;
    sa.sa_handler = SIG_IGN;
    SHOW("sigaction", sigaction(SIGUSR1, &sa, NULL));
    SHOW("sigaction read back", sigaction(SIGUSR1, NULL, &old));
    printf("ignored %d\n", old.sa_handler == SIG_IGN);
    SHOW("sigaction SIGKILL", sigaction(SIGKILL, &sa, NULL));
    sigset_t set, oset;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    SHOW("sigprocmask block", sigprocmask(SIG_BLOCK, &set, NULL));
    SHOW("sigprocmask read", sigprocmask(SIG_SETMASK, NULL, &oset));
    printf("usr2 blocked %d\n", sigismember(&oset, SIGUSR2));
    stack_t ss = {0};
    SHOW("sigaltstack read", sigaltstack(NULL, &ss));
    printf("altstack disabled %d\n", (ss.ss_flags & SS_DISABLE) != 0);
    RAW("alarm", SYS_alarm, 0);

    /* What an instance cannot do: a clear error. */
    RAW("kill other", SYS_kill, 999999, 0);

    printf("%d checks\n", checks);
    fflush(stdout);
    fprintf(stderr, "stderr line from the program\n");
    return 7;
}
