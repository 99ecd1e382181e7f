/* Writes fuzz seeds for fuzz_manifest from the current build: template
 * manifests made by the real serializer (zg_tmpl_serialize) at this build's
 * format and ABI versions, each one parsed back before it is written, so a
 * seed the parser would refuse is never produced.
 *
 *     mkseed_manifest DIR     writes DIR/<name>.zgt for a few shapes */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/zg_template.h"

static int write_seed(const char *dir, const char *name, uint64_t npages, const char *cmdline,
                      const char *backend, const char *persona)
{
    struct zg_tmpl t;
    memset(&t, 0, sizeof(t));
    snprintf(t.info.name, sizeof(t.info.name), "%s", name);
    snprintf(t.info.backend, sizeof(t.info.backend), "%s", backend);
    snprintf(t.info.guest, sizeof(t.info.guest), "%s.elf", name);
    t.info.mem_size = npages * ZG_PAGE_SIZE;
    t.info.ready_gpa = ZG_GUEST_LOAD_MIN + 0x2000;
    t.info.abi_version = ZG_ABI_VERSION;
    snprintf(t.info.cmdline, sizeof(t.info.cmdline), "%s", cmdline);
    t.info.cmdline_len = (uint32_t)strlen(t.info.cmdline);
    t.info.boot_ns = 1234567;
    t.state.regs.rip = ZG_GUEST_LOAD_MIN + 0x100;
    t.state.regs.rsp = t.info.mem_size - 64;
    t.state.regs.rflags = 0x3202;
    t.state.sregs.cr0 = 0x80050033;
    t.state.sregs.efer = 0xd01;
    t.npages = npages;
    t.keys = calloc(npages, sizeof(*t.keys));
    if (!t.keys)
        return -ENOMEM;
    uint8_t page[ZG_PAGE_SIZE];
    for (uint64_t i = 0; i < npages; i++) {
        if (i % 3 == 2)
            continue; /* a zero page: the zero key */
        memset(page, (int)(i % 7), sizeof(page));
        memcpy(page, &i, sizeof(i));
        zg_pc_page_key(page, &t.keys[i]);
    }
    uint8_t state[200];
    if (persona) { /* a PERSONA record and some state bytes */
        snprintf(t.persona.name, sizeof(t.persona.name), "%s", persona);
        t.persona.version = 1;
        t.persona.state_len = sizeof(state);
        for (size_t i = 0; i < sizeof(state); i++)
            state[i] = (uint8_t)(i * 7);
        t.pstate = state;
    }
    void *buf = NULL;
    size_t len = 0;
    int rc = zg_tmpl_serialize(&t, &buf, &len);
    free(t.keys);
    if (rc < 0)
        return rc;
    struct zg_tmpl *back;
    char err[256];
    rc = zg_tmpl_parse(buf, len, &back, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "mkseed_manifest: the parser refuses seed %s: %s\n", name, err);
        free(buf);
        return rc;
    }
    if (persona &&
        (strcmp(back->persona.name, persona) != 0 || back->persona.state_len != sizeof(state) ||
         memcmp(back->pstate, state, sizeof(state)) != 0)) {
        fprintf(stderr, "mkseed_manifest: seed %s: the PERSONA record did not round-trip\n", name);
        rc = -EBADMSG;
    }
    zg_tmpl_free(back);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.zgt", dir, name);
    FILE *f = fopen(path, "wb");
    rc = f && fwrite(buf, 1, len, f) == len ? 0 : -EIO;
    if (f && fclose(f) != 0)
        rc = -EIO;
    free(buf);
    if (rc < 0)
        fprintf(stderr, "mkseed_manifest: cannot write %s\n", path);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkseed_manifest DIR\n");
        return 2;
    }
    if (write_seed(argv[1], "small", 320, "", "kvm", NULL) < 0 ||
        write_seed(argv[1], "args", 1024, "--dataset-mib 8 --flag", "kvm", NULL) < 0 ||
        write_seed(argv[1], "xen", 512, "x", "xen", NULL) < 0 ||
        write_seed(argv[1], "linux", 8192, "sh -c 'echo hi'", "kvm", "linux") < 0)
        return 1;
    return 0;
}
