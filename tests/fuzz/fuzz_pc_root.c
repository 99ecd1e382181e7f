/* libFuzzer target: the page cache root file parser. */
#include <stdint.h>

#include "pagecache/pc_internal.h"
#include "tests/fuzz/fuzz_strict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *keys;
    uint64_t n;
    int newer;
    const char *why;
    if (pc_root_parse(data, size, &keys, &n, &newer, &why) == 0) {
        unsigned x = 0;
        for (uint64_t i = 0; i < n * 16; i++)
            x += keys[i]; /* every key byte must be inside the input */
        sink = x;
    } else {
        zg_fuzz_refused("fuzz_pc_root", why);
    }
    return 0;
}
