/* Test guest: spins forever; the monitor must kill it at its deadline. */
#include <zerg/zerg.h>

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    zg_printf("looping\n");
    volatile uint64_t n = 0;
    for (;;)
        n++;
}
