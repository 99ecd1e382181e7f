/* Linux test program for rewritten call sites (docs/abi.md): it waits for
 * its request on descriptor 0 (the template point), then makes N calls of
 * getppid() and getuid() (C-library wrappers whose call sites are
 * `mov $NR,%eax; syscall`, the shape zerg rewrites) and answers with what it
 * read and what the calls returned. tests/unit/test_linux.c counts how the
 * calls arrived at the monitor, run after run of a pooled VM.
 *     echo 5 | sites      prints "ppid P uid U n 5" */
#include <stdio.h>
#include <stdlib.h>
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
    printf("ppid %ld uid %ld n %ld\n", ppid, uid, calls);
    return 0;
}
