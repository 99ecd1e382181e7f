/* Linux benchmark program: what one system call costs, timed by the program
 * itself (CLOCK_MONOTONIC around N calls that do next to nothing).
 * scripts/bench-linux.sh runs it natively and under zerg in the same run.
 *     callcost [N] [wrapper|generic|monitor|monitor-generic]
 * prints "N calls (MODE), X.XX us per call". wrapper (the default) calls the
 * C library's getppid(), whose call site is `mov $110,%eax; syscall`, the
 * shape zerg rewrites (docs/abi.md, "Rewritten call sites"), and which zerg's
 * guest-side runtime answers; generic calls syscall(SYS_getppid), whose site
 * takes the number from a register and keeps trapping. monitor and
 * monitor-generic do the same with uname(), which zerg's monitor answers:
 * one exit each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    const char *mode = argc > 2 ? argv[2] : "wrapper";
    struct utsname u;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (!strcmp(mode, "generic"))
        for (long i = 0; i < n; i++)
            syscall(SYS_getppid);
    else if (!strcmp(mode, "monitor"))
        for (long i = 0; i < n; i++)
            uname(&u);
    else if (!strcmp(mode, "monitor-generic"))
        for (long i = 0; i < n; i++)
            syscall(SYS_uname, &u);
    else if (!strcmp(mode, "wrapper"))
        for (long i = 0; i < n; i++)
            getppid();
    else
        return 2;
    clock_gettime(CLOCK_MONOTONIC, &b);
    double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3;
    printf("%ld calls (%s), %.2f us per call\n", n, mode, us / (double)n);
    return 0;
}
