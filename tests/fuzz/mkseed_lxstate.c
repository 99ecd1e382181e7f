/* Writes fuzz seeds for fuzz_lx_state from the current build: Linux
 * personality states (the PERSONA record's payload) as a template of a 64 MiB
 * instance would hold them -- one with a file view, a few mappings given
 * back and open descriptors of every kind (two of them naming one open
 * file), one plain -- each loaded back
 * with lx_load before it is written, so no seed is one the loader refuses.
 *
 *     mkseed_lxstate DIR     writes DIR/with-view, DIR/plain */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/lx_int.h"

static int write_seed(const char *dir, const char *name, int view)
{
    static struct lx_state s;
    memset(&s, 0, sizeof(s));
    uint64_t mem = 64ull << 20;
    if (lx_plan_layout(mem, view ? 4096 : 0, &s.l) < 0)
        return -EINVAL;
    s.l.image_lo = 0x400000;
    s.l.image_hi = 0x4c2000;
    s.brk_start = 0x4c2000;
    s.brk = s.brk_hwm = 0x4e3000;
    s.mmap_top = s.mmap_hwm = ZG_LINUX_MMAP_VA + (8 << 20);
    s.nfree = 2;
    s.free[0] = (struct lx_range){ZG_LINUX_MMAP_VA + 0x10000, 0x20000};
    s.free[1] = (struct lx_range){ZG_LINUX_MMAP_VA + 0x100000, 0x1000};
    const struct zg_linux_file files[] = {
        {.kind = ZG_LINUX_FD_STDIN},
        {.kind = ZG_LINUX_FD_STDOUT, .flags = 1},
        {.kind = ZG_LINUX_FD_CONSOLE, .flags = 1},
        {.kind = ZG_LINUX_FD_RANDOM, .ent = 9},
        {.kind = ZG_LINUX_FD_SOCK, .port = 8080, .sock = LX_SOCK_BOUND | LX_SOCK_LISTENING},
        {.kind = ZG_LINUX_FD_DIR, .ent = 0},
    };
    for (unsigned i = 0; i < (view ? 6u : 5u); i++)
        if (lx_fd_install(&s, &files[i], i == 4) < 0)
            return -EINVAL;
    if (lx_fd_dup(&s, 3, 9, 0) < 0) /* two descriptors of one open file */
        return -EINVAL;
    s.nthread = 1;
    s.next_tid = 2;
    s.thread[0] = (struct lx_thread){.tid = 1, .state = LX_T_RUN};
    snprintf(s.cwd, sizeof(s.cwd), "/");
    snprintf(s.exe, sizeof(s.exe), "/usr/bin/prog");
    snprintf(s.argv0, sizeof(s.argv0), "prog");
    lx_cpu_read(s.cpu);
    /* Loaded back as the fuzzer does: a 64 MiB instance holding a minimal view. */
    struct zg_instance in;
    memset(&in, 0, sizeof(in));
    in.mem_size = mem;
    in.mem = calloc(1, mem);
    if (!in.mem)
        return -ENOMEM;
    if (view) {
        struct lx_fv_hdr h = {.magic = LX_FV_MAGIC,
                              .version = 1,
                              .nent = 1,
                              .ent_off = sizeof(h),
                              .str_off = sizeof(h) + 48,
                              .str_len = 2,
                              .size = 4096};
        struct lx_fv_ent root = {.path_len = 1, .mode = LXV_S_IFDIR | 0755};
        memcpy(in.mem + s.l.fv_gpa, &h, sizeof(h));
        memcpy(in.mem + s.l.fv_gpa + sizeof(h), &root, sizeof(root));
        memcpy(in.mem + s.l.fv_gpa + sizeof(h) + 48, "/", 2);
    }
    int rc = lx_load(&in, &s, sizeof(s));
    free(in.pdata);
    free(in.mem);
    if (rc < 0) {
        fprintf(stderr, "mkseed_lxstate: lx_load refuses seed %s: %s\n", name, in.err);
        return rc;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    rc = f && fwrite(&s, 1, sizeof(s), f) == sizeof(s) ? 0 : -EIO;
    if (f && fclose(f) != 0)
        rc = -EIO;
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkseed_lxstate DIR\n");
        return 2;
    }
    return write_seed(argv[1], "with-view", 1) < 0 || write_seed(argv[1], "plain", 0) < 0;
}
