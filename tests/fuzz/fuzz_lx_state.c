/* libFuzzer target: the Linux personality's template state loader (lx_load,
 * the PERSONA record's payload) on arbitrary bytes, against an instance of
 * 64 MiB whose memory holds a file view. It must refuse or accept, never
 * read or write out of bounds; what it accepts must be self-consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linux/lx_int.h"
#include "tests/fuzz/fuzz_strict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct zg_instance in;
    if (!in.mem) {
        in.mem_size = 64ull << 20;
        in.mem = calloc(1, in.mem_size);
        if (!in.mem)
            abort();
    }
    /* A copy, so reads past `size` hit ASan's redzone. */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    /* The state names a view in guest memory: put a small valid one where a
     * state for 64 MiB says it is, and leave the rest of memory random-ish. */
    if (size >= sizeof(struct lx_state)) {
        const struct lx_state *s = (const void *)copy;
        uint64_t g = s->l.fv_gpa;
        if (g < in.mem_size && in.mem_size - g >= 4096) {
            struct lx_fv_hdr h = {.magic = LX_FV_MAGIC,
                                  .version = 1,
                                  .nent = 1,
                                  .ent_off = sizeof(h),
                                  .str_off = sizeof(h) + 48,
                                  .str_len = 2,
                                  .size = 4096};
            struct lx_fv_ent root = {.path_len = 1, .mode = LXV_S_IFDIR | 0755};
            memcpy(in.mem + g, &h, sizeof(h));
            memcpy(in.mem + g + sizeof(h), &root, sizeof(root));
            memcpy(in.mem + g + sizeof(h) + 48, "/", 2);
        }
    }
    if (lx_load(&in, copy, size) == 0) {
        const struct lx_state *s = in.pdata;
        const char *why;
        struct lxv v = lx_view_of(&in);
        if (s->brk < s->brk_start || s->nfree > LX_NRANGES || s->cwd[0] != '/' ||
            !lx_files_ok(s, &v, &why) || !lx_threads_ok(s) || s->frames_used > LX_NFRAMES)
            abort(); /* accepted something outside the rules */
        for (uint32_t f = 0; f < LX_NFRAMES; f++)
            if (((s->frame_used[f / 64] >> (f % 64)) & 1) && !s->frame_owner[f])
                abort(); /* a frame in use backs no region */
    } else if (!in.err[0]) {
        abort(); /* a refusal must say why */
    } else {
        zg_fuzz_refused("fuzz_lx_state", in.err);
    }
    in.err[0] = '\0';
    free(copy);
    return 0;
}
