/* Linux test program for the order of a program's output: it writes lines
 * to standard output (which zerg's guest-side runtime buffers) and standard
 * error (zerg's console, written at once) in turns, with write and writev,
 * one write larger than the runtime's buffer among them, then ends the way
 * argv[1] says:
 *     outorder          exit 0
 *     outorder fault    a NULL dereference right after the last line
 *     outorder loop     a loop that never ends (the deadline kills it)
 * tests/sys/linux.sh compares, natively and under zerg, both streams merged
 * (the same interleaving) and standard output after a fault or a kill (every
 * line written before the end is there). No stdio: every line is one call. */
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static char big[1000000];

static void line(int fd, const char *what, int i)
{
    char buf[64];
    size_t n = strlen(what);
    memcpy(buf, what, n);
    buf[n++] = ' ';
    buf[n++] = (char)('0' + i / 10);
    buf[n++] = (char)('0' + i % 10);
    buf[n++] = '\n';
    if (write(fd, buf, n) != (ssize_t)n)
        _exit(3);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    for (int i = 0; i < 30; i++) {
        line(1, "out", i);
        if (i % 4 == 0)
            line(2, "err", i);
        if (i % 7 == 0) {
            struct iovec v[3] = {{"vec ", 4}, {"of ", 3}, {"three\n", 6}};
            if (writev(1, v, 3) != 13)
                return 4;
        }
        if (i == 15) {
            memset(big, 'x', sizeof(big));
            big[sizeof(big) - 1] = '\n';
            if (write(1, big, sizeof(big)) != (ssize_t)sizeof(big))
                return 5;
        }
    }
    line(1, "end", 0);
    if (!strcmp(mode, "fault"))
        *(volatile int *)0 = 1;
    if (!strcmp(mode, "loop"))
        for (;;)
            __asm__ volatile("" ::: "memory");
    return 0;
}
