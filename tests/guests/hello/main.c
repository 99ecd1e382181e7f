/* Test guest: the console works and exit status passes through. */
#include <zerg/zerg.h>

int main(int argc, char **argv)
{
    zg_printf("hello from the guest, argc=%d", argc);
    for (int i = 0; i < argc; i++)
        zg_printf(" [%s]", argv[i]);
    zg_printf("\nSUCCESS\n");
    return argc > 0 ? atoi(argv[0]) : 0;
}
