/* Linux test program for pooled resets (monitor/written.c): it waits for its
 * request on descriptor 0 (the template point), "FIRST COUNT FILL", then
 * writes byte FILL over pages FIRST..FIRST+COUNT-1 of a 1024-page buffer
 * that its start-up wrote (so the template holds it), and answers with a
 * sum of the buffer. tests/unit/test_restore.c resets a pooled VM between
 * requests that write other windows with other bytes, and compares memory
 * with the template page by page.
 *     echo 0 10 7 | pages      prints "pages 10 sum S" */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define PAGES 1024
static volatile unsigned char buf[PAGES][4096] __attribute__((aligned(4096)));

int main(void)
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
    if (sscanf(req, "%ld %ld %ld", &first, &count, &fill) != 3 || first < 0 || count < 0 ||
        first + count > PAGES)
        return 2;
    for (long p = first; p < first + count; p++)
        for (int i = 0; i < 4096; i += 64)
            buf[p][i] = (unsigned char)fill;
    unsigned long sum = 0;
    for (int p = 0; p < PAGES; p++)
        for (int i = 0; i < 4096; i += 64)
            sum += buf[p][i];
    printf("pages %ld sum %lu\n", count, sum);
    return 0;
}
