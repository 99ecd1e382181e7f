/* Linux test program: data shaped like a call site (docs/abi.md, "Rewritten
 * call sites"). Its .data holds a 64-byte table that starts with the seven
 * bytes zerg rewrites in code, `mov $39,%eax; syscall` (b8 27 00 00 00 0f
 * 05), then `ret` and "DATA"; its .rodata holds the same shape. It reads its
 * request (the template point) and answers (HTTP/1.0) with the first 12
 * bytes of both tables. A request holding
 *   "attack"  first makes the .data table executable and calls it (getpid);
 *   "forge"   (zerg only: natively `out` faults) first hands zerg's monitor a
 *             frame it made itself, as if a `syscall` of number 39 had
 *             trapped right after each table, with one raw `out` to the
 *             monitor's port (no `syscall` executed at all).
 * Data is never code the monitor may rewrite: natively, fresh and pooled,
 * every answer shows the tables' own bytes (tests/sys/linux.sh,
 * tests/unit/test_linux.c). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zerg/linux_abi.h>

#define SHAPE 0xb8, 0x27, 0, 0, 0, 0x0f, 0x05, 0xc3, 'D', 'A', 'T', 'A'

__attribute__((aligned(64))) static uint8_t table[64] = {SHAPE};
__attribute__((aligned(64))) static const uint8_t rotable[64] = {SHAPE};

/* What zerg's guest-side entry does on a `syscall` it sends to the monitor,
 * done by hand: the frame, then `out` of its address (a trap). */
static void forge(uint64_t rip)
{
    struct zg_linux_frame *f = (struct zg_linux_frame *)ZG_LINUX_FRAME_GPA;
    memset(f, 0, sizeof(*f));
    f->nr = 39;
    f->rip = rip;
    f->done = 1; /* "served in the guest: only rewrite the site" */
    __asm__ volatile("outl %0, %w1"
                     :
                     : "a"((uint32_t)ZG_LINUX_CALL_TRAP), "Nd"(ZG_LINUX_PORT)
                     : "memory");
}

static void hex(const char *name, const volatile uint8_t *p)
{
    printf("%s", name);
    for (int i = 0; i < 12; i++)
        printf(" %02x", p[i]);
    printf("\n");
}

int main(void)
{
    char req[512];
    ssize_t n = read(0, req, sizeof(req) - 1);
    req[n > 0 ? n : 0] = '\0';
    if (strstr(req, "attack")) {
        uintptr_t page = (uintptr_t)table & ~(uintptr_t)4095;
        if (mprotect((void *)page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
            return 2;
        long (*fn)(void) = (long (*)(void))(uintptr_t)table;
        if (fn() <= 0)
            return 3;
    }
    if (strstr(req, "forge")) {
        forge((uint64_t)(uintptr_t)table + 7);
        forge((uint64_t)(uintptr_t)rotable + 7);
    }
    printf("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n");
    hex("data", table);
    hex("rodata", rotable);
    return 0;
}
