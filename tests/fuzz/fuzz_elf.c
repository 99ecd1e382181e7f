/* libFuzzer target: the guest ELF loader on arbitrary bytes. It must refuse
 * or load, never read or write out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/zg_elf.h"
#include "tests/fuzz/fuzz_strict.h"

#define MEM (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *mem;
    if (!mem)
        mem = malloc(MEM);
    struct zg_elf_info info;
    char err[256];
    /* A copy, so reads past `size` hit ASan's redzone rather than libFuzzer's buffer slack. */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    if (zg_elf_load(copy, size, mem, MEM, MEM - (1u << 20), &info, err, sizeof(err)) == 0) {
        if (info.lo < 0x100000 || info.hi > MEM - (1u << 20) || info.entry < info.lo ||
            info.entry >= info.hi)
            abort(); /* accepted something outside the rules */
    } else if (!memchr(err, '\0', sizeof(err)) || err[0] == '\0') {
        abort(); /* a refusal must say why */
    } else {
        zg_fuzz_refused("fuzz_elf", err);
    }
    free(copy);
    return 0;
}
