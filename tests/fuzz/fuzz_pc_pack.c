/* libFuzzer target: pack header and record parsing, decoding and resync, as a pack scan does. */
#include <stdint.h>
#include <string.h>

#include "pagecache/pc_internal.h"
#include "tests/fuzz/fuzz_strict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t page[ZG_PC_PAGE_SIZE];
    int newer;
    const char *why;
    if (pc_pack_hdr_check(data, size, UINT32_MAX, &newer, &why) != 0)
        zg_fuzz_refused("fuzz_pc_pack", why);
    /* Scan like open and verify do: records from offset 64, resync on damage. */
    uint64_t off = sizeof(struct zg_pc_pack_hdr);
    int steps = 0, decoded = 0;
    while (off < size && steps++ < 10000) {
        struct pc_rec r;
        if (pc_rec_parse(data, size, off, &r, &why) == 0) {
            if (pc_rec_decode(&r, page, 1, &why) == 0) {
                if (zg_pc_key_is_zero(&r.key))
                    __builtin_trap(); /* a record can never carry the zero key */
                decoded++;
            } else {
                zg_fuzz_refused("fuzz_pc_pack", why);
            }
            off += sizeof(struct zg_pc_rec_hdr) + r.len;
            continue;
        }
        zg_fuzz_refused("fuzz_pc_pack", why);
        off = pc_rec_resync(data, size, off);
    }
    if (!decoded)
        zg_fuzz_refused("fuzz_pc_pack", "no record decoded");
    return 0;
}
