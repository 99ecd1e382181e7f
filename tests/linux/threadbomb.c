/* Linux test program: hostile threads. "bomb": every thread starts as many
 * threads as it can, each of which does the same; the program counts how
 * many ever ran and how many creations failed, and exits 0 once all are
 * joined. Under zerg at most 64 threads live at once and a creation past
 * that is EAGAIN; the instance and the host are unharmed. "spin": a thread
 * spins forever without a system call while main waits for it: under zerg
 * the instance is killed at its deadline, with the reason. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_int ran, failed;

static void *bomb(void *arg)
{
    long depth = (long)arg;
    atomic_fetch_add(&ran, 1);
    pthread_t t[8];
    int n = 0;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    for (int i = 0; i < 8 && depth < 4; i++) {
        int rc = pthread_create(&t[n], &a, bomb, (void *)(depth + 1));
        if (rc == 0)
            n++;
        else
            atomic_fetch_add(&failed, 1);
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    return NULL;
}

static void *spin(void *arg)
{
    volatile unsigned long *x = arg;
    for (;;)
        (*x)++;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "spin")) {
        static volatile unsigned long x;
        pthread_t t;
        pthread_create(&t, NULL, spin, (void *)&x);
        pthread_join(t, NULL);
        return 0;
    }
    bomb((void *)0L);
    printf("threads ran %d, creations failed %d\n", atomic_load(&ran), atomic_load(&failed));
    return 0;
}
