/* Unit tests of the Linux personality's pure parts: the CPU feature check a
 * template's restore makes. (The system calls themselves are tested against
 * the host kernel by tests/sys/linux.sh.) */
#include <string.h>

#include "linux/lx_int.h"
#include "tests/zt.h"

ZT_TEST(cpu_features_read)
{
    uint32_t cpu[LX_NCPU];
    lx_cpu_read(cpu);
    ZT_TRUE(cpu[1] & (1u << 26)); /* SSE2: every x86-64 CPU */
    ZT_TRUE(cpu[6] & (1u << 29)); /* long mode */
}

ZT_TEST(cpu_features_missing_named)
{
    uint32_t have[LX_NCPU], need[LX_NCPU];
    char why[200] = "";
    lx_cpu_read(have);
    memcpy(need, have, sizeof(need));
    ZT_EQ(lx_cpu_missing(need, have, why, sizeof(why)), 0);
    need[0] = 0; /* fewer features than the host: fine */
    ZT_EQ(lx_cpu_missing(need, have, why, sizeof(why)), 0);
    memcpy(need, have, sizeof(need));
    have[2] &= ~(1u << 5); /* this host without AVX2 */
    need[2] |= 1u << 5;    /* a program that saw it */
    ZT_EQ(lx_cpu_missing(need, have, why, sizeof(why)), 1);
    ZT_TRUE(strstr(why, "CPUID.7:EBX bits 0x00000020") != NULL);
}

int main(void)
{
    ZT_RUN(cpu_features_read);
    ZT_RUN(cpu_features_missing_named);
    ZT_MAIN_END;
}
