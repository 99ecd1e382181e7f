/* libFuzzer target: the page cache index parser and its per-entry checks. */
#include <stdint.h>
#include <string.h>

#include "pagecache/pc_internal.h"
#include "tests/fuzz/fuzz_strict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pc_index_view v;
    const char *why;
    for (int lenient = 0; lenient < 2; lenient++) {
        if (pc_index_parse(data, size, lenient, &v, &why) != 0) {
            zg_fuzz_refused("fuzz_pc_index", why);
            continue;
        }
        uint64_t sum = 0;
        for (uint32_t i = 0; i < v.hdr.npacks; i++) {
            struct zg_pc_index_pack p;
            pc_index_pack_at(&v, i, &p);
            sum += p.covered;
        }
        for (uint64_t i = 0; i < v.hdr.nentries; i++) {
            struct zg_pc_index_entry e;
            pc_index_entry_at(&v, i, &e);
            if (pc_index_entry_check(&e, &why) == 0)
                sum += e.offset + e.len;
            else
                zg_fuzz_refused("fuzz_pc_index", why);
        }
        sink = sum; /* keeps the reads observable */
    }
    return 0;
}
