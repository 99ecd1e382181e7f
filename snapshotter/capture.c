/* zg_template: capturing a cold-booted guest inside READY, and removing templates. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "monitor/zg_elf.h"
#include "monitor/zg_monitor.h"
#include "monitor/zg_persona.h"
#include "snapshotter/zg_snapshot.h"

static int open_cache(const char *home, unsigned flags, struct zg_pc **pc)
{
    char dir[4096];
    int n = snprintf(dir, sizeof(dir), "%s/cache", home);
    if (n < 0 || (size_t)n >= sizeof(dir))
        return -ENAMETOOLONG;
    return zg_pc_open(dir, flags, pc);
}

int zg_tmpl_create(const struct zg_tmpl_create_opts *o, struct zg_tmpl_create_stats *st, char *err,
                   size_t errlen)
{
    struct zg_tmpl *t = NULL;
    struct zg_instance *in = NULL;
    struct zg_pc *pc = NULL;
    void *image = NULL;
    size_t image_len = 0;
    char path[4096];
    int rc;
    memset(st, 0, sizeof(*st));

    rc = zg_tmpl_path(o->home, o->name, path, sizeof(path));
    if (rc < 0)
        return zg_errf(err, errlen, rc,
                       "'%s' is not a valid template name (1-63 of A-Z a-z 0-9 . _ -, not "
                       "starting with '.')",
                       o->name);
    if (!o->replace && access(path, F_OK) == 0)
        return zg_errf(err, errlen, -EEXIST, "template '%s' exists (%s); remove it or use --force",
                       o->name, path);
    rc = zg_file_read(o->guest_path, ZG_ELF_MAX_SIZE, &image, &image_len);
    if (rc < 0)
        return zg_errf(err, errlen, rc, "cannot read guest '%s': %s", o->guest_path, strerror(-rc));

    t = calloc(1, sizeof(*t));
    if (!t) {
        rc = -ENOMEM;
        goto out;
    }
    struct zg_inst_config cfg = zg_inst_config_default();
    cfg.mem_size = o->mem_size;
    cfg.deadline_ms = o->deadline_ms;
    cfg.cmdline = o->cmdline ? o->cmdline : "";
    cfg.argv0 = o->guest_path; /* a Linux program's argv[0] */
    cfg.linux_ro = o->linux_ro;
    cfg.linux_env = o->linux_env;
    cfg.console_fd = o->console_fd;
    cfg.flags = ZG_INST_STOP_AT_READY;
    cfg.hv = o->hv;
    uint64_t t0 = zg_now_ns();
    rc = zg_inst_create(&cfg, &in);
    if (rc < 0) {
        zg_errf(err, errlen, rc, "%s", in ? zg_inst_error(in) : strerror(-rc));
        goto out;
    }
    rc = zg_inst_boot_elf(in, image, image_len);
    if (rc < 0) {
        zg_errf(err, errlen, rc, "%s: %s", o->guest_path, zg_inst_error(in));
        goto out;
    }
    struct zg_run_result res;
    zg_inst_run(in, &res);
    if (res.end != ZG_END_READY) {
        rc = res.end == ZG_END_DEADLINE ? -ETIMEDOUT : -ECHILD;
        if (res.end == ZG_END_EXIT)
            zg_errf(err, errlen, rc, "%s exited with status %d before it called READY",
                    o->guest_path, res.status);
        else
            zg_errf(err, errlen, rc, "%s did not reach READY: %s", o->guest_path, res.why);
        goto out;
    }
    st->boot_ns = zg_now_ns() - t0;

    /* The state that resumes inside READY, and every page. */
    uint64_t t1 = zg_now_ns();
    rc = zg_inst_get_state(in, &t->state);
    if (rc < 0) {
        zg_errf(err, errlen, rc, "%s", zg_inst_error(in));
        goto out;
    }
    /* A program of another personality: its host-side state too (PERSONA). */
    const struct zg_persona_ops *persona = zg_inst_persona(in);
    if (persona->save) {
        size_t plen = 0;
        rc = persona->save(in, &t->pstate, &plen);
        if (rc < 0) {
            zg_errf(err, errlen, rc, "saving the %s state of %s: %s", persona->name, o->guest_path,
                    strerror(-rc));
            goto out;
        }
        snprintf(t->persona.name, sizeof(t->persona.name), "%s", persona->name);
        t->persona.version = persona->state_version;
        t->persona.state_len = plen;
    }
    uint64_t mem_size;
    const uint8_t *mem = zg_inst_mem(in, &mem_size);
    t->npages = mem_size / ZG_PAGE_SIZE;
    t->keys = malloc(t->npages * sizeof(struct zg_pc_key));
    if (!t->keys) {
        rc = -ENOMEM;
        goto out;
    }
    struct zg_tmpl_info *info = &t->info;
    snprintf(info->name, sizeof(info->name), "%s", o->name);
    snprintf(info->backend, sizeof(info->backend), "%s", zg_inst_backend(in));
    const char *base = strrchr(o->guest_path, '/');
    snprintf(info->guest, sizeof(info->guest), "%s", base ? base + 1 : o->guest_path);
    XXH128_canonical_t h;
    XXH128_canonicalFromHash(&h, XXH3_128bits(image, image_len));
    memcpy(info->guest_hash, h.digest, sizeof(info->guest_hash));
    info->mem_size = mem_size;
    info->ready_gpa = zg_inst_ready_gpa(in);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    info->created_wall_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    info->boot_ns = st->boot_ns;
    info->abi_version = ZG_ABI_VERSION;
    snprintf(info->cmdline, sizeof(info->cmdline), "%s", cfg.cmdline);
    info->cmdline_len = (uint32_t)strlen(info->cmdline);

    rc = open_cache(o->home, ZG_PC_CREATE | ZG_PC_WRITE, &pc);
    if (rc < 0) {
        zg_errf(err, errlen, rc, "cannot open the page cache: %s", zg_pc_last_error());
        goto out;
    }
    /* Pages and the root in one step, so no GC can take them before the
     * manifest exists; the manifest last, so a crash leaves at worst a root
     * without a template (collected by `zerg template rm`/GC). */
    struct zg_pc_ingest_opts io = {
        .root = o->name, .progress = o->progress, .progress_arg = o->progress_arg};
    rc = zg_pc_ingest(pc, mem, t->npages, t->keys, &io, &st->pages);
    if (rc < 0) {
        zg_errf(err, errlen, rc, "storing the pages of '%s': %s", o->name, zg_pc_last_error());
        goto out;
    }
    rc = zg_tmpl_store(o->home, t, o->replace, err, errlen);
    if (rc < 0)
        goto out;
    st->capture_ns = zg_now_ns() - t1;
out:
    zg_pc_close(pc);
    zg_inst_destroy(in);
    zg_tmpl_free(t);
    free(image);
    return rc;
}

int zg_tmpl_remove(const char *home, const char *name, char *err, size_t errlen)
{
    char path[4096];
    int rc = zg_tmpl_path(home, name, path, sizeof(path));
    if (rc < 0)
        return zg_errf(err, errlen, rc, "'%s' is not a valid template name", name);
    int gone = unlink(path) < 0 ? -errno : 0;
    if (gone < 0 && gone != -ENOENT)
        return zg_errf(err, errlen, gone, "cannot remove %s: %s", path, strerror(-gone));
    struct zg_pc *pc;
    rc = open_cache(home, ZG_PC_WRITE, &pc);
    if (rc == 0) {
        rc = zg_pc_root_del(pc, name);
        zg_pc_close(pc);
    }
    if (gone == -ENOENT && rc < 0)
        return zg_errf(err, errlen, -ENOENT, "no template '%s'", name);
    return 0;
}
