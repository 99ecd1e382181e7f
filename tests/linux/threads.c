/* Linux conformance program for threads (issue 24): pthread_create/join and
 * return values, contended mutexes (normal, error-checking, robust),
 * condition variables with pthread_cond_timedwait (timing out and
 * signalled, CLOCK_REALTIME and CLOCK_MONOTONIC), barriers, thread-local
 * storage (__thread and pthread_key destructors), pthread_exit, detached
 * threads, gettid distinct from getpid, sched_yield, sched_getaffinity,
 * semaphores (sem_wait/sem_post/sem_trywait/sem_timedwait), pthread_once, a
 * caller-provided thread stack, 100 threads created and joined in sequence,
 * a thread blocked in read() on a pipe while the main thread writes, and
 * returning from main while a detached thread is still blocked (exit_group).
 * One line per check, the same on every run (no ids, addresses or times,
 * only "elapsed >= X ms" booleans; errno names from our own table), exit 0
 * when all behaved. tests/sys/linux.sh runs it natively and under zerg and
 * diffs the output. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int checks, fails;

static const char *ename(int e)
{
    static const struct {
        int e;
        const char *n;
    } t[] = {{0, "0"},           {EAGAIN, "EAGAIN"},         {ETIMEDOUT, "ETIMEDOUT"},
             {EINTR, "EINTR"},   {EBUSY, "EBUSY"},           {EDEADLK, "EDEADLK"},
             {EPERM, "EPERM"},   {EINVAL, "EINVAL"},         {ENOSYS, "ENOSYS"},
             {ENOMEM, "ENOMEM"}, {EOWNERDEAD, "EOWNERDEAD"}, {ENOTRECOVERABLE, "ENOTRECOVERABLE"},
             {ESRCH, "ESRCH"},   {EFAULT, "EFAULT"},         {EBADF, "EBADF"}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].e == e)
            return t[i].n;
    static char b[32];
    snprintf(b, sizeof(b), "errno-%d", e);
    return b;
}

static void check(const char *name, int ok, const char *detail)
{
    checks++;
    fails += !ok;
    printf("%-52s %s%s%s\n", name, ok ? "ok" : "FAIL", detail ? " " : "", detail ? detail : "");
}

static long now_ms(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static struct timespec in_ms(clockid_t c, long ms)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    ts.tv_nsec += (ms % 1000) * 1000000L;
    ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
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

/* create/join, return values, gettid */
static pid_t tids[4];
static void *square(void *a)
{
    long i = (long)a;
    tids[i] = tid();
    return (void *)(i * i + 1);
}

/* contended mutex */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static void *bump(void *a)
{
    (void)a;
    for (int i = 0; i < 20000; i++) {
        pthread_mutex_lock(&mu);
        long v = counter;
        if ((i & 1023) == 0)
            sched_yield();
        counter = v + 1;
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

/* condition variables */
static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int flag;
static void *signaller(void *a)
{
    (void)a;
    sleep_ms(30);
    pthread_mutex_lock(&cm);
    flag = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&cm);
    return NULL;
}

/* barrier */
static pthread_barrier_t bar;
static int arrived, serial, seen_all;
static void *at_barrier(void *a)
{
    (void)a;
    __atomic_add_fetch(&arrived, 1, __ATOMIC_SEQ_CST);
    int r = pthread_barrier_wait(&bar);
    if (r == PTHREAD_BARRIER_SERIAL_THREAD)
        __atomic_add_fetch(&serial, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&arrived, __ATOMIC_SEQ_CST) == 4)
        __atomic_add_fetch(&seen_all, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* TLS */
static __thread int tls = 7;
static pthread_key_t key;
static int destructed;
static void destroy(void *p)
{
    __atomic_add_fetch(&destructed, (int)(intptr_t)p, __ATOMIC_SEQ_CST);
}
static void *use_tls(void *a)
{
    int id = (int)(intptr_t)a;
    int ok = tls == 7;
    tls = id;
    pthread_setspecific(key, (void *)(intptr_t)id);
    for (int i = 0; i < 5; i++) {
        sched_yield();
        ok &= tls == id && pthread_getspecific(key) == (void *)(intptr_t)id;
    }
    return (void *)(intptr_t)ok;
}

/* pthread_exit from a nested call */
static void leave(void)
{
    pthread_exit((void *)42);
}
static void *exits(void *a)
{
    (void)a;
    leave();
    return (void *)1;
}

/* detached threads */
static sem_t done_sem;
static int detached_ran;
static void *detached(void *a)
{
    if (a)
        pthread_detach(pthread_self());
    __atomic_add_fetch(&detached_ran, 1, __ATOMIC_SEQ_CST);
    sem_post(&done_sem);
    return NULL;
}

/* semaphores: producer/consumer */
static sem_t full, empty;
static int ring[8], produced_sum;
static void *producer(void *a)
{
    (void)a;
    for (int i = 1; i <= 1000; i++) {
        sem_wait(&empty);
        ring[i % 8] = i;
        sem_post(&full);
    }
    return NULL;
}
static sem_t late;
static void *late_post(void *a)
{
    (void)a;
    sleep_ms(30);
    sem_post(&late);
    return NULL;
}

/* pthread_once */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int inits;
static void init_once(void)
{
    sleep_ms(10);
    __atomic_add_fetch(&inits, 1, __ATOMIC_SEQ_CST);
}
static void *call_once(void *a)
{
    (void)a;
    pthread_once(&once, init_once);
    return (void *)(intptr_t)inits;
}

/* robust mutex: the owner exits holding it */
static pthread_mutex_t rob;
static void *die_holding(void *a)
{
    (void)a;
    pthread_mutex_lock(&rob);
    return NULL;
}

static void *ident(void *a)
{
    return a;
}

static void *where(void *a)
{
    volatile char local = 0;
    uintptr_t base = (uintptr_t)a, p = (uintptr_t)&local;
    return (void *)(intptr_t)(p >= base && p < base + (1 << 20));
}

/* a thread blocked in read() on a pipe */
static int pfd[2];
static char got[32];
static void *reader(void *a)
{
    (void)a;
    ssize_t n = read(pfd[0], got, sizeof(got) - 1);
    return (void *)(intptr_t)n;
}

/* Threads that could not be created are not joined, and nothing waits for
 * what they would have done (under a kernel without clone the program
 * still runs to its end, failing those checks). */
static pthread_t t[8];
static int made[8];
static int spawn(int i, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
    int r = pthread_create(&t[i], a, fn, arg);
    made[i] = r == 0;
    return r;
}
static int reap(int i, void **rv)
{
    if (rv)
        *rv = NULL;
    if (!made[i])
        return ESRCH;
    made[i] = 0;
    return pthread_join(t[i], rv);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    char d[160];
    void *rv;

    check("main gettid == getpid", tid() == getpid(), NULL);
    long sum = 0;
    int ok = 1;
    for (long i = 0; i < 4; i++)
        ok &= spawn(i, NULL, square, (void *)i) == 0;
    for (int i = 0; i < 4; i++)
        ok &= reap(i, &rv) == 0, sum += (long)rv;
    snprintf(d, sizeof(d), "(sum of returns %ld)", sum);
    check("create/join 4 threads, return values", ok && sum == 0 + 1 + 2 + 5 + 10, d);
    int distinct = 1;
    for (int i = 0; i < 4; i++) {
        distinct &= tids[i] > 0 && tids[i] != getpid();
        for (int j = 0; j < i; j++)
            distinct &= tids[i] != tids[j];
    }
    check("gettid in threads distinct, != getpid", distinct, NULL);
    check("pthread_equal(self, self)", pthread_equal(pthread_self(), pthread_self()) != 0, NULL);

    counter = 0;
    for (int i = 0; i < 4; i++)
        spawn(i, NULL, bump, NULL);
    for (int i = 0; i < 4; i++)
        reap(i, NULL);
    snprintf(d, sizeof(d), "(counter %ld)", counter);
    check("mutex contended by 4 threads", counter == 80000, d);
    pthread_mutex_lock(&mu);
    check("trylock on a held mutex: EBUSY", pthread_mutex_trylock(&mu) == EBUSY, NULL);
    pthread_mutex_unlock(&mu);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_t em;
    pthread_mutex_init(&em, &ma);
    pthread_mutex_lock(&em);
    int r = pthread_mutex_lock(&em);
    snprintf(d, sizeof(d), "(%s)", ename(r));
    check("error-checking mutex relock: EDEADLK", r == EDEADLK, d);
    pthread_mutex_unlock(&em);
    r = pthread_mutex_unlock(&em);
    snprintf(d, sizeof(d), "(%s)", ename(r));
    check("error-checking unlock when unowned: EPERM", r == EPERM, d);

    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&rob, &ma);
    spawn(0, NULL, die_holding, NULL);
    reap(0, NULL);
    r = pthread_mutex_lock(&rob);
    snprintf(d, sizeof(d), "(%s)", ename(r));
    check("robust mutex, owner exited: EOWNERDEAD", r == EOWNERDEAD, d);
    check("pthread_mutex_consistent", pthread_mutex_consistent(&rob) == 0, NULL);
    pthread_mutex_unlock(&rob);

    pthread_mutex_lock(&cm);
    long t0 = now_ms(CLOCK_MONOTONIC);
    struct timespec dl = in_ms(CLOCK_REALTIME, 50);
    r = pthread_cond_timedwait(&cv, &cm, &dl);
    long el = now_ms(CLOCK_MONOTONIC) - t0;
    snprintf(d, sizeof(d), "(%s, elapsed >= 40 ms: %s)", ename(r), el >= 40 ? "yes" : "no");
    check("cond_timedwait, realtime, no signal", r == ETIMEDOUT && el >= 40, d);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_t mcv;
    pthread_cond_init(&mcv, &ca);
    t0 = now_ms(CLOCK_MONOTONIC);
    dl = in_ms(CLOCK_MONOTONIC, 50);
    r = pthread_cond_timedwait(&mcv, &cm, &dl);
    el = now_ms(CLOCK_MONOTONIC) - t0;
    snprintf(d, sizeof(d), "(%s, elapsed >= 40 ms: %s)", ename(r), el >= 40 ? "yes" : "no");
    check("cond_timedwait, monotonic, no signal", r == ETIMEDOUT && el >= 40, d);
    flag = 0;
    spawn(0, NULL, signaller, NULL);
    dl = in_ms(CLOCK_REALTIME, 3000);
    r = made[0] ? 0 : ESRCH;
    while (!flag && r == 0)
        r = pthread_cond_timedwait(&cv, &cm, &dl);
    pthread_mutex_unlock(&cm);
    reap(0, NULL);
    snprintf(d, sizeof(d), "(%s, flag %d)", ename(r), flag);
    check("cond_timedwait, signalled before timeout", r == 0 && flag == 1, d);

    pthread_barrier_init(&bar, NULL, 4);
    for (int i = 0; i < 4; i++)
        spawn(i, NULL, at_barrier, NULL);
    for (int i = 0; i < 4; i++)
        reap(i, NULL);
    snprintf(d, sizeof(d), "(serial %d, saw all arrivals %d)", serial, seen_all);
    check("barrier of 4", serial == 1 && seen_all == 4, d);
    pthread_barrier_destroy(&bar);

    pthread_key_create(&key, destroy);
    tls = 3;
    ok = 1;
    for (int i = 0; i < 4; i++)
        spawn(i, NULL, use_tls, (void *)(intptr_t)(i + 10));
    for (int i = 0; i < 4; i++)
        reap(i, &rv), ok &= rv == (void *)1;
    check("__thread starts at its initial value, private", ok && tls == 3, NULL);
    snprintf(d, sizeof(d), "(destructor sum %d)", destructed);
    check("pthread_key values and destructors", destructed == 10 + 11 + 12 + 13, d);

    spawn(0, NULL, exits, NULL);
    reap(0, &rv);
    snprintf(d, sizeof(d), "(%ld)", (long)(intptr_t)rv);
    check("pthread_exit value", rv == (void *)42, d);

    sem_init(&done_sem, 0, 0);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < 4; i++)
        spawn(i, i < 2 ? &at : NULL, detached, i < 2 ? NULL : (void *)1);
    for (int i = 0; i < 4; i++)
        if (made[i])
            sem_wait(&done_sem);
    check("detached threads (attr and pthread_detach)", detached_ran == 4, NULL);

    check("sched_yield", sched_yield() == 0, NULL);
    cpu_set_t cs;
    CPU_ZERO(&cs);
    check("sched_getaffinity count >= 1",
          sched_getaffinity(0, sizeof(cs), &cs) == 0 && CPU_COUNT(&cs) >= 1, NULL);
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    check("sysconf(_SC_NPROCESSORS_ONLN) >= 1", nproc >= 1, NULL);

    sem_t s;
    sem_init(&s, 0, 0);
    r = sem_trywait(&s) < 0 ? errno : 0;
    snprintf(d, sizeof(d), "(%s)", ename(r));
    check("sem_trywait on 0: EAGAIN", r == EAGAIN, d);
    t0 = now_ms(CLOCK_MONOTONIC);
    dl = in_ms(CLOCK_REALTIME, 40);
    r = sem_timedwait(&s, &dl) < 0 ? errno : 0;
    el = now_ms(CLOCK_MONOTONIC) - t0;
    snprintf(d, sizeof(d), "(%s, elapsed >= 30 ms: %s)", ename(r), el >= 30 ? "yes" : "no");
    check("sem_timedwait times out", r == ETIMEDOUT && el >= 30, d);
    sem_init(&late, 0, 0);
    spawn(0, NULL, late_post, NULL);
    dl = in_ms(CLOCK_REALTIME, 3000);
    r = !made[0] ? ESRCH : sem_timedwait(&late, &dl) < 0 ? errno : 0;
    reap(0, NULL);
    snprintf(d, sizeof(d), "(%s)", ename(r));
    check("sem_timedwait posted by another thread", r == 0, d);
    sem_init(&full, 0, 0);
    sem_init(&empty, 0, 8);
    spawn(0, NULL, producer, NULL);
    for (int i = 1; i <= 1000 && made[0]; i++) {
        sem_wait(&full);
        produced_sum += ring[i % 8];
        sem_post(&empty);
    }
    reap(0, NULL);
    int sv = -1;
    sem_getvalue(&empty, &sv);
    snprintf(d, sizeof(d), "(sum %d, empty %d)", produced_sum, sv);
    check("sem producer/consumer, 1000 items", produced_sum == 500500 && sv == 8, d);

    ok = 1;
    for (int i = 0; i < 8; i++)
        spawn(i, NULL, call_once, NULL);
    for (int i = 0; i < 8; i++)
        reap(i, &rv), ok &= rv == (void *)1;
    snprintf(d, sizeof(d), "(init ran %d times)", inits);
    check("pthread_once from 8 threads", ok && inits == 1, d);

    void *stk = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pthread_attr_init(&at);
    ok = stk != MAP_FAILED && pthread_attr_setstack(&at, stk, 1 << 20) == 0 &&
         spawn(0, &at, where, stk) == 0 && reap(0, &rv) == 0 && rv == (void *)1;
    check("thread on a caller-provided stack", ok, NULL);
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 64 * 1024);
    ok = spawn(0, &at, ident, (void *)5) == 0 && reap(0, &rv) == 0 && rv == (void *)5;
    check("thread with a 64 KiB stack", ok, NULL);

    sum = 0;
    ok = 1;
    for (long i = 0; i < 100; i++) {
        pthread_t x;
        if (pthread_create(&x, NULL, ident, (void *)i) != 0) {
            ok = 0;
            break;
        }
        ok &= pthread_join(x, &rv) == 0;
        sum += (long)rv;
    }
    snprintf(d, sizeof(d), "(sum %ld)", sum);
    check("100 threads created and joined in turn", ok && sum == 4950, d);

    pipe(pfd);
    spawn(0, NULL, reader, NULL);
    sleep_ms(50);
    ssize_t w = write(pfd[1], "hello", 5);
    reap(0, &rv);
    snprintf(d, sizeof(d), "(wrote %zd, read %ld \"%s\")", w, (long)(intptr_t)rv, got);
    check("thread blocked in read() until main writes",
          w == 5 && rv == (void *)5 && !strcmp(got, "hello"), d);

    /* A detached thread left blocked in read(): returning from main ends it. */
    if (spawn(0, &at, reader, NULL) == 0)
        pthread_detach(t[0]);
    sleep_ms(10);
    printf("%d checks, %d failed\n", checks, fails);
    return fails ? 1 : 0;
}
