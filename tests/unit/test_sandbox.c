/* The sandbox (monitor/sandbox.c) in a child process: what a thread does on
 * its own after the filter is loaded must not kill the process (issue 30:
 * glibc's malloc asks for the CPU count, opening a file, once a process has
 * more than 8 threads with arenas), and a call the filter stops is noted for
 * the parent (or named on standard error) before the process dies by SIGSYS. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/audit.h>

#include "monitor/zg_monitor.h"
#include "tests/zt.h"

#define THREADS 64

static pthread_barrier_t start, held;

/* Each thread keeps its arena until all have one (a thread that ends gives
 * its arena to the next, which then makes none: serve's slots never end). */
static void *allocate(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start); /* the filter is loaded by now */
    void *volatile p = malloc(100);
    pthread_barrier_wait(&held);
    free(p);
    return p ? NULL : (void *)1;
}

/* Child: THREADS threads made before the filter, allocating for the first
 * time after it. Exits 0 if all of them did. */
static void child_threads(struct zg_sandbox_note *note)
{
    pthread_t th[THREADS];
    pthread_barrier_init(&start, NULL, THREADS + 1);
    pthread_barrier_init(&held, NULL, THREADS);
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&th[i], NULL, allocate, NULL) != 0)
            _exit(2);
    char why[200];
    if (zg_sandbox_enter(NULL, note, why, sizeof(why)) < 0)
        _exit(3);
    pthread_barrier_wait(&start);
    int bad = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(th[i], &r);
        bad |= r != NULL;
    }
    _exit(bad ? 4 : 0);
}

static struct zg_sandbox_note *shared_note(void)
{
    void *p = mmap(NULL, sizeof(struct zg_sandbox_note), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Forks a child that enters the sandbox (noting in note, or on its
 * standard error when note is NULL) and returns 0 in it; the child's pid in
 * the parent. A child that cannot enter exits 3. */
static pid_t fork_sandboxed(struct zg_sandbox_note *note)
{
    pid_t pid = fork();
    if (pid == 0) {
        char why[200];
        if (zg_sandbox_enter(NULL, note, why, sizeof(why)) < 0)
            _exit(3);
    }
    return pid;
}

#if defined(__SANITIZE_ADDRESS__)
#define NO_FILTER "the sanitizer build loads no seccomp filter (monitor/sandbox.c)"
#endif

ZT_TEST(threads_allocate_after_the_filter)
{
#ifdef NO_FILTER
    ZT_SKIP(NO_FILTER);
#endif
    struct zg_sandbox_note *note = shared_note();
    ZT_TRUE(note != NULL);
    pid_t pid = fork();
    ZT_TRUE(pid >= 0);
    if (pid == 0)
        child_threads(note);
    int st;
    ZT_EQ(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        ZT_FAILF("the child %s %d (the sandbox stopped call %d, %s)",
                 WIFSIGNALED(st) ? "was killed by signal" : "exited with",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), note->seen ? note->nr : -1,
                 note->seen ? zg_syscall_name((unsigned)note->nr) : "none");
    ZT_EQ(note->seen, 0);
    munmap(note, sizeof(*note));
}

ZT_TEST(stopped_call_is_noted)
{
#ifdef NO_FILTER
    ZT_SKIP(NO_FILTER);
#endif
    struct zg_sandbox_note *note = shared_note();
    ZT_TRUE(note != NULL);
    pid_t pid = fork_sandboxed(note);
    ZT_TRUE(pid >= 0);
    if (pid == 0) {
        syscall(SYS_openat, AT_FDCWD, "/etc/hostname", 0);
        _exit(0);
    }
    int st;
    ZT_EQ(waitpid(pid, &st, 0), pid);
    ZT_TRUE(WIFSIGNALED(st));
    ZT_EQ(WTERMSIG(st), SIGSYS);
    ZT_EQ(note->seen, 1);
    ZT_EQ(note->nr, SYS_openat);
    ZT_EQ(note->arch, AUDIT_ARCH_X86_64);
    ZT_STREQ(zg_syscall_name((unsigned)note->nr), "openat");
    munmap(note, sizeof(*note));
}

ZT_TEST(stopped_call_named_on_stderr)
{
#ifdef NO_FILTER
    ZT_SKIP(NO_FILTER);
#endif
    int p[2];
    ZT_EQ(pipe(p), 0);
    pid_t pid = fork();
    ZT_TRUE(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        char why[200];
        if (zg_sandbox_enter(NULL, NULL, why, sizeof(why)) < 0)
            _exit(3);
        syscall(SYS_socket, 2, 1, 0);
        _exit(0);
    }
    close(p[1]);
    char buf[512] = "";
    size_t got = 0;
    for (ssize_t n;
         got < sizeof(buf) - 1 && (n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0;)
        got += (size_t)n;
    close(p[0]);
    int st;
    ZT_EQ(waitpid(pid, &st, 0), pid);
    ZT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
    if (!strstr(buf, "system call 41 (socket)"))
        ZT_FAILF("standard error said '%s'", buf);
}

ZT_TEST(abort_still_aborts)
{
#ifdef NO_FILTER
    ZT_SKIP(NO_FILTER);
#endif
    struct zg_sandbox_note *note = shared_note();
    ZT_TRUE(note != NULL);
    pid_t pid = fork_sandboxed(note);
    ZT_TRUE(pid >= 0);
    if (pid == 0)
        abort();
    int st;
    ZT_EQ(waitpid(pid, &st, 0), pid);
    ZT_TRUE(WIFSIGNALED(st));
    ZT_EQ(WTERMSIG(st), SIGABRT);
    ZT_EQ(note->seen, 0);
    munmap(note, sizeof(*note));
}

int main(void)
{
    ZT_RUN(threads_allocate_after_the_filter);
    ZT_RUN(stopped_call_is_noted);
    ZT_RUN(stopped_call_named_on_stderr);
    ZT_RUN(abort_still_aborts);
    ZT_MAIN_END;
}
