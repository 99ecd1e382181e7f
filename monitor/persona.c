/* zg_persona: the personalities built into this binary, and zerg's own. */
#include <errno.h>
#include <string.h>

#include "monitor/zg_elf.h"
#include "monitor/zg_monitor_int.h"

/* zerg's own ABI: the hypercalls of monitor/hypercall.c. */
static enum zg_hc_action zerg_io(struct zg_instance *in, unsigned port, uint64_t value,
                                 struct zg_run_result *res)
{
    return zg_hc_dispatch(in, port - ZG_HC_PORT_BASE, value, res);
}

const struct zg_persona_ops zg_persona_zerg_ops = {
    .name = "zerg",
    .boot = zg_zerg_boot,
    .io = zerg_io,
    .complete_ready = zg_zerg_complete_ready,
    .guest_restores_fpu = zg_zerg_guest_restores_fpu,
    .last_call = zg_zerg_last_call,
};

/* A personality the Makefile did not build is absent: its ops symbol is weak
 * and resolves to NULL (as hypervisor/hv.c does for backends). */
extern const struct zg_persona_ops zg_persona_linux_ops __attribute__((weak));

const struct zg_persona_ops *zg_persona_lookup(const char *name)
{
    if (!name || strcmp(name, "zerg") == 0)
        return &zg_persona_zerg_ops;
    if (&zg_persona_linux_ops && strcmp(name, zg_persona_linux_ops.name) == 0)
        return &zg_persona_linux_ops;
    return NULL;
}

const struct zg_persona_ops *zg_persona_for_image(const void *image, size_t size)
{
    int z = zg_elf_has_zerg_note(image, size);
    if (z < 0)
        return NULL;
    return z ? &zg_persona_zerg_ops : zg_persona_lookup("linux");
}

const struct zg_persona_ops *zg_inst_persona(const struct zg_instance *in)
{
    return in->persona ? in->persona : &zg_persona_zerg_ops;
}

int zg_inst_summary(const struct zg_instance *in, char *buf, size_t len)
{
    const struct zg_persona_ops *p = zg_inst_persona(in);
    return p->summary && len ? p->summary(in, buf, len) : 0;
}

int zg_inst_persona_load(struct zg_instance *in, const char *name, uint32_t version,
                         const void *state, size_t len)
{
    const struct zg_persona_ops *p = zg_persona_lookup(name);
    if (!p || !p->load) {
        zg_inst_fail(in, "personality '%s' is not built into this zerg", name);
        return -ENOTSUP;
    }
    if (version != p->state_version) {
        zg_inst_fail(in, "%s state version %u; this zerg reads version %u", name, version,
                     p->state_version);
        return -ENOTSUP;
    }
    if (in->persona && in->persona != p) {
        zg_inst_fail(in, "instance already speaks %s, not %s", in->persona->name, name);
        return -EINVAL;
    }
    in->persona = p;
    return p->load(in, state, len);
}
