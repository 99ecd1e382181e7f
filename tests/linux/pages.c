/* Linux test program for pooled resets (monitor/written.c): it waits for its
 * request on descriptor 0 (the template point), "FIRST COUNT FILL", then
 * writes byte FILL over pages FIRST..FIRST+COUNT-1 of a 4096-page buffer
 * that its start-up wrote (so the template holds it) -- or, with FILL -1,
 * writes each of those bytes back unchanged -- and answers with a sum of
 * the buffer. tests/unit/test_restore.c resets a pooled VM between requests
 * that write other windows with other bytes, and compares memory with the
 * template page by page. A request that is not three numbers (zerg bench's
 * HTTP request) writes the window its arguments name: scripts/bench-python.sh
 * measures what a page written per request costs a pooled VM.
 *     echo 0 10 7 | pages      prints "pages 10 sum S"
 *     echo GET | pages 0 500 7 the same for pages 0..499 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define PAGES 4096
static volatile unsigned char buf[PAGES][4096] __attribute__((aligned(4096)));

int main(int argc, char **argv)
{
    for (int p = 0; p < PAGES; p++)
        for (int i = 0; i < 4096; i += 512)
            buf[p][i] = (unsigned char)(p + i / 512);
    char req[64];
    ssize_t n = read(0, req, sizeof(req) - 1);
    if (n < 0)
        return 1;
    req[n] = 0;
    long first = 0, count = 0, fill = 0;
    if (sscanf(req, "%ld %ld %ld", &first, &count, &fill) != 3 && argc == 4) {
        /* another request (zerg bench's): the window the arguments name */
        first = atol(argv[1]), count = atol(argv[2]), fill = atol(argv[3]);
    }
    if (first < 0 || count < 0 || first + count > PAGES || fill < -1)
        return 2;
    for (long p = first; p < first + count; p++)
        for (int i = 0; i < 4096; i += 64)
            buf[p][i] = fill < 0 ? buf[p][i] : (unsigned char)fill;
    unsigned long sum = 0;
    for (int p = 0; p < PAGES; p++)
        for (int i = 0; i < 4096; i += 64)
            sum += buf[p][i];
    printf("pages %ld sum %lu\n", count, sum);
    return 0;
}
