/* upper: answers with its request, upper-cased. The smallest whole guest:
 * docs/abi.md ("Writing a guest") shows and explains it. */
#include <zerg/zerg.h>

static char buf[65536];

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    /* Work every instance shares goes here, before READY. */
    struct zg_hc_ready r;
    zg_ready(&r); /* the template point: per-instance state only after it */

    long n;
    while ((n = zg_recv(buf, sizeof(buf))) > 0) {
        for (long i = 0; i < n; i++)
            if (buf[i] >= 'a' && buf[i] <= 'z')
                buf[i] -= 'a' - 'A';
        if (zg_send(buf, (size_t)n) < 0)
            return 1;
    }
    zg_printf("instance %016llx done\n", (unsigned long long)r.instance_id);
    return n < 0 ? 1 : 0;
}
