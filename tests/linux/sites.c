/* Linux test program for rewritten call sites (docs/abi.md): it waits for
 * its request on descriptor 0 (the template point), then makes N calls of
 * getppid() and getuid() (C-library wrappers whose call sites are
 * `mov $NR,%eax; syscall`, the shape zerg rewrites) and answers with what it
 * read and what the calls returned, and 8 bytes from getrandom (which zerg's
 * guest-side runtime serves from randomness the monitor refills).
 * tests/unit/test_linux.c counts how the calls arrived at the monitor, run
 * after run of a pooled VM, and checks no two runs drew the same bytes.
 *     echo 5 | sites      prints "ppid P uid U n 5 rnd R" */
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

int main(void)
{
    char buf[32];
    ssize_t n = read(0, buf, sizeof(buf) - 1);
    if (n < 0)
        return 1;
    buf[n] = 0;
    long calls = atol(buf);
    long ppid = 0, uid = 0;
    for (long i = 0; i < calls; i++) {
        ppid += getppid() > 0;
        uid += getuid() == getuid();
    }
    unsigned long long rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
        return 2;
    printf("ppid %ld uid %ld n %ld rnd %016llx\n", ppid, uid, calls, rnd);
    return 0;
}
