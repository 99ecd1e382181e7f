/* Linux test program, for templates: the template point with threads. The
 * main thread starts two workers and at once reads its request; the workers
 * have not run yet then. Each worker does its start-up work, says "worker N
 * ready" and waits on a condition variable. A template must be taken only
 * once no other thread can run (docs/abi.md "Threads: what is built"), so
 * the workers' start-up is in the template and a restored instance prints
 * only its answer: "answer LINE TOTAL". Natively (and cold-booted) the
 * "ready" lines come first. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER, ready_cv = PTHREAD_COND_INITIALIZER;
static int started, ready, result[2];

static void *worker(void *arg)
{
    long id = (long)arg;
    long v = 0;
    for (long i = 1; i <= 100000; i++) /* start-up work */
        v = (v * 31 + i) % 1000003;
    pthread_mutex_lock(&m);
    printf("worker %ld ready\n", id);
    fflush(stdout);
    ready++;
    pthread_cond_broadcast(&ready_cv);
    while (!started)
        pthread_cond_wait(&go, &m);
    result[id] = (int)v + (int)id;
    pthread_mutex_unlock(&m);
    return NULL;
}

int main(void)
{
    pthread_t t[2];
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 128 * 1024);
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], &a, worker, (void *)i);
    char line[256];
    ssize_t n = read(0, line, sizeof(line) - 1); /* the template point */
    line[n > 0 ? n : 0] = 0;
    line[strcspn(line, "\r\n")] = 0;
    pthread_mutex_lock(&m);
    while (ready < 2) /* natively the workers may not be there yet */
        pthread_cond_wait(&ready_cv, &m);
    started = 1;
    pthread_cond_broadcast(&go);
    pthread_mutex_unlock(&m);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("answer %s %d\n", line, result[0] + result[1]);
    return 0;
}
