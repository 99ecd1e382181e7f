/* Linux conformance program for signals (issue 24): sigaction handlers run
 * for raise, kill(getpid()) and tgkill(self); SA_SIGINFO (si_signo, si_code,
 * si_pid, sigqueue's value); the handler's mask (sa_mask, SA_NODEFER),
 * SA_RESETHAND; synchronous faults caught and left with siglongjmp: a NULL
 * write (si_addr matches), a PROT_NONE guard page and a read-only page
 * (SEGV_ACCERR), integer division by zero (SIGFPE), ud2 (SIGILL), int3
 * (SIGTRAP), a mapping past the end of its file (SIGBUS); a handler that
 * repairs the faulting register in its ucontext and returns (rt_sigreturn
 * resumes it); sigaltstack (the handler's stack lies in the alternate
 * stack); per-thread masks with a pending signal then unblocked, delivery
 * to the right thread, inherited masks; standard signals coalesce and
 * real-time ones queue; sigsuspend; rt_sigtimedwait with a timeout;
 * setitimer(ITIMER_REAL) one-shot and interval; EINTR and SA_RESTART on a
 * blocking read; SIGPIPE ignored and handled. No default actions (they would
 * end the program) and no fork. One line per check, the same on every run,
 * exit 0 when all behaved. tests/sys/linux.sh runs it natively and under
 * zerg and diffs the output. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static int checks, fails;
static char d[200];

static const char *ename(int e)
{
    static const struct {
        int e;
        const char *n;
    } t[] = {{0, "0"},         {EAGAIN, "EAGAIN"}, {EINTR, "EINTR"},
             {EPIPE, "EPIPE"}, {EINVAL, "EINVAL"}, {ESRCH, "ESRCH"},
             {EPERM, "EPERM"}, {ENOSYS, "ENOSYS"}, {EFAULT, "EFAULT"}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].e == e)
            return t[i].n;
    static char b[32];
    snprintf(b, sizeof(b), "errno-%d", e);
    return b;
}

static const char *cname(int c)
{
    static const struct {
        int c;
        const char *n;
    } t[] = {{SI_USER, "SI_USER"},
             {SI_TKILL, "SI_TKILL"},
             {SI_QUEUE, "SI_QUEUE"},
             {SI_KERNEL, "SI_KERNEL"},
             {SI_TIMER, "SI_TIMER"}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].c == c)
            return t[i].n;
    static char b[32];
    snprintf(b, sizeof(b), "code-%d", c);
    return b;
}

static void check(const char *name, int ok, const char *detail)
{
    checks++;
    fails += !ok;
    printf("%-52s %s%s%s\n", name, ok ? "ok" : "FAIL", detail ? " " : "", detail ? detail : "");
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static pid_t tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static void on(int sig, void (*h)(int, siginfo_t *, void *), int flags, int also_mask)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = h;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (also_mask)
        sigaddset(&sa.sa_mask, also_mask);
    sigaction(sig, &sa, NULL);
}

static void mask(int how, int sig)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    pthread_sigmask(how, &s, NULL);
}

/* What the last handler saw. */
static volatile int hits, last_sig, last_code, last_pid, last_val, self_blocked, other_blocked,
    on_alt, order[8], norder;
static volatile pid_t last_tid;
static void *volatile last_addr;
static char alt[65536];
static sigjmp_buf jb;

static void record(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    hits++;
    last_sig = si->si_signo;
    last_code = si->si_code;
    last_pid = si->si_pid;
    last_val = si->si_value.sival_int;
    last_addr = si->si_addr;
    last_tid = tid();
    if (norder < 8)
        order[norder++] = sig;
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    self_blocked = sigismember(&cur, sig);
    other_blocked = sigismember(&cur, SIGUSR2);
    volatile char here = 0;
    on_alt = (char *)&here >= alt && (char *)&here < alt + sizeof(alt);
}

static void escape(int sig, siginfo_t *si, void *uc)
{
    record(sig, si, uc);
    siglongjmp(jb, 1);
}

static int target;
static void repair(int sig, siginfo_t *si, void *uc)
{
    record(sig, si, uc);
    ((ucontext_t *)uc)->uc_mcontext.gregs[REG_RAX] = (greg_t)(intptr_t)&target;
}

#define FAULT(name, code_expr, want_sig, want_code, want_addr)                                     \
    do {                                                                                           \
        hits = 0;                                                                                  \
        if (sigsetjmp(jb, 1) == 0) {                                                               \
            code_expr;                                                                             \
        }                                                                                          \
        snprintf(d, sizeof(d), "(caught %d, signo ok %d, code %d, si_addr matches %d)", hits,      \
                 last_sig == (want_sig), last_code, last_addr == (void *)(want_addr));             \
        check(name,                                                                                \
              hits == 1 && last_sig == (want_sig) && last_code == (want_code) &&                   \
                  last_addr == (void *)(want_addr),                                                \
              d);                                                                                  \
    } while (0)

static volatile int go;
static pid_t thr_tid;
static volatile int thr_pending, thr_inherited;
static void *masked_thread(void *a)
{
    (void)a;
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    thr_inherited = sigismember(&cur, SIGUSR2);
    thr_tid = tid();
    mask(SIG_BLOCK, SIGUSR1);
    __atomic_store_n(&go, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&go, __ATOMIC_SEQ_CST) != 2)
        sched_yield();
    sigpending(&cur);
    thr_pending = sigismember(&cur, SIGUSR1);
    mask(SIG_UNBLOCK, SIGUSR1);
    return NULL;
}
static void *kick_main(void *a)
{
    sleep_ms((long)(intptr_t)a);
    syscall(SYS_tgkill, getpid(), (pid_t)getpid(), SIGUSR1);
    return NULL;
}
static int wp[2];
static void *late_writer(void *a)
{
    (void)a;
    /* SIGALRM is for the main thread, blocked in read(); write once it ran. */
    mask(SIG_BLOCK, SIGALRM);
    for (int i = 0; i < 400 && hits == 0; i++)
        sleep_ms(5);
    sleep_ms(20);
    write(wp[1], "w", 1);
    return NULL;
}

static void alarm_in(long first_ms, long every_ms)
{
    struct itimerval it = {{every_ms / 1000, (every_ms % 1000) * 1000},
                           {first_ms / 1000, (first_ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    long r;

    on(SIGUSR1, record, 0, 0);
    hits = 0;
    raise(SIGUSR1);
    kill(getpid(), SIGUSR1);
    syscall(SYS_tgkill, getpid(), tid(), SIGUSR1);
    snprintf(d, sizeof(d), "(%d runs)", hits);
    check("handler runs for raise, kill(getpid), tgkill(self)", hits == 3, d);
    struct sigaction old;
    sigaction(SIGUSR1, NULL, &old);
    check("sigaction reads back the handler and SA_SIGINFO",
          old.sa_sigaction == record && (old.sa_flags & SA_SIGINFO), NULL);

    on(SIGUSR2, record, 0, 0);
    raise(SIGUSR2);
    snprintf(d, sizeof(d), "(si_signo ok %d, %s)", last_sig == SIGUSR2, cname(last_code));
    check("SA_SIGINFO raise: SI_TKILL", last_sig == SIGUSR2 && last_code == SI_TKILL, d);
    kill(getpid(), SIGUSR2);
    snprintf(d, sizeof(d), "(%s, si_pid is getpid %d)", cname(last_code), last_pid == getpid());
    check("SA_SIGINFO kill: SI_USER, si_pid", last_code == SI_USER && last_pid == getpid(), d);
    sigqueue(getpid(), SIGUSR2, (union sigval){.sival_int = 42});
    snprintf(d, sizeof(d), "(%s, value %d)", cname(last_code), last_val);
    check("sigqueue: SI_QUEUE and its value", last_code == SI_QUEUE && last_val == 42, d);

    struct sigaction sa = {0};
    sa.sa_handler = SIG_IGN;
    errno = 0;
    r = sigaction(SIGKILL, &sa, NULL);
    snprintf(d, sizeof(d), "(%s)", ename(r < 0 ? errno : 0));
    check("sigaction(SIGKILL): EINVAL", r < 0 && errno == EINVAL, d);
    r = syscall(SYS_tgkill, getpid(), 0x7ffffff0, SIGUSR1);
    snprintf(d, sizeof(d), "(%s)", ename(r < 0 ? errno : 0));
    check("tgkill of a thread that does not exist: ESRCH", r < 0 && errno == ESRCH, d);
    check("kill(getpid(), 0)", kill(getpid(), 0) == 0, NULL);

    on(SIGUSR1, record, 0, SIGUSR2);
    raise(SIGUSR1);
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    snprintf(d, sizeof(d), "(itself %d, sa_mask %d, after %d)", self_blocked, other_blocked,
             sigismember(&cur, SIGUSR1) || sigismember(&cur, SIGUSR2));
    check("handler's mask: itself and sa_mask, restored",
          self_blocked && other_blocked && !sigismember(&cur, SIGUSR1), d);
    on(SIGUSR1, record, SA_NODEFER | SA_RESETHAND, 0);
    raise(SIGUSR1);
    sigaction(SIGUSR1, NULL, &old);
    snprintf(d, sizeof(d), "(blocked in handler %d, reset %d)", self_blocked,
             old.sa_handler == SIG_DFL);
    check("SA_NODEFER and SA_RESETHAND", !self_blocked && old.sa_handler == SIG_DFL, d);

    /* synchronous faults */
    on(SIGSEGV, escape, 0, 0);
    on(SIGFPE, escape, 0, 0);
    on(SIGILL, escape, 0, 0);
    on(SIGTRAP, escape, 0, 0);
    on(SIGBUS, escape, 0, 0);
    int *volatile np = NULL;
    FAULT("SIGSEGV from a NULL write: SEGV_MAPERR", *np = 1, SIGSEGV, SEGV_MAPERR, NULL);
    char *pg = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(pg + 4096, 4096, PROT_NONE);
    char *volatile gp = pg + 4096 + 8;
    FAULT("guard page write: SEGV_ACCERR", *gp = 1, SIGSEGV, SEGV_ACCERR, pg + 4096 + 8);
    FAULT("guard page read: SEGV_ACCERR", (void)*(volatile char *)gp, SIGSEGV, SEGV_ACCERR,
          pg + 4096 + 8);
    mprotect(pg + 8192, 4096, PROT_READ);
    gp = pg + 8192 + 100;
    FAULT("read-only page write: SEGV_ACCERR", *gp = 1, SIGSEGV, SEGV_ACCERR, pg + 8192 + 100);
    pg[0] = 1;
    check("pages around the guard page still usable", pg[0] == 1 && gp[0] == 0, NULL);
    munmap(pg, 3 * 4096);
    gp = pg + 16;
    FAULT("write after munmap: SEGV_MAPERR", *gp = 1, SIGSEGV, SEGV_MAPERR, pg + 16);
    volatile int one = 1, zero = 0;
    hits = 0;
    if (sigsetjmp(jb, 1) == 0)
        one = one / zero;
    snprintf(d, sizeof(d), "(caught %d, code %d)", hits, last_code);
    check("SIGFPE from integer division by zero: FPE_INTDIV",
          hits == 1 && last_sig == SIGFPE && last_code == FPE_INTDIV, d);
    hits = 0;
    if (sigsetjmp(jb, 1) == 0)
        __asm__ volatile("ud2");
    snprintf(d, sizeof(d), "(caught %d, code %d)", hits, last_code);
    check("SIGILL from ud2: ILL_ILLOPN", hits == 1 && last_sig == SIGILL && last_code == ILL_ILLOPN,
          d);
    hits = 0;
    if (sigsetjmp(jb, 1) == 0)
        __asm__ volatile("int3");
    snprintf(d, sizeof(d), "(caught %d, %s)", hits, cname(last_code));
    check("SIGTRAP from int3: SI_KERNEL",
          hits == 1 && last_sig == SIGTRAP && last_code == SI_KERNEL, d);
    int mf = (int)syscall(SYS_memfd_create, "bus", 0);
    char *bm = MAP_FAILED;
    if (mf >= 0 && ftruncate(mf, 4096) == 0)
        bm = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, mf, 0);
    if (bm != MAP_FAILED) {
        char *volatile bp = bm + 4096;
        FAULT("SIGBUS past the end of a file: BUS_ADRERR", *bp = 1, SIGBUS, BUS_ADRERR, bm + 4096);
    } else {
        snprintf(d, sizeof(d), "(memfd_create/mmap: %s)", ename(errno));
        check("SIGBUS past the end of a file: BUS_ADRERR", 0, d);
    }
    on(SIGSEGV, repair, 0, 0);
    hits = 0;
    __asm__ volatile("movl $5, (%%rax)" : : "a"(0L) : "memory");
    snprintf(d, sizeof(d), "(caught %d, target %d)", hits, target);
    check("handler repairs RAX in the ucontext, write resumes", hits == 1 && target == 5, d);

    /* sigaltstack */
    stack_t ss = {0}, os;
    sigaltstack(NULL, &os);
    check("no alternate stack at start: SS_DISABLE", (os.ss_flags & SS_DISABLE) != 0, NULL);
    ss.ss_sp = alt;
    ss.ss_size = sizeof(alt);
    r = sigaltstack(&ss, NULL);
    on(SIGUSR1, record, SA_ONSTACK, 0);
    raise(SIGUSR1);
    snprintf(d, sizeof(d), "(handler on it %d)", on_alt);
    check("SA_ONSTACK handler runs on the sigaltstack", r == 0 && on_alt, d);
    on(SIGSEGV, escape, SA_ONSTACK, 0);
    FAULT("SIGSEGV handled on the sigaltstack", *np = 2, SIGSEGV, SEGV_MAPERR, NULL);
    check("(that handler's stack was the alternate one)", on_alt, NULL);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    on(SIGUSR1, record, 0, 0);

    /* masks: pending then unblocked; per thread; coalescing and queueing */
    hits = 0;
    mask(SIG_BLOCK, SIGUSR1);
    raise(SIGUSR1);
    raise(SIGUSR1);
    sigpending(&cur);
    int pend = sigismember(&cur, SIGUSR1), before = hits;
    mask(SIG_UNBLOCK, SIGUSR1);
    snprintf(d, sizeof(d), "(pending %d, ran before %d, after %d)", pend, before, hits);
    check("blocked SIGUSR1 pending, coalesced, runs on unblock", pend && before == 0 && hits == 1,
          d);
    int rt = SIGRTMAX - 2;
    on(rt, record, 0, 0);
    hits = 0, norder = 0;
    mask(SIG_BLOCK, rt);
    mask(SIG_BLOCK, SIGUSR2);
    mask(SIG_BLOCK, SIGUSR1);
    raise(rt), raise(rt), raise(SIGUSR2), raise(SIGUSR1);
    sigset_t all;
    sigemptyset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    /* Linux sets up a frame for each pending signal, lowest number first, each
     * on top of the last: the highest runs first; the second rt after the first returns. */
    char seq[64] = "";
    for (int i = 0; i < norder && i < 8; i++)
        strcat(seq, order[i] == SIGUSR1   ? " usr1"
                    : order[i] == SIGUSR2 ? " usr2"
                    : order[i] == rt      ? " rt"
                                          : " ?");
    snprintf(d, sizeof(d), "(runs %d, handlers ran in order:%s)", hits, seq);
    check("real-time signal queues twice, standard ones once", hits == 4, d);

    mask(SIG_BLOCK, SIGUSR2);
    pthread_t t;
    hits = 0;
    pthread_create(&t, NULL, masked_thread, NULL);
    while (__atomic_load_n(&go, __ATOMIC_SEQ_CST) != 1)
        sched_yield();
    pthread_kill(t, SIGUSR1);
    sigpending(&cur);
    int main_pend = sigismember(&cur, SIGUSR1);
    __atomic_store_n(&go, 2, __ATOMIC_SEQ_CST);
    pthread_join(t, NULL);
    mask(SIG_UNBLOCK, SIGUSR2);
    snprintf(d, sizeof(d), "(inherited %d, pending in thread %d, in main %d, ran in thread %d)",
             thr_inherited, thr_pending, main_pend, hits == 1 && last_tid == thr_tid);
    check("per-thread mask: pending in the thread, runs there",
          thr_inherited && thr_pending && !main_pend && hits == 1 && last_tid == thr_tid, d);

    /* sigsuspend, sigtimedwait */
    mask(SIG_BLOCK, SIGUSR1);
    hits = 0;
    pthread_create(&t, NULL, kick_main, (void *)20);
    sigset_t none;
    sigemptyset(&none);
    r = sigsuspend(&none);
    int e = errno;
    pthread_join(t, NULL);
    sigpending(&cur);
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    snprintf(d, sizeof(d), "(%s, handler ran %d, mask restored %d)", ename(e), hits,
             sigismember(&cur, SIGUSR1));
    check("sigsuspend returns EINTR after the handler",
          r == -1 && e == EINTR && hits == 1 && sigismember(&cur, SIGUSR1), d);
    mask(SIG_UNBLOCK, SIGUSR1);
    mask(SIG_BLOCK, SIGUSR2);
    sigset_t w;
    sigemptyset(&w);
    sigaddset(&w, SIGUSR2);
    siginfo_t si;
    struct timespec to = {0, 30 * 1000000L};
    long t0 = now_ms();
    r = sigtimedwait(&w, &si, &to);
    e = errno;
    long el = now_ms() - t0;
    snprintf(d, sizeof(d), "(%s, elapsed >= 25 ms: %s)", ename(r < 0 ? e : 0),
             el >= 25 ? "yes" : "no");
    check("sigtimedwait times out: EAGAIN", r < 0 && e == EAGAIN && el >= 25, d);
    hits = 0;
    kill(getpid(), SIGUSR2);
    r = sigtimedwait(&w, &si, &to);
    snprintf(d, sizeof(d), "(signal ok %d, %s, handler ran %d)", r == SIGUSR2, cname(si.si_code),
             hits);
    check("sigtimedwait takes a pending signal: SI_USER",
          r == SIGUSR2 && si.si_code == SI_USER && hits == 0, d);
    mask(SIG_UNBLOCK, SIGUSR2);

    /* setitimer */
    on(SIGALRM, record, 0, 0);
    hits = 0;
    mask(SIG_BLOCK, SIGALRM);
    t0 = now_ms();
    alarm_in(20, 0);
    struct itimerval cv;
    getitimer(ITIMER_REAL, &cv);
    int armed = cv.it_value.tv_sec > 0 || cv.it_value.tv_usec > 0;
    while (hits == 0)
        sigsuspend(&none);
    el = now_ms() - t0;
    snprintf(d, sizeof(d), "(armed %d, alarms %d, %s, elapsed >= 15 ms: %s)", armed, hits,
             cname(last_code), el >= 15 ? "yes" : "no");
    check("setitimer ITIMER_REAL one-shot: SIGALRM",
          armed && hits == 1 && last_sig == SIGALRM && last_code == SI_KERNEL && el >= 15, d);
    hits = 0;
    alarm_in(10, 10);
    while (hits < 3)
        sigsuspend(&none);
    alarm_in(0, 0);
    getitimer(ITIMER_REAL, &cv);
    snprintf(d, sizeof(d), "(alarms >= 3: %s, disarmed %d)", hits >= 3 ? "yes" : "no",
             cv.it_value.tv_sec == 0 && cv.it_value.tv_usec == 0);
    check("setitimer interval 10 ms, then disarmed", hits >= 3 && cv.it_value.tv_usec == 0, d);
    mask(SIG_UNBLOCK, SIGALRM);

    /* EINTR and SA_RESTART on a blocking read */
    char c;
    pipe(wp);
    hits = 0;
    alarm_in(20, 0);
    r = read(wp[0], &c, 1);
    e = errno;
    snprintf(d, sizeof(d), "(%s, alarms %d)", r < 0 ? ename(e) : "data", hits);
    check("blocking read interrupted by SIGALRM: EINTR", r < 0 && e == EINTR && hits == 1, d);
    on(SIGALRM, record, SA_RESTART, 0);
    hits = 0;
    pthread_create(&t, NULL, late_writer, NULL);
    alarm_in(20, 0);
    r = read(wp[0], &c, 1);
    pthread_join(t, NULL);
    snprintf(d, sizeof(d), "(read %ld, alarms %d)", r, hits);
    check("SA_RESTART: the read restarts and gets the data", r == 1 && c == 'w' && hits == 1, d);

    /* SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    int pp[2];
    pipe(pp);
    close(pp[0]);
    r = write(pp[1], "x", 1);
    snprintf(d, sizeof(d), "(%s)", ename(r < 0 ? errno : 0));
    check("SIGPIPE ignored: write says EPIPE", r < 0 && errno == EPIPE, d);
    on(SIGPIPE, record, 0, 0);
    hits = 0;
    r = write(pp[1], "x", 1);
    e = errno;
    snprintf(d, sizeof(d), "(%s, handler ran %d, %s)", ename(r < 0 ? e : 0), hits,
             cname(last_code));
    check("SIGPIPE handled: handler runs, then EPIPE",
          r < 0 && e == EPIPE && hits == 1 && last_sig == SIGPIPE, d);
    close(pp[1]);

    printf("%d checks, %d failed\n", checks, fails);
    return fails ? 1 : 0;
}
