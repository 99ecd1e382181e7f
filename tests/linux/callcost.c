/* Linux benchmark program: what one system call costs, timed by the program
 * itself (CLOCK_MONOTONIC around N calls of getppid, which does nothing).
 * scripts/bench-linux.sh runs it natively and under zerg in the same run.
 *     callcost [N] [wrapper|generic]
 * prints "N calls (MODE), X.XX us per call". wrapper (the default) calls the
 * C library's getppid(), whose call site is `mov $110,%eax; syscall`, the
 * shape zerg rewrites (docs/abi.md, "Rewritten call sites"); generic calls
 * syscall(SYS_getppid), whose site takes the number from a register and keeps
 * trapping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    int generic = argc > 2 && strcmp(argv[2], "generic") == 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (generic)
        for (long i = 0; i < n; i++)
            syscall(SYS_getppid);
    else
        for (long i = 0; i < n; i++)
            getppid();
    clock_gettime(CLOCK_MONOTONIC, &b);
    double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3;
    printf("%ld calls (%s), %.2f us per call\n", n, generic ? "generic" : "wrapper",
           us / (double)n);
    return 0;
}
