/* Linux test program: the FPU's control state at the template point is what
 * every request starts with. Before its first read of standard input (the
 * template point) it sets MXCSR and the x87 control word to values no
 * compiler's code sets; when the read returns it notes whether they are
 * still those, then sets both to the defaults, as a request that changed
 * them would, and answers (HTTP/1.0) "fpu ok" or "fpu BAD mxcsr=... fcw=...". A reset
 * in place that left the FPU as the last request left it shows as BAD on
 * the next request. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define TMPL_MXCSR 0xff80u /* round toward zero, flush to zero, all masked */
#define TMPL_FCW   0x027fu /* 53-bit precision */

static void fpu_set(uint32_t mxcsr, uint16_t fcw)
{
    __asm__ volatile("ldmxcsr %0\n\tfldcw %1" : : "m"(mxcsr), "m"(fcw) : "memory");
}

int main(void)
{
    char buf[512];
    fpu_set(TMPL_MXCSR, TMPL_FCW);
    ssize_t n = read(0, buf, sizeof(buf));
    uint32_t mxcsr;
    uint16_t fcw;
    __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(fcw) : : "memory");
    fpu_set(0x1f80, 0x037f);
    printf("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n");
    if (mxcsr == TMPL_MXCSR && fcw == TMPL_FCW)
        printf("fpu ok (%zd bytes)\n", n);
    else
        printf("fpu BAD mxcsr=%x fcw=%x\n", mxcsr, fcw);
    return 0;
}
