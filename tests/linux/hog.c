/* Linux test program: allocates until memory runs out. It must see ENOMEM
 * (malloc returns NULL), never crash the host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    size_t mib = 0;
    for (;;) {
        char *p = malloc(1 << 20);
        if (!p)
            break;
        memset(p, 1, 1 << 20);
        mib++;
    }
    printf("out of memory after %zu MiB\n", mib);
    return 0;
}
