/* Test guest: faults at a known address (an invalid opcode; with the
 * argument "null" a write through NULL; with "wild" a read of an address
 * beyond guest memory); the monitor must report RIP, the exception and,
 * for a page fault, the address. */
#include <zerg/zerg.h>

extern const char zg_fault_site[];

int main(int argc, char **argv)
{
    if (argc > 0 && !strcmp(argv[0], "null")) {
        zg_printf("writing through NULL\n");
        *(volatile int *)(uintptr_t)0 = 1;
        return 0;
    }
    if (argc > 0 && !strcmp(argv[0], "wild")) {
        zg_printf("reading 0x7ead0123, beyond guest memory\n");
        return *(volatile int *)(uintptr_t)0x7ead0123;
    }
    zg_printf("faulting at %p\n", (const void *)zg_fault_site);
    __asm__ volatile(".globl zg_fault_site\nzg_fault_site:\n\tud2");
    zg_printf("STILL RUNNING\n");
    return 0;
}
