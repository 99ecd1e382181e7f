/* Linux benchmark program: what one system call costs, timed by the program
 * itself (CLOCK_MONOTONIC around N calls of getppid, which does nothing).
 * scripts/bench-linux.sh runs it natively and under zerg in the same run.
 *     callcost [N]     prints "N calls, X.XX us per call" */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3;
    printf("%ld calls, %.2f us per call\n", n, us / (double)n);
    return 0;
}
