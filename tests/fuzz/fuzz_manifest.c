/* libFuzzer target: the template manifest parser on arbitrary bytes. It must
 * refuse or accept, never crash; whatever it accepts must re-serialize. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "template/zg_template.h"
#include "tests/fuzz/fuzz_strict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    /* Even first byte (the magic's 'Z' is even): fix up the file size and the trailing checksum, so
     * mutations get past them into the record parser. */
    if (size >= sizeof(struct zg_tmpl_header) + 8 && (data[0] & 1) == 0) {
        uint64_t fs = size, sum;
        memcpy(copy + 16, &fs, 8);
        sum = XXH3_64bits(copy, size - 8);
        memcpy(copy + size - 8, &sum, 8);
    }
    struct zg_tmpl *t;
    char err[256];
    if (zg_tmpl_parse(copy, size, &t, err, sizeof(err)) == 0) {
        if (t->npages * 4096 != t->info.mem_size)
            abort();
        void *buf;
        size_t len;
        if (zg_tmpl_serialize(t, &buf, &len) == 0)
            free(buf);
        zg_tmpl_free(t);
    } else if (err[0] == '\0') {
        abort(); /* a refusal must say why */
    } else {
        zg_fuzz_refused("fuzz_manifest", err);
    }
    free(copy);
    return 0;
}
